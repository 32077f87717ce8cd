//go:build !measuredboot_blsonly

package discover

import (
	"fmt"
	"net/url"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/u-root/u-root/pkg/boot"
	"github.com/u-root/u-root/pkg/shlex"
)

// grubHex matches the \xNN escapes Fedora's GRUB leaves alone; u-root's GRUB parser doubles
// their backslash before splitting a line, and so does grubPass.
var grubHex = regexp.MustCompile(`\\x[0-9a-fA-F]{2}`)

// grubBackslash is a backslash and what may follow it in such an escape.
var grubBackslash = regexp.MustCompile(`\\.{0,3}`)

// grubWords splits one line of a grub.cfg into words as u-root's GRUB parser does, and returns
// them with the directive lowercased.
func grubWords(line string) []string {
	kv := shlex.Argv(grubHex.ReplaceAllString(line, `\\$0`))
	if len(kv) > 0 {
		kv[0] = strings.ToLower(kv[0])
	}
	return kv
}

// grubEntry is one "linux" line of a grub.cfg as grubPass saw it, with the initrd line that
// later set its initrds (u-root keeps only the first path of that line).
type grubEntry struct {
	label   string
	kernel  string   // the linux line's path, unresolved
	cmdline []string // the words after it
	initrds []string // the initrd line's paths, unresolved
}

// grubConfig is what grubPass learned from the configuration texts u-root's GRUB parser read.
type grubConfig struct {
	entries    []*grubEntry      // reachable entries, each once
	variables  map[string]string // set k=v, as u-root keeps them (for blscfg's $kernelopts)
	blscfg     bool              // a blscfg line: the BLS entries of the partition scanned
	savedEntry bool              // set default="${saved_entry}": grubenv is read
	searchFile []string          // the file names of search --file lines
}

// grubPass walks the texts u-root's GRUB parser read, in the order it read them, with its
// semantics: a menuentry line starts entry number n and label l, a linux line creates the entry
// for both keys, a later initrd line sets that entry's initrds, configfile reads the next text
// in place. It returns an error if the texts do not line up with the configfile lines.
func grubPass(texts []fetched) (*grubConfig, error) {
	g := &grubConfig{variables: map[string]string{}}
	byKey := map[string]*grubEntry{}
	var n int
	var cur, label string
	next := 0
	var walk func(text string) error
	walk = func(text string) error {
		for _, line := range strings.Split(text, "\n") {
			kv := grubWords(line)
			if len(kv) == 0 {
				continue
			}
			if kv[0] == "blscfg" {
				g.blscfg = true
			}
			if len(kv) <= 1 {
				continue
			}
			switch kv[0] {
			case "menuentry":
				cur, label = strconv.Itoa(n), kv[1]
				n++
			case "linux", "linux16", "linuxefi":
				e := &grubEntry{label: label, kernel: kv[1], cmdline: kv[2:]}
				byKey[cur], byKey[label] = e, e
			case "initrd", "initrd16", "initrdefi":
				if e, ok := byKey[cur]; ok {
					e.initrds = kv[1:]
				}
			case "set":
				k, v, ok := strings.Cut(kv[1], "=")
				switch {
				case !ok || k == "root":
				case k == "default" && v == "${saved_entry}":
					g.savedEntry = true
				default:
					g.variables[k] = v
				}
			case "search", "search.file":
				if kv[0] == "search.file" || slices.Contains(kv, "--file") || slices.Contains(kv, "-f") {
					g.searchFile = append(g.searchFile, kv[len(kv)-1])
				}
			case "configfile":
				if next >= len(texts) {
					return fmt.Errorf("configfile %s: no configuration text read for it", kv[1])
				}
				want := filepath.Clean("/" + kv[1])
				if u, err := url.Parse(kv[1]); err == nil && u.Scheme != "" {
					want = filepath.Clean(u.Path)
				}
				t := texts[next]
				if !strings.HasSuffix(t.path, want) {
					return fmt.Errorf("configfile %s: the parser read %s there; cannot follow the configuration", kv[1], t.path)
				}
				next++
				if err := walk(t.text); err != nil {
					return err
				}
			}
		}
		return nil
	}
	if len(texts) == 0 {
		return nil, fmt.Errorf("no configuration text was read")
	}
	next = 1
	if err := walk(texts[0].text); err != nil {
		return nil, err
	}
	for _, e := range byKey {
		if !slices.Contains(g.entries, e) {
			g.entries = append(g.entries, e)
		}
	}
	return g, nil
}

// neutralizeGRUB hides from u-root's GRUB parser the lines that make it open files itself with
// os.Open (blscfg: every mounted partition's BLS entries; set default="${saved_entry}": every
// grubenv); parseGRUB does both itself through the checked reads, on the partition scanned only.
// A blscfg line becomes "configfile /<blscfgProbe>", which the parser resolves against its $root
// at that line and the configFetcher answers with nothing: it tells grubFinish which partition
// real GRUB's blscfg would read.
func neutralizeGRUB(text string) string {
	lines := strings.Split(text, "\n")
	for i, line := range lines {
		kv := grubWords(line)
		if len(kv) == 0 {
			continue
		}
		if kv[0] == "blscfg" {
			lines[i] = "configfile /" + blscfgProbe
		}
		if kv[0] == "set" && len(kv) > 1 {
			if k, v, _ := strings.Cut(kv[1], "="); k == "default" && v == "${saved_entry}" {
				lines[i] = ""
			}
		}
	}
	return strings.Join(lines, "\n")
}

// grubResolve is where u-root's GRUB parser looks for path p with root as its root variable's
// path: a path without scheme or host lies under root, any other is its URL's path.
func grubResolve(p, root string) string {
	u, err := url.Parse(p)
	if err != nil {
		return ""
	}
	if u.Scheme == "" && u.Host == "" {
		return filepath.Join(root, filepath.Clean(u.Path))
	}
	return filepath.Clean(u.Path)
}

// grubQuote joins a linux line's arguments into a command line as u-root's GRUB parser does
// (GRUB's own quoting: backslashes doubled except in \xNN, quotes escaped, words with a space
// double-quoted).
func grubQuote(args []string) string {
	out := make([]string, len(args))
	for i, s := range args {
		s = grubBackslash.ReplaceAllStringFunc(s, func(m string) string {
			if grubHex.MatchString(m) {
				return m
			}
			return strings.ReplaceAll(m, `\`, `\\`)
		})
		s = strings.ReplaceAll(s, `'`, `\'`)
		s = strings.ReplaceAll(s, `"`, `\"`)
		if strings.Contains(s, " ") {
			s = `"` + s + `"`
		}
		out[i] = s
	}
	return strings.Join(out, " ")
}

// urlPath is the local path a lazily fetched file of u-root's parsers names.
func urlPath(r any) (string, bool) {
	if f, ok := r.(interface{ URL() *url.URL }); ok {
		return filepath.Clean(f.URL().Path), true
	}
	return "", false
}

// completeGRUB gives every Linux image u-root's GRUB parser returned all the initrds of its own
// initrd line: the entry of grubPass with the image's label, kernel and first initrd (and
// command line, where that tells candidates apart). Two candidates with different lists, or
// none, leave an unresolvedInitrds that fromImage reports instead of a guess.
func completeGRUB(g *grubConfig, imgs []boot.OSImage, roots []string) {
	for _, img := range imgs {
		li, ok := img.(*boot.LinuxImage)
		if !ok || li.Initrd == nil {
			continue
		}
		kernel, ok1 := urlPath(li.Kernel)
		first, ok2 := urlPath(li.Initrd)
		if !ok1 || !ok2 {
			continue // not a local file: fromImage refuses it
		}
		type cand struct {
			files   []string
			cmdline bool
		}
		var cands []cand
		for _, e := range g.entries {
			if e.label != li.Name || len(e.initrds) == 0 {
				continue
			}
			var root string
			kok := false
			for _, r := range roots {
				if grubResolve(e.kernel, r) == kernel {
					kok = true
				}
				if grubResolve(e.initrds[0], r) == first {
					root = r
				}
			}
			if !kok || root == "" {
				continue
			}
			var files []string
			for _, p := range e.initrds {
				files = append(files, grubResolve(p, root))
			}
			cands = append(cands, cand{files, grubQuote(e.cmdline) == li.Cmdline})
		}
		if slices.ContainsFunc(cands, func(c cand) bool { return c.cmdline }) {
			cands = slices.DeleteFunc(cands, func(c cand) bool { return !c.cmdline })
		}
		var lists [][]string
		for _, c := range cands {
			if !slices.ContainsFunc(lists, func(l []string) bool { return slices.Equal(l, c.files) }) {
				lists = append(lists, c.files)
			}
		}
		switch len(lists) {
		case 1:
			li.Initrd = initrdFiles(lists[0])
		case 0:
			li.Initrd = unresolvedInitrds{fmt.Errorf("no initrd line of the GRUB configuration gives this entry's kernel %s and initrd %s; cannot tell its initrds", kernel, first)}
		default:
			var s []string
			for _, l := range lists {
				s = append(s, "["+strings.Join(l, " ")+"]")
			}
			li.Initrd = unresolvedInitrds{fmt.Errorf("initrds are ambiguous: GRUB entries with this label, kernel and first initrd list %s; refusing it rather than guessing", strings.Join(s, " and "))}
		}
	}
}
