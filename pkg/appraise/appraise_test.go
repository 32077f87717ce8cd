package appraise

import (
	"crypto"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/measuredboot/measuredboot/pkg/policy"
)

func decision(t *testing.T, rule string) policy.Decision {
	t.Helper()
	p, err := policy.Parse("p", []byte(rule+"\n"))
	if err != nil {
		t.Fatal(err)
	}
	return p.Evaluate(policy.Object{Func: policy.KexecInitramfsCheck, Mask: policy.MayRead, HasFile: true})
}

func TestDigestAppraisal(t *testing.T) {
	data := []byte("initramfs")
	sum := sha256.Sum256(data)
	xattr := append([]byte{0x04, 4}, sum[:]...) // digest-ng, sha256 (kernel hash id 4)
	bad := append([]byte{0x04, 4}, make([]byte, 32)...)
	list, err := ParseDigestList("digests", []byte(fmt.Sprintf("# host initramfs\nsha256:%x /boot/initrd.img\n", sum)))
	if err != nil {
		t.Fatal(err)
	}
	other, err := ParseDigestList("digests", []byte(fmt.Sprintf("sha256:%x /boot/initrd.img\n", sha256.Sum256([]byte("other")))))
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name   string
		rule   string
		ev     Evidence
		list   *DigestList
		reason Reason // "" = pass
	}{
		{"no appraise rule", "measure func=KEXEC_INITRAMFS_CHECK", Evidence{}, nil, ""},
		// A bare digest in security.ima is what an attacker who writes the disk writes: no evidence.
		{"xattr digest", "appraise func=KEXEC_INITRAMFS_CHECK", Evidence{XAttr: xattr}, nil, BareDigest},
		{"xattr digest mismatch", "appraise func=KEXEC_INITRAMFS_CHECK", Evidence{XAttr: bad}, nil, BareDigest},
		{"legacy xattr digest", "appraise func=KEXEC_INITRAMFS_CHECK", Evidence{XAttr: append([]byte{0x01}, make([]byte, 20)...)}, nil, BareDigest},
		{"xattr digest not in the list", "appraise func=KEXEC_INITRAMFS_CHECK", Evidence{XAttr: xattr}, other, BareDigest},
		{"xattr digest and in the list", "appraise func=KEXEC_INITRAMFS_CHECK", Evidence{XAttr: xattr}, list, ""},
		{"digest list", "appraise func=KEXEC_INITRAMFS_CHECK", Evidence{}, list, ""},
		{"imasig ignores digests", "appraise func=KEXEC_INITRAMFS_CHECK appraise_type=imasig", Evidence{XAttr: xattr}, list, NoSignature},
		{"nothing", "appraise func=KEXEC_INITRAMFS_CHECK", Evidence{}, nil, NoSignature},
		{"algos", "appraise func=KEXEC_INITRAMFS_CHECK appraise_algos=sha512", Evidence{XAttr: xattr}, nil, AlgorithmNotAllowed},
		{"garbage sigfile", "appraise func=KEXEC_INITRAMFS_CHECK", Evidence{SigFile: []byte{3, 2, 4}}, nil, MalformedSignature},
	} {
		t.Run(tt.name, func(t *testing.T) {
			a := &Appraiser{Digests: tt.list}
			h := Hash(tt.ev, crypto.SHA256)
			err := a.Appraise(decision(t, tt.rule), policy.KexecInitramfsCheck, "/boot/initrd.img", h, sum[:], tt.ev)
			var ae *Error
			switch {
			case tt.reason == "" && err != nil:
				t.Errorf("Appraise = %v, want nil", err)
			case tt.reason != "" && (!errors.As(err, &ae) || ae.Reason != tt.reason):
				t.Errorf("Appraise = %v, want reason %q", err, tt.reason)
			case tt.reason != "" && !strings.Contains(err.Error(), "/boot/initrd.img failed appraisal (KEXEC_INITRAMFS_CHECK, rule policy:1)"):
				t.Errorf("Appraise = %q, want the file, hook and rule named", err)
			case tt.reason == BareDigest && !strings.Contains(err.Error(), "security.ima holds a bare digest, which anyone who can write the disk can forge; sign the file or add it to the digest list"):
				t.Errorf("Appraise = %q, want it to say why a bare digest does not count", err)
			}
		})
	}
}

func TestParseDigestList(t *testing.T) {
	h := strings.Repeat("ab", 32)
	for _, tt := range []struct {
		in, err string
	}{
		{"sha256:" + h + " /boot/x\n", ""},
		{"sha256:" + h + " *\n\n# c\n", ""},
		{"sha256:" + h + "\n", "digests:1: want"},
		{"md5:" + h + " /x\n", "digests:1: \"md5:"},
		{"sha256:" + h[:10] + " /x\n", "is not a 32-byte sha256 digest"},
		{"sha256:" + h + " relative\n", "want an absolute path"},
		{"\n\nsha512:" + h + " /x\n", "digests:3:"},
	} {
		_, err := ParseDigestList("digests", []byte(tt.in))
		if (tt.err == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tt.err)) {
			t.Errorf("ParseDigestList(%q) = %v, want error containing %q", tt.in, err, tt.err)
		}
	}
	l, _ := ParseDigestList("d", []byte("sha256:"+h+" /a\n"))
	sum, _ := hex.DecodeString(h)
	if !l.Contains(crypto.SHA256, sum, "/a") || l.Contains(crypto.SHA256, sum, "/b") || l.Contains(crypto.SHA512, sum, "/a") {
		t.Error("Contains gives wrong answers")
	}
}

func FuzzParseDigestList(f *testing.F) {
	f.Add([]byte("sha256:" + strings.Repeat("00", 32) + " /boot/initrd.img\n# c\n"))
	f.Add([]byte("sha1:" + strings.Repeat("11", 20) + " *\n"))
	f.Add([]byte("sha256:zz /x"))
	f.Fuzz(func(t *testing.T, b []byte) {
		l, err := ParseDigestList("fuzz", b)
		if err == nil && l.Len() > strings.Count(string(b), "\n")+1 {
			t.Errorf("%d digests from %d lines", l.Len(), strings.Count(string(b), "\n")+1)
		}
	})
}
