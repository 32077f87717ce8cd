package kexec

import (
	"errors"
	"fmt"
	"strconv"
	"sync"

	"golang.org/x/sys/unix"
)

// RAMDivisor is how much of RAM the buffers of one boot entry may hold: 1/RAMDivisor of it. Every
// byte held in a memfd is held again when kexec_file_load copies the kernel and the initramfs
// into the segments of the next kernel, the boot environment itself runs from RAM (its
// initramfs), and the handover archive is built in Go's heap; a quarter for the buffers leaves
// room for the second copy and the rest, where a disk with a huge initrd would otherwise push the
// boot environment out of memory in the middle of the boot.
const RAMDivisor = 4

// ErrOverBudget is wrapped by every read refused because it would hold more memory than its
// Budget allows.
var ErrOverBudget = errors.New("over the memory budget")

// Budget bounds the bytes all buffers of one boot entry hold together. Every read reserves its
// size before allocating and Buffer.Close returns it, so refusing an entry (which closes its
// buffers) frees its share for the next. A nil *Budget is no limit beyond MaxFileSize. It is safe
// for concurrent use.
type Budget struct {
	mu    sync.Mutex
	limit int64
	ram   int64 // the machine's RAM, for the message; 0 if unknown
	held  int64
}

// NewBudget returns a budget of limit bytes.
func NewBudget(limit int64) *Budget { return &Budget{limit: limit} }

// MemoryLimit returns the machine's RAM, from sysinfo(2), and the budget for one entry's
// buffers: 1/RAMDivisor of it.
func MemoryLimit() (limit, ram int64, err error) {
	var si unix.Sysinfo_t
	if err := unix.Sysinfo(&si); err != nil {
		return 0, 0, fmt.Errorf("sysinfo: %w", err)
	}
	ram = int64(si.Totalram) * int64(si.Unit)
	if ram <= 0 {
		return 0, 0, fmt.Errorf("sysinfo: total RAM %d x %d bytes: not a size", si.Totalram, si.Unit)
	}
	return ram / RAMDivisor, ram, nil
}

// MemoryBudget returns a budget of MemoryLimit's bytes: 1/RAMDivisor of this machine's RAM.
func MemoryBudget() (*Budget, error) {
	_, ram, err := MemoryLimit()
	if err != nil {
		return nil, fmt.Errorf("sizing the memory budget: %w", err)
	}
	return ramBudget(ram), nil
}

// ramBudget is the budget for a machine with ram bytes of RAM.
func ramBudget(ram int64) *Budget { return &Budget{limit: ram / RAMDivisor, ram: ram} }

// Reserve takes n more bytes for what (a file's path or a buffer's name), or fails, naming what,
// n, what is held already and the limit, when the total would exceed the limit.
func (b *Budget) Reserve(what string, n int64) error {
	if b == nil {
		return nil
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if n < 0 || b.held+n > b.limit || b.held+n < b.held {
		of, why := "", ""
		if b.ram > 0 {
			of = " of " + size(b.ram) + " RAM"
			why = fmt.Sprintf(", 1/%d of RAM, as kexec_file_load copies every byte again", RAMDivisor)
		}
		return fmt.Errorf("%s (%s) would make this entry hold %s%s in memory (%s held already); the limit is %s%s: %w",
			what, size(n), size(b.held+n), of, size(b.held), size(b.limit), why, ErrOverBudget)
	}
	b.held += n
	return nil
}

// Release returns n bytes taken by Reserve.
func (b *Budget) Release(n int64) {
	if b == nil {
		return
	}
	b.mu.Lock()
	b.held -= n
	b.mu.Unlock()
}

// Held returns the bytes reserved and not yet released.
func (b *Budget) Held() int64 {
	if b == nil {
		return 0
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.held
}

// Limit returns the budget's limit in bytes (0 for a nil budget, which has none).
func (b *Budget) Limit() int64 {
	if b == nil {
		return 0
	}
	return b.limit
}

// size formats n bytes for a person: bytes below 1 MiB, else MiB with one decimal if needed.
func size(n int64) string {
	if n < 1<<20 {
		return strconv.FormatInt(n, 10) + " bytes"
	}
	if n%(1<<20) == 0 {
		return strconv.FormatInt(n>>20, 10) + " MiB"
	}
	return strconv.FormatFloat(float64(n)/(1<<20), 'f', 1, 64) + " MiB"
}
