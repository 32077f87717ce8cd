# measuredboot: the two commands for a new user are `make qemu` and `make test` (as root on
# Debian 12; each installs what it needs).
SHELL := /bin/bash
BUILD ?= build
POLICY ?= configs/policy
KEYS ?=
DIGESTS ?=
CONFIG ?=
MODULES ?= configs/modules
BLSONLY ?=
FUZZTIME ?= 30s
KERNEL ?= $(lastword $(sort $(wildcard /boot/vmlinuz-*-cloud-amd64)))
KVER = $(patsubst /boot/vmlinuz-%,%,$(KERNEL))
IMAGE ?= $(BUILD)/measuredboot.cpio.xz
FIRMWARE ?=
FLASH ?=
SBKEY ?=
SBCERT ?=
export PATH := $(PATH):/usr/sbin:/sbin

.PHONY: help all deps mbctl initramfs payload qemu test unit vet fuzz bench clean guest scenarios

# A bare `make` lists the targets.
help:
	@echo "measuredboot: make TARGET (as root on Debian 12; each target installs what it needs)"
	@echo "  qemu        build the image and boot the demo under QEMU + swtpm, console on the terminal"
	@echo "              (FIRMWARE=uefi: the LinuxBoot payload from an EFI system partition under OVMF)"
	@echo "  test        everything below, timed: deps, vet, unit, guest, scenarios"
	@echo "  initramfs   build the boot image: build/measuredboot.cpio.xz (POLICY= KEYS= DIGESTS= CONFIG= BLSONLY=1)"
	@echo "  payload     the LinuxBoot payload: build/payload.efi, a kernel with the image built in, and its"
	@echo "              fit in 16 MiB and 8 MiB coreboot flash (FLASH=8M: not fitting is an error;"
	@echo "              SBKEY= SBCERT=: also build/payload.signed.efi, signed for Secure Boot)"
	@echo "  mbctl       build the host tool: build/mbctl (build, policy check, sign, verify, predict, seal)"
	@echo "  deps        install the Debian packages the build and the tests need"
	@echo "  vet         go vet, gofmt, go mod tidy -diff, and no binary tracked in git"
	@echo "  unit        go test ./... (fuzz seeds included), and the -bls-only build's tests"
	@echo "  guest       the tests that need the boot kernel, in a QEMU guest of it"
	@echo "  scenarios   every QEMU scenario under scenarios/ (scripts/qemu-test.sh), with a timing table"
	@echo "  fuzz        every fuzz target for FUZZTIME (default 30s): make fuzz FUZZTIME=10m"
	@echo "  bench       speed and size against baselines (BENCHMARKS.md)"
	@echo "  all         the same as initramfs"
	@echo "  clean       remove build/ (the compiled base images stay in ~/.cache/measuredboot)"

all: initramfs

deps:
	@scripts/deps.sh

mbctl:
	@mkdir -p $(BUILD)
	go build -trimpath -o $(BUILD)/mbctl ./cmds/mbctl

# The boot image: u-root init + measuredboot + modules + policy + keys, xz-compressed.
initramfs: deps mbctl
	$(eval KERNEL := $(lastword $(sort $(wildcard /boot/vmlinuz-*-cloud-amd64))))
	$(BUILD)/mbctl build -policy $(POLICY) $(if $(KEYS),-keys $(KEYS)) $(if $(DIGESTS),-digests $(DIGESTS)) \
	  $(foreach c,$(CONFIG),-config $(c)) $(if $(BLSONLY),-bls-only) \
	  -modules-dir /lib/modules/$(patsubst /boot/vmlinuz-%,%,$(KERNEL)) -modules $(MODULES) -o $(IMAGE)
	@ls -l $(IMAGE) && sha256sum $(IMAGE)

# The LinuxBoot payload: configs/linuxboot.config on Debian's kernel source (the objects cached in
# ~/.cache/measuredboot/kernel), with the image built in; signed when SBKEY and SBCERT are given.
payload: deps mbctl
	$(BUILD)/mbctl build -policy $(POLICY) $(if $(KEYS),-keys $(KEYS)) $(if $(DIGESTS),-digests $(DIGESTS)) \
	  $(foreach c,$(CONFIG),-config $(c)) $(if $(BLSONLY),-bls-only) -o $(BUILD)/payload-image.cpio.xz
	FLASH=$(FLASH) scripts/payload.sh -image $(BUILD)/payload-image.cpio.xz -o $(BUILD)/payload.efi
	$(if $(SBKEY),sbsign --key $(SBKEY) --cert $(SBCERT) --output $(BUILD)/payload.signed.efi $(BUILD)/payload.efi)

# The main job: boot the demo under QEMU + swtpm with the console on the terminal (FIRMWARE=uefi:
# the payload under OVMF).
qemu: deps
	INTERACTIVE=1 BUILD=$(abspath $(BUILD)) scripts/qemu-test.sh scenarios/$(if $(FIRMWARE),$(FIRMWARE),demo)

vet:
	@scripts/check-tree.sh
	@go mod tidy -diff || { echo "go.mod/go.sum are not as 'go mod tidy' leaves them: run go mod tidy"; exit 1; }
	go vet ./...
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo "gofmt needed"; exit 1; }

unit:
	go test ./...
	go test -tags measuredboot_blsonly ./pkg/discover ./pkg/boot

# The tests of packages that need the boot kernel (AF_ALG, memfd seals), run in a QEMU guest of it.
guest: deps
	BUILD=$(abspath $(BUILD)) scripts/guest-test.sh

# Every QEMU scenario.
scenarios: deps
	BUILD=$(abspath $(BUILD)) scripts/qemu-test.sh

# Everything: vet, unit tests (fuzz seeds included), the guest tests and every QEMU scenario, each
# step timed (scripts/test.sh).
test:
	@scripts/test.sh

# Longer fuzzing of every parser of untrusted bytes: make fuzz FUZZTIME=10m
fuzz:
	@for t in $$(grep -l '^func Fuzz' $$(git ls-files '*_test.go')); do \
	  d=./$$(dirname $$t); \
	  for f in $$(grep -o '^func Fuzz[A-Za-z0-9_]*' $$t | cut -d' ' -f2); do \
	    echo "== $$d $$f"; go test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$d || exit 1; \
	  done; \
	done

# Speed and size against baselines measured in the same run (see BENCHMARKS.md). Not part of test.
bench: deps
	BUILD=$(abspath $(BUILD)) scripts/bench.sh

clean:
	rm -rf $(BUILD)
