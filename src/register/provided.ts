/**
 * Provided buffers: the kernel picks a buffer from a group when data arrives, instead of
 * each op bringing its own (`IOSQE_BUFFER_SELECT`).
 *
 * - {@link BufferRing}: a provided-buffer ring (`IORING_REGISTER_PBUF_RING`, 5.19), the
 *   fast kind. The 16-byte ring entries live in memory we map (`Region.mapAnonymous`);
 *   buffers go back to the kernel by writing an entry and publishing the tail with
 *   `Atomics.store`, with no system call. Incremental consumption (`IOU_PBUF_RING_INC`,
 *   6.12) lets one large buffer serve many completions.
 * - {@link ProvidedBufferGroup}: the legacy `IORING_OP_PROVIDE_BUFFERS` kind (5.7), where
 *   buffers are handed over and recycled with ops.
 *
 * **Where the bytes live, and why.** The buffers themselves are one JS-owned `Uint8Array`
 * per group, never the mapped memory: the ring's registry keeps it referenced until the
 * kernel can no longer write into it (the group is unregistered and the ring has drained,
 * or the ring closed), and {@link BufferGroup.take} hands out plain subarrays of it. A view
 * the user keeps holds the ArrayBuffer alive through the GC like any other, so it can never
 * dangle, even after the group or the ring is gone. The only mapped memory is the ring of
 * entries, which stays private and is unmapped after the drain. What a view does *not*
 * protect against is reuse: once a buffer is recycled the kernel may overwrite it, so keep
 * a view only until you recycle its buffer, or use {@link BufferRing.takeCopy}.
 *
 * **Ownership of each buffer** is tracked: a buffer is either in the kernel's hands or in
 * yours (taken from a CQE with `take`, until `recycle`). Taking a buffer twice, or
 * recycling one the kernel holds, throws; {@link BufferGroup.inKernel} and
 * {@link BufferGroup.heldByUser} count them, which is how a server proves no buffer leaked.
 *
 * **Running dry.** When every buffer is out, an op that needs one fails with `-ENOBUFS`
 * (a multishot op then ends: its CQE has no `IORING_CQE_F_MORE`). Recycle buffers and
 * submit the op again.
 *
 * @module
 */
import {
  IORING_CQE_BUFFER_SHIFT,
  IORING_CQE_F_BUF_MORE,
  IORING_CQE_F_BUFFER,
  IORING_REGISTER_PBUF_RING,
  IORING_REGISTER_PBUF_STATUS,
  IORING_UNREGISTER_PBUF_RING,
  IOSQE_BUFFER_SELECT,
  IOU_PBUF_RING_INC,
} from '../../generated/constants.js';
import { prepProvideBuffers, prepRead, prepReadMultishot, prepRecv, prepRecvMultishot, prepRemoveBuffers } from '../../generated/ops.js';
import {
  IoUringBuf,
  IoUringBufReg,
  IoUringBufRing,
  IoUringBufStatus,
  IoUringSqe,
  SIZEOF_IO_URING_BUF,
  SIZEOF_IO_URING_BUF_REG,
  SIZEOF_IO_URING_BUF_STATUS,
} from '../../generated/structs.js';
import { checkIntRange, checkU32 } from '../abi/check.js';
import type { FileRef } from '../abi/fd.js';
import type { SqeTarget } from '../abi/sqe-target.js';
import { ArgumentError, describeReceived } from '../errors.js';
import { RingStateError } from '../ring/errors.js';
import { Region } from '../ring/region.js';
import type { IoUring } from '../ring/ring.js';
import { IoUringError } from '../sys/errors.js';
import { addressOf } from '../sys/libc.js';
import { registryOf, unregisteredError, type BufferGroupEntry, type Releasable, type RingRegistry } from './registry.js';
import { roundUp } from './util.js';

/** The most entries a buffer ring may have (`ring_entries` is at most 32768). */
export const MAX_BUFFER_RING_ENTRIES = 32768;
/** Buffer ids are 16-bit: at most 65536 buffers per group. */
export const MAX_GROUP_BUFFERS = 65536;
/** The largest buffer a CQE's 32-bit `res` can describe, and the largest the kernel takes. */
export const MAX_PROVIDED_BUFFER_BYTES = 0x7fffffff;

const PAGE_SIZE = 4096;

// Ring entry layout, from the generated struct offsets (word and half-word indices).
const BUF = IoUringBuf.OFFSETS;
const ENTRY_WORDS = SIZEOF_IO_URING_BUF >>> 2;
const ADDR_WORD = BUF.addr >>> 2;
const LEN_WORD = BUF.len >>> 2;
const BID_HALF = BUF.bid >>> 1;
const ENTRY_HALVES = SIZEOF_IO_URING_BUF >>> 1;
/** The ring's tail: a u16 overlaying the first entry's `resv`. */
const TAIL_HALF = IoUringBufRing.OFFSETS.tail >>> 1;
if ((BUF.addr & 7) !== 0 || (BUF.len & 3) !== 0 || (BUF.bid & 1) !== 0 || (IoUringBufRing.OFFSETS.tail & 1) !== 0 || (SIZEOF_IO_URING_BUF & 3) !== 0) {
  throw new Error('io_uring_buf / io_uring_buf_ring layout changed in a way BufferRing does not handle; see src/register/provided.ts');
}
const SQE_BUF_GROUP = IoUringSqe.OFFSETS.bufGroup;
const SQE_FLAGS = IoUringSqe.OFFSETS.flags;
const SQE_LEN = IoUringSqe.OFFSETS.len;
const TWO_32 = 4294967296;

/** Buffer state: handed to the kernel (in the ring or group, or picked by an op in flight). */
const IN_KERNEL = 1;
/** Buffer state: taken from a CQE by the user, or never provided. */
const WITH_USER = 0;

/** What `take` needs from a completion: a ring `Cqe` or a Promise-layer completion both fit. */
export interface BufferCompletion {
  /** The op's result: bytes placed in the buffer. */
  readonly res: number;
  /** The CQE flags (`IORING_CQE_F_BUFFER` and the buffer id in the upper 16 bits). */
  readonly flags: number;
}

/** Options shared by both kinds of group. */
export interface BufferGroupOptions {
  /** The group id (`bgid`, 0 to 65535). Default: the lowest id not in use on the ring. */
  bgid?: number;
  /** Bytes per buffer. */
  bufferSize: number;
}

/** Options of {@link BufferRing.register}. */
export interface BufferRingOptions extends BufferGroupOptions {
  /** Ring entries: a power of two from 1 to 32768. */
  entries: number;
  /** Buffers to create and provide (at most `entries`). Default: `entries`. */
  count?: number;
  /**
   * Incremental consumption (`IOU_PBUF_RING_INC`, Linux 6.12): a completion uses only as
   * much of a buffer as it needs, and the rest serves later completions
   * (`IORING_CQE_F_BUF_MORE` while the buffer is not finished).
   */
  incremental?: boolean;
}

/** Options of {@link ProvidedBufferGroup.create}. */
export interface ProvidedBufferGroupOptions extends BufferGroupOptions {
  /** Buffers in the group (1 to 65536). */
  count: number;
}

/** The buffer id a CQE carries, or -1 when it has none (`IORING_CQE_F_BUFFER` clear). */
export function cqeBufferId(flags: number): number {
  return (flags & IORING_CQE_F_BUFFER) !== 0 ? flags >>> IORING_CQE_BUFFER_SHIFT : -1;
}

/** The JS memory of a group; what the registry releases once the kernel cannot touch it. */
class GroupMemory implements Releasable {
  memory: unknown[];
  #region: Region | undefined;
  constructor(bytes: Uint8Array, region: Region | undefined) {
    this.memory = [bytes];
    this.#region = region;
  }
  release(): void {
    this.memory = [];
    const region = this.#region;
    this.#region = undefined;
    region?.unmap();
  }
}

/**
 * What both kinds of provided-buffer group share: the buffers, their ownership, and the
 * `prep*` methods that point an op at this group (so a group that does not exist, or was
 * closed, is refused before submission).
 */
export abstract class BufferGroup {
  /** The group id (`bgid`). */
  readonly bgid: number;
  /** Buffers in the group; ids run from 0 to `count - 1`. */
  readonly count: number;
  /** Bytes per buffer. */
  readonly bufferSize: number;
  /** The ring the group belongs to. */
  readonly ring: IoUring;
  /** @internal */
  protected readonly registry: RingRegistry;
  /** @internal The buffers, back to back: buffer `bid` is `[bid * bufferSize, (bid + 1) * bufferSize)`. */
  protected readonly bytes: Uint8Array;
  /** @internal Native address of `bytes` (fixed: the memory is off-heap and kept referenced). */
  protected readonly baseAddress: number;
  /** @internal IN_KERNEL or WITH_USER per buffer. */
  protected readonly state: Uint8Array;
  /** @internal Bytes of each buffer already consumed (incremental rings only). */
  protected readonly consumed: Uint32Array;
  /** @internal */
  protected readonly memory: GroupMemory;
  #inKernel = 0;
  #open = true;
  readonly #entry: BufferGroupEntry;

  /** @internal */
  protected constructor(ring: IoUring, registry: RingRegistry, kind: 'ring' | 'legacy', bgid: number, count: number, bufferSize: number, region: Region | undefined) {
    this.ring = ring;
    this.registry = registry;
    this.bgid = bgid;
    this.count = count;
    this.bufferSize = bufferSize;
    this.bytes = new Uint8Array(count * bufferSize);
    this.baseAddress = addressOf(this.bytes);
    this.state = new Uint8Array(count);
    this.consumed = new Uint32Array(count);
    this.memory = new GroupMemory(this.bytes, region);
    this.#entry = { bgid, kind };
  }

  /** @internal Claims the bgid and holds the memory; call once the kernel has accepted the group. */
  protected adopt(): void {
    this.registry.groups.set(this.bgid, this.#entry);
    this.registry.hold(this.memory);
  }

  /** Whether the group can still be used (not closed, ring open). */
  get open(): boolean {
    return this.#open && !this.ring.closed;
  }

  /** Buffers the kernel holds (available to ops, or picked by an op in flight). */
  get inKernel(): number {
    return this.#inKernel;
  }

  /** Buffers taken from CQEs and not yet recycled (or never provided). */
  get heldByUser(): number {
    return this.count - this.#inKernel;
  }

  /** Whether buffer `bid` is in the kernel's hands. */
  isInKernel(bid: number): boolean {
    this.#checkBid('BufferGroup.isInKernel: bid', bid);
    return this.state[bid] === IN_KERNEL;
  }

  /** @internal */
  protected checkOpen(what: string): void {
    if (!this.open) throw unregisteredError(what, this.#entry.kind === 'ring' ? 'buffer ring' : 'buffer group');
  }

  #checkBid(argument: string, bid: unknown): number {
    if (typeof bid === 'number' && bid >>> 0 === bid && bid < this.count) return bid;
    throw new ArgumentError('ERR_OUT_OF_RANGE', argument, `expected a buffer id from 0 to ${this.count - 1} of group ${this.bgid}, received ${describeReceived(bid)}`);
  }

  /** @internal Marks `bid` as handed to the kernel. */
  protected toKernel(argument: string, bid: number): void {
    this.#checkBid(argument, bid);
    if (this.state[bid] === IN_KERNEL) {
      throw new RingStateError('ERR_RING_SQE_STALE', `${argument}: buffer ${bid} of group ${this.bgid} is already in the kernel's hands (recycled twice?)`);
    }
    this.state[bid] = IN_KERNEL;
    this.consumed[bid] = 0;
    this.#inKernel++;
  }

  /** @internal Marks `bid`, which the kernel held, as given back without a CQE (removed). */
  protected fromKernel(bid: number): void {
    if (this.state[bid] !== IN_KERNEL) return;
    this.state[bid] = WITH_USER;
    this.#inKernel--;
  }

  /** @internal Whether `bid` is in the kernel's hands (no range check). */
  protected heldByKernel(bid: number): boolean {
    return this.state[bid] === IN_KERNEL;
  }

  /**
   * The bytes a completion placed in its buffer, as a view over the group's JS-owned
   * memory, and the buffer passes to you: recycle it when done with the bytes (the view
   * stays readable forever, but the kernel may overwrite it once recycled).
   *
   * On an incremental ring, a CQE with `IORING_CQE_F_BUF_MORE` returns the next part of a
   * buffer the kernel keeps using; the buffer passes to you with its last CQE.
   *
   * @throws {@link ArgumentError} when the CQE carries no buffer (`IORING_CQE_F_BUFFER`
   *   clear: an error such as `-ENOBUFS`, or the final `res` 0 of a multishot op), or names
   *   a buffer this group does not hold.
   */
  take(cqe: BufferCompletion): Uint8Array {
    const flags = cqe.flags;
    const res = cqe.res;
    if ((flags & IORING_CQE_F_BUFFER) === 0) {
      throw new ArgumentError('ERR_INVALID_ARG_VALUE', 'BufferGroup.take: cqe', `the completion carries no buffer (res ${res}, flags 0x${(flags >>> 0).toString(16)}); check cqe.bufferId >= 0 first`);
    }
    const bid = flags >>> IORING_CQE_BUFFER_SHIFT;
    this.#checkBid('BufferGroup.take: cqe', bid);
    if (this.state[bid] !== IN_KERNEL) {
      throw new RingStateError('ERR_RING_SQE_STALE', `BufferGroup.take: buffer ${bid} of group ${this.bgid} was already taken (each CQE's buffer is taken once)`);
    }
    const length = res > 0 ? res : 0;
    const start = this.consumed[bid]!;
    if (start + length > this.bufferSize) {
      throw new ArgumentError('ERR_OUT_OF_RANGE', 'BufferGroup.take: cqe', `res ${res} runs past the end of buffer ${bid} (${this.bufferSize - start} bytes left): the CQE is not from this group`);
    }
    if ((flags & IORING_CQE_F_BUF_MORE) !== 0) {
      this.consumed[bid] = start + length;
    } else {
      this.state[bid] = WITH_USER;
      this.#inKernel--;
    }
    const at = bid * this.bufferSize + start;
    return this.bytes.subarray(at, at + length);
  }

  /** Whether a completion's buffer stays with the kernel (`IORING_CQE_F_BUF_MORE`, incremental rings). */
  static bufferContinues(flags: number): boolean {
    return (flags & IORING_CQE_F_BUF_MORE) !== 0;
  }

  /**
   * Prepares a multishot `RECV` (6.0) that picks its buffers from this group: one CQE per
   * receive, each carrying a buffer to {@link BufferGroup.take}.
   *
   * @param flags - MSG_* flags. @param len - Most bytes per CQE (0: whole buffers).
   */
  prepRecvMultishot(sqe: SqeTarget, fd: FileRef, flags = 0, len = 0): void {
    this.checkOpen('BufferGroup.prepRecvMultishot');
    prepRecvMultishot(sqe, fd, len, flags, this.bgid);
  }

  /** Prepares `READ_MULTISHOT` (6.7; buffer rings only) that picks its buffers from this group. */
  prepReadMultishot(sqe: SqeTarget, fd: FileRef, nbytes = 0, offset: number | bigint = -1): void {
    this.checkOpen('BufferGroup.prepReadMultishot');
    prepReadMultishot(sqe, fd, nbytes, offset, this.bgid);
  }

  /**
   * Prepares a single `RECV` into a buffer picked from this group (`IOSQE_BUFFER_SELECT`).
   *
   * @param len - Most bytes to receive; 0, or more than a buffer holds, receives at most one
   *   buffer's worth (the kernel clamps to the picked buffer's size).
   */
  prepRecv(sqe: SqeTarget, fd: FileRef, len = 0, flags = 0): void {
    this.checkOpen('BufferGroup.prepRecv');
    checkU32('BufferGroup.prepRecv: len', len);
    prepRecv(sqe, fd, EMPTY, 0, flags);
    this.#select(sqe, len);
  }

  /**
   * Prepares a single `READ` into a buffer picked from this group (`IOSQE_BUFFER_SELECT`).
   *
   * @param len - Most bytes to read; 0 reads one buffer's worth, and a length past a
   *   buffer's size is clamped to it by the kernel (as liburing allows).
   */
  prepRead(sqe: SqeTarget, fd: FileRef, len = 0, offset: number | bigint = -1): void {
    this.checkOpen('BufferGroup.prepRead');
    checkU32('BufferGroup.prepRead: len', len);
    prepRead(sqe, fd, EMPTY, 0, offset);
    this.#select(sqe, len === 0 ? this.bufferSize : len);
  }

  #select(sqe: SqeTarget, len: number): void {
    const view = sqe.view;
    const at = sqe.offset;
    view.setUint8(at + SQE_FLAGS, view.getUint8(at + SQE_FLAGS) | IOSQE_BUFFER_SELECT);
    view.setUint32(at + SQE_LEN, len, true);
    view.setUint16(at + SQE_BUF_GROUP, this.bgid, true);
  }

  /**
   * @internal Forgets the group: frees its id and retires its memory (released once the
   * ring has nothing in flight), or with `keepForRingLife` leaves the memory held until the
   * ring closes.
   */
  protected forget(keepForRingLife = false): void {
    if (!this.#open) return;
    this.#open = false;
    if (this.registry.groups.get(this.bgid) === this.#entry) this.registry.groups.delete(this.bgid);
    if (!this.ring.closed && !keepForRingLife) this.registry.retire(this.memory);
  }
}

/** Shared zero-length view: the builders' `buf` for buffer-select ops (address 0). */
const EMPTY = new Uint8Array(0);

function pickBgid(registry: RingRegistry, what: string, bgid: number | undefined): number {
  if (bgid === undefined) {
    for (let id = 0; id < 65536; id++) if (!registry.groups.has(id) && !registry.reservedGroups.has(id)) return id;
    throw new ArgumentError('ERR_INVALID_ARG_VALUE', `${what}: options.bgid`, 'all 65536 buffer group ids are in use on this ring');
  }
  checkIntRange(`${what}: options.bgid`, bgid, 0, 0xffff);
  const reserved = registry.reservedGroups.get(bgid);
  if (reserved !== undefined) throw new ArgumentError('ERR_INVALID_ARG_VALUE', `${what}: options.bgid`, reserved);
  if (registry.groups.has(bgid)) {
    throw new ArgumentError('ERR_INVALID_ARG_VALUE', `${what}: options.bgid`, `buffer group ${bgid} is already registered on this ring; close it first or pick another id`);
  }
  return bgid;
}

function checkOptions(what: string, options: unknown): void {
  if (options === null || typeof options !== 'object') {
    throw new ArgumentError('ERR_INVALID_ARG_TYPE', `${what}: options`, `expected an options object, received ${describeReceived(options)}`);
  }
}

/**
 * A provided-buffer ring (`IORING_REGISTER_PBUF_RING`).
 *
 * ```ts
 * using pool = BufferRing.register(ring, { entries: 256, bufferSize: 4096 });
 * pool.prepRecvMultishot(ring.getSqe()!, socket);
 * // for each CQE:
 * if (cqe.bufferId >= 0) { const data = pool.take(cqe); use(data); pool.recycle(cqe.bufferId); }
 * ```
 */
export class BufferRing extends BufferGroup implements Disposable {
  /** Ring entries (a power of two). */
  readonly entries: number;
  /** Whether buffers are consumed incrementally (`IOU_PBUF_RING_INC`). */
  readonly incremental: boolean;
  /** Private views over the mapped entries; emptied before the memory is unmapped. */
  #words: Uint32Array;
  #halves: Uint16Array;
  readonly #mask: number;
  #tail = 0;

  private constructor(ring: IoUring, registry: RingRegistry, bgid: number, entries: number, count: number, bufferSize: number, incremental: boolean, region: Region) {
    super(ring, registry, 'ring', bgid, count, bufferSize, region);
    this.entries = entries;
    this.incremental = incremental;
    this.#mask = entries - 1;
    const buffer = region.buffer();
    this.#words = new Uint32Array(buffer, 0, (entries * SIZEOF_IO_URING_BUF) >>> 2);
    this.#halves = new Uint16Array(buffer, 0, (entries * SIZEOF_IO_URING_BUF) >>> 1);
  }

  /**
   * Maps a ring, registers it, and provides `count` buffers of `bufferSize` bytes.
   *
   * @throws {@link ArgumentError} for bad options or a `bgid` already in use;
   *   `IoUringError` from the kernel (EINVAL for `incremental` before Linux 6.12).
   */
  static register(ring: IoUring, options: BufferRingOptions): BufferRing {
    const what = 'BufferRing.register';
    const registry = registryOf(ring, what);
    checkOptions(what, options);
    const entries = checkIntRange(`${what}: options.entries`, options.entries, 1, MAX_BUFFER_RING_ENTRIES);
    if ((entries & (entries - 1)) !== 0) {
      throw new ArgumentError('ERR_INVALID_ARG_VALUE', `${what}: options.entries`, `expected a power of two, received ${entries}`);
    }
    const bufferSize = checkIntRange(`${what}: options.bufferSize`, options.bufferSize, 1, MAX_PROVIDED_BUFFER_BYTES);
    const count = options.count === undefined ? entries : checkIntRange(`${what}: options.count`, options.count, 1, entries);
    if (count * bufferSize > 2 ** 32) {
      throw new ArgumentError('ERR_OUT_OF_RANGE', `${what}: options`, `count × bufferSize (${count * bufferSize} bytes) exceeds the 4 GiB one group may hold`);
    }
    const incremental = options.incremental === true;
    if (options.incremental !== undefined && typeof options.incremental !== 'boolean') {
      throw new ArgumentError('ERR_INVALID_ARG_TYPE', `${what}: options.incremental`, `expected a boolean, received ${describeReceived(options.incremental)}`);
    }
    const bgid = pickBgid(registry, what, options.bgid);
    const region = Region.mapAnonymous(roundUp(entries * SIZEOF_IO_URING_BUF, PAGE_SIZE), `buffer ring ${bgid}`);
    let pool: BufferRing;
    try {
      pool = new BufferRing(ring, registry, bgid, entries, count, bufferSize, incremental, region);
      const bytes = new Uint8Array(SIZEOF_IO_URING_BUF_REG);
      const reg = new IoUringBufReg(bytes);
      reg.ringAddr = region.address;
      reg.ringEntries = entries;
      reg.bgid = bgid;
      reg.flags = incremental ? IOU_PBUF_RING_INC : 0;
      try {
        ring.register(IORING_REGISTER_PBUF_RING, bytes, 1);
      } catch (err) {
        if (err instanceof IoUringError && err.code === 'EINVAL' && incremental) {
          throw new IoUringError(err.errno, 'io_uring_register', '(IORING_REGISTER_PBUF_RING)', 'Incremental buffer consumption (IOU_PBUF_RING_INC) needs Linux 6.12 or newer');
        }
        throw err;
      }
    } catch (err) {
      region.unmap();
      throw err;
    }
    pool.adopt();
    for (let bid = 0; bid < count; bid++) pool.#put(bid);
    pool.#publish();
    return pool;
  }

  /** Writes buffer `bid` (whole) at the tail; not yet visible to the kernel. */
  #put(bid: number): void {
    this.toKernel('BufferRing.recycle: bid', bid);
    const address = this.baseAddress + bid * this.bufferSize;
    const entry = this.#tail & this.#mask;
    const w = entry * ENTRY_WORDS;
    const lo = address >>> 0;
    this.#words[w + ADDR_WORD] = lo;
    this.#words[w + ADDR_WORD + 1] = (address - lo) / TWO_32;
    this.#words[w + LEN_WORD] = this.bufferSize;
    // bid only: entry 0's resv half-word is the ring's tail.
    this.#halves[entry * ENTRY_HALVES + BID_HALF] = bid;
    this.#tail = (this.#tail + 1) & 0xffff;
  }

  /** Makes the entries written so far visible to the kernel. */
  #publish(): void {
    Atomics.store(this.#halves, TAIL_HALF, this.#tail);
  }

  /**
   * Gives buffer `bid` back to the kernel (whole, from its start). No system call.
   *
   * @throws {@link RingStateError} when the kernel already holds it.
   */
  recycle(bid: number): void {
    this.checkOpen('BufferRing.recycle');
    this.#put(bid);
    this.#publish();
  }

  /** {@link BufferRing.recycle} for several buffers, published to the kernel at once. */
  recycleMany(bids: Iterable<number>): void {
    this.checkOpen('BufferRing.recycleMany');
    try {
      for (const bid of bids) this.#put(bid);
    } finally {
      this.#publish();
    }
  }

  /**
   * {@link BufferGroup.take} then, once the buffer is yours, {@link BufferRing.recycle}:
   * the bytes as a copy (a new Buffer), the buffer straight back to the kernel.
   */
  takeCopy(cqe: BufferCompletion): Buffer {
    const view = this.take(cqe);
    const copy = Buffer.from(view);
    if ((cqe.flags & IORING_CQE_F_BUF_MORE) === 0) this.recycle(cqe.flags >>> IORING_CQE_BUFFER_SHIFT);
    return copy;
  }

  /**
   * The kernel's view (`IORING_REGISTER_PBUF_STATUS`, 6.8): its head, our tail, and how many
   * entries are available for ops to pick (`tail - head`).
   */
  status(): {
    /** The kernel's head: entries it has consumed (mod 2^16). */
    head: number;
    /** Our tail: entries published (mod 2^16). */
    tail: number;
    /** Entries ops can still pick: `tail - head`. */
    available: number;
  } {
    this.checkOpen('BufferRing.status');
    const bytes = new Uint8Array(SIZEOF_IO_URING_BUF_STATUS);
    const st = new IoUringBufStatus(bytes);
    st.bufGroup = this.bgid;
    this.ring.register(IORING_REGISTER_PBUF_STATUS, bytes, 1);
    const head = st.head & 0xffff;
    return { head, tail: this.#tail, available: (this.#tail - head) & 0xffff };
  }

  /**
   * Unregisters the ring (`IORING_UNREGISTER_PBUF_RING`): ops can no longer pick from it.
   * Its memory (the entries' mapping and the buffers) is released once the ring has nothing
   * in flight, or when the ring closes. Idempotent.
   */
  close(): void {
    if (!this.open) {
      this.forget();
      return;
    }
    const bytes = new Uint8Array(SIZEOF_IO_URING_BUF_REG);
    new IoUringBufReg(bytes).bgid = this.bgid;
    try {
      this.ring.register(IORING_UNREGISTER_PBUF_RING, bytes, 1);
    } finally {
      this.#words = new Uint32Array(0);
      this.#halves = new Uint16Array(0);
      this.forget();
    }
  }

  /** Same as {@link BufferRing.close}, for `using`. */
  [Symbol.dispose](): void {
    this.close();
  }

  /** A one-line summary. */
  override toString(): string {
    return `BufferRing(bgid ${this.bgid}, ${this.count} × ${this.bufferSize} bytes, ${this.inKernel} in the kernel${this.incremental ? ', incremental' : ''}${this.open ? '' : ', closed'})`;
  }
}

/**
 * A legacy provided-buffer group (`IORING_OP_PROVIDE_BUFFERS`, 5.7). Buffers reach the
 * kernel through ops: {@link ProvidedBufferGroup.prepProvide} once, then
 * {@link ProvidedBufferGroup.prepRecycle} per buffer taken.
 *
 * The kernel keeps provided buffers until an op uses them or `REMOVE_BUFFERS` takes them
 * back, long after the provide op's own CQE, and a remove does not say which it took. So
 * the group's memory stays referenced for the life of the ring (or until the ring has
 * nothing in flight after {@link ProvidedBufferGroup.close} *and* every buffer was taken).
 * Prefer {@link BufferRing} where the kernel has it (5.19).
 */
export class ProvidedBufferGroup extends BufferGroup implements Disposable {
  /**
   * The kernel's list of this group's buffers, oldest first, as far as we know it: the
   * kernel appends provided buffers in bid order and both picks and removes from the front.
   * `#queue[i]` is a bid; the entry is current only while `#generation[bid]` equals its
   * `#queueGeneration[i]` (a buffer taken and provided again gets a newer entry).
   */
  #queue: number[] = [];
  #queueGeneration: number[] = [];
  #head = 0;
  readonly #generation: Uint32Array;
  /** Why the id is refused once closed with buffers in the kernel (see {@link ProvidedBufferGroup.close}). */
  #reservation: string | undefined;

  private constructor(ring: IoUring, registry: RingRegistry, bgid: number, count: number, bufferSize: number) {
    super(ring, registry, 'legacy', bgid, count, bufferSize, undefined);
    this.#generation = new Uint32Array(count);
  }

  /** Creates the group's memory and claims its id; nothing reaches the kernel until {@link ProvidedBufferGroup.prepProvide}. */
  static create(ring: IoUring, options: ProvidedBufferGroupOptions): ProvidedBufferGroup {
    const what = 'ProvidedBufferGroup.create';
    const registry = registryOf(ring, what);
    checkOptions(what, options);
    const count = checkIntRange(`${what}: options.count`, options.count, 1, MAX_GROUP_BUFFERS);
    const bufferSize = checkIntRange(`${what}: options.bufferSize`, options.bufferSize, 1, MAX_PROVIDED_BUFFER_BYTES);
    if (count * bufferSize > 2 ** 32) {
      throw new ArgumentError('ERR_OUT_OF_RANGE', `${what}: options`, `count × bufferSize (${count * bufferSize} bytes) exceeds the 4 GiB one group may hold`);
    }
    const bgid = pickBgid(registry, what, options.bgid);
    const group = new ProvidedBufferGroup(ring, registry, bgid, count, bufferSize);
    group.adopt();
    return group;
  }

  /**
   * Prepares `PROVIDE_BUFFERS` for buffers `first` to `first + nr - 1` (default: all).
   * They count as the kernel's from here on (if the op fails or the SQE is discarded, they
   * stay counted as the kernel's: the group cannot know).
   */
  prepProvide(sqe: SqeTarget, first = 0, nr = this.count - first): void {
    this.checkOpen('ProvidedBufferGroup.prepProvide');
    checkIntRange('ProvidedBufferGroup.prepProvide: first', first, 0, this.count - 1);
    checkIntRange('ProvidedBufferGroup.prepProvide: nr', nr, 1, this.count - first);
    for (let bid = first; bid < first + nr; bid++) {
      if (this.state[bid] === IN_KERNEL) {
        throw new RingStateError('ERR_RING_SQE_STALE', `ProvidedBufferGroup.prepProvide: buffer ${bid} of group ${this.bgid} is already in the kernel's hands`);
      }
    }
    const memory = this.bytes.subarray(first * this.bufferSize, (first + nr) * this.bufferSize);
    prepProvideBuffers(sqe, memory, this.bufferSize, nr, this.bgid, first);
    for (let bid = first; bid < first + nr; bid++) {
      this.toKernel('ProvidedBufferGroup.prepProvide', bid);
      const generation = (this.#generation[bid]! + 1) >>> 0;
      this.#generation[bid] = generation;
      this.#queue.push(bid);
      this.#queueGeneration.push(generation);
    }
    this.#compact();
  }

  /** Drops queue entries that are no longer current once they outnumber the buffers. */
  #compact(): void {
    if (this.#queue.length - this.#head <= 2 * this.count) return;
    const queue: number[] = [];
    const generations: number[] = [];
    for (let i = this.#head; i < this.#queue.length; i++) {
      const bid = this.#queue[i]!;
      if (this.heldByKernel(bid) && this.#generation[bid] === this.#queueGeneration[i]) {
        queue.push(bid);
        generations.push(this.#queueGeneration[i]!);
      }
    }
    this.#queue = queue;
    this.#queueGeneration = generations;
    this.#head = 0;
  }

  /** Prepares `PROVIDE_BUFFERS` giving one taken buffer back to the kernel. */
  prepRecycle(sqe: SqeTarget, bid: number): void {
    this.prepProvide(sqe, checkIntRange('ProvidedBufferGroup.prepRecycle: bid', bid, 0, this.count - 1), 1);
  }

  /**
   * Prepares `REMOVE_BUFFERS` for up to `nr` (default: all) buffers the kernel still holds;
   * the CQE's `res` says how many it removed. Report that completion with
   * {@link ProvidedBufferGroup.removed} so the group knows which buffers are yours again.
   */
  prepRemove(sqe: SqeTarget, nr = this.count): void {
    this.checkOpen('ProvidedBufferGroup.prepRemove');
    prepRemoveBuffers(sqe, checkIntRange('ProvidedBufferGroup.prepRemove: nr', nr, 1, this.count), this.bgid);
  }

  /**
   * Records a `REMOVE_BUFFERS` completion (from {@link ProvidedBufferGroup.prepRemove}):
   * its `res` buffers left the kernel, the oldest provided first (the kernel's order), and
   * are yours again. Once none is left in the kernel after {@link ProvidedBufferGroup.close},
   * the group's id is free again. May be called after `close`.
   *
   * @throws {@link ArgumentError} when `cqe.res` is negative (the remove failed: nothing
   *   was removed) or not an integer.
   */
  removed(cqe: { readonly res: number }): void {
    const res = cqe.res;
    if (typeof res !== 'number' || !Number.isInteger(res) || res < 0) {
      throw new ArgumentError('ERR_INVALID_ARG_VALUE', 'ProvidedBufferGroup.removed: cqe', `expected the CQE of a REMOVE_BUFFERS that succeeded (res >= 0), received res ${describeReceived(res)}`);
    }
    let left = res;
    while (left > 0 && this.#head < this.#queue.length) {
      const i = this.#head++;
      const bid = this.#queue[i]!;
      if (!this.heldByKernel(bid) || this.#generation[bid] !== this.#queueGeneration[i]) continue;
      this.fromKernel(bid);
      left--;
    }
    this.#compact();
    if (this.#reservation !== undefined && this.inKernel === 0) this.#unreserve();
  }

  /**
   * Stops using the group. With no buffer in the kernel's hands its id is free at once.
   * Otherwise the kernel keeps those buffers under the id, so the id stays refused (a new
   * group under it, or an op naming it, would get the old group's memory) and the memory
   * stays referenced, until the ring closes, or until {@link ProvidedBufferGroup.removed}
   * reports a `REMOVE_BUFFERS` that took the last of them. To reuse the id while the ring
   * runs: `prepRemove`, submit, wait for its CQE, `removed(cqe)`, then `close()`.
   */
  close(): void {
    if (!this.open) return;
    const held = this.inKernel;
    if (held === 0) {
      this.forget();
      return;
    }
    // Buffers the kernel may still own keep the memory for the ring's life (a retired
    // resource is released once nothing is in flight, which is not enough for them) and
    // keep the id out of use.
    this.forget(true);
    this.#reservation =
      `buffer group ${this.bgid} was closed while the kernel still held ${held} of its buffers, which it keeps under that id: ` +
      'pick another id, or remove them first (ProvidedBufferGroup.prepRemove, then removed(cqe) with its completion)';
    this.registry.reservedGroups.set(this.bgid, this.#reservation);
  }

  #unreserve(): void {
    if (this.registry.reservedGroups.get(this.bgid) === this.#reservation) this.registry.reservedGroups.delete(this.bgid);
    this.#reservation = undefined;
    if (!this.ring.closed) this.registry.retire(this.memory);
  }

  /** Same as {@link ProvidedBufferGroup.close}, for `using`. */
  [Symbol.dispose](): void {
    this.close();
  }

  /** A one-line summary. */
  override toString(): string {
    return `ProvidedBufferGroup(bgid ${this.bgid}, ${this.count} × ${this.bufferSize} bytes, ${this.inKernel} in the kernel${this.open ? '' : ', closed'})`;
  }
}
