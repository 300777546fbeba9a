/**
 * `tsuring/net`: `node:net`'s TCP API on io_uring. Change one import:
 *
 * ```ts
 * import net from 'tsuring/net'; // was: import net from 'node:net'
 * const server = net.createServer((socket) => socket.pipe(socket)).listen(8080);
 * ```
 *
 * - {@link createServer} / {@link Server}: listeners accepting with a multishot `ACCEPT`.
 * - {@link connect} / {@link createConnection} / {@link Socket}: sockets as `stream.Duplex`,
 *   receiving with a multishot `RECV` into a shared buffer ring, sending batched writes.
 *   Every chunk a socket emits is a `Buffer` the consumer owns (copied out of the ring).
 * - `node:http` serves over it: `net.createServer((s) => httpServer.emit('connection', s))`.
 * - Everything `node:net` has that is not a TCP socket or server (`isIP`, `BlockList`,
 *   `SocketAddress`, the auto-select-family settings, ...) is re-exported from Node.
 *
 * **Fallback.** Where io_uring is unavailable (a seccomp filter, `kernel.io_uring_disabled`,
 * a kernel older than 6.0), every export is `node:net`'s own, with one
 * `process.emitWarning` naming the cause; {@link backend} says which is in use
 * (`TSURING_NET_BACKEND=node` forces Node's, without a warning).
 *
 * Not supported on the io_uring backend (use `node:net` for these): Unix domain sockets and
 * pipes (`path`), wrapping existing descriptors (`{ fd }`), cluster-shared listeners.
 *
 * @module
 */
import * as nodeNet from 'node:net';
import { backend, backendReason, type NetBackend } from './engine.js';
import { Server as RingServer, type ListenOptions, type ServerOpts } from './server.js';
import { normalizeConnectArgs, Socket as RingSocket, type SocketConstructorOpts, type TcpConnectOpts } from './socket.js';

export { backend, backendReason, type NetBackend };
export type { ListenOptions, ServerOpts, SocketConstructorOpts, TcpConnectOpts };

const useRing = backend === 'io_uring';

/** A TCP socket (`net.Socket` where {@link backend} is `'node'`). */
export const Socket: typeof RingSocket = useRing ? RingSocket : (nodeNet.Socket as unknown as typeof RingSocket);
/** @inheritDoc Socket */
export type Socket = RingSocket;
/** Legacy alias of {@link Socket}, as in `node:net`. */
export const Stream = Socket;
/** A TCP server (`net.Server` where {@link backend} is `'node'`). */
export const Server: typeof RingServer = useRing ? RingServer : (nodeNet.Server as unknown as typeof RingServer);
/** @inheritDoc Server */
export type Server = RingServer;

/** `net.createServer([options][, connectionListener])`. */
export function createServer(connectionListener?: (socket: Socket) => void): Server;
export function createServer(options?: ServerOpts, connectionListener?: (socket: Socket) => void): Server;
export function createServer(options?: ServerOpts | ((socket: Socket) => void), connectionListener?: (socket: Socket) => void): Server {
  if (!useRing) return nodeNet.createServer(options as nodeNet.ServerOpts, connectionListener as unknown as (s: nodeNet.Socket) => void) as unknown as Server;
  return new RingServer(options, connectionListener);
}

/**
 * `net.connect(port[, host][, connectListener])` / `net.connect(options[, connectListener])`:
 * a new {@link Socket}, connecting.
 */
export function connect(options: TcpConnectOpts & SocketConstructorOpts, connectListener?: () => void): Socket;
export function connect(port: number | string, host?: string, connectListener?: () => void): Socket;
export function connect(port: number | string, connectListener?: () => void): Socket;
export function connect(...args: unknown[]): Socket {
  if (!useRing) return (nodeNet.connect as (...a: unknown[]) => nodeNet.Socket)(...args) as unknown as Socket;
  const [options] = normalizeConnectArgs(args);
  const socket = new RingSocket(options as SocketConstructorOpts);
  return (socket.connect as (...a: unknown[]) => Socket)(...args);
}

/** Same as {@link connect}. */
export const createConnection = connect;

export const {
  isIP,
  isIPv4,
  isIPv6,
  BlockList,
  SocketAddress,
  getDefaultAutoSelectFamily,
  setDefaultAutoSelectFamily,
} = nodeNet;

/** The whole module as one object, for `import net from 'tsuring/net'`. */
const net = {
  backend,
  backendReason,
  Socket,
  Stream,
  Server,
  createServer,
  connect,
  createConnection,
  isIP,
  isIPv4,
  isIPv6,
  BlockList,
  SocketAddress,
  getDefaultAutoSelectFamily,
  setDefaultAutoSelectFamily,
};
export default net;
