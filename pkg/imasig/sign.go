package imasig

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"time"
)

// Sign signs digest, a digest of the file made with h, with priv and returns the whole
// security.ima / FILE.sig value, byte-compatible with `evmctl ima_sign`: RSA keys sign PKCS#1
// v1.5 over the DigestInfo of digest, ECDSA keys an ASN.1 DER signature over digest, and the
// key id is KeyID of priv's public key. The key must be one ParseCertificate accepts. The new
// signature is verified before it is returned.
func Sign(priv crypto.Signer, h crypto.Hash, digest []byte) ([]byte, error) {
	if _, err := kernelHashID(h); err != nil {
		return nil, err
	}
	if len(digest) != h.Size() {
		return nil, fmt.Errorf("imasig: sign: digest is %d bytes, a %s digest is %d", len(digest), hashName(h), h.Size())
	}
	pub := priv.Public()
	if err := checkPublicKey(pub); err != nil {
		return nil, fmt.Errorf("%w: sign: %v", ErrUnsupportedKey, err)
	}
	id, err := KeyID(pub)
	if err != nil {
		return nil, err
	}
	// crypto.Hash as SignerOpts: PKCS#1 v1.5 for RSA, ASN.1 DER for ECDSA.
	raw, err := priv.Sign(rand.Reader, digest, h)
	if err != nil {
		return nil, fmt.Errorf("imasig: sign with %s key 0x%08x: %w", hashName(h), id, err)
	}
	sig := &Signature{HashAlgo: h, KeyID: id, Sig: raw}
	if _, err := Verify(sig, digest, []Key{{ID: id, Public: pub, Source: "signing key"}}); err != nil {
		return nil, fmt.Errorf("imasig: sign: the new signature does not verify: %w", err)
	}
	b := sig.Marshal()
	if b == nil {
		return nil, fmt.Errorf("%w: sign: %d-byte signature does not fit the format", ErrUnsupportedKey, len(raw))
	}
	return b, nil
}

// SignFile hashes data with h and signs the digest with Sign.
func SignFile(priv crypto.Signer, h crypto.Hash, data []byte) ([]byte, error) {
	if _, err := kernelHashID(h); err != nil || !h.Available() {
		return nil, fmt.Errorf("%w: %v", ErrUnsupportedHash, h)
	}
	d := h.New()
	d.Write(data)
	return Sign(priv, h, d.Sum(nil))
}

// ParsePrivateKey parses a signing key: PEM "PRIVATE KEY" (PKCS#8, what openssl genpkey and
// GenerateKey write), "RSA PRIVATE KEY" (PKCS#1) or "EC PRIVATE KEY" (SEC1), or the same in DER.
// Other PEM blocks (EC PARAMETERS, a CERTIFICATE appended as evmctl allows) are skipped. Encrypted
// keys are refused. The key must be one ParseCertificate accepts.
func ParsePrivateKey(b []byte) (crypto.Signer, error) {
	der, kind := b, ""
	for rest := b; ; {
		var blk *pem.Block
		if blk, rest = pem.Decode(rest); blk == nil {
			break
		}
		switch blk.Type {
		case "PRIVATE KEY", "RSA PRIVATE KEY", "EC PRIVATE KEY":
			if _, enc := blk.Headers["DEK-Info"]; enc {
				return nil, fmt.Errorf("imasig: encrypted %s is not supported; decrypt it with `openssl pkey`", blk.Type)
			}
			der, kind = blk.Bytes, blk.Type
		case "ENCRYPTED PRIVATE KEY":
			return nil, errors.New("imasig: encrypted PRIVATE KEY is not supported; decrypt it with `openssl pkey`")
		default:
			continue
		}
		break
	}
	var key any
	var err error
	switch kind {
	case "RSA PRIVATE KEY":
		key, err = x509.ParsePKCS1PrivateKey(der)
	case "EC PRIVATE KEY":
		key, err = x509.ParseECPrivateKey(der)
	default:
		if key, err = x509.ParsePKCS8PrivateKey(der); err != nil && kind == "" {
			if k, e := x509.ParsePKCS1PrivateKey(der); e == nil {
				key, err = k, nil
			} else if k, e := x509.ParseECPrivateKey(der); e == nil {
				key, err = k, nil
			}
		}
	}
	if err != nil && kind == "" {
		return nil, fmt.Errorf("%w: not a private key: want PEM PRIVATE KEY, RSA PRIVATE KEY or EC PRIVATE KEY, or DER PKCS#8, PKCS#1 or SEC1", ErrMalformed)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: PEM %s: %v", ErrMalformed, kind, err)
	}
	s, ok := key.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("%w: %T cannot sign", ErrUnsupportedKey, key)
	}
	if err := checkPublicKey(s.Public()); err != nil {
		return nil, fmt.Errorf("%w: private key: %v", ErrUnsupportedKey, err)
	}
	return s, nil
}

// certValidity is the validity of the certificates GenerateKey makes: fixed and wide, since neither
// the kernel nor this package checks validity for IMA keys and a boot environment may have no clock.
// 9999-12-31T23:59:59Z is RFC 5280's "no well-defined expiration date".
func certValidity() (notBefore, notAfter time.Time) {
	return time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC)
}

// GenerateKey makes a signing key of kind "rsa2048", "rsa3072", "rsa4096", "p256" or "p384" and a
// self-signed certificate for it with subject CN=subject. The certificate has: SubjectKeyId = the
// SHA-1 of the public key (so its last 4 bytes are KeyID, as with openssl's default
// subjectKeyIdentifier=hash), keyUsage digitalSignature (critical; the kernel's
// restrict_link_by_digsig wants it for .ima keys), basic constraints CA:FALSE, a random 16-byte
// serial, and validity 2000-01-01T00:00:00Z to 9999-12-31T23:59:59Z (fixed: nothing checks it).
// It returns the key as PEM PKCS#8 (readable by evmctl ima_sign -k) and the certificate as PEM
// and DER (DER is what evmctl ima_verify -k and the kernel's x509_ima.der want).
//
// random is read for the serial number and, where the Go version honours it, for key generation
// and the certificate signature; since Go 1.26 keys always come from the system's secure source.
// A nil random means crypto/rand.Reader.
func GenerateKey(kind, subject string, random io.Reader) (keyPEM, certPEM, certDER []byte, err error) {
	if random == nil {
		random = rand.Reader
	}
	if subject == "" {
		return nil, nil, nil, errors.New("imasig: generate key: empty subject, want a common name such as \"example.org IMA signing key\"")
	}
	var priv crypto.Signer
	switch kind {
	case "rsa2048", "rsa3072", "rsa4096":
		var bits int
		fmt.Sscanf(kind, "rsa%d", &bits)
		priv, err = rsa.GenerateKey(random, bits)
	case "p256":
		priv, err = ecdsa.GenerateKey(elliptic.P256(), random)
	case "p384":
		priv, err = ecdsa.GenerateKey(elliptic.P384(), random)
	default:
		return nil, nil, nil, fmt.Errorf("%w: generate key: kind %q, want rsa2048, rsa3072, rsa4096, p256 or p384", ErrUnsupportedKey, kind)
	}
	if err != nil {
		return nil, nil, nil, fmt.Errorf("imasig: generate %s key: %w", kind, err)
	}
	spki, err := x509.MarshalPKIXPublicKey(priv.Public())
	if err != nil {
		return nil, nil, nil, fmt.Errorf("imasig: generate key: %w", err)
	}
	skid, err := spkiSHA1(spki)
	if err != nil {
		return nil, nil, nil, err
	}
	serial := make([]byte, 16)
	if _, err := io.ReadFull(random, serial); err != nil {
		return nil, nil, nil, fmt.Errorf("imasig: generate key: serial number: %w", err)
	}
	serial[0] = serial[0]&0x7f | 0x40 // positive, 16 bytes in DER, never zero
	notBefore, notAfter := certValidity()
	tmpl := &x509.Certificate{
		SerialNumber:          new(big.Int).SetBytes(serial),
		Subject:               pkix.Name{CommonName: subject},
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		KeyUsage:              x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		SubjectKeyId:          skid,
	}
	certDER, err = x509.CreateCertificate(random, tmpl, tmpl, priv.Public(), priv)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("imasig: generate key: certificate: %w", err)
	}
	pkcs8, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("imasig: generate key: %w", err)
	}
	keyPEM = pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8})
	certPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: certDER})
	return keyPEM, certPEM, certDER, nil
}
