/**
 * `Server`: a TCP listener shaped like `node:net`'s, accepting with io_uring.
 *
 * - `listen()` takes Node's forms (`listen(port[, host][, backlog][, cb])`,
 *   `listen(options[, cb])`, `listen([cb])`), and binds and listens synchronously with the
 *   plain system calls (`src/net/listener.ts`), as libuv does, so `server.address()` works
 *   right after `listen()` with an IP host; `'listening'` follows on the next tick. No host:
 *   `::` (dual-stack), or `0.0.0.0` where IPv6 is unavailable. A host name is looked up first.
 * - Accepting: one multishot `ACCEPT` while listening (`src/net/source.ts`); each connection
 *   becomes a {@link Socket} that starts reading at once (unless `pauseOnConnect`), emitted as
 *   `'connection'`. Accept errors (`EMFILE`, ...) are emitted as `'error'` and accepting goes
 *   on shortly after, as in Node.
 * - `close()` stops accepting and closes the listener at once (new connections are refused);
 *   `'close'` follows when the last accepted connection has closed.
 * - Liveness: listening keeps the process alive; after `unref()` it does not.
 * - Errors as Node's: `listen EADDRINUSE: address already in use 127.0.0.1:8080` with
 *   `code`, `errno`, `syscall: 'listen'`, `address`, `port`.
 *
 * Not supported (use `node:net`): Unix domain sockets and named pipes (`path`), listening on
 * an existing handle or descriptor, cluster workers sharing a listener.
 *
 * @module
 */
import { lookup as dnsLookup } from 'node:dns';
import { EventEmitter } from 'node:events';
import { isIP, type AddressInfo } from 'node:net';
import { getDefaultHighWaterMark } from 'node:stream';
import { listenNow } from '../../net/listener.js';
import { localAddress as getsockname, remoteAddress as getpeername } from '../../net/socket-names.js';
import { AcceptSource, closeQuietly } from '../../net/source.js';
import { shutdownSync } from '../../sys/posix.js';
import { SHUT_RDWR } from '../../net/sockaddr.js';
import { netEngine } from './engine.js';
import { codedError, netError } from './errors.js';
import { checkPort, kAccepted, Socket } from './socket.js';

/** Options of `createServer(options)`, as `node:net`'s. */
export interface ServerOpts {
  /** Accepted sockets keep their writable side open after the peer ends (default false). */
  allowHalfOpen?: boolean | undefined;
  /** Accepted sockets start paused (no reading until `resume()`). */
  pauseOnConnect?: boolean | undefined;
  /** `TCP_NODELAY` on accepted sockets (default false, as Node). */
  noDelay?: boolean | undefined;
  /** `SO_KEEPALIVE` on accepted sockets (default false). */
  keepAlive?: boolean | undefined;
  /** Milliseconds before the first keep-alive probe. */
  keepAliveInitialDelay?: number | undefined;
  /** The accepted sockets' readable and writable high-water marks. */
  highWaterMark?: number | undefined;
}

/** Options of `server.listen(options)`. */
export interface ListenOptions {
  /** Port (a number or numeric string); 0 or omitted: the kernel picks one. */
  port?: number | string | undefined;
  /** IP address or host name; omitted: `::` (dual-stack), or `0.0.0.0` without IPv6. */
  host?: string | undefined;
  /** `listen(2)` backlog; default 511. */
  backlog?: number | undefined;
  /** For `::` and other IPv6 hosts: IPv6 only, no IPv4-mapped connections. */
  ipv6Only?: boolean | undefined;
  /** Closes the server when aborted. */
  signal?: AbortSignal | undefined;
  /** Not supported (Unix domain sockets): use `node:net`. */
  path?: string | undefined;
  /** Accepted and ignored (no cluster here). */
  exclusive?: boolean | undefined;
}

const DEFAULT_BACKLOG = 511;

/**
 * A TCP server: `net.Server`'s API on io_uring (see the module notes). Events:
 * `'listening'`, `'connection'` (a {@link Socket}), `'error'`, `'close'`, `'drop'`.
 */
export class Server extends EventEmitter {
  /** @internal Open accepted connections (Node's name, which `node:http` reads). */
  _connections = 0;
  /** Refuse connections beyond this many (`'drop'` is emitted for each). */
  maxConnections: number | undefined;
  /** Accepted sockets keep their writable side open after the peer ends. */
  allowHalfOpen: boolean;
  /** Accepted sockets start paused. */
  pauseOnConnect: boolean;
  /** `TCP_NODELAY` on accepted sockets. */
  noDelay: boolean;
  /** `SO_KEEPALIVE` on accepted sockets. */
  keepAlive: boolean;
  /** Seconds before the first keep-alive probe (as Node stores it). */
  keepAliveInitialDelay: number;
  /** The accepted sockets' high-water marks. */
  highWaterMark: number;
  #fd = -1;
  #source: AcceptSource | undefined;
  #unref = false;
  /** A listen() under way (host lookup), to refuse a second one. */
  #starting = false;
  /** Counts listen() calls and close()s: a lookup answering after close() is dropped. */
  #attempt = 0;

  /** `new Server([options][, connectionListener])`, as `net.Server`; the listener handles `'connection'`. */
  constructor(options?: ServerOpts | ((socket: Socket) => void), connectionListener?: (socket: Socket) => void) {
    super();
    let opts: ServerOpts;
    if (typeof options === 'function') {
      connectionListener = options;
      opts = {};
    } else if (options === undefined || options === null) {
      opts = {};
    } else if (typeof options === 'object') {
      opts = { ...options };
    } else {
      throw codedError(TypeError, 'ERR_INVALID_ARG_TYPE', `The "options" argument must be of type object. Received type ${typeof options}`);
    }
    if (typeof connectionListener === 'function') this.on('connection', connectionListener);
    if (opts.keepAliveInitialDelay !== undefined && (typeof opts.keepAliveInitialDelay !== 'number' || !Number.isFinite(opts.keepAliveInitialDelay))) {
      throw codedError(TypeError, 'ERR_INVALID_ARG_TYPE', 'The "options.keepAliveInitialDelay" property must be of type number.');
    }
    this.allowHalfOpen = opts.allowHalfOpen === true;
    this.pauseOnConnect = opts.pauseOnConnect === true;
    this.noDelay = opts.noDelay === true;
    this.keepAlive = opts.keepAlive === true;
    this.keepAliveInitialDelay = Math.trunc((opts.keepAliveInitialDelay ?? 0) / 1000);
    this.highWaterMark = opts.highWaterMark ?? getDefaultHighWaterMark(false);
  }

  /** Whether the server is listening. */
  get listening(): boolean {
    return this.#fd >= 0;
  }

  /**
   * Starts listening: `listen(port[, host][, backlog][, cb])`, `listen(options[, cb])` or
   * `listen([cb])` (a port the kernel picks). `cb` is added as a `'listening'` listener.
   *
   * @throws `ERR_SERVER_ALREADY_LISTEN`, `ERR_SOCKET_BAD_PORT`; listen failures are emitted
   *   as `'error'`.
   */
  listen(port?: number | string, host?: string, backlog?: number, listeningListener?: () => void): this;
  listen(port?: number | string, host?: string, listeningListener?: () => void): this;
  listen(port?: number | string, backlog?: number, listeningListener?: () => void): this;
  listen(port?: number | string, listeningListener?: () => void): this;
  listen(options: ListenOptions, listeningListener?: () => void): this;
  listen(listeningListener?: () => void): this;
  listen(...args: unknown[]): this {
    if (this.#fd >= 0 || this.#starting) throw codedError(Error, 'ERR_SERVER_ALREADY_LISTEN', 'Listen method has been called more than once without closing.');
    const last = args[args.length - 1];
    const cb = typeof last === 'function' ? (last as () => void) : undefined;
    let options: ListenOptions;
    const first = args[0];
    if (args.length === 0 || typeof first === 'function') options = { port: 0 };
    else if (first !== null && typeof first === 'object') options = first as ListenOptions;
    else if (typeof first === 'string' && !/^\s*\d+\s*$/.test(first)) options = { path: first };
    else {
      options = { port: first as number };
      if (typeof args[1] === 'string') options.host = args[1];
    }
    if (options.path !== undefined) {
      throw codedError(Error, 'ERR_TSURING_NET_UNSUPPORTED', `tsuring/net: listening on a path (${options.path}) is not supported; use node:net for Unix domain sockets and pipes`);
    }
    if (options.port === undefined && !('port' in options)) {
      throw codedError(TypeError, 'ERR_INVALID_ARG_VALUE', `The argument 'options' must have the property "port" or "path". Received ${JSON.stringify(options)}`);
    }
    const port = checkPort(options.port ?? 0, 'options.port');
    const backlogArg = toBacklog(args.length > 1 ? args[1] : undefined) ?? toBacklog(args.length > 2 ? args[2] : undefined);
    const backlog = (typeof options.backlog === 'number' && options.backlog > 0 ? options.backlog : undefined) ?? backlogArg ?? DEFAULT_BACKLOG;
    if (cb !== undefined) this.once('listening', cb);
    const signal = options.signal;
    if (signal !== undefined) {
      if (signal.aborted) {
        process.nextTick(() => this.close());
        return this;
      }
      const onAbort = (): void => void this.close();
      signal.addEventListener('abort', onAbort, { once: true });
      this.once('close', () => signal.removeEventListener('abort', onAbort));
    }
    const host = options.host;
    if (host === undefined || host === '' || isIP(host) !== 0) {
      this.#listenOn(host === '' ? undefined : host, port, backlog, options.ipv6Only === true);
      return this;
    }
    this.#starting = true;
    const attempt = ++this.#attempt;
    dnsLookup(host, (err, address) => {
      if (attempt !== this.#attempt) return; // close() came first
      this.#starting = false;
      if (err !== null) this.emit('error', err);
      else this.#listenOn(address, port, backlog, options.ipv6Only === true);
    });
    return this;
  }

  #listenOn(host: string | undefined, port: number, backlog: number, ipv6Only: boolean): void {
    let fd = -1;
    let address = host ?? '::';
    try {
      try {
        fd = listenNow({ endpoint: { address, port }, backlog, ipv6Only }).release();
      } catch (err) {
        if (host !== undefined) throw err;
        // No IPv6 here (or '::' refused): the IPv4 wildcard, as Node does.
        address = '0.0.0.0';
        fd = listenNow({ endpoint: { address, port }, backlog }).release();
      }
    } catch (err) {
      const error = netError(err, 'listen', address, port);
      process.nextTick(() => this.emit('error', error));
      return;
    }
    this.#fd = fd;
    const source = new AcceptSource(netEngine().ring, fd, {
      connection: (client) => this.#onConnection(client),
      error: (err) => this.emit('error', netError(err, 'accept')),
    });
    this.#source = source;
    if (this.#unref) source.unref();
    source.resume();
    process.nextTick(() => {
      if (this.#fd === fd) this.emit('listening');
    });
  }

  #onConnection(fd: number): void {
    if (this.maxConnections !== undefined && this.maxConnections !== null && this._connections >= this.maxConnections) {
      let data: Record<string, unknown> | undefined;
      try {
        const local = getsockname(fd);
        const remote = getpeername(fd);
        data = { localAddress: local?.address, localPort: local?.port, localFamily: local?.family, remoteAddress: remote?.address, remotePort: remote?.port, remoteFamily: remote?.family };
      } catch {
        data = undefined;
      }
      closeQuietly(fd);
      this.emit('drop', data);
      return;
    }
    const socket = new Socket({
      allowHalfOpen: this.allowHalfOpen,
      readableHighWaterMark: this.highWaterMark,
      writableHighWaterMark: this.highWaterMark,
      noDelay: this.noDelay,
      keepAlive: this.keepAlive,
      keepAliveInitialDelay: this.keepAliveInitialDelay * 1000,
      [kAccepted]: { fd, pauseOnCreate: this.pauseOnConnect },
    });
    this._connections++;
    socket.server = this;
    socket._server = this;
    this.emit('connection', socket);
  }

  /**
   * `{ address, family, port }` of the listener, or null when not listening.
   */
  address(): AddressInfo | null {
    if (this.#fd < 0) return null;
    const local = getsockname(this.#fd);
    return local === null ? null : { address: local.address, family: local.family, port: local.port };
  }

  /**
   * Stops accepting and closes the listener now; `'close'` is emitted once every accepted
   * connection has closed. `cb` is a `'close'` listener (called with
   * `ERR_SERVER_NOT_RUNNING` when the server was not listening).
   */
  close(cb?: (err?: Error) => void): this {
    if (typeof cb === 'function') {
      if (this.#fd < 0) this.once('close', () => cb(codedError(Error, 'ERR_SERVER_NOT_RUNNING', 'Server is not running.')));
      else this.once('close', cb);
    }
    this.#attempt++;
    this.#starting = false;
    if (this.#fd >= 0) {
      const fd = this.#fd;
      this.#fd = -1;
      this.#source?.stop();
      this.#source = undefined;
      try {
        shutdownSync(fd, SHUT_RDWR); // stops listening now: the accept in flight holds the socket
      } catch {
        /* nothing to stop */
      }
      closeQuietly(fd);
    }
    this._emitCloseIfDrained();
    return this;
  }

  /** @internal Emits `'close'` (next tick) once not listening and no connection is open. */
  _emitCloseIfDrained(): void {
    if (this.#fd >= 0 || this._connections > 0) return;
    process.nextTick(() => this.emit('close'));
  }

  /** Calls `cb(null, count)` with the number of open accepted connections. */
  getConnections(cb: (err: Error | null, count: number) => void): this {
    process.nextTick(cb, null, this._connections);
    return this;
  }

  /** Lets the process exit while this server only listens (see the module notes). */
  unref(): this {
    this.#unref = true;
    this.#source?.unref();
    return this;
  }

  /** Keeps the process alive while listening (the default). */
  ref(): this {
    this.#unref = false;
    this.#source?.ref();
    return this;
  }

  /** `close()` as a promise, for `await using`. */
  async [Symbol.asyncDispose](): Promise<void> {
    if (this.#fd < 0) return;
    await new Promise<void>((resolve, reject) => this.close((err) => (err ? reject(err) : resolve())));
  }
}

function toBacklog(value: unknown): number | undefined {
  const n = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
  return typeof n === 'number' && Number.isFinite(n) && n > 0 ? n : undefined;
}

