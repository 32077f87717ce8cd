package main

import (
	"crypto"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/measuredboot/measuredboot/pkg/ima"
	"github.com/measuredboot/measuredboot/pkg/imasig"
)

// cmdSign writes FILE.sig for each FILE: an IMA v2 signature, as evmctl ima_sign --sigfile does.
func cmdSign(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("sign", stderr)
	keyPath := fs.String("key", "", "private key (PEM: PKCS#8, PKCS#1 RSA or SEC1 EC)")
	certPath := fs.String("cert", "", "certificate to check the key against (optional)")
	hashName := fs.String("a", "sha256", "hash algorithm: sha256, sha384 or sha512")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *keyPath == "" || fs.NArg() == 0 {
		return errors.New("usage: mbctl sign --key KEY [--cert CERT] [-a sha256] FILE...")
	}
	h, err := ima.HashByName(*hashName)
	if err != nil {
		return err
	}
	kb, err := os.ReadFile(*keyPath)
	if err != nil {
		return err
	}
	priv, err := imasig.ParsePrivateKey(kb)
	if err != nil {
		return fmt.Errorf("%s: %w", *keyPath, err)
	}
	id, err := imasig.KeyID(priv.Public())
	if err != nil {
		return err
	}
	if *certPath != "" {
		cb, err := os.ReadFile(*certPath)
		if err != nil {
			return err
		}
		k, err := imasig.ParseCertificate(*certPath, cb)
		if err != nil {
			return err
		}
		if k.ID != id {
			return fmt.Errorf("%s has key id 0x%08x, but %s is key 0x%08x", *certPath, k.ID, *keyPath, id)
		}
	}
	for _, f := range fs.Args() {
		if err := signOne(priv, h, f); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%s.sig: key id 0x%08x, %s\n", f, id, *hashName)
	}
	return nil
}

func signOne(priv crypto.Signer, h crypto.Hash, path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	sig, err := imasig.SignFile(priv, h, data)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return os.WriteFile(path+".sig", sig, 0o644)
}

// cmdKeygen writes DIR/key.pem (private), DIR/cert.pem and DIR/cert.der (to build into the image
// with KEYS=DIR after moving key.pem out of it).
func cmdKeygen(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("keygen", stderr)
	kind := fs.String("type", "p256", "key type: rsa2048, rsa3072, rsa4096, p256 or p384")
	subject := fs.String("subject", "measuredboot signing key", "certificate subject common name")
	out := fs.String("o", "", "directory to write key.pem, cert.pem and cert.der to")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *out == "" {
		return errors.New("usage: mbctl keygen [-type p256] [-subject NAME] -o DIR")
	}
	keyPEM, certPEM, certDER, err := imasig.GenerateKey(*kind, *subject, rand.Reader)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return err
	}
	for _, f := range []struct {
		name string
		data []byte
		mode os.FileMode
	}{{"key.pem", keyPEM, 0o600}, {"cert.pem", certPEM, 0o644}, {"cert.der", certDER, 0o644}} {
		if err := os.WriteFile(filepath.Join(*out, f.name), f.data, f.mode); err != nil {
			return err
		}
	}
	k, err := imasig.ParseCertificate("cert.der", certDER)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s: key.pem, cert.pem, cert.der (%s, key id 0x%08x)\n", *out, *kind, k.ID)
	return nil
}
