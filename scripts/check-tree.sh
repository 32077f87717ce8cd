#!/usr/bin/env bash
# check-tree.sh: fails when git tracks a build output: an executable binary (ELF anywhere, or any
# file with NUL bytes outside declared test data) or a file over 1 MiB that is not declared test
# data. Declared test data lies under a testdata/ directory or in a QEMU scenario (scenarios/: its
# certificates are DER). A clone stays small; binaries are built, never committed.
set -euo pipefail
cd "$(dirname "$0")/.."
bad=0
while IFS= read -r -d '' f; do
  [ -f "$f" ] || continue
  size=$(stat -c %s "$f")
  case $f in */testdata/*|testdata/*|scenarios/*) declared=1 ;; *) declared=0 ;; esac
  if [ "$(head -c 4 "$f" | od -An -tx1 | tr -d ' \n')" = 7f454c46 ]; then
    echo "check-tree: $f is an ELF binary: remove it from git and let the build make it" >&2; bad=1
  elif [ "$declared" = 0 ] && [ "$size" -gt 0 ] && LC_ALL=C grep -qaP '\x00' "$f" 2>/dev/null; then
    echo "check-tree: $f is binary and not under a testdata/ directory" >&2; bad=1
  elif [ "$declared" = 0 ] && [ "$size" -gt $((1 << 20)) ]; then
    echo "check-tree: $f is $size bytes, over 1 MiB, and not declared test data (testdata/)" >&2; bad=1
  fi
done < <(git ls-files -z)
[ "$bad" = 0 ] && echo "check-tree: $(git ls-files | wc -l) tracked files, no build outputs"
exit "$bad"
