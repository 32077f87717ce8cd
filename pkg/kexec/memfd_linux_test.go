package kexec

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

func writeFile(t *testing.T, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "vmlinuz")
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestLoadedBytesAreHashedBytes shows that what the kernel would read from the memfd (the whole
// file behind the descriptor passed to kexec_file_load) is the measured prefix, hashed from the
// memfd's own memory, followed only by the appended segment, and that nothing can change it once
// sealed.
func TestLoadedBytesAreHashedBytes(t *testing.T) {
	data := bytes.Repeat([]byte("kernel-bytes."), 1000)
	b, err := ReadFile(writeFile(t, data))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if b.ReadSize != int64(len(data)) {
		t.Errorf("ReadSize = %d, want %d", b.ReadSize, len(data))
	}
	measured := sha256.Sum256(b.Bytes())
	if want := sha256.Sum256(data); measured != want {
		t.Fatalf("hash of Bytes() = %x, want %x", measured, want)
	}
	if err := b.f.Truncate(10); err == nil {
		t.Error("truncating the memfd below the measured prefix succeeded, want EPERM")
	}
	tail := []byte("07070100handover")
	if err := b.Append(tail, 4); err != nil {
		t.Fatal(err)
	}
	if err := b.Seal(); err != nil {
		t.Fatal(err)
	}
	if ok, err := b.Sealed(); err != nil || !ok {
		t.Fatalf("Sealed() = %v, %v, want true, nil", ok, err)
	}
	if _, err := b.f.WriteAt([]byte("X"), 0); !errors.Is(err, unix.EPERM) {
		t.Errorf("write to sealed memfd: err = %v, want EPERM", err)
	}
	if err := b.Append([]byte("more"), 1); err == nil {
		t.Error("Append after Seal succeeded, want error")
	}
	if _, err := unix.Mmap(b.Fd(), 0, 4096, unix.PROT_WRITE, unix.MAP_SHARED); err == nil {
		t.Error("writable mapping of sealed memfd succeeded, want EPERM")
	}
	// Read back what the kernel will read: the file behind the descriptor, from offset 0.
	got, err := os.ReadFile(fmt.Sprintf("/proc/self/fd/%d", b.Fd()))
	if err != nil {
		t.Fatal(err)
	}
	pad := (4 - len(data)%4) % 4
	if len(got) != len(data)+pad+len(tail) {
		t.Fatalf("memfd holds %d bytes, want %d", len(got), len(data)+pad+len(tail))
	}
	if h := sha256.Sum256(got[:len(data)]); h != measured {
		t.Errorf("memfd prefix hash = %x, want the measured %x", h, measured)
	}
	if !bytes.Equal(got[len(data):len(data)+pad], make([]byte, pad)) || !bytes.Equal(got[len(data)+pad:], tail) {
		t.Errorf("memfd tail = %q, want %d zero bytes then %q", got[len(data):], pad, tail)
	}
}

func TestReadFileErrors(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty")
	if err := os.WriteFile(empty, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{empty, dir, filepath.Join(dir, "missing")} {
		if b, err := ReadFile(p); err == nil {
			b.Close()
			t.Errorf("ReadFile(%q) succeeded, want error", p)
		}
	}
}

func TestLoadRefusesUnsealed(t *testing.T) {
	b, err := ReadFile(writeFile(t, []byte("k")))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if err := Load(b, nil, ""); err == nil {
		t.Error("Load of an unsealed memfd succeeded, want error")
	}
}

func TestReadFilesConcatenates(t *testing.T) {
	dir := t.TempDir()
	a, bb := filepath.Join(dir, "ucode.img"), filepath.Join(dir, "initrd.img")
	os.WriteFile(a, []byte("microcode"), 0o644) // 9 bytes: the next part starts at 12
	os.WriteFile(bb, []byte("initramfs"), 0o644)
	b, parts, err := ReadFiles("initrd", []string{a, bb})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	uid, gid := uint32(os.Getuid()), uint32(os.Getgid())
	want := []Part{{Path: a, Len: 9, Read: 9, Owner: uid, Group: gid}, {Path: bb, Off: 12, Len: 9, Read: 9, Owner: uid, Group: gid}}
	if len(parts) != 2 || parts[0] != want[0] || parts[1] != want[1] {
		t.Fatalf("parts = %+v, want %+v", parts, want)
	}
	if got := string(b.Bytes()); got != "microcode\x00\x00\x00initramfs" {
		t.Errorf("buffer = %q, want the files at 4-byte boundaries with zero padding", got)
	}
	if b.ReadSize != 18 {
		t.Errorf("ReadSize = %d, want 18 (each byte read once)", b.ReadSize)
	}
	if _, _, err := ReadFiles("x", []string{a, filepath.Join(dir, "missing")}); err == nil {
		t.Error("ReadFiles with a missing file succeeded, want error")
	}
}
