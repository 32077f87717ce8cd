package measure

import (
	"bytes"
	"crypto"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/measuredboot/measuredboot/pkg/eventlog"
	"github.com/measuredboot/measuredboot/pkg/ima"
)

// Format is how the measurements in PCRs 8 and 9 appear in the TCG log and the PCRs.
type Format int

const (
	// FormatIMA records every measurement as an IMA template event: the PCR is extended with the
	// template digest and the event data is the template data, so the IMA lists replay the PCRs
	// (what evmctl and IMA tools read). Separators close every PCR the boot extended.
	FormatIMA Format = iota
	// FormatGRUB follows GRUB's conventions in PCRs 8 and 9 (what go-eventlog's GRUB extractor,
	// go-tpm-tools' server.VerifyAttestation and keylime's measured-boot policies read): PCR 9
	// holds files as EV_IPL events whose data is the file's name and whose digest in each bank is
	// that bank's hash of the file's bytes; PCR 8 holds text as EV_IPL events "kernel_cmdline: "
	// (the command line) and "grub_cmd: " (everything else) whose digests are the hash of the text
	// after the prefix. Nothing closes PCRs 8 and 9 with a separator. Other PCRs keep FormatIMA.
	// The IMA lists are still kept, but do not replay PCRs 8 and 9.
	FormatGRUB
)

// String returns the format's name as the image's event_format= setting spells it.
func (f Format) String() string {
	if f == FormatGRUB {
		return "grub"
	}
	return "ima"
}

// ParseFormat reads an event_format= setting: "ima" or "grub".
func ParseFormat(s string) (Format, error) {
	switch s {
	case "ima":
		return FormatIMA, nil
	case "grub":
		return FormatGRUB, nil
	}
	return 0, fmt.Errorf("event format %q: want ima or grub", s)
}

// GRUB's PCRs and the prefixes of its text events in PCR 8.
const (
	GRUBTextPCR   = 8
	GRUBFilesPCR  = 9
	GRUBCmdline   = "kernel_cmdline: "
	GRUBCmd       = "grub_cmd: "
	CmdlineName   = "kexec-cmdline"             // the ima-buf name of the kexec command line
	FormatName    = "measuredboot.event_format" // the ima-buf entry that says a log is FormatGRUB
	formatMarkBuf = "grub"
)

// FormatMarker is the TCG event data of the PCR 8 event that opens a FormatGRUB boot's own
// events (after the boot_aggregate): a verifier tells the format from it, and since it is
// measured, a log cannot claim another format than the one its PCRs show.
var FormatMarker = []byte(GRUBCmd + FormatName + " " + formatMarkBuf)

// InGRUBForm reports whether, in format f, an EV_IPL measurement in pcr is recorded in GRUB's
// form rather than as IMA template data.
func (f Format) InGRUBForm(pcr uint32) bool {
	return f == FormatGRUB && (pcr == GRUBTextPCR || pcr == GRUBFilesPCR)
}

// GRUBEvent is a measurement in GRUB's form: the TCG event data, and the bytes whose hash in each
// bank is the event's digest in that bank.
type GRUBEvent struct {
	Data   []byte
	Hashed []byte
}

// GRUBEventOf returns the GRUB form of IMA entry e, whose PCR must be 8 or 9. content is the
// measured file's bytes for an ima-ng or ima-sig entry (nil for a buffer, whose bytes the entry
// holds, and for the boot_aggregate).
//
// PCR 9 (files): the data is the entry's name with its NUL, as GRUB logs a file's path; the
// digest is the hash of the file's bytes (a buffer's bytes for an ima-buf entry).
// PCR 8 (text): the kexec command line is "kernel_cmdline: " and the line; another buffer is
// "grub_cmd: " NAME " " BUFFER; the boot_aggregate is "grub_cmd: boot_aggregate ALG:HEX"; a file
// (the policy) is "grub_cmd: " and its bytes. The digest is the hash of what follows the prefix.
func GRUBEventOf(e ima.Entry, content []byte) (GRUBEvent, error) {
	if len(e.Fields) < 2 {
		return GRUBEvent{}, errors.New("an IMA entry with fewer than two fields")
	}
	name := e.Fields[1]
	if e.Template == ima.TemplateIMA {
		return GRUBEvent{}, errors.New("the legacy ima template has no GRUB form here")
	}
	isBuf := e.Template == ima.TemplateBuf
	if isBuf && len(e.Fields) < 3 {
		return GRUBEvent{}, errors.New("an ima-buf entry without its buffer")
	}
	bare := strings.TrimSuffix(string(name), "\x00")
	switch e.PCR {
	case GRUBFilesPCR:
		if isBuf {
			return GRUBEvent{Data: bytes.Clone(name), Hashed: e.Fields[2]}, nil
		}
		if content == nil {
			return GRUBEvent{}, fmt.Errorf("%q: a file in GRUB's form needs its bytes", bare)
		}
		return GRUBEvent{Data: bytes.Clone(name), Hashed: content}, nil
	case GRUBTextPCR:
		var prefix string
		var text []byte
		switch {
		case isBuf && bare == CmdlineName:
			prefix, text = GRUBCmdline, e.Fields[2]
		case isBuf:
			prefix, text = GRUBCmd, append([]byte(bare+" "), e.Fields[2]...)
		case bare == ima.BootAggregateName && content == nil:
			alg, sum, err := ima.SplitDigestNG(e.Fields[0])
			if err != nil {
				return GRUBEvent{}, err
			}
			prefix, text = GRUBCmd, []byte(bare+" "+alg+":"+hex.EncodeToString(sum))
		case content != nil:
			prefix, text = textPrefix(bare), content
		default:
			return GRUBEvent{}, fmt.Errorf("%q: a file as text in GRUB's form needs its bytes", bare)
		}
		if len(text) > 0 && text[len(text)-1] == 0 {
			// go-eventlog hashes such a text without its NUL: it would not verify.
			return GRUBEvent{}, fmt.Errorf("%q: a text ending in a NUL has no GRUB form", bare)
		}
		return GRUBEvent{Data: append([]byte(prefix), text...), Hashed: text}, nil
	}
	return GRUBEvent{}, fmt.Errorf("PCR %d has no GRUB form (only PCRs 8 and 9)", e.PCR)
}

// GRUBText returns the text after the prefix of a PCR 8 event in GRUB's form, and false for data
// with no prefix go-eventlog accepts ("grub_cmd: ", "kernel_cmdline: ", "module_cmdline: " and
// GRUB's older "grub_kernel_cmdline " and "grub_cmd ").
func GRUBText(data []byte) ([]byte, bool) {
	for _, p := range []string{GRUBCmd, GRUBCmdline, "module_cmdline: ", "grub_kernel_cmdline ", "grub_cmd "} {
		if t, ok := bytes.CutPrefix(data, []byte(p)); ok {
			return t, true
		}
	}
	return nil, false
}

// CheckGRUBText checks a PCR 8 event in GRUB's form as go-eventlog does: its data has a known
// prefix, and each bank's digest is that bank's hash of the text after it (without a final NUL,
// if the text has one).
func CheckGRUBText(ev eventlog.Event) error {
	text, ok := GRUBText(ev.Data)
	if !ok {
		return fmt.Errorf("its data %q has none of GRUB's prefixes (grub_cmd: , kernel_cmdline: , ...)", clip(ev.Data))
	}
	if n := len(text); n > 0 && text[n-1] == 0 {
		text = text[:n-1]
	}
	if d, sum, bad := firstMismatch(ev.Digests, text); bad {
		return fmt.Errorf("its %v digest %x is not the hash of its text (%x): its text or its digest was changed", d.Alg, d.Sum, sum)
	}
	return nil
}

// firstMismatch returns the first of ds (in a bank this build can hash) that is not its bank's
// hash of b, with that hash, and true; false when every one is.
func firstMismatch(ds []eventlog.Digest, b []byte) (eventlog.Digest, []byte, bool) {
	for _, d := range ds {
		h, ok := d.Alg.Hash()
		if !ok {
			continue
		}
		hh := h.New()
		hh.Write(b)
		if sum := hh.Sum(nil); !bytes.Equal(sum, d.Sum) {
			return d, sum, true
		}
	}
	return eventlog.Digest{}, nil, false
}

// MatchGRUB checks that TCG event ev is IMA entry e in GRUB's form: the same data, and digests
// that agree with the entry. A file's bytes are not in the entry, so a file event's digest is
// checked only in the bank of the entry's file digest (its other banks are the TCG replay's to
// check); a buffer's and a text's digests are checked in every bank.
func MatchGRUB(e ima.Entry, ev eventlog.Event) error {
	if ev.PCR != e.PCR || ev.Type != eventlog.EvIPL {
		return fmt.Errorf("the event is %v in PCR %d, the entry is an EV_IPL measurement in PCR %d", ev.Type, ev.PCR, e.PCR)
	}
	if len(e.Fields) < 2 {
		return errors.New("an IMA entry with fewer than two fields")
	}
	isFile := e.Template != ima.TemplateBuf && !(e.PCR == GRUBTextPCR && string(e.Fields[1]) == ima.BootAggregateName+"\x00")
	var want GRUBEvent
	var err error
	if isFile {
		// The entry holds the file's digest, not its bytes: for PCR 8 the event holds them.
		if e.PCR == GRUBTextPCR {
			prefix := textPrefix(strings.TrimSuffix(string(e.Fields[1]), "\x00"))
			text, ok := bytes.CutPrefix(ev.Data, []byte(prefix))
			if !ok {
				return fmt.Errorf("its data %q does not begin with %q", clip(ev.Data), prefix)
			}
			want = GRUBEvent{Data: ev.Data, Hashed: text}
		} else {
			want.Data = e.Fields[1]
		}
	} else if want, err = GRUBEventOf(e, nil); err != nil {
		return err
	}
	if !bytes.Equal(want.Data, ev.Data) {
		return fmt.Errorf("its data %q is not the entry's %q", clip(ev.Data), clip(want.Data))
	}
	if isFile {
		alg, sum, err := ima.SplitDigestNG(e.Fields[0])
		if err != nil {
			return err
		}
		h, err := ima.HashByName(alg)
		if err != nil {
			return err
		}
		if want.Hashed != nil {
			hh := h.New()
			hh.Write(want.Hashed)
			if got := hh.Sum(nil); !bytes.Equal(got, sum) {
				return fmt.Errorf("its text hashes to %s:%x, the entry records %s:%x", alg, got, alg, sum)
			}
		}
		for _, d := range ev.Digests {
			if dh, ok := d.Alg.Hash(); ok && dh == h && !bytes.Equal(d.Sum, sum) {
				return fmt.Errorf("its %v digest %x is not the entry's file digest %x", d.Alg, d.Sum, sum)
			}
		}
		return nil
	}
	if d, sum, bad := firstMismatch(ev.Digests, want.Hashed); bad {
		return fmt.Errorf("its %v digest %x is not the hash of the entry's bytes (%x)", d.Alg, d.Sum, sum)
	}
	return nil
}

// textPrefix returns the prefix of a measured text named name in PCR 8: the command line's is
// GRUB's "kernel_cmdline: ", every other's "grub_cmd: ".
func textPrefix(name string) string {
	if name == CmdlineName {
		return GRUBCmdline
	}
	return GRUBCmd
}

// IsGRUBLog reports whether l holds a boot recorded in FormatGRUB: its PCR 8 has the measured
// FormatMarker event.
func IsGRUBLog(l *eventlog.Log) bool {
	if l == nil {
		return false
	}
	for _, e := range l.Events {
		if e.PCR == GRUBTextPCR && e.Type == eventlog.EvIPL && bytes.Equal(e.Data, FormatMarker) {
			return true
		}
	}
	return false
}

// GRUBClosed applies FormatGRUB's rule for a complete boot, which has no separators in PCRs 8 and
// 9: the last event in them is the booted entry's kernel_cmdline in PCR 8, measured after its
// files. It returns that last event (false without one), and whether it is the kernel_cmdline. A
// log where it is not was continued after the handover, or ends in a refusal or a recovery.
func GRUBClosed(l *eventlog.Log) (last eventlog.Event, found, closed bool) {
	for _, e := range l.Events {
		if e.PCR == GRUBTextPCR || e.PCR == GRUBFilesPCR {
			last, found = e, true
		}
	}
	closed = found && last.PCR == GRUBTextPCR && last.Type == eventlog.EvIPL && bytes.HasPrefix(last.Data, []byte(GRUBCmdline))
	return last, found, closed
}

// clip shortens b for a message.
func clip(b []byte) string {
	if len(b) > 80 {
		return string(b[:77]) + "..."
	}
	return string(b)
}

// grubDigests returns each bank's digest of ge: the bank's hash of ge.Hashed, except that a bank
// whose hash is known (have, in hash h) reuses it: the file was hashed once for the policy.
// It also returns the number of bytes it hashed.
func grubDigests(banks []eventlog.Alg, ge GRUBEvent, h crypto.Hash, have []byte) ([]eventlog.Digest, int64, error) {
	var out []eventlog.Digest
	var n int64
	for _, alg := range banks {
		ch, ok := alg.Hash()
		if !ok {
			return nil, 0, fmt.Errorf("PCR bank %v has no hash in this build", alg)
		}
		if ch == h && have != nil {
			out = append(out, eventlog.Digest{Alg: alg, Sum: have})
			continue
		}
		hh := ch.New()
		hh.Write(ge.Hashed)
		n += int64(len(ge.Hashed))
		out = append(out, eventlog.Digest{Alg: alg, Sum: hh.Sum(nil)})
	}
	return out, n, nil
}
