package attest

import (
	"bytes"
	"maps"
	"testing"

	"google.golang.org/protobuf/proto"
)

// FuzzParse checks that Parse never panics on untrusted bytes, and that what it accepts
// re-encodes (Marshal) to bytes that parse to the same file and re-encode to themselves.
func FuzzParse(f *testing.F) {
	good, err := sample().Marshal()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add(good[:len(good)/2])
	f.Add(append(bytes.Clone(good), imaField(bytesField(1, "ima/a"), bytesField(2, "x"))...))
	f.Add(imaField(bytesField(1, "ima/a")))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		f1, err := Parse(b)
		if err != nil {
			return
		}
		b1, err := f1.Marshal()
		if err != nil {
			t.Fatalf("Marshal(Parse(%x)) = %v", b, err)
		}
		f2, err := Parse(b1)
		if err != nil {
			t.Fatalf("Parse(Marshal(Parse(%x))) = %v", b, err)
		}
		if !proto.Equal(f1.Attestation, f2.Attestation) || !maps.EqualFunc(f1.IMA, f2.IMA, bytes.Equal) {
			t.Fatalf("Parse(%x) and Parse(Marshal(it)) differ", b)
		}
		if b2, err := f2.Marshal(); err != nil || !bytes.Equal(b1, b2) {
			t.Fatalf("Marshal is not stable: %v", err)
		}
		_ = QuotedPCRs(f1)
	})
}
