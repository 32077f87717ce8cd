package main

import (
	"crypto"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/measuredboot/measuredboot/pkg/eventlog"
	"github.com/measuredboot/measuredboot/pkg/ima"
	"github.com/measuredboot/measuredboot/pkg/kexec"
	"github.com/measuredboot/measuredboot/pkg/measure"
	"github.com/measuredboot/measuredboot/pkg/policy"
)

// nopTPM accepts extends without doing anything: the benchmark times the boot program's own work.
type nopTPM struct{}

func (nopTPM) Extend(uint32, []eventlog.Digest) error { return nil }

// cmdHashBench times what the boot program does to one file: read it once into a memfd, hash it,
// and compute the template digest for every bank. It prints the seconds taken, for scripts/bench.sh.
func cmdHashBench(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("hashbench", stderr)
	banks := fs.String("banks", "sha1,sha256,sha384,sha512", "PCR banks to compute template digests for")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return errors.New("usage: mbctl hashbench [-banks sha1,sha256] FILE")
	}
	var algs []eventlog.Alg
	for _, n := range strings.Split(*banks, ",") {
		a, ok := eventlog.AlgFromName(n)
		if !ok {
			return fmt.Errorf("unknown bank %q", n)
		}
		algs = append(algs, a)
	}
	log, err := eventlog.New(algs)
	if err != nil {
		return err
	}
	pol, err := policy.Parse("bench", []byte("measure func=KEXEC_KERNEL_CHECK pcr=9\n"))
	if err != nil {
		return err
	}
	start := time.Now()
	b, err := kexec.ReadFile(fs.Arg(0))
	if err != nil {
		return err
	}
	defer b.Close()
	m := &measure.Measurer{Policy: pol, TPM: nopTPM{}, FileHash: crypto.SHA256, Log: log}
	obj := measure.Object{Object: policy.Object{Func: policy.KexecKernelCheck, Mask: policy.MayRead, HasFile: true}, Name: "/bench", Data: b.Bytes()}
	if _, err := m.Measure(obj); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%.6f\n", time.Since(start).Seconds())
	return nil
}

// cmdBenchLog writes a large boot log for scripts/bench.sh to verify: firmware events in PCRs 0-7
// and N ima-ng measurements in PCR 9, each an EV_IPL event of a 4-bank TCG log (DIR/tcg.log) and
// an entry of the SHA-256 IMA list (DIR/ima), and the PCR values they replay to (DIR/pcrs, as
// "sha256:9=HEX" lines). The values are the log's own replay: this is input for timing, not a
// test of the verifier.
func cmdBenchLog(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("benchlog", stderr)
	n := fs.Int("events", 30000, "measurements in PCR 9")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 || *n < 1 || *n > 1<<20 {
		return errors.New("usage: mbctl benchlog [-events N (1-1048576)] DIR")
	}
	dir := fs.Arg(0)
	banks := []eventlog.Alg{eventlog.AlgSHA1, eventlog.AlgSHA256, eventlog.AlgSHA384, eventlog.AlgSHA512}
	l, err := eventlog.New(banks)
	if err != nil {
		return err
	}
	for pcr := uint32(0); pcr < 8; pcr++ {
		typ, data := eventlog.EvSeparator, []byte{0, 0, 0, 0}
		if pcr == 0 {
			typ, data = eventlog.EvSCRTMVersion, []byte("SeaBIOS")
		}
		if _, err := l.Append(pcr, typ, data); err != nil {
			return err
		}
	}
	var list []byte
	for i := 0; i < *n; i++ {
		e, err := ima.NewNG(9, crypto.SHA256, make([]byte, 32), fmt.Sprintf("/usr/lib/modules/6.1.0/kernel/drivers/file-%06d.ko", i))
		if err != nil {
			return err
		}
		if _, err := l.Append(9, eventlog.EvIPL, e.TemplateData()); err != nil {
			return err
		}
		if list, err = e.AppendBinary(list, crypto.SHA256); err != nil {
			return err
		}
	}
	tcg, err := l.Marshal()
	if err != nil {
		return err
	}
	replay, err := l.Replay()
	if err != nil {
		return err
	}
	var pcrs strings.Builder
	for _, a := range banks {
		for p := uint32(0); p < eventlog.NumPCRs; p++ {
			if v, ok := replay[a][p]; ok {
				fmt.Fprintf(&pcrs, "%v:%d=%x\n", a, p, v)
			}
		}
	}
	for name, b := range map[string][]byte{"tcg.log": tcg, "ima": list, "pcrs": []byte(pcrs.String())} {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			return err
		}
	}
	fmt.Fprintf(stdout, "%d\n", len(tcg))
	return nil
}
