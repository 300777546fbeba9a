/**
 * What only a whole process shows: whether a waker keeps it alive, lets it exit, crashes
 * it, and how it behaves inside Workers. Each case runs in a fresh child process.
 */
import { describe, expect, it } from 'vitest';
import type { WakerBackend } from '../../src/loop/waker.js';
import { lastJson, runChild } from '../support/child.js';

const BACKENDS: WakerBackend[] = ['uv', 'koffi', 'threadpool'];

const PRELUDE = `
import { createWaker } from '@repo/src/loop/waker.js';
import { createRawRing } from '@repo/test/sys/raw-ring.js';
const t0 = performance.now();
function wire(backend, onCqes) {
  const ring = createRawRing(8);
  const waker = createWaker(ring.fd, () => { const c = ring.reap(); if (c.length) onCqes(c, ring, waker); }, { backend });
  if (waker.eventfd >= 0) ring.registerEventfd(waker.eventfd);
  return { ring, waker };
}
`;

describe.each(BACKENDS)('%s backend in a process', (backend) => {
  it('a referenced waker keeps the process alive until the completion, and unref lets it exit when idle', async () => {
    const r = await runChild(`${PRELUDE}
const { ring, waker } = wire('${backend}', (cqes, ring, waker) => {
  console.log(JSON.stringify({ res: cqes[0].res, at: Math.round(performance.now() - t0) }));
  waker.unref(); // nothing in flight any more; the ring and waker stay open
});
waker.arm();
ring.timeout(400, 1);
`);
    expect(r.timedOut).toBe(false);
    expect(r.signal).toBeNull();
    expect(r.code).toBe(0);
    const out = lastJson<{ res: number; at: number }>(r);
    expect(out.res).toBe(-62); // -ETIME: it really waited for the kernel's timeout
    expect(out.at).toBeGreaterThanOrEqual(380);
  });

  it('an unreferenced waker does not keep the process alive while a completion is pending', async () => {
    const r = await runChild(`${PRELUDE}
const { ring, waker } = wire('${backend}', () => console.log('completed'));
waker.arm();
waker.unref();
ring.timeout(3_600_000, 1); // an hour: only a process that does not wait for it can exit
process.on('exit', () => console.log(JSON.stringify({ exitAt: Math.round(performance.now() - t0) })));
`);
    expect(r.timedOut).toBe(false);
    expect(r.code).toBe(0);
    expect(r.stdout).not.toContain('completed');
    expect(lastJson<{ exitAt: number }>(r).exitAt).toBeGreaterThanOrEqual(0);
  });

  it('an exception thrown by onReady ends the process like any uncaught exception', async () => {
    const r = await runChild(`${PRELUDE}
const { ring, waker } = wire('${backend}', () => { throw new Error('boom from onReady'); });
waker.arm();
ring.nop(1);
`);
    expect(r.timedOut).toBe(false);
    expect(r.signal).toBeNull();
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('Error: boom from onReady');
  });

  it('process.exit() while armed and referenced exits at once', async () => {
    const r = await runChild(`${PRELUDE}
const { ring, waker } = wire('${backend}', () => {});
waker.arm();
ring.timeout(3_600_000, 1); // an hour: exiting at all shows process.exit() did not wait for it
setTimeout(() => process.exit(0), 50);
`);
    expect(r.timedOut).toBe(false);
    expect(r.code).toBe(0);
  });
});

// Workers: Node 20 does not apply --import hooks to a Worker's entry module, so the
// entry is plain JS that registers tsx and then imports the TypeScript body.
const WORKER_ENTRY = `
import { register } from '@repo/node_modules/tsx/dist/esm/api/index.mjs';
register();
await import('./worker.mts');
`;

const WORKER_BODY = `
import { parentPort, workerData } from 'node:worker_threads';
import { createWaker, defaultWakerBackend } from '@repo/src/loop/waker.js';
import { createRawRing } from '@repo/test/sys/raw-ring.js';
const { backend, scenario } = workerData;
const report = (m) => parentPort.postMessage(m);
let forcedUv = 'no error';
try { createWaker(0, () => {}, { backend: 'uv' }); } catch (e) { forcedUv = e.message; }
const ring = createRawRing(8);
let resolveDone;
const done = new Promise((r) => (resolveDone = r));
const waker = createWaker(ring.fd, () => { const c = ring.reap(); if (c.length) resolveDone(c); }, backend ? { backend } : {});
if (waker.eventfd >= 0) ring.registerEventfd(waker.eventfd);
waker.arm();
if (scenario === 'complete') {
  ring.nop(77);
  const cqes = await done; // the continuation runs inside the Worker
  report({ kind: 'result', backend: waker.backend, auto: defaultWakerBackend(), userData: cqes[0].userData, forcedUv });
  waker.close();
  ring.close();
} else if (scenario === 'terminate') {
  ring.timeout(3_600_000, 1); // an hour: terminate() ending the Worker at all shows it did not wait
  setInterval(() => {}, 1000); // something else keeps the Worker alive, as in real code
  // A pending threadpool read would hold up terminate() until the next completion
  // (documented): close that waker first. The poll backends need nothing.
  if (waker.backend === 'threadpool') waker.close();
  report({ kind: 'armed', backend: waker.backend });
} else if (scenario === 'terminate-pending') {
  ring.timeout(700, 1);
  setInterval(() => {}, 1000);
  report({ kind: 'armed', backend: waker.backend });
} else if (scenario === 'exit') {
  ring.timeout(3_600_000, 1); // an hour, as above
  report({ kind: 'armed', backend: waker.backend });
  parentPort.on('message', () => process.exit(5));
}
`;

type Scenario = 'complete' | 'terminate' | 'terminate-pending' | 'exit';

function workerMain(backend: WakerBackend | '', scenario: Scenario): string {
  return `
import { Worker } from 'node:worker_threads';
const w = new Worker(new URL('./worker-entry.mjs', import.meta.url), { workerData: { backend: ${JSON.stringify(backend)}, scenario: '${scenario}' } });
const t0 = performance.now();
const out = { messages: [] };
w.on('message', (m) => {
  out.messages.push(m);
  if (m.kind === 'armed') {
    if ('${scenario}'.startsWith('terminate')) setTimeout(() => { const t = performance.now(); w.terminate().then(() => { out.terminateMs = Math.round(performance.now() - t); }); }, 50);
    else { out.exitAsked = performance.now(); w.postMessage('exit'); }
  }
});
w.on('error', (e) => { out.error = String(e); });
w.on('exit', (code) => {
  out.exitCode = code;
  if (out.exitAsked) out.exitMs = Math.round(performance.now() - out.exitAsked);
  setImmediate(() => console.log(JSON.stringify(out)));
});
`;
}

interface WorkerOut {
  messages: Array<{ kind: string; backend: string; auto?: { backend: string }; userData?: number; forcedUv?: string }>;
  error?: string;
  exitCode: number;
  terminateMs?: number;
  exitMs?: number;
}

async function runWorker(backend: WakerBackend | '', scenario: Scenario): Promise<WorkerOut> {
  const r = await runChild(workerMain(backend, scenario), { files: { 'worker-entry.mjs': WORKER_ENTRY, 'worker.mts': WORKER_BODY } });
  expect(r.timedOut, r.stderr).toBe(false);
  // A uv handle left open at Worker teardown aborts the process (SIGABRT); a close
  // callback into unloaded code crashes it (SIGSEGV). Neither may happen.
  expect(r.signal, r.stderr).toBeNull();
  expect(r.code, r.stderr).toBe(0);
  return lastJson<WorkerOut>(r);
}

describe('inside a Worker', () => {
  it("defaults to the 'koffi' backend, refuses 'uv', and completions resolve promises in the Worker", async () => {
    const out = await runWorker('', 'complete');
    expect(out.error).toBeUndefined();
    const result = out.messages.find((m) => m.kind === 'result');
    expect(result?.backend).toBe('koffi');
    expect(result?.auto?.backend).toBe('koffi');
    expect(result?.userData).toBe(77);
    expect(result?.forcedUv).toMatch(/waker backend 'uv' is unavailable: in a Worker/);
  });

  it('the threadpool fallback works in a Worker', async () => {
    const out = await runWorker('threadpool', 'complete');
    expect(out.messages.find((m) => m.kind === 'result')?.userData).toBe(77);
  });

  it.each(['koffi', 'threadpool'] as const)('%s: worker.terminate() ends the Worker cleanly and at once (threadpool: after close())', async (backend) => {
    const out = await runWorker(backend, 'terminate');
    expect(out.messages[0]?.backend).toBe(backend);
    expect(out.exitCode).toBe(1); // what terminate() reports
    expect(out.terminateMs).toBeGreaterThanOrEqual(0); // it ended, before the hour-long timeout (the child would be killed as hung)
  });

  it('threadpool, documented limit: terminate() with a read pending waits for the next completion', async () => {
    const out = await runWorker('threadpool', 'terminate-pending');
    expect(out.exitCode).toBe(1);
    // Asked at ~50 ms, the 700 ms timeout completes the read, then the Worker ends.
    expect(out.terminateMs).toBeGreaterThanOrEqual(400);
  });

  it.each(['koffi', 'threadpool'] as const)('%s: process.exit() in the Worker while armed ends it at once', async (backend) => {
    const out = await runWorker(backend, 'exit');
    expect(out.exitCode).toBe(5);
    expect(out.exitMs).toBeGreaterThanOrEqual(0); // it exited, before the hour-long timeout
  });
});
