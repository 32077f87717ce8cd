package discover

import (
	"bytes"
	"encoding/hex"
	"fmt"
)

// Identity is a file system as the Linux kernel's IMA sees it when it evaluates a policy rule's
// fs conditions (security/integrity/ima/ima_policy.c, ima_match_rules): fsname= against
// sb->s_type->name, fsmagic= against sb->s_magic, fsuuid= against sb->s_uuid with uuid_equal.
type Identity struct {
	Type  string // sb->s_type->name: the file system type the mount used, e.g. "ext4"
	Magic uint64 // sb->s_magic
	// UUID is sb->s_uuid in canonical form (8-4-4-4-12 lowercase hex). A file system whose
	// driver never sets s_uuid (vfat, iso9660, squashfs, fs/ext2) has the all-zero UUID
	// "00000000-0000-0000-0000-000000000000", which is what the kernel compares fsuuid= with.
	UUID string
}

// IdentityBytes is how many bytes from the start of a device Identify needs: btrfs keeps its
// super block at 64 KiB (fs/btrfs/ctree.h, BTRFS_SUPER_INFO_OFFSET).
const IdentityBytes = 0x10000 + 4096

// Superblock magics as the kernel sets sb->s_magic (include/uapi/linux/magic.h).
const (
	ext4Magic     = 0xef53     // ext2/ext3/ext4: le16_to_cpu(es->s_magic), fs/ext4/super.c ext4_load_super
	msdosMagic    = 0x4d44     // fs/fat/inode.c fat_fill_super: MSDOS_SUPER_MAGIC
	xfsMagic      = 0x58465342 // fs/xfs/xfs_super.c xfs_fs_fill_super: XFS_SUPER_MAGIC
	btrfsMagic    = 0x9123683e // fs/btrfs/super.c btrfs_fill_super: BTRFS_SUPER_MAGIC
	isofsMagic    = 0x9660     // fs/isofs/inode.c isofs_fill_super: ISOFS_SUPER_MAGIC
	squashfsMagic = 0x73717368 // fs/squashfs/super.c squashfs_fill_super: SQUASHFS_MAGIC
)

// On-disk locations (byte offsets from the start of the device).
const (
	extSBMagic  = 0x400 + 0x38 // struct ext4_super_block s_magic, the super block at 1024
	extSBUUID   = 0x400 + 0x68 // s_uuid[16]
	xfsSBUUID   = 32           // struct xfs_dsb sb_uuid, after magicnum, blocksize, dblocks, rblocks, rextents
	btrfsSB     = 0x10000      // BTRFS_SUPER_INFO_OFFSET
	btrfsFSID   = btrfsSB + 32 // struct btrfs_super_block fsid, after csum[32]
	btrfsSBMag  = btrfsSB + 64 // magic, after fsid[16], bytenr, flags
	isoSBMagic  = 0x8000       // the primary volume descriptor: type 1, "CD001"
	zeroUUIDStr = "00000000-0000-0000-0000-000000000000"
)

// Identify returns the identity of the file system whose first bytes (up to IdentityBytes) are sb
// once the kernel has mounted it as fsname (the type mount(2) was given, which the kernel records
// as s_type->name). ext4Driver says the ext4 driver serves fsname: it matters for "ext2" only,
// which is ext4's when the kernel has CONFIG_EXT4_USE_FOR_EXT2 (Debian's) and fs/ext2's
// otherwise; /sys/fs/ext4/<device> exists while the ext4 driver has a device mounted.
//
// Where each driver of Linux 6.1 takes s_uuid from:
//   - ext4 (also for the types "ext3", and "ext2" when ext4 serves it): fs/ext4/super.c
//     __ext4_fill_super, memcpy(&sb->s_uuid, es->s_uuid): the super block's s_uuid at 0x468.
//   - ext2 (fs/ext2/super.c ext2_fill_super): never set, all zeros.
//   - vfat and msdos (fs/fat/inode.c fat_fill_super): never set, all zeros; the volume serial
//     number blkid prints is not a UUID to the kernel, so a vfat fsuuid= rule never matches
//     but the all-zero one.
//   - xfs (fs/xfs/xfs_mount.c xfs_uuid_mount): uuid_copy(&sb->s_uuid, &mp->m_sb.sb_uuid), the
//     super block's sb_uuid at 32 (not sb_meta_uuid), also under the nouuid mount option.
//   - btrfs (fs/btrfs/disk-io.c open_ctree): memcpy(&sb->s_uuid, fs_info->fs_devices->fsid),
//     the super block's fsid at 64 KiB + 32 (not metadata_uuid). Later kernels give a cloned
//     single-device btrfs a random temp_fsid instead; 6.1, the boot kernel, does not.
//   - iso9660 (fs/isofs/inode.c) and squashfs (fs/squashfs/super.c): never set, all zeros.
//
// A type not listed is an error: its s_uuid is not known, so no fs condition could be trusted.
func Identify(fsname string, sb []byte, ext4Driver bool) (Identity, error) {
	switch fsname {
	case "ext4", "ext3", "ext2":
		if !has(sb, extSBMagic, []byte{0x53, 0xef}, extSBUUID+16) {
			return Identity{}, fmt.Errorf("mounted as %s, but there is no ext2/3/4 super block (magic 0xef53 at 0x%x)", fsname, extSBMagic)
		}
		id := Identity{Type: fsname, Magic: ext4Magic, UUID: zeroUUIDStr}
		if fsname != "ext2" || ext4Driver {
			id.UUID = uuidString(sb[extSBUUID : extSBUUID+16])
		}
		return id, nil
	case "vfat", "msdos":
		// fat_fill_super checks the BPB's fields, not a signature; the identity depends on
		// no byte of the device, so a device the kernel mounted as FAT needs no check here.
		return Identity{Type: fsname, Magic: msdosMagic, UUID: zeroUUIDStr}, nil
	case "xfs":
		if !has(sb, 0, []byte("XFSB"), xfsSBUUID+16) {
			return Identity{}, fmt.Errorf("mounted as xfs, but there is no xfs super block (XFSB at 0)")
		}
		return Identity{Type: fsname, Magic: xfsMagic, UUID: uuidString(sb[xfsSBUUID : xfsSBUUID+16])}, nil
	case "btrfs":
		if !has(sb, btrfsSBMag, []byte("_BHRfS_M"), btrfsFSID+16) {
			return Identity{}, fmt.Errorf("mounted as btrfs, but there is no btrfs super block (_BHRfS_M at 0x%x)", btrfsSBMag)
		}
		return Identity{Type: fsname, Magic: btrfsMagic, UUID: uuidString(sb[btrfsFSID : btrfsFSID+16])}, nil
	case "iso9660":
		if !has(sb, isoSBMagic, []byte("\x01CD001"), 0) {
			return Identity{}, fmt.Errorf("mounted as iso9660, but there is no primary volume descriptor (CD001 at 0x%x)", isoSBMagic)
		}
		return Identity{Type: fsname, Magic: isofsMagic, UUID: zeroUUIDStr}, nil
	case "squashfs":
		if !has(sb, 0, []byte("hsqs"), 0) {
			return Identity{}, fmt.Errorf("mounted as squashfs, but there is no squashfs super block (hsqs at 0)")
		}
		return Identity{Type: fsname, Magic: squashfsMagic, UUID: zeroUUIDStr}, nil
	}
	return Identity{}, fmt.Errorf("file system type %q: measuredboot does not know where Linux takes its s_uuid from, so fsuuid= could not be evaluated (supported: ext2, ext3, ext4, vfat, msdos, xfs, btrfs, iso9660, squashfs)", fsname)
}

// DetectIdentity returns the identity of the file system whose first bytes are sb as the boot
// would mount it: the type is the first of u-root's mount.FSFromBlock signatures that matches,
// in its order (ext4 for every ext2/3/4 super block, since the boot kernel has ext4), so that
// mbctl predict gives the identity the boot will see.
func DetectIdentity(sb []byte) (Identity, error) {
	for _, s := range []struct {
		off   int
		magic string
		name  string
	}{
		{extSBMagic, "\x53\xef", "ext4"},
		{0, "\xeb\x3c", "vfat"},
		{0, "hsqs", "squashfs"},
		{isoSBMagic, "\x01CD001", "iso9660"},
		{0, "\xeb\x58", "vfat"},
		{0, "\xeb\x3e", "vfat"},
		{0, "XFSB", "xfs"},
		{btrfsSBMag, "_BHRfS_M", "btrfs"},
	} {
		if has(sb, s.off, []byte(s.magic), 0) {
			return Identify(s.name, sb, true)
		}
	}
	return Identity{}, fmt.Errorf("no ext2/3/4, vfat, xfs, btrfs, iso9660 or squashfs super block in the first %d bytes", len(sb))
}

// has says whether b holds magic at off and at least need bytes in all (the super block's UUID).
func has(b []byte, off int, magic []byte, need int) bool {
	return off >= 0 && off+len(magic) <= len(b) && need <= len(b) && bytes.Equal(b[off:off+len(magic)], magic)
}

// uuidString formats 16 bytes the way the kernel's uuid_parse (lib/uuid.c) reads them: the bytes
// in order, as 8-4-4-4-12 lowercase hex digits.
func uuidString(b []byte) string {
	h := hex.EncodeToString(b[:16])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}
