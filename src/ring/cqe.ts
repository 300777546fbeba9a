/**
 * Completion queue entries as user code sees them: a snapshot copied out of the
 * kernel's CQ ring, never a view into it.
 *
 * @module
 */
import { IORING_CQE_BUFFER_SHIFT, IORING_CQE_F_BUFFER, IORING_CQE_F_MORE } from '../../generated/constants.js';
import { OPCODE_NAMES } from '../../generated/ops.js';
import { errorFromCqeRes, type IoUringError } from '../sys/errors.js';

/**
 * One completion. The object is reused for the next CQE: copy what you keep.
 */
export interface Cqe {
  /** The op id (`sqe.id`), or -1 for a CQE this ring did not submit (a MSG_RING post). */
  readonly id: number;
  /** The value set as `sqe.userData`, or undefined. */
  readonly userData: unknown;
  /** The result: a count, a descriptor, 0, or a negative errno. */
  readonly res: number;
  /** `IORING_CQE_F_*` flags. */
  readonly flags: number;
  /** The op's opcode, or -1 when unknown (a CQE this ring did not submit). */
  readonly opcode: number;
  /** Low 32 bits of the raw `user_data`, as posted. */
  readonly userDataLo: number;
  /** High 32 bits of the raw `user_data`, as posted (bit 31 set: one of this ring's op ids). */
  readonly userDataHi: number;
  /** True while `IORING_CQE_F_MORE` is set: a multishot op will post more CQEs. */
  readonly more: boolean;
  /** The provided buffer's id when `IORING_CQE_F_BUFFER` is set, else -1. */
  readonly bufferId: number;
  /** The 16 extra bytes of a 32-byte CQE (`big_cqe`), or null on rings with 16-byte CQEs. */
  readonly extra: Uint8Array | null;
  /** The op's name (`'read'`), or `'unknown'`. */
  readonly opName: string;
  /** A Node-shaped error for a negative `res`, or null. */
  error(): IoUringError | null;
}

/** @internal The reusable object the ring fills for each CQE. */
export class CqeSnapshot implements Cqe {
  id = -1;
  userData: unknown = undefined;
  res = 0;
  flags = 0;
  opcode = -1;
  userDataLo = 0;
  userDataHi = 0;
  readonly extra: Uint8Array | null;
  /** The same 16 bytes as words, for the ring's copy. */
  readonly extraWords: Uint32Array | null;

  constructor(bigCqe: boolean) {
    this.extraWords = bigCqe ? new Uint32Array(4) : null;
    this.extra = this.extraWords === null ? null : new Uint8Array(this.extraWords.buffer);
  }

  get more(): boolean {
    return (this.flags & IORING_CQE_F_MORE) !== 0;
  }

  get bufferId(): number {
    return (this.flags & IORING_CQE_F_BUFFER) !== 0 ? this.flags >>> IORING_CQE_BUFFER_SHIFT : -1;
  }

  get opName(): string {
    return opNameOf(this.opcode);
  }

  error(): IoUringError | null {
    return this.res < 0 ? errorFromCqeRes(this.res, this.opName) : null;
  }

  /** A plain-object copy, for logs and tests. */
  toJSON(): Record<string, unknown> {
    return { id: this.id, userData: this.userData, res: this.res, flags: this.flags, opcode: this.opcode, opName: this.opName };
  }
}

/** `'read'` for IORING_OP_READ: the op name Node-style errors carry in `syscall`. */
export function opNameOf(opcode: number): string {
  const name = (OPCODE_NAMES as Record<number, string | undefined>)[opcode];
  return name === undefined ? 'unknown' : name.replace(/^IORING_OP_/, '').toLowerCase();
}
