/**
 * The ring-taking file helpers never lose the caller's data (issue 12, §4 and §3):
 * - `copyFile(ring, a, a)` leaves `a` as it is, also through `./a`, a symlink and a hard
 *   link (same device and inode after opening), as Node's copyFile does;
 * - an abort mid-copy removes only a destination the copy itself created, never a file that
 *   existed (which may be the source under another name);
 * - `readFile(ring, -1)` blames its own argument, not the statx builder's `dirfd`.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, linkSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { copyFile as nodeCopyFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { AbortError, AsyncIoUring } from '../../src/async/async-ring.js';
import { copyFile, readFile, writeFile } from '../../src/fs/index.js';
import { tempDir } from '../async/helpers.js';

let ring: AsyncIoUring;
let dir: string;
let cleanup: () => void;
beforeAll(() => ({ dir, cleanup } = tempDir('tsuring-fs-own-')));
afterAll(() => cleanup());
beforeEach(() => {
  ring = new AsyncIoUring({ entries: 64 });
});
afterEach(async () => {
  await ring.close();
});

const MiB = 1024 * 1024;

describe('copyFile onto the source itself', () => {
  for (const strategy of ['readwrite', 'splice', 'auto'] as const) {
    it(`${strategy}: the same path, './name', a symlink and a hard link leave the file intact, as Node does`, async () => {
      const src = join(dir, `self-${strategy}`);
      const data = randomBytes(3 * MiB + 17);
      writeFileSync(src, data);
      const sym = join(dir, `self-${strategy}.sym`);
      const hard = join(dir, `self-${strategy}.hard`);
      symlinkSync(src, sym);
      linkSync(src, hard);
      const cwd = process.cwd();
      process.chdir(dir);
      try {
        for (const dst of [src, `./${basename(src)}`, sym, hard]) {
          // Node first, as the reference: it leaves the file intact.
          await nodeCopyFile(src, dst);
          expect(readFileSync(src).equals(data), `node, ${dst}`).toBe(true);
          await copyFile(ring, src, dst, { strategy });
          expect(readFileSync(src).equals(data), `tsuring, ${dst}`).toBe(true);
          // And the other way round (the link as the source).
          await copyFile(ring, dst, src, { strategy });
          expect(readFileSync(src).equals(data), `tsuring reversed, ${dst}`).toBe(true);
        }
      } finally {
        process.chdir(cwd);
      }
      expect(ring.pending).toBe(0);
    });
  }

  it('with an abort at once: the file is neither truncated nor unlinked', async () => {
    const src = join(dir, 'self-abort');
    const data = randomBytes(8 * MiB);
    writeFileSync(src, data);
    const ac = new AbortController();
    const p = copyFile(ring, src, src, { signal: ac.signal });
    setImmediate(() => ac.abort());
    const outcome = await p.then(() => 'done', (e: unknown) => e);
    if (outcome !== 'done') expect(outcome).toBeInstanceOf(AbortError);
    expect(existsSync(src)).toBe(true);
    expect(readFileSync(src).equals(data)).toBe(true);
  });

  it('COPYFILE_EXCL onto itself: EEXIST, nothing touched', async () => {
    const src = join(dir, 'self-excl');
    writeFileSync(src, 'keep me');
    await expect(copyFile(ring, src, src, { mode: 1 })).rejects.toMatchObject({ code: 'EEXIST' });
    expect(readFileSync(src, 'utf8')).toBe('keep me');
  });
});

describe('an aborted copy removes only what it created', () => {
  /** Starts a copy of `size` random bytes and aborts it once the destination's size changed from `initial`. */
  async function abortMidCopy(dst: string, initial: number | null): Promise<unknown> {
    const src = join(dir, `abort-src-${basename(dst)}`);
    writeFileSync(src, randomBytes(64 * MiB));
    const ac = new AbortController();
    const p = copyFile(ring, src, dst, { signal: ac.signal });
    const timer = setInterval(() => {
      const now = existsSync(dst) ? statSync(dst).size : null;
      if (now !== initial) {
        ac.abort();
        clearInterval(timer);
      }
    }, 0);
    const outcome = await p.then(() => 'done', (e: unknown) => e);
    clearInterval(timer);
    expect(readFileSync(src).length).toBe(64 * MiB);
    return outcome;
  }

  it('a destination that existed before stays (possibly half-written), never unlinked', async () => {
    let aborted = 0;
    for (let i = 0; i < 3; i++) {
      const dst = join(dir, `existing-${i}`);
      writeFileSync(dst, 'x'.repeat(100));
      const outcome = await abortMidCopy(dst, 100);
      if (outcome !== 'done') {
        expect(outcome).toBeInstanceOf(AbortError);
        aborted++;
      }
      expect(existsSync(dst)).toBe(true);
    }
    console.info(`[info] ${aborted} of 3 copies onto an existing file were aborted mid-copy`);
    expect(ring.pending).toBe(0);
  });

  it('a destination the copy created is removed', async () => {
    const dst = join(dir, 'created-by-copy');
    const outcome = await abortMidCopy(dst, null);
    if (outcome !== 'done') {
      expect(outcome).toBeInstanceOf(AbortError);
      expect(existsSync(dst)).toBe(false);
    }
  });
});

describe('descriptor arguments are checked as such', () => {
  it.each([-1, 1.5, 2 ** 31, Number.NaN])('readFile and writeFile with descriptor %s blame their own `file` argument', async (fd) => {
    const r = await readFile(ring, fd).then(() => null, (e: unknown) => e as { code: string; message: string });
    expect(r).toMatchObject({ code: 'ERR_OUT_OF_RANGE' });
    expect(r!.message).toMatch(/^readFile: file: /);
    expect(r!.message).not.toMatch(/prepStatx|dirfd/);
    const w = await writeFile(ring, fd, 'x').then(() => null, (e: unknown) => e as { code: string; message: string });
    expect(w).toMatchObject({ code: 'ERR_OUT_OF_RANGE' });
    expect(w!.message).toMatch(/^writeFile: file: /);
  });
});
