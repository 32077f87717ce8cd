package boot

import (
	"bytes"
	"context"
	"crypto"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/measuredboot/measuredboot/pkg/discover"
	"github.com/measuredboot/measuredboot/pkg/eventlog"
	"github.com/measuredboot/measuredboot/pkg/ima"
	"github.com/measuredboot/measuredboot/pkg/imasig"
	"github.com/measuredboot/measuredboot/pkg/kexec"
	"github.com/measuredboot/measuredboot/pkg/measure"
)

// ucodeEntry returns an entry "initrd /boot/intel-ucode.img /boot/initrd.img" whose kernel and
// main initramfs are signed by k, and the early image's path.
func ucodeEntry(t *testing.T, k testKey) (discover.Entry, string) {
	t.Helper()
	e := signedEntry(t, "ucode", k, crypto.SHA256)
	ucode := filepath.Join(filepath.Dir(e.Initrds[0]), "intel-ucode.img")
	if err := os.WriteFile(ucode, []byte("GenuineIntel microcode"), 0o644); err != nil {
		t.Fatal(err)
	}
	e.Initrds = append([]string{ucode}, e.Initrds...)
	return e, ucode
}

// imaList returns the names and PCRs of the handed-over SHA-256 IMA list's entries, and the list.
func imaList(t *testing.T, sys *fakeSystem, initrdLen int) ([]string, []ima.ListEntry) {
	t.Helper()
	files := handedOver(t, sys.loaded.initrd, initrdLen)
	list, err := ima.ParseBinaryList(files["ima/binary_runtime_measurements_sha256"], 32)
	if err != nil {
		t.Fatalf("handed-over IMA list: %v", err)
	}
	var names []string
	for _, e := range list {
		names = append(names, fmt.Sprintf("%d %s", e.PCR, e.Name()))
	}
	return names, list
}

// TestEarlyImagesAreInitramfs: every part of the initramfs buffer is a KEXEC_INITRAMFS_CHECK
// object, measured and appraised on its own, whatever FIRMWARE_CHECK says; where the policy also
// has FIRMWARE_CHECK rules, both checks must pass, and an identical measurement is recorded once.
func TestEarlyImagesAreInitramfs(t *testing.T) {
	k := newKey(t, "p256")
	const fwRules = "measure func=FIRMWARE_CHECK pcr=9\nappraise func=FIRMWARE_CHECK appraise_type=imasig\n"
	ucodeLen := len("GenuineIntel microcode")
	initrdLen := (ucodeLen+3)/4*4 + len("initrd of ucode")
	for _, tt := range []struct {
		name    string
		policy  string
		setup   func(t *testing.T, ucode string)
		digests string
		want    string   // refusal; "" = boots
		list    []string // the handed-over IMA list, when it boots
	}{
		{"unsigned, initramfs rules only", appraisePolicy, nil, "",
			"/boot/intel-ucode.img failed appraisal (KEXEC_INITRAMFS_CHECK, rule policy:6): no signature", nil},
		{"signed, initramfs rules only", appraisePolicy, func(t *testing.T, u string) { signFile(t, k, crypto.SHA256, u) }, "", "",
			[]string{"9 boot_aggregate", "9 /etc/measuredboot/policy", "8 measuredboot.entry", "9 /boot/vmlinuz", "9 /boot/intel-ucode.img", "9 /boot/initrd.img", "8 kexec-cmdline", "8 " + measure.SeparatorName, "9 " + measure.SeparatorName}},
		// The QEMU scenario appraise-microcode: FIRMWARE_CHECK is checked first and names the refusal.
		{"flipped, both rules", appraisePolicy + fwRules, func(t *testing.T, u string) { signFile(t, k, crypto.SHA256, u); flipByte(t, u) }, "",
			"/boot/intel-ucode.img failed appraisal (FIRMWARE_CHECK, rule policy:8): bad signature", nil},
		// FIRMWARE_CHECK is satisfied by the digest list; KEXEC_INITRAMFS_CHECK demands a signature.
		{"firmware passes, initramfs fails", appraisePolicy + "appraise func=FIRMWARE_CHECK\n", nil, "sha256:%x /boot/intel-ucode.img\n",
			"/boot/intel-ucode.img failed appraisal (KEXEC_INITRAMFS_CHECK, rule policy:6): no signature", nil},
		// The same ima-ng entry in PCR 9 for both hooks is recorded once.
		{"signed, both rules", appraisePolicy + fwRules, func(t *testing.T, u string) { signFile(t, k, crypto.SHA256, u) }, "", "",
			[]string{"9 boot_aggregate", "9 /etc/measuredboot/policy", "8 measuredboot.entry", "9 /boot/vmlinuz", "9 /boot/intel-ucode.img", "9 /boot/initrd.img", "8 kexec-cmdline", "8 " + measure.SeparatorName, "9 " + measure.SeparatorName}},
		// Different PCRs: both measurements are recorded, FIRMWARE_CHECK's first.
		{"signed, firmware in PCR 11", appraisePolicy + "measure func=FIRMWARE_CHECK pcr=11\n", func(t *testing.T, u string) { signFile(t, k, crypto.SHA256, u) }, "", "",
			[]string{"9 boot_aggregate", "9 /etc/measuredboot/policy", "8 measuredboot.entry", "9 /boot/vmlinuz", "11 /boot/intel-ucode.img", "9 /boot/intel-ucode.img", "9 /boot/initrd.img", "8 kexec-cmdline", "8 " + measure.SeparatorName, "9 " + measure.SeparatorName, "11 " + measure.SeparatorName}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e, ucode := ucodeEntry(t, k)
			if tt.setup != nil {
				tt.setup(t, ucode)
			}
			digests := tt.digests
			if digests != "" {
				b, _ := os.ReadFile(ucode)
				digests = fmt.Sprintf(digests, sha256sum(b))
			}
			sys := &fakeSystem{policy: tt.policy, digests: digests, tpm: newFakeTPM(eventlog.AlgSHA256), keys: []imasig.Key{k.key}, entries: []discover.Entry{e}}
			var out bytes.Buffer
			err := Run(context.Background(), &out, sys)
			if tt.want != "" {
				if err == nil || !strings.Contains(err.Error(), tt.want) || sys.loads != 0 {
					t.Fatalf("Run() = %v with %d loads, want a refusal containing %q\n%s", err, sys.loads, tt.want, out.String())
				}
				return
			}
			if err != nil || sys.loads != 1 {
				t.Fatalf("Run() = %v with %d loads, want a boot\n%s", err, sys.loads, out.String())
			}
			if want := "KEXEC_INITRAMFS_CHECK pcr=9  sha256:"; !strings.Contains(out.String(), want) ||
				!strings.Contains(out.String(), "/boot/intel-ucode.img measured ima-ng, appraised") {
				t.Errorf("console lacks the early image's KEXEC_INITRAMFS_CHECK line:\n%s", out.String())
			}
			// Each file is hashed once, the early image too, whatever hooks it meets.
			hashed := len(tt.policy) + len("kernel of ucode") + ucodeLen + len("initrd of ucode") + len("console=ttyS0 ro")
			if want := fmt.Sprintf(", hashed %d;", hashed); !strings.Contains(out.String(), want) {
				t.Errorf("console lacks %q (each file hashed once):\n%s", want, out.String())
			}
			names, _ := imaList(t, sys, initrdLen)
			if strings.Join(names, "\n") != strings.Join(tt.list, "\n") {
				t.Errorf("IMA list:\n%s\nwant:\n%s", strings.Join(names, "\n"), strings.Join(tt.list, "\n"))
			}
		})
	}
}

func sha256sum(b []byte) []byte { h := crypto.SHA256.New(); h.Write(b); return h.Sum(nil) }

// TestRecoveryClosesEveryPCR: before the shell, the recovery event goes once into 8, 9 and every
// PCR a measure rule names, PCR 10 for a rule without pcr=.
func TestRecoveryClosesEveryPCR(t *testing.T) {
	k := newKey(t, "p256")
	e := signedEntry(t, "tampered", k, crypto.SHA256)
	flipByte(t, e.Kernel)
	pol := appraisePolicy + "measure func=FIRMWARE_CHECK pcr=11\nmeasure func=FIRMWARE_CHECK pcr=12 fsname=vfat\nmeasure func=FIRMWARE_CHECK fsname=tmpfs\n"
	sys := &fakeSystem{policy: pol, config: "on_refuse=shell\n", tpm: newFakeTPM(eventlog.AlgSHA256), keys: []imasig.Key{k.key}, entries: []discover.Entry{e}}
	var out bytes.Buffer
	err := Run(context.Background(), &out, sys)
	if !errors.Is(err, ErrRecovery) || sys.loads != 0 {
		t.Fatalf("Run() = %v with %d loads, want ErrRecovery and no boot\n%s", err, sys.loads, out.String())
	}
	// Nothing but the recovery event touched 10, 11 and 12: one extend each.
	for _, pcr := range []uint32{10, 11, 12} {
		if n := sys.tpm.extends[pcr]; n != 1 {
			t.Errorf("PCR %d extended %d times, want once (the recovery event)", pcr, n)
		}
	}
	if n := sys.tpm.extends[13]; n != 0 {
		t.Errorf("PCR 13, which no rule names, extended %d times", n)
	}
	if !strings.Contains(out.String(), "recovery shell: PCRs 8, 9, 10, 11 and 12 were extended with a recovery event") {
		t.Errorf("console lacks the recovery line:\n%s", out.String())
	}
}

// TestKexecFailureIsLogged: when kexec_file_load fails for the first entry, the log says so
// before the next entry's events, and each entry's events follow a marker naming it, so that a
// verifier can tell from the log alone which entry booted.
func TestKexecFailureIsLogged(t *testing.T) {
	first, second := entry(t, "first", []byte("k1"), []byte("i1")), entry(t, "second", []byte("k2"), []byte("i2"))
	second.Source = "vdb1 bls"
	sys := &fakeSystem{policy: testPolicy, tpm: newFakeTPM(eventlog.AlgSHA256), entries: []discover.Entry{first, second}}
	sys.loadErr = func(n int) error {
		if n == 1 {
			return errors.New("kexec_file_load: EINVAL")
		}
		return nil
	}
	var out bytes.Buffer
	if err := Run(context.Background(), &out, sys); err != nil || sys.loads != 2 || !bytes.Equal(sys.loaded.kernel, []byte("k2")) {
		t.Fatalf("Run() = %v, %d loads, loaded %q; want the second entry booted\n%s", err, sys.loads, sys.loaded.kernel, out.String())
	}
	names, list := imaList(t, sys, len("i2"))
	sep := measure.SeparatorName
	want := []string{"9 boot_aggregate", "9 /etc/measuredboot/policy",
		"8 measuredboot.entry", "9 /boot/vmlinuz", "9 /boot/initrd.img", "8 kexec-cmdline", "8 " + sep, "9 " + sep,
		"8 measuredboot.kexec-failed",
		"8 measuredboot.entry", "9 /boot/vmlinuz", "9 /boot/initrd.img", "8 kexec-cmdline", "8 " + sep, "9 " + sep}
	if strings.Join(names, "\n") != strings.Join(want, "\n") {
		t.Fatalf("IMA list:\n%s\nwant:\n%s", strings.Join(names, "\n"), strings.Join(want, "\n"))
	}
	buf := func(i int) string {
		f, err := list[i].Fields()
		if err != nil || len(f) != 3 {
			t.Fatalf("entry %d: fields %q, %v", i, f, err)
		}
		return string(f[2])
	}
	if got, want := buf(2), string(EntryMarker(first)); got != want || !strings.Contains(got, `"first"`) || !strings.Contains(got, `"vda1 grub"`) {
		t.Errorf("first marker = %q, want %q naming the entry and its source", got, want)
	}
	if got := buf(8); !strings.Contains(got, `"first"`) || !strings.Contains(got, "kexec_file_load: EINVAL") {
		t.Errorf("kexec-failed buffer = %q, want the entry's name and the error", got)
	}
	if got := buf(9); !strings.Contains(got, `"second"`) || !strings.Contains(got, `"vdb1 bls"`) {
		t.Errorf("second marker = %q, want the second entry's name and source", got)
	}
	l, err := eventlog.Parse(handedOver(t, sys.loaded.initrd, len("i2"))["tcg.log"])
	if err != nil {
		t.Fatal(err)
	}
	if mm, err := l.Verify(sys.tpm.pcrs); err != nil || len(mm) != 0 {
		t.Errorf("replay of the handed-over log: %v, %v", mm, err)
	}
}

// TestResettablePCRWarning: a measure rule with pcr=16 or pcr=23 is warned about once, at start.
func TestResettablePCRWarning(t *testing.T) {
	pol := testPolicy + "measure func=FIRMWARE_CHECK pcr=16\n"
	sys := &fakeSystem{policy: pol, tpm: newFakeTPM(eventlog.AlgSHA256),
		entries: []discover.Entry{entry(t, "broken", nil, []byte("i")), entry(t, "good", []byte("k"), []byte("i"))}}
	var out bytes.Buffer
	if err := Run(context.Background(), &out, sys); err != nil {
		t.Fatalf("Run() = %v\n%s", err, out.String())
	}
	want := "measuredboot: warning: " + PolicyPath + ":5: pcr=16 can be reset from locality 0 on a PC Client TPM"
	if n := strings.Count(out.String(), want); n != 1 {
		t.Errorf("console has %d lines %q, want 1:\n%s", n, want, out.String())
	}
}

// TestConsoleEscapesNames: names, paths and command lines from the disk reach the console and the
// ASCII IMA list without raw control bytes, and the binary list with the exact name.
func TestConsoleEscapesNames(t *testing.T) {
	const evil = "\n\x1b[2J\rmeasuredboot: kexec fake"
	e := entry(t, "menu"+evil, nil, []byte("initrd"))
	e.Kernel = filepath.Join(e.FS.Mount, "boot", "vmlinuz"+evil)
	if err := os.WriteFile(e.Kernel, []byte("kernel"), 0o644); err != nil {
		t.Fatal(err)
	}
	e.Cmdline = "ro" + evil
	missing := e
	missing.Name = "missing" + evil
	missing.Kernel += "-missing"
	sys := &fakeSystem{policy: testPolicy, tpm: newFakeTPM(eventlog.AlgSHA256), entries: []discover.Entry{missing, e}}
	var out bytes.Buffer
	if err := Run(context.Background(), &out, sys); err != nil || sys.loads != 1 {
		t.Fatalf("Run() = %v, %d loads\n%s", err, sys.loads, out.String())
	}
	noControl := func(what, s string) {
		t.Helper()
		for _, line := range strings.SplitAfter(s, "\n") {
			for i, c := range []byte(strings.TrimSuffix(line, "\n")) {
				if c < 0x20 || c == 0x7f {
					t.Errorf("%s line %q has control byte 0x%02x at %d", what, line, c, i)
				}
			}
		}
	}
	noControl("console", out.String())
	for _, line := range strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n") {
		if !strings.HasPrefix(line, "measuredboot: ") {
			t.Errorf("console line %q does not start with \"measuredboot: \"", line)
		}
	}
	if n := strings.Count("\n"+out.String(), "\nmeasuredboot: kexec "); n != 1 {
		t.Errorf("console has %d kexec lines, want 1:\n%s", n, out.String())
	}
	for _, want := range []string{`/boot/vmlinuz\012\033[2J\015measuredboot: kexec fake measured ima-ng`, `measuredboot: kexec menu\012\033[2J\015measuredboot: kexec fake`} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("console lacks %q:\n%s", want, out.String())
		}
	}
	files := handedOver(t, sys.loaded.initrd, len("initrd"))
	noControl("IMA ASCII list", string(files["ima/ascii_runtime_measurements_sha256"]))
	if _, err := ima.ParseASCIIList(files["ima/ascii_runtime_measurements_sha256"]); err != nil {
		t.Errorf("the handed-over ASCII list does not parse: %v", err)
	}
	names, _ := imaList(t, sys, len("initrd"))
	if want := "9 /boot/vmlinuz" + strings.ReplaceAll(evil, " ", "_"); !strings.Contains(strings.Join(names, "|"), want) {
		t.Errorf("binary list names %q, want the exact %q", names, want)
	}

	// A refusal's error, which the caller prints, is escaped too.
	sys = &fakeSystem{policy: testPolicy, tpm: newFakeTPM(eventlog.AlgSHA256), entries: []discover.Entry{missing}}
	err := Run(context.Background(), &out, sys)
	if err == nil || strings.ContainsAny(err.Error(), "\n\r\x1b") || !strings.Contains(err.Error(), `vmlinuz\012\033[2J\015`) {
		t.Errorf("Run() = %q, want a refusal without raw control bytes", err)
	}
}

// ownerSystem is a fakeSystem whose files belong to the owners and groups it names (by base
// name), as the fstat of their descriptors would say.
type ownerSystem struct {
	*fakeSystem
	owner, group map[string]uint32
}

func (s *ownerSystem) ReadFile(p string) (*kexec.Buffer, error) {
	b, err := s.fakeSystem.ReadFile(p)
	if err == nil {
		b.Owner, b.Group = s.owner[filepath.Base(p)], s.group[filepath.Base(p)]
	}
	return b, err
}

func (s *ownerSystem) ReadFiles(n string, ps []string) (*kexec.Buffer, []kexec.Part, error) {
	b, parts, err := s.fakeSystem.ReadFiles(n, ps)
	for i := range parts {
		parts[i].Owner, parts[i].Group = s.owner[filepath.Base(parts[i].Path)], s.group[filepath.Base(parts[i].Path)]
	}
	return b, parts, err
}

// TestFileOwner: fowner= and fgroup= see the owner and group of the file each buffer was read
// from: a dont_appraise fowner=0 rule exempts a root-owned file and not one owned by 1000.
func TestFileOwner(t *testing.T) {
	pol := testPolicy + "dont_appraise fowner=0 fgroup=0\nappraise func=KEXEC_KERNEL_CHECK appraise_type=imasig\nappraise func=KEXEC_INITRAMFS_CHECK appraise_type=imasig\n"
	for _, tt := range []struct {
		name         string
		owner, group map[string]uint32
		want         string // refusal; "" = boots
	}{
		{"root's files", nil, nil, ""},
		{"kernel owned by 1000", map[string]uint32{"vmlinuz": 1000}, nil, "/boot/vmlinuz failed appraisal (KEXEC_KERNEL_CHECK, rule policy:6): no signature"},
		{"early image owned by 1000", map[string]uint32{"intel-ucode.img": 1000}, nil, "/boot/intel-ucode.img failed appraisal (KEXEC_INITRAMFS_CHECK, rule policy:7): no signature"},
		{"initrd in group 1000", nil, map[string]uint32{"initrd.img": 1000}, "/boot/initrd.img failed appraisal (KEXEC_INITRAMFS_CHECK, rule policy:7): no signature"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := entry(t, "e", []byte("unsigned kernel"), []byte("unsigned initrd"))
			ucode := filepath.Join(filepath.Dir(e.Initrds[0]), "intel-ucode.img")
			if err := os.WriteFile(ucode, []byte("unsigned microcode"), 0o644); err != nil {
				t.Fatal(err)
			}
			e.Initrds = append([]string{ucode}, e.Initrds...)
			sys := &ownerSystem{&fakeSystem{policy: pol, tpm: newFakeTPM(eventlog.AlgSHA256), entries: []discover.Entry{e}}, tt.owner, tt.group}
			var out bytes.Buffer
			err := Run(context.Background(), &out, sys)
			if tt.want == "" {
				if err != nil || sys.loads != 1 {
					t.Fatalf("Run() = %v with %d loads, want a boot (root's files are exempt)\n%s", err, sys.loads, out.String())
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) || sys.loads != 0 {
				t.Fatalf("Run() = %v with %d loads, want a refusal containing %q\n%s", err, sys.loads, tt.want, out.String())
			}
		})
	}
}

// TestEntriesBounded: a disk with more entries than MaxEntries gets only the first MaxEntries
// tried, each read once, and the console says so.
func TestEntriesBounded(t *testing.T) {
	sys := &fakeSystem{policy: testPolicy, tpm: newFakeTPM(eventlog.AlgSHA256)}
	// Entries whose kernel is missing are refused at once: only the reads are counted.
	for i := 0; i < MaxEntries+10; i++ {
		sys.entries = append(sys.entries, discover.Entry{Name: fmt.Sprint("e", i), Source: "vda1 grub", Kernel: filepath.Join(t.TempDir(), "missing")})
	}
	var out bytes.Buffer
	err := Run(context.Background(), &out, sys)
	if err == nil {
		t.Fatal("Run() = nil, want a refusal")
	}
	if n := strings.Count(out.String(), "trying the next entry"); n != MaxEntries-1 {
		t.Errorf("%d entries tried after the first, want %d", n, MaxEntries-1)
	}
	if !strings.Contains(out.String(), fmt.Sprintf("%d entries found; only the first %d", MaxEntries+10, MaxEntries)) {
		t.Errorf("the console does not say entries were left out:\n%s", out.String())
	}
}

// TestKexecENOKEY: a kernel that checks the next kernel's signature itself (lockdown under Secure
// Boot) fails kexec_file_load with ENOKEY; the refusal names that cause, not the bzImage's format.
func TestKexecENOKEY(t *testing.T) {
	sys := &fakeSystem{policy: testPolicy, tpm: newFakeTPM(eventlog.AlgSHA256), entries: []discover.Entry{entry(t, "signed elsewhere", []byte("k"), []byte("i"))}}
	sys.loadErr = func(int) error { return fmt.Errorf("kexec_file_load: %w", unix.ENOKEY) }
	var out bytes.Buffer
	err := Run(context.Background(), &out, sys)
	if err == nil || !strings.Contains(err.Error(), "checks the next kernel's signature itself") || strings.Contains(err.Error(), "bzImage") {
		t.Errorf("Run() = %v, want the refusal to name the kernel's own signature check", err)
	}
}
