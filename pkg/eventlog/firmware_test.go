package eventlog

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
)

const seabiosLog = "testdata/seabios-1.16.2-swtpm-4banks.bin"

// readTPMPCRs reads "bank index hex" lines (see testdata/README.md).
func readTPMPCRs(t *testing.T, file string) PCRs {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	pcrs := PCRs{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) != 3 {
			t.Fatalf("%s: bad line %q", file, sc.Text())
		}
		alg, ok := AlgFromName(fields[0])
		idx, err1 := strconv.ParseUint(fields[1], 10, 32)
		v, err2 := hex.DecodeString(fields[2])
		if !ok || err1 != nil || err2 != nil {
			t.Fatalf("%s: bad line %q", file, sc.Text())
		}
		if pcrs[alg] == nil {
			pcrs[alg] = map[uint32][]byte{}
		}
		pcrs[alg][uint32(idx)] = v
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return pcrs
}

// TestSeaBIOSLog parses a log SeaBIOS left under QEMU and verifies it against the PCR values the
// swtpm held in the same boot.
func TestSeaBIOSLog(t *testing.T) {
	b, err := os.ReadFile(seabiosLog)
	if err != nil {
		t.Fatal(err)
	}
	l, err := Parse(b)
	if err != nil {
		t.Fatalf("Parse(%s) = %v", seabiosLog, err)
	}
	wantBanks := []Alg{AlgSHA1, AlgSHA256, AlgSHA384, AlgSHA512}
	if got := l.Banks(); !slices.Equal(got, wantBanks) || len(l.Events) != 15 {
		t.Errorf("Parse(%s) = banks %v, %d events; want %v, 15 events", seabiosLog, got, len(l.Events), wantBanks)
	}
	if out := marshal(t, l); !bytes.Equal(out, b) {
		t.Errorf("Marshal(Parse(%s)) differs from the file", seabiosLog)
	}
	if err := l.CheckDigests(nil); err != nil {
		t.Errorf("CheckDigests(nil) on SeaBIOS's log = %v, want nil (SeaBIOS hashes every event's data)", err)
	}

	tpm := readTPMPCRs(t, "testdata/seabios-1.16.2-swtpm-4banks.pcrs")
	m, err := l.Verify(tpm)
	if err != nil || len(m) != 0 {
		t.Fatalf("Verify(TPM values of the same boot) = %v, %v, want no mismatch", m, err)
	}

	// A changed digest shows up as a mismatch on its PCR only, naming the event.
	l.Events[6].Digests[1].Sum[0] ^= 1 // event 7: PCR 4 "Calling INT 19h", sha256
	m, err = l.Verify(tpm)
	if err != nil {
		t.Fatal(err)
	}
	if len(m) != 1 || m[0].Alg != AlgSHA256 || m[0].PCR != 4 || m[0].LastEvent != 12 {
		t.Errorf("Verify() after changing event 7's sha256 digest = %v, want one sha256 PCR 4 mismatch, last event 12", m)
	}
}
