#!/usr/bin/env bash
# guest-test.sh: runs the Go tests of the packages that need the boot kernel itself (its crypto
# API through AF_ALG, memfd seals) inside a QEMU guest of the Debian cloud kernel, the kernel the
# image boots on. The host's kernel may lack them (this project's CI host has no AF_ALG), and a
# test that took its host branch there would prove nothing: in the guest those tests see
# MEASUREDBOOT_GUEST=1 and fail where they would otherwise step aside. Exit 0 only if every
# package passed. GUEST_TEST_ARGS replaces the test binaries' arguments (default -test.v), e.g.
# "-test.run=^$ -test.bench=. -test.benchtime=3x" for make bench.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-$ROOT/build}
"$ROOT/scripts/deps.sh"
KERNEL=$(ls /boot/vmlinuz-*-cloud-amd64 | sort -V | tail -n1); KVER=${KERNEL#/boot/vmlinuz-}
PKGS=(pkg/kcrypto pkg/kexec)
MODS=(af_alg algif_hash) # in load order

work=$BUILD/guest-test
rm -rf "$work"; mkdir -p "$work/root/tests" "$work/root/modules"
cd "$ROOT"
CGO_ENABLED=0 go build -trimpath -o "$work/root/init" ./internal/guestinit
for p in "${PKGS[@]}"; do
  CGO_ENABLED=0 go test -c -trimpath -o "$work/root/tests/$(basename "$p").test" "./$p"
done
for m in "${MODS[@]}"; do
  f=$(find "/lib/modules/$KVER" -name "$m.ko" | head -n1)
  [ -n "$f" ] || { echo "guest-test: no $m.ko under /lib/modules/$KVER"; exit 1; }
  cp "$f" "$work/root/modules/"; echo "$m.ko" >> "$work/root/modules/order"
done
echo "${GUEST_TEST_ARGS:--test.v}" > "$work/root/tests/args"
(cd "$work/root" && find . | LC_ALL=C sort | cpio -o -H newc --quiet) > "$work/guest.cpio"
timeout "${QEMU_TIMEOUT:-240}" qemu-system-x86_64 -machine q35 -smp 2 -m 1024 -nographic -no-reboot \
  -kernel "$KERNEL" -initrd "$work/guest.cpio" -append "console=ttyS0 loglevel=3 rdinit=/init" \
  > "$work/console.log" 2>&1 || true
grep -a -- '^    \|^--- \|^Benchmark\|^guest-test:' "$work/console.log" || true
n=0
for p in "${PKGS[@]}"; do
  grep -aq "^guest-test: PASS $(basename "$p").test" "$work/console.log" ||
    { echo "guest-test: FAIL: $p did not pass in the guest (console: $work/console.log)"; exit 1; }
  n=$((n + 1))
done
if grep -aq '^guest-test: FAIL' "$work/console.log"; then echo "guest-test: FAIL (see above)"; exit 1; fi
echo "guest-test: $n packages passed in the guest kernel $KVER"
