package kexec

import (
	"bytes"
	"errors"
	"os"
	"strings"
	"testing"
)

func open(t *testing.T, p string) Source {
	t.Helper()
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return Source{p, f}
}

// TestBudget: the buffers of one entry stay within the budget, Close returns their bytes, and a
// read over the limit is refused before anything is allocated.
func TestBudget(t *testing.T) {
	k := writeFile(t, bytes.Repeat([]byte("k"), 600))
	i := writeFile(t, bytes.Repeat([]byte("i"), 300))
	bud := NewBudget(1000)
	kb, err := ReadOpen(open(t, k), bud)
	if err != nil {
		t.Fatalf("ReadOpen(600 bytes, budget 1000) = %v", err)
	}
	if bud.Held() != 600 {
		t.Errorf("Held() = %d after a 600-byte read, want 600", bud.Held())
	}
	ib, parts, err := ReadOpenFiles("initrd", []Source{open(t, i), open(t, i)}, bud) // 300 + pad 0 + 300
	if err == nil {
		ib.Close()
		t.Fatalf("ReadOpenFiles(600 more bytes, 600 of 1000 held) = %+v, want refused", parts)
	}
	for _, want := range []string{"initrd (600 bytes) would make this entry hold 1200 bytes", "600 bytes held already", "the limit is 1000 bytes"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("over-budget error = %q, want it to contain %q", err, want)
		}
	}
	if !errors.Is(err, ErrOverBudget) || bud.Held() != 600 {
		t.Errorf("over-budget read: err %v, Held() = %d, want ErrOverBudget and 600 still held", err, bud.Held())
	}
	if _, err := ReadOpen(open(t, k), bud); !errors.Is(err, ErrOverBudget) || !strings.Contains(err.Error(), k) {
		t.Errorf("ReadOpen(%s, over budget) = %v, want ErrOverBudget naming the file", k, err)
	}
	// Growing a buffer by Append counts too.
	if err := kb.Append(bytes.Repeat([]byte("a"), 500), 4); !errors.Is(err, ErrOverBudget) {
		t.Errorf("Append(500 bytes, 600 of 1000 held) = %v, want ErrOverBudget", err)
	}
	if err := kb.Append(bytes.Repeat([]byte("a"), 100), 4); err != nil || bud.Held() != 700 {
		t.Errorf("Append(100 bytes) = %v, Held() = %d, want nil, 700", err, bud.Held())
	}
	kb.Close()
	kb.Close() // a second Close returns nothing twice
	if bud.Held() != 0 {
		t.Errorf("Held() = %d after Close, want 0", bud.Held())
	}
	ib, parts, err = ReadOpenFiles("initrd", []Source{open(t, i), open(t, i)}, bud)
	if err != nil {
		t.Fatalf("ReadOpenFiles(600 bytes, nothing held) = %v, want read", err)
	}
	if len(parts) != 2 || bud.Held() != 600 || string(ib.Bytes()[300:303]) != "iii" {
		t.Errorf("ReadOpenFiles = %+v, Held() %d, want 2 parts and 600 held", parts, bud.Held())
	}
	ib.Close()
	if bud.Held() != 0 {
		t.Errorf("Held() = %d after Close, want 0", bud.Held())
	}
}

func TestBudgetMessageNamesRAM(t *testing.T) {
	bud := ramBudget(1024 << 20)
	if bud.Limit() != 256<<20 {
		t.Fatalf("ramBudget(1024 MiB).Limit() = %d, want 256 MiB", bud.Limit())
	}
	err := bud.Reserve("/boot/initrd.img", 700<<20)
	want := "/boot/initrd.img (700 MiB) would make this entry hold 700 MiB of 1024 MiB RAM in memory (0 bytes held already); the limit is 256 MiB"
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("Reserve(700 MiB of a 1 GiB machine) = %v, want %q", err, want)
	}
	var nilBudget *Budget
	if err := nilBudget.Reserve("x", 1<<40); err != nil || nilBudget.Held() != 0 {
		t.Errorf("nil budget: Reserve = %v, want no limit", err)
	}
}

func TestMemoryLimit(t *testing.T) {
	limit, ram, err := MemoryLimit()
	if err != nil || ram <= 0 || limit != ram/RAMDivisor {
		t.Errorf("MemoryLimit() = %d, %d, %v, want a quarter of a positive RAM size", limit, ram, err)
	}
	b, err := MemoryBudget()
	if err != nil || b.Limit() != limit {
		t.Errorf("MemoryBudget() = %v, %v, want limit %d", b, err, limit)
	}
}

// TestReadOpenChecksTheDescriptor: a source given already open is checked with fstat too, and read
// from offset 0 whatever its file offset.
func TestReadOpenChecksTheDescriptor(t *testing.T) {
	dir := t.TempDir()
	d, err := os.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if _, err := ReadOpen(Source{dir, d}, nil); err == nil || !strings.Contains(err.Error(), dir+": a directory, not a regular file") {
		t.Errorf("ReadOpen(directory) = %v, want it refused as a directory", err)
	}
	src := open(t, writeFile(t, []byte("kernel")))
	src.File.Read(make([]byte, 3))
	b, err := ReadOpen(src, nil)
	if err != nil || string(b.Bytes()) != "kernel" {
		t.Fatalf("ReadOpen(file at offset 3) = %v, want the whole file", err)
	}
	b.Close()
}
