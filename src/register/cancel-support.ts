/**
 * Whether the running kernel honours the newer cancel keys, asked by trying them once.
 *
 * `IORING_ASYNC_CANCEL_USERDATA` and `IORING_ASYNC_CANCEL_OP` came with Linux 6.6, but some
 * stable kernels carry the flags without all of their matching: Debian 12's 6.1 kernel
 * accepts both, yet for a request waiting on poll (a read of an empty pipe or socket) it
 * matches `FD | USERDATA` on the file alone, cancelling another request on that file, and
 * never matches `OP`. Neither a version number nor the opcode probe tells such a kernel
 * from 6.6, so this module asks the kernel what it does: on a scratch ring, reads wait on
 * two empty pipes and are cancelled through each key; a key is honoured when the kernel
 * cancels exactly the requests it names (and none when the file and op id disagree).
 *
 * @module
 */
import {
  IORING_ASYNC_CANCEL_ALL,
  IORING_ASYNC_CANCEL_ANY,
  IORING_ASYNC_CANCEL_FD,
  IORING_ASYNC_CANCEL_OP,
  IORING_ASYNC_CANCEL_USERDATA,
  IORING_OP_READ,
  IORING_REGISTER_SYNC_CANCEL,
} from '../../generated/constants.js';
import { prepRead } from '../../generated/ops.js';
import { IoUringSyncCancelReg, SIZEOF_IO_URING_SYNC_CANCEL_REG } from '../../generated/structs.js';
import { setU64 } from '../abi/check.js';
import { setOpId } from '../abi/op-id.js';
import { IoUring } from '../ring/ring.js';
import { closeFd } from '../sys/libc.js';
import { pipe2Sync } from '../sys/posix.js';

/** Which cancel keys the kernel honours (for sync cancel and `ASYNC_CANCEL` SQEs alike). */
export interface CancelMatchSupport {
  /** `IORING_ASYNC_CANCEL_FD | IORING_ASYNC_CANCEL_USERDATA`: file and op id together. */
  readonly fdAndUserData: boolean;
  /** `IORING_ASYNC_CANCEL_OP`: by opcode. */
  readonly opcode: boolean;
}

const OFF = IoUringSyncCancelReg.OFFSETS;
const ENOENT = 2;
let cached: CancelMatchSupport | undefined;

/** One `IORING_REGISTER_SYNC_CANCEL`; the kernel's result, or its negative errno. */
function syncCancelRaw(ring: IoUring, flags: number, fields: { fd?: number; id?: number; opcode?: number }): number {
  const bytes = new Uint8Array(SIZEOF_IO_URING_SYNC_CANCEL_REG);
  const view = new DataView(bytes.buffer);
  view.setUint32(OFF.flags, flags, true);
  if (fields.fd !== undefined) view.setInt32(OFF.fd, fields.fd, true);
  if (fields.id !== undefined) setOpId(view, OFF.addr, fields.id);
  if (fields.opcode !== undefined) view.setUint8(OFF.opcode, fields.opcode);
  // No timeout: { -1, -1 } would wait; the reads are cancelled at once, so 0 is as good.
  setU64(view, OFF.timeout, 0);
  try {
    return ring.register(IORING_REGISTER_SYNC_CANCEL, bytes, 1);
  } catch (err) {
    return (err as { errno?: number }).errno ?? -1;
  }
}

/** The op ids of the next `n` CQEs (fewer if they do not come within a second each). */
function take(ring: IoUring, n: number): number[] {
  const ids: number[] = [];
  while (ids.length < n) {
    const cqe = ring.waitCqe(1000);
    if (cqe === null) break;
    ids.push(cqe.id);
    ring.cqeSeen();
  }
  return ids;
}

/**
 * Which newer cancel keys the running kernel honours, learned once per process by trying
 * them on a scratch ring (a few hundred microseconds). Kernels without
 * `IORING_REGISTER_SYNC_CANCEL` (before 6.0) honour neither.
 */
export function cancelMatchSupport(): CancelMatchSupport {
  if (cached !== undefined) return cached;
  const ring = new IoUring({ entries: 8 });
  const pipes = [pipe2Sync(), pipe2Sync()];
  try {
    const read = (fd: number): number => {
      const sqe = ring.getSqeOrThrow();
      prepRead(sqe, fd, new Uint8Array(8), 8, -1);
      return sqe.id;
    };
    const [a, b] = pipes.map(([r]) => r) as [number, number];
    const onA = read(a);
    const onB = read(b);
    ring.submit();
    // FD = a with the op id of the read on b: nothing has both, so an honouring kernel finds
    // nothing (ENOENT). One matching on the file alone cancels the read on a (0).
    const mismatch = syncCancelRaw(ring, IORING_ASYNC_CANCEL_FD | IORING_ASYNC_CANCEL_USERDATA, { fd: a, id: onB });
    const stray = mismatch === 0 ? take(ring, 1) : [];
    // FD = a with its own read's op id: exactly that one goes.
    const match = stray.length === 0 ? syncCancelRaw(ring, IORING_ASYNC_CANCEL_FD | IORING_ASYNC_CANCEL_USERDATA, { fd: a, id: onA }) : -1;
    const gone = match === 0 ? take(ring, 1) : [];
    const fdAndUserData = mismatch === -ENOENT && stray.length === 0 && gone.length === 1 && gone[0] === onA;
    // OP naming READ, every match: honoured if every read still waiting goes.
    const left = [onA, onB].filter((id) => !stray.includes(id) && !gone.includes(id));
    left.push(read(a));
    ring.submit();
    const byOp = syncCancelRaw(ring, IORING_ASYNC_CANCEL_OP | IORING_ASYNC_CANCEL_ALL, { opcode: IORING_OP_READ });
    const opcode = byOp === left.length && take(ring, byOp).length === byOp;
    cached = { fdAndUserData, opcode };
  } finally {
    // Whatever is still waiting goes now, so the close below has nothing to wait for.
    syncCancelRaw(ring, IORING_ASYNC_CANCEL_ANY | IORING_ASYNC_CANCEL_ALL, {});
    ring.close();
    for (const [r, w] of pipes) {
      closeFd(r);
      closeFd(w);
    }
  }
  return cached;
}
