package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/measuredboot/measuredboot/pkg/boot"
	"github.com/measuredboot/measuredboot/pkg/supervise"
)

// bootEnv makes the test binary play measuredboot: the supervisor, as init starts it, and, marked
// by the supervisor, the boot child, whose boot.Run is replaced by the end bootEnv names.
const bootEnv = "MEASUREDBOOT_TEST_BOOT"

// helperArgs run the test binary as TestHelperBoot.
var helperArgs = []string{"measuredboot", "-test.run=^TestHelperBoot$"}

// TestHelperBoot is the supervisor and the boot child of TestSuperviseBoot.
func TestHelperBoot(t *testing.T) {
	mode := os.Getenv(bootEnv)
	if mode == "" {
		t.Skip("only the supervisor and the child of the other tests")
	}
	marker, ok := os.LookupEnv(supervise.ChildEnv)
	if supervise.IsChild(marker, ok, os.Getppid()) {
		// Outside the test's goroutine, so that a panic ends the process as it would at boot.
		go func() { os.Exit(runChild(os.Stdout, fakeBoot(mode))) }()
		select {}
	}
	if mode == "shellcheck" { // the recovery shell, started by the supervisor
		st, _ := os.ReadFile("/proc/self/status")
		for _, l := range strings.Split(string(st), "\n") {
			if v, ok := strings.CutPrefix(l, "SigIgn:"); ok {
				ign, _ := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
				fmt.Printf("shell: SIGINT ignored: %v\n", ign&(1<<(unix.SIGINT-1)) != 0)
			}
		}
		os.Exit(0)
	}
	shell := func() error { fmt.Println("SHELL"); return nil }
	if mode == "realshell" {
		os.Setenv(bootEnv, "shellcheck")
		shell = func() error { return recoveryShell(os.Args[0], []string{"gosh", "-test.run=^TestHelperBoot$"}) }
	}
	superviseBoot(bootChild{exe: os.Args[0], args: helperArgs, stdout: os.Stdout, stderr: os.Stderr},
		func() { fmt.Println("HALT"); os.Exit(0) }, shell)
	os.Exit(5) // superviseBoot returned although halt did not
}

// fakeBoot stands for boot.Run in the child.
func fakeBoot(mode string) func(context.Context, io.Writer) error {
	return func(ctx context.Context, out io.Writer) error {
		switch mode {
		case "panic":
			var m map[string]int
			m["a bug"]++
		case "stack":
			return errors.New(fmt.Sprint(recurse(1)))
		case "recovery", "realshell", "shellcheck":
			return fmt.Errorf("wrapped: %w", boot.ErrRecovery)
		case "refusal":
			return errors.New("refused boot: no bootable entry")
		case "slow":
			fmt.Fprintln(out, "ready")
			time.Sleep(2 * time.Second)
			return boot.ErrRecovery
		}
		return nil
	}
}

func recurse(n int) int {
	var pad [64]byte
	pad[n%64] = byte(n)
	return recurse(n+1) + int(pad[0])
}

// supervisor returns the test binary as the process init starts, running the boot child in mode.
func supervisor(mode string, stdout, stderr io.Writer) *exec.Cmd {
	cmd := exec.Command(os.Args[0], helperArgs[1:]...)
	cmd.Env = append(withoutMarker(os.Environ()), bootEnv+"="+mode)
	cmd.Stdout, cmd.Stderr = stdout, stderr
	return cmd
}

// TestSuperviseBoot: whatever way the boot ends, only boot.ErrRecovery leads to the shell; all
// else halts with one line.
func TestSuperviseBoot(t *testing.T) {
	for _, tc := range []struct {
		mode, out, stderr string
	}{
		{"panic", "measuredboot: the boot program ended (exit status 2); halting\nHALT\n", "assignment to entry in nil map"},
		{"stack", "measuredboot: the boot program ended (exit status 2); halting\nHALT\n", "stack exceeds 67108864-byte limit"},
		{"refusal", "measuredboot: refused boot: no bootable entry\nmeasuredboot: halting\nHALT\n", ""},
		{"nil", "measuredboot: the boot flow ended without booting and without a reason\nmeasuredboot: halting\nHALT\n", ""},
		{"recovery", "SHELL\nmeasuredboot: the recovery shell ended; halting\nHALT\n", ""},
		{"realshell", "shell: SIGINT ignored: false\nmeasuredboot: the recovery shell ended; halting\nHALT\n", ""},
	} {
		t.Run(tc.mode, func(t *testing.T) {
			var out, stderr bytes.Buffer
			if err := supervisor(tc.mode, &out, &stderr).Run(); err != nil {
				t.Fatalf("supervisor: %v\n%s%.2000s", err, out.String(), stderr.String())
			}
			got := out.String()
			if i := strings.Index(got, "measuredboot: warning: "); i >= 0 && !strings.Contains(tc.out, "warning") {
				got = got[:i] + got[strings.Index(got[i:], "\n")+i+1:] // no CAP_SYS_RESOURCE here
			}
			if got != tc.out {
				t.Errorf("boot ending %s: console\n%s\nwant\n%s", tc.mode, got, tc.out)
			}
			if !strings.Contains(stderr.String(), tc.stderr) {
				t.Errorf("boot ending %s: stderr lacks %q:\n%.2000s", tc.mode, tc.stderr, stderr.String())
			}
		})
	}
}

// TestSupervisorIgnoresConsole sends the supervisor every console signal while the boot runs:
// the boot goes on to its end.
func TestSupervisorIgnoresConsole(t *testing.T) {
	var stderr bytes.Buffer
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd := supervisor("slow", pw, &stderr)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pw.Close()
	defer cmd.Process.Kill()
	r := bufio.NewReader(pr)
	var lines []string
	for {
		l, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("supervisor said %q (%v), no ready", lines, err)
		}
		if lines = append(lines, l); l == "ready\n" {
			break
		}
	}
	for _, sig := range supervise.ConsoleSignals() {
		if err := cmd.Process.Signal(sig); err != nil {
			t.Fatalf("signal %v: %v", sig, err)
		}
	}
	rest, _ := io.ReadAll(r)
	timer := time.AfterFunc(20*time.Second, func() { cmd.Process.Kill() })
	defer timer.Stop()
	if err := cmd.Wait(); err != nil || !strings.HasSuffix(string(rest), "SHELL\nmeasuredboot: the recovery shell ended; halting\nHALT\n") {
		t.Errorf("after the console signals: %v, console %q (stderr %q); want the boot's own end", err, rest, stderr.String())
	}
}

func TestExitCode(t *testing.T) {
	for _, tc := range []struct {
		err  error
		code int
		out  string
	}{
		{boot.ErrRecovery, supervise.RecoveryExitCode, ""},
		{fmt.Errorf("x: %w", boot.ErrRecovery), supervise.RecoveryExitCode, ""},
		{errors.New("refused boot: no entry"), supervise.RefusedExitCode, "measuredboot: refused boot: no entry\n"},
		{nil, supervise.RefusedExitCode, "measuredboot: the boot flow ended without booting and without a reason\n"},
	} {
		var out bytes.Buffer
		if code := exitCode(&out, tc.err); code != tc.code || out.String() != tc.out {
			t.Errorf("exitCode(%v) = %d, %q; want %d, %q", tc.err, code, out.String(), tc.code, tc.out)
		}
	}
}
