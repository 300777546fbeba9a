/**
 * The TCP helper end to end on 127.0.0.1: an echo server on multishot accept + multishot
 * recv from a shared buffer ring, many concurrent `node:net` clients, every byte checked;
 * the ring's own client; closing with connections open; nothing leaked.
 */
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { readdirSync } from 'node:fs';
import { connect as netConnect, createServer as netServer, type AddressInfo, type Socket } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AsyncIoUring } from '../../src/async/async-ring.js';
import { connect, createServer, type Connection } from '../../src/net/tcp.js';
import { isOpen, until } from '../async/helpers.js';

let ring: AsyncIoUring;
beforeEach(() => {
  ring = new AsyncIoUring({ entries: 256 });
});
afterEach(async () => {
  await ring.close();
});

const supported = (): boolean => ['BIND', 'LISTEN'].every((op) => ring.ring.probe.supports(op));

async function echo(conn: Connection): Promise<void> {
  for await (const chunk of conn) await conn.write(chunk);
  await conn.end();
}

/** Sends `data` in random-sized writes and collects what comes back until the server ends. */
async function roundTrip(port: number, data: Buffer): Promise<Buffer> {
  const s = netConnect(port, '127.0.0.1');
  const got: Buffer[] = [];
  s.on('data', (d) => got.push(d));
  await once(s, 'connect');
  let at = 0;
  while (at < data.length) {
    const n = Math.min(data.length - at, 1 + Math.floor(Math.random() * 20000));
    if (!s.write(data.subarray(at, at + n))) await once(s, 'drain');
    at += n;
  }
  s.end();
  await once(s, 'close');
  return Buffer.concat(got);
}

describe('createServer', () => {
  it('echoes for 64 concurrent node:net clients, every byte checked, buffers all returned', async () => {
    if (!supported()) return void console.warn('skipped: IORING_OP_BIND/LISTEN need Linux 6.11');
    const server = await createServer(ring, { host: '127.0.0.1', port: 0, onConnection: echo, buffers: 64, bufferSize: 4096 });
    try {
      expect(server.port).toBeGreaterThan(0);
      const payloads = Array.from({ length: 64 }, (_, i) => randomBytes(50_000 + i * 1000));
      const results = await Promise.all(payloads.map((p) => roundTrip(server.port, p)));
      results.forEach((r, i) => {
        expect(r.length).toBe(payloads[i]!.length);
        expect(r.equals(payloads[i]!)).toBe(true);
      });
      expect(server.accepted).toBe(64);
      await until(() => server.connections === 0, 3000, 'connections to close');
      await until(() => server.bufferRing.inKernel === 64, 3000, 'buffers to come back');
    } finally {
      await server.close();
    }
    expect(ring.pending).toBe(0);
  });

  it("the ring's own client: connect, write, end, read the echo; peer and local addresses", async () => {
    if (!supported()) return;
    let remoteSeen: unknown;
    const server = await createServer(ring, {
      onConnection: async (conn) => {
        remoteSeen = conn.remote;
        await echo(conn);
      },
    });
    try {
      const c = await connect(ring, { host: '127.0.0.1', port: server.port });
      expect(c.remote).toEqual({ address: '127.0.0.1', family: 'IPv4', port: server.port });
      const msg = randomBytes(200_000);
      const parts: Buffer[] = [];
      const reading = (async () => {
        for await (const chunk of c) parts.push(Buffer.from(chunk));
      })();
      await c.write(msg.subarray(0, 1000));
      await c.write(msg.subarray(1000));
      await c.end();
      await reading;
      expect(Buffer.concat(parts).equals(msg)).toBe(true);
      expect(remoteSeen).toEqual({ address: '127.0.0.1', family: 'IPv4', port: c.local!.port });
      await c.close();
      expect(c.fd.closed).toBe(true);
    } finally {
      await server.close();
    }
  });

  it('close() ends ongoing reads, closes every connection and the listener; clients see the end', async () => {
    if (!supported()) return;
    const open: Connection[] = [];
    const before = readdirSync('/proc/self/fd').map(Number).filter(isOpen).length;
    const server = await createServer(ring, {
      onConnection: async (conn) => {
        open.push(conn);
        for await (const chunk of conn) void chunk; // reads until closed
      },
    });
    const clients: Socket[] = [];
    for (let i = 0; i < 5; i++) {
      const s = netConnect(server.port, '127.0.0.1');
      s.on('error', () => {});
      clients.push(s);
    }
    await Promise.all(clients.map((s) => once(s, 'connect')));
    await until(() => open.length === 5, 2000, 'connections');
    const ended = clients.map((s) => once(s, 'close'));
    await server.close();
    await Promise.all(ended);
    expect(open.every((c) => c.fd.closed)).toBe(true);
    expect(ring.pending).toBe(0);
    // A new connection to the port is refused.
    const s = netConnect(server.port, '127.0.0.1');
    const [err] = (await once(s, 'error')) as [NodeJS.ErrnoException];
    expect(err.code).toBe('ECONNREFUSED');
    const after = readdirSync('/proc/self/fd').map(Number).filter(isOpen).length;
    expect(after).toBeLessThanOrEqual(before);
  });

  it('errors: EADDRINUSE from bind, a throwing onConnection reported and its connection closed, bad options', async () => {
    if (!supported()) return;
    const taken = netServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const port = (taken.address() as AddressInfo).port;
    try {
      await expect(createServer(ring, { port, onConnection: () => {} })).rejects.toMatchObject({ code: 'EADDRINUSE', syscall: 'bind' });
    } finally {
      taken.close();
    }
    const reported: unknown[] = [];
    const server = await createServer(ring, {
      onConnection: () => {
        throw new Error('handler failed');
      },
      onError: (err) => reported.push(err),
    });
    try {
      const s = netConnect(server.port, '127.0.0.1');
      s.on('error', () => {});
      await once(s, 'close');
      expect(reported).toMatchObject([{ message: 'handler failed' }]);
    } finally {
      await server.close();
    }
    await expect(createServer(ring, {} as never)).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_TYPE' });
    await expect(createServer(ring, { host: 'localhost', onConnection: () => {} })).rejects.toThrow(/host names are not resolved/);
    await expect(connect(ring, { host: '127.0.0.1', port: 1 })).rejects.toMatchObject({ code: 'ECONNREFUSED' });
  });
});
