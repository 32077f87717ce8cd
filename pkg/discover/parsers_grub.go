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

// grubEnvProbe is where parseGRUB reads grubenv for saved_entry on the partition whose GRUB
// configuration it reads, in u-root's order (EFI/*/grubenv first).
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
// with os.Open, but on the partition scanned only (u-root reads every mounted partition): blscfg
// and grubenv's saved_entry (see grubFinish); checks the files search --file looked at; and gives
// each entry its own initrd line's files.
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
		return grubFinish(ctx, c, imgs)
	}
	return nil, fmt.Errorf("no valid grub config found")
}

// grubFinish completes a successful GRUB parse (see parseGRUB). BLS entries (blscfg) and
// grubenv's saved_entry are read on c.dir, the partition scanned, only; a blscfg run while the
// configuration's $root names another partition refuses the parse, naming that partition.
func grubFinish(ctx context.Context, c *configFetcher, imgs []boot.OSImage) ([]boot.OSImage, error) {
	g, err := grubPass(c.texts)
	if err != nil {
		return nil, c.refuse(err)
	}
	roots := c.roots()
	completeGRUB(g, imgs, roots)
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
	// blscfg and grubenv belong to the partition scanned: real GRUB's blscfg reads the entries
	// of $root, and load_env the grubenv of the configuration's own directory, not every disk
	// (u-root's parser reads them on every mounted partition, the last saved_entry winning, so
	// a second disk could add the default entry or pick one). $root elsewhere is refused.
	if g.blscfg {
		if len(c.blscfgRoots) == 0 {
			return nil, c.refuse(fmt.Errorf("blscfg: cannot tell which partition's BLS entries it reads"))
		}
		for _, r := range c.blscfgRoots {
			if r != c.dir {
				return nil, c.refuse(fmt.Errorf("blscfg would read the BLS entries of %s, which the configuration's $root names (search --set=root), not those of %s, where the configuration is read: BLS entries and grubenv are read only on the configuration's own partition (that other partition's entries are found when it is scanned itself)", c.describe(r), c.dir))
			}
		}
	}
	var saved string
	if g.savedEntry {
		v, err := savedEntry(c.dir)
		if err != nil {
			return nil, c.refuse(err)
		}
		saved = v
	}
	if g.blscfg {
		found, err := scanBLS(ctx, c.dir, g.variables, saved)
		if errors.Is(err, errBLSRefused) {
			return nil, c.refuse(fmt.Errorf("blscfg: %w", err))
		}
		imgs = append(found, imgs...)
	}
	if len(imgs) > maxEntries {
		closeImages(imgs)
		return nil, c.refuse(fmt.Errorf("more than %d entries (%d) under %s", maxEntries, len(imgs), c.dir))
	}
	return imgs, nil
}

// savedEntry returns the saved_entry of the grubenv files on the partition mounted at root, as
// u-root's parser reads them there: the first EFI/*/grubenv there is, then grubEnvProbe, the last
// value found winning; "" if none.
func savedEntry(root string) (string, error) {
	efi, err := efiNames(root, "EFI", "grubenv")
	if err != nil {
		return "", err
	}
	for i, f := range efi {
		if err := checkRegular(root, f); err != nil {
			return "", err
		}
		if _, err := statBeneath(root, f); err == nil {
			efi = efi[i : i+1]
			break
		}
	}
	var saved string
	for _, f := range append(efi, grubEnvProbe...) {
		v, err := grubEnv(root, f)
		if err != nil {
			return "", err
		}
		if v != "" {
			saved = v
		}
	}
	return saved, nil
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
