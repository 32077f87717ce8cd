package discover

import (
	"bytes"
	"context"
	"io"
	"log"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/u-root/u-root/pkg/mount"
)

// partitionFiles are the files FuzzScanPartition writes, in the order the input's parts fill
// them; "p2/" ones go on a second mounted disk.
var partitionFiles = []string{
	"p1/boot/grub/grub.cfg",
	"p1/boot/grub/a.cfg",
	"p1/boot/grub/grubenv",
	"p1/loader/entries/a.conf",
	"p1/loader/entries/b.conf",
	"p1/syslinux.cfg",
	"p1/b.cfg",
	"p1/loader/loader.conf",
	"p2/boot/grub/grub.cfg",
	"p2/loader/entries/c.conf",
	"p1/EFI/x/grub.cfg",
	"p1/extlinux/extlinux.conf",
}

// FuzzScanPartition builds whole partitions from the input (split at NUL bytes into the files of
// partitionFiles; "@P1@", "@P2@" and "@TOP@" stand for the disks' and their parent's paths) next
// to a FIFO, a link off the disk and a file off the disk, and runs ScanDir on the first disk
// with the second one mounted. It checks that ScanDir returns within its deadline plus slack,
// gives at most the entry bound per parser, and hands over only files on the disks, reached
// without a symbolic link.
func FuzzScanPartition(f *testing.F) {
	seeds := [][]string{
		{"menuentry 'x' {\n linux /vmlinuz ro\n initrd /initrd\n}\nconfigfile /boot/grub/grub.cfg\n"},
		{"configfile /boot/grub/a.cfg\n", "menuentry 'a' {\n linux /vmlinuz\n}\nconfigfile /boot/grub/grub.cfg\n"},
		{"configfile grub.cfg\nconfigfile /boot/grub/a.cfg\n", "configfile /boot/grub/a.cfg\nconfigfile /boot/grub/a.cfg\n"},
		{"", "", "", "", "", "LABEL x\n KERNEL /vmlinuz\n INITRD /initrd,/fifo\nINCLUDE /b.cfg\n", "INCLUDE /syslinux.cfg\nINCLUDE b.cfg\n"},
		{"set default=\"${saved_entry}\"\nblscfg\nmenuentry 'x' {\n linux /vmlinuz\n initrd /initrd /initrd\n}\n", "", "saved_entry=c\n",
			"title a\nlinux /vmlinuz\ninitrd /initrd\ninitrd /link\noptions $kernelopts\n", "title b\nlinux /fifo\n", "", "", "default a\n",
			"menuentry 'p2' {\n linux /vmlinuz\n}\n", "title c\nlinux /vmlinuz\ninitrd /initrd\n"},
		{"configfile file://@P2@/boot/grub/grub.cfg\n", "", "", "", "", "", "", "", "configfile file://@P1@/boot/grub/grub.cfg\nmenuentry 'y' {\n linux file://@P2@/vmlinuz\n}\n"},
		{"menuentry 'x' {\n linux /vmlinuz\n initrd ../initrd\n devicetree /link\n}\nconfigfile ../outside\nconfigfile /fifo\n"},
		{"search --file --set=root /vmlinuz\nmenuentry 'x' {\n linux /vmlinuz\n initrd /initrd\n}\n", "", "", "title x\nlinux /../vmlinuz\n"},
		{"", "", "", "", "", "", "", "", "", "", "menuentry 'efi' {\n linux /vmlinuz\n initrd /initrd\n}\n", "INCLUDE ../syslinux.cfg\nLABEL z\n KERNEL vmlinuz\n"},
		{strings.Repeat("menuentry 'x' {\n linux /vmlinuz\n}\n", 70)},
	}
	// u-root's parsers log every configuration they read; keep the fuzzer's workers quiet.
	log.SetOutput(io.Discard)
	f.Cleanup(func() { log.SetOutput(os.Stderr) })
	for _, s := range seeds {
		f.Add([]byte(strings.Join(s, "\x00")))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		top := t.TempDir()
		p1, p2 := filepath.Join(top, "p1"), filepath.Join(top, "p2")
		write(t, top, "outside", "off the disks")
		for _, p := range []string{p1, p2} {
			write(t, p, "vmlinuz", "k")
			write(t, p, "initrd", "i")
			if err := os.Symlink(filepath.Join(top, "outside"), filepath.Join(p, "link")); err != nil {
				t.Fatal(err)
			}
		}
		mkfifo(t, p1, "fifo")
		r := strings.NewReplacer("@P1@", p1, "@P2@", p2, "@TOP@", top)
		for i, part := range bytes.SplitN(b, []byte{0}, len(partitionFiles)) {
			if len(part) > 0 {
				write(t, top, partitionFiles[i], r.Replace(string(part)))
			}
		}
		pool := &mount.Pool{}
		pool.Add(&mount.MountPoint{Path: p1, Device: "/dev/fuzz1"}, &mount.MountPoint{Path: p2, Device: "/dev/fuzz2"})
		const deadline = 2 * time.Second
		ctx, cancel := context.WithTimeout(context.Background(), deadline)
		defer cancel()
		type result struct {
			got []Entry
		}
		done := make(chan result, 1)
		start := time.Now()
		go func() {
			got, _ := ScanDir(ctx, p1, nil, pool)
			done <- result{got}
		}()
		var got []Entry
		select {
		case res := <-done:
			got = res.got
		case <-time.After(deadline + 5*time.Second):
			releaseFIFOs(top)
			t.Fatalf("input %q: ScanDir did not return within %v of its %v deadline", b, 5*time.Second, deadline)
		}
		if d := time.Since(start); d > deadline+2*time.Second {
			t.Errorf("input %q: ScanDir took %v, deadline %v", b, d, deadline)
		}
		if len(got) > len(Parsers())*maxEntries {
			t.Errorf("input %q: %d entries, more than %d parsers may give (%d each)", b, len(got), len(Parsers()), maxEntries)
		}
		for _, e := range got {
			for _, p := range append(append([]string{e.Kernel}, e.Initrds...), e.DTB) {
				if p == "" {
					continue
				}
				rp, err := filepath.EvalSymlinks(p)
				if err != nil {
					rp = p
				}
				if !under(p1, p) && !under(p2, p) || rp != p {
					t.Fatalf("input %q: entry %q hands over %s (%s), off the disks or through a link", b, e.Name, p, rp)
				}
			}
		}
	})
}
