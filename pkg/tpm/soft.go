package tpm

import (
	"fmt"
	"slices"

	"github.com/measuredboot/measuredboot/pkg/eventlog"
)

// Soft is a TPM's PCRs kept in software: it extends and reads them as a TPM does, and sends no
// command anywhere. mbctl predict runs the boot flow against one to compute the PCR values a boot
// will leave; tests use it as the TPM.
type Soft struct {
	banks   []eventlog.Alg
	pcrs    eventlog.PCRs
	extends []Extend
}

// NewSoft returns PCRs with the given banks, holding start's values (a firmware log's replay, say)
// and zeros elsewhere. Each bank must have a hash in this build.
func NewSoft(banks []eventlog.Alg, start eventlog.PCRs) (*Soft, error) {
	s := &Soft{banks: slices.Clone(banks), pcrs: eventlog.PCRs{}}
	for _, b := range banks {
		h, ok := b.Hash()
		if !ok {
			return nil, fmt.Errorf("tpm: bank %v has no hash in this build", b)
		}
		s.pcrs[b] = map[uint32][]byte{}
		for p, v := range start[b] {
			if len(v) != h.Size() {
				return nil, fmt.Errorf("tpm: %v PCR %d start value is %d bytes, want %d", b, p, len(v), h.Size())
			}
			s.pcrs[b][p] = slices.Clone(v)
		}
	}
	return s, nil
}

// Banks returns the banks, in the order given to NewSoft.
func (s *Soft) Banks() ([]eventlog.Alg, error) { return slices.Clone(s.banks), nil }

// Extend extends pcr in every bank: one digest per bank, as TPM2_PCR_Extend requires here.
func (s *Soft) Extend(pcr uint32, digests []eventlog.Digest) error {
	if pcr >= eventlog.NumPCRs {
		return fmt.Errorf("tpm: PCR %d out of range 0-%d", pcr, eventlog.NumPCRs-1)
	}
	if len(digests) != len(s.banks) {
		return fmt.Errorf("tpm: extend PCR %d with %d digests, the TPM has %d banks", pcr, len(digests), len(s.banks))
	}
	for _, d := range digests {
		h, ok := d.Alg.Hash()
		if _, active := s.pcrs[d.Alg]; !ok || !active {
			return fmt.Errorf("tpm: extend PCR %d: no %v bank", pcr, d.Alg)
		}
		if len(d.Sum) != h.Size() {
			return fmt.Errorf("tpm: extend %v PCR %d with %d bytes, want %d", d.Alg, pcr, len(d.Sum), h.Size())
		}
		old, ok := s.pcrs[d.Alg][pcr]
		if !ok {
			old = make([]byte, h.Size())
		}
		hh := h.New()
		hh.Write(old)
		hh.Write(d.Sum)
		s.pcrs[d.Alg][pcr] = hh.Sum(nil)
	}
	s.extends = append(s.extends, Extend{PCR: pcr, Digests: slices.Clone(digests)})
	return nil
}

// Extend is one PCR_Extend a Soft TPM took: the PCR and one digest per bank.
type Extend struct {
	PCR     uint32
	Digests []eventlog.Digest
}

// Extends returns every extend taken, in order.
func (s *Soft) Extends() []Extend { return slices.Clone(s.extends) }

// Read returns the values of pcrs in bank alg.
func (s *Soft) Read(alg eventlog.Alg, pcrs []uint32) (map[uint32][]byte, error) {
	if _, active := s.pcrs[alg]; !active {
		return nil, fmt.Errorf("tpm: no %v bank", alg)
	}
	for _, p := range pcrs {
		if p >= eventlog.NumPCRs {
			return nil, fmt.Errorf("tpm: PCR %d out of range 0-%d", p, eventlog.NumPCRs-1)
		}
	}
	return s.pcrs.Values(alg, pcrs...), nil
}

// Values returns every PCR value that differs from zero or was extended, by bank.
func (s *Soft) Values() eventlog.PCRs {
	out := eventlog.PCRs{}
	for b, m := range s.pcrs {
		out[b] = map[uint32][]byte{}
		for p, v := range m {
			out[b][p] = slices.Clone(v)
		}
	}
	return out
}
