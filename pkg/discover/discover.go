// Package discover finds boot entries on local disks with u-root's parsers (BLS, GRUB, syslinux;
// BLS alone in a build with the measuredboot_blsonly tag) and says where each entry's files are. It mounts every block device read-only through a
// mount.Pool and never reads a kernel or initramfs itself: the caller reads each file once.
package discover

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/u-root/u-root/pkg/boot"
	"github.com/u-root/u-root/pkg/boot/bls"
	"github.com/u-root/u-root/pkg/mount"
	"github.com/u-root/u-root/pkg/mount/block"
	"github.com/u-root/u-root/pkg/ulog"
	"golang.org/x/sys/unix"
)

// FS describes the file system an entry's files live on, for the policy's fs conditions.
type FS struct {
	Device string // block device name, e.g. "vda1"
	Type   string // file system type name, e.g. "ext4" (the kernel's fsname)
	UUID   string // file system UUID as blkid prints it
	Magic  uint64 // statfs f_type, the kernel's fsmagic
	Mount  string // where it is mounted in the boot environment
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
// scanned (dir, and what a GRUB search mounted through pool), by its path or by where its symbolic
// links lead: a configuration on a disk may only hand over files from the disks.
func contained(e Entry, dir string, pool *mount.Pool) error {
	roots := []string{dir}
	for _, mp := range pool.MountPoints {
		roots = append(roots, mp.Path)
	}
	var real []string
	for _, r := range roots {
		if rr, err := filepath.EvalSymlinks(r); err == nil {
			real = append(real, rr)
		}
	}
	inside := func(roots []string, p string) bool {
		for _, r := range roots {
			if under(r, p) {
				return true
			}
		}
		return false
	}
	for _, p := range append(append([]string{e.Kernel}, e.Initrds...), e.DTB) {
		if p == "" {
			continue
		}
		if !filepath.IsAbs(p) || !inside(roots, p) {
			return fmt.Errorf("%s is outside the partitions scanned (%s); nothing off the disks is booted", p, strings.Join(roots, ", "))
		}
		if rp, err := filepath.EvalSymlinks(p); err == nil && !inside(real, rp) {
			return fmt.Errorf("%s is a symbolic link to %s, outside the partitions scanned; nothing off the disks is booted", p, rp)
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
type Options struct {
	// Devices, if not empty, are the only devices scanned, by stable hardware path (the path of
	// the device under /sys/devices, such as "pci-0000:00:04.0"), in the order given: the order
	// of the boot. A file system UUID or a label is never used: anyone can copy them.
	Devices []string
	// AllowRemovable lets removable media (USB sticks, SD cards, CD-ROMs) be scanned; they are
	// left out otherwise.
	AllowRemovable bool
}

// Probe is what was looked at on one device and why it gave no entry, for the refusal message.
type Probe struct {
	Device string
	Err    error
}

// Scan mounts each device read-only through pool and collects the entries of every parser, the highest rank first (u-root's
// order, stable within a rank). It returns the probes so a caller can say why nothing was found.
func Scan(ctx context.Context, devs block.BlockDevices, pool *mount.Pool, opts Options) ([]Entry, []Probe) {
	var entries []Entry
	var probes []Probe
	for _, dev := range devs {
		mp, err := pool.Mount(dev, mount.ReadOnly)
		if err != nil {
			probes = append(probes, Probe{dev.Name, fmt.Errorf("mount: %w", err)})
			continue
		}
		dir := mp.Path
		fs := fsInfo(dev, dir)
		found, errs := ScanDir(ctx, dir, devs, pool)
		for i := range found {
			found[i].FS = fs
			found[i].Source = dev.Name + " " + found[i].Source
		}
		if len(found) == 0 {
			probes = append(probes, Probe{dev.Name, fmt.Errorf("no boot entry: %s", strings.Join(errs, "; "))})
		}
		entries = append(entries, found...)
	}
	mounts := mounted(devs, pool)
	for i := range entries {
		entries[i].Mounts = mounts
	}
	sort.SliceStable(entries, func(i, j int) bool { return entries[i].Rank > entries[j].Rank })
	return entries, probes
}

func fsInfo(dev *block.BlockDev, dir string) FS {
	fs := FS{Device: dev.Name, Type: dev.FSType, UUID: dev.FsUUID, Mount: dir}
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err == nil {
		fs.Magic = uint64(st.Type)
	}
	return fs
}

// mounted lists what pool has mounted, including what GRUB's search mounted on its own.
func mounted(devs block.BlockDevices, pool *mount.Pool) []FS {
	var out []FS
	for _, mp := range pool.MountPoints {
		for _, d := range devs {
			if filepath.Base(mp.Device) == d.Name {
				out = append(out, fsInfo(d, mp.Path))
			}
		}
	}
	return out
}

// ScanDir runs the BLS, GRUB and syslinux parsers over a mounted file system root. It returns the
// entries it could resolve to files under dir, and one message per parser or entry that gave none.
// GRUB's search command may mount further devices through pool.
func ScanDir(ctx context.Context, dir string, devs block.BlockDevices, pool *mount.Pool) ([]Entry, []string) {
	var out []Entry
	var errs []string
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
			completeInitrds(dir, &e)
			if err := contained(e, dir, pool); err != nil {
				errs = append(errs, fmt.Sprintf("%s entry %q: %v", kind, img.Label(), err))
				continue
			}
			out = append(out, e)
		}
	}
	imgs, err := bls.ScanBLSEntries(ulog.Null, dir, nil, "")
	add("bls", imgs, err)
	for _, p := range parsers {
		imgs, err = p.parse(ctx, dir, devs, pool)
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
	if li.Initrd != nil {
		i, err := filePath(li.Initrd)
		if err != nil {
			return Entry{}, fmt.Errorf("initrd: %w", err)
		}
		e.Initrds = strings.Split(i, ",")
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
