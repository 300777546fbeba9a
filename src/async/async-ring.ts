/**
 * The Promise API: io_uring on Node's event loop.
 *
 * - **Batching.** Every op started in one turn of the event loop is staged; a microtask
 *   submits them all with one `io_uring_enter` and reaps whatever completed inline.
 * - **Waking.** A waker (a `uv_poll` on the ring fd on the main thread; see
 *   `src/loop/waker.ts`) calls back when more CQEs arrive. No thread, no busy polling. It
 *   keeps the process alive only while something is in flight.
 * - **Backpressure.** When `maxInFlight` ops are out, new ones wait in a FIFO and start as
 *   completions free room: none fails for lack of space, none is dropped.
 * - **Cancellation.** An `AbortSignal` cancels through `IORING_OP_ASYNC_CANCEL` and the op
 *   rejects with an `AbortError`; a descriptor an open/accept produced anyway is closed.
 * - **Lifetime.** Buffers stay referenced by the ring until the op's final CQE (the ring's
 *   op table); `close()` cancels and waits out in-flight work without blocking the loop.
 * - **Arguments.** Every method checks its arguments with the generated builders before
 *   anything is staged: a bad one rejects the promise with the builder's `ArgumentError`
 *   and nothing reaches the kernel. No method throws synchronously.
 *
 * The hot ops (`read`, `write`, `readv`, `writev`, `send`, `recv`, `accept`) allocate
 * nothing but their promise when called without a signal and nothing is waiting for room.
 *
 * @module
 */
import type { SocketAddress } from 'node:net';
import {
  IORING_ASYNC_CANCEL_ALL,
  IORING_ASYNC_CANCEL_ANY,
  IORING_FSYNC_DATASYNC,
  IORING_REGISTER_EVENTFD,
  IORING_SETUP_DEFER_TASKRUN,
  IORING_TIMEOUT_ABS,
  IORING_TIMEOUT_BOOTTIME,
  IORING_TIMEOUT_REALTIME,
  IORING_UNREGISTER_EVENTFD,
  IoringOp,
} from '../../generated/constants.js';
import {
  prepAccept,
  prepCancel,
  prepClose,
  prepCloseDirect,
  prepConnect,
  prepFallocate,
  prepFsync,
  prepMkdirat,
  prepNop,
  prepOpenat,
  prepPipe,
  prepPollAdd,
  prepRead,
  prepReadv,
  prepRecv,
  prepRecvmsg,
  prepRenameat,
  prepSend,
  prepSendmsg,
  prepShutdown,
  prepSocket,
  prepSplice,
  prepStatx,
  prepTimeout,
  prepUnlinkat,
  prepWrite,
  prepWritev,
} from '../../generated/ops.js';
import type { Timespec } from '../abi/encode.js';
import { AT_FDCWD, FixedFile, type FdLike, type FileRef } from '../abi/fd.js';
import type { MsgHdr } from '../abi/msghdr.js';
import { OwnedFd } from '../abi/owned-fd.js';
import { ArgumentError, describeReceived } from '../errors.js';
import { createWaker, defaultWakerBackend, type Waker } from '../loop/waker.js';
import { decodeSockaddr, encodeSockaddr, SOCK_CLOEXEC, SOCKADDR_STORAGE_SIZE, type DecodedAddress, type SocketEndpoint } from '../net/sockaddr.js';
import type { BufferRing } from '../register/provided.js';
import { errorFromCqeRes, type IoUringError } from '../sys/errors.js';
import { closeFd, createEventfd, EFD_CLOEXEC, EFD_NONBLOCK, readEventfd } from '../sys/libc.js';
import { pipe2Sync } from '../sys/posix.js';
import { opNameOf } from '../ring/cqe.js';
import { ringClosedError } from '../ring/errors.js';
import type { CompletionHandler } from '../ring/op-table.js';
import { IoUring } from '../ring/ring.js';
import { FAST_SETUP, type IoUringOptions } from '../ring/setup.js';
import type { Sqe } from '../ring/sqe.js';
import { AbortError } from './abort.js';
import { AcceptMultishot, PollMultishot, RecvMultishot, type AcceptMultishotOptions, type MultishotOptions, type RecvMultishotOptions } from './multishot.js';
import { openFlagsOf, type OpenFlags } from './open-flags.js';
import { AT_EMPTY_PATH, AT_REMOVEDIR, AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS, STATX_BTIME, STATX_SIZE, Stats } from './statx.js';

export { AbortError };

const ECANCELED = -125;
const ENOENT = -2;
const EALREADY = -114;
const ETIME = -62;

/**
 * How a ring wakes Node's event loop: `'uv'` (a `uv_poll` through Node's own libuv, the
 * main thread's default), `'koffi'` (koffi's poll handle, the default in Workers) or
 * `'threadpool'` (an eventfd read in libuv's threadpool, the fallback).
 */
export type WakerKind = 'uv' | 'koffi' | 'threadpool';

/** Options of {@link AsyncIoUring}. */
export interface AsyncIoUringOptions extends IoUringOptions {
  /**
   * How the event loop is woken: `'auto'` (default: the `TSURING_WAKER` environment variable,
   * else the best this thread has), or a forced {@link WakerKind}.
   */
  waker?: WakerKind | 'auto' | undefined;
}

const OP_READ = IoringOp.READ;
const OP_WRITE = IoringOp.WRITE;
const OP_READV = IoringOp.READV;
const OP_WRITEV = IoringOp.WRITEV;
const OP_SEND = IoringOp.SEND;
const OP_RECV = IoringOp.RECV;
const OP_ACCEPT = IoringOp.ACCEPT;

/** Per-op options every Promise method takes. */
export interface OpOptions {
  /** Cancels the op (through `IORING_OP_ASYNC_CANCEL`); it then rejects with an `AbortError`. */
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

/** `POLLIN`: data to read (a `poll(2)` event bit, for {@link AsyncIoUring.poll}). */
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

/**
 * How an op's result becomes its promise's value.
 * @internal
 */
export const OpResult = Object.freeze({
  /** Resolve with `res`. */
  Res: 0,
  /** Resolve with `{ res, flags }`. */
  Cqe: 1,
  /** Resolve with `res`; on abort a non-negative `res` is a descriptor to close. */
  Fd: 2,
  /** Resolve with `undefined` (ops whose result is only success). */
  Void: 3,
} as const);
/** @internal */
export type OpResultKind = (typeof OpResult)[keyof typeof OpResult];
type Kind = OpResultKind;

/**
 * What the less common ops add to a pending op: a result mapping, a negative result that
 * counts as success, and the paths Node-style errors name. Never used on the hot path.
 * @internal
 */
export interface OpExtra {
  /** Turns the result into the promise's value (called for `res >= 0` and `okErr`). */
  map?: ((res: number, flags: number) => unknown) | undefined;
  /** A negative `res` that is the expected outcome (-ETIME for a timeout). */
  okErr?: number | undefined;
  /** Shown in the error message and set as `err.path`, as Node's fs errors do. */
  path?: string | undefined;
  /** The second path of a rename (`err.dest`). */
  dest?: string | undefined;
  /** Called on abort with a successful `res` the op produced anyway (e.g. close a pipe's fds). */
  onAbandoned?: ((res: number) => void) | undefined;
}

// One executor for every op's promise: it hands the resolving functions over through
// these two variables, so starting an op allocates no closure of its own.
let nextResolve: (value: unknown) => void = () => {};
let nextReject: (reason: unknown) => void = () => {};
function captureResolvers(resolve: (value: unknown) => void, reject: (reason: unknown) => void): void {
  nextResolve = resolve;
  nextReject = reject;
}

/**
 * Anything that can wait in the FIFO for room and then be started: a single-shot
 * {@link PendingOp} or a multishot iterator.
 * @internal
 */
export interface Startable extends CompletionHandler {
  /** Whether it has an SQE (false while it waits for room). */
  launched: boolean;
  /** Whether its final CQE arrived (or it was withdrawn). */
  done: boolean;
  /** Its op id once launched (for cancel). */
  id: number;
  /** Called when it can never start (the ring is closing, or `fill` refused its arguments). */
  reject(reason: unknown): void;
}

/** One single-shot op: the handler the ring calls with its CQE. */
class PendingOp implements Startable {
  readonly resolve: (value: unknown) => void;
  readonly reject: (reason: unknown) => void;
  readonly promise: Promise<unknown>;
  readonly kind: Kind;
  /** The opcode, for error messages (-1 until known for `submit`). */
  opcode: number;
  launched: boolean;
  /** Op id, taken only for ops that may need cancelling (they have a signal). */
  id: number;
  signal: AbortSignal | undefined;
  onAbort: (() => void) | undefined;
  aborted: boolean;
  done: boolean;
  extra: OpExtra | undefined;

  constructor(kind: Kind, opcode: number) {
    this.promise = new Promise(captureResolvers);
    this.resolve = nextResolve;
    this.reject = nextReject;
    this.kind = kind;
    this.opcode = opcode;
    this.launched = false;
    this.id = -1;
    this.signal = undefined;
    this.onAbort = undefined;
    this.aborted = false;
    this.done = false;
    this.extra = undefined;
  }

  complete(res: number, flags: number, final: boolean): void {
    if (!final) return;
    this.done = true;
    if (this.onAbort !== undefined) this.signal!.removeEventListener('abort', this.onAbort);
    const extra = this.extra;
    if (this.aborted) {
      // The op ran anyway (it won the race with its cancel): don't leak what it made.
      if (res >= 0) {
        if (this.kind === OpResult.Fd) closeQuietly(res);
        if (extra?.onAbandoned !== undefined) extra.onAbandoned(res);
      }
      this.reject(new AbortError(undefined, { cause: this.signal?.reason }));
      return;
    }
    if (extra === undefined) {
      if (res < 0) this.reject(errorFromCqeRes(res, opNameOf(this.opcode)));
      else this.resolve(this.kind === OpResult.Cqe ? { res, flags } : this.kind === OpResult.Void ? undefined : res);
      return;
    }
    if (res < 0 && res !== extra.okErr) {
      this.reject(opError(res, this.opcode, extra));
      return;
    }
    if (extra.map === undefined) {
      this.resolve(this.kind === OpResult.Cqe ? { res, flags } : this.kind === OpResult.Void ? undefined : res);
      return;
    }
    try {
      this.resolve(extra.map(res, flags));
    } catch (err) {
      this.reject(err);
    }
  }
}

/** A Node-style error naming the path(s), as `fs` errors do (`open 'x'`, `rename 'a' -> 'b'`). */
function opError(res: number, opcode: number, extra: OpExtra): IoUringError {
  if (extra.path === undefined) return errorFromCqeRes(res, opNameOf(opcode));
  const context = extra.dest === undefined ? `'${extra.path}'` : `'${extra.path}' -> '${extra.dest}'`;
  const err = errorFromCqeRes(res, opNameOf(opcode), context) as IoUringError & { path?: string; dest?: string };
  err.path = extra.path;
  if (extra.dest !== undefined) err.dest = extra.dest;
  return err;
}

function closeQuietly(fd: number): void {
  try {
    closeFd(fd);
  } catch {
    /* it was ours to close; nothing else can be done */
  }
}

/** A path argument as text for error messages. */
function pathText(path: unknown): string | undefined {
  if (typeof path === 'string') return path;
  if (path instanceof Uint8Array) return Buffer.from(path.buffer, path.byteOffset, path.byteLength).toString();
  return undefined;
}

/** An op waiting for room (backpressure) with what it needs to start later. */
interface Waiting {
  op: Startable;
  fill: (sqe: Sqe) => void;
}

/** A timespec from milliseconds or `{ sec, nsec }`. */
function timespecOf(time: unknown, argument: string): Timespec {
  if (typeof time === 'number') {
    if (!Number.isFinite(time) || time < 0) {
      throw new ArgumentError('ERR_OUT_OF_RANGE', argument, `expected a finite number of milliseconds ≥ 0, received ${describeReceived(time)}`);
    }
    const sec = Math.floor(time / 1000);
    const nsec = Math.min(999_999_999, Math.round((time - sec * 1000) * 1e6));
    return { sec, nsec };
  }
  if (time !== null && typeof time === 'object') return time as Timespec;
  throw new ArgumentError('ERR_INVALID_ARG_TYPE', argument, `expected milliseconds or { sec, nsec }, received ${describeReceived(time)}`);
}

function checkOptions(options: unknown, what: string): void {
  if (options !== undefined && (options === null || typeof options !== 'object')) {
    throw new ArgumentError('ERR_INVALID_ARG_TYPE', `${what}: options`, `expected an options object, received ${describeReceived(options)}`);
  }
}

function checkBooleanOption(value: unknown, argument: string): boolean {
  if (value === undefined) return false;
  if (typeof value !== 'boolean') throw new ArgumentError('ERR_INVALID_ARG_TYPE', argument, `expected a boolean, received ${describeReceived(value)}`);
  return value;
}

/**
 * An io_uring driven from Node's event loop: every method returns a Promise.
 *
 * ```ts
 * await using ring = new AsyncIoUring();
 * const fd = await ring.open('data.bin', 'r');
 * const n = await ring.read(fd, buf, 0);
 * await ring.closeFd(fd);
 * ```
 *
 * Descriptors: every method that takes a file takes a number, an {@link OwnedFd} (or any
 * `{ fd }` object) or, where the kernel allows it, a registered slot ({@link FixedFile}).
 */
export class AsyncIoUring implements AsyncDisposable {
  /** The underlying ring, for the raw API and registration. Don't close it directly. */
  readonly ring: IoUring;
  readonly #waker: Waker;
  /** The eventfd registered with the ring (-1: the waker watches the ring fd itself). */
  readonly #eventfd: number;
  /** An eventfd this object created (and must read on wake-up and close), or -1. */
  readonly #ownEventfd: number;
  #flushQueued = false;
  #closing: Promise<void> | undefined;
  #closed = false;
  readonly #waiting: Waiting[] = [];
  #waitingHead = 0;
  #referenced = false;
  /** Set while close() waits for in-flight ops to settle. */
  #onDrained: (() => void) | undefined;
  /** Called once when close() starts (multishot iterators end there). */
  readonly #closeHooks = new Set<() => void>();
  readonly #flushTask = (): void => this.#flush();
  /** Batches flushed from microtasks since the event loop last turned (see #queueFlush). */
  #batchesThisTurn = 0;
  #turnMarkQueued = false;
  readonly #turnMark = (): void => {
    this.#batchesThisTurn = 0;
    this.#turnMarkQueued = false;
  };

  /**
   * Creates the ring (by default with {@link FAST_SETUP} preferred: deferred task running
   * with a single issuer where the kernel has it) and its waker.
   */
  constructor(options: AsyncIoUringOptions = {}) {
    const { waker: backend, ...ringOptions } = options;
    if (ringOptions.registeredFdOnly === true) {
      throw new ArgumentError('ERR_INVALID_ARG_VALUE', 'AsyncIoUring: options.registeredFdOnly', 'a ring without an fd cannot wake the event loop; use IoUring directly');
    }
    if (ringOptions.sqPoll !== undefined && ringOptions.sqPoll !== false && ringOptions.prefer === undefined) {
      // SQPOLL excludes the task-run flags of FAST_SETUP; don't ask for them.
      ringOptions.prefer = ['submitAll', 'noSqArray'];
    }
    this.ring = new IoUring({ entries: 256, prefer: FAST_SETUP, ...ringOptions });
    let ownEventfd = -1;
    try {
      // With DEFER_TASKRUN, completions that arrive later (timers, sockets, pipes) wait as
      // deferred work that only makes the ring fd readable for poll(2), never for epoll,
      // which is what libuv uses. An eventfd registered with the ring is signalled for
      // them, so watch that instead (measured: epoll on the ring fd slept through a 20 ms
      // timeout; the eventfd woke it at 20 ms).
      const deferred = (this.ring.params.setupFlags & IORING_SETUP_DEFER_TASKRUN) !== 0;
      const requested = backend ?? 'auto';
      const threadpool = requested === 'threadpool' || (requested === 'auto' && defaultWakerBackend().backend === 'threadpool');
      if (deferred && !threadpool) ownEventfd = createEventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
      const watched = ownEventfd >= 0 ? ownEventfd : this.ring.fd;
      this.#waker = createWaker(watched, () => this.#onReady(), { backend: requested });
      const eventfd = ownEventfd >= 0 ? ownEventfd : this.#waker.eventfd;
      if (eventfd >= 0) this.ring.register(IORING_REGISTER_EVENTFD, new Int32Array([eventfd]), 1);
      this.#eventfd = eventfd;
      this.#ownEventfd = ownEventfd;
      this.#waker.arm();
      this.#waker.unref();
    } catch (err) {
      this.ring.close();
      if (ownEventfd >= 0) closeQuietly(ownEventfd);
      throw err;
    }
  }

  /** Which waker backend the ring uses. */
  get wakerBackend(): WakerKind {
    return this.#waker.backend;
  }

  /** Ops submitted and not yet completed, plus those waiting for room. */
  get pending(): number {
    return this.ring.inFlight + (this.#waiting.length - this.#waitingHead);
  }

  /** Ops waiting for room (backpressure): not yet handed to the kernel. */
  get waiting(): number {
    return this.#waiting.length - this.#waitingHead;
  }

  /** Whether `close()` has been called. */
  get closed(): boolean {
    return this.#closed || this.#closing !== undefined;
  }

  // -------------------------------------------------------------------------------------
  // Generic ops

  /**
   * Starts any op: `fill` gets the SQE and calls a `prep*` builder on it. Resolves with
   * `res` (a count, a descriptor, 0) or rejects with a Node-shaped error for a negative
   * `res`. For ops whose CQE flags matter (provided buffers), use {@link AsyncIoUring.submitCqe}.
   *
   * `fill` may run later than the call (when the op waits for room), and not at all if it
   * is aborted or the ring closes first. If it throws, the promise rejects with that error
   * and nothing is submitted.
   */
  submit(fill: (sqe: Sqe) => void, options?: OpOptions): Promise<number> {
    return this.start(OpResult.Res, -1, fill, options) as Promise<number>;
  }

  /** Like {@link AsyncIoUring.submit}, resolving with the whole completion (`res` and `flags`). */
  submitCqe(fill: (sqe: Sqe) => void, options?: OpOptions): Promise<Completion> {
    return this.start(OpResult.Cqe, -1, fill, options) as Promise<Completion>;
  }

  /**
   * Starts an op whose result is a new descriptor (open, accept, socket): on abort a
   * descriptor produced anyway is closed.
   */
  submitFd(fill: (sqe: Sqe) => void, options?: OpOptions): Promise<number> {
    return this.start(OpResult.Fd, -1, fill, options) as Promise<number>;
  }

  /** A no-op round trip through the kernel (`IORING_OP_NOP`). Resolves with 0. */
  nop(options?: OpOptions): Promise<number> {
    return this.start(OpResult.Res, 0, prepNop, options) as Promise<number>;
  }

  // -------------------------------------------------------------------------------------
  // Reads and writes (hot)

  /**
   * Reads into `buffer` from `fd` at `position` (-1: the file's current position, which
   * advances), like `fs.promises` `FileHandle.read`. Resolves with the bytes read (0 at end
   * of file). `buffer` stays referenced until the read completes.
   */
  read(fd: FileRef, buffer: ArrayBufferView, position: number | bigint = -1, options?: ReadWriteOptions): Promise<number> {
    if (this.#closing !== undefined || this.#closed) return Promise.reject(ringClosedError('AsyncIoUring.read'));
    const signal = options?.signal;
    if (signal === undefined && this.#waitingHead === this.#waiting.length) {
      // The common case without closures: an SQE now, no signal.
      const sqe = this.#acquire();
      if (sqe !== null) {
        try {
          prepRead(sqe, fd, buffer, options?.length ?? buffer.byteLength, position);
        } catch (err) {
          this.ring.discardSqe(sqe);
          return Promise.reject(err);
        }
        const op = new PendingOp(OpResult.Res, OP_READ);
        this.#launch(op, sqe, undefined);
        return op.promise as Promise<number>;
      }
    }
    return this.start(OpResult.Res, OP_READ, (sqe) => prepRead(sqe, fd, buffer, options?.length ?? buffer.byteLength, position), options) as Promise<number>;
  }

  /**
   * Writes `buffer` to `fd` at `position` (-1: the current position). Resolves with the
   * bytes written, which may be fewer than asked (as with write(2)).
   */
  write(fd: FileRef, buffer: ArrayBufferView, position: number | bigint = -1, options?: ReadWriteOptions): Promise<number> {
    if (this.#closing !== undefined || this.#closed) return Promise.reject(ringClosedError('AsyncIoUring.write'));
    const signal = options?.signal;
    if (signal === undefined && this.#waitingHead === this.#waiting.length) {
      const sqe = this.#acquire();
      if (sqe !== null) {
        try {
          prepWrite(sqe, fd, buffer, options?.length ?? buffer.byteLength, position);
        } catch (err) {
          this.ring.discardSqe(sqe);
          return Promise.reject(err);
        }
        const op = new PendingOp(OpResult.Res, OP_WRITE);
        this.#launch(op, sqe, undefined);
        return op.promise as Promise<number>;
      }
    }
    return this.start(OpResult.Res, OP_WRITE, (sqe) => prepWrite(sqe, fd, buffer, options?.length ?? buffer.byteLength, position), options) as Promise<number>;
  }

  /**
   * Reads into several buffers in order (preadv) at `position` (-1: the current position).
   * Resolves with the total bytes read.
   */
  readv(fd: FileRef, buffers: readonly ArrayBufferView[], position: number | bigint = -1, options?: OpOptions): Promise<number> {
    if (this.#closing !== undefined || this.#closed) return Promise.reject(ringClosedError('AsyncIoUring.readv'));
    if (options?.signal === undefined && this.#waitingHead === this.#waiting.length) {
      const sqe = this.#acquire();
      if (sqe !== null) {
        try {
          prepReadv(sqe, fd, buffers, position);
        } catch (err) {
          this.ring.discardSqe(sqe);
          return Promise.reject(err);
        }
        const op = new PendingOp(OpResult.Res, OP_READV);
        this.#launch(op, sqe, undefined);
        return op.promise as Promise<number>;
      }
    }
    return this.start(OpResult.Res, OP_READV, (sqe) => prepReadv(sqe, fd, buffers, position), options) as Promise<number>;
  }

  /** Writes several buffers in order (pwritev). Resolves with the total bytes written. */
  writev(fd: FileRef, buffers: readonly ArrayBufferView[], position: number | bigint = -1, options?: OpOptions): Promise<number> {
    if (this.#closing !== undefined || this.#closed) return Promise.reject(ringClosedError('AsyncIoUring.writev'));
    if (options?.signal === undefined && this.#waitingHead === this.#waiting.length) {
      const sqe = this.#acquire();
      if (sqe !== null) {
        try {
          prepWritev(sqe, fd, buffers, position);
        } catch (err) {
          this.ring.discardSqe(sqe);
          return Promise.reject(err);
        }
        const op = new PendingOp(OpResult.Res, OP_WRITEV);
        this.#launch(op, sqe, undefined);
        return op.promise as Promise<number>;
      }
    }
    return this.start(OpResult.Res, OP_WRITEV, (sqe) => prepWritev(sqe, fd, buffers, position), options) as Promise<number>;
  }

  // -------------------------------------------------------------------------------------
  // Sockets (hot: send, recv, accept)

  /** Sends `buffer` on a connected socket. Resolves with the bytes sent (maybe fewer than asked). */
  send(fd: FileRef, buffer: ArrayBufferView, options?: SendRecvOptions): Promise<number> {
    if (this.#closing !== undefined || this.#closed) return Promise.reject(ringClosedError('AsyncIoUring.send'));
    if (options?.signal === undefined && this.#waitingHead === this.#waiting.length) {
      const sqe = this.#acquire();
      if (sqe !== null) {
        try {
          prepSend(sqe, fd, buffer, options?.length ?? buffer.byteLength, options?.flags ?? 0);
        } catch (err) {
          this.ring.discardSqe(sqe);
          return Promise.reject(err);
        }
        const op = new PendingOp(OpResult.Res, OP_SEND);
        this.#launch(op, sqe, undefined);
        return op.promise as Promise<number>;
      }
    }
    return this.start(OpResult.Res, OP_SEND, (sqe) => prepSend(sqe, fd, buffer, options?.length ?? buffer.byteLength, options?.flags ?? 0), options) as Promise<number>;
  }

  /** Receives into `buffer` from a socket. Resolves with the bytes received (0: the peer closed its side). */
  recv(fd: FileRef, buffer: ArrayBufferView, options?: SendRecvOptions): Promise<number> {
    if (this.#closing !== undefined || this.#closed) return Promise.reject(ringClosedError('AsyncIoUring.recv'));
    if (options?.signal === undefined && this.#waitingHead === this.#waiting.length) {
      const sqe = this.#acquire();
      if (sqe !== null) {
        try {
          prepRecv(sqe, fd, buffer, options?.length ?? buffer.byteLength, options?.flags ?? 0);
        } catch (err) {
          this.ring.discardSqe(sqe);
          return Promise.reject(err);
        }
        const op = new PendingOp(OpResult.Res, OP_RECV);
        this.#launch(op, sqe, undefined);
        return op.promise as Promise<number>;
      }
    }
    return this.start(OpResult.Res, OP_RECV, (sqe) => prepRecv(sqe, fd, buffer, options?.length ?? buffer.byteLength, options?.flags ?? 0), options) as Promise<number>;
  }

  /**
   * Accepts one connection on a listening socket. Resolves with the new descriptor (yours
   * to close), or with `{ fd, peer }` when `options.peer` is true. On abort a connection
   * accepted anyway is closed.
   */
  accept(fd: FileRef, options: AcceptOptions & { peer: true }): Promise<Accepted>;
  accept(fd: FileRef, options?: AcceptOptions): Promise<number>;
  accept(fd: FileRef, options?: AcceptOptions): Promise<number | Accepted> {
    if (this.#closing !== undefined || this.#closed) return Promise.reject(ringClosedError('AsyncIoUring.accept'));
    if (options?.peer === true) {
      const addr = new Uint8Array(SOCKADDR_STORAGE_SIZE);
      const extra: OpExtra = { map: (res) => ({ fd: res, peer: decodeSockaddr(addr) }) };
      return this.start(OpResult.Fd, OP_ACCEPT, (sqe) => prepAccept(sqe, fd, addr, options.flags ?? SOCK_CLOEXEC), options, extra) as Promise<Accepted>;
    }
    if (options?.signal === undefined && this.#waitingHead === this.#waiting.length) {
      const sqe = this.#acquire();
      if (sqe !== null) {
        try {
          prepAccept(sqe, fd, null, options?.flags ?? SOCK_CLOEXEC);
        } catch (err) {
          this.ring.discardSqe(sqe);
          return Promise.reject(err);
        }
        const op = new PendingOp(OpResult.Fd, OP_ACCEPT);
        this.#launch(op, sqe, undefined);
        return op.promise as Promise<number>;
      }
    }
    return this.start(OpResult.Fd, OP_ACCEPT, (sqe) => prepAccept(sqe, fd, null, options?.flags ?? SOCK_CLOEXEC), options) as Promise<number>;
  }

  /**
   * Connects a socket to `{ address, port }` (IPv4 or IPv6 text; no name resolution) or a
   * `net.SocketAddress`. Resolves once connected.
   */
  connect(fd: FileRef, address: SocketEndpoint | SocketAddress, options?: OpOptions): Promise<void> {
    let addr: Uint8Array;
    try {
      addr = encodeSockaddr(address, 'AsyncIoUring.connect: address');
    } catch (err) {
      return Promise.reject(err);
    }
    return this.start(OpResult.Void, IoringOp.CONNECT, (sqe) => prepConnect(sqe, fd, addr), options) as Promise<never>;
  }

  /** Sends the buffers a {@link MsgHdr} describes (to its `name`, if any). Resolves with the bytes sent. */
  sendmsg(fd: FileRef, msg: MsgHdr, options?: MsgOptions): Promise<number> {
    return this.start(OpResult.Res, IoringOp.SENDMSG, (sqe) => prepSendmsg(sqe, fd, msg, options?.flags ?? 0), options) as Promise<number>;
  }

  /**
   * Receives into the buffers a {@link MsgHdr} describes. Resolves with the bytes received;
   * then `msg.nameLength`, `msg.controlLength` and `msg.flags` hold what the kernel wrote.
   * Don't start two receives on one MsgHdr at once.
   */
  recvmsg(fd: FileRef, msg: MsgHdr, options?: MsgOptions): Promise<number> {
    return this.start(OpResult.Res, IoringOp.RECVMSG, (sqe) => prepRecvmsg(sqe, fd, msg, options?.flags ?? 0), options) as Promise<number>;
  }

  /** Shuts down one or both directions of a connection (`'read'`, `'write'`, `'both'`, or SHUT_* numbers). */
  shutdown(fd: FileRef, how: ShutdownHow = 'both', options?: OpOptions): Promise<void> {
    const value = how === 'read' ? 0 : how === 'write' ? 1 : how === 'both' ? 2 : how;
    if (value !== 0 && value !== 1 && value !== 2) {
      return Promise.reject(new ArgumentError('ERR_INVALID_ARG_VALUE', 'AsyncIoUring.shutdown: how', `expected 'read', 'write', 'both' or 0 to 2, received ${describeReceived(how)}`));
    }
    return this.start(OpResult.Void, IoringOp.SHUTDOWN, (sqe) => prepShutdown(sqe, fd, value), options) as Promise<never>;
  }

  /**
   * Creates a socket (socket(2): `AF_*`, `SOCK_*` with optional `SOCK_CLOEXEC` /
   * `SOCK_NONBLOCK` bits, protocol). Resolves with its descriptor (yours to close).
   */
  socket(domain: number, type: number, protocol = 0, options?: OpOptions): Promise<number> {
    return this.start(OpResult.Fd, IoringOp.SOCKET, (sqe) => prepSocket(sqe, domain, type, protocol), options) as Promise<number>;
  }

  /**
   * Accepts connections as they come, as an async iterator of {@link OwnedFd}s (one
   * multishot `ACCEPT`, re-armed if the kernel ends it). See {@link AcceptMultishot} for
   * backpressure and how it ends.
   */
  acceptMultishot(fd: FileRef, options?: AcceptMultishotOptions): AcceptMultishot {
    return new AcceptMultishot(this, fd, options);
  }

  /**
   * Receives as data comes, as an async iterator of chunks, with one multishot `RECV`
   * picking buffers from `buffers` (a {@link BufferRing} on this ring). By default each
   * chunk is a view into the buffer ring, valid until you ask for the next chunk; see
   * {@link RecvMultishot}. Ends (done) when the peer closes its side.
   */
  recvMultishot(fd: FileRef, buffers: BufferRing, options?: RecvMultishotOptions): RecvMultishot {
    return new RecvMultishot(this, fd, buffers, options);
  }

  // -------------------------------------------------------------------------------------
  // Files

  /** Flushes a file's data and metadata to storage (`{ datasync: true }`: fdatasync). */
  fsync(fd: FileRef, options?: FsyncOptions): Promise<void> {
    let flags: number;
    try {
      checkOptions(options, 'AsyncIoUring.fsync');
      flags = checkBooleanOption(options?.datasync, 'AsyncIoUring.fsync: options.datasync') ? IORING_FSYNC_DATASYNC : 0;
    } catch (err) {
      return Promise.reject(err);
    }
    return this.start(OpResult.Void, IoringOp.FSYNC, (sqe) => prepFsync(sqe, fd, flags), options) as Promise<never>;
  }

  /** Allocates (or, with `FALLOC_FL_*` modes, punches or zeroes) a byte range of a file (fallocate(2)). */
  fallocate(fd: FileRef, mode: number, offset: number | bigint, length: number | bigint, options?: OpOptions): Promise<void> {
    return this.start(OpResult.Void, IoringOp.FALLOCATE, (sqe) => prepFallocate(sqe, fd, mode, offset, length), options) as Promise<never>;
  }

  /**
   * Opens `path` relative to the directory `dirfd` (`AT_FDCWD`: the current directory).
   * `flags` is one of Node's strings (`'r'`, `'w'`, `'a+'`, `'wx'`, ...; `O_CLOEXEC` is
   * added, as Node does) or `O_*` bits passed on as given. Resolves with the descriptor.
   */
  openat(dirfd: number | FdLike, path: string | Uint8Array, flags: OpenFlags = 'r', mode = 0o666, options?: OpOptions): Promise<number> {
    let oflags: number;
    try {
      oflags = openFlagsOf(flags, 'AsyncIoUring.open: flags');
    } catch (err) {
      return Promise.reject(err);
    }
    return this.start(OpResult.Fd, IoringOp.OPENAT, (sqe) => prepOpenat(sqe, dirfd, path, oflags, mode), options, { path: pathText(path) }) as Promise<number>;
  }

  /** {@link AsyncIoUring.openat} from the current directory: like `fs.open`, resolving with the descriptor. */
  open(path: string | Uint8Array, flags: OpenFlags = 'r', mode = 0o666, options?: OpOptions): Promise<number> {
    return this.openat(AT_FDCWD, path, flags, mode, options);
  }

  /** {@link AsyncIoUring.open} resolving with an {@link OwnedFd}, which closes its descriptor once (`using`). */
  openOwned(path: string | Uint8Array, flags: OpenFlags = 'r', mode = 0o666, options?: OpOptions): Promise<OwnedFd> {
    let oflags: number;
    try {
      oflags = openFlagsOf(flags, 'AsyncIoUring.openOwned: flags');
    } catch (err) {
      return Promise.reject(err);
    }
    const extra: OpExtra = { path: pathText(path), map: (res) => new OwnedFd(res) };
    return this.start(OpResult.Fd, IoringOp.OPENAT, (sqe) => prepOpenat(sqe, AT_FDCWD, path, oflags, mode), options, extra) as Promise<OwnedFd>;
  }

  /**
   * Closes a descriptor through the ring: a number, an {@link OwnedFd} (marked closed at
   * once, so it is never closed twice), or a registered slot ({@link FixedFile}, emptied with
   * `close_direct`). Named `closeFd` because `close()` closes the ring.
   */
  closeFd(fd: number | FdLike | FixedFile, options?: OpOptions): Promise<void> {
    if (fd instanceof FixedFile) {
      const index = fd.index;
      return this.start(OpResult.Void, IoringOp.CLOSE, (sqe) => prepCloseDirect(sqe, index), options) as Promise<never>;
    }
    if (fd instanceof OwnedFd) {
      if (this.closed) return Promise.reject(ringClosedError('AsyncIoUring.closeFd'));
      let n: number;
      try {
        n = fd.release();
      } catch (err) {
        return Promise.reject(err);
      }
      return this.start(OpResult.Void, IoringOp.CLOSE, (sqe) => prepClose(sqe, n), options) as Promise<never>;
    }
    return this.start(OpResult.Void, IoringOp.CLOSE, (sqe) => prepClose(sqe, fd), options) as Promise<never>;
  }

  /**
   * `statx(2)`: the status of `path` relative to `dirfd`, as a {@link Stats}. `flags` are
   * `AT_*` bits, `mask` the `STATX_*` fields wanted (default: everything `stat` reports and
   * the birth time).
   */
  statx(dirfd: number | FdLike, path: string | Uint8Array, flags = 0, mask = STATX_BASIC_STATS | STATX_BTIME, options?: OpOptions): Promise<Stats> {
    const buf = new Uint8Array(STATX_SIZE);
    const extra: OpExtra = { path: pathText(path), map: () => new Stats(buf) };
    return this.start(OpResult.Res, IoringOp.STATX, (sqe) => prepStatx(sqe, dirfd, path, flags, mask, buf), options, extra) as Promise<Stats>;
  }

  /** Like `fs.promises.stat` (or `lstat` with `{ followSymlinks: false }`). */
  stat(path: string | Uint8Array, options?: StatOptions): Promise<Stats> {
    let flags: number;
    try {
      checkOptions(options, 'AsyncIoUring.stat');
      const follow = options?.followSymlinks;
      if (follow !== undefined && typeof follow !== 'boolean') {
        throw new ArgumentError('ERR_INVALID_ARG_TYPE', 'AsyncIoUring.stat: options.followSymlinks', `expected a boolean, received ${describeReceived(follow)}`);
      }
      flags = follow === false ? AT_SYMLINK_NOFOLLOW : 0;
    } catch (err) {
      return Promise.reject(err);
    }
    return this.statx(AT_FDCWD, path, flags, undefined, options);
  }

  /** Like `fs.promises.lstat`: a symbolic link reports itself. */
  lstat(path: string | Uint8Array, options?: OpOptions): Promise<Stats> {
    return this.statx(AT_FDCWD, path, AT_SYMLINK_NOFOLLOW, undefined, options);
  }

  /** Like `fs.fstat`: the status of an open descriptor (statx with `AT_EMPTY_PATH`). */
  fstat(fd: number | FdLike, options?: OpOptions): Promise<Stats> {
    const buf = new Uint8Array(STATX_SIZE);
    const extra: OpExtra = { map: () => new Stats(buf) };
    return this.start(OpResult.Res, IoringOp.STATX, (sqe) => prepStatx(sqe, fd, '', AT_EMPTY_PATH, STATX_BASIC_STATS | STATX_BTIME, buf), options, extra) as Promise<Stats>;
  }

  /** `unlinkat(2)`: removes a file, or with `AT_REMOVEDIR` an empty directory. */
  unlinkat(dirfd: number | FdLike, path: string | Uint8Array, flags = 0, options?: OpOptions): Promise<void> {
    return this.start(OpResult.Void, IoringOp.UNLINKAT, (sqe) => prepUnlinkat(sqe, dirfd, path, flags), options, { path: pathText(path) }) as Promise<never>;
  }

  /** Like `fs.promises.unlink`. */
  unlink(path: string | Uint8Array, options?: OpOptions): Promise<void> {
    return this.unlinkat(AT_FDCWD, path, 0, options);
  }

  /** Like `fs.promises.rmdir` (the directory must be empty). */
  rmdir(path: string | Uint8Array, options?: OpOptions): Promise<void> {
    return this.unlinkat(AT_FDCWD, path, AT_REMOVEDIR, options);
  }

  /** `renameat2(2)`; `flags`: `RENAME_NOREPLACE`, `RENAME_EXCHANGE`, ... */
  renameat(oldDirfd: number | FdLike, oldPath: string | Uint8Array, newDirfd: number | FdLike, newPath: string | Uint8Array, flags = 0, options?: OpOptions): Promise<void> {
    const extra: OpExtra = { path: pathText(oldPath), dest: pathText(newPath) };
    return this.start(OpResult.Void, IoringOp.RENAMEAT, (sqe) => prepRenameat(sqe, oldDirfd, oldPath, newDirfd, newPath, flags), options, extra) as Promise<never>;
  }

  /** Like `fs.promises.rename`. */
  rename(oldPath: string | Uint8Array, newPath: string | Uint8Array, options?: OpOptions): Promise<void> {
    return this.renameat(AT_FDCWD, oldPath, AT_FDCWD, newPath, 0, options);
  }

  /** `mkdirat(2)`. */
  mkdirat(dirfd: number | FdLike, path: string | Uint8Array, mode = 0o777, options?: OpOptions): Promise<void> {
    return this.start(OpResult.Void, IoringOp.MKDIRAT, (sqe) => prepMkdirat(sqe, dirfd, path, mode), options, { path: pathText(path) }) as Promise<never>;
  }

  /** Like `fs.promises.mkdir` (one level; no `recursive`). */
  mkdir(path: string | Uint8Array, mode = 0o777, options?: OpOptions): Promise<void> {
    return this.mkdirat(AT_FDCWD, path, mode, options);
  }

  /**
   * Moves up to `nbytes` between two descriptors, one of them a pipe (splice(2)); an offset
   * of -1 uses (and advances) the file's position, and must be -1 for the pipe. Resolves with
   * the bytes moved (0 at the end of the input).
   */
  splice(fdIn: FileRef, offIn: number | bigint, fdOut: FileRef, offOut: number | bigint, nbytes: number, options?: SpliceOptions): Promise<number> {
    return this.start(OpResult.Res, IoringOp.SPLICE, (sqe) => prepSplice(sqe, fdIn, offIn, fdOut, offOut, nbytes, options?.flags ?? 0), options) as Promise<number>;
  }

  /**
   * Creates a pipe (`IORING_OP_PIPE`, Linux 6.16; on older kernels `pipe2(2)`). Resolves with
   * `[readEnd, writeEnd]` (yours to close). `flags`: `O_CLOEXEC` (default), `O_NONBLOCK`, `O_DIRECT`.
   */
  pipe(flags = 0o2000000, options?: OpOptions): Promise<[number, number]> {
    // No IORING_OP_PIPE (before 6.16): pipe2(2), which never blocks, called when a NOP completes,
    // so the promise keeps an op's order, abort and closed-ring behaviour; an aborted one makes no pipe.
    if (!this.ring.probe.supports('PIPE')) return this.start(OpResult.Res, IoringOp.NOP, prepNop, options, { map: () => pipe2Sync(flags) }) as Promise<[number, number]>;
    const fds = new Int32Array(2);
    const extra: OpExtra = {
      map: () => [fds[0]!, fds[1]!],
      onAbandoned: () => {
        closeQuietly(fds[0]!);
        closeQuietly(fds[1]!);
      },
    };
    return this.start(OpResult.Res, IoringOp.PIPE, (sqe) => prepPipe(sqe, fds, flags), options, extra) as Promise<[number, number]>;
  }

  // -------------------------------------------------------------------------------------
  // Time and readiness

  /**
   * Resolves after `time` (milliseconds, or `{ sec, nsec }`): the kernel's `-ETIME`, the
   * expected end of a timeout, is success here. With `{ absolute: true }` the time is a
   * point on `clock` (`'monotonic'` by default: `CLOCK_MONOTONIC`'s reading, not the epoch).
   */
  timeout(time: number | Timespec, options?: TimeoutOptions): Promise<void> {
    let ts: Timespec;
    let flags = 0;
    try {
      checkOptions(options, 'AsyncIoUring.timeout');
      ts = timespecOf(time, 'AsyncIoUring.timeout: time');
      if (checkBooleanOption(options?.absolute, 'AsyncIoUring.timeout: options.absolute')) flags |= IORING_TIMEOUT_ABS;
      const clock = options?.clock;
      if (clock === 'boottime') flags |= IORING_TIMEOUT_BOOTTIME;
      else if (clock === 'realtime') flags |= IORING_TIMEOUT_REALTIME;
      else if (clock !== undefined && clock !== 'monotonic') {
        throw new ArgumentError('ERR_INVALID_ARG_VALUE', 'AsyncIoUring.timeout: options.clock', `expected 'monotonic', 'boottime' or 'realtime', received ${describeReceived(clock)}`);
      }
    } catch (err) {
      return Promise.reject(err);
    }
    return this.start(OpResult.Res, IoringOp.TIMEOUT, (sqe) => prepTimeout(sqe, ts, 0, flags), options, TIMEOUT_EXTRA) as Promise<void>;
  }

  /**
   * Waits until `fd` is ready for `events` (`POLLIN`, `POLLOUT`, ... bits). Resolves with
   * the `revents` mask that fired (which may include `POLLERR` / `POLLHUP`).
   */
  poll(fd: FileRef, events: number, options?: OpOptions): Promise<number> {
    return this.start(OpResult.Res, IoringOp.POLL_ADD, (sqe) => prepPollAdd(sqe, fd, events), options) as Promise<number>;
  }

  /**
   * Reports readiness as it happens, as an async iterator of `revents` masks (one multishot
   * `POLL_ADD`, level-triggered by the kernel's rules for multishot poll: one event per
   * wake-up of the file).
   */
  pollMultishot(fd: FileRef, events: number, options?: MultishotOptions): PollMultishot {
    return new PollMultishot(this, fd, events, options);
  }

  // -------------------------------------------------------------------------------------
  // The common path

  /**
   * @internal The common path of every Promise method. `fill` writes the SQE and may
   * throw (bad arguments): the promise then rejects and nothing is submitted.
   */
  start(kind: Kind, opcode: number, fill: (sqe: Sqe) => void, options: OpOptions | undefined, extra?: OpExtra): Promise<unknown> {
    if (this.#closing !== undefined || this.#closed) return Promise.reject(ringClosedError('AsyncIoUring'));
    const signal = options?.signal;
    if (signal !== undefined) {
      if (!(signal instanceof AbortSignal)) {
        return Promise.reject(new ArgumentError('ERR_INVALID_ARG_TYPE', 'options.signal', `expected an AbortSignal, received ${describeReceived(signal)}`));
      }
      if (signal.aborted) return Promise.reject(new AbortError(undefined, { cause: signal.reason }));
    }
    const op = new PendingOp(kind, opcode);
    if (extra !== undefined) op.extra = extra;
    if (this.#waitingHead !== this.#waiting.length) {
      // Others are already waiting for room: keep FIFO order.
      return this.#enqueue(op, fill, signal);
    }
    const sqe = this.#acquire();
    if (sqe === null) return this.#enqueue(op, fill, signal);
    try {
      fill(sqe);
    } catch (err) {
      this.ring.discardSqe(sqe);
      return Promise.reject(err);
    }
    if (opcode < 0) op.opcode = sqe.view.getUint8(sqe.offset);
    this.#launch(op, sqe, signal);
    return op.promise;
  }

  /**
   * @internal Starts a long-lived handler (a multishot op): now if there is room, else
   * after the ops already waiting. Throws (synchronously) if the ring is closed or `fill`
   * refuses its arguments right away; a `fill` that fails later calls `handler.reject`.
   */
  launchHandler(handler: Startable, fill: (sqe: Sqe) => void): void {
    if (this.#closing !== undefined || this.#closed) throw ringClosedError('AsyncIoUring');
    handler.launched = false;
    handler.done = false;
    handler.id = -1;
    if (this.#waitingHead === this.#waiting.length) {
      const sqe = this.#acquire();
      if (sqe !== null) {
        try {
          fill(sqe);
        } catch (err) {
          this.ring.discardSqe(sqe);
          handler.done = true;
          throw err;
        }
        handler.launched = true;
        handler.id = sqe.id;
        this.ring.setHandler(sqe, handler);
        this.#queueFlush();
        return;
      }
    }
    this.#waiting.push({ op: handler, fill });
    this.#setReferenced(true);
  }

  /**
   * @internal Stops a handler: withdraws it if it still waits for room (returns false: no
   * CQE will come), else cancels it by id (returns true: its final CQE will come).
   */
  cancelHandler(handler: Startable): boolean {
    if (handler.done) return false;
    if (!handler.launched) {
      handler.done = true;
      this.#removeWaiting(handler);
      return false;
    }
    if (!this.#closed) this.#startCancel(handler.id);
    return true;
  }

  /** @internal Calls `hook` once when `close()` starts (until removed). */
  addCloseHook(hook: () => void): void {
    this.#closeHooks.add(hook);
  }

  /** @internal */
  removeCloseHook(hook: () => void): void {
    this.#closeHooks.delete(hook);
  }

  /** An SQE, submitting what is staged if only the SQ is full; null when maxInFlight is reached. */
  #acquire(): Sqe | null {
    let sqe = this.ring.getSqe();
    if (sqe === null && this.ring.staged > 0 && this.ring.inFlight < this.ring.params.maxInFlight) {
      this.#flush();
      sqe = this.ring.getSqe();
    }
    return sqe;
  }

  #launch(op: PendingOp, sqe: Sqe, signal: AbortSignal | undefined): void {
    op.launched = true;
    this.ring.setHandler(sqe, op);
    if (signal !== undefined) {
      op.id = sqe.id;
      this.#watchSignal(op, signal);
    }
    if (!this.#flushQueued) this.#queueFlush();
  }

  /**
   * Schedules the submission of what is staged: from a microtask, so every op started in
   * this turn goes in one `io_uring_enter`. Ops that complete inline (page-cache reads)
   * resolve at once, and code awaiting them in a loop would start the next batch from a
   * microtask again, and so on, never letting the event loop turn. So after
   * {@link MAX_BATCHES_PER_TURN} batches without a turn, the next one waits for
   * `setImmediate`: timers and I/O get their turn, at the cost of one macrotask per
   * that many batches.
   */
  #queueFlush(): void {
    if (this.#flushQueued) return;
    this.#flushQueued = true;
    if (!this.#turnMarkQueued) {
      this.#turnMarkQueued = true;
      setImmediate(this.#turnMark);
    }
    if (++this.#batchesThisTurn > MAX_BATCHES_PER_TURN) setImmediate(this.#flushTask);
    else queueMicrotask(this.#flushTask);
  }

  #enqueue(op: PendingOp, fill: (sqe: Sqe) => void, signal: AbortSignal | undefined): Promise<unknown> {
    this.#waiting.push({ op, fill });
    if (signal !== undefined) this.#watchSignal(op, signal);
    this.#setReferenced(true);
    return op.promise;
  }

  #watchSignal(op: PendingOp, signal: AbortSignal): void {
    op.signal = signal;
    op.onAbort = () => this.#abort(op);
    signal.addEventListener('abort', op.onAbort, { once: true });
  }

  #abort(op: PendingOp): void {
    if (op.done || op.aborted) return;
    op.aborted = true;
    if (!op.launched) {
      // Still waiting for room: it never reached the kernel.
      op.done = true;
      this.#removeWaiting(op);
      op.reject(new AbortError(undefined, { cause: op.signal?.reason }));
      return;
    }
    // In the kernel (or about to be): cancel by id. The op's own CQE settles it.
    this.#startCancel(op.id);
  }

  #removeWaiting(op: Startable): void {
    const i = this.#waiting.findIndex((w, k) => k >= this.#waitingHead && w.op === op);
    if (i >= 0) this.#waiting.splice(i, 1);
    this.#setReferenced(this.pending > 0);
  }

  #startCancel(targetId: number): void {
    const sqe = this.ring.getSqe() ?? (this.#flushIfStaged() ? this.ring.getSqe() : null);
    if (sqe === null) {
      // No room even for a cancel: retry once completions free some. Nobody awaits a cancel
      // (its target settles by its own CQE), so it waits as a handler without a promise: a
      // rejected promise no one observes would be an unhandled rejection.
      this.#waiting.push({ op: new QueuedCancel(), fill: (s) => prepCancel(s, targetId) });
      this.#setReferenced(true);
      return;
    }
    prepCancel(sqe, targetId);
    this.ring.setHandler(sqe, cancelSink);
    this.#queueFlush();
  }

  #flushIfStaged(): boolean {
    if (this.ring.staged === 0) return false;
    this.#flush();
    return true;
  }

  // -------------------------------------------------------------------------------------
  // Submitting and reaping

  #flush(): void {
    this.#flushQueued = false;
    if (this.ring.closed) return;
    if (this.ring.staged > 0) {
      try {
        this.ring.submit();
      } catch (err) {
        // The kernel refused the whole enter (e.g. EBUSY under CQ pressure): the SQEs stay
        // queued in the SQ; reaping makes room and the next flush resubmits them.
        if (!isTransient(err)) throw err;
      }
    }
    this.#reapAndRefill();
  }

  #onReady(): void {
    if (this.ring.closed) return;
    // Level-triggered: the eventfd stays readable until its counter is read.
    if (this.#ownEventfd >= 0) readEventfd(this.#ownEventfd);
    this.#reapAndRefill();
  }

  #reapAndRefill(): void {
    // Ops that completed inline during submit, or since the waker fired.
    this.ring.forEachCqe();
    this.#startWaiting();
    const pending = this.pending;
    this.#setReferenced(pending > 0);
    if (pending === 0 && this.#onDrained !== undefined) this.#onDrained();
  }

  /** Starts waiting ops while there is room. */
  #startWaiting(): void {
    const waiting = this.#waiting;
    let started = false;
    while (this.#waitingHead < waiting.length) {
      const next = waiting[this.#waitingHead]!;
      if (next.op.done) {
        this.#waitingHead++;
        continue;
      }
      const sqe = this.ring.getSqe();
      if (sqe === null) break;
      this.#waitingHead++;
      try {
        next.fill(sqe);
      } catch (err) {
        this.ring.discardSqe(sqe);
        next.op.done = true;
        next.op.reject(err);
        continue;
      }
      const op = next.op;
      op.launched = true;
      op.id = sqe.id;
      if (op instanceof PendingOp && op.opcode < 0) op.opcode = sqe.view.getUint8(sqe.offset);
      this.ring.setHandler(sqe, op);
      started = true;
    }
    if (this.#waitingHead === waiting.length) {
      waiting.length = 0;
      this.#waitingHead = 0;
    } else if (this.#waitingHead > 1024 && this.#waitingHead * 2 > waiting.length) {
      waiting.splice(0, this.#waitingHead);
      this.#waitingHead = 0;
    }
    if (started) this.#queueFlush();
  }

  #setReferenced(on: boolean): void {
    if (on === this.#referenced || this.#waker.closed) return;
    this.#referenced = on;
    if (on) this.#waker.ref();
    else this.#waker.unref();
  }

  // -------------------------------------------------------------------------------------
  // Close

  /**
   * Rejects ops still waiting for room, cancels what is in flight and waits (without
   * blocking the event loop) until the kernel has finished with every buffer, then closes
   * the ring. In-flight ops settle first: cancelled ones reject with ECANCELED, ones that
   * completed meanwhile resolve normally; multishot iterators end (done). Idempotent;
   * resolves when done.
   */
  close(): Promise<void> {
    this.#closing ??= this.#doClose();
    return this.#closing;
  }

  /** Same as {@link AsyncIoUring.close}, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  async #doClose(): Promise<void> {
    for (const hook of [...this.#closeHooks]) {
      try {
        hook();
      } catch (err) {
        queueMicrotask(() => {
          throw err;
        });
      }
    }
    this.#closeHooks.clear();
    const closedError = ringClosedError('AsyncIoUring');
    for (let i = this.#waitingHead; i < this.#waiting.length; i++) {
      const { op } = this.#waiting[i]!;
      if (op.done) continue;
      op.done = true;
      op.reject(closedError);
    }
    this.#waiting.length = 0;
    this.#waitingHead = 0;
    if (this.ring.staged > 0) this.#flush();
    if (this.ring.inFlight > 0) {
      this.#setReferenced(true);
      const drained = new Promise<void>((resolve) => {
        this.#onDrained = resolve;
      });
      const sqe = this.ring.getSqe();
      if (sqe !== null) {
        // ANY | ALL: every op of this ring, whatever its id (the id is ignored).
        prepCancel(sqe, 0, IORING_ASYNC_CANCEL_ANY | IORING_ASYNC_CANCEL_ALL);
        this.ring.setHandler(sqe, cancelSink);
        this.#flush();
      }
      // The raw ring's close() would wait out stragglers too, but blocking the loop.
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([drained, new Promise<void>((resolve) => { timer = setTimeout(resolve, 10_000); })]);
      clearTimeout(timer);
      this.#onDrained = undefined;
    }
    this.#closed = true;
    if (this.#eventfd >= 0) {
      try {
        this.ring.register(IORING_UNREGISTER_EVENTFD, null, 0);
      } catch {
        /* closing the ring drops it anyway */
      }
    }
    this.#waker.close();
    this.ring.close();
    if (this.#ownEventfd >= 0) closeQuietly(this.#ownEventfd);
  }
}

/** Batches submitted from microtasks before the event loop must turn (see `#queueFlush`). */
const MAX_BATCHES_PER_TURN = 64;

/** A timeout's expiry (-ETIME) is its success; it resolves with nothing. */
const TIMEOUT_EXTRA: OpExtra = Object.freeze({ okErr: ETIME, map: () => undefined });

/** Handler for cancel ops we start ourselves: their result only matters to the target. */
const cancelSink: CompletionHandler = {
  complete(res: number): void {
    // 0: cancelled; ENOENT: already done; EALREADY: running, will complete on its own.
    if (res < 0 && res !== ENOENT && res !== EALREADY && res !== ECANCELED) {
      process.emitWarning(`tsuring: a cancel request failed with ${res}`, { code: 'TSURING_CANCEL_FAILED' });
    }
  },
};

/** A cancel waiting for room: {@link cancelSink}'s handling, as a {@link Startable}. */
class QueuedCancel implements Startable {
  launched = false;
  done = false;
  id = -1;
  complete(res: number, flags: number, final: boolean, slot: number): void {
    if (final) this.done = true;
    cancelSink.complete(res, flags, final, slot);
  }
  reject(): void {
    // Never started (the ring is closing): its target is cancelled by close() anyway.
    this.done = true;
  }
}

function isTransient(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === 'EBUSY' || code === 'EAGAIN';
}

