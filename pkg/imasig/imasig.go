// Package imasig handles IMA signatures, version 2: the security.ima value (and the FILE.sig file)
// that `evmctl ima_sign` writes and the kernel appraises with appraise_type=imasig. It parses them,
// verifies them against the public keys of X.509 certificates, and makes them.
//
// It is pure: no file is read except by LoadKeys, which takes the directory to read. The byte layout
// and the key id follow ima-evm-utils (src/imaevm.h struct signature_v2_hdr, src/libimaevm.c
// sign_hash_v2, verify_hash_v2, calc_keyid_v2) and the kernel (security/integrity/digsig_asymmetric.c
// asymmetric_verify, security/integrity/ima/ima_appraise.c).
//
// Layout, all integers big-endian:
//
//	offset 0  u8   type 0x03 (EVM_IMA_XATTR_DIGSIG)
//	offset 1  u8   version 2
//	offset 2  u8   hash algorithm, kernel numbering (sha1=2 sha256=4 sha384=5 sha512=6 sha224=7)
//	offset 3  u32  key id: last 4 bytes of the signing certificate's Subject Key Identifier
//	offset 7  u16  n, the signature size; exactly the bytes that follow
//	offset 9  n    RSA PKCS#1 v1.5 over the DigestInfo of the file digest, or ECDSA ASN.1 DER over
//	               the file digest
//
// A parsed Signature is unverified: only Verify says whether a trusted key made it.
package imasig

import (
	"crypto"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"

	// Register the hashes a signature can name.
	_ "crypto/sha1"
	_ "crypto/sha256"
	_ "crypto/sha512"
)

// security.ima value types (the kernel's enum evm_ima_xattr_type), the first byte of the value.
const (
	TypeDigest    = 0x01 // IMA_XATTR_DIGEST: legacy SHA-1 digest, no algorithm byte
	TypeDigSig    = 0x03 // EVM_IMA_XATTR_DIGSIG: IMA signature (this package handles version 2)
	TypeDigestNG  = 0x04 // IMA_XATTR_DIGEST_NG: hash algorithm byte, then the digest
	TypeVeritySig = 0x06 // IMA_VERITY_DIGSIG: fs-verity signature (sigv3), not handled here
)

// Version2 is the signature format version this package handles, the second byte of the value.
const Version2 = 2

// HeaderSize is the size of the fixed part of a signature: type, version, hash, key id, size.
const HeaderSize = 9

const (
	maxSigSize     = 0xffff // the size field is a u16
	kernelHashSM3  = 17     // HASH_ALGO_SM3_256
	kernelHashLast = 23     // HASH_ALGO__LAST in current kernels (after sha3-512)
)

var (
	// ErrMalformed is wrapped by every error about the bytes of a value.
	ErrMalformed = errors.New("imasig: malformed")
	// ErrUnsupportedHash is wrapped when a value or a caller names a hash this package does not handle.
	ErrUnsupportedHash = errors.New("imasig: unsupported hash algorithm")
	// ErrUnsupportedKey is wrapped when a key or certificate is not RSA 2048..4096 bits or ECDSA P-256/P-384.
	ErrUnsupportedKey = errors.New("imasig: unsupported key")
	// ErrDuplicateKeyID is wrapped by LoadKeys when two certificates have the same key id.
	ErrDuplicateKeyID = errors.New("imasig: duplicate key id")
)

// Kernel hash numbers (include/uapi/linux/hash_info.h) and their Go hashes and names.
func kernelHash(id byte) (crypto.Hash, bool) {
	switch id {
	case 2:
		return crypto.SHA1, true
	case 4:
		return crypto.SHA256, true
	case 5:
		return crypto.SHA384, true
	case 6:
		return crypto.SHA512, true
	case 7:
		return crypto.SHA224, true
	}
	return 0, false
}

// hashFromKernel returns the Go hash for the kernel's number id, found at offset off of a value.
func hashFromKernel(id byte, off int) (crypto.Hash, error) {
	if h, ok := kernelHash(id); ok {
		return h, nil
	}
	const want = "want sha1 (2), sha256 (4), sha384 (5), sha512 (6) or sha224 (7)"
	e := &ParseError{Offset: off, Field: "hash algorithm", Err: ErrUnsupportedHash,
		Msg: fmt.Sprintf("kernel hash number %d is not supported, %s", id, want)}
	switch {
	case id == kernelHashSM3:
		e.Msg = "sm3 (17) is not supported, " + want
	case id >= kernelHashLast:
		e.Err = ErrMalformed
		e.Msg = fmt.Sprintf("%d is not a kernel hash number (0..%d)", id, kernelHashLast-1)
	}
	return 0, e
}

// kernelHashID returns the kernel's number for h.
func kernelHashID(h crypto.Hash) (byte, error) {
	for id := byte(0); id < kernelHashLast; id++ {
		if k, ok := kernelHash(id); ok && k == h {
			return id, nil
		}
	}
	return 0, fmt.Errorf("%w: %v (want sha1, sha224, sha256, sha384 or sha512)", ErrUnsupportedHash, h)
}

// hashName is the kernel's name of h ("sha256"), or h's Go name.
func hashName(h crypto.Hash) string {
	if _, err := kernelHashID(h); err != nil {
		return h.String()
	}
	return strings.ReplaceAll(strings.ToLower(h.String()), "-", "")
}

// ParseError says which field of a value is wrong, at which byte offset, and what was expected.
type ParseError struct {
	Offset int    // offset of the field in the value
	Field  string // "type", "version", "hash algorithm", "signature size", "digest"
	Msg    string // what was found and what was expected
	Err    error  // ErrMalformed or ErrUnsupportedHash
}

func (e *ParseError) Error() string {
	return fmt.Sprintf("imasig: %s at offset %d: %s", e.Field, e.Offset, e.Msg)
}

// Unwrap returns ErrMalformed or ErrUnsupportedHash.
func (e *ParseError) Unwrap() error { return e.Err }

func malformed(off int, field, format string, args ...any) error {
	return &ParseError{Offset: off, Field: field, Msg: fmt.Sprintf(format, args...), Err: ErrMalformed}
}

// typeName describes a security.ima type byte for error messages.
func typeName(t byte) string {
	switch t {
	case TypeDigest:
		return "legacy SHA-1 digest, not a signature"
	case 0x02:
		return "EVM HMAC, not an IMA value"
	case TypeDigSig:
		return "IMA signature"
	case TypeDigestNG:
		return "digest-ng, a hash and not a signature"
	case 0x05:
		return "EVM portable signature, not an IMA value"
	case TypeVeritySig:
		return "fs-verity signature (sigv3), not supported"
	}
	return "unknown type"
}

// Signature is a parsed, UNVERIFIED IMA signature, version 2. Nothing about it is trusted until
// Verify has found the key it names and checked Sig with it.
type Signature struct {
	HashAlgo crypto.Hash // the hash the signer says it signed; the caller hashes the file with it
	KeyID    uint32      // the key id the signer claims
	Sig      []byte      // RSA PKCS#1 v1.5 or ECDSA ASN.1 DER signature bytes
}

// Parse parses a whole security.ima value or FILE.sig content as written by `evmctl ima_sign`:
// type 0x03, version 2, a hash this package handles, and a size field equal to the number of
// bytes that follow. The result is unverified. Errors are *ParseError.
func Parse(b []byte) (*Signature, error) {
	if len(b) == 0 {
		return nil, malformed(0, "type", "empty value, want type 0x%02x (IMA signature)", TypeDigSig)
	}
	if b[0] != TypeDigSig {
		return nil, malformed(0, "type", "0x%02x (%s), want 0x%02x (IMA signature)", b[0], typeName(b[0]), TypeDigSig)
	}
	if len(b) < 2 {
		return nil, malformed(1, "version", "value ends, want version %d", Version2)
	}
	if b[1] != Version2 {
		return nil, malformed(1, "version", "%d, want %d (1 is the legacy RSA format, 3 is sigv3)", b[1], Version2)
	}
	if len(b) < HeaderSize {
		return nil, malformed(len(b), "header", "value is %d bytes, want a %d-byte header and a signature", len(b), HeaderSize)
	}
	h, err := hashFromKernel(b[2], 2)
	if err != nil {
		return nil, err
	}
	size := int(binary.BigEndian.Uint16(b[7:9]))
	if rest := len(b) - HeaderSize; size != rest {
		return nil, malformed(7, "signature size", "%d, but %d bytes follow the header", size, rest)
	}
	if size == 0 {
		return nil, malformed(7, "signature size", "0, want a signature")
	}
	return &Signature{
		HashAlgo: h,
		KeyID:    binary.BigEndian.Uint32(b[3:7]),
		Sig:      append([]byte(nil), b[HeaderSize:]...),
	}, nil
}

// Marshal encodes s as a security.ima value, byte-for-byte what Parse accepted or evmctl writes.
// It returns nil if s cannot be encoded: a HashAlgo without a kernel number, or a Sig that is
// empty or longer than 65535 bytes. A Signature from Parse always encodes.
func (s *Signature) Marshal() []byte {
	id, err := kernelHashID(s.HashAlgo)
	if err != nil || len(s.Sig) == 0 || len(s.Sig) > maxSigSize {
		return nil
	}
	b := make([]byte, HeaderSize, HeaderSize+len(s.Sig))
	b[0], b[1], b[2] = TypeDigSig, Version2, id
	binary.BigEndian.PutUint32(b[3:7], s.KeyID)
	binary.BigEndian.PutUint16(b[7:9], uint16(len(s.Sig)))
	return append(b, s.Sig...)
}

// ParseDigest parses a security.ima digest value as `evmctl ima_hash` writes it: type 0x04
// (digest-ng: hash algorithm byte, then the digest) or, for SHA-1, type 0x01 (the legacy form:
// 20 digest bytes). The digest must have exactly the hash's size. Errors are *ParseError.
func ParseDigest(b []byte) (crypto.Hash, []byte, error) {
	if len(b) == 0 {
		return 0, nil, malformed(0, "type", "empty value, want type 0x%02x (digest-ng)", TypeDigestNG)
	}
	var h crypto.Hash
	off := 1
	switch b[0] {
	case TypeDigestNG:
		if len(b) < 2 {
			return 0, nil, malformed(1, "hash algorithm", "value ends, want a hash algorithm")
		}
		var err error
		if h, err = hashFromKernel(b[1], 1); err != nil {
			return 0, nil, err
		}
		off = 2
	case TypeDigest:
		h = crypto.SHA1
	default:
		return 0, nil, malformed(0, "type", "0x%02x (%s), want 0x%02x (digest-ng) or 0x%02x (legacy SHA-1 digest)",
			b[0], typeName(b[0]), TypeDigestNG, TypeDigest)
	}
	if got := len(b) - off; got != h.Size() {
		return 0, nil, malformed(off, "digest", "%d bytes, want %d for %s", got, h.Size(), hashName(h))
	}
	return h, append([]byte(nil), b[off:]...), nil
}
