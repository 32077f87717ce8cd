package main

import (
	"bytes"
	"crypto"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	tpmpb "github.com/google/go-tpm-tools/proto/tpm"
	"github.com/google/go-tpm/tpm2/transport/tcp"
	"google.golang.org/protobuf/encoding/prototext"

	"github.com/measuredboot/measuredboot/internal/swtpmtest"
	"github.com/measuredboot/measuredboot/pkg/eventlog"
	"github.com/measuredboot/measuredboot/pkg/ima"
	"github.com/measuredboot/measuredboot/pkg/tpm"
)

var allBanks = []eventlog.Alg{eventlog.AlgSHA1, eventlog.AlgSHA256, eventlog.AlgSHA384, eventlog.AlgSHA512}

// fixture is a boot as measuredboot records it: firmware events in PCRs 0-7, then IMA entries in
// PCRs 8 and 9, each both an EV_IPL event of the TCG log (data = template data) and a record of
// every bank's IMA list. pcrs are what a TPM holds afterwards, computed here by extending
// (PCR = H(PCR || digest)), not by the packages under test.
type fixture struct {
	banks   []eventlog.Alg
	log     *eventlog.Log
	entries []ima.Entry
	pcrs    eventlog.PCRs
}

func hashOf(t testing.TB, alg eventlog.Alg, data []byte) []byte {
	t.Helper()
	h, ok := alg.Hash()
	if !ok {
		t.Fatalf("no hash for %v", alg)
	}
	hh := h.New()
	hh.Write(data)
	return hh.Sum(nil)
}

func (f *fixture) extend(t testing.TB, alg eventlog.Alg, pcr uint32, d []byte) {
	t.Helper()
	if f.pcrs[alg] == nil {
		f.pcrs[alg] = map[uint32][]byte{}
	}
	old, ok := f.pcrs[alg][pcr]
	if !ok {
		old = make([]byte, alg.Size())
	}
	f.pcrs[alg][pcr] = hashOf(t, alg, append(bytes.Clone(old), d...))
}

func newFixture(t testing.TB, banks []eventlog.Alg, firmware bool) *fixture {
	t.Helper()
	l, err := eventlog.New(banks)
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{banks: banks, log: l, pcrs: eventlog.PCRs{}}
	if firmware {
		for pcr := uint32(0); pcr < 8; pcr++ {
			data := []byte{0, 0, 0, 0}
			typ := eventlog.EvSeparator
			if pcr == 0 {
				data, typ = []byte("SeaBIOS"), eventlog.EvSCRTMVersion
			}
			if _, err := l.Append(pcr, typ, data); err != nil {
				t.Fatal(err)
			}
			for _, b := range banks {
				f.extend(t, b, pcr, hashOf(t, b, data))
			}
		}
	}
	kernel := sha256.Sum256([]byte("kernel image"))
	initrd := sha256.Sum256([]byte("initramfs"))
	policy := sha256.Sum256([]byte("measure func=KEXEC_KERNEL_CHECK pcr=9\n"))
	for _, mk := range []func() (ima.Entry, error){
		func() (ima.Entry, error) {
			return ima.NewNG(9, crypto.SHA256, policy[:], "/etc/measuredboot/policy")
		},
		func() (ima.Entry, error) {
			return ima.NewNG(9, crypto.SHA256, kernel[:], "/boot/vmlinuz-6.1.0-56-cloud-amd64")
		},
		func() (ima.Entry, error) {
			return ima.NewNG(9, crypto.SHA256, initrd[:], "/boot/initrd.img-6.1.0-56-cloud-amd64")
		},
		func() (ima.Entry, error) {
			return ima.NewBuf(8, crypto.SHA256, []byte("console=ttyS0 measuredboot.demo=1"), "kexec-cmdline")
		},
	} {
		e, err := mk()
		if err != nil {
			t.Fatal(err)
		}
		f.add(t, e)
	}
	return f
}

// add records e as measuredboot does: one EV_IPL event with every bank's hash of the template
// data, extended into the PCR.
func (f *fixture) add(t testing.TB, e ima.Entry) {
	t.Helper()
	td := e.TemplateData()
	var ds []eventlog.Digest
	for _, b := range f.banks {
		d := hashOf(t, b, td)
		ds = append(ds, eventlog.Digest{Alg: b, Sum: d})
		f.extend(t, b, e.PCR, d)
	}
	if _, err := f.log.AppendDigests(e.PCR, eventlog.EvIPL, ds, td); err != nil {
		t.Fatal(err)
	}
	f.entries = append(f.entries, e)
}

// imaList returns the binary IMA list of bank alg.
func (f *fixture) imaList(t testing.TB, alg eventlog.Alg) []byte {
	t.Helper()
	h, _ := alg.Hash()
	var b []byte
	for _, e := range f.entries {
		var err error
		if b, err = e.AppendBinary(b, h); err != nil {
			t.Fatal(err)
		}
	}
	return b
}

// pcrYAML prints pcrs as tpm2_pcrread does: "  sha256:" then "    9 : 0xHEX" (upper case).
func pcrYAML(pcrs eventlog.PCRs) []byte {
	var s strings.Builder
	for _, b := range allBanks {
		vals, ok := pcrs[b]
		if !ok {
			continue
		}
		fmt.Fprintf(&s, "  %v:\n", b)
		for _, p := range sortedPCRs(vals) {
			fmt.Fprintf(&s, "    %-2d: 0x%X\n", p, vals[p])
		}
	}
	return []byte(s.String())
}

func writeFile(t testing.TB, dir, name string, b []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func clonePCRs(p eventlog.PCRs) eventlog.PCRs {
	out := eventlog.PCRs{}
	for b, vals := range p {
		out[b] = map[uint32][]byte{}
		for i, v := range vals {
			out[b][i] = bytes.Clone(v)
		}
	}
	return out
}

func TestVerify(t *testing.T) {
	f := newFixture(t, allBanks, true)
	dir := t.TempDir()
	tcgLog, err := f.log.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	tcgFile := writeFile(t, dir, "tcg.log", tcgLog)
	list := f.imaList(t, eventlog.AlgSHA256)
	imaFile := writeFile(t, dir, "binary_runtime_measurements_sha256", list)
	writeFile(t, dir, "binary_runtime_measurements_sha384", f.imaList(t, eventlog.AlgSHA384))
	pcrFile := writeFile(t, dir, "pcrs.yaml", pcrYAML(f.pcrs))

	// One PCR value changed.
	changed := clonePCRs(f.pcrs)
	changed[eventlog.AlgSHA384][9][0] ^= 0xff
	changedFile := writeFile(t, dir, "changed.yaml", pcrYAML(changed))
	// Only the SHA-256 bank, in "sha256:9=HEX" lines.
	var simple strings.Builder
	for _, p := range sortedPCRs(f.pcrs[eventlog.AlgSHA256]) {
		fmt.Fprintf(&simple, "sha256:%d=%x\n", p, f.pcrs[eventlog.AlgSHA256][p])
	}
	simpleFile := writeFile(t, dir, "simple.txt", []byte(simple.String()))
	// SHA-256 without PCR 9.
	noPCR9 := clonePCRs(f.pcrs)
	delete(noPCR9[eventlog.AlgSHA256], 9)
	noPCR9File := writeFile(t, dir, "no9.yaml", pcrYAML(noPCR9))

	// Entry 2 (the initramfs) with a byte of its template data changed, its digest kept.
	tampered := bytes.Clone(list)
	entries, err := ima.ParseBinaryList(tampered, 32)
	if err != nil {
		t.Fatal(err)
	}
	entries[2].Data[len(entries[2].Data)-3] ^= 0x20 // a letter of the file name
	tamperedFile := writeFile(t, dir, "tampered_ima", tampered)

	// The TCG log with the data of event 10 (the kernel's EV_IPL) changed, digests kept.
	badLog, err := eventlog.Parse(tcgLog)
	if err != nil {
		t.Fatal(err)
	}
	badLog.Events[9].Data[len(badLog.Events[9].Data)-3] ^= 0x20
	badTCG, err := badLog.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	badTCGFile := writeFile(t, dir, "bad_tcg.log", badTCG)

	// The TCG log with the initramfs event's SHA-256 digest replaced: the replay goes wrong there.
	swapped, _ := eventlog.Parse(tcgLog)
	for i := range swapped.Events[10].Digests {
		if swapped.Events[10].Digests[i].Alg == eventlog.AlgSHA256 {
			swapped.Events[10].Digests[i].Sum = make([]byte, 32)
		}
	}
	swappedTCG, err := swapped.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	swappedFile := writeFile(t, dir, "swapped_tcg.log", swappedTCG)

	// An IMA list with one entry more than the TCG log holds.
	extra, err := ima.NewBuf(9, crypto.SHA256, []byte("x"), "measuredboot.extra")
	if err != nil {
		t.Fatal(err)
	}
	extraList, err := extra.AppendBinary(bytes.Clone(list), crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	extraFile := writeFile(t, dir, "extra_ima", extraList)

	// IMA lists that leave out or reorder entries the TCG log records: the kernel's entry (1 of
	// 0-3: policy, kernel, initramfs, cmdline) dropped; the last PCR 9 entry (the initramfs's)
	// dropped; the kernel's and the initramfs's entries swapped.
	var omitted, lastOmitted, swappedList []byte
	for i, e := range f.entries {
		h := crypto.SHA256
		if i != 1 {
			if omitted, err = e.AppendBinary(omitted, h); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, i := range []int{0, 1, 3} {
		if lastOmitted, err = f.entries[i].AppendBinary(lastOmitted, crypto.SHA256); err != nil {
			t.Fatal(err)
		}
	}
	for _, i := range []int{0, 2, 1, 3} {
		if swappedList, err = f.entries[i].AppendBinary(swappedList, crypto.SHA256); err != nil {
			t.Fatal(err)
		}
	}
	omittedFile := writeFile(t, dir, "omitted_ima", omitted)
	lastOmittedFile := writeFile(t, dir, "last_omitted_ima", lastOmitted)
	swappedListFile := writeFile(t, dir, "swapped_ima", swappedList)

	for _, tc := range []struct {
		name    string
		args    []string
		want    []string // each in the error; none means success
		wantOut []string // each in stdout
	}{
		{"tcg and ima", []string{"-tcg", tcgFile, "-ima", imaFile, "-pcrs", pcrFile}, nil,
			[]string{"tcg sha384 pcr  9 match", "ima sha256 pcr  9 match: IMA entries 0,1,2 = tcg events 9,10,11, one for one and in order", "ima sha256 pcr  8 match", "OK:"}},
		{"tcg alone", []string{"-tcg", tcgFile, "-pcrs", pcrFile}, nil, []string{"tcg sha1   pcr  0 match", "tcg sha512 pcr  9 match"}},
		{"ima alone", []string{"-ima", imaFile, "-pcrs", pcrFile}, nil, []string{"ima sha256 pcr  9 match", "replayed from the IMA list alone"}},
		{"ima sha384 list", []string{"-ima", filepath.Join(dir, "binary_runtime_measurements_sha384"), "-bank", "sha384", "-pcrs", pcrFile}, nil, []string{"ima sha384 pcr  8 match"}},
		// A bank of the log that the PCR values lack is a failure, unless left out by name.
		{"sha256 values only, simple lines", []string{"-tcg", tcgFile, "-ima", imaFile, "-pcrs", simpleFile},
			[]string{"sha1: the log has this bank and " + simpleFile + " has no sha1 values", "-skip-banks sha384", "-skip-banks sha512"},
			[]string{"sha1   NOT CHECKED: " + simpleFile + " has no sha1 values", "tcg sha256 pcr  9 match"}},
		{"sha256 values only, the others left out", []string{"-tcg", tcgFile, "-ima", imaFile, "-pcrs", simpleFile, "-skip-banks", "sha1,sha384,sha512"}, nil,
			[]string{"sha1   not checked: left out with -skip-banks", "tcg sha256 pcr  9 match", "OK:"}},
		{"one bank left out, the others not there", []string{"-tcg", tcgFile, "-pcrs", simpleFile, "-skip-banks", "sha1"},
			[]string{"sha384: the log has this bank"}, nil},
		// The IMA list must hold every template event of the TCG log for its PCRs, in order.
		{"ima entry omitted", []string{"-tcg", tcgFile, "-ima", omittedFile, "-pcrs", pcrFile},
			[]string{"ima sha256 PCR 9: the IMA list and the TCG log part at position 1", `ima entry 1 (ima-ng "/boot/initrd.img-6.1.0-56-cloud-amd64"`,
				`tcg event 10 (EV_IPL, PCR 9, "/boot/vmlinuz-6.1.0-56-cloud-amd64")`, "missing, extra or out of order"}, nil},
		{"ima last entry omitted", []string{"-tcg", tcgFile, "-ima", lastOmittedFile, "-pcrs", pcrFile},
			[]string{`ima sha256 PCR 9: tcg event 11 (EV_IPL, PCR 9, "/boot/initrd.img-6.1.0-56-cloud-amd64") (and 0 more after it) has no entry in the IMA list`}, nil},
		{"ima entries swapped", []string{"-tcg", tcgFile, "-ima", swappedListFile, "-pcrs", pcrFile},
			[]string{"ima sha256 PCR 9: the IMA list and the TCG log part at position 1", "out of order"}, nil},
		{"changed PCR", []string{"-tcg", tcgFile, "-ima", imaFile, "-pcrs", changedFile},
			[]string{"tcg sha384 PCR 9 MISMATCH", "the last one for PCR 9"}, []string{"tcg sha384 pcr  9 MISMATCH want=", "tcg sha384 pcr  8 match"}},
		{"changed PCR, ima alone", []string{"-ima", filepath.Join(dir, "binary_runtime_measurements_sha384"), "-bank", "sha384", "-pcrs", changedFile},
			[]string{"ima sha384 PCR 9 MISMATCH", "give the TCG log with -tcg"}, nil},
		{"missing PCR", []string{"-tcg", tcgFile, "-pcrs", noPCR9File}, []string{"tcg sha256 PCR 9: " + noPCR9File + " has no value for it"}, nil},
		{"tampered template data", []string{"-tcg", tcgFile, "-ima", tamperedFile, "-pcrs", pcrFile},
			[]string{`ima entry 2 (ima-ng "/boot/initrd.img-6.1.0-56-cloud-amd`, "does not match its template data, which hashes to"}, []string{"ima sha256 pcr  9 match"}},
		{"tampered template data, ima alone", []string{"-ima", tamperedFile, "-pcrs", pcrFile}, []string{"ima entry 2 (ima-ng"}, nil},
		{"tampered tcg event data", []string{"-tcg", badTCGFile, "-pcrs", pcrFile},
			[]string{`tcg event 10 (EV_IPL, PCR 9, "/boot/vmlinuz-6.1.0-56-cloud-amd`, "is not the hash of its data"}, []string{"tcg sha256 pcr  9 match"}},
		{"tcg digest replaced", []string{"-tcg", swappedFile, "-pcrs", pcrFile},
			[]string{"tcg sha256 PCR 9 MISMATCH", `first bad event: tcg event 11 (EV_IPL, PCR 9, "/boot/initrd.img`}, []string{"tcg sha1   pcr  9 match"}},
		{"ima entry not in tcg log", []string{"-tcg", tcgFile, "-ima", extraFile, "-pcrs", pcrFile},
			[]string{`ima sha256 PCR 9: ima entry 4 (ima-buf "measuredboot.extra", PCR 9)`, "after event 11"}, nil},
		{"wrong bank for list", []string{"-ima", imaFile, "-bank", "sha1", "-pcrs", pcrFile}, []string{"as a binary sha1 list", "ima: binary measurement list"}, nil},
		{"unknown bank", []string{"-ima", imaFile, "-bank", "md5", "-pcrs", pcrFile}, []string{`-bank "md5"`}, nil},
		{"no PCR values for any bank", []string{"-ima", filepath.Join(dir, "binary_runtime_measurements_sha384"), "-bank", "sha384", "-pcrs", simpleFile, "-skip-banks", "sha384"},
			[]string{"nothing was compared"}, nil},
		{"no PCR values for the list's bank", []string{"-ima", filepath.Join(dir, "binary_runtime_measurements_sha384"), "-bank", "sha384", "-pcrs", simpleFile},
			[]string{"sha384: the log has this bank"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			err := cmdVerify(tc.args, &out, &out)
			if len(tc.want) == 0 && err != nil {
				t.Fatalf("cmdVerify(%q) = %v, want nil; output:\n%s", tc.args, err, out.String())
			}
			if len(tc.want) > 0 {
				var ve *verifyError
				if !errors.As(err, &ve) {
					t.Fatalf("cmdVerify(%q) = %v, want a *verifyError; output:\n%s", tc.args, err, out.String())
				}
				for _, w := range tc.want {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("cmdVerify(%q) = %v, want %q in it", tc.args, err, w)
					}
				}
				if !strings.Contains(out.String(), "FAIL:") {
					t.Errorf("cmdVerify(%q) printed no FAIL line:\n%s", tc.args, out.String())
				}
			}
			for _, w := range tc.wantOut {
				if !strings.Contains(out.String(), w) {
					t.Errorf("cmdVerify(%q) printed\n%s\nwant %q in it", tc.args, out.String(), w)
				}
			}
		})
	}
}

// TestVerifyViolation: a violation entry replays as 0xFF, so the PCR matches, but the entry is
// reported: its file is not vouched for.
func TestVerifyViolation(t *testing.T) {
	f := newFixture(t, []eventlog.Alg{eventlog.AlgSHA256}, false)
	list := f.imaList(t, eventlog.AlgSHA256)
	v := f.entries[0]
	v.PCR = 10
	rec, err := v.AppendBinary(nil, crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	copy(rec[4:36], make([]byte, 32)) // the template digest, zeroed as the kernel records a violation
	list = append(list, rec...)
	f.extend(t, eventlog.AlgSHA256, 10, bytes.Repeat([]byte{0xff}, 32))
	dir := t.TempDir()
	args := []string{"-ima", writeFile(t, dir, "ima", list), "-pcrs", writeFile(t, dir, "pcrs", pcrYAML(f.pcrs))}
	var out bytes.Buffer
	err = cmdVerify(args, &out, &out)
	if err == nil || !strings.Contains(err.Error(), "ima entry 4") || !strings.Contains(err.Error(), "violation") {
		t.Errorf("cmdVerify(%q) = %v, want an error naming entry 4 as a violation", args, err)
	}
	if !strings.Contains(out.String(), "ima sha256 pcr 10 match") {
		t.Errorf("cmdVerify(%q) printed\n%s\nwant PCR 10 to match", args, out.String())
	}
}

// TestVerifyLinux verifies what a real kernel and SeaBIOS left in one boot (pkg/ima/testdata):
// the firmware's TCG log, the kernel's classic SHA-1 IMA list (PCR 10, not in the TCG log) and its
// boot_aggregate over the SHA-256 bank's PCRs 0-9.
func TestVerifyLinux(t *testing.T) {
	const td = "../../pkg/ima/testdata/"
	pcrs := td + "linux-6.1-swtpm.pcrs"
	args := []string{"-tcg", td + "linux-6.1-swtpm.bios.bin", "-ima", td + "linux-6.1-swtpm.ima.bin", "-bank", "sha1", "-pcrs", pcrs}
	var out bytes.Buffer
	if err := cmdVerify(args, &out, &out); err != nil {
		t.Fatalf("cmdVerify(%q) = %v, want nil; output:\n%s", args, err, out.String())
	}
	for _, w := range []string{"ima boot_aggregate match sha256:be689909e636e7ab", "ima sha1   pcr 10 match 506523555f7e2878", "tcg sha512 pcr  7 match"} {
		if !strings.Contains(out.String(), w) {
			t.Errorf("cmdVerify(%q) printed\n%s\nwant %q in it", args, out.String(), w)
		}
	}

	// PCR 0 changed: the firmware replay and the boot_aggregate both fail.
	b, err := os.ReadFile(pcrs)
	if err != nil {
		t.Fatal(err)
	}
	changed := strings.Replace(string(b), "sha256 0 e21b", "sha256 0 f21b", 1)
	args[len(args)-1] = writeFile(t, t.TempDir(), "pcrs", []byte(changed))
	out.Reset()
	err = cmdVerify(args, &out, &out)
	for _, w := range []string{"tcg sha256 PCR 0 MISMATCH", "ima entry 0 (boot_aggregate): the list records sha256:be689909"} {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("cmdVerify(PCR 0 changed) = %v, want %q in it", err, w)
		}
	}
}

// TestVerifyLinuxASCII verifies the kernel's ASCII lists of two real boots (pkg/ima/testdata):
// the ima-sig one and the legacy ima template one, each with its boot's firmware log and PCRs.
// The list's format and bank come from its content; a -bank that disagrees, a changed line, and
// a line from another list each fail.
func TestVerifyLinuxASCII(t *testing.T) {
	const td = "../../pkg/ima/testdata/"
	for _, tc := range []struct{ boot, aggregate, pcr10, bank string }{
		{"linux-6.1-swtpm", "ima boot_aggregate match sha256:be689909e636e7ab", "ima sha1   pcr 10 match 506523555f7e2878", "sha256"},
		{"linux-6.1-swtpm-imatemplate", "ima boot_aggregate match sha1:cc4d1812542d038d414a869ecbcb6213b3840b7e (sha1 PCRs 0-7)", "ima sha1   pcr 10 match 9486c35982b157f2", "sha1"},
	} {
		t.Run(tc.boot, func(t *testing.T) {
			pcrs, asc := td+tc.boot+".pcrs", td+tc.boot+".ima.ascii"
			args := []string{"-tcg", td + tc.boot + ".bios.bin", "-ima", asc, "-pcrs", pcrs}
			var out bytes.Buffer
			if err := cmdVerify(args, &out, &out); err != nil {
				t.Fatalf("cmdVerify(%q) = %v, want nil; output:\n%s", args, err, out.String())
			}
			for _, w := range []string{"ASCII list, 2 entries, sha1 template digests", tc.aggregate, tc.pcr10} {
				if !strings.Contains(out.String(), w) {
					t.Errorf("cmdVerify(%q) printed\n%s\nwant %q in it", args, out.String(), w)
				}
			}
			out.Reset()
			if err := cmdVerify(append(slices.Clone(args), "-bank", "sha256"), &out, &out); err == nil || !strings.Contains(err.Error(), "not sha256 as -bank says") {
				t.Errorf("cmdVerify(-bank sha256 on a SHA-1 ASCII list) = %v", err)
			}
			b, err := os.ReadFile(asc)
			if err != nil {
				t.Fatal(err)
			}
			lines := strings.SplitAfter(string(b), "\n")
			// The kernel_version line's buffer changed (one digit of the version): its template
			// digest no longer covers it (the replay uses the listed digests, so PCR 10 still does).
			changed := strings.Join(lines[:1], "") + strings.Replace(lines[1], "2d35", "2d36", 1)
			args[3] = writeFile(t, t.TempDir(), "ascii", []byte(changed))
			out.Reset()
			err = cmdVerify(args, &out, &out)
			for _, w := range []string{"ima entry 1 (ima-buf \"kernel_version\", PCR 10): its sha1 template digest", "does not match its template data"} {
				if err == nil || !strings.Contains(err.Error(), w) {
					t.Errorf("cmdVerify(changed kernel_version line) = %v, want %q in it", err, w)
				}
			}
			// The other boot's boot_aggregate line in place of this one's: both aggregates are
			// over the same firmware's PCRs, so each matches the PCRs; the entry does not replay
			// to this boot's PCR 10.
			other := "linux-6.1-swtpm-imatemplate"
			if tc.boot == other {
				other = "linux-6.1-swtpm"
			}
			ob, err := os.ReadFile(td + other + ".ima.ascii")
			if err != nil {
				t.Fatal(err)
			}
			swapped := strings.SplitAfter(string(ob), "\n")[0] + lines[1]
			args[3] = writeFile(t, t.TempDir(), "ascii", []byte(swapped))
			out.Reset()
			if err := cmdVerify(args, &out, &out); err == nil || !strings.Contains(err.Error(), "ima sha1 PCR 10 MISMATCH") {
				t.Errorf("cmdVerify(another boot's boot_aggregate) = %v, want PCR 10 not to replay", err)
			}
			// PCR 0 of the aggregate's bank changed: the boot_aggregate no longer matches.
			pb, err := os.ReadFile(pcrs)
			if err != nil {
				t.Fatal(err)
			}
			var pl []string
			for _, line := range strings.Split(string(pb), "\n") {
				if strings.HasPrefix(line, tc.bank+" 0 ") {
					line = tc.bank + " 0 " + strings.Repeat("ab", len(line[len(tc.bank)+3:])/2)
				}
				pl = append(pl, line)
			}
			args[3], args[5] = asc, writeFile(t, t.TempDir(), "pcrs", []byte(strings.Join(pl, "\n")))
			out.Reset()
			if err := cmdVerify(args, &out, &out); err == nil || !strings.Contains(err.Error(), "ima entry 0 (boot_aggregate): the list records") {
				t.Errorf("cmdVerify(%s PCR 0 changed) = %v, want the boot_aggregate named", tc.bank, err)
			}
		})
	}
}

// TestVerifyPaddedSHA1 rebuilds the SHA-384 list that kernel would have written: it could not
// hash SHA-384 when IMA started, so it extended the SHA-1 template digests padded with zeros. The
// replay matches the real PCR 10, and every entry is reported: SHA-384 does not cover its data.
func TestVerifyPaddedSHA1(t *testing.T) {
	const td = "../../pkg/ima/testdata/"
	b, err := os.ReadFile(td + "linux-6.1-swtpm.ima.bin")
	if err != nil {
		t.Fatal(err)
	}
	list, err := ima.ParseBinaryList(b, 20)
	if err != nil {
		t.Fatal(err)
	}
	var padded []byte
	for _, e := range list {
		e.Digest = append(bytes.Clone(e.Digest), make([]byte, 48-20)...)
		padded = e.AppendBinary(padded)
	}
	args := []string{"-ima", writeFile(t, t.TempDir(), "ima384", padded), "-bank", "sha384", "-pcrs", td + "linux-6.1-swtpm.pcrs"}
	var out bytes.Buffer
	err = cmdVerify(args, &out, &out)
	for _, w := range []string{`ima entry 0 (ima-sig "boot_aggregate", PCR 10): its sha384 template digest is the SHA-1 one padded with zeros`, "ima entry 1 (ima-buf"} {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("cmdVerify(%q) = %v, want %q in it", args, err, w)
		}
	}
	if !strings.Contains(out.String(), "ima sha384 pcr 10 match") {
		t.Errorf("cmdVerify(%q) printed\n%s\nwant PCR 10 to match", args, out.String())
	}
}

func TestVerifyUsage(t *testing.T) {
	for _, args := range [][]string{
		{},
		{"-pcrs", "x"},
		{"-tcg", "x"},
		{"-tcg", "x", "-pcrs", "y", "-swtpm", "127.0.0.1:1"},
		{"-tcg", "x", "-pcrs", "y", "extra"},
	} {
		var out bytes.Buffer
		if err := cmdVerify(args, &out, &out); err == nil || !strings.Contains(err.Error(), "usage: mbctl verify") {
			t.Errorf("cmdVerify(%q) = %v, want the usage", args, err)
		}
	}
	var out bytes.Buffer
	if err := cmdVerify([]string{"-tcg", "x", "-swtpm", "127.0.0.1"}, &out, &out); err == nil || !strings.Contains(err.Error(), "HOST:PORT") {
		t.Errorf("cmdVerify(-swtpm without port) = %v, want HOST:PORT in it", err)
	}
}

// TestParsePCRFile reads what tpm2_pcrread printed for a swtpm whose PCR 9 was extended with
// tpm2_pcrextend 9:sha1=a9993e36...,sha256=ba7816bf... (the digests of "abc"); the values were
// checked with Python's hashlib: sha1(bytes(20) + d).hexdigest(), sha256(bytes(32) + d).hexdigest().
func TestParsePCRFile(t *testing.T) {
	b, err := os.ReadFile("testdata/tpm2_pcrread.yaml")
	if err != nil {
		t.Fatal(err)
	}
	got, err := parsePCRFile(b, 0)
	if err != nil {
		t.Fatalf("parsePCRFile(testdata/tpm2_pcrread.yaml) = %v", err)
	}
	for _, tc := range []struct {
		alg  eventlog.Alg
		pcr  uint32
		want string
	}{
		{eventlog.AlgSHA1, 9, "ccd5bd41458de644ac34a2478b58ff819bef5acf"},
		{eventlog.AlgSHA256, 9, "589f9ffed4c477966bfb8d41f37895b08c69047df8f911d6f3b57fbe08faee8d"},
		{eventlog.AlgSHA256, 17, strings.Repeat("ff", 32)},
		{eventlog.AlgSHA512, 23, strings.Repeat("00", 64)},
	} {
		if v := fmt.Sprintf("%x", got[tc.alg][tc.pcr]); v != tc.want {
			t.Errorf("parsePCRFile(tpm2_pcrread.yaml)[%v][%d] = %s, want %s", tc.alg, tc.pcr, v, tc.want)
		}
	}
	for _, a := range allBanks {
		if len(got[a]) != 24 {
			t.Errorf("parsePCRFile(tpm2_pcrread.yaml)[%v] has %d PCRs, want 24", a, len(got[a]))
		}
	}

	zero1 := strings.Repeat("00", 20)
	for _, tc := range []struct {
		in, want string
	}{
		{"sha1:0=" + zero1 + "\n# comment\n\nsha1 1 0x" + zero1 + "\n", ""},
		{"  sha1:\n    0 : 0x" + zero1 + "\n  sha256:\n", ""},
		{"    0 : 0x" + zero1 + "\n", "line 1: \"    0 : 0x" + zero1 + "\": a PCR value before any bank"},
		{"  md5:\n", "line 1: unknown PCR bank \"md5\""},
		{"sha1:24=" + zero1, "line 1: PCR 24: want 0-23"},
		{"sha1:0=00", "line 1: sha1 PCR 0 value has 2 hex digits, want 40"},
		{"sha1:0=" + zero1 + "\nsha1:0=" + strings.Repeat("11", 20), "line 2: sha1 PCR 0 given twice"},
		{"hello", "line 1: \"hello\": want tpm2_pcrread or gotpm output"},
		{"# nothing\n", "no PCR values"},
	} {
		_, err := parsePCRFile([]byte(tc.in), 0)
		if tc.want == "" {
			if err != nil {
				t.Errorf("parsePCRFile(%q) = %v, want nil", tc.in, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("parsePCRFile(%q) = %v, want %q", tc.in, err, tc.want)
		}
	}
}

// FuzzParsePCRFile: a PCR file is untrusted input; parsePCRFile must not panic, and what it
// accepts holds only PCRs 0-23 with values of their bank's size.
func FuzzParsePCRFile(f *testing.F) {
	if b, err := os.ReadFile("testdata/tpm2_pcrread.yaml"); err == nil {
		f.Add(b)
	}
	f.Add([]byte("sha256:9=" + strings.Repeat("ab", 32) + "\nsha1 10 0x" + strings.Repeat("00", 20) + "\n# c\n"))
	f.Add([]byte("hash: SHA1\npcrs: {\n  key: 7\n  value: \"\\x01\\002" + strings.Repeat("a", 18) + "\"\n}\n"))
	f.Add([]byte(`{"hash": "SHA1", "pcrs": {"7": "` + base64.StdEncoding.EncodeToString(make([]byte, 20)) + `"}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		pcrs, err := parsePCRFile(b, 0)
		if err != nil {
			return
		}
		for alg, vals := range pcrs {
			for p, v := range vals {
				if p >= eventlog.NumPCRs || len(v) != alg.Size() {
					t.Fatalf("parsePCRFile accepted %v PCR %d with %d bytes", alg, p, len(v))
				}
			}
		}
	})
}

// TestParsePCRFormats: the PCR formats of go-tpm-tools (gotpm read pcr's text, the PCRs message as
// protojson) and a plain "N: HEX" list with its bank given, to the same values.
func TestParsePCRFormats(t *testing.T) {
	v9 := bytes.Repeat([]byte{0xab}, 32)
	v1 := bytes.Repeat([]byte{0x11}, 20)
	want := eventlog.PCRs{eventlog.AlgSHA256: {0: make([]byte, 32), 9: v9}}
	for _, tc := range []struct {
		name, in string
		bank     eventlog.Alg
		want     eventlog.PCRs
		err      string
	}{
		// internal.FormatPCRs in go-tpm-tools: "%v:\n" of the hash enum, then "  %2d: 0x%X".
		{"gotpm read pcr", "SHA256:\n   0: 0x" + strings.Repeat("00", 32) + "\n   9: 0x" + strings.ToUpper(hex.EncodeToString(v9)) + "\n", 0, want, ""},
		{"plain list with -pcrs-bank", "0: " + strings.Repeat("00", 32) + "\n9: " + hex.EncodeToString(v9) + "\n", eventlog.AlgSHA256, want, ""},
		{"plain list without a bank", "9: " + hex.EncodeToString(v9) + "\n", 0, nil, "name its bank with -pcrs-bank"},
		{"go-tpm-tools JSON", `{"hash": "SHA256", "pcrs": {"0": "` + base64.StdEncoding.EncodeToString(make([]byte, 32)) + `", "9": "` + base64.StdEncoding.EncodeToString(v9) + `"}}`, 0, want, ""},
		{"go-tpm-tools JSON list, hash as a number", `[{"hash": 4, "pcrs": {"7": "` + base64.StdEncoding.EncodeToString(v1) + `"}}]`, 0,
			eventlog.PCRs{eventlog.AlgSHA1: {7: v1}}, ""},
		{"go-tpm-tools JSON, short value", `{"hash": "SHA256", "pcrs": {"9": "qqo="}}`, 0, nil, "want 32 bytes in base64"},
		{"go-tpm-tools JSON, PCR 24", `{"hash": "SHA1", "pcrs": {"24": "` + base64.StdEncoding.EncodeToString(v1) + `"}}`, 0, nil, "want 0-23"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parsePCRFile([]byte(tc.in), tc.bank)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("parsePCRFile(%q) = %v, want an error with %q", tc.in, err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("parsePCRFile(%q) = %v", tc.in, err)
			}
			for alg, vals := range tc.want {
				for p, v := range vals {
					if !bytes.Equal(got[alg][p], v) {
						t.Errorf("parsePCRFile(%q)[%v][%d] = %x, want %x", tc.in, alg, p, got[alg][p], v)
					}
				}
			}
		})
	}
}

// startSWTPM starts swtpm on loopback TCP ports P (commands) and P+1 (control), already started
// (startup-clear), and stops it by its PID when the test ends (internal/swtpmtest).
func startSWTPM(t *testing.T) string { return swtpmtest.Start(t, "") }

// TestVerifySWTPM extends a real software TPM through pkg/tpm over go-tpm's TCP transport, as
// measuredboot does at boot, and verifies the logs against the PCRs read back with -swtpm.
func TestVerifySWTPM(t *testing.T) {
	addr := startSWTPM(t)
	host, port, _ := net.SplitHostPort(addr)
	n, _ := strconv.Atoi(port)
	conn, err := tcp.Open(tcp.Config{CommandAddress: addr, PlatformAddress: net.JoinHostPort(host, strconv.Itoa(n+1))})
	if err != nil {
		t.Fatal(err)
	}
	dev := tpm.New(conn)
	banks, err := dev.Banks()
	if err != nil {
		conn.Close()
		t.Fatal(err)
	}
	f := newFixture(t, banks, false)
	for _, ev := range f.log.Events {
		if err := dev.Extend(ev.PCR, ev.Digests); err != nil {
			conn.Close()
			t.Fatal(err)
		}
	}
	conn.Close() // swtpm serves one connection at a time

	dir := t.TempDir()
	tcgLog, err := f.log.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	args := []string{"-tcg", writeFile(t, dir, "tcg.log", tcgLog), "-ima", writeFile(t, dir, "ima", f.imaList(t, eventlog.AlgSHA256)), "-swtpm", addr}
	var out bytes.Buffer
	if err := cmdVerify(args, &out, &out); err != nil {
		t.Fatalf("cmdVerify(%q) = %v, want nil; output:\n%s", args, err, out.String())
	}
	if want := "PCR values from swtpm " + addr; !strings.Contains(out.String(), want) {
		t.Errorf("cmdVerify(%q) printed\n%s\nwant %q", args, out.String(), want)
	}
	t.Logf("mbctl verify %s:\n%s", strings.Join(args, " "), out.String())

	// One more extend the logs do not know of: PCR 9 no longer matches in any bank.
	conn, err = tcp.Open(tcp.Config{CommandAddress: addr, PlatformAddress: net.JoinHostPort(host, strconv.Itoa(n+1))})
	if err != nil {
		t.Fatal(err)
	}
	var ds []eventlog.Digest
	for _, b := range banks {
		ds = append(ds, eventlog.Digest{Alg: b, Sum: hashOf(t, b, []byte("unlogged"))})
	}
	err = tpm.New(conn).Extend(9, ds)
	conn.Close()
	if err != nil {
		t.Fatal(err)
	}
	out.Reset()
	err = cmdVerify(args, &out, &out)
	if err == nil || !strings.Contains(err.Error(), "tcg sha256 PCR 9 MISMATCH") {
		t.Errorf("cmdVerify(after an unlogged extend) = %v, want a sha256 PCR 9 mismatch; output:\n%s", err, out.String())
	}
}

// BenchmarkVerify verifies a TCG log and an IMA list of about 10 MB each (30,000 measurements in
// PCR 9, 4 banks) against the PCR values: the digest checks, the replay and the cross-check are
// each linear in the log. It reports the log's MB per second of verification.
func BenchmarkVerify(b *testing.B) {
	f := newFixture(b, allBanks, true)
	for i := 0; len(f.entries) < 30000; i++ {
		e, err := ima.NewNG(9, crypto.SHA256, make([]byte, 32), fmt.Sprintf("/usr/lib/modules/6.1.0/kernel/drivers/file-%06d.ko", i))
		if err != nil {
			b.Fatal(err)
		}
		f.add(b, e)
	}
	dir := b.TempDir()
	tcgLog, err := f.log.Marshal()
	if err != nil {
		b.Fatal(err)
	}
	tcgFile := filepath.Join(dir, "tcg.log")
	imaFile := filepath.Join(dir, "ima")
	pcrFile := filepath.Join(dir, "pcrs.yaml")
	for p, data := range map[string][]byte{tcgFile: tcgLog, imaFile: f.imaList(b, eventlog.AlgSHA256), pcrFile: pcrYAML(f.pcrs)} {
		if err := os.WriteFile(p, data, 0o644); err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(int64(len(tcgLog)))
	b.ResetTimer()
	for range b.N {
		var out bytes.Buffer
		if err := cmdVerify([]string{"-tcg", tcgFile, "-ima", imaFile, "-pcrs", pcrFile}, &out, &out); err != nil {
			b.Fatalf("cmdVerify = %v\n%s", err, out.String())
		}
	}
}

// TestVerifyCoverage: a log must be the whole story of the PCRs it is checked against, and a
// measuredboot boot must end with its separators in PCRs 8 and 9.
func TestVerifyCoverage(t *testing.T) {
	dir := t.TempDir()
	sep := func(t *testing.T, f *fixture, pcr uint32) {
		e, err := ima.NewBuf(pcr, crypto.SHA256, []byte{0, 0, 0, 0}, "measuredboot.separator")
		if err != nil {
			t.Fatal(err)
		}
		f.add(t, e)
	}
	buf := func(t *testing.T, f *fixture, pcr uint32, name string) {
		e, err := ima.NewBuf(pcr, crypto.SHA256, []byte("why"), name)
		if err != nil {
			t.Fatal(err)
		}
		f.add(t, e)
	}
	files := func(t *testing.T, name string, f *fixture, pcrs eventlog.PCRs) []string {
		b, err := f.log.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		return []string{"-tcg", writeFile(t, dir, name+".log", b), "-pcrs", writeFile(t, dir, name+".yaml", pcrYAML(pcrs))}
	}

	// A complete boot: entry, files, separators in 8 and 9.
	good := newFixture(t, allBanks, true)
	buf(t, good, 8, "measuredboot.entry")
	sep(t, good, 8)
	sep(t, good, 9)
	// The firmware's log alone, beside a TPM whose PCRs 8 and 9 this boot extended.
	fwOnly := newFixture(t, allBanks, true)
	fwOnly.log.Events = fwOnly.log.Events[:8]
	// A recovery after the separators.
	recovery := newFixture(t, allBanks, true)
	buf(t, recovery, 8, "measuredboot.entry")
	sep(t, recovery, 8)
	sep(t, recovery, 9)
	buf(t, recovery, 8, "measuredboot.recovery")
	buf(t, recovery, 9, "measuredboot.recovery")
	// A measuredboot log cut before its separators.
	cut := newFixture(t, allBanks, true)
	buf(t, cut, 8, "measuredboot.entry")

	for _, tc := range []struct {
		name string
		args []string
		want []string
	}{
		{"complete", files(t, "good", good, good.pcrs), nil},
		{"firmware log only", files(t, "fw", fwOnly, good.pcrs), []string{"sha256 PCR 9 holds", "not a reset value, and neither log accounts for it"}},
		{"recovery", files(t, "recovery", recovery, recovery.pcrs), []string{`tcg PCR 8: its last event is "measuredboot.recovery", not measuredboot's separator`}},
		{"cut", files(t, "cut", cut, cut.pcrs), []string{`tcg PCR 8: its last event is "measuredboot.entry"`, `tcg PCR 9: its last event is "/boot/initrd.img`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			err := cmdVerify(tc.args, &out, &out)
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatalf("cmdVerify = %v, want nil:\n%s", err, out.String())
				}
				if !strings.Contains(out.String(), "tcg pcr  9 closed by measuredboot's separator") {
					t.Errorf("cmdVerify printed\n%s\nwant PCR 9 closed", out.String())
				}
				return
			}
			if err == nil {
				t.Fatalf("cmdVerify = nil, want an error with %q:\n%s", tc.want, out.String())
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("cmdVerify = %v, want %q in it", err, w)
				}
			}
		})
	}
}

// TestParsePCRTextproto reads PCR values in the protobuf text format that go-tpm-tools' PCRs
// message has when its tools print it, as the protobuf module's own encoder writes it (single-
// and multi-line, which it varies on purpose) and as the C++ one does (octal escapes, no colon
// before a message, < >).
func TestParsePCRTextproto(t *testing.T) {
	vals := map[uint32][]byte{0: make([]byte, 32), 7: bytes.Repeat([]byte{'"'}, 32), 9: bytes.Repeat([]byte{0xab, '\\', '\n', 0}, 8)}
	msg := &tpmpb.PCRs{Hash: tpmpb.HashAlgo_SHA256, Pcrs: vals}
	want := eventlog.PCRs{eventlog.AlgSHA256: vals}
	multi, err := prototext.MarshalOptions{Multiline: true}.Marshal(msg)
	if err != nil {
		t.Fatal(err)
	}
	single, err := prototext.Marshal(msg)
	if err != nil {
		t.Fatal(err)
	}
	var octal strings.Builder
	octal.WriteString("# from a C++ tool\nhash: 4\npcrs < key: 5 value: \"")
	for _, c := range bytes.Repeat([]byte{0xfe, 'a'}, 10) {
		fmt.Fprintf(&octal, "\\%03o", c)
	}
	octal.WriteString("\" >\n")
	for _, tc := range []struct {
		name, in string
		want     eventlog.PCRs
		err      string
	}{
		{"prototext multi-line", string(multi), want, ""},
		{"prototext single-line", string(single), want, ""},
		{"C++ style, octal", octal.String(), eventlog.PCRs{eventlog.AlgSHA1: {5: bytes.Repeat([]byte{0xfe, 'a'}, 10)}}, ""},
		{"no hash", "pcrs {\n key: 1\n value: \"" + strings.Repeat(`\000`, 32) + "\"\n}\n", nil, "no hash field"},
		{"short value", "hash: SHA256\npcrs { key: 1 value: \"ab\" }\n", nil, "value is 2 bytes, want 32"},
		{"PCR 24", "hash: SHA1\npcrs { key: 24 value: \"" + strings.Repeat(`\000`, 20) + "\" }\n", nil, "want one key, 0-23"},
		{"twice", "hash: SHA1\npcrs { key: 1 value: \"" + strings.Repeat(`\000`, 20) + "\" }\npcrs { key: 1 value: \"" + strings.Repeat(`\000`, 20) + "\" }\n", nil, "PCR 1 given twice"},
		{"unclosed", "hash: SHA1\npcrs { key: 1 value: \"" + strings.Repeat(`\000`, 20) + "\"\n", nil, "line 2: ends where '}'"},
		{"unterminated string", "hash: SHA1\npcrs { key: 1 value: \"abc\n}", nil, "line 2: a string runs past the end of its line"},
		{"bad escape", "hash: SHA1\npcrs { key: 1 value: \"\\q\" }", nil, `unknown escape \q`},
		{"other field", "hash: SHA1\nquote: 1\n", nil, `field "quote"`},
		{"unknown hash", "hash: MD5\n", nil, `hash "MD5"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parsePCRFile([]byte(tc.in), 0)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("parsePCRFile(%q) = %v, want an error with %q", tc.in, err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("parsePCRFile(%q) = %v", tc.in, err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("parsePCRFile(%q) (-want +got):\n%s", tc.in, diff)
			}
		})
	}
}

// TestVerifyLegacyTCG verifies a legacy SHA-1-format TCG log, a real TPM 1.2 boot's
// (pkg/eventlog/testdata): its one bank replays to the TPM's PCRs; PCR 10, which that boot's
// kernel extended and whose list is not given, is unaccounted for and fails, as in a crypto-agile
// log.
func TestVerifyLegacyTCG(t *testing.T) {
	const td = "../../pkg/eventlog/testdata/seabios-1.16.2-swtpm-tpm12"
	b, err := os.ReadFile(td + ".pcrs")
	if err != nil {
		t.Fatal(err)
	}
	var without []string
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		if !strings.HasPrefix(line, "sha1 10 ") {
			without = append(without, line)
		}
	}
	pcrs := writeFile(t, t.TempDir(), "pcrs", []byte(strings.Join(without, "\n")))
	var out bytes.Buffer
	if err := cmdVerify([]string{"-tcg", td + ".bin", "-pcrs", pcrs}, &out, &out); err != nil {
		t.Fatalf("cmdVerify(legacy log, PCRs without 10) = %v\n%s", err, out.String())
	}
	for _, w := range []string{"15 events, banks sha1", "tcg sha1   pcr  7 match", "OK: 8 checks"} {
		if !strings.Contains(out.String(), w) {
			t.Errorf("cmdVerify printed\n%s\nwant %q in it", out.String(), w)
		}
	}
	out.Reset()
	if err := cmdVerify([]string{"-tcg", td + ".bin", "-pcrs", td + ".pcrs"}, &out, &out); err == nil || !strings.Contains(err.Error(), "sha1 PCR 10 holds") {
		t.Errorf("cmdVerify(legacy log, PCR 10 extended) = %v, want PCR 10 unaccounted for", err)
	}
}
