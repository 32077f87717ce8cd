// Package tpm talks to a TPM 2.0 over go-tpm's transport: it lists the active PCR banks, extends
// one PCR in every bank with a single command, and reads PCR values back. It is the only package
// that sends TPM commands; it never opens a device itself (the caller passes a transport).
//
// A TPM, or whatever sits on the bus to it, may answer wrongly. Every answer is checked against
// the command it answers (its size, its tag, the banks and PCRs asked, the digest sizes), every
// command has a time limit, and a Read sends a bounded number of commands: an answer that does
// not fit is an error naming what the TPM said, and the boot flow refuses to boot on it.
package tpm

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/go-tpm/tpm2"
	"github.com/google/go-tpm/tpm2/transport"

	"github.com/measuredboot/measuredboot/pkg/eventlog"
)

// DefaultTimeout bounds the time a TPM may take to answer one command when Device.Timeout is
// zero. TPM 2.0 commands this package sends take milliseconds; the PC Client profile's longest
// command durations are a few seconds.
const DefaultTimeout = 30 * time.Second

// maxResponse is the largest response accepted, the Linux TPM driver's buffer (TPM_BUFSIZE).
const maxResponse = 4096

// maxBanks is how many PCR selections GetCapability(TPM_CAP_PCRS) asks for.
const maxBanks = 16

// Device is a TPM reached over a transport. It counts the commands it sends, by command code,
// and the time the TPM took to answer them. A Device is not safe for concurrent use.
type Device struct {
	// Timeout bounds each command: a TPM that has not answered within it makes the command
	// fail, and every later command of this Device fails too, without being sent. Zero means
	// DefaultTimeout. The transport has no way to cancel a command, so the goroutine that waits
	// on it stays blocked until the transport returns (for a hung TPM, until the system goes
	// away); the Device never touches the transport again, so the two cannot interleave.
	Timeout time.Duration
	t       *counted
}

// New returns a Device that sends its commands over t.
func New(t transport.TPM) *Device {
	d := &Device{}
	d.t = &counted{d: d, t: t, n: map[uint32]int{}}
	return d
}

// Commands returns how many TPM commands d has sent.
func (d *Device) Commands() int { return d.t.sent }

// Usage says what d has sent and how long the TPM took, for the boot program's console, as
// "10 commands in 0.150s: 1 GetCapability, 2 PCR_Read, 7 PCR_Extend".
func (d *Device) Usage() string {
	parts := make([]string, len(d.t.order))
	for i, c := range d.t.order {
		parts[i] = fmt.Sprintf("%d %s", d.t.n[c], commandName(c))
	}
	return fmt.Sprintf("%d commands in %.3fs: %s", d.t.sent, d.t.busy.Seconds(), strings.Join(parts, ", "))
}

// Time returns how long the TPM took to answer d's commands.
func (d *Device) Time() time.Duration { return d.t.busy }

// commandNames names the command codes this package and sealing send (TPM 2.0 Part 2, TPM_CC).
var commandNames = map[uint32]string{
	0x17A: "GetCapability", 0x17E: "PCR_Read", 0x182: "PCR_Extend",
	0x120: "EvictControl", 0x131: "CreatePrimary", 0x14A: "CertifyCreation", 0x153: "Create",
	0x157: "Load", 0x15E: "Unseal", 0x165: "FlushContext", 0x173: "ReadPublic",
	0x176: "StartAuthSession", 0x17F: "PolicyPCR", 0x189: "PolicyGetDigest",
}

// Transport returns the transport d sends over, counted, timed and checked as d's own commands
// are: for a library that builds its own commands (go-tpm-tools' sealing) on the same TPM.
func (d *Device) Transport() transport.TPM { return d.t }

func commandName(code uint32) string {
	if name, ok := commandNames[code]; ok {
		return name
	}
	return fmt.Sprintf("0x%x", code)
}

// counted is a transport that counts the commands sent over it by code, times them, bounds the
// time each may take, and checks each response's header against its command.
type counted struct {
	d     *Device
	t     transport.TPM
	n     map[uint32]int
	order []uint32 // command codes in the order first sent
	sent  int
	busy  time.Duration
	hung  error  // set once a command timed out: the transport is never used again
	last  []byte // the last response, for the checks go-tpm does not make
}

type answer struct {
	rsp []byte
	err error
}

// Send sends cmd; its code is bytes 6-9 of the command header (tag, size, code).
func (c *counted) Send(cmd []byte) ([]byte, error) {
	c.last = nil
	if c.hung != nil {
		return nil, c.hung
	}
	if len(cmd) < 10 {
		return nil, fmt.Errorf("command of %d bytes, shorter than its header", len(cmd))
	}
	code := binary.BigEndian.Uint32(cmd[6:10])
	if c.n[code] == 0 {
		c.order = append(c.order, code)
	}
	c.n[code]++
	c.sent++
	timeout := c.d.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	done := make(chan answer, 1) // buffered: a late answer never blocks the goroutine
	t0 := time.Now()
	go func() {
		rsp, err := c.t.Send(cmd)
		done <- answer{rsp, err}
	}()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	var a answer
	select {
	case a = <-done:
	case <-timer.C:
		c.busy += time.Since(t0)
		c.hung = fmt.Errorf("the TPM did not answer %s within %v; it is not sent any further command, check the TPM and its bus", commandName(code), timeout)
		return nil, c.hung
	}
	c.busy += time.Since(t0)
	if a.err != nil {
		return nil, a.err
	}
	if err := checkHeader(cmd, a.rsp); err != nil {
		return nil, err
	}
	c.last = a.rsp
	return a.rsp, nil
}

// checkHeader checks a response's header (TPM 2.0 Part 1, 18.8): its size field is its length,
// its tag says sessions exactly when the command had them, and an error response has no body.
func checkHeader(cmd, rsp []byte) error {
	if len(rsp) < 10 || len(rsp) > maxResponse {
		return fmt.Errorf("TPM answered %d bytes (% x), want a response of 10 to %d bytes", len(rsp), rsp[:min(len(rsp), 16)], maxResponse)
	}
	tag := binary.BigEndian.Uint16(rsp[0:2])
	size := binary.BigEndian.Uint32(rsp[2:6])
	rc := binary.BigEndian.Uint32(rsp[6:10])
	if size != uint32(len(rsp)) {
		return fmt.Errorf("TPM response's size field says %d bytes, %d came (% x)", size, len(rsp), rsp[:10])
	}
	want := binary.BigEndian.Uint16(cmd[0:2])
	if rc != 0 {
		want = uint16(tpm2.TPMSTNoSessions)
		if len(rsp) != 10 {
			return fmt.Errorf("TPM error response (rc 0x%x) carries %d bytes after its header, want none", rc, len(rsp)-10)
		}
	}
	if tag != want {
		return fmt.Errorf("TPM response tag is 0x%04x, want 0x%04x (rc 0x%x)", tag, want, rc)
	}
	return nil
}

// Banks returns the PCR banks that have at least one PCR allocated, in the TPM's order. A bank
// listed twice, an active bank of an algorithm this package does not know, more than the 16
// banks asked for, or a response with bytes it does not account for, is an error.
func (d *Device) Banks() ([]eventlog.Alg, error) {
	rsp, err := tpm2.GetCapability{Capability: tpm2.TPMCapPCRs, PropertyCount: maxBanks}.Execute(d.t)
	if err != nil {
		return nil, fmt.Errorf("tpm: GetCapability(TPM_CAP_PCRS): %w", err)
	}
	if err := d.exact(1, tpm2.Marshal(&rsp.CapabilityData)); err != nil {
		return nil, fmt.Errorf("tpm: GetCapability(TPM_CAP_PCRS): %w", err)
	}
	sel, err := rsp.CapabilityData.Data.AssignedPCR()
	if err != nil {
		return nil, fmt.Errorf("tpm: GetCapability(TPM_CAP_PCRS): %w", err)
	}
	if rsp.MoreData {
		return nil, fmt.Errorf("tpm: GetCapability(TPM_CAP_PCRS): the TPM says it has more banks than the %d it listed (%d asked)", len(sel.PCRSelections), maxBanks)
	}
	if len(sel.PCRSelections) > maxBanks {
		return nil, fmt.Errorf("tpm: GetCapability(TPM_CAP_PCRS): the TPM listed %d banks, %d were asked", len(sel.PCRSelections), maxBanks)
	}
	var banks []eventlog.Alg
	seen := map[eventlog.Alg]bool{}
	for _, s := range sel.PCRSelections {
		a := eventlog.Alg(s.Hash)
		if seen[a] {
			return nil, fmt.Errorf("tpm: GetCapability(TPM_CAP_PCRS): bank %v listed twice (%s)", a, describe(sel.PCRSelections))
		}
		seen[a] = true
		active := slices.ContainsFunc(s.PCRSelect, func(b byte) bool { return b != 0 })
		if a.Size() == 0 && (active || !hashAlgID(a)) {
			return nil, fmt.Errorf("tpm: GetCapability(TPM_CAP_PCRS): bank of unknown algorithm %v (%s)", a, describe(sel.PCRSelections))
		}
		if active {
			banks = append(banks, a)
		}
	}
	if len(banks) == 0 {
		return nil, fmt.Errorf("tpm: no PCR bank is active (%s)", describe(sel.PCRSelections))
	}
	return banks, nil
}

// hashAlgID reports whether a is a hash algorithm of the TCG Algorithm Registry that this
// package does not know (SHA3): a TPM may list such a bank with no PCR allocated.
func hashAlgID(a eventlog.Alg) bool { return a >= 0x27 && a <= 0x29 }

// describe says what a list of PCR selections holds, as "sha1: PCRs [0 1], Alg(0x0099): PCRs []".
func describe(sels []tpm2.TPMSPCRSelection) string {
	parts := make([]string, len(sels))
	for i, s := range sels {
		parts[i] = fmt.Sprintf("%v: PCRs %v", eventlog.Alg(s.Hash), selected(s.PCRSelect))
	}
	if len(parts) == 0 {
		return "no bank"
	}
	return strings.Join(parts, ", ")
}

// selected returns the PCRs a selection bitmap names, lowest first.
func selected(sel []byte) []uint32 {
	var out []uint32
	for i := 0; i < len(sel)*8; i++ {
		if sel[i/8]&(1<<(i%8)) != 0 {
			out = append(out, uint32(i))
		}
	}
	return out
}

// exact checks that the last response is its header, skip bytes, then body and nothing else:
// the parsed response, marshalled again, must be what the TPM sent.
func (d *Device) exact(skip int, body []byte) error {
	r := d.t.last
	if len(r) < 10+skip || !bytes.Equal(r[10+skip:], body) {
		return fmt.Errorf("TPM response of %d bytes does not match its parsed contents (%d bytes): its size or encoding is wrong", len(r), 10+skip+len(body))
	}
	return nil
}

// Extend extends pcr in every bank listed in digests with one TPM2_PCR_Extend command.
func (d *Device) Extend(pcr uint32, digests []eventlog.Digest) error {
	vals := make([]tpm2.TPMTHA, len(digests))
	for i, dg := range digests {
		vals[i] = tpm2.TPMTHA{HashAlg: tpm2.TPMIAlgHash(dg.Alg), Digest: dg.Sum}
	}
	_, err := tpm2.PCRExtend{
		PCRHandle: tpm2.AuthHandle{Handle: tpm2.TPMHandle(pcr), Auth: tpm2.PasswordAuth(nil)},
		Digests:   tpm2.TPMLDigestValues{Digests: vals},
	}.Execute(d.t)
	if err != nil {
		return fmt.Errorf("tpm: PCR_Extend(pcr=%d, %d banks): %w", pcr, len(digests), err)
	}
	// PCR_Extend returns no parameters; the password session's answer is an empty nonce, the
	// session attributes and an empty HMAC (TPM 2.0 Part 1, 19.8.5): 19 bytes in all.
	r := d.t.last
	if len(r) != 19 || binary.BigEndian.Uint32(r[10:14]) != 0 || binary.BigEndian.Uint16(r[14:16]) != 0 || binary.BigEndian.Uint16(r[17:19]) != 0 {
		return fmt.Errorf("tpm: PCR_Extend(pcr=%d, %d banks): the TPM answered % x, want no parameter and an empty password session answer", pcr, len(digests), r)
	}
	return nil
}

// Read returns the values of pcrs in bank alg. A TPM answers at most 8 values a command, so
// Read sends at most ceil(n/8)+1 commands for n PCRs. An answer with a PCR that was not asked
// for, another bank, a digest of another size than alg's, a selection that names more or fewer
// PCRs than the values returned, or a PCR still missing after the last command, is an error.
func (d *Device) Read(alg eventlog.Alg, pcrs []uint32) (map[uint32][]byte, error) {
	size := alg.Size()
	if size == 0 {
		return nil, fmt.Errorf("tpm: PCR_Read(%v): unknown algorithm, its digest size is not known", alg)
	}
	want := map[uint32]bool{}
	for _, p := range pcrs {
		if p >= eventlog.NumPCRs {
			return nil, fmt.Errorf("tpm: PCR %d out of range 0-%d", p, eventlog.NumPCRs-1)
		}
		want[p] = true
	}
	out := make(map[uint32][]byte, len(want))
	limit := (len(want)+7)/8 + 1
	for cmds := 0; len(out) < len(want); cmds++ {
		var rest []uint32
		for p := range want {
			if _, ok := out[p]; !ok {
				rest = append(rest, p)
			}
		}
		slices.Sort(rest)
		if cmds == limit {
			return nil, fmt.Errorf("tpm: PCR_Read(%v): PCRs %v still missing after %d commands (a TPM answers up to 8 a command)", alg, rest, cmds)
		}
		sel := make([]byte, 3)
		for _, p := range rest {
			sel[p/8] |= 1 << (p % 8)
		}
		rsp, err := tpm2.PCRRead{PCRSelectionIn: tpm2.TPMLPCRSelection{
			PCRSelections: []tpm2.TPMSPCRSelection{{Hash: tpm2.TPMIAlgHash(alg), PCRSelect: sel}},
		}}.Execute(d.t)
		if err != nil {
			return nil, fmt.Errorf("tpm: PCR_Read(%v, %v): %w", alg, rest, err)
		}
		if err := d.exact(4, append(tpm2.Marshal(&rsp.PCRSelectionOut), tpm2.Marshal(&rsp.PCRValues)...)); err != nil {
			return nil, fmt.Errorf("tpm: PCR_Read(%v, %v): %w", alg, rest, err)
		}
		got, err := values(alg, rest, rsp)
		if err != nil {
			return nil, fmt.Errorf("tpm: PCR_Read(%v, %v): %w", alg, rest, err)
		}
		for p, v := range got {
			out[p] = v
		}
	}
	return out, nil
}

// values checks a PCR_Read answer to a request for rest in bank alg and returns its values. The
// TPM answers in ascending PCR order; its selection says which PCRs the values are.
func values(alg eventlog.Alg, rest []uint32, rsp *tpm2.PCRReadResponse) (map[uint32][]byte, error) {
	sels, ds := rsp.PCRSelectionOut.PCRSelections, rsp.PCRValues.Digests
	said := fmt.Sprintf("the TPM answered %s with %d values", describe(sels), len(ds))
	if len(sels) > 1 {
		return nil, fmt.Errorf("%s: %d selections, one bank was asked", said, len(sels))
	}
	if len(sels) == 0 || len(ds) == 0 {
		if len(ds) != 0 {
			return nil, fmt.Errorf("%s: no selection says which PCRs they are", said)
		}
		return nil, fmt.Errorf("%s: no value", said)
	}
	if a := eventlog.Alg(sels[0].Hash); a != alg {
		return nil, fmt.Errorf("%s: bank %v, %v was asked", said, a, alg)
	}
	got := selected(sels[0].PCRSelect)
	for _, p := range got {
		if _, ok := slices.BinarySearch(rest, p); !ok {
			return nil, fmt.Errorf("%s: PCR %d, not requested", said, p)
		}
	}
	if len(got) != len(ds) {
		return nil, fmt.Errorf("%s: its selection selects %d PCRs but returns %d values", said, len(got), len(ds))
	}
	out := make(map[uint32][]byte, len(got))
	for i, p := range got {
		if len(ds[i].Buffer) != alg.Size() {
			return nil, fmt.Errorf("%s: PCR %d value is %d bytes, %v digests are %d", said, p, len(ds[i].Buffer), alg, alg.Size())
		}
		out[p] = ds[i].Buffer
	}
	return out, nil
}
