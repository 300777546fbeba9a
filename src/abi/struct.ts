/**
 * Helpers for the generated struct accessors (`generated/structs.ts`): wrapping memory in a
 * DataView once, bounds checks, and 64-bit reads that stay in numbers.
 *
 * Reads of u64/i64 fields go through two u32 reads because `getBigUint64` allocates a BigInt
 * on every call; a value past 2^53 cannot be a number without losing bits, so it throws and
 * points at the `…Big` accessor instead.
 *
 * @module
 */
import { ArgumentError, describeReceived } from '../errors.js';

const TWO_32 = 4294967296;
/** High word limit of a u64 that still fits a safe integer (2^53 - 1 has high word 0x1fffff). */
const SAFE_HIGH_WORD = 0x1fffff;

/** Memory an accessor can be constructed over. */
export type AccessorMemory = ArrayBufferLike | ArrayBufferView;

/**
 * A DataView over `memory`. An existing DataView is used as it is (no copy), so many
 * accessors can share one; other views are wrapped with their `byteOffset` respected.
 */
export function toDataView(memory: AccessorMemory): DataView {
  if (memory instanceof DataView) return memory;
  if (ArrayBuffer.isView(memory)) return new DataView(memory.buffer, memory.byteOffset, memory.byteLength);
  if (memory instanceof ArrayBuffer || (typeof SharedArrayBuffer !== 'undefined' && memory instanceof SharedArrayBuffer)) {
    return new DataView(memory);
  }
  throw new ArgumentError('ERR_INVALID_ARG_TYPE', 'memory', `expected an ArrayBuffer, a TypedArray, a Buffer or a DataView, received ${describeReceived(memory)}`);
}

/** Checks that a `size`-byte record fits in `view` at `byteOffset`; returns the offset. */
export function checkRecordAt(record: string, view: DataView, byteOffset: number, size: number): number {
  if (typeof byteOffset === 'number' && Number.isInteger(byteOffset) && byteOffset >= 0 && byteOffset + size <= view.byteLength) {
    return byteOffset;
  }
  throw new ArgumentError(
    'ERR_OUT_OF_RANGE',
    `${record}: byteOffset`,
    `expected an integer from 0 to ${view.byteLength - size} (a ${size}-byte record in ${view.byteLength} bytes), received ${describeReceived(byteOffset)}`,
  );
}

/** Byte offset of element `index` of a fixed-length array starting at `start`. */
export function elementAt(name: string, index: number, length: number, start: number, elementSize: number): number {
  if (typeof index === 'number' && index >>> 0 === index && index < length) return start + index * elementSize;
  throw new ArgumentError('ERR_OUT_OF_RANGE', name, `expected an index from 0 to ${length - 1}, received ${describeReceived(index)}`);
}

/**
 * Byte offset of element `index` of a flexible array starting at `start`: any index whose
 * element lies wholly inside the view.
 */
export function flexElementAt(name: string, index: number, view: DataView, start: number, elementSize: number): number {
  if (typeof index === 'number' && index >>> 0 === index && start + (index + 1) * elementSize <= view.byteLength) {
    return start + index * elementSize;
  }
  const room = Math.max(0, Math.floor((view.byteLength - start) / elementSize));
  throw new ArgumentError('ERR_OUT_OF_RANGE', name, `expected an index from 0 to ${room - 1} (the memory holds ${room} elements), received ${describeReceived(index)}`);
}

/** A u64 at `byteOffset` as a number; throws a RangeError naming `name` past 2^53 - 1. */
export function getU64(view: DataView, byteOffset: number, littleEndian: boolean, name: string): number {
  const lo = view.getUint32(littleEndian ? byteOffset : byteOffset + 4, littleEndian);
  const hi = view.getUint32(littleEndian ? byteOffset + 4 : byteOffset, littleEndian);
  if (hi > SAFE_HIGH_WORD) {
    throw new RangeError(`${name}: the value exceeds 2^53 - 1 and cannot be read as a number; use the …Big accessor`);
  }
  return hi * TWO_32 + lo;
}

/** An i64 at `byteOffset` as a number; throws a RangeError naming `name` outside ±(2^53 - 1). */
export function getI64(view: DataView, byteOffset: number, littleEndian: boolean, name: string): number {
  const lo = view.getUint32(littleEndian ? byteOffset : byteOffset + 4, littleEndian);
  const hi = view.getInt32(littleEndian ? byteOffset + 4 : byteOffset, littleEndian);
  const value = hi * TWO_32 + lo;
  if (!Number.isSafeInteger(value)) {
    throw new RangeError(`${name}: the value is outside ±(2^53 - 1) and cannot be read as a number; use the …Big accessor`);
  }
  return value;
}

/**
 * Writes a checked 64-bit value (number or bigint, two's complement when negative) in the
 * given byte order. Little-endian callers can use `setU64` from check.ts directly.
 */
export function setU64Endian(view: DataView, byteOffset: number, value: number | bigint, littleEndian: boolean): void {
  if (typeof value === 'bigint') {
    view.setBigUint64(byteOffset, BigInt.asUintN(64, value), littleEndian);
    return;
  }
  const lo = value >>> 0;
  const hi = value >= 0 ? (value - lo) / TWO_32 : Math.floor(value / TWO_32) >>> 0;
  view.setUint32(littleEndian ? byteOffset : byteOffset + 4, lo, littleEndian);
  view.setUint32(littleEndian ? byteOffset + 4 : byteOffset, hi, littleEndian);
}

/**
 * Throws the RangeError of a 64-bit field read as a number past ±(2^53 - 1). Generated getters
 * read both halves inline (a helper call costs more than the read) and call this only to fail.
 */
export function u64OutOfRange(name: string): never {
  throw new RangeError(`${name}: the value is outside ±(2^53 - 1) and cannot be read as a number; use the …Big accessor`);
}
