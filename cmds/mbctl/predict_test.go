package main

import (
	"bytes"
	"context"
	"crypto"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/u-root/mkuimage/cpio"

	"github.com/measuredboot/measuredboot/pkg/authenticode"
	"github.com/measuredboot/measuredboot/pkg/boot"
	"github.com/measuredboot/measuredboot/pkg/discover"
	"github.com/measuredboot/measuredboot/pkg/eventlog"
	"github.com/measuredboot/measuredboot/pkg/handover"
	"github.com/measuredboot/measuredboot/pkg/ima"
	"github.com/measuredboot/measuredboot/pkg/kexec"
	"github.com/measuredboot/measuredboot/pkg/measure"
	"github.com/measuredboot/measuredboot/pkg/tpm"
)

const seabiosLog = "../../pkg/eventlog/testdata/seabios-1.16.2-swtpm-4banks.bin"

// extendAll returns the value of a PCR that starts at start and is extended with each digest.
func extendAll(h crypto.Hash, start []byte, digests ...[]byte) []byte {
	v := start
	if v == nil {
		v = make([]byte, h.Size())
	}
	for _, d := range digests {
		hh := h.New()
		hh.Write(v)
		hh.Write(d)
		v = hh.Sum(nil)
	}
	return v
}

// TestPredict checks mbctl predict's values against a computation of its own from the IMA
// primitives: the boot_aggregate over the firmware's PCRs, then the policy, kernel and initrd in
// PCR 9, the command line in PCR 8, and a separator in each.
func TestPredict(t *testing.T) {
	dir := t.TempDir()
	os.Mkdir(filepath.Join(dir, "boot"), 0o755)
	kernel := bytes.Repeat([]byte("a kernel "), 1000)
	initrd := []byte("an initramfs")
	writeFile(t, dir, "boot/vmlinuz", kernel)
	writeFile(t, dir, "boot/initrd.img", initrd)
	polPath := "../../configs/policy"
	pol, err := os.ReadFile(polPath)
	if err != nil {
		t.Fatal(err)
	}
	const cmdline = "console=ttyS0 ro"
	var out, stderr bytes.Buffer
	raw := filepath.Join(dir, "pcrs.bin")
	args := []string{"-policy", polPath, "-root", dir, "-device", ext4Image(t), "-kernel", filepath.Join(dir, "boot/vmlinuz"), "-initrd", filepath.Join(dir, "boot/initrd.img"),
		"-cmdline", cmdline, "-eventlog", seabiosLog, "-o", raw}
	if err := run(append([]string{"predict"}, args...), &out, &stderr); err != nil {
		t.Fatalf("mbctl predict = %v\n%s", err, stderr.String())
	}
	got, err := parsePCRFile(out.Bytes(), 0)
	if err != nil {
		t.Fatalf("parsing predict's output as tpm2_pcrread output: %v\n%s", err, out.String())
	}

	fw, _ := os.ReadFile(seabiosLog)
	fl, err := eventlog.Parse(fw)
	if err != nil {
		t.Fatal(err)
	}
	start, _ := fl.Replay()
	aggSum, err := ima.BootAggregate(crypto.SHA256, start.Values(eventlog.AlgSHA256, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9))
	if err != nil {
		t.Fatal(err)
	}
	sum := func(b []byte) []byte { s := crypto.SHA256.New(); s.Write(b); return s.Sum(nil) }
	must := func(e ima.Entry, err error) ima.Entry {
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	pcr9 := []ima.Entry{
		must(ima.NewNG(9, crypto.SHA256, aggSum, "boot_aggregate")),
		must(ima.NewNG(9, crypto.SHA256, sum(pol), "/etc/measuredboot/policy")),
		must(ima.NewNG(9, crypto.SHA256, sum(kernel), "/boot/vmlinuz")),
		must(ima.NewNG(9, crypto.SHA256, sum(initrd), "/boot/initrd.img")),
		must(ima.NewBuf(9, crypto.SHA256, measure.SeparatorData, measure.SeparatorName)),
	}
	// PCR 8 opens the entry's events with the boot's entry marker (pkg/boot EntryMarker).
	marker := boot.EntryMarker(discover.Entry{Name: "predicted", Source: "mbctl predict"})
	pcr8 := []ima.Entry{
		must(ima.NewBuf(8, crypto.SHA256, marker, boot.EntryMarkerName)),
		must(ima.NewBuf(8, crypto.SHA256, []byte(cmdline), "kexec-cmdline")),
		must(ima.NewBuf(8, crypto.SHA256, measure.SeparatorData, measure.SeparatorName)),
	}
	var wantRaw []byte
	for _, alg := range fl.Banks() {
		h, _ := alg.Hash()
		for _, tc := range []struct {
			pcr     uint32
			entries []ima.Entry
		}{{8, pcr8}, {9, pcr9}} {
			var ds [][]byte
			for _, e := range tc.entries {
				d, _ := e.TemplateDigest(h)
				ds = append(ds, d)
			}
			want := extendAll(h, start[alg][tc.pcr], ds...)
			wantRaw = append(wantRaw, want...)
			if !bytes.Equal(got[alg][tc.pcr], want) {
				t.Errorf("predict %v PCR %d = %x, want %x", alg, tc.pcr, got[alg][tc.pcr], want)
			}
		}
		if len(got[alg]) != 2 {
			t.Errorf("predict printed %d %v PCRs, want 2 (8 and 9)", len(got[alg]), alg)
		}
	}
	if b, err := os.ReadFile(raw); err != nil || !bytes.Equal(b, wantRaw) {
		t.Errorf("-o wrote %d bytes (%v), want the %d bytes of the values in order", len(b), err, len(wantRaw))
	}
	if !strings.Contains(stderr.String(), "measuredboot: kexec predicted") {
		t.Errorf("predict's stderr lacks the boot's console lines:\n%s", stderr.String())
	}

	// -all adds the firmware's PCRs, as the TPM held them after SeaBIOS.
	out.Reset()
	if err := run(append([]string{"predict", "-all"}, args...), &out, &stderr); err != nil {
		t.Fatal(err)
	}
	all, err := parsePCRFile(out.Bytes(), 0)
	if err != nil {
		t.Fatal(err)
	}
	tpmFile, err := os.ReadFile("../../pkg/eventlog/testdata/seabios-1.16.2-swtpm-4banks.pcrs")
	if err != nil {
		t.Fatal(err)
	}
	tpm, err := parsePCRFile(tpmFile, 0)
	if err != nil {
		t.Fatal(err)
	}
	for p := uint32(0); p < 8; p++ {
		if !bytes.Equal(all[eventlog.AlgSHA256][p], tpm[eventlog.AlgSHA256][p]) {
			t.Errorf("predict -all sha256 PCR %d = %x, the TPM held %x after the firmware", p, all[eventlog.AlgSHA256][p], tpm[eventlog.AlgSHA256][p])
		}
	}

	// Without a firmware log it starts from zero, in the banks asked for.
	out.Reset()
	if err := run([]string{"predict", "-banks", "sha384", "-policy", polPath, "-device", ext4Image(t), "-kernel", filepath.Join(dir, "boot/vmlinuz")}, &out, &stderr); err != nil {
		t.Fatal(err)
	}
	if z, err := parsePCRFile(out.Bytes(), 0); err != nil || len(z) != 1 || len(z[eventlog.AlgSHA384]) != 2 {
		t.Errorf("predict -banks sha384 = %v, %v; want sha384 PCRs 8 and 9\n%s", z, err, out.String())
	}
}

// TestPredictRefusal: a boot the policy would refuse is an error naming the reason, not values.
func TestPredictRefusal(t *testing.T) {
	dir := t.TempDir()
	k := writeFile(t, dir, "vmlinuz", []byte("unsigned kernel"))
	pol := writeFile(t, dir, "policy", []byte("measure func=KEXEC_KERNEL_CHECK pcr=9\nappraise func=KEXEC_KERNEL_CHECK appraise_type=imasig\n"))
	var out, stderr bytes.Buffer
	err := run([]string{"predict", "-policy", pol, "-root", dir, "-device", ext4Image(t), "-kernel", k}, &out, &stderr)
	if err == nil || !strings.Contains(err.Error(), "would not kexec") || !strings.Contains(err.Error(), "no signature") {
		t.Errorf("predict of an unsigned kernel under imasig = %v, want 'would not kexec ... no signature'", err)
	}
	if out.Len() != 0 {
		t.Errorf("predict printed values for a refused boot:\n%s", out.String())
	}
	if err := run([]string{"predict", "-kernel", k}, &out, &stderr); err == nil {
		t.Error("predict without -policy succeeded")
	}
}

// TestVerifyFlowLogs runs the boot flow (as predict does) on top of SeaBIOS's log, takes the logs
// it hands over, and checks that mbctl verify accepts them against the software TPM's values:
// the boot_aggregate in PCR 9 against the TCG log before it, the separators in both logs. A PCR
// value one bit off must fail.
func TestVerifyFlowLogs(t *testing.T) {
	dir, soft := flowBoot(t, "../../configs/policy", "")
	good := writePCRs(t, dir, "pcrs", soft.Values())
	var out, stderr bytes.Buffer
	args := []string{"verify", "-tcg", filepath.Join(dir, "tcg.log"), "-ima", filepath.Join(dir, "binary_runtime_measurements_sha256")}
	if err := run(append(args, "-pcrs", good), &out, &stderr); err != nil {
		t.Fatalf("verify of the flow's logs = %v\n%s", err, out.String())
	}
	for _, want := range []string{"ima boot_aggregate match sha256:", "as the tcg log replays them before event 16", "ima sha256 pcr  9 match: IMA entries 0,1,3,4,7", "ima sha256 pcr  8 match: IMA entries 2,5,6", "tcg sha512 pcr  9 match"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("verify output lacks %q:\n%s", want, out.String())
		}
	}
	bad := soft.Values()
	bad[eventlog.AlgSHA256][9][0] ^= 1
	out.Reset()
	if err := run(append(args, "-pcrs", writePCRs(t, dir, "bad", bad)), &out, &stderr); err == nil || !strings.Contains(err.Error(), "tcg sha256 PCR 9 MISMATCH") {
		t.Errorf("verify against a changed sha256 PCR 9 = %v, want a PCR 9 mismatch", err)
	}
}

// TestPredictFirmware: an early image given with -firmware is checked under FIRMWARE_CHECK before
// the initramfs, as the boot checks an entry's microcode, and changes the predicted PCR 9.
func TestPredictFirmware(t *testing.T) {
	dir := t.TempDir()
	k := writeFile(t, dir, "vmlinuz", []byte("kernel"))
	i := writeFile(t, dir, "initrd.img", []byte("initrd"))
	u := writeFile(t, dir, "intel-ucode.img", []byte("microcode"))
	pol := writeFile(t, dir, "policy", []byte("measure func=KEXEC_KERNEL_CHECK pcr=9\nmeasure func=FIRMWARE_CHECK pcr=9\nmeasure func=KEXEC_INITRAMFS_CHECK pcr=9\n"))
	predict := func(extra ...string) (eventlog.PCRs, string) {
		var out, stderr bytes.Buffer
		args := append([]string{"predict", "-policy", pol, "-root", dir, "-device", ext4Image(t), "-kernel", k, "-initrd", i}, extra...)
		if err := run(args, &out, &stderr); err != nil {
			t.Fatalf("%v = %v\n%s", args, err, stderr.String())
		}
		p, err := parsePCRFile(out.Bytes(), 0)
		if err != nil {
			t.Fatal(err)
		}
		return p, stderr.String()
	}
	without, _ := predict()
	with, console := predict("--firmware", u)
	if !strings.Contains(console, "FIRMWARE_CHECK        pcr=9") || !strings.Contains(console, "/intel-ucode.img measured ima-ng") ||
		strings.Index(console, "/intel-ucode.img") > strings.Index(console, "KEXEC_INITRAMFS_CHECK pcr=9") {
		t.Errorf("the microcode was not measured under FIRMWARE_CHECK before the initramfs:\n%s", console)
	}
	if bytes.Equal(with[eventlog.AlgSHA256][9], without[eventlog.AlgSHA256][9]) {
		t.Error("-firmware did not change the predicted PCR 9")
	}
}

// ext4Image writes the start of an ext4 partition: its super block at 1024, with the magic
// 0xef53 at 0x38 and a UUID at 0x68 (struct ext4_super_block), enough for predict's -device.
func ext4Image(t *testing.T) string {
	t.Helper()
	b := make([]byte, 4096)
	b[0x438], b[0x439] = 0x53, 0xef
	copy(b[0x468:], "0123456789abcdef")
	return writeFile(t, t.TempDir(), "ext4.img", b)
}

// mkfsImage makes an 8 MiB file system image with a real mkfs (mkfs.ext4 -U, mkfs.vfat -i), or
// fails the test when the tool is missing.
func mkfsImage(t *testing.T, tool string, args ...string) string {
	t.Helper()
	if _, err := exec.LookPath(tool); err != nil {
		t.Fatalf("%s is needed to build a test image (e2fsprogs, dosfstools): %v", tool, err)
	}
	img := filepath.Join(t.TempDir(), tool+".img")
	switch tool {
	case "mkfs.vfat":
		args = append(append([]string{}, args...), "-C", img, "8192")
	default:
		if err := os.WriteFile(img, make([]byte, 8<<20), 0o644); err != nil {
			t.Fatal(err)
		}
		args = append(append([]string{}, args...), "-q", "-F", img)
	}
	if out, err := exec.Command(tool, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s %v: %v\n%s", tool, args, err, out)
	}
	return img
}

// TestPredictDevice: -device gives predict the file system identity the boot sees (fsname,
// fsmagic and fsuuid as the kernel's IMA has them), so fs conditions of the policy are evaluated
// as at boot: an fsuuid= rule measures the kernel on the file system with that UUID and not on
// another, fsname=/fsmagic= follow the device's type, and vfat, whose superblock UUID Linux 6.1
// never copies to s_uuid, matches only the all-zero fsuuid.
func TestPredictDevice(t *testing.T) {
	const uuid = "3f0e8b5c-6a41-4e0b-9d7e-1c2b3a4d5e6f"
	good := mkfsImage(t, "mkfs.ext4", "-U", uuid)
	other := mkfsImage(t, "mkfs.ext4", "-U", "0a0b0c0d-1111-2222-3333-444455556666")
	fat := mkfsImage(t, "mkfs.vfat", "-i", "3f0e8b5c")
	dir := t.TempDir()
	k := writeFile(t, dir, "vmlinuz", []byte("kernel"))
	measured := func(policy, device string) bool {
		t.Helper()
		pol := writeFile(t, dir, "policy", []byte(policy))
		var out, stderr bytes.Buffer
		args := []string{"predict", "-policy", pol, "-root", dir, "-kernel", k, "-device", device}
		if err := run(args, &out, &stderr); err != nil {
			t.Fatalf("%v = %v\n%s", args, err, stderr.String())
		}
		return strings.Contains(stderr.String(), "/vmlinuz measured")
	}
	for _, tc := range []struct {
		policy, device string
		want           bool
	}{
		{"measure func=KEXEC_KERNEL_CHECK fsuuid=" + uuid + "\n", good, true},
		{"measure func=KEXEC_KERNEL_CHECK fsuuid=" + uuid + "\n", other, false},
		{"measure func=KEXEC_KERNEL_CHECK fsuuid=" + uuid + "\n", fat, false},
		{"measure func=KEXEC_KERNEL_CHECK fsuuid=00000000-0000-0000-0000-000000000000\n", fat, true},
		{"measure func=KEXEC_KERNEL_CHECK fsuuid=00000000-0000-0000-0000-000000000000\n", good, false},
		{"measure func=KEXEC_KERNEL_CHECK fsname=ext4 fsmagic=0xef53\n", good, true},
		{"measure func=KEXEC_KERNEL_CHECK fsname=vfat\n", good, false},
		{"measure func=KEXEC_KERNEL_CHECK fsname=vfat fsmagic=0x4d44\n", fat, true},
		{"measure func=KEXEC_KERNEL_CHECK fsmagic=0xef53\n", fat, false},
	} {
		if got := measured(tc.policy, tc.device); got != tc.want {
			t.Errorf("policy %q on %s: measured = %v, want %v", strings.TrimSpace(tc.policy), filepath.Base(tc.device), got, tc.want)
		}
	}
	// A file that holds no known file system is an error naming it, not a guess.
	junk := writeFile(t, dir, "junk", make([]byte, 128<<10))
	var out, stderr bytes.Buffer
	err := run([]string{"predict", "-policy", writeFile(t, dir, "policy", []byte("measure func=KEXEC_KERNEL_CHECK\n")), "-root", dir, "-kernel", k, "-device", junk}, &out, &stderr)
	if err == nil || !strings.Contains(err.Error(), junk) {
		t.Errorf("predict -device on a file with no file system = %v, want an error naming it", err)
	}
}

// TestPredictHostFS: without -device predict takes the file system holding -root; when it cannot
// tell that file system's identity (here /proc, which has no device and no UUID Linux sets
// from a super block) it says to pass -device rather than guess.
func TestPredictHostFS(t *testing.T) {
	dir := t.TempDir()
	k := writeFile(t, dir, "vmlinuz", []byte("kernel"))
	pol := writeFile(t, dir, "policy", []byte("measure func=KEXEC_KERNEL_CHECK\n"))
	var out, stderr bytes.Buffer
	err := run([]string{"predict", "-policy", pol, "-root", "/proc", "-kernel", k}, &out, &stderr)
	if err == nil || !strings.Contains(err.Error(), "pass -device") || !strings.Contains(err.Error(), "/proc") {
		t.Errorf("predict -root /proc = %v, want an error naming /proc and telling to pass -device", err)
	}
}

// TestPredictPayload predicts a boot of another payload from the log of a UEFI boot of the
// current one: the log's EFI application event in PCR 4 carries the current payload's
// Authenticode digests; the prediction puts the new one's in its place, so PCR 4 changes, and
// PCR 9 with it (the boot_aggregate covers PCR 4).
func TestPredictPayload(t *testing.T) {
	kernels, _ := filepath.Glob("/boot/vmlinuz-*")
	if len(kernels) == 0 {
		t.Fatal("no /boot/vmlinuz-*")
	}
	a, err := os.ReadFile(kernels[len(kernels)-1])
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	b := bytes.Clone(a)
	b[len(b)/2] ^= 1 // inside a section: another payload
	payloadA := writeFile(t, dir, "a.efi", a)
	payloadB := writeFile(t, dir, "b.efi", b)
	banks := []eventlog.Alg{eventlog.AlgSHA1, eventlog.AlgSHA256}
	digest := func(img []byte, alg eventlog.Alg) []byte {
		h, _ := alg.Hash()
		d, err := authenticode.Digest(img, h)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	log := func(apps ...[]byte) string {
		l, err := eventlog.New(banks)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := l.Append(0, eventlog.EvSCRTMVersion, []byte("OVMF")); err != nil {
			t.Fatal(err)
		}
		for _, img := range apps {
			var ds []eventlog.Digest
			for _, alg := range banks {
				ds = append(ds, eventlog.Digest{Alg: alg, Sum: digest(img, alg)})
			}
			if _, err := l.AppendDigests(4, eventlog.EvEFIBootServicesApplication, ds, []byte("device path")); err != nil {
				t.Fatal(err)
			}
		}
		raw, err := l.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		return writeFile(t, dir, fmt.Sprintf("log%d", len(apps)), raw)
	}
	_, args := sealFixture(t, "ro")
	var out, stderr bytes.Buffer
	if err := run(append([]string{"predict", "-eventlog", log(a), "-payload", payloadB}, args...), &out, &stderr); err != nil {
		t.Fatalf("predict -payload = %v\n%s", err, stderr.String())
	}
	got, err := parsePCRFile(out.Bytes(), 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, alg := range banks {
		h, _ := alg.Hash()
		want := extendAll(h, nil, digest(b, alg))
		if !bytes.Equal(got[alg][4], want) {
			t.Errorf("%v PCR 4 = %x, want %x (the new payload's Authenticode digest extended)", alg, got[alg][4], want)
		}
		if len(got[alg]) != 3 {
			t.Errorf("%v: printed PCRs %v, want 4, 8 and 9", alg, sortedPCRs(got[alg]))
		}
	}
	// The same payload again: PCR 4 does not change, so only 8 and 9 are printed.
	out.Reset()
	if err := run(append([]string{"predict", "-eventlog", log(a), "-payload", payloadA}, args...), &out, &stderr); err != nil {
		t.Fatal(err)
	}
	if same, _ := parsePCRFile(out.Bytes(), 0); len(same[eventlog.AlgSHA256]) != 2 {
		t.Errorf("predict -payload with the same payload printed %v, want PCRs 8 and 9", sortedPCRs(same[eventlog.AlgSHA256]))
	}
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"no -eventlog", []string{"-payload", payloadB}, "-payload needs -eventlog"},
		{"no application", []string{"-eventlog", log(), "-payload", payloadB}, "no EV_EFI_BOOT_SERVICES_APPLICATION event"},
		{"two applications", []string{"-eventlog", log(a, b), "-payload", payloadB}, "2 EFI applications in PCR 4"},
		{"the old one not in the log", []string{"-eventlog", log(a), "-payload", payloadB, "-payload-old", payloadB}, "the log is not of a boot of it"},
		{"not a PE image", []string{"-eventlog", log(a), "-payload", writeFile(t, dir, "junk", []byte("junk"))}, "not a PE/COFF image"},
	} {
		if err := run(append(append([]string{"predict"}, tc.args...), args...), io.Discard, io.Discard); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("predict (%s) = %v, want %q", tc.name, err, tc.want)
		}
	}
	// Two applications, the old one named: its event is replaced.
	if err := run(append([]string{"predict", "-eventlog", log(a, b), "-payload", payloadB, "-payload-old", payloadA}, args...), io.Discard, io.Discard); err != nil {
		t.Errorf("predict -payload-old = %v", err)
	}
}

// TestPredictFromHandedOverLog predicts from a log measuredboot handed over (firmware events,
// then its own): the same values as from the firmware's log alone.
func TestPredictFromHandedOverLog(t *testing.T) {
	_, args := sealFixture(t, "ro")
	var fromFW, stderr bytes.Buffer
	if err := run(append([]string{"predict", "-eventlog", seabiosLog}, args...), &fromFW, &stderr); err != nil {
		t.Fatal(err)
	}
	// The log the predicted boot hands over: the firmware's events, then measuredboot's.
	var handed []byte
	fs := flag.NewFlagSet("p", flag.ContinueOnError)
	o := addPredictFlags(fs)
	if err := fs.Parse(append([]string{"-eventlog", seabiosLog}, args...)); err != nil {
		t.Fatal(err)
	}
	p, err := o.predict(io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	fw, _ := os.ReadFile(seabiosLog)
	l, err := eventlog.Parse(fw)
	if err != nil {
		t.Fatal(err)
	}
	agg, err := ima.NewNG(9, crypto.SHA256, make([]byte, 32), "boot_aggregate")
	if err != nil {
		t.Fatal(err)
	}
	for i, e := range p.Extends {
		// The boot's events, the first with a boot_aggregate's template data as measuredboot
		// writes it (predict finds its own part by it), the digests as extended.
		data := []byte("x")
		if i == 0 {
			data = agg.TemplateData()
		}
		if _, err := l.AppendDigests(e.PCR, eventlog.EvIPL, e.Digests, data); err != nil {
			t.Fatal(err)
		}
	}
	if handed, err = l.Marshal(); err != nil {
		t.Fatal(err)
	}
	path := writeFile(t, t.TempDir(), "tcg.log", handed)
	var fromHanded bytes.Buffer
	stderr.Reset()
	if err := run(append([]string{"predict", "-eventlog", path}, args...), &fromHanded, &stderr); err != nil {
		t.Fatal(err)
	}
	if fromHanded.String() != fromFW.String() {
		t.Errorf("predicted from the handed-over log:\n%s\nfrom the firmware log:\n%s", fromHanded.String(), fromFW.String())
	}
	if !strings.Contains(stderr.String(), "is a log measuredboot handed over") {
		t.Errorf("predict did not say it left measuredboot's events out:\n%s", stderr.String())
	}
}

// TestVerifyGRUBFormat runs the boot flow with event_format=grub on SeaBIOS's log and checks that
// mbctl verify accepts what it hands over, in GRUB's form, and refuses a log continued after the
// handover, a changed command line, and an IMA list of the other format.
// flowBoot runs the boot flow with policy and config (the image's settings) on SeaBIOS's log, an
// entry with command line "ro quiet", and writes what it hands over into a new directory. It
// returns the directory and the TPM after the boot.
func flowBoot(t *testing.T, policy, config string) (string, *tpm.Soft) {
	t.Helper()
	dir := t.TempDir()
	k := writeFile(t, dir, "vmlinuz", bytes.Repeat([]byte("k"), 4096))
	i := writeFile(t, dir, "initrd.img", []byte("initrd"))
	cfg := writeFile(t, dir, "config", []byte(config))
	fw, err := os.ReadFile(seabiosLog)
	if err != nil {
		t.Fatal(err)
	}
	fl, _ := eventlog.Parse(fw)
	start, _ := fl.Replay()
	soft, err := tpm.NewSoft(fl.Banks(), start)
	if err != nil {
		t.Fatal(err)
	}
	sys := &hostSystem{policy: policy, config: cfg, fwlog: fw, tpm: soft,
		entry: discover.Entry{Name: "e", Kernel: k, Initrds: []string{i}, Cmdline: "ro quiet", FS: discover.FS{Mount: dir}}}
	var initrd []byte
	sys.onLoad = func(_, in *kexec.Buffer, _ string) { initrd = bytes.Clone(in.All()) }
	var console bytes.Buffer
	if err := boot.Run(context.Background(), &console, sys); err != nil {
		t.Fatalf("boot.Run = %v\n%s", err, console.String())
	}
	recs, err := cpio.ReadAllRecords(cpio.Newc.Reader(bytes.NewReader(initrd[handover.Align:])))
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		if r.Mode&cpio.S_IFMT == cpio.S_IFREG {
			b, _ := io.ReadAll(io.NewSectionReader(r.ReaderAt, 0, int64(r.FileSize)))
			writeFile(t, dir, filepath.Base(r.Name), b)
		}
	}
	return dir, soft
}

// appendExtended appends an EV_IPL event with data to l in pcr, its digest in each bank that bank's
// hash of hashed, and extends vals (the TPM's values) with it as the TPM would.
func appendExtended(t *testing.T, l *eventlog.Log, vals eventlog.PCRs, pcr uint32, hashed, data []byte) {
	t.Helper()
	var digests []eventlog.Digest
	for _, alg := range l.Banks() {
		d := hashOf(t, alg, hashed)
		digests = append(digests, eventlog.Digest{Alg: alg, Sum: d})
		vals[alg][pcr] = hashOf(t, alg, append(slices.Clone(vals[alg][pcr]), d...))
	}
	if _, err := l.AppendDigests(pcr, eventlog.EvIPL, digests, data); err != nil {
		t.Fatal(err)
	}
}

// writePCRs writes vals as "sha256:9=HEX" lines into dir/name and returns its path.
func writePCRs(t *testing.T, dir, name string, vals eventlog.PCRs) string {
	var b strings.Builder
	for alg, vs := range vals {
		for p, v := range vs {
			fmt.Fprintf(&b, "%v:%d=%x\n", alg, p, v)
		}
	}
	return writeFile(t, dir, name, []byte(b.String()))
}

// TestVerifyMixedFormats: an IMA-format boot's log with a GRUB-style event in PCR 8 after
// measuredboot's events (extended into the TPM too, so the replay matches) is refused as a log of
// mixed formats.
func TestVerifyMixedFormats(t *testing.T) {
	dir, soft := flowBoot(t, "../../configs/policy", "")
	raw, err := os.ReadFile(filepath.Join(dir, "tcg.log"))
	if err != nil {
		t.Fatal(err)
	}
	l, err := eventlog.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	vals := soft.Values()
	appendExtended(t, l, vals, 8, []byte("ro quiet init=/bin/sh"), []byte("kernel_cmdline: ro quiet init=/bin/sh"))
	b, _ := l.Marshal()
	var out, stderr bytes.Buffer
	err = run([]string{"verify", "-tcg", writeFile(t, dir, "mixed.log", b), "-pcrs", writePCRs(t, dir, "pcrs", vals)}, &out, &stderr)
	if err == nil || !strings.Contains(err.Error(), "mixes the two formats") {
		t.Errorf("verify of an IMA-format log with a GRUB-style event = %v, want it refused as mixed\n%s", err, out.String())
	}
}

func TestVerifyGRUBFormat(t *testing.T) {
	dir, soft := flowBoot(t, "../../configs/policy-grub", "event_format=grub\n")
	good := writePCRs(t, dir, "pcrs", soft.Values())
	tcgPath := filepath.Join(dir, "tcg.log")
	imaPath := filepath.Join(dir, "binary_runtime_measurements_sha256")
	var out, stderr bytes.Buffer
	if err := run([]string{"verify", "-tcg", tcgPath, "-ima", imaPath, "-pcrs", good}, &out, &stderr); err != nil {
		t.Fatalf("verify of the flow's grub-format logs = %v\n%s", err, out.String())
	}
	for _, want := range []string{"tcg: event_format=grub", "each one's digest in every bank is the hash of its text",
		"ima boot_aggregate match sha256:", "in GRUB's form, one for one", "end with the kernel_cmdline event"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("verify output lacks %q:\n%s", want, out.String())
		}
	}
	// The IMA list alone cannot check PCRs 8 and 9 in this format, and says so.
	out.Reset()
	if err := run([]string{"verify", "-ima", imaPath, "-pcrs", good}, &out, &stderr); err == nil || !strings.Contains(err.Error(), "give the TCG log with -tcg") {
		t.Errorf("verify of the grub-format IMA list alone = %v, want it to ask for the TCG log", err)
	}

	raw, _ := os.ReadFile(tcgPath)
	l, err := eventlog.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	// Continued after the handover: one more file in PCR 9, extended into the TPM too.
	cont := *l
	cont.Events = append([]eventlog.Event(nil), l.Events...)
	more := soft.Values()
	appendExtended(t, &cont, more, 9, []byte("evil"), []byte("/evil\x00"))
	cb, _ := cont.Marshal()
	out.Reset()
	err = run([]string{"verify", "-tcg", writeFile(t, dir, "continued.log", cb), "-pcrs", writePCRs(t, dir, "more", more)}, &out, &stderr)
	if err == nil || !strings.Contains(err.Error(), "not the booted entry's kernel_cmdline") {
		t.Errorf("verify of a log continued after the handover = %v, want it refused\n%s", err, out.String())
	}
	// A changed command line: its text no longer hashes to its digests.
	changed := bytes.Replace(raw, []byte("kernel_cmdline: ro quiet"), []byte("kernel_cmdline: ro quieT"), 1)
	if bytes.Equal(changed, raw) {
		t.Fatal("the log has no kernel_cmdline event to change")
	}
	out.Reset()
	err = run([]string{"verify", "-tcg", writeFile(t, dir, "changed.log", changed), "-pcrs", good}, &out, &stderr)
	if err == nil || !strings.Contains(err.Error(), "is not the hash of its text") {
		t.Errorf("verify of a changed kernel_cmdline = %v, want it refused\n%s", err, out.String())
	}
	// An IMA list of the IMA format beside the grub-format TCG log.
	f := newFixture(t, []eventlog.Alg{eventlog.AlgSHA256}, false)
	e, _ := ima.NewNG(10, crypto.SHA256, hashOf(t, eventlog.AlgSHA256, []byte("x")), "/x")
	f.add(t, e)
	out.Reset()
	err = run([]string{"verify", "-tcg", tcgPath, "-ima", writeFile(t, dir, "other.ima", f.imaList(t, eventlog.AlgSHA256)), "-pcrs", good}, &out, &stderr)
	if err == nil || !strings.Contains(err.Error(), "has no event_format=grub entry") {
		t.Errorf("verify of a grub-format TCG log with an IMA-format list = %v, want the formats told apart", err)
	}
}
