/**
 * A small TCP layer on an {@link AsyncIoUring}: a server on one multishot `ACCEPT` and a
 * multishot `RECV` per connection picking buffers from one shared {@link BufferRing}, and a
 * client `connect`. Everything moves through the ring; no `net` module, no threads.
 *
 * ```ts
 * const server = await createServer(ring, {
 *   host: '127.0.0.1', port: 0,
 *   async onConnection(conn) {
 *     for await (const chunk of conn) await conn.write(chunk); // echo
 *   },
 * });
 * ```
 *
 * **Chunks** from `for await (const chunk of conn)` are yours: fresh `Buffer`s, copied out of
 * the buffer ring as they arrive, so keeping them (collect then concatenate, an unawaited
 * `write(chunk)`, a stream) is safe. {@link Connection.borrowedChunks} yields zero-copy views
 * instead, each valid only until the loop asks for the next chunk.
 *
 * **Kernels.** The server needs Linux 6.0 (multishot receive; multishot accept is 5.19). It
 * binds and listens with `IORING_OP_BIND` / `LISTEN` where the kernel has them (6.11) and
 * with the `bind(2)` / `listen(2)` system calls elsewhere (see `ServerOptions.listenVia`).
 * The client needs 5.19 (`IORING_OP_SOCKET`).
 *
 * @module
 */
import type { SocketAddress } from 'node:net';
import { OwnedFd } from '../abi/owned-fd.js';
import type { AsyncIoUring } from '../async/async-ring.js';
import type { AcceptMultishot, RecvMultishot } from '../async/multishot.js';
import { ArgumentError, describeReceived } from '../errors.js';
import { BufferRing } from '../register/provided.js';
import { setsockoptInt } from '../sys/posix.js';
import { checkListenVia, IPPROTO_TCP, listenOnRing, TCP_NODELAY, type ListenVia } from './listener.js';
import { addressFamily, encodeSockaddr, SOCK_CLOEXEC, SOCK_STREAM, type DecodedAddress, type SocketEndpoint } from './sockaddr.js';
import { localAddress, remoteAddress } from './socket-names.js';

export type { ListenVia };

const MSG_NOSIGNAL = 0x4000;
/** Bytes per receive when a connection reads without a buffer ring. */
const PLAIN_RECV_BYTES = 64 * 1024;

/** Options of {@link createServer}. */
export interface ServerOptions {
  /** Address to listen on (an IP address); default `'127.0.0.1'`. */
  host?: string | undefined;
  /** Port; 0 (default) lets the kernel pick one (read it back from `server.port`). */
  port?: number | undefined;
  /** Listen backlog; default 511 (as Node). */
  backlog?: number | undefined;
  /** Called for each connection. If it returns a promise, the connection is closed when it settles. */
  onConnection: (conn: Connection) => unknown;
  /** Errors from `onConnection` and from accepting; default: `process.emitWarning`. */
  onError?: ((err: unknown, conn?: Connection) => void) | undefined;
  /** Bytes per receive buffer; default 16384. */
  bufferSize?: number | undefined;
  /** Receive buffers shared by all connections (a power of two); default 512. */
  buffers?: number | undefined;
  /** Set `TCP_NODELAY` on accepted connections (default true, as Node's `noDelay` in recent versions). */
  noDelay?: boolean | undefined;
  /**
   * How to bind and listen: `'auto'` (default: `IORING_OP_BIND` / `LISTEN` where the kernel
   * has them, Linux 6.11, else the `bind(2)` / `listen(2)` system calls), `'io_uring'` (the
   * ops only; an `UnsupportedOpError` on older kernels) or `'syscall'`.
   */
  listenVia?: ListenVia | undefined;
}

/** Options of {@link connect}. */
export interface ConnectOptions {
  /** The server's IP address (no name resolution); default `'127.0.0.1'`. */
  host?: string | undefined;
  /** The server's port. */
  port: number;
  /** Receive through a multishot `RECV` from this buffer ring; default: one `recv` at a time into a 64 KiB buffer. */
  bufferRing?: BufferRing | undefined;
  /** Cancels the socket and connect ops. */
  signal?: AbortSignal | undefined;
}

function report(onError: ServerOptions['onError'], err: unknown, conn?: Connection): void {
  if (onError !== undefined) {
    onError(err, conn);
    return;
  }
  process.emitWarning(`tsuring TCP server: ${err instanceof Error ? err.message : String(err)}`, { code: 'TSURING_TCP_SERVER' });
}

/**
 * One TCP connection: `for await (const chunk of conn)` to receive, `write()` to send
 * (writes go out in order, each in full), `end()` to shut down the sending side, `close()`.
 */
export class Connection implements AsyncIterable<Uint8Array>, AsyncDisposable {
  /** The socket (closed by {@link Connection.close}). */
  readonly fd: OwnedFd;
  readonly #ring: AsyncIoUring;
  readonly #pool: BufferRing | undefined;
  #reader: RecvMultishot | undefined;
  readonly #abort = new AbortController();
  #writing: Promise<void> | undefined;
  #closing: Promise<void> | undefined;
  readonly #closedPromise: Promise<void>;
  #resolveClosed!: () => void;
  #iterated = false;

  /** @internal Use {@link createServer} or {@link connect}. */
  constructor(ring: AsyncIoUring, fd: OwnedFd, pool: BufferRing | undefined) {
    this.#ring = ring;
    this.fd = fd;
    this.#pool = pool;
    this.#closedPromise = new Promise((resolve) => {
      this.#resolveClosed = resolve;
    });
  }

  /** Settles once the connection is closed. */
  get closed(): Promise<void> {
    return this.#closedPromise;
  }

  /** The peer's address (`getpeername`), or null once closed. */
  get remote(): DecodedAddress | null {
    if (this.fd.closed) return null;
    try {
      return remoteAddress(this.fd.fd);
    } catch {
      return null;
    }
  }

  /** The local address (`getsockname`), or null once closed. */
  get local(): DecodedAddress | null {
    if (this.fd.closed) return null;
    try {
      return localAddress(this.fd.fd);
    } catch {
      return null;
    }
  }

  /**
   * The received bytes, chunk by chunk, until the peer ends its side (or the connection is
   * closed). Each chunk is a fresh `Buffer`, yours to keep. Once per connection (this or
   * {@link Connection.borrowedChunks}).
   */
  [Symbol.asyncIterator](): AsyncIterator<Uint8Array> {
    return this.#read(false);
  }

  /**
   * The received bytes as **borrowed** chunks (zero-copy): each is a view into the buffer
   * ring (or the connection's receive buffer), valid only until the loop asks for the next
   * chunk, when the memory is reused. Consume each chunk within its loop turn (parse it, or
   * `await conn.write(chunk)`); copy what you keep. Once per connection.
   */
  borrowedChunks(): AsyncIterable<Uint8Array> {
    const iterator = this.#read(true);
    return { [Symbol.asyncIterator]: () => iterator };
  }

  #read(borrow: boolean): AsyncIterator<Uint8Array> {
    if (this.#iterated) throw new Error('Connection: already being read (one for-await per connection)');
    this.#iterated = true;
    if (this.#pool !== undefined) {
      this.#reader = this.#ring.recvMultishot(this.fd, this.#pool, { borrow });
      return this.#reader;
    }
    return this.#plainReader(borrow);
  }

  async *#plainReader(borrow: boolean): AsyncGenerator<Uint8Array, void, undefined> {
    const buf = Buffer.allocUnsafe(PLAIN_RECV_BYTES);
    const signal = this.#abort.signal;
    for (;;) {
      let n: number;
      try {
        n = await this.#ring.recv(this.fd, buf, { signal });
      } catch (err) {
        if (signal.aborted) return;
        throw err;
      }
      if (n === 0) return;
      if (borrow) {
        yield buf.subarray(0, n); // reused by the next recv
      } else {
        const chunk = Buffer.allocUnsafe(n);
        chunk.set(buf.subarray(0, n));
        yield chunk;
      }
    }
  }

  /**
   * Sends `data` in full (several sends if the kernel takes it in parts), after every
   * earlier write. `data` must stay unchanged until the promise settles.
   */
  write(data: string | ArrayBufferView): Promise<void> {
    let bytes: Uint8Array;
    if (typeof data === 'string') bytes = Buffer.from(data);
    else if (ArrayBuffer.isView(data)) bytes = data instanceof Uint8Array ? data : new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    else return Promise.reject(new ArgumentError('ERR_INVALID_ARG_TYPE', 'Connection.write: data', `expected a string, Buffer or TypedArray, received ${describeReceived(data)}`));
    if (this.#closing !== undefined) return Promise.reject(Object.assign(new Error('Connection.write: the connection is closed'), { code: 'ERR_SOCKET_CLOSED' }));
    const previous = this.#writing;
    const p = previous === undefined ? this.#sendAll(bytes) : previous.then(() => this.#sendAll(bytes));
    this.#writing = p;
    const clear = (): void => {
      if (this.#writing === p) this.#writing = undefined;
    };
    p.then(clear, clear);
    return p;
  }

  async #sendAll(bytes: Uint8Array): Promise<void> {
    let done = 0;
    const size = bytes.byteLength;
    while (done < size) {
      done += await this.#ring.send(this.fd, done === 0 ? bytes : bytes.subarray(done), { flags: MSG_NOSIGNAL });
    }
  }

  /** Waits for pending writes, then shuts down the sending side (the peer reads end of stream). */
  async end(): Promise<void> {
    while (this.#writing !== undefined) await this.#writing;
    if (this.fd.closed) return;
    await this.#ring.shutdown(this.fd, 'write');
  }

  /**
   * Stops receiving (an ongoing `for await` ends), waits for pending writes to settle and
   * closes the socket. Idempotent.
   */
  close(): Promise<void> {
    this.#closing ??= this.#doClose();
    return this.#closing;
  }

  /** Same as {@link Connection.close}, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  async #doClose(): Promise<void> {
    try {
      await this.#reader?.return();
      this.#abort.abort();
      while (this.#writing !== undefined) {
        try {
          await this.#writing;
        } catch {
          /* the writer saw the error */
        }
      }
      if (!this.fd.closed) {
        if (this.#ring.closed) this.fd.close();
        else await this.#ring.closeFd(this.fd);
      }
    } finally {
      this.#resolveClosed();
    }
  }
}

/** A listening socket accepting into {@link Connection}s; see {@link createServer}. */
export class TcpServer implements AsyncDisposable {
  /** The port it listens on (the kernel's pick when asked for 0). */
  readonly port: number;
  /** The address it listens on. */
  readonly host: string;
  /** The buffer ring every connection receives into. */
  readonly bufferRing: BufferRing;
  readonly #ring: AsyncIoUring;
  readonly #listener: OwnedFd;
  readonly #options: ServerOptions;
  readonly #connections = new Set<Connection>();
  #accepts: AcceptMultishot | undefined;
  #loop: Promise<void> | undefined;
  #closing: Promise<void> | undefined;
  /** Connections accepted since the start. */
  accepted = 0;

  /** @internal Use {@link createServer}. */
  constructor(ring: AsyncIoUring, listener: OwnedFd, pool: BufferRing, host: string, port: number, options: ServerOptions) {
    this.#ring = ring;
    this.#listener = listener;
    this.bufferRing = pool;
    this.host = host;
    this.port = port;
    this.#options = options;
  }

  /** Connections open now. */
  get connections(): number {
    return this.#connections.size;
  }

  /** @internal */
  start(): void {
    this.#loop = this.#acceptLoop();
  }

  async #acceptLoop(): Promise<void> {
    const onError = this.#options.onError;
    while (this.#closing === undefined) {
      this.#accepts = this.#ring.acceptMultishot(this.#listener);
      try {
        for await (const fd of this.#accepts) this.#adopt(fd);
        return;
      } catch (err) {
        if (this.#closing !== undefined || this.#ring.closed) return;
        report(onError, err);
        // EMFILE and friends: give the process a moment before accepting again.
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    }
  }

  #adopt(fd: OwnedFd): void {
    this.accepted++;
    const conn = new Connection(this.#ring, fd, this.bufferRing);
    this.#connections.add(conn);
    void conn.closed.then(() => this.#connections.delete(conn));
    const onError = this.#options.onError;
    if (this.#options.noDelay !== false) {
      try {
        setsockoptInt(fd.fd, IPPROTO_TCP, TCP_NODELAY, 1); // instant; before the first send
      } catch {
        /* best effort: a connection reset already is found by its first op */
      }
    }
    let result: unknown;
    try {
      result = this.#options.onConnection(conn);
    } catch (err) {
      report(onError, err, conn);
      void conn.close();
      return;
    }
    if (result !== null && typeof result === 'object' && typeof (result as PromiseLike<unknown>).then === 'function') {
      (result as PromiseLike<unknown>).then(
        () => conn.close(),
        (err: unknown) => {
          report(onError, err, conn);
          return conn.close();
        },
      );
    }
  }

  /**
   * Stops accepting, closes every connection (ongoing reads end), closes the listening
   * socket and the buffer ring. Idempotent.
   */
  close(): Promise<void> {
    this.#closing ??= this.#doClose();
    return this.#closing;
  }

  /** Same as {@link TcpServer.close}, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  async #doClose(): Promise<void> {
    await this.#accepts?.return();
    await this.#loop;
    await Promise.all([...this.#connections].map((c) => c.close()));
    if (!this.#listener.closed) {
      if (this.#ring.closed) this.#listener.close();
      else await this.#ring.closeFd(this.#listener);
    }
    if (this.bufferRing.open) this.bufferRing.close();
  }
}

/**
 * Listens on `host:port` and calls `onConnection` for each connection.
 *
 * @throws `IoUringError` (`EADDRINUSE`, ...) from socket/bind/listen; an `Error` when the
 *   kernel lacks multishot `ACCEPT` / `RECV`; an `UnsupportedOpError` for
 *   `listenVia: 'io_uring'` on a kernel without `IORING_OP_BIND` / `LISTEN` (Linux 6.11).
 */
export async function createServer(ring: AsyncIoUring, options: ServerOptions): Promise<TcpServer> {
  if (options === null || typeof options !== 'object' || typeof options.onConnection !== 'function') {
    throw new ArgumentError('ERR_INVALID_ARG_TYPE', 'createServer: options', 'expected { onConnection, host?, port?, ... }');
  }
  for (const op of ['ACCEPT', 'RECV']) {
    if (!ring.ring.probe.supports(op)) throw new Error(`createServer: this kernel lacks IORING_OP_${op} (the TCP server needs Linux 6.0)`);
  }
  const via = checkListenVia(options.listenVia, 'createServer: options.listenVia');
  const host = options.host ?? '127.0.0.1';
  const port = options.port ?? 0;
  const backlog = options.backlog ?? 511;
  encodeSockaddr({ address: host, port }, 'createServer: options'); // refuse a bad address first
  const listener = await listenOnRing(ring, { endpoint: { address: host, port }, backlog }, via);
  let pool: BufferRing | undefined;
  try {
    const bound = localAddress(listener.fd);
    pool = BufferRing.register(ring.ring, { entries: options.buffers ?? 512, bufferSize: options.bufferSize ?? 16384 });
    const server = new TcpServer(ring, listener, pool, host, bound?.port ?? port, options);
    server.start();
    return server;
  } catch (err) {
    pool?.close();
    listener.close();
    throw err;
  }
}

/**
 * Connects to `host:port` (IPv4 or IPv6 address, or a `net.SocketAddress`) and resolves
 * with the {@link Connection}.
 */
export async function connect(ring: AsyncIoUring, options: ConnectOptions | SocketAddress): Promise<Connection> {
  if (options === null || typeof options !== 'object') {
    throw new ArgumentError('ERR_INVALID_ARG_TYPE', 'connect: options', `expected { host, port } or a net.SocketAddress, received ${describeReceived(options)}`);
  }
  const o = options as ConnectOptions & Partial<SocketAddress>;
  const endpoint: SocketEndpoint = { address: o.host ?? o.address ?? '127.0.0.1', port: o.port };
  encodeSockaddr(endpoint, 'connect: options'); // refuse a bad address before making a socket
  const family = addressFamily(endpoint.address);
  const signal = o.signal;
  const fd = new OwnedFd(await ring.socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0, { signal }));
  try {
    await ring.connect(fd, endpoint, { signal });
  } catch (err) {
    fd.close();
    throw err;
  }
  return new Connection(ring, fd, o.bufferRing);
}
