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
import * as net from './api.js';

export * from './api.js';

/**
 * The whole module as one object, for `import net from 'tsuring/net'` (as `node:net`'s
 * default). Its members are the named exports above.
 * @hidden
 */
export default net;
