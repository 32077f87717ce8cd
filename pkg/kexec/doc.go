// Package kexec holds the files to be handed to the next kernel in sealed memfds and loads the next
// kernel from exactly those memfds with kexec_file_load(2).
//
// A file is read once, straight from the disk into the memory of a memfd, and the caller hashes
// that same memory (Buffer.Bytes). The memfd is sealed against shrinking at once and against any
// write before it is loaded, so the kernel reads the bytes that were hashed. The only change allowed
// between the two is Buffer.Append, which adds bytes after the measured prefix (the handover
// segment for the initramfs) and can never touch the prefix.
package kexec
