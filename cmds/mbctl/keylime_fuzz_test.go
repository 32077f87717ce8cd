package main

import (
	"bytes"
	"encoding/binary"
	"testing"
	"unicode/utf16"
)

// FuzzParseUEFIVariable: any bytes (a firmware log's EV_EFI_VARIABLE_DRIVER_CONFIG data) give a
// variable whose lengths account for every byte, or an error; never a panic or an allocation the
// bytes do not back.
func FuzzParseUEFIVariable(f *testing.F) {
	f.Add(uefiVariableData(efiGlobalVariable, "SecureBoot", []byte{1}))
	f.Add(uefiVariableData(efiGlobalVariable, "PK", bytes.Repeat([]byte{0xa5}, 64)))
	f.Add(uefiVariableData([16]byte{}, "", nil))
	f.Add([]byte{})
	huge := uefiVariableData(efiGlobalVariable, "db", []byte{1})
	binary.LittleEndian.PutUint64(huge[16:], 1<<63)
	f.Add(huge)
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := parseUEFIVariable(b)
		if err != nil {
			return
		}
		if n := 32 + 2*len(utf16.Encode([]rune(v.Name))) + len(v.Data); n != len(b) {
			t.Errorf("parseUEFIVariable(%x) = %+v, which accounts for %d bytes of %d", b, v, n, len(b))
		}
		if !bytes.Equal(v.Data, b[len(b)-len(v.Data):]) {
			t.Errorf("parseUEFIVariable(%x): data %x is not the bytes' tail", b, v.Data)
		}
	})
}
