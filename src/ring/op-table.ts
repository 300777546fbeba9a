/**
 * The ring's table of operations between `getSqe()` and their final CQE.
 *
 * The ring owns `sqe->user_data`: it writes an op id that names a slot here and the slot's
 * generation. The slot holds what the kernel may still touch (pinned buffers, iovec arrays,
 * paths, timespecs) and the caller's own tag, so memory stays referenced until the final
 * CQE (for multishot ops: the one without `IORING_CQE_F_MORE`), completions are matched
 * exactly once, and close knows precisely what is still in flight.
 *
 * Slot states: Free → Staged (`getSqe()`) → InFlight (submitted) → Free (final CQE).
 * A skip-success op that no later CQE accounts for (see `squeue.ts`) pins nothing and goes
 * InFlight → Untracked instead: it no longer counts as in flight, but keeps its tag and
 * opcode so that a failure CQE still names it. Untracked slots are reused, oldest first,
 * only when no slot is free; a failure CQE arriving after that has lost its identity
 * (`cqe.id` -1), which the docs of `Sqe.skipSuccess` state.
 *
 * Struct-of-arrays with a free-list stack: acquiring and releasing a slot allocates nothing.
 *
 * @module
 */
import { OP_ID_TAG } from '../abi/op-id.js';

/** Slot state: free. */
export const SLOT_FREE = 0;
/** Slot state: acquired by getSqe(), not yet handed to the kernel. */
export const SLOT_STAGED = 1;
/** Slot state: submitted; waiting for its final CQE. */
export const SLOT_IN_FLIGHT = 2;
/** Slot state: a submitted skip-success op no CQE will account for; kept for its identity only. */
export const SLOT_UNTRACKED = 3;

/** linkBits: the op was submitted with IOSQE_CQE_SKIP_SUCCESS. */
export const LINK_SKIP = 1;
/** linkBits: the op was submitted with IOSQE_IO_LINK (not HARDLINK) and a successor. */
export const LINK_SOFT = 2;

const TWO_32 = 4294967296;
/** Generations live in the high word below the tag bit and stay below 2^21 so ids are safe integers. */
const GEN_MASK = 0x1fffff;

/**
 * What a completion handler receives; implemented by the Promise layer.
 *
 * Re-entrancy: `complete` runs inside the ring's reap loop. The CQE it is called for is
 * already consumed (the CQ head is past it), so a handler may start new ops, cancel, or
 * reap again; it must not close or resize the ring synchronously (both are deferred or
 * refused while a reap is running; see `IoUring.close`).
 */
export interface CompletionHandler {
  /** Called for every CQE of the op; `final` is false while `IORING_CQE_F_MORE` is set. */
  complete(res: number, flags: number, final: boolean, slot: number): void;
}

export class OpTable {
  capacity: number;
  /** The most slots the table may grow to. */
  readonly limit: number;
  /** Generation of each slot, bumped on every acquire so stale ids never match. */
  gen: Uint32Array;
  state: Uint8Array;
  /** The opcode written into the slot's SQE, for error messages and the close path. */
  opcode: Uint8Array;
  /** The caller's tag for each slot (`sqe.userData`). */
  readonly tag: unknown[];
  /** Memory pinned for each slot; arrays are reused, never reallocated per op. */
  readonly pins: unknown[][];
  /** Promise-layer handler, when the op was started through it. */
  readonly handler: (CompletionHandler | undefined)[];
  /**
   * 1 for an SQE the ring submits only to keep the SQ in order (a withdrawn SQE that was not
   * the last one staged becomes a NOP): its CQE is consumed silently.
   */
  silent: Uint8Array;
  /**
   * For an op linked after one submitted with IOSQE_CQE_SKIP_SUCCESS: that predecessor's
   * slot (and generation), else -1. The predecessor posts no CQE when it succeeds; the
   * kernel finishes a chain in order, so this op's final CQE proves it is done.
   */
  skipPred: Int32Array;
  skipPredGen: Uint32Array;
  /**
   * For an op linked to a later one in the same submission: that successor's slot (and
   * generation), else -1. Used when the kernel ends the rest of a chain without CQEs.
   */
  chainNext: Int32Array;
  chainNextGen: Uint32Array;
  /** {@link LINK_SKIP} | {@link LINK_SOFT} of the op as submitted. */
  linkBits: Uint8Array;
  /** 1 once an earlier op of the chain failed: the kernel will post -ECANCELED for this one. */
  cancelPending: Uint8Array;
  /** The cancel-key table index the op is submitted under (see `cancel-keys.ts`), or -1. */
  keyOf: Int32Array;
  /** The CancelKey object of a keyed op (for `sqe.cancelKey`). */
  readonly keyObject: unknown[];
  /** Memory the kernel copies at prep (`pinUntilConsumed`), held until the SQE is consumed. */
  readonly prepPins: unknown[][];
  private free: Int32Array;
  private freeTop: number;
  /** Untracked slots, oldest first (a ring buffer of slot numbers). */
  private untrackedQueue: Int32Array;
  /** 1 while a slot number sits in {@link OpTable.untrackedQueue} (at most once). */
  private queued: Uint8Array;
  private untrackedHead = 0;
  private untrackedCount = 0;
  /** Slots Staged or InFlight (what the ring must wait for before it can close). */
  live = 0;

  /**
   * @param capacity - Slots to start with.
   * @param limit - Slots the table may grow to when full (default: `capacity`, no growth).
   */
  constructor(capacity: number, limit = capacity) {
    if (!Number.isInteger(capacity) || capacity < 1 || capacity > 1 << 24 || !Number.isInteger(limit) || limit < capacity || limit > 1 << 24) {
      throw new RangeError(`op table capacity must be an integer from 1 to ${1 << 24} (limit at least the capacity), got ${capacity} / ${limit}`);
    }
    this.capacity = capacity;
    this.limit = limit;
    this.gen = new Uint32Array(capacity);
    this.state = new Uint8Array(capacity);
    this.opcode = new Uint8Array(capacity);
    this.tag = new Array<unknown>(capacity).fill(undefined);
    this.pins = Array.from({ length: capacity }, () => []);
    this.handler = new Array<CompletionHandler | undefined>(capacity).fill(undefined);
    this.silent = new Uint8Array(capacity);
    this.skipPred = new Int32Array(capacity).fill(-1);
    this.skipPredGen = new Uint32Array(capacity);
    this.chainNext = new Int32Array(capacity).fill(-1);
    this.chainNextGen = new Uint32Array(capacity);
    this.linkBits = new Uint8Array(capacity);
    this.cancelPending = new Uint8Array(capacity);
    this.keyOf = new Int32Array(capacity).fill(-1);
    this.keyObject = new Array<unknown>(capacity).fill(undefined);
    this.prepPins = Array.from({ length: capacity }, () => []);
    this.free = new Int32Array(capacity);
    this.untrackedQueue = new Int32Array(capacity);
    this.queued = new Uint8Array(capacity);
    // Hand out low slots first: it keeps the working set of the arrays small.
    for (let i = 0; i < capacity; i++) this.free[i] = capacity - 1 - i;
    this.freeTop = capacity;
  }

  /** Slots that {@link OpTable.acquire} can still hand out (growth included). */
  get available(): number {
    return this.limit - this.live;
  }

  /**
   * Takes a free slot (or, when none is free, the oldest untracked one) and moves it to
   * Staged; -1 when every slot is staged or in flight.
   */
  acquire(): number {
    let slot: number;
    if (this.freeTop !== 0) {
      slot = this.free[--this.freeTop]!;
    } else {
      slot = this.evictUntracked();
      if (slot < 0) {
        if (!this.grow()) return -1;
        slot = this.free[--this.freeTop]!;
      }
    }
    this.gen[slot] = (this.gen[slot]! + 1) & GEN_MASK;
    this.state[slot] = SLOT_STAGED;
    this.skipPred[slot] = -1;
    this.chainNext[slot] = -1;
    this.linkBits[slot] = 0;
    this.cancelPending[slot] = 0;
    this.keyOf[slot] = -1;
    this.live++;
    return slot;
  }

  /**
   * A submitted op that no CQE will account for if it succeeds (it pins nothing): it stops
   * counting as live but keeps its tag and opcode, so a failure CQE still names it.
   */
  markUntracked(slot: number): void {
    if (this.state[slot] !== SLOT_IN_FLIGHT) return;
    this.state[slot] = SLOT_UNTRACKED;
    this.handler[slot] = undefined;
    const pins = this.pins[slot]!;
    while (pins.length !== 0) pins.pop();
    this.live--;
    // A slot released while queued keeps its old place in the queue: it is then evicted a
    // little early, which only shortens how long a failure CQE can still be named.
    if (this.queued[slot] === 1) return;
    this.queued[slot] = 1;
    const at = (this.untrackedHead + this.untrackedCount) % this.capacity;
    this.untrackedQueue[at] = slot;
    this.untrackedCount++;
  }

  /**
   * Doubles the table (up to {@link OpTable.limit}); false when it cannot grow. Slots keep
   * their numbers, so op ids stay valid. Callers index the arrays through the table each
   * time, never through a copy kept across an acquire.
   */
  private grow(): boolean {
    const old = this.capacity;
    const next = Math.min(this.limit, old * 2);
    if (next <= old) return false;
    const widen = <T extends Uint8Array | Int32Array | Uint32Array>(a: T, fill?: number): T => {
      const b = new (a.constructor as new (n: number) => T)(next);
      b.set(a);
      if (fill !== undefined) b.fill(fill, old);
      return b;
    };
    this.gen = widen(this.gen);
    this.state = widen(this.state);
    this.opcode = widen(this.opcode);
    this.silent = widen(this.silent);
    this.skipPred = widen(this.skipPred, -1);
    this.skipPredGen = widen(this.skipPredGen);
    this.chainNext = widen(this.chainNext, -1);
    this.chainNextGen = widen(this.chainNextGen);
    this.linkBits = widen(this.linkBits);
    this.cancelPending = widen(this.cancelPending);
    this.keyOf = widen(this.keyOf, -1);
    this.queued = widen(this.queued);
    for (let i = old; i < next; i++) {
      this.tag.push(undefined);
      this.pins.push([]);
      this.handler.push(undefined);
      this.keyObject.push(undefined);
      this.prepPins.push([]);
    }
    // The untracked queue is a ring buffer: unroll it into the bigger one.
    const queue = new Int32Array(next);
    for (let i = 0; i < this.untrackedCount; i++) queue[i] = this.untrackedQueue[(this.untrackedHead + i) % old]!;
    this.untrackedQueue = queue;
    this.untrackedHead = 0;
    const free = new Int32Array(next);
    free.set(this.free.subarray(0, this.freeTop));
    // New slots, lowest handed out first.
    for (let i = next - 1; i >= old; i--) free[this.freeTop++] = i;
    this.free = free;
    this.capacity = next;
    return true;
  }

  /** Reuses the oldest untracked slot; -1 when there is none. */
  private evictUntracked(): number {
    while (this.untrackedCount !== 0) {
      const slot = this.untrackedQueue[this.untrackedHead]!;
      this.untrackedHead = (this.untrackedHead + 1) % this.capacity;
      this.untrackedCount--;
      this.queued[slot] = 0;
      // A slot that failed (its CQE released it) may have been reused since: skip it.
      if (this.state[slot] === SLOT_UNTRACKED) {
        this.state[slot] = SLOT_FREE;
        this.tag[slot] = undefined;
        return slot;
      }
    }
    return -1;
  }

  /**
   * Releases `slot` and the skip-success predecessors its final CQE accounts for.
   * A predecessor already released (it failed and posted its own CQE) or reused is left alone.
   * Predecessors with a handler are completed as successes first (`res` 0: the kernel posts
   * no result for a skipped success).
   */
  releaseChain(slot: number): void {
    let pred = this.skipPred[slot]!;
    let predGen = this.skipPredGen[slot]!;
    this.release(slot);
    while (pred >= 0) {
      if (this.state[pred] !== SLOT_IN_FLIGHT || this.gen[pred] !== predGen) break;
      const next = this.skipPred[pred]!;
      const nextGen = this.skipPredGen[pred]!;
      const handler = this.handler[pred];
      this.release(pred);
      handler?.complete(0, 0, true, pred);
      pred = next;
      predGen = nextGen;
    }
  }

  /** Drops everything the slot referenced and returns it to the free list. */
  release(slot: number): void {
    const state = this.state[slot];
    if (state === SLOT_FREE) return;
    this.state[slot] = SLOT_FREE;
    this.tag[slot] = undefined;
    this.handler[slot] = undefined;
    this.silent[slot] = 0;
    this.keyOf[slot] = -1;
    this.keyObject[slot] = undefined;
    const prepPins = this.prepPins[slot]!;
    while (prepPins.length !== 0) prepPins.pop();
    const pins = this.pins[slot]!;
    // pop() inlines; assigning length goes through a slow generic setter.
    while (pins.length !== 0) pins.pop();
    this.free[this.freeTop++] = slot;
    // An untracked slot stays queued; evictUntracked() skips it once it is no longer Untracked.
    if (state !== SLOT_UNTRACKED) this.live--;
  }

  /** The op id user code sees for a slot (a safe integer), as written into user_data. */
  idOf(slot: number): number {
    return this.gen[slot]! * TWO_32 + slot;
  }

  /**
   * The slot named by a CQE's user_data words, or -1 when the value is not one of our
   * live ids (a MSG_RING post from another ring, or a stale id).
   */
  slotOf(lo: number, hi: number): number {
    if ((hi & OP_ID_TAG) === 0) return -1;
    if (lo >= this.capacity) return -1;
    const state = this.state[lo];
    if (state !== SLOT_IN_FLIGHT && state !== SLOT_UNTRACKED) return -1;
    if ((hi & GEN_MASK) !== this.gen[lo]) return -1;
    return lo;
  }

  /** The slot of an op id given by user code (for cancel), or -1 when it is not live. */
  slotOfId(id: number): number {
    if (!Number.isSafeInteger(id) || id < 0) return -1;
    const slot = id % TWO_32;
    const gen = (id - slot) / TWO_32;
    if (slot >= this.capacity || this.state[slot] === SLOT_FREE || this.gen[slot] !== gen) return -1;
    return slot;
  }
}
