package eventlog

import (
	"bytes"
	"fmt"
	"slices"
)

// PCRs holds PCR values by bank and PCR index: replayed from a log, or read from a TPM.
type PCRs map[Alg]map[uint32][]byte

// Values returns the values of pcrs in bank alg, all-zero (the bank's digest size) for a PCR p
// holds no value for: what a TPM reads for a PCR 0-15 that nothing extended since reset, and what
// a replay leaves for a PCR no event touches. An unknown bank gives nil values.
func (p PCRs) Values(alg Alg, pcrs ...uint32) map[uint32][]byte {
	out := make(map[uint32][]byte, len(pcrs))
	for _, i := range pcrs {
		v, ok := p[alg][i]
		if !ok {
			v = make([]byte, alg.Size())
		}
		out[i] = bytes.Clone(v)
	}
	return out
}

// Replay computes the PCR values the log's events produce, for every bank and every PCR an event
// touches: each PCR starts at zeros and is extended (PCR = H(PCR || digest)) with the event's
// digest for that bank, in log order. EV_NO_ACTION events extend nothing; a StartupLocality
// one (PCR 0, data "StartupLocality\0" and one locality byte) sets PCR 0's starting value to
// 00..0<locality> in every bank, and is an error after PCR 0 was extended.
//
// The values say what a TPM should hold if the log is true; they prove nothing until Verify
// matches them with PCR values read from the TPM. Every bank needs a Go hash (not SM3).
func (l *Log) Replay() (PCRs, error) {
	pcrs, _, err := l.replay()
	return pcrs, err
}

// replay returns the values and, per PCR, the index of the last event that set it.
func (l *Log) replay() (PCRs, map[uint32]int, error) {
	if err := l.validate(); err != nil {
		return nil, nil, fmt.Errorf("eventlog: replay: %w", err)
	}
	pcrs := PCRs{}
	for _, as := range l.SpecID.Algs {
		if _, ok := as.Alg.Hash(); !ok {
			return nil, nil, fmt.Errorf("eventlog: replay bank %v: %w", as.Alg, ErrUnsupportedHash)
		}
		pcrs[as.Alg] = map[uint32][]byte{}
	}
	last := map[uint32]int{}
	var (
		localitySet   bool // a StartupLocality event was seen
		localityEvent int  // its Index
		pcr0Extended  bool
	)
	for _, e := range l.Events {
		if err := checkDigests(l.SpecID.Algs, e.Digests); err != nil {
			return nil, nil, fmt.Errorf("eventlog: replay event %d (PCR %d, %v): %w", e.Index, e.PCR, e.Type, err)
		}
		if e.Type == EvNoAction {
			if e.PCR != 0 || !bytes.HasPrefix(e.Data, []byte(startupLocalitySignature)) {
				continue
			}
			bad := func(why string, args ...any) error {
				return fmt.Errorf("eventlog: replay event %d (StartupLocality): %w: %s", e.Index, ErrReplay, fmt.Sprintf(why, args...))
			}
			switch {
			case len(e.Data) != len(startupLocalitySignature)+1:
				return nil, nil, bad("data is %d bytes, want %d", len(e.Data), len(startupLocalitySignature)+1)
			case e.Data[len(e.Data)-1] > 4:
				return nil, nil, bad("locality %d, want 0 to 4", e.Data[len(e.Data)-1])
			case localitySet:
				return nil, nil, bad("event %d already set the startup locality", localityEvent)
			case pcr0Extended:
				return nil, nil, bad("PCR 0 was already extended by event %d", last[0])
			}
			localitySet, localityEvent = true, e.Index
			for alg, bank := range pcrs {
				v := make([]byte, alg.Size())
				v[len(v)-1] = e.Data[len(e.Data)-1]
				bank[0] = v
			}
			last[0] = e.Index
			continue
		}
		if e.PCR >= NumPCRs {
			return nil, nil, fmt.Errorf("eventlog: replay event %d: %w: PCR index %d, want below %d", e.Index, ErrInvalid, e.PCR, NumPCRs)
		}
		for _, d := range e.Digests {
			h, _ := d.Alg.Hash()
			cur, ok := pcrs[d.Alg][e.PCR]
			if !ok {
				cur = make([]byte, d.Alg.Size())
			}
			hh := h.New()
			hh.Write(cur)
			hh.Write(d.Sum)
			pcrs[d.Alg][e.PCR] = hh.Sum(nil)
		}
		last[e.PCR] = e.Index
		pcr0Extended = pcr0Extended || e.PCR == 0
	}
	return pcrs, last, nil
}

// Mismatch is a (bank, PCR) whose value read from the TPM differs from the log's replay.
type Mismatch struct {
	Alg       Alg
	PCR       uint32
	Want      []byte // the value read from the TPM
	Got       []byte // the value the log replays to
	LastEvent int    // Index of the last event that set this PCR in the log
}

// String describes m for a person.
func (m Mismatch) String() string {
	return fmt.Sprintf("%v PCR %d: TPM has %x, log (last event %d) replays to %x", m.Alg, m.PCR, m.Want, m.LastEvent, m.Got)
}

// Verify replays the log and compares the result with tpm, values read from a TPM, for every
// (bank, PCR) the log touches that tpm holds. It returns the pairs that differ, in bank then
// PCR order; none means every compared PCR matches. It compares only what tpm holds: a bank or
// PCR missing from tpm is not checked. It fails if the log cannot be replayed, if a tpm value
// has the wrong size for its bank, or if the log touches PCRs but tpm holds none of them
// (ErrNothingCompared).
//
// PCR values prove nothing unless they come from the TPM itself (a quote, or a read over a
// trusted path); Verify does not check that.
func (l *Log) Verify(tpm PCRs) ([]Mismatch, error) {
	replayed, last, err := l.replay()
	if err != nil {
		return nil, err
	}
	var mismatches []Mismatch
	touched, compared := 0, 0
	for _, alg := range l.Banks() {
		idx := make([]uint32, 0, len(replayed[alg]))
		for pcr := range replayed[alg] {
			idx = append(idx, pcr)
		}
		slices.Sort(idx)
		for _, pcr := range idx {
			touched++
			want, ok := tpm[alg][pcr]
			if !ok {
				continue
			}
			if len(want) != alg.Size() {
				return nil, fmt.Errorf("eventlog: verify: %w: TPM value of %v PCR %d is %d bytes, want %d", ErrInvalid, alg, pcr, len(want), alg.Size())
			}
			compared++
			if got := replayed[alg][pcr]; !bytes.Equal(got, want) {
				mismatches = append(mismatches, Mismatch{Alg: alg, PCR: pcr, Want: clone(want), Got: got, LastEvent: last[pcr]})
			}
		}
	}
	if touched > 0 && compared == 0 {
		return nil, fmt.Errorf("eventlog: verify: %w: the log touches %d (bank, PCR) pairs", ErrNothingCompared, touched)
	}
	return mismatches, nil
}

// DigestError reports an event whose digest is not the hash of its data.
type DigestError struct {
	Index int
	PCR   uint32
	Type  EventType
	Alg   Alg
	Want  []byte // the bank's hash of the event data
	Got   []byte // the digest the event carries
}

// Error implements error.
func (e *DigestError) Error() string {
	return fmt.Sprintf("eventlog: event %d (PCR %d, %v): %v digest %x is not the hash of its data, %x",
		e.Index, e.PCR, e.Type, e.Alg, e.Got, e.Want)
}

// Unwrap returns ErrDigestMismatch.
func (e *DigestError) Unwrap() error { return ErrDigestMismatch }

// CheckDigests checks, for every event that want selects, that each of its digests is its
// bank's hash of the event data, and returns a *DigestError for the first that is not. Only the
// caller knows which events are measured as the hash of their data (firmware events often
// measure something else: a PE image, a flash region), so want says; a nil want selects every
// event. EV_NO_ACTION events, whose digests are zeros, are never checked. It fails with
// ErrUnsupportedHash for a selected event with a bank Go cannot hash (SM3).
func (l *Log) CheckDigests(want func(Event) bool) error {
	for _, e := range l.Events {
		if e.Type == EvNoAction || want != nil && !want(e) {
			continue
		}
		for _, d := range e.Digests {
			h, ok := d.Alg.Hash()
			if !ok {
				return fmt.Errorf("eventlog: check event %d (PCR %d, %v): bank %v: %w", e.Index, e.PCR, e.Type, d.Alg, ErrUnsupportedHash)
			}
			hh := h.New()
			hh.Write(e.Data)
			if sum := hh.Sum(nil); !bytes.Equal(sum, d.Sum) {
				return &DigestError{Index: e.Index, PCR: e.PCR, Type: e.Type, Alg: d.Alg, Want: sum, Got: clone(d.Sum)}
			}
		}
	}
	return nil
}
