package main

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/google/go-tpm/legacy/tpm2"

	"github.com/measuredboot/measuredboot/pkg/attest"
	"github.com/measuredboot/measuredboot/pkg/eventlog"
	"github.com/measuredboot/measuredboot/pkg/measure"
	"github.com/measuredboot/measuredboot/pkg/seal"
)

const attestUsage = `usage: mbctl attest -nonce HEX -o FILE (-tpm /dev/tpmrm0 | -swtpm HOST:PORT) [-tcg FILE] [-ima-dir DIR]

Makes an attestation for a verifier: the TPM quotes every active PCR bank (PCRs 0-9) with its
attestation key (go-tpm-tools' standard template: the key mbctl attest-key prints) and the
verifier's nonce (8-64 bytes, hex), and the file holds the quotes, the AK, the TCG event log and
the IMA measurement lists that measuredboot handed over. The file is go-tpm-tools' Attestation
protobuf, which any go-tpm-tools based verifier reads as it is; mbctl verify -attestation checks it.
Run it on the booted system.

Example:
  mbctl attest -tpm /dev/tpmrm0 -nonce "$(cat nonce.hex)" -o /run/attestation.pb`

const attestKeyUsage = `usage: mbctl attest-key -o AK.pem (-tpm /dev/tpmrm0 | -swtpm HOST:PORT)

Writes the public key of the TPM's attestation key (go-tpm-tools' standard template, ECC P-256, or
RSA on a TPM without ECC: the key mbctl attest quotes with) as a PEM "PUBLIC KEY", for the verifier
to trust with mbctl verify -ak. Run it when enrolling the machine, over a path you trust.`

// Defaults of mbctl attest: where measuredboot hands its logs over in the next system's root.
const (
	defaultTCGLog = "/measuredboot/tcg.log"
	defaultIMADir = "/measuredboot/ima"
)

// cmdAttest makes an attestation with a TPM.
func cmdAttest(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("attest", stderr)
	nonceHex := fs.String("nonce", "", "the verifier's nonce, 8-64 bytes in hex (required)")
	tcgPath := fs.String("tcg", defaultTCGLog, "the TCG event log to include (as measuredboot handed it over)")
	imaDir := fs.String("ima-dir", defaultIMADir, `the IMA lists to include: every regular file in it, as "ima/NAME"`)
	out := fs.String("o", "", "where to write the attestation (written whole or not at all)")
	tf := addTPMFlags(fs, "attest with")
	fs.Usage = func() { fmt.Fprintln(stderr, attestUsage); fs.PrintDefaults() }
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 0 || *out == "" || *nonceHex == "" || tf.given() != 1 {
		fs.Usage()
		return errors.New("attest: -nonce, -o and one of -tpm or -swtpm are required")
	}
	nonce, err := parseNonce(*nonceHex)
	if err != nil {
		return fmt.Errorf("attest: %w", err)
	}
	tcg, err := readMax(*tcgPath, attest.MaxSize)
	if err != nil {
		return fmt.Errorf("attest: the TCG event log: %w", err)
	}
	ima, imaNote, err := readIMADir(*imaDir)
	if err != nil {
		return fmt.Errorf("attest: %w", err)
	}
	t, name, err := tf.open()
	if err != nil {
		return fmt.Errorf("attest: %w", err)
	}
	defer t.Close()
	b, err := attest.Attest(seal.ReadWriter(t), nonce, tcg, ima)
	if err != nil {
		return fmt.Errorf("attest: %s: %w", name, err)
	}
	f, err := attest.Parse(b)
	if err != nil {
		return fmt.Errorf("attest: %s made an attestation that does not parse: %w", name, err)
	}
	if err := writeWhole(*out, b); err != nil {
		return fmt.Errorf("attest: %w", err)
	}
	fmt.Fprintf(stdout, "attest: wrote %s: %d bytes: %s quotes of PCRs 0-9 by %s, nonce %x, TCG log %s (%d bytes), %s\n",
		*out, len(b), bankList(attest.QuotedPCRs(f)), name, nonce, *tcgPath, len(tcg), imaNote)
	return nil
}

// cmdAttestKey writes the public key of a TPM's attestation key.
func cmdAttestKey(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("attest-key", stderr)
	out := fs.String("o", "", "where to write the AK's public key, PEM")
	tf := addTPMFlags(fs, "read the attestation key of")
	fs.Usage = func() { fmt.Fprintln(stderr, attestKeyUsage); fs.PrintDefaults() }
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 0 || *out == "" || tf.given() != 1 {
		fs.Usage()
		return errors.New("attest-key: -o and one of -tpm or -swtpm are required")
	}
	t, name, err := tf.open()
	if err != nil {
		return fmt.Errorf("attest-key: %w", err)
	}
	defer t.Close()
	k, err := attest.AttestationKey(seal.ReadWriter(t))
	if err != nil {
		return fmt.Errorf("attest-key: %s: %w", name, err)
	}
	der, err := x509.MarshalPKIXPublicKey(k)
	if err != nil {
		return fmt.Errorf("attest-key: %w", err)
	}
	if err := writeWhole(*out, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})); err != nil {
		return fmt.Errorf("attest-key: %w", err)
	}
	fmt.Fprintf(stdout, "attest-key: wrote %s: the %s attestation key %s of %s\n", *out, keyKind(k), attest.Fingerprint(k), name)
	return nil
}

// keyKind names a public key's algorithm.
func keyKind(k crypto.PublicKey) string {
	switch k := k.(type) {
	case *ecdsa.PublicKey:
		return "ECDSA " + k.Curve.Params().Name
	case *rsa.PublicKey:
		return fmt.Sprintf("RSA-%d", k.N.BitLen())
	}
	return fmt.Sprintf("%T", k)
}

// parseNonce decodes a hex nonce and checks its length.
func parseNonce(s string) ([]byte, error) {
	n, err := hex.DecodeString(strings.TrimPrefix(strings.TrimSpace(s), "0x"))
	if err != nil {
		return nil, fmt.Errorf("-nonce: not hex (%v): want the verifier's nonce, %d to %d bytes as hex digits", err, attest.MinNonce, attest.MaxNonce)
	}
	if err := attest.CheckNonce(n); err != nil {
		return nil, fmt.Errorf("-nonce: %w", err)
	}
	return n, nil
}

// readMax reads the file at path, failing if it is longer than max bytes.
func readMax(path string, max int) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, int64(max)+1))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	if len(b) > max {
		return nil, fmt.Errorf("%s: more than %d bytes", path, max)
	}
	return b, nil
}

// readIMADir reads every regular file in dir as "ima/NAME", and says what it found: a missing
// directory is no lists (a boot without IMA hands none over), not an error.
func readIMADir(dir string) (map[string][]byte, string, error) {
	ents, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Sprintf("no IMA lists (%s does not exist)", dir), nil
	}
	if err != nil {
		return nil, "", fmt.Errorf("the IMA lists: %w", err)
	}
	ima := map[string][]byte{}
	total := 0
	for _, e := range ents {
		if !e.Type().IsRegular() {
			continue
		}
		b, err := readMax(filepath.Join(dir, e.Name()), attest.MaxSize-total)
		if err != nil {
			return nil, "", fmt.Errorf("the IMA lists: %w", err)
		}
		total += len(b)
		ima[attest.IMAPrefix+e.Name()] = b
	}
	return ima, fmt.Sprintf("%d IMA lists from %s (%d bytes)", len(ima), dir, total), nil
}

// bankList names the banks of p, in TPM_ALG_ID order.
func bankList(p eventlog.PCRs) string {
	algs := slices.Sorted(maps.Keys(p))
	names := make([]string, len(algs))
	for i, a := range algs {
		names[i] = a.String()
	}
	return strings.Join(names, ", ")
}

// attestationError is an attestation check's failure, on one line, as mbctl prints it.
type attestationError struct {
	path string
	err  error
}

func (e *attestationError) Error() string {
	return fmt.Sprintf("attestation %s: %s", e.path, strings.TrimPrefix(e.err.Error(), "attest: "))
}
func (e *attestationError) Unwrap() error { return e.err }

// attestationInput reads the attestation at path and verifies it with go-tpm-tools for the nonce
// nonceHex: its AK must be one in akPath (PEM "PUBLIC KEY" blocks, as mbctl attest-key writes, or
// a raw TPMT_PUBLIC) or certified by a root in rootsPath (PEM certificates), every quote signed
// by it and made for the nonce, and the TCG log must replay to the quoted values and pass
// go-eventlog's checks (PCRs 8 and 9 with GRUB's conventions if grub; EFI applications before
// the "Calling EFI Application" action accepted, as OVMF measures them). It prints the machine
// state go-tpm-tools extracted, one "attestation: " line per fact, and returns the quoted PCR
// values, which are the TPM's once the quotes verified, for the log and IMA replays.
//
// PCRs 8 and 9 are read as GRUB's when the attestation's TCG log is of an event_format=grub boot
// (its measured format marker); an event_format=ima log's are not GRUB's, and go-eventlog is not
// asked to read them (mbctl verify's own replay and cross-checks do).
func attestationInput(out io.Writer, path, nonceHex, akPath, rootsPath string) (pcrSource, *attest.File, error) {
	fail := func(err error) (pcrSource, *attest.File, error) {
		return nil, nil, &attestationError{path: path, err: err}
	}
	nonce, err := parseNonce(nonceHex)
	if err != nil {
		return fail(err)
	}
	var o attest.VerifyOptions
	switch {
	case akPath == "" && rootsPath == "":
		return fail(errors.New("no key to trust: give -ak (the PEM mbctl attest-key wrote at enrolment) or -roots (the CA certificates of the TPM's AK certificate)"))
	case akPath != "" && rootsPath != "":
		return fail(errors.New("give -ak or -roots, not both"))
	case akPath != "":
		if o.TrustedAKs, err = readAKs(akPath); err != nil {
			return fail(fmt.Errorf("-ak %w", err))
		}
	default:
		if o.Roots, err = readCerts(rootsPath); err != nil {
			return fail(fmt.Errorf("-roots %w", err))
		}
	}
	o.AllowEFIAppBeforeCallingEvent = true
	b, err := readMax(path, attest.MaxSize)
	if err != nil {
		return fail(err)
	}
	f, err := attest.Parse(b)
	if err != nil {
		return fail(err)
	}
	l, err := eventlog.Parse(f.Attestation.GetEventLog())
	if err != nil {
		return fail(fmt.Errorf("its TCG log: %w", err))
	}
	grub := measure.IsGRUBLog(l)
	o.GRUB = grub
	ms, err := attest.Verify(f, nonce, o)
	if err != nil {
		return fail(err)
	}
	pcrs := attest.QuotedPCRs(f)
	loader := "PCRs 8 and 9 not read (no GRUB)"
	if grub {
		loader = "PCRs 8 and 9 read as GRUB's"
	}
	fmt.Fprintf(out, "attestation: %s: quotes of %s verified: nonce %x, AK trusted; go-tpm-tools accepts the TCG log, %s\n", path, bankList(pcrs), nonce, loader)
	for _, l := range attest.Describe(ms) {
		fmt.Fprintf(out, "attestation: %s\n", l)
	}
	if len(f.IMA) > 0 {
		names := slices.Sorted(maps.Keys(f.IMA))
		fmt.Fprintf(out, "attestation: IMA lists (not yet checked): %s\n", strings.Join(names, ", "))
	}
	return quotedPCRs{path: path, pcrs: pcrs}, f, nil
}

// readAKs reads trusted AK public keys: PEM "PUBLIC KEY" blocks, or one raw TPMT_PUBLIC.
func readAKs(path string) ([]crypto.PublicKey, error) {
	b, err := readMax(path, 1<<20)
	if err != nil {
		return nil, err
	}
	var keys []crypto.PublicKey
	rest := b
	for {
		var blk *pem.Block
		blk, rest = pem.Decode(rest)
		if blk == nil {
			break
		}
		if blk.Type != "PUBLIC KEY" {
			return nil, fmt.Errorf("%s: a PEM %q block, want \"PUBLIC KEY\" (mbctl attest-key writes one)", path, blk.Type)
		}
		k, err := x509.ParsePKIXPublicKey(blk.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%s: public key %d: %w", path, len(keys)+1, err)
		}
		keys = append(keys, k)
	}
	if len(keys) > 0 {
		return keys, nil
	}
	pub, err := tpm2.DecodePublic(b)
	if err != nil {
		return nil, fmt.Errorf("%s: neither PEM \"PUBLIC KEY\" blocks nor a TPMT_PUBLIC (%v)", path, err)
	}
	k, err := pub.Key()
	if err != nil {
		return nil, fmt.Errorf("%s: a TPMT_PUBLIC without a usable key: %w", path, err)
	}
	return []crypto.PublicKey{k}, nil
}

// readCerts reads a PEM bundle of certificates.
func readCerts(path string) ([]*x509.Certificate, error) {
	b, err := readMax(path, 16<<20)
	if err != nil {
		return nil, err
	}
	var certs []*x509.Certificate
	for rest := b; ; {
		var blk *pem.Block
		blk, rest = pem.Decode(rest)
		if blk == nil {
			break
		}
		if blk.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%s: certificate %d: %w", path, len(certs)+1, err)
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		return nil, fmt.Errorf("%s: no PEM \"CERTIFICATE\" block", path)
	}
	return certs, nil
}

// quotedPCRs are the PCR values of a verified attestation's quotes.
type quotedPCRs struct {
	path string
	pcrs eventlog.PCRs
}

func (q quotedPCRs) Bank(alg eventlog.Alg) (map[uint32][]byte, error) {
	if vals, ok := q.pcrs[alg]; ok {
		return vals, nil
	}
	return nil, fmt.Errorf("the attestation %s has no quote of the %v bank (%w)", q.path, alg, errNoBank)
}
func (q quotedPCRs) String() string { return "the quotes of " + q.path }
func (q quotedPCRs) Close() error   { return nil }
