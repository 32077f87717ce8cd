package imasig

import (
	"crypto"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// evmctl returns the path of evmctl, skipping the test without it unless CI is set.
func evmctl(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("evmctl")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("evmctl not on PATH and CI is set: install ima-evm-utils (Debian: apt-get install ima-evm-utils): %v", err)
		}
		t.Skipf("evmctl not on PATH: %v", err)
	}
	return p
}

// evmctlVerify runs `evmctl ima_verify --sigfile -k certDER file` in dir and reports whether it exited 0.
func evmctlVerify(t *testing.T, bin, dir, file string) (bool, string) {
	t.Helper()
	out, err := exec.Command(bin, "ima_verify", "--sigfile", "-k", filepath.Join(dir, "cert.der"), filepath.Join(dir, file)).CombinedOutput()
	if _, exit := err.(*exec.ExitError); err != nil && !exit {
		t.Fatalf("evmctl ima_verify: %v", err)
	}
	return err == nil, string(out)
}

func writeFiles(t *testing.T, dir string, files map[string][]byte) {
	t.Helper()
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestEvmctlVerifiesSign checks that evmctl accepts what Sign and SignFile make, and rejects it for
// a tampered file.
func TestEvmctlVerifiesSign(t *testing.T) {
	bin := evmctl(t)
	data := readTestdata(t, "data.txt")
	for _, k := range fixtureKeys {
		priv := fixtureSigner(t, k)
		for _, h := range fixtureHashes {
			for _, viaSignFile := range []bool{false, true} {
				name := k + "/" + h.name + "/Sign"
				if viaSignFile {
					name = k + "/" + h.name + "/SignFile"
				}
				t.Run(name, func(t *testing.T) {
					var sig []byte
					var err error
					if viaSignFile {
						sig, err = SignFile(priv, h.h, data)
					} else {
						sig, err = Sign(priv, h.h, sum(h.h, data))
					}
					if err != nil {
						t.Fatal(err)
					}
					dir := t.TempDir()
					writeFiles(t, dir, map[string][]byte{
						"cert.der": readTestdata(t, "certs", k+".der"),
						"FILE":     data, "FILE.sig": sig,
						"TAMPERED": append(append([]byte(nil), data...), '!'), "TAMPERED.sig": sig,
					})
					if ok, out := evmctlVerify(t, bin, dir, "FILE"); !ok {
						t.Errorf("evmctl ima_verify --sigfile -k %s.der FILE (signed by imasig) failed, want exit 0:\n%s", k, out)
					}
					if ok, out := evmctlVerify(t, bin, dir, "TAMPERED"); ok {
						t.Errorf("evmctl ima_verify of a tampered file exited 0, want non-zero:\n%s", out)
					}
				})
			}
		}
	}
}

// TestEvmctlGenerateKey checks GenerateKey's output both ways: evmctl signs with its key and
// imasig verifies with its certificate, and evmctl verifies imasig's signature with its DER
// certificate.
func TestEvmctlGenerateKey(t *testing.T) {
	bin := evmctl(t)
	data := readTestdata(t, "data.txt")
	for _, kind := range []string{"rsa2048", "p256", "p384"} {
		t.Run(kind, func(t *testing.T) {
			keyPEM, certPEM, certDER, err := GenerateKey(kind, "imasig evmctl test", nil)
			if err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			writeFiles(t, dir, map[string][]byte{"key.pem": keyPEM, "cert.der": certDER, "A": data, "B": data})
			out, err := exec.Command(bin, "ima_sign", "--sigfile", "-a", "sha384", "-k", filepath.Join(dir, "key.pem"), filepath.Join(dir, "A")).CombinedOutput()
			if err != nil {
				t.Fatalf("evmctl ima_sign -k GenerateKey(%s): %v\n%s", kind, err, out)
			}
			b, err := os.ReadFile(filepath.Join(dir, "A.sig"))
			if err != nil {
				t.Fatal(err)
			}
			key, err := ParseCertificate("cert.pem", certPEM)
			if err != nil {
				t.Fatal(err)
			}
			s, err := Parse(b)
			if err != nil {
				t.Fatalf("Parse(evmctl signature) = %v", err)
			}
			if _, err := Verify(s, sum(crypto.SHA384, data), []Key{key}); err != nil {
				t.Errorf("Verify(evmctl signature, GenerateKey(%s) certificate) = %v, want nil", kind, err)
			}
			priv, err := ParsePrivateKey(keyPEM)
			if err != nil {
				t.Fatal(err)
			}
			sig, err := SignFile(priv, crypto.SHA256, data)
			if err != nil {
				t.Fatal(err)
			}
			writeFiles(t, dir, map[string][]byte{"B.sig": sig})
			if ok, out := evmctlVerify(t, bin, dir, "B"); !ok {
				t.Errorf("evmctl ima_verify -k GenerateKey(%s) cert.der failed, want exit 0:\n%s", kind, out)
			}
		})
	}
}
