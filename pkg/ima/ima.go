// Package ima builds IMA measurement entries exactly as the Linux kernel does: the template data of
// the ima-ng, ima-sig and ima-buf templates, the per-bank template digests that are extended into a
// TPM, and the records of the binary and ASCII runtime measurement lists.
//
// It is pure: it never touches a TPM or a file. The byte layouts follow the kernel's
// security/integrity/ima/ima_template_lib.c and ima_fs.c.
package ima

import (
	"crypto"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	// Register the hashes a file digest or a PCR bank can use.
	_ "crypto/sha1"
	_ "crypto/sha256"
	_ "crypto/sha512"
)

// Template names.
const (
	TemplateNG  = "ima-ng"
	TemplateSig = "ima-sig"
	TemplateBuf = "ima-buf"
	// TemplateIMA is the original template (kernels before 3.13 by default, and ima_template=ima
	// with ima_hash=sha1 since): a SHA-1 file digest and a name of at most 255 bytes, laid out
	// differently from the others in the lists and in the bytes its template digest covers.
	TemplateIMA = "ima"
)

// ErrUnknownHash is returned for a hash that has no IMA name or is not linked into the binary.
var ErrUnknownHash = errors.New("ima: unsupported hash algorithm")

var hashNames = []struct {
	h    crypto.Hash
	name string
}{
	{crypto.SHA1, "sha1"},
	{crypto.SHA256, "sha256"},
	{crypto.SHA384, "sha384"},
	{crypto.SHA512, "sha512"},
	{crypto.SHA224, "sha224"},
}

// HashName returns the kernel's name for h ("sha256"), as used in d-ng fields and policies.
func HashName(h crypto.Hash) (string, error) {
	for _, n := range hashNames {
		if n.h == h {
			return n.name, nil
		}
	}
	return "", fmt.Errorf("%w: %v", ErrUnknownHash, h)
}

// HashByName is the inverse of HashName.
func HashByName(name string) (crypto.Hash, error) {
	for _, n := range hashNames {
		if n.name == name {
			return n.h, nil
		}
	}
	return 0, fmt.Errorf("%w: %q", ErrUnknownHash, name)
}

// Entry is one IMA measurement: the PCR it extends, its template and the template's fields in order.
type Entry struct {
	PCR      uint32
	Template string
	Fields   [][]byte
}

// DigestNG returns the data of a d-ng field: the hash name, ':', a NUL, then the raw digest.
func DigestNG(h crypto.Hash, sum []byte) ([]byte, error) {
	name, err := HashName(h)
	if err != nil {
		return nil, err
	}
	if len(sum) != h.Size() {
		return nil, fmt.Errorf("ima: %s digest is %d bytes, want %d", name, len(sum), h.Size())
	}
	b := make([]byte, 0, len(name)+2+len(sum))
	b = append(b, name...)
	b = append(b, ':', 0)
	return append(b, sum...), nil
}

// NameNG returns the data of an n-ng field: the name, with every space replaced by '_' as the
// kernel stores it (ima_write_template_field_data), and its terminating NUL.
func NameNG(name string) []byte {
	return append([]byte(strings.ReplaceAll(name, " ", "_")), 0)
}

// NewNG returns an ima-ng entry for a file whose digest under h is sum.
func NewNG(pcr uint32, h crypto.Hash, sum []byte, name string) (Entry, error) {
	d, err := DigestNG(h, sum)
	if err != nil {
		return Entry{}, err
	}
	return Entry{PCR: pcr, Template: TemplateNG, Fields: [][]byte{d, NameNG(name)}}, nil
}

// NewSig returns an ima-sig entry; sig is the raw signature blob (security.ima), or nil.
func NewSig(pcr uint32, h crypto.Hash, sum []byte, name string, sig []byte) (Entry, error) {
	e, err := NewNG(pcr, h, sum, name)
	if err != nil {
		return Entry{}, err
	}
	e.Template = TemplateSig
	e.Fields = append(e.Fields, sig)
	return e, nil
}

// NewBuf returns an ima-buf entry for buf (the kernel records a kexec command line under the name
// "kexec-cmdline"); the d-ng digest is h over buf.
func NewBuf(pcr uint32, h crypto.Hash, buf []byte, name string) (Entry, error) {
	if !h.Available() {
		return Entry{}, fmt.Errorf("%w: %v", ErrUnknownHash, h)
	}
	hh := h.New()
	hh.Write(buf)
	d, err := DigestNG(h, hh.Sum(nil))
	if err != nil {
		return Entry{}, err
	}
	return Entry{PCR: pcr, Template: TemplateBuf, Fields: [][]byte{d, NameNG(name), buf}}, nil
}

// New returns an entry of the named template for a file (ima-ng, ima-sig) or a buffer (ima-buf).
// For ima-buf, data is the buffer; for files, sum is the file digest and data is ignored.
func New(template string, pcr uint32, h crypto.Hash, sum, data []byte, name string, sig []byte) (Entry, error) {
	switch template {
	case TemplateNG:
		return NewNG(pcr, h, sum, name)
	case TemplateSig:
		return NewSig(pcr, h, sum, name, sig)
	case TemplateBuf:
		return NewBuf(pcr, h, data, name)
	}
	return Entry{}, fmt.Errorf("ima: template %q is not supported here (want ima-ng, ima-sig or ima-buf)", template)
}

// TemplateData returns the template data: for each field a little-endian u32 length, then its bytes.
func (e Entry) TemplateData() []byte {
	n := 0
	for _, f := range e.Fields {
		n += 4 + len(f)
	}
	b := make([]byte, 0, n)
	for _, f := range e.Fields {
		b = binary.LittleEndian.AppendUint32(b, uint32(len(f)))
		b = append(b, f...)
	}
	return b
}

// TemplateDigest returns h over the template data: the value extended into the PCR bank of h.
func (e Entry) TemplateDigest(h crypto.Hash) ([]byte, error) {
	if !h.Available() {
		return nil, fmt.Errorf("%w: %v", ErrUnknownHash, h)
	}
	hh := h.New()
	hh.Write(e.TemplateData())
	return hh.Sum(nil), nil
}

// AppendBinary appends the entry's binary_runtime_measurements record, with its template digest
// under h (SHA-1 in the kernel's classic list, the bank's hash in a per-bank list).
func (e Entry) AppendBinary(b []byte, h crypto.Hash) ([]byte, error) {
	d, err := e.TemplateDigest(h)
	if err != nil {
		return nil, err
	}
	td := e.TemplateData()
	b = binary.LittleEndian.AppendUint32(b, e.PCR)
	b = append(b, d...)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(e.Template)))
	b = append(b, e.Template...)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(td)))
	return append(b, td...), nil
}

// ASCII returns the entry's ascii_runtime_measurements line (without newline): PCR, template
// digest under h in hex, template name, then each field as the kernel shows it, except that the
// name is escaped with EscapeString where the kernel would print control bytes raw.
func (e Entry) ASCII(h crypto.Hash) (string, error) {
	d, err := e.TemplateDigest(h)
	if err != nil {
		return "", err
	}
	var s strings.Builder
	fmt.Fprintf(&s, "%d %x %s", e.PCR, d, e.Template)
	for i, f := range e.Fields {
		s.WriteByte(' ')
		switch {
		case i == 0: // d-ng: "sha256:<hex>"
			if j := strings.IndexByte(string(f), 0); j > 0 {
				s.Write(f[:j])
				s.WriteString(hex.EncodeToString(f[j+1:]))
				continue
			}
			s.WriteString(hex.EncodeToString(f))
		case i == 1: // n-ng: the string without its NUL, escaped (EscapeString; the kernel prints it raw)
			s.WriteString(EscapeString(strings.TrimSuffix(string(f), "\x00")))
		default: // sig, buf: hex
			s.WriteString(hex.EncodeToString(f))
		}
	}
	return s.String(), nil
}

// MaxTemplateData bounds the template data ParseTemplateData accepts (the kernel's
// MAX_TEMPLATE_DATA_LEN ... fields are far smaller; 1 MiB leaves room for a large buffer).
const MaxTemplateData = 1 << 20

// ParseTemplateData splits unverified template data into its fields (u32 little-endian length,
// then bytes, repeated). It checks every length against what remains before slicing.
func ParseTemplateData(b []byte) ([][]byte, error) {
	if len(b) > MaxTemplateData {
		return nil, fmt.Errorf("ima: template data is %d bytes, more than %d", len(b), MaxTemplateData)
	}
	var fields [][]byte
	for off := 0; off < len(b); {
		if len(b)-off < 4 {
			return nil, fmt.Errorf("ima: template data: field %d at offset %d: %d bytes left, want a 4-byte length", len(fields), off, len(b)-off)
		}
		n := binary.LittleEndian.Uint32(b[off:])
		off += 4
		if uint64(n) > uint64(len(b)-off) {
			return nil, fmt.Errorf("ima: template data: field %d at offset %d: length %d, only %d bytes left", len(fields), off-4, n, len(b)-off)
		}
		fields = append(fields, b[off:off+int(n)])
		off += int(n)
	}
	return fields, nil
}
