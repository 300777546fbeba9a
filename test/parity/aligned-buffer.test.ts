/**
 * alignedBuffer: memory at an aligned address, as O_DIRECT needs. Checked by address, by a
 * real O_DIRECT read (where the temp filesystem supports O_DIRECT; skipped with the reason
 * where it does not, e.g. tmpfs before 6.6), against a misaligned view of the same memory
 * (which the filesystem refuses), and across garbage collections in a child process.
 */
import { closeSync, constants, mkdtempSync, openSync, rmSync, statfsSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { prepRead } from '../../generated/ops.js';
import { alignedBuffer } from '../../src/abi/aligned.js';
import { ArgumentError } from '../../src/errors.js';
import { IoUring } from '../../src/ring/ring.js';
import { addressOf } from '../../src/sys/libc.js';
import { describeExit, lastJson, runChild } from '../support/child.js';
import { run } from '../register/helpers.js';

const EINVAL = -22;
/** Filesystems known to refuse a misaligned O_DIRECT buffer with EINVAL (statfs f_type). */
const STRICT_FILESYSTEMS: Record<number, string> = { 0xef53: 'ext4', 0x58465342: 'xfs' };
const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0).reverse()) c();
});

describe('alignedBuffer', () => {
  it('starts at a multiple of the alignment, is zeroed, sized as asked and owns its memory', () => {
    for (const alignment of [1, 2, 512, 4096, 65536, 1 << 21]) {
      for (const size of [0, 1, 100, 4096, 70_000]) {
        const buf = alignedBuffer(size, alignment);
        expect(buf).toBeInstanceOf(Buffer);
        expect(buf.length).toBe(size);
        if (size > 0) expect(addressOf(buf) % alignment).toBe(0);
        expect(buf.every((b) => b === 0)).toBe(true);
        // Its own ArrayBuffer (never Node's shared pool), just large enough to align.
        expect(buf.buffer.byteLength).toBe(size === 0 && alignment === 1 ? 0 : size + alignment - 1);
      }
    }
    expect(addressOf(alignedBuffer(8192)) % 4096).toBe(0);
  });

  it('refuses alignments that are not powers of two and sizes out of range', () => {
    for (const bad of [0, 3, 4095, -4096, 1.5, 2 ** 31, NaN, '4096']) expect(() => alignedBuffer(16, bad as number)).toThrow(ArgumentError);
    for (const bad of [-1, 1.5, NaN, 2 ** 53]) expect(() => alignedBuffer(bad as number)).toThrow(ArgumentError);
  });

  it('an O_DIRECT read into it succeeds; the same read into a misaligned view is refused (EINVAL)', (ctx) => {
    const dir = mkdtempSync(join(tmpdir(), 'tsuring-odirect-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const path = join(dir, 'data');
    const content = Buffer.alloc(3 * 4096);
    for (let i = 0; i < content.length; i++) content[i] = (i * 7) & 0xff;
    writeFileSync(path, content);
    let fd: number;
    try {
      fd = openSync(path, constants.O_RDONLY | constants.O_DIRECT);
    } catch (err) {
      const note = `the temp directory ${dir} is on a filesystem without O_DIRECT (statfs type 0x${statfsSync(dir).type.toString(16)}): ${(err as Error).message}`;
      console.warn(`skipped: ${note}`);
      ctx.skip(note);
    }
    cleanups.push(() => closeSync(fd));
    const ring = new IoUring({ entries: 4 });
    cleanups.push(() => ring.close());

    const buf = alignedBuffer(8192);
    expect(run(ring, (s) => prepRead(s, fd, buf, 8192, 4096)).res).toBe(8192);
    expect(buf.equals(content.subarray(4096))).toBe(true);

    const fsType = statfsSync(dir).type;
    const strict = STRICT_FILESYSTEMS[fsType];
    const padded = alignedBuffer(4096 + 1);
    const misaligned = padded.subarray(1);
    expect(addressOf(misaligned) % 512).toBe(1);
    const res = run(ring, (s) => prepRead(s, fd, misaligned, 4096, 0)).res;
    if (strict === undefined) {
      console.warn(`note: filesystem type 0x${fsType.toString(16)} is not one known to refuse misaligned O_DIRECT; misaligned read gave ${res}`);
    } else {
      expect(res, `${strict} refuses a misaligned O_DIRECT buffer`).toBe(EINVAL);
    }
  });

  it('stays aligned, at the same address, across garbage collections while referenced (child with --expose-gc)', async () => {
    const result = await runChild(
      `
      import { alignedBuffer } from '@repo/src/abi/aligned.js';
      import { addressOf } from '@repo/src/sys/libc.js';
      const bufs = Array.from({ length: 64 }, (_, i) => alignedBuffer(100 + i * 37, 4096));
      bufs.forEach((b, i) => b.fill(i));
      const before = bufs.map((b) => addressOf(b));
      for (let round = 0; round < 5; round++) {
        let junk: unknown[] = [];
        for (let i = 0; i < 20000; i++) junk.push(new Uint8Array(48), { i });
        junk = [];
        (globalThis as { gc?: () => void }).gc!();
      }
      const after = bufs.map((b) => addressOf(b));
      const intact = bufs.every((b, i) => b.every((x) => x === i));
      console.log(JSON.stringify({ same: before.every((a, i) => a === after[i]), aligned: after.every((a) => a % 4096 === 0), intact }));
      `,
      { nodeArgs: ['--expose-gc'] },
    );
    expect(result.code, describeExit(result)).toBe(0);
    expect(lastJson(result)).toEqual({ same: true, aligned: true, intact: true });
  });
});
