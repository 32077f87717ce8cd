package main

import (
	"bytes"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-tpm/legacy/tpm2"

	"github.com/measuredboot/measuredboot/pkg/eventlog"
	"github.com/measuredboot/measuredboot/pkg/seal"
	"github.com/measuredboot/measuredboot/pkg/tpm"
)

// sealFixture is a boot partition with a kernel and an initramfs, and the predict flags for it.
func sealFixture(t *testing.T, cmdline string, extra ...string) (dir string, args []string) {
	t.Helper()
	dir = t.TempDir()
	os.Mkdir(filepath.Join(dir, "boot"), 0o755)
	writeFile(t, dir, "boot/vmlinuz", bytes.Repeat([]byte("a kernel "), 1000))
	writeFile(t, dir, "boot/initrd.img", []byte("an initramfs"))
	args = append([]string{"-policy", "../../configs/policy", "-root", dir, "-device", ext4Image(t), "-kernel", filepath.Join(dir, "boot/vmlinuz"),
		"-initrd", filepath.Join(dir, "boot/initrd.img"), "-cmdline", cmdline}, extra...)
	return dir, args
}

// bootOnto makes the swtpm at addr hold what the boot with predict flags args leaves: the
// firmware log's events (if any, as firmware would extend them), then the boot's own extends.
func bootOnto(t *testing.T, addr string, args []string, fwlog string) {
	t.Helper()
	fs := flag.NewFlagSet("boot", flag.ContinueOnError)
	o := addPredictFlags(fs)
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	p, err := o.predict(io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	tr, _, err := openTPM("", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	dev := tpm.New(tr)
	if fwlog != "" {
		b, err := os.ReadFile(fwlog)
		if err != nil {
			t.Fatal(err)
		}
		l, err := eventlog.Parse(b)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range l.Events {
			if e.Type == eventlog.EvNoAction {
				continue
			}
			if err := dev.Extend(e.PCR, e.Digests); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, e := range p.Extends {
		if err := dev.Extend(e.PCR, e.Digests); err != nil {
			t.Fatalf("extend PCR %d: %v", e.PCR, err)
		}
	}
}

// TestSealUnseal seals a secret to a predicted boot with mbctl seal against swtpm, fails to
// unseal before that boot, makes the boot's extends, and unseals with mbctl unseal. A boot with
// another command line does not unseal, and a boot the policy refuses is not sealed to.
func TestSealUnseal(t *testing.T) {
	for _, tc := range []struct {
		name   string
		extra  []string // seal flags
		fwlog  string
		banks  string
		secret string
	}{
		{name: "PCRs 8 and 9", secret: "a disk key"},
		{name: "PCRs 0-9 from the firmware log", extra: []string{"-pcrs", "0-9", "-eventlog", seabiosLog}, fwlog: seabiosLog, secret: "a TOTP secret"},
		{name: "sha1 bank", extra: []string{"-bank", "sha1", "-banks", "sha1,sha256"}, secret: "x"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addr := startSWTPM(t)
			var predictExtra []string
			for i := 0; i < len(tc.extra); i += 2 {
				if tc.extra[i] == "-eventlog" || tc.extra[i] == "-banks" {
					predictExtra = append(predictExtra, tc.extra[i], tc.extra[i+1])
				}
			}
			dir, args := sealFixture(t, "console=ttyS0 ro", predictExtra...)
			secretFile := writeFile(t, dir, "secret", []byte(tc.secret))
			blob := filepath.Join(dir, "secret.sealed")
			var out, stderr bytes.Buffer
			sealArgs := append([]string{"seal", "-in", secretFile, "-o", blob, "-swtpm", addr}, args...)
			for i := 0; i < len(tc.extra); i += 2 {
				if tc.extra[i] != "-eventlog" && tc.extra[i] != "-banks" {
					sealArgs = append(sealArgs, tc.extra[i], tc.extra[i+1])
				}
			}
			if err := run(sealArgs, &out, &stderr); err != nil {
				t.Fatalf("mbctl seal = %v\n%s", err, stderr.String())
			}
			if !strings.Contains(out.String(), "sealed") || !strings.Contains(out.String(), "tpm: ") {
				t.Errorf("mbctl seal printed %q", out.String())
			}
			unseal := []string{"unseal", "-in", blob, "-swtpm", addr}
			out.Reset()
			stderr.Reset()
			if err := run(unseal, &out, &stderr); err == nil || !strings.Contains(err.Error(), "this boot is not the one it was sealed to") {
				t.Fatalf("mbctl unseal before the boot = %v, want a refusal", err)
			}
			if out.Len() != 0 {
				t.Errorf("a refused unseal wrote %q", out.String())
			}
			bootOnto(t, addr, args, tc.fwlog)
			out.Reset()
			if err := run(unseal, &out, &stderr); err != nil || out.String() != tc.secret {
				t.Fatalf("mbctl unseal after the boot = %q, %v; want %q\n%s", out.String(), err, tc.secret, stderr.String())
			}
		})
	}

	// Sealed to one command line, booted with another: refused.
	addr := startSWTPM(t)
	dir, args := sealFixture(t, "console=ttyS0 ro")
	secretFile := writeFile(t, dir, "secret", []byte("s"))
	blob := filepath.Join(dir, "blob")
	var out, stderr bytes.Buffer
	if err := run(append([]string{"seal", "-in", secretFile, "-o", blob, "-swtpm", addr}, args...), &out, &stderr); err != nil {
		t.Fatal(err)
	}
	_, other := sealFixture(t, "console=ttyS0 ro init=/bin/sh")
	bootOnto(t, addr, other, "")
	if err := run([]string{"unseal", "-in", blob, "-swtpm", addr}, &out, &stderr); err == nil || !strings.Contains(err.Error(), "PCR 8 is") {
		t.Errorf("unseal after a boot with another command line = %v, want PCR 8 named", err)
	}
}

// TestSealErrors: each bad input is one clear error, and nothing is written.
func TestSealErrors(t *testing.T) {
	addr := startSWTPM(t)
	dir, args := sealFixture(t, "ro")
	secret := writeFile(t, dir, "secret", []byte("s"))
	big := writeFile(t, dir, "big", bytes.Repeat([]byte{1}, 129))
	unsignedPolicy := writeFile(t, dir, "policy", []byte("appraise func=KEXEC_KERNEL_CHECK appraise_type=imasig\n"))
	refused := append(append([]string{}, args...), "-policy", unsignedPolicy)
	blob := filepath.Join(dir, "out")
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"the policy refuses the boot", append([]string{"seal", "-in", secret, "-o", blob, "-swtpm", addr}, refused...), "nothing sealed: the boot would not kexec"},
		{"PCR 24", append([]string{"seal", "-in", secret, "-o", blob, "-swtpm", addr, "-pcrs", "8,24"}, args...), `"24": want PCRs 0-23`},
		{"a bank the prediction lacks", append([]string{"seal", "-in", secret, "-o", blob, "-swtpm", addr, "-bank", "sha384"}, args...), "the prediction has no sha384 bank"},
		{"a secret too long", append([]string{"seal", "-in", big, "-o", blob, "-swtpm", addr}, args...), "is more than 128 bytes"},
		{"no TPM", append([]string{"seal", "-in", secret, "-o", blob}, args...), "one of -tpm or -swtpm"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out, stderr bytes.Buffer
			err := run(tc.args, &out, &stderr)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("mbctl %q = %v, want %q", tc.args, err, tc.want)
			}
			if _, err := os.Stat(blob); !os.IsNotExist(err) {
				t.Errorf("a failed seal left %s (%v)", blob, err)
			}
		})
	}
	// A good blob, cut: unseal says so before the TPM sees it.
	var out, stderr bytes.Buffer
	if err := run(append([]string{"seal", "-in", secret, "-o", blob, "-swtpm", addr}, args...), &out, &stderr); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(blob)
	cut := writeFile(t, dir, "cut", b[:len(b)-10])
	if err := run([]string{"unseal", "-in", cut, "-swtpm", addr}, &out, &stderr); err == nil || !strings.Contains(err.Error(), "truncated or corrupted") {
		t.Errorf("unseal of a cut blob = %v", err)
	}
}

// TestSealPolicy checks that the sealed object's authorization policy is TPM2_PolicyPCR over the
// predicted values, the digest tpm2_policypcr computes for them (TestPredictFormatRawPolicyPCR
// checks policyPCRDigest against it on swtpm).
func TestSealPolicy(t *testing.T) {
	addr := startSWTPM(t)
	dir, args := sealFixture(t, "ro")
	secret := writeFile(t, dir, "secret", []byte("s"))
	blob := filepath.Join(dir, "blob")
	var out, stderr bytes.Buffer
	if err := run(append([]string{"seal", "-in", secret, "-o", blob, "-swtpm", addr}, args...), &out, &stderr); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(blob)
	if err != nil {
		t.Fatal(err)
	}
	parsed, err := seal.Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := tpm2.DecodePublic(parsed.Sealed.GetPub())
	if err != nil {
		t.Fatal(err)
	}
	fs := flag.NewFlagSet("p", flag.ContinueOnError)
	o := addPredictFlags(fs)
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	p, err := o.predict(io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	want, err := policyPCRDigest(eventlog.AlgSHA256, []uint32{8, 9}, [][]byte{p.Value(eventlog.AlgSHA256, 8), p.Value(eventlog.AlgSHA256, 9)})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(pub.AuthPolicy, want) {
		t.Errorf("the sealed object's policy is %x, TPM2_PolicyPCR over the predicted sha256 PCRs 8,9 is %x", pub.AuthPolicy, want)
	}
}
