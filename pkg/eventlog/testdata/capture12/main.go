// Command capture12 is the /init that captured seabios-1.16.2-swtpm-tpm12.{bin,pcrs}: it mounts
// proc, sysfs and securityfs, prints the firmware log in hex between "BEGIN name size" and
// "END name" lines and the TPM 1.2 PCRs file as "PCRS " lines, then powers off. See
// ../README.md for how it is built and booted. It is a copy of pkg/ima/testdata/capture reduced
// to what a TPM 1.2 exposes (one pcrs file instead of pcr-<bank>/<index> files).
package main

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"fmt"
	"os"
	"syscall"
)

func dump(name, path string) {
	b, err := os.ReadFile(path)
	if err != nil {
		fmt.Printf("ERR %s %v\n", name, err)
		return
	}
	fmt.Printf("BEGIN %s %d\n", name, len(b))
	s := hex.EncodeToString(b)
	for len(s) > 0 {
		n := min(128, len(s))
		fmt.Println(s[:n])
		s = s[n:]
	}
	fmt.Printf("END %s\n", name)
}

func main() {
	os.MkdirAll("/proc", 0o755)
	os.MkdirAll("/sys", 0o755)
	syscall.Mount("proc", "/proc", "proc", 0, "")
	syscall.Mount("sysfs", "/sys", "sysfs", 0, "")
	syscall.Mount("securityfs", "/sys/kernel/security", "securityfs", 0, "")
	for _, f := range []string{"tpm_version_major", "device/caps", "device/enabled", "device/active", "device/owned"} {
		b, err := os.ReadFile("/sys/class/tpm/tpm0/" + f)
		fmt.Printf("INFO %s %q %v\n", f, b, err)
	}
	dump("bios", "/sys/kernel/security/tpm0/binary_bios_measurements")
	for _, p := range []string{"/sys/class/tpm/tpm0/pcrs", "/sys/class/tpm/tpm0/device/pcrs"} {
		b, err := os.ReadFile(p)
		if err != nil {
			fmt.Printf("ERR %s %v\n", p, err)
			continue
		}
		sc := bufio.NewScanner(bytes.NewReader(b))
		for sc.Scan() {
			fmt.Printf("PCRS %s\n", sc.Text())
		}
		break
	}
	syscall.Sync()
	syscall.Reboot(syscall.LINUX_REBOOT_CMD_POWER_OFF)
}
