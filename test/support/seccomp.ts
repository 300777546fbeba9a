/**
 * A snippet for child processes (test/support/child.ts) that installs a seccomp filter
 * refusing `io_uring_setup` with a given errno, as Docker's default profile does (EPERM) or
 * a sandbox that hides the call (ENOSYS). Through koffi: `prctl(PR_SET_NO_NEW_PRIVS)` then
 * `prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog)`; x86-64 and aarch64 (io_uring_setup is
 * 425 on both), every other call allowed. Put it first in the child's source, before the
 * code under test is imported (use a dynamic `import()` after it).
 */

/** TypeScript source that blocks `io_uring_setup` with `errno` in the process that runs it. */
export function blockIoUringSetup(errno: number): string {
  return String.raw`
import koffi from '@repo/node_modules/koffi/index.js';
{
  const libc = koffi.load('libc.so.6');
  const prctl = libc.func('int prctl(int option, unsigned long a2, void *a3, unsigned long a4, unsigned long a5)');
  const insns = [
    [0x20, 0, 0, 4],                       // A = seccomp_data.arch
    [0x15, 1, 0, 0xc000003e],              // x86_64: go on
    [0x15, 0, 3, 0xc00000b7],              // aarch64: go on; else allow
    [0x20, 0, 0, 0],                       // A = seccomp_data.nr
    [0x15, 0, 1, 425],                     // if A == io_uring_setup
    [0x06, 0, 0, 0x00050000 | ${errno}],   //   return SECCOMP_RET_ERRNO | errno
    [0x06, 0, 0, 0x7fff0000],              // return SECCOMP_RET_ALLOW
  ];
  const filter = Buffer.alloc(insns.length * 8);
  insns.forEach(([code, jt, jf, k], i) => { filter.writeUInt16LE(code, i * 8); filter[i * 8 + 2] = jt; filter[i * 8 + 3] = jf; filter.writeUInt32LE(k >>> 0, i * 8 + 4); });
  const prog = Buffer.alloc(16);
  prog.writeUInt16LE(insns.length, 0);
  prog.writeBigUInt64LE(BigInt(koffi.address(filter)), 8);
  if (prctl(38, 1, null, 0, 0) !== 0) throw new Error('PR_SET_NO_NEW_PRIVS failed');
  if (prctl(22, 2, prog, 0, 0) !== 0) throw new Error('PR_SET_SECCOMP failed: ' + koffi.errno());
  globalThis.__seccompFilter = filter; // keep the program's memory alive
}
`;
}
