package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/u-root/mkuimage/cpio"

	"github.com/measuredboot/measuredboot/initramfs"
)

func cmdBuild(args []string, stderr io.Writer) error {
	fs := newFlags("build", stderr)
	var o initramfs.Options
	var modList string
	var cfg multi
	fs.StringVar(&o.Policy, "policy", "configs/policy", "IMA policy to build in")
	fs.StringVar(&o.Keys, "keys", "", "directory of X.509 certificates to build in")
	fs.StringVar(&o.Digests, "digests", "", "digest list to build in (ALGORITHM:HEX PATH lines)")
	fs.StringVar(&o.ModulesDir, "modules-dir", "", "the boot kernel's /lib/modules/<version>")
	fs.StringVar(&modList, "modules", "", "file listing the kernel modules to ship")
	fs.Var(&cfg, "config", "key=value for the image's config (repeatable)")
	fs.BoolVar(&o.NoBootProgram, "no-boot-program", false, "leave measuredboot out (a size baseline)")
	fs.Var((*multi)(&o.Extra), "extra-cmd", "benchmarks and tests only: the import path of one more command for the busybox (repeatable), e.g. github.com/measuredboot/measuredboot/cmds/unseal")
	fs.BoolVar(&o.BLSOnly, "bls-only", false, "read BLS entries only: leave u-root's GRUB and syslinux parsers (and the net/http they link) out")
	fs.StringVar(&o.Uinit, "uinit", "", "benchmarks only: the import path of the program init starts instead of measuredboot")
	fs.StringVar(&o.Output, "o", "", "output image (.cpio.xz)")
	fs.StringVar(&o.CacheDir, "cache", "", "where base images (the compiled busybox and modules) are kept; default: the user's cache directory")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if o.Output == "" {
		return errors.New("build: -o is required")
	}
	if modList != "" {
		m, err := initramfs.ReadList(modList)
		if err != nil {
			return err
		}
		o.Modules = m
	}
	o.Config = cfg
	o.Progress = stderr
	t0 := time.Now()
	if err := initramfs.Build(o); err != nil {
		return err
	}
	fmt.Fprintf(stderr, "build: %s written in %.1fs\n", o.Output, time.Since(t0).Seconds())
	return nil
}

// cmdTarget builds the demo target: cmds/target as /init of a small uncompressed initramfs.
func cmdTarget(args []string, stderr io.Writer) error {
	fs := newFlags("target", stderr)
	out := fs.String("o", "", "output initramfs (.cpio)")
	modDir := fs.String("modules-dir", "", "the target kernel's /lib/modules/VERSION, for -modules")
	mods := fs.String("modules", "", "kernel modules the target loads before unsealing (comma-separated, e.g. virtio_pci,virtio_blk; dependencies are added)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var modFiles []string
	if *mods != "" {
		if *modDir == "" {
			return errors.New("target: -modules needs -modules-dir")
		}
		var err error
		if modFiles, err = initramfs.ResolveModules(*modDir, strings.Split(*mods, ",")); err != nil {
			return fmt.Errorf("target: %w", err)
		}
	}
	if *out == "" {
		return errors.New("target: -o is required")
	}
	dir, err := os.MkdirTemp("", "mbctl-target")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	bin := filepath.Join(dir, "init")
	settings, err := initramfs.GoSettings()
	if err != nil {
		return err
	}
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w -buildid=", "-o", bin, "github.com/measuredboot/measuredboot/cmds/target")
	cmd.Env = initramfs.GoEnv(os.Environ(), settings)
	cmd.Stdout, cmd.Stderr = stderr, stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go build cmds/target: %w", err)
	}
	data, err := os.ReadFile(bin)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	w := cpio.Newc.Writer(&buf)
	recs := []cpio.Record{
		cpio.Directory("dev", 0o755), cpio.Directory("proc", 0o755), cpio.Directory("sys", 0o755),
		cpio.CharDev("dev/console", 0o600, 5, 1),
		cpio.StaticFile("init", string(data), 0o755),
	}
	// The modules, flat under modules/, and their load order (dependencies first) in
	// modules/order, as pkg/kmod.LoadList reads it.
	if len(modFiles) > 0 {
		recs = append(recs, cpio.Directory("modules", 0o755))
		var order strings.Builder
		for _, m := range modFiles {
			b, err := os.ReadFile(filepath.Join(*modDir, m))
			if err != nil {
				return fmt.Errorf("target: %w", err)
			}
			name := "modules/" + filepath.Base(m)
			recs = append(recs, cpio.StaticFile(name, string(b), 0o644))
			order.WriteString("/" + name + "\n")
		}
		recs = append(recs, cpio.StaticFile("modules/order", order.String(), 0o644))
	}
	for _, r := range recs {
		if err := w.WriteRecord(cpio.MakeReproducible(r)); err != nil {
			return err
		}
	}
	if err := cpio.WriteTrailer(w); err != nil {
		return err
	}
	return os.WriteFile(*out, buf.Bytes(), 0o644)
}

// cmdPolicyCheck prints each rule with its meaning here and every problem; any error finding
// makes the exit status 1.
func cmdPolicyCheck(path string, stdout io.Writer) error {
	p, findings, err := initramfs.CheckPolicy(path)
	if p == nil {
		return err
	}
	for _, f := range findings {
		where := path
		if f.Line > 0 {
			where = fmt.Sprintf("%s:%d", path, f.Line)
		}
		fmt.Fprintf(stdout, "%s: %s: %s\n", where, f.Severity, f.Msg)
	}
	if err != nil {
		fmt.Fprintf(stdout, "%s: policy has errors; it would not be built into an image\n", path)
		return exitError{"policy has errors"}
	}
	fmt.Fprintf(stdout, "%s: %d rules, OK\n", path, len(p.Rules))
	return nil
}
