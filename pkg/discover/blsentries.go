package discover

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/u-root/u-root/pkg/boot"
	"github.com/u-root/u-root/pkg/boot/bls"
	"github.com/u-root/u-root/pkg/ulog"
)

// blsEntry is one BLS entry file as u-root's parser will see it, read beforehand through
// readBeneath: its last value of each key (u-root keeps a map) and every initrd line in order.
type blsEntry struct {
	rel     string            // path of the entry file on the partition
	vals    map[string]string // last value of each key, as u-root's parseConf keeps it
	initrds []string          // the value of every initrd line, in order
}

// errBLSRefused ends the error of scanBLS when it refused the partition's BLS entries (rather
// than found none).
var errBLSRefused = errors.New("refusing this partition's BLS entries")

// The places u-root's BLS parser lists, in its order: the second only if the first has no
// *.conf file.
var blsDirs = []string{"loader/entries", "boot/loader/entries"}

// scanBLS runs u-root's BLS parser over the partition mounted at root once every file it will
// open has been checked: the entry directory and its *.conf files, loader/loader.conf and each
// entry's kernel and kept initrd must be regular files on the partition reached without a link
// (u-root opens them with os.Open, which follows links and blocks on a FIFO). Any other finding
// refuses BLS on this partition. Each image's initrds are then completed from its own entry file
// (u-root keeps one); variables and saved are what GRUB's blscfg passes (nil and "" otherwise).
func scanBLS(ctx context.Context, root string, variables map[string]string, saved string) ([]boot.OSImage, error) {
	entries, err := checkBLS(ctx, root)
	if err != nil {
		return nil, fmt.Errorf("%w; %w", err, errBLSRefused)
	}
	imgs, err := bls.ScanBLSEntries(ulog.Null, root, variables, saved)
	completeBLS(root, entries, imgs, variables)
	return imgs, err
}

// checkBLS reads every BLS entry file u-root's parser will read on root and checks every file it
// will open; it returns the entries for completeBLS.
func checkBLS(ctx context.Context, root string) ([]blsEntry, error) {
	var dir string
	var confs []string
	for _, d := range blsDirs {
		names, err := listBeneath(root, d)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		confs = confs[:0]
		for _, n := range names {
			if ok, _ := filepath.Match("*.conf", n); ok {
				confs = append(confs, n)
			}
		}
		if len(confs) > 0 {
			dir = d
			break
		}
	}
	if len(confs) > maxEntries {
		return nil, fmt.Errorf("%s has more than %d entries (%d)", dir, maxEntries, len(confs))
	}
	if err := checkRegular(root, "loader/loader.conf"); err != nil {
		return nil, err
	}
	slices.Sort(confs)
	var out []blsEntry
	for _, n := range confs {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("reading BLS entries on %s: %w", root, err)
		}
		rel := filepath.Join(dir, n)
		b, err := readBeneath(root, rel, maxConfigSize)
		if err != nil {
			return nil, err
		}
		e := parseBLSEntry(rel, b)
		// The files u-root opens itself: the kernel and the first word of the last initrd line.
		var opened []string
		if v, ok := e.vals["linux"]; ok {
			opened = append(opened, v)
		}
		if v, ok := e.vals["initrd"]; ok {
			opened = append(opened, strings.Split(v, " ")[0])
		}
		for _, v := range opened {
			p, err := filepath.Rel(root, blsPath(root, v))
			if err != nil || relOnDisk(p) != nil {
				return nil, fmt.Errorf("%s: %s lies outside the partition; nothing off the disks is booted", rel, v)
			}
			if err := checkRegular(root, p); err != nil {
				return nil, fmt.Errorf("%s: %w", rel, err)
			}
		}
		out = append(out, e)
	}
	return out, nil
}

// parseBLSEntry reads an entry file as u-root's parseConf does: line by line (a line longer than
// bufio's default limit ends the file), "#" lines skipped, "key value" split at the first space,
// the last value of a key kept. It also keeps every initrd line, which u-root does not.
func parseBLSEntry(rel string, b []byte) blsEntry {
	e := blsEntry{rel: rel, vals: map[string]string{}}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(strings.TrimSpace(line), " ")
		if !ok {
			continue
		}
		v = strings.TrimSpace(v)
		e.vals[k] = v
		if k == "initrd" {
			e.initrds = append(e.initrds, v)
		}
	}
	return e
}

// blsPath is where u-root's BLS parser looks for a file an entry names: relative names under
// loader/, absolute ones under the partition's root.
func blsPath(root, v string) string {
	if !filepath.IsAbs(v) {
		return filepath.Join(root, "loader", v)
	}
	return filepath.Join(root, v)
}

// image returns what u-root's parser makes of e: its name, kernel path, command line and the
// initrd it keeps ("" if none), and every initrd the entry lists, in order.
func (e blsEntry) image(root string, variables map[string]string) (name, kernel, cmdline, kept string, all []string, err error) {
	var n []string
	if t := e.vals["title"]; t != "" {
		n = append(n, t)
	}
	if v := e.vals["version"]; v != "" {
		n = append(n, v)
	}
	name = strings.Join(n, " ")
	kernel = blsPath(root, e.vals["linux"])
	if o, ok := e.vals["options"]; ok {
		var words []string
		for _, w := range strings.Split(o, " ") {
			switch w {
			case "$kernelopts":
				v := variables["kernelopts"]
				if v == "" {
					v = variables["default_kernelopts"]
				}
				words = append(words, v)
			case "$tuned_params":
				words = append(words, variables["tuned_params"])
			default:
				words = append(words, w)
			}
		}
		cmdline = strings.Join(words, " ")
	}
	if v, ok := e.vals["initrd"]; ok {
		kept = blsPath(root, strings.Split(v, " ")[0])
	}
	for _, line := range e.initrds {
		for _, w := range strings.Fields(line) {
			if strings.HasPrefix(w, "$") {
				// A GRUB variable such as Fedora's $tuned_initrd: nothing when unset.
				if v := variables[strings.Trim(w, "${}")]; v != "" && err == nil {
					err = fmt.Errorf("%s: initrd names the GRUB variable %s (%q); only file names are booted", e.rel, w, v)
				}
				continue
			}
			all = append(all, blsPath(root, w))
		}
	}
	return name, kernel, cmdline, kept, all, err
}

// completeBLS gives every image of u-root's BLS parser all the initrds of its own entry file:
// the one whose every field u-root kept (name, kernel, command line, kept initrd) is the image's.
// An image two entry files could be with different initrd lists, or none, gets an error
// (unresolvedInitrds) that fromImage reports instead of a guess.
func completeBLS(root string, entries []blsEntry, imgs []boot.OSImage, variables map[string]string) {
	for _, img := range imgs {
		li, ok := img.(*boot.LinuxImage)
		if !ok || li.Initrd == nil {
			continue
		}
		f, ok := li.Initrd.(*os.File)
		if !ok {
			continue
		}
		kept := f.Name()
		f.Close()
		var kernel string
		if k, ok := li.Kernel.(*os.File); ok {
			kernel = k.Name()
		}
		var lists [][]string
		var files []string
		var errs []error
		for _, e := range entries {
			name, k, cmdline, i, all, err := e.image(root, variables)
			if name != li.Name || k != kernel || cmdline != li.Cmdline || i != kept {
				continue
			}
			if err != nil {
				errs = append(errs, err)
				continue
			}
			files = append(files, e.rel)
			if !slices.ContainsFunc(lists, func(l []string) bool { return slices.Equal(l, all) }) {
				lists = append(lists, all)
			}
		}
		switch {
		case len(lists) == 1:
			li.Initrd = initrdFiles(lists[0])
		case len(lists) > 1:
			li.Initrd = unresolvedInitrds{fmt.Errorf("initrds are ambiguous: entry files %s all give this entry but list different initrds; refusing it rather than guessing", strings.Join(files, ", "))}
		case len(errs) > 0:
			li.Initrd = unresolvedInitrds{errors.Join(errs...)}
		default:
			li.Initrd = unresolvedInitrds{fmt.Errorf("no entry file under loader/entries gives this entry's kernel %s and initrd %s; cannot tell its initrds", kernel, kept)}
		}
	}
}

// closeImages closes the files u-root's BLS parser opened for images that will not be returned.
func closeImages(imgs []boot.OSImage) {
	for _, img := range imgs {
		if li, ok := img.(*boot.LinuxImage); ok {
			for _, r := range []any{li.Kernel, li.Initrd} {
				if f, ok := r.(*os.File); ok {
					f.Close()
				}
			}
		}
	}
}
