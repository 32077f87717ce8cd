package imasig

import (
	"bytes"
	"crypto"
	"errors"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// TestKeyListRoundTrip: the keys of the evmctl fixtures' certificates, written as a key list and
// read back, are the same keys, and they verify the evmctl signatures as the certificates do.
func TestKeyListRoundTrip(t *testing.T) {
	certs := loadFixtureKeys(t)
	b, err := MarshalKeyList(certs)
	if err != nil {
		t.Fatal(err)
	}
	keys, err := ParseKeyList("keys.list", b)
	if err != nil {
		t.Fatalf("ParseKeyList(%s) = %v", b, err)
	}
	if !reflect.DeepEqual(keys, certs) {
		t.Fatalf("round trip:\n got %+v\nwant %+v", keys, certs)
	}
	data := readTestdata(t, "data.txt")
	for _, k := range fixtureKeys {
		for _, h := range fixtureHashes {
			s, err := Parse(fixtureSig(t, "data.txt", k, h.name))
			if err != nil {
				t.Fatal(err)
			}
			got, err := Verify(s, sum(s.HashAlgo, data), keys)
			if err != nil || filepath.Base(got.Source) != k+".der" {
				t.Errorf("Verify(%s %s) with the key list = %+v, %v", k, h.name, got, err)
			}
			if _, err := Verify(s, sum(s.HashAlgo, readTestdata(t, "other.txt")), keys); err == nil {
				t.Errorf("Verify(%s %s) of other data with the key list succeeded", k, h.name)
			}
		}
	}
	again, err := MarshalKeyList(keys)
	if err != nil || !bytes.Equal(again, b) {
		t.Errorf("MarshalKeyList(ParseKeyList(b)) differs from b:\n%s\n%s", again, b)
	}
}

// TestParseKeyListErrors: each malformed line is refused with its file and line number.
func TestParseKeyListErrors(t *testing.T) {
	good, err := MarshalKeyList(loadFixtureKeys(t))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(good), "\n"), "\n")
	var rsaLine, p256Line string
	for _, l := range lines {
		if strings.Contains(l, " rsa ") && rsaLine == "" {
			rsaLine = l
		}
		if strings.Contains(l, " p256 ") {
			p256Line = l
		}
	}
	f := strings.Fields(p256Line)
	flipped := []byte(f[3])
	flipped[len(flipped)-1] ^= 1 // still hex, no longer on the curve
	small := "key 00000001 rsa 65537:" + strings.Repeat("ab", 128) + ` "small" "CN=small"`
	for _, tc := range []struct{ name, list, want string }{
		{"no header", p256Line + "\n", `keys.list:1: want "measuredboot-keys v1"`},
		{"certificate instead", "-----BEGIN CERTIFICATE-----\n", "keys.list:1"},
		{"short line", keyListHeader + "\nkey 00000001 rsa\n", "keys.list:2: want: key <id>"},
		{"bad id", keyListHeader + "\n" + strings.Replace(p256Line, f[1], "xyz", 1) + "\n", `keys.list:2: key id "xyz"`},
		{"unknown type", keyListHeader + "\n" + strings.Replace(p256Line, " p256 ", " ed25519 ", 1) + "\n", `key type "ed25519"`},
		{"point off the curve", keyListHeader + "\n" + strings.Replace(p256Line, f[3], string(flipped), 1) + "\n", "keys.list:2: ECDSA point"},
		{"p256 point as p384", keyListHeader + "\n" + strings.Replace(p256Line, " p256 ", " p384 ", 1) + "\n", "ECDSA point"},
		{"even exponent", keyListHeader + "\n" + strings.Replace(rsaLine, " rsa 65537:", " rsa 65536:", 1) + "\n", "RSA exponent"},
		{"small RSA", keyListHeader + "\n" + small + "\n", "keys.list:2 (small): RSA key of 1024 bits"},
		{"unquoted subject", keyListHeader + "\n" + strings.TrimSuffix(p256Line, `"`) + "\n", "subject"},
		{"trailing text", keyListHeader + "\n" + p256Line + " x\n", "subject"},
		{"duplicate id", keyListHeader + "\n" + p256Line + "\n" + p256Line + "\n", "keys.list:3"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseKeyList("keys.list", []byte(tc.list))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("ParseKeyList = %v, want an error containing %q", err, tc.want)
			}
			if err != nil && !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrUnsupportedKey) && !errors.Is(err, ErrDuplicateKeyID) {
				t.Errorf("error %v wraps none of ErrMalformed, ErrUnsupportedKey, ErrDuplicateKeyID", err)
			}
		})
	}
	if keys, err := ParseKeyList("keys.list", []byte(keyListHeader+"\n")); err != nil || len(keys) != 0 {
		t.Errorf("empty key list = %v, %v; want no keys, no error", keys, err)
	}
}

// FuzzParseKeyList checks that ParseKeyList never panics, returns only supported keys, and that
// what it accepts is written back to a list that parses to the same keys.
func FuzzParseKeyList(f *testing.F) {
	good, err := MarshalKeyList(loadFixtureKeys(f))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add([]byte(keyListHeader + "\n# nothing\n\n"))
	f.Add([]byte(keyListHeader + "\nkey 0000000a rsa 3:c5 \"a\" \"b\"\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		keys, err := ParseKeyList("fuzz", b)
		if err != nil {
			return
		}
		for _, k := range keys {
			if err := checkPublicKey(k.Public); err != nil {
				t.Fatalf("ParseKeyList(%q) returned an unsupported key: %v", b, err)
			}
		}
		again, err := MarshalKeyList(keys)
		if err != nil {
			t.Fatalf("MarshalKeyList of parsed keys: %v", err)
		}
		keys2, err := ParseKeyList("again", again)
		if err != nil || len(keys2) != len(keys) {
			t.Fatalf("round trip of %q: %v, %v", b, keys2, err)
		}
		for i, k := range keys {
			k2 := keys2[i]
			if k2.ID != k.ID || k2.Source != k.Source || k2.Subject != k.Subject ||
				!k2.Public.(interface{ Equal(crypto.PublicKey) bool }).Equal(k.Public) {
				t.Fatalf("round trip of %q: key %d is %+v, want %+v", b, i, k2, k)
			}
		}
	})
}
