package kexec

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// Load loads kernel, initrd (may be nil) and cmdline into the running kernel with
// kexec_file_load(2). Both buffers must be sealed.
func Load(kernel, initrd *Buffer, cmdline string) error {
	for _, b := range []*Buffer{kernel, initrd} {
		if b != nil && !b.sealed {
			return fmt.Errorf("kexec: memfd:%s is not sealed", b.Name)
		}
	}
	initrdFd, flags, iname := -1, 0, "none"
	if initrd == nil {
		flags = unix.KEXEC_FILE_NO_INITRAMFS
	} else {
		initrdFd, iname = initrd.Fd(), initrd.Name
	}
	if err := unix.KexecFileLoad(kernel.Fd(), initrdFd, cmdline, flags); err != nil {
		return fmt.Errorf("kexec_file_load(kernel=%s, initrd=%s, cmdline=%q): %w", kernel.Name, iname, cmdline, err)
	}
	return nil
}

// Reboot jumps into the kernel that Load loaded. It does not return on success.
func Reboot() error {
	if err := unix.Reboot(unix.LINUX_REBOOT_CMD_KEXEC); err != nil {
		return fmt.Errorf("reboot(LINUX_REBOOT_CMD_KEXEC): %w", err)
	}
	return nil
}
