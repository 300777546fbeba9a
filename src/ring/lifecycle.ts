/**
 * How a ring ends: close (cancel, drain, tear down), close on garbage collection, and
 * close when a Worker thread exits.
 *
 * **Liveness rules** (docs/guarantees.md, "Liveness"):
 * - Nothing the kernel may write into is freed before the kernel is done with it. Close
 *   cancels what is in flight and waits for the CQEs (up to {@link CLOSE_DRAIN_MS}); an op
 *   that does not end in time keeps its memory referenced for the life of the process.
 * - Cancels never wait for room: close cancels through `IORING_REGISTER_SYNC_CANCEL`
 *   (no SQE needed) and falls back to an ASYNC_CANCEL SQE in the op table's reserved slots.
 * - A ring whose `IoUring` handle becomes unreachable without `close()` is closed by a
 *   `FinalizationRegistry` (with a warning, as Node does for an unclosed `FileHandle`): the
 *   registry holds the ring's core — memory, op table, pinned buffers — until then.
 * - In a Worker, rings still open when the thread ends are closed by an `'exit'` listener
 *   (natural end, `process.exit()`); for `worker.terminate()`, which runs no JavaScript,
 *   a native environment-cleanup hook closes the ring's fd (`sys/env-cleanup.ts`) and the
 *   kernel cancels the rest. Ring memory in a Worker is never JS memory (see `setup.ts`).
 *
 * @module
 */
import { isMainThread } from 'node:worker_threads';
import {
  IORING_ASYNC_CANCEL_ALL,
  IORING_ASYNC_CANCEL_ANY,
  IORING_OP_ASYNC_CANCEL,
  IORING_REGISTER_SYNC_CANCEL,
  IORING_UNREGISTER_RING_FDS,
} from '../../generated/constants.js';
import { IoUringRsrcUpdate, IoUringSqe, IoUringSyncCancelReg, SIZEOF_IO_URING_RSRC_UPDATE, SIZEOF_IO_URING_SYNC_CANCEL_REG } from '../../generated/structs.js';
import { OP_ID_TAG } from '../abi/op-id.js';
import { zeroSqe } from '../abi/sqe-fill.js';
import { forgetTeardown } from '../sys/env-cleanup.js';
import { IoUringError } from '../sys/errors.js';
import { closeFd, ioUringRegister } from '../sys/libc.js';
import { CLOSED, CLOSING, OPEN, type RingCore } from './core.js';
import { reap } from './cqueue.js';
import { enterAndWait, enterSubmit, flushCq } from './enter.js';
import { unregisterRingIndex } from './negotiate.js';
import { SLOT_IN_FLIGHT } from './op-table.js';
import type { Sqe } from './sqe.js';

/** How long close waits for cancelled operations to finish before giving up on them. */
export const CLOSE_DRAIN_MS = 10_000;

const SQE = IoUringSqe.OFFSETS;
const EACCES = -13;

/**
 * Memory of operations still owned by the kernel when their ring was closed (they would
 * not finish within the drain time, or could not be cancelled). Kept referenced for the
 * life of the process: a leak is recoverable, a kernel write into memory the GC reused is not.
 */
const abandoned: unknown[] = [];

/** Cores of rings not yet closed, in this thread (a strong reference: see the module comment). */
const openCores = new Set<RingCore>();
let exitHookInstalled = false;

/** Closes the core of an `IoUring` that was collected without `close()`. */
const collected = new FinalizationRegistry<RingCore>((core) => {
  if (core.state === CLOSED) return;
  process.emitWarning(
    `An IoUring (fd ${core.fd}) was garbage-collected without close(); it was closed now, after cancelling and draining what it had in flight. Call close() (or use \`using\`) to release it on time.`,
    { code: 'TSURING_RING_COLLECTED' },
  );
  try {
    closeCore(core);
  } catch {
    /* nobody to report to; the ring is torn down as far as possible */
  }
});

/** Hooks run (synchronously) when this thread exits, before its environment goes away. */
const exitHooks = new Set<() => void>();

function installExitHook(): void {
  if (exitHookInstalled || isMainThread) return;
  exitHookInstalled = true;
  // A Worker's natural end and process.exit() run 'exit' listeners; what is still open is
  // closed here, synchronously, while JavaScript can still run.
  process.on('exit', () => {
    for (const hook of [...exitHooks]) {
      try { hook(); } catch { /* keep closing the rest */ }
    }
    for (const core of [...openCores]) {
      try { closeCore(core); } catch { /* idem */ }
    }
  });
}

/** Runs `hook` if this (Worker) thread exits first; remove it with {@link forgetThreadExit}. */
export function onThreadExit(hook: () => void): void {
  if (isMainThread) return;
  installExitHook();
  exitHooks.add(hook);
}

/** Forgets a hook of {@link onThreadExit}. */
export function forgetThreadExit(hook: () => void): void {
  exitHooks.delete(hook);
}

/** Tracks a new ring's core: closed on GC of `handle`, and at thread exit in a Worker. */
export function trackRing(handle: object, core: RingCore): void {
  openCores.add(core);
  collected.register(handle, core, core);
  installExitHook();
}

/**
 * Closes the ring (idempotent). Inside a reap (a `forEachCqe` callback, a completion
 * handler) the close is deferred: the ring reports closed at once and refuses everything,
 * and the outermost reap tears it down when it returns. Otherwise: cancel what is in
 * flight, wait until the kernel is done with every buffer, then unregister, close, unmap.
 */
export function closeCore(core: RingCore): void {
  if (core.state === CLOSED) return;
  if (core.reapDepth > 0) {
    core.state = CLOSING;
    core.closeDeferred = true;
    return;
  }
  if (core.closeDeferred === false && core.state === CLOSING) return; // already closing below us
  core.state = CLOSING;
  core.closeDeferred = false;
  try {
    drain(core);
  } finally {
    teardown(core);
  }
}

/** Runs a close deferred by {@link closeCore} once no reap is running. */
export function finishDeferredClose(core: RingCore): void {
  if (core.closeDeferred && core.reapDepth === 0) {
    core.closeDeferred = false;
    core.state = OPEN; // let closeCore run the real close
    closeCore(core);
  }
}

function drain(core: RingCore): void {
  const table = core.table;
  // Staged SQEs never reached the kernel: drop them.
  core.sq.dropStaged(table);
  if (table.live === 0 || core.disabled) return;
  const flush = (): void => flushCq(core);
  const deadline = performance.now() + CLOSE_DRAIN_MS;
  let cancelled = false;
  let uncancellable = false;
  while (table.live > 0) {
    try {
      reap(core, undefined, 0xffffffff, flush);
    } catch {
      // A handler threw while we close: keep draining; the op is done either way.
    }
    if (table.live === 0) break;
    if (!cancelled) {
      const outcome = cancelAll(core);
      cancelled = true;
      if (outcome === 'refused') uncancellable = true;
    } else if (core.cancelAnyRefused) {
      core.cancelAnyRefused = false;
      if (cancelEach(core) === 'refused') uncancellable = true;
    }
    if (uncancellable) break;
    const remaining = deadline - performance.now();
    if (remaining <= 0) break;
    try {
      enterAndWait(core, 0, 1, Math.min(remaining, 100));
    } catch (err) {
      if (!(err instanceof IoUringError)) throw err;
      break;
    }
  }
  if (table.live > 0) {
    for (let slot = 0; slot < table.capacity; slot++) {
      if (table.state[slot] === SLOT_IN_FLIGHT && table.pins[slot]!.length > 0) abandoned.push(table.pins[slot]!.slice());
    }
    process.emitWarning(
      uncancellable
        ? `IoUring.close: ${table.live} operation(s) could not be cancelled (the ring's restrictions refuse both IORING_REGISTER_SYNC_CANCEL and IORING_OP_ASYNC_CANCEL); the ring was closed and their buffers stay referenced for the life of the process`
        : `IoUring.close: ${table.live} operation(s) did not finish within ${CLOSE_DRAIN_MS / 1000} s of cancellation; their buffers stay referenced for the life of the process`,
      { code: 'TSURING_CLOSE_ABANDONED' },
    );
  }
}

/**
 * Cancels everything in flight without needing an SQE: `IORING_REGISTER_SYNC_CANCEL` with
 * ANY | ALL (Linux 6.0). Where a restricted ring refuses that register opcode, one
 * ASYNC_CANCEL SQE (ANY | ALL) from the reserved slots. 'refused' when neither is allowed.
 */
function cancelAll(core: RingCore): 'sent' | 'refused' {
  const bytes = new Uint8Array(SIZEOF_IO_URING_SYNC_CANCEL_REG);
  const reg = new IoUringSyncCancelReg(bytes);
  reg.fd = -1;
  reg.flags = IORING_ASYNC_CANCEL_ANY | IORING_ASYNC_CANCEL_ALL;
  // A zero timeout: cancel what can be cancelled now, never wait here (the drain waits).
  reg.timeout.tvSec = 0;
  reg.timeout.tvNsec = 0;
  try {
    ioUringRegister(core.fd, IORING_REGISTER_SYNC_CANCEL | (core.ownsFd ? 0 : 1 << 31), bytes, 1);
    return 'sent';
  } catch (err) {
    // ETIME: some op is running and cannot be interrupted; it ends by itself (drain waits).
    if (err instanceof IoUringError && (err.code === 'ETIME' || err.code === 'ENOENT')) return 'sent';
    if (!(err instanceof IoUringError) || (err.code !== 'EACCES' && err.code !== 'EINVAL')) throw err;
  }
  return sendCancelSqe(core, -1, 0, IORING_ASYNC_CANCEL_ANY | IORING_ASYNC_CANCEL_ALL);
}

/** One ASYNC_CANCEL per op, by id: for kernels that refuse ANY | ALL in an SQE. */
function cancelEach(core: RingCore): 'sent' | 'refused' {
  const table = core.table;
  let outcome: 'sent' | 'refused' = 'sent';
  for (let slot = 0; slot < table.capacity; slot++) {
    if (table.state[slot] !== SLOT_IN_FLIGHT || table.opcode[slot] === IORING_OP_ASYNC_CANCEL) continue;
    outcome = sendCancelSqe(core, slot, table.gen[slot]!, 0);
    if (outcome === 'refused') break;
  }
  return outcome;
}

/** Whether the last cancel SQE came back -EACCES (a restricted ring refusing ASYNC_CANCEL). */
let lastCancelRefused = false;

/**
 * Submits an ASYNC_CANCEL SQE from the reserved slots (never waiting for room: the SQ is
 * submitted first if full) and reaps its answer right away; 'refused' on -EACCES.
 */
function sendCancelSqe(core: RingCore, slot: number, gen: number, cancelFlags: number): 'sent' | 'refused' {
  if (!core.probe.supports(IORING_OP_ASYNC_CANCEL)) return 'refused';
  let sqe = core.sq.take(core.table, core.table.capacity);
  if (sqe === null) {
    enterSubmit(core, core.sq.flush(core.table, core.registered));
    sqe = core.sq.take(core.table, core.table.capacity);
    if (sqe === null) return 'sent'; // no room even now: the drain's waits free some, the next round retries
  }
  writeCancel(sqe, slot, gen, cancelFlags);
  lastCancelRefused = false;
  core.table.handler[core.sq.core.stagedSlot[(core.sq.tail - 1) & core.sq.mask]!] = {
    complete: (res) => {
      if (res === -22 && cancelFlags !== 0) core.cancelAnyRefused = true;
      if (res === EACCES) lastCancelRefused = true;
    },
  };
  enterSubmit(core, core.sq.flush(core.table, core.registered));
  try {
    enterAndWait(core, 0, 0, undefined);
  } catch { /* only a nudge */ }
  reap(core, undefined, 0xffffffff, () => flushCq(core));
  return lastCancelRefused ? 'refused' : 'sent';
}

/**
 * Fills an ASYNC_CANCEL SQE by hand: close must not depend on the builders' argument
 * checks (it cancels by raw slot and generation, or by ANY). The whole slot is zeroed
 * first (the kernel refuses a cancel with a stale `off` or `splice_fd_in`).
 */
function writeCancel(sqe: Sqe, slot: number, gen: number, cancelFlags: number): void {
  const view = sqe.view;
  const at = sqe.offset;
  zeroSqe(view, at, sqe.size);
  view.setUint8(at + SQE.opcode, IORING_OP_ASYNC_CANCEL);
  view.setInt32(at + SQE.fd, -1, true);
  if (slot >= 0) {
    view.setUint32(at + SQE.addr, slot, true);
    view.setUint32(at + SQE.addr + 4, (OP_ID_TAG | gen) >>> 0, true);
  }
  view.setUint32(at + SQE.cancelFlags, cancelFlags, true);
}

/** Frees everything once nothing more can happen: views dropped, fd closed, memory released. */
export function teardown(core: RingCore): void {
  core.state = CLOSED;
  openCores.delete(core);
  collected.unregister(core);
  core.sq.close();
  core.cq.close();
  let firstError: unknown;
  if (core.params.ringFdRegistered && core.ownsFd) {
    try {
      const bytes = new Uint8Array(SIZEOF_IO_URING_RSRC_UPDATE);
      new IoUringRsrcUpdate(bytes).offset = core.enterFd;
      ioUringRegister(core.fd, IORING_UNREGISTER_RING_FDS, bytes, 1);
    } catch {
      /* closing the fd releases it anyway */
    }
  }
  if (core.ownsFd) {
    // The teardown hook first: once closed, the number may be reused by anyone.
    forgetTeardown(core.fd);
    try { closeFd(core.fd); } catch (err) { firstError ??= err; }
  } else {
    try { unregisterRingIndex(core.fd); } catch (err) { firstError ??= err; }
  }
  for (const region of core.views.regions) {
    try { region.unmap(); } catch (err) { firstError ??= err; }
  }
  // Library memory: the kernel may still write into it while it tears the ring down, and
  // SQE views may have escaped: zero pages now, unmapped once no view can reach it.
  core.views.memory?.retire();
  for (const resource of core.resources) {
    try { resource.release(); } catch (err) { firstError ??= err; }
  }
  core.resources.clear();
  core.registered.clear();
  if (firstError !== undefined) throw firstError;
}

/** After a resize the kernel accepted but we could not map: close without a drain. */
export function failAfterSwitch(core: RingCore): void {
  const table = core.table;
  for (let slot = 0; slot < table.capacity; slot++) {
    if (table.state[slot] === SLOT_IN_FLIGHT && table.pins[slot]!.length > 0) abandoned.push(table.pins[slot]!.slice());
  }
  core.state = CLOSING;
  try {
    teardown(core);
  } catch {
    /* the resize error is the one to report */
  }
}
