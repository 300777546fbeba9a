/**
 * Resizing a live ring (`IORING_REGISTER_RESIZE_RINGS`, Linux 6.13).
 *
 * How it stays safe: the kernel allocates the new rings and copies the cursors and
 * pending entries while holding its locks; once the call returns, the old memory is no
 * longer the kernel's ring. We then map the new rings (or, with library-provided memory,
 * hand the kernel memory we allocated beforehand), rebuild every private view and the
 * SQ-sized state over them, check the cursors the kernel copied against our own, and only
 * then release the old memory, after the views over it are gone. If mapping the new rings
 * fails after the kernel switched, the ring cannot continue: it is closed (its in-flight
 * buffers are kept for the process's life).
 *
 * Never called from inside a reap (`ring.ts` refuses it there): the reap loop holds views
 * of the old memory.
 *
 * @module
 */
import {
  IORING_OFF_SQ_RING,
  IORING_OFF_SQES,
  IORING_REGISTER_RESIZE_RINGS,
  IORING_SETUP_CQSIZE,
  IORING_SETUP_NO_MMAP,
  IORING_SETUP_NO_SQARRAY,
} from '../../generated/constants.js';
import { IoUringParams, SIZEOF_IO_URING_PARAMS } from '../../generated/structs.js';
import { checkIntRange } from '../abi/check.js';
import { ArgumentError, describeReceived } from '../errors.js';
import { IoUringError } from '../sys/errors.js';
import { ioUringRegister } from '../sys/libc.js';
import type { RingCore, RingParams } from './core.js';
import { RingStateError } from './errors.js';
import { failAfterSwitch } from './lifecycle.js';
import { buildViews, mapUserMemory, sqArrayOffset, type RingLayout, type UserMemory } from './memory.js';
import { Region } from './region.js';
import { MAX_CQ_ENTRIES, MAX_SQ_ENTRIES } from './setup.js';

function roundUpPow2(n: number): number {
  let v = 1;
  while (v < n) v *= 2;
  return v;
}

/** Resizes the ring; see `IoUring.resize`. */
export function resizeRing(core: RingCore, size: { sqEntries?: number; cqEntries?: number }): RingParams {
  const what = 'IoUring.resize';
  if (size === null || typeof size !== 'object') {
    throw new ArgumentError('ERR_INVALID_ARG_TYPE', `${what}: size`, `expected { sqEntries?, cqEntries? }, received ${describeReceived(size)}`);
  }
  const old = core.params;
  const sqWanted = size.sqEntries === undefined ? old.sqEntries : checkIntRange(`${what}: size.sqEntries`, size.sqEntries, 1, MAX_SQ_ENTRIES);
  const cqWanted = size.cqEntries === undefined ? old.cqEntries : checkIntRange(`${what}: size.cqEntries`, size.cqEntries, 1, MAX_CQ_ENTRIES);
  if (cqWanted < sqWanted) {
    throw new ArgumentError('ERR_INVALID_ARG_VALUE', `${what}: size.cqEntries`, `must be at least the SQ size (${sqWanted}); the kernel refuses a CQ smaller than the SQ`);
  }
  if (core.sq.staged !== 0) {
    throw new RingStateError('ERR_RING_BUSY', `${what}: ${core.sq.staged} SQE(s) are staged; submit (or discard) them before resizing`);
  }
  const flags = old.setupFlags;
  const sqeSize = old.sqeSize;
  const cqeSize = old.cqeSize;
  const at = core.sq.at;
  // Where the SQ index array will sit. The kernel does not report it back from a resize
  // (sq_off.array stays 0, seen on 6.18), so compute it as its rings_size() does, after
  // checking that computation against the offset it reported for the current sizes.
  const noSqArray = (flags & IORING_SETUP_NO_SQARRAY) !== 0;
  if (!noSqArray && sqArrayOffset(flags, old.cqEntries, at.cqes * 4) !== at.sqArray * 4) {
    throw new IoUringError(-95, 'io_uring_register', '(IORING_REGISTER_RESIZE_RINGS)', 'This kernel places the SQ index array where this library does not expect it; create the ring with noSqArray to resize it');
  }
  // Library-provided memory: the kernel takes the new rings in memory we allocate first.
  let mem: UserMemory | undefined;
  if ((flags & IORING_SETUP_NO_MMAP) !== 0) {
    mem = mapUserMemory(
      {
        entries: sqWanted, cqEntries: cqWanted, required: 0, preferred: [], sqThreadIdle: 0, sqThreadCpu: 0, wqFd: 0,
        hugePages: old.mapping === 'user-huge' ? 'try' : false, maxInFlight: undefined, msgRingTarget: false, registerRingFd: false, ringMemory: 'user',
      },
      flags | IORING_SETUP_CQSIZE,
      sqeSize,
      cqeSize,
    );
    const ringsNeeded = sqArrayOffset(flags, roundUpPow2(cqWanted), at.cqes * 4) + (noSqArray ? 0 : roundUpPow2(sqWanted) * 4);
    if (ringsNeeded > mem.ringsLength) {
      mem.release();
      throw new Error(`${what}: NO_MMAP ring memory for these sizes would be too small (${ringsNeeded} bytes of rings needed); please report this`);
    }
  }
  const paramBytes = new Uint8Array(SIZEOF_IO_URING_PARAMS);
  const p = new IoUringParams(paramBytes);
  p.sqEntries = sqWanted;
  p.cqEntries = cqWanted;
  p.flags = IORING_SETUP_CQSIZE;
  if (mem !== undefined) {
    p.sqOff.userAddr = mem.sqesAddress;
    p.cqOff.userAddr = mem.ringsAddress;
  }
  try {
    ioUringRegister(core.fd, IORING_REGISTER_RESIZE_RINGS | (core.ownsFd ? 0 : 1 << 31), paramBytes, 1);
  } catch (err) {
    mem?.release();
    if (err instanceof IoUringError && err.code === 'EINVAL' && !core.deferTaskrun) {
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
    mem?.release();
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
    let ringBuf: ArrayBufferLike;
    let sqeBuf: ArrayBufferLike;
    let ringsBase = 0;
    let sqesBase = 0;
    if (mem !== undefined) {
      if (Math.max(sqRingBytes, cqRingBytes) > mem.ringsLength) {
        throw new Error(`NO_MMAP resize: the kernel's ring layout needs more than the ${mem.ringsLength} bytes allocated`);
      }
      ringBuf = mem.buffer();
      sqeBuf = ringBuf;
      ringsBase = mem.ringsOffset;
      sqesBase = mem.sqesOffset;
    } else {
      // Resizing exists only on kernels with IORING_FEAT_SINGLE_MMAP: one ring region.
      const rings = Region.mapRing(core.fd, IORING_OFF_SQ_RING, Math.max(sqRingBytes, cqRingBytes), 'SQ/CQ ring (resized)');
      newRegions.push(rings);
      const sqes = Region.mapRing(core.fd, IORING_OFF_SQES, sqEntries * sqeSize, 'SQE array (resized)');
      newRegions.push(sqes);
      ringBuf = rings.buffer();
      sqeBuf = sqes.buffer();
    }
    const layout: RingLayout = {
      sqHead: sqOff.head >>> 2, sqTail: sqOff.tail >>> 2, sqMask: sqOff.ringMask >>> 2, sqFlags: sqOff.flags >>> 2,
      sqDropped: sqOff.dropped >>> 2, sqArray: noSqArray ? -1 : arrayOffset >>> 2,
      cqHead: cqOff.head >>> 2, cqTail: cqOff.tail >>> 2, cqMask: cqOff.ringMask >>> 2, cqOverflow: cqOff.overflow >>> 2,
      cqFlags: cqOff.flags === 0 ? -1 : cqOff.flags >>> 2,
      cqes: cqOff.cqes >>> 2,
    };
    const views = buildViews(ringBuf, ringBuf, sqeBuf, ringsBase, sqesBase, sqEntries * sqeSize, layout);
    // The kernel wrote the new masks and copied the cursors: check them against ours.
    if (views.sq[layout.sqMask] !== sqEntries - 1 || views.sq[layout.cqMask] !== cqEntries - 1) {
      throw new Error(`resized ring memory does not hold the sizes the kernel reported (sq ${sqEntries}, cq ${cqEntries})`);
    }
    if (views.sq[layout.sqTail] !== core.sq.flushed || Atomics.load(views.sq, layout.cqHead) !== core.cq.head) {
      throw new Error('the resized rings do not carry over the SQ tail / CQ head this ring published');
    }
    // Swap in the new views and SQ-sized state. The kernel does not copy the SQ index
    // array; adopt() restores the identity mapping before anything can submit (no SQPOLL
    // thread exists: resizing requires DEFER_TASKRUN).
    const inPlace = mem !== undefined ? { buffer: sqeBuf, byteOffset: sqesBase } : null;
    core.sq.adopt(views.sq, views.sqes, inPlace, layout, sqEntries, core.table, core.registered);
    core.cq.adopt(views.cq, views.cqI32, layout, cqEntries);
  } catch (err) {
    for (const region of newRegions) {
      try { region.unmap(); } catch { /* already failing */ }
    }
    // The kernel switched to `mem`: end it as a ring's memory (it may still write there).
    try { mem?.retire(); } catch { /* already failing */ }
    failAfterSwitch(core);
    throw new RingStateError('ERR_RING_CLOSED', `${what}: the kernel resized the rings but they could not be mapped (${(err as Error).message}); the ring was closed`);
  }
  // The old memory: no view over it is left, and the kernel no longer uses it.
  const oldViews = core.views;
  core.views = {
    ...oldViews, regions: newRegions, memory: mem ?? null, sq: core.sq.sq, cq: core.cq.ring, cqI32: core.cq.ringI32, sqes: core.sq.sqes, layout: core.sq.at,
    sqesBuffer: mem !== undefined ? mem.buffer() : null, sqesByteOffset: mem !== undefined ? mem.sqesOffset : 0,
  };
  for (const region of oldViews.regions) region.unmap();
  oldViews.memory?.retire();
  const mapping = old.mapping === 'kernel-split' ? 'kernel-single' : old.mapping;
  core.params = Object.freeze({ ...old, sqEntries, cqEntries, mapping });
  return core.params;
}
