package kcrypto

import (
	"bytes"
	"crypto"
	"crypto/rand"
	_ "crypto/sha1"
	_ "crypto/sha256"
	_ "crypto/sha512"
	"errors"
	"os"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// TestSum: where the kernel has AF_ALG hashing, its digests equal Go's for every hash and for
// sizes around the piece boundary; where it has none (this project's CI host kernel has no
// algif_hash), Sum fails with EAFNOSUPPORT and says what to load, which is the caller's signal to
// hash in Go. scripts/guest-test.sh runs this test in the boot kernel, where the first branch is
// required; the QEMU scenarios use it in measuredboot, and mbctl predict's Go digests must match.
func TestSum(t *testing.T) {
	data := make([]byte, 4<<20+3)
	rand.Read(data)
	if _, err := Sum(crypto.SHA256, data[:1]); err != nil {
		if os.Getenv("MEASUREDBOOT_GUEST") != "" {
			t.Fatalf("in the guest (scripts/guest-test.sh), whose kernel has AF_ALG: Sum = %v", err)
		}
		if !errors.Is(err, unix.EAFNOSUPPORT) || !strings.Contains(err.Error(), "algif_hash") {
			t.Fatalf("Sum without AF_ALG = %v, want EAFNOSUPPORT naming algif_hash", err)
		}
		t.Logf("this kernel has no AF_ALG: %v", err)
		return
	}
	for _, h := range []crypto.Hash{crypto.SHA1, crypto.SHA256, crypto.SHA384, crypto.SHA512} {
		if _, err := Sum(h, nil); h != crypto.SHA256 && errors.Is(err, unix.ENOENT) {
			// A kernel may build an algorithm as a module that nobody loaded (Debian's
			// sha512_generic): the caller hashes in Go then. SHA-256 is always built in.
			t.Logf("%v: %v", h, err)
			continue
		}
		for _, n := range []int{0, 1, 4 << 20, len(data)} {
			got, err := Sum(h, data[:n])
			hh := h.New()
			hh.Write(data[:n])
			if want := hh.Sum(nil); err != nil || !bytes.Equal(got, want) {
				t.Errorf("Sum(%v, %d bytes) = %x, %v; want %x", h, n, got, err, want)
			}
		}
	}
}

func TestSumUnsupported(t *testing.T) {
	if _, err := Sum(crypto.MD5, []byte("x")); err == nil || !strings.Contains(err.Error(), "not one of") {
		t.Errorf("Sum(MD5) = %v, want an error", err)
	}
}

// A /proc/crypto excerpt of a machine with SHA-NI: sha256-ni wins over sha256-avx2 and the
// generic driver, an untested driver never does, and sha224 is not sha256.
const procCrypto = `name         : sha256
driver       : sha256-generic
module       : kernel
priority     : 100
refcnt       : 1
selftest     : passed
internal     : no
type         : shash
blocksize    : 64
digestsize   : 32

name         : sha256
driver       : sha256-ni
module       : sha256_ssse3
priority     : 250
selftest     : passed
type         : shash

name         : sha256
driver       : sha256-broken
module       : x
priority     : 999
selftest     : unknown
type         : shash

name         : sha224
driver       : sha224-ni
module       : sha256_ssse3
priority     : 1000
selftest     : passed
type         : shash

name         : sha256
driver       : sha256-avx2
module       : sha256_ssse3
priority     : 170
selftest     : passed
type         : shash
`

func TestDriverIn(t *testing.T) {
	if d, err := driverIn([]byte(procCrypto), "sha256"); err != nil || d != "sha256-ni" {
		t.Errorf("driverIn(sha256) = %q, %v; want sha256-ni", d, err)
	}
	if d, err := driverIn([]byte(procCrypto), "sha512"); err == nil {
		t.Errorf("driverIn(sha512) = %q, want an error", d)
	}
}

// BenchmarkSHA256 hashes 16 MiB with the kernel (AF_ALG) and with Go's crypto, the two choices
// the boot program has. make bench runs it in the TCG guest (scripts/guest-test.sh), where Go
// runs its portable code; on a host without AF_ALG the kernel case says so and stops (in the
// guest that fails).
func BenchmarkSHA256(b *testing.B) {
	data := make([]byte, 16<<20)
	rand.Read(data)
	b.Run("kernel", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			if _, err := Sum(crypto.SHA256, data); err != nil {
				if os.Getenv("MEASUREDBOOT_GUEST") != "" {
					b.Fatalf("in the guest: %v", err)
				}
				b.Skipf("no kernel hashing here: %v", err)
			}
		}
	})
	b.Run("go", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			h := crypto.SHA256.New()
			h.Write(data)
			h.Sum(nil)
		}
	})
}
