/**
 * `Socket`: a TCP connection as a `stream.Duplex`, shaped like `node:net`'s, on io_uring.
 *
 * - **Receiving**: a multishot `RECV` picking buffers from the thread's shared buffer ring
 *   (`src/net/source.ts`). Each chunk is copied out as it is reaped, so every chunk the
 *   stream emits is a `Buffer` the consumer owns. When `push()` says the readable buffer is
 *   full, the receive is paused (cancelled; the bytes wait in the kernel, and TCP slows the
 *   peer down) until the stream asks for more (`_read`).
 * - **Sending**: the stream's own write queue, flushed by `_writev`: everything written while
 *   a send was in flight goes out in the next one (small chunks concatenated into one `SEND`,
 *   larger ones as one `SENDMSG` with an iovec each, up to 1024). One send in flight at a
 *   time keeps the bytes in order; the write callback runs when the kernel took every byte,
 *   so a writer that respects `write()`'s return value and `'drain'` is held back as with
 *   `node:net`. `MSG_NOSIGNAL`: a peer that went away is an `EPIPE` error, never a signal.
 * - **Lifecycle** as `node:net`: `'connect'` and `'ready'`, `'end'` when the peer ends, an
 *   automatic `end()` unless `allowHalfOpen`, `'close'` with `hadError` (the stream's own
 *   `emitClose` is off, as in Node), errors shaped like Node's (`src/node/net/errors.ts`).
 *   `destroy()` cancels what is in flight (`shutdown(2)` wakes a blocked send) and closes the
 *   descriptor at once.
 * - **Liveness**: a connected socket that reads keeps the process alive (its receive is in
 *   flight); after `unref()` it does not (readiness polling, see `src/net/source.ts`).
 *   Timeouts (`setTimeout`) use unreferenced timers, as Node's do.
 *
 * Not supported (use `node:net` for these): wrapping an existing descriptor (`{ fd }`),
 * `onread`.
 *
 * @module
 */
import { lookup as dnsLookup, type LookupAddress, type LookupAllOptions } from 'node:dns';
import { getDefaultAutoSelectFamily, isIP, type AddressInfo } from 'node:net';
import { Duplex, type DuplexOptions } from 'node:stream';
import { MsgHdr } from '../../abi/msghdr.js';
import { IPPROTO_TCP, SO_KEEPALIVE, SOL_SOCKET, TCP_KEEPIDLE, TCP_NODELAY } from '../../net/listener.js';
import { addressFamily, AF_INET6, encodeSockaddr, SHUT_RDWR, SHUT_WR, SOCK_CLOEXEC, SOCK_STREAM, type DecodedAddress } from '../../net/sockaddr.js';
import { localAddress as getsockname, remoteAddress as getpeername } from '../../net/socket-names.js';
import { closeQuietly, RecvSource } from '../../net/source.js';
import { bindSync, setsockoptInt, shutdownSync, socketSync } from '../../sys/posix.js';
import { netEngine, type NetEngine } from './engine.js';
import { codedError, netError } from './errors.js';
import { resetOnClose } from './linger.js';

const MSG_NOSIGNAL = 0x4000;
const MSG_WAITALL = 0x100;
const SEND_FLAGS = MSG_NOSIGNAL | MSG_WAITALL;
/** Chunks up to this total are concatenated into one send; above it, one sendmsg. */
const CONCAT_LIMIT = 64 * 1024;
/** `IOV_MAX`. */
const MAX_IOVECS = 1024;

/** @internal How a server hands an accepted descriptor to a new Socket. */
export const kAccepted = Symbol('tsuring.net.accepted');

/** Options of `new Socket(options)`, as `node:net`'s. */
export interface SocketConstructorOpts extends Pick<DuplexOptions, 'highWaterMark' | 'readableHighWaterMark' | 'writableHighWaterMark'> {
  /** Keep the writable side open after the peer ends (default false). */
  allowHalfOpen?: boolean | undefined;
  /** Destroys the socket when aborted. */
  signal?: AbortSignal | undefined;
  /** `TCP_NODELAY` once connected (default false, as Node). */
  noDelay?: boolean | undefined;
  /** `SO_KEEPALIVE` once connected (default false). */
  keepAlive?: boolean | undefined;
  /** Milliseconds before the first keep-alive probe. */
  keepAliveInitialDelay?: number | undefined;
  /** Not supported here: `tsuring/net` does not wrap existing descriptors (use `node:net`). */
  fd?: number | undefined;
  /** @internal */
  [kAccepted]?: { fd: number; pauseOnCreate: boolean } | undefined;
}

/** Options of `socket.connect(options)` / `net.connect(options)` (TCP). */
export interface TcpConnectOpts {
  /** The server's port (a number or numeric string). */
  port: number | string;
  /** Host name or IP address; default `'localhost'`. */
  host?: string | undefined;
  /** Local address to bind to before connecting. */
  localAddress?: string | undefined;
  /** Local port to bind to before connecting. */
  localPort?: number | undefined;
  /** 4, 6 or 0 (either), for the name lookup. */
  family?: number | undefined;
  /** `dns.lookup` hints. */
  hints?: number | undefined;
  /** A custom lookup function, with `dns.lookup`'s signature. */
  lookup?: typeof dnsLookup | undefined;
  /** Try every address the lookup returns, in order (default: `net.getDefaultAutoSelectFamily()`). */
  autoSelectFamily?: boolean | undefined;
  /** Sets `socket.setTimeout(timeout)`. */
  timeout?: number | undefined;
  /** `TCP_NODELAY` once connected. */
  noDelay?: boolean | undefined;
  /** `SO_KEEPALIVE` once connected. */
  keepAlive?: boolean | undefined;
  /** Milliseconds before the first keep-alive probe. */
  keepAliveInitialDelay?: number | undefined;
}

type Callback = (err?: Error | null) => void;

/** Port validation as Node's `validatePort` (numbers and numeric strings, 0 to 65535). */
export function checkPort(port: unknown, name = 'Port', allowZero = true): number {
  const n = typeof port === 'string' && port.trim() !== '' ? Number(port) : port;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 0 || n > 0xffff || (n === 0 && !allowZero)) {
    throw codedError(RangeError, 'ERR_SOCKET_BAD_PORT', `${name} should be >= 0 and < 65536. Received ${typeof port === 'string' ? `type string ('${port}')` : `${typeof port} (${String(port)})`}.`);
  }
  return n;
}

/**
 * A TCP socket: `net.Socket`'s API as a `stream.Duplex` on io_uring (see the module notes).
 */
export class Socket extends Duplex {
  /** The server that accepted this socket, if any (as Node's). */
  server: unknown = null;
  /** @internal Same as `server` (Node's private name, which `node:http` reads). */
  _server: { _connections: number; _emitCloseIfDrained(): void } | null = null;

  #engine: NetEngine | undefined;
  #fd = -1;
  #connecting = false;
  #source: RecvSource | undefined;
  #connectAbort: AbortController | undefined;
  #peer: DecodedAddress | null | undefined;
  #local: DecodedAddress | null | undefined;
  #noDelay: boolean | undefined;
  #keepAlive: { enable: boolean; delaySeconds: number } | undefined;
  #unref = false;
  #timeoutMs = 0;
  #timer: NodeJS.Timeout | undefined;
  #bytesRead = 0;
  #bytesDispatched = 0;
  /** A write that came while connecting: sent once connected. */
  #pending: { chunks: Buffer[]; cb: Callback } | undefined;
  #resetOnDestroy = false;

  /** `new Socket([options])`, as `net.Socket`: not connected until {@link Socket.connect}. */
  constructor(options: SocketConstructorOpts = {}) {
    if (options === null || typeof options !== 'object') {
      throw codedError(TypeError, 'ERR_INVALID_ARG_TYPE', `The "options" argument must be of type object. Received ${String(options)}`);
    }
    if (options.fd !== undefined) {
      throw codedError(Error, 'ERR_TSURING_NET_UNSUPPORTED', 'tsuring/net: new Socket({ fd }) is not supported (it would not know what the descriptor is); use node:net for existing descriptors');
    }
    super({
      highWaterMark: options.highWaterMark,
      readableHighWaterMark: options.readableHighWaterMark,
      writableHighWaterMark: options.writableHighWaterMark,
      allowHalfOpen: Boolean(options.allowHalfOpen),
      // As net.Socket: 'close' is emitted by the socket itself, with hadError.
      emitClose: false,
      autoDestroy: true,
    });
    if (options.noDelay === true) this.#noDelay = true;
    if (options.keepAlive === true) this.#keepAlive = { enable: true, delaySeconds: Math.trunc((options.keepAliveInitialDelay ?? 0) / 1000) };
    this.on('end', onReadableStreamEnd);
    const signal = options.signal;
    if (signal !== undefined) {
      if (signal.aborted) process.nextTick(() => this.destroy(abortError(signal)));
      else {
        const onAbort = (): void => void this.destroy(abortError(signal));
        signal.addEventListener('abort', onAbort, { once: true });
        this.once('close', () => signal.removeEventListener('abort', onAbort));
      }
    }
    const accepted = options[kAccepted];
    if (accepted !== undefined) {
      this.#engine = netEngine();
      this.#adopt(accepted.fd);
      if (accepted.pauseOnCreate) this.pause();
      else this.read(0);
    }
  }

  // -------------------------------------------------------------------------------------
  // Addresses and counters

  /** `{ address, family, port }` of the local end, or `{}` when not connected (as Node). */
  address(): AddressInfo | Record<string, never> {
    const local = this.#localName();
    return local === null ? {} : { address: local.address, family: local.family, port: local.port };
  }

  /** The peer's IP address (cached once read; undefined before connecting or after closing, unless read while connected), as Node. */
  get remoteAddress(): string | undefined {
    return this.#peerName()?.address;
  }

  /** `'IPv4'` or `'IPv6'`, the peer's family. */
  get remoteFamily(): string | undefined {
    return this.#peerName()?.family;
  }

  /** The peer's port. */
  get remotePort(): number | undefined {
    return this.#peerName()?.port;
  }

  /** The local IP address. */
  get localAddress(): string | undefined {
    return this.#localName()?.address;
  }

  /** The local port. */
  get localPort(): number | undefined {
    return this.#localName()?.port;
  }

  /** `'IPv4'` or `'IPv6'`, the local family. */
  get localFamily(): string | undefined {
    return this.#localName()?.family;
  }

  /** Bytes received. */
  get bytesRead(): number {
    return this.#bytesRead;
  }

  /** Bytes handed to the kernel plus bytes still queued in the stream (as Node counts them: a write in flight counts once). */
  get bytesWritten(): number {
    let bytes = this.#bytesDispatched;
    if (this.#pending !== undefined) for (const c of this.#pending.chunks) bytes += c.length;
    // Writable's `writableBuffer` (the entries not yet handed to _write/_writev): not in @types/node.
    const queued = (this as unknown as { writableBuffer: { chunk: Buffer | string; encoding: BufferEncoding }[] }).writableBuffer;
    for (const entry of queued) {
      bytes += typeof entry.chunk === 'string' ? Buffer.byteLength(entry.chunk, entry.encoding) : entry.chunk.length;
    }
    return bytes;
  }

  /** @deprecated As in Node: `writableLength`. */
  get bufferSize(): number {
    return this.writableLength;
  }

  /** Whether a connect is under way. */
  get connecting(): boolean {
    return this.#connecting;
  }

  /** True until connected (and while connecting). */
  get pending(): boolean {
    return this.#fd < 0 || this.#connecting;
  }

  /** `'opening'`, `'open'`, `'readOnly'`, `'writeOnly'` or `'closed'`, as Node. */
  get readyState(): 'opening' | 'open' | 'readOnly' | 'writeOnly' | 'closed' {
    if (this.#connecting) return 'opening';
    if (this.readable && this.writable) return 'open';
    if (this.readable && !this.writable) return 'readOnly';
    if (!this.readable && this.writable) return 'writeOnly';
    return 'closed';
  }

  /** The idle timeout set with `setTimeout` (0: none). */
  get timeout(): number {
    return this.#timeoutMs;
  }

  #peerName(): DecodedAddress | null {
    if (this.#peer === undefined) {
      if (this.#fd < 0 || this.#connecting) return null;
      try {
        this.#peer = getpeername(this.#fd);
      } catch {
        return null; // ENOTCONN after a reset: not cached, as Node
      }
    }
    return this.#peer;
  }

  #localName(): DecodedAddress | null {
    if (this.#local === undefined) {
      if (this.#fd < 0) return null;
      try {
        this.#local = getsockname(this.#fd);
      } catch {
        return null;
      }
    }
    return this.#local;
  }

  // -------------------------------------------------------------------------------------
  // Options

  /** `TCP_NODELAY` (default argument true); remembered until connected. */
  setNoDelay(noDelay = true): this {
    const on = Boolean(noDelay);
    if (this.#fd < 0 || this.#connecting) {
      this.#noDelay = on;
      return this;
    }
    if (this.#noDelay !== on) {
      this.#noDelay = on;
      this.#sockopt(IPPROTO_TCP, TCP_NODELAY, on ? 1 : 0);
    }
    return this;
  }

  /** `SO_KEEPALIVE`, and `TCP_KEEPIDLE` from `initialDelay` (ms); remembered until connected. */
  setKeepAlive(enable = false, initialDelay = 0): this {
    this.#keepAlive = { enable: Boolean(enable), delaySeconds: Math.trunc(Number(initialDelay) / 1000) || 0 };
    if (this.#fd >= 0 && !this.#connecting) this.#applyKeepAlive();
    return this;
  }

  #applyKeepAlive(): void {
    const ka = this.#keepAlive;
    if (ka === undefined) return;
    this.#sockopt(SOL_SOCKET, SO_KEEPALIVE, ka.enable ? 1 : 0);
    if (ka.enable && ka.delaySeconds >= 1) this.#sockopt(IPPROTO_TCP, TCP_KEEPIDLE, ka.delaySeconds);
  }

  #sockopt(level: number, name: number, value: number): void {
    try {
      setsockoptInt(this.#fd, level, name, value);
    } catch {
      /* as Node: a failed option on a dying socket is not an error of its own */
    }
  }

  /**
   * Emits `'timeout'` after `msecs` without activity (reads or writes); 0 turns it off. The
   * timer is unreferenced, and the socket is not closed: that is the listener's call.
   */
  setTimeout(msecs: number, callback?: () => void): this {
    if (typeof msecs !== 'number' || !Number.isFinite(msecs) || msecs < 0) {
      throw codedError(RangeError, 'ERR_OUT_OF_RANGE', `The value of "msecs" is out of range. It must be a non-negative finite number. Received ${String(msecs)}`);
    }
    if (callback !== undefined && typeof callback !== 'function') {
      throw codedError(TypeError, 'ERR_INVALID_ARG_TYPE', `The "callback" argument must be of type function. Received ${typeof callback}`);
    }
    if (this.destroyed) return this;
    this.#timeoutMs = msecs;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    if (msecs === 0) {
      if (callback !== undefined) this.removeListener('timeout', callback);
      return this;
    }
    this.#timer = setTimeout(() => this.emit('timeout'), msecs);
    this.#timer.unref();
    if (callback !== undefined) this.once('timeout', callback);
    return this;
  }

  /** Restarts the idle timer (on every read and write). */
  #active(): void {
    this.#timer?.refresh();
  }

  /** Lets the process exit while this socket waits for input (see the module notes). */
  unref(): this {
    this.#unref = true;
    this.#source?.unref();
    return this;
  }

  /** Keeps the process alive while this socket is open and reading (the default). */
  ref(): this {
    this.#unref = false;
    this.#source?.ref();
    return this;
  }

  // -------------------------------------------------------------------------------------
  // Connecting

  /**
   * Connects: `connect(port[, host][, listener])` or `connect(options[, listener])`.
   * Host names go through `dns.lookup` (or `options.lookup`); with `autoSelectFamily` every
   * address is tried in turn. Errors are emitted (`'error'`, then `'close'`), as in Node.
   */
  connect(options: TcpConnectOpts, connectListener?: () => void): this;
  connect(port: number | string, host?: string, connectListener?: () => void): this;
  connect(port: number | string, connectListener?: () => void): this;
  connect(...args: unknown[]): this {
    const [options, listener] = normalizeConnectArgs(args);
    if (this.#connecting) throw codedError(Error, 'ERR_SOCKET_CONNECTING', 'Socket is already connecting');
    if (this.#fd >= 0 && !this.destroyed) throw codedError(Error, 'ERR_SOCKET_CONNECTING', 'Socket is already connected');
    if (this.destroyed) throw codedError(Error, 'ERR_SOCKET_CLOSED', 'Socket is closed');
    const port = checkPort(options.port);
    const host = options.host ?? 'localhost';
    if (typeof host !== 'string') throw codedError(TypeError, 'ERR_INVALID_ARG_TYPE', `The "options.host" property must be of type string. Received ${typeof host}`);
    if (options.localAddress !== undefined && isIP(options.localAddress) === 0) {
      throw codedError(TypeError, 'ERR_INVALID_IP_ADDRESS', `Invalid IP address: ${String(options.localAddress)}`);
    }
    if (options.localPort !== undefined) checkPort(options.localPort, 'options.localPort');
    const family = options.family ?? 0;
    if (family !== 0 && family !== 4 && family !== 6) throw codedError(TypeError, 'ERR_INVALID_ARG_VALUE', `The property 'options.family' must be one of: 0, 4, 6. Received ${String(family)}`);
    if (options.lookup !== undefined && typeof options.lookup !== 'function') {
      throw codedError(TypeError, 'ERR_INVALID_ARG_TYPE', 'The "options.lookup" property must be of type function.');
    }
    if (options.noDelay === true) this.#noDelay = true;
    if (options.keepAlive === true) this.#keepAlive = { enable: true, delaySeconds: Math.trunc((options.keepAliveInitialDelay ?? 0) / 1000) };
    if (options.timeout !== undefined) this.setTimeout(options.timeout);
    if (listener !== undefined) this.once('connect', listener);
    this.#engine = netEngine();
    this.#connecting = true;
    this.#connectAbort = new AbortController();
    this.#active();
    const ip = isIP(host);
    if (ip !== 0) {
      void this.#attempt([{ address: host, family: ip }], port, options);
      return this;
    }
    const lookup = options.lookup ?? dnsLookup;
    const lookupOptions: LookupAllOptions = { all: true, family: family as 0 | 4 | 6 };
    if (options.hints !== undefined) lookupOptions.hints = options.hints;
    const autoSelect = options.autoSelectFamily ?? getDefaultAutoSelectFamily();
    try {
      (lookup as (h: string, o: LookupAllOptions, cb: (err: NodeJS.ErrnoException | null, addresses: LookupAddress[] | string, family?: number) => void) => void)(host, lookupOptions, (err, addresses, fam) => {
        if (this.destroyed || !this.#connecting) return;
        // A custom lookup may answer in the single-address form.
        const list: LookupAddress[] = err !== null ? [] : Array.isArray(addresses) ? addresses : [{ address: addresses, family: fam ?? isIP(addresses) }];
        this.emit('lookup', err, list[0]?.address, list[0]?.family, host);
        if (err !== null) {
          this.destroy(err);
          return;
        }
        if (list.length === 0) {
          this.destroy(Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: 'ENOTFOUND', syscall: 'getaddrinfo', hostname: host }));
          return;
        }
        void this.#attempt(autoSelect ? list : list.slice(0, 1), port, options);
      });
    } catch (err) {
      process.nextTick(() => this.destroy(err as Error));
    }
    return this;
  }

  /** Tries each address in turn; the first that connects wins. */
  async #attempt(addresses: { address: string; family: number }[], port: number, options: TcpConnectOpts): Promise<void> {
    const errors: Error[] = [];
    const signal = this.#connectAbort!.signal;
    for (const { address } of addresses) {
      if (this.destroyed || signal.aborted) return;
      let fd = -1;
      try {
        fd = socketSync(addressFamily(address), SOCK_STREAM | SOCK_CLOEXEC, 0);
        this.#fd = fd;
        if (options.localAddress !== undefined || options.localPort !== undefined) {
          const local = options.localAddress ?? (addressFamily(address) === AF_INET6 ? '::' : '0.0.0.0');
          try {
            bindSync(fd, encodeSockaddr({ address: local, port: options.localPort ?? 0 }, 'connect: options.localAddress'));
          } catch (err) {
            throw Object.assign(netError(err, 'connect', address, port), { syscall: 'bind' });
          }
        }
        await this.#engine!.ring.connect(fd, { address, port }, { signal });
        if (this.destroyed) return; // destroy() closed fd
        this.#connected();
        return;
      } catch (err) {
        if (this.destroyed || signal.aborted) return;
        if (fd >= 0) closeQuietly(fd);
        this.#fd = -1;
        errors.push((err as { syscall?: string }).syscall === 'bind' ? (err as Error) : netError(err, 'connect', address, port));
      }
    }
    this.#connecting = false;
    if (errors.length === 1) this.destroy(errors[0]);
    else {
      const aggregate = new AggregateError(errors, errors.map((e) => e.message).join('; ')) as AggregateError & { code?: string };
      const code = (errors[0] as { code?: string } | undefined)?.code;
      if (code !== undefined) aggregate.code = code;
      this.destroy(aggregate);
    }
  }

  #connected(): void {
    this.#connecting = false;
    this.#connectAbort = undefined;
    this.#adopt(this.#fd);
    this.#active();
    this.emit('connect');
    this.emit('ready');
    const pending = this.#pending;
    this.#pending = undefined;
    if (pending !== undefined) this.#send(pending.chunks, pending.cb);
    if (this.readable && !this.isPaused()) this.#source!.resume();
  }

  /** Takes a connected descriptor: options, the receive source. */
  #adopt(fd: number): void {
    this.#fd = fd;
    if (this.#noDelay !== undefined) this.#sockopt(IPPROTO_TCP, TCP_NODELAY, this.#noDelay ? 1 : 0);
    this.#applyKeepAlive();
    const source = new RecvSource(this.#engine!.ring, fd, this.#engine!.pool, {
      data: (chunk) => {
        if (this.destroyed) return;
        this.#bytesRead += chunk.length;
        this.#active();
        if (!this.push(chunk)) source.pause();
      },
      end: () => {
        if (!this.destroyed) this.push(null);
      },
      error: (err) => {
        if (!this.destroyed) this.destroy(netError(err, 'read'));
      },
    });
    if (this.#unref) source.unref();
    this.#source = source;
  }

  // -------------------------------------------------------------------------------------
  // Duplex implementation

  /** @internal */
  override _read(): void {
    if (this.#connecting || this.#source === undefined) return; // started once connected
    this.#source.resume();
  }

  /** @internal */
  override _write(chunk: Buffer, _encoding: BufferEncoding, cb: Callback): void {
    this.#send([chunk], cb);
  }

  /** @internal */
  override _writev(chunks: { chunk: Buffer; encoding: BufferEncoding }[], cb: Callback): void {
    const buffers = new Array<Buffer>(chunks.length);
    for (let i = 0; i < chunks.length; i++) buffers[i] = chunks[i]!.chunk;
    this.#send(buffers, cb);
  }

  #send(chunks: Buffer[], cb: Callback): void {
    if (this.#connecting) {
      this.#pending = { chunks, cb };
      return;
    }
    if (this.#fd < 0) {
      cb(codedError(Error, 'ERR_SOCKET_CLOSED', 'Socket is closed'));
      return;
    }
    this.#active();
    let total = 0;
    for (const c of chunks) total += c.length;
    this.#bytesDispatched += total;
    this.#sendAll(this.#fd, chunks, total).then(
      () => {
        this.#active();
        cb();
      },
      (err: unknown) => cb(this.destroyed ? null : netError(err, 'write')),
    );
  }

  /** Sends every byte of `chunks`, in order (see the module notes). */
  async #sendAll(fd: number, chunks: Buffer[], total: number): Promise<void> {
    const ring = this.#engine!.ring;
    if (chunks.length === 1 || total <= CONCAT_LIMIT) {
      let rest = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, total);
      while (rest.length > 0) {
        const n = await ring.send(fd, rest, { flags: SEND_FLAGS });
        rest = rest.subarray(n);
      }
      return;
    }
    let queue = chunks;
    while (queue.length > 0) {
      const batch = queue.length > MAX_IOVECS ? queue.slice(0, MAX_IOVECS) : queue;
      let n = await ring.sendmsg(fd, new MsgHdr({ iov: batch }), { flags: SEND_FLAGS });
      // Drop what went out; a partly sent chunk goes on from where it stopped.
      let i = 0;
      while (i < queue.length && n >= queue[i]!.length) n -= queue[i++]!.length;
      queue = queue.slice(i);
      if (n > 0) queue[0] = queue[0]!.subarray(n);
      while (queue.length > 0 && queue[0]!.length === 0) queue.shift();
    }
  }

  /** @internal Shuts the sending side down once every write went out (`end()`). */
  override _final(cb: Callback): void {
    if (this.#connecting) {
      this.once('connect', () => this._final(cb));
      return;
    }
    if (this.#fd < 0) {
      cb();
      return;
    }
    try {
      shutdownSync(this.#fd, SHUT_WR);
    } catch (err) {
      if ((err as { code?: string }).code !== 'ENOTCONN') {
        cb(netError(err, 'shutdown'));
        return;
      }
    }
    cb();
  }

  /** @internal */
  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    this.#connecting = false;
    this.#connectAbort?.abort();
    this.#connectAbort = undefined;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#source?.stop();
    const fd = this.#fd;
    this.#fd = -1;
    if (fd >= 0) {
      if (this.#resetOnDestroy) resetOnClose(fd);
      else {
        // Wakes a send blocked on a full socket buffer (EPIPE) and the receive, so no op keeps
        // the socket alive after close. The FIN it sends is what close() would send anyway.
        try {
          shutdownSync(fd, SHUT_RDWR);
        } catch {
          /* not connected */
        }
      }
      closeQuietly(fd);
    }
    const pending = this.#pending;
    this.#pending = undefined;
    cb(err);
    if (pending !== undefined) pending.cb(codedError(Error, 'ERR_SOCKET_CLOSED', 'Socket is closed'));
    const hadError = err !== null && err !== undefined;
    process.nextTick(() => this.emit('close', hadError));
    const server = this._server;
    if (server !== null) {
      server._connections--;
      server._emitCloseIfDrained();
    }
  }

  /** Ends the writable side, then destroys once every write went out. */
  destroySoon(): void {
    if (this.writable) this.end();
    if (this.writableFinished) this.destroy();
    else this.once('finish', () => this.destroy());
  }

  /** Closes with a TCP RST instead of a FIN (`SO_LINGER` 0), as Node's `resetAndDestroy()`. */
  resetAndDestroy(): this {
    if (this.#connecting) {
      this.once('connect', () => this.resetAndDestroy());
      return this;
    }
    this.#resetOnDestroy = true;
    return this.destroy();
  }
}


function abortError(signal: AbortSignal): Error {
  return Object.assign(new Error('The operation was aborted'), { name: 'AbortError', code: 'ABORT_ERR', cause: signal.reason as unknown });
}

/** As Node: once the peer ended, a write after our automatic end() is an EPIPE. */
function onReadableStreamEnd(this: Socket): void {
  if (!this.allowHalfOpen) this.write = writeAfterFIN;
}

function writeAfterFIN(this: Socket, chunk: unknown, encoding?: unknown, cb?: unknown): boolean {
  if (!this.writableEnded) return Duplex.prototype.write.call(this, chunk, encoding as BufferEncoding, cb as Callback);
  const callback = typeof encoding === 'function' ? encoding : cb;
  const err = Object.assign(new Error('This socket has been ended by the other party'), { code: 'EPIPE' });
  if (typeof callback === 'function') process.nextTick(callback as Callback, err);
  this.destroy(err);
  return false;
}

/** `connect()`'s argument forms → `[options, listener]`. */
export function normalizeConnectArgs(args: unknown[]): [TcpConnectOpts, (() => void) | undefined] {
  const last = args[args.length - 1];
  const listener = typeof last === 'function' ? (last as () => void) : undefined;
  const first = args[0];
  if (first !== null && typeof first === 'object') return [first as TcpConnectOpts, listener];
  if (typeof first === 'string' && !/^\s*\d+\s*$/.test(first)) {
    throw codedError(Error, 'ERR_TSURING_NET_UNSUPPORTED', `tsuring/net: connecting to a path (${first}) is not supported; use node:net for Unix domain sockets`);
  }
  const options: TcpConnectOpts = { port: first as number };
  if (typeof args[1] === 'string') options.host = args[1];
  return [options, listener];
}

