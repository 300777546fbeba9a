/**
 * `tsuring/fs` against `node:fs/promises`, the same calls through each module (the one-import
 * switch of the README):
 *
 * - `readfile`: `fs.readFile(path)` of one page-cached file of `size` bytes (written by the
 *   worker before the timed window), `depth` calls in flight: open, stat, read(s), close each.
 * - `rand`: `FileHandle.read(buf, 0, 4096, offset)` at random 4 KiB-aligned offsets of the
 *   bench's random-read file, `depth` reads in flight on one handle (the C baseline's offset
 *   sequence).
 *
 * @module
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as nodeFs from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tsuringFs from '../../src/node/fs/index.js';
import { checkRead, makeRandom, timedConcurrent, type Sample, type Timing } from './common.js';

export interface NodeFsParams {
  impl: 'tsuring' | 'node';
  kind: 'readfile' | 'rand';
  depth: number;
  /** readfile: the file's size in bytes. */
  size?: number;
  /** rand: the file to read (the bench's random-read file). */
  file?: string;
}

export async function runNodeFs(params: NodeFsParams, timing: Timing): Promise<Sample> {
  const fs = (params.impl === 'tsuring' ? tsuringFs : nodeFs) as typeof nodeFs;
  if (params.impl === 'tsuring' && tsuringFs.backend !== 'io_uring') throw new Error(`tsuring/fs runs on the ${tsuringFs.backend} backend here`);
  if (params.kind === 'readfile') {
    const size = params.size ?? 4096;
    const dir = mkdtempSync(join(tmpdir(), 'tsuring-bench-'));
    const path = join(dir, 'file');
    writeFileSync(path, Buffer.alloc(size, 7));
    try {
      const sample = await timedConcurrent(timing, params.depth, async () => {
        const data = await fs.readFile(path);
        if (data.length !== size) throw new Error(`readFile returned ${data.length} bytes, not ${size}`);
      });
      sample.bytes = sample.ops * size;
      return sample;
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  const file = params.file;
  if (file === undefined) throw new Error('rand needs a file');
  const handle = await fs.open(file, 'r');
  try {
    const blocks = Math.floor((await handle.stat()).size / 4096);
    const random = makeRandom();
    const memory = Buffer.allocUnsafeSlow(4096 * params.depth);
    const bufs = Array.from({ length: params.depth }, (_, i) => memory.subarray(i * 4096, (i + 1) * 4096));
    const sample = await timedConcurrent(timing, params.depth, async (i) => {
      const { bytesRead } = await handle.read(bufs[i]!, 0, 4096, (random() % blocks) * 4096);
      checkRead(bytesRead, 4096, `${params.impl} FileHandle.read`);
    });
    sample.bytes = sample.ops * 4096;
    return sample;
  } finally {
    await handle.close();
  }
}
