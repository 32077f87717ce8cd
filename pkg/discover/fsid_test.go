package discover

import (
	"encoding/binary"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// mkfsImage makes an 8 MiB image with a real mkfs and returns its first IdentityBytes bytes.
func mkfsImage(t *testing.T, tool string, args ...string) (string, []byte) {
	t.Helper()
	if _, err := exec.LookPath(tool); err != nil {
		t.Fatalf("%s is needed for this test (e2fsprogs, dosfstools): %v", tool, err)
	}
	img := filepath.Join(t.TempDir(), "img")
	if tool == "mkfs.vfat" {
		args = append(args, "-C", img, "8192")
	} else {
		if err := os.WriteFile(img, make([]byte, 8<<20), 0o644); err != nil {
			t.Fatal(err)
		}
		args = append(args, "-q", "-F", img)
	}
	if out, err := exec.Command(tool, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s %v: %v\n%s", tool, args, err, out)
	}
	b, err := os.ReadFile(img)
	if err != nil {
		t.Fatal(err)
	}
	return img, b[:IdentityBytes]
}

// xfsImage builds the start of an xfs device following struct xfs_dsb (fs/xfs/libxfs/xfs_format.h):
// big-endian "XFSB", sb_blocksize, ..., sb_uuid at 32; other bytes (where sb_meta_uuid lives) differ, as after
// xfs_admin -U on a file system with the META_UUID feature.
func xfsImage(uuid []byte) []byte {
	b := make([]byte, IdentityBytes)
	copy(b, "XFSB")
	binary.BigEndian.PutUint32(b[4:], 4096)
	copy(b[32:], uuid)
	copy(b[248:], "meta-uuid-differ")
	return b
}

// btrfsImage builds the start of a btrfs device following struct btrfs_super_block
// (fs/btrfs/ctree.h): at 64 KiB csum[32], fsid[16], bytenr, flags, magic "_BHRfS_M"; the
// other bytes of the super block (such as a metadata_uuid) differ.
func btrfsImage(fsid []byte) []byte {
	b := make([]byte, IdentityBytes)
	copy(b[0x10020:], fsid)
	binary.LittleEndian.PutUint64(b[0x10030:], 0x10000)
	copy(b[0x10040:], "_BHRfS_M")
	copy(b[0x10000+0x23b:], "metadata-uuid-xx")
	return b
}

func isoImage() []byte {
	b := make([]byte, IdentityBytes)
	copy(b[0x8000:], "\x01CD001\x01")
	return b
}

var uuidRE = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

// TestIdentify checks the identity of each file system against what Linux 6.1 sets: ext4's
// s_uuid is the super block's (as blkid prints it), vfat's is all zeros whatever its serial
// number, xfs's is sb_uuid and not sb_meta_uuid, btrfs's is the fsid and not the metadata_uuid.
func TestIdentify(t *testing.T) {
	const u = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"
	raw := []byte{0x0f, 0x1e, 0x2d, 0x3c, 0x4b, 0x5a, 0x69, 0x78, 0x87, 0x96, 0xa5, 0xb4, 0xc3, 0xd2, 0xe1, 0xf0}
	extImg, ext := mkfsImage(t, "mkfs.ext4", "-U", u)
	if out, err := exec.Command("blkid", "-p", "-o", "value", "-s", "UUID", extImg).Output(); err == nil && strings.TrimSpace(string(out)) != u {
		t.Fatalf("blkid says the ext4 image's UUID is %q, want %q", out, u)
	}
	_, ext2 := mkfsImage(t, "mkfs.ext2", "-U", u)
	_, fat := mkfsImage(t, "mkfs.vfat", "-i", "0f1e2d3c")
	zero := "00000000-0000-0000-0000-000000000000"
	for _, tc := range []struct {
		name   string
		fsname string
		ext4   bool
		sb     []byte
		want   Identity
	}{
		{"ext4", "ext4", true, ext, Identity{"ext4", 0xef53, u}},
		{"ext4 image as ext3", "ext3", true, ext, Identity{"ext3", 0xef53, u}},
		{"ext2 by ext4", "ext2", true, ext2, Identity{"ext2", 0xef53, u}},
		{"ext2 by fs/ext2", "ext2", false, ext2, Identity{"ext2", 0xef53, zero}},
		{"vfat", "vfat", true, fat, Identity{"vfat", 0x4d44, zero}},
		{"msdos", "msdos", true, fat, Identity{"msdos", 0x4d44, zero}},
		{"xfs", "xfs", true, xfsImage(raw), Identity{"xfs", 0x58465342, u}},
		{"btrfs", "btrfs", true, btrfsImage(raw), Identity{"btrfs", 0x9123683e, u}},
		{"iso9660", "iso9660", true, isoImage(), Identity{"iso9660", 0x9660, zero}},
	} {
		got, err := Identify(tc.fsname, tc.sb, tc.ext4)
		if err != nil || got != tc.want {
			t.Errorf("%s: Identify(%q) = %+v, %v; want %+v", tc.name, tc.fsname, got, err, tc.want)
		}
	}
	// DetectIdentity names the type the boot's mount picks: ext4 for every ext super block.
	for _, tc := range []struct {
		name string
		sb   []byte
		want Identity
	}{
		{"ext4", ext, Identity{"ext4", 0xef53, u}},
		{"ext2", ext2, Identity{"ext4", 0xef53, u}},
		{"vfat", fat, Identity{"vfat", 0x4d44, zero}},
		{"xfs", xfsImage(raw), Identity{"xfs", 0x58465342, u}},
		{"btrfs", btrfsImage(raw), Identity{"btrfs", 0x9123683e, u}},
		{"iso9660", isoImage(), Identity{"iso9660", 0x9660, zero}},
	} {
		got, err := DetectIdentity(tc.sb)
		if err != nil || got != tc.want {
			t.Errorf("%s: DetectIdentity = %+v, %v; want %+v", tc.name, got, err, tc.want)
		}
	}
	// A type mounted as another, a truncated super block, an unknown type: errors, not guesses.
	for _, tc := range []struct {
		fsname string
		sb     []byte
	}{
		{"xfs", ext}, {"btrfs", ext}, {"ext4", xfsImage(raw)}, {"ext4", ext[:0x470]}, {"btrfs", btrfsImage(raw)[:0x10040]},
		{"f2fs", ext}, {"tmpfs", nil}, {"", ext},
	} {
		if got, err := Identify(tc.fsname, tc.sb, true); err == nil {
			t.Errorf("Identify(%q, %d bytes) = %+v, want an error", tc.fsname, len(tc.sb), got)
		}
	}
	if got, err := DetectIdentity(make([]byte, IdentityBytes)); err == nil {
		t.Errorf("DetectIdentity(zeros) = %+v, want an error", got)
	}
}

// FuzzFSIdentity: no input makes the parsers panic, and every identity they give has a known
// type, its kernel magic and a canonical UUID.
func FuzzFSIdentity(f *testing.F) {
	raw := []byte("0123456789abcdef")
	f.Add(xfsImage(raw)[:64], "xfs")
	f.Add(btrfsImage(raw), "btrfs")
	f.Add(isoImage()[:0x8010], "iso9660")
	ext := make([]byte, 0x500)
	copy(ext[0x438:], "\x53\xef")
	f.Add(ext, "ext4")
	f.Add(ext[:0x470], "ext2")
	f.Add([]byte("\xeb\x3c\x90mkfs.fat"), "vfat")
	f.Add([]byte("hsqs"), "squashfs")
	f.Add([]byte{}, "")
	magic := map[string]uint64{"ext4": 0xef53, "ext3": 0xef53, "ext2": 0xef53, "vfat": 0x4d44, "msdos": 0x4d44,
		"xfs": 0x58465342, "btrfs": 0x9123683e, "iso9660": 0x9660, "squashfs": 0x73717368}
	check := func(t *testing.T, id Identity, err error) {
		if err != nil {
			return
		}
		if m, ok := magic[id.Type]; !ok || m != id.Magic || !uuidRE.MatchString(id.UUID) {
			t.Errorf("identity %+v: unknown type, wrong magic or malformed UUID", id)
		}
	}
	f.Fuzz(func(t *testing.T, sb []byte, fsname string) {
		id, err := DetectIdentity(sb)
		check(t, id, err)
		for _, e4 := range []bool{false, true} {
			id, err = Identify(fsname, sb, e4)
			check(t, id, err)
			if err == nil && id.Type != fsname {
				t.Errorf("Identify(%q) gave type %q", fsname, id.Type)
			}
		}
	})
}

// TestMountOf reads a mount's type and source from mountinfo lines as proc(5) gives them,
// optional fields included.
func TestMountOf(t *testing.T) {
	mi := write(t, t.TempDir(), "mountinfo", "22 27 0:21 / /proc rw,relatime - proc proc rw\n"+
		"36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 shared:2 - ext3 /dev/root rw,errors=continue\n"+
		"40 35 0:45 / /data rw - btrfs /dev/sdb2 rw,space_cache\n")
	for _, tc := range []struct{ majmin, fstype, source string }{
		{"98:0", "ext3", "/dev/root"}, {"0:45", "btrfs", "/dev/sdb2"}, {"0:21", "proc", "proc"},
	} {
		fstype, source, err := mountOf(mi, tc.majmin)
		if err != nil || fstype != tc.fstype || source != tc.source {
			t.Errorf("mountOf(%s) = %q, %q, %v; want %q, %q", tc.majmin, fstype, source, err, tc.fstype, tc.source)
		}
	}
	if _, _, err := mountOf(mi, "8:1"); err == nil {
		t.Error("mountOf of a device not mounted succeeded")
	}
}
