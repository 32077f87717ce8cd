package tpm

import (
	"encoding/binary"
	"testing"

	"github.com/google/go-tpm/tpm2"

	"github.com/measuredboot/measuredboot/pkg/eventlog"
)

// chunks encodes TPM responses as a fuzz input: each is a 2-byte big-endian length and its bytes.
func chunks(rsps ...[]byte) []byte {
	var out []byte
	for _, r := range rsps {
		out = binary.BigEndian.AppendUint16(out, uint16(len(r)))
		out = append(out, r...)
	}
	return out
}

// FuzzTPMResponses answers the commands of Banks, Read and Extend with responses taken from the
// fuzz input, one chunk per command (see chunks), and checks that each call returns, after a
// bounded number of commands, either an error or a result that fits what was asked.
func FuzzTPMResponses(f *testing.F) {
	sha1, sha256 := tpm2.TPMAlgSHA1, tpm2.TPMAlgSHA256
	r0to7 := []uint32{0, 1, 2, 3, 4, 5, 6, 7}
	honestSeed := chunks(
		capResponse(false, []tpm2.TPMSPCRSelection{selOf(sha1, all24()...), selOf(sha256, all24()...)}),
		pcrReadResponse([]tpm2.TPMSPCRSelection{selOf(sha256, r0to7...)}, digestsOf(32, r0to7...)),
		pcrReadResponse([]tpm2.TPMSPCRSelection{selOf(sha256, 8, 9, 10, 11, 12, 13, 14, 15)}, digestsOf(32, 8, 9, 10, 11, 12, 13, 14, 15)),
		pcrReadResponse([]tpm2.TPMSPCRSelection{selOf(sha256, 16, 17, 18, 19, 20, 21, 22, 23)}, digestsOf(32, 16, 17, 18, 19, 20, 21, 22, 23)),
		pcrReadResponse([]tpm2.TPMSPCRSelection{selOf(sha1, r0to7...)}, digestsOf(20, r0to7...)),
		pcrReadResponse([]tpm2.TPMSPCRSelection{selOf(sha1, 8, 9)}, digestsOf(20, 8, 9)),
		extendResponse(),
	)
	f.Add(honestSeed)
	spin := pcrReadResponse([]tpm2.TPMSPCRSelection{selOf(sha256, r0to7...)}, digestsOf(32, r0to7...))
	f.Add(chunks(capResponse(false, []tpm2.TPMSPCRSelection{selOf(sha256, 0)}), spin, spin, spin, spin, spin, spin, spin, spin))
	f.Add(chunks(capResponse(true, []tpm2.TPMSPCRSelection{selOf(sha256, 0), selOf(sha256, 0)}),
		pcrReadResponse([]tpm2.TPMSPCRSelection{selOf(sha256, 0, 1)}, digestsOf(32, 0)),
		pcrReadResponse(nil, nil),
		[]byte{0x80, 0x01, 0, 0, 0, 10, 0, 0, 1, 0x1d}, // an error response (TPM_RC_FAILURE)
		response(tpm2.TPMSTSessions, []byte{0, 0, 0, 4, 1, 2, 3, 4})))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		fk := &fake{t: t, answer: func([]byte) []byte {
			if len(data) < 2 {
				return []byte{0x80, 0x01, 0, 0, 0, 10, 0, 0, 0x01, 0x01} // TPM_RC_FAILURE
			}
			n := int(binary.BigEndian.Uint16(data))
			data = data[2:]
			n = min(n, len(data))
			r := data[:n]
			data = data[n:]
			return r
		}}
		d := New(fk)
		bounded := func(call string, before, max int) {
			if got := fk.count() - before; got > max {
				t.Fatalf("%s sent %d commands, want at most %d", call, got, max)
			}
		}
		n := fk.count()
		if banks, err := d.Banks(); err == nil {
			seen := map[eventlog.Alg]bool{}
			for _, b := range banks {
				if seen[b] || b.Size() == 0 {
					t.Fatalf("Banks() = %v: a bank twice or unknown", banks)
				}
				seen[b] = true
			}
			if len(banks) == 0 || len(banks) > maxBanks {
				t.Fatalf("Banks() = %v", banks)
			}
		}
		bounded("Banks", n, 1)
		for _, r := range []struct {
			alg  eventlog.Alg
			pcrs []uint32
		}{{eventlog.AlgSHA256, all24()}, {eventlog.AlgSHA1, []uint32{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}}} {
			n := fk.count()
			vals, err := d.Read(r.alg, r.pcrs)
			if err == nil {
				if len(vals) != len(r.pcrs) {
					t.Fatalf("Read(%v, %v) = %d values", r.alg, r.pcrs, len(vals))
				}
				for _, p := range r.pcrs {
					if len(vals[p]) != r.alg.Size() {
						t.Fatalf("Read(%v) PCR %d = %x", r.alg, p, vals[p])
					}
				}
			}
			bounded("Read", n, (len(r.pcrs)+7)/8+1)
		}
		n = fk.count()
		_ = d.Extend(9, []eventlog.Digest{{Alg: eventlog.AlgSHA1, Sum: make([]byte, 20)}, {Alg: eventlog.AlgSHA256, Sum: make([]byte, 32)}})
		bounded("Extend", n, 1)
	})
}
