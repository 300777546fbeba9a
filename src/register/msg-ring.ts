/**
 * Synchronous MSG_RING: `IORING_REGISTER_SEND_MSG_RING` (6.13), liburing's
 * `io_uring_register_sync_msg`. Posts a CQE on a target ring straight from the calling
 * thread, with no ring of one's own: the SQE a `prepMsgRing` would build is handed to
 * `io_uring_register(-1, ...)`, which runs it at once.
 *
 * @module
 */
import { IORING_REGISTER_SEND_MSG_RING } from '../../generated/constants.js';
import { prepMsgRing, prepMsgRingCqeFlags } from '../../generated/ops.js';
import { SIZEOF_IO_URING_SQE } from '../../generated/structs.js';
import { fileNumber, type FdLike } from '../abi/fd.js';
import type { SqeTarget } from '../abi/sqe-target.js';
import { ArgumentError, describeReceived } from '../errors.js';
import { IoUringError } from '../sys/errors.js';
import { ioUringRegister } from '../sys/libc.js';

/** Options of {@link sendMsgRingSync}. */
export interface SendMsgRingOptions {
  /** The target CQE's `flags` (`IORING_MSG_RING_FLAGS_PASS`); absent: 0. */
  cqeFlags?: number;
}

const EINVAL = 22;

/** A one-SQE target over `bytes` for the generated builders; MSG_RING data pins nothing. */
function standaloneSqe(bytes: Uint8Array): SqeTarget {
  return {
    view: new DataView(bytes.buffer),
    offset: 0,
    size: SIZEOF_IO_URING_SQE,
    pin(): number {
      throw new Error('sendMsgRingSync: a MSG_RING SQE pins no memory');
    },
  };
}

/** Whether the kernel has the blind (fd -1) SEND_MSG_RING: null until asked. */
let supported: boolean | null = null;

function kernelHasSyncMsgRing(): boolean {
  if (supported === null) {
    try {
      ioUringRegister(-1, IORING_REGISTER_SEND_MSG_RING, null, 0);
      supported = true;
    } catch (err) {
      // 6.13+ checks the argument first (EINVAL for none); older kernels look up fd -1 (EBADF).
      supported = !(err instanceof IoUringError && err.code === 'EBADF');
    }
  }
  return supported;
}

/**
 * Posts a CQE carrying `len` (its `res`) and `data` (its `user_data`) on the ring `target`,
 * synchronously and without a ring of one's own (`IORING_REGISTER_SEND_MSG_RING`, Linux 6.13).
 * The same message as {@link prepMsgRing} (or {@link prepMsgRingCqeFlags} with
 * `options.cqeFlags`), run at once.
 *
 * @param target - The target ring's descriptor: a number, or an object with `fd` such as an
 *   `IoUring`. Not a registered ring slot: there is no ring here to look it up in.
 * @param data - Any 64-bit value (a bigint past 2^53). A tsuring target ring reads values
 *   with bit 63 set as its own op ids; send it values below 2^63, which arrive with
 *   `cqe.id === -1` and the value in `userDataLo` / `userDataHi`.
 * @throws `IoUringError`: EBADFD when `target` is not a ring (or is disabled), EINVAL with a
 *   hint when the kernel is older than 6.13, EOVERFLOW when the target's CQ is full and
 *   cannot overflow.
 */
export function sendMsgRingSync(target: number | FdLike, len: number, data: number | bigint, options: SendMsgRingOptions = {}): void {
  const what = 'sendMsgRingSync';
  const fd = fileNumber(`${what}: target`, target, false, false);
  if (options === null || typeof options !== 'object') {
    throw new ArgumentError('ERR_INVALID_ARG_TYPE', `${what}: options`, `expected { cqeFlags? }, received ${describeReceived(options)}`);
  }
  const { cqeFlags } = options;
  const bytes = new Uint8Array(SIZEOF_IO_URING_SQE);
  const sqe = standaloneSqe(bytes);
  // The builders check len, data and cqeFlags, and name themselves in their errors.
  if (cqeFlags === undefined) prepMsgRing(sqe, fd, len, data);
  else prepMsgRingCqeFlags(sqe, fd, len, data, cqeFlags);
  try {
    ioUringRegister(-1, IORING_REGISTER_SEND_MSG_RING, bytes, 1);
  } catch (err) {
    if (err instanceof IoUringError && err.code === 'EBADF' && !kernelHasSyncMsgRing()) {
      throw new IoUringError(
        EINVAL,
        'io_uring_register',
        '(IORING_REGISTER_SEND_MSG_RING)',
        'synchronous MSG_RING needs Linux 6.13 or newer; on older kernels post the message with prepMsgRing from a ring of your own',
      );
    }
    throw err;
  }
}
