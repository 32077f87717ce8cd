#!/usr/bin/env bash
# test.sh: what `make test` runs: each step in turn (packages, go vet and the tree check, unit tests,
# the guest tests, every QEMU scenario), timed; it stops at the first step that fails and prints
# the time of each step and the total (the scenarios print their own table too).
set -uo pipefail
cd "$(dirname "$0")/.."
start=$SECONDS rc=0 rows=()
for step in deps vet unit guest scenarios; do
  echo "=== make $step"
  t0=$SECONDS
  if make --no-print-directory "$step"; then r=ok; else r=FAILED; rc=1; fi
  rows+=("$(printf '%-10s %-6s %5ds' "$step" "$r" $((SECONDS - t0)))")
  [ "$rc" -eq 0 ] || break
done
echo "step       result  time"
printf '%s\n' "${rows[@]}"
echo "make test: $([ "$rc" -eq 0 ] && echo passed || echo FAILED) in $((SECONDS - start))s"
exit "$rc"
