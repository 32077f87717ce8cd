package discover

// Bounds on what one partition's boot configuration may make discovery do. The attacker writes
// the disk: without them a configfile or include loop recursed until the Go stack overflowed
// (fatal) and a huge configuration could take the boot's memory and time.
const (
	// maxConfigFiles bounds the configuration files one parser reads on one partition: the
	// first grub.cfg or syslinux configuration and every configfile or include it chains to.
	maxConfigFiles = 16
	// maxConfigLookups bounds how many configuration files a parser may try to open on one
	// partition, found or not (the probe list, includes of missing files).
	maxConfigLookups = 128
	// maxConfigSize bounds one configuration file, BLS entry file or grubenv.
	maxConfigSize = 1 << 20
	// maxConfigTotal bounds all configuration bytes one parser reads on one partition.
	maxConfigTotal = 4 << 20
	// maxEntries bounds the entries one parser may give for one partition; more is an error
	// for that parser, not a silent cut.
	maxEntries = 64
)
