/**
 * What the machine says about io_uring availability, read from `/proc`.
 *
 * Used to word the errors of a failed `io_uring_setup` (EPERM and ENOSYS each have
 * several possible causes, and these files tell them apart) and by the CLI's
 * diagnostics. Reads are synchronous and only happen on error paths or on request.
 *
 * @module
 */
import { readFileSync } from 'node:fs';
import os from 'node:os';

/** The `kernel.io_uring_disabled` sysctl (Linux 6.6+). */
export const IO_URING_DISABLED_PATH = '/proc/sys/kernel/io_uring_disabled';
/** The `kernel.io_uring_group` sysctl (Linux 6.6+). */
export const IO_URING_GROUP_PATH = '/proc/sys/kernel/io_uring_group';

/** A snapshot of the settings that decide whether this process may use io_uring. */
export interface IoUringStatus {
  /**
   * `kernel.io_uring_disabled`: 0 = anyone may create rings; 1 = only processes with
   * CAP_SYS_ADMIN or in the group `kernel.io_uring_group`; 2 = nobody.
   * `null` when the file is absent (kernels before 6.6, or /proc not mounted).
   */
  disabled: 0 | 1 | 2 | null;
  /** `kernel.io_uring_group`, a gid; -1 means "no group". `null` when absent. */
  group: number | null;
  /** Whether this process is in {@link IoUringStatus.group} (primary or supplementary gid). */
  inGroup: boolean;
  /**
   * `Seccomp:` of /proc/self/status: 0 = none, 1 = strict, 2 = filter (a container's or
   * sandbox's syscall filter, which can refuse io_uring with EPERM or ENOSYS).
   */
  seccompMode: 0 | 1 | 2 | null;
  /** `Seccomp_filters:` of /proc/self/status: how many filters are stacked. */
  seccompFilters: number | null;
  /** `os.release()`, e.g. `6.18.0`. */
  kernelRelease: string;
  /**
   * True when the kernel certainly has io_uring compiled in: the 6.6+ sysctl exists.
   * False means "unknown", not "absent".
   */
  kernelHasIoUring: boolean;
}

function readTrimmed(path: string): string | null {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return null;
  }
}

function readInt(path: string): number | null {
  const text = readTrimmed(path);
  if (text === null || !/^-?\d+$/.test(text)) return null;
  return Number(text);
}

/** Reads the io_uring sysctls and this process's seccomp state. Never throws. */
export function readIoUringStatus(): IoUringStatus {
  const rawDisabled = readInt(IO_URING_DISABLED_PATH);
  const disabled = rawDisabled === 0 || rawDisabled === 1 || rawDisabled === 2 ? rawDisabled : null;
  const group = readInt(IO_URING_GROUP_PATH);
  let inGroup = false;
  if (group !== null && group >= 0) {
    try {
      inGroup = process.getegid?.() === group || (process.getgroups?.() ?? []).includes(group);
    } catch {
      inGroup = false;
    }
  }
  let seccompMode: 0 | 1 | 2 | null = null;
  let seccompFilters: number | null = null;
  const status = readTrimmed('/proc/self/status');
  if (status !== null) {
    const mode = /^Seccomp:\s*(\d+)/m.exec(status);
    if (mode !== null) {
      const m = Number(mode[1]);
      seccompMode = m === 0 || m === 1 || m === 2 ? m : null;
    }
    const filters = /^Seccomp_filters:\s*(\d+)/m.exec(status);
    if (filters !== null) seccompFilters = Number(filters[1]);
  }
  return {
    disabled,
    group,
    inGroup,
    seccompMode,
    seccompFilters,
    kernelRelease: os.release(),
    kernelHasIoUring: rawDisabled !== null,
  };
}

/** One line describing the seccomp state, for error hints. */
export function describeSeccomp(status: IoUringStatus): string {
  switch (status.seccompMode) {
    case 2:
      return `this process runs under a seccomp filter (Seccomp: 2, ${status.seccompFilters ?? '?'} filter(s) in /proc/self/status)`;
    case 1:
      return 'this process runs in seccomp strict mode (Seccomp: 1)';
    case 0:
      return 'this process has no seccomp filter (Seccomp: 0)';
    default:
      return 'the seccomp state is unknown (/proc/self/status unreadable)';
  }
}
