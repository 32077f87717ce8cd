package boot

import (
	"bytes"
	"context"
	"crypto"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/u-root/mkuimage/cpio"

	"github.com/measuredboot/measuredboot/pkg/appraise"
	"github.com/measuredboot/measuredboot/pkg/discover"
	"github.com/measuredboot/measuredboot/pkg/eventlog"
	"github.com/measuredboot/measuredboot/pkg/handover"
	"github.com/measuredboot/measuredboot/pkg/ima"
	"github.com/measuredboot/measuredboot/pkg/imasig"
	"github.com/measuredboot/measuredboot/pkg/kexec"
	"github.com/measuredboot/measuredboot/pkg/measure"
	"github.com/measuredboot/measuredboot/pkg/partfs"
	"github.com/measuredboot/measuredboot/pkg/tpm"
)

// fakeTPM is a software TPM whose extends can be made to fail.
type fakeTPM struct {
	*tpm.Soft
	pcrs    eventlog.PCRs // the values after the run, for tests; see sync
	fail    error
	extends map[uint32]int // extends per PCR
}

func newFakeTPM(banks ...eventlog.Alg) *fakeTPM {
	s, err := tpm.NewSoft(banks, nil)
	if err != nil {
		panic(err)
	}
	return &fakeTPM{Soft: s, pcrs: s.Values()}
}

func (t *fakeTPM) Extend(pcr uint32, ds []eventlog.Digest) error {
	if t.fail != nil {
		return t.fail
	}
	err := t.Soft.Extend(pcr, ds)
	if t.extends == nil {
		t.extends = map[uint32]int{}
	}
	t.extends[pcr]++
	t.pcrs = t.Soft.Values()
	return err
}

// fakeSystem serves files from a temp dir and records what would be kexec'd.
type fakeSystem struct {
	policy  string
	config  string
	keys    []imasig.Key
	digests string
	sigs    map[string][]byte // signatures of files that are not on disk (the policy)
	tpm     *fakeTPM
	noTPM   bool
	fwlog   []byte // the firmware's event log, if any
	entries []discover.Entry
	loaded  struct {
		kernel, initrd []byte
		cmdline        string
		sealed         bool
	}
	loads   int
	loadErr func(load int) error // if set, KexecLoad fails with its error for the load'th call (from 1)
}

func (s *fakeSystem) LoadModules() (int, error) { return 0, nil }
func (s *fakeSystem) ReadConfig(p string) ([]byte, error) {
	switch p {
	case PolicyPath:
		return []byte(s.policy), nil
	case ConfigPath:
		return []byte(s.config), nil
	case DigestsPath:
		if s.digests != "" {
			return []byte(s.digests), nil
		}
	}
	return nil, os.ErrNotExist
}
func (s *fakeSystem) OpenTPM() (TPM, error) {
	if s.noTPM {
		return nil, errors.New("open /dev/tpmrm0: no such file or directory")
	}
	return s.tpm, nil
}
func (s *fakeSystem) FirmwareLog() ([]byte, error) {
	if s.fwlog == nil {
		return nil, os.ErrNotExist
	}
	return s.fwlog, nil
}
func (s *fakeSystem) Entries(context.Context, discover.Options) ([]discover.Entry, []discover.Probe) {
	return s.entries, []discover.Probe{{Device: "vda1", Err: errors.New("no boot entry: grub: no config")}}
}
func (s *fakeSystem) ReadFile(p string) (*kexec.Buffer, error) { return kexec.ReadFile(p) }
func (s *fakeSystem) ReadFiles(n string, p []string) (*kexec.Buffer, []kexec.Part, error) {
	return kexec.ReadFiles(n, p)
}
func (s *fakeSystem) Keys() ([]imasig.Key, error) { return s.keys, nil }
func (s *fakeSystem) Evidence(p string) (appraise.Evidence, error) {
	if b, ok := s.sigs[p]; ok {
		return appraise.Evidence{SigFile: b}, nil
	}
	b, err := os.ReadFile(p + ".sig")
	if errors.Is(err, os.ErrNotExist) {
		return appraise.Evidence{}, nil
	}
	return appraise.Evidence{SigFile: b}, err
}
func (s *fakeSystem) KexecLoad(k, i *kexec.Buffer, cmdline string) error {
	s.loads++
	if s.loadErr != nil {
		if err := s.loadErr(s.loads); err != nil {
			return err
		}
	}
	ks, _ := k.Sealed()
	is, _ := i.Sealed()
	s.loaded.sealed = ks && is
	s.loaded.kernel, s.loaded.initrd, s.loaded.cmdline = k.All(), i.All(), cmdline
	return nil
}
func (s *fakeSystem) KexecReboot() error           { return nil }
func (s *fakeSystem) KernelIMA() ([]string, error) { return nil, nil }
func (s *fakeSystem) EnableKernelIMA() error       { return nil }

const testPolicy = `measure func=POLICY_CHECK pcr=9 template=ima-ng
measure func=KEXEC_KERNEL_CHECK pcr=9 template=ima-ng
measure func=KEXEC_INITRAMFS_CHECK pcr=9 template=ima-ng
measure func=KEXEC_CMDLINE pcr=8 template=ima-buf
`

func entry(t *testing.T, name string, kernel, initrd []byte) discover.Entry {
	t.Helper()
	dir := t.TempDir()
	e := discover.Entry{Name: name, Source: "vda1 grub", Cmdline: "console=ttyS0 ro", FS: discover.FS{Mount: dir, Type: "ext4"}}
	e.Kernel = filepath.Join(dir, "boot", "vmlinuz")
	os.MkdirAll(filepath.Dir(e.Kernel), 0o755)
	if kernel != nil {
		if err := os.WriteFile(e.Kernel, kernel, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if initrd != nil {
		p := filepath.Join(dir, "boot", "initrd.img")
		if err := os.WriteFile(p, initrd, 0o644); err != nil {
			t.Fatal(err)
		}
		e.Initrds = []string{p}
	}
	return e
}

// handedOver splits the loaded initrd into the measured prefix and the handover archive's files.
func handedOver(t *testing.T, initrd []byte, prefix int) map[string][]byte {
	t.Helper()
	off := (prefix + handover.Align - 1) / handover.Align * handover.Align
	if !bytes.Equal(initrd[prefix:off], make([]byte, off-prefix)) {
		t.Fatalf("padding between the initrd and the handover archive is not zero")
	}
	recs, err := cpio.ReadAllRecords(cpio.Newc.Reader(bytes.NewReader(initrd[off:])))
	if err != nil {
		t.Fatalf("handover archive: %v", err)
	}
	files := map[string][]byte{}
	for _, r := range recs {
		if r.Mode&cpio.S_IFMT != cpio.S_IFREG {
			continue
		}
		if !strings.HasPrefix(r.Name, handover.Dir+"/") {
			t.Errorf("handover archive holds %q, outside %s/", r.Name, handover.Dir)
		}
		b, _ := io.ReadAll(io.NewSectionReader(r.ReaderAt, 0, int64(r.FileSize)))
		files[strings.TrimPrefix(r.Name, handover.Dir+"/")] = b
	}
	return files
}

func TestRunMeasuresAndHandsOver(t *testing.T) {
	kernel := bytes.Repeat([]byte("bzImage"), 3000)
	initrd := []byte("this is the target initramfs, 38 bytes")
	sys := &fakeSystem{policy: testPolicy, tpm: newFakeTPM(eventlog.AlgSHA1, eventlog.AlgSHA256)}
	sys.entries = []discover.Entry{entry(t, "Debian", kernel, initrd)}
	var out bytes.Buffer
	if err := Run(context.Background(), &out, sys); err != nil {
		t.Fatalf("run() = %v, want nil\n%s", err, out.String())
	}
	if sys.loads != 1 || !sys.loaded.sealed {
		t.Fatalf("kexec loads = %d (sealed %v), want 1 sealed load", sys.loads, sys.loaded.sealed)
	}
	if !bytes.Equal(sys.loaded.kernel, kernel) {
		t.Errorf("loaded kernel differs from the file")
	}
	if !bytes.Equal(sys.loaded.initrd[:len(initrd)], initrd) {
		t.Errorf("loaded initrd does not start with the file's bytes")
	}
	if sys.loaded.cmdline != "console=ttyS0 ro" {
		t.Errorf("cmdline = %q, want %q", sys.loaded.cmdline, "console=ttyS0 ro")
	}
	files := handedOver(t, sys.loaded.initrd, len(initrd))
	l, err := eventlog.Parse(files["tcg.log"])
	if err != nil {
		t.Fatalf("handed-over tcg.log: %v", err)
	}
	if len(l.Events) != 8 {
		t.Fatalf("handed-over log has %d events, want 8 (boot_aggregate, policy, entry marker, kernel, initrd, cmdline, 2 separators)", len(l.Events))
	}
	sep, err := ima.NewBuf(0, crypto.SHA256, measure.SeparatorData, measure.SeparatorName)
	if err != nil {
		t.Fatal(err)
	}
	for i, pcr := range []uint32{8, 9} {
		ev := l.Events[6+i]
		if ev.Type != eventlog.EvSeparator || ev.PCR != pcr || !bytes.Equal(ev.Data, sep.TemplateData()) {
			t.Errorf("event %d = %v in PCR %d (%x), want EV_SEPARATOR in PCR %d with the separator entry's template data %x", 6+i, ev.Type, ev.PCR, ev.Data, pcr, sep.TemplateData())
		}
	}
	// The boot_aggregate comes first, over the PCRs as the flow found them (all zero here).
	agg, _ := ima.BootAggregate(crypto.SHA256, eventlog.PCRs{}.Values(eventlog.AlgSHA256, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9))
	if ev := l.Events[0]; ev.PCR != 9 || !bytes.Contains(ev.Data, agg) || !bytes.Contains(ev.Data, []byte("boot_aggregate\x00")) {
		t.Errorf("event 0 = PCR %d %x, want the boot_aggregate sha256:%x in PCR 9", ev.PCR, ev.Data, agg)
	}
	if mm, err := l.Verify(sys.tpm.pcrs); err != nil || len(mm) != 0 {
		t.Errorf("replay of the handed-over log against the TPM: %v, %v", mm, err)
	}
	// The kernel's event carries the digest of the bytes that were loaded.
	ksum := fmt.Sprintf("%x", sha256.Sum256(kernel))
	asc := string(files["ima/ascii_runtime_measurements_sha256"])
	if !strings.Contains(asc, "ima-ng sha256:"+ksum+" /boot/vmlinuz\n") {
		t.Errorf("IMA list lacks the kernel's entry sha256:%s /boot/vmlinuz:\n%s", ksum, asc)
	}
	if !strings.Contains(asc, "ima-buf sha256:") || !strings.Contains(asc, " kexec-cmdline ") {
		t.Errorf("IMA list lacks the kexec-cmdline entry:\n%s", asc)
	}
	for _, name := range []string{"ima/binary_runtime_measurements", "ima/binary_runtime_measurements_sha1", "ima/binary_runtime_measurements_sha256"} {
		list, err := ima.ParseBinaryList(files[name], map[bool]int{true: 20, false: 32}[!strings.HasSuffix(name, "sha256")])
		if err != nil || len(list) != 8 {
			t.Errorf("%s: %d entries, %v; want 8; files: %v", name, len(list), err, keys(files))
			continue
		}
		if list[0].Name() != "boot_aggregate" || list[2].Name() != EntryMarkerName || list[7].Name() != measure.SeparatorName {
			t.Errorf("%s: entries 0, 2 and 7 are %q, %q, %q; want boot_aggregate, %s and %s", name, list[0].Name(), list[2].Name(), list[7].Name(), EntryMarkerName, measure.SeparatorName)
		}
	}
	if !bytes.Equal(files["ima/binary_runtime_measurements"], files["ima/binary_runtime_measurements_sha1"]) {
		t.Errorf("the classic binary list differs from the SHA-1 one")
	}
	for _, want := range []string{
		"measuredboot: KEXEC_KERNEL_CHECK    pcr=9  sha256:" + ksum[:16] + " /boot/vmlinuz measured ima-ng",
		"measuredboot: kexec Debian\n",
		fmt.Sprintf("measuredboot: bytes: read %d of %d file bytes (1.00 per byte)", len(kernel)+len(initrd), len(kernel)+len(initrd)),
		fmt.Sprintf("measuredboot: bytes read per file: /boot/vmlinuz %d of %d, /boot/initrd.img %d of %d\n", len(kernel), len(kernel), len(initrd), len(initrd)),
		"measuredboot: time: modules ",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("console lacks %q:\n%s", want, out.String())
		}
	}
}

func keys(m map[string][]byte) []string {
	var k []string
	for n := range m {
		k = append(k, n)
	}
	return k
}

func TestRunRefuses(t *testing.T) {
	good := func(t *testing.T) discover.Entry { return entry(t, "good", []byte("kernel"), []byte("initrd")) }
	for _, tt := range []struct {
		name    string
		sys     func(t *testing.T) *fakeSystem
		wantErr string
		loads   int
	}{
		{"no entry", func(t *testing.T) *fakeSystem {
			return &fakeSystem{policy: testPolicy, tpm: newFakeTPM(eventlog.AlgSHA256)}
		}, "refused boot: no bootable entry on any disk (vda1: no boot entry: grub: no config)", 0},
		{"no TPM", func(t *testing.T) *fakeSystem {
			return &fakeSystem{policy: testPolicy, noTPM: true, entries: []discover.Entry{good(t)}}
		}, "refused /dev/tpmrm0: no TPM", 0},
		{"bad policy", func(t *testing.T) *fakeSystem {
			return &fakeSystem{policy: "measure func=NOPE\n", tpm: newFakeTPM(eventlog.AlgSHA256), entries: []discover.Entry{good(t)}}
		}, "refused /etc/measuredboot/policy: /etc/measuredboot/policy:1:", 0},
		{"TPM extend fails", func(t *testing.T) *fakeSystem {
			tpm := newFakeTPM(eventlog.AlgSHA256)
			tpm.fail = errors.New("TPM_RC_LOCALITY")
			return &fakeSystem{policy: testPolicy, tpm: tpm, entries: []discover.Entry{good(t)}}
		}, "nothing is booted unmeasured", 0},
		{"missing kernel", func(t *testing.T) *fakeSystem {
			return &fakeSystem{policy: testPolicy, tpm: newFakeTPM(eventlog.AlgSHA256), entries: []discover.Entry{entry(t, "bad", nil, []byte("i"))}}
		}, `refused /boot/vmlinuz: entry "bad": read kernel:`, 0},
		{"missing initrd", func(t *testing.T) *fakeSystem {
			e := good(t)
			e.Initrds = append(e.Initrds, filepath.Join(e.FS.Mount, "boot", "initrd-missing.img"))
			return &fakeSystem{policy: testPolicy, tpm: newFakeTPM(eventlog.AlgSHA256), entries: []discover.Entry{e}}
		}, `refused /boot/initrd.img,/boot/initrd-missing.img: entry "good": read initrd:`, 0},
		{"unsigned kernel", func(t *testing.T) *fakeSystem {
			return &fakeSystem{policy: testPolicy + "appraise func=KEXEC_KERNEL_CHECK appraise_type=imasig\n", tpm: newFakeTPM(eventlog.AlgSHA256), entries: []discover.Entry{good(t)}}
		}, "refused /boot/vmlinuz: /boot/vmlinuz failed appraisal (KEXEC_KERNEL_CHECK, rule policy:5): no signature", 0},
		{"bad config", func(t *testing.T) *fakeSystem {
			return &fakeSystem{policy: testPolicy, config: "appraise_mode=lenient\n", tpm: newFakeTPM(eventlog.AlgSHA256), entries: []discover.Entry{good(t)}}
		}, `appraise_mode="lenient": want enforce or log`, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			sys := tt.sys(t)
			var out bytes.Buffer
			err := Run(context.Background(), &out, sys)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("run() = %v, want error containing %q\n%s", err, tt.wantErr, out.String())
			}
			if sys.loads != tt.loads {
				t.Errorf("kexec loads = %d, want %d", sys.loads, tt.loads)
			}
		})
	}
}

func TestRunFallsBackToNextEntry(t *testing.T) {
	sys := &fakeSystem{policy: testPolicy, tpm: newFakeTPM(eventlog.AlgSHA256)}
	sys.entries = []discover.Entry{entry(t, "broken", nil, []byte("i")), entry(t, "second", []byte("k2"), []byte("i2"))}
	var out bytes.Buffer
	if err := Run(context.Background(), &out, sys); err != nil {
		t.Fatalf("run() = %v\n%s", err, out.String())
	}
	if !bytes.Equal(sys.loaded.kernel, []byte("k2")) {
		t.Errorf("loaded kernel %q, want the second entry's", sys.loaded.kernel)
	}
	if !strings.Contains(out.String(), `measuredboot: refused /boot/vmlinuz: entry "broken": read kernel:`) {
		t.Errorf("console lacks the first entry's refusal:\n%s", out.String())
	}
}

func TestParseConfig(t *testing.T) {
	if c, err := parseConfig([]byte("# c\nkernel_ima_crosscheck=1\n")); err != nil || !c.crossCheck {
		t.Errorf("parseConfig = %+v, %v, want crossCheck", c, err)
	}
	if _, err := parseConfig([]byte("bogus=1\n")); err == nil {
		t.Error("parseConfig(bogus=1) succeeded, want error")
	}
}

// TestRunHashesOnlyWhatARuleConcerns: a file no rule measures or appraises is not hashed (its
// console line has no digest), and the bytes hashed are those of the files the rules name.
func TestRunHashesOnlyWhatARuleConcerns(t *testing.T) {
	kernel, initrd := bytes.Repeat([]byte("k"), 10000), bytes.Repeat([]byte("i"), 3000)
	pol := "measure func=KEXEC_KERNEL_CHECK pcr=9\n"
	ksum := sha256.Sum256(kernel)
	sys := &fakeSystem{policy: pol, tpm: newFakeTPM(eventlog.AlgSHA256), entries: []discover.Entry{entry(t, "e", kernel, initrd)}}
	var out bytes.Buffer
	if err := Run(context.Background(), &out, sys); err != nil {
		t.Fatalf("Run() = %v\n%s", err, out.String())
	}
	for _, want := range []string{
		"measuredboot: KEXEC_INITRAMFS_CHECK pcr=-  sha256:-                /boot/initrd.img not measured (no rule)",
		fmt.Sprintf("measuredboot: KEXEC_KERNEL_CHECK    pcr=9  sha256:%x /boot/vmlinuz measured ima-ng", ksum[:8]),
		"hashed 10000;",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("console lacks %q:\n%s", want, out.String())
		}
	}
}

// TestBootAggregateSHA1Only: a TPM without a SHA-256 bank gets the kernel's fallback, SHA-1 over
// PCRs 0-7 of the SHA-1 bank.
func TestBootAggregateSHA1Only(t *testing.T) {
	ft := newFakeTPM(eventlog.AlgSHA1)
	if err := ft.Extend(3, []eventlog.Digest{{Alg: eventlog.AlgSHA1, Sum: bytes.Repeat([]byte{1}, 20)}}); err != nil {
		t.Fatal(err)
	}
	start := ft.Soft.Values()
	sys := &fakeSystem{policy: testPolicy, tpm: ft, entries: []discover.Entry{entry(t, "e", []byte("k"), []byte("i"))}}
	var out bytes.Buffer
	if err := Run(context.Background(), &out, sys); err != nil {
		t.Fatalf("Run() = %v\n%s", err, out.String())
	}
	want, err := ima.BootAggregate(crypto.SHA1, start.Values(eventlog.AlgSHA1, 0, 1, 2, 3, 4, 5, 6, 7))
	if err != nil {
		t.Fatal(err)
	}
	list, err := ima.ParseBinaryList(handedOver(t, sys.loaded.initrd, 1)["ima/binary_runtime_measurements"], 20)
	if err != nil || len(list) == 0 {
		t.Fatalf("handed-over list: %d entries, %v", len(list), err)
	}
	f, _ := list[0].Fields()
	alg, sum, _ := ima.SplitDigestNG(f[0])
	if list[0].Name() != ima.BootAggregateName || alg != "sha1" || !bytes.Equal(sum, want) {
		t.Errorf("entry 0 = %q %s:%x, want boot_aggregate sha1:%x", list[0].Name(), alg, sum, want)
	}
}

// hasherSystem is a fakeSystem that offers its own file digests, as the boot program offers the
// kernel's.
type hasherSystem struct {
	*fakeSystem
	sum func(crypto.Hash, []byte) ([]byte, error)
}

func (s *hasherSystem) FileHasher() (func(crypto.Hash, []byte) ([]byte, error), string) {
	return s.sum, "the test's"
}

// TestRunUsesTheSystemsFileHasher: the file digests come from the System's hasher when it offers
// one, once per file and for the command line; a hasher that fails stops the boot before anything is loaded (nothing is
// booted unmeasured), and one that returns a wrong-sized digest does too.
func TestRunUsesTheSystemsFileHasher(t *testing.T) {
	kernel, initrd := bytes.Repeat([]byte("k"), 10000), bytes.Repeat([]byte("i"), 3000)
	var mu sync.Mutex
	var sizes []int
	good := func(h crypto.Hash, b []byte) ([]byte, error) {
		mu.Lock()
		sizes = append(sizes, len(b))
		mu.Unlock()
		hh := h.New()
		hh.Write(b)
		return hh.Sum(nil), nil
	}
	sys := &hasherSystem{&fakeSystem{policy: testPolicy, tpm: newFakeTPM(eventlog.AlgSHA256), entries: []discover.Entry{entry(t, "e", kernel, initrd)}}, good}
	var out bytes.Buffer
	if err := Run(context.Background(), &out, sys); err != nil {
		t.Fatalf("Run() = %v\n%s", err, out.String())
	}
	slices.Sort(sizes)
	if want := []int{len("console=ttyS0 ro"), len(testPolicy), len(initrd), len(kernel)}; !slices.Equal(sizes, want) {
		t.Errorf("the hasher saw files of %v bytes, want %v", sizes, want)
	}
	ksum := sha256.Sum256(kernel)
	for _, want := range []string{"measuredboot: file digests: the test's\n", fmt.Sprintf("sha256:%x /boot/vmlinuz measured", ksum[:8])} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("console lacks %q:\n%s", want, out.String())
		}
	}
	for name, bad := range map[string]func(crypto.Hash, []byte) ([]byte, error){
		"error":      func(crypto.Hash, []byte) ([]byte, error) { return nil, errors.New("AF_ALG: EIO") },
		"short":      func(crypto.Hash, []byte) ([]byte, error) { return make([]byte, 20), nil },
		"kernel bad": func(h crypto.Hash, b []byte) ([]byte, error) { return map[bool][]byte{true: nil}[len(b) > 5000], nil },
	} {
		sys := &hasherSystem{&fakeSystem{policy: testPolicy, tpm: newFakeTPM(eventlog.AlgSHA256), entries: []discover.Entry{entry(t, "e", kernel, initrd)}}, func(h crypto.Hash, b []byte) ([]byte, error) {
			if len(b) == len(testPolicy) {
				return good(h, b)
			}
			return bad(h, b)
		}}
		var out bytes.Buffer
		err := Run(context.Background(), &out, sys)
		if err == nil || !strings.Contains(err.Error(), "nothing is booted unmeasured") || sys.loads != 0 {
			t.Errorf("%s: Run() = %v after %d loads, want a failure naming the unmeasured boot and no load\n%s", name, err, sys.loads, out.String())
		}
	}
}

// WalkFiles lists the regular files under dir, on the partition mounted at root, without
// following links (partfs.WalkDir).
func (s *fakeSystem) WalkFiles(root, dir string, max int) ([]string, []partfs.Skipped, error) {
	return partfs.WalkDir([]string{root}, dir, max)
}
