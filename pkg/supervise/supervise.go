// Package supervise keeps the console away from a shell while the boot program runs. The boot
// program (cmds/measuredboot) is u-root's uinit: when it ends, u-root's init starts a shell. So
// the program started by init is a small supervisor that runs the real boot as a child process in
// a session of its own and decides, from how that child ended, what follows: the recovery shell
// only when the child exited with RecoveryExitCode (the boot refused, the image allows the
// shell and the recovery event was measured, boot.ErrRecovery), a halt on every other end (a
// refusal, a Go panic, a stack overflow, an OOM kill, any signal, exit status 0, a child that
// could not start).
//
// The package decides and waits; it never halts or reboots: the caller passes those in.
package supervise

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
)

// Exit codes of the boot child. Go's runtime uses 2 for a panic or a fatal error (such as a stack
// overflow), so neither is 2; any code but RecoveryExitCode halts.
const (
	// RecoveryExitCode is the child's exit code when boot.Run returned boot.ErrRecovery: the
	// image allows the recovery shell and the recovery event was measured.
	RecoveryExitCode = 86
	// RefusedExitCode is the child's exit code after a refusal it has already printed.
	RefusedExitCode = 85
)

// ChildEnv is the environment variable that marks the boot child. Its value is the supervisor's
// process id, so that a value inherited from init (the kernel command line) cannot turn the
// process init started into an unsupervised child: see IsChild.
const ChildEnv = "MEASUREDBOOT_SUPERVISOR"

// ChildMarker returns the ChildEnv=pid entry that the supervisor with process id pid puts in its
// child's environment.
func ChildMarker(pid int) string { return ChildEnv + "=" + strconv.Itoa(pid) }

// IsChild says whether a process whose parent has process id ppid and whose ChildEnv value is
// marker (lookup's result) is a boot child: the marker must name its parent, and that parent
// must not be init (pid 1), which starts the supervisor.
func IsChild(marker string, ok bool, ppid int) bool {
	return ok && ppid > 1 && marker == strconv.Itoa(ppid)
}

// Action is what follows the end of the boot child.
type Action int

// Actions.
const (
	Halt  Action = iota // halt the machine (every end but the recovery one)
	Shell               // start the recovery shell (the child exited with RecoveryExitCode)
)

// String returns "halt" or "shell".
func (a Action) String() string {
	if a == Shell {
		return "shell"
	}
	return "halt"
}

// Decide says what follows the end of the boot child, from its state (nil when it never ran) and
// the error that starting or waiting for it returned, with a line for the console (no prefix, no
// newline) when the machine halts.
func Decide(state *os.ProcessState, err error) (Action, string) {
	var ee *exec.ExitError
	switch {
	case state == nil && errors.As(err, &ee):
		state = ee.ProcessState
	case state == nil && err != nil:
		return Halt, fmt.Sprintf("the boot program could not run (%v); halting", err)
	case state == nil:
		return Halt, "the boot program left no exit status; halting"
	}
	if state.Exited() {
		switch state.ExitCode() {
		case RecoveryExitCode:
			return Shell, ""
		case RefusedExitCode:
			return Halt, "halting"
		}
	}
	return Halt, fmt.Sprintf("the boot program ended (%v); halting", state)
}

// Supervisor runs the boot program as a child and then halts, or runs the recovery shell.
type Supervisor struct {
	// Out gets the one line ("measuredboot: ...") said before a halt.
	Out io.Writer
	// Halt halts the machine; at boot it never returns (tests return).
	Halt func()
	// Shell runs the recovery shell and returns when it ends; Run calls it only after the child
	// exited with RecoveryExitCode.
	Shell func() error
}

// Run starts boot (a command not yet started), waits for it to end, and decides with Decide. On
// Shell it runs s.Shell and then halts; on Halt it prints the reason and calls s.Halt. At boot Run
// does not return; when s.Halt returns (tests), Run returns what it decided and the reason.
func (s Supervisor) Run(boot *exec.Cmd) (Action, string) {
	var err error
	if err = boot.Start(); err == nil {
		err = boot.Wait()
	}
	act, why := Decide(boot.ProcessState, err)
	if act == Shell {
		if s.Shell == nil {
			why = "the image has no recovery shell; halting"
		} else if err := s.Shell(); err != nil {
			why = fmt.Sprintf("the recovery shell ended (%v); halting", err)
		} else {
			why = "the recovery shell ended; halting"
		}
	}
	fmt.Fprintf(s.Out, "measuredboot: %s\n", why)
	s.Halt()
	return act, why
}
