package kexec

import (
	"errors"
	"fmt"
	"io"
	"os"

	"golang.org/x/sys/unix"
)

// MaxFileSize bounds what ReadFile accepts: a kernel or initramfs larger than this is refused
// rather than read into memory.
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
}

// Part is one file's place in a Buffer that holds several (an initramfs made of early images and
// the main initramfs).
type Part struct {
	Path     string
	Off, Len int64
	Read     int64 // bytes read from the file into the buffer (Len once the read succeeded)
}

// PartAlign is where each part of a multi-file buffer starts: the kernel looks for the next
// archive of an initramfs at a 4-byte boundary, and GRUB pads its initrds the same way.
const PartAlign = 4

// ReadFiles reads each path once, in order, into one new memfd, each at the next PartAlign
// boundary with zero padding between, as a boot loader concatenates initrds. The memfd is sealed
// against shrinking and mapped read-only like ReadFile's; Parts says where each file is.
func ReadFiles(name string, paths []string) (*Buffer, []Part, error) {
	var parts []Part
	var size int64
	var srcs []*os.File
	defer func() {
		for _, f := range srcs {
			f.Close()
		}
	}()
	for _, p := range paths {
		f, err := os.Open(p)
		if err != nil {
			return nil, nil, err
		}
		srcs = append(srcs, f)
		st, err := f.Stat()
		if err != nil {
			return nil, nil, err
		}
		if !st.Mode().IsRegular() || st.Size() == 0 {
			return nil, nil, fmt.Errorf("%s: not a non-empty regular file", p)
		}
		size = (size + PartAlign - 1) / PartAlign * PartAlign
		parts = append(parts, Part{Path: p, Off: size, Len: st.Size()})
		size += st.Size()
		if size > MaxFileSize {
			return nil, nil, fmt.Errorf("%s: the files add up to more than %d bytes", name, MaxFileSize)
		}
	}
	if len(parts) == 0 {
		return nil, nil, fmt.Errorf("%s: no files", name)
	}
	b, err := newBuffer(name, size)
	if err != nil {
		return nil, nil, err
	}
	rs := make([]io.Reader, len(srcs))
	for i, f := range srcs {
		rs[i] = f
	}
	if err := b.fillParts(rs, parts); err != nil {
		b.Close()
		return nil, nil, err
	}
	return b, parts, nil
}

// ReadFile reads path once into a new memfd named after it, seals the memfd against shrinking and
// maps its contents read-only. An empty file, a file larger than MaxFileSize, or a file whose size
// changes while it is read is an error.
func ReadFile(path string) (*Buffer, error) {
	src, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer src.Close()
	st, err := src.Stat()
	if err != nil {
		return nil, err
	}
	size := st.Size()
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: not a regular file", path)
	}
	if size == 0 || size > MaxFileSize {
		return nil, fmt.Errorf("%s: size %d bytes is outside 1..%d", path, size, MaxFileSize)
	}
	b, err := newBuffer(path, size)
	if err != nil {
		return nil, err
	}
	if err := b.fillParts([]io.Reader{src}, []Part{{Path: path, Len: size}}); err != nil {
		b.Close()
		return nil, err
	}
	return b, nil
}

func newBuffer(name string, size int64) (*Buffer, error) {
	fd, err := unix.MemfdCreate(name, unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING)
	if err != nil {
		return nil, fmt.Errorf("memfd_create(%q): %w", name, err)
	}
	f := os.NewFile(uintptr(fd), "memfd:"+name)
	if err := f.Truncate(size); err != nil {
		f.Close()
		return nil, fmt.Errorf("ftruncate(memfd:%s, %d): %w", name, size, err)
	}
	return &Buffer{Name: name, f: f, size: size}, nil
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
	return newBuffer(name, 0)
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
// of align bytes. It fails once the buffer is sealed. The measured prefix is never written.
func (b *Buffer) Append(p []byte, align int64) error {
	if b.sealed {
		return fmt.Errorf("memfd:%s: append after seal", b.Name)
	}
	off := b.size
	if align > 1 {
		off = (off + align - 1) / align * align
	}
	if _, err := b.f.WriteAt(p, off); err != nil {
		return fmt.Errorf("memfd:%s: append %d bytes at %d: %w", b.Name, len(p), off, err)
	}
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

// Close unmaps and closes the memfd.
func (b *Buffer) Close() error {
	var err error
	if b.prefix != nil {
		err = unix.Munmap(b.prefix)
		b.prefix = nil
	}
	return errors.Join(err, b.f.Close())
}
