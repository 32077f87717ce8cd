// Command target is the demo system that measuredboot kexecs into: the init of a small initramfs.
// It reads the logs measuredboot handed over, reads the PCRs from the TPM through sysfs, replays the
// TCG log for every bank and prints the result per PCR, checks that the command line it was booted
// with is the one that was measured, with measuredboot.unseal=DEV unseals the secret sealed on
// that block device (pkg/seal), with measuredboot.attest=NONCE (hex) writes an attestation
// (pkg/attest) for the host's verifier to its data channel, and powers off. The QEMU tests judge
// its console. Booted with
// measuredboot.firmware-log on the command line, it prints the firmware's event log instead.
package main

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/measuredboot/measuredboot/pkg/eventlog"
	"github.com/measuredboot/measuredboot/pkg/handover"
	"github.com/measuredboot/measuredboot/pkg/ima"
	"github.com/measuredboot/measuredboot/pkg/measure"
)

func main() {
	for _, m := range []struct{ src, dst, typ string }{
		{"proc", "/proc", "proc"}, {"sysfs", "/sys", "sysfs"}, {"devtmpfs", "/dev", "devtmpfs"},
	} {
		os.MkdirAll(m.dst, 0o755)
		unix.Mount(m.src, m.dst, m.typ, 0, "")
	}
	if cl, _ := os.ReadFile("/proc/cmdline"); slices.Contains(strings.Fields(string(cl)), "measuredboot.firmware-log") {
		// Booted directly by the firmware, to show the host the firmware's log for this machine
		// (mbctl predict -eventlog starts from it); there is nothing handed over to check.
		os.MkdirAll("/sys/kernel/security", 0o755)
		unix.Mount("securityfs", "/sys/kernel/security", "securityfs", 0, "")
		dump(dataChannel(), "/sys/kernel/security/tpm0", "binary_bios_measurements")
		unix.Sync()
		unix.Reboot(unix.LINUX_REBOOT_CMD_POWER_OFF)
	}
	err := check(os.Stdout, dataChannel(), "/"+handover.Dir, "/sys/class/tpm/tpm0", "/proc/cmdline")
	if cl, _ := os.ReadFile("/proc/cmdline"); err == nil && slices.Contains(strings.Fields(string(cl)), "measuredboot.check-initrd=debian") {
		err = checkDebianInitrd(os.Stdout, "/")
	}
	if cl, _ := os.ReadFile("/proc/cmdline"); err == nil {
		for _, f := range strings.Fields(string(cl)) {
			if dev, ok := strings.CutPrefix(f, "measuredboot.unseal="); ok {
				unsealFrom(os.Stdout, dev)
			}
			// A verifier's nonce: attest to what was handed over (mbctl verify -attestation).
			if nonce, ok := strings.CutPrefix(f, "measuredboot.attest="); ok {
				if aerr := attestTo(os.Stdout, dataChannel(), nonce, "/"+handover.Dir, "/dev/tpmrm0"); aerr != nil {
					err = aerr
				}
			}
		}
	}
	if err != nil {
		fmt.Printf("target: FAIL: %v\n", err)
	} else {
		fmt.Println("target: PASS")
	}
	unix.Sync()
	unix.Reboot(unix.LINUX_REBOOT_CMD_POWER_OFF)
}

// dataChannel is where the target writes what it hands to the host (the logs in base64, every
// PCR value): the second serial port when the machine has one (qemu-test.sh gives QEMU a second
// -serial writing to a file), else the console. The console stays for people.
func dataChannel() io.Writer {
	if f, err := os.OpenFile("/dev/ttyS1", os.O_WRONLY|unix.O_NOCTTY, 0); err == nil {
		// An 8250 port without a UART behind it opens but fails every write: probe it.
		if _, err := f.Write([]byte("target: data channel\n")); err == nil {
			return f
		}
		f.Close()
	}
	return os.Stdout
}

// check replays the handed-over TCG log in logDir against the PCRs under tpmDir, and checks the
// measured command line against the one in cmdlineFile. The console (out) gets one line per bank
// when it replays, every PCR of a bank that does not; data gets every PCR value and the logs.
func check(out, data io.Writer, logDir, tpmDir, cmdlineFile string) error {
	b, err := os.ReadFile(filepath.Join(logDir, "tcg.log"))
	if err != nil {
		return fmt.Errorf("no handed-over log: %w", err)
	}
	l, err := eventlog.Parse(b)
	if err != nil {
		return fmt.Errorf("handed-over log: %w", err)
	}
	fmt.Fprintf(out, "target: handed-over TCG log: %d bytes, %d events, banks %v\n", len(b), len(l.Events), l.Banks())
	replay, err := l.Replay()
	if err != nil {
		return fmt.Errorf("replay: %w", err)
	}
	var bad []string
	checked := 0
	for _, alg := range l.Banks() {
		pcrs := make([]int, 0, len(replay[alg]))
		for p := range replay[alg] {
			pcrs = append(pcrs, int(p))
		}
		sort.Ints(pcrs)
		var lines []string
		bankBad := false
		for _, p := range pcrs {
			want := replay[alg][uint32(p)]
			got, err := readPCR(tpmDir, alg, p)
			if err != nil {
				return err
			}
			verdict := "match"
			if !bytes.Equal(got, want) {
				verdict, bankBad = "MISMATCH", true
				bad = append(bad, fmt.Sprintf("%v pcr %d", alg, p))
			}
			checked++
			line := fmt.Sprintf("target: %-6v pcr %2d replay %x %s tpm %x\n", alg, p, want[:8], verdict, got)
			lines = append(lines, line)
			fmt.Fprint(data, line)
		}
		if bankBad {
			for _, line := range lines {
				fmt.Fprint(out, line)
			}
		} else if len(pcrs) > 0 {
			fmt.Fprintf(out, "target: %-6v PCRs %d-%d: the replay equals the TPM's values\n", alg, pcrs[0], pcrs[len(pcrs)-1])
		}
	}
	if len(bad) > 0 {
		return fmt.Errorf("replay does not match the TPM: %s", strings.Join(bad, ", "))
	}
	fmt.Fprintf(out, "target: replay matches the TPM: %d banks, %d PCR values\n", len(l.Banks()), checked)
	if err := checkSilence(out, l, replay, tpmDir); err != nil {
		return err
	}
	if err := checkClosed(out, l); err != nil {
		return err
	}
	printIMA(out, filepath.Join(logDir, "ima", "ascii_runtime_measurements_sha256"))
	// The handed-over files, for checkers on the host (tpm2_eventlog, evmctl, mbctl verify).
	for _, f := range []string{"tcg.log", "ima/binary_runtime_measurements", "ima/binary_runtime_measurements_sha256", "ima/ascii_runtime_measurements_sha256"} {
		dump(data, logDir, f)
	}
	return checkCmdline(out, l, cmdlineFile)
}

// checkSilence applies verify's rule to the TPM this system runs on: every PCR of every bank of the
// log whose value is not a reset value (all zeros; all ones for 17-22) must be one the log
// replays. PCR 10 is left out: this kernel's own IMA extends it from its first instruction on,
// and its own list (/sys/kernel/security/ima) is what accounts for it.
func checkSilence(out io.Writer, l *eventlog.Log, replay eventlog.PCRs, tpmDir string) error {
	var bad []string
	for _, alg := range l.Banks() {
		for p := 0; p < eventlog.NumPCRs; p++ {
			if _, ok := replay[alg][uint32(p)]; ok || p == 10 {
				continue
			}
			v, err := readPCR(tpmDir, alg, p)
			if err != nil {
				return err
			}
			if len(v) > 0 && (bytes.Count(v, []byte{0}) == len(v) || bytes.Count(v, []byte{0xff}) == len(v)) {
				continue
			}
			bad = append(bad, fmt.Sprintf("%v PCR %d = %x", alg, p, v))
		}
	}
	if len(bad) > 0 {
		return fmt.Errorf("the TPM holds values the handed-over log says nothing of (%s): it is not the story of this boot", strings.Join(bad, ", "))
	}
	fmt.Fprintln(out, "target: every other PCR (but 10, this kernel's IMA) is at its reset value")
	return nil
}

// checkClosed requires what makes a measuredboot log a boot: PCRs 8 and 9 each end with
// measuredboot's separator (a recovery event after them, or a log cut before them, is not a boot).
// In the grub format, which has no separators there, the last event in PCRs 8 and 9 is the
// booted entry's kernel_cmdline.
func checkClosed(out io.Writer, l *eventlog.Log) error {
	if measure.IsGRUBLog(l) {
		if _, _, closed := measure.GRUBClosed(l); !closed {
			return errors.New("event_format=grub: the last event in PCRs 8 and 9 is not the kernel_cmdline: the log was cut or continued")
		}
		fmt.Fprintln(out, "target: event_format=grub: PCRs 8 and 9 end with the kernel_cmdline event")
		return nil
	}
	last := map[uint32]string{}
	for _, e := range l.Events {
		if e.Type != eventlog.EvIPL && e.Type != eventlog.EvSeparator {
			continue
		}
		f, err := ima.ParseTemplateData(e.Data)
		if err != nil || len(f) < 2 {
			continue
		}
		last[e.PCR] = strings.TrimSuffix(string(f[1]), "\x00")
	}
	for _, p := range []uint32{8, 9} {
		if last[p] != "measuredboot.separator" {
			return fmt.Errorf("PCR %d's last measurement is %q, not measuredboot's separator: the log was cut or continued", p, last[p])
		}
	}
	fmt.Fprintln(out, "target: PCRs 8 and 9 end with measuredboot's separators")
	return nil
}

// printIMA prints the PCR, template and name of each handed-over IMA list entry.
func printIMA(out io.Writer, path string) {
	b, err := os.ReadFile(path)
	if err != nil {
		fmt.Fprintf(out, "target: no IMA list: %v\n", err)
		return
	}
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		if f := strings.Fields(line); len(f) >= 5 {
			fmt.Fprintf(out, "target: ima %s %s %s\n", f[0], f[2], f[4])
		}
	}
}

// checkCmdline finds the last measured kexec-cmdline (an ima-buf event) and compares it with the
// command line this kernel was booted with.
func checkCmdline(out io.Writer, l *eventlog.Log, cmdlineFile string) error {
	var measured []byte
	found := false
	for _, e := range l.Events {
		if e.Type != eventlog.EvIPL {
			continue
		}
		if t, ok := bytes.CutPrefix(e.Data, []byte(measure.GRUBCmdline)); ok && e.PCR == measure.GRUBTextPCR {
			// The grub format: each bank's digest is the hash of the text (the replay checked
			// the digests against the TPM, this checks the text against the digests).
			if err := measure.CheckGRUBText(e); err != nil {
				return fmt.Errorf("event %d, the kernel_cmdline: %w", e.Index, err)
			}
			measured, found = t, true
			continue
		}
		f, err := ima.ParseTemplateData(e.Data)
		if err != nil || len(f) != 3 || string(f[1]) != "kexec-cmdline\x00" {
			continue
		}
		measured, found = f[2], true
	}
	if !found {
		return errors.New("the log has no kexec-cmdline measurement: the command line this kernel runs with was not measured")
	}
	got, err := os.ReadFile(cmdlineFile)
	if err != nil {
		return err
	}
	got = bytes.TrimRight(got, "\n\x00 ")
	if !bytes.Equal(got, bytes.TrimRight(measured, "\x00 ")) {
		return fmt.Errorf("booted with cmdline %q, but %q was measured", got, measured)
	}
	fmt.Fprintf(out, "target: cmdline %q is the measured one\n", got)
	return nil
}

// readPCR reads one PCR value from the TPM's sysfs directory (pcr-sha256/9 holds hex).
func readPCR(tpmDir string, alg eventlog.Alg, pcr int) ([]byte, error) {
	p := filepath.Join(tpmDir, "pcr-"+alg.String(), strconv.Itoa(pcr))
	b, err := os.ReadFile(p)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%s: the TPM has no %v bank here", p, alg)
	} else if err != nil {
		return nil, err
	}
	v, err := hex.DecodeString(strings.TrimSpace(string(b)))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", p, err)
	}
	return v, nil
}

// dump prints a handed-over file in base64 between marker lines.
func dump(out io.Writer, dir, name string) {
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		fmt.Fprintf(out, "target: no %s: %v\n", name, err)
		return
	}
	frame(out, name, b)
}

// checkDebianInitrd checks, in a root unpacked from Debian 12's own initrd with this target and
// measuredboot's archives (the firmware files, the logs) appended, that nothing appended replaced
// a path of the measured initramfs: /lib is still Debian's link to usr/lib, its modules are still
// there, and the handed-over firmware file is readable under /lib/firmware.
func checkDebianInitrd(out io.Writer, root string) error {
	lib := filepath.Join(root, "lib")
	if dst, err := os.Readlink(lib); err != nil || dst != "usr/lib" {
		return fmt.Errorf("%s is no longer Debian's link to usr/lib (readlink: %q, %v): an appended archive replaced it", lib, dst, err)
	}
	fmt.Fprintln(out, "target: /lib is still the link to usr/lib")
	var uts unix.Utsname
	if err := unix.Uname(&uts); err != nil {
		return fmt.Errorf("uname: %w", err)
	}
	rel := unix.ByteSliceToString(uts.Release[:])
	dep := filepath.Join(root, "lib", "modules", rel, "modules.dep")
	b, err := os.ReadFile(dep)
	if err != nil {
		return fmt.Errorf("Debian's modules are gone: %w", err)
	}
	kos, _ := filepath.Glob(filepath.Join(root, "lib", "modules", rel, "kernel", "*", "*", "*.ko"))
	fmt.Fprintf(out, "target: /lib/modules/%s/modules.dep: %d modules listed, %d .ko files found\n", rel, strings.Count(string(b), ".ko:"), len(kos))
	fw := filepath.Join(root, "lib", "firmware", "measuredboot", "test.bin")
	c, err := os.ReadFile(fw)
	if err != nil {
		return fmt.Errorf("the handed-over firmware file: %w", err)
	}
	fmt.Fprintf(out, "target: firmware measuredboot/test.bin: %d bytes at %s\n", len(c), fw)
	return nil
}
