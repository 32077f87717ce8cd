package eventlog

import (
	"bytes"
	"crypto/sha1"
	"encoding/binary"
	"errors"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// legacyRecord writes one TCG_PCClientPCREvent by hand, independently of Marshal: PCR, type,
// SHA-1 of data (zeros for EV_NO_ACTION), size, data.
func legacyRecord(pcr uint32, typ EventType, data []byte) []byte {
	le := binary.LittleEndian
	b := le.AppendUint32(nil, pcr)
	b = le.AppendUint32(b, uint32(typ))
	if typ == EvNoAction {
		b = append(b, make([]byte, 20)...)
	} else {
		sum := sha1.Sum(data)
		b = append(b, sum[:]...)
	}
	b = le.AppendUint32(b, uint32(len(data)))
	return append(b, data...)
}

// specID00 is the body of a TPM 1.2 log's first record, shaped as TCG_PCClientSpecIdEventStruct:
// signature, platformClass, spec version 1.2, errata, reserved, no vendor info.
var specID00 = append([]byte("Spec ID Event00\x00"), 0, 0, 0, 0, 2, 1, 0, 0, 0)

// Offsets in legacyBase.
const (
	offRec2      = 32 + 25 // after the Spec ID Event00 record
	offRec3      = offRec2 + 32 + 1
	offSize3     = offRec3 + 28
	offLegacyEnd = offRec3 + 32 + 4
)

// legacyBase returns a legacy log of three records: Spec ID Event00, EV_S_CRTM_VERSION "v" on
// PCR 0, EV_SEPARATOR on PCR 4.
func legacyBase(t testing.TB) []byte {
	t.Helper()
	b := slices.Concat(
		legacyRecord(0, EvNoAction, specID00),
		legacyRecord(0, EvSCRTMVersion, []byte("v")),
		legacyRecord(4, EvSeparator, []byte{0, 0, 0, 0}),
	)
	if len(b) != offLegacyEnd {
		t.Fatalf("legacy base log is %d bytes, the test's offsets assume %d", len(b), offLegacyEnd)
	}
	return b
}

// buildLegacy returns a legacy log built with Append, without a Spec ID Event00 record.
func buildLegacy(t testing.TB) *Log {
	t.Helper()
	l := NewLegacy()
	for _, ev := range []struct {
		pcr  uint32
		typ  EventType
		data []byte
	}{
		{0, EvSCRTMVersion, []byte("measuredboot 1.0\x00")},
		{4, EvIPL, []byte("vmlinuz")},
		{5, EvNoAction, []byte("a note")},
		{9, EvIPL, nil},
		{0, EvSeparator, []byte{0, 0, 0, 0}},
	} {
		if _, err := l.Append(ev.pcr, ev.typ, ev.data); err != nil {
			t.Fatalf("Append(%d, %v, %q) to a legacy log = %v", ev.pcr, ev.typ, ev.data, err)
		}
	}
	return l
}

// TestParseLegacy parses a hand-written legacy log and checks every field, the byte-for-byte
// Marshal and the replay against extends computed by hand.
func TestParseLegacy(t *testing.T) {
	b := legacyBase(t)
	l, err := Parse(b)
	if err != nil {
		t.Fatalf("Parse(legacy log) = %v", err)
	}
	sha1Of := func(d []byte) []byte { s := sha1.Sum(d); return s[:] }
	want := &Log{
		Legacy: true,
		SpecID: SpecID{Algs: []AlgSize{{AlgSHA1, 20}}},
		Events: []Event{
			{Index: 1, PCR: 0, Type: EvNoAction, Digests: []Digest{{AlgSHA1, make([]byte, 20)}}, Data: specID00},
			{Index: 2, PCR: 0, Type: EvSCRTMVersion, Digests: []Digest{{AlgSHA1, sha1Of([]byte("v"))}}, Data: []byte("v")},
			{Index: 3, PCR: 4, Type: EvSeparator, Digests: []Digest{{AlgSHA1, sha1Of([]byte{0, 0, 0, 0})}}, Data: []byte{0, 0, 0, 0}},
		},
	}
	if diff := cmp.Diff(want, l); diff != "" {
		t.Errorf("Parse(legacy log) differs (-want +got):\n%s", diff)
	}
	if got := l.Banks(); !slices.Equal(got, []Alg{AlgSHA1}) {
		t.Errorf("Banks() of a legacy log = %v, want [sha1]", got)
	}
	if out := marshal(t, l); !bytes.Equal(out, b) {
		t.Errorf("Marshal(Parse(b)) = %x, want %x", out, b)
	}
	if err := l.CheckDigests(nil); err != nil {
		t.Errorf("CheckDigests(nil) = %v, want nil", err)
	}
	pcrs, err := l.Replay()
	if err != nil {
		t.Fatal(err)
	}
	zero := make([]byte, 20)
	wantPCRs := PCRs{AlgSHA1: {
		0: extendBy(AlgSHA1, zero, sha1Of([]byte("v"))), // the Spec ID Event00 record extends nothing
		4: extendBy(AlgSHA1, zero, sha1Of([]byte{0, 0, 0, 0})),
	}}
	if diff := cmp.Diff(wantPCRs, pcrs); diff != "" {
		t.Errorf("Replay() differs (-want +got):\n%s", diff)
	}
	if m, err := l.Verify(wantPCRs); err != nil || len(m) != 0 {
		t.Errorf("Verify(replayed values) = %v, %v, want no mismatch", m, err)
	}
}

func TestLegacyRoundTrip(t *testing.T) {
	l := buildLegacy(t)
	b := marshal(t, l)
	for _, pad := range [][]byte{nil, {0}, make([]byte, 4096), bytes.Repeat([]byte{0xFF}, 100)} {
		got, err := Parse(append(bytes.Clone(b), pad...))
		if err != nil {
			t.Fatalf("Parse(Marshal(legacy log) + %d padding bytes) = %v", len(pad), err)
		}
		if diff := cmp.Diff(l, got); diff != "" {
			t.Errorf("Parse(Marshal(legacy log) + %d padding bytes) differs (-want +got):\n%s", len(pad), diff)
		}
		if b2 := marshal(t, got); !bytes.Equal(b, b2) {
			t.Errorf("Marshal(Parse(b)) = %x, want %x", b2, b)
		}
		for i, e := range got.Events {
			if e.Index != i+1 {
				t.Errorf("Events[%d].Index = %d, want %d", i, e.Index, i+1)
			}
		}
	}
	// The bytes are those a TPM 1.2 firmware writes: each record as legacyRecord writes it.
	want := slices.Concat(
		legacyRecord(0, EvSCRTMVersion, []byte("measuredboot 1.0\x00")),
		legacyRecord(4, EvIPL, []byte("vmlinuz")),
		legacyRecord(5, EvNoAction, []byte("a note")),
		legacyRecord(9, EvIPL, nil),
		legacyRecord(0, EvSeparator, []byte{0, 0, 0, 0}),
	)
	if !bytes.Equal(b, want) {
		t.Errorf("Marshal(legacy log) = %x, want %x", b, want)
	}
}

// TestLegacyZeroRecord: a record of 32 zero bytes before other records is an event, not padding.
func TestLegacyZeroRecord(t *testing.T) {
	in := slices.Concat(legacyBase(t)[:offRec3], make([]byte, 32), legacyBase(t)[offRec3:])
	l, err := Parse(in)
	if err != nil {
		t.Fatalf("Parse(log with a zero record before its last) = %v", err)
	}
	if len(l.Events) != 4 || l.Events[2].Type != 0 || l.Events[2].Data != nil {
		t.Errorf("Parse(log with a zero record before its last) = %+v, want the zero record as event 3", l.Events)
	}
	if out := marshal(t, l); !bytes.Equal(out, in) {
		t.Errorf("Marshal(Parse(b)) = %x, want %x", out, in)
	}
}

// TestLegacyStartupLocality: a SHA-1 format log may open with StartupLocality, as go-eventlog's
// short_no_action_eventlog does; Replay honours it as in a crypto-agile log.
func TestLegacyStartupLocality(t *testing.T) {
	l := NewLegacy()
	if _, err := l.AppendStartupLocality(3); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Append(0, EvSCRTMVersion, []byte("v")); err != nil {
		t.Fatal(err)
	}
	got, err := Parse(marshal(t, l))
	if err != nil || !got.Legacy {
		t.Fatalf("Parse(Marshal(legacy log with StartupLocality)) = %+v, %v, want a legacy log", got, err)
	}
	pcrs, err := got.Replay()
	if err != nil {
		t.Fatal(err)
	}
	start := make([]byte, 20)
	start[19] = 3
	sum := sha1.Sum([]byte("v"))
	if want := extendBy(AlgSHA1, start, sum[:]); !bytes.Equal(pcrs[AlgSHA1][0], want) {
		t.Errorf("Replay() PCR 0 = %x, want %x", pcrs[AlgSHA1][0], want)
	}
}

func TestParseLegacyErrors(t *testing.T) {
	base := legacyBase(t)
	edit := func(f func(b []byte) []byte) []byte { return f(bytes.Clone(base)) }
	put32 := func(b []byte, off int, v uint32) []byte {
		binary.LittleEndian.PutUint32(b[off:], v)
		return b
	}
	for _, tc := range []struct {
		name       string
		in         []byte
		want       error
		index, off int
	}{
		{"only zero padding", make([]byte, 64), ErrTruncated, 0, 0},
		{"only 0xff padding", bytes.Repeat([]byte{0xFF}, 64), ErrTruncated, 0, 0},
		{"truncated record header", base[:5], ErrTruncated, 1, 0},
		{"truncated digest", base[:20], ErrTruncated, 1, 8},
		{"truncated size", base[:30], ErrTruncated, 1, 28},
		{"truncated data", base[:40], ErrTruncated, 1, 28},
		{"truncated third record", base[:offRec3+31], ErrTruncated, 3, offSize3},
		{"size larger than input", edit(func(b []byte) []byte { return put32(b, offSize3, 0xFFFFFFFF) }), ErrTruncated, 3, offSize3},
		{"size one too large", edit(func(b []byte) []byte { return put32(b, offSize3, 5) }), ErrTruncated, 3, offSize3},
		{"PCR out of range", edit(func(b []byte) []byte { return put32(b, offRec2, NumPCRs) }), ErrInvalid, 2, offRec2},
		{"PCR 0xffffffff", edit(func(b []byte) []byte { return put32(b, offRec3, 0xFFFFFFFF) }), ErrInvalid, 3, offRec3},
		{"trailing garbage", append(bytes.Clone(base), 1, 2, 3), ErrTruncated, 4, offLegacyEnd},
		// The fuzzer's input testdata/fuzz/FuzzParseEventLog/4ba009475316783b.
		{"0xfd after a zero record", append(make([]byte, 32), 0xFD), ErrTruncated, 2, 32},
		// A last record of 32 zero bytes that 0xFF padding follows: Marshal would write it last,
		// where it reads as zero padding.
		{"zero record before 0xff padding", slices.Concat(base, make([]byte, 32), bytes.Repeat([]byte{0xFF}, 8)), ErrInvalid, 4, offLegacyEnd},
		// Zeros before a non-zero byte are not padding: 32 of them are a record (PCR 0,
		// EV_PREBOOT_CERT, zero digest, no data), and the next one is cut short.
		{"non-zero byte after zeros", append(append(bytes.Clone(base), make([]byte, 40)...), 1), ErrTruncated, 5, offLegacyEnd + 32 + 8},
		// A crypto-agile header later in a legacy log.
		{"Spec ID Event03 as third record", slices.Concat(base[:offRec3], goldenBytes(t)), ErrMixedFormats, 3, offRec3 + 32},
		{"Spec ID Event03 on PCR 0 with a non-zero digest", slices.Concat(
			func() []byte { b := legacyRecord(0, EvNoAction, []byte(specIDSignature)); b[8] = 1; return b }(), base),
			ErrMixedFormats, 1, 32},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l, err := Parse(tc.in)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Parse(%x) = %v, want %v", tc.in, err, tc.want)
			}
			if l != nil {
				t.Errorf("Parse(%x) returned a log with its error", tc.in)
			}
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("Parse(%x) = %T, want *ParseError", tc.in, err)
			}
			if pe.Index != tc.index || pe.Offset != tc.off {
				t.Errorf("Parse(%x) = %v: event %d offset %d, want event %d offset %d", tc.in, err, pe.Index, pe.Offset, tc.index, tc.off)
			}
			for _, s := range []string{"event " + strconv.Itoa(tc.index), "byte offset " + strconv.Itoa(tc.off)} {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("Parse(%x) = %q, want it to contain %q", tc.in, err, s)
				}
			}
		})
	}
}

// TestCryptoAgileHeaderThenLegacy: legacy records after a crypto-agile header cannot be told
// from broken TCG_PCR_EVENT2 events, but the error says what they may be.
func TestCryptoAgileHeaderThenLegacy(t *testing.T) {
	l, err := New([]Alg{AlgSHA256})
	if err != nil {
		t.Fatal(err)
	}
	in := append(marshal(t, l), legacyBase(t)[offRec2:]...)
	_, err = Parse(in)
	var pe *ParseError
	if !errors.Is(err, ErrDigests) || !errors.As(err, &pe) || pe.Index != 1 || !strings.Contains(err.Error(), "legacy SHA-1 record") {
		t.Errorf("Parse(crypto-agile header + legacy records) = %v, want an ErrDigests *ParseError at event 1 that names a legacy SHA-1 record", err)
	}
}

func TestLegacyMarshalRejects(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(l *Log)
		want error
	}{
		{"no event", func(l *Log) { l.Events = nil }, ErrInvalid},
		{"Spec ID Event03 event", func(l *Log) {
			l.Events[2].Data = append([]byte(specIDSignature), 0, 0, 0, 0)
		}, ErrMixedFormats},
		{"Spec ID Event03 first event", func(l *Log) {
			l.Events[0].Type, l.Events[0].Data = EvNoAction, []byte(specIDSignature)
		}, ErrMixedFormats},
		{"sha256 bank", func(l *Log) { l.SpecID.Algs = []AlgSize{{AlgSHA256, 32}} }, ErrHeader},
		{"two banks", func(l *Log) { l.SpecID.Algs = append(l.SpecID.Algs, AlgSize{AlgSHA256, 32}) }, ErrHeader},
		{"vendor info", func(l *Log) { l.SpecID.VendorInfo = []byte{1} }, ErrHeader},
		{"spec version", func(l *Log) { l.SpecID.Major = 2 }, ErrHeader},
		{"second digest", func(l *Log) {
			l.Events[1].Digests = append(l.Events[1].Digests, Digest{AlgSHA256, make([]byte, 32)})
		}, ErrDigests},
		{"short digest", func(l *Log) { l.Events[1].Digests[0].Sum = make([]byte, 19) }, ErrDigests},
		{"PCR 24", func(l *Log) { l.Events[1].PCR = NumPCRs }, ErrInvalid},
		{"last event 32 zero bytes", func(l *Log) {
			l.Events = append(l.Events, Event{Index: len(l.Events) + 1, Digests: []Digest{{AlgSHA1, make([]byte, 20)}}})
		}, ErrInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := buildLegacy(t)
			tc.edit(l)
			if b, err := l.Marshal(); !errors.Is(err, tc.want) {
				t.Errorf("Marshal() = %x, %v, want %v", b, err, tc.want)
			}
		})
	}
}

func TestLegacyAppendErrors(t *testing.T) {
	l := NewLegacy()
	if _, err := l.Append(0, EvNoAction, append([]byte(specIDSignature), 1)); !errors.Is(err, ErrMixedFormats) {
		t.Errorf("Append(0, EV_NO_ACTION, Spec ID Event03) to a legacy log = %v, want %v", err, ErrMixedFormats)
	}
	if _, err := l.AppendDigests(4, EvIPL, []Digest{{AlgSHA256, make([]byte, 32)}}, nil); !errors.Is(err, ErrDigests) {
		t.Errorf("AppendDigests(sha256 digest) to a legacy log = %v, want %v", err, ErrDigests)
	}
	if len(l.Events) != 0 {
		t.Errorf("failed appends left %d events", len(l.Events))
	}
	// In a crypto-agile log, the same data is only an event's data.
	c, err := New([]Alg{AlgSHA1})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Append(0, EvNoAction, append([]byte(specIDSignature), 1)); err != nil {
		t.Errorf("Append(0, EV_NO_ACTION, Spec ID Event03) to a crypto-agile log = %v, want nil", err)
	}
}
