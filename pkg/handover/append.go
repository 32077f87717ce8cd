package handover

import (
	"bytes"
	"fmt"
	"path"
	"sort"

	"github.com/u-root/mkuimage/cpio"
)

// AppendFiles returns a newc cpio archive, to be appended after the measured initramfs, that
// adds files (name -> content) under top (as "lib/firmware") without replacing, removing or
// changing the type of any path the measured initramfs unpacks to. It parses measured with
// ParseInitramfs (an error there is returned: the boot must refuse, since it cannot tell what
// the archive would clobber), then places each file as the kernel's unpacker will: names are
// cleaned and can never leave top; symlinks of the measured initramfs in the parent directories
// are followed (lib -> usr/lib puts lib/firmware/x in usr/lib/firmware/x), a directory record is
// written only for a directory that does not exist yet, and a file whose path already exists
// (as anything), or whose parent is something other than a directory, is not written but
// returned in skipped as "name: reason". Records are in name order, with zero timestamps and
// root ownership, closed by a trailer; an archive with no file is just the trailer.
func AppendFiles(measured []byte, top string, files map[string][]byte) (archive []byte, skipped []string, err error) {
	in, err := ParseInitramfs(measured)
	if err != nil {
		return nil, nil, err
	}
	return in.AppendFiles(top, files)
}

// AppendLogs returns Archive(files), the logs' archive under Dir, after checking that the
// measured initramfs has nothing at /measuredboot: if it has, the archive would write into (or
// replace) a path of the measured initramfs, and AppendLogs returns an error the boot refuses
// on.
func AppendLogs(measured []byte, files map[string][]byte) ([]byte, error) {
	in, err := ParseInitramfs(measured)
	if err != nil {
		return nil, err
	}
	return in.Logs(files)
}

// Logs is AppendLogs for an initramfs already parsed.
func (in *Initramfs) Logs(files map[string][]byte) ([]byte, error) {
	if p, e, ok := in.Lstat(Dir); ok {
		return nil, fmt.Errorf("handover: the measured initramfs already has %s; the logs' archive would write into it, so nothing is booted: rebuild that initramfs without /%s", describePath(p, e), Dir)
	}
	return Archive(files)
}

// AppendFiles is the package's AppendFiles for an initramfs already parsed; in is not changed.
func (in *Initramfs) AppendFiles(top string, files map[string][]byte) (archive []byte, skipped []string, err error) {
	top = path.Clean("/" + top)[1:]
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	ov := in.clone() // the tree as the kernel will have it after the records emitted so far
	var recs []cpio.Record
	for _, n := range names {
		rel := path.Clean("/" + n)[1:]
		if rel == "" {
			skipped = append(skipped, fmt.Sprintf("%q: names %s itself, not a file in it", n, top))
			continue
		}
		p := path.Join(top, rel)
		dirs, reason := ov.missingDirs(p)
		if reason == "" {
			if r, e, ok := ov.Lstat(p); ok {
				reason = "exists as " + describePath(r, e)
				if _, measured := in.entries[r]; !measured {
					reason += ", written earlier in this archive"
				}
			}
		}
		if reason != "" {
			skipped = append(skipped, fmt.Sprintf("%s: %s", p, reason))
			continue
		}
		for _, d := range dirs {
			ov.apply(d, TypeDir, "")
			recs = append(recs, cpio.Directory(d, 0o755))
		}
		ov.apply(p, TypeFile, "")
		recs = append(recs, cpio.StaticFile(p, string(files[n]), 0o444))
	}
	var buf bytes.Buffer
	w := cpio.Newc.Writer(&buf)
	for _, r := range recs {
		if err := w.WriteRecord(cpio.MakeReproducible(r)); err != nil {
			return nil, nil, fmt.Errorf("handover: cpio record %s: %w", r.Name, err)
		}
	}
	if err := cpio.WriteTrailer(w); err != nil {
		return nil, nil, fmt.Errorf("handover: cpio trailer: %w", err)
	}
	return buf.Bytes(), skipped, nil
}

// missingDirs returns the parent directories of p (outermost first) that do not exist and must
// be created, or why p cannot be placed: a parent that exists as something else than a
// directory (or a symlink to one).
func (in *Initramfs) missingDirs(p string) (dirs []string, reason string) {
	cs := comps(p)
	for i := 1; i < len(cs); i++ {
		d := path.Join(cs[:i]...)
		if len(dirs) > 0 { // below a directory to create, nothing exists
			dirs = append(dirs, d)
			continue
		}
		if r, err := in.resolve(cs[:i]); err == nil && in.entries[r].Type == TypeDir {
			continue
		}
		if r, e, ok := in.Lstat(d); ok {
			return nil, fmt.Sprintf("its directory %s is %s, not a directory", d, describePath(r, e))
		}
		if _, _, ok := in.parent(d); !ok {
			return nil, fmt.Sprintf("its directory %s cannot be created", d)
		}
		dirs = append(dirs, d)
	}
	return dirs, ""
}
