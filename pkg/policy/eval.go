package policy

import "slices"

// DefaultPCR is the PCR a measure rule without pcr= extends: the kernel's
// CONFIG_IMA_MEASURE_PCR_IDX, which is 10 in every kernel build.
const DefaultPCR = 10

// Default templates when a measure rule has no template=.
const (
	DefaultTemplate = "ima-ng"  // files: CONFIG_IMA_DEFAULT_TEMPLATE of common kernels
	BufTemplate     = "ima-buf" // buffers: KEXEC_CMDLINE, KEY_CHECK, CRITICAL_DATA
)

// Object describes what is being checked: one file read for a hook, or one buffer.
type Object struct {
	Func Func
	// Mask is the access (MayRead and friends): the kernel passes MayRead for files it reads itself
	// (KEXEC_KERNEL_CHECK, KEXEC_INITRAMFS_CHECK, FIRMWARE_CHECK, POLICY_CHECK) and 0 for buffers.
	Mask uint32

	// HasFile says the FS and owner fields below describe a file. When it is false, a rule with a
	// file condition (fsmagic=, fsname=, fsuuid=, fowner=, fgroup=) does not match. For
	// KEXEC_CMDLINE the kernel tests those conditions against the kexec'd kernel image's file: set
	// HasFile and that file's fields to get the kernel's answer.
	HasFile bool
	FSMagic uint64 // statfs f_type of the file's file system
	FSUUID  string // the file system's UUID as blkid prints it; one that is not a 128-bit UUID never matches fsuuid=
	FSName  string // the file system type's name, such as "ext4"
	FOwner  uint32 // the file's owner
	FGroup  uint32 // the file's group

	// The credentials of the reader. The kernel tests euid= (egid=) against the effective, saved
	// and real IDs of a task that holds CAP_SETUID (CAP_SETGID), as a boot program running as root
	// does; Evaluate takes the saved ID to be the effective one.
	UID, EUID, GID, EGID uint32

	// FuncData is the keyring name (KEY_CHECK) or the data's label (CRITICAL_DATA), matched
	// against keyrings= and label=.
	FuncData string
}

// Decision is what the policy decides for one object. Measurement and appraisal are decided
// independently, each by the first rule of its kind that matches.
type Decision struct {
	Measure     bool
	MeasureRule *Rule  // the measure or dont_measure rule that decided; nil if none matched
	PCR         int    // the PCR to extend: the rule's pcr=, or DefaultPCR
	Template    string // the rule's template=, or BufTemplate for buffers and DefaultTemplate for files

	Appraise      bool
	AppraiseRule  *Rule        // the appraise or dont_appraise rule that decided; nil if none matched
	AppraiseType  AppraiseType // what the appraise rule demands
	AppraiseAlgos []string     // the hashes the appraise rule allows; nil for any
}

// Evaluate decides, as the kernel's ima_match_policy does, whether the object is measured and
// whether it is appraised. The rules are walked in order; the first measure or dont_measure rule
// that matches decides measurement, the first appraise or dont_appraise rule decides appraisal.
// audit, hash and dont_hash rules decide neither, and buffers (KEXEC_CMDLINE, KEY_CHECK,
// CRITICAL_DATA) are never appraised, as in the kernel. The returned rules point into p.Rules.
func (p *Policy) Evaluate(o Object) Decision {
	d := Decision{PCR: DefaultPCR, Template: DefaultTemplate}
	if o.Func.isBuffer() {
		d.Template = BufTemplate
	}
	if p == nil {
		return d
	}
	for i := range p.Rules {
		r := &p.Rules[i]
		switch r.Action {
		case Measure, DontMeasure:
			if d.MeasureRule != nil || !r.matches(o) {
				continue
			}
			d.MeasureRule = r
			if r.Action == Measure {
				d.Measure = true
				if r.PCR >= 0 {
					d.PCR = r.PCR
				}
				if r.Template != "" {
					d.Template = r.Template
				}
			}
		case Appraise, DontAppraise:
			if d.AppraiseRule != nil || o.Func.isBuffer() || !r.matches(o) {
				continue
			}
			d.AppraiseRule = r
			if r.Action == Appraise {
				d.Appraise, d.AppraiseType, d.AppraiseAlgos = true, r.AppraiseType, slices.Clone(r.AppraiseAlgos)
			}
		}
		if d.MeasureRule != nil && d.AppraiseRule != nil {
			break
		}
	}
	return d
}

// matches reports whether the rule applies to the object (the kernel's ima_match_rules). LSM
// label conditions never match: no LSM policy is loaded where this package decides.
func (r *Rule) matches(o Object) bool {
	if r.Func != FuncAny && r.Func != o.Func {
		return false
	}
	switch o.Func {
	case KeyCheck, CriticalData: // only rules naming the hook, and only uid= and the list count
		if r.Func != o.Func || !r.UID.holds(o.UID) {
			return false
		}
		list := r.Keyrings
		if o.Func == CriticalData {
			list = r.Labels
		}
		return list == nil || slices.Contains(list, o.FuncData)
	}
	if r.Mask != 0 && ((r.MaskIn && r.Mask&o.Mask == 0) || (!r.MaskIn && r.Mask != o.Mask)) {
		return false
	}
	if r.hasFileCond() {
		if !o.HasFile ||
			(r.HasFSMagic && r.FSMagic != o.FSMagic) ||
			(r.FSName != "" && r.FSName != o.FSName) ||
			!r.FOwner.holds(o.FOwner) || !r.FGroup.holds(o.FGroup) {
			return false
		}
		if r.HasFSUUID {
			if u, err := ParseUUID(o.FSUUID); err != nil || u != r.FSUUID {
				return false
			}
		}
	}
	if !r.UID.holds(o.UID) || !r.GID.holds(o.GID) {
		return false
	}
	if r.EUID.Op != 0 && !r.EUID.holds(o.EUID) && !r.EUID.holds(o.UID) {
		return false
	}
	if r.EGID.Op != 0 && !r.EGID.holds(o.EGID) && !r.EGID.holds(o.GID) {
		return false
	}
	return !r.hasLSM()
}

// isBuffer reports whether the hook measures a buffer rather than a file.
func (f Func) isBuffer() bool {
	return f == KexecCmdline || f == KeyCheck || f == CriticalData
}
