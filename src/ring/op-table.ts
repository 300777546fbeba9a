/**
 * The ring's table of operations between `getSqe()` and their final CQE.
 *
 * The ring owns `sqe->user_data`: it writes an op id that names a slot here and the slot's
 * generation. The slot holds what the kernel may still touch (pinned buffers, iovec arrays,
 * paths, timespecs) and the caller's own tag, so memory stays referenced until the final
 * CQE (for multishot ops: the one without `IORING_CQE_F_MORE`), completions are matched
 * exactly once, and close knows precisely what is still in flight.
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

/** linkBits: the op was submitted with IOSQE_CQE_SKIP_SUCCESS. */
export const LINK_SKIP = 1;
/** linkBits: the op was submitted with IOSQE_IO_LINK (not HARDLINK) and a successor. */
export const LINK_SOFT = 2;

const TWO_32 = 4294967296;
/** Generations live in the high word below the tag bit and stay below 2^21 so ids are safe integers. */
const GEN_MASK = 0x1fffff;

/** What a completion handler receives; implemented by the Promise layer. */
export interface CompletionHandler {
  /** Called for every CQE of the op; `final` is false while `IORING_CQE_F_MORE` is set. */
  complete(res: number, flags: number, final: boolean, slot: number): void;
}

export class OpTable {
  readonly capacity: number;
  /** Generation of each slot, bumped on every acquire so stale ids never match. */
  readonly gen: Uint32Array;
  readonly state: Uint8Array;
  /** The opcode written into the slot's SQE, for error messages and the close path. */
  readonly opcode: Uint8Array;
  /** The caller's tag for each slot (`sqe.userData`). */
  readonly tag: unknown[];
  /** Memory pinned for each slot; arrays are reused, never reallocated per op. */
  readonly pins: unknown[][];
  /** Promise-layer handler, when the op was started through it. */
  readonly handler: (CompletionHandler | undefined)[];
  /**
   * For an op linked after one submitted with IOSQE_CQE_SKIP_SUCCESS: that predecessor's
   * slot (and generation), else -1. The predecessor posts no CQE when it succeeds; the
   * kernel finishes a chain in order, so this op's final CQE proves it is done.
   */
  readonly skipPred: Int32Array;
  readonly skipPredGen: Uint32Array;
  /**
   * For an op linked to a later one in the same submission: that successor's slot (and
   * generation), else -1. Used when the kernel ends the rest of a chain without CQEs.
   */
  readonly chainNext: Int32Array;
  readonly chainNextGen: Uint32Array;
  /** {@link LINK_SKIP} | {@link LINK_SOFT} of the op as submitted. */
  readonly linkBits: Uint8Array;
  /** 1 once an earlier op of the chain failed: the kernel will post -ECANCELED for this one. */
  readonly cancelPending: Uint8Array;
  private readonly free: Int32Array;
  private freeTop: number;
  /** Slots not Free. */
  live = 0;

  constructor(capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1 || capacity > 1 << 24) {
      throw new RangeError(`op table capacity must be an integer from 1 to ${1 << 24}, got ${capacity}`);
    }
    this.capacity = capacity;
    this.gen = new Uint32Array(capacity);
    this.state = new Uint8Array(capacity);
    this.opcode = new Uint8Array(capacity);
    this.tag = new Array<unknown>(capacity).fill(undefined);
    this.pins = Array.from({ length: capacity }, () => []);
    this.handler = new Array<CompletionHandler | undefined>(capacity).fill(undefined);
    this.skipPred = new Int32Array(capacity).fill(-1);
    this.skipPredGen = new Uint32Array(capacity);
    this.chainNext = new Int32Array(capacity).fill(-1);
    this.chainNextGen = new Uint32Array(capacity);
    this.linkBits = new Uint8Array(capacity);
    this.cancelPending = new Uint8Array(capacity);
    this.free = new Int32Array(capacity);
    // Hand out low slots first: it keeps the working set of the arrays small.
    for (let i = 0; i < capacity; i++) this.free[i] = capacity - 1 - i;
    this.freeTop = capacity;
  }

  /** Free slots left. */
  get available(): number {
    return this.freeTop;
  }

  /** Takes a free slot and moves it to Staged; -1 when every slot is in use. */
  acquire(): number {
    if (this.freeTop === 0) return -1;
    const slot = this.free[--this.freeTop]!;
    this.gen[slot] = (this.gen[slot]! + 1) & GEN_MASK;
    this.state[slot] = SLOT_STAGED;
    this.skipPred[slot] = -1;
    this.chainNext[slot] = -1;
    this.linkBits[slot] = 0;
    this.cancelPending[slot] = 0;
    this.live++;
    return slot;
  }

  /**
   * Releases `slot` and the skip-success predecessors its final CQE accounts for.
   * A predecessor already released (it failed and posted its own CQE) or reused is left alone.
   */
  releaseChain(slot: number): void {
    let pred = this.skipPred[slot]!;
    let predGen = this.skipPredGen[slot]!;
    this.release(slot);
    while (pred >= 0) {
      if (this.state[pred] !== SLOT_IN_FLIGHT || this.gen[pred] !== predGen) break;
      const next = this.skipPred[pred]!;
      const nextGen = this.skipPredGen[pred]!;
      this.release(pred);
      pred = next;
      predGen = nextGen;
    }
  }

  /** Drops everything the slot referenced and returns it to the free list. */
  release(slot: number): void {
    if (this.state[slot] === SLOT_FREE) return;
    this.state[slot] = SLOT_FREE;
    this.tag[slot] = undefined;
    this.handler[slot] = undefined;
    const pins = this.pins[slot]!;
    // pop() inlines; assigning length goes through a slow generic setter.
    while (pins.length !== 0) pins.pop();
    this.free[this.freeTop++] = slot;
    this.live--;
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
    if (this.state[lo] !== SLOT_IN_FLIGHT) return -1;
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
