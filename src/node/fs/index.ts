/**
 * `tsuring/fs`: `node:fs/promises` on io_uring. Change one import and keep the code:
 *
 * ```ts
 * import fs from 'tsuring/fs'; // was: import fs from 'node:fs/promises'
 * const text = await fs.readFile('package.json', 'utf8');
 * ```
 *
 * - `open` (a {@link FileHandle} with Node's methods), `readFile`, `writeFile`, `appendFile`,
 *   `copyFile`, `stat`, `lstat`, `rename`, `unlink`, `mkdir`, `rmdir`, `link`, `symlink`,
 *   `truncate` run as io_uring ops on one ring per thread, with Node's signatures,
 *   defaults, results (Node's own `Stats` objects) and errors (`code`, `errno`, `syscall`,
 *   `path`, `dest`, message).
 * - Everything else `node:fs/promises` has (`readdir`, `rm`, `chmod`, `utimes`, `access`,
 *   `realpath`, `watch`, `opendir`, `cp`, ...) is Node's own, re-exported: the module is a
 *   complete drop-in, named exports and default export alike.
 * - Where io_uring is unavailable (a seccomp filter, `kernel.io_uring_disabled`, an old or
 *   restricted kernel) every function runs through `node:fs/promises`, with one warning
 *   naming the cause; {@link backend} says which is in use.
 * - {@link useRing} makes it use an `AsyncIoUring` of your own.
 *
 * @module
 */
import nodeFsDefault, * as nodeFs from 'node:fs/promises';
import { backend, useRing } from './backend.js';
import * as impl from './functions.js';

export { backend, useRing, type Backend } from './backend.js';
export type { FileHandle, FileReadResult, FileWriteResult } from './file-handle.js';

// The io_uring implementations, typed as Node's own functions: code that type-checks against
// node:fs/promises type-checks against this module unchanged.

/** `fsPromises.open` on io_uring: resolves with a {@link FileHandle} (Node's methods and results). */
export const open: typeof nodeFs.open = impl.open as never;
/** `fsPromises.readFile` on io_uring. */
export const readFile: typeof nodeFs.readFile = impl.readFile as never;
/** `fsPromises.writeFile` on io_uring (data: string, view, iterable, async iterable, stream). */
export const writeFile: typeof nodeFs.writeFile = impl.writeFile as never;
/** `fsPromises.appendFile` on io_uring. */
export const appendFile: typeof nodeFs.appendFile = impl.appendFile as never;
/** `fsPromises.copyFile` on io_uring (`COPYFILE_FICLONE*` modes: Node's clone). */
export const copyFile: typeof nodeFs.copyFile = impl.copyFile as never;
/** `fsPromises.stat` on io_uring: Node's own `Stats` / `BigIntStats`. */
export const stat: typeof nodeFs.stat = impl.stat as never;
/** `fsPromises.lstat` on io_uring. */
export const lstat: typeof nodeFs.lstat = impl.lstat as never;
/** `fsPromises.rename` on io_uring. */
export const rename: typeof nodeFs.rename = impl.rename as never;
/** `fsPromises.unlink` on io_uring. */
export const unlink: typeof nodeFs.unlink = impl.unlink as never;
/** `fsPromises.rmdir` on io_uring. */
export const rmdir: typeof nodeFs.rmdir = impl.rmdir as never;
/** `fsPromises.mkdir` on io_uring (`recursive` as Node does it). */
export const mkdir: typeof nodeFs.mkdir = impl.mkdir as never;
/** `fsPromises.link` on io_uring. */
export const link: typeof nodeFs.link = impl.link as never;
/** `fsPromises.symlink` on io_uring. */
export const symlink: typeof nodeFs.symlink = impl.symlink as never;
/** `fsPromises.truncate` on io_uring. */
export const truncate: typeof nodeFs.truncate = impl.truncate as never;

// What io_uring has no op for: Node's own functions (the same objects).

/** Node's `fsPromises.access`. */
export const access = nodeFs.access;
/** Node's `fsPromises.chmod`. */
export const chmod = nodeFs.chmod;
/** Node's `fsPromises.chown`. */
export const chown = nodeFs.chown;
/** Node's `fsPromises.cp`. */
export const cp = nodeFs.cp;
/** Node's `fsPromises.lchmod`. */
export const lchmod = nodeFs.lchmod;
/** Node's `fsPromises.lchown`. */
export const lchown = nodeFs.lchown;
/** Node's `fsPromises.lutimes`. */
export const lutimes = nodeFs.lutimes;
/** Node's `fsPromises.mkdtemp`. */
export const mkdtemp = nodeFs.mkdtemp;
/** Node's `fsPromises.opendir`. */
export const opendir = nodeFs.opendir;
/** Node's `fsPromises.readdir`. */
export const readdir = nodeFs.readdir;
/** Node's `fsPromises.readlink`. */
export const readlink = nodeFs.readlink;
/** Node's `fsPromises.realpath`. */
export const realpath = nodeFs.realpath;
/** Node's `fsPromises.rm`. */
export const rm = nodeFs.rm;
/** Node's `fsPromises.statfs`. */
export const statfs = nodeFs.statfs;
/** Node's `fsPromises.utimes`. */
export const utimes = nodeFs.utimes;
/** Node's `fsPromises.watch`. */
export const watch = nodeFs.watch;
/** Node's `fs.constants` (`COPYFILE_EXCL`, `O_*`, `S_*`, ...). */
export const constants = nodeFs.constants;

const ours = { appendFile, copyFile, link, lstat, mkdir, open, readFile, rename, rmdir, stat, symlink, truncate, unlink, writeFile };

/**
 * The default export, as `node:fs/promises` has one: every member of Node's (including ones
 * a newer Node adds), with the io_uring functions in place of Node's, plus `backend` and
 * `useRing`.
 */
const fsPromises: typeof nodeFsDefault & { backend: typeof backend; useRing: typeof useRing } = {
  ...nodeFsDefault,
  ...ours,
  backend,
  useRing,
} as never;

export default fsPromises;
