/**
 * Ring memory: where the SQ ring, the CQ ring and the SQE array live, and the private
 * views the ring reads and writes them through.
 *
 * Two kinds (`RingParams.mapping`):
 * - `'user'` / `'user-huge'`: `IORING_SETUP_NO_MMAP` with anonymous memory the library maps
 *   itself (huge pages on request) and the kernel pins. Builders write SQEs in place and
 *   CQEs are read where the kernel put them: no staging copy. The SQE views handed to
 *   builders can outlive the ring, so the memory is retired, never just unmapped (see
 *   `region.ts`): after close those views read fresh zero pages, never unmapped memory.
 * - `'kernel-single'` / `'kernel-split'`: the kernel's own pages, mapped with `mmap` (one
 *   region for both rings with `IORING_FEAT_SINGLE_MMAP`, else two), plus the SQE array.
 *   Only the ring holds views of them; builders write into JS staging memory that the ring
 *   copies into the SQE array at submit.
 *
 * Why not JS heap memory (an ArrayBuffer or SharedArrayBuffer): closing a ring's fd does
 * not end the kernel's use of its memory at once. The kernel tears the ring down later,
 * from a workqueue, and still writes into it then (seen on 6.18: the CQ tail committed
 * after close, into memory the allocator had meanwhile handed to the next ring). Freed
 * heap memory is reused in place, on the same physical pages the kernel still holds;
 * memory the library maps can have its pages replaced instead.
 *
 * @module
 */
import {
  IORING_FEAT_SINGLE_MMAP,
  IORING_OFF_CQ_RING,
  IORING_OFF_SQ_RING,
  IORING_OFF_SQES,
  IORING_SETUP_CQE32,
  IORING_SETUP_CQSIZE,
  IORING_SETUP_NO_SQARRAY,
} from '../../generated/constants.js';
import { IoUringParams, SIZEOF_IO_URING_CQE } from '../../generated/structs.js';
import { IoUringError } from '../sys/errors.js';
import { Region } from './region.js';
import { MAX_CQ_ENTRIES, MAX_SQ_ENTRIES, type ResolvedSetup } from './setup.js';

export const PAGE_SIZE = 4096;
const HUGE_PAGE_SIZE = 2 * 1024 * 1024;
/**
 * Bytes before the CQE array in the kernel's `struct io_rings` (its cursors and masks;
 * the CQEs start on the next cache line). Only used to size NO_MMAP memory before setup;
 * the offsets the kernel reports are checked against the allocation afterwards.
 */
const RINGS_HEADER_BYTES = 64;
/** `SMP_CACHE_BYTES` on the supported architectures: the SQ array starts on a new line. */
const RINGS_CACHE_LINE = 64;

/** How the ring memory is provided; see the module comment. */
export type RingMapping = 'kernel-single' | 'kernel-split' | 'user' | 'user-huge';

/** Word indices (4-byte units) of the kernel's cursors and arrays within the ring views. */
export interface RingLayout {
  sqHead: number;
  sqTail: number;
  sqMask: number;
  sqFlags: number;
  sqDropped: number;
  /** -1 with `IORING_SETUP_NO_SQARRAY`. */
  sqArray: number;
  cqHead: number;
  cqTail: number;
  cqMask: number;
  cqOverflow: number;
  /** The CQ flags word (`IORING_CQ_EVENTFD_DISABLED`); -1 if the kernel reported none. */
  cqFlags: number;
  cqes: number;
}

/** Memory the library provides for a NO_MMAP ring: the SQE array, then the rings. */
export interface UserMemory {
  readonly kind: 'user' | 'user-huge';
  /** Native address of the SQE array (page-aligned). */
  readonly sqesAddress: number;
  /** Native address of the SQ/CQ rings (page-aligned). */
  readonly ringsAddress: number;
  /** Bytes from {@link UserMemory.ringsAddress} to the end of the memory. */
  readonly ringsLength: number;
  /** Whether the SQE array or the rings span more than one page. */
  readonly multiPage: boolean;
  /** The memory as an ArrayBuffer (a `koffi.view`: no owner, never detached by `transfer`). */
  buffer(): ArrayBufferLike;
  /** Byte offsets of the SQE array and the rings within {@link UserMemory.buffer}. */
  readonly sqesOffset: number;
  readonly ringsOffset: number;
  /** The mapped region. */
  readonly region: Region;
  /** Unmaps the memory now: only when no view of it ever left the library (a setup that failed). */
  release(): void;
  /** Ends memory a ring used in place: zero pages now, unmapped once no view can reach it. */
  retire(): void;
}

function roundUpPow2(n: number): number {
  let v = 1;
  while (v < n) v *= 2;
  return v;
}

/** `n` rounded up to a multiple of `to`. */
export function roundUp(n: number, to: number): number {
  return Math.ceil(n / to) * to;
}

/** SQ and CQ sizes the kernel will grant for these options and flags. */
function ringSizes(setup: Pick<ResolvedSetup, 'entries' | 'cqEntries'>, flags: number): { sqEntries: number; cqEntries: number } {
  const sqEntries = Math.min(roundUpPow2(setup.entries), MAX_SQ_ENTRIES);
  const cqEntries = (flags & IORING_SETUP_CQSIZE) !== 0 ? Math.min(roundUpPow2(setup.cqEntries), MAX_CQ_ENTRIES) : 2 * sqEntries;
  return { sqEntries, cqEntries };
}

/** Bytes of the SQE array and of the rings, each rounded to whole pages. */
function userMemorySizes(setup: Pick<ResolvedSetup, 'entries' | 'cqEntries'>, flags: number, sqeSize: number, cqeSize: number): { sqesBytes: number; ringsBytes: number } {
  const { sqEntries, cqEntries } = ringSizes(setup, flags);
  const sqesBytes = roundUp(sqEntries * sqeSize, PAGE_SIZE);
  let ringsBytes = RINGS_HEADER_BYTES + cqEntries * cqeSize;
  if ((flags & IORING_SETUP_NO_SQARRAY) === 0) ringsBytes = roundUp(ringsBytes, RINGS_CACHE_LINE) + sqEntries * 4;
  return { sqesBytes, ringsBytes: roundUp(ringsBytes, PAGE_SIZE) };
}

/** Maps memory for a NO_MMAP ring (`noMmap` option): anonymous pages, huge pages on request. */
export function mapUserMemory(setup: ResolvedSetup, flags: number, sqeSize: number, cqeSize: number): UserMemory {
  const { sqesBytes, ringsBytes } = userMemorySizes(setup, flags, sqeSize, cqeSize);
  const total = sqesBytes + ringsBytes;
  if (setup.hugePages !== false) {
    try {
      return regionMemory(Region.mapAnonymous(roundUp(total, HUGE_PAGE_SIZE), 'NO_MMAP rings (huge pages)', true), sqesBytes, ringsBytes);
    } catch (err) {
      if (setup.hugePages === true) {
        if (err instanceof IoUringError) {
          throw new IoUringError(
            err.errno,
            'mmap',
            '(MAP_HUGETLB for NO_MMAP rings)',
            "No huge pages are available: reserve some (sysctl vm.nr_hugepages=N) or pass noMmap: { hugePages: 'try' } to fall back to normal pages",
          );
        }
        throw err;
      }
    }
  }
  return regionMemory(Region.mapAnonymous(total, 'NO_MMAP rings'), sqesBytes, ringsBytes);
}

function regionMemory(region: Region, sqesBytes: number, ringsBytes: number): UserMemory {
  return {
    kind: region.hugePages ? 'user-huge' : 'user',
    sqesAddress: region.address,
    ringsAddress: region.address + sqesBytes,
    ringsLength: region.length - sqesBytes,
    multiPage: sqesBytes > PAGE_SIZE || ringsBytes > PAGE_SIZE,
    buffer: () => region.buffer(),
    sqesOffset: 0,
    ringsOffset: sqesBytes,
    region,
    release: () => region.unmap(),
    retire: () => region.retire(),
  };
}

/** Fills `struct io_uring_params` for setup (or a trial setup). */
export function fillParams(p: IoUringParams, setup: ResolvedSetup, flags: number, mem: UserMemory | undefined): void {
  p.flags = flags;
  if ((flags & IORING_SETUP_CQSIZE) !== 0) p.cqEntries = setup.cqEntries;
  p.sqThreadIdle = setup.sqThreadIdle;
  p.sqThreadCpu = setup.sqThreadCpu;
  p.wqFd = setup.wqFd;
  if (mem !== undefined) {
    // NO_MMAP: sq_off.user_addr is the SQE array, cq_off.user_addr the SQ/CQ rings.
    p.sqOff.userAddr = mem.sqesAddress;
    p.cqOff.userAddr = mem.ringsAddress;
  }
}

/**
 * Byte offset of the SQ index array in the kernel's `struct io_rings` for `cqEntries` CQEs,
 * as the kernel's `rings_size()` computes it: the header and CQE array (`struct_size` with
 * 16-byte CQEs, the whole doubled with CQE32), aligned to the cache line. Used by resize(),
 * where the kernel does not report it; checked against the value setup reported.
 */
export function sqArrayOffset(flags: number, cqEntries: number, cqesOffset: number): number {
  let off = cqesOffset + cqEntries * SIZEOF_IO_URING_CQE;
  if ((flags & IORING_SETUP_CQE32) !== 0) off *= 2;
  return roundUp(off, RINGS_CACHE_LINE);
}

/** The private views over mapped ring memory, and what they cover. */
export interface RingViews {
  readonly mapping: RingMapping;
  /** The kernel's regions, unmapped at teardown. */
  readonly regions: Region[];
  /** Library memory (NO_MMAP), retired at teardown; null for the kernel's regions. */
  readonly memory: UserMemory | null;
  readonly sq: Uint32Array;
  readonly cq: Uint32Array;
  readonly cqI32: Int32Array;
  /** The SQE array, as words. */
  readonly sqes: Uint32Array;
  /** For library memory: the buffer builders write SQEs into in place, and SQE 0's byte offset there. */
  readonly sqesBuffer: ArrayBufferLike | null;
  readonly sqesByteOffset: number;
  readonly layout: RingLayout;
}

/**
 * Maps (or adopts) the ring memory the kernel just set up and builds the views over it,
 * checking that the sizes the kernel wrote into the rings are where we expect them.
 * On failure, unmaps what it mapped (the caller still owns `mem` and the fd).
 */
export function mapRingViews(fd: number, p: IoUringParams, flags: number, sqeSize: number, cqeSize: number, mem: UserMemory | undefined): RingViews {
  const sqEntries = p.sqEntries;
  const cqEntries = p.cqEntries;
  const sqOff = p.sqOff;
  const cqOff = p.cqOff;
  const noSqArray = (flags & IORING_SETUP_NO_SQARRAY) !== 0;
  const sqRingBytes = noSqArray
    ? Math.max(sqOff.head, sqOff.tail, sqOff.ringMask, sqOff.ringEntries, sqOff.flags, sqOff.dropped) + 4
    : sqOff.array + sqEntries * 4;
  const cqRingBytes = cqOff.cqes + cqEntries * cqeSize;
  const regions: Region[] = [];
  try {
    let sqBuf: ArrayBufferLike;
    let cqBuf: ArrayBufferLike;
    let sqeBuf: ArrayBufferLike;
    let ringsBase = 0;
    let sqesBase = 0;
    let mapping: RingMapping;
    if (mem !== undefined) {
      if (Math.max(sqRingBytes, cqRingBytes) > mem.ringsLength) {
        throw new Error(
          `NO_MMAP: the kernel's ring layout needs ${Math.max(sqRingBytes, cqRingBytes)} bytes, more than the ${mem.ringsLength} allocated; please report this kernel version`,
        );
      }
      sqBuf = mem.buffer();
      cqBuf = sqBuf;
      sqeBuf = sqBuf;
      ringsBase = mem.ringsOffset;
      sqesBase = mem.sqesOffset;
      mapping = mem.kind;
    } else if ((p.features & IORING_FEAT_SINGLE_MMAP) !== 0) {
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
    const layout: RingLayout = {
      sqHead: sqOff.head >>> 2, sqTail: sqOff.tail >>> 2, sqMask: sqOff.ringMask >>> 2, sqFlags: sqOff.flags >>> 2,
      sqDropped: sqOff.dropped >>> 2, sqArray: noSqArray ? -1 : sqOff.array >>> 2,
      cqHead: cqOff.head >>> 2, cqTail: cqOff.tail >>> 2, cqMask: cqOff.ringMask >>> 2, cqOverflow: cqOff.overflow >>> 2,
      cqFlags: cqOff.flags === 0 ? -1 : cqOff.flags >>> 2,
      cqes: cqOff.cqes >>> 2,
    };
    const views = buildViews(sqBuf, cqBuf, sqeBuf, ringsBase, sqesBase, sqEntries * sqeSize, layout);
    // The kernel initialised the masks and sizes inside the rings; reading them back
    // through our views proves the views sit where the kernel put the rings.
    const sqRingEntries = views.sq[sqOff.ringEntries >>> 2];
    const cqRingEntries = views.cq[cqOff.ringEntries >>> 2];
    if (views.sq[layout.sqMask] !== sqEntries - 1 || sqRingEntries !== sqEntries || views.cq[layout.cqMask] !== cqEntries - 1 || cqRingEntries !== cqEntries) {
      throw new Error(
        `ring memory does not hold the sizes the kernel reported (sq ${sqRingEntries}/${sqEntries}, cq ${cqRingEntries}/${cqEntries}); the mapping is wrong (${mapping})`,
      );
    }
    return {
      mapping,
      regions,
      memory: mem ?? null,
      ...views,
      sqesBuffer: mem !== undefined ? sqeBuf : null,
      sqesByteOffset: sqesBase,
      layout,
    };
  } catch (err) {
    for (const region of regions.reverse()) {
      try { region.unmap(); } catch { /* already failing; the first error matters */ }
    }
    throw err;
  }
}

/** Views over ring memory at the given bases (the ring's private fields, never handed out). */
export function buildViews(
  sqBuf: ArrayBufferLike,
  cqBuf: ArrayBufferLike,
  sqeBuf: ArrayBufferLike,
  ringsBase: number,
  sqesBase: number,
  sqesBytes: number,
  layout: RingLayout,
): { sq: Uint32Array; cq: Uint32Array; cqI32: Int32Array; sqes: Uint32Array; layout: RingLayout } {
  return {
    sq: new Uint32Array(sqBuf, ringsBase, (sqBuf.byteLength - ringsBase) >>> 2),
    cq: new Uint32Array(cqBuf, ringsBase, (cqBuf.byteLength - ringsBase) >>> 2),
    cqI32: new Int32Array(cqBuf, ringsBase, (cqBuf.byteLength - ringsBase) >>> 2),
    sqes: new Uint32Array(sqeBuf, sqesBase, sqesBytes >>> 2),
    layout,
  };
}
