package main

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/measuredboot/measuredboot/internal/swtpmtest"
	"github.com/measuredboot/measuredboot/pkg/attest"
	"github.com/measuredboot/measuredboot/pkg/eventlog"
	"github.com/measuredboot/measuredboot/pkg/measure"
	"github.com/measuredboot/measuredboot/pkg/seal"
	"github.com/measuredboot/measuredboot/pkg/tpm"
)

const (
	attestCmdline = "root=/dev/vda1 console=ttyS0"
	attestNonce   = "00112233445566778899aabbccddeeff"
)

// attestBoot extends the swtpm at addr as a firmware and a GRUB-convention boot would (a
// separator in PCRs 0-7, measuredboot's format marker in PCR 8, the kernel in PCR 9, then the
// command line in PCR 8, last, as measuredboot measures it), and writes the
// handed-over logs into a new directory: tcg.log and ima/ with one list. It returns the directory.
func attestBoot(t testing.TB, addr string) string {
	t.Helper()
	tr, _, err := openTPM("", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	dev := tpm.New(tr)
	banks, err := dev.Banks()
	if err != nil {
		t.Fatal(err)
	}
	l, err := eventlog.New(banks)
	if err != nil {
		t.Fatal(err)
	}
	for p := range uint32(8) {
		if _, err := l.Append(p, eventlog.EvSeparator, []byte{0, 0, 0, 0}); err != nil {
			t.Fatal(err)
		}
	}
	digests := func(b []byte) []eventlog.Digest {
		var ds []eventlog.Digest
		for _, a := range banks {
			h, _ := a.Hash()
			hh := h.New()
			hh.Write(b)
			ds = append(ds, eventlog.Digest{Alg: a, Sum: hh.Sum(nil)})
		}
		return ds
	}
	// measuredboot's event_format=grub marker: attestationInput reads PCRs 8 and 9 as GRUB's.
	marker, _ := bytes.CutPrefix(measure.FormatMarker, []byte(measure.GRUBCmd))
	if _, err := l.AppendDigests(8, eventlog.EvIPL, digests(marker), measure.FormatMarker); err != nil {
		t.Fatal(err)
	}
	if _, err := l.AppendDigests(9, eventlog.EvIPL, digests([]byte("a kernel")), []byte("/boot/vmlinuz\x00")); err != nil {
		t.Fatal(err)
	}
	if _, err := l.AppendDigests(8, eventlog.EvIPL, digests([]byte(attestCmdline)), []byte("kernel_cmdline: "+attestCmdline)); err != nil {
		t.Fatal(err)
	}
	for _, e := range l.Events {
		if err := dev.Extend(e.PCR, e.Digests); err != nil {
			t.Fatal(err)
		}
	}
	b, err := l.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	writeFile(t, dir, "tcg.log", b)
	os.Mkdir(filepath.Join(dir, "ima"), 0o755)
	writeFile(t, dir, "ima/binary_runtime_measurements_sha256", []byte("an IMA list"))
	os.Mkdir(filepath.Join(dir, "ima", "subdir"), 0o755) // not a regular file: left out
	return dir
}

// TestAttestCommand runs mbctl attest and attest-key against swtpm, and checks the file with
// attestationInput as mbctl verify does: the machine state printed, the quoted PCRs the TPM's.
func TestAttestCommand(t *testing.T) {
	addr := startSWTPM(t)
	dir := attestBoot(t, addr)
	out := filepath.Join(dir, "attestation.pb")
	akPEM := filepath.Join(dir, "ak.pem")
	var stdout, stderr bytes.Buffer
	if err := cmdAttestKey([]string{"-swtpm", addr, "-o", akPEM}, &stdout, &stderr); err != nil {
		t.Fatalf("mbctl attest-key = %v\n%s", err, stderr.String())
	}
	if !strings.HasPrefix(stdout.String(), "attest-key: wrote "+akPEM+": the ECDSA P-256 attestation key sha256:") {
		t.Errorf("mbctl attest-key printed %q", stdout.String())
	}
	stdout.Reset()
	args := []string{"-swtpm", addr, "-nonce", attestNonce, "-tcg", filepath.Join(dir, "tcg.log"), "-ima-dir", filepath.Join(dir, "ima"), "-o", out}
	if err := cmdAttest(args, &stdout, &stderr); err != nil {
		t.Fatalf("mbctl attest = %v\n%s", err, stderr.String())
	}
	t.Logf("mbctl attest: %s", stdout.String())
	if got := stdout.String(); strings.Count(got, "\n") != 1 || !strings.Contains(got, "attest: wrote "+out) ||
		!strings.Contains(got, "sha1, sha256, sha384, sha512 quotes") || !strings.Contains(got, "1 IMA lists") {
		t.Errorf("mbctl attest printed %q, want one line naming the file, its banks and the IMA lists", got)
	}

	stdout.Reset()
	src, f, err := attestationInput(&stdout, out, attestNonce, akPEM, "")
	if err != nil {
		t.Fatalf("attestationInput = %v", err)
	}
	t.Logf("attestationInput printed:\n%s", stdout.String())
	for _, want := range []string{
		`attestation: linux kernel command line: "root=/dev/vda1 console=ttyS0"`,
		`attestation: grub file 0: "/boot/vmlinuz" `,
		"attestation: IMA lists (not yet checked): ima/binary_runtime_measurements_sha256",
	} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("attestationInput printed no %q", want)
		}
	}
	if string(f.IMA["ima/binary_runtime_measurements_sha256"]) != "an IMA list" || len(f.IMA) != 1 {
		t.Errorf("attestation IMA lists = %v", slices.Collect(maps.Keys(f.IMA)))
	}
	tr, _, err := openTPM("", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	tpmSrc := &tpmPCRs{name: "swtpm", t: tr}
	for _, a := range []eventlog.Alg{eventlog.AlgSHA1, eventlog.AlgSHA256} {
		q, err := src.Bank(a)
		if err != nil {
			t.Fatalf("quoted %v: %v", a, err)
		}
		r, err := tpmSrc.Bank(a)
		if err != nil {
			t.Fatal(err)
		}
		maps.DeleteFunc(r, func(p uint32, _ []byte) bool { return p > 9 }) // PCRs 0-9 are quoted
		if len(q) != 10 || !maps.EqualFunc(q, r, bytes.Equal) {
			t.Errorf("quoted %v PCRs differ from the TPM's", a)
		}
	}
	if _, err := src.Bank(eventlog.AlgSM3); !errors.Is(err, errNoBank) {
		t.Errorf("Bank(sm3) = %v, want errNoBank", err)
	}

	// The PEM holds the key attest quoted with.
	b, _ := os.ReadFile(akPEM)
	blk, _ := pem.Decode(b)
	k, err := x509.ParsePKIXPublicKey(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	direct, err := attest.AttestationKey(seal.ReadWriter(tr))
	if err != nil {
		t.Fatal(err)
	}
	if !k.(interface{ Equal(crypto.PublicKey) bool }).Equal(direct) {
		t.Errorf("attest-key wrote another key than the TPM's AK")
	}
}

// TestAttestationInputRejects checks the one-line errors of a bad attestation or bad input.
func TestAttestationInputRejects(t *testing.T) {
	addr := startSWTPM(t)
	dir := attestBoot(t, addr)
	out := filepath.Join(dir, "attestation.pb")
	akPEM := filepath.Join(dir, "ak.pem")
	var stdout, stderr bytes.Buffer
	if err := cmdAttestKey([]string{"-swtpm", addr, "-o", akPEM}, &stdout, &stderr); err != nil {
		t.Fatal(err)
	}
	if err := cmdAttest([]string{"-swtpm", addr, "-nonce", attestNonce, "-tcg", filepath.Join(dir, "tcg.log"), "-ima-dir", filepath.Join(dir, "ima"), "-o", out}, &stdout, &stderr); err != nil {
		t.Fatal(err)
	}
	good, _ := os.ReadFile(out)
	truncated := writeFile(t, dir, "truncated.pb", good[:len(good)-5])
	// Another TPM's AK.
	other := startSWTPM(t)
	otherAK := filepath.Join(dir, "other.pem")
	if err := cmdAttestKey([]string{"-swtpm", other, "-o", otherAK}, &stdout, &stderr); err != nil {
		t.Fatal(err)
	}
	notPEM := writeFile(t, dir, "garbage", []byte("not a key"))
	wrongNonce := hex.EncodeToString([]byte("another verifier"))

	for _, tc := range []struct {
		name, path, nonce, ak string
		want                  string
	}{
		{"wrong nonce", out, wrongNonce, akPEM, "attestation " + out + ": quote 0 (sha1): nonce does not match"},
		{"nonce too short", out, "0011", akPEM, "a nonce of 2 bytes, want 8 to 64"},
		{"nonce not hex", out, "xyz", akPEM, "-nonce: not hex"},
		{"another TPM's AK", out, attestNonce, otherAK, "attestation key not trusted: the attestation's AK (sha256:"},
		{"no AK", out, attestNonce, "", "no key to trust: give -ak"},
		{"an AK file that is no key", out, attestNonce, notPEM, "neither PEM"},
		{"truncated", truncated, attestNonce, akPEM, "attestation " + truncated + ": malformed attestation file: byte "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			_, _, err := attestationInput(&out, tc.path, tc.nonce, tc.ak, "")
			if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
				t.Errorf("attestationInput = %v, want one line saying %q", err, tc.want)
			}
			if out.Len() != 0 {
				t.Errorf("attestationInput printed %q for a rejected attestation", out.String())
			}
		})
	}
}

// TestAttestCommandBadInput checks mbctl attest's refusals, which come before the TPM is used,
// and that a missing IMA directory is said, not an error.
func TestAttestCommandBadInput(t *testing.T) {
	dir := t.TempDir()
	tcg := writeFile(t, dir, "tcg.log", []byte("a log"))
	noTPM := "127.0.0.1:1" // nothing listens: reaching the TPM fails
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"no nonce", []string{"-swtpm", noTPM, "-o", filepath.Join(dir, "x")}, "-nonce, -o and one of -tpm or -swtpm are required"},
		{"nonce of 65 bytes", []string{"-swtpm", noTPM, "-nonce", strings.Repeat("00", 65), "-tcg", tcg, "-o", filepath.Join(dir, "x")}, "a nonce of 65 bytes"},
		{"no log", []string{"-swtpm", noTPM, "-nonce", attestNonce, "-tcg", filepath.Join(dir, "none"), "-o", filepath.Join(dir, "x")}, "the TCG event log: open"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			err := cmdAttest(tc.args, &stdout, &stderr)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("mbctl attest %v = %v, want %q", tc.args, err, tc.want)
			}
		})
	}

	addr := startSWTPM(t)
	var stdout, stderr bytes.Buffer
	missing := filepath.Join(dir, "no-ima")
	if err := cmdAttest([]string{"-swtpm", addr, "-nonce", attestNonce, "-tcg", tcg, "-ima-dir", missing, "-o", filepath.Join(dir, "a.pb")}, &stdout, &stderr); err != nil {
		t.Fatalf("mbctl attest without IMA lists = %v", err)
	}
	if !strings.Contains(stdout.String(), "no IMA lists ("+missing+" does not exist)") {
		t.Errorf("mbctl attest printed %q, want it to say the IMA directory is missing", stdout.String())
	}
}

// BenchmarkVerifyAttestation: mbctl verify -attestation (go-tpm-tools' quote and log checks, then
// verify's replay against the quoted values) against mbctl verify of the same TCG log and IMA
// list with the PCR values in a file (the baseline: no quotes to check), on a swtpm boot. It
// reports the attestation's size and the TCG log's.
func BenchmarkVerifyAttestation(b *testing.B) {
	addr := swtpmtest.Start(b, "")
	dir := attestBoot(b, addr)
	att := filepath.Join(dir, "attestation.pb")
	ak := filepath.Join(dir, "ak.pem")
	var out, stderr bytes.Buffer
	if err := cmdAttestKey([]string{"-swtpm", addr, "-o", ak}, &out, &stderr); err != nil {
		b.Fatal(err)
	}
	if err := cmdAttest([]string{"-swtpm", addr, "-nonce", attestNonce, "-tcg", filepath.Join(dir, "tcg.log"), "-o", att}, &out, &stderr); err != nil {
		b.Fatal(err)
	}
	f, err := os.ReadFile(att)
	if err != nil {
		b.Fatal(err)
	}
	parsed, err := attest.Parse(f)
	if err != nil {
		b.Fatal(err)
	}
	var pcrs strings.Builder
	for alg, vals := range attest.QuotedPCRs(parsed) {
		for p, v := range vals {
			fmt.Fprintf(&pcrs, "%v:%d=%x\n", alg, p, v)
		}
	}
	pcrFile := filepath.Join(dir, "pcrs")
	if err := os.WriteFile(pcrFile, []byte(pcrs.String()), 0o644); err != nil {
		b.Fatal(err)
	}
	logSize := len(parsed.Attestation.GetEventLog())
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"attestation", []string{"verify", "-attestation", att, "-nonce", attestNonce, "-ak", ak}},
		{"pcrs", []string{"verify", "-tcg", filepath.Join(dir, "tcg.log"), "-pcrs", pcrFile}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			for b.Loop() {
				out.Reset()
				if err := run(tc.args, &out, &stderr); err != nil {
					b.Fatalf("%v\n%s", err, out.String())
				}
			}
			b.ReportMetric(float64(len(f)), "attestation-bytes")
			b.ReportMetric(float64(logSize), "log-bytes")
		})
	}
}
