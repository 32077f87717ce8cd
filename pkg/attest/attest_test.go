package attest

import (
	"bytes"
	"crypto"
	"crypto/sha1"
	"crypto/sha256"
	"errors"
	"io"
	"maps"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-tpm-tools/client"
	attestpb "github.com/google/go-tpm-tools/proto/attest"
	tpmpb "github.com/google/go-tpm-tools/proto/tpm"
	"github.com/google/go-tpm-tools/server"
	"github.com/google/go-tpm/tpm2/transport"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/measuredboot/measuredboot/internal/swtpmtest"
	"github.com/measuredboot/measuredboot/pkg/eventlog"
	"github.com/measuredboot/measuredboot/pkg/seal"
	"github.com/measuredboot/measuredboot/pkg/tpm"
)

const (
	cmdline = "root=/dev/vda1 console=ttyS0"
	kernel  = "/boot/vmlinuz"
)

var (
	nonce     = []byte("a verifier's nonce")
	kernelImg = bytes.Repeat([]byte("a kernel "), 100)
	imaLists  = map[string][]byte{
		"ima/binary_runtime_measurements_sha256": []byte("\x0a\x00\x00\x00binary list"),
		"ima/ascii_runtime_measurements_sha256":  []byte("10 abcd ima-ng sha256:00 boot_aggregate\n"),
	}
)

// machine is a swtpm that a boot extended, and the TCG log of that boot.
type machine struct {
	tr    transport.TPM
	dev   *tpm.Device
	banks []eventlog.Alg
	log   *eventlog.Log
}

// rw returns the io.ReadWriter go-tpm-tools takes.
func (m *machine) rw() io.ReadWriter { return seal.ReadWriter(m.tr) }

// newMachine starts a swtpm, and for each of events appends it to a log of the TPM's banks and
// extends the TPM with it, as firmware and a boot loader do.
func newMachine(t *testing.T, events func(l *eventlog.Log)) *machine {
	t.Helper()
	tr := swtpmtest.Open(t, swtpmtest.Start(t, ""))
	m := &machine{tr: tr, dev: tpm.New(tr)}
	var err error
	if m.banks, err = m.dev.Banks(); err != nil {
		t.Fatal(err)
	}
	if m.log, err = eventlog.New(m.banks); err != nil {
		t.Fatal(err)
	}
	events(m.log)
	for _, e := range m.log.Events {
		m.extend(t, e)
	}
	return m
}

// extend extends the TPM with e's digests (nothing for EV_NO_ACTION).
func (m *machine) extend(t *testing.T, e eventlog.Event) {
	t.Helper()
	if e.Type == eventlog.EvNoAction {
		return
	}
	if err := m.dev.Extend(e.PCR, e.Digests); err != nil {
		t.Fatalf("extend PCR %d: %v", e.PCR, err)
	}
}

// logBytes returns the log as handed over.
func (m *machine) logBytes(t *testing.T) []byte {
	t.Helper()
	b, err := m.log.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// ak returns the machine's AK, as a verifier enrols it.
func (m *machine) ak(t *testing.T) crypto.PublicKey {
	t.Helper()
	k, err := AttestationKey(m.rw())
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// attest returns a parsed attestation of the machine for nonce n.
func (m *machine) attest(t *testing.T, n []byte, tcgLog []byte) (*File, []byte) {
	t.Helper()
	b, err := Attest(m.rw(), n, tcgLog, imaLists)
	if err != nil {
		t.Fatalf("Attest = %v", err)
	}
	f, err := Parse(b)
	if err != nil {
		t.Fatalf("Parse(Attest()) = %v", err)
	}
	return f, b
}

// must appends an event or fails the test.
func must(t *testing.T, _ eventlog.Event, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// firmware appends what go-eventlog's extractors read from a BIOS-like firmware: its version
// in PCR 0 and a 00000000 separator in each of PCRs 0-7.
func firmware(t *testing.T, l *eventlog.Log) {
	t.Helper()
	e, err := l.Append(0, eventlog.EvSCRTMVersion, []byte("measuredboot test firmware\x00"))
	must(t, e, err)
	for p := range uint32(8) {
		e, err := l.Append(p, eventlog.EvSeparator, []byte{0, 0, 0, 0})
		must(t, e, err)
	}
}

// grubEvents appends GRUB's conventions: the command line as text in PCR 8 (each bank's digest
// the hash of the text after the prefix), the kernel's path in PCR 9 with the file's digest.
func grubEvents(t *testing.T, l *eventlog.Log, line string) {
	t.Helper()
	var cmd, file []eventlog.Digest
	for _, a := range l.Banks() {
		h, _ := a.Hash()
		hh := h.New()
		hh.Write([]byte(line))
		cmd = append(cmd, eventlog.Digest{Alg: a, Sum: hh.Sum(nil)})
		hh = h.New()
		hh.Write(kernelImg)
		file = append(file, eventlog.Digest{Alg: a, Sum: hh.Sum(nil)})
	}
	e, err := l.AppendDigests(8, eventlog.EvIPL, cmd, []byte("kernel_cmdline: "+line))
	must(t, e, err)
	e, err = l.AppendDigests(9, eventlog.EvIPL, file, []byte(kernel+"\x00"))
	must(t, e, err)
}

// grubBoot is a firmware and GRUB-convention boot with the command line cmdline.
func grubBoot(t *testing.T) func(*eventlog.Log) {
	return func(l *eventlog.Log) {
		firmware(t, l)
		grubEvents(t, l, cmdline)
	}
}

// TestAttestVerifyGRUB attests a swtpm that a firmware-and-GRUB-convention boot extended, and
// checks the file with go-tpm-tools (as any verifier reads it) and with Verify: the machine state
// names the logged command line and kernel file, and the quoted PCRs are the TPM's.
func TestAttestVerifyGRUB(t *testing.T) {
	m := newMachine(t, grubBoot(t))
	ak := m.ak(t)
	f, b := m.attest(t, nonce, m.logBytes(t))

	if !maps.EqualFunc(f.IMA, imaLists, bytes.Equal) {
		t.Errorf("Parse(Attest()).IMA = %v, want %v", slices.Sorted(maps.Keys(f.IMA)), slices.Sorted(maps.Keys(imaLists)))
	}
	// Any go-tpm-tools verifier: the file as it is, the IMA lists kept as unknown fields.
	plain := &attestpb.Attestation{}
	if err := proto.Unmarshal(b, plain); err != nil {
		t.Fatalf("proto.Unmarshal(file) into attest.Attestation = %v", err)
	}
	if len(plain.ProtoReflect().GetUnknown()) == 0 {
		t.Errorf("proto.Unmarshal(file) kept no unknown fields: where are the IMA lists?")
	}
	ms, err := server.VerifyAttestation(plain, server.VerifyOpts{Nonce: nonce, TrustedAKs: []crypto.PublicKey{ak}, Loader: server.GRUB})
	if err != nil {
		t.Fatalf("server.VerifyAttestation(file as is) = %v", err)
	}
	if got := ms.GetLinuxKernel().GetCommandLine(); got != cmdline {
		t.Errorf("server.VerifyAttestation: command line %q, want %q", got, cmdline)
	}

	ms, err = Verify(f, nonce, VerifyOptions{TrustedAKs: []crypto.PublicKey{ak}, GRUB: true})
	if err != nil {
		t.Fatalf("Verify = %v", err)
	}
	if got := ms.GetLinuxKernel().GetCommandLine(); got != cmdline {
		t.Errorf("Verify: command line %q, want %q", got, cmdline)
	}
	files := ms.GetGrub().GetFiles()
	sum := sha256.Sum256(kernelImg)
	if eventlog.Alg(ms.GetHash()) == eventlog.AlgSHA256 && (len(files) != 1 || !bytes.Equal(files[0].GetDigest(), sum[:])) {
		t.Errorf("Verify: GRUB files %v, want %s with digest %x", files, kernel, sum)
	}
	lines := Describe(ms)
	t.Logf("Describe:\n%s", strings.Join(lines, "\n"))
	for _, want := range []string{
		`linux kernel command line: "root=/dev/vda1 console=ttyS0"`,
		`grub file 0: "/boot/vmlinuz" `,
		`grub command 0: "kernel_cmdline: root=/dev/vda1 console=ttyS0"`,
		`platform: firmware S-CRTM version "measuredboot test firmware"`,
		"secure boot: off",
	} {
		if !slices.ContainsFunc(lines, func(l string) bool { return strings.HasPrefix(l, want) }) {
			t.Errorf("Describe() has no line %q", want)
		}
	}
	if !slices.Equal(lines, Describe(ms)) {
		t.Errorf("Describe() differs between calls")
	}

	// The quoted PCRs are the TPM's, every bank, and our own replay matches them.
	quoted := QuotedPCRs(f)
	for _, a := range m.banks {
		read, err := m.dev.Read(a, QuotedPCRList)
		if err != nil {
			t.Fatal(err)
		}
		if !maps.EqualFunc(quoted[a], read, bytes.Equal) {
			t.Errorf("QuotedPCRs()[%v] differs from PCR_Read", a)
		}
	}
	mis, err := m.log.Verify(quoted)
	if err != nil || len(mis) != 0 {
		t.Errorf("log.Verify(QuotedPCRs()) = %v, %v; want no mismatch", mis, err)
	}

	// Without GRUB, go-eventlog does not read PCRs 8 and 9.
	ms, err = Verify(f, nonce, VerifyOptions{TrustedAKs: []crypto.PublicKey{ak}})
	if err != nil {
		t.Fatalf("Verify(GRUB false) = %v", err)
	}
	if ms.GetLinuxKernel() != nil || ms.GetGrub() != nil {
		t.Errorf("Verify(GRUB false) gave a kernel %v or GRUB state %v", ms.GetLinuxKernel(), ms.GetGrub())
	}
}

// TestAttestLikeClientAttest checks that Attest makes what go-tpm-tools' client.Key.Attest makes
// (which it does not call, for the target's size): the same AK, quotes of the same banks and PCR
// values, the same log.
func TestAttestLikeClientAttest(t *testing.T) {
	m := newMachine(t, grubBoot(t))
	log := m.logBytes(t)
	f, _ := m.attest(t, nonce, log)
	k, err := newAK(m.rw())
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()
	want, err := k.Attest(client.AttestOpts{Nonce: nonce, TCGEventLog: log, SkipTeeAttestation: true})
	if err != nil {
		t.Fatal(err)
	}
	got := f.Attestation
	if !bytes.Equal(got.AkPub, want.AkPub) || !bytes.Equal(got.AkCert, want.AkCert) || !bytes.Equal(got.EventLog, want.EventLog) || len(got.Quotes) != len(want.Quotes) {
		t.Fatalf("Attest() = %v, client.Attest() = %v", got, want)
	}
	// client.Attest quotes PCRs 0-23; Attest quotes 0-9, which must be client.Attest's values.
	for i := range got.Quotes {
		g, w := got.Quotes[i].GetPcrs(), want.Quotes[i].GetPcrs()
		if g.GetHash() != w.GetHash() || len(g.GetPcrs()) != len(QuotedPCRList) {
			t.Errorf("quote %d: %v PCRs %d, want %v and %d", i, g.GetHash(), len(g.GetPcrs()), w.GetHash(), len(QuotedPCRList))
		}
		for p, v := range g.GetPcrs() {
			if !bytes.Equal(v, w.GetPcrs()[p]) {
				t.Errorf("quote %d: PCR %d %x, client.Attest's %x", i, p, v, w.GetPcrs()[p])
			}
		}
	}
}

// TestVerifyMinimalLogs records what go-tpm-tools v0.4.10 (go-eventlog) needs from a log.
func TestVerifyMinimalLogs(t *testing.T) {
	for _, tc := range []struct {
		name     string
		events   func(t *testing.T, l *eventlog.Log)
		grub     bool
		allowEFI bool
		wantErr  string // "" to pass
	}{
		{name: "no events: nothing is compared", events: func(*testing.T, *eventlog.Log) {}},
		{name: "one PCR 8 event and no firmware events", events: func(t *testing.T, l *eventlog.Log) {
			e, err := l.Append(8, eventlog.EvIPL, []byte("anything"))
			must(t, e, err)
		}},
		{name: "firmware only", events: firmware},
		{name: "GRUB loader without GRUB events", events: firmware, grub: true, wantErr: "no GRUB measurements found"},
		{name: "GRUB loader with a PCR 8 event of ours", grub: true, wantErr: "invalid prefix seen for PCR8 event", events: func(t *testing.T, l *eventlog.Log) {
			e, err := l.Append(8, eventlog.EvIPL, []byte("measuredboot cmdline"))
			must(t, e, err)
		}},
		{name: "GRUB loader with a separator in PCR 9", grub: true, wantErr: "invalid event type for PCR9", events: func(t *testing.T, l *eventlog.Log) {
			grubEvents(t, l, cmdline)
			e, err := l.Append(9, eventlog.EvSeparator, []byte{0, 0, 0, 0})
			must(t, e, err)
		}},
		{name: "GRUB loader with GRUB events only", grub: true, events: func(t *testing.T, l *eventlog.Log) { grubEvents(t, l, cmdline) }},
		{name: "an EFI application before the Calling action", events: uefiApp, wantErr: "found EFIBootServicesApplication in PCR4 before CallingEFIApp event"},
		{name: "an EFI application before the Calling action allowed", events: uefiApp, allowEFI: true},
		{name: "FFFFFFFF separators (SeaBIOS)", wantErr: "invalid separator data", events: func(t *testing.T, l *eventlog.Log) {
			for p := range uint32(8) {
				e, err := l.Append(p, eventlog.EvSeparator, []byte{0xff, 0xff, 0xff, 0xff})
				must(t, e, err)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := newMachine(t, func(l *eventlog.Log) { tc.events(t, l) })
			f, _ := m.attest(t, nonce, m.logBytes(t))
			ms, err := Verify(f, nonce, VerifyOptions{TrustedAKs: []crypto.PublicKey{m.ak(t)}, GRUB: tc.grub, AllowEFIAppBeforeCallingEvent: tc.allowEFI})
			if err == nil {
				t.Logf("Describe:\n%s", strings.Join(Describe(ms), "\n"))
			}
			if tc.allowEFI && len(ms.GetEfi().GetApps()) != 1 {
				t.Errorf("Verify: EFI apps %v, want the one logged", ms.GetEfi().GetApps())
			}
			switch {
			case tc.wantErr == "" && err != nil:
				t.Errorf("Verify = %v, want success", err)
			case tc.wantErr != "" && (!errors.Is(err, ErrLog) || !strings.Contains(err.Error(), tc.wantErr)):
				t.Errorf("Verify = %v, want ErrLog saying %q", err, tc.wantErr)
			}
		})
	}
}

// evEFIAction is EV_EFI_ACTION.
const evEFIAction eventlog.EventType = 0x80000007

// uefiApp appends, as OVMF does, an EFI application in PCR 4 before the "Calling EFI
// Application from Boot Option" action, then the separators and ExitBootServices in PCR 5.
func uefiApp(t *testing.T, l *eventlog.Log) {
	t.Helper()
	var app []eventlog.Digest
	for _, a := range l.Banks() {
		app = append(app, eventlog.Digest{Alg: a, Sum: bytes.Repeat([]byte{0xab}, a.Size())})
	}
	e, err := l.AppendDigests(4, eventlog.EvEFIBootServicesApplication, app, []byte("an EFI_IMAGE_LOAD_EVENT"))
	must(t, e, err)
	e, err = l.Append(4, evEFIAction, []byte("Calling EFI Application from Boot Option"))
	must(t, e, err)
	for p := range uint32(8) {
		e, err := l.Append(p, eventlog.EvSeparator, []byte{0, 0, 0, 0})
		must(t, e, err)
	}
	e, err = l.Append(5, evEFIAction, []byte("Exit Boot Services Invocation"))
	must(t, e, err)
}

// TestVerifySeaBIOSLog replays a real SeaBIOS log into swtpm: go-eventlog refuses it (its
// FFFFFFFF separators in PCRs 2 and 7) although every PCR replays.
func TestVerifySeaBIOSLog(t *testing.T) {
	raw, err := os.ReadFile("../eventlog/testdata/seabios-1.16.2-swtpm-4banks.bin")
	if err != nil {
		t.Fatal(err)
	}
	fw, err := eventlog.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	m := newMachine(t, func(*eventlog.Log) {})
	for _, e := range fw.Events {
		m.extend(t, e)
	}
	f, _ := m.attest(t, nonce, raw)
	if mis, err := fw.Verify(QuotedPCRs(f)); err != nil || len(mis) != 0 {
		t.Fatalf("the SeaBIOS log does not replay into swtpm: %v, %v", mis, err)
	}
	_, err = Verify(f, nonce, VerifyOptions{TrustedAKs: []crypto.PublicKey{m.ak(t)}})
	if !errors.Is(err, ErrLog) || !strings.Contains(err.Error(), "separator") {
		t.Errorf("Verify(SeaBIOS log) = %v, want ErrLog about its separators", err)
	}
}

// TestVerifyRejects checks that each kind of bad attestation fails with its reason.
func TestVerifyRejects(t *testing.T) {
	m := newMachine(t, grubBoot(t))
	other := newMachine(t, grubBoot(t))
	ak := m.ak(t)
	good := m.logBytes(t)
	trusted := VerifyOptions{TrustedAKs: []crypto.PublicKey{ak}, GRUB: true}

	// Another boot: the same TPM, its PCR 8 extended once more (the quote's values differ from
	// what the first boot's log replays to).
	beforeFile, _ := m.attest(t, nonce, good)
	e, err := m.log.Append(8, eventlog.EvIPL, []byte("grub_cmd: another boot"))
	must(t, e, err)
	m.extend(t, e)
	anotherBoot, _ := m.attest(t, nonce, good)
	if _, err := Verify(beforeFile, nonce, trusted); err != nil {
		t.Fatalf("Verify(the first boot) = %v", err)
	}

	changed, _ := eventlog.Parse(good)
	for i := range changed.Events {
		if changed.Events[i].PCR == 9 {
			for _, d := range changed.Events[i].Digests {
				d.Sum[0] ^= 1
			}
		}
	}
	changedLog, err := changed.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	withLog := func(log []byte) *File {
		f := proto.Clone(beforeFile.Attestation).(*attestpb.Attestation)
		f.EventLog = log
		return &File{Attestation: f}
	}
	otherFile, _ := other.attest(t, nonce, other.logBytes(t))
	// The other TPM's quotes under this TPM's AK.
	swapped := proto.Clone(otherFile.Attestation).(*attestpb.Attestation)
	swapped.AkPub = beforeFile.Attestation.AkPub

	for _, tc := range []struct {
		name  string
		f     *File
		nonce []byte
		o     VerifyOptions
		want  error
		msg   string
	}{
		{"wrong nonce", beforeFile, []byte("another verifier's"), trusted, ErrNonceMismatch, "quote 0 ("},
		{"nonce too short", beforeFile, []byte("short"), trusted, ErrNonceLength, "5 bytes"},
		{"nonce too long", beforeFile, make([]byte, 65), trusted, ErrNonceLength, "65 bytes"},
		{"another TPM's AK", otherFile, nonce, trusted, ErrUntrustedAK, "none of the 1 trusted"},
		{"quotes signed by another AK", &File{Attestation: swapped}, nonce, trusted, ErrQuote, "signature verification failed"},
		{"one event changed", withLog(changedLog), nonce, trusted, ErrLog, "failed to replay event log"},
		{"no log", withLog(nil), nonce, trusted, ErrLog, "no TCG event log"},
		{"a quote from another boot", &File{Attestation: anotherBoot.Attestation}, nonce, trusted, ErrLog, "failed to replay event log"},
		{"no trust", beforeFile, nonce, VerifyOptions{}, ErrUntrustedAK, "no trusted AK"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Verify(tc.f, tc.nonce, tc.o)
			t.Logf("Verify = %v", err)
			if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.msg) || strings.Contains(err.Error(), "\n") {
				t.Errorf("Verify = %v, want %v saying %q on one line", err, tc.want, tc.msg)
			}
		})
	}
}

// failRW fails the test on any TPM command.
type failRW struct{ t *testing.T }

func (f failRW) Write(p []byte) (int, error) {
	f.t.Errorf("a TPM command was sent: %x", p)
	return 0, errors.New("no TPM")
}
func (f failRW) Read([]byte) (int, error) { return 0, io.EOF }

// TestAttestBadInput checks that Attest refuses a bad nonce or IMA name before using the TPM.
func TestAttestBadInput(t *testing.T) {
	for _, tc := range []struct {
		name  string
		nonce []byte
		ima   map[string][]byte
		want  string
	}{
		{"nonce of 7 bytes", make([]byte, 7), nil, "a nonce of 7 bytes, want 8 to 64"},
		{"nonce of 65 bytes", make([]byte, 65), nil, "a nonce of 65 bytes"},
		{"no nonce", nil, nil, "a nonce of 0 bytes"},
		{"name outside ima/", nonce, map[string][]byte{"etc/passwd": nil}, `want "ima/"`},
		{"name with a directory", nonce, map[string][]byte{"ima/a/b": nil}, `no "/"`},
		{"name ..", nonce, map[string][]byte{"ima/..": nil}, "no file name"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Attest(failRW{t}, tc.nonce, []byte("log"), tc.ima)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Attest = %v, want an error saying %q", err, tc.want)
			}
		})
	}
}

// sample is an attestation with the form of a real one (not signed: for Parse only).
func sample() *File {
	sum := sha1.Sum(nil)
	return &File{
		Attestation: &attestpb.Attestation{
			AkPub: []byte("an AK's TPMT_PUBLIC"),
			Quotes: []*tpmpb.Quote{
				{Quote: []byte("TPMS_ATTEST"), RawSig: []byte("sig"), Pcrs: &tpmpb.PCRs{Hash: tpmpb.HashAlgo_SHA256, Pcrs: map[uint32][]byte{0: make([]byte, 32), 10: bytes.Repeat([]byte{1}, 32)}}},
				{Quote: []byte("TPMS_ATTEST"), RawSig: []byte("sig"), Pcrs: &tpmpb.PCRs{Hash: tpmpb.HashAlgo_SHA1, Pcrs: map[uint32][]byte{0: sum[:]}}},
			},
			EventLog: []byte("a TCG log"),
		},
		IMA: map[string][]byte{"ima/binary_runtime_measurements_sha256": []byte("list"), "ima/empty": {}},
	}
}

func mustMarshal(t testing.TB, f *File) []byte {
	t.Helper()
	b, err := f.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// imaField returns field 1000 holding the nested message body.
func imaField(body ...[]byte) []byte {
	b := protowire.AppendTag(nil, FieldIMA, protowire.BytesType)
	return protowire.AppendBytes(b, bytes.Join(body, nil))
}

func bytesField(num protowire.Number, v string) []byte {
	b := protowire.AppendTag(nil, num, protowire.BytesType)
	return protowire.AppendString(b, v)
}

// TestParse checks that Parse reads what Marshal writes.
func TestParse(t *testing.T) {
	want := sample()
	b := mustMarshal(t, want)
	got, err := Parse(b)
	if err != nil {
		t.Fatalf("Parse(Marshal(sample)) = %v", err)
	}
	if !proto.Equal(got.Attestation, want.Attestation) || !maps.EqualFunc(got.IMA, want.IMA, bytes.Equal) {
		t.Errorf("Parse(Marshal(sample)) = %v, want %v", got, want)
	}
	if b2 := mustMarshal(t, got); !bytes.Equal(b, b2) {
		t.Errorf("Marshal(Parse(b)) != b")
	}
	pcrs := QuotedPCRs(got)
	if len(pcrs) != 2 || !bytes.Equal(pcrs[eventlog.AlgSHA256][10], bytes.Repeat([]byte{1}, 32)) {
		t.Errorf("QuotedPCRs = %v", pcrs)
	}
}

// TestParseRejects checks that Parse refuses malformed files with the reason and the place.
func TestParseRejects(t *testing.T) {
	good := mustMarshal(t, sample())
	noIMA := mustMarshal(t, &File{Attestation: sample().Attestation})
	withAtt := func(mod func(a *attestpb.Attestation)) []byte {
		f := sample()
		mod(f.Attestation)
		b, err := proto.MarshalOptions{Deterministic: true}.Marshal(f.Attestation)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	cat := func(bs ...[]byte) []byte { return bytes.Join(bs, nil) }
	for _, tc := range []struct {
		name string
		b    []byte
		want string
	}{
		{"empty", nil, "empty"},
		{"truncated in the IMA lists", good[:len(good)-3], "truncated"},
		{"truncated in a quote", good[:20], "truncated"},
		{"IMA field as a varint", cat(noIMA, protowire.AppendVarint(protowire.AppendTag(nil, FieldIMA, protowire.VarintType), 7)), "wire type 0, want 2"},
		{"IMA name as a varint", cat(noIMA, imaField(protowire.AppendVarint(protowire.AppendTag(nil, 1, protowire.VarintType), 1))), "field 1 has wire type 0"},
		{"duplicate names", cat(noIMA, imaField(bytesField(1, "ima/a"), bytesField(2, "x")), imaField(bytesField(1, "ima/a"), bytesField(2, "y"))), `IMA list "ima/a" is in the file twice`},
		{"a name outside ima/", cat(noIMA, imaField(bytesField(1, "boot/vmlinuz"))), `"boot/vmlinuz": want "ima/"`},
		{"no name", cat(noIMA, imaField(bytesField(2, "x"))), "no name (field 1)"},
		{"a second name", cat(noIMA, imaField(bytesField(1, "ima/a"), bytesField(1, "ima/b"))), "a second name"},
		{"an unknown field in an IMA list", cat(noIMA, imaField(bytesField(1, "ima/a"), bytesField(3, "x"))), "field 3, want 1 (name) or 2"},
		{"an unknown top-level field", cat(noIMA, bytesField(999, "x")), "unknown field 999"},
		{"no quotes", withAtt(func(a *attestpb.Attestation) { a.Quotes = nil }), "no quotes (field 2)"},
		{"no AK", withAtt(func(a *attestpb.Attestation) { a.AkPub = nil }), "no attestation key"},
		{"nothing but IMA lists", imaField(bytesField(1, "ima/a")), "no attestation key"},
		{"two quotes of a bank", withAtt(func(a *attestpb.Attestation) { a.Quotes[1].Pcrs.Hash = tpmpb.HashAlgo_SHA256 }), "quote 1 (sha256): quote 0 is of the same bank"},
		{"a PCR value of the wrong size", withAtt(func(a *attestpb.Attestation) { a.Quotes[0].Pcrs.Pcrs[3] = []byte{1} }), "quote 0 (sha256): PCR 3 is 1 bytes, want 32"},
		{"PCR 24", withAtt(func(a *attestpb.Attestation) { a.Quotes[0].Pcrs.Pcrs[24] = make([]byte, 32) }), "PCR 24, want below 24"},
		{"an unknown bank", withAtt(func(a *attestpb.Attestation) { a.Quotes[0].Pcrs.Hash = 0x99 }), "quote 0: PCR bank"},
		{"a quote without signature", withAtt(func(a *attestpb.Attestation) { a.Quotes[0].RawSig = nil }), "no signature"},
		{"an unknown field in a quote", cat(noIMA, protowire.AppendBytes(protowire.AppendTag(nil, 2, protowire.BytesType), bytesField(77, "x"))), "attestation.quotes[2]: unknown field 77"},
		{"the Attestation's field of the wrong wire type", cat(protowire.AppendVarint(protowire.AppendTag(nil, 1, protowire.VarintType), 1), noIMA), "attestation: field 1 (ak_pub) has wire type 0, wrong for a bytes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, err := Parse(tc.b)
			if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Parse = %v, %v; want ErrMalformed saying %q", f, err, tc.want)
			}
		})
	}
}

// TestDescribe checks the lines of a machine state with every part.
func TestDescribe(t *testing.T) {
	ms := &attestpb.MachineState{
		Hash:      tpmpb.HashAlgo_SHA256,
		RawEvents: make([]*attestpb.Event, 3),
		Platform:  &attestpb.PlatformState{Firmware: &attestpb.PlatformState_ScrtmVersionId{ScrtmVersionId: []byte("e\x00d\x00k\x002\x00\x00\x00")}},
		SecureBoot: &attestpb.SecureBootState{Enabled: true,
			Db:  &attestpb.Database{Certs: make([]*attestpb.Certificate, 2), Hashes: [][]byte{{1}}},
			Dbx: &attestpb.Database{Hashes: make([][]byte, 5)}},
		Efi:         &attestpb.EfiState{Apps: []*attestpb.EfiApp{{Digest: bytes.Repeat([]byte{0xab}, 32)}}},
		Grub:        &attestpb.GrubState{Files: []*attestpb.GrubFile{{Digest: []byte{1, 2}, UntrustedFilename: []byte("/boot/vmlinuz\x00")}}, Commands: []string{"kernel_cmdline: ro"}},
		LinuxKernel: &attestpb.LinuxKernelState{CommandLine: "ro"},
	}
	want := []string{
		"log replayed in the sha256 bank, 3 events",
		`platform: firmware S-CRTM version "edk2"`,
		"secure boot: on; PK none; KEK none; db 2 certificates, 1 hashes; dbx 0 certificates, 5 hashes",
		"efi app 0: abababababababab…",
		`grub file 0: "/boot/vmlinuz" 0102`,
		`grub command 0: "kernel_cmdline: ro"`,
		`linux kernel command line: "ro"`,
	}
	if got := Describe(ms); !slices.Equal(got, want) {
		t.Errorf("Describe() =\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
