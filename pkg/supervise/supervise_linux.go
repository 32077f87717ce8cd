package supervise

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"runtime/debug"
	"strconv"

	"golang.org/x/sys/unix"
)

// ChildMaxStack is the most stack one goroutine of the boot child may use: Go's default is 1 GB,
// enough for a deep recursion to bring the OOM killer first; the boot needs a small fraction of
// this, so a runaway recursion dies early with a fatal error (and the supervisor halts).
const ChildMaxStack = 64 << 20

// ConsoleSignals are the signals a console or a hang-up can send, or that a kill(1) of the boot
// would use: Ctrl-C (SIGINT), Ctrl-\ (SIGQUIT), Ctrl-Z (SIGTSTP), background terminal I/O (SIGTTIN,
// SIGTTOU), a hang-up (SIGHUP) and SIGTERM. The supervisor and the boot child ignore them all.
func ConsoleSignals() []os.Signal {
	return []os.Signal{unix.SIGINT, unix.SIGQUIT, unix.SIGTERM, unix.SIGTSTP, unix.SIGTTIN, unix.SIGTTOU, unix.SIGHUP}
}

// IgnoreConsoleSignals makes this process ignore ConsoleSignals. An ignored signal stays ignored
// across fork and exec, but Go's runtime installs its own handlers at start, so each Go process
// (the supervisor, the child) calls this itself, first.
func IgnoreConsoleSignals() { signal.Ignore(ConsoleSignals()...) }

// SetOOMScoreAdj writes adj to /proc/self/oom_score_adj: -1000 keeps the supervisor from the OOM
// killer (lowering needs CAP_SYS_RESOURCE); the child, which inherits the supervisor's value, sets
// 0 back so that it, not the machine, dies when memory runs out.
func SetOOMScoreAdj(adj int) error {
	const p = "/proc/self/oom_score_adj"
	if err := os.WriteFile(p, []byte(strconv.Itoa(adj)), 0); err != nil {
		return fmt.Errorf("set %s to %d: %w", p, adj, err)
	}
	return nil
}

// LimitChild is the first thing the boot child does: it ignores ConsoleSignals, lowers its stack
// limit to ChildMaxStack and makes itself killable by the OOM killer again. It returns the error of
// the last step, which does not stop the boot.
func LimitChild() error {
	IgnoreConsoleSignals()
	debug.SetMaxStack(ChildMaxStack)
	return SetOOMScoreAdj(0)
}

// Command returns the boot child, not started: exe run with args (args[0] is the name the child
// sees: in the image's busybox binary, /proc/self/exe, it picks the command) and env, in a new
// session with no controlling terminal, so that no key pressed on the console signals it. Its
// standard input is /dev/null; its output goes to stdout and stderr.
func Command(exe string, args, env []string, stdout, stderr io.Writer) *exec.Cmd {
	return &exec.Cmd{
		Path:        exe,
		Args:        args,
		Env:         env,
		Stdout:      stdout,
		Stderr:      stderr,
		SysProcAttr: &unix.SysProcAttr{Setsid: true},
	}
}
