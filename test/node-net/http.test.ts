/**
 * `node:http` over `tsuring/net`: an `http.Server` fed with tsuring sockets
 * (`net.createServer((s) => httpServer.emit('connection', s))`), driven by `fetch` (undici):
 * keep-alive reuse, 50 concurrent requests, a 10 MiB body each way checked byte for byte;
 * and a `node:http` client whose `createConnection` returns a tsuring socket.
 */
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import * as http from 'node:http';
import type { Duplex } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import * as net from '../../src/node/net/index.js';
import { firstDifference, listenOn, pattern } from './helpers.js';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const f of cleanups.splice(0).reverse()) await f();
});

/** `handler` served by node:http over a tsuring listener; counts the connections it accepted. */
async function serveHttp(handler: http.RequestListener): Promise<{ port: number; connections: () => number }> {
  const httpServer = http.createServer(handler);
  const sockets = new Set<net.Socket>();
  let accepted = 0;
  const server = net.createServer((socket) => {
    accepted++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    httpServer.emit('connection', socket);
  });
  const port = await listenOn(server);
  cleanups.push(() => new Promise<void>((resolve) => {
    for (const s of sockets) s.destroy();
    server.close(() => resolve());
  }));
  return { port, connections: () => accepted };
}

/** Reads a request body whole. */
async function body(req: http.IncomingMessage): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const chunk of req) parts.push(chunk as Buffer);
  return Buffer.concat(parts);
}

const MiB = 1 << 20;

describe('node:http over tsuring/net', () => {
  it('fetch: keep-alive requests reuse one tsuring connection', async () => {
    const { port, connections } = await serveHttp((req, res) => {
      res.setHeader('content-type', 'text/plain');
      res.end(`hello ${req.url} over ${req.socket.remoteAddress}`);
    });
    for (let i = 0; i < 20; i++) {
      const r = await fetch(`http://127.0.0.1:${port}/n${i}`);
      expect(r.status).toBe(200);
      expect(r.headers.get('connection')).toBe('keep-alive');
      expect(await r.text()).toBe(`hello /n${i} over 127.0.0.1`);
    }
    // undici opens a second connection early on (it does the same against node:net).
    expect(connections()).toBeLessThanOrEqual(2);
  });

  it('fetch: 50 concurrent requests, each answered with its own body', async () => {
    const { port } = await serveHttp(async (req, res) => {
      const got = await body(req);
      res.end(createHash('sha256').update(got).update(req.url ?? '').digest('hex'));
    });
    const bodies = Array.from({ length: 50 }, (_, i) => pattern(1000 + i * 997, i));
    const answers = await Promise.all(
      bodies.map(async (b, i) => {
        const r = await fetch(`http://127.0.0.1:${port}/r${i}`, { method: 'POST', body: b });
        return r.text();
      }),
    );
    answers.forEach((a, i) => expect(a).toBe(createHash('sha256').update(bodies[i]!).update(`/r${i}`).digest('hex')));
  });

  it('fetch: a 10 MiB request body and a 10 MiB response body, both checked byte for byte', async () => {
    const up = pattern(10 * MiB, 21);
    const down = pattern(10 * MiB, 22);
    let serverSaw = -2;
    const { port } = await serveHttp(async (req, res) => {
      const got = await body(req);
      serverSaw = firstDifference(got, up);
      res.setHeader('content-length', down.length);
      // Written in pieces, respecting backpressure, as a real handler streams a file.
      for (let at = 0; at < down.length; at += 256 * 1024) {
        if (!res.write(down.subarray(at, at + 256 * 1024))) await once(res, 'drain');
      }
      res.end();
    });
    const r = await fetch(`http://127.0.0.1:${port}/big`, { method: 'PUT', body: up });
    const got = Buffer.from(await r.arrayBuffer());
    expect(serverSaw).toBe(-1);
    expect(firstDifference(got, down)).toBe(-1);
  });

  it('a node:http client over a tsuring socket (createConnection), to node:http over tsuring/net', async () => {
    const { port } = await serveHttp(async (req, res) => {
      const got = await body(req);
      res.end(`${req.method} ${req.url} ${got.length}`);
    });
    const payload = pattern(3 * MiB, 23);
    const answer = await new Promise<string>((resolve, reject) => {
      const req = http.request(
        { method: 'POST', path: '/client', host: '127.0.0.1', port, createConnection: () => net.connect(port, '127.0.0.1') as never },
        (res) => {
          const parts: Buffer[] = [];
          res.on('data', (d: Buffer) => parts.push(d));
          res.on('end', () => resolve(Buffer.concat(parts).toString()));
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      req.end(payload);
    });
    expect(answer).toBe(`POST /client ${payload.length}`);
  });

  it('a node:http keep-alive Agent whose sockets are tsuring sockets: reused across requests', async () => {
    const { port, connections } = await serveHttp((req, res) => res.end(`ok ${req.url}`));
    class RingAgent extends http.Agent {
      override createConnection(options: http.ClientRequestArgs, cb?: (err: Error | null, s: Duplex) => void): Duplex {
        const socket = net.connect(Number(options.port ?? port), options.host ?? '127.0.0.1');
        if (cb !== undefined) socket.once('connect', () => cb(null, socket));
        return socket;
      }
    }
    const agent = new RingAgent({ keepAlive: true, maxSockets: 1 });
    cleanups.push(() => agent.destroy());
    const get = (path: string) =>
      new Promise<string>((resolve, reject) => {
        http
          .get({ host: '127.0.0.1', port, path, agent }, (res) => {
            let text = '';
            res.setEncoding('utf8');
            res.on('data', (d: string) => (text += d));
            res.on('end', () => resolve(text));
          })
          .on('error', reject);
      });
    for (let i = 0; i < 5; i++) expect(await get(`/k${i}`)).toBe(`ok /k${i}`);
    expect(connections()).toBe(1);
  });
});
