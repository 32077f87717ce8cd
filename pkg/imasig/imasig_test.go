package imasig

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/binary"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The fixtures in testdata were made by openssl and evmctl with testdata/gen.sh.
var (
	fixtureKeys   = []string{"p256", "p384", "rsa2048", "rsa4096"} // sorted, as LoadKeys returns them
	fixtureHashes = []struct {
		name string
		h    crypto.Hash
	}{{"sha256", crypto.SHA256}, {"sha384", crypto.SHA384}, {"sha512", crypto.SHA512}}
)

func readTestdata(t testing.TB, parts ...string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(append([]string{"testdata"}, parts...)...))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func fixtureSig(t testing.TB, file, key, hash string) []byte {
	return readTestdata(t, "sigs", file+"."+key+"."+hash+".sig")
}

func sum(h crypto.Hash, b []byte) []byte {
	d := h.New()
	d.Write(b)
	return d.Sum(nil)
}

func loadFixtureKeys(t testing.TB) []Key {
	t.Helper()
	keys, err := LoadKeys(filepath.Join("testdata", "certs"))
	if err != nil {
		t.Fatalf("LoadKeys(testdata/certs) = %v", err)
	}
	return keys
}

func fixtureSigner(t testing.TB, key string) crypto.Signer {
	t.Helper()
	s, err := ParsePrivateKey(readTestdata(t, "keys", key+".pem"))
	if err != nil {
		t.Fatalf("ParsePrivateKey(testdata/keys/%s.pem) = %v", key, err)
	}
	return s
}

// selfSigned makes a certificate for pub signed by priv; skid nil leaves the SKID out.
func selfSigned(t testing.TB, pub crypto.PublicKey, priv crypto.Signer, skid []byte) []byte {
	t.Helper()
	nb, na := certValidity()
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test"},
		NotBefore: nb, NotAfter: na, SubjectKeyId: skid}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, pub, priv)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func TestParseFixtures(t *testing.T) {
	for _, k := range fixtureKeys {
		for _, h := range fixtureHashes {
			t.Run(k+"/"+h.name, func(t *testing.T) {
				b := fixtureSig(t, "data.txt", k, h.name)
				s, err := Parse(b)
				if err != nil {
					t.Fatalf("Parse(%s sig) = %v, want nil", k, err)
				}
				if s.HashAlgo != h.h || s.KeyID != binary.BigEndian.Uint32(b[3:7]) || len(s.Sig) != len(b)-9 {
					t.Errorf("Parse(%x) = %+v, want hash %v, key id %x, %d sig bytes", b, s, h.h, b[3:7], len(b)-9)
				}
				if got := s.Marshal(); !bytes.Equal(got, b) {
					t.Errorf("Parse(%x).Marshal() = %x, want the input", b, got)
				}
			})
		}
	}
}

func TestParseErrors(t *testing.T) {
	good := fixtureSig(t, "data.txt", "p256", "sha256")
	with := func(off int, v byte) []byte {
		b := bytes.Clone(good)
		b[off] = v
		return b
	}
	for _, tc := range []struct {
		name  string
		in    []byte
		off   int
		field string
		want  error
	}{
		{"empty", nil, 0, "type", ErrMalformed},
		{"digest-ng", with(0, TypeDigestNG), 0, "type", ErrMalformed},
		{"verity", with(0, TypeVeritySig), 0, "type", ErrMalformed},
		{"only type", good[:1], 1, "version", ErrMalformed},
		{"version 1", with(1, 1), 1, "version", ErrMalformed},
		{"version 3", with(1, 3), 1, "version", ErrMalformed},
		{"short header", good[:6], 6, "header", ErrMalformed},
		{"sm3", with(2, 17), 2, "hash algorithm", ErrUnsupportedHash},
		{"md5", with(2, 1), 2, "hash algorithm", ErrUnsupportedHash},
		{"hash 200", with(2, 200), 2, "hash algorithm", ErrMalformed},
		{"truncated", good[:len(good)-1], 7, "signature size", ErrMalformed},
		{"trailing byte", append(bytes.Clone(good), 0), 7, "signature size", ErrMalformed},
		{"header only", append(bytes.Clone(good[:7]), 0, 0), 7, "signature size", ErrMalformed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := Parse(tc.in)
			var pe *ParseError
			if !errors.As(err, &pe) || pe.Offset != tc.off || pe.Field != tc.field || !errors.Is(err, tc.want) {
				t.Fatalf("Parse(%x) = %+v, %v, want ParseError at offset %d (%s) wrapping %v", tc.in, s, err, tc.off, tc.field, tc.want)
			}
		})
	}
}

func TestMarshalInvalid(t *testing.T) {
	for _, tc := range []struct {
		name string
		s    Signature
	}{
		{"md5", Signature{HashAlgo: crypto.MD5, Sig: []byte{1}}},
		{"empty sig", Signature{HashAlgo: crypto.SHA256}},
		{"64 KiB sig", Signature{HashAlgo: crypto.SHA256, Sig: make([]byte, 1<<16)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.s.Marshal(); got != nil {
				t.Errorf("%+v.Marshal() = %x, want nil", tc.s, got)
			}
		})
	}
}

func TestParseDigest(t *testing.T) {
	data := readTestdata(t, "data.txt")
	for _, tc := range []struct {
		name string
		h    crypto.Hash
	}{{"sha1", crypto.SHA1}, {"sha256", crypto.SHA256}, {"sha512", crypto.SHA512}} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := hex.DecodeString(strings.TrimSpace(string(readTestdata(t, "digests", "data.txt."+tc.name+".hex"))))
			if err != nil {
				t.Fatal(err)
			}
			h, d, err := ParseDigest(b)
			if want := sum(tc.h, data); err != nil || h != tc.h || !bytes.Equal(d, want) {
				t.Errorf("ParseDigest(%x) = %v, %x, %v, want %v, %x, nil", b, h, d, err, tc.h, want)
			}
		})
	}
	for _, tc := range []struct {
		name string
		in   []byte
		off  int
		want error
	}{
		{"empty", nil, 0, ErrMalformed},
		{"signature", fixtureSig(t, "data.txt", "p256", "sha256"), 0, ErrMalformed},
		{"no algorithm", []byte{TypeDigestNG}, 1, ErrMalformed},
		{"sm3", append([]byte{TypeDigestNG, 17}, make([]byte, 32)...), 1, ErrUnsupportedHash},
		{"short sha256", append([]byte{TypeDigestNG, 4}, make([]byte, 31)...), 2, ErrMalformed},
		{"long sha256", append([]byte{TypeDigestNG, 4}, make([]byte, 33)...), 2, ErrMalformed},
		{"legacy md5 length", append([]byte{TypeDigest}, make([]byte, 16)...), 1, ErrMalformed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := ParseDigest(tc.in)
			var pe *ParseError
			if !errors.As(err, &pe) || pe.Offset != tc.off || !errors.Is(err, tc.want) {
				t.Errorf("ParseDigest(%x) = %v, want ParseError at offset %d wrapping %v", tc.in, err, tc.off, tc.want)
			}
		})
	}
}

// TestKeyID checks KeyID against the key id evmctl wrote into its signatures and the SKID openssl
// wrote into the certificates.
func TestKeyID(t *testing.T) {
	for _, k := range fixtureKeys {
		t.Run(k, func(t *testing.T) {
			id, err := KeyID(fixtureSigner(t, k).Public())
			if err != nil {
				t.Fatal(err)
			}
			if want := binary.BigEndian.Uint32(fixtureSig(t, "data.txt", k, "sha256")[3:7]); id != want {
				t.Errorf("KeyID(%s) = 0x%08x, want 0x%08x (evmctl's)", k, id, want)
			}
			cert, err := x509.ParseCertificate(readTestdata(t, "certs", k+".der"))
			if err != nil {
				t.Fatal(err)
			}
			if skid := cert.SubjectKeyId; len(skid) != 20 || id != binary.BigEndian.Uint32(skid[16:]) {
				t.Errorf("KeyID(%s) = 0x%08x, want the tail of SKID %x", k, id, skid)
			}
			if id2, err := KeyID(cert.PublicKey); err != nil || id2 != id {
				t.Errorf("KeyID(certificate's key) = 0x%08x, %v, want 0x%08x", id2, err, id)
			}
		})
	}
	if id, err := KeyID(struct{}{}); err == nil {
		t.Errorf("KeyID(struct{}{}) = 0x%08x, nil, want an error", id)
	}
}

func TestParseCertificate(t *testing.T) {
	for _, k := range fixtureKeys {
		t.Run(k, func(t *testing.T) {
			der, err := ParseCertificate(k+".der", readTestdata(t, "certs", k+".der"))
			if err != nil {
				t.Fatalf("ParseCertificate(%s.der) = %v", k, err)
			}
			pm, err := ParseCertificate(k+".pem", readTestdata(t, "pem", k+".pem"))
			if err != nil {
				t.Fatalf("ParseCertificate(%s.pem) = %v", k, err)
			}
			want, _ := KeyID(der.Public)
			if der.ID != want || pm.ID != want || der.Subject != "CN=imasig test "+k || pm.Subject != der.Subject ||
				der.Source != k+".der" || !pm.Public.(interface{ Equal(crypto.PublicKey) bool }).Equal(der.Public) {
				t.Errorf("ParseCertificate(%s) = %+v (DER), %+v (PEM), want ID 0x%08x and the same key", k, der, pm, want)
			}
		})
	}

	p256, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	p521, _ := ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	_, ed, _ := ed25519.GenerateKey(rand.Reader)
	rsa2048 := fixtureSigner(t, "rsa2048")
	noSKID := selfSigned(t, p256.Public(), p256, nil)
	otherSKID := selfSigned(t, p256.Public(), p256, []byte{1, 2, 3, 4, 5, 6, 7, 8})
	t.Run("no SKID", func(t *testing.T) {
		k, err := ParseCertificate("noskid.der", noSKID)
		want, _ := KeyID(p256.Public())
		if err != nil || k.ID != want {
			t.Errorf("ParseCertificate(noskid.der) = %+v, %v, want ID 0x%08x (computed)", k, err, want)
		}
	})
	t.Run("SKID not the key hash", func(t *testing.T) {
		k, err := ParseCertificate("skid.der", otherSKID)
		if err != nil || k.ID != 0x05060708 {
			t.Errorf("ParseCertificate(skid.der) = %+v, %v, want ID 0x05060708 (the SKID's tail, as the kernel)", k, err)
		}
	})

	twoCerts := append(readTestdata(t, "pem", "p256.pem"), readTestdata(t, "pem", "p384.pem")...)
	for _, tc := range []struct {
		name string
		in   []byte
		want error
	}{
		{"private key", readTestdata(t, "keys", "p256.pem"), ErrMalformed},
		{"garbage", []byte("not a certificate"), ErrMalformed},
		{"empty", nil, ErrMalformed},
		{"two certificates", twoCerts, ErrMalformed},
		{"truncated DER", readTestdata(t, "certs", "p256.der")[:100], ErrMalformed},
		{"P-521", selfSigned(t, p521.Public(), p521, []byte{1, 2, 3, 4}), ErrUnsupportedKey},
		{"Ed25519", selfSigned(t, ed.Public(), ed, []byte{1, 2, 3, 4}), ErrUnsupportedKey},
		{"RSA signed, P-521 key", selfSigned(t, p521.Public(), rsa2048, []byte{1, 2, 3, 4}), ErrUnsupportedKey},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k, err := ParseCertificate("bad.crt", tc.in)
			if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), "bad.crt") {
				t.Errorf("ParseCertificate(bad.crt) = %+v, %v, want an error naming bad.crt wrapping %v", k, err, tc.want)
			}
		})
	}
}

func TestLoadKeys(t *testing.T) {
	keys := loadFixtureKeys(t)
	if len(keys) != len(fixtureKeys) {
		t.Fatalf("LoadKeys(testdata/certs) = %d keys, want %d", len(keys), len(fixtureKeys))
	}
	for i, k := range fixtureKeys {
		id := binary.BigEndian.Uint32(fixtureSig(t, "data.txt", k, "sha256")[3:7])
		if keys[i].ID != id || keys[i].Source != filepath.Join("testdata", "certs", k+".der") {
			t.Errorf("LoadKeys(testdata/certs)[%d] = %+v, want %s.der with ID 0x%08x", i, keys[i], k, id)
		}
	}

	write := func(t *testing.T, dir string, files map[string][]byte) {
		for name, b := range files {
			if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	t.Run("skips directories, reads PEM", func(t *testing.T) {
		dir := t.TempDir()
		write(t, dir, map[string][]byte{"a.pem": readTestdata(t, "pem", "p384.pem")})
		if err := os.Mkdir(filepath.Join(dir, "sub"), 0o755); err != nil {
			t.Fatal(err)
		}
		if got, err := LoadKeys(dir); err != nil || len(got) != 1 || got[0].ID != keys[1].ID {
			t.Errorf("LoadKeys(a.pem, sub/) = %+v, %v, want the P-384 key", got, err)
		}
	})
	t.Run("empty", func(t *testing.T) {
		if got, err := LoadKeys(t.TempDir()); err != nil || len(got) != 0 {
			t.Errorf("LoadKeys(empty) = %+v, %v, want no keys, nil", got, err)
		}
	})
	for _, tc := range []struct {
		name  string
		files map[string][]byte
		want  error
		names []string
	}{
		{"duplicate", map[string][]byte{"a.der": readTestdata(t, "certs", "p256.der"), "b.pem": readTestdata(t, "pem", "p256.pem")},
			ErrDuplicateKeyID, []string{"a.der", "b.pem"}},
		{"bad file", map[string][]byte{"a.der": readTestdata(t, "certs", "p256.der"), "README": []byte("hello")},
			ErrMalformed, []string{"README"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			write(t, dir, tc.files)
			got, err := LoadKeys(dir)
			if !errors.Is(err, tc.want) {
				t.Fatalf("LoadKeys(%s) = %+v, %v, want %v", tc.name, got, err, tc.want)
			}
			for _, n := range tc.names {
				if !strings.Contains(err.Error(), n) {
					t.Errorf("LoadKeys(%s) = %v, want the error to name %s", tc.name, err, n)
				}
			}
		})
	}
	if _, err := LoadKeys(filepath.Join(t.TempDir(), "missing")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("LoadKeys(missing) = %v, want ErrNotExist", err)
	}
}

func TestVerifyFixtures(t *testing.T) {
	keys := loadFixtureKeys(t)
	data := readTestdata(t, "data.txt")
	for _, k := range fixtureKeys {
		for _, h := range fixtureHashes {
			t.Run(k+"/"+h.name, func(t *testing.T) {
				s, err := Parse(fixtureSig(t, "data.txt", k, h.name))
				if err != nil {
					t.Fatal(err)
				}
				got, err := Verify(s, sum(s.HashAlgo, data), keys)
				if err != nil || filepath.Base(got.Source) != k+".der" {
					t.Errorf("Verify(%s %s) = %+v, %v, want key %s.der", k, h.name, got, err, k)
				}
				if _, err := Verify(s, sum(s.HashAlgo, data), keys, crypto.SHA1, h.h); err != nil {
					t.Errorf("Verify(%s %s, allowed sha1,%s) = %v, want nil", k, h.name, h.name, err)
				}
			})
		}
	}
}

func TestVerifyFailures(t *testing.T) {
	keys := loadFixtureKeys(t)
	data := readTestdata(t, "data.txt")
	for _, k := range []string{"p256", "rsa2048"} {
		s, err := Parse(fixtureSig(t, "data.txt", k, "sha256"))
		if err != nil {
			t.Fatal(err)
		}
		other, err := Parse(fixtureSig(t, "other.txt", k, "sha256"))
		if err != nil {
			t.Fatal(err)
		}
		digest := sum(crypto.SHA256, data)
		var self, others []Key
		for _, key := range keys {
			if key.ID == s.KeyID {
				self = append(self, key)
			} else {
				others = append(others, key)
			}
		}
		flip := func(b []byte, i int) []byte {
			b = bytes.Clone(b)
			b[i] ^= 0x01
			return b
		}
		impostor := Key{ID: s.KeyID, Public: fixtureSigner(t, "p384").Public(), Source: "impostor"}
		for _, tc := range []struct {
			name    string
			sig     Signature
			digest  []byte
			keys    []Key
			allowed []crypto.Hash
			want    Reason
		}{
			{"flipped digest", *s, flip(digest, 7), keys, nil, BadSignature},
			{"flipped last digest byte", *s, flip(digest, 31), keys, nil, BadSignature},
			{"flipped signature", Signature{s.HashAlgo, s.KeyID, flip(s.Sig, len(s.Sig)/2)}, digest, keys, nil, BadSignature},
			{"flipped last signature byte", Signature{s.HashAlgo, s.KeyID, flip(s.Sig, len(s.Sig)-1)}, digest, keys, nil, BadSignature},
			{"truncated signature", Signature{s.HashAlgo, s.KeyID, s.Sig[:len(s.Sig)-1]}, digest, keys, nil, BadSignature},
			{"another file", *other, digest, keys, nil, BadSignature},
			{"other keys only", *s, digest, others, nil, UnknownKey},
			{"no keys", *s, digest, nil, nil, UnknownKey},
			{"key id collision", *s, digest, []Key{impostor}, nil, BadSignature},
			{"wrong key id", Signature{s.HashAlgo, s.KeyID ^ 1, s.Sig}, digest, keys, nil, UnknownKey},
			{"sha512 digest", *s, sum(crypto.SHA512, data), keys, nil, DigestAlgorithmMismatch},
			{"sha256 claimed sha384", Signature{crypto.SHA384, s.KeyID, s.Sig}, digest, keys, nil, DigestAlgorithmMismatch},
			{"sha384 claimed, sha384 digest", Signature{crypto.SHA384, s.KeyID, s.Sig}, sum(crypto.SHA384, data), keys, nil, BadSignature},
			{"not allowed", *s, digest, keys, []crypto.Hash{crypto.SHA384, crypto.SHA512}, AlgorithmNotAllowed},
			{"unsupported hash", Signature{crypto.MD5, s.KeyID, s.Sig}, sum(crypto.MD5, data), keys, nil, AlgorithmNotAllowed},
		} {
			t.Run(k+"/"+tc.name, func(t *testing.T) {
				got, err := Verify(&tc.sig, tc.digest, tc.keys, tc.allowed...)
				var ve *VerifyError
				if !errors.As(err, &ve) || ve.Reason != tc.want || ve.KeyID != tc.sig.KeyID {
					t.Fatalf("Verify(%s) = %+v, %v, want VerifyError %v", tc.name, got, err, tc.want)
				}
				if tc.want == UnknownKey && !strings.Contains(err.Error(), "unknown key id 0x") {
					t.Errorf("Verify(%s) = %v, want it to say \"unknown key id 0x...\"", tc.name, err)
				}
			})
		}
		if got, err := Verify(s, digest, self); err != nil {
			t.Errorf("Verify(%s, own key only) = %+v, %v, want nil", k, got, err)
		}
	}
	if _, err := Verify(nil, nil, keys); err == nil {
		t.Error("Verify(nil) = nil, want an error")
	}
}

func TestSign(t *testing.T) {
	keys := loadFixtureKeys(t)
	data := readTestdata(t, "data.txt")
	for _, k := range fixtureKeys {
		priv := fixtureSigner(t, k)
		for _, h := range []crypto.Hash{crypto.SHA1, crypto.SHA224, crypto.SHA256, crypto.SHA384, crypto.SHA512} {
			t.Run(k+"/"+h.String(), func(t *testing.T) {
				b, err := SignFile(priv, h, data)
				if err != nil {
					t.Fatalf("SignFile(%s, %v) = %v", k, h, err)
				}
				s, err := Parse(b)
				if err != nil {
					t.Fatalf("Parse(SignFile(%s, %v)) = %v", k, h, err)
				}
				if got, err := Verify(s, sum(h, data), keys); err != nil || filepath.Base(got.Source) != k+".der" {
					t.Errorf("Verify(SignFile(%s, %v)) = %+v, %v, want key %s.der", k, h, got, err, k)
				}
			})
		}
	}
	// RSA PKCS#1 v1.5 is deterministic: Sign must give evmctl's bytes exactly.
	for _, k := range []string{"rsa2048", "rsa4096"} {
		for _, h := range fixtureHashes {
			t.Run("evmctl bytes/"+k+"/"+h.name, func(t *testing.T) {
				want := fixtureSig(t, "data.txt", k, h.name)
				if got, err := Sign(fixtureSigner(t, k), h.h, sum(h.h, data)); err != nil || !bytes.Equal(got, want) {
					t.Errorf("Sign(%s, %s) = %x, %v, want evmctl's %x", k, h.name, got, err, want)
				}
			})
		}
	}
	_, ed, _ := ed25519.GenerateKey(rand.Reader)
	p256 := fixtureSigner(t, "p256")
	for _, tc := range []struct {
		name   string
		priv   crypto.Signer
		h      crypto.Hash
		digest []byte
		want   error
	}{
		{"md5", p256, crypto.MD5, make([]byte, 16), ErrUnsupportedHash},
		{"short digest", p256, crypto.SHA256, make([]byte, 31), nil},
		{"ed25519", ed, crypto.SHA256, make([]byte, 32), ErrUnsupportedKey},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Sign(tc.priv, tc.h, tc.digest)
			if err == nil || (tc.want != nil && !errors.Is(err, tc.want)) {
				t.Errorf("Sign(%s) = %x, %v, want an error wrapping %v", tc.name, got, err, tc.want)
			}
		})
	}
}

func TestParsePrivateKey(t *testing.T) {
	p256 := fixtureSigner(t, "p256").(*ecdsa.PrivateKey)
	rsaKey := fixtureSigner(t, "rsa2048")
	sec1, _ := x509.MarshalECPrivateKey(p256)
	pkcs1 := x509.MarshalPKCS1PrivateKey(rsaKey.(*rsa.PrivateKey))
	pemOf := func(typ string, b []byte, h map[string]string) []byte {
		return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: b, Headers: h})
	}
	ecParams := pemOf("EC PARAMETERS", []byte{0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07}, nil)
	_, ed, _ := ed25519.GenerateKey(rand.Reader)
	edPKCS8, _ := x509.MarshalPKCS8PrivateKey(ed)
	for _, tc := range []struct {
		name string
		in   []byte
		want crypto.PublicKey // nil: an error
	}{
		{"PKCS#8 PEM", readTestdata(t, "keys", "p384.pem"), fixtureSigner(t, "p384").Public()},
		{"SEC1 PEM after EC PARAMETERS", append(ecParams, pemOf("EC PRIVATE KEY", sec1, nil)...), p256.Public()},
		{"PKCS#1 PEM", pemOf("RSA PRIVATE KEY", pkcs1, nil), rsaKey.Public()},
		{"key with certificate appended", append(readTestdata(t, "keys", "p256.pem"), readTestdata(t, "pem", "p256.pem")...), p256.Public()},
		{"SEC1 DER", sec1, p256.Public()},
		{"PKCS#1 DER", pkcs1, rsaKey.Public()},
		{"certificate only", readTestdata(t, "pem", "p256.pem"), nil},
		{"encrypted PKCS#8", pemOf("ENCRYPTED PRIVATE KEY", []byte{1}, nil), nil},
		{"encrypted PKCS#1", pemOf("RSA PRIVATE KEY", pkcs1, map[string]string{"Proc-Type": "4,ENCRYPTED", "DEK-Info": "AES-128-CBC,00"}), nil},
		{"Ed25519", pemOf("PRIVATE KEY", edPKCS8, nil), nil},
		{"garbage", []byte("garbage"), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParsePrivateKey(tc.in)
			switch {
			case tc.want == nil && err == nil:
				t.Errorf("ParsePrivateKey(%s) = %T, nil, want an error", tc.name, got)
			case tc.want != nil && (err != nil || !got.Public().(interface{ Equal(crypto.PublicKey) bool }).Equal(tc.want)):
				t.Errorf("ParsePrivateKey(%s) = %v, want the key", tc.name, err)
			}
		})
	}
}

func TestGenerateKey(t *testing.T) {
	data := readTestdata(t, "data.txt")
	for _, kind := range []string{"rsa2048", "rsa3072", "rsa4096", "p256", "p384"} {
		t.Run(kind, func(t *testing.T) {
			keyPEM, certPEM, certDER, err := GenerateKey(kind, "example IMA key", rand.Reader)
			if err != nil {
				t.Fatalf("GenerateKey(%s) = %v", kind, err)
			}
			priv, err := ParsePrivateKey(keyPEM)
			if err != nil {
				t.Fatalf("ParsePrivateKey(GenerateKey(%s)) = %v", kind, err)
			}
			id, _ := KeyID(priv.Public())
			cert, err := x509.ParseCertificate(certDER)
			if err != nil {
				t.Fatal(err)
			}
			nb, na := certValidity()
			if cert.KeyUsage != x509.KeyUsageDigitalSignature || cert.IsCA || nb.Year() != 2000 || na.Year() != 9999 ||
				!cert.NotBefore.Equal(nb) || !cert.NotAfter.Equal(na) || cert.Subject.CommonName != "example IMA key" ||
				len(cert.SubjectKeyId) != 20 || binary.BigEndian.Uint32(cert.SubjectKeyId[16:]) != id {
				t.Errorf("GenerateKey(%s) certificate: usage %v, CA %v, %v..%v, %v, SKID %x; want digitalSignature, end entity, "+
					"2000..9999, CN, SKID ending in %08x", kind, cert.KeyUsage, cert.IsCA, cert.NotBefore, cert.NotAfter, cert.Subject, cert.SubjectKeyId, id)
			}
			if err := cert.CheckSignature(cert.SignatureAlgorithm, cert.RawTBSCertificate, cert.Signature); err != nil {
				t.Errorf("GenerateKey(%s) certificate is not self-signed: %v", kind, err)
			}
			kp, err := ParseCertificate("cert.pem", certPEM)
			if err != nil || kp.ID != id {
				t.Fatalf("ParseCertificate(GenerateKey(%s) PEM) = %+v, %v, want ID 0x%08x", kind, kp, err, id)
			}
			b, err := SignFile(priv, crypto.SHA256, data)
			if err != nil {
				t.Fatal(err)
			}
			s, _ := Parse(b)
			if _, err := Verify(s, sum(crypto.SHA256, data), []Key{kp}); err != nil {
				t.Errorf("Verify(SignFile(GenerateKey(%s))) = %v, want nil", kind, err)
			}
		})
	}
	for _, tc := range []struct{ kind, subject string }{{"rsa1024", "x"}, {"ed25519", "x"}, {"p256", ""}} {
		if _, _, _, err := GenerateKey(tc.kind, tc.subject, nil); err == nil {
			t.Errorf("GenerateKey(%q, %q) = nil error, want an error", tc.kind, tc.subject)
		}
	}
}
