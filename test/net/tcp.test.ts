/**
 * The TCP helper end to end on 127.0.0.1: an echo server on multishot accept + multishot
 * recv from a shared buffer ring, many concurrent `node:net` clients, every byte checked;
 * the ring's own client; closing with connections open; nothing leaked.
 *
 * Every test runs twice: listening through io_uring's BIND/LISTEN where the kernel has them
 * (`listenVia: 'auto'`; on kernels before 6.11 that is the system calls already) and through
 * the bind(2)/listen(2) system calls (`'syscall'`), so the fallback is exercised on every
 * kernel, this one included.
 *
 * Chunk ownership: chunks from `for await (const chunk of conn)` are kept (collected and
 * concatenated, written without await, streamed to a file) while a small buffer ring is
 * recycled hundreds of times; every byte is checked.
 */
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createWriteStream, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { connect as netConnect, createServer as netServer, type AddressInfo, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AsyncIoUring } from '../../src/async/async-ring.js';
import { UnsupportedOpError } from '../../src/errors.js';
import type { ListenVia } from '../../src/net/listener.js';
import { connect, createServer, type Connection, type ServerOptions } from '../../src/net/tcp.js';
import { isOpen, until } from '../async/helpers.js';

let ring: AsyncIoUring;
beforeEach(() => {
  ring = new AsyncIoUring({ entries: 256 });
});
afterEach(async () => {
  await ring.close();
});

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

describe.each<ListenVia>(['auto', 'syscall'])('createServer (listenVia: %s)', (listenVia) => {
  const serve = (options: ServerOptions) => createServer(ring, { listenVia, ...options });

  it('echoes for 64 concurrent node:net clients, every byte checked, buffers all returned', async () => {
    const server = await serve({ host: '127.0.0.1', port: 0, onConnection: echo, buffers: 64, bufferSize: 4096 });
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
    let remoteSeen: unknown;
    const server = await serve({
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
    const open: Connection[] = [];
    const before = readdirSync('/proc/self/fd').map(Number).filter(isOpen).length;
    const server = await serve({
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
    const taken = netServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const port = (taken.address() as AddressInfo).port;
    const fdsBefore = readdirSync('/proc/self/fd').map(Number).filter(isOpen).length;
    try {
      await expect(serve({ port, onConnection: () => {} })).rejects.toMatchObject({ code: 'EADDRINUSE', syscall: 'bind' });
      expect(readdirSync('/proc/self/fd').map(Number).filter(isOpen).length).toBe(fdsBefore); // the socket was closed
    } finally {
      taken.close();
    }
    const reported: unknown[] = [];
    const server = await serve({
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
    await expect(serve({ host: 'localhost', onConnection: () => {} })).rejects.toThrow(/host names are not resolved/);
    await expect(connect(ring, { host: '127.0.0.1', port: 1 })).rejects.toMatchObject({ code: 'ECONNREFUSED' });
  });

  it('listens on IPv6 too (::1), and the kernel-picked port is reported', async () => {
    const server = await serve({ host: '::1', onConnection: echo });
    try {
      expect(server.port).toBeGreaterThan(0);
      const data = randomBytes(100_000);
      const s = netConnect(server.port, '::1');
      const got: Buffer[] = [];
      s.on('data', (d: Buffer) => got.push(d));
      await once(s, 'connect');
      s.end(data);
      await once(s, 'close');
      expect(Buffer.concat(got).equals(data)).toBe(true);
    } finally {
      await server.close();
    }
  });
});

describe('listenVia', () => {
  it("'io_uring' binds through the ring where the kernel has BIND/LISTEN, else refuses with UnsupportedOpError naming 6.11", async () => {
    const has = ring.ring.probe.supports('BIND') && ring.ring.probe.supports('LISTEN');
    const attempt = createServer(ring, { listenVia: 'io_uring', onConnection: echo });
    if (has) {
      const server = await attempt;
      expect(server.port).toBeGreaterThan(0);
      await server.close();
    } else {
      const err = await attempt.then(() => null, (e: unknown) => e);
      expect(err).toBeInstanceOf(UnsupportedOpError);
      expect(String((err as Error).message)).toMatch(/6\.11/);
    }
    expect(ring.pending).toBe(0);
  });

  it('a bad value is refused before anything is opened', async () => {
    await expect(createServer(ring, { listenVia: 'uring' as never, onConnection: echo })).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_VALUE' });
  });
});

/** 8 buffers of 4 KiB: a 4 MiB transfer recycles every buffer about 128 times. */
const SMALL_RING = { buffers: 8, bufferSize: 4096 } as const;

/** Sends `data` from a node:net client, ends, and resolves with what the server sent back. */
async function sendAndCollect(port: number, data: Buffer): Promise<Buffer> {
  const s = netConnect(port, '127.0.0.1');
  const got: Buffer[] = [];
  s.on('data', (d: Buffer) => got.push(d));
  await once(s, 'connect');
  s.end(data);
  await once(s, 'close');
  return Buffer.concat(got);
}

describe('chunk ownership: chunks from for-await are the consumer\'s to keep', () => {
  it('collect every chunk, then concatenate: intact after the buffer ring was recycled ~128 times', async () => {
    const data = randomBytes(4 << 20);
    let collected: Buffer | undefined;
    let chunks = 0;
    const server = await createServer(ring, {
      ...SMALL_RING,
      onConnection: async (conn) => {
        const kept: Uint8Array[] = [];
        for await (const chunk of conn) kept.push(chunk);
        chunks = kept.length;
        collected = Buffer.concat(kept);
        await conn.end();
      },
    });
    try {
      await sendAndCollect(server.port, data);
      await until(() => collected !== undefined, 10_000, 'the server to collect');
      expect(chunks).toBeGreaterThan(8 * 16);
      expect(collected!.length).toBe(data.length);
      expect(collected!.equals(data)).toBe(true);
    } finally {
      await server.close();
    }
  });

  it('echo with conn.write(chunk) not awaited: every byte comes back in order', async () => {
    const server = await createServer(ring, {
      ...SMALL_RING,
      onConnection: async (conn) => {
        for await (const chunk of conn) void conn.write(chunk);
        await conn.end(); // waits for the writes
      },
    });
    try {
      const data = randomBytes(4 << 20);
      const back = await sendAndCollect(server.port, data);
      expect(back.length).toBe(data.length);
      expect(back.equals(data)).toBe(true);
    } finally {
      await server.close();
    }
  });

  it('Readable.from(conn) piped into a file with stream.pipeline: the file holds every byte', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tsuring-tcp-'));
    const file = join(dir, 'received.bin');
    let written: Promise<void> | undefined;
    const server = await createServer(ring, {
      ...SMALL_RING,
      onConnection: (conn) => {
        written = pipeline(Readable.from(conn), createWriteStream(file));
        return written;
      },
    });
    try {
      const data = randomBytes(4 << 20);
      await sendAndCollect(server.port, data);
      await until(() => written !== undefined, 5000, 'a connection');
      await written;
      expect(readFileSync(file).equals(data)).toBe(true);
    } finally {
      await server.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("the client side's chunks (no buffer ring: one recv at a time) are the consumer's too", async () => {
    const data = randomBytes(2 << 20);
    const server = await createServer(ring, { onConnection: echo });
    try {
      const c = await connect(ring, { host: '127.0.0.1', port: server.port });
      const kept: Uint8Array[] = [];
      const reading = (async () => {
        for await (const chunk of c) kept.push(chunk);
      })();
      await c.write(data);
      await c.end();
      await reading;
      expect(kept.length).toBeGreaterThan(1);
      expect(Buffer.concat(kept).equals(data)).toBe(true);
      await c.close();
    } finally {
      await server.close();
    }
  });

  it('borrowedChunks(): zero-copy views, correct when each is consumed within its turn (awaited echo)', async () => {
    let sawView = false;
    const server = await createServer(ring, {
      ...SMALL_RING,
      onConnection: async (conn) => {
        for await (const chunk of conn.borrowedChunks()) {
          // A view into the ring's memory: its ArrayBuffer holds every buffer of the ring.
          if (chunk.buffer.byteLength === SMALL_RING.buffers * SMALL_RING.bufferSize) sawView = true;
          await conn.write(chunk);
        }
        await conn.end();
      },
    });
    try {
      const data = randomBytes(1 << 20);
      const back = await sendAndCollect(server.port, data);
      expect(back.equals(data)).toBe(true);
      expect(sawView).toBe(true);
      expect(server.bufferRing.heldByUser).toBe(0);
    } finally {
      await server.close();
    }
  });

  it('a connection is read once: for-await after borrowedChunks() (or twice) throws', async () => {
    let errors: string[] = [];
    const server = await createServer(ring, {
      onConnection: async (conn) => {
        const it = conn.borrowedChunks();
        errors = [];
        try {
          conn[Symbol.asyncIterator]();
        } catch (err) {
          errors.push((err as Error).message);
        }
        for await (const chunk of it) void chunk;
      },
    });
    try {
      await sendAndCollect(server.port, Buffer.from('x'));
      await until(() => errors.length === 1, 5000, 'the handler');
      expect(errors[0]).toMatch(/already being read/);
    } finally {
      await server.close();
    }
  });
});
