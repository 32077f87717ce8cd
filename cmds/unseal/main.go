// Command unseal unseals, with this machine's TPM, a secret mbctl seal wrote: from a file or from
// the block device it was written to. It is the on-machine half of mbctl seal, for the next
// system and for a recovery console (an image built with -extra-cmd and on_refuse=shell). It
// prints "unseal: unsealed N bytes, sha256 HEX" and writes the secret only to -o; when the TPM
// refuses it prints why (the PCRs that differ from the sealed-to values, or another TPM's blob)
// and exits 1.
//
//	unseal [-tpm /dev/tpmrm0] [-o FILE] BLOB
package main

import (
	"crypto/sha256"
	"flag"
	"fmt"
	"os"

	"github.com/measuredboot/measuredboot/pkg/seal"
)

func main() {
	tpmPath := flag.String("tpm", "/dev/tpmrm0", "the TPM device")
	out := flag.String("o", "", "write the secret to this file (mode 0600); default: print only its digest")
	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: unseal [-tpm /dev/tpmrm0] [-o FILE] BLOB\n\nUnseals BLOB (a file, or the block device mbctl seal's blob was written to) with the TPM.")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() != 1 {
		flag.Usage()
		os.Exit(2)
	}
	secret, usage, err := seal.UnsealFile(*tpmPath, flag.Arg(0))
	if usage != "" {
		fmt.Printf("unseal: tpm: %s\n", usage)
	}
	if err != nil {
		fmt.Printf("unseal: refused: %v\n", err)
		os.Exit(1)
	}
	fmt.Printf("unseal: unsealed %d bytes, sha256 %x\n", len(secret), sha256.Sum256(secret))
	if *out != "" {
		if err := os.WriteFile(*out, secret, 0o600); err != nil {
			fmt.Printf("unseal: %v\n", err)
			os.Exit(1)
		}
	}
}
