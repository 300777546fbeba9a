/**
 * `IoUring`: the public handle of one io_uring instance. The work is done by the modules
 * it delegates to, over a shared {@link RingCore}:
 *
 * | concern | module |
 * | --- | --- |
 * | options → negotiated, mapped ring | `open.ts` (with `setup.ts`, `negotiate.ts`, `memory.ts`) |
 * | SQE handles, staging, publishing the SQ tail | `squeue.ts` |
 * | reading and delivering CQEs | `cqueue.ts` |
 * | `io_uring_enter`: submit and wait | `enter.ts` |
 * | close, close on GC, close at Worker exit | `lifecycle.ts` |
 * | resizing | `resize.ts` |
 *
 * Memory rules (see DESIGN.md, "The runtime"):
 * - Views over memory that can be unmapped live only in the core, never in user hands.
 *   User code gets copies (`Cqe` snapshots), JS-owned staging memory, or (on a ring in
 *   shared memory) views of a `SharedArrayBuffer` that stays ordinary memory after close.
 * - The ring owns `user_data`. Every op holds a slot in the op table from `getSqe()` to
 *   its final CQE, and with it every buffer the kernel may touch.
 *
 * **What each method does when called from inside the ring** (a `forEachCqe` callback,
 * or code it calls; documented in docs/guarantees.md, "Re-entrancy"):
 * - `getSqe`, builders, `discardSqe`, `submit`, `register`, `attach`, `enable`,
 *   introspection: run.
 * - `forEachCqe`, `peekCqe`, `cqeSeen`, `waitCqe`, `submitAndWait`: run, continuing after
 *   the CQE being delivered (it is already consumed): every CQE is delivered exactly once,
 *   and the outer callback's `Cqe` object is not touched.
 * - `close()`: deferred. The ring reports `closed` at once and every other method throws
 *   `ERR_RING_CLOSED`; no further CQE reaches the callback; the ring is drained and torn
 *   down when the outermost `forEachCqe` returns.
 * - `resize()`: refused (`ERR_RING_REENTRANT`): the loop reading the CQ holds its memory.
 *
 * @module
 */
import { IORING_CQ_EVENTFD_DISABLED, IORING_ENTER_REGISTERED_RING, IORING_REGISTER_ENABLE_RINGS, IORING_REGISTER_RING_FDS } from '../../generated/constants.js';
import { IoUringRsrcUpdate, SIZEOF_IO_URING_RSRC_UPDATE } from '../../generated/structs.js';
import { checkIntRange } from '../abi/check.js';
import { ArgumentError, describeReceived } from '../errors.js';
import { closeOnTeardown } from '../sys/env-cleanup.js';
import { closeFd, ioUringRegister } from '../sys/libc.js';
import type { CancelKey } from './cancel-keys.js';
import { OPEN, RingCore, type RingParams, type RingResource } from './core.js';
import type { Cqe } from './cqe.js';
import { peek, reap, seen } from './cqueue.js';
import { enterAndWait, enterSubmit, flushCq, setIowait } from './enter.js';
import type { WaitOptions } from './wait-options.js';
import { RingStateError, ringClosedError } from './errors.js';
import { closeCore, finishDeferredClose, teardown, trackRing } from './lifecycle.js';
import type { CompletionHandler } from './op-table.js';
import { unregisterRingIndex } from './negotiate.js';
import { openRing } from './open.js';
import { Probe } from './probe.js';
import { resizeRing } from './resize.js';
import { setupFlagNames, type IoUringOptions } from './setup.js';
import type { Sqe } from './sqe.js';

export type { RingParams, RingResource } from './core.js';
export { opcodeName } from './opcode-name.js';

/**
 * An io_uring instance.
 *
 * ```ts
 * using ring = new IoUring({ entries: 8 });
 * const sqe = ring.getSqe()!;
 * prepRead(sqe, fd, buf, buf.byteLength, 0);
 * sqe.userData = 'first read';
 * ring.submitAndWait(1);
 * ring.forEachCqe((cqe) => console.log(cqe.userData, cqe.res));
 * ```
 *
 * A ring that becomes unreachable without `close()` is closed when it is garbage-collected
 * (after cancelling and draining what it had in flight), with a warning.
 */
export class IoUring implements Disposable {
  readonly #core: RingCore;
  readonly #msgRingTarget: boolean;
  readonly #flushCq: () => void;

  /** Creates a ring; see {@link IoUringOptions}. Throws a Node-shaped error when the kernel refuses. */
  constructor(options: IoUringOptions = {}) {
    const opened = openRing(options);
    let core: RingCore | undefined;
    try {
      const register = (opcode: number, arg: ArrayBufferView, nrArgs: number): number =>
        ioUringRegister(opened.fd, opcode | (opened.ownsFd ? 0 : 1 << 31), arg, nrArgs);
      core = new RingCore(opened, Probe.read(register));
      if (opened.setup.registerRingFd && opened.ownsFd && !core.disabled) registerRingFd(core);
      // In a Worker, worker.terminate() runs no JavaScript: a native hook closes the fd.
      if (opened.ownsFd) closeOnTeardown(opened.fd);
    } catch (err) {
      // Half-way failures leave nothing behind: the fd closed, the memory unmapped.
      if (core !== undefined) {
        try { teardown(core); } catch { /* the first error matters */ }
      } else {
        try { if (opened.ownsFd) closeFd(opened.fd); else unregisterRingIndex(opened.fd); } catch { /* idem */ }
        for (const region of opened.views.regions) {
          try { region.unmap(); } catch { /* idem */ }
        }
        try { opened.views.memory?.retire(); } catch { /* idem */ }
      }
      throw err;
    }
    this.#core = core;
    this.#msgRingTarget = opened.setup.msgRingTarget;
    this.#flushCq = () => flushCq(core);
    trackRing(this, core);
  }

  #check(what: string): RingCore {
    const core = this.#core;
    if (core.state !== OPEN) throw ringClosedError(what);
    return core;
  }

  #checkEnabled(core: RingCore, what: string): void {
    if (core.disabled) {
      throw new RingStateError('ERR_RING_NOT_ENABLED', `${what}: the ring was created disabled; call enable() (after registering restrictions)`);
    }
  }

  // -------------------------------------------------------------------------------------
  // Introspection

  /** Sizes, flags and features the kernel granted (a new frozen object after {@link IoUring.resize}). */
  get params(): RingParams {
    return this.#core.params;
  }

  /** Which opcodes the running kernel supports (`IORING_REGISTER_PROBE`). */
  get probe(): Probe {
    return this.#core.probe;
  }

  /** The ring's file descriptor (or its registered index with `registeredFdOnly`). */
  get fd(): number {
    return this.#check('IoUring.fd').fd;
  }

  /** Whether `close()` has run (or was called and is deferred until the running reap returns). */
  get closed(): boolean {
    return this.#core.state !== OPEN;
  }

  /** Operations submitted to the kernel whose final CQE has not been reaped (staged SQEs not included). */
  get inFlight(): number {
    const core = this.#core;
    return core.table.live - core.sq.staged;
  }

  /** SQEs prepared (`getSqe()`) and not yet submitted. */
  get staged(): number {
    return this.#core.sq.staged;
  }

  /**
   * SQ entries the kernel has not consumed yet: prepared ones plus submitted ones an SQ
   * thread has not picked up (liburing's `io_uring_sq_ready`).
   */
  get sqReady(): number {
    const core = this.#check('IoUring.sqReady');
    return (core.sq.tail - Atomics.load(core.sq.sq, core.sq.at.sqHead)) >>> 0;
  }

  /** Free SQ slots `getSqe()` can hand out before a submit is needed. */
  get sqSpaceLeft(): number {
    return this.#check('IoUring.sqSpaceLeft').sq.spaceLeft();
  }

  /** CQEs waiting to be reaped. */
  get cqReady(): number {
    return this.#check('IoUring.cqReady').cq.ready();
  }

  /**
   * CQEs lost because the CQ was full, over the ring's life (`cq.koverflow`). With
   * `IORING_FEAT_NODROP` (Linux 5.5) the kernel holds overflowed CQEs back instead
   * (`IORING_SQ_CQ_OVERFLOW` in {@link IoUring.sqFlags}) and reaping posts them, so this
   * stays 0 unless the kernel could not allocate room for one.
   */
  get cqOverflowCount(): number {
    const core = this.#check('IoUring.cqOverflowCount');
    return Atomics.load(core.cq.ring, core.cq.at.cqOverflow);
  }

  /** Invalid SQEs the kernel dropped (`sq.kdropped`). */
  get sqDropped(): number {
    const core = this.#check('IoUring.sqDropped');
    return Atomics.load(core.sq.sq, core.sq.at.sqDropped);
  }

  /** The `IORING_SQ_*` flags word the kernel maintains (NEED_WAKEUP, CQ_OVERFLOW, TASKRUN). */
  get sqFlags(): number {
    const core = this.#check('IoUring.sqFlags');
    return Atomics.load(core.sq.sq, core.sq.at.sqFlags);
  }

  /** The `IORING_CQ_*` flags word the application owns (`IORING_CQ_EVENTFD_DISABLED`); 0 if the kernel has none. */
  get cqFlags(): number {
    const core = this.#check('IoUring.cqFlags');
    const at = core.cq.at.cqFlags;
    return at < 0 ? 0 : Atomics.load(core.cq.ring, at);
  }

  /**
   * Whether a registered eventfd is signalled for new CQEs (liburing's
   * `io_uring_cq_eventfd_enabled` / `_toggle`: clears or sets `IORING_CQ_EVENTFD_DISABLED`).
   * Setting it on a kernel without the CQ flags word throws.
   */
  get cqEventfdEnabled(): boolean {
    return (this.cqFlags & IORING_CQ_EVENTFD_DISABLED) === 0;
  }

  /** Enables (true) or disables (false) the registered eventfd's signals for new CQEs. */
  set cqEventfdEnabled(enabled: boolean) {
    const core = this.#check('IoUring.cqEventfdEnabled');
    if (typeof enabled !== 'boolean') {
      throw new ArgumentError('ERR_INVALID_ARG_TYPE', 'IoUring.cqEventfdEnabled', `expected a boolean, received ${describeReceived(enabled)}`);
    }
    const at = core.cq.at.cqFlags;
    if (at < 0) throw new RingStateError('ERR_RING_BUSY', 'IoUring.cqEventfdEnabled: this kernel has no CQ flags word (cq_off.flags)');
    const flags = Atomics.load(core.cq.ring, at);
    // Only the application writes this word; the kernel reads it when it would signal.
    Atomics.store(core.cq.ring, at, enabled ? flags & ~IORING_CQ_EVENTFD_DISABLED : flags | IORING_CQ_EVENTFD_DISABLED);
  }

  // -------------------------------------------------------------------------------------
  // Submission

  /**
   * The next free SQE, or null when the SQ is full (submit first) or `maxInFlight` ops are
   * already in flight (reap first). Fill it with a `prep*` builder before submitting.
   */
  getSqe(): Sqe | null {
    const core = this.#check('IoUring.getSqe');
    return core.sq.take(core.table, core.maxInFlight);
  }

  /** Like {@link IoUring.getSqe}, but throws a clear error instead of returning null. */
  getSqeOrThrow(): Sqe {
    const sqe = this.getSqe();
    if (sqe !== null) return sqe;
    const core = this.#core;
    if (core.table.live >= core.maxInFlight) {
      throw new RingStateError('ERR_RING_BUSY', `IoUring.getSqe: ${core.maxInFlight} operations are in flight (maxInFlight); reap completions first`);
    }
    throw new RingStateError('ERR_RING_SQ_FULL', `IoUring.getSqe: the submission queue is full (${core.sq.entries} entries); call submit() first or create the ring with more entries`);
  }

  /**
   * Withdraws an SQE prepared and not yet submitted, as if `getSqe()` had not been called
   * (for callers whose builder refused its arguments). The last one prepared is taken
   * back; an earlier one is submitted as a NOP whose completion is never delivered.
   * Returns false (and does nothing) for an SQE that is not staged on this ring.
   */
  discardSqe(sqe: Sqe): boolean {
    const core = this.#check('IoUring.discardSqe');
    return core.sq.withdraw(sqe, core.table);
  }

  /**
   * Hands staged SQEs to the kernel. Returns the number the kernel consumed (with SQPOLL,
   * the number published: the polling thread consumes them, and no system call is made
   * unless it sleeps).
   */
  submit(): number {
    const core = this.#check('IoUring.submit');
    this.#checkEnabled(core, 'IoUring.submit');
    return enterSubmit(core, core.sq.flush(core.table, core.registered));
  }

  /**
   * Submits staged SQEs and waits until at least `waitNr` CQEs are ready.
   *
   * With `timeoutMs`, gives up after that long (the kernel's ETIME) and returns normally:
   * compare {@link IoUring.cqReady} with what you waited for. Needs `IORING_FEAT_EXT_ARG`
   * (Linux 5.11). Signals never end the wait early. Waiting with nothing in flight and no
   * timeout throws `ERR_RING_WOULD_BLOCK` (it would block forever), unless the ring was
   * created with `msgRingTarget` (other rings post to it).
   *
   * `options.minWaitUs` (Linux 6.12) gives the batch a budget: see {@link WaitOptions}.
   *
   * @returns The number of SQEs the kernel consumed.
   */
  submitAndWait(waitNr: number, timeoutMs?: number, options?: WaitOptions): number {
    const core = this.#check('IoUring.submitAndWait');
    checkIntRange('IoUring.submitAndWait: waitNr', waitNr, 0, 0xffffffff);
    this.#checkEnabled(core, 'IoUring.submitAndWait');
    const published = core.sq.flush(core.table, core.registered);
    if (waitNr === 0) return enterSubmit(core, published);
    const pending = core.sqPoll ? 0 : core.sq.ready();
    // Cheapest tests first: this runs on every call.
    if (timeoutMs === undefined && pending === 0 && core.table.live === 0 && !this.#msgRingTarget && core.cq.ready() < waitNr) {
      throw new RingStateError(
        'ERR_RING_WOULD_BLOCK',
        `IoUring.submitAndWait: waiting for ${waitNr} completions with nothing in flight would block forever (create the ring with msgRingTarget: true if other rings post to it, or pass a timeout)`,
      );
    }
    return enterAndWait(core, pending, waitNr, timeoutMs, options);
  }

  /**
   * Whether this ring's waits count as I/O wait (liburing's `io_uring_set_iowait`). By
   * default a task waiting with requests in flight is marked as in I/O wait, which shows in
   * `/proc/stat`'s iowait and PSI `io` pressure and raises the CPU frequency governor's
   * estimate; `setIowait(false)` passes `IORING_ENTER_NO_IOWAIT` on every later wait so it
   * does not. Completions and timeouts are unchanged.
   *
   * `false` needs `IORING_FEAT_NO_IOWAIT` (Linux 6.15): older kernels throw an
   * `IoUringError` EOPNOTSUPP saying so. `true` (the kernel's default) works everywhere.
   */
  setIowait(enabled: boolean): void {
    setIowait(this.#check('IoUring.setIowait'), enabled);
  }

  /**
   * A new cancel key: give it to several ops (`sqe.cancelKey = key`) and one cancel of
   * `key.id` (`prepCancel(sqe, key.id, IORING_ASYNC_CANCEL_ALL)`, or `syncCancel`) reaches
   * them all, as liburing programs do by sharing a `user_data`. Their CQEs report the key
   * (`cqe.id === key.id`, `cqe.userData === userData`); the memory of every op under the
   * key stays referenced until the last of them has ended. Call `key.release()` when done.
   */
  cancelKey(userData?: unknown): CancelKey {
    return this.#check('IoUring.cancelKey').keys.create(userData);
  }

  // -------------------------------------------------------------------------------------
  // Completion

  /**
   * Calls `fn` for every CQE ready now, oldest first, and marks them seen. The `Cqe`
   * passed is reused for the next CQE: copy what you keep. Also flushes overflowed CQEs
   * and, on DEFER_TASKRUN rings, runs pending completion work, so nothing is left behind.
   *
   * CQEs of ops started through the Promise layer go to their promises instead of `fn`.
   * Each CQE is consumed before `fn` sees it, so the CQ moves on even if `fn` throws, and
   * `fn` may call back into the ring (see the module documentation for what each method
   * does there).
   *
   * @param max - Stop after this many CQEs.
   * @returns How many CQEs were handled.
   */
  forEachCqe(fn?: (cqe: Cqe) => void, max = 0xffffffff): number {
    const core = this.#check('IoUring.forEachCqe');
    if (fn !== undefined && typeof fn !== 'function') {
      throw new ArgumentError('ERR_INVALID_ARG_TYPE', 'IoUring.forEachCqe: fn', `expected a function, received ${describeReceived(fn)}`);
    }
    try {
      return reap(core, fn, max, this.#flushCq);
    } finally {
      if (core.closeDeferred && core.reapDepth === 0) finishDeferredClose(core);
    }
  }

  /**
   * Waits for one CQE and returns it without marking it seen (call
   * {@link IoUring.cqeSeen} after). With `timeoutMs`, returns null if none came in time.
   */
  waitCqe(timeoutMs?: number): Cqe | null {
    this.#check('IoUring.waitCqe');
    const cqe = this.peekCqe();
    if (cqe !== null) return cqe;
    this.submitAndWait(1, timeoutMs);
    return this.peekCqe();
  }

  /**
   * The oldest ready CQE without marking it seen, or null. Call {@link IoUring.cqeSeen}
   * once done with it. The object is reused by the next peek. CQEs of Promise-layer ops
   * are never returned: meeting one delivers it to its promise.
   */
  peekCqe(): Cqe | null {
    return peek(this.#check('IoUring.peekCqe'), this.#flushCq);
  }

  /** Marks the CQE returned by the last peek/wait as seen, releasing its op if final. */
  cqeSeen(): void {
    seen(this.#check('IoUring.cqeSeen'));
  }

  // -------------------------------------------------------------------------------------
  // Internal hooks for the Promise layer and registration

  /** @internal Attaches a completion handler to the op of a staged SQE. */
  setHandler(sqe: Sqe, handler: CompletionHandler): void {
    const core = this.#check('IoUring.setHandler');
    core.table.handler[this.#stagedSlotOf(core, sqe)] = handler;
  }

  #stagedSlotOf(core: RingCore, sqe: Sqe): number {
    const position = sqe.offset / core.params.sqeSize;
    if (core.sq.handles[position] !== sqe) throw new ArgumentError('ERR_INVALID_ARG_VALUE', 'sqe', 'belongs to another ring');
    const slot = core.sq.core.stagedSlot[position]!;
    if (slot < 0) throw new RingStateError('ERR_RING_SQE_STALE', 'this SQE was already submitted; get a new one with ring.getSqe()');
    return slot;
  }

  /**
   * `io_uring_register(2)` on this ring.
   * @internal The registration modules build on it.
   */
  register(opcode: number, arg: ArrayBufferView | number | null, nrArgs: number): number {
    const core = this.#check('IoUring.register');
    const r = ioUringRegister(core.fd, opcode | (core.ownsFd ? 0 : 1 << 31), arg, nrArgs);
    core.registered.noteRegister(opcode, arg, nrArgs);
    return r;
  }

  /**
   * Ties `resource` to the ring: it stays referenced until it is detached or the ring is
   * closed, and its `release()` runs after the ring's fd is closed and its in-flight work
   * drained (so memory the kernel might still use is freed only then).
   * @internal Used by registration (registered buffers, buffer rings, file tables).
   */
  attach(resource: RingResource): void {
    this.#check('IoUring.attach').resources.add(resource);
  }

  /** @internal Forgets a resource attached with {@link IoUring.attach} (it released itself). */
  detach(resource: RingResource): void {
    this.#core.resources.delete(resource);
  }

  /** Enables a ring created with `disabled: true` (`IORING_REGISTER_ENABLE_RINGS`). */
  enable(): void {
    const core = this.#check('IoUring.enable');
    if (!core.disabled) return;
    this.register(IORING_REGISTER_ENABLE_RINGS, null, 0);
    core.disabled = false;
  }

  /** Whether the ring is still disabled (created with `disabled: true` and not yet enabled). */
  get disabled(): boolean {
    return this.#core.disabled;
  }

  // -------------------------------------------------------------------------------------
  // Resize

  /**
   * Changes the SQ and/or CQ size of a live ring (`IORING_REGISTER_RESIZE_RINGS`, Linux
   * 6.13; the kernel only resizes rings created with `deferTaskrun`). An omitted size is
   * kept. Ops in flight are unaffected, and CQEs not yet reaped are carried over (EOVERFLOW
   * when the new CQ cannot hold them: reap first).
   *
   * Call it with nothing staged (every `getSqe()` submitted or discarded), and not from a
   * `forEachCqe` callback (`ERR_RING_REENTRANT`). SQE handles obtained before the resize
   * are invalid afterwards. `params.maxInFlight` is unchanged.
   *
   * @returns The new {@link IoUring.params}.
   */
  resize(size: { sqEntries?: number; cqEntries?: number }): RingParams {
    const core = this.#check('IoUring.resize');
    if (core.reapDepth > 0) {
      throw new RingStateError('ERR_RING_REENTRANT', 'IoUring.resize: cannot resize from inside forEachCqe (the loop reading the CQ holds its memory); resize after it returns');
    }
    return resizeRing(core, size);
  }

  // -------------------------------------------------------------------------------------
  // Close

  /**
   * Cancels what is in flight, waits until the kernel is done with every buffer it was
   * given, then unregisters, closes and unmaps. Idempotent. Afterwards every method
   * throws a `RingStateError` with code `ERR_RING_CLOSED`.
   *
   * Completions that arrive while closing go to their handlers (the Promise layer rejects
   * them); raw CQEs are discarded. An op the kernel still holds after 10 s (one that
   * cannot be cancelled, e.g. a read from a hung disk) keeps its memory referenced for the
   * life of the process rather than risk the kernel writing into reused memory.
   *
   * Called from inside `forEachCqe` (its callback, or code it calls), the close is
   * deferred: the ring reports closed and refuses everything at once, and is torn down
   * when the outermost `forEachCqe` returns.
   */
  close(): void {
    closeCore(this.#core);
  }

  /** Same as {@link IoUring.close}, for `using`. */
  [Symbol.dispose](): void {
    this.close();
  }

  /** A one-line summary for logs. */
  toString(): string {
    const core = this.#core;
    if (core.state !== OPEN) return 'IoUring(closed)';
    const p = core.params;
    return `IoUring(fd ${core.fd}, sq ${p.sqEntries}, cq ${p.cqEntries}, ${setupFlagNames(p.setupFlags).join('|') || 'no flags'}, ${p.mapping}, in flight ${this.inFlight})`;
  }
}

/** Registers the ring fd with itself so enter uses the registered index (Linux 5.18). */
function registerRingFd(core: RingCore): void {
  const bytes = new Uint8Array(SIZEOF_IO_URING_RSRC_UPDATE);
  const update = new IoUringRsrcUpdate(bytes);
  update.offset = -1 >>> 0; // any free slot
  update.data = core.fd;
  try {
    if (ioUringRegister(core.fd, IORING_REGISTER_RING_FDS, bytes, 1) !== 1) return;
  } catch {
    return; // Before Linux 5.18: enter keeps using the plain fd.
  }
  core.enterFd = update.offset;
  core.enterFlags = IORING_ENTER_REGISTERED_RING;
  core.params = Object.freeze({ ...core.params, ringFdRegistered: true });
}

