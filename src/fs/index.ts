/**
 * File helpers shaped like `fs.promises`, done with io_uring ops on an {@link AsyncIoUring}:
 * `readFile`, `writeFile`, `copyFile`.
 *
 * - **readFile**: open, `statx` for the size, then positioned reads of 1 MiB chunks with up to
 *   four in flight into one buffer of the file's size; files that report size 0 (procfs,
 *   pipes) are read in 64 KiB steps to end of file. Given a descriptor, it reads from the
 *   current position (sequentially), as Node does.
 * - **writeFile**: open (`'w'` by default), then positioned writes of 1 MiB chunks with up
 *   to four in flight, each finished on short writes; in append mode (`'a'` flags) or on a
 *   descriptor, sequential writes at the current position.
 * - **copyFile**: open both, then `'splice'` (file → pipe → file in the kernel, 64 KiB at a
 *   time over several pipes, made with `IORING_OP_PIPE` where the kernel has it (6.16) and
 *   with pipe2(2) before) or `'readwrite'` (1 MiB chunks, four in flight). `'auto'` (default)
 *   uses read/write, which measured faster on page-cached files, and falls back to it when
 *   splice is refused. The destination is opened without truncating; when it is the source
 *   itself (same device and inode: `'./a'`, a symlink or a hard link to it) nothing is done,
 *   as in Node. Otherwise it is truncated and filled, and gets the source's mode (as Node's
 *   copyFile: `fs.fchmod` when the umask changed it, since io_uring has no chmod op). If the
 *   copy fails or is aborted, the destination is removed only when this copy created it: a
 *   file that existed before is never unlinked.
 *
 * Every helper takes `signal`; on abort the ops in flight are cancelled, the helper waits
 * until they settled, closes what it opened and rejects with an `AbortError`.
 *
 * @module
 */
import { constants as bufferConstants } from 'node:buffer';
import { constants as fsConstants, fchmod, ftruncate as ftruncateCb } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { IoringOp } from '../../generated/constants.js';
import { prepFtruncate } from '../../generated/ops.js';
import { AT_FDCWD, type FdLike } from '../abi/fd.js';
import { AbortError } from '../async/abort.js';
import type { AsyncIoUring, OpOptions } from '../async/async-ring.js';
import { isAppend, O_CLOEXEC, openFlagsOf, type OpenFlags } from '../async/open-flags.js';
import { ArgumentError, describeReceived } from '../errors.js';
import { IoUringError } from '../sys/errors.js';
import { pipe2Sync } from '../sys/posix.js';

const CHUNK = 1024 * 1024;
const PARALLEL = 4;
const UNKNOWN_SIZE_STEP = 64 * 1024;
const PIPE_CHUNK = 64 * 1024;
const PIPES = 4;
const EISDIR = 21;
const EINVAL_CODES = new Set(['EINVAL', 'ENOSYS', 'EOPNOTSUPP', 'ERR_IO_URING_OP_UNSUPPORTED']);

/** A file to open (a path string, bytes, or a `file:` URL) or an open descriptor. */
export type PathOrFd = string | Uint8Array | URL | number | FdLike;

/** Options of {@link readFile}. */
export interface ReadFileOptions extends OpOptions {
  /** Decode to a string with this encoding; default: return a Buffer. */
  encoding?: BufferEncoding | null | undefined;
  /** Open flags when given a path; default `'r'`. */
  flag?: OpenFlags | undefined;
}

/** Options of {@link writeFile}. */
export interface WriteFileOptions extends OpOptions {
  /** Encoding of string data; default `'utf8'`. */
  encoding?: BufferEncoding | undefined;
  /** Mode of a created file (before the umask); default `0o666`. */
  mode?: number | undefined;
  /** Open flags when given a path; default `'w'` (`'a'` appends). */
  flag?: OpenFlags | undefined;
}

/** Options of {@link copyFile}. */
export interface CopyFileOptions extends OpOptions {
  /** `fs.constants.COPYFILE_EXCL` to fail when the destination exists; default 0. */
  mode?: number | undefined;
  /** How the bytes move; default `'auto'` (see the module notes). */
  strategy?: 'auto' | 'splice' | 'readwrite' | undefined;
}

function isPath(file: unknown): file is string | Uint8Array | URL {
  return typeof file === 'string' || file instanceof Uint8Array || file instanceof URL;
}

function pathOf(file: string | Uint8Array | URL): string | Uint8Array {
  if (file instanceof URL) return fileURLToPath(file);
  return file;
}

function checkOptions(options: unknown, what: string): void {
  if (options !== undefined && (options === null || typeof options !== 'object')) {
    throw new ArgumentError('ERR_INVALID_ARG_TYPE', `${what}: options`, `expected an options object, received ${describeReceived(options)}`);
  }
}

function checkFile(file: unknown, what: string): void {
  if (isPath(file)) return;
  if (typeof file === 'number') {
    // Checked here, so the error names this argument rather than the statx builder's dirfd.
    if (Number.isInteger(file) && file >= 0 && file <= 0x7fffffff) return;
    throw new ArgumentError('ERR_OUT_OF_RANGE', `${what}: file`, `expected a descriptor (an integer from 0 to 2147483647) or a path, received ${describeReceived(file)}`);
  }
  if (file !== null && typeof file === 'object' && 'fd' in file) return;
  throw new ArgumentError('ERR_INVALID_ARG_TYPE', `${what}: file`, `expected a path (string, Buffer, URL) or a descriptor, received ${describeReceived(file)}`);
}

/** Runs `tasks` workers to completion; rejects with the first error, but only once all have settled. */
async function settleAll(workers: Promise<unknown>[]): Promise<void> {
  const results = await Promise.allSettled(workers);
  for (const r of results) if (r.status === 'rejected') throw r.reason;
}

/** Closes `fd` through the ring, ignoring errors (the first error is the one to report). */
async function closeQuietly(ring: AsyncIoUring, fd: number): Promise<void> {
  try {
    await ring.closeFd(fd);
  } catch {
    /* a close error after a failure matters less than the failure */
  }
}

/**
 * Reads a whole file, like `fs.promises.readFile`: a Buffer, or a string with `encoding`.
 */
export function readFile(ring: AsyncIoUring, file: PathOrFd, options: ReadFileOptions & { encoding: BufferEncoding }): Promise<string>;
export function readFile(ring: AsyncIoUring, file: PathOrFd, options?: ReadFileOptions): Promise<Buffer>;
export async function readFile(ring: AsyncIoUring, file: PathOrFd, options?: ReadFileOptions): Promise<Buffer | string> {
  checkOptions(options, 'readFile');
  checkFile(file, 'readFile');
  const encoding = options?.encoding ?? null;
  if (encoding !== null && !Buffer.isEncoding(encoding)) {
    throw new ArgumentError('ERR_INVALID_ARG_VALUE', 'readFile: options.encoding', `unknown encoding ${describeReceived(encoding)}`);
  }
  const signal = options?.signal;
  let data: Buffer;
  if (isPath(file)) {
    const fd = await ring.open(pathOf(file), options?.flag ?? 'r', 0o666, { signal });
    try {
      data = await readAll(ring, fd, signal, true);
    } finally {
      await closeQuietly(ring, fd);
    }
  } else {
    data = await readAll(ring, file, signal, false);
  }
  return encoding === null ? data : data.toString(encoding);
}

async function readAll(ring: AsyncIoUring, fd: number | FdLike, signal: AbortSignal | undefined, positioned: boolean): Promise<Buffer> {
  const st = await ring.fstat(fd, { signal });
  const size = st.isFile() ? st.size : 0;
  if (size > bufferConstants.MAX_LENGTH) {
    const err = new RangeError(`File size (${size}) is greater than ${bufferConstants.MAX_LENGTH} bytes`) as RangeError & { code: string };
    err.code = 'ERR_FS_FILE_TOO_LARGE';
    throw err;
  }
  if (size === 0) return readToEnd(ring, fd, signal, positioned);
  const buf = Buffer.allocUnsafe(size);
  if (!positioned) {
    let got = 0;
    while (got < size) {
      const n = await ring.read(fd, buf.subarray(got, Math.min(size, got + CHUNK)), -1, { signal });
      if (n === 0) break;
      got += n;
    }
    return got === size ? buf : buf.subarray(0, got);
  }
  const end = await inParallelChunks(size, async (start, stop) => {
    let at = start;
    while (at < stop) {
      const n = await ring.read(fd, buf.subarray(at, stop), at, { signal });
      // The file shrank since statx: what follows `at` does not exist.
      if (n === 0) return at;
      at += n;
    }
    return stop;
  });
  return end === size ? buf : buf.subarray(0, end);
}

async function readToEnd(ring: AsyncIoUring, fd: number | FdLike, signal: AbortSignal | undefined, positioned: boolean): Promise<Buffer> {
  const parts: Buffer[] = [];
  let total = 0;
  for (;;) {
    const part = Buffer.allocUnsafe(UNKNOWN_SIZE_STEP);
    const n = await ring.read(fd, part, positioned ? total : -1, { signal });
    if (n === 0) break;
    parts.push(n === part.length ? part : part.subarray(0, n));
    total += n;
  }
  return parts.length === 1 ? parts[0]! : Buffer.concat(parts, total);
}

/**
 * Writes `data` to a file, replacing it (or appending with `flag: 'a'`), like
 * `fs.promises.writeFile`. Given a descriptor, writes at its current position.
 */
export async function writeFile(ring: AsyncIoUring, file: PathOrFd, data: string | ArrayBufferView, options?: WriteFileOptions): Promise<void> {
  checkOptions(options, 'writeFile');
  checkFile(file, 'writeFile');
  let bytes: Uint8Array;
  if (typeof data === 'string') {
    const encoding = options?.encoding ?? 'utf8';
    if (!Buffer.isEncoding(encoding)) throw new ArgumentError('ERR_INVALID_ARG_VALUE', 'writeFile: options.encoding', `unknown encoding ${describeReceived(encoding)}`);
    bytes = Buffer.from(data, encoding);
  } else if (ArrayBuffer.isView(data)) {
    bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  } else {
    throw new ArgumentError('ERR_INVALID_ARG_TYPE', 'writeFile: data', `expected a string, Buffer, TypedArray or DataView, received ${describeReceived(data)}`);
  }
  const signal = options?.signal;
  if (!isPath(file)) {
    await writeAll(ring, file, bytes, signal, false);
    return;
  }
  const flags = openFlagsOf(options?.flag ?? 'w', 'writeFile: options.flag');
  const fd = await ring.open(pathOf(file), flags, options?.mode ?? 0o666, { signal });
  try {
    await writeAll(ring, fd, bytes, signal, !isAppend(flags));
  } finally {
    await closeQuietly(ring, fd);
  }
}

async function writeAll(ring: AsyncIoUring, fd: number | FdLike, bytes: Uint8Array, signal: AbortSignal | undefined, positioned: boolean): Promise<void> {
  const size = bytes.byteLength;
  if (!positioned) {
    let done = 0;
    while (done < size) done += await ring.write(fd, bytes.subarray(done, Math.min(size, done + CHUNK)), -1, { signal });
    return;
  }
  await inParallelChunks(size, async (start, stop) => {
    let at = start;
    while (at < stop) at += await ring.write(fd, bytes.subarray(at, stop), at, { signal });
    return stop;
  });
}

/**
 * Splits [0, size) into CHUNK-sized pieces handed out in order to up to PARALLEL workers.
 * `transfer(start, stop)` moves one piece, finishing it across short transfers, and returns
 * where it really ended: less than `stop` means end of file, and no later piece starts.
 * Resolves with the end reached once every worker has settled.
 */
async function inParallelChunks(size: number, transfer: (start: number, stop: number) => Promise<number>): Promise<number> {
  let next = 0;
  let end = size;
  const worker = async (): Promise<void> => {
    while (next < end) {
      const start = next;
      const stop = Math.min(end, start + CHUNK);
      next = stop;
      const reached = await transfer(start, stop);
      if (reached < stop) end = Math.min(end, reached);
    }
  };
  const workers: Promise<void>[] = [];
  for (let i = 0; i < PARALLEL && i * CHUNK < size; i++) workers.push(worker());
  await settleAll(workers);
  return end;
}

/**
 * Copies `src` to `dst`, like `fs.promises.copyFile` (overwriting `dst` unless
 * `mode: fs.constants.COPYFILE_EXCL`). See the module notes for the strategies.
 */
export async function copyFile(ring: AsyncIoUring, src: string | Uint8Array | URL, dst: string | Uint8Array | URL, options?: CopyFileOptions): Promise<void> {
  checkOptions(options, 'copyFile');
  if (!isPath(src)) throw new ArgumentError('ERR_INVALID_ARG_TYPE', 'copyFile: src', `expected a path, received ${describeReceived(src)}`);
  if (!isPath(dst)) throw new ArgumentError('ERR_INVALID_ARG_TYPE', 'copyFile: dst', `expected a path, received ${describeReceived(dst)}`);
  const mode = options?.mode ?? 0;
  if (typeof mode !== 'number' || !Number.isInteger(mode) || (mode & ~(fsConstants.COPYFILE_EXCL | fsConstants.COPYFILE_FICLONE)) !== 0) {
    throw new ArgumentError('ERR_OUT_OF_RANGE', 'copyFile: options.mode', `expected 0 or fs.constants.COPYFILE_EXCL (COPYFILE_FICLONE is accepted and ignored), received ${describeReceived(mode)}`);
  }
  const strategy = options?.strategy ?? 'auto';
  if (strategy !== 'auto' && strategy !== 'splice' && strategy !== 'readwrite') {
    throw new ArgumentError('ERR_INVALID_ARG_VALUE', 'copyFile: options.strategy', `expected 'auto', 'splice' or 'readwrite', received ${describeReceived(strategy)}`);
  }
  const signal = options?.signal;
  const dstPath = pathOf(dst);
  const srcFd = await ring.open(pathOf(src), 'r', 0, { signal });
  let dstFd = -1;
  // Whether this copy created the destination: only then may a failed copy remove it.
  let created = false;
  let ok = false;
  try {
    const st = await ring.fstat(srcFd, { signal });
    if (st.isDirectory()) {
      const srcText = String(pathOf(src));
      const dstText = String(dstPath);
      throw Object.assign(new IoUringError(EISDIR, 'copyfile', `'${srcText}' -> '${dstText}'`), { path: srcText, dest: dstText });
    }
    const perm = st.mode & 0o7777;
    // Without the signal: an open aborted after the kernel created the file would leave us
    // unsure whether to remove it. Opening is quick; the abort is checked right after.
    ({ fd: dstFd, created } = await openDestination(ring, dstPath, (mode & fsConstants.COPYFILE_EXCL) !== 0, perm));
    if (signal?.aborted === true) throw new AbortError(undefined, { cause: signal.reason });
    const dstStat = await ring.fstat(dstFd, { signal });
    if (!created && dstStat.dev === st.dev && dstStat.ino === st.ino) {
      // The destination is the source ('./a', a symlink, a hard link): copying it onto itself
      // leaves it as it is, as Node's copyFile does. Truncating first would destroy it.
      ok = true;
      return;
    }
    if (!created && dstStat.size > 0) await ftruncate(ring, dstFd, 0, { signal });
    const size = st.isFile() ? st.size : 0;
    let copied = false;
    if (size > 0 && (strategy === 'splice' || (strategy === 'auto' && AUTO_PREFERS_SPLICE))) {
      try {
        await copySplice(ring, srcFd, dstFd, size, signal);
        copied = true;
      } catch (err) {
        if (strategy === 'splice' || !EINVAL_CODES.has((err as { code?: string }).code ?? '')) throw err;
      }
    }
    if (!copied) await copyReadWrite(ring, srcFd, dstFd, size, signal);
    if ((dstStat.mode & 0o7777) !== perm) {
      // The umask took bits away, or the destination existed with another mode; io_uring has no chmod op.
      await new Promise<void>((resolve, reject) => fchmod(dstFd, perm, (err) => (err ? reject(err) : resolve())));
    }
    ok = true;
  } finally {
    await closeQuietly(ring, srcFd);
    if (dstFd >= 0) {
      await closeQuietly(ring, dstFd);
      // Never a file that existed before: it may be the source under another name, or data
      // the caller wants kept.
      if (!ok && created && !ring.closed) {
        try {
          await ring.unlink(dstPath);
        } catch {
          /* best effort: the copy's error is the one to report */
        }
      }
    }
  }
}

/**
 * Opens the destination of a copy for writing, without truncating it (it may be the source
 * itself), and says whether this call created it: first with `O_EXCL`, and when the file
 * exists (and `excl` is false) without `O_CREAT`. A file removed between the two is retried.
 */
async function openDestination(ring: AsyncIoUring, path: string | Uint8Array, excl: boolean, perm: number): Promise<{ fd: number; created: boolean }> {
  const { O_WRONLY, O_CREAT, O_EXCL } = fsConstants;
  for (let attempt = 0; ; attempt++) {
    try {
      return { fd: await ring.openat(AT_FDCWD, path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, perm), created: true };
    } catch (err) {
      if (excl || (err as { code?: unknown }).code !== 'EEXIST') throw err;
    }
    try {
      return { fd: await ring.openat(AT_FDCWD, path, O_WRONLY | O_CLOEXEC, 0), created: false };
    } catch (err) {
      if ((err as { code?: unknown }).code !== 'ENOENT' || attempt >= 3) throw err;
    }
  }
}

/**
 * `ftruncate(2)` of `fd` to `length`: `IORING_OP_FTRUNCATE` where the kernel has it (6.9),
 * else Node's `fs.ftruncate` (libuv's threadpool). Rejects with the kernel's error
 * (`syscall` 'ftruncate').
 */
export async function ftruncate(ring: AsyncIoUring, fd: number, length: number, options?: OpOptions): Promise<void> {
  if (ring.ring.probe.supports(IoringOp.FTRUNCATE)) {
    await ring.submit((sqe) => prepFtruncate(sqe, fd, length), options);
    return;
  }
  if (options?.signal?.aborted === true) throw new AbortError(undefined, { cause: options.signal.reason });
  await new Promise<void>((resolve, reject) => ftruncateCb(fd, length, (err) => (err ? reject(err) : resolve())));
}

/** Measured on page-cached files: read/write chunks beat splice through 64 KiB pipes. */
const AUTO_PREFERS_SPLICE = false;

async function copyReadWrite(ring: AsyncIoUring, src: number, dst: number, size: number, signal: AbortSignal | undefined): Promise<void> {
  if (size === 0) {
    // Unknown size (procfs, devices): sequentially to end of input.
    const buf = Buffer.allocUnsafe(UNKNOWN_SIZE_STEP);
    let pos = 0;
    for (;;) {
      const n = await ring.read(src, buf, pos, { signal });
      if (n === 0) return;
      let done = 0;
      while (done < n) done += await ring.write(dst, buf.subarray(done, n), pos + done, { signal });
      pos += n;
    }
  }
  let next = 0;
  let end = size;
  const worker = async (): Promise<void> => {
    const buf = Buffer.allocUnsafe(Math.min(CHUNK, size));
    while (next < end) {
      const start = next;
      const stop = Math.min(end, start + CHUNK);
      next = stop;
      let at = start;
      while (at < stop) {
        const n = await ring.read(src, buf.subarray(0, stop - at), at, { signal });
        if (n === 0) {
          end = Math.min(end, at);
          break;
        }
        let done = 0;
        while (done < n) done += await ring.write(dst, buf.subarray(done, n), at + done, { signal });
        at += n;
      }
    }
  };
  const workers: Promise<void>[] = [];
  for (let i = 0; i < PARALLEL && i * CHUNK < size; i++) workers.push(worker());
  await settleAll(workers);
}

async function copySplice(ring: AsyncIoUring, src: number, dst: number, size: number, signal: AbortSignal | undefined): Promise<void> {
  const pipes: Array<[number, number]> = [];
  try {
    const count = Math.max(1, Math.min(PIPES, Math.ceil(size / PIPE_CHUNK)));
    // IORING_OP_PIPE is Linux 6.16; before it, pipe2(2) (instant, never blocks).
    const viaRing = ring.ring.probe.supports(IoringOp.PIPE);
    for (let i = 0; i < count; i++) pipes.push(viaRing ? await ring.pipe(O_CLOEXEC, { signal }) : pipe2Sync(O_CLOEXEC));
    let next = 0;
    let end = size;
    const worker = async ([pr, pw]: [number, number]): Promise<void> => {
      while (next < end) {
        const start = next;
        const stop = Math.min(end, start + PIPE_CHUNK);
        next = stop;
        let at = start;
        while (at < stop) {
          const n = await ring.splice(src, at, pw, -1, stop - at, { signal });
          if (n === 0) {
            end = Math.min(end, at);
            break;
          }
          let moved = 0;
          while (moved < n) {
            const m = await ring.splice(pr, -1, dst, at + moved, n - moved, { signal });
            if (m === 0) throw new Error('copyFile: splice from the pipe returned 0 bytes with data in it');
            moved += m;
          }
          at += n;
        }
      }
    };
    await settleAll(pipes.map(worker));
  } finally {
    for (const [r, w] of pipes) {
      await closeQuietly(ring, r);
      await closeQuietly(ring, w);
    }
  }
}
