/**
 * Options and result types of the Promise API (`AsyncIoUring`), and the `poll(2)` event
 * bits its `poll` methods take.
 *
 * @module
 */
import type { DecodedAddress } from '../net/sockaddr.js';
import type { IoUringOptions } from '../ring/setup.js';

/**
 * How a ring wakes Node's event loop: `'uv'` (a `uv_poll` through Node's own libuv, the
 * main thread's default), `'koffi'` (koffi's poll handle, the default in Workers) or
 * `'threadpool'` (an eventfd read in libuv's threadpool, the fallback).
 */
export type WakerKind = 'uv' | 'koffi' | 'threadpool';

/** Options of `AsyncIoUring`. */
export interface AsyncIoUringOptions extends IoUringOptions {
  /**
   * How the event loop is woken: `'auto'` (default: the `TSURING_WAKER` environment variable,
   * else the best this thread has), or a forced {@link WakerKind}.
   */
  waker?: WakerKind | 'auto' | undefined;
}

/** Per-op options every Promise method takes. */
export interface OpOptions {
  /**
   * Cancels the op (synchronously through `IORING_REGISTER_SYNC_CANCEL`, never waiting for
   * room); it then rejects with an `AbortError`. One signal may serve any number of ops.
   */
  signal?: AbortSignal | undefined;
}

/** Options of reads and writes. */
export interface ReadWriteOptions extends OpOptions {
  /** Bytes to transfer (at most the buffer's length); default: the whole buffer. */
  length?: number | undefined;
}

/** Options of `send` and `recv`. */
export interface SendRecvOptions extends ReadWriteOptions {
  /** `MSG_*` flags (`MSG_NOSIGNAL`, `MSG_WAITALL`, `MSG_PEEK`, ...); default 0. */
  flags?: number | undefined;
}

/** Options of `sendmsg` and `recvmsg`. */
export interface MsgOptions extends OpOptions {
  /** `MSG_*` flags; default 0. */
  flags?: number | undefined;
}

/** Options of `fsync`. */
export interface FsyncOptions extends OpOptions {
  /** Flush only the data and the metadata needed to read it back (`fdatasync`). */
  datasync?: boolean | undefined;
}

/** Options of `stat`, `statx`-based calls. */
export interface StatOptions extends OpOptions {
  /** Follow a final symbolic link (default true); false reports the link itself, as `lstat`. */
  followSymlinks?: boolean | undefined;
}

/** Options of `accept`. */
export interface AcceptOptions extends OpOptions {
  /** accept4 flags for the new socket; default `SOCK_CLOEXEC` (as Node's sockets have). */
  flags?: number | undefined;
  /** Also report the peer's address: the promise then resolves with `{ fd, peer }`. */
  peer?: boolean | undefined;
}

/** What `accept(fd, { peer: true })` resolves with. */
export interface Accepted {
  /** The new connection's descriptor (yours to close). */
  fd: number;
  /** The peer's address, or null for a family this library does not decode (e.g. AF_UNIX). */
  peer: DecodedAddress | null;
}

/** Options of `timeout`. */
export interface TimeoutOptions extends OpOptions {
  /** The time is an absolute point on `clock` instead of a span from now. */
  absolute?: boolean | undefined;
  /** Clock: `'monotonic'` (default), `'boottime'` (counts suspend) or `'realtime'` (wall clock). */
  clock?: 'monotonic' | 'boottime' | 'realtime' | undefined;
}

/** Options of `splice`. */
export interface SpliceOptions extends OpOptions {
  /** `SPLICE_F_*` flags; default 0. */
  flags?: number | undefined;
}

/** `shutdown(2)` directions by name. */
export type ShutdownHow = 'read' | 'write' | 'both' | 0 | 1 | 2;

/** `POLLIN`: data to read (a `poll(2)` event bit, for `AsyncIoUring.poll`). */
export const POLLIN = 0x001;
/** `POLLPRI`: urgent data to read. */
export const POLLPRI = 0x002;
/** `POLLOUT`: writing will not block. */
export const POLLOUT = 0x004;
/** `POLLERR`: an error condition (always reported). */
export const POLLERR = 0x008;
/** `POLLHUP`: the other end hung up (always reported). */
export const POLLHUP = 0x010;
/** `POLLNVAL`: the descriptor is not open (always reported). */
export const POLLNVAL = 0x020;
/** `POLLRDHUP`: the stream peer shut down its writing side. */
export const POLLRDHUP = 0x2000;

/** What a completed op reports: its result and CQE flags (buffer id, `F_MORE`, ...). */
export interface Completion {
  /** The CQE's result: a count, a descriptor, 0 (negative results reject instead). */
  readonly res: number;
  /** The CQE's `IORING_CQE_F_*` flags (buffer id in the upper 16 bits with `F_BUFFER`). */
  readonly flags: number;
}

