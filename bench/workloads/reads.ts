/**
 * File reads from the page cache, four ways:
 *
 * - `raw`: the raw API keeping `depth` reads in flight. Each completion re-arms its slot with
 *   a read into the same preallocated buffer (its address cached after the first use).
 *   `submitAndWait(1)` then one `forEachCqe` pass per turn, exactly like the C baseline.
 * - `promise`: `AsyncIoUring.read` with `depth` async loops awaiting back to back.
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
import { prepRead, type Cqe, type IoUring } from '../../src/index.js';
import { AsyncIoUring } from '../../src/async/async-ring.js';
import { benchRing } from './nop.js';
import { checkRead, makeRandom, timedConcurrent, timedLoop, type Sample, type Timing } from './common.js';

export type ReadPattern = 'rand' | 'seq';
export type ReadImpl = 'raw' | 'promise' | 'fsp' | 'readsync';

export interface ReadParams {
  file: string;
  pattern: ReadPattern;
  impl: ReadImpl;
  /** Reads in flight (ignored by `readsync`). */
  depth: number;
}

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
        sample = rawReads(fd, bufs, block, next, timing);
        break;
      case 'promise':
        sample = await promiseReads(fd, bufs, block, next, timing);
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

function rawReads(fd: number, bufs: Buffer[], block: number, next: () => number, timing: Timing): Sample {
  const ring = benchRing(Math.max(8, bufs.length));
  try {
    const sample = timedLoop(timing, rawReadStep(ring, fd, bufs, block, next));
    sample.info = { setupFlags: ring.params.setupFlags };
    return sample;
  } finally {
    ring.close();
  }
}

/**
 * Starts `bufs.length` reads on `ring` and returns a step function that keeps them going:
 * each turn is one `submitAndWait(1)` and one `forEachCqe` pass, which re-arms every
 * completed read at the next offset. Returns the reads completed by the step.
 */
export function rawReadStep(ring: IoUring, fd: number, bufs: Buffer[], block: number, next: () => number): () => number {
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
      ring.submitAndWait(1);
      ring.forEachCqe(onCqe);
    }
    if (bad !== 0) throw new Error(`${bad} reads returned less than ${block} bytes`);
    return reaped - before;
  };
}

async function promiseReads(fd: number, bufs: Buffer[], block: number, next: () => number, timing: Timing): Promise<Sample> {
  const ring = new AsyncIoUring({ entries: Math.max(256, bufs.length) });
  try {
    const sample = await timedConcurrent(timing, bufs.length, async (i) => {
      checkRead(await ring.read(fd, bufs[i]!, next()), block, 'AsyncIoUring.read');
    });
    sample.info = { setupFlags: ring.ring.params.setupFlags, waker: ring.wakerBackend };
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
