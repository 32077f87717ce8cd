package kcrypto

import (
	"crypto"
	"fmt"

	"golang.org/x/sys/unix"
)

// Sum returns h's digest of data, computed by the kernel: one AF_ALG operation socket, data
// passed by reference in one sendmsg (the kernel maps the caller's pages, it does not copy them),
// the digest read back. It fails when the kernel has no AF_ALG hash interface (module
// algif_hash) or no implementation of h; the caller decides whether to hash in Go instead.
func Sum(h crypto.Hash, data []byte) ([]byte, error) {
	name := Name(h)
	if name == "" {
		return nil, fmt.Errorf("kcrypto: %v is not one of sha1, sha256, sha384, sha512", h)
	}
	fd, err := unix.Socket(unix.AF_ALG, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("kcrypto: socket(AF_ALG): %w (is algif_hash loaded?)", err)
	}
	defer unix.Close(fd)
	if err := unix.Bind(fd, &unix.SockaddrALG{Type: "hash", Name: name}); err != nil {
		return nil, fmt.Errorf("kcrypto: bind(AF_ALG hash %s): %w", name, err)
	}
	// accept(2) on an AF_ALG socket returns an operation socket without a peer address, which
	// unix.Accept reports as ECONNABORTED: call accept4 directly.
	r, _, errno := unix.Syscall6(unix.SYS_ACCEPT4, uintptr(fd), 0, 0, unix.SOCK_CLOEXEC, 0, 0)
	if errno != 0 {
		return nil, fmt.Errorf("kcrypto: accept(AF_ALG hash %s): %w", name, errno)
	}
	op := int(r)
	defer unix.Close(op)
	// Large buffers go in pieces: the kernel pins each sendmsg's pages, and a piece bounds that.
	const piece = 4 << 20
	for off := 0; off < len(data); {
		end := min(off+piece, len(data))
		flags := unix.MSG_MORE
		if end == len(data) {
			flags = 0
		}
		// A short send would have ended the hash early (no MSG_MORE on the last piece): fail.
		n, err := unix.SendmsgN(op, data[off:end], nil, nil, flags)
		if err == nil && n != end-off {
			err = fmt.Errorf("sent %d bytes", n)
		}
		if err != nil {
			return nil, fmt.Errorf("kcrypto: sendmsg(AF_ALG hash %s, %d bytes at %d): %w", name, end-off, off, err)
		}
		off = end
	}
	sum := make([]byte, h.Size())
	n, err := unix.Read(op, sum)
	if err != nil {
		return nil, fmt.Errorf("kcrypto: read(AF_ALG hash %s): %w", name, err)
	}
	if n != len(sum) {
		return nil, fmt.Errorf("kcrypto: AF_ALG hash %s gave %d bytes, want %d", name, n, len(sum))
	}
	return sum, nil
}
