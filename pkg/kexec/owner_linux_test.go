package kexec

import (
	"os"
	"path/filepath"
	"testing"
)

// TestOwnerGroupFromFstat: fowner= and fgroup= need the owner of the file whose bytes were read.
func TestOwnerGroupFromFstat(t *testing.T) {
	dir := t.TempDir()
	k, i := filepath.Join(dir, "vmlinuz"), filepath.Join(dir, "initrd")
	os.WriteFile(k, []byte("kernel"), 0o644)
	os.WriteFile(i, []byte("initrd"), 0o644)
	uid, gid := uint32(os.Getuid()), uint32(os.Getgid())
	if os.Geteuid() == 0 {
		uid, gid = 1000, 1001
		for _, p := range []string{k, i} {
			if err := os.Chown(p, int(uid), int(gid)); err != nil {
				t.Fatal(err)
			}
		}
		// The early image keeps root's ownership: each part carries its own.
		if err := os.Chown(k, 0, 0); err != nil {
			t.Fatal(err)
		}
	}
	kb, err := ReadFile(i)
	if err != nil {
		t.Fatal(err)
	}
	defer kb.Close()
	if kb.Owner != uid || kb.Group != gid {
		t.Errorf("ReadFile(%s): Owner:Group = %d:%d, want %d:%d", i, kb.Owner, kb.Group, uid, gid)
	}
	b, parts, err := ReadFiles("initrd", []string{k, i})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	kuid, kgid := uint32(os.Getuid()), uint32(os.Getgid())
	if os.Geteuid() == 0 {
		kuid, kgid = 0, 0
	}
	if parts[0].Owner != kuid || parts[0].Group != kgid || parts[1].Owner != uid || parts[1].Group != gid {
		t.Errorf("ReadFiles parts' Owner:Group = %d:%d, %d:%d, want %d:%d, %d:%d",
			parts[0].Owner, parts[0].Group, parts[1].Owner, parts[1].Group, kuid, kgid, uid, gid)
	}
	if b.Owner != uid || b.Group != gid {
		t.Errorf("ReadFiles buffer Owner:Group = %d:%d, want the last part's %d:%d", b.Owner, b.Group, uid, gid)
	}
}
