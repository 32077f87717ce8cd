// Real logs: the TPM 1.2 log captured here, and the logs of github.com/google/go-eventlog
// v0.0.2 read from the Go module cache (see testdata/README.md, "Logs from other projects").

package eventlog

import (
	"bytes"
	"crypto"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-eventlog/register"
	"github.com/google/go-eventlog/tcg"
)

const seabiosTPM12Log = "testdata/seabios-1.16.2-swtpm-tpm12.bin"

// resetValue returns what a PC Client TPM's SHA-1 PCR holds after a reset that nothing has
// extended since: 0xFF bytes for the dynamic-launch PCRs 17-22, zeros for the others.
func resetValue(pcr uint32) []byte {
	if pcr >= 17 && pcr <= 22 {
		return bytes.Repeat([]byte{0xFF}, 20)
	}
	return make([]byte, 20)
}

// checkAgainstTPM checks that the SHA-1 replay of l equals tpm for every PCR the log extends,
// and that every other PCR in tpm holds its reset value, except the PCRs in others, which
// something outside the log extended (why says what).
func checkAgainstTPM(t *testing.T, l *Log, tpm map[uint32][]byte, wantExtended []uint32, others map[uint32]string) {
	t.Helper()
	replayed, err := l.Replay()
	if err != nil {
		t.Fatalf("Replay() = %v", err)
	}
	var extended []uint32
	for pcr := range replayed[AlgSHA1] {
		extended = append(extended, pcr)
	}
	slices.Sort(extended)
	if !slices.Equal(extended, wantExtended) {
		t.Errorf("the log extends PCRs %v, want %v", extended, wantExtended)
	}
	for pcr := uint32(0); pcr < NumPCRs; pcr++ {
		want, ok := tpm[pcr]
		if !ok {
			t.Errorf("no TPM value for PCR %d", pcr)
			continue
		}
		got, inLog := replayed[AlgSHA1][pcr]
		switch _, other := others[pcr]; {
		case inLog && !bytes.Equal(got, want):
			t.Errorf("sha1 PCR %d: log replays to %x, TPM has %x", pcr, got, want)
		case !inLog && !other && !bytes.Equal(want, resetValue(pcr)):
			t.Errorf("sha1 PCR %d: not in the log, TPM has %x, want the reset value %x", pcr, want, resetValue(pcr))
		case !inLog && other && bytes.Equal(want, resetValue(pcr)):
			t.Errorf("sha1 PCR %d: TPM has the reset value, want it extended (%s)", pcr, others[pcr])
		}
	}
	if m, err := l.Verify(PCRs{AlgSHA1: tpm}); err != nil || len(m) != 0 {
		t.Errorf("Verify(TPM values) = %v, %v, want no mismatch", m, err)
	}
}

// TestSeaBIOSTPM12Log parses the legacy SHA-1 log SeaBIOS left for a TPM 1.2 under QEMU and
// checks its replay against the PCR values of the same boot.
func TestSeaBIOSTPM12Log(t *testing.T) {
	b, err := os.ReadFile(seabiosTPM12Log)
	if err != nil {
		t.Fatal(err)
	}
	l, err := Parse(b)
	if err != nil {
		t.Fatalf("Parse(%s) = %v", seabiosTPM12Log, err)
	}
	if !l.Legacy || !slices.Equal(l.Banks(), []Alg{AlgSHA1}) || len(l.Events) != 15 {
		t.Errorf("Parse(%s) = Legacy %v, banks %v, %d events; want a legacy sha1 log of 15 events", seabiosTPM12Log, l.Legacy, l.Banks(), len(l.Events))
	}
	if out := marshal(t, l); !bytes.Equal(out, b) {
		t.Errorf("Marshal(Parse(%s)) differs from the file", seabiosTPM12Log)
	}
	if err := l.CheckDigests(nil); err != nil {
		t.Errorf("CheckDigests(nil) = %v, want nil (SeaBIOS hashes every event's data)", err)
	}
	tpm := readTPMPCRs(t, "testdata/seabios-1.16.2-swtpm-tpm12.pcrs")
	checkAgainstTPM(t, l, tpm[AlgSHA1], []uint32{0, 1, 2, 3, 4, 5, 6, 7},
		map[uint32]string{10: "the kernel's IMA boot_aggregate"})

	// A changed digest shows up on its PCR.
	l.Events[1].Digests[0].Sum[0] ^= 1
	if m, err := l.Verify(tpm); err != nil || len(m) != 1 || m[0].PCR != l.Events[1].PCR {
		t.Errorf("Verify() after changing event 2's digest = %v, %v, want one mismatch on PCR %d", m, err, l.Events[1].PCR)
	}
}

// goEventlogDir returns the directory of github.com/google/go-eventlog in the module cache.
func goEventlogDir(t *testing.T) string {
	t.Helper()
	cmd := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/google/go-eventlog")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%v: %v: %s", cmd, err, stderr.Bytes())
	}
	dir := strings.TrimSpace(string(out))
	if dir == "" {
		t.Fatalf("%v printed no directory: the module is not in the module cache (run go mod download github.com/google/go-eventlog)", cmd)
	}
	return dir
}

// TestGoAttestationTPM12Logs replays the two legacy SHA-1 logs that go-attestation captured with
// their PCR values (go-eventlog keeps them in testdata/legacydata) against those values.
func TestGoAttestationTPM12Logs(t *testing.T) {
	dir := goEventlogDir(t)
	for _, tc := range []struct {
		file     string
		events   int
		extended []uint32
		others   map[uint32]string
	}{
		// A Linux machine with a TPM 1.2: BIOS events in PCRs 0-7, IMA in PCR 10.
		{"linux_tpm12.json", 40, []uint32{0, 1, 2, 3, 4, 5, 6, 7}, map[uint32]string{10: "the kernel's IMA"}},
		// Windows on a GCP Shielded VM: a SHA-1 format log (UEFI, Windows' PCR 11-14 events).
		{"windows_gcp_shielded_vm.json", 21, []uint32{0, 4, 5, 7, 11, 12, 13, 14}, nil},
	} {
		t.Run(tc.file, func(t *testing.T) {
			path := filepath.Join(dir, "testdata", "legacydata", tc.file)
			raw, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			var dump struct {
				Log struct {
					PCRs []struct {
						Index     int
						Digest    []byte // base64 in the JSON
						DigestAlg crypto.Hash
					}
					Raw []byte // base64 in the JSON
				}
			}
			if err := json.Unmarshal(raw, &dump); err != nil {
				t.Fatalf("%s: %v", path, err)
			}
			tpm := map[uint32][]byte{}
			for _, p := range dump.Log.PCRs {
				if p.DigestAlg != crypto.SHA1 || p.Index < 0 || p.Index >= NumPCRs || len(p.Digest) != 20 {
					t.Fatalf("%s: PCR %d %v %x, want only SHA-1 PCR values", path, p.Index, p.DigestAlg, p.Digest)
				}
				tpm[uint32(p.Index)] = p.Digest
			}
			l, err := Parse(dump.Log.Raw)
			if err != nil {
				t.Fatalf("Parse(%s Log.Raw) = %v", path, err)
			}
			if !l.Legacy || len(l.Events) != tc.events {
				t.Errorf("Parse(%s Log.Raw) = Legacy %v, %d events, want a legacy log of %d events", path, l.Legacy, len(l.Events), tc.events)
			}
			if out := marshal(t, l); !bytes.Equal(out, dump.Log.Raw) {
				t.Errorf("Marshal(Parse(%s Log.Raw)) differs from the input", path)
			}
			checkAgainstTPM(t, l, tpm, tc.extended, tc.others)
		})
	}
}

// TestGoEventlogLogs parses every other log of go-eventlog's testdata, checks that Marshal writes
// it back byte for byte, and that go-eventlog's own parser accepts our replay of every bank it
// replays. One log is rejected on purpose, see its entry.
func TestGoEventlogLogs(t *testing.T) {
	dir := goEventlogDir(t)
	for _, tc := range []struct {
		file   string // under testdata/ in the module
		legacy bool
		banks  []Alg
		events int
		// A log Parse rejects: the sentinel, the event index and the offset.
		err        error
		index, off int
	}{
		// testdata/legacydata: logs go-eventlog took over from go-attestation.
		{file: "legacydata/coreos_36_shielded_vm_no_secure_boot_eventlog", banks: []Alg{AlgSHA1, AlgSHA256, AlgSHA384}, events: 75},
		{file: "legacydata/crypto_agile_eventlog", banks: []Alg{AlgSHA256}, events: 26},
		{file: "legacydata/ebs_event_missing_eventlog", legacy: true, banks: []Alg{AlgSHA1}, events: 38},
		// A Windows SHA-1 format log whose last record (61, 456 bytes before the end) is an
		// EV_NO_ACTION with PCR index 0xFFFFFFFF and a non-zero digest, Windows' own trailing
		// record (its data names the "Windows AIK"). Parse keeps PCR indexes below NumPCRs, as
		// for crypto-agile logs, and rejects it; go-eventlog's SHA-1 format parser bounds no PCR
		// index and keeps the record (its crypto-agile parser would take PCR 0xFFFFFFFF for
		// the start of padding).
		{file: "legacydata/option_rom_eventlog", legacy: true, err: ErrInvalid, index: 61, off: 72361},
		{file: "legacydata/sb_cert_eventlog", banks: []Alg{AlgSHA1, AlgSHA256, AlgSHA384}, events: 14},
		// 49 bytes: one SHA-1 format record, the StartupLocality EV_NO_ACTION (locality 3).
		{file: "legacydata/short_no_action_eventlog", legacy: true, banks: []Alg{AlgSHA1}, events: 1},
		{file: "legacydata/ubuntu_2104_shielded_vm_no_secure_boot_eventlog", banks: []Alg{AlgSHA1, AlgSHA256, AlgSHA384}, events: 105},
		// testdata/eventlogs/tpm: logs go-eventlog collected from real machines and VMs.
		{file: "eventlogs/tpm/arch-linux-workstation.bin", banks: []Alg{AlgSHA1, AlgSHA256}, events: 24},
		{file: "eventlogs/tpm/cos-101-amd-sev.bin", banks: []Alg{AlgSHA1, AlgSHA256, AlgSHA384}, events: 48},
		{file: "eventlogs/tpm/cos-85-amd-sev.bin", banks: []Alg{AlgSHA1, AlgSHA256, AlgSHA384}, events: 45},
		{file: "eventlogs/tpm/cos-93-amd-sev.bin", banks: []Alg{AlgSHA1, AlgSHA256, AlgSHA384}, events: 45},
		// A SHA-1 format log: its first record is EV_S_CRTM_VERSION "GCE Virtual Firmware v1".
		{file: "eventlogs/tpm/debian-10.bin", legacy: true, banks: []Alg{AlgSHA1}, events: 25},
		{file: "eventlogs/tpm/glinux-alex.bin", banks: []Alg{AlgSHA1, AlgSHA256}, events: 28},
		{file: "eventlogs/tpm/rhel8-uefi.bin", banks: []Alg{AlgSHA1, AlgSHA256, AlgSHA384}, events: 82},
		{file: "eventlogs/tpm/ubuntu-1804-amd-sev.bin", banks: []Alg{AlgSHA1, AlgSHA256, AlgSHA384}, events: 87},
		{file: "eventlogs/tpm/ubuntu-2104-no-dbx.bin", banks: []Alg{AlgSHA1, AlgSHA256, AlgSHA384}, events: 111},
		{file: "eventlogs/tpm/ubuntu-2104-no-secure-boot.bin", banks: []Alg{AlgSHA1, AlgSHA256, AlgSHA384}, events: 105},
		{file: "eventlogs/tpm/ubuntu-2404-amd-sevsnp.bin", banks: []Alg{AlgSHA1, AlgSHA256, AlgSHA384}, events: 116},
	} {
		t.Run(tc.file, func(t *testing.T) {
			path := filepath.Join(dir, "testdata", tc.file)
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			l, err := Parse(b)
			if tc.err != nil {
				var pe *ParseError
				if !errors.Is(err, tc.err) || !errors.As(err, &pe) || pe.Index != tc.index || pe.Offset != tc.off {
					t.Fatalf("Parse(%s) = %v, want %v at event %d, byte offset %d", path, err, tc.err, tc.index, tc.off)
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse(%s) = %v", path, err)
			}
			if l.Legacy != tc.legacy || !slices.Equal(l.Banks(), tc.banks) || len(l.Events) != tc.events {
				t.Errorf("Parse(%s) = Legacy %v, banks %v, %d events; want Legacy %v, banks %v, %d events",
					path, l.Legacy, l.Banks(), len(l.Events), tc.legacy, tc.banks, tc.events)
			}
			if out := marshal(t, l); !bytes.Equal(out, b[:min(len(out), len(b))]) || len(bytes.Trim(b[len(out):], "\x00")) != 0 && len(bytes.Trim(b[len(out):], "\xff")) != 0 {
				t.Errorf("Marshal(Parse(%s)) is not the file up to padding", path)
			}
			replayed, err := l.Replay()
			if err != nil {
				t.Fatalf("Replay() = %v", err)
			}
			el, err := tcg.ParseEventLog(b, tcg.ParseOpts{})
			if err != nil {
				t.Fatalf("go-eventlog tcg.ParseEventLog(%s) = %v", path, err)
			}
			for _, alg := range l.Banks() {
				if _, ok := goEventlogAlgs[alg]; !ok {
					continue
				}
				h, _ := alg.Hash()
				var mrs []register.MR
				for pcr, v := range replayed[alg] {
					mrs = append(mrs, register.PCR{Index: int(pcr), Digest: v, DigestAlg: h})
				}
				if _, err := el.Verify(mrs); err != nil {
					t.Errorf("go-eventlog Verify(%v values from Replay()) = %v", alg, err)
				}
			}
		})
	}
}
