package kcrypto

import (
	"crypto"
	"errors"
	"fmt"

	"golang.org/x/sys/unix"
)

// Hash is a digest the kernel computes while the bytes are written to it: an AF_ALG operation
// socket. Each Write passes its bytes by reference in sendmsg (the kernel maps the caller's
// pages, it does not copy them) and hashes them before returning; Sum reads the digest.
type Hash struct {
	h       crypto.Hash
	name    string
	fd, op  int
	written int64
	done    bool
}

// New opens a kernel hash of h. It fails when the kernel has no AF_ALG hash interface (module
// algif_hash) or no implementation of h (ENOENT: its module is not loaded); the caller decides
// whether to hash in Go instead.
func New(h crypto.Hash) (*Hash, error) {
	name := Name(h)
	if name == "" {
		return nil, fmt.Errorf("kcrypto: %v is not one of sha1, sha256, sha384, sha512", h)
	}
	fd, err := unix.Socket(unix.AF_ALG, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("kcrypto: socket(AF_ALG): %w (is algif_hash loaded?)", err)
	}
	if err := unix.Bind(fd, &unix.SockaddrALG{Type: "hash", Name: name}); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("kcrypto: bind(AF_ALG hash %s): %w", name, err)
	}
	// accept(2) on an AF_ALG socket returns an operation socket without a peer address, which
	// unix.Accept reports as ECONNABORTED: call accept4 directly.
	r, _, errno := unix.Syscall6(unix.SYS_ACCEPT4, uintptr(fd), 0, 0, unix.SOCK_CLOEXEC, 0, 0)
	if errno != 0 {
		unix.Close(fd)
		return nil, fmt.Errorf("kcrypto: accept(AF_ALG hash %s): %w", name, errno)
	}
	return &Hash{h: h, name: name, fd: fd, op: int(r)}, nil
}

// Write hashes p. Large writes go in pieces: the kernel pins each sendmsg's pages.
func (k *Hash) Write(p []byte) (int, error) {
	if k.done {
		return 0, fmt.Errorf("kcrypto: write to a finished %s hash", k.name)
	}
	const piece = 4 << 20
	for off := 0; off < len(p); {
		end := min(off+piece, len(p))
		// Every piece says MSG_MORE: the digest is finalised when Sum reads it, so a short send
		// cannot end the hash early; it is an error all the same.
		n, err := unix.SendmsgN(k.op, p[off:end], nil, nil, unix.MSG_MORE)
		if err == nil && n != end-off {
			err = fmt.Errorf("sent %d bytes", n)
		}
		if err != nil {
			return off, fmt.Errorf("kcrypto: sendmsg(AF_ALG hash %s, %d bytes at %d): %w", k.name, end-off, k.written+int64(off), err)
		}
		off = end
	}
	k.written += int64(len(p))
	return len(p), nil
}

// Sum returns the digest of everything written and closes the hash.
func (k *Hash) Sum() ([]byte, error) {
	if k.done {
		return nil, fmt.Errorf("kcrypto: %s hash already summed", k.name)
	}
	defer k.Close()
	sum := make([]byte, k.h.Size())
	n, err := unix.Read(k.op, sum)
	if err != nil {
		return nil, fmt.Errorf("kcrypto: read(AF_ALG hash %s): %w", k.name, err)
	}
	if n != len(sum) {
		return nil, fmt.Errorf("kcrypto: AF_ALG hash %s gave %d bytes, want %d", k.name, n, len(sum))
	}
	return sum, nil
}

// Close releases the hash's sockets; after Sum it does nothing.
func (k *Hash) Close() error {
	if k.done {
		return nil
	}
	k.done = true
	return errors.Join(unix.Close(k.op), unix.Close(k.fd))
}

// Sum returns h's digest of data, computed by the kernel (New, Write, Sum).
func Sum(h crypto.Hash, data []byte) ([]byte, error) {
	k, err := New(h)
	if err != nil {
		return nil, err
	}
	if _, err := k.Write(data); err != nil {
		k.Close()
		return nil, err
	}
	return k.Sum()
}
