// Package partfs opens files on a boot partition beneath its root without following links.
//
// The boot disk is the attacker's: a symbolic link on it can point anywhere in the boot
// environment (`boot -> /sys` hands over this environment's own /sys/firmware), a FIFO blocks
// open(2) forever, and a device node runs a driver when it is read. Every file the boot program
// reads from a disk is therefore opened with openat(2)'s successor openat2(2), relative to a
// descriptor of the partition's mount point, with
//
//	RESOLVE_BENEATH       no "..", no absolute path, nothing above the mount point
//	RESOLVE_NO_SYMLINKS   no symbolic link anywhere in the path, not even one inside the partition
//	RESOLVE_NO_MAGICLINKS no /proc/PID/fd-style link
//	RESOLVE_NO_XDEV       no crossing into another mount (a file system mounted inside the partition)
//
// and O_NONBLOCK|O_NOFOLLOW|O_NOCTTY|O_CLOEXEC, so that opening a FIFO or a device cannot block or
// take a terminal; the type is then checked with fstat(2) on the open descriptor (not by path,
// which could change between the check and the open), and only a regular file is returned, in
// blocking mode, ready to be read once.
//
// Root finds which mount point holds a path (the longest that contains it), Open opens one file,
// WalkFiles lists the regular files under a directory the same way. OpenPath is the plain-path
// variant for files that are not on a scanned partition (host tools, tests): it refuses a final
// link and any special file, but follows links in the directories above.
//
// openat2(2) needs Linux 5.6 or later; on an older kernel every Open fails with ENOSYS, and nothing
// is read from the disk (fail closed).
package partfs
