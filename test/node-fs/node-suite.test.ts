/**
 * An app's own tests after switching the import: cases adapted from Node's own
 * test/parallel/test-fs-promises-*.js (writefile, readfile, file-handle-read,
 * file-handle-write, file-handle-close, file-handle-stat/truncate, mkdir recursive), written
 * once against an `fs` and run against both `node:fs/promises` and `tsuring/fs`. Each must
 * pass on Node's module first (so the expectations are Node's), then on ours.
 */
import { closeSync, createReadStream, openSync, readFileSync, writeFileSync, writeSync } from 'node:fs';
import * as nodeFs from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as tsuringFs from '../../src/node/fs/index.js';
import { tempDir } from '../async/helpers.js';

type Fs = typeof nodeFs;
let root: string;
let cleanup: () => void;
beforeAll(() => ({ dir: root, cleanup } = tempDir('tsuring-node-suite-')));
afterAll(() => cleanup());

let counter = 0;
const fresh = (name: string): string => join(root, `${++counter}-${name}`);

function iterableWith(value: unknown): Iterable<unknown> {
  return {
    *[Symbol.iterator]() {
      yield value;
    },
  };
}

describe.each([
  ['node:fs/promises', nodeFs as Fs],
  ['tsuring/fs', tsuringFs as unknown as Fs],
])('%s', (_name, fs) => {
  describe('writeFile (test-fs-promises-writefile)', () => {
    const buffer = Buffer.from('abc'.repeat(1000));

    it('strings, buffers and typed arrays larger than a read chunk', async () => {
      const dest = fresh('w.txt');
      const text = 'x~yz'.repeat(100);
      await fs.writeFile(dest, text);
      expect(readFileSync(dest)).toEqual(Buffer.from(text, 'utf8'));
      await fs.writeFile(dest, buffer);
      expect(readFileSync(dest)).toEqual(buffer);
      for (const Ctor of [Uint8Array, Uint16Array, Uint32Array]) {
        const big = Buffer.from('012'.repeat(2 ** 14));
        await fs.writeFile(dest, new Ctor(big.buffer, big.byteOffset, big.byteLength / Ctor.BYTES_PER_ELEMENT));
        expect(await fs.readFile(dest)).toEqual(big);
      }
    });

    it('streams, iterables, async iterables, buffer iterables, with an encoding, and a 6 MiB iterable', async () => {
      const dest = fresh('it.txt');
      await fs.writeFile(dest, Readable.from(['a', 'b', 'c']));
      expect(readFileSync(dest, 'utf8')).toBe('abc');
      const streamLike = {
        pipe: () => {
          throw new Error('pipe should not be called for custom iterables');
        },
        *[Symbol.iterator]() {
          yield 'a';
          yield 'b';
          yield 'c';
        },
      };
      await fs.writeFile(dest, streamLike as never);
      expect(readFileSync(dest, 'utf8')).toBe('abc');
      await fs.writeFile(dest, Readable.from(['ümlaut', ' ', 'sechzig']), 'latin1');
      expect(readFileSync(dest, 'latin1')).toBe('ümlaut sechzig');
      await fs.writeFile(dest, [Buffer.from('a'), Buffer.from('b'), Buffer.from('c')] as never);
      expect(readFileSync(dest, 'utf8')).toBe('abc');
      await fs.writeFile(dest, (async function* () {
        yield 'a';
        yield 'b';
        yield 'c';
      })());
      expect(readFileSync(dest, 'utf8')).toBe('abc');
      const large = 'dogs running'.repeat(512 * 1024);
      await fs.writeFile(dest, iterableWith(Buffer.from(large)) as never);
      expect(readFileSync(dest, 'utf8')).toBe(large);
    });

    it('a stream that errors rejects writeFile with its error', async () => {
      // Node 20's writeFile only listens once it iterates (after its open), so an 'error'
      // emitted before that is uncaught in both modules: the app's own listener absorbs it,
      // and the rejection below is still the stream's error, carried by the iterator.
      const early = new Readable({ read() {} }).on('error', () => {});
      process.nextTick(() => early.destroy(new Error('early writeFile stream error')));
      await expect(fs.writeFile(fresh('err.txt'), early)).rejects.toThrow('early writeFile stream error');
      const already = new Readable({ read() {} }).on('error', () => {});
      already.destroy(new Error('already errored writeFile stream'));
      await expect(fs.writeFile(fresh('err2.txt'), already)).rejects.toThrow('already errored writeFile stream');
      // (Node's newer test also wants no 'error' listener left; Node 20 leaves one, so do we.)
      const s = Readable.from(['a']);
      await expect(fs.writeFile(join(root, 'not-found', 'tmp.txt'), s)).rejects.toMatchObject({ code: 'ENOENT' });
    });

    it('an abort on the next tick rejects with AbortError (stream and buffer)', async () => {
      const c1 = new AbortController();
      process.nextTick(() => c1.abort());
      await expect(fs.writeFile(fresh('ab.txt'), Readable.from(['a', 'b', 'c']), { signal: c1.signal })).rejects.toMatchObject({ name: 'AbortError' });
      const c2 = new AbortController();
      process.nextTick(() => c2.abort());
      await expect(fs.writeFile(fresh('ab2.txt'), buffer, { signal: c2.signal })).rejects.toMatchObject({ name: 'AbortError' });
    });

    it('invalid data and invalid iterable members: ERR_INVALID_ARG_TYPE', async () => {
      const dest = fresh('bad.txt');
      for (const value of [42, 42n, {}, Symbol('42'), true, undefined, null, NaN]) {
        await expect(fs.writeFile(dest, value as never), String(value)).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_TYPE' });
        await expect(fs.writeFile(dest, iterableWith(value) as never), `iterable of ${String(value)}`).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_TYPE' });
      }
    });
  });

  describe('readFile (test-fs-promises-readfile)', () => {
    it('a 33 KB file of random bytes, /proc, and aborts before and during', async () => {
      const fn = fresh('large-file');
      const large = Buffer.from(Array.from({ length: 16834 * 2 }, () => Math.floor(Math.random() * 256)));
      await fs.writeFile(fn, large);
      expect((await fs.readFile(fn)).equals(large)).toBe(true);
      expect((await fs.readFile('/proc/sys/kernel/hostname')).length).toBeGreaterThan(0);
      const before = new AbortController();
      before.abort();
      await expect(fs.readFile(fn, { signal: before.signal })).rejects.toMatchObject({ name: 'AbortError' });
      const during = new AbortController();
      process.nextTick(() => during.abort());
      await expect(fs.readFile(fn, { signal: during.signal })).rejects.toMatchObject({ name: 'AbortError' });
    });
  });

  describe('FileHandle.read (test-fs-promises-file-handle-read)', () => {
    for (const useConf of [false, true]) {
      for (const data of ['Hello world', '']) {
        it(`${JSON.stringify(data)}, ${useConf ? 'options object' : 'positional'}; the same handle through fs.createReadStream`, async () => {
          const filePath = fresh('read-file');
          const buffer = Buffer.from(data, 'utf8');
          const fd = openSync(filePath, 'w+');
          const handle = await fs.open(filePath, 'w+');
          const streamHandle = await fs.open(filePath, 'w+');
          writeSync(fd, buffer, 0, buffer.length);
          closeSync(fd);
          let closes = 0;
          (handle as unknown as NodeJS.EventEmitter).on('close', () => closes++);
          const r = useConf ? await handle.read({ buffer: Buffer.alloc(11), offset: 0, length: 11, position: 0 }) : await handle.read(Buffer.alloc(11), 0, 11, 0);
          expect(r.bytesRead).toBe(data.length);
          if (data.length > 0) expect(r.buffer).toEqual(buffer);
          await handle.close();
          expect(closes).toBe(1);
          let streamed = Buffer.alloc(0);
          for await (const chunk of createReadStream(null as never, { fd: streamHandle as never })) streamed = Buffer.from(chunk as Buffer);
          expect(streamed).toEqual(buffer);
          await streamHandle.close();
        });
      }
    }

    it('past 4 GiB returns no data; no arguments; position 0 after moving; lengths 0 and 1; null/undefined lengths', async () => {
      const x = fresh('x.txt');
      writeFileSync(x, 'xyz\n');
      const h = await fs.open(x, 'r');
      try {
        expect((await h.read(Buffer.alloc(1), 0, 1, 0xffffffff + 1)).bytesRead).toBe(0);
        expect((await h.read({ buffer: Buffer.alloc(1), offset: 0, length: 1, position: 0xffffffff + 1 })).bytesRead).toBe(0);
        await h.read();
        const seq = ['x', 'y', 'z'];
        for (let i = 0; i < 6; i++) {
          const buf = Buffer.alloc(1);
          const { bytesRead } = await h.read({ buffer: buf, offset: 0, length: 1, position: i % 3 });
          expect(bytesRead).toBe(1);
          expect(buf.toString()).toBe(seq[i % 3]);
        }
        for (const len of [0, 1]) expect((await h.read({ buffer: Buffer.alloc(4), offset: 0, length: len, position: 0 })).bytesRead).toBe(len);
        for (const byte of [0, 1]) {
          const buf = Buffer.alloc(byte);
          expect((await h.read(buf, 0, undefined, 0)).bytesRead).toBe(byte);
          expect((await h.read(buf, 0, null, 0)).bytesRead).toBe(byte);
          expect((await h.read({ buffer: buf, offset: 0, length: undefined, position: 0 })).bytesRead).toBe(byte);
        }
      } finally {
        await h.close();
      }
    });
  });

  describe('FileHandle.write (test-fs-promises-file-handle-write)', () => {
    it('a buffer, an empty buffer, and a string with (offset, length) arguments', async () => {
      const a = fresh('tmp-write.txt');
      const h1 = await fs.open(a, 'w+');
      const buffer = Buffer.from('Hello world'.repeat(100), 'utf8');
      await h1.write(buffer, 0, buffer.length);
      expect(readFileSync(a)).toEqual(buffer);
      await h1.close();
      const b = fresh('tmp-empty-write.txt');
      const h2 = await fs.open(b, 'w+');
      await h2.write(Buffer.from(''), 0, 0);
      expect(readFileSync(b)).toEqual(Buffer.from(''));
      await h2.close();
      const c = fresh('tmp-data-write.txt');
      const h3 = await fs.open(c, 'w+');
      const text = Buffer.from('Hello world', 'utf8').toString('base64');
      await h3.write(text, 0, text.length as never);
      expect(readFileSync(c)).toEqual(Buffer.from(text, 'utf8'));
      await h3.close();
    });
  });

  describe('FileHandle lifecycle (test-fs-promises-file-handle-close, -stat, -truncate, -sync)', () => {
    it('close twice is fine; fd is -1; methods after close reject EBADF; stat, truncate, sync, datasync', async () => {
      const p = fresh('life.txt');
      writeFileSync(p, 'hello world');
      const h = await fs.open(p, 'r+');
      expect((await h.stat()).size).toBe(11);
      expect((await h.stat({ bigint: true })).size).toBe(11n);
      await h.truncate(5);
      await h.sync();
      await h.datasync();
      expect(readFileSync(p, 'utf8')).toBe('hello');
      await Promise.all([h.close(), h.close()]);
      await h.close();
      expect(h.fd).toBe(-1);
      await expect(h.read(Buffer.alloc(1))).rejects.toMatchObject({ code: 'EBADF', syscall: 'read', message: 'file closed' });
      await expect(h.stat()).rejects.toMatchObject({ code: 'EBADF' });
    });

    it('pipeline(handle.createReadStream(), fs.createWriteStream) copies a file', async () => {
      const src = fresh('pipe-src');
      const data = Buffer.alloc(300_000, 'q');
      writeFileSync(src, data);
      const dst = fresh('pipe-dst');
      const h = await fs.open(src, 'r');
      const w = await fs.open(dst, 'w');
      await pipeline(h.createReadStream(), w.createWriteStream());
      expect(readFileSync(dst).equals(data)).toBe(true);
      expect([h.fd, w.fd]).toEqual([-1, -1]);
    });
  });

  describe('mkdir recursive (test-fs-mkdir, promises part)', () => {
    it('returns the first directory created; undefined when it exists; ENOTDIR through a file', async () => {
      const base = fresh('mk');
      expect(await fs.mkdir(join(base, 'a', 'b'), { recursive: true })).toBe(base);
      expect(await fs.mkdir(join(base, 'a', 'b'), { recursive: true })).toBeUndefined();
      expect(await fs.mkdir(join(base, 'a', 'c'), { recursive: true })).toBe(join(base, 'a', 'c'));
      writeFileSync(join(base, 'file'), '');
      await expect(fs.mkdir(join(base, 'file', 'x'), { recursive: true })).rejects.toMatchObject({ code: 'ENOTDIR', syscall: 'mkdir' });
      await expect(fs.mkdir(join(base, 'file'), { recursive: true })).rejects.toMatchObject({ code: 'EEXIST', syscall: 'mkdir' });
    });
  });
});
