package policy

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

var ignoreLine = cmpopts.IgnoreFields(Rule{}, "Line")

func mustUUID(t testing.TB, s string) UUID {
	t.Helper()
	u, err := ParseUUID(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// validRules lists one-rule policies that the kernel accepts, with the rule each parses to.
func validRules(t testing.TB) []struct {
	src  string
	want Rule
} {
	uuid := mustUUID(t, "8bcbe394-4f13-4144-be8e-5aa9ea2ce2f6")
	return []struct {
		src  string
		want Rule
	}{
		// actions
		{"measure", Rule{Action: Measure, PCR: -1}},
		{"dont_measure", Rule{Action: DontMeasure, PCR: -1}},
		{"appraise", Rule{Action: Appraise, PCR: -1}},
		{"dont_appraise", Rule{Action: DontAppraise, PCR: -1}},
		{"audit", Rule{Action: Audit, PCR: -1}},
		{"hash", Rule{Action: Hash, PCR: -1}},
		{"dont_hash", Rule{Action: DontHash, PCR: -1}},
		// funcs, their aliases and the 2015 spellings
		{"measure func=BPRM_CHECK", Rule{Action: Measure, Func: BPRMCheck, PCR: -1}},
		{"measure func=MMAP_CHECK", Rule{Action: Measure, Func: MMAPCheck, PCR: -1}},
		{"measure func=FILE_MMAP", Rule{Action: Measure, Func: MMAPCheck, PCR: -1}},
		{"measure func=MMAP_CHECK_REQPROT", Rule{Action: Measure, Func: MMAPCheckReqprot, PCR: -1}},
		{"measure func=CREDS_CHECK", Rule{Action: Measure, Func: CredsCheck, PCR: -1}},
		{"measure func=FILE_CHECK", Rule{Action: Measure, Func: FileCheck, PCR: -1}},
		{"measure func=PATH_CHECK", Rule{Action: Measure, Func: FileCheck, PCR: -1}},
		{"measure func=MODULE_CHECK", Rule{Action: Measure, Func: ModuleCheck, PCR: -1}},
		{"measure func=FIRMWARE_CHECK", Rule{Action: Measure, Func: FirmwareCheck, PCR: -1}},
		{"measure func=KEXEC_KERNEL_CHECK", Rule{Action: Measure, Func: KexecKernelCheck, PCR: -1}},
		{"measure func=KEXEC_CHECK", Rule{Action: Measure, Func: KexecKernelCheck, PCR: -1}},
		{"measure func=KEXEC_INITRAMFS_CHECK", Rule{Action: Measure, Func: KexecInitramfsCheck, PCR: -1}},
		{"measure func=INITRAMFS_CHECK", Rule{Action: Measure, Func: KexecInitramfsCheck, PCR: -1}},
		{"measure func=KEXEC_CMDLINE", Rule{Action: Measure, Func: KexecCmdline, PCR: -1}},
		{"measure func=KEY_CHECK", Rule{Action: Measure, Func: KeyCheck, PCR: -1}},
		{"measure func=CRITICAL_DATA", Rule{Action: Measure, Func: CriticalData, PCR: -1}},
		{"measure func=POLICY_CHECK", Rule{Action: Measure, Func: PolicyCheck, PCR: -1}},
		{"appraise func=SETXATTR_CHECK appraise_algos=sha256,sha384,sha512",
			Rule{Action: Appraise, Func: SetxattrCheck, PCR: -1, AppraiseAlgos: []string{"sha256", "sha384", "sha512"}}},
		// the token may come before the action, except template=
		{"func=FILE_CHECK measure", Rule{Action: Measure, Func: FileCheck, PCR: -1}},
		// mask
		{"measure mask=MAY_EXEC", Rule{Action: Measure, Mask: MayExec, PCR: -1}},
		{"measure mask=MAY_WRITE", Rule{Action: Measure, Mask: MayWrite, PCR: -1}},
		{"measure mask=MAY_READ", Rule{Action: Measure, Mask: MayRead, PCR: -1}},
		{"measure mask=MAY_APPEND", Rule{Action: Measure, Mask: MayAppend, PCR: -1}},
		{"measure mask=^MAY_READ", Rule{Action: Measure, Mask: MayRead, MaskIn: true, PCR: -1}},
		// file system conditions
		{"dont_measure fsmagic=0x9fa0", Rule{Action: DontMeasure, FSMagic: 0x9fa0, HasFSMagic: true, PCR: -1}},
		{"dont_measure fsmagic=9FA0", Rule{Action: DontMeasure, FSMagic: 0x9fa0, HasFSMagic: true, PCR: -1}},
		{"dont_measure fsmagic=0X01021994", Rule{Action: DontMeasure, FSMagic: 0x01021994, HasFSMagic: true, PCR: -1}},
		{"dont_measure fsmagic=+0x0", Rule{Action: DontMeasure, HasFSMagic: true, PCR: -1}},
		{"dont_measure fsmagic=ffffffffffffffff", Rule{Action: DontMeasure, FSMagic: 1<<64 - 1, HasFSMagic: true, PCR: -1}},
		{"measure fsname=ext4", Rule{Action: Measure, FSName: "ext4", PCR: -1}},
		{"measure fsuuid=8bcbe394-4f13-4144-be8e-5aa9ea2ce2f6", Rule{Action: Measure, FSUUID: uuid, HasFSUUID: true, PCR: -1}},
		{"measure fsuuid=8BCBE394-4F13-4144-BE8E-5AA9EA2CE2F6", Rule{Action: Measure, FSUUID: uuid, HasFSUUID: true, PCR: -1}},
		// ID conditions with =, < and >
		{"measure uid=0", Rule{Action: Measure, UID: IDCond{'=', 0}, PCR: -1}},
		{"measure uid<1000", Rule{Action: Measure, UID: IDCond{'<', 1000}, PCR: -1}},
		{"measure uid>+999", Rule{Action: Measure, UID: IDCond{'>', 999}, PCR: -1}},
		{"measure euid=0", Rule{Action: Measure, EUID: IDCond{'=', 0}, PCR: -1}},
		{"measure euid>4294967294", Rule{Action: Measure, EUID: IDCond{'>', 4294967294}, PCR: -1}},
		{"measure gid=5", Rule{Action: Measure, GID: IDCond{'=', 5}, PCR: -1}},
		{"measure egid<7", Rule{Action: Measure, EGID: IDCond{'<', 7}, PCR: -1}},
		{"appraise fowner=0", Rule{Action: Appraise, FOwner: IDCond{'=', 0}, PCR: -1}},
		{"appraise fowner>0", Rule{Action: Appraise, FOwner: IDCond{'>', 0}, PCR: -1}},
		{"appraise fgroup<100", Rule{Action: Appraise, FGroup: IDCond{'<', 100}, PCR: -1}},
		{"measure uid=0 gid=0 fowner=0 fgroup=0",
			Rule{Action: Measure, UID: IDCond{'=', 0}, GID: IDCond{'=', 0}, FOwner: IDCond{'=', 0}, FGroup: IDCond{'=', 0}, PCR: -1}},
		// LSM labels
		{"dont_measure obj_type=var_log_t", Rule{Action: DontMeasure, ObjType: "var_log_t", PCR: -1}},
		{"measure subj_user=system_u func=FILE_CHECK mask=MAY_READ",
			Rule{Action: Measure, SubjUser: "system_u", Func: FileCheck, Mask: MayRead, PCR: -1}},
		{"measure subj_role=system_r subj_type=init_t obj_user=u obj_role=object_r",
			Rule{Action: Measure, SubjRole: "system_r", SubjType: "init_t", ObjUser: "u", ObjRole: "object_r", PCR: -1}},
		{"measure subj_user=_", Rule{Action: Measure, SubjUser: "_", PCR: -1}},
		// keyrings and label
		{"measure func=KEY_CHECK keyrings=.builtin_trusted_keys|.ima",
			Rule{Action: Measure, Func: KeyCheck, Keyrings: []string{".builtin_trusted_keys", ".ima"}, PCR: -1}},
		{"measure func=KEY_CHECK keyrings=.evm uid=0 gid=0 pcr=11",
			Rule{Action: Measure, Func: KeyCheck, Keyrings: []string{".evm"}, UID: IDCond{'=', 0}, GID: IDCond{'=', 0}, PCR: 11}},
		{"measure func=CRITICAL_DATA label=selinux|kernel_info",
			Rule{Action: Measure, Func: CriticalData, Labels: []string{"selinux", "kernel_info"}, PCR: -1}},
		// pcr and template
		{"measure func=KEXEC_KERNEL_CHECK pcr=4", Rule{Action: Measure, Func: KexecKernelCheck, PCR: 4}},
		{"measure pcr=0", Rule{Action: Measure, PCR: 0}},
		{"measure pcr=63", Rule{Action: Measure, PCR: 63}},
		{"measure pcr=+9", Rule{Action: Measure, PCR: 9}},
		{"measure template=ima", Rule{Action: Measure, PCR: -1, Template: "ima"}},
		{"measure template=ima-ng", Rule{Action: Measure, PCR: -1, Template: "ima-ng"}},
		{"measure template=ima-sig", Rule{Action: Measure, PCR: -1, Template: "ima-sig"}},
		{"measure template=ima-ngv2", Rule{Action: Measure, PCR: -1, Template: "ima-ngv2"}},
		{"measure template=ima-sigv2", Rule{Action: Measure, PCR: -1, Template: "ima-sigv2"}},
		{"measure template=ima-buf", Rule{Action: Measure, PCR: -1, Template: "ima-buf"}},
		{"measure template=ima-modsig", Rule{Action: Measure, PCR: -1, Template: "ima-modsig"}},
		{"measure template=evm-sig", Rule{Action: Measure, PCR: -1, Template: "evm-sig"}},
		{"measure template=d-ng|n-ng", Rule{Action: Measure, PCR: -1, Template: "ima-ng"}},
		{"measure func=KEXEC_CMDLINE template=ima-buf fsuuid=8bcbe394-4f13-4144-be8e-5aa9ea2ce2f6 fowner=0",
			Rule{Action: Measure, Func: KexecCmdline, PCR: -1, Template: "ima-buf", FSUUID: uuid, HasFSUUID: true, FOwner: IDCond{'=', 0}}},
		// appraise options
		{"appraise func=KEXEC_KERNEL_CHECK appraise_type=imasig", Rule{Action: Appraise, Func: KexecKernelCheck, PCR: -1, AppraiseType: IMASig}},
		{"appraise func=KEXEC_KERNEL_CHECK appraise_type=imasig|modsig", Rule{Action: Appraise, Func: KexecKernelCheck, PCR: -1, AppraiseType: IMASigModsig}},
		{"appraise func=MODULE_CHECK appraise_type=imasig|modsig", Rule{Action: Appraise, Func: ModuleCheck, PCR: -1, AppraiseType: IMASigModsig}},
		{"appraise func=KEXEC_INITRAMFS_CHECK appraise_type=imasig|modsig", Rule{Action: Appraise, Func: KexecInitramfsCheck, PCR: -1, AppraiseType: IMASigModsig}},
		{"appraise func=BPRM_CHECK digest_type=verity appraise_type=sigv3",
			Rule{Action: Appraise, Func: BPRMCheck, PCR: -1, DigestVerity: true, AppraiseType: SigV3}},
		{"measure func=FILE_CHECK digest_type=verity template=ima-ngv2",
			Rule{Action: Measure, Func: FileCheck, PCR: -1, DigestVerity: true, Template: "ima-ngv2"}},
		{"appraise func=FIRMWARE_CHECK appraise_type=imasig appraise_flag=check_blacklist",
			Rule{Action: Appraise, Func: FirmwareCheck, PCR: -1, AppraiseType: IMASig, CheckBlacklist: true}},
		{"appraise func=POLICY_CHECK appraise_algos=sha256 appraise_type=imasig",
			Rule{Action: Appraise, Func: PolicyCheck, PCR: -1, AppraiseAlgos: []string{"sha256"}, AppraiseType: IMASig}},
		{"appraise appraise_algos=sha1,md5,sm3,streebog512,sha3-256,sha256",
			Rule{Action: Appraise, PCR: -1, AppraiseAlgos: []string{"sha1", "md5", "sm3", "streebog512", "sha3-256", "sha256"}}},
		{"appraise func=BPRM_CHECK permit_directio", Rule{Action: Appraise, Func: BPRMCheck, PCR: -1, PermitDirectIO: true}},
		{"dont_measure permit_directio", Rule{Action: DontMeasure, PCR: -1, PermitDirectIO: true}},
		// values may hold =, < and #: only a token that starts with # is a comment
		{"measure fsname=a=b<c#d", Rule{Action: Measure, FSName: "a=b<c#d", PCR: -1}},
		// whitespace and a trailing comment, as the kernel allows them
		{"\t measure\t\tfunc=FIRMWARE_CHECK   # firmware", Rule{Action: Measure, Func: FirmwareCheck, PCR: -1}},
		{"measure #func=FIRMWARE_CHECK", Rule{Action: Measure, PCR: -1}},
	}
}

func TestParseRule(t *testing.T) {
	for _, tt := range validRules(t) {
		t.Run(tt.src, func(t *testing.T) {
			p, err := Parse("test", []byte(tt.src))
			if err != nil {
				t.Fatalf("Parse(%q) = %v, want a rule", tt.src, err)
			}
			want := tt.want
			want.Line = 1
			if diff := cmp.Diff([]Rule{want}, p.Rules); diff != "" {
				t.Errorf("Parse(%q) rules differ (-want +got):\n%s", tt.src, diff)
			}
		})
	}
}

func TestParseLines(t *testing.T) {
	src := "# measuredboot policy\n\n   # indented comment\nmeasure func=KEXEC_KERNEL_CHECK pcr=9\n\t\n" +
		"dont_measure fsmagic=0x9fa0 # procfs\r\n# last\nappraise func=POLICY_CHECK appraise_type=imasig"
	// The \r before \n is part of the comment, so the kernel ignores it too.
	p, err := Parse("p", []byte(src))
	if err != nil {
		t.Fatalf("Parse(%q) = %v, want no error", src, err)
	}
	var got []int
	for _, r := range p.Rules {
		got = append(got, r.Line)
	}
	if want := []int{4, 6, 8}; !cmp.Equal(got, want) {
		t.Errorf("Parse(%q) rule lines = %v, want %v", src, got, want)
	}
	if p.Name != "p" {
		t.Errorf("Parse(%q).Name = %q, want %q", src, p.Name, "p")
	}
	for _, empty := range []string{"", "\n\n", "# only a comment\n", " \t \n#\n"} {
		p, err := Parse("p", []byte(empty))
		if err != nil || len(p.Rules) != 0 {
			t.Errorf("Parse(%q) = %v, %v, want no rules and no error", empty, p, err)
		}
	}
}

func TestParseError(t *testing.T) {
	tests := []struct {
		src, pos, msg string // pos is "line:col"; msg a part of the message
	}{
		// tokens
		{"measure fun=FILE_CHECK", "1:9", `unknown token "fun=FILE_CHECK": want an action`},
		{"measure bogus", "1:9", `unknown token "bogus"`},
		{"Measure", "1:1", "lower case (measure)"},
		{"measure FUNC=FILE_CHECK", "1:9", "lower case (func)"},
		{"measure=1", "1:1", "measure takes no value"},
		{"measure permit_directio=1", "1:9", "permit_directio takes no value"},
		{"measure func", "1:9", "func needs =value"},
		{"measure\r", "1:1", "carriage return"},
		{"measure func=\x00", "1:14", "NUL byte"},
		{"measure mask<MAY_READ", "1:9", "only uid, euid, gid, egid, fowner and fgroup take < or >"},
		{"measure func=", "1:9", "func= needs a value: one of BPRM_CHECK"},
		{"measure uid<", "1:9", "uid< needs a value: a decimal ID"},
		{"measure func=FILE_CHECK#x", "1:14", `invalid value "FILE_CHECK#x" for func=`},
		// actions
		{"func=FILE_CHECK", "1:1", "rule without an action"},
		{"  mask=MAY_READ uid=0", "1:3", "rule without an action"},
		{"measure dont_measure", "1:9", "second action dont_measure: a rule has one action, and measure was given at column 1"},
		{"measure measure", "1:9", "second action"},
		// func
		{"measure func=FOO", "1:14", `invalid value "FOO" for func=: want one of BPRM_CHECK, MMAP_CHECK`},
		{"measure func=kexec_kernel_check", "1:14", "func names are upper case (KEXEC_KERNEL_CHECK)"},
		{"measure func=POST_SETATTR", "1:14", `invalid value "POST_SETATTR"`},
		{"measure func=FILE_CHECK func=BPRM_CHECK", "1:25", "func given twice (first at column 9)"},
		// mask
		{"measure mask=MAY_READ|MAY_EXEC", "1:14", "one access per mask=, not a | list"},
		{"measure mask=MAY_OPEN", "1:14", "want one of MAY_EXEC, MAY_WRITE, MAY_READ, MAY_APPEND"},
		{"measure mask=^^MAY_READ", "1:14", `invalid value "^^MAY_READ"`},
		{"measure mask=MAY_READ mask=^MAY_EXEC", "1:23", "mask given twice"},
		// fsmagic, fsuuid, fsname
		{"measure fsmagic=0xz", "1:17", "want a hexadecimal file system magic"},
		{"measure fsmagic=0x", "1:17", "want a hexadecimal"},
		{"measure fsmagic=10000000000000000", "1:17", "of at most 64 bits"},
		{"measure fsmagic=-1", "1:17", "want a hexadecimal"},
		{"measure fsmagic=1 fsmagic=2", "1:19", "fsmagic given twice"},
		{"measure fsuuid=8bcbe394-4f13-4144-be8e-5aa9ea2ce2f", "1:16", "want a file system UUID"},
		{"measure fsuuid=8bcbe3944f134144be8e5aa9ea2ce2f6", "1:16", "want a file system UUID"},
		{"measure fsuuid=8bcbe394-4f13-4144-be8e-5aa9ea2ce2fg", "1:16", "want a file system UUID"},
		{"measure fsuuid={8bcbe394-4f13-4144-be8e-5aa9ea2ce2}", "1:16", "want a file system UUID"},
		{"measure fsname=ext4 fsname=vfat", "1:21", "fsname given twice"},
		// IDs
		{"measure uid=-1", "1:13", "want a decimal ID from 0 to 4294967294"},
		{"measure uid=4294967295", "1:13", "want a decimal ID"},
		{"measure uid=4294967296", "1:13", "want a decimal ID"},
		{"measure uid=0x10", "1:13", "want a decimal ID"},
		{"measure fgroup>abc", "1:16", `invalid value "abc" for fgroup>`},
		{"measure uid=0 euid=0", "1:15", "one uid condition per rule (uid/euid, gid/egid), and column 9 already gave one"},
		{"measure euid=0 uid<5", "1:16", "one uid condition per rule"},
		{"measure gid=0 egid=0", "1:15", "one gid condition per rule"},
		{"measure uid=0 uid>5", "1:15", "uid given twice (first at column 9)"},
		{"measure fowner=0 fowner=1", "1:18", "fowner given twice"},
		// LSM
		{"measure obj_type=a obj_type=b", "1:20", "obj_type given twice"},
		// keyrings, label
		{"measure keyrings=.ima", "1:9", "keyrings= is only valid with func=KEY_CHECK"},
		{"measure func=FILE_CHECK label=selinux", "1:25", "label= is only valid with func=CRITICAL_DATA"},
		{"measure func=KEY_CHECK keyrings=.ima||.evm", "1:33", "want keyring names separated by |"},
		{"measure func=CRITICAL_DATA label=|", "1:34", "want data labels separated by |"},
		// pcr
		{"dont_measure pcr=9", "1:14", "pcr= is only valid with measure, not dont_measure"},
		{"appraise func=KEXEC_KERNEL_CHECK pcr=9", "1:34", "pcr= is only valid with measure, not appraise"},
		{"measure pcr=64", "1:13", "want a decimal PCR index from 0 to 63"},
		{"measure pcr=-1", "1:13", "want a decimal PCR index"},
		{"measure pcr=ten", "1:13", "want a decimal PCR index"},
		{"measure pcr=9 pcr=8", "1:15", "pcr given twice"},
		// template
		{"measure template=ima-sigv3", "1:18", `invalid value "ima-sigv3" for template=: want one of ima, ima-ng`},
		{"measure template=", "1:9", "template= needs a value"},
		{"template=ima-ng measure", "1:1", "template= before the action: the kernel accepts template= only after measure"},
		{"dont_measure template=ima-ng", "1:14", "template= is only valid with measure, not dont_measure"},
		{"appraise template=ima-ng", "1:10", "template= is only valid with measure, not appraise"},
		{"measure template=ima-ng template=ima-sig", "1:25", "template given twice"},
		// digest_type
		{"measure digest_type=sha256", "1:21", `invalid value "sha256" for digest_type=: want verity`},
		{"measure func=KEXEC_KERNEL_CHECK digest_type=verity", "1:33", "digest_type= is not valid with func=KEXEC_KERNEL_CHECK"},
		{"measure func=KEXEC_CMDLINE digest_type=verity", "1:28", "digest_type= is not valid with func=KEXEC_CMDLINE"},
		{"appraise func=FILE_CHECK digest_type=verity", "1:26", "appraise with digest_type=verity needs appraise_type=sigv3"},
		{"appraise func=FILE_CHECK appraise_type=sigv3 digest_type=verity", "1:40", "appraise_type=sigv3 needs digest_type=verity before it"},
		{"appraise func=FILE_CHECK digest_type=verity appraise_type=imasig", "1:59", "appraise_type=imasig with digest_type=verity"},
		{"appraise func=FILE_CHECK appraise_type=imasig digest_type=verity", "1:47", "digest_type= after appraise_type="},
		// appraise options
		{"measure appraise_type=imasig", "1:9", "appraise_type= is only valid with appraise, not measure"},
		{"dont_appraise appraise_type=imasig", "1:15", "appraise_type= is only valid with appraise, not dont_appraise"},
		{"appraise appraise_type=modsig", "1:24", `invalid value "modsig" for appraise_type=: want imasig, imasig|modsig or sigv3`},
		{"appraise appraise_type=imasig appraise_type=imasig", "1:31", "appraise_type given twice"},
		{"appraise appraise_type=imasig|modsig", "1:10", "appraise_type=imasig|modsig is only valid with func=MODULE_CHECK, KEXEC_KERNEL_CHECK or KEXEC_INITRAMFS_CHECK"},
		{"appraise func=FIRMWARE_CHECK appraise_type=imasig|modsig", "1:30", "imasig|modsig is only valid with func=MODULE_CHECK"},
		{"measure appraise_flag=check_blacklist", "1:9", "appraise_flag= is only valid with appraise"},
		{"appraise appraise_flag=blacklist", "1:24", `invalid value "blacklist" for appraise_flag=: want check_blacklist`},
		{"measure appraise_algos=sha256", "1:9", "appraise_algos= is only valid with appraise"},
		{"appraise appraise_algos=sha256,SHA512", "1:25", `unknown hash "SHA512" in appraise_algos=: want a comma-separated list`},
		{"appraise appraise_algos=sha256,", "1:25", `unknown hash ""`},
		{"appraise appraise_algos=crc32", "1:25", `unknown hash "crc32"`},
		{"appraise permit_directio permit_directio", "1:26", "permit_directio given twice (first at column 10)"},
		// funcs restricted to measure, and what they allow
		{"appraise func=KEXEC_CMDLINE", "1:10", "func=KEXEC_CMDLINE takes only measure or dont_measure, not appraise"},
		{"audit func=KEXEC_CMDLINE", "1:7", "takes only measure or dont_measure, not audit"},
		{"dont_appraise func=KEY_CHECK", "1:15", "func=KEY_CHECK takes only measure or dont_measure"},
		{"hash func=CRITICAL_DATA", "1:6", "func=CRITICAL_DATA takes only measure or dont_measure"},
		{"measure func=KEXEC_CMDLINE mask=MAY_READ", "1:28", "mask= is not valid with func=KEXEC_CMDLINE; valid there: fsmagic="},
		{"measure func=KEXEC_CMDLINE permit_directio", "1:28", "permit_directio is not valid with func=KEXEC_CMDLINE"},
		{"measure func=KEY_CHECK fsmagic=0x9fa0", "1:24", "fsmagic= is not valid with func=KEY_CHECK; valid there: uid=, gid=, pcr=, template=, keyrings="},
		{"measure func=KEY_CHECK euid>5", "1:24", "euid> is not valid with func=KEY_CHECK"},
		{"measure func=KEY_CHECK subj_type=init_t", "1:24", "subj_type= is not valid with func=KEY_CHECK"},
		{"measure func=CRITICAL_DATA mask=^MAY_READ", "1:28", "mask= is not valid with func=CRITICAL_DATA"},
		{"measure func=CRITICAL_DATA keyrings=.ima", "1:28", "keyrings= is only valid with func=KEY_CHECK"},
		// SETXATTR_CHECK
		{"appraise func=SETXATTR_CHECK", "1:10", "func=SETXATTR_CHECK needs appraise_algos="},
		{"measure func=SETXATTR_CHECK", "1:9", "func=SETXATTR_CHECK takes only appraise, not measure"},
		{"appraise func=SETXATTR_CHECK appraise_algos=sha256 fsmagic=0x9fa0", "1:52", "fsmagic= is not valid with func=SETXATTR_CHECK"},
		{"appraise func=SETXATTR_CHECK appraise_algos=sha256 appraise_type=imasig", "1:52", "appraise_type= is not valid with func=SETXATTR_CHECK"},
		// the first offending token on the line wins, and tabs count one column
		{"measure\tfunc=KEXEC_CMDLINE\tpermit_directio mask=MAY_READ", "1:28", "permit_directio is not valid"},
		{"# ok\n\nmeasure func=FILE_CHECK\n  appraise func=NOPE", "4:17", `invalid value "NOPE" for func=`},
	}
	for _, tt := range tests {
		t.Run(tt.src, func(t *testing.T) {
			p, err := Parse("test.policy", []byte(tt.src))
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("Parse(%q) = %v, %v, want a *ParseError at %s", tt.src, p, err, tt.pos)
			}
			if p != nil {
				t.Errorf("Parse(%q) policy = %v, want nil with an error", tt.src, p)
			}
			prefix := "test.policy:" + tt.pos + ": "
			if got := err.Error(); !strings.HasPrefix(got, prefix) || !strings.Contains(got, tt.msg) {
				t.Errorf("Parse(%q) = %q, want %q...%q", tt.src, got, prefix, tt.msg)
			}
		})
	}
}

func TestParseSeveralErrors(t *testing.T) {
	src := "measure func=NOPE\nmeasure pcr=9\ndont_measure pcr=9\n\tbogus\n"
	_, err := Parse("p", []byte(src))
	want := "p:1:14: invalid value \"NOPE\" for func=: want one of " + funcNames + "\n" +
		"p:3:14: pcr= is only valid with measure, not dont_measure\n" +
		"p:4:2: unknown token \"bogus\": " + tokenHelp
	if err == nil || err.Error() != want {
		t.Errorf("Parse(%q) = %v, want\n%s", src, err, want)
	}
	var pe *ParseError
	if !errors.As(err, &pe) || pe.Line != 1 || pe.Col != 14 {
		t.Errorf("Parse(%q): errors.As gives %+v, want the line 1 error first", src, pe)
	}

	many := strings.Repeat("bogus\n", 20)
	_, err = Parse("p", []byte(many))
	if err == nil || strings.Count(err.Error(), "\n") != maxErrors || !strings.HasSuffix(err.Error(), "p: too many errors, stopped at line 10") {
		t.Errorf("Parse(20 bad lines) = %v, want %d errors then \"too many errors\"", err, maxErrors)
	}
}

func TestRuleString(t *testing.T) {
	tests := []struct{ src, want string }{
		{"measure func=KEXEC_CHECK", "measure func=KEXEC_KERNEL_CHECK"},
		{"measure func=INITRAMFS_CHECK", "measure func=KEXEC_INITRAMFS_CHECK"},
		{"measure func=FILE_MMAP mask=MAY_EXEC", "measure func=MMAP_CHECK mask=MAY_EXEC"},
		{"measure func=PATH_CHECK mask=^MAY_READ", "measure func=FILE_CHECK mask=^MAY_READ"},
		{"dont_measure fsmagic=0X01021994", "dont_measure fsmagic=0x1021994"},
		{"measure fsuuid=8BCBE394-4F13-4144-BE8E-5AA9EA2CE2F6", "measure fsuuid=8bcbe394-4f13-4144-be8e-5aa9ea2ce2f6"},
		{"measure uid>+007 pcr=+9", "measure pcr=9 uid>7"},
		{"measure template=d-ng|n-ng|buf func=KEXEC_CMDLINE", "measure func=KEXEC_CMDLINE template=ima-buf"},
		{"permit_directio appraise appraise_type=imasig|modsig func=MODULE_CHECK appraise_flag=check_blacklist",
			"appraise func=MODULE_CHECK appraise_type=imasig|modsig appraise_flag=check_blacklist permit_directio"},
		{"appraise digest_type=verity appraise_type=sigv3 func=BPRM_CHECK", "appraise func=BPRM_CHECK digest_type=verity appraise_type=sigv3"},
		{"measure subj_type=t obj_user=u fgroup<3 egid=2 fowner>1 euid=0 pcr=11 fsname=ext4 mask=MAY_APPEND",
			"measure mask=MAY_APPEND fsname=ext4 pcr=11 euid=0 egid=2 fowner>1 fgroup<3 obj_user=u subj_type=t"},
		{"appraise func=SETXATTR_CHECK appraise_algos=sha512,sha256", "appraise func=SETXATTR_CHECK appraise_algos=sha512,sha256"},
		{"measure func=KEY_CHECK keyrings=.ima|.evm pcr=12", "measure func=KEY_CHECK keyrings=.ima|.evm pcr=12"},
		{"measure func=CRITICAL_DATA label=selinux", "measure func=CRITICAL_DATA label=selinux"},
	}
	for _, tt := range tests {
		t.Run(tt.src, func(t *testing.T) {
			p, err := Parse("t", []byte(tt.src))
			if err != nil {
				t.Fatalf("Parse(%q) = %v", tt.src, err)
			}
			if got := p.Rules[0].String(); got != tt.want {
				t.Errorf("Parse(%q).Rules[0].String() = %q, want %q", tt.src, got, tt.want)
			}
		})
	}
	p := &Policy{Rules: []Rule{{Action: Measure, PCR: 9, Func: PolicyCheck}, {Action: DontAppraise, PCR: -1}}}
	if got, want := p.String(), "measure func=POLICY_CHECK pcr=9\ndont_appraise\n"; got != want {
		t.Errorf("Policy.String() = %q, want %q", got, want)
	}
}

func TestRoundTrip(t *testing.T) {
	var srcs []string
	for _, tt := range validRules(t) {
		srcs = append(srcs, tt.src)
	}
	srcs = append(srcs, builtinTCB, builtinOriginalTCB, builtinAppraiseTCB, builtinSecureBoot, builtinCriticalData, patch2015, defaultPolicy)
	for _, src := range srcs {
		p, err := Parse("a", []byte(src))
		if err != nil {
			t.Fatalf("Parse(%q) = %v", src, err)
		}
		text := p.String()
		q, err := Parse("b", []byte(text))
		if err != nil {
			t.Fatalf("Parse(%q) (from String of %q) = %v", text, src, err)
		}
		if diff := cmp.Diff(p.Rules, q.Rules, ignoreLine); diff != "" {
			t.Errorf("Parse(String(Parse(%q))) differs (-first +second):\n%s", src, diff)
		}
	}
}

func TestNames(t *testing.T) {
	for f := FuncAny + 1; f < numFuncs; f++ {
		if g, ok := funcByName(f.String()); !ok || g != f {
			t.Errorf("funcByName(%q) = %v, %v, want %v, true", f.String(), g, ok, f)
		}
		if !strings.Contains(funcNames, f.String()) {
			t.Errorf("funcNames misses %s", f)
		}
	}
	tests := []struct{ got, want string }{
		{FuncAny.String(), "(any)"},
		{Func(200).String(), "Func(200)"},
		{Action(0).String(), "Action(0)"},
		{DontHash.String(), "dont_hash"},
		{AppraiseDefault.String(), ""},
		{SigV3.String(), "sigv3"},
		{AppraiseType(9).String(), "AppraiseType(9)"},
		{maskName(3), "0x3"},
		{Severity(7).String(), "Severity(7)"},
		{(&ParseError{File: "f", Line: 2, Col: 3, Msg: "m"}).Error(), "f:2:3: m"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("String() = %q, want %q", tt.got, tt.want)
		}
	}
}

// FuzzParse checks that Parse never panics, that an error comes with a position inside the text
// and no policy, and that every accepted policy prints as text that parses to the same rules.
func FuzzParse(f *testing.F) {
	for _, tt := range validRules(f) {
		f.Add(tt.src)
	}
	for _, s := range []string{builtinTCB, builtinAppraiseTCB, builtinSecureBoot, patch2015, defaultPolicy,
		"measure uid=0 euid=0", "template=ima-ng measure", "appraise digest_type=verity", "measure\r\n", "\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		p, err := Parse("fuzz", []byte(src))
		if err != nil {
			var pe *ParseError
			if p != nil || !errors.As(err, &pe) {
				t.Fatalf("Parse(%q) = %v, %v, want nil and a *ParseError", src, p, err)
			}
			lines := strings.Split(src, "\n")
			if pe.Line < 1 || pe.Line > len(lines) || pe.Col < 1 || pe.Col > len(lines[pe.Line-1])+1 {
				t.Fatalf("Parse(%q) = %v: position outside the text", src, err)
			}
			return
		}
		text := p.String()
		q, err := Parse("again", []byte(text))
		if err != nil {
			t.Fatalf("Parse(%q) (String of Parse(%q)) = %v", text, src, err)
		}
		if diff := cmp.Diff(p.Rules, q.Rules, ignoreLine); diff != "" {
			t.Fatalf("Parse(String(Parse(%q))) differs (-first +second):\n%s", src, diff)
		}
		for f := FuncAny; f < numFuncs; f++ {
			p.Evaluate(Object{Func: f, Mask: MayRead, HasFile: true})
		}
		Check(p)
	})
}
