//go:build !measuredboot_blsonly

package discover

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"path/filepath"

	"github.com/u-root/u-root/pkg/boot"
	"github.com/u-root/u-root/pkg/boot/grub"
	"github.com/u-root/u-root/pkg/boot/syslinux"
	"github.com/u-root/u-root/pkg/curl"
	"github.com/u-root/u-root/pkg/mount"
	"github.com/u-root/u-root/pkg/mount/block"
)

func init() {
	parsers = append(parsers, parser{"grub", parseGRUB}, parser{"syslinux", parseSyslinux})
}

// localFiles is the only scheme the GRUB and syslinux parsers may fetch with. u-root's
// ParseLocalConfig functions pass curl.DefaultSchemes, which would let a hostile configuration on
// a local disk name http:// or tftp:// files; giving the parsers this map instead keeps the boot
// on local disks, and keeps net/http, TLS and the TFTP client out of the image (0.5 MB of xz).
var localFiles = curl.Schemes{"file": curl.LocalFileClient{}}

// grubProbe is where u-root's grub.ParseLocalConfig looks for grub.cfg, in its order (after
// EFI/*/grub.cfg).
var grubProbe = []string{"boot/grub/grub.cfg", "grub/grub.cfg", "grub2/grub.cfg", "boot/grub2/grub.cfg"}

// parseGRUB is u-root's grub.ParseLocalConfig with local files only.
func parseGRUB(ctx context.Context, dir string, devs block.BlockDevices, pool *mount.Pool) ([]boot.OSImage, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	root := &url.URL{Scheme: "file", Path: abs}
	efi, _ := filepath.Glob(filepath.Join(abs, "EFI", "*", "grub.cfg"))
	var names []string
	for _, f := range efi {
		if rel, err := filepath.Rel(abs, f); err == nil {
			names = append(names, rel)
		}
	}
	for _, name := range append(names, grubProbe...) {
		imgs, err := grub.ParseConfigFile(ctx, localFiles, name, root, devs, pool)
		if missing(err) {
			continue // no such file here: try the next place
		}
		return imgs, remote(err)
	}
	return nil, fmt.Errorf("no valid grub config found")
}

// syslinuxProbe is where u-root's syslinux.ParseLocalConfig looks, in its order (the syslinux
// wiki's): each directory with isolinux.cfg, extlinux.conf and syslinux.cfg.
var syslinuxProbe = func() []string {
	var out []string
	for _, d := range []string{"boot/isolinux", "isolinux", "boot/syslinux", "extlinux", "syslinux", ""} {
		for _, c := range []string{"isolinux.cfg", "extlinux.conf", "syslinux.cfg"} {
			out = append(out, filepath.Join(d, c))
		}
	}
	return out
}()

// parseSyslinux is u-root's syslinux.ParseLocalConfig with local files only. The working
// directory is the configuration file's, as syslinux has it.
func parseSyslinux(ctx context.Context, dir string, _ block.BlockDevices, _ *mount.Pool) ([]boot.OSImage, error) {
	root := &url.URL{Scheme: "file", Path: dir}
	for _, rel := range syslinuxProbe {
		wd, name := filepath.Split(rel)
		imgs, err := syslinux.ParseConfigFile(ctx, localFiles, name, root, wd)
		if missing(err) {
			continue
		}
		return imgs, remote(err)
	}
	return nil, fmt.Errorf("no valid syslinux config found on %s", dir)
}

// missing tells a configuration file that is not there (try the next place) from one that names
// a file by a scheme other than file://.
func missing(err error) bool {
	return curl.IsURLError(err) && !errors.Is(err, curl.ErrNoSuchScheme)
}

// remote names the refusal of a non-local file the way fromImage does.
func remote(err error) error {
	var ue *curl.URLError
	if errors.As(err, &ue) && errors.Is(err, curl.ErrNoSuchScheme) {
		return fmt.Errorf("%s: only local files are booted", ue.URL)
	}
	return err
}
