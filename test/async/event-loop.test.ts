/**
 * The Promise API on Node's event loop: thousands of concurrent reads byte-exact, the loop
 * responsive with 10,000 ops in flight, the process exiting by itself when idle (and not
 * while an op is pending), both waker paths (threadpool fallback, Worker threads), and
 * close with work in flight.
 */
import { randomBytes } from 'node:crypto';
import { closeSync, openSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AsyncIoUring } from '../../src/async/async-ring.js';
import { lastJson, runChild } from '../support/child.js';
import { pipe, sleep, tempDir } from './helpers.js';

let dir: string;
let cleanup: () => void;
let bigPath: string;
let big: Buffer;
beforeAll(() => {
  ({ dir, cleanup } = tempDir());
  bigPath = join(dir, 'big.bin');
  big = randomBytes(64 * 1024 * 1024);
  writeFileSync(bigPath, big);
});
afterAll(() => cleanup());

describe('on the event loop', () => {
  it('5,000 concurrent random 4 KiB reads of a 64 MiB file match it byte for byte', async () => {
    await using ring = new AsyncIoUring({ entries: 256 });
    const fd = openSync(bigPath, 'r');
    try {
      const n = 5000;
      const blocks = big.length / 4096;
      const offsets = Array.from({ length: n }, () => Math.floor(Math.random() * blocks) * 4096);
      // Unaligned ones too.
      for (let i = 0; i < 200; i++) offsets[i] = Math.floor(Math.random() * (big.length - 4096));
      const bufs = offsets.map(() => Buffer.allocUnsafe(4096));
      const counts = await Promise.all(offsets.map((off, i) => ring.read(fd, bufs[i]!, off)));
      expect(counts.every((c) => c === 4096)).toBe(true);
      let bad = 0;
      for (let i = 0; i < n; i++) if (!bufs[i]!.equals(big.subarray(offsets[i]!, offsets[i]! + 4096))) bad++;
      expect(bad).toBe(0);
    } finally {
      closeSync(fd);
    }
  });

  it('stays responsive with 10,000 timeouts in flight: setImmediate ticks between their completions', async () => {
    await using ring = new AsyncIoUring({ entries: 4096, cqEntries: 16384 });
    expect(ring.ring.params.maxInFlight).toBeGreaterThanOrEqual(10_000);
    const n = 10_000;
    let ticks = 0;
    let completed = 0;
    let running = true;
    /** Completed count seen at each immediate tick. */
    const seenAtTick: number[] = [];
    const tick = (): void => {
      ticks++;
      seenAtTick.push(completed);
      if (running) setImmediate(tick);
    };
    setImmediate(tick);
    const t0 = performance.now();
    // Expiries spread over 200–600 ms: all 10,000 are in flight at once, then complete gradually.
    const ops = Array.from({ length: n }, (_, i) => ring.timeout(200 + (i * 400) / n).then(() => void completed++));
    await Promise.resolve(); // the batch's flush (queued by the first op) runs first
    expect(ring.ring.inFlight).toBe(n);
    await Promise.all(ops);
    running = false;
    const elapsed = performance.now() - t0;
    expect(completed).toBe(n);
    expect(elapsed).toBeGreaterThanOrEqual(580);
    // The loop kept turning: many ticks, and they saw the count grow in many small steps.
    const distinct = new Set(seenAtTick.filter((c) => c > 0 && c < n));
    expect(ticks).toBeGreaterThan(50);
    expect(distinct.size).toBeGreaterThan(20);
  });

  it('ops that complete inline (page-cache reads awaited in a loop) still let the loop turn', async () => {
    await using ring = new AsyncIoUring({ entries: 256 });
    const fd = openSync(bigPath, 'r');
    try {
      let ticks = 0;
      let running = true;
      const tick = (): void => {
        ticks++;
        if (running) setImmediate(tick);
      };
      setImmediate(tick);
      let next = 0;
      const n = 60_000;
      await Promise.all(
        Array.from({ length: 128 }, async () => {
          const b = Buffer.allocUnsafe(4096);
          while (next < n) {
            next++;
            await ring.read(fd, b, (next % 16000) * 4096);
          }
        }),
      );
      running = false;
      // 60,000 reads are ~470 batches of 128: without a turn every 64 batches this stays 0.
      expect(ticks).toBeGreaterThanOrEqual(5);
    } finally {
      closeSync(fd);
    }
  });

  it('close() with reads pending on pipes: they reject with ECANCELED, the ring closes, nothing hangs', async () => {
    const ring = new AsyncIoUring({ entries: 16 });
    const pipes = await Promise.all(Array.from({ length: 8 }, () => pipe(ring)));
    try {
      const reads = pipes.map(([r]) => ring.read(r, Buffer.alloc(16)));
      const timer = ring.timeout(60_000);
      await sleep(10);
      expect(ring.ring.inFlight).toBe(9);
      const t0 = performance.now();
      await ring.close();
      expect(performance.now() - t0).toBeLessThan(2000);
      for (const r of await Promise.allSettled(reads)) expect(r).toMatchObject({ status: 'rejected', reason: { code: 'ECANCELED', syscall: 'read' } });
      await expect(timer).rejects.toMatchObject({ code: 'ECANCELED' });
      expect(ring.ring.closed).toBe(true);
      await expect(ring.nop()).rejects.toMatchObject({ code: 'ERR_RING_CLOSED' });
      await ring.close(); // idempotent
    } finally {
      for (const [r, w] of pipes) {
        closeSync(r);
        closeSync(w);
      }
    }
  });
});

describe('whole processes', () => {
  it('exits by itself when idle: a ring that did one read and was never closed does not hold the process', async () => {
    const r = await runChild(`
import { openSync } from 'node:fs';
import { AsyncIoUring } from '@repo/src/async/async-ring.js';
const ring = new AsyncIoUring();
const buf = Buffer.alloc(16);
const n = await ring.read(openSync('package.json', 'r'), buf, 0);
console.log(JSON.stringify({ n, text: buf.toString('utf8', 0, n) }));
`);
    expect(r.timedOut, r.stderr).toBe(false);
    expect(r.code, r.stderr).toBe(0);
    expect(r.ms).toBeLessThan(5000);
    expect(lastJson<{ n: number }>(r).n).toBe(16);
  });

  it('stays alive while an op is in flight: a 300 ms timeout is awaited and the line after it printed', async () => {
    const r = await runChild(`
import { AsyncIoUring } from '@repo/src/async/async-ring.js';
const ring = new AsyncIoUring();
const t0 = performance.now();
await ring.timeout(300);
console.log(JSON.stringify({ after: Math.round(performance.now() - t0) }));
`);
    expect(r.timedOut, r.stderr).toBe(false);
    expect(r.code, r.stderr).toBe(0);
    expect(lastJson<{ after: number }>(r).after).toBeGreaterThanOrEqual(290);
  });

  it('also with multishot: an accept iterator keeps it alive, and a finished one does not', async () => {
    const r = await runChild(`
import { AsyncIoUring } from '@repo/src/async/async-ring.js';
const ring = new AsyncIoUring();
const [rfd, wfd] = await ring.pipe();
const it = ring.pollMultishot(rfd, 1);
setTimeout(() => { import('node:fs').then((fs) => fs.writeSync(wfd, 'x')); }, 200);
const t0 = performance.now();
for await (const ev of it) { console.log(JSON.stringify({ ev, at: Math.round(performance.now() - t0) })); break; }
`);
    expect(r.timedOut, r.stderr).toBe(false);
    expect(r.code, r.stderr).toBe(0);
    expect(r.ms).toBeLessThan(5000);
    expect(lastJson<{ ev: number; at: number }>(r)).toMatchObject({ ev: 1 });
  });
});

const WAKER_SUBSET = `
import { openSync, writeFileSync, readFileSync, writeSync } from 'node:fs';
import { AsyncIoUring } from '@repo/src/async/async-ring.js';
import { readFile, writeFile } from '@repo/src/fs/index.js';
export async function subset(dir) {
  const ring = new AsyncIoUring({ entries: 32 });
  const out = { backend: ring.wakerBackend };
  const path = dir + '/subset.bin';
  const data = Buffer.alloc(300000); for (let i = 0; i < data.length; i++) data[i] = (i * 13) & 255;
  await writeFile(ring, path, data);
  out.readBack = (await readFile(ring, path)).equals(data);
  const fd = openSync(path, 'r');
  const bufs = Array.from({ length: 200 }, () => Buffer.alloc(1000));
  await Promise.all(bufs.map((b, i) => ring.read(fd, b, i * 1000)));
  out.reads = bufs.every((b, i) => b.equals(data.subarray(i * 1000, i * 1000 + 1000)));
  const t0 = performance.now();
  await ring.timeout(50);
  out.timeoutMs = Math.round(performance.now() - t0);
  const [r, w] = await ring.pipe();
  const pending = ring.read(r, Buffer.alloc(4));
  setTimeout(() => writeSync(w, 'late'), 30);
  out.pipe = await pending;
  const blocked = ring.read(r, Buffer.alloc(4));
  await ring.close();
  out.closed = await blocked.then(() => 'resolved', (e) => e.code);
  return out;
}
`;

describe('waker paths', () => {
  it('TSURING_WAKER=threadpool: reads, file helpers, a timeout, a pipe wake-up and close', async () => {
    const r = await runChild(
      `
import { subset } from './subset.mts';
console.log(JSON.stringify(await subset(${JSON.stringify(dir)})));
`,
      { env: { TSURING_WAKER: 'threadpool' }, files: { 'subset.mts': WAKER_SUBSET } },
    );
    expect(r.timedOut, r.stderr).toBe(false);
    expect(r.code, r.stderr).toBe(0);
    const out = lastJson<Record<string, unknown>>(r);
    expect(out).toMatchObject({ backend: 'threadpool', readBack: true, reads: true, pipe: 4, closed: 'ECANCELED' });
    expect(out.timeoutMs).toBeGreaterThanOrEqual(45);
  });

  it('inside a worker_threads Worker (threadpool waker by default there), the same subset', async () => {
    const r = await runChild(
      `
import { Worker } from 'node:worker_threads';
const w = new Worker(new URL('./worker-entry.mjs', import.meta.url));
w.on('message', (m) => console.log(JSON.stringify(m)));
w.on('error', (e) => { console.error(e); process.exitCode = 3; });
`,
      {
        files: {
          // Node 20 does not apply --import hooks to a Worker's entry: register tsx first.
          'worker-entry.mjs': `
import { register } from '@repo/node_modules/tsx/dist/esm/api/index.mjs';
register();
await import('./worker.mts');
`,
          'worker.mts': `
import { parentPort } from 'node:worker_threads';
import { subset } from './subset.mts';
parentPort.postMessage(await subset(${JSON.stringify(dir)}));
`,
          'subset.mts': WAKER_SUBSET,
        },
      },
    );
    expect(r.timedOut, r.stderr).toBe(false);
    expect(r.signal, r.stderr).toBeNull();
    expect(r.code, r.stderr).toBe(0);
    const out = lastJson<Record<string, unknown>>(r);
    expect(out).toMatchObject({ backend: 'threadpool', readBack: true, reads: true, pipe: 4, closed: 'ECANCELED' });
  });
});
