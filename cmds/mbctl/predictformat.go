package main

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/measuredboot/measuredboot/pkg/eventlog"
	"github.com/measuredboot/measuredboot/pkg/tpm"
)

// predictionFormats are the -format values writePrediction takes. Each may end in ":BANK"
// (raw:sha256, clevis:sha384) to print that bank of the prediction alone.
var predictionFormats = []string{"yaml", "raw", "clevis", "cryptenroll", "pcrlock"}

// writePrediction writes p in format f, one of predictionFormats, optionally followed by
// ":BANK" (sha1, sha256, sha384, sha512) to keep that bank of p alone; a bank p lacks is an
// error. The formats, for the PCRs the boot extends (p.PCRs) unless said otherwise:
//
//   - "yaml": what tpm2_pcrread prints, bank by bank.
//   - "raw": the values concatenated, bank by bank in p.Banks' order, PCRs ascending within a
//     bank: what tpm2_pcrread -o writes for the selection "sha1:8,9+sha256:8,9" in that bank
//     order, and what tpm2_policypcr -f reads for the same -l. With several banks, -l must list
//     them in the prediction's order; "raw:sha256" gives one bank, what a one-bank -l wants.
//   - "clevis": the config of clevis's tpm2 pin (clevis encrypt tpm2 CONFIG), {"pcr_bank",
//     "pcr_ids", "pcr_digest"}: pcr_digest is the values of that one bank concatenated (as
//     "raw:BANK"), in base64url without padding, the only base64 jose b64 dec (which
//     clevis-encrypt-tpm2 runs on it before tpm2_createpolicy -f) reads. The bank is
//     sealingBank's: sha256 if p has it, else p's first bank clevis supports.
//   - "cryptenroll": systemd-cryptenroll's (systemd 255 or later) argument
//     --tpm2-pcrs=8:sha256=HEX+9:sha256=HEX, one bank chosen as for clevis (systemd seals to
//     one bank).
//   - "pcrlock": a systemd-pcrlock .pcrlock file, {"records":[{"pcr":N,"digests":[{"hashAlg":
//     "sha256","digest":HEX},...]},...]}: one record per extend of the boot (p.Extends, in
//     order, not the firmware's), with a digest per bank.
func writePrediction(w io.Writer, p *prediction, f string) error {
	name, bankName, hasBank := strings.Cut(f, ":")
	if hasBank {
		var err error
		if p, err = p.onlyBank(bankName); err != nil {
			return fmt.Errorf("-format %q: %w", f, err)
		}
	}
	var err error
	switch name {
	case "yaml":
		err = writeYAML(w, p)
	case "raw":
		err = writeRaw(w, p)
	case "clevis":
		err = writeClevis(w, p)
	case "cryptenroll":
		err = writeCryptenroll(w, p)
	case "pcrlock":
		err = writePcrlock(w, p)
	default:
		return fmt.Errorf("-format %q: want one of %v, optionally followed by :BANK (raw:sha256)", f, predictionFormats)
	}
	if err != nil {
		return fmt.Errorf("-format %q: %w", f, err)
	}
	return nil
}

// onlyBank returns a copy of p that holds bank name alone: its Banks that bank, each of its
// Extends that bank's digest. An unknown bank, or one p lacks, is an error naming p's banks.
func (p *prediction) onlyBank(name string) (*prediction, error) {
	a, ok := eventlog.AlgFromName(name)
	if !ok {
		return nil, fmt.Errorf("unknown bank %q: want sha1, sha256, sha384 or sha512", name)
	}
	if !slices.Contains(p.Banks, a) {
		return nil, fmt.Errorf("the prediction has no %v bank, only %v: predict with -banks %v, or an -eventlog whose log has that bank", a, bankNames(p.Banks), a)
	}
	q := *p
	q.Banks = []eventlog.Alg{a}
	q.Extends = nil
	for _, e := range p.Extends {
		x := tpm.Extend{PCR: e.PCR}
		for _, d := range e.Digests {
			if d.Alg == a {
				x.Digests = append(x.Digests, d)
			}
		}
		q.Extends = append(q.Extends, x)
	}
	return &q, nil
}

// bankNames returns the names of banks, comma-separated, for an error.
func bankNames(banks []eventlog.Alg) string {
	s := make([]string, len(banks))
	for i, b := range banks {
		s[i] = b.String()
	}
	return strings.Join(s, ",")
}

// writeYAML writes p as tpm2_pcrread prints it: per bank, the PCRs the boot extends.
func writeYAML(w io.Writer, p *prediction) error {
	for _, b := range p.Banks {
		if _, err := fmt.Fprintf(w, "  %v:\n", b); err != nil {
			return err
		}
		for _, i := range p.PCRs {
			if _, err := fmt.Fprintf(w, "    %-2d: 0x%X\n", i, p.Value(b, i)); err != nil {
				return err
			}
		}
	}
	return nil
}

// writeRaw writes the values of p.PCRs concatenated, bank by bank in p.Banks' order, as
// tpm2_pcrread -o writes them for a selection listing the banks in that order.
func writeRaw(w io.Writer, p *prediction) error {
	for _, b := range p.Banks {
		if _, err := w.Write(p.concatValues(b)); err != nil {
			return err
		}
	}
	return nil
}

// concatValues returns the values of p.PCRs in bank b, concatenated in p.PCRs' order.
func (p *prediction) concatValues(b eventlog.Alg) []byte {
	var v []byte
	for _, i := range p.PCRs {
		v = append(v, p.Value(b, i)...)
	}
	return v
}

// sealingBanks are the banks clevis's tpm2 pin (through tpm2-tools) and systemd-cryptenroll
// seal to, in the order sealingBank prefers them after sha256.
var sealingBanks = []eventlog.Alg{eventlog.AlgSHA256, eventlog.AlgSHA1, eventlog.AlgSHA384, eventlog.AlgSHA512}

// sealingBank returns the bank a one-bank seal of p binds to: sha256 if p has it, the bank
// both tools default to or (clevis) recommend, else p's first bank they support. It also
// checks that p binds to some PCR: a clevis config without pcr_ids seals to no policy at all.
func (p *prediction) sealingBank() (eventlog.Alg, error) {
	if len(p.PCRs) == 0 {
		return 0, errors.New("the boot extends no PCR, so there is nothing to bind a seal to")
	}
	if slices.Contains(p.Banks, eventlog.AlgSHA256) {
		return eventlog.AlgSHA256, nil
	}
	for _, b := range p.Banks {
		if slices.Contains(sealingBanks, b) {
			return b, nil
		}
	}
	return 0, fmt.Errorf("the prediction's banks %v hold none of sha1, sha256, sha384, sha512 that a seal can bind to", bankNames(p.Banks))
}

// pcrList returns pcrs as "8,9" (sep ",") or "8+9".
func pcrList(pcrs []uint32, sep string) string {
	s := make([]string, len(pcrs))
	for i, n := range pcrs {
		s[i] = strconv.FormatUint(uint64(n), 10)
	}
	return strings.Join(s, sep)
}

// clevisConfig is the tpm2 pin's configuration (clevis-encrypt-tpm2(1)); its hash and key are
// left to the pin's defaults (sha256, ecc).
type clevisConfig struct {
	PCRBank   string `json:"pcr_bank"`
	PCRIDs    string `json:"pcr_ids"`
	PCRDigest string `json:"pcr_digest"`
}

// writeClevis writes the tpm2 pin's JSON config binding to p's values in sealingBank's bank.
func writeClevis(w io.Writer, p *prediction) error {
	b, err := p.sealingBank()
	if err != nil {
		return err
	}
	c := clevisConfig{
		PCRBank: b.String(),
		PCRIDs:  pcrList(p.PCRs, ","),
		// jose b64 dec decodes base64url without padding only (RFC 7515 section 2).
		PCRDigest: base64.RawURLEncoding.EncodeToString(p.concatValues(b)),
	}
	j, err := json.Marshal(c)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%s\n", j)
	return err
}

// writeCryptenroll writes systemd-cryptenroll's --tpm2-pcrs= argument binding to p's values in
// sealingBank's bank: INDEX:BANK=HEX for each PCR, joined by "+" (systemd's
// tpm2_pcr_values_from_string, systemd 255 and later).
func writeCryptenroll(w io.Writer, p *prediction) error {
	b, err := p.sealingBank()
	if err != nil {
		return err
	}
	s := make([]string, len(p.PCRs))
	for k, i := range p.PCRs {
		s[k] = fmt.Sprintf("%d:%v=%x", i, b, p.Value(b, i))
	}
	_, err = fmt.Fprintf(w, "--tpm2-pcrs=%s\n", strings.Join(s, "+"))
	return err
}

// pcrlockFile is a systemd-pcrlock .pcrlock file: the records a component extends, in order.
type pcrlockFile struct {
	Records []pcrlockRecord `json:"records"`
}

// pcrlockRecord is one extend of a .pcrlock file: the PCR and its digest in every bank.
type pcrlockRecord struct {
	PCR     uint32          `json:"pcr"`
	Digests []pcrlockDigest `json:"digests"`
}

// pcrlockDigest is one bank's digest of a pcrlockRecord, in lowercase hex.
type pcrlockDigest struct {
	HashAlg string `json:"hashAlg"`
	Digest  string `json:"digest"`
}

// writePcrlock writes p's extends as a .pcrlock file, in the order the boot takes them, each
// with its digest in every bank of p.
func writePcrlock(w io.Writer, p *prediction) error {
	f := pcrlockFile{Records: []pcrlockRecord{}}
	for n, e := range p.Extends {
		r := pcrlockRecord{PCR: e.PCR, Digests: []pcrlockDigest{}}
		for _, d := range e.Digests {
			if d.Alg.Size() == 0 || len(d.Sum) != d.Alg.Size() {
				return fmt.Errorf("extend %d of PCR %d: a %v digest of %d bytes", n, e.PCR, d.Alg, len(d.Sum))
			}
			r.Digests = append(r.Digests, pcrlockDigest{HashAlg: d.Alg.String(), Digest: hex.EncodeToString(d.Sum)})
		}
		f.Records = append(f.Records, r)
	}
	j, err := json.Marshal(f)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%s\n", j)
	return err
}

// tpmCCPolicyPCR is TPM_CC_PolicyPCR (TPM 2.0 Part 2, table 12).
const tpmCCPolicyPCR = 0x0000017F

// policyPCRDigest returns the policy digest a trial session (tpm2_startauthsession, SHA-256, the
// nameAlg clevis and systemd give sealed objects) holds after TPM2_PolicyPCR binds it to pcrs
// of bank alg holding values (values[k] is pcrs[k]'s), from a fresh session (Part 3, 23.7):
//
//	SHA-256(zeros(32) || TPM_CC_PolicyPCR || TPML_PCR_SELECTION || SHA-256(values concatenated))
//
// with the selection encoded as the TPM marshals it: count u32 = 1, hash alg u16 = alg,
// sizeofSelect u8 = 3, a 3-byte bitmap of PCRs 0-23 (bit i%8 of byte i/8), all big endian.
// pcrs must be ascending, the order a TPM concatenates the values in, and each value alg's
// size.
func policyPCRDigest(alg eventlog.Alg, pcrs []uint32, values [][]byte) ([]byte, error) {
	if alg.Size() == 0 {
		return nil, fmt.Errorf("policyPCRDigest: unknown bank %v", alg)
	}
	if len(pcrs) == 0 {
		return nil, errors.New("policyPCRDigest: no PCRs to select")
	}
	if len(values) != len(pcrs) {
		return nil, fmt.Errorf("policyPCRDigest: %d values for %d PCRs %v", len(values), len(pcrs), pcrs)
	}
	var bitmap [3]byte
	h := sha256.New()
	for k, i := range pcrs {
		if i >= eventlog.NumPCRs {
			return nil, fmt.Errorf("policyPCRDigest: PCR %d out of range 0-%d", i, eventlog.NumPCRs-1)
		}
		if k > 0 && i <= pcrs[k-1] {
			return nil, fmt.Errorf("policyPCRDigest: PCRs %v not strictly ascending at PCR %d", pcrs, i)
		}
		if len(values[k]) != alg.Size() {
			return nil, fmt.Errorf("policyPCRDigest: %v PCR %d value of %d bytes, want %d", alg, i, len(values[k]), alg.Size())
		}
		bitmap[i/8] |= 1 << (i % 8)
		h.Write(values[k])
	}
	pcrDigest := h.Sum(nil)

	var m []byte
	m = append(m, make([]byte, sha256.Size)...)
	m = binary.BigEndian.AppendUint32(m, tpmCCPolicyPCR)
	m = binary.BigEndian.AppendUint32(m, 1) // TPML_PCR_SELECTION.count
	m = binary.BigEndian.AppendUint16(m, uint16(alg))
	m = append(m, byte(len(bitmap)))
	m = append(m, bitmap[:]...)
	m = append(m, pcrDigest...)
	d := sha256.Sum256(m)
	return d[:], nil
}
