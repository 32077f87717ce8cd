// Package swtpmtest starts swtpm, the software TPM, for tests that talk to a real TPM: on two
// loopback TCP ports, already started (startup-clear), stopped by its PID when the test ends.
package swtpmtest

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/google/go-tpm/tpm2/transport"
	"github.com/google/go-tpm/tpm2/transport/tcp"
)

// Start starts swtpm with its state in stateDir (a new temporary directory if ""), and returns
// its command address HOST:PORT (the control port is PORT+1). Without swtpm on PATH the test
// fails when CI is set and is skipped otherwise.
func Start(t testing.TB, stateDir string) string {
	t.Helper()
	bin, err := exec.LookPath("swtpm")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("swtpm is not on PATH, and CI is set: install it (Debian: apt-get install swtpm; scripts/deps.sh does)")
		}
		t.Skip("swtpm is not on PATH (Debian: apt-get install swtpm)")
	}
	if stateDir == "" {
		stateDir = t.TempDir()
	}
	p := freePortPair(t)
	cmd := exec.Command(bin, "socket", "--tpm2",
		"--server", fmt.Sprintf("type=tcp,port=%d,bindaddr=127.0.0.1", p),
		"--ctrl", fmt.Sprintf("type=tcp,port=%d,bindaddr=127.0.0.1", p+1),
		"--tpmstate", "dir="+stateDir, "--flags", "not-need-init,startup-clear")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatalf("start swtpm: %v", err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	addr := fmt.Sprintf("127.0.0.1:%d", p)
	for deadline := time.Now().Add(10 * time.Second); ; {
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", p+1), time.Second)
		if err == nil {
			c.Close()
			return addr
		}
		if time.Now().After(deadline) {
			t.Fatalf("swtpm did not listen on %s: %v; its output: %s", addr, err, out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Open connects to the swtpm at addr (from Start) with go-tpm's TCP transport, without PowerOn
// (which would reset its PCRs), and closes it when the test ends.
func Open(t testing.TB, addr string) transport.TPMCloser {
	t.Helper()
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	n, err := strconv.Atoi(port)
	if err != nil {
		t.Fatal(err)
	}
	tpm, err := tcp.Open(tcp.Config{CommandAddress: addr, PlatformAddress: net.JoinHostPort(host, strconv.Itoa(n+1))})
	if err != nil {
		t.Fatalf("open swtpm at %s: %v", addr, err)
	}
	t.Cleanup(func() { tpm.Close() })
	return tpm
}

func freePortPair(t testing.TB) int {
	t.Helper()
	for range 50 {
		l1, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		p := l1.Addr().(*net.TCPAddr).Port
		l2, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p+1))
		l1.Close()
		if err == nil {
			l2.Close()
			return p
		}
	}
	t.Fatal("no two consecutive free loopback ports")
	return 0
}
