/**
 * Node's argument errors for the FileHandle methods this module implements itself
 * (`read`, `write`, `readv`, `writev`, `truncate`), with Node's codes, classes and message
 * wording: `ERR_INVALID_ARG_TYPE` (TypeError), `ERR_OUT_OF_RANGE` (RangeError),
 * `ERR_INVALID_ARG_VALUE` (TypeError).
 *
 * @module
 */
import { inspect } from 'node:util';

type CodedError = Error & { code: string };

function coded<E extends Error>(err: E, code: string): E & { code: string } {
  Object.defineProperty(err, 'code', { value: code, enumerable: true, writable: true, configurable: true });
  return err as E & { code: string };
}

/** How Node's errors describe a received value (`determineSpecificType`). */
export function received(value: unknown): string {
  if (value === null || value === undefined) return `Received ${String(value)}`;
  if (typeof value === 'function') return `Received function ${(value as { name?: string }).name || '(anonymous)'}`;
  if (typeof value === 'object') {
    const ctor = (value as { constructor?: { name?: string } }).constructor?.name;
    return ctor ? `Received an instance of ${ctor}` : `Received ${inspect(value, { depth: -1 })}`;
  }
  let shown = inspect(value, { colors: false });
  if (shown.length > 28) shown = `${shown.slice(0, 25)}...`;
  return `Received type ${typeof value} (${shown})`;
}

export function invalidArgType(name: string, expected: string, value: unknown): CodedError {
  const what = name.includes('.') ? 'property' : 'argument';
  return coded(new TypeError(`The "${name}" ${what} must be ${expected}. ${received(value)}`), 'ERR_INVALID_ARG_TYPE');
}

export function outOfRange(name: string, range: string, value: unknown): CodedError {
  const shown = typeof value === 'number' || typeof value === 'bigint' ? `${String(value)}${typeof value === 'bigint' ? 'n' : ''}` : inspect(value);
  return coded(new RangeError(`The value of "${name}" is out of range. It must be ${range}. Received ${shown}`), 'ERR_OUT_OF_RANGE');
}

export function invalidArgValue(name: string, value: unknown, reason: string): CodedError {
  return coded(new TypeError(`The argument '${name}' ${reason}. Received ${inspect(value)}`), 'ERR_INVALID_ARG_VALUE');
}

/** Node's `validateInteger`: a safe integer in [min, max]. */
export function checkInteger(value: unknown, name: string, min = Number.MIN_SAFE_INTEGER, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof value !== 'number') throw invalidArgType(name, 'of type number', value);
  if (!Number.isInteger(value)) throw outOfRange(name, 'an integer', value);
  if (value < min || value > max) throw outOfRange(name, `>= ${min} && <= ${max}`, value);
  return value;
}

/** An ArrayBufferView, as Node's `validateBuffer` wants. */
export function checkBuffer(value: unknown, name = 'buffer'): ArrayBufferView {
  if (!ArrayBuffer.isView(value)) throw invalidArgType(name, 'an instance of Buffer, TypedArray, or DataView', value);
  return value;
}

/** Node's `validateBufferArray`: an array of ArrayBufferViews. */
export function checkBufferArray(value: unknown, name = 'buffers'): ArrayBufferView[] {
  if (!Array.isArray(value)) throw invalidArgType(name, 'an ArrayBufferView[]', value);
  // One snapshot: what is validated is what the kernel gets.
  const copy = value.slice();
  for (const b of copy) if (!ArrayBuffer.isView(b)) throw invalidArgType(name, 'an ArrayBufferView[]', value);
  return copy as ArrayBufferView[];
}

/**
 * A read or write position as Node 20's FileHandle takes it: a safe integer ≥ 0 is an offset;
 * anything else (null, -1, a bigint, a fraction, a string) means the current position, which
 * advances (-1 for the ring). Node does not refuse any of them.
 */
export function positionOf(value: unknown): number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0 ? value : -1;
}

/** Node's `validateOffsetLengthRead` / `...Write`: the range lies in the buffer. */
export function checkRange(offset: number, length: number, byteLength: number, name: 'length' | 'offset' = 'length'): void {
  if (offset < 0) throw outOfRange('offset', '>= 0', offset);
  if (length < 0) throw outOfRange('length', '>= 0', length);
  if (offset + length > byteLength) throw outOfRange(name, `<= ${byteLength - offset}`, length);
}
