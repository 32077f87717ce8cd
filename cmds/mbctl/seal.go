package main

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/measuredboot/measuredboot/pkg/eventlog"
	"github.com/measuredboot/measuredboot/pkg/seal"
	"github.com/measuredboot/measuredboot/pkg/tpm"
)

const sealUsage = `usage: mbctl seal [-in SECRET] -o BLOB (-tpm /dev/tpmrm0 | -swtpm HOST:PORT) [-pcrs 8,9 | -pcrs 0-9] [-bank sha256]
                  -policy P -kernel K [predict's other flags: -initrd, -cmdline, -entry, -source, -eventlog, -root, -device ...]

Seals a secret (at most 128 bytes, from -in or standard input) to the PCR values the next boot will
leave: it runs the boot flow as mbctl predict does, with the same flags, and seals with the TPM's
storage root key to the predicted values of -pcrs in -bank. Default PCRs: those the boot extends
(8 and 9); -pcrs 0-9 includes the firmware's, predicted from -eventlog (a previous boot's
/sys/kernel/security/tpm0/binary_bios_measurements). Refuses, writing nothing, when the policy
would refuse that boot. Only this TPM can unseal the blob, and only after that boot.

Examples:
  head -c 32 /dev/urandom > disk.key
  mbctl seal -in disk.key -o disk.key.sealed -tpm /dev/tpmrm0 -policy /etc/measuredboot/policy \
      -root /boot -device /dev/nvme0n1p2 -kernel /boot/vmlinuz-6.1.0-57-amd64 \
      -initrd /boot/initrd.img-6.1.0-57-amd64 -cmdline "root=/dev/nvme0n1p3 ro" \
      -entry "Debian GNU/Linux" -source "nvme0n1p2 grub"
  mbctl seal ... -pcrs 0-9 -eventlog /sys/kernel/security/tpm0/binary_bios_measurements`

const unsealUsage = `usage: mbctl unseal -in BLOB [-o SECRET] (-tpm /dev/tpmrm0 | -swtpm HOST:PORT)

Unseals a blob mbctl seal wrote, with the TPM that sealed it, and writes the secret to -o (or
standard output). When the TPM refuses, it says why: the PCRs whose values differ from the ones the
blob was sealed to, or that the blob is another TPM's. Exit status 1 then, and nothing is written.

Example:
  mbctl unseal -in disk.key.sealed -tpm /dev/tpmrm0 -o /run/disk.key`

// cmdSeal seals a secret to a predicted boot.
func cmdSeal(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("seal", stderr)
	o := addPredictFlags(fs)
	in := fs.String("in", "-", "the secret (at most 128 bytes); - for standard input")
	out := fs.String("o", "", "where to write the sealed blob (written whole or not at all)")
	tf := addTPMFlags(fs, "seal with")
	pcrList := fs.String("pcrs", "", "PCRs to seal to: a list (8,9) or range (0-9); default: those the boot extends")
	bankName := fs.String("bank", "sha256", "the PCR bank to seal to (one of the prediction's banks)")
	fs.Usage = func() { fmt.Fprintln(stderr, sealUsage); fs.PrintDefaults() }
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 0 || *out == "" || tf.given() != 1 {
		fs.Usage()
		return errors.New("seal: -o and one of -tpm or -swtpm are required")
	}
	bank, ok := eventlog.AlgFromName(*bankName)
	if !ok {
		return fmt.Errorf("seal: -bank %q: want sha1, sha256, sha384 or sha512", *bankName)
	}
	var pcrs []uint32
	if *pcrList != "" {
		var err error
		if pcrs, err = parsePCRList(*pcrList); err != nil {
			return fmt.Errorf("seal: -pcrs: %w", err)
		}
	}
	secret, err := readSecret(*in)
	if err != nil {
		return fmt.Errorf("seal: %w", err)
	}
	p, err := o.predict(stderr)
	if err != nil {
		return fmt.Errorf("seal: nothing sealed: %w", err)
	}
	if !slices.Contains(p.Banks, bank) {
		return fmt.Errorf("seal: the prediction has no %v bank (it has %v: the firmware log's banks, or -banks)", bank, p.Banks)
	}
	if pcrs == nil {
		pcrs = p.PCRs
	}
	values := map[uint32][]byte{}
	var shown []string
	for _, i := range pcrs {
		values[i] = p.Value(bank, i)
		shown = append(shown, fmt.Sprintf("%d=%x", i, values[i][:8]))
	}
	t, name, err := tf.open()
	if err != nil {
		return fmt.Errorf("seal: %w", err)
	}
	defer t.Close()
	dev := tpm.New(t)
	blob, err := seal.Seal(seal.ReadWriter(dev.Transport()), secret, bank, values)
	if err != nil {
		return err
	}
	if err := writeWhole(*out, blob); err != nil {
		return fmt.Errorf("seal: %w", err)
	}
	fmt.Fprintf(stdout, "sealed %d bytes to %v PCRs %s with %s's storage root key: %s (%d bytes)\n", len(secret), bank, pcrString(pcrs), name, *out, len(blob))
	fmt.Fprintf(stdout, "  predicted: %s\n", strings.Join(shown, " "))
	fmt.Fprintf(stdout, "  tpm: %s\n", dev.Usage())
	return nil
}

// cmdUnseal unseals a blob with the TPM.
func cmdUnseal(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("unseal", stderr)
	in := fs.String("in", "", "the sealed blob mbctl seal wrote")
	out := fs.String("o", "", "where to write the secret (default: standard output)")
	tf := addTPMFlags(fs, "unseal with")
	fs.Usage = func() { fmt.Fprintln(stderr, unsealUsage); fs.PrintDefaults() }
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 0 || *in == "" || tf.given() != 1 {
		fs.Usage()
		return errors.New("unseal: -in and one of -tpm or -swtpm are required")
	}
	blob, err := readBounded(*in, seal.MaxBlob)
	if err != nil {
		return fmt.Errorf("unseal: %w", err)
	}
	t, _, err := tf.open()
	if err != nil {
		return fmt.Errorf("unseal: %w", err)
	}
	defer t.Close()
	dev := tpm.New(t)
	secret, err := seal.Unseal(seal.ReadWriter(dev.Transport()), blob)
	fmt.Fprintf(stderr, "unseal: tpm: %s\n", dev.Usage())
	if err != nil {
		return fmt.Errorf("unseal: %s: %w", *in, err)
	}
	if *out == "" {
		_, err = stdout.Write(secret)
		return err
	}
	if err := writeWhole(*out, secret); err != nil {
		return fmt.Errorf("unseal: %w", err)
	}
	fmt.Fprintf(stderr, "unseal: %d bytes (sha256 %x) written to %s\n", len(secret), sha256.Sum256(secret), *out)
	return nil
}

// parsePCRList reads "8,9", "0-9" or "0-7,9": PCRs 0-23, in order, each once.
func parsePCRList(s string) ([]uint32, error) {
	seen := map[uint32]bool{}
	for _, part := range strings.Split(s, ",") {
		lo, hi, isRange := strings.Cut(strings.TrimSpace(part), "-")
		a, err := strconv.ParseUint(lo, 10, 32)
		b := a
		if err == nil && isRange {
			b, err = strconv.ParseUint(hi, 10, 32)
		}
		if err != nil || a > b || b >= eventlog.NumPCRs {
			return nil, fmt.Errorf("%q: want PCRs 0-%d as a list (8,9) or range (0-9)", part, eventlog.NumPCRs-1)
		}
		for i := a; i <= b; i++ {
			seen[uint32(i)] = true
		}
	}
	out := make([]uint32, 0, len(seen))
	for p := range seen {
		out = append(out, p)
	}
	slices.Sort(out)
	return out, nil
}

// pcrString prints PCRs as "8,9".
func pcrString(pcrs []uint32) string {
	s := make([]string, len(pcrs))
	for i, p := range pcrs {
		s[i] = strconv.FormatUint(uint64(p), 10)
	}
	return strings.Join(s, ",")
}

// readSecret reads a secret from path, or standard input for "-": at most seal.MaxSecret bytes.
func readSecret(path string) ([]byte, error) {
	var r io.Reader = os.Stdin
	if path != "-" {
		f, err := os.Open(path)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		r = f
	}
	b, err := io.ReadAll(io.LimitReader(r, seal.MaxSecret+1))
	if err != nil {
		return nil, err
	}
	if len(b) == 0 || len(b) > seal.MaxSecret {
		return nil, fmt.Errorf("the secret (%s) is %s bytes: a TPM seals 1-%d (seal a key, and encrypt larger data with it)", path, sizeWord(len(b)), seal.MaxSecret)
	}
	return b, nil
}

func sizeWord(n int) string {
	if n > seal.MaxSecret {
		return fmt.Sprintf("more than %d", seal.MaxSecret)
	}
	return strconv.Itoa(n)
}

// readBounded reads at most max bytes of the file at path, failing when it is longer.
func readBounded(path string, max int) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, int64(max)+1))
	if err != nil {
		return nil, err
	}
	if len(b) > max {
		return nil, fmt.Errorf("%s: more than %d bytes: not a sealed secret", path, max)
	}
	return b, nil
}

// writeWhole writes b to path through a temporary file in the same directory, renamed over path
// once complete: a reader sees the old file or the whole new one, never a part.
func writeWhole(path string, b []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	if _, err := io.Copy(tmp, bytes.NewReader(b)); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
