package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/measuredboot/measuredboot/pkg/appraise"
	"github.com/measuredboot/measuredboot/pkg/authenticode"
	"github.com/measuredboot/measuredboot/pkg/boot"
	"github.com/measuredboot/measuredboot/pkg/discover"
	"github.com/measuredboot/measuredboot/pkg/eventlog"
	"github.com/measuredboot/measuredboot/pkg/imasig"
	"github.com/measuredboot/measuredboot/pkg/kexec"
	"github.com/measuredboot/measuredboot/pkg/partfs"
	"github.com/measuredboot/measuredboot/pkg/tpm"
)

const predictUsage = `usage: mbctl predict -policy P -kernel K [-initrd I] [-firmware F ...] [-cmdline C]
                     [-entry NAME -source "vda1 grub"] [-eventlog FW | -banks sha256,...] [-root DIR] [-device DEV] [-keys DIR]
                     [-digests F] [-config F] [-payload NEW.efi [-payload-old OLD.efi]] [-all] [-format F] [-o FILE]

Runs measuredboot's boot flow on this host against a software TPM and prints, for every bank, the
values the boot will leave in the PCRs it extends, as tpm2_pcrread prints them. The TPM starts
from zero, or from the values a firmware event log (-eventlog, e.g. a previous boot's
/sys/kernel/security/tpm0/binary_bios_measurements) replays to; the log's banks are the banks.
Names are recorded as the boot records them: each file's path relative to -root, the boot
partition's mount point here, and the entry's name and source (-entry, -source) in the
measuredboot.entry event that opens its events in PCR 8. The policy's fsname=, fsmagic= and fsuuid= conditions see the file
system the boot will: the one on -device (the boot partition, or an image of it: its super block
gives the type the boot mounts it as, its magic and the UUID as Linux sets it), or without
-device the host file system holding -root. The boot's console lines go to standard error; the exit status is 1
when the boot would refuse.

Across a payload update: with -eventlog from a UEFI boot of the current payload and -payload NEW.efi,
the new payload's Authenticode digests take the place of the old one's EV_EFI_BOOT_SERVICES_APPLICATION
event in PCR 4 (-payload-old OLD.efi picks it when the log has several), and PCR 4 is printed
with 8 and 9: seal to them before the new payload is flashed or installed.`

// cmdPredict computes the PCR values a boot of the given files will leave.
func cmdPredict(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("predict", stderr)
	o := addPredictFlags(fs)
	all := fs.Bool("all", false, "also print the PCRs only the firmware extended")
	outFile := fs.String("o", "", "also write the printed values, in order, as raw bytes (tpm2_pcrread -o, tpm2_policypcr -f)")
	format := fs.String("format", "yaml", "how to print the prediction: "+strings.Join(predictionFormats, ", ")+" (append :BANK for one bank, e.g. raw:sha256)")
	fs.Usage = func() { fmt.Fprintln(stderr, predictUsage); fs.PrintDefaults() }
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		fs.Usage()
		return errors.New("predict: unexpected arguments")
	}
	p, err := o.predict(stderr)
	if err != nil {
		return fmt.Errorf("predict: %w", err)
	}
	if *all {
		p.PCRs = nil
		for i := uint32(0); i < eventlog.NumPCRs; i++ {
			for _, b := range p.Banks {
				if _, ok := p.Values[b][i]; ok {
					p.PCRs = append(p.PCRs, i)
					break
				}
			}
		}
	}
	if err := writePrediction(stdout, p, *format); err != nil {
		return fmt.Errorf("predict: %w", err)
	}
	if *outFile != "" {
		var raw bytes.Buffer
		if err := writePrediction(&raw, p, "raw"); err != nil {
			return fmt.Errorf("predict: %w", err)
		}
		return os.WriteFile(*outFile, raw.Bytes(), 0o644)
	}
	return nil
}

// predictOptions are the inputs of a predicted boot, the flags predict and seal share.
type predictOptions struct {
	policy, kernel, initrd, cmdline *string
	firmware                        multi
	entryName, entrySource          *string
	fwlog, banks, root, device      *string
	keys, digests, config           *string
	payload, payloadOld             *string
}

// addPredictFlags registers the flags of a predicted boot on fs.
func addPredictFlags(fs *flag.FlagSet) *predictOptions {
	o := &predictOptions{}
	o.policy = fs.String("policy", "", "the image's IMA policy (configs/policy)")
	o.kernel = fs.String("kernel", "", "the kernel the entry boots")
	o.initrd = fs.String("initrd", "", "the entry's initramfs, if any")
	fs.Var(&o.firmware, "firmware", "an early image before the initramfs (CPU microcode), in order; repeatable")
	o.cmdline = fs.String("cmdline", "", "the entry's kernel command line")
	o.entryName = fs.String("entry", "predicted", "the entry's name (its menu title) as the boot finds it: PCR 8's measuredboot.entry event records it")
	o.entrySource = fs.String("source", "mbctl predict", "the entry's source as the boot prints it (\"vda1 grub\"): PCR 8's measuredboot.entry event records it")
	o.fwlog = fs.String("eventlog", "", "the firmware's TCG event log to start from (binary_bios_measurements, or a tcg.log measuredboot handed over: its own events are left out)")
	o.payload = fs.String("payload", "", "with -eventlog from a UEFI boot of another payload: the payload (an EFI application, e.g. build/payload.efi) the next boot starts; its Authenticode digests replace the old payload's in PCR 4")
	o.payloadOld = fs.String("payload-old", "", "the payload the -eventlog boot started, when the log has several EFI applications in PCR 4: its event is the one replaced")
	o.banks = fs.String("banks", "sha256", "PCR banks when there is no -eventlog: sha1,sha256,sha384,sha512")
	o.root = fs.String("root", "/", "the boot partition's root on this host: names are recorded relative to it")
	o.device = fs.String("device", "", "the boot partition (block device or image) whose file system identity the policy's fs conditions see; default: the file system holding -root")
	o.keys = fs.String("keys", "", "the image's certificate directory, for a policy that appraises")
	o.digests = fs.String("digests", "", "the image's digest list, if any")
	o.config = fs.String("config", "", "the image's settings (key=value lines), if any")
	return o
}

// prediction is what a predicted boot leaves in the TPM.
type prediction struct {
	Banks []eventlog.Alg
	// PCRs are the PCRs the boot extended, in order: the ones a seal defaults to.
	PCRs []uint32
	// Values are the final values of every PCR the firmware log or the boot gave a value, by
	// bank (Value gives the others: zeros).
	Values eventlog.PCRs
	// Extends are the boot's own extends, in order (not the firmware log's).
	Extends []tpm.Extend
}

// Value returns PCR i's predicted value in bank b: zeros if neither the firmware log nor the
// boot extended it.
func (p *prediction) Value(b eventlog.Alg, i uint32) []byte {
	if v, ok := p.Values[b][i]; ok {
		return v
	}
	return make([]byte, b.Size())
}

// predict runs measuredboot's boot flow on this host against a software TPM, the boot's console
// lines going to stderr. An error says why the boot would not kexec.
func (o *predictOptions) predict(stderr io.Writer) (*prediction, error) {
	if *o.policy == "" || *o.kernel == "" {
		return nil, errors.New("-policy and -kernel are required")
	}
	sys := &hostSystem{policy: *o.policy, config: *o.config, digests: *o.digests, keys: *o.keys}
	var start, orig eventlog.PCRs // the values the boot starts from, and the firmware log's own
	var banks []eventlog.Alg
	if *o.fwlog != "" {
		b, err := os.ReadFile(*o.fwlog)
		if err != nil {
			return nil, err
		}
		l, err := eventlog.Parse(b)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", *o.fwlog, err)
		}
		// A log measuredboot handed over holds the firmware's events, then its own from the
		// boot_aggregate on: the firmware's part is the machine's firmware log.
		if k := slices.IndexFunc(l.Events, func(e eventlog.Event) bool {
			return isBootAggregateEvent(e)
		}); k >= 0 {
			fmt.Fprintf(stderr, "predict: %s is a log measuredboot handed over: its %d events from event %d (boot_aggregate) on are left out\n",
				*o.fwlog, len(l.Events)-k, l.Events[k].Index)
			l.Events = l.Events[:k]
			if b, err = l.Marshal(); err != nil {
				return nil, fmt.Errorf("%s: %w", *o.fwlog, err)
			}
		}
		if orig, err = l.Replay(); err != nil {
			return nil, fmt.Errorf("%s: %w", *o.fwlog, err)
		}
		if *o.payload != "" {
			if b, err = replacePayload(l, *o.payload, *o.payloadOld); err != nil {
				return nil, err
			}
		}
		if start, err = l.Replay(); err != nil {
			return nil, fmt.Errorf("%s: %w", *o.fwlog, err)
		}
		sys.fwlog, banks = b, l.Banks()
	} else if *o.payload != "" {
		return nil, errors.New("-payload needs -eventlog: the log of a UEFI boot of the current payload, whose PCR 4 event it replaces")
	} else {
		for _, n := range strings.Split(*o.banks, ",") {
			a, ok := eventlog.AlgFromName(strings.TrimSpace(n))
			if !ok {
				return nil, fmt.Errorf("-banks: unknown bank %q (want sha1, sha256, sha384 or sha512)", n)
			}
			banks = append(banks, a)
		}
	}
	soft, err := tpm.NewSoft(banks, start)
	if err != nil {
		return nil, err
	}
	sys.tpm = soft
	r, err := filepath.Abs(*o.root)
	if err != nil {
		return nil, err
	}
	var id discover.Identity
	if *o.device != "" {
		if id, err = discover.DeviceIdentity(*o.device); err != nil {
			return nil, fmt.Errorf("-device: %w", err)
		}
	} else if id, err = discover.HostIdentity(r); err != nil {
		return nil, fmt.Errorf("%w; pass -device with the boot partition (or an image of it) so the policy's fsname=, fsmagic= and fsuuid= see what the boot will", err)
	}
	fsys := discover.FS{Type: id.Type, Magic: id.Magic, UUID: id.UUID, Mount: r}
	if *o.device != "" {
		fsys.Device = filepath.Base(*o.device)
	}
	e := discover.Entry{Name: *o.entryName, Source: *o.entrySource, Cmdline: *o.cmdline, FS: fsys}
	if e.Kernel, err = filepath.Abs(*o.kernel); err != nil {
		return nil, err
	}
	for _, p := range append(o.firmware, *o.initrd) {
		if p == "" {
			continue
		}
		a, err := filepath.Abs(p)
		if err != nil {
			return nil, err
		}
		e.Initrds = append(e.Initrds, a)
	}
	sys.entry = e

	if err := boot.Run(context.Background(), stderr, sys); err != nil {
		return nil, fmt.Errorf("the boot would not kexec: %w", err)
	}
	if !sys.loaded {
		return nil, errors.New("the boot flow ended without loading a kernel")
	}
	p := &prediction{Banks: banks, Values: soft.Values(), Extends: soft.Extends()}
	// The PCRs the boot extended, and PCR 4 when a new payload changes it: those whose value
	// differs from the firmware log's.
	if orig == nil {
		orig = start
	}
	for i := uint32(0); i < eventlog.NumPCRs; i++ {
		for _, b := range banks {
			if v, ok := p.Values[b][i]; ok && !slices.Equal(v, orig[b][i]) {
				p.PCRs = append(p.PCRs, i)
				break
			}
		}
	}
	return p, nil
}

// hostSystem is the boot flow's machine on a host: files from this file system, a software TPM,
// and a kexec that records instead of booting.
type hostSystem struct {
	policy, config, digests, keys string
	fwlog                         []byte
	tpm                           *tpm.Soft
	entry                         discover.Entry
	loaded                        bool
	onLoad                        func(kernel, initrd *kexec.Buffer, cmdline string) // for tests
}

func (s *hostSystem) LoadModules() (int, error) { return 0, nil }

func (s *hostSystem) ReadConfig(path string) ([]byte, error) {
	file := map[string]string{boot.PolicyPath: s.policy, boot.ConfigPath: s.config, boot.DigestsPath: s.digests}[path]
	if file == "" {
		if path == boot.ConfigPath {
			return nil, nil // no settings: the defaults
		}
		return nil, os.ErrNotExist
	}
	return os.ReadFile(file)
}

func (s *hostSystem) OpenTPM() (boot.TPM, error) { return s.tpm, nil }

func (s *hostSystem) FirmwareLog() ([]byte, error) {
	if s.fwlog == nil {
		return nil, errors.New("none given (-eventlog)")
	}
	return s.fwlog, nil
}

func (s *hostSystem) Entries(context.Context, discover.Options) ([]discover.Entry, []discover.Probe) {
	return []discover.Entry{s.entry}, nil
}

func (s *hostSystem) ReadFile(path string) (*kexec.Buffer, error) { return kexec.ReadFile(path) }

func (s *hostSystem) ReadFiles(name string, paths []string) (*kexec.Buffer, []kexec.Part, error) {
	return kexec.ReadFiles(name, paths)
}

func (s *hostSystem) Evidence(path string) (appraise.Evidence, error) {
	return appraise.ReadEvidence(path)
}

func (s *hostSystem) Keys() ([]imasig.Key, error) {
	if s.keys == "" {
		return nil, nil
	}
	return imasig.LoadKeys(s.keys)
}

func (s *hostSystem) KexecLoad(k, i *kexec.Buffer, cmdline string) error {
	s.loaded = true
	if s.onLoad != nil {
		s.onLoad(k, i, cmdline)
	}
	return nil
}

func (s *hostSystem) KexecReboot() error           { return nil }
func (s *hostSystem) KernelIMA() ([]string, error) { return nil, nil }
func (s *hostSystem) EnableKernelIMA() error       { return nil }

// WalkFiles lists the regular files under dir, on the partition mounted at root, without
// following links (partfs.WalkDir).
func (s *hostSystem) WalkFiles(root, dir string, max int) ([]string, []partfs.Skipped, error) {
	return partfs.WalkDir([]string{root}, dir, max)
}

// replacePayload puts the Authenticode digests of the EFI application at path, in every bank of
// l, in place of the digests of the one the logged boot started: the only
// EV_EFI_BOOT_SERVICES_APPLICATION event in PCR 4, or, with old, the one whose digests are old's.
// It returns l marshalled again (the firmware log the next boot will hand over).
func replacePayload(l *eventlog.Log, path, old string) ([]byte, error) {
	digests := func(path string) (map[eventlog.Alg][]byte, error) {
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, err
		}
		out := map[eventlog.Alg][]byte{}
		for _, a := range l.Banks() {
			h, ok := a.Hash()
			if !ok {
				return nil, fmt.Errorf("-payload: no hash for the log's %v bank in this build", a)
			}
			if out[a], err = authenticode.Digest(b, h); err != nil {
				return nil, fmt.Errorf("%s: %w", path, err)
			}
		}
		return out, nil
	}
	next, err := digests(path)
	if err != nil {
		return nil, err
	}
	var oldDigests map[eventlog.Alg][]byte
	if old != "" {
		if oldDigests, err = digests(old); err != nil {
			return nil, err
		}
	}
	var apps []int
	for i, e := range l.Events {
		if e.PCR != 4 || e.Type != eventlog.EvEFIBootServicesApplication {
			continue
		}
		if oldDigests != nil {
			a := l.Banks()[0]
			if !bytes.Equal(e.Digest(a), oldDigests[a]) {
				continue
			}
		}
		apps = append(apps, i)
	}
	switch {
	case len(apps) == 0 && old != "":
		return nil, fmt.Errorf("-payload-old %s: no EV_EFI_BOOT_SERVICES_APPLICATION event in PCR 4 has its Authenticode digest: the log is not of a boot of it", old)
	case len(apps) == 0:
		return nil, errors.New("-payload: the firmware log has no EV_EFI_BOOT_SERVICES_APPLICATION event in PCR 4: it is not the log of a UEFI boot of a payload")
	case len(apps) > 1:
		var idx []string
		for _, i := range apps {
			idx = append(idx, strconv.Itoa(l.Events[i].Index))
		}
		return nil, fmt.Errorf("-payload: the firmware log has %d EFI applications in PCR 4 (events %s): name the payload that boot started with -payload-old", len(apps), strings.Join(idx, ", "))
	}
	e := &l.Events[apps[0]]
	for i := range e.Digests {
		e.Digests[i].Sum = next[e.Digests[i].Alg]
	}
	return l.Marshal()
}
