package discover

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// beneath keeps a path resolution on the partition: no "..", absolute path or symbolic link out
// of it, no link followed at all, no crossing into another mount.
const beneath = unix.RESOLVE_BENEATH | unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS | unix.RESOLVE_NO_XDEV

// openat2 opens rel beneath the directory dirfd, retrying what the kernel asks to be retried
// (EAGAIN when a rename raced the lookup, EINTR).
func openat2(dirfd int, rel string, flags uint64) (int, error) {
	how := &unix.OpenHow{Flags: flags, Resolve: beneath}
	var err error
	for range 8 {
		var fd int
		fd, err = unix.Openat2(dirfd, rel, how)
		if err == nil {
			return fd, nil
		}
		if err != unix.EAGAIN && err != unix.EINTR {
			break
		}
	}
	return -1, err
}

// typeName names the file type in a st_mode for an error message.
func typeName(mode uint32) string {
	switch mode & unix.S_IFMT {
	case unix.S_IFREG:
		return "a regular file"
	case unix.S_IFDIR:
		return "a directory"
	case unix.S_IFIFO:
		return "a FIFO"
	case unix.S_IFLNK:
		return "a symbolic link"
	case unix.S_IFCHR:
		return "a character device"
	case unix.S_IFBLK:
		return "a block device"
	case unix.S_IFSOCK:
		return "a socket"
	}
	return fmt.Sprintf("of unknown type %#o", mode&unix.S_IFMT)
}

// notRegular is the error for rel of type mode where a regular file is expected.
func notRegular(rel string, mode uint32) error {
	if mode&unix.S_IFMT == unix.S_IFLNK {
		return fmt.Errorf("%s is a symbolic link, not a regular file; links on a boot disk are not followed: nothing off the disks is booted", rel)
	}
	return fmt.Errorf("%s is %s, not a regular file", rel, typeName(mode))
}

// relOnDisk checks that rel names a file of the partition, relative to its root.
func relOnDisk(rel string) error {
	if filepath.IsAbs(rel) || rel == ".." || strings.HasPrefix(rel, "../") {
		return fmt.Errorf("%s lies outside the partition; nothing off the disks is read", rel)
	}
	return nil
}

// resolveError says why openat2 refused rel beneath root, for a person. A missing file keeps
// fs.ErrNotExist in its chain so callers can try the next place.
func resolveError(root, rel string, err error) error {
	switch {
	case errors.Is(err, unix.ENOENT), errors.Is(err, unix.ENOTDIR):
		return fmt.Errorf("%s on %s: %w", rel, root, fs.ErrNotExist)
	case errors.Is(err, unix.ELOOP):
		return fmt.Errorf("%s on %s: a directory on its path is a symbolic link; links on a boot disk are not followed: %w", rel, root, err)
	case errors.Is(err, unix.EXDEV):
		return fmt.Errorf("%s on %s leads off the partition (\"..\", a link or another mount); nothing off the disks is read: %w", rel, root, err)
	}
	return fmt.Errorf("openat2(%s, %s, RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS|RESOLVE_NO_MAGICLINKS|RESOLVE_NO_XDEV): %w", root, rel, err)
}

// statBeneath returns the type and identity of rel on the partition mounted at root without
// opening the file itself (O_PATH: no FIFO blocks, no device driver's open runs) and without
// following any link. A missing file gives an error wrapping fs.ErrNotExist.
func statBeneath(root, rel string) (unix.Stat_t, error) {
	dfd, st, err := pathBeneath(root, rel)
	if err == nil {
		unix.Close(dfd)
	}
	return st, err
}

// pathBeneath is statBeneath that also returns an O_PATH descriptor of root, for opening rel
// for real once its type is known; the caller closes it.
func pathBeneath(root, rel string) (int, unix.Stat_t, error) {
	var st unix.Stat_t
	if err := relOnDisk(rel); err != nil {
		return -1, st, err
	}
	dfd, err := unix.Open(root, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, st, fmt.Errorf("open(%s, O_PATH|O_DIRECTORY): %w", root, err)
	}
	fd, err := openat2(dfd, rel, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC)
	if err != nil {
		unix.Close(dfd)
		return -1, st, resolveError(root, rel, err)
	}
	err = unix.Fstat(fd, &st)
	unix.Close(fd)
	if err != nil {
		unix.Close(dfd)
		return -1, st, fmt.Errorf("fstat(%s on %s): %w", rel, root, err)
	}
	return dfd, st, nil
}

// checkRegular says whether rel on root, if it exists, is a regular file reached without a link:
// what must hold of every file one of u-root's parsers opens itself. A missing file is no error
// (the parser skips it).
func checkRegular(root, rel string) error {
	st, err := statBeneath(root, rel)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		return notRegular(rel, st.Mode)
	}
	return nil
}

// openBeneath opens rel on the partition mounted at root for reading: beneath root, no link
// followed, never blocking, and only if it is a regular file (checked through an O_PATH
// descriptor first, so that opening a device node on the disk never runs its driver).
func openBeneath(root, rel string) (*os.File, error) {
	dfd, pst, err := pathBeneath(root, rel)
	if err != nil {
		return nil, err
	}
	defer unix.Close(dfd)
	if pst.Mode&unix.S_IFMT != unix.S_IFREG {
		return nil, notRegular(rel, pst.Mode)
	}
	fd, err := openat2(dfd, rel, unix.O_RDONLY|unix.O_NONBLOCK|unix.O_NOFOLLOW|unix.O_CLOEXEC)
	if err != nil {
		return nil, resolveError(root, rel, err)
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("fstat(%s on %s): %w", rel, root, err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG || st.Dev != pst.Dev || st.Ino != pst.Ino {
		unix.Close(fd)
		return nil, fmt.Errorf("%s on %s changed while it was opened (now %s); refusing it", rel, root, typeName(st.Mode))
	}
	return os.NewFile(uintptr(fd), filepath.Join(root, rel)), nil
}

// readBeneath reads rel on the partition mounted at root, as openBeneath opens it, refusing a
// file larger than max bytes.
func readBeneath(root, rel string, max int64) ([]byte, error) {
	f, err := openBeneath(root, rel)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, fmt.Errorf("read %s on %s: %w", rel, root, err)
	}
	if int64(len(b)) > max {
		return nil, fmt.Errorf("%s on %s is larger than %d bytes; refusing it as a boot configuration", rel, root, max)
	}
	return b, nil
}

// maxDirNames bounds the names discovery lists in one directory of a boot disk.
const maxDirNames = 1 << 16

// listBeneath returns every name in the directory rel on the partition mounted at root, opened
// as openBeneath opens files (beneath root, no link followed). A directory of more than
// maxDirNames names is refused.
func listBeneath(root, rel string) ([]string, error) {
	if err := relOnDisk(rel); err != nil {
		return nil, err
	}
	dfd, err := unix.Open(root, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open(%s, O_PATH|O_DIRECTORY): %w", root, err)
	}
	defer unix.Close(dfd)
	fd, err := openat2(dfd, rel, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC)
	if err != nil {
		if errors.Is(err, unix.ENOTDIR) {
			if st, serr := statBeneath(root, rel); serr == nil {
				return nil, fmt.Errorf("%s is %s, not a directory", rel, typeName(st.Mode))
			}
		}
		return nil, resolveError(root, rel, err)
	}
	d := os.NewFile(uintptr(fd), filepath.Join(root, rel))
	defer d.Close()
	var names []string
	for {
		batch, err := d.Readdirnames(1024)
		names = append(names, batch...)
		if len(names) > maxDirNames {
			return nil, fmt.Errorf("%s on %s has more than %d names; refusing to scan it", rel, root, maxDirNames)
		}
		if err == io.EOF || len(batch) == 0 {
			return names, nil
		}
		if err != nil {
			return nil, fmt.Errorf("list %s on %s: %w", rel, root, err)
		}
	}
}
