// Package authenticode computes the Authenticode digest of a PE/COFF image: the hash UEFI
// firmware extends into PCR 4 when it starts an EFI application (EV_EFI_BOOT_SERVICES_APPLICATION)
// and the one a Secure Boot signature signs. The digest leaves out the header's CheckSum, the
// certificate table's directory entry and the certificate table itself, so signing an image
// (sbsign) does not change it; the sections are hashed in file order, then whatever follows
// them but the certificate table (the PE/COFF specification's "Calculating the PE Image Hash", as
// EDK2's DxeTpm2MeasureBootLib does it).
package authenticode

import (
	"crypto"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
)

// ErrFormat means bytes that are not a PE/COFF image this package can hash.
var ErrFormat = errors.New("authenticode: not a PE/COFF image")

// MaxSections bounds the section table (the PE/COFF specification's limit).
const MaxSections = 96

// Digest returns the Authenticode digest of the PE/COFF image b with hash h.
func Digest(b []byte, h crypto.Hash) ([]byte, error) {
	if !h.Available() {
		return nil, fmt.Errorf("authenticode: hash %v is not linked in", h)
	}
	ranges, err := Ranges(b)
	if err != nil {
		return nil, err
	}
	hh := h.New()
	for _, r := range ranges {
		hh.Write(b[r[0]:r[1]])
	}
	return hh.Sum(nil), nil
}

// Ranges returns the byte ranges [start, end) of b that the Authenticode digest covers, in the
// order they are hashed. Every range lies within b.
func Ranges(b []byte) ([][2]int, error) {
	fail := func(format string, a ...any) error {
		return fmt.Errorf("%w: %s", ErrFormat, fmt.Sprintf(format, a...))
	}
	u16 := func(off int) (int, bool) {
		if off < 0 || off+2 > len(b) {
			return 0, false
		}
		return int(binary.LittleEndian.Uint16(b[off:])), true
	}
	u32 := func(off int) (uint32, bool) {
		if off < 0 || off+4 > len(b) {
			return 0, false
		}
		return binary.LittleEndian.Uint32(b[off:]), true
	}
	if len(b) < 0x40 || b[0] != 'M' || b[1] != 'Z' {
		return nil, fail("no MZ header")
	}
	lfanew, _ := u32(0x3c)
	pe := int(lfanew)
	if lfanew > uint32(len(b)) || pe+24 > len(b) || string(b[pe:pe+4]) != "PE\x00\x00" {
		return nil, fail("no PE signature at offset %d (e_lfanew)", lfanew)
	}
	nsec, _ := u16(pe + 6)
	optSize, _ := u16(pe + 20)
	opt := pe + 24
	magic, ok := u16(opt)
	if !ok {
		return nil, fail("the optional header at offset %d is cut", opt)
	}
	var ddOff int // the data directories
	var nrva uint32
	switch magic {
	case 0x10b: // PE32
		ddOff = opt + 96
		nrva, ok = u32(opt + 92)
	case 0x20b: // PE32+
		ddOff = opt + 112
		nrva, ok = u32(opt + 108)
	default:
		return nil, fail("optional header magic 0x%x, want 0x10b or 0x20b", magic)
	}
	if !ok {
		return nil, fail("the optional header at offset %d is cut", opt)
	}
	checksum := opt + 64
	hdrs, ok := u32(opt + 60)
	if !ok || hdrs > uint32(len(b)) || int(hdrs) < checksum+4 {
		return nil, fail("SizeOfHeaders %d: want at least the optional header's CheckSum, at most the file (%d bytes)", hdrs, len(b))
	}
	sizeOfHeaders := int(hdrs)
	secTable := opt + optSize
	if nsec > MaxSections || secTable+40*nsec > len(b) {
		return nil, fail("%d sections at offset %d: more than %d, or past the end", nsec, secTable, MaxSections)
	}
	var ranges [][2]int
	certSize := 0
	if nrva > 4 {
		cert := ddOff + 4*8
		if cert+8 > secTable || cert+8 > sizeOfHeaders {
			return nil, fail("the certificate table's directory entry at offset %d is outside the headers", cert)
		}
		certOff, _ := u32(cert)
		cs, _ := u32(cert + 4)
		if cs > 0 && (uint64(certOff)+uint64(cs) != uint64(len(b)) || int(certOff) < sizeOfHeaders) {
			return nil, fail("the certificate table (%d bytes at offset %d) does not end the file (%d bytes)", cs, certOff, len(b))
		}
		certSize = int(cs)
		ranges = append(ranges, [2]int{0, checksum}, [2]int{checksum + 4, cert}, [2]int{cert + 8, sizeOfHeaders})
	} else {
		ranges = append(ranges, [2]int{0, checksum}, [2]int{checksum + 4, sizeOfHeaders})
	}
	type section struct{ ptr, size int }
	var secs []section
	for i := range nsec {
		s := secTable + 40*i
		size, _ := u32(s + 16)
		ptr, _ := u32(s + 20)
		if size == 0 {
			continue
		}
		if uint64(ptr)+uint64(size) > uint64(len(b)-certSize) {
			return nil, fail("section %d (%q): %d bytes at offset %d run past the image's end (%d bytes without its certificate table)",
				i, sectionName(b[s:s+8]), size, ptr, len(b)-certSize)
		}
		secs = append(secs, section{int(ptr), int(size)})
	}
	slices.SortStableFunc(secs, func(a, b section) int { return a.ptr - b.ptr })
	hashed := sizeOfHeaders
	for _, s := range secs {
		ranges = append(ranges, [2]int{s.ptr, s.ptr + s.size})
		hashed += s.size
	}
	if rest := len(b) - certSize; rest > hashed {
		ranges = append(ranges, [2]int{hashed, rest})
	}
	return ranges, nil
}

func sectionName(b []byte) string {
	if i := slices.Index(b, 0); i >= 0 {
		b = b[:i]
	}
	return string(b)
}
