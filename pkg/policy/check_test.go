package policy

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

const (
	pcr10Msg   = "the kexec'd kernel's own IMA extends PCR 10; verifiers replaying its list will break (use pcr=9 for files, pcr=8 for the command line)"
	noPCRMsg   = "no pcr=, so PCR 10, the kernel default: " + pcr10Msg
	notAtBoot  = " does not occur at boot; this environment has only KEXEC_KERNEL_CHECK, KEXEC_INITRAMFS_CHECK, KEXEC_CMDLINE, FIRMWARE_CHECK and POLICY_CHECK"
	allBoot    = "KEXEC_KERNEL_CHECK, KEXEC_INITRAMFS_CHECK, KEXEC_CMDLINE, FIRMWARE_CHECK, POLICY_CHECK"
	bootFiles  = "KEXEC_KERNEL_CHECK, KEXEC_INITRAMFS_CHECK, FIRMWARE_CHECK, POLICY_CHECK"
	modsigMsg  = "appraise_type=imasig|modsig: appended signatures (modsig) are ignored here; the file still needs its IMA signature (security.ima or a detached .sig)"
	sigv3Msg   = "appraise_type=sigv3 (fs-verity signatures) is not supported here: boot files are hashed whole, not through fs-verity; use appraise_type=imasig"
	verityMsg  = "digest_type=verity (fs-verity file digests) is not supported here: boot files are hashed whole, not through fs-verity; remove it"
	noEffect   = " has no effect here: this environment only measures and appraises"
	unmeasured = ": it is not measured here"
	resettable = " can be reset from locality 0 on a PC Client TPM: any program on the machine can reset it and extend what it likes, so its value proves nothing; use pcr=9 for files, pcr=8 for the command line"
	initramfs  = "KEXEC_KERNEL_CHECK is appraised and KEXEC_INITRAMFS_CHECK is not: every part of the initramfs (early images such as CPU microcode included) boots unchecked beside the checked kernel; add appraise func=KEXEC_INITRAMFS_CHECK appraise_type=imasig"
)

// ruleFindings drops the findings about the policy as a whole.
func ruleFindings(fs []Finding) []Finding {
	var out []Finding
	for _, f := range fs {
		if f.Line != 0 {
			out = append(out, f)
		}
	}
	return out
}

func TestCheckRules(t *testing.T) {
	tests := []struct {
		name, policy string
		want         []Finding
	}{
		{"default policy", defaultPolicy, []Finding{
			{1, Info, "measures POLICY_CHECK into PCR 9 as ima-ng"},
			{2, Info, "measures KEXEC_KERNEL_CHECK into PCR 9 as ima-ng"},
			{3, Info, "measures KEXEC_INITRAMFS_CHECK into PCR 9 as ima-ng"},
			{4, Info, "measures FIRMWARE_CHECK into PCR 9 as ima-ng"},
			{5, Info, "measures KEXEC_CMDLINE into PCR 8 as ima-buf"},
		}},
		{"secure_boot", builtinSecureBoot, []Finding{
			{1, Info, "never matches here: MODULE_CHECK" + notAtBoot},
			{2, Info, "appraises FIRMWARE_CHECK: requires an IMA signature"},
			{3, Info, "appraises KEXEC_KERNEL_CHECK: requires an IMA signature"},
			{4, Info, "appraises POLICY_CHECK: requires an IMA signature"},
		}},
		{"2015 spellings", "measure func=KEXEC_CHECK pcr=9\nappraise func=INITRAMFS_CHECK appraise_type=imasig", []Finding{
			{1, Info, "measures KEXEC_KERNEL_CHECK into PCR 9 as ima-ng"},
			{2, Info, "appraises KEXEC_INITRAMFS_CHECK: requires an IMA signature"},
		}},
		{"pcr=10", "measure func=KEXEC_KERNEL_CHECK pcr=10", []Finding{
			{1, Warning, "pcr=10: " + pcr10Msg},
			{1, Info, "measures KEXEC_KERNEL_CHECK into PCR 10 as ima-ng"},
		}},
		{"no pcr=", "measure func=KEXEC_INITRAMFS_CHECK", []Finding{
			{1, Warning, noPCRMsg},
			{1, Info, "measures KEXEC_INITRAMFS_CHECK into PCR 10 as ima-ng"},
		}},
		{"pcr beyond the TPM", "measure func=KEXEC_KERNEL_CHECK pcr=24", []Finding{
			{1, Error, "pcr=24: a TPM 2.0 PC Client TPM has PCRs 0 to 23; the extend would fail"},
			{1, Info, "measures KEXEC_KERNEL_CHECK into PCR 24 as ima-ng"},
		}},
		{"pcr=23", "measure func=KEXEC_KERNEL_CHECK pcr=23", []Finding{
			{1, Warning, "pcr=23" + resettable},
			{1, Info, "measures KEXEC_KERNEL_CHECK into PCR 23 as ima-ng"},
		}},
		{"pcr=16", "measure func=KEXEC_CMDLINE pcr=16\nmeasure func=KEXEC_KERNEL_CHECK pcr=22", []Finding{
			{1, Warning, "pcr=16" + resettable},
			{1, Info, "measures KEXEC_CMDLINE into PCR 16 as ima-buf"},
			{2, Info, "measures KEXEC_KERNEL_CHECK into PCR 22 as ima-ng"},
		}},
		{"sigv3", "appraise func=FIRMWARE_CHECK digest_type=verity appraise_type=sigv3", []Finding{
			{1, Error, sigv3Msg},
			{1, Info, "appraises FIRMWARE_CHECK: requires an fs-verity signature"},
		}},
		{"digest_type=verity", "measure func=POLICY_CHECK pcr=9 digest_type=verity", []Finding{
			{1, Error, verityMsg},
			{1, Info, "measures POLICY_CHECK into PCR 9 as ima-ng"},
		}},
		{"modsig", "appraise func=KEXEC_KERNEL_CHECK appraise_type=imasig|modsig appraise_algos=sha256,sha512", []Finding{
			{1, Warning, modsigMsg},
			{1, Info, "appraises KEXEC_KERNEL_CHECK: requires an IMA signature made with sha256 or sha512"},
		}},
		{"modsig on a module", "appraise func=MODULE_CHECK appraise_type=imasig|modsig", []Finding{
			{1, Info, "never matches here: MODULE_CHECK" + notAtBoot},
		}},
		{"appraise_flag", "appraise func=KEXEC_KERNEL_CHECK appraise_type=imasig appraise_flag=check_blacklist", []Finding{
			{1, Info, "appraise_flag=check_blacklist is deprecated and ignored by current kernels: appraisal always checks the blacklist"},
			{1, Info, "appraises KEXEC_KERNEL_CHECK: requires an IMA signature"},
		}},
		{"appraise any", "appraise fowner=0", []Finding{
			{1, Info, "appraises " + bootFiles + ": requires a good digest or signature in security.ima, when fowner=0"},
		}},
		{"audit, hash, dont_hash", "audit func=KEXEC_KERNEL_CHECK\nhash\ndont_hash fsmagic=0x9fa0", []Finding{
			{1, Warning, "audit" + noEffect},
			{2, Warning, "hash" + noEffect},
			{3, Warning, "dont_hash" + noEffect},
		}},
		{"unsupported template", "measure func=KEXEC_KERNEL_CHECK pcr=9 template=ima-ngv2", []Finding{
			{1, Error, "template=ima-ngv2 is not written here; use ima-ng, ima-sig or ima-buf"},
			{1, Info, "measures KEXEC_KERNEL_CHECK into PCR 9 as ima-ngv2"},
		}},
		{"ima-buf for a file", "measure func=POLICY_CHECK pcr=9 template=ima-buf", []Finding{
			{1, Warning, "template=ima-buf is for buffers: files (POLICY_CHECK) should use ima-ng or ima-sig"},
			{1, Info, "measures POLICY_CHECK into PCR 9 as ima-buf"},
		}},
		{"ima-sig for the command line", "measure func=KEXEC_CMDLINE pcr=8 template=ima-sig", []Finding{
			{1, Info, "KEXEC_CMDLINE as ima-sig records only the command line's digest, not its text (ima-buf records both)"},
			{1, Info, "measures KEXEC_CMDLINE into PCR 8 as ima-sig"},
		}},
		{"any func", "measure pcr=9", []Finding{
			{1, Info, "measures " + allBoot + " into PCR 9 as ima-ng (ima-buf for KEXEC_CMDLINE)"},
		}},
		{"command line file conditions", "measure func=KEXEC_CMDLINE pcr=8 fsuuid=" + uuidA, []Finding{
			{1, Info, "measures KEXEC_CMDLINE into PCR 8 as ima-buf, when fsuuid=" + uuidA + " (for KEXEC_CMDLINE, tested on the kexec'd kernel image's file)"},
		}},
		{"file mask", "measure mask=MAY_READ pcr=9", []Finding{
			{1, Info, "measures " + bootFiles + " into PCR 9 as ima-ng"},
		}},
		{"mask never true", "measure mask=MAY_EXEC\nmeasure mask=^MAY_WRITE", []Finding{
			{1, Warning, "never matches here: mask=MAY_EXEC is never true: files are read here with MAY_READ, and the command line has no access mask"},
			{2, Warning, "never matches here: mask=^MAY_WRITE is never true: files are read here with MAY_READ, and the command line has no access mask"},
		}},
		{"ids never true", "measure uid=1000\nmeasure euid>0\nmeasure gid=5\nmeasure egid<0\nmeasure uid<1 pcr=9", []Finding{
			{1, Warning, "never matches here: uid=1000 is never true: boot files are read by root (uid and gid 0)"},
			{2, Warning, "never matches here: euid>0 is never true: boot files are read by root (uid and gid 0)"},
			{3, Warning, "never matches here: gid=5 is never true: boot files are read by root (uid and gid 0)"},
			{4, Warning, "never matches here: egid<0 is never true: boot files are read by root (uid and gid 0)"},
			{5, Info, "measures " + allBoot + " into PCR 9 as ima-ng (ima-buf for KEXEC_CMDLINE)"},
		}},
		{"lsm labels", "dont_measure obj_type=boot_t subj_user=system_u", []Finding{
			{1, Warning, "never matches here: LSM label conditions (obj_type=boot_t subj_user=system_u) need an LSM policy, and none is loaded at boot"},
		}},
		{"shadowed", "measure pcr=9\ndont_measure fsname=vfat\nappraise func=KEXEC_KERNEL_CHECK", []Finding{
			{1, Info, "measures " + allBoot + " into PCR 9 as ima-ng (ima-buf for KEXEC_CMDLINE)"},
			{2, Warning, "never decides here: earlier rules decide every object it matches first (line 1 for KEXEC_KERNEL_CHECK, line 1 for KEXEC_INITRAMFS_CHECK, line 1 for KEXEC_CMDLINE, line 1 for FIRMWARE_CHECK, line 1 for POLICY_CHECK)"},
			{3, Info, "appraises KEXEC_KERNEL_CHECK: requires a good digest or signature in security.ima"},
		}},
		{"conditions do not shadow", "dont_measure fsname=vfat\nmeasure func=KEXEC_KERNEL_CHECK pcr=9\ndont_measure func=KEXEC_KERNEL_CHECK", []Finding{
			{1, Info, "keeps " + allBoot + " out of measurement, when fsname=vfat (for KEXEC_CMDLINE, tested on the kexec'd kernel image's file)"},
			{2, Info, "measures KEXEC_KERNEL_CHECK into PCR 9 as ima-ng"},
			{3, Warning, "never decides here: earlier rules decide every object it matches first (line 2 for KEXEC_KERNEL_CHECK)"},
		}},
	}
	for _, f := range []string{"BPRM_CHECK", "MMAP_CHECK", "MMAP_CHECK_REQPROT", "CREDS_CHECK", "FILE_CHECK",
		"MODULE_CHECK", "KEY_CHECK", "CRITICAL_DATA"} {
		tests = append(tests, struct {
			name, policy string
			want         []Finding
		}{f, "measure func=" + f, []Finding{{1, Info, "never matches here: " + f + notAtBoot}}})
	}
	tests = append(tests, struct {
		name, policy string
		want         []Finding
	}{"SETXATTR_CHECK", "appraise func=SETXATTR_CHECK appraise_algos=sha256", []Finding{{1, Info, "never matches here: SETXATTR_CHECK" + notAtBoot}}})

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Parse("test", []byte(tt.policy))
			if err != nil {
				t.Fatalf("Parse(%q) = %v", tt.policy, err)
			}
			if diff := cmp.Diff(tt.want, ruleFindings(Check(p))); diff != "" {
				t.Errorf("Check(%q) rule findings differ (-want +got):\n%s", tt.policy, diff)
			}
		})
	}
}

func TestCheckPolicy(t *testing.T) {
	none := func(f Func, s Severity) Finding {
		return Finding{0, s, "no usable measure rule matches " + f.String() + unmeasured}
	}
	tests := []struct {
		name, policy string
		want         []Finding // the findings about the whole policy
	}{
		{"default policy", defaultPolicy, nil},
		{"empty", "# nothing\n", []Finding{
			none(KexecKernelCheck, Warning), none(KexecInitramfsCheck, Warning), none(KexecCmdline, Warning),
			none(FirmwareCheck, Info), none(PolicyCheck, Warning)}},
		{"tcb", builtinTCB, []Finding{
			none(KexecKernelCheck, Warning), none(KexecInitramfsCheck, Warning), none(KexecCmdline, Warning)}},
		{"unusable rules beside usable ones", defaultPolicy + "measure func=KEXEC_KERNEL_CHECK pcr=30\nappraise func=FIRMWARE_CHECK digest_type=verity appraise_type=sigv3\n", nil},
		{"only unusable rules", "measure func=KEXEC_KERNEL_CHECK pcr=30\nmeasure func=KEXEC_KERNEL_CHECK pcr=9 template=evm-sig\n" +
			"measure func=KEXEC_INITRAMFS_CHECK pcr=9\nmeasure func=KEXEC_CMDLINE pcr=8\nmeasure func=POLICY_CHECK pcr=9\nmeasure func=FIRMWARE_CHECK pcr=9 fsname=vfat", []Finding{
			{0, Error, "every rule that would decide KEXEC_KERNEL_CHECK is unusable here (see their errors): KEXEC_KERNEL_CHECK would not be handled as the policy intends"},
			none(KexecKernelCheck, Warning)}},
		{"one usable rule is enough", "measure func=KEXEC_KERNEL_CHECK pcr=30 fsname=ext4\nmeasure func=KEXEC_KERNEL_CHECK pcr=9\n" +
			"measure func=KEXEC_INITRAMFS_CHECK pcr=9\nmeasure func=KEXEC_CMDLINE pcr=8\nmeasure func=POLICY_CHECK pcr=9\nmeasure func=FIRMWARE_CHECK pcr=9", nil},
		{"appraisal only", "appraise func=KEXEC_KERNEL_CHECK appraise_type=imasig\n" + defaultPolicy[strings.Index(defaultPolicy, "measure func=KEXEC_INITRAMFS_CHECK"):] + "measure func=POLICY_CHECK pcr=9",
			[]Finding{none(KexecKernelCheck, Warning), {0, Warning, initramfs}}},
		{"kernel appraised, initramfs not", defaultPolicy + "appraise func=KEXEC_KERNEL_CHECK appraise_type=imasig\n", []Finding{{0, Warning, initramfs}}},
		{"kernel and initramfs appraised", defaultPolicy + "appraise func=KEXEC_KERNEL_CHECK appraise_type=imasig\nappraise func=KEXEC_INITRAMFS_CHECK appraise_type=imasig\n", nil},
		{"initramfs appraised by a rule without func=", defaultPolicy + "appraise func=KEXEC_KERNEL_CHECK appraise_type=imasig\nappraise fsname=ext4\n", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Parse("test", []byte(tt.policy))
			if err != nil {
				t.Fatalf("Parse(%q) = %v", tt.policy, err)
			}
			var got []Finding
			for _, f := range Check(p) {
				if f.Line == 0 {
					got = append(got, f)
				}
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Check(%q) policy findings differ (-want +got):\n%s", tt.policy, diff)
			}
		})
	}
}

// TestResettablePCRs: the boot's warnings are Check's, one per measure rule with pcr=16 or 23.
func TestResettablePCRs(t *testing.T) {
	p, err := Parse("test", []byte("measure func=KEXEC_KERNEL_CHECK pcr=9\nmeasure func=KEXEC_INITRAMFS_CHECK pcr=16\ndont_measure fsname=vfat\nmeasure func=KEXEC_CMDLINE pcr=23\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := []Finding{{2, Warning, "pcr=16" + resettable}, {4, Warning, "pcr=23" + resettable}}
	if diff := cmp.Diff(want, ResettablePCRs(p)); diff != "" {
		t.Errorf("ResettablePCRs differ (-want +got):\n%s", diff)
	}
	var fromCheck []Finding
	for _, f := range Check(p) {
		if f.Severity == Warning && strings.Contains(f.Msg, "locality 0") {
			fromCheck = append(fromCheck, f)
		}
	}
	if diff := cmp.Diff(want, fromCheck); diff != "" {
		t.Errorf("Check's resettable-PCR warnings differ from ResettablePCRs (-want +got):\n%s", diff)
	}
	if ResettablePCRs(nil) != nil {
		t.Error("ResettablePCRs(nil) != nil")
	}
}

func TestCheckNil(t *testing.T) {
	if got, want := len(Check(nil)), len(bootFuncs()); got != want {
		t.Errorf("len(Check(nil)) = %d, want %d (one \"not measured\" per hook)", got, want)
	}
}

func TestFindingString(t *testing.T) {
	tests := []struct {
		f    Finding
		want string
	}{
		{Finding{3, Warning, "pcr=10"}, "line 3: warning: pcr=10"},
		{Finding{0, Error, "bad"}, "policy: error: bad"},
		{Finding{1, Info, "ok"}, "line 1: info: ok"},
	}
	for _, tt := range tests {
		if got := tt.f.String(); got != tt.want {
			t.Errorf("%#v.String() = %q, want %q", tt.f, got, tt.want)
		}
	}
}
