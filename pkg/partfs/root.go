package partfs

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"
)

// ErrNotMounted is returned by Root for a path under none of the mount points.
var ErrNotMounted = errors.New("not on any mounted boot partition")

// ErrNotRegular is wrapped by every refusal of a file that is not a regular file: a FIFO, a device,
// a socket or a directory (and a final symbolic link that OpenPath refuses).
var ErrNotRegular = errors.New("not a regular file")

// ErrLink is wrapped by every refusal of a path with a symbolic link in it, on the way or at its
// end: links on a boot partition are never followed.
var ErrLink = errors.New("a symbolic link in the path; links on a boot partition are not followed: name the file itself")

// Root returns the mount point among mounts that contains path (the longest, so a partition mounted
// inside another one wins) and path relative to it, "." for the mount point itself. path must be
// absolute and may not contain a ".." element: a file on a boot partition is named by a path that
// stays beneath its mount point, and a lexical clean of ".." could move it onto another partition.
// A path under none of the mount points wraps ErrNotMounted.
func Root(mounts []string, path string) (root, rel string, err error) {
	if !filepath.IsAbs(path) {
		return "", "", fmt.Errorf("%s: not an absolute path; want a path under a partition's mount point", path)
	}
	for _, e := range strings.Split(path, "/") {
		if e == ".." {
			return "", "", fmt.Errorf("%s: a \"..\" in the path; a file on a boot partition is named by a path beneath its mount point", path)
		}
	}
	clean := filepath.Clean(path)
	for _, m := range mounts {
		if m == "" || !filepath.IsAbs(m) {
			continue
		}
		m = filepath.Clean(m)
		if under(m, clean) && len(m) > len(root) {
			root = m
		}
	}
	if root == "" {
		return "", "", fmt.Errorf("%s: %w (mount points: %s); files are read only from the scanned partitions", path, ErrNotMounted, strings.Join(mounts, ", "))
	}
	rel, err = filepath.Rel(root, clean)
	if err != nil {
		return "", "", fmt.Errorf("%s: relative to %s: %w", path, root, err)
	}
	return root, rel, nil
}

// under reports whether p is dir or lies beneath it; both are clean and absolute.
func under(dir, p string) bool {
	if dir == "/" || dir == p {
		return true
	}
	return strings.HasPrefix(p, dir+"/")
}

// Kind names a file type for a person, with its article: "a FIFO", "a character device".
func Kind(m fs.FileMode) string {
	switch m.Type() {
	case 0:
		return "a regular file"
	case fs.ModeDir:
		return "a directory"
	case fs.ModeSymlink:
		return "a symbolic link"
	case fs.ModeNamedPipe:
		return "a FIFO"
	case fs.ModeSocket:
		return "a socket"
	case fs.ModeDevice | fs.ModeCharDevice:
		return "a character device"
	case fs.ModeDevice:
		return "a block device"
	}
	return "a special file (" + m.Type().String() + ")"
}

// Skipped is an entry WalkFiles left out: a symbolic link, a special file, or an entry on another
// file system. Path is relative to the walk's root; Kind says what it is ("a symbolic link").
type Skipped struct {
	Path string
	Kind string
}

// WalkDir is WalkFiles for dir, an absolute path on the partition mounted at one of mounts
// (Root picks it): it returns the regular files and the skipped entries as absolute paths.
func WalkDir(mounts []string, dir string, max int) ([]string, []Skipped, error) {
	root, rel, err := Root(mounts, dir)
	if err != nil {
		return nil, nil, err
	}
	files, skipped, err := WalkFiles(root, rel, max)
	if err != nil {
		return nil, nil, err
	}
	for i, f := range files {
		files[i] = filepath.Join(root, f)
	}
	for i := range skipped {
		skipped[i].Path = filepath.Join(root, skipped[i].Path)
	}
	return files, skipped, nil
}
