// Command measuredboot is the boot program of the measuredboot image: u-root's init starts it as
// uinit. It finds the next kernel on local disks, reads each file once into a sealed memfd, measures
// it into every active PCR bank as the embedded IMA policy says, hands the logs over in the next
// initramfs and kexecs, or refuses and halts.
//
// The process init starts is a supervisor (pkg/supervise): it ignores the console's signals, keeps
// out of the OOM killer's reach, and runs the boot itself as a child, this same program marked by
// supervise.ChildEnv, in a session without a controlling terminal. Only a child that exits with
// supervise.RecoveryExitCode (boot.ErrRecovery: the image says on_refuse=shell and the recovery event
// was measured) leads to the recovery shell, which the supervisor starts itself; every other end
// of the child (a refusal, a panic, a stack overflow, an OOM kill) halts the machine. The
// supervisor never returns to init, and the image has no /bin/sh for init to fall back to.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/measuredboot/measuredboot/pkg/boot"
	"github.com/measuredboot/measuredboot/pkg/supervise"
)

func main() {
	marker, ok := os.LookupEnv(supervise.ChildEnv)
	if supervise.IsChild(marker, ok, os.Getppid()) {
		os.Exit(runChild(os.Stdout, func(ctx context.Context, out io.Writer) error {
			return boot.Run(ctx, out, newSystem())
		}))
	}
	superviseBoot(bootChild{exe: selfExe, args: []string{"measuredboot"}, stdout: os.Stdout, stderr: os.Stderr},
		halt, func() error { return recoveryShell(selfExe, []string{shellName}) })
}

// shellName is the busybox command of the recovery shell (initramfs.ShellCommand), which only an
// image whose config says on_refuse=shell has.
const shellName = "gosh"

// exitCode says how the boot child ends after boot.Run returned err: RecoveryExitCode only for
// boot.ErrRecovery; RefusedExitCode, after printing the reason, for anything else (boot.Run
// returns only when nothing was booted).
func exitCode(out io.Writer, err error) int {
	switch {
	case errors.Is(err, boot.ErrRecovery):
		return supervise.RecoveryExitCode
	case err == nil:
		fmt.Fprintf(out, "measuredboot: the boot flow ended without booting and without a reason\n")
	default:
		fmt.Fprintf(out, "measuredboot: %v\n", err)
	}
	return supervise.RefusedExitCode
}
