#!/bin/bash
# payload-check.sh: boots build/payload.efi (scripts/payload.sh) under QEMU (TCG) + swtpm against
# the demo scenario's disk, and shows the console. A proof by hand, not a test harness.
#
#   scripts/payload-check.sh [seabios|uefi|both] [PAYLOAD] [DISK]
#
#   seabios  -machine q35, SeaBIOS, -kernel PAYLOAD -append console=ttyS0, tpm-tis; the demo disk
#            as virtio-blk.
#   uefi     -machine q35,smm=on, OVMF_CODE_4M.fd + a copy of OVMF_VARS_4M.fd (no Secure Boot keys),
#            tpm-crb; disk 1: a GPT disk whose EFI system partition holds PAYLOAD as
#            \EFI\BOOT\BOOTX64.EFI, disk 2: the demo disk.
# PAYLOAD defaults to build/payload.efi, DISK to build/scenarios/demo/disk.img (made by
# `BUILD=$PWD/build scripts/qemu-test.sh scenarios/demo`; it is copied first). Work directory and
# console logs: build/payload/check-MODE/. Exit 0 if every boot printed "target: PASS".
# INITRD=FILE (seabios only) adds an external initrd, unpacked over the built-in one (debugging).
# Every process it starts (swtpm, QEMU) is stopped by its PID before it returns.
set -euo pipefail
export PATH=$PATH:/usr/sbin:/sbin
ROOT=$(cd "$(dirname "$0")/.." && pwd)
MODE=${1:-both} PAYLOAD=${2:-$ROOT/build/payload.efi} DISK=${3:-$ROOT/build/scenarios/demo/disk.img}
TIMEOUT=${QEMU_TIMEOUT:-240}
[ -f "$PAYLOAD" ] || { echo "payload-check: $PAYLOAD not found (scripts/payload.sh)"; exit 1; }
[ -f "$DISK" ] || { echo "payload-check: $DISK not found (BUILD=\$PWD/build scripts/qemu-test.sh scenarios/demo)"; exit 1; }

pids=()
cleanup() { local p; for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

boot() {
  local mode=$1 work=$ROOT/build/payload/check-$1
  rm -rf "$work"; mkdir -p "$work/tpm"
  cp "$DISK" "$work/demo.img"
  local fw=() disks=() tpmdev=tpm-tis
  case $mode in
    seabios)
      fw=(-machine q35 -kernel "$PAYLOAD" -append "console=ttyS0" ${INITRD:+-initrd "$INITRD"})
      disks=(-drive "if=none,id=d0,file=$work/demo.img,format=raw,readonly=on" -device virtio-blk-pci,drive=d0) ;;
    uefi)
      cp /usr/share/OVMF/OVMF_VARS_4M.fd "$work/vars.fd"
      local mb=$(( $(stat -c %s "$PAYLOAD") / 1048576 + 4 ))
      mkfs.vfat -C "$work/esp.fat" $(( mb * 1024 )) >/dev/null
      mmd -i "$work/esp.fat" ::/EFI ::/EFI/BOOT
      mcopy -i "$work/esp.fat" "$PAYLOAD" ::/EFI/BOOT/BOOTX64.EFI
      truncate -s $(( (mb + 2) * 1048576 )) "$work/esp.img"
      sfdisk -q "$work/esp.img" <<< "label: gpt
start=2048, size=$(( mb * 2048 )), type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B, name=\"esp\""
      dd if="$work/esp.fat" of="$work/esp.img" bs=512 seek=2048 conv=notrunc status=none
      rm -f "$work/esp.fat"
      fw=(-machine q35,smm=on -global driver=cfi.pflash01,property=secure,value=on -nic none
          -drive "if=pflash,format=raw,unit=0,file=/usr/share/OVMF/OVMF_CODE_4M.fd,readonly=on"
          -drive "if=pflash,format=raw,unit=1,file=$work/vars.fd")
      disks=(-drive "if=none,id=d0,file=$work/esp.img,format=raw,readonly=on" -device virtio-blk-pci,drive=d0,bootindex=1
             -drive "if=none,id=d1,file=$work/demo.img,format=raw,readonly=on" -device virtio-blk-pci,drive=d1)
      tpmdev=tpm-crb ;;
    *) echo "payload-check: mode $mode, want seabios, uefi or both"; return 1 ;;
  esac
  local sock=$work/swtpm.sock log=$work/console.log
  swtpm socket --tpm2 --tpmstate dir="$work/tpm" --ctrl type=unixio,path="$sock" \
    --flags not-need-init,startup-clear --log file="$work/swtpm.log" &
  local tpid=$!; pids+=("$tpid")
  for _ in $(seq 50); do [ -S "$sock" ] && break; sleep 0.1; done
  local t0=$SECONDS
  timeout "$TIMEOUT" qemu-system-x86_64 -accel tcg -smp 2 -m 1024 -nographic -no-reboot "${fw[@]}" "${disks[@]}" \
    -chardev socket,id=chrtpm,path="$sock" -tpmdev emulator,id=tpm0,chardev=chrtpm -device "$tpmdev,tpmdev=tpm0" \
    -serial "file:$log" -monitor none -display none </dev/null 2>"$work/qemu.err" &
  local qpid=$!; pids+=("$qpid")
  # The target powers off (-no-reboot ends QEMU); a refusal halts and a panic stops, both of which
  # keep QEMU running.
  while kill -0 "$qpid" 2>/dev/null; do
    if grep -q -e "reboot: System halted" -e "end Kernel panic" "$log" 2>/dev/null; then kill "$qpid" 2>/dev/null || true; fi
    sleep 0.5
  done
  wait "$qpid" 2>/dev/null || true
  kill "$tpid" 2>/dev/null || true; wait "$tpid" 2>/dev/null || true
  local secs=$((SECONDS - t0))
  echo "== $mode: $secs s, console $log"
  tr -d '\r' < "$log" | sed 's/\x1b\[[0-9;?]*[a-zA-Z]//g' | grep -E "Linux version|Command line|EFI stub|efi:|tpm|TPM|measuredboot:|target:|kexec|Kernel panic|reboot:|BdsDxe|init:|virtio|vd[a-z]" | head -80
  grep -q "^target: PASS" "$log"
}

rc=0
case $MODE in
  both) boot seabios || rc=1; boot uefi || rc=1 ;;
  *) boot "$MODE" || rc=1 ;;
esac
[ $rc -eq 0 ] && echo "payload-check: PASS" || echo "payload-check: FAIL"
exit $rc
