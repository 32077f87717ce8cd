// Package eventlog writes, parses and replays the TCG PC Client crypto-agile event log: the
// binary measurement log firmware leaves for the OS and that this project hands to the kexec'd
// system (TCG PC Client Platform Firmware Profile, "Crypto Agile Log Entry Format"). It also
// reads and writes the older SHA-1 format that TPM 1.2 machines and SHA-1-only firmware leave
// (TCG PC Client Specific Implementation Specification for Conventional BIOS, TCG_PCClientPCREvent).
//
// It is pure: it never touches a TPM, a file or a device. A log that Parse returns is
// unverified: its events are claims until Verify has matched their replay against PCR values
// read from a TPM, and even then an event's type and data are only as trustworthy as the
// check the caller makes of them (CheckDigests).
//
// Layout, all integers little-endian: a legacy SHA-1 format header event (PCR 0, EV_NO_ACTION,
// 20 zero bytes, size, "Spec ID Event03" body listing the banks) followed by TCG_PCR_EVENT2
// events (PCR, type, digest count, {TPM_ALG_ID, digest} per bank, size, data). A legacy SHA-1
// log is only records of the header's shape (PCR, type, SHA-1 digest, size, data); its first may
// be an EV_NO_ACTION "Spec ID Event00" or "Spec ID Event02" record, or a measured event.
package eventlog

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
)

// NumPCRs is the number of PCRs of a PC Client TPM: an event's PCR index is below it.
const NumPCRs = 24

// Errors, to be matched with errors.Is.
var (
	// ErrTruncated means the input ended inside a field, or a size field claims more bytes than
	// the input has left.
	ErrTruncated = errors.New("eventlog: truncated")
	// ErrMixedFormats means a "Spec ID Event03" header (which opens a crypto-agile log) where
	// a legacy SHA-1 log has a record: the two formats cannot share a log.
	ErrMixedFormats = errors.New("eventlog: crypto-agile header in a legacy SHA-1 log")
	// ErrHeader means the Spec ID header is malformed or lists banks this package rejects.
	ErrHeader = errors.New("eventlog: bad Spec ID header")
	// ErrUnknownAlg means an algorithm ID that this package does not know.
	ErrUnknownAlg = errors.New("eventlog: unknown algorithm")
	// ErrDigests means an event's digests do not cover the log's banks exactly once each with
	// the banks' sizes.
	ErrDigests = errors.New("eventlog: digests do not match the log's banks")
	// ErrInvalid means an argument or a hand-built Log that this package refuses to write.
	ErrInvalid = errors.New("eventlog: invalid")
	// ErrUnsupportedHash means a bank whose hash Go cannot compute (SM3) where one is needed.
	ErrUnsupportedHash = errors.New("eventlog: hash not supported")
	// ErrReplay means the log cannot be replayed (for example a misplaced StartupLocality event).
	ErrReplay = errors.New("eventlog: cannot replay")
	// ErrDigestMismatch means an event's digest is not the hash of its data; see DigestError.
	ErrDigestMismatch = errors.New("eventlog: digest does not match event data")
	// ErrNothingCompared means Verify was given no PCR value for any (bank, PCR) the log touches.
	ErrNothingCompared = errors.New("eventlog: no PCR value to compare the log with")
)

// ParseError says where Parse stopped: which event, at which byte offsets, and why.
type ParseError struct {
	// Index is the event's index, numbered as Event.Index: 0 is the crypto-agile Spec ID
	// header, 1 the first event after it, or the first record of a legacy SHA-1 log. An input
	// with no event at all (empty, or only padding) is reported as index 0.
	Index       int
	EventOffset int // byte offset of the start of that event
	Offset      int // byte offset of the field at fault
	Err         error
}

// Error implements error.
func (e *ParseError) Error() string {
	return fmt.Sprintf("eventlog: event %d (starting at byte offset %d): at byte offset %d: %v",
		e.Index, e.EventOffset, e.Offset, e.Err)
}

// Unwrap returns the cause, one of this package's sentinel errors wrapped with detail.
func (e *ParseError) Unwrap() error { return e.Err }

// Digest is one bank's digest of an event.
type Digest struct {
	Alg Alg
	Sum []byte
}

// Event is one TCG_PCR_EVENT2, or one TCG_PCClientPCREvent of a legacy SHA-1 log. All its
// fields are unverified claims until Verify; Type and Data are never covered by the PCR value,
// only the digests are.
type Event struct {
	// Index is the event's position in the log: 0 is the Spec ID header of a crypto-agile log
	// (which is not an Event). A legacy log has no such header, and its first record (even a
	// "Spec ID Event00" one, which is an Event there) is 1 too, so Log.Events[i].Index == i+1
	// in every log of either format that this package builds or parses.
	Index   int
	PCR     uint32
	Type    EventType
	Digests []Digest // one per bank, in the order of the log's banks when built here
	Data    []byte
}

// Digest returns the event's digest for bank a, or nil if it has none.
func (e Event) Digest(a Alg) []byte {
	for _, d := range e.Digests {
		if d.Alg == a {
			return d.Sum
		}
	}
	return nil
}

// AlgSize is one entry of the Spec ID header's list of banks.
type AlgSize struct {
	Alg  Alg
	Size uint16
}

// SpecID is the body of the log's first event (TCG_EfiSpecIDEvent, "Spec ID Event03"). A legacy
// log has none: its SpecID only lists the SHA-1 bank (see Log).
type SpecID struct {
	PlatformClass uint32 // 0 client, 1 server
	Minor, Major  uint8  // spec version: 0 and 2 for TPM 2.0 logs
	Errata        uint8
	UintnSize     uint8 // 1 for 32-bit UINTN, 2 for 64-bit
	Algs          []AlgSize
	VendorInfo    []byte // at most 255 bytes
}

// Log is a TCG event log, crypto-agile or legacy SHA-1. A parsed Log is unverified until
// Replay's values match PCR values read from a TPM (Verify). A Log is not safe for concurrent
// use while it is appended to.
//
// A legacy log (Legacy true) is one SHA-1 bank: its SpecID is not in its bytes but made up so
// that Banks, Append, Replay, Verify and CheckDigests work unchanged, and lists only
// {AlgSHA1, 20} with every other field zero. Marshal writes each format back as it was read.
type Log struct {
	// Legacy is true for a log in the SHA-1 format of TPM 1.2 and SHA-1-only firmware: records
	// of PCR, type, SHA-1 digest, size and data, without a "Spec ID Event03" header.
	Legacy bool
	SpecID SpecID
	// Events are all events after the Spec ID header, EV_NO_ACTION ones included; in a legacy
	// log, every record, its first (which may be a "Spec ID Event00" EV_NO_ACTION) included.
	Events []Event
}

const (
	specIDSignature = "Spec ID Event03\x00"
	// Bytes of the Spec ID body before the algorithm list: signature, platformClass,
	// 4 version bytes, numberOfAlgorithms.
	specIDFixed = 16 + 4 + 4 + 4
	// Bytes of the legacy header event, and of every record of a legacy log, before its data:
	// PCR, type, SHA-1 digest, size.
	legacyHeader = 4 + 4 + 20 + 4
	// Bytes of a TCG_PCR_EVENT2 before its digests: PCR, type, digest count.
	event2Header = 4 + 4 + 4
)

// New returns an empty log whose header lists the banks algs, in that order: platform class 0
// (client), spec version 2.0 errata 0, uintnSize 2 (64-bit UINTN), no vendor info, as EDK2
// writes it.
func New(algs []Alg) (*Log, error) {
	spec := SpecID{Major: 2, UintnSize: 2}
	for _, a := range algs {
		spec.Algs = append(spec.Algs, AlgSize{Alg: a, Size: uint16(a.Size())})
	}
	if err := spec.validate(); err != nil {
		return nil, fmt.Errorf("eventlog.New(%v): %w", algs, err)
	}
	return &Log{SpecID: spec}, nil
}

// NewLegacy returns an empty legacy SHA-1 log (Log.Legacy): one bank, SHA-1. Marshal refuses
// it until it holds an event, since a legacy log without one cannot be told from no log.
func NewLegacy() *Log {
	return &Log{Legacy: true, SpecID: legacySpecID()}
}

// legacySpecID returns the made-up SpecID of every legacy log.
func legacySpecID() SpecID {
	return SpecID{Algs: []AlgSize{{Alg: AlgSHA1, Size: uint16(AlgSHA1.Size())}}}
}

// validate reports whether l's SpecID is one this package writes and accepts for l's format.
func (l *Log) validate() error {
	if !l.Legacy {
		return l.SpecID.validate()
	}
	s := &l.SpecID
	if len(s.Algs) != 1 || s.Algs[0] != (AlgSize{Alg: AlgSHA1, Size: 20}) {
		return fmt.Errorf("%w: a legacy SHA-1 log lists banks %v, want only {sha1 20}", ErrHeader, s.Algs)
	}
	if s.PlatformClass != 0 || s.Minor != 0 || s.Major != 0 || s.Errata != 0 || s.UintnSize != 0 || len(s.VendorInfo) != 0 {
		return fmt.Errorf("%w: a legacy SHA-1 log has no Spec ID header to write, but its SpecID sets fields other than Algs", ErrHeader)
	}
	return nil
}

// isSpecID03 reports whether an event is a crypto-agile "Spec ID Event03" header by its type and
// data; where it may stand (PCR 0, zero digest, first in the log) is for the caller to check.
func isSpecID03(typ EventType, data []byte) bool {
	return typ == EvNoAction && bytes.HasPrefix(data, []byte(specIDSignature))
}

// isCryptoAgile reports whether b opens with a crypto-agile header: a record of PCR 0,
// EV_NO_ACTION, zero SHA-1 digest and data of at least 16 bytes that start with the
// "Spec ID Event03" signature. Anything else is read as a legacy SHA-1 log.
func isCryptoAgile(b []byte) bool {
	if len(b) < legacyHeader+len(specIDSignature) {
		return false
	}
	le := binary.LittleEndian
	return le.Uint32(b[0:]) == 0 && EventType(le.Uint32(b[4:])) == EvNoAction && allZero(b[8:28]) &&
		le.Uint32(b[28:]) >= uint32(len(specIDSignature)) && isSpecID03(EvNoAction, b[legacyHeader:])
}

// validate reports whether s is a crypto-agile header this package writes and accepts.
func (s *SpecID) validate() error {
	if s.Major != 2 || s.Minor != 0 {
		return fmt.Errorf("%w: spec version %d.%d, want 2.0", ErrHeader, s.Major, s.Minor)
	}
	if s.UintnSize != 1 && s.UintnSize != 2 {
		return fmt.Errorf("%w: uintnSize %d, want 1 or 2", ErrHeader, s.UintnSize)
	}
	if len(s.Algs) == 0 {
		return fmt.Errorf("%w: no banks", ErrHeader)
	}
	for i, as := range s.Algs {
		if as.Alg.Size() == 0 {
			return fmt.Errorf("%w 0x%04x in bank %d", ErrUnknownAlg, uint16(as.Alg), i)
		}
		if int(as.Size) != as.Alg.Size() {
			return fmt.Errorf("%w: bank %d (%v) has digest size %d, want %d", ErrHeader, i, as.Alg, as.Size, as.Alg.Size())
		}
		for _, prev := range s.Algs[:i] {
			if prev.Alg == as.Alg {
				return fmt.Errorf("%w: bank %v listed twice", ErrHeader, as.Alg)
			}
		}
	}
	if len(s.VendorInfo) > math.MaxUint8 {
		return fmt.Errorf("%w: vendor info is %d bytes, at most 255 fit", ErrHeader, len(s.VendorInfo))
	}
	return nil
}

// Banks returns the log's PCR banks in header order.
func (l *Log) Banks() []Alg {
	algs := make([]Alg, len(l.SpecID.Algs))
	for i, as := range l.SpecID.Algs {
		algs[i] = as.Alg
	}
	return algs
}

// Append records an event whose digest in every bank is that bank's hash of data, and returns a
// copy of it. For EvNoAction the digests are zeros, as the spec requires for events that extend
// nothing. It fails if a bank has no Go hash (SM3): use AppendDigests.
func (l *Log) Append(pcr uint32, typ EventType, data []byte) (Event, error) {
	digests := make([]Digest, 0, len(l.SpecID.Algs))
	for _, as := range l.SpecID.Algs {
		if typ == EvNoAction {
			digests = append(digests, Digest{Alg: as.Alg, Sum: make([]byte, as.Alg.Size())})
			continue
		}
		h, ok := as.Alg.Hash()
		if !ok {
			return Event{}, fmt.Errorf("eventlog: append %v to PCR %d: bank %v: %w (use AppendDigests)", typ, pcr, as.Alg, ErrUnsupportedHash)
		}
		hh := h.New()
		hh.Write(data)
		digests = append(digests, Digest{Alg: as.Alg, Sum: hh.Sum(nil)})
	}
	return l.AppendDigests(pcr, typ, digests, data)
}

// AppendDigests records an event with caller-supplied digests, which must cover every bank of
// the log exactly once with the bank's digest size; they are stored in bank order. It returns a
// copy of the event.
func (l *Log) AppendDigests(pcr uint32, typ EventType, digests []Digest, data []byte) (Event, error) {
	if err := l.validate(); err != nil {
		return Event{}, fmt.Errorf("eventlog: append %v to PCR %d: %w", typ, pcr, err)
	}
	if pcr >= NumPCRs {
		return Event{}, fmt.Errorf("eventlog: append %v to PCR %d: %w: PCR index must be below %d", typ, pcr, ErrInvalid, NumPCRs)
	}
	if uint64(len(data)) > math.MaxUint32 {
		return Event{}, fmt.Errorf("eventlog: append %v to PCR %d: %w: %d bytes of data do not fit a u32 size", typ, pcr, ErrInvalid, len(data))
	}
	if err := checkDigests(l.SpecID.Algs, digests); err != nil {
		return Event{}, fmt.Errorf("eventlog: append %v to PCR %d: %w", typ, pcr, err)
	}
	if l.Legacy && isSpecID03(typ, data) {
		return Event{}, fmt.Errorf("eventlog: append %v to PCR %d: %w: its data is a \"Spec ID Event03\" header", typ, pcr, ErrMixedFormats)
	}
	e := Event{Index: len(l.Events) + 1, PCR: pcr, Type: typ, Data: clone(data)}
	for _, as := range l.SpecID.Algs {
		for _, d := range digests {
			if d.Alg == as.Alg {
				e.Digests = append(e.Digests, Digest{Alg: d.Alg, Sum: clone(d.Sum)})
			}
		}
	}
	l.Events = append(l.Events, e)
	return e.clone(), nil
}

// startupLocalitySignature opens the data of the StartupLocality EV_NO_ACTION event
// (TCG_EfiStartupLocalityEvent); one byte, the locality, follows it.
const startupLocalitySignature = "StartupLocality\x00"

// AppendStartupLocality records the EV_NO_ACTION StartupLocality event, which says that
// TPM2_Startup came from locality (0 to 4; 3 for Intel TXT, 4 for an H-CRTM) so PCR 0 starts
// at 00..0<locality> in every bank. It must precede every other event for PCR 0.
func (l *Log) AppendStartupLocality(locality uint8) (Event, error) {
	if locality > 4 {
		return Event{}, fmt.Errorf("eventlog: append StartupLocality %d: %w: locality must be 0 to 4", locality, ErrInvalid)
	}
	for _, e := range l.Events {
		if e.PCR == 0 {
			return Event{}, fmt.Errorf("eventlog: append StartupLocality %d: %w: event %d (%v) already uses PCR 0", locality, ErrInvalid, e.Index, e.Type)
		}
	}
	return l.Append(0, EvNoAction, append([]byte(startupLocalitySignature), locality))
}

// checkDigests reports whether digests has exactly one digest of the right size per bank.
func checkDigests(banks []AlgSize, digests []Digest) error {
	if len(digests) != len(banks) {
		return fmt.Errorf("%w: %d digests for %d banks", ErrDigests, len(digests), len(banks))
	}
	for i, d := range digests {
		size, ok := bankSize(banks, d.Alg)
		if !ok {
			return fmt.Errorf("%w: digest %d is %v, not one of the banks %v", ErrDigests, i, d.Alg, banks)
		}
		if len(d.Sum) != size {
			return fmt.Errorf("%w: %v digest is %d bytes, want %d", ErrDigests, d.Alg, len(d.Sum), size)
		}
		for _, prev := range digests[:i] {
			if prev.Alg == d.Alg {
				return fmt.Errorf("%w: two %v digests", ErrDigests, d.Alg)
			}
		}
	}
	return nil
}

func bankSize(banks []AlgSize, a Alg) (int, bool) {
	for _, as := range banks {
		if as.Alg == a {
			return int(as.Size), true
		}
	}
	return 0, false
}

// Marshal returns the binary log in its format: for a crypto-agile log the Spec ID header event,
// then every event as a TCG_PCR_EVENT2; for a legacy log (Legacy) every event as a SHA-1 record.
// It fails for a Log that Parse would reject (possible only for a Log built or changed by hand):
// among others, a legacy log with no event, with a "Spec ID Event03" EV_NO_ACTION event, or
// whose last event would be 32 zero bytes (which Parse reads as padding).
// Index fields are not written and not checked.
func (l *Log) Marshal() ([]byte, error) {
	if err := l.validate(); err != nil {
		return nil, fmt.Errorf("eventlog: marshal: %w", err)
	}
	if l.Legacy {
		if len(l.Events) == 0 {
			return nil, fmt.Errorf("eventlog: marshal: %w: a legacy SHA-1 log without events would be empty, which Parse rejects", ErrInvalid)
		}
		if last := l.Events[len(l.Events)-1]; isZeroRecord(last) {
			return nil, fmt.Errorf("eventlog: marshal event %d: %w: the last event of a legacy SHA-1 log would be 32 zero bytes, which Parse reads as padding", last.Index, ErrInvalid)
		}
	}
	size := legacyHeader + specIDFixed + 4*len(l.SpecID.Algs) + 1 + len(l.SpecID.VendorInfo)
	if l.Legacy {
		size = 0
	}
	for _, e := range l.Events {
		if err := checkDigests(l.SpecID.Algs, e.Digests); err != nil {
			return nil, fmt.Errorf("eventlog: marshal event %d: %w", e.Index, err)
		}
		if e.PCR >= NumPCRs {
			return nil, fmt.Errorf("eventlog: marshal event %d: %w: PCR index %d, want below %d", e.Index, ErrInvalid, e.PCR, NumPCRs)
		}
		if uint64(len(e.Data)) > math.MaxUint32 {
			return nil, fmt.Errorf("eventlog: marshal event %d: %w: %d bytes of data do not fit a u32 size", e.Index, ErrInvalid, len(e.Data))
		}
		if l.Legacy {
			if isSpecID03(e.Type, e.Data) {
				return nil, fmt.Errorf("eventlog: marshal event %d: %w: a legacy SHA-1 log cannot hold a \"Spec ID Event03\" header", e.Index, ErrMixedFormats)
			}
			size += legacyHeader + len(e.Data)
			continue
		}
		size += event2Header + 4 + len(e.Data)
		for _, d := range e.Digests {
			size += 2 + len(d.Sum)
		}
	}

	le := binary.LittleEndian
	b := make([]byte, 0, size)
	if l.Legacy {
		for _, e := range l.Events {
			b = le.AppendUint32(b, e.PCR)
			b = le.AppendUint32(b, uint32(e.Type))
			b = append(b, e.Digests[0].Sum...) // checkDigests: one SHA-1 digest
			b = le.AppendUint32(b, uint32(len(e.Data)))
			b = append(b, e.Data...)
		}
		return b, nil
	}
	s := &l.SpecID
	b = le.AppendUint32(b, 0)
	b = le.AppendUint32(b, uint32(EvNoAction))
	b = append(b, make([]byte, 20)...)
	b = le.AppendUint32(b, uint32(specIDFixed+4*len(s.Algs)+1+len(s.VendorInfo)))
	b = append(b, specIDSignature...)
	b = le.AppendUint32(b, s.PlatformClass)
	b = append(b, s.Minor, s.Major, s.Errata, s.UintnSize)
	b = le.AppendUint32(b, uint32(len(s.Algs)))
	for _, as := range s.Algs {
		b = le.AppendUint16(b, uint16(as.Alg))
		b = le.AppendUint16(b, as.Size)
	}
	b = append(b, uint8(len(s.VendorInfo)))
	b = append(b, s.VendorInfo...)
	for _, e := range l.Events {
		b = le.AppendUint32(b, e.PCR)
		b = le.AppendUint32(b, uint32(e.Type))
		b = le.AppendUint32(b, uint32(len(e.Digests)))
		for _, d := range e.Digests {
			b = le.AppendUint16(b, uint16(d.Alg))
			b = append(b, d.Sum...)
		}
		b = le.AppendUint32(b, uint32(len(e.Data)))
		b = append(b, e.Data...)
	}
	return b, nil
}

// reader walks the input; every read checks the remaining length first.
type reader struct {
	b   []byte
	off int
}

func (r *reader) left() int { return len(r.b) - r.off }

func (r *reader) take(n int, what string) ([]byte, error) {
	if n < 0 || n > r.left() {
		return nil, fmt.Errorf("%w: %s needs %d bytes, %d left", ErrTruncated, what, n, r.left())
	}
	p := r.b[r.off : r.off+n]
	r.off += n
	return p, nil
}

func (r *reader) u8(what string) (uint8, error) {
	p, err := r.take(1, what)
	if err != nil {
		return 0, err
	}
	return p[0], nil
}

func (r *reader) u16(what string) (uint16, error) {
	p, err := r.take(2, what)
	if err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint16(p), nil
}

func (r *reader) u32(what string) (uint32, error) {
	p, err := r.take(4, what)
	if err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint32(p), nil
}

// sized reads a u32 size and then that many bytes, refusing a size larger than the input left.
func (r *reader) sized(what string) ([]byte, error) {
	n, err := r.u32(what + " size")
	if err != nil {
		return nil, err
	}
	if uint64(n) > uint64(r.left()) {
		r.off -= 4 // point at the size field
		return nil, fmt.Errorf("%w: %s size %d exceeds the %d bytes left after it", ErrTruncated, what, n, r.left()-4)
	}
	return r.take(int(n), what)
}

// Parse parses a whole binary event log, crypto-agile or legacy SHA-1, as firmware leaves it and
// Marshal writes it. The result is unverified: see Verify.
//
// The content decides the format: a log whose first record is PCR 0, EV_NO_ACTION, with a zero
// SHA-1 digest and a "Spec ID Event03" body is crypto-agile; any other is read as a legacy SHA-1
// log (Log.Legacy), whose first record may be a "Spec ID Event00" or "Spec ID Event02"
// EV_NO_ACTION (kept as Events[0]) or a measured event. A "Spec ID Event03" EV_NO_ACTION record
// anywhere in a legacy log is an error (ErrMixedFormats); legacy records after a crypto-agile
// header fail as TCG_PCR_EVENT2 events with a wrong digest count (ErrDigests).
//
// Every event must name a PCR below NumPCRs and, in a crypto-agile log, carry exactly one digest
// per bank of the header, in any order. Banks must be algorithms this package knows (SHA-1,
// SHA-256, SHA-384, SHA-512, SM3) with their standard sizes. No size field may claim more bytes
// than the input has left. Parse stops without error where the rest of the input is all 0x00 or
// all 0xFF bytes, the padding firmware leaves after the last event in a fixed-size log area; a
// legacy log needs at least one event before it, and its last event cannot be 32 zero bytes
// (0xFF padding after one would let it through where Marshal could not write it back). Errors
// are *ParseError.
func Parse(b []byte) (*Log, error) {
	r := &reader{b: b}
	l := &Log{}
	if isCryptoAgile(b) {
		if err := parseHeader(r, &l.SpecID); err != nil {
			return nil, err
		}
	} else {
		l = NewLegacy()
	}
	// Padding is a run of 0x00 or of 0xFF bytes that lasts to the end of the input.
	zeroPad, ffPad := padStart(b, 0x00), padStart(b, 0xFF)
	for index := 1; r.off < zeroPad && r.off < ffPad; index++ {
		var e Event
		var err error
		if l.Legacy {
			e, err = parseLegacyEvent(r, index)
		} else {
			e, err = parseEvent(r, index, l.SpecID.Algs)
		}
		if err != nil {
			return nil, err
		}
		l.Events = append(l.Events, e)
	}
	if l.Legacy && len(l.Events) == 0 {
		return nil, &ParseError{Index: 0, Err: fmt.Errorf("%w: no event in %d bytes (empty, or only 0x00 or 0xFF padding)", ErrTruncated, len(b))}
	}
	if n := len(l.Events); l.Legacy && isZeroRecord(l.Events[n-1]) {
		// Only 0xFF padding after it lets Parse see it; Marshal's output would end with it,
		// and there it reads as zero padding.
		off := r.off - legacyHeader
		return nil, &ParseError{Index: n, EventOffset: off, Offset: off, Err: fmt.Errorf("%w: the last record is 32 zero bytes (PCR 0, EV_PREBOOT_CERT, zero digest, no data), which cannot be told from zero padding", ErrInvalid)}
	}
	return l, nil
}

// padStart returns the offset where the run of byte c that ends b starts, len(b) if b does not
// end with c. (bytes.TrimRight would not do: it reads its cutset "\xff" as U+FFFD and so trims
// every byte that is not valid UTF-8.)
func padStart(b []byte, c byte) int {
	i := len(b)
	for i > 0 && b[i-1] == c {
		i--
	}
	return i
}

// isZeroRecord reports whether e is a legacy record written as 32 zero bytes.
func isZeroRecord(e Event) bool {
	return e.PCR == 0 && e.Type == 0 && len(e.Data) == 0 && len(e.Digests) == 1 && allZero(e.Digests[0].Sum)
}

func parseHeader(r *reader, s *SpecID) error {
	fieldOff := 0
	fail := func(e error) error {
		return &ParseError{Index: 0, EventOffset: 0, Offset: fieldOff, Err: e}
	}
	hdr, err := r.take(8, "Spec ID header event")
	if err != nil {
		return fail(err)
	}
	le := binary.LittleEndian
	if pcr, typ := le.Uint32(hdr[0:]), EventType(le.Uint32(hdr[4:])); pcr != 0 || typ != EvNoAction {
		// Parse calls parseHeader only after isCryptoAgile checked this; kept for safety.
		return fail(fmt.Errorf("%w: first event is PCR %d %v, want PCR 0 EV_NO_ACTION", ErrHeader, pcr, typ))
	}
	fieldOff = r.off
	sha1, err := r.take(20, "Spec ID header event digest")
	if err != nil {
		return fail(err)
	}
	if !allZero(sha1) {
		return fail(fmt.Errorf("%w: SHA-1 digest of the header event is %x, want zeros", ErrHeader, sha1))
	}
	fieldOff = r.off
	body, err := r.sized("Spec ID event")
	if err != nil {
		return fail(err)
	}
	br := &reader{b: body}
	// next moves fieldOff to the body field about to be read.
	next := func() { fieldOff = legacyHeader + br.off }

	next()
	sig, err := br.take(16, "Spec ID signature")
	if err != nil {
		return fail(err)
	}
	if string(sig) != specIDSignature {
		return fail(fmt.Errorf("%w: signature %q, want %q", ErrHeader, sig, specIDSignature))
	}
	next()
	if s.PlatformClass, err = br.u32("platformClass"); err != nil {
		return fail(err)
	}
	next()
	v, err := br.take(4, "spec version")
	if err != nil {
		return fail(err)
	}
	s.Minor, s.Major, s.Errata, s.UintnSize = v[0], v[1], v[2], v[3]
	if s.Major != 2 || s.Minor != 0 {
		return fail(fmt.Errorf("%w: spec version %d.%d, want 2.0", ErrHeader, s.Major, s.Minor))
	}
	if s.UintnSize != 1 && s.UintnSize != 2 {
		return fail(fmt.Errorf("%w: uintnSize %d, want 1 or 2", ErrHeader, s.UintnSize))
	}
	next()
	n, err := br.u32("numberOfAlgorithms")
	if err != nil {
		return fail(err)
	}
	if n == 0 {
		return fail(fmt.Errorf("%w: numberOfAlgorithms is 0", ErrHeader))
	}
	if uint64(n)*4 > uint64(br.left()) {
		return fail(fmt.Errorf("%w: %d algorithms need %d bytes, the Spec ID event has %d left", ErrTruncated, n, uint64(n)*4, br.left()))
	}
	s.Algs = make([]AlgSize, 0, n)
	for range n {
		next()
		id, _ := br.u16("algorithmId") // length checked above
		size, _ := br.u16("digestSize")
		a := Alg(id)
		switch _, dup := bankSize(s.Algs, a); {
		case a.Size() == 0:
			return fail(fmt.Errorf("%w 0x%04x (digest size %d) in the Spec ID header", ErrUnknownAlg, id, size))
		case int(size) != a.Size():
			return fail(fmt.Errorf("%w: %v digest size %d, want %d", ErrHeader, a, size, a.Size()))
		case dup:
			return fail(fmt.Errorf("%w: bank %v listed twice", ErrHeader, a))
		}
		s.Algs = append(s.Algs, AlgSize{Alg: a, Size: size})
	}
	next()
	vn, err := br.u8("vendorInfoSize")
	if err != nil {
		return fail(err)
	}
	next()
	vendor, err := br.take(int(vn), "vendorInfo")
	if err != nil {
		return fail(err)
	}
	s.VendorInfo = clone(vendor)
	if br.left() != 0 {
		next()
		return fail(fmt.Errorf("%w: %d bytes after vendorInfo inside the Spec ID event", ErrHeader, br.left()))
	}
	return nil
}

func parseEvent(r *reader, index int, banks []AlgSize) (Event, error) {
	start := r.off
	fieldOff := start
	fail := func(e error) (Event, error) {
		return Event{}, &ParseError{Index: index, EventOffset: start, Offset: fieldOff, Err: e}
	}
	e := Event{Index: index}
	hdr, err := r.take(event2Header, "event header")
	if err != nil {
		return fail(err)
	}
	le := binary.LittleEndian
	e.PCR, e.Type = le.Uint32(hdr[0:]), EventType(le.Uint32(hdr[4:]))
	count := le.Uint32(hdr[8:])
	if e.PCR >= NumPCRs {
		return fail(fmt.Errorf("%w: PCR index %d, want below %d", ErrInvalid, e.PCR, NumPCRs))
	}
	fieldOff = start + 8
	if count != uint32(len(banks)) {
		hint := ""
		if end := start + legacyHeader; end <= len(r.b) && uint64(le.Uint32(r.b[end-4:])) <= uint64(len(r.b)-end) {
			// The bytes also read as a legacy SHA-1 record: PCR, type, digest, size that fits.
			hint = "; if this is a legacy SHA-1 record, a crypto-agile log cannot hold one"
		}
		return fail(fmt.Errorf("%w: digest count %d, the header lists %d banks%s", ErrDigests, count, len(banks), hint))
	}
	e.Digests = make([]Digest, 0, count)
	for range count {
		fieldOff = r.off
		id, err := r.u16("digest algorithmId")
		if err != nil {
			return fail(err)
		}
		size, ok := bankSize(banks, Alg(id))
		if !ok {
			return fail(fmt.Errorf("%w: digest algorithm %v is not a bank of the header", ErrDigests, Alg(id)))
		}
		if e.Digest(Alg(id)) != nil {
			return fail(fmt.Errorf("%w: second %v digest", ErrDigests, Alg(id)))
		}
		sum, err := r.take(size, Alg(id).String()+" digest")
		if err != nil {
			return fail(err)
		}
		e.Digests = append(e.Digests, Digest{Alg: Alg(id), Sum: clone(sum)})
	}
	fieldOff = r.off
	data, err := r.sized("event data")
	if err != nil {
		return fail(err)
	}
	e.Data = clone(data)
	return e, nil
}

// parseLegacyEvent reads one TCG_PCClientPCREvent of a legacy SHA-1 log: PCR, type, SHA-1
// digest, size, data.
func parseLegacyEvent(r *reader, index int) (Event, error) {
	start := r.off
	fieldOff := start
	fail := func(e error) (Event, error) {
		return Event{}, &ParseError{Index: index, EventOffset: start, Offset: fieldOff, Err: e}
	}
	e := Event{Index: index}
	hdr, err := r.take(8, "event header")
	if err != nil {
		return fail(err)
	}
	le := binary.LittleEndian
	e.PCR, e.Type = le.Uint32(hdr[0:]), EventType(le.Uint32(hdr[4:]))
	if e.PCR >= NumPCRs {
		return fail(fmt.Errorf("%w: PCR index %d, want below %d", ErrInvalid, e.PCR, NumPCRs))
	}
	fieldOff = r.off
	sum, err := r.take(AlgSHA1.Size(), "SHA-1 digest")
	if err != nil {
		return fail(err)
	}
	e.Digests = []Digest{{Alg: AlgSHA1, Sum: clone(sum)}}
	fieldOff = r.off
	data, err := r.sized("event data")
	if err != nil {
		return fail(err)
	}
	if isSpecID03(e.Type, data) {
		fieldOff = start + legacyHeader
		if index == 1 {
			return fail(fmt.Errorf("%w: the first record, PCR %d with SHA-1 digest %x, is a \"Spec ID Event03\" header, which must be PCR 0 with a zero digest", ErrMixedFormats, e.PCR, sum))
		}
		return fail(fmt.Errorf("%w: a \"Spec ID Event03\" header after %d legacy records; a crypto-agile header can only open a log", ErrMixedFormats, index-1))
	}
	e.Data = clone(data)
	return e, nil
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// clone copies b; empty becomes nil, so parsed and built logs compare equal.
func clone(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return slices.Clone(b)
}

func (e Event) clone() Event {
	c := e
	c.Data = clone(e.Data)
	c.Digests = make([]Digest, len(e.Digests))
	for i, d := range e.Digests {
		c.Digests[i] = Digest{Alg: d.Alg, Sum: clone(d.Sum)}
	}
	return c
}
