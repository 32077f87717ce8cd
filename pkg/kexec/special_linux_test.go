package kexec

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// within runs f and fails the test if it has not returned after a few seconds: the old code
// blocked forever opening a FIFO.
func within(t *testing.T, what string, f func() error) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- f() }()
	select {
	case err := <-done:
		return err
	case <-time.After(3 * time.Second):
		t.Fatalf("%s blocked for 3s, want an error at once", what)
		return nil
	}
}

// specials returns special files a disk may hold in place of a kernel or initrd, with the word
// the error must use for each.
func specials(t *testing.T) map[string]string {
	t.Helper()
	dir := t.TempDir()
	fifo := filepath.Join(dir, "vmlinuz.fifo")
	if err := unix.Mkfifo(fifo, 0o644); err != nil {
		t.Fatalf("mkfifo(%s): %v", fifo, err)
	}
	link := filepath.Join(dir, "vmlinuz.link")
	if err := os.Symlink("/dev/null", link); err != nil {
		t.Fatal(err)
	}
	m := map[string]string{
		fifo:        "a FIFO, not a regular file",
		link:        "a symbolic link",
		"/dev/null": "a character device, not a regular file",
		dir:         "a directory, not a regular file",
	}
	if os.Geteuid() == 0 {
		null := filepath.Join(dir, "null")
		if err := unix.Mknod(null, unix.S_IFCHR|0o666, int(unix.Mkdev(1, 3))); err != nil {
			t.Fatalf("mknod(%s): %v", null, err)
		}
		m[null] = "a character device, not a regular file"
	}
	return m
}

func TestReadFileRefusesSpecialFiles(t *testing.T) {
	for p, want := range specials(t) {
		err := within(t, "ReadFile("+p+")", func() error {
			b, err := ReadFile(p)
			if err == nil {
				b.Close()
			}
			return err
		})
		if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), p) {
			t.Errorf("ReadFile(%q) = %v, want an error naming the path and %q", p, err, want)
		}
	}
}

func TestReadFilesRefusesSpecialFiles(t *testing.T) {
	ok := writeFile(t, []byte("microcode"))
	for p, want := range specials(t) {
		err := within(t, "ReadFiles(..., "+p+")", func() error {
			b, _, err := ReadFiles("initrd", []string{ok, p})
			if err == nil {
				b.Close()
			}
			return err
		})
		if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), p) {
			t.Errorf("ReadFiles(initrd, %q) = %v, want an error naming the path and %q", p, err, want)
		}
	}
}
