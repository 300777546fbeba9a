/**
 * Helpers for the generated op builders (`generated/ops.ts`) beyond the plain checks in
 * check.ts and the encoders in encode.ts: the unsupported-opcode refusal, zeroing a slot, the
 * memory behind `sockaddrOut` and `inline` arguments, and size checks for `bytes` arguments.
 * (`msghdr` arguments are `MsgHdr` objects: see msghdr.ts.)
 *
 * Each check runs before the builder writes anything; each `encode…` runs after, pins what
 * it builds on the SQE and returns the address to write.
 *
 * @module
 */
import { ArgumentError, describeReceived, UnsupportedOpError } from '../errors.js';
import { checkIntRange, checkView } from './check.js';
import { byteLengthOf, isArray, isView, snapshotArray } from './intrinsics.js';
import { IOV_MAX } from './encode.js';
import { OP_ID_MAX } from './op-id.js';
import type { SqeTarget } from './sqe-target.js';

/**
 * Throws {@link UnsupportedOpError}. Builders test `sqe.unsupportedOps?.[opcode] === 1` inline
 * (no call, no allocation when the op is supported) and call this only to fail.
 */
export function opUnsupported(builder: string, opcode: number, opName: string, minKernel: string | null): never {
  throw new UnsupportedOpError(builder, opcode, opName, minKernel);
}

/**
 * Refuses a registered file slot at or past the end of the ring's file table
 * ({@link SqeTarget.registered}); builders call it only for a `FixedFile`, so a plain
 * descriptor costs nothing.
 */
export function checkFixedSlot(name: string, sqe: SqeTarget, index: number): void {
  const registered = sqe.registered;
  if (registered === undefined || index < registered.fileSlots) return;
  const slots = registered.fileSlots;
  throw new ArgumentError(
    'ERR_OUT_OF_RANGE',
    name,
    slots === 0
      ? `registered file slot ${index} (fixed:${index}) names no file: the ring has no registered file table (FileTable.register or FileTable.sparse first)`
      : `registered file slot ${index} (fixed:${index}) is outside the ring's file table (${slots} slots: 0 to ${slots - 1})`,
  );
}

/**
 * Refuses a provided-buffer group the ring does not have ({@link SqeTarget.registered}),
 * for ops that pick their buffer from it (`IOSQE_BUFFER_SELECT`).
 */
export function checkSelectGroup(name: string, sqe: SqeTarget, bgid: number): void {
  const registered = sqe.registered;
  if (registered === undefined || registered.hasBufferGroup(bgid)) return;
  throw new ArgumentError(
    'ERR_INVALID_ARG_VALUE',
    name,
    `no provided-buffer group ${bgid} exists on this ring: register a BufferRing (or provide a ProvidedBufferGroup's buffers) with that id first`,
  );
}

/** Zeroes `size` bytes (a multiple of 8) at `byteOffset`: eight-byte stores, no allocation. */
export function zeroSqe(view: DataView, byteOffset: number, size: number): void {
  for (let i = 0; i < size; i += 8) view.setFloat64(byteOffset + i, 0);
}

/** Refuses an SQE slot smaller than the op needs (128-byte ops on a 64-byte ring). */
export function checkSqeSize(name: string, sqe: SqeTarget, needed: number): void {
  if (sqe.size < needed) {
    throw new ArgumentError('ERR_INVALID_ARG_VALUE', name, `needs a ${needed}-byte SQE slot (a ring set up with IORING_SETUP_SQE128 or SQE_MIXED), got ${sqe.size} bytes`);
  }
}

/** An op id as returned by the ring: an integer from 0 to 2^53 - 1. */
export function checkOpId(name: string, value: unknown): number {
  if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) return value;
  return checkIntRange(name, value, 0, OP_ID_MAX);
}

/**
 * An array of views for an iovec argument: returns a plain copy, taken with one read of
 * `length` and of each element, which is all the builder uses afterwards (a Proxy whose
 * `length` changes between validation and use cannot widen what the kernel is told).
 */
export function checkIovecs(name: string, value: unknown): readonly ArrayBufferView[] {
  if (!isArray(value)) {
    throw new ArgumentError('ERR_INVALID_ARG_TYPE', name, `expected an array of Buffers or TypedArrays, received ${describeReceived(value)}`);
  }
  const copy = snapshotArray(value, IOV_MAX);
  if (copy === undefined) return checkIntRange(`${name}.length`, value.length, 1, IOV_MAX) as never;
  checkIntRange(`${name}.length`, copy.length, 1, IOV_MAX);
  for (let i = 0; i < copy.length; i++) checkView(`${name}[${i}]`, copy[i]);
  return Object.freeze(copy) as readonly ArrayBufferView[];
}

/** A view of at least `minBytes` bytes (the kernel reads or writes that many). */
export function checkMinBytes(name: string, view: ArrayBufferView, minBytes: number): ArrayBufferView {
  if (byteLengthOf(view) >= minBytes) return view;
  throw new ArgumentError('ERR_OUT_OF_RANGE', name, `expected at least ${minBytes} bytes, received ${describeReceived(view)}`);
}

/** `count` elements of `elementSize` bytes must fit in `view`. */
export function checkSpanWithin(name: string, count: number, elementSize: number, view: ArrayBufferView): void {
  const available = byteLengthOf(view);
  if (count * elementSize <= available) return;
  throw new ArgumentError('ERR_OUT_OF_RANGE', name, `${count} × ${elementSize} bytes run past the end of the buffer (${available} bytes)`);
}

/** Bytes copied into the SQE: a Uint8Array of at most `room` bytes. */
export function checkInline(name: string, value: unknown, room: number): Uint8Array {
  if (!(value instanceof Uint8Array) || !isView(value)) {
    throw new ArgumentError('ERR_INVALID_ARG_TYPE', name, `expected a Uint8Array, received ${describeReceived(value)}`);
  }
  const length = byteLengthOf(value);
  if (length > room) {
    throw new ArgumentError('ERR_OUT_OF_RANGE', name, `${length} bytes do not fit in the ${room} bytes left in the SQE slot`);
  }
  return value;
}

/** Copies `bytes` into the SQE at `byteOffset` (the slot is already zeroed past them). */
export function copyInline(view: DataView, byteOffset: number, bytes: Uint8Array): void {
  const length = byteLengthOf(bytes);
  for (let i = 0; i < length; i++) view.setUint8(byteOffset + i, bytes[i] as number);
}

/** Bytes in a `socklen_t`. */
export const SOCKLEN_SIZE = 4;

/**
 * Pins a `socklen_t` initialised to `peer.byteLength` (the kernel overwrites it with the
 * address's real length) and returns its address. `peer` itself is pinned by the caller.
 */
export function encodeSocklen(target: SqeTarget, peer: ArrayBufferView): number {
  const len = new Uint8Array(SOCKLEN_SIZE);
  new DataView(len.buffer).setUint32(0, byteLengthOf(peer), true);
  return target.pin(len);
}
