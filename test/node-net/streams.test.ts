/**
 * `tsuring/net` sockets as streams whose chunks belong to the consumer. The thread's buffer
 * ring is shrunk for this file to 8 buffers of 4 KiB (`TSURING_NET_RECV_BUFFERS` /
 * `TSURING_NET_RECV_BUFFER_SIZE`), so every multi-megabyte transfer below recycles each
 * buffer hundreds of times while the consumer still holds chunks cut from earlier rounds:
 * a chunk that was a view into the ring would show the later bytes.
 *
 * Consumers that keep chunks: collect then concatenate, `for await`, `Readable.from`,
 * `stream.pipeline` into a file and between two tsuring sockets (a proxy), an echo that
 * writes each chunk without waiting, and an echo under backpressure (slow reader, large
 * writes) whose buffers stay bounded.
 */
import { once } from 'node:events';
import { createReadStream, createWriteStream, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as nodeNet from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { collect, firstDifference, listenOn, pattern, sleep } from './helpers.js';

type NetModule = typeof import('../../src/node/net/index.js');
let net: NetModule;
let engine: typeof import('../../src/node/net/engine.js');
const saved = { buffers: process.env.TSURING_NET_RECV_BUFFERS, size: process.env.TSURING_NET_RECV_BUFFER_SIZE };

beforeAll(async () => {
  process.env.TSURING_NET_RECV_BUFFERS = '8';
  process.env.TSURING_NET_RECV_BUFFER_SIZE = '4096';
  net = await import('../../src/node/net/index.js');
  engine = await import('../../src/node/net/engine.js');
  for (const [k, v] of [['TSURING_NET_RECV_BUFFERS', saved.buffers], ['TSURING_NET_RECV_BUFFER_SIZE', saved.size]] as const) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
});

const dir = mkdtempSync(join(tmpdir(), 'tsuring-net-streams-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const f of cleanups.splice(0).reverse()) await f();
});

/** A tsuring server on 127.0.0.1 running `onConnection`; it and its sockets closed after the test. */
async function tsServer(onConnection: (s: InstanceType<NetModule['Socket']>) => void, options = {}): Promise<number> {
  const sockets: InstanceType<NetModule['Socket']>[] = [];
  const server = net.createServer(options, (s) => {
    sockets.push(s);
    s.on('error', () => {});
    onConnection(s);
  });
  cleanups.push(() => new Promise<void>((resolve) => {
    for (const s of sockets) s.destroy();
    server.close(() => resolve());
  }));
  return listenOn(server);
}

/** Sends `data` from a node:net client, ends, resolves with what came back. */
async function throughNode(port: number, data: Buffer): Promise<Buffer> {
  const c = nodeNet.connect(port, '127.0.0.1');
  const back = collect(c);
  c.end(data);
  return (await back).data;
}

const BIG = 8 << 20; // 2048 rounds of an 8 × 4 KiB ring

describe('chunks belong to the consumer (8 × 4 KiB buffer ring, megabytes through it)', () => {
  it('the tiny ring is in use (so the tests below recycle it)', () => {
    expect(net.backend).toBe('io_uring');
    expect(engine.RECV_BUFFERS).toBe(8);
    expect(engine.RECV_BUFFER_SIZE).toBe(4096);
    expect(engine.netEngine().pool.count).toBe(8);
  });

  it("'data' chunks kept, then concatenated: every byte intact", async () => {
    const data = pattern(BIG, 11);
    let kept: Promise<{ data: Buffer; chunks: number }> | undefined;
    const port = await tsServer((s) => {
      kept = collect(s);
      s.on('end', () => s.end());
    });
    await throughNode(port, data);
    const { data: got, chunks } = await kept!;
    expect(chunks).toBeGreaterThan(BIG / 4096 / 2);
    expect(firstDifference(got, data)).toBe(-1);
  });

  it('for await (const chunk of socket) and Readable.from(socket), kept: intact', async () => {
    const data = pattern(BIG, 12);
    const results: Promise<Buffer>[] = [];
    const port = await tsServer((s) => {
      const kept: Buffer[] = [];
      const source = results.length === 0 ? s : Readable.from(s);
      results.push(
        (async () => {
          for await (const chunk of source) kept.push(chunk as Buffer);
          s.end();
          return Buffer.concat(kept);
        })(),
      );
    });
    await throughNode(port, data);
    await throughNode(port, data);
    for (const r of results) expect(firstDifference(await r, data)).toBe(-1);
  });

  it('stream.pipeline(socket, file) and stream.pipeline(file, socket): the files match byte for byte', async () => {
    const data = pattern(BIG, 13);
    const received = join(dir, 'received.bin');
    const source = join(dir, 'source.bin');
    writeFileSync(source, data);
    let done: Promise<void> | undefined;
    const port = await tsServer((s) => {
      done = pipeline(s, createWriteStream(received));
    });
    const c = net.connect(port, '127.0.0.1');
    await pipeline(createReadStream(source), c); // ends the socket when the file is sent
    while (done === undefined) await sleep(2);
    await done;
    expect(firstDifference(readFileSync(received), data)).toBe(-1);
  });

  it('pipeline between two tsuring sockets (a proxy in front of a tsuring echo server)', async () => {
    const echoPort = await tsServer((s) => s.pipe(s));
    // Half-open, as any proxy must be: the client's end must not end the way back.
    const proxyPort = await tsServer(
      (s) => {
        const upstream = net.connect({ port: echoPort, host: '127.0.0.1', allowHalfOpen: true });
        upstream.on('error', () => {});
        void pipeline(s, upstream, s).catch(() => {});
      },
      { allowHalfOpen: true },
    );
    const data = pattern(BIG, 14);
    const back = await throughNode(proxyPort, data);
    expect(firstDifference(back, data)).toBe(-1);
  });

  it('an echo that writes each chunk without waiting for anything: intact', async () => {
    const port = await tsServer((s) => {
      s.on('data', (chunk: Buffer) => void s.write(chunk));
      s.on('end', () => s.end());
    });
    const data = pattern(BIG, 15);
    expect(firstDifference(await throughNode(port, data), data)).toBe(-1);
  });

  it('echo under backpressure (slow reader, 1 MiB writes): intact, and the server never buffers more than a bounded amount', async () => {
    let maxReadable = 0;
    let maxWritable = 0;
    const port = await tsServer((s) => {
      s.on('data', (chunk: Buffer) => {
        if (!s.write(chunk)) s.pause(); // the classic manual pipe
        maxReadable = Math.max(maxReadable, s.readableLength);
        maxWritable = Math.max(maxWritable, s.writableLength);
      });
      s.on('drain', () => s.resume());
      s.on('end', () => s.end());
    });
    const data = pattern(32 << 20, 16);
    const c = net.connect(port, '127.0.0.1');
    const kept: Buffer[] = [];
    let n = 0;
    c.on('data', (d: Buffer) => {
      kept.push(d);
      if (++n % 64 === 0) {
        // A slow consumer: stop now and then.
        c.pause();
        setTimeout(() => c.resume(), 2);
      }
    });
    const ended = once(c, 'end');
    for (let at = 0; at < data.length; at += 1 << 20) {
      if (!c.write(data.subarray(at, at + (1 << 20)))) await once(c, 'drain');
    }
    c.end();
    await ended;
    expect(firstDifference(Buffer.concat(kept), data)).toBe(-1);
    // Bounded by the high-water marks plus what one reap can bring (the 32 KiB ring) and
    // one chunk written past the mark: far below the 32 MiB that went through.
    expect(maxReadable).toBeLessThan(1 << 20);
    expect(maxWritable).toBeLessThan(2 << 20);
  });
});
