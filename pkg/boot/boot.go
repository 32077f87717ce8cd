// Package boot is measuredboot's boot flow: it reads the image's policy, keys and settings, opens
// the TPM, records the boot_aggregate, finds the boot entries, reads each file once, measures and
// appraises it, closes the PCRs it used with separators, hands the logs over in the next
// initramfs and kexecs, or refuses with the reason. The machine is a System, so the same flow
// runs at boot (cmds/measuredboot), in tests, and on a host to predict PCR values (mbctl predict).
package boot

import (
	"context"
	"crypto"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/measuredboot/measuredboot/pkg/appraise"
	"github.com/measuredboot/measuredboot/pkg/discover"
	"github.com/measuredboot/measuredboot/pkg/eventlog"
	"github.com/measuredboot/measuredboot/pkg/handover"
	"github.com/measuredboot/measuredboot/pkg/ima"
	"github.com/measuredboot/measuredboot/pkg/imasig"
	"github.com/measuredboot/measuredboot/pkg/kexec"
	"github.com/measuredboot/measuredboot/pkg/measure"
	"github.com/measuredboot/measuredboot/pkg/partfs"
	"github.com/measuredboot/measuredboot/pkg/policy"
)

// Paths inside the image: where the build puts the policy, the settings, the keys (parsed from
// their certificates at build time, imasig.ParseKeyList) and the digest list.
const (
	PolicyPath  = "/etc/measuredboot/policy"
	ConfigPath  = "/etc/measuredboot/config"
	KeyListPath = "/etc/measuredboot/keys.list"
	DigestsPath = "/etc/measuredboot/digests"
)

// TPM is what the boot flow needs of a TPM.
type TPM interface {
	measure.Extender
	Banks() ([]eventlog.Alg, error)
	// Read returns the values of pcrs in bank alg (for the boot_aggregate).
	Read(alg eventlog.Alg, pcrs []uint32) (map[uint32][]byte, error)
}

// System is everything Run needs from the machine; tests and the predictor replace it.
type System interface {
	LoadModules() (int, error)
	ReadConfig(path string) ([]byte, error)
	OpenTPM() (TPM, error)
	FirmwareLog() ([]byte, error)
	// Entries finds the boot entries on the devices opts allows, in boot order.
	Entries(ctx context.Context, opts discover.Options) ([]discover.Entry, []discover.Probe)
	ReadFile(path string) (*kexec.Buffer, error)
	// ReadFiles reads several files into one buffer, as initrds are concatenated.
	ReadFiles(name string, paths []string) (*kexec.Buffer, []kexec.Part, error)
	// WalkFiles lists the regular files under dir, a directory on the partition mounted at root,
	// as absolute paths, sorted, without following any link (partfs.WalkFiles): dir itself being
	// a link is an error; links and special files inside are skipped and returned. More than max
	// files is an error.
	WalkFiles(root, dir string, max int) ([]string, []partfs.Skipped, error)
	// Evidence returns what lies beside a file for appraisal: path.sig and security.ima.
	Evidence(path string) (appraise.Evidence, error)
	// Keys returns the keys built into the image.
	Keys() ([]imasig.Key, error)
	// KexecLoad loads the sealed buffers with kexec_file_load.
	KexecLoad(kernel, initrd *kexec.Buffer, cmdline string) error
	// KexecReboot jumps into the loaded kernel; it returns only on error, or in tests.
	KexecReboot() error
	// KernelIMA, if the image was built for the cross-check, returns the boot kernel's own IMA
	// entries for the files it was handed by kexec_file_load.
	KernelIMA() ([]string, error)
	EnableKernelIMA() error
}

// FileHasher is what a System may offer to compute file digests with something other than Go's
// crypto: cmds/measuredboot offers the kernel's where Go would run its portable code. what says
// which, for the console.
type FileHasher interface {
	FileHasher() (sum func(h crypto.Hash, data []byte) ([]byte, error), what string)
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
	logMode      bool             // appraise_mode=log: failures are measured and printed, the boot goes on
	recoverShell bool             // on_refuse=shell: after a refusal, return to init's shell (after a recovery event)
	crossCheck   bool             // test only: let the boot kernel's IMA measure the kexec files too
	firmwareDir  string           // firmware_dir=/boot/firmware: files handed to the next kernel's /lib/firmware
	discover     discover.Options // boot_devices=, removable_media=
	format       measure.Format   // event_format=ima|grub: how PCRs 8 and 9 are recorded
}

// ConfigAllowsShell parses an image's settings as the boot does and says whether they allow the
// recovery shell (on_refuse=shell): the build puts a shell into such an image only.
func ConfigAllowsShell(b []byte) (bool, error) {
	c, err := parseConfig(b)
	return c.recoverShell, err
}

// CheckConfig parses an image's settings (/etc/measuredboot/config) exactly as the boot does, so
// that the build refuses what the boot would refuse.
func CheckConfig(b []byte) error {
	_, err := parseConfig(b)
	return err
}

// CheckImage checks an image's settings and policy together, as the boot does before it measures
// anything: with event_format=grub, GRUB's conventions must be possible under the policy. PCR 8
// holds text, so no file but the policy may be measured into it, and the command line must be:
// its kernel_cmdline event is the last of a boot, where the IMA format has separators.
func CheckImage(config []byte, pol *policy.Policy) error {
	c, err := parseConfig(config)
	if err != nil {
		return err
	}
	return checkFormat(c.format, pol)
}

func checkFormat(fm measure.Format, pol *policy.Policy) error {
	if fm != measure.FormatGRUB || pol == nil {
		return nil
	}
	cmdline := false
	for _, r := range pol.Rules {
		if r.Action != policy.Measure {
			continue
		}
		pcr := r.PCR
		if pcr < 0 {
			pcr = policy.DefaultPCR
		}
		switch {
		case r.Func == policy.KexecCmdline && pcr == recoveryPCR:
			cmdline = true
		case r.Func == policy.KexecCmdline:
			return fmt.Errorf("%s:%d: event_format=grub: the command line is measured into PCR %d; GRUB's convention (and go-eventlog's) puts it into PCR 8 as kernel_cmdline text: use pcr=8", PolicyPath, r.Line, pcr)
		case pcr == recoveryPCR && r.Func != policy.PolicyCheck:
			what := "every file"
			if r.Func != 0 {
				what = "func=" + r.Func.String()
			}
			return fmt.Errorf("%s:%d: event_format=grub: %s is measured into PCR 8, which holds text in GRUB's convention: measure files into PCR 9", PolicyPath, r.Line, what)
		}
	}
	if !cmdline {
		return fmt.Errorf("%s: event_format=grub needs 'measure func=KEXEC_CMDLINE pcr=8': the kernel_cmdline event ends a boot's measurements in PCRs 8 and 9 (there are no separators)", PolicyPath)
	}
	return nil
}

// parseConfig reads the image's key=value settings; an unknown key or value is an error.
func parseConfig(b []byte) (config, error) {
	var c config
	for i, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, _ := strings.Cut(line, "=")
		bad := func(want string) error {
			return fmt.Errorf("%s:%d: %s=%q: want %s", ConfigPath, i+1, k, v, want)
		}
		switch k {
		case "appraise_mode":
			if v != "enforce" && v != "log" {
				return c, bad("enforce or log")
			}
			c.logMode = v == "log"
		case "on_refuse":
			if v != "halt" && v != "shell" {
				return c, bad("halt or shell")
			}
			c.recoverShell = v == "shell"
		case "firmware_dir":
			if !strings.HasPrefix(v, "/") || strings.Contains(v, "..") {
				return c, bad("an absolute path on the boot partition, such as /boot/firmware")
			}
			c.firmwareDir = v
		case "boot_devices":
			// Stable hardware paths, comma-separated, in boot order: pci-0000:00:04.0,...
			if v == "" {
				return c, bad("stable hardware paths such as pci-0000:00:04.0, comma-separated")
			}
			for _, d := range strings.Split(v, ",") {
				if d = strings.TrimSpace(d); d == "" || strings.ContainsAny(d, " /\t") || d == "." || d == ".." {
					return c, bad("stable hardware paths such as pci-0000:00:04.0, comma-separated")
				}
				c.discover.Devices = append(c.discover.Devices, d)
			}
		case "removable_media":
			if v != "deny" && v != "allow" {
				return c, bad("deny or allow")
			}
			c.discover.AllowRemovable = v == "allow"
		case "event_format":
			fm, err := measure.ParseFormat(v)
			if err != nil {
				return c, bad("ima (IMA template events, the default) or grub (GRUB's conventions in PCRs 8 and 9)")
			}
			c.format = fm
		case "kernel_ima_crosscheck":
			if v != "0" && v != "1" {
				return c, bad("0 or 1")
			}
			c.crossCheck = v == "1"
		default:
			return c, fmt.Errorf("%s:%d: unknown setting %q (want appraise_mode, on_refuse, firmware_dir, boot_devices, removable_media, event_format or kernel_ima_crosscheck)", ConfigPath, i+1, k)
		}
	}
	return c, nil
}

// MaxEntries bounds the entries tried in one boot, over every device: each reads its files.
const MaxEntries = 64

// DiscoverTimeout bounds the search for boot entries on the disks: a configuration that makes the
// parsers work longer is refused, and the boot goes on with what was found in time.
const DiscoverTimeout = 30 * time.Second

// ErrRecovery is returned by run when the image allows the recovery shell after a refusal.
var ErrRecovery = errors.New("recovery shell")

// phases records how long each phase of the boot took, on the monotonic clock.
type phases struct {
	names []string
	d     map[string]time.Duration
}

func (p *phases) add(name string, since time.Time) {
	if p.d == nil {
		p.d = map[string]time.Duration{}
	}
	if _, ok := p.d[name]; !ok {
		p.names = append(p.names, name)
	}
	p.d[name] += time.Since(since)
}

func (p *phases) String() string {
	var b strings.Builder
	for i, n := range p.names {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s %.3fs", n, p.d[n].Seconds())
	}
	return b.String()
}

// flow is one boot: what run has set up, shared by the steps.
type flow struct {
	ph      phases
	reads   []fileRead // the files handed over, in the order read
	fwFiles int        // firmware files read in this boot, over every entry tried
	out     io.Writer
	sys     System
	cfg     config
	m       *measure.Measurer
	appr    *appraise.Appraiser
	pol     *policy.Policy
	tpm     TPM
}

// say prints one console line, "measuredboot: " and the message. Messages carry names, paths and
// command lines from the disk (a GRUB path is URL-decoded, so it may hold a newline or an escape
// sequence): the message is escaped with ima.EscapeString, each control byte and backslash as
// \ooo, so that nothing on the disk can start a line of its own or act on the terminal.
func (f *flow) say(format string, a ...any) { say(f.out, format, a...) }

func say(w io.Writer, format string, a ...any) {
	fmt.Fprintf(w, "measuredboot: %s\n", ima.EscapeString(fmt.Sprintf(format, a...)))
}

// escapedError is the error Run returns: its text is escaped as the console's lines are (the
// caller prints it), and it unwraps to the error itself.
type escapedError struct{ err error }

func (e *escapedError) Error() string { return ima.EscapeString(e.err.Error()) }
func (e *escapedError) Unwrap() error { return e.err }

// fileRead is how much of one handed-over file was read, against its size.
type fileRead struct {
	name       string
	read, size int64
}

// Run is the whole boot flow. It returns only when nothing was booted; the error says why, with
// its text escaped for the console as every line Run prints is (ima.EscapeString).
func Run(ctx context.Context, out io.Writer, sys System) error {
	f := &flow{out: out, sys: sys}
	err := f.run(ctx)
	var r *refusal
	if errors.As(err, &r) && f.cfg.recoverShell && f.m != nil {
		// Whatever was sealed to a normal boot must not unseal in the shell: every PCR the policy
		// could have extended gets the recovery event, once, and so do 8 and 9.
		pcrs := recoveryPCRs(f.pol)
		for _, pcr := range pcrs {
			if rerr := f.m.Record(pcr, "measuredboot.recovery", []byte(err.Error())); rerr != nil {
				return &escapedError{fmt.Errorf("%w; and the recovery event could not be measured in PCR %d (%v), so no shell", err, pcr, rerr)}
			}
		}
		f.say("%v", err)
		f.say("recovery shell: PCRs %s were extended with a recovery event", joinPCRs(pcrs))
		return ErrRecovery
	}
	if err != nil {
		return &escapedError{err}
	}
	return nil
}

// recoveryPCRs returns the PCRs the recovery event goes into, ascending and once each: 8 and 9,
// and the PCR of every measure rule of the policy (policy.DefaultPCR for one without pcr=),
// whether or not it matched anything in this boot, so that no value sealed to a normal boot
// survives into the shell. A PCR the TPM lacks fails the extend, and then there is no shell.
func recoveryPCRs(p *policy.Policy) []uint32 {
	pcrs := []uint32{recoveryPCR, filesPCR}
	if p != nil {
		for _, r := range p.Rules {
			if r.Action != policy.Measure {
				continue
			}
			pcr := r.PCR
			if pcr < 0 {
				pcr = policy.DefaultPCR
			}
			pcrs = append(pcrs, uint32(pcr))
		}
	}
	slices.Sort(pcrs)
	return slices.Compact(pcrs)
}

// joinPCRs writes PCRs as "8 and 9", "8, 9 and 11".
func joinPCRs(pcrs []uint32) string {
	s := make([]string, len(pcrs))
	for i, p := range pcrs {
		s[i] = fmt.Sprint(p)
	}
	if len(s) < 2 {
		return strings.Join(s, "")
	}
	return strings.Join(s[:len(s)-1], ", ") + " and " + s[len(s)-1]
}

// PCRs this program writes events of its own to.
const (
	recoveryPCR = 8 // failed appraisals and the recovery event: strings, as the kernel command line
	filesPCR    = 9
)

func (f *flow) run(ctx context.Context) error {
	start := time.Now()
	t := time.Now()
	n, err := f.sys.LoadModules()
	f.ph.add("modules", t)
	if err != nil {
		f.say("warning: kernel modules: %v", err)
	}
	f.say("loaded %d kernel modules", n)

	cb, err := f.sys.ReadConfig(ConfigPath)
	if err != nil {
		return &refusal{ConfigPath, err}
	}
	if f.cfg, err = parseConfig(cb); err != nil {
		return &refusal{ConfigPath, err}
	}
	src, err := f.sys.ReadConfig(PolicyPath)
	if err != nil {
		return &refusal{PolicyPath, fmt.Errorf("the image has no policy: %w", err)}
	}
	if f.pol, err = policy.Parse(PolicyPath, src); err != nil {
		return &refusal{PolicyPath, fmt.Errorf("%w (the image build should have caught this: rebuild with 'make initramfs')", err)}
	}
	if err := checkFormat(f.cfg.format, f.pol); err != nil {
		return &refusal{ConfigPath, fmt.Errorf("%w (the image build should have caught this)", err)}
	}
	for _, w := range policy.ResettablePCRs(f.pol) {
		f.say("warning: %s:%d: %s", PolicyPath, w.Line, w.Msg)
	}
	keys, err := f.sys.Keys()
	if err != nil {
		return &refusal{KeyListPath, err}
	}
	f.appr = &appraise.Appraiser{Keys: keys}
	if b, err := f.sys.ReadConfig(DigestsPath); err == nil {
		if f.appr.Digests, err = appraise.ParseDigestList(DigestsPath, b); err != nil {
			return &refusal{DigestsPath, err}
		}
	}
	mode := "enforce"
	if f.cfg.logMode {
		mode = "log (failures are measured and printed, the boot goes on)"
	}
	ndig := 0
	if f.appr.Digests != nil {
		ndig = f.appr.Digests.Len()
	}
	f.say("appraisal mode %s; %d keys, %d digests built in", mode, len(keys), ndig)

	t = time.Now()
	tpm, err := f.sys.OpenTPM()
	if err != nil {
		return &refusal{"/dev/tpmrm0", fmt.Errorf("no TPM: %w; nothing is booted unmeasured", err)}
	}
	f.tpm = tpm
	banks, err := tpm.Banks()
	if err != nil {
		return &refusal{"/dev/tpmrm0", err}
	}
	f.ph.add("tpm open", t)
	log := firmwareLog(f.sys, banks, f.say)
	if log == nil {
		if log, err = eventlog.New(banks); err != nil {
			return &refusal{"/dev/tpmrm0", fmt.Errorf("cannot log the TPM's banks: %w", err)}
		}
	}
	names := make([]string, len(banks))
	for i, b := range banks {
		names[i] = b.String()
	}
	f.say("TPM banks: %s; log has %d firmware events", strings.Join(names, ","), len(log.Events))

	f.m = &measure.Measurer{Policy: f.pol, TPM: tpm, FileHash: crypto.SHA256, Log: log, Format: f.cfg.format}
	if fh, ok := f.sys.(FileHasher); ok {
		var what string
		f.m.Sum, what = fh.FileHasher()
		f.say("file digests: %s", what)
	}
	// The IMA list begins, as the kernel's does, with the boot_aggregate of the PCRs as this
	// environment found them.
	t = time.Now()
	if err := f.bootAggregate(tpm, banks); err != nil {
		return err
	}
	f.ph.add("boot aggregate", t)
	if f.cfg.format == measure.FormatGRUB {
		// Measured, so that a log cannot claim another format than its PCRs show.
		if err := f.m.Record(recoveryPCR, measure.FormatName, []byte(f.cfg.format.String())); err != nil {
			return fmt.Errorf("cannot measure the event format: %w; nothing is booted unmeasured", err)
		}
		f.say("event format grub: GRUB's conventions in PCRs 8 and 9, no separators there; the IMA lists do not replay them")
	}
	// The policy is measured (and appraised) by its own POLICY_CHECK rules before any other rule
	// is used.
	pobj := policy.Object{Func: policy.PolicyCheck, Mask: policy.MayRead, HasFile: true}
	if err := f.check(pobj, PolicyPath, PolicyPath, src); err != nil {
		return err
	}

	t = time.Now()
	dctx, cancel := context.WithTimeout(ctx, DiscoverTimeout)
	entries, probes := f.sys.Entries(dctx, f.cfg.discover)
	cancel()
	f.ph.add("discover", t)
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
	// What was left out, and why, is on the console even when something boots: a stick that was
	// ignored, a partition whose configuration was refused.
	for _, p := range probes {
		f.say("not booted from %s: %v", p.Device, p.Err)
	}
	if len(entries) > MaxEntries {
		// Every entry tried reads its files (up to the memory budget each): bound the work a disk
		// full of refused entries can cause, and say so.
		f.say("%d entries found; only the first %d, in boot order, are tried", len(entries), MaxEntries)
		entries = entries[:MaxEntries]
	}
	for i, e := range entries {
		f.say(`entry %d: "%s" from %s: kernel %s, initrd %s, cmdline "%s"`, i, e.Name, e.Source, e.RelPath(e.Kernel), relPaths(e), e.Cmdline)
	}

	var last error
	for i, e := range entries {
		err := f.bootEntry(e, start)
		var r *refusal
		if !errors.As(err, &r) {
			return err // the TPM failed: nothing else may boot
		}
		if i < len(entries)-1 {
			f.say("%v; trying the next entry", err)
		}
		last = err
	}
	return last
}

// bootAggregate reads PCRs 0-9 (0-7 for SHA-1) in the bank the kernel would use, SHA-256 or else
// SHA-1 (else the first bank with a hash here), and records the boot_aggregate entry in PCR 9.
func (f *flow) bootAggregate(tpm TPM, banks []eventlog.Alg) error {
	alg := eventlog.Alg(0)
	for _, want := range []eventlog.Alg{eventlog.AlgSHA256, eventlog.AlgSHA1} {
		if slices.Contains(banks, want) {
			alg = want
			break
		}
	}
	if alg == 0 {
		for _, b := range banks {
			if _, ok := b.Hash(); ok {
				alg = b
				break
			}
		}
	}
	h, ok := alg.Hash()
	if !ok {
		return &refusal{"/dev/tpmrm0", fmt.Errorf("the TPM's banks %v: none has a hash this build can compute", banks)}
	}
	pcrs := []uint32{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}
	if h == crypto.SHA1 {
		pcrs = pcrs[:8]
	}
	vals, err := tpm.Read(alg, pcrs)
	if err != nil {
		return fmt.Errorf("cannot read PCRs for the boot_aggregate: %w; nothing is booted unmeasured", err)
	}
	// In GRUB's convention PCR 9 holds files: the aggregate is text there, in PCR 8.
	pcr := uint32(filesPCR)
	if f.cfg.format == measure.FormatGRUB {
		pcr = recoveryPCR
	}
	sum, err := f.m.BootAggregate(pcr, h, vals)
	if err != nil {
		return fmt.Errorf("cannot measure the boot_aggregate: %w; nothing is booted unmeasured", err)
	}
	f.say("%-21s pcr=%-2d %v:%x over %v PCRs 0-%d as found", ima.BootAggregateName, pcr, alg, sum[:8], alg, pcrs[len(pcrs)-1])
	return nil
}

// firmwareLog returns the firmware's event log to append to, or nil when there is none usable.
func firmwareLog(sys System, banks []eventlog.Alg, say func(string, ...any)) *eventlog.Log {
	if b, err := sys.FirmwareLog(); err != nil {
		say("warning: no firmware event log (%v); the handed-over log starts at this environment", err)
	} else if l, err := eventlog.Parse(b); err != nil {
		say("warning: firmware event log: %v; the handed-over log starts at this environment", err)
	} else if !slices.Equal(l.Banks(), banks) {
		say("warning: firmware event log lists banks %v, the TPM has %v; the handed-over log starts at this environment", l.Banks(), banks)
	} else {
		return l
	}
	return nil
}

// kexecHint says what a kexec_file_load error most likely means. ENOKEY and EKEYREJECTED come
// from the running kernel's own signature check (lockdown under Secure Boot, or KEXEC_SIG_FORCE):
// it takes only a next kernel signed by a key in its keyrings (the platform keyring holds UEFI
// db), whatever measuredboot's appraisal said.
func kexecHint(err error) string {
	switch {
	case errors.Is(err, unix.ENOKEY), errors.Is(err, unix.EKEYREJECTED), errors.Is(err, unix.EBADMSG):
		return "this kernel checks the next kernel's signature itself (lockdown under Secure Boot, or KEXEC_SIG): sign the next kernel with a key in the running kernel's keyrings (UEFI db), or boot measuredboot on a kernel that leaves the gate to its appraisal (configs/linuxboot.config)"
	case errors.Is(err, unix.EPERM):
		return "kexec is not permitted here (kexec_load_disabled, or lockdown)"
	}
	return "is it a bzImage for this architecture?"
}

// pending is one object on its way through check: the policy's decision, the evidence read for
// it and its digest algorithm, before the hashing (which may run for several objects at once).
type pending struct {
	obj measure.Object
	d   policy.Decision
	ev  appraise.Evidence
	err error // reading its evidence failed: a refusal when its turn comes
	// measuredAs, when set, is an earlier object (the same bytes under FIRMWARE_CHECK) whose
	// measurement is this one's: same PCR, template, digest and name, so it is recorded once.
	measuredAs *pending
	entry      *ima.Entry // the entry finish recorded, nil if none
}

// prepare evaluates the policy for one object and reads its evidence if it is to be appraised.
// name is what the logs record, path where the file is (for its signature).
func (f *flow) prepare(o policy.Object, name, path string, data []byte) *pending {
	d := f.pol.Evaluate(o)
	var ev appraise.Evidence
	var err error
	if d.Appraise && o.HasFile {
		ev, err = f.evidence(name, path)
	}
	return newPending(o, d, name, data, ev, err)
}

// evidence reads what lies beside a file for its appraisal; an error is a refusal of the file.
func (f *flow) evidence(name, path string) (appraise.Evidence, error) {
	ev, err := f.sys.Evidence(path)
	if err != nil {
		return appraise.Evidence{}, &refusal{name, fmt.Errorf("reading its signature: %w", err)}
	}
	return ev, nil
}

func newPending(o policy.Object, d policy.Decision, name string, data []byte, ev appraise.Evidence, err error) *pending {
	p := &pending{d: d, ev: ev, err: err}
	sig := p.ev.SigFile
	if sig == nil {
		sig = p.ev.XAttr
	}
	p.obj = measure.Object{Object: o, Name: name, Data: data, Hash: appraise.Hash(p.ev, crypto.SHA256), Sig: sig, Decision: &p.d}
	return p
}

// owned returns o with the file's owner and group, for fowner= and fgroup=.
func owned(o policy.Object, owner, group uint32) policy.Object {
	o.FOwner, o.FGroup = owner, group
	return o
}

// prepareInitrdPart prepares one part of the initramfs buffer (data, read from path, recorded as
// name); obj makes its policy object for a hook. To the kernel the whole buffer is one
// KEXEC_INITRAMFS_CHECK object: here every part is one, with its own digest, IMA entry and
// signature, so that an early image (CPU microcode before the main initramfs, GRUB's
// "initrd /boot/ucode.img /boot/initrd.img") meets the initramfs rules as the main initramfs does.
//
// An early image is also firmware: when a FIRMWARE_CHECK rule measures or appraises it, it is a
// FIRMWARE_CHECK object too, checked first (both checks must pass; a refusal names the first that
// fails). Both are measured when both hooks say so, except when the two measurements would be
// the same IMA entry (same PCR, template, digest and name): that one is recorded once, under
// FIRMWARE_CHECK, as extending the same event twice would tell a verifier nothing more. Evidence
// is read once for both and the bytes are hashed once.
func (f *flow) prepareInitrdPart(obj func(policy.Func) policy.Object, path, name string, data []byte, early bool) []*pending {
	iobj, fobj := obj(policy.KexecInitramfsCheck), obj(policy.FirmwareCheck)
	id, fd := f.pol.Evaluate(iobj), f.pol.Evaluate(fobj)
	fw := early && (fd.Measure || fd.Appraise)
	var ev appraise.Evidence
	var err error
	if id.Appraise || (fw && fd.Appraise) {
		ev, err = f.evidence(name, path)
	}
	ip := newPending(iobj, id, name, data, ev, err)
	if !fw {
		return []*pending{ip}
	}
	fp := newPending(fobj, fd, name, data, ev, err)
	if fd.Measure && id.Measure && fd.PCR == id.PCR && fd.Template == id.Template {
		ip.measuredAs = fp
	}
	return []*pending{fp, ip}
}

// hash computes, all at once, the digests of the objects a rule measures or appraises; objects
// that are the same bytes under the same algorithm (one early image under two hooks) are hashed
// once.
func (f *flow) hash(ps ...*pending) error {
	type span struct {
		p *byte
		n int
		h crypto.Hash
	}
	var objs []*measure.Object
	first := map[span]*measure.Object{}
	var dups [][2]*measure.Object
	for _, p := range ps {
		if p.err != nil || !(p.d.Measure || p.d.Appraise) {
			continue
		}
		if len(p.obj.Data) > 0 {
			k := span{&p.obj.Data[0], len(p.obj.Data), p.obj.Hash}
			if o, ok := first[k]; ok && p.obj.Hash != 0 {
				dups = append(dups, [2]*measure.Object{&p.obj, o})
				continue
			}
			first[k] = &p.obj
		}
		objs = append(objs, &p.obj)
	}
	if err := f.m.Hash(objs...); err != nil {
		return fmt.Errorf("cannot measure: %w; nothing is booted unmeasured", err)
	}
	for _, d := range dups {
		d[0].Hash, d[0].Digest = d[1].Hash, d[1].Digest
	}
	return nil
}

// check takes one object through measurement and appraisal: prepare, hash, finish.
func (f *flow) check(o policy.Object, name, path string, data []byte) error {
	p := f.prepare(o, name, path, data)
	if err := f.hash(p); err != nil {
		return err
	}
	return f.finish(p)
}

// finish measures and appraises a prepared (and hashed) object and prints its console line. A
// TPM or log failure is returned as a plain error (fatal); a failed appraisal in enforce mode is a
// refusal.
func (f *flow) finish(p *pending) error {
	if p.err != nil {
		return p.err
	}
	o, d, ev, name := p.obj.Object, p.d, p.ev, p.obj.Name
	obj := p.obj
	same := p.measuredAs != nil && p.measuredAs.entry != nil && p.measuredAs.obj.Hash == obj.Hash
	if same { // the entry is recorded already (prepareInitrdPart): hash and appraise only
		nd := p.d
		nd.Measure = false
		obj.Decision = &nd
	}
	r, err := f.m.Measure(obj)
	if err != nil {
		return fmt.Errorf("cannot measure %s: %w; nothing is booted unmeasured", name, err)
	}
	verdict, pcr := "not measured (no rule)", "-"
	switch {
	case r.Entry != nil:
		p.entry = r.Entry
		verdict, pcr = "measured "+r.Entry.Template, fmt.Sprint(r.Entry.PCR)
	case same:
		e := p.measuredAs.entry
		verdict, pcr = "measured "+e.Template+" (the "+p.measuredAs.obj.Func.String()+" entry)", fmt.Sprint(e.PCR)
	}
	var aerr error
	if d.Appraise {
		t := time.Now()
		aerr = f.appr.Appraise(d, o.Func, name, r.Hash, r.Digest, ev)
		f.ph.add("appraise", t)
		var ae *appraise.Error
		switch {
		case aerr == nil:
			verdict += ", appraised"
		case errors.As(aerr, &ae):
			verdict += ", appraisal FAILED: " + string(ae.Reason)
		}
	}
	hn, _ := ima.HashName(r.Hash)
	digest := "-" // not hashed: no rule concerns it
	if r.Digest != nil {
		digest = fmt.Sprintf("%x", r.Digest[:8])
	}
	f.say("%-21s pcr=%-2s %s:%-16s %s %s", o.Func, pcr, hn, digest, name, verdict)
	if aerr == nil {
		return nil
	}
	if err := f.m.Record(recoveryPCR, "measuredboot.appraisal-failed", []byte(aerr.Error())); err != nil {
		return fmt.Errorf("cannot measure the failed appraisal of %s: %w", name, err)
	}
	if f.cfg.logMode {
		f.say("log mode, booting anyway: %v", aerr)
		return nil
	}
	return &refusal{name, aerr}
}

// Names of the events the flow records in PCR 8 about the entries it tries (ima-buf, like
// "kexec-cmdline"). The handed-over log reads, in order (the TCG log interleaves PCRs 8 and 9
// as they were extended):
//
//	boot_aggregate (9), /etc/measuredboot/policy (9)
//	measuredboot.entry (8): the first entry tried, EntryMarker
//	  its kernel and initrd parts (9), measuredboot.appraisal-failed (8) for each failed appraisal,
//	  kexec-cmdline (8) once its files passed, separators (8, 9, ...) once it is to be loaded
//	  measuredboot.kexec-failed (8): only if kexec_file_load refused it, KexecFailed
//	measuredboot.entry (8): the next entry tried, and so on
//
// The entry that booted is the one named by the last measuredboot.entry event, and the log
// ends with its separators; every earlier marker names an entry that was refused (its last
// events say why: a failed appraisal, a kexec-failed event, or no event when a file could not
// be read), and none of the events after it belong to it.
const (
	EntryMarkerName = "measuredboot.entry"        // opens an entry's events; buffer EntryMarker
	KexecFailedName = "measuredboot.kexec-failed" // kexec_file_load refused the entry; buffer KexecFailed
)

// EntryMarker returns the buffer of the measuredboot.entry event that opens an entry's events:
// its name (menu title) and source ("vda1 grub") as Go-quoted strings, `name="..." source="..."`.
// mbctl predict records the same for the entry it predicts.
func EntryMarker(e discover.Entry) []byte {
	return fmt.Appendf(nil, "name=%q source=%q", e.Name, e.Source)
}

// KexecFailed returns the buffer of the measuredboot.kexec-failed event: the entry's name and
// kexec_file_load's error as Go-quoted strings, `name="..." error="..."`.
func KexecFailed(e discover.Entry, err error) []byte {
	return fmt.Appendf(nil, "name=%q error=%q", e.Name, err.Error())
}

// bootEntry takes one entry through reading, measuring, appraising, the handover and kexec. It
// returns a *refusal when the entry may not boot (the next may be tried), any other error when
// nothing may boot, and nothing when KexecReboot returns (in tests).
func (f *flow) bootEntry(e discover.Entry, start time.Time) error {
	if err := f.m.Record(recoveryPCR, EntryMarkerName, EntryMarker(e)); err != nil {
		return fmt.Errorf("cannot measure the start of entry \"%s\": %w; nothing is booted unmeasured", e.Name, err)
	}
	if strings.IndexByte(e.Cmdline, 0) >= 0 {
		// kexec_file_load would take the line up to the NUL, and the measurement all of it.
		return &refusal{e.RelPath(e.Kernel), fmt.Errorf("entry \"%s\": its command line has a NUL byte: the kernel would not run with the line that is measured", e.Name)}
	}
	fileObj := func(fn policy.Func, path string) policy.Object {
		fs := e.FSOf(path)
		return policy.Object{Func: fn, Mask: policy.MayRead, HasFile: true, FSName: fs.Type, FSMagic: fs.Magic, FSUUID: fs.UUID}
	}
	t := time.Now()
	kernel, err := f.sys.ReadFile(e.Kernel)
	f.ph.add("read", t)
	if err != nil {
		return &refusal{e.RelPath(e.Kernel), fmt.Errorf("entry \"%s\": read kernel: %w", e.Name, err)}
	}
	defer kernel.Close()
	f.reads = append(f.reads, fileRead{e.RelPath(e.Kernel), kernel.ReadSize, int64(len(kernel.Bytes()))})
	// Early images (CPU microcode) come before the main initramfs; each is read once into its
	// place in one buffer, and measured and appraised on its own.
	var initrd *kexec.Buffer
	var parts []kexec.Part
	var initrdErr error // refused after the kernel was measured, as when they are read in turn
	if len(e.Initrds) > 0 {
		t := time.Now()
		initrd, parts, err = f.sys.ReadFiles("initrd", e.Initrds)
		f.ph.add("read", t)
		if err != nil {
			initrdErr = &refusal{relPaths(e), fmt.Errorf("entry \"%s\": read initrd: %w", e.Name, err)}
		} else {
			defer initrd.Close()
			for _, p := range parts {
				f.reads = append(f.reads, fileRead{e.RelPath(p.Path), p.Read, p.Len})
			}
		}
	}
	// The kernel and each initrd part are hashed at once, then measured and appraised in order.
	// fowner= and fgroup= see the owner of the file each buffer was read from (its fstat).
	kobj := owned(fileObj(policy.KexecKernelCheck, e.Kernel), kernel.Owner, kernel.Group)
	objs := []*pending{f.prepare(kobj, e.RelPath(e.Kernel), e.Kernel, kernel.Bytes())}
	for i, p := range parts {
		obj := func(fn policy.Func) policy.Object { return owned(fileObj(fn, p.Path), p.Owner, p.Group) }
		objs = append(objs, f.prepareInitrdPart(obj, p.Path, e.RelPath(p.Path), initrd.Bytes()[p.Off:p.Off+p.Len], i < len(parts)-1)...)
	}
	if err := f.hash(objs...); err != nil {
		return err
	}
	for i, p := range objs {
		if err := f.finish(p); err != nil {
			return err
		}
		if i == 0 && initrdErr != nil {
			return initrdErr
		}
	}
	if e.DTB != "" {
		// Measured and appraised like any early image, then refused: the boot would not be the
		// one the entry describes.
		dtb, err := f.sys.ReadFile(e.DTB)
		if err != nil {
			return &refusal{e.RelPath(e.DTB), fmt.Errorf("entry \"%s\": read devicetree: %w", e.Name, err)}
		}
		defer dtb.Close()
		if err := f.check(owned(fileObj(policy.FirmwareCheck, e.DTB), dtb.Owner, dtb.Group), e.RelPath(e.DTB), e.DTB, dtb.Bytes()); err != nil {
			return err
		}
		return &refusal{e.RelPath(e.DTB), fmt.Errorf("entry \"%s\" names a device tree, and kexec_file_load cannot hand one to the next kernel on this architecture; remove the devicetree line", e.Name)}
	}
	fwBuf, fwFiles, err := f.firmwareDir(e, fileObj)
	if err != nil {
		return err
	}
	if fwBuf != nil {
		defer fwBuf.Close()
	}

	// The kernel tests a KEXEC_CMDLINE rule's file conditions against the kexec'd kernel's file.
	cmdObj := owned(fileObj(policy.KexecCmdline, e.Kernel), kernel.Owner, kernel.Group)
	cmdObj.Mask = 0
	if err := f.check(cmdObj, "kexec-cmdline", "", []byte(e.Cmdline)); err != nil {
		return err
	}

	// What the kernel will unpack from the measured initramfs: nothing appended after it may
	// replace, remove or change the type of one of its paths (a firmware archive's "lib" record
	// once replaced Debian's lib -> usr/lib link). Checked before the PCRs are closed, so that a
	// refusal here is recorded like any other.
	var measured []byte
	if initrd != nil {
		measured = initrd.Bytes()
	}
	tree, err := handover.ParseInitramfs(measured)
	if err != nil {
		return &refusal{relPaths(e), fmt.Errorf("entry \"%s\": the initramfs cannot be read as the kernel will unpack it, so nothing can be appended to it safely: %w", e.Name, err)}
	}
	if why := tree.Stopped(); why != "" {
		f.say("warning: the kernel will stop unpacking the initramfs at %s: the handed-over logs and firmware will not reach the next system", why)
	}
	if _, err := tree.Logs(nil); err != nil {
		return &refusal{relPaths(e), fmt.Errorf("entry \"%s\": %w", e.Name, err)}
	}
	var fw []byte
	if len(fwFiles) > 0 {
		m := make(map[string][]byte, len(fwFiles))
		for _, ff := range fwFiles {
			m[ff.rel] = ff.data
		}
		var skipped []string
		if fw, skipped, err = tree.AppendFiles("lib/firmware", m); err != nil {
			return &refusal{f.cfg.firmwareDir, fmt.Errorf("entry \"%s\": firmware archive: %w", e.Name, err)}
		}
		for _, sk := range skipped {
			f.say("firmware: not handed over, the measured initramfs has it: %s", sk)
		}
	}
	if initrd == nil { // the handover archive alone becomes the initramfs
		if initrd, err = kexec.Empty("handover"); err != nil {
			return err
		}
		defer initrd.Close()
	}
	// Close every PCR this boot extended before the logs are handed over (in the grub format,
	// all but 8 and 9: there the kernel_cmdline event is the last).
	for _, pcr := range f.m.PCRs() {
		if f.m.Format.InGRUBForm(pcr) {
			continue
		}
		if err := f.m.Separator(pcr); err != nil {
			return fmt.Errorf("cannot close PCR %d: %w; nothing is booted with an open measurement", pcr, err)
		}
	}
	files, err := logFiles(f.m)
	if err != nil {
		return err
	}
	arch, err := tree.Logs(files)
	if err != nil {
		return err
	}
	if fw != nil {
		if err := initrd.Append(fw, handover.Align); err != nil {
			return err
		}
	}
	if err := initrd.Append(arch, handover.Align); err != nil {
		return err
	}
	for _, b := range []*kexec.Buffer{kernel, initrd} {
		if err := b.Seal(); err != nil {
			return err
		}
	}
	f.say("handover: %d log bytes appended to the initrd (%d measured bytes, %d in all) as /%s/",
		len(arch), len(initrd.Bytes()), initrd.Size(), handover.Dir)
	if f.cfg.crossCheck {
		if err := f.sys.EnableKernelIMA(); err != nil {
			return fmt.Errorf("kernel IMA cross-check: %w", err)
		}
	}
	t = time.Now()
	if err := f.sys.KexecLoad(kernel, initrd, e.Cmdline); err != nil {
		// The separators are in: without this event the next entry's events would read as
		// this one's continuation.
		if rerr := f.m.Record(recoveryPCR, KexecFailedName, KexecFailed(e, err)); rerr != nil {
			return fmt.Errorf("cannot measure the failed kexec_file_load of entry \"%s\": %w; nothing else is booted", e.Name, rerr)
		}
		return &refusal{e.RelPath(e.Kernel), fmt.Errorf("%w (%s)", err, kexecHint(err))}
	}
	f.ph.add("kexec load", t)
	st := f.m.Stats
	f.ph.d["hash"], f.ph.d["tpm extend"] = st.HashTime, st.ExtendTime
	f.ph.names = append(f.ph.names, "hash", "tpm extend")
	f.say("time: %v; total %.3fs", &f.ph, time.Since(start).Seconds())
	var read, size int64
	per := make([]string, len(f.reads))
	for i, r := range f.reads {
		read, size = read+r.read, size+r.size
		per[i] = fmt.Sprintf("%s %d of %d", r.name, r.read, r.size)
	}
	ratio := 0.0
	if size > 0 {
		ratio = float64(read) / float64(size)
	}
	f.say("bytes: read %d of %d file bytes (%.2f per byte), hashed %d; %d TPM extends", read, size, ratio, st.Hashed, st.Extends)
	f.say("bytes read per file: %s", strings.Join(per, ", "))
	if u, ok := f.tpm.(interface{ Usage() string }); ok {
		f.say("tpm: %s", u.Usage())
	}
	if f.cfg.crossCheck {
		lines, err := f.sys.KernelIMA()
		if err != nil {
			return fmt.Errorf("kernel IMA cross-check: %w", err)
		}
		for _, l := range lines {
			f.say("kernel-ima: %s", l)
		}
		f.say("handover: whole initrd sha256:%x", sha256.Sum256(initrd.All()))
	}
	f.say("kexec %s", e.Name)
	return f.sys.KexecReboot()
}

// logFiles returns the handed-over files: the TCG log, and the IMA lists (ASCII and binary) with
// each bank's template digests, named as the kernel names its per-bank lists.
func logFiles(m *measure.Measurer) (map[string][]byte, error) {
	tcg, err := m.Log.Marshal()
	if err != nil {
		return nil, err
	}
	files := map[string][]byte{"tcg.log": tcg}
	// As the kernel's securityfs: the classic lists with SHA-1 template digests (what evmctl
	// ima_measurement and older verifiers read), and one list per bank of the TPM.
	lists := []struct {
		suffix string
		h      crypto.Hash
	}{{"", crypto.SHA1}}
	for _, alg := range m.Log.Banks() {
		if h, ok := alg.Hash(); ok {
			lists = append(lists, struct {
				suffix string
				h      crypto.Hash
			}{"_" + alg.String(), h})
		}
	}
	for _, l := range lists {
		h := l.h
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
		files["ima/binary_runtime_measurements"+l.suffix] = bin
		files["ima/ascii_runtime_measurements"+l.suffix] = []byte(asc.String())
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

// maxFirmwareFiles bounds the firmware directory: more regular files (or more directories and
// skipped entries) there is a refusal, so a hostile disk cannot make the boot list without bound.
// It bounds the whole boot too: every entry tried reads (and extends the TPM for) its firmware
// files again, and 64 entries of 4096 files each would take an hour of TPM extends.
const maxFirmwareFiles = 4096

// firmwareFile is one checked firmware file: its place under the firmware directory and its bytes.
type firmwareFile struct {
	rel  string
	data []byte
}

// firmwareDir reads the regular files under the image's firmware directory on the partition of
// the entry's kernel, once each into one buffer, and checks each under FIRMWARE_CHECK. The
// directory is walked beneath the partition's root without following any link
// (System.WalkFiles): a firmware directory that is itself a link is a refusal; links and special
// files inside it are skipped and named on the console. The returned buffer holds the files' bytes
// until the caller closes it; nil when there is nothing to hand over.
func (f *flow) firmwareDir(e discover.Entry, fileObj func(policy.Func, string) policy.Object) (*kexec.Buffer, []firmwareFile, error) {
	if f.cfg.firmwareDir == "" {
		return nil, nil, nil
	}
	root := e.FSOf(e.Kernel).Mount
	dir := filepath.Join(root, f.cfg.firmwareDir)
	found, skipped, err := f.sys.WalkFiles(root, dir, maxFirmwareFiles)
	if errors.Is(err, fs.ErrNotExist) {
		f.say("firmware directory %s: none on %s", f.cfg.firmwareDir, e.FSOf(e.Kernel).Device)
		return nil, nil, nil
	} else if err != nil {
		return nil, nil, &refusal{e.RelPath(dir), fmt.Errorf("entry %q: firmware directory: %w", e.Name, err)}
	}
	for _, s := range skipped {
		f.say("firmware directory: %s is a %s: not handed over (links and special files are never followed)", e.RelPath(s.Path), s.Kind)
	}
	var paths []string
	for _, p := range found {
		if !strings.HasSuffix(p, ".sig") {
			paths = append(paths, p)
		}
	}
	if len(paths) == 0 {
		return nil, nil, nil
	}
	if f.fwFiles+len(paths) > maxFirmwareFiles {
		return nil, nil, &refusal{e.RelPath(dir), fmt.Errorf("entry %q: its %d firmware files would make %d read in this boot, over the bound of %d (entries tried before it read the rest)",
			e.Name, len(paths), f.fwFiles+len(paths), maxFirmwareFiles)}
	}
	f.fwFiles += len(paths)
	buf, parts, err := f.sys.ReadFiles("firmware", paths)
	if err != nil {
		return nil, nil, &refusal{e.RelPath(dir), fmt.Errorf("entry %q: read firmware: %w", e.Name, err)}
	}
	for _, p := range parts {
		f.reads = append(f.reads, fileRead{e.RelPath(p.Path), p.Read, p.Len})
	}
	// The files are appended to the initramfs, so to the next kernel they are part of its
	// KEXEC_INITRAMFS_CHECK object: each is measured and appraised under those rules as well as
	// under FIRMWARE_CHECK's, like an early image (once, when both rules would record the same).
	var files []firmwareFile
	var objs []*pending
	for _, p := range parts {
		data := buf.Bytes()[p.Off : p.Off+p.Len]
		obj := func(fn policy.Func) policy.Object { return owned(fileObj(fn, p.Path), p.Owner, p.Group) }
		objs = append(objs, f.prepareInitrdPart(obj, p.Path, e.RelPath(p.Path), data, true)...)
		rel, _ := filepath.Rel(dir, p.Path)
		files = append(files, firmwareFile{rel, data})
	}
	if err := f.hash(objs...); err != nil {
		buf.Close()
		return nil, nil, err
	}
	for _, p := range objs {
		if err := f.finish(p); err != nil {
			buf.Close()
			return nil, nil, err
		}
	}
	return buf, files, nil
}
