package discover

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/u-root/u-root/pkg/mount/block"
)

// candidate is a block device that passed the selection, with its place in the boot order.
type candidate struct {
	dev   *block.BlockDev
	path  string // the stable hardware path of its disk
	part  int    // partition number; 0 for a whole disk
	order int    // index of the first Options.Devices entry naming it; 0 without Options.Devices
}

// sysDevice is what sysfs says of one block device.
type sysDevice struct {
	path      string // stable hardware path of its disk, "" for a virtual device
	rel       string // its directory under /sys/devices, for messages
	part      int
	removable bool // removable media, see readSysDevice
}

var (
	pciAddrRE = regexp.MustCompile(`^[0-9a-f]{4,}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$`)
	usbHubRE  = regexp.MustCompile(`^usb[0-9]+$`)
	usbIfRE   = regexp.MustCompile(`^[0-9]+-([0-9.]+:[0-9]+\.[0-9]+)$`)
	mmcCardRE = regexp.MustCompile(`^mmc[0-9]+:[0-9a-f]{4}$`)
	scsiRE    = regexp.MustCompile(`^[0-9]+:([0-9]+:[0-9]+:[0-9]+)$`)
	ataRE     = regexp.MustCompile(`^ata([0-9]+)$`)
	nvmeNSRE  = regexp.MustCompile(`^nvme[0-9]+(?:c[0-9]+)?n([0-9]+)$`)
	nvmeCtlRE = regexp.MustCompile(`^nvme[0-9]+$`)
)

// HardwarePath returns the stable hardware path of block device name (such as "vda1") as sysfs
// under root (normally "/sys") gives it, in the form the package documentation above describes:
// the value boot_devices= takes. It is the path of the device's disk; part is the partition
// number, 0 for a whole disk.
func HardwarePath(root, name string) (path string, part int, err error) {
	d, err := readSysDevice(root, name)
	if err != nil {
		return "", 0, err
	}
	if d.path == "" {
		return "", 0, fmt.Errorf("%s is a virtual device (%s), it has no hardware path", name, d.rel)
	}
	return d.path, d.part, nil
}

// readSysDevice reads what sysfs under root says of block device name: its disk's hardware path,
// its partition number, and whether it is removable media. That is told from sysfs alone, never
// from the disk, and a device is removable media if any of these holds:
//
//   - its disk's own removable attribute is 1 (the kernel sets it for media that can leave the
//     drive: CD and DVD drives, card readers and sticks that report the SCSI RMB bit, floppies);
//   - it sits below a USB device (a usbN or N-port:config.interface component): every USB disk,
//     card reader or stick, whatever its removable says;
//   - it sits below an MMC or Memory Stick host (an mmc_host or memstick_host component, or an
//     mmcN:RCA card device): SD and MMC cards, whose removable the kernel's MMC driver leaves at
//     0 in a PCI or platform reader. This includes eMMC soldered to the board (sysfs does not
//     tell it from a card reliably, and the card's own "type" is the card's say), so a machine
//     that boots from eMMC names it in boot_devices and allows removable media;
//   - an ancestor device's removable attribute reads "removable" (Linux 5.13 and later; the PCI
//     core sets it on every device below a port the firmware marks external-facing, such as a
//     Thunderbolt or USB4 port, and USB sets it from the hub's port descriptor).
//
// Not detected, and so treated as fixed: a disk in a hot-plug bay or slot (SATA, SAS, NVMe or
// PCIe) the firmware does not mark external-facing, an eSATA port unless the kernel reports the
// disk's removable as 1, an ExpressCard or Thunderbolt port the firmware does not mark, and
// FireWire. Such a port needs boot_devices=, which names the devices scanned by hardware path.
func readSysDevice(root, name string) (sysDevice, error) {
	if name == "" || strings.ContainsAny(name, "/") || name == "." || name == ".." {
		return sysDevice{}, fmt.Errorf("%q is not a block device name", name)
	}
	link := filepath.Join(root, "class", "block", name)
	dir, err := filepath.EvalSymlinks(link)
	if err != nil {
		return sysDevice{}, fmt.Errorf("%s: resolving its sysfs entry: %w", name, err)
	}
	devices, err := filepath.EvalSymlinks(filepath.Join(root, "devices"))
	if err != nil {
		return sysDevice{}, fmt.Errorf("%s: %w", name, err)
	}
	rel, err := filepath.Rel(devices, dir)
	if err != nil || rel == "." || strings.HasPrefix(rel, "..") {
		return sysDevice{}, fmt.Errorf("%s: %s is not under %s", name, dir, devices)
	}
	d := sysDevice{rel: rel}
	disk := dir
	if b, err := os.ReadFile(filepath.Join(dir, "partition")); err == nil {
		n, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil || n <= 0 {
			return sysDevice{}, fmt.Errorf("%s: sysfs partition number %q is not a positive number", name, strings.TrimSpace(string(b)))
		}
		d.part, disk = n, filepath.Dir(dir)
	}
	if b, err := os.ReadFile(filepath.Join(disk, "removable")); err == nil && strings.TrimSpace(string(b)) == "1" {
		d.removable = true
	}
	diskRel, _ := filepath.Rel(devices, disk)
	comps := strings.Split(diskRel, "/")
	diskName := comps[len(comps)-1]
	comps = comps[:len(comps)-1] // the disk itself
	if n := len(comps); n > 0 && comps[n-1] == "block" {
		comps = comps[:n-1] // the class directory of virtio, SCSI, ...: ".../virtio1/block/vda"
	}
	if len(comps) >= 3 && comps[0] == "virtual" && comps[1] == "nvme-subsystem" {
		// A multipath NVMe namespace: take the hardware path of its subsystem's first controller.
		ctl, err := firstController(filepath.Join(devices, comps[0], comps[1], comps[2]))
		if err != nil {
			return sysDevice{}, fmt.Errorf("%s: %w", name, err)
		}
		if r, err := filepath.Rel(devices, ctl); err == nil {
			comps = strings.Split(r, "/")
		}
	}
	var parts []string
	base := -1
	for i, c := range comps {
		if pciAddrRE.MatchString(c) {
			base = i
		}
	}
	switch {
	case base >= 0:
		parts = append(parts, "pci-"+comps[base])
	case len(comps) >= 2 && comps[0] == "platform":
		base = 1
		parts = append(parts, "platform-"+comps[1])
	default:
		return d, nil // virtual: loop, ram, zram, dm, md
	}
	prefix := devices
	for i, c := range comps {
		prefix = filepath.Join(prefix, c)
		switch {
		case usbHubRE.MatchString(c) || usbIfRE.MatchString(c):
			d.removable = true // USB
		case c == "mmc_host" || c == "memstick_host" || mmcCardRE.MatchString(c):
			d.removable = true // an SD/MMC or Memory Stick card
		}
		if b, err := os.ReadFile(filepath.Join(prefix, "removable")); err == nil && strings.TrimSpace(string(b)) == "removable" {
			d.removable = true // below an external port (the device core's removable)
		}
		if i <= base {
			continue
		}
		switch {
		case usbIfRE.MatchString(c):
			parts = append(parts, "usb-"+usbIfRE.FindStringSubmatch(c)[1])
		case scsiRE.MatchString(c):
			parts = append(parts, "scsi-"+scsiRE.FindStringSubmatch(c)[1])
		case ataRE.MatchString(c):
			port := ataRE.FindStringSubmatch(c)[1]
			if b, err := os.ReadFile(filepath.Join(prefix, "ata_port", c, "port_no")); err == nil {
				port = strings.TrimSpace(string(b))
			}
			parts = append(parts, "ata-"+port)
		}
	}
	if m := nvmeNSRE.FindStringSubmatch(diskName); m != nil {
		parts = append(parts, "nvme-"+m[1])
	}
	d.path = strings.Join(parts, "-")
	return d, nil
}

// firstController returns the directory of the first (by name) controller of an NVMe
// subsystem, which links its controllers as nvme<N>.
func firstController(subsys string) (string, error) {
	ents, err := os.ReadDir(subsys)
	if err != nil {
		return "", fmt.Errorf("reading NVMe subsystem %s: %w", subsys, err)
	}
	for _, e := range ents { // ReadDir sorts by name
		if nvmeCtlRE.MatchString(e.Name()) {
			return filepath.EvalSymlinks(filepath.Join(subsys, e.Name()))
		}
	}
	return "", fmt.Errorf("NVMe subsystem %s has no controller", subsys)
}

// matches says whether an Options.Devices entry names device d: its disk's path names the disk
// and all its partitions, "<path>-part<N>" partition N only.
func matches(want string, d sysDevice) bool {
	return d.path != "" && (want == d.path || (d.part > 0 && want == fmt.Sprintf("%s-part%d", d.path, d.part)))
}

// selectDevices returns the devices of devs that opts allow, in boot order (see the package
// documentation above), and a Probe for each device left out, saying why. sysfs is the root of
// sysfs, normally "/sys".
func selectDevices(sysfs string, devs block.BlockDevices, opts Options) ([]candidate, []Probe) {
	var out []candidate
	var probes []Probe
	partitioned := map[string]bool{} // hardware paths of disks with partitions
	for _, dev := range devs {
		if d, err := readSysDevice(sysfs, dev.Name); err == nil && d.path != "" && d.part > 0 {
			partitioned[d.path] = true
		}
	}
	for _, dev := range devs {
		d, err := readSysDevice(sysfs, dev.Name)
		if err != nil {
			probes = append(probes, Probe{dev.Name, fmt.Errorf("cannot tell where it is attached, so it is not scanned: %w", err)})
			continue
		}
		if d.part == 0 && partitioned[d.path] {
			continue // a partitioned disk: its partitions are scanned, the disk holds no file system
		}
		if d.path == "" {
			probes = append(probes, Probe{dev.Name, fmt.Errorf("virtual device (%s), not a disk: not scanned", d.rel)})
			continue
		}
		c := candidate{dev: dev, path: d.path, part: d.part}
		if len(opts.Devices) > 0 {
			c.order = -1
			for i, want := range opts.Devices {
				if matches(want, d) {
					c.order = i
					break
				}
			}
			if c.order < 0 {
				probes = append(probes, Probe{dev.Name, fmt.Errorf("not in boot_devices (its hardware path is %s)", d.path)})
				continue
			}
		}
		if d.removable && !opts.AllowRemovable {
			probes = append(probes, Probe{dev.Name, fmt.Errorf("removable media, left out (hardware path %s; the image allows them with removable_media=allow)", d.path)})
			continue
		}
		out = append(out, c)
	}
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.order != b.order {
			return a.order < b.order
		}
		if a.path != b.path {
			return a.path < b.path
		}
		if a.part != b.part {
			return a.part < b.part
		}
		return a.dev.Name < b.dev.Name
	})
	return out, probes
}

// Missing returns the entries of opts.Devices that name none of devs, so that a caller can wait
// for a disk that is still being probed. sysfs is the root of sysfs, normally "/sys".
func Missing(sysfs string, devs block.BlockDevices, opts Options) []string {
	var found []sysDevice
	for _, dev := range devs {
		if d, err := readSysDevice(sysfs, dev.Name); err == nil {
			found = append(found, d)
		}
	}
	var out []string
	for _, want := range opts.Devices {
		ok := false
		for _, d := range found {
			ok = ok || matches(want, d)
		}
		if !ok {
			out = append(out, want)
		}
	}
	return out
}
