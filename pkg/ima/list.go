package ima

import (
	"bytes"
	"crypto"
	"crypto/sha1"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// This file reads the kernel's runtime measurement lists (security/integrity/ima/ima_fs.c): the
// binary binary_runtime_measurements[_<bank>] records and the ascii_runtime_measurements[_<bank>]
// lines. Everything it returns is unverified: a list is a claim about what was extended into the
// TPM, worth what its replay against PCR values read from the TPM shows (Replay), and each entry's
// template data is worth what CheckDigest says of it.

// Limits for untrusted list records.
const (
	// MaxTemplateName bounds a template name in a binary record (the kernel's are ~10 bytes).
	MaxTemplateName = 255
	// MaxListDigest bounds a template digest: SHA-512, the largest PCR bank hash.
	MaxListDigest = 64
)

// Errors of the list parsers and checks, to be matched with errors.Is.
var (
	// ErrListTruncated means a binary record ends before one of its fields, or a length field
	// claims more bytes than the list has left.
	ErrListTruncated = errors.New("ima: measurement list truncated")
	// ErrListMalformed means a record or line that is not in the kernel's format.
	ErrListMalformed = errors.New("ima: malformed measurement list")
	// ErrUnsupportedTemplate means a template this package cannot rebuild an entry's template
	// data for.
	ErrUnsupportedTemplate = errors.New("ima: unsupported template")
	// ErrTemplateDigest means an entry's template digest is not the hash of its template data;
	// see TemplateDigestError.
	ErrTemplateDigest = errors.New("ima: template digest does not match template data")
	// ErrViolation means an entry whose template digest is all zeros: the kernel's record of a
	// measurement violation (ima_add_violation), for which it extended the PCR with all 0xFF.
	ErrViolation = errors.New("ima: measurement violation")
)

// ListError says where a measurement list parser stopped and why.
type ListError struct {
	Index  int // 0-based entry index
	Offset int // binary lists: byte offset of the entry's first byte; ASCII lists: -1
	Line   int // ASCII lists: 1-based line number; binary lists: 0
	Err    error
}

// Error implements error.
func (e *ListError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("ima: ascii measurement list: line %d: %v", e.Line, e.Err)
	}
	return fmt.Sprintf("ima: binary measurement list: entry %d at offset %d: %v", e.Index, e.Offset, e.Err)
}

// Unwrap returns the cause, which wraps ErrListTruncated, ErrListMalformed or
// ErrUnsupportedTemplate.
func (e *ListError) Unwrap() error { return e.Err }

// TemplateDigestError reports an entry whose template digest is not its bank's hash of its
// template data.
type TemplateDigestError struct {
	PCR      uint32
	Template string
	Name     string // the n-ng field, "" if the data has none
	Hash     crypto.Hash
	Listed   []byte // the template digest the list carries
	Computed []byte // Hash over the template data
	// PaddedSHA1 says that Listed is the SHA-1 template digest padded with zeros: what the
	// kernel extends into a bank whose hash it cannot compute when IMA starts (a hash built as
	// a module). The bank then covers the data only as well as SHA-1 does.
	PaddedSHA1 bool
}

// Error implements error.
func (e *TemplateDigestError) Error() string {
	hn, _ := HashName(e.Hash)
	if e.PaddedSHA1 {
		return fmt.Sprintf("ima: %s entry %q in PCR %d: listed %s template digest %x is the SHA-1 digest padded with zeros, "+
			"not %s over the template data (%x): the kernel had no %s when IMA started (built as a module?); verify a bank it could hash",
			e.Template, e.Name, e.PCR, hn, e.Listed, hn, e.Computed, hn)
	}
	return fmt.Sprintf("ima: %s entry %q in PCR %d: listed %s template digest %x, but its template data hashes to %x",
		e.Template, e.Name, e.PCR, hn, e.Listed, e.Computed)
}

// Unwrap returns ErrTemplateDigest.
func (e *TemplateDigestError) Unwrap() error { return ErrTemplateDigest }

// ListEntry is one record of a binary measurement list, as read: every field is an unverified
// claim. Digest and Data alias the parsed input.
type ListEntry struct {
	PCR      uint32
	Digest   []byte // the template digest: SHA-1 in the classic list, the bank's hash in a per-bank list
	Template string // the template name, e.g. "ima-ng"
	// Data is the template data: for each field, a u32 little-endian length and the bytes. For
	// the legacy "ima" template it is what that template's digest covers instead: the 20-byte
	// SHA-1 file digest and the name padded with NULs to 256 bytes (LegacyData).
	Data []byte
}

// Legacy "ima" template sizes: its file digest is SHA-1, its name at most 255 bytes, and the
// bytes its template digest covers are the digest and the name padded to 256 bytes
// (ima_calc_field_array_hash_tfm).
const (
	legacyDigest  = 20
	legacyNameMax = 255
	legacyData    = legacyDigest + legacyNameMax + 1
)

// LegacyData returns what an "ima" template entry's template digest is the hash of: the SHA-1
// file digest followed by the name padded with NULs to 256 bytes. The name must be at most 255
// bytes without a NUL, the digest 20 bytes.
func LegacyData(digest []byte, name string) ([]byte, error) {
	if len(digest) != legacyDigest {
		return nil, fmt.Errorf("%w: ima template digest is %d bytes, want %d (SHA-1)", ErrListMalformed, len(digest), legacyDigest)
	}
	if name == "" || len(name) > legacyNameMax || strings.IndexByte(name, 0) >= 0 {
		return nil, fmt.Errorf("%w: ima template name %q: want 1-%d bytes without a NUL", ErrListMalformed, clip(name), legacyNameMax)
	}
	b := make([]byte, legacyData)
	copy(b, digest)
	copy(b[legacyDigest:], name)
	return b, nil
}

// Fields splits the entry's template data into its fields (ParseTemplateData). For the legacy
// "ima" template they are the raw SHA-1 file digest and the name with a NUL, the same shapes as
// an ima-ng entry's d-ng digest and n-ng name fields but with no algorithm prefix on the digest.
func (e ListEntry) Fields() ([][]byte, error) {
	if e.Template == TemplateIMA {
		if len(e.Data) != legacyData {
			return nil, fmt.Errorf("%w: ima template data is %d bytes, want %d", ErrListMalformed, len(e.Data), legacyData)
		}
		name := bytes.TrimRight(e.Data[legacyDigest:], "\x00")
		return [][]byte{e.Data[:legacyDigest:legacyDigest], append(slices.Clip(name), 0)}, nil
	}
	return ParseTemplateData(e.Data)
}

// Entry re-derives the Entry the record describes: its PCR, template and fields. Its
// TemplateData equals e.Data. The result is as unverified as e.
func (e ListEntry) Entry() (Entry, error) {
	if e.Template == TemplateIMA {
		return Entry{}, fmt.Errorf("%w: the legacy ima template has no ima-ng style template data", ErrUnsupportedTemplate)
	}
	f, err := e.Fields()
	if err != nil {
		return Entry{}, err
	}
	return Entry{PCR: e.PCR, Template: e.Template, Fields: f}, nil
}

// Name returns the entry's n-ng field (the file name, "boot_aggregate", "kexec-cmdline") without
// its NUL (for the "ima" template, its name), or "" if the template data has no second field. It
// is for messages: it is unverified.
func (e ListEntry) Name() string {
	f, err := e.Fields()
	if err != nil || len(f) < 2 {
		return ""
	}
	return strings.TrimSuffix(string(f[1]), "\x00")
}

// IsViolation reports whether the entry records a measurement violation: an all-zero template
// digest, which the kernel writes for a file measured while open for writing (or opened for
// writing while measured); it extends the PCR with all 0xFF bytes instead.
func (e ListEntry) IsViolation() bool { return len(e.Digest) > 0 && allZero(e.Digest) }

// CheckDigest checks the "template digest matches template data" claim: that e.Digest is h over
// e.Data, h being the hash of the list's bank (SHA-1 for the classic list). It returns an error
// wrapping ErrViolation for a violation entry (whose data the PCR does not cover), and a
// *TemplateDigestError when the digest is not the hash of the data.
func (e ListEntry) CheckDigest(h crypto.Hash) error {
	if !h.Available() {
		return fmt.Errorf("%w: %v", ErrUnknownHash, h)
	}
	if len(e.Digest) != h.Size() {
		hn, _ := HashName(h)
		return fmt.Errorf("%w: %s entry %q in PCR %d: template digest is %d bytes, a %s digest is %d",
			ErrListMalformed, e.Template, e.Name(), e.PCR, len(e.Digest), hn, h.Size())
	}
	if e.IsViolation() {
		return fmt.Errorf("%w: %s entry %q in PCR %d has an all-zero template digest: the kernel recorded a "+
			"violation (the file was measured while open for writing, or opened for writing while measured) "+
			"and extended PCR %d with all 0xFF bytes; the measurement does not vouch for the file",
			ErrViolation, e.Template, e.Name(), e.PCR, e.PCR)
	}
	hh := h.New()
	hh.Write(e.Data)
	if sum := hh.Sum(nil); !bytes.Equal(sum, e.Digest) {
		return &TemplateDigestError{PCR: e.PCR, Template: e.Template, Name: e.Name(), Hash: h, Listed: e.Digest, Computed: sum,
			PaddedSHA1: isPaddedSHA1(e.Digest, e.Data)}
	}
	return nil
}

// AppendBinary appends e's binary_runtime_measurements record to b, with e.Digest as it is (it
// is not recomputed; see Entry.AppendBinary for that).
//
// An "ima" template record has no template data length: the 20-byte file digest, then the name
// with a u32 length and no NUL, as the kernel writes it.
func (e ListEntry) AppendBinary(b []byte) []byte {
	b = binary.LittleEndian.AppendUint32(b, e.PCR)
	b = append(b, e.Digest...)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(e.Template)))
	b = append(b, e.Template...)
	if e.Template == TemplateIMA && len(e.Data) == legacyData {
		name := bytes.TrimRight(e.Data[legacyDigest:], "\x00")
		b = append(b, e.Data[:legacyDigest]...)
		b = binary.LittleEndian.AppendUint32(b, uint32(len(name)))
		return append(b, name...)
	}
	b = binary.LittleEndian.AppendUint32(b, uint32(len(e.Data)))
	return append(b, e.Data...)
}

// ParseBinaryList parses an unverified binary measurement list: records of u32 little-endian
// PCR, template digest (digestSize bytes: 20 for the classic SHA-1 binary_runtime_measurements,
// the bank's digest size for binary_runtime_measurements_<bank>), u32 template-name length,
// name, u32 template-data length, template data. Every length is checked against what remains
// before it is used; names are bounded by MaxTemplateName and data by MaxTemplateData. The data
// must be well-formed template data, and for ima-ng, ima-sig and ima-buf have those templates'
// fields. The returned entries alias b. Errors are *ListError.
//
// The legacy "ima" template's records have no template data length: a 20-byte SHA-1 file digest,
// then a u32 name length (1-255) and the name without a NUL; their Data is LegacyData.
func ParseBinaryList(b []byte, digestSize int) ([]ListEntry, error) {
	if digestSize < 1 || digestSize > MaxListDigest {
		return nil, fmt.Errorf("ima: binary measurement list: digest size %d is not a PCR bank's (1-%d bytes)", digestSize, MaxListDigest)
	}
	var out []ListEntry
	for off := 0; off < len(b); {
		start := off
		fail := func(err error) error { return &ListError{Index: len(out), Offset: start, Err: err} }
		if len(b)-off < 4+digestSize+4 {
			return nil, fail(fmt.Errorf("%w: %d bytes left, a record needs at least %d (PCR, %d-byte digest, name length)",
				ErrListTruncated, len(b)-off, 4+digestSize+4, digestSize))
		}
		var e ListEntry
		e.PCR = binary.LittleEndian.Uint32(b[off:])
		off += 4
		e.Digest = b[off : off+digestSize : off+digestSize]
		off += digestSize
		n := binary.LittleEndian.Uint32(b[off:])
		off += 4
		if n == 0 || n > MaxTemplateName {
			return nil, fail(fmt.Errorf("%w: template name length %d at offset %d, want 1-%d", ErrListMalformed, n, off-4, MaxTemplateName))
		}
		if uint64(n) > uint64(len(b)-off) {
			return nil, fail(fmt.Errorf("%w: template name length %d at offset %d, only %d bytes left", ErrListTruncated, n, off-4, len(b)-off))
		}
		name := b[off : off+int(n)]
		if err := checkTemplateName(name); err != nil {
			return nil, fail(err)
		}
		e.Template = string(name)
		off += int(n)
		if e.Template == TemplateIMA {
			if len(b)-off < legacyDigest+4 {
				return nil, fail(fmt.Errorf("%w: %d bytes left at offset %d, an ima record needs a 20-byte digest and a name length",
					ErrListTruncated, len(b)-off, off))
			}
			d := b[off : off+legacyDigest]
			off += legacyDigest
			n := binary.LittleEndian.Uint32(b[off:])
			off += 4
			if n == 0 || n > legacyNameMax {
				return nil, fail(fmt.Errorf("%w: ima template name length %d at offset %d, want 1-%d", ErrListMalformed, n, off-4, legacyNameMax))
			}
			if uint64(n) > uint64(len(b)-off) {
				return nil, fail(fmt.Errorf("%w: ima template name length %d at offset %d, only %d bytes left", ErrListTruncated, n, off-4, len(b)-off))
			}
			data, err := LegacyData(d, string(b[off:off+int(n)]))
			if err != nil {
				return nil, fail(err)
			}
			off += int(n)
			e.Data = data
			out = append(out, e)
			continue
		}
		if len(b)-off < 4 {
			return nil, fail(fmt.Errorf("%w: %d bytes left at offset %d, want a 4-byte template data length", ErrListTruncated, len(b)-off, off))
		}
		n = binary.LittleEndian.Uint32(b[off:])
		off += 4
		if n > MaxTemplateData {
			return nil, fail(fmt.Errorf("%w: template data length %d at offset %d, more than %d", ErrListMalformed, n, off-4, MaxTemplateData))
		}
		if uint64(n) > uint64(len(b)-off) {
			return nil, fail(fmt.Errorf("%w: template data length %d at offset %d, only %d bytes left", ErrListTruncated, n, off-4, len(b)-off))
		}
		e.Data = b[off : off+int(n) : off+int(n)]
		off += int(n)
		if err := checkTemplateData(e.Template, e.Data); err != nil {
			return nil, fail(err)
		}
		out = append(out, e)
	}
	return out, nil
}

// checkTemplateName accepts the names the kernel gives templates: printable ASCII, no spaces
// (which would split an ASCII list line).
func checkTemplateName(name []byte) error {
	for i, c := range name {
		if c <= ' ' || c > '~' {
			return fmt.Errorf("%w: template name %q has byte 0x%02x at %d, want printable ASCII without spaces", ErrListMalformed, name, c, i)
		}
	}
	return nil
}

// templateFields is how many fields the templates this package builds have.
var templateFields = map[string]int{TemplateNG: 2, TemplateSig: 3, TemplateBuf: 3}

// checkTemplateData checks that data is well-formed template data and, for the templates this
// package knows, that it has their fields: a d-ng digest and an n-ng name with its NUL.
func checkTemplateData(template string, data []byte) error {
	f, err := ParseTemplateData(data)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrListMalformed, err)
	}
	want, ok := templateFields[template]
	if !ok {
		return nil
	}
	if len(f) != want {
		return fmt.Errorf("%w: %s template data has %d fields, want %d", ErrListMalformed, template, len(f), want)
	}
	if _, _, err := SplitDigestNG(f[0]); err != nil {
		return fmt.Errorf("%w: %s field d-ng: %w", ErrListMalformed, template, err)
	}
	if n := f[1]; len(n) == 0 || n[len(n)-1] != 0 || bytes.IndexByte(n[:len(n)-1], 0) >= 0 {
		return fmt.Errorf("%w: %s field n-ng %q: want a name ending in its only NUL", ErrListMalformed, template, clip(string(n)))
	}
	return nil
}

// SplitDigestNG splits the data of a d-ng field, "<algorithm>:\0<digest>", into the algorithm
// ("sha256"; everything before the ':' that ends the C string, as the kernel prints it) and the
// raw digest. The digest's size is not checked against the algorithm.
func SplitDigestNG(field []byte) (alg string, sum []byte, err error) {
	nul := bytes.IndexByte(field, 0)
	if nul < 1 || field[nul-1] != ':' {
		return "", nil, fmt.Errorf("d-ng field %q: want \"<algorithm>:\\0<digest>\"", clip(string(field)))
	}
	alg = string(field[:nul-1])
	if alg == "" || strings.ContainsAny(alg, " \x00") {
		return "", nil, fmt.Errorf("d-ng field %q: bad algorithm name", clip(string(field)))
	}
	return alg, field[nul+1:], nil
}

// Replay computes the PCR values the entries extend into bank h, each PCR starting from zeros:
// PCR = h(PCR || template digest), with all 0xFF bytes in place of a violation entry's zero
// digest, as the kernel extends. The values say what the TPM holds only if nothing but these
// entries extended those PCRs since reset; they prove nothing until compared with values read
// from the TPM. Every digest must be h's size.
func Replay(entries []ListEntry, h crypto.Hash) (map[uint32][]byte, error) {
	if !h.Available() {
		return nil, fmt.Errorf("%w: %v", ErrUnknownHash, h)
	}
	ff := bytes.Repeat([]byte{0xff}, h.Size())
	pcrs := map[uint32][]byte{}
	for i, e := range entries {
		if len(e.Digest) != h.Size() {
			return nil, fmt.Errorf("ima: replay: entry %d: template digest is %d bytes, the bank's hash makes %d", i, len(e.Digest), h.Size())
		}
		v, ok := pcrs[e.PCR]
		if !ok {
			v = make([]byte, h.Size())
		}
		d := e.Digest
		if e.IsViolation() {
			d = ff
		}
		hh := h.New()
		hh.Write(v)
		hh.Write(d)
		pcrs[e.PCR] = hh.Sum(nil)
	}
	return pcrs, nil
}

// ASCIIEntry is one line of an ASCII measurement list, as read: every field is an unverified
// claim. Fields are the template's fields as the kernel prints them: d-ng as "sha256:<hex>",
// n-ng as the name (escaped as EscapeString writes it in lists this project writes; raw in the
// kernel's, which cannot hold a control byte here), sig and buf as hex (an empty field is an
// empty string).
type ASCIIEntry struct {
	PCR      uint32
	Digest   []byte // the template digest
	Template string
	Fields   []string
}

// String returns the line the kernel prints for e, without its newline.
func (e ASCIIEntry) String() string {
	var s strings.Builder
	fmt.Fprintf(&s, "%d %x %s", e.PCR, e.Digest, e.Template)
	for _, f := range e.Fields {
		s.WriteByte(' ')
		s.WriteString(f)
	}
	return s.String()
}

// Entry rebuilds the Entry an ima-ng, ima-sig or ima-buf line shows, so that its template data
// and digests can be recomputed. Other templates fail with ErrUnsupportedTemplate.
func (e ASCIIEntry) Entry() (Entry, error) {
	want, ok := templateFields[e.Template]
	if !ok {
		return Entry{}, fmt.Errorf("%w: %q (want ima-ng, ima-sig or ima-buf)", ErrUnsupportedTemplate, clip(e.Template))
	}
	if len(e.Fields) != want {
		return Entry{}, fmt.Errorf("%w: %s line has %d fields, want %d", ErrListMalformed, e.Template, len(e.Fields), want)
	}
	d := e.Fields[0]
	i := strings.LastIndexByte(d, ':')
	if i < 1 {
		return Entry{}, fmt.Errorf("%w: d-ng field %q: want <algorithm>:<hex>", ErrListMalformed, clip(d))
	}
	sum, err := hex.DecodeString(d[i+1:])
	if err != nil {
		return Entry{}, fmt.Errorf("%w: d-ng field %q: %w", ErrListMalformed, clip(d), err)
	}
	dng := make([]byte, 0, i+2+len(sum))
	dng = append(append(append(dng, d[:i+1]...), 0), sum...)
	fields := [][]byte{dng, NameNG(UnescapeString(e.Fields[1]))}
	for _, f := range e.Fields[2:] {
		raw, err := hex.DecodeString(f)
		if err != nil {
			return Entry{}, fmt.Errorf("%w: %s field %q: %w", ErrListMalformed, e.Template, clip(f), err)
		}
		fields = append(fields, raw)
	}
	return Entry{PCR: e.PCR, Template: e.Template, Fields: fields}, nil
}

// ListEntry rebuilds the binary list's record for the line: the same PCR, template digest and
// template, and the template data (for the legacy "ima" template, LegacyData) that the template
// digest must be the hash of. Templates other than ima, ima-ng, ima-sig and ima-buf fail with
// ErrUnsupportedTemplate: their template data cannot be rebuilt from the line.
func (e ASCIIEntry) ListEntry() (ListEntry, error) {
	le := ListEntry{PCR: e.PCR, Digest: e.Digest, Template: e.Template}
	if e.Template == TemplateIMA {
		d, name, err := e.legacyFields()
		if err != nil {
			return ListEntry{}, err
		}
		if le.Data, err = LegacyData(d, name); err != nil {
			return ListEntry{}, err
		}
		return le, nil
	}
	en, err := e.Entry()
	if err != nil {
		return ListEntry{}, err
	}
	le.Data = en.TemplateData()
	return le, nil
}

// legacyFields returns an "ima" line's file digest and name (in which the kernel replaced every
// space with '_', as in n-ng).
func (e ASCIIEntry) legacyFields() ([]byte, string, error) {
	if len(e.Fields) != 2 {
		return nil, "", fmt.Errorf("%w: ima line has %d fields, want a digest and a name", ErrListMalformed, len(e.Fields))
	}
	d, err := hex.DecodeString(e.Fields[0])
	if err != nil || len(d) != legacyDigest || hex.EncodeToString(d) != e.Fields[0] {
		return nil, "", fmt.Errorf("%w: ima line's file digest %q: want 40 lower-case hex digits (SHA-1)", ErrListMalformed, clip(e.Fields[0]))
	}
	return d, e.Fields[1], nil
}

// CheckDigest rebuilds the template data from the line (ListEntry) and checks that e.Digest is
// h over it, as ListEntry.CheckDigest does: an all-zero digest is a violation (ErrViolation), a
// different one a *TemplateDigestError.
func (e ASCIIEntry) CheckDigest(h crypto.Hash) error {
	le, err := e.ListEntry()
	if err != nil {
		return err
	}
	return le.CheckDigest(h)
}

// IsASCIIList reports whether b looks like an ASCII measurement list rather than a binary one: it
// begins with a decimal PCR number and has no NUL in its first line. A binary list begins with a
// u32 little-endian PCR, so a NUL follows its first byte for any PCR below 2^24. It only picks the
// parser; the parser checks everything.
func IsASCIIList(b []byte) bool {
	if len(b) == 0 || b[0] < '0' || b[0] > '9' {
		return false
	}
	line := b[:min(len(b), 256)]
	if i := bytes.IndexByte(line, '\n'); i >= 0 {
		line = line[:i]
	}
	return bytes.IndexByte(line, 0) < 0
}

// ParseASCIIList parses an unverified ASCII measurement list: lines "PCR template-digest-hex
// template-name field...", fields separated by single spaces (an empty field, such as ima-sig's
// missing signature, leaves a trailing space). The last line may lack its newline. For ima,
// ima-ng, ima-sig and ima-buf the field count and encodings are checked. Every line's template
// digest must have the first line's size (one bank per list). Errors are *ListError naming the
// line.
func ParseASCIIList(b []byte) ([]ASCIIEntry, error) {
	s := string(b)
	if s == "" {
		return nil, nil
	}
	s = strings.TrimSuffix(s, "\n")
	var out []ASCIIEntry
	for i, line := range strings.Split(s, "\n") {
		e, err := parseASCIILine(line)
		if err == nil && len(out) > 0 && len(e.Digest) != len(out[0].Digest) {
			err = fmt.Errorf("%w: template digest of %d bytes, line 1's is %d: a list holds one bank's digests", ErrListMalformed, len(e.Digest), len(out[0].Digest))
		}
		if err != nil {
			return nil, &ListError{Index: len(out), Offset: -1, Line: i + 1, Err: err}
		}
		out = append(out, e)
	}
	return out, nil
}

func parseASCIILine(line string) (ASCIIEntry, error) {
	tok := strings.Split(line, " ")
	if len(tok) < 3 {
		return ASCIIEntry{}, fmt.Errorf("%w: %q: want \"PCR template-digest template-name field...\"", ErrListMalformed, clip(line))
	}
	pcr, err := strconv.ParseUint(tok[0], 10, 32)
	if err != nil || tok[0] != strconv.FormatUint(pcr, 10) {
		return ASCIIEntry{}, fmt.Errorf("%w: PCR %q is not a decimal number", ErrListMalformed, clip(tok[0]))
	}
	if len(tok[1]) == 0 || len(tok[1]) > 2*MaxListDigest {
		return ASCIIEntry{}, fmt.Errorf("%w: template digest %q: want 1-%d bytes in hex", ErrListMalformed, clip(tok[1]), MaxListDigest)
	}
	dig, err := hex.DecodeString(tok[1])
	if err != nil {
		return ASCIIEntry{}, fmt.Errorf("%w: template digest %q: %w", ErrListMalformed, clip(tok[1]), err)
	}
	if len(tok[2]) > MaxTemplateName || tok[2] == "" {
		return ASCIIEntry{}, fmt.Errorf("%w: template name %q: want 1-%d bytes", ErrListMalformed, clip(tok[2]), MaxTemplateName)
	}
	if err := checkTemplateName([]byte(tok[2])); err != nil {
		return ASCIIEntry{}, err
	}
	e := ASCIIEntry{PCR: uint32(pcr), Digest: dig, Template: tok[2], Fields: tok[3:]}
	for _, f := range e.Fields {
		for _, c := range []byte(f) {
			if c < ' ' || c == 0x7f {
				return ASCIIEntry{}, fmt.Errorf("%w: field %q has control byte 0x%02x", ErrListMalformed, clip(f), c)
			}
		}
	}
	if e.Template == TemplateIMA {
		if _, err := e.ListEntry(); err != nil {
			return ASCIIEntry{}, err
		}
	}
	if _, ok := templateFields[e.Template]; ok {
		en, err := e.Entry()
		if err != nil {
			return ASCIIEntry{}, err
		}
		if e.Fields[1] == "" {
			return ASCIIEntry{}, fmt.Errorf("%w: %s line has an empty name", ErrListMalformed, e.Template)
		}
		// The kernel prints hex in lower case; anything else would not round-trip. The name is
		// either raw, as the kernel prints it, or escaped as EscapeString writes it (lists this
		// project writes); nothing else names the same bytes.
		got := en.asciiFields()
		if name := UnescapeString(e.Fields[1]); e.Fields[1] == name || e.Fields[1] == got[1] {
			got[1] = e.Fields[1]
		}
		if !slices.Equal(got, e.Fields) {
			return ASCIIEntry{}, fmt.Errorf("%w: fields %q are not as the kernel prints them (%q)", ErrListMalformed, clip(strings.Join(e.Fields, " ")), clip(strings.Join(got, " ")))
		}
	}
	if e.String() != line {
		return ASCIIEntry{}, fmt.Errorf("%w: %q is not as the kernel prints it (lower-case hex)", ErrListMalformed, clip(line))
	}
	return e, nil
}

// asciiFields returns the fields of an ima-ng/sig/buf entry as the kernel prints them.
func (e Entry) asciiFields() []string {
	out := make([]string, len(e.Fields))
	for i, f := range e.Fields {
		switch i {
		case 0:
			if alg, sum, err := SplitDigestNG(f); err == nil {
				out[i] = alg + ":" + hex.EncodeToString(sum)
				continue
			}
			out[i] = hex.EncodeToString(f)
		case 1:
			out[i] = EscapeString(strings.TrimSuffix(string(f), "\x00"))
		default:
			out[i] = hex.EncodeToString(f)
		}
	}
	return out
}

// isPaddedSHA1 reports whether d is SHA-1 over data followed by zeros.
func isPaddedSHA1(d, data []byte) bool {
	if len(d) <= sha1.Size || !allZero(d[sha1.Size:]) {
		return false
	}
	sum := sha1.Sum(data)
	return bytes.Equal(d[:sha1.Size], sum[:])
}

// clip shortens an untrusted string for an error message.
func clip(s string) string {
	if len(s) > 80 {
		return s[:80] + "..."
	}
	return s
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}
