/**
 * Waking Node's event loop when a ring has completions, with no thread of our own and
 * no busy polling.
 *
 * Three backends behind one {@link Waker} interface:
 *
 * - `'uv'`: a `uv_poll_t` on the ring fd, made through Node's exported libuv with a
 *   koffi-registered callback. Main thread only; the default there. (In a Worker such a
 *   handle cannot be closed when `worker.terminate()` tears the loop down, and Node then
 *   aborts the whole process.)
 * - `'koffi'`: koffi's own `uv_poll_t` wrapper (`koffi.node.poll`) on the ring fd. It
 *   uses the calling thread's loop and is closed by a native finalizer at environment
 *   teardown, so it is the default inside Workers. koffi's shared object is pinned
 *   in memory first, or its close callback would run after Node unloaded it (SIGSEGV).
 * - `'threadpool'`: the fallback when neither is available. The waker owns a blocking
 *   eventfd, which the ring registers with `IORING_REGISTER_EVENTFD` (see
 *   {@link Waker.eventfd}); an `fs.read` of it waits in libuv's threadpool. Limits:
 *   about 70 µs per wake-up instead of about 3; each armed waker occupies one threadpool
 *   thread (4 by default, `UV_THREADPOOL_SIZE`), slowing `fs`, `dns` and `crypto`; a
 *   pending read cannot be unreferenced, so `unref()` suspends the wait until `ref()`;
 *   and Node waits for pending reads when an environment ends, so in a Worker
 *   `worker.terminate()` takes until the next completion unless the waker was closed
 *   first (`process.exit()` is handled: an 'exit' listener closes every such waker).
 *
 * Choice: `options.backend`, else the `TSURING_WAKER` environment variable, else
 * `'uv'` on the main thread, `'koffi'` in a Worker, and `'threadpool'` when the chosen
 * one is unavailable.
 *
 * **When `onReady` runs.** On the JS thread that created the waker, from the event
 * loop's poll phase (`'uv'`, `'koffi'`) or as an `fs` callback (`'threadpool'`); never
 * synchronously inside `arm()`, never after `close()`.
 *
 * **Microtasks.** koffi invokes the poll callback with `napi_call_function`, outside any
 * callback scope, so nothing drains the nextTick and microtask queues right after it.
 * Node does so anyway in the same loop iteration: its check phase always runs the native
 * immediate queue inside an `InternalCallbackScope`, and closing that scope drains both
 * queues, before any `setImmediate` callback and before timers (about 0.4 µs after
 * `onReady` returns, measured on Node 20). `test/loop/waker.test.ts` pins that order, so
 * a Node release that changes it fails the suite rather than stalling awaits. The
 * threadpool backend runs inside Node's own `fs` callback scope.
 *
 * **Exceptions** thrown by `onReady` are rethrown from a microtask, so they reach
 * `process.on('uncaughtException')` or end the process with the usual report, exactly
 * like an exception thrown in an `fs` callback. They are never swallowed, and never left
 * pending inside Node-API, where they would surface in some unrelated later call.
 *
 * **Level-triggered.** The poll backends call `onReady` on every loop iteration while
 * the fd is readable: `onReady` must reap every CQE (or `disarm()`), or the loop spins.
 * The threadpool backend consumes the eventfd counter before calling `onReady`.
 *
 * One poll-backend waker per fd per thread: a second is refused with EEXIST.
 *
 * @module
 */
import { read as fsRead } from 'node:fs';
import { isMainThread } from 'node:worker_threads';
import { ArgumentError, describeReceived } from '../errors.js';
import { errorFromErrno } from '../sys/errors.js';
import { closeFd, createEventfd, EFD_CLOEXEC, writeEventfd } from '../sys/libc.js';
import {
  koffiPollOpen,
  koffiPollSupport,
  uvHandleState,
  uvPollClose,
  uvPollOpen,
  uvPollStart,
  uvPollStop,
  uvPollSupport,
  uvRef,
  uvUnref,
  UV_READABLE,
  type KoffiPoll,
} from '../sys/uv.js';

/** How a {@link Waker} waits. */
export type WakerBackend = 'uv' | 'koffi' | 'threadpool';

/** Options of {@link createWaker}. */
export interface WakerOptions {
  /**
   * Force a backend (`'auto'`: see the module notes). Overrides `TSURING_WAKER`.
   * Forcing one this thread cannot use throws.
   */
  backend?: WakerBackend | 'auto';
}

/** Environment variable that forces a backend when no option does. */
export const WAKER_ENV = 'TSURING_WAKER';

/**
 * Calls `onReady` on the event loop when the ring has completions to reap.
 *
 * A new waker is disarmed and referenced: it watches nothing and keeps nothing alive
 * until `arm()`.
 */
export interface Waker extends Disposable {
  /** The backend in use. */
  readonly backend: WakerBackend;
  /** The descriptor watched for readability (the ring fd), or for `'threadpool'` the eventfd. */
  readonly fd: number;
  /**
   * `'threadpool'` only: the eventfd the ring must register with
   * `IORING_REGISTER_EVENTFD` (and unregister before `close()`). -1 for the poll
   * backends, which watch the ring fd itself.
   */
  readonly eventfd: number;
  /** Whether `onReady` will be called when the fd becomes ready. */
  readonly armed: boolean;
  /** Whether an armed waker keeps the process alive. */
  readonly referenced: boolean;
  /** Whether `close()` was called. */
  readonly closed: boolean;
  /** Start watching. Idempotent. Throws after `close()`. */
  arm(): void;
  /** Stop watching; a disarmed waker never keeps the process alive. Idempotent. */
  disarm(): void;
  /** Let an armed waker keep the process alive (the default). Idempotent. */
  ref(): void;
  /**
   * Let the process exit even while armed. On `'threadpool'` this also suspends the
   * wait until `ref()`, since a threadpool read cannot be unreferenced; completions that
   * arrive meanwhile leave the eventfd non-zero and are reported once the wait resumes.
   * Rings unref when nothing is in flight, where this makes no difference.
   */
  unref(): void;
  /**
   * Stop for good and release the handle (or, for `'threadpool'`, the eventfd, once the
   * pending read has been woken and returned). Idempotent; `onReady` is never called
   * afterwards.
   */
  close(): void;
}

/**
 * The backend `'auto'` picks on this thread, honouring `TSURING_WAKER`, and why.
 */
export function defaultWakerBackend(): { backend: WakerBackend; reason: string } {
  const forced = process.env[WAKER_ENV];
  if (forced !== undefined && forced !== '' && forced !== 'auto') {
    return { backend: parseBackend(forced, WAKER_ENV), reason: `${WAKER_ENV}=${forced}` };
  }
  if (isMainThread) {
    const uv = uvPollSupport();
    if (uv.ok) return { backend: 'uv', reason: 'main thread, libuv reachable' };
    const kp = koffiPollSupport();
    if (kp.ok) return { backend: 'koffi', reason: `main thread, ${uv.reason}` };
    return { backend: 'threadpool', reason: `${uv.reason}; ${kp.reason}` };
  }
  const kp = koffiPollSupport();
  if (kp.ok) return { backend: 'koffi', reason: 'Worker thread' };
  return { backend: 'threadpool', reason: `Worker thread; ${kp.reason}` };
}

function parseBackend(value: unknown, name: string): WakerBackend {
  if (value === 'uv' || value === 'koffi' || value === 'threadpool') return value;
  throw new ArgumentError('ERR_INVALID_ARG_VALUE', name, `expected 'auto', 'uv', 'koffi' or 'threadpool', received ${describeReceived(value)}`);
}

/**
 * Creates a waker for `fd` (a ring fd; any pollable fd works for the poll backends).
 *
 * @param onReady - Called on the event loop when `fd` is readable (see the module notes).
 * @throws {@link ArgumentError} for a bad fd, callback or backend name; `Error` when a
 *   forced backend cannot run on this thread.
 */
export function createWaker(fd: number, onReady: () => void, options: WakerOptions = {}): Waker {
  if (typeof fd !== 'number' || (fd | 0) !== fd || fd < 0) {
    throw new ArgumentError('ERR_OUT_OF_RANGE', 'createWaker: fd', `expected a file descriptor, received ${describeReceived(fd)}`);
  }
  if (typeof onReady !== 'function') {
    throw new ArgumentError('ERR_INVALID_ARG_TYPE', 'createWaker: onReady', `expected a function, received ${describeReceived(onReady)}`);
  }
  const requested = options.backend ?? 'auto';
  const backend = requested === 'auto' ? defaultWakerBackend().backend : parseBackend(requested, 'createWaker: options.backend');
  if (backend !== 'threadpool' && polledFds.has(fd)) {
    // libuv only notices a second poll handle on one fd once both are started, and then
    // silently gives the events to one of them.
    throw errorFromErrno(17, 'createWaker', `(fd ${fd} already has a waker on this thread; close it first)`);
  }
  switch (backend) {
    case 'uv': {
      const support = uvPollSupport();
      if (!support.ok) throw new Error(`waker backend 'uv' is unavailable: ${support.reason}`);
      return new UvWaker(fd, onReady);
    }
    case 'koffi': {
      const support = koffiPollSupport();
      if (!support.ok) throw new Error(`waker backend 'koffi' is unavailable: ${support.reason}`);
      return new KoffiWaker(fd, onReady);
    }
    case 'threadpool':
      return new ThreadpoolWaker(onReady);
  }
}

/** Descriptors watched by a live poll-backend waker on this thread. */
const polledFds = new Set<number>();

/** Rethrows outside the native frame, as an uncaught exception (see the module notes). */
function reportUncaught(err: unknown): void {
  queueMicrotask(() => {
    throw err;
  });
}

function closedError(): Error {
  return new Error('this waker is closed');
}

abstract class WakerBase implements Waker {
  abstract readonly backend: WakerBackend;
  abstract readonly fd: number;
  readonly eventfd: number = -1;
  armed = false;
  referenced = true;
  closed = false;

  constructor(protected readonly onReady: () => void) {}

  protected fire(): void {
    if (!this.armed || this.closed) return;
    try {
      this.onReady();
    } catch (err) {
      reportUncaught(err);
    }
  }

  /**
   * A poll handle reports a negative status when its fd broke under it (closed while
   * armed, typically). Level-triggered, it would report it again on every turn, so stop
   * watching and surface the error instead of spinning.
   */
  protected onPollStatus(status: number): void {
    if (status >= 0) {
      this.fire();
      return;
    }
    if (!this.armed || this.closed) return;
    this.disarm();
    reportUncaught(errorFromErrno(-status, 'uv_poll', `(fd ${this.fd})`));
  }

  arm(): void {
    if (this.closed) throw closedError();
    if (this.armed) return;
    this.armed = true;
    this.start();
  }

  disarm(): void {
    if (!this.armed || this.closed) return;
    this.armed = false;
    this.stop();
  }

  ref(): void {
    if (this.referenced || this.closed) return;
    this.referenced = true;
    this.applyRef();
  }

  unref(): void {
    if (!this.referenced || this.closed) return;
    this.referenced = false;
    this.applyRef();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.armed = false;
    this.release();
  }

  [Symbol.dispose](): void {
    this.close();
  }

  protected abstract start(): void;
  protected abstract stop(): void;
  protected abstract applyRef(): void;
  protected abstract release(): void;
}

class UvWaker extends WakerBase {
  readonly backend = 'uv' as const;
  readonly fd: number;
  private handle: number;

  constructor(fd: number, onReady: () => void) {
    super(onReady);
    this.fd = fd;
    this.handle = uvPollOpen(fd, (status) => this.onPollStatus(status));
    polledFds.add(fd);
  }

  protected start(): void {
    uvPollStart(this.handle, UV_READABLE);
  }

  protected stop(): void {
    uvPollStop(this.handle);
  }

  protected applyRef(): void {
    if (this.referenced) uvRef(this.handle);
    else uvUnref(this.handle);
  }

  protected release(): void {
    const handle = this.handle;
    this.handle = 0;
    polledFds.delete(this.fd);
    uvPollClose(handle);
  }

  /** libuv's own view of the handle, for tests; null once closed. */
  handleState(): { active: boolean; referenced: boolean } | null {
    return this.handle === 0 ? null : uvHandleState(this.handle);
  }
}

class KoffiWaker extends WakerBase {
  readonly backend = 'koffi' as const;
  readonly fd: number;
  private readonly poll: KoffiPoll;

  constructor(fd: number, onReady: () => void) {
    super(onReady);
    this.fd = fd;
    this.poll = koffiPollOpen(fd);
    polledFds.add(fd);
  }

  protected start(): void {
    this.poll.start((status) => this.onPollStatus(status));
  }

  protected stop(): void {
    this.poll.stop();
  }

  protected applyRef(): void {
    if (this.referenced) this.poll.ref();
    else this.poll.unref();
  }

  protected release(): void {
    polledFds.delete(this.fd);
    this.poll.close();
  }
}

// A pending threadpool read holds up the teardown of its environment (Node waits for
// in-flight requests), so a Worker calling process.exit() would hang until the next
// completion. Waking every pending read on 'exit' lets it end at once. worker.terminate()
// runs no JS, so there a waker must be closed first (see the module notes).
const liveThreadpoolWakers = new Set<ThreadpoolWaker>();
let exitHookInstalled = false;
function wakeAllOnExit(): void {
  for (const waker of liveThreadpoolWakers) waker.close();
}

class ThreadpoolWaker extends WakerBase {
  readonly backend = 'threadpool' as const;
  readonly fd: number;
  override readonly eventfd: number;
  /** An fs.read is pending in the threadpool (and so holds the eventfd open). */
  private reading = false;
  /**
   * A read returned while the waker was not wanted. The counter it consumed may have
   * held a real completion signal mixed with our own wake-up, so the next wait starts
   * by re-posting one: a spurious onReady is harmless, a lost one is not.
   */
  private missed = false;
  private readonly word = Buffer.alloc(8);

  constructor(onReady: () => void) {
    super(onReady);
    // Blocking on purpose: the read waits in a threadpool thread, never on the JS thread.
    this.eventfd = createEventfd(0, EFD_CLOEXEC);
    this.fd = this.eventfd;
    liveThreadpoolWakers.add(this);
    if (!exitHookInstalled) {
      exitHookInstalled = true;
      process.on('exit', wakeAllOnExit);
    }
  }

  private wanted(): boolean {
    return this.armed && this.referenced && !this.closed;
  }

  private pump(): void {
    if (this.reading || !this.wanted()) return;
    if (this.missed) {
      this.missed = false;
      writeEventfd(this.eventfd, 1);
    }
    this.reading = true;
    fsRead(this.eventfd, this.word, 0, 8, null, (err) => {
      this.reading = false;
      if (this.closed) {
        // close() woke this read; the descriptor could not be closed while a thread
        // was blocked in it (closing does not wake a blocked read on Linux).
        closeFd(this.eventfd);
        return;
      }
      if (err !== null) {
        this.armed = false;
        reportUncaught(err);
        return;
      }
      if (this.wanted()) this.fire();
      else this.missed = true;
      this.pump();
    });
  }

  /** Wakes a pending read so it returns; it then re-arms only if still wanted. */
  private interrupt(): void {
    if (this.reading) writeEventfd(this.eventfd, 1);
  }

  protected start(): void {
    this.pump();
  }

  protected stop(): void {
    this.interrupt();
  }

  protected applyRef(): void {
    if (this.referenced) this.pump();
    else this.interrupt();
  }

  protected release(): void {
    liveThreadpoolWakers.delete(this);
    if (this.reading) this.interrupt();
    else closeFd(this.eventfd);
  }
}
