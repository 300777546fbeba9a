/**
 * Multishot ops as async iterators: accept (OwnedFds), recv from a buffer ring (views
 * recycled on the next step, or copies), poll. How they end (break, error, abort, ring
 * close, peer EOF), that nothing leaks when they do, and backpressure.
 */
import { once } from 'node:events';
import { closeSync, readdirSync, writeSync } from 'node:fs';
import { connect as netConnect, type Socket } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { OwnedFd } from '../../src/abi/owned-fd.js';
import { AbortError, AsyncIoUring, POLLIN } from '../../src/async/async-ring.js';
import { ArgumentError } from '../../src/errors.js';
import { AF_INET, SOCK_CLOEXEC, SOCK_STREAM } from '../../src/net/sockaddr.js';
import { BufferRing } from '../../src/register/provided.js';
import { IoUringError } from '../../src/sys/errors.js';
import { isOpen, listenTcp, nodeServer, pipe, sleep, until } from './helpers.js';

let ring: AsyncIoUring;
beforeEach(() => {
  ring = new AsyncIoUring({ entries: 64 });
});
afterEach(async () => {
  await ring.close();
});

/** Open descriptors (without the one readdir used for the listing itself). */
function openFds(): Set<number> {
  return new Set(readdirSync('/proc/self/fd').map(Number).filter(isOpen));
}

async function clients(port: number, n: number): Promise<Socket[]> {
  const out: Socket[] = [];
  for (let i = 0; i < n; i++) {
    const s = netConnect(port, '127.0.0.1');
    s.on('error', () => {});
    out.push(s);
  }
  await Promise.all(out.map((s) => once(s, 'connect')));
  return out;
}

function pattern(n: number): Buffer {
  const b = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + (i >>> 8)) & 0xff;
  return b;
}

/** A socket connected to a node:net server; `peer` resolves with the server's side. */
async function connectedPair(): Promise<{ fd: number; peer: Socket; close: () => Promise<void> }> {
  let resolvePeer!: (s: Socket) => void;
  const peerP = new Promise<Socket>((r) => (resolvePeer = r));
  const srv = await nodeServer((s) => resolvePeer(s));
  const fd = await ring.socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC);
  await ring.connect(fd, { address: '127.0.0.1', port: srv.port });
  const peer = await peerP;
  return {
    fd,
    peer,
    close: async () => {
      if (isOpen(fd)) closeSync(fd);
      await srv.close();
    },
  };
}

describe('acceptMultishot', () => {
  it('yields an OwnedFd per connection; break cancels and closes what was queued or arrived after', async () => {
    const listener = await listenTcp();
    try {
      const socks = await clients(listener.port, 12);
      const before = openFds();
      const it = ring.acceptMultishot(listener.fd);
      let kept: OwnedFd | undefined;
      for await (const conn of it) {
        expect(conn).toBeInstanceOf(OwnedFd);
        kept = conn;
        await until(() => it.queued >= 5, 2000, 'more connections queued');
        break;
      }
      expect(ring.pending).toBeGreaterThanOrEqual(0);
      await until(() => ring.pending === 0, 2000, 'the multishot accept to end');
      // Only the kept connection is open; every other accepted one was closed.
      const after = openFds();
      const added = [...after].filter((fd) => !before.has(fd));
      expect(added).toEqual([kept!.fd]);
      kept!.close();
      // Clients whose connection was accepted and closed by us see the end of stream.
      await sleep(20);
      for (const s of socks) s.destroy();
    } finally {
      closeSync(listener.fd);
    }
  });

  it('every connection arrives once, working; paused at highWaterMark, the queue stops growing (the backlog holds them)', async () => {
    const listener = await listenTcp();
    try {
      const it = ring.acceptMultishot(listener.fd, { highWaterMark: 4 });
      const first = it.next(); // arms it
      const socks = await clients(listener.port, 10);
      const got: OwnedFd[] = [(await first).value as OwnedFd];
      await until(() => it.paused && ring.pending === 0, 2000, 'the iterator to pause');
      // A burst the kernel posted before the cancel landed may exceed the mark; after that, nothing more comes.
      const queued = it.queued;
      expect(queued).toBeGreaterThanOrEqual(4);
      socks.push(...(await clients(listener.port, 20)));
      await sleep(50);
      expect(it.queued).toBe(queued);
      for await (const conn of it) {
        got.push(conn);
        if (got.length === 30) break;
      }
      expect(new Set(got.map((c) => c.fd)).size).toBe(30);
      // Each is a live connection: say hello through it.
      const hellos = socks.map((s) => once(s, 'data'));
      for (const c of got) writeSync(c.fd, 'hi');
      for (const [d] of (await Promise.all(hellos)) as [Buffer][]) expect(d.toString()).toBe('hi');
      for (const c of got) c.close();
      for (const s of socks) s.destroy();
    } finally {
      closeSync(listener.fd);
    }
  });

  it('ends with the Node-shaped error when the kernel refuses (not a listening socket)', async () => {
    const fd = await ring.socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC);
    try {
      const it = ring.acceptMultishot(fd);
      const err = await it.next().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(IoUringError);
      expect(err).toMatchObject({ code: 'EINVAL', syscall: 'accept' });
      expect(await it.next()).toEqual({ done: true, value: undefined });
    } finally {
      closeSync(fd);
    }
  });

  it('bad arguments: the first next() rejects with ArgumentError and nothing is submitted', async () => {
    const it = ring.acceptMultishot(-1);
    await expect(it.next()).rejects.toBeInstanceOf(ArgumentError);
    expect(ring.pending).toBe(0);
    await expect(ring.acceptMultishot(3, { highWaterMark: 0 }).next()).rejects.toThrow(/highWaterMark/);
  });

  it('abort rejects the pending next() with AbortError; ring close ends a pending next() as done', async () => {
    const listener = await listenTcp();
    try {
      const ac = new AbortController();
      const it = ring.acceptMultishot(listener.fd, { signal: ac.signal });
      const p = it.next();
      await sleep(10);
      ac.abort(new Error('enough'));
      const err = await p.catch((e: unknown) => e);
      expect(err).toBeInstanceOf(AbortError);
      expect((err as AbortError).cause).toMatchObject({ message: 'enough' });
      await until(() => ring.pending === 0, 2000, 'cancel');
      // Already-aborted signal: nothing starts.
      await expect(ring.acceptMultishot(listener.fd, { signal: ac.signal }).next()).rejects.toBeInstanceOf(AbortError);
      expect(ring.pending).toBe(0);

      const it2 = ring.acceptMultishot(listener.fd);
      const p2 = it2.next();
      await sleep(10);
      await ring.close();
      expect(await p2).toEqual({ done: true, value: undefined });
    } finally {
      closeSync(listener.fd);
    }
  });
});

describe('recvMultishot', () => {
  it('yields the bytes in order, ends at EOF, and every buffer is back in the kernel afterwards', async () => {
    const pool = BufferRing.register(ring.ring, { entries: 8, bufferSize: 4096 });
    const pair = await connectedPair();
    try {
      const data = pattern(300_000);
      pair.peer.end(data);
      const parts: Buffer[] = [];
      for await (const chunk of ring.recvMultishot(pair.fd, pool)) {
        expect(chunk).toBeInstanceOf(Uint8Array);
        expect(chunk.byteLength).toBeLessThanOrEqual(4096);
        parts.push(Buffer.from(chunk));
      }
      expect(Buffer.concat(parts).equals(data)).toBe(true);
      expect(ring.pending).toBe(0);
      expect(pool.inKernel).toBe(8);
    } finally {
      await pair.close();
      pool.close();
    }
  });

  it("{ borrow: true }: a borrowed chunk's buffer goes back when the consumer asks for the next one, not before", async () => {
    const pool = BufferRing.register(ring.ring, { entries: 4, bufferSize: 64 });
    const pair = await connectedPair();
    try {
      const it = ring.recvMultishot(pair.fd, pool, { borrow: true });
      const first = it.next();
      pair.peer.write('A'.repeat(10));
      const { value } = await first;
      expect(Buffer.from(value!).toString()).toBe('A'.repeat(10));
      expect(pool.inKernel).toBe(3); // ours while we look at it
      const second = it.next(); // hands the first buffer back
      expect(pool.inKernel).toBe(4);
      pair.peer.write('B'.repeat(5));
      expect(Buffer.from((await second).value!).toString()).toBe('BBBBB');
      await it.return();
      expect(pool.inKernel).toBe(4);
      await until(() => ring.pending === 0, 2000, 'cancel');
    } finally {
      await pair.close();
      pool.close();
    }
  });

  it('borrowed, a slow consumer with few buffers: the receive starves (ENOBUFS), resumes, and every byte arrives intact', async () => {
    const pool = BufferRing.register(ring.ring, { entries: 2, bufferSize: 512 });
    const pair = await connectedPair();
    try {
      const data = pattern(64 * 1024);
      pair.peer.end(data);
      const parts: Buffer[] = [];
      let n = 0;
      for await (const chunk of ring.recvMultishot(pair.fd, pool, { borrow: true })) {
        parts.push(Buffer.from(chunk));
        if (n++ % 16 === 0) await sleep(1); // slow: buffers run out meanwhile
      }
      expect(Buffer.concat(parts).equals(data)).toBe(true);
      expect(pool.inKernel).toBe(2);
    } finally {
      await pair.close();
      pool.close();
    }
  });

  it('borrowed, two connections sharing a 2-buffer ring both finish (a returned buffer re-arms the starved one)', async () => {
    const pool = BufferRing.register(ring.ring, { entries: 2, bufferSize: 256 });
    const a = await connectedPair();
    const b = await connectedPair();
    try {
      const da = pattern(20_000);
      const db = Buffer.from(pattern(30_000).map((x) => x ^ 0x5a));
      a.peer.end(da);
      b.peer.end(db);
      const read = async (fd: number): Promise<Buffer> => {
        const parts: Buffer[] = [];
        for await (const chunk of ring.recvMultishot(fd, pool, { borrow: true })) {
          parts.push(Buffer.from(chunk));
          await sleep(0);
        }
        return Buffer.concat(parts);
      };
      const [ra, rb] = await Promise.all([read(a.fd), read(b.fd)]);
      expect(ra.equals(da)).toBe(true);
      expect(rb.equals(db)).toBe(true);
      expect(pool.inKernel).toBe(2);
    } finally {
      await a.close();
      await b.close();
      pool.close();
    }
  });

  it('by default yields Buffers that stay valid (kept, then concatenated), each buffer back as its chunk is handed out', async () => {
    // 4 buffers of 128 bytes for 10,000 bytes: every buffer is reused about 20 times while
    // the chunks cut from it are still held.
    const pool = BufferRing.register(ring.ring, { entries: 4, bufferSize: 128 });
    const pair = await connectedPair();
    try {
      const data = pattern(10_000);
      pair.peer.end(data);
      const kept: Uint8Array[] = [];
      const it = ring.recvMultishot(pair.fd, pool);
      for await (const chunk of it) {
        expect(Buffer.isBuffer(chunk)).toBe(true);
        // Only chunks still queued hold a buffer; this one's is back already.
        expect(pool.heldByUser).toBe(it.queued);
        kept.push(chunk); // no copy of our own: they must not be overwritten later
      }
      expect(pool.inKernel).toBe(4);
      expect(kept.length).toBeGreaterThan(4 * 4);
      expect(Buffer.concat(kept).equals(data)).toBe(true);
    } finally {
      await pair.close();
      pool.close();
    }
  });

  it('copies held by the queue keep their buffers: a consumer that stops asking holds at most the ring, nothing is lost', async () => {
    const pool = BufferRing.register(ring.ring, { entries: 4, bufferSize: 128 });
    const pair = await connectedPair();
    try {
      const data = pattern(200_000);
      pair.peer.end(data);
      const it = ring.recvMultishot(pair.fd, pool);
      const kept: Uint8Array[] = [(await it.next()).value!];
      await sleep(100); // the peer keeps sending; nobody asks
      expect(it.queued).toBeLessThanOrEqual(4);
      expect(pool.heldByUser).toBe(it.queued);
      for await (const chunk of it) kept.push(chunk);
      expect(Buffer.concat(kept).equals(data)).toBe(true);
      expect(pool.inKernel).toBe(4);
    } finally {
      await pair.close();
      pool.close();
    }
  });

  it('{ copy: false } is refused (borrowing is asked for by name), so is a non-boolean borrow; { copy: true } still works', async () => {
    const pool = BufferRing.register(ring.ring, { entries: 4, bufferSize: 128 });
    const pair = await connectedPair();
    try {
      await expect(ring.recvMultishot(pair.fd, pool, { copy: false }).next()).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_VALUE', message: /borrow: true/ });
      await expect(ring.recvMultishot(pair.fd, pool, { borrow: 1 as never }).next()).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_TYPE' });
      await expect(ring.recvMultishot(pair.fd, pool, { borrow: true, copy: true }).next()).rejects.toBeInstanceOf(ArgumentError);
      expect(ring.pending).toBe(0);
      pair.peer.end('abc');
      const got: Uint8Array[] = [];
      for await (const chunk of ring.recvMultishot(pair.fd, pool, { copy: true })) got.push(chunk);
      expect(Buffer.concat(got).toString()).toBe('abc');
    } finally {
      await pair.close();
      pool.close();
    }
  });

  it('break mid-stream: the op is cancelled and every buffer (queued or posted after) goes back', async () => {
    const pool = BufferRing.register(ring.ring, { entries: 8, bufferSize: 256 });
    const pair = await connectedPair();
    try {
      pair.peer.write(pattern(100_000));
      const it = ring.recvMultishot(pair.fd, pool);
      for await (const chunk of it) {
        expect(chunk.byteLength).toBeGreaterThan(0);
        await until(() => it.queued > 2, 2000, 'chunks to queue');
        break;
      }
      await until(() => ring.pending === 0, 2000, 'the cancel');
      expect(pool.inKernel).toBe(8);
      expect(pool.heldByUser).toBe(0);
    } finally {
      await pair.close();
      pool.close();
    }
  });

  it('ends with ECONNRESET-style errors as IoUringError; a foreign buffer ring is refused', async () => {
    const pool = BufferRing.register(ring.ring, { entries: 2, bufferSize: 64 });
    const pair = await connectedPair();
    const other = new AsyncIoUring({ entries: 8 });
    const foreign = BufferRing.register(other.ring, { entries: 2, bufferSize: 64 });
    try {
      await expect(ring.recvMultishot(pair.fd, foreign).next()).rejects.toThrow(/another ring/);
      const it = ring.recvMultishot(pair.fd, pool);
      const p = it.next();
      pair.peer.resetAndDestroy();
      const err = await p.catch((e: unknown) => e);
      expect(err).toBeInstanceOf(IoUringError);
      expect(err).toMatchObject({ code: 'ECONNRESET', syscall: 'recv' });
    } finally {
      foreign.close();
      await other.close();
      await pair.close();
      pool.close();
    }
  });
});

describe('pollMultishot', () => {
  it('yields a revents mask per wake-up until break', async () => {
    const [r, w] = await pipe();
    try {
      const it = ring.pollMultishot(r, POLLIN);
      const seen: number[] = [];
      let drained = 0;
      const done = (async () => {
        for await (const revents of it) {
          seen.push(revents);
          const buf = Buffer.alloc(16);
          await ring.read(r, buf);
          drained++;
          if (seen.length === 3) break;
        }
      })();
      // One byte per wake-up: the next is written only once the body has read the last
      // (with fixed sleeps, a slow machine saw two writes as one wake-up and waited for a third).
      for (let i = 0; i < 3; i++) {
        writeSync(w, 'x');
        await until(() => drained === i + 1, 5000, `wake-up ${i + 1} and its read`);
      }
      await done;
      expect(seen).toEqual([POLLIN, POLLIN, POLLIN]);
      await until(() => ring.pending === 0, 2000, 'cancel');
    } finally {
      closeSync(r);
      closeSync(w);
    }
  });
});

describe('methods called from inside an iterator body (re-entrancy)', () => {
  it('recvMultishot and pollMultishot: other ops run from the body, close() (awaited or not) ends the loop as done', async () => {
    for (const awaitClose of [false, true]) {
      const own = new AsyncIoUring({ entries: 16 });
      const pool = BufferRing.register(own.ring, { entries: 4, bufferSize: 64 });
      const srv = await nodeServer((s) => s.write('abc'));
      const fd = await own.socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC);
      const [r, w] = await own.pipe();
      try {
        await own.connect(fd, { address: '127.0.0.1', port: srv.port });
        const seen: string[] = [];
        for await (const chunk of own.recvMultishot(fd, pool)) {
          seen.push(Buffer.from(chunk).toString());
          expect(await own.nop()).toBe(0); // another op, from the body
          const closing = own.close();
          if (awaitClose) await closing;
          await expect(own.nop()).rejects.toMatchObject({ code: 'ERR_RING_CLOSED' });
        }
        expect(seen).toEqual(['abc']);
        expect(own.closed).toBe(true);

        const other = new AsyncIoUring({ entries: 16 });
        writeSync(w, 'x');
        let wakeups = 0;
        for await (const revents of other.pollMultishot(r, POLLIN)) {
          wakeups++;
          expect(revents & POLLIN).toBe(POLLIN);
          const closing = other.close();
          if (awaitClose) await closing;
        }
        expect(wakeups).toBe(1);
        expect(other.closed).toBe(true);
      } finally {
        await own.close();
        pool.close();
        closeSync(fd);
        closeSync(r);
        closeSync(w);
        await srv.close();
      }
    }
  });
});
