// Package tpm talks to a TPM 2.0 over go-tpm's transport: it lists the active PCR banks, extends
// one PCR in every bank with a single command, and reads PCR values back. It is the only package
// that sends TPM commands; it never opens a device itself (the caller passes a transport).
package tpm

import (
	"fmt"

	"github.com/google/go-tpm/tpm2"
	"github.com/google/go-tpm/tpm2/transport"

	"github.com/measuredboot/measuredboot/pkg/eventlog"
)

// Device is a TPM reached over a transport. It counts the commands it sends.
type Device struct {
	t        transport.TPM
	commands int
}

// New returns a Device that sends its commands over t.
func New(t transport.TPM) *Device { return &Device{t: t} }

// Commands returns how many TPM commands d has sent.
func (d *Device) Commands() int { return d.commands }

// Banks returns the PCR banks that have at least one PCR allocated, in the TPM's order.
func (d *Device) Banks() ([]eventlog.Alg, error) {
	d.commands++
	rsp, err := tpm2.GetCapability{Capability: tpm2.TPMCapPCRs, PropertyCount: 16}.Execute(d.t)
	if err != nil {
		return nil, fmt.Errorf("tpm: GetCapability(TPM_CAP_PCRS): %w", err)
	}
	sel, err := rsp.CapabilityData.Data.AssignedPCR()
	if err != nil {
		return nil, fmt.Errorf("tpm: GetCapability(TPM_CAP_PCRS): %w", err)
	}
	var banks []eventlog.Alg
	for _, s := range sel.PCRSelections {
		active := false
		for _, b := range s.PCRSelect {
			active = active || b != 0
		}
		if active {
			banks = append(banks, eventlog.Alg(s.Hash))
		}
	}
	if len(banks) == 0 {
		return nil, fmt.Errorf("tpm: no PCR bank is active")
	}
	return banks, nil
}

// Extend extends pcr in every bank listed in digests with one TPM2_PCR_Extend command.
func (d *Device) Extend(pcr uint32, digests []eventlog.Digest) error {
	vals := make([]tpm2.TPMTHA, len(digests))
	for i, dg := range digests {
		vals[i] = tpm2.TPMTHA{HashAlg: tpm2.TPMIAlgHash(dg.Alg), Digest: dg.Sum}
	}
	d.commands++
	_, err := tpm2.PCRExtend{
		PCRHandle: tpm2.AuthHandle{Handle: tpm2.TPMHandle(pcr), Auth: tpm2.PasswordAuth(nil)},
		Digests:   tpm2.TPMLDigestValues{Digests: vals},
	}.Execute(d.t)
	if err != nil {
		return fmt.Errorf("tpm: PCR_Extend(pcr=%d, %d banks): %w", pcr, len(digests), err)
	}
	return nil
}

// Read returns the values of pcrs in bank alg.
func (d *Device) Read(alg eventlog.Alg, pcrs []uint32) (map[uint32][]byte, error) {
	out := make(map[uint32][]byte, len(pcrs))
	for len(out) < len(pcrs) {
		sel := make([]byte, 3)
		var want []uint32
		for _, p := range pcrs {
			if _, ok := out[p]; ok {
				continue
			}
			if p >= 24 {
				return nil, fmt.Errorf("tpm: PCR %d out of range 0-23", p)
			}
			sel[p/8] |= 1 << (p % 8)
			want = append(want, p)
		}
		d.commands++
		rsp, err := tpm2.PCRRead{PCRSelectionIn: tpm2.TPMLPCRSelection{
			PCRSelections: []tpm2.TPMSPCRSelection{{Hash: tpm2.TPMIAlgHash(alg), PCRSelect: sel}},
		}}.Execute(d.t)
		if err != nil {
			return nil, fmt.Errorf("tpm: PCR_Read(%v, %v): %w", alg, want, err)
		}
		if len(rsp.PCRValues.Digests) == 0 {
			return nil, fmt.Errorf("tpm: PCR_Read(%v, %v): no values returned", alg, want)
		}
		// The TPM answers in ascending PCR order with at most 8 values; its selection says which.
		i := 0
		for _, s := range rsp.PCRSelectionOut.PCRSelections {
			for bit := 0; bit < len(s.PCRSelect)*8 && i < len(rsp.PCRValues.Digests); bit++ {
				if s.PCRSelect[bit/8]&(1<<(bit%8)) != 0 {
					out[uint32(bit)] = rsp.PCRValues.Digests[i].Buffer
					i++
				}
			}
		}
	}
	return out, nil
}
