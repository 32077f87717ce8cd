package policy

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

// The kernel's built-in policies (security/integrity/ima/ima_policy.c) as rule text, in the
// order ima_init_policy adds them. Magic numbers are from include/uapi/linux/magic.h.
const (
	builtinDontMeasure = "dont_measure fsmagic=0x9fa0\n" + // PROC_SUPER_MAGIC
		"dont_measure fsmagic=0x62656572\n" + // SYSFS_MAGIC
		"dont_measure fsmagic=0x64626720\n" + // DEBUGFS_MAGIC
		"dont_measure fsmagic=0x1021994 func=FILE_CHECK\n" + // TMPFS_MAGIC, only for FILE_CHECK
		"dont_measure fsmagic=0x1cd1\n" + // DEVPTS_SUPER_MAGIC
		"dont_measure fsmagic=0x42494e4d\n" + // BINFMTFS_MAGIC
		"dont_measure fsmagic=0x73636673\n" + // SECURITYFS_MAGIC
		"dont_measure fsmagic=0xf97cff8c\n" + // SELINUX_MAGIC
		"dont_measure fsmagic=0x43415d53\n" + // SMACK_MAGIC
		"dont_measure fsmagic=0x27e0eb\n" + // CGROUP_SUPER_MAGIC
		"dont_measure fsmagic=0x63677270\n" + // CGROUP2_SUPER_MAGIC
		"dont_measure fsmagic=0x6e736673\n" + // NSFS_MAGIC
		"dont_measure fsmagic=0xde5e81e4\n" // EFIVARFS_MAGIC, line 13

	// ima_policy=tcb: dont_measure_rules + default_measurement_rules (lines 14-20).
	builtinTCB = builtinDontMeasure +
		"measure func=MMAP_CHECK mask=MAY_EXEC\n" +
		"measure func=BPRM_CHECK mask=MAY_EXEC\n" +
		"measure func=FILE_CHECK mask=^MAY_READ euid=0\n" +
		"measure func=FILE_CHECK mask=^MAY_READ uid=0\n" +
		"measure func=MODULE_CHECK\n" +
		"measure func=FIRMWARE_CHECK\n" +
		"measure func=POLICY_CHECK\n"

	// ima_tcb: dont_measure_rules + original_measurement_rules (lines 14-18).
	builtinOriginalTCB = builtinDontMeasure +
		"measure func=MMAP_CHECK mask=MAY_EXEC\n" +
		"measure func=BPRM_CHECK mask=MAY_EXEC\n" +
		"measure func=FILE_CHECK mask=MAY_READ uid=0\n" +
		"measure func=MODULE_CHECK\n" +
		"measure func=FIRMWARE_CHECK\n"

	// ima_policy=appraise_tcb: default_appraise_rules, with CONFIG_IMA_WRITE_POLICY and without
	// CONFIG_IMA_APPRAISE_SIGNED_INIT (lines 15 and 16).
	builtinAppraiseTCB = "dont_appraise fsmagic=0x9fa0\n" +
		"dont_appraise fsmagic=0x62656572\n" +
		"dont_appraise fsmagic=0x64626720\n" +
		"dont_appraise fsmagic=0x1021994\n" +
		"dont_appraise fsmagic=0x858458f6\n" + // RAMFS_MAGIC
		"dont_appraise fsmagic=0x1cd1\n" +
		"dont_appraise fsmagic=0x42494e4d\n" +
		"dont_appraise fsmagic=0x73636673\n" +
		"dont_appraise fsmagic=0xf97cff8c\n" +
		"dont_appraise fsmagic=0x43415d53\n" +
		"dont_appraise fsmagic=0x6e736673\n" +
		"dont_appraise fsmagic=0xde5e81e4\n" +
		"dont_appraise fsmagic=0x27e0eb\n" +
		"dont_appraise fsmagic=0x63677270\n" +
		"appraise func=POLICY_CHECK appraise_type=imasig\n" +
		"appraise fowner=0\n"

	// ima_policy=secure_boot: secure_boot_rules.
	builtinSecureBoot = "appraise func=MODULE_CHECK appraise_type=imasig\n" +
		"appraise func=FIRMWARE_CHECK appraise_type=imasig\n" +
		"appraise func=KEXEC_KERNEL_CHECK appraise_type=imasig\n" +
		"appraise func=POLICY_CHECK appraise_type=imasig\n"

	// ima_policy=critical_data: critical_data_rules.
	builtinCriticalData = "measure func=CRITICAL_DATA\n"

	// The examples of the 2015 kexec patch series, in its spelling.
	patch2015 = "measure func=KEXEC_CHECK\n" +
		"appraise func=KEXEC_CHECK appraise_type=imasig\n" +
		"measure func=INITRAMFS_CHECK\n" +
		"appraise func=INITRAMFS_CHECK appraise_type=imasig\n" +
		"measure func=FIRMWARE_CHECK\n" +
		"appraise func=FIRMWARE_CHECK appraise_type=imasig\n" +
		"measure func=POLICY_CHECK\n" +
		"appraise func=POLICY_CHECK appraise_type=imasig\n"

	// The rules of this project's configs/policy.
	defaultPolicy = "measure func=POLICY_CHECK pcr=9 template=ima-ng\n" +
		"measure func=KEXEC_KERNEL_CHECK pcr=9 template=ima-ng\n" +
		"measure func=KEXEC_INITRAMFS_CHECK pcr=9 template=ima-ng\n" +
		"measure func=FIRMWARE_CHECK pcr=9 template=ima-ng\n" +
		"measure func=KEXEC_CMDLINE pcr=8 template=ima-buf\n"
)

const (
	uuidA = "8bcbe394-4f13-4144-be8e-5aa9ea2ce2f6"
	uuidB = "0a0b0c0d-0000-4000-8000-000000000001"
)

// Objects as the boot program sees them: files read by root from an ext4 boot partition.
func file(f Func) Object {
	return Object{Func: f, Mask: MayRead, HasFile: true, FSMagic: 0xef53, FSName: "ext4", FSUUID: uuidA}
}

var cmdline = Object{Func: KexecCmdline}

// verdict is a Decision with rules replaced by their lines (0 for none), for comparison.
type verdict struct {
	Measure  bool
	MLine    int
	PCR      int
	Template string
	Appraise bool
	ALine    int
	Type     AppraiseType
	Algos    []string
}

func verdictOf(d Decision) verdict {
	v := verdict{Measure: d.Measure, PCR: d.PCR, Template: d.Template, Appraise: d.Appraise, Type: d.AppraiseType, Algos: d.AppraiseAlgos}
	if d.MeasureRule != nil {
		v.MLine = d.MeasureRule.Line
	}
	if d.AppraiseRule != nil {
		v.ALine = d.AppraiseRule.Line
	}
	return v
}

// nothing is the verdict when no rule matches a file.
var nothing = verdict{PCR: 10, Template: "ima-ng"}

func with(o Object, f func(*Object)) Object {
	f(&o)
	return o
}

func TestEvaluate(t *testing.T) {
	tests := []struct {
		name, policy string
		obj          Object
		want         verdict
	}{
		// the kernel's built-in policies
		{"tcb/kexec kernel", builtinTCB, file(KexecKernelCheck), nothing},
		{"tcb/kexec cmdline", builtinTCB, cmdline, verdict{PCR: 10, Template: "ima-buf"}},
		{"tcb/firmware", builtinTCB, file(FirmwareCheck), verdict{Measure: true, MLine: 19, PCR: 10, Template: "ima-ng"}},
		{"tcb/policy", builtinTCB, file(PolicyCheck), verdict{Measure: true, MLine: 20, PCR: 10, Template: "ima-ng"}},
		{"tcb/module", builtinTCB, file(ModuleCheck), verdict{Measure: true, MLine: 18, PCR: 10, Template: "ima-ng"}},
		{"tcb/read by root", builtinTCB, with(file(FileCheck), func(o *Object) { o.Mask = MayRead | MayWrite }),
			verdict{Measure: true, MLine: 16, PCR: 10, Template: "ima-ng"}},
		{"tcb/read by root via uid", builtinTCB, with(file(FileCheck), func(o *Object) { o.EUID = 1000 }),
			verdict{Measure: true, MLine: 16, PCR: 10, Template: "ima-ng"}},
		{"tcb/read by a user", builtinTCB, with(file(FileCheck), func(o *Object) { o.UID, o.EUID = 1000, 1000 }), nothing},
		{"tcb/written by root", builtinTCB, with(file(FileCheck), func(o *Object) { o.Mask = MayWrite }), nothing},
		{"tcb/procfs", builtinTCB, with(file(FileCheck), func(o *Object) { o.FSMagic = 0x9fa0 }),
			verdict{MLine: 1, PCR: 10, Template: "ima-ng"}},
		{"tcb/tmpfs read", builtinTCB, with(file(FileCheck), func(o *Object) { o.FSMagic = 0x01021994 }),
			verdict{MLine: 4, PCR: 10, Template: "ima-ng"}},
		{"tcb/tmpfs exec", builtinTCB, with(file(BPRMCheck), func(o *Object) { o.FSMagic, o.Mask = 0x01021994, MayExec }),
			verdict{Measure: true, MLine: 15, PCR: 10, Template: "ima-ng"}},
		{"tcb/mmap exec", builtinTCB, with(file(MMAPCheck), func(o *Object) { o.Mask = MayExec }),
			verdict{Measure: true, MLine: 14, PCR: 10, Template: "ima-ng"}},
		{"tcb/mmap exec and read", builtinTCB, with(file(MMAPCheck), func(o *Object) { o.Mask = MayExec | MayRead }), nothing},
		{"original tcb/read by root", builtinOriginalTCB, file(FileCheck), verdict{Measure: true, MLine: 16, PCR: 10, Template: "ima-ng"}},
		{"original tcb/read-write by root", builtinOriginalTCB, with(file(FileCheck), func(o *Object) { o.Mask = MayRead | MayWrite }), nothing},
		{"original tcb/policy", builtinOriginalTCB, file(PolicyCheck), nothing},
		{"appraise_tcb/kexec kernel owned by root", builtinAppraiseTCB, file(KexecKernelCheck),
			verdict{PCR: 10, Template: "ima-ng", Appraise: true, ALine: 16}},
		{"appraise_tcb/kexec kernel owned by a user", builtinAppraiseTCB, with(file(KexecKernelCheck), func(o *Object) { o.FOwner = 1000 }), nothing},
		{"appraise_tcb/policy", builtinAppraiseTCB, file(PolicyCheck),
			verdict{PCR: 10, Template: "ima-ng", Appraise: true, ALine: 15, Type: IMASig}},
		{"appraise_tcb/ramfs", builtinAppraiseTCB, with(file(FileCheck), func(o *Object) { o.FSMagic = 0x858458f6 }),
			verdict{PCR: 10, Template: "ima-ng", ALine: 5}},
		{"appraise_tcb/cmdline has no file", builtinAppraiseTCB, cmdline, verdict{PCR: 10, Template: "ima-buf"}},
		{"secure_boot/kexec kernel", builtinSecureBoot, file(KexecKernelCheck),
			verdict{PCR: 10, Template: "ima-ng", Appraise: true, ALine: 3, Type: IMASig}},
		{"secure_boot/kexec initramfs", builtinSecureBoot, file(KexecInitramfsCheck), nothing},
		{"secure_boot/firmware", builtinSecureBoot, file(FirmwareCheck),
			verdict{PCR: 10, Template: "ima-ng", Appraise: true, ALine: 2, Type: IMASig}},
		{"secure_boot/policy", builtinSecureBoot, file(PolicyCheck),
			verdict{PCR: 10, Template: "ima-ng", Appraise: true, ALine: 4, Type: IMASig}},
		{"critical_data/data", builtinCriticalData, Object{Func: CriticalData, FuncData: "selinux"},
			verdict{Measure: true, MLine: 1, PCR: 10, Template: "ima-buf"}},
		{"critical_data/kexec kernel", builtinCriticalData, file(KexecKernelCheck), nothing},
		// the 2015 patch series' examples
		{"2015/kexec kernel", patch2015, file(KexecKernelCheck),
			verdict{Measure: true, MLine: 1, PCR: 10, Template: "ima-ng", Appraise: true, ALine: 2, Type: IMASig}},
		{"2015/kexec initramfs", patch2015, file(KexecInitramfsCheck),
			verdict{Measure: true, MLine: 3, PCR: 10, Template: "ima-ng", Appraise: true, ALine: 4, Type: IMASig}},
		{"2015/firmware", patch2015, file(FirmwareCheck),
			verdict{Measure: true, MLine: 5, PCR: 10, Template: "ima-ng", Appraise: true, ALine: 6, Type: IMASig}},
		{"2015/policy", patch2015, file(PolicyCheck),
			verdict{Measure: true, MLine: 7, PCR: 10, Template: "ima-ng", Appraise: true, ALine: 8, Type: IMASig}},
		{"2015/cmdline", patch2015, cmdline, verdict{PCR: 10, Template: "ima-buf"}},
		// this project's policy
		{"default/kexec kernel", defaultPolicy, file(KexecKernelCheck), verdict{Measure: true, MLine: 2, PCR: 9, Template: "ima-ng"}},
		{"default/kexec initramfs", defaultPolicy, file(KexecInitramfsCheck), verdict{Measure: true, MLine: 3, PCR: 9, Template: "ima-ng"}},
		{"default/cmdline", defaultPolicy, cmdline, verdict{Measure: true, MLine: 5, PCR: 8, Template: "ima-buf"}},
		{"default/policy", defaultPolicy, file(PolicyCheck), verdict{Measure: true, MLine: 1, PCR: 9, Template: "ima-ng"}},

		// first match wins, per kind
		{"first match wins", "measure func=KEXEC_KERNEL_CHECK pcr=9\nmeasure func=KEXEC_KERNEL_CHECK pcr=11 template=ima-sig\nmeasure pcr=12",
			file(KexecKernelCheck), verdict{Measure: true, MLine: 1, PCR: 9, Template: "ima-ng"}},
		{"any func after a specific one", "measure func=KEXEC_KERNEL_CHECK pcr=9\nmeasure pcr=12",
			file(KexecInitramfsCheck), verdict{Measure: true, MLine: 2, PCR: 12, Template: "ima-ng"}},
		{"dont_measure excludes", "dont_measure fsuuid=" + uuidA + "\nmeasure pcr=9",
			file(KexecKernelCheck), verdict{MLine: 1, PCR: 10, Template: "ima-ng"}},
		{"dont_measure of another fs", "dont_measure fsuuid=" + uuidB + "\nmeasure pcr=9",
			file(KexecKernelCheck), verdict{Measure: true, MLine: 2, PCR: 9, Template: "ima-ng"}},
		{"measure after dont_measure is not reached", "dont_measure func=KEXEC_KERNEL_CHECK\nmeasure func=KEXEC_KERNEL_CHECK pcr=9",
			file(KexecKernelCheck), verdict{MLine: 1, PCR: 10, Template: "ima-ng"}},
		{"measure and appraise are independent",
			"dont_measure func=KEXEC_KERNEL_CHECK\nappraise func=KEXEC_KERNEL_CHECK appraise_type=imasig appraise_algos=sha256,sha512\nmeasure pcr=9\ndont_appraise",
			file(KexecKernelCheck), verdict{MLine: 1, PCR: 10, Template: "ima-ng", Appraise: true, ALine: 2, Type: IMASig, Algos: []string{"sha256", "sha512"}}},
		{"measure and appraise are independent/initramfs",
			"dont_measure func=KEXEC_KERNEL_CHECK\nappraise func=KEXEC_KERNEL_CHECK appraise_type=imasig\nmeasure pcr=9\ndont_appraise",
			file(KexecInitramfsCheck), verdict{Measure: true, MLine: 3, PCR: 9, Template: "ima-ng", ALine: 4}},
		{"audit and hash decide nothing", "audit\nhash\ndont_hash\nmeasure pcr=9", file(FirmwareCheck),
			verdict{Measure: true, MLine: 4, PCR: 9, Template: "ima-ng"}},
		// fsuuid, fsmagic, fsname
		{"fsuuid matches", "measure fsuuid=" + uuidA + " pcr=9", with(file(KexecKernelCheck), func(o *Object) { o.FSUUID = "8BCBE394-4F13-4144-BE8E-5AA9EA2CE2F6" }),
			verdict{Measure: true, MLine: 1, PCR: 9, Template: "ima-ng"}},
		{"fsuuid of another fs", "measure fsuuid=" + uuidA + " pcr=9", with(file(KexecKernelCheck), func(o *Object) { o.FSUUID = uuidB }), nothing},
		{"fsuuid not a uuid", "measure fsuuid=" + uuidA + " pcr=9", with(file(KexecKernelCheck), func(o *Object) { o.FSUUID = "1234-ABCD" }), nothing},
		{"fsuuid unknown", "measure fsuuid=" + uuidA + " pcr=9", with(file(KexecKernelCheck), func(o *Object) { o.FSUUID = "" }), nothing},
		{"fsmagic and fsname", "measure fsmagic=0xef53 fsname=ext4 pcr=9", file(KexecKernelCheck), verdict{Measure: true, MLine: 1, PCR: 9, Template: "ima-ng"}},
		{"fsname differs", "measure fsname=vfat pcr=9", file(KexecKernelCheck), nothing},
		{"fsmagic differs", "measure fsmagic=0x4d44 pcr=9", file(KexecKernelCheck), nothing},
		// buffers and file conditions
		{"cmdline without a file", "measure func=KEXEC_CMDLINE fsuuid=" + uuidA + " pcr=8", cmdline, verdict{PCR: 10, Template: "ima-buf"}},
		{"cmdline with the kernel's file", "measure func=KEXEC_CMDLINE fsuuid=" + uuidA + " pcr=8",
			with(file(KexecCmdline), func(o *Object) { o.Mask = 0 }), verdict{Measure: true, MLine: 1, PCR: 8, Template: "ima-buf"}},
		{"cmdline under a file mask", "measure mask=MAY_READ pcr=9", cmdline, verdict{PCR: 10, Template: "ima-buf"}},
		{"cmdline is never appraised", "appraise\nmeasure pcr=8", cmdline, verdict{Measure: true, MLine: 2, PCR: 8, Template: "ima-buf"}},
		{"cmdline template", "measure template=ima-ng", cmdline, verdict{Measure: true, MLine: 1, PCR: 10, Template: "ima-ng"}},
		// default PCR and templates
		{"defaults/file", "measure", file(KexecKernelCheck), verdict{Measure: true, MLine: 1, PCR: 10, Template: "ima-ng"}},
		{"defaults/cmdline", "measure", cmdline, verdict{Measure: true, MLine: 1, PCR: 10, Template: "ima-buf"}},
		{"defaults/key", "measure func=KEY_CHECK", Object{Func: KeyCheck, FuncData: ".ima"}, verdict{Measure: true, MLine: 1, PCR: 10, Template: "ima-buf"}},
		// mask
		{"mask equals", "measure mask=MAY_READ", file(FileCheck), verdict{Measure: true, MLine: 1, PCR: 10, Template: "ima-ng"}},
		{"mask includes", "measure mask=^MAY_READ", with(file(FileCheck), func(o *Object) { o.Mask = MayRead | MayAppend }),
			verdict{Measure: true, MLine: 1, PCR: 10, Template: "ima-ng"}},
		{"mask excludes", "measure mask=^MAY_READ", with(file(FileCheck), func(o *Object) { o.Mask = MayWrite }), nothing},
		// IDs
		{"uid<", "measure uid<1000", with(file(FileCheck), func(o *Object) { o.UID = 999 }), verdict{Measure: true, MLine: 1, PCR: 10, Template: "ima-ng"}},
		{"uid< fails", "measure uid<1000", with(file(FileCheck), func(o *Object) { o.UID = 1000 }), nothing},
		{"uid>", "measure uid>0", with(file(FileCheck), func(o *Object) { o.UID = 1 }), verdict{Measure: true, MLine: 1, PCR: 10, Template: "ima-ng"}},
		{"uid> fails", "measure uid>0", file(FileCheck), nothing},
		{"euid from effective", "measure euid=5", with(file(FileCheck), func(o *Object) { o.EUID = 5 }), verdict{Measure: true, MLine: 1, PCR: 10, Template: "ima-ng"}},
		{"euid fails", "measure euid=5", with(file(FileCheck), func(o *Object) { o.UID, o.EUID = 4, 6 }), nothing},
		{"gid", "measure gid=5", with(file(FileCheck), func(o *Object) { o.GID = 5 }), verdict{Measure: true, MLine: 1, PCR: 10, Template: "ima-ng"}},
		{"gid fails", "measure gid=5", with(file(FileCheck), func(o *Object) { o.EGID = 5 }), nothing},
		{"egid from real", "measure egid>4", with(file(FileCheck), func(o *Object) { o.GID = 5 }), verdict{Measure: true, MLine: 1, PCR: 10, Template: "ima-ng"}},
		{"egid fails", "measure egid>4", file(FileCheck), nothing},
		{"fowner and fgroup", "appraise fowner<10 fgroup=7", with(file(FileCheck), func(o *Object) { o.FOwner, o.FGroup = 9, 7 }),
			verdict{PCR: 10, Template: "ima-ng", Appraise: true, ALine: 1}},
		{"fgroup fails", "appraise fowner<10 fgroup=7", with(file(FileCheck), func(o *Object) { o.FOwner, o.FGroup = 9, 8 }), nothing},
		{"fowner fails", "appraise fowner<10", with(file(FileCheck), func(o *Object) { o.FOwner = 10 }), nothing},
		// keys and critical data
		{"key in keyring", "measure func=KEY_CHECK keyrings=.ima|.evm pcr=11", Object{Func: KeyCheck, FuncData: ".evm"},
			verdict{Measure: true, MLine: 1, PCR: 11, Template: "ima-buf"}},
		{"key in another keyring", "measure func=KEY_CHECK keyrings=.ima|.evm pcr=11", Object{Func: KeyCheck, FuncData: ".builtin_trusted_keys"},
			verdict{PCR: 10, Template: "ima-buf"}},
		{"key by another user", "measure func=KEY_CHECK uid=0", Object{Func: KeyCheck, UID: 5}, verdict{PCR: 10, Template: "ima-buf"}},
		{"key needs func=", "measure", Object{Func: KeyCheck}, verdict{PCR: 10, Template: "ima-buf"}},
		{"critical data label", "measure func=CRITICAL_DATA label=selinux", Object{Func: CriticalData, FuncData: "kernel_info"},
			verdict{PCR: 10, Template: "ima-buf"}},
		// LSM labels never match here
		{"lsm", "dont_measure obj_type=boot_t\nmeasure pcr=9", file(KexecKernelCheck), verdict{Measure: true, MLine: 2, PCR: 9, Template: "ima-ng"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Parse("test", []byte(tt.policy))
			if err != nil {
				t.Fatalf("Parse(%q) = %v", tt.policy, err)
			}
			if diff := cmp.Diff(tt.want, verdictOf(p.Evaluate(tt.obj))); diff != "" {
				t.Errorf("Evaluate(%+v) differs (-want +got):\n%s", tt.obj, diff)
			}
		})
	}
}

func TestEvaluateRulePointer(t *testing.T) {
	p, err := Parse("test", []byte("measure pcr=9\nappraise appraise_algos=sha256"))
	if err != nil {
		t.Fatal(err)
	}
	d := p.Evaluate(file(KexecKernelCheck))
	if d.MeasureRule != &p.Rules[0] || d.AppraiseRule != &p.Rules[1] {
		t.Errorf("Evaluate rules = %p, %p, want %p, %p", d.MeasureRule, d.AppraiseRule, &p.Rules[0], &p.Rules[1])
	}
	d.AppraiseAlgos[0] = "md5"
	if p.Rules[1].AppraiseAlgos[0] != "sha256" {
		t.Errorf("changing Decision.AppraiseAlgos changed the rule: %v", p.Rules[1].AppraiseAlgos)
	}
	var none *Policy
	if got := verdictOf(none.Evaluate(cmdline)); !cmp.Equal(got, verdict{PCR: 10, Template: "ima-buf"}) {
		t.Errorf("(*Policy)(nil).Evaluate(cmdline) = %+v, want nothing measured", got)
	}
}
