package handover

import (
	"bufio"
	"bytes"
	"compress/bzip2"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
	"github.com/ulikunitz/xz"
	"github.com/ulikunitz/xz/lzma"
)

// The bounds ParseInitramfs keeps to. A distribution's initramfs unpacks to some 100 MiB and a
// few thousand records.
const (
	// MaxUnpacked is how many bytes ParseInitramfs decompresses, over all compressed parts.
	MaxUnpacked = 1 << 30
	// MaxRecords is how many cpio records ParseInitramfs reads.
	MaxRecords = 1 << 20
	// maxName is the kernel's PATH_MAX: the longest name (with its NUL) and symlink target.
	maxName = 4096
	// maxLinks is how many symlinks one path lookup follows, the kernel's MAXSYMLINKS.
	maxLinks = 40
)

// Type is the kind of a path in an initramfs, the S_IFMT bits of its cpio mode.
type Type uint32

// The types of path a cpio newc archive can hold.
const (
	TypeFIFO     Type = 0o010000
	TypeCharDev  Type = 0o020000
	TypeDir      Type = 0o040000
	TypeBlockDev Type = 0o060000
	TypeFile     Type = 0o100000
	TypeSymlink  Type = 0o120000
	TypeSocket   Type = 0o140000
	typeMask     Type = 0o170000
)

// typeTrailer is the name of the record that ends a cpio archive; cpioHeaderLen is a newc
// header's length.
const (
	typeTrailer   = "TRAILER!!!"
	cpioHeaderLen = 110
)

// String names t as ls does: "directory", "regular file", "symlink"...
func (t Type) String() string {
	switch t {
	case TypeFIFO:
		return "fifo"
	case TypeCharDev:
		return "character device"
	case TypeDir:
		return "directory"
	case TypeBlockDev:
		return "block device"
	case TypeFile:
		return "regular file"
	case TypeSymlink:
		return "symlink"
	case TypeSocket:
		return "socket"
	}
	return fmt.Sprintf("type 0%o", uint32(t))
}

// Entry is one path of the tree an initramfs unpacks to.
type Entry struct {
	Type   Type
	Target string // a symlink's target, as the archive has it
}

// Initramfs is the file tree the kernel builds by unpacking an initramfs into an empty root
// (init/initramfs.c), as far as path types go: file contents, owners, modes and times are not
// kept. Paths are relative to the root, cleaned and with symlinks in their parents resolved:
// "usr/lib/modules", never "lib/modules" when lib is a symlink to usr/lib.
type Initramfs struct {
	entries  map[string]Entry
	children map[string]int // number of entries in each directory, "" being the root
	stopped  string         // why the kernel stops unpacking before the end, "" if it does not
}

// Stopped says where and why the kernel's unpacker stops before the end of the initramfs (data
// that is neither a cpio archive nor a compressed one: unpack_to_rootfs reports "invalid magic"
// and unpacks nothing after it), or "" when it unpacks everything. Archives appended after such an
// initramfs are never unpacked: they cannot change its paths, and the next system does not get
// them either.
func (in *Initramfs) Stopped() string { return in.stopped }

func newInitramfs() *Initramfs {
	return &Initramfs{entries: map[string]Entry{"": {Type: TypeDir}}, children: map[string]int{}}
}

// Paths returns every path of the tree but the root, with its entry.
func (in *Initramfs) Paths() map[string]Entry {
	out := make(map[string]Entry, len(in.entries))
	for p, e := range in.entries {
		if p != "" {
			out[p] = e
		}
	}
	return out
}

// Lstat returns what name is in the tree, following symlinks in its parents but not in its last
// component, as lstat(2) does, and the resolved path. ok is false if nothing is there.
func (in *Initramfs) Lstat(name string) (resolved string, e Entry, ok bool) {
	dir, last, good := in.parent(name)
	if !good {
		if r, err := in.resolve(comps(name)); err == nil {
			return r, in.entries[r], true
		}
		return "", Entry{}, false
	}
	p := join(dir, last)
	e, ok = in.entries[p]
	return p, e, ok
}

func (in *Initramfs) clone() *Initramfs {
	c := &Initramfs{entries: make(map[string]Entry, len(in.entries)), children: make(map[string]int, len(in.children))}
	for k, v := range in.entries {
		c.entries[k] = v
	}
	for k, v := range in.children {
		c.children[k] = v
	}
	return c
}

// comps splits a name into its components, dropping empty ones and ".".
func comps(name string) []string {
	var out []string
	for _, c := range strings.Split(name, "/") {
		if c != "" && c != "." {
			out = append(out, c)
		}
	}
	return out
}

func join(dir, name string) string {
	if dir == "" {
		return name
	}
	return dir + "/" + name
}

func parentOf(p string) string {
	if i := strings.LastIndexByte(p, '/'); i >= 0 {
		return p[:i]
	}
	return ""
}

var (
	errNotExist = errors.New("no such file or directory")
	errNotDir   = errors.New("not a directory")
	errLoop     = errors.New("too many levels of symbolic links")
)

// resolve looks cs up from the root as the kernel does for the unpacker (whose working directory
// is the root), following every symlink, and returns the path of the directory or other entry
// it names.
func (in *Initramfs) resolve(cs []string) (string, error) {
	cur, links := "", 0
	for len(cs) > 0 {
		c := cs[0]
		cs = cs[1:]
		if c == ".." {
			cur = parentOf(cur)
			continue
		}
		next := join(cur, c)
		e, ok := in.entries[next]
		if !ok {
			return "", fmt.Errorf("%s: %w", next, errNotExist)
		}
		if e.Type == TypeSymlink {
			if links++; links > maxLinks {
				return "", fmt.Errorf("%s: %w", next, errLoop)
			}
			if strings.HasPrefix(e.Target, "/") {
				cur = ""
			}
			cs = append(comps(e.Target), cs...)
			continue
		}
		if len(cs) > 0 && e.Type != TypeDir {
			return "", fmt.Errorf("%s: %w", next, errNotDir)
		}
		cur = next
	}
	return cur, nil
}

// parent resolves the directory that holds name's last component, and returns that component;
// good is false when name has no last component the kernel could create (the root, "..") or its
// directory does not exist.
func (in *Initramfs) parent(name string) (dir, last string, good bool) {
	cs := comps(name)
	if len(cs) == 0 || cs[len(cs)-1] == ".." {
		return "", "", false
	}
	dir, err := in.resolve(cs[:len(cs)-1])
	if err != nil || in.entries[dir].Type != TypeDir {
		return "", "", false
	}
	return dir, cs[len(cs)-1], true
}

// apply does to the tree what the kernel's unpacker does for one record (do_name, do_symlink):
// clean_path removes an entry of another type at the name (a directory only if empty), then
// the record's entry is created unless one is there (a regular file is rewritten in place).
func (in *Initramfs) apply(name string, t Type, target string) {
	dir, last, ok := in.parent(name)
	if !ok {
		return
	}
	p := join(dir, last)
	if e, exists := in.entries[p]; exists && e.Type != t {
		if e.Type == TypeDir && in.children[p] > 0 {
			return // rmdir fails; so does every way of creating the record's entry
		}
		delete(in.entries, p)
		delete(in.children, p)
		in.children[dir]--
	}
	if _, exists := in.entries[p]; exists {
		return
	}
	switch t {
	case TypeDir, TypeFile, TypeSymlink, TypeCharDev, TypeBlockDev, TypeFIFO, TypeSocket:
		in.entries[p] = Entry{Type: t, Target: target}
		in.children[dir]++
	}
}

// ParseInitramfs reads an initramfs as the kernel unpacks it (init/initramfs.c,
// unpack_to_rootfs): a sequence of cpio newc archives ("070701" or "070702"), each possibly
// compressed (gzip, bzip2, lzma, xz, lz4 legacy, zstd), with zero padding between them, and
// returns the tree it unpacks to. A malformed part, a compression the kernel or this package
// cannot read, more than MaxUnpacked decompressed bytes, more than MaxRecords records, or a name
// or symlink target longer than PATH_MAX, is an error.
func ParseInitramfs(b []byte) (*Initramfs, error) {
	return parseInitramfs(b, MaxUnpacked, MaxRecords)
}

type parser struct {
	fs                  *Initramfs
	unpacked, maxUnpack int64
	nrec, maxRecords    int
}

func parseInitramfs(b []byte, maxUnpack int64, maxRecords int) (*Initramfs, error) {
	p := &parser{fs: newInitramfs(), maxUnpack: maxUnpack, maxRecords: maxRecords}
	afterRaw := false
	for pos := 0; pos < len(b); {
		switch {
		case b[pos] == 0:
			pos++
			continue
		case pos%4 != 0 && (afterRaw || b[pos] == '0'):
			return nil, fmt.Errorf("handover: initramfs offset %d: data (0x%02x) at an offset not a multiple of 4 after padding", pos, b[pos])
		case b[pos] == '0' && (bytes.HasPrefix(b[pos:], []byte("070701")) || bytes.HasPrefix(b[pos:], []byte("070702"))):
			n, err := p.records(bytes.NewReader(b[pos:]), true)
			if err != nil {
				return nil, fmt.Errorf("handover: initramfs cpio archive at offset %d: %w", pos, err)
			}
			pos += int(n)
			afterRaw = true
			continue
		}
		if b[pos] == '0' || !knownMagic(b[pos:]) {
			// The kernel stops here and unpacks nothing after (init/initramfs.c: "no cpio
			// magic", or "invalid magic at start of compressed archive").
			p.fs.stopped = fmt.Sprintf("offset %d: neither a cpio archive nor a compression the kernel knows (starts % x)", pos, b[pos:min(len(b), pos+8)])
			break
		}
		n, err := p.compressed(b[pos:])
		if err != nil {
			return nil, fmt.Errorf("handover: initramfs compressed part at offset %d: %w", pos, err)
		}
		pos += n
		afterRaw = false
	}
	return p.fs, nil
}

// magics are the starts of the compressed formats the kernel's initramfs unpacker knows
// (lib/decompress.c's compressed_formats).
var magics = [][]byte{{0x1f, 0x8b}, {0x1f, 0x9e}, []byte("BZh"), {0x5d, 0, 0}, {0xfd, '7', 'z', 'X', 'Z', 0}, {0x89, 'L', 'Z', 'O'}, {0x02, 0x21, 0x4c, 0x18}, {0x28, 0xb5, 0x2f, 0xfd}}

// knownMagic reports whether b starts with a compression the kernel's unpacker recognises.
func knownMagic(b []byte) bool {
	for _, m := range magics {
		if bytes.HasPrefix(b, m) {
			return true
		}
	}
	return false
}

// compressed reads the compressed archive at the start of b and returns its length.
func (p *parser) compressed(b []byte) (int, error) {
	var (
		r    io.Reader
		size func() int
		name string
	)
	switch {
	case bytes.HasPrefix(b, []byte{0x1f, 0x8b}):
		name = "gzip"
		br := bytes.NewReader(b)
		z, err := gzip.NewReader(br)
		if err != nil {
			return 0, fmt.Errorf("gzip: %w", err)
		}
		z.Multistream(false) // the kernel reads one member; the next is another part
		r, size = z, func() int { return len(b) - br.Len() }
	case bytes.HasPrefix(b, []byte("BZh")):
		// compress/bzip2 reads concatenated streams and fails on anything else after them, so a
		// bzip2 part must end the initramfs.
		name = "bzip2"
		r, size = bzip2.NewReader(bytes.NewReader(b)), func() int { return len(b) }
	case bytes.HasPrefix(b, []byte{0x5d, 0, 0}):
		name = "lzma"
		t := &tracker{b: b}
		z, err := lzma.NewReader(t)
		if err != nil {
			return 0, fmt.Errorf("lzma: %w", err)
		}
		r, size = z, func() int { return t.pos }
	case bytes.HasPrefix(b, []byte{0xfd, '7', 'z', 'X', 'Z', 0}):
		name = "xz"
		t := &tracker{b: b}
		z, err := xz.ReaderConfig{SingleStream: true}.NewReader(t)
		if err != nil {
			return 0, fmt.Errorf("xz: %w", err)
		}
		r, size = &xzPart{r: z, t: t}, func() int { return t.end }
	case bytes.HasPrefix(b, []byte{0x02, 0x21, 0x4c, 0x18}):
		name = "lz4"
		r, size = &lz4Legacy{b: b[4:]}, func() int { return len(b) }
	case bytes.HasPrefix(b, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		name = "zstd"
		n, err := zstdFrameLen(b)
		if err != nil {
			return 0, fmt.Errorf("zstd: %w", err)
		}
		z, err := zstd.NewReader(bytes.NewReader(b[:n]), zstd.WithDecoderConcurrency(1),
			zstd.WithDecoderMaxMemory(uint64(p.maxUnpack)), zstd.WithDecoderMaxWindow(64<<20))
		if err != nil {
			return 0, fmt.Errorf("zstd: %w", err)
		}
		defer z.Close()
		r, size = z, func() int { return n }
	case bytes.HasPrefix(b, []byte{0x89, 'L', 'Z', 'O'}):
		return 0, fmt.Errorf("lzo compression: this package cannot read it; build the initramfs with zstd, gzip or xz")
	default:
		return 0, fmt.Errorf("neither a cpio archive nor a compression the kernel knows (starts % x)", b[:min(len(b), 8)])
	}
	if _, err := p.records(&limited{r: r, p: p}, false); err != nil {
		return 0, fmt.Errorf("%s: %w", name, err)
	}
	n := size()
	if n <= 0 || n > len(b) {
		return 0, fmt.Errorf("%s: compressed length %d out of 1-%d", name, n, len(b))
	}
	return n, nil
}

// tracker reads b and remembers where the last read began, for xz's check of what follows a
// stream, and implements io.ByteReader so that decompressors read no more than they use.
type tracker struct {
	b              []byte
	pos, lastStart int
	end            int
}

func (t *tracker) Read(p []byte) (int, error) {
	if t.pos >= len(t.b) {
		return 0, io.EOF
	}
	t.lastStart = t.pos
	n := copy(p, t.b[t.pos:])
	t.pos += n
	return n, nil
}

func (t *tracker) ReadByte() (byte, error) {
	if t.pos >= len(t.b) {
		return 0, io.EOF
	}
	t.lastStart = t.pos
	t.pos++
	return t.b[t.pos-1], nil
}

// xzPart reads one xz stream: after it, xz reads one byte to see whether data follows; that
// byte belongs to the next part.
type xzPart struct {
	r io.Reader
	t *tracker
}

func (x *xzPart) Read(p []byte) (int, error) {
	n, err := x.r.Read(p)
	if err == nil {
		return n, nil
	}
	if err == io.EOF {
		x.t.end = x.t.pos
		return n, io.EOF
	}
	if err.Error() == "xz: unexpected data after stream" {
		x.t.end = x.t.lastStart
		return n, io.EOF
	}
	return n, err
}

// lz4Legacy decompresses the lz4 legacy format the kernel reads (lib/decompress_unlz4.c): chunks
// of a 4-byte little-endian size and a block of up to 8 MiB, up to the end of the initramfs.
type lz4Legacy struct {
	b, out, buf []byte
}

func (l *lz4Legacy) Read(p []byte) (int, error) {
	for len(l.out) == 0 {
		if len(l.b) == 0 {
			return 0, io.EOF
		}
		if len(l.b) < 4 {
			return 0, fmt.Errorf("lz4: %d bytes left, less than a chunk size", len(l.b))
		}
		n := binary.LittleEndian.Uint32(l.b)
		l.b = l.b[4:]
		if n == 0x184c2102 { // the magic again: a concatenated stream
			continue
		}
		const maxBlock = 8 << 20
		if n == 0 || uint64(n) > uint64(lz4.CompressBlockBound(maxBlock)) || int(n) > len(l.b) {
			return 0, fmt.Errorf("lz4: chunk of %d bytes with %d left", n, len(l.b))
		}
		if l.buf == nil {
			l.buf = make([]byte, maxBlock)
		}
		k, err := lz4.UncompressBlock(l.b[:n], l.buf)
		if err != nil {
			return 0, fmt.Errorf("lz4: %w", err)
		}
		l.b, l.out = l.b[n:], l.buf[:k]
	}
	n := copy(p, l.out)
	l.out = l.out[n:]
	return n, nil
}

// zstdFrameLen returns the length of the zstd frame at the start of b, from its header and block
// headers (RFC 8878, 3.1.1).
func zstdFrameLen(b []byte) (int, error) {
	var h zstd.Header
	if err := h.Decode(b); err != nil {
		return 0, err
	}
	if h.Skippable {
		return 0, fmt.Errorf("skippable frame, which the kernel does not read")
	}
	n := h.HeaderSize
	for {
		if len(b) < n+3 {
			return 0, fmt.Errorf("frame truncated at block header %d", n)
		}
		bh := uint32(b[n]) | uint32(b[n+1])<<8 | uint32(b[n+2])<<16
		n += 3
		size := int(bh >> 3)
		switch (bh >> 1) & 3 {
		case 1: // RLE: one byte repeated size times
			size = 1
		case 3:
			return 0, fmt.Errorf("reserved block type at %d", n-3)
		}
		if size > len(b)-n {
			return 0, fmt.Errorf("block of %d bytes at %d past the end", size, n)
		}
		n += size
		if bh&1 != 0 {
			break
		}
	}
	if h.HasCheckSum {
		n += 4
	}
	if n > len(b) {
		return 0, fmt.Errorf("frame checksum past the end")
	}
	return n, nil
}

// limited counts what is decompressed against the parser's bound.
type limited struct {
	r io.Reader
	p *parser
}

func (l *limited) Read(b []byte) (int, error) {
	n, err := l.r.Read(b)
	l.p.unpacked += int64(n)
	if l.p.unpacked > l.p.maxUnpack {
		return n, fmt.Errorf("more than %d bytes decompressed", l.p.maxUnpack)
	}
	return n, err
}

// stream reads records and counts the bytes read, for the 4-byte alignment rules.
type stream struct {
	r   *bufio.Reader
	off int64
}

func (s *stream) read(n int) ([]byte, error) {
	b := make([]byte, n)
	k, err := io.ReadFull(s.r, b)
	s.off += int64(k)
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return b, err
}

func (s *stream) skip(n int64) error {
	k, err := io.CopyN(io.Discard, s.r, n)
	s.off += k
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return err
}

// records reads cpio records from r, each followed by zero padding, to the end of r or, if raw
// (an archive read from the initramfs itself), up to data that is neither a record nor padding,
// and returns how many bytes it read.
func (p *parser) records(r io.Reader, raw bool) (int64, error) {
	s := &stream{r: bufio.NewReaderSize(r, 64<<10)}
	for {
		c, err := s.r.ReadByte()
		if err == io.EOF {
			return s.off, nil
		}
		if err != nil {
			return s.off, err
		}
		if c == 0 {
			s.off++
			continue
		}
		if err := s.r.UnreadByte(); err != nil {
			return s.off, err
		}
		if s.off%4 != 0 {
			return s.off, fmt.Errorf("offset %d: data (0x%02x) after padding at an offset not a multiple of 4", s.off, c)
		}
		if c != '0' {
			if raw {
				return s.off, nil // another part, compressed
			}
			return s.off, fmt.Errorf("offset %d: junk (0x%02x) within a compressed archive", s.off, c)
		}
		if err := p.record(s); err != nil {
			return s.off, err
		}
	}
}

// record reads one cpio newc record (header, name, body, padding) and applies it to the tree.
func (p *parser) record(s *stream) error {
	start := s.off
	h, err := s.read(cpioHeaderLen)
	if err != nil {
		return fmt.Errorf("offset %d: cpio header: %w", start, err)
	}
	if m := string(h[:6]); m != "070701" && m != "070702" {
		return fmt.Errorf("offset %d: cpio magic %q, want 070701 or 070702 (newc)", start, m)
	}
	var f [13]uint64
	for i := range f {
		v, err := strconv.ParseUint(string(h[6+8*i:14+8*i]), 16, 32)
		if err != nil {
			return fmt.Errorf("offset %d: cpio header field %d %q: not 8 hex digits", start, i, h[6+8*i:14+8*i])
		}
		f[i] = v
	}
	mode, fileSize, nameSize := f[1], int64(f[6]), int(f[11])
	if p.nrec++; p.nrec > p.maxRecords {
		return fmt.Errorf("offset %d: more than %d cpio records", start, p.maxRecords)
	}
	if nameSize < 1 || nameSize > maxName {
		return fmt.Errorf("offset %d: cpio name of %d bytes, want 1-%d", start, nameSize, maxName)
	}
	nb, err := s.read(nameSize)
	if err != nil {
		return fmt.Errorf("offset %d: cpio name: %w", start, err)
	}
	if nb[nameSize-1] != 0 || bytes.IndexByte(nb[:nameSize-1], 0) >= 0 {
		return fmt.Errorf("offset %d: cpio name %q is not one NUL-terminated string", start, nb)
	}
	name := string(nb[:nameSize-1])
	if err := s.skip(pad4(s.off - start)); err != nil {
		return fmt.Errorf("offset %d: %s: name padding: %w", start, name, err)
	}
	t := Type(mode) & typeMask
	var target string
	if t == TypeSymlink && name != typeTrailer {
		if fileSize > maxName {
			return fmt.Errorf("offset %d: %s: symlink target of %d bytes, more than %d", start, name, fileSize, maxName)
		}
		tb, err := s.read(int(fileSize))
		if err != nil {
			return fmt.Errorf("offset %d: %s: symlink target: %w", start, name, err)
		}
		target = string(tb)
	} else if err := s.skip(fileSize); err != nil {
		return fmt.Errorf("offset %d: %s: %d bytes of content: %w", start, name, fileSize, err)
	}
	// The padding after the last record may be missing at the very end.
	if err := s.skip(pad4(s.off - start)); err != nil && err != io.ErrUnexpectedEOF {
		return fmt.Errorf("offset %d: %s: padding: %w", start, name, err)
	}
	switch {
	case name == typeTrailer:
	case t == TypeFile || t == TypeSymlink || fileSize == 0:
		p.fs.apply(name, t, target)
	default:
		// The kernel skips a record that is neither a file nor a symlink and has content.
	}
	return nil
}

func pad4(n int64) int64 { return (4 - n%4) % 4 }

// describePath says what an entry is, for errors and skip reasons.
func describePath(p string, e Entry) string {
	if e.Type == TypeSymlink {
		return fmt.Sprintf("/%s (symlink to %s)", p, e.Target)
	}
	return fmt.Sprintf("/%s (%v)", p, e.Type)
}
