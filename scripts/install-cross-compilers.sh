#!/usr/bin/env bash
# Installs what the C cross-checks need on a Debian or Ubuntu machine (CI included): a C
# compiler and the kernel UAPI headers for this machine (the checks that compile and run C),
# and the arm64 and riscv64 cross compilers with their linux/ and asm/ headers (compile-only
# checks of those layouts: no emulator). Needs root or sudo; does nothing when all are there.
# Without them the tests that need them skip and say which package is missing.
set -euo pipefail
packages=(
  gcc libc6-dev linux-libc-dev
  gcc-aarch64-linux-gnu linux-libc-dev-arm64-cross
  gcc-riscv64-linux-gnu linux-libc-dev-riscv64-cross
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ "${#missing[@]}" -eq 0 ]; then
  echo "install-cross-compilers: all present (${packages[*]})"
  exit 0
fi
sudo=()
if [ "$(id -u)" -ne 0 ]; then sudo=(sudo); fi
echo "install-cross-compilers: installing ${missing[*]}"
"${sudo[@]}" apt-get update -qq
DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
