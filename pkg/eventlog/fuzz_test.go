package eventlog

import (
	"bytes"
	"reflect"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// FuzzParseEventLog checks that Parse never panics, that every log it accepts, crypto-agile or
// legacy SHA-1, marshals back to bytes that parse to the same log, and that replaying an accepted
// log does not panic.
func FuzzParseEventLog(f *testing.F) {
	// Seeds stay small (under 500 bytes): when a mutation finds new coverage the fuzzer minimizes
	// it with a quadratic search, and a multi-kilobyte input stalls fuzzing for the default 60 s.
	// The real SeaBIOS log is checked by TestSeaBIOSLog instead.
	seeds := [][]byte{goldenBytes(f), parseErrorBase(f), marshal(f, buildLog(f, AlgSHA256))}
	four, err := New([]Alg{AlgSHA1, AlgSHA256, AlgSHA384, AlgSHA512})
	if err != nil {
		f.Fatal(err)
	}
	if _, err := four.Append(4, EvIPL, []byte("k")); err != nil {
		f.Fatal(err)
	}
	if _, err := four.Append(5, EvNoAction, nil); err != nil {
		f.Fatal(err)
	}
	seeds = append(seeds, marshal(f, four))
	l, err := New([]Alg{AlgSHA1, AlgSHA256})
	if err != nil {
		f.Fatal(err)
	}
	if _, err := l.AppendStartupLocality(3); err != nil {
		f.Fatal(err)
	}
	if _, err := l.Append(0, EvSCRTMVersion, []byte("v")); err != nil {
		f.Fatal(err)
	}
	seeds = append(seeds, marshal(f, l))
	// Legacy SHA-1 logs: with a Spec ID Event00 record first, with a measured event first, and
	// with StartupLocality first; and a crypto-agile header inside a legacy log.
	seeds = append(seeds, legacyBase(f), marshal(f, buildLegacy(f)))
	legacy := NewLegacy()
	if _, err := legacy.AppendStartupLocality(3); err != nil {
		f.Fatal(err)
	}
	if _, err := legacy.Append(0, EvSCRTMVersion, []byte("v")); err != nil {
		f.Fatal(err)
	}
	seeds = append(seeds, marshal(f, legacy), slices.Concat(legacyBase(f)[:offRec3], goldenBytes(f)))
	for _, s := range seeds[:len(seeds):len(seeds)] {
		for _, n := range []int{0, 8, 31, 40, 60, len(s) / 2, len(s) - 1} {
			if n <= len(s) {
				seeds = append(seeds, s[:n])
			}
		}
		seeds = append(seeds, append(bytes.Clone(s), make([]byte, 32)...))
	}
	for _, s := range seeds {
		f.Add(s)
	}

	f.Fuzz(func(t *testing.T, b []byte) {
		l, err := Parse(b)
		if err != nil {
			if l != nil {
				t.Errorf("Parse(%x) = %v, %v, want nil log with the error", b, l, err)
			}
			return
		}
		out, err := l.Marshal()
		if err != nil {
			t.Fatalf("Parse(%x) accepted a log that Marshal() rejects: %v", b, err)
		}
		if len(out) > len(b) {
			t.Errorf("Marshal(Parse(%x)) is %d bytes, longer than its %d-byte input", b, len(out), len(b))
		}
		if !bytes.Equal(out, b[:len(out)]) {
			t.Errorf("Marshal(Parse(%x)) = %x, want a prefix of the input", b, out)
		}
		l2, err := Parse(out)
		if err != nil {
			t.Fatalf("Parse(Marshal(Parse(%x))) = %v", b, err)
		}
		// reflect.DeepEqual first: cmp.Diff costs milliseconds, which stalls the fuzzer's minimizer.
		if !reflect.DeepEqual(l, l2) {
			t.Errorf("Parse(Marshal(Parse(%x))) differs (-want +got):\n%s", b, cmp.Diff(l, l2))
		}
		l.Replay() // must not panic; an error is fine
		l.CheckDigests(nil)
	})
}
