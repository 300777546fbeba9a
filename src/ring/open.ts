/**
 * Options → negotiated, mapped ring: the one place that turns `IoUringOptions` into a ring
 * fd with its memory mapped and checked. `IoUring`'s constructor calls {@link openRing}
 * and builds its queues over the result.
 *
 * Steps: resolve and check the options (`setup.ts`), negotiate the preferred flags
 * (`negotiate.ts`), choose the ring memory (`memory.ts`: library memory with SQEs written in
 * place where the kernel takes it, else the kernel's own pages), `io_uring_setup`, map and
 * verify.
 * A failure half-way leaves nothing behind: memory released, fd closed.
 *
 * @module
 */
import {
  IORING_SETUP_CQE32,
  IORING_SETUP_NO_MMAP,
  IORING_SETUP_REGISTERED_FD_ONLY,
  IORING_SETUP_SQE128,
} from '../../generated/constants.js';
import { IoUringParams, SIZEOF_IO_URING_PARAMS } from '../../generated/structs.js';
import { IoUringError } from '../sys/errors.js';
import { closeFd, ioUringSetup } from '../sys/libc.js';
import { fillParams, mapRingViews, mapUserMemory, type RingViews, type UserMemory } from './memory.js';
import { negotiateFlags, noteAccepted, noteUserMemoryVerdict, unregisterRingIndex, userMemoryVerdict } from './negotiate.js';
import { resolveSetup, type IoUringOptions, type ResolvedSetup } from './setup.js';

/** A ring just set up: its fd, what the kernel granted, and the views over its memory. */
export interface OpenedRing {
  readonly setup: ResolvedSetup;
  readonly fd: number;
  /** False for a REGISTERED_FD_ONLY ring (`fd` is then its registered index). */
  readonly ownsFd: boolean;
  readonly flags: number;
  readonly features: number;
  readonly sqEntries: number;
  readonly cqEntries: number;
  readonly sqeSize: number;
  readonly cqeSize: number;
  readonly views: RingViews;
}

/** Sets up a ring for `options`; see the module comment. */
export function openRing(options: IoUringOptions): OpenedRing {
  const setup = resolveSetup(options);
  const flags = negotiateFlags(setup);
  const sqeSize = (flags & IORING_SETUP_SQE128) !== 0 ? 128 : 64;
  const cqeSize = (flags & IORING_SETUP_CQE32) !== 0 ? 32 : 16;
  let refused: boolean | undefined;
  if (setup.ringMemory === 'auto') {
    const attempt = tryUserMemory(setup, flags, sqeSize, cqeSize);
    if (typeof attempt !== 'boolean') return attempt;
    refused = attempt;
  }
  const mem = (flags & IORING_SETUP_NO_MMAP) !== 0 ? mapUserMemory(setup, flags, sqeSize, cqeSize) : undefined;
  const ring = setUp(setup, flags, sqeSize, cqeSize, mem);
  // Only now, with the same options accepted on the kernel's memory, is the refusal the
  // NO_MMAP memory's fault (not the options'): remember it.
  if (refused !== undefined) noteUserMemoryVerdict(flags, refused, false);
  return ring;
}

/**
 * A ring in library memory (NO_MMAP, SQEs in place), or, when the kernel refuses it
 * (EINVAL: no NO_MMAP before 6.5, or memory larger than a page without huge pages before
 * about 6.13), whether that memory spanned several pages, for the caller to fall back to
 * the kernel's memory. A shape known to be refused is not tried again.
 */
function tryUserMemory(setup: ResolvedSetup, flags: number, sqeSize: number, cqeSize: number): OpenedRing | boolean {
  const withNoMmap = flags | IORING_SETUP_NO_MMAP;
  const mem = mapUserMemory({ ...setup, hugePages: false }, withNoMmap, sqeSize, cqeSize);
  const multiPage = mem.multiPage;
  if (userMemoryVerdict(flags, multiPage) === false) {
    mem.release();
    return multiPage;
  }
  try {
    const ring = setUp(setup, withNoMmap, sqeSize, cqeSize, mem);
    noteUserMemoryVerdict(flags, multiPage, true);
    return ring;
  } catch (err) {
    if (!(err instanceof IoUringError && err.code === 'EINVAL')) throw err;
    return multiPage;
  }
}

function setUp(setup: ResolvedSetup, flags: number, sqeSize: number, cqeSize: number, mem: UserMemory | undefined): OpenedRing {
  let fd = -1;
  const ownsFd = (flags & IORING_SETUP_REGISTERED_FD_ONLY) === 0;
  try {
    const paramBytes = new Uint8Array(SIZEOF_IO_URING_PARAMS);
    const p = new IoUringParams(paramBytes);
    fillParams(p, setup, flags, mem);
    fd = ioUringSetup(setup.entries, paramBytes);
    noteAccepted(flags);
    const views = mapRingViews(fd, p, flags, sqeSize, cqeSize, mem);
    return {
      setup, fd, ownsFd, flags, features: p.features, sqEntries: p.sqEntries, cqEntries: p.cqEntries, sqeSize, cqeSize, views,
    };
  } catch (err) {
    // Half-way failures leave nothing behind: the fd closed (the caller releases `mem`).
    if (fd >= 0) {
      // A REGISTERED_FD_ONLY ring lives in the task's registered-ring table, not the fd table.
      try { if (ownsFd) closeFd(fd); else unregisterRingIndex(fd); } catch { /* already failing */ }
    }
    // Setup failed: no ring pinned the memory, no view of it left the library.
    mem?.release();
    throw err;
  }
}
