package imasig

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/hex"
	"fmt"
	"math/big"
	"strconv"
	"strings"
)

// The key list is how the image carries its keys: the build parses the certificates (LoadKeys, on
// the host) and writes each key as one line, so the boot program needs no X.509 or ASN.1 parser.
// A line is
//
//	key <id, 8 hex digits> rsa <e>:<modulus, hex> <source, quoted> <subject, quoted>
//	key <id, 8 hex digits> p256|p384 <uncompressed point, hex> <source, quoted> <subject, quoted>
//
// The first line is keyListHeader; blank lines and lines starting with # are ignored.
const keyListHeader = "measuredboot-keys v1"

// MarshalKeyList writes keys in the key list format, in their order.
func MarshalKeyList(keys []Key) ([]byte, error) {
	var b strings.Builder
	b.WriteString(keyListHeader + "\n# id type public source subject; made from certificates at build time\n")
	for _, k := range keys {
		var kind, pub string
		switch p := k.Public.(type) {
		case *rsa.PublicKey:
			kind, pub = "rsa", fmt.Sprintf("%d:%x", p.E, p.N.Bytes())
		case *ecdsa.PublicKey:
			switch p.Curve {
			case elliptic.P256():
				kind = "p256"
			case elliptic.P384():
				kind = "p384"
			default:
				return nil, fmt.Errorf("%w: %s: ECDSA curve %s", ErrUnsupportedKey, k.Source, p.Curve.Params().Name)
			}
			raw, err := p.Bytes()
			if err != nil {
				return nil, fmt.Errorf("%w: %s: %v", ErrUnsupportedKey, k.Source, err)
			}
			pub = hex.EncodeToString(raw)
		default:
			return nil, fmt.Errorf("%w: %s: %T", ErrUnsupportedKey, k.Source, k.Public)
		}
		fmt.Fprintf(&b, "key %08x %s %s %s %s\n", k.ID, kind, pub, strconv.Quote(k.Source), strconv.Quote(k.Subject))
	}
	return []byte(b.String()), nil
}

// maxKeyList bounds a key list (a 4096-bit RSA key is about 1.2 kB of line).
const maxKeyList = 1 << 20

// ParseKeyList reads a key list written by MarshalKeyList from the file called name (used in
// messages). Every key is checked as LoadKeys checks a certificate's (RSA of 2048 to 4096 bits
// with an odd exponent, ECDSA points on P-256 or P-384), and two keys with one id are an error.
// Errors name the file and line.
func ParseKeyList(name string, b []byte) ([]Key, error) {
	if len(b) > maxKeyList {
		return nil, fmt.Errorf("%w: %s: %d bytes, a key list is at most %d", ErrMalformed, name, len(b), maxKeyList)
	}
	lines := strings.Split(string(b), "\n")
	if lines[0] != keyListHeader {
		return nil, fmt.Errorf("%w: %s:1: want %q (rebuild the image with mbctl build)", ErrMalformed, name, keyListHeader)
	}
	var keys []Key
	for i, line := range lines[1:] {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, err := parseKeyLine(line)
		if err != nil {
			return nil, fmt.Errorf("%w: %s:%d: %v", ErrMalformed, name, i+2, err)
		}
		if err := checkPublicKey(k.Public); err != nil {
			return nil, fmt.Errorf("%w: %s:%d (%s): %v", ErrUnsupportedKey, name, i+2, k.Source, err)
		}
		for _, o := range keys {
			if o.ID == k.ID {
				return nil, fmt.Errorf("%w 0x%08x: %s and %s (%s:%d)", ErrDuplicateKeyID, k.ID, o.Source, k.Source, name, i+2)
			}
		}
		keys = append(keys, k)
	}
	return keys, nil
}

// parseKeyLine parses one "key ..." line.
func parseKeyLine(line string) (Key, error) {
	f := strings.SplitN(line, " ", 5)
	if len(f) != 5 || f[0] != "key" {
		return Key{}, fmt.Errorf("want: key <id> <type> <public> <source> <subject>")
	}
	id, err := strconv.ParseUint(f[1], 16, 32)
	if err != nil || len(f[1]) != 8 {
		return Key{}, fmt.Errorf("key id %q: want 8 hex digits", f[1])
	}
	k := Key{ID: uint32(id)}
	switch f[2] {
	case "rsa":
		es, ns, ok := strings.Cut(f[3], ":")
		e, err := strconv.ParseUint(es, 10, 31)
		if !ok || err != nil || e < 3 || e%2 == 0 {
			return Key{}, fmt.Errorf("RSA exponent %q: want an odd number from 3 to 2^31-1", es)
		}
		n, err := hex.DecodeString(ns)
		if err != nil || len(n) == 0 || n[0] == 0 {
			return Key{}, fmt.Errorf("RSA modulus: want hex without leading zero bytes")
		}
		k.Public = &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(e)}
	case "p256", "p384":
		curve := elliptic.P256()
		if f[2] == "p384" {
			curve = elliptic.P384()
		}
		pt, err := hex.DecodeString(f[3])
		if err != nil {
			return Key{}, fmt.Errorf("ECDSA point: not hex")
		}
		if k.Public, err = ecdsa.ParseUncompressedPublicKey(curve, pt); err != nil {
			return Key{}, fmt.Errorf("ECDSA point: %v", err)
		}
	default:
		return Key{}, fmt.Errorf("key type %q: want rsa, p256 or p384", f[2])
	}
	src, rest, err := unquote(f[4])
	if err != nil {
		return Key{}, fmt.Errorf("source: %v", err)
	}
	rest, ok := strings.CutPrefix(rest, " ")
	if !ok {
		return Key{}, fmt.Errorf("want a quoted subject after the source")
	}
	subj, rest, err := unquote(rest)
	if err != nil || rest != "" {
		return Key{}, fmt.Errorf("subject: want one quoted string at the end of the line")
	}
	k.Source, k.Subject = src, subj
	return k, nil
}

// unquote reads one Go-quoted string at the start of s.
func unquote(s string) (string, string, error) {
	q, err := strconv.QuotedPrefix(s)
	if err != nil {
		return "", "", err
	}
	u, err := strconv.Unquote(q)
	return u, s[len(q):], err
}
