// Package initramfs assembles the measuredboot image on the host with u-root's image builder:
// u-root's init, the measuredboot boot program as uinit, a recovery shell and a few core commands
// in one busybox binary, plus the kernel modules, the policy, the keys and the image's config. It
// validates the policy first and compresses the result with xz as the kernel expects. Host only.
package initramfs

import (
	"bufio"
	"bytes"
	"crypto"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/u-root/gobusybox/src/pkg/golang"
	"github.com/u-root/mkuimage/uimage"
	"github.com/u-root/uio/llog"

	"github.com/measuredboot/measuredboot/pkg/appraise"
	"github.com/measuredboot/measuredboot/pkg/imasig"
	"github.com/measuredboot/measuredboot/pkg/policy"
)

// Commands are the Go commands in the image's busybox, besides measuredboot.
var Commands = []string{
	"github.com/u-root/u-root/cmds/core/init",
	"github.com/u-root/u-root/cmds/core/gosh",
	"github.com/u-root/u-root/cmds/core/ls",
	"github.com/u-root/u-root/cmds/core/cat",
	"github.com/u-root/u-root/cmds/core/dmesg",
	"github.com/u-root/u-root/cmds/core/mount",
	"github.com/u-root/u-root/cmds/core/shutdown",
}

// BootProgram is the import path of the boot program.
const BootProgram = "github.com/measuredboot/measuredboot/cmds/measuredboot"

// Options say what goes into an image.
type Options struct {
	Policy        string   // policy file (required)
	Keys          string   // directory of X.509 certificates, may be ""
	Digests       string   // digest list file ("ALGORITHM:HEX PATH" lines), may be ""
	ModulesDir    string   // /lib/modules/<version> of the boot kernel
	Modules       []string // module names to ship, their dependencies are added
	Config        []string // key=value lines for /etc/measuredboot/config
	Output        string   // the .cpio.xz to write
	NoBootProgram bool     // build the same image without measuredboot (a size baseline)
	// Uinit is the import path of the program init starts instead of measuredboot: the
	// benchmark's u-root boot baseline (bench/urootboot). Never for a product image.
	Uinit string
	// Extra are import paths of more commands for the busybox: u-root's boot command in the
	// benchmark's "what measuredboot replaces" image. Never for a product image.
	Extra []string
	// BLSOnly builds discovery with u-root's BLS parser alone (the measuredboot_blsonly tag):
	// for machines whose boot entries are BLS files; the GRUB and syslinux parsers, which link
	// net/http and a TFTP client through u-root's pkg/curl, stay out of the image.
	BLSOnly bool
}

// BuildTags are the Go build tags of every image: nethttpomithttp2 leaves HTTP/2 out of net/http,
// which u-root's GRUB and syslinux parsers link (through pkg/curl) although a local boot never
// uses the network.
var BuildTags = []string{"nethttpomithttp2"}

// ReadList reads a list file: one item per line, '#' comments and blank lines ignored.
func ReadList(path string) ([]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var out []string
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		l, _, _ := strings.Cut(sc.Text(), "#")
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out, nil
}

// CheckPolicy parses the policy and runs its checks; it fails on any error finding.
func CheckPolicy(path string) (*policy.Policy, []policy.Finding, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, err
	}
	p, err := policy.Parse(path, src)
	if err != nil {
		return nil, nil, err
	}
	fs := policy.Check(p)
	var errs []error
	for _, f := range fs {
		if f.Severity == policy.Error {
			errs = append(errs, fmt.Errorf("%s:%d: %s", path, f.Line, f.Msg))
		}
	}
	return p, fs, errors.Join(errs...)
}

// ResolveModules returns, for the named modules, the paths (relative to dir) of their .ko files
// and all their dependencies from dir/modules.dep, each dependency before its users. A module
// that modules.builtin lists is skipped.
func ResolveModules(dir string, names []string) ([]string, error) {
	dep, err := os.ReadFile(filepath.Join(dir, "modules.dep"))
	if err != nil {
		return nil, err
	}
	builtin, _ := os.ReadFile(filepath.Join(dir, "modules.builtin"))
	norm := func(s string) string { return strings.ReplaceAll(s, "-", "_") }
	modName := func(p string) string {
		b := filepath.Base(p)
		b = b[:strings.Index(b, ".ko")]
		return norm(b)
	}
	deps := map[string][]string{}
	paths := map[string]string{}
	for _, l := range strings.Split(string(dep), "\n") {
		k, v, ok := strings.Cut(l, ":")
		if !ok {
			continue
		}
		paths[modName(k)] = k
		deps[k] = strings.Fields(v)
	}
	isBuiltin := map[string]bool{}
	for _, l := range strings.Split(string(builtin), "\n") {
		if l != "" && strings.Contains(l, ".ko") {
			isBuiltin[modName(l)] = true
		}
	}
	var out []string
	seen := map[string]bool{}
	var visit func(p string)
	visit = func(p string) {
		if seen[p] {
			return
		}
		seen[p] = true
		for _, d := range deps[p] {
			visit(d)
		}
		out = append(out, p)
	}
	for _, n := range names {
		if isBuiltin[norm(n)] {
			continue
		}
		p, ok := paths[norm(n)]
		if !ok {
			return nil, fmt.Errorf("module %q is neither in %s/modules.dep nor built in", n, dir)
		}
		visit(p)
	}
	return out, nil
}

// Build writes the image described by o.
func Build(o Options) error {
	// u-root's builder copies a symlink as a symlink: resolve the files that go in by path.
	for _, p := range []*string{&o.Policy, &o.Keys, &o.Digests} {
		if *p != "" {
			r, err := filepath.EvalSymlinks(*p)
			if err != nil {
				return err
			}
			*p = r
		}
	}
	pol, _, err := CheckPolicy(o.Policy)
	if err != nil {
		return fmt.Errorf("policy %s: %w", o.Policy, err)
	}
	var keys []imasig.Key
	if o.Keys != "" {
		if keys, err = imasig.LoadKeys(o.Keys); err != nil {
			return fmt.Errorf("keys: %w", err)
		}
	}
	if o.Digests != "" {
		b, err := os.ReadFile(o.Digests)
		if err != nil {
			return err
		}
		if _, err := appraise.ParseDigestList(o.Digests, b); err != nil {
			return err
		}
	}
	// A policy that appraises itself must carry a signature that the built-in keys accept: check
	// it now rather than refuse every boot.
	psig, err := os.ReadFile(o.Policy + ".sig")
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	if d := pol.Evaluate(policy.Object{Func: policy.PolicyCheck, Mask: policy.MayRead, HasFile: true}); d.Appraise {
		src, _ := os.ReadFile(o.Policy)
		h := appraise.Hash(appraise.Evidence{SigFile: psig}, crypto.SHA256)
		hh := h.New()
		hh.Write(src)
		a := appraise.Appraiser{Keys: keys}
		if err := a.Appraise(d, policy.PolicyCheck, o.Policy, h, hh.Sum(nil), appraise.Evidence{SigFile: psig}); err != nil {
			return fmt.Errorf("the policy appraises itself, but: %w", err)
		}
	}
	stage, err := os.MkdirTemp("", "measuredboot-stage")
	if err != nil {
		return err
	}
	defer os.RemoveAll(stage)
	files := []string{o.Policy + ":etc/measuredboot/policy"}
	if psig != nil {
		files = append(files, o.Policy+".sig:etc/measuredboot/policy.sig")
	}
	if o.Digests != "" {
		files = append(files, o.Digests+":etc/measuredboot/digests")
	}
	add := func(name string, data []byte) error {
		p := filepath.Join(stage, strings.ReplaceAll(name, "/", "_"))
		if err := os.WriteFile(p, data, 0o644); err != nil {
			return err
		}
		files = append(files, p+":"+name)
		return nil
	}
	if err := add("etc/measuredboot/config", []byte(strings.Join(o.Config, "\n")+"\n")); err != nil {
		return err
	}
	if o.ModulesDir != "" && len(o.Modules) > 0 {
		mods, err := ResolveModules(o.ModulesDir, o.Modules)
		if err != nil {
			return err
		}
		dst := filepath.Join("lib/modules", filepath.Base(o.ModulesDir))
		var list []string
		for _, m := range mods {
			files = append(files, filepath.Join(o.ModulesDir, m)+":"+filepath.Join(dst, m))
			list = append(list, "/"+filepath.Join(dst, m))
		}
		if err := add("etc/measuredboot/modules", []byte(strings.Join(list, "\n")+"\n")); err != nil {
			return err
		}
	}
	if o.Keys != "" {
		// The certificates are parsed here, not at boot: the image carries their keys as a
		// list, and the boot program links no X.509 parser.
		named := make([]imasig.Key, len(keys))
		for i, k := range keys {
			named[i] = k
			named[i].Source = filepath.Base(k.Source)
		}
		list, err := imasig.MarshalKeyList(named)
		if err != nil {
			return fmt.Errorf("keys: %w", err)
		}
		if err := add("etc/measuredboot/keys.list", list); err != nil {
			return err
		}
	}
	goroot, err := exec.Command("go", "env", "GOROOT").Output()
	if err != nil {
		return fmt.Errorf("go env GOROOT: %w (is Go installed and on PATH?)", err)
	}
	cmds := append(append([]string{}, Commands...), o.Extra...)
	tags := BuildTags
	if o.BLSOnly {
		tags = append(slices.Clone(BuildTags), "measuredboot_blsonly")
	}
	mods := []uimage.Modifier{
		uimage.WithTempDir(stage),
		uimage.WithEnv(golang.DisableCGO(), golang.WithGOARCH("amd64"), golang.WithGOOS("linux"),
			golang.WithGOROOT(strings.TrimSpace(string(goroot))), golang.WithBuildTag(tags...)),
		uimage.WithInit("init"),
		uimage.WithShell("gosh"),
		uimage.WithSkipLDD(),
		uimage.WithFiles(files...),
		uimage.WithCPIOOutput(filepath.Join(stage, "image.cpio")),
	}
	switch {
	case o.Uinit != "":
		cmds = append(cmds, o.Uinit)
		mods = append(mods, uimage.WithUinit(path.Base(o.Uinit)))
	case !o.NoBootProgram:
		cmds = append(cmds, BootProgram)
		mods = append(mods, uimage.WithUinit("measuredboot"))
	}
	mods = append(mods, uimage.WithBusyboxCommands(cmds...))
	l := llog.New(slog.LevelWarn, func(format string, a ...any) { fmt.Fprintf(os.Stderr, format+"\n", a...) })
	if err := uimage.Create(l, mods...); err != nil {
		return fmt.Errorf("u-root image: %w", err)
	}
	return compress(filepath.Join(stage, "image.cpio"), o.Output)
}

// compress writes in as xz with the CRC32 check the kernel's decompressor needs, single-threaded
// so that the output is the same on every run.
func compress(in, out string) error {
	f, err := os.Create(out + ".tmp")
	if err != nil {
		return err
	}
	defer f.Close()
	cmd := exec.Command("xz", "--check=crc32", "--lzma2=dict=1MiB", "-9", "-T1", "-c", in)
	cmd.Stdout, cmd.Stderr = f, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("xz: %w (is xz-utils installed?)", err)
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(out+".tmp", out)
}
