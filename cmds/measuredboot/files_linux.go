package main

import (
	"errors"
	"fmt"
	"io/fs"

	"github.com/measuredboot/measuredboot/pkg/appraise"
	"github.com/measuredboot/measuredboot/pkg/kexec"
	"github.com/measuredboot/measuredboot/pkg/partfs"
)

// This file reads the boot files from the disks: each beneath the mount point of the partition
// that holds it, never through a link, never a special file (pkg/partfs), into memfds whose total
// size the system's kexec.Budget bounds.

// mounts returns the mount points of the partitions the scan mounted.
func (s *linuxSystem) mounts() []string {
	var m []string
	for _, mp := range s.pool.MountPoints {
		if mp != nil {
			m = append(m, mp.Path)
		}
	}
	return m
}

// openOnPartition opens path, which must lie on a scanned partition, as a regular file beneath
// that partition's mount point (partfs.Root, partfs.Open).
func (s *linuxSystem) openOnPartition(path string) (kexec.Source, error) {
	root, rel, err := partfs.Root(s.mounts(), path)
	if err != nil {
		return kexec.Source{}, err
	}
	f, _, err := partfs.Open(root, rel)
	if err != nil {
		return kexec.Source{}, err
	}
	return kexec.Source{Path: path, File: f}, nil
}

// budgetFor returns the system's memory budget, or why it has none: then nothing is read.
func (s *linuxSystem) budgetFor(what string) (*kexec.Budget, error) {
	if s.budgetErr != nil || s.budget == nil {
		return nil, fmt.Errorf("%s: not read: no memory budget: %w", what, errors.Join(s.budgetErr, errors.New("none set")))
	}
	return s.budget, nil
}

// readEvidence reads path.sig and path's security.ima, both opened beneath the mount point of the
// partition that holds path: a missing .sig is no evidence, a .sig that is a link, a FIFO or
// another special file is an error; the attribute is read with fgetxattr from the file itself.
func (s *linuxSystem) readEvidence(path string) (appraise.Evidence, error) {
	root, rel, err := partfs.Root(s.mounts(), path)
	if err != nil {
		return appraise.Evidence{}, err
	}
	var ev appraise.Evidence
	sig, _, err := partfs.Open(root, rel+".sig")
	switch {
	case err == nil:
		defer sig.Close()
		if ev.SigFile, err = appraise.ReadSigFile(sig, path+".sig"); err != nil {
			return appraise.Evidence{}, err
		}
	case !errors.Is(err, fs.ErrNotExist):
		return appraise.Evidence{}, err
	}
	f, _, err := partfs.Open(root, rel)
	if err != nil {
		return appraise.Evidence{}, err
	}
	defer f.Close()
	if ev.XAttr, err = appraise.ReadIMAXattr(f, path); err != nil {
		return appraise.Evidence{}, err
	}
	return ev, nil
}

// WalkFiles returns the regular files under dir, a directory on a scanned partition, as absolute
// paths ready for ReadFiles, sorted, and the entries it skipped (links, special files, other
// mounts) with absolute paths, for the console: partfs.WalkFiles beneath the partition's mount
// point, at most max files. The root is found from the pool's own mount points, not taken from the
// caller. It is here for the firmware directory (a `boot -> /sys` link on the disk must not hand
// over this environment's /sys/firmware).
func (s *linuxSystem) WalkFiles(_, dir string, max int) ([]string, []partfs.Skipped, error) {
	return partfs.WalkDir(s.mounts(), dir, max)
}
