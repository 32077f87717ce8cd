package policy

import (
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Action is what a rule does with the objects it matches.
type Action uint8

// The actions of the policy language. The zero Action is no action; Parse never returns it.
const (
	Measure      Action = iota + 1 // measure: hash the object and extend a PCR with it
	DontMeasure                    // dont_measure: keep the object out of measurement
	Appraise                       // appraise: the object must carry a good digest or signature
	DontAppraise                   // dont_appraise: keep the object out of appraisal
	Audit                          // audit: write the object's hash to the audit log
	Hash                           // hash: store the object's hash in security.ima
	DontHash                       // dont_hash: do not store it
)

// String returns the action as the policy language spells it ("dont_measure").
func (a Action) String() string {
	switch a {
	case Measure:
		return "measure"
	case DontMeasure:
		return "dont_measure"
	case Appraise:
		return "appraise"
	case DontAppraise:
		return "dont_appraise"
	case Audit:
		return "audit"
	case Hash:
		return "hash"
	case DontHash:
		return "dont_hash"
	}
	return fmt.Sprintf("Action(%d)", uint8(a))
}

// Func is the kernel hook a rule applies to (func=).
type Func uint8

// The hooks of the policy language, in the kernel's enum ima_hooks order.
const (
	FuncAny             Func = iota // no func= given: the rule applies to every hook but KEY_CHECK and CRITICAL_DATA
	FileCheck                       // FILE_CHECK (alias PATH_CHECK): open(2)
	MMAPCheck                       // MMAP_CHECK (alias FILE_MMAP): mmap with PROT_EXEC
	MMAPCheckReqprot                // MMAP_CHECK_REQPROT: mmap, protection as requested
	BPRMCheck                       // BPRM_CHECK: execve(2)
	CredsCheck                      // CREDS_CHECK: execve(2), with the new credentials
	ModuleCheck                     // MODULE_CHECK: kernel modules
	FirmwareCheck                   // FIRMWARE_CHECK: firmware blobs
	KexecKernelCheck                // KEXEC_KERNEL_CHECK (2015 spelling KEXEC_CHECK): the kexec kernel image
	KexecInitramfsCheck             // KEXEC_INITRAMFS_CHECK (2015 spelling INITRAMFS_CHECK): the kexec initramfs
	PolicyCheck                     // POLICY_CHECK: an IMA policy loaded from a file
	KexecCmdline                    // KEXEC_CMDLINE: the kexec command line (a buffer)
	KeyCheck                        // KEY_CHECK: keys added to a keyring (a buffer)
	CriticalData                    // CRITICAL_DATA: kernel critical data (a buffer)
	SetxattrCheck                   // SETXATTR_CHECK: hash algorithms allowed in security.ima
	numFuncs
)

// String returns the kernel's spelling of the hook ("KEXEC_KERNEL_CHECK"), or "(any)" for FuncAny.
func (f Func) String() string {
	switch f {
	case FuncAny:
		return "(any)"
	case FileCheck:
		return "FILE_CHECK"
	case MMAPCheck:
		return "MMAP_CHECK"
	case MMAPCheckReqprot:
		return "MMAP_CHECK_REQPROT"
	case BPRMCheck:
		return "BPRM_CHECK"
	case CredsCheck:
		return "CREDS_CHECK"
	case ModuleCheck:
		return "MODULE_CHECK"
	case FirmwareCheck:
		return "FIRMWARE_CHECK"
	case KexecKernelCheck:
		return "KEXEC_KERNEL_CHECK"
	case KexecInitramfsCheck:
		return "KEXEC_INITRAMFS_CHECK"
	case PolicyCheck:
		return "POLICY_CHECK"
	case KexecCmdline:
		return "KEXEC_CMDLINE"
	case KeyCheck:
		return "KEY_CHECK"
	case CriticalData:
		return "CRITICAL_DATA"
	case SetxattrCheck:
		return "SETXATTR_CHECK"
	}
	return fmt.Sprintf("Func(%d)", uint8(f))
}

// funcByName maps a func= value to its hook: the kernel's names, its aliases FILE_MMAP and
// PATH_CHECK, and the 2015 patch series' KEXEC_CHECK and INITRAMFS_CHECK (which no released kernel
// accepts; Rule.String writes the modern name).
func funcByName(s string) (Func, bool) {
	switch s {
	case "FILE_MMAP":
		return MMAPCheck, true
	case "PATH_CHECK":
		return FileCheck, true
	case "KEXEC_CHECK":
		return KexecKernelCheck, true
	case "INITRAMFS_CHECK":
		return KexecInitramfsCheck, true
	}
	for f := FuncAny + 1; f < numFuncs; f++ {
		if f.String() == s {
			return f, true
		}
	}
	return FuncAny, false
}

const funcNames = "BPRM_CHECK, MMAP_CHECK, MMAP_CHECK_REQPROT, CREDS_CHECK, FILE_CHECK, MODULE_CHECK, " +
	"FIRMWARE_CHECK, KEXEC_KERNEL_CHECK, KEXEC_INITRAMFS_CHECK, KEXEC_CMDLINE, KEY_CHECK, CRITICAL_DATA, " +
	"SETXATTR_CHECK, POLICY_CHECK"

// AppraiseType is the kind of proof an appraise rule demands (appraise_type=).
type AppraiseType uint8

// The appraise types.
const (
	AppraiseDefault AppraiseType = iota // no appraise_type=: a digest or a signature in security.ima is accepted, as in the kernel
	IMASig                              // imasig: an IMA signature is required
	IMASigModsig                        // imasig|modsig: an IMA signature, or a signature appended to the file
	SigV3                               // sigv3: an fs-verity signature (needs digest_type=verity)
)

// String returns the appraise_type= value ("imasig|modsig"), or "" for AppraiseDefault.
func (t AppraiseType) String() string {
	switch t {
	case AppraiseDefault:
		return ""
	case IMASig:
		return "imasig"
	case IMASigModsig:
		return "imasig|modsig"
	case SigV3:
		return "sigv3"
	}
	return fmt.Sprintf("AppraiseType(%d)", uint8(t))
}

// Access bits of mask= and Object.Mask, with the kernel's values.
const (
	MayExec   uint32 = 1 // MAY_EXEC
	MayWrite  uint32 = 2 // MAY_WRITE
	MayRead   uint32 = 4 // MAY_READ
	MayAppend uint32 = 8 // MAY_APPEND
)

func maskName(m uint32) string {
	switch m {
	case MayExec:
		return "MAY_EXEC"
	case MayWrite:
		return "MAY_WRITE"
	case MayRead:
		return "MAY_READ"
	case MayAppend:
		return "MAY_APPEND"
	}
	return fmt.Sprintf("%#x", m)
}

// UUID is a file system UUID as fsuuid= gives it and the kernel compares it: 16 bytes in the
// order they are written.
type UUID [16]byte

// ParseUUID parses the form 8bcbe394-4f13-4144-be8e-5aa9ea2ce2f6 (hex digits of either case),
// the only form the kernel's uuid_parse accepts.
func ParseUUID(s string) (UUID, error) {
	var u UUID
	if len(s) != 36 || s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-' {
		return u, fmt.Errorf("UUID %q: want the 36-character form xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx", s)
	}
	if _, err := hex.Decode(u[:], []byte(s[0:8]+s[9:13]+s[14:18]+s[19:23]+s[24:36])); err != nil {
		return UUID{}, fmt.Errorf("UUID %q: %w", s, err)
	}
	return u, nil
}

// String returns the UUID in lower-case 8-4-4-4-12 form.
func (u UUID) String() string {
	h := hex.EncodeToString(u[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// IDCond is a uid=, euid=, gid=, egid=, fowner= or fgroup= condition (also with < or >).
type IDCond struct {
	Op byte   // '=', '<' or '>'; 0 when the rule has no such condition
	ID uint32 // the value compared against
}

// holds reports whether v satisfies the condition; an absent condition always holds.
func (c IDCond) holds(v uint32) bool {
	switch c.Op {
	case '=':
		return v == c.ID
	case '<':
		return v < c.ID
	case '>':
		return v > c.ID
	}
	return true
}

// Rule is one parsed, validated policy line. A condition's zero value means "not given", except
// PCR, which is -1 then.
type Rule struct {
	Action Action
	Func   Func
	Line   int // 1-based line in the source

	Mask   uint32 // mask=: one of MayExec, MayWrite, MayRead, MayAppend; 0 when not given
	MaskIn bool   // mask=^NAME: match when the access includes Mask rather than equals it (the kernel's IMA_INMASK)

	FSMagic    uint64 // fsmagic=, when HasFSMagic
	HasFSMagic bool
	FSName     string // fsname=, "" when not given
	FSUUID     UUID   // fsuuid=, when HasFSUUID
	HasFSUUID  bool

	UID, EUID, GID, EGID, FOwner, FGroup IDCond // at most one of UID and EUID, and of GID and EGID

	// LSM label conditions, "" when not given.
	SubjUser, SubjRole, SubjType, ObjUser, ObjRole, ObjType string

	Keyrings []string // keyrings=a|b (KEY_CHECK only), nil when not given
	Labels   []string // label=a|b (CRITICAL_DATA only), nil when not given

	PCR            int          // pcr= (measure only), -1 when not given
	Template       string       // template= (measure only), by name; "" when not given
	DigestVerity   bool         // digest_type=verity: use the fs-verity digest
	AppraiseType   AppraiseType // appraise_type= (appraise only)
	AppraiseAlgos  []string     // appraise_algos= (appraise only), hash names as written, nil when not given
	CheckBlacklist bool         // appraise_flag=check_blacklist (deprecated; appraise only)
	PermitDirectIO bool         // permit_directio
}

// String returns the rule as one line of policy text, in the order the kernel shows rules
// (except that digest_type= comes before appraise_type=, the order the kernel's parser needs).
// Parse of the result gives back an equal rule, Line aside.
func (r Rule) String() string {
	var b strings.Builder
	b.WriteString(r.Action.String())
	add := func(format string, args ...any) {
		b.WriteByte(' ')
		fmt.Fprintf(&b, format, args...)
	}
	if r.Func != FuncAny {
		add("func=%s", r.Func)
	}
	if r.Mask != 0 {
		caret := ""
		if r.MaskIn {
			caret = "^"
		}
		add("mask=%s%s", caret, maskName(r.Mask))
	}
	if r.HasFSMagic {
		add("fsmagic=0x%x", r.FSMagic)
	}
	if r.FSName != "" {
		add("fsname=%s", r.FSName)
	}
	if r.Keyrings != nil {
		add("keyrings=%s", strings.Join(r.Keyrings, "|"))
	}
	if r.Labels != nil {
		add("label=%s", strings.Join(r.Labels, "|"))
	}
	if r.PCR >= 0 {
		add("pcr=%d", r.PCR)
	}
	if r.HasFSUUID {
		add("fsuuid=%s", r.FSUUID)
	}
	for _, c := range r.idConds() {
		if c.cond.Op != 0 {
			add("%s%c%d", c.key, c.cond.Op, c.cond.ID)
		}
	}
	if r.AppraiseAlgos != nil {
		add("appraise_algos=%s", strings.Join(r.AppraiseAlgos, ","))
	}
	for _, l := range r.lsmConds() {
		if l.value != "" {
			add("%s=%s", l.key, l.value)
		}
	}
	if r.Template != "" {
		add("template=%s", r.Template)
	}
	if r.DigestVerity {
		add("digest_type=verity")
	}
	if r.AppraiseType != AppraiseDefault {
		add("appraise_type=%s", r.AppraiseType)
	}
	if r.CheckBlacklist {
		add("appraise_flag=check_blacklist")
	}
	if r.PermitDirectIO {
		add("permit_directio")
	}
	return b.String()
}

type namedID struct {
	key  string
	cond IDCond
}

func (r *Rule) idConds() []namedID {
	return []namedID{{"uid", r.UID}, {"euid", r.EUID}, {"gid", r.GID}, {"egid", r.EGID}, {"fowner", r.FOwner}, {"fgroup", r.FGroup}}
}

type namedLabel struct{ key, value string }

// lsmConds lists the LSM conditions in the order the kernel shows them.
func (r *Rule) lsmConds() []namedLabel {
	return []namedLabel{{"obj_user", r.ObjUser}, {"obj_role", r.ObjRole}, {"obj_type", r.ObjType},
		{"subj_user", r.SubjUser}, {"subj_role", r.SubjRole}, {"subj_type", r.SubjType}}
}

// hasLSM reports whether the rule has an LSM label condition.
func (r *Rule) hasLSM() bool {
	for _, l := range r.lsmConds() {
		if l.value != "" {
			return true
		}
	}
	return false
}

// hasFileCond reports whether the rule tests the file's inode or file system.
func (r *Rule) hasFileCond() bool {
	return r.HasFSMagic || r.FSName != "" || r.HasFSUUID || r.FOwner.Op != 0 || r.FGroup.Op != 0
}

// Policy is a parsed, validated policy: its rules in order.
type Policy struct {
	Name  string // where the policy came from, as given to Parse
	Rules []Rule
}

// String returns the policy as text, one rule per line; comments and blank lines are not kept.
func (p *Policy) String() string {
	var b strings.Builder
	for _, r := range p.Rules {
		b.WriteString(r.String())
		b.WriteByte('\n')
	}
	return b.String()
}

// ParseError is a parse or validation error at a place in the policy text.
type ParseError struct {
	File      string
	Line, Col int    // 1-based; Col counts bytes, a tab as one
	Msg       string // what is wrong, and what would be valid
}

// Error returns "file:line:col: msg".
func (e *ParseError) Error() string {
	return fmt.Sprintf("%s:%d:%d: %s", e.File, e.Line, e.Col, e.Msg)
}

// maxErrors is how many bad lines Parse reports before it stops.
const maxErrors = 10

// Parse parses and validates policy text; name is used in errors and kept in Policy.Name. Blank
// lines and lines starting with # are skipped, and a token starting with # ends a rule, as in the
// kernel. On error the policy is nil and the error is a *ParseError, or, when several lines are
// bad, an errors.Join of one *ParseError per bad line (the first problem on each).
func Parse(name string, src []byte) (*Policy, error) {
	p := &Policy{Name: name}
	var errs []error
	for i, line := range strings.Split(string(src), "\n") {
		r, perr := parseLine(line)
		if perr != nil {
			perr.File, perr.Line = name, i+1
			if errs = append(errs, perr); len(errs) == maxErrors {
				errs = append(errs, fmt.Errorf("%s: too many errors, stopped at line %d", name, i+1))
				break
			}
			continue
		}
		if r != nil {
			r.Line = i + 1
			p.Rules = append(p.Rules, *r)
		}
	}
	switch len(errs) {
	case 0:
		return p, nil
	case 1:
		return nil, errs[0]
	}
	return nil, errors.Join(errs...)
}

type token struct {
	text string
	col  int
}

// lineParser holds one rule while its tokens are read.
type lineParser struct {
	r     Rule
	first int            // column of the first token
	cols  map[string]int // column of each key given: "action", "func", "uid", "permit_directio", ...
	seen  map[string]int // column of each condition slot: uid and euid share "uid", gid and egid "gid"
}

// parseLine returns the rule on the line, nil for a blank or comment line, or the first problem.
func parseLine(line string) (*Rule, *ParseError) {
	if i := strings.IndexByte(line, 0); i >= 0 {
		return nil, &ParseError{Col: i + 1, Msg: "NUL byte: a policy is text"}
	}
	var toks []token
	for i := 0; i < len(line); {
		if line[i] == ' ' || line[i] == '\t' {
			i++
			continue
		}
		if line[i] == '#' { // a comment line, or a comment after the rule
			break
		}
		j := i
		for j < len(line) && line[j] != ' ' && line[j] != '\t' {
			j++
		}
		toks = append(toks, token{line[i:j], i + 1})
		i = j
	}
	if len(toks) == 0 {
		return nil, nil
	}
	lp := lineParser{r: Rule{PCR: -1}, first: toks[0].col, cols: map[string]int{}, seen: map[string]int{}}
	for _, t := range toks {
		if err := lp.token(t); err != nil {
			return nil, err
		}
	}
	if err := lp.validate(); err != nil {
		return nil, err
	}
	return &lp.r, nil
}

const tokenHelp = "want an action (measure, dont_measure, appraise, dont_appraise, audit, hash, dont_hash), " +
	"a condition (func=, mask=, fsmagic=, fsuuid=, fsname=, uid=, euid=, gid=, egid=, fowner=, fgroup=, " +
	"subj_user=, subj_role=, subj_type=, obj_user=, obj_role=, obj_type=) or an option (pcr=, template=, " +
	"digest_type=, appraise_type=, appraise_flag=, appraise_algos=, keyrings=, label=, permit_directio)"

// isKey reports whether key is a key=value word of the language.
func isKey(key string) bool {
	switch key {
	case "func", "mask", "fsmagic", "fsname", "fsuuid", "keyrings", "label", "pcr", "template",
		"digest_type", "appraise_type", "appraise_flag", "appraise_algos":
		return true
	}
	return isIDKey(key) || isLSMKey(key)
}

func isIDKey(key string) bool {
	switch key {
	case "uid", "euid", "gid", "egid", "fowner", "fgroup":
		return true
	}
	return false
}

func isLSMKey(key string) bool {
	switch key {
	case "subj_user", "subj_role", "subj_type", "obj_user", "obj_role", "obj_type":
		return true
	}
	return false
}

func actionByName(s string) (Action, bool) {
	for a := Measure; a <= DontHash; a++ {
		if a.String() == s {
			return a, true
		}
	}
	return 0, false
}

// unknown explains a token that is no word of the language.
func unknown(t token) *ParseError {
	e := &ParseError{Col: t.col}
	key, _, hasOp := strings.Cut(t.text, "=")
	switch {
	case strings.ContainsRune(t.text, '\r'):
		e.Msg = fmt.Sprintf("unknown token %q: the line ends in a carriage return; save the policy with Unix (LF) line endings", t.text)
	case t.text != strings.ToLower(t.text) && (isKey(strings.ToLower(key)) || isAction(strings.ToLower(t.text))):
		e.Msg = fmt.Sprintf("unknown token %q: actions and keys are lower case (%s)", t.text, strings.ToLower(key))
	case hasOp && (isAction(key) || key == "permit_directio"):
		e.Msg = fmt.Sprintf("unknown token %q: %s takes no value", t.text, key)
	case isKey(t.text):
		e.Msg = fmt.Sprintf("unknown token %q: %s needs =value", t.text, t.text)
	default:
		if i := strings.IndexAny(t.text, "<>"); i > 0 && isKey(t.text[:i]) {
			e.Msg = fmt.Sprintf("unknown token %q: only uid, euid, gid, egid, fowner and fgroup take < or >", t.text)
		} else {
			e.Msg = fmt.Sprintf("unknown token %q: %s", t.text, tokenHelp)
		}
	}
	return e
}

func isAction(s string) bool {
	_, ok := actionByName(s)
	return ok
}

// token reads one word of the rule, as the kernel's ima_parse_rule does: left to right, so an
// option that depends on an earlier one (template= on the action, appraise_type=sigv3 on
// digest_type=verity) is checked where it stands.
func (lp *lineParser) token(t token) *ParseError {
	r := &lp.r
	at := func(col int, format string, args ...any) *ParseError {
		return &ParseError{Col: col, Msg: fmt.Sprintf(format, args...)}
	}
	if a, ok := actionByName(t.text); ok {
		if c, dup := lp.cols["action"]; dup {
			return at(t.col, "second action %s: a rule has one action, and %s was given at column %d", a, r.Action, c)
		}
		lp.cols["action"], r.Action = t.col, a
		return nil
	}
	if t.text == "permit_directio" {
		if c, dup := lp.cols[t.text]; dup {
			return at(t.col, "permit_directio given twice (first at column %d)", c)
		}
		lp.cols[t.text], r.PermitDirectIO = t.col, true
		return nil
	}
	i := strings.IndexAny(t.text, "=<>")
	if i <= 0 {
		return unknown(t)
	}
	key, op, val := t.text[:i], t.text[i], t.text[i+1:]
	if !isKey(key) || (op != '=' && !isIDKey(key)) {
		return unknown(t)
	}
	if val == "" {
		return at(t.col, "%s%c needs a value: %s", key, op, valueHelp(key))
	}
	slot := key
	switch key {
	case "euid":
		slot = "uid"
	case "egid":
		slot = "gid"
	}
	if c, dup := lp.seen[slot]; dup {
		if _, same := lp.cols[key]; same {
			return at(t.col, "%s given twice (first at column %d): the kernel rejects a repeated condition", key, c)
		}
		return at(t.col, "%s%c: the kernel keeps one %s condition per rule (uid/euid, gid/egid), and column %d already gave one", key, op, slot, c)
	}
	lp.seen[slot], lp.cols[key] = t.col, t.col
	vcol := t.col + i + 1
	bad := func(format string, args ...any) *ParseError { return at(vcol, format, args...) }
	invalid := func() *ParseError { return bad("invalid value %q for %s%c: want %s", val, key, op, valueHelp(key)) }

	switch key {
	case "func":
		f, ok := funcByName(val)
		if !ok {
			if _, upper := funcByName(strings.ToUpper(val)); upper {
				return bad("unknown func %q: func names are upper case (%s)", val, strings.ToUpper(val))
			}
			return invalid()
		}
		r.Func = f
	case "mask":
		name, in := strings.CutPrefix(val, "^")
		for m := MayExec; m <= MayAppend; m <<= 1 {
			if maskName(m) == name {
				r.Mask, r.MaskIn = m, in
				return nil
			}
		}
		if strings.Contains(name, "|") {
			return bad("mask=%s: the kernel takes one access per mask=, not a | list; want %s", val, valueHelp(key))
		}
		return invalid()
	case "fsmagic":
		s, _ := strings.CutPrefix(val, "+")
		if len(s) > 1 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X') {
			s = s[2:]
		}
		n, err := strconv.ParseUint(s, 16, 64)
		if err != nil {
			return invalid()
		}
		r.FSMagic, r.HasFSMagic = n, true
	case "fsname":
		r.FSName = val
	case "fsuuid":
		u, err := ParseUUID(val)
		if err != nil {
			return invalid()
		}
		r.FSUUID, r.HasFSUUID = u, true
	case "uid", "euid", "gid", "egid", "fowner", "fgroup":
		s, _ := strings.CutPrefix(val, "+")
		n, err := strconv.ParseUint(s, 10, 32)
		if err != nil || n == 1<<32-1 { // (uid_t)-1 is the kernel's invalid ID
			return invalid()
		}
		c := IDCond{Op: op, ID: uint32(n)}
		switch key {
		case "uid":
			r.UID = c
		case "euid":
			r.EUID = c
		case "gid":
			r.GID = c
		case "egid":
			r.EGID = c
		case "fowner":
			r.FOwner = c
		case "fgroup":
			r.FGroup = c
		}
	case "subj_user":
		r.SubjUser = val
	case "subj_role":
		r.SubjRole = val
	case "subj_type":
		r.SubjType = val
	case "obj_user":
		r.ObjUser = val
	case "obj_role":
		r.ObjRole = val
	case "obj_type":
		r.ObjType = val
	case "keyrings", "label":
		items := strings.Split(val, "|")
		for _, it := range items {
			if it == "" {
				return invalid()
			}
		}
		if key == "keyrings" {
			r.Keyrings = items
		} else {
			r.Labels = items
		}
	case "pcr":
		n, err := strconv.ParseInt(val, 10, 32)
		if err != nil || n < 0 || n > 63 {
			return invalid()
		}
		r.PCR = int(n)
	case "template":
		switch r.Action {
		case Measure:
		case 0:
			return at(t.col, "template= before the action: the kernel accepts template= only after measure")
		default:
			return at(t.col, "template= is only valid with measure, not %s", r.Action)
		}
		name, ok := templateName(val)
		if !ok {
			return invalid()
		}
		r.Template = name
	case "digest_type":
		if r.AppraiseType != AppraiseDefault {
			return at(t.col, "digest_type= after appraise_type=: the kernel needs digest_type=verity first")
		}
		if val != "verity" {
			return invalid()
		}
		r.DigestVerity = true
	case "appraise_type":
		switch val {
		case "imasig", "imasig|modsig":
			if r.DigestVerity {
				return bad("appraise_type=%s with digest_type=verity: fs-verity digests are signed only as sigv3", val)
			}
			r.AppraiseType = IMASig
			if val == "imasig|modsig" {
				r.AppraiseType = IMASigModsig
			}
		case "sigv3":
			if !r.DigestVerity {
				return bad("appraise_type=sigv3 needs digest_type=verity before it (sigv3 signs fs-verity digests only)")
			}
			r.AppraiseType = SigV3
		default:
			return invalid()
		}
	case "appraise_flag":
		if val != "check_blacklist" {
			return invalid()
		}
		r.CheckBlacklist = true
	case "appraise_algos":
		algos := strings.Split(val, ",")
		for _, a := range algos {
			if !isHashName(a) {
				return bad("unknown hash %q in appraise_algos=: want %s", a, valueHelp(key))
			}
		}
		r.AppraiseAlgos = algos
	}
	return nil
}

// valueHelp says what values a key takes.
func valueHelp(key string) string {
	switch key {
	case "func":
		return "one of " + funcNames
	case "mask":
		return "one of MAY_EXEC, MAY_WRITE, MAY_READ, MAY_APPEND, optionally after ^ (the access includes it)"
	case "fsmagic":
		return "a hexadecimal file system magic of at most 64 bits, such as 0xef53"
	case "fsuuid":
		return "a file system UUID such as 8bcbe394-4f13-4144-be8e-5aa9ea2ce2f6"
	case "fsname":
		return "a file system type such as ext4"
	case "uid", "euid", "gid", "egid", "fowner", "fgroup":
		return "a decimal ID from 0 to 4294967294"
	case "keyrings":
		return "keyring names separated by |, such as .builtin_trusted_keys|.ima"
	case "label":
		return "data labels separated by |, such as selinux|kernel_info"
	case "pcr":
		return "a decimal PCR index from 0 to 63"
	case "template":
		return "one of ima, ima-ng, ima-sig, ima-ngv2, ima-sigv2, ima-buf, ima-modsig, evm-sig"
	case "digest_type":
		return "verity"
	case "appraise_type":
		return "imasig, imasig|modsig or sigv3"
	case "appraise_flag":
		return "check_blacklist (deprecated: appraisal always checks the blacklist)"
	case "appraise_algos":
		return "a comma-separated list of md4, md5, sha1, rmd160, sha256, sha384, sha512, sha224, rmd128, " +
			"rmd256, rmd320, wp256, wp384, wp512, tgr128, tgr160, tgr192, sm3, streebog256, streebog512, " +
			"sha3-256, sha3-384, sha3-512"
	}
	return "an LSM label" // subj_*, obj_*
}

// templateName maps a template= value to the name of a built-in template. Like the kernel's
// lookup_template_desc, it accepts a template's field list too ("d-ng|n-ng" is ima-ng).
func templateName(s string) (string, bool) {
	switch s {
	case "ima", "d|n":
		return "ima", true
	case "ima-ng", "d-ng|n-ng":
		return "ima-ng", true
	case "ima-sig", "d-ng|n-ng|sig":
		return "ima-sig", true
	case "ima-ngv2", "d-ngv2|n-ng":
		return "ima-ngv2", true
	case "ima-sigv2", "d-ngv2|n-ng|sig":
		return "ima-sigv2", true
	case "ima-buf", "d-ng|n-ng|buf":
		return "ima-buf", true
	case "ima-modsig", "d-ng|n-ng|sig|d-modsig|modsig":
		return "ima-modsig", true
	case "evm-sig", "d-ng|n-ng|evmsig|xattrnames|xattrlengths|xattrvalues|iuid|igid|imode":
		return "evm-sig", true
	}
	return "", false
}

// isHashName reports whether s is one of the kernel's hash_algo_name entries.
func isHashName(s string) bool {
	switch s {
	case "md4", "md5", "sha1", "rmd160", "sha256", "sha384", "sha512", "sha224", "rmd128", "rmd256",
		"rmd320", "wp256", "wp384", "wp512", "tgr128", "tgr160", "tgr192", "sm3", "streebog256",
		"streebog512", "sha3-256", "sha3-384", "sha3-512":
		return true
	}
	return false
}

// funcGroup says which conditions and options the kernel's ima_validate_rule allows with a func.
type funcGroup int

const (
	groupFile     funcGroup = iota // no func=, FILE_CHECK, MMAP_CHECK(_REQPROT), BPRM_CHECK, CREDS_CHECK, FIRMWARE_CHECK, POLICY_CHECK
	groupKexec                     // MODULE_CHECK, KEXEC_KERNEL_CHECK, KEXEC_INITRAMFS_CHECK: no digest_type=, but modsig
	groupCmdline                   // KEXEC_CMDLINE
	groupKey                       // KEY_CHECK
	groupCritical                  // CRITICAL_DATA
	groupSetxattr                  // SETXATTR_CHECK
)

func groupOf(f Func) funcGroup {
	switch f {
	case ModuleCheck, KexecKernelCheck, KexecInitramfsCheck:
		return groupKexec
	case KexecCmdline:
		return groupCmdline
	case KeyCheck:
		return groupKey
	case CriticalData:
		return groupCritical
	case SetxattrCheck:
		return groupSetxattr
	}
	return groupFile
}

// allowed reports whether the key may appear in a rule of the group, and if not, which keys may.
func (g funcGroup) allowed(key string) (bool, string) {
	const file = "mask=, fsmagic=, fsname=, fsuuid=, uid=, euid=, gid=, egid=, fowner=, fgroup=, pcr=, template=, permit_directio, appraise_type=, appraise_flag=, appraise_algos=, LSM labels"
	switch g {
	case groupFile:
		return key != "keyrings" && key != "label", file + ", digest_type="
	case groupKexec:
		return key != "keyrings" && key != "label" && key != "digest_type", file
	case groupCmdline:
		switch key {
		case "fsmagic", "fsname", "fsuuid", "uid", "euid", "gid", "egid", "fowner", "fgroup", "pcr", "template":
			return true, ""
		}
		return isLSMKey(key), "fsmagic=, fsname=, fsuuid=, uid=, euid=, gid=, egid=, fowner=, fgroup=, pcr=, template=, LSM labels"
	case groupKey:
		return key == "uid" || key == "gid" || key == "pcr" || key == "template" || key == "keyrings", "uid=, gid=, pcr=, template=, keyrings="
	case groupCritical:
		return key == "uid" || key == "gid" || key == "pcr" || key == "template" || key == "label", "uid=, gid=, pcr=, template=, label="
	}
	return key == "appraise_algos" || key == "template" || isLSMKey(key), "appraise_algos= (required), LSM labels"
}

// validate applies the kernel's whole-rule checks (ima_validate_rule and friends) and returns the
// problem with the smallest column, so the error points at the first offending token.
func (lp *lineParser) validate() *ParseError {
	r := &lp.r
	if r.Action == 0 {
		return &ParseError{Col: lp.first, Msg: "rule without an action: start it with measure, dont_measure, appraise, dont_appraise, audit, hash or dont_hash"}
	}
	var first *ParseError
	bad := func(key string, format string, args ...any) {
		if c := lp.cols[key]; first == nil || c < first.Col {
			first = &ParseError{Col: c, Msg: fmt.Sprintf(format, args...)}
		}
	}
	if r.PCR >= 0 && r.Action != Measure {
		bad("pcr", "pcr= is only valid with measure, not %s", r.Action)
	}
	for _, k := range []string{"appraise_type", "appraise_flag", "appraise_algos"} {
		if _, ok := lp.cols[k]; ok && r.Action != Appraise {
			bad(k, "%s= is only valid with appraise, not %s", k, r.Action)
		}
	}
	g := groupOf(r.Func)
	for key := range lp.cols {
		if key == "action" || key == "func" {
			continue
		}
		if ok, valid := g.allowed(key); !ok {
			switch {
			case key == "keyrings":
				bad(key, "keyrings= is only valid with func=KEY_CHECK")
			case key == "label":
				bad(key, "label= is only valid with func=CRITICAL_DATA")
			default:
				bad(key, "%s is not valid with func=%s; valid there: %s", lp.keyText(key), r.Func, valid)
			}
		}
	}
	if r.AppraiseType == IMASigModsig && g != groupKexec {
		bad("appraise_type", "appraise_type=imasig|modsig is only valid with func=MODULE_CHECK, KEXEC_KERNEL_CHECK or KEXEC_INITRAMFS_CHECK")
	}
	switch g {
	case groupCmdline, groupKey, groupCritical:
		if r.Action != Measure && r.Action != DontMeasure {
			bad("func", "func=%s takes only measure or dont_measure, not %s", r.Func, r.Action)
		}
	case groupSetxattr:
		if r.Action != Appraise {
			bad("func", "func=SETXATTR_CHECK takes only appraise, not %s", r.Action)
		} else if r.AppraiseAlgos == nil {
			bad("func", "func=SETXATTR_CHECK needs appraise_algos= (the hashes allowed in security.ima)")
		}
	}
	if r.Action == Appraise && r.DigestVerity && r.AppraiseType != SigV3 {
		bad("digest_type", "appraise with digest_type=verity needs appraise_type=sigv3 after it: fs-verity digests are only appraised by signature")
	}
	return first
}

// keyText returns a key as written, with its operator ("uid>", "fsname=", "permit_directio").
func (lp *lineParser) keyText(key string) string {
	if key == "permit_directio" {
		return key
	}
	for _, c := range lp.r.idConds() {
		if c.key == key && c.cond.Op != 0 {
			return key + string(c.cond.Op)
		}
	}
	return key + "="
}
