package handover

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
	"github.com/u-root/mkuimage/cpio"
	"github.com/ulikunitz/xz"
	"github.com/ulikunitz/xz/lzma"
)

// archive returns a newc cpio archive of recs, closed by a trailer. It writes every record as
// given (u-root's writer drops a second record of the same name, which the kernel would apply).
func archive(t testing.TB, recs ...cpio.Record) []byte {
	return append(records(t, recs...), records(t, cpio.TrailerRecord)...)
}

// records returns recs in newc format, without a trailer.
func records(t testing.TB, recs ...cpio.Record) []byte {
	var out []byte
	for _, r := range recs {
		body := make([]byte, r.FileSize)
		if r.FileSize > 0 {
			if _, err := r.ReadAt(body, 0); err != nil && len(body) != int(r.FileSize) {
				t.Fatal(err)
			}
		}
		name := cpio.Normalize(r.Name)
		if r.Name == cpio.Trailer {
			name = r.Name
		}
		out = fmt.Appendf(out, "070701%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x",
			0, r.Mode, 0, 0, 1, 0, len(body), 0, 0, r.Rmajor, r.Rminor, len(name)+1, 0)
		out = append(append(out, name...), 0)
		for len(out)%4 != 0 {
			out = append(out, 0)
		}
		out = append(out, body...)
		for len(out)%4 != 0 {
			out = append(out, 0)
		}
	}
	return out
}

// compress compresses b as the kernel's decompressors read it.
func compress(t testing.TB, method string, b []byte) []byte {
	var buf bytes.Buffer
	switch method {
	case "none":
		return b
	case "gzip":
		w := gzip.NewWriter(&buf)
		w.Write(b)
		w.Close()
	case "zstd":
		w, err := zstd.NewWriter(&buf, zstd.WithEncoderCRC(true))
		if err != nil {
			t.Fatal(err)
		}
		w.Write(b)
		w.Close()
	case "xz":
		w, err := xz.WriterConfig{CheckSum: xz.CRC32}.NewWriter(&buf)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(b)
		w.Close()
	case "lzma":
		w, err := lzma.WriterConfig{SizeInHeader: true, Size: int64(len(b))}.NewWriter(&buf)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(b)
		w.Close()
	case "lz4": // the legacy format: magic, then chunks of a size and a block
		buf.Write([]byte{0x02, 0x21, 0x4c, 0x18})
		for len(b) > 0 {
			n := min(len(b), 8<<20)
			dst := make([]byte, lz4.CompressBlockBound(n))
			k, err := lz4.CompressBlock(b[:n], dst, nil)
			if err != nil || k == 0 {
				t.Fatalf("lz4: %d, %v", k, err)
			}
			buf.Write(binary.LittleEndian.AppendUint32(nil, uint32(k)))
			buf.Write(dst[:k])
			b = b[n:]
		}
	default:
		t.Fatalf("no method %s", method)
	}
	return buf.Bytes()
}

// padded returns parts concatenated, each starting at a multiple of align, zeros between.
func padded(align int, parts ...[]byte) []byte {
	var out []byte
	for _, p := range parts {
		for len(out)%align != 0 {
			out = append(out, 0)
		}
		out = append(out, p...)
	}
	return out
}

// debianLike returns an initramfs laid out as Debian 12's: an uncompressed early archive with
// CPU microcode, then the main archive, compressed, with lib -> usr/lib (merged /usr) and the
// kernel's modules under usr/lib/modules; with firmware, it also has usr/lib/firmware.
func debianLike(t testing.TB, method string, firmware bool) []byte {
	early := archive(t,
		cpio.Directory("kernel", 0o755), cpio.Directory("kernel/x86", 0o755),
		cpio.Directory("kernel/x86/microcode", 0o755),
		cpio.StaticFile("kernel/x86/microcode/GenuineIntel.bin", "ucode", 0o644))
	recs := []cpio.Record{
		cpio.Directory(".", 0o755),
		cpio.Symlink("bin", "usr/bin"),
		cpio.Symlink("lib", "usr/lib"),
		cpio.Symlink("lib64", "usr/lib64"),
		cpio.Directory("usr", 0o755),
		cpio.Directory("usr/bin", 0o755),
		cpio.StaticFile("usr/bin/busybox", "bb", 0o755),
		cpio.Directory("usr/lib", 0o755),
		cpio.Directory("usr/lib/modules", 0o755),
		cpio.Directory("usr/lib/modules/6.1.0-57-amd64", 0o755),
		cpio.Directory("usr/lib/modules/6.1.0-57-amd64/kernel", 0o755),
		cpio.StaticFile("usr/lib/modules/6.1.0-57-amd64/kernel/ext4.ko", "ko", 0o644),
		cpio.StaticFile("init", "#!/bin/sh", 0o755),
	}
	if firmware {
		recs = append(recs, cpio.Directory("usr/lib/firmware", 0o755),
			cpio.StaticFile("usr/lib/firmware/regulatory.db", "db", 0o644))
	}
	return padded(4, early, compress(t, method, archive(t, recs...)))
}

var methods = []string{"none", "gzip", "zstd", "xz", "lzma", "lz4"}

// TestParseInitramfs reads a Debian-like initramfs in every compression and checks the tree.
func TestParseInitramfs(t *testing.T) {
	for _, m := range methods {
		t.Run(m, func(t *testing.T) {
			in, err := ParseInitramfs(debianLike(t, m, true))
			if err != nil {
				t.Fatal(err)
			}
			want := map[string]Entry{
				"kernel": {Type: TypeDir}, "kernel/x86": {Type: TypeDir}, "kernel/x86/microcode": {Type: TypeDir},
				"kernel/x86/microcode/GenuineIntel.bin": {Type: TypeFile},
				"bin":                                   {Type: TypeSymlink, Target: "usr/bin"},
				"lib":                                   {Type: TypeSymlink, Target: "usr/lib"},
				"lib64":                                 {Type: TypeSymlink, Target: "usr/lib64"},
				"usr":                                   {Type: TypeDir}, "usr/bin": {Type: TypeDir}, "usr/bin/busybox": {Type: TypeFile},
				"usr/lib": {Type: TypeDir}, "usr/lib/modules": {Type: TypeDir},
				"usr/lib/modules/6.1.0-57-amd64":                {Type: TypeDir},
				"usr/lib/modules/6.1.0-57-amd64/kernel":         {Type: TypeDir},
				"usr/lib/modules/6.1.0-57-amd64/kernel/ext4.ko": {Type: TypeFile},
				"init":                           {Type: TypeFile},
				"usr/lib/firmware":               {Type: TypeDir},
				"usr/lib/firmware/regulatory.db": {Type: TypeFile},
			}
			if got := in.Paths(); !mapsEqual(got, want) {
				t.Errorf("paths = %v\nwant %v", got, want)
			}
			if r, e, ok := in.Lstat("lib/modules/6.1.0-57-amd64"); !ok || r != "usr/lib/modules/6.1.0-57-amd64" || e.Type != TypeDir {
				t.Errorf("Lstat(lib/modules/...) = %q %v %v; want the directory under usr/lib", r, e, ok)
			}
		})
	}
}

func mapsEqual(a, b map[string]Entry) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// TestParseInitramfsLayouts checks padding and concatenation as the kernel reads them.
func TestParseInitramfsLayouts(t *testing.T) {
	a := archive(t, cpio.Directory("a", 0o755))
	b := archive(t, cpio.StaticFile("a/b", "b", 0o644))
	c := archive(t, cpio.Symlink("c", "a"))
	for name, img := range map[string][]byte{
		"raw, raw":                   padded(4, a, b, c),
		"gzip gzip zstd":             padded(1, compress(t, "gzip", a), compress(t, "gzip", b), compress(t, "zstd", c)),
		"512-aligned parts":          padded(512, a, compress(t, "xz", b), compress(t, "zstd", c)),
		"lzma, then raw":             padded(4, compress(t, "lzma", a), b, c),
		"xz, then raw":               padded(4, compress(t, "xz", a), b, c),
		"one compressed, 3 archives": compress(t, "zstd", padded(4, a, b, c)),
		"records without trailers":   compress(t, "gzip", records(t, cpio.Directory("a", 0o755), cpio.StaticFile("a/b", "b", 0o644), cpio.Symlink("c", "a"))),
	} {
		t.Run(name, func(t *testing.T) {
			in, err := ParseInitramfs(img)
			if err != nil {
				t.Fatal(err)
			}
			want := map[string]Entry{"a": {Type: TypeDir}, "a/b": {Type: TypeFile}, "c": {Type: TypeSymlink, Target: "a"}}
			if got := in.Paths(); !mapsEqual(got, want) {
				t.Errorf("paths = %v, want %v", got, want)
			}
		})
	}
}

// TestParseInitramfsMalformed checks that what the kernel would not read as this package does is
// an error, and that the bounds hold.
func TestParseInitramfsMalformed(t *testing.T) {
	a := archive(t, cpio.StaticFile("a", "content", 0o644))
	long := archive(t, cpio.StaticFile(strings.Repeat("n", 5000), "", 0o644))
	cases := map[string][]byte{
		"truncated":                 a[:len(a)-130],
		"odd offset":                append([]byte{0, 0}, a...),
		"hex":                       append([]byte("070701zzzzzzzz"), a[14:]...),
		"junk in compressed":        compress(t, "gzip", append(slices.Clone(a), 'x')),
		"truncated in compressed":   compress(t, "zstd", a[:len(a)-130]),
		"corrupt gzip":              func() []byte { g := compress(t, "gzip", a); g[len(g)-5] ^= 1; return g }(),
		"lzo":                       {0x89, 'L', 'Z', 'O', 0, 0, 0, 0},
		"name longer than PATH_MAX": long,
	}
	for name, img := range cases {
		t.Run(name, func(t *testing.T) {
			if in, err := ParseInitramfs(img); err == nil {
				t.Errorf("ParseInitramfs = %v, want an error", in.Paths())
			}
		})
	}
	// Where the kernel stops unpacking ("no cpio magic", "invalid magic"), nothing after is
	// unpacked: the tree so far, and where it stopped.
	stops := map[string][]byte{
		"old cpio magic":           append([]byte("070707"), a[6:]...),
		"unknown":                  []byte("garbage!"),
		"unknown after an archive": append(slices.Clone(a), []byte("garbage!")...),
	}
	for name, img := range stops {
		t.Run(name, func(t *testing.T) {
			in, err := ParseInitramfs(img)
			if err != nil || in.Stopped() == "" {
				t.Fatalf("ParseInitramfs = %v, stopped %q; want where the kernel stops", err, in.Stopped())
			}
			if _, _, ok := in.Lstat("a"); ok != (name == "unknown after an archive") {
				t.Errorf("Lstat(a) = %v after %s", ok, name)
			}
		})
	}
	many := archive(t, cpio.StaticFile("a", "", 0), cpio.StaticFile("b", "", 0), cpio.StaticFile("c", "", 0))
	if _, err := parseInitramfs(many, MaxUnpacked, 3); err == nil || !strings.Contains(err.Error(), "more than 3 cpio records") {
		t.Errorf("4 records with a bound of 3: %v", err)
	}
	big := compress(t, "gzip", archive(t, cpio.StaticFile("a", strings.Repeat("x", 1<<20), 0)))
	if _, err := parseInitramfs(big, 1<<19, MaxRecords); err == nil || !strings.Contains(err.Error(), "decompressed") {
		t.Errorf("1 MiB with a bound of 512 KiB: %v", err)
	}
}

// TestKernelRules checks the tree model against what init/initramfs.c does with records that
// meet an existing path.
func TestKernelRules(t *testing.T) {
	in, err := ParseInitramfs(archive(t,
		cpio.Symlink("lib", "usr/lib"), cpio.Directory("usr", 0o755), cpio.Directory("usr/lib", 0o755),
		cpio.Directory("full", 0o755), cpio.StaticFile("full/f", "", 0o644),
		cpio.Directory("empty", 0o755),
		cpio.Symlink("loop", "loop"),
		// clean_path: another type replaces an entry, a non-empty directory stays.
		cpio.StaticFile("full", "", 0o644), cpio.StaticFile("empty", "", 0o644),
		// A symlink's parent is followed: this lands in usr/lib.
		cpio.Directory("lib/firmware", 0o755),
		// A path under a loop or a file is not created.
		cpio.StaticFile("loop/x", "", 0o644), cpio.StaticFile("full/f/x", "", 0o644),
		// A symlink does not replace a symlink (EEXIST).
		cpio.Symlink("lib", "elsewhere"),
	))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]Entry{
		"lib": {Type: TypeSymlink, Target: "usr/lib"}, "usr": {Type: TypeDir}, "usr/lib": {Type: TypeDir},
		"usr/lib/firmware": {Type: TypeDir}, "full": {Type: TypeDir}, "full/f": {Type: TypeFile},
		"empty": {Type: TypeFile}, "loop": {Type: TypeSymlink, Target: "loop"},
	}
	if got := in.Paths(); !mapsEqual(got, want) {
		t.Errorf("paths = %v\nwant %v", got, want)
	}
}

// unpacked returns the tree the kernel builds from measured followed by appended archives, each
// at a multiple of Align, as the boot lays out the initrd it hands over.
func unpacked(t *testing.T, measured []byte, appended ...[]byte) map[string]Entry {
	in, err := ParseInitramfs(padded(Align, append([][]byte{measured}, appended...)...))
	if err != nil {
		t.Fatal(err)
	}
	return in.Paths()
}

// kept fails the test for every path of the measured initramfs that the appended archives
// replaced, removed or changed the type of.
func kept(t *testing.T, measured []byte, appended ...[]byte) {
	t.Helper()
	before, after := unpacked(t, measured), unpacked(t, measured, appended...)
	for p, e := range before {
		if a, ok := after[p]; !ok || a != e {
			t.Errorf("after the appended archives, /%s is %v (present %v); the measured initramfs has %v", p, a, ok, e)
		}
	}
}

var firmware = map[string][]byte{"i915/tgl_dmc.bin": []byte("dmc"), "regulatory.db": []byte("regdb")}

// TestArchiveAtReplacesLib shows why AppendFiles exists: ArchiveAt's directory records lib and
// lib/firmware make the kernel replace Debian's lib -> usr/lib symlink by an empty directory,
// and with it /lib/modules.
func TestArchiveAtReplacesLib(t *testing.T) {
	measured := debianLike(t, "zstd", false)
	a, err := ArchiveAt("lib/firmware", firmware)
	if err != nil {
		t.Fatal(err)
	}
	after := unpacked(t, measured, a)
	if e := after["lib"]; e.Type != TypeDir {
		t.Errorf("after ArchiveAt's archive, lib is %v; the kernel's clean_path replaces the symlink by a directory", e)
	}
	if _, ok := after["lib/modules"]; ok {
		t.Errorf("after ArchiveAt's archive, lib/modules exists")
	}
}

// TestAppendFiles appends firmware to Debian-like initramfses, with and without their own
// usr/lib/firmware, and checks that no measured path changes and the new files land where the
// next system looks (/lib/firmware, through the symlink).
func TestAppendFiles(t *testing.T) {
	for _, m := range []string{"none", "gzip", "zstd"} {
		for _, fw := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/firmware=%v", m, fw), func(t *testing.T) {
				measured := debianLike(t, m, fw)
				a, skipped, err := AppendFiles(measured, "lib/firmware", firmware)
				if err != nil {
					t.Fatal(err)
				}
				kept(t, measured, a)
				after := unpacked(t, measured, a)
				if e := after["usr/lib/firmware/i915/tgl_dmc.bin"]; e.Type != TypeFile {
					t.Errorf("usr/lib/firmware/i915/tgl_dmc.bin = %v, want a regular file", e)
				}
				recs, err := cpio.ReadAllRecords(cpio.Newc.Reader(bytes.NewReader(a)))
				if err != nil {
					t.Fatal(err)
				}
				var names []string
				for _, r := range recs {
					names = append(names, r.Name)
				}
				want := []string{"lib/firmware", "lib/firmware/i915", "lib/firmware/i915/tgl_dmc.bin", "lib/firmware/regulatory.db"}
				wantSkipped := 0
				if fw {
					// usr/lib/firmware exists: no record for it; regulatory.db exists: skipped.
					want = []string{"lib/firmware/i915", "lib/firmware/i915/tgl_dmc.bin"}
					wantSkipped = 1
				}
				if !slices.Equal(names, want) {
					t.Errorf("records %v, want %v", names, want)
				}
				if len(skipped) != wantSkipped || (fw && !strings.Contains(skipped[0], "lib/firmware/regulatory.db: exists as /usr/lib/firmware/regulatory.db (regular file)")) {
					t.Errorf("skipped %q, want %d", skipped, wantSkipped)
				}
			})
		}
	}
}

// TestAppendFilesSkips checks the files AppendFiles cannot place without touching the measured
// initramfs.
func TestAppendFilesSkips(t *testing.T) {
	measured := archive(t,
		cpio.StaticFile("lib", "", 0o644), // lib is a file: nothing goes under it
		cpio.Directory("opt", 0o755), cpio.Symlink("opt/dangling", "nowhere"),
		cpio.Symlink("opt/d", "."), cpio.StaticFile("opt/x", "", 0o644),
		cpio.CharDev("opt/dev", 0o600, 1, 3))
	cases := []struct {
		top, name, reason string
	}{
		{"lib/firmware", "a.bin", "lib/firmware/a.bin: its directory lib is /lib (regular file), not a directory"},
		{"opt", "dangling/a", "opt/dangling/a: its directory opt/dangling is /opt/dangling (symlink to nowhere), not a directory"},
		{"opt", "d/x", "opt/d/x: exists as /opt/x (regular file)"},
		{"opt", "dev", "opt/dev: exists as /opt/dev (character device)"},
		{"opt", "dangling", "opt/dangling: exists as /opt/dangling (symlink to nowhere)"},
		{"opt", "/", `"/": names opt itself`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a, skipped, err := AppendFiles(measured, c.top, map[string][]byte{c.name: []byte("x")})
			if err != nil {
				t.Fatal(err)
			}
			if len(skipped) != 1 || !strings.Contains(skipped[0], c.reason) {
				t.Errorf("skipped %q, want %q", skipped, c.reason)
			}
			kept(t, measured, a)
		})
	}
	// The same file twice through a symlink of the measured initramfs: the second is skipped.
	a, skipped, err := AppendFiles(measured, "opt", map[string][]byte{"new": []byte("1"), "d/new": []byte("2")})
	if err != nil || len(skipped) != 1 || !strings.Contains(skipped[0], "written earlier in this archive") {
		t.Errorf("AppendFiles(new, d/new) skipped %q, %v; want d/new skipped", skipped, err)
	}
	kept(t, measured, a)
	if _, _, err := AppendFiles(a[:len(a)-130], "lib/firmware", firmware); err == nil {
		t.Error("AppendFiles on a truncated initramfs: no error")
	}
}

// TestAppendLogs checks that the logs' archive refuses an initramfs with its own /measuredboot.
func TestAppendLogs(t *testing.T) {
	files := map[string][]byte{"tcg.log": []byte("log")}
	measured := debianLike(t, "gzip", false)
	a, err := AppendLogs(measured, files)
	if err != nil {
		t.Fatal(err)
	}
	if want, _ := Archive(files); !bytes.Equal(a, want) {
		t.Error("AppendLogs differs from Archive")
	}
	kept(t, measured, a)
	for _, r := range []cpio.Record{cpio.Directory("measuredboot", 0o755), cpio.Symlink("measuredboot", "usr"), cpio.StaticFile("measuredboot", "", 0o644)} {
		m := padded(4, measured, archive(t, r))
		if _, err := AppendLogs(m, files); err == nil || !strings.Contains(err.Error(), "already has /measuredboot") {
			t.Errorf("AppendLogs with a measured %v: %v, want an error", r.Info, err)
		}
	}
}

// FuzzInitramfsPaths parses arbitrary initramfses: no panic, and a tree whose every path has a
// directory for parent. The bounds are small so that bombs stay cheap.
func FuzzInitramfsPaths(f *testing.F) {
	for _, m := range methods {
		f.Add(debianLike(f, m, true))
	}
	a := archive(f, cpio.Symlink("l", "l/x"), cpio.Directory("d", 0o755), cpio.Symlink("d/up", ".."), cpio.StaticFile("d/up/d/up/f", "", 0))
	f.Add(a)
	f.Add(padded(512, a, compress(f, "gzip", a), compress(f, "xz", a)))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		in, err := parseInitramfs(b, 16<<20, 10000)
		if err != nil {
			return
		}
		for p, e := range in.Paths() {
			if d := parentOf(p); in.entries[d].Type != TypeDir {
				t.Fatalf("%s (%v) has parent %q of type %v", p, e, d, in.entries[d].Type)
			}
		}
		if _, _, err := in.AppendFiles("lib/firmware", map[string][]byte{"x/y": nil, "z": nil}); err != nil {
			t.Fatal(err)
		}
	})
}

// TestSwallowingRecord is the review's "swallowed handover": a measured initramfs whose last
// uncompressed record claims more bytes than remain would take the archives appended after it
// (the handed-over logs, firmware) in as that file's data, leaving the initramfs's own
// /measuredboot to stand alone in the next system. It must be an error, so that the boot is
// refused, not a tree to append to.
func TestSwallowingRecord(t *testing.T) {
	own := records(t, cpio.Directory("measuredboot", 0o755), cpio.StaticFile("measuredboot/tcg.log", "forged", 0o644))
	// A file record claiming 4096 bytes of which only 10 follow, with no trailer.
	swallow := records(t, cpio.StaticFile("swallow", strings.Repeat("x", 4096), 0o644))
	hdr := len(swallow) - 4096
	measured := append(slices.Clone(own), swallow[:hdr+10]...)
	if _, err := ParseInitramfs(measured); err == nil {
		t.Fatal("ParseInitramfs accepted an initramfs whose last record claims more bytes than remain")
	}
	if _, err := AppendLogs(measured, map[string][]byte{"tcg.log": []byte("log")}); err == nil {
		t.Fatal("AppendLogs appended after a record that would swallow the logs")
	}
	// The same record complete, with a trailer, parses: the error is about the claim.
	if _, err := ParseInitramfs(append(slices.Clone(own), archive(t, cpio.StaticFile("swallow", strings.Repeat("x", 4096), 0o644))...)); err != nil {
		t.Fatalf("ParseInitramfs of the complete archive = %v", err)
	}
}
