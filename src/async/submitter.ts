/**
 * The engine under `AsyncIoUring`: batching, backpressure, cancellation, waking and
 * closing, on Node's event loop.
 *
 * - **Batching.** Every op started in one turn of the event loop is staged; a microtask
 *   submits them all with one `io_uring_enter` and reaps whatever completed inline.
 * - **Waking.** A waker (`src/loop/waker.ts`) calls back when more CQEs arrive; it keeps
 *   the process alive only while something is in flight.
 * - **Backpressure.** When `maxInFlight` ops are out, new ones wait in a FIFO and start as
 *   completions free room: none fails for lack of space, none is dropped.
 * - **Cancellation never waits for room.** An abort cancels through
 *   `IORING_REGISTER_SYNC_CANCEL` (no SQE needed); only a ring whose restrictions refuse
 *   that register opcode falls back to an ASYNC_CANCEL SQE, which may use the SQ beyond
 *   `maxInFlight` (the raw ring's op table has no limit of its own here).
 * - **One listener per signal.** However many ops share an `AbortSignal`, the ring adds one
 *   `'abort'` listener for them (no `MaxListenersExceededWarning`), removed with the last.
 *
 * **Re-entrancy.** User code runs synchronously inside this engine in one place: the
 * `fill` of `submit()`/`submitCqe()`/`submitFd()`, run at once or later from the reap path
 * when the op waited for room. Inside a `fill`:
 * - starting other ops runs them (they queue behind ops already waiting);
 * - `close()` marks the ring closing at once and starts closing in a microtask, after the
 *   `fill` returned; the op being filled then rejects with `ERR_RING_CLOSED`;
 * - closing the raw ring (`asyncRing.ring.close()`) is noticed: every op still waiting or
 *   being filled rejects with `ERR_RING_CLOSED`, ops in flight settle through the raw
 *   close's drain;
 * - a `fill` that throws rejects its own op only (its SQE is withdrawn).
 * No Promise method throws synchronously: every failure is a rejection.
 *
 * @module
 */
import { isMainThread } from 'node:worker_threads';
import { IORING_ASYNC_CANCEL_ALL, IORING_ASYNC_CANCEL_ANY, IORING_REGISTER_EVENTFD, IORING_REGISTER_SYNC_CANCEL, IORING_SETUP_DEFER_TASKRUN, IORING_UNREGISTER_EVENTFD } from '../../generated/constants.js';
import { prepCancel, prepTimeout } from '../../generated/ops.js';
import { SIZEOF_IO_URING_SYNC_CANCEL_REG } from '../../generated/structs.js';
import { OP_ID_TAG } from '../abi/op-id.js';
import { ArgumentError, describeReceived } from '../errors.js';
import { createWaker, defaultWakerBackend, WAKER_ENV, type Waker } from '../loop/waker.js';
import { ringClosedError } from '../ring/errors.js';
import { forgetThreadExit, onThreadExit } from '../ring/lifecycle.js';
import type { CompletionHandler } from '../ring/op-table.js';
import { eventfdRearmNeeded, rearmEventfd, type RearmFailure } from '../register/eventfd-rearm.js';
import { claimEventfdSlot, releaseEventfdSlot } from '../register/eventfd-slot.js';
import type { IoUring } from '../ring/ring.js';
import type { Sqe } from '../ring/sqe.js';
import { closeOnTeardown, forgetTeardown } from '../sys/env-cleanup.js';
import { IoUringError } from '../sys/errors.js';
import { createEventfd, EFD_CLOEXEC, EFD_NONBLOCK, readEventfd } from '../sys/libc.js';
import { AbortError } from './abort.js';
import { closeQuietly, PendingOp, type OpExtra, type OpPool, type OpResultKind, type Startable } from './pending-op.js';

const ECANCELED = -125;
const ENOENT = -2;
const EALREADY = -114;
const TWO_32 = 4294967296;

/** Batches submitted from microtasks before the event loop must turn (see `#queueFlush`). */
const MAX_BATCHES_PER_TURN = 64;
/** How long close waits for cancelled ops to settle before closing anyway. */
const CLOSE_WAIT_MS = 10_000;
/** The heartbeat of a Worker's ring (see `Submitter.#beat`): 100 ms. */
const HEARTBEAT_NS = 100_000_000;
/** How often a ring whose eventfd cannot be re-armed reaps anyway (see `Submitter.#degrade`). */
const SWEEP_MS = 10;
/** Pooled op records kept per ring at most. */
const POOL_MAX = 4096;

/** How a ring wakes Node's event loop. */
export type WakerKind = 'uv' | 'koffi' | 'threadpool';

/** An op waiting for room (backpressure) with what it needs to start later. */
interface Waiting {
  op: Startable;
  fill: (sqe: Sqe) => void;
}

/** The ops sharing one AbortSignal, with the one listener for them. */
interface SignalWatch {
  readonly ops: Set<PendingOp>;
  readonly listener: () => void;
}

const OPEN = 0;
const CLOSING = 1;
const CLOSED = 2;

/** @internal The Promise layer's engine; see the module comment. */
export class Submitter implements OpPool {
  readonly ring: IoUring;
  readonly #waker: Waker;
  /** An eventfd this object created (and must read on wake-up and close), or -1. */
  readonly #ownEventfd: number;
  /**
   * `[fd]`: the eventfd registered with the ring (-1: the waker watches the ring fd itself),
   * as the argument of its (re-)registration.
   */
  readonly #eventfdArg: Int32Array;
  /** Whether each wake-up re-registers the eventfd (a kernel bug; see src/register/eventfd-rearm.ts). */
  #rearm = false;
  /** Set when re-registering was refused: a timer reaps while ops are in flight (see #degrade). */
  #sweep: NodeJS.Timeout | undefined;
  /** Most Promise-layer ops in the kernel at once. */
  readonly maxInFlight: number;
  #state = OPEN;
  #closing: Promise<void> | undefined;
  #flushQueued = false;
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
  readonly #pool: PendingOp[] = [];
  readonly #watches = new WeakMap<AbortSignal, SignalWatch>();
  /** Whether sync cancel was refused (a restricted ring): cancel with SQEs from then on. */
  #syncCancelRefused = false;
  readonly #syncCancelBytes = new Uint8Array(SIZEOF_IO_URING_SYNC_CANCEL_REG);
  readonly #syncCancelWords = new Uint32Array(this.#syncCancelBytes.buffer);
  /** In a Worker: the thread-exit hook that tears this ring down synchronously. */
  readonly #exitHook: (() => void) | undefined;
  readonly #inWorker = !isMainThread;

  constructor(ring: IoUring, waker: 'uv' | 'koffi' | 'threadpool' | 'auto' | undefined, maxInFlight: number | undefined) {
    this.ring = ring;
    this.maxInFlight = maxInFlight ?? ring.params.cqEntries;
    let ownEventfd = -1;
    try {
      // With DEFER_TASKRUN, completions that arrive later (timers, sockets, pipes) wait as
      // deferred work that only makes the ring fd readable for poll(2), never for epoll,
      // which is what libuv uses. An eventfd registered with the ring is signalled for
      // them, so watch that instead (measured: epoll on the ring fd slept through a 20 ms
      // timeout; the eventfd woke it at 20 ms).
      const deferred = (ring.params.setupFlags & IORING_SETUP_DEFER_TASKRUN) !== 0;
      // In a Worker the default is the threadpool waker: koffi's poll handle calls into
      // JavaScript when its fd turns readable, and if that happens while worker.terminate()
      // tears the Worker's environment down (completions still arriving), Node aborts the
      // whole process. Node's own fs read skips its callback then, and waits for the read:
      // the heartbeat below bounds that wait.
      const requested = waker ?? (this.#inWorker && process.env[WAKER_ENV] === undefined ? 'threadpool' : 'auto');
      const threadpool = requested === 'threadpool' || (requested === 'auto' && defaultWakerBackend().backend === 'threadpool');
      if (deferred && !threadpool) {
        ownEventfd = createEventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        closeOnTeardown(ownEventfd);
      }
      const watched = ownEventfd >= 0 ? ownEventfd : ring.fd;
      this.#waker = createWaker(watched, () => this.#onReady(), { backend: requested });
      const eventfd = ownEventfd >= 0 ? ownEventfd : this.#waker.eventfd;
      this.#eventfdArg = new Int32Array([eventfd]);
      if (eventfd >= 0) ring.register(IORING_REGISTER_EVENTFD, this.#eventfdArg, 1);
      // Only DEFER_TASKRUN rings depend on deferred signals (their completion work is
      // announced by the eventfd alone); elsewhere CQEs are posted, and the eventfd
      // signalled, by this thread's own task work.
      this.#rearm = eventfd >= 0 && deferred && eventfdRearmNeeded();
      // The slot is ours: registerEventfd / unregisterEventfd refuse to take it (see eventfd-slot.ts).
      if (eventfd >= 0) claimEventfdSlot(ring, { kind: 'async', fd: eventfd });
      this.#ownEventfd = ownEventfd;
      this.#heartbeatWanted = this.#inWorker && this.#waker.backend === 'threadpool';
      // worker.terminate() runs no JavaScript: the threadpool waker's eventfd is closed natively.
      if (this.#waker.backend === 'threadpool') closeOnTeardown(this.#waker.eventfd);
      // On the main thread the waker stays armed (an idle, unreferenced poll costs nothing).
      // In a Worker it is armed only while something is in flight: an armed poll whose fd is
      // readable while the Worker's environment is torn down would call into JavaScript
      // that can no longer run, which aborts the process.
      if (!this.#inWorker) this.#waker.arm();
      this.#waker.unref();
    } catch (err) {
      ring.close();
      if (ownEventfd >= 0) {
        forgetTeardown(ownEventfd);
        closeQuietly(ownEventfd);
      }
      throw err;
    }
    if (this.#inWorker) {
      this.#exitHook = () => this.#teardownNow();
      onThreadExit(this.#exitHook);
    }
  }

  get wakerBackend(): WakerKind {
    return this.#waker.backend;
  }

  /** Whether close() was called (or the raw ring was closed under us). */
  get closed(): boolean {
    return this.#state !== OPEN || this.ring.closed;
  }

  /** Ops waiting for room. */
  get waiting(): number {
    return this.#waiting.length - this.#waitingHead;
  }

  /** Ops submitted and not yet completed, plus those waiting for room. */
  get pending(): number {
    return this.ring.inFlight + this.ring.staged + this.waiting - (this.#heartbeat ? 1 : 0);
  }

  // -------------------------------------------------------------------------------------
  // The op record pool (OpPool)

  /** A record for a new op, with its promise. */
  begin(kind: OpResultKind, opcode: number): PendingOp {
    const op = this.#pool.pop() ?? new PendingOp(this);
    op.begin(kind, opcode);
    return op;
  }

  recycle(op: PendingOp): void {
    if (this.#pool.length < POOL_MAX) this.#pool.push(op);
  }

  finished(op: PendingOp): void {
    const signal = op.signal;
    if (signal === undefined) return;
    const watch = this.#watches.get(signal);
    if (watch === undefined) return;
    watch.ops.delete(op);
    if (watch.ops.size === 0) {
      signal.removeEventListener('abort', watch.listener);
      this.#watches.delete(signal);
    }
  }

  // -------------------------------------------------------------------------------------
  // Starting ops

  /**
   * An SQE for a Promise-layer op, or null when `maxInFlight` ops are out or the ring is
   * closing. Submits what is staged if only the SQ is full.
   */
  acquire(): Sqe | null {
    if (this.#state !== OPEN) return null;
    const ring = this.ring;
    if (ring.closed) {
      this.#ringLost();
      return null;
    }
    if (ring.inFlight + ring.staged >= this.maxInFlight) return null;
    let sqe = ring.getSqe();
    if (sqe === null && ring.staged > 0) {
      this.#flush();
      if (this.#state !== OPEN || ring.closed) return null;
      sqe = ring.getSqe();
    }
    return sqe;
  }

  /** Whether ops wait for room (new ones must queue behind them, in order). */
  get hasWaiting(): boolean {
    return this.#waitingHead !== this.#waiting.length;
  }

  /** Hands a filled SQE to the ring for `op` (watching `signal`) and schedules the submit. */
  launch(op: PendingOp, sqe: Sqe, signal: AbortSignal | undefined): void {
    op.launched = true;
    this.ring.setHandler(sqe, op);
    if (signal !== undefined) {
      op.id = sqe.id;
      this.#watchSignal(op, signal);
      // Aborted while `fill` ran (user code): the listener came too late to see it.
      if (signal.aborted) this.#abort(op);
    }
    if (!this.#flushQueued) this.#queueFlush();
  }

  /**
   * The common path of every Promise method: `fill` writes the SQE and may throw (bad
   * arguments): the promise then rejects and nothing is submitted. Never throws.
   */
  start(kind: OpResultKind, opcode: number, fill: (sqe: Sqe) => void, signal: unknown, extra: OpExtra | undefined): Promise<unknown> {
    if (this.closed) return Promise.reject(ringClosedError('AsyncIoUring'));
    if (signal !== undefined) {
      if (!(signal instanceof AbortSignal)) {
        return Promise.reject(new ArgumentError('ERR_INVALID_ARG_TYPE', 'options.signal', `expected an AbortSignal, received ${describeReceived(signal)}`));
      }
      if (signal.aborted) return Promise.reject(new AbortError(undefined, { cause: signal.reason }));
    }
    const op = this.begin(kind, opcode);
    const promise = op.promise;
    if (extra !== undefined) op.extra = extra;
    // Others are already waiting for room: keep FIFO order.
    const sqe = this.hasWaiting ? null : this.acquire();
    if (sqe === null) {
      this.#enqueue(op, fill, signal as AbortSignal | undefined);
      return promise;
    }
    if (!this.#fillNow(op, sqe, fill)) return promise;
    this.launch(op, sqe, signal as AbortSignal | undefined);
    return promise;
  }

  /**
   * Runs user code that fills `sqe` for `op`. Returns false when the op was settled
   * instead (the fill threw, the ring was closed while it ran, or its signal fired while
   * it ran); its SQE is withdrawn.
   */
  #fillNow(op: PendingOp, sqe: Sqe, fill: (sqe: Sqe) => void): boolean {
    const life = op.life;
    let failure: unknown;
    let threw = false;
    try {
      fill(sqe);
    } catch (err) {
      threw = true;
      failure = err;
    }
    // User code ran: the op may have been settled (aborted) meanwhile, and its record may
    // already serve another op. Then it is not ours to settle or launch any more.
    const settled = op.life !== life || op.done;
    if (threw || settled) {
      this.#withdraw(sqe);
      if (!settled) op.reject(failure);
      return false;
    }
    if (sqe.cancelKey !== undefined) {
      this.#withdraw(sqe);
      op.reject(new ArgumentError('ERR_INVALID_ARG_VALUE', 'AsyncIoUring.submit: sqe.cancelKey', 'cancel keys are for the raw API: a promise needs to know which op a CQE ends (use options.signal to cancel)'));
      return false;
    }
    // The fill may have closed this ring or the raw ring (re-entrancy: see the module comment).
    if (this.#state !== OPEN || this.ring.closed) {
      this.#withdraw(sqe);
      op.reject(ringClosedError('AsyncIoUring'));
      if (this.ring.closed) this.#ringLost();
      return false;
    }
    if (op.opcode < 0) op.opcode = sqe.view.getUint8(sqe.offset);
    return true;
  }

  #withdraw(sqe: Sqe): void {
    if (this.ring.closed) return;
    this.ring.discardSqe(sqe);
    // Its room is free again: ops waiting for room must not wait for a completion.
    if (this.hasWaiting) this.#queueFlush();
  }

  /**
   * @internal Starts a long-lived handler (a multishot op): now if there is room, else
   * after the ops already waiting. Throws (synchronously) if the ring is closed or `fill`
   * refuses its arguments right away; a `fill` that fails later calls `handler.reject`.
   */
  launchHandler(handler: Startable, fill: (sqe: Sqe) => void): void {
    if (this.closed) throw ringClosedError('AsyncIoUring');
    handler.launched = false;
    handler.done = false;
    handler.id = -1;
    if (!this.hasWaiting) {
      const sqe = this.acquire();
      if (sqe !== null) {
        try {
          fill(sqe);
        } catch (err) {
          this.#withdraw(sqe);
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
    this.#queueFlush();
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
    if (!this.ring.closed) this.#cancel(handler.id);
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

  #enqueue(op: PendingOp, fill: (sqe: Sqe) => void, signal: AbortSignal | undefined): void {
    this.#waiting.push({ op, fill });
    if (signal !== undefined) this.#watchSignal(op, signal);
    this.#setReferenced(true);
    // Room may free up without a completion (a fill that threw gave its SQE back): the
    // flush's refill pass starts what waits whenever there is room.
    this.#queueFlush();
  }

  // -------------------------------------------------------------------------------------
  // Abort and cancel

  #watchSignal(op: PendingOp, signal: AbortSignal): void {
    op.signal = signal;
    let watch = this.#watches.get(signal);
    if (watch === undefined) {
      const ops = new Set<PendingOp>();
      const listener = (): void => {
        this.#watches.delete(signal);
        const targets = [...ops];
        ops.clear();
        // Aborting one op can run user code (a cancel flushes; the refill runs `fill`s) that
        // finishes others and reuses their pooled records for new ops: abort a record only
        // while it is still an op on this signal.
        for (const o of targets) if (o.signal === signal && !o.done) this.#abort(o);
      };
      watch = { ops, listener };
      this.#watches.set(signal, watch);
      signal.addEventListener('abort', listener, { once: true });
    }
    watch.ops.add(op);
  }

  #abort(op: PendingOp): void {
    if (op.done || op.aborted) return;
    op.aborted = true;
    if (!op.launched) {
      // Still waiting for room: it never reached the kernel.
      this.#removeWaiting(op);
      op.reject(new AbortError(undefined, { cause: op.signal?.reason }));
      return;
    }
    // In the kernel (or about to be): cancel by id. The op's own CQE settles it.
    this.#cancel(op.id);
  }

  /**
   * Cancels op `targetId`, never waiting for room: a synchronous cancel through
   * `io_uring_register` (after submitting what is staged, so the kernel knows the op).
   * Only where that is refused (a restricted ring), an ASYNC_CANCEL SQE.
   */
  #cancel(targetId: number): void {
    const ring = this.ring;
    if (ring.closed) return;
    if (ring.staged > 0) this.#flush();
    if (ring.closed) return;
    if (!this.#syncCancelRefused) {
      // struct io_uring_sync_cancel_reg: addr = the op's user_data, flags 0 (match by
      // user_data), a zero timeout (never wait here: the op's own CQE settles it).
      const words = this.#syncCancelWords;
      words.fill(0);
      const slot = targetId % TWO_32;
      words[0] = slot;
      words[1] = (OP_ID_TAG | ((targetId - slot) / TWO_32)) >>> 0;
      words[2] = -1 >>> 0; // fd
      if (this.#syncCancel()) return;
    }
    this.#cancelWithSqe((s) => prepCancel(s, targetId));
  }

  /** An ASYNC_CANCEL SQE, outside `maxInFlight` (the raw ring's table has room for it). */
  #cancelWithSqe(fill: (sqe: Sqe) => void): void {
    const ring = this.ring;
    let sqe = ring.getSqe();
    if (sqe === null) {
      this.#flush();
      if (ring.closed) return;
      sqe = ring.getSqe();
    }
    if (sqe === null) {
      // The kernel refused to take the SQ's SQEs (EBUSY under CQ pressure): retry once
      // completions free some. Nobody awaits a cancel, so it waits as a handler without a
      // promise (a rejected promise no one observes would be an unhandled rejection).
      this.#waiting.unshift({ op: new QueuedCancel(), fill });
      this.#setReferenced(true);
      return;
    }
    fill(sqe);
    ring.setHandler(sqe, cancelSink);
    this.#queueFlush();
  }

  #removeWaiting(op: Startable): void {
    const i = this.#waiting.findIndex((w, k) => k >= this.#waitingHead && w.op === op);
    if (i >= 0) this.#waiting.splice(i, 1);
    this.#setReferenced(this.pending > 0);
  }

  // -------------------------------------------------------------------------------------
  // Submitting and reaping

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

  #flush(): void {
    this.#flushQueued = false;
    const ring = this.ring;
    if (ring.closed) {
      this.#ringLost();
      return;
    }
    if (ring.staged > 0) {
      try {
        ring.submit();
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
    // Ordering: re-register first, then reap. Work whose signal the old registration
    // dropped has set IORING_SQ_TASKRUN, and the reap below runs it; work added from now
    // on signals the new registration (src/register/eventfd-rearm.ts says why).
    if (this.#rearm) this.#rearmEventfd();
    this.#reapAndRefill();
  }

  #rearmEventfd(): void {
    const failure = rearmEventfd(this.ring, this.#eventfdArg);
    if (failure !== null) this.#degrade(failure);
  }

  /**
   * The eventfd could not be registered again (a ring whose restrictions refuse it):
   * completion work may now wait unannounced (or, when the eventfd was lost, always does).
   * Reap on a timer while ops are in flight, so that nothing waits longer than
   * {@link SWEEP_MS}; say so once.
   */
  #degrade(failure: RearmFailure): void {
    this.#rearm = false;
    if (failure.lost) releaseEventfdSlot(this.ring);
    process.emitWarning(
      `tsuring: could not register this ring's eventfd again (${failure.error.message})${failure.lost ? ', and the ring has none now' : ''}. This kernel drops deferred eventfd signals after the first (a kernel bug since Linux 6.11), so completions are now also checked every ${SWEEP_MS} ms`,
      { code: 'TSURING_EVENTFD_SWEEP' },
    );
    this.#sweep = setInterval(() => {
      if (this.pending > 0) this.#onReady();
    }, SWEEP_MS);
    this.#sweep.unref();
  }

  #reapAndRefill(): void {
    const ring = this.ring;
    if (ring.closed) {
      this.#ringLost();
      return;
    }
    // Ops that completed inline during submit, or since the waker fired.
    ring.forEachCqe();
    this.#startWaiting();
    const pending = this.pending;
    this.#setReferenced(pending > 0);
    if (pending === 0 && this.#onDrained !== undefined) this.#onDrained();
  }

  /** Whether {@link Submitter.#startWaiting} is running (it must not nest: see there). */
  #refilling = false;

  /**
   * Starts waiting ops while there is room.
   *
   * Re-entrancy: getting an SQE may submit (when only the SQ is full), and submitting reaps,
   * which would start waiting ops again from inside this loop; user `fill`s run here too and
   * may start or abort ops. So the loop does not nest (a nested call returns at once; this
   * one goes on), and it re-checks the queue's head after every step that can run code.
   */
  #startWaiting(): void {
    if (this.#refilling) return;
    this.#refilling = true;
    const waiting = this.#waiting;
    let started = false;
    try {
      while (this.#waitingHead < waiting.length) {
        const next = waiting[this.#waitingHead]!;
        if (next.op.done) {
          this.#waitingHead++;
          continue;
        }
        const sqe = next.op instanceof QueuedCancel ? this.ring.getSqe() : this.acquire();
        if (sqe === null) break;
        // acquire() may have run code (a submit and its reap): the head may have moved.
        if (waiting[this.#waitingHead] !== next || next.op.done) {
          this.#withdraw(sqe);
          continue;
        }
        this.#waitingHead++;
        const op = next.op;
        if (op instanceof PendingOp) {
          if (!this.#fillNow(op, sqe, next.fill)) {
            if (this.#state !== OPEN) return;
            continue;
          }
        } else {
          try {
            next.fill(sqe);
          } catch (err) {
            this.#withdraw(sqe);
            op.done = true;
            op.reject(err);
            continue;
          }
        }
        op.launched = true;
        op.id = sqe.id;
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
    } finally {
      this.#refilling = false;
    }
    if (started) this.#queueFlush();
  }

  /** Whether this ring keeps a heartbeat timeout in flight while it is referenced (see #beat). */
  readonly #heartbeatWanted: boolean = false;
  /** A heartbeat timeout is in flight. */
  #heartbeat = false;
  readonly #heartbeatTs = { sec: 0, nsec: HEARTBEAT_NS };
  readonly #heartbeatHandler: CompletionHandler = {
    complete: (_res, _flags, final) => {
      if (!final) return;
      this.#heartbeat = false;
      if (this.#referenced) this.#beat();
      else this.#setReferenced(this.pending > 0);
    },
  };

  /**
   * In a Worker with the threadpool waker, a short timeout stays in flight while anything
   * else does: when worker.terminate() tears the environment down, Node waits for the
   * waker's pending read of the eventfd, and this CQE (within {@link HEARTBEAT_NS}) ends
   * that wait even when nothing else would ever complete (a read on an idle pipe).
   */
  #beat(): void {
    if (this.#heartbeat || this.#state !== OPEN || this.ring.closed) return;
    const sqe = this.ring.getSqe();
    if (sqe === null) return; // the SQ is full: the next reap tries again
    prepTimeout(sqe, this.#heartbeatTs, 0, 0);
    this.ring.setHandler(sqe, this.#heartbeatHandler);
    this.#heartbeat = true;
    this.#queueFlush();
  }

  #setReferenced(on: boolean): void {
    if (on && this.#heartbeatWanted && !this.#heartbeat) this.#beat();
    if (on === this.#referenced || this.#waker.closed) return;
    this.#referenced = on;
    if (on) {
      if (this.#inWorker) this.#waker.arm();
      this.#waker.ref();
    } else {
      this.#waker.unref();
      if (this.#inWorker) {
        this.#waker.disarm();
        // Nothing is in flight: clear a signal left over from completions reaped inline,
        // so the (disarmed) eventfd is not readable while the Worker might end.
        if (this.#ownEventfd >= 0) readEventfd(this.#ownEventfd);
      }
    }
  }

  // -------------------------------------------------------------------------------------
  // Close

  /**
   * Rejects ops still waiting for room, cancels what is in flight and waits (without
   * blocking the event loop) until the kernel has finished with every buffer, then closes
   * the ring. Idempotent; the work starts in a microtask (so a `fill` that closes the ring
   * finishes first).
   */
  close(): Promise<void> {
    if (this.#closing === undefined) {
      if (this.#state === OPEN) this.#state = CLOSING;
      this.#closing = Promise.resolve().then(() => this.#doClose());
    }
    return this.#closing;
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
    this.#rejectWaiting();
    const ring = this.ring;
    if (!ring.closed && ring.staged > 0) this.#flush();
    if (!ring.closed && ring.inFlight > 0) {
      this.#setReferenced(true);
      const drained = new Promise<void>((resolve) => {
        this.#onDrained = resolve;
      });
      this.#cancelAll();
      // The raw ring's close() would wait out stragglers too, but blocking the loop.
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([drained, new Promise<void>((resolve) => { timer = setTimeout(resolve, CLOSE_WAIT_MS); })]);
      clearTimeout(timer);
      this.#onDrained = undefined;
    }
    this.#teardownNow();
  }

  /** Cancels everything in flight: sync cancel ANY | ALL, or one ASYNC_CANCEL SQE. */
  /**
   * `IORING_REGISTER_SYNC_CANCEL` with the request in `#syncCancelWords`. True when that
   * settled it; false when the kernel refuses the call itself (EACCES under restrictions,
   * EINVAL before 6.0), remembered so the SQE path is taken from then on.
   */
  #syncCancel(): boolean {
    try {
      this.ring.register(IORING_REGISTER_SYNC_CANCEL, this.#syncCancelBytes, 1);
      return true;
    } catch (err) {
      // ENOENT: already done (its CQE is on the way); ETIME/EALREADY: running, it ends by itself.
      if (err instanceof IoUringError && (err.code === 'ENOENT' || err.code === 'ETIME' || err.code === 'EALREADY')) return true;
      if (!(err instanceof IoUringError && (err.code === 'EACCES' || err.code === 'EINVAL'))) throw err;
      this.#syncCancelRefused = true;
      return false;
    }
  }

  #cancelAll(): void {
    if (!this.#syncCancelRefused) {
      const words = this.#syncCancelWords;
      words.fill(0);
      words[2] = -1 >>> 0;
      words[3] = IORING_ASYNC_CANCEL_ANY | IORING_ASYNC_CANCEL_ALL;
      if (this.#syncCancel()) return;
    }
    // ANY | ALL: every op of this ring, whatever its id (the id is ignored).
    this.#cancelWithSqe((s) => prepCancel(s, 0, IORING_ASYNC_CANCEL_ANY | IORING_ASYNC_CANCEL_ALL));
  }

  #rejectWaiting(): void {
    const closedError = ringClosedError('AsyncIoUring');
    for (let i = this.#waitingHead; i < this.#waiting.length; i++) {
      const { op } = this.#waiting[i]!;
      if (op.done) continue;
      op.done = true;
      op.reject(closedError);
    }
    this.#waiting.length = 0;
    this.#waitingHead = 0;
  }

  /** The raw ring was closed under us (`asyncRing.ring.close()`): settle what waits, stop. */
  #ringLost(): void {
    if (this.#state === CLOSED) return;
    if (this.#state === OPEN) this.#state = CLOSING;
    this.#closing ??= Promise.resolve();
    for (const hook of [...this.#closeHooks]) {
      try { hook(); } catch { /* the ring is gone either way */ }
    }
    this.#closeHooks.clear();
    this.#rejectWaiting();
    this.#teardownNow();
  }

  /** Closes waker, ring and eventfd now, synchronously (the ring's close drains what is left). */
  #teardownNow(): void {
    if (this.#state === CLOSED) return;
    this.#state = CLOSED;
    if (this.#exitHook !== undefined) forgetThreadExit(this.#exitHook);
    if (this.#sweep !== undefined) clearInterval(this.#sweep);
    const ring = this.ring;
    if (this.#eventfdArg[0]! >= 0 && !ring.closed) {
      try {
        ring.register(IORING_UNREGISTER_EVENTFD, null, 0);
        releaseEventfdSlot(ring);
      } catch {
        /* closing the ring drops it anyway */
      }
    }
    this.#waker.close();
    ring.close();
    if (this.#ownEventfd >= 0) {
      forgetTeardown(this.#ownEventfd);
      closeQuietly(this.#ownEventfd);
    }
    this.#rejectWaiting();
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
