package appraise

import (
	"errors"
	"fmt"
	"io"
	"os"

	"golang.org/x/sys/unix"
)

// MaxSigFile bounds a detached signature or an xattr: an RSA-4096 v2 signature is 521 bytes.
const MaxSigFile = 64 << 10

// ReadEvidence reads what lies beside the file at path: path.sig (if present) and the
// security.ima extended attribute (if the file system has one). A missing file or attribute is
// no evidence; anything else, such as a .sig larger than MaxSigFile, is an error.
func ReadEvidence(path string) (Evidence, error) {
	var ev Evidence
	f, err := os.Open(path + ".sig")
	switch {
	case err == nil:
		defer f.Close()
		b, err := io.ReadAll(io.LimitReader(f, MaxSigFile+1))
		if err != nil {
			return ev, err
		}
		if len(b) > MaxSigFile {
			return ev, fmt.Errorf("%s.sig is larger than %d bytes", path, MaxSigFile)
		}
		ev.SigFile = b
	case !errors.Is(err, os.ErrNotExist):
		return ev, err
	}
	buf := make([]byte, MaxSigFile)
	n, err := unix.Getxattr(path, "security.ima", buf)
	switch {
	case err == nil:
		ev.XAttr = buf[:n]
	case errors.Is(err, unix.ENODATA), errors.Is(err, unix.EOPNOTSUPP), errors.Is(err, unix.ENOTSUP):
	default:
		return ev, fmt.Errorf("getxattr(%s, security.ima): %w", path, err)
	}
	return ev, nil
}
