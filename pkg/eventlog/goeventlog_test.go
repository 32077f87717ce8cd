// This test replays logs with github.com/google/go-eventlog, an implementation independent of
// this package.

package eventlog

import (
	"bytes"
	"errors"
	"os"
	"testing"

	"github.com/google/go-eventlog/register"
	"github.com/google/go-eventlog/tcg"
)

var goEventlogAlgs = map[Alg]register.HashAlg{
	AlgSHA1:   register.HashSHA1,
	AlgSHA256: register.HashSHA256,
	AlgSHA384: register.HashSHA384,
}

func TestGoEventlogAgrees(t *testing.T) {
	withLocality := func(t *testing.T, algs ...Alg) *Log {
		l, err := New(algs)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := l.AppendStartupLocality(3); err != nil {
			t.Fatal(err)
		}
		for _, ev := range buildLog(t, algs...).Events {
			if _, err := l.Append(ev.PCR, ev.Type, ev.Data); err != nil {
				t.Fatal(err)
			}
		}
		return l
	}
	for _, tc := range []struct {
		name string
		log  func(t *testing.T) *Log
	}{
		{"sha256", func(t *testing.T) *Log { return buildLog(t, AlgSHA256) }},
		{"sha1 sha256 sha384 sha512", func(t *testing.T) *Log { return buildLog(t, AlgSHA1, AlgSHA256, AlgSHA384, AlgSHA512) }},
		{"StartupLocality 3, sha1 sha256 sha384", func(t *testing.T) *Log { return withLocality(t, AlgSHA1, AlgSHA256, AlgSHA384) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := tc.log(t)
			raw := marshal(t, l)
			el, err := tcg.ParseEventLog(raw, tcg.ParseOpts{})
			if err != nil {
				t.Fatalf("tcg.ParseEventLog(Marshal()) = %v", err)
			}
			replayed, err := l.Replay()
			if err != nil {
				t.Fatal(err)
			}
			checked := 0
			for _, alg := range l.Banks() {
				galg, ok := goEventlogAlgs[alg]
				if !ok {
					continue // go-eventlog v0.0.2 replays no SHA-512
				}
				checked++
				// go-eventlog parses the same events.
				got := el.Events(galg)
				if len(got) != len(l.Events) {
					t.Fatalf("go-eventlog parsed %d events, want %d", len(got), len(l.Events))
				}
				for i, e := range l.Events {
					g := got[i]
					if g.Index != int(e.PCR) || uint32(g.Type) != uint32(e.Type) || !bytes.Equal(g.Data, e.Data) || !bytes.Equal(g.Digest, e.Digest(alg)) {
						t.Errorf("go-eventlog %v event %d = PCR %d %v %q %x, want PCR %d %v %q %x",
							alg, e.Index, g.Index, g.Type, g.Data, g.Digest, e.PCR, e.Type, e.Data, e.Digest(alg))
					}
				}
				// go-eventlog's replay of each PCR, one bank at a time, matches ours.
				h, _ := alg.Hash()
				var mrs []register.MR
				for pcr, v := range replayed[alg] {
					mrs = append(mrs, register.PCR{Index: int(pcr), Digest: v, DigestAlg: h})
				}
				events, err := el.Verify(mrs)
				if err != nil {
					t.Errorf("go-eventlog Verify(%v values from Replay()) = %v", alg, err)
				}
				if n := countExtending(l); len(events) != n {
					t.Errorf("go-eventlog Verify(%v) returned %d events, want %d", alg, len(events), n)
				}
				// And it notices a wrong value (the test can fail).
				bad := bytes.Clone(replayed[alg][0])
				bad[0] ^= 1
				if _, err := el.Verify([]register.MR{register.PCR{Index: 0, Digest: bad, DigestAlg: h}}); !errors.As(err, new(tcg.ReplayError)) {
					t.Errorf("go-eventlog Verify(wrong %v PCR 0) = %v, want a ReplayError", alg, err)
				}
			}
			if checked == 0 {
				t.Fatal("no bank go-eventlog can replay")
			}
		})
	}
}

// TestGoEventlogSeaBIOS replays SeaBIOS's log with go-eventlog against the TPM's values.
func TestGoEventlogSeaBIOS(t *testing.T) {
	raw, err := os.ReadFile(seabiosLog)
	if err != nil {
		t.Fatal(err)
	}
	el, err := tcg.ParseEventLog(raw, tcg.ParseOpts{})
	if err != nil {
		t.Fatalf("tcg.ParseEventLog(%s) = %v", seabiosLog, err)
	}
	tpm := readTPMPCRs(t, "testdata/seabios-1.16.2-swtpm-4banks.pcrs")
	for alg := range goEventlogAlgs {
		h, _ := alg.Hash()
		var mrs []register.MR
		for pcr := uint32(0); pcr < 8; pcr++ {
			mrs = append(mrs, register.PCR{Index: int(pcr), Digest: tpm[alg][pcr], DigestAlg: h})
		}
		if _, err := el.Verify(mrs); err != nil {
			t.Errorf("go-eventlog Verify(%v TPM values) = %v", alg, err)
		}
	}
}

func countExtending(l *Log) int {
	n := 0
	for _, e := range l.Events {
		if e.Type != EvNoAction {
			n++
		}
	}
	return n
}
