package seal

import (
	pb "github.com/google/go-tpm-tools/proto/tpm"
	"github.com/google/go-tpm/tpmutil"
)

func tpmutilHandle(pcr int) tpmutil.Handle { return tpmutil.Handle(pcr) }

// sealedFor returns a SealedBytes naming b's bank and PCRs, with no key material.
func sealedFor(b *Blob) *pb.SealedBytes {
	s := &pb.SealedBytes{Hash: pb.HashAlgo(b.Bank)}
	for p := range b.PCRs {
		s.Pcrs = append(s.Pcrs, p)
	}
	return s
}
