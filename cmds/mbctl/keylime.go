package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"unicode/utf16"

	"github.com/measuredboot/measuredboot/pkg/discover"
	"github.com/measuredboot/measuredboot/pkg/eventlog"
	"github.com/measuredboot/measuredboot/pkg/ima"
)

const exportUsage = `usage: mbctl export keylime [-runtime-policy FILE] [-refstate FILE] PREDICT-FLAGS

Runs the boot flow on this host as mbctl predict does (same flags) and writes what a keylime
verifier needs to accept the boot it leads to:

  runtime policy (tenant --runtime-policy): format 1, with "boot_aggregate" holding the aggregate
    the next kernel's IMA computes from the predicted PCRs 0-9 (0-7 for SHA-1), one per predicted
    bank; the plain SHA-256 of the kernel, -firmware images and initrd under the names the boot
    records (relative to -root); and in "ima-buf" the digest of the command line as IMA records
    a "kexec-cmdline" buffer.
  measured-boot reference state (tenant --mb-policy): one "kernels" entry with
    vmlinuz_plain_sha256, initrd_plain_sha256 and kernel_cmdline (a regular expression matching
    exactly -cmdline); with -eventlog also has_secureboot, scrtm_and_bios, mokdig and mokxdig as
    the firmware log gives them. Keys that need shim, GRUB or the UEFI key databases
    (shim_authcode_sha256, grub_authcode_sha256, kernel_authcode_sha256, pk, kek, db, dbx) are
    left out: a measuredboot boot has no shim and no GRUB, and the keys are not derived here.

Without -runtime-policy and -refstate both are printed as one JSON object,
{"mb_refstate": ..., "runtime_policy": ...}; with either, each named one is written to its file
and nothing to standard output. The output has no timestamp: the same inputs give the same bytes.
Without -eventlog the firmware's PCRs are taken as zeros, and the boot_aggregate matches only a
machine whose firmware extended nothing: pass the machine's firmware log.`

// The runtime policy's fixed fields, as keylime's format 1 has them (keylime/keylime
// keylime/ima/types.py RuntimePolicyType and RUNTIME_POLICY_SCHEMA in keylime/ima/ima.py).
const (
	keylimePolicyVersion = 1
	// keylimeGenerator is meta.generator: the schema allows only the integers of keylime's
	// RUNTIME_POLICY_GENERATOR enum (0 Unknown .. 3 LegacyAllowList), none of which names a
	// tool, so an export says Unknown rather than claim to be one of keylime's converters.
	keylimeGenerator = 0
	// keylimeLogHashAlg is ima.log_hash_alg: the hash of the template digests in the list the
	// agent reads (ascii_runtime_measurements, SHA-1 in every kernel), what keylime's own empty
	// policy sets.
	keylimeLogHashAlg = "sha1"
	// keylimeCmdlineBuf is the name IMA gives the command line buffer it measures for
	// kexec_file_load (ima_kexec_cmdline), and measuredboot's PCR 8 event for it.
	keylimeCmdlineBuf = "kexec-cmdline"
)

// keylimeRuntimePolicy is keylime's runtime policy, format 1. Fields are in key order, so the
// JSON's keys come out sorted. Every digest list holds lowercase hex without a prefix (the
// schema's ^[0-9a-f]{40,128}$) and at least one digest.
type keylimeRuntimePolicy struct {
	Digests          map[string][]string `json:"digests"`
	Excludes         []string            `json:"excludes"`
	IMA              keylimeIMA          `json:"ima"`
	IMABuf           map[string][]string `json:"ima-buf"`
	Keyrings         map[string][]string `json:"keyrings"`
	Meta             keylimeMeta         `json:"meta"`
	Release          int                 `json:"release"`
	VerificationKeys string              `json:"verification-keys"`
}

type keylimeIMA struct {
	DMPolicy        any      `json:"dm_policy"` // null: no device-mapper policy
	IgnoredKeyrings []string `json:"ignored_keyrings"`
	LogHashAlg      string   `json:"log_hash_alg"`
}

// keylimeMeta has no timestamp (optional in the schema), so that an export is reproducible.
type keylimeMeta struct {
	Generator int `json:"generator"`
	Version   int `json:"version"`
}

// keylimeKernel is one entry of the reference state's "kernels", as keylime's example
// measured-boot policy reads it without Secure Boot (keylime/keylime
// keylime/mba/elchecking/example.py, shim_authcode_sha256_no_secureboot): digests are "0x" and
// lowercase hex; kernel_cmdline is a regular expression that must match all of the text after
// "kernel_cmdline: " in GRUB's PCR 8 event; the plain digests are those of GRUB's PCR 9 events
// for paths containing "vmlinuz" and "initrd" or "initramfs".
type keylimeKernel struct {
	InitrdPlainSHA256  string `json:"initrd_plain_sha256,omitempty"`
	KernelCmdline      string `json:"kernel_cmdline"`
	VmlinuzPlainSHA256 string `json:"vmlinuz_plain_sha256"`
}

// keylimeExport is what mbctl export keylime prints without -runtime-policy and -refstate.
type keylimeExport struct {
	// RefState is a map: its optional keys (those the firmware log gives) are left out when
	// unknown, and encoding/json sorts a map's keys.
	RefState      map[string]any       `json:"mb_refstate"`
	RuntimePolicy keylimeRuntimePolicy `json:"runtime_policy"`
}

// cmdExport writes a boot's expected state in a verifier's formats; keylime's is the only one.
func cmdExport(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "keylime" {
		fmt.Fprintln(stderr, exportUsage)
		if len(args) == 0 {
			return errors.New("export: name the verifier's format: keylime")
		}
		return fmt.Errorf("export: unknown format %q: the one known is keylime", args[0])
	}
	fs := newFlags("export keylime", stderr)
	o := addPredictFlags(fs)
	rpFile := fs.String("runtime-policy", "", "write the runtime policy (keylime_tenant --runtime-policy) to this file")
	rsFile := fs.String("refstate", "", "write the measured-boot reference state (keylime_tenant --mb-policy) to this file")
	fs.Usage = func() { fmt.Fprintln(stderr, exportUsage); fs.PrintDefaults() }
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		fs.Usage()
		return fmt.Errorf("export keylime: unexpected arguments %q", fs.Args())
	}
	p, err := o.predict(stderr)
	if err != nil {
		return fmt.Errorf("export keylime: %w", err)
	}
	ex, err := exportKeylime(o, p, stderr)
	if err != nil {
		return fmt.Errorf("export keylime: %w", err)
	}
	if *rpFile == "" && *rsFile == "" {
		b, err := marshalSorted(ex)
		if err != nil {
			return fmt.Errorf("export keylime: %w", err)
		}
		_, err = stdout.Write(b)
		return err
	}
	for _, out := range []struct {
		file, what string
		v          any
	}{{*rpFile, "runtime policy", ex.RuntimePolicy}, {*rsFile, "measured-boot reference state", ex.RefState}} {
		if out.file == "" {
			continue
		}
		b, err := marshalSorted(out.v)
		if err != nil {
			return fmt.Errorf("export keylime: %w", err)
		}
		if err := os.WriteFile(out.file, b, 0o644); err != nil {
			return fmt.Errorf("export keylime: writing the %s: %w", out.what, err)
		}
		fmt.Fprintf(stderr, "export: %s written to %s\n", out.what, out.file)
	}
	return nil
}

// exportKeylime builds the runtime policy and the reference state of the boot o describes,
// whose predicted PCRs are p. Notes for the user (what the values assume) go to stderr.
func exportKeylime(o *predictOptions, p *prediction, stderr io.Writer) (*keylimeExport, error) {
	rp := keylimeRuntimePolicy{
		Digests:  map[string][]string{},
		Excludes: []string{},
		IMA:      keylimeIMA{IgnoredKeyrings: []string{}, LogHashAlg: keylimeLogHashAlg},
		IMABuf:   map[string][]string{},
		Keyrings: map[string][]string{},
		Meta:     keylimeMeta{Generator: keylimeGenerator, Version: keylimePolicyVersion},
	}

	// The boot_aggregate: the next kernel's IMA hashes PCRs 0-9 (0-7 for SHA-1) of one bank when
	// it starts, right after the kexec, when they hold what the prediction ends with. Which bank
	// depends on the kernel (its ima_hash's bank, else SHA-256, else SHA-1; SHA-1 alone before
	// Linux 5.8), so every predicted bank's aggregate is listed: keylime compares the hex alone.
	if *o.fwlog == "" {
		fmt.Fprintln(stderr, "export: no -eventlog: the boot_aggregate takes the firmware's PCRs 0-7 as zeros, which holds only on a machine whose firmware measured nothing; pass the machine's firmware log (binary_bios_measurements, or a handed-over tcg.log)")
	}
	banks := slices.Clone(p.Banks)
	slices.Sort(banks)
	for _, b := range banks {
		h, ok := b.Hash()
		if !ok {
			fmt.Fprintf(stderr, "export: no boot_aggregate for the %v bank: no hash for it in this build\n", b)
			continue
		}
		agg, err := ima.BootAggregate(h, p.Values.Values(b, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9))
		if err != nil {
			return nil, err
		}
		addDigest(rp.Digests, ima.BootAggregateName, hex.EncodeToString(agg))
	}

	// The handed-over files, named as the boot names them: relative to the boot partition's
	// root (discover.Entry.RelPath over -root, as predict builds the entry).
	root, err := filepath.Abs(*o.root)
	if err != nil {
		return nil, err
	}
	e := discover.Entry{FS: discover.FS{Mount: root}}
	plain := func(flag, path string) (string, error) {
		a, err := filepath.Abs(path)
		if err != nil {
			return "", err
		}
		b, err := os.ReadFile(a)
		if err != nil {
			return "", fmt.Errorf("%s: %w", flag, err)
		}
		sum := sha256.Sum256(b)
		d := hex.EncodeToString(sum[:])
		addDigest(rp.Digests, e.RelPath(a), d)
		return d, nil
	}
	kernel := keylimeKernel{KernelCmdline: keylimeCmdlineRegexp(*o.cmdline)}
	if kernel.VmlinuzPlainSHA256, err = plain("-kernel", *o.kernel); err != nil {
		return nil, err
	}
	kernel.VmlinuzPlainSHA256 = "0x" + kernel.VmlinuzPlainSHA256
	for _, f := range o.firmware {
		if _, err := plain("-firmware", f); err != nil {
			return nil, err
		}
	}
	if *o.initrd != "" {
		d, err := plain("-initrd", *o.initrd)
		if err != nil {
			return nil, err
		}
		kernel.InitrdPlainSHA256 = "0x" + d
	}
	cmd := sha256.Sum256([]byte(*o.cmdline))
	addDigest(rp.IMABuf, keylimeCmdlineBuf, hex.EncodeToString(cmd[:]))

	// keylime's example policy finds GRUB's PCR 9 events by these words in their paths.
	if k := strings.ToLower(filepath.Base(*o.kernel)); !strings.Contains(k, "vmlinuz") {
		fmt.Fprintf(stderr, "export: the kernel's name %q lacks \"vmlinuz\": keylime's example policy finds the kernel's PCR 9 event by it\n", filepath.Base(*o.kernel))
	}
	if i := strings.ToLower(filepath.Base(*o.initrd)); *o.initrd != "" && !strings.Contains(i, "initrd") && !strings.Contains(i, "initramfs") {
		fmt.Fprintf(stderr, "export: the initrd's name %q has neither \"initrd\" nor \"initramfs\": keylime's example policy finds the initrd's PCR 9 event by them\n", filepath.Base(*o.initrd))
	}

	rs := map[string]any{"kernels": []keylimeKernel{kernel}}
	if *o.fwlog != "" {
		b, err := os.ReadFile(*o.fwlog)
		if err != nil {
			return nil, err
		}
		l, err := eventlog.Parse(b)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", *o.fwlog, err)
		}
		fw, err := keylimeFirmwareRefState(l)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", *o.fwlog, err)
		}
		for k, v := range fw {
			rs[k] = v
		}
	}
	return &keylimeExport{RefState: rs, RuntimePolicy: rp}, nil
}

// addDigest adds d to m[name] unless it is there.
func addDigest(m map[string][]string, name, d string) {
	if !slices.Contains(m[name], d) {
		m[name] = append(m[name], d)
	}
}

// keylimeCmdlineRegexp returns a regular expression that matches exactly cmdline, in the syntax
// Go and Python share: keylime's create_mb_refstate (keylime/keylime
// keylime/policy/create_mb_policy.py) escapes the logged text with Python's re.escape, and the
// example policy full-matches "kernel_cmdline: " followed by it. regexp.QuoteMeta escapes fewer
// characters than re.escape (not spaces, '-' or '#'), all of them literal in Python's default
// mode, so both expressions match the same one string.
func keylimeCmdlineRegexp(cmdline string) string { return regexp.QuoteMeta(cmdline) }

// Event types of the firmware log the reference state reads (TCG PC Client Platform Firmware
// Profile; pkg/eventlog names only those it uses itself).
const (
	evEFIVariableDriverConfig  eventlog.EventType = 0x80000001
	evEFIPlatformFirmwareBlob  eventlog.EventType = 0x80000008
	evEFIPlatformFirmwareBlob2 eventlog.EventType = 0x8000000A
)

// efiGlobalVariable is EFI_GLOBAL_VARIABLE (8be4df61-93ca-11d2-aa0d-00e098032b8c) as a
// UEFI_VARIABLE_DATA holds it: the first three fields little-endian.
var efiGlobalVariable = [16]byte{0x61, 0xdf, 0xe4, 0x8b, 0xca, 0x93, 0xd2, 0x11, 0xaa, 0x0d, 0x00, 0xe0, 0x98, 0x03, 0x2b, 0x8c}

// keylimeFirmwareRefState returns the reference state's keys an unverified firmware log gives,
// as keylime's create_mb_refstate takes them from a log (keylime/keylime
// keylime/policy/create_mb_policy.py) and its example policy checks them:
//
//   - has_secureboot: the SecureBoot variable's EV_EFI_VARIABLE_DRIVER_CONFIG event in PCR 7
//     (true if its first data byte is 1); false when the log has none, as keylime assumes.
//   - scrtm_and_bios: the first EV_S_CRTM_VERSION event in PCR 0 as "scrtm", the
//     EV_EFI_PLATFORM_FIRMWARE_BLOB(2) events in PCR 0, in order, as "platform_firmware"; only
//     when the log has an S-CRTM event with a SHA-256 digest (the example needs one).
//   - mokdig, mokxdig: the SHA-256 digests of shim's PCR 14 EV_IPL events "MokList" and
//     "MokListX"; empty lists when no shim ran.
//
// Digests are {"sha256": "0x..."}, lowercase. The values are only as true as the log: a verifier
// replays it against the quoted PCRs.
func keylimeFirmwareRefState(l *eventlog.Log) (map[string]any, error) {
	digest := func(e eventlog.Event) (map[string]string, bool) {
		d := e.Digest(eventlog.AlgSHA256)
		if d == nil {
			return nil, false
		}
		return map[string]string{"sha256": "0x" + hex.EncodeToString(d)}, true
	}
	out := map[string]any{}
	secureBoot := false
	var scrtm map[string]string
	blobs := []map[string]string{}
	mok, mokx := []map[string]string{}, []map[string]string{}
	for _, e := range l.Events {
		switch {
		case e.PCR == 7 && e.Type == evEFIVariableDriverConfig:
			v, err := parseUEFIVariable(e.Data)
			if err != nil {
				return nil, fmt.Errorf("event %d (PCR 7 EV_EFI_VARIABLE_DRIVER_CONFIG): %w", e.Index, err)
			}
			if v.GUID == efiGlobalVariable && v.Name == "SecureBoot" {
				secureBoot = len(v.Data) > 0 && v.Data[0] == 1
			}
		case e.PCR == 0 && e.Type == eventlog.EvSCRTMVersion && scrtm == nil:
			scrtm, _ = digest(e)
		case e.PCR == 0 && (e.Type == evEFIPlatformFirmwareBlob || e.Type == evEFIPlatformFirmwareBlob2):
			if d, ok := digest(e); ok {
				blobs = append(blobs, d)
			}
		case e.PCR == 14 && e.Type == eventlog.EvIPL:
			d, ok := digest(e)
			switch name := string(bytes.TrimRight(e.Data, "\x00")); {
			case !ok:
			case name == "MokList":
				mok = append(mok, d)
			case name == "MokListX":
				mokx = append(mokx, d)
			}
		}
	}
	out["has_secureboot"] = secureBoot
	out["mokdig"], out["mokxdig"] = mok, mokx
	if scrtm != nil {
		out["scrtm_and_bios"] = []map[string]any{{"scrtm": scrtm, "platform_firmware": blobs}}
	}
	return out, nil
}

// uefiVariable is an unverified UEFI_VARIABLE_DATA, the data of EV_EFI_VARIABLE_* events.
type uefiVariable struct {
	GUID [16]byte
	Name string
	Data []byte
}

// parseUEFIVariable parses an UEFI_VARIABLE_DATA (TCG PC Client Platform Firmware Profile):
// VariableName (a GUID), UnicodeNameLength and VariableDataLength (UINT64, the name's length in
// UTF-16 code units), the name, the data. The lengths must account for every byte.
func parseUEFIVariable(b []byte) (uefiVariable, error) {
	const fixed = 16 + 8 + 8
	var v uefiVariable
	if len(b) < fixed {
		return v, fmt.Errorf("UEFI_VARIABLE_DATA of %d bytes, shorter than its %d-byte header", len(b), fixed)
	}
	copy(v.GUID[:], b)
	nameLen, dataLen := binary.LittleEndian.Uint64(b[16:]), binary.LittleEndian.Uint64(b[24:])
	rest := uint64(len(b) - fixed)
	if nameLen > rest/2 || dataLen != rest-2*nameLen {
		return v, fmt.Errorf("UEFI_VARIABLE_DATA says %d name characters and %d data bytes, but %d bytes follow its header", nameLen, dataLen, rest)
	}
	u := make([]uint16, nameLen)
	for i := range u {
		u[i] = binary.LittleEndian.Uint16(b[fixed+2*i:])
	}
	v.Name = string(utf16.Decode(u))
	v.Data = b[fixed+2*nameLen:]
	return v, nil
}

// marshalSorted encodes v as JSON with 2-space indents and a final newline, without escaping
// '<', '>' and '&' (a command line may hold them). Maps' keys come out sorted, and the structs
// here declare their fields in key order, so equal values give equal bytes.
func marshalSorted(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}
