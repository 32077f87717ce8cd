package appraise

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"

	"golang.org/x/sys/unix"

	"github.com/measuredboot/measuredboot/pkg/partfs"
)

// MaxSigFile bounds a detached signature or an xattr: an RSA-4096 v2 signature is 521 bytes.
const MaxSigFile = 64 << 10

// IMAXattr is the extended attribute that holds a file's IMA signature.
const IMAXattr = "security.ima"

// ReadEvidence reads what lies beside the file at path: path.sig (if present) and the
// security.ima extended attribute of the file itself (if the file system has one), both opened
// with partfs.OpenPath: a final symbolic link, a FIFO or a device in either place is an error,
// never followed, blocked on or read. A missing .sig or attribute is no evidence; anything else,
// such as a .sig larger than MaxSigFile, is an error. It is for files that are not on a scanned
// boot partition (host tools, tests); the boot program opens both files beneath their
// partition's root (partfs.Open) and calls ReadSigFile and ReadIMAXattr.
func ReadEvidence(path string) (Evidence, error) {
	var ev Evidence
	sig, _, err := partfs.OpenPath(path + ".sig")
	switch {
	case err == nil:
		defer sig.Close()
		if ev.SigFile, err = ReadSigFile(sig, path+".sig"); err != nil {
			return Evidence{}, err
		}
	case !errors.Is(err, fs.ErrNotExist):
		return Evidence{}, err
	}
	f, _, err := partfs.OpenPath(path)
	if err != nil {
		return Evidence{}, err
	}
	defer f.Close()
	if ev.XAttr, err = ReadIMAXattr(f, path); err != nil {
		return Evidence{}, err
	}
	return ev, nil
}

// ReadSigFile reads a detached signature (FILE.sig) from f, an open regular file named name, from
// its start: at most MaxSigFile bytes, or an error.
func ReadSigFile(f *os.File, name string) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(io.NewSectionReader(f, 0, MaxSigFile+1), MaxSigFile+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	if len(b) > MaxSigFile {
		return nil, fmt.Errorf("%s is larger than %d bytes; a signature is at most a few hundred", name, MaxSigFile)
	}
	return b, nil
}

// ReadIMAXattr reads the security.ima attribute of the open file f (named name in errors) with
// fgetxattr(2) on its descriptor, so that it is the attribute of the very file that was opened,
// never of a link's target (getxattr(2) by path follows links). A file without one, or a file
// system without extended attributes, gives nil and no error.
func ReadIMAXattr(f *os.File, name string) ([]byte, error) {
	rc, err := f.SyscallConn()
	if err != nil {
		return nil, fmt.Errorf("fgetxattr(%s, %s): %w", name, IMAXattr, err)
	}
	buf := make([]byte, MaxSigFile)
	var n int
	var xerr error
	if err := rc.Control(func(fd uintptr) { n, xerr = unix.Fgetxattr(int(fd), IMAXattr, buf) }); err != nil {
		return nil, fmt.Errorf("fgetxattr(%s, %s): %w", name, IMAXattr, err)
	}
	switch {
	case xerr == nil:
		return buf[:n], nil
	case errors.Is(xerr, unix.ENODATA), errors.Is(xerr, unix.EOPNOTSUPP), errors.Is(xerr, unix.ENOTSUP):
		return nil, nil
	case errors.Is(xerr, unix.ERANGE):
		return nil, fmt.Errorf("fgetxattr(%s, %s): larger than %d bytes: %w", name, IMAXattr, MaxSigFile, xerr)
	}
	return nil, fmt.Errorf("fgetxattr(%s, %s): %w", name, IMAXattr, xerr)
}
