package main

import (
	"context"
	"crypto"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/google/go-tpm/tpm2/transport/linuxtpm"
	"github.com/u-root/u-root/pkg/mount"
	"github.com/u-root/u-root/pkg/mount/block"
	"golang.org/x/sys/unix"

	"github.com/measuredboot/measuredboot/pkg/appraise"
	"github.com/measuredboot/measuredboot/pkg/boot"
	"github.com/measuredboot/measuredboot/pkg/discover"
	"github.com/measuredboot/measuredboot/pkg/imasig"
	"github.com/measuredboot/measuredboot/pkg/kcrypto"
	"github.com/measuredboot/measuredboot/pkg/kexec"
	"github.com/measuredboot/measuredboot/pkg/kmod"
	"github.com/measuredboot/measuredboot/pkg/tpm"
)

const (
	modulesList   = "/etc/measuredboot/modules"
	securityfs    = "/sys/kernel/security"
	biosLog       = securityfs + "/tpm0/binary_bios_measurements"
	imaPolicy     = securityfs + "/ima/policy"
	imaASCII      = securityfs + "/ima/ascii_runtime_measurements"
	tpmDevice     = "/dev/tpmrm0"
	blockDevWait  = 5 * time.Second
	crossCheckIMA = "measure func=KEXEC_KERNEL_CHECK\nmeasure func=KEXEC_INITRAMFS_CHECK\n"
)

// linuxSystem is the real machine.
type linuxSystem struct {
	pool *mount.Pool
	// budget bounds the memory one entry's buffers hold (kexec.MemoryBudget); budgetErr is why
	// there is none, and then no file is read.
	budget    *kexec.Budget
	budgetErr error
}

func newSystem() *linuxSystem {
	s := &linuxSystem{pool: &mount.Pool{}}
	s.budget, s.budgetErr = kexec.MemoryBudget()
	return s
}

// LoadModules loads, in order, the modules the image lists (the build resolved their
// dependencies). A module that is already loaded or built in is fine.
func (s *linuxSystem) LoadModules() (int, error) { return kmod.LoadList(modulesList) }

func (s *linuxSystem) ReadConfig(path string) ([]byte, error) { return os.ReadFile(path) }

func (s *linuxSystem) OpenTPM() (boot.TPM, error) {
	t, err := linuxtpm.Open(tpmDevice)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", tpmDevice, err)
	}
	return tpm.New(t), nil
}

func mountSecurityFS() error {
	if _, err := os.Stat(filepath.Join(securityfs, "tpm0")); err == nil {
		return nil
	}
	if _, err := os.Stat(filepath.Join(securityfs, "ima")); err == nil {
		return nil
	}
	if err := unix.Mount("securityfs", securityfs, "securityfs", 0, ""); err != nil && !errors.Is(err, unix.EBUSY) {
		return fmt.Errorf("mount securityfs on %s: %w", securityfs, err)
	}
	return nil
}

func (s *linuxSystem) FirmwareLog() ([]byte, error) {
	if err := mountSecurityFS(); err != nil {
		return nil, err
	}
	return os.ReadFile(biosLog)
}

// Entries waits briefly for block devices (virtio_blk and USB storage probe asynchronously): for
// a first disk, and for every device boot_devices names; then it scans those the settings allow
// (discover.Scan: the order and the selection are documented at discover.Options).
func (s *linuxSystem) Entries(ctx context.Context, opts discover.Options) ([]discover.Entry, []discover.Probe) {
	var devs block.BlockDevices
	deadline := time.Now().Add(blockDevWait)
	for {
		d, err := block.GetBlockDevices()
		if err == nil {
			devs = d.FilterZeroSize()
		}
		ready := len(devs) > 0 && len(discover.Missing("/sys", devs, opts)) == 0
		if ready || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	return discover.Scan(ctx, devs, s.pool, opts)
}

func (s *linuxSystem) ReadFile(path string) (*kexec.Buffer, error) {
	budget, err := s.budgetFor(path)
	if err != nil {
		return nil, err
	}
	src, err := s.openOnPartition(path)
	if err != nil {
		return nil, err
	}
	defer src.File.Close()
	return kexec.ReadOpen(src, budget)
}

// ReadFiles reads paths, files on scanned partitions, into one memfd as ReadFile reads one.
func (s *linuxSystem) ReadFiles(name string, paths []string) (*kexec.Buffer, []kexec.Part, error) {
	budget, err := s.budgetFor(name)
	if err != nil {
		return nil, nil, err
	}
	srcs := make([]kexec.Source, 0, len(paths))
	defer func() {
		for _, src := range srcs {
			src.File.Close()
		}
	}()
	for _, p := range paths {
		src, err := s.openOnPartition(p)
		if err != nil {
			return nil, nil, err
		}
		srcs = append(srcs, src)
	}
	return kexec.ReadOpenFiles(name, srcs, budget)
}

func (s *linuxSystem) KexecLoad(k, i *kexec.Buffer, cmdline string) error {
	return kexec.Load(k, i, cmdline)
}

func (s *linuxSystem) KexecReboot() error {
	s.pool.UnmountAll(mount.MNT_DETACH)
	// The last lines (the kexec line a person and the tests look for) must leave the UART before
	// the next kernel resets it: wait until the console's output is sent (tcdrain). The wait ends
	// early with EINTR when a signal arrives, and the Go runtime signals its own threads (SIGURG,
	// for preemption): retry until it completes, or the lines can be lost.
	for _, fd := range []int{1, 2} {
		for i := 0; i < 100; i++ {
			if err := unix.IoctlSetInt(fd, unix.TCSBRK, 1); err != unix.EINTR {
				break
			}
		}
	}
	// Under OVMF the last lines were still lost now and then after the drain: give the UART and
	// the machine's console 100 ms more (a mitigation; the cause is not found).
	time.Sleep(100 * time.Millisecond)
	return kexec.Reboot()
}

func (s *linuxSystem) EnableKernelIMA() error {
	if err := mountSecurityFS(); err != nil {
		return err
	}
	return os.WriteFile(imaPolicy, []byte(crossCheckIMA), 0o600)
}

func (s *linuxSystem) KernelIMA() ([]string, error) {
	b, err := os.ReadFile(imaASCII)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		if strings.Contains(l, "memfd:") {
			out = append(out, l)
		}
	}
	return out, nil
}

// Evidence reads path.sig and the security.ima extended attribute of path, both opened beneath
// the mount point of path's partition without following links (readEvidence).
func (s *linuxSystem) Evidence(path string) (appraise.Evidence, error) {
	return s.readEvidence(path)
}

// Keys reads the key list built into the image (imasig.ParseKeyList); an image without one has
// no keys.
func (s *linuxSystem) Keys() ([]imasig.Key, error) {
	b, err := os.ReadFile(boot.KeyListPath)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	} else if err != nil {
		return nil, err
	}
	return imasig.ParseKeyList(boot.KeyListPath, b)
}

// FileHasher picks how file digests are computed: Go's crypto where Go has the CPU's SHA or
// AVX2 instructions for SHA-256, else the kernel's (AF_ALG; under QEMU's TCG about twice as fast
// as Go's portable code). A hash the kernel cannot compute (its module not loaded) is computed in Go;
// a kernel error never passes for a digest.
func (s *linuxSystem) FileHasher() (func(crypto.Hash, []byte) ([]byte, error), string) {
	if kcrypto.GoAccelerated(crypto.SHA256) {
		return nil, "Go (this CPU has SHA or AVX2 instructions for it)"
	}
	if _, err := kcrypto.Sum(crypto.SHA256, []byte("probe")); err != nil {
		return nil, fmt.Sprintf("Go, portable code (the kernel's crypto API: %v)", err)
	}
	drv, err := kcrypto.Driver(crypto.SHA256)
	if err != nil {
		drv = "?"
	}
	sum := func(h crypto.Hash, data []byte) ([]byte, error) {
		d, err := kcrypto.Sum(h, data)
		if errors.Is(err, unix.ENOENT) || kcrypto.Name(h) == "" {
			hh := h.New() // not in this kernel (an unloaded module): Go's
			hh.Write(data)
			return hh.Sum(nil), nil
		}
		return d, err
	}
	return sum, fmt.Sprintf("the kernel's crypto API (AF_ALG sha256 = %s): Go has no SHA instructions on this CPU", drv)
}
