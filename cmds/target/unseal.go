package main

import (
	"crypto/sha256"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/measuredboot/measuredboot/pkg/kmod"
	"github.com/measuredboot/measuredboot/pkg/seal"
)

// unsealFrom unseals the blob mbctl seal wrote to the block device dev (a partition holding the
// blob at its start, as the sealing scenarios write it) with the TPM, and prints
// "target: unsealed N bytes, sha256 HEX" or "target: unseal refused: WHY". It loads the
// initramfs's modules first (the disk's driver). The verdict does not change the target's PASS:
// the scenarios judge the line.
func unsealFrom(out io.Writer, dev string) {
	if strings.ContainsAny(dev, "/.") || dev == "" {
		fmt.Fprintf(out, "target: unseal refused: measuredboot.unseal=%q is not a block device name\n", dev)
		return
	}
	if n, err := kmod.LoadList("/modules/order"); err != nil {
		fmt.Fprintf(out, "target: loading modules (%d loaded): %v\n", n, err)
	}
	path := filepath.Join("/dev", dev)
	// The disk appears once its driver has probed it: wait for the node, then read it once.
	var err error
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if _, err = os.Stat(path); err == nil || time.Now().After(deadline) {
			break
		}
	}
	if err != nil {
		fmt.Fprintf(out, "target: unseal refused: %v\n", err)
		return
	}
	secret, usage, err := seal.UnsealFile("/dev/tpmrm0", path)
	if err != nil {
		fmt.Fprintf(out, "target: unseal refused: %v\n", err)
	} else {
		fmt.Fprintf(out, "target: unsealed %d bytes, sha256 %x\n", len(secret), sha256.Sum256(secret))
	}
	if usage != "" {
		fmt.Fprintf(out, "target: unseal: tpm: %s\n", usage)
	}
}
