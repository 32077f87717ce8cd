package discover

import (
	"errors"
	"strings"
)

// u-root's GRUB and BLS parsers keep one initrd per entry (GRUB the first path of "initrd a b",
// BLS the first word of the last initrd line); early images such as CPU microcode come first in
// such lists, the main initramfs last. Discovery recovers each entry's full list from that
// entry's own configuration text (grubcfg.go, blsentries.go) and hands it to fromImage in the
// image's Initrd field as one of these two types.

// errNotRead is what reading one of these placeholders gives: discovery never reads a kernel or
// initramfs, the caller reads each file once.
var errNotRead = errors.New("discover: initrd list is a set of paths, not read by discovery")

// initrdFiles is an entry's full initrd list, absolute paths in the boot environment, in order.
type initrdFiles []string

// ReadAt implements io.ReaderAt so the list can stand in boot.LinuxImage.Initrd; it reads nothing.
func (initrdFiles) ReadAt([]byte, int64) (int, error) { return 0, errNotRead }

// String names the files.
func (f initrdFiles) String() string { return strings.Join(f, ",") }

// unresolvedInitrds stands for the initrds of an entry whose own list could not be told
// (ambiguous, or no configuration line matches); fromImage refuses the entry with err.
type unresolvedInitrds struct{ err error }

// ReadAt implements io.ReaderAt; it returns the reason the list is unknown.
func (u unresolvedInitrds) ReadAt([]byte, int64) (int, error) { return 0, u.err }
