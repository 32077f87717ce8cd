// Command guestinit is PID 1 of the image scripts/guest-test.sh boots under QEMU: it mounts
// /proc, /sys, /dev and /tmp, loads the modules listed in /modules/order, runs every test binary
// in /tests with the arguments in /tests/args (default -test.v) and MEASUREDBOOT_GUEST=1 (tests that need the boot kernel fail instead of taking
// their host branch), prints "guest-test: PASS name" or "guest-test: FAIL name" for each, and
// powers the machine off.
package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

func main() {
	for _, m := range []struct{ src, dir, fs string }{
		{"proc", "/proc", "proc"}, {"sysfs", "/sys", "sysfs"}, {"devtmpfs", "/dev", "devtmpfs"}, {"tmpfs", "/tmp", "tmpfs"},
	} {
		os.MkdirAll(m.dir, 0o755)
		if err := unix.Mount(m.src, m.dir, m.fs, 0, ""); err != nil {
			fmt.Printf("guest-test: FAIL mount %s: %v\n", m.dir, err)
		}
	}
	order, _ := os.ReadFile("/modules/order")
	for _, name := range strings.Fields(string(order)) {
		if err := load(filepath.Join("/modules", name)); err != nil {
			fmt.Printf("guest-test: FAIL module %s: %v\n", name, err)
		}
	}
	args := []string{"-test.v"}
	if b, err := os.ReadFile("/tests/args"); err == nil {
		args = strings.Fields(string(b))
	}
	tests, _ := filepath.Glob("/tests/*.test")
	for _, t := range tests {
		cmd := exec.Command(t, args...)
		cmd.Dir = "/tests"
		cmd.Env = append(os.Environ(), "MEASUREDBOOT_GUEST=1", "TMPDIR=/tmp")
		cmd.Stdout, cmd.Stderr = os.Stdout, os.Stdout
		verdict := "PASS"
		if err := cmd.Run(); err != nil {
			verdict = "FAIL"
		}
		fmt.Printf("guest-test: %s %s\n", verdict, filepath.Base(t))
	}
	fmt.Println("guest-test: done")
	unix.Sync()
	unix.Reboot(unix.LINUX_REBOOT_CMD_POWER_OFF)
}

func load(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := unix.FinitModule(int(f.Fd()), "", 0); err != nil && err != unix.EEXIST {
		return err
	}
	return nil
}
