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
 *
 * @module
 */
import {
  IORING_ASYNC_CANCEL_ALL,
  IORING_ASYNC_CANCEL_ANY,
  IORING_OP_ASYNC_CANCEL,
  IORING_REGISTER_EVENTFD,
  IORING_SETUP_DEFER_TASKRUN,
  IORING_UNREGISTER_EVENTFD,
  IoringOp,
} from '../../generated/constants.js';
import { prepCancel, prepNop, prepRead, prepWrite } from '../../generated/ops.js';
import type { FileRef } from '../abi/fd.js';
import { ArgumentError, describeReceived } from '../errors.js';
import { createWaker, defaultWakerBackend, type Waker, type WakerBackend } from '../loop/waker.js';
import { errorFromCqeRes } from '../sys/errors.js';
import { closeFd, createEventfd, EFD_CLOEXEC, EFD_NONBLOCK, readEventfd } from '../sys/libc.js';
import { opNameOf } from '../ring/cqe.js';
import { ringClosedError } from '../ring/errors.js';
import type { CompletionHandler } from '../ring/op-table.js';
import { IoUring } from '../ring/ring.js';
import { FAST_SETUP, type IoUringOptions } from '../ring/setup.js';
import type { Sqe } from '../ring/sqe.js';

const ECANCELED = -125;
const ENOENT = -2;
const EALREADY = -114;

/** Options of {@link AsyncIoUring}. */
export interface AsyncIoUringOptions extends IoUringOptions {
  /**
   * How the event loop is woken: `'auto'` (default), or a forced backend
   * (`'uv'`, `'koffi'`, `'threadpool'`), see `createWaker`.
   */
  waker?: WakerBackend | 'auto';
}

const OP_READ = IoringOp.READ;
const OP_WRITE = IoringOp.WRITE;

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

/** What a completed op reports: its result and CQE flags (buffer id, `F_MORE`, ...). */
export interface Completion {
  readonly res: number;
  readonly flags: number;
}

/**
 * Node's `AbortError` shape (`name` 'AbortError', `code` 'ABORT_ERR'), with the signal's
 * reason as `cause`.
 */
export class AbortError extends Error {
  readonly code = 'ABORT_ERR';
  constructor(message = 'The operation was aborted', options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'AbortError';
  }
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
} as const);
/** @internal */
export type OpResultKind = (typeof OpResult)[keyof typeof OpResult];
type Kind = OpResultKind;

// One executor for every op's promise: it hands the resolving functions over through
// these two variables, so starting an op allocates no closure of its own.
let nextResolve: (value: unknown) => void = () => {};
let nextReject: (reason: unknown) => void = () => {};
function captureResolvers(resolve: (value: unknown) => void, reject: (reason: unknown) => void): void {
  nextResolve = resolve;
  nextReject = reject;
}

/** One single-shot op: the handler the ring calls with its CQE. */
class PendingOp implements CompletionHandler {
  readonly resolve: (value: unknown) => void;
  readonly reject: (reason: unknown) => void;
  readonly promise: Promise<unknown>;
  readonly kind: Kind;
  readonly opcode: number;
  /** Whether it has an SQE (false while it waits for room). */
  launched: boolean;
  /** Op id, taken only for ops that may need cancelling (they have a signal). */
  id: number;
  signal: AbortSignal | undefined;
  onAbort: (() => void) | undefined;
  aborted: boolean;
  done: boolean;

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
  }

  complete(res: number, flags: number, final: boolean): void {
    if (!final) return;
    this.done = true;
    if (this.onAbort !== undefined) this.signal!.removeEventListener('abort', this.onAbort);
    if (this.aborted) {
      // The op ran anyway (it won the race with its cancel): don't leak what it made.
      if (this.kind === OpResult.Fd && res >= 0) closeQuietly(res);
      this.reject(new AbortError(undefined, { cause: this.signal?.reason }));
      return;
    }
    if (res < 0) {
      this.reject(errorFromCqeRes(res, opNameOf(this.opcode)));
      return;
    }
    this.resolve(this.kind === OpResult.Cqe ? { res, flags } : res);
  }
}

function closeQuietly(fd: number): void {
  try {
    closeFd(fd);
  } catch {
    /* it was ours to close; nothing else can be done */
  }
}

/** An op waiting for room (backpressure) with what it needs to start later. */
interface Waiting {
  op: PendingOp;
  fill: (sqe: Sqe) => void;
}

/**
 * An io_uring driven from Node's event loop: every method returns a Promise.
 *
 * ```ts
 * await using ring = new AsyncIoUring();
 * const n = await ring.read(fd, buf, 0);
 * ```
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
  readonly #flushTask = (): void => this.#flush();

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
  get wakerBackend(): WakerBackend {
    return this.#waker.backend;
  }

  /** Ops submitted and not yet completed, plus those waiting for room. */
  get pending(): number {
    return this.ring.inFlight + (this.#waiting.length - this.#waitingHead);
  }

  /** Whether `close()` has been called. */
  get closed(): boolean {
    return this.#closed || this.#closing !== undefined;
  }

  // -------------------------------------------------------------------------------------
  // Starting ops

  /**
   * Starts any op: `fill` gets the SQE and calls a `prep*` builder on it. Resolves with
   * `res` (a count, a descriptor, 0) or rejects with a Node-shaped error for a negative
   * `res`. For ops whose CQE flags matter (provided buffers), use {@link AsyncIoUring.submitCqe}.
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

  /** A no-op round trip through the kernel (`IORING_OP_NOP`). */
  nop(options?: OpOptions): Promise<number> {
    return this.start(OpResult.Res, 0, prepNop, options) as Promise<number>;
  }

  /**
   * @internal The common path of every Promise method. `fill` writes the SQE and may
   * throw (bad arguments): the promise then rejects and nothing is submitted.
   */
  start(kind: Kind, opcode: number, fill: (sqe: Sqe) => void, options: OpOptions | undefined): Promise<unknown> {
    if (this.#closing !== undefined || this.#closed) return Promise.reject(ringClosedError('AsyncIoUring'));
    const signal = options?.signal;
    if (signal !== undefined) {
      if (!(signal instanceof AbortSignal)) {
        return Promise.reject(new ArgumentError('ERR_INVALID_ARG_TYPE', 'options.signal', `expected an AbortSignal, received ${describeReceived(signal)}`));
      }
      if (signal.aborted) return Promise.reject(new AbortError(undefined, { cause: signal.reason }));
    }
    const op = new PendingOp(kind, opcode);
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
    this.#launch(op, sqe, signal);
    return op.promise;
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
    if (!this.#flushQueued) {
      this.#flushQueued = true;
      queueMicrotask(this.#flushTask);
    }
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
      const i = this.#waiting.findIndex((w, k) => k >= this.#waitingHead && w.op === op);
      if (i >= 0) this.#waiting.splice(i, 1);
      op.reject(new AbortError(undefined, { cause: op.signal?.reason }));
      return;
    }
    // In the kernel (or about to be): cancel by id. The op's own CQE settles it.
    this.#startCancel(op.id);
  }

  #startCancel(targetId: number): void {
    const sqe = this.ring.getSqe() ?? (this.#flushIfStaged() ? this.ring.getSqe() : null);
    if (sqe === null) {
      // No room even for a cancel: retry once completions free some.
      this.#waiting.push({ op: new PendingOp(OpResult.Res, IORING_OP_ASYNC_CANCEL), fill: (s) => prepCancel(s, targetId) });
      this.#setReferenced(true);
      return;
    }
    prepCancel(sqe, targetId);
    this.ring.setHandler(sqe, cancelSink);
    if (!this.#flushQueued) {
      this.#flushQueued = true;
      queueMicrotask(this.#flushTask);
    }
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
      next.op.launched = true;
      if (next.op.signal !== undefined) next.op.id = sqe.id;
      this.ring.setHandler(sqe, next.op);
      started = true;
    }
    if (this.#waitingHead === waiting.length) {
      waiting.length = 0;
      this.#waitingHead = 0;
    } else if (this.#waitingHead > 1024 && this.#waitingHead * 2 > waiting.length) {
      waiting.splice(0, this.#waitingHead);
      this.#waitingHead = 0;
    }
    if (started && !this.#flushQueued) {
      this.#flushQueued = true;
      queueMicrotask(this.#flushTask);
    }
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
   * completed meanwhile resolve normally. Idempotent; resolves when done.
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

/** Handler for cancel ops we start ourselves: their result only matters to the target. */
const cancelSink: CompletionHandler = {
  complete(res: number): void {
    // 0: cancelled; ENOENT: already done; EALREADY: running, will complete on its own.
    if (res < 0 && res !== ENOENT && res !== EALREADY && res !== ECANCELED) {
      process.emitWarning(`tsuring: a cancel request failed with ${res}`, { code: 'TSURING_CANCEL_FAILED' });
    }
  },
};

function isTransient(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === 'EBUSY' || code === 'EAGAIN';
}
