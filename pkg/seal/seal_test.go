package seal

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"os/exec"
	"strings"
	"testing"

	"github.com/google/go-tpm/legacy/tpm2"
	"github.com/google/go-tpm/tpm2/transport"

	"github.com/measuredboot/measuredboot/internal/swtpmtest"
	"github.com/measuredboot/measuredboot/pkg/eventlog"
	"github.com/measuredboot/measuredboot/pkg/tpm"
)

// extendOf returns what PCR p holds after extending zeros with each digest in turn.
func extendOf(digests ...[]byte) []byte {
	v := make([]byte, sha256.Size)
	for _, d := range digests {
		s := sha256.Sum256(append(v, d...))
		v = s[:]
	}
	return v
}

func extend(t *testing.T, rw transport.TPMCloser, pcr int, d []byte) {
	t.Helper()
	if err := tpm2.PCRExtend(ReadWriter(rw), tpmutilHandle(pcr), tpm2.AlgSHA256, d, ""); err != nil {
		t.Fatalf("extend PCR %d: %v", pcr, err)
	}
}

// TestSealUnseal seals to values a boot will produce, produces them on a real software TPM, and
// unseals; then changes one PCR, tries another TPM, and damages the blob.
func TestSealUnseal(t *testing.T) {
	state := t.TempDir()
	addr := swtpmtest.Start(t, state)
	tpm := swtpmtest.Open(t, addr)
	rw := ReadWriter(tpm)
	d8, d9a, d9b := sha256.Sum256([]byte("cmdline")), sha256.Sum256([]byte("kernel")), sha256.Sum256([]byte("initrd"))
	want := map[uint32][]byte{8: extendOf(d8[:]), 9: extendOf(d9a[:], d9b[:])}
	secret := []byte("the disk key")
	blob, err := Seal(rw, secret, eventlog.AlgSHA256, want)
	if err != nil {
		t.Fatal(err)
	}
	// Before the boot: PCRs 8 and 9 are zeros, the TPM refuses and says which differ.
	if _, err := Unseal(rw, blob); !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), "PCR 8 is 0000000000000000, sealed to") {
		t.Fatalf("Unseal before the boot = %v, want a refusal naming PCR 8", err)
	}
	extend(t, tpm, 8, d8[:])
	extend(t, tpm, 9, d9a[:])
	extend(t, tpm, 9, d9b[:])
	got, err := Unseal(rw, blob)
	if err != nil || !bytes.Equal(got, secret) {
		t.Fatalf("Unseal after the boot = %q, %v; want %q", got, err, secret)
	}
	// One more measurement: refused, naming PCR 9 only.
	extend(t, tpm, 9, d8[:])
	_, err = Unseal(rw, blob)
	if !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), "PCR 9 is") || strings.Contains(err.Error(), "PCR 8 is") {
		t.Errorf("Unseal after another extend = %v, want a refusal naming PCR 9", err)
	}

	// Another TPM, its PCRs at the sealed-to values: it cannot load the object.
	other := swtpmtest.Open(t, swtpmtest.Start(t, ""))
	extend(t, other, 8, d8[:])
	extend(t, other, 9, d9a[:])
	extend(t, other, 9, d9b[:])
	if _, err := Unseal(ReadWriter(other), blob); !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), "this TPM cannot load the sealed object: it was sealed by another TPM") {
		t.Errorf("Unseal on another TPM = %v, want TPM_RC_INTEGRITY from Load told as another TPM", err)
	}

	// Damaged blobs never reach the TPM.
	flipped := bytes.Clone(blob)
	flipped[len(Magic)+40] ^= 1
	for name, b := range map[string][]byte{
		"truncated":     blob[:len(blob)-1],
		"cut in half":   blob[:len(blob)/2],
		"a bit flipped": flipped,
		"empty":         nil,
		"not a blob":    []byte("hello"),
	} {
		if _, err := Unseal(rw, b); !errors.Is(err, ErrMalformed) {
			t.Errorf("Unseal(%s) = %v, want ErrMalformed", name, err)
		}
	}
	// Trailing bytes (a raw partition) are fine.
	if _, err := Parse(append(bytes.Clone(blob), make([]byte, 4096)...)); err != nil {
		t.Errorf("Parse(blob + zeros) = %v", err)
	}
}

// TestSealErrors checks the inputs Seal refuses before the TPM does anything.
func TestSealErrors(t *testing.T) {
	tpm := swtpmtest.Open(t, swtpmtest.Start(t, ""))
	rw := ReadWriter(tpm)
	v := make([]byte, 32)
	for _, tc := range []struct {
		name   string
		secret []byte
		bank   eventlog.Alg
		values map[uint32][]byte
		want   string
	}{
		{"empty secret", nil, eventlog.AlgSHA256, map[uint32][]byte{8: v}, "a secret of 0 bytes"},
		{"secret too long", make([]byte, 129), eventlog.AlgSHA256, map[uint32][]byte{8: v}, "a secret of 129 bytes"},
		{"PCR 24", []byte("s"), eventlog.AlgSHA256, map[uint32][]byte{24: v}, "PCR 24: want 0-23"},
		{"short value", []byte("s"), eventlog.AlgSHA256, map[uint32][]byte{8: v[:20]}, "a value of 20 bytes, want 32"},
		{"no PCRs", []byte("s"), eventlog.AlgSHA256, nil, "no PCRs"},
	} {
		if _, err := Seal(rw, tc.secret, tc.bank, tc.values); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Seal(%s) = %v, want %q", tc.name, err, tc.want)
		}
	}
}

// TestSealBankMissing seals to a bank the TPM does not have active: a TPM set up with SHA-256 only.
func TestSealBankMissing(t *testing.T) {
	setup, err := exec.LookPath("swtpm_setup")
	if err != nil {
		t.Fatalf("swtpm_setup is not on PATH (Debian: swtpm-tools; scripts/deps.sh installs it): %v", err)
	}
	state := t.TempDir()
	if out, err := exec.Command(setup, "--tpm2", "--tpmstate", state, "--pcr-banks", "sha256", "--overwrite").CombinedOutput(); err != nil {
		t.Fatalf("swtpm_setup: %v\n%s", err, out)
	}
	tpm := swtpmtest.Open(t, swtpmtest.Start(t, state))
	_, err = Seal(ReadWriter(tpm), []byte("s"), eventlog.AlgSHA384, map[uint32][]byte{8: make([]byte, 48)})
	if err == nil || !strings.Contains(err.Error(), "no active sha384 bank (it has sha256)") {
		t.Errorf("Seal to sha384 on a SHA-256-only TPM = %v", err)
	}
}

// FuzzParse feeds Parse untrusted bytes: no panic, every error ErrMalformed, and what it accepts
// marshals back to the bytes it read.
func FuzzParse(f *testing.F) {
	b := &Blob{Bank: eventlog.AlgSHA256, PCRs: map[uint32][]byte{8: make([]byte, 32)}}
	b.Sealed = sealedFor(b)
	good, err := b.Marshal()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add([]byte(Magic))
	f.Fuzz(func(t *testing.T, in []byte) {
		blob, err := Parse(in)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("Parse = %v, want ErrMalformed", err)
			}
			return
		}
		if _, err := blob.Marshal(); err != nil {
			t.Fatalf("Marshal of a parsed blob: %v", err)
		}
	})
}

// BenchmarkSealUnseal seals a 32-byte secret to PCRs 8 and 9 and unseals it, on swtpm, and
// reports the TPM commands each takes (the storage root key persisted by the first seal, as on a
// machine that has sealed before).
func BenchmarkSealUnseal(b *testing.B) {
	tr := swtpmtest.Open(b, swtpmtest.Start(b, ""))
	values := map[uint32][]byte{8: make([]byte, 32), 9: make([]byte, 32)}
	secret := bytes.Repeat([]byte{7}, 32)
	warm, err := Seal(ReadWriter(tr), secret, eventlog.AlgSHA256, values)
	if err != nil {
		b.Fatal(err)
	}
	for _, op := range []string{"seal", "unseal"} {
		b.Run(op, func(b *testing.B) {
			d := tpm.New(tr)
			rw := ReadWriter(d.Transport())
			for range b.N {
				var err error
				if op == "seal" {
					_, err = Seal(rw, secret, eventlog.AlgSHA256, values)
				} else {
					_, err = Unseal(rw, warm)
				}
				if err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(d.Commands())/float64(b.N), "tpm-commands/op")
		})
	}
}
