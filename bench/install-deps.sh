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
required=(gcc libc6-dev liburing-dev strace)
optional=(linux-perf)
installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }
missing=()
for p in "${required[@]}" "${optional[@]}"; do installed "$p" || missing+=("$p"); done
if [ "${#missing[@]}" -eq 0 ]; then
  echo "bench/install-deps: all present (${required[*]} ${optional[*]})"
  exit 0
fi
sudo=()
if [ "$(id -u)" -ne 0 ]; then sudo=(sudo); fi
echo "bench/install-deps: installing ${missing[*]}"
"${sudo[@]}" apt-get update -qq
for p in "${missing[@]}"; do
  if ! DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "$p"; then
    case " ${optional[*]} " in
      *" $p "*) echo "bench/install-deps: optional package $p is not available here; the bench runs without it" ;;
      *) echo "bench/install-deps: could not install $p" >&2; exit 1 ;;
    esac
  fi
done
