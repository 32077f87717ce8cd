#!/bin/bash
# payload.sh: build/payload.efi, a LinuxBoot payload: one file that is both a bzImage and an EFI
# application (EFI stub), built from Debian's linux-source-6.1 with configs/linuxboot.config and the
# measuredboot image built in (CONFIG_INITRAMFS_SOURCE, xz-compressed by the kernel's build).
#
#   scripts/payload.sh [-image IMAGE.cpio.xz] [-o build/payload.efi]
#
# Without -image, the default image is built with build/mbctl as `make initramfs` does, minus the
# kernel modules (this kernel has none: CONFIG_MODULES is off), into build/payload/measuredboot.cpio.xz.
#
# The unpacked source and its objects are cached in ~/.cache/measuredboot/kernel/<key>/ (key: sha256
# of the linux-source-6.1 package version, the config fragment and this script): a fresh machine
# builds once (about 13 min on 2 cores); a new image only regenerates the initramfs and relinks.
# A cache directory counts only once its build wrote <key>/complete; everything that builds, uses or
# changes it runs under flock(1) on <key>.lock.
#
# Then the payload is added to empty 16 MiB and 8 MiB CBFS images (OUT without .efi + .cbfs-16M.rom,
# ...) and the bytes left are printed; with FLASH=8M (or 16M) in the environment, not
# fitting that size is an error.
#
# Environment: KCACHE (default ~/.cache/measuredboot/kernel), JOBS (default 2), FLASH.
# The kernel is built with `nice -n 10`.
set -euo pipefail
export PATH=$PATH:/usr/sbin:/sbin
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"

IMAGE="" OUT=build/payload.efi
while [ $# -gt 0 ]; do
  case $1 in
    -image) IMAGE=$2; shift 2 ;;
    -o) OUT=$2; shift 2 ;;
    -h|-help|--help) sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "payload: unknown argument $1 (usage: scripts/payload.sh [-image IMAGE.cpio.xz] [-o build/payload.efi])" >&2; exit 2 ;;
  esac
done

FRAG=$ROOT/configs/linuxboot.config
TARBALL=/usr/src/linux-source-6.1.tar.xz
KCACHE=${KCACHE:-$HOME/.cache/measuredboot/kernel}
JOBS=${JOBS:-2}
WORK=$ROOT/build/payload
mkdir -p "$WORK" "$KCACHE" "$(dirname "$OUT")"

# Reproducible kernel builds: nothing from this machine or this moment in the binary.
export KBUILD_BUILD_TIMESTAMP="Thu Jan  1 00:00:00 UTC 2026"
export KBUILD_BUILD_USER=measuredboot KBUILD_BUILD_HOST=measuredboot KBUILD_BUILD_VERSION=1
export LC_ALL=C TZ=UTC
KMAKE=(nice -n 10 make -s ARCH=x86_64 -j"$JOBS")
# Relative to the top of the kernel tree (where make runs); the kernel xz-compresses it (CONFIG_INITRAMFS_COMPRESSION_XZ).
INITRAMFS=payload/initramfs.cpio

now() { date +%s.%N; }
secs() { printf '%.1f' "$(echo "$(now) - $1" | bc)"; }
die() { echo "payload: $*" >&2; exit 1; }

[ -f "$TARBALL" ] || die "$TARBALL missing: apt-get install linux-source-6.1 bc bison flex libelf-dev libssl-dev"
for t in bc bison flex xz cpio cbfstool flock; do
  command -v $t >/dev/null || die "$t missing (apt-get install bc bison flex xz-utils cpio coreboot-utils util-linux)"
done
[ -f /usr/include/libelf.h ] && [ -f /usr/include/openssl/ssl.h ] || die "libelf-dev and libssl-dev are needed"
SRCVER=$(dpkg-query -W -f '${Version}' linux-source-6.1) || die "linux-source-6.1 is not installed"
KEY=$( { echo "linux-source-6.1 $SRCVER"; cat "$FRAG" "$0"; } | sha256sum | cut -c1-64)
CDIR=$KCACHE/$KEY

# check_config TREE: every `CONFIG_X=y` of the fragment is =y in TREE/.config, every `# CONFIG_X is
# not set` is not set, and the initramfs source is ours; print what is not and fail.
check_config() {
  local cfg=$1/.config bad=() l sym
  while IFS= read -r l; do
    case $l in
      CONFIG_*=y) grep -qx "$l" "$cfg" || bad+=("$l (found: $(grep -E "^(# )?${l%%=*}[= ]" "$cfg" || echo absent))") ;;
      "# CONFIG_"*" is not set") sym=${l#\# }; sym=${sym%% *}
        ! grep -qE "^$sym=" "$cfg" || bad+=("$l (found: $(grep -E "^$sym=" "$cfg"))") ;;
      CONFIG_*=*) grep -qxF "$l" "$cfg" || bad+=("$l (found: $(grep -E "^(# )?${l%%=*}[= ]" "$cfg" || echo absent))") ;;
    esac
  done < <(cat "$FRAG"; echo "CONFIG_INITRAMFS_SOURCE=\"$INITRAMFS\"")
  if [ ${#bad[@]} -gt 0 ]; then
    echo "payload: the kernel config lacks ${#bad[@]} option(s) the boot depends on (olddefconfig dropped them: a missing dependency?):" >&2
    printf '  want %s\n' "${bad[@]}" >&2
    return 1
  fi
}

# The image, decompressed: the kernel unpacks concatenated newc archives (the image is two xz
# streams, each one cpio; xz -dc writes both).
if [ -z "$IMAGE" ]; then
  IMAGE=$WORK/measuredboot.cpio.xz
  MBCTL=$ROOT/build/mbctl
  if [ ! -x "$MBCTL" ]; then
    echo "payload: building $MBCTL"
    go build -trimpath -o "$MBCTL" ./cmds/mbctl
  fi
  echo "payload: building the default image (configs/policy, no modules) -> $IMAGE"
  t=$(now)
  "$MBCTL" build -policy configs/policy -o "$IMAGE" 2>&1 | sed 's/^/  /'
  [ "${PIPESTATUS[0]}" -eq 0 ] || die "mbctl build failed"
  echo "payload: image built in $(secs "$t")s"
fi
[ -f "$IMAGE" ] || die "image $IMAGE not found"
# This run's own copy (another run may be using build/payload at the same time).
CPIO=$(mktemp "$WORK/initramfs.XXXXXX")
BUILDING=""
cleanup() { if [ -n "${kpid:-}" ]; then kill "$kpid" 2>/dev/null || true; wait "$kpid" 2>/dev/null || true; fi; rm -f "$CPIO"; if [ -n "$BUILDING" ]; then rm -rf "$BUILDING"; fi; }
trap cleanup EXIT
# First the kernel's own default initramfs (usr/default_cpio_list: /dev, /dev/console, /root), which
# a kernel with CONFIG_INITRAMFS_SOURCE set no longer has: without /dev/console init starts with fds
# 0-2 closed, and a Go init then exits 2 at once (its runtime opens /dev/null for them, and there is
# no /dev). An image given as an initrd to a stock kernel gets these from that kernel.
newc() { # NAME MODE(octal) NLINK RDEVMAJOR RDEVMINOR INO: one newc header, mtime 0, no data
  local n=$(( ${#1} + 1 ))
  printf '070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%s\0' \
    "$6" "$((8#$2))" 0 0 "$3" 0 0 0 0 "$4" "$5" "$n" 0 "$1"
  head -c $(( (4 - (110 + n) % 4) % 4 )) /dev/zero
}
{ newc dev 40755 2 0 0 1; newc dev/console 20600 1 5 1 2; newc root 40700 2 0 0 3; newc 'TRAILER!!!' 0 1 0 0 0
} > "$CPIO"
xz -dc "$IMAGE" >> "$CPIO" || die "$IMAGE: not an xz image"
n=$(xz -dc "$IMAGE" | cpio -it 2>/dev/null | wc -l) || true
[ "$n" -gt 0 ] || die "$IMAGE: no cpio archive inside"

exec 9>"$KCACHE/$KEY.lock"
if ! flock -n 9; then
  echo "payload: waiting for the lock on $KCACHE/$KEY (another payload build)"
  flock 9
fi

if [ ! -f "$CDIR/complete" ]; then
  echo "payload: no kernel cached for key $KEY; building one in $CDIR (6-8 min of compiling on 2 cores, once)"
  # Built in place, not renamed afterwards: the kernel's tools/objtool records absolute paths, and a
  # moved tree rebuilds objtool and then every object. A tree without "complete" (an interrupted
  # build) is never used: it is removed and built again, under the lock.
  rm -rf "$CDIR"; mkdir -p "$CDIR"
  BUILDING=$CDIR
  t=$(now)
  tar -xJf "$TARBALL" -C "$CDIR" && mv "$CDIR/linux-source-6.1" "$CDIR/linux"
  echo "payload: source unpacked in $(secs "$t")s"
  (
    cd "$CDIR/linux"
    make -s ARCH=x86_64 tinyconfig >/dev/null
    echo "CONFIG_INITRAMFS_SOURCE=\"$INITRAMFS\"" > payload.frag
    scripts/kconfig/merge_config.sh -m .config "$FRAG" payload.frag >/dev/null 2>&1
    make -s ARCH=x86_64 olddefconfig >/dev/null
  )
  check_config "$CDIR/linux" || die "fix $FRAG (its comments list what each option is for)"
  mkdir -p "$CDIR/linux/payload" && cp "$CPIO" "$CDIR/linux/$INITRAMFS"
  t=$(now)
  (cd "$CDIR/linux" && "${KMAKE[@]}" bzImage) > "$CDIR/build.log" 2>&1 &
  kpid=$!
  # A line every 20 s, so a first build never looks hung: the objects compiled so far.
  while kill -0 "$kpid" 2>/dev/null; do
    for _ in $(seq 40); do kill -0 "$kpid" 2>/dev/null || break; sleep 0.5; done
    if kill -0 "$kpid" 2>/dev/null; then
      echo "payload: still compiling the kernel ($(secs "$t")s, $(find "$CDIR/linux" -name '*.o' | wc -l) objects)"
    fi
  done
  wait "$kpid" && kpid="" \
    || { tail -30 "$CDIR/build.log" >&2; cp "$CDIR/build.log" "$WORK/kernel-build-failed.log"; die "kernel build failed (log: $WORK/kernel-build-failed.log)"; }
  echo "payload: kernel built in $(secs "$t")s"
  echo "linux-source-6.1 $SRCVER" > "$CDIR/source-version"
  cp "$FRAG" "$CDIR/linuxboot.config"
  echo "$KEY" > "$CDIR/complete.tmp" && mv "$CDIR/complete.tmp" "$CDIR/complete"
  BUILDING=""
else
  echo "payload: using the kernel cached in $CDIR"
fi

K=$CDIR/linux
check_config "$K" || die "cached tree $K has a bad .config; remove $CDIR"
# Relink with this image: the kernel's build regenerates only the initramfs and what contains it.
if ! cmp -s "$CPIO" "$K/$INITRAMFS"; then cp "$CPIO" "$K/$INITRAMFS"; fi
t=$(now)
(cd "$K" && "${KMAKE[@]}" bzImage) > "$CDIR/relink.log" 2>&1 \
  || { tail -30 "$CDIR/relink.log" >&2; die "kernel relink failed (log: $CDIR/relink.log)"; }
echo "payload: initramfs regenerated and kernel relinked in $(secs "$t")s"
cp "$K/arch/x86/boot/bzImage" "$OUT.tmp" && mv "$OUT.tmp" "$OUT"
# Sizes, still under the lock (the next run relinks this tree).
total=$(stat -c %s "$OUT")
raw=$(stat -c %s "$K/$INITRAMFS")
inc=$(stat -c %s "$K/usr/initramfs_inc_data")
vmb=$(stat -c %s "$K/arch/x86/boot/compressed/vmlinux.bin")
release=$(cat "$K/include/config/kernel.release")
flock -u 9

echo "payload: $OUT: $total bytes ($(numfmt --to=iec-i --suffix=B "$total")), sha256 $(sha256sum "$OUT" | cut -c1-64)"
echo "payload:   kernel version $release, $(file -b "$OUT" | cut -c1-60)"
echo "payload:   initramfs: $raw bytes of cpio, $inc bytes xz-compressed inside the kernel (image $IMAGE: $(stat -c %s "$IMAGE") bytes)"
echo "payload:   vmlinux (with the initramfs, uncompressed): $vmb bytes; payload without the initramfs: about $((total - inc)) bytes"

# coreboot: the payload in an empty CBFS of 16 MiB and 8 MiB (a real ROM also holds coreboot itself:
# these are upper bounds on what is left).
rc=0
sizes="16M 8M"; case " $sizes " in *" ${FLASH:-16M} "*) ;; *) sizes="$sizes $FLASH" ;; esac
for size in $sizes; do
  rom=${OUT%.efi}.cbfs-$size.rom
  rm -f "$rom"
  cbfstool "$rom" create -m x86 -s "$size" >/dev/null 2>&1
  # `cbfstool print` columns: Name Offset Type Size Comp (a type may be two words: "simple elf").
  cap=$(cbfstool "$rom" print | awk '$1=="(empty)"{s+=$(NF-1)} END{print s+0}')
  # No -C: the payload's command line is built in (CONFIG_CMDLINE_OVERRIDE ignores a loader's).
  if out=$(cbfstool "$rom" add-payload -f "$OUT" -n fallback/payload 2>&1); then
    free=$(cbfstool "$rom" print | awk '$1=="(empty)"{s+=$(NF-1)} END{print s+0}')
    psz=$(cbfstool "$rom" print | awk '$1=="fallback/payload"{print $(NF-1)}')
    echo "payload: CBFS $size: fallback/payload takes $psz bytes of $cap, $free bytes left (an empty CBFS: coreboot's own stages not counted)"
  else
    echo "payload: CBFS $size: the payload does not fit: $(echo "$out" | tr '\n' ' ')"
    echo "payload:   payload file $total bytes, CBFS $size holds $cap bytes"
    if [ "${FLASH:-}" = "$size" ]; then rc=1; fi
  fi
done
if [ "$rc" -ne 0 ]; then die "FLASH=$FLASH: $OUT ($total bytes) does not fit a $FLASH CBFS"; fi
exit 0
