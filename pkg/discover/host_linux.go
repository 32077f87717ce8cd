package discover

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// DeviceIdentity returns the identity the boot would give the file system on the block device
// or partition image at path (DetectIdentity over its first IdentityBytes bytes).
func DeviceIdentity(path string) (Identity, error) {
	sb, err := readStart(path)
	if err != nil {
		return Identity{}, err
	}
	id, err := DetectIdentity(sb)
	if err != nil {
		return Identity{}, fmt.Errorf("%s: %w", path, err)
	}
	return id, nil
}

func readStart(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	sb := make([]byte, IdentityBytes)
	n, err := io.ReadFull(f, sb)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	return sb[:n], nil
}

// HostIdentity returns the identity of the mounted file system holding path on this machine, as
// its kernel's IMA sees it: the type from /proc/self/mountinfo (sb->s_type->name), the magic
// from statfs, the UUID from the super block of the device mountinfo names (Identify; reading it
// usually needs root). It fails when the device cannot be read or its type is not one Identify
// knows (tmpfs, overlay...): then only the device the boot will read can say.
func HostIdentity(path string) (Identity, error) {
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		return Identity{}, fmt.Errorf("stat %s: %w", path, err)
	}
	var sfs unix.Statfs_t
	if err := unix.Statfs(path, &sfs); err != nil {
		return Identity{}, fmt.Errorf("statfs %s: %w", path, err)
	}
	majmin := fmt.Sprintf("%d:%d", unix.Major(st.Dev), unix.Minor(st.Dev))
	fstype, source, err := mountOf("/proc/self/mountinfo", majmin)
	if err != nil {
		return Identity{}, fmt.Errorf("the file system holding %s: %w", path, err)
	}
	// The device node: mountinfo's source when it is one, else the kernel's /dev/block link.
	dev := source
	if fi, err := os.Stat(dev); err != nil || fi.Mode()&os.ModeDevice == 0 {
		dev = "/dev/block/" + majmin
	}
	sb, err := readStart(dev)
	if err != nil {
		return Identity{}, fmt.Errorf("the %s file system holding %s: reading the super block of %s: %w", fstype, path, dev, err)
	}
	real, _ := filepath.EvalSymlinks(dev)
	_, e4err := os.Stat(filepath.Join("/sys/fs/ext4", filepath.Base(real)))
	id, err := Identify(fstype, sb, e4err == nil)
	if err != nil {
		return Identity{}, fmt.Errorf("the file system holding %s (%s): %w", path, dev, err)
	}
	if id.Magic != uint64(sfs.Type) {
		return Identity{}, fmt.Errorf("the file system holding %s: statfs says magic %#x, the super block of %s %#x", path, sfs.Type, dev, id.Magic)
	}
	return id, nil
}

// mountOf returns the type and source of the mount of device majmin ("8:1") in a mountinfo
// file (proc(5)): "36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue".
func mountOf(mountinfo, majmin string) (fstype, source string, err error) {
	f, err := os.Open(mountinfo)
	if err != nil {
		return "", "", err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 3 || fields[2] != majmin {
			continue
		}
		for i, fl := range fields {
			if fl == "-" && i+2 < len(fields) {
				return fields[i+1], fields[i+2], nil
			}
		}
	}
	if err := sc.Err(); err != nil {
		return "", "", fmt.Errorf("reading %s: %w", mountinfo, err)
	}
	return "", "", fmt.Errorf("device %s is not in %s", majmin, mountinfo)
}
