package main

import (
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/google/go-tpm/tpm2/transport/linuxtpm"

	"github.com/measuredboot/measuredboot/pkg/attest"
	"github.com/measuredboot/measuredboot/pkg/seal"
)

// attestTo makes an attestation for the verifier's nonce (hex, from measuredboot.attest=) with
// the TPM device tpmDev, of the logs handed over in logDir (tcg.log, and every regular file in
// ima/), as mbctl attest does, and writes it to data framed as dump frames a file, named
// "attestation". The console (out) gets one line.
func attestTo(out, data io.Writer, nonceHex, logDir, tpmDev string) error {
	nonce, err := hex.DecodeString(nonceHex)
	if err != nil {
		return fmt.Errorf("attestation: measuredboot.attest=%q is not hex: %v", nonceHex, err)
	}
	if err := attest.CheckNonce(nonce); err != nil {
		return fmt.Errorf("attestation: %w", err)
	}
	tcg, err := os.ReadFile(filepath.Join(logDir, "tcg.log"))
	if err != nil {
		return fmt.Errorf("attestation: %w", err)
	}
	ima := map[string][]byte{}
	ents, err := os.ReadDir(filepath.Join(logDir, "ima"))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("attestation: %w", err)
	}
	for _, e := range ents {
		if !e.Type().IsRegular() {
			continue
		}
		b, err := os.ReadFile(filepath.Join(logDir, "ima", e.Name()))
		if err != nil {
			return fmt.Errorf("attestation: %w", err)
		}
		ima[attest.IMAPrefix+e.Name()] = b
	}
	t, err := linuxtpm.Open(tpmDev)
	if err != nil {
		return fmt.Errorf("attestation: open %s: %w", tpmDev, err)
	}
	defer t.Close()
	b, err := attest.Attest(seal.ReadWriter(t), nonce, tcg, ima)
	if err != nil {
		return fmt.Errorf("attestation: %s: %w", tpmDev, err)
	}
	frame(data, "attestation", b)
	fmt.Fprintf(out, "target: attestation: %d bytes, nonce %x, TCG log %d bytes, %d IMA lists\n", len(b), nonce, len(tcg), len(ima))
	return nil
}

// frame writes b to out between marker lines, as the host's checks read them: "target: begin
// NAME SIZE", base64 in 76-character "target: b64" lines, "target: end NAME".
func frame(out io.Writer, name string, b []byte) {
	fmt.Fprintf(out, "target: begin %s %d\n", name, len(b))
	enc := base64.StdEncoding.EncodeToString(b)
	for len(enc) > 0 {
		n := min(len(enc), 76)
		fmt.Fprintf(out, "target: b64 %s\n", enc[:n])
		enc = enc[n:]
	}
	fmt.Fprintf(out, "target: end %s\n", name)
}
