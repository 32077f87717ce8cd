package tpm

import (
	"bytes"
	"crypto"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-tpm/tpm2/transport/simulator"

	"github.com/measuredboot/measuredboot/pkg/eventlog"
)

// TestSimulator runs Banks, Extend and Read against the Microsoft reference TPM simulator and
// checks the TPM's PCR values against the extend rule computed here: new = H(old || digest).
func TestSimulator(t *testing.T) {
	sim, err := simulator.OpenSimulator()
	if err != nil {
		t.Fatalf("OpenSimulator: %v (it needs cgo and gcc)", err)
	}
	defer sim.Close()
	d := New(sim)
	banks, err := d.Banks()
	if err != nil {
		t.Fatal(err)
	}
	if len(banks) == 0 {
		t.Fatal("Banks() = none")
	}
	const pcr = 9
	before := map[eventlog.Alg][]byte{}
	var digests []eventlog.Digest
	for _, b := range banks {
		h, ok := b.Hash()
		if !ok {
			t.Fatalf("bank %v has no Go hash", b)
		}
		v, err := d.Read(b, []uint32{pcr})
		if err != nil {
			t.Fatal(err)
		}
		before[b] = v[pcr]
		hh := h.New()
		hh.Write([]byte("measuredboot"))
		digests = append(digests, eventlog.Digest{Alg: b, Sum: hh.Sum(nil)})
	}
	if err := d.Extend(pcr, digests); err != nil {
		t.Fatal(err)
	}
	for _, dg := range digests {
		h, _ := dg.Alg.Hash()
		want := ext(h, before[dg.Alg], dg.Sum)
		got, err := d.Read(dg.Alg, []uint32{pcr})
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got[pcr], want) {
			t.Errorf("%v PCR %d = %x, want %x", dg.Alg, pcr, got[pcr], want)
		}
	}
	// Reading more than 8 PCRs takes several commands; every value must come back.
	all := make([]uint32, 24)
	for i := range all {
		all[i] = uint32(i)
	}
	vals, err := d.Read(banks[0], all)
	if err != nil || len(vals) != 24 {
		t.Errorf("Read(all 24) = %d values, %v; want 24", len(vals), err)
	}
	if d.Commands() == 0 {
		t.Error("Commands() = 0")
	}
	// The boot_aggregate's PCRs 0-9: the TPM answers at most 8 values a command, so two commands.
	n := d.Commands()
	if vals, err := d.Read(banks[0], []uint32{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}); err != nil || len(vals) != 10 {
		t.Errorf("Read(0-9) = %d values, %v; want 10", len(vals), err)
	}
	if got := d.Commands() - n; got != 2 {
		t.Errorf("Read(0-9) took %d TPM commands, want 2", got)
	}
	// What the transport saw, by command code: 1 GetCapability, a PCR_Read per bank before and
	// after the extend, 3 for the 24 PCRs and 2 for PCRs 0-9, 1 PCR_Extend.
	want := fmt.Sprintf("%d commands in ", d.Commands())
	tail := fmt.Sprintf("s: 1 GetCapability, %d PCR_Read, 1 PCR_Extend", 2*len(banks)+5)
	if u := d.Usage(); !strings.HasPrefix(u, want) || !strings.HasSuffix(u, tail) || d.Time() <= 0 {
		t.Errorf("Usage() = %q, Time() = %v; want %q...%q and a positive time", u, d.Time(), want, tail)
	}
}

func ext(h crypto.Hash, old, d []byte) []byte {
	hh := h.New()
	hh.Write(old)
	hh.Write(d)
	return hh.Sum(nil)
}
