/**
 * Servers for the network rows, one per process (the orchestrator starts it, pinned to one
 * CPU, reads `PORT <n>` from its stdout, points the C load generator `bench/c/echo-load.c`
 * at it from another CPU, then kills it; `SKIP <reason>` instead of a port when this kernel
 * or build cannot run it). Echo servers:
 *
 * - `tsuring`: the raw API on Node's event loop, shaped like `examples/echo-server.ts`: one
 *   multishot ACCEPT, one multishot RECV per connection picking buffers from a provided
 *   buffer ring, and a SEND of each received buffer, which goes back to the ring once sent.
 *   A waker (uv_poll on the ring fd) calls back when CQEs arrive; every callback reaps all
 *   CQEs with one hoisted handler and submits what they started in one `io_uring_enter`.
 *   Tags are small integers (`fd * 2 + kind`): nothing is allocated per op except the
 *   view `BufferRing.take` returns.
 * - `tsuring-tcp`: the library's TCP helper (`createServer` on an `AsyncIoUring`), echoing
 *   with `for await (const chunk of conn) await conn.write(chunk)`.
 * - `net`: `net.createServer`, writing back each `'data'` chunk.
 * - `tsuring-net`: the same code on `tsuring/net` (src/node/net), the drop-in `node:net`.
 *
 * `http-net` and `http-tsuring-net` are the HTTP servers of `http-server.ts`. The
 * `tsuring-net` servers print `SKIP` where tsuring/net falls back to node:net, so no row
 * compares Node with itself under another name.
 *
 * All set `TCP_NODELAY` on accepted sockets (the TCP helper does by default), so Nagle's
 * algorithm cannot hold back a split echo in any of them.
 *
 * @module
 */
import * as nodeNet from 'node:net';
import {
  AsyncIoUring,
  AF_INET,
  BufferRing,
  createServer,
  IoUring,
  OwnedFd,
  encodeSockaddr,
  prepBind,
  prepCmdSock,
  prepClose,
  prepListen,
  prepMultishotAccept,
  prepSend,
  prepSocket,
  SOCK_CLOEXEC,
  SOCK_STREAM,
  SOCKET_URING_OP_SETSOCKOPT,
  type Cqe,
  type Sqe,
} from '../../src/index.js';
import { createWaker } from '../../src/loop/waker.js';
import { listenNow } from '../../src/net/listener.js';
import { localAddress } from '../../src/net/socket-names.js';
import { runHttpServer } from './http-server.js';
import { tsuringNet, type NetModule } from './tsuring-net.js';

/**
 * Receive buffer size of the io_uring servers: large enough that a pipelined burst of 4 KiB
 * requests arrives in one buffer and goes back in one send, as `net` (which reads up to
 * 64 KiB at a time) does.
 */
const RECV_BUFFER_BYTES = 16384;
const ENOBUFS = -105;
const EADDRINUSE = -98;
const ACCEPT_TAG = -1;
const IPPROTO_TCP = 6;
const TCP_NODELAY = 1;

function serveNet(net: NetModule): void {
  const server = net.createServer({ noDelay: true }, (socket: nodeNet.Socket) => {
    socket.setNoDelay(true);
    socket.on('data', (chunk) => socket.write(chunk));
    socket.on('error', () => socket.destroy());
  });
  server.listen(0, '127.0.0.1', () => {
    const address = server.address();
    if (address === null || typeof address === 'string') throw new Error('no port');
    process.stdout.write(`PORT ${address.port}\n`);
  });
}

/** Runs one op before the server starts; returns its res. */
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

interface Conn {
  fd: number;
  /** Received buffers not yet echoed (ids and views), oldest first. */
  bids: number[];
  views: Uint8Array[];
  sending: boolean;
  recvArmed: boolean;
  recvDone: boolean;
  closed: boolean;
}

/** The raw server's listening socket where it came from the system calls. */
let heldListener: OwnedFd | undefined;

function serveTsuring(): void {
  const ring = new IoUring({ entries: 512, cqEntries: 4096, prefer: [['singleIssuer'], ['coopTaskrun', 'taskrunFlag'], 'submitAll'] });
  let listener = -1;
  let port = 0;
  // Before Linux 6.11 (no IORING_OP_BIND / LISTEN) the listening socket comes from the
  // system calls; it is held for the process's life (the server runs until killed).
  if (!['SOCKET', 'BIND', 'LISTEN'].every((op) => ring.probe.supports(op))) {
    heldListener = listenNow({ endpoint: { address: '127.0.0.1', port: 0 }, backlog: 1024 });
    listener = heldListener.fd;
    port = localAddress(listener)!.port;
  }
  for (let attempt = 0; attempt < 50 && listener < 0; attempt++) {
    const fd = runOne(ring, (s) => prepSocket(s, AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (fd < 0) throw new Error(`socket: ${fd}`);
    port = 20000 + Math.floor(Math.random() * 40000);
    const bound = runOne(ring, (s) => prepBind(s, fd, encodeSockaddr({ address: '127.0.0.1', port })));
    if (bound === EADDRINUSE) {
      runOne(ring, (s) => prepClose(s, fd));
      continue;
    }
    if (bound < 0) throw new Error(`bind: ${bound}`);
    const listening = runOne(ring, (s) => prepListen(s, fd, 1024));
    if (listening < 0) throw new Error(`listen: ${listening}`);
    listener = fd;
  }
  if (listener < 0) throw new Error('no free port found');

  const pool = BufferRing.register(ring, { entries: 1024, bufferSize: RECV_BUFFER_BYTES });
  const conns: (Conn | undefined)[] = [];
  const one = new Int32Array([1]);
  const starved: Conn[] = [];

  const sqe = (): Sqe => {
    const s = ring.getSqe();
    if (s !== null) return s;
    ring.submit();
    return ring.getSqeOrThrow();
  };
  const armAccept = (): void => {
    const s = sqe();
    prepMultishotAccept(s, listener, null);
    s.userData = ACCEPT_TAG;
  };
  const armRecv = (conn: Conn): void => {
    const s = sqe();
    pool.prepRecvMultishot(s, conn.fd);
    s.userData = conn.fd * 2;
    conn.recvArmed = true;
  };
  const trySend = (conn: Conn): void => {
    if (conn.sending || conn.views.length === 0) return;
    const s = sqe();
    prepSend(s, conn.fd, conn.views[0]!);
    s.userData = conn.fd * 2 + 1;
    conn.sending = true;
  };
  const maybeClose = (conn: Conn): void => {
    if (!conn.recvDone || conn.recvArmed || conn.sending || conn.views.length > 0 || conn.closed) return;
    conn.closed = true;
    conns[conn.fd] = undefined;
    prepClose(sqe(), conn.fd);
  };
  const feedStarved = (): void => {
    while (starved.length > 0 && pool.inKernel > 0) {
      const conn = starved.pop()!;
      if (!conn.recvDone && !conn.closed) armRecv(conn);
    }
  };

  const onCqe = (cqe: Cqe): void => {
    const tag = cqe.userData;
    if (typeof tag !== 'number') return; // the CQE of a close: nothing to do
    if (tag === ACCEPT_TAG) {
      if (cqe.res >= 0) {
        const conn: Conn = { fd: cqe.res, bids: [], views: [], sending: false, recvArmed: false, recvDone: false, closed: false };
        conns[conn.fd] = conn;
        if (ring.probe.supports('URING_CMD')) prepCmdSock(sqe(), SOCKET_URING_OP_SETSOCKOPT, conn.fd, IPPROTO_TCP, TCP_NODELAY, one);
        armRecv(conn);
      }
      if (!cqe.more) armAccept();
      return;
    }
    const conn = conns[tag >>> 1];
    if (conn === undefined) return;
    if ((tag & 1) === 0) {
      const bid = cqe.bufferId;
      if (bid >= 0) {
        conn.views.push(pool.take(cqe));
        conn.bids.push(bid);
        trySend(conn);
      }
      if (!cqe.more) {
        conn.recvArmed = false;
        if (cqe.res === ENOBUFS) starved.push(conn);
        else if (cqe.res > 0) armRecv(conn);
        else conn.recvDone = true;
      }
    } else {
      conn.sending = false;
      if (cqe.res < 0) {
        for (const bid of conn.bids) pool.recycle(bid);
        conn.bids.length = 0;
        conn.views.length = 0;
        conn.recvDone = true;
      } else {
        const head = conn.views[0]!;
        if (cqe.res < head.byteLength) {
          conn.views[0] = head.subarray(cqe.res);
        } else {
          conn.views.shift();
          pool.recycle(conn.bids.shift()!);
        }
        trySend(conn);
      }
      if (starved.length > 0) feedStarved();
    }
    maybeClose(conn);
  };

  const waker = createWaker(ring.fd, () => {
    ring.forEachCqe(onCqe);
    ring.submit();
  });
  armAccept();
  ring.submit();
  waker.arm();
  process.stdout.write(`PORT ${port}\n`);
}

async function serveTcpHelper(): Promise<void> {
  const ring = new AsyncIoUring({ entries: 512 });
  // The TCP helper binds and listens with the system calls where the kernel lacks the opcodes.
  const server = await createServer(ring, {
    host: '127.0.0.1',
    port: 0,
    bufferSize: RECV_BUFFER_BYTES,
    buffers: 1024,
    async onConnection(conn) {
      for await (const chunk of conn) await conn.write(chunk);
    },
    onError() {
      /* the load generator hangs up at the end: expected */
    },
  });
  process.stdout.write(`PORT ${server.port}\n`);
}

export type ServerImpl = 'tsuring' | 'tsuring-tcp' | 'net' | 'tsuring-net' | 'http-net' | 'http-tsuring-net';

export async function runServer(params: { impl: ServerImpl }): Promise<void> {
  switch (params.impl) {
    case 'net':
      serveNet(nodeNet);
      return;
    case 'tsuring-net':
      serveNet(await tsuringNet());
      return;
    case 'http-net':
      await runHttpServer({ impl: 'node' });
      return;
    case 'http-tsuring-net':
      await runHttpServer({ impl: 'tsuring-net' });
      return;
    case 'tsuring-tcp':
      await serveTcpHelper();
      return;
    case 'tsuring':
      serveTsuring();
      return;
  }
}
