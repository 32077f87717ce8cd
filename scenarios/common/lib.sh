# Sourced by a scenario's prepare script, which runs with the partition's root as $1 and
# MBCTL, SCENARIOS (the scenarios directory) and KVER in the environment.
COMMON=$SCENARIOS/common

# sign FILE... : writes FILE.sig with the test key, as evmctl ima_sign --sigfile would.
sign() { "$MBCTL" sign -key "$COMMON/test-signing-key.pem" "$@" >/dev/null; }

# flip_byte FILE OFFSET: changes one bit of the byte at OFFSET.
flip_byte() {
  local b
  b=$(od -An -tu1 -j "$2" -N1 "$1" | tr -d ' ')
  printf "$(printf '\\%03o' $(( b ^ 1 )))" | dd of="$1" bs=1 seek="$2" conv=notrunc status=none
}

# ucode FILE: writes an early-microcode archive (the layout the kernel's early loader reads; the
# content is not real microcode, and QEMU's default CPU is not GenuineIntel, so it is ignored).
ucode() {
  local tmp; tmp=$(mktemp -d)
  mkdir -p "$tmp/kernel/x86/microcode"
  printf 'measuredboot test early image\n' > "$tmp/kernel/x86/microcode/GenuineIntel.bin"
  (cd "$tmp" && find kernel | LC_ALL=C sort | cpio -o -H newc --quiet --reproducible) > "$1"
  rm -rf "$tmp"
}
