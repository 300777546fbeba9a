/**
 * Helpers for the generated op builders (`generated/ops.ts`) beyond the plain checks in
 * check.ts and the encoders in encode.ts: zeroing a slot, the memory behind `sockaddrOut`,
 * `msghdr` and `inline` arguments, and size checks for `bytes` arguments.
 *
 * Each check runs before the builder writes anything; each `encode…` runs after, pins what
 * it builds on the SQE and returns the address to write.
 *
 * @module
 */
import { ArgumentError, describeReceived } from '../errors.js';
import { checkIntRange, checkView, setU64 } from './check.js';
import { encodeIovecs, IOV_MAX } from './encode.js';
import { OP_ID_MAX } from './op-id.js';
import type { SqeTarget } from './sqe-target.js';

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

/** An array of views for an iovec argument (checked again, cheaply, when encoded). */
export function checkIovecs(name: string, value: unknown): readonly ArrayBufferView[] {
  if (!Array.isArray(value)) {
    throw new ArgumentError('ERR_INVALID_ARG_TYPE', name, `expected an array of Buffers or TypedArrays, received ${describeReceived(value)}`);
  }
  checkIntRange(`${name}.length`, value.length, 1, IOV_MAX);
  for (let i = 0; i < value.length; i++) checkView(`${name}[${i}]`, value[i]);
  return value as readonly ArrayBufferView[];
}

/** A view of at least `minBytes` bytes (the kernel reads or writes that many). */
export function checkMinBytes(name: string, view: ArrayBufferView, minBytes: number): ArrayBufferView {
  if (view.byteLength >= minBytes) return view;
  throw new ArgumentError('ERR_OUT_OF_RANGE', name, `expected at least ${minBytes} bytes, received ${describeReceived(view)}`);
}

/** `count` elements of `elementSize` bytes must fit in `view`. */
export function checkSpanWithin(name: string, count: number, elementSize: number, view: ArrayBufferView): void {
  if (count * elementSize <= view.byteLength) return;
  throw new ArgumentError('ERR_OUT_OF_RANGE', name, `${count} × ${elementSize} bytes run past the end of the buffer (${view.byteLength} bytes)`);
}

/** Bytes copied into the SQE: a Uint8Array of at most `room` bytes. */
export function checkInline(name: string, value: unknown, room: number): Uint8Array {
  if (!(value instanceof Uint8Array)) {
    throw new ArgumentError('ERR_INVALID_ARG_TYPE', name, `expected a Uint8Array, received ${describeReceived(value)}`);
  }
  if (value.byteLength > room) {
    throw new ArgumentError('ERR_OUT_OF_RANGE', name, `${value.byteLength} bytes do not fit in the ${room} bytes left in the SQE slot`);
  }
  return value;
}

/** Copies `bytes` into the SQE at `byteOffset` (the slot is already zeroed past them). */
export function copyInline(view: DataView, byteOffset: number, bytes: Uint8Array): void {
  for (let i = 0; i < bytes.byteLength; i++) view.setUint8(byteOffset + i, bytes[i] as number);
}

/** Bytes in a `socklen_t`. */
export const SOCKLEN_SIZE = 4;

/**
 * Pins a `socklen_t` initialised to `peer.byteLength` (the kernel overwrites it with the
 * address's real length) and returns its address. `peer` itself is pinned by the caller.
 */
export function encodeSocklen(target: SqeTarget, peer: ArrayBufferView): number {
  const len = new Uint8Array(SOCKLEN_SIZE);
  new DataView(len.buffer).setUint32(0, peer.byteLength, true);
  return target.pin(len);
}

/** What `sendmsg`/`recvmsg` ops point at: the pieces of a `struct msghdr`. */
export interface MsgHdr {
  /** Peer address: read for sends, written for receives. */
  name?: ArrayBufferView | null;
  /** Data buffers, in order. */
  iov: readonly ArrayBufferView[];
  /** Ancillary data (control messages). */
  control?: ArrayBufferView | null;
  /** `msg_flags` (only meaningful to recvmsg's kernel side, which overwrites it). */
  flags?: number;
}

/** Bytes in `struct msghdr` on 64-bit Linux. */
export const MSGHDR_SIZE = 56;

/** Validates a {@link MsgHdr}. */
export function checkMsgHdr(name: string, value: unknown): MsgHdr {
  if (value === null || typeof value !== 'object') {
    throw new ArgumentError('ERR_INVALID_ARG_TYPE', name, `expected { name?, iov, control?, flags? }, received ${describeReceived(value)}`);
  }
  const msg = value as MsgHdr;
  if (msg.name != null) checkView(`${name}.name`, msg.name);
  if (msg.control != null) checkView(`${name}.control`, msg.control);
  if (msg.flags !== undefined) checkIntRange(`${name}.flags`, msg.flags, -0x80000000, 0x7fffffff);
  if (!Array.isArray(msg.iov)) {
    throw new ArgumentError('ERR_INVALID_ARG_TYPE', `${name}.iov`, `expected an array of Buffers or TypedArrays, received ${describeReceived(msg.iov)}`);
  }
  checkIntRange(`${name}.iov.length`, msg.iov.length, 0, IOV_MAX);
  for (let i = 0; i < msg.iov.length; i++) checkView(`${name}.iov[${i}]`, msg.iov[i]);
  return msg;
}

/**
 * Pins a `struct msghdr` for `msg`, with its name, iovec array (and buffers) and control
 * buffer, and returns its address.
 */
export function encodeMsgHdr(target: SqeTarget, name: string, msg: MsgHdr): number {
  const hdr = new Uint8Array(MSGHDR_SIZE);
  const dv = new DataView(hdr.buffer);
  if (msg.name != null) {
    setU64(dv, 0, target.pin(msg.name));
    dv.setUint32(8, msg.name.byteLength, true);
  }
  if (msg.iov.length > 0) {
    setU64(dv, 16, encodeIovecs(target, `${name}.iov`, msg.iov));
    setU64(dv, 24, msg.iov.length);
  }
  if (msg.control != null) {
    setU64(dv, 32, target.pin(msg.control));
    setU64(dv, 40, msg.control.byteLength);
  }
  dv.setInt32(48, msg.flags ?? 0, true);
  return target.pin(hdr);
}
