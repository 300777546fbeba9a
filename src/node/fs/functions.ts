/**
 * The `node:fs/promises` functions that io_uring has ops for: same signatures, defaults,
 * results and errors as Node's. Each serves the usual argument shapes on the thread's ring
 * and hands anything else (an unusual form, a value Node refuses) to `node:fs/promises`
 * unchanged, as it does on the Node backend.
 *
 * Every function is a real `async` function, and its errors are made in it after the
 * failed op was awaited: their stacks carry the caller's async frames.
 *
 * @module
 */
import type { BigIntStats, Stats } from 'node:fs';
import * as nodeFs from 'node:fs/promises';
import { IoringOp } from '../../../generated/constants.js';
import { prepLinkat, prepSymlinkat } from '../../../generated/ops.js';
import { AT_FDCWD } from '../../abi/fd.js';
import { AT_SYMLINK_NOFOLLOW } from '../../async/statx.js';
import { copyFile as ringCopyFile, ftruncate, readFile as ringReadFile, writeFile as ringWriteFile } from '../../fs/index.js';
import { fileOptionsArg, flagsArg, isCustomIterable, modeArg, pathArg } from './args.js';
import { kernelHas, threadRing } from './backend.js';
import { toNodeError } from './errors.js';
import { abortPoint, FileHandle, linkNodeFileHandleClass, writeData } from './file-handle.js';
import { statxNode } from './stats.js';

type Args<F> = F extends (...args: infer A) => unknown ? A : never;

/**
 * Opens a file, like `fsPromises.open(path, flags = 'r', mode = 0o666)`: resolves with a
 * {@link FileHandle}.
 */
export async function open(path: Args<typeof nodeFs.open>[0], flags?: string | number, mode?: string | number): Promise<FileHandle | nodeFs.FileHandle> {
  const ring = threadRing();
  const p = pathArg(path);
  const f = flagsArg(flags, 'r');
  const m = modeArg(mode, 0o666);
  if (ring === null || p === undefined || f === undefined || m === undefined) return nodeFs.open(path, flags, mode);
  const linking = linkNodeFileHandleClass(() => nodeFs.open('/dev/null', 'r'));
  if (linking !== undefined) await linking;
  let fd: number;
  try {
    fd = await ring.openat(AT_FDCWD, p, f >>> 0, m);
  } catch (err) {
    throw toNodeError(err, 'open', p);
  }
  return new FileHandle(fd);
}

/** Reads a whole file, like `fsPromises.readFile(path | filehandle, options)`. */
export async function readFile(path: Args<typeof nodeFs.readFile>[0] | FileHandle, options?: Args<typeof nodeFs.readFile>[1]): Promise<string | Buffer> {
  if (path instanceof FileHandle) return path.readFile(options as BufferEncoding);
  const ring = threadRing();
  const p = pathArg(path);
  const o = fileOptionsArg(options, { encoding: null, flag: 'r' });
  if (ring === null || p === undefined || o === undefined) return nodeFs.readFile(path, options);
  if (o.signal !== undefined) await abortPoint(o.signal);
  let data: Buffer;
  try {
    data = await ringReadFile(ring, p, { flag: o.flags >>> 0, signal: o.signal });
  } catch (err) {
    throw toNodeError(err);
  }
  return o.encoding === null ? data : data.toString(o.encoding);
}

/**
 * Writes a file, like `fsPromises.writeFile(file | filehandle, data, options)`: `data` a
 * string, a Buffer / TypedArray / DataView, or an iterable, async iterable or stream of
 * strings and buffers.
 */
export async function writeFile(file: Args<typeof nodeFs.writeFile>[0] | FileHandle, data: Args<typeof nodeFs.writeFile>[1], options?: Args<typeof nodeFs.writeFile>[2]): Promise<void> {
  return writeOrAppend(file, data, options, 'w');
}

/** Appends to a file (creating it), like `fsPromises.appendFile(path | filehandle, data, options)`. */
export async function appendFile(path: Args<typeof nodeFs.appendFile>[0] | FileHandle, data: Args<typeof nodeFs.appendFile>[1], options?: Args<typeof nodeFs.appendFile>[2]): Promise<void> {
  return writeOrAppend(path, data, options, 'a');
}

async function writeOrAppend(file: unknown, data: unknown, options: unknown, flag: 'w' | 'a'): Promise<void> {
  const viaNode = (): Promise<void> => (flag === 'w' ? nodeFs.writeFile(file as string, data as string, options as undefined) : nodeFs.appendFile(file as string, data as string, options as undefined));
  const o = fileOptionsArg(options, { encoding: 'utf8', flag });
  const validData = typeof data === 'string' || ArrayBuffer.isView(data) || isCustomIterable(data);
  if (file instanceof FileHandle) return file.writeFile(data, options as BufferEncoding);
  const ring = threadRing();
  const p = pathArg(file);
  if (ring === null || p === undefined || o === undefined || !validData) return viaNode();
  if (o.signal !== undefined) await abortPoint(o.signal);
  if (!o.flush && !isCustomIterable(data)) {
    // The common case: one helper call, parallel positioned writes of a known size.
    try {
      await ringWriteFile(ring, p, data as string | ArrayBufferView, { encoding: o.encoding ?? 'utf8', flag: o.flags >>> 0, mode: o.mode, signal: o.signal });
    } catch (err) {
      throw toNodeError(err);
    }
    return;
  }
  let fd: number;
  try {
    fd = await ring.openat(AT_FDCWD, p, o.flags >>> 0, o.mode);
  } catch (err) {
    throw toNodeError(err, 'open', p);
  }
  let failure: unknown;
  try {
    await writeData(fd, data, o.encoding, o.signal);
    if (o.flush) {
      try {
        await ring.fsync(fd);
      } catch (err) {
        throw toNodeError(err, 'fsync');
      }
    }
  } catch (err) {
    failure = err;
  }
  try {
    await ring.closeFd(fd);
  } catch (err) {
    failure ??= toNodeError(err, 'close');
  }
  if (failure !== undefined) throw failure;
}

/**
 * Copies a file, like `fsPromises.copyFile(src, dest, mode = 0)`. Modes with
 * `COPYFILE_FICLONE` or `COPYFILE_FICLONE_FORCE` go to Node, which asks the file system for a
 * copy-on-write clone (io_uring has no op for it). Copying a file onto itself leaves it as it
 * is. A failed copy removes the destination only if it created it.
 */
export async function copyFile(src: Args<typeof nodeFs.copyFile>[0], dest: Args<typeof nodeFs.copyFile>[1], mode?: number): Promise<void> {
  const ring = threadRing();
  const s = pathArg(src);
  const d = pathArg(dest);
  if (ring === null || s === undefined || d === undefined || !(mode === undefined || mode === 0 || mode === 1)) return nodeFs.copyFile(src, dest, mode);
  try {
    await ringCopyFile(ring, s, d, { mode: mode ?? 0 });
  } catch (err) {
    throw toNodeError(err, 'copyfile', s, d);
  }
}

async function statPath(path: unknown, options: unknown, lstat: boolean): Promise<Stats | BigIntStats> {
  const ring = threadRing();
  const p = pathArg(path);
  const bigint = (options as { bigint?: unknown } | undefined)?.bigint;
  const simple = options === undefined || (typeof options === 'object' && options !== null && (bigint === undefined || typeof bigint === 'boolean'));
  if (ring === null || p === undefined || !simple) return lstat ? nodeFs.lstat(path as string, options as undefined) : nodeFs.stat(path as string, options as undefined);
  try {
    return await statxNode(ring, AT_FDCWD, p, lstat ? AT_SYMLINK_NOFOLLOW : 0, bigint === true);
  } catch (err) {
    throw toNodeError(err, lstat ? 'lstat' : 'stat', p);
  }
}

/** `fsPromises.stat(path, { bigint })`: Node's Stats or BigIntStats. */
export async function stat(path: Args<typeof nodeFs.stat>[0], options?: { bigint?: boolean }): Promise<Stats | BigIntStats> {
  return statPath(path, options, false);
}

/** `fsPromises.lstat(path, { bigint })`: a symbolic link reports itself. */
export async function lstat(path: Args<typeof nodeFs.lstat>[0], options?: { bigint?: boolean }): Promise<Stats | BigIntStats> {
  return statPath(path, options, true);
}

/** `fsPromises.rename(oldPath, newPath)`. */
export async function rename(oldPath: Args<typeof nodeFs.rename>[0], newPath: Args<typeof nodeFs.rename>[1]): Promise<void> {
  const ring = threadRing();
  const a = pathArg(oldPath);
  const b = pathArg(newPath);
  if (ring === null || a === undefined || b === undefined || !kernelHas(IoringOp.RENAMEAT)) return nodeFs.rename(oldPath, newPath);
  try {
    await ring.rename(a, b);
  } catch (err) {
    throw toNodeError(err, 'rename', a, b);
  }
}

/** `fsPromises.unlink(path)`. */
export async function unlink(path: Args<typeof nodeFs.unlink>[0]): Promise<void> {
  const ring = threadRing();
  const p = pathArg(path);
  if (ring === null || p === undefined || !kernelHas(IoringOp.UNLINKAT)) return nodeFs.unlink(path);
  try {
    await ring.unlink(p);
  } catch (err) {
    throw toNodeError(err, 'unlink', p);
  }
}

/** `fsPromises.rmdir(path, options)`: an empty directory (the deprecated `recursive` goes to Node). */
export async function rmdir(path: Args<typeof nodeFs.rmdir>[0], options?: Args<typeof nodeFs.rmdir>[1]): Promise<void> {
  const ring = threadRing();
  const p = pathArg(path);
  if (ring === null || p === undefined || options !== undefined || !kernelHas(IoringOp.UNLINKAT)) return nodeFs.rmdir(path, options);
  try {
    await ring.rmdir(p);
  } catch (err) {
    throw toNodeError(err, 'rmdir', p);
  }
}

/**
 * `fsPromises.mkdir(path, options)`: `options` a mode or `{ recursive, mode }`. With
 * `recursive` resolves with the first directory created (the path as given when that is the
 * only one), or undefined when it existed; a path whose parents are missing is left to Node's
 * own walk.
 */
export async function mkdir(path: Args<typeof nodeFs.mkdir>[0], options?: Args<typeof nodeFs.mkdir>[1]): Promise<string | undefined> {
  const ring = threadRing();
  const p = pathArg(path);
  const o = (typeof options === 'object' && options !== null ? options : { mode: options }) as { recursive?: unknown; mode?: unknown };
  const recursive = o.recursive ?? false;
  const mode = modeArg(o.mode, 0o777);
  if (ring === null || p === undefined || mode === undefined || typeof recursive !== 'boolean' || (recursive && typeof path !== 'string') || !kernelHas(IoringOp.MKDIRAT)) {
    return nodeMkdir(path, options);
  }
  try {
    await ring.mkdir(p, mode);
  } catch (err) {
    // Existing, or missing parents: Node's walk decides (and names) it, exactly as it would.
    if (recursive) return nodeMkdir(path, options);
    throw toNodeError(err, 'mkdir', p);
  }
  return recursive ? (path as string) : undefined;
}

const nodeMkdir = nodeFs.mkdir as (path: unknown, options: unknown) => Promise<string | undefined>;

/** `fsPromises.link(existingPath, newPath)`: a hard link. */
export async function link(existingPath: Args<typeof nodeFs.link>[0], newPath: Args<typeof nodeFs.link>[1]): Promise<void> {
  const ring = threadRing();
  const a = pathArg(existingPath);
  const b = pathArg(newPath);
  if (ring === null || a === undefined || b === undefined || !kernelHas(IoringOp.LINKAT)) return nodeFs.link(existingPath, newPath);
  try {
    await ring.submit((sqe) => prepLinkat(sqe, AT_FDCWD, a, AT_FDCWD, b, 0));
  } catch (err) {
    throw toNodeError(err, 'link', a, b);
  }
}

/** `fsPromises.symlink(target, path, type)`: `type` only matters on Windows. */
export async function symlink(target: Args<typeof nodeFs.symlink>[0], path: Args<typeof nodeFs.symlink>[1], type?: string | null): Promise<void> {
  const ring = threadRing();
  const t = pathArg(target);
  const p = pathArg(path);
  const typeOk = type === undefined || type === null || type === 'dir' || type === 'file' || type === 'junction';
  if (ring === null || t === undefined || p === undefined || !typeOk || !kernelHas(IoringOp.SYMLINKAT)) return nodeFs.symlink(target, path, type);
  try {
    await ring.submit((sqe) => prepSymlinkat(sqe, t, AT_FDCWD, p));
  } catch (err) {
    throw toNodeError(err, 'symlink', t, p);
  }
}

/** `fsPromises.truncate(path, len = 0)`: opens with `'r+'`, then ftruncate. */
export async function truncate(path: Args<typeof nodeFs.truncate>[0], len?: number): Promise<void> {
  const ring = threadRing();
  const p = pathArg(path);
  const length = len ?? 0;
  if (ring === null || p === undefined || typeof length !== 'number' || !Number.isSafeInteger(length)) return nodeFs.truncate(path, len);
  let fd: number;
  try {
    fd = await ring.openat(AT_FDCWD, p, (flagsArg('r+', 'r+') ?? 0) >>> 0, 0o666);
  } catch (err) {
    throw toNodeError(err, 'open', p);
  }
  let failure: unknown;
  try {
    await ftruncate(ring, fd, Math.max(0, length));
  } catch (err) {
    failure = toNodeError(err, 'ftruncate');
  }
  try {
    await ring.closeFd(fd);
  } catch (err) {
    failure ??= toNodeError(err, 'close');
  }
  if (failure !== undefined) throw failure;
}
