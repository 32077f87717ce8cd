// Package handover packs the measurement logs into a cpio archive that is appended to the next
// system's initramfs, after the initramfs bytes were measured. The kernel unpacks concatenated
// archives in order, so the next system finds the logs in its root file system under Dir.
//
// The kernel's unpacker replaces an existing path by a record of another type (a directory
// record "lib" removes Debian's lib -> usr/lib symlink), so nothing appended may name a path of
// the measured initramfs: ParseInitramfs reads the measured initramfs as the kernel does (cpio
// newc archives, compressed or not) into the tree it unpacks to, AppendFiles builds an archive
// that only adds paths to that tree, and AppendLogs refuses an initramfs that has its own
// /measuredboot.
package handover

import (
	"bytes"
	"fmt"
	"path"
	"sort"

	"github.com/u-root/mkuimage/cpio"
)

// Dir is where the handed-over files appear in the next system's initramfs.
const Dir = "measuredboot"

// Align is the alignment of the appended archive within the initramfs buffer: the kernel looks for
// a following cpio archive only at a 4-byte boundary; 512 also keeps compressed archives aligned.
const Align = 512

// Archive returns a newc cpio archive holding files (name -> content) under Dir, in name order,
// with zero timestamps and root ownership, closed by a trailer. It does not look at the measured
// initramfs: use AppendLogs, which checks that the initramfs has no /measuredboot.
func Archive(files map[string][]byte) ([]byte, error) {
	return ArchiveAt(Dir, files)
}

// ArchiveAt is Archive with another top directory. Names can never leave it, but it writes a
// directory record for every parent of top, which replaces whatever the measured initramfs has
// there (a symlink lib -> usr/lib becomes an empty directory): for any top the measured
// initramfs may have, use AppendFiles.
func ArchiveAt(top string, files map[string][]byte) ([]byte, error) {
	top = path.Clean(top)
	var buf bytes.Buffer
	w := cpio.Newc.Writer(&buf)
	var recs []cpio.Record
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	dirs := map[string]bool{".": true}
	for _, n := range names {
		p := path.Join(top, path.Clean("/" + n)[1:])
		for d := path.Dir(p); !dirs[d]; d = path.Dir(d) {
			dirs[d] = true
			recs = append(recs, cpio.Directory(d, 0o755))
		}
		recs = append(recs, cpio.StaticFile(p, string(files[n]), 0o444))
	}
	sort.SliceStable(recs, func(i, j int) bool { return recs[i].Name < recs[j].Name })
	for _, r := range recs {
		if err := w.WriteRecord(cpio.MakeReproducible(r)); err != nil {
			return nil, fmt.Errorf("handover: cpio record %s: %w", r.Name, err)
		}
	}
	if err := cpio.WriteTrailer(w); err != nil {
		return nil, fmt.Errorf("handover: cpio trailer: %w", err)
	}
	return buf.Bytes(), nil
}
