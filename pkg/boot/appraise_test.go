package boot

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/measuredboot/measuredboot/pkg/discover"
	"github.com/measuredboot/measuredboot/pkg/eventlog"
	"github.com/measuredboot/measuredboot/pkg/imasig"
)

const appraisePolicy = testPolicy + `appraise func=KEXEC_KERNEL_CHECK appraise_type=imasig
appraise func=KEXEC_INITRAMFS_CHECK appraise_type=imasig
`

type testKey struct {
	priv crypto.Signer
	key  imasig.Key
}

func newKey(t *testing.T, kind string) testKey {
	t.Helper()
	keyPEM, certPEM, _, err := imasig.GenerateKey(kind, "measuredboot test "+kind, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	priv, err := imasig.ParsePrivateKey(keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	k, err := imasig.ParseCertificate(kind+".pem", certPEM)
	if err != nil {
		t.Fatal(err)
	}
	return testKey{priv, k}
}

func signFile(t *testing.T, k testKey, h crypto.Hash, path string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	sig, err := imasig.SignFile(k.priv, h, data)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path+".sig", sig, 0o644); err != nil {
		t.Fatal(err)
	}
}

// signedEntry returns an entry whose kernel and initrd are signed by k with h.
func signedEntry(t *testing.T, name string, k testKey, h crypto.Hash) discover.Entry {
	e := entry(t, name, []byte("kernel of "+name), []byte("initrd of "+name))
	signFile(t, k, h, e.Kernel)
	signFile(t, k, h, e.Initrds[0])
	return e
}

func flipByte(t *testing.T, path string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 1
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestAppraisal(t *testing.T) {
	good, other := newKey(t, "p256"), newKey(t, "rsa2048")
	for _, tt := range []struct {
		name   string
		policy string
		setup  func(t *testing.T, e discover.Entry)
		h      crypto.Hash
		want   string // "" = boots
	}{
		{"signed boots", appraisePolicy, nil, crypto.SHA256, ""},
		{"sha512 signature boots", appraisePolicy, nil, crypto.SHA512, ""},
		{"flipped kernel byte", appraisePolicy, func(t *testing.T, e discover.Entry) { flipByte(t, e.Kernel) }, crypto.SHA256,
			"/boot/vmlinuz failed appraisal (KEXEC_KERNEL_CHECK, rule policy:5): bad signature"},
		{"flipped initrd byte", appraisePolicy, func(t *testing.T, e discover.Entry) { flipByte(t, e.Initrds[0]) }, crypto.SHA256,
			"/boot/initrd.img failed appraisal (KEXEC_INITRAMFS_CHECK, rule policy:6): bad signature"},
		{"key not in the image", appraisePolicy, func(t *testing.T, e discover.Entry) { signFile(t, other, crypto.SHA256, e.Kernel) }, crypto.SHA256,
			fmt.Sprintf("unknown key id: FILE.sig: key id 0x%08x is not built into the image", other.key.ID)},
		{"truncated signature", appraisePolicy, func(t *testing.T, e discover.Entry) {
			b, _ := os.ReadFile(e.Kernel + ".sig")
			os.WriteFile(e.Kernel+".sig", b[:len(b)-5], 0o644)
		}, crypto.SHA256, "malformed signature"},
		{"signature of another file", appraisePolicy, func(t *testing.T, e discover.Entry) {
			b, _ := os.ReadFile(e.Initrds[0] + ".sig")
			os.WriteFile(e.Kernel+".sig", b, 0o644)
		}, crypto.SHA256, "bad signature"},
		{"missing signature", appraisePolicy, func(t *testing.T, e discover.Entry) { os.Remove(e.Kernel + ".sig") }, crypto.SHA256,
			"no signature: appraise_type=imasig needs a signature"},
		{"algorithm not allowed", testPolicy + "appraise func=KEXEC_KERNEL_CHECK appraise_type=imasig appraise_algos=sha256\n", nil, crypto.SHA512,
			"algorithm not allowed"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := signedEntry(t, "e", good, tt.h)
			if tt.setup != nil {
				tt.setup(t, e)
			}
			sys := &fakeSystem{policy: tt.policy, tpm: newFakeTPM(eventlog.AlgSHA256), keys: []imasig.Key{good.key}, entries: []discover.Entry{e}}
			var out bytes.Buffer
			err := Run(context.Background(), &out, sys)
			if tt.want == "" {
				if err != nil || sys.loads != 1 {
					t.Fatalf("run() = %v with %d loads, want a boot\n%s", err, sys.loads, out.String())
				}
				if !strings.Contains(out.String(), ", appraised\n") {
					t.Errorf("console lacks an appraised verdict:\n%s", out.String())
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) || sys.loads != 0 {
				t.Fatalf("run() = %v with %d loads, want a refusal containing %q\n%s", err, sys.loads, tt.want, out.String())
			}
			if !strings.Contains(out.String(), "appraisal FAILED") {
				t.Errorf("console lacks the failed verdict:\n%s", out.String())
			}
		})
	}
}

// A refused default entry falls back to a good second one; the failure stays in the log.
func TestAppraisalFallback(t *testing.T) {
	k := newKey(t, "p256")
	bad, good := signedEntry(t, "bad", k, crypto.SHA256), signedEntry(t, "good", k, crypto.SHA256)
	flipByte(t, bad.Kernel)
	sys := &fakeSystem{policy: appraisePolicy, tpm: newFakeTPM(eventlog.AlgSHA1, eventlog.AlgSHA256), keys: []imasig.Key{k.key}, entries: []discover.Entry{bad, good}}
	var out bytes.Buffer
	if err := Run(context.Background(), &out, sys); err != nil {
		t.Fatalf("run() = %v\n%s", err, out.String())
	}
	if !bytes.Equal(sys.loaded.kernel, []byte("kernel of good")) {
		t.Fatalf("loaded %q, want the good entry's kernel", sys.loaded.kernel)
	}
	files := handedOver(t, sys.loaded.initrd, len("initrd of good"))
	if !strings.Contains(string(files["ima/ascii_runtime_measurements_sha256"]), " measuredboot.appraisal-failed ") {
		t.Errorf("handed-over IMA list lacks the failed appraisal")
	}
	l, err := eventlog.Parse(files["tcg.log"])
	if err != nil {
		t.Fatal(err)
	}
	if mm, err := l.Verify(sys.tpm.pcrs); err != nil || len(mm) != 0 {
		t.Errorf("replay: %v %v", mm, err)
	}
}

func TestLogMode(t *testing.T) {
	k := newKey(t, "p256")
	e := signedEntry(t, "tampered", k, crypto.SHA256)
	flipByte(t, e.Kernel)
	sys := &fakeSystem{policy: appraisePolicy, config: "appraise_mode=log\n", tpm: newFakeTPM(eventlog.AlgSHA256), keys: []imasig.Key{k.key}, entries: []discover.Entry{e}}
	var out bytes.Buffer
	if err := Run(context.Background(), &out, sys); err != nil || sys.loads != 1 {
		t.Fatalf("run() = %v, %d loads; want the tampered kernel booted in log mode\n%s", err, sys.loads, out.String())
	}
	if !strings.Contains(out.String(), "log mode, booting anyway: /boot/vmlinuz failed appraisal") {
		t.Errorf("console lacks the log-mode line:\n%s", out.String())
	}
	files := handedOver(t, sys.loaded.initrd, len("initrd of tampered"))
	if !strings.Contains(string(files["ima/ascii_runtime_measurements_sha256"]), " measuredboot.appraisal-failed ") {
		t.Errorf("handed-over IMA list lacks the failed appraisal")
	}
}

func TestRecoveryShell(t *testing.T) {
	k := newKey(t, "p256")
	e := signedEntry(t, "tampered", k, crypto.SHA256)
	flipByte(t, e.Kernel)
	sys := &fakeSystem{policy: appraisePolicy, config: "on_refuse=shell\n", tpm: newFakeTPM(eventlog.AlgSHA256), keys: []imasig.Key{k.key}, entries: []discover.Entry{e}}
	before := newFakeTPM(eventlog.AlgSHA256)
	var out bytes.Buffer
	err := Run(context.Background(), &out, sys)
	if !errors.Is(err, ErrRecovery) || sys.loads != 0 {
		t.Fatalf("run() = %v with %d loads, want ErrRecovery and no boot", err, sys.loads)
	}
	if !strings.Contains(out.String(), "recovery shell: PCRs 8 and 9 were extended") {
		t.Errorf("console lacks the recovery line:\n%s", out.String())
	}
	for _, pcr := range []uint32{8, 9} {
		if bytes.Equal(sys.tpm.pcrs[eventlog.AlgSHA256][pcr], before.pcrs[eventlog.AlgSHA256][pcr]) {
			t.Errorf("PCR %d unchanged by the recovery event", pcr)
		}
	}
}

func TestDigestList(t *testing.T) {
	pol := testPolicy + "appraise func=KEXEC_INITRAMFS_CHECK\n"
	for _, tt := range []struct {
		name, list string
		boots      bool
	}{
		{"listed", "sha256:%x /boot/initrd.img\n", true},
		{"listed for any path", "sha256:%x *\n", true},
		{"listed for another path", "sha256:%x /boot/other.img\n", false},
		{"not listed", "sha256:%.0x" + strings.Repeat("00", 32) + " *\n", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			initrd := []byte("host-generated initramfs")
			e := entry(t, "e", []byte("k"), initrd)
			sys := &fakeSystem{policy: pol, tpm: newFakeTPM(eventlog.AlgSHA256), digests: fmt.Sprintf(tt.list, sha256.Sum256(initrd)), entries: []discover.Entry{e}}
			var out bytes.Buffer
			err := Run(context.Background(), &out, sys)
			if tt.boots != (err == nil && sys.loads == 1) {
				t.Errorf("run() = %v, %d loads; want boots=%v\n%s", err, sys.loads, tt.boots, out.String())
			}
			if !tt.boots && (err == nil || !strings.Contains(err.Error(), "not in the digest list")) {
				t.Errorf("run() = %v, want 'not in the digest list'", err)
			}
		})
	}
}

func TestPolicyAppraisal(t *testing.T) {
	k := newKey(t, "p256")
	pol := testPolicy + "appraise func=POLICY_CHECK appraise_type=imasig\n"
	sig, err := imasig.SignFile(k.priv, crypto.SHA256, []byte(pol))
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name  string
		sigs  map[string][]byte
		boots bool
	}{
		{"signed policy", map[string][]byte{PolicyPath: sig}, true},
		{"unsigned policy", nil, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			sys := &fakeSystem{policy: pol, sigs: tt.sigs, tpm: newFakeTPM(eventlog.AlgSHA256), keys: []imasig.Key{k.key}, entries: []discover.Entry{entry(t, "e", []byte("k"), []byte("i"))}}
			var out bytes.Buffer
			err := Run(context.Background(), &out, sys)
			if tt.boots != (err == nil) {
				t.Errorf("run() = %v, want boots=%v\n%s", err, tt.boots, out.String())
			}
			if !tt.boots && !strings.Contains(fmt.Sprint(err), "refused /etc/measuredboot/policy: /etc/measuredboot/policy failed appraisal (POLICY_CHECK") {
				t.Errorf("run() = %v, want the policy refused", err)
			}
		})
	}
}

// Early images are measured and appraised on their own (under FIRMWARE_CHECK where the policy has
// rules for it, first, and always under KEXEC_INITRAMFS_CHECK: TestEarlyImagesAreInitramfs) and
// the kernel gets the concatenation, early images first.
func TestMicrocode(t *testing.T) {
	k := newKey(t, "p256")
	pol := testPolicy + "measure func=FIRMWARE_CHECK pcr=9\nappraise func=FIRMWARE_CHECK appraise_type=imasig\n"
	for _, signed := range []bool{true, false} {
		t.Run(fmt.Sprintf("signed=%v", signed), func(t *testing.T) {
			e := entry(t, "ucode", []byte("kernel"), []byte("main initramfs"))
			ucode := strings.Replace(e.Initrds[0], "initrd.img", "intel-ucode.img", 1)
			if err := os.WriteFile(ucode, []byte("GenuineIntel"), 0o644); err != nil {
				t.Fatal(err)
			}
			if signed {
				signFile(t, k, crypto.SHA256, ucode)
			}
			e.Initrds = append([]string{ucode}, e.Initrds...)
			sys := &fakeSystem{policy: pol, tpm: newFakeTPM(eventlog.AlgSHA256), keys: []imasig.Key{k.key}, entries: []discover.Entry{e}}
			var out bytes.Buffer
			err := Run(context.Background(), &out, sys)
			if !signed {
				if err == nil || !strings.Contains(err.Error(), "/boot/intel-ucode.img failed appraisal (FIRMWARE_CHECK, rule policy:6): no signature") {
					t.Fatalf("run() = %v, want the microcode refused\n%s", err, out.String())
				}
				return
			}
			if err != nil {
				t.Fatalf("run() = %v\n%s", err, out.String())
			}
			if want := "GenuineIntel" + "main initramfs"; !bytes.HasPrefix(sys.loaded.initrd, []byte(want)) {
				t.Errorf("loaded initrd starts %q, want %q", sys.loaded.initrd[:26], want)
			}
			if !strings.Contains(out.String(), "FIRMWARE_CHECK        pcr=9  sha256:") || !strings.Contains(out.String(), "/boot/intel-ucode.img measured ima-ng, appraised") {
				t.Errorf("console lacks the microcode line:\n%s", out.String())
			}
		})
	}
}

func TestFirmwareDir(t *testing.T) {
	k := newKey(t, "p256")
	pol := testPolicy + "measure func=FIRMWARE_CHECK pcr=9\nappraise func=FIRMWARE_CHECK appraise_type=imasig\n"
	for _, signed := range []bool{true, false} {
		t.Run(fmt.Sprintf("signed=%v", signed), func(t *testing.T) {
			e := entry(t, "fw", []byte("kernel"), []byte("main initramfs"))
			dir := e.FS.Mount + "/boot/firmware/vendor"
			os.MkdirAll(dir, 0o755)
			os.WriteFile(dir+"/nic.bin", []byte("nic firmware"), 0o644)
			if signed {
				signFile(t, k, crypto.SHA256, dir+"/nic.bin")
			}
			sys := &fakeSystem{policy: pol, config: "firmware_dir=/boot/firmware\n", tpm: newFakeTPM(eventlog.AlgSHA256), keys: []imasig.Key{k.key}, entries: []discover.Entry{e}}
			var out bytes.Buffer
			err := Run(context.Background(), &out, sys)
			if !signed {
				if err == nil || !strings.Contains(err.Error(), "/boot/firmware/vendor/nic.bin failed appraisal (FIRMWARE_CHECK, rule policy:6): no signature") {
					t.Fatalf("run() = %v, want the firmware refused\n%s", err, out.String())
				}
				return
			}
			if err != nil {
				t.Fatalf("run() = %v\n%s", err, out.String())
			}
			if !bytes.Contains(sys.loaded.initrd, []byte("lib/firmware/vendor/nic.bin\x00")) || !bytes.Contains(sys.loaded.initrd, []byte("nic firmware")) {
				t.Errorf("the next initramfs lacks lib/firmware/vendor/nic.bin")
			}
			if !strings.Contains(out.String(), "/boot/firmware/vendor/nic.bin measured ima-ng, appraised") {
				t.Errorf("console lacks the firmware line:\n%s", out.String())
			}
		})
	}
}

func TestDeviceTreeRefused(t *testing.T) {
	e := entry(t, "dtb", []byte("kernel"), []byte("initrd"))
	e.DTB = e.FS.Mount + "/boot/board.dtb"
	os.WriteFile(e.DTB, []byte("\xd0\x0d\xfe\xed"), 0o644)
	sys := &fakeSystem{policy: testPolicy + "measure func=FIRMWARE_CHECK pcr=9\n", tpm: newFakeTPM(eventlog.AlgSHA256), entries: []discover.Entry{e}}
	var out bytes.Buffer
	err := Run(context.Background(), &out, sys)
	if err == nil || !strings.Contains(err.Error(), "refused /boot/board.dtb: entry \"dtb\" names a device tree") || sys.loads != 0 {
		t.Fatalf("run() = %v, %d loads; want the entry refused for its device tree\n%s", err, sys.loads, out.String())
	}
	if !strings.Contains(out.String(), "FIRMWARE_CHECK        pcr=9") {
		t.Errorf("the device tree was not measured first:\n%s", out.String())
	}
}

// TestFirmwareDirIsInitramfs: firmware files are appended to the initramfs, so a policy that
// appraises KEXEC_INITRAMFS_CHECK and says nothing of FIRMWARE_CHECK still refuses an unsigned one
// (before, they were checked under FIRMWARE_CHECK alone and reached /lib/firmware unchecked).
func TestFirmwareDirIsInitramfs(t *testing.T) {
	k := newKey(t, "p256")
	for _, signed := range []bool{true, false} {
		t.Run(fmt.Sprintf("signed=%v", signed), func(t *testing.T) {
			e := entry(t, "fw", []byte("kernel"), []byte("main initramfs"))
			signFile(t, k, crypto.SHA256, e.Kernel)
			signFile(t, k, crypto.SHA256, e.Initrds[0])
			dir := e.FS.Mount + "/boot/firmware"
			os.MkdirAll(dir, 0o755)
			os.WriteFile(dir+"/nic.bin", []byte("nic firmware"), 0o644)
			if signed {
				signFile(t, k, crypto.SHA256, dir+"/nic.bin")
			}
			sys := &fakeSystem{policy: appraisePolicy, config: "firmware_dir=/boot/firmware\n", tpm: newFakeTPM(eventlog.AlgSHA256), keys: []imasig.Key{k.key}, entries: []discover.Entry{e}}
			var out bytes.Buffer
			err := Run(context.Background(), &out, sys)
			if !signed {
				if err == nil || !strings.Contains(err.Error(), "/boot/firmware/nic.bin failed appraisal (KEXEC_INITRAMFS_CHECK") || sys.loads != 0 {
					t.Fatalf("run() = %v, %d loads; want the unsigned firmware file refused under KEXEC_INITRAMFS_CHECK\n%s", err, sys.loads, out.String())
				}
				return
			}
			if err != nil || sys.loads != 1 {
				t.Fatalf("run() = %v\n%s", err, out.String())
			}
			if !strings.Contains(out.String(), "KEXEC_INITRAMFS_CHECK pcr=9") || !strings.Contains(out.String(), "/boot/firmware/nic.bin measured ima-ng, appraised") {
				t.Errorf("console lacks the firmware file's KEXEC_INITRAMFS_CHECK line:\n%s", out.String())
			}
		})
	}
}

// TestFirmwareFilesPerBoot: the firmware files read over every entry tried in one boot are
// bounded, not only those of one entry: a disk of many entries, each refused after its firmware
// was read, cannot make the boot read and extend without end.
func TestFirmwareFilesPerBoot(t *testing.T) {
	var entries []discover.Entry
	for _, name := range []string{"first", "second"} {
		e := entry(t, name, []byte("kernel"), []byte("initrd"))
		dir := e.FS.Mount + "/boot/firmware"
		os.MkdirAll(dir, 0o755)
		for i := range 2100 {
			os.WriteFile(fmt.Sprintf("%s/f%04d.bin", dir, i), []byte{byte(i)}, 0o644)
		}
		entries = append(entries, e)
	}
	sys := &fakeSystem{policy: testPolicy + "measure func=FIRMWARE_CHECK pcr=9\n", config: "firmware_dir=/boot/firmware\n",
		tpm: newFakeTPM(eventlog.AlgSHA256), entries: entries,
		loadErr: func(load int) error { return errors.New("kexec_file_load: EINVAL") }}
	var out bytes.Buffer
	err := Run(context.Background(), &out, sys)
	if err == nil || !strings.Contains(err.Error(), `entry "second": its 2100 firmware files would make 4200 read in this boot, over the bound of 4096`) {
		t.Fatalf("Run = %v, want the second entry refused for the per-boot bound\n%s", err, lastLines(out.String(), 5))
	}
}

// lastLines returns the last n lines of s.
func lastLines(s string, n int) string {
	l := strings.Split(strings.TrimSpace(s), "\n")
	return strings.Join(l[max(0, len(l)-n):], "\n")
}
