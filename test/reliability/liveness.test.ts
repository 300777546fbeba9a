/**
 * Liveness (issue 12 §2): memory the kernel will write stays alive, and rings end cleanly
 * however their owner goes away. Every scenario runs in its own process (`--expose-gc`),
 * counting io_uring descriptors (`anon_inode:[io_uring]`) before and after, with canaries
 * (fresh allocations filled with a pattern) checked after the kernel had its chance to
 * write somewhere it should not.
 *
 * - A raw `IoUring` dropped with reads in flight: collected, its core closed by the
 *   FinalizationRegistry (cancel + drain, a TSURING_RING_COLLECTED warning); the reads'
 *   buffers were kept until then; the pipe still holds what is written afterwards.
 * - An idle dropped ring: its fd and memory are released on GC, with the warning.
 * - Workers with an AsyncIoUring (and a raw ring) open, ended every way: natural end,
 *   `process.exit()`, `worker.terminate()` while idle and while a read waits on a pipe:
 *   the process never aborts, every ring fd is closed, nothing is written after the end.
 * - SQPOLL inside a Worker: refused with a clear error.
 */
import { describe, expect, it } from 'vitest';
import { describeExit, lastJson, runChild } from '../support/child.js';

const COMMON = String.raw`
import { readdirSync, readlinkSync } from 'node:fs';
const ringFds = () => readdirSync('/proc/self/fd').filter((f) => { try { return readlinkSync('/proc/self/fd/' + f).includes('io_uring'); } catch { return false; } }).length;
const canaries = () => Array.from({ length: 64 }, () => new Uint8Array(64).fill(0x5a));
const intact = (cs) => cs.every((c) => c.every((b) => b === 0x5a));
const settle = async () => { for (let i = 0; i < 5; i++) { globalThis.gc(); await new Promise((r) => setTimeout(r, 20)); } };
`;

const DROPPED_RAW = COMMON + String.raw`
import { readSync, writeSync } from 'node:fs';
import { IoUring, prepRead } from '@repo/src/index.js';
import { pipe2Sync } from '@repo/src/sys/posix.js';
const warnings = [];
process.on('warning', (w) => warnings.push(w.code));
const before = ringFds();
const [pr, pw] = pipe2Sync(0o2000000 | 0o4000);
(() => {
  // Reads in flight, the ring and the buffers referenced by nobody but the library.
  const ring = new IoUring({ entries: 8 });
  for (let i = 0; i < 4; i++) prepRead(ring.getSqe(), pr, new Uint8Array(256), 256, -1);
  ring.submit();
})();
(() => { new IoUring({ entries: 8 }); })(); // an idle one, dropped too
await settle();
const cs = canaries();
writeSync(pw, Buffer.alloc(300, 0x61));
await settle();
const back = Buffer.alloc(1024);
const n = readSync(pr, back, 0, 1024, null);
console.log(JSON.stringify({ before, after: ringFds(), canariesIntact: intact(cs), pipeKept: n, collected: warnings.filter((c) => c === 'TSURING_RING_COLLECTED').length }));
`;

/** A Worker scenario: `mode` chooses how the Worker ends; the main thread reports. */
const WORKER_MAIN = COMMON + String.raw`
import { Worker } from 'node:worker_threads';
import { writeSync } from 'node:fs';
import { pipe2Sync } from '@repo/src/sys/posix.js';
const mode = process.env.MODE;
const before = ringFds();
const [pr, pw] = pipe2Sync(0o2000000 | 0o4000);
const w = new Worker(new URL('./worker-entry.mjs', import.meta.url), { workerData: { mode, pr } });
const events = [];
w.on('message', (m) => {
  events.push(m);
  if (m === 'ready' && mode.startsWith('terminate')) setTimeout(() => w.terminate(), mode === 'terminate-busy' ? 30 : 0);
});
w.on('error', (e) => events.push('error:' + (e.code ?? e.message)));
const exitCode = await new Promise((r) => w.on('exit', r));
const cs = canaries();
writeSync(pw, Buffer.alloc(200, 0x61)); // would complete a read still armed after the Worker ended
await settle();
console.log(JSON.stringify({ mode, exitCode, events, before, after: ringFds(), canariesIntact: intact(cs) }));
`;

const WORKER_BODY = String.raw`
import { parentPort, workerData } from 'node:worker_threads';
import { AsyncIoUring, IoUring, prepRead } from '@repo/src/index.js';
const { mode, pr } = workerData;
if (mode === 'sqpoll') {
  try { new IoUring({ sqPoll: true }); parentPort.postMessage('created'); } catch (e) { parentPort.postMessage('refused:' + e.code + ':' + /Worker/.test(e.message)); }
} else {
  const r = new AsyncIoUring({ entries: 8 });
  await r.nop();
  const raw = new IoUring({ entries: 8 });
  if (mode.endsWith('inflight')) {
    r.read(pr, new Uint8Array(64), -1).catch(() => {});
    prepRead(raw.getSqe(), pr, new Uint8Array(64), 64, -1);
    raw.submit();
    await new Promise((res) => setTimeout(res, 20));
  }
  parentPort.postMessage('ready');
  if (mode.startsWith('exit')) process.exit(0); // with whatever is in flight
  if (mode === 'terminate-busy') await new Promise((res) => setTimeout(res, 30));
  if (mode === 'terminate-busy') {
    // Completions keep arriving while the Worker is torn down (the case that aborted the
    // process with koffi's poll waker).
    for (;;) await r.timeout(1);
  }
  if (mode.startsWith('terminate')) setInterval(() => {}, 1000); // stays until terminated
  // 'natural': returns; the Worker ends when its loop is empty (the idle ring keeps nothing alive).
}
`;

function workerFiles(): Record<string, string> {
  return {
    // Node 20 does not apply --import hooks to a Worker's entry: register tsx first.
    'worker-entry.mjs': `import { register } from '@repo/node_modules/tsx/dist/esm/api/index.mjs';\nregister();\nawait import('./worker.mts');\n`,
    'worker.mts': WORKER_BODY,
  };
}

describe('liveness', () => {
  it('a raw ring dropped with reads in flight, and an idle one: closed on GC, buffers kept until then, fds released', async () => {
    const r = await runChild(DROPPED_RAW, { nodeArgs: ['--expose-gc'], timeoutMs: 60_000 });
    expect(r.code, describeExit(r)).toBe(0);
    const out = lastJson<{ before: number; after: number; canariesIntact: boolean; pipeKept: number; collected: number }>(r);
    expect(out.after).toBe(out.before);
    expect(out.canariesIntact).toBe(true);
    // The cancelled reads consumed nothing: all 300 bytes are still in the pipe.
    expect(out.pipeKept).toBe(300);
    expect(out.collected).toBe(2);
  });

  for (const mode of ['natural', 'exit', 'exit-inflight', 'terminate-idle', 'terminate-inflight', 'terminate-busy']) {
    it(`a Worker with an AsyncIoUring and a raw ring open, ${mode}: no abort, every ring fd closed, nothing written afterwards`, async () => {
      const r = await runChild(WORKER_MAIN, { nodeArgs: ['--expose-gc'], env: { MODE: mode }, files: workerFiles(), timeoutMs: 60_000 });
      expect(r.signal, r.stderr).toBeNull();
      expect(r.stderr).not.toMatch(/FATAL ERROR/);
      expect(r.code, describeExit(r)).toBe(0);
      const out = lastJson<{ exitCode: number; events: string[]; before: number; after: number; canariesIntact: boolean }>(r);
      expect(out.events).toContain('ready');
      expect(out.events.filter((e) => e.startsWith('error:'))).toEqual([]);
      expect(out.after).toBe(out.before);
      expect(out.canariesIntact).toBe(true);
    });
  }

  it('SQPOLL inside a Worker is refused with a clear error', async () => {
    const r = await runChild(WORKER_MAIN, { nodeArgs: ['--expose-gc'], env: { MODE: 'sqpoll' }, files: workerFiles(), timeoutMs: 60_000 });
    expect(r.code, describeExit(r)).toBe(0);
    const out = lastJson<{ events: string[] }>(r);
    expect(out.events).toEqual(['refused:ERR_INVALID_ARG_VALUE:true']);
  });
});
