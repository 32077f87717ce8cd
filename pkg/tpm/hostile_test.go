package tpm

import (
	"bytes"
	"encoding/binary"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-tpm/tpm2"

	"github.com/measuredboot/measuredboot/pkg/eventlog"
)

// maxFakeCommands is how many commands a fake TPM answers before it fails the test: no Device
// call in these tests may need more than a handful.
const maxFakeCommands = 100

// fake is a transport.TPM whose answers a function computes from the command. It counts the
// commands, and after maxFakeCommands fails the test and answers with an error, so that a Device
// that loops forever fails the test instead of hanging it.
type fake struct {
	t      testing.TB
	answer func(cmd []byte) []byte
	mu     sync.Mutex
	n      int
}

var errTooMany = errors.New("fake TPM: too many commands")

func (f *fake) Send(cmd []byte) ([]byte, error) {
	f.mu.Lock()
	f.n++
	n := f.n
	f.mu.Unlock()
	if n > maxFakeCommands {
		if n == maxFakeCommands+1 {
			f.t.Errorf("the Device sent more than %d commands to a fake TPM: it loops", maxFakeCommands)
		}
		return nil, errTooMany
	}
	return f.answer(cmd), nil
}

func (f *fake) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.n
}

// response returns a TPM response: a header (tag, size, success) followed by body.
func response(tag tpm2.TPMST, body ...[]byte) []byte {
	b := bytes.Join(body, nil)
	out := binary.BigEndian.AppendUint16(nil, uint16(tag))
	out = binary.BigEndian.AppendUint32(out, uint32(10+len(b)))
	out = binary.BigEndian.AppendUint32(out, 0)
	return append(out, b...)
}

// pcrReadResponse returns a PCR_Read response with the given selections and digests.
func pcrReadResponse(sels []tpm2.TPMSPCRSelection, digests [][]byte) []byte {
	ds := make([]tpm2.TPM2BDigest, len(digests))
	for i, d := range digests {
		ds[i] = tpm2.TPM2BDigest{Buffer: d}
	}
	return response(tpm2.TPMSTNoSessions, []byte{0, 0, 0, 7},
		tpm2.Marshal(&tpm2.TPMLPCRSelection{PCRSelections: sels}),
		tpm2.Marshal(&tpm2.TPMLDigest{Digests: ds}))
}

// capResponse returns a GetCapability(TPM_CAP_PCRS) response listing sels.
func capResponse(more bool, sels []tpm2.TPMSPCRSelection) []byte {
	m := []byte{0}
	if more {
		m[0] = 1
	}
	return response(tpm2.TPMSTNoSessions, m, tpm2.Marshal(&tpm2.TPMSCapabilityData{
		Capability: tpm2.TPMCapPCRs,
		Data:       tpm2.NewTPMUCapabilities(tpm2.TPMCapPCRs, &tpm2.TPMLPCRSelection{PCRSelections: sels}),
	}))
}

// extendResponse returns the PCR_Extend response of a real TPM: no parameters, an empty password
// session answer.
func extendResponse() []byte {
	return response(tpm2.TPMSTSessions, []byte{0, 0, 0, 0}, []byte{0, 0, 1, 0, 0})
}

// requested returns the PCRs that a PCR_Read command selects in its first selection, and its bank.
func requested(t testing.TB, cmd []byte) (tpm2.TPMIAlgHash, []uint32) {
	sel, err := tpm2.Unmarshal[tpm2.TPMLPCRSelection](cmd[10:])
	if err != nil || len(sel.PCRSelections) != 1 {
		t.Errorf("fake TPM: PCR_Read command %x: %v", cmd, err)
		return 0, nil
	}
	return sel.PCRSelections[0].Hash, bits(sel.PCRSelections[0].PCRSelect)
}

func bits(sel []byte) []uint32 {
	var out []uint32
	for i := 0; i < len(sel)*8; i++ {
		if sel[i/8]&(1<<(i%8)) != 0 {
			out = append(out, uint32(i))
		}
	}
	return out
}

func selOf(alg tpm2.TPMIAlgHash, pcrs ...uint32) tpm2.TPMSPCRSelection {
	s := make([]byte, 3)
	for _, p := range pcrs {
		s[p/8] |= 1 << (p % 8)
	}
	return tpm2.TPMSPCRSelection{Hash: alg, PCRSelect: s}
}

func digestsOf(size int, pcrs ...uint32) [][]byte {
	out := make([][]byte, len(pcrs))
	for i, p := range pcrs {
		out[i] = bytes.Repeat([]byte{byte(p)}, size)
	}
	return out
}

// honest answers PCR_Read as a TPM does: at most 8 of the PCRs asked, lowest first, PCR p's value
// being p repeated. It answers anything else with a GetCapability listing sha1 and sha256.
func honest(t testing.TB) func([]byte) []byte {
	return func(cmd []byte) []byte {
		switch binary.BigEndian.Uint32(cmd[6:10]) {
		case uint32(tpm2.TPMCCPCRRead):
			alg, pcrs := requested(t, cmd)
			if len(pcrs) > 8 {
				pcrs = pcrs[:8]
			}
			return pcrReadResponse([]tpm2.TPMSPCRSelection{selOf(alg, pcrs...)}, digestsOf(eventlog.Alg(alg).Size(), pcrs...))
		case uint32(tpm2.TPMCCPCRExtend):
			return extendResponse()
		}
		return capResponse(false, []tpm2.TPMSPCRSelection{selOf(tpm2.TPMAlgSHA1, 0, 1, 2), selOf(tpm2.TPMAlgSHA256, 0, 1, 2)})
	}
}

func all24() []uint32 {
	out := make([]uint32, 24)
	for i := range out {
		out[i] = uint32(i)
	}
	return out
}

// TestFakeHonest checks that the fake's honest answers are read back exactly, so the hostile
// cases below fail for their hostility alone.
func TestFakeHonest(t *testing.T) {
	f := &fake{t: t, answer: honest(t)}
	d := New(f)
	banks, err := d.Banks()
	if err != nil || len(banks) != 2 || banks[0] != eventlog.AlgSHA1 || banks[1] != eventlog.AlgSHA256 {
		t.Fatalf("Banks() = %v, %v; want [sha1 sha256]", banks, err)
	}
	vals, err := d.Read(eventlog.AlgSHA256, all24())
	if err != nil || len(vals) != 24 {
		t.Fatalf("Read(sha256, 0-23) = %d values, %v", len(vals), err)
	}
	for p, v := range vals {
		if !bytes.Equal(v, bytes.Repeat([]byte{byte(p)}, 32)) {
			t.Errorf("PCR %d = %x", p, v)
		}
	}
	if err := d.Extend(9, []eventlog.Digest{{Alg: eventlog.AlgSHA256, Sum: make([]byte, 32)}}); err != nil {
		t.Errorf("Extend: %v", err)
	}
	if got := f.count(); got != 1+3+1 {
		t.Errorf("sent %d commands, want 5", got)
	}
}

// TestReadHostile sends PCR_Read to a TPM that answers wrongly, in each way a broken TPM or a bus
// attacker can: every answer must be an error that names what the TPM said, within a few
// commands.
func TestReadHostile(t *testing.T) {
	sha256 := tpm2.TPMAlgSHA256
	cases := []struct {
		name    string
		pcrs    []uint32
		answer  func(t testing.TB, cmd []byte) []byte
		wantErr string
	}{{
		// The old loop counted these as progress and asked again for the rest, forever.
		name: "always PCRs 0-7",
		pcrs: all24(),
		answer: func(testing.TB, []byte) []byte {
			return pcrReadResponse([]tpm2.TPMSPCRSelection{selOf(sha256, 0, 1, 2, 3, 4, 5, 6, 7)}, digestsOf(32, 0, 1, 2, 3, 4, 5, 6, 7))
		},
		wantErr: "not requested",
	}, {
		name: "PCRs not asked",
		pcrs: []uint32{8, 9},
		answer: func(testing.TB, []byte) []byte {
			return pcrReadResponse([]tpm2.TPMSPCRSelection{selOf(sha256, 0, 1)}, digestsOf(32, 0, 1))
		},
		wantErr: "PCR 0, not requested",
	}, {
		name: "other bank",
		pcrs: []uint32{0},
		answer: func(testing.TB, []byte) []byte {
			return pcrReadResponse([]tpm2.TPMSPCRSelection{selOf(tpm2.TPMAlgSHA1, 0)}, digestsOf(20, 0))
		},
		wantErr: "bank sha1",
	}, {
		name: "short digest",
		pcrs: []uint32{0, 1},
		answer: func(testing.TB, []byte) []byte {
			return pcrReadResponse([]tpm2.TPMSPCRSelection{selOf(sha256, 0, 1)}, [][]byte{make([]byte, 32), make([]byte, 20)})
		},
		wantErr: "20 bytes",
	}, {
		name: "selection says more values than returned",
		pcrs: []uint32{0, 1},
		answer: func(testing.TB, []byte) []byte {
			return pcrReadResponse([]tpm2.TPMSPCRSelection{selOf(sha256, 0, 1)}, digestsOf(32, 0))
		},
		wantErr: "selects 2 PCRs but returns 1 values",
	}, {
		name: "selection says fewer values than returned",
		pcrs: []uint32{0},
		answer: func(testing.TB, []byte) []byte {
			return pcrReadResponse([]tpm2.TPMSPCRSelection{selOf(sha256, 0)}, digestsOf(32, 0, 1))
		},
		wantErr: "selects 1 PCRs but returns 2 values",
	}, {
		name: "the same bank twice",
		pcrs: []uint32{0, 1},
		answer: func(testing.TB, []byte) []byte {
			return pcrReadResponse([]tpm2.TPMSPCRSelection{selOf(sha256, 0), selOf(sha256, 0)}, digestsOf(32, 0, 0))
		},
		wantErr: "2 selections",
	}, {
		name: "PCR beyond 23",
		pcrs: []uint32{0},
		answer: func(testing.TB, []byte) []byte {
			s := selOf(sha256, 0)
			s.PCRSelect = append(s.PCRSelect, 1)
			return pcrReadResponse([]tpm2.TPMSPCRSelection{s}, digestsOf(32, 0, 24))
		},
		wantErr: "PCR 24, not requested",
	}, {
		name: "nothing",
		pcrs: []uint32{0},
		answer: func(testing.TB, []byte) []byte {
			return pcrReadResponse(nil, nil)
		},
		wantErr: "no value",
	}, {
		// A TPM answers up to 8 values a command; one that answers one at a time is not given
		// a command per PCR.
		name: "one PCR a command",
		pcrs: []uint32{0, 1, 2, 3, 4, 5, 6, 7, 8, 9},
		answer: func(t testing.TB, cmd []byte) []byte {
			_, pcrs := requested(t, cmd)
			return pcrReadResponse([]tpm2.TPMSPCRSelection{selOf(sha256, pcrs[0])}, digestsOf(32, pcrs[0]))
		},
		wantErr: "missing",
	}}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := &fake{t: t, answer: func(cmd []byte) []byte { return c.answer(t, cmd) }}
			vals, err := New(f).Read(eventlog.AlgSHA256, c.pcrs)
			if err == nil || !strings.Contains(err.Error(), c.wantErr) {
				t.Errorf("Read(sha256, %v) = %d values, error %v; want an error with %q", c.pcrs, len(vals), err, c.wantErr)
			}
			if max := (len(c.pcrs)+7)/8 + 1; f.count() > max {
				t.Errorf("Read(%d PCRs) sent %d commands, want at most %d", len(c.pcrs), f.count(), max)
			}
		})
	}
}

// TestBanksHostile lists PCR banks from a TPM that answers GetCapability wrongly.
func TestBanksHostile(t *testing.T) {
	sha1, sha256 := tpm2.TPMAlgSHA1, tpm2.TPMAlgSHA256
	many := make([]tpm2.TPMSPCRSelection, 17)
	for i := range many {
		many[i] = selOf(tpm2.TPMIAlgHash(0x100+i), 0)
	}
	cases := []struct {
		name    string
		rsp     []byte
		wantErr string
	}{
		{"bank twice", capResponse(false, []tpm2.TPMSPCRSelection{selOf(sha256, 0), selOf(sha1, 0), selOf(sha256, 1)}), "listed twice"},
		{"unknown algorithm", capResponse(false, []tpm2.TPMSPCRSelection{selOf(sha256, 0), selOf(0x0099, 0)}), "Alg(0x0099)"},
		{"more than asked", capResponse(false, many), "17 banks"},
		{"more data", capResponse(true, []tpm2.TPMSPCRSelection{selOf(sha256, 0)}), "more"},
		{"trailing bytes", append(capResponse(false, []tpm2.TPMSPCRSelection{selOf(sha256, 0)}), 0, 0, 0, 0), "size"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := &fake{t: t, answer: func([]byte) []byte { return c.rsp }}
			banks, err := New(f).Banks()
			if err == nil || !strings.Contains(err.Error(), c.wantErr) {
				t.Errorf("Banks() = %v, %v; want an error with %q", banks, err, c.wantErr)
			}
			if f.count() != 1 {
				t.Errorf("Banks() sent %d commands, want 1", f.count())
			}
		})
	}
}

// TestExtendHostile extends a PCR on a TPM whose PCR_Extend answers are malformed.
func TestExtendHostile(t *testing.T) {
	fix := func(b []byte) []byte { binary.BigEndian.PutUint32(b[2:6], uint32(len(b))); return b }
	cases := []struct {
		name    string
		rsp     []byte
		wantErr string
	}{
		{"parameters", response(tpm2.TPMSTSessions, []byte{0, 0, 0, 4, 1, 2, 3, 4}, []byte{0, 0, 1, 0, 0}), "parameter"},
		{"size lies", func() []byte { b := extendResponse(); b[5]++; return b }(), "size"},
		{"no session answer", response(tpm2.TPMSTNoSessions), "tag"},
		{"nonce in password session", fix(response(tpm2.TPMSTSessions, []byte{0, 0, 0, 0}, []byte{0, 2, 9, 9, 1, 0, 0})), "session"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := &fake{t: t, answer: func([]byte) []byte { return c.rsp }}
			err := New(f).Extend(9, []eventlog.Digest{{Alg: eventlog.AlgSHA256, Sum: make([]byte, 32)}})
			if err == nil || !strings.Contains(err.Error(), c.wantErr) {
				t.Errorf("Extend = %v; want an error with %q", err, c.wantErr)
			}
		})
	}
}
