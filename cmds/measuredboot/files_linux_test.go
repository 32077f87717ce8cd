package main

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/u-root/u-root/pkg/mount"
	"golang.org/x/sys/unix"

	"github.com/measuredboot/measuredboot/pkg/kexec"
)

// disk lays out a fake boot partition mounted at root/part and a file outside it, the way an
// attacker's disk would point out of its partition.
func disk(t *testing.T) (s *linuxSystem, part, outside string) {
	t.Helper()
	top := t.TempDir()
	part = filepath.Join(top, "part")
	for _, d := range []string{filepath.Join(part, "boot"), filepath.Join(top, "secret")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	outside = filepath.Join(top, "secret", "file")
	write := func(p, data string) {
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(outside, "outside the partition")
	write(filepath.Join(part, "boot", "vmlinuz"), "kernel")
	write(filepath.Join(part, "boot", "initrd"), "initrd")
	link := func(target, p string) {
		if err := os.Symlink(target, p); err != nil {
			t.Fatal(err)
		}
	}
	link(outside, filepath.Join(part, "boot", "abs-link"))             // absolute link out
	link("../../secret/file", filepath.Join(part, "boot", "rel-link")) // relative link out
	link("vmlinuz", filepath.Join(part, "boot", "in-link"))            // link inside the partition
	link(filepath.Join(top, "secret"), filepath.Join(part, "dirlink")) // a directory link: boot -> /sys
	link(outside, filepath.Join(part, "boot", "vmlinuz.sig"))          // the signature, through a link out
	s = newSystem()
	s.pool.MountPoints = []*mount.MountPoint{{Path: part}, {Path: filepath.Join(top, "part-other")}}
	return s, part, outside
}

func TestReadFileStaysOnPartition(t *testing.T) {
	s, part, outside := disk(t)
	b, err := s.ReadFile(filepath.Join(part, "boot", "vmlinuz"))
	if err != nil {
		t.Fatalf("ReadFile(kernel on the partition) = %v, want it read", err)
	}
	if string(b.Bytes()) != "kernel" {
		t.Errorf("ReadFile(kernel) = %q, want %q", b.Bytes(), "kernel")
	}
	b.Close()
	for _, p := range []string{
		filepath.Join(part, "boot", "abs-link"),
		filepath.Join(part, "boot", "rel-link"),
		filepath.Join(part, "boot", "in-link"),
		filepath.Join(part, "dirlink", "file"),
		part + "/boot/../../secret/file", // ".." is refused, not cleaned
		outside,                          // under no mount point
	} {
		b, err := s.ReadFile(p)
		if err == nil {
			t.Errorf("ReadFile(%q) read %q, want an error: it is not a regular file beneath the partition's root", p, b.Bytes())
			b.Close()
		} else if !strings.Contains(err.Error(), p) && !strings.Contains(err.Error(), filepath.Clean(p)) {
			t.Errorf("ReadFile(%q) = %v, want an error naming the path", p, err)
		}
	}
	for _, paths := range [][]string{
		{filepath.Join(part, "boot", "initrd"), filepath.Join(part, "dirlink", "file")},
		{filepath.Join(part, "boot", "initrd"), outside},
	} {
		if b, _, err := s.ReadFiles("initrd", paths); err == nil {
			t.Errorf("ReadFiles(%q) read %q, want an error", paths, b.Bytes())
			b.Close()
		}
	}
	b, parts, err := s.ReadFiles("initrd", []string{filepath.Join(part, "boot", "vmlinuz"), filepath.Join(part, "boot", "initrd")})
	if err != nil || len(parts) != 2 || string(b.Bytes()) != "kernel\x00\x00initrd" {
		t.Errorf("ReadFiles(two files on the partition) = %+v, %v, want both read", parts, err)
	}
	if b != nil {
		b.Close()
	}
}

func TestEvidenceStaysOnPartition(t *testing.T) {
	s, part, outside := disk(t)
	if ev, err := s.Evidence(filepath.Join(part, "boot", "vmlinuz")); err == nil {
		t.Errorf("Evidence(kernel whose .sig links out of the partition) = %+v, nil, want an error", ev)
	}
	if ev, err := s.Evidence(filepath.Join(part, "boot", "initrd")); err != nil || ev.SigFile != nil || ev.XAttr != nil {
		t.Errorf("Evidence(file without a .sig) = %+v, %v, want no evidence, nil", ev, err)
	}
	if ev, err := s.Evidence(outside); err == nil {
		t.Errorf("Evidence(%q, under no mount point) = %+v, nil, want an error", outside, ev)
	}
}

// TestEvidenceOnPartition: the .sig and the xattr of a file on the partition are read; a FIFO as
// .sig is refused at once.
func TestEvidenceOnPartition(t *testing.T) {
	s, part, _ := disk(t)
	k := filepath.Join(part, "boot", "initrd")
	if err := os.WriteFile(k+".sig", []byte("\x03\x02sig"), 0o644); err != nil {
		t.Fatal(err)
	}
	xattr := os.Geteuid() == 0 && unix.Setxattr(k, "security.ima", []byte("\x03\x02x"), 0) == nil
	ev, err := s.Evidence(k)
	if err != nil || string(ev.SigFile) != "\x03\x02sig" || (xattr && string(ev.XAttr) != "\x03\x02x") {
		t.Errorf("Evidence(%q) = %+v, %v, want its .sig and (root: %v) its xattr", k, ev, err, xattr)
	}
	fifo := filepath.Join(part, "boot", "fifo")
	os.WriteFile(fifo, []byte("x"), 0o644)
	if err := unix.Mkfifo(fifo+".sig", 0o644); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { _, err := s.Evidence(fifo); done <- err }()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "a FIFO, not a regular file") {
			t.Errorf("Evidence(file whose .sig is a FIFO) = %v, want a FIFO error", err)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("Evidence(file whose .sig is a FIFO) blocked for 3s")
	}
}

// TestReadFileBudget: the system's reads share one budget, and closing a buffer frees its share.
func TestReadFileBudget(t *testing.T) {
	s, part, _ := disk(t)
	if s.budget == nil || s.budget.Limit() <= 0 {
		t.Fatalf("newSystem() budget = %v (%v), want one sized from RAM", s.budget, s.budgetErr)
	}
	s.budget = kexec.NewBudget(10)
	k, err := s.ReadFile(filepath.Join(part, "boot", "vmlinuz")) // 6 bytes
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.ReadFiles("initrd", []string{filepath.Join(part, "boot", "initrd")}); !errors.Is(err, kexec.ErrOverBudget) {
		t.Errorf("ReadFiles(6 more bytes, 6 of 10 held) = %v, want ErrOverBudget", err)
	}
	k.Close()
	b, _, err := s.ReadFiles("initrd", []string{filepath.Join(part, "boot", "initrd")})
	if err != nil {
		t.Fatalf("ReadFiles after the kernel's buffer was closed = %v, want read", err)
	}
	b.Close()
}

// TestWalkFilesStaysOnPartition: a directory link out of the partition is skipped, never entered.
func TestWalkFilesStaysOnPartition(t *testing.T) {
	s, part, _ := disk(t)
	files, skipped, err := s.WalkFiles("", part, 100)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{filepath.Join(part, "boot", "initrd"), filepath.Join(part, "boot", "vmlinuz")}
	if strings.Join(files, ",") != strings.Join(want, ",") {
		t.Errorf("WalkFiles(%s) = %q, want %q", part, files, want)
	}
	if len(skipped) != 5 || skipped[4].Path != filepath.Join(part, "dirlink") {
		t.Errorf("WalkFiles(%s) skipped %v, want the 5 links, dirlink last", part, skipped)
	}
	if _, _, err := s.WalkFiles("", filepath.Join(part, "dirlink"), 100); err == nil {
		t.Error("WalkFiles(a directory link out of the partition) succeeded, want an error")
	}
}
