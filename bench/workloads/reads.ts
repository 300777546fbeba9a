/**
 * File reads from the page cache, these ways:
 *
 * - `raw`: the raw API keeping `depth` reads in flight. Each completion re-arms its slot with
 *   a read into the same preallocated buffer (its address cached after the first use).
 *   `submitAndWait(1)` then one `forEachCqe` pass per turn, exactly like the C baseline
 *   (on an SQPOLL ring, `submit()` and a spin on the CQ: see `nop.ts`).
 * - `promise`: `AsyncIoUring.read` with `depth` async loops awaiting back to back.
 * - `promise-fixedfile`: the same on a registered file (`FileTable` slot): no fd lookup
 *   and reference per read in the kernel.
 * - `promise-readfixed`: a registered file and registered buffers through a Promise-API
 *   `readFixed`, when `AsyncIoUring` has one (skipped with the reason otherwise).
 * - `fsp`: `fs.promises` `FileHandle.read`, same shape as `promise`.
 * - `readsync`: a `fs.readSync` loop.
 *
 * `rand` reads 4 KiB blocks at random aligned offsets (xorshift32, the C baseline's
 * sequence); `seq` reads 1 MiB blocks front to back, wrapping at the end.
 *
 * @module
 */
import { closeSync, openSync, readSync, fstatSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { FileTable, prepRead, RegisteredBuffers, type Cqe, type IoUring } from '../../src/index.js';
import { AsyncIoUring } from '../../src/async/async-ring.js';
import { benchRing, ringInfo, submitWait, type RingVariant } from './nop.js';
import { checkRead, makeRandom, timedConcurrent, timedLoop, type Sample, type Timing } from './common.js';
import { runReadFloor } from './floor.js';

export type ReadPattern = 'rand' | 'seq';
export type ReadImpl = 'raw' | 'floor' | 'promise' | 'promise-fixedfile' | 'promise-readfixed' | 'fsp' | 'readsync';

export interface ReadParams extends RingVariant {
  file: string;
  pattern: ReadPattern;
  impl: ReadImpl;
  /** Reads in flight (ignored by `readsync`). */
  depth: number;
}

/** Thrown by a worker for a measurement this build or kernel cannot make; printed as `SKIP reason`. */
export class WorkloadSkip extends Error {}

export const BLOCK = { rand: 4096, seq: 1 << 20 } as const;

/** Offsets of the pattern over a file of `blocks` blocks of `block` bytes. */
export function offsets(pattern: ReadPattern, blocks: number, block: number): () => number {
  if (pattern === 'rand') {
    const random = makeRandom();
    return () => (random() % blocks) * block;
  }
  let next = 0;
  return () => {
    const at = next * block;
    next = next + 1 === blocks ? 0 : next + 1;
    return at;
  };
}

export async function runReads(params: ReadParams, timing: Timing): Promise<Sample> {
  const block = BLOCK[params.pattern];
  const fd = openSync(params.file, 'r');
  try {
    const blocks = Math.floor(fstatSync(fd).size / block);
    if (blocks < 1) throw new Error(`${params.file} is smaller than one ${block}-byte block`);
    const next = offsets(params.pattern, blocks, block);
    const depth = params.impl === 'readsync' ? 1 : params.depth;
    // One allocation for every buffer, sliced once: the same views are reused for every read.
    const memory = Buffer.allocUnsafeSlow(block * depth);
    const bufs = Array.from({ length: depth }, (_, i) => memory.subarray(i * block, (i + 1) * block));
    let sample: Sample;
    switch (params.impl) {
      case 'raw':
        sample = rawReads(fd, bufs, block, next, timing, params);
        break;
      case 'floor':
        sample = runReadFloor(fd, bufs, block, next, timing);
        break;
      case 'promise':
      case 'promise-fixedfile':
      case 'promise-readfixed':
        sample = await promiseReads(fd, bufs, block, next, timing, params.impl, memory);
        break;
      case 'fsp':
        sample = await fsPromisesReads(params.file, bufs, block, next, timing);
        break;
      case 'readsync': {
        const buf = bufs[0]!;
        sample = timedLoop(timing, () => {
          for (let k = 0; k < 256; k++) checkRead(readSync(fd, buf, 0, block, next()), block, 'readSync');
          return 256;
        });
        break;
      }
    }
    sample.bytes = sample.ops * block;
    return sample;
  } finally {
    closeSync(fd);
  }
}

function rawReads(fd: number, bufs: Buffer[], block: number, next: () => number, timing: Timing, variant: RingVariant): Sample {
  // SQPOLL: the SQ thread may post a read's CQE before it moves the SQ head past the
  // batch, so a completed read's slot can still look taken; twice the depth always has room
  // (uring-bench.c sizes its SQPOLL ring the same way).
  const ring = benchRing(Math.max(8, bufs.length) * (variant.sqPoll === undefined ? 1 : 2), variant);
  try {
    const sample = timedLoop(timing, rawReadStep(ring, fd, bufs, block, next, variant.sqPoll !== undefined));
    sample.info = ringInfo(ring);
    return sample;
  } finally {
    ring.close();
  }
}

/**
 * Starts `bufs.length` reads on `ring` and returns a step function that keeps them going:
 * each turn is one `submitAndWait(1)` (with `spin`: `submit()` and a spin on the CQ) and
 * one `forEachCqe` pass, which re-arms every completed read at the next offset. Returns the
 * reads completed by the step.
 */
export function rawReadStep(ring: IoUring, fd: number, bufs: Buffer[], block: number, next: () => number, spin = false): () => number {
  const depth = bufs.length;
  let bad = 0;
  let reaped = 0;
  // Hoisted: one closure for the whole run. Each CQE's buffer index rides in userData.
  const onCqe = (cqe: Cqe): void => {
    if (cqe.res !== block) bad++;
    const i = cqe.userData as number;
    const sqe = ring.getSqe()!;
    prepRead(sqe, fd, bufs[i]!, block, next());
    sqe.userData = i;
    reaped++;
  };
  for (let i = 0; i < depth; i++) {
    const sqe = ring.getSqe()!;
    prepRead(sqe, fd, bufs[i]!, block, next());
    sqe.userData = i;
  }
  // Turns per clock check: about 2048 reads of 4 KiB, or 32 of 1 MiB.
  const turns = Math.max(1, Math.floor((block === 4096 ? 2048 : 32) / depth));
  return () => {
    const before = reaped;
    for (let k = 0; k < turns; k++) {
      submitWait(ring, 1, spin);
      ring.forEachCqe(onCqe);
    }
    if (bad !== 0) throw new Error(`${bad} reads returned less than ${block} bytes`);
    return reaped - before;
  };
}


async function promiseReads(fd: number, bufs: Buffer[], block: number, next: () => number, timing: Timing, impl: ReadImpl, memory: Buffer): Promise<Sample> {
  const ring = new AsyncIoUring({ entries: Math.max(256, bufs.length) });
  try {
    let sample: Sample;
    if (impl === 'promise') {
      sample = await timedConcurrent(timing, bufs.length, async (i) => {
        checkRead(await ring.read(fd, bufs[i]!, next()), block, 'AsyncIoUring.read');
      });
    } else {
      using table = FileTable.register(ring.ring, [fd]);
      const file = table.slot(0);
      if (impl === 'promise-fixedfile') {
        sample = await timedConcurrent(timing, bufs.length, async (i) => {
          checkRead(await ring.read(file, bufs[i]!, next()), block, 'AsyncIoUring.read (registered file)');
        });
      } else {
        using registered = RegisteredBuffers.register(ring.ring, [memory]);
        sample = await timedConcurrent(timing, bufs.length, async (i) => {
          checkRead(await ring.readFixed(file, bufs[i]!, next()), block, 'AsyncIoUring.readFixed');
        });
        if (!registered.registered) throw new Error('the registered buffers went away during the run');
      }
    }
    sample.info = { ...ringInfo(ring.ring), waker: ring.wakerBackend };
    return sample;
  } finally {
    await ring.close();
  }
}

async function fsPromisesReads(file: string, bufs: Buffer[], block: number, next: () => number, timing: Timing): Promise<Sample> {
  const handle = await open(file, 'r');
  try {
    return await timedConcurrent(timing, bufs.length, async (i) => {
      const { bytesRead } = await handle.read(bufs[i]!, 0, block, next());
      checkRead(bytesRead, block, 'FileHandle.read');
    });
  } finally {
    await handle.close();
  }
}
