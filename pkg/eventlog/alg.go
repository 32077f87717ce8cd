package eventlog

import (
	"crypto"
	"fmt"

	// Register the hashes a PCR bank can use, so Alg.Hash's results are usable.
	_ "crypto/sha1"
	_ "crypto/sha256"
	_ "crypto/sha512"
)

// Alg is a TPM_ALG_ID naming the hash algorithm of a PCR bank (TCG Algorithm Registry).
type Alg uint16

// The hash algorithms a crypto-agile log can list.
const (
	AlgSHA1   Alg = 0x0004
	AlgSHA256 Alg = 0x000B
	AlgSHA384 Alg = 0x000C
	AlgSHA512 Alg = 0x000D
	AlgSM3    Alg = 0x0012 // SM3_256; this package knows its size but cannot compute it.
)

// String returns the lower-case name tpm2-tools uses ("sha1", "sha256", "sm3_256"), or
// "Alg(0x....)" for an algorithm this package does not know.
func (a Alg) String() string {
	switch a {
	case AlgSHA1:
		return "sha1"
	case AlgSHA256:
		return "sha256"
	case AlgSHA384:
		return "sha384"
	case AlgSHA512:
		return "sha512"
	case AlgSM3:
		return "sm3_256"
	}
	return fmt.Sprintf("Alg(0x%04x)", uint16(a))
}

// Size returns the digest size of a in bytes, or 0 if a is unknown.
func (a Alg) Size() int {
	switch a {
	case AlgSHA1:
		return 20
	case AlgSHA256, AlgSM3:
		return 32
	case AlgSHA384:
		return 48
	case AlgSHA512:
		return 64
	}
	return 0
}

// Hash returns the Go hash for a. It returns false for SM3 and unknown algorithms, whose
// digests this package can carry but not compute.
func (a Alg) Hash() (crypto.Hash, bool) {
	switch a {
	case AlgSHA1:
		return crypto.SHA1, true
	case AlgSHA256:
		return crypto.SHA256, true
	case AlgSHA384:
		return crypto.SHA384, true
	case AlgSHA512:
		return crypto.SHA512, true
	}
	return 0, false
}

// AlgFromName returns the algorithm named s, as Alg.String spells it; "sm3" is accepted for SM3.
func AlgFromName(s string) (Alg, bool) {
	switch s {
	case "sha1":
		return AlgSHA1, true
	case "sha256":
		return AlgSHA256, true
	case "sha384":
		return AlgSHA384, true
	case "sha512":
		return AlgSHA512, true
	case "sm3_256", "sm3":
		return AlgSM3, true
	}
	return 0, false
}

// EventType is the untrusted type field of an event. The TPM never sees it: a log can claim any
// type for a digest, so a type says what an event is meant to be, not what it is.
type EventType uint32

// Event types from the TCG PC Client Platform Firmware Profile.
const (
	EvPostCode         EventType = 0x1
	EvNoAction         EventType = 0x3 // not extended into any PCR; its digests are zero
	EvSeparator        EventType = 0x4
	EvAction           EventType = 0x5
	EvEventTag         EventType = 0x6
	EvSCRTMVersion     EventType = 0x8
	EvIPL              EventType = 0xD
	EvIPLPartitionData EventType = 0xE
	// EvEFIBootServicesApplication is UEFI firmware's record of an EFI application it started
	// (PCR 4): its digests are the application's Authenticode digests.
	EvEFIBootServicesApplication EventType = 0x80000003
)

// String returns the spec's name for t ("EV_IPL"), or "EventType(0x........)" if it has none here.
func (t EventType) String() string {
	switch t {
	case 0x0:
		return "EV_PREBOOT_CERT"
	case EvPostCode:
		return "EV_POST_CODE"
	case 0x2:
		return "EV_UNUSED"
	case EvNoAction:
		return "EV_NO_ACTION"
	case EvSeparator:
		return "EV_SEPARATOR"
	case EvAction:
		return "EV_ACTION"
	case EvEventTag:
		return "EV_EVENT_TAG"
	case 0x7:
		return "EV_S_CRTM_CONTENTS"
	case EvSCRTMVersion:
		return "EV_S_CRTM_VERSION"
	case 0x9:
		return "EV_CPU_MICROCODE"
	case 0xA:
		return "EV_PLATFORM_CONFIG_FLAGS"
	case 0xB:
		return "EV_TABLE_OF_DEVICES"
	case 0xC:
		return "EV_COMPACT_HASH"
	case EvIPL:
		return "EV_IPL"
	case EvIPLPartitionData:
		return "EV_IPL_PARTITION_DATA"
	case 0xF:
		return "EV_NONHOST_CODE"
	case 0x10:
		return "EV_NONHOST_CONFIG"
	case 0x11:
		return "EV_NONHOST_INFO"
	case 0x12:
		return "EV_OMIT_BOOT_DEVICE_EVENTS"
	case 0x80000001:
		return "EV_EFI_VARIABLE_DRIVER_CONFIG"
	case 0x80000002:
		return "EV_EFI_VARIABLE_BOOT"
	case EvEFIBootServicesApplication:
		return "EV_EFI_BOOT_SERVICES_APPLICATION"
	case 0x80000004:
		return "EV_EFI_BOOT_SERVICES_DRIVER"
	case 0x80000005:
		return "EV_EFI_RUNTIME_SERVICES_DRIVER"
	case 0x80000006:
		return "EV_EFI_GPT_EVENT"
	case 0x80000007:
		return "EV_EFI_ACTION"
	case 0x80000008:
		return "EV_EFI_PLATFORM_FIRMWARE_BLOB"
	case 0x80000009:
		return "EV_EFI_HANDOFF_TABLES"
	case 0x8000000A:
		return "EV_EFI_PLATFORM_FIRMWARE_BLOB2"
	case 0x8000000B:
		return "EV_EFI_HANDOFF_TABLES2"
	case 0x8000000C:
		return "EV_EFI_VARIABLE_BOOT2"
	case 0x80000010:
		return "EV_EFI_HCRTM_EVENT"
	case 0x800000E0:
		return "EV_EFI_VARIABLE_AUTHORITY"
	case 0x800000E1:
		return "EV_EFI_SPDM_FIRMWARE_BLOB"
	case 0x800000E2:
		return "EV_EFI_SPDM_FIRMWARE_CONFIG"
	}
	return fmt.Sprintf("EventType(0x%08x)", uint32(t))
}
