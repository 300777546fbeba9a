/**
 * Encoders for memory an op points at: iovec arrays, NUL-terminated strings and
 * timespecs. Each builds the bytes in fresh JS-owned memory and pins them (and any
 * buffers they point to) on the SQE, so all of it outlives the operation.
 *
 * @module
 */
import { ArgumentError, describeReceived } from '../errors.js';
import { checkI64, checkIntRange, checkView, setU64 } from './check.js';
import { byteLengthOf, isArray, snapshotArray } from './intrinsics.js';
import type { SqeTarget } from './sqe-target.js';

/** A point or span of time as the kernel's `struct __kernel_timespec`. */
export interface Timespec {
  /** Whole seconds (a bigint beyond 2^53). */
  sec: number | bigint;
  /** Nanoseconds, 0 to 999,999,999. */
  nsec: number;
}

/** Bytes in `struct iovec` on 64-bit Linux. */
export const IOVEC_SIZE = 16;
/** Bytes in `struct __kernel_timespec`. */
export const TIMESPEC_SIZE = 16;
/** `UIO_MAXIOV`: the most iovecs one readv/writev accepts. */
export const IOV_MAX = 1024;

/** Pins every buffer and an iovec array describing them; returns the array's address. */
export function encodeIovecs(target: SqeTarget, name: string, buffers: unknown): number {
  if (!isArray(buffers)) {
    throw new ArgumentError('ERR_INVALID_ARG_TYPE', name, `expected an array of Buffers or TypedArrays, received ${describeReceived(buffers)}`);
  }
  // One read of the length and of each element (builders already pass checkIovecs' copy).
  const list = snapshotArray(buffers, IOV_MAX) ?? [];
  checkIntRange(`${name}.length`, list.length, 1, IOV_MAX);
  for (let i = 0; i < list.length; i++) checkView(`${name}[${i}]`, list[i]);
  const iov = new Uint8Array(list.length * IOVEC_SIZE);
  const dv = new DataView(iov.buffer);
  for (let i = 0; i < list.length; i++) {
    const buf = list[i] as ArrayBufferView;
    setU64(dv, i * IOVEC_SIZE, target.pin(buf));
    setU64(dv, i * IOVEC_SIZE + 8, byteLengthOf(buf));
  }
  return target.pin(iov);
}

const utf8 = new TextEncoder();

/** Validates a path or name: a string or bytes, with no NUL inside. */
export function checkCString(name: string, value: unknown): string | Uint8Array {
  if (typeof value === 'string') {
    if (value.includes('\0')) {
      throw new ArgumentError('ERR_INVALID_ARG_VALUE', name, 'must not contain NUL characters');
    }
    return value;
  }
  if (value instanceof Uint8Array) {
    if (Uint8Array.prototype.includes.call(value, 0)) {
      throw new ArgumentError('ERR_INVALID_ARG_VALUE', name, 'must not contain NUL bytes');
    }
    return value;
  }
  throw new ArgumentError('ERR_INVALID_ARG_TYPE', name, `expected a string or Uint8Array, received ${describeReceived(value)}`);
}

/** Pins a NUL-terminated copy of `value` (UTF-8 for strings); returns its address. */
export function encodeCString(target: SqeTarget, value: string | Uint8Array): number {
  const bytes = typeof value === 'string' ? utf8.encode(value) : value;
  const out = new Uint8Array(byteLengthOf(bytes) + 1);
  out.set(bytes);
  return target.pin(out);
}

/** Validates a {@link Timespec}. */
export function checkTimespec(name: string, value: unknown): Timespec {
  if (value === null || typeof value !== 'object') {
    throw new ArgumentError('ERR_INVALID_ARG_TYPE', name, `expected { sec, nsec }, received ${describeReceived(value)}`);
  }
  const ts = value as Timespec;
  const sec = checkI64(`${name}.sec`, ts.sec);
  if (sec < 0) {
    throw new ArgumentError('ERR_OUT_OF_RANGE', `${name}.sec`, `expected a non-negative number of seconds, received ${describeReceived(sec)}`);
  }
  checkIntRange(`${name}.nsec`, ts.nsec, 0, 999_999_999);
  return ts;
}

/**
 * Pins a `struct __kernel_timespec` holding `ts`; returns its address. The kernel copies a
 * timespec when it prepares the op (every op that takes one: TIMEOUT, LINK_TIMEOUT, the
 * timeout updates), so it is held only until the SQE is consumed where the target can do so.
 */
export function encodeTimespec(target: SqeTarget, ts: Timespec): number {
  const mem = new Uint8Array(TIMESPEC_SIZE);
  const dv = new DataView(mem.buffer);
  setU64(dv, 0, ts.sec);
  setU64(dv, 8, ts.nsec);
  return target.pinUntilConsumed !== undefined ? target.pinUntilConsumed(mem) : target.pin(mem);
}
