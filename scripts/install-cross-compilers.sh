#!/usr/bin/env bash
# Installs what the C cross-checks need on a Debian or Ubuntu machine (CI included): a C
# compiler and the kernel UAPI headers for this machine (the checks that compile and run C),
# and the arm64 and riscv64 cross compilers with their linux/ and asm/ headers (compile-only
# checks of those layouts: no emulator). Needs root or sudo; does nothing when all are there.
# Without them the tests that need them skip and say which package is missing.
set -euo pipefail
. "$(dirname "$0")/lib/apt-ensure.sh"
apt_ensure install-cross-compilers \
  gcc libc6-dev linux-libc-dev \
  gcc-aarch64-linux-gnu linux-libc-dev-arm64-cross \
  gcc-riscv64-linux-gnu linux-libc-dev-riscv64-cross
