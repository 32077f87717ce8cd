package discover

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/u-root/u-root/pkg/mount"
)

func write(t *testing.T, root, name, content string) string {
	t.Helper()
	p := filepath.Join(root, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestScanDirGRUB(t *testing.T) {
	needGRUB(t)
	root := t.TempDir()
	write(t, root, "boot/vmlinuz-6.1", "k")
	write(t, root, "boot/initrd.img-6.1", "i")
	write(t, root, "boot/grub/grub.cfg", `set default="0"
menuentry 'Debian GNU/Linux' --class debian $menuentry_id_option 'gnulinux-simple' {
	insmod ext2
	echo	'Loading Linux 6.1 ...'
	linux	/boot/vmlinuz-6.1 root=UUID=1234 ro quiet
	initrd	/boot/initrd.img-6.1
}
menuentry 'Second' {
	linux /boot/vmlinuz-6.1 single
}
`)
	got, errs := ScanDir(context.Background(), root, nil, &mount.Pool{})
	if len(got) != 2 {
		t.Fatalf("ScanDir found %d entries (%v), want 2; errors: %v", len(got), got, errs)
	}
	e := got[0]
	e.FS.Mount = root
	if e.Name != "Debian GNU/Linux" || e.Source != "grub" || e.Cmdline != "root=UUID=1234 ro quiet" {
		t.Errorf("entry 0 = %+v, want Debian GNU/Linux from grub with its cmdline", e)
	}
	if e.RelPath(e.Kernel) != "/boot/vmlinuz-6.1" || len(e.Initrds) != 1 || e.RelPath(e.Initrds[0]) != "/boot/initrd.img-6.1" {
		t.Errorf("entry 0 files = %s %v, want /boot/vmlinuz-6.1 [/boot/initrd.img-6.1]", e.Kernel, e.Initrds)
	}
	if len(got[1].Initrds) != 0 {
		t.Errorf("entry 1 initrds = %v, want none", got[1].Initrds)
	}
}

func TestScanDirBLS(t *testing.T) {
	root := t.TempDir()
	write(t, root, "vmlinuz-6.8", "k")
	write(t, root, "initramfs-6.8.img", "i")
	write(t, root, "loader/entries/abc-6.8.conf", `title Fedora Linux (6.8) 40
version 6.8
linux /vmlinuz-6.8
initrd /initramfs-6.8.img
options root=UUID=1234 ro rhgb quiet
`)
	got, errs := ScanDir(context.Background(), root, nil, &mount.Pool{})
	if len(got) != 1 {
		t.Fatalf("ScanDir found %d entries, want 1; errors: %v", len(got), errs)
	}
	e := got[0]
	e.FS.Mount = root
	if e.Source != "bls" || !strings.HasPrefix(e.Name, "Fedora Linux (6.8) 40") || e.RelPath(e.Kernel) != "/vmlinuz-6.8" || e.Cmdline != "root=UUID=1234 ro rhgb quiet" {
		t.Errorf("entry = %+v, want the Fedora BLS entry", e)
	}
}

func TestScanDirNothing(t *testing.T) {
	root := t.TempDir()
	write(t, root, "data/README", "x")
	got, errs := ScanDir(context.Background(), root, nil, &mount.Pool{})
	if len(got) != 0 || len(errs) == 0 {
		t.Errorf("ScanDir on a data partition = %v, %v; want no entries and the parsers' reasons", got, errs)
	}
}

// A hostile config naming a network file gives no bootable entry for that line, and the reason is
// kept: the GRUB and syslinux parsers may fetch local files only.
func TestScanDirHostile(t *testing.T) {
	needGRUB(t)
	for _, tc := range []struct{ name, file, cfg string }{
		{"grub http", "boot/grub/grub.cfg", "menuentry 'x' {\n linux http://evil.example/vmlinuz\n}\n"},
		{"grub tftp initrd", "boot/grub/grub.cfg", "menuentry 'x' {\n linux /vmlinuz\n initrd tftp://10.0.0.1/initrd\n}\n"},
		{"syslinux tftp", "extlinux/extlinux.conf", "DEFAULT x\nLABEL x\n KERNEL tftp://10.0.0.1/vmlinuz\n"},
		{"syslinux initrd http", "syslinux.cfg", "LABEL x\n KERNEL /vmlinuz\n INITRD /initrd,http://evil.example/initrd\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			write(t, root, "vmlinuz", "kernel")
			write(t, root, tc.file, tc.cfg)
			got, errs := ScanDir(context.Background(), root, nil, &mount.Pool{})
			if len(got) != 0 {
				t.Errorf("ScanDir with a network file = %+v, want no entry", got)
			}
			if !strings.Contains(strings.Join(errs, ";"), "only local files") {
				t.Errorf("errors = %v, want one saying only local files are booted", errs)
			}
		})
	}
}

// TestScanDirSyslinux: an extlinux.conf gives its entry, with its initrds in order.
func TestScanDirSyslinux(t *testing.T) {
	needGRUB(t)
	root := t.TempDir()
	write(t, root, "boot/vmlinuz-6.1", "kernel")
	write(t, root, "boot/initrd.img-6.1", "initrd")
	write(t, root, "boot/ucode.img", "microcode")
	write(t, root, "extlinux/extlinux.conf", "DEFAULT debian\nLABEL debian\n KERNEL /boot/vmlinuz-6.1\n INITRD /boot/ucode.img,/boot/initrd.img-6.1\n APPEND root=/dev/vda1 ro\n")
	got, errs := ScanDir(context.Background(), root, nil, &mount.Pool{})
	if len(got) != 1 {
		t.Fatalf("ScanDir = %+v (errors %v), want one entry", got, errs)
	}
	e := got[0]
	if e.Source != "syslinux" || e.Kernel != filepath.Join(root, "boot/vmlinuz-6.1") ||
		!slices.Equal(e.Initrds, []string{filepath.Join(root, "boot/ucode.img"), filepath.Join(root, "boot/initrd.img-6.1")}) || !strings.Contains(e.Cmdline, "root=/dev/vda1 ro") {
		t.Errorf("entry = %+v", e)
	}
}

func TestFSOf(t *testing.T) {
	e := Entry{
		FS:     FS{Device: "vda1", UUID: "a", Mount: "/tmp/m/vda1"},
		Mounts: []FS{{Device: "vda1", UUID: "a", Mount: "/tmp/m/vda1"}, {Device: "vda10", UUID: "b", Mount: "/tmp/m/vda10"}},
	}
	for _, tt := range []struct{ path, uuid, rel string }{
		{"/tmp/m/vda1/boot/vmlinuz", "a", "/boot/vmlinuz"},
		{"/tmp/m/vda10/vmlinuz", "b", "/vmlinuz"},
		{"/elsewhere/vmlinuz", "a", "/elsewhere/vmlinuz"},
	} {
		if got := e.FSOf(tt.path).UUID; got != tt.uuid {
			t.Errorf("FSOf(%q).UUID = %q, want %q", tt.path, got, tt.uuid)
		}
		if got := e.RelPath(tt.path); got != tt.rel {
			t.Errorf("RelPath(%q) = %q, want %q", tt.path, got, tt.rel)
		}
	}
}

func TestScanDirMicrocode(t *testing.T) {
	needGRUB(t)
	root := t.TempDir()
	for _, f := range []string{"boot/vmlinuz", "boot/intel-ucode.img", "boot/initrd.img", "vmlinuz-6.8", "amd-ucode.img", "initramfs-6.8.img"} {
		write(t, root, f, "x")
	}
	write(t, root, "boot/grub/grub.cfg", "menuentry 'Arch' {\n\tlinux /boot/vmlinuz rw\n\tinitrd /boot/intel-ucode.img /boot/initrd.img\n}\n")
	write(t, root, "loader/entries/fedora.conf", "title Fedora\nlinux /vmlinuz-6.8\ninitrd /amd-ucode.img\ninitrd /initramfs-6.8.img\noptions ro\n")
	got, errs := ScanDir(context.Background(), root, nil, &mount.Pool{})
	if len(got) != 2 {
		t.Fatalf("ScanDir found %d entries, want 2; errors %v", len(got), errs)
	}
	want := map[string][]string{
		"bls":  {"/amd-ucode.img", "/initramfs-6.8.img"},
		"grub": {"/boot/intel-ucode.img", "/boot/initrd.img"},
	}
	for _, e := range got {
		e.FS.Mount = root
		var rel []string
		for _, p := range e.Initrds {
			rel = append(rel, e.RelPath(p))
		}
		if strings.Join(rel, " ") != strings.Join(want[e.Source], " ") {
			t.Errorf("%s entry initrds = %v, want %v", e.Source, rel, want[e.Source])
		}
	}
}

// needGRUB skips a test of the GRUB or syslinux parsers in a measuredboot_blsonly build, which
// has none (TestParsers checks that); make test runs the default build, where nothing skips.
func needGRUB(t *testing.T) {
	t.Helper()
	if !slices.Contains(Parsers(), "grub") {
		t.Skip("built with measuredboot_blsonly: no GRUB or syslinux parser")
	}
}

// TestParsers: the default build reads BLS, GRUB and syslinux; a measuredboot_blsonly build
// reads BLS and finds nothing in a GRUB-only file system.
func TestParsers(t *testing.T) {
	root := t.TempDir()
	write(t, root, "boot/vmlinuz-6.1", "k")
	write(t, root, "boot/grub/grub.cfg", "menuentry 'x' {\n linux /boot/vmlinuz-6.1\n}\n")
	got, _ := ScanDir(context.Background(), root, nil, &mount.Pool{})
	if blsOnly {
		if !slices.Equal(Parsers(), []string{"bls"}) || len(got) != 0 {
			t.Errorf("blsonly build: parsers %v, %d entries from a grub.cfg; want [bls] and none", Parsers(), len(got))
		}
		return
	}
	if !slices.Equal(Parsers(), []string{"bls", "grub", "syslinux"}) || len(got) != 1 {
		t.Errorf("parsers %v, %d entries from a grub.cfg; want [bls grub syslinux] and 1", Parsers(), len(got))
	}
}

// TestScanDirOutside: a configuration may hand over only files on the partitions scanned; a path
// that climbs out of the partition or a symbolic link leading out of it gives no entry, and the
// reason is kept. outside is a real file beside the partition, so only the check refuses it.
func TestScanDirOutside(t *testing.T) {
	for _, tc := range []struct{ name, file, cfg, link string }{
		{"bls kernel ..", "loader/entries/x.conf", "title x\nlinux /../outside\n", ""},
		{"bls initrd ..", "loader/entries/x.conf", "title x\nlinux /vmlinuz\ninitrd /../../outside\n", ""},
		{"bls second initrd ..", "loader/entries/x.conf", "title x\nlinux /vmlinuz\ninitrd /initrd\ninitrd /../outside\n", ""},
		{"bls kernel symlink", "loader/entries/x.conf", "title x\nlinux /link\n", "link"},
		{"grub kernel symlink", "boot/grub/grub.cfg", "menuentry 'x' {\n linux /boot/link\n}\n", "boot/link"},
		{"grub initrd symlink", "boot/grub/grub.cfg", "menuentry 'x' {\n linux /vmlinuz\n initrd /initrd /boot/link\n}\n", "boot/link"},
		{"syslinux initrd symlink", "syslinux.cfg", "LABEL x\n KERNEL /vmlinuz\n INITRD /link\n", "link"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if strings.HasPrefix(tc.file, "boot/grub") || strings.HasPrefix(tc.file, "syslinux") {
				needGRUB(t)
			}
			top := t.TempDir()
			root := filepath.Join(top, "part", "p1")
			write(t, top, "outside", "not on the disk")
			write(t, top, "part/outside", "not on the disk")
			write(t, root, "vmlinuz", "k")
			write(t, root, "initrd", "i")
			write(t, root, tc.file, tc.cfg)
			if tc.link != "" {
				if err := os.Symlink(filepath.Join(top, "outside"), filepath.Join(root, tc.link)); err != nil {
					t.Fatal(err)
				}
			}
			got, errs := ScanDir(context.Background(), root, nil, &mount.Pool{})
			if len(got) != 0 {
				t.Errorf("ScanDir = %+v, want no entry", got)
			}
			if !strings.Contains(strings.Join(errs, ";"), "nothing off the disks is booted") {
				t.Errorf("errors = %v, want one saying the file is off the disks", errs)
			}
		})
	}
}

// FuzzScanDir feeds a hostile configuration to every parser (the first byte picks the file: a
// BLS entry, grub.cfg or syslinux.cfg) and checks that ScanDir never panics and that every file
// of every entry it returns lies on the partition, symbolic links resolved.
func FuzzScanDir(f *testing.F) {
	f.Add([]byte("\x00title x\nlinux /vmlinuz\ninitrd /initrd\noptions ro\n"))
	f.Add([]byte("\x00title x\nlinux /../vmlinuz\ninitrd /../../initrd\n"))
	f.Add([]byte("\x01menuentry 'x' {\n linux /vmlinuz ro\n initrd /initrd /link\n}\n"))
	f.Add([]byte("\x01set root=(hd0,1)\nmenuentry 'x' {\n linux ($root)/../vmlinuz\n}\n"))
	f.Add([]byte("\x02DEFAULT x\nLABEL x\n KERNEL ../../vmlinuz\n INITRD /initrd,/link\n APPEND ro\n"))
	files := []string{"loader/entries/fuzz.conf", "boot/grub/grub.cfg", "syslinux.cfg"}
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) == 0 {
			return
		}
		top := t.TempDir()
		root := filepath.Join(top, "p1")
		write(t, top, "vmlinuz", "off the disk")
		write(t, top, "initrd", "off the disk")
		write(t, root, "vmlinuz", "k")
		write(t, root, "initrd", "i")
		if err := os.Symlink(filepath.Join(top, "vmlinuz"), filepath.Join(root, "link")); err != nil {
			t.Fatal(err)
		}
		write(t, root, files[int(b[0])%len(files)], string(b[1:]))
		got, _ := ScanDir(context.Background(), root, nil, &mount.Pool{})
		for _, e := range got {
			for _, p := range append(append([]string{e.Kernel}, e.Initrds...), e.DTB) {
				if p == "" {
					continue
				}
				rp, err := filepath.EvalSymlinks(p)
				if err != nil {
					rp = p
				}
				if !under(root, p) || !under(root, rp) {
					t.Fatalf("config %q: entry %q hands over %s (%s), off the partition %s", b, e.Name, p, rp, root)
				}
			}
		}
	})
}
