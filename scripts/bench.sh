#!/usr/bin/env bash
# bench.sh: prints one table, each figure beside its baseline measured in the same run:
# hashing against sha256sum, verifying a log against tpm2_eventlog, sealing against clevis, boot-to-kexec with the default policy against a policy that does
# nothing, TPM commands, and the image's size against a plain u-root image of the same commands.
# RUNS=N and BOOTS=N set the repetitions (default 5 for hashing and 5 boots per side: a TCG
# guest on a shared host is noisy).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-$ROOT/build}
RUNS=${RUNS:-5}
BOOTS=${BOOTS:-5}
"$ROOT/scripts/deps.sh"
mkdir -p "$BUILD/bench"
(cd "$ROOT" && go build -trimpath -o "$BUILD/mbctl" ./cmds/mbctl)
MBCTL=$BUILD/mbctl
KERNEL=$(ls /boot/vmlinuz-*-cloud-amd64 | sort -V | tail -n1); KVER=${KERNEL#/boot/vmlinuz-}

median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
spread() { sort -g | awk 'NR==1{lo=$1} {hi=$1} END {printf "%.3f-%.3f", lo, hi}'; }
secs() { local s e; s=$(date +%s.%N); "$@" >/dev/null; e=$(date +%s.%N); echo "$e - $s" | bc -l; }

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(date -u +%F)"
echo

# 1. Hashing: a 64 MiB file, read once and hashed, plus the template digests of 4 banks.
f=$BUILD/bench/64MiB.bin
head -c 64M /dev/urandom > "$f"
cat "$f" > /dev/null
: > "$BUILD/bench/mb.txt"; : > "$BUILD/bench/sum.txt"
for _ in $(seq "$RUNS"); do
  "$MBCTL" hashbench "$f" >> "$BUILD/bench/mb.txt"
  secs sha256sum "$f" >> "$BUILD/bench/sum.txt"
done
mb=$(median < "$BUILD/bench/mb.txt"); sum=$(median < "$BUILD/bench/sum.txt")
printf '%-52s %10s %10s %8s\n' "figure" "project" "baseline" "ratio"
printf '%-52s %9.0f/s %9.0f/s %7.2fx\n' "hashing 64 MiB, MiB/s (baseline: sha256sum)" \
  "$(echo "64 / $mb" | bc -l)" "$(echo "64 / $sum" | bc -l)" "$(echo "$sum / $mb" | bc -l)"

# 1a. Verifying a log: mbctl verify of an 8.7 MB TCG log (30,000 events, 4 banks) and its IMA list
# against the PCR values, against tpm2_eventlog parsing and replaying the same TCG log.
mkdir -p "$BUILD/bench/log"
size=$("$MBCTL" benchlog "$BUILD/bench/log")
: > "$BUILD/bench/verify.txt"; : > "$BUILD/bench/eventlog.txt"
for _ in $(seq "$RUNS"); do
  secs "$MBCTL" verify -tcg "$BUILD/bench/log/tcg.log" -ima "$BUILD/bench/log/ima" -pcrs "$BUILD/bench/log/pcrs" >> "$BUILD/bench/verify.txt"
  secs tpm2_eventlog "$BUILD/bench/log/tcg.log" >> "$BUILD/bench/eventlog.txt"
done
vt=$(median < "$BUILD/bench/verify.txt"); et=$(median < "$BUILD/bench/eventlog.txt")
printf '%-52s %8.1f/s %8.1f/s %7.2fx\n' "verify $((size / 1000000)) MB log, MB/s (baseline: tpm2_eventlog)" \
  "$(echo "$size / 1000000 / $vt" | bc -l)" "$(echo "$size / 1000000 / $et" | bc -l)" "$(echo "$et / $vt" | bc -l)"

# 1c. Sealing a 32-byte secret to PCRs 8 and 9 and unsealing it, on swtpm: pkg/seal (go-tpm-tools,
# the storage root key persisted) against clevis's tpm2 pin (tpm2-tools, a new primary key each
# time), TPM commands counted on our side.
(cd "$ROOT" && go test -run '^$' -bench BenchmarkSealUnseal -benchtime 50x ./pkg/seal) > "$BUILD/bench/seal.txt"
ss=$(awk '$1 ~ /SealUnseal\/seal-/ {print $3 / 1e6}' "$BUILD/bench/seal.txt")
us=$(awk '$1 ~ /SealUnseal\/unseal-/ {print $3 / 1e6}' "$BUILD/bench/seal.txt")
sc=$(awk '$1 ~ /SealUnseal\/seal-/ {print $5}' "$BUILD/bench/seal.txt")
uc=$(awk '$1 ~ /SealUnseal\/unseal-/ {print $5}' "$BUILD/bench/seal.txt")
port=$(( 20000 + RANDOM % 20000 ))
mkdir -p "$BUILD/bench/swtpm"
swtpm socket --tpm2 --tpmstate dir="$BUILD/bench/swtpm" --server type=tcp,port=$port,bindaddr=127.0.0.1 \
  --ctrl type=tcp,port=$((port + 1)),bindaddr=127.0.0.1 --flags not-need-init,startup-clear &
spid=$!
export TPM2TOOLS_TCTI="swtpm:host=127.0.0.1,port=$port"
for _ in $(seq 50); do (exec 3<>/dev/tcp/127.0.0.1/$((port + 1))) 2>/dev/null && break; sleep 0.1; done
head -c 32 /dev/urandom > "$BUILD/bench/secret"
: > "$BUILD/bench/clevis-enc.txt"; : > "$BUILD/bench/clevis-dec.txt"
flush() { tpm2_flushcontext -l >/dev/null 2>&1 || true; tpm2_flushcontext -s >/dev/null 2>&1 || true; }
for _ in $(seq "$RUNS"); do
  flush
  s=$(date +%s.%N); clevis encrypt tpm2 '{"pcr_bank":"sha256","pcr_ids":"8,9"}' < "$BUILD/bench/secret" > "$BUILD/bench/secret.jwe"; e=$(date +%s.%N)
  echo "($e - $s) * 1000" | bc -l >> "$BUILD/bench/clevis-enc.txt"
  flush
  s=$(date +%s.%N); clevis decrypt < "$BUILD/bench/secret.jwe" > /dev/null; e=$(date +%s.%N)
  echo "($e - $s) * 1000" | bc -l >> "$BUILD/bench/clevis-dec.txt"
done
kill $spid; wait $spid 2>/dev/null || true
unset TPM2TOOLS_TCTI
ce=$(median < "$BUILD/bench/clevis-enc.txt"); cd_=$(median < "$BUILD/bench/clevis-dec.txt")
printf '%-52s %8.2fms %8.1fms %7.3fx\n' "seal on swtpm, $(printf %.0f "$sc") TPM commands (baseline: clevis)" "$ss" "$ce" "$(echo "$ss / $ce" | bc -l)"
printf '%-52s %8.2fms %8.1fms %7.3fx\n' "unseal on swtpm, $(printf %.0f "$uc") TPM commands (baseline: clevis)" "$us" "$cd_" "$(echo "$us / $cd_" | bc -l)"

# 1d. An attestation (mbctl attest on swtpm, an event_format=grub boot's log): its size against the
# TCG log it carries, and mbctl verify -attestation (go-tpm-tools' quote and log checks, then our
# replay against the quoted values) against mbctl verify of the same log with the values in a file.
(cd "$ROOT" && go test -run '^$' -bench BenchmarkVerifyAttestation -benchtime 50x ./cmds/mbctl) > "$BUILD/bench/attest.txt"
at=$(awk '$1 ~ /VerifyAttestation\/attestation-/ {print $3 / 1e6}' "$BUILD/bench/attest.txt")
pt=$(awk '$1 ~ /VerifyAttestation\/pcrs-/ {print $3 / 1e6}' "$BUILD/bench/attest.txt")
ab=$(awk '$1 ~ /VerifyAttestation\/attestation-/ {print $5}' "$BUILD/bench/attest.txt")
lb=$(awk '$1 ~ /VerifyAttestation\/attestation-/ {print $7}' "$BUILD/bench/attest.txt")
printf '%-52s %8.2fms %8.2fms %7.2fx\n' "verify -attestation (baseline: -tcg with -pcrs)" "$at" "$pt" "$(echo "$at / $pt" | bc -l)"
printf '%-52s %10d %10d %7.2fx\n' "attestation, bytes (baseline: the TCG log in it)" "$ab" "$lb" "$(echo "$ab / $lb" | bc -l)"

# 1b. The file digest inside the TCG guest, where Go has no SHA instructions: the kernel's crypto
# API (AF_ALG), which measuredboot uses there, against Go's portable code (pkg/kcrypto's benchmark).
GUEST_TEST_ARGS='-test.run=^$ -test.bench=SHA256 -test.benchtime=3x' BUILD=$BUILD "$ROOT/scripts/guest-test.sh" \
  > "$BUILD/bench/guest-bench.log" 2>&1 || { echo "bench: guest benchmark failed, see $BUILD/bench/guest-bench.log"; exit 1; }
gk=$(sed -n 's/^BenchmarkSHA256\/kernel[^ ]* .* \([0-9.]*\) MB\/s.*$/\1/p' "$BUILD/guest-test/console.log")
gg=$(sed -n 's/^BenchmarkSHA256\/go[^ ]* .* \([0-9.]*\) MB\/s.*$/\1/p' "$BUILD/guest-test/console.log")
printf '%-52s %8.1f/s %8.1f/s %7.2fx\n' "SHA-256 of 16 MiB in the guest, MB/s (baseline: Go)" "$gk" "$gg" "$(echo "$gk / $gg" | bc -l)"

# 2. Boot: uinit start to kexec on the guest's clock, default policy against a do-nothing policy
# and against u-root's own boot path (bench/urootboot) booting the same entry.
# The runs alternate (default, nothing, uroot, default, ...) so that a slow spell of the host
# does not fall on one side only.
for s in default nothing uroot; do : > "$BUILD/bench/boot-$s.txt"; : > "$BUILD/bench/tpm-$s.txt"; : > "$BUILD/bench/tpmt-$s.txt"; done
for _ in $(seq "$BOOTS"); do
  for s in default nothing uroot; do
    BUILD=$BUILD "$ROOT/scripts/qemu-test.sh" "$ROOT/bench/scenarios/$s" > "$BUILD/bench/qemu-$s.log" 2>&1 ||
      { echo "bench: scenario $s failed, see $BUILD/bench/qemu-$s.log"; exit 1; }
    log=$BUILD/scenarios/$s/console.log
    sed -n 's/^\(measuredboot\|uroot-boot\): time: .*; total \([0-9.]*\)s$/\2/p' "$log" >> "$BUILD/bench/boot-$s.txt"
    sed -n 's/^measuredboot: tpm: \([0-9]*\) commands in \([0-9.]*\)s: .*$/\1/p' "$log" >> "$BUILD/bench/tpm-$s.txt"
    sed -n 's/^measuredboot: tpm: \([0-9]*\) commands in \([0-9.]*\)s: .*$/\2/p' "$log" >> "$BUILD/bench/tpmt-$s.txt"
    cp "$log" "$BUILD/bench/console-$s.log"
  done
done
bd=$(median < "$BUILD/bench/boot-default.txt"); bn=$(median < "$BUILD/bench/boot-nothing.txt"); bu=$(median < "$BUILD/bench/boot-uroot.txt")
printf '%-52s %9.3fs %9.3fs %7.2fx\n' "boot to kexec, median of $BOOTS (baseline: no-op policy)" "$bd" "$bn" "$(echo "$bd / $bn" | bc -l)"
printf '%-52s %10s %10s\n' "  spread (min-max)" "$(spread < "$BUILD/bench/boot-default.txt")" "$(spread < "$BUILD/bench/boot-nothing.txt")"
printf '%-52s %9.3fs %9.3fs %7.2fx\n' "boot to kexec (baseline: u-root's boot path, no menu)" "$bd" "$bu" "$(echo "$bd / $bu" | bc -l)"
printf '%-52s %10s %10s\n' "  spread (min-max)" "$(spread < "$BUILD/bench/boot-default.txt")" "$(spread < "$BUILD/bench/boot-uroot.txt")"
td=$(median < "$BUILD/bench/tpmt-default.txt"); tn=$(median < "$BUILD/bench/tpmt-nothing.txt")
printf '%-52s %10s %10s\n' "TPM commands per boot (baseline: no-op policy)" "$(median < "$BUILD/bench/tpm-default.txt")" "$(median < "$BUILD/bench/tpm-nothing.txt")"
printf '%-52s %9.3fs %9.3fs %7.2fx\n' "TPM time per boot, median" "$td" "$tn" "$(echo "$td / $tn" | bc -l)"
grep '^measuredboot: tpm:' "$BUILD/bench/console-default.log" | sed 's/^measuredboot: tpm: /  TPM, default policy: /'
grep '^measuredboot: tpm:' "$BUILD/bench/console-nothing.log" | sed 's/^measuredboot: tpm: /  TPM, no-op policy: /'
grep '^measuredboot: time:' "$BUILD/bench/console-default.log" | sed 's/^measuredboot: /  phases, default policy: /'
grep '^measuredboot: time:' "$BUILD/bench/console-nothing.log" | sed 's/^measuredboot: /  phases, no-op policy: /'
grep '^uroot-boot: time:' "$BUILD/bench/console-uroot.log" | sed 's/^uroot-boot: /  phases, u-root boot path: /'
grep '^measuredboot: bytes' "$BUILD/bench/console-default.log" | sed 's/^measuredboot: /  /'

# 3. Size: the image against a plain u-root image with the same commands and no measuredboot.
"$MBCTL" build -policy "$ROOT/configs/policy" -modules-dir "/lib/modules/$KVER" -modules "$ROOT/configs/modules" -o "$BUILD/bench/mb.cpio.xz" 2>/dev/null
"$MBCTL" build -no-boot-program -policy "$ROOT/configs/policy" -modules-dir "/lib/modules/$KVER" -modules "$ROOT/configs/modules" -o "$BUILD/bench/plain.cpio.xz" 2>/dev/null
"$MBCTL" build -no-boot-program -extra-cmd github.com/u-root/u-root/cmds/boot/boot -policy "$ROOT/configs/policy" -modules-dir "/lib/modules/$KVER" -modules "$ROOT/configs/modules" -o "$BUILD/bench/uboot.cpio.xz" 2>/dev/null
a=$(stat -c %s "$BUILD/bench/mb.cpio.xz"); p=$(stat -c %s "$BUILD/bench/plain.cpio.xz"); u=$(stat -c %s "$BUILD/bench/uboot.cpio.xz")
printf '%-52s %10d %10d %7.2fx\n' "image, xz bytes (baseline: same u-root image w/o it)" "$a" "$p" "$(echo "$a / $p" | bc -l)"
printf '%-52s %10d %10d %7.2fx\n' "  (baseline: that image + u-root's boot command)" "$a" "$u" "$(echo "$a / $u" | bc -l)"
"$MBCTL" build -bls-only -policy "$ROOT/configs/policy" -modules-dir "/lib/modules/$KVER" -modules "$ROOT/configs/modules" -o "$BUILD/bench/bls.cpio.xz" 2>/dev/null
b=$(stat -c %s "$BUILD/bench/bls.cpio.xz")
printf '%-52s %10d %10d %7.2fx\n' "image built -bls-only (baseline: plain u-root image)" "$b" "$p" "$(echo "$b / $p" | bc -l)"
# part IMAGE REGEX: the uncompressed bytes of the files matching REGEX in every archive of the image
# (the compiled base and the data archive are separate xz streams, each a cpio archive).
part() {
  local img=$BUILD/bench/$1.cpio.xz
  xz --robot -lv "$img" | awk '$1 == "stream" {print $4}' | while read -r off; do
    tail -c +$((off + 1)) "$img" | xz -dc --single-stream | cpio -itv --quiet 2>/dev/null
  done | awk -v re="$2" '$NF ~ re {s+=$5} END {print s+0}'
}
bb=$(part mb '^bbin/bb$'); ubb=$(part plain '^bbin/bb$')
printf '  parts, uncompressed bytes: busybox %d = u-root commands %d (the plain image'"'"'s) + measuredboot %d;\n' "$bb" "$ubb" $((bb - ubb))
printf '    modules %d; policy %d, key list %d, config and module list %d\n' "$(part mb '^lib/modules/')" \
  "$(part mb '^etc/measuredboot/policy')" "$(part mb '^etc/measuredboot/keys.list$')" "$(part mb '^etc/measuredboot/(config|modules)$')"
(cd "$ROOT" && CGO_ENABLED=0 go build -tags nethttpomithttp2 -trimpath -ldflags='-s -w' -o "$BUILD/bench/measuredboot" ./cmds/measuredboot)
printf '  measuredboot alone as a stripped static binary: %d bytes\n' "$(stat -c %s "$BUILD/bench/measuredboot")"
