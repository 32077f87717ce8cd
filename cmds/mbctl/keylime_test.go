package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode/utf16"

	"github.com/google/go-cmp/cmp"

	"github.com/measuredboot/measuredboot/pkg/eventlog"
	"github.com/measuredboot/measuredboot/pkg/ima"
)

// keylimeOut is what the tests read back: the export as keylime would load it.
type keylimeOut struct {
	RefState struct {
		HasSecureBoot *bool           `json:"has_secureboot"`
		Kernels       []keylimeKernel `json:"kernels"`
		MokDig        []any           `json:"mokdig"`
		MokXDig       []any           `json:"mokxdig"`
		ScrtmAndBios  []struct {
			Scrtm            map[string]string   `json:"scrtm"`
			PlatformFirmware []map[string]string `json:"platform_firmware"`
		} `json:"scrtm_and_bios"`
	} `json:"mb_refstate"`
	RuntimePolicy keylimeRuntimePolicy `json:"runtime_policy"`
}

// exportKeylimeCmd runs mbctl export keylime (cmdExport, as main's run calls it) with predict
// flags args and returns its output.
func exportKeylimeCmd(t *testing.T, args ...string) ([]byte, keylimeOut) {
	t.Helper()
	var out, stderr bytes.Buffer
	if err := cmdExport(append([]string{"keylime"}, args...), &out, &stderr); err != nil {
		t.Fatalf("mbctl export keylime %q = %v\n%s", args, err, stderr.String())
	}
	var got keylimeOut
	dec := json.NewDecoder(bytes.NewReader(out.Bytes()))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&got); err != nil {
		t.Fatalf("export's output is not the JSON expected: %v\n%s", err, out.String())
	}
	return out.Bytes(), got
}

// predictedAggregates returns the boot_aggregate of every bank mbctl predict -all prints for
// args: SHA-1 over PCRs 0-7, the others over 0-9 (the kernel's ima_calc_boot_aggregate).
func predictedAggregates(t *testing.T, args []string) []string {
	t.Helper()
	var out, stderr bytes.Buffer
	if err := run(append([]string{"predict", "-all"}, args...), &out, &stderr); err != nil {
		t.Fatalf("mbctl predict = %v\n%s", err, stderr.String())
	}
	pcrs, err := parsePCRFile(out.Bytes(), 0)
	if err != nil {
		t.Fatal(err)
	}
	var aggs []string
	for _, alg := range []eventlog.Alg{eventlog.AlgSHA1, eventlog.AlgSHA256, eventlog.AlgSHA384, eventlog.AlgSHA512} {
		if pcrs[alg] == nil {
			continue
		}
		h, _ := alg.Hash()
		agg, err := ima.BootAggregate(h, pcrs.Values(alg, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9))
		if err != nil {
			t.Fatal(err)
		}
		aggs = append(aggs, hex.EncodeToString(agg))
	}
	return aggs
}

func sha256Hex(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }

// TestKeylimeExport checks the export against values computed apart from it: the boot_aggregate
// of each bank from the PCRs mbctl predict prints, the files' SHA-256 read back, the command
// line as given.
func TestKeylimeExport(t *testing.T) {
	const cmdline = "console=ttyS0 ro root=/dev/vda2 quiet$ (x)+[y]*"
	dir, args := sealFixture(t, cmdline, "-eventlog", seabiosLog)
	raw, got := exportKeylimeCmd(t, args...)
	kernel, _ := os.ReadFile(filepath.Join(dir, "boot/vmlinuz"))
	initrd, _ := os.ReadFile(filepath.Join(dir, "boot/initrd.img"))

	rp := got.RuntimePolicy
	aggs := predictedAggregates(t, args)
	if len(aggs) != 4 {
		t.Fatalf("predict printed %d banks, want SeaBIOS's 4", len(aggs))
	}
	want := keylimeRuntimePolicy{
		Digests: map[string][]string{
			"boot_aggregate":   aggs,
			"/boot/vmlinuz":    {sha256Hex(kernel)},
			"/boot/initrd.img": {sha256Hex(initrd)},
		},
		Excludes: []string{},
		IMA:      keylimeIMA{IgnoredKeyrings: []string{}, LogHashAlg: "sha1"},
		IMABuf:   map[string][]string{"kexec-cmdline": {sha256Hex([]byte(cmdline))}},
		Keyrings: map[string][]string{},
		Meta:     keylimeMeta{Version: 1, Generator: 0},
	}
	if diff := cmp.Diff(want, rp); diff != "" {
		t.Errorf("runtime policy (-want +got):\n%s", diff)
	}
	// Every digest as keylime's schema wants it: lowercase hex of 40 to 128 digits.
	hexRE := regexp.MustCompile(`^[0-9a-f]{40,128}$`)
	for _, m := range []map[string][]string{rp.Digests, rp.IMABuf} {
		for name, ds := range m {
			for _, d := range ds {
				if !hexRE.MatchString(d) {
					t.Errorf("digest %q of %s is not lowercase hex of 40-128 digits", d, name)
				}
			}
		}
	}

	rs := got.RefState
	wantKernels := []keylimeKernel{{
		VmlinuzPlainSHA256: "0x" + sha256Hex(kernel),
		InitrdPlainSHA256:  "0x" + sha256Hex(initrd),
		KernelCmdline:      regexp.QuoteMeta(cmdline),
	}}
	if diff := cmp.Diff(wantKernels, rs.Kernels); diff != "" {
		t.Errorf("refstate kernels (-want +got):\n%s", diff)
	}
	// The command line as keylime's example policy uses it: a full match of GRUB's event text.
	re := regexp.MustCompile("^(?:kernel_cmdline: " + rs.Kernels[0].KernelCmdline + ")$")
	for _, tc := range []struct {
		text string
		want bool
	}{
		{"kernel_cmdline: " + cmdline, true},
		{"kernel_cmdline: " + cmdline + " init=/bin/sh", false},
		{"kernel_cmdline: console=ttyS0 ro root=/dev/vda2 quiet$ (x)+[y]", false},
		{"kernel_cmdline: console=ttyS0xro root=/dev/vda2 quiet$ (x)+[y]*", false},
	} {
		if got := re.MatchString(tc.text); got != tc.want {
			t.Errorf("kernel_cmdline %q matches %q = %v, want %v", rs.Kernels[0].KernelCmdline, tc.text, got, tc.want)
		}
	}
	// SeaBIOS: no Secure Boot variable, no shim, no S-CRTM event with which to fill scrtm_and_bios.
	if rs.HasSecureBoot == nil || *rs.HasSecureBoot {
		t.Errorf("refstate has_secureboot = %v, want false (SeaBIOS logs no SecureBoot variable)", rs.HasSecureBoot)
	}
	if rs.MokDig == nil || len(rs.MokDig) != 0 {
		t.Errorf("refstate mokdig = %v, want an empty list", rs.MokDig)
	}

	// Keys sorted, 2-space indents: the output is what a canonical encoder makes of it.
	var generic any
	if err := json.Unmarshal(raw, &generic); err != nil {
		t.Fatal(err)
	}
	canon, err := marshalSorted(generic)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(raw, canon) {
		t.Errorf("output is not in sorted-key, 2-space form:\n%s\nwant:\n%s", raw, canon)
	}
	if !bytes.Contains(raw, []byte("\n  \"runtime_policy\": {\n    \"digests\": {")) {
		t.Errorf("output is not indented by 2 spaces:\n%s", raw)
	}

	// Reproducible: a second run gives the same bytes.
	again, _ := exportKeylimeCmd(t, args...)
	if !bytes.Equal(raw, again) {
		t.Errorf("two exports of the same boot differ:\n%s\n---\n%s", raw, again)
	}
}

// TestKeylimeExportCmdline: PCR 8 holds the command line and is in the aggregate, so another
// command line changes every bank's boot_aggregate (SHA-256's; SHA-1's covers only PCRs 0-7),
// the kexec-cmdline digest and the refstate's kernel_cmdline.
func TestKeylimeExportCmdline(t *testing.T) {
	_, a := sealFixture(t, "ro", "-eventlog", seabiosLog)
	_, b := sealFixture(t, "ro quiet", "-eventlog", seabiosLog)
	_, ga := exportKeylimeCmd(t, a...)
	_, gb := exportKeylimeCmd(t, b...)
	aa, ab := ga.RuntimePolicy.Digests["boot_aggregate"], gb.RuntimePolicy.Digests["boot_aggregate"]
	if len(aa) != 4 || len(ab) != 4 {
		t.Fatalf("boot_aggregate lists %v and %v, want 4 banks each", aa, ab)
	}
	if aa[0] != ab[0] {
		t.Errorf("the SHA-1 boot_aggregate (PCRs 0-7) changed with the command line: %s, %s", aa[0], ab[0])
	}
	for i := 1; i < 4; i++ {
		if aa[i] == ab[i] {
			t.Errorf("boot_aggregate %d = %s for both command lines, want them to differ (PCR 8 is in it)", i, aa[i])
		}
	}
	if ga.RuntimePolicy.IMABuf["kexec-cmdline"][0] == gb.RuntimePolicy.IMABuf["kexec-cmdline"][0] {
		t.Error("kexec-cmdline digest did not change with the command line")
	}
	if ka, kb := ga.RefState.Kernels[0].KernelCmdline, gb.RefState.Kernels[0].KernelCmdline; ka != "ro" || kb != "ro quiet" {
		t.Errorf("kernel_cmdline = %q and %q, want \"ro\" and \"ro quiet\"", ka, kb)
	}
}

// TestKeylimeExportFiles: -runtime-policy and -refstate write the two documents, each as it
// appears in the combined output, and nothing goes to standard output.
func TestKeylimeExportFiles(t *testing.T) {
	_, args := sealFixture(t, "ro", "-eventlog", seabiosLog)
	combined, got := exportKeylimeCmd(t, args...)
	out := t.TempDir()
	rpPath, rsPath := filepath.Join(out, "policy.json"), filepath.Join(out, "refstate.json")
	var stdout, stderr bytes.Buffer
	if err := cmdExport(append([]string{"keylime", "-runtime-policy", rpPath, "-refstate", rsPath}, args...), &stdout, &stderr); err != nil {
		t.Fatalf("export with files = %v\n%s", err, stderr.String())
	}
	if stdout.Len() != 0 {
		t.Errorf("export with -runtime-policy and -refstate printed:\n%s", stdout.String())
	}
	var all map[string]json.RawMessage
	if err := json.Unmarshal(combined, &all); err != nil {
		t.Fatal(err)
	}
	for file, key := range map[string]string{rpPath: "runtime_policy", rsPath: "mb_refstate"} {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		var want, have any
		json.Unmarshal(all[key], &want)
		if err := json.Unmarshal(b, &have); err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		if diff := cmp.Diff(want, have); diff != "" {
			t.Errorf("%s differs from the combined output's %s (-want +got):\n%s", filepath.Base(file), key, diff)
		}
	}
	// The runtime policy file is a policy, not wrapped.
	b, _ := os.ReadFile(rpPath)
	var rp keylimeRuntimePolicy
	if err := json.Unmarshal(b, &rp); err != nil || !slices.Equal(rp.Digests["boot_aggregate"], got.RuntimePolicy.Digests["boot_aggregate"]) {
		t.Errorf("runtime policy file = %v, %v; want the boot_aggregate list %v", rp.Digests["boot_aggregate"], err, got.RuntimePolicy.Digests["boot_aggregate"])
	}

	// Only one named: only that one is written.
	only := filepath.Join(out, "only.json")
	if err := cmdExport(append([]string{"keylime", "-refstate", only}, args...), &stdout, &stderr); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(only); err != nil || !bytes.Contains(b, []byte(`"kernels"`)) {
		t.Errorf("-refstate alone wrote %q, %v", b, err)
	}
}

// TestKeylimeExportNoEventlog: without a firmware log the banks are -banks', the firmware PCRs
// zeros, and export says what that assumes; no firmware keys are made up.
func TestKeylimeExportNoEventlog(t *testing.T) {
	_, args := sealFixture(t, "ro")
	var out, stderr bytes.Buffer
	if err := cmdExport(append([]string{"keylime", "-banks", "sha1,sha256"}, args...), &out, &stderr); err != nil {
		t.Fatalf("export = %v\n%s", err, stderr.String())
	}
	if !strings.Contains(stderr.String(), "no -eventlog") {
		t.Errorf("export without -eventlog did not warn:\n%s", stderr.String())
	}
	var got map[string]map[string]any
	if err := json.Unmarshal(out.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	var keys []string
	for k := range got["mb_refstate"] {
		keys = append(keys, k)
	}
	if !slices.Equal(keys, []string{"kernels"}) {
		t.Errorf("refstate keys without -eventlog = %v, want only kernels", keys)
	}
	aggs := got["runtime_policy"]["digests"].(map[string]any)["boot_aggregate"].([]any)
	if want := predictedAggregates(t, append([]string{"-banks", "sha1,sha256"}, args...)); len(aggs) != 2 || aggs[0] != want[0] || aggs[1] != want[1] {
		t.Errorf("boot_aggregate = %v, want %v", aggs, want)
	}
}

// TestKeylimeExportErrors: bad input is one error saying what and where.
func TestKeylimeExportErrors(t *testing.T) {
	dir, args := sealFixture(t, "ro")
	missing := filepath.Join(dir, "boot/initrd-missing.img")
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"no format", nil, "name the verifier's format"},
		{"unknown format", []string{"tpm2"}, `unknown format "tpm2"`},
		{"no kernel", []string{"keylime", "-policy", "../../configs/policy"}, "-policy and -kernel are required"},
		{"unreadable initrd", append(append([]string{"keylime"}, args...), "-initrd", missing), missing},
		{"extra argument", append(append([]string{"keylime"}, args...), "extra"), "unexpected arguments"},
	} {
		var out, stderr bytes.Buffer
		err := cmdExport(tc.args, &out, &stderr)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: mbctl export %q = %v, want an error containing %q", tc.name, tc.args, err, tc.want)
		}
		if out.Len() != 0 {
			t.Errorf("%s: printed output on error:\n%s", tc.name, out.String())
		}
	}
}

// uefiVariableData builds an UEFI_VARIABLE_DATA.
func uefiVariableData(guid [16]byte, name string, data []byte) []byte {
	u := utf16.Encode([]rune(name))
	b := append([]byte{}, guid[:]...)
	b = binary.LittleEndian.AppendUint64(b, uint64(len(u)))
	b = binary.LittleEndian.AppendUint64(b, uint64(len(data)))
	for _, c := range u {
		b = binary.LittleEndian.AppendUint16(b, c)
	}
	return append(b, data...)
}

// TestKeylimeFirmwareRefState reads the firmware keys from a UEFI-like log: the S-CRTM and
// firmware blobs of PCR 0, Secure Boot from PCR 7, shim's MokList digests in PCR 14.
func TestKeylimeFirmwareRefState(t *testing.T) {
	banks := []eventlog.Alg{eventlog.AlgSHA1, eventlog.AlgSHA256}
	l, err := eventlog.New(banks)
	if err != nil {
		t.Fatal(err)
	}
	digestOf := func(b []byte) string { return "0x" + sha256Hex(b) }
	add := func(pcr uint32, typ eventlog.EventType, data []byte) {
		if _, err := l.Append(pcr, typ, data); err != nil {
			t.Fatal(err)
		}
	}
	add(0, eventlog.EvSCRTMVersion, []byte("OVMF\x00"))
	add(0, evEFIPlatformFirmwareBlob, []byte("blob one"))
	add(0, evEFIPlatformFirmwareBlob2, []byte("blob two"))
	add(7, evEFIVariableDriverConfig, uefiVariableData(efiGlobalVariable, "SecureBoot", []byte{1}))
	add(7, evEFIVariableDriverConfig, uefiVariableData(efiGlobalVariable, "PK", []byte("a key")))
	add(14, eventlog.EvIPL, []byte("MokList\x00"))
	add(14, eventlog.EvIPL, []byte("MokListX\x00"))
	got, err := keylimeFirmwareRefState(l)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := marshalSorted(got)
	var have, want any
	json.Unmarshal(b, &have)
	wantJSON := `{
		"has_secureboot": true,
		"mokdig": [{"sha256": "` + digestOf([]byte("MokList\x00")) + `"}],
		"mokxdig": [{"sha256": "` + digestOf([]byte("MokListX\x00")) + `"}],
		"scrtm_and_bios": [{
			"scrtm": {"sha256": "` + digestOf([]byte("OVMF\x00")) + `"},
			"platform_firmware": [{"sha256": "` + digestOf([]byte("blob one")) + `"}, {"sha256": "` + digestOf([]byte("blob two")) + `"}]
		}]
	}`
	if err := json.Unmarshal([]byte(wantJSON), &want); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, have); diff != "" {
		t.Errorf("keylimeFirmwareRefState (-want +got):\n%s", diff)
	}

	// Secure Boot off, and a variable event whose lengths do not add up.
	add(7, evEFIVariableDriverConfig, uefiVariableData(efiGlobalVariable, "SecureBoot", []byte{0}))
	if got, err := keylimeFirmwareRefState(l); err != nil || got["has_secureboot"] != false {
		t.Errorf("after SecureBoot=0: has_secureboot = %v, %v; want false", got["has_secureboot"], err)
	}
	bad := uefiVariableData(efiGlobalVariable, "SecureBoot", []byte{1})
	e, _ := l.Append(7, evEFIVariableDriverConfig, bad[:len(bad)-1])
	if _, err := keylimeFirmwareRefState(l); err == nil || !strings.Contains(err.Error(), "event "+strconv.Itoa(e.Index)) {
		t.Errorf("a truncated UEFI_VARIABLE_DATA = %v, want an error naming event %d", err, e.Index)
	}
}

// TestParseUEFIVariable: lengths must cover the bytes exactly, and never allocate past them.
func TestParseUEFIVariable(t *testing.T) {
	good := uefiVariableData(efiGlobalVariable, "SecureBoot", []byte{1})
	v, err := parseUEFIVariable(good)
	if err != nil || v.Name != "SecureBoot" || !bytes.Equal(v.Data, []byte{1}) || v.GUID != efiGlobalVariable {
		t.Errorf("parseUEFIVariable(good) = %+v, %v", v, err)
	}
	huge := bytes.Clone(good)
	binary.LittleEndian.PutUint64(huge[16:], 1<<62)
	for name, b := range map[string][]byte{
		"short header": good[:20],
		"truncated":    good[:len(good)-1],
		"extra byte":   append(bytes.Clone(good), 0),
		"huge name":    huge,
	} {
		if _, err := parseUEFIVariable(b); err == nil {
			t.Errorf("parseUEFIVariable(%s) succeeded", name)
		}
	}
}
