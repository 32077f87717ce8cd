// Package attest makes and checks a boot's attestation: TPM quotes over every PCR bank, signed by
// an attestation key (AK) and bound to a verifier's nonce, with the handed-over TCG event log and
// IMA measurement lists. Making one is what go-tpm-tools' client.Key.Attest does (an AK from its
// standard template, Key.Quote of every allocated bank); checking one is go-tpm-tools'
// server.VerifyAttestation, the verifier a fleet already runs, so that this package adds only
// the file around them and the checks that name what is wrong.
//
// # File format
//
// The file is a marshalled go-tpm-tools attest.Attestation protobuf (proto/attest, v0.4.10):
// ak_pub (field 1, the AK's TPMT_PUBLIC), quotes (2, one per active PCR bank, each over PCRs
// 0-9), event_log (3, the TCG log as handed over), and no AK certificate unless the TPM has one.
// Any go-tpm-tools based verifier reads the file as it is.
//
// The IMA measurement lists ride in the same message as field 1000, repeated, wire type 2, each
// a nested message {1: name (bytes, UTF-8), 2: contents (bytes)}, written after the
// Attestation's own fields in name order. go-tpm-tools' parser keeps them as unknown fields and
// ignores them. A name is "ima/" and a plain file name (no "/", not "." or "..", no NUL, at
// most 255 bytes), e.g. "ima/binary_runtime_measurements_sha256"; no name appears twice.
//
// # Trust
//
// Parse checks form only: a *File is unverified, and so are its IMA lists and QuotedPCRs until
// Verify returns without error. Verify checks every quote (signature by a trusted AK, the nonce,
// the PCR digest) and then lets go-tpm-tools replay the TCG log against one bank (the strongest
// quoted, SHA-1 only with AllowSHA1). go-eventlog's replay compares only PCRs the log has events
// for, and only in that bank: a caller replays the log in every bank against QuotedPCRs
// (eventlog.Log.Verify) and the IMA lists against PCR 10, as mbctl verify does.
package attest

import (
	"bytes"
	"crypto"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/google/go-tpm-tools/client"
	attestpb "github.com/google/go-tpm-tools/proto/attest"
	tpmpb "github.com/google/go-tpm-tools/proto/tpm"
	"github.com/google/go-tpm-tools/quote"
	"github.com/google/go-tpm-tools/server"
	"github.com/google/go-tpm/legacy/tpm2"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/measuredboot/measuredboot/pkg/eventlog"
)

const (
	// MinNonce is the shortest nonce accepted: go-tpm-tools only wants one that is not empty,
	// but a nonce shorter than 8 bytes can be guessed, and the quote replayed.
	MinNonce = 8
	// MaxNonce is the longest nonce accepted: a TPM takes at most the size of its largest
	// digest (TPM2B_DATA, 64 bytes with SHA-512) as a quote's qualifying data.
	MaxNonce = 64
	// MaxSize bounds an attestation file read from untrusted storage.
	MaxSize = 64 << 20
	// IMAPrefix begins the name of every IMA list in a file.
	IMAPrefix = "ima/"
	// FieldIMA is the protobuf field number that carries the IMA lists.
	FieldIMA protowire.Number = 1000
	// maxName bounds an IMA list's name after IMAPrefix, as a file name is bounded.
	maxName = 255
)

// Errors, to be matched with errors.Is.
var (
	// ErrNonceLength means a nonce shorter than MinNonce or longer than MaxNonce.
	ErrNonceLength = errors.New("nonce of the wrong length")
	// ErrMalformed means bytes that are not an attestation file as this package writes it.
	ErrMalformed = errors.New("malformed attestation file")
	// ErrUntrustedAK means an attestation signed by a key the verifier does not trust.
	ErrUntrustedAK = errors.New("attestation key not trusted")
	// ErrNonceMismatch means a quote made for another nonce: not an answer to this challenge.
	ErrNonceMismatch = errors.New("nonce does not match")
	// ErrQuote means a quote whose signature or PCR digest does not check out.
	ErrQuote = errors.New("quote does not verify")
	// ErrLog means a TCG event log that go-tpm-tools does not accept for the quoted PCRs: another
	// boot's log, a changed event, or one its extractors reject.
	ErrLog = errors.New("event log rejected")
)

// File is an attestation as read from a file: unverified until Verify.
type File struct {
	// Attestation is go-tpm-tools' message: the AK, the quotes, the TCG event log.
	Attestation *attestpb.Attestation
	// IMA holds the IMA measurement lists by name ("ima/NAME"), as the attesting system claims
	// them. Nothing in the quotes covers them until they replay to a quoted PCR 10.
	IMA map[string][]byte
}

// CheckNonce fails with ErrNonceLength unless nonce is MinNonce to MaxNonce bytes.
func CheckNonce(nonce []byte) error {
	if len(nonce) < MinNonce || len(nonce) > MaxNonce {
		return fmt.Errorf("attest: %w: a nonce of %d bytes, want %d to %d (a verifier's fresh random bytes)", ErrNonceLength, len(nonce), MinNonce, MaxNonce)
	}
	return nil
}

// checkName fails unless name is IMAPrefix and a plain file name.
func checkName(name string) error {
	base, ok := strings.CutPrefix(name, IMAPrefix)
	switch {
	case !ok:
		return fmt.Errorf("IMA list name %q: want %q and a file name", name, IMAPrefix)
	case base == "" || base == "." || base == "..":
		return fmt.Errorf("IMA list name %q: no file name after %q", name, IMAPrefix)
	case len(base) > maxName:
		return fmt.Errorf("IMA list name of %d bytes: want at most %d after %q", len(base), maxName, IMAPrefix)
	case strings.ContainsAny(base, "/\x00"):
		return fmt.Errorf("IMA list name %q: a file name has no %q or NUL", name, "/")
	case !utf8.ValidString(name):
		return fmt.Errorf("IMA list name %q: not UTF-8", name)
	}
	return nil
}

// newAK creates the attestation key from go-tpm-tools' standard ECC template (AKTemplateECC),
// or the RSA one (AKTemplateRSA) if the TPM refuses ECC, as a transient primary key in the owner
// hierarchy: the same template always gives the same key on one TPM, and nothing is persisted.
// The caller closes (flushes) it.
func newAK(rw io.ReadWriter) (*client.Key, error) {
	k, err := client.NewKey(rw, tpm2.HandleOwner, client.AKTemplateECC())
	if err == nil {
		return k, nil
	}
	k, rerr := client.NewKey(rw, tpm2.HandleOwner, client.AKTemplateRSA())
	if rerr != nil {
		return nil, fmt.Errorf("creating the attestation key: ECC template: %v; RSA template: %w", err, rerr)
	}
	return k, nil
}

// AttestationKey returns the public key of the AK that Attest uses on the TPM rw: what a
// verifier trusts (VerifyOptions.TrustedAKs) for this TPM. Ask the TPM itself, over a path the
// verifier trusts (at enrolment), not the machine under test.
func AttestationKey(rw io.ReadWriter) (crypto.PublicKey, error) {
	k, err := newAK(rw)
	if err != nil {
		return nil, fmt.Errorf("attest: %w", err)
	}
	defer k.Close()
	return k.PublicKey(), nil
}

// QuotedPCRList are the PCRs an attestation quotes in each bank.
var QuotedPCRList = []uint32{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}

// Attest quotes PCRs 0-9 (QuotedPCRList: the firmware's and the boot's, which the handed-over TCG
// log accounts for; PCR 10 and up belong to the running system) of every active bank of the TPM rw
// with the AK (AttestationKey)
// and nonce (MinNonce to MaxNonce bytes, checked before the TPM is used), and returns the file:
// the quotes, the AK's public area, tcgLog and the IMA lists ima (by name, "ima/NAME"). The key
// is flushed before Attest returns.
func Attest(rw io.ReadWriter, nonce []byte, tcgLog []byte, ima map[string][]byte) ([]byte, error) {
	if err := CheckNonce(nonce); err != nil {
		return nil, err
	}
	for _, name := range slices.Sorted(maps.Keys(ima)) {
		if err := checkName(name); err != nil {
			return nil, fmt.Errorf("attest: %w", err)
		}
	}
	k, err := newAK(rw)
	if err != nil {
		return nil, fmt.Errorf("attest: %w", err)
	}
	defer k.Close()
	// What client.Key.Attest does with SkipTeeAttestation, an event log given and no
	// CertChainFetcher, without calling it: Attest links go-tpm-tools' SEV-SNP and TDX quote
	// providers and an HTTP client (3.3 MB more in the demo target, against 0.3 MB for this).
	sels, err := client.AllocatedPCRs(rw)
	if err != nil {
		return nil, fmt.Errorf("attest: %w", err)
	}
	a := &attestpb.Attestation{EventLog: tcgLog, AkCert: k.CertDERBytes()}
	if a.AkPub, err = k.PublicArea().Encode(); err != nil {
		return nil, fmt.Errorf("attest: encoding the AK's public area: %w", err)
	}
	for _, sel := range sels {
		sel.PCRs = slices.DeleteFunc(sel.PCRs, func(p int) bool { return p < 0 || !slices.Contains(QuotedPCRList, uint32(p)) })
		q, err := k.Quote(sel, nonce)
		if err != nil {
			return nil, fmt.Errorf("attest: quoting the %v bank: %w", eventlog.Alg(sel.Hash), err)
		}
		a.Quotes = append(a.Quotes, q)
	}
	b, err := (&File{Attestation: a, IMA: ima}).Marshal()
	if err != nil {
		return nil, fmt.Errorf("attest: %w", err)
	}
	if len(b) > MaxSize {
		return nil, fmt.Errorf("attest: the attestation is %d bytes, more than a verifier reads (%d)", len(b), MaxSize)
	}
	return b, nil
}

// Marshal returns the file's bytes: the Attestation, deterministically marshalled, then the
// IMA lists in name order.
func (f *File) Marshal() ([]byte, error) {
	if f.Attestation == nil {
		return nil, errors.New("no attestation")
	}
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(f.Attestation)
	if err != nil {
		return nil, fmt.Errorf("marshal attestation: %w", err)
	}
	for _, name := range slices.Sorted(maps.Keys(f.IMA)) {
		if err := checkName(name); err != nil {
			return nil, err
		}
		var m []byte
		m = protowire.AppendTag(m, 1, protowire.BytesType)
		m = protowire.AppendString(m, name)
		m = protowire.AppendTag(m, 2, protowire.BytesType)
		m = protowire.AppendBytes(m, f.IMA[name])
		b = protowire.AppendTag(b, FieldIMA, protowire.BytesType)
		b = protowire.AppendBytes(b, m)
	}
	return b, nil
}

// malformed returns an ErrMalformed error saying what, where.
func malformed(format string, args ...any) error {
	return fmt.Errorf("attest: %w: %s", ErrMalformed, fmt.Sprintf(format, args...))
}

// Parse reads an attestation file, strictly: every top-level field one the Attestation message
// or this package defines, with its wire type; the IMA lists well formed, their names valid and
// distinct; an AK, at least one quote, each quote whole (its bank known, at most one per bank,
// PCR indexes below 24, values of the bank's size); no field unknown anywhere. Errors wrap
// ErrMalformed and name the byte offset or the field. The result is unverified (Verify).
func Parse(b []byte) (*File, error) {
	if len(b) > MaxSize {
		return nil, malformed("%d bytes, more than %d", len(b), MaxSize)
	}
	if len(b) == 0 {
		return nil, malformed("empty")
	}
	fields := (&attestpb.Attestation{}).ProtoReflect().Descriptor().Fields()
	var rest []byte
	f := &File{IMA: map[string][]byte{}}
	for off := 0; off < len(b); {
		num, typ, n := protowire.ConsumeTag(b[off:])
		if n < 0 {
			return nil, malformed("byte %d: a field tag: %v (truncated or not protobuf)", off, protowire.ParseError(n))
		}
		vn := protowire.ConsumeFieldValue(num, typ, b[off+n:])
		if vn < 0 {
			return nil, malformed("byte %d: field %d (wire type %d): %v (truncated?)", off, num, typ, protowire.ParseError(vn))
		}
		end := off + n + vn
		switch {
		case num == FieldIMA:
			if typ != protowire.BytesType {
				return nil, malformed("byte %d: field %d (an IMA list) has wire type %d, want %d (length-delimited)", off, num, typ, protowire.BytesType)
			}
			v, _ := protowire.ConsumeBytes(b[off+n:])
			name, data, err := parseIMA(v, off+n+(vn-len(v)))
			if err != nil {
				return nil, malformed("byte %d: IMA list: %v", off, err)
			}
			if _, dup := f.IMA[name]; dup {
				return nil, malformed("byte %d: IMA list %q is in the file twice", off, name)
			}
			f.IMA[name] = data
		case fields.ByNumber(num) != nil:
			rest = append(rest, b[off:end]...)
		default:
			return nil, malformed("byte %d: unknown field %d (wire type %d): neither go-tpm-tools' Attestation nor this package's", off, num, typ)
		}
		off = end
	}
	a := &attestpb.Attestation{}
	if err := proto.Unmarshal(rest, a); err != nil {
		return nil, malformed("the Attestation's fields: %v", err)
	}
	if err := checkUnknown(a.ProtoReflect(), "attestation"); err != nil {
		return nil, malformed("%v", err)
	}
	if err := checkAttestation(a); err != nil {
		return nil, malformed("%v", err)
	}
	f.Attestation = a
	return f, nil
}

// parseIMA parses one IMA list's nested message v, which begins at byte base of the file.
func parseIMA(v []byte, base int) (name string, data []byte, err error) {
	var haveName, haveData bool
	for off := 0; off < len(v); {
		num, typ, n := protowire.ConsumeTag(v[off:])
		if n < 0 {
			return "", nil, fmt.Errorf("byte %d: a field tag: %v", base+off, protowire.ParseError(n))
		}
		if num != 1 && num != 2 {
			return "", nil, fmt.Errorf("byte %d: field %d, want 1 (name) or 2 (contents)", base+off, num)
		}
		if typ != protowire.BytesType {
			return "", nil, fmt.Errorf("byte %d: field %d has wire type %d, want %d (length-delimited)", base+off, num, typ, protowire.BytesType)
		}
		val, vn := protowire.ConsumeBytes(v[off+n:])
		if vn < 0 {
			return "", nil, fmt.Errorf("byte %d: field %d: %v (truncated?)", base+off, num, protowire.ParseError(vn))
		}
		if num == 1 {
			if haveName {
				return "", nil, fmt.Errorf("byte %d: a second name", base+off)
			}
			haveName, name = true, string(val)
		} else {
			if haveData {
				return "", nil, fmt.Errorf("byte %d: second contents", base+off)
			}
			haveData, data = true, bytes.Clone(val)
		}
		off += n + vn
	}
	if !haveName {
		return "", nil, errors.New("no name (field 1)")
	}
	if err := checkName(name); err != nil {
		return "", nil, err
	}
	if data == nil {
		data = []byte{}
	}
	return name, data, nil
}

// checkUnknown fails if m or a message in it holds fields its type does not define.
func checkUnknown(m protoreflect.Message, path string) error {
	if u := m.GetUnknown(); len(u) > 0 {
		num, typ, _ := protowire.ConsumeTag(u)
		if fd := m.Descriptor().Fields().ByNumber(num); fd != nil {
			return fmt.Errorf("%s: field %d (%s) has wire type %d, wrong for a %v", path, num, fd.Name(), typ, fd.Kind())
		}
		return fmt.Errorf("%s: unknown field %d", path, num)
	}
	var err error
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		if fd.Message() == nil || fd.IsMap() {
			return true // no map in these messages has message values
		}
		p := path + "." + string(fd.Name())
		if fd.IsList() {
			l := v.List()
			for i := 0; i < l.Len() && err == nil; i++ {
				err = checkUnknown(l.Get(i).Message(), p+"["+strconv.Itoa(i)+"]")
			}
		} else {
			err = checkUnknown(v.Message(), p)
		}
		return err == nil
	})
	return err
}

// checkAttestation checks that a holds an AK and whole quotes, at most one per bank.
func checkAttestation(a *attestpb.Attestation) error {
	if len(a.GetAkPub()) == 0 && len(a.GetAkCert()) == 0 {
		return errors.New("no attestation key: ak_pub (field 1) and ak_cert (field 6) are empty")
	}
	if len(a.GetQuotes()) == 0 {
		return errors.New("no quotes (field 2)")
	}
	seen := map[eventlog.Alg]int{}
	for i, q := range a.GetQuotes() {
		alg := eventlog.Alg(q.GetPcrs().GetHash())
		switch {
		case q.GetPcrs() == nil:
			return fmt.Errorf("quote %d: no PCR values", i)
		case alg.Size() == 0:
			return fmt.Errorf("quote %d: PCR bank %v is not one this package knows", i, alg)
		case len(q.GetQuote()) == 0:
			return fmt.Errorf("quote %d (%v): no quoted data (TPMS_ATTEST)", i, alg)
		case len(q.GetRawSig()) == 0:
			return fmt.Errorf("quote %d (%v): no signature", i, alg)
		}
		if j, dup := seen[alg]; dup {
			return fmt.Errorf("quote %d (%v): quote %d is of the same bank", i, alg, j)
		}
		seen[alg] = i
		for p, v := range q.GetPcrs().GetPcrs() {
			if p >= eventlog.NumPCRs {
				return fmt.Errorf("quote %d (%v): PCR %d, want below %d", i, alg, p, eventlog.NumPCRs)
			}
			if len(v) != alg.Size() {
				return fmt.Errorf("quote %d (%v): PCR %d is %d bytes, want %d", i, alg, p, len(v), alg.Size())
			}
		}
	}
	return nil
}

// VerifyOptions says what Verify trusts and how go-tpm-tools reads the event log.
type VerifyOptions struct {
	// TrustedAKs are the attestation keys trusted directly (AttestationKey at enrolment).
	TrustedAKs []crypto.PublicKey
	// Roots are the CA certificates trusted to sign an AK certificate (ak_cert), for a TPM that
	// has one; Intermediates help chain to them. Give TrustedAKs or Roots, not both.
	Roots, Intermediates []*x509.Certificate
	// GRUB makes go-eventlog read PCRs 8 and 9 with GRUB's conventions (server.GRUB), which
	// gives the GRUB files and commands and the Linux command line; otherwise they are not read
	// (server.UnsupportedLoader).
	GRUB bool
	// AllowEFIAppBeforeCallingEvent accepts EFI applications measured before the "Calling EFI
	// Application from Boot Option" action (OVMF loads some), passed to go-eventlog as is.
	AllowEFIAppBeforeCallingEvent bool
	// AllowSHA1 lets go-tpm-tools replay the log against the SHA-1 bank when no stronger bank's
	// quote verifies (a legacy SHA-1 log).
	AllowSHA1 bool
}

// bankName names a quote's bank.
func bankName(q *tpmpb.Quote) string { return eventlog.Alg(q.GetPcrs().GetHash()).String() }

// Verify checks the attestation f for nonce: that its AK is trusted (o.TrustedAKs, or an AK
// certificate chaining to o.Roots), that every quote is signed by it, carries nonce and matches
// its PCR values, and then go-tpm-tools' server.VerifyAttestation: the quotes again, and the TCG
// log replayed against one bank and read into the machine state it returns. A nonce of the wrong
// length fails before any other work. Errors wrap ErrNonceLength, ErrUntrustedAK,
// ErrNonceMismatch, ErrQuote or ErrLog and name the quote (index and bank).
//
// Only after Verify succeeds are QuotedPCRs the TPM's values. The IMA lists are still claims.
func Verify(f *File, nonce []byte, o VerifyOptions) (*attestpb.MachineState, error) {
	if err := CheckNonce(nonce); err != nil {
		return nil, err
	}
	if f == nil || f.Attestation == nil {
		return nil, malformed("no attestation")
	}
	if err := checkAttestation(f.Attestation); err != nil {
		return nil, malformed("%v", err)
	}
	if len(f.Attestation.GetEventLog()) == 0 {
		return nil, fmt.Errorf("attest: %w: the attestation has no TCG event log (go-tpm-tools would accept any PCR values with none)", ErrLog)
	}
	ak, err := trustedAK(f.Attestation, o)
	if err != nil {
		return nil, err
	}
	for i, q := range f.Attestation.GetQuotes() {
		if err := checkQuote(q, ak, nonce); err != nil {
			return nil, fmt.Errorf("attest: quote %d (%s): %w", i, bankName(q), err)
		}
	}
	opts := server.VerifyOpts{
		Nonce:                         nonce,
		TrustedAKs:                    o.TrustedAKs,
		TrustedRootCerts:              o.Roots,
		IntermediateCerts:             o.Intermediates,
		Loader:                        server.UnsupportedLoader,
		AllowEFIAppBeforeCallingEvent: o.AllowEFIAppBeforeCallingEvent,
		AllowSHA1:                     o.AllowSHA1,
	}
	if o.GRUB {
		opts.Loader = server.GRUB
	}
	ms, err := server.VerifyAttestation(f.Attestation, opts)
	if err != nil {
		// The quotes verified above, so what go-tpm-tools refuses is the log.
		return nil, fmt.Errorf("attest: %w: go-tpm-tools: %s", ErrLog, strings.Join(strings.Fields(strings.ReplaceAll(err.Error(), "\n", "; ")), " "))
	}
	return ms, nil
}

// trustedAK returns the AK public key of a, if o trusts it.
func trustedAK(a *attestpb.Attestation, o VerifyOptions) (crypto.PublicKey, error) {
	switch {
	case len(o.TrustedAKs) == 0 && len(o.Roots) == 0:
		return nil, fmt.Errorf("attest: %w: no trusted AK and no root certificate given", ErrUntrustedAK)
	case len(o.TrustedAKs) > 0 && len(o.Roots) > 0:
		return nil, errors.New("attest: give trusted AKs or root certificates, not both")
	case len(o.Roots) > 0:
		if len(a.GetAkCert()) == 0 {
			return nil, fmt.Errorf("attest: %w: the attestation has no AK certificate to check against the roots (trust its AK directly)", ErrUntrustedAK)
		}
		cert, err := x509.ParseCertificate(a.GetAkCert())
		if err != nil {
			return nil, fmt.Errorf("attest: %w: its AK certificate: %v", ErrUntrustedAK, err)
		}
		inter := slices.Clone(o.Intermediates)
		for i, der := range a.GetIntermediateCerts() {
			c, err := x509.ParseCertificate(der)
			if err != nil {
				return nil, fmt.Errorf("attest: %w: intermediate certificate %d: %v", ErrUntrustedAK, i, err)
			}
			inter = append(inter, c)
		}
		if err := server.VerifyAKCert(cert, o.Roots, inter); err != nil {
			return nil, fmt.Errorf("attest: %w: AK certificate %q: %v", ErrUntrustedAK, cert.Subject, err)
		}
		return cert.PublicKey, nil
	}
	pub, err := tpm2.DecodePublic(a.GetAkPub())
	if err != nil {
		return nil, fmt.Errorf("attest: %w: its AK public area: %v", ErrUntrustedAK, err)
	}
	key, err := pub.Key()
	if err != nil {
		return nil, fmt.Errorf("attest: %w: its AK public area: %v", ErrUntrustedAK, err)
	}
	for _, t := range o.TrustedAKs {
		if eq, ok := key.(interface{ Equal(crypto.PublicKey) bool }); ok && eq.Equal(t) {
			return key, nil
		}
	}
	return nil, fmt.Errorf("attest: %w: the attestation's AK (%s) is none of the %d trusted", ErrUntrustedAK, Fingerprint(key), len(o.TrustedAKs))
}

// Fingerprint names a public key for people: "sha256:" and the first 16 hex digits of the
// SHA-256 of its PKIX DER.
func Fingerprint(k crypto.PublicKey) string {
	der, err := x509.MarshalPKIXPublicKey(k)
	if err != nil {
		return fmt.Sprintf("a %T key", k)
	}
	s := sha256.Sum256(der)
	return "sha256:" + hex.EncodeToString(s[:8])
}

// checkQuote checks one quote: its nonce first (the commonest mistake), then all of it with
// go-tpm-tools (signature by ak, TPM_GENERATED, PCR selection and digest).
func checkQuote(q *tpmpb.Quote, ak crypto.PublicKey, nonce []byte) error {
	ad, err := tpm2.DecodeAttestationData(q.GetQuote())
	if err != nil {
		return fmt.Errorf("%w: its quoted data is not a TPMS_ATTEST: %v", ErrQuote, err)
	}
	if subtle.ConstantTimeCompare(ad.ExtraData, nonce) != 1 {
		return fmt.Errorf("%w: it was made for nonce %x, not %x (a replayed or another verifier's quote)", ErrNonceMismatch, []byte(ad.ExtraData), nonce)
	}
	if err := quote.Verify(q, ak, nonce); err != nil {
		return fmt.Errorf("%w: %v", ErrQuote, err)
	}
	return nil
}

// QuotedPCRs returns the PCR values the quotes of f carry, by bank. They are claims until
// Verify(f) succeeds; then they are the TPM's values at the time of the quote, against which the
// TCG log (eventlog.Log.Verify) and the IMA lists (PCR 10) replay.
func QuotedPCRs(f *File) eventlog.PCRs {
	out := eventlog.PCRs{}
	for _, q := range f.Attestation.GetQuotes() {
		vals := map[uint32][]byte{}
		for p, v := range q.GetPcrs().GetPcrs() {
			vals[p] = bytes.Clone(v)
		}
		out[eventlog.Alg(q.GetPcrs().GetHash())] = vals
	}
	return out
}

// Describe returns the facts of a machine state, one line each, in a stable order: the bank the
// log was replayed in, the platform (firmware version), Secure Boot, the EFI applications and
// drivers, the GRUB files and commands, the Linux command line. Digests are shortened to 16 hex
// digits; file names and commands are quoted, as they are the log's unmeasured claims.
func Describe(ms *attestpb.MachineState) []string {
	var out []string
	add := func(format string, args ...any) { out = append(out, fmt.Sprintf(format, args...)) }
	add("log replayed in the %v bank, %d events", eventlog.Alg(ms.GetHash()), len(ms.GetRawEvents()))
	switch p := ms.GetPlatform(); {
	case p == nil:
		add("platform: no firmware version in the log")
	case len(p.GetScrtmVersionId()) > 0:
		add("platform: firmware S-CRTM version %s", printable(p.GetScrtmVersionId()))
	case p.GetGceVersion() != 0:
		add("platform: GCE firmware version %d", p.GetGceVersion())
	default:
		add("platform: no firmware version (no EV_S_CRTM_VERSION event in PCR 0)")
	}
	if t := ms.GetPlatform().GetTechnology(); t != attestpb.GCEConfidentialTechnology_NONE {
		add("platform: confidential computing %v", t)
	}
	if sb := ms.GetSecureBoot(); sb == nil {
		add("secure boot: no state in the log")
	} else {
		onoff := "off"
		if sb.GetEnabled() {
			onoff = "on"
		}
		add("secure boot: %s; PK %s; KEK %s; db %s; dbx %s", onoff, dbCounts(sb.GetPk()), dbCounts(sb.GetKek()), dbCounts(sb.GetDb()), dbCounts(sb.GetDbx()))
	}
	if efi := ms.GetEfi(); efi == nil {
		add("efi: no applications (no ExitBootServices in the log)")
	} else {
		for i, a := range efi.GetApps() {
			add("efi app %d: %s", i, short(a.GetDigest()))
		}
		for i, a := range efi.GetBootServicesDrivers() {
			add("efi boot services driver %d: %s", i, short(a.GetDigest()))
		}
		for i, a := range efi.GetRuntimeServicesDrivers() {
			add("efi runtime services driver %d: %s", i, short(a.GetDigest()))
		}
	}
	if g := ms.GetGrub(); g != nil {
		for i, f := range g.GetFiles() {
			add("grub file %d: %s %s", i, printable(f.GetUntrustedFilename()), short(f.GetDigest()))
		}
		for i, c := range g.GetCommands() {
			add("grub command %d: %q", i, c)
		}
	}
	if k := ms.GetLinuxKernel(); k != nil {
		add("linux kernel command line: %q", k.GetCommandLine())
	}
	return out
}

// dbCounts says how much a Secure Boot database holds.
func dbCounts(d *attestpb.Database) string {
	if d == nil {
		return "none"
	}
	return fmt.Sprintf("%d certificates, %d hashes", len(d.GetCerts()), len(d.GetHashes()))
}

// short shortens a digest for a line.
func short(d []byte) string {
	s := hex.EncodeToString(d)
	if len(s) > 16 {
		return s[:16] + "…"
	}
	return s
}

// printable quotes event data for a line: UTF-16LE text (as UEFI firmware writes its version)
// as text, trailing NULs dropped.
func printable(b []byte) string {
	if len(b) >= 2 && len(b)%2 == 0 {
		u := make([]uint16, 0, len(b)/2)
		ascii := true
		for i := 0; i < len(b); i += 2 {
			c := uint16(b[i]) | uint16(b[i+1])<<8
			if b[i+1] != 0 {
				ascii = false
			}
			u = append(u, c)
		}
		if ascii && b[0] != 0 {
			return strconv.Quote(strings.TrimRight(string(utf16.Decode(u)), "\x00"))
		}
	}
	return strconv.Quote(strings.TrimRight(string(b), "\x00"))
}
