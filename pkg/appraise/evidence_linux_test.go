package appraise

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// setIMA sets security.ima on p, or skips when neither the file system nor the user may (it needs
// root: the tests run as root in CI).
func setIMA(t *testing.T, p string, v []byte) {
	t.Helper()
	if err := unix.Setxattr(p, "security.ima", v, 0); err != nil {
		if os.Geteuid() != 0 || errors.Is(err, unix.EOPNOTSUPP) {
			t.Skipf("setxattr(%s, security.ima) needs root and a file system with xattrs: %v", p, err)
		}
		t.Fatalf("setxattr(%s, security.ima): %v", p, err)
	}
}

func readEvidenceWithin(t *testing.T, p string) (Evidence, error) {
	t.Helper()
	type result struct {
		ev  Evidence
		err error
	}
	done := make(chan result, 1)
	go func() { ev, err := ReadEvidence(p); done <- result{ev, err} }()
	select {
	case r := <-done:
		return r.ev, r.err
	case <-time.After(3 * time.Second):
		t.Fatalf("ReadEvidence(%q) blocked for 3s, want an error at once", p)
		return Evidence{}, nil
	}
}

// TestReadEvidenceSigFIFO: a FIFO as FILE.sig used to block the boot forever in open(2).
func TestReadEvidenceSigFIFO(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "vmlinuz")
	if err := os.WriteFile(p, []byte("kernel"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mkfifo(p+".sig", 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := readEvidenceWithin(t, p)
	if err == nil || !strings.Contains(err.Error(), p+".sig: a FIFO, not a regular file") {
		t.Errorf("ReadEvidence(%q) with a FIFO as .sig = %v, want %q", p, err, p+".sig: a FIFO, not a regular file")
	}
}

// TestReadEvidenceSpecialSig: a link or a device as FILE.sig is an error, not evidence and not
// "no evidence".
func TestReadEvidenceSpecialSig(t *testing.T) {
	for _, target := range []string{"/dev/null", "real.sig"} {
		dir := t.TempDir()
		p := filepath.Join(dir, "vmlinuz")
		os.WriteFile(p, []byte("kernel"), 0o644)
		os.WriteFile(filepath.Join(dir, "real.sig"), []byte("\x03\x02sig"), 0o644)
		if err := os.Symlink(target, p+".sig"); err != nil {
			t.Fatal(err)
		}
		ev, err := readEvidenceWithin(t, p)
		if err == nil || !strings.Contains(err.Error(), "symbolic link") {
			t.Errorf("ReadEvidence with .sig -> %s = %+v, %v, want an error saying it is a symbolic link", target, ev, err)
		}
	}
}

// TestReadEvidenceXattrNotThroughLink: security.ima is read from the file itself, never through a
// link (getxattr(2) follows one: the old code returned the link target's signature).
func TestReadEvidenceXattrNotThroughLink(t *testing.T) {
	dir := t.TempDir()
	signed := filepath.Join(dir, "signed")
	os.WriteFile(signed, []byte("kernel"), 0o644)
	setIMA(t, signed, []byte("\x03\x02signature"))
	link := filepath.Join(dir, "vmlinuz")
	if err := os.Symlink(signed, link); err != nil {
		t.Fatal(err)
	}
	ev, err := readEvidenceWithin(t, link)
	if err == nil || ev.XAttr != nil {
		t.Errorf("ReadEvidence(link to a signed file) = xattr %q, %v, want no evidence and an error", ev.XAttr, err)
	}
	// The file itself: its xattr, no .sig.
	ev, err = readEvidenceWithin(t, signed)
	if err != nil || !bytes.Equal(ev.XAttr, []byte("\x03\x02signature")) || ev.SigFile != nil {
		t.Errorf("ReadEvidence(%q) = %+v, %v, want the xattr and no .sig", signed, ev, err)
	}
}

func TestReadEvidenceMissing(t *testing.T) {
	p := filepath.Join(t.TempDir(), "vmlinuz")
	os.WriteFile(p, []byte("kernel"), 0o644)
	ev, err := readEvidenceWithin(t, p)
	if err != nil || ev.SigFile != nil || ev.XAttr != nil {
		t.Errorf("ReadEvidence(%q) without .sig or xattr = %+v, %v, want no evidence, nil", p, ev, err)
	}
}

func TestReadSigFileBound(t *testing.T) {
	p := filepath.Join(t.TempDir(), "vmlinuz")
	os.WriteFile(p, []byte("kernel"), 0o644)
	os.WriteFile(p+".sig", bytes.Repeat([]byte{3}, MaxSigFile+1), 0o644)
	if _, err := ReadEvidence(p); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Errorf("ReadEvidence with a %d-byte .sig = %v, want a size error", MaxSigFile+1, err)
	}
	os.WriteFile(p+".sig", bytes.Repeat([]byte{3}, MaxSigFile), 0o644)
	if ev, err := ReadEvidence(p); err != nil || len(ev.SigFile) != MaxSigFile {
		t.Errorf("ReadEvidence with a %d-byte .sig = %d bytes, %v, want it read", MaxSigFile, len(ev.SigFile), err)
	}
}
