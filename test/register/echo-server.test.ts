/**
 * The echo server of examples/echo-server.ts: multishot accept, multishot recv with a
 * provided-buffer ring, send; 100 node:net clients in this process, every byte checked,
 * and every buffer back in the ring at the end. Then the example run as a program.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { randomBytes } from 'node:crypto';
import { release } from 'node:os';
import { describe, expect, it } from 'vitest';
import { EchoServer } from '../../examples/echo-server.js';
import { REPO_ROOT } from '../support/child.js';
import { kernelAtLeast } from './helpers.js';
import { echoRoundTrip } from '../support/net.js';
import { hangAfter } from '../support/slow.js';


/** Polls `cond`; `timeoutMs` is a hang detector, stretched on a slow machine (support/slow.ts). */
async function until(cond: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + hangAfter(timeoutMs);
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('multishot echo server', () => {
  // Before Linux 6.11 the server binds and listens with the system calls (no IORING_OP_BIND /
  // LISTEN); everything after that is io_uring on every supported kernel.
  it('serves 100 concurrent clients, echoes every byte, and leaks no buffer', async () => {
    // A small ring of small buffers, so that it runs dry (ENOBUFS) and must recover.
    const server = EchoServer.start({ bufferSize: 512, buffers: 64 });
    try {
      const payloads = Array.from({ length: 100 }, () => randomBytes(8192 + Math.floor(Math.random() * 16384)));
      const echoed = await Promise.all(payloads.map((p) => echoRoundTrip(server.port, p, { pieces: true })));
      for (let i = 0; i < payloads.length; i++) {
        expect(echoed[i]!.length, `client ${i}`).toBe(payloads[i]!.length);
        expect(echoed[i]!.equals(payloads[i]!), `client ${i} bytes`).toBe(true);
      }
      const total = payloads.reduce((n, p) => n + p.length, 0);
      expect(server.stats.accepted).toBe(100);
      expect(server.stats.bytesEchoed).toBe(total);
      // The server closes each connection once it has seen EOF and sent everything back.
      await until(() => server.connections === 0, 5000, 'every connection to close');
      expect(server.pool.heldByUser).toBe(0);
      expect(server.pool.inKernel).toBe(64);
      // The kernel's own count of the ring's free buffers (IORING_REGISTER_PBUF_STATUS, 6.8).
      if (kernelAtLeast(6, 8)) expect(server.pool.status().available).toBe(64);
      else console.info(`[info] kernel ${release()} has no PBUF_STATUS (6.8): the buffer count is checked on our side only`);
      console.log(`echo: ${total} bytes over 100 connections; the buffer ring ran dry ${server.stats.outOfBuffers} time(s)`);
      expect(server.stats.outOfBuffers).toBeGreaterThan(0);
      expect(server.ring.inFlight).toBe(1); // only the multishot accept remains
    } finally {
      server.close();
    }
    expect(server.ring.closed).toBe(true);
  });

  it('runs as a program: prints its port, echoes, and exits cleanly on SIGINT', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'examples/echo-server.ts'], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
    try {
      await until(() => /listening on 127\.0\.0\.1:\d+/.test(stdout) || child.exitCode !== null, 20_000, `the server to start (stderr: ${stderr})`);
      const port = Number(/listening on 127\.0\.0\.1:(\d+)/.exec(stdout)?.[1]);
      expect(port, stderr).toBeGreaterThan(0);
      const payload = randomBytes(100_000);
      const back = await echoRoundTrip(port, payload, { pieces: true });
      expect(back.equals(payload)).toBe(true);
      child.kill('SIGINT');
      const [code, signal] = await exited;
      expect({ code, signal, stderr }).toEqual({ code: 0, signal: null, stderr: '' });
      expect(stdout).toMatch(/SIGINT: closed after 1 connection\(s\), 100000 bytes echoed/);
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
  });
});
