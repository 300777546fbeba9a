/**
 * The exports of `tsuring/net` (see `index.ts`), in a module of their own so that the index
 * can also offer them as one default object.
 *
 * @module
 */
import * as nodeNet from 'node:net';
import { backend, backendReason, type NetBackend } from './engine.js';
import { Server as RingServer, type ListenOptions, type ServerOpts } from './server.js';
import { normalizeConnectArgs, Socket as RingSocket, type SocketConstructorOpts, type TcpConnectOpts } from './socket.js';

export { backend, backendReason, type NetBackend };
export type { ListenOptions, ServerOpts, SocketConstructorOpts, TcpConnectOpts };
/** The io_uring implementations, by name (what {@link Socket} and {@link Server} are unless {@link backend} is `'node'`). */
export { RingServer, RingSocket };

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

/** `net.isIP`: 4, 6 or 0 (Node's own, re-exported). */
export const isIP = nodeNet.isIP;
/** `net.isIPv4` (Node's own, re-exported). */
export const isIPv4 = nodeNet.isIPv4;
/** `net.isIPv6` (Node's own, re-exported). */
export const isIPv6 = nodeNet.isIPv6;
/** `net.BlockList` (Node's own, re-exported). */
export const BlockList = nodeNet.BlockList;
/** `net.SocketAddress` (Node's own, re-exported). */
export const SocketAddress = nodeNet.SocketAddress;
/** `net.getDefaultAutoSelectFamily` (Node's own, re-exported; {@link connect} honours it). */
export const getDefaultAutoSelectFamily = nodeNet.getDefaultAutoSelectFamily;
/** `net.setDefaultAutoSelectFamily` (Node's own, re-exported). */
export const setDefaultAutoSelectFamily = nodeNet.setDefaultAutoSelectFamily;
