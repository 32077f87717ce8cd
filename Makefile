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
export PATH := $(PATH):/usr/sbin:/sbin

.PHONY: all deps mbctl initramfs qemu test unit vet fuzz bench clean guest

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

# The main job: boot the demo under QEMU + swtpm with the console on the terminal.
qemu: deps
	INTERACTIVE=1 BUILD=$(abspath $(BUILD)) scripts/qemu-test.sh scenarios/demo

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

# Everything: vet, unit tests (fuzz seeds included), the guest tests and every QEMU scenario.
test: deps vet unit guest
	BUILD=$(abspath $(BUILD)) scripts/qemu-test.sh

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
