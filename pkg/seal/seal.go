// Package seal seals a secret to PCR values, predicted or current, with a TPM's storage root key,
// and unseals it on a machine whose PCRs hold those values. The TPM work is go-tpm-tools'
// (client.Seal with a target, client.Unseal): the secret becomes a sealed data object under the
// standard ECC storage root key (SRKTemplateECC, persisted at its reserved handle), whose
// authorization policy is TPM2_PolicyPCR over the chosen PCRs of one bank. Only the TPM that
// sealed it can load it, and it unseals only while those PCRs hold the sealed-to values.
//
// A blob is this package's file: a magic line, the bank and the PCR values it was sealed to (not
// secret; kept so that a refusal can name the PCRs that differ), go-tpm-tools' SealedBytes, and a
// SHA-256 over all of it, so that a truncated or corrupted file is told apart from a TPM's
// refusal before the TPM sees it.
package seal

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/google/go-tpm-tools/client"
	pb "github.com/google/go-tpm-tools/proto/tpm"
	"github.com/google/go-tpm/legacy/tpm2"
	"github.com/google/go-tpm/tpm2/transport"
	"github.com/google/go-tpm/tpm2/transport/linuxtpm"
	"google.golang.org/protobuf/proto"

	"github.com/measuredboot/measuredboot/pkg/eventlog"
	"github.com/measuredboot/measuredboot/pkg/tpm"
)

const (
	// Magic begins every blob.
	Magic = "measuredboot sealed secret v1\n"
	// MaxSecret is the most a TPM seals in one data object (MAX_SYM_DATA).
	MaxSecret = 128
	// MaxBlob bounds a blob read from untrusted storage.
	MaxBlob = 64 << 10
)

// Errors, to be matched with errors.Is.
var (
	// ErrMalformed means bytes that are not a whole, unchanged blob.
	ErrMalformed = errors.New("seal: not a sealed secret, or a truncated or corrupted one")
	// ErrRefused means the TPM would not unseal: its PCRs do not hold the sealed-to values, or the
	// blob was sealed by another TPM.
	ErrRefused = errors.New("seal: the TPM refused to unseal")
)

// Blob is a sealed secret as stored.
type Blob struct {
	Bank   eventlog.Alg
	PCRs   map[uint32][]byte // the values sealed to, by PCR
	Sealed *pb.SealedBytes
}

// meta is the blob's readable part.
type meta struct {
	Bank string            `json:"bank"`
	PCRs map[string]string `json:"pcrs"` // PCR index -> hex value
}

// Seal seals secret (1-MaxSecret bytes) with the TPM rw to the values of PCRs in bank (every PCR
// 0-23, each value the bank's size), and returns the blob. The TPM must have the bank active; its
// current PCR values do not matter.
func Seal(rw io.ReadWriter, secret []byte, bank eventlog.Alg, values map[uint32][]byte) ([]byte, error) {
	if len(secret) == 0 || len(secret) > MaxSecret {
		return nil, fmt.Errorf("seal: a secret of %d bytes: a TPM seals 1-%d (seal a key, and encrypt larger data with it)", len(secret), MaxSecret)
	}
	if err := checkValues(bank, values); err != nil {
		return nil, fmt.Errorf("seal: %w", err)
	}
	if err := checkBank(rw, bank); err != nil {
		return nil, fmt.Errorf("seal: %w", err)
	}
	srk, err := client.StorageRootKeyECC(rw)
	if err != nil {
		return nil, fmt.Errorf("seal: the TPM's storage root key: %w", err)
	}
	defer srk.Close()
	target := &pb.PCRs{Hash: pb.HashAlgo(bank), Pcrs: map[uint32][]byte{}}
	for p, v := range values {
		target.Pcrs[p] = slices.Clone(v)
	}
	sb, err := srk.Seal(secret, client.SealOpts{Target: target})
	if err != nil {
		return nil, fmt.Errorf("seal: %w", err)
	}
	return (&Blob{Bank: bank, PCRs: target.Pcrs, Sealed: sb}).Marshal()
}

// checkValues checks a PCR selection and its values for bank.
func checkValues(bank eventlog.Alg, values map[uint32][]byte) error {
	if _, ok := bank.Hash(); !ok || bank == eventlog.AlgSM3 {
		return fmt.Errorf("bank %v: want sha1, sha256, sha384 or sha512", bank)
	}
	if len(values) == 0 {
		return errors.New("no PCRs to seal to")
	}
	for p, v := range values {
		if p >= eventlog.NumPCRs {
			return fmt.Errorf("PCR %d: want 0-%d", p, eventlog.NumPCRs-1)
		}
		if len(v) != bank.Size() {
			return fmt.Errorf("%v PCR %d: a value of %d bytes, want %d", bank, p, len(v), bank.Size())
		}
	}
	return nil
}

// checkBank fails unless the TPM has bank active.
func checkBank(rw io.ReadWriter, bank eventlog.Alg) error {
	sels, err := client.AllocatedPCRs(rw)
	if err != nil {
		return fmt.Errorf("reading the TPM's PCR banks: %w", err)
	}
	var have []string
	for _, s := range sels {
		if eventlog.Alg(s.Hash) == bank {
			return nil
		}
		have = append(have, eventlog.Alg(s.Hash).String())
	}
	return fmt.Errorf("the TPM has no active %v bank (it has %s)", bank, strings.Join(have, ", "))
}

// Marshal returns the blob's bytes.
func (b *Blob) Marshal() ([]byte, error) {
	m := meta{Bank: b.Bank.String(), PCRs: map[string]string{}}
	for p, v := range b.PCRs {
		m.PCRs[strconv.FormatUint(uint64(p), 10)] = hex.EncodeToString(v)
	}
	mj, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	sb, err := proto.Marshal(b.Sealed)
	if err != nil {
		return nil, err
	}
	out := []byte(Magic)
	out = binary.BigEndian.AppendUint32(out, uint32(len(mj)))
	out = append(out, mj...)
	out = binary.BigEndian.AppendUint32(out, uint32(len(sb)))
	out = append(out, sb...)
	sum := sha256.Sum256(out)
	return append(out, sum[:]...), nil
}

// Parse reads a blob. Bytes after it are ignored (a raw partition holding one). Errors wrap
// ErrMalformed and say what is wrong where.
func Parse(b []byte) (*Blob, error) {
	fail := func(format string, a ...any) error {
		return fmt.Errorf("%w: %s", ErrMalformed, fmt.Sprintf(format, a...))
	}
	if !bytes.HasPrefix(b, []byte(Magic)) {
		return nil, fail("it does not begin with %q", strings.TrimSpace(Magic))
	}
	off := len(Magic)
	part := func(what string) ([]byte, error) {
		if len(b)-off < 4 {
			return nil, fail("it ends at byte %d, before the length of its %s", len(b), what)
		}
		n := binary.BigEndian.Uint32(b[off:])
		off += 4
		if n > MaxBlob || int(n) > len(b)-off {
			return nil, fail("its %s at byte %d claims %d bytes, %d are left", what, off, n, len(b)-off)
		}
		p := b[off : off+int(n)]
		off += int(n)
		return p, nil
	}
	mj, err := part("PCR values")
	if err != nil {
		return nil, err
	}
	sb, err := part("sealed object")
	if err != nil {
		return nil, err
	}
	if len(b)-off < sha256.Size {
		return nil, fail("it ends at byte %d, before its checksum", len(b))
	}
	if sum := sha256.Sum256(b[:off]); !bytes.Equal(sum[:], b[off:off+sha256.Size]) {
		return nil, fail("its checksum at byte %d does not match its contents: it was changed or cut", off)
	}
	var m meta
	if err := json.Unmarshal(mj, &m); err != nil {
		return nil, fail("its PCR values: %v", err)
	}
	bank, ok := eventlog.AlgFromName(m.Bank)
	if !ok {
		return nil, fail("bank %q", m.Bank)
	}
	blob := &Blob{Bank: bank, PCRs: map[uint32][]byte{}, Sealed: &pb.SealedBytes{}}
	for k, v := range m.PCRs {
		p, err := strconv.ParseUint(k, 10, 32)
		d, herr := hex.DecodeString(v)
		if err != nil || herr != nil {
			return nil, fail("PCR %q = %q", k, v)
		}
		blob.PCRs[uint32(p)] = d
	}
	if err := checkValues(bank, blob.PCRs); err != nil {
		return nil, fail("%v", err)
	}
	if err := proto.Unmarshal(sb, blob.Sealed); err != nil {
		return nil, fail("its sealed object: %v", err)
	}
	sealedTo := slices.Clone(blob.Sealed.GetPcrs())
	slices.Sort(sealedTo)
	if !slices.Equal(sealedTo, blob.pcrList()) || eventlog.Alg(blob.Sealed.GetHash()) != bank {
		return nil, fail("its sealed object is for %v PCRs %v, its values for %v PCRs %v", eventlog.Alg(blob.Sealed.GetHash()), sealedTo, bank, blob.pcrList())
	}
	return blob, nil
}

// pcrList returns the sealed-to PCRs in order.
func (b *Blob) pcrList() []uint32 {
	out := make([]uint32, 0, len(b.PCRs))
	for p := range b.PCRs {
		out = append(out, p)
	}
	slices.Sort(out)
	return out
}

// Unseal unseals the blob with the TPM rw. When the TPM refuses, the error wraps ErrRefused and
// names the PCRs whose current values differ from the sealed-to ones (or says that none do: then
// the blob is another TPM's); a malformed blob wraps ErrMalformed.
func Unseal(rw io.ReadWriter, data []byte) ([]byte, error) {
	b, err := Parse(data)
	if err != nil {
		return nil, err
	}
	srk, err := client.StorageRootKeyECC(rw)
	if err != nil {
		return nil, fmt.Errorf("unseal: the TPM's storage root key: %w", err)
	}
	defer srk.Close()
	secret, err := srk.Unseal(b.Sealed, client.UnsealOpts{})
	if err == nil {
		return secret, nil
	}
	var pe tpm2.ParameterError
	if errors.As(err, &pe) && pe.Code == tpm2.RCIntegrity {
		// TPM2_Load checks the object's integrity under the parent's seed before any policy:
		// TPM_RC_INTEGRITY is a blob this TPM's storage root key did not seal.
		return nil, fmt.Errorf("%w: this TPM cannot load the sealed object: it was sealed by another TPM, or this TPM's storage root key changed (%v)", ErrRefused, err)
	}
	return nil, fmt.Errorf("%w: %s (%v)", ErrRefused, b.why(rw), err)
}

// why explains a refusal: the PCRs that differ from the sealed-to values, or another TPM.
func (b *Blob) why(rw io.ReadWriter) string {
	pcrs := b.pcrList()
	sel := tpm2.PCRSelection{Hash: tpm2.Algorithm(b.Bank)}
	for _, p := range pcrs {
		sel.PCRs = append(sel.PCRs, int(p))
	}
	cur, err := client.ReadPCRs(rw, sel)
	if err != nil {
		return fmt.Sprintf("reading %v PCRs %v: %v", b.Bank, pcrs, err)
	}
	var diff []string
	for _, p := range pcrs {
		if v, ok := cur.GetPcrs()[p]; !ok {
			diff = append(diff, fmt.Sprintf("PCR %d has no %v value", p, b.Bank))
		} else if !bytes.Equal(v, b.PCRs[p]) {
			diff = append(diff, fmt.Sprintf("PCR %d is %x, sealed to %x", p, v[:8], b.PCRs[p][:8]))
		}
	}
	if len(diff) == 0 {
		return fmt.Sprintf("the %v PCRs %v hold the sealed-to values, so the blob was sealed by another TPM (or this TPM's storage root key changed)", b.Bank, pcrs)
	}
	return fmt.Sprintf("this boot is not the one it was sealed to: %v %s", b.Bank, strings.Join(diff, "; "))
}

// ReadWriter adapts a go-tpm transport (linuxtpm, tcp) to the io.ReadWriter go-tpm-tools' client
// takes: each Write sends one command, the Reads after it return its response. (go-tpm's own
// transport.ToReadWriter returns io.EOF with the last bytes of a response, which tpmutil's
// single Read takes for a failure.)
func ReadWriter(t transport.TPM) io.ReadWriter { return &readWriter{t: t} }

type readWriter struct {
	t   transport.TPM
	rsp []byte
}

func (rw *readWriter) Write(p []byte) (int, error) {
	rsp, err := rw.t.Send(p)
	if err != nil {
		return 0, err
	}
	rw.rsp = rsp
	return len(p), nil
}

func (rw *readWriter) Read(p []byte) (int, error) {
	if len(rw.rsp) == 0 {
		return 0, io.EOF
	}
	n := copy(p, rw.rsp)
	rw.rsp = rw.rsp[n:]
	return n, nil
}

// UnsealFile unseals the blob at the start of path (a file, or a block device holding it) with
// the TPM device tpmPath (e.g. /dev/tpmrm0). It also returns what the TPM was sent
// (tpm.Device.Usage), for a console line.
func UnsealFile(tpmPath, path string) (secret []byte, usage string, err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, "", err
	}
	blob, err := io.ReadAll(io.LimitReader(f, MaxBlob))
	f.Close()
	if err != nil {
		return nil, "", fmt.Errorf("reading %s: %w", path, err)
	}
	t, err := linuxtpm.Open(tpmPath)
	if err != nil {
		return nil, "", err
	}
	defer t.Close()
	d := tpm.New(t)
	secret, err = Unseal(ReadWriter(d.Transport()), blob)
	return secret, d.Usage(), err
}
