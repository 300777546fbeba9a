/**
 * Synchronous cancel: `IORING_REGISTER_SYNC_CANCEL` (6.0), liburing's
 * `io_uring_register_sync_cancel`. Unlike an `ASYNC_CANCEL` SQE it needs no SQ room and
 * returns once the matched requests are gone: cancelled, or (for one already running)
 * finished. Their CQEs (`-ECANCELED`, or their own result) are posted as usual and reaped
 * by the ring as usual.
 *
 * @module
 */
import {
  IORING_ASYNC_CANCEL_ALL,
  IORING_ASYNC_CANCEL_ANY,
  IORING_ASYNC_CANCEL_FD,
  IORING_ASYNC_CANCEL_FD_FIXED,
  IORING_ASYNC_CANCEL_OP,
  IORING_ASYNC_CANCEL_USERDATA,
  IORING_REGISTER_SYNC_CANCEL,
} from '../../generated/constants.js';
import { IoUringSyncCancelReg, SIZEOF_IO_URING_SYNC_CANCEL_REG } from '../../generated/structs.js';
import { checkU8, setU64 } from '../abi/check.js';
import { FixedFile, fileNumber, type FileRef } from '../abi/fd.js';
import { setOpId } from '../abi/op-id.js';
import { checkOpId } from '../abi/sqe-fill.js';
import { ArgumentError, describeReceived } from '../errors.js';
import type { IoUring } from '../ring/ring.js';
import { IoUringError } from '../sys/errors.js';
import { cancelMatchSupport } from './cancel-support.js';
import { registryOf } from './registry.js';

/** What {@link syncCancel} cancels, and how long it may wait. */
export interface SyncCancelOptions {
  /** The op id (`sqe.id`) of the request to cancel. */
  id?: number;
  /** Cancel requests on this file (a {@link FixedFile} names a registered slot, 6.0). */
  fd?: FileRef;
  /** Cancel requests with this `IORING_OP_*` opcode (6.6). */
  opcode?: number;
  /**
   * Every request of the ring (`IORING_ASYNC_CANCEL_ANY`); excludes `id`, `fd` and `opcode`,
   * which the kernel would ignore.
   */
  any?: boolean;
  /** Every match, not just the first (`IORING_ASYNC_CANCEL_ALL`). */
  all?: boolean;
  /**
   * Most milliseconds to wait for matched requests that were already running and so could
   * not be cancelled at once (ETIME when they are still running then). Default: as long as
   * it takes, as the kernel's default; the calling thread is blocked meanwhile.
   */
  timeoutMs?: number;
}

const OFF = IoUringSyncCancelReg.OFFSETS;
const NS_PER_MS = 1_000_000;
const EOPNOTSUPP = 95;

/**
 * Cancels the matching requests of `ring` synchronously (`IORING_REGISTER_SYNC_CANCEL`,
 * Linux 6.0; by opcode 6.6). The criteria given are ANDed, as the kernel does: `{ fd, id }`
 * cancels only that request on that file, `{ fd, opcode, all: true }` every request of that
 * opcode on the file.
 *
 * ```ts
 * syncCancel(ring, { fd: socket, all: true }); // every op on the socket, now
 * ```
 *
 * @returns The kernel's result: 0, or with `all` / `any` how many requests it cancelled
 *   at once (requests that were running and finished on their own are not counted).
 * @throws {@link ArgumentError} for an empty or contradictory target; `IoUringError` ENOENT
 *   when nothing matched, ETIME when `timeoutMs` passed with a match still running, EINVAL
 *   when the kernel lacks the register op (before 6.0), EOPNOTSUPP for `opcode`, or `id`
 *   with `fd` or `opcode`, on a kernel that does not honour those keys (before 6.6, and
 *   stable kernels that accept the flags without honouring them: see
 *   {@link cancelMatchSupport}), which would otherwise cancel the wrong requests.
 */
export function syncCancel(ring: IoUring, options: SyncCancelOptions): number {
  const what = 'syncCancel';
  registryOf(ring, what);
  if (options === null || typeof options !== 'object') {
    throw new ArgumentError('ERR_INVALID_ARG_TYPE', `${what}: options`, `expected { id?, fd?, opcode?, any?, all?, timeoutMs? }, received ${describeReceived(options)}`);
  }
  // One read of each property: a getter cannot answer differently between check and use.
  const { id, fd, opcode, any, all, timeoutMs } = options;
  const bytes = new Uint8Array(SIZEOF_IO_URING_SYNC_CANCEL_REG);
  const view = new DataView(bytes.buffer);
  let flags = 0;
  if (any === true) {
    if (id !== undefined || fd !== undefined || opcode !== undefined) {
      throw new ArgumentError('ERR_INVALID_ARG_VALUE', `${what}: options`, 'any: true matches every request; it cannot be combined with id, fd or opcode');
    }
    flags |= IORING_ASYNC_CANCEL_ANY;
  } else if (id === undefined && fd === undefined && opcode === undefined) {
    throw new ArgumentError('ERR_INVALID_ARG_VALUE', `${what}: options`, 'expected at least one of id, fd, opcode (or any: true)');
  }
  if (fd !== undefined) {
    view.setInt32(OFF.fd, fileNumber(`${what}: options.fd`, fd, false, true), true);
    flags |= IORING_ASYNC_CANCEL_FD | (fd instanceof FixedFile ? IORING_ASYNC_CANCEL_FD_FIXED : 0);
  }
  if (opcode !== undefined) {
    view.setUint8(OFF.opcode, checkU8(`${what}: options.opcode`, opcode));
    flags |= IORING_ASYNC_CANCEL_OP;
  }
  if (id !== undefined) {
    setOpId(view, OFF.addr, checkOpId(`${what}: options.id`, id));
    // With FD or OP present the kernel matches user_data only when asked to.
    if (fd !== undefined || opcode !== undefined) flags |= IORING_ASYNC_CANCEL_USERDATA;
  }
  if (all === true) flags |= IORING_ASYNC_CANCEL_ALL;
  else if (all !== undefined && all !== false) throw new ArgumentError('ERR_INVALID_ARG_TYPE', `${what}: options.all`, `expected a boolean, received ${describeReceived(all)}`);
  if (any !== undefined && typeof any !== 'boolean') throw new ArgumentError('ERR_INVALID_ARG_TYPE', `${what}: options.any`, `expected a boolean, received ${describeReceived(any)}`);
  view.setUint32(OFF.flags, flags, true);
  if ((flags & (IORING_ASYNC_CANCEL_OP | IORING_ASYNC_CANCEL_USERDATA)) !== 0) checkHonoured(flags);
  if (timeoutMs === undefined || timeoutMs === Infinity) {
    // { -1, -1 }: no timeout.
    setU64(view, OFF.timeout, 0xffffffffffffffffn);
    setU64(view, OFF.timeout + 8, 0xffffffffffffffffn);
  } else {
    if (typeof timeoutMs !== 'number' || !(timeoutMs >= 0) || !Number.isFinite(timeoutMs)) {
      throw new ArgumentError('ERR_OUT_OF_RANGE', `${what}: options.timeoutMs`, `expected a number of milliseconds >= 0 (or Infinity), received ${describeReceived(timeoutMs)}`);
    }
    const sec = Math.floor(timeoutMs / 1000);
    setU64(view, OFF.timeout, sec);
    setU64(view, OFF.timeout + 8, Math.min(999_999_999, Math.round((timeoutMs - sec * 1000) * NS_PER_MS)));
  }
  return ring.register(IORING_REGISTER_SYNC_CANCEL, bytes, 1);
}

/** Refuses keys the kernel would accept but not honour (it would cancel other requests). */
function checkHonoured(flags: number): void {
  const support = cancelMatchSupport();
  const missing: string[] = [];
  if ((flags & IORING_ASYNC_CANCEL_OP) !== 0 && !support.opcode) missing.push('IORING_ASYNC_CANCEL_OP (by opcode)');
  if ((flags & IORING_ASYNC_CANCEL_USERDATA) !== 0 && !support.fdAndUserData) missing.push('IORING_ASYNC_CANCEL_USERDATA (op id together with fd or opcode)');
  if (missing.length === 0) return;
  throw new IoUringError(
    EOPNOTSUPP,
    'io_uring_register',
    '(IORING_REGISTER_SYNC_CANCEL)',
    `the running kernel does not honour ${missing.join(' or ')} for every request (Linux 6.6 does; some older stable kernels accept the flag and match on the rest alone, which would cancel other requests); cancel by op id alone, or by fd alone`,
  );
}
