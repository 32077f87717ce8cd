// Package kmod loads the kernel modules an image lists, in order: the image build resolved their
// dependencies from modules.dep, so no depmod data is needed at boot.
package kmod

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"strings"

	"golang.org/x/sys/unix"
)

// LoadList loads, in order, the module files listed one per line in the file at list. A module
// that is already loaded or built in is fine. A missing list means no modules (0, nil); a module
// that fails does not stop the others, and every failure is in the error.
func LoadList(list string) (int, error) {
	f, err := os.Open(list)
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	} else if err != nil {
		return 0, err
	}
	defer f.Close()
	n := 0
	var errs []error
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		p := strings.TrimSpace(sc.Text())
		if p == "" {
			continue
		}
		if err := Load(p); err != nil {
			errs = append(errs, err)
			continue
		}
		n++
	}
	if err := sc.Err(); err != nil {
		errs = append(errs, fmt.Errorf("%s: %w", list, err))
	}
	return n, errors.Join(errs...)
}

// Load loads the module file at path with finit_module; EEXIST (already loaded) is success.
func Load(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := unix.FinitModule(int(f.Fd()), "", 0); err != nil && !errors.Is(err, unix.EEXIST) {
		return fmt.Errorf("finit_module(%s): %w", path, err)
	}
	return nil
}
