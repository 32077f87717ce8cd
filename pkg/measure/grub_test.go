package measure

import (
	"bytes"
	"crypto"
	"crypto/sha256"
	"strings"
	"testing"

	"github.com/measuredboot/measuredboot/pkg/eventlog"
	"github.com/measuredboot/measuredboot/pkg/ima"
)

// grubEvent is e's event as record makes it, in banks sha1 and sha256.
func grubEvent(t testing.TB, e ima.Entry, content []byte) eventlog.Event {
	t.Helper()
	ge, err := GRUBEventOf(e, content)
	if err != nil {
		t.Fatal(err)
	}
	ds, _, err := grubDigests([]eventlog.Alg{eventlog.AlgSHA1, eventlog.AlgSHA256}, ge, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	return eventlog.Event{PCR: e.PCR, Type: eventlog.EvIPL, Digests: ds, Data: ge.Data}
}

// TestGRUBEvent checks GRUB's form of each kind of entry, that MatchGRUB accepts it and
// CheckGRUBText agrees with go-eventlog's rule, and that a changed byte is refused.
func TestGRUBEvent(t *testing.T) {
	kernel := []byte("a kernel")
	ksum := sha256.Sum256(kernel)
	file, _ := ima.NewNG(9, crypto.SHA256, ksum[:], "/boot/vmlinuz")
	cmdline, _ := ima.NewBuf(8, crypto.SHA256, []byte("ro quiet"), CmdlineName)
	marker, _ := ima.NewBuf(8, crypto.SHA256, []byte("name=\"e\""), "measuredboot.entry")
	pol := []byte("measure func=KEXEC_CMDLINE pcr=8\n")
	psum := sha256.Sum256(pol)
	policy, _ := ima.NewNG(8, crypto.SHA256, psum[:], "/etc/measuredboot/policy")
	agg, _ := ima.NewNG(8, crypto.SHA256, bytes.Repeat([]byte{7}, 32), ima.BootAggregateName)
	for _, tc := range []struct {
		name    string
		e       ima.Entry
		content []byte
		data    string
	}{
		{"file", file, kernel, "/boot/vmlinuz\x00"},
		{"cmdline", cmdline, nil, "kernel_cmdline: ro quiet"},
		{"marker", marker, nil, "grub_cmd: measuredboot.entry name=\"e\""},
		{"policy", policy, pol, "grub_cmd: " + string(pol)},
		{"aggregate", agg, nil, "grub_cmd: boot_aggregate sha256:" + strings.Repeat("07", 32)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ev := grubEvent(t, tc.e, tc.content)
			if string(ev.Data) != tc.data {
				t.Fatalf("data %q, want %q", ev.Data, tc.data)
			}
			if err := MatchGRUB(tc.e, ev); err != nil {
				t.Errorf("MatchGRUB = %v", err)
			}
			if ev.PCR == GRUBTextPCR {
				if err := CheckGRUBText(ev); err != nil {
					t.Errorf("CheckGRUBText = %v", err)
				}
			}
			if tc.e.PCR == GRUBFilesPCR {
				if got := ev.Digest(eventlog.AlgSHA256); !bytes.Equal(got, ksum[:]) {
					t.Errorf("sha256 digest %x, want the file's plain digest %x", got, ksum)
				}
			}
			bad := ev
			bad.Data = bytes.Clone(ev.Data)
			bad.Data[len(bad.Data)-2] ^= 1
			if MatchGRUB(tc.e, bad) == nil {
				t.Errorf("MatchGRUB accepted changed data %q", bad.Data)
			}
		})
	}
	// No GRUB form for PCRs other than 8 and 9, nor for a text ending in a NUL.
	e10, _ := ima.NewBuf(10, crypto.SHA256, []byte("x"), "x")
	if _, err := GRUBEventOf(e10, nil); err == nil {
		t.Error("GRUBEventOf(PCR 10) = nil error")
	}
	nul, _ := ima.NewBuf(8, crypto.SHA256, []byte("x\x00"), CmdlineName)
	if _, err := GRUBEventOf(nul, nil); err == nil {
		t.Error("GRUBEventOf(a text ending in NUL) = nil error")
	}
	if _, err := ParseFormat("xml"); err == nil {
		t.Error(`ParseFormat("xml") = nil error`)
	}
}

// FuzzGRUBEvent: MatchGRUB and CheckGRUBText read events from an untrusted log. They never panic;
// an event MatchGRUB accepts for an ima-buf entry has exactly GRUBEventOf's data and digests.
func FuzzGRUBEvent(f *testing.F) {
	f.Add(uint32(8), "kexec-cmdline", []byte("ro"), []byte("kernel_cmdline: ro"), []byte{1})
	f.Add(uint32(9), "/boot/vmlinuz", []byte("k"), []byte("/boot/vmlinuz\x00"), []byte{2})
	f.Add(uint32(8), "measuredboot.entry", []byte("n"), []byte("grub_cmd: measuredboot.entry n"), []byte{})
	f.Fuzz(func(t *testing.T, pcr uint32, name string, buf, data, digest []byte) {
		e, err := ima.NewBuf(pcr%16, crypto.SHA256, buf, name)
		if err != nil {
			return
		}
		ev := eventlog.Event{PCR: pcr % 16, Type: eventlog.EvIPL, Data: data,
			Digests: []eventlog.Digest{{Alg: eventlog.AlgSHA256, Sum: digest}}}
		_ = CheckGRUBText(ev)
		if MatchGRUB(e, ev) != nil {
			return
		}
		ge, err := GRUBEventOf(e, nil)
		if err != nil {
			t.Fatalf("MatchGRUB accepted an event for an entry with no GRUB form: %v", err)
		}
		sum := sha256.Sum256(ge.Hashed)
		if !bytes.Equal(ge.Data, data) || !bytes.Equal(sum[:], digest) {
			t.Fatalf("MatchGRUB accepted data %q digest %x, want %q %x", data, digest, ge.Data, sum)
		}
	})
}
