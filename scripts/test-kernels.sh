#!/usr/bin/env bash
# npm run test:kernels [-- options]: the test suite on the kernels tsuring supports besides the
# machine's own: Debian 12's 6.1 (`linux-image-amd64` on bookworm) and the 6.12 LTS
# (`linux-image-6.12-amd64`, bookworm-security), each booted in qemu through
# scripts/vm/run-in-vm.sh (the project's copy of ../shared/kvm), each on a fresh copy of the
# working tree. Prints, per kernel,
# passed / failed / skipped with every failure and every skip's reason; exits non-zero when
# any test failed, any file did not load, or a guest did not finish.
#
# What runs in the guests: every test file except test/host-only.txt (files whose answer does
# not depend on the kernel: the header extractor, the emitters' golden files, the typedoc
# build, the bench harness, ...), which
# `npm test` runs once on the host; then test/vm-only/ alone with TSURING_VM_EXCLUSIVE=1.
#
# options:
#   -k LIST     kernels, comma-separated (default 6.1,6.12): the newest /boot/vmlinuz-LIST.*
#               with 9p, or an exact release (6.12.118+deb12-amd64)
#   -a ACCEL    kvm, tcg or auto (default): KVM where the host has hardware virtualization,
#               else TCG software emulation (~25x slower)
#   -j MODE     parallel (default: all guests at once, -c CPUS each) or serial
#   -c CPUS     vCPUs per guest (default: 1 in parallel mode, 2 in serial mode)
#   -t SECONDS  time limit per guest (default 3000)
#   -o DIR      keep the results in DIR (default: a new directory under /var/tmp)
#   -n          do not install missing packages (fail instead)
#   -s SCOPE    full (default): every test file (minus test/host-only.txt) in each guest;
#               selected: only test/kernels-ci.txt's files (those whose expectations depend
#               on the kernel); auto: full under KVM, selected under TCG (the scope meant for CI: under
#               TCG the full suite takes more than an hour per kernel on 2 cores).
#               test/vm-only/ runs in every scope. FILTERs, when given, replace the scope.
#   FILTER...   after the options: vitest file filters for the main run (e.g. test/ring/links),
#               to look at a few files on the other kernels
# environment: TSURING_KVM_HARNESS (default scripts/vm/run-in-vm.sh), TSURING_TEST_SLOWDOWN
# (hang detectors stretch by it; default 30 under TCG, 2 under KVM), TSURING_TEST_STRESS (share
# of the stress loops' iterations; default 0.1 under TCG, 1 under KVM), TSURING_TEST_TIMEOUT_MS
# (vitest's per-test timeout in the guests, default 900000).
# Needs root (the harness does; apt-get installs what is missing).
set -uo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
usage() { awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "${BASH_SOURCE[0]}"; exit 2; }
kernels=6.1,6.12 accel=auto mode=parallel cpus= limit=3000 out= install=1 scope=full
while getopts k:a:j:c:t:o:s:nh opt; do
  case $opt in
    k) kernels=$OPTARG ;;
    a) accel=$OPTARG ;;
    j) mode=$OPTARG ;;
    c) cpus=$OPTARG ;;
    t) limit=$OPTARG ;;
    o) out=$OPTARG ;;
    n) install=0 ;;
    s) scope=$OPTARG ;;
    *) usage ;;
  esac
done
shift $((OPTIND - 1))
filters=("$@")
given=${#filters[@]}
case $mode in parallel|serial) ;; *) usage ;; esac
case $scope in full|selected|auto) ;; *) usage ;; esac
[ -n "$cpus" ] || { [ "$mode" = parallel ] && cpus=1 || cpus=2; }
harness=${TSURING_KVM_HARNESS:-$repo/scripts/vm/run-in-vm.sh}
say() { echo "test:kernels: $*" >&2; }
die() { say "$*"; exit 2; }
[ -x "$harness" ] || die "no VM harness at $harness (set TSURING_KVM_HARNESS)"
[ "$(id -u)" = 0 ] || die "needs root (qemu shares / with passthrough; apt-get installs what is missing)"

# --- what the guests need, from Debian's packages -----------------------------------------
# The newest installed kernel RELEASE matching a prefix (6.1 -> 6.1.0-57-amd64), with 9p
# (the -cloud- flavour has none) and its modules.
find_kernel() {
  local want=$1 f v
  if [ -r "/boot/vmlinuz-$want" ]; then echo "$want"; return 0; fi
  for f in $(ls -d /boot/vmlinuz-"$want".* 2>/dev/null | sort -V -r); do
    v=${f#/boot/vmlinuz-}
    grep -q '^CONFIG_9P_FS=' "/boot/config-$v" 2>/dev/null && [ -d "/lib/modules/$v" ] && { echo "$v"; return 0; }
  done
  return 1
}
package_for() { case $1 in 6.1) echo linux-image-amd64 ;; 6.12) echo linux-image-6.12-amd64 ;; *) echo "linux-image-$1" ;; esac; }

IFS=, read -r -a wanted <<< "$kernels"
missing=()
command -v qemu-system-x86_64 >/dev/null || missing+=(qemu-system-x86)
bb=$(command -v busybox || true)
{ [ -n "$bb" ] && ! ldd "$bb" >/dev/null 2>&1; } || missing+=(busybox-static)
command -v cpio >/dev/null || missing+=(cpio)
for k in "${wanted[@]}"; do find_kernel "$k" >/dev/null || missing+=("$(package_for "$k")"); done
if [ ${#missing[@]} -gt 0 ]; then
  [ $install = 1 ] || die "missing: ${missing[*]} (apt-get install them, or run without -n)"
  say "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2 \
    || die "apt-get install ${missing[*]} failed"
fi
declare -A kver=()
for k in "${wanted[@]}"; do
  kver[$k]=$(find_kernel "$k") || die "no kernel $k with 9p in /boot even after installing $(package_for "$k")"
done

# --- the runs ---------------------------------------------------------------------------
# The harness's own rule for auto (KVM only where it is hardware virtualization), decided here
# so that the guests know how slow they are: hang detectors in the tests stretch by
# TSURING_TEST_SLOWDOWN (test/support/slow.ts); vitest's per-test timeout is raised as well.
if [ "$accel" = auto ]; then
  if [ -w /dev/kvm ] && { [ -d /sys/module/kvm_intel ] || [ -d /sys/module/kvm_amd ]; }; then accel=kvm; else accel=tcg; fi
fi
if [ "$scope" = auto ]; then [ "$accel" = kvm ] && scope=full || scope=selected; fi
if [ "$scope" = selected ] && [ "${#filters[@]}" -eq 0 ]; then
  mapfile -t filters < <(sed -n 's/^\([^#][^ ]*\) # .*$/\1/p' "$repo/test/kernels-ci.txt")
  [ "${#filters[@]}" -gt 0 ] || die "test/kernels-ci.txt lists no files"
fi
slowdown=${TSURING_TEST_SLOWDOWN:-$([ "$accel" = tcg ] && echo 30 || echo 2)}
# Stress loops (100,000 reads under forced GCs, 10,000 races, create/close cycles, fuzz runs)
# run this share of their iterations: under TCG the full counts alone would take over an hour.
stress=${TSURING_TEST_STRESS:-$([ "$accel" = tcg ] && echo 0.1 || echo 1)}
[ -n "$out" ] || out=$(mktemp -d /var/tmp/tsuring-kernels.XXXXXX)
mkdir -p "$out" && out=$(cd "$out" && pwd -P)
case $out in *[[:space:],]*) die "-o $out: the harness cannot share paths with spaces or commas" ;; esac

say "host-only test files (their answer does not depend on the kernel; run once on the host by npm test, not in the guests):"
sed -n 's/^\([^#][^ ]*\) # \(.*\)$/  \1: \2/p' "$repo/test/host-only.txt" >&2
say "kernels: $(for k in "${wanted[@]}"; do printf '%s ' "${kver[$k]}"; done)| accel $accel (slowdown x$slowdown, stress loops x$stress) | $mode, $cpus vCPU(s) each | limit ${limit}s | $([ "$given" -gt 0 ] && echo "the ${given} files given" || echo "scope $scope${filters:+ (${#filters[@]} files)}") | results in $out"

# A fresh copy of the working tree (tracked and untracked files, not ignored ones) per guest,
# with the host's node_modules (CI has just run npm ci there).
copy_tree() {
  local dst=$1
  mkdir -p "$dst"
  (cd "$repo" && git ls-files -z -co --exclude-standard --deduplicate \
    | tar --null --ignore-failed-read -T - -cf - 2>/dev/null) | tar -C "$dst" -xf - || return 1
  if [ -d "$repo/node_modules" ]; then cp -a "$repo/node_modules" "$dst/"; else (cd "$dst" && npm ci --ignore-scripts >&2); fi
  # ../shared beside the copy as beside the repository (the kernel headers some tests read):
  # a link to the host's, which the guest sees at the same path.
  [ -d "$repo/../shared" ] && ln -sfn "$(cd "$repo/../shared" && pwd -P)" "$dst/../shared"
  return 0
}

pids=()
run_one() { # KERNEL-LABEL
  local k=$1 dir=$out/$1 t0 rc
  rm -rf "$dir" && mkdir -p "$dir"
  copy_tree "$dir/project" || { echo 125 > "$dir/vm.rc"; return; }
  t0=$(date +%s)
  for attempt in 1 2; do
    "$harness" -a "$accel" -k "${kver[$k]}" -c "$cpus" -t "$limit" -d "$dir/dmesg.txt" -w "$dir" \
      -e "TSURING_TEST_SLOWDOWN=$slowdown" -e "TSURING_TEST_STRESS=$stress" -e "TSURING_TEST_TIMEOUT_MS=${TSURING_TEST_TIMEOUT_MS:-900000}" \
      "$dir/project" bash scripts/test-kernels-guest.sh "$dir" "${filters[@]}" > "$dir/console.txt" 2> "$dir/harness.txt"
    rc=$?
    # 125: the guest never ran the command (boot or mount failure): once more, after saying why.
    [ $rc = 125 ] && [ $attempt = 1 ] && [ ! -e "$dir/main.rc" ] || break
    say "$k: the guest did not start the suite (exit 125; $(grep -m1 -i 'panic\|fatal\|run-in-vm' "$dir/console.txt" "$dir/harness.txt" | head -1)); booting it again"
  done
  echo $rc > "$dir/vm.rc"
  echo $(($(date +%s) - t0)) > "$dir/seconds"
  say "$k (${kver[$k]}): guest done, exit $rc, $(cat "$dir/seconds") s"
}
t0=$(date +%s)
for k in "${wanted[@]}"; do
  if [ "$mode" = parallel ]; then run_one "$k" & pids+=($!); else run_one "$k"; fi
done
for p in "${pids[@]}"; do wait "$p"; done
say "all guests done in $(($(date +%s) - t0)) s"

cd "$repo" && exec node --import tsx scripts/kernels-summary.ts "$out" "${wanted[@]}"
