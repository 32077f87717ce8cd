package main

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// certWithExponent writes, in a new directory, a certificate for an RSA key whose public exponent
// is e, signed by a throwaway CA; it returns the directory.
func certWithExponent(t *testing.T, e int) string {
	t.Helper()
	ca, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"},
		NotBefore: time.Unix(0, 0), NotAfter: time.Unix(1<<32, 0), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "even exponent"},
		NotBefore: time.Unix(0, 0), NotAfter: time.Unix(1<<32, 0), KeyUsage: x509.KeyUsageDigitalSignature,
		SubjectKeyId: []byte{1, 2, 3, 4, 5, 6, 7, 8}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, caTmpl, &rsa.PublicKey{N: k.N, E: e}, ca)
	if err != nil {
		t.Fatalf("x509.CreateCertificate(E=%d): %v", e, err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "key.der"), der, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// buildArgs are the arguments of an mbctl build of the repository's policy to a temporary output.
func buildArgs(t *testing.T, more ...string) []string {
	return append([]string{"build", "-policy", "../../configs/policy", "-o", filepath.Join(t.TempDir(), "image.cpio.xz")}, more...)
}

// TestBuildRefusesWhatTheBootRefuses: mbctl build runs the boot's own checks on the exact bytes it
// would put in the image, so an image that would halt every boot is never built. PATH is empty:
// a build that got past the checks stops at finding the Go toolchain, quickly.
func TestBuildRefusesWhatTheBootRefuses(t *testing.T) {
	t.Setenv("PATH", "")
	for _, tc := range []struct {
		name string
		args []string
		want string // in the error
	}{
		{"even RSA exponent", []string{"-keys", certWithExponent(t, 65536)}, `RSA exponent "65536": want an odd number`},
		{"appraise_mode typo", []string{"-config", "on_refuse=halt", "-config", "appraise_mode=enforced"}, `/etc/measuredboot/config:2: appraise_mode="enforced": want enforce or log`},
		{"unknown setting", []string{"-config", "on_refuse_shell"}, `/etc/measuredboot/config:1: unknown setting "on_refuse_shell"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stderr bytes.Buffer
			err := run(buildArgs(t, tc.args...), &stderr, &stderr)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("mbctl build %s: error %v, want one containing %q", tc.name, err, tc.want)
			}
		})
	}
	t.Run("valid", func(t *testing.T) {
		var stderr bytes.Buffer
		err := run(buildArgs(t, "-keys", certWithExponent(t, 65537), "-config", "appraise_mode=enforce", "-config", "on_refuse=shell"), &stderr, &stderr)
		if err == nil || !strings.Contains(err.Error(), "go env") {
			t.Errorf("mbctl build of valid inputs: error %v, want the checks to pass and the build to stop at `go env` (PATH is empty)", err)
		}
	})
}
