/**
 * The completion side of a ring: reading CQEs, matching them to ops, and handing them to
 * user callbacks or Promise-layer handlers exactly once.
 *
 * **Re-entrancy.** User code runs inside the reap loop (the `forEachCqe` callback, and
 * through it anything the user calls). The rules that keep that safe:
 * 1. A CQE is consumed (`cq.head` moved past it) *before* any code sees it, so a nested
 *    reap — `forEachCqe`, `peekCqe`, `submitAndWait` called from a callback — continues
 *    with the next CQE and nothing is delivered twice.
 * 2. The loop re-reads `cq.head` after every callback instead of keeping a local copy, and
 *    compares positions with wrap-around arithmetic, so a nested reap that went past the
 *    tail this loop read does not make it run off the end.
 * 3. Each nesting depth has its own `Cqe` snapshot object: a nested reap never overwrites
 *    the one the outer callback is still reading.
 * 4. The ring memory cannot go away under a running loop: `close()` inside a reap is
 *    deferred until the outermost reap returns, and `resize()` inside a reap is refused
 *    (see `ring.ts`). After `close()` a loop stops calling its callback.
 *
 * **Memory ordering.** The kernel writes a CQE, then advances the CQ tail with a release
 * store; our `Atomics.load` of the tail is the matching acquire, after which the CQE's
 * words are read with plain loads. We publish the head with one `Atomics.store` per reap
 * call (release: our reads of the CQEs happen before the kernel may overwrite them), not
 * per CQE.
 *
 * @module
 */
import { IORING_CQE_F_MORE, IORING_CQE_F_SKIP, IORING_SQ_CQ_OVERFLOW, IORING_SQ_TASKRUN } from '../../generated/constants.js';
import { IoUringCqe } from '../../generated/structs.js';
import { bufferOf, byteLengthOf, isDetachedBuffer, isView } from '../abi/intrinsics.js';
import { KEY_LO_BIT } from './cancel-keys.js';
import type { Cqe, CqeSnapshot } from './cqe.js';
import { OPEN, type RingCore } from './core.js';
import type { RingLayout } from './memory.js';
import { LINK_SKIP, LINK_SOFT, SLOT_IN_FLIGHT, type OpTable } from './op-table.js';

const TWO_32 = 4294967296;
/** `ECANCELED`: ops of a chain the kernel cancelled without CQEs complete with its negation. */
const ECANCELED = 125;

const CQE = IoUringCqe.OFFSETS;
export const CQE_USER_DATA_WORD = CQE.userData >>> 2;
const CQE_RES_WORD = CQE.res >>> 2;
const CQE_FLAGS_WORD = CQE.flags >>> 2;
const CQE_BIG_WORD = CQE.bigCqe >>> 2;
if ((CQE.userData & 7) !== 0 || (CQE.res & 3) !== 0 || (CQE.flags & 3) !== 0) {
  throw new Error('io_uring_cqe layout changed in a way the ring does not handle; see src/ring/cqueue.ts');
}

/**
 * @internal The ring's completion queue.
 */
export class CompletionQueue {
  /** The kernel's CQ ring (cursors and CQEs) as words. */
  ring: Uint32Array;
  ringI32: Int32Array;
  at: RingLayout;
  mask: number;
  /** log2 of the words per CQE. */
  readonly shift: number;
  /** The next CQE to consume (ours; the kernel sees it once published). */
  head: number;
  /** The head value last stored for the kernel. */
  published: number;

  constructor(ring: Uint32Array, ringI32: Int32Array, at: RingLayout, entries: number, cqeSize: number) {
    this.ring = ring;
    this.ringI32 = ringI32;
    this.at = at;
    this.mask = entries - 1;
    this.shift = cqeSize === 32 ? 3 : 2;
    this.head = Atomics.load(ring, at.cqHead);
    this.published = this.head;
  }

  /** Adopts resized ring memory (the kernel carried the head over). */
  adopt(ring: Uint32Array, ringI32: Int32Array, at: RingLayout, entries: number): void {
    this.ring = ring;
    this.ringI32 = ringI32;
    this.at = at;
    this.mask = entries - 1;
  }

  /** Drops the views (the ring is torn down). */
  close(): void {
    this.ring = new Uint32Array(0);
    this.ringI32 = new Int32Array(0);
  }

  /** CQEs posted and not yet consumed. */
  ready(): number {
    return (Atomics.load(this.ring, this.at.cqTail) - this.head) >>> 0;
  }

  /** Stores the consumed head for the kernel (release), if it moved. */
  publish(): void {
    if (this.published === this.head) return;
    this.published = this.head;
    Atomics.store(this.ring, this.at.cqHead, this.head);
  }

  /** Word index of the CQE at position `p`. */
  wordOf(p: number): number {
    return this.at.cqes + ((p & this.mask) << this.shift);
  }
}

/**
 * Delivers every CQE ready now (up to `max`): Promise-layer ops to their handlers, others
 * to `fn` (or discarded when `fn` is undefined). Also lets the kernel post overflowed CQEs
 * and, on DEFER_TASKRUN rings, run pending completion work, so nothing is left behind.
 * Returns how many CQEs were handled. See the module comment for the re-entrancy rules.
 */
export function reap(core: RingCore, fn: ((cqe: Cqe) => void) | undefined, max: number, flushCq: () => void): number {
  const cq = core.cq;
  const table = core.table;
  const depth = core.reapDepth++;
  const snapshot = fn === undefined ? null : core.snapshot(depth);
  let handled = 0;
  // `handled` when the CQ was last flushed. Each flush moves at most a CQ's worth of
  // overflowed CQEs into the ring, so a backlog larger than the CQ needs several: flush
  // again whenever the previous one brought something, stop when one brings nothing.
  let flushedAt = -1;
  try {
    for (;;) {
      // A callback closed the ring: deliver nothing more (close() drains what is left).
      if (fn !== undefined && core.state !== OPEN) break;
      const tail = Atomics.load(cq.ring, cq.at.cqTail);
      if (((tail - cq.head) | 0) <= 0 || handled >= max) {
        // With DEFER_TASKRUN but no TASKRUN_FLAG the kernel cannot tell us completion work
        // is pending: an empty CQ has to ask once.
        const blind = core.deferTaskrun && !core.taskrunFlag && handled === 0;
        if (handled < max && flushedAt !== handled && (blind || cqNeedsFlush(core))) {
          flushedAt = handled;
          cq.publish();
          flushCq();
          continue;
        }
        break;
      }
      const ring = cq.ring;
      const ringI32 = cq.ringI32;
      while (((tail - cq.head) | 0) > 0 && handled < max) {
        if (fn !== undefined && core.state !== OPEN) break;
        const w = cq.wordOf(cq.head);
        // Consumed before anything else runs (rule 1).
        cq.head = (cq.head + 1) >>> 0;
        const flags = ring[w + CQE_FLAGS_WORD]!;
        if ((flags & IORING_CQE_F_SKIP) !== 0) continue;
        const lo = ring[w + CQE_USER_DATA_WORD]!;
        const hi = ring[w + CQE_USER_DATA_WORD + 1]!;
        const res = ringI32[w + CQE_RES_WORD]!;
        const slot = table.slotOf(lo, hi);
        const final = (flags & IORING_CQE_F_MORE) === 0;
        if (slot >= 0) {
          if (table.silent[slot] === 1) {
            if (final) finishOp(table, slot, res);
            continue;
          }
          handled++;
          const handler = table.handler[slot];
          if (handler !== undefined) {
            // A buffer transferred away while the kernel used it: its data went to memory
            // this op no longer owns. Say so instead of reporting success.
            const outcome = final && res >= 0 && table.pins[slot]!.length !== 0 && anyDetached(table.pins[slot]!) ? RES_BUFFER_DETACHED : res;
            if (final) finishOp(table, slot, res);
            handler.complete(outcome, flags, final, slot);
            continue;
          }
          if (snapshot === null) {
            // Discarded (forEachCqe() without a callback, or close() draining).
            if (final) finishOp(table, slot, res);
            continue;
          }
          snapshot.id = (hi & 0x1fffff) * TWO_32 + lo;
          snapshot.userData = table.tag[slot];
          snapshot.opcode = table.opcode[slot]!;
          if (final) finishOp(table, slot, res);
        } else {
          handled++;
          // A cancel key's CQE: it ends one of the key's ops (which one, it does not say).
          const key = (lo & KEY_LO_BIT) !== 0 ? core.keys.indexOf(lo, hi) : -1;
          if (key >= 0 && final) keyMemberEnded(core, key);
          if (snapshot === null) continue;
          snapshot.id = key >= 0 ? core.keys.idOf(key) : -1;
          snapshot.userData = key >= 0 ? core.keys.userDataOf(key) : undefined;
          snapshot.opcode = -1;
        }
        snapshot.res = res;
        snapshot.flags = flags;
        snapshot.userDataLo = lo;
        snapshot.userDataHi = hi;
        if (snapshot.extra !== null) copyBigCqe(snapshot, ring, w);
        fn!(snapshot);
      }
    }
  } finally {
    core.reapDepth--;
    cq.publish();
  }
  return handled;
}

/**
 * The oldest ready CQE that belongs to no Promise-layer op, without consuming it; CQEs of
 * Promise-layer ops met on the way are delivered to their handlers (consumed), so raw
 * peeking never steals them. Null when none is ready.
 */
export function peek(core: RingCore, flushCq: () => void): Cqe | null {
  const cq = core.cq;
  const table = core.table;
  for (let attempt = 0; attempt < 2; attempt++) {
    const tail = Atomics.load(cq.ring, cq.at.cqTail);
    while (((tail - cq.head) | 0) > 0) {
      const w = cq.wordOf(cq.head);
      const ring = cq.ring;
      const flags = ring[w + CQE_FLAGS_WORD]!;
      const lo = ring[w + CQE_USER_DATA_WORD]!;
      const hi = ring[w + CQE_USER_DATA_WORD + 1]!;
      const slot = table.slotOf(lo, hi);
      if ((flags & IORING_CQE_F_SKIP) !== 0 || (slot >= 0 && (table.silent[slot] === 1 || table.handler[slot] !== undefined))) {
        const res = cq.ringI32[w + CQE_RES_WORD]!;
        cq.head = (cq.head + 1) >>> 0;
        if ((flags & IORING_CQE_F_SKIP) !== 0) continue;
        const handler = table.handler[slot];
        const final = (flags & IORING_CQE_F_MORE) === 0;
        if (final) finishOp(table, slot, res);
        if (handler !== undefined) {
          try {
            handler.complete(res, flags, final, slot);
          } finally {
            cq.publish();
          }
        }
        continue;
      }
      const cqe = core.peekSnapshot(core.reapDepth);
      const key = slot < 0 && (lo & KEY_LO_BIT) !== 0 ? core.keys.indexOf(lo, hi) : -1;
      cqe.id = slot >= 0 ? (hi & 0x1fffff) * TWO_32 + lo : key >= 0 ? core.keys.idOf(key) : -1;
      cqe.userData = slot >= 0 ? table.tag[slot] : key >= 0 ? core.keys.userDataOf(key) : undefined;
      cqe.opcode = slot >= 0 ? table.opcode[slot]! : -1;
      cqe.res = cq.ringI32[w + CQE_RES_WORD]!;
      cqe.flags = flags;
      cqe.userDataLo = lo;
      cqe.userDataHi = hi;
      if (cqe.extra !== null) copyBigCqe(cqe, ring, w);
      cq.publish();
      return cqe;
    }
    cq.publish();
    if (attempt === 0 && ((core.deferTaskrun && !core.taskrunFlag) || cqNeedsFlush(core))) flushCq();
  }
  return null;
}

/** Consumes the CQE {@link peek} returned (if one is ready), releasing its op if final. */
export function seen(core: RingCore): void {
  const cq = core.cq;
  if (((Atomics.load(cq.ring, cq.at.cqTail) - cq.head) | 0) <= 0) return;
  const w = cq.wordOf(cq.head);
  const ring = cq.ring;
  cq.head = (cq.head + 1) >>> 0;
  const lo = ring[w + CQE_USER_DATA_WORD]!;
  const hi = ring[w + CQE_USER_DATA_WORD + 1]!;
  const final = (ring[w + CQE_FLAGS_WORD]! & IORING_CQE_F_MORE) === 0;
  const slot = core.table.slotOf(lo, hi);
  if (slot >= 0 && final) finishOp(core.table, slot, cq.ringI32[w + CQE_RES_WORD]!);
  else if (slot < 0 && final && (lo & KEY_LO_BIT) !== 0) {
    const key = core.keys.indexOf(lo, hi);
    if (key >= 0) keyMemberEnded(core, key);
  }
  cq.publish();
}

/** One op of cancel key `key` ended: when it was the last, its members' memory is released. */
function keyMemberEnded(core: RingCore, key: number): void {
  const members = core.keys.memberEnded(key);
  if (members !== null) for (const slot of members) core.table.release(slot);
}

/** Whether the kernel holds completions that need an enter to appear in the CQ. */
export function cqNeedsFlush(core: RingCore): boolean {
  return (Atomics.load(core.sq.sq, core.sq.at.sqFlags) & SQ_NEEDS_FLUSH) !== 0;
}

const SQ_NEEDS_FLUSH = IORING_SQ_CQ_OVERFLOW | IORING_SQ_TASKRUN;

/** Releases an op after its final CQE; outside any chain (the common case) the slot is simply free. */
function finishOp(table: OpTable, slot: number, res: number): void {
  if (table.linkBits[slot] === 0 && table.skipPred[slot]! < 0) table.release(slot);
  else finishChain(table, slot, res);
}

/**
 * Releases `slot` after its final CQE (with the skip-success ops its CQE accounts for),
 * and settles the rest of its chain when the kernel will post nothing more for it.
 *
 * When a soft-linked op fails, the kernel cancels the rest of its chain. If the failed op
 * had IOSQE_CQE_SKIP_SUCCESS it cancels them *without CQEs* (REQ_F_SKIP_LINK_CQES): their
 * slots are released here, and Promise-layer ops are completed with -ECANCELED. Otherwise
 * each posts -ECANCELED; they are marked so that a skip-success one among them, posting
 * its cancellation, is not mistaken for an op that failed by itself.
 */
export function finishChain(table: OpTable, slot: number, res: number): void {
  let next = table.chainNext[slot]!;
  const bits = table.linkBits[slot]!;
  if (next >= 0 && (bits & LINK_SOFT) !== 0) {
    let gen = table.chainNextGen[slot]!;
    if ((bits & LINK_SKIP) !== 0 && table.cancelPending[slot] === 0) {
      table.releaseChain(slot);
      while (next >= 0 && table.state[next] === SLOT_IN_FLIGHT && table.gen[next] === gen) {
        const after = table.chainNext[next]!;
        const afterGen = table.chainNextGen[next]!;
        const handler = table.handler[next];
        table.release(next);
        handler?.complete(-ECANCELED, 0, true, next);
        next = after;
        gen = afterGen;
      }
      return;
    }
    if (res < 0 && (bits & LINK_SKIP) === 0) {
      while (next >= 0 && table.state[next] === SLOT_IN_FLIGHT && table.gen[next] === gen) {
        table.cancelPending[next] = 1;
        gen = table.chainNextGen[next]!;
        next = table.chainNext[next]!;
      }
    }
  }
  table.releaseChain(slot);
}

/**
 * The `res` a completion handler gets when a buffer its op pinned was detached (transferred,
 * posted to another thread) before the op ended: not an errno (errnos are small).
 */
export const RES_BUFFER_DETACHED = -0x7fff0001;

/** Whether any pinned view's buffer was detached (a detached view reports length 0). */
function anyDetached(pins: unknown[]): boolean {
  for (let i = 0; i < pins.length; i++) {
    const pin = pins[i];
    if (isView(pin) && byteLengthOf(pin) === 0 && isDetachedBuffer(bufferOf(pin))) return true;
  }
  return false;
}

/** Copies the 16 extra bytes of a 32-byte CQE into the snapshot. */
function copyBigCqe(cqe: CqeSnapshot, ring: Uint32Array, w: number): void {
  const extra = cqe.extraWords!;
  for (let k = 0; k < 4; k++) extra[k] = ring[w + CQE_BIG_WORD + k]!;
}
