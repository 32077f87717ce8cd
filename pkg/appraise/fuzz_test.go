package appraise

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"testing"

	"github.com/measuredboot/measuredboot/pkg/imasig"
	"github.com/measuredboot/measuredboot/pkg/policy"
)

// FuzzAppraise runs Appraise over random evidence (a .sig file and a security.ima value, both from
// the disk, so the attacker's), a random file and each kind of appraise rule, with one built-in key
// and a digest list holding one file's digest. Whatever the evidence, a pass must be earned: by a
// signature that verifies with the built-in key over this file's digest, or, under plain
// appraise, by the file's digest being in the list. Nothing else (a bare digest, a signature over
// another digest, a malformed blob) may pass, and nothing may panic.
func FuzzAppraise(f *testing.F) {
	keyPEM, _, certDER, err := imasig.GenerateKey("p256", "fuzz", rand.Reader)
	if err != nil {
		f.Fatal(err)
	}
	priv, err := imasig.ParsePrivateKey(keyPEM)
	if err != nil {
		f.Fatal(err)
	}
	key, err := imasig.ParseCertificate("fuzz.der", certDER)
	if err != nil {
		f.Fatal(err)
	}
	listed := []byte("the listed initramfs")
	list, err := ParseDigestList("digests", fmt.Appendf(nil, "sha256:%x /boot/initrd.img\n", sha256.Sum256(listed)))
	if err != nil {
		f.Fatal(err)
	}
	rules := []string{
		"appraise func=KEXEC_INITRAMFS_CHECK",
		"appraise func=KEXEC_INITRAMFS_CHECK appraise_type=imasig",
		"appraise func=KEXEC_INITRAMFS_CHECK appraise_algos=sha256,sha512",
	}
	decisions := make([]policy.Decision, len(rules))
	for i, r := range rules {
		p, err := policy.Parse("fuzz", []byte(r+"\n"))
		if err != nil {
			f.Fatal(err)
		}
		decisions[i] = p.Evaluate(policy.Object{Func: policy.KexecInitramfsCheck, Mask: policy.MayRead, HasFile: true})
	}

	signed := []byte("a signed initramfs")
	good, err := imasig.SignFile(priv, crypto.SHA256, signed)
	if err != nil {
		f.Fatal(err)
	}
	sum := sha256.Sum256(signed)
	bare := append([]byte{imasig.TypeDigestNG, 4}, sum[:]...)
	for i := range rules {
		f.Add(uint8(i), signed, good, []byte(nil))
		f.Add(uint8(i), signed, []byte(nil), good)
		f.Add(uint8(i), signed, []byte(nil), bare)
		f.Add(uint8(i), listed, []byte(nil), []byte(nil))
		f.Add(uint8(i), []byte("other"), good, bare)
		f.Add(uint8(i), signed, good[:len(good)-1], []byte{3, 2})
	}

	a := &Appraiser{Keys: []imasig.Key{key}, Digests: list}
	f.Fuzz(func(t *testing.T, rule uint8, data, sigFile, xattr []byte) {
		d := decisions[int(rule)%len(decisions)]
		ev := Evidence{SigFile: sigFile, XAttr: xattr}
		if len(sigFile) == 0 {
			ev.SigFile = nil
		}
		h := Hash(ev, crypto.SHA256)
		hh := h.New()
		hh.Write(data)
		digest := hh.Sum(nil)
		err := a.Appraise(d, policy.KexecInitramfsCheck, "/boot/initrd.img", h, digest, ev)
		if err != nil {
			return
		}
		// A pass: say why it was earned.
		sig := ev.SigFile
		if sig == nil && len(xattr) > 0 && xattr[0] == imasig.TypeDigSig {
			sig = xattr
		}
		if sig != nil {
			s, perr := imasig.Parse(sig)
			if perr != nil {
				t.Fatalf("Appraise passed a malformed signature %x: %v", sig, perr)
			}
			if _, verr := imasig.Verify(s, digest, a.Keys); verr != nil {
				t.Fatalf("Appraise passed a signature that does not verify over the file's digest: %v", verr)
			}
			return
		}
		if d.AppraiseType == policy.IMASig {
			t.Fatalf("appraise_type=imasig passed without a signature (xattr %x)", xattr)
		}
		if !a.Digests.Contains(h, digest, "/boot/initrd.img") || !bytes.Equal(data, listed) {
			t.Fatalf("plain appraise passed %q without a signature and outside the digest list (xattr %x)", data, xattr)
		}
	})
}
