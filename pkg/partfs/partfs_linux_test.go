package partfs

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// layout builds a partition at top/part with a file outside it at top/secret/file:
//
//	part/boot/vmlinuz           regular
//	part/boot/fifo              FIFO
//	part/boot/null              character device 1:3 (root only; else absent)
//	part/boot/in-link           -> vmlinuz (inside)
//	part/boot/abs-link          -> top/secret/file
//	part/boot/rel-link          -> ../../secret/file
//	part/boot/devnull           -> /dev/null
//	part/sys                    -> top/secret (like boot -> /sys)
//	part/fw/a.bin, part/fw/sub/b.bin, part/fw/sub/deeper/c.bin   regular
//	part/fw/alias.bin -> a.bin, part/fw/out -> top/secret, part/fw/pipe  FIFO
func layout(t *testing.T) (top, part string) {
	t.Helper()
	top = t.TempDir()
	part = filepath.Join(top, "part")
	for _, d := range []string{"part/boot", "part/fw/sub/deeper", "secret"} {
		if err := os.MkdirAll(filepath.Join(top, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for p, data := range map[string]string{
		"secret/file": "secret", "part/boot/vmlinuz": "kernel",
		"part/fw/a.bin": "a", "part/fw/sub/b.bin": "b", "part/fw/sub/deeper/c.bin": "c",
	} {
		if err := os.WriteFile(filepath.Join(top, p), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for p, target := range map[string]string{
		"part/boot/in-link": "vmlinuz", "part/boot/abs-link": filepath.Join(top, "secret/file"),
		"part/boot/rel-link": "../../secret/file", "part/boot/devnull": "/dev/null",
		"part/sys": filepath.Join(top, "secret"), "part/fw/alias.bin": "a.bin", "part/fw/out": filepath.Join(top, "secret"),
	} {
		if err := os.Symlink(target, filepath.Join(top, p)); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range []string{"part/boot/fifo", "part/fw/pipe"} {
		if err := unix.Mkfifo(filepath.Join(top, p), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if os.Geteuid() == 0 {
		if err := unix.Mknod(filepath.Join(part, "boot/null"), unix.S_IFCHR|0o666, int(unix.Mkdev(1, 3))); err != nil {
			t.Fatal(err)
		}
	}
	return top, part
}

// openWithin is Open that fails the test if it blocks (a FIFO opened without O_NONBLOCK would).
func openWithin(t *testing.T, root, rel string) (*os.File, fs.FileInfo, error) {
	t.Helper()
	type result struct {
		f   *os.File
		fi  fs.FileInfo
		err error
	}
	done := make(chan result, 1)
	go func() { f, fi, err := Open(root, rel); done <- result{f, fi, err} }()
	select {
	case r := <-done:
		return r.f, r.fi, r.err
	case <-time.After(3 * time.Second):
		t.Fatalf("Open(%q, %q) blocked for 3s", root, rel)
		return nil, nil, nil
	}
}

func TestOpen(t *testing.T) {
	top, part := layout(t)
	f, fi, err := openWithin(t, part, "boot/vmlinuz")
	if err != nil {
		t.Fatalf("Open(part, boot/vmlinuz) = %v, want the file", err)
	}
	// Read the flags without f.Fd(), which would itself clear O_NONBLOCK.
	rc, _ := f.SyscallConn()
	fl := -1
	rc.Control(func(fd uintptr) { fl, _ = unix.FcntlInt(fd, unix.F_GETFL, 0) })
	if fl < 0 || fl&unix.O_NONBLOCK != 0 {
		t.Errorf("Open left the flags %#x (O_NONBLOCK %#x set?) on a regular file", fl, unix.O_NONBLOCK)
	}
	b, err := io.ReadAll(f)
	f.Close()
	if err != nil || string(b) != "kernel" || fi.Size() != 6 || !fi.Mode().IsRegular() {
		t.Errorf("Open(part, boot/vmlinuz) read %q, %v, size %d, want %q", b, err, fi.Size(), "kernel")
	}
	for _, tc := range []struct {
		rel, want string
		is        []error
	}{
		{"boot/fifo", "boot/fifo: a FIFO, not a regular file", []error{ErrNotRegular}},
		{"boot", "boot: a directory, not a regular file", []error{ErrNotRegular}},
		{".", "part: a directory, not a regular file", []error{ErrNotRegular}},
		{"boot/in-link", "boot/in-link: a symbolic link in the path", []error{ErrLink, unix.ELOOP}},
		{"boot/abs-link", "boot/abs-link: a symbolic link in the path", []error{ErrLink, unix.ELOOP}},
		{"boot/rel-link", "boot/rel-link: a symbolic link in the path", []error{ErrLink, unix.ELOOP}},
		{"boot/devnull", "boot/devnull: a symbolic link in the path", []error{ErrLink, unix.ELOOP}},
		{"sys/file", "sys/file: a symbolic link in the path", []error{ErrLink, unix.ELOOP}},
		{"../secret/file", "leaves the partition mounted at " + part, []error{unix.EXDEV}},
		{filepath.Join(top, "secret/file"), "leaves the partition", []error{unix.EXDEV}},
		{"boot/missing", "boot/missing", []error{fs.ErrNotExist}},
	} {
		f, _, err := openWithin(t, part, tc.rel)
		if err == nil {
			f.Close()
		}
		ok := err != nil && strings.Contains(err.Error(), tc.want)
		for _, target := range tc.is {
			ok = ok && errors.Is(err, target)
		}
		if !ok {
			t.Errorf("Open(part, %q) = %v, want an error containing %q and wrapping %v", tc.rel, err, tc.want, tc.is)
		}
	}
	if os.Geteuid() == 0 {
		if _, _, err := openWithin(t, part, "boot/null"); err == nil || !strings.Contains(err.Error(), "boot/null: a character device, not a regular file") {
			t.Errorf("Open(part, boot/null) = %v, want a character device error", err)
		}
	}
}

// TestOpenNoXDev: a file system mounted inside the partition is not entered (root only).
func TestOpenNoXDev(t *testing.T) {
	if os.Geteuid() != 0 {
		if os.Getenv("CI") != "" {
			t.Fatal("CI runs as root: this test mounts a tmpfs")
		}
		t.Skip("mounting a tmpfs needs root (CI runs as root)")
	}
	_, part := layout(t)
	inner := filepath.Join(part, "boot", "mnt")
	os.Mkdir(inner, 0o755)
	if err := unix.Mount("tmpfs", inner, "tmpfs", 0, "size=1m"); err != nil {
		t.Skipf("mount tmpfs on %s: %v (no mount namespace privileges here)", inner, err)
	}
	defer unix.Unmount(inner, unix.MNT_DETACH)
	os.WriteFile(filepath.Join(inner, "x"), []byte("x"), 0o644)
	if _, _, err := Open(part, "boot/mnt/x"); !errors.Is(err, unix.EXDEV) {
		t.Errorf("Open(part, boot/mnt/x) across a mount = %v, want EXDEV", err)
	}
	files, skipped, err := WalkFiles(part, "boot", 10)
	if err != nil || len(files) != 1 || !slices.Contains(skipped, Skipped{"boot/mnt", "on another file system (a mount point)"}) {
		t.Errorf("WalkFiles(part, boot) = %q, %v, %v, want the mount point skipped", files, skipped, err)
	}
}

func TestOpenOwner(t *testing.T) {
	_, part := layout(t)
	uid, gid := os.Getuid(), os.Getgid()
	if os.Geteuid() == 0 {
		uid, gid = 1000, 1000
		if err := os.Chown(filepath.Join(part, "boot/vmlinuz"), uid, gid); err != nil {
			t.Fatal(err)
		}
	}
	f, fi, err := Open(part, "boot/vmlinuz")
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	st := fi.Sys().(*syscall.Stat_t)
	if int(st.Uid) != uid || int(st.Gid) != gid {
		t.Errorf("Open's FileInfo owner = %d:%d, want %d:%d", st.Uid, st.Gid, uid, gid)
	}
}

func TestOpenPath(t *testing.T) {
	top, part := layout(t)
	f, _, err := OpenPath(filepath.Join(part, "boot/vmlinuz"))
	if err != nil {
		t.Fatalf("OpenPath(vmlinuz) = %v", err)
	}
	f.Close()
	for p, want := range map[string]string{
		filepath.Join(part, "boot/fifo"):     "a FIFO, not a regular file",
		filepath.Join(part, "boot/abs-link"): "a symbolic link",
		"/dev/null":                          "/dev/null: a character device, not a regular file",
		top:                                  "a directory, not a regular file",
	} {
		done := make(chan error, 1)
		go func() {
			f, _, err := OpenPath(p)
			if err == nil {
				f.Close()
			}
			done <- err
		}()
		select {
		case err := <-done:
			if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), p) {
				t.Errorf("OpenPath(%q) = %v, want an error naming it and %q", p, err, want)
			}
		case <-time.After(3 * time.Second):
			t.Fatalf("OpenPath(%q) blocked for 3s", p)
		}
	}
}

func TestWalkFiles(t *testing.T) {
	_, part := layout(t)
	files, skipped, err := WalkFiles(part, "fw", 10)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"fw/a.bin", "fw/sub/b.bin", "fw/sub/deeper/c.bin"}; !reflect.DeepEqual(files, want) {
		t.Errorf("WalkFiles(part, fw) files = %q, want %q", files, want)
	}
	want := []Skipped{{"fw/alias.bin", "a symbolic link"}, {"fw/out", "a symbolic link"}, {"fw/pipe", "a FIFO"}}
	if !reflect.DeepEqual(skipped, want) {
		t.Errorf("WalkFiles(part, fw) skipped = %v, want %v", skipped, want)
	}
	// The walk never enters a link: part/sys -> the outside directory is skipped, its file not listed.
	files, skipped, err = WalkFiles(part, ".", 20)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if strings.Contains(f, "secret") || strings.HasPrefix(f, "sys/") {
			t.Errorf("WalkFiles(part, .) listed %q, outside the partition", f)
		}
	}
	if len(files) != 4 || !reflect.DeepEqual(skipped[len(skipped)-1], Skipped{"sys", "a symbolic link"}) {
		t.Errorf("WalkFiles(part, .) = %q, %v, want 4 files and sys skipped as a link", files, skipped)
	}
	// The directory itself through a link, out of the partition, missing, or not a directory.
	for _, tc := range []struct {
		rel  string
		want error
	}{{"sys", unix.ENOTDIR}, {"../secret", unix.EXDEV}, {"nothing", fs.ErrNotExist}, {"boot/vmlinuz", unix.ENOTDIR}} {
		if files, _, err := WalkFiles(part, tc.rel, 10); !errors.Is(err, tc.want) {
			t.Errorf("WalkFiles(part, %q) = %q, %v, want %v", tc.rel, files, err, tc.want)
		}
	}
	// Bounds: more files, or more directories and skipped entries, than max.
	if _, _, err := WalkFiles(part, "fw/sub", 1); err == nil || !strings.Contains(err.Error(), "more than 1 regular files") {
		t.Errorf("WalkFiles(part, fw/sub, 1) = %v, want a bound error on files (2 files, 1 directory)", err)
	}
	if _, err := os.Stat(filepath.Join(part, "sys")); err != nil {
		t.Fatal(err)
	}
	if _, _, err := WalkFiles(part, "sys", 10); err == nil || !strings.Contains(err.Error(), "sys: a symbolic link, not a directory") {
		t.Errorf("WalkFiles(part, sys) = %v, want it named a symbolic link", err)
	}
	if _, _, err := WalkFiles(part, "fw", 3); err == nil || !strings.Contains(err.Error(), "more than 3 directories, links and special files") {
		t.Errorf("WalkFiles(part, fw, 3) = %v, want a bound error on other entries (2 dirs + 3 skipped)", err)
	}
}

func TestWalkFilesManyEntries(t *testing.T) {
	root := t.TempDir()
	os.Mkdir(filepath.Join(root, "fw"), 0o755)
	for i := range 600 { // more than one getdents batch
		os.WriteFile(filepath.Join(root, "fw", "fw"+strconv.Itoa(i)), nil, 0o644)
	}
	files, _, err := WalkFiles(root, "fw", 600)
	if err != nil || len(files) != 600 {
		t.Errorf("WalkFiles(600 files, max 600) = %d files, %v, want 600", len(files), err)
	}
	if _, _, err := WalkFiles(root, "fw", 599); err == nil {
		t.Error("WalkFiles(600 files, max 599) succeeded, want a bound error")
	}
}
