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
