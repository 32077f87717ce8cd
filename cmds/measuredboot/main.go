// Command measuredboot is the boot program of the measuredboot image: u-root's init starts it as
// uinit. It finds the next kernel on local disks, reads each file once into a sealed memfd, measures
// it into every active PCR bank as the embedded IMA policy says, hands the logs over in the next
// initramfs and kexecs, or refuses and halts. It never returns to init unless the image allows a
// recovery shell.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/measuredboot/measuredboot/pkg/boot"
)

func main() {
	d := newSystem()
	err := boot.Run(context.Background(), os.Stdout, d)
	if err != nil && !errors.Is(err, boot.ErrRecovery) {
		fmt.Fprintf(os.Stdout, "measuredboot: %v\n", err)
	}
	d.Stop(err)
}
