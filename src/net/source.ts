/**
 * A socket's long-lived wait for input, as callbacks: the receive side of a connection
 * ({@link RecvSource}) or the accept side of a listener ({@link AcceptSource}).
 *
 * **Two modes**, chosen from what the consumer wants:
 * - *Referenced* (the default): one multishot op (`RECV` with a buffer ring, 6.0;
 *   `ACCEPT`, 5.19) stays armed while the consumer wants input. It is an op in flight, so
 *   the ring keeps the process alive, as a referenced libuv handle does.
 * - *Unreferenced* (`unref()`, as `socket.unref()` / `server.unref()`): no op waits in the
 *   kernel; an unreferenced `uv_poll` on the socket (the same watchers the ring's waker uses,
 *   see `src/loop/waker.ts`) reports readiness, and one single-shot op then takes what is
 *   ready. Only that short op is in flight, so an idle unreferenced socket lets the process
 *   exit. Where no poll watcher is available on this thread (the `'threadpool'` waker
 *   backend), `unref()` has no effect: the source stays in the referenced mode.
 *
 * **Pausing** (`pause()`) cancels the multishot op; what the kernel posted before the
 * cancel landed is still delivered (nothing is lost), then nothing more arrives until
 * `resume()`. The bytes wait in the socket, so TCP's own flow control holds the peer back.
 *
 * **Delivery** is deferred: items reaped from the CQ are queued and handed to the sink from
 * one microtask per source, so user code (stream `'data'` listeners) never runs inside the
 * ring's reap loop. Items, the end and an error reach the sink in the order they happened.
 * After `stop()` nothing more is delivered; buffers and descriptors that still arrive are
 * given back (recycled, closed).
 *
 * @module
 */
import { IORING_CQE_F_BUFFER, IORING_CQE_F_BUF_MORE, IORING_CQE_BUFFER_SHIFT } from '../../generated/constants.js';
import { prepAccept, prepMultishotAccept } from '../../generated/ops.js';
import type { AsyncIoUring } from '../async/async-ring.js';
import type { Startable } from '../async/pending-op.js';
import { createWaker, defaultWakerBackend, type Waker, type WakerBackend } from '../loop/waker.js';
import type { BufferRing } from '../register/provided.js';
import type { Sqe } from '../ring/sqe.js';
import { errorFromCqeRes, type IoUringError } from '../sys/errors.js';
import { closeFd } from '../sys/libc.js';
import { SOCK_CLOEXEC } from './sockaddr.js';

const ECANCELED = -125;
const ENOBUFS = -105;
const EAGAIN = -11;
const EINTR = -4;

/** What happens after a CQE (see {@link SocketSource.onCqe}). */
const Next = {
  /** Keep going (re-arm if this was the final CQE and input is still wanted). */
  Go: 0,
  /** Try again after `retryDelay()` ms (out of buffers, out of descriptors). */
  Later: 1,
  /** The source ended (end of stream, or an error it reported). */
  End: 2,
} as const;
type Next = (typeof Next)[keyof typeof Next];

/** The poll-watcher backend for unreferenced sources on this thread, or null when there is none. */
let watcherBackend: WakerBackend | null | undefined;
function pollBackend(): WakerBackend | null {
  if (watcherBackend === undefined) {
    const backend = defaultWakerBackend().backend;
    watcherBackend = backend === 'threadpool' ? null : backend;
  }
  return watcherBackend;
}

/** The machinery of {@link RecvSource} and {@link AcceptSource}: modes, pausing, delivery. */
abstract class SocketSource<T> implements Startable {
  /** @internal Startable: whether the op has an SQE. */
  launched = false;
  /** @internal Startable: whether the current op's final CQE came (true while none is in flight). */
  done = true;
  /** @internal Startable: the op id. */
  id = -1;

  protected readonly ring: AsyncIoUring;
  /** The socket. Owned by the caller, who closes it after {@link SocketSource.stop}. */
  readonly fd: number;
  #want = false;
  #referenced = true;
  #stopped = false;
  #ended = false;
  #cancelling = false;
  #recancelQueued = false;
  /** The op in flight is a single-shot one (unreferenced mode). */
  #single = false;
  #watcher: Waker | null = null;
  #retryTimer: NodeJS.Timeout | undefined;
  readonly #queue: (T | Marker)[] = [];
  #deliveryQueued = false;
  readonly #fillMulti = (sqe: Sqe): void => this.prepMultishot(sqe);
  readonly #fillSingle = (sqe: Sqe): void => this.prepSingle(sqe);
  readonly #deliver = (): void => this.#flush();
  readonly #onReadable = (): void => this.#readable();
  readonly #onRingClose = (): void => this.#fail(new Error('tsuring: the ring closed under this socket'));

  protected constructor(ring: AsyncIoUring, fd: number) {
    this.ring = ring;
    this.fd = fd;
    ring.addCloseHook(this.#onRingClose);
  }

  // -------------------------------------------------------------------------------------
  // For subclasses

  /** Writes the multishot SQE. */
  protected abstract prepMultishot(sqe: Sqe): void;
  /** Writes the single-shot SQE (unreferenced mode). */
  protected abstract prepSingle(sqe: Sqe): void;
  /** Handles a CQE that is not our own cancellation; calls {@link SocketSource.emit} / `emitEnd` / `emitError`. */
  protected abstract onCqe(res: number, flags: number): Next;
  /** Gives back what a CQE carries once nobody will take it (recycle a buffer, close a descriptor). */
  protected abstract discard(res: number, flags: number): void;
  /** Hands one item to the consumer (from the delivery microtask). */
  protected abstract deliverItem(item: T): void;
  /** The consumer's end of input (from the delivery microtask). */
  protected abstract deliverEnd(): void;
  /** The consumer's error (from the delivery microtask). */
  protected abstract deliverError(err: Error): void;
  /** Gives back a queued item that will never be delivered (the source stopped). */
  protected release(_item: T): void {}
  /** Milliseconds before a `Next.Later` retry. */
  protected retryDelay(): number {
    return 0;
  }

  /** Queues an item for the consumer. */
  protected emit(item: T): void {
    this.#enqueue(item);
  }

  /** Queues the end of input; the source is done. */
  protected emitEnd(): void {
    this.#ended = true;
    this.#enqueue(END);
  }

  /** Queues an error; the source is done. */
  protected emitError(err: Error): void {
    this.#ended = true;
    this.#enqueue(new ErrorMarker(err));
  }

  // -------------------------------------------------------------------------------------
  // Control (from the consumer)

  /** Wants input: arms the op (or the watcher, unreferenced). */
  resume(): void {
    this.#want = true;
    this.#update();
  }

  /** Wants no input for now: cancels the op; nothing is lost (see the module notes). */
  pause(): void {
    this.#want = false;
    this.#update();
  }

  /** Whether input is wanted. */
  get flowing(): boolean {
    return this.#want;
  }

  /** Keeps the process alive while waiting (the default). */
  ref(): void {
    if (this.#referenced) return;
    this.#referenced = true;
    this.#update();
  }

  /** Lets the process exit while this source waits (see the module notes). */
  unref(): void {
    if (!this.#referenced) return;
    this.#referenced = false;
    this.#update();
  }

  /** Whether this source keeps the process alive while it waits. */
  get referenced(): boolean {
    return this.#referenced || pollBackend() === null;
  }

  /**
   * Stops for good: cancels the op, closes the watcher, drops what was not yet delivered.
   * Safe to call again. The caller may close the descriptor right after: the op holds its
   * own reference to the socket until its final CQE, and a watcher is closed here first.
   */
  stop(): void {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#want = false;
    this.ring.removeCloseHook(this.#onRingClose);
    clearTimeout(this.#retryTimer);
    this.#closeWatcher();
    for (const item of this.#queue.splice(0)) {
      if (item !== END && !(item instanceof ErrorMarker)) this.release(item as T);
    }
    if (!this.done && !this.#cancelling) this.#cancel();
  }

  /** Whether {@link SocketSource.stop} was called. */
  get stopped(): boolean {
    return this.#stopped;
  }

  // -------------------------------------------------------------------------------------
  // Called by the ring (inside its reap loop: queue, never call user code)

  /** @internal */
  complete(res: number, flags: number, final: boolean): void {
    if (final) {
      this.done = true;
      this.launched = false;
      this.#cancelling = false;
    } else if (this.#cancelling) {
      this.#recancel();
    }
    if (this.#stopped || this.#ended) {
      this.discard(res, flags);
      return;
    }
    if (res === ECANCELED && final) {
      this.#update(); // our pause or mode switch; re-arms if input is wanted again
      return;
    }
    const next = this.onCqe(res, flags);
    if (next === Next.End) {
      if (!this.done) this.#cancel();
      this.#closeWatcher();
      return;
    }
    if (next === Next.Later) {
      if (!this.done) this.#cancel();
      this.#retryLater();
      return;
    }
    if (final) this.#update();
  }

  /** @internal Startable: the op could not start (the ring is closing, or the SQE refused). */
  reject(reason: unknown): void {
    this.done = true;
    this.launched = false;
    this.#cancelling = false;
    this.#fail(reason);
  }

  // -------------------------------------------------------------------------------------

  #fail(reason: unknown): void {
    if (this.#stopped || this.#ended) return;
    this.emitError(reason instanceof Error ? reason : new Error(String(reason)));
    this.#closeWatcher();
  }

  /** Brings what is armed in line with what is wanted. */
  #update(): void {
    if (this.#stopped || this.#ended || this.#retryTimer !== undefined) return;
    const inFlight = !this.done;
    if (!this.#want) {
      this.#watcher?.disarm();
      if (inFlight && !this.#single && !this.#cancelling) this.#cancel();
      return;
    }
    if (this.#referenced || pollBackend() === null) {
      this.#watcher?.disarm();
      if (!inFlight) this.#launch(false);
      // A single-shot op in flight finishes soon; a cancel in flight ends in a final CQE:
      // either comes back here.
      return;
    }
    // Unreferenced: no op may wait in the kernel.
    if (inFlight) {
      if (!this.#single && !this.#cancelling) this.#cancel();
      return;
    }
    this.#armWatcher();
  }

  #launch(single: boolean): void {
    this.#single = single;
    try {
      this.ring.launchHandler(this, single ? this.#fillSingle : this.#fillMulti);
    } catch (err) {
      this.done = true;
      this.launched = false;
      this.#fail(err);
    }
  }

  #cancel(): void {
    this.#cancelling = true;
    if (!this.ring.cancelHandler(this)) {
      // It was still waiting for room: withdrawn, no CQE will come.
      this.#cancelling = false;
      this.done = true;
      this.launched = false;
    }
  }

  /**
   * A multishot op can outlive its cancel: while the kernel is busy running it (data keeps
   * arriving), the cancel finds nothing to stop (-EALREADY / -ENOENT) and the op goes on.
   * So while a cancel is wanted, every further CQE asks again, once per event-loop turn,
   * until the final CQE comes. (A stopped receive that kept draining the socket would
   * swallow everything the peer sends, where a closed socket must reset it.)
   */
  #recancel(): void {
    if (this.#recancelQueued) return;
    this.#recancelQueued = true;
    setImmediate(this.#recancelNow);
  }

  readonly #recancelNow = (): void => {
    this.#recancelQueued = false;
    if (!this.done && this.#cancelling) this.ring.cancelHandler(this);
  };

  #retryLater(): void {
    const delay = this.retryDelay();
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = undefined;
      this.#update();
    }, delay);
    if (!this.#referenced) this.#retryTimer.unref();
  }

  #armWatcher(): void {
    let watcher = this.#watcher;
    if (watcher === null) {
      try {
        watcher = createWaker(this.fd, this.#onReadable, { backend: pollBackend()! });
      } catch (err) {
        this.#fail(err);
        return;
      }
      watcher.unref();
      this.#watcher = watcher;
    }
    watcher.arm();
  }

  #readable(): void {
    // Level-triggered: stop watching while the single-shot op takes what is ready.
    this.#watcher?.disarm();
    if (this.#stopped || this.#ended || !this.#want || !this.done) return;
    if (this.#referenced) {
      this.#update();
      return;
    }
    this.#launch(true);
  }

  #closeWatcher(): void {
    const watcher = this.#watcher;
    this.#watcher = null;
    watcher?.close();
  }

  #enqueue(item: T | Marker): void {
    this.#queue.push(item);
    if (this.#deliveryQueued) return;
    this.#deliveryQueued = true;
    queueMicrotask(this.#deliver);
  }

  #flush(): void {
    this.#deliveryQueued = false;
    const queue = this.#queue;
    // The consumer may stop() from inside a delivery (stop empties the queue): re-check.
    // Taken off the queue before each delivery, so what stop() finds left is what was never
    // delivered. A listener that throws ends this microtask (the exception goes on to
    // 'uncaughtException', as from any event listener); what is left is delivered from the
    // next one, so nothing stays stuck holding its buffer.
    try {
      while (queue.length > 0 && !this.#stopped) {
        const item = queue.shift()!;
        if (item === END) this.deliverEnd();
        else if (item instanceof ErrorMarker) this.deliverError(item.error);
        else this.deliverItem(item as T);
      }
    } finally {
      if (queue.length > 0 && !this.#stopped && !this.#deliveryQueued) {
        this.#deliveryQueued = true;
        queueMicrotask(this.#deliver);
      }
    }
  }
}

/** Closes a descriptor this code owns, ignoring errors (there is nothing else to do with them). */
export function closeQuietly(fd: number): void {
  try {
    closeFd(fd);
  } catch {
    /* ours to close; nothing else to do */
  }
}

const END = Symbol('end');
class ErrorMarker {
  constructor(readonly error: Error) {}
}
type Marker = typeof END | ErrorMarker;

/** Where a {@link RecvSource} delivers. */
export interface RecvSink {
  /** Received bytes: a fresh Buffer, the consumer's to keep. */
  data(chunk: Buffer): void;
  /** The peer shut down its sending side (a 0-byte receive). */
  end(): void;
  /** A receive failed (`ECONNRESET`, ...): an IoUringError with syscall `'recv'`. */
  error(err: Error): void;
}

/** A received buffer waiting in a {@link RecvSource}'s queue: a view and its buffer id. */
interface Received {
  view: Uint8Array;
  bid: number;
}

/**
 * The receive side of a connected socket: multishot `RECV` picking buffers from a shared
 * {@link BufferRing}. Each chunk is copied out (one allocation and one copy) when it is
 * delivered, and its buffer goes back to the kernel right then.
 *
 * Copying at delivery rather than at reap bounds what one reap can take in: the ring reaps
 * until the kernel has nothing more (each flush of the CQ runs the kernel's pending
 * completion work), and a buffer recycled inside that loop could be filled again inside it,
 * without end for a fast local peer. Held until delivery, the buffers run out instead
 * (`ENOBUFS`), the receive stops, and it is re-armed on the next turn of the event loop:
 * one reap takes in at most the buffer ring's size across all sockets.
 */
export class RecvSource extends SocketSource<Received> {
  readonly #pool: BufferRing;
  readonly #sink: RecvSink;
  readonly #cqe = { res: 0, flags: 0 };
  #starved = 0;

  constructor(ring: AsyncIoUring, fd: number, pool: BufferRing, sink: RecvSink) {
    super(ring, fd);
    this.#pool = pool;
    this.#sink = sink;
  }

  protected prepMultishot(sqe: Sqe): void {
    this.#pool.prepRecvMultishot(sqe, this.fd);
  }

  protected prepSingle(sqe: Sqe): void {
    this.#pool.prepRecv(sqe, this.fd);
  }

  protected onCqe(res: number, flags: number): Next {
    if ((flags & IORING_CQE_F_BUFFER) !== 0) {
      if (res > 0) {
        this.#starved = 0;
        const cqe = this.#cqe;
        cqe.res = res;
        cqe.flags = flags;
        const view = this.#pool.take(cqe);
        this.emit({ view, bid: (flags & IORING_CQE_F_BUF_MORE) !== 0 ? -1 : flags >>> IORING_CQE_BUFFER_SHIFT });
        return Next.Go;
      }
      this.#giveBack(flags);
    }
    if (res > 0) return Next.Go;
    if (res === 0) {
      this.emitEnd();
      return Next.End;
    }
    // Every buffer is out: they come back as the queued chunks are delivered, so retry on
    // the next turn of the event loop.
    if (res === ENOBUFS || res === EAGAIN || res === EINTR) {
      this.#starved++;
      return Next.Later;
    }
    this.emitError(errorFromCqeRes(res, 'recv'));
    return Next.End;
  }

  protected override retryDelay(): number {
    // A few immediate retries, then back off (someone holds every buffer for a while).
    return this.#starved <= 4 ? 0 : Math.min(50, this.#starved);
  }

  protected discard(_res: number, flags: number): void {
    if ((flags & IORING_CQE_F_BUFFER) !== 0) this.#giveBack(flags);
  }

  protected override release(item: Received): void {
    this.#recycle(item.bid);
  }

  #giveBack(flags: number): void {
    if (!this.#pool.open) return;
    try {
      const cqe = this.#cqe;
      cqe.res = 0;
      cqe.flags = flags;
      this.#pool.take(cqe);
      if ((flags & IORING_CQE_F_BUF_MORE) === 0) this.#pool.recycle(flags >>> IORING_CQE_BUFFER_SHIFT);
    } catch {
      /* the group is gone: nothing to give back */
    }
  }

  #recycle(bid: number): void {
    if (bid >= 0 && this.#pool.open) this.#pool.recycle(bid);
  }

  protected deliverItem(item: Received): void {
    // The consumer's own copy; the buffer goes straight back to the kernel.
    const view = item.view;
    const chunk = Buffer.allocUnsafe(view.byteLength);
    chunk.set(view);
    this.#recycle(item.bid);
    this.#sink.data(chunk);
  }

  protected deliverEnd(): void {
    this.#sink.end();
  }

  protected deliverError(err: Error): void {
    this.#sink.error(err);
  }
}

/** Where an {@link AcceptSource} delivers. */
export interface AcceptSink {
  /** A new connection's descriptor (the sink's to close). */
  connection(fd: number): void;
  /**
   * An accept failed (`EMFILE`, `ENFILE`, `ENOMEM`, ...): an IoUringError with syscall
   * `'accept'`. The source keeps accepting after a short pause, as libuv does.
   */
  error(err: IoUringError): void;
}

/** The accept side of a listening socket: multishot `ACCEPT` (new sockets get `SOCK_CLOEXEC`). */
export class AcceptSource extends SocketSource<number | IoUringError> {
  readonly #sink: AcceptSink;

  constructor(ring: AsyncIoUring, fd: number, sink: AcceptSink) {
    super(ring, fd);
    this.#sink = sink;
  }

  protected prepMultishot(sqe: Sqe): void {
    prepMultishotAccept(sqe, this.fd, null, SOCK_CLOEXEC);
  }

  protected prepSingle(sqe: Sqe): void {
    prepAccept(sqe, this.fd, null, SOCK_CLOEXEC);
  }

  protected onCqe(res: number): Next {
    if (res >= 0) {
      this.emit(res);
      return Next.Go;
    }
    if (res === EAGAIN || res === EINTR) return Next.Later;
    // Out of descriptors or memory: report, and try again shortly (the listener stays).
    this.emit(errorFromCqeRes(res, 'accept'));
    return Next.Later;
  }

  protected override retryDelay(): number {
    return 50;
  }

  protected discard(res: number): void {
    if (res >= 0) closeQuietly(res);
  }

  protected override release(item: number | IoUringError): void {
    if (typeof item === 'number') closeQuietly(item);
  }

  protected deliverItem(item: number | IoUringError): void {
    if (typeof item === 'number') this.#sink.connection(item);
    else this.#sink.error(item);
  }

  protected deliverEnd(): void {}

  protected deliverError(err: Error): void {
    this.#sink.error(err as IoUringError);
  }
}
