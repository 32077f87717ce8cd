// Package tpm talks to a TPM 2.0 over go-tpm's transport: it lists the active PCR banks, extends
// one PCR in every bank with a single command, and reads PCR values back. It is the only package
// that sends TPM commands; it never opens a device itself (the caller passes a transport).
package tpm

import (
	"encoding/binary"
	"fmt"
	"strings"
	"time"

	"github.com/google/go-tpm/tpm2"
	"github.com/google/go-tpm/tpm2/transport"

	"github.com/measuredboot/measuredboot/pkg/eventlog"
)

// Device is a TPM reached over a transport. It counts the commands it sends, by command code,
// and the time the TPM took to answer them.
type Device struct {
	t *counted
}

// New returns a Device that sends its commands over t.
func New(t transport.TPM) *Device { return &Device{t: &counted{t: t, n: map[uint32]int{}}} }

// Commands returns how many TPM commands d has sent.
func (d *Device) Commands() int { return d.t.sent }

// Usage says what d has sent and how long the TPM took, for the boot program's console, as
// "10 commands in 0.150s: 1 GetCapability, 2 PCR_Read, 7 PCR_Extend".
func (d *Device) Usage() string {
	parts := make([]string, len(d.t.order))
	for i, c := range d.t.order {
		name, ok := commandNames[c]
		if !ok {
			name = fmt.Sprintf("0x%x", c)
		}
		parts[i] = fmt.Sprintf("%d %s", d.t.n[c], name)
	}
	return fmt.Sprintf("%d commands in %.3fs: %s", d.t.sent, d.t.busy.Seconds(), strings.Join(parts, ", "))
}

// Time returns how long the TPM took to answer d's commands.
func (d *Device) Time() time.Duration { return d.t.busy }

// commandNames names the command codes this package sends (TPM 2.0 Part 2, TPM_CC).
var commandNames = map[uint32]string{0x17A: "GetCapability", 0x17E: "PCR_Read", 0x182: "PCR_Extend"}

// counted is a transport that counts the commands sent over it by code, and times them.
type counted struct {
	t     transport.TPM
	n     map[uint32]int
	order []uint32 // command codes in the order first sent
	sent  int
	busy  time.Duration
}

// Send sends cmd; its code is bytes 6-9 of the command header (tag, size, code).
func (c *counted) Send(cmd []byte) ([]byte, error) {
	t0 := time.Now()
	rsp, err := c.t.Send(cmd)
	c.busy += time.Since(t0)
	c.sent++
	if len(cmd) >= 10 {
		code := binary.BigEndian.Uint32(cmd[6:10])
		if c.n[code] == 0 {
			c.order = append(c.order, code)
		}
		c.n[code]++
	}
	return rsp, err
}

// Banks returns the PCR banks that have at least one PCR allocated, in the TPM's order.
func (d *Device) Banks() ([]eventlog.Alg, error) {
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
