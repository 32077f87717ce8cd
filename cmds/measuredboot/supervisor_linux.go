package main

import (
	"context"
	"fmt"
	"io"
	"log"
	"os"
	"os/exec"
	"os/signal"
	"slices"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/measuredboot/measuredboot/pkg/ima"
	"github.com/measuredboot/measuredboot/pkg/supervise"
)

// selfExe is this program's binary: in the image the busybox binary, which runs the command its
// argv[0] names.
const selfExe = "/proc/self/exe"

// bootChild is how the supervisor starts the boot child.
type bootChild struct {
	exe            string
	args           []string // args[0] picks the busybox command: "measuredboot"
	stdout, stderr io.Writer
}

// superviseBoot is the process init started: it ignores the console's signals, keeps itself from
// the OOM killer and runs the boot child to its end, then halts or, after the recovery exit code
// only, runs shell and halts. It returns only when halt does (tests).
func superviseBoot(c bootChild, halt func(), shell func() error) (supervise.Action, string) {
	supervise.IgnoreConsoleSignals()
	if err := supervise.SetOOMScoreAdj(-1000); err != nil {
		fmt.Fprintf(c.stdout, "measuredboot: warning: %v\n", err)
	}
	env := append(withoutMarker(os.Environ()), supervise.ChildMarker(os.Getpid()))
	s := supervise.Supervisor{Out: c.stdout, Halt: halt, Shell: shell}
	return s.Run(supervise.Command(c.exe, c.args, env, c.stdout, c.stderr))
}

// withoutMarker returns env without supervise.ChildEnv.
func withoutMarker(env []string) []string {
	return slices.DeleteFunc(slices.Clone(env), func(kv string) bool {
		return strings.HasPrefix(kv, supervise.ChildEnv+"=")
	})
}

// runChild is the boot child: it limits itself (supervise.LimitChild), runs the boot and returns
// its exit code (exitCode).
func runChild(out io.Writer, run func(context.Context, io.Writer) error) int {
	if err := supervise.LimitChild(); err != nil {
		fmt.Fprintf(out, "measuredboot: warning: %v\n", err)
	}
	// u-root's parsers log through the standard logger, and what they log comes from the disk
	// (the GRUB parser prints every configuration text it reads): keep their errors and
	// warnings, escaped as every console line is, and drop the rest.
	log.SetFlags(0)
	log.SetOutput(libraryLog{out})
	return exitCode(out, run(context.Background(), out))
}

// libraryLog is the standard logger's output in the boot child: lines that report an error or a
// warning, with control characters escaped (ima.EscapeString) and a prefix; nothing else.
type libraryLog struct{ w io.Writer }

func (l libraryLog) Write(p []byte) (int, error) {
	for _, line := range strings.Split(strings.TrimRight(string(p), "\n"), "\n") {
		t := strings.ToLower(strings.TrimSpace(line))
		if strings.HasPrefix(t, "error") || strings.HasPrefix(t, "warning") {
			fmt.Fprintf(l.w, "measuredboot: u-root: %s\n", ima.EscapeString(line))
		}
	}
	return len(p), nil
}

// recoveryShell runs exe with args (the busybox's shell) on the console and waits for it. The
// shell gets the console's signals back (Ctrl-C works in it): the supervisor catches them, rather
// than ignoring them, while it starts the shell, and an exec resets a caught signal to its default
// where it keeps an ignored one ignored. The supervisor still does not die of them.
func recoveryShell(exe string, args []string) error {
	caught := make(chan os.Signal, 1)
	signal.Notify(caught, supervise.ConsoleSignals()...)
	defer supervise.IgnoreConsoleSignals()
	cmd := &exec.Cmd{Path: exe, Args: args, Env: withoutMarker(os.Environ()),
		Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr}
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("recovery shell %s: %w", args[0], err)
	}
	return nil
}

// halt never returns: it halts the machine (sync, reboot(LINUX_REBOOT_CMD_HALT)), and waits
// should the call fail.
func halt() {
	unix.Sync()
	for {
		unix.Reboot(unix.LINUX_REBOOT_CMD_HALT)
		time.Sleep(time.Hour)
	}
}
