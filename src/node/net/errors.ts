/**
 * Errors shaped as `node:net`'s own: the same messages, `code`, negative `errno`, `syscall`,
 * and for connect/listen failures `address` and `port`, so code that inspects
 * `err.code === 'ECONNREFUSED'` or logs `err.address` sees what it sees with `node:net`.
 *
 * - connect: `connect ECONNREFUSED 127.0.0.1:1` (`exceptionWithHostPort` in Node)
 * - listen / bind: `listen EADDRINUSE: address already in use 127.0.0.1:8080`
 *   (`uvExceptionWithHostPort`; Node reports bind failures with syscall `'listen'`)
 * - read / write / shutdown: `read ECONNRESET` (`errnoException`)
 *
 * @module
 */
import { getSystemErrorMap } from 'node:util';

/** A system error as Node's net module builds them. */
export interface NetErrnoException extends Error {
  code: string;
  errno: number;
  syscall: string;
  address?: string;
  port?: number;
}

let errorMap: Map<number, [string, string]> | undefined;

/** The negative errno an error carries (an IoUringError, a Node error), or undefined. */
function errnoOf(err: unknown): number | undefined {
  const errno = (err as { errno?: unknown } | null)?.errno;
  if (typeof errno !== 'number' || !Number.isInteger(errno) || errno === 0) return undefined;
  return -Math.abs(errno);
}

function names(errno: number): [string, string] {
  errorMap ??= getSystemErrorMap();
  return errorMap.get(errno) ?? [`Unknown system error ${errno}`, `unknown error ${errno}`];
}

function hostPort(address: string | undefined, port: number | undefined): string {
  if (port !== undefined && port > 0) return ` ${address}:${port}`;
  return address !== undefined ? ` ${address}` : '';
}

/**
 * Rewraps an error from the ring or a system call as Node's net module would report it
 * for `syscall`. Errors without an errno (argument errors, aborts) are returned unchanged.
 */
export function netError(err: unknown, syscall: 'connect' | 'listen' | 'read' | 'write' | 'shutdown' | 'accept', address?: string, port?: number): Error {
  const errno = errnoOf(err);
  if (errno === undefined) return err instanceof Error ? err : new Error(String(err));
  const [code, text] = names(errno);
  let message: string;
  if (syscall === 'listen') message = `${syscall} ${code}: ${text}${hostPort(address, port)}`;
  else if (syscall === 'connect') message = `${syscall} ${code}${hostPort(address, port)}`;
  else message = `${syscall} ${code}`;
  const out = new Error(message) as NetErrnoException;
  out.errno = errno;
  out.code = code;
  out.syscall = syscall;
  if (syscall === 'listen' || syscall === 'connect') {
    if (address !== undefined) out.address = address;
    if (port !== undefined && port > 0) out.port = port;
  }
  return out;
}

/** Node's `ERR_*` errors for argument and state problems (`code`, and the class Node uses). */
export function codedError<E extends ErrorConstructor | RangeErrorConstructor | TypeErrorConstructor>(Ctor: E, code: string, message: string): InstanceType<E> & { code: string } {
  const err = new Ctor(message) as InstanceType<E> & { code: string };
  err.code = code;
  return err;
}
