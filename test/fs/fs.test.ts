/**
 * readFile / writeFile / copyFile on io_uring: byte-exact on temp files of every awkward
 * size (empty, 1 byte, around the chunk size, multi-MiB), both copy strategies, files
 * without a size (procfs), descriptors, encodings, flags, modes, abort, and errors.
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, closeSync, constants, existsSync, mkdirSync, openSync, readFileSync, readSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { OwnedFd } from '../../src/abi/owned-fd.js';
import { AbortError, AsyncIoUring } from '../../src/async/async-ring.js';
import { copyFile, readFile, writeFile } from '../../src/fs/index.js';
import { tempDir } from '../async/helpers.js';

let ring: AsyncIoUring;
let dir: string;
let cleanup: () => void;
beforeAll(() => ({ dir, cleanup } = tempDir('tsuring-fs-')));
afterAll(() => cleanup());
beforeEach(() => {
  ring = new AsyncIoUring({ entries: 64 });
});
afterEach(async () => {
  await ring.close();
});

const MiB = 1024 * 1024;
const SIZES = [0, 1, 4095, 4096, 65537, MiB - 1, MiB, MiB + 1, 4 * MiB + 12345, 9 * MiB];

describe('readFile', () => {
  it.each(SIZES)('%i bytes: the exact content, by path, URL and Buffer path', async (size) => {
    const path = join(dir, `r-${size}.bin`);
    const data = randomBytes(size);
    writeFileSync(path, data);
    const a = await readFile(ring, path);
    expect(Buffer.isBuffer(a)).toBe(true);
    expect(a.length).toBe(size);
    expect(a.equals(data)).toBe(true);
    expect((await readFile(ring, pathToFileURL(path))).equals(data)).toBe(true);
    expect((await readFile(ring, Buffer.from(path))).equals(data)).toBe(true);
  });

  it('decodes with an encoding; reads files that report size 0 (procfs) to the end', async () => {
    const path = join(dir, 'text.txt');
    writeFileSync(path, 'héllo wörld ✓');
    expect(await readFile(ring, path, { encoding: 'utf8' })).toBe('héllo wörld ✓');
    expect(await readFile(ring, path, { encoding: 'base64' })).toBe(Buffer.from('héllo wörld ✓').toString('base64'));
    const status = await readFile(ring, '/proc/self/status', { encoding: 'utf8' });
    expect(status).toMatch(/^Name:/);
    expect(status).toContain(`Pid:\t${process.pid}`);
    const maps = await readFile(ring, '/proc/self/maps');
    expect(maps.length).toBeGreaterThan(4096); // more than one step
  });

  it('a file holding less than its reported size (sysfs: 4096 reported) ends where the data ends', async (ctx) => {
    const path = '/sys/kernel/mm/transparent_hugepage/enabled';
    if (!existsSync(path)) {
      const note = `skipped: ${path} does not exist on this kernel (no transparent huge pages)`;
      console.warn(note);
      ctx.skip(note);
      return;
    }
    const expected = readFileSync(path);
    expect(statSync(path).size).toBeGreaterThan(expected.length); // the premise: reads stop early
    expect((await readFile(ring, path)).equals(expected)).toBe(true);
  });

  it('from a descriptor: reads from its current position, like Node', async () => {
    const path = join(dir, 'fd.bin');
    const data = randomBytes(3 * MiB + 7);
    writeFileSync(path, data);
    const fd = openSync(path, 'r');
    try {
      readSync(fd, Buffer.alloc(100), 0, 100, null); // advance the position by 100
      expect((await readFile(ring, fd)).equals(data.subarray(100))).toBe(true);
      expect((await readFile(ring, fd)).length).toBe(0); // at the end now
    } finally {
      closeSync(fd);
    }
    const owned = new OwnedFd(openSync(path, 'r'));
    expect((await readFile(ring, owned)).equals(data)).toBe(true);
    owned.close();
  });

  it('errors: missing file (ENOENT with the path), a directory (EISDIR), bad options; no descriptor leaks', async () => {
    const missing = join(dir, 'nope.bin');
    await expect(readFile(ring, missing)).rejects.toMatchObject({ code: 'ENOENT', path: missing });
    const sub = join(dir, 'adir');
    mkdirSync(sub, { recursive: true });
    await expect(readFile(ring, sub)).rejects.toMatchObject({ code: 'EISDIR' });
    await expect(readFile(ring, join(dir, 'text.txt'), { encoding: 'klingon' as BufferEncoding })).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_VALUE' });
    await expect(readFile(ring, {} as never)).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_TYPE' });
  });

  it('abort mid-read rejects with AbortError after the ops in flight settled, and closes the file', async () => {
    const path = join(dir, 'abort.bin');
    writeFileSync(path, randomBytes(16 * MiB));
    const ac = new AbortController();
    const p = readFile(ring, path, { signal: ac.signal });
    setImmediate(() => ac.abort());
    const err = await p.catch((e: unknown) => e);
    // Either it finished before the abort landed, or it was aborted.
    if (err !== undefined && !Buffer.isBuffer(err)) expect(err).toBeInstanceOf(AbortError);
    expect(ring.pending).toBe(0);
    const pre = new AbortController();
    pre.abort();
    await expect(readFile(ring, path, { signal: pre.signal })).rejects.toBeInstanceOf(AbortError);
  });
});

describe('writeFile', () => {
  it.each(SIZES)('%i bytes: written exactly, replacing a longer file', async (size) => {
    const path = join(dir, `w-${size}.bin`);
    writeFileSync(path, randomBytes(size + 5000)); // longer: must be truncated
    const data = randomBytes(size);
    await writeFile(ring, path, data);
    const back = readFileSync(path);
    expect(back.length).toBe(size);
    expect(back.equals(data)).toBe(true);
  });

  it('strings with an encoding, typed arrays, mode for new files, append flag, descriptors', async () => {
    const p1 = join(dir, 'w1.txt');
    await writeFile(ring, p1, 'aGVsbG8=', { encoding: 'base64' });
    expect(readFileSync(p1, 'utf8')).toBe('hello');
    const p2 = join(dir, 'w2.bin');
    await writeFile(ring, p2, new Uint16Array([0x4241, 0x4443]), { mode: 0o600 });
    expect(readFileSync(p2, 'latin1')).toBe('ABCD');
    expect(statSync(p2).mode & 0o777).toBe(0o600);
    // Append: many chunks, in order.
    const p3 = join(dir, 'w3.txt');
    writeFileSync(p3, 'start;');
    const big = randomBytes(3 * MiB);
    await writeFile(ring, p3, big, { flag: 'a' });
    await writeFile(ring, p3, ';end', { flag: 'a' });
    expect(readFileSync(p3).equals(Buffer.concat([Buffer.from('start;'), big, Buffer.from(';end')]))).toBe(true);
    // Exclusive create refuses an existing file.
    await expect(writeFile(ring, p3, 'x', { flag: 'wx' })).rejects.toMatchObject({ code: 'EEXIST' });
    // A descriptor: written at its position.
    const fd = openSync(join(dir, 'w4.txt'), 'w+');
    try {
      writeSync(fd, 'head:');
      await writeFile(ring, fd, 'tail');
      expect(readFileSync(join(dir, 'w4.txt'), 'utf8')).toBe('head:tail');
    } finally {
      closeSync(fd);
    }
    await expect(writeFile(ring, join(dir, 'w5'), 42 as never)).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_TYPE' });
    await expect(writeFile(ring, join(dir, 'missing-dir', 'f'), 'x')).rejects.toMatchObject({ code: 'ENOENT' });
  });
});

describe('copyFile', () => {
  it.each(SIZES)('%i bytes: both strategies copy exactly', async (size) => {
    const src = join(dir, `c-${size}.bin`);
    const data = randomBytes(size);
    writeFileSync(src, data);
    for (const strategy of ['readwrite', 'splice', 'auto'] as const) {
      const dst = join(dir, `c-${size}.${strategy}`);
      writeFileSync(dst, randomBytes(size + 777)); // overwritten and truncated
      await copyFile(ring, src, dst, { strategy });
      const back = readFileSync(dst);
      expect({ strategy, size: back.length }).toEqual({ strategy, size });
      expect(back.equals(data)).toBe(true);
    }
  });

  it("keeps the source's mode (umask or not), honours COPYFILE_EXCL, copies procfs files, removes a failed copy", async () => {
    const src = join(dir, 'mode-src');
    writeFileSync(src, 'mode');
    chmodSync(src, 0o664);
    const dst = join(dir, 'mode-dst');
    await copyFile(ring, src, dst);
    expect(statSync(dst).mode & 0o7777).toBe(0o664);
    await expect(copyFile(ring, src, dst, { mode: constants.COPYFILE_EXCL })).rejects.toMatchObject({ code: 'EEXIST' });
    expect(readFileSync(dst, 'utf8')).toBe('mode'); // untouched
    const proc = join(dir, 'status-copy');
    await copyFile(ring, '/proc/self/status', proc);
    expect(readFileSync(proc, 'utf8')).toMatch(/^Name:/);
    await expect(copyFile(ring, join(dir, 'no-such'), join(dir, 'never'))).rejects.toMatchObject({ code: 'ENOENT' });
    expect(existsSync(join(dir, 'never'))).toBe(false);
    await expect(copyFile(ring, dir, join(dir, 'dir-copy'))).rejects.toMatchObject({ code: 'EISDIR' });
    expect(existsSync(join(dir, 'dir-copy'))).toBe(false);
    // Aborted after the destination was created: it is removed.
    const big = join(dir, 'big-src');
    writeFileSync(big, randomBytes(32 * MiB));
    const ac = new AbortController();
    const p = copyFile(ring, big, join(dir, 'big-dst'), { signal: ac.signal });
    const timer = setInterval(() => {
      if (existsSync(join(dir, 'big-dst'))) {
        ac.abort();
        clearInterval(timer);
      }
    }, 0);
    const outcome = await p.then(() => 'done', (e: unknown) => e);
    clearInterval(timer);
    if (outcome !== 'done') {
      expect(outcome).toBeInstanceOf(AbortError);
      expect(existsSync(join(dir, 'big-dst'))).toBe(false);
    }
    expect(ring.pending).toBe(0);
  });
});
