#!/usr/bin/env bash
# Installs the Debian packages the build and the QEMU tests need, if any is missing.
set -euo pipefail
pkgs=(qemu-system-x86 swtpm swtpm-tools tpm2-tools ima-evm-utils fdisk mtools dosfstools e2fsprogs
      xz-utils cpio openssl bc attr linux-image-cloud-amd64 clevis clevis-tpm2
      linux-source-6.1 bison flex libelf-dev libssl-dev make gcc ovmf sbsigntool coreboot-utils)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
  echo "deps: missing Debian packages: ${missing[*]}" >&2
  echo "deps: run as root, or: sudo apt-get install ${missing[*]}" >&2
  exit 1
fi
echo "deps: installing ${missing[*]} (apt-get)"
t=$SECONDS
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
echo "deps: package lists updated in $((SECONDS - t))s; installing ${#missing[@]} packages"
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "deps: installed in $((SECONDS - t))s"
