import os from 'node:os';
import util from 'node:util';
import { describe, expect, it } from 'vitest';
import { errnoName, errnoNumber, errnoText } from '../../src/sys/errno.js';
import { errorFromCqeRes, errorFromErrno, IoUringError, setupHint } from '../../src/sys/errors.js';
import { readIoUringStatus, type IoUringStatus } from '../../src/sys/iouring-status.js';
import { lastJson, runChild } from '../support/child.js';

const status = (over: Partial<IoUringStatus>): IoUringStatus => ({
  disabled: 0,
  group: -1,
  inGroup: false,
  seccompMode: 0,
  seccompFilters: 0,
  kernelRelease: '6.18.0',
  kernelHasIoUring: true,
  ...over,
});

describe('errno table', () => {
  it('agrees with Node for every errno name Node knows on this platform', () => {
    const mismatches: string[] = [];
    for (const [name, n] of Object.entries(os.constants.errno)) {
      if (errnoNumber(name) !== n) mismatches.push(`${name}: node ${n}, table ${errnoNumber(name)}`);
    }
    expect(mismatches).toEqual([]);
  });

  it('knows the errnos io_uring returns that Node does not', () => {
    expect(errnoName(53)).toBe('EBADR');
    expect(errnoName(77)).toBe('EBADFD');
    expect(errnoName(130)).toBe('EOWNERDEAD');
    expect(errnoName(-62)).toBe('ETIME');
    expect(errnoName(95)).toBe('EOPNOTSUPP');
    expect(errnoName(11)).toBe('EAGAIN');
    expect(errnoName(99999)).toBe('E99999');
    expect(errnoText(53)).toBe('invalid request descriptor');
  });

  it("uses Node's wording where Node has the same name", () => {
    const [, nodeText] = util.getSystemErrorMap().get(-9) ?? [];
    expect(errnoText(9)).toBe(nodeText);
    // Node calls 95 ENOTSUP "operation not supported on socket", wrong for io_uring.
    expect(errnoText(95)).toBe('operation not supported');
  });
});

describe('IoUringError', () => {
  it("has Node's system-error shape", () => {
    const err = errorFromErrno(9, 'io_uring_enter', '(fd 7)');
    expect(err).toBeInstanceOf(Error);
    expect(err).toBeInstanceOf(IoUringError);
    expect(err.name).toBe('IoUringError');
    expect(err.code).toBe('EBADF');
    expect(err.errno).toBe(-9);
    expect(err.errno).toBe(-os.constants.errno.EBADF);
    expect(util.getSystemErrorName(err.errno)).toBe('EBADF');
    expect(err.syscall).toBe('io_uring_enter');
    expect(err.message.startsWith('EBADF: bad file descriptor, io_uring_enter (fd 7). ')).toBe(true);
    expect(err.message).toContain(err.hint);
    // Either sign of errno gives the same error.
    expect(errorFromErrno(-9, 'io_uring_enter').code).toBe('EBADF');
  });

  it('turns a negative CQE res into an error named after the op', () => {
    const err = errorFromCqeRes(-125, 'read', '(fd 3)');
    expect(err.code).toBe('ECANCELED');
    expect(err.errno).toBe(-125);
    expect(err.syscall).toBe('read');
    expect(err.message).toMatch(/^ECANCELED: operation canceled, read \(fd 3\)\. .*AbortSignal/);
    const enobufs = errorFromCqeRes(-105, 'recv');
    expect(enobufs.hint).toMatch(/provided-buffer group/);
    // Unknown codes still describe themselves.
    expect(errorFromCqeRes(-2, 'openat').message).toBe('ENOENT: no such file or directory, openat');
  });

  it('gives each io_uring_enter error from the issues a distinct, documented hint', () => {
    const codes = ['EINVAL', 'EFAULT', 'EBADF', 'EOPNOTSUPP', 'EBUSY', 'EBADR', 'EEXIST', 'EBADFD', 'ENXIO', 'EOWNERDEAD', 'EAGAIN', 'EINTR', 'ETIME'];
    const hints = codes.map((code) => {
      const n = errnoNumber(code);
      if (n === undefined) throw new Error(`no errno for ${code}`);
      const err = errorFromErrno(n, 'io_uring_enter');
      expect(err.code).toBe(code);
      expect(err.hint, code).toBeTruthy();
      return err.hint;
    });
    expect(new Set(hints).size).toBe(codes.length);
  });

  it('gives register errors their own hints', () => {
    for (const code of ['EBUSY', 'EEXIST', 'ENXIO', 'EFAULT', 'EBADFD', 'EOPNOTSUPP', 'ENOMEM', 'EACCES']) {
      const err = errorFromErrno(errnoNumber(code) as number, 'io_uring_register');
      expect(err.hint, code).toBeTruthy();
      expect(err.hint).not.toBe(errorFromErrno(errnoNumber(code) as number, 'io_uring_enter').hint);
    }
  });
});

describe('io_uring_setup hints', () => {
  it('tells the three EPERM causes apart from the sysctls and seccomp', () => {
    const two = setupHint('EPERM', status({ disabled: 2 }));
    expect(two).toMatch(/io_uring_disabled is 2/);
    expect(two).toMatch(/sysctl kernel\.io_uring_disabled=0/);

    const oneNoGroup = setupHint('EPERM', status({ disabled: 1, group: -1 }));
    expect(oneNoGroup).toMatch(/io_uring_disabled is 1/);
    expect(oneNoGroup).toMatch(/only processes with CAP_SYS_ADMIN/);

    const oneGroup = setupHint('EPERM', status({ disabled: 1, group: 1234 }));
    expect(oneGroup).toMatch(/in group 1234 .* not in that group/);

    const oneInGroup = setupHint('EPERM', status({ disabled: 1, group: 1234, inGroup: true, seccompMode: 2, seccompFilters: 3 }));
    expect(oneInGroup).toMatch(/seccomp filter probably refused/);
    expect(oneInGroup).toMatch(/3 filter\(s\)/);

    const seccomp = setupHint('EPERM', status({ disabled: 0, seccompMode: 2, seccompFilters: 1 }));
    expect(seccomp).toMatch(/io_uring_disabled is 0\), so a seccomp filter refused the call/);
    expect(seccomp).toMatch(/Seccomp: 2/);

    const unknown = setupHint('EPERM', status({ disabled: null, kernelHasIoUring: false, seccompMode: null }));
    expect(unknown).toMatch(/either a seccomp filter blocks it .* or the kernel restricts it/);

    expect(new Set([two, oneNoGroup, oneGroup, seccomp, unknown]).size).toBe(5);
  });

  it('tells "blocked" from "absent" for ENOSYS', () => {
    expect(setupHint('ENOSYS', status({ kernelHasIoUring: true, seccompMode: 2 }))).toMatch(/blocked, not absent/);
    expect(setupHint('ENOSYS', status({ kernelHasIoUring: false, disabled: null }))).toMatch(/older than Linux 5\.1 or built without CONFIG_IO_URING/);
  });

  it('explains memory limits and unknown flags', () => {
    expect(setupHint('ENOMEM', status({}))).toMatch(/RLIMIT_MEMLOCK/);
    expect(setupHint('EAGAIN', status({}))).toMatch(/RLIMIT_MEMLOCK/);
    expect(setupHint('EINVAL', status({}))).toMatch(/setup flag this kernel does not know/);
    expect(setupHint('EMFILE', status({}))).toMatch(/RLIMIT_NOFILE/);
  });

  it('reads the real status of this machine', () => {
    const s = readIoUringStatus();
    expect(s.kernelRelease).toBe(os.release());
    expect([0, 1, 2, null]).toContain(s.disabled);
    expect([0, 1, 2, null]).toContain(s.seccompMode);
  });
});

// A seccomp filter installed in a child process through koffi's prctl: a real EPERM and
// a real ENOSYS from io_uring_setup, as a container runtime's profile would produce.
function seccompChild(errno: number): string {
  return `
import koffi from '@repo/node_modules/koffi/index.js';
import { ioUringSetup } from '@repo/src/sys/libc.js';
const libc = koffi.load(null);
const prctl = libc.func('int prctl(int option, unsigned long a2, void *a3, unsigned long a4, unsigned long a5)');
// struct sock_filter { u16 code; u8 jt; u8 jf; u32 k; }
const insns = [
  [0x20, 0, 0, 0],                      // A = seccomp_data.nr
  [0x15, 0, 1, 425],                    // if A == io_uring_setup
  [0x06, 0, 0, 0x00050000 | ${errno}],  //   return SECCOMP_RET_ERRNO | errno
  [0x06, 0, 0, 0x7fff0000],             // return SECCOMP_RET_ALLOW
];
const filter = Buffer.alloc(insns.length * 8);
insns.forEach(([code, jt, jf, k], i) => {
  filter.writeUInt16LE(code, i * 8); filter[i * 8 + 2] = jt; filter[i * 8 + 3] = jf; filter.writeUInt32LE(k >>> 0, i * 8 + 4);
});
const prog = Buffer.alloc(16); // struct sock_fprog { u16 len; struct sock_filter *filter; }
prog.writeUInt16LE(insns.length, 0);
prog.writeBigUInt64LE(koffi.address(filter), 8);
if (prctl(38, 1, null, 0, 0) !== 0) throw new Error('PR_SET_NO_NEW_PRIVS failed');
if (prctl(22, 2, prog, 0, 0) !== 0) throw new Error('PR_SET_SECCOMP failed: ' + koffi.errno());
try {
  ioUringSetup(8, new Uint8Array(120));
  console.log(JSON.stringify({ ok: true }));
} catch (err) {
  console.log(JSON.stringify({ code: err.code, errno: err.errno, syscall: err.syscall, hint: err.hint, message: err.message }));
}
`;
}

describe('io_uring blocked by a seccomp filter (child process)', () => {
  const machine = readIoUringStatus();

  it('EPERM says the sysctl allows io_uring, so seccomp refused it', async (ctx) => {
    // The hint then (rightly) blames the sysctl, or (before 6.6) cannot read it.
    if (machine.disabled !== 0) ctx.skip(`kernel.io_uring_disabled is ${machine.disabled ?? 'absent (Linux 6.6 added it)'} on this kernel (${os.release()}): the EPERM hint cannot say the sysctl allows io_uring`);
    const r = lastJson<{ code: string; errno: number; syscall: string; hint: string }>(await runChild(seccompChild(1)));
    expect(r.code).toBe('EPERM');
    expect(r.errno).toBe(-1);
    expect(r.syscall).toBe('io_uring_setup');
    expect(r.hint).toMatch(/io_uring_disabled is 0\), so a seccomp filter refused the call/);
    expect(r.hint).toMatch(/Seccomp: 2, \d+ filter\(s\)/);
  });

  it('ENOSYS says io_uring is blocked, not absent', async (ctx) => {
    if (!machine.kernelHasIoUring) ctx.skip(`no /proc/sys/kernel/io_uring_disabled on this kernel (${os.release()}; Linux 6.6 added it): nothing tells a filter's ENOSYS from a kernel without io_uring`);
    const r = lastJson<{ code: string; errno: number; hint: string }>(await runChild(seccompChild(38)));
    expect(r.code).toBe('ENOSYS');
    expect(r.errno).toBe(-38);
    expect(r.hint).toMatch(/blocked, not absent/);
    expect(r.hint).toMatch(/Seccomp: 2/);
  });
});
