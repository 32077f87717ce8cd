// Package measure takes one object through this environment's path: its bytes are hashed once,
// the policy decides, every active PCR bank is extended with the IMA template digest, and the
// measurement is recorded both in the IMA list and in the TCG event log. It is pure: the TPM is
// an interface, so the same code runs at boot, in unit tests and in the host's predictor.
package measure

import (
	"crypto"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/measuredboot/measuredboot/pkg/eventlog"
	"github.com/measuredboot/measuredboot/pkg/ima"
	"github.com/measuredboot/measuredboot/pkg/policy"
)

// Extender extends one PCR in several banks at once. *tpm.Device implements it.
type Extender interface {
	Extend(pcr uint32, digests []eventlog.Digest) error
}

// ErrAppraisal is returned when the policy asks for an appraisal this build cannot perform.
var ErrAppraisal = errors.New("appraisal required")

// Measurer measures objects into a TPM and keeps the two logs of what it did.
type Measurer struct {
	Policy   *policy.Policy
	TPM      Extender
	FileHash crypto.Hash   // the file digest's algorithm (d-ng), sha256 unless set
	Log      *eventlog.Log // the TCG log; its banks are the banks extended
	IMA      []ima.Entry   // the IMA list, in order
	Stats    Stats         // what the measuring cost
	// Sum computes file digests in Hash when set (the boot program passes the kernel's crypto
	// where Go would run portable code); nil means Go's crypto. Its error fails the measurement.
	Sum func(h crypto.Hash, data []byte) ([]byte, error)
	// Format is how PCRs 8 and 9 are recorded: FormatIMA (the zero value) or FormatGRUB.
	Format Format
}

// Stats counts the work done, for the boot program's phase timings.
type Stats struct {
	Hashed     int64         // file and buffer bytes hashed
	HashTime   time.Duration // time spent hashing them
	Extends    int           // TPM2_PCR_Extend commands sent
	ExtendTime time.Duration // time spent in them
}

// Object is one thing to measure: a file's bytes, or a buffer such as the kexec command line.
type Object struct {
	policy.Object
	Name string // the name recorded in the logs (the path on its file system, or "kexec-cmdline")
	Data []byte
	Hash crypto.Hash // the file digest's algorithm; Measurer.FileHash when 0
	Sig  []byte      // the signature recorded by the ima-sig template, if any
	// Digest is Data's digest with Hash when the caller already computed it (Measurer.Hash);
	// Measure computes it otherwise.
	Digest []byte
	// Decision is the policy's decision for Object when the caller already evaluated it (the
	// boot flow does, to know whether to read evidence); Measure evaluates it otherwise.
	Decision *policy.Decision
}

// Result says what happened to one object.
type Result struct {
	Name     string
	Func     policy.Func
	Hash     crypto.Hash // the algorithm of Digest
	Digest   []byte      // the file digest (for buffers, the buffer's digest); nil when no rule measures or appraises it
	Decision policy.Decision
	Entry    *ima.Entry // nil when not measured
}

// Measure evaluates the policy for o and, when a rule measures or appraises it, takes o.Data's
// digest (hashing it once unless o.Digest holds it); when the policy says measure, it extends the
// PCR in every bank of the log and records the entry. An object no rule concerns is not hashed.
// An error from the TPM is returned as is: the caller must not boot what it could not measure.
func (m *Measurer) Measure(o Object) (Result, error) {
	o.Hash = m.hashOf(o)
	r := Result{Name: o.Name, Func: o.Func, Hash: o.Hash}
	if o.Decision != nil {
		r.Decision = *o.Decision
	} else {
		r.Decision = m.Policy.Evaluate(o.Object)
	}
	if !r.Decision.Measure && !r.Decision.Appraise {
		return r, nil
	}
	if o.Digest == nil {
		if err := m.Hash(&o); err != nil {
			return r, err
		}
	}
	r.Digest = o.Digest
	if !r.Decision.Measure {
		return r, nil
	}
	e, err := ima.New(r.Decision.Template, uint32(r.Decision.PCR), o.Hash, r.Digest, o.Data, o.Name, o.Sig)
	if err != nil {
		return r, fmt.Errorf("%s: %w", o.Name, err)
	}
	content := o.Data
	if e.Template == ima.TemplateBuf {
		content = nil // the entry holds the buffer
	}
	if err := m.record(e, eventlog.EvIPL, content, o.Hash, r.Digest); err != nil {
		return r, fmt.Errorf("%s: %w", o.Name, err)
	}
	r.Entry = &m.IMA[len(m.IMA)-1]
	return r, nil
}

// hashOf returns o's digest algorithm: o.Hash, else m.FileHash, else SHA-256.
func (m *Measurer) hashOf(o Object) crypto.Hash {
	switch {
	case o.Hash != 0:
		return o.Hash
	case m.FileHash != 0:
		return m.FileHash
	}
	return crypto.SHA256
}

// Hash computes the Digest of each object, all at once on as many CPUs as the Go runtime has
// (the kernel image and the initramfs of an entry are independent): one pass over each Data.
func (m *Measurer) Hash(objs ...*Object) error {
	for _, o := range objs {
		o.Hash = m.hashOf(*o)
		if !o.Hash.Available() {
			return fmt.Errorf("%s: hash %v is not available", o.Name, o.Hash)
		}
	}
	t0 := time.Now()
	sem := make(chan struct{}, max(1, runtime.GOMAXPROCS(0)))
	var wg sync.WaitGroup
	errs := make([]error, len(objs))
	for i, o := range objs {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			if m.Sum != nil {
				o.Digest, errs[i] = m.Sum(o.Hash, o.Data)
				if errs[i] == nil && len(o.Digest) != o.Hash.Size() {
					errs[i] = fmt.Errorf("a %v digest of %d bytes", o.Hash, len(o.Digest))
				}
				if errs[i] != nil {
					o.Digest, errs[i] = nil, fmt.Errorf("%s: %w", o.Name, errs[i])
				}
				return
			}
			hh := o.Hash.New()
			hh.Write(o.Data)
			o.Digest = hh.Sum(nil)
		}()
		m.Stats.Hashed += int64(len(o.Data))
	}
	wg.Wait()
	m.Stats.HashTime += time.Since(t0)
	return errors.Join(errs...)
}

// Record measures a buffer that is not a policy object, such as a failed appraisal or the entry
// into the recovery shell: it is always recorded, as an ima-buf entry named name, in pcr.
func (m *Measurer) Record(pcr uint32, name string, buf []byte) error {
	e, err := ima.NewBuf(pcr, crypto.SHA256, buf, name)
	if err != nil {
		return err
	}
	return m.record(e, eventlog.EvIPL, nil, 0, nil)
}

// SeparatorName is the name of the ima-buf entry that closes a PCR; its buffer is SeparatorData.
const SeparatorName = "measuredboot.separator"

// SeparatorData is the buffer of a separator entry: the TCG EV_SEPARATOR value for "no error".
var SeparatorData = []byte{0, 0, 0, 0}

// Separator closes pcr, so that nothing extended later can pose as part of this boot's
// measurements. It is recorded like every other measurement, so that both logs replay the PCR:
// an ima-buf entry named SeparatorName whose buffer is SeparatorData, extended with its template
// digest and logged in the TCG log as an EV_SEPARATOR event whose data is that template data.
// (The kernel's IMA has no separator; a list that ends without one for a PCR was cut short or
// continued by someone else.)
func (m *Measurer) Separator(pcr uint32) error {
	e, err := ima.NewBuf(pcr, crypto.SHA256, SeparatorData, SeparatorName)
	if err != nil {
		return err
	}
	if m.Format.InGRUBForm(pcr) {
		return fmt.Errorf("separator in PCR %d: the grub event format has none in PCRs 8 and 9", pcr)
	}
	if err := m.record(e, eventlog.EvSeparator, nil, 0, nil); err != nil {
		return fmt.Errorf("separator in PCR %d: %w", pcr, err)
	}
	return nil
}

// BootAggregate records the boot_aggregate entry in pcr, as the kernel begins its list: an ima-ng
// entry named "boot_aggregate" whose file digest is ima.BootAggregate of vals, the values of
// PCRs 0-9 (0-7 for SHA-1) in the bank whose hash is h, read from the TPM before this
// environment extended anything.
// It returns the aggregate.
func (m *Measurer) BootAggregate(pcr uint32, h crypto.Hash, vals map[uint32][]byte) ([]byte, error) {
	sum, err := ima.BootAggregate(h, vals)
	if err != nil {
		return nil, err
	}
	e, err := ima.NewNG(pcr, h, sum, ima.BootAggregateName)
	if err != nil {
		return nil, err
	}
	return sum, m.record(e, eventlog.EvIPL, nil, 0, nil)
}

// PCRs returns the PCRs this Measurer extended, in ascending order.
func (m *Measurer) PCRs() []uint32 {
	seen := map[uint32]bool{}
	var out []uint32
	for _, e := range m.IMA {
		if !seen[e.PCR] {
			seen[e.PCR] = true
			out = append(out, e.PCR)
		}
	}
	slices.Sort(out)
	return out
}

// record extends the entry's PCR in every bank and logs it as a TCG event of type typ. In the IMA
// form the digest is the template digest and the data the template data, so each bank's digest is
// that bank's hash of the data. In GRUB's form (Format, PCRs 8 and 9) the data and digests are
// GRUBEventOf's: content is a file's bytes (nil for a buffer), and the file's digest sum in hash
// h, when known, is reused for the bank of h.
func (m *Measurer) record(e ima.Entry, typ eventlog.EventType, content []byte, h crypto.Hash, sum []byte) error {
	if m.Format.InGRUBForm(e.PCR) && typ == eventlog.EvIPL {
		ge, err := GRUBEventOf(e, content)
		if err != nil {
			return err
		}
		digests, n, err := grubDigests(m.Log.Banks(), ge, h, sum)
		if err != nil {
			return err
		}
		m.Stats.Hashed += n
		return m.extend(e, typ, digests, ge.Data)
	}
	td := e.TemplateData()
	var digests []eventlog.Digest
	for _, alg := range m.Log.Banks() {
		ch, ok := alg.Hash()
		if !ok {
			return fmt.Errorf("PCR bank %v has no hash in this build", alg)
		}
		hh := ch.New()
		hh.Write(td)
		digests = append(digests, eventlog.Digest{Alg: alg, Sum: hh.Sum(nil)})
	}
	return m.extend(e, typ, digests, td)
}

// extend extends e's PCR with digests, logs the event with data, and keeps e in the IMA list.
func (m *Measurer) extend(e ima.Entry, typ eventlog.EventType, digests []eventlog.Digest, data []byte) error {
	t0 := time.Now()
	err := m.TPM.Extend(e.PCR, digests)
	m.Stats.Extends++
	m.Stats.ExtendTime += time.Since(t0)
	if err != nil {
		return err
	}
	if _, err := m.Log.AppendDigests(e.PCR, typ, digests, data); err != nil {
		return err
	}
	m.IMA = append(m.IMA, e)
	return nil
}
