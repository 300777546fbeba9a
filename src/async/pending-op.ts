/**
 * The record of one single-shot Promise-layer op, from its start to its promise settling,
 * and how its result becomes the promise's value or error.
 *
 * **Allocation.** Records are pooled per ring: starting an op allocates its promise (and
 * the promise's two resolving functions, which JS cannot avoid) and nothing else. A record
 * returns to the pool once its promise is settled and nothing refers to it any more.
 *
 * **Errors that point at the caller.** A rejected op's error carries the awaiting async
 * functions of the caller's code in its stack. The error is created inside a promise
 * reaction whose derived promise the op's own promise was resolved with, so V8's async
 * stack walk goes from that reaction through the op's promise to whoever awaits it. This
 * happens on the error path only (three extra microtask hops); success resolves directly.
 *
 * @module
 */
import { closeFd } from '../sys/libc.js';
import { errorFromCqeRes, type IoUringError } from '../sys/errors.js';
import { opNameOf } from '../ring/cqe.js';
import type { CompletionHandler } from '../ring/op-table.js';
import { AbortError } from './abort.js';

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

/** Where a finished record goes: its ring's pool. @internal */
export interface OpPool {
  recycle(op: PendingOp): void;
  /** The op finished (its CQE came, or it was withdrawn): forget its signal watch. */
  finished(op: PendingOp): void;
}

// One executor for every op's promise: it hands the resolving functions over through
// these two variables, so starting an op allocates no closure of its own.
let nextResolve: (value: unknown) => void = () => {};
let nextReject: (reason: unknown) => void = () => {};
function captureResolvers(resolve: (value: unknown) => void, reject: (reason: unknown) => void): void {
  nextResolve = resolve;
  nextReject = reject;
}

/** One single-shot op: the handler the ring calls with its CQE. @internal */
export class PendingOp implements Startable {
  resolve: (value: unknown) => void = nextResolve;
  rejectFn: (reason: unknown) => void = nextReject;
  promise: Promise<unknown> = Promise.resolve();
  kind: OpResultKind = OpResult.Res;
  /** The opcode, for error messages (-1 until known for `submit`). */
  opcode = -1;
  launched = false;
  /** Op id, taken only for ops that may need cancelling (they have a signal). */
  id = -1;
  signal: AbortSignal | undefined = undefined;
  aborted = false;
  done = false;
  extra: OpExtra | undefined = undefined;
  /**
   * Which op the record currently is: bumped by every {@link PendingOp.begin}. Code that
   * runs user code (a `fill`) while holding a record compares it before and after: a record
   * settled meanwhile may already serve another op.
   */
  life = 0;
  readonly #pool: OpPool;

  constructor(pool: OpPool) {
    this.#pool = pool;
  }

  /** Starts the record's life as a new op: a fresh promise, fields reset. */
  begin(kind: OpResultKind, opcode: number): Promise<unknown> {
    const promise = new Promise(captureResolvers);
    this.life++;
    this.promise = promise;
    this.resolve = nextResolve;
    this.rejectFn = nextReject;
    this.kind = kind;
    this.opcode = opcode;
    this.launched = false;
    this.id = -1;
    this.signal = undefined;
    this.aborted = false;
    this.done = false;
    this.extra = undefined;
    return promise;
  }

  /** Rejects the promise (it can never start, or was withdrawn) and recycles the record. */
  reject(reason: unknown): void {
    this.done = true;
    const reject = this.rejectFn;
    this.#pool.finished(this);
    this.#release();
    reject(reason);
  }

  complete(res: number, flags: number, final: boolean): void {
    if (!final) return;
    this.done = true;
    const { resolve, kind, extra, opcode, aborted, signal } = this;
    if (signal !== undefined) this.#pool.finished(this);
    this.#release();
    if (aborted) {
      // The op ran anyway (it won the race with its cancel): don't leak what it made.
      if (res >= 0) {
        if (kind === OpResult.Fd) closeQuietly(res);
        if (extra?.onAbandoned !== undefined) extra.onAbandoned(res);
      }
      rejectWithCallerStack(resolve, () => new AbortError(undefined, { cause: signal?.reason }));
      return;
    }
    if (extra === undefined) {
      if (res < 0) rejectWithCallerStack(resolve, () => errorFromCqeRes(res, opNameOf(opcode)));
      else resolve(kind === OpResult.Res || kind === OpResult.Fd ? res : kind === OpResult.Cqe ? { res, flags } : undefined);
      return;
    }
    if (res < 0 && res !== extra.okErr) {
      rejectWithCallerStack(resolve, () => opError(res, opcode, extra));
      return;
    }
    if (extra.map === undefined) {
      resolve(kind === OpResult.Cqe ? { res, flags } : kind === OpResult.Void ? undefined : res);
      return;
    }
    let value: unknown;
    try {
      value = extra.map(res, flags);
    } catch (err) {
      rejectWithCallerStack(resolve, () => err);
      return;
    }
    resolve(value);
  }

  /** Drops references and returns the record to the pool. */
  #release(): void {
    this.extra = undefined;
    this.signal = undefined;
    this.resolve = noop;
    this.rejectFn = noop;
    this.promise = SETTLED;
    this.#pool.recycle(this);
  }
}

const noop = (): void => {};
const SETTLED: Promise<unknown> = Promise.resolve();

/**
 * Rejects the promise whose resolve function is `resolve` with the error `make` returns,
 * created inside a promise reaction chained to that promise, so that its stack includes
 * the async functions awaiting it (see the module comment).
 *
 * Order matters: `resolve(derived)` queues the job that links `derived` to the op's
 * promise before `trigger()` queues the reaction that creates the error, so the link
 * exists when the error is made.
 */
export function rejectWithCallerStack(resolve: (value: unknown) => void, make: () => unknown): void {
  let trigger!: () => void;
  const gate = new Promise<void>((r) => {
    trigger = r;
  });
  const derived = gate.then(() => {
    const err = make();
    throw err;
  });
  resolve(derived);
  trigger();
}

/** A Node-style error naming the path(s), as `fs` errors do (`open 'x'`, `rename 'a' -> 'b'`). */
export function opError(res: number, opcode: number, extra: OpExtra): IoUringError {
  if (extra.path === undefined) return errorFromCqeRes(res, opNameOf(opcode));
  const context = extra.dest === undefined ? `'${extra.path}'` : `'${extra.path}' -> '${extra.dest}'`;
  const err = errorFromCqeRes(res, opNameOf(opcode), context) as IoUringError & { path?: string; dest?: string };
  err.path = extra.path;
  if (extra.dest !== undefined) err.dest = extra.dest;
  return err;
}

/** Closes a descriptor that was ours to close, ignoring failure. */
export function closeQuietly(fd: number): void {
  try {
    closeFd(fd);
  } catch {
    /* it was ours to close; nothing else can be done */
  }
}
