package main

import (
	"bytes"
	"crypto"
	"errors"
	"io"
	"testing"

	"github.com/measuredboot/measuredboot/pkg/eventlog"
	"github.com/measuredboot/measuredboot/pkg/ima"
)

// FuzzVerify runs verify's logic (the TCG replay, the IMA list's checks, the one-for-one cross
// check, the boot_aggregate, the silence and closing rules) on untrusted logs and PCR values.
// It must never panic, every failure must be a *verifyError naming its problems, and an "OK"
// must mean what it says: every bank of the TCG log replays to the given values, and every entry
// of the IMA list has a template digest that is the hash of its data.
func FuzzVerify(f *testing.F) {
	// Seeds stay small: a two-bank boot as measuredboot records it, with and without firmware
	// events, with the binary and the ASCII list, and changed copies of each.
	for _, firmware := range []bool{false, true} {
		fx := newFixture(f, []eventlog.Alg{eventlog.AlgSHA1, eventlog.AlgSHA256}, firmware)
		tcg, err := fx.log.Marshal()
		if err != nil {
			f.Fatal(err)
		}
		bin := fx.imaList(f, eventlog.AlgSHA256)
		var asc bytes.Buffer
		for _, e := range fx.entries {
			line, err := e.ASCII(crypto.SHA256)
			if err != nil {
				f.Fatal(err)
			}
			asc.WriteString(line + "\n")
		}
		pcrs := pcrYAML(fx.pcrs)
		f.Add(tcg, bin, pcrs, uint8(0))
		f.Add(tcg, asc.Bytes(), pcrs, uint8(1))
		f.Add(tcg, []byte(nil), pcrs, uint8(2))
		f.Add([]byte(nil), bin, pcrs, uint8(3))
		changed := bytes.Clone(tcg)
		changed[len(changed)-1] ^= 1
		f.Add(changed, bin, pcrs, uint8(4))
	}
	f.Fuzz(func(t *testing.T, tcg, list, pcrText []byte, sel uint8) {
		pcrs, err := parsePCRFile(pcrText, eventlog.AlgSHA256)
		if err != nil {
			return
		}
		in := verifyInput{tcgName: "tcg", imaName: "ima", bank: []string{"sha1", "sha256", "sha384", "sha512"}[sel%4]}
		if len(tcg) > 0 {
			in.tcg = tcg
		}
		if len(list) > 0 {
			in.ima = list
		}
		if in.tcg == nil && in.ima == nil {
			return
		}
		v := &verifier{out: io.Discard, src: filePCRs{path: "pcrs", pcrs: pcrs}, banks: eventlog.PCRs{}, noBank: map[eventlog.Alg]bool{},
			skip: map[eventlog.Alg]bool{}, imaPCRs: map[uint32]bool{}}
		err = v.run(in)
		if err != nil {
			var ve *verifyError
			if !errors.As(err, &ve) || len(ve.problems) == 0 {
				t.Fatalf("run = %v, want a *verifyError with problems", err)
			}
			return
		}
		if in.tcg != nil {
			l, err := eventlog.Parse(in.tcg)
			if err != nil {
				t.Fatalf("OK for a TCG log that does not parse: %v", err)
			}
			replay, err := l.Replay()
			if err != nil {
				t.Fatalf("OK for a TCG log that does not replay: %v", err)
			}
			for _, alg := range l.Banks() {
				for p, want := range replay[alg] {
					if got, ok := pcrs[alg][p]; !ok || !bytes.Equal(got, want) {
						t.Fatalf("OK, but %v PCR %d replays to %x and the values say %x", alg, p, want, got)
					}
				}
			}
		}
		if in.ima != nil {
			var entries []ima.ListEntry
			var alg eventlog.Alg
			if ima.IsASCIIList(in.ima) {
				if entries, alg, err = asciiList(in.ima); err != nil {
					t.Fatalf("OK for an ASCII list that does not parse: %v", err)
				}
			} else {
				alg, _ = eventlog.AlgFromName(in.bank)
				if entries, err = ima.ParseBinaryList(in.ima, alg.Size()); err != nil {
					t.Fatalf("OK for a binary list that does not parse: %v", err)
				}
			}
			h, _ := alg.Hash()
			for i, e := range entries {
				if err := e.CheckDigest(h); err != nil {
					t.Fatalf("OK, but IMA entry %d: %v", i, err)
				}
			}
		}
	})
}
