package discover

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/u-root/u-root/pkg/mount"
	"github.com/u-root/u-root/pkg/mount/block"
	"golang.org/x/sys/unix"
)

// fakeDisk is a disk in a fake sysfs: its directory under /sys/devices up to the disk itself.
type fakeDisk struct {
	dir       string // e.g. "pci0000:00/0000:00:04.0/virtio1/block"
	name      string // e.g. "vda"
	parts     []int
	removable bool
}

// fakeSysfs lays disks out as sysfs does: /sys/devices/<dir>/<disk>[/<disk><n>/partition],
// with /sys/class/block/<name> linking to each, and returns its root.
func fakeSysfs(t *testing.T, disks ...fakeDisk) string {
	t.Helper()
	root := t.TempDir()
	for _, d := range disks {
		disk := filepath.Join(root, "devices", d.dir, d.name)
		rm := "0"
		if d.removable {
			rm = "1"
		}
		write(t, disk, "removable", rm+"\n")
		link := func(name, target string) {
			if err := os.MkdirAll(filepath.Join(root, "class", "block"), 0o755); err != nil {
				t.Fatal(err)
			}
			rel, _ := filepath.Rel(filepath.Join(root, "class", "block"), target)
			if err := os.Symlink(rel, filepath.Join(root, "class", "block", name)); err != nil {
				t.Fatal(err)
			}
		}
		link(d.name, disk)
		for _, p := range d.parts {
			pn := fmt.Sprintf("%s%d", d.name, p)
			if strings.HasPrefix(d.name, "nvme") || strings.HasPrefix(d.name, "mmcblk") {
				pn = fmt.Sprintf("%sp%d", d.name, p)
			}
			write(t, filepath.Join(disk, pn), "partition", fmt.Sprintf("%d\n", p))
			link(pn, filepath.Join(disk, pn))
		}
	}
	return root
}

// TestHardwarePath checks the stable hardware path of each kind of disk, and that a partition has
// its disk's path.
func TestHardwarePath(t *testing.T) {
	sys := fakeSysfs(t,
		fakeDisk{dir: "pci0000:00/0000:00:04.0/virtio1/block", name: "vda", parts: []int{1, 2}},
		fakeDisk{dir: "pci0000:00/0000:00:1f.2/ata3/host2/target2:0:0/2:0:0:0/block", name: "sda", parts: []int{1}},
		fakeDisk{dir: "pci0000:00/0000:00:14.0/usb1/1-1/1-1:1.0/host6/target6:0:0/6:0:0:0/block", name: "sdb", parts: []int{1}},
		fakeDisk{dir: "pci0000:00/0000:00:1d.0/0000:01:00.0/nvme/nvme0", name: "nvme0n1", parts: []int{2}},
		fakeDisk{dir: "virtual/nvme-subsystem/nvme-subsys1", name: "nvme1n3"},
		fakeDisk{dir: "platform/fe340000.mmc/mmc_host/mmc0/mmc0:0001/block", name: "mmcblk0", parts: []int{1}},
		fakeDisk{dir: "virtual/block", name: "loop0"},
	)
	write(t, filepath.Join(sys, "devices/pci0000:00/0000:00:1f.2/ata3/ata_port/ata3"), "port_no", "1\n")
	// The multipath subsystem links its controller.
	ctl := filepath.Join(sys, "devices/pci0000:00/0000:00:1d.1/0000:02:00.0/nvme/nvme1")
	if err := os.MkdirAll(ctl, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("../../../pci0000:00/0000:00:1d.1/0000:02:00.0/nvme/nvme1", filepath.Join(sys, "devices/virtual/nvme-subsystem/nvme-subsys1/nvme1")); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		path string
		part int
	}{
		{"vda", "pci-0000:00:04.0", 0},
		{"vda2", "pci-0000:00:04.0", 2},
		{"sda1", "pci-0000:00:1f.2-ata-1-scsi-0:0:0", 1},
		{"sdb1", "pci-0000:00:14.0-usb-1:1.0-scsi-0:0:0", 1},
		{"nvme0n1p2", "pci-0000:01:00.0-nvme-1", 2},
		{"nvme1n3", "pci-0000:02:00.0-nvme-3", 0},
		{"mmcblk0p1", "platform-fe340000.mmc", 1},
	} {
		path, part, err := HardwarePath(sys, tc.name)
		if err != nil || path != tc.path || part != tc.part {
			t.Errorf("HardwarePath(%s) = %q, %d, %v; want %q, %d", tc.name, path, part, err, tc.path, tc.part)
		}
	}
	for _, name := range []string{"loop0", "vdz", "../vda", ""} {
		if p, _, err := HardwarePath(sys, name); err == nil {
			t.Errorf("HardwarePath(%q) = %q, want an error", name, p)
		}
	}
}

// fakeMachine is a fake machine for Scan: a sysfs, device nodes holding ext4 super blocks, and a
// mount that records what it was asked.
type fakeMachine struct {
	t      *testing.T
	sysfs  string
	dev    string
	dirs   map[string]string  // device name -> its "mounted" root
	fstype map[string]string  // device name -> the type the mount reports
	found  map[string][]Entry // device name -> what ScanDir finds there
	events []string
	pool   *mount.Pool
	seen   [][]string // the devices each ScanDir call was given
}

// newMachine: vda (virtio, partitions 1 and 2), vdb (virtio, partition 1), sda (a USB stick,
// partition 1), loop0.
func newMachine(t *testing.T) *fakeMachine {
	m := &fakeMachine{t: t, dev: t.TempDir(), dirs: map[string]string{}, fstype: map[string]string{}, found: map[string][]Entry{}, pool: &mount.Pool{}}
	m.sysfs = fakeSysfs(t,
		fakeDisk{dir: "pci0000:00/0000:00:04.0/virtio1/block", name: "vda", parts: []int{1, 2}},
		fakeDisk{dir: "pci0000:00/0000:00:05.0/virtio2/block", name: "vdb", parts: []int{1}},
		fakeDisk{dir: "pci0000:00/0000:00:14.0/usb1/1-2/1-2:1.0/host3/target3:0:0/3:0:0:0/block", name: "sda", parts: []int{1}, removable: true},
		fakeDisk{dir: "virtual/block", name: "loop0"},
	)
	for i, n := range []string{"vda1", "vda2", "vdb1", "sda1", "loop0"} {
		sb := make([]byte, 0x500)
		copy(sb[0x438:], "\x53\xef")
		copy(sb[0x468:], fmt.Sprintf("uuid-of-%s-%03d", n, i)[:16])
		write(t, m.dev, n, string(sb))
		m.dirs[n] = t.TempDir()
		m.fstype[n] = "ext4"
	}
	return m
}

func (m *fakeMachine) scanner() scanner {
	return scanner{
		sysfs: m.sysfs,
		dev:   m.dev,
		mount: func(d *block.BlockDev, flags uintptr) (*mount.MountPoint, error) {
			m.events = append(m.events, fmt.Sprintf("mount %s %#x", d.Name, flags))
			if m.fstype[d.Name] == "" {
				return nil, errors.New("no file system")
			}
			mp := &mount.MountPoint{Path: m.dirs[d.Name], Device: "/dev/" + d.Name, FSType: m.fstype[d.Name], Flags: flags}
			m.pool.Add(mp)
			return mp, nil
		},
		scanDir: func(_ context.Context, dir string, devs block.BlockDevices, _ *mount.Pool) ([]Entry, []string) {
			m.events = append(m.events, "scan "+dir)
			var names []string
			for _, d := range devs {
				names = append(names, d.Name)
			}
			m.seen = append(m.seen, names)
			for n, d := range m.dirs {
				if d == dir {
					return slices.Clone(m.found[n]), []string{"nothing on " + n}
				}
			}
			return nil, []string{"unknown dir"}
		},
	}
}

func blockDevs(names ...string) block.BlockDevices {
	var out block.BlockDevices
	for _, n := range names {
		out = append(out, &block.BlockDev{Name: n})
	}
	return out
}

func entrySources(es []Entry) []string {
	var out []string
	for _, e := range es {
		out = append(out, e.Source+":"+e.Name)
	}
	return out
}

func probeLines(ps []Probe) string {
	var out []string
	for _, p := range ps {
		out = append(out, fmt.Sprintf("%s: %v", p.Device, p.Err))
	}
	return strings.Join(out, "\n")
}

// TestScanOrder: devices are scanned in the order of their hardware paths, or of
// Options.Devices, and a device's entries stay together in that device's own rank order, so a
// second disk's higher-ranked entry does not jump ahead of the first disk's default; devices not
// named, removable media and virtual devices are left out with a probe saying why.
func TestScanOrder(t *testing.T) {
	devs := blockDevs("sda1", "vdb1", "vda2", "vda1", "loop0")
	setup := func() *fakeMachine {
		m := newMachine(t)
		m.found["vda1"] = []Entry{{Name: "other", Rank: 1, Source: "grub"}, {Name: "default", Rank: 5, Source: "grub"}}
		m.found["vdb1"] = []Entry{{Name: "B", Rank: 100, Source: "bls"}}
		m.found["sda1"] = []Entry{{Name: "stick", Rank: 1000, Source: "bls"}}
		return m
	}
	for _, tc := range []struct {
		name   string
		opts   Options
		want   []string
		probes []string
	}{
		{"by hardware path", Options{}, []string{"vda1 grub:default", "vda1 grub:other", "vdb1 bls:B"},
			[]string{"sda1: removable media, left out (hardware path", "loop0: virtual device", "vda2: no boot entry: nothing on vda2"}},
		{"boot_devices order", Options{Devices: []string{"pci-0000:00:05.0", "pci-0000:00:04.0-part1"}}, []string{"vdb1 bls:B", "vda1 grub:default", "vda1 grub:other"},
			[]string{"vda2: not in boot_devices (its hardware path is pci-0000:00:04.0)", "sda1: not in boot_devices"}},
		{"removable allowed", Options{AllowRemovable: true}, []string{"vda1 grub:default", "vda1 grub:other", "vdb1 bls:B", "sda1 bls:stick"}, nil},
		{"removable named but not allowed", Options{Devices: []string{"pci-0000:00:14.0-usb-2:1.0-scsi-0:0:0"}}, nil,
			[]string{"sda1: removable media, left out"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := setup()
			got, probes := m.scanner().scan(context.Background(), devs, m.pool, tc.opts)
			if !slices.Equal(entrySources(got), tc.want) {
				t.Errorf("entries = %q, want %q", entrySources(got), tc.want)
			}
			pt := probeLines(probes)
			for _, p := range tc.probes {
				if !strings.Contains(pt, p) {
					t.Errorf("probes lack %q:\n%s", p, pt)
				}
			}
		})
	}
}

// TestScanMountsFirst: every selected device is mounted ro,nodev,nosuid,noexec before any parser
// runs, and each parser (GRUB's search) is given the selected, mounted devices only.
func TestScanMountsFirst(t *testing.T) {
	m := newMachine(t)
	m.found["vda1"] = []Entry{{Name: "A", Source: "grub"}}
	m.found["vdb1"] = []Entry{{Name: "B", Source: "bls"}}
	m.fstype["vda2"] = "" // does not mount
	_, probes := m.scanner().scan(context.Background(), blockDevs("vdb1", "sda1", "vda2", "vda1", "loop0"), m.pool, Options{})
	want := []string{
		fmt.Sprintf("mount vda1 %#x", MountFlags), fmt.Sprintf("mount vda2 %#x", MountFlags), fmt.Sprintf("mount vdb1 %#x", MountFlags),
		"scan " + m.dirs["vda1"], "scan " + m.dirs["vdb1"],
	}
	if !slices.Equal(m.events, want) {
		t.Errorf("events = %q, want %q", m.events, want)
	}
	for _, s := range m.seen {
		if !slices.Equal(s, []string{"vda1", "vdb1"}) {
			t.Errorf("ScanDir was given devices %q, want the selected and mounted ones [vda1 vdb1]", s)
		}
	}
	const ro = 0x1 | 0x2 | 0x4 | 0x8 // MS_RDONLY|MS_NOSUID|MS_NODEV|MS_NOEXEC
	if MountFlags&ro != ro {
		t.Errorf("MountFlags = %#x, lacks ro,nosuid,nodev,noexec", MountFlags)
	}
	if !strings.Contains(probeLines(probes), "vda2: mount: no file system") {
		t.Errorf("probes lack vda2's mount failure:\n%s", probeLines(probes))
	}
}

// TestScanIdentity: an entry's FS has the type the mount reports (u-root's BlockDev.FSType is
// never filled) and the UUID of its device's super block; a device whose super block does not
// fit the mounted type, or whose mount lacks our flags, is left out and unmounted from the pool.
func TestScanIdentity(t *testing.T) {
	m := newMachine(t)
	m.found["vda1"] = []Entry{{Name: "A", Source: "grub"}}
	m.found["vda2"] = []Entry{{Name: "A2", Source: "grub"}}
	m.found["vdb1"] = []Entry{{Name: "B", Source: "bls"}}
	m.fstype["vda2"] = "xfs" // the super block is ext4's
	// vdb1 was already in the pool, mounted read-only only (u-root's flags).
	m.pool.Add(&mount.MountPoint{Path: m.dirs["vdb1"], Device: "/dev/vdb1", FSType: "ext4", Flags: mount.ReadOnly})
	s := m.scanner()
	inner := s.mount
	s.mount = func(d *block.BlockDev, flags uintptr) (*mount.MountPoint, error) {
		for _, mp := range m.pool.MountPoints {
			if mp.Device == "/dev/"+d.Name {
				return mp, nil // as pool.Mount does
			}
		}
		return inner(d, flags)
	}
	got, probes := s.scan(context.Background(), blockDevs("vda1", "vda2", "vdb1"), m.pool, Options{})
	if len(got) != 1 || got[0].Name != "A" {
		t.Fatalf("entries = %q, want only vda1's; probes:\n%s", entrySources(got), probeLines(probes))
	}
	want := FS{Device: "vda1", Type: "ext4", UUID: uuidString([]byte("uuid-of-vda1-000")), Magic: 0xef53, Mount: m.dirs["vda1"]}
	if got[0].FS != want {
		t.Errorf("FS = %+v, want %+v", got[0].FS, want)
	}
	if !slices.Equal(got[0].Mounts, []FS{want}) {
		t.Errorf("Mounts = %+v, want [%+v]", got[0].Mounts, want)
	}
	pt := probeLines(probes)
	for _, p := range []string{"vda2: " + filepath.Join(m.dev, "vda2") + ": mounted as xfs, but there is no xfs super block", "vdb1: already mounted at"} {
		if !strings.Contains(pt, p) {
			t.Errorf("probes lack %q:\n%s", p, pt)
		}
	}
	for _, mp := range m.pool.MountPoints {
		if mp.Device == "/dev/vda2" || mp.Device == "/dev/vdb1" {
			t.Errorf("%s, left out, is still in the pool: a GRUB entry could reach into it", mp.Device)
		}
	}
}

// TestMissing: the boot waits for the devices boot_devices names until each is there.
func TestMissing(t *testing.T) {
	m := newMachine(t)
	opts := Options{Devices: []string{"pci-0000:00:05.0", "pci-0000:00:04.0-part2", "pci-0000:00:09.0"}}
	got := Missing(m.sysfs, blockDevs("vda1", "vdb1"), opts)
	if want := []string{"pci-0000:00:04.0-part2", "pci-0000:00:09.0"}; !slices.Equal(got, want) {
		t.Errorf("Missing = %q, want %q", got, want)
	}
	if got := Missing(m.sysfs, blockDevs("vda1"), Options{}); len(got) != 0 {
		t.Errorf("Missing without boot_devices = %q, want nothing", got)
	}
}

// TestScanLoop runs Scan's steps on real mounts: two ext4 loop devices made with mkfs.ext4 -U
// and the same UUID, faked in sysfs as two virtio disks. The entry's FS has the type the kernel
// mounted, the UUID mkfs wrote and ext4's magic; the mount is ro,nodev,nosuid,noexec in
// /proc/self/mountinfo; the disk not in boot_devices is neither mounted nor scanned.
func TestScanLoop(t *testing.T) {
	if os.Geteuid() != 0 {
		if os.Getenv("CI") != "" {
			t.Fatal("CI runs as root: this test attaches loop devices and mounts them")
		}
		t.Skip("needs root to attach loop devices and mount them (the fake-machine tests cover Scan without)")
	}
	const u = "11111111-2222-3333-4444-555555555555"
	loop := func(title string) string {
		img, _ := mkfsImage(t, "mkfs.ext4", "-U", u)
		out, err := exec.Command("losetup", "-f", "--show", img).Output()
		if err != nil {
			t.Skipf("no loop device: %v", err)
		}
		dev := strings.TrimSpace(string(out))
		t.Cleanup(func() { exec.Command("losetup", "-d", dev).Run() })
		d := t.TempDir()
		if err := unix.Mount(dev, d, "ext4", 0, ""); err != nil {
			t.Skipf("cannot mount ext4 here: %v", err)
		}
		write(t, d, "vmlinuz", "k")
		write(t, d, "loader/entries/a.conf", "title "+title+"\nlinux /vmlinuz\n")
		if err := unix.Unmount(d, 0); err != nil {
			t.Fatal(err)
		}
		return filepath.Base(dev)
	}
	a, b := loop("internal"), loop("stick")
	sys := fakeSysfs(t,
		fakeDisk{dir: "pci0000:00/0000:00:04.0/virtio1/block", name: a},
		fakeDisk{dir: "pci0000:00/0000:00:05.0/virtio2/block", name: b},
	)
	pool := &mount.Pool{}
	defer pool.UnmountAll(mount.MNT_DETACH)
	s := scanner{sysfs: sys, dev: "/dev", mount: func(d *block.BlockDev, f uintptr) (*mount.MountPoint, error) { return pool.Mount(d, f) }, scanDir: ScanDir}
	got, probes := s.scan(context.Background(), blockDevs(b, a), pool, Options{Devices: []string{"pci-0000:00:04.0"}})
	if len(got) != 1 || got[0].Name != "internal" {
		t.Fatalf("entries = %q, want the internal disk's only; probes:\n%s", entrySources(got), probeLines(probes))
	}
	if fs := got[0].FS; fs.Type != "ext4" || fs.UUID != u || fs.Magic != 0xef53 || fs.Device != a {
		t.Errorf("FS = %+v, want %s, ext4, %s, 0xef53", fs, a, u)
	}
	if len(pool.MountPoints) != 1 {
		t.Errorf("pool holds %d mounts, want 1 (the disk not in boot_devices is not mounted)", len(pool.MountPoints))
	}
	mi, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(mi), "\n") {
		if f := strings.Fields(l); len(f) > 5 && f[4] == got[0].FS.Mount {
			opts := strings.Split(f[5], ",")
			for _, o := range []string{"ro", "nodev", "nosuid", "noexec"} {
				if !slices.Contains(opts, o) {
					t.Errorf("%s is mounted %s, lacks %s", a, f[5], o)
				}
			}
		}
	}
}

// TestPartitionedDiskNotMounted: a disk with a partition table holds no file system: its
// partitions are scanned, the disk itself neither mounted nor reported; a disk without partitions
// (a file system on the whole disk) is scanned.
func TestPartitionedDiskNotMounted(t *testing.T) {
	sys := fakeSysfs(t,
		fakeDisk{dir: "pci0000:00/0000:00:04.0/virtio1/block", name: "vda", parts: []int{1, 2}},
		fakeDisk{dir: "pci0000:00/0000:00:05.0/virtio2/block", name: "vdb"})
	cands, probes := selectDevices(sys, blockDevs("vda", "vda1", "vda2", "vdb"), Options{})
	var names []string
	for _, c := range cands {
		names = append(names, c.dev.Name)
	}
	if want := []string{"vda1", "vda2", "vdb"}; !slices.Equal(names, want) || len(probes) != 0 {
		t.Errorf("selectDevices = %v, probes %q; want %v and no probe", names, probeLines(probes), want)
	}
}

// TestRemovableMedia: removable media are told from sysfs alone. Besides a disk whose own
// removable is 1 and anything under USB, an SD or MMC card (any block device below an mmc_host,
// whose removable the kernel's MMC driver leaves at 0) and a disk below a PCI device the kernel
// marks "removable" (behind a Thunderbolt/USB4 or other firmware-marked external port) are
// removable; "fixed" or no such attribute is not. On the old code an SD card in a PCI reader
// (pci-0000:00:1e.6) was a fixed disk that sorted ahead of the NVMe disk and booted first.
func TestRemovableMedia(t *testing.T) {
	tb := "pci0000:00/0000:00:07.0/0000:3c:00.0/0000:3d:01.0/0000:3e:00.0"
	sys := fakeSysfs(t,
		fakeDisk{dir: "pci0000:00/0000:00:1d.0/0000:01:00.0/nvme/nvme0", name: "nvme0n1", parts: []int{1}},
		fakeDisk{dir: "pci0000:00/0000:00:1e.6/mmc_host/mmc0/mmc0:0001/block", name: "mmcblk0", parts: []int{1}},
		fakeDisk{dir: "platform/fe340000.mmc/mmc_host/mmc1/mmc1:0001/block", name: "mmcblk1", parts: []int{1}},
		fakeDisk{dir: tb + "/nvme/nvme1", name: "nvme1n1", parts: []int{1}},
		fakeDisk{dir: "pci0000:00/0000:00:1c.0/0000:05:00.0/nvme/nvme2", name: "nvme2n1", parts: []int{1}},
		fakeDisk{dir: "pci0000:00/0000:00:14.0/usb1/1-1/1-1:1.0/host6/target6:0:0/6:0:0:0/block", name: "sdb", parts: []int{1}},
		fakeDisk{dir: "pci0000:00/0000:00:1f.2/ata2/host1/target1:0:0/1:0:0:0/block", name: "sr0", removable: true},
	)
	// The PCI core marks every device below an external-facing port "removable"; a device the
	// firmware calls fixed says so.
	for _, d := range []string{"0000:00:07.0/0000:3c:00.0", "0000:00:07.0/0000:3c:00.0/0000:3d:01.0", "0000:00:07.0/0000:3c:00.0/0000:3d:01.0/0000:3e:00.0"} {
		write(t, filepath.Join(sys, "devices/pci0000:00", d), "removable", "removable\n")
	}
	write(t, filepath.Join(sys, "devices/pci0000:00/0000:00:1c.0/0000:05:00.0"), "removable", "fixed\n")
	for _, tc := range []struct {
		name      string
		removable bool
	}{
		{"nvme0n1p1", false},
		{"mmcblk0p1", true},
		{"mmcblk1p1", true},
		{"nvme1n1p1", true},
		{"nvme2n1p1", false},
		{"sdb1", true},
		{"sr0", true},
	} {
		d, err := readSysDevice(sys, tc.name)
		if err != nil || d.removable != tc.removable {
			t.Errorf("readSysDevice(%s) = removable %v, %v; want removable %v", tc.name, d.removable, err, tc.removable)
		}
	}
	devs := blockDevs("nvme0n1p1", "mmcblk0p1", "mmcblk1p1", "nvme1n1p1", "nvme2n1p1", "sdb1", "sr0")
	names := func(cs []candidate) []string {
		var out []string
		for _, c := range cs {
			out = append(out, c.dev.Name)
		}
		return out
	}
	cands, probes := selectDevices(sys, devs, Options{})
	if want := []string{"nvme0n1p1", "nvme2n1p1"}; !slices.Equal(names(cands), want) {
		t.Errorf("selectDevices(boot_devices unset) = %q, want %q; probes:\n%s", names(cands), want, probeLines(probes))
	}
	if pt := probeLines(probes); !strings.Contains(pt, "mmcblk0p1: removable media, left out (hardware path pci-0000:00:1e.6;") {
		t.Errorf("probes lack the SD card left out as removable media:\n%s", pt)
	}
	cands, _ = selectDevices(sys, devs, Options{AllowRemovable: true})
	if want := []string{"sdb1", "mmcblk0p1", "sr0", "nvme0n1p1", "nvme2n1p1", "nvme1n1p1", "mmcblk1p1"}; !slices.Equal(names(cands), want) {
		t.Errorf("selectDevices(removable_media=allow) = %q, want %q", names(cands), want)
	}
}
