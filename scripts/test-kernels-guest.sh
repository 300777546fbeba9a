#!/usr/bin/env bash
# The part of `npm run test:kernels` that runs INSIDE a guest (see scripts/test-kernels.sh),
# in the guest's copy of the project:
#
#   scripts/test-kernels-guest.sh OUTDIR [FILTER...]
#
# 1. the suite, minus test/host-only.txt (files whose answer does not depend on the kernel) and test/vm-only/;
# 2. then test/vm-only/ ALONE, with TSURING_VM_EXCLUSIVE=1: its files change the guest kernel's
#    own settings (sysctls), so nothing else may run beside them.
# Each writes OUTDIR/NAME.txt (vitest's console), OUTDIR/NAME.json (scripts/kernel-reporter.ts)
# and OUTDIR/NAME.rc. Per-test timeouts are raised (TSURING_TEST_TIMEOUT_MS, default 900 s):
# under software emulation everything is ~25x slower, and slowness must not read as failure.
set -uo pipefail
out=${1:?usage: test-kernels-guest.sh OUTDIR [FILTER...]}
shift
timeout_ms=${TSURING_TEST_TIMEOUT_MS:-900000}
vitest=(node node_modules/vitest/vitest.mjs run "--testTimeout=$timeout_ms" "--hookTimeout=$timeout_ms"
  --reporter=default --reporter=./scripts/kernel-reporter.ts)

echo "guest: kernel $(uname -r), $(nproc) CPU(s), io_uring_disabled=$(cat /proc/sys/kernel/io_uring_disabled 2>/dev/null || echo absent)"
t0=$(date +%s)
TSURING_TEST_SCOPE=kernel TSURING_REPORT_FILE="$out/main.json" "${vitest[@]}" "$@" > "$out/main.txt" 2>&1
echo $? > "$out/main.rc"
t1=$(date +%s)
echo "guest: main suite exit $(cat "$out/main.rc") after $((t1 - t0)) s"
TSURING_VM_EXCLUSIVE=1 TSURING_REPORT_FILE="$out/exclusive.json" "${vitest[@]}" --passWithNoTests > "$out/exclusive.txt" 2>&1
echo $? > "$out/exclusive.rc"
echo "guest: test/vm-only exit $(cat "$out/exclusive.rc") after $(($(date +%s) - t1)) s"
sync
