// Package kcrypto computes file digests with the running kernel's crypto API (AF_ALG sockets,
// module algif_hash) instead of Go's crypto, for the CPUs where that is faster: where Go has no
// SHA or AVX2 instructions to use it runs portable code, which under emulation (QEMU's TCG, the
// usual place to test a boot payload) is about half as fast as the kernel's (BenchmarkSHA256 in
// the Debian 6.1 guest, make bench: 24-30 MB/s against 13-17 MB/s). The kernel hashes the
// caller's own pages, so the digest is of exactly the bytes the caller holds.
package kcrypto

import (
	"bufio"
	"bytes"
	"crypto"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"

	"golang.org/x/sys/cpu"
)

// names maps the hashes this package computes to the kernel's algorithm names.
var names = map[crypto.Hash]string{
	crypto.SHA1:   "sha1",
	crypto.SHA256: "sha256",
	crypto.SHA384: "sha384",
	crypto.SHA512: "sha512",
}

// Name returns the kernel's name of h, or "" when this package does not compute h.
func Name(h crypto.Hash) string { return names[h] }

// GoAccelerated reports whether Go's crypto hashes h with CPU instructions made for it (SHA
// extensions, or AVX2 and BMI2 on amd64), the condition under which Go is as fast as the kernel
// and needs no system calls. Where it is false, Go runs its portable code.
func GoAccelerated(h crypto.Hash) bool {
	switch runtime.GOARCH {
	case "amd64":
		return cpu.X86.HasAVX2 && cpu.X86.HasBMI2
	case "arm64":
		switch h {
		case crypto.SHA1:
			return cpu.ARM64.HasSHA1
		case crypto.SHA256:
			return cpu.ARM64.HasSHA2
		case crypto.SHA384, crypto.SHA512:
			return cpu.ARM64.HasSHA512
		}
	}
	return false
}

// Driver returns the kernel's implementation of h that an AF_ALG socket gets: the self-tested
// driver with the highest priority in /proc/crypto (such as "sha256-generic" or "sha256-ni").
func Driver(h crypto.Hash) (string, error) {
	b, err := os.ReadFile("/proc/crypto")
	if err != nil {
		return "", err
	}
	return driverIn(b, Name(h))
}

// driverIn picks name's driver out of /proc/crypto's text.
func driverIn(proc []byte, name string) (string, error) {
	best, bestPrio := "", -1
	for _, blk := range bytes.Split(proc, []byte("\n\n")) {
		f := map[string]string{}
		sc := bufio.NewScanner(bytes.NewReader(blk))
		for sc.Scan() {
			k, v, ok := strings.Cut(sc.Text(), ":")
			if ok {
				f[strings.TrimSpace(k)] = strings.TrimSpace(v)
			}
		}
		prio, err := strconv.Atoi(f["priority"])
		if f["name"] != name || f["type"] != "shash" && f["type"] != "ahash" || f["selftest"] != "passed" || err != nil {
			continue
		}
		if prio > bestPrio {
			best, bestPrio = f["driver"], prio
		}
	}
	if best == "" {
		return "", fmt.Errorf("kcrypto: /proc/crypto lists no tested %q hash", name)
	}
	return best, nil
}
