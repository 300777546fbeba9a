/**
 * `IoUring`: one io_uring instance — setup, memory mapping, submission and reaping.
 *
 * Memory rules (see DESIGN.md, "The runtime"):
 * - Views over kernel-mapped memory live only in private fields of this class. User code
 *   gets copies (`Cqe` snapshots) or JS-owned staging memory (`Sqe`), never a view of the
 *   rings, so nothing can read or write the rings after `close()` unmaps them.
 * - Kernel-written cursors (SQ head, CQ tail, SQ flags) are read with `Atomics.load`;
 *   the SQ tail and CQ head are published with `Atomics.store`.
 * - The ring owns `user_data`. Every op holds a slot in the {@link OpTable} from
 *   `getSqe()` to its final CQE, and with it every buffer the kernel may touch.
 *
 * @module
 */
import {
  IORING_ASYNC_CANCEL_ALL,
  IORING_ASYNC_CANCEL_ANY,
  IORING_CQE_F_MORE,
  IORING_CQE_F_SKIP,
  IORING_ENTER_EXT_ARG,
  IORING_ENTER_GETEVENTS,
  IORING_ENTER_REGISTERED_RING,
  IORING_ENTER_SQ_WAKEUP,
  IORING_FEAT_EXT_ARG,
  IORING_FEAT_SINGLE_MMAP,
  IORING_OFF_CQ_RING,
  IORING_OFF_SQ_RING,
  IORING_OFF_SQES,
  IORING_OP_ASYNC_CANCEL,
  IORING_OP_PROVIDE_BUFFERS,
  IORING_OP_TIMEOUT,
  IORING_REGISTER_ENABLE_RINGS,
  IORING_REGISTER_RESIZE_RINGS,
  IORING_REGISTER_RING_FDS,
  IORING_REGISTER_USE_REGISTERED_RING,
  IORING_SETUP_CQE32,
  IORING_SETUP_CQSIZE,
  IORING_SETUP_DEFER_TASKRUN,
  IORING_SETUP_NO_MMAP,
  IORING_SETUP_NO_SQARRAY,
  IORING_SETUP_R_DISABLED,
  IORING_SETUP_REGISTERED_FD_ONLY,
  IORING_SETUP_SQE128,
  IORING_SETUP_SQPOLL,
  IORING_SETUP_TASKRUN_FLAG,
  IORING_SQ_CQ_OVERFLOW,
  IORING_SQ_NEED_WAKEUP,
  IORING_SQ_TASKRUN,
  IORING_UNREGISTER_RING_FDS,
  IOSQE_CQE_SKIP_SUCCESS,
  IOSQE_IO_HARDLINK,
  IOSQE_IO_LINK,
} from '../../generated/constants.js';
import { OPCODE_NAMES } from '../../generated/ops.js';
import {
  IoUringCqe,
  IoUringGeteventsArg,
  IoUringParams,
  IoUringSqe,
  IoUringRsrcUpdate,
  KernelTimespec,
  SIZEOF_IO_URING_CQE,
  SIZEOF_IO_URING_GETEVENTS_ARG,
  SIZEOF_IO_URING_PARAMS,
  SIZEOF_IO_URING_RSRC_UPDATE,
  SIZEOF_KERNEL_TIMESPEC,
} from '../../generated/structs.js';
import { checkIntRange } from '../abi/check.js';
import { OP_ID_TAG } from '../abi/op-id.js';
import { zeroSqe } from '../abi/sqe-fill.js';
import { ArgumentError, describeReceived } from '../errors.js';
import { IoUringError } from '../sys/errors.js';
import { addressOf, closeFd, ioUringEnter, ioUringRegister, ioUringSetup } from '../sys/libc.js';
import { CqeSnapshot, type Cqe } from './cqe.js';
import { RingStateError, ringClosedError } from './errors.js';
import { LINK_SKIP, LINK_SOFT, OpTable, SLOT_IN_FLIGHT, type CompletionHandler } from './op-table.js';
import { Probe } from './probe.js';
import { Region } from './region.js';
import { Registrations } from './registrations.js';
import { combinationProblem, MAX_CQ_ENTRIES, MAX_SQ_ENTRIES, resolveSetup, setupFlagNames, type IoUringOptions, type ResolvedSetup } from './setup.js';
import { Sqe, type SqeOwner } from './sqe.js';

const TWO_32 = 4294967296;
/** `ECANCELED`: ops of a chain the kernel cancelled without CQEs complete with its negation. */
const ECANCELED = 125;

// Word indices into an SQE/CQE, from the generated offsets (the hot paths index Uint32Arrays).
const SQE = IoUringSqe.OFFSETS;
const CQE = IoUringCqe.OFFSETS;
/** Word holding opcode (byte 0) and flags (byte 1). */
const SQE_OPCODE_WORD = SQE.opcode >>> 2;
const SQE_OPCODE_SHIFT = (SQE.opcode & 3) * 8;
const SQE_FLAGS_SHIFT = (SQE.flags & 3) * 8;
const SQE_USER_DATA_WORD = SQE.userData >>> 2;
/** Word holding `buf_group` (a u16, at an even byte offset). */
const SQE_BUF_GROUP_WORD = SQE.bufGroup >>> 2;
const SQE_BUF_GROUP_SHIFT = (SQE.bufGroup & 3) * 8;
/** Word of the op-specific flags union (`rw_flags`, `nop_flags`, ...). */
const SQE_OP_FLAGS_WORD = SQE.nopFlags >>> 2;
const CQE_USER_DATA_WORD = CQE.userData >>> 2;
const CQE_RES_WORD = CQE.res >>> 2;
const CQE_FLAGS_WORD = CQE.flags >>> 2;
const CQE_BIG_WORD = CQE.bigCqe >>> 2;
if (SQE.flags >>> 2 !== SQE_OPCODE_WORD || (SQE.bufGroup & 1) !== 0 || (SQE.userData & 7) !== 0 || (CQE.userData & 7) !== 0 || (CQE.res & 3) !== 0 || (CQE.flags & 3) !== 0) {
  throw new Error('io_uring_sqe/io_uring_cqe layout changed in a way the ring does not handle; see src/ring/ring.ts');
}
const PAGE_SIZE = 4096;
const HUGE_PAGE_SIZE = 2 * 1024 * 1024;
/**
 * Bytes before the CQE array in the kernel's `struct io_rings` (its cursors and masks;
 * the CQEs start on the next cache line). Only used to size NO_MMAP memory before setup;
 * the offsets the kernel reports are checked against the allocation afterwards.
 */
const RINGS_HEADER_BYTES = 64;
/** `_NSIG / 8`: the sigset size the kernel expects alongside a (null) signal mask. */
const SIGSET_SIZE = 8;
/** How long `close()` waits for cancelled operations to finish before giving up on them. */
const CLOSE_DRAIN_MS = 10_000;

/**
 * Memory of operations still owned by the kernel when their ring was closed (they would
 * not finish within the drain time). Kept referenced for the life of the process: a leak
 * is recoverable, a kernel write into memory the GC reused is not.
 */
const abandoned: unknown[][] = [];

/** Setup outcomes already learned in this process: flags word → accepted by the kernel. */
const setupVerdicts = new Map<number, boolean>();

/** Something whose life is tied to a ring: see {@link IoUring.attach}. */
export interface RingResource {
  /** Frees what the resource holds; called once, after the ring's fd is closed. */
  release(): void;
}

/** What the kernel granted: sizes, flags and features, readable after setup. */
export interface RingParams {
  /** SQ entries granted (a power of two). */
  readonly sqEntries: number;
  /** CQ entries granted. */
  readonly cqEntries: number;
  /** `IORING_SETUP_*` flags the ring was created with (required plus granted preferred ones). */
  readonly setupFlags: number;
  /** `IORING_FEAT_*` bits the kernel reported. */
  readonly features: number;
  /** Bytes per SQE slot: 64 or 128. */
  readonly sqeSize: number;
  /** Bytes per CQE: 16 or 32. */
  readonly cqeSize: number;
  /** Whether the ring fd is registered with itself (enter uses the registered index). */
  readonly ringFdRegistered: boolean;
  /** How the ring memory is mapped: 'kernel' (three regions or one with SINGLE_MMAP) or 'user' (NO_MMAP). */
  readonly mapping: 'kernel-single' | 'kernel-split' | 'user' | 'user-huge';
  /** Most operations in flight at once. */
  readonly maxInFlight: number;
}

interface Layout {
  sqHead: number; sqTail: number; sqMask: number; sqFlags: number; sqDropped: number; sqArray: number;
  cqHead: number; cqTail: number; cqMask: number; cqOverflow: number; cqes: number;
}

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
 */
export class IoUring implements Disposable {
  // Sizes, flags and features the kernel granted; replaced (never mutated) by resize().
  #params: RingParams;
  /** Which opcodes the running kernel supports (`IORING_REGISTER_PROBE`). */
  readonly probe: Probe;

  #fd: number;
  #enterFd: number;
  #enterFlags: number;
  #ownsFd: boolean;
  #closed = false;
  #closing = false;
  #disabled: boolean;
  readonly #sqPoll: boolean;
  readonly #deferTaskrun: boolean;
  readonly #regions: Region[];

  // Private views over the kernel's memory: never handed out, dropped before unmapping.
  #sq: Uint32Array;
  #cq: Uint32Array;
  #cqI32: Int32Array;
  #sqes: Uint32Array;
  // Not readonly: resize() swaps them, together with the views above.
  #at: Layout;
  #sqMask: number;
  #sqEntries: number;
  #cqMask: number;
  readonly #cqeShift: number;
  readonly #sqeWords: number;

  // JS-owned staging: builders write here; submit copies into #sqes. resize() replaces
  // all three (sized to the SQ); handles of the old size keep their old core.
  #shadow: Uint32Array;
  /** Scratch for submit: 1 at SQ positions whose skip-success op no later CQE accounts for. */
  #untracked = new Uint8Array(0);
  #handles: Sqe[];
  #core: SqeOwner & { closed: boolean };
  /** Cores of SQE handles from before a resize(): marked closed with the ring. */
  readonly #oldCores: (SqeOwner & { closed: boolean })[] = [];
  readonly #table: OpTable;
  /** Resources tied to the ring's life (registered memory, buffer rings), released after teardown. */
  readonly #resources = new Set<RingResource>();
  /** File-table size and buffer groups, as builders check them (`sqe.registered`). */
  readonly #registered: Registrations = new Registrations((bgid) => this.#stagedProvides(bgid));
  #cancelAnyRefused = false;
  readonly #maxInFlight: number;
  readonly #taskrunFlag: boolean;
  #sqeTail = 0;
  #sqeFlushed = 0;
  #sqHeadSeen = 0;
  #cqHead = 0;
  readonly #cqe: CqeSnapshot;

  // Wait arguments, JS-owned and pinned for the ring's life (addresses taken once).
  readonly #waitArgBytes: Uint8Array;
  readonly #waitArgAddress: number;
  readonly #waitTs: KernelTimespec;
  readonly #waitTsBytes: Uint8Array;

  /** Creates a ring; see {@link IoUringOptions}. Throws a Node-shaped error when the kernel refuses. */
  constructor(options: IoUringOptions = {}) {
    const setup = resolveSetup(options);
    const flags = negotiateFlags(setup);
    const sqeSize = (flags & IORING_SETUP_SQE128) !== 0 ? 128 : 64;
    const cqeSize = (flags & IORING_SETUP_CQE32) !== 0 ? 32 : 16;
    const regions: Region[] = [];
    let fd = -1;
    let ownsFd = true;
    try {
      let userMemory: { region: Region; ringsOffset: number } | undefined;
      if ((flags & IORING_SETUP_NO_MMAP) !== 0) {
        userMemory = mapUserMemory(setup, flags, sqeSize, cqeSize);
        regions.push(userMemory.region);
      }
      const paramBytes = new Uint8Array(SIZEOF_IO_URING_PARAMS);
      const p = new IoUringParams(paramBytes);
      fillParams(p, setup, flags, userMemory);
      fd = ioUringSetup(setup.entries, paramBytes);
      setupVerdicts.set(flags, true);
      ownsFd = (flags & IORING_SETUP_REGISTERED_FD_ONLY) === 0;

      const sqEntries = p.sqEntries;
      const cqEntries = p.cqEntries;
      const sqOff = p.sqOff;
      const cqOff = p.cqOff;
      const features = p.features;
      const noSqArray = (flags & IORING_SETUP_NO_SQARRAY) !== 0;

      let sqBuf: ArrayBuffer;
      let cqBuf: ArrayBuffer;
      let sqeBuf: ArrayBuffer;
      let mapping: RingParams['mapping'];
      const sqRingBytes = noSqArray
        ? Math.max(sqOff.head, sqOff.tail, sqOff.ringMask, sqOff.ringEntries, sqOff.flags, sqOff.dropped) + 4
        : sqOff.array + sqEntries * 4;
      const cqRingBytes = cqOff.cqes + cqEntries * cqeSize;
      if (userMemory !== undefined) {
        const mem = userMemory.region;
        if (userMemory.ringsOffset + Math.max(sqRingBytes, cqRingBytes) > mem.length) {
          throw new Error(
            `NO_MMAP: the kernel's ring layout needs ${Math.max(sqRingBytes, cqRingBytes)} bytes, more than the ${mem.length - userMemory.ringsOffset} allocated; please report this kernel version`,
          );
        }
        sqeBuf = mem.buffer();
        sqBuf = mem.buffer();
        cqBuf = sqBuf;
        mapping = mem.hugePages ? 'user-huge' : 'user';
      } else if ((features & IORING_FEAT_SINGLE_MMAP) !== 0) {
        const ring = Region.mapRing(fd, IORING_OFF_SQ_RING, Math.max(sqRingBytes, cqRingBytes), 'SQ/CQ ring');
        regions.push(ring);
        sqBuf = ring.buffer();
        cqBuf = sqBuf;
        const sqes = Region.mapRing(fd, IORING_OFF_SQES, sqEntries * sqeSize, 'SQE array');
        regions.push(sqes);
        sqeBuf = sqes.buffer();
        mapping = 'kernel-single';
      } else {
        const sqRing = Region.mapRing(fd, IORING_OFF_SQ_RING, sqRingBytes, 'SQ ring');
        regions.push(sqRing);
        const cqRing = Region.mapRing(fd, IORING_OFF_CQ_RING, cqRingBytes, 'CQ ring');
        regions.push(cqRing);
        const sqes = Region.mapRing(fd, IORING_OFF_SQES, sqEntries * sqeSize, 'SQE array');
        regions.push(sqes);
        sqBuf = sqRing.buffer();
        cqBuf = cqRing.buffer();
        sqeBuf = sqes.buffer();
        mapping = 'kernel-split';
      }
      const ringsBase = userMemory?.ringsOffset ?? 0;
      const sqeBase = 0;
      this.#sq = new Uint32Array(sqBuf, ringsBase, (sqBuf.byteLength - ringsBase) >>> 2);
      this.#cq = new Uint32Array(cqBuf, ringsBase, (cqBuf.byteLength - ringsBase) >>> 2);
      this.#cqI32 = new Int32Array(cqBuf, ringsBase, (cqBuf.byteLength - ringsBase) >>> 2);
      this.#sqes = new Uint32Array(sqeBuf, sqeBase, (sqEntries * sqeSize) >>> 2);
      this.#at = {
        sqHead: sqOff.head >>> 2, sqTail: sqOff.tail >>> 2, sqMask: sqOff.ringMask >>> 2, sqFlags: sqOff.flags >>> 2,
        sqDropped: sqOff.dropped >>> 2, sqArray: noSqArray ? -1 : sqOff.array >>> 2,
        cqHead: cqOff.head >>> 2, cqTail: cqOff.tail >>> 2, cqMask: cqOff.ringMask >>> 2, cqOverflow: cqOff.overflow >>> 2,
        cqes: cqOff.cqes >>> 2,
      };
      // The kernel initialised the masks and sizes inside the rings; reading them back
      // through our views proves the views sit where the kernel put the rings.
      const sqRingEntries = this.#sq[sqOff.ringEntries >>> 2];
      const cqRingEntries = this.#cq[cqOff.ringEntries >>> 2];
      if (this.#sq[this.#at.sqMask] !== sqEntries - 1 || sqRingEntries !== sqEntries || this.#cq[this.#at.cqMask] !== cqEntries - 1 || cqRingEntries !== cqEntries) {
        throw new Error(
          `ring memory does not hold the sizes the kernel reported (sq ${sqRingEntries}/${sqEntries}, cq ${cqRingEntries}/${cqEntries}); the mapping is wrong (${mapping})`,
        );
      }
      this.#sqMask = sqEntries - 1;
      this.#sqEntries = sqEntries;
      this.#cqMask = cqEntries - 1;
      this.#cqeShift = cqeSize === 32 ? 3 : 2;
      this.#sqeWords = sqeSize >>> 2;
      if (this.#at.sqArray >= 0) {
        // One SQE slot per array entry, forever: the staging copy keeps positions aligned.
        for (let i = 0; i < sqEntries; i++) this.#sq[this.#at.sqArray + i] = i;
      }
      this.#sqeTail = this.#sq[this.#at.sqTail]!;
      this.#sqeFlushed = this.#sqeTail;
      this.#sqHeadSeen = Atomics.load(this.#sq, this.#at.sqHead);
      this.#cqHead = Atomics.load(this.#cq, this.#at.cqHead);

      this.#fd = fd;
      this.#ownsFd = ownsFd;
      this.#enterFd = fd;
      this.#enterFlags = ownsFd ? 0 : IORING_ENTER_REGISTERED_RING;
      this.#regions = regions;
      this.#sqPoll = (flags & IORING_SETUP_SQPOLL) !== 0;
      this.#deferTaskrun = (flags & IORING_SETUP_DEFER_TASKRUN) !== 0;
      this.#taskrunFlag = (flags & IORING_SETUP_TASKRUN_FLAG) !== 0;
      this.#disabled = (flags & IORING_SETUP_R_DISABLED) !== 0;

      this.probe = Probe.read((opcode, arg, nrArgs) => this.register(opcode, arg, nrArgs));
      let ringFdRegistered = !ownsFd;
      if (setup.registerRingFd && ownsFd && !this.#disabled) ringFdRegistered = this.#registerRingFd();

      const maxInFlight = setup.maxInFlight ?? cqEntries;
      this.#maxInFlight = maxInFlight;
      // One slot more than callers may use: close() must always be able to send its cancel.
      this.#table = new OpTable(maxInFlight + 1);
      this.#shadow = new Uint32Array((sqEntries * sqeSize) >>> 2);
      const shadowView = new DataView(this.#shadow.buffer);
      this.#core = { table: this.#table, stagedSlot: new Int32Array(sqEntries).fill(-1), closed: false, registered: this.#registered };
      const unsupported = this.probe.unsupportedOps;
      this.#handles = Array.from({ length: sqEntries }, (_, i) => new Sqe(this.#core, shadowView, i, sqeSize, unsupported));
      this.#cqe = new CqeSnapshot(cqeSize === 32);

      this.#waitArgBytes = new Uint8Array(SIZEOF_IO_URING_GETEVENTS_ARG);
      this.#waitTsBytes = new Uint8Array(SIZEOF_KERNEL_TIMESPEC);
      this.#waitTs = new KernelTimespec(this.#waitTsBytes);
      const waitArg = new IoUringGeteventsArg(this.#waitArgBytes);
      waitArg.sigmaskSz = SIGSET_SIZE;
      waitArg.ts = addressOf(this.#waitTsBytes);
      this.#waitArgAddress = addressOf(this.#waitArgBytes);

      this.#params = Object.freeze({
        sqEntries, cqEntries, setupFlags: flags, features, sqeSize, cqeSize, ringFdRegistered, mapping, maxInFlight,
      });
    } catch (err) {
      // Half-way failures leave nothing behind: the rings unmapped, the fd closed.
      for (const region of regions.reverse()) {
        try { region.unmap(); } catch { /* already failing; the first error matters */ }
      }
      if (fd >= 0) {
        // A REGISTERED_FD_ONLY ring lives in the task's registered-ring table, not the fd table.
        try { if (ownsFd) closeFd(fd); else unregisterRingIndex(fd); } catch { /* idem */ }
      }
      throw err;
    }
  }

  // -------------------------------------------------------------------------------------
  // Introspection

  /** Sizes, flags and features the kernel granted (a new frozen object after {@link IoUring.resize}). */
  get params(): RingParams {
    return this.#params;
  }

  /** The ring's file descriptor (or its registered index with `registeredFdOnly`). */
  get fd(): number {
    if (this.#closed) throw ringClosedError('IoUring.fd');
    return this.#fd;
  }

  /** Whether `close()` has run. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Operations between `getSqe()` and their final CQE. */
  get inFlight(): number {
    return this.#table.live;
  }

  /** SQEs prepared and not yet submitted. */
  get staged(): number {
    return (this.#sqeTail - this.#sqeFlushed) >>> 0;
  }

  /** Free SQ slots `getSqe()` can hand out before a submit is needed. */
  get sqSpaceLeft(): number {
    if (this.#closed) throw ringClosedError('IoUring.sqSpaceLeft');
    this.#sqHeadSeen = Atomics.load(this.#sq, this.#at.sqHead);
    return this.#sqEntries - ((this.#sqeTail - this.#sqHeadSeen) >>> 0);
  }

  /** CQEs waiting to be reaped. */
  get cqReady(): number {
    if (this.#closed) throw ringClosedError('IoUring.cqReady');
    return (Atomics.load(this.#cq, this.#at.cqTail) - this.#cqHead) >>> 0;
  }

  /**
   * CQEs lost because the CQ was full, over the ring's life (`cq.koverflow`). With
   * `IORING_FEAT_NODROP` (Linux 5.5) the kernel holds overflowed CQEs back instead
   * (`IORING_SQ_CQ_OVERFLOW` in {@link IoUring.sqFlags}) and reaping posts them, so this
   * stays 0 unless the kernel could not allocate room for one.
   */
  get cqOverflowCount(): number {
    if (this.#closed) throw ringClosedError('IoUring.cqOverflowCount');
    return Atomics.load(this.#cq, this.#at.cqOverflow);
  }

  /** Invalid SQEs the kernel dropped (`sq.kdropped`). */
  get sqDropped(): number {
    if (this.#closed) throw ringClosedError('IoUring.sqDropped');
    return Atomics.load(this.#sq, this.#at.sqDropped);
  }

  /** The `IORING_SQ_*` flags word the kernel maintains (NEED_WAKEUP, CQ_OVERFLOW, TASKRUN). */
  get sqFlags(): number {
    if (this.#closed) throw ringClosedError('IoUring.sqFlags');
    return Atomics.load(this.#sq, this.#at.sqFlags);
  }

  // -------------------------------------------------------------------------------------
  // Submission

  /**
   * The next free SQE, or null when the SQ is full (submit first) or `maxInFlight` ops are
   * already in flight (reap first). Fill it with a `prep*` builder before submitting.
   */
  getSqe(): Sqe | null {
    if (this.#closed) throw ringClosedError('IoUring.getSqe');
    const tail = this.#sqeTail;
    if (((tail - this.#sqHeadSeen) >>> 0) >= this.#sqEntries) {
      this.#sqHeadSeen = Atomics.load(this.#sq, this.#at.sqHead);
      if (((tail - this.#sqHeadSeen) >>> 0) >= this.#sqEntries) return null;
    }
    if (this.#table.live >= this.#maxInFlight && !this.#closing) return null;
    const slot = this.#table.acquire();
    if (slot < 0) return null;
    const position = tail & this.#sqMask;
    this.#core.stagedSlot[position] = slot;
    // A forgotten SQE must go out as a plain NOP, never as the stale op of its last use:
    // opcode, IOSQE flags and the op-specific flags word are all a NOP reads (builders
    // zero the whole slot themselves).
    const w = position * this.#sqeWords;
    this.#shadow[w + SQE_OPCODE_WORD] = 0;
    this.#shadow[w + SQE_OP_FLAGS_WORD] = 0;
    this.#sqeTail = (tail + 1) >>> 0;
    return this.#handles[position]!;
  }

  /** Like {@link IoUring.getSqe}, but throws a clear error instead of returning null. */
  getSqeOrThrow(): Sqe {
    const sqe = this.getSqe();
    if (sqe !== null) return sqe;
    if (this.#table.live >= this.#maxInFlight) {
      throw new RingStateError('ERR_RING_BUSY', `IoUring.getSqe: ${this.#maxInFlight} operations are in flight (maxInFlight); reap completions first`);
    }
    throw new RingStateError('ERR_RING_SQ_FULL', `IoUring.getSqe: the submission queue is full (${this.#sqEntries} entries); call submit() first or create the ring with more entries`);
  }

  /**
   * Withdraws the most recently acquired SQE, as if `getSqe()` had not been called:
   * for callers whose builder refused its arguments. Returns false (and does nothing)
   * when `sqe` is not the last one acquired.
   */
  discardSqe(sqe: Sqe): boolean {
    if (this.#closed) throw ringClosedError('IoUring.discardSqe');
    if (this.#sqeTail === this.#sqeFlushed) return false;
    const position = (this.#sqeTail - 1) & this.#sqMask;
    if (this.#handles[position] !== sqe) return false;
    const slot = this.#core.stagedSlot[position]!;
    this.#core.stagedSlot[position] = -1;
    this.#table.release(slot);
    this.#sqeTail = (this.#sqeTail - 1) >>> 0;
    return true;
  }

  /** Copies staged SQEs into the kernel's array and publishes the tail; returns how many. */
  #flush(): number {
    const from = this.#sqeFlushed;
    const to = this.#sqeTail;
    const count = (to - from) >>> 0;
    if (count === 0) return 0;
    const shadow = this.#shadow;
    const table = this.#table;
    const staged = this.#core.stagedSlot;
    const words = this.#sqeWords;
    const mask = this.#sqMask;
    // Most batches have no links and no skip-success: they need none of the chain bookkeeping.
    let chainBits = 0;
    for (let i = 0; i < count; i++) chainBits |= shadow[((from + i) & mask) * words + SQE_OPCODE_WORD]!;
    if ((((chainBits >>> SQE_FLAGS_SHIFT) & 0xff) & (IOSQE_IO_LINK | IOSQE_IO_HARDLINK | IOSQE_CQE_SKIP_SUCCESS)) === 0) {
      for (let i = 0; i < count; i++) this.#commit((from + i) & mask);
      Atomics.store(this.#sq, this.#at.sqTail, to);
      this.#sqeFlushed = to;
      return count;
    }
    // Pass 1, backwards, before anything changes. An op with IOSQE_CQE_SKIP_SUCCESS posts no
    // CQE when it succeeds; the ring learns it is done from the next op of its chain that
    // posts (a chain ends at an op without a link flag, or at the end of the submission).
    // The skip ops after a chain's last posting op are never heard of again on success:
    // they may not pin memory, and their slots are released right away.
    if (this.#untracked.length < this.#sqEntries) this.#untracked = new Uint8Array(this.#sqEntries);
    const untracked = this.#untracked;
    let trailingSkips = false;
    for (let i = count - 1; i >= 0; i--) {
      const position = (from + i) & mask;
      const flags = (shadow[position * words + SQE_OPCODE_WORD]! >>> SQE_FLAGS_SHIFT) & 0xff;
      if (i === count - 1 || (flags & (IOSQE_IO_LINK | IOSQE_IO_HARDLINK)) === 0) trailingSkips = true;
      if ((flags & IOSQE_CQE_SKIP_SUCCESS) === 0) trailingSkips = false;
      untracked[position] = trailingSkips ? 1 : 0;
      if (trailingSkips && table.pins[staged[position]!]!.length !== 0) {
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
      const slot = this.#commit(position);
      const w = position * words;
      if (untracked[position] === 1) {
        // Pins nothing (checked above): a failure CQE arrives with a stale id (cqe.id -1).
        table.release(slot);
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
      const flags = (shadow[w + SQE_OPCODE_WORD]! >>> SQE_FLAGS_SHIFT) & 0xff;
      const linked = i < count - 1 && (flags & (IOSQE_IO_LINK | IOSQE_IO_HARDLINK)) !== 0;
      const skip = (flags & IOSQE_CQE_SKIP_SUCCESS) !== 0;
      table.linkBits[slot] = (skip ? LINK_SKIP : 0) | (linked && (flags & IOSQE_IO_HARDLINK) === 0 ? LINK_SOFT : 0);
      skipPred = skip && linked ? slot : -1;
      linkedPred = linked ? slot : -1;
    }
    Atomics.store(this.#sq, this.#at.sqTail, to);
    this.#sqeFlushed = to;
    return count;
  }

  /**
   * Moves the staged SQE at `position` into the kernel's array: writes its op id into
   * `user_data` (tagged, so MSG_RING posts from other rings are told apart), marks its slot
   * in flight, and copies it. Returns the slot.
   */
  #commit(position: number): number {
    const shadow = this.#shadow;
    const table = this.#table;
    const staged = this.#core.stagedSlot;
    const slot = staged[position]!;
    staged[position] = -1;
    const words = this.#sqeWords;
    const w = position * words;
    shadow[w + SQE_USER_DATA_WORD] = slot;
    shadow[w + SQE_USER_DATA_WORD + 1] = (OP_ID_TAG | table.gen[slot]!) >>> 0;
    const opcode = (shadow[w + SQE_OPCODE_WORD]! >>> SQE_OPCODE_SHIFT) & 0xff;
    table.opcode[slot] = opcode;
    table.state[slot] = SLOT_IN_FLIGHT;
    if (opcode === IORING_OP_PROVIDE_BUFFERS) this.#registered.noteProvided((shadow[w + SQE_BUF_GROUP_WORD]! >>> SQE_BUF_GROUP_SHIFT) & 0xffff);
    const sqes = this.#sqes;
    for (let k = 0; k < words; k++) sqes[w + k] = shadow[w + k]!;
    return slot;
  }

  /**
   * Hands staged SQEs to the kernel. Returns the number the kernel consumed (with SQPOLL,
   * the number published: the polling thread consumes them).
   */
  submit(): number {
    if (this.#closed) throw ringClosedError('IoUring.submit');
    this.#checkEnabled('IoUring.submit');
    const flushed = this.#flush();
    if (this.#sqPoll) {
      if ((Atomics.load(this.#sq, this.#at.sqFlags) & IORING_SQ_NEED_WAKEUP) !== 0) {
        ioUringEnter(this.#enterFd, 0, 0, this.#enterFlags | IORING_ENTER_SQ_WAKEUP);
      }
      return flushed;
    }
    const pending = (this.#sqeFlushed - Atomics.load(this.#sq, this.#at.sqHead)) >>> 0;
    if (pending === 0) return 0;
    return ioUringEnter(this.#enterFd, pending, 0, this.#enterFlags);
  }

  /**
   * Submits staged SQEs and waits until at least `waitNr` CQEs are ready.
   *
   * With `timeoutMs`, gives up after that long (the kernel's ETIME) and returns normally:
   * compare {@link IoUring.cqReady} with what you waited for. Needs `IORING_FEAT_EXT_ARG`
   * (Linux 5.11). Signals never end the wait early.
   *
   * @returns The number of SQEs the kernel consumed.
   */
  submitAndWait(waitNr: number, timeoutMs?: number): number {
    if (this.#closed) throw ringClosedError('IoUring.submitAndWait');
    checkIntRange('IoUring.submitAndWait: waitNr', waitNr, 0, 0xffffffff);
    this.#checkEnabled('IoUring.submitAndWait');
    this.#flush();
    const pending = this.#sqPoll ? 0 : (this.#sqeFlushed - Atomics.load(this.#sq, this.#at.sqHead)) >>> 0;
    if (waitNr === 0) {
      return pending === 0 ? 0 : ioUringEnter(this.#enterFd, pending, 0, this.#enterFlags);
    }
    // Cheapest tests first: this runs on every call.
    if (timeoutMs === undefined && pending === 0 && this.#table.live === 0 && this.cqReady < waitNr) {
      throw new RingStateError('ERR_RING_WOULD_BLOCK', `IoUring.submitAndWait: waiting for ${waitNr} completions with nothing in flight would block forever`);
    }
    return this.#enterAndWait(pending, waitNr, timeoutMs);
  }

  #enterAndWait(toSubmit: number, waitNr: number, timeoutMs: number | undefined): number {
    let flags = this.#enterFlags | IORING_ENTER_GETEVENTS;
    if (this.#sqPoll && (Atomics.load(this.#sq, this.#at.sqFlags) & IORING_SQ_NEED_WAKEUP) !== 0) flags |= IORING_ENTER_SQ_WAKEUP;
    // A signal cuts the kernel's wait short. With nothing submitted the call fails with EINTR
    // and ioUringEnter repeats it (or onEintr below does, with the time left); but a call that
    // submitted SQEs reports their count instead, exactly as if the wait had ended. So after a
    // call that got as far as waiting, wait again unless the wait really ended (#waitEnded).
    const tailBefore = Atomics.load(this.#cq, this.#at.cqTail);
    if (timeoutMs === undefined) {
      const submitted = ioUringEnter(this.#enterFd, toSubmit, waitNr, flags);
      if (submitted === toSubmit) {
        while (!this.#waitEnded(waitNr, tailBefore)) ioUringEnter(this.#enterFd, 0, waitNr, flags);
      }
      return submitted;
    }
    if (typeof timeoutMs !== 'number' || !(timeoutMs >= 0) || timeoutMs === Infinity) {
      throw new ArgumentError('ERR_OUT_OF_RANGE', 'timeoutMs', `expected a finite number of milliseconds ≥ 0, received ${describeReceived(timeoutMs)}`);
    }
    if ((this.params.features & IORING_FEAT_EXT_ARG) === 0) {
      throw new IoUringError(-95, 'io_uring_enter', '', 'Waiting with a timeout needs IORING_FEAT_EXT_ARG (Linux 5.11 or newer)');
    }
    const deadline = performance.now() + timeoutMs;
    this.#setWaitTimeout(timeoutMs);
    // A signal (a child's SIGCHLD is enough) interrupts the wait; resume with what remains.
    const onEintr = (): boolean => {
      this.#setWaitTimeout(Math.max(0, deadline - performance.now()));
      return true;
    };
    let submitted = -1;
    for (;;) {
      let r: number;
      try {
        r = ioUringEnter(this.#enterFd, toSubmit, waitNr, flags | IORING_ENTER_EXT_ARG, this.#waitArgAddress, SIZEOF_IO_URING_GETEVENTS_ARG, onEintr);
      } catch (err) {
        // ETIME: the time ran out; a call that submitted anything returns its count instead.
        if (err instanceof IoUringError && err.code === 'ETIME') return Math.max(submitted, 0);
        throw err;
      }
      if (submitted < 0) submitted = r;
      if (r !== toSubmit || this.#waitEnded(waitNr, tailBefore)) return submitted;
      const left = deadline - performance.now();
      if (left <= 0) return submitted;
      this.#setWaitTimeout(left);
      toSubmit = 0;
    }
  }

  /**
   * Whether a wait for `waitNr` CQEs that started when the CQ tail was `tailBefore` is over:
   * enough CQEs are ready (the kernel caps the count at the CQ size), or a TIMEOUT op
   * completed meanwhile (which wakes every waiter early, by the kernel's design).
   */
  #waitEnded(waitNr: number, tailBefore: number): boolean {
    const tail = Atomics.load(this.#cq, this.#at.cqTail);
    if (((tail - this.#cqHead) >>> 0) >= Math.min(waitNr, this.#cqMask + 1)) return true;
    const table = this.#table;
    for (let p = tailBefore; p !== tail; p = (p + 1) >>> 0) {
      const w = this.#at.cqes + ((p & this.#cqMask) << this.#cqeShift);
      const slot = table.slotOf(this.#cq[w + CQE_USER_DATA_WORD]!, this.#cq[w + CQE_USER_DATA_WORD + 1]!);
      if (slot >= 0 && table.opcode[slot] === IORING_OP_TIMEOUT) return true;
    }
    return false;
  }

  #setWaitTimeout(ms: number): void {
    const ns = Math.round(ms * 1e6);
    const sec = Math.floor(ns / 1e9);
    this.#waitTs.tvSec = sec;
    this.#waitTs.tvNsec = ns - sec * 1e9;
  }

  // -------------------------------------------------------------------------------------
  // Completion

  /** Whether the kernel holds completions that need an enter to appear in the CQ. */
  #cqNeedsFlush(): boolean {
    return (Atomics.load(this.#sq, this.#at.sqFlags) & (IORING_SQ_CQ_OVERFLOW | IORING_SQ_TASKRUN)) !== 0;
  }

  /** Lets the kernel post overflowed CQEs and run deferred completion work. */
  #flushCq(): void {
    ioUringEnter(this.#enterFd, 0, 0, this.#enterFlags | IORING_ENTER_GETEVENTS);
  }

  /**
   * Calls `fn` for every CQE ready now, oldest first, and marks them seen. The `Cqe`
   * passed is one reused object: copy what you keep. Also flushes overflowed CQEs and, on
   * DEFER_TASKRUN rings, runs pending completion work, so nothing is left behind.
   *
   * CQEs of ops started through the Promise layer go to their promises instead of `fn`.
   * The CQ head advances past every CQE handled, even if `fn` throws.
   *
   * @param max - Stop after this many CQEs.
   * @returns How many CQEs were handled.
   */
  forEachCqe(fn?: (cqe: Cqe) => void, max = 0xffffffff): number {
    if (this.#closed) throw ringClosedError('IoUring.forEachCqe');
    return this.#reap(fn, max);
  }

  #reap(fn: ((cqe: Cqe) => void) | undefined, max: number): number {
    let handled = 0;
    // `handled` when the CQ was last flushed. Each flush moves at most a CQ's worth of
    // overflowed CQEs into the ring, so a backlog larger than the CQ needs several: flush
    // again whenever the previous one brought something, stop when one brings nothing.
    let flushedAt = -1;
    for (;;) {
      const tail = Atomics.load(this.#cq, this.#at.cqTail);
      let head = this.#cqHead;
      if (head === tail || handled >= max) {
        // With DEFER_TASKRUN but no TASKRUN_FLAG the kernel cannot tell us completion work
        // is pending: an empty CQ has to ask once.
        const blind = this.#deferTaskrun && !this.#taskrunFlag && handled === 0;
        if (handled < max && flushedAt !== handled && (blind || this.#cqNeedsFlush())) {
          flushedAt = handled;
          this.#flushCq();
          continue;
        }
        break;
      }
      const cq = this.#cq;
      const cqI32 = this.#cqI32;
      const table = this.#table;
      const cqe = this.#cqe;
      try {
        while (head !== tail && handled < max) {
          const w = this.#at.cqes + ((head & this.#cqMask) << this.#cqeShift);
          head = (head + 1) >>> 0;
          const flags = cq[w + CQE_FLAGS_WORD]!;
          if ((flags & IORING_CQE_F_SKIP) !== 0) continue;
          const lo = cq[w + CQE_USER_DATA_WORD]!;
          const hi = cq[w + CQE_USER_DATA_WORD + 1]!;
          const res = cqI32[w + CQE_RES_WORD]!;
          handled++;
          const slot = table.slotOf(lo, hi);
          const final = (flags & IORING_CQE_F_MORE) === 0;
          if (slot >= 0) {
            const handler = table.handler[slot];
            if (handler !== undefined) {
              if (final) {
                if (table.linkBits[slot] === 0 && table.skipPred[slot]! < 0) table.release(slot);
                else this.#finish(slot, res);
              }
              handler.complete(res, flags, final, slot);
              continue;
            }
            if (fn === undefined) {
              // Discarded (forEachCqe() without a callback, or close() draining): leave the
              // snapshot a caller may still be looking at as it was.
              if (final) this.#finish(slot, res);
              continue;
            }
            cqe.id = (hi & 0x1fffff) * TWO_32 + lo;
            cqe.userData = table.tag[slot];
            cqe.opcode = table.opcode[slot]!;
            if (final) {
              // Outside any chain (the common case) the slot is simply free again.
              if (table.linkBits[slot] === 0 && table.skipPred[slot]! < 0) table.release(slot);
              else this.#finish(slot, res);
            }
          } else {
            if (fn === undefined) continue;
            cqe.id = -1;
            cqe.userData = undefined;
            cqe.opcode = -1;
          }
          cqe.res = res;
          cqe.flags = flags;
          cqe.userDataLo = lo;
          cqe.userDataHi = hi;
          if (cqe.extra !== null) {
            copyBigCqe(cqe, cq, w);
          }
          fn(cqe);
        }
      } finally {
        this.#cqHead = head;
        Atomics.store(this.#cq, this.#at.cqHead, head);
      }
    }
    return handled;
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
  #finish(slot: number, res: number): void {
    const table = this.#table;
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
   * Waits for one CQE and returns it without marking it seen (call
   * {@link IoUring.cqeSeen} after). With `timeoutMs`, returns null if none came in time.
   */
  waitCqe(timeoutMs?: number): Cqe | null {
    if (this.#closed) throw ringClosedError('IoUring.waitCqe');
    const cqe = this.peekCqe();
    if (cqe !== null) return cqe;
    this.submitAndWait(1, timeoutMs);
    return this.peekCqe();
  }

  /**
   * The oldest ready CQE without marking it seen, or null. Call {@link IoUring.cqeSeen}
   * once done with it. The object is reused by the next peek.
   */
  peekCqe(): Cqe | null {
    if (this.#closed) throw ringClosedError('IoUring.peekCqe');
    for (let attempt = 0; attempt < 2; attempt++) {
      let head = this.#cqHead;
      const tail = Atomics.load(this.#cq, this.#at.cqTail);
      while (head !== tail) {
        const w = this.#at.cqes + ((head & this.#cqMask) << this.#cqeShift);
        const flags = this.#cq[w + CQE_FLAGS_WORD]!;
        if ((flags & IORING_CQE_F_SKIP) !== 0) {
          head = (head + 1) >>> 0;
          this.#cqHead = head;
          Atomics.store(this.#cq, this.#at.cqHead, head);
          continue;
        }
        const lo = this.#cq[w + CQE_USER_DATA_WORD]!;
        const hi = this.#cq[w + CQE_USER_DATA_WORD + 1]!;
        const cqe = this.#cqe;
        const slot = this.#table.slotOf(lo, hi);
        cqe.id = slot >= 0 ? (hi & 0x1fffff) * TWO_32 + lo : -1;
        cqe.userData = slot >= 0 ? this.#table.tag[slot] : undefined;
        cqe.opcode = slot >= 0 ? this.#table.opcode[slot]! : -1;
        cqe.res = this.#cqI32[w + CQE_RES_WORD]!;
        cqe.flags = flags;
        cqe.userDataLo = lo;
        cqe.userDataHi = hi;
        if (cqe.extra !== null) copyBigCqe(cqe, this.#cq, w);
        return cqe;
      }
      if (attempt === 0 && ((this.#deferTaskrun && !this.#taskrunFlag) || this.#cqNeedsFlush())) this.#flushCq();
    }
    return null;
  }

  /** Marks the CQE returned by the last peek/wait as seen, releasing its op if final. */
  cqeSeen(): void {
    if (this.#closed) throw ringClosedError('IoUring.cqeSeen');
    const head = this.#cqHead;
    if (head === Atomics.load(this.#cq, this.#at.cqTail)) return;
    const w = this.#at.cqes + ((head & this.#cqMask) << this.#cqeShift);
    const slot = this.#table.slotOf(this.#cq[w + CQE_USER_DATA_WORD]!, this.#cq[w + CQE_USER_DATA_WORD + 1]!);
    if (slot >= 0 && (this.#cq[w + CQE_FLAGS_WORD]! & IORING_CQE_F_MORE) === 0) this.#finish(slot, this.#cqI32[w + CQE_RES_WORD]!);
    this.#cqHead = (head + 1) >>> 0;
    Atomics.store(this.#cq, this.#at.cqHead, this.#cqHead);
  }

  // -------------------------------------------------------------------------------------
  // Internal hooks for the Promise layer and registration

  /** @internal Attaches a completion handler to the op of a staged SQE. */
  setHandler(sqe: Sqe, handler: CompletionHandler): void {
    if (this.#closed) throw ringClosedError('IoUring.setHandler');
    const slot = this.#stagedSlotOf(sqe);
    this.#table.handler[slot] = handler;
  }

  #stagedSlotOf(sqe: Sqe): number {
    const position = sqe.offset / this.params.sqeSize;
    if (this.#handles[position] !== sqe) throw new ArgumentError('ERR_INVALID_ARG_VALUE', 'sqe', 'belongs to another ring');
    const slot = this.#core.stagedSlot[position]!;
    if (slot < 0) throw new RingStateError('ERR_RING_SQE_STALE', 'this SQE was already submitted; get a new one with ring.getSqe()');
    return slot;
  }

  /**
   * `io_uring_register(2)` on this ring.
   * @internal The registration modules build on it.
   */
  register(opcode: number, arg: ArrayBufferView | number | null, nrArgs: number): number {
    if (this.#closed) throw ringClosedError('IoUring.register');
    const r = ioUringRegister(this.#fd, opcode | (this.#ownsFd ? 0 : 1 << 31), arg, nrArgs);
    this.#registered.noteRegister(opcode, arg, nrArgs);
    return r;
  }

  /** Whether an SQE staged (not yet submitted) provides buffers to group `bgid`. */
  #stagedProvides(bgid: number): boolean {
    const words = this.#sqeWords;
    for (let p = this.#sqeFlushed; p !== this.#sqeTail; p = (p + 1) >>> 0) {
      const w = (p & this.#sqMask) * words;
      if (((this.#shadow[w + SQE_OPCODE_WORD]! >>> SQE_OPCODE_SHIFT) & 0xff) !== IORING_OP_PROVIDE_BUFFERS) continue;
      if (((this.#shadow[w + SQE_BUF_GROUP_WORD]! >>> SQE_BUF_GROUP_SHIFT) & 0xffff) === bgid) return true;
    }
    return false;
  }

  #registerRingFd(): boolean {
    const bytes = new Uint8Array(SIZEOF_IO_URING_RSRC_UPDATE);
    const update = new IoUringRsrcUpdate(bytes);
    update.offset = -1 >>> 0; // any free slot
    update.data = this.#fd;
    try {
      const n = ioUringRegister(this.#fd, IORING_REGISTER_RING_FDS, bytes, 1);
      if (n !== 1) return false;
    } catch {
      return false; // Before Linux 5.18: enter keeps using the plain fd.
    }
    this.#enterFd = update.offset;
    this.#enterFlags = IORING_ENTER_REGISTERED_RING;
    return true;
  }

  #checkEnabled(what: string): void {
    if (this.#disabled) {
      throw new RingStateError('ERR_RING_NOT_ENABLED', `${what}: the ring was created disabled; call enable() (after registering restrictions)`);
    }
  }

  /**
   * Ties `resource` to the ring: it stays referenced until it is detached or the ring is
   * closed, and its `release()` runs after the ring's fd is closed and its in-flight work
   * drained (so memory the kernel might still use is unmapped only then).
   * @internal Used by registration (registered buffers, buffer rings, file tables).
   */
  attach(resource: RingResource): void {
    if (this.#closed) throw ringClosedError('IoUring.attach');
    this.#resources.add(resource);
  }

  /** @internal Forgets a resource attached with {@link IoUring.attach} (it released itself). */
  detach(resource: RingResource): void {
    this.#resources.delete(resource);
  }

  /** Enables a ring created with `disabled: true` (`IORING_REGISTER_ENABLE_RINGS`). */
  enable(): void {
    if (this.#closed) throw ringClosedError('IoUring.enable');
    if (!this.#disabled) return;
    this.register(IORING_REGISTER_ENABLE_RINGS, null, 0);
    this.#disabled = false;
  }

  /** Whether the ring is still disabled (created with `disabled: true` and not yet enabled). */
  get disabled(): boolean {
    return this.#disabled;
  }

  // -------------------------------------------------------------------------------------
  // Resize

  /**
   * Changes the SQ and/or CQ size of a live ring (`IORING_REGISTER_RESIZE_RINGS`, Linux
   * 6.13; the kernel only resizes rings created with `deferTaskrun`). An omitted size is
   * kept. Ops in flight are unaffected, and CQEs not yet reaped are carried over (EOVERFLOW
   * when the new CQ cannot hold them: reap first).
   *
   * Call it with nothing staged (every `getSqe()` submitted or discarded). SQE handles
   * obtained before the resize are invalid afterwards. `params.maxInFlight` is unchanged
   * (the op table keeps its size), so a CQ grown past it does not admit more ops at once.
   *
   * How it stays safe: the kernel allocates the new rings and copies the cursors and
   * pending entries while holding its locks; once the call returns, the old memory is no
   * longer the kernel's ring. We then map the new rings (or, with `noMmap`, hand the kernel
   * memory we mapped beforehand), rebuild every private view and the SQ-sized staging
   * state over them, check the cursors the kernel copied against our own, and only then
   * unmap the old regions, after the views over them are gone. Nothing else holds a view
   * of ring memory. If mapping the new rings fails after the kernel switched, the ring
   * cannot continue: it is closed (its in-flight buffers are kept for the process's life).
   *
   * @returns The new {@link IoUring.params}.
   */
  resize(size: { sqEntries?: number; cqEntries?: number }): RingParams {
    const what = 'IoUring.resize';
    if (this.#closed || this.#closing) throw ringClosedError(what);
    if (size === null || typeof size !== 'object') {
      throw new ArgumentError('ERR_INVALID_ARG_TYPE', `${what}: size`, `expected { sqEntries?, cqEntries? }, received ${describeReceived(size)}`);
    }
    const old = this.#params;
    const sqWanted = size.sqEntries === undefined ? old.sqEntries : checkIntRange(`${what}: size.sqEntries`, size.sqEntries, 1, MAX_SQ_ENTRIES);
    const cqWanted = size.cqEntries === undefined ? old.cqEntries : checkIntRange(`${what}: size.cqEntries`, size.cqEntries, 1, MAX_CQ_ENTRIES);
    if (cqWanted < sqWanted) {
      throw new ArgumentError('ERR_INVALID_ARG_VALUE', `${what}: size.cqEntries`, `must be at least the SQ size (${sqWanted}); the kernel refuses a CQ smaller than the SQ`);
    }
    if (this.#sqeTail !== this.#sqeFlushed) {
      throw new RingStateError('ERR_RING_BUSY', `${what}: ${this.staged} SQE(s) are staged; submit (or discard) them before resizing`);
    }
    const flags = old.setupFlags;
    const sqeSize = old.sqeSize;
    const cqeSize = old.cqeSize;
    // Where the SQ index array will sit. The kernel does not report it back from a resize
    // (sq_off.array stays 0, seen on 6.18), so compute it as its rings_size() does, after
    // checking that computation against the offset it reported for the current sizes.
    const noSqArray = (flags & IORING_SETUP_NO_SQARRAY) !== 0;
    if (!noSqArray && sqArrayOffset(flags, old.cqEntries, this.#at.cqes * 4) !== this.#at.sqArray * 4) {
      throw new IoUringError(-95, 'io_uring_register', '(IORING_REGISTER_RESIZE_RINGS)', 'This kernel places the SQ index array where this library does not expect it; create the ring with noSqArray to resize it');
    }
    // NO_MMAP: the kernel takes the new rings in memory we map first.
    let userMemory: { region: Region; ringsOffset: number } | undefined;
    if ((flags & IORING_SETUP_NO_MMAP) !== 0) {
      userMemory = mapUserMemory(
        {
          entries: sqWanted, cqEntries: cqWanted, required: 0, preferred: [], sqThreadIdle: 0, sqThreadCpu: 0, wqFd: 0,
          hugePages: old.mapping === 'user-huge' ? 'try' : false, maxInFlight: undefined, registerRingFd: false,
        },
        flags | IORING_SETUP_CQSIZE,
        sqeSize,
        cqeSize,
      );
      const ringsNeeded = sqArrayOffset(flags, roundUpPow2(cqWanted), this.#at.cqes * 4) + (noSqArray ? 0 : roundUpPow2(sqWanted) * 4);
      if (userMemory.ringsOffset + ringsNeeded > userMemory.region.length) {
        userMemory.region.unmap();
        throw new Error(`${what}: NO_MMAP ring memory for these sizes would be too small (${ringsNeeded} bytes of rings needed); please report this`);
      }
    }
    const paramBytes = new Uint8Array(SIZEOF_IO_URING_PARAMS);
    const p = new IoUringParams(paramBytes);
    p.sqEntries = sqWanted;
    p.cqEntries = cqWanted;
    p.flags = IORING_SETUP_CQSIZE;
    if (userMemory !== undefined) {
      p.sqOff.userAddr = userMemory.region.address;
      p.cqOff.userAddr = userMemory.region.address + userMemory.ringsOffset;
    }
    try {
      this.register(IORING_REGISTER_RESIZE_RINGS, paramBytes, 1);
    } catch (err) {
      userMemory?.region.unmap();
      if (err instanceof IoUringError && err.code === 'EINVAL' && !this.#deferTaskrun) {
        throw new IoUringError(err.errno, 'io_uring_register', '(IORING_REGISTER_RESIZE_RINGS)', 'The kernel resizes only rings created with deferTaskrun (IORING_SETUP_DEFER_TASKRUN), on Linux 6.13 or newer');
      }
      if (err instanceof IoUringError && err.code === 'EOVERFLOW') {
        throw new IoUringError(err.errno, 'io_uring_register', '(IORING_REGISTER_RESIZE_RINGS)', 'More entries are pending than the new rings hold; reap completions (and let submissions be consumed) first');
      }
      throw err;
    }
    const sqEntries = p.sqEntries;
    const cqEntries = p.cqEntries;
    if (sqEntries === old.sqEntries && cqEntries === old.cqEntries) {
      // Nothing changed: the kernel kept the old rings.
      userMemory?.region.unmap();
      return old;
    }

    // From here the kernel uses the new rings; the old memory is only ours.
    const newRegions: Region[] = [];
    try {
      const sqOff = p.sqOff;
      const cqOff = p.cqOff;
      const arrayOffset = noSqArray ? -1 : sqOff.array !== 0 ? sqOff.array : sqArrayOffset(flags, cqEntries, cqOff.cqes);
      const sqRingBytes = noSqArray
        ? Math.max(sqOff.head, sqOff.tail, sqOff.ringMask, sqOff.ringEntries, sqOff.flags, sqOff.dropped) + 4
        : arrayOffset + sqEntries * 4;
      const cqRingBytes = cqOff.cqes + cqEntries * cqeSize;
      let ringBuf: ArrayBuffer;
      let sqeBuf: ArrayBuffer;
      let ringsBase = 0;
      if (userMemory !== undefined) {
        newRegions.push(userMemory.region);
        if (userMemory.ringsOffset + Math.max(sqRingBytes, cqRingBytes) > userMemory.region.length) {
          throw new Error(`NO_MMAP resize: the kernel's ring layout needs more than the ${userMemory.region.length - userMemory.ringsOffset} bytes allocated`);
        }
        ringBuf = userMemory.region.buffer();
        sqeBuf = ringBuf;
        ringsBase = userMemory.ringsOffset;
      } else {
        // Resizing exists only on kernels with IORING_FEAT_SINGLE_MMAP: one ring region.
        const rings = Region.mapRing(this.#fd, IORING_OFF_SQ_RING, Math.max(sqRingBytes, cqRingBytes), 'SQ/CQ ring (resized)');
        newRegions.push(rings);
        const sqes = Region.mapRing(this.#fd, IORING_OFF_SQES, sqEntries * sqeSize, 'SQE array (resized)');
        newRegions.push(sqes);
        ringBuf = rings.buffer();
        sqeBuf = sqes.buffer();
      }
      const sq = new Uint32Array(ringBuf, ringsBase, (ringBuf.byteLength - ringsBase) >>> 2);
      const at: Layout = {
        sqHead: sqOff.head >>> 2, sqTail: sqOff.tail >>> 2, sqMask: sqOff.ringMask >>> 2, sqFlags: sqOff.flags >>> 2,
        sqDropped: sqOff.dropped >>> 2, sqArray: noSqArray ? -1 : arrayOffset >>> 2,
        cqHead: cqOff.head >>> 2, cqTail: cqOff.tail >>> 2, cqMask: cqOff.ringMask >>> 2, cqOverflow: cqOff.overflow >>> 2,
        cqes: cqOff.cqes >>> 2,
      };
      // The kernel wrote the new masks and copied the cursors: check them against ours.
      if (sq[at.sqMask] !== sqEntries - 1 || sq[at.cqMask] !== cqEntries - 1) {
        throw new Error(`resized ring memory does not hold the sizes the kernel reported (sq ${sqEntries}, cq ${cqEntries})`);
      }
      if (sq[at.sqTail] !== this.#sqeFlushed || Atomics.load(sq, at.cqHead) !== this.#cqHead) {
        throw new Error('the resized rings do not carry over the SQ tail / CQ head this ring published');
      }
      // The kernel does not copy the SQ index array; restore the identity mapping before
      // anything can submit (no SQPOLL thread exists: resizing requires DEFER_TASKRUN).
      if (at.sqArray >= 0) for (let i = 0; i < sqEntries; i++) sq[at.sqArray + i] = i;

      // Swap in the new views and SQ-sized staging; old handles keep their old core,
      // whose staged slots are all -1 (nothing was staged), so they refuse to be used.
      this.#sq = sq;
      this.#cq = sq;
      this.#cqI32 = new Int32Array(ringBuf, ringsBase, (ringBuf.byteLength - ringsBase) >>> 2);
      this.#sqes = new Uint32Array(sqeBuf, 0, (sqEntries * sqeSize) >>> 2);
      this.#at = at;
      this.#sqMask = sqEntries - 1;
      this.#sqEntries = sqEntries;
      this.#cqMask = cqEntries - 1;
      this.#sqHeadSeen = Atomics.load(sq, at.sqHead);
      this.#shadow = new Uint32Array((sqEntries * sqeSize) >>> 2);
      const shadowView = new DataView(this.#shadow.buffer);
      this.#oldCores.push(this.#core);
      this.#core = { table: this.#table, stagedSlot: new Int32Array(sqEntries).fill(-1), closed: false, registered: this.#registered };
      const unsupported = this.probe.unsupportedOps;
      this.#handles = Array.from({ length: sqEntries }, (_, i) => new Sqe(this.#core, shadowView, i, sqeSize, unsupported));
    } catch (err) {
      for (const region of newRegions) {
        try { region.unmap(); } catch { /* already failing */ }
      }
      this.#failAfterSwitch();
      throw new RingStateError('ERR_RING_CLOSED', `${what}: the kernel resized the rings but they could not be mapped (${(err as Error).message}); the ring was closed`);
    }
    // The old regions: no view over them is left, and the kernel no longer uses them.
    const oldRegions = this.#regions.splice(0, this.#regions.length, ...newRegions);
    for (const region of oldRegions) region.unmap();
    const mapping = old.mapping === 'kernel-split' ? 'kernel-single' : old.mapping;
    this.#params = Object.freeze({ ...old, sqEntries, cqEntries, mapping });
    return this.#params;
  }

  /** After a resize the kernel accepted but we could not map: close without a drain. */
  #failAfterSwitch(): void {
    const table = this.#table;
    for (let slot = 0; slot < table.capacity; slot++) {
      if (table.state[slot] === SLOT_IN_FLIGHT && table.pins[slot]!.length > 0) abandoned.push(table.pins[slot]!.slice());
    }
    this.#closing = true;
    try {
      this.#teardown();
    } catch {
      /* the resize error is the one to report */
    }
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
   */
  close(): void {
    if (this.#closed || this.#closing) return;
    this.#closing = true;
    try {
      this.#drain();
    } finally {
      this.#teardown();
    }
  }

  /** Same as {@link IoUring.close}, for `using`. */
  [Symbol.dispose](): void {
    this.close();
  }

  #drain(): void {
    const table = this.#table;
    // Staged SQEs never reached the kernel: drop them.
    for (let p = this.#sqeFlushed; p !== this.#sqeTail; p = (p + 1) >>> 0) {
      const position = p & this.#sqMask;
      const slot = this.#core.stagedSlot[position]!;
      this.#core.stagedSlot[position] = -1;
      if (slot >= 0) table.release(slot);
    }
    this.#sqeTail = this.#sqeFlushed;
    if (table.live === 0 || this.#disabled) return;
    const deadline = performance.now() + CLOSE_DRAIN_MS;
    let cancelSent = false;
    while (table.live > 0) {
      try {
        this.#reap(undefined, 0xffffffff);
      } catch {
        // A handler threw while we close: keep draining; the op is done either way.
      }
      if (table.live === 0) break;
      if (!cancelSent || this.#cancelAnyRefused) {
        const refusedBefore = this.#cancelAnyRefused;
        cancelSent = this.#sendCancelAll();
        // Per-op cancels go out once; after that only waiting remains.
        if (refusedBefore) this.#cancelAnyRefused = false;
      }
      const remaining = deadline - performance.now();
      if (remaining <= 0) break;
      try {
        this.#enterAndWait(0, 1, Math.min(remaining, 100));
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
        `IoUring.close: ${table.live} operation(s) did not finish within ${CLOSE_DRAIN_MS / 1000} s of cancellation; their buffers stay referenced for the life of the process`,
        { code: 'TSURING_CLOSE_ABANDONED' },
      );
    }
  }

  /**
   * Queues cancellation of everything in flight: one ASYNC_CANCEL with ANY | ALL (Linux
   * 5.19), or, where the kernel refuses that, one cancel per op by its id. Returns false
   * if nothing could be queued yet (no room in the SQ); the caller tries again.
   */
  #sendCancelAll(): boolean {
    if (!this.probe.supports(IORING_OP_ASYNC_CANCEL)) return false;
    if (!this.#cancelAnyRefused) {
      const sqe = this.getSqe();
      if (sqe === null) return false;
      writeCancel(sqe, -1, 0, IORING_ASYNC_CANCEL_ANY | IORING_ASYNC_CANCEL_ALL);
      this.setHandler(sqe, {
        complete: (res) => {
          if (res === -22) this.#cancelAnyRefused = true;
        },
      });
      this.submit();
      return true;
    }
    const table = this.#table;
    let queued = 0;
    for (let slot = 0; slot < table.capacity; slot++) {
      if (table.state[slot] !== SLOT_IN_FLIGHT || table.opcode[slot] === IORING_OP_ASYNC_CANCEL) continue;
      const sqe = this.getSqe();
      if (sqe === null) break;
      writeCancel(sqe, slot, table.gen[slot]!, 0);
      queued++;
    }
    if (queued > 0) this.submit();
    return queued > 0;
  }

  #teardown(): void {
    this.#closed = true;
    this.#core.closed = true;
    for (const core of this.#oldCores) core.closed = true;
    const empty = new Uint32Array(0);
    this.#sq = empty;
    this.#cq = empty;
    this.#cqI32 = new Int32Array(0);
    this.#sqes = empty;
    let firstError: unknown;
    if (this.params.ringFdRegistered && this.#ownsFd) {
      try {
        const bytes = new Uint8Array(SIZEOF_IO_URING_RSRC_UPDATE);
        new IoUringRsrcUpdate(bytes).offset = this.#enterFd;
        ioUringRegister(this.#fd, IORING_UNREGISTER_RING_FDS, bytes, 1);
      } catch {
        /* closing the fd releases it anyway */
      }
    }
    if (this.#ownsFd) {
      try { closeFd(this.#fd); } catch (err) { firstError ??= err; }
    } else {
      try { unregisterRingIndex(this.#fd); } catch (err) { firstError ??= err; }
    }
    for (const region of this.#regions) {
      try { region.unmap(); } catch (err) { firstError ??= err; }
    }
    for (const resource of this.#resources) {
      try { resource.release(); } catch (err) { firstError ??= err; }
    }
    this.#resources.clear();
    this.#registered.clear();
    if (firstError !== undefined) throw firstError;
  }

  /** A one-line summary for logs. */
  toString(): string {
    if (this.#closed) return 'IoUring(closed)';
    const p = this.params;
    return `IoUring(fd ${this.#fd}, sq ${p.sqEntries}, cq ${p.cqEntries}, ${setupFlagNames(p.setupFlags).join('|') || 'no flags'}, in flight ${this.#table.live})`;
  }
}

/**
 * Fills an ASYNC_CANCEL SQE by hand: close() must not depend on the builders' argument
 * checks (it cancels by raw slot and generation, or by ANY). The whole slot is zeroed
 * first: the staging memory still holds the fields of whatever op used this SQ position
 * before, and the kernel refuses a cancel with a stale `off` or `splice_fd_in` (EINVAL),
 * which left close() waiting for in-flight ops to end by themselves.
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

/** Copies the 16 extra bytes of a 32-byte CQE into the snapshot. */
function copyBigCqe(cqe: CqeSnapshot, cq: Uint32Array, w: number): void {
  const extra = cqe.extraWords!;
  for (let k = 0; k < 4; k++) extra[k] = cq[w + CQE_BIG_WORD + k]!;
}

/** The opcode name for messages: `IORING_OP_READ`. */
export function opcodeName(opcode: number): string {
  return (OPCODE_NAMES as Record<number, string | undefined>)[opcode] ?? `opcode ${opcode}`;
}

// ---------------------------------------------------------------------------------------
// Setup helpers

function fillParams(p: IoUringParams, setup: ResolvedSetup, flags: number, mem: { region: Region; ringsOffset: number } | undefined): void {
  p.flags = flags;
  if ((flags & IORING_SETUP_CQSIZE) !== 0) p.cqEntries = setup.cqEntries;
  p.sqThreadIdle = setup.sqThreadIdle;
  p.sqThreadCpu = setup.sqThreadCpu;
  p.wqFd = setup.wqFd;
  if (mem !== undefined) {
    // NO_MMAP: sq_off.user_addr is the SQE array, cq_off.user_addr the SQ/CQ rings.
    p.sqOff.userAddr = mem.region.address;
    p.cqOff.userAddr = mem.region.address + mem.ringsOffset;
  }
}

/**
 * Byte offset of the SQ index array in the kernel's `struct io_rings` for `cqEntries` CQEs,
 * as the kernel's `rings_size()` computes it: the header and CQE array (`struct_size` with
 * 16-byte CQEs, the whole doubled with CQE32), aligned to the cache line. Used by resize(),
 * where the kernel does not report it; checked against the value setup reported.
 */
function sqArrayOffset(flags: number, cqEntries: number, cqesOffset: number): number {
  let off = cqesOffset + cqEntries * SIZEOF_IO_URING_CQE;
  if ((flags & IORING_SETUP_CQE32) !== 0) off *= 2;
  return roundUp(off, RINGS_CACHE_LINE);
}

/** `SMP_CACHE_BYTES` on the supported architectures: the SQ array starts on a new line. */
const RINGS_CACHE_LINE = 64;

function roundUpPow2(n: number): number {
  let v = 1;
  while (v < n) v *= 2;
  return v;
}

function roundUp(n: number, to: number): number {
  return Math.ceil(n / to) * to;
}

/** Maps memory for a NO_MMAP ring: the SQE array first, then the SQ/CQ rings. */
function mapUserMemory(setup: ResolvedSetup, flags: number, sqeSize: number, cqeSize: number): { region: Region; ringsOffset: number } {
  const sqEntries = roundUpPow2(setup.entries);
  const cqEntries = (flags & IORING_SETUP_CQSIZE) !== 0 ? roundUpPow2(setup.cqEntries) : 2 * sqEntries;
  const sqesBytes = roundUp(sqEntries * sqeSize, PAGE_SIZE);
  let ringsBytes = RINGS_HEADER_BYTES + cqEntries * cqeSize;
  if ((flags & IORING_SETUP_NO_SQARRAY) === 0) ringsBytes = roundUp(ringsBytes, 64) + sqEntries * 4;
  const total = roundUp(sqesBytes + ringsBytes, PAGE_SIZE);
  if (setup.hugePages !== false) {
    try {
      return { region: Region.mapAnonymous(roundUp(total, HUGE_PAGE_SIZE), 'NO_MMAP rings (huge pages)', true), ringsOffset: sqesBytes };
    } catch (err) {
      if (setup.hugePages === true) {
        if (err instanceof IoUringError) {
          throw new IoUringError(
            err.errno,
            'mmap',
            '(MAP_HUGETLB for NO_MMAP rings)',
            'No huge pages are available: reserve some (sysctl vm.nr_hugepages=N) or pass noMmap: { hugePages: \'try\' } to fall back to normal pages',
          );
        }
        throw err;
      }
    }
  }
  return { region: Region.mapAnonymous(total, 'NO_MMAP rings'), ringsOffset: sqesBytes };
}

/**
 * The flags to create the ring with: the required ones plus each preferred group the
 * kernel accepts. Tries everything at once first (one setup on a kernel that has it
 * all); otherwise group by group, remembering verdicts for the life of the process.
 *
 * A refusal is blamed on the preferred flags only once the required flags alone are known
 * to pass with these arguments: an EINVAL caused by the arguments themselves (an
 * `sqPoll.cpu` the machine lacks, an `attachWq` fd that is no ring) must not be remembered
 * as "this kernel lacks submitAll", or later, valid rings would silently lose it.
 */
function negotiateFlags(setup: ResolvedSetup): number {
  if (setup.preferred.length === 0) return setup.required;
  let all = setup.required;
  for (const group of setup.preferred) if (combinationProblem(all | group) === undefined) all |= group;
  if (all === setup.required || trySetup(setup, all)) return all;
  // The required flags alone refused too: the options are at fault. Let the real setup
  // report the kernel's answer, and remember nothing.
  if (!trySetup(setup, setup.required)) return setup.required;
  setupVerdicts.set(all, false);
  let flags = setup.required;
  for (const group of setup.preferred) {
    const candidate = flags | group;
    if (candidate === flags || combinationProblem(candidate) !== undefined) continue;
    if (trySetup(setup, candidate)) flags = candidate;
    else setupVerdicts.set(candidate, false);
  }
  return flags;
}

/**
 * Whether the kernel accepts `flags` with these options (a throwaway ring, torn down at
 * once). Acceptance is remembered; a refusal is not (the caller decides whom to blame).
 */
function trySetup(setup: ResolvedSetup, flags: number): boolean {
  const known = setupVerdicts.get(flags);
  if (known !== undefined) return known;
  let region: Region | undefined;
  try {
    let mem: { region: Region; ringsOffset: number } | undefined;
    if ((flags & IORING_SETUP_NO_MMAP) !== 0) {
      mem = mapUserMemory(
        { ...setup, hugePages: setup.hugePages === true ? 'try' : setup.hugePages },
        flags,
        (flags & IORING_SETUP_SQE128) !== 0 ? 128 : 64,
        (flags & IORING_SETUP_CQE32) !== 0 ? 32 : 16,
      );
      region = mem.region;
    }
    const bytes = new Uint8Array(SIZEOF_IO_URING_PARAMS);
    fillParams(new IoUringParams(bytes), setup, flags, mem);
    const fd = ioUringSetup(setup.entries, bytes);
    // A REGISTERED_FD_ONLY ring has no fd, only a slot in the task's table of registered
    // rings (16 of them): unregistering it is what frees it.
    if ((flags & IORING_SETUP_REGISTERED_FD_ONLY) === 0) closeFd(fd);
    else unregisterRingIndex(fd);
    setupVerdicts.set(flags, true);
    return true;
  } catch (err) {
    if (err instanceof IoUringError && err.code === 'EINVAL') return false;
    throw err;
  } finally {
    region?.unmap();
  }
}

/** Frees a ring that exists only as registered index `index` (REGISTERED_FD_ONLY). */
function unregisterRingIndex(index: number): void {
  const bytes = new Uint8Array(SIZEOF_IO_URING_RSRC_UPDATE);
  new IoUringRsrcUpdate(bytes).offset = index;
  ioUringRegister(index, IORING_UNREGISTER_RING_FDS | IORING_REGISTER_USE_REGISTERED_RING, bytes, 1);
}

/** @internal Exposed for tests: forget what setup attempts taught. */
export function forgetSetupVerdicts(): void {
  setupVerdicts.clear();
}
