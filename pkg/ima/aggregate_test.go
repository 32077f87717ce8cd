package ima

import (
	"bufio"
	"bytes"
	"crypto"
	"encoding/hex"
	"os"
	"strconv"
	"strings"
	"testing"
)

// readPCRFile reads "bank index hex" lines (testdata/*.pcrs) into values by bank name.
func readPCRFile(t *testing.T, path string) map[string]map[uint32][]byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string]map[uint32][]byte{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		w := strings.Fields(sc.Text())
		if len(w) != 3 {
			t.Fatalf("%s: bad line %q", path, sc.Text())
		}
		i, err1 := strconv.ParseUint(w[1], 10, 32)
		v, err2 := hex.DecodeString(w[2])
		if err1 != nil || err2 != nil {
			t.Fatalf("%s: bad line %q", path, sc.Text())
		}
		if out[w[0]] == nil {
			out[w[0]] = map[uint32][]byte{}
		}
		out[w[0]][uint32(i)] = v
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestBootAggregateVectors checks BootAggregate against values computed outside this package with
// Python's hashlib, PCR i holding the byte i repeated (SHA-1: PCRs 0-7; others: 0-9):
//
//	hashlib.new(bank, b"".join(bytes([i]) * size for i in range(n))).hexdigest()
func TestBootAggregateVectors(t *testing.T) {
	for _, tc := range []struct {
		h    crypto.Hash
		n    int
		want string
	}{
		{crypto.SHA1, 8, "59348202947a48bc93f8827c12eb3f1b24a072d2"},
		{crypto.SHA256, 10, "a4cc7213a98bc92e113dad44ef63113826a16c3a6ca551d2b76244a49ae043dd"},
		{crypto.SHA384, 10, "c3c16ecfc903b5a67f2d5bf27dbbf5a0bd43c3e5b7b6988b113176fc75423db4122f7352f361fc5199fb52f4d79d99ce"},
		{crypto.SHA512, 10, "f4b4234abd804d585e477e1fc31e0f90c9c68e2a226432d659a522ba84fa6a237f02990a3cd53d2aabc470b97952585ed5c911db6f0cd683e895e13a867b0d14"},
	} {
		t.Run(tc.h.String(), func(t *testing.T) {
			pcrs := map[uint32][]byte{}
			// PCRs 10-23 are present and must be ignored; so are 8 and 9 for SHA-1.
			for i := 0; i < 24; i++ {
				pcrs[uint32(i)] = bytes.Repeat([]byte{byte(i)}, tc.h.Size())
			}
			got, err := BootAggregate(tc.h, pcrs)
			if err != nil || hex.EncodeToString(got) != tc.want {
				t.Errorf("BootAggregate(%v, PCR i = i...) = %x, %v, want %s", tc.h, got, err, tc.want)
			}
		})
	}
}

// TestBootAggregateLinux checks BootAggregate against the boot_aggregate a real kernel (Debian's
// 6.1, swtpm with four banks) recorded, from PCR values read in the same boot (testdata/README.md).
// That kernel hashes with SHA-256, so it used the SHA-256 bank and PCRs 0-9.
func TestBootAggregateLinux(t *testing.T) {
	pcrs := readPCRFile(t, "testdata/linux-6.1-swtpm.pcrs")
	b, err := os.ReadFile("testdata/linux-6.1-swtpm.ima.bin")
	if err != nil {
		t.Fatal(err)
	}
	list, err := ParseBinaryList(b, 20)
	if err != nil {
		t.Fatal(err)
	}
	if got := list[0].Name(); got != BootAggregateName {
		t.Fatalf("first entry is %q, want %q", got, BootAggregateName)
	}
	f, err := list[0].Fields()
	if err != nil {
		t.Fatal(err)
	}
	alg, recorded, err := SplitDigestNG(f[0])
	if err != nil || alg != "sha256" {
		t.Fatalf("SplitDigestNG(%q) = %q, %v, want sha256", f[0], alg, err)
	}
	got, err := BootAggregate(crypto.SHA256, pcrs["sha256"])
	if err != nil || !bytes.Equal(got, recorded) {
		t.Errorf("BootAggregate(sha256, testdata PCRs) = %x, %v, want the kernel's %x", got, err, recorded)
	}
	// The same PCRs in the SHA-1 bank give another value: the bank matters.
	if other, err := BootAggregate(crypto.SHA1, pcrs["sha1"]); err != nil || bytes.Equal(other, recorded) {
		t.Errorf("BootAggregate(sha1, testdata PCRs) = %x, %v, want a value other than the sha256 one", other, err)
	}
}

func TestBootAggregateErrors(t *testing.T) {
	full := func(size int) map[uint32][]byte {
		m := map[uint32][]byte{}
		for i := uint32(0); i < 10; i++ {
			m[i] = make([]byte, size)
		}
		return m
	}
	missing9 := full(32)
	delete(missing9, 9)
	short := full(32)
	short[3] = short[3][:31]
	sha1Without8 := full(20)
	delete(sha1Without8, 8)
	delete(sha1Without8, 9)
	for _, tc := range []struct {
		name    string
		h       crypto.Hash
		pcrs    map[uint32][]byte
		wantErr string
	}{
		{"sha256 needs PCR 9", crypto.SHA256, missing9, "no value for PCR 9"},
		{"short value", crypto.SHA256, short, "PCR 3 value is 31 bytes"},
		{"wrong bank size", crypto.SHA384, full(32), "PCR 0 value is 32 bytes, want 48"},
		{"unknown hash", crypto.MD4, full(16), "unsupported hash"},
		{"sha1 needs only 0-7", crypto.SHA1, sha1Without8, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := BootAggregate(tc.h, tc.pcrs)
			if tc.wantErr == "" {
				if err != nil {
					t.Errorf("BootAggregate(%v) = %v, want nil", tc.h, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("BootAggregate(%v) = %v, want an error containing %q", tc.h, err, tc.wantErr)
			}
		})
	}
}
