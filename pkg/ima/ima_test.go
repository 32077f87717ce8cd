package ima

import (
	"bytes"
	"crypto"
	"encoding/binary"
	"encoding/hex"
	"testing"
)

// The vectors below were computed outside this package, with Python's hashlib over template data
// laid out by hand from the kernel's format (u32 little-endian length, then field bytes):
//
//	fd = sha256(b"measuredboot\n"); d = b"sha256:\0" + fd; n = b"/boot/vmlinuz\0"
//	td = pack("<I", len(d)) + d + pack("<I", len(n)) + n; hashlib.new(bank, td).hexdigest()
//
// and for ima-buf, buf = b"console=ttyS0 root=/dev/vda1", name b"kexec-cmdline\0", three fields.
const (
	vecFileSHA256 = "ee870d4c96be6ba39dc2aaf2f71868dff415d724aa2013fd1ac4d676cfa9dd64"
	vecNGSHA1     = "68a3b849d509f14faa7bd091b41556f5c07f72b3"
	vecNGSHA256   = "432bab46dda79c4a598c5ea6d4343513877f7eedbd480370f03658c94d99f610"
	vecNGSHA384   = "6d37607e0c51d66c415dbe104d9f185fa46a4a221685998c47ef99a4dbc61c972b646f0ecc5e1472b4aa99a86c9b0ca3"
	vecNGSHA512   = "1de2ace3624fac111653bd969dd81d7d233c9c5283ff57b9720df5a2f817edd5d9410d218668d21b686c3d6177546125cd546e3fde319102439408e4b27f71c3"
	vecBufSHA1    = "baeb2ecf811e9c38db38646a418dbde7b169412a"
	vecBufSHA256  = "981bf18cba5c1f150fbb858f286d6b53afea25964e8c74b8a32f05c4410ae1db"
	vecSigSHA1    = "991b62a8b86f1bd2da2d6a0d32b6a444cfe58e10"
)

func mustHex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestTemplateDigestVectors(t *testing.T) {
	sum := mustHex(t, vecFileSHA256)
	ng, err := NewNG(9, crypto.SHA256, sum, "/boot/vmlinuz")
	if err != nil {
		t.Fatal(err)
	}
	sig, err := NewSig(9, crypto.SHA256, sum, "/boot/vmlinuz", nil)
	if err != nil {
		t.Fatal(err)
	}
	buf, err := NewBuf(8, crypto.SHA256, []byte("console=ttyS0 root=/dev/vda1"), "kexec-cmdline")
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name string
		e    Entry
		h    crypto.Hash
		want string
	}{
		{"ima-ng/sha1", ng, crypto.SHA1, vecNGSHA1},
		{"ima-ng/sha256", ng, crypto.SHA256, vecNGSHA256},
		{"ima-ng/sha384", ng, crypto.SHA384, vecNGSHA384},
		{"ima-ng/sha512", ng, crypto.SHA512, vecNGSHA512},
		{"ima-buf/sha1", buf, crypto.SHA1, vecBufSHA1},
		{"ima-buf/sha256", buf, crypto.SHA256, vecBufSHA256},
		{"ima-sig-empty/sha1", sig, crypto.SHA1, vecSigSHA1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.e.TemplateDigest(tt.h)
			if err != nil {
				t.Fatal(err)
			}
			if hex.EncodeToString(got) != tt.want {
				t.Errorf("TemplateDigest(%v) = %x, want %s", tt.h, got, tt.want)
			}
		})
	}
}

func TestDigestNGLayout(t *testing.T) {
	sum := mustHex(t, vecFileSHA256)
	d, err := DigestNG(crypto.SHA256, sum)
	if err != nil {
		t.Fatal(err)
	}
	want := append([]byte{0x73, 0x68, 0x61, 0x32, 0x35, 0x36, 0x3a, 0x00}, sum...)
	if !bytes.Equal(d, want) {
		t.Errorf("DigestNG = %x, want %x", d, want)
	}
	if _, err := DigestNG(crypto.SHA256, sum[:31]); err == nil {
		t.Error("DigestNG with a 31-byte sha256 digest succeeded, want error")
	}
	if _, err := DigestNG(crypto.MD5, make([]byte, 16)); err == nil {
		t.Error("DigestNG(md5) succeeded, want error")
	}
}

func TestBinaryRecord(t *testing.T) {
	e, err := NewNG(9, crypto.SHA256, mustHex(t, vecFileSHA256), "/boot/vmlinuz")
	if err != nil {
		t.Fatal(err)
	}
	b, err := e.AppendBinary(nil, crypto.SHA1)
	if err != nil {
		t.Fatal(err)
	}
	td := e.TemplateData()
	if got, want := len(b), 4+20+4+len("ima-ng")+4+len(td); got != want {
		t.Fatalf("record length = %d, want %d", got, want)
	}
	if pcr := binary.LittleEndian.Uint32(b); pcr != 9 {
		t.Errorf("record PCR = %d, want 9", pcr)
	}
	if d := hex.EncodeToString(b[4:24]); d != vecNGSHA1 {
		t.Errorf("record digest = %s, want %s", d, vecNGSHA1)
	}
	if n := binary.LittleEndian.Uint32(b[24:]); n != 6 || string(b[28:34]) != "ima-ng" {
		t.Errorf("record template = %d %q, want 6 \"ima-ng\"", n, b[28:34])
	}
	if n := binary.LittleEndian.Uint32(b[34:]); int(n) != len(td) || !bytes.Equal(b[38:], td) {
		t.Errorf("record template data = %x, want %x", b[38:], td)
	}
}

func TestASCII(t *testing.T) {
	e, err := NewNG(9, crypto.SHA256, mustHex(t, vecFileSHA256), "/boot/vmlinuz")
	if err != nil {
		t.Fatal(err)
	}
	got, err := e.ASCII(crypto.SHA1)
	if err != nil {
		t.Fatal(err)
	}
	want := "9 " + vecNGSHA1 + " ima-ng sha256:" + vecFileSHA256 + " /boot/vmlinuz"
	if got != want {
		t.Errorf("ASCII() = %q, want %q", got, want)
	}
	buf, err := NewBuf(8, crypto.SHA256, []byte("ro"), "kexec-cmdline")
	if err != nil {
		t.Fatal(err)
	}
	got, err = buf.ASCII(crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	if want := " kexec-cmdline 726f"; len(got) < len(want) || got[len(got)-len(want):] != want {
		t.Errorf("ASCII() = %q, want suffix %q", got, want)
	}
}

func TestNewUnknownTemplate(t *testing.T) {
	if _, err := New("ima", 10, crypto.SHA256, make([]byte, 32), nil, "x", nil); err == nil {
		t.Error(`New("ima") succeeded, want error`)
	}
}

func TestParseTemplateData(t *testing.T) {
	buf, err := NewBuf(8, crypto.SHA256, []byte("ro quiet"), "kexec-cmdline")
	if err != nil {
		t.Fatal(err)
	}
	f, err := ParseTemplateData(buf.TemplateData())
	if err != nil {
		t.Fatal(err)
	}
	if len(f) != 3 || string(f[1]) != "kexec-cmdline\x00" || string(f[2]) != "ro quiet" {
		t.Errorf("ParseTemplateData = %q, want [d-ng, kexec-cmdline\\0, ro quiet]", f)
	}
	for _, bad := range [][]byte{{1}, {5, 0, 0, 0, 'a'}, {0xff, 0xff, 0xff, 0xff}} {
		if _, err := ParseTemplateData(bad); err == nil {
			t.Errorf("ParseTemplateData(%x) succeeded, want error", bad)
		}
	}
}

func FuzzParseTemplateData(f *testing.F) {
	e, _ := NewNG(9, crypto.SHA256, make([]byte, 32), "/boot/vmlinuz")
	f.Add(e.TemplateData())
	f.Add([]byte{})
	f.Add([]byte{4, 0, 0, 0, 1, 2})
	f.Fuzz(func(t *testing.T, b []byte) {
		fields, err := ParseTemplateData(b)
		if err != nil {
			return
		}
		if got := (Entry{Fields: fields}).TemplateData(); !bytes.Equal(got, b) {
			t.Errorf("re-encoding %x gave %x", b, got)
		}
	})
}

func TestNameNGSpaces(t *testing.T) {
	if got := string(NameNG("/boot/my kernel")); got != "/boot/my_kernel\x00" {
		t.Errorf("NameNG(%q) = %q, want %q", "/boot/my kernel", got, "/boot/my_kernel\x00")
	}
}
