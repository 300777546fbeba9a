/**
 * Which engine `tsuring/fs` runs on, and the thread's ring.
 *
 * - At import, one small probe ring is set up and closed again: if io_uring cannot be used
 *   here (a seccomp filter answering EPERM or ENOSYS, as Docker's default profile does,
 *   `kernel.io_uring_disabled`, a kernel without io_uring or without the ops every call
 *   needs), the backend is `'node'`: every function then runs through `node:fs/promises`,
 *   and ONE `process.emitWarning` names the cause.
 * - Otherwise the backend is `'io_uring'` and each thread (the main thread, each Worker: a
 *   module instance per thread) gets one {@link AsyncIoUring}, created on first use and
 *   closed when the thread exits. Idle, it never keeps the process alive (its waker is
 *   unreferenced while nothing is in flight).
 * - {@link useRing} supplies a ring of your own instead (never closed by this module).
 *
 * @module
 */
import { release } from 'node:os';
import { IoringOp } from '../../../generated/constants.js';
import { AsyncIoUring } from '../../async/async-ring.js';
import { ArgumentError, describeReceived } from '../../errors.js';
import { IoUring } from '../../ring/ring.js';

/** The engine under `tsuring/fs`: io_uring, or Node's own `fs/promises` (the fallback). */
export type Backend = 'io_uring' | 'node';

/** The ops every `tsuring/fs` call may use; a kernel lacking one runs everything through Node. */
const REQUIRED_OPS: ReadonlyArray<readonly [number, string]> = [
  [IoringOp.OPENAT, 'OPENAT'],
  [IoringOp.CLOSE, 'CLOSE'],
  [IoringOp.READ, 'READ'],
  [IoringOp.WRITE, 'WRITE'],
  [IoringOp.READV, 'READV'],
  [IoringOp.WRITEV, 'WRITEV'],
  [IoringOp.STATX, 'STATX'],
  [IoringOp.FSYNC, 'FSYNC'],
  [IoringOp.ASYNC_CANCEL, 'ASYNC_CANCEL'],
];

/** What the probe found: the backend, and why io_uring is not used (null when it is). */
interface Detected {
  backend: Backend;
  cause: string | null;
  /** Opcodes the kernel has (from the probe), for ops outside {@link REQUIRED_OPS}. */
  supported: ReadonlySet<number>;
}

function detect(): Detected {
  let probe: IoUring;
  try {
    probe = new IoUring({ entries: 2, registerRingFd: false });
  } catch (err) {
    return { backend: 'node', cause: (err as Error).message, supported: new Set() };
  }
  try {
    const supported = new Set<number>();
    for (const op of Object.values(IoringOp)) if (probe.probe.supports(op)) supported.add(op);
    const missing = REQUIRED_OPS.filter(([op]) => !supported.has(op)).map(([, name]) => `IORING_OP_${name}`);
    if (missing.length > 0) {
      return { backend: 'node', cause: `this kernel (${release()}) lacks ${missing.join(', ')}`, supported };
    }
    return { backend: 'io_uring', cause: null, supported };
  } finally {
    probe.close();
  }
}

const detected = detect();

/** The backend in use in this thread: `'io_uring'`, or `'node'` where io_uring is unavailable. */
export const backend: Backend = detected.backend;

/** Why io_uring is not used (the setup error, with its hint), or null. */
export const fallbackCause: string | null = detected.cause;

if (detected.cause !== null) {
  process.emitWarning(`io_uring is unavailable, so every function runs through node:fs/promises: ${detected.cause}`, {
    type: 'TsuringWarning',
    code: 'TSURING_FS_FALLBACK',
  });
}

/** Whether the kernel has `opcode` (false on the Node backend). */
export function kernelHas(opcode: number): boolean {
  return detected.supported.has(opcode);
}

/** The ring this module created for this thread (closed at exit), once used. */
let ownRing: AsyncIoUring | null = null;
/** A ring supplied with {@link useRing}, or null. */
let userRing: AsyncIoUring | null = null;

function closeOwnRing(): void {
  // Idle at exit (the usual case), close() finishes synchronously: nothing is in flight.
  if (ownRing !== null) void ownRing.close();
  ownRing = null;
}

/**
 * The ring calls submit to, created on first use; null on the Node backend. A ring supplied
 * with {@link useRing} is used while it is open; once closed, the thread's own is used again.
 */
export function threadRing(): AsyncIoUring | null {
  if (backend === 'node') return null;
  if (userRing !== null) {
    if (!userRing.closed) return userRing;
    userRing = null;
  }
  if (ownRing !== null && !ownRing.closed) return ownRing;
  ownRing = new AsyncIoUring();
  process.once('exit', closeOwnRing);
  return ownRing;
}

/**
 * Makes `tsuring/fs` in this thread submit to `ring`, your own {@link AsyncIoUring} (with
 * the setup flags, registrations and limits you chose); `null` goes back to the thread's own
 * ring. The ring stays yours: this module never closes it. On the Node backend this changes
 * nothing.
 */
export function useRing(ring: AsyncIoUring | null): void {
  if (ring !== null && !(ring instanceof AsyncIoUring)) {
    throw new ArgumentError('ERR_INVALID_ARG_TYPE', 'useRing: ring', `expected an AsyncIoUring or null, received ${describeReceived(ring)}`);
  }
  userRing = ring;
}
