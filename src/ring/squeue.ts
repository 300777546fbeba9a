/**
 * The submission side of a ring: SQE handles, staging, and publishing the SQ tail.
 *
 * Two modes, fixed at setup:
 * - **in place** (shared ring memory): handles write straight into the kernel's SQE array;
 *   submitting writes each SQE's `user_data` and publishes the tail.
 * - **staged** (mapped ring memory): handles write into JS-owned staging memory laid out
 *   like the SQE array; submitting copies each SQE into the mapping first.
 *
 * Positions: SQE `i` of the ring always sits at SQ position `i & mask`; with an SQ index
 * array that array holds the identity mapping, written once.
 *
 * @module
 */
import {
  IORING_OP_PROVIDE_BUFFERS,
  IOSQE_CQE_SKIP_SUCCESS,
  IOSQE_IO_HARDLINK,
  IOSQE_IO_LINK,
} from '../../generated/constants.js';
import { IoUringSqe } from '../../generated/structs.js';
import { OP_ID_TAG } from '../abi/op-id.js';
import { RingStateError } from './errors.js';
import { LINK_SKIP, LINK_SOFT, SLOT_IN_FLIGHT, type OpTable } from './op-table.js';
import type { RingLayout } from './memory.js';
import type { CancelKeys } from './cancel-keys.js';
import type { Registrations } from './registrations.js';
import { Sqe, type SqeOwner } from './sqe.js';

// Word indices into an SQE, from the generated offsets (the hot paths index Uint32Arrays).
const SQE = IoUringSqe.OFFSETS;
/** Word holding opcode (byte 0) and flags (byte 1). */
export const SQE_OPCODE_WORD = SQE.opcode >>> 2;
export const SQE_OPCODE_SHIFT = (SQE.opcode & 3) * 8;
export const SQE_FLAGS_SHIFT = (SQE.flags & 3) * 8;
const SQE_USER_DATA_WORD = SQE.userData >>> 2;
/** Word holding `buf_group` (a u16, at an even byte offset). */
const SQE_BUF_GROUP_WORD = SQE.bufGroup >>> 2;
const SQE_BUF_GROUP_SHIFT = (SQE.bufGroup & 3) * 8;
/** Word of the op-specific flags union (`rw_flags`, `nop_flags`, ...). */
const SQE_OP_FLAGS_WORD = SQE.nopFlags >>> 2;
if (SQE.flags >>> 2 !== SQE_OPCODE_WORD || (SQE.bufGroup & 1) !== 0 || (SQE.userData & 7) !== 0) {
  throw new Error('io_uring_sqe layout changed in a way the ring does not handle; see src/ring/squeue.ts');
}
const LINK_FLAGS = IOSQE_IO_LINK | IOSQE_IO_HARDLINK;
/** `-ECANCELED`: what an op dropped before it reached the kernel completes with. */
const ECANCELED = -125;

/**
 * @internal The ring's submission queue.
 */
export class SubmissionQueue {
  /** The kernel's SQ ring (cursors, index array) as words. */
  sq: Uint32Array;
  /** The kernel's SQE array as words. */
  sqes: Uint32Array;
  /** Where handles write SQEs: the staging copy, or {@link SubmissionQueue.sqes} itself in place. */
  src: Uint32Array;
  readonly inPlace: boolean;
  at: RingLayout;
  mask: number;
  entries: number;
  readonly sqeWords: number;
  readonly sqeSize: number;
  handles: Sqe[];
  core: SqeOwner & { closed: boolean };
  /** Cores of handles from before a resize(): marked closed with the ring. */
  readonly oldCores: (SqeOwner & { closed: boolean })[] = [];
  /** SQEs handed out by getSqe() (the next position to hand out). */
  tail = 0;
  /** SQEs published to the kernel (the SQ tail we stored). */
  flushed = 0;
  /** The kernel's SQ head as last read (acquire). */
  headSeen = 0;
  /**
   * Memory the kernel copies at prep, by the SQ position of its SQE (`pinUntilConsumed`):
   * released once the kernel's SQ head has passed that position. A FIFO, in order.
   */
  readonly #consumed: { position: number; memory: unknown[] }[] = [];
  #consumedHead = 0;
  /** Scratch for flush: 1 at SQ positions whose skip-success op no later CQE accounts for. */
  #untracked = new Uint8Array(0);
  readonly #unsupported: Uint8Array | undefined;

  readonly #keys: CancelKeys;

  constructor(
    sq: Uint32Array,
    sqes: Uint32Array,
    inPlace: { buffer: ArrayBufferLike; byteOffset: number } | null,
    at: RingLayout,
    entries: number,
    sqeSize: number,
    table: OpTable,
    registered: Registrations,
    unsupported: Uint8Array | undefined,
    keys: CancelKeys,
  ) {
    this.sq = sq;
    this.sqes = sqes;
    this.inPlace = inPlace !== null;
    this.at = at;
    this.mask = entries - 1;
    this.entries = entries;
    this.sqeSize = sqeSize;
    this.sqeWords = sqeSize >>> 2;
    this.#unsupported = unsupported;
    this.#keys = keys;
    this.core = { table, stagedSlot: new Int32Array(entries).fill(-1), closed: false, registered, keys };
    this.src = sqes;
    this.handles = [];
    this.#rebuild(inPlace);
    this.tail = sq[at.sqTail]!;
    this.flushed = this.tail;
    // Acquire: the kernel's consumption of earlier SQEs is visible before we reuse their slots.
    this.headSeen = Atomics.load(sq, at.sqHead);
  }

  /** (Re)builds the staging memory, handles and index array for the current size. */
  #rebuild(inPlace: { buffer: ArrayBufferLike; byteOffset: number } | null): void {
    const bytes = this.entries * this.sqeSize;
    let view: DataView;
    if (inPlace !== null) {
      this.src = this.sqes;
      view = new DataView(inPlace.buffer, inPlace.byteOffset, bytes);
    } else {
      this.src = new Uint32Array(bytes >>> 2);
      view = new DataView(this.src.buffer);
    }
    const core = this.core;
    this.handles = Array.from({ length: this.entries }, (_, i) => new Sqe(core, view, i, this.sqeSize, this.#unsupported));
    if (this.at.sqArray >= 0) {
      // One SQE slot per array entry, forever: positions stay aligned with the SQE array.
      for (let i = 0; i < this.entries; i++) this.sq[this.at.sqArray + i] = i;
    }
  }

  /**
   * Adopts new ring memory after a resize: the kernel copied the cursors; handles of the
   * old size keep their old core (marked closed with the ring) and so refuse to be used.
   */
  adopt(sq: Uint32Array, sqes: Uint32Array, inPlace: { buffer: ArrayBufferLike; byteOffset: number } | null, at: RingLayout, entries: number, table: OpTable, registered: Registrations): void {
    this.oldCores.push(this.core);
    this.core = { table, stagedSlot: new Int32Array(entries).fill(-1), closed: false, registered, keys: this.#keys };
    this.sq = sq;
    this.sqes = sqes;
    this.at = at;
    this.mask = entries - 1;
    this.entries = entries;
    this.#rebuild(inPlace);
    this.headSeen = Atomics.load(sq, at.sqHead);
  }

  /** Marks every handle ever made stale-for-good (the ring closed). */
  close(): void {
    this.core.closed = true;
    for (const core of this.oldCores) core.closed = true;
    const empty = new Uint32Array(0);
    this.sq = empty;
    this.sqes = empty;
  }

  /** SQEs handed out and not yet published. */
  get staged(): number {
    return (this.tail - this.flushed) >>> 0;
  }

  /** Free positions (re-reading the kernel's head). */
  spaceLeft(): number {
    this.headSeen = Atomics.load(this.sq, this.at.sqHead);
    return this.entries - ((this.tail - this.headSeen) >>> 0);
  }

  /** SQEs published to the kernel that it has not consumed yet (liburing's `io_uring_sq_ready` after a flush). */
  ready(): number {
    return (this.flushed - Atomics.load(this.sq, this.at.sqHead)) >>> 0;
  }

  /**
   * The next SQE handle with `slot` bound to it, or null when the SQ is full. The caller
   * acquired `slot` from the op table.
   */
  take(table: OpTable, maxLive: number): Sqe | null {
    const tail = this.tail;
    if (((tail - this.headSeen) >>> 0) >= this.entries) {
      this.headSeen = Atomics.load(this.sq, this.at.sqHead);
      if (((tail - this.headSeen) >>> 0) >= this.entries) return null;
    }
    if (table.live >= maxLive) return null;
    const slot = table.acquire();
    if (slot < 0) return null;
    const position = tail & this.mask;
    this.core.stagedSlot[position] = slot;
    // A forgotten SQE must go out as a plain NOP, never as the stale op of its last use:
    // opcode, IOSQE flags and the op-specific flags word are all a NOP reads (builders
    // zero the whole slot themselves).
    const w = position * this.sqeWords;
    this.src[w + SQE_OPCODE_WORD] = 0;
    this.src[w + SQE_OP_FLAGS_WORD] = 0;
    this.tail = (tail + 1) >>> 0;
    return this.handles[position]!;
  }

  /**
   * Withdraws a staged SQE. The last one staged is simply taken back; an earlier one (more
   * were staged after it, so positions cannot shift) becomes a NOP whose CQE is consumed
   * silently, and its slot drops everything it referenced. Returns false for an SQE that is
   * not staged on this queue.
   */
  withdraw(sqe: Sqe, table: OpTable): boolean {
    for (let p = (this.tail - 1) >>> 0; p !== ((this.flushed - 1) >>> 0); p = (p - 1) >>> 0) {
      const position = p & this.mask;
      if (this.handles[position] !== sqe) continue;
      const slot = this.core.stagedSlot[position]!;
      if (slot < 0 || table.silent[slot] === 1) return false;
      if (p === ((this.tail - 1) >>> 0)) {
        this.core.stagedSlot[position] = -1;
        table.release(slot);
        this.tail = p;
        return true;
      }
      const w = position * this.sqeWords;
      for (let k = 0; k < this.sqeWords; k++) this.src[w + k] = 0;
      const pins = table.pins[slot]!;
      while (pins.length !== 0) pins.pop();
      table.tag[slot] = undefined;
      table.handler[slot] = undefined;
      table.silent[slot] = 1;
      return true;
    }
    return false;
  }

  /**
   * Releases prep-time memory of SQEs the kernel has consumed. Acquire: the head load
   * orders after the kernel's reads of those SQEs (and of the memory they point at).
   */
  releaseConsumed(): void {
    if (this.#consumedHead === this.#consumed.length) return;
    const head = Atomics.load(this.sq, this.at.sqHead);
    const fifo = this.#consumed;
    while (this.#consumedHead < fifo.length && ((head - fifo[this.#consumedHead]!.position) | 0) > 0) fifo[this.#consumedHead++] = undefined as never;
    if (this.#consumedHead === fifo.length) {
      fifo.length = 0;
      this.#consumedHead = 0;
    }
  }

  /** Whether an SQE staged (not yet published) provides buffers to group `bgid`. */
  stagedProvides(bgid: number): boolean {
    const words = this.sqeWords;
    const src = this.src;
    for (let p = this.flushed; p !== this.tail; p = (p + 1) >>> 0) {
      const w = (p & this.mask) * words;
      if (((src[w + SQE_OPCODE_WORD]! >>> SQE_OPCODE_SHIFT) & 0xff) !== IORING_OP_PROVIDE_BUFFERS) continue;
      if (((src[w + SQE_BUF_GROUP_WORD]! >>> SQE_BUF_GROUP_SHIFT) & 0xffff) === bgid) return true;
    }
    return false;
  }

  /**
   * Drops every staged SQE (close): they never reach the kernel. An op with a handler (a
   * Promise-layer op) is completed with -ECANCELED, so its promise settles.
   */
  dropStaged(table: OpTable): void {
    for (let p = this.flushed; p !== this.tail; p = (p + 1) >>> 0) {
      const position = p & this.mask;
      const slot = this.core.stagedSlot[position]!;
      this.core.stagedSlot[position] = -1;
      if (slot < 0) continue;
      const handler = table.silent[slot] === 1 ? undefined : table.handler[slot];
      table.release(slot);
      handler?.complete(-ECANCELED, 0, true, slot);
    }
    this.tail = this.flushed;
  }

  /**
   * Publishes staged SQEs: writes their op ids into `user_data` (copying them into the
   * kernel's array first when staged), records chain bookkeeping, and stores the SQ tail.
   * Returns how many were published.
   */
  flush(table: OpTable, registered: Registrations): number {
    this.releaseConsumed();
    const from = this.flushed;
    let to = this.tail;
    let count = (to - from) >>> 0;
    if (count === 0) return 0;
    const src = this.src;
    const words = this.sqeWords;
    const mask = this.mask;
    // Most batches have no links and no skip-success: they need none of the chain bookkeeping.
    let chainBits = 0;
    for (let i = 0; i < count; i++) chainBits |= src[((from + i) & mask) * words + SQE_OPCODE_WORD]!;
    chainBits = (chainBits >>> SQE_FLAGS_SHIFT) & 0xff;
    if ((chainBits & (LINK_FLAGS | IOSQE_CQE_SKIP_SUCCESS)) !== 0) {
      if ((chainBits & IOSQE_CQE_SKIP_SUCCESS) !== 0 && this.#fenceTrailingSkips(from, count, table)) {
        to = this.tail;
        count = (to - from) >>> 0;
      }
      this.#flushChains(from, count, table, registered);
    } else {
      for (let i = 0; i < count; i++) this.#commit((from + i) & mask, table, registered);
    }
    // Release: every SQE byte written above (builders' writes included) is visible to the
    // kernel before it can see the new tail. Atomics.store is sequentially consistent, a
    // full barrier for the plain stores before it.
    Atomics.store(this.sq, this.at.sqTail, to);
    this.flushed = to;
    return count;
  }

  /**
   * A batch that ends with skip-success ops that pin memory (a write with skip-success at
   * the end of a hard-linked chain, liburing style) gets a fence: a NOP hard-linked after
   * its last op, whose CQE (consumed silently) proves the chain ended, so the pinned memory
   * can be released; the skipped ops themselves still post nothing on success. Needs one
   * free SQ position; without it the batch is refused as before. Returns whether a fence
   * was added.
   */
  #fenceTrailingSkips(from: number, count: number, table: OpTable): boolean {
    const src = this.src;
    const words = this.sqeWords;
    const mask = this.mask;
    const staged = this.core.stagedSlot;
    let pins = false;
    for (let i = count - 1; i >= 0; i--) {
      const position = (from + i) & mask;
      const flags = (src[position * words + SQE_OPCODE_WORD]! >>> SQE_FLAGS_SHIFT) & 0xff;
      if (i < count - 1 && (flags & LINK_FLAGS) === 0) break; // not linked to the run after it
      if ((flags & IOSQE_CQE_SKIP_SUCCESS) === 0) break;
      const slot = staged[position]!;
      if (table.handler[slot] !== undefined) return false; // Promise ops lose the flag instead
      if (table.pins[slot]!.length !== 0) pins = true;
    }
    if (!pins) return false;
    const last = (from + count - 1) & mask;
    if (this.take(table, Infinity) === null) return false;
    const fence = (this.tail - 1) & mask;
    const w = fence * words;
    for (let k = 0; k < words; k++) src[w + k] = 0; // IORING_OP_NOP
    table.silent[staged[fence]!] = 1;
    src[last * words + SQE_OPCODE_WORD] = (src[last * words + SQE_OPCODE_WORD]! | (IOSQE_IO_HARDLINK << SQE_FLAGS_SHIFT)) >>> 0;
    return true;
  }

  /**
   * The flush of a batch with links or skip-success. An op with IOSQE_CQE_SKIP_SUCCESS
   * posts no CQE when it succeeds; the ring learns it is done from the next op of its
   * chain that posts (a chain ends at an op without a link flag, or at the end of the
   * submission). Skip ops after a chain's last posting op are never heard of again on
   * success: a raw one may not pin memory and becomes untracked; a Promise-layer one (it has
   * a handler, which must settle) loses its skip flag and posts its CQE after all.
   */
  #flushChains(from: number, count: number, table: OpTable, registered: Registrations): void {
    const src = this.src;
    const words = this.sqeWords;
    const mask = this.mask;
    const staged = this.core.stagedSlot;
    // Pass 1, backwards, before anything changes.
    if (this.#untracked.length < this.entries) this.#untracked = new Uint8Array(this.entries);
    const untracked = this.#untracked;
    let trailingSkips = false;
    // Keyed ops (cancel keys) cannot be chained: the chain bookkeeping must know which op a
    // CQE ends, and a key's CQE does not say. Refused before anything changes.
    let prevSkipLinked = false;
    for (let i = 0; i < count; i++) {
      const position = (from + i) & mask;
      const flags = (src[position * words + SQE_OPCODE_WORD]! >>> SQE_FLAGS_SHIFT) & 0xff;
      if (table.keyOf[staged[position]!]! >= 0 && ((flags & (LINK_FLAGS | IOSQE_CQE_SKIP_SUCCESS)) !== 0 || prevSkipLinked)) {
        throw new RingStateError(
          'ERR_RING_BUSY',
          'IoUring.submit: an op with a cancel key may not be linked, skip-success, or follow a skip-success op in a chain (its CQE does not say which op it ends). Nothing was submitted',
        );
      }
      prevSkipLinked = (flags & IOSQE_CQE_SKIP_SUCCESS) !== 0 && (flags & LINK_FLAGS) !== 0;
    }
    for (let i = count - 1; i >= 0; i--) {
      const position = (from + i) & mask;
      const w = position * words + SQE_OPCODE_WORD;
      const flags = (src[w]! >>> SQE_FLAGS_SHIFT) & 0xff;
      if (i === count - 1 || (flags & LINK_FLAGS) === 0) trailingSkips = true;
      if ((flags & IOSQE_CQE_SKIP_SUCCESS) === 0) trailingSkips = false;
      untracked[position] = 0;
      if (!trailingSkips) continue;
      const slot = staged[position]!;
      if (table.handler[slot] !== undefined) {
        src[w] = (src[w]! & ~(IOSQE_CQE_SKIP_SUCCESS << SQE_FLAGS_SHIFT)) >>> 0;
        trailingSkips = false;
        continue;
      }
      untracked[position] = 1;
      if (table.pins[slot]!.length !== 0) {
        throw new RingStateError(
          'ERR_RING_SKIP_SUCCESS_UNLINKED',
          'IoUring.submit: an SQE with IOSQE_CQE_SKIP_SUCCESS pins memory but is not linked to a later op that posts a CQE; ' +
            'without a CQE the ring could never know when the kernel is done with that memory. Link it to a following op or drop skipSuccess(). Nothing was submitted',
        );
      }
    }
    let skipPred = -1;
    let linkedPred = -1;
    for (let i = 0; i < count; i++) {
      const position = (from + i) & mask;
      const slot = this.#commit(position, table, registered);
      if (untracked[position] === 1) {
        // Pins nothing (checked above); keeps its identity for a failure CQE.
        table.markUntracked(slot);
        skipPred = -1;
        linkedPred = -1;
        continue;
      }
      if (skipPred >= 0) {
        table.skipPred[slot] = skipPred;
        table.skipPredGen[slot] = table.gen[skipPred]!;
      }
      if (linkedPred >= 0) {
        table.chainNext[linkedPred] = slot;
        table.chainNextGen[linkedPred] = table.gen[slot]!;
      }
      const flags = (src[position * words + SQE_OPCODE_WORD]! >>> SQE_FLAGS_SHIFT) & 0xff;
      const linked = i < count - 1 && (flags & LINK_FLAGS) !== 0;
      const skip = (flags & IOSQE_CQE_SKIP_SUCCESS) !== 0;
      table.linkBits[slot] = (skip ? LINK_SKIP : 0) | (linked && (flags & IOSQE_IO_HARDLINK) === 0 ? LINK_SOFT : 0);
      skipPred = skip && linked ? slot : -1;
      linkedPred = linked ? slot : -1;
    }
  }

  /**
   * Moves the staged SQE at `position` to the kernel: writes its op id into `user_data`
   * (tagged, so MSG_RING posts from other rings are told apart), marks its slot in flight,
   * and, when staged, copies it into the kernel's array. Returns the slot.
   */
  #commit(position: number, table: OpTable, registered: Registrations): number {
    const src = this.src;
    const staged = this.core.stagedSlot;
    const slot = staged[position]!;
    staged[position] = -1;
    const words = this.sqeWords;
    const w = position * words;
    const prepPins = table.prepPins[slot]!;
    if (prepPins.length !== 0) {
      this.#consumed.push({ position: this.flushed + ((position - (this.flushed & this.mask)) & this.mask), memory: prepPins.splice(0) });
    }
    const key = table.keyOf[slot]!;
    if (key < 0) {
      src[w + SQE_USER_DATA_WORD] = slot;
      src[w + SQE_USER_DATA_WORD + 1] = (OP_ID_TAG | table.gen[slot]!) >>> 0;
    } else {
      const [lo, hi] = this.#keys.words(key);
      src[w + SQE_USER_DATA_WORD] = lo;
      src[w + SQE_USER_DATA_WORD + 1] = hi;
      this.#keys.addMember(key, slot);
    }
    const opcode = (src[w + SQE_OPCODE_WORD]! >>> SQE_OPCODE_SHIFT) & 0xff;
    table.opcode[slot] = opcode;
    table.state[slot] = SLOT_IN_FLIGHT;
    if (opcode === IORING_OP_PROVIDE_BUFFERS) registered.noteProvided((src[w + SQE_BUF_GROUP_WORD]! >>> SQE_BUF_GROUP_SHIFT) & 0xffff);
    const sqes = this.sqes;
    if (src !== sqes) for (let k = 0; k < words; k++) sqes[w + k] = src[w + k]!;
    return slot;
  }
}
