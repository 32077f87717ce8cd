package ima

import (
	"bytes"
	"crypto"
	"crypto/sha256"
	"strings"
	"testing"
	"unicode/utf8"
)

// hostileName is a file name a GRUB configuration can produce with %0A, %1B and %0D.
const hostileName = "/boot/vmlinuz\nfake 10 0000 ima-ng sha256:00 /boot/ok\x1b[2J\rx"

// TestASCIIEscapesControlBytes: the ASCII list line of an entry whose name holds a newline, an
// escape sequence and a carriage return is one line without control bytes, and reads back to
// the exact template data; the binary record keeps the exact name.
func TestASCIIEscapesControlBytes(t *testing.T) {
	sum := sha256.Sum256([]byte("k"))
	e, err := NewNG(9, crypto.SHA256, sum[:], hostileName)
	if err != nil {
		t.Fatal(err)
	}
	line, err := e.ASCII(crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	for i, c := range []byte(line) {
		if c < 0x20 || c == 0x7f {
			t.Fatalf("ASCII() = %q: control byte 0x%02x at %d", line, c, i)
		}
	}
	if want := `/boot/vmlinuz\012fake_10_0000_ima-ng_sha256:00_/boot/ok\033[2J\015x`; !strings.HasSuffix(line, " "+want) {
		t.Errorf("ASCII() = %q, want the name written as %q", line, want)
	}
	list, err := ParseASCIIList([]byte(line + "\n"))
	if err != nil || len(list) != 1 {
		t.Fatalf("ParseASCIIList(%q) = %v, %v; want one entry", line, list, err)
	}
	back, err := list[0].Entry()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(back.TemplateData(), e.TemplateData()) {
		t.Errorf("the line reads back to template data %q, want %q", back.TemplateData(), e.TemplateData())
	}
	if err := list[0].CheckDigest(crypto.SHA256); err != nil {
		t.Errorf("CheckDigest of the escaped line = %v", err)
	}
	bin, err := e.AppendBinary(nil, crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	bl, err := ParseBinaryList(bin, 32)
	if err != nil || len(bl) != 1 || bl[0].Name() != strings.ReplaceAll(hostileName, " ", "_") {
		t.Errorf("binary list = %v, %v; want the exact name %q", bl, err, hostileName)
	}
}

func TestEscapeString(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"/boot/vmlinuz-6.1", "/boot/vmlinuz-6.1"},
		{"a\nb", `a\012b`},
		{"\x1b[2J", `\033[2J`},
		{"\r", `\015`},
		{`C:\x`, `C:\134x`},
		{"del\x7f", `del\177`},
		{"csi\u009b", `csi\302\233`},
		{"bad\xffutf8", `bad\377utf8`},
		{"grün ✓", "grün ✓"},
	} {
		if got := EscapeString(tt.in); got != tt.want {
			t.Errorf("EscapeString(%q) = %q, want %q", tt.in, got, tt.want)
		}
		if got := UnescapeString(tt.want); got != tt.in {
			t.Errorf("UnescapeString(%q) = %q, want %q", tt.want, got, tt.in)
		}
	}
	// A backslash without three octal digits is kept, as a raw kernel list may hold one.
	for _, s := range []string{`a\`, `a\1`, `a\12`, `a\9xx`, `a\400`} {
		if got := UnescapeString(s); got != s {
			t.Errorf("UnescapeString(%q) = %q, want it unchanged", s, got)
		}
	}
}

func FuzzEscapeString(f *testing.F) {
	f.Add(hostileName)
	f.Add(`\134\\\0`)
	f.Add("\xc2\x9b\xff\xfe")
	f.Fuzz(func(t *testing.T, s string) {
		e := EscapeString(s)
		if UnescapeString(e) != s {
			t.Errorf("UnescapeString(EscapeString(%q)) = %q", s, UnescapeString(e))
		}
		if !utf8.ValidString(e) {
			t.Errorf("EscapeString(%q) = %q is not valid UTF-8", s, e)
		}
		for _, r := range e {
			if r < 0x20 || r == 0x7f || (r >= 0x80 && r <= 0x9f) {
				t.Errorf("EscapeString(%q) = %q holds control %U", s, e, r)
			}
		}
	})
}

// TestParseASCIINames: a name reads back raw (as the kernel prints it) or escaped (as this
// project writes it); an escaping of bytes that need none is not as either prints it.
func TestParseASCIINames(t *testing.T) {
	sum := sha256.Sum256([]byte("k"))
	for _, tt := range []struct {
		field, name string
		ok          bool
	}{
		{`/boot/a\012b`, "/boot/a\nb", true},
		{"/boot/caf\xe9", "/boot/caf\xe9", true},
		{`/boot/caf\351`, "/boot/caf\xe9", true},
		{`/boot/C:\x`, `/boot/C:\x`, true},
		{`/boot/\101`, "/boot/A", false},
	} {
		e, err := NewNG(9, crypto.SHA256, sum[:], tt.name)
		if err != nil {
			t.Fatal(err)
		}
		line, _ := e.ASCII(crypto.SHA256)
		line = line[:strings.LastIndexByte(line, ' ')+1] + tt.field
		list, err := ParseASCIIList([]byte(line))
		if (err == nil) != tt.ok {
			t.Errorf("ParseASCIIList(%q) = %v, want ok=%v", line, err, tt.ok)
			continue
		}
		if err == nil {
			if err := list[0].CheckDigest(crypto.SHA256); err != nil {
				t.Errorf("ParseASCIIList(%q): CheckDigest = %v; want the template data of %q", line, err, tt.name)
			}
		}
	}
}
