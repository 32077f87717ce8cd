package supervise

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// modeEnv switches the test binary, run again by child, into one of the boot child's ends.
const modeEnv = "SUPERVISE_TEST_CHILD"

// TestHelperChild is the boot child when the test binary runs as one: it ends as modeEnv says.
func TestHelperChild(t *testing.T) {
	mode := os.Getenv(modeEnv)
	if mode == "" {
		t.Skip("only the child of the other tests")
	}
	switch mode {
	case "panic":
		LimitChild()
		panic("a bug in the boot")
	case "sigkill": // what the OOM killer sends
		unix.Kill(os.Getpid(), unix.SIGKILL)
		time.Sleep(time.Minute)
	case "exit0":
		os.Exit(0)
	case "recovery":
		os.Exit(RecoveryExitCode)
	case "refused":
		os.Exit(RefusedExitCode)
	case "stack":
		LimitChild()
		fmt.Println(recurse(1))
	case "signals":
		// Survive every console signal, then say so with the recovery code.
		if err := LimitChild(); err != nil {
			fmt.Println(err)
		}
		fmt.Println("ready")
		time.Sleep(2 * time.Second)
		os.Exit(RecoveryExitCode)
	case "session":
		// A new session, led by the child, without a controlling terminal.
		sid, err := unix.Getsid(0)
		_, ttyErr := os.Open("/dev/tty")
		if err == nil && sid == os.Getpid() && ttyErr != nil {
			os.Exit(RecoveryExitCode)
		}
		fmt.Printf("sid %d (%v), pid %d, /dev/tty: %v\n", sid, err, os.Getpid(), ttyErr)
		os.Exit(1)
	}
	os.Exit(3)
}

// recurse never ends: a runaway recursion in the boot.
func recurse(n int) int {
	var pad [64]byte
	pad[n%64] = byte(n)
	return recurse(n+1) + int(pad[0])
}

// child returns the test binary as the boot child (argv[0] "measuredboot", as at boot), ending
// as mode says.
func child(mode string, stdout, stderr *bytes.Buffer) *exec.Cmd {
	env := append(os.Environ(), modeEnv+"="+mode, ChildMarker(os.Getpid()))
	return Command(os.Args[0], []string{"measuredboot", "-test.run=^TestHelperChild$"}, env, stdout, stderr)
}

// TestSupervisorHalts runs the boot child to each of its ends: only the recovery exit code leads
// to the shell; a panic, a stack overflow, a kill, exit status 0, a refusal or a child that cannot
// start halt, with one line that says why.
func TestSupervisorHalts(t *testing.T) {
	for _, tc := range []struct {
		mode   string
		act    Action
		why    string // in the line before the halt
		stderr string // in the child's standard error
	}{
		{"panic", Halt, "the boot program ended (exit status 2); halting", "a bug in the boot"},
		{"stack", Halt, "the boot program ended (exit status 2); halting", "stack exceeds 67108864-byte limit"},
		{"sigkill", Halt, "the boot program ended (signal: killed); halting", ""},
		{"exit0", Halt, "the boot program ended (exit status 0); halting", ""},
		{"refused", Halt, "halting", ""},
		{"recovery", Shell, "the recovery shell ended; halting", ""},
		{"nostart", Halt, "the boot program could not run (", ""},
	} {
		t.Run(tc.mode, func(t *testing.T) {
			var out, stdout, stderr bytes.Buffer
			halts, shells := 0, 0
			s := Supervisor{
				Out:   &out,
				Halt:  func() { halts++ },
				Shell: func() error { shells++; return nil },
			}
			cmd := child(tc.mode, &stdout, &stderr)
			if tc.mode == "nostart" {
				cmd.Path = "/nonexistent/measuredboot"
			}
			act, why := s.Run(cmd)
			if act != tc.act || !strings.HasPrefix(why, tc.why) {
				t.Errorf("Run(child %s) = %v, %q; want %v, %q", tc.mode, act, why, tc.act, tc.why)
			}
			if want := "measuredboot: " + why + "\n"; out.String() != want {
				t.Errorf("console: %q, want %q", out.String(), want)
			}
			if halts != 1 {
				t.Errorf("halted %d times, want once", halts)
			}
			if wantShells := map[Action]int{Shell: 1}[tc.act]; shells != wantShells {
				t.Errorf("shell ran %d times, want %d", shells, wantShells)
			}
			if !strings.Contains(stderr.String(), tc.stderr) {
				t.Errorf("child's stderr lacks %q:\n%.2000s", tc.stderr, stderr.String())
			}
		})
	}
}

// TestShellNeedsShell: an image without a shell halts even after the recovery code.
func TestShellNeedsShell(t *testing.T) {
	var out, stdout, stderr bytes.Buffer
	halts := 0
	act, why := Supervisor{Out: &out, Halt: func() { halts++ }}.Run(child("recovery", &stdout, &stderr))
	if act != Shell || why != "the image has no recovery shell; halting" || halts != 1 {
		t.Errorf("Run(recovery, no shell) = %v, %q, %d halts; want shell, the image has no recovery shell; halting, 1", act, why, halts)
	}
}

// TestChildIgnoresConsoleSignals sends the boot child every signal the console can send (Ctrl-C,
// Ctrl-\, Ctrl-Z, ...) and SIGTERM: it neither dies nor stops.
func TestChildIgnoresConsoleSignals(t *testing.T) {
	var stderr bytes.Buffer
	cmd := child("signals", nil, &stderr)
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout = pw
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pw.Close()
	defer cmd.Process.Kill()
	line, err := bufio.NewReader(pr).ReadString('\n')
	if line != "ready\n" {
		t.Fatalf("child said %q (%v), want ready", line, err)
	}
	for _, sig := range ConsoleSignals() {
		if err := cmd.Process.Signal(sig); err != nil {
			t.Fatalf("signal %v: %v", sig, err)
		}
	}
	timer := time.AfterFunc(20*time.Second, func() { cmd.Process.Kill() })
	defer timer.Stop()
	err = cmd.Wait()
	if act, why := Decide(cmd.ProcessState, err); act != Shell {
		t.Errorf("after the console signals: %v, %q; want the child to survive them (stderr %q)", act, why, stderr.String())
	}
}

// TestChildHasNoTerminal: the child leads a session of its own, without a controlling terminal.
func TestChildHasNoTerminal(t *testing.T) {
	var stdout, stderr bytes.Buffer
	cmd := child("session", &stdout, &stderr)
	err := cmd.Run()
	if act, _ := Decide(cmd.ProcessState, err); act != Shell {
		t.Errorf("child in its own session: %v (%s%s)", err, stdout.String(), stderr.String())
	}
}

func TestIsChild(t *testing.T) {
	for _, tc := range []struct {
		marker string
		ok     bool
		ppid   int
		want   bool
	}{
		{"4242", true, 4242, true},
		{"", false, 4242, false},     // no marker: the supervisor
		{"4241", true, 4242, false},  // a marker for another parent
		{"1", true, 1, false},        // started by init: the supervisor, whatever the environment says
		{"4242 ", true, 4242, false}, // exact
		{"04242", true, 4242, false}, // exact
		{"", true, 0, false},
	} {
		if got := IsChild(tc.marker, tc.ok, tc.ppid); got != tc.want {
			t.Errorf("IsChild(%q, %v, %d) = %v, want %v", tc.marker, tc.ok, tc.ppid, got, tc.want)
		}
	}
}
