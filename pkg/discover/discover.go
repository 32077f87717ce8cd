// Package discover finds boot entries on local disks with u-root's parsers (BLS, GRUB, syslinux;
// BLS alone in a build with the measuredboot_blsonly tag) and says where each entry's files are. It mounts every block device read-only through a
// mount.Pool and never reads a kernel or initramfs itself: the caller reads each file once.
package discover

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/u-root/u-root/pkg/boot"
	"github.com/u-root/u-root/pkg/mount"
	"github.com/u-root/u-root/pkg/mount/block"
	"golang.org/x/sys/unix"
)

// FS describes the file system an entry's files live on, for the policy's fs conditions.
// Type, Magic and UUID are what the kernel's IMA compares fsname=, fsmagic= and fsuuid= with
// (see Identity).
type FS struct {
	Device string // block device name, e.g. "vda1"
	Type   string // the type the file system is mounted as, sb->s_type->name: the kernel's fsname
	// UUID is the kernel's sb->s_uuid in canonical form, all zeros for a file system whose
	// driver sets none (vfat): not always what blkid prints.
	UUID  string
	Magic uint64 // sb->s_magic (statfs f_type): the kernel's fsmagic
	Mount string // where it is mounted in the boot environment
}

// Entry is a boot entry found on a disk. Paths are absolute paths in the boot environment; Name
// gives each file's path relative to its file system, which is what gets measured.
type Entry struct {
	Name    string // menu title
	Source  string // "vda1 grub", "vda1 bls", ...
	Rank    int
	Kernel  string
	Initrds []string
	DTB     string // device tree blob (GRUB's devicetree), "" if none
	Cmdline string
	FS      FS   // the file system of the configuration that listed the entry
	Mounts  []FS // every file system mounted while scanning, for FSOf
}

// FSOf returns the file system p lives on: the mounted file system whose mount point is the
// longest prefix of p (a GRUB entry may load files from another partition than its grub.cfg's),
// or the entry's own.
func (e Entry) FSOf(p string) FS {
	best := e.FS
	n := -1
	for _, m := range append([]FS{e.FS}, e.Mounts...) {
		if m.Mount != "" && under(m.Mount, p) && len(m.Mount) > n {
			best, n = m, len(m.Mount)
		}
	}
	return best
}

// contained returns an error naming the first file of e that lies outside every partition
// scanned (dir, and what a GRUB search mounted through pool) or whose path on its partition has
// a symbolic link in it, in a directory or as the file: a configuration on a disk may only hand
// over files from the disks, and the reader opens them without following links
// (RESOLVE_NO_SYMLINKS), so such an entry is refused here, early and with its reason.
func contained(e Entry, dir string, pool *mount.Pool) error {
	roots := []string{dir}
	for _, mp := range pool.MountPoints {
		roots = append(roots, mp.Path)
	}
	for _, p := range append(append([]string{e.Kernel}, e.Initrds...), e.DTB) {
		if p == "" {
			continue
		}
		var root string
		for _, r := range roots {
			if filepath.IsAbs(p) && under(r, p) && len(r) > len(root) {
				root = r
			}
		}
		if root == "" {
			return fmt.Errorf("%s is outside the partitions scanned (%s); nothing off the disks is booted", p, strings.Join(roots, ", "))
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		at := root
		for _, c := range strings.Split(rel, string(filepath.Separator)) {
			if c == "." {
				continue
			}
			at = filepath.Join(at, c)
			fi, err := os.Lstat(at)
			if err != nil {
				break // not there: the reader says so
			}
			if fi.Mode()&os.ModeSymlink != 0 {
				to, _ := os.Readlink(at)
				return fmt.Errorf("%s: %s is a symbolic link (to %s); links on a boot disk are not followed, and nothing off the disks is booted", p, at, to)
			}
		}
	}
	return nil
}

func under(dir, p string) bool {
	r, err := filepath.Rel(dir, p)
	return err == nil && r != ".." && !strings.HasPrefix(r, "../")
}

// RelPath returns p relative to the root of its file system ("/boot/vmlinuz"), or p when it is
// under no known mount point.
func (e Entry) RelPath(p string) string {
	m := e.FSOf(p).Mount
	if m == "" || !under(m, p) {
		return p
	}
	r, _ := filepath.Rel(m, p)
	return "/" + strings.TrimPrefix(r, ".")
}

// Options say which devices discovery may boot from; the image's settings fill them
// (boot_devices=, removable_media=).
//
// # Which devices are scanned, and in what order
//
// A device is named by its stable hardware path: where its disk sits on the machine's buses, read
// from sysfs, never from anything on the disk (a UUID or a label can be copied onto any stick). The form, close to udev's /dev/disk/by-path names:
//
//	pci-<PCI address of the nearest PCI ancestor>[-usb-<port>:<config>.<interface>][-ata-<port>][-scsi-<channel>:<target>:<lun>][-nvme-<namespace>]
//
// such as "pci-0000:00:04.0" (a virtio disk), "pci-0000:00:1f.2-ata-1-scsi-0:0:0" (a SATA disk),
// "pci-0000:01:00.0-nvme-1" (an NVMe namespace), "pci-0000:00:14.0-usb-1:1.0-scsi-0:0:0" (a USB
// stick in port 1). The USB bus number and the SCSI host number, which depend on probe order,
// are left out; the PCI address pins the controller. An NVMe namespace of a multipath
// subsystem (/sys/devices/virtual/nvme-subsystem) takes the PCI address of its first
// controller. A disk with no PCI ancestor under /sys/devices/platform is
// "platform-<device>" with the same tail; other virtual devices (loop, ram, zram, device mapper)
// have no hardware path and are never scanned. Every partition of a disk has the disk's path;
// "<path>-part<N>" names partition N alone.
//
// Options.Devices, when given, are the only devices scanned, in the order given; the partitions
// of one disk in the order of their numbers (the whole disk first). Without it every hardware
// device is scanned, ordered by hardware path (byte order), then partition number. Removable
// media (a disk whose sysfs removable is 1; anything below a USB device, an MMC or Memory Stick
// host, that is SD cards and eMMC alike; anything below a device sysfs marks "removable", such
// as a Thunderbolt port the firmware marks external-facing) are left out unless
// Options.AllowRemovable, even when named in Options.Devices. Each device's entries stay
// together, in that device's own order (its configuration's default first, as u-root ranks
// them); a later device never outranks an earlier one.
type Options struct {
	// Devices, if not empty, are the only devices scanned, by stable hardware path (such as
	// "pci-0000:00:04.0", see above), in the order given: the order of the boot. A file system
	// UUID or a label is never used: anyone can copy them.
	Devices []string
	// AllowRemovable lets removable media (USB sticks, SD and MMC cards and eMMC, CD-ROMs,
	// disks behind an external Thunderbolt port) be scanned; they are left out otherwise.
	AllowRemovable bool
}

// Probe is what was looked at on one device and why it gave no entry, for the refusal message.
type Probe struct {
	Device string
	Err    error
}

// MountFlags are the flags Scan mounts every device with: read-only, and no device nodes, set-id
// programs or executables, whatever the disk holds.
const MountFlags = mount.ReadOnly | unix.MS_NODEV | unix.MS_NOSUID | unix.MS_NOEXEC

// Scan collects the boot entries of the devices opts allow, in boot order (see Options): it
// mounts every selected device through pool with MountFlags before any parser runs, so that
// GRUB's search, which mounts through the same pool, reuses those mounts and reaches only those
// devices; then it runs ScanDir on each. Each entry's FS is its file system's identity as the
// kernel's IMA sees it (Identify: fsname from the mount, fsmagic and fsuuid from the super
// block). A device left out, one that does not mount, one whose identity cannot be told, or one
// without entries gives a Probe, so a caller can say why nothing was found.
func Scan(ctx context.Context, devs block.BlockDevices, pool *mount.Pool, opts Options) ([]Entry, []Probe) {
	s := scanner{
		sysfs:   "/sys",
		dev:     "/dev",
		mount:   func(d *block.BlockDev, flags uintptr) (*mount.MountPoint, error) { return pool.Mount(d, flags) },
		scanDir: ScanDir,
	}
	return s.scan(ctx, devs, pool, opts)
}

// scanner is Scan with its view of the machine, which tests replace.
type scanner struct {
	sysfs   string // root of sysfs, "/sys"
	dev     string // directory of the device nodes, "/dev"
	mount   func(*block.BlockDev, uintptr) (*mount.MountPoint, error)
	scanDir func(ctx context.Context, dir string, devs block.BlockDevices, pool *mount.Pool) ([]Entry, []string)
}

func (s scanner) scan(ctx context.Context, devs block.BlockDevices, pool *mount.Pool, opts Options) ([]Entry, []Probe) {
	cands, probes := selectDevices(s.sysfs, devs, opts)
	// Mount everything first: a parser (GRUB's search) mounts through pool too, and must find
	// our mounts, with our flags, rather than make its own.
	var selected block.BlockDevices
	var fss []FS
	for _, c := range cands {
		mp, err := s.mount(c.dev, MountFlags)
		if err != nil {
			probes = append(probes, Probe{c.dev.Name, fmt.Errorf("mount: %w", err)})
			continue
		}
		fs, err := s.fsInfo(c.dev, mp)
		if err != nil {
			forget(pool, mp)
			probes = append(probes, Probe{c.dev.Name, err})
			continue
		}
		selected = append(selected, c.dev)
		fss = append(fss, fs)
	}
	var entries []Entry
	for i, dev := range selected {
		found, errs := s.scanDir(ctx, fss[i].Mount, selected, pool)
		for j := range found {
			found[j].FS = fss[i]
			found[j].Source = dev.Name + " " + found[j].Source
		}
		if len(found) == 0 {
			probes = append(probes, Probe{dev.Name, fmt.Errorf("no boot entry: %s", strings.Join(errs, "; "))})
		}
		// The device's own order: u-root's ranking (the configuration's default first),
		// within this device only.
		sort.SliceStable(found, func(a, b int) bool { return found[a].Rank > found[b].Rank })
		entries = append(entries, found...)
	}
	mounts := mounted(fss, pool)
	for i := range entries {
		entries[i].Mounts = mounts
	}
	return entries, probes
}

// forget unmounts mp and drops it from pool, so that nothing found later can point into it.
func forget(pool *mount.Pool, mp *mount.MountPoint) {
	mp.Unmount(mount.MNT_DETACH)
	for i, m := range pool.MountPoints {
		if m == mp {
			pool.MountPoints = append(pool.MountPoints[:i:i], pool.MountPoints[i+1:]...)
			break
		}
	}
}

// fsInfo returns the identity of the file system mp mounted from dev: its type from the mount
// record, its magic and UUID from the device's super block (Identify). A mount without
// MountFlags (one the pool already had) is refused.
func (s scanner) fsInfo(dev *block.BlockDev, mp *mount.MountPoint) (FS, error) {
	if mp.Flags&MountFlags != MountFlags {
		return FS{}, fmt.Errorf("already mounted at %s with flags %#x, not ro,nodev,nosuid,noexec: not scanned", mp.Path, mp.Flags)
	}
	if mp.FSType == "" {
		return FS{}, fmt.Errorf("mounted at %s, but the mount does not say as what type: not scanned", mp.Path)
	}
	p := filepath.Join(s.dev, dev.Name)
	f, err := os.Open(p)
	if err != nil {
		return FS{}, fmt.Errorf("reading the super block for fsuuid=: %w", err)
	}
	defer f.Close()
	sb := make([]byte, IdentityBytes)
	n, err := io.ReadFull(f, sb)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
		return FS{}, fmt.Errorf("reading the super block of %s for fsuuid=: %w", p, err)
	}
	// The ext4 driver keeps /sys/fs/ext4/<device> while it has the device mounted: it tells
	// an "ext2" that ext4 serves (and sets s_uuid) from fs/ext2's (which does not).
	_, e4err := os.Stat(filepath.Join(s.sysfs, "fs", "ext4", dev.Name))
	id, err := Identify(mp.FSType, sb[:n], e4err == nil)
	if err != nil {
		return FS{}, fmt.Errorf("%s: %w; not scanned", p, err)
	}
	return FS{Device: dev.Name, Type: id.Type, UUID: id.UUID, Magic: id.Magic, Mount: mp.Path}, nil
}

// mounted lists the file systems Scan mounted that pool still holds (GRUB's search reaches no
// others).
func mounted(fss []FS, pool *mount.Pool) []FS {
	var out []FS
	for _, mp := range pool.MountPoints {
		for _, fs := range fss {
			if fs.Mount == mp.Path {
				out = append(out, fs)
			}
		}
	}
	return out
}

// ScanDir runs the BLS, GRUB and syslinux parsers over a mounted file system root. It returns the
// entries it could resolve to files under dir, and one message per parser or entry that gave none.
// GRUB's search command may mount further devices through pool.
//
// The disk is the attacker's: every configuration file is read on its partition without
// following links and only if it is a regular file, configfile and include chains and the
// entries of one parser are bounded (bounds.go), ctx's deadline is checked before each parser
// and on every file read, and each entry gets the initrds of its own configuration line.
func ScanDir(ctx context.Context, dir string, devs block.BlockDevices, pool *mount.Pool) ([]Entry, []string) {
	var out []Entry
	var errs []string
	if pool == nil {
		pool = &mount.Pool{}
	}
	add := func(kind string, imgs []boot.OSImage, err error) {
		if err != nil {
			// u-root's BLS parser wraps a nil error; keep its text, drop the noise.
			msg := strings.TrimSuffix(err.Error(), ": %!w(<nil>)")
			errs = append(errs, fmt.Sprintf("%s: %s", kind, msg))
		}
		for _, img := range imgs {
			e, err := fromImage(img)
			if err != nil {
				errs = append(errs, fmt.Sprintf("%s entry %q: %v", kind, img.Label(), err))
				continue
			}
			e.Source = kind
			if err := contained(e, dir, pool); err != nil {
				errs = append(errs, fmt.Sprintf("%s entry %q: %v", kind, img.Label(), err))
				continue
			}
			out = append(out, e)
		}
	}
	if err := ctx.Err(); err != nil {
		add("bls", nil, fmt.Errorf("not scanned: %w", err))
	} else {
		imgs, err := scanBLS(ctx, dir, nil, "")
		add("bls", imgs, err)
	}
	for _, p := range parsers {
		if err := ctx.Err(); err != nil {
			add(p.name, nil, fmt.Errorf("not scanned: %w", err))
			continue
		}
		imgs, err := p.parse(ctx, dir, devs, pool)
		add(p.name, imgs, err)
	}
	return out, errs
}

// parser is one of u-root's configuration parsers besides BLS, in the order they are tried.
type parser struct {
	name  string
	parse func(ctx context.Context, dir string, devs block.BlockDevices, pool *mount.Pool) ([]boot.OSImage, error)
}

// parsers holds the GRUB and syslinux parsers (parsers_grub.go) unless the image was built with
// the measuredboot_blsonly tag: they link u-root's pkg/curl and with it net/http and a TFTP
// client, which a local boot never uses and which are a third of the image.
var parsers []parser

// Parsers names the configuration formats this build reads, in the order they are tried.
func Parsers() []string {
	names := []string{"bls"}
	for _, p := range parsers {
		names = append(names, p.name)
	}
	return names
}

func fromImage(img boot.OSImage) (Entry, error) {
	li, ok := img.(*boot.LinuxImage)
	if !ok {
		return Entry{}, fmt.Errorf("%T is not a Linux image; only Linux entries are booted", img)
	}
	k, err := filePath(li.Kernel)
	if err != nil {
		return Entry{}, fmt.Errorf("kernel: %w", err)
	}
	e := Entry{Name: li.Name, Rank: li.Rank(), Kernel: k, Cmdline: li.Cmdline}
	switch i := li.Initrd.(type) {
	case nil:
	case unresolvedInitrds:
		return Entry{}, fmt.Errorf("initrd: %w", i.err)
	case initrdFiles:
		e.Initrds = slices.Clone(i)
	default:
		p, err := filePath(li.Initrd)
		if err != nil {
			return Entry{}, fmt.Errorf("initrd: %w", err)
		}
		e.Initrds = strings.Split(p, ",")
	}
	if li.DTB != nil {
		if e.DTB, err = filePath(li.DTB); err != nil {
			return Entry{}, fmt.Errorf("devicetree: %w", err)
		}
	}
	if e.Name == "" {
		e.Name = filepath.Base(k)
	}
	return e, nil
}

// filePath recovers the local path behind a reader the u-root parsers return: an *os.File (BLS)
// or a lazily opened file:// URL (GRUB, syslinux). Anything else (a network URL) is refused.
func filePath(r io.ReaderAt) (string, error) {
	switch f := r.(type) {
	case *os.File:
		name := f.Name()
		f.Close() // the caller reads the file itself, once
		return name, nil
	case interface{ URL() *url.URL }:
		u := f.URL()
		if u.Scheme != "file" && u.Scheme != "" {
			return "", fmt.Errorf("%s: only local files are booted", u)
		}
		return filepath.Clean(u.Path), nil
	case fmt.Stringer:
		// Concatenated initrds (GRUB's "initrd a b", syslinux's "INITRD a,b") are named by
		// their parts' paths or file:// URLs, joined with commas.
		var paths []string
		for _, s := range strings.Split(f.String(), ",") {
			if u, err := url.Parse(s); err == nil && u.Scheme != "" {
				if u.Scheme != "file" {
					return "", fmt.Errorf("%s: only local files are booted", u)
				}
				s = u.Path
			}
			if !strings.HasPrefix(s, "/") {
				return "", fmt.Errorf("cannot tell which local file %q is", f.String())
			}
			paths = append(paths, filepath.Clean(s))
		}
		return strings.Join(paths, ","), nil
	}
	return "", fmt.Errorf("cannot tell which local file a %T is", r)
}
