package kexec

import (
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/measuredboot/measuredboot/pkg/partfs"
)

// MaxFileSize bounds what a read accepts, whatever the Budget: a kernel, or the files of one
// multi-file buffer together, larger than this is refused rather than read into memory.
const MaxFileSize = 1 << 30

// Buffer is a file's bytes held in a memfd. Bytes returns the measured prefix: the file as read,
// exactly once, from the disk.
type Buffer struct {
	Name     string
	f        *os.File
	prefix   []byte // read-only private mapping of [0, len(prefix))
	size     int64  // current size, prefix plus appended bytes
	sealed   bool
	ReadSize int64 // bytes read from the source file
	// Owner and Group are the st_uid and st_gid of the descriptor the bytes were read from (what
	// an IMA rule's fowner= and fgroup= test). A buffer of several files has its last file's; each
	// Part has its own.
	Owner, Group uint32
	budget       *Budget // where held is reserved, nil for none
	held         int64
}

// Part is one file's place in a Buffer that holds several (an initramfs made of early images and
// the main initramfs).
type Part struct {
	Path     string
	Off, Len int64
	Read     int64 // bytes read from the file into the buffer (Len once the read succeeded)
	// Owner and Group are the file's st_uid and st_gid, from the fstat of the descriptor it was
	// read from.
	Owner, Group uint32
}

// PartAlign is where each part of a multi-file buffer starts: the kernel looks for the next
// archive of an initramfs at a 4-byte boundary, and GRUB pads its initrds the same way.
const PartAlign = 4

// Source is an open file to read into a Buffer: File is open for reading (partfs.Open opens a
// boot partition's files safely), Path names it in errors, in Part.Path and in the memfd's name.
// The readers check again, with fstat on File, that it is a regular file; they read it with
// pread(2) from offset 0 and never close it: the caller does.
type Source struct {
	Path string
	File *os.File
}

// ReadFiles opens each path with partfs.OpenPath (no final link, no special file, no blocking)
// and reads them with ReadOpenFiles, without a Budget. The boot program reads a disk's files with
// ReadOpenFiles, opened beneath their partition's root.
func ReadFiles(name string, paths []string) (*Buffer, []Part, error) {
	srcs := make([]Source, 0, len(paths))
	defer func() {
		for _, s := range srcs {
			s.File.Close()
		}
	}()
	for _, p := range paths {
		f, _, err := partfs.OpenPath(p)
		if err != nil {
			return nil, nil, err
		}
		srcs = append(srcs, Source{p, f})
	}
	return ReadOpenFiles(name, srcs, nil)
}

// ReadOpenFiles reads each source once, in order, into one new memfd, each at the next PartAlign
// boundary with zero padding between, as a boot loader concatenates initrds. The memfd is sealed
// against shrinking and mapped read-only like ReadOpen's; Parts says where each file is and whose
// it is. The whole size is reserved in budget (nil: none) before anything is allocated, and
// released by Buffer.Close. A source that is not a non-empty regular file, a total above
// MaxFileSize or over the budget, or a file whose size changes while it is read is an error.
func ReadOpenFiles(name string, srcs []Source, budget *Budget) (*Buffer, []Part, error) {
	var parts []Part
	var size int64
	for _, src := range srcs {
		st, err := regularFile(src)
		if err != nil {
			return nil, nil, err
		}
		if st.size == 0 {
			return nil, nil, fmt.Errorf("%s: an empty file; want a non-empty regular file", src.Path)
		}
		size = (size + PartAlign - 1) / PartAlign * PartAlign
		parts = append(parts, Part{Path: src.Path, Off: size, Len: st.size, Owner: st.uid, Group: st.gid})
		size += st.size
		if size > MaxFileSize {
			return nil, nil, fmt.Errorf("%s: the files add up to more than %d bytes at %s", name, MaxFileSize, src.Path)
		}
	}
	if len(parts) == 0 {
		return nil, nil, fmt.Errorf("%s: no files", name)
	}
	b, err := newBuffer(name, size, budget)
	if err != nil {
		return nil, nil, err
	}
	last := parts[len(parts)-1]
	b.Owner, b.Group = last.Owner, last.Group
	rs := make([]io.Reader, len(srcs))
	for i, s := range srcs {
		rs[i] = io.NewSectionReader(s.File, 0, math.MaxInt64)
	}
	if err := b.fillParts(rs, parts); err != nil {
		b.Close()
		return nil, nil, err
	}
	return b, parts, nil
}

// ReadFile opens path with partfs.OpenPath (no final link, no special file, no blocking) and
// reads it with ReadOpen, without a Budget. The boot program reads a disk's files with ReadOpen,
// opened beneath their partition's root.
func ReadFile(path string) (*Buffer, error) {
	f, _, err := partfs.OpenPath(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return ReadOpen(Source{path, f}, nil)
}

// ReadOpen reads src once into a new memfd named after its path, seals the memfd against shrinking
// and maps its contents read-only. Its size is reserved in budget (nil: none) before anything is
// allocated, and released by Buffer.Close. A source that is not a regular file, an empty file, a
// file larger than MaxFileSize or over the budget, or a file whose size changes while it is read
// is an error.
func ReadOpen(src Source, budget *Budget) (*Buffer, error) {
	st, err := regularFile(src)
	if err != nil {
		return nil, err
	}
	if st.size == 0 || st.size > MaxFileSize {
		return nil, fmt.Errorf("%s: size %d bytes is outside 1..%d", src.Path, st.size, MaxFileSize)
	}
	b, err := newBuffer(src.Path, st.size, budget)
	if err != nil {
		return nil, err
	}
	b.Owner, b.Group = st.uid, st.gid
	part := []Part{{Path: src.Path, Len: st.size, Owner: st.uid, Group: st.gid}}
	if err := b.fillParts([]io.Reader{io.NewSectionReader(src.File, 0, math.MaxInt64)}, part); err != nil {
		b.Close()
		return nil, err
	}
	return b, nil
}

// fileStat is what a read needs of a source's fstat.
type fileStat struct {
	size     int64
	uid, gid uint32
}

// regularFile checks with fstat on the source's descriptor that it is a regular file, and
// returns its size and owner.
func regularFile(src Source) (fileStat, error) {
	if src.File == nil {
		return fileStat{}, fmt.Errorf("%s: not open", src.Path)
	}
	fi, err := src.File.Stat()
	if err != nil {
		return fileStat{}, fmt.Errorf("fstat(%s): %w", src.Path, err)
	}
	if !fi.Mode().IsRegular() {
		return fileStat{}, fmt.Errorf("%s: %s, %w", src.Path, partfs.Kind(fi.Mode()), partfs.ErrNotRegular)
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return fileStat{}, fmt.Errorf("fstat(%s): no owner in %T", src.Path, fi.Sys())
	}
	return fileStat{size: fi.Size(), uid: st.Uid, gid: st.Gid}, nil
}

// newBuffer reserves size bytes in budget, then makes a memfd of that size.
func newBuffer(name string, size int64, budget *Budget) (*Buffer, error) {
	if err := budget.Reserve(name, size); err != nil {
		return nil, err
	}
	fd, err := unix.MemfdCreate(name, unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING)
	if err != nil {
		budget.Release(size)
		return nil, fmt.Errorf("memfd_create(%q): %w", name, err)
	}
	f := os.NewFile(uintptr(fd), "memfd:"+name)
	if err := f.Truncate(size); err != nil {
		f.Close()
		budget.Release(size)
		return nil, fmt.Errorf("ftruncate(memfd:%s, %d): %w", name, size, err)
	}
	return &Buffer{Name: name, f: f, size: size, budget: budget, held: size}, nil
}

// fillParts reads each source into its part of the memfd through a temporary writable mapping,
// then replaces it with a read-only one and seals the size against shrinking. Both mappings are
// populated when made (MAP_POPULATE): one call instead of a page fault per page, which costs the
// most where faults are slowest, under emulation.
func (b *Buffer) fillParts(srcs []io.Reader, parts []Part) error {
	rw, err := unix.Mmap(int(b.f.Fd()), 0, int(b.size), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_POPULATE)
	if err != nil {
		return fmt.Errorf("mmap(memfd:%s, %d): %w", b.Name, b.size, err)
	}
	for i, p := range parts {
		n, rerr := io.ReadFull(srcs[i], rw[p.Off:p.Off+p.Len])
		b.ReadSize += int64(n)
		parts[i].Read = int64(n)
		if rerr != nil {
			err = fmt.Errorf("%s: read %d of %d bytes: %w", p.Path, n, p.Len, rerr)
			break
		}
		var one [1]byte
		if m, _ := srcs[i].Read(one[:]); m != 0 {
			err = fmt.Errorf("%s: file grew while it was read (more than %d bytes)", p.Path, p.Len)
			break
		}
	}
	if uerr := unix.Munmap(rw); err == nil && uerr != nil {
		err = uerr
	}
	if err != nil {
		return err
	}
	if _, err := unix.FcntlInt(b.f.Fd(), unix.F_ADD_SEALS, unix.F_SEAL_SHRINK); err != nil {
		return fmt.Errorf("fcntl(memfd:%s, F_ADD_SEALS, F_SEAL_SHRINK): %w", b.Name, err)
	}
	// MAP_PRIVATE: a shared mapping of a read-write descriptor would keep F_SEAL_WRITE from being
	// added; a private read-only mapping reads the same page-cache pages and can never write them.
	b.prefix, err = unix.Mmap(int(b.f.Fd()), 0, int(b.size), unix.PROT_READ, unix.MAP_PRIVATE|unix.MAP_POPULATE)
	if err != nil {
		return fmt.Errorf("mmap(memfd:%s, read-only): %w", b.Name, err)
	}
	return nil
}

// Empty returns a buffer with no measured prefix, for an entry without an initramfs: only Append
// fills it.
func Empty(name string) (*Buffer, error) {
	return newBuffer(name, 0, nil)
}

// All returns a copy of the whole memfd as the kernel will read it: the prefix and what was
// appended.
func (b *Buffer) All() []byte {
	p := make([]byte, b.size)
	n, _ := b.f.ReadAt(p, 0)
	return p[:n]
}

// Bytes returns the measured prefix: the file's bytes as read, in a read-only mapping of the memfd.
// It is valid until Close.
func (b *Buffer) Bytes() []byte { return b.prefix }

// Size returns the memfd's size: the prefix plus anything appended.
func (b *Buffer) Size() int64 { return b.size }

// Append writes p after everything already in the buffer, first padding with zeros to a multiple
// of align bytes. It fails once the buffer is sealed, or when the growth is over the budget the
// buffer was read with. The measured prefix is never written.
func (b *Buffer) Append(p []byte, align int64) error {
	if b.sealed {
		return fmt.Errorf("memfd:%s: append after seal", b.Name)
	}
	off := b.size
	if align > 1 {
		off = (off + align - 1) / align * align
	}
	grow := off + int64(len(p)) - b.size
	if err := b.budget.Reserve("memfd:"+b.Name+": append", grow); err != nil {
		return err
	}
	if _, err := b.f.WriteAt(p, off); err != nil {
		b.budget.Release(grow)
		return fmt.Errorf("memfd:%s: append %d bytes at %d: %w", b.Name, len(p), off, err)
	}
	b.held += grow
	b.size = off + int64(len(p))
	return nil
}

// Seal forbids every further write, growth, shrink and change of seals.
func (b *Buffer) Seal() error {
	seals := unix.F_SEAL_WRITE | unix.F_SEAL_GROW | unix.F_SEAL_SHRINK | unix.F_SEAL_SEAL
	if _, err := unix.FcntlInt(b.f.Fd(), unix.F_ADD_SEALS, seals); err != nil {
		return fmt.Errorf("fcntl(memfd:%s, F_ADD_SEALS, write|grow|shrink|seal): %w", b.Name, err)
	}
	b.sealed = true
	return nil
}

// Sealed reports whether the kernel holds all four seals on the memfd.
func (b *Buffer) Sealed() (bool, error) {
	s, err := unix.FcntlInt(b.f.Fd(), unix.F_GET_SEALS, 0)
	if err != nil {
		return false, err
	}
	all := unix.F_SEAL_WRITE | unix.F_SEAL_GROW | unix.F_SEAL_SHRINK | unix.F_SEAL_SEAL
	return s&all == all, nil
}

// Fd returns the memfd's descriptor, for kexec_file_load.
func (b *Buffer) Fd() int { return int(b.f.Fd()) }

// Close unmaps and closes the memfd and returns its bytes to the budget it was read with.
func (b *Buffer) Close() error {
	var err error
	if b.prefix != nil {
		err = unix.Munmap(b.prefix)
		b.prefix = nil
	}
	b.budget.Release(b.held)
	b.held = 0
	return errors.Join(err, b.f.Close())
}
