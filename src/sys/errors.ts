/**
 * Errors from the kernel, shaped like Node's own system errors.
 *
 * Convention (the one Node's `fs`, `net` and `child_process` errors follow):
 * - `code` is the symbolic name: `'EBADF'`.
 * - `errno` is the **negative** errno: `-9`. This is what Node puts in `err.errno` for
 *   every libuv-backed error, what `util.getSystemErrorName(err.errno)` accepts, and
 *   the same number a CQE carries in `res`. `-os.constants.errno.EBADF === err.errno`.
 * - `syscall` is the system call (`'io_uring_enter'`) or, for a failed operation, the
 *   io_uring op name (`'read'`, `'accept'`).
 * - `message` is `"<code>: <text>, <syscall>[ <context>]"` as in Node
 *   (`EBADF: bad file descriptor, io_uring_enter`), followed by a hint where the error has
 *   a known cause and remedy; the hint alone is also in `hint`.
 *
 * @module
 */
import { errnoName, errnoText } from './errno.js';
import { describeSeccomp, readIoUringStatus, type IoUringStatus } from './iouring-status.js';

/** A failed system call or io_uring operation. */
export class IoUringError extends Error {
  /** Symbolic errno name, e.g. `'EBADF'`. */
  readonly code: string;
  /** Negative errno, as in Node's system errors: `-9` for EBADF. */
  readonly errno: number;
  /** The system call (`'io_uring_setup'`) or io_uring op name (`'read'`) that failed. */
  readonly syscall: string;
  /** What probably caused the error and what to do about it, when known. */
  readonly hint: string | undefined;

  /**
   * An error with Node's system-error shape; the message is `"<code>: <text>, <syscall>[ <context>][. <hint>]"`.
   *
   * @param errno - The errno, either sign; stored negative as in Node.
   * @param syscall - The system call or op name that failed.
   * @param context - Appended to the message, e.g. `"fd 7"`.
   * @param hint - The likely cause and remedy, appended to the message.
   */
  constructor(errno: number, syscall: string, context?: string, hint?: string) {
    const n = Math.abs(errno);
    const code = errnoName(n);
    let message = `${code}: ${errnoText(n)}, ${syscall}`;
    if (context !== undefined && context !== '') message += ` ${context}`;
    if (hint !== undefined) message += `. ${hint}`;
    super(message);
    this.name = 'IoUringError';
    this.code = code;
    this.errno = -n;
    this.syscall = syscall;
    this.hint = hint;
  }
}

/**
 * The error for a failed system call.
 *
 * @param errno - The errno, either sign (`koffi.errno()` gives it positive).
 * @param syscall - `'io_uring_setup'`, `'io_uring_enter'`, `'io_uring_register'`, `'mmap'`, ...
 * @param context - Appended to the message, e.g. `"fd 7"` or `"IORING_REGISTER_BUFFERS"`.
 */
export function errorFromErrno(errno: number, syscall: string, context?: string): IoUringError {
  const code = errnoName(errno);
  return new IoUringError(errno, syscall, context, syscallHint(syscall, code));
}

/**
 * The error for a CQE whose `res` is negative.
 *
 * @param res - The CQE's `res`: a negative errno.
 * @param opName - The operation, e.g. `'read'` (becomes `syscall`).
 * @param context - Appended to the message, e.g. `"fd 7"`.
 */
export function errorFromCqeRes(res: number, opName: string, context?: string): IoUringError {
  const code = errnoName(res);
  return new IoUringError(res, opName, context, CQE_HINTS[code]);
}

// ---------------------------------------------------------------------------------------
// Hints. Each names the likely cause and the remedy; the texts follow the kernel's and
// the man pages' meaning of each errno for that call.

function syscallHint(syscall: string, code: string): string | undefined {
  switch (syscall) {
    case 'io_uring_setup':
      return setupHint(code);
    case 'io_uring_enter':
      return ENTER_HINTS[code];
    case 'io_uring_register':
      return REGISTER_HINTS[code];
    case 'mmap':
      return MMAP_HINTS[code];
    case 'eventfd':
      return code === 'EMFILE' || code === 'ENFILE' ? FD_LIMIT_HINT : undefined;
    default:
      return undefined;
  }
}

const FD_LIMIT_HINT =
  'The process (EMFILE: RLIMIT_NOFILE, see `ulimit -n`) or the system (ENFILE) is out of file descriptors; close some or raise the limit';

/**
 * The hint for a failed io_uring_setup. EPERM and ENOSYS each have several causes;
 * the sysctls and /proc/self/status say which applies here.
 */
export function setupHint(code: string, status: IoUringStatus = readIoUringStatus()): string | undefined {
  switch (code) {
    case 'EPERM':
      return setupEpermHint(status);
    case 'ENOSYS':
      if (status.kernelHasIoUring) {
        return (
          `io_uring is blocked, not absent: this kernel (${status.kernelRelease}) has io_uring (/proc/sys/kernel/io_uring_disabled exists), ` +
          `so a seccomp filter answered ENOSYS; ${describeSeccomp(status)}. ` +
          'In a container, run with a seccomp profile that allows io_uring_setup, io_uring_enter and io_uring_register'
        );
      }
      return (
        `This kernel (${status.kernelRelease}) has no io_uring: it is older than Linux 5.1 or built without CONFIG_IO_URING; ` +
        `or a seccomp filter answers ENOSYS for it (${describeSeccomp(status)}). ` +
        'Use a kernel with io_uring, or allow the io_uring syscalls in the seccomp profile'
      );
    case 'ENOMEM':
    case 'EAGAIN':
      return (
        'The kernel could not allocate or pin the ring memory. For a process without CAP_IPC_LOCK, ring memory counts against ' +
        'RLIMIT_MEMLOCK (`ulimit -l`) on kernels before 5.12 and again on recent ones (seen on 6.18, NO_MMAP rings included): ' +
        'raise it or ask for fewer entries; otherwise the machine is low on memory'
      );
    case 'EINVAL':
      return (
        `The kernel (${status.kernelRelease}) refused the parameters: entries of 0 or above its maximum (32768 SQ entries; ` +
        'CQ size above 65536 without IORING_SETUP_CLAMP), a setup flag this kernel does not know, flags that need another ' +
        '(DEFER_TASKRUN without SINGLE_ISSUER, SQ_AFF without SQPOLL, ...), an attachWq fd that is not an io_uring instance, ' +
        'an sqPoll.cpu the machine lacks, or non-zero reserved fields. ' +
        'Ask for fewer features: the ring steps down on EINVAL'
      );
    case 'EFAULT':
      return 'The params struct (or the IORING_SETUP_NO_MMAP memory it points to) is not valid memory: an internal error, please report it';
    case 'EBADF':
      return 'A descriptor in the parameters is not open: attachWq (IORING_SETUP_ATTACH_WQ) was given a closed wq_fd';
    case 'ENXIO':
      return 'attachWq (IORING_SETUP_ATTACH_WQ) was given a wq_fd that is not an open file descriptor (the kernel answers ENXIO for that)';
    case 'EBUSY':
      return (
        'registeredFdOnly (IORING_SETUP_REGISTERED_FD_ONLY) needs a free slot in the calling thread\'s table of 16 registered ' +
        'rings, and all are in use (every ring registers its fd there by default): close a ring, or create rings with registerRingFd: false'
      );
    case 'EMFILE':
    case 'ENFILE':
      return FD_LIMIT_HINT;
    case 'EOPNOTSUPP':
      return 'attachWq (IORING_SETUP_ATTACH_WQ) was given a wq_fd that is not an io_uring instance (recent kernels answer EINVAL for that)';
    default:
      return undefined;
  }
}

function setupEpermHint(status: IoUringStatus): string {
  const seccomp = describeSeccomp(status);
  switch (status.disabled) {
    case 2:
      return (
        'io_uring is disabled on this machine: /proc/sys/kernel/io_uring_disabled is 2, so no process may create a ring. ' +
        'An administrator can allow it with `sysctl kernel.io_uring_disabled=0` (or 1 plus kernel.io_uring_group)'
      );
    case 1: {
      const group =
        status.group === null || status.group < 0
          ? 'kernel.io_uring_group is -1 (no group), so only processes with CAP_SYS_ADMIN may create rings'
          : `only processes with CAP_SYS_ADMIN or in group ${status.group} (kernel.io_uring_group) may create rings, ` +
            `and this process is ${status.inGroup ? '' : 'not '}in that group`;
      const cause = status.inGroup
        ? `; since this process is in the group, a seccomp filter probably refused the call (${seccomp})`
        : '';
      return (
        `io_uring is restricted on this machine: /proc/sys/kernel/io_uring_disabled is 1; ${group}${cause}. ` +
        'Add the user to that group, or an administrator can set `sysctl kernel.io_uring_disabled=0`'
      );
    }
    case 0:
      return (
        `io_uring is allowed by the sysctl (/proc/sys/kernel/io_uring_disabled is 0), so a seccomp filter refused the call: ${seccomp}. ` +
        "Docker's and containerd's default profiles block io_uring; run with a seccomp profile that allows " +
        'io_uring_setup, io_uring_enter and io_uring_register'
      );
    default:
      return (
        'io_uring was refused: either a seccomp filter blocks it (' +
        seccomp +
        '; container runtimes\' default profiles block io_uring) or the kernel restricts it (kernel.io_uring_disabled, ' +
        'not readable here). Allow io_uring_setup, io_uring_enter and io_uring_register in the seccomp profile'
      );
  }
}

const ENTER_HINTS: Readonly<Record<string, string>> = {
  EAGAIN:
    'The kernel ran out of resources for the submitted requests; wait for some completions, then submit again',
  EBADF: 'The ring file descriptor is not open (was the ring closed?), or its registered ring index is invalid',
  EBADFD:
    'The ring is not usable yet: it was created with IORING_SETUP_R_DISABLED and not enabled (IORING_REGISTER_ENABLE_RINGS)',
  EBADR:
    'Completions were lost: the completion queue overflowed and the kernel could not keep the overflow (memory is ' +
    'critically low). The error state is now cleared; unless every completion can be lost safely, close the ring',
  EBUSY:
    'The completion queue is full and overflowed entries could not be flushed: reap completions, then try again ' +
    '(or ask for a larger CQ with cqEntries)',
  EEXIST:
    'The ring was created with IORING_SETUP_SINGLE_ISSUER (or DEFER_TASKRUN), and this thread is not its submitter: ' +
    'use the ring only from the thread that created it',
  EFAULT: 'An address passed to io_uring_enter (signal mask, wait argument or ring memory) is invalid: an internal error, please report it',
  EINTR: 'A signal arrived before the wait finished; nothing was lost, and the wait can be repeated',
  EINVAL:
    'The kernel refused the arguments: an enter flag it does not know (e.g. ABS_TIMER before 6.12), SQ_WAKEUP or ' +
    'SQ_WAIT without SQPOLL, a wait argument of the wrong size, or an SQ ring holding an invalid index',
  ENXIO: 'The ring is being torn down: it was closed, possibly from another thread',
  EOPNOTSUPP: 'The file descriptor is not an io_uring instance',
  EOWNERDEAD: "The ring's SQPOLL kernel thread has exited (it was killed or its CPU went away); close the ring and create a new one",
  ETIME: 'The wait timed out before the requested number of completions arrived',
};

const REGISTER_HINTS: Readonly<Record<string, string>> = {
  EACCES: 'This register opcode is not allowed by the restrictions registered on this ring',
  EBADF: 'A file descriptor passed in the registration (or the ring itself) is not open',
  EBADFD: 'The ring is not in the right state for this: e.g. enabling a ring that is not disabled, or restricting an enabled one',
  EBUSY:
    'Something of this kind is already registered (buffers, files, an eventfd, restrictions); unregister it first',
  EEXIST: 'The id is already in use (e.g. a provided-buffer group id)',
  EFAULT: 'An address in the registration is not valid memory, or user buffers are not anonymous memory',
  EINVAL:
    'The kernel refused the opcode or its arguments: an opcode it does not know, a count out of range, or non-zero reserved fields',
  EMFILE: 'Too many files would be registered (RLIMIT_NOFILE caps the table size)',
  ENOMEM:
    'The kernel could not allocate or pin the memory: registered buffers and buffer rings count against RLIMIT_MEMLOCK (`ulimit -l`) for a process without CAP_IPC_LOCK',
  ENXIO: 'Nothing of this kind is registered (unregistering twice?), or the ring is being torn down',
  EOPNOTSUPP: 'The buffers are file-backed, or the file descriptor is not an io_uring instance',
};

const MMAP_HINTS: Readonly<Record<string, string>> = {
  ENOMEM:
    'Not enough address space or memory for the mapping (RLIMIT_AS, `ulimit -v`), or no huge pages when they were asked for',
  EINVAL: 'The kernel refused the mapping length, offset or flags',
  EPERM: 'The mapping was refused by a security policy',
};

const CQE_HINTS: Readonly<Record<string, string>> = {
  ECANCELED:
    'The operation was canceled: by an AbortSignal or ASYNC_CANCEL, because a linked operation before it failed, or because the ring closed',
  ETIME: 'The timeout expired',
  ENOBUFS: 'The provided-buffer group ran out of buffers; return buffers to it, or add more',
  EOPNOTSUPP: 'This operation, or one of its flags, is not supported for this kind of file or on this kernel',
  EINVAL: 'The kernel refused the operation\'s fields: a flag or field this kernel does not support for this op, or an out-of-range value',
  EBADF: 'The file descriptor (or registered file slot) is not open',
  EFAULT: 'A buffer address given to the operation is not valid memory',
};
