package imasig

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/binary"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Key is a trusted public key: one certificate built into the image.
type Key struct {
	// ID is the key id signatures name: the last 4 bytes of the certificate's Subject Key
	// Identifier, which is what the kernel matches ("id:%08x" against the key's SKID); for a
	// certificate without one, KeyID of the public key, which is what evmctl ima_verify uses.
	ID      uint32
	Public  crypto.PublicKey // *rsa.PublicKey or *ecdsa.PublicKey
	Source  string           // the file the certificate came from
	Subject string           // the certificate's subject, for messages
}

// KeyID computes the IMA key id of pub as evmctl's calc_keyid_v2 does: the last 4 bytes of the
// SHA-1 over the subjectPublicKey bits of its SubjectPublicKeyInfo, that is the PKCS#1
// RSAPublicKey DER for RSA and the uncompressed point for ECDSA. This is also the SHA-1 that
// openssl (subjectKeyIdentifier=hash) and GenerateKey put in a certificate's SKID.
func KeyID(pub crypto.PublicKey) (uint32, error) {
	spki, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return 0, fmt.Errorf("imasig: key id of %T: %w", pub, err)
	}
	sum, err := spkiSHA1(spki)
	if err != nil {
		return 0, err
	}
	return binary.BigEndian.Uint32(sum[len(sum)-4:]), nil
}

// spkiSHA1 is the SHA-1 over the subjectPublicKey bit string of a DER SubjectPublicKeyInfo.
func spkiSHA1(spki []byte) ([]byte, error) {
	var info struct {
		Algorithm pkix.AlgorithmIdentifier
		PublicKey asn1.BitString
	}
	if rest, err := asn1.Unmarshal(spki, &info); err != nil || len(rest) != 0 {
		return nil, fmt.Errorf("%w: SubjectPublicKeyInfo does not parse (%v, %d trailing bytes)", ErrMalformed, err, len(rest))
	}
	sum := sha1.Sum(info.PublicKey.RightAlign())
	return sum[:], nil
}

// checkPublicKey accepts the keys the boot side verifies with: RSA 2048..4096 bits, ECDSA P-256 or
// P-384. Callers wrap its error with ErrUnsupportedKey.
func checkPublicKey(pub crypto.PublicKey) error {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		if n := k.N.BitLen(); n < 2048 || n > 4096 {
			return fmt.Errorf("RSA key of %d bits, want 2048 to 4096", n)
		}
		return nil
	case *ecdsa.PublicKey:
		if k.Curve != elliptic.P256() && k.Curve != elliptic.P384() {
			return fmt.Errorf("ECDSA curve %s, want P-256 or P-384", k.Curve.Params().Name)
		}
		return nil
	}
	return fmt.Errorf("%T, want RSA (2048 to 4096 bits) or ECDSA (P-256, P-384)", pub)
}

// ParseCertificate parses one X.509 certificate, PEM or DER, from the file called name (used
// only in messages and Key.Source) and returns its key. The key must be RSA of 2048 to 4096 bits
// or ECDSA on P-256 or P-384. Like the kernel for IMA keys, it does not check the validity
// period (a boot environment may have no trustworthy clock) nor any chain.
func ParseCertificate(name string, b []byte) (Key, error) {
	der := b
	if bytes.HasPrefix(bytes.TrimLeft(b, " \t\r\n"), []byte("-----BEGIN")) {
		var certs [][]byte
		var others []string
		for rest := b; ; {
			var blk *pem.Block
			if blk, rest = pem.Decode(rest); blk == nil {
				break
			}
			if blk.Type == "CERTIFICATE" {
				certs = append(certs, blk.Bytes)
			} else {
				others = append(others, blk.Type)
			}
		}
		switch len(certs) {
		case 0:
			return Key{}, fmt.Errorf("%w: %s: PEM without a CERTIFICATE block (found %q); put the X.509 certificate here, not a key",
				ErrMalformed, name, others)
		case 1:
			der = certs[0]
		default:
			return Key{}, fmt.Errorf("%w: %s: %d certificates, want one per file", ErrMalformed, name, len(certs))
		}
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return Key{}, fmt.Errorf("%w: %s: not an X.509 certificate in PEM or DER: %v", ErrMalformed, name, err)
	}
	if err := checkPublicKey(cert.PublicKey); err != nil {
		return Key{}, fmt.Errorf("%w: %s (%s): %v", ErrUnsupportedKey, name, cert.Subject, err)
	}
	k := Key{Public: cert.PublicKey, Source: name, Subject: cert.Subject.String()}
	if skid := cert.SubjectKeyId; len(skid) >= 4 {
		k.ID = binary.BigEndian.Uint32(skid[len(skid)-4:])
		return k, nil
	}
	sum, err := spkiSHA1(cert.RawSubjectPublicKeyInfo)
	if err != nil {
		return Key{}, fmt.Errorf("%w (%s)", err, name)
	}
	k.ID = binary.BigEndian.Uint32(sum[len(sum)-4:])
	return k, nil
}

// maxCertSize bounds what LoadKeys reads from one file.
const maxCertSize = 1 << 20

// LoadKeys parses every regular file in dir (symbolic links followed, subdirectories skipped), in
// name order, with ParseCertificate. A file that is not a supported certificate, or two
// certificates with the same key id, is an error naming the files. An empty dir gives no keys
// and no error: every signature then fails with UnknownKey.
func LoadKeys(dir string) ([]Key, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("imasig: reading key directory: %w", err)
	}
	var keys []Key
	for _, e := range ents {
		path := filepath.Join(dir, e.Name())
		fi, err := os.Stat(path)
		if err != nil {
			return nil, fmt.Errorf("imasig: %w", err)
		}
		if !fi.Mode().IsRegular() {
			continue
		}
		if fi.Size() > maxCertSize {
			return nil, fmt.Errorf("%w: %s: %d bytes, a certificate is at most %d", ErrMalformed, path, fi.Size(), maxCertSize)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("imasig: %w", err)
		}
		k, err := ParseCertificate(path, b)
		if err != nil {
			return nil, err
		}
		for _, o := range keys {
			if o.ID == k.ID {
				return nil, fmt.Errorf("%w 0x%08x: %s and %s; remove one", ErrDuplicateKeyID, k.ID, o.Source, k.Source)
			}
		}
		keys = append(keys, k)
	}
	return keys, nil
}

// knownIDs lists the key ids of keys for messages.
func knownIDs(keys []Key) string {
	if len(keys) == 0 {
		return "no keys loaded"
	}
	ids := make([]string, len(keys))
	for i, k := range keys {
		ids[i] = fmt.Sprintf("0x%08x (%s)", k.ID, k.Source)
	}
	return "known: " + strings.Join(ids, ", ")
}
