/**
 * Cancellation with AbortSignal at every stage (before submit, in the kernel, after
 * completion, while waiting for room), descriptors made by an op that won the race with its
 * cancel, and buffer lifetime across GC while the kernel holds them.
 */
import { getEventListeners } from 'node:events';
import { closeSync, readdirSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { AbortError, AsyncIoUring } from '../../src/async/async-ring.js';
import { lastJson, runChild } from '../support/child.js';
import { isOpen, pipe, sleep, tempDir, until } from './helpers.js';

let ring: AsyncIoUring;
let dir: string;
let cleanup: () => void;
beforeAll(() => ({ dir, cleanup } = tempDir()));
afterAll(() => cleanup());
beforeEach(() => {
  ring = new AsyncIoUring({ entries: 16 });
});
afterEach(async () => {
  await ring.close();
});

function openFds(): number[] {
  return readdirSync('/proc/self/fd').map(Number).filter(isOpen).sort((a, b) => a - b);
}

describe('AbortSignal', () => {
  it('already aborted: rejects at once with AbortError (reason as cause) and stages nothing', async () => {
    const ac = new AbortController();
    ac.abort('why');
    const p = ring.read(0, Buffer.alloc(4), 0, { signal: ac.signal });
    expect(ring.ring.staged).toBe(0);
    expect(ring.pending).toBe(0);
    const err = await p.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AbortError);
    expect(err).toMatchObject({ name: 'AbortError', code: 'ABORT_ERR', cause: 'why' });
    for (const op of [ring.nop({ signal: ac.signal }), ring.timeout(10, { signal: ac.signal }), ring.open('/x', 'r', 0, { signal: ac.signal }), ring.stat('/', { signal: ac.signal })]) {
      await expect(op).rejects.toBeInstanceOf(AbortError);
    }
    expect(ring.pending).toBe(0);
  });

  it('after submit: a read blocked on a pipe is cancelled in the kernel; the data it would have read stays in the pipe', async () => {
    const [r, w] = await pipe();
    try {
      const ac = new AbortController();
      const buf = Buffer.alloc(8);
      const p = ring.read(r, buf, -1, { signal: ac.signal });
      await sleep(20);
      expect(ring.ring.inFlight).toBe(1);
      ac.abort(new Error('stop'));
      const err = await p.catch((e: unknown) => e);
      expect(err).toBeInstanceOf(AbortError);
      expect((err as AbortError).cause).toMatchObject({ message: 'stop' });
      await until(() => ring.pending === 0, 2000, 'the cancel to complete');
      expect(getEventListeners(ac.signal, 'abort')).toHaveLength(0);
      writeSync(w, 'intact');
      const again = Buffer.alloc(8);
      expect(again.toString('utf8', 0, await ring.read(r, again))).toBe('intact');
      expect(buf.every((b) => b === 0)).toBe(true);
      // A timeout and a poll cancel the same way.
      const ac2 = new AbortController();
      const t = ring.timeout(10_000, { signal: ac2.signal });
      const pl = ring.poll(r, 1, { signal: ac2.signal });
      await sleep(10);
      ac2.abort();
      await expect(t).rejects.toBeInstanceOf(AbortError);
      await expect(pl).rejects.toBeInstanceOf(AbortError);
    } finally {
      closeSync(r);
      closeSync(w);
    }
  });

  it('after completion: aborting does nothing, and the listener was removed', async () => {
    const ac = new AbortController();
    expect(await ring.nop({ signal: ac.signal })).toBe(0);
    expect(getEventListeners(ac.signal, 'abort')).toHaveLength(0);
    const warnings: unknown[] = [];
    const onWarning = (w: unknown): void => void warnings.push(w);
    process.on('warning', onWarning);
    ac.abort();
    await sleep(10);
    process.off('warning', onWarning);
    expect(warnings).toEqual([]);
    expect(ring.pending).toBe(0);
  });

  it('while waiting for room (backpressure): removed from the queue, never submitted', async () => {
    await ring.close();
    ring = new AsyncIoUring({ entries: 4, maxInFlight: 2 });
    const [r, w] = await pipe();
    try {
      const blockers = [ring.read(r, Buffer.alloc(1)), ring.read(r, Buffer.alloc(1))];
      await sleep(5);
      expect(ring.ring.inFlight).toBe(2);
      const ac = new AbortController();
      const victim = Buffer.alloc(4);
      const queued = ring.read(r, victim, -1, { signal: ac.signal });
      const after = ring.nop();
      expect(ring.waiting).toBe(2);
      ac.abort();
      await expect(queued).rejects.toBeInstanceOf(AbortError);
      expect(ring.waiting).toBe(1);
      writeSync(w, 'ab');
      expect(await Promise.all(blockers)).toEqual([1, 1]);
      expect(await after).toBe(0);
      writeSync(w, 'cdef');
      await sleep(10);
      expect(victim.every((b) => b === 0)).toBe(true); // it never ran
      const rest = Buffer.alloc(4);
      expect(rest.toString('utf8', 0, await ring.read(r, rest))).toBe('cdef');
    } finally {
      closeSync(r);
      closeSync(w);
    }
  });

  it('every slot taken by idle pipe reads: an abort still takes effect at once (cancels never wait for room)', async () => {
    await ring.close();
    ring = new AsyncIoUring({ entries: 4, maxInFlight: 2 });
    const [r, w] = await pipe();
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown): void => {
      unhandled.push(reason);
    };
    process.on('unhandledRejection', onUnhandled);
    try {
      const ac = new AbortController();
      const first = ring.read(r, Buffer.alloc(1), -1, { signal: ac.signal });
      const second = ring.read(r, Buffer.alloc(1));
      const third = ring.read(r, Buffer.alloc(1), -1, { signal: ac.signal }); // waits for room
      await sleep(5);
      expect(ring.ring.inFlight).toBe(2);
      expect(ring.waiting).toBe(1);
      // Both slots are taken and nothing will ever complete by itself: the cancel cannot
      // wait for room (it would wait forever). It goes through IORING_REGISTER_SYNC_CANCEL.
      const aborted = Promise.allSettled([first, third]);
      ac.abort();
      for (const outcome of await aborted) expect(outcome).toMatchObject({ status: 'rejected', reason: expect.any(AbortError) });
      expect(ring.waiting).toBe(0);
      // The unaborted read is untouched and still gets its byte.
      writeSync(w, 'a');
      expect(await second).toBe(1);
      await until(() => ring.pending === 0, 2000, 'the ring to settle');
      await sleep(20); // unhandled rejections are reported after a macrotask
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', onUnhandled);
      closeSync(r);
      closeSync(w);
    }
  });

  it('1,000 ops on one signal with 128 in flight: all reject with AbortError, one listener, no MaxListenersExceededWarning', async () => {
    await ring.close();
    ring = new AsyncIoUring({ entries: 64, maxInFlight: 128 });
    const [r, w] = await pipe();
    const warnings: Error[] = [];
    const onWarning = (w: Error): void => {
      warnings.push(w);
    };
    process.on('warning', onWarning);
    try {
      const ac = new AbortController();
      const ops = Array.from({ length: 1000 }, () => ring.read(r, Buffer.alloc(1), -1, { signal: ac.signal }));
      await sleep(10);
      expect(ring.ring.inFlight).toBe(128);
      expect(ring.waiting).toBe(872);
      expect(getEventListeners(ac.signal, 'abort')).toHaveLength(1);
      ac.abort();
      const results = await Promise.allSettled(ops);
      expect(results.filter((x) => x.status === 'rejected' && x.reason instanceof AbortError)).toHaveLength(1000);
      expect(getEventListeners(ac.signal, 'abort')).toHaveLength(0);
      await until(() => ring.pending === 0, 5000, 'every cancel to land');
      await sleep(20);
      expect(warnings.filter((x) => x.name === 'MaxListenersExceededWarning')).toEqual([]);
      // The pipe still holds what is written next: no cancelled read consumed anything.
      writeSync(w, 'x');
      expect(await ring.read(r, Buffer.alloc(1))).toBe(1);
    } finally {
      process.off('warning', onWarning);
      closeSync(r);
      closeSync(w);
    }
  });

  it('signals shared by ops that finish normally: the listener goes with the last one', async () => {
    const ac = new AbortController();
    await Promise.all(Array.from({ length: 50 }, () => ring.nop({ signal: ac.signal })));
    expect(getEventListeners(ac.signal, 'abort')).toHaveLength(0);
    const [r, w] = await pipe();
    try {
      const pending = ring.read(r, Buffer.alloc(1), -1, { signal: ac.signal });
      await ring.nop({ signal: ac.signal });
      expect(getEventListeners(ac.signal, 'abort')).toHaveLength(1); // still one op on it
      writeSync(w, 'z');
      expect(await pending).toBe(1);
      expect(getEventListeners(ac.signal, 'abort')).toHaveLength(0);
    } finally {
      closeSync(r);
      closeSync(w);
    }
  });

  it('an open that completes before its cancel lands is closed: no descriptor leaks', async () => {
    const path = join(dir, 'race.txt');
    writeFileSync(path, 'x');
    const before = openFds();
    for (let i = 0; i < 50; i++) {
      const ac = new AbortController();
      const p = ring.open(path, 'r', 0, { signal: ac.signal });
      ac.abort(); // same turn: the open is staged, its cancel follows it in the same submit
      await expect(p).rejects.toBeInstanceOf(AbortError);
    }
    await until(() => ring.pending === 0, 2000, 'cancels');
    expect(openFds()).toEqual(before);
  });

  it("a pipe an aborted PIPE op made anyway is closed too", async () => {
    const before = openFds();
    for (let i = 0; i < 20; i++) {
      const ac = new AbortController();
      const p = ring.pipe(undefined, { signal: ac.signal });
      ac.abort();
      await expect(p).rejects.toBeInstanceOf(AbortError);
    }
    await until(() => ring.pending === 0, 2000, 'cancels');
    expect(openFds()).toEqual(before);
  });
});

describe('buffer lifetime', () => {
  it('a buffer only the ring references survives GC while a pipe read is pending, and receives the bytes intact', async () => {
    const r = await runChild(`
import v8 from 'node:v8';
import vm from 'node:vm';
import { writeSync, closeSync } from 'node:fs';
import { AsyncIoUring } from '@repo/src/async/async-ring.js';
v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc');
const ring = new AsyncIoUring({ entries: 8 });
const sizes = [32, 4096, 65536, 1000]; // 32 bytes: starts on V8's heap
const pipes = [];
const refs = [];
const reads = [];
for (const size of sizes) {
  const [rfd, wfd] = await ring.pipe();
  pipes.push([rfd, wfd]);
  let buf = new Uint8Array(size);
  refs.push(new WeakRef(buf));
  reads.push(ring.read(rfd, buf)); // the promise is all we keep
  buf = null;
}
for (let round = 0; round < 5; round++) {
  gc();
  const junk = []; for (let k = 0; k < 2000; k++) junk.push(new Uint8Array(1024)); // churn the heap
  await new Promise((r) => setTimeout(r, 5));
}
const alive = refs.map((w) => w.deref() !== undefined);
const payloads = sizes.map((size, p) => { const b = Buffer.alloc(size); for (let i = 0; i < size; i++) b[i] = (i * 7 + p * 13 + 3) & 255; return b; });
pipes.forEach(([, wfd], i) => writeSync(wfd, payloads[i])); // at most 64 KiB: fits an empty pipe
const counts = await Promise.all(reads);
const intact = refs.map((w, i) => { const b = w.deref(); return b !== undefined && counts[i] === sizes[i] && Buffer.from(b.buffer, b.byteOffset, b.byteLength).equals(payloads[i]); });
for (const [a, b] of pipes) { closeSync(a); closeSync(b); }
await ring.close();
console.log(JSON.stringify({ alive, counts, intact }));
`);
    expect(r.timedOut, r.stderr).toBe(false);
    expect(r.code, r.stderr).toBe(0);
    const out = lastJson<{ alive: boolean[]; counts: number[]; intact: boolean[] }>(r);
    expect(out.alive).toEqual([true, true, true, true]);
    expect(out.counts).toEqual([32, 4096, 65536, 1000]);
    expect(out.intact).toEqual([true, true, true, true]);
  });

  it('after completion the ring lets go: the buffer can be collected', async () => {
    const r = await runChild(`
import v8 from 'node:v8';
import vm from 'node:vm';
import { AsyncIoUring } from '@repo/src/async/async-ring.js';
v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc');
const ring = new AsyncIoUring({ entries: 8 });
const [rfd, wfd] = await ring.pipe();
let buf = new Uint8Array(4096);
const ref = new WeakRef(buf);
const p = ring.write(wfd, buf);
buf = null;
await p;
for (let i = 0; i < 5; i++) { gc(); await new Promise((r) => setTimeout(r, 5)); }
console.log(JSON.stringify({ collected: ref.deref() === undefined }));
await ring.close();
`);
    expect(r.code, r.stderr).toBe(0);
    expect(lastJson<{ collected: boolean }>(r).collected).toBe(true);
  });
});
