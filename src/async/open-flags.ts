/**
 * Node's `fs.open` flag strings (`'r'`, `'w+'`, `'ax'`, ...) as `O_*` numbers, with the
 * values from `fs.constants` (so they are right on every architecture Node runs on).
 *
 * @module
 */
import { constants } from 'node:fs';
import { ArgumentError, describeReceived } from '../errors.js';

const { O_RDONLY, O_WRONLY, O_RDWR, O_CREAT, O_EXCL, O_TRUNC, O_APPEND, O_SYNC } = constants;
/** `O_CLOEXEC`: not in `fs.constants`; the same value on every Linux architecture Node supports. */
export const O_CLOEXEC = 0o2000000;

const FLAGS: Readonly<Record<string, number>> = Object.freeze({
  r: O_RDONLY,
  rs: O_RDONLY | O_SYNC,
  sr: O_RDONLY | O_SYNC,
  'r+': O_RDWR,
  'rs+': O_RDWR | O_SYNC,
  'sr+': O_RDWR | O_SYNC,
  w: O_TRUNC | O_CREAT | O_WRONLY,
  wx: O_TRUNC | O_CREAT | O_WRONLY | O_EXCL,
  xw: O_TRUNC | O_CREAT | O_WRONLY | O_EXCL,
  'w+': O_TRUNC | O_CREAT | O_RDWR,
  'wx+': O_TRUNC | O_CREAT | O_RDWR | O_EXCL,
  'xw+': O_TRUNC | O_CREAT | O_RDWR | O_EXCL,
  a: O_APPEND | O_CREAT | O_WRONLY,
  ax: O_APPEND | O_CREAT | O_WRONLY | O_EXCL,
  xa: O_APPEND | O_CREAT | O_WRONLY | O_EXCL,
  as: O_APPEND | O_CREAT | O_WRONLY | O_SYNC,
  sa: O_APPEND | O_CREAT | O_WRONLY | O_SYNC,
  'a+': O_APPEND | O_CREAT | O_RDWR,
  'ax+': O_APPEND | O_CREAT | O_RDWR | O_EXCL,
  'xa+': O_APPEND | O_CREAT | O_RDWR | O_EXCL,
  'as+': O_APPEND | O_CREAT | O_RDWR | O_SYNC,
  'sa+': O_APPEND | O_CREAT | O_RDWR | O_SYNC,
});

/** Flags an open takes: one of Node's strings, or `O_*` bits. */
export type OpenFlags = 'r' | 'rs' | 'sr' | 'r+' | 'rs+' | 'sr+' | 'w' | 'wx' | 'xw' | 'w+' | 'wx+' | 'xw+' | 'a' | 'ax' | 'xa' | 'as' | 'sa' | 'a+' | 'ax+' | 'xa+' | 'as+' | 'sa+' | number;

/**
 * The `O_*` bits for `flags`: a Node flag string (as `fs.open` takes), or a number passed
 * on as given. Strings get `O_CLOEXEC` added, as Node (libuv) adds it to every open.
 *
 * @throws {@link ArgumentError} for an unknown string or a non-integer.
 */
export function openFlagsOf(flags: unknown, argument = 'flags'): number {
  if (typeof flags === 'string') {
    const value = FLAGS[flags];
    if (value === undefined) {
      throw new ArgumentError('ERR_INVALID_ARG_VALUE', argument, `expected one of ${Object.keys(FLAGS).map((k) => `'${k}'`).join(', ')} or O_* bits, received ${describeReceived(flags)}`);
    }
    return value | O_CLOEXEC;
  }
  if (typeof flags === 'number' && Number.isInteger(flags) && flags >= -0x80000000 && flags <= 0xffffffff) return flags >>> 0;
  throw new ArgumentError('ERR_INVALID_ARG_TYPE', argument, `expected a flag string ('r', 'w', 'a+', ...) or O_* bits, received ${describeReceived(flags)}`);
}

/** Whether the flags open for appending (writes then always go to the end). */
export function isAppend(flags: number): boolean {
  return (flags & O_APPEND) !== 0;
}
