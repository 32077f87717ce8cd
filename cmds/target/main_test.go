package main

import (
	"bytes"
	"crypto"
	"encoding/hex"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/measuredboot/measuredboot/pkg/eventlog"
	"github.com/measuredboot/measuredboot/pkg/ima"
)

// handedOver writes, as measuredboot hands them over and the kernel shows them, a TCG log of the
// given IMA entries (sha256 bank) to logDir and the PCR values it replays to (plus extra) under
// tpmDir/pcr-sha256/N for every PCR 0-23, reset values elsewhere.
func handedOver(t *testing.T, entries []ima.Entry, extra map[uint32][]byte) (logDir, tpmDir string) {
	t.Helper()
	l, err := eventlog.New([]eventlog.Alg{eventlog.AlgSHA256})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		td := e.TemplateData()
		sum, _ := e.TemplateDigest(crypto.SHA256)
		typ := eventlog.EvIPL
		if bytes.Equal(e.Fields[1], ima.NameNG("measuredboot.separator")) {
			typ = eventlog.EvSeparator
		}
		if _, err := l.AppendDigests(e.PCR, typ, []eventlog.Digest{{Alg: eventlog.AlgSHA256, Sum: sum}}, td); err != nil {
			t.Fatal(err)
		}
	}
	b, err := l.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	logDir, tpmDir = t.TempDir(), t.TempDir()
	if err := os.WriteFile(filepath.Join(logDir, "tcg.log"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	replay, err := l.Replay()
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(tpmDir, "pcr-sha256")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for p := uint32(0); p < eventlog.NumPCRs; p++ {
		v := make([]byte, 32)
		if p >= 17 && p <= 22 {
			v = bytes.Repeat([]byte{0xff}, 32)
		}
		if r, ok := replay[eventlog.AlgSHA256][p]; ok {
			v = r
		}
		if x, ok := extra[p]; ok {
			v = x
		}
		if err := os.WriteFile(filepath.Join(dir, strconv.Itoa(int(p))), []byte(strings.ToUpper(hex.EncodeToString(v))+"\n"), 0o444); err != nil {
			t.Fatal(err)
		}
	}
	return logDir, tpmDir
}

// TestCheck: the target passes a complete handover and fails the stories verify fails: a PCR the
// log says nothing of, no measured command line, a log not closed by the separators.
func TestCheck(t *testing.T) {
	const cmdline = "console=ttyS0 measuredboot.demo=1"
	mk := func(pcr uint32, name string, buf []byte) ima.Entry {
		e, err := ima.NewBuf(pcr, crypto.SHA256, buf, name)
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	kernel, err := ima.NewNG(9, crypto.SHA256, make([]byte, 32), "/boot/vmlinuz")
	if err != nil {
		t.Fatal(err)
	}
	entry, cmd := mk(8, "measuredboot.entry", []byte(`name="e"`)), mk(8, "kexec-cmdline", []byte(cmdline))
	sep8, sep9 := mk(8, "measuredboot.separator", []byte{0, 0, 0, 0}), mk(9, "measuredboot.separator", []byte{0, 0, 0, 0})
	recovery := mk(8, "measuredboot.recovery", []byte("refused"))
	for _, tc := range []struct {
		name    string
		entries []ima.Entry
		extra   map[uint32][]byte
		want    string // "" = pass
	}{
		{"complete", []ima.Entry{entry, kernel, cmd, sep8, sep9}, nil, ""},
		{"PCR 12 extended, not in the log", []ima.Entry{entry, kernel, cmd, sep8, sep9}, map[uint32][]byte{12: bytes.Repeat([]byte{1}, 32)}, "sha256 PCR 12 = 0101"},
		{"PCR 10 is this kernel's", []ima.Entry{entry, kernel, cmd, sep8, sep9}, map[uint32][]byte{10: bytes.Repeat([]byte{1}, 32)}, ""},
		{"no kexec-cmdline", []ima.Entry{entry, kernel, sep8, sep9}, nil, "no kexec-cmdline measurement"},
		{"recovery after the separators", []ima.Entry{entry, kernel, cmd, sep8, sep9, recovery}, nil, `PCR 8's last measurement is "measuredboot.recovery"`},
		{"cut before the separators", []ima.Entry{entry, kernel, cmd}, nil, `PCR 8's last measurement is "kexec-cmdline"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			logDir, tpmDir := handedOver(t, tc.entries, tc.extra)
			cl := filepath.Join(t.TempDir(), "cmdline")
			if err := os.WriteFile(cl, []byte(cmdline+"\n"), 0o444); err != nil {
				t.Fatal(err)
			}
			var out bytes.Buffer
			err := check(&out, &out, logDir, tpmDir, cl)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("check = %v, want nil:\n%s", err, out.String())
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("check = %v, want an error with %q:\n%s", err, tc.want, out.String())
			}
		})
	}
}
