package partfs

import (
	"errors"
	"testing"
)

func TestRoot(t *testing.T) {
	mounts := []string{"/tmp/m/vda1", "/tmp/m/vda10", "/tmp/m/vda1/boot/efi", "", "relative"}
	for _, tc := range []struct {
		path, root, rel string
		err             bool
	}{
		{"/tmp/m/vda1/boot/vmlinuz", "/tmp/m/vda1", "boot/vmlinuz", false},
		{"/tmp/m/vda10/vmlinuz", "/tmp/m/vda10", "vmlinuz", false},             // not vda1: a prefix of the string only
		{"/tmp/m/vda1/boot/efi/EFI/x", "/tmp/m/vda1/boot/efi", "EFI/x", false}, // the longest mount point
		{"/tmp/m/vda1", "/tmp/m/vda1", ".", false},
		{"/tmp/m/vda1//boot/./vmlinuz", "/tmp/m/vda1", "boot/vmlinuz", false},
		{"/tmp/m/vda1/../vda10/vmlinuz", "", "", true}, // ".." is refused, not cleaned onto vda10
		{"/tmp/m/vda1/boot/..", "", "", true},
		{"/tmp/m/vda2/vmlinuz", "", "", true},
		{"/tmp/m", "", "", true},
		{"boot/vmlinuz", "", "", true},
		{"relative/x", "", "", true},
	} {
		root, rel, err := Root(mounts, tc.path)
		if (err != nil) != tc.err || root != tc.root || rel != tc.rel {
			t.Errorf("Root(%q) = %q, %q, %v, want %q, %q, error %v", tc.path, root, rel, err, tc.root, tc.rel, tc.err)
		}
	}
	if _, _, err := Root(mounts, "/etc/passwd"); !errors.Is(err, ErrNotMounted) {
		t.Errorf("Root(/etc/passwd) = %v, want ErrNotMounted", err)
	}
	if root, rel, err := Root([]string{"/"}, "/etc/passwd"); err != nil || root != "/" || rel != "etc/passwd" {
		t.Errorf("Root([/], /etc/passwd) = %q, %q, %v, want /, etc/passwd", root, rel, err)
	}
}
