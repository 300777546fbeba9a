/**
 * `tsuring/fs` used as an attacker or a careless app would: objects that lie about their
 * size, arrays that change under validation, a close racing many reads, thousands of calls at
 * once, an abort during an endless write, handles used from a stream callback. Nothing is
 * written outside the caller's memory, nothing settles twice or never, no descriptor leaks.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fs from '../../src/node/fs/index.js';
import { fdCount, tempDir } from '../async/helpers.js';

let dir: string;
let cleanup: () => void;
beforeAll(() => ({ dir, cleanup } = tempDir('tsuring-node-fs-hostile-')));
afterAll(() => cleanup());

describe('hostile arguments', () => {
  it('a Uint8Array whose byteLength lies: the read stays inside the real memory', async () => {
    const p = join(dir, 'lie');
    writeFileSync(p, Buffer.alloc(65536, 0x41));
    const backing = new ArrayBuffer(64);
    const canary = new Uint8Array(backing, 16, 48);
    const liar = new Uint8Array(backing, 0, 16);
    Object.defineProperty(liar, 'byteLength', { value: 65536 });
    const h = await fs.open(p);
    try {
      // Either refused (the range is checked against the real buffer) or at most 16 bytes.
      const r = await h.read(liar, 0, 65536, 0).then((v) => v.bytesRead, (e: unknown) => (e as { code?: string; name: string }).code ?? (e as Error).name);
      expect(r === 'RangeError' || r === 'ERR_OUT_OF_RANGE' || (typeof r === 'number' && r <= 16), String(r)).toBe(true);
      expect(canary.every((b) => b === 0)).toBe(true);
    } finally {
      await h.close();
    }
  });

  it('a Proxy array whose length grows after validation: writev writes what was validated', async () => {
    const p = join(dir, 'proxy');
    const h = await fs.open(p, 'w+');
    let reads = 0;
    const target = [Buffer.from('ab'), Buffer.from('cd')];
    const sneaky = new Proxy(target, {
      get(t, key, recv) {
        if (key === 'length') return reads++ < 2 ? t.length : 64;
        return Reflect.get(t, key, recv) as unknown;
      },
    });
    try {
      const r = await h.writev(sneaky, 0);
      expect(r.bytesWritten).toBe(4);
      expect(readFileSync(p, 'utf8')).toBe('abcd');
    } finally {
      await h.close();
    }
  });
});

describe('races and load', () => {
  it('close() while 100 reads are in flight: every read settles once, the fd closes after them', async () => {
    const p = join(dir, 'race');
    writeFileSync(p, Buffer.alloc(1 << 20, 1));
    const before = fdCount();
    const h = await fs.open(p);
    const reads = Array.from({ length: 100 }, (_, i) => h.read(Buffer.alloc(4096), 0, 4096, i * 4096));
    const closing = h.close();
    const settled = await Promise.allSettled(reads);
    await closing;
    expect(h.fd).toBe(-1);
    expect(settled.every((s) => s.status === 'fulfilled' && s.value.bytesRead === 4096)).toBe(true);
    expect(fdCount()).toBe(before);
    await expect(h.read(Buffer.alloc(1))).rejects.toMatchObject({ code: 'EBADF' });
  });

  it('2,000 readFile calls at once: all equal, no descriptor left open', async () => {
    const p = join(dir, 'many');
    writeFileSync(p, 'many readers');
    const before = fdCount();
    const all = await Promise.all(Array.from({ length: 2000 }, () => fs.readFile(p, 'utf8')));
    expect(new Set(all)).toEqual(new Set(['many readers']));
    expect(fdCount()).toBe(before);
  });

  it('an abort during an endless async-iterable writeFile: AbortError, file closed, nothing leaks', async () => {
    const before = fdCount();
    const ac = new AbortController();
    let chunks = 0;
    async function* endless(): AsyncGenerator<Buffer> {
      for (;;) {
        chunks++;
        if (chunks === 50) setImmediate(() => ac.abort(new Error('enough')));
        yield Buffer.alloc(1024, 7);
        await new Promise((r) => setImmediate(r));
      }
    }
    const err = await fs.writeFile(join(dir, 'endless'), endless(), { signal: ac.signal }).catch((e: unknown) => e);
    expect(err).toMatchObject({ name: 'AbortError', code: 'ABORT_ERR' });
    expect((err as { cause?: Error }).cause?.message).toBe('enough');
    expect(fdCount()).toBe(before);
  });

  it('handle methods called from inside a read stream\'s data callback', async () => {
    const p = join(dir, 'reentrant');
    writeFileSync(p, Buffer.alloc(200_000, 3));
    const h = await fs.open(p, 'r');
    const stats: number[] = [];
    const pending: Promise<unknown>[] = [];
    await new Promise<void>((resolve, reject) => {
      const rs = h.createReadStream({ autoClose: false, highWaterMark: 16384 });
      rs.on('data', () => {
        pending.push(h.stat().then((s) => stats.push(s.size)));
        pending.push(h.read(Buffer.alloc(8), 0, 8, 0));
      });
      rs.on('end', resolve);
      rs.on('error', reject);
    });
    await Promise.all(pending);
    expect(stats.length).toBeGreaterThan(5);
    expect(new Set(stats)).toEqual(new Set([200_000]));
    await h.close();
  });
});
