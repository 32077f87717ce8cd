// Package policy parses, validates and evaluates the Linux IMA policy language for a boot
// environment.
//
// Parse reads policy text (one rule per line, as written to /sys/kernel/security/ima/policy) and
// validates every rule the way security/integrity/ima/ima_policy.c does, reporting the file, line
// and column of the first problem on each bad line. It differs from the kernel in three ways: it
// also reads the 2015 patch spellings func=KEXEC_CHECK and func=INITRAMFS_CHECK, it rejects every
// repeated option (the kernel lets a few, such as fsname= and pcr=, repeat), and it takes
// appraise_flag= only as check_blacklist on an appraise rule. Rule.String prints a rule as the
// kernel's policy file shows it, with the kernel's names, so a parsed policy can be written back.
//
// Policy.Evaluate answers, for one object (a file read for KEXEC_KERNEL_CHECK, the kexec command
// line, ...), what the kernel would decide: measure or not, into which PCR, with which template,
// and whether it must be appraised. Check says, rule by rule, what a policy means in this boot
// environment, where only the kexec, firmware and policy hooks exist and files are read by root.
//
// The package is pure: it reads no files and touches no devices, so the boot program and the
// host tools share it.
package policy
