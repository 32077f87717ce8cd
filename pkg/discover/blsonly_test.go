//go:build measuredboot_blsonly

package discover

const blsOnly = true
