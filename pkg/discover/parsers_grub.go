//go:build !measuredboot_blsonly

package discover

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"path/filepath"
	"slices"
	"strings"

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

// The GRUB and syslinux parsers fetch only through a configFetcher registered for file://:
// u-root's ParseLocalConfig functions pass curl.DefaultSchemes, which would let a hostile
// configuration on a local disk name http:// or tftp:// files; giving the parsers our own map
// keeps the boot on local disks, keeps net/http, TLS and the TFTP client out of the image
// (0.5 MB of xz), and bounds and checks every configuration file they read.

// grubProbe is where u-root's grub.ParseLocalConfig looks for grub.cfg, in its order (after
// EFI/*/grub.cfg).
var grubProbe = []string{"boot/grub/grub.cfg", "grub/grub.cfg", "grub2/grub.cfg", "boot/grub2/grub.cfg"}

// grubEnvProbe is where u-root's GRUB parser reads grubenv for saved_entry, on every mounted
// partition, in its order (EFI/*/grubenv first).
var grubEnvProbe = []string{"boot/grub/grubenv", "grub/grubenv", "grub2/grubenv", "boot/grub2/grubenv"}

// efiNames lists <dir>/<*>/<file> on the partition mounted at root, through the checked reads:
// a dir that is a link or not a directory gives an error.
func efiNames(root, dir, file string) ([]string, error) {
	names, err := listBeneath(root, dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	slices.Sort(names)
	var out []string
	for _, n := range names {
		out = append(out, filepath.Join(dir, n, file))
	}
	return out, nil
}

// parseGRUB is u-root's grub.ParseLocalConfig with local files only, read through a
// configFetcher. It then does itself, through the checked reads, what u-root's parser would do
// with os.Open: blscfg (the BLS entries of every mounted partition) and grubenv's saved_entry;
// checks the files search --file looked at; and gives each entry its own initrd line's files.
func parseGRUB(ctx context.Context, dir string, devs block.BlockDevices, pool *mount.Pool) ([]boot.OSImage, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	root := &url.URL{Scheme: "file", Path: abs}
	c := newFetcher(ctx, "GRUB", abs, pool)
	c.filter = neutralizeGRUB
	schemes := curl.Schemes{"file": c}
	names, err := efiNames(abs, "EFI", "grub.cfg")
	if err != nil {
		return nil, fmt.Errorf("%w; refusing this partition's GRUB entries", err)
	}
	for _, name := range append(names, grubProbe...) {
		c.texts = nil
		imgs, err := grub.ParseConfigFile(ctx, schemes, name, root, devs, pool)
		if c.err != nil {
			return nil, c.err
		}
		if missing(err) {
			continue // no such file here: try the next place
		}
		if err != nil {
			return nil, remote(err)
		}
		return grubFinish(ctx, c, imgs, pool)
	}
	return nil, fmt.Errorf("no valid grub config found")
}

// grubFinish completes a successful GRUB parse (see parseGRUB).
func grubFinish(ctx context.Context, c *configFetcher, imgs []boot.OSImage, pool *mount.Pool) ([]boot.OSImage, error) {
	g, err := grubPass(c.texts)
	if err != nil {
		return nil, c.refuse(err)
	}
	roots := c.roots()
	completeGRUB(g, imgs, roots)
	var mounts []string
	if pool != nil {
		for _, mp := range pool.MountPoints {
			mounts = append(mounts, mp.Path)
		}
	}
	// search --file stat(2)s the name on every partition; refuse the parser if it looked at a
	// link or a special file (the stat itself had no effect; the root it set would be wrong).
	for _, name := range g.searchFile {
		rel := strings.TrimPrefix(filepath.Clean("/"+name), "/")
		for _, r := range roots {
			if err := checkRegular(r, rel); err != nil {
				return nil, c.refuse(fmt.Errorf("search --file %s: %w", name, err))
			}
		}
	}
	var saved string
	if g.savedEntry {
		for _, m := range mounts {
			efi, err := efiNames(m, "EFI", "grubenv")
			if err != nil {
				return nil, c.refuse(err)
			}
			// u-root reads the first EFI/*/grubenv there is, then each of the others.
			for i, f := range efi {
				if err := checkRegular(m, f); err != nil {
					return nil, c.refuse(err)
				}
				if _, err := statBeneath(m, f); err == nil {
					efi = efi[i : i+1]
					break
				}
			}
			for _, f := range append(efi, grubEnvProbe...) {
				if v, err := grubEnv(m, f); err != nil {
					return nil, c.refuse(err)
				} else if v != "" {
					saved = v
				}
			}
		}
	}
	if g.blscfg {
		var blsImgs []boot.OSImage
		for _, m := range mounts {
			found, err := scanBLS(ctx, m, g.variables, saved)
			if errors.Is(err, errBLSRefused) {
				closeImages(blsImgs)
				return nil, c.refuse(fmt.Errorf("blscfg: %w", err))
			}
			blsImgs = append(blsImgs, found...)
		}
		imgs = append(blsImgs, imgs...)
	}
	if len(imgs) > maxEntries {
		closeImages(imgs)
		return nil, c.refuse(fmt.Errorf("more than %d entries (%d) under %s", maxEntries, len(imgs), c.dir))
	}
	return imgs, nil
}

// grubEnv returns the saved_entry of the grubenv rel on root, "" if none, reading it as every
// configuration file is read.
func grubEnv(root, rel string) (string, error) {
	b, err := readBeneath(root, rel, maxConfigSize)
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, "="); ok && k == "saved_entry" {
			return v, nil
		}
	}
	return "", nil
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

// parseSyslinux is u-root's syslinux.ParseLocalConfig with local files only, read through a
// configFetcher. The working directory is the configuration file's, as syslinux has it.
func parseSyslinux(ctx context.Context, dir string, _ block.BlockDevices, _ *mount.Pool) ([]boot.OSImage, error) {
	root := &url.URL{Scheme: "file", Path: dir}
	c := newFetcher(ctx, "syslinux", dir, nil)
	schemes := curl.Schemes{"file": c}
	for _, rel := range syslinuxProbe {
		wd, name := filepath.Split(rel)
		imgs, err := syslinux.ParseConfigFile(ctx, schemes, name, root, wd)
		if c.err != nil {
			return nil, c.err
		}
		if missing(err) {
			continue
		}
		if err != nil {
			return nil, remote(err)
		}
		if len(imgs) > maxEntries {
			return nil, c.refuse(fmt.Errorf("more than %d entries (%d) under %s", maxEntries, len(imgs), dir))
		}
		return imgs, nil
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
