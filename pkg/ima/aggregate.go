package ima

import (
	"crypto"
	"fmt"
)

// BootAggregateName is the n-ng name of the first entry of every kernel measurement list.
const BootAggregateName = "boot_aggregate"

// BootAggregate computes the digest the kernel records as the boot_aggregate entry's file
// digest (ima_calc_boot_aggregate in security/integrity/ima/ima_crypto.c): h over the values of
// PCRs 0-7, in order, of the PCR bank whose hash is h, followed for every bank but SHA-1 by PCRs 8
// and 9, "which contain measurement for the kernel command line (reg. 8) and image (reg. 9)"; a
// SHA-1 aggregate keeps to PCRs 0-7 "to avoid ambiguity" with the lists of older kernels, which
// always used the SHA-1 bank and PCRs 0-7 (the rule changed in 2020, Linux 5.8). pcrs holds that
// bank's values by PCR index; each must be h's digest size.
//
// The kernel picks the bank as follows: the one whose hash is its ima_hash (the default is
// SHA-256), else SHA-256, else SHA-1; the entry's d-ng field names the bank's hash. The
// aggregate is over the PCR values when IMA started: PCRs 0-9 extended later (by anything)
// change what this function returns, and the values prove nothing unless read from the TPM.
func BootAggregate(h crypto.Hash, pcrs map[uint32][]byte) ([]byte, error) {
	if !h.Available() {
		return nil, fmt.Errorf("%w: %v", ErrUnknownHash, h)
	}
	last := uint32(9)
	if h == crypto.SHA1 {
		last = 7
	}
	hh := h.New()
	for i := uint32(0); i <= last; i++ {
		v, ok := pcrs[i]
		if !ok {
			return nil, fmt.Errorf("ima: boot aggregate over PCRs 0-%d: no value for PCR %d", last, i)
		}
		if len(v) != h.Size() {
			return nil, fmt.Errorf("ima: boot aggregate over PCRs 0-%d: PCR %d value is %d bytes, want %d", last, i, len(v), h.Size())
		}
		hh.Write(v)
	}
	return hh.Sum(nil), nil
}
