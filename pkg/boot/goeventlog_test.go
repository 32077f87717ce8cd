// This test replays what the boot flow hands over with github.com/google/go-eventlog, a parser
// this project did not write.

package boot

import (
	"bytes"
	"context"
	"crypto"
	"errors"
	"fmt"
	"os"
	"testing"

	"github.com/google/go-eventlog/register"
	"github.com/google/go-eventlog/tcg"

	"github.com/measuredboot/measuredboot/pkg/discover"
	"github.com/measuredboot/measuredboot/pkg/eventlog"
	"github.com/measuredboot/measuredboot/pkg/ima"
	"github.com/measuredboot/measuredboot/pkg/tpm"
)

// seabiosLog is a real firmware log (see pkg/eventlog/testdata/README.md).
const seabiosLog = "../eventlog/testdata/seabios-1.16.2-swtpm-4banks.bin"

// TestHandoverReplaysWithGoEventlog boots on top of SeaBIOS's log, with a TPM holding what that
// log replays to, and checks that go-eventlog parses the handed-over log and that its replay of
// every PCR the log touches equals the TPM's values after the boot.
func TestHandoverReplaysWithGoEventlog(t *testing.T) {
	fw, err := os.ReadFile(seabiosLog)
	if err != nil {
		t.Fatal(err)
	}
	fl, err := eventlog.Parse(fw)
	if err != nil {
		t.Fatal(err)
	}
	start, err := fl.Replay()
	if err != nil {
		t.Fatal(err)
	}
	soft, err := tpm.NewSoft(fl.Banks(), start)
	if err != nil {
		t.Fatal(err)
	}
	ft := &fakeTPM{Soft: soft}
	kernel, initrd := bytes.Repeat([]byte("kernel"), 5000), []byte("initrd")
	sys := &fakeSystem{policy: testPolicy, tpm: ft, fwlog: fw, entries: []discover.Entry{entry(t, "Debian", kernel, initrd)}}
	var out bytes.Buffer
	if err := Run(context.Background(), &out, sys); err != nil || sys.loads != 1 {
		t.Fatalf("Run() = %v, %d loads\n%s", err, sys.loads, out.String())
	}
	files := handedOver(t, sys.loaded.initrd, len(initrd))
	raw := files["tcg.log"]
	if !bytes.HasPrefix(raw, fw) {
		t.Fatalf("the handed-over log does not begin with the firmware's log")
	}
	el, err := tcg.ParseEventLog(raw, tcg.ParseOpts{})
	if err != nil {
		t.Fatalf("go-eventlog: tcg.ParseEventLog(tcg.log) = %v", err)
	}
	final := soft.Values()
	algs := map[eventlog.Alg]register.HashAlg{eventlog.AlgSHA1: register.HashSHA1, eventlog.AlgSHA256: register.HashSHA256, eventlog.AlgSHA384: register.HashSHA384}
	for alg, galg := range algs {
		h, _ := alg.Hash()
		var mrs []register.MR
		for pcr := uint32(0); pcr < 10; pcr++ {
			mrs = append(mrs, register.PCR{Index: int(pcr), Digest: final[alg][pcr], DigestAlg: h})
		}
		events, err := el.Verify(mrs)
		if err != nil {
			t.Errorf("go-eventlog Verify(%v PCRs 0-9 after the boot) = %v", alg, err)
		}
		// Ours are the last 8 events: boot_aggregate, policy, entry marker, kernel, initrd, cmdline, 2 separators.
		var ours int
		for _, e := range el.Events(galg) {
			if e.Index == 8 || e.Index == 9 {
				ours++
			}
		}
		if ours != 8 {
			t.Errorf("go-eventlog sees %d %v events in PCRs 8 and 9, want 8", ours, alg)
		}
		if len(events) == 0 {
			t.Errorf("go-eventlog Verify(%v) verified no events", alg)
		}
		// A PCR 9 one bit off must not verify: the test can fail.
		bad := bytes.Clone(final[alg][9])
		bad[0] ^= 1
		if _, err := el.Verify([]register.MR{register.PCR{Index: 9, Digest: bad, DigestAlg: h}}); !errors.As(err, new(tcg.ReplayError)) {
			t.Errorf("go-eventlog Verify(wrong %v PCR 9) = %v, want a ReplayError", alg, err)
		}
	}
	// The boot_aggregate is over the SHA-256 PCRs 0-9 the firmware left (zero where it left none).
	want, err := ima.BootAggregate(crypto.SHA256, start.Values(eventlog.AlgSHA256, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9))
	if err != nil {
		t.Fatal(err)
	}
	list, err := ima.ParseBinaryList(files["ima/binary_runtime_measurements_sha256"], 32)
	if err != nil || len(list) == 0 {
		t.Fatalf("IMA list: %d entries, %v", len(list), err)
	}
	f, _ := list[0].Fields()
	if _, sum, _ := ima.SplitDigestNG(f[0]); list[0].Name() != "boot_aggregate" || !bytes.Equal(sum, want) {
		t.Errorf("IMA entry 0 = %q %x, want boot_aggregate %x", list[0].Name(), sum, want)
	}
	// And the IMA list alone replays PCRs 8 and 9, which the firmware did not touch.
	rp, err := ima.Replay(list, crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []uint32{8, 9} {
		if !bytes.Equal(rp[p], final[eventlog.AlgSHA256][p]) {
			t.Errorf("the IMA list replays sha256 PCR %d to %x, the TPM holds %x", p, rp[p], final[eventlog.AlgSHA256][p])
		}
	}
}

// TestBootAggregateIsTheKernels boots on the firmware state of a real QEMU boot whose kernel's own
// IMA list was captured (pkg/ima/testdata): the flow's boot_aggregate must be the kernel's.
func TestBootAggregateIsTheKernels(t *testing.T) {
	fw, err := os.ReadFile("../ima/testdata/linux-6.1-swtpm.bios.bin")
	if err != nil {
		t.Fatal(err)
	}
	asc, err := os.ReadFile("../ima/testdata/linux-6.1-swtpm.ima.ascii")
	if err != nil {
		t.Fatal(err)
	}
	kernelList, err := ima.ParseASCIIList(asc)
	if err != nil || len(kernelList) == 0 || kernelList[0].Fields[1] != ima.BootAggregateName {
		t.Fatalf("the captured kernel list: %v", err)
	}
	fl, err := eventlog.Parse(fw)
	if err != nil {
		t.Fatal(err)
	}
	start, _ := fl.Replay()
	soft, err := tpm.NewSoft(fl.Banks(), start)
	if err != nil {
		t.Fatal(err)
	}
	sys := &fakeSystem{policy: testPolicy, tpm: &fakeTPM{Soft: soft}, fwlog: fw, entries: []discover.Entry{entry(t, "e", []byte("k"), []byte("i"))}}
	var out bytes.Buffer
	if err := Run(context.Background(), &out, sys); err != nil {
		t.Fatalf("Run() = %v\n%s", err, out.String())
	}
	list, err := ima.ParseBinaryList(handedOver(t, sys.loaded.initrd, 1)["ima/binary_runtime_measurements"], 20)
	if err != nil || len(list) == 0 {
		t.Fatalf("handed-over list: %d entries, %v", len(list), err)
	}
	ours, _ := list[0].Fields()
	alg, sum, _ := ima.SplitDigestNG(ours[0])
	if got, want := fmt.Sprintf("%s:%x", alg, sum), kernelList[0].Fields[0]; list[0].Name() != ima.BootAggregateName || got != want {
		t.Errorf("our boot_aggregate %s, the kernel's %s", got, want)
	}
}
