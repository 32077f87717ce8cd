package discover

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/u-root/u-root/pkg/mount"
	"github.com/u-root/u-root/pkg/mount/block"
	"golang.org/x/sys/unix"
)

// scanWithin runs ScanDir with a deadline and fails the test if it does not return within the
// deadline plus slack: a hostile disk must not hang the boot. FIFOs under root are opened for
// writing afterwards so that a reader blocked in them (the old code) is let go.
func scanWithin(t *testing.T, root string, pool *mount.Pool, d time.Duration) ([]Entry, []string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	type result struct {
		got  []Entry
		errs []string
	}
	done := make(chan result, 1)
	go func() {
		got, errs := ScanDir(ctx, root, nil, pool)
		done <- result{got, errs}
	}()
	select {
	case r := <-done:
		return r.got, r.errs
	case <-time.After(d + 5*time.Second):
		releaseFIFOs(root)
		t.Fatalf("ScanDir(%s) did not return within %v (deadline %v): a hostile disk hangs the boot", root, d+5*time.Second, d)
		return nil, nil
	}
}

func releaseFIFOs(root string) {
	filepath.Walk(root, func(p string, fi os.FileInfo, err error) error {
		if err == nil && fi.Mode()&os.ModeNamedPipe != 0 {
			if fd, err := unix.Open(p, unix.O_WRONLY|unix.O_NONBLOCK, 0); err == nil {
				unix.Close(fd)
			}
		}
		return nil
	})
}

func mkfifo(t *testing.T, root, name string) {
	t.Helper()
	p := filepath.Join(root, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mkfifo(p, 0o644); err != nil {
		t.Fatalf("mkfifo %s: %v", p, err)
	}
}

func symlink(t *testing.T, target, root, name string) {
	t.Helper()
	p := filepath.Join(root, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, p); err != nil {
		t.Fatal(err)
	}
}

// TestScanDirConfigLoops: a configfile or include chain of any shape ends in an error naming the
// bound, quickly; on the old code the GRUB and syslinux parsers recursed until the Go stack
// overflowed, which kills the boot program (fatal, not a panic a caller could recover).
func TestScanDirConfigLoops(t *testing.T) {
	needGRUB(t)
	// Let a runaway recursion die at 64 MiB of stack rather than 1 GiB.
	defer debug.SetMaxStack(debug.SetMaxStack(64 << 20))
	chain := func(n int) map[string]string {
		m := map[string]string{}
		for i := 0; i < n; i++ {
			name := fmt.Sprintf("boot/grub/c%d.cfg", i)
			if i == 0 {
				name = "boot/grub/grub.cfg"
			}
			m[name] = fmt.Sprintf("menuentry 'e%d' {\n linux /vmlinuz\n}\nconfigfile /boot/grub/c%d.cfg\n", i, i+1)
		}
		m[fmt.Sprintf("boot/grub/c%d.cfg", n)] = "menuentry 'last' {\n linux /vmlinuz\n}\n"
		return m
	}
	for _, tc := range []struct {
		name  string
		files map[string]string
		want  string
	}{
		{"grub self-loop", map[string]string{"boot/grub/grub.cfg": "menuentry 'x' {\n linux /vmlinuz\n}\nconfigfile /boot/grub/grub.cfg\n"}, "grub: more than 16 configuration files"},
		{"grub relative self-loop", map[string]string{"boot/grub/grub.cfg": "configfile boot/grub/grub.cfg\n"}, "grub: more than 16 configuration files"},
		{"grub two-file loop", map[string]string{
			"boot/grub/grub.cfg": "menuentry 'x' {\n linux /vmlinuz\n}\nconfigfile /boot/grub/b.cfg\n",
			"boot/grub/b.cfg":    "configfile /boot/grub/grub.cfg\n"}, "grub: more than 16 configuration files"},
		{"grub long chain", chain(40), "grub: more than 16 configuration files"},
		{"grub fan-out", map[string]string{"boot/grub/grub.cfg": strings.Repeat("configfile /boot/grub/grub.cfg\n", 8)}, "grub: more than 16 configuration files"},
		{"syslinux include self-loop", map[string]string{"syslinux.cfg": "LABEL x\n KERNEL /vmlinuz\nINCLUDE /syslinux.cfg\n"}, "syslinux: more than 16 configuration files"},
		{"syslinux include loop", map[string]string{
			"extlinux/extlinux.conf": "LABEL x\n KERNEL /vmlinuz\nINCLUDE b.conf\n",
			"extlinux/b.conf":        "INCLUDE extlinux.conf\n"}, "syslinux: more than 16 configuration files"},
		{"syslinux fan-out", map[string]string{"syslinux.cfg": strings.Repeat("INCLUDE /syslinux.cfg\n", 8)}, "syslinux: more than 16 configuration files"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			write(t, root, "vmlinuz", "k")
			for name, content := range tc.files {
				write(t, root, name, content)
			}
			start := time.Now()
			got, errs := scanWithin(t, root, &mount.Pool{}, 5*time.Second)
			if len(got) != 0 {
				t.Errorf("ScanDir = %d entries (%+v), want none from a looping configuration", len(got), got)
			}
			if !strings.Contains(strings.Join(errs, "; "), tc.want) {
				t.Errorf("ScanDir errors = %q, want one containing %q", errs, tc.want)
			}
			if d := time.Since(start); d > 2*time.Second {
				t.Errorf("ScanDir took %v, want well under a second", d)
			}
		})
	}
}

// TestScanDirTooManyEntries: a partition listing more entries than the bound gives an error for
// that parser, not a silent cut and not thousands of entries.
func TestScanDirTooManyEntries(t *testing.T) {
	needGRUB(t)
	root := t.TempDir()
	write(t, root, "vmlinuz", "k")
	var b strings.Builder
	for i := 0; i < 100; i++ {
		fmt.Fprintf(&b, "menuentry 'e%d' {\n linux /vmlinuz\n}\n", i)
	}
	write(t, root, "boot/grub/grub.cfg", b.String())
	got, errs := scanWithin(t, root, &mount.Pool{}, 5*time.Second)
	if len(got) != 0 || !strings.Contains(strings.Join(errs, "; "), "more than 64 entries") {
		t.Errorf("ScanDir with 100 GRUB entries = %d entries, errors %q; want none and an error naming the bound of 64", len(got), errs)
	}
	root = t.TempDir()
	write(t, root, "vmlinuz", "k")
	for i := 0; i < 70; i++ {
		write(t, root, fmt.Sprintf("loader/entries/e%d.conf", i), "title x\nlinux /vmlinuz\n")
	}
	got, errs = scanWithin(t, root, &mount.Pool{}, 5*time.Second)
	if len(got) != 0 || !strings.Contains(strings.Join(errs, "; "), "more than 64 entries") {
		t.Errorf("ScanDir with 70 BLS entries = %d entries, errors %q; want none and an error naming the bound of 64", len(got), errs)
	}
}

// TestScanDirSpecialFiles: every file discovery reads from a disk is opened on that partition,
// without following links and without blocking; a FIFO, a link or a directory where a
// configuration file is expected refuses that parser with a clear reason. On the old code a FIFO
// blocked the boot forever and a link was followed off the disk.
func TestScanDirSpecialFiles(t *testing.T) {
	const entry = "menuentry 'x' {\n linux /vmlinuz\n}\n"
	for _, tc := range []struct {
		name  string
		grub  bool // needs the GRUB and syslinux parsers
		setup func(t *testing.T, top, root string)
		pool  bool // root is in the mount pool, as at boot
		want  string
	}{
		{"grub.cfg FIFO", true, func(t *testing.T, top, root string) { mkfifo(t, root, "boot/grub/grub.cfg") }, false,
			"boot/grub/grub.cfg is a FIFO, not a regular file"},
		{"configfile FIFO", true, func(t *testing.T, top, root string) {
			write(t, root, "boot/grub/grub.cfg", entry+"configfile /boot/grub/x.cfg\n")
			mkfifo(t, root, "boot/grub/x.cfg")
		}, false, "boot/grub/x.cfg is a FIFO, not a regular file"},
		{"grub.cfg directory", true, func(t *testing.T, top, root string) {
			if err := os.MkdirAll(filepath.Join(root, "boot/grub/grub.cfg"), 0o755); err != nil {
				t.Fatal(err)
			}
		}, false, "boot/grub/grub.cfg is a directory, not a regular file"},
		{"grub.cfg symlink outside", true, func(t *testing.T, top, root string) {
			write(t, top, "evil.cfg", entry)
			symlink(t, filepath.Join(top, "evil.cfg"), root, "boot/grub/grub.cfg")
		}, false, "symbolic link"},
		{"grub.cfg symlink inside", true, func(t *testing.T, top, root string) {
			write(t, root, "boot/grub/real.cfg", entry)
			symlink(t, "real.cfg", root, "boot/grub/grub.cfg")
		}, false, "symbolic link"},
		{"grub directory symlink", true, func(t *testing.T, top, root string) {
			write(t, top, "elsewhere/grub.cfg", entry)
			symlink(t, filepath.Join(top, "elsewhere"), root, "boot/grub")
		}, false, "symbolic link"},
		{"configfile off the partition", true, func(t *testing.T, top, root string) {
			write(t, top, "evil.cfg", entry)
			write(t, root, "boot/grub/grub.cfg", "configfile ../evil.cfg\n")
		}, false, "outside"},
		{"grubenv FIFO", true, func(t *testing.T, top, root string) {
			write(t, root, "boot/grub/grub.cfg", "set default=\"${saved_entry}\"\n"+entry)
			mkfifo(t, root, "boot/grub/grubenv")
		}, true, "boot/grub/grubenv is a FIFO, not a regular file"},
		{"blscfg entry FIFO", true, func(t *testing.T, top, root string) {
			write(t, root, "boot/grub/grub.cfg", "blscfg\n")
			mkfifo(t, root, "boot/loader/entries/x.conf")
		}, true, "boot/loader/entries/x.conf is a FIFO, not a regular file"},
		{"search --file link", true, func(t *testing.T, top, root string) {
			write(t, top, "evil", "x")
			symlink(t, filepath.Join(top, "evil"), root, "marker")
			write(t, root, "boot/grub/grub.cfg", "search --file --set=root /marker\n"+entry)
		}, true, "search --file /marker: marker is a symbolic link"},
		{"syslinux.cfg FIFO", true, func(t *testing.T, top, root string) { mkfifo(t, root, "syslinux.cfg") }, false,
			"syslinux.cfg is a FIFO, not a regular file"},
		{"syslinux include FIFO", true, func(t *testing.T, top, root string) {
			write(t, root, "syslinux.cfg", "LABEL x\n KERNEL /vmlinuz\nINCLUDE /inc.cfg\n")
			mkfifo(t, root, "inc.cfg")
		}, false, "inc.cfg is a FIFO, not a regular file"},
		{"BLS entry FIFO", false, func(t *testing.T, top, root string) { mkfifo(t, root, "loader/entries/x.conf") }, false,
			"loader/entries/x.conf is a FIFO, not a regular file"},
		{"BLS kernel FIFO", false, func(t *testing.T, top, root string) {
			write(t, root, "loader/entries/x.conf", "title x\nlinux /k\n")
			mkfifo(t, root, "k")
		}, false, "k is a FIFO, not a regular file"},
		{"BLS loader.conf FIFO", false, func(t *testing.T, top, root string) {
			write(t, root, "loader/entries/x.conf", "title x\nlinux /vmlinuz\n")
			mkfifo(t, root, "loader/loader.conf")
		}, false, "loader/loader.conf is a FIFO, not a regular file"},
		{"BLS entry symlink outside", false, func(t *testing.T, top, root string) {
			write(t, top, "evil.conf", "title x\nlinux /vmlinuz\n")
			symlink(t, filepath.Join(top, "evil.conf"), root, "loader/entries/x.conf")
		}, false, "symbolic link"},
		{"BLS entries directory symlink", false, func(t *testing.T, top, root string) {
			write(t, top, "entries/x.conf", "title x\nlinux /vmlinuz\n")
			symlink(t, filepath.Join(top, "entries"), root, "loader/entries")
		}, false, "symbolic link"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.grub {
				needGRUB(t)
			}
			top := t.TempDir()
			root := filepath.Join(top, "p1")
			write(t, root, "vmlinuz", "k")
			tc.setup(t, top, root)
			pool := &mount.Pool{}
			if tc.pool {
				pool.Add(&mount.MountPoint{Path: root, Device: "/dev/fake1", FSType: "ext4"})
			}
			got, errs := scanWithin(t, root, pool, 3*time.Second)
			for _, e := range got {
				if strings.Contains(tc.name, "grub") && e.Source == "grub" || strings.Contains(tc.name, "syslinux") && e.Source == "syslinux" ||
					strings.Contains(tc.name, "BLS") && e.Source == "bls" {
					t.Errorf("ScanDir gave entry %+v, want that parser refused", e)
				}
			}
			if !strings.Contains(strings.Join(errs, "; "), tc.want) {
				t.Errorf("ScanDir errors = %q, want one containing %q", errs, tc.want)
			}
		})
	}
}

// TestScanDirLinkedFiles: an entry whose kernel, initrd or devicetree path has a symbolic link
// component is refused with a clear reason, even when the link stays on the partition.
func TestScanDirLinkedFiles(t *testing.T) {
	for _, tc := range []struct{ name, file, cfg string }{
		{"bls kernel link inside", "loader/entries/x.conf", "title x\nlinux /boot/link\n"},
		{"bls initrd directory link", "loader/entries/x.conf", "title x\nlinux /boot/vmlinuz\ninitrd /bootlink/initrd\n"},
		{"grub kernel link inside", "boot/grub/grub.cfg", "menuentry 'x' {\n linux /boot/link\n}\n"},
		{"grub second initrd link", "boot/grub/grub.cfg", "menuentry 'x' {\n linux /boot/vmlinuz\n initrd /boot/initrd /bootlink/initrd\n}\n"},
		{"grub devicetree link", "boot/grub/grub.cfg", "menuentry 'x' {\n linux /boot/vmlinuz\n devicetree /boot/link\n}\n"},
		{"syslinux kernel directory link", "syslinux.cfg", "LABEL x\n KERNEL /bootlink/vmlinuz\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if !strings.HasPrefix(tc.name, "bls") {
				needGRUB(t)
			}
			root := t.TempDir()
			write(t, root, "boot/vmlinuz", "k")
			write(t, root, "boot/initrd", "i")
			symlink(t, "vmlinuz", root, "boot/link")
			symlink(t, "boot", root, "bootlink")
			write(t, root, tc.file, tc.cfg)
			got, errs := scanWithin(t, root, &mount.Pool{}, 3*time.Second)
			if len(got) != 0 {
				t.Errorf("ScanDir = %+v, want no entry", got)
			}
			if !strings.Contains(strings.Join(errs, "; "), "is a symbolic link") {
				t.Errorf("errors = %q, want one naming the symbolic link", errs)
			}
		})
	}
}

// TestScanDirOwnInitrds: each entry gets exactly its own initrds. With Arch's grub.cfg the old
// code gave the fallback entry the main entry's initramfs (the first "initrd" line of any config
// whose first path matched), and a BLS entry the initrds of another entry file with its kernel.
func TestScanDirOwnInitrds(t *testing.T) {
	root := t.TempDir()
	for _, f := range []string{"boot/vmlinuz-linux", "boot/intel-ucode.img", "boot/initramfs-linux.img", "boot/initramfs-linux-fallback.img",
		"vmlinuz-6.8", "amd-ucode.img", "initramfs-6.8.img"} {
		write(t, root, f, "x")
	}
	write(t, root, "boot/grub/grub.cfg", `menuentry 'Arch Linux' --class arch {
	linux	/boot/vmlinuz-linux root=UUID=1 rw loglevel=3 quiet
	initrd	/boot/intel-ucode.img /boot/initramfs-linux.img
}
menuentry 'Arch Linux (fallback initramfs)' --class arch {
	linux	/boot/vmlinuz-linux root=UUID=1 rw loglevel=3 quiet
	initrd	/boot/intel-ucode.img /boot/initramfs-linux-fallback.img
}
`)
	// a.conf sorts first and lists the initramfs b.conf keeps; b.conf has no microcode.
	write(t, root, "loader/entries/a.conf", "title A\nlinux /vmlinuz-6.8\ninitrd /amd-ucode.img\ninitrd /initramfs-6.8.img\noptions ro\n")
	write(t, root, "loader/entries/b.conf", "title B\nlinux /vmlinuz-6.8\ninitrd /initramfs-6.8.img\noptions ro\n")
	got, errs := scanWithin(t, root, &mount.Pool{}, 5*time.Second)
	want := map[string][]string{
		"A": {"/amd-ucode.img", "/initramfs-6.8.img"},
		"B": {"/initramfs-6.8.img"},
	}
	if slices.Contains(Parsers(), "grub") {
		want["Arch Linux"] = []string{"/boot/intel-ucode.img", "/boot/initramfs-linux.img"}
		want["Arch Linux (fallback initramfs)"] = []string{"/boot/intel-ucode.img", "/boot/initramfs-linux-fallback.img"}
	}
	if len(got) != len(want) {
		t.Fatalf("ScanDir found %d entries (%+v), want %d; errors %q", len(got), got, len(want), errs)
	}
	for _, e := range got {
		e.FS.Mount = root
		var rel []string
		for _, p := range e.Initrds {
			rel = append(rel, e.RelPath(p))
		}
		if !slices.Equal(rel, want[e.Name]) {
			t.Errorf("entry %q initrds = %q, want %q", e.Name, rel, want[e.Name])
		}
	}
}

// TestScanDirAmbiguousInitrds: two BLS entry files that u-root turns into the same image but that
// list different initrds are refused rather than guessed between.
func TestScanDirAmbiguousInitrds(t *testing.T) {
	root := t.TempDir()
	for _, f := range []string{"vmlinuz", "ucode.img", "other.img", "initramfs.img"} {
		write(t, root, f, "x")
	}
	write(t, root, "loader/entries/a.conf", "title A\nlinux /vmlinuz\ninitrd /ucode.img\ninitrd /initramfs.img\noptions ro\n")
	write(t, root, "loader/entries/b.conf", "title A\nlinux /vmlinuz\ninitrd /other.img\ninitrd /initramfs.img\noptions ro\n")
	got, errs := scanWithin(t, root, &mount.Pool{}, 5*time.Second)
	if len(got) != 0 || !strings.Contains(strings.Join(errs, "; "), "ambiguous") {
		t.Errorf("ScanDir = %+v, errors %q; want no entry and an error saying the initrds are ambiguous", got, errs)
	}
	if !slices.Contains(Parsers(), "grub") {
		return
	}
	// Two GRUB entries alike in label, kernel, command line and first initrd.
	root = t.TempDir()
	for _, f := range []string{"vmlinuz", "ucode.img", "other.img", "initramfs.img"} {
		write(t, root, f, "x")
	}
	write(t, root, "boot/grub/grub.cfg", "menuentry 'A' {\n linux /vmlinuz ro\n initrd /ucode.img /initramfs.img\n}\n"+
		"menuentry 'A' {\n linux /vmlinuz ro\n initrd /ucode.img /other.img\n}\n")
	got, errs = scanWithin(t, root, &mount.Pool{}, 5*time.Second)
	if len(got) != 0 || !strings.Contains(strings.Join(errs, "; "), "ambiguous") {
		t.Errorf("ScanDir = %+v, errors %q; want no GRUB entry and an error saying the initrds are ambiguous", got, errs)
	}
}

// TestScanDirConfigTooLarge: a configuration file larger than the bound is refused, not read.
func TestScanDirConfigTooLarge(t *testing.T) {
	needGRUB(t)
	root := t.TempDir()
	write(t, root, "vmlinuz", "k")
	write(t, root, "boot/grub/grub.cfg", "menuentry 'x' {\n linux /vmlinuz\n}\n"+strings.Repeat("# padding\n", 120000))
	got, errs := scanWithin(t, root, &mount.Pool{}, 5*time.Second)
	if len(got) != 0 || !strings.Contains(strings.Join(errs, "; "), "larger than 1048576 bytes") {
		t.Errorf("ScanDir with a 1.2 MB grub.cfg = %d entries, errors %q; want none and an error naming the size bound", len(got), errs)
	}
}

// TestScanDirDeadline: discovery respects its context: past the deadline nothing is scanned and
// each parser says why.
func TestScanDirDeadline(t *testing.T) {
	root := t.TempDir()
	write(t, root, "vmlinuz", "k")
	write(t, root, "loader/entries/x.conf", "title x\nlinux /vmlinuz\n")
	write(t, root, "boot/grub/grub.cfg", "menuentry 'x' {\n linux /vmlinuz\n}\n")
	ctx, cancel := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel()
	got, errs := ScanDir(ctx, root, nil, &mount.Pool{})
	if len(got) != 0 || !strings.Contains(strings.Join(errs, "; "), "deadline exceeded") {
		t.Errorf("ScanDir past its deadline = %d entries, errors %q; want none and the deadline named", len(got), errs)
	}
}

// TestGRUBBLSOwnPartition: GRUB's blscfg reads the BLS entries, and set default="${saved_entry}"
// the grubenv, of the partition whose GRUB configuration is being read, never another disk's. On
// the old code both were read from every mounted partition (the last saved_entry found won), so a
// second disk with loader/entries/zz-evil.conf (the genuine kernel, init=/bin/sh) and a grubenv
// naming it became the first disk's default, and a second disk's grubenv alone could pick which
// of the first disk's entries booted. A configuration whose $root (search --set=root) names
// another partition when it runs blscfg is refused, naming that partition.
func TestGRUBBLSOwnPartition(t *testing.T) {
	needGRUB(t)
	const fedora = "set default=\"${saved_entry}\"\nblscfg\n"
	evil := map[string]string{
		"p2/loader/entries/zz-evil.conf": "title evil\nlinux /vmlinuz\noptions init=/bin/sh\n",
		"p2/boot/grub2/grubenv":          "# GRUB Environment Block\nsaved_entry=zz-evil\n",
	}
	two := map[string]string{
		"p1/loader/entries/fedora-6.8.conf": "title Fedora 6.8\nlinux /vmlinuz\noptions root=UUID=1111 ro\n",
		"p1/loader/entries/fedora-6.1.conf": "title Fedora 6.1\nlinux /vmlinuz\noptions root=UUID=1111 ro\n",
	}
	join := func(ms ...map[string]string) map[string]string {
		out := map[string]string{}
		for _, m := range ms {
			for k, v := range m {
				out[k] = v
			}
		}
		return out
	}
	for _, tc := range []struct {
		name  string
		cfg   string            // p1's boot/grub2/grub.cfg
		files map[string]string // "p1/..." on the disk scanned, "p2/..." on a second mounted disk
		first string            // the entry that boots first (the highest rank, as Scan orders them)
		err   string            // an error containing this ("@P2@": the second disk's mount point)
	}{
		{"entries and grubenv on a second disk", fedora, join(two, evil, map[string]string{
			"p1/boot/grub2/grubenv": "saved_entry=fedora-6.1\n"}), "Fedora 6.1", ""},
		{"entries and grubenv only on a second disk", fedora, join(two, evil), "Fedora 6.8", ""},
		{"grubenv of a second disk picks the default", fedora, join(two, map[string]string{
			"p1/boot/grub2/grubenv": "saved_entry=fedora-6.8\n",
			"p2/grub2/grubenv":      "saved_entry=fedora-6.1\n"}), "Fedora 6.8", ""},
		{"search sets $root to its own partition", "search --no-floppy --fs-uuid --set=root 1111\n" + fedora, join(two, evil, map[string]string{
			"p1/boot/grub2/grubenv": "saved_entry=fedora-6.1\n"}), "Fedora 6.1", ""},
		{"search sets $root to a second disk", "search --no-floppy --fs-uuid --set=root 2222\n" + fedora, join(two, evil), "Fedora 6.8",
			"blscfg would read the BLS entries of @P2@ (/dev/fake2)"},
		{"a configuration naming the blscfg probe", "configfile /.measuredboot-blscfg-root\n" + fedora, join(two, evil), "Fedora 6.8",
			"configfile /.measuredboot-blscfg-root: no configuration text read for it"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			top := t.TempDir()
			p1, p2 := filepath.Join(top, "p1"), filepath.Join(top, "p2")
			write(t, p1, "vmlinuz", "the genuine signed kernel")
			write(t, p2, "vmlinuz", "the genuine signed kernel")
			write(t, p1, "boot/grub2/grub.cfg", tc.cfg)
			for name, content := range tc.files {
				write(t, top, name, content)
			}
			pool := &mount.Pool{}
			pool.Add(&mount.MountPoint{Path: p1, Device: "/dev/fake1", FSType: "ext4"}, &mount.MountPoint{Path: p2, Device: "/dev/fake2", FSType: "ext4"})
			devs := block.BlockDevices{{Name: "fake1", FsUUID: "1111"}, {Name: "fake2", FsUUID: "2222"}}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			got, errs := ScanDir(ctx, p1, devs, pool)
			for _, e := range got {
				for _, p := range append([]string{e.Kernel}, e.Initrds...) {
					if under(p2, p) {
						t.Errorf("ScanDir(%s) gave %s entry %q with %s from the second disk", p1, e.Source, e.Name, p)
					}
				}
			}
			sort.SliceStable(got, func(a, b int) bool { return got[a].Rank > got[b].Rank })
			if len(got) == 0 || got[0].Name != tc.first {
				t.Errorf("ScanDir(%s) boots %q first, want %q; errors %q", p1, entrySources(got), tc.first, errs)
			}
			all := strings.Join(errs, "; ")
			if want := strings.ReplaceAll(tc.err, "@P2@", p2); want != "" && !strings.Contains(all, want) {
				t.Errorf("ScanDir errors = %q, want one containing %q", errs, want)
			}
			if tc.err == "" && strings.Contains(all, "grub:") {
				t.Errorf("ScanDir errors = %q, want GRUB to give its entries", errs)
			}
		})
	}
}
