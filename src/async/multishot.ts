/**
 * Multishot ops as async iterators: one SQE, many CQEs, each turned into an item.
 *
 * **Lazy.** Nothing is submitted until the first `next()` (the first turn of a
 * `for await`). Bad arguments make that first `next()` reject with the builder's
 * `ArgumentError`; nothing reaches the kernel.
 *
 * **How they end.**
 * - `break` / `return()` (or `await using`): the op is cancelled; items already queued are
 *   dropped (descriptors closed, buffers recycled), and so is anything the kernel still
 *   posts before the cancel lands.
 * - An error CQE: items queued before it are delivered first, then `next()` rejects with
 *   the Node-shaped error once; after that the iterator is done.
 * - The `signal` aborts: like `break`, then `next()` rejects with an `AbortError`.
 * - The ring closes: done (no error).
 * - Something else cancels the op (`-ECANCELED`): done.
 * - If the kernel ends the op by itself while it could go on (a CQE without
 *   `IORING_CQE_F_MORE`, e.g. after a CQ overflow), it is re-armed.
 *
 * **Backpressure.** Items the consumer has not asked for yet wait in a JS queue. When
 * `highWaterMark` items (default 256) are queued, the op is cancelled ("paused"); the
 * kernel keeps what arrives meanwhile (connections in the listen backlog, bytes in the
 * socket buffer, readiness in the file), and the op is re-armed once the consumer has
 * drained the queue to half the mark. So the queue stays bounded: by the mark plus what
 * the kernel posted in one go before the cancel landed (a multishot accept drains its whole
 * listen backlog in one burst), and nothing is lost.
 * A buffer-ring receive is bounded by its buffers too: see {@link RecvMultishot}.
 *
 * @module
 */
import { IORING_CQE_F_BUF_MORE, IORING_CQE_F_BUFFER, IORING_CQE_BUFFER_SHIFT } from '../../generated/constants.js';
import { prepMultishotAccept, prepPollMultishot } from '../../generated/ops.js';
import type { FileRef } from '../abi/fd.js';
import { OwnedFd } from '../abi/owned-fd.js';
import { ArgumentError, describeReceived } from '../errors.js';
import type { BufferRing } from '../register/provided.js';
import type { Sqe } from '../ring/sqe.js';
import { errorFromCqeRes } from '../sys/errors.js';
import { closeFd } from '../sys/libc.js';
import { AbortError } from './abort.js';
import type { AsyncIoUring } from './async-ring.js';

const ECANCELED = -125;
const ENOBUFS = -105;
const SOCK_CLOEXEC = 0o2000000;

/** Options every multishot iterator takes. */
export interface MultishotOptions {
  /** Stops the iterator: the op is cancelled and `next()` rejects with an `AbortError`. */
  signal?: AbortSignal | undefined;
  /** Queued items at which the op is paused (cancelled, re-armed once drained to half). Default 256. */
  highWaterMark?: number | undefined;
}

/** Options of `acceptMultishot`. */
export interface AcceptMultishotOptions extends MultishotOptions {
  /** accept4 flags for each new socket; default `SOCK_CLOEXEC`. */
  flags?: number | undefined;
}

/** Options of `recvMultishot`. */
export interface RecvMultishotOptions extends MultishotOptions {
  /** `MSG_*` flags; default 0. */
  flags?: number | undefined;
  /**
   * **Borrowed chunks** (zero-copy): yield views into the buffer ring instead of copies.
   * A borrowed chunk is valid only until the next `next()` (the next loop turn), when its
   * buffer goes back to the kernel, which may then overwrite it. Default false: every chunk
   * is a fresh `Buffer` that is yours to keep.
   */
  borrow?: boolean | undefined;
  /**
   * @deprecated Chunks are copies by default; `true` changes nothing. `false` is refused:
   * ask for views with {@link RecvMultishotOptions.borrow} instead.
   */
  copy?: boolean | undefined;
}

type Waiter<T> = { resolve: (r: IteratorResult<T, undefined>) => void; reject: (e: unknown) => void };

const DONE: IteratorReturnResult<undefined> = Object.freeze({ done: true, value: undefined }) as IteratorReturnResult<undefined>;

/**
 * The machinery all multishot iterators share: the op's state for the ring, the queue,
 * pausing, and the ways to end. Subclasses say how to prepare the SQE and what a CQE means.
 */
export abstract class Multishot<T> implements AsyncIterableIterator<T, undefined, undefined>, AsyncDisposable {
  /** @internal */
  launched = false;
  /** @internal Whether the current op's final CQE came (true while not in flight). */
  done = true;
  /** @internal */
  id = -1;
  /** @internal */
  protected readonly owner: AsyncIoUring;
  readonly #items: T[] = [];
  readonly #tokens: number[] = [];
  #head = 0;
  readonly #waiters: Waiter<T>[] = [];
  #started = false;
  #finished = false;
  #error: unknown = undefined;
  #hasError = false;
  #stopped = false;
  #pausing = false;
  #paused = false;
  readonly #highWater: number;
  readonly #signal: AbortSignal | undefined;
  readonly #onAbort: (() => void) | undefined;
  readonly #closeHook = (): void => this.#stop(undefined);
  readonly #fill = (sqe: Sqe): void => this.prep(sqe);

  /** @internal */
  protected constructor(owner: AsyncIoUring, options: MultishotOptions | undefined, what: string) {
    this.owner = owner;
    let highWater = 256;
    let signal: AbortSignal | undefined;
    let error: unknown;
    if (options !== undefined && (options === null || typeof options !== 'object')) {
      error = new ArgumentError('ERR_INVALID_ARG_TYPE', `${what}: options`, `expected an options object, received ${describeReceived(options)}`);
    } else {
      const hwm = options?.highWaterMark;
      if (hwm !== undefined && (typeof hwm !== 'number' || !Number.isInteger(hwm) || hwm < 1)) {
        error = new ArgumentError('ERR_OUT_OF_RANGE', `${what}: options.highWaterMark`, `expected an integer ≥ 1, received ${describeReceived(hwm)}`);
      } else if (hwm !== undefined) {
        highWater = hwm;
      }
      signal = options?.signal;
      if (signal !== undefined && !(signal instanceof AbortSignal)) {
        error = new ArgumentError('ERR_INVALID_ARG_TYPE', `${what}: options.signal`, `expected an AbortSignal, received ${describeReceived(signal)}`);
        signal = undefined;
      }
    }
    this.#highWater = highWater;
    this.#signal = signal;
    this.#onAbort = signal === undefined ? undefined : () => this.#stop(new AbortError(undefined, { cause: signal.reason }));
    if (error !== undefined) {
      this.#finished = true;
      this.#setError(error);
    }
  }

  /** First `next()`: watch the signal and the ring's close, and start the op. */
  #start(): void {
    this.#started = true;
    const signal = this.#signal;
    if (signal?.aborted === true) {
      this.#finished = true;
      this.#setError(new AbortError(undefined, { cause: signal.reason }));
      return;
    }
    if (signal !== undefined) signal.addEventListener('abort', this.#onAbort!, { once: true });
    this.owner.addCloseHook(this.#closeHook);
    this.arm();
  }

  /** Writes the SQE (a `prep*` builder); may throw for bad arguments. */
  protected abstract prep(sqe: Sqe): void;

  /**
   * Handles one CQE that is not a cancellation (calls {@link Multishot.push},
   * {@link Multishot.fail} or {@link Multishot.end}). For a final CQE, returns whether the op
   * should be re-armed.
   */
  protected abstract onCqe(res: number, flags: number, final: boolean): boolean;

  /** Cleans up after a CQE that arrives once the consumer stopped (close a descriptor, recycle a buffer). */
  protected discard(_res: number, _flags: number): void {}

  /** Cleans up a queued item that will never be yielded. */
  protected release(_item: T, _token: number): void {}

  /** Called with an item's token as it is handed to the consumer. */
  protected yielded(_token: number): void {}

  /** Called when the consumer asks for the next item (and when it stops). */
  protected beforeNext(): void {}

  /** Called once when the iterator ends for good. */
  protected onEnd(): void {}

  /** Items received and not yet asked for. */
  get queued(): number {
    return this.#items.length - this.#head;
  }

  /** Whether the op is paused for backpressure. */
  get paused(): boolean {
    return this.#paused || this.#pausing;
  }

  /** Whether the iterator ended (its queue may still hold items to yield). */
  get ended(): boolean {
    return this.#finished;
  }

  /** The iterator itself (for `for await`). */
  [Symbol.asyncIterator](): this {
    return this;
  }

  /**
   * The next item: one queued, or the next to arrive. Starts the op on the first call, and
   * hands back what the previous item held (a buffer-ring receive recycles its buffer).
   */
  next(): Promise<IteratorResult<T, undefined>> {
    if (!this.#started && !this.#finished) this.#start();
    this.beforeNext();
    if (this.#head < this.#items.length) {
      const item = this.#items[this.#head]!;
      const token = this.#tokens[this.#head]!;
      this.#items[this.#head] = undefined as T;
      this.#head++;
      if (this.#head === this.#items.length) {
        this.#items.length = 0;
        this.#tokens.length = 0;
        this.#head = 0;
      } else if (this.#head >= 1024 && this.#head * 2 >= this.#items.length) {
        this.#items.splice(0, this.#head);
        this.#tokens.splice(0, this.#head);
        this.#head = 0;
      }
      this.yielded(token);
      this.#maybeResume();
      return Promise.resolve({ done: false, value: item });
    }
    if (this.#finished) return this.#endResult();
    return new Promise((resolve, reject) => {
      this.#waiters.push({ resolve, reject });
    });
  }

  /** Stops: cancels the op, drops what is queued. Called by `break`. */
  return(): Promise<IteratorResult<T, undefined>> {
    this.#stop(undefined);
    return Promise.resolve(DONE);
  }

  /** Same as `return()`, for `await using`. */
  async [Symbol.asyncDispose](): Promise<void> {
    this.#stop(undefined);
  }

  #endResult(): Promise<IteratorResult<T, undefined>> {
    if (this.#hasError) {
      const err = this.#error;
      this.#hasError = false;
      this.#error = undefined;
      return Promise.reject(err);
    }
    return Promise.resolve(DONE);
  }

  // -------------------------------------------------------------------------------------
  // For subclasses

  /** Queues an item (or hands it straight to a waiting consumer). */
  protected push(item: T, token: number): void {
    const waiter = this.#waiters.shift();
    if (waiter !== undefined) {
      this.yielded(token);
      waiter.resolve({ done: false, value: item });
      return;
    }
    this.#items.push(item);
    this.#tokens.push(token);
    if (this.queued >= this.#highWater && !this.done && !this.#pausing && !this.#paused) {
      // Pause: the kernel keeps what comes next until the consumer catches up.
      this.#pausing = true;
      this.owner.cancelHandler(this);
    }
  }

  /** Ends the iterator with an error, delivered after the queued items. */
  protected fail(err: unknown): void {
    if (this.#finished) return;
    this.#finish();
    const waiter = this.#waiters.shift();
    if (waiter !== undefined) waiter.reject(err);
    else this.#setError(err);
    this.#flushWaiters();
  }

  /** Ends the iterator (done once the queue is drained). */
  protected end(): void {
    if (this.#finished) return;
    this.#finish();
    this.#flushWaiters();
  }

  /** (Re)starts the op. */
  protected arm(): void {
    if (this.#finished || this.#stopped) return;
    try {
      this.owner.launchHandler(this, this.#fill);
    } catch (err) {
      if (this.owner.closed) this.end();
      else this.fail(err);
    }
  }

  // -------------------------------------------------------------------------------------
  // Called by the ring

  /** @internal */
  complete(res: number, flags: number, final: boolean): void {
    if (final) {
      this.done = true;
      this.launched = false;
    }
    if (this.#stopped) {
      this.discard(res, flags);
      return;
    }
    if (final && res === ECANCELED) {
      if (this.#pausing) {
        this.#pausing = false;
        this.#paused = true;
        this.#maybeResume();
      } else {
        this.end();
      }
      return;
    }
    const rearm = this.onCqe(res, flags, final);
    if (!final || !rearm || this.#finished) return;
    if (this.#pausing || this.queued >= this.#highWater) {
      // Ended by itself while a pause was under way (the cancel will find nothing), or
      // the queue is full anyway: stay paused.
      this.#pausing = false;
      this.#paused = true;
      this.#maybeResume();
      return;
    }
    this.arm();
  }

  /** @internal Called by the ring when the op cannot start: the ring closed, or `prep` threw later. */
  reject(reason: unknown): void {
    this.done = true;
    this.launched = false;
    if (this.owner.closed) this.end();
    else this.fail(reason);
  }

  // -------------------------------------------------------------------------------------

  #maybeResume(): void {
    if (!this.#paused || this.#finished || this.queued > this.#highWater >>> 1) return;
    this.#paused = false;
    this.arm();
  }

  #setError(err: unknown): void {
    this.#error = err;
    this.#hasError = true;
  }

  #finish(): void {
    this.#finished = true;
    this.#pausing = false;
    this.#paused = false;
    this.owner.removeCloseHook(this.#closeHook);
    if (this.#onAbort !== undefined) this.#signal!.removeEventListener('abort', this.#onAbort);
    this.onEnd();
  }

  #flushWaiters(): void {
    // Waiters exist only while the queue is empty: what is left for them is the end.
    while (this.#waiters.length > 0) {
      const waiter = this.#waiters.shift()!;
      if (this.#hasError) {
        this.#hasError = false;
        waiter.reject(this.#error);
        this.#error = undefined;
      } else {
        waiter.resolve(DONE);
      }
    }
  }

  /** The consumer is done (break, abort, ring close): drop everything, cancel the op. */
  #stop(err: unknown): void {
    if (this.#stopped) return;
    this.#stopped = true;
    this.beforeNext();
    for (let i = this.#head; i < this.#items.length; i++) this.release(this.#items[i]!, this.#tokens[i]!);
    this.#items.length = 0;
    this.#tokens.length = 0;
    this.#head = 0;
    const wasFinished = this.#finished;
    if (!wasFinished) this.#finish();
    if (err !== undefined) {
      this.#hasError = false;
      const waiter = this.#waiters.shift();
      if (waiter !== undefined) waiter.reject(err);
      else if (!wasFinished) this.#setError(err);
    }
    this.#flushWaiters();
    if (!this.done) this.owner.cancelHandler(this);
  }
}

function closeQuietly(fd: number): void {
  try {
    closeFd(fd);
  } catch {
    /* ours to close; nothing else to do */
  }
}

/**
 * `for await (const conn of ring.acceptMultishot(listener))`: one multishot `ACCEPT`
 * (Linux 5.19) yielding each connection as an {@link OwnedFd} (close it, or hand it on with
 * `release()`). Connections queued when the iterator stops are closed. An accept error
 * (`EMFILE`, ...) ends the iterator with that error.
 */
export class AcceptMultishot extends Multishot<OwnedFd> {
  readonly #fd: FileRef;
  readonly #flags: number | undefined;

  /** @internal Use `ring.acceptMultishot(fd, options)`. */
  constructor(owner: AsyncIoUring, fd: FileRef, options?: AcceptMultishotOptions) {
    super(owner, options, 'AsyncIoUring.acceptMultishot');
    this.#fd = fd;
    this.#flags = options?.flags;
  }

  protected prep(sqe: Sqe): void {
    prepMultishotAccept(sqe, this.#fd, null, this.#flags ?? SOCK_CLOEXEC);
  }

  protected onCqe(res: number): boolean {
    if (res >= 0) {
      this.push(new OwnedFd(res), -1);
      return true;
    }
    this.fail(errorFromCqeRes(res, 'accept'));
    return false;
  }

  protected override discard(res: number): void {
    if (res >= 0) closeQuietly(res);
  }

  protected override release(item: OwnedFd): void {
    try {
      item.close();
    } catch {
      /* closing a connection nobody will use */
    }
  }
}

/**
 * `for await (const revents of ring.pollMultishot(fd, POLLIN))`: one multishot `POLL_ADD`
 * (Linux 5.13) yielding each `revents` mask.
 */
export class PollMultishot extends Multishot<number> {
  readonly #fd: FileRef;
  readonly #events: number;

  /** @internal Use `ring.pollMultishot(fd, events, options)`. */
  constructor(owner: AsyncIoUring, fd: FileRef, events: number, options?: MultishotOptions) {
    super(owner, options, 'AsyncIoUring.pollMultishot');
    this.#fd = fd;
    this.#events = events;
  }

  protected prep(sqe: Sqe): void {
    prepPollMultishot(sqe, this.#fd, this.#events);
  }

  protected onCqe(res: number): boolean {
    if (res >= 0) {
      this.push(res, -1);
      return true;
    }
    this.fail(errorFromCqeRes(res, 'poll_add'));
    return false;
  }
}

/** Receivers waiting for a buffer of each buffer ring, oldest first. */
const starved = new WeakMap<BufferRing, RecvMultishot[]>();

/**
 * `for await (const chunk of ring.recvMultishot(socket, bufferRing))`: one multishot `RECV`
 * (Linux 6.0) picking buffers from a {@link BufferRing}, yielding the bytes of each receive.
 * Done when the peer closes its side (a 0-byte receive).
 *
 * **Chunks are yours.** Each chunk is a fresh `Buffer` holding a copy of the received bytes
 * (one allocation and one copy per receive), and its buffer goes back to the kernel when the
 * chunk is handed out: keep it, collect and concatenate, hand it to `stream.pipeline` or an
 * unawaited write.
 *
 * **Borrowed chunks** (`{ borrow: true }`, zero-copy) are views into the buffer ring's
 * JS-owned memory instead, valid only until you ask for the next one (the next loop turn),
 * when the buffer goes back to the kernel, which may then overwrite it. Use them only when
 * each chunk is fully consumed within its loop turn (parsed, or written and awaited). A
 * view never dangles (the memory is ordinary JS memory); it can only be overwritten.
 *
 * **Backpressure.** Chunks not yet asked for hold their buffers (copied or borrowed), and
 * the JS queue pauses the receive at `highWaterMark` (see the module notes); when the ring
 * runs out (`ENOBUFS`) the receive stops, the bytes wait in the socket, and it is re-armed
 * as soon as any receiver of this iterator family returns a buffer to that ring. Buffers you
 * recycle yourself, outside these iterators, do not re-arm starved receivers.
 */
export class RecvMultishot extends Multishot<Uint8Array> {
  readonly #fd: FileRef;
  readonly #pool: BufferRing;
  readonly #flags: number;
  readonly #borrow: boolean;
  /** A bad `borrow` / `copy` option: the first `next()` rejects with it. */
  readonly #optionError: ArgumentError | undefined;
  /** Buffer of the chunk last handed out (recycled on the next `next()`), or -1. */
  #lastBid = -1;
  #starving = false;
  /** Re-arms straight after ENOBUFS without data in between. */
  #quickRearms = 0;
  readonly #cqe = { res: 0, flags: 0 };

  /** @internal Use `ring.recvMultishot(fd, buffers, options)`. */
  constructor(owner: AsyncIoUring, fd: FileRef, pool: BufferRing, options?: RecvMultishotOptions) {
    super(owner, options, 'AsyncIoUring.recvMultishot');
    this.#fd = fd;
    this.#pool = pool;
    this.#flags = options?.flags ?? 0;
    const borrow = options?.borrow;
    const copy = options?.copy;
    const what = 'AsyncIoUring.recvMultishot: options';
    if (borrow !== undefined && typeof borrow !== 'boolean') {
      this.#optionError = new ArgumentError('ERR_INVALID_ARG_TYPE', `${what}.borrow`, `expected a boolean, received ${describeReceived(borrow)}`);
    } else if (copy !== undefined && copy !== true) {
      this.#optionError = new ArgumentError('ERR_INVALID_ARG_VALUE', `${what}.copy`, `chunks are copies by default; for views into the buffer ring (valid until the next turn) pass { borrow: true }, received copy: ${describeReceived(copy)}`);
    } else if (borrow === true && copy === true) {
      this.#optionError = new ArgumentError('ERR_INVALID_ARG_VALUE', what, '{ borrow: true } and { copy: true } contradict each other');
    }
    this.#borrow = borrow === true;
  }

  protected prep(sqe: Sqe): void {
    if (this.#optionError !== undefined) throw this.#optionError;
    const pool = this.#pool;
    if (pool === null || typeof pool !== 'object' || typeof pool.prepRecvMultishot !== 'function') {
      throw new ArgumentError('ERR_INVALID_ARG_TYPE', 'AsyncIoUring.recvMultishot: buffers', `expected a BufferRing, received ${describeReceived(pool)}`);
    }
    if (pool.ring !== this.owner.ring) {
      throw new ArgumentError('ERR_INVALID_ARG_VALUE', 'AsyncIoUring.recvMultishot: buffers', 'the BufferRing belongs to another ring');
    }
    pool.prepRecvMultishot(sqe, this.#fd, this.#flags);
  }

  protected onCqe(res: number, flags: number, final: boolean): boolean {
    if ((flags & IORING_CQE_F_BUFFER) !== 0) {
      this.#quickRearms = 0;
      const cqe = this.#cqe;
      cqe.res = res > 0 ? res : 0;
      cqe.flags = flags;
      if (res <= 0) {
        // A buffer with no data: give it straight back.
        this.#takeAndRecycle(flags);
      } else if (this.#borrow) {
        const view = this.#pool.take(cqe);
        this.push(view, (flags & IORING_CQE_F_BUF_MORE) !== 0 ? -1 : flags >>> IORING_CQE_BUFFER_SHIFT);
      } else {
        // The consumer owns what it gets: a copy. Its buffer goes back when the copy is
        // handed out, not now: a buffer recycled inside the reap loop could be filled again
        // inside it, so the queue would be bounded by nothing while a fast peer sends. Held
        // until then, the buffers run out instead (ENOBUFS, re-armed when one comes back).
        const view = this.#pool.take(cqe);
        const copy = Buffer.allocUnsafe(view.byteLength);
        copy.set(view);
        this.push(copy, (flags & IORING_CQE_F_BUF_MORE) !== 0 ? -1 : flags >>> IORING_CQE_BUFFER_SHIFT);
      }
      if (res > 0) return true;
    }
    if (res > 0) return true;
    if (res === 0) {
      if (final) this.end();
      return false;
    }
    if (res === ENOBUFS) {
      // Every buffer is out. Re-arm when one comes back (at once if some already did,
      // a few times in a row at most).
      if (this.#pool.open && this.#pool.inKernel > 0 && this.#quickRearms++ < 8) return true;
      this.#quickRearms = 0;
      this.#starving = true;
      let list = starved.get(this.#pool);
      if (list === undefined) starved.set(this.#pool, (list = []));
      list.push(this);
      return false;
    }
    this.fail(errorFromCqeRes(res, 'recv'));
    return false;
  }

  protected override beforeNext(): void {
    const bid = this.#lastBid;
    if (bid < 0) return;
    this.#lastBid = -1;
    this.#recycle(bid);
  }

  protected override yielded(token: number): void {
    if (this.#borrow) this.#lastBid = token; // the view is valid until the next next()
    else if (token >= 0) this.#recycle(token); // the consumer holds a copy
  }

  protected override release(_item: Uint8Array, token: number): void {
    if (token >= 0) this.#recycle(token);
  }

  protected override discard(_res: number, flags: number): void {
    if ((flags & IORING_CQE_F_BUFFER) !== 0) this.#takeAndRecycle(flags);
  }

  protected override onEnd(): void {
    if (!this.#starving) return;
    this.#starving = false;
    const list = starved.get(this.#pool);
    const i = list?.indexOf(this) ?? -1;
    if (i >= 0) list!.splice(i, 1);
  }

  /** @internal A buffer came back: try again. */
  wake(): void {
    if (!this.#starving) return;
    this.#starving = false;
    this.arm();
  }

  #takeAndRecycle(flags: number): void {
    const cqe = this.#cqe;
    cqe.res = 0;
    cqe.flags = flags;
    try {
      this.#pool.take(cqe);
      if ((flags & IORING_CQE_F_BUF_MORE) === 0) this.#recycle(flags >>> IORING_CQE_BUFFER_SHIFT);
    } catch {
      /* the group is gone: nothing to give back */
    }
  }

  #recycle(bid: number): void {
    const pool = this.#pool;
    if (!pool.open) return;
    pool.recycle(bid);
    kick(pool);
  }
}

/** A buffer of `pool` was recycled: re-arm the receiver that has waited longest for one. */
function kick(pool: BufferRing): void {
  const list = starved.get(pool);
  if (list === undefined || list.length === 0) return;
  list.shift()!.wake();
}
