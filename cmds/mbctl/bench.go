package main

import (
	"crypto"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/measuredboot/measuredboot/pkg/eventlog"
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
