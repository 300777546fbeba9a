/**
 * A TCP echo server on io_uring: one multishot ACCEPT, one multishot RECV per connection
 * picking buffers from a provided-buffer ring, and a SEND of each buffer back, which
 * recycles it once sent. Node's event loop is woken by the ring (no thread, no polling).
 *
 *   npx tsx examples/echo-server.ts [port]     # port 0 or none: pick a free one
 *
 * It prints `listening on 127.0.0.1:<port>` and stops cleanly on SIGINT (or SIGTERM).
 * Needs Linux 6.0 (multishot recv). It binds and listens with IORING_OP_BIND / LISTEN where
 * the kernel has them (6.11) and with the bind(2) / listen(2) system calls elsewhere.
 *
 * Importable too: `EchoServer.start()` is what the tests drive.
 */
import { pathToFileURL } from 'node:url';
import {
  AF_INET,
  BufferRing,
  IoUring,
  OwnedFd,
  encodeSockaddr,
  prepBind,
  prepCmdSock,
  prepListen,
  prepMultishotAccept,
  prepSend,
  prepSocket,
  SOCK_CLOEXEC,
  SOCK_STREAM,
  SOCKET_URING_OP_SETSOCKOPT,
  type Cqe,
  type Sqe,
} from '../src/index.js';
import { createWaker, type Waker } from '../src/loop/waker.js';
import { listenNow } from '../src/net/listener.js';
import { localAddress } from '../src/net/socket-names.js';

const SOL_SOCKET = 1;
const SO_REUSEADDR = 2;
const ENOBUFS = -105;
const ECANCELED = -125;
const EADDRINUSE = -98;

/** Options of {@link EchoServer.start}. */
export interface EchoServerOptions {
  /** TCP port on 127.0.0.1; 0 (default) picks a free one. */
  port?: number;
  /** Bytes per provided buffer (default 4096). */
  bufferSize?: number;
  /** Buffers in the ring, a power of two (default 256). */
  buffers?: number;
}

/** What each in-flight op is, kept in `sqe.userData` (one object per connection and op kind: no allocation per op). */
type Op = { kind: 'accept' } | { kind: 'recv'; conn: Connection } | { kind: 'send'; conn: Connection };

interface Connection {
  fd: OwnedFd;
  /** Received buffers waiting to be echoed, oldest first; the head may be partly sent. */
  queue: { bid: number; data: Uint8Array }[];
  sending: boolean;
  recvArmed: boolean;
  /** The receive side ended (EOF or error): close once the queue is sent. */
  recvDone: boolean;
  recvOp: Op;
  sendOp: Op;
}

/** Runs one op to completion before the server starts (the event loop is not involved yet). */
function runOne(ring: IoUring, fill: (sqe: Sqe) => void): number {
  const sqe = ring.getSqeOrThrow();
  fill(sqe);
  const id = sqe.id;
  ring.submitAndWait(1);
  let res = 0;
  ring.forEachCqe((cqe) => {
    if (cqe.id === id) res = cqe.res;
  });
  return res;
}

/** The server: a ring, its buffer ring, the listening socket and the open connections. */
export class EchoServer {
  readonly ring: IoUring;
  /** The provided-buffer ring every receive picks from. */
  readonly pool: BufferRing;
  readonly port: number;
  /** Counters, for logs and tests. */
  readonly stats = { accepted: 0, bytesEchoed: 0, outOfBuffers: 0 };
  readonly #listener: OwnedFd;
  readonly #waker: Waker;
  readonly #connections = new Set<Connection>();
  /** Connections whose receive ended with ENOBUFS: re-armed when a buffer comes back. */
  readonly #starved = new Set<Connection>();
  readonly #acceptOp: Op = { kind: 'accept' };
  #closing = false;

  private constructor(ring: IoUring, pool: BufferRing, listener: OwnedFd, port: number) {
    this.ring = ring;
    this.pool = pool;
    this.#listener = listener;
    this.port = port;
    this.#waker = createWaker(ring.fd, () => this.#onReady());
  }

  /** Opens the listening socket, maps the buffer ring and starts accepting. */
  static start(options: EchoServerOptions = {}): EchoServer {
    const ring = new IoUring({ entries: 256 });
    try {
      const ops = ['SOCKET', 'BIND', 'LISTEN'].every((op) => ring.probe.supports(op));
      const { fd, port } = ops ? EchoServer.#listen(ring, options.port ?? 0) : EchoServer.#listenWithSyscalls(options.port ?? 0);
      const pool = BufferRing.register(ring, { entries: options.buffers ?? 256, bufferSize: options.bufferSize ?? 4096 });
      const server = new EchoServer(ring, pool, fd, port);
      server.#armAccept();
      ring.submit();
      server.#waker.arm();
      return server;
    } catch (err) {
      ring.close();
      throw err;
    }
  }

  /** Before Linux 6.11 (no IORING_OP_BIND / LISTEN): the plain system calls. */
  static #listenWithSyscalls(port: number): { fd: OwnedFd; port: number } {
    const fd = listenNow({ endpoint: { address: '127.0.0.1', port }, backlog: 1024 });
    return { fd, port: localAddress(fd.fd)!.port };
  }

  static #listen(ring: IoUring, wanted: number): { fd: OwnedFd; port: number } {
    for (let attempt = 0; attempt < 50; attempt++) {
      const fd = OwnedFd.fromResult(runOne(ring, (s) => prepSocket(s, AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)), 'socket');
      if (ring.probe.supports('URING_CMD')) {
        runOne(ring, (s) => prepCmdSock(s, SOCKET_URING_OP_SETSOCKOPT, fd, SOL_SOCKET, SO_REUSEADDR, new Int32Array([1]))); // best effort
      }
      // io_uring has no getsockname: for "any port", try random ones.
      const port = wanted !== 0 ? wanted : 20000 + Math.floor(Math.random() * 40000);
      const bound = runOne(ring, (s) => prepBind(s, fd, encodeSockaddr({ address: '127.0.0.1', port })));
      if (bound === EADDRINUSE && wanted === 0) {
        fd.close();
        continue;
      }
      try {
        if (bound < 0) OwnedFd.fromResult(bound, 'bind');
        const listening = runOne(ring, (s) => prepListen(s, fd, 1024));
        if (listening < 0) OwnedFd.fromResult(listening, 'listen');
      } catch (err) {
        fd.close();
        throw err;
      }
      return { fd, port };
    }
    throw new Error('no free port found');
  }

  /** Connections currently open. */
  get connections(): number {
    return this.#connections.size;
  }

  #sqe(): Sqe {
    const sqe = this.ring.getSqe();
    if (sqe !== null) return sqe;
    this.ring.submit(); // the SQ is full: hand it over and try again
    return this.ring.getSqeOrThrow();
  }

  #armAccept(): void {
    const sqe = this.#sqe();
    prepMultishotAccept(sqe, this.#listener, null);
    sqe.userData = this.#acceptOp;
  }

  #armRecv(conn: Connection): void {
    const sqe = this.#sqe();
    this.pool.prepRecvMultishot(sqe, conn.fd);
    sqe.userData = conn.recvOp;
    conn.recvArmed = true;
  }

  #onReady(): void {
    if (this.#closing) return;
    this.ring.forEachCqe((cqe) => this.#complete(cqe));
    this.ring.submit();
  }

  #complete(cqe: Cqe): void {
    const op = cqe.userData as Op | undefined;
    if (op === undefined) return;
    if (op.kind === 'accept') {
      if (cqe.res >= 0) this.#open(new OwnedFd(cqe.res));
      else if (cqe.res !== ECANCELED) console.error(`accept failed: ${cqe.error()?.message}`);
      if (!cqe.more && !this.#closing) this.#armAccept();
      return;
    }
    const conn = op.conn;
    if (op.kind === 'recv') {
      if (cqe.bufferId >= 0) {
        conn.queue.push({ bid: cqe.bufferId, data: this.pool.take(cqe) });
        this.#trySend(conn);
      }
      if (!cqe.more) {
        conn.recvArmed = false;
        if (cqe.res === ENOBUFS) {
          this.stats.outOfBuffers++;
          this.#starved.add(conn); // every buffer is out: wait for one to come back
        } else if (cqe.res > 0) {
          this.#armRecv(conn); // the kernel ended the multishot op with data: re-arm
        } else {
          conn.recvDone = true; // 0: the peer shut down; < 0: an error
        }
      }
    } else {
      conn.sending = false;
      const head = conn.queue[0]!;
      if (cqe.res < 0) {
        // The peer is gone: drop what was queued; the receive side ends too.
        for (const item of conn.queue.splice(0)) this.pool.recycle(item.bid);
        conn.recvDone = true;
      } else {
        this.stats.bytesEchoed += cqe.res;
        head.data = head.data.subarray(cqe.res);
        if (head.data.byteLength === 0) {
          conn.queue.shift();
          this.pool.recycle(head.bid);
        }
        this.#trySend(conn);
      }
      this.#feedStarved();
    }
    this.#maybeClose(conn);
  }

  #open(fd: OwnedFd): void {
    this.stats.accepted++;
    const conn: Connection = { fd, queue: [], sending: false, recvArmed: false, recvDone: false, recvOp: undefined!, sendOp: undefined! };
    conn.recvOp = { kind: 'recv', conn };
    conn.sendOp = { kind: 'send', conn };
    this.#connections.add(conn);
    this.#armRecv(conn);
  }

  #trySend(conn: Connection): void {
    if (conn.sending || conn.queue.length === 0) return;
    const sqe = this.#sqe();
    prepSend(sqe, conn.fd, conn.queue[0]!.data); // one send at a time keeps the bytes in order
    sqe.userData = conn.sendOp;
    conn.sending = true;
  }

  /** Re-arms as many starved receives as there are buffers to pick from. */
  #feedStarved(): void {
    let room = this.pool.inKernel;
    for (const conn of this.#starved) {
      if (room-- <= 0) return;
      this.#starved.delete(conn);
      if (!conn.recvDone) this.#armRecv(conn);
    }
  }

  #maybeClose(conn: Connection): void {
    if (!conn.recvDone || conn.recvArmed || conn.sending || conn.queue.length > 0 || conn.fd.closed) return;
    this.#starved.delete(conn);
    this.#connections.delete(conn);
    conn.fd.close();
  }

  /** Stops: cancels every op (the ring's close waits for them), then closes every socket. */
  close(): void {
    if (this.#closing) return;
    this.#closing = true;
    this.#waker.close();
    this.ring.close();
    for (const conn of this.#connections) conn.fd.close();
    this.#connections.clear();
    this.#listener.close();
  }
}

async function main(): Promise<void> {
  const arg = process.argv[2];
  const port = arg === undefined ? 0 : Number(arg);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    console.error(`usage: npx tsx examples/echo-server.ts [port]   (got ${JSON.stringify(arg)})`);
    process.exitCode = 2;
    return;
  }
  const server = EchoServer.start({ port });
  console.log(`listening on 127.0.0.1:${server.port}`);
  const stop = (signal: string): void => {
    server.close();
    console.log(`${signal}: closed after ${server.stats.accepted} connection(s), ${server.stats.bytesEchoed} bytes echoed`);
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exitCode = 1;
  });
}
