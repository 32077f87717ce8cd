package imasig

import (
	"bytes"
	"crypto"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// FuzzParseSignature checks that Parse never panics, that it returns a *ParseError for every input
// it refuses, that every input it accepts round-trips through Marshal byte for byte, and that
// Verify on an accepted signature does not panic.
func FuzzParseSignature(f *testing.F) {
	seeds, err := filepath.Glob(filepath.Join("testdata", "sigs", "*.sig"))
	if err != nil || len(seeds) == 0 {
		f.Fatalf("no seeds in testdata/sigs: %v", err)
	}
	for _, p := range seeds {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte{TypeDigSig, Version2, 4, 0, 0, 0, 0, 0, 1, 0})
	f.Add([]byte{TypeDigSig, Version2, 17, 0, 0, 0, 0, 0, 0})
	keys := loadFixtureKeys(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := Parse(b)
		if err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) || pe.Offset < 0 || pe.Offset > len(b) {
				t.Fatalf("Parse(%x) = %v, want a *ParseError with an offset in 0..%d", b, err, len(b))
			}
			return
		}
		if got := s.Marshal(); !bytes.Equal(got, b) {
			t.Fatalf("Parse(%x).Marshal() = %x, want the input", b, got)
		}
		if _, err := Verify(s, make([]byte, s.HashAlgo.Size()), keys); err == nil {
			t.Fatalf("Verify(Parse(%x), zero digest) = nil, want an error", b)
		}
	})
}

// FuzzParseDigest checks that ParseDigest never panics and that what it accepts is consistent.
func FuzzParseDigest(f *testing.F) {
	f.Add([]byte{TypeDigestNG, 4})
	f.Add(append([]byte{TypeDigest}, make([]byte, 20)...))
	f.Add(append([]byte{TypeDigestNG, 6}, make([]byte, 64)...))
	f.Fuzz(func(t *testing.T, b []byte) {
		h, d, err := ParseDigest(b)
		if err == nil && (len(d) != h.Size() || !bytes.HasSuffix(b, d) || (h != crypto.SHA1 && b[0] == TypeDigest)) {
			t.Fatalf("ParseDigest(%x) = %v, %x, nil: inconsistent", b, h, d)
		}
	})
}

// FuzzParseCertificate checks that ParseCertificate never panics and returns only supported keys.
func FuzzParseCertificate(f *testing.F) {
	for _, k := range fixtureKeys {
		f.Add(readTestdata(f, "certs", k+".der"))
	}
	f.Add(readTestdata(f, "pem", "p256.pem"))
	f.Fuzz(func(t *testing.T, b []byte) {
		k, err := ParseCertificate("fuzz", b)
		if err != nil {
			return
		}
		if err := checkPublicKey(k.Public); err != nil {
			t.Fatalf("ParseCertificate(%x) = %+v with an unsupported key: %v", b, k, err)
		}
	})
}
