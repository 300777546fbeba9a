/**
 * `FileHandle` as `node:fs/promises` has it, on io_uring: the same methods, call forms,
 * results (`{ bytesRead, buffer }` objects with a null prototype), errors and close rules.
 *
 * - **References.** Every method holds a reference while it runs; `close()` waits for
 *   those to end before the descriptor is closed, and `fd` becomes -1 when it is (at once
 *   when nothing runs): Node's `kRefs` rules. A call on a closed handle rejects with Node's
 *   `Error('file closed')`, code `EBADF`, `syscall` the method's internal name.
 * - **GC.** A handle dropped without `close()` has its descriptor closed when it is
 *   collected, with Node's warnings ("Closing file descriptor N on garbage collection", and
 *   DEP0137 once), through a `FinalizationRegistry`. A handle with an op in flight is never
 *   collected: the op's async frame holds it.
 * - **Streams.** `createReadStream` / `createWriteStream` / `readLines` /
 *   `readableWebStream` are Node's own streams reading and writing through this handle.
 * - What io_uring has no op for (`chmod`, `chown`, `utimes`; `truncate` before Linux 6.9)
 *   runs through Node's `fs` on the descriptor.
 *
 * @module
 */
import { EventEmitter } from 'node:events';
import { closeSync, createReadStream, createWriteStream, fchmod, fchown, futimes, type BigIntStats, type ReadStream, type Stats, type WriteStream } from 'node:fs';
import { createInterface, type Interface } from 'node:readline';
import { AbortError, type AsyncIoUring } from '../../async/async-ring.js';
import { AT_EMPTY_PATH } from '../../async/statx.js';
import { ftruncate, readFile as ringReadFile, writeFile as ringWriteFile } from '../../fs/index.js';
import { fileOptionsArg, isCustomIterable } from './args.js';
import { threadRing } from './backend.js';
import { fileClosedError, toNodeError } from './errors.js';
import { statxNode } from './stats.js';
import { checkBuffer, checkBufferArray, checkInteger, checkRange, invalidArgType, invalidArgValue, positionOf } from './validate.js';

/** What `read()` resolves with. */
export interface FileReadResult<T extends ArrayBufferView> {
  bytesRead: number;
  buffer: T;
}

/** What `write()` resolves with. */
export interface FileWriteResult<T> {
  bytesWritten: number;
  buffer: T;
}

/** The descriptor a collected handle must close; -1 once closed explicitly. */
interface Held {
  fd: number;
}

let warnedDep0137 = false;
const collected = new FinalizationRegistry<Held>((held) => {
  if (held.fd < 0) return;
  const fd = held.fd;
  held.fd = -1;
  try {
    closeSync(fd);
  } catch {
    /* nothing else can be done from a finalizer */
  }
  process.emitWarning(`Closing file descriptor ${fd} on garbage collection`);
  if (!warnedDep0137) {
    warnedDep0137 = true;
    process.emitWarning(
      'Closing a FileHandle object on garbage collection is deprecated. Please close FileHandle objects explicitly using FileHandle.prototype.close(). In the future, an error will be thrown if a file descriptor is closed during garbage collection.',
      'DeprecationWarning',
      'DEP0137',
    );
  }
});

/**
 * Makes Node's own code take these handles as FileHandles (`fs.createReadStream(null, { fd:
 * handle })`, `fsPromises.readFile(handle)`): Node checks `instanceof FileHandle`, so Node's
 * FileHandle prototype goes under ours, once, from a handle of Node's (its class is not
 * exported). Our class defines every method Node calls; the inherited internal ref-counting
 * methods only touch a field ours never sets (so they never close anything).
 */
let nodeClassLinked = false;
/** Links the prototypes on the first call (a promise to await); later calls return undefined at once. */
export function linkNodeFileHandleClass(open: () => Promise<{ close(): Promise<void> }>): Promise<void> | undefined {
  if (nodeClassLinked) return undefined;
  nodeClassLinked = true;
  return linkFrom(open);
}

async function linkFrom(open: () => Promise<{ close(): Promise<void> }>): Promise<void> {
  try {
    const probe = await open();
    const nodeProto = Object.getPrototypeOf(probe) as object;
    await probe.close();
    // Node 20's FileHandle is an EventEmitter by mixin (its methods, not its prototype).
    if (Object.getPrototypeOf(FileHandle.prototype) === EventEmitter.prototype && typeof (nodeProto as { on?: unknown }).on === 'function' && typeof (nodeProto as { emit?: unknown }).emit === 'function') {
      Object.setPrototypeOf(FileHandle.prototype, nodeProto);
    }
  } catch {
    /* no interop with Node's stream constructors: everything else works */
  }
}

/** The ring for an op; the io_uring backend is the only one that makes these handles. */
export function ringNow(): AsyncIoUring {
  const ring = threadRing();
  if (ring === null) throw new Error('tsuring/fs: no ring on the node backend (internal error)');
  return ring;
}

function checkAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted === true) throw new AbortError(undefined, { cause: signal.reason });
}

/**
 * With a signal, lets the event loop turn once before any I/O and then checks it. Node's
 * readFile / writeFile always take a turn (a threadpool round trip) before their first
 * abort check, so an abort from the current tick (`process.nextTick(() => ac.abort())`)
 * rejects them; io_uring ops on the page cache complete within the same microtask drain, so
 * without this turn such an abort would come too late. Costs one macrotask, only for calls
 * given a signal.
 */
export async function abortPoint(signal: AbortSignal | undefined): Promise<void> {
  if (signal === undefined) return;
  checkAborted(signal);
  await new Promise<void>((resolve) => setImmediate(resolve));
  checkAborted(signal);
}

/**
 * Writes `data` (string, view, iterable or async iterable of strings and views) at the
 * descriptor's current position, as Node's `writeFileHandle`. Errors are Node-shaped.
 */
export async function writeData(fd: number, data: unknown, encoding: BufferEncoding | null, signal: AbortSignal | undefined): Promise<void> {
  if (signal !== undefined) await abortPoint(signal);
  const ring = ringNow();
  try {
    if (isCustomIterable(data)) {
      for await (const chunk of data as AsyncIterable<unknown>) {
        checkAborted(signal);
        const bytes = ArrayBuffer.isView(chunk) ? chunk : Buffer.from(chunk as string, encoding ?? 'utf8');
        await ringWriteFile(ring, fd, bytes, { signal });
      }
      return;
    }
    await ringWriteFile(ring, fd, data as string | ArrayBufferView, { signal, encoding: encoding ?? 'utf8' });
  } catch (err) {
    throw toNodeError(err, 'write');
  }
}

/** `fs.promises` `FileHandle`, on io_uring. Made by `open()`; not constructed directly. */
export class FileHandle extends EventEmitter implements AsyncDisposable {
  #fd: number;
  /** 1 for the handle itself plus one per method running (Node's kRefs). */
  #refs = 1;
  #closePromise: Promise<void> | undefined;
  #closeResolve: (() => void) | undefined;
  #closeReject: ((err: unknown) => void) | undefined;
  readonly #held: Held;

  /** @internal Wraps an open descriptor (ours to close). */
  constructor(fd: number) {
    super();
    this.#fd = fd;
    this.#held = { fd };
    collected.register(this, this.#held, this.#held);
  }

  /** The descriptor; -1 once closed (`close()` waits for the methods still running). */
  get fd(): number {
    return this.#fd;
  }

  /** Runs `fn` holding a reference, as Node's `fsCall`; on a closed handle: EBADF 'file closed'. */
  async #call<T>(syscall: string, fn: (fd: number) => Promise<T>): Promise<T> {
    if (this.#fd === -1) throw fileClosedError(syscall);
    this.#refs++;
    try {
      return await fn(this.#fd);
    } finally {
      this.#unref();
    }
  }

  #unref(): void {
    this.#refs--;
    if (this.#refs === 0) {
      const fd = this.#fd;
      this.#fd = -1;
      this.#closeFd(fd).then(this.#closeResolve, this.#closeReject);
    }
  }

  async #closeFd(fd: number): Promise<void> {
    this.#held.fd = -1;
    collected.unregister(this.#held);
    try {
      await ringNow().closeFd(fd);
    } catch (err) {
      throw toNodeError(err, 'close');
    }
  }

  /**
   * Reads into `buffer` (default: a new 16 KiB Buffer) at `position` (null: the current
   * position, which advances). Call forms: `(buffer, offset?, length?, position?)`,
   * `(buffer, { offset, length, position })`, `({ buffer, offset, length, position })`.
   */
  read<T extends ArrayBufferView = Buffer>(buffer?: T | { buffer?: T; offset?: number | null; length?: number | null; position?: number | bigint | null } | null, offset?: number | null | { offset?: number | null; length?: number | null; position?: number | bigint | null }, length?: number | null, position?: number | bigint | null): Promise<FileReadResult<T>> {
    return this.#call('read', async (fd) => {
      let buf: ArrayBufferView;
      let off: unknown = offset;
      let len: unknown = length;
      let pos: unknown = position;
      if (!ArrayBuffer.isView(buffer)) {
        if (buffer !== undefined && buffer !== null && typeof buffer !== 'object') throw invalidArgType('options', 'of type object', buffer);
        const params = (buffer ?? {}) as { buffer?: unknown; offset?: unknown; length?: unknown; position?: unknown };
        buf = params.buffer === undefined ? Buffer.alloc(16384) : checkBuffer(params.buffer);
        off = params.offset ?? 0;
        len = params.length ?? buf.byteLength - (off as number);
        pos = params.position ?? null;
      } else {
        buf = buffer;
      }
      if (off !== null && typeof off === 'object') {
        const o = off as { offset?: unknown; length?: unknown; position?: unknown };
        off = o.offset ?? 0;
        len = o.length ?? buf.byteLength - (off as number);
        pos = o.position ?? null;
      }
      const start = off === null || off === undefined ? 0 : checkInteger(off, 'offset', 0);
      const count = len === null || len === undefined ? buf.byteLength - start : checkInteger(len, 'length', 0);
      if (count === 0) return { __proto__: null, bytesRead: 0, buffer: buf } as unknown as FileReadResult<T>;
      if (buf.byteLength === 0) throw invalidArgValue('buffer', buf, 'is empty and cannot be written');
      checkRange(start, count, buf.byteLength);
      const at = positionOf(pos);
      const view = new Uint8Array(buf.buffer, buf.byteOffset + start, count);
      let n: number;
      try {
        n = await ringNow().read(fd, view, at);
      } catch (err) {
        throw toNodeError(err, 'read');
      }
      return { __proto__: null, bytesRead: n, buffer: buf } as unknown as FileReadResult<T>;
    });
  }

  /**
   * Writes `buffer` (or a range of it) at `position` (null: the current position), or a
   * string: `write(string, position?, encoding?)`. Resolves with `{ bytesWritten, buffer }`.
   */
  write<T extends ArrayBufferView | string>(buffer: T, offsetOrOptions?: number | null | { offset?: number; length?: number; position?: number | bigint | null }, length?: number | BufferEncoding | null, position?: number | bigint | null): Promise<FileWriteResult<T>> {
    return this.#call('write', async (fd) => {
      const ring = ringNow();
      if ((buffer as { byteLength?: unknown } | null)?.byteLength === 0) return { __proto__: null, bytesWritten: 0, buffer } as unknown as FileWriteResult<T>;
      if (ArrayBuffer.isView(buffer)) {
        let off: unknown = offsetOrOptions;
        let len: unknown = length;
        let pos: unknown = position;
        if (typeof off === 'object' && off !== null) {
          const o = off as { offset?: unknown; length?: unknown; position?: unknown };
          off = o.offset ?? 0;
          len = o.length ?? buffer.byteLength - (off as number);
          pos = o.position ?? null;
        }
        const start = off === null || off === undefined ? 0 : checkInteger(off, 'offset', 0);
        const count = typeof len === 'number' ? len : buffer.byteLength - start;
        checkRange(start, count, buffer.byteLength);
        const at = positionOf(pos);
        const view = new Uint8Array(buffer.buffer, buffer.byteOffset + start, count);
        try {
          const n = await ring.write(fd, view, at);
          return { __proto__: null, bytesWritten: n, buffer } as unknown as FileWriteResult<T>;
        } catch (err) {
          throw toNodeError(err, 'write');
        }
      }
      if (typeof buffer !== 'string') throw invalidArgType('buffer', 'of type string or an instance of Buffer, TypedArray, or DataView', buffer);
      // As Node: an encoding it does not know (or a number) writes UTF-8; odd-length hex is refused.
      const encoding: BufferEncoding = typeof length === 'string' && Buffer.isEncoding(length) ? length : 'utf8';
      if (encoding === 'hex' && buffer.length % 2 !== 0) throw invalidArgValue('encoding', length, `is invalid for data of length ${buffer.length}`);
      const at = positionOf(offsetOrOptions);
      const bytes = Buffer.from(buffer, encoding);
      try {
        const n = await ring.write(fd, bytes, at);
        return { __proto__: null, bytesWritten: n, buffer } as unknown as FileWriteResult<T>;
      } catch (err) {
        throw toNodeError(err, 'write');
      }
    });
  }

  /** Reads into several buffers in order (preadv) at `position` (null: current). */
  readv<T extends readonly ArrayBufferView[]>(buffers: T, position?: number | bigint | null): Promise<{ bytesRead: number; buffers: T }> {
    return this.#call('readv', async (fd) => {
      const list = checkBufferArray(buffers);
      const at = positionOf(position);
      try {
        const n = list.length === 0 ? 0 : await ringNow().readv(fd, list, at);
        return { __proto__: null, bytesRead: n, buffers } as unknown as { bytesRead: number; buffers: T };
      } catch (err) {
        throw toNodeError(err, 'read');
      }
    });
  }

  /** Writes several buffers in order (pwritev) at `position` (null: current). */
  writev<T extends readonly ArrayBufferView[]>(buffers: T, position?: number | bigint | null): Promise<{ bytesWritten: number; buffers: T }> {
    return this.#call('writev', async (fd) => {
      const list = checkBufferArray(buffers);
      if (list.length === 0) return { __proto__: null, bytesWritten: 0, buffers } as unknown as { bytesWritten: number; buffers: T };
      const at = positionOf(position);
      try {
        const n = await ringNow().writev(fd, list, at);
        return { __proto__: null, bytesWritten: n, buffers } as unknown as { bytesWritten: number; buffers: T };
      } catch (err) {
        throw toNodeError(err, 'write');
      }
    });
  }

  /** The rest of the file from the current position, as a Buffer or (with an encoding) a string. */
  readFile(options?: BufferEncoding | { encoding?: BufferEncoding | null; signal?: AbortSignal } | null): Promise<Buffer | string>;
  readFile(options?: unknown): Promise<Buffer | string> {
    return this.#call('readFile', async (fd) => {
      const o = fileOptionsArg(options, { encoding: null, flag: 'r' });
      if (o === undefined) throw invalidArgType('options', 'one of type string or object', options);
      if (o.signal !== undefined) await abortPoint(o.signal);
      try {
        const data = await ringReadFile(ringNow(), fd, { signal: o.signal });
        return o.encoding === null ? data : data.toString(o.encoding);
      } catch (err) {
        throw toNodeError(err);
      }
    });
  }

  /** Writes `data` (string, view, iterable, async iterable, stream) from the current position. */
  writeFile(data: unknown, options?: BufferEncoding | { encoding?: BufferEncoding | null; signal?: AbortSignal } | null): Promise<void> {
    return this.#call('writeFile', (fd) => this.#writeFile(fd, data, options));
  }

  /** Same as {@link FileHandle.writeFile} (the file's flags decide whether it appends). */
  appendFile(data: unknown, options?: BufferEncoding | { encoding?: BufferEncoding | null; signal?: AbortSignal } | null): Promise<void> {
    return this.#call('writeFile', (fd) => this.#writeFile(fd, data, options));
  }

  async #writeFile(fd: number, data: unknown, options: unknown): Promise<void> {
    const o = fileOptionsArg(options, { encoding: 'utf8', flag: 'w' });
    if (o === undefined) throw invalidArgType('options', 'one of type string or object', options);
    if (!ArrayBuffer.isView(data) && !isCustomIterable(data) && typeof data !== 'string') {
      throw invalidArgType('data', 'of type string or an instance of Buffer, TypedArray, or DataView', data);
    }
    await writeData(fd, data, o.encoding, o.signal);
  }

  /** `fstat`: Node's Stats (BigIntStats with `{ bigint: true }`). */
  stat(options?: { bigint?: false }): Promise<Stats>;
  stat(options: { bigint: true }): Promise<BigIntStats>;
  stat(options?: { bigint?: boolean }): Promise<Stats | BigIntStats> {
    return this.#call('fstat', async (fd) => {
      try {
        return await statxNode(ringNow(), fd, '', AT_EMPTY_PATH, options?.bigint === true);
      } catch (err) {
        throw toNodeError(err, 'fstat');
      }
    });
  }

  /** Truncates (or extends with zeros) to `len` bytes (negative: 0). */
  truncate(len = 0): Promise<void> {
    return this.#call('ftruncate', async (fd) => {
      const length = Math.max(0, checkInteger(len, 'len'));
      try {
        await ftruncate(ringNow(), fd, length);
      } catch (err) {
        throw toNodeError(err, 'ftruncate');
      }
    });
  }

  /** Flushes data and metadata to storage (fsync). */
  sync(): Promise<void> {
    return this.#call('fsync', async (fd) => {
      try {
        await ringNow().fsync(fd);
      } catch (err) {
        throw toNodeError(err, 'fsync');
      }
    });
  }

  /** Flushes data (and the metadata needed to read it) to storage (fdatasync). */
  datasync(): Promise<void> {
    return this.#call('fdatasync', async (fd) => {
      try {
        await ringNow().fsync(fd, { datasync: true });
      } catch (err) {
        throw toNodeError(err, 'fdatasync');
      }
    });
  }

  /** `fchmod` (through Node's fs: io_uring has no chmod op). */
  chmod(mode: number | string): Promise<void> {
    return this.#call('fchmod', (fd) => new Promise<void>((resolve, reject) => fchmod(fd, mode, (err) => (err ? reject(err) : resolve()))));
  }

  /** `fchown` (through Node's fs). */
  chown(uid: number, gid: number): Promise<void> {
    return this.#call('fchown', (fd) => new Promise<void>((resolve, reject) => fchown(fd, uid, gid, (err) => (err ? reject(err) : resolve()))));
  }

  /** `futimes` (through Node's fs). */
  utimes(atime: number | string | Date, mtime: number | string | Date): Promise<void> {
    return this.#call('futimes', (fd) => new Promise<void>((resolve, reject) => futimes(fd, atime, mtime, (err) => (err ? reject(err) : resolve()))));
  }

  /**
   * Closes the descriptor once the methods still running have ended (then `fd` is -1).
   * Emits `'close'` at once. Idempotent.
   */
  close = (): Promise<void> => {
    if (this.#fd === -1) return Promise.resolve();
    if (this.#closePromise !== undefined) return this.#closePromise;
    this.#refs--;
    if (this.#refs === 0) {
      const fd = this.#fd;
      this.#fd = -1;
      this.#closePromise = this.#closeFd(fd).finally(() => {
        this.#closePromise = undefined;
      });
    } else {
      this.#closePromise = new Promise<void>((resolve, reject) => {
        this.#closeResolve = resolve;
        this.#closeReject = reject;
      }).finally(() => {
        this.#closePromise = undefined;
        this.#closeResolve = undefined;
        this.#closeReject = undefined;
      });
    }
    this.emit('close');
    return this.#closePromise;
  };

  /** `await using`: closes the handle. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  /** Node's `fs` callbacks over this handle, for Node's own read and write streams. */
  #streamFs(): object {
    type Done = (err: unknown, ...values: unknown[]) => void;
    const cb = <T>(p: Promise<T>, done: Done, pick: (v: T) => unknown[]): void => {
      p.then((v) => done(null, ...pick(v)), (err: unknown) => done(err));
    };
    return {
      open: (_p: unknown, _f: unknown, _m: unknown, done: Done) => done(null, this.#fd),
      read: (_fd: number, buf: Buffer, off: number, len: number, pos: number | null, done: Done) =>
        cb(this.read(buf, off, len, pos), done, (r) => [r.bytesRead, r.buffer]),
      write: (_fd: number, buf: Buffer, off: number, len: number, pos: number | null, done: Done) =>
        cb(this.write(buf, off, len, pos), done, (r) => [r.bytesWritten, r.buffer]),
      writev: (_fd: number, bufs: Buffer[], pos: number | null, done: Done) =>
        cb(this.writev(bufs, pos), done, (r) => [r.bytesWritten, r.buffers]),
      close: (_fd: number, done: Done) => cb(this.close(), done, () => []),
    };
  }

  /** Node's `ReadStream` reading through this handle (options as `filehandle.createReadStream`). */
  createReadStream(options?: { encoding?: BufferEncoding; autoClose?: boolean; emitClose?: boolean; start?: number; end?: number; highWaterMark?: number; signal?: AbortSignal }): ReadStream {
    return createReadStream('', { ...options, fd: this.#fd, fs: this.#streamFs() } as Parameters<typeof createReadStream>[1]);
  }

  /** Node's `WriteStream` writing through this handle. */
  createWriteStream(options?: { encoding?: BufferEncoding; autoClose?: boolean; emitClose?: boolean; start?: number; highWaterMark?: number; flush?: boolean }): WriteStream {
    return createWriteStream('', { ...options, fd: this.#fd, fs: this.#streamFs() } as Parameters<typeof createWriteStream>[1]);
  }

  /** The file's lines, as `readline.Interface` (an async iterable of strings). */
  readLines(options?: Parameters<FileHandle['createReadStream']>[0]): Interface {
    return createInterface({ input: this.createReadStream(options), crlfDelay: Infinity });
  }

  /** A byte-oriented web `ReadableStream` of the file from the current position. */
  readableWebStream(options?: { type?: 'bytes' }): ReadableStream<Uint8Array> {
    void options;
    if (this.#fd === -1) throw invalidArgValue('filehandle', this, 'is closed');
    return new ReadableStream({
      type: 'bytes',
      autoAllocateChunkSize: 16384,
      pull: async (controller) => {
        const request = controller.byobRequest!;
        const view = request.view!;
        const { bytesRead } = await this.read(view as Uint8Array, 0, view.byteLength, null);
        if (bytesRead === 0) controller.close();
        request.respond(bytesRead);
      },
    }) as ReadableStream<Uint8Array>;
  }
}
