package partfs

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"

	"golang.org/x/sys/unix"
)

// resolve is how every path beneath a partition's root is resolved (see the package comment).
const resolve = unix.RESOLVE_BENEATH | unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS | unix.RESOLVE_NO_XDEV

// openFlags open a file for reading without blocking on a FIFO or a device, without following a
// final link and without taking a terminal.
const openFlags = unix.O_RDONLY | unix.O_NONBLOCK | unix.O_NOFOLLOW | unix.O_NOCTTY | unix.O_CLOEXEC

// Open opens rel, a path relative to root (a partition's mount point, as Root returns it), as a
// regular file for reading, beneath root without following any link (see the package comment). It
// returns the file, in blocking mode, and its fstat. The errors name root/rel:
//   - a FIFO, device, socket or directory: "ROOT/REL: a FIFO, not a regular file" (ErrNotRegular);
//   - a symbolic link anywhere in the path: ErrLink and unix.ELOOP;
//   - a path leaving root (an absolute rel, "..", a mount point inside): unix.EXDEV;
//   - a missing file: an error for which errors.Is(err, fs.ErrNotExist) holds.
func Open(root, rel string) (*os.File, fs.FileInfo, error) {
	name := filepath.Join(root, rel)
	rfd, err := openRoot(root)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", name, err)
	}
	defer unix.Close(rfd)
	fd, err := openat2(rfd, root, rel, openFlags)
	if err != nil {
		return nil, nil, err
	}
	return regular(fd, name)
}

// OpenPath opens path as a regular file for reading, like Open but by a plain path: it refuses a
// final symbolic link and any special file without blocking, but follows links in the directories
// above. It is for files that are not on a scanned boot partition (host tools, tests); the boot
// program reads a disk's files with Open.
func OpenPath(path string) (*os.File, fs.FileInfo, error) {
	fd, err := unix.Open(path, openFlags, 0)
	if errors.Is(err, unix.ELOOP) {
		return nil, nil, fmt.Errorf("%s: %s, %w (open with O_NOFOLLOW: %w); name the file itself", path, Kind(fs.ModeSymlink), ErrNotRegular, err)
	} else if err != nil {
		return nil, nil, &fs.PathError{Op: "open", Path: path, Err: err}
	}
	return regular(fd, path)
}

// openRoot returns an O_PATH descriptor of the directory root, the anchor of every openat2.
func openRoot(root string) (int, error) {
	fd, err := unix.Open(root, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, fmt.Errorf("open partition root %s (O_PATH|O_DIRECTORY): %w", root, err)
	}
	return fd, nil
}

// openat2 opens rel beneath the descriptor rfd of root with flags and the resolve flags above, and
// turns the kernel's refusals into errors a person can act on.
func openat2(rfd int, root, rel string, flags int) (int, error) {
	name := filepath.Join(root, rel)
	how := &unix.OpenHow{Flags: uint64(flags), Resolve: resolve}
	var fd int
	var err error
	for range 3 { // EAGAIN: a rename raced the ".." check; none is allowed, but retry as the man page says
		if fd, err = unix.Openat2(rfd, rel, how); !errors.Is(err, unix.EAGAIN) {
			break
		}
	}
	switch {
	case err == nil:
		return fd, nil
	case errors.Is(err, unix.ELOOP):
		return -1, fmt.Errorf("%s: %w (openat2 beneath %s: %w)", name, ErrLink, root, err)
	case errors.Is(err, unix.EXDEV):
		return -1, fmt.Errorf("%s: leaves the partition mounted at %s (an absolute path, \"..\" or another mount on the way; openat2: %w)", name, root, err)
	case errors.Is(err, unix.ENOSYS):
		return -1, fmt.Errorf("%s: openat2 beneath %s: %w; this needs Linux 5.6 or later, and nothing is read from the disk without it", name, root, err)
	}
	return -1, fmt.Errorf("%s: openat2 beneath %s: %w", name, root, err)
}

// regular checks with fstat that the descriptor fd (opened with O_NONBLOCK) is a regular file,
// clears O_NONBLOCK and returns it as an *os.File named name; it closes fd on error.
func regular(fd int, name string) (*os.File, fs.FileInfo, error) {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return nil, nil, fmt.Errorf("fstat(%s): %w", name, err)
	}
	if m := modeOf(st.Mode); m.Type() != 0 {
		unix.Close(fd)
		return nil, nil, fmt.Errorf("%s: %s, %w", name, Kind(m), ErrNotRegular)
	}
	fl, err := unix.FcntlInt(uintptr(fd), unix.F_GETFL, 0)
	if err == nil {
		_, err = unix.FcntlInt(uintptr(fd), unix.F_SETFL, fl&^unix.O_NONBLOCK)
	}
	if err != nil {
		unix.Close(fd)
		return nil, nil, fmt.Errorf("fcntl(%s, F_SETFL, clear O_NONBLOCK): %w", name, err)
	}
	f := os.NewFile(uintptr(fd), name)
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	return f, fi, nil
}

// modeOf turns st_mode's type bits into an fs.FileMode type.
func modeOf(mode uint32) fs.FileMode {
	switch mode & unix.S_IFMT {
	case unix.S_IFREG:
		return 0
	case unix.S_IFDIR:
		return fs.ModeDir
	case unix.S_IFLNK:
		return fs.ModeSymlink
	case unix.S_IFIFO:
		return fs.ModeNamedPipe
	case unix.S_IFSOCK:
		return fs.ModeSocket
	case unix.S_IFCHR:
		return fs.ModeDevice | fs.ModeCharDevice
	case unix.S_IFBLK:
		return fs.ModeDevice
	}
	return fs.ModeIrregular
}

// WalkFiles returns the regular files under the directory rel of the partition mounted at root,
// recursively, as paths relative to root, sorted. Each directory is opened like Open opens a
// file (openat2 with O_DIRECTORY beneath root, no link followed, no other mount entered) and
// each entry is typed with fstatat(AT_SYMLINK_NOFOLLOW) on that directory's descriptor, so nothing
// outside the partition is ever listed.
//
// Entries that are not regular files or directories (symbolic links, FIFOs, devices, sockets) and
// entries on another file system (a mount point inside the directory) are not followed or
// listed: they are returned in skipped, sorted, for the caller to report. A link is skipped
// rather than refused because firmware trees ship aliases as links (linux-firmware's WHENCE
// "Link:" lines); following one would let the disk name any file of the boot environment.
//
// At most max regular files are listed and at most max other entries (directories and skipped
// ones) are visited; more of either is an error, so a hostile disk cannot make the boot list
// without bound. A missing directory is an error for which errors.Is(err, fs.ErrNotExist) holds;
// rel itself being a link or not a directory is an error. Files found may still change before
// they are opened: open each with Open, which checks again.
func WalkFiles(root, rel string, max int) (files []string, skipped []Skipped, err error) {
	rfd, err := openRoot(root)
	if err != nil {
		return nil, nil, err
	}
	defer unix.Close(rfd)
	var rst unix.Stat_t
	if err := unix.Fstat(rfd, &rst); err != nil {
		return nil, nil, fmt.Errorf("fstat(%s): %w", root, err)
	}
	queue := []string{filepath.Clean(rel)}
	others := 0 // directories and skipped entries visited
	for len(queue) > 0 {
		dir := queue[0]
		queue = queue[1:]
		found, dirs, skip, err := readDir(rfd, root, dir, rst.Dev, max-len(files), max-others)
		if err != nil {
			return nil, nil, err
		}
		files = append(files, found...)
		queue = append(queue, dirs...)
		skipped = append(skipped, skip...)
		others += len(dirs) + len(skip)
		if len(files) > max {
			return nil, nil, fmt.Errorf("%s: more than %d regular files beneath it; refusing to read without bound", filepath.Join(root, rel), max)
		}
		if others > max {
			return nil, nil, fmt.Errorf("%s: more than %d directories, links and special files beneath it; refusing to walk without bound", filepath.Join(root, rel), max)
		}
	}
	slices.Sort(files)
	slices.SortFunc(skipped, func(a, b Skipped) int {
		if a.Path < b.Path {
			return -1
		} else if a.Path > b.Path {
			return 1
		}
		return 0
	})
	return files, skipped, nil
}

// readDir lists one directory beneath rfd: its regular files and subdirectories on the device dev,
// and what it skips, as paths relative to the root. It stops early once it has found more than
// fileLimit files or more than otherLimit subdirectories and skipped entries together; the caller
// then refuses the walk.
func readDir(rfd int, root, dir string, dev uint64, fileLimit, otherLimit int) (files, dirs []string, skipped []Skipped, err error) {
	fd, err := openat2(rfd, root, dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC)
	if errors.Is(err, unix.ENOTDIR) {
		// O_DIRECTORY is checked before O_NOFOLLOW: say what the final component is.
		if pfd, perr := openat2(rfd, root, dir, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC); perr == nil {
			var st unix.Stat_t
			serr := unix.Fstat(pfd, &st)
			unix.Close(pfd)
			if serr == nil {
				return nil, nil, nil, fmt.Errorf("%s: %s, not a directory: %w", filepath.Join(root, dir), Kind(modeOf(st.Mode)), err)
			}
		}
	}
	if err != nil {
		return nil, nil, nil, err
	}
	d := os.NewFile(uintptr(fd), filepath.Join(root, dir))
	defer d.Close()
	for len(files) <= fileLimit && len(dirs)+len(skipped) <= otherLimit {
		names, rerr := d.Readdirnames(256)
		for _, n := range names {
			p := filepath.Join(dir, n)
			var st unix.Stat_t
			if err := unix.Fstatat(fd, n, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
				return nil, nil, nil, fmt.Errorf("fstatat(%s, AT_SYMLINK_NOFOLLOW): %w", filepath.Join(root, p), err)
			}
			m := modeOf(st.Mode)
			switch {
			case st.Dev != dev:
				skipped = append(skipped, Skipped{p, "on another file system (a mount point)"})
			case m.Type() == 0:
				files = append(files, p)
			case m.IsDir():
				dirs = append(dirs, p)
			default:
				skipped = append(skipped, Skipped{p, Kind(m)})
			}
		}
		if rerr == io.EOF {
			break
		} else if rerr != nil {
			return nil, nil, nil, fmt.Errorf("getdents(%s): %w", filepath.Join(root, dir), rerr)
		}
	}
	return files, dirs, skipped, nil
}
