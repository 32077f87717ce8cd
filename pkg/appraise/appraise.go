// Package appraise decides whether one file may be booted, given the policy's decision, the file's
// digest (the one computed for measuring) and the evidence found beside it: a signature by a
// built-in key (a detached FILE.sig, or in its security.ima extended attribute), or an entry in the
// image's digest list. A bare digest in security.ima is not evidence: nothing protects it here as
// EVM does in a running kernel. It is pure: the caller reads the evidence, this package only
// judges it.
package appraise

import (
	"bufio"
	"bytes"
	"crypto"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/measuredboot/measuredboot/pkg/ima"
	"github.com/measuredboot/measuredboot/pkg/imasig"
	"github.com/measuredboot/measuredboot/pkg/policy"
)

// Reason names the check that failed.
type Reason string

// The reasons an appraisal fails.
const (
	NoSignature         Reason = "no signature"
	MalformedSignature  Reason = "malformed signature"
	UnknownKey          Reason = "unknown key id"
	BadSignature        Reason = "bad signature"
	DigestMismatch      Reason = "digest mismatch"
	AlgorithmNotAllowed Reason = "algorithm not allowed"
	NotInDigestList     Reason = "not in the digest list"
	// BareDigest is a security.ima holding a digest, not a signature, where the file is in no
	// built-in digest list: anyone who can write the disk can write such a digest.
	BareDigest Reason = "bare digest"
)

// Error is a failed appraisal: which file, which rule, which check, and what to do.
type Error struct {
	Path   string
	Func   policy.Func
	Rule   string // "policy:LINE"
	Reason Reason
	Detail string
}

func (e *Error) Error() string {
	return fmt.Sprintf("%s failed appraisal (%s, rule %s): %s: %s; %s", e.Path, e.Func, e.Rule, e.Reason, e.Detail, e.hint())
}

func (e *Error) hint() string {
	switch e.Reason {
	case NoSignature, BadSignature, DigestMismatch, MalformedSignature:
		return "re-sign the file on the host (mbctl sign --key KEY " + e.Path + ") or boot a file that was signed"
	case UnknownKey:
		return "build the image with the signer's certificate (make initramfs KEYS=dir) or sign with a built-in key"
	case AlgorithmNotAllowed:
		return "sign with a hash the rule's appraise_algos= allows"
	case BareDigest:
		return "sign it on the host (mbctl sign --key KEY " + e.Path + ") or build the image with its digest (make initramfs DIGESTS=file)"
	case NotInDigestList:
		return "add the file's digest to the image's digest list (make initramfs DIGESTS=file) or sign it"
	}
	return "check the file and the policy"
}

// Evidence is what was found for one file; none of it is trusted yet.
type Evidence struct {
	SigFile []byte // the detached FILE.sig, nil if there is none
	XAttr   []byte // the security.ima extended attribute, nil if there is none
}

// sig returns the signature-bearing evidence: FILE.sig first, then security.ima.
func (ev Evidence) sig() ([]byte, string) {
	if ev.SigFile != nil {
		return ev.SigFile, "FILE.sig"
	}
	if len(ev.XAttr) > 0 && ev.XAttr[0] == imasig.TypeDigSig {
		return ev.XAttr, "security.ima"
	}
	return nil, ""
}

// Hash returns the algorithm the file's digest must be computed with so that one digest serves
// both measurement and appraisal: the signature's algorithm when there is one (as the kernel
// does), else def. A bare digest in security.ima does not choose it: it is no evidence here
// (Appraise), and an attacker who wrote one would pick the hash the file is measured with.
func Hash(ev Evidence, def crypto.Hash) crypto.Hash {
	if b, _ := ev.sig(); b != nil {
		if s, err := imasig.Parse(b); err == nil {
			return s.HashAlgo
		}
	}
	return def
}

// Appraiser holds the trust anchors built into the image.
type Appraiser struct {
	Keys    []imasig.Key
	Digests *DigestList // may be nil
}

// Appraise checks one file. d is the policy's decision for it (fn the hook it was read for), name
// its path, digest its digest under h. It returns nil when the policy does not ask for appraisal or the file passes, and an
// *Error otherwise.
func (a *Appraiser) Appraise(d policy.Decision, fn policy.Func, name string, h crypto.Hash, digest []byte, ev Evidence) error {
	if !d.Appraise {
		return nil
	}
	rule := "policy"
	if d.AppraiseRule != nil {
		rule = fmt.Sprintf("policy:%d", d.AppraiseRule.Line)
	}
	fail := func(r Reason, format string, args ...any) error {
		return &Error{Path: name, Func: fn, Rule: rule, Reason: r, Detail: fmt.Sprintf(format, args...)}
	}
	hname, _ := ima.HashName(h)
	if len(d.AppraiseAlgos) > 0 && !slices.Contains(d.AppraiseAlgos, hname) {
		return fail(AlgorithmNotAllowed, "the file is hashed with %s, the rule allows %s", hname, strings.Join(d.AppraiseAlgos, ","))
	}
	sigOnly := d.AppraiseType == policy.IMASig || d.AppraiseType == policy.IMASigModsig
	if b, where := ev.sig(); b != nil {
		s, err := imasig.Parse(b)
		if err != nil {
			return fail(MalformedSignature, "%s: %v", where, err)
		}
		if s.HashAlgo != h {
			sn, _ := ima.HashName(s.HashAlgo)
			return fail(AlgorithmNotAllowed, "%s signs a %s digest, the file was hashed with %s", where, sn, hname)
		}
		if _, err := imasig.Verify(s, digest, a.Keys); err != nil {
			var ve *imasig.VerifyError
			if errors.As(err, &ve) && ve.Reason == imasig.UnknownKey {
				return fail(UnknownKey, "%s: key id 0x%08x is not built into the image (%d keys are)", where, s.KeyID, len(a.Keys))
			}
			return fail(BadSignature, "%s does not verify with key id 0x%08x over the file's %s digest", where, s.KeyID, hname)
		}
		return nil
	}
	if sigOnly {
		return fail(NoSignature, "appraise_type=%s needs a signature: no %s.sig beside the file and no signature in security.ima", d.AppraiseType, name)
	}
	// A bare digest in security.ima (digest-ng, type 0x04) is no evidence here: the kernel trusts
	// one only because EVM protects the xattr, and nothing does on a disk the attacker writes.
	// The file must be in the image's digest list instead.
	if a.Digests != nil && a.Digests.Contains(h, digest, name) {
		return nil
	}
	if isBareDigest(ev.XAttr) {
		return fail(BareDigest, "%s", bareDigestMsg)
	}
	if a.Digests != nil {
		return fail(NotInDigestList, "%s:%x (%d entries)", hname, digest, a.Digests.Len())
	}
	return fail(NoSignature, "no %s.sig, no signature in security.ima and no digest list in the image", name)
}

// bareDigestMsg says why a digest in security.ima does not count, and what to do.
const bareDigestMsg = "security.ima holds a bare digest, which anyone who can write the disk can forge; sign the file or add it to the digest list"

// isBareDigest reports whether a security.ima value holds a digest (IMA_XATTR_DIGEST 0x01 or
// IMA_XATTR_DIGEST_NG 0x04) rather than a signature.
func isBareDigest(x []byte) bool {
	return len(x) > 0 && (x[0] == imasig.TypeDigestNG || x[0] == imasig.TypeDigest)
}

// DigestList is the image's list of allowed file digests, for files that cannot be signed (an
// initramfs generated on the host).
type DigestList struct {
	entries map[string][]string // "sha256:hex" -> paths ("*" for any)
}

// MaxDigestList bounds the size of a digest list.
const MaxDigestList = 4 << 20

// ParseDigestList reads lines "ALGORITHM:HEX PATH" ('#' comments, blank lines); PATH is the file's
// path on its file system as measured ("/boot/initrd.img-6.1"), or "*" for any path. The list is
// built into the image, but is parsed like untrusted input.
func ParseDigestList(name string, b []byte) (*DigestList, error) {
	if len(b) > MaxDigestList {
		return nil, fmt.Errorf("%s: %d bytes, more than %d", name, len(b), MaxDigestList)
	}
	l := &DigestList{entries: map[string][]string{}}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(nil, MaxDigestList)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		f := strings.Fields(line)
		if len(f) != 2 {
			return nil, fmt.Errorf("%s:%d: want \"ALGORITHM:HEX PATH\", got %d fields", name, n, len(f))
		}
		alg, hx, ok := strings.Cut(f[0], ":")
		h, err := ima.HashByName(alg)
		if !ok || err != nil {
			return nil, fmt.Errorf("%s:%d: %q: want sha1, sha256, sha384 or sha512 before ':'", name, n, f[0])
		}
		sum, err := hex.DecodeString(hx)
		if err != nil || len(sum) != h.Size() {
			return nil, fmt.Errorf("%s:%d: %q is not a %d-byte %s digest in hex", name, n, hx, h.Size(), alg)
		}
		if f[1] != "*" && !strings.HasPrefix(f[1], "/") {
			return nil, fmt.Errorf("%s:%d: path %q: want an absolute path on the file system, or *", name, n, f[1])
		}
		k := alg + ":" + hex.EncodeToString(sum)
		l.entries[k] = append(l.entries[k], f[1])
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return l, nil
}

// Len returns the number of distinct digests.
func (l *DigestList) Len() int { return len(l.entries) }

// Contains reports whether the list allows digest under h for path.
func (l *DigestList) Contains(h crypto.Hash, digest []byte, path string) bool {
	alg, err := ima.HashName(h)
	if err != nil {
		return false
	}
	for _, p := range l.entries[alg+":"+hex.EncodeToString(digest)] {
		if p == "*" || p == path {
			return true
		}
	}
	return false
}
