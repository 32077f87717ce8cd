package main

import (
	"bufio"
	"bytes"
	"crypto"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/google/go-tpm/tpm2/transport"
	"github.com/google/go-tpm/tpm2/transport/linuxtpm"
	"github.com/google/go-tpm/tpm2/transport/tcp"

	"github.com/measuredboot/measuredboot/pkg/eventlog"
	"github.com/measuredboot/measuredboot/pkg/ima"
	"github.com/measuredboot/measuredboot/pkg/measure"
	"github.com/measuredboot/measuredboot/pkg/tpm"
)

const verifyUsage = `usage: mbctl verify [-tcg FILE] [-ima FILE [-bank sha256]] (-pcrs FILE | -tpm /dev/tpmrm0 | -swtpm HOST:PORT)
                    [-skip-banks sha1,...]
       mbctl verify -attestation FILE -nonce HEX (-ak AK.pem | -roots CA.pem) [-ima FILE]

Replays a TCG event log (crypto-agile, or the legacy SHA-1 format) and/or an IMA measurement list
(binary or the kernel's ASCII format; templates ima, ima-ng, ima-sig, ima-buf) against PCR values
and says, per bank and PCR, whether they match. Formats are told from the content. Every bank of
the log is compared: a bank the PCR values do not have is a failure unless -skip-banks names it.
For the PCRs both logs cover, the IMA list and the TCG log must hold the same entries in the same
order. With a TCG log, a PCR that is not at a reset value and that no log extends is a failure,
and a log with measuredboot's events must end PCRs 8 and 9 with its separators (event_format=grub:
with the booted entry's kernel_cmdline event). Exit status 0 only when everything matches.

With -attestation (mbctl attest's file: go-tpm-tools' Attestation with the handed-over logs),
go-tpm-tools' server.VerifyAttestation first checks the quotes (the AK given with -ak, or one
certified by a CA in -roots; the nonce) and the TCG log, and prints the machine state it read
(PCRs 8 and 9 as GRUB's for an event_format=grub boot); then the checks above run on the
attestation's TCG log and IMA list (-ima, else the attestation's sha256 list) against the quoted
PCR values.`

// verifyError is what cmdVerify returns when something did not verify: one line per problem,
// each naming the bank and PCR, or the event or entry, at fault.
type verifyError struct{ problems []string }

func (e *verifyError) Error() string {
	return fmt.Sprintf("verify failed, %d problem(s): %s", len(e.problems), strings.Join(e.problems, "; "))
}

// cmdVerify replays the TCG log (-tcg) and the IMA list (-ima) against PCR values read from a
// file, a TPM device or swtpm, checks every self-describing event's and every IMA entry's digest
// against its data, and prints the verdicts. It returns nil only when everything matches.
func cmdVerify(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("verify", stderr)
	tcgPath := fs.String("tcg", "", "TCG event log, crypto-agile or legacy SHA-1 (binary_bios_measurements, measuredboot's tcg.log)")
	imaPath := fs.String("ima", "", "IMA measurement list, binary (binary_runtime_measurements[_BANK]) or ASCII (ascii_runtime_measurements[_BANK])")
	bankName := fs.String("bank", "sha256", "the PCR bank of a binary -ima list's template digests: the file's BANK suffix, sha1 for the classic binary_runtime_measurements (an ASCII list's digests name their bank)")
	pcrsPath := fs.String("pcrs", "", "PCR values: tpm2_pcrread or gotpm output, lines sha256:9=HEX or \"sha256 9 HEX\", \"9: HEX\" lines with -pcrs-bank, or go-tpm-tools' PCRs message (JSON or text format)")
	pcrsBankName := fs.String("pcrs-bank", "", "the bank of a plain \"9: HEX\" list in -pcrs")
	tf := addTPMFlags(fs, "read PCR values from")
	attPath := fs.String("attestation", "", "an attestation (mbctl attest): its quotes are the PCR values, its logs are verified")
	nonceHex := fs.String("nonce", "", "with -attestation: the nonce the verifier gave, in hex")
	akPath := fs.String("ak", "", "with -attestation: the trusted attestation key (PEM, as mbctl attest-key writes it at enrolment)")
	rootsPath := fs.String("roots", "", "with -attestation: CA certificates (PEM) that certify the TPM's AK certificate")
	skipBanks := fs.String("skip-banks", "", "banks of the log to leave unchecked, comma-separated (sha1,sha384,...): without it, a bank the PCR values lack is a failure")
	fs.Usage = func() { fmt.Fprintln(stderr, verifyUsage); fs.PrintDefaults() }
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *attPath != "" {
		if fs.NArg() != 0 || tf.given() != 0 || *pcrsPath != "" || *tcgPath != "" {
			return errors.New("verify: -attestation carries the PCR values and the TCG log: give no -pcrs, -tpm, -swtpm or -tcg\n" + verifyUsage)
		}
		return verifyAttestation(stdout, *attPath, *nonceHex, *akPath, *rootsPath, *imaPath, *skipBanks)
	}
	if *nonceHex != "" || *akPath != "" || *rootsPath != "" {
		return errors.New("verify: -nonce, -ak and -roots go with -attestation\n" + verifyUsage)
	}
	sources := tf.given()
	if *pcrsPath != "" {
		sources++
	}
	if fs.NArg() != 0 || sources != 1 || (*tcgPath == "" && *imaPath == "") {
		return errors.New(verifyUsage)
	}
	var pcrsBank eventlog.Alg
	if *pcrsBankName != "" {
		a, ok := eventlog.AlgFromName(*pcrsBankName)
		if !ok {
			return fmt.Errorf("verify: -pcrs-bank: unknown bank %q (want sha1, sha256, sha384 or sha512)", *pcrsBankName)
		}
		pcrsBank = a
	}
	src, err := openPCRSource(*pcrsPath, pcrsBank, tf)
	if err != nil {
		return err
	}
	defer src.Close()
	v, err := newVerifier(stdout, src, *skipBanks)
	if err != nil {
		return err
	}
	bankSet := false
	fs.Visit(func(f *flag.Flag) { bankSet = bankSet || f.Name == "bank" })
	in := verifyInput{bank: *bankName, bankSet: bankSet}
	for _, f := range []struct {
		path string
		name *string
		b    *[]byte
	}{{*tcgPath, &in.tcgName, &in.tcg}, {*imaPath, &in.imaName, &in.ima}} {
		if f.path == "" {
			continue
		}
		b, err := os.ReadFile(f.path)
		if err != nil {
			return fmt.Errorf("verify: %w", err)
		}
		*f.name, *f.b = f.path, b
	}
	return v.run(in)
}

// newVerifier returns a verifier of logs against src's values, leaving out the banks skipBanks
// names (comma-separated).
func newVerifier(out io.Writer, src pcrSource, skipBanks string) (*verifier, error) {
	v := &verifier{out: out, src: src, banks: eventlog.PCRs{}, noBank: map[eventlog.Alg]bool{}, skip: map[eventlog.Alg]bool{}, imaPCRs: map[uint32]bool{}}
	if skipBanks != "" {
		for _, n := range strings.Split(skipBanks, ",") {
			a, ok := eventlog.AlgFromName(strings.TrimSpace(n))
			if !ok {
				return nil, fmt.Errorf("verify: -skip-banks: unknown bank %q (want sha1, sha256, sha384 or sha512)", n)
			}
			v.skip[a] = true
		}
	}
	return v, nil
}

// verifyAttestation is mbctl verify -attestation: go-tpm-tools checks the quotes and the log
// (attestationInput), then the verifier runs on the attestation's TCG log and an IMA list (the
// file imaPath, else the attestation's sha256 list) against the quoted values.
func verifyAttestation(out io.Writer, path, nonceHex, akPath, rootsPath, imaPath, skipBanks string) error {
	src, f, err := attestationInput(out, path, nonceHex, akPath, rootsPath)
	if err != nil {
		return err
	}
	v, err := newVerifier(out, src, skipBanks)
	if err != nil {
		return err
	}
	in := verifyInput{tcgName: path + " (its TCG log)", tcg: f.Attestation.GetEventLog(), bank: "sha256"}
	if imaPath != "" {
		if in.ima, err = os.ReadFile(imaPath); err != nil {
			return fmt.Errorf("verify: %w", err)
		}
		in.imaName = imaPath
	} else if b, ok := f.IMA["ima/binary_runtime_measurements_sha256"]; ok {
		in.ima, in.imaName = b, path+" (its ima/binary_runtime_measurements_sha256)"
	}
	return v.run(in)
}

// verifyInput is what one verify run checks: the logs' bytes, named for messages, and the bank
// of a binary IMA list (bankSet when the user gave it, which an ASCII list must then agree with).
type verifyInput struct {
	tcgName, imaName string
	tcg, ima         []byte // nil when not given
	bank             string
	bankSet          bool
}

// run checks in against v's PCR source, prints the verdicts and returns nil only when everything
// matches, or a *verifyError listing the problems.
func (v *verifier) run(in verifyInput) error {
	fmt.Fprintf(v.out, "PCR values from %s\n", v.src)
	var l *eventlog.Log
	if in.tcg != nil {
		l = v.verifyTCG(in.tcgName, in.tcg)
	}
	if in.ima != nil {
		v.verifyIMA(in.imaName, in.ima, in.bank, in.bankSet, l)
	}
	if v.compared == 0 && len(v.problems) == 0 {
		v.problem("nothing was compared: %s holds no value for any PCR the logs extend", v.src)
	}
	if l != nil {
		// A TCG log claims to be the whole story from the firmware on: hold it to that.
		v.checkSilence()
		v.checkClosed(l)
	}
	if len(v.problems) > 0 {
		fmt.Fprintf(v.out, "FAIL: %d problem(s):\n", len(v.problems))
		for _, p := range v.problems {
			fmt.Fprintf(v.out, "  %s\n", p)
		}
		return &verifyError{v.problems}
	}
	fmt.Fprintf(v.out, "OK: %d checks, everything matches\n", v.compared)
	return nil
}

// verifier holds one run's PCR source, what it read and what went wrong.
type verifier struct {
	out    io.Writer
	src    pcrSource
	banks  eventlog.PCRs         // values read so far, by bank
	noBank map[eventlog.Alg]bool // banks the source does not have
	skip   map[eventlog.Alg]bool // banks -skip-banks leaves unchecked
	// tcgReplay is the TCG log's replay, once it was verified (verifyIMA reuses it).
	tcgReplay eventlog.PCRs
	imaPCRs   map[uint32]bool // PCRs the IMA list has entries for
	format    measure.Format  // the grub format when the TCG log (or the IMA list) says so
	problems  []string
	compared  int // PCR values and log cross-checks that were compared
}

func (v *verifier) problem(format string, a ...any) {
	v.problems = append(v.problems, fmt.Sprintf(format, a...))
}

// bank returns the source's values for alg, or false (said once) when the source has no such bank
// or -skip-banks leaves it out. A bank the source lacks and -skip-banks does not name is a
// problem: a log can tell any story in a bank nobody compares.
func (v *verifier) bank(alg eventlog.Alg) (map[uint32][]byte, bool) {
	if vals, ok := v.banks[alg]; ok {
		return vals, true
	}
	if v.noBank[alg] {
		return nil, false
	}
	if v.skip[alg] {
		v.noBank[alg] = true
		fmt.Fprintf(v.out, "%-6v not checked: left out with -skip-banks\n", alg)
		return nil, false
	}
	vals, err := v.src.Bank(alg)
	if err != nil {
		v.noBank[alg] = true
		if errors.Is(err, errNoBank) {
			fmt.Fprintf(v.out, "%-6v NOT CHECKED: %v\n", alg, err)
			v.problem("%v: the log has this bank and %v; compare it, or leave it out knowingly with -skip-banks %v", alg, err, alg)
		} else {
			v.problem("%v: %v", alg, err)
		}
		return nil, false
	}
	v.banks[alg] = vals
	return vals, true
}

// isTemplateEvent selects the EV_IPL and EV_SEPARATOR events whose data is IMA template data
// (measuredboot's measurements and separators, and boot loaders' that use the same record): their
// digests are the hash of their data.
func isTemplateEvent(e eventlog.Event) bool {
	if e.Type != eventlog.EvIPL && e.Type != eventlog.EvSeparator {
		return false
	}
	f, err := ima.ParseTemplateData(e.Data)
	if err != nil || len(f) < 2 {
		return false
	}
	_, _, err = ima.SplitDigestNG(f[0])
	return err == nil && len(f[1]) > 0 && f[1][len(f[1])-1] == 0
}

// templateName returns a template event's recorded name without its NUL ("" for another event).
func templateName(e eventlog.Event) string {
	if !isTemplateEvent(e) {
		return ""
	}
	f, _ := ima.ParseTemplateData(e.Data)
	return strings.TrimSuffix(string(f[1]), "\x00")
}

// eventName describes an event for a person: its index, type and PCR, and for a template event
// the recorded name.
func eventName(e eventlog.Event) string {
	s := fmt.Sprintf("tcg event %d (%v, PCR %d", e.Index, e.Type, e.PCR)
	if isTemplateEvent(e) {
		f, _ := ima.ParseTemplateData(e.Data)
		s += fmt.Sprintf(", %q", strings.TrimSuffix(string(f[1]), "\x00"))
	}
	return s + ")"
}

// isBootAggregateEvent reports whether e is measuredboot's boot_aggregate event, the first of its
// own: an IMA template event named boot_aggregate, or in the grub format the PCR 8 text
// "grub_cmd: boot_aggregate ALG:HEX".
func isBootAggregateEvent(e eventlog.Event) bool {
	if templateName(e) == ima.BootAggregateName {
		return true
	}
	return e.PCR == measure.GRUBTextPCR && e.Type == eventlog.EvIPL && bytes.HasPrefix(e.Data, []byte(measure.GRUBCmd+ima.BootAggregateName+" "))
}

// listIsGRUBFormat reports whether an IMA list has the event_format=grub entry.
func listIsGRUBFormat(list []ima.ListEntry) bool {
	return slices.ContainsFunc(list, func(e ima.ListEntry) bool {
		if e.PCR != measure.GRUBTextPCR || e.Template != ima.TemplateBuf || e.Name() != measure.FormatName {
			return false
		}
		f, err := e.Fields()
		return err == nil && len(f) == 3 && string(f[2]) == measure.FormatGRUB.String()
	})
}

// ourEvent reports whether e is one of the events the IMA list's entries for its PCR stand for:
// an IMA template event, or in the grub format any EV_IPL event in PCRs 8 and 9.
func (v *verifier) ourEvent(e eventlog.Event) bool {
	if v.format.InGRUBForm(e.PCR) {
		return e.Type == eventlog.EvIPL
	}
	return isTemplateEvent(e)
}

// verifyTCG checks the TCG log b, read from path: every template event's digests against its data, and
// the replay of every bank against the source. It returns the parsed log, or nil.
func (v *verifier) verifyTCG(path string, b []byte) *eventlog.Log {
	l, err := eventlog.Parse(b)
	if err != nil {
		v.problem("tcg: %s: %v", path, err)
		return nil
	}
	var names []string
	for _, a := range l.Banks() {
		names = append(names, a.String())
	}
	fmt.Fprintf(v.out, "tcg: %s: %d events, banks %s\n", path, len(l.Events), strings.Join(names, ","))
	if measure.IsGRUBLog(l) {
		v.format = measure.FormatGRUB
		fmt.Fprintf(v.out, "tcg: event_format=grub: PCRs 8 and 9 follow GRUB's conventions (files with their plain digests, text with prefixes)\n")
	}

	// Every template event's digests against its data, event by event so that every bad one
	// is named; firstBad remembers the first per bank and PCR, to explain a mismatch.
	firstBad := map[eventlog.Alg]map[uint32]eventlog.Event{}
	templates, bad := 0, 0
	texts := 0
	for _, e := range l.Events {
		if v.format.InGRUBForm(e.PCR) && e.PCR == measure.GRUBTextPCR && e.Type == eventlog.EvIPL {
			// GRUB's text events: each bank's digest is the hash of the text after the prefix.
			texts++
			if err := measure.CheckGRUBText(e); err != nil {
				bad++
				v.problem("%s: %v", eventName(e), err)
				for _, d := range e.Digests {
					if firstBad[d.Alg] == nil {
						firstBad[d.Alg] = map[uint32]eventlog.Event{}
					}
					if _, seen := firstBad[d.Alg][e.PCR]; !seen {
						firstBad[d.Alg][e.PCR] = e
					}
				}
			}
			continue
		}
		if !isTemplateEvent(e) {
			continue
		}
		templates++
		// Each of the event's digests against its data, once: linear in the log.
		reported := false
		for _, d := range e.Digests {
			h, ok := d.Alg.Hash()
			if !ok {
				fmt.Fprintf(v.out, "tcg: %s: %v digest not checked: no hash for it in this build\n", eventName(e), d.Alg)
				continue
			}
			hh := h.New()
			hh.Write(e.Data)
			sum := hh.Sum(nil)
			if bytes.Equal(sum, d.Sum) {
				continue
			}
			if !reported {
				bad++
				reported = true
				v.problem("%s: its %v digest %x is not the hash of its data (%x): its data or its digest was changed",
					eventName(e), d.Alg, d.Sum, sum)
			}
			if firstBad[d.Alg] == nil {
				firstBad[d.Alg] = map[uint32]eventlog.Event{}
			}
			if _, seen := firstBad[d.Alg][e.PCR]; !seen {
				firstBad[d.Alg][e.PCR] = e
			}
		}
	}
	if templates > 0 && bad == 0 {
		fmt.Fprintf(v.out, "tcg: %d events carry IMA template data; each one's digest in every bank is the hash of its data\n", templates)
	}
	if texts > 0 && bad == 0 {
		fmt.Fprintf(v.out, "tcg: %d PCR 8 events carry GRUB-style text; each one's digest in every bank is the hash of its text\n", texts)
	}

	replay, err := l.Replay()
	if err != nil {
		v.problem("tcg: %s: %v", path, err)
		return l
	}
	v.tcgReplay = replay
	// The values to compare, every bank at once: one more replay for all of them.
	haves := eventlog.PCRs{}
	for _, alg := range l.Banks() {
		vals, ok := v.bank(alg)
		if !ok {
			continue
		}
		have := map[uint32][]byte{}
		for _, p := range sortedPCRs(replay[alg]) {
			if got, ok := vals[p]; ok {
				have[p] = got
				continue
			}
			fmt.Fprintf(v.out, "tcg %-6v pcr %2d MISSING: %s has no value for it\n", alg, p, v.src)
			v.problem("tcg %v PCR %d: %s has no value for it", alg, p, v.src)
		}
		if len(have) > 0 {
			haves[alg] = have
		}
	}
	if len(haves) == 0 {
		return l
	}
	mism, err := l.Verify(haves)
	if err != nil {
		v.problem("tcg: %v", err)
		return l
	}
	for _, alg := range l.Banks() {
		have := haves[alg]
		for _, p := range sortedPCRs(have) {
			v.compared++
			i := slices.IndexFunc(mism, func(m eventlog.Mismatch) bool { return m.Alg == alg && m.PCR == p })
			if i < 0 {
				fmt.Fprintf(v.out, "tcg %-6v pcr %2d match %s\n", alg, p, short(have[p]))
				continue
			}
			m := mism[i]
			why := fmt.Sprintf("the log does not account for it: an event at or before event %d (the last one for PCR %d) is missing, extra or altered, or the value is not from this boot", m.LastEvent, p)
			if e, ok := firstBad[alg][p]; ok {
				why = fmt.Sprintf("first bad event: %s, whose %v digest is not the hash of its data", eventName(e), alg)
			}
			fmt.Fprintf(v.out, "tcg %-6v pcr %2d MISMATCH want=%x got=%x\n    %s\n", alg, p, m.Want, m.Got, why)
			v.problem("tcg %v PCR %d MISMATCH: the PCR value is %x, the log replays to %x; %s", alg, p, m.Want, m.Got, why)
		}
	}
	return l
}

// verifyIMA checks the IMA list b, read from path: a binary list whose template digests are of
// bank bankName, or an ASCII list (told from the content) whose digests' size names the bank
// (bankName must agree when bankSet). It checks every entry's digest against its template data,
// the boot_aggregate against PCRs 0-9, and per PCR either the TCG log's EV_IPL events (when l
// extends that PCR) or the list's own replay.
func (v *verifier) verifyIMA(path string, b []byte, bankName string, bankSet bool, l *eventlog.Log) {
	var list []ima.ListEntry
	var alg eventlog.Alg
	form := "binary"
	if ima.IsASCIIList(b) {
		form = "ASCII"
		var err error
		if list, alg, err = asciiList(b); err != nil {
			v.problem("ima: %s (an ASCII list): %v", path, err)
			return
		}
		if a, ok := eventlog.AlgFromName(bankName); bankSet && (!ok || a != alg) {
			v.problem("ima: %s is an ASCII list of %v template digests, not %s as -bank says", path, alg, bankName)
			return
		}
	} else {
		a, ok := eventlog.AlgFromName(bankName)
		if !ok {
			v.problem("ima: -bank %q: want sha1, sha256, sha384 or sha512", bankName)
			return
		}
		alg = a
		var err error
		if list, err = ima.ParseBinaryList(b, alg.Size()); err != nil {
			v.problem("ima: %s (as a binary %v list, %d-byte digests): %v", path, alg, alg.Size(), err)
			return
		}
	}
	h, ok := alg.Hash()
	if !ok {
		v.problem("ima: bank %v: no hash for it in this build", alg)
		return
	}
	byPCR := map[uint32][]int{}
	for i, e := range list {
		byPCR[e.PCR] = append(byPCR[e.PCR], i)
	}
	var pcrNames []string
	for _, p := range sortedPCRs(byPCR) {
		pcrNames = append(pcrNames, strconv.Itoa(int(p)))
	}
	fmt.Fprintf(v.out, "ima: %s: %s list, %d entries, %v template digests, PCRs %s\n", path, form, len(list), alg, strings.Join(pcrNames, ","))

	// Every entry's template digest against its template data.
	firstBad := map[uint32]int{}
	bad := 0
	for i, e := range list {
		if err := e.CheckDigest(h); err != nil {
			bad++
			var de *ima.TemplateDigestError
			switch {
			case errors.As(err, &de) && de.PaddedSHA1:
				v.problem("%s: its %v template digest is the SHA-1 one padded with zeros, not %v over its template data: "+
					"the kernel could not compute %v when IMA started; verify a bank it could hash", entryName(i, e), alg, alg, alg)
			case errors.As(err, &de):
				v.problem("%s: its %v template digest %x does not match its template data, which hashes to %x: its data or its digest was changed",
					entryName(i, e), alg, de.Listed, de.Computed)
			case errors.Is(err, ima.ErrViolation):
				v.problem("%s: a measurement violation (all-zero template digest, 0xFF extended): the file was measured while open for writing "+
					"or opened for writing while measured, so the measurement does not vouch for its content", entryName(i, e))
			default:
				v.problem("%s: %v", entryName(i, e), err)
			}
			if _, ok := firstBad[e.PCR]; !ok {
				firstBad[e.PCR] = i
			}
		}
	}
	if bad == 0 && len(list) > 0 {
		fmt.Fprintf(v.out, "ima: each entry's %v template digest is the hash of its template data\n", alg)
	}
	switch grubList := listIsGRUBFormat(list); {
	case grubList && l == nil:
		v.format = measure.FormatGRUB
		fmt.Fprintf(v.out, "ima: event_format=grub: the list does not replay PCRs 8 and 9 (they hold GRUB-style events); give the TCG log with -tcg to check them\n")
	case grubList && v.format != measure.FormatGRUB:
		v.problem("ima: %s has the event_format=grub entry, the TCG log does not: the two logs are of different boots or formats", path)
		return
	case !grubList && v.format == measure.FormatGRUB && len(list) > 0:
		v.problem("ima: %s has no event_format=grub entry, the TCG log does: the two logs are of different boots or formats", path)
		return
	}
	if len(list) > 0 && list[0].Name() == ima.BootAggregateName {
		v.checkBootAggregate(list[0], l)
	}

	var replay map[uint32][]byte
	tcgReplay := v.tcgReplay
	if l != nil && tcgReplay == nil {
		tcgReplay, _ = l.Replay()
	}
	for p := range byPCR {
		v.imaPCRs[p] = true
	}
	for _, p := range sortedPCRs(byPCR) {
		entries := byPCR[p]
		if p >= eventlog.NumPCRs {
			v.problem("ima PCR %d (%s): not a PC Client PCR (0-%d)", p, entryName(entries[0], list[entries[0]]), eventlog.NumPCRs-1)
			continue
		}
		if _, inLog := tcgReplay[alg][p]; inLog {
			v.crossCheck(l, alg, p, list, entries)
			continue
		}
		if v.format.InGRUBForm(p) {
			fmt.Fprintf(v.out, "ima %-6v pcr %2d NOT CHECKED: event_format=grub, and no TCG log event for it\n", alg, p)
			v.problem("ima %v PCR %d: the list is in the grub event format, whose entries do not replay PCRs 8 and 9: give the TCG log with -tcg", alg, p)
			continue
		}
		if replay == nil {
			var err error
			if replay, err = ima.Replay(list, h); err != nil {
				v.problem("ima: %v", err)
				return
			}
		}
		vals, ok := v.bank(alg)
		if !ok {
			continue
		}
		tpmVal, ok := vals[p]
		if !ok {
			fmt.Fprintf(v.out, "ima %-6v pcr %2d MISSING: %s has no value for it\n", alg, p, v.src)
			v.problem("ima %v PCR %d: %s has no value for it", alg, p, v.src)
			continue
		}
		v.compared++
		if bytes.Equal(tpmVal, replay[p]) {
			fmt.Fprintf(v.out, "ima %-6v pcr %2d match %s (replayed from the IMA list alone)\n", alg, p, short(tpmVal))
			continue
		}
		why := fmt.Sprintf("replayed from the IMA list alone: if anything else (firmware, a boot loader) also extends PCR %d, "+
			"the list cannot account for it; give the TCG log with -tcg", p)
		if l != nil && tcgReplay[alg] != nil {
			why = fmt.Sprintf("the TCG log has no event for PCR %d, so the list alone must account for it: an entry is missing, extra or altered", p)
		} else if l != nil {
			why = fmt.Sprintf("the TCG log has no %v bank to check PCR %d with, and the IMA list alone does not account for it", alg, p)
		}
		if i, ok := firstBad[p]; ok {
			why = fmt.Sprintf("first bad entry: %s, whose template digest does not match its template data", entryName(i, list[i]))
		}
		fmt.Fprintf(v.out, "ima %-6v pcr %2d MISMATCH want=%x got=%x\n    %s\n", alg, p, tpmVal, replay[p], why)
		v.problem("ima %v PCR %d MISMATCH: the PCR value is %x, the IMA list replays to %x; %s", alg, p, tpmVal, replay[p], why)
	}
}

// asciiList reads an ASCII measurement list (ascii_runtime_measurements, or a per-bank
// ascii_runtime_measurements_BANK) into the binary list's records, the template data rebuilt
// from each line, and returns the bank its template digests' size names.
func asciiList(b []byte) ([]ima.ListEntry, eventlog.Alg, error) {
	lines, err := ima.ParseASCIIList(b)
	if err != nil {
		return nil, 0, err
	}
	if len(lines) == 0 {
		return nil, 0, errors.New("no entries")
	}
	var alg eventlog.Alg
	for _, a := range []eventlog.Alg{eventlog.AlgSHA1, eventlog.AlgSHA256, eventlog.AlgSHA384, eventlog.AlgSHA512} {
		if a.Size() == len(lines[0].Digest) {
			alg = a
		}
	}
	if alg == 0 {
		return nil, 0, fmt.Errorf("line 1: a %d-byte template digest is not a SHA-1, SHA-256, SHA-384 or SHA-512 bank's", len(lines[0].Digest))
	}
	list := make([]ima.ListEntry, len(lines))
	for i, e := range lines {
		if list[i], err = e.ListEntry(); err != nil {
			return nil, 0, fmt.Errorf("line %d: %w", i+1, err)
		}
	}
	return list, alg, nil
}

// checkSilence, with a TCG log given, fails a PCR whose value is not a reset value (all zeros, or
// all ones as PCRs 17-22 hold until a dynamic launch) when no log given accounts for it: a log that says nothing of a PCR
// the TPM shows was extended is not the story of this boot (a firmware-only log beside PCRs 8 and
// 9 that this boot extended, say).
func (v *verifier) checkSilence() {
	for _, alg := range sortedAlgs(v.banks) {
		vals := v.banks[alg]
		for _, p := range sortedPCRs(vals) {
			if _, ok := v.tcgReplay[alg][p]; ok || v.imaPCRs[p] || isReset(vals[p]) {
				continue
			}
			fmt.Fprintf(v.out, "%-6v pcr %2d UNACCOUNTED: %s holds %s, and no log given extends it\n", alg, p, v.src, short(vals[p]))
			v.problem("%v PCR %d holds %x, not a reset value, and neither log accounts for it: the logs are not the whole story of this boot "+
				"(give the log that extends it, e.g. the running kernel's IMA list for PCR 10)", alg, p, vals[p])
		}
	}
}

// isReset reports whether a PCR value is one a TPM starts from: all zeros, or all ones.
func isReset(b []byte) bool {
	return len(b) > 0 && (bytes.Count(b, []byte{0}) == len(b) || bytes.Count(b, []byte{0xff}) == len(b))
}

// sortedAlgs returns the banks of p in order.
func sortedAlgs(p eventlog.PCRs) []eventlog.Alg {
	out := make([]eventlog.Alg, 0, len(p))
	for a := range p {
		out = append(out, a)
	}
	slices.Sort(out)
	return out
}

// measuredbootPCRs are the PCRs measuredboot's own events go to (the entry, appraisal and
// recovery events, and the files with the default policy), which its separators close.
var measuredbootPCRs = []uint32{8, 9}

// checkClosed applies, to a log with measuredboot's events in it, the rule that makes it a boot:
// PCRs 8 and 9 each end with measuredboot's separator. A log whose last event there is anything
// else was cut short or continued (a recovery event: the shell, not a boot).
func (v *verifier) checkClosed(l *eventlog.Log) {
	if v.format == measure.FormatGRUB {
		v.checkClosedGRUB(l)
		return
	}
	last := map[uint32]string{}
	ours := false
	for _, e := range l.Events {
		if ours && (e.PCR == measure.GRUBTextPCR || e.PCR == measure.GRUBFilesPCR) && e.Type == eventlog.EvIPL && !isTemplateEvent(e) {
			// After measuredboot's first event, an IMA-format boot writes only template events
			// to PCRs 8 and 9: a GRUB-style event among them is a log of mixed formats.
			v.problem("%s: an EV_IPL event in PCR %d that is not IMA template data, in a log of measuredboot's IMA event format: "+
				"the log mixes the two formats (event_format=grub logs begin with the %q event)", eventName(e), e.PCR, measure.FormatMarker)
			continue
		}
		if !isTemplateEvent(e) {
			continue
		}
		f, _ := ima.ParseTemplateData(e.Data)
		name := strings.TrimSuffix(string(f[1]), "\x00")
		if strings.HasPrefix(name, "measuredboot.") || name == ima.BootAggregateName {
			ours = true
		}
		last[e.PCR] = name
	}
	if !ours {
		return
	}
	for _, p := range measuredbootPCRs {
		v.compared++
		switch n, ok := last[p]; {
		case !ok:
			v.problem("tcg PCR %d: the log has measuredboot's events but none in PCR %d: not a complete measuredboot boot", p, p)
		case n != "measuredboot.separator":
			v.problem("tcg PCR %d: its last event is %q, not measuredboot's separator: the boot did not hand over (a recovery, or the log was cut or continued)", p, n)
		default:
			fmt.Fprintf(v.out, "tcg pcr %2d closed by measuredboot's separator\n", p)
		}
	}
}

// checkClosedGRUB is checkClosed's rule for the grub format, which has no separators in PCRs 8 and
// 9: the boot's last event there is the booted entry's command line (kernel_cmdline), measured
// after its files, and nothing follows it in either PCR. A log where something does was continued
// after the handover, or ends in a refusal or a recovery.
func (v *verifier) checkClosedGRUB(l *eventlog.Log) {
	v.compared++
	e, found, closed := measure.GRUBClosed(l)
	switch {
	case !found:
		v.problem("tcg PCRs 8 and 9: no events: not a complete measuredboot boot")
	case !closed:
		v.problem("tcg PCRs 8 and 9 (event_format=grub): the last event there is %s, not the booted entry's kernel_cmdline: "+
			"the boot did not hand over (a refusal or a recovery), or the log was continued after it", eventName(e))
	default:
		fmt.Fprintf(v.out, "tcg pcrs 8, 9 end with the kernel_cmdline event %d (event_format=grub: no separators; nothing after it)\n", e.Index)
	}
}

// crossCheck checks that the IMA entries for PCR p and the TCG log's template events for p are
// the same measurements in the same order, one for one: an entry the log lacks, an event the list
// lacks (an omitted entry: a list can hide what it does not show) or two swapped are each a
// problem naming the entry or event. The PCR value itself is the TCG replay's to check. Linear in
// the log.
func (v *verifier) crossCheck(l *eventlog.Log, alg eventlog.Alg, p uint32, list []ima.ListEntry, entries []int) {
	var events []eventlog.Event
	for _, e := range l.Events {
		if e.PCR == p && v.ourEvent(e) {
			events = append(events, e)
		}
	}
	v.compared++
	n := min(len(entries), len(events))
	grub := v.format.InGRUBForm(p)
	for j := 0; j < n; j++ {
		i, e := entries[j], events[j]
		if grub {
			// GRUB's form: the event is the entry's name (PCR 9) or text (PCR 8), with the
			// plain digest the entry records.
			err := errors.New("the legacy ima template has no GRUB form")
			if ie, ierr := list[i].Entry(); ierr != nil {
				err = ierr
			} else {
				err = measure.MatchGRUB(ie, e)
			}
			if err == nil {
				continue
			}
			fmt.Fprintf(v.out, "ima %-6v pcr %2d MISMATCH at position %d: %s, but %s\n", alg, p, j, entryName(i, list[i]), eventName(e))
			v.problem("ima %v PCR %d: the IMA list and the TCG log part at position %d of the PCR's measurements: %s and %s are not the same measurement in GRUB's form (%v): an entry is missing, extra or out of order in one of them",
				alg, p, j, entryName(i, list[i]), eventName(e), err)
			return
		}
		if bytes.Equal(e.Digest(alg), list[i].Digest) {
			continue
		}
		fmt.Fprintf(v.out, "ima %-6v pcr %2d MISMATCH at position %d: %s, but %s\n", alg, p, j, entryName(i, list[i]), eventName(e))
		v.problem("ima %v PCR %d: the IMA list and the TCG log part at position %d of the PCR's measurements: %s has template digest %x, "+
			"%s has %x: an entry is missing, extra or out of order in one of them", alg, p, j, entryName(i, list[i]), list[i].Digest, eventName(e), e.Digest(alg))
		return
	}
	switch {
	case len(events) > len(entries):
		e := events[len(entries)]
		fmt.Fprintf(v.out, "ima %-6v pcr %2d MISMATCH: %s is not in the IMA list\n", alg, p, eventName(e))
		v.problem("ima %v PCR %d: %s (and %d more after it) has no entry in the IMA list: the list omits what the TCG log records",
			alg, p, eventName(e), len(events)-len(entries)-1)
	case len(entries) > len(events):
		i := entries[len(events)]
		after := "the start of the log"
		if len(events) > 0 {
			after = fmt.Sprintf("event %d", events[len(events)-1].Index)
		}
		fmt.Fprintf(v.out, "ima %-6v pcr %2d MISMATCH %s is not an EV_IPL event for PCR %d after %s\n", alg, p, entryName(i, list[i]), p, after)
		v.problem("ima %v PCR %d: %s: its template digest %x is not the %v digest of any EV_IPL event for PCR %d in the TCG log after %s",
			alg, p, entryName(i, list[i]), list[i].Digest, alg, p, after)
	default:
		idx := make([]string, n)
		ev := make([]string, n)
		for j := 0; j < n; j++ {
			idx[j], ev[j] = strconv.Itoa(entries[j]), strconv.Itoa(events[j].Index)
		}
		form := ""
		if grub {
			form = " in GRUB's form"
		}
		fmt.Fprintf(v.out, "ima %-6v pcr %2d match: IMA entries %s = tcg events %s%s, one for one and in order; the tcg replay checks the value\n",
			alg, p, strings.Join(idx, ","), strings.Join(ev, ","), form)
	}
}

// checkBootAggregate compares the boot_aggregate entry's digest with the one the PCR values give.
// The kernel's aggregate is over PCRs 0-9 as they were when its IMA started, and nothing extends
// them later, so the final values serve. measuredboot records its aggregate in PCR 9 and extends
// PCRs 8 and 9 afterwards: when the TCG log holds the entry's event, the aggregate is checked
// against the log's replay of the events before it (the log's replay is checked against the
// PCRs on its own).
func (v *verifier) checkBootAggregate(e ima.ListEntry, l *eventlog.Log) {
	f, err := e.Fields()
	if err != nil {
		return
	}
	// The legacy ima template's file digest is SHA-1 with no algorithm named.
	algName, recorded := "sha1", f[0]
	if e.Template != ima.TemplateIMA {
		if algName, recorded, err = ima.SplitDigestNG(f[0]); err != nil {
			v.problem("ima entry 0 (boot_aggregate): %v", err)
			return
		}
	}
	alg, ok := eventlog.AlgFromName(algName)
	h, hok := alg.Hash()
	if !ok || !hok {
		fmt.Fprintf(v.out, "ima boot_aggregate not checked: no PCR bank for %q\n", algName)
		return
	}
	pcrs := "0-9"
	if h == crypto.SHA1 {
		pcrs = "0-7"
	}
	var vals map[uint32][]byte
	from := fmt.Sprintf("%v PCRs %s", alg, pcrs)
	if k := eventIndex(l, e, v.format); k >= 0 {
		pre := *l
		pre.Events = l.Events[:k]
		rp, err := pre.Replay()
		if err != nil {
			v.problem("ima entry 0 (boot_aggregate): tcg replay up to event %d: %v", l.Events[k].Index, err)
			return
		}
		vals = rp.Values(alg, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9)
		from += fmt.Sprintf(" as the tcg log replays them before event %d", l.Events[k].Index)
	} else if vals, ok = v.bank(alg); !ok {
		return
	}
	want, err := ima.BootAggregate(h, vals)
	if err != nil {
		v.problem("ima entry 0 (boot_aggregate): %v", err)
		return
	}
	v.compared++
	if bytes.Equal(want, recorded) {
		fmt.Fprintf(v.out, "ima boot_aggregate match %s:%x (%s)\n", algName, recorded, from)
		return
	}
	fmt.Fprintf(v.out, "ima boot_aggregate MISMATCH want=%x got=%x (%s)\n", want, recorded, from)
	v.problem("ima entry 0 (boot_aggregate): the list records %s:%x, but %s hash to %x: the list is from another boot, or PCRs %s changed after the aggregate was taken",
		algName, recorded, from, want, pcrs)
}

// eventIndex returns the position in l of the first event for e's PCR that records e: a template
// event whose data is e's template data, or in format fm's GRUB form the event MatchGRUB accepts;
// -1 when there is none (also when l is nil).
func eventIndex(l *eventlog.Log, e ima.ListEntry, fm measure.Format) int {
	if l == nil {
		return -1
	}
	if fm.InGRUBForm(e.PCR) {
		ie, err := e.Entry()
		if err != nil {
			return -1
		}
		return slices.IndexFunc(l.Events, func(x eventlog.Event) bool {
			return x.PCR == e.PCR && x.Type == eventlog.EvIPL && measure.MatchGRUB(ie, x) == nil
		})
	}
	return slices.IndexFunc(l.Events, func(x eventlog.Event) bool {
		return x.PCR == e.PCR && isTemplateEvent(x) && bytes.Equal(x.Data, e.Data)
	})
}

// clip shortens an untrusted line for an error message.
func clip(s string) string {
	if len(s) > 80 {
		return s[:80] + "..."
	}
	return s
}

// short is the first 8 bytes of a matching value in hex, enough for a person to compare.
func short(b []byte) string {
	if len(b) > 8 {
		b = b[:8]
	}
	return hex.EncodeToString(b)
}

func entryName(i int, e ima.ListEntry) string {
	return fmt.Sprintf("ima entry %d (%s %q, PCR %d)", i, e.Template, e.Name(), e.PCR)
}

func sortedPCRs[V any](m map[uint32]V) []uint32 {
	out := make([]uint32, 0, len(m))
	for p := range m {
		out = append(out, p)
	}
	slices.Sort(out)
	return out
}

// errNoBank means a PCR source has no values for a bank: it is not checked.
var errNoBank = errors.New("no such PCR bank")

// pcrSource gives PCR values by bank: from a file, or read from a TPM.
type pcrSource interface {
	// Bank returns every PCR value the source has for alg, or an error wrapping errNoBank.
	Bank(alg eventlog.Alg) (map[uint32][]byte, error)
	String() string
	Close() error
}

func openPCRSource(pcrsPath string, pcrsBank eventlog.Alg, tf tpmFlags) (pcrSource, error) {
	switch {
	case pcrsPath != "":
		b, err := os.ReadFile(pcrsPath)
		if err != nil {
			return nil, err
		}
		pcrs, err := parsePCRFile(b, pcrsBank)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", pcrsPath, err)
		}
		return filePCRs{path: pcrsPath, pcrs: pcrs}, nil
	default:
		t, name, err := tf.open()
		if err != nil {
			return nil, err
		}
		return &tpmPCRs{name: name, t: t}, nil
	}
}

// tpmFlags are the -tpm and -swtpm flags of the commands that talk to a TPM.
type tpmFlags struct{ path, swtpm *string }

// addTPMFlags registers -tpm and -swtpm on fs; what says what the TPM is used for.
func addTPMFlags(fs *flag.FlagSet, what string) tpmFlags {
	return tpmFlags{
		path:  fs.String("tpm", "", what+" the TPM device, e.g. /dev/tpmrm0"),
		swtpm: fs.String("swtpm", "", what+" swtpm's TCP server HOST:PORT (control channel on PORT+1)"),
	}
}

// given reports how many of the two flags were given.
func (f tpmFlags) given() int {
	n := 0
	for _, s := range []string{*f.path, *f.swtpm} {
		if s != "" {
			n++
		}
	}
	return n
}

// open opens the TPM the flags name (openTPM).
func (f tpmFlags) open() (transport.TPMCloser, string, error) { return openTPM(*f.path, *f.swtpm) }

// openTPM opens the TPM device at tpmPath, or else swtpm's TCP server at swtpmAddr (HOST:PORT,
// its control channel on PORT+1), and names it for messages.
func openTPM(tpmPath, swtpmAddr string) (transport.TPMCloser, string, error) {
	if tpmPath != "" {
		t, err := linuxtpm.Open(tpmPath)
		if err != nil {
			return nil, "", fmt.Errorf("open TPM %s: %w", tpmPath, err)
		}
		return t, "TPM " + tpmPath, nil
	}
	host, port, err := net.SplitHostPort(swtpmAddr)
	n, perr := strconv.ParseUint(port, 10, 16)
	if err != nil || perr != nil || n == 0 || n == 65535 {
		return nil, "", fmt.Errorf("-swtpm %q: want HOST:PORT, swtpm's --server port (its --ctrl port is PORT+1)", swtpmAddr)
	}
	ctrl := net.JoinHostPort(host, strconv.FormatUint(n+1, 10))
	// No PowerOn: swtpm started with --flags not-need-init,startup-clear is on and started,
	// and a power cycle would reset its PCRs.
	t, err := tcp.Open(tcp.Config{CommandAddress: swtpmAddr, PlatformAddress: ctrl})
	if err != nil {
		return nil, "", fmt.Errorf("swtpm at %s (control %s): %w", swtpmAddr, ctrl, err)
	}
	return t, "swtpm " + swtpmAddr, nil
}

// filePCRs are PCR values from a file: claims of whoever wrote it.
type filePCRs struct {
	path string
	pcrs eventlog.PCRs
}

func (f filePCRs) Bank(alg eventlog.Alg) (map[uint32][]byte, error) {
	if vals, ok := f.pcrs[alg]; ok {
		return vals, nil
	}
	return nil, fmt.Errorf("%s has no %v values (%w)", f.path, alg, errNoBank)
}
func (f filePCRs) String() string { return f.path }
func (f filePCRs) Close() error   { return nil }

// tpmPCRs reads PCR values from a TPM with PCR_Read, every PCR of a bank at once.
type tpmPCRs struct {
	name  string
	t     transport.TPMCloser
	dev   *tpm.Device
	banks []eventlog.Alg
}

func (s *tpmPCRs) Bank(alg eventlog.Alg) (map[uint32][]byte, error) {
	if s.dev == nil {
		s.dev = tpm.New(s.t)
		banks, err := s.dev.Banks()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", s.name, err)
		}
		s.banks = banks
	}
	if !slices.Contains(s.banks, alg) {
		return nil, fmt.Errorf("%s has no active %v bank (%w)", s.name, alg, errNoBank)
	}
	all := make([]uint32, eventlog.NumPCRs)
	for i := range all {
		all[i] = uint32(i)
	}
	vals, err := s.dev.Read(alg, all)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", s.name, err)
	}
	return vals, nil
}
func (s *tpmPCRs) String() string { return s.name }
func (s *tpmPCRs) Close() error   { return s.t.Close() }

var (
	yamlBankLine  = regexp.MustCompile(`^\s*([a-zA-Z0-9_]+)\s*:\s*$`)
	yamlValueLine = regexp.MustCompile(`^\s*(\d+)\s*:\s*(?:0x)?([0-9a-fA-F]+)\s*$`)
	eqValueLine   = regexp.MustCompile(`^\s*([a-z0-9_]+):(\d+)\s*=\s*(?:0x)?([0-9a-fA-F]+)\s*$`)
	wordValueLine = regexp.MustCompile(`^\s*([a-z0-9_]+)\s+(\d+)\s+(?:0x)?([0-9a-fA-F]+)\s*$`)
)

// parsePCRFile reads PCR values in the formats people have at hand, told apart by their content:
// what tpm2_pcrread prints ("  sha256:" then "    9 : 0xHEX" lines) and go-tpm-tools' gotpm read
// pcr ("SHA256:" then "   9: 0xHEX"), "sha256:9=HEX" lines, "sha256 9 HEX" lines (a dump of
// /sys/class/tpm/tpm0/pcr-<bank>/<index>), a plain "9: HEX" list of the bank given as
// defaultBank (0 for none: then such a list is an error), and go-tpm-tools' PCRs message as JSON
// (protojson: {"hash": "SHA256", "pcrs": {"9": "BASE64"}}, one or a list) or in the protobuf text
// format (parsePCRTextproto). Blank lines and #
// comments are ignored. Every value must have its bank's size; a PCR given twice must have one
// value.
func parsePCRFile(b []byte, defaultBank eventlog.Alg) (eventlog.PCRs, error) {
	if t := bytes.TrimSpace(b); len(t) > 0 && (t[0] == '{' || t[0] == '[') {
		return parsePCRJSON(t)
	}
	if isPCRTextproto(b) {
		return parsePCRTextproto(b)
	}
	pcrs := eventlog.PCRs{}
	bank, haveBank := defaultBank, defaultBank != 0
	sc := bufio.NewScanner(bytes.NewReader(b))
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		if strings.TrimSpace(line) == "" {
			continue
		}
		var algName, idx, val string
		if m := yamlBankLine.FindStringSubmatch(line); m != nil {
			a, ok := eventlog.AlgFromName(strings.ToLower(m[1]))
			if !ok {
				return nil, fmt.Errorf("line %d: unknown PCR bank %q", n, m[1])
			}
			bank, haveBank = a, true
			continue
		} else if m := eqValueLine.FindStringSubmatch(line); m != nil {
			algName, idx, val = m[1], m[2], m[3]
		} else if m := wordValueLine.FindStringSubmatch(line); m != nil {
			algName, idx, val = m[1], m[2], m[3]
		} else if m := yamlValueLine.FindStringSubmatch(line); m != nil {
			if !haveBank {
				return nil, fmt.Errorf("line %d: %q: a PCR value before any bank line such as \"  sha256:\" (for a plain \"N: HEX\" list, name its bank with -pcrs-bank)", n, clip(line))
			}
			algName, idx, val = bank.String(), m[1], m[2]
		} else {
			return nil, fmt.Errorf("line %d: %q: want tpm2_pcrread or gotpm output, sha256:9=HEX, \"sha256 9 HEX\", \"9: HEX\" with -pcrs-bank, or go-tpm-tools JSON", n, clip(line))
		}
		a, ok := eventlog.AlgFromName(algName)
		if !ok {
			return nil, fmt.Errorf("line %d: unknown PCR bank %q", n, algName)
		}
		p, err := strconv.ParseUint(idx, 10, 32)
		if err != nil || p >= eventlog.NumPCRs {
			return nil, fmt.Errorf("line %d: PCR %s: want 0-%d", n, clip(idx), eventlog.NumPCRs-1)
		}
		if len(val) != 2*a.Size() {
			return nil, fmt.Errorf("line %d: %v PCR %d value has %d hex digits, want %d", n, a, p, len(val), 2*a.Size())
		}
		v, err := hex.DecodeString(val)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", n, err)
		}
		if pcrs[a] == nil {
			pcrs[a] = map[uint32][]byte{}
		}
		if old, ok := pcrs[a][uint32(p)]; ok && !bytes.Equal(old, v) {
			return nil, fmt.Errorf("line %d: %v PCR %d given twice with different values", n, a, p)
		}
		pcrs[a][uint32(p)] = v
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(pcrs) == 0 {
		return nil, errors.New("no PCR values in it")
	}
	return pcrs, nil
}

// pcrJSON is go-tpm-tools' PCRs message (proto/tpm.proto) as protojson writes it: the hash as
// its enum name or number, the values base64 under their PCR index as a string.
type pcrJSON struct {
	Hash json.RawMessage   `json:"hash"`
	PCRs map[string]string `json:"pcrs"`
}

// tpmAlgs maps go-tpm-tools' HashAlgo enum (the TPM_ALG_ID values) names to banks.
var tpmAlgs = map[string]eventlog.Alg{"SHA1": eventlog.AlgSHA1, "SHA256": eventlog.AlgSHA256, "SHA384": eventlog.AlgSHA384, "SHA512": eventlog.AlgSHA512}

// parsePCRJSON reads one go-tpm-tools PCRs message in JSON, or a list of them.
func parsePCRJSON(b []byte) (eventlog.PCRs, error) {
	var msgs []pcrJSON
	if b[0] == '[' {
		if err := json.Unmarshal(b, &msgs); err != nil {
			return nil, fmt.Errorf("go-tpm-tools PCRs JSON: %w", err)
		}
	} else {
		var m pcrJSON
		if err := json.Unmarshal(b, &m); err != nil {
			return nil, fmt.Errorf("go-tpm-tools PCRs JSON: %w", err)
		}
		msgs = []pcrJSON{m}
	}
	pcrs := eventlog.PCRs{}
	for i, m := range msgs {
		var a eventlog.Alg
		var name string
		var num uint16
		switch {
		case json.Unmarshal(m.Hash, &name) == nil && tpmAlgs[name] != 0:
			a = tpmAlgs[name]
		case json.Unmarshal(m.Hash, &num) == nil && eventlog.Alg(num).Size() > 0:
			a = eventlog.Alg(num)
		default:
			return nil, fmt.Errorf("go-tpm-tools PCRs JSON, message %d: hash %s: want SHA1, SHA256, SHA384 or SHA512", i, clip(string(m.Hash)))
		}
		if pcrs[a] != nil {
			return nil, fmt.Errorf("go-tpm-tools PCRs JSON, message %d: the %v bank twice", i, a)
		}
		pcrs[a] = map[uint32][]byte{}
		for k, v := range m.PCRs {
			p, err := strconv.ParseUint(k, 10, 32)
			if err != nil || p >= eventlog.NumPCRs {
				return nil, fmt.Errorf("go-tpm-tools PCRs JSON, %v: PCR %q: want 0-%d", a, clip(k), eventlog.NumPCRs-1)
			}
			d, err := base64.StdEncoding.DecodeString(v)
			if err != nil || len(d) != a.Size() {
				return nil, fmt.Errorf("go-tpm-tools PCRs JSON, %v PCR %d: want %d bytes in base64", a, p, a.Size())
			}
			pcrs[a][uint32(p)] = d
		}
	}
	if len(pcrs) == 0 {
		return nil, errors.New("no PCR values in it")
	}
	return pcrs, nil
}
