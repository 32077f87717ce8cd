//go:build !linux

package discover

import (
	"errors"
	"os"

	"golang.org/x/sys/unix"
)

// errNoOpenat2 is what every disk read of discovery returns off Linux: it opens boot
// configurations only through openat2(2), which keeps a lookup on the partition.
var errNoOpenat2 = errors.New("discover reads boot disks only on Linux (openat2 with RESOLVE_BENEATH)")

func statBeneath(root, rel string) (unix.Stat_t, error)       { return unix.Stat_t{}, errNoOpenat2 }
func checkRegular(root, rel string) error                     { return errNoOpenat2 }
func openBeneath(root, rel string) (*os.File, error)          { return nil, errNoOpenat2 }
func readBeneath(root, rel string, max int64) ([]byte, error) { return nil, errNoOpenat2 }
func listBeneath(root, rel string) ([]string, error)          { return nil, errNoOpenat2 }
