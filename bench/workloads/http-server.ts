/**
 * HTTP servers for the "node:http over tsuring/net vs node:http" row, one per process, with
 * the network rows' protocol (`tcp-server.ts`): the orchestrator starts it pinned to one
 * CPU, reads `PORT <n>` from its stdout, points the C load generator (`bench/c/echo-load.c
 * http`, on another CPU) at it, which reads the server's CPU time from /proc/PID/stat, then
 * kills it.
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
 * What the load generator does for a fair row: HTTP/1.1 keep-alive, a fixed number of
 * connections each with a fixed pipeline depth, the same request bytes for both servers,
 * responses read completely (Content-Length), on another CPU than the server, reporting
 * requests/s plus the server's CPU time per request; medians over rounds that alternate
 * the two servers.
 *
 * @module
 */
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tsuringNet } from './tsuring-net.js';

export type HttpServerImpl = 'node' | 'tsuring-net';

export interface HttpServerParams {
  impl: HttpServerImpl;
  /** Response body bytes; default 13 (`hello, world\n`). */
  size?: number;
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
  const http = createHttpServer({ noDelay: true, keepAliveTimeout: 60_000 }, handlerFor(params.size ?? 13));
  if (params.impl === 'node') {
    http.listen(0, '127.0.0.1', () => process.stdout.write(`PORT ${(http.address() as AddressInfo).port}\n`));
    return;
  }
  const net = await tsuringNet();
  const server = net.createServer({ noDelay: true }, (socket) => http.emit('connection', socket));
  server.listen(0, '127.0.0.1', () => process.stdout.write(`PORT ${(server.address() as AddressInfo).port}\n`));
}
