package imasig

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Reason says why Verify rejected a signature.
type Reason int

// Reasons for a VerifyError.
const (
	// UnknownKey: no key has the signature's key id.
	UnknownKey Reason = iota + 1
	// BadSignature: a key has the id but the signature does not verify over the digest.
	BadSignature
	// AlgorithmNotAllowed: the hash is not in the allowed list (the policy's appraise_algos=),
	// or the key type cannot verify.
	AlgorithmNotAllowed
	// DigestAlgorithmMismatch: the digest given is not a digest of the signature's hash algorithm.
	DigestAlgorithmMismatch
)

func (r Reason) String() string {
	switch r {
	case UnknownKey:
		return "unknown key"
	case BadSignature:
		return "bad signature"
	case AlgorithmNotAllowed:
		return "algorithm not allowed"
	case DigestAlgorithmMismatch:
		return "digest algorithm mismatch"
	}
	return fmt.Sprintf("Reason(%d)", int(r))
}

// VerifyError is the error Verify returns for a signature it rejects.
type VerifyError struct {
	Reason Reason
	KeyID  uint32 // the key id the signature names
	Err    error  // details: which keys were tried or known, what the crypto library said
}

func (e *VerifyError) Error() string {
	var s string
	switch e.Reason {
	case UnknownKey:
		s = fmt.Sprintf("imasig: unknown key id 0x%08x", e.KeyID)
	default:
		s = fmt.Sprintf("imasig: %s (key id 0x%08x)", e.Reason, e.KeyID)
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns e.Err.
func (e *VerifyError) Unwrap() error { return e.Err }

// Verify checks sig over digest, which the caller computed over the file with sig.HashAlgo,
// against keys, and returns the key that made it. It tries every key whose ID equals sig.KeyID,
// RSA as PKCS#1 v1.5 over the DigestInfo of digest and ECDSA as ASN.1 DER over digest, as the
// kernel's asymmetric_verify does. If allowed is not empty, sig.HashAlgo must be in it (the
// kernel's appraise_algos=). Every rejection is a *VerifyError; a nil sig is an ErrMalformed error.
func Verify(sig *Signature, digest []byte, keys []Key, allowed ...crypto.Hash) (*Key, error) {
	if sig == nil {
		return nil, fmt.Errorf("%w: no signature", ErrMalformed)
	}
	fail := func(r Reason, format string, args ...any) error {
		return &VerifyError{Reason: r, KeyID: sig.KeyID, Err: fmt.Errorf(format, args...)}
	}
	if len(allowed) > 0 && !slices.Contains(allowed, sig.HashAlgo) {
		names := make([]string, len(allowed))
		for i, h := range allowed {
			names[i] = hashName(h)
		}
		return nil, fail(AlgorithmNotAllowed, "signature over %s, policy allows %s; re-sign with an allowed hash",
			hashName(sig.HashAlgo), strings.Join(names, ","))
	}
	if _, err := kernelHashID(sig.HashAlgo); err != nil || !sig.HashAlgo.Available() {
		return nil, fail(AlgorithmNotAllowed, "hash %v is not supported, want sha1, sha224, sha256, sha384 or sha512", sig.HashAlgo)
	}
	if len(digest) != sig.HashAlgo.Size() {
		return nil, fail(DigestAlgorithmMismatch, "digest is %d bytes, a %s digest is %d; hash the file with the signature's algorithm",
			len(digest), hashName(sig.HashAlgo), sig.HashAlgo.Size())
	}
	var errs []error
	for i := range keys {
		k := &keys[i]
		if k.ID != sig.KeyID {
			continue
		}
		var err error
		switch pub := k.Public.(type) {
		case *rsa.PublicKey:
			err = rsa.VerifyPKCS1v15(pub, sig.HashAlgo, digest, sig.Sig)
		case *ecdsa.PublicKey:
			if !ecdsa.VerifyASN1(pub, digest, sig.Sig) {
				err = errors.New("ECDSA verification failed")
			}
		default:
			return nil, fail(AlgorithmNotAllowed, "%s: key type %T cannot verify", k.Source, k.Public)
		}
		if err == nil {
			return k, nil
		}
		errs = append(errs, fmt.Errorf("%s (%s): %w", k.Source, hashName(sig.HashAlgo), err))
	}
	if len(errs) == 0 {
		return nil, fail(UnknownKey, "no certificate with this key id is built in (%s)", knownIDs(keys))
	}
	return nil, &VerifyError{Reason: BadSignature, KeyID: sig.KeyID, Err: errors.Join(errs...)}
}
