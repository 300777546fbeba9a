#!/usr/bin/env bash
# Installs what `npm run bench` uses beyond Node on a Debian or Ubuntu machine. Needs root or
# sudo; does nothing when all are there. Without them the bench still runs and says, row by
# row, what it skipped and which package would bring it back.
#
#   gcc, libc6-dev   cc for the C programs of bench/c (the network load generator needs
#                    nothing else)
#   liburing-dev     the liburing baselines (bench/c/uring-bench.c): every "vs liburing" row
#   strace           the SQPOLL syscall check, when perf cannot count syscalls
#   linux-perf       perf: exact syscall counts (tracepoints) and profiles (optional;
#                    Debian's package name, Ubuntu's is linux-tools-$(uname -r))
# taskset (util-linux) is part of every Debian and Ubuntu installation.
set -euo pipefail
. "$(dirname "$0")/../scripts/lib/apt-ensure.sh"
apt_ensure bench/install-deps gcc libc6-dev liburing-dev strace -- linux-perf
