package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestSignEvmctlVerifies runs the commands a user runs: mbctl keygen, mbctl sign, then the
// independent evmctl ima_verify on the result, for each key type and hash.
func TestSignEvmctlVerifies(t *testing.T) {
	if _, err := exec.LookPath("evmctl"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("evmctl is not installed (apt-get install ima-evm-utils; scripts/deps.sh does)")
		}
		t.Skip("evmctl is not installed")
	}
	for _, kind := range []string{"p256", "p384", "rsa2048"} {
		for _, h := range []string{"sha256", "sha384", "sha512"} {
			t.Run(kind+"/"+h, func(t *testing.T) {
				dir := t.TempDir()
				var out bytes.Buffer
				if err := run([]string{"keygen", "-type", kind, "-o", dir}, &out, &out); err != nil {
					t.Fatalf("mbctl keygen: %v\n%s", err, out.String())
				}
				file := filepath.Join(dir, "vmlinuz")
				os.WriteFile(file, bytes.Repeat([]byte("kernel"), 1000), 0o644)
				if err := run([]string{"sign", "-key", filepath.Join(dir, "key.pem"), "-cert", filepath.Join(dir, "cert.der"), "-a", h, file}, &out, &out); err != nil {
					t.Fatalf("mbctl sign: %v\n%s", err, out.String())
				}
				cmd := exec.Command("evmctl", "ima_verify", "--sigfile", "-k", filepath.Join(dir, "cert.der"), file)
				if b, err := cmd.CombinedOutput(); err != nil {
					t.Fatalf("evmctl ima_verify rejected mbctl's signature: %v\n%s", err, b)
				}
				os.WriteFile(file, []byte("tampered"), 0o644)
				if err := exec.Command("evmctl", "ima_verify", "--sigfile", "-k", filepath.Join(dir, "cert.der"), file).Run(); err == nil {
					t.Fatal("evmctl ima_verify accepted a tampered file")
				}
			})
		}
	}
}
