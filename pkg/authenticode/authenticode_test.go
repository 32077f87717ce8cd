package authenticode

import (
	"bytes"
	"crypto"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/binary"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	_ "crypto/sha256"
)

// signedDigest returns the Authenticode digest a signature in b's certificate table signed (the
// messageDigest of its SpcIndirectDataContent), read with encoding/asn1 from the PKCS#7 blob.
func signedDigest(t *testing.T, b []byte) []byte {
	t.Helper()
	pe := int(binary.LittleEndian.Uint32(b[0x3c:]))
	opt := pe + 24
	dd := opt + 112 // PE32+
	if binary.LittleEndian.Uint16(b[opt:]) == 0x10b {
		dd = opt + 96
	}
	off := binary.LittleEndian.Uint32(b[dd+32:])
	size := binary.LittleEndian.Uint32(b[dd+36:])
	if size < 8 || int(off)+int(size) > len(b) {
		t.Fatalf("no certificate table (offset %d, %d bytes)", off, size)
	}
	der := b[off+8 : off+size] // after WIN_CERTIFICATE's length, revision and type
	var ci struct {
		Type    asn1.ObjectIdentifier
		Content asn1.RawValue `asn1:"explicit,tag:0"`
	}
	if _, err := asn1.Unmarshal(der, &ci); err != nil {
		t.Fatalf("PKCS#7 ContentInfo: %v", err)
	}
	var sd struct {
		Version     int
		DigestAlgs  asn1.RawValue
		ContentInfo struct {
			Type    asn1.ObjectIdentifier
			Content asn1.RawValue `asn1:"explicit,tag:0"`
		}
		Certificates asn1.RawValue `asn1:"optional,tag:0"`
		CRLs         asn1.RawValue `asn1:"optional,tag:1"`
		SignerInfos  asn1.RawValue
	}
	if _, err := asn1.Unmarshal(ci.Content.Bytes, &sd); err != nil {
		t.Fatalf("PKCS#7 SignedData: %v", err)
	}
	var spc struct {
		Data   asn1.RawValue
		Digest struct {
			Alg    pkix.AlgorithmIdentifier
			Digest []byte
		}
	}
	if _, err := asn1.Unmarshal(sd.ContentInfo.Content.Bytes, &spc); err != nil {
		t.Fatalf("SpcIndirectDataContent: %v", err)
	}
	return spc.Digest.Digest
}

// TestDebianKernel hashes the Debian kernel in /boot, which Debian signed for Secure Boot: our
// digest must be the one Debian's signature signs; with the signature removed (sbattach), the
// same; signed again with another key (sbsign), the one the new signature signs.
func TestDebianKernel(t *testing.T) {
	kernels, _ := filepath.Glob("/boot/vmlinuz-*")
	if len(kernels) == 0 {
		t.Fatal("no /boot/vmlinuz-*: scripts/deps.sh installs linux-image-cloud-amd64")
	}
	b, err := os.ReadFile(kernels[len(kernels)-1])
	if err != nil {
		t.Fatal(err)
	}
	want := signedDigest(t, b)
	got, err := Digest(b, crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("Digest(%s) = %x, its signature signs %x", kernels[len(kernels)-1], got, want)
	}
	for _, tool := range []string{"sbattach", "sbsign", "openssl"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is not on PATH (Debian: sbsigntool, openssl; scripts/deps.sh installs them)", tool)
		}
	}
	dir := t.TempDir()
	unsigned := filepath.Join(dir, "vmlinuz")
	if err := os.WriteFile(unsigned, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("sbattach", "--remove", unsigned).CombinedOutput(); err != nil {
		t.Fatalf("sbattach --remove: %v\n%s", err, out)
	}
	ub, _ := os.ReadFile(unsigned)
	if got, err := Digest(ub, crypto.SHA256); err != nil || !bytes.Equal(got, want) {
		t.Errorf("Digest(unsigned) = %x, %v; want the signed image's %x", got, err, want)
	}
	key, cert := filepath.Join(dir, "key.pem"), filepath.Join(dir, "cert.pem")
	if out, err := exec.Command("openssl", "req", "-new", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=test",
		"-keyout", key, "-out", cert, "-days", "1").CombinedOutput(); err != nil {
		t.Fatalf("openssl req: %v\n%s", err, out)
	}
	signed := filepath.Join(dir, "vmlinuz.signed")
	if out, err := exec.Command("sbsign", "--key", key, "--cert", cert, "--output", signed, unsigned).CombinedOutput(); err != nil {
		t.Fatalf("sbsign: %v\n%s", err, out)
	}
	sb, _ := os.ReadFile(signed)
	if got, err := Digest(sb, crypto.SHA256); err != nil || !bytes.Equal(got, signedDigest(t, sb)) || !bytes.Equal(got, want) {
		t.Errorf("Digest(re-signed) = %x, %v; its signature signs %x, Debian's %x", got, err, signedDigest(t, sb), want)
	}
}

// TestMalformed: what is not a PE image, or is cut, is ErrFormat, never a panic.
func TestMalformed(t *testing.T) {
	kernels, _ := filepath.Glob("/boot/vmlinuz-*")
	if len(kernels) == 0 {
		t.Fatal("no /boot/vmlinuz-*")
	}
	b, err := os.ReadFile(kernels[len(kernels)-1])
	if err != nil {
		t.Fatal(err)
	}
	pe := int(binary.LittleEndian.Uint32(b[0x3c:]))
	for name, in := range map[string][]byte{
		"empty":           nil,
		"no MZ":           append([]byte("ZM"), b[2:]...),
		"cut in headers":  b[:pe+30],
		"cut in sections": b[:len(b)/2],
		"bad lfanew": func() []byte {
			c := bytes.Clone(b[:4096])
			binary.LittleEndian.PutUint32(c[0x3c:], 1<<30)
			return c
		}(),
	} {
		if _, err := Digest(in, crypto.SHA256); !errors.Is(err, ErrFormat) {
			t.Errorf("Digest(%s) = %v, want ErrFormat", name, err)
		}
	}
}

// FuzzRanges: no panic, every range within the input, and ranges do not overlap the CheckSum.
func FuzzRanges(f *testing.F) {
	kernels, _ := filepath.Glob("/boot/vmlinuz-*")
	if len(kernels) > 0 {
		if b, err := os.ReadFile(kernels[len(kernels)-1]); err == nil && len(b) > 4096 {
			f.Add(b[:4096]) // headers and the start of the sections: small enough to mutate
		}
	}
	f.Add([]byte("MZ"))
	f.Fuzz(func(t *testing.T, b []byte) {
		rs, err := Ranges(b)
		if err != nil {
			if !errors.Is(err, ErrFormat) {
				t.Fatalf("Ranges = %v, want ErrFormat", err)
			}
			return
		}
		for _, r := range rs {
			if r[0] < 0 || r[0] > r[1] || r[1] > len(b) {
				t.Fatalf("range %v outside the input (%d bytes)", r, len(b))
			}
		}
	})
}
