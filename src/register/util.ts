/**
 * Small helpers shared by the registration modules.
 *
 * @module
 */
import { checkIntRange, checkU64Bits, setU64 } from '../abi/check.js';
import { isArray, snapshotArray } from '../abi/intrinsics.js';
import { ArgumentError, describeReceived } from '../errors.js';
import type { IoUring } from '../ring/ring.js';
import { IoUringError } from '../sys/errors.js';

/**
 * A resource tag (`IORING_REGISTER_FILES2` / `BUFFERS2`): 0 for none, else a value below
 * 2^63 that the kernel posts as a CQE's `user_data` when the tagged resource is released.
 * Bit 63 is refused because it marks the ring's own op ids.
 */
export type ResourceTag = number | bigint;

/** Bytes in one `__u64` tag. */
const TAG_SIZE = 8;

/** A `__u64` array of `count` tags (checked to 63 bits), or throws naming `argument`. */
export function encodeTags(argument: string, tags: readonly ResourceTag[], count: number): Uint8Array {
  if (!Array.isArray(tags)) {
    throw new ArgumentError('ERR_INVALID_ARG_TYPE', argument, `expected an array of tags (numbers or bigints), received ${describeReceived(tags)}`);
  }
  if (tags.length !== count) {
    throw new ArgumentError('ERR_INVALID_ARG_VALUE', argument, `expected one tag per entry (${count}), received ${tags.length}`);
  }
  const bytes = new Uint8Array(count * TAG_SIZE);
  const view = new DataView(bytes.buffer);
  for (let i = 0; i < count; i++) setU64(view, i * TAG_SIZE, checkU64Bits(`${argument}[${i}]`, tags[i], 63));
  return bytes;
}

/**
 * One plain copy of an array argument (its `length` and each element read once), with
 * 1 to `max` entries, or a clear error naming `argument`. Everything after works on the
 * copy: a Proxy or getter cannot show the checks one buffer and the kernel another, nor
 * have the library keep alive a different buffer than the one the kernel holds.
 */
export function snapshotList<T>(argument: string, value: readonly T[], max: number, expected: string): T[] {
  if (!isArray(value)) throw new ArgumentError('ERR_INVALID_ARG_TYPE', argument, `expected ${expected}, received ${describeReceived(value)}`);
  const copy = snapshotArray(value, max) as T[] | undefined;
  if (copy === undefined) checkIntRange(`${argument}.length`, value.length, 1, max);
  checkIntRange(`${argument}.length`, copy!.length, 1, max);
  return copy!;
}

/** Memory referenced by a register call in progress (so the GC cannot take it mid-call). */
const inCall: unknown[] = [];

/**
 * `ring.register(...)`, keeping `keep` (memory the argument points at by address)
 * referenced until the call returns.
 */
export function registerKeeping(ring: IoUring, opcode: number, arg: ArrayBufferView | number | null, nrArgs: number, keep: readonly unknown[]): number {
  const mark = inCall.length;
  inCall.push(...keep);
  try {
    return ring.register(opcode, arg, nrArgs);
  } finally {
    inCall.length = mark;
  }
}

/** Rounds `n` up to a multiple of `to`. */
export function roundUp(n: number, to: number): number {
  return Math.ceil(n / to) * to;
}

/**
 * Whether a newer register opcode's failure (`FILES2`, `BUFFERS2`, `FILES_UPDATE2`) leaves
 * the older one worth trying: EINVAL, the kernel lacks the newer opcode (before 5.13); or
 * EACCES, a restricted ring allows only the older one (liburing's restriction tests allow
 * `IORING_REGISTER_BUFFERS` / `FILES`, which its own helpers use).
 */
export function olderOpcodeMayWork(err: unknown): boolean {
  return err instanceof IoUringError && (err.code === 'EINVAL' || err.code === 'EACCES');
}
