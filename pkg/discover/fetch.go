//go:build !measuredboot_blsonly

package discover

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"path/filepath"

	"github.com/u-root/u-root/pkg/mount"
)

// configFetcher is the only file:// client u-root's GRUB and syslinux parsers get (in place of
// curl.LocalFileClient). It reads each configuration file through readBeneath on the partition
// that holds it (the scanned directory or a mount point of the pool, the longest that contains
// the path), counts and bounds the files and bytes read for one parser on one partition, checks
// the context's deadline on every fetch, and records each text read, in order, for the
// initrd pass. Kernels and initrds are named through it lazily and never read by discovery.
//
// Its first refusal (a bound, a link, a FIFO or other special file, the deadline) is kept in
// err: u-root's parsers wrap every fetch error as a curl.URLError, which they (and the probe
// loop) take for a missing file, so the caller checks err after each parse.
type configFetcher struct {
	ctx    context.Context
	kind   string // "GRUB" or "syslinux", for messages
	dir    string // the partition scanned
	pool   *mount.Pool
	filter func(string) string // rewrites a text before the parser sees it (nil: none)

	opened, tried int
	total         int64
	err           error
	texts         []fetched
	// blscfgRoots is the directory the parser's $root named at each blscfg line, as it
	// resolved blscfgProbe (see neutralizeGRUB).
	blscfgRoots []string
}

// blscfgProbe is the file a blscfg line becomes for u-root's GRUB parser (neutralizeGRUB): the
// parser asks for it relative to its $root, which tells which partition GRUB's blscfg would read.
// The fetcher answers it with an empty text without reading the disk and records the directory;
// it is not a configuration file, and a configuration that names it itself is refused by
// grubPass (no text was read for that configfile).
const blscfgProbe = ".measuredboot-blscfg-root"

// fetched is one configuration file read: its absolute path and its text as on the disk.
type fetched struct {
	path string
	text string
}

func newFetcher(ctx context.Context, kind, dir string, pool *mount.Pool) *configFetcher {
	return &configFetcher{ctx: ctx, kind: kind, dir: dir, pool: pool}
}

// Fetch implements curl.FileScheme.
func (c *configFetcher) Fetch(ctx context.Context, u *url.URL) (io.ReaderAt, error) {
	b, err := c.fetch(ctx, u)
	if err != nil {
		return nil, err
	}
	return bytes.NewReader(b), nil
}

// FetchWithoutCache implements curl.FileScheme.
func (c *configFetcher) FetchWithoutCache(ctx context.Context, u *url.URL) (io.Reader, error) {
	b, err := c.fetch(ctx, u)
	if err != nil {
		return nil, err
	}
	return bytes.NewReader(b), nil
}

// roots lists the partitions a configuration may read from: the one scanned and what the pool
// has mounted (GRUB's search may point at another).
func (c *configFetcher) roots() []string {
	roots := []string{c.dir}
	if c.pool != nil {
		for _, mp := range c.pool.MountPoints {
			roots = append(roots, mp.Path)
		}
	}
	return roots
}

// rootOf returns the root among roots whose path is the longest prefix of p, and p relative to it.
func rootOf(roots []string, p string) (root, rel string, ok bool) {
	for _, r := range roots {
		if under(r, p) && len(r) > len(root) {
			root = r
		}
	}
	if root == "" {
		return "", "", false
	}
	rel, err := filepath.Rel(root, p)
	return root, rel, err == nil
}

// describe names the partition mounted at dir for a message: its mount point and, if the pool
// knows it, its device.
func (c *configFetcher) describe(dir string) string {
	if c.pool != nil {
		for _, mp := range c.pool.MountPoints {
			if mp.Path == dir && mp.Device != "" {
				return fmt.Sprintf("%s (%s)", dir, mp.Device)
			}
		}
	}
	return dir
}

func (c *configFetcher) refuse(err error) error {
	if c.err == nil {
		c.err = fmt.Errorf("%w; refusing this partition's %s entries", err, c.kind)
	}
	return c.err
}

func (c *configFetcher) fetch(ctx context.Context, u *url.URL) ([]byte, error) {
	if c.err != nil {
		return nil, c.err
	}
	for _, x := range []context.Context{ctx, c.ctx} {
		if x == nil {
			continue
		}
		if err := x.Err(); err != nil {
			return nil, c.refuse(fmt.Errorf("reading %s configuration %s: %w", c.kind, u.Path, err))
		}
	}
	c.tried++
	if c.tried > maxConfigLookups {
		return nil, c.refuse(fmt.Errorf("more than %d configuration file look-ups (include of missing files?) under %s", maxConfigLookups, c.dir))
	}
	if u.Host != "" {
		return nil, c.refuse(fmt.Errorf("%s: only local files are read", u))
	}
	p := filepath.Clean(u.Path)
	if c.filter != nil && filepath.Base(p) == blscfgProbe {
		c.blscfgRoots = append(c.blscfgRoots, filepath.Dir(p))
		return []byte{}, nil
	}
	root, rel, ok := rootOf(c.roots(), p)
	if !ok {
		return nil, c.refuse(fmt.Errorf("%s is outside the partitions scanned; nothing off the disks is read", p))
	}
	if c.opened >= maxConfigFiles {
		return nil, c.refuse(fmt.Errorf("more than %d configuration files (configfile/include chain?) under %s", maxConfigFiles, c.dir))
	}
	b, err := readBeneath(root, rel, maxConfigSize)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, err // not there: the parser tries the next place
	}
	if err != nil {
		return nil, c.refuse(err)
	}
	c.opened++
	c.total += int64(len(b))
	if c.total > maxConfigTotal {
		return nil, c.refuse(fmt.Errorf("more than %d bytes of configuration under %s", maxConfigTotal, c.dir))
	}
	c.texts = append(c.texts, fetched{path: p, text: string(b)})
	if c.filter != nil {
		b = []byte(c.filter(string(b)))
	}
	return b, nil
}
