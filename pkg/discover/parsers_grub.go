//go:build !measuredboot_blsonly

package discover

import (
	"context"

	"github.com/u-root/u-root/pkg/boot"
	"github.com/u-root/u-root/pkg/boot/grub"
	"github.com/u-root/u-root/pkg/boot/syslinux"
	"github.com/u-root/u-root/pkg/mount"
	"github.com/u-root/u-root/pkg/mount/block"
)

func init() {
	parsers = append(parsers,
		parser{"grub", grub.ParseLocalConfig},
		parser{"syslinux", func(ctx context.Context, dir string, _ block.BlockDevices, _ *mount.Pool) ([]boot.OSImage, error) {
			return syslinux.ParseLocalConfig(ctx, dir)
		}})
}
