#!/bin/bash
# (tsuring's copy of the shared harness ../shared/kvm, used by scripts/test-kernels.sh; changes:
# no_timer_check on the kernel command line, and its own initramfs cache directory.)
# Run ONE command inside a KVM guest booted on another kernel (by default the newest Debian
# 6.1 kernel installed in /boot), with this machine's root filesystem as the guest's root
# (read-only 9p, under a tmpfs overlay: writes vanish at poweroff) and the given host
# directories shared writable at the same paths. Prints the guest's serial console (the
# command's output) on stdout and exits with the command's exit status.
#
#   run-in-vm.sh [options] DIR COMMAND [ARG...]
#
# runs COMMAND ARG... (exec'd by bash, no shell parsing: use `bash -c '...'` for pipes or
# redirections) in guest directory DIR. DIR must be on a writable share (-w) if the command
# writes there and you want to keep what it wrote.
#
# options:
#   -w HOSTDIR   share HOSTDIR writable at the same path in the guest (repeatable)
#   -k KVER      kernel: /boot/vmlinuz-KVER and /lib/modules/KVER (default: newest 6.1.*
#                non-cloud one found; the -cloud- flavour lacks 9p)
#   -t SECONDS   time limit for the whole run (default 1800); the command is ended SECONDS-30
#                after boot in the guest, and qemu is killed at SECONDS; exit status 124
#   -a ACCEL     kvm, tcg or auto (default): KVM where the host has hardware virtualization
#                (kvm_intel/kvm_amd loaded), else TCG software emulation (several times slower)
#   -m MEM       guest memory (default 4G)        -c CPUS  vCPUs (default 2)
#   -e VAR=VAL   set an environment variable for the command (repeatable); the guest starts
#                from a clean environment: PATH, HOME=/root, TERM=dumb, LANG=C.UTF-8, and
#                the host's limits on open files and locked memory (ulimit -n, -l)
#   -d FILE      write the guest's kernel log (dmesg) to FILE after the run
#   -v           verbose: kernel boot messages and the harness's own lines on the console
#   -C DIR       cache directory for the initramfs (default $XDG_CACHE_HOME/tsuring-vm
#                or ~/.cache/tsuring-vm); it is rebuilt when missing or stale
#
# exit status: the command's; 124 on timeout; 125 when the guest could not run it (boot,
# mount or harness failure). Needs root (9p passthrough of /, /dev/kvm).
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
usage() { sed -n '4,35p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 2; }

accel=auto kver= limit=1800 mem=4G cpus=2 verbose=0 dmesg_out= cache=${XDG_CACHE_HOME:-$HOME/.cache}/tsuring-vm
shares=() envs=()
while getopts a:w:k:t:m:c:e:d:vC:h opt; do
  case $opt in
    a) accel=$OPTARG ;;
    w) shares+=("$OPTARG") ;;
    k) kver=$OPTARG ;;
    t) limit=$OPTARG ;;
    m) mem=$OPTARG ;;
    c) cpus=$OPTARG ;;
    e) envs+=("$OPTARG") ;;
    d) dmesg_out=$OPTARG ;;
    v) verbose=1 ;;
    C) cache=$OPTARG ;;
    *) usage ;;
  esac
done
shift $((OPTIND - 1))
[ $# -ge 2 ] || usage
dir=$1; shift

err() { echo "run-in-vm: $*" >&2; }
[[ $limit =~ ^[0-9]+$ ]] && [ "$limit" -ge 40 ] || { err "-t needs whole seconds, at least 40"; exit 2; }
# KVM when it is hardware virtualization (kvm_intel / kvm_amd); a /dev/kvm served by another
# backend (e.g. kvm_pvm, nested paravirtual KVM) cannot run a stock Debian kernel at a usable
# speed, so TCG (software emulation, several times slower) is used there.
if [ "$accel" = auto ]; then
  if [ -w /dev/kvm ] && { [ -d /sys/module/kvm_intel ] || [ -d /sys/module/kvm_amd ]; }; then
    accel=kvm
  else
    accel=tcg
    err "no hardware KVM here ($( [ -d /sys/module/kvm_pvm ] && echo "/dev/kvm is kvm_pvm" || echo "no usable /dev/kvm")): using TCG emulation (slow)"
  fi
fi
case $accel in
  kvm) [ -w /dev/kvm ] || { err "/dev/kvm is missing or not writable"; exit 125; }
       accelargs=(-accel kvm -cpu host) ;;
  tcg) accelargs=(-accel tcg,thread=multi -cpu max) ;;
  *) err "-a takes kvm, tcg or auto"; exit 2 ;;
esac
qemu=$(command -v qemu-system-x86_64) || { err "need qemu: apt-get install qemu-system-x86"; exit 125; }

if [ -z "$kver" ]; then
  for f in $(ls /boot/vmlinuz-6.1.* 2>/dev/null | sort -V -r); do
    v=${f#/boot/vmlinuz-}
    grep -q '^CONFIG_9P_FS=' "/boot/config-$v" 2>/dev/null && [ -d "/lib/modules/$v" ] && { kver=$v; break; }
  done
  [ -n "$kver" ] || { err "no Debian 6.1 kernel with 9p in /boot: apt-get install linux-image-amd64 (on bookworm)"; exit 125; }
fi
kernel=/boot/vmlinuz-$kver
[ -r "$kernel" ] || { err "no $kernel"; exit 125; }

# The initramfs, rebuilt when older than the scripts or the kernel's modules.
initrd=$cache/initrd-$kver.cpio.gz
if [ ! -s "$initrd" ] || [ "$here/guest-init.sh" -nt "$initrd" ] || [ "$here/mkinitramfs.sh" -nt "$initrd" ] \
   || [ "/lib/modules/$kver/modules.dep" -nt "$initrd" ]; then
  "$here/mkinitramfs.sh" -k "$kver" "$initrd" || { err "initramfs build failed"; exit 125; }
fi

ctl=$(mktemp -d "${TMPDIR:-/tmp}/kvm-ctl.XXXXXX")
qpid=
cleanup() {
  [ -n "$qpid" ] && kill "$qpid" 2>/dev/null
  rm -rf "$ctl"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The job the guest runs: a clean environment, then cd and exec.
{
  echo 'umask 022'
  printf 'export %q\n' PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    HOME=/root TERM=dumb LANG=C.UTF-8
  for e in "${envs[@]}"; do printf 'export %q\n' "$e"; done
  # The host's limits on open files and locked memory (the guest's init starts from the
  # kernel defaults, 1024/4096 open files, which tests that raise their own limit trip on).
  for l in n l; do
    printf 'ulimit -H%s %s 2>/dev/null; ulimit -S%s %s 2>/dev/null\n' "$l" "$(ulimit -H$l)" "$l" "$(ulimit -S$l)"
  done
  printf 'cd -- %q || exit 125\n' "$dir"
  printf 'exec'; printf ' %q' "$@"; printf '\n'
} > "$ctl/job.sh"
echo $((limit - 30)) > "$ctl/timeout"

fsargs=(
  -fsdev "local,id=hostroot,path=/,security_model=passthrough,readonly=on,multidevs=remap"
  -device "virtio-9p-pci,fsdev=hostroot,mount_tag=hostroot"
  -fsdev "local,id=ctl,path=$ctl,security_model=passthrough"
  -device "virtio-9p-pci,fsdev=ctl,mount_tag=ctl"
)
: > "$ctl/mounts"
i=0
# Parents before children: sort the shares by path length.
while IFS= read -r s; do
  [ -n "$s" ] || continue
  [ -d "$s" ] || { err "-w $s: not a directory"; exit 2; }
  s=$(cd "$s" && pwd -P)
  case $s in *[[:space:],]*) err "-w $s: paths with spaces or commas are not supported"; exit 2 ;; esac
  fsargs+=(-fsdev "local,id=rw$i,path=$s,security_model=passthrough,multidevs=remap"
           -device "virtio-9p-pci,fsdev=rw$i,mount_tag=rw$i")
  echo "rw$i $s" >> "$ctl/mounts"
  i=$((i + 1))
done < <(for s in "${shares[@]}"; do printf '%s\t%s\n' "${#s}" "$s"; done | sort -n | cut -f2-)

# no_timer_check: under TCG on a busy host the kernel's boot-time check of the IO-APIC timer can
# see too few ticks and panic ("IO-APIC + timer doesn't work!"; seen with 6.1 on a loaded
# 2-core machine); the timer works, the check is only too impatient for an emulated CPU.
append="console=ttyS0 panic=-1 rdinit=/init no_timer_check"
if [ $verbose = 1 ]; then append+=" kvm.verbose=1"; else append+=" quiet loglevel=3"; fi

"$qemu" -nodefaults -no-user-config -machine q35 "${accelargs[@]}" -smp "$cpus" -m "$mem" \
  -display none -monitor none -serial stdio -no-reboot \
  -kernel "$kernel" -initrd "$initrd" -append "$append" \
  -device virtio-rng-pci -nic none \
  "${fsargs[@]}" < /dev/null &
qpid=$!

(
  trap 'kill "$sp" 2>/dev/null; exit 0' TERM
  sleep "$limit" & sp=$!
  wait "$sp"
  echo "run-in-vm: time limit of ${limit}s reached; killing qemu" >&2
  kill "$qpid" 2>/dev/null
) &
dogpid=$!
wait "$qpid"
qrc=$?
qpid=
kill "$dogpid" 2>/dev/null; wait "$dogpid" 2>/dev/null

[ -n "$dmesg_out" ] && [ -f "$ctl/dmesg" ] && cp "$ctl/dmesg" "$dmesg_out"
if [ -f "$ctl/rc" ]; then
  exit "$(cat "$ctl/rc")"
elif [ $qrc -gt 128 ]; then
  err "qemu killed (time limit or signal), no exit status from the guest"; exit 124
else
  err "the guest left no exit status (qemu exit $qrc): rerun with -v to see the boot"; exit 125
fi
