package main

import (
	"context"
	"crypto"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/measuredboot/measuredboot/pkg/discover"
	"github.com/measuredboot/measuredboot/pkg/eventlog"
	"github.com/measuredboot/measuredboot/pkg/handover"
	"github.com/measuredboot/measuredboot/pkg/kexec"
	"github.com/measuredboot/measuredboot/pkg/measure"
	"github.com/measuredboot/measuredboot/pkg/policy"
)

// Paths inside the image.
const (
	policyPath = "/etc/measuredboot/policy"
	configPath = "/etc/measuredboot/config"
)

// TPM is what the boot flow needs of a TPM.
type TPM interface {
	measure.Extender
	Banks() ([]eventlog.Alg, error)
}

// system is everything run needs from the machine; tests replace it.
type system interface {
	LoadModules() (int, error)
	ReadConfig(path string) ([]byte, error)
	OpenTPM() (TPM, error)
	FirmwareLog() ([]byte, error)
	Entries(ctx context.Context) ([]discover.Entry, []discover.Probe)
	ReadFile(path string) (*kexec.Buffer, error)
	// KexecLoad loads the sealed buffers with kexec_file_load.
	KexecLoad(kernel, initrd *kexec.Buffer, cmdline string) error
	// KexecReboot jumps into the loaded kernel; it returns only on error, or in tests.
	KexecReboot() error
	// KernelIMA, if the image was built for the cross-check, returns the boot kernel's own IMA
	// entries for the files it was handed by kexec_file_load.
	KernelIMA() ([]string, error)
	EnableKernelIMA() error
}

// refusal is a reason not to boot one entry, or anything.
type refusal struct {
	path   string
	reason error
}

func (r *refusal) Error() string { return fmt.Sprintf("refused %s: %v", r.path, r.reason) }
func (r *refusal) Unwrap() error { return r.reason }

// config holds the build-time settings of the image.
type config struct {
	crossCheck bool // test only: let the boot kernel's IMA measure the kexec files too
}

func parseConfig(b []byte) (config, error) {
	var c config
	for i, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, _ := strings.Cut(line, "=")
		switch k {
		case "kernel_ima_crosscheck":
			c.crossCheck = v == "1"
		default:
			return c, fmt.Errorf("%s:%d: unknown setting %q", configPath, i+1, k)
		}
	}
	return c, nil
}

// run is the whole boot flow. It returns only when nothing was booted; the error says why.
func run(ctx context.Context, out io.Writer, sys system) error {
	say := func(format string, a ...any) { fmt.Fprintf(out, "measuredboot: "+format+"\n", a...) }
	start := time.Now()

	n, err := sys.LoadModules()
	if err != nil {
		say("warning: kernel modules: %v", err)
	}
	say("loaded %d kernel modules", n)

	cb, err := sys.ReadConfig(configPath)
	if err != nil {
		return &refusal{configPath, err}
	}
	cfg, err := parseConfig(cb)
	if err != nil {
		return &refusal{configPath, err}
	}
	src, err := sys.ReadConfig(policyPath)
	if err != nil {
		return &refusal{policyPath, fmt.Errorf("the image has no policy: %w", err)}
	}
	pol, err := policy.Parse(policyPath, src)
	if err != nil {
		return &refusal{policyPath, fmt.Errorf("%w (the image build should have caught this: rebuild with 'make initramfs')", err)}
	}

	t, err := sys.OpenTPM()
	if err != nil {
		return &refusal{"/dev/tpmrm0", fmt.Errorf("no TPM: %w; nothing is booted unmeasured", err)}
	}
	banks, err := t.Banks()
	if err != nil {
		return &refusal{"/dev/tpmrm0", err}
	}
	log := firmwareLog(sys, banks, say)
	if log == nil {
		if log, err = eventlog.New(banks); err != nil {
			return &refusal{"/dev/tpmrm0", fmt.Errorf("cannot log the TPM's banks: %w", err)}
		}
	}
	names := make([]string, len(banks))
	for i, b := range banks {
		names[i] = b.String()
	}
	say("TPM banks: %s; log has %d firmware events", strings.Join(names, ","), len(log.Events))

	m := &measure.Measurer{Policy: pol, TPM: t, FileHash: crypto.SHA256, Log: log}
	// The policy is measured by its own POLICY_CHECK rules before any other rule is used.
	if _, err := measureOne(m, out, policy.Object{Func: policy.PolicyCheck, Mask: policy.MayRead, HasFile: true}, policyPath, src); err != nil {
		return err
	}

	entries, probes := sys.Entries(ctx)
	if len(entries) == 0 {
		var why []string
		for _, p := range probes {
			why = append(why, fmt.Sprintf("%s: %v", p.Device, p.Err))
		}
		if len(why) == 0 {
			why = append(why, "no block device was found (are the disk's modules in the image?)")
		}
		return &refusal{"boot", fmt.Errorf("no bootable entry on any disk (%s); put a GRUB, BLS or syslinux configuration on a local partition", strings.Join(why, "; "))}
	}
	for i, e := range entries {
		say("entry %d: %q from %s: kernel %s, initrd %s, cmdline %q", i, e.Name, e.Source, e.RelPath(e.Kernel), relPaths(e), e.Cmdline)
	}

	var last error
	for _, e := range entries {
		err := bootEntry(ctx, out, sys, m, cfg, e, start)
		var r *refusal
		if !errors.As(err, &r) {
			return err // the TPM failed: nothing else may boot
		}
		say("%v", err)
		last = err
	}
	return fmt.Errorf("no entry left to boot; the last refusal was: %w", last)
}

// firmwareLog returns the firmware's event log to append to, or nil when there is none usable.
func firmwareLog(sys system, banks []eventlog.Alg, say func(string, ...any)) *eventlog.Log {
	if b, err := sys.FirmwareLog(); err != nil {
		say("warning: no firmware event log (%v); the handed-over log starts at this environment", err)
	} else if l, err := eventlog.Parse(b); err != nil {
		say("warning: firmware event log: %v; the handed-over log starts at this environment", err)
	} else if !sameBanks(l.Banks(), banks) {
		say("warning: firmware event log lists banks %v, the TPM has %v; the handed-over log starts at this environment", l.Banks(), banks)
	} else {
		return l
	}
	return nil
}

func sameBanks(a, b []eventlog.Alg) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// measureOne measures one object and prints its console line. A TPM or log failure is returned
// as a plain error (fatal); a policy that demands appraisal is a refusal of this object.
func measureOne(m *measure.Measurer, out io.Writer, o policy.Object, name string, data []byte) (measure.Result, error) {
	r, err := m.Measure(measure.Object{Object: o, Name: name, Data: data})
	if err != nil {
		return r, fmt.Errorf("cannot measure %s: %w; nothing is booted unmeasured", name, err)
	}
	verdict, pcr := "not measured (no rule)", "-"
	if r.Entry != nil {
		verdict, pcr = "measured "+r.Entry.Template, fmt.Sprint(r.Entry.PCR)
	}
	fmt.Fprintf(out, "measuredboot: %-21s pcr=%-2s sha256:%x %s %s\n", o.Func, pcr, r.Digest[:8], name, verdict)
	if r.Decision.Appraise {
		rule := "policy"
		if r.Decision.AppraiseRule != nil {
			rule = fmt.Sprintf("%s:%d", policyPath, r.Decision.AppraiseRule.Line)
		}
		return r, &refusal{name, fmt.Errorf("%w by %s, and this image cannot appraise: %w", measure.ErrAppraisal, rule, errors.ErrUnsupported)}
	}
	return r, nil
}

func bootEntry(ctx context.Context, out io.Writer, sys system, m *measure.Measurer, cfg config, e discover.Entry, start time.Time) error {
	fileObj := func(f policy.Func, path string) policy.Object {
		fs := e.FSOf(path)
		return policy.Object{Func: f, Mask: policy.MayRead, HasFile: true, FSName: fs.Type, FSMagic: fs.Magic, FSUUID: fs.UUID}
	}
	kernel, err := sys.ReadFile(e.Kernel)
	if err != nil {
		return &refusal{e.RelPath(e.Kernel), fmt.Errorf("read kernel: %w", err)}
	}
	defer kernel.Close()
	if _, err := measureOne(m, out, fileObj(policy.KexecKernelCheck, e.Kernel), e.RelPath(e.Kernel), kernel.Bytes()); err != nil {
		return err
	}
	if len(e.Initrds) > 1 {
		return &refusal{e.RelPath(e.Initrds[1]), fmt.Errorf("entry %q lists %d initrds; only one is supported by this image", e.Name, len(e.Initrds))}
	}
	var initrd *kexec.Buffer
	if len(e.Initrds) == 1 {
		initrd, err = sys.ReadFile(e.Initrds[0])
		if err != nil {
			return &refusal{e.RelPath(e.Initrds[0]), fmt.Errorf("read initrd: %w", err)}
		}
		defer initrd.Close()
		if _, err := measureOne(m, out, fileObj(policy.KexecInitramfsCheck, e.Initrds[0]), e.RelPath(e.Initrds[0]), initrd.Bytes()); err != nil {
			return err
		}
	}
	// The kernel tests a KEXEC_CMDLINE rule's file conditions against the kexec'd kernel's file.
	cmdObj := fileObj(policy.KexecCmdline, e.Kernel)
	cmdObj.Mask = 0
	if _, err := measureOne(m, out, cmdObj, "kexec-cmdline", []byte(e.Cmdline)); err != nil {
		return err
	}

	if initrd == nil { // the handover archive alone becomes the initramfs
		if initrd, err = kexec.Empty("handover"); err != nil {
			return err
		}
		defer initrd.Close()
	}
	files, err := logFiles(m)
	if err != nil {
		return err
	}
	arch, err := handover.Archive(files)
	if err != nil {
		return err
	}
	if err := initrd.Append(arch, handover.Align); err != nil {
		return err
	}
	for _, b := range []*kexec.Buffer{kernel, initrd} {
		if err := b.Seal(); err != nil {
			return err
		}
	}
	fmt.Fprintf(out, "measuredboot: handover: %d log bytes appended to the initrd (%d measured bytes, %d in all) as /%s/\n",
		len(arch), len(initrd.Bytes()), initrd.Size(), handover.Dir)
	if cfg.crossCheck {
		if err := sys.EnableKernelIMA(); err != nil {
			return fmt.Errorf("kernel IMA cross-check: %w", err)
		}
	}
	fmt.Fprintf(out, "measuredboot: %d TPM extends, %.3fs since start\n", len(m.IMA), time.Since(start).Seconds())
	if err := sys.KexecLoad(kernel, initrd, e.Cmdline); err != nil {
		return &refusal{e.RelPath(e.Kernel), fmt.Errorf("%w (is it a bzImage for this architecture?)", err)}
	}
	if cfg.crossCheck {
		lines, err := sys.KernelIMA()
		if err != nil {
			return fmt.Errorf("kernel IMA cross-check: %w", err)
		}
		for _, l := range lines {
			fmt.Fprintf(out, "measuredboot: kernel-ima: %s\n", l)
		}
		fmt.Fprintf(out, "measuredboot: handover: whole initrd sha256:%x\n", sha256.Sum256(initrd.All()))
	}
	fmt.Fprintf(out, "measuredboot: kexec %s\n", e.Name)
	return sys.KexecReboot()
}

// logFiles returns the handed-over files: the TCG log, and the IMA lists (ASCII and binary) with
// each bank's template digests, named as the kernel names its per-bank lists.
func logFiles(m *measure.Measurer) (map[string][]byte, error) {
	tcg, err := m.Log.Marshal()
	if err != nil {
		return nil, err
	}
	files := map[string][]byte{"tcg.log": tcg}
	for _, alg := range m.Log.Banks() {
		h, ok := alg.Hash()
		if !ok {
			continue
		}
		var bin []byte
		var asc strings.Builder
		for _, e := range m.IMA {
			var err error
			if bin, err = e.AppendBinary(bin, h); err != nil {
				return nil, err
			}
			line, err := e.ASCII(h)
			if err != nil {
				return nil, err
			}
			asc.WriteString(line + "\n")
		}
		files["ima/binary_runtime_measurements_"+alg.String()] = bin
		files["ima/ascii_runtime_measurements_"+alg.String()] = []byte(asc.String())
	}
	return files, nil
}

func relPaths(e discover.Entry) string {
	if len(e.Initrds) == 0 {
		return "none"
	}
	r := make([]string, len(e.Initrds))
	for i, p := range e.Initrds {
		r[i] = e.RelPath(p)
	}
	return strings.Join(r, ",")
}
