/**
 * Argument checks shared by the generated op builders and the runtime.
 *
 * Each check takes the argument's name (`"prepRead: len"`) first so the error says
 * which argument was wrong, returns the value unchanged when it is acceptable, and
 * throws {@link ArgumentError} otherwise. They are small and monomorphic so V8 inlines
 * them on the hot path; none allocates unless it throws.
 *
 * @module
 */
import { ArgumentError, describeReceived } from '../errors.js';
import { bufferOf, byteLengthOf, isDetachedBuffer, isView } from './intrinsics.js';

const TWO_32 = 4294967296;
/** 2^63, the first value that no longer fits a signed 64-bit offset. */
const TWO_63_BIG = 1n << 63n;
const TWO_64_BIG = 1n << 64n;

function typeError(name: string, expected: string, value: unknown): never {
  throw new ArgumentError('ERR_INVALID_ARG_TYPE', name, `expected ${expected}, received ${describeReceived(value)}`);
}

function rangeError(name: string, expected: string, value: unknown): never {
  throw new ArgumentError('ERR_OUT_OF_RANGE', name, `expected ${expected}, received ${describeReceived(value)}`);
}

/** An integer in [min, max] given as a number. */
export function checkIntRange(name: string, value: unknown, min: number, max: number): number {
  if (typeof value !== 'number') typeError(name, `an integer from ${min} to ${max}`, value);
  if (!Number.isInteger(value) || value < min || value > max) {
    rangeError(name, `an integer from ${min} to ${max}`, value);
  }
  return value;
}

/** An unsigned 8-bit integer. */
export function checkU8(name: string, value: unknown): number {
  if (typeof value === 'number' && (value & 0xff) === value) return value;
  return checkIntRange(name, value, 0, 0xff);
}

/** An unsigned 16-bit integer. */
export function checkU16(name: string, value: unknown): number {
  if (typeof value === 'number' && (value & 0xffff) === value) return value;
  return checkIntRange(name, value, 0, 0xffff);
}

/** An unsigned 32-bit integer. */
export function checkU32(name: string, value: unknown): number {
  if (typeof value === 'number' && value >>> 0 === value) return value;
  return checkIntRange(name, value, 0, 0xffffffff);
}

/** A signed 32-bit integer. */
export function checkI32(name: string, value: unknown): number {
  if (typeof value === 'number' && (value | 0) === value) return value;
  return checkIntRange(name, value, -0x80000000, 0x7fffffff);
}

/** A file descriptor number: an integer from 0 to 2^31 - 1. */
export function checkFdNumber(name: string, value: unknown): number {
  if (typeof value === 'number' && (value | 0) === value && value >= 0) return value;
  if (typeof value === 'number' && Number.isInteger(value) && value < 0) {
    rangeError(name, 'a file descriptor (an integer from 0 to 2147483647)', value);
  }
  return checkIntRange(name, value, 0, 0x7fffffff);
}

/**
 * An unsigned 64-bit value: a non-negative safe-integer number, or a bigint below 2^64.
 * Returned as given; write it with {@link setU64}.
 */
export function checkU64(name: string, value: unknown): number | bigint {
  if (typeof value === 'number') {
    if (Number.isSafeInteger(value) && value >= 0) return value;
    rangeError(name, 'an integer from 0 to 2^53 - 1 (use a bigint beyond that)', value);
  }
  if (typeof value === 'bigint') {
    if (value >= 0n && value < TWO_64_BIG) return value;
    rangeError(name, 'a bigint from 0n to 2n ** 64n - 1n', value);
  }
  return typeError(name, 'a number or bigint', value);
}

/**
 * An unsigned value below 2^`bits` (1 to 64): a non-negative safe-integer number, or a
 * bigint. For fields whose top bits mean something else to their reader, such as
 * MSG_RING's `data`, which becomes another ring's `user_data`, where bit 63 marks that
 * ring's own op ids.
 */
export function checkU64Bits(name: string, value: unknown, bits: number): number | bigint {
  if (typeof value === 'number') {
    if (Number.isSafeInteger(value) && value >= 0 && (bits >= 53 || value < 2 ** bits)) return value;
    rangeError(name, bits >= 53 ? 'an integer from 0 to 2^53 - 1 (use a bigint beyond that)' : `an integer from 0 to 2^${bits} - 1`, value);
  }
  if (typeof value === 'bigint') {
    if (value >= 0n && value < 1n << BigInt(bits)) return value;
    rangeError(name, `a bigint from 0n to 2n ** ${bits}n - 1n${bits < 64 ? ` (bit ${bits}${bits < 63 ? ' and up' : ''} must be clear)` : ''}`, value);
  }
  return typeError(name, 'a number or bigint', value);
}

/** A signed 64-bit value: a safe-integer number, or a bigint in [-2^63, 2^63). */
export function checkI64(name: string, value: unknown): number | bigint {
  if (typeof value === 'number') {
    if (Number.isSafeInteger(value)) return value;
    rangeError(name, 'a safe integer (use a bigint beyond 2^53)', value);
  }
  if (typeof value === 'bigint') {
    if (value >= -TWO_63_BIG && value < TWO_63_BIG) return value;
    rangeError(name, 'a bigint from -(2n ** 63n) to 2n ** 63n - 1n', value);
  }
  return typeError(name, 'a number or bigint', value);
}

/**
 * A file offset: a non-negative integer below 2^63 (number or bigint), or -1 meaning
 * "the file's current position" where the op allows it.
 */
export function checkOffset(name: string, value: unknown): number | bigint {
  if (typeof value === 'number') {
    if (Number.isSafeInteger(value) && value >= -1) return value;
    rangeError(name, 'a file offset from 0 to 2^63 - 1, or -1 for the current position', value);
  }
  if (typeof value === 'bigint') {
    if (value >= -1n && value < TWO_63_BIG) return value;
    rangeError(name, 'a file offset from 0n to 2n ** 63n - 1n, or -1n', value);
  }
  return typeError(name, 'a number or bigint file offset', value);
}

/** Flags: an unsigned 32-bit integer with no bits outside `known` (unless `known` is -1). */
export function checkFlags(name: string, value: unknown, known: number, setName: string): number {
  checkU32(name, value);
  const v = value as number;
  if (known !== -1 && (v & ~known) !== 0) {
    const unknown = (v & ~known) >>> 0;
    throw new ArgumentError(
      'ERR_INVALID_ARG_VALUE',
      name,
      `bits 0x${unknown.toString(16)} are not ${setName} known to this build (allowed mask 0x${(known >>> 0).toString(16)})`,
    );
  }
  return v;
}

/**
 * Flags with some bits refused outright: `allowed` is the narrowed mask (the flag set's bits,
 * or every bit, minus `excluded`). A value using an excluded bit is refused with a message
 * naming those bits; `excludedNames` lists them as `NAME=0xVALUE` separated by `|` (a string
 * literal in the generated code, so a call allocates nothing unless it throws), and `reason`
 * says why the builder refuses them.
 */
export function checkFlagsExcept(
  name: string,
  value: unknown,
  allowed: number,
  setName: string,
  excluded: number,
  excludedNames: string,
  reason: string,
): number {
  if (typeof value === 'number' && value >>> 0 === value && (value & ~allowed) === 0) return value;
  checkU32(name, value);
  const v = value as number;
  const refused = (v & excluded) >>> 0;
  if (refused !== 0) {
    const names = excludedNames
      .split('|')
      .map((entry) => entry.split('='))
      .filter(([, hex]) => hex !== undefined && (Number(hex) & refused) !== 0)
      .map(([n]) => n);
    throw new ArgumentError(
      'ERR_INVALID_ARG_VALUE',
      name,
      `${names.join(' | ')} (0x${refused.toString(16)}) ${names.length === 1 ? 'is' : 'are'} not accepted here${reason === '' ? '' : `: ${reason}`}`,
    );
  }
  return checkFlags(name, v, allowed, setName);
}

/**
 * An ArrayBufferView (Buffer, Uint8Array, any typed array or DataView) that is not
 * detached. Judged by the built-in tests and getters (`intrinsics.ts`): a Proxy is no view,
 * and an own or subclass `byteLength` changes nothing.
 */
export function checkView(name: string, value: unknown): ArrayBufferView {
  if (!isView(value)) typeError(name, 'a Buffer, TypedArray or DataView', value);
  const view = value as ArrayBufferView;
  // A detached buffer reports byteLength 0 and would hand the kernel a dangling pointer.
  // byteLength first: reading the buffer is several times dearer and only matters when empty.
  if (byteLengthOf(view) === 0 && isDetachedBuffer(bufferOf(view))) {
    throw new ArgumentError('ERR_INVALID_ARG_VALUE', name, 'the buffer has been detached (transferred)');
  }
  return view;
}

/**
 * A length of bytes to use from `view`: an integer from 0 to `view.byteLength`.
 * Without a length, the whole view.
 */
export function checkLengthWithin(name: string, length: unknown, view: ArrayBufferView): number {
  // The real length (built-in getter), never the object's own claim: the kernel uses this.
  const available = byteLengthOf(view);
  if (length === undefined) return available;
  if (typeof length === 'number' && length >>> 0 === length && length <= available) return length;
  if (typeof length === 'number' && Number.isInteger(length) && length > available) {
    throw new ArgumentError(
      'ERR_OUT_OF_RANGE',
      name,
      `length ${length} runs past the end of the buffer (${available} bytes)`,
    );
  }
  return checkIntRange(name, length, 0, Math.min(available, 0xffffffff));
}

/** The low and high 32-bit words of an unsigned or two's-complement 64-bit value. */
export function setU64(view: DataView, byteOffset: number, value: number | bigint): void {
  if (typeof value === 'number') {
    if (value >= 0) {
      const lo = value >>> 0;
      view.setUint32(byteOffset, lo, true);
      view.setUint32(byteOffset + 4, (value - lo) / TWO_32, true);
    } else {
      // Safe negative integers: two's complement across both words.
      const lo = value >>> 0;
      view.setUint32(byteOffset, lo, true);
      view.setUint32(byteOffset + 4, Math.floor(value / TWO_32) >>> 0, true);
    }
  } else {
    view.setBigUint64(byteOffset, BigInt.asUintN(64, value), true);
  }
}
