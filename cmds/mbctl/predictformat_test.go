package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/measuredboot/measuredboot/pkg/eventlog"
	"github.com/measuredboot/measuredboot/pkg/tpm"
)

// swtpmBanks are the banks a fresh swtpm 0.7 has active (tpm2_getcap pcrs), in the order
// predictions in these tests list them.
const swtpmBanks = "sha1,sha256,sha384,sha512"

// needTools fails the test (it does not skip: scripts/deps.sh installs them for CI) when a
// program it runs is not on PATH.
func needTools(t *testing.T, names ...string) {
	t.Helper()
	for _, n := range names {
		if _, err := exec.LookPath(n); err != nil {
			t.Fatalf("%s is needed by this test and is not on PATH (scripts/deps.sh installs it: swtpm, tpm2-tools, clevis, clevis-tpm2, jose): %v", n, err)
		}
	}
}

// predictFlow runs mbctl predict's boot flow (the repository's IMA policy, a kernel, an
// initramfs and a command line) with the extra predict flags given (-banks, -eventlog), and
// returns its prediction: several extends in PCR 8 and in PCR 9.
func predictFlow(t *testing.T, extra ...string) *prediction {
	t.Helper()
	dir := t.TempDir()
	k := writeFile(t, dir, "vmlinuz", bytes.Repeat([]byte("a kernel "), 1000))
	i := writeFile(t, dir, "initrd.img", []byte("an initramfs"))
	var stderr bytes.Buffer
	fs := newFlags("predict", &stderr)
	o := addPredictFlags(fs)
	args := append([]string{"-policy", "../../configs/policy", "-root", dir, "-device", ext4Image(t),
		"-kernel", k, "-initrd", i, "-cmdline", "console=ttyS0 ro"}, extra...)
	if err := fs.Parse(args); err != nil {
		t.Fatalf("predict flags %v: %v", args, err)
	}
	p, err := o.predict(&stderr)
	if err != nil {
		t.Fatalf("predict %v = %v\n%s", args, err, stderr.String())
	}
	if !slices.Equal(p.PCRs, []uint32{8, 9}) {
		t.Fatalf("predict %v extended PCRs %v, want [8 9]", args, p.PCRs)
	}
	return p
}

// format returns writePrediction(p, f)'s output, failing the test on an error.
func format(t *testing.T, p *prediction, f string) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := writePrediction(&b, p, f); err != nil {
		t.Fatalf("writePrediction(%q) = %v", f, err)
	}
	return b.Bytes()
}

// swtpmTool runs a tpm2-tools or clevis program against the swtpm at tcti, in dir (also its
// TMPDIR), with stdin, and returns its standard output; its standard error goes into err.
func swtpmTool(tcti, dir string, stdin []byte, name string, args ...string) ([]byte, error) {
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "TPM2TOOLS_TCTI="+tcti, "TMPDIR="+dir)
	cmd.Stdin = bytes.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.Bytes(), fmt.Errorf("%s %s: %w\n%s", name, strings.Join(args, " "), err, stderr.String())
	}
	return stdout.Bytes(), nil
}

// flushSessions flushes the swtpm's loaded and saved sessions, as the kernel's resource manager
// does when a process closes /dev/tpmrm0: without one, the sessions tpm2-tools leave behind
// (clevis decrypt's tpm2_unseal -p pcr:...) fill the swtpm's three session slots.
func flushSessions(t *testing.T, tcti string) {
	t.Helper()
	for _, f := range []string{"-l", "-s"} {
		if _, err := swtpmTool(tcti, t.TempDir(), nil, "tpm2_flushcontext", f); err != nil {
			t.Fatal(err)
		}
	}
}

// newSWTPM starts a swtpm for the test (stopped when it ends, startSWTPM) and returns its
// TPM2TOOLS_TCTI.
func newSWTPM(t *testing.T) string {
	t.Helper()
	needTools(t, "swtpm")
	addr := startSWTPM(t)
	host, port, _ := strings.Cut(addr, ":")
	return fmt.Sprintf("swtpm:host=%s,port=%s", host, port)
}

// replayOnSWTPM extends the swtpm's PCRs with extends, in order, in one tpm2_pcrextend
// (PCR:alg=HEX,alg=HEX per extend, applied left to right).
func replayOnSWTPM(t *testing.T, tcti string, extends []tpm.Extend) {
	t.Helper()
	var args []string
	for _, e := range extends {
		var ds []string
		for _, d := range e.Digests {
			ds = append(ds, fmt.Sprintf("%v=%x", d.Alg, d.Sum))
		}
		args = append(args, fmt.Sprintf("%d:%s", e.PCR, strings.Join(ds, ",")))
	}
	if _, err := swtpmTool(tcti, t.TempDir(), nil, "tpm2_pcrextend", args...); err != nil {
		t.Fatal(err)
	}
}

// trialPolicyPCR runs TPM2_PolicyPCR in a fresh trial session of the swtpm over selection
// (tpm2-tools syntax), with the values in file raw (or, raw empty, the TPM's own), and returns
// the session's policy digest.
func trialPolicyPCR(t *testing.T, tcti, selection, raw string) []byte {
	t.Helper()
	dir := t.TempDir()
	if _, err := swtpmTool(tcti, dir, nil, "tpm2_startauthsession", "-S", "s.ctx"); err != nil {
		t.Fatal(err)
	}
	args := []string{"-S", "s.ctx", "-l", selection, "-L", "policy.digest"}
	if raw != "" {
		args = append(args, "-f", raw)
	}
	_, err := swtpmTool(tcti, dir, nil, "tpm2_policypcr", args...)
	if _, ferr := swtpmTool(tcti, dir, nil, "tpm2_flushcontext", "s.ctx"); ferr != nil {
		t.Error(ferr)
	}
	if err != nil {
		t.Fatal(err)
	}
	d, err := os.ReadFile(filepath.Join(dir, "policy.digest"))
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// TestPolicyPCRDigest checks policyPCRDigest against the TPM2_PolicyPCR digest written out
// byte by byte here, and its refusal of selections a TPM would order or size differently.
func TestPolicyPCRDigest(t *testing.T) {
	v8, v9 := bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32)
	for _, tc := range []struct {
		alg       eventlog.Alg
		pcrs      []uint32
		values    [][]byte
		selection string // TPML_PCR_SELECTION, hex
	}{
		// count 1, TPM_ALG_SHA256, sizeofSelect 3, PCRs 8 and 9: bits 0 and 1 of byte 1.
		{eventlog.AlgSHA256, []uint32{8, 9}, [][]byte{v8, v9}, "00000001" + "000b" + "03" + "000300"},
		// TPM_ALG_SHA1, PCRs 0 and 23: bit 0 of byte 0, bit 7 of byte 2.
		{eventlog.AlgSHA1, []uint32{0, 23}, [][]byte{v8[:20], v9[:20]}, "00000001" + "0004" + "03" + "010080"},
	} {
		h := sha256.New()
		for _, v := range tc.values {
			h.Write(v)
		}
		msg, _ := hex.DecodeString(strings.Repeat("00", 32) + "0000017f" + tc.selection)
		want := sha256.Sum256(append(msg, h.Sum(nil)...))
		got, err := policyPCRDigest(tc.alg, tc.pcrs, tc.values)
		if err != nil || !bytes.Equal(got, want[:]) {
			t.Errorf("policyPCRDigest(%v, %v) = %x, %v; want %x", tc.alg, tc.pcrs, got, err, want)
		}
	}
	for _, tc := range []struct {
		name   string
		alg    eventlog.Alg
		pcrs   []uint32
		values [][]byte
		want   string
	}{
		{"descending", eventlog.AlgSHA256, []uint32{9, 8}, [][]byte{v9, v8}, "not strictly ascending"},
		{"twice", eventlog.AlgSHA256, []uint32{8, 8}, [][]byte{v8, v8}, "not strictly ascending"},
		{"out of range", eventlog.AlgSHA256, []uint32{24}, [][]byte{v8}, "PCR 24 out of range"},
		{"short value", eventlog.AlgSHA256, []uint32{8}, [][]byte{v8[:20]}, "value of 20 bytes, want 32"},
		{"count", eventlog.AlgSHA256, []uint32{8, 9}, [][]byte{v8}, "1 values for 2 PCRs"},
		{"no PCRs", eventlog.AlgSHA256, nil, nil, "no PCRs"},
		{"unknown bank", eventlog.Alg(0x99), []uint32{8}, [][]byte{v8}, "unknown bank"},
	} {
		if _, err := policyPCRDigest(tc.alg, tc.pcrs, tc.values); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: policyPCRDigest(%v, %v) = %v, want an error containing %q", tc.name, tc.alg, tc.pcrs, err, tc.want)
		}
	}
}

// TestPredictFormatRawPolicyPCR: tpm2_policypcr -f on the raw output, in a trial session of a
// real swtpm, gives the digest policyPCRDigest computes, for one bank at a time; and with all
// banks the raw output is what tpm2_pcrread -o writes for the same selection once the swtpm
// holds the predicted values, and gives the same policy as the TPM's own values.
func TestPredictFormatRawPolicyPCR(t *testing.T) {
	needTools(t, "tpm2_startauthsession", "tpm2_policypcr", "tpm2_flushcontext", "tpm2_pcrextend", "tpm2_pcrread")
	p := predictFlow(t, "-banks", swtpmBanks)
	tcti := newSWTPM(t)
	dir := t.TempDir()
	for _, b := range p.Banks {
		raw := writeFile(t, dir, b.String()+".raw", format(t, p, "raw:"+b.String()))
		var values [][]byte
		for _, i := range p.PCRs {
			values = append(values, p.Value(b, i))
		}
		want, err := policyPCRDigest(b, p.PCRs, values)
		if err != nil {
			t.Fatal(err)
		}
		sel := b.String() + ":" + pcrList(p.PCRs, ",")
		got := trialPolicyPCR(t, tcti, sel, raw)
		t.Logf("tpm2_policypcr -l %s -f raw:%v: %x", sel, b, got)
		if !bytes.Equal(got, want) {
			t.Errorf("tpm2_policypcr -l %s -f (-format raw:%v) = %x, policyPCRDigest = %x", sel, b, got, want)
		}
	}

	replayOnSWTPM(t, tcti, p.Extends)
	var sel []string
	for _, b := range p.Banks {
		sel = append(sel, b.String()+":"+pcrList(p.PCRs, ","))
	}
	all := strings.Join(sel, "+")
	if _, err := swtpmTool(tcti, dir, nil, "tpm2_pcrread", all, "-o", "read.bin"); err != nil {
		t.Fatal(err)
	}
	read, _ := os.ReadFile(filepath.Join(dir, "read.bin"))
	raw := format(t, p, "raw")
	if !bytes.Equal(raw, read) {
		t.Errorf("-format raw = %d bytes %x,\ntpm2_pcrread %s -o after the replay = %d bytes %x", len(raw), raw, all, len(read), read)
	}
	fromRaw := trialPolicyPCR(t, tcti, all, writeFile(t, dir, "all.raw", raw))
	live := trialPolicyPCR(t, tcti, all, "")
	t.Logf("tpm2_policypcr -l %s: -f raw %x, live %x", all, fromRaw, live)
	if !bytes.Equal(fromRaw, live) {
		t.Errorf("tpm2_policypcr -l %s -f (-format raw) = %x, with the replayed TPM's values = %x", all, fromRaw, live)
	}
}

// TestPredictFormatClevis binds a secret with clevis's tpm2 pin to -format clevis's config on a
// swtpm whose PCRs 8 and 9 replay the prediction's extends: clevis decrypt gives it back. On a
// swtpm whose replay has one event's digest changed, clevis decrypt fails.
func TestPredictFormatClevis(t *testing.T) {
	needTools(t, "clevis", "clevis-encrypt-tpm2", "clevis-decrypt-tpm2", "jose", "tpm2_createpolicy", "tpm2_pcrextend", "tpm2_unseal")
	p := predictFlow(t, "-banks", swtpmBanks)
	if n := len(p.Extends); n < 6 {
		t.Fatalf("the boot made %d extends, want several in each of PCR 8 and 9", n)
	}
	cfg := strings.TrimSpace(string(format(t, p, "clevis")))
	t.Logf("-format clevis: %s", cfg)
	var c struct {
		PCRBank   string `json:"pcr_bank"`
		PCRIDs    string `json:"pcr_ids"`
		PCRDigest string `json:"pcr_digest"`
	}
	if err := json.Unmarshal([]byte(cfg), &c); err != nil {
		t.Fatalf("-format clevis %s: %v", cfg, err)
	}
	d, err := base64.RawURLEncoding.DecodeString(c.PCRDigest)
	if want := append(slices.Clone(p.Value(eventlog.AlgSHA256, 8)), p.Value(eventlog.AlgSHA256, 9)...); err != nil || c.PCRBank != "sha256" || c.PCRIDs != "8,9" || !bytes.Equal(d, want) {
		t.Errorf("-format clevis = %s (pcr_digest %x, %v), want pcr_bank sha256, pcr_ids 8,9, pcr_digest base64url(%x)", cfg, d, err, want)
	}
	secret := []byte("secret\n")
	seal := func(tcti, cfg string) []byte {
		t.Helper()
		flushSessions(t, tcti)
		jwe, err := swtpmTool(tcti, t.TempDir(), secret, "clevis", "encrypt", "tpm2", cfg)
		if err != nil {
			t.Fatal(err)
		}
		flushSessions(t, tcti)
		return jwe
	}

	good := newSWTPM(t)
	replayOnSWTPM(t, good, p.Extends)
	for _, f := range []string{"clevis", "clevis:sha384", "clevis:sha1"} {
		cfg := strings.TrimSpace(string(format(t, p, f)))
		got, err := swtpmTool(good, t.TempDir(), seal(good, cfg), "clevis", "decrypt")
		t.Logf("%s: clevis decrypt on the replayed swtpm = %q, %v", f, got, err)
		if err != nil || !bytes.Equal(got, secret) {
			t.Errorf("-format %s: clevis decrypt on a swtpm holding the prediction = %q, %v; want %q", f, got, err, secret)
		}
	}

	// The same boot, but the kernel's event in PCR 9 (its third extend) digests differently.
	bad := slices.Clone(p.Extends)
	k, seen := -1, 0
	for n, e := range bad {
		if e.PCR == 9 {
			if seen++; seen == 3 {
				k = n
				break
			}
		}
	}
	if k < 0 {
		t.Fatalf("the boot extended PCR 9 %d times, want a third extend to change", seen)
	}
	bad[k] = tpm.Extend{PCR: 9}
	for _, d := range p.Extends[k].Digests {
		s := slices.Clone(d.Sum)
		s[0] ^= 1
		bad[k].Digests = append(bad[k].Digests, eventlog.Digest{Alg: d.Alg, Sum: s})
	}
	tampered := newSWTPM(t)
	replayOnSWTPM(t, tampered, bad)
	got, err := swtpmTool(tampered, t.TempDir(), seal(tampered, cfg), "clevis", "decrypt")
	t.Logf("clevis decrypt on the swtpm with extend %d changed = %q, %v", k, got, err)
	if err == nil || bytes.Contains(got, secret) || !strings.Contains(err.Error(), "a policy check failed") {
		t.Errorf("clevis decrypt on a swtpm whose PCR 9 had one event changed = %q, %v; want the TPM's policy check to fail", got, err)
	}
}

// TestPredictFormatPcrlock: the .pcrlock records, extended in order from the values the
// firmware log replays to, give the predicted value of every PCR the boot extends, in every bank.
func TestPredictFormatPcrlock(t *testing.T) {
	p := predictFlow(t, "-eventlog", seabiosLog)
	fw, err := os.ReadFile(seabiosLog)
	if err != nil {
		t.Fatal(err)
	}
	l, err := eventlog.Parse(fw)
	if err != nil {
		t.Fatal(err)
	}
	start, err := l.Replay()
	if err != nil {
		t.Fatal(err)
	}
	out := format(t, p, "pcrlock")
	first := p.Extends[0]
	if want := fmt.Sprintf(`{"records":[{"pcr":%d,"digests":[{"hashAlg":"%v","digest":"%x"},`, first.PCR, first.Digests[0].Alg, first.Digests[0].Sum); !bytes.HasPrefix(out, []byte(want)) {
		t.Errorf("-format pcrlock does not start with the boot's first extend, %s...:\n%s", want, out)
	}
	var f struct {
		Records []struct {
			PCR     uint32 `json:"pcr"`
			Digests []struct {
				HashAlg string `json:"hashAlg"`
				Digest  string `json:"digest"`
			} `json:"digests"`
		} `json:"records"`
	}
	dec := json.NewDecoder(bytes.NewReader(out))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		t.Fatalf("-format pcrlock: %v\n%s", err, out)
	}
	if len(f.Records) != len(p.Extends) {
		t.Errorf("-format pcrlock has %d records, the boot made %d extends", len(f.Records), len(p.Extends))
	}
	got := map[eventlog.Alg]map[uint32][]byte{}
	perPCR := map[uint32]int{}
	for n, r := range f.Records {
		perPCR[r.PCR]++
		if n < len(p.Extends) && r.PCR != p.Extends[n].PCR {
			t.Errorf("record %d is for PCR %d, the boot's extend %d is of PCR %d", n, r.PCR, n, p.Extends[n].PCR)
		}
		if len(r.Digests) != len(p.Banks) {
			t.Errorf("record %d (PCR %d) has %d digests, want one per bank %v", n, r.PCR, len(r.Digests), p.Banks)
		}
		for _, d := range r.Digests {
			alg, ok := eventlog.AlgFromName(d.HashAlg)
			h, _ := alg.Hash()
			sum, err := hex.DecodeString(d.Digest)
			if !ok || err != nil || len(sum) != h.Size() || d.Digest != strings.ToLower(d.Digest) {
				t.Fatalf("record %d: digest %+v is not lowercase hex of a %s digest", n, d, d.HashAlg)
			}
			if got[alg] == nil {
				got[alg] = map[uint32][]byte{}
			}
			if got[alg][r.PCR] == nil {
				got[alg][r.PCR] = start.Values(alg, r.PCR)[r.PCR]
			}
			got[alg][r.PCR] = extendAll(h, got[alg][r.PCR], sum)
		}
	}
	t.Logf("-format pcrlock: %d records (%v per PCR), %d banks", len(f.Records), perPCR, len(p.Banks))
	if perPCR[8] < 2 || perPCR[9] < 2 {
		t.Errorf("records per PCR %v, want several for PCR 8 and for PCR 9", perPCR)
	}
	for _, b := range p.Banks {
		for _, i := range p.PCRs {
			if !bytes.Equal(got[b][i], p.Value(b, i)) {
				t.Errorf("%v PCR %d: the pcrlock records replay to %x, predicted %x", b, i, got[b][i], p.Value(b, i))
			}
		}
	}

	// :sha256 keeps one digest per record, the sha256 one.
	var one struct {
		Records []struct {
			Digests []struct{ HashAlg string } `json:"digests"`
		} `json:"records"`
	}
	if err := json.Unmarshal(format(t, p, "pcrlock:sha256"), &one); err != nil {
		t.Fatal(err)
	}
	for n, r := range one.Records {
		if len(r.Digests) != 1 || r.Digests[0].HashAlg != "sha256" {
			t.Errorf("-format pcrlock:sha256 record %d has digests %+v, want sha256 alone", n, r.Digests)
		}
	}
}

// handPrediction returns a prediction of PCRs 8 and 9 in banks, PCR i's value in bank b the
// byte i repeated, then b's size (so banks and PCRs differ).
func handPrediction(banks ...eventlog.Alg) *prediction {
	p := &prediction{Banks: banks, PCRs: []uint32{8, 9}, Values: eventlog.PCRs{}}
	for _, b := range banks {
		p.Values[b] = map[uint32][]byte{}
		for _, i := range p.PCRs {
			v := bytes.Repeat([]byte{byte(i)}, b.Size())
			v[len(v)-1] = byte(b.Size())
			p.Values[b][i] = v
		}
	}
	return p
}

// TestPredictFormatCryptenroll checks the --tpm2-pcrs= argument character by character against
// systemd's grammar (tpm2_pcr_values_from_string: INDEX:HASH=HEX joined by "+"), and its choice
// of bank: sha256 when there, else the prediction's first bank systemd seals to, or the one asked.
// (systemd-cryptenroll 252 on this machine predates PCR values in --tpm2-pcrs=, systemd 255, and
// would need a LUKS2 device: it is not run.)
func TestPredictFormatCryptenroll(t *testing.T) {
	h := func(b eventlog.Alg, i uint32) string {
		return hex.EncodeToString(handPrediction(b).Value(b, i))
	}
	for _, tc := range []struct {
		banks  []eventlog.Alg
		format string
		bank   eventlog.Alg
	}{
		{[]eventlog.Alg{eventlog.AlgSHA1, eventlog.AlgSHA256, eventlog.AlgSHA384}, "cryptenroll", eventlog.AlgSHA256},
		{[]eventlog.Alg{eventlog.AlgSHA384, eventlog.AlgSHA1}, "cryptenroll", eventlog.AlgSHA384},
		{[]eventlog.Alg{eventlog.AlgSM3, eventlog.AlgSHA512}, "cryptenroll", eventlog.AlgSHA512},
		{[]eventlog.Alg{eventlog.AlgSHA1, eventlog.AlgSHA256}, "cryptenroll:sha1", eventlog.AlgSHA1},
	} {
		got := string(format(t, handPrediction(tc.banks...), tc.format))
		want := fmt.Sprintf("--tpm2-pcrs=8:%v=%s+9:%v=%s\n", tc.bank, h(tc.bank, 8), tc.bank, h(tc.bank, 9))
		if got != want {
			t.Errorf("-format %s of banks %v = %q, want %q", tc.format, tc.banks, got, want)
		}
	}
	t.Logf("e.g. %s", format(t, handPrediction(eventlog.AlgSHA256), "cryptenroll"))
}

// TestPredictFormatErrors: an unknown format, an unknown bank, a bank the prediction lacks and
// a seal with nothing to bind to are errors that say what was asked and what there is; through
// mbctl predict, nothing is printed.
func TestPredictFormatErrors(t *testing.T) {
	p := handPrediction(eventlog.AlgSHA256)
	noPCRs := handPrediction(eventlog.AlgSHA256)
	noPCRs.PCRs = nil
	for _, tc := range []struct {
		p      *prediction
		format string
		want   []string
	}{
		{p, "json", []string{`-format "json"`, "want one of [yaml raw clevis cryptenroll pcrlock]"}},
		{p, "", []string{`-format ""`, "want one of"}},
		{p, "raw:sha384", []string{`-format "raw:sha384"`, "no sha384 bank, only sha256", "-banks sha384"}},
		{p, "clevis:md5", []string{"unknown bank \"md5\""}},
		{p, "pcrlock:", []string{"unknown bank \"\""}},
		{noPCRs, "clevis", []string{"extends no PCR"}},
		{noPCRs, "cryptenroll", []string{"extends no PCR"}},
		{handPrediction(eventlog.AlgSM3), "clevis", []string{"banks sm3_256 hold none of"}},
	} {
		var out bytes.Buffer
		err := writePrediction(&out, tc.p, tc.format)
		for _, w := range tc.want {
			if err == nil || !strings.Contains(err.Error(), w) {
				t.Errorf("writePrediction(%q) = %v, want an error containing %q", tc.format, err, w)
			}
		}
		if out.Len() != 0 {
			t.Errorf("writePrediction(%q) wrote %q before failing", tc.format, out.String())
		}
	}

	dir := t.TempDir()
	k := writeFile(t, dir, "vmlinuz", []byte("kernel"))
	var out, stderr bytes.Buffer
	err := run([]string{"predict", "-format", "cryptenroll:sha512", "-banks", "sha256,sha1", "-policy", "../../configs/policy", "-root", dir, "-device", ext4Image(t), "-kernel", k}, &out, &stderr)
	t.Logf("mbctl predict -format cryptenroll:sha512 -banks sha256,sha1: %v", err)
	if err == nil || !strings.Contains(err.Error(), "no sha512 bank, only sha256,sha1") || out.Len() != 0 {
		t.Errorf("mbctl predict -format cryptenroll:sha512 -banks sha256,sha1 = %v, printed %q; want an error naming the banks, nothing printed", err, out.String())
	}
}
