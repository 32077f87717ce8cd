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
	"slices"
	"strings"
	"testing"

	"github.com/google/go-eventlog/extract"
	"github.com/google/go-eventlog/register"
	"github.com/google/go-eventlog/tcg"

	"github.com/measuredboot/measuredboot/pkg/discover"
	"github.com/measuredboot/measuredboot/pkg/eventlog"
	"github.com/measuredboot/measuredboot/pkg/ima"
	"github.com/measuredboot/measuredboot/pkg/measure"
	"github.com/measuredboot/measuredboot/pkg/policy"
	"github.com/measuredboot/measuredboot/pkg/tpm"
)

// seabiosLog is a real firmware log (see pkg/eventlog/testdata/README.md).
const seabiosLog = "../eventlog/testdata/seabios-1.16.2-swtpm-4banks.bin"

// seabiosTPM returns SeaBIOS's real log, parsed, what it replays to, and a software TPM holding
// those values: the machine a boot starts on.
func seabiosTPM(t *testing.T) ([]byte, *eventlog.Log, eventlog.PCRs, *tpm.Soft) {
	t.Helper()
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
	return fw, fl, start, soft
}

// TestHandoverReplaysWithGoEventlog boots on top of SeaBIOS's log, with a TPM holding what that
// log replays to, and checks that go-eventlog parses the handed-over log and that its replay of
// every PCR the log touches equals the TPM's values after the boot.
func TestHandoverReplaysWithGoEventlog(t *testing.T) {
	fw, _, start, soft := seabiosTPM(t)
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

// grubPolicy is GRUB's layout: the policy and the command line as text in PCR 8, files in PCR 9.
const grubPolicy = `measure func=POLICY_CHECK pcr=8 template=ima-ng
measure func=KEXEC_KERNEL_CHECK pcr=9 template=ima-ng
measure func=KEXEC_INITRAMFS_CHECK pcr=9 template=ima-ng
measure func=KEXEC_CMDLINE pcr=8 template=ima-buf
`

// TestGRUBFormatWithGoEventlog boots with event_format=grub on SeaBIOS's log and hands the
// result to go-eventlog's GRUB extractor (what go-tpm-tools' VerifyAttestation runs with a GRUB
// loader): it must accept PCRs 8 and 9, name the kernel and initrd with their plain digests in
// every bank, and find the command line. No separator may be in PCRs 8 and 9, and the IMA list
// must still cover every measurement.
func TestGRUBFormatWithGoEventlog(t *testing.T) {
	fw, fl, _, soft := seabiosTPM(t)
	kernel, initrd := bytes.Repeat([]byte("kernel"), 5000), []byte("initrd")
	e := entry(t, "Debian", kernel, initrd)
	sys := &fakeSystem{policy: grubPolicy, config: "event_format=grub\n", tpm: &fakeTPM{Soft: soft}, fwlog: fw, entries: []discover.Entry{e}}
	var out bytes.Buffer
	if err := Run(context.Background(), &out, sys); err != nil || sys.loads != 1 {
		t.Fatalf("Run() = %v, %d loads\n%s", err, sys.loads, out.String())
	}
	files := handedOver(t, sys.loaded.initrd, len(initrd))
	raw := files["tcg.log"]
	el, err := tcg.ParseEventLog(raw, tcg.ParseOpts{})
	if err != nil {
		t.Fatalf("go-eventlog: tcg.ParseEventLog(tcg.log) = %v", err)
	}
	final := soft.Values()
	for _, alg := range []eventlog.Alg{eventlog.AlgSHA1, eventlog.AlgSHA256, eventlog.AlgSHA384} {
		h, _ := alg.Hash()
		var mrs []register.MR
		for pcr := uint32(0); pcr < 10; pcr++ {
			mrs = append(mrs, register.PCR{Index: int(pcr), Digest: final[alg][pcr], DigestAlg: h})
		}
		events, err := el.Verify(mrs)
		if err != nil {
			t.Fatalf("go-eventlog Verify(%v) = %v", alg, err)
		}
		gs, err := extract.GrubStateFromTPMLog(h, events)
		if err != nil {
			t.Fatalf("go-eventlog GrubStateFromTPMLog(%v) = %v", alg, err)
		}
		ks, err := extract.LinuxKernelStateFromGRUB(gs)
		if err != nil {
			t.Fatalf("go-eventlog LinuxKernelStateFromGRUB(%v) = %v", alg, err)
		}
		if ks.GetCommandLine() != e.Cmdline {
			t.Errorf("%v: go-eventlog's kernel command line %q, want %q", alg, ks.GetCommandLine(), e.Cmdline)
		}
		want := map[string][]byte{}
		for name, b := range map[string][]byte{"/boot/vmlinuz\x00": kernel, "/boot/initrd.img\x00": initrd} {
			hh := h.New()
			hh.Write(b)
			want[name] = hh.Sum(nil)
		}
		for _, f := range gs.GetFiles() {
			if d, ok := want[string(f.GetUntrustedFilename())]; ok {
				if !bytes.Equal(d, f.GetDigest()) {
					t.Errorf("%v: %q has digest %x, want the file's plain %v %x", alg, f.GetUntrustedFilename(), f.GetDigest(), alg, d)
				}
				delete(want, string(f.GetUntrustedFilename()))
			}
		}
		if len(want) > 0 {
			t.Errorf("%v: go-eventlog's GRUB files %v lack %v", alg, gs.GetFiles(), want)
		}
		if !slices.Contains(gs.GetCommands(), string(measure.FormatMarker)) {
			t.Errorf("%v: the GRUB commands %q lack the format marker", alg, gs.GetCommands())
		}
	}
	l, err := eventlog.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range l.Events {
		if (ev.PCR == 8 || ev.PCR == 9) && ev.Type == eventlog.EvSeparator {
			t.Errorf("event %d: a separator in PCR %d in the grub format", ev.Index, ev.PCR)
		}
	}
	// The IMA list still holds every measurement: each matches its TCG event in GRUB's form.
	list, err := ima.ParseBinaryList(files["ima/binary_runtime_measurements_sha256"], 32)
	if err != nil {
		t.Fatal(err)
	}
	ours := l.Events[len(fl.Events):]
	if len(list) != len(ours) {
		t.Fatalf("%d IMA entries, %d events of ours", len(list), len(ours))
	}
	for i, le := range list {
		ie, err := le.Entry()
		if err != nil {
			t.Fatal(err)
		}
		if err := measure.MatchGRUB(ie, ours[i]); err != nil {
			t.Errorf("IMA entry %d (%s) and event %d: %v", i, le.Name(), ours[i].Index, err)
		}
	}
	// A changed file digest in one event must not match: the test can fail.
	bad := ours[len(ours)-2]
	bad.Digests = slices.Clone(bad.Digests)
	for i := range bad.Digests {
		bad.Digests[i].Sum = bytes.Clone(bad.Digests[i].Sum)
		bad.Digests[i].Sum[0] ^= 1
	}
	ie, _ := list[len(list)-2].Entry()
	if err := measure.MatchGRUB(ie, bad); err == nil {
		t.Errorf("MatchGRUB accepted event %d with changed digests", bad.Index)
	}
}

// TestGRUBFormatChecks: an image in the grub format whose policy cannot follow GRUB's
// conventions is refused before anything is measured, and by the build's CheckImage alike.
func TestGRUBFormatChecks(t *testing.T) {
	for _, tc := range []struct{ name, policy, want string }{
		{"kernel in PCR 8", "measure func=KEXEC_KERNEL_CHECK pcr=8\nmeasure func=KEXEC_CMDLINE pcr=8\n", "func=KEXEC_KERNEL_CHECK is measured into PCR 8"},
		{"cmdline in PCR 9", "measure func=KEXEC_KERNEL_CHECK pcr=9\nmeasure func=KEXEC_CMDLINE pcr=9\n", "use pcr=8"},
		{"no cmdline", "measure func=KEXEC_KERNEL_CHECK pcr=9\n", "needs 'measure func=KEXEC_CMDLINE pcr=8'"},
		{"every file in PCR 8", "measure pcr=8\n", "every file is measured into PCR 8"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pol, err := policy.Parse("p", []byte(tc.policy))
			if err != nil {
				t.Fatal(err)
			}
			if err := CheckImage([]byte("event_format=grub\n"), pol); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("CheckImage = %v, want %q", err, tc.want)
			}
			if err := CheckImage([]byte("event_format=ima\n"), pol); err != nil {
				t.Errorf("CheckImage(ima) = %v", err)
			}
			soft, _ := tpm.NewSoft([]eventlog.Alg{eventlog.AlgSHA256}, nil)
			sys := &fakeSystem{policy: tc.policy, config: "event_format=grub\n", tpm: &fakeTPM{Soft: soft}, entries: []discover.Entry{entry(t, "e", []byte("k"), []byte("i"))}}
			var out bytes.Buffer
			if err := Run(context.Background(), &out, sys); err == nil || !strings.Contains(err.Error(), tc.want) || sys.loads != 0 {
				t.Errorf("Run = %v, %d loads, want a refusal saying %q", err, sys.loads, tc.want)
			}
		})
	}
	if err := CheckImage([]byte("event_format=grub\n"), mustParse(t, grubPolicy)); err != nil {
		t.Errorf("CheckImage(grubPolicy) = %v", err)
	}
	if err := CheckImage([]byte("event_format=grub\n"), mustParse(t, testPolicy)); err != nil {
		t.Errorf("CheckImage(testPolicy: the policy as a file in PCR 9) = %v", err)
	}
	if err := CheckImage([]byte("event_format=xml\n"), nil); err == nil {
		t.Errorf("CheckImage(event_format=xml) = nil")
	}
}

func mustParse(t *testing.T, src string) *policy.Policy {
	t.Helper()
	p, err := policy.Parse("p", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestCmdlineNUL: an entry whose command line has a NUL byte (a hostile grub.cfg) is refused
// before anything of it is measured but its marker, in both formats, and the next entry boots.
func TestCmdlineNUL(t *testing.T) {
	for _, cfg := range []string{"", "event_format=grub\n"} {
		bad := entry(t, "bad", []byte("k"), []byte("i"))
		bad.Cmdline = "ro init=/bin/sh\x00"
		good := entry(t, "good", []byte("k"), []byte("i"))
		soft, _ := tpm.NewSoft([]eventlog.Alg{eventlog.AlgSHA256}, nil)
		sys := &fakeSystem{policy: grubPolicy, config: cfg, tpm: &fakeTPM{Soft: soft}, entries: []discover.Entry{bad, good}}
		var out bytes.Buffer
		if err := Run(context.Background(), &out, sys); err != nil || sys.loads != 1 || sys.loaded.cmdline != good.Cmdline {
			t.Fatalf("config %q: Run = %v, %d loads of %q\n%s", cfg, err, sys.loads, sys.loaded.cmdline, out.String())
		}
		if !strings.Contains(out.String(), `entry "bad": its command line has a NUL byte`) {
			t.Errorf("config %q: the console does not say why the entry was refused:\n%s", cfg, out.String())
		}
	}
}
