/**
 * HTTP servers for a "node:http over tsuring/net vs node:http" row, one per process, with
 * the TCP workload's protocol (`tcp-server.ts`): the orchestrator starts it, reads
 * `PORT <n>` from its stdout, points the load generator at it, asks `{ cmd: 'cpu' }` over
 * IPC for the CPU time of the measured window, then kills it.
 *
 * - `node`: `http.createServer(handler).listen(0, '127.0.0.1')`, Node's own sockets.
 * - `tsuring-net`: the same `http.Server` and handler, fed with `tsuring/net` sockets:
 *   `net.createServer((s) => httpServer.emit('connection', s))`. It refuses to start (prints
 *   `SKIP ...`) when tsuring/net fell back to node:net, so a row never compares Node with
 *   itself under another name.
 *
 * The handler answers every request with `size` bytes (default: `hello, world\n`, the
 * classic tiny response) after reading the request body, keep-alive, with `TCP_NODELAY` on
 * both (Node's http server default): the row measures the socket layer, not the handler.
 *
 * What a load generator must do for a fair row: HTTP/1.1 keep-alive, a fixed number of
 * connections (e.g. 50) each with one request in flight (or a fixed pipeline depth), the
 * same request bytes for both servers, responses read completely (Content-Length), run on
 * other CPUs than the server (`taskset`), and report requests/s plus the server's CPU time
 * per request (the `cpu` query); medians over rounds that alternate the two servers.
 *
 * @module
 */
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export type HttpServerImpl = 'node' | 'tsuring-net';

export interface HttpServerParams {
  impl: HttpServerImpl;
  /** Response body bytes; default 13 (`hello, world\n`). */
  size?: number;
}

function answerCpuQueries(): void {
  process.on('message', (msg: unknown) => {
    if ((msg as { cmd?: unknown } | null)?.cmd === 'cpu') process.send!({ cpu: process.cpuUsage() });
  });
  process.on('disconnect', () => process.exit(0));
}

function handlerFor(size: number): (req: IncomingMessage, res: ServerResponse) => void {
  const body = size === 13 ? Buffer.from('hello, world\n') : Buffer.alloc(size, 0x61);
  const length = String(body.length);
  return (req, res) => {
    const respond = (): void => {
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': length });
      res.end(body);
    };
    if (req.readableEnded || req.headers['content-length'] === undefined) {
      req.resume();
      respond();
    } else {
      req.on('end', respond);
      req.resume();
    }
  };
}

/** Starts the server; prints `PORT <n>` (or `SKIP <reason>` and exits). */
export async function runHttpServer(params: HttpServerParams): Promise<void> {
  answerCpuQueries();
  const http = createHttpServer({ noDelay: true, keepAliveTimeout: 60_000 }, handlerFor(params.size ?? 13));
  if (params.impl === 'node') {
    http.listen(0, '127.0.0.1', () => process.stdout.write(`PORT ${(http.address() as AddressInfo).port}\n`));
    return;
  }
  const net = await import('../../src/node/net/index.js');
  if (net.backend !== 'io_uring') {
    process.stdout.write(`SKIP tsuring/net runs on node:net here (${net.backendReason ?? 'unknown reason'})\n`);
    process.exit(0);
  }
  const server = net.createServer({ noDelay: true }, (socket) => http.emit('connection', socket));
  server.listen(0, '127.0.0.1', () => process.stdout.write(`PORT ${(server.address() as AddressInfo).port}\n`));
}
