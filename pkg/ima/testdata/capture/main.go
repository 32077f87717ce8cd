package main

import (
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
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
		n := 128
		if n > len(s) {
			n = len(s)
		}
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
	sec := "/sys/kernel/security"
	a, _ := os.ReadFile(sec + "/ima/binary_runtime_measurements")
	dump("bios", sec+"/tpm0/binary_bios_measurements")
	dump("ima_bin", sec+"/ima/binary_runtime_measurements")
	dump("ima_ascii", sec+"/ima/ascii_runtime_measurements")
	ms, _ := filepath.Glob("/sys/class/tpm/tpm0/pcr-*/*")
	for _, m := range ms {
		b, _ := os.ReadFile(m)
		fmt.Printf("PCR %s %s %s", filepath.Base(filepath.Dir(m))[4:], filepath.Base(m), b)
	}
	b, _ := os.ReadFile(sec + "/ima/binary_runtime_measurements")
	fmt.Printf("CONSISTENT %v %d %d\n", len(a) == len(b), len(a), len(b))
	dump("ima_bin_after", sec+"/ima/binary_runtime_measurements")
	ls, _ := os.ReadDir(sec + "/ima")
	for _, l := range ls {
		fmt.Println("IMAFILE", l.Name())
	}
	syscall.Sync()
	syscall.Reboot(syscall.LINUX_REBOOT_CMD_POWER_OFF)
}
