/**
 * Backpressure: a ring with a tiny SQ and a small `maxInFlight` given thousands of ops at
 * once. Every op completes, none is dropped, results match, and where order is observable
 * (ops that complete at once, like NOP and page-cache reads) they settle in submission order.
 */
import { closeSync, openSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AsyncIoUring } from '../../src/async/async-ring.js';
import { pipe, sleep, tempDir } from './helpers.js';

let dir: string;
let cleanup: () => void;
beforeAll(() => ({ dir, cleanup } = tempDir()));
afterAll(() => cleanup());

describe('backpressure', () => {
  it('5,000 NOPs on a 4-entry SQ with maxInFlight 8: all resolve, in submission order', async () => {
    await using ring = new AsyncIoUring({ entries: 4, maxInFlight: 8 });
    expect(ring.ring.params.sqEntries).toBe(4);
    const order: number[] = [];
    const ops: Promise<number>[] = [];
    for (let i = 0; i < 5000; i++) ops.push(ring.nop().then((res) => (order.push(i), res)));
    // (A full SQ is submitted on the spot and NOPs complete inline, so few ever wait here.)
    const results = await Promise.all(ops);
    expect(results.every((r) => r === 0)).toBe(true);
    expect(order).toEqual(Array.from({ length: 5000 }, (_, i) => i));
    expect(ring.pending).toBe(0);
  });

  it('3,000 reads at distinct offsets through a 2-entry SQ: every one gets its own bytes, in order', async () => {
    const path = join(dir, 'bp.bin');
    const size = 3000 * 16;
    const data = Buffer.alloc(size);
    for (let i = 0; i < 3000; i++) data.write(String(i).padStart(16, '.'), i * 16);
    writeFileSync(path, data);
    const fd = openSync(path, 'r');
    try {
      await using ring = new AsyncIoUring({ entries: 2, maxInFlight: 3 });
      const order: number[] = [];
      const bufs = Array.from({ length: 3000 }, () => Buffer.alloc(16));
      const reads = bufs.map((b, i) => ring.read(fd, b, i * 16).then((n) => (order.push(i), n)));
      expect(await Promise.all(reads)).toEqual(new Array(3000).fill(16));
      bufs.forEach((b, i) => expect(b.toString()).toBe(String(i).padStart(16, '.')));
      expect(order).toEqual(Array.from({ length: 3000 }, (_, i) => i));
    } finally {
      closeSync(fd);
    }
  });

  it('with every slot held by blocked reads, 2,000 more ops wait in JS, then all run once room frees', async () => {
    await using ring = new AsyncIoUring({ entries: 4, maxInFlight: 4 });
    const pipes = await Promise.all([0, 1, 2, 3].map(() => pipe()));
    try {
      const blocked = pipes.map(([r]) => ring.read(r, Buffer.alloc(1)));
      await sleep(10);
      expect(ring.ring.inFlight).toBe(4);
      const later: Promise<unknown>[] = [];
      for (let i = 0; i < 2000; i++) later.push(i % 2 === 0 ? ring.nop() : ring.timeout(0));
      await sleep(20);
      expect(ring.waiting).toBe(2000); // nothing failed for lack of room, nothing ran yet
      expect(ring.ring.inFlight).toBe(4);
      for (const [, w] of pipes) writeSync(w, 'x');
      expect(await Promise.all(blocked)).toEqual([1, 1, 1, 1]);
      const done = await Promise.all(later);
      expect(done).toHaveLength(2000);
      expect(ring.pending).toBe(0);
    } finally {
      for (const [r, w] of pipes) {
        closeSync(r);
        closeSync(w);
      }
    }
  });

  it('ops whose arguments fail only when their turn comes reject alone; the rest still run', async () => {
    await using ring = new AsyncIoUring({ entries: 2, maxInFlight: 2 });
    const results = await Promise.allSettled(
      Array.from({ length: 100 }, (_, i) =>
        i % 10 === 5
          ? ring.submit(() => {
              throw new RangeError(`bad ${i}`);
            })
          : ring.nop(),
      ),
    );
    results.forEach((r, i) => {
      if (i % 10 === 5) expect(r).toMatchObject({ status: 'rejected', reason: { message: `bad ${i}` } });
      else expect(r).toEqual({ status: 'fulfilled', value: 0 });
    });
  });
});
