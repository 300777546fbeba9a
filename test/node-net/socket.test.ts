/**
 * `tsuring/net` sockets against real sockets on 127.0.0.1: echo both ways with `node:net`
 * peers and between two tsuring sockets, addresses and counters, the event sequence, errors
 * shaped exactly as `node:net`'s (compared with Node's own, same port, same situation),
 * half-close with and without `allowHalfOpen`, destroy mid-transfer, peer reset, socket
 * options (read back with getsockopt), timeouts, and calls made from inside event handlers.
 */
import { once } from 'node:events';
import { readdirSync, readlinkSync } from 'node:fs';
import * as nodeNet from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { localAddress as getsockname, remoteAddress as getpeername } from '../../src/net/socket-names.js';
import * as net from '../../src/node/net/index.js';
import { netEngine } from '../../src/node/net/engine.js';
import { getsockoptInt } from '../../src/sys/posix.js';
import { describeExit, lastJson, runChild } from '../support/child.js';
import { collect, firstDifference, listenOn, pattern, sleep } from './helpers.js';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const f of cleanups.splice(0).reverse()) await f();
});

/** Closes `server` after the test, destroying the connections it accepted first. */
function closeAfter(server: net.Server): net.Socket[] {
  const sockets: net.Socket[] = [];
  server.on('connection', (s: net.Socket) => sockets.push(s));
  cleanups.push(() => new Promise<void>((resolve) => {
    for (const s of sockets) s.destroy();
    if (server.listening) server.close(() => resolve());
    else resolve();
  }));
  return sockets;
}

/** A tsuring echo server on 127.0.0.1; closed after the test. */
async function echoServer(options: net.ServerOpts = {}, host = '127.0.0.1'): Promise<{ server: net.Server; port: number; sockets: net.Socket[] }> {
  const server = net.createServer(options, (s) => {
    s.on('error', () => {});
    s.pipe(s);
  });
  const sockets = closeAfter(server);
  const port = await listenOn(server, host);
  return { server, port, sockets };
}

/** A node:net server on 127.0.0.1; closed after the test. */
async function nodeServer(onConnection: (s: nodeNet.Socket) => void): Promise<{ server: nodeNet.Server; port: number }> {
  const sockets = new Set<nodeNet.Socket>();
  const server = nodeNet.createServer((s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => {});
    onConnection(s);
  });
  const port = await listenOn(server);
  cleanups.push(() => new Promise<void>((resolve) => {
    for (const s of sockets) s.destroy();
    server.close(() => resolve());
  }));
  return { server, port };
}

/** The descriptor of a connected socket of this process, found by its two addresses. */
function fdOf(local: { port: number }, remote: { port: number }): number {
  for (const name of readdirSync('/proc/self/fd')) {
    const fd = Number(name);
    let target: string;
    try {
      target = readlinkSync(`/proc/self/fd/${fd}`);
    } catch {
      continue;
    }
    if (!target.startsWith('socket:')) continue;
    try {
      if (getsockname(fd)?.port === local.port && getpeername(fd)?.port === remote.port) return fd;
    } catch {
      /* not connected */
    }
  }
  throw new Error('socket not found');
}

/** Waits until the thread's ring has nothing in flight (what earlier tests closed has settled). */
async function ringIdle(): Promise<number> {
  const ring = netEngine().ring;
  for (let i = 0; i < 1000 && ring.pending > 0; i++) await sleep(5);
  return ring.pending;
}

const SOL_SOCKET = 1;
const SO_KEEPALIVE = 9;
const IPPROTO_TCP = 6;
const TCP_NODELAY = 1;
const TCP_KEEPIDLE = 4;

describe('tsuring/net sockets', () => {
  it('runs on io_uring on this machine (the rest of the file tests that backend)', () => {
    expect(net.backend).toBe('io_uring');
    expect(net.backendReason).toBeUndefined();
  });

  it('a node:net client through a tsuring echo server: 8 MiB back intact; addresses agree on both sides', async () => {
    const { server, port, sockets } = await echoServer();
    let names: unknown;
    server.on('connection', (s: net.Socket) => {
      names = { remote: [s.remoteAddress, s.remoteFamily, s.remotePort], local: [s.localAddress, s.localPort], address: s.address() };
    });
    const data = pattern(8 << 20, 1);
    const client = nodeNet.connect(port, '127.0.0.1');
    await once(client, 'connect');
    const clientPort = client.localPort;
    const back = collect(client);
    client.end(data);
    const { data: got } = await back;
    expect(firstDifference(got, data)).toBe(-1);
    expect(names).toEqual({ remote: ['127.0.0.1', 'IPv4', clientPort], local: ['127.0.0.1', port], address: { address: '127.0.0.1', family: 'IPv4', port } });
    const s = sockets[0]!;
    expect(s.remoteAddress).toBe('127.0.0.1'); // cached once asked, as node:net
    expect(s.bytesRead).toBe(data.length);
    expect(s.bytesWritten).toBe(data.length);
  });

  it('a tsuring client to a node:net echo server: events in node:net order, counters, close(false)', async () => {
    const { port } = await nodeServer((s) => s.pipe(s));
    const events: string[] = [];
    const c = net.connect(port, '127.0.0.1', () => events.push('connectListener'));
    expect(c.connecting).toBe(true);
    expect(c.pending).toBe(true);
    expect(c.readyState).toBe('opening');
    for (const e of ['connect', 'ready', 'end', 'finish']) c.on(e, () => events.push(e));
    const closed = new Promise<unknown>((resolve) => c.on('close', (hadError: unknown) => resolve(hadError)));
    const data = pattern(3 << 20, 2);
    c.write(data.subarray(0, 1000)); // before connect: held until connected
    c.end(data.subarray(1000));
    const { data: got } = await collect(c);
    expect(firstDifference(got, data)).toBe(-1);
    expect(await closed).toBe(false);
    expect(events).toEqual(['connectListener', 'connect', 'ready', 'finish', 'end']);
    expect(c.bytesRead).toBe(data.length);
    expect(c.bytesWritten).toBe(data.length);
    expect(c.remoteAddress).toBeUndefined(); // closed: nothing to ask
    expect(c.destroyed).toBe(true);
  });

  it('two tsuring sockets, IPv6 (::1), a host name through a custom lookup (and its lookup event)', async () => {
    const { port } = await echoServer({}, '::1');
    const data = pattern(1 << 20, 3);
    const c = net.connect({ port, host: '::1' });
    const back = collect(c);
    c.end(data);
    expect(firstDifference((await back).data, data)).toBe(-1);
    expect(c.remoteFamily).toBeUndefined();
    // By name, with a custom lookup answering ::1.
    const lookups: unknown[] = [];
    const lookup = (_h: string, _o: unknown, cb: (e: null, a: { address: string; family: number }[]) => void) => setImmediate(cb, null, [{ address: '::1', family: 6 }]);
    const d = net.connect({ port, host: 'echo.test', lookup } as never);
    d.on('lookup', (...args: unknown[]) => lookups.push(args));
    await once(d, 'connect');
    expect(d.remoteAddress).toBe('::1');
    expect(d.remoteFamily).toBe('IPv6');
    expect(lookups).toEqual([[null, '::1', 6, 'echo.test']]);
    d.destroy();
  });

  it('ECONNREFUSED: the same message, code, errno, syscall, address and port as node:net; close(true)', async () => {
    const probe = nodeNet.createServer();
    const port = await listenOn(probe);
    await new Promise((r) => probe.close(r)); // a port nobody listens on
    const theirs = nodeNet.connect(port, '127.0.0.1');
    const [nodeErr] = (await once(theirs, 'error')) as [NodeJS.ErrnoException];
    const ours = net.connect(port, '127.0.0.1');
    const closed = new Promise((resolve) => ours.on('close', resolve));
    const [err] = (await once(ours, 'error')) as [NodeJS.ErrnoException];
    const shape = (e: NodeJS.ErrnoException) => ({ message: e.message, code: e.code, errno: e.errno, syscall: e.syscall, address: (e as { address?: string }).address, port: (e as { port?: number }).port });
    expect(shape(err)).toEqual(shape(nodeErr));
    expect(err.message).toBe(`connect ECONNREFUSED 127.0.0.1:${port}`);
    expect(await closed).toBe(true);
    expect(ours.destroyed).toBe(true);
  });

  it('EADDRINUSE on listen: the same error as node:net (syscall listen, address, port), emitted, not thrown', async () => {
    const taken = nodeNet.createServer();
    const port = await listenOn(taken);
    cleanups.push(() => new Promise((r) => taken.close(r)));
    const theirs = nodeNet.createServer();
    theirs.listen(port, '127.0.0.1');
    const [nodeErr] = (await once(theirs, 'error')) as [NodeJS.ErrnoException];
    const ours = net.createServer();
    ours.listen(port, '127.0.0.1');
    expect(ours.listening).toBe(false);
    const [err] = (await once(ours, 'error')) as [NodeJS.ErrnoException];
    const shape = (e: NodeJS.ErrnoException) => ({ message: e.message, code: e.code, errno: e.errno, syscall: e.syscall, address: (e as { address?: string }).address, port: (e as { port?: number }).port });
    expect(shape(err)).toEqual(shape(nodeErr));
    expect(err.message).toMatch(/^listen EADDRINUSE: address already in use 127\.0\.0\.1:\d+$/);
  });

  it('half-close: allowHalfOpen keeps the writable side after the peer ends; without it the socket ends too', async () => {
    // allowHalfOpen: the server answers after the client's end.
    let writableAtEnd: boolean | undefined;
    const half = net.createServer({ allowHalfOpen: true }, (s) => {
      const parts: Buffer[] = [];
      s.on('data', (d: Buffer) => parts.push(d));
      s.on('end', () => {
        writableAtEnd = s.writable;
        s.end(`got ${Buffer.concat(parts).length}`);
      });
    });
    closeAfter(half);
    const port = await listenOn(half);
    const c = net.connect(port, '127.0.0.1');
    const reply = collect(c);
    c.end(Buffer.alloc(12345, 1));
    expect((await reply).data.toString()).toBe('got 12345');
    expect(writableAtEnd).toBe(true);

    // Default: the accepted socket ends itself when the peer ends, then closes.
    let serverClosed: Promise<unknown> | undefined;
    const plain = net.createServer((s) => {
      serverClosed = once(s, 'close');
      s.resume();
    });
    closeAfter(plain);
    const port2 = await listenOn(plain);
    const n = nodeNet.connect({ port: port2, host: '127.0.0.1', allowHalfOpen: true });
    n.resume();
    await once(n, 'connect');
    const ended = once(n, 'end'); // the tsuring side ended its writing in turn
    n.end();
    await ended;
    while (serverClosed === undefined) await sleep(2);
    await serverClosed;
    n.destroy();
  });

  it('writing after the peer ended (no allowHalfOpen) fails with EPIPE "ended by the other party", as node:net', async () => {
    let result: Promise<unknown> | undefined;
    const server = net.createServer((s) => {
      s.on('error', () => {});
      s.resume();
      s.on('end', () => {
        // A turn after 'end', the socket has ended its side too (no allowHalfOpen).
        setImmediate(() => {
          result = new Promise((resolve) => s.write('late', resolve));
        });
      });
    });
    closeAfter(server);
    const port = await listenOn(server);
    const n = nodeNet.connect({ port, host: '127.0.0.1', allowHalfOpen: true });
    n.resume();
    await once(n, 'connect');
    n.end();
    while (result === undefined) await sleep(2);
    expect(await result).toMatchObject({ code: 'EPIPE', message: 'This socket has been ended by the other party' });
    n.destroy();
  });

  it('destroy mid-transfer: both sides close, the peer sees the end or a reset, no descriptor or op is left', async () => {
    const ring = netEngine().ring;
    const pendingBefore = await ringIdle();
    expect(pendingBefore).toBe(0);
    const fdsBefore = readdirSync('/proc/self/fd').length;
    let received = 0;
    const server = net.createServer((s) => {
      s.on('error', () => {});
      s.on('data', (d: Buffer) => {
        received += d.length;
        if (received >= 1 << 20) s.destroy(); // from inside a 'data' handler
      });
    });
    const port = await listenOn(server);
    expect(ring.pending).toBe(pendingBefore + 1); // the multishot accept
    const c = net.connect(port, '127.0.0.1');
    c.on('error', () => {});
    const big = pattern(64 << 20, 4);
    const closed = new Promise<boolean>((resolve) => c.on('close', resolve));
    c.write(big); // far more than the socket buffers: in flight when the peer goes
    const hadError = await closed;
    expect(typeof hadError).toBe('boolean');
    expect(received).toBeGreaterThanOrEqual(1 << 20);
    expect(received).toBeLessThan(big.length);
    await new Promise((r) => server.close(r));
    for (let i = 0; i < 200 && ring.pending > pendingBefore; i++) await sleep(5);
    expect(ring.pending).toBe(pendingBefore);
    expect(readdirSync('/proc/self/fd').length).toBeLessThanOrEqual(fdsBefore);
  });

  it('queues filled to the brim, then destroy(): every write callback runs, nothing stays in flight or open', async () => {
    const ring = netEngine().ring;
    const pendingBefore = await ringIdle();
    const fdsBefore = readdirSync('/proc/self/fd').length;
    const { port } = await nodeServer((s) => s.pause()); // reads nothing: the kernel buffers fill
    const c = net.connect(port, '127.0.0.1');
    c.on('error', () => {});
    // Queued before the connect completes, and while the first sends block.
    let called = 0;
    const errors: unknown[] = [];
    const chunk = Buffer.alloc(64 * 1024, 0x61);
    for (let i = 0; i < 1000; i++) {
      c.write(chunk, (err) => {
        called++;
        if (err) errors.push(err);
      });
    }
    await once(c, 'connect');
    await sleep(50);
    expect(c.writableLength).toBeGreaterThan(32 << 20); // still queued: the peer reads nothing
    expect(c.bytesWritten).toBe(1000 * chunk.length); // in flight or queued, each counted once
    for (let i = 0; i < 10; i++) {
      c.write(chunk, (err) => {
        called++;
        if (err) errors.push(err);
      });
    }
    // A connect in flight destroyed at once, too.
    const d = net.connect(port, '127.0.0.1');
    d.destroy();
    c.destroy();
    await sleep(20);
    // As node:net: the batch in flight completes with no error once destroyed; what was
    // still queued behind it fails with ERR_STREAM_DESTROYED.
    expect(called).toBe(1010);
    expect(errors).toHaveLength(10);
    expect(errors[0]).toMatchObject({ code: 'ERR_STREAM_DESTROYED' });
    for (let i = 0; i < 200 && ring.pending > pendingBefore; i++) await sleep(5);
    expect(ring.pending).toBe(pendingBefore);
    // The node server and its socket for c stay; its socket for d (if the connect got that
    // far) closes once node:net has read d's end.
    const fds = () => readdirSync('/proc/self/fd').length;
    for (let i = 0; i < 200 && fds() > fdsBefore + 2; i++) await sleep(5);
    expect(fds()).toBeLessThanOrEqual(fdsBefore + 2);
  });

  it("a peer's reset (RST) is ECONNRESET from read, as node:net reports it; our resetAndDestroy() resets the peer", async () => {
    const { port } = await nodeServer((s) => {
      s.once('data', () => s.resetAndDestroy());
    });
    const c = net.connect(port, '127.0.0.1');
    const closed = new Promise((resolve) => c.on('close', resolve));
    const failed = once(c, 'error');
    await once(c, 'connect');
    c.write('hello');
    const [err] = (await failed) as [NodeJS.ErrnoException];
    expect({ message: err.message, code: err.code, errno: err.errno, syscall: err.syscall }).toEqual({ message: 'read ECONNRESET', code: 'ECONNRESET', errno: -104, syscall: 'read' });
    expect(await closed).toBe(true);

    const peerErrors: NodeJS.ErrnoException[] = [];
    const server = net.createServer((s) => {
      s.once('data', () => s.resetAndDestroy());
    });
    closeAfter(server);
    const port2 = await listenOn(server);
    const n = nodeNet.connect(port2, '127.0.0.1');
    n.on('error', (e) => peerErrors.push(e));
    const peerClosed = new Promise((resolve) => n.on('close', resolve));
    await once(n, 'connect');
    n.write('x');
    await peerClosed;
    expect(peerErrors.map((e) => e.code)).toEqual(['ECONNRESET']);
  });

  it('setNoDelay and setKeepAlive reach the socket (read back with getsockopt), also when set before connecting', async () => {
    const { port } = await nodeServer(() => {});
    const c = new net.Socket();
    c.setNoDelay(true);
    c.setKeepAlive(true, 7000);
    c.connect(port, '127.0.0.1');
    await once(c, 'connect');
    const fd = fdOf({ port: c.localPort! }, { port });
    expect(getsockoptInt(fd, IPPROTO_TCP, TCP_NODELAY)).toBe(1);
    expect(getsockoptInt(fd, SOL_SOCKET, SO_KEEPALIVE)).toBe(1);
    expect(getsockoptInt(fd, IPPROTO_TCP, TCP_KEEPIDLE)).toBe(7);
    expect(c.setNoDelay(false)).toBe(c);
    expect(getsockoptInt(fd, IPPROTO_TCP, TCP_NODELAY)).toBe(0);
    c.setKeepAlive(false);
    expect(getsockoptInt(fd, SOL_SOCKET, SO_KEEPALIVE)).toBe(0);
    c.destroy();
    // Server options apply to accepted sockets.
    let accepted: net.Socket | undefined;
    const server = net.createServer({ noDelay: true, keepAlive: true, keepAliveInitialDelay: 3000 }, (s) => (accepted = s));
    closeAfter(server);
    const port2 = await listenOn(server);
    const n = nodeNet.connect(port2, '127.0.0.1');
    await once(n, 'connect');
    while (accepted === undefined) await sleep(2);
    const sfd = fdOf({ port: port2 }, { port: n.localPort! });
    expect(getsockoptInt(sfd, IPPROTO_TCP, TCP_NODELAY)).toBe(1);
    expect(getsockoptInt(sfd, SOL_SOCKET, SO_KEEPALIVE)).toBe(1);
    expect(getsockoptInt(sfd, IPPROTO_TCP, TCP_KEEPIDLE)).toBe(3);
    accepted.destroy();
    n.destroy();
  });

  it("setTimeout: 'timeout' only after the set idleness (activity restarts the clock), the socket stays open, 0 turns it off", async () => {
    const { port } = await nodeServer((s) => s.pipe(s));
    const c = net.connect(port, '127.0.0.1');
    await once(c, 'connect');
    const MS = 200;
    let lastActivity = performance.now();
    const idleAtTimeout: number[] = [];
    c.on('data', () => (lastActivity = performance.now()));
    c.on('timeout', () => idleAtTimeout.push(performance.now() - lastActivity));
    c.setTimeout(MS);
    expect(c.timeout).toBe(MS);
    const start = performance.now();
    // Activity for well over MS: a timer that was not restarted would fire in the middle.
    while (performance.now() - start < 2.5 * MS) {
      c.write('x'); // echoed: activity both ways
      await sleep(20);
    }
    await once(c, 'timeout');
    // Lower bounds only (a loaded machine only makes them larger): every 'timeout' came at
    // least MS after the activity before it.
    expect(idleAtTimeout.length).toBeGreaterThan(0);
    for (const idle of idleAtTimeout) expect(idle).toBeGreaterThanOrEqual(MS - 5);
    expect(c.destroyed).toBe(false);
    c.setTimeout(0);
    expect(c.timeout).toBe(0);
    c.destroy();
  });

  it('from inside handlers: end() in connect, destroy() in data, write() in end (half-open), server.close() in connection', async () => {
    const server = net.createServer({ allowHalfOpen: true }, (s) => {
      server.close(); // stops listening; this connection goes on
      s.on('data', () => {});
      s.on('end', () => s.end('bye'));
    });
    const serverClosed = once(server, 'close');
    const port = await listenOn(server);
    const c = net.connect(port, '127.0.0.1', () => c.end('hi'));
    const { data } = await collect(c);
    expect(data.toString()).toBe('bye');
    await serverClosed;
    expect(server.listening).toBe(false);
    await expect(new Promise((_, reject) => nodeNet.connect(port, '127.0.0.1').on('error', reject))).rejects.toMatchObject({ code: 'ECONNREFUSED' });

    const { port: port2 } = await nodeServer((s) => s.write(pattern(1 << 20)));
    const d = net.connect(port2, '127.0.0.1');
    let datas = 0;
    d.on('data', () => {
      datas++;
      d.destroy();
    });
    await once(d, 'close');
    expect(datas).toBe(1);
  });

  it('server: listen forms (no arguments, options, port and backlog), listen twice refused, close while a host lookup runs', async () => {
    const a = net.createServer();
    await new Promise<void>((resolve) => a.listen(resolve)); // no arguments: a port the kernel picks, on ::
    expect(a.address()).toMatchObject({ address: '::', family: 'IPv6' });
    expect(() => a.listen(0)).toThrow(expect.objectContaining({ code: 'ERR_SERVER_ALREADY_LISTEN' }) as Error);
    await new Promise((r) => a.close(r));
    expect(a.address()).toBeNull();
    // Reachable over IPv4 too (dual-stack), with the options form.
    const b = net.createServer((s) => s.end('dual'));
    closeAfter(b);
    b.listen({ port: 0 });
    const port = (b.address() as { port: number }).port; // synchronous, as node:net
    const c = nodeNet.connect(port, '127.0.0.1');
    expect((await collect(c)).data.toString()).toBe('dual');
    // close() while listen() still looks its host up: nothing listens afterwards.
    const d = net.createServer();
    d.listen(0, 'localhost');
    const closed = new Promise((resolve) => d.close(resolve));
    expect(await closed).toMatchObject({ code: 'ERR_SERVER_NOT_RUNNING' });
    await sleep(100);
    expect(d.listening).toBe(false);
    // close() of a server that never listened: the callback gets ERR_SERVER_NOT_RUNNING, as node:net.
    const e = net.createServer();
    expect(await new Promise((resolve) => e.close(resolve))).toMatchObject({ code: 'ERR_SERVER_NOT_RUNNING' });
  });

  it('server: maxConnections drops the extra connection with a drop event; getConnections counts', async () => {
    const server = net.createServer((s) => s.resume());
    closeAfter(server);
    server.maxConnections = 1;
    const drops: unknown[] = [];
    server.on('drop', (d) => drops.push(d));
    const port = await listenOn(server);
    const first = nodeNet.connect(port, '127.0.0.1');
    await once(first, 'connect');
    await sleep(50);
    const second = nodeNet.connect(port, '127.0.0.1');
    second.on('error', () => {});
    await new Promise((resolve) => second.on('close', resolve));
    expect(drops).toHaveLength(1);
    expect(drops[0]).toMatchObject({ localPort: port, remoteAddress: '127.0.0.1', remotePort: expect.any(Number) as number });
    expect(await new Promise((resolve) => server.getConnections((_e, n) => resolve(n)))).toBe(1);
    first.destroy();
  });

  it("a 'data' listener that throws: the error goes to uncaughtException, as with node:net, and the rest still arrives", async () => {
    const r = await runChild(`
import * as net from '@repo/src/node/net/index.js';
const thrown = [];
process.on('uncaughtException', (err) => thrown.push(err.message));
const server = net.createServer((s) => s.end(Buffer.alloc(1 << 20, 7)));
server.listen(0, '127.0.0.1', () => {
  const c = net.connect(server.address().port, '127.0.0.1');
  let bytes = 0;
  let n = 0;
  c.on('data', (d) => {
    bytes += d.length;
    if (n++ < 3) throw new Error('listener failed ' + n);
  });
  c.on('close', () => {
    server.close();
    console.log(JSON.stringify({ bytes, thrown }));
  });
});
`);
    expect(r.code, describeExit(r)).toBe(0);
    expect(lastJson(r)).toEqual({ bytes: 1 << 20, thrown: ['listener failed 1', 'listener failed 2', 'listener failed 3'] });
  });

  it('constructor and connect refuse what they cannot do, as node:net (bad port, fd, paths)', () => {
    expect(() => net.connect(70000, '127.0.0.1')).toThrow(expect.objectContaining({ code: 'ERR_SOCKET_BAD_PORT' }) as Error);
    expect(() => new net.Socket({ fd: 0 })).toThrow(/not supported/);
    expect(() => net.connect('/tmp/some.sock' as never)).toThrow(/Unix domain sockets/);
    expect(() => net.createServer().listen('/tmp/some.sock')).toThrow(/Unix domain sockets/);
  });
});
