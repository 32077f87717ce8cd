package initramfs

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
)

// GoPinned are the Go settings of every image build, whatever the caller's environment says: the
// image runs on any x86-64 machine (GOAMD64=v1), links no C, and no GOFLAGS, GOEXPERIMENT, GODEBUG,
// go env file (GOENV=off) or toolchain switch (GOTOOLCHAIN=local) of the builder's changes what is
// built. The build flags (-trimpath, -ldflags "-s -w -buildid=") are u-root's builder's own.
func GoPinned() []string {
	return []string{
		"GOOS=linux", "GOARCH=amd64", "GOAMD64=v1", "CGO_ENABLED=0",
		"GOFLAGS=", "GOEXPERIMENT=", "GODEBUG=", "GOENV=off", "GOTOOLCHAIN=local", "GO111MODULE=on",
	}
}

// goKept are the Go settings taken from the caller (its environment or go env file): where the
// toolchain, the module cache and the build cache are and where modules come from. They do not
// change the bytes built: go.sum pins every module.
func goKept() []string {
	return []string{"GOROOT", "GOPATH", "GOMODCACHE", "GOCACHE", "GOPROXY", "GOSUMDB", "GONOSUMDB",
		"GOPRIVATE", "GONOPROXY", "GOINSECURE", "GOVCS", "GOAUTH"}
}

// GoEnv returns the environment of the image's Go build: environ (the caller's, os.Environ())
// without any GO* or CGO_* variable and without CC, CXX and the like, then the kept settings from
// settings (the caller's values, GoSettings), then GoPinned: each Go variable appears once.
func GoEnv(environ []string, settings map[string]string) []string {
	drop := func(k string) bool {
		return strings.HasPrefix(k, "GO") || strings.HasPrefix(k, "CGO_") ||
			slices.Contains([]string{"CC", "CXX", "FC", "AR", "PKG_CONFIG"}, k)
	}
	var env []string
	for _, kv := range environ {
		if k, _, ok := strings.Cut(kv, "="); ok && !drop(k) {
			env = append(env, kv)
		}
	}
	for _, k := range goKept() {
		if v := settings[k]; v != "" {
			env = append(env, k+"="+v)
		}
	}
	return append(env, GoPinned()...)
}

// GoSettings returns the caller's values of the kept settings (goKept), from go env: its
// environment and go env file, with the local toolchain.
func GoSettings() (map[string]string, error) {
	cmd := exec.Command("go", append([]string{"env", "-json"}, goKept()...)...)
	// Only the kept settings of the caller's environment: a GOEXPERIMENT or GOFLAGS that go env
	// refuses is not used by the build either.
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if !(strings.HasPrefix(k, "GO") || strings.HasPrefix(k, "CGO_")) || slices.Contains(goKept(), k) {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, "GOTOOLCHAIN=local")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	b, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("go env: %w: %s(is Go installed and on PATH?)", err, stderr.String())
	}
	m := map[string]string{}
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("go env -json: %w", err)
	}
	if m["GOROOT"] == "" {
		return nil, fmt.Errorf("go env: no GOROOT")
	}
	return m, nil
}

// WithEnv runs f with this process's environment replaced by env, and puts the old one back: u-root's
// builder starts go with the process's environment.
func WithEnv(env []string, f func() error) error {
	old := os.Environ()
	set := func(env []string) error {
		os.Clearenv()
		for _, kv := range env {
			k, v, _ := strings.Cut(kv, "=")
			if err := os.Setenv(k, v); err != nil {
				return fmt.Errorf("setenv %s: %w", k, err)
			}
		}
		return nil
	}
	defer set(old)
	if err := set(env); err != nil {
		return err
	}
	return f()
}
