package eventlog

import (
	"bytes"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func mustHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.Join(strings.Fields(s), ""))
	if err != nil {
		t.Fatalf("bad hex in test: %v", err)
	}
	return b
}

// buildLog returns a log with banks algs and a few typical events.
func buildLog(t testing.TB, algs ...Alg) *Log {
	t.Helper()
	l, err := New(algs)
	if err != nil {
		t.Fatalf("New(%v) = %v", algs, err)
	}
	for _, ev := range []struct {
		pcr  uint32
		typ  EventType
		data []byte
	}{
		{0, EvSCRTMVersion, []byte("measuredboot 1.0\x00")},
		{0, EvSeparator, []byte{0, 0, 0, 0}},
		{4, EvIPL, []byte("vmlinuz")},
		{5, EvNoAction, []byte("a note")},
		{8, EvIPL, []byte("console=ttyS0")},
		{9, EvIPL, nil},
		{9, EvEventTag, []byte{1, 0, 0, 0, 2, 0, 0, 0, 0xAA, 0xBB}},
	} {
		if _, err := l.Append(ev.pcr, ev.typ, ev.data); err != nil {
			t.Fatalf("Append(%d, %v, %q) = %v", ev.pcr, ev.typ, ev.data, err)
		}
	}
	return l
}

func marshal(t testing.TB, l *Log) []byte {
	t.Helper()
	b, err := l.Marshal()
	if err != nil {
		t.Fatalf("Marshal() = %v", err)
	}
	return b
}

func TestRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		name string
		algs []Alg
	}{
		{"1 bank", []Alg{AlgSHA256}},
		{"2 banks", []Alg{AlgSHA1, AlgSHA256}},
		{"4 banks", []Alg{AlgSHA1, AlgSHA256, AlgSHA384, AlgSHA512}},
		{"4 banks reordered", []Alg{AlgSHA512, AlgSHA1, AlgSHA384, AlgSHA256}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := buildLog(t, tc.algs...)
			if got := l.Banks(); !cmp.Equal(got, tc.algs) {
				t.Errorf("Banks() = %v, want %v", got, tc.algs)
			}
			b := marshal(t, l)
			got, err := Parse(b)
			if err != nil {
				t.Fatalf("Parse(Marshal()) = %v", err)
			}
			if diff := cmp.Diff(l, got); diff != "" {
				t.Errorf("Parse(Marshal()) differs (-want +got):\n%s", diff)
			}
			if b2 := marshal(t, got); !bytes.Equal(b, b2) {
				t.Errorf("Marshal(Parse(b)) = %x, want %x", b2, b)
			}
			for i, e := range got.Events {
				if e.Index != i+1 {
					t.Errorf("Events[%d].Index = %d, want %d", i, e.Index, i+1)
				}
				if len(e.Digests) != len(tc.algs) {
					t.Errorf("Events[%d] has %d digests, want %d", i, len(e.Digests), len(tc.algs))
				}
			}
		})
	}
}

func TestNewEmptyRoundTrip(t *testing.T) {
	l, err := New([]Alg{AlgSHA256})
	if err != nil {
		t.Fatal(err)
	}
	got, err := Parse(marshal(t, l))
	if err != nil {
		t.Fatalf("Parse(Marshal(empty log)) = %v", err)
	}
	if diff := cmp.Diff(l, got); diff != "" {
		t.Errorf("Parse(Marshal(empty log)) differs (-want +got):\n%s", diff)
	}
}

func TestNewErrors(t *testing.T) {
	for _, tc := range []struct {
		algs []Alg
		want error
	}{
		{nil, ErrHeader},
		{[]Alg{AlgSHA256, AlgSHA256}, ErrHeader},
		{[]Alg{AlgSHA256, Alg(0x99)}, ErrUnknownAlg},
	} {
		if _, err := New(tc.algs); !errors.Is(err, tc.want) {
			t.Errorf("New(%v) = %v, want %v", tc.algs, err, tc.want)
		}
	}
}

// goldenLog is a tiny log written out by hand from the spec layout: one SHA-256 bank, then
// EV_IPL "abc" in PCR 8 and EV_SEPARATOR in PCR 4. The digests are the well-known SHA-256
// test vector for "abc" and the digest of four zero bytes every firmware separator carries.
const goldenLog = `
	00000000 03000000                          # PCR 0, EV_NO_ACTION
	0000000000000000000000000000000000000000   # 20-byte SHA-1 digest, zero
	21000000                                   # event size 33
	53706563204944204576656e74303300           # "Spec ID Event03\0"
	00000000                                   # platformClass 0
	00 02 00 02                                # version 2.0 errata 0, uintnSize 2
	01000000                                   # numberOfAlgorithms 1
	0b00 2000                                  # SHA-256, 32 bytes
	00                                         # vendorInfoSize 0

	08000000 0d000000 01000000                 # PCR 8, EV_IPL, 1 digest
	0b00 ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad
	03000000 616263                            # size 3, "abc"

	04000000 04000000 01000000                 # PCR 4, EV_SEPARATOR, 1 digest
	0b00 df3f619804a92fdb4057192dc43dd748ea778adc52bc498ce80524c014b81119
	04000000 00000000                          # size 4, 00000000
`

func goldenBytes(t testing.TB) []byte {
	t.Helper()
	var s strings.Builder
	for _, line := range strings.Split(goldenLog, "\n") {
		line, _, _ = strings.Cut(line, "#")
		s.WriteString(line)
	}
	return mustHex(t, s.String())
}

func TestGolden(t *testing.T) {
	golden := goldenBytes(t)
	l, err := New([]Alg{AlgSHA256})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.Append(8, EvIPL, []byte("abc")); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Append(4, EvSeparator, []byte{0, 0, 0, 0}); err != nil {
		t.Fatal(err)
	}
	if got := marshal(t, l); !bytes.Equal(got, golden) {
		t.Errorf("Marshal() =\n%x\nwant\n%x", got, golden)
	}
	parsed, err := Parse(golden)
	if err != nil {
		t.Fatalf("Parse(golden) = %v", err)
	}
	if diff := cmp.Diff(l, parsed); diff != "" {
		t.Errorf("Parse(golden) differs (-want +got):\n%s", diff)
	}

	// Replay by hand: PCR = SHA-256(32 zero bytes || digest).
	extend := func(digest string) []byte {
		h := sha256.New()
		h.Write(make([]byte, 32))
		h.Write(mustHex(t, digest))
		return h.Sum(nil)
	}
	want := PCRs{AlgSHA256: {
		8: extend("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
		4: extend("df3f619804a92fdb4057192dc43dd748ea778adc52bc498ce80524c014b81119"),
	}}
	got, err := parsed.Replay()
	if err != nil {
		t.Fatalf("Replay() = %v", err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Replay() differs (-want +got):\n%s", diff)
	}
	if err := parsed.CheckDigests(nil); err != nil {
		t.Errorf("CheckDigests(nil) = %v, want nil", err)
	}
}

// Offsets in the 2-bank log of parseErrorBase, worked out from the layout:
// header 32 + Spec ID body 28 + 2*4 + 1 = 69 bytes; event 1 (digests 2+20 and 2+32, "abc")
// is 75 bytes; event 2 ("\x00\x00\x00\x00") is 76 bytes and its size field is at 212.
const (
	offAlgList   = 32 + 28
	offNumAlgs   = 32 + 24
	offVersion   = 32 + 20
	offEvent1    = 69
	offEvent2    = 144
	offEnd       = 220
	offSize2     = 212
	offDigest1_1 = offEvent1 + 12
)

func parseErrorBase(t testing.TB) []byte {
	t.Helper()
	l, err := New([]Alg{AlgSHA1, AlgSHA256})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.Append(4, EvIPL, []byte("abc")); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Append(4, EvSeparator, []byte{0, 0, 0, 0}); err != nil {
		t.Fatal(err)
	}
	b := marshal(t, l)
	if len(b) != offEnd {
		t.Fatalf("base log is %d bytes, the test's offsets assume %d", len(b), offEnd)
	}
	return b
}

func TestParseErrors(t *testing.T) {
	base := parseErrorBase(t)
	edit := func(f func(b []byte) []byte) []byte { return f(bytes.Clone(base)) }
	put32 := func(b []byte, off int, v uint32) []byte {
		b[off], b[off+1], b[off+2], b[off+3] = byte(v), byte(v>>8), byte(v>>16), byte(v>>24)
		return b
	}
	for _, tc := range []struct {
		name       string
		in         []byte
		want       error
		index, off int
	}{
		{"empty", nil, ErrTruncated, 0, 0},
		// 20 bytes cannot show the signature: read as the first record of a legacy log.
		{"truncated header", base[:20], ErrTruncated, 1, 8},
		{"truncated Spec ID body", base[:50], ErrTruncated, 0, 28},
		{"truncated algorithm list", edit(func(b []byte) []byte { return put32(b, 28, 30) })[:62], ErrTruncated, 0, offNumAlgs},
		// A Spec ID Event03 header that is not PCR 0 with a zero digest makes the input a legacy
		// log that opens with a crypto-agile header.
		{"header with a non-zero digest", edit(func(b []byte) []byte { b[27] = 1; return b }), ErrMixedFormats, 1, 32},
		{"header on PCR 1", edit(func(b []byte) []byte { return put32(b, 0, 1) }), ErrMixedFormats, 1, 32},
		// Legacy records after a crypto-agile header: the SHA-1 digest's first bytes are read as
		// the digest count.
		{"legacy record after the header", append(bytes.Clone(base[:offEvent1]), legacyRecord(4, EvIPL, []byte("abc"))...), ErrDigests, 1, offEvent1 + 8},
		{"spec version 1.2", edit(func(b []byte) []byte { b[offVersion] = 2; b[offVersion+1] = 1; return b }), ErrHeader, 0, offVersion},
		{"zero algorithms", edit(func(b []byte) []byte { return put32(b, offNumAlgs, 0) }), ErrHeader, 0, offNumAlgs},
		{"huge algorithm count", edit(func(b []byte) []byte { return put32(b, offNumAlgs, 0xFFFFFFFF) }), ErrTruncated, 0, offNumAlgs},
		{"unknown algorithm in header", edit(func(b []byte) []byte { b[offAlgList+4] = 0x99; return b }), ErrUnknownAlg, 0, offAlgList + 4},
		{"wrong digest size in header", edit(func(b []byte) []byte { b[offAlgList+6] = 33; return b }), ErrHeader, 0, offAlgList + 4},
		{"truncated event", base[:offEvent1+10], ErrTruncated, 1, offEvent1},
		{"truncated digest", base[:offDigest1_1+2+5], ErrTruncated, 1, offDigest1_1},
		{"truncated second event", base[:offEvent2+50], ErrTruncated, 2, offEvent2 + 12 + 22},
		{"digest count larger than banks", edit(func(b []byte) []byte { return put32(b, offEvent1+8, 3) }), ErrDigests, 1, offEvent1 + 8},
		{"digest count huge", edit(func(b []byte) []byte { return put32(b, offEvent1+8, 0xFFFFFFFF) }), ErrDigests, 1, offEvent1 + 8},
		{"digest of no bank", edit(func(b []byte) []byte { b[offDigest1_1] = byte(AlgSHA384); return b }), ErrDigests, 1, offDigest1_1},
		{"event size larger than input", edit(func(b []byte) []byte { return put32(b, offSize2, 0xFFFFFFFF) }), ErrTruncated, 2, offSize2},
		{"event size one too large", edit(func(b []byte) []byte { return put32(b, offSize2, 5) }), ErrTruncated, 2, offSize2},
		{"PCR out of range", edit(func(b []byte) []byte { return put32(b, offEvent2, 24) }), ErrInvalid, 2, offEvent2},
		{"non-zero byte after zero padding", append(append(bytes.Clone(base), make([]byte, 16)...), 1), ErrDigests, 3, offEnd + 8},
		{"trailing garbage", append(bytes.Clone(base), 1, 2, 3), ErrTruncated, 3, offEnd},
		// Only 0xFF is 0xFF padding, not every byte that is not valid UTF-8 (found by fuzzing).
		{"one 0xfd byte after the log", append(bytes.Clone(base), 0xFD), ErrTruncated, 3, offEnd},
		{"0x80 bytes after the log", append(bytes.Clone(base), 0x80, 0x80), ErrTruncated, 3, offEnd},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse(tc.in)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Parse(%x) = %v, want %v", tc.in, err, tc.want)
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

func TestParsePadding(t *testing.T) {
	base := parseErrorBase(t)
	want, err := Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		pad  []byte
	}{
		{"one zero", []byte{0}},
		{"zeros", make([]byte, 4096)},
		{"0xff", bytes.Repeat([]byte{0xFF}, 100)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := append(bytes.Clone(base), tc.pad...)
			got, err := Parse(in)
			if err != nil {
				t.Fatalf("Parse(log + %d padding bytes) = %v, want nil", len(tc.pad), err)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("Parse(log + padding) differs (-want +got):\n%s", diff)
			}
		})
	}
}

// extendBy returns H(prev || digest) for SHA-1 or SHA-256 by hand.
func extendBy(alg Alg, prev, digest []byte) []byte {
	if alg == AlgSHA1 {
		s := sha1.Sum(append(bytes.Clone(prev), digest...))
		return s[:]
	}
	s := sha256.Sum256(append(bytes.Clone(prev), digest...))
	return s[:]
}

func TestReplayStartupLocality(t *testing.T) {
	l, err := New([]Alg{AlgSHA1, AlgSHA256})
	if err != nil {
		t.Fatal(err)
	}
	ev, err := l.AppendStartupLocality(3)
	if err != nil {
		t.Fatalf("AppendStartupLocality(3) = %v", err)
	}
	wantData := []byte("StartupLocality\x00\x03")
	if ev.PCR != 0 || ev.Type != EvNoAction || !bytes.Equal(ev.Data, wantData) {
		t.Errorf("AppendStartupLocality(3) = %+v, want PCR 0 EV_NO_ACTION %q", ev, wantData)
	}
	for _, d := range ev.Digests {
		if !bytes.Equal(d.Sum, make([]byte, d.Alg.Size())) {
			t.Errorf("StartupLocality %v digest = %x, want zeros", d.Alg, d.Sum)
		}
	}

	// Locality only: PCR 0 is 00..03.
	got, err := l.Replay()
	if err != nil {
		t.Fatalf("Replay() = %v", err)
	}
	for _, alg := range []Alg{AlgSHA1, AlgSHA256} {
		want := make([]byte, alg.Size())
		want[len(want)-1] = 3
		if !bytes.Equal(got[alg][0], want) {
			t.Errorf("Replay()[%v][0] = %x, want %x", alg, got[alg][0], want)
		}
	}

	crtm, err := l.Append(0, EvSCRTMVersion, []byte("v1"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.Append(1, EvNoAction, []byte("StartupLocality\x00\x04")); err != nil { // not PCR 0: ignored
		t.Fatal(err)
	}
	parsed, err := Parse(marshal(t, l))
	if err != nil {
		t.Fatal(err)
	}
	pcrs, err := parsed.Replay()
	if err != nil {
		t.Fatalf("Replay() = %v", err)
	}
	for _, alg := range []Alg{AlgSHA1, AlgSHA256} {
		start := make([]byte, alg.Size())
		start[len(start)-1] = 3
		want := extendBy(alg, start, crtm.Digest(alg))
		if !bytes.Equal(pcrs[alg][0], want) {
			t.Errorf("Replay()[%v][0] = %x, want %x", alg, pcrs[alg][0], want)
		}
		if _, ok := pcrs[alg][1]; ok {
			t.Errorf("Replay()[%v] has PCR 1, which only an EV_NO_ACTION event names", alg)
		}
	}
}

func TestReplayStartupLocalityErrors(t *testing.T) {
	noAction := func(l *Log, pcr uint32, data string) {
		t.Helper()
		if _, err := l.Append(pcr, EvNoAction, []byte(data)); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name  string
		build func(l *Log)
	}{
		{"after PCR 0 extend", func(l *Log) {
			l.Append(0, EvPostCode, []byte("x"))
			noAction(l, 0, "StartupLocality\x00\x03")
		}},
		{"twice", func(l *Log) {
			noAction(l, 0, "StartupLocality\x00\x03")
			noAction(l, 0, "StartupLocality\x00\x03")
		}},
		{"locality 7", func(l *Log) { noAction(l, 0, "StartupLocality\x00\x07") }},
		{"too long", func(l *Log) { noAction(l, 0, "StartupLocality\x00\x03\x00") }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l, err := New([]Alg{AlgSHA256})
			if err != nil {
				t.Fatal(err)
			}
			tc.build(l)
			if _, err := l.Replay(); !errors.Is(err, ErrReplay) {
				t.Errorf("Replay() = %v, want %v", err, ErrReplay)
			}
		})
	}

	l := buildLog(t, AlgSHA256)
	if _, err := l.AppendStartupLocality(3); !errors.Is(err, ErrInvalid) {
		t.Errorf("AppendStartupLocality(3) after PCR 0 events = %v, want %v", err, ErrInvalid)
	}
	l, _ = New([]Alg{AlgSHA256})
	if _, err := l.AppendStartupLocality(5); !errors.Is(err, ErrInvalid) {
		t.Errorf("AppendStartupLocality(5) = %v, want %v", err, ErrInvalid)
	}
}

func TestVerify(t *testing.T) {
	l := buildLog(t, AlgSHA1, AlgSHA256)
	pcrs, err := l.Replay()
	if err != nil {
		t.Fatal(err)
	}
	// The PCRs the log touches, EV_NO_ACTION's PCR 5 not among them.
	for _, alg := range l.Banks() {
		var idx []uint32
		for pcr := range pcrs[alg] {
			idx = append(idx, pcr)
		}
		if len(idx) != 4 || pcrs[alg][5] != nil {
			t.Errorf("Replay()[%v] has PCRs %v, want 0, 4, 8, 9", alg, idx)
		}
	}

	tpm := PCRs{AlgSHA1: {}, AlgSHA256: {}}
	for alg, bank := range pcrs {
		for pcr, v := range bank {
			tpm[alg][pcr] = bytes.Clone(v)
		}
	}
	tpm[AlgSHA256][23] = make([]byte, 32) // a PCR the log does not touch: ignored
	if m, err := l.Verify(tpm); err != nil || len(m) != 0 {
		t.Errorf("Verify(replayed values) = %v, %v, want no mismatch", m, err)
	}

	tpm[AlgSHA256][8] = make([]byte, 32)
	m, err := l.Verify(tpm)
	if err != nil {
		t.Fatalf("Verify() = %v", err)
	}
	want := []Mismatch{{Alg: AlgSHA256, PCR: 8, Want: make([]byte, 32), Got: pcrs[AlgSHA256][8], LastEvent: 5}}
	if diff := cmp.Diff(want, m); diff != "" {
		t.Errorf("Verify() mismatches differ (-want +got):\n%s", diff)
	}

	// Only some PCRs given: only those are compared.
	if m, err := l.Verify(PCRs{AlgSHA1: {4: pcrs[AlgSHA1][4]}}); err != nil || len(m) != 0 {
		t.Errorf("Verify(one PCR) = %v, %v, want no mismatch", m, err)
	}
	if _, err := l.Verify(PCRs{}); !errors.Is(err, ErrNothingCompared) {
		t.Errorf("Verify(no values) = %v, want %v", err, ErrNothingCompared)
	}
	if _, err := l.Verify(PCRs{AlgSHA1: {4: make([]byte, 32)}}); !errors.Is(err, ErrInvalid) {
		t.Errorf("Verify(32-byte SHA-1 value) = %v, want %v", err, ErrInvalid)
	}
}

func TestCheckDigests(t *testing.T) {
	l := buildLog(t, AlgSHA1, AlgSHA256)
	if err := l.CheckDigests(nil); err != nil {
		t.Errorf("CheckDigests(nil) = %v, want nil", err)
	}
	firmware := []Digest{{AlgSHA1, make([]byte, 20)}, {AlgSHA256, bytes.Repeat([]byte{1}, 32)}}
	if _, err := l.AppendDigests(2, EvPostCode, firmware, []byte("option ROM")); err != nil {
		t.Fatal(err)
	}
	err := l.CheckDigests(nil)
	var de *DigestError
	if !errors.As(err, &de) || !errors.Is(err, ErrDigestMismatch) {
		t.Fatalf("CheckDigests(nil) = %v, want a *DigestError", err)
	}
	if de.Index != 8 || de.PCR != 2 || de.Alg != AlgSHA1 || !bytes.Equal(de.Got, make([]byte, 20)) {
		t.Errorf("CheckDigests(nil) = %+v, want event 8 PCR 2 sha1", de)
	}
	for _, s := range []string{"event 8", "PCR 2", "sha1"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("CheckDigests(nil) = %q, want it to name %q", err, s)
		}
	}
	skipPCR2 := func(e Event) bool { return e.PCR != 2 }
	if err := l.CheckDigests(skipPCR2); err != nil {
		t.Errorf("CheckDigests(skip PCR 2) = %v, want nil", err)
	}
}

func TestAppendErrors(t *testing.T) {
	l := buildLog(t, AlgSHA1, AlgSHA256)
	n := len(l.Events)
	d1, d256 := Digest{AlgSHA1, make([]byte, 20)}, Digest{AlgSHA256, make([]byte, 32)}
	for _, tc := range []struct {
		name    string
		pcr     uint32
		digests []Digest
		want    error
	}{
		{"missing bank", 4, []Digest{d256}, ErrDigests},
		{"extra bank", 4, []Digest{d1, d256, {AlgSHA384, make([]byte, 48)}}, ErrDigests},
		{"duplicate bank", 4, []Digest{d256, d256}, ErrDigests},
		{"short digest", 4, []Digest{d1, {AlgSHA256, make([]byte, 20)}}, ErrDigests},
		{"PCR 24", 24, []Digest{d1, d256}, ErrInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := l.AppendDigests(tc.pcr, EvIPL, tc.digests, nil); !errors.Is(err, tc.want) {
				t.Errorf("AppendDigests(%d, %v) = %v, want %v", tc.pcr, tc.digests, err, tc.want)
			}
		})
	}
	if len(l.Events) != n {
		t.Errorf("failed appends left %d events, want %d", len(l.Events), n)
	}
	// Digests in another order are stored in bank order.
	ev, err := l.AppendDigests(4, EvIPL, []Digest{d256, d1}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if ev.Digests[0].Alg != AlgSHA1 || ev.Index != n+1 {
		t.Errorf("AppendDigests(sha256, sha1) = %+v, want sha1 first and Index %d", ev, n+1)
	}
}

func TestSM3(t *testing.T) {
	l, err := New([]Alg{AlgSHA256, AlgSM3})
	if err != nil {
		t.Fatalf("New(sha256, sm3) = %v", err)
	}
	if _, err := l.Append(4, EvIPL, []byte("x")); !errors.Is(err, ErrUnsupportedHash) {
		t.Errorf("Append() with an SM3 bank = %v, want %v", err, ErrUnsupportedHash)
	}
	ds := []Digest{{AlgSHA256, make([]byte, 32)}, {AlgSM3, make([]byte, 32)}}
	if _, err := l.AppendDigests(4, EvIPL, ds, []byte("x")); err != nil {
		t.Errorf("AppendDigests() with an SM3 bank = %v", err)
	}
	got, err := Parse(marshal(t, l))
	if err != nil || !cmp.Equal(l, got) {
		t.Errorf("Parse(Marshal(SM3 log)) = %v, %v, want %v", got, err, l)
	}
	if _, err := l.Replay(); !errors.Is(err, ErrUnsupportedHash) {
		t.Errorf("Replay() with an SM3 bank = %v, want %v", err, ErrUnsupportedHash)
	}
}

func TestMarshalRejectsBadLog(t *testing.T) {
	l := buildLog(t, AlgSHA256)
	l.Events[2].Digests[0].Sum = l.Events[2].Digests[0].Sum[:20]
	if _, err := l.Marshal(); !errors.Is(err, ErrDigests) {
		t.Errorf("Marshal() of an event with a short digest = %v, want %v", err, ErrDigests)
	}
	l = buildLog(t, AlgSHA256)
	l.SpecID.Major = 1
	if _, err := l.Marshal(); !errors.Is(err, ErrHeader) {
		t.Errorf("Marshal() of spec version 1.0 = %v, want %v", err, ErrHeader)
	}
}

func TestAlg(t *testing.T) {
	for _, tc := range []struct {
		alg  Alg
		name string
		size int
		hash bool
	}{
		{AlgSHA1, "sha1", 20, true},
		{AlgSHA256, "sha256", 32, true},
		{AlgSHA384, "sha384", 48, true},
		{AlgSHA512, "sha512", 64, true},
		{AlgSM3, "sm3_256", 32, false},
		{Alg(0x99), "Alg(0x0099)", 0, false},
	} {
		if got := tc.alg.String(); got != tc.name {
			t.Errorf("Alg(%#x).String() = %q, want %q", uint16(tc.alg), got, tc.name)
		}
		if got := tc.alg.Size(); got != tc.size {
			t.Errorf("%v.Size() = %d, want %d", tc.alg, got, tc.size)
		}
		h, ok := tc.alg.Hash()
		if ok != tc.hash || ok && h.Size() != tc.size {
			t.Errorf("%v.Hash() = %v, %v, want a %d-byte hash: %v", tc.alg, h, ok, tc.size, tc.hash)
		}
		if a, ok := AlgFromName(tc.name); ok != (tc.size != 0) || ok && a != tc.alg {
			t.Errorf("AlgFromName(%q) = %v, %v, want %v", tc.name, a, ok, tc.alg)
		}
	}
	if got := EvIPL.String(); got != "EV_IPL" {
		t.Errorf("EvIPL.String() = %q, want EV_IPL", got)
	}
	if got := EventType(0x1234).String(); got != "EventType(0x00001234)" {
		t.Errorf("EventType(0x1234).String() = %q", got)
	}
}

func TestPCRsValues(t *testing.T) {
	p := PCRs{AlgSHA256: {9: bytes.Repeat([]byte{7}, 32)}}
	v := p.Values(AlgSHA256, 0, 9)
	if !bytes.Equal(v[0], make([]byte, 32)) || !bytes.Equal(v[9], p[AlgSHA256][9]) || len(v) != 2 {
		t.Fatalf("Values = %x, want zeros for 0 and the value for 9", v)
	}
	v[9][0] = 0
	if p[AlgSHA256][9][0] != 7 {
		t.Error("Values returned the map's own slice, not a copy")
	}
	if v := p.Values(AlgSHA1, 3); len(v[3]) != 20 {
		t.Errorf("Values(sha1, 3) = %x, want 20 zero bytes", v[3])
	}
}
