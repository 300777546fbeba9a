/**
 * A seccomp filter that makes `io_uring_setup` fail with a chosen errno, as a container's
 * profile does (Docker's default answers EPERM; some answer ENOSYS), for child processes
 * (see child.ts): {@link seccompSnippet} is source text to put at the top of a child's
 * script, after its imports. It installs the filter in the child only (never in the test
 * runner), with `PR_SET_NO_NEW_PRIVS` first, as an unprivileged process must.
 *
 * The filter: on x86-64 and aarch64, syscall 425 (`io_uring_setup`) returns
 * `SECCOMP_RET_ERRNO | errno`; everything else is allowed.
 */

/** `errno`: 1 for EPERM, 38 for ENOSYS. The snippet imports koffi under its own names. */
export function seccompSnippet(errno: number): string {
  return String.raw`
import seccompKoffi from '@repo/node_modules/koffi/index.js';
{
  const prctl = seccompKoffi.load(null).func('int prctl(int option, unsigned long a2, void *a3, unsigned long a4, unsigned long a5)');
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
  prog.writeBigUInt64LE(BigInt(seccompKoffi.address(filter)), 8);
  if (prctl(38, 1, null, 0, 0) !== 0) throw new Error('PR_SET_NO_NEW_PRIVS failed');
  if (prctl(22, 2, prog, 0, 0) !== 0) throw new Error('PR_SET_SECCOMP failed: ' + seccompKoffi.errno());
}
`;
}
