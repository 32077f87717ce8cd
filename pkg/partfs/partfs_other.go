//go:build !linux

package partfs

import (
	"errors"
	"io/fs"
	"os"
)

// errUnsupported is every answer off Linux: openat2(2) is Linux's.
var errUnsupported = errors.New("partfs: opening files beneath a partition's root needs Linux's openat2(2)")

// Open is Linux-only; elsewhere it returns an error.
func Open(root, rel string) (*os.File, fs.FileInfo, error) { return nil, nil, errUnsupported }

// OpenPath is Linux-only; elsewhere it returns an error.
func OpenPath(path string) (*os.File, fs.FileInfo, error) { return nil, nil, errUnsupported }

// WalkFiles is Linux-only; elsewhere it returns an error.
func WalkFiles(root, rel string, max int) ([]string, []Skipped, error) {
	return nil, nil, errUnsupported
}
