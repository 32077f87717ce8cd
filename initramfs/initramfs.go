// Package initramfs assembles the measuredboot image on the host with u-root's image builder:
// u-root's init, the measuredboot boot program as uinit and a few core commands in one busybox
// binary (and the recovery shell, only if the image's config says on_refuse=shell), plus the
// kernel modules, the policy, the keys and the image's config. It first runs the boot's own checks
// on every file it builds in (Check), builds with a pinned Go environment (GoEnv) and compresses
// the result with xz as the kernel expects. Host only.
package initramfs

import (
	"bufio"
	"bytes"
	"crypto"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/u-root/gobusybox/src/pkg/golang"
	"github.com/u-root/mkuimage/cpio"
	"github.com/u-root/mkuimage/uimage"
	"github.com/u-root/uio/llog"

	"github.com/measuredboot/measuredboot/pkg/appraise"
	"github.com/measuredboot/measuredboot/pkg/boot"
	"github.com/measuredboot/measuredboot/pkg/imasig"
	"github.com/measuredboot/measuredboot/pkg/policy"
)

// Commands are the Go commands in the image's busybox, besides measuredboot and, in an image
// whose config says on_refuse=shell, the recovery shell (ShellCommand). None of them can be run
// without a shell.
var Commands = []string{
	"github.com/u-root/u-root/cmds/core/init",
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
	// CacheDir holds the base images (Base); "" means the user's cache directory.
	CacheDir string
	// Progress, if not nil, gets one line per step of a long build.
	Progress io.Writer
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
	return checkPolicy(path, src)
}

// checkPolicy is CheckPolicy of src, read from path.
func checkPolicy(path string, src []byte) (*policy.Policy, []policy.Finding, error) {
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

// Contents are the files an image is built with, each exactly as the boot reads it and already
// checked by the boot's own parser: what Check returns and Build writes.
type Contents struct {
	Policy    []byte // /etc/measuredboot/policy
	PolicySig []byte // /etc/measuredboot/policy.sig, nil for none
	Config    []byte // /etc/measuredboot/config
	KeyList   []byte // /etc/measuredboot/keys.list, nil without -keys
	Digests   []byte // /etc/measuredboot/digests, nil without -digests
	// Warnings are policy.Check's warnings about the policy ("file:line: message"), for the
	// builder to print: the boot prints some of them again (resettable PCRs).
	Warnings []string
	// Shell says whether the config sets on_refuse=shell: only then does the image carry a shell.
	Shell bool
}

// Check reads everything o builds into an image and runs on it the checks the boot runs on the
// same bytes, so that the build refuses what would make every boot refuse: the config through
// boot.CheckConfig, the policy through policy.Parse and policy.Check, both together through
// boot.CheckImage, the key list (made from the
// certificates) through imasig.ParseKeyList, the digest list through appraise.ParseDigestList, and a
// policy that appraises itself through the appraiser with those keys.
func Check(o Options) (*Contents, error) {
	var c Contents
	var err error
	c.Config = []byte(strings.Join(o.Config, "\n") + "\n")
	if c.Shell, err = boot.ConfigAllowsShell(c.Config); err != nil {
		return nil, fmt.Errorf("-config: the boot would refuse this config: %w", err)
	}
	if c.Policy, err = os.ReadFile(o.Policy); err != nil {
		return nil, fmt.Errorf("policy: %w", err)
	}
	pol, findings, err := checkPolicy(o.Policy, c.Policy)
	if err != nil {
		return nil, fmt.Errorf("policy %s: %w", o.Policy, err)
	}
	for _, f := range findings {
		if f.Severity == policy.Warning {
			c.Warnings = append(c.Warnings, fmt.Sprintf("%s:%d: %s", o.Policy, f.Line, f.Msg))
		}
	}
	if err := boot.CheckImage(c.Config, pol); err != nil {
		return nil, fmt.Errorf("-config with policy %s: the boot would refuse this image: %w", o.Policy, err)
	}
	var keys []imasig.Key
	if o.Keys != "" {
		certs, err := imasig.LoadKeys(o.Keys)
		if err != nil {
			return nil, fmt.Errorf("keys: %w", err)
		}
		// The certificates are parsed here, not at boot: the image carries their keys as a
		// list, and the boot program links no X.509 parser. The boot parses that list, so the
		// build does too, and uses what it parsed.
		for i := range certs {
			certs[i].Source = filepath.Base(certs[i].Source)
		}
		if c.KeyList, err = imasig.MarshalKeyList(certs); err != nil {
			return nil, fmt.Errorf("keys: %w", err)
		}
		if keys, err = imasig.ParseKeyList(boot.KeyListPath, c.KeyList); err != nil {
			return nil, fmt.Errorf("keys in %s: the boot would refuse the key list made from them: %w", o.Keys, err)
		}
	}
	if o.Digests != "" {
		if c.Digests, err = os.ReadFile(o.Digests); err != nil {
			return nil, fmt.Errorf("digests: %w", err)
		}
		if _, err := appraise.ParseDigestList(o.Digests, c.Digests); err != nil {
			return nil, fmt.Errorf("digests: the boot would refuse this list: %w", err)
		}
	}
	// A policy that appraises itself must carry a signature that the built-in keys accept: check
	// it now rather than refuse every boot.
	if c.PolicySig, err = os.ReadFile(o.Policy + ".sig"); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	if d := pol.Evaluate(policy.Object{Func: policy.PolicyCheck, Mask: policy.MayRead, HasFile: true}); d.Appraise {
		ev := appraise.Evidence{SigFile: c.PolicySig}
		h := appraise.Hash(ev, crypto.SHA256)
		hh := h.New()
		hh.Write(c.Policy)
		a := appraise.Appraiser{Keys: keys}
		if err := a.Appraise(d, policy.PolicyCheck, o.Policy, h, hh.Sum(nil), ev); err != nil {
			return nil, fmt.Errorf("the policy appraises itself, but: %w", err)
		}
	}
	return &c, nil
}

// ShellCommand is the import path of the recovery shell, the busybox command gosh: the boot
// program (cmds/measuredboot) starts it itself after a measured recovery event, and only an image
// whose config says on_refuse=shell has it.
const ShellCommand = "github.com/u-root/u-root/cmds/core/gosh"

// Build writes the image described by o: a base image (u-root's init, the busybox of commands
// and the kernel modules), compiled once per source tree and kept in the cache (Base), followed by
// a small archive of the image's data (policy, signature, settings, key list, digest list), each
// part its own xz stream. The kernel unpacks both in order; a changed policy costs no compile.
// The image has no /bin/sh: u-root's init starts /bin/defaultsh or /bin/sh whenever its uinit
// ends, however it ends; the boot program starts the recovery shell itself, and only an image
// whose config says on_refuse=shell has one.
func Build(o Options) error {
	// u-root's builder copied a symlink as a symlink: resolve the files that go in by path.
	for _, p := range []*string{&o.Policy, &o.Keys, &o.Digests} {
		if *p != "" {
			r, err := filepath.EvalSymlinks(*p)
			if err != nil {
				return err
			}
			*p = r
		}
	}
	c, err := Check(o)
	if err != nil {
		return err
	}
	if o.Progress != nil {
		for _, w := range c.Warnings {
			fmt.Fprintf(o.Progress, "build: warning: %s\n", w)
		}
	}
	base, err := Base(o, c.Shell)
	if err != nil {
		return err
	}
	data, err := DataArchive(c)
	if err != nil {
		return err
	}
	dataXZ, err := xzBytes(data)
	if err != nil {
		return err
	}
	b, err := os.ReadFile(base)
	if err != nil {
		return err
	}
	if len(b)%4 != 0 {
		return fmt.Errorf("%s: %d bytes, not a whole xz stream (a multiple of 4): remove it to rebuild", base, len(b))
	}
	tmp := o.Output + ".tmp"
	if err := os.WriteFile(tmp, append(b, dataXZ...), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, o.Output)
}

// DataArchive returns the newc cpio archive of an image's data under etc/measuredboot/, in a
// fixed order with zero timestamps and root ownership, closed by a trailer. It also holds
// /dev/console: a kernel with the image built in (a LinuxBoot payload) has no default initramfs
// to provide it, and without it init starts with no console and dies.
func DataArchive(c *Contents) ([]byte, error) {
	var buf bytes.Buffer
	w := cpio.Newc.Writer(&buf)
	recs := []cpio.Record{cpio.Directory("dev", 0o755), cpio.CharDev("dev/console", 0o600, 5, 1),
		cpio.Directory("etc", 0o755), cpio.Directory("etc/measuredboot", 0o755)}
	for _, f := range []struct {
		name string
		data []byte
	}{
		{"config", c.Config},
		{"digests", c.Digests},
		{"keys.list", c.KeyList},
		{"policy", c.Policy},
		{"policy.sig", c.PolicySig},
	} {
		if f.data != nil {
			recs = append(recs, cpio.StaticFile("etc/measuredboot/"+f.name, string(f.data), 0o644))
		}
	}
	for _, r := range recs {
		if err := w.WriteRecord(cpio.MakeReproducible(r)); err != nil {
			return nil, fmt.Errorf("image data: cpio record %s: %w", r.Name, err)
		}
	}
	if err := cpio.WriteTrailer(w); err != nil {
		return nil, fmt.Errorf("image data: cpio trailer: %w", err)
	}
	return buf.Bytes(), nil
}

// Base returns the path of the base image for o (u-root's init, the busybox of Commands with the
// boot program, and the shell only when shell is set; the kernel modules and their list), xz
// compressed. It is built once and kept in the cache directory (o.CacheDir, else the user's cache
// directory), keyed by everything it is made of: the Go version, the module's Go sources and
// go.sum, the commands, build tags and the modules' files. Building it compiles the busybox; a
// cached one costs nothing. Progress goes to o.Progress.
func Base(o Options, shell bool) (string, error) {
	say := func(format string, a ...any) {
		if o.Progress != nil {
			fmt.Fprintf(o.Progress, "build: "+format+"\n", a...)
		}
	}
	settings, err := GoSettings()
	if err != nil {
		return "", err
	}
	var mods []string
	if o.ModulesDir != "" && len(o.Modules) > 0 {
		if mods, err = ResolveModules(o.ModulesDir, o.Modules); err != nil {
			return "", err
		}
	}
	key, err := baseKey(o, shell, mods)
	if err != nil {
		return "", err
	}
	dir := o.CacheDir
	if dir == "" {
		uc, err := os.UserCacheDir()
		if err != nil {
			return "", fmt.Errorf("no cache directory (%w): pass one", err)
		}
		dir = filepath.Join(uc, "measuredboot", "base")
	}
	out := filepath.Join(dir, key+".cpio.xz")
	if _, err := os.Stat(out); err == nil {
		say("base image (busybox, modules) from the cache: %s", out)
		return out, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	say("compiling the busybox (u-root init, %d commands) and adding %d kernel modules; the first build takes a minute or two", len(modifiersCommands(o, shell)), len(mods))
	t0 := time.Now()
	stage, err := os.MkdirTemp("", "measuredboot-stage")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(stage)
	var files []string
	if len(mods) > 0 {
		dst := filepath.Join("lib/modules", filepath.Base(o.ModulesDir))
		var list []string
		for _, m := range mods {
			files = append(files, filepath.Join(o.ModulesDir, m)+":"+filepath.Join(dst, m))
			list = append(list, "/"+filepath.Join(dst, m))
		}
		p := filepath.Join(stage, "modules")
		if err := os.WriteFile(p, []byte(strings.Join(list, "\n")+"\n"), 0o644); err != nil {
			return "", err
		}
		files = append(files, p+":etc/measuredboot/modules")
	}
	ms := modifiers(o, shell, settings)
	ms = append(ms, uimage.WithTempDir(stage), uimage.WithFiles(files...),
		uimage.WithCPIOOutput(filepath.Join(stage, "image.cpio")))
	l := llog.New(slog.LevelWarn, func(format string, a ...any) { fmt.Fprintf(os.Stderr, format+"\n", a...) })
	// u-root's builder runs go with this process's environment (plus GOOS, GOARCH, CGO_ENABLED,
	// GOROOT): run it with the pinned one.
	done := make(chan struct{})
	go func() { // a compile of a minute or two must not look like a hang
		tick := time.NewTicker(10 * time.Second)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
				say("still compiling the busybox (%.0fs)", time.Since(t0).Seconds())
			}
		}
	}()
	err = WithEnv(GoEnv(os.Environ(), settings), func() error { return uimage.Create(l, ms...) })
	close(done)
	if err != nil {
		return "", fmt.Errorf("u-root image: %w", err)
	}
	if err := compress(filepath.Join(stage, "image.cpio"), out); err != nil {
		return "", err
	}
	say("base image built in %.1fs: %s", time.Since(t0).Seconds(), out)
	return out, nil
}

// baseKey hashes everything a base image is made of (see Base) into a file name.
func baseKey(o Options, shell bool, mods []string) (string, error) {
	out, err := exec.Command("go", "env", "GOVERSION", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOVERSION GOMOD: %w", err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) != 2 {
		return "", fmt.Errorf("go env GOVERSION GOMOD: %q", out)
	}
	goVersion, goMod := lines[0], lines[1]
	h := sha256.New()
	fmt.Fprintf(h, "measuredboot base v1\ngo %s\ntags %v\nbls-only %v\nshell %v\nno-boot %v\nuinit %q\nextra %q\ncommands %q\n",
		goVersion, BuildTags, o.BLSOnly, shell, o.NoBootProgram, o.Uinit, o.Extra, modifiersCommands(o, shell))
	fmt.Fprintf(h, "kernel %s\n", filepath.Base(o.ModulesDir))
	for _, m := range mods {
		b, err := os.ReadFile(filepath.Join(o.ModulesDir, m))
		if err != nil {
			return "", err
		}
		fmt.Fprintf(h, "module %s %x\n", m, sha256.Sum256(b))
	}
	root := filepath.Dir(goMod)
	if goMod == "" || goMod == os.DevNull {
		return "", fmt.Errorf("not inside the measuredboot Go module (go env GOMOD is empty): run the build from the source tree")
	}
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if d.IsDir() {
			if p != root && (name == "testdata" || name == "build" || strings.HasPrefix(name, ".")) {
				return filepath.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() || !(strings.HasSuffix(name, ".go") && !strings.HasSuffix(name, "_test.go") || name == "go.mod" || name == "go.sum") {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		fmt.Fprintf(h, "src %s %x\n", rel, sha256.Sum256(b))
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("hashing the source tree for the image cache: %w", err)
	}
	return hex.EncodeToString(h.Sum(nil))[:24], nil
}

// xzBytes compresses b as compress does, in memory.
func xzBytes(b []byte) ([]byte, error) {
	cmd := exec.Command("xz", "--check=crc32", "--lzma2=dict=1MiB", "-9", "-T1", "-c")
	cmd.Stdin = bytes.NewReader(b)
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("xz: %w: %s(is xz-utils installed?)", err, stderr.String())
	}
	return out.Bytes(), nil
}

// modifiers are u-root's image builder options for the commands of an image built from o: its
// busybox, init, uinit and, only with shell (the config says on_refuse=shell), the recovery shell
// in the busybox, never as /bin/sh or /bin/defaultsh; settings are GoSettings'.
func modifiers(o Options, shell bool, settings map[string]string) []uimage.Modifier {
	cmds := modifiersCommands(o, shell)
	tags := BuildTags
	if o.BLSOnly {
		tags = append(slices.Clone(BuildTags), "measuredboot_blsonly")
	}
	mods := []uimage.Modifier{
		uimage.WithEnv(golang.DisableCGO(), golang.WithGOARCH("amd64"), golang.WithGOOS("linux"),
			golang.WithGOROOT(settings["GOROOT"]), golang.WithGOPATH(settings["GOPATH"]),
			golang.WithGO111MODULE("on"), golang.WithBuildTag(tags...)),
		uimage.WithInit("init"),
		uimage.WithSkipLDD(),
	}
	switch {
	case o.Uinit != "":
		mods = append(mods, uimage.WithUinit(path.Base(o.Uinit)))
	case !o.NoBootProgram:
		mods = append(mods, uimage.WithUinit("measuredboot"))
	}
	return append(mods, uimage.WithBusyboxCommands(cmds...))
}

// modifiersCommands lists the busybox's commands for o: Commands, the shell only with shell, the
// extra commands, and the uinit (the boot program unless o says otherwise).
func modifiersCommands(o Options, shell bool) []string {
	cmds := append([]string{}, Commands...)
	if shell {
		cmds = append(cmds, ShellCommand)
	}
	cmds = append(cmds, o.Extra...)
	switch {
	case o.Uinit != "":
		cmds = append(cmds, o.Uinit)
	case !o.NoBootProgram:
		cmds = append(cmds, BootProgram)
	}
	return cmds
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
