/**
 * Where io_uring is unavailable, `tsuring/net` is `node:net`: every export is Node's own,
 * `backend` says `'node'`, one warning names the cause, and a server and a client still
 * talk. Tried under a seccomp filter refusing `io_uring_setup` with EPERM (Docker's default
 * profile) and with ENOSYS, and with `TSURING_NET_BACKEND=node` (no warning: a choice).
 */
import { describe, expect, it } from 'vitest';
import { describeExit, lastJson, runChild } from '../support/child.js';
import { seccompSnippet } from '../support/seccomp.js';

/** Imports tsuring/net, echoes once through it, reports what it saw. */
const PROBE = String.raw`
const warnings = [];
process.on('warning', (w) => warnings.push({ code: w.code, message: w.message }));
const net = (await import('@repo/src/node/net/index.js')).default;
const nodeNet = await import('node:net');
const server = net.createServer((s) => s.pipe(s));
await new Promise((r) => server.listen(0, '127.0.0.1', r));
const c = net.connect(server.address().port, '127.0.0.1');
let echoed = '';
c.setEncoding('utf8');
c.on('data', (d) => (echoed += d));
c.end('ping over ' + net.backend);
await new Promise((r) => c.on('close', r));
server.close();
await new Promise((r) => setImmediate(r)); // warnings are emitted on the next tick
console.log(JSON.stringify({
  backend: net.backend,
  reason: net.backendReason ?? null,
  echoed,
  nodeClasses: net.Socket === nodeNet.Socket && net.Server === nodeNet.Server && c instanceof nodeNet.Socket,
  warnings,
}));
`;

interface Probe {
  backend: string;
  reason: string | null;
  echoed: string;
  nodeClasses: boolean;
  warnings: { code: string; message: string }[];
}

describe('tsuring/net falls back to node:net', () => {
  for (const [name, errno] of [['EPERM', 1], ['ENOSYS', 38]] as const) {
    it(`io_uring_setup refused by seccomp with ${name}: node:net's classes, one warning naming the cause, and it works`, async () => {
      const r = await runChild(seccompSnippet(errno) + PROBE, { timeoutMs: 60_000 });
      expect(r.code, describeExit(r)).toBe(0);
      const out = lastJson<Probe>(r);
      expect(out.backend).toBe('node');
      expect(out.nodeClasses).toBe(true);
      expect(out.echoed).toBe('ping over node');
      expect(out.reason).toMatch(new RegExp(name));
      const ours = out.warnings.filter((w) => w.code === 'TSURING_NET_FALLBACK');
      expect(ours).toHaveLength(1);
      expect(ours[0]!.message).toMatch(new RegExp(`io_uring is unavailable \\(.*${name}.*\\); using node:net instead`));
    });
  }

  it('TSURING_NET_BACKEND=node: Node\'s own, without a warning (a choice, not a failure)', async () => {
    const r = await runChild(PROBE, { env: { TSURING_NET_BACKEND: 'node' } });
    expect(r.code, describeExit(r)).toBe(0);
    const out = lastJson<Probe>(r);
    expect(out).toMatchObject({ backend: 'node', reason: 'TSURING_NET_BACKEND=node', echoed: 'ping over node', nodeClasses: true, warnings: [] });
  });

  it("in a Worker: node:net by default (a ring open at a Worker's end aborts the process today), so terminate() is safe", async () => {
    const r = await runChild(
      String.raw`
import { Worker } from 'node:worker_threads';
import * as nodeNet from 'node:net';
const w = new Worker(new URL('./worker-entry.mjs', import.meta.url));
w.on('error', (e) => { console.error(e); process.exitCode = 3; });
const [backend, reason, port] = await new Promise((resolve) => w.once('message', resolve));
const c = nodeNet.connect(port, '127.0.0.1');
c.setEncoding('utf8');
const echoed = await new Promise((resolve) => { c.on('data', resolve); c.write('hi'); });
c.destroy();
const code = await w.terminate(); // while the Worker's server listens
console.log(JSON.stringify({ backend, reason, echoed, code }));
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
import * as net from '@repo/src/node/net/index.js';
const server = net.createServer((s) => s.pipe(s));
server.listen(0, '127.0.0.1', () => parentPort!.postMessage([net.backend, net.backendReason, server.address()!.port]));
`,
        },
      },
    );
    expect(r.code, describeExit(r)).toBe(0);
    const out = lastJson<{ backend: string; reason: string; echoed: string; code: number }>(r);
    expect(out).toMatchObject({ backend: 'node', echoed: 'hi', code: 1 });
    expect(out.reason).toMatch(/Worker/);
    expect(r.stderr).not.toMatch(/TSURING_NET_FALLBACK/);
  });

  it('unfiltered, the same probe runs on io_uring (so the cases above do test the fallback)', async () => {
    const r = await runChild(PROBE);
    expect(r.code, describeExit(r)).toBe(0);
    expect(lastJson<Probe>(r)).toMatchObject({ backend: 'io_uring', reason: null, echoed: 'ping over io_uring', nodeClasses: false, warnings: [] });
  });
});
