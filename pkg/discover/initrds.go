package discover

import (
	"bufio"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// maxConfig bounds a boot configuration file read for its initrd lines.
const maxConfig = 1 << 20

// The places u-root's GRUB parser looks for grub.cfg, relative to a file system's root.
var grubConfigs = []string{"boot/grub/grub.cfg", "boot/grub2/grub.cfg", "grub/grub.cfg", "grub2/grub.cfg", "EFI/*/grub.cfg", "boot/EFI/*/grub.cfg"}

// completeInitrds finds every initrd the entry's configuration lists, in order. u-root's parsers
// keep one: GRUB's the first path of an "initrd a b" line, BLS's one of several "initrd" lines.
// Early images such as CPU microcode come first in such lists, the main initramfs last.
func completeInitrds(dir string, e *Entry) {
	if len(e.Initrds) != 1 {
		return
	}
	switch e.Source {
	case "grub":
		for _, pat := range grubConfigs {
			files, _ := filepath.Glob(filepath.Join(dir, pat))
			for _, f := range files {
				if all := grubInitrds(f, e.Initrds[0]); all != nil {
					e.Initrds = all
					return
				}
			}
		}
	case "bls":
		files, _ := filepath.Glob(filepath.Join(dir, "loader/entries/*.conf"))
		for _, f := range files {
			if all := blsInitrds(f, dir, e); all != nil {
				e.Initrds = all
				return
			}
		}
	}
}

func lines(path string) []string {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, maxConfig)
	for sc.Scan() {
		out = append(out, strings.TrimSpace(sc.Text()))
	}
	return out
}

// grubInitrds returns the paths of the first "initrd" line in cfg whose first path resolves to
// first (the one u-root found), resolved the same way.
func grubInitrds(cfg, first string) []string {
	for _, l := range lines(cfg) {
		f := strings.Fields(l)
		if len(f) < 3 || (f[0] != "initrd" && f[0] != "initrd16" && f[0] != "initrdefi") {
			continue
		}
		p := filepath.Clean("/" + f[1])
		if !strings.HasSuffix(first, p) {
			continue
		}
		root := strings.TrimSuffix(first, p)
		out := make([]string, 0, len(f)-1)
		for _, a := range f[1:] {
			out = append(out, root+filepath.Clean("/"+a))
		}
		return out
	}
	return nil
}

// blsInitrds returns the initrd paths of a BLS entry file whose kernel is e's and whose initrds
// include the one u-root kept.
func blsInitrds(conf, root string, e *Entry) []string {
	var kernel string
	var initrds []string
	for _, l := range lines(conf) {
		k, v, _ := strings.Cut(l, " ")
		v = strings.TrimSpace(v)
		switch k {
		case "linux":
			kernel = filepath.Join(root, v)
		case "initrd":
			for _, a := range strings.Fields(v) {
				initrds = append(initrds, filepath.Join(root, a))
			}
		}
	}
	if kernel != e.Kernel || !slices.Contains(initrds, e.Initrds[0]) {
		return nil
	}
	return initrds
}
