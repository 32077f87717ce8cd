package tpm

import (
	"strings"
	"testing"
	"time"

	"github.com/measuredboot/measuredboot/pkg/eventlog"
)

// hung is a transport whose TPM never answers (until the test ends).
type hung struct {
	sent    chan struct{}
	release chan struct{}
}

func (h *hung) Send([]byte) ([]byte, error) {
	h.sent <- struct{}{}
	<-h.release
	return nil, nil
}

// TestTimeout sends commands to a TPM that never answers: each call must return an error within
// the Device's timeout, and once a command has timed out nothing more is sent.
func TestTimeout(t *testing.T) {
	h := &hung{sent: make(chan struct{}, 10), release: make(chan struct{})}
	defer close(h.release)
	d := New(h)
	d.Timeout = 100 * time.Millisecond
	done := make(chan error, 1)
	go func() {
		_, err := d.Banks()
		done <- err
	}()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "did not answer GetCapability within 100ms") {
			t.Errorf("Banks() on a hung TPM = %v; want a timeout error", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Banks() on a hung TPM has not returned after 5s")
	}
	err := d.Extend(9, []eventlog.Digest{{Alg: eventlog.AlgSHA256, Sum: make([]byte, 32)}})
	if err == nil || !strings.Contains(err.Error(), "not sent any further command") {
		t.Errorf("Extend after a timeout = %v; want the timeout error", err)
	}
	if n := len(h.sent); n != 1 {
		t.Errorf("the hung TPM was sent %d commands, want 1", n)
	}
	if d.Commands() != 1 {
		t.Errorf("Commands() = %d, want 1", d.Commands())
	}
}
