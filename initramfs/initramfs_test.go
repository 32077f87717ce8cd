package initramfs

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/u-root/mkuimage/cpio"
	"github.com/u-root/mkuimage/uimage"

	"github.com/measuredboot/measuredboot/pkg/boot"
	"github.com/measuredboot/measuredboot/pkg/handover"
)

// TestGoEnvPinned: the builder's environment does not reach the image's Go build.
func TestGoEnvPinned(t *testing.T) {
	caller := []string{
		"HOME=/root", "PATH=/usr/bin", "GOAMD64=v3", "GOFLAGS=-ldflags=-X=main.x=1 -tags=evil",
		"GOEXPERIMENT=boringcrypto", "GODEBUG=x509sha1=1", "GOARCH=arm64", "GOOS=darwin", "GOARM=7",
		"CGO_ENABLED=1", "CGO_CFLAGS=-O0", "CC=clang", "GOTOOLCHAIN=go1.99.0", "GOENV=/tmp/goenv",
		"GO111MODULE=off", "GOROOT=/elsewhere", "GOPATH=/caller/go",
	}
	env := GoEnv(caller, map[string]string{"GOROOT": "/usr/local/go", "GOPATH": "/root/go", "GOMODCACHE": "/root/go/pkg/mod"})
	got := map[string][]string{}
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		got[k] = append(got[k], v)
	}
	want := map[string]string{
		"HOME": "/root", "PATH": "/usr/bin", "GOOS": "linux", "GOARCH": "amd64", "GOAMD64": "v1",
		"CGO_ENABLED": "0", "GOFLAGS": "", "GOEXPERIMENT": "", "GODEBUG": "", "GOENV": "off",
		"GOTOOLCHAIN": "local", "GO111MODULE": "on", "GOROOT": "/usr/local/go", "GOPATH": "/root/go",
		"GOMODCACHE": "/root/go/pkg/mod",
	}
	for k, v := range want {
		if !slices.Equal(got[k], []string{v}) {
			t.Errorf("GoEnv: %s=%q, want %s=%q once", k, got[k], k, v)
		}
	}
	for _, k := range []string{"GOARM", "CGO_CFLAGS", "CC"} {
		if _, ok := got[k]; ok {
			t.Errorf("GoEnv kept %s=%q from the caller", k, got[k])
		}
	}
}

// TestWithEnv: the builder, which takes this process's environment, sees the pinned one while it
// runs, and the caller's comes back after.
func TestWithEnv(t *testing.T) {
	t.Setenv("GOAMD64", "v3")
	t.Setenv("GOFLAGS", "-tags=evil")
	err := WithEnv(GoEnv(os.Environ(), map[string]string{"GOROOT": "/usr/local/go"}), func() error {
		if a, f := os.Getenv("GOAMD64"), os.Getenv("GOFLAGS"); a != "v1" || f != "" {
			t.Errorf("during the build: GOAMD64=%q GOFLAGS=%q, want v1 and empty", a, f)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if a, f := os.Getenv("GOAMD64"), os.Getenv("GOFLAGS"); a != "v3" || f != "-tags=evil" {
		t.Errorf("after the build: GOAMD64=%q GOFLAGS=%q, want the caller's back", a, f)
	}
}

// TestShellOnlyWhenAllowed: no image has /bin/sh or /bin/defaultsh (init would start it whenever
// measuredboot ends); only an image whose config says on_refuse=shell has the shell in its busybox.
func TestShellOnlyWhenAllowed(t *testing.T) {
	for _, shell := range []bool{false, true} {
		o, err := uimage.OptionsFor(modifiers(Options{}, shell, map[string]string{"GOROOT": "/usr/local/go"})...)
		if err != nil {
			t.Fatal(err)
		}
		if o.DefaultShell != "" {
			t.Errorf("shell %v: image has a default shell %q for init to start", shell, o.DefaultShell)
		}
		var pkgs []string
		for _, c := range o.Commands {
			pkgs = append(pkgs, c.Packages...)
		}
		if slices.Contains(pkgs, ShellCommand) != shell {
			t.Errorf("shell %v: busybox commands %q", shell, pkgs)
		}
		if !slices.Contains(pkgs, BootProgram) || o.UinitCmd != "measuredboot" || o.InitCmd != "init" {
			t.Errorf("shell %v: commands %q, uinit %q, init %q", shell, pkgs, o.UinitCmd, o.InitCmd)
		}
	}
}

// TestCheck: Check runs the boot's parsers on the exact bytes that go into the image.
func TestCheck(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "digests.bad")
	good := filepath.Join(dir, "digests")
	os.WriteFile(bad, []byte("sha256:abcd /boot/vmlinuz\n"), 0o644)
	os.WriteFile(good, []byte("sha256:"+strings.Repeat("ab", 32)+" /boot/vmlinuz\n"), 0o644)
	policy := "../configs/policy"
	cmdline9 := filepath.Join(dir, "policy9")
	os.WriteFile(cmdline9, []byte("measure func=KEXEC_CMDLINE pcr=9\n"), 0o644)
	for _, tc := range []struct {
		name string
		o    Options
		want string // in the error; "" for none
	}{
		{"config typo", Options{Policy: policy, Config: []string{"appraise_mode=enforced"}}, `/etc/measuredboot/config:1: appraise_mode="enforced": want enforce or log`},
		{"config unknown", Options{Policy: policy, Config: []string{"# x", "onrefuse=shell"}}, `/etc/measuredboot/config:2: unknown setting "onrefuse"`},
		{"bad digests", Options{Policy: policy, Digests: bad}, bad},
		{"no policy", Options{Policy: filepath.Join(dir, "none")}, "no such file"},
		{"grub format, default policy's PCRs", Options{Policy: policy, Config: []string{"event_format=grub"}}, ""},
		{"grub format, cmdline in PCR 9", Options{Policy: cmdline9, Config: []string{"event_format=grub"}}, "the boot would refuse this image"},
		{"good", Options{Policy: policy, Digests: good, Config: []string{"on_refuse=shell", "appraise_mode=log"}}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Check(tc.o)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("Check: %v", err)
				}
				if tc.name != "good" {
					return
				}
				if string(c.Config) != "on_refuse=shell\nappraise_mode=log\n" || !c.Shell || c.Digests == nil || c.Policy == nil {
					t.Errorf("Check = %+v", c)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Check(%s) error %v, want one containing %q", tc.name, err, tc.want)
			}
		})
	}
}

// TestCheckWarnings: the build hands policy.Check's warnings to the builder (mbctl build prints
// them), not only the boot: a resettable PCR is warned of before the image exists.
func TestCheckWarnings(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "policy")
	os.WriteFile(p, []byte("measure func=KEXEC_KERNEL_CHECK pcr=16\nmeasure func=KEXEC_CMDLINE pcr=8\n"), 0o644)
	c, err := Check(Options{Policy: p})
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Warnings) == 0 || !strings.Contains(strings.Join(c.Warnings, "\n"), p+":1: pcr=16 can be reset") {
		t.Errorf("Check warnings = %q, want the pcr=16 warning for line 1", c.Warnings)
	}
	c, err = Check(Options{Policy: "../configs/policy"})
	if err != nil || len(c.Warnings) != 0 {
		t.Errorf("Check(configs/policy) = %q, %v; want no warnings", c.Warnings, err)
	}
}

func TestAllowsShell(t *testing.T) {
	for cfg, want := range map[string]bool{
		"":                                  false,
		"on_refuse=halt\n":                  false,
		"on_refuse=shell\n":                 true,
		" on_refuse=shell \n":               true,
		"on_refuse=shell\non_refuse=halt\n": false,
		"on_refuse=halt\non_refuse=shell\n": true,
		"# on_refuse=shell\n":               false,
	} {
		if got, err := boot.ConfigAllowsShell([]byte(cfg)); err != nil || got != want {
			t.Errorf("boot.ConfigAllowsShell(%q) = %v, %v; want %v", cfg, got, err, want)
		}
	}
}

// TestDataArchiveAfterBase checks the image's layout as the kernel unpacks it: a base image (its
// own xz stream) followed by the data archive (another), the data under etc/measuredboot/ beside
// what the base holds, nothing of the base replaced.
func TestDataArchiveAfterBase(t *testing.T) {
	var base bytes.Buffer
	w := cpio.Newc.Writer(&base)
	for _, r := range []cpio.Record{cpio.Directory("etc", 0o755), cpio.Directory("bbin", 0o755), cpio.StaticFile("bbin/bb", "busybox", 0o755)} {
		if err := w.WriteRecord(cpio.MakeReproducible(r)); err != nil {
			t.Fatal(err)
		}
	}
	if err := cpio.WriteTrailer(w); err != nil {
		t.Fatal(err)
	}
	c := &Contents{Policy: []byte("measure func=KEXEC_KERNEL_CHECK\n"), Config: []byte("on_refuse=halt\n"), KeyList: []byte("keys\n")}
	data, err := DataArchive(c)
	if err != nil {
		t.Fatal(err)
	}
	again, err := DataArchive(c)
	if err != nil || !bytes.Equal(data, again) {
		t.Fatalf("DataArchive is not reproducible (%v)", err)
	}
	bx, err := xzBytes(base.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	dx, err := xzBytes(data)
	if err != nil {
		t.Fatal(err)
	}
	if len(bx)%4 != 0 {
		t.Fatalf("an xz stream of %d bytes: the kernel looks for the next part at a multiple of 4", len(bx))
	}
	in, err := handover.ParseInitramfs(append(bx, dx...))
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]handover.Type{"bbin/bb": handover.TypeFile, "etc/measuredboot/policy": handover.TypeFile,
		"etc/measuredboot/config": handover.TypeFile, "etc/measuredboot/keys.list": handover.TypeFile, "etc": handover.TypeDir} {
		if _, e, ok := in.Lstat(name); !ok || e.Type != want {
			t.Errorf("after base and data, %s = %v (present %v), want %v", name, e.Type, ok, want)
		}
	}
	if _, _, ok := in.Lstat("etc/measuredboot/digests"); ok {
		t.Error("etc/measuredboot/digests is in the image without -digests")
	}
}
