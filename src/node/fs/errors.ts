/**
 * Errors shaped exactly as `node:fs/promises` makes them: a plain `Error` whose message is
 * `"<CODE>: <libuv text>, <syscall>[ '<path>'][ -> '<dest>']"`, with own properties
 * `errno` (negative), `code`, `syscall` (Node's name: `'open'`, not io_uring's `'openat'`),
 * and `path` / `dest` where Node sets them.
 *
 * They are created in the async function that awaited the failed op, so their stack holds
 * the caller's async frames (`at async main (app.js:3:3)`).
 *
 * @module
 */
import { getSystemErrorMap } from 'node:util';
import { errnoName, errnoText } from '../../sys/errno.js';
import { IoUringError } from '../../sys/errors.js';

const SYSTEM_ERRORS = getSystemErrorMap();

/** A path argument as Node shows it in a message and in `err.path`. */
export type ErrorPath = string | Uint8Array | undefined;

function pathString(path: ErrorPath): string | undefined {
  if (path === undefined) return undefined;
  return typeof path === 'string' ? path : Buffer.from(path.buffer, path.byteOffset, path.byteLength).toString();
}

/** Node's `UVException`: the error for `errno` (either sign) from `syscall` on `path` (→ `dest`). */
export function uvError(errno: number, syscall: string, path?: ErrorPath, dest?: ErrorPath): NodeJS.ErrnoException {
  const negative = -Math.abs(errno);
  const known = SYSTEM_ERRORS.get(negative);
  const code = known?.[0] ?? errnoName(-negative);
  const text = known?.[1] ?? errnoText(-negative);
  let message = `${code}: ${text}, ${syscall}`;
  // As Node's promise errors (made in C++): an empty path is shown and set too.
  const p = pathString(path);
  const d = pathString(dest);
  if (p !== undefined) message += ` '${p}'`;
  if (d !== undefined) message += ` -> '${d}'`;
  const err = new Error(message) as NodeJS.ErrnoException & { dest?: string };
  err.errno = negative;
  err.code = code;
  err.syscall = syscall;
  if (p !== undefined) err.path = p;
  if (d !== undefined) err.dest = d;
  Error.captureStackTrace(err, uvError);
  return err;
}

/** io_uring op names (as `IoUringError.syscall` has them) → the syscall Node names. */
const NODE_SYSCALL: Readonly<Record<string, string>> = {
  openat: 'open',
  read: 'read',
  readv: 'read',
  write: 'write',
  writev: 'write',
  close: 'close',
  statx: 'fstat',
  fsync: 'fsync',
  ftruncate: 'ftruncate',
  unlinkat: 'unlink',
  renameat: 'rename',
  mkdirat: 'mkdir',
  linkat: 'link',
  symlinkat: 'symlink',
};

/**
 * The error to reject with for `err`, thrown by a ring op or helper: an {@link IoUringError}
 * becomes Node's shape (with `syscall` given, or mapped from the op; `path` given, or the one
 * the op named); anything else (an `AbortError`, an error from Node itself) is returned as is.
 */
export function toNodeError(err: unknown, syscall?: string, path?: ErrorPath, dest?: ErrorPath): unknown {
  if (!(err instanceof IoUringError)) return err;
  const name = syscall ?? NODE_SYSCALL[err.syscall] ?? err.syscall;
  const opPath = (err as IoUringError & { path?: string }).path;
  const shaped = uvError(err.errno, name, path ?? (syscall === undefined ? opPath : undefined), dest);
  // The stack starts at the library function the caller awaited, as Node's starts at its own.
  Error.captureStackTrace(shaped, toNodeError);
  return shaped;
}

/** Node's error for a call on a closed FileHandle (`fsCall`): `Error('file closed')`, EBADF. */
export function fileClosedError(syscall: string): NodeJS.ErrnoException {
  const err = new Error('file closed') as NodeJS.ErrnoException;
  err.code = 'EBADF';
  err.syscall = syscall;
  return err;
}
