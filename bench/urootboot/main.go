// Command urootboot is make bench's baseline boot program: u-root's own local boot path, the
// library calls its boot command makes (localboot.Localboot, OSImage.Load, kexec), without the
// menu and its 10-second timeout, after loading the same kernel modules measuredboot loads and
// waiting for block devices the same way. It prints the time from its start to the kexec on the
// guest's monotonic clock in measuredboot's "time: ...; total" format, so that the benchmark
// compares like with like. It measures nothing and is never part of a product image.
package main

import (
	"fmt"
	"os"
	"time"

	"github.com/u-root/u-root/pkg/boot"
	"github.com/u-root/u-root/pkg/boot/localboot"
	"github.com/u-root/u-root/pkg/mount"
	"github.com/u-root/u-root/pkg/mount/block"
	"github.com/u-root/u-root/pkg/ulog"
	"golang.org/x/sys/unix"

	"github.com/measuredboot/measuredboot/pkg/kmod"
)

func main() {
	start := time.Now()
	if err := run(start); err != nil {
		fmt.Printf("uroot-boot: %v\n", err)
		unix.Reboot(unix.LINUX_REBOOT_CMD_HALT)
	}
}

func run(start time.Time) error {
	n, err := kmod.LoadList("/etc/measuredboot/modules")
	if err != nil {
		fmt.Printf("uroot-boot: warning: kernel modules: %v\n", err)
	}
	mods := time.Since(start)
	var devs block.BlockDevices
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if d, err := block.GetBlockDevices(); err == nil {
			devs = d.FilterZeroSize()
		}
		if len(devs) > 0 || time.Now().After(deadline) {
			break
		}
	}
	pool := &mount.Pool{}
	imgs, err := localboot.Localboot(ulog.Null, devs, pool)
	if err != nil {
		return err
	}
	if len(imgs) == 0 {
		return fmt.Errorf("no boot entry on %v", devs)
	}
	t := time.Now()
	if err := imgs[0].Load(); err != nil {
		return fmt.Errorf("load %s: %w", imgs[0].Label(), err)
	}
	fmt.Printf("uroot-boot: loaded %d modules; booting %s\n", n, imgs[0].Label())
	fmt.Printf("uroot-boot: time: modules %.3fs, discover %.3fs, load %.3fs; total %.3fs\n",
		mods.Seconds(), t.Sub(start).Seconds()-mods.Seconds(), time.Since(t).Seconds(), time.Since(start).Seconds())
	if err := pool.UnmountAll(mount.MNT_DETACH); err != nil {
		fmt.Fprintf(os.Stdout, "uroot-boot: unmount: %v\n", err)
	}
	return boot.Execute()
}
