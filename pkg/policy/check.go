package policy

import (
	"fmt"
	"slices"
	"strings"
)

// Severity grades a Finding.
type Severity uint8

// The severities, from least to most serious.
const (
	Info    Severity = iota // what a rule does here
	Warning                 // a rule that does less than it seems to, or that will trip a verifier
	Error                   // a rule this environment cannot honour: do not boot with the policy
)

// String returns "info", "warning" or "error".
func (s Severity) String() string {
	switch s {
	case Info:
		return "info"
	case Warning:
		return "warning"
	case Error:
		return "error"
	}
	return fmt.Sprintf("Severity(%d)", uint8(s))
}

// Finding is one statement about a policy in this boot environment.
type Finding struct {
	Line     int // the rule's line; 0 for the policy as a whole
	Severity Severity
	Msg      string
}

// String returns "line N: severity: msg", or "policy: severity: msg" when Line is 0.
func (f Finding) String() string {
	if f.Line == 0 {
		return fmt.Sprintf("policy: %s: %s", f.Severity, f.Msg)
	}
	return fmt.Sprintf("line %d: %s: %s", f.Line, f.Severity, f.Msg)
}

// bootFuncs are the hooks this environment has: it reads the policy, the kexec kernel, initramfs
// and command line, and firmware, and nothing else.
func bootFuncs() []Func {
	return []Func{KexecKernelCheck, KexecInitramfsCheck, KexecCmdline, FirmwareCheck, PolicyCheck}
}

const bootFuncList = "KEXEC_KERNEL_CHECK, KEXEC_INITRAMFS_CHECK, KEXEC_CMDLINE, FIRMWARE_CHECK and POLICY_CHECK"

// bootMask is the access the kernel passes for a hook: files are read (MAY_READ), buffers have none.
func bootMask(f Func) uint32 {
	if f == KexecCmdline {
		return 0
	}
	return MayRead
}

// writable reports whether this environment writes the template (pkg/ima writes these three).
func writable(template string) bool {
	return template == "ima-ng" || template == "ima-sig" || template == BufTemplate
}

// Check reports, rule by rule, what each rule means in this boot environment, then what the
// policy as a whole leaves out. Here the hooks are exactly KEXEC_KERNEL_CHECK,
// KEXEC_INITRAMFS_CHECK, KEXEC_CMDLINE, FIRMWARE_CHECK and POLICY_CHECK (a rule without func=
// matches them all), files are read by root from a mounted boot partition, and no LSM policy is
// loaded. A finding of severity Error means the policy must not be used here.
func Check(p *Policy) []Finding {
	if p == nil {
		p = &Policy{}
	}
	var out []Finding
	add := func(line int, s Severity, format string, args ...any) {
		out = append(out, Finding{line, s, fmt.Sprintf(format, args...)})
	}
	// decidedBy[kind][f] is the line of the first rule of that kind (0 measure, 1 appraise) that
	// decides every object of hook f: later rules of the kind never decide f.
	decidedBy := [2]map[Func]int{{}, {}}
	usable := map[Func][]bool{} // for each hook, whether each rule acting on it is free of errors
	measured := map[Func]bool{}
	appraised := map[Func]bool{}
	for i := range p.Rules {
		r := &p.Rules[i]
		kind := 0
		switch r.Action {
		case Audit, Hash, DontHash:
			add(r.Line, Warning, "%s has no effect here: this environment only measures and appraises", r.Action)
			continue
		case Appraise, DontAppraise:
			kind = 1
		}
		funcs, sev, why := bootMatch(r)
		if funcs == nil {
			add(r.Line, sev, "never matches here: %s", why)
			continue
		}
		var live []Func
		var by []string
		for _, f := range funcs {
			if l, ok := decidedBy[kind][f]; ok {
				by = append(by, fmt.Sprintf("line %d for %s", l, f))
			} else {
				live = append(live, f)
			}
		}
		if live == nil {
			add(r.Line, Warning, "never decides here: earlier rules decide every object it matches first (%s)", strings.Join(by, ", "))
			continue
		}
		if !r.hasFileCond() {
			for _, f := range live {
				decidedBy[kind][f] = r.Line
			}
		}
		before := len(out)
		checkRule(r, live, add)
		ok := true
		for _, f := range out[before:] {
			ok = ok && f.Severity != Error
		}
		for _, f := range live {
			usable[f] = append(usable[f], ok)
			measured[f] = measured[f] || (ok && r.Action == Measure)
			appraised[f] = appraised[f] || (ok && r.Action == Appraise)
		}
	}
	for _, f := range bootFuncs() {
		if u := usable[f]; len(u) > 0 && !slices.Contains(u, true) {
			add(0, Error, "every rule that would decide %s is unusable here (see their errors): %s would not be handled as the policy intends", f, f)
		}
		if !measured[f] {
			sev := Warning
			if f == FirmwareCheck { // firmware is the LinuxBoot kernel's business, not this program's
				sev = Info
			}
			add(0, sev, "no usable measure rule matches %s: it is not measured here", f)
		}
	}
	if appraised[KexecKernelCheck] && !appraised[KexecInitramfsCheck] {
		add(0, Warning, "%s is appraised and %s is not: every part of the initramfs (early images such as CPU microcode included) "+
			"boots unchecked beside the checked kernel; add appraise func=%s appraise_type=imasig", KexecKernelCheck, KexecInitramfsCheck, KexecInitramfsCheck)
	}
	return out
}

// ResettablePCRs returns a warning for each measure rule whose pcr= is 16 or 23: on a PC Client
// TPM these can be reset from locality 0, so whoever runs code on the machine can reset them and
// extend what they like, and their values prove nothing. Check reports the same findings; the
// boot flow prints them when it starts.
func ResettablePCRs(p *Policy) []Finding {
	if p == nil {
		return nil
	}
	var out []Finding
	for i := range p.Rules {
		if r := &p.Rules[i]; r.Action == Measure && isResettable(r.PCR) {
			out = append(out, Finding{r.Line, Warning, resettableMsg(r.PCR)})
		}
	}
	return out
}

// isResettable reports whether a PC Client TPM lets locality 0 (any program) reset pcr.
func isResettable(pcr int) bool { return pcr == 16 || pcr == 23 }

func resettableMsg(pcr int) string {
	return fmt.Sprintf("pcr=%d can be reset from locality 0 on a PC Client TPM: any program on the machine can reset it and extend what it likes, so its value proves nothing; use pcr=9 for files, pcr=8 for the command line", pcr)
}

// bootMatch returns the boot hooks a rule can match given what is fixed here (reads by root with
// MAY_READ, no mask for the command line, no LSM), or why it matches none, and how much that matters.
func bootMatch(r *Rule) ([]Func, Severity, string) {
	if r.Func != FuncAny && !slices.Contains(bootFuncs(), r.Func) {
		return nil, Info, fmt.Sprintf("%s does not occur at boot; this environment has only %s", r.Func, bootFuncList)
	}
	if r.hasLSM() {
		var labels []string
		for _, l := range r.lsmConds() {
			if l.value != "" {
				labels = append(labels, l.key+"="+l.value)
			}
		}
		return nil, Warning, fmt.Sprintf("LSM label conditions (%s) need an LSM policy, and none is loaded at boot", strings.Join(labels, " "))
	}
	for _, c := range r.idConds()[:4] { // uid, euid, gid, egid
		if !c.cond.holds(0) {
			return nil, Warning, fmt.Sprintf("%s%c%d is never true: boot files are read by root (uid and gid 0)", c.key, c.cond.Op, c.cond.ID)
		}
	}
	candidates := []Func{r.Func}
	if r.Func == FuncAny {
		candidates = bootFuncs()
		if r.Action == Appraise || r.Action == DontAppraise { // buffers are never appraised
			candidates = slices.DeleteFunc(candidates, Func.isBuffer)
		}
	}
	var funcs []Func
	for _, f := range candidates {
		m := bootMask(f)
		if r.Mask == 0 || (r.MaskIn && r.Mask&m != 0) || (!r.MaskIn && r.Mask == m) {
			funcs = append(funcs, f)
		}
	}
	if funcs == nil {
		caret := ""
		if r.MaskIn {
			caret = "^"
		}
		return nil, Warning, fmt.Sprintf("mask=%s%s is never true: files are read here with MAY_READ, and the command line has no access mask", caret, maskName(r.Mask))
	}
	return funcs, Info, ""
}

// checkRule reports on a rule that decides the hooks funcs here.
func checkRule(r *Rule, funcs []Func, add func(int, Severity, string, ...any)) {
	var names []string
	cmdline, files := false, false
	for _, f := range funcs {
		names = append(names, f.String())
		cmdline, files = cmdline || f == KexecCmdline, files || f != KexecCmdline
	}
	what, when := strings.Join(names, ", "), ""
	if r.hasFileCond() {
		c := Rule{Action: r.Action, PCR: -1, FSMagic: r.FSMagic, HasFSMagic: r.HasFSMagic, FSName: r.FSName,
			FSUUID: r.FSUUID, HasFSUUID: r.HasFSUUID, FOwner: r.FOwner, FGroup: r.FGroup}
		when = ", when" + strings.TrimPrefix(c.String(), c.Action.String())
		if cmdline {
			when += " (for KEXEC_CMDLINE, tested on the kexec'd kernel image's file)"
		}
	}
	if r.AppraiseType == SigV3 {
		add(r.Line, Error, "appraise_type=sigv3 (fs-verity signatures) is not supported here: boot files are hashed whole, not through fs-verity; use appraise_type=imasig")
	} else if r.DigestVerity {
		add(r.Line, Error, "digest_type=verity (fs-verity file digests) is not supported here: boot files are hashed whole, not through fs-verity; remove it")
	}
	switch r.Action {
	case Measure:
		switch {
		case r.PCR < 0:
			add(r.Line, Warning, "no pcr=, so PCR %d, the kernel default: the kexec'd kernel's own IMA extends PCR %d; verifiers replaying its list will break (use pcr=9 for files, pcr=8 for the command line)", DefaultPCR, DefaultPCR)
		case r.PCR == DefaultPCR:
			add(r.Line, Warning, "pcr=%d: the kexec'd kernel's own IMA extends PCR %d; verifiers replaying its list will break (use pcr=9 for files, pcr=8 for the command line)", DefaultPCR, DefaultPCR)
		case r.PCR > 23:
			add(r.Line, Error, "pcr=%d: a TPM 2.0 PC Client TPM has PCRs 0 to 23; the extend would fail", r.PCR)
		case isResettable(r.PCR):
			add(r.Line, Warning, "%s", resettableMsg(r.PCR))
		}
		tmpl := r.Template
		switch {
		case tmpl != "" && !writable(tmpl):
			add(r.Line, Error, "template=%s is not written here; use ima-ng, ima-sig or ima-buf", tmpl)
		case tmpl == BufTemplate && files:
			add(r.Line, Warning, "template=ima-buf is for buffers: files (%s) should use ima-ng or ima-sig", what)
		case tmpl != "" && tmpl != BufTemplate && cmdline:
			add(r.Line, Info, "KEXEC_CMDLINE as %s records only the command line's digest, not its text (ima-buf records both)", tmpl)
		case tmpl == "" && cmdline && files:
			tmpl = DefaultTemplate + " (" + BufTemplate + " for KEXEC_CMDLINE)"
		case tmpl == "" && cmdline:
			tmpl = BufTemplate
		case tmpl == "":
			tmpl = DefaultTemplate
		}
		pcr := r.PCR
		if pcr < 0 {
			pcr = DefaultPCR
		}
		add(r.Line, Info, "measures %s into PCR %d as %s%s", what, pcr, tmpl, when)
	case DontMeasure:
		add(r.Line, Info, "keeps %s out of measurement%s", what, when)
	case Appraise:
		if r.AppraiseType == IMASigModsig {
			add(r.Line, Warning, "appraise_type=imasig|modsig: appended signatures (modsig) are ignored here; the file still needs its IMA signature (security.ima or a detached .sig)")
		}
		if r.CheckBlacklist {
			add(r.Line, Info, "appraise_flag=check_blacklist is deprecated and ignored by current kernels: appraisal always checks the blacklist")
		}
		how := "a good digest or signature in security.ima"
		switch r.AppraiseType {
		case IMASig, IMASigModsig:
			how = "an IMA signature"
		case SigV3:
			how = "an fs-verity signature"
		}
		if r.AppraiseAlgos != nil {
			how += " made with " + strings.Join(r.AppraiseAlgos, " or ")
		}
		add(r.Line, Info, "appraises %s: requires %s%s", what, how, when)
	case DontAppraise:
		add(r.Line, Info, "keeps %s out of appraisal%s", what, when)
	}
}
