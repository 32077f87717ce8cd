#!/usr/bin/env bash
# qemu-test.sh [SCENARIO_DIR...]: boots the measuredboot image under QEMU (TCG) with a software TPM
# (swtpm) and a GPT disk holding the scenario's boot partition, and judges the serial console.
#
# A scenario directory holds:
#   expect        "kexec" (the target booted and its replay matched the TPM in every bank),
#                 "refuse" (the target never ran, measuredboot printed its refusal line and the
#                 machine halted), "recovery" (an image with on_refuse=shell: refused, the
#                 recovery event measured, then the recovery shell's prompt; stopped 5 s later) or
#                 "firmware-refuse" (Secure Boot: OVMF refused to start the payload) or
#                 "unmeasured" (benchmarks only: the target ran, booted by a uinit other than
#                 measuredboot, so it has nothing handed over to check)
#   files         lines "SOURCE DEST": copy a built artifact (kernel = the Debian cloud kernel,
#                 target = the demo target initramfs) to DEST on the boot partition
#   disk/         copied onto the boot partition (grub.cfg, BLS entries ...); @KVER@ in a file is
#                 replaced by the kernel version, @FSUUID@ by the partition's file system UUID
#   disk2/ files2 optional: a second partition, file system UUID @FSUUID2@
#   disk-stick/ files-stick optional: a second, removable disk (a SCSI disk with removable=on, as a
#                 USB stick looks to the kernel) with one ext4 partition whose file system UUID is
#                 the first partition's (anyone can copy a UUID); its prepare gets $2 = "-stick"
#   fsuuid        optional: the first partition's file system UUID
#   policy        optional: the policy to build in (default configs/policy)
#   keys/         optional: certificates to build in
#   config        optional: key=value lines for the image's config
#   firmware      optional: "uefi" (OVMF, tpm-crb) or "uefi-secureboot" (OVMF with Secure Boot
#                 on, Debian's snakeoil keys enrolled) in place of SeaBIOS with -kernel: the image
#                 is built into a LinuxBoot payload (scripts/payload.sh), installed as
#                 \EFI\BOOT\BOOTX64.EFI on an EFI system partition after the scenario's others
#   payload       optional, with firmware: "unsigned" (the default for uefi), "signed" (sbsign with
#                 the snakeoil key; the default for uefi-secureboot) or "tampered" (signed, then
#                 one byte of a section changed)
#   payload-before optional, with firmware and before: a policy; the firmware-log boot is then a
#                 whole boot of a payload built with it (the current payload), and FWLOG the tcg.log
#                 it handed over; PAYLOAD (the scenario's payload) is in the before script's env
#   extra-cmds    optional: import paths of more commands for the image's busybox, one per line
#                 (e.g. cmds/unseal for a recovery shell that tries to unseal)
#   console-input optional: lines typed into the recovery shell 5 s after it starts (expect
#                 recovery); the guest is stopped 20 s later
#   uinit         optional (benchmarks only): the import path of the program init starts instead
#                 of measuredboot
#   console       optional: fixed strings that must appear on the console, one per line
#   not-console   optional: fixed strings that must not appear
#   prepare       optional: run on each partition's root ($1; $2 is "" or "2") after the files are
#                 copied, e.g. to sign or tamper with them (scenarios/common/lib.sh has helpers)
#   before        optional: a script run just before the boot with the first partition's root as
#                 $1, after a first boot of the same QEMU machine captured the firmware's event
#                 log to $FWLOG (env also: WORK, POLICY, MBCTL, KVER; $WORK/part.img is the first
#                 partition's image), e.g. to predict PCR values
#                 scenarios/common/seal.sh seals a secret there to the predicted boot, with the
#                 TPM the boot will use, and writes it to the second partition (disk2/)
#   check         optional: a script run after the boot with the console log as $1 (exit 0 = pass);
#                 env: WORK (the scenario's work directory), BUILD, KERNEL, KVER, CHANNEL (what
#                 the target wrote to its data channel, the second serial port: the handed-over
#                 logs in base64 and every PCR value it read)
# With no argument it runs every scenario under scenarios/. INTERACTIVE=1 shows the console live.
# Each run ends with PASS or FAIL: <reason> per scenario; the exit status is 0 only if all passed.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-$ROOT/build}
TIMEOUT=${QEMU_TIMEOUT:-240}
mkdir -p "$BUILD"

"$ROOT/scripts/deps.sh"
export PATH=$PATH:/usr/sbin:/sbin

KERNEL=$(ls /boot/vmlinuz-*-cloud-amd64 2>/dev/null | sort -V | tail -n1 || true)
[ -n "$KERNEL" ] || { echo "FAIL: no Debian cloud kernel in /boot (apt-get install linux-image-cloud-amd64)"; exit 1; }
KVER=${KERNEL#/boot/vmlinuz-}
[ -r "$KERNEL" ] || { echo "FAIL: $KERNEL is not readable"; exit 1; }

echo "  build: mbctl and the demo target ($BUILD)" >&2
t=$SECONDS
(cd "$ROOT" && go build -trimpath -o "$BUILD/mbctl" ./cmds/mbctl)
MBCTL=$BUILD/mbctl
# The demo target, with the disk driver's modules for unsealing (measuredboot.unseal=vda2); built
# from the repository (mbctl target runs go build there), whatever the caller's directory.
(cd "$ROOT" && "$MBCTL" target -o "$BUILD/target.cpio" -modules-dir "/lib/modules/$KVER" -modules virtio_pci,virtio_blk)
echo "  build: mbctl and the demo target built in $((SECONDS - t))s" >&2

# image DIR OUT [POLICY]: builds the image for a scenario's policy (or POLICY), keys and config into OUT. The compiled
# part (busybox, modules) comes from mbctl build's cache, so this costs a second once it is warm.
image() {
  local dir=$1 out=$2 pol=$ROOT/configs/policy keys="" cfg=()
  [ -f "$dir/policy" ] && pol=$dir/policy
  [ -d "$dir/keys" ] && keys=$dir/keys
  if [ -f "$dir/config" ]; then
    while IFS= read -r l; do [ -n "$l" ] && cfg+=(-config "$l"); done < "$dir/config"
  fi
  local uinit=()
  [ -f "$dir/uinit" ] && uinit=(-uinit "$(cat "$dir/uinit")")
  if [ -f "$dir/extra-cmds" ]; then
    while IFS= read -r l; do [ -n "$l" ] && uinit+=(-extra-cmd "$l"); done < "$dir/extra-cmds"
  fi
  local mods=(-modules-dir "/lib/modules/$KVER" -modules "$ROOT/configs/modules")
  [ -n "${3:-}" ] && pol=$3
  # The payload kernel has everything built in and no module support.
  [ -f "$dir/firmware" ] && mods=()
  (cd "$ROOT" && "$MBCTL" build -policy "$pol" ${keys:+-keys "$keys"} "${cfg[@]}" "${uinit[@]}" \
     "${mods[@]}" -o "$out") 2>&1 | sed 's/^/  /' >&2
  [ "${PIPESTATUS[0]}" -eq 0 ] && [ -f "$out" ]
}

# part DIR WORK N FSUUID: makes WORK/partN.img, an ext4 file system holding the scenario's diskN/
# and filesN (N is "" for the first partition, "2" for a second one); prints its size in MiB.
part() {
  local dir=$1 work=$2 n=$3 fsuuid=$4 root=$work/root$3
  rm -rf "$root"; mkdir -p "$root"
  if [ -d "$dir/disk$n" ]; then
    cp -a "$dir/disk$n/." "$root/"
    find "$root" -type f -exec sed -i "s/@KVER@/$KVER/g; s/@FSUUID@/$fsuuid/g; s/@FSUUID2@/${FSUUID2:-}/g" {} +
  fi
  if [ -f "$dir/files$n" ]; then
    while read -r src dst; do
      [ -z "$src" ] && continue
      case $src in
        kernel) src=$KERNEL ;;
        target) src=$BUILD/target.cpio ;;
        debian-initrd) src=/boot/initrd.img-$KVER ;;
        *) src=$dir/$src ;;
      esac
      dst=${dst//@KVER@/$KVER}
      mkdir -p "$root/$(dirname "$dst")"
      cp "$src" "$root/$dst" || { echo "$dir/files$n: cannot copy $src" >&2; return 1; }
    done < "$dir/files$n"
  fi
  if [ -x "$dir/prepare" ]; then
    MBCTL=$MBCTL SCENARIOS=$ROOT/scenarios KVER=$KVER "$dir/prepare" "$root" "$n" >&2 || return 1
  fi
  local mb=$(( $(du -sm "$root" | cut -f1) + 32 ))
  rm -f "$work/part$n.img"
  mkfs.ext4 -q -F -U "$fsuuid" -L "boot$n" -E root_owner=0:0 -d "$root" "$work/part$n.img" "${mb}M" >/dev/null || return 1
  echo "$mb"
}

# payload DIR WORK IMAGE OUT: builds the LinuxBoot payload with IMAGE built in, and signs or
# tampers with it as DIR/payload says.
payload() {
  local dir=$1 work=$2 img=$3 out=$4 how=unsigned
  [ "$(cat "$dir/firmware")" = uefi-secureboot ] && how=signed
  [ -f "$dir/payload" ] && how=$(cat "$dir/payload")
  "$ROOT/scripts/payload.sh" -image "$img" -o "$out.unsigned" 2>&1 | sed 's/^/  payload: /' >&2
  [ "${PIPESTATUS[0]}" -eq 0 ] || return 1
  case $how in
    unsigned) mv "$out.unsigned" "$out" ;;
    signed|tampered)
      # Debian's OVMF test key (its password is "snakeoil"), in PK, KEK and db of the snakeoil vars.
      openssl rsa -in /usr/share/ovmf/PkKek-1-snakeoil.key -passin pass:snakeoil -out "$work/sb.key" 2>/dev/null || return 1
      sbsign --key "$work/sb.key" --cert /usr/share/ovmf/PkKek-1-snakeoil.pem --output "$out" "$out.unsigned" >/dev/null 2>&1 || return 1
      rm -f "$out.unsigned" "$work/sb.key"
      if [ "$how" = tampered ]; then
        # One byte in the middle of the file (inside the kernel's sections), after signing.
        local off=$(( $(stat -c %s "$out") / 2 )) b
        b=$(od -An -tu1 -j "$off" -N1 "$out" | tr -d ' ')
        printf "$(printf '\\%03o' $(( b ^ 1 )))" | dd of="$out" bs=1 seek="$off" conv=notrunc status=none
      fi ;;
    *) echo "payload: $dir/payload says '$how', want unsigned, signed or tampered" >&2; return 1 ;;
  esac
  echo "  payload: $(basename "$out"), $(stat -c %s "$out") bytes, $how" >&2
}

# esp WORK PAYLOAD: appends an EFI system partition holding PAYLOAD as \EFI\BOOT\BOOTX64.EFI (the
# removable-media path OVMF boots) to WORK/disk.img.
esp() {
  local work=$1 pl=$2 mb
  mb=$(( $(stat -c %s "$pl") / 1048576 + 4 ))
  rm -f "$work/esp.img"
  mkfs.vfat -C "$work/esp.img" $(( mb * 1024 )) >/dev/null || return 1
  mmd -i "$work/esp.img" ::/EFI ::/EFI/BOOT && mcopy -i "$work/esp.img" "$pl" ::/EFI/BOOT/BOOTX64.EFI || return 1
  local size start
  size=$(stat -c %s "$work/disk.img")
  start=$(( size / 512 ))
  truncate -s $(( size + mb * 1048576 + 1048576 )) "$work/disk.img"
  sfdisk -q --relocate gpt-bak-std "$work/disk.img" 2>/dev/null || return 1
  sfdisk -q --append "$work/disk.img" <<< "start=$start, size=$(( mb * 2048 )), type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B, uuid=3C4D5E6F-7081-4293-A4B5-C6D7E8F90A1B, name=\"esp\"" || return 1
  dd if="$work/esp.img" of="$work/disk.img" bs=512 seek="$start" conv=notrunc status=none
  rm -f "$work/esp.img"
}

# disk DIR WORK: makes WORK/disk.img, a GPT disk with one ext4 partition holding the scenario (two
# if it has a disk2/ or files2), without loop mounts.
disk() {
  local dir=$1 work=$2
  FSUUID=6d6b2f1a-2c3b-4f5e-9a8b-0c1d2e3f4a5b FSUUID2=""
  [ -f "$dir/fsuuid" ] && FSUUID=$(cat "$dir/fsuuid")
  if [ -d "$dir/disk2" ] || [ -f "$dir/files2" ]; then FSUUID2=2e0f5a3c-7b1d-4c8e-a6f2-9d3b1c5e7a80; fi
  local mb1 mb2=0
  mb1=$(part "$dir" "$work" "" "$FSUUID") || return 1
  if [ -n "$FSUUID2" ]; then mb2=$(part "$dir" "$work" 2 "$FSUUID2") || return 1; fi
  rm -f "$work/disk.img"
  truncate -s $(( (mb1 + mb2 + 2) * 1024 * 1024 )) "$work/disk.img"
  # Fixed GUIDs: UEFI firmware measures the GPT (PCR 5), and a disk does not get new GUIDs
  # between two boots of a machine.
  {
    echo 'label: gpt'
    echo 'label-id: 0E5D2C1B-3A49-4F68-8B7C-9D0E1F2A3B4C'
    printf 'start=2048, size=%d, type=0FC63DAF-8483-4772-8E47-3D0093E5CB14, uuid=1A2B3C4D-5E6F-4071-8293-A4B5C6D7E8F9, name="boot"\n' $(( mb1 * 2048 ))
    [ "$mb2" -gt 0 ] && printf 'start=%d, size=%d, type=0FC63DAF-8483-4772-8E47-3D0093E5CB14, uuid=2B3C4D5E-6F70-4182-93A4-B5C6D7E8F90A, name="boot2"\n' \
      $(( 2048 + mb1 * 2048 )) $(( mb2 * 2048 ))
  } | sfdisk -q "$work/disk.img"
  dd if="$work/part.img" of="$work/disk.img" bs=1M seek=1 conv=notrunc status=none
  [ "$mb2" -gt 0 ] && dd if="$work/part2.img" of="$work/disk.img" bs=1M seek=$(( 1 + mb1 )) conv=notrunc status=none
  rm -f "$work/part2.img" # part.img stays: the first partition's image, for mbctl predict -device
  if [ -d "$dir/disk-stick" ] || [ -f "$dir/files-stick" ]; then
    local mbs
    mbs=$(part "$dir" "$work" -stick "$FSUUID") || return 1
    rm -f "$work/stick.img"
    truncate -s $(( (mbs + 2) * 1024 * 1024 )) "$work/stick.img"
    printf 'label: gpt\nstart=2048, size=%d, type=0FC63DAF-8483-4772-8E47-3D0093E5CB14, name="stick"\n' $(( mbs * 2048 )) |
      sfdisk -q "$work/stick.img"
    dd if="$work/part-stick.img" of="$work/stick.img" bs=1M seek=1 conv=notrunc status=none
    rm -f "$work/part-stick.img"
  fi
}

pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

# qemu WORK INITRD APPEND LOG: boots the Debian kernel with INITRD under QEMU with a fresh swtpm
# (state in WORK/tpm) and WORK/disk.img, the serial console going to LOG and the second serial
# port (the target's data channel: the handed-over logs and every PCR value, for the host's
# checks) to LOG's name with .channel for .log, until the guest powers off or halts.
#
# Under TCG on a loaded machine the firmware (SeaBIOS) has been seen, once in many hundred boots, to
# stop before it started the kernel, leaving QEMU spinning until the timeout. None of our code had
# run then, so such a boot is not a result: when the console has no "Booting from ROM" line (the
# firmware starting the -kernel loader) after FIRMWARE_STALL seconds (default 90), QEMU is stopped
# and the guest booted once more, saying so.
qemu() {
  local try
  for try in 1 2; do
    qemu_once "$@" && return 0
    [ "$?" = 3 ] || return 1
    if [ "$try" = 1 ]; then
      echo "  qemu: the firmware stalled before the kernel (no 'Booting from ROM' line in ${FIRMWARE_STALL:-90}s); booting once more" >&2
    fi
  done
  echo "  qemu: the firmware stalled twice; giving up" >&2
  return 1
}

qemu_once() {
  local work=$1 initrd=$2 append=$3 log=$4 channel=${4%.log}.channel
  # A fresh TPM per boot, unless a before script sealed a secret with this TPM's storage key
  # (scenarios/common/seal.sh leaves WORK/keep-tpm): then its state, and so its seeds, stay.
  [ -f "$work/keep-tpm" ] || { rm -rf "$work/tpm"; mkdir -p "$work/tpm"; }
  local sock=$work/swtpm.sock
  rm -f "$sock"
  swtpm socket --tpm2 --tpmstate dir="$work/tpm" --ctrl type=unixio,path="$sock" \
    --flags not-need-init,startup-clear --log file="$work/swtpm.log" &
  local spid=$!; pids+=("$spid")
  for _ in $(seq 50); do [ -S "$sock" ] && break; sleep 0.1; done
  : > "$log"; : > "$channel"
  # With WORK/console-input, the console is a pipe pair (WORK/con.in, WORK/con.out) so that the
  # recovery shell can be typed into; a reader copies the output to the log.
  local serial0=(-serial "file:$log") reader=""
  if [ -f "$work/console-input" ]; then
    rm -f "$work/con.in" "$work/con.out"; mkfifo "$work/con.in" "$work/con.out"
    serial0=(-chardev "pipe,id=con0,path=$work/con" -serial chardev:con0)
    cat "$work/con.out" > "$log" & reader=$!; pids+=("$reader")
  fi
  local stick=()
  [ -f "$work/stick.img" ] && stick=(-drive if=none,id=d1,file="$work/stick.img",format=raw,readonly=on
    -device virtio-scsi-pci,id=scsi0 -device scsi-hd,drive=d1,bus=scsi0.0,removable=on)
  # SeaBIOS starts the Debian kernel with -kernel; OVMF boots the disk's EFI system partition.
  local fw=(-machine q35 -kernel "$KERNEL" -initrd "$initrd" -append "$append") tpmdev=tpm-tis
  case ${FIRMWARE:-} in
    uefi|uefi-secureboot)
      local code=/usr/share/OVMF/OVMF_CODE_4M.fd vars=/usr/share/OVMF/OVMF_VARS_4M.fd
      [ "$FIRMWARE" = uefi-secureboot ] && code=/usr/share/OVMF/OVMF_CODE_4M.secboot.fd vars=/usr/share/OVMF/OVMF_VARS_4M.snakeoil.fd
      cp "$vars" "$work/vars.fd"
      fw=(-machine q35,smm=on -global driver=cfi.pflash01,property=secure,value=on -nic none
          -drive "if=pflash,format=raw,unit=0,file=$code,readonly=on" -drive "if=pflash,format=raw,unit=1,file=$work/vars.fd")
      tpmdev=tpm-crb ;;
  esac
  timeout "$TIMEOUT" qemu-system-x86_64 -accel tcg ${QEMU_CPU:+-cpu "$QEMU_CPU"} -smp "${QEMU_SMP:-2}" -m 1024 -nographic -no-reboot \
    "${fw[@]}" \
    -drive if=none,id=d0,file="$work/disk.img",format=raw,readonly=on -device virtio-blk-pci,drive=d0 "${stick[@]}" \
    -chardev socket,id=chrtpm,path="$sock" -tpmdev emulator,id=tpm0,chardev=chrtpm \
    -device "$tpmdev,tpmdev=tpm0" "${serial0[@]}" -serial "file:$channel" -monitor none -display none </dev/null 2>"$work/qemu.err" &
  local qpid=$!; pids+=("$qpid")
  local tailpid="" t0=$SECONDS shell_at="" typed="" started="" stalled="" refused_at=""
  local what="$(basename "$initrd") under QEMU (TCG, -smp ${QEMU_SMP:-2})"
  [ -n "${FIRMWARE:-}" ] && what="the disk's EFI system partition under OVMF (${FIRMWARE}, TCG, -smp ${QEMU_SMP:-2})"
  echo "  qemu: booting $what with swtpm; console: $log" >&2
  # Live, without the firmware's terminal resets and escape sequences (SeaBIOS clears the
  # screen and turns line wrapping off): the log file keeps them.
  if [ "${INTERACTIVE:-}" = 1 ]; then
    tail -n +1 -f "$log" > >(sed -u 's/\x1b\[[0-9;?]*[a-zA-Z]//g; s/\x1bc//g' | tr -d '\r') & tailpid=$!
  fi
  # The guest ends by powering off (the target) or by halting (a refusal); a halted guest keeps
  # QEMU running, so stop it once the kernel says so.
  local next=$((SECONDS + 10))
  while kill -0 "$qpid" 2>/dev/null; do
    if grep -q "reboot: System halted" "$log" 2>/dev/null; then kill "$qpid" 2>/dev/null || true; break; fi
    # A kernel panic waits forever (panic=0): nothing more will come.
    if grep -q "Kernel panic - not syncing" "$log" 2>/dev/null; then sleep 1; kill "$qpid" 2>/dev/null || true; break; fi
    if [ -z "$started" ] && { [ -n "${FIRMWARE:-}" ] || grep -q "Booting from ROM" "$log" 2>/dev/null; }; then started=1; fi
    # OVMF that refused the payload (Secure Boot) has nothing else to boot: stop once it said so.
    if [ -n "${FIRMWARE:-}" ] && grep -aq "^BdsDxe: failed to load Boot.*: Access Denied" "$log" 2>/dev/null && [ -z "${refused_at:-}" ]; then refused_at=$SECONDS; fi
    if [ -n "${refused_at:-}" ] && [ $((SECONDS - refused_at)) -ge 3 ]; then kill "$qpid" 2>/dev/null || true; break; fi
    if [ -z "$started" ] && [ $((SECONDS - t0)) -ge "${FIRMWARE_STALL:-90}" ]; then
      stalled=1; kill "$qpid" 2>/dev/null || true; break
    fi
    # The recovery shell waits at the console: give it 5 s to print its prompt, then stop; with
    # console input, type it at the prompt and give the commands 20 s more.
    if [ -z "${shell_at:-}" ] && grep -q "^measuredboot: recovery shell: " "$log" 2>/dev/null; then shell_at=$SECONDS; fi
    if [ -n "$reader" ] && [ -n "${shell_at:-}" ] && [ -z "${typed:-}" ] && [ $((SECONDS - shell_at)) -ge 5 ]; then
      cat "$work/console-input" > "$work/con.in"; typed=$SECONDS
    fi
    if [ -n "${typed:-}" ] && [ $((SECONDS - typed)) -ge 20 ]; then kill "$qpid" 2>/dev/null || true; break; fi
    if [ -z "$reader" ] && [ -n "${shell_at:-}" ] && [ $((SECONDS - shell_at)) -ge 5 ]; then kill "$qpid" 2>/dev/null || true; break; fi
    if [ "${INTERACTIVE:-}" != 1 ] && [ "$SECONDS" -ge "$next" ]; then
      echo "  qemu: still running ($((SECONDS - t0))s; last console line: $(tail -n1 "$log" | tr -d '\r' | cut -c1-80))" >&2
      next=$((SECONDS + 10))
    fi
    sleep 0.5
  done
  wait "$qpid" 2>/dev/null || true
  kill "$spid" 2>/dev/null || true; wait "$spid" 2>/dev/null || true
  if [ -n "$reader" ]; then kill "$reader" 2>/dev/null || true; wait "$reader" 2>/dev/null || true; rm -f "$work/con.in" "$work/con.out"; fi
  if [ -n "$tailpid" ]; then sleep 0.5; kill "$tailpid" 2>/dev/null || true; wait "$tailpid" 2>/dev/null || true; fi
  tr -d '\r' < "$log" > "$log.txt" && mv "$log.txt" "$log"
  tr -d '\r' < "$channel" > "$channel.txt" && mv "$channel.txt" "$channel"
  echo "  qemu: the guest ended after $((SECONDS - t0))s" >&2
  [ -z "$stalled" ] || return 3
}

# uefi_firmware_log DIR WORK: for a payload update: boots, on the same machine and disk, the
# current payload (an image built with DIR/payload-before as its policy), whose target hands over
# its log; WORK/firmware.log is that tcg.log (mbctl predict takes the firmware's part of it). The
# scenario's disk is then rebuilt with its own payload.
uefi_firmware_log() {
  local dir=$1 work=$2 log=$2/current-console.log
  mkdir -p "$work/current"
  image "$dir" "$work/current/image.cpio.xz" "$dir/payload-before" || return 1
  payload "$dir" "$work/current" "$work/current/image.cpio.xz" "$work/current/payload.efi" || return 1
  disk "$dir" "$work" && esp "$work" "$work/current/payload.efi" || return 1
  qemu "$work" "" "" "$log"
  grep -q "^target: PASS" "$log" || { echo "the current payload's boot did not reach target: PASS (see $log)" >&2; return 1; }
  awk '$0 ~ /^target: begin tcg.log / {on=1; next} /^target: end / {on=0} on && $2 == "b64" {print $3}' "${log%.log}.channel" |
    base64 -d > "$work/firmware.log"
  [ -s "$work/firmware.log" ] || { echo "the current payload's boot handed over no log (see $log)" >&2; return 1; }
  disk "$dir" "$work" && esp "$work" "$work/payload.efi"
}

# firmware_log WORK: boots the demo target straight from the firmware, on the same QEMU machine as
# the scenario's boot, and extracts the firmware's event log it prints to WORK/firmware.log: what
# an operator has from an earlier boot of the machine before predicting the next one.
firmware_log() {
  local work=$1 log=$1/firmware-console.log
  qemu "$work" "$BUILD/target.cpio" "console=ttyS0 loglevel=4 measuredboot.firmware-log" "$log"
  awk '$0 ~ /^target: begin binary_bios_measurements / {on=1; next} /^target: end / {on=0} on && $2 == "b64" {print $3}' "${log%.log}.channel" |
    base64 -d > "$work/firmware.log"
  [ -s "$work/firmware.log" ] || { echo "the firmware-log boot printed no log (see $log)" >&2; return 1; }
}

# boot DIR: runs one scenario and prints PASS or FAIL: reason.
boot() {
  local dir=$1 name; name=$(basename "$dir")
  local work=$BUILD/scenarios/$name
  rm -rf "$work"; mkdir -p "$work"
  local img=$work/image.cpio.xz
  FIRMWARE=""
  [ -f "$dir/firmware" ] && FIRMWARE=$(cat "$dir/firmware")
  image "$dir" "$img" || { echo "FAIL: building the image failed"; return 1; }
  disk "$dir" "$work" || { echo "FAIL: building the disk failed"; return 1; }
  if [ -n "$FIRMWARE" ]; then
    payload "$dir" "$work" "$img" "$work/payload.efi" || { echo "FAIL: building the payload failed"; return 1; }
    esp "$work" "$work/payload.efi" || { echo "FAIL: building the EFI system partition failed"; return 1; }
  fi
  if [ -x "$dir/before" ]; then
    if [ -f "$dir/payload-before" ]; then
      uefi_firmware_log "$dir" "$work" || { echo "FAIL: the boot of the current payload failed"; return 1; }
    else
      firmware_log "$work" || { echo "FAIL: capturing the firmware's event log failed"; return 1; }
    fi
    local pol=$ROOT/configs/policy
    [ -f "$dir/policy" ] && pol=$dir/policy
    WORK=$work FWLOG=$work/firmware.log POLICY=$pol MBCTL=$MBCTL KVER=$KVER PAYLOAD=$work/payload.efi "$dir/before" "$work/root" \
      || { echo "FAIL: $dir/before"; return 1; }
  fi
  local log=$work/console.log
  [ -f "$dir/console-input" ] && cp "$dir/console-input" "$work/console-input"
  qemu "$work" "$img" "console=ttyS0 loglevel=4" "$log"
  echo "console log: $log"
  judge "$dir" "$log" || return 1
  if [ "${INTERACTIVE:-}" = 1 ]; then
    echo "files: the console $log; the target's data channel ${log%.log}.channel;"
    echo "       the handed-over logs $work/handover/ (where a check extracted them); the image $img"
  fi
}

judge() {
  local dir=$1 log=$2 expect; expect=$(cat "$dir/expect")
  case $expect in
    kexec)
      # The kexec line is measuredboot's last before the next kernel resets the UART; under OVMF
      # it is sometimes lost (a known, unsolved console problem). A target that replayed the
      # handed-over log proves the kexec too: then the loss is said, not failed on.
      if ! grep -q "^measuredboot: kexec " "$log"; then
        grep -q "^target: handed-over TCG log: " "$log" || { echo "FAIL: no 'measuredboot: kexec' line"; return 1; }
        echo "WARN: measuredboot's last console lines before kexec were lost (the target ran with the handed-over log)"
      fi
      grep -q "^target: replay matches the TPM" "$log" || { echo "FAIL: the target did not report a replay matching the TPM"; return 1; }
      grep -q "^target: PASS" "$log" || { echo "FAIL: the target did not pass: $(grep '^target: FAIL' "$log" || echo 'no verdict')"; return 1; } ;;
    refuse)
      grep -q "^measuredboot: refused " "$log" || { echo "FAIL: no 'measuredboot: refused' line"; return 1; }
      if grep -q "^target:" "$log"; then echo "FAIL: the target ran"; return 1; fi
      if grep -q "^measuredboot: kexec " "$log"; then echo "FAIL: measuredboot kexec'd"; return 1; fi
      # A refusal ends in a halt: no shell, nothing else that waits at the console.
      grep -q "reboot: System halted" "$log" || { echo "FAIL: the machine did not halt after the refusal"; return 1; } ;;
    recovery)
      grep -q "^measuredboot: refused " "$log" || { echo "FAIL: no 'measuredboot: refused' line"; return 1; }
      if grep -q "^target:" "$log"; then echo "FAIL: the target ran"; return 1; fi
      grep -q "^measuredboot: recovery shell: PCRs .* were extended with a recovery event" "$log" ||
        { echo "FAIL: no recovery event line"; return 1; }
      # The shell's prompt (gosh: "> " at a terminal, "$ " otherwise) comes after the recovery
      # event, never before.
      sed 's/\x1b\[[0-9;?]*[a-zA-Z]//g' "$log" |
        awk '/^measuredboot: recovery shell: /{r=1; next} /^(>|\$) /{if (r) ok=1; else early=1} END {exit !(ok && !early)}' ||
        { echo "FAIL: the recovery shell's prompt is missing, or came before the recovery event"; return 1; } ;;
    firmware-refuse)
      # Secure Boot: the firmware would not start the payload, so nothing of ours ran.
      # The disk with the EFI system partition is OVMF's "UEFI Misc Device" (virtio-blk).
      grep -aq '^BdsDxe: failed to load Boot[0-9A-F]* "UEFI Misc Device".*: Access Denied' "$log" ||
        { echo "FAIL: OVMF did not report refusing the payload (Access Denied)"; return 1; }
      if grep -q "^measuredboot:" "$log"; then echo "FAIL: measuredboot ran"; return 1; fi ;;
    unmeasured)
      grep -q "^target:" "$log" || { echo "FAIL: the target did not run"; return 1; }
      if grep -q "^measuredboot:" "$log"; then echo "FAIL: measuredboot ran"; return 1; fi ;;
    *) echo "FAIL: $dir/expect says '$expect', want kexec, refuse, recovery, firmware-refuse or unmeasured"; return 1 ;;
  esac
  if [ -f "$dir/console" ]; then
    while IFS= read -r want; do
      [ -z "$want" ] && continue
      grep -qF -- "$want" "$log" || { echo "FAIL: console lacks: $want"; return 1; }
    done < "$dir/console"
  fi
  if [ -f "$dir/not-console" ]; then
    while IFS= read -r bad; do
      [ -z "$bad" ] && continue
      if grep -qF -- "$bad" "$log"; then echo "FAIL: console has: $bad"; return 1; fi
    done < "$dir/not-console"
  fi
  if [ -x "$dir/check" ]; then
    WORK=$(dirname "$log") CHANNEL=${log%.log}.channel KERNEL=$KERNEL KVER=$KVER BUILD=$BUILD "$dir/check" "$log" || { echo "FAIL: $dir/check"; return 1; }
  fi
  echo "PASS"
}

dirs=("$@")
if [ ${#dirs[@]} -eq 0 ]; then
  for d in "$ROOT"/scenarios/*/; do [ -f "$d/expect" ] && dirs+=("$d"); done
fi
failed=0 passed=0 times=() start=$SECONDS
for d in "${dirs[@]}"; do
  d=${d%/}
  echo "=== scenario $(basename "$d")"
  t0=$SECONDS
  if boot "$d"; then passed=$((passed + 1)); r=PASS; else failed=$((failed + 1)); r=FAIL; fi
  times+=("$(printf '%-28s %-4s %4ds' "$(basename "$d")" "$r" $((SECONDS - t0)))")
done
echo "scenario                     result  time"
printf '%s\n' "${times[@]}"
echo "scenarios: $passed passed, $failed failed in $((SECONDS - start))s"
[ "$failed" -eq 0 ]
