/**
 * One table of `fs/promises` calls, run against `node:fs/promises` and `tsuring/fs`: each
 * case gets a fresh, identical temp directory per implementation, and the two runs must
 * agree on the result (values, Buffers byte for byte, Stats field by field and class), on the
 * error (class, `code`, `errno`, `syscall`, `path`, `dest`, message) and on what the directory
 * holds afterwards (names, types, sizes, contents, modes).
 *
 * Runs in CI with the rest of the suite; on a machine without io_uring, `tsuring/fs` falls
 * back to Node and the table still runs (the fallback's own test is fallback.test.ts).
 */
import { chmodSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import * as nodeFs from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import * as tsuringFs from '../../src/node/fs/index.js';

type Fs = typeof nodeFs;

interface Case {
  name: string;
  run: (fs: Fs, dir: string) => Promise<unknown>;
}

const roots: string[] = [];
afterAll(() => {
  for (const r of roots) rmSync(r, { recursive: true, force: true });
});

/** A fresh fixture: files of several sizes, a directory tree, a symlink, a read-only file. */
function fixture(): string {
  const dir = mkdtempSync(join(tmpdir(), 'tsuring-conf-'));
  roots.push(dir);
  writeFileSync(join(dir, 'small.txt'), 'héllo wörld\n');
  writeFileSync(join(dir, 'empty'), '');
  const big = Buffer.alloc(1024 * 1024 + 4097); // two of readFile's 1 MiB chunks
  for (let i = 0; i < big.length; i++) big[i] = (i * 7 + (i >> 9)) & 0xff;
  writeFileSync(join(dir, 'big.bin'), big);
  mkdirSync(join(dir, 'sub', 'deeper'), { recursive: true });
  writeFileSync(join(dir, 'sub', 'file'), 'in sub');
  symlinkSync('small.txt', join(dir, 'link'));
  symlinkSync('nowhere', join(dir, 'dangling'));
  writeFileSync(join(dir, 'ro'), 'read only');
  chmodSync(join(dir, 'ro'), 0o444);
  return dir;
}

/** What the directory holds, path by path (relative), for comparing after-effects. */
function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (rel: string): void => {
    for (const name of readdirSync(join(dir, rel)).sort()) {
      const r = rel === '' ? name : `${rel}/${name}`;
      const st = lstatSync(join(dir, r));
      const mode = (st.mode & 0o7777).toString(8);
      if (st.isDirectory()) {
        out[r] = `dir ${mode}`;
        walk(r);
      } else if (st.isSymbolicLink()) out[r] = `link`;
      else out[r] = `file ${mode} ${st.size} ${readFileSync(join(dir, r)).toString('base64').slice(0, 200)}`;
    }
  };
  walk('');
  return out;
}

const STATS_VOLATILE = new Set(['atime', 'atimeMs', 'atimeNs', 'ino', 'dev', 'birthtime', 'birthtimeMs', 'birthtimeNs', 'ctime', 'ctimeMs', 'ctimeNs', 'mtime', 'mtimeMs', 'mtimeNs']);

/** A comparable picture of a result: Buffers as hex, Stats as class and fields, dir paths as <dir>. */
function normalize(value: unknown, dir: string): unknown {
  const fix = (s: string): string => s.split(dir).join('<dir>');
  if (typeof value === 'string') return fix(value);
  if (value === null || typeof value !== 'object') return value;
  if (Buffer.isBuffer(value)) return { Buffer: value.toString('hex') };
  if (ArrayBuffer.isView(value)) return { [value.constructor.name]: Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('hex') };
  if (Array.isArray(value)) return value.map((v) => normalize(v, dir));
  const ctor = value.constructor?.name ?? 'null-prototype';
  if (ctor === 'Stats' || ctor === 'BigIntStats') {
    const fields: Record<string, unknown> = { class: ctor, keys: Object.keys(value).join(' ') };
    for (const [k, v] of Object.entries(value)) {
      // Files made separately for each run differ in inode and times: those are compared on
      // a file both runs share (the "same file" cases below).
      if (!STATS_VOLATILE.has(k)) fields[k] = v instanceof Date ? v.getTime() : v;
    }
    fields.types = ['isFile', 'isDirectory', 'isSymbolicLink', 'isCharacterDevice', 'isBlockDevice', 'isFIFO', 'isSocket'].map((m) => (value as unknown as Record<string, () => boolean>)[m]!()).join(',');
    return fields;
  }
  const out: Record<string, unknown> = { proto: ctor };
  for (const [k, v] of Object.entries(value)) out[k] = normalize(v, dir);
  return out;
}

function normalizeError(err: unknown, dir: string): unknown {
  const e = err as NodeJS.ErrnoException & { dest?: string };
  const fix = (s: unknown): unknown => (typeof s === 'string' ? s.split(dir).join('<dir>') : s);
  return {
    threw: true,
    class: e?.constructor?.name,
    name: e?.name,
    code: e?.code,
    errno: e?.errno,
    syscall: e?.syscall,
    path: fix(e?.path),
    dest: fix(e?.dest),
    message: fix(e?.message),
    ownKeys: e !== null && typeof e === 'object' ? Object.keys(e).sort().join(' ') : '',
  };
}

async function outcome(fs: Fs, c: Case): Promise<{ result: unknown; after: Record<string, string> }> {
  const dir = fixture();
  let result: unknown;
  try {
    result = normalize(await c.run(fs, dir), dir);
  } catch (err) {
    result = normalizeError(err, dir);
  }
  return { result, after: snapshot(dir) };
}

const bytes = (n: number, seed = 1): Buffer => Buffer.from(Array.from({ length: n }, (_, i) => (i * seed + 3) & 0xff));
async function* generate(): AsyncGenerator<string | Buffer> {
  yield 'async ';
  yield Buffer.from('generated ');
  yield 'chunks';
}
const aborted = (): AbortSignal => AbortSignal.abort(new Error('stop'));

const withHandle = (path: string, flags: string | number, fn: (h: nodeFs.FileHandle) => Promise<unknown>) => async (fs: Fs, dir: string) => {
  const h = await fs.open(join(dir, path), flags);
  try {
    return await fn(h);
  } finally {
    await h.close();
  }
};

const CASES: Case[] = [
  // readFile
  { name: 'readFile: a Buffer', run: (fs, d) => fs.readFile(join(d, 'small.txt')) },
  { name: "readFile: 'utf8'", run: (fs, d) => fs.readFile(join(d, 'small.txt'), 'utf8') },
  { name: 'readFile: { encoding: base64 }', run: (fs, d) => fs.readFile(join(d, 'small.txt'), { encoding: 'base64' }) },
  { name: 'readFile: a file: URL', run: (fs, d) => fs.readFile(pathToFileURL(join(d, 'small.txt')), 'latin1') },
  { name: 'readFile: a Buffer path', run: (fs, d) => fs.readFile(Buffer.from(join(d, 'small.txt'))) },
  { name: 'readFile: 1 MiB + 4 KiB', run: (fs, d) => fs.readFile(join(d, 'big.bin')) },
  { name: 'readFile: an empty file', run: (fs, d) => fs.readFile(join(d, 'empty'), 'utf8') },
  { name: 'readFile: through a symlink', run: (fs, d) => fs.readFile(join(d, 'link'), 'utf8') },
  { name: 'readFile: procfs (size 0)', run: async (fs) => (await fs.readFile('/proc/self/mountinfo', 'utf8')).length > 0 },
  { name: 'readFile: ENOENT', run: (fs, d) => fs.readFile(join(d, 'missing')) },
  { name: 'readFile: EISDIR', run: (fs, d) => fs.readFile(join(d, 'sub')) },
  { name: "readFile: '' (ENOENT)", run: (fs) => fs.readFile('') },
  { name: 'readFile: ENOTDIR', run: (fs, d) => fs.readFile(join(d, 'small.txt', 'x')) },
  { name: 'readFile: a dangling link', run: (fs, d) => fs.readFile(join(d, 'dangling')) },
  { name: "readFile: flag 'a+' creates", run: (fs, d) => fs.readFile(join(d, 'created'), { flag: 'a+', encoding: 'utf8' }) },
  { name: "readFile: flag 'wx' on an existing file", run: (fs, d) => fs.readFile(join(d, 'small.txt'), { flag: 'wx' }) },
  { name: 'readFile: an unknown encoding', run: (fs, d) => fs.readFile(join(d, 'small.txt'), 'klingon' as BufferEncoding) },
  { name: 'readFile: a NUL in the path', run: (fs, d) => fs.readFile(join(d, 'a\u0000b')) },
  { name: 'readFile: a number', run: (fs) => fs.readFile(12345 as never) },
  { name: 'readFile: an aborted signal', run: (fs, d) => fs.readFile(join(d, 'small.txt'), { signal: aborted() }) },
  // writeFile / appendFile
  { name: 'writeFile: a string', run: (fs, d) => fs.writeFile(join(d, 'w1'), 'text ✓') },
  { name: 'writeFile: hex string', run: (fs, d) => fs.writeFile(join(d, 'w2'), 'deadbeef', 'hex') },
  { name: 'writeFile: a Buffer over an existing file', run: (fs, d) => fs.writeFile(join(d, 'small.txt'), bytes(5)) },
  { name: 'writeFile: a Uint16Array', run: (fs, d) => fs.writeFile(join(d, 'w3'), new Uint16Array([1, 2, 0xffff])) },
  { name: 'writeFile: a DataView', run: (fs, d) => fs.writeFile(join(d, 'w4'), new DataView(bytes(10).buffer, 2, 5)) },
  { name: 'writeFile: 2 MiB', run: (fs, d) => fs.writeFile(join(d, 'w5'), bytes(2 * 1024 * 1024 + 5, 13)) },
  { name: 'writeFile: an array of strings and buffers', run: (fs, d) => fs.writeFile(join(d, 'w6'), ['a', Buffer.from('b'), 'c'] as never) },
  { name: 'writeFile: an async generator', run: (fs, d) => fs.writeFile(join(d, 'w7'), generate()) },
  { name: 'writeFile: a Readable stream', run: (fs, d) => fs.writeFile(join(d, 'w8'), Readable.from(['stream ', 'data'])) },
  { name: 'writeFile: mode 0o600', run: (fs, d) => fs.writeFile(join(d, 'w9'), 'x', { mode: 0o600 }) },
  { name: "writeFile: flag 'a'", run: (fs, d) => fs.writeFile(join(d, 'small.txt'), 'more', { flag: 'a' }) },
  { name: 'writeFile: flush', run: (fs, d) => fs.writeFile(join(d, 'w10'), 'flushed', { flush: true } as never) },
  { name: 'writeFile: ENOENT (missing directory)', run: (fs, d) => fs.writeFile(join(d, 'nodir', 'f'), 'x') },
  { name: 'writeFile: EISDIR', run: (fs, d) => fs.writeFile(join(d, 'sub'), 'x') },
  { name: 'writeFile: EACCES? no: root may write a 0o444 file', run: (fs, d) => fs.writeFile(join(d, 'ro'), 'changed') },
  { name: 'writeFile: a number as data', run: (fs, d) => fs.writeFile(join(d, 'w11'), 42 as never) },
  { name: 'writeFile: an aborted signal', run: (fs, d) => fs.writeFile(join(d, 'w12'), 'x', { signal: aborted() }) },
  { name: 'appendFile: to an existing file', run: (fs, d) => fs.appendFile(join(d, 'small.txt'), 'appended') },
  { name: 'appendFile: creates', run: (fs, d) => fs.appendFile(join(d, 'a1'), bytes(7), { mode: 0o640 }) },
  { name: 'appendFile: latin1 string option', run: (fs, d) => fs.appendFile(join(d, 'a2'), 'ÿ', 'latin1') },
  // copyFile
  { name: 'copyFile: a new file', run: (fs, d) => fs.copyFile(join(d, 'big.bin'), join(d, 'copy')) },
  { name: 'copyFile: over an existing file', run: (fs, d) => fs.copyFile(join(d, 'small.txt'), join(d, 'sub', 'file')) },
  { name: 'copyFile: COPYFILE_EXCL onto an existing file', run: (fs, d) => fs.copyFile(join(d, 'small.txt'), join(d, 'empty'), nodeFs.constants.COPYFILE_EXCL) },
  { name: 'copyFile: COPYFILE_FICLONE', run: (fs, d) => fs.copyFile(join(d, 'small.txt'), join(d, 'clone'), nodeFs.constants.COPYFILE_FICLONE) },
  { name: 'copyFile: COPYFILE_FICLONE_FORCE', run: (fs, d) => fs.copyFile(join(d, 'small.txt'), join(d, 'clone'), nodeFs.constants.COPYFILE_FICLONE_FORCE) },
  { name: 'copyFile: onto itself', run: (fs, d) => fs.copyFile(join(d, 'small.txt'), join(d, 'small.txt')) },
  { name: 'copyFile: onto itself through a symlink', run: (fs, d) => fs.copyFile(join(d, 'small.txt'), join(d, 'link')) },
  { name: 'copyFile: a read-only source keeps its mode', run: (fs, d) => fs.copyFile(join(d, 'ro'), join(d, 'ro-copy')) },
  { name: 'copyFile: ENOENT', run: (fs, d) => fs.copyFile(join(d, 'missing'), join(d, 'never')) },
  { name: 'copyFile: a directory (EISDIR)', run: (fs, d) => fs.copyFile(join(d, 'sub'), join(d, 'never')) },
  { name: 'copyFile: into a directory path (EISDIR)', run: (fs, d) => fs.copyFile(join(d, 'small.txt'), join(d, 'sub')) },
  { name: 'copyFile: mode 8 (out of range)', run: (fs, d) => fs.copyFile(join(d, 'small.txt'), join(d, 'x'), 8) },
  // stat / lstat
  { name: 'stat: a file', run: (fs, d) => fs.stat(join(d, 'small.txt')) },
  { name: 'stat: a directory', run: (fs, d) => fs.stat(join(d, 'sub')) },
  { name: 'stat: through a symlink', run: (fs, d) => fs.stat(join(d, 'link')) },
  { name: 'lstat: a symlink', run: (fs, d) => fs.lstat(join(d, 'link')) },
  { name: 'stat: bigint', run: (fs, d) => fs.stat(join(d, 'big.bin'), { bigint: true }) },
  { name: 'lstat: bigint', run: (fs, d) => fs.lstat(join(d, 'dangling'), { bigint: true }) },
  { name: 'stat: /dev/null (a character device)', run: (fs) => fs.stat('/dev/null') },
  { name: 'stat: ENOENT', run: (fs, d) => fs.stat(join(d, 'missing')) },
  { name: 'stat: a dangling link (ENOENT)', run: (fs, d) => fs.stat(join(d, 'dangling')) },
  { name: 'lstat: ENOTDIR', run: (fs, d) => fs.lstat(join(d, 'small.txt', 'x')) },
  { name: 'stat: bigint not a boolean', run: (fs, d) => fs.stat(join(d, 'small.txt'), { bigint: 1 } as never) },
  // rename / unlink / rmdir / mkdir / link / symlink / truncate
  { name: 'rename: a file', run: (fs, d) => fs.rename(join(d, 'small.txt'), join(d, 'renamed')) },
  { name: 'rename: ENOENT', run: (fs, d) => fs.rename(join(d, 'missing'), join(d, 'x')) },
  { name: 'rename: a file onto a directory (EISDIR)', run: (fs, d) => fs.rename(join(d, 'small.txt'), join(d, 'sub')) },
  { name: 'rename: a directory onto a non-empty one (ENOTEMPTY)', run: (fs, d) => fs.rename(join(d, 'sub', 'deeper'), join(d, 'sub')) },
  { name: 'unlink: a file', run: (fs, d) => fs.unlink(join(d, 'small.txt')) },
  { name: 'unlink: a symlink (not its target)', run: (fs, d) => fs.unlink(join(d, 'link')) },
  { name: 'unlink: ENOENT', run: (fs, d) => fs.unlink(join(d, 'missing')) },
  { name: 'unlink: a directory (EISDIR)', run: (fs, d) => fs.unlink(join(d, 'sub')) },
  { name: 'rmdir: an empty directory', run: (fs, d) => fs.rmdir(join(d, 'sub', 'deeper')) },
  { name: 'rmdir: ENOTEMPTY', run: (fs, d) => fs.rmdir(join(d, 'sub')) },
  { name: 'rmdir: a file (ENOTDIR)', run: (fs, d) => fs.rmdir(join(d, 'small.txt')) },
  { name: 'rmdir: ENOENT', run: (fs, d) => fs.rmdir(join(d, 'missing')) },
  { name: 'mkdir: a directory', run: (fs, d) => fs.mkdir(join(d, 'newdir')) },
  { name: 'mkdir: mode 0o700', run: (fs, d) => fs.mkdir(join(d, 'newdir'), 0o700) },
  { name: 'mkdir: { mode: 0o750 }', run: (fs, d) => fs.mkdir(join(d, 'newdir'), { mode: 0o750 }) },
  { name: 'mkdir: EEXIST', run: (fs, d) => fs.mkdir(join(d, 'sub')) },
  { name: 'mkdir: ENOENT (missing parent)', run: (fs, d) => fs.mkdir(join(d, 'a', 'b')) },
  { name: 'mkdir: recursive, one level', run: (fs, d) => fs.mkdir(join(d, 'r1'), { recursive: true }) },
  { name: 'mkdir: recursive, three levels', run: (fs, d) => fs.mkdir(join(d, 'r1', 'r2', 'r3'), { recursive: true }) },
  { name: 'mkdir: recursive, existing', run: (fs, d) => fs.mkdir(join(d, 'sub', 'deeper'), { recursive: true }) },
  { name: 'mkdir: recursive through a file (ENOTDIR)', run: (fs, d) => fs.mkdir(join(d, 'small.txt', 'x', 'y'), { recursive: true }) },
  { name: 'mkdir: recursive onto a file (EEXIST)', run: (fs, d) => fs.mkdir(join(d, 'small.txt'), { recursive: true }) },
  { name: 'mkdir: recursive not a boolean', run: (fs, d) => fs.mkdir(join(d, 'x'), { recursive: 'yes' } as never) },
  { name: 'link: a hard link', run: (fs, d) => fs.link(join(d, 'small.txt'), join(d, 'hard')) },
  { name: 'link: ENOENT', run: (fs, d) => fs.link(join(d, 'missing'), join(d, 'hard')) },
  { name: 'link: EEXIST', run: (fs, d) => fs.link(join(d, 'small.txt'), join(d, 'empty')) },
  { name: 'symlink: a link', run: (fs, d) => fs.symlink('small.txt', join(d, 'sym')) },
  { name: 'symlink: dangling is fine', run: (fs, d) => fs.symlink('nothing-here', join(d, 'sym'), 'file') },
  { name: 'symlink: EEXIST', run: (fs, d) => fs.symlink('small.txt', join(d, 'sub')) },
  { name: 'truncate: to 0', run: (fs, d) => fs.truncate(join(d, 'small.txt')) },
  { name: 'truncate: to 5', run: (fs, d) => fs.truncate(join(d, 'small.txt'), 5) },
  { name: 'truncate: extends', run: (fs, d) => fs.truncate(join(d, 'small.txt'), 100) },
  { name: 'truncate: negative is 0', run: (fs, d) => fs.truncate(join(d, 'small.txt'), -4) },
  { name: 'truncate: a directory (EISDIR)', run: (fs, d) => fs.truncate(join(d, 'sub')) },
  { name: 'truncate: ENOENT', run: (fs, d) => fs.truncate(join(d, 'missing')) },
  // open and FileHandle
  { name: 'open: ENOENT', run: (fs, d) => fs.open(join(d, 'missing')) },
  { name: "open: 'wx' on an existing file (EEXIST)", run: (fs, d) => fs.open(join(d, 'small.txt'), 'wx') },
  { name: "open: a directory with 'w' (EISDIR)", run: (fs, d) => fs.open(join(d, 'sub'), 'w') },
  { name: 'open: an unknown flag string', run: (fs, d) => fs.open(join(d, 'small.txt'), 'rw') },
  { name: 'open: numeric flags and mode', run: withHandle('small.txt', nodeFs.constants.O_RDONLY, async (h) => [typeof h.fd, h.fd > 2]) },
  { name: 'open: creates with a mode', run: async (fs, d) => (await fs.open(join(d, 'm'), 'w', 0o604)).close() },
  { name: 'handle.read()', run: withHandle('small.txt', 'r', (h) => h.read()) },
  { name: 'handle.read(buffer)', run: withHandle('small.txt', 'r', (h) => h.read(Buffer.alloc(8))) },
  { name: 'handle.read(buffer, offset, length, position)', run: withHandle('small.txt', 'r', (h) => h.read(Buffer.alloc(8), 2, 4, 1)) },
  { name: 'handle.read(buffer, { position })', run: withHandle('small.txt', 'r', (h) => h.read(Buffer.alloc(6), { position: 3 })) },
  { name: 'handle.read({ buffer, length })', run: withHandle('small.txt', 'r', (h) => h.read({ buffer: new Uint8Array(6), length: 2 })) },
  { name: 'handle.read: sequential reads advance', run: withHandle('small.txt', 'r', async (h) => [await h.read(Buffer.alloc(3)), await h.read(Buffer.alloc(3)), await h.read(Buffer.alloc(3), 0, 3, 0), await h.read(Buffer.alloc(3))]) },
  { name: 'handle.read: at end of file', run: withHandle('small.txt', 'r', (h) => h.read(Buffer.alloc(4), 0, 4, 1000)) },
  { name: 'handle.read: odd positions (bigint, -2, 1.5, a string) read at the current one', run: withHandle('small.txt', 'r', async (h) => [await h.read(Buffer.alloc(2), 0, 2, 2n as never), await h.read(Buffer.alloc(2), 0, 2, -2), await h.read(Buffer.alloc(2), 0, 2, 1.5), await h.read(Buffer.alloc(2), 0, 2, '3' as never)]) },
  { name: 'handle.write: odd positions write at the current one', run: withHandle('w', 'w+', async (h) => [await h.write(bytes(2), 0, 2, 5n as never), await h.write(bytes(2), 0, 2, 1.5), await h.write(bytes(2), 0, 2, -2), await h.writev([bytes(1)], 7.5)]) },
  { name: 'handle.read: length 0', run: withHandle('small.txt', 'r', (h) => h.read(Buffer.alloc(4), 0, 0, 0)) },
  { name: 'handle.read: negative offset', run: withHandle('small.txt', 'r', (h) => h.read(Buffer.alloc(4), -1, 2, 0)) },
  { name: 'handle.read: past the buffer', run: withHandle('small.txt', 'r', (h) => h.read(Buffer.alloc(4), 2, 4, 0)) },
  { name: 'handle.read: not a buffer', run: withHandle('small.txt', 'r', (h) => h.read('nope' as never)) },
  { name: 'handle.read: a write-only handle (EBADF)', run: withHandle('small.txt', 'a', (h) => h.read(Buffer.alloc(4), 0, 4, 0)) },
  { name: 'handle.read: a directory (EISDIR)', run: withHandle('sub', 'r', (h) => h.read()) },
  { name: 'handle.write(buffer)', run: withHandle('w', 'w', async (h) => [await h.write(bytes(5)), await h.write(bytes(3, 5))]) },
  { name: 'handle.write(buffer, offset, length, position)', run: withHandle('small.txt', 'r+', (h) => h.write(bytes(10), 2, 5, 3)) },
  { name: 'handle.write(buffer, { offset, position })', run: withHandle('small.txt', 'r+', (h) => h.write(bytes(10), { offset: 6, position: 1 } as never)) },
  { name: 'handle.write(string)', run: withHandle('w', 'w', async (h) => [await h.write('héllo'), await h.write('6869', null, 'hex'), await h.write('X', 0)]) },
  { name: 'handle.write: a read-only handle (EBADF)', run: withHandle('small.txt', 'r', (h) => h.write('x')) },
  { name: 'handle.write: empty', run: withHandle('small.txt', 'r+', (h) => h.write(Buffer.alloc(0))) },
  { name: "handle.write: 'a' appends whatever the position", run: withHandle('small.txt', 'a', (h) => h.write(bytes(4), 0, 4, 0)) },
  { name: 'handle.readv / writev', run: withHandle('small.txt', 'r+', async (h) => [await h.readv([Buffer.alloc(3), Buffer.alloc(4)], 1), await h.writev([bytes(2), bytes(3, 9)], 2), await h.writev([]), await h.readv([Buffer.alloc(20)])]) },
  { name: 'handle.readFile after a read (from the position)', run: withHandle('small.txt', 'r', async (h) => [await h.read(Buffer.alloc(3)), await h.readFile('utf8')]) },
  { name: 'handle.readFile: a big file', run: withHandle('big.bin', 'r', (h) => h.readFile()) },
  { name: 'handle.writeFile and appendFile', run: withHandle('small.txt', 'r+', async (h) => [await h.writeFile('XY'), await h.appendFile(['1', '2'] as never), await h.writeFile(bytes(3), { encoding: 'utf8' })]) },
  { name: 'handle.stat / stat({ bigint })', run: withHandle('small.txt', 'r', async (h) => [await h.stat(), await h.stat({ bigint: true })]) },
  { name: 'handle.truncate / sync / datasync', run: withHandle('small.txt', 'r+', async (h) => [await h.truncate(4), await h.sync(), await h.datasync(), await h.truncate()]) },
  { name: 'handle.truncate on a read-only handle (EINVAL)', run: withHandle('small.txt', 'r', (h) => h.truncate(2)) },
  { name: 'handle.chmod / utimes (Node on the descriptor)', run: withHandle('small.txt', 'r', async (h) => [await h.chmod(0o640), await h.utimes(1_000_000, 2_000_000), (await h.stat()).mtimeMs]) },
  {
    name: 'handle.close: fd -1, idempotent, calls after it fail with EBADF "file closed"',
    run: async (fs, d) => {
      const h = await fs.open(join(d, 'small.txt'));
      const events: string[] = [];
      (h as unknown as NodeJS.EventEmitter).on('close', () => events.push('close'));
      const closing = h.close();
      const fdDuring = h.fd;
      await closing;
      await h.close();
      const after = await h.read(Buffer.alloc(1)).catch((e: unknown) => normalizeError(e, d));
      const stat = await h.stat().catch((e: unknown) => normalizeError(e, d));
      return { fdDuring, fd: h.fd, events, after, stat };
    },
  },
  {
    name: 'handle.close waits for a read in flight',
    run: async (fs, d) => {
      const h = await fs.open(join(d, 'big.bin'));
      const read = h.read(Buffer.alloc(1024 * 1024), 0, 1024 * 1024, 0);
      const closed = h.close();
      const fdNow = h.fd;
      const r = await read;
      await closed;
      return { fdNow, bytesRead: r.bytesRead };
    },
  },
  {
    name: 'await using closes the handle',
    run: async (fs, d) => {
      let fd = 0;
      let handle: nodeFs.FileHandle | undefined;
      {
        await using h = await fs.open(join(d, 'small.txt'));
        handle = h;
        fd = h.fd;
      }
      return [fd > 0, handle.fd];
    },
  },
  {
    name: 'handle streams: createReadStream, readLines, createWriteStream',
    run: async (fs, d) => {
      const r = await fs.open(join(d, 'big.bin'));
      let total = 0;
      for await (const chunk of r.createReadStream({ start: 10, end: 200_009 })) total += (chunk as Buffer).length;
      const lines = await fs.open(join(d, 'small.txt'));
      const got: string[] = [];
      for await (const line of lines.readLines()) got.push(line);
      const w = await fs.open(join(d, 'streamed'), 'w');
      await new Promise<void>((resolve, reject) => {
        const ws = w.createWriteStream();
        ws.on('error', reject);
        ws.on('close', resolve);
        ws.write('one ');
        ws.end('two');
      });
      return { total, got, rClosed: r.fd, linesClosed: lines.fd, wClosed: w.fd };
    },
  },
  {
    name: 'handle.readableWebStream',
    run: async (fs, d) => {
      const h = await fs.open(join(d, 'big.bin'));
      let total = 0;
      for await (const chunk of h.readableWebStream() as unknown as AsyncIterable<Uint8Array>) total += chunk.byteLength;
      await h.close();
      return total;
    },
  },
  // Node's own functions, re-exported
  { name: 'readdir (Node)', run: async (fs, d) => (await fs.readdir(d)).sort() },
  { name: 'rm recursive (Node)', run: (fs, d) => fs.rm(join(d, 'sub'), { recursive: true }) },
  { name: 'access (Node)', run: (fs, d) => fs.access(join(d, 'missing')) },
  { name: 'realpath (Node)', run: (fs, d) => fs.realpath(join(d, 'link')) },
];

describe('tsuring/fs against node:fs/promises: the same table, the same outcomes', () => {
  it('runs on the backend this machine has', () => {
    console.info(`[info] tsuring/fs backend: ${tsuringFs.backend}`);
    expect(['io_uring', 'node']).toContain(tsuringFs.backend);
  });

  it.each(CASES.map((c) => [c.name, c] as const))('%s', async (_name, c) => {
    const expected = await outcome(nodeFs, c);
    const actual = await outcome(tsuringFs as unknown as Fs, c);
    expect(actual).toEqual(expected);
  });

  it('stat of one shared file: every field equal, times and inode included', async () => {
    const dir = fixture();
    for (const name of ['small.txt', 'sub', 'link', 'big.bin']) {
      for (const options of [undefined, { bigint: true }]) {
        for (const fn of ['stat', 'lstat'] as const) {
          const a = await nodeFs[fn](join(dir, name), options);
          const b = await (tsuringFs[fn] as typeof nodeFs.stat)(join(dir, name), options);
          expect(b.constructor).toBe(a.constructor);
          expect(Object.keys(b)).toEqual(Object.keys(a));
          expect(b, `${fn} ${name} ${JSON.stringify(options)}`).toEqual(a);
        }
      }
      const nh = await nodeFs.open(join(dir, name), 'r');
      const th = await tsuringFs.open(join(dir, name), 'r');
      expect(await th.stat()).toEqual(await nh.stat());
      expect(await th.stat({ bigint: true })).toEqual(await nh.stat({ bigint: true }));
      await nh.close();
      await th.close();
    }
  });
});
