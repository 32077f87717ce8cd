//go:build !measuredboot_blsonly

package discover

const blsOnly = false
