// Package handover packs the measurement logs into a cpio archive that is appended to the next
// system's initramfs, after the initramfs bytes were measured. The kernel unpacks concatenated
// archives in order, so the next system finds the logs in its root file system under Dir.
//
// The archive only ever holds files under Dir, so it cannot replace anything the measured
// initramfs contains unless that initramfs itself has a /measuredboot directory.
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
// with zero timestamps and root ownership, closed by a trailer.
func Archive(files map[string][]byte) ([]byte, error) {
	return ArchiveAt(Dir, files)
}

// ArchiveAt is Archive with another top directory (lib/firmware for firmware files). Names can
// never leave it.
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
