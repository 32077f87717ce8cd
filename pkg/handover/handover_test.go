package handover

import (
	"bytes"
	"io"
	"testing"

	"github.com/u-root/mkuimage/cpio"
)

func TestArchive(t *testing.T) {
	files := map[string][]byte{"tcg.log": []byte("log"), "ima/ascii_runtime_measurements_sha256": []byte("10 ab ima-ng\n"), "../../init": []byte("evil")}
	a, err := Archive(files)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Archive(files)
	if err != nil || !bytes.Equal(a, b) {
		t.Fatalf("two archives of the same files differ (err %v)", err)
	}
	recs, err := cpio.ReadAllRecords(cpio.Newc.Reader(bytes.NewReader(a)))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	var names []string
	for _, r := range recs {
		names = append(names, r.Name)
		if r.MTime != 0 || r.UID != 0 {
			t.Errorf("record %s: mtime %d uid %d, want 0 0", r.Name, r.MTime, r.UID)
		}
		if r.Mode&cpio.S_IFMT == cpio.S_IFREG {
			c, _ := io.ReadAll(io.NewSectionReader(r.ReaderAt, 0, int64(r.FileSize)))
			got[r.Name] = string(c)
		}
	}
	want := map[string]string{
		"measuredboot/tcg.log":                               "log",
		"measuredboot/ima/ascii_runtime_measurements_sha256": "10 ab ima-ng\n",
		"measuredboot/init":                                  "evil", // a name can never leave Dir
	}
	for n, c := range want {
		if got[n] != c {
			t.Errorf("archive %s = %q, want %q (records %v)", n, got[n], c, names)
		}
	}
	if len(got) != len(want) {
		t.Errorf("archive files = %v, want %v", got, want)
	}
}
