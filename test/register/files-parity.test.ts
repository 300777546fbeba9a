/**
 * Registration behaviours liburing's tests rely on that FileTable and the buffer groups
 * used to refuse: IORING_REGISTER_FILES_SKIP in a files update, an empty file-alloc range,
 * and a provided-buffer read or receive asking for more than one buffer holds (the kernel
 * clamps it to the buffer).
 */
import { closeSync, mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { IORING_REGISTER_FILES_SKIP } from '../../generated/constants.js';
import { prepOpenatDirect, prepRead } from '../../generated/ops.js';
import { ArgumentError } from '../../src/errors.js';
import { FileTable } from '../../src/register/files.js';
import { BufferRing, ProvidedBufferGroup } from '../../src/register/provided.js';
import { IoUring } from '../../src/ring/ring.js';
import { closeFd } from '../../src/sys/libc.js';
import { pipe2Sync } from '../../src/sys/posix.js';
import { requireRegister, run, waitCqes } from './helpers.js';

const ENFILE = -23;
const O_RDONLY = 0;
const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0).reverse()) c();
});

function newRing(): IoUring {
  const ring = new IoUring({ entries: 16 });
  cleanups.push(() => ring.close());
  return ring;
}

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'tsuring-files-parity-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function fileWith(dir: string, name: string, content: string): number {
  const path = join(dir, name);
  writeFileSync(path, content);
  const fd = openSync(path, 'r');
  cleanups.push(() => closeSync(fd));
  return fd;
}

function readSlot(ring: IoUring, table: FileTable, slot: number): string {
  const buf = Buffer.alloc(64);
  const res = run(ring, (s) => prepRead(s, table.slot(slot), buf, 64, 0)).res;
  return res < 0 ? `error ${res}` : buf.subarray(0, res).toString();
}

describe('FileTable.update with IORING_REGISTER_FILES_SKIP', () => {
  it('leaves a skipped slot as it was and updates the others; counts the skipped slot as updated', () => {
    const ring = newRing();
    const dir = tempDir();
    const [a, b, c] = ['a', 'b', 'c'].map((n) => fileWith(dir, n, `file ${n}`)) as [number, number, number];
    const table = FileTable.register(ring, [a, b, null]);
    expect(table.update(0, [IORING_REGISTER_FILES_SKIP, c, IORING_REGISTER_FILES_SKIP])).toBe(3);
    expect(readSlot(ring, table, 0)).toBe('file a');
    expect(readSlot(ring, table, 1)).toBe('file c');
    expect(readSlot(ring, table, 2)).toBe('error -9'); // still empty: EBADF
    // With tags too (FILES_UPDATE2): the skipped slot keeps its file.
    expect(table.update(0, [IORING_REGISTER_FILES_SKIP, a], [0, 0])).toBe(2);
    expect(readSlot(ring, table, 0)).toBe('file a');
    expect(readSlot(ring, table, 1)).toBe('file a');
  });

  it('is refused where it means nothing: when registering a table, and as any other negative number', () => {
    const ring = newRing();
    expect(() => FileTable.register(ring, [IORING_REGISTER_FILES_SKIP])).toThrow(ArgumentError);
    const table = FileTable.sparse(ring, 2);
    expect(() => table.update(0, [-3])).toThrow(ArgumentError);
    expect(() => table.set(0, IORING_REGISTER_FILES_SKIP)).not.toThrow();
  });
});

describe('FileTable.setAllocRange with an empty range', () => {
  it('is accepted (as the kernel accepts it): every alloc then fails with -ENFILE until the range is widened', (ctx) => {
    const ring = newRing();
    const dir = tempDir();
    fileWith(dir, 'f', 'x');
    const table = FileTable.sparse(ring, 4);
    requireRegister(ctx, 'IORING_REGISTER_FILE_ALLOC_RANGE', [6, 0], () => table.setAllocRange(2, 0));
    expect(table.allocRange).toEqual({ offset: 2, length: 0 });
    const open = (): number => run(ring, (s) => prepOpenatDirect(s, -100, join(dir, 'f'), O_RDONLY, 0, 'alloc')).res;
    expect(open()).toBe(ENFILE);
    table.setAllocRange(4, 0); // offset = size is fine when empty
    expect(open()).toBe(ENFILE);
    table.setAllocRange(1, 2);
    expect(open()).toBe(1);
    expect(() => table.setAllocRange(5, 0)).toThrow(ArgumentError);
    expect(() => table.setAllocRange(3, 2)).toThrow(ArgumentError);
  });
});

describe('a provided-buffer read longer than the buffer', () => {
  const content = 'x'.repeat(100);

  it('BufferRing: the kernel clamps the read to the picked buffer', () => {
    const ring = newRing();
    const fd = fileWith(tempDir(), 'long', content);
    const pool = BufferRing.register(ring, { entries: 4, bufferSize: 16 });
    const sqe = ring.getSqeOrThrow();
    pool.prepRead(sqe, fd, 64, 0);
    const [cqe] = waitCqes(ring, 1);
    expect(cqe!.res).toBe(16);
    expect(Buffer.from(pool.take(cqe!)).toString()).toBe(content.slice(0, 16));
  });

  it('legacy ProvidedBufferGroup, from a file and from a pipe: clamped too', () => {
    const ring = newRing();
    const fd = fileWith(tempDir(), 'long', content);
    const group = ProvidedBufferGroup.create(ring, { count: 2, bufferSize: 8 });
    run(ring, (s) => group.prepProvide(s));
    const sqe = ring.getSqeOrThrow();
    group.prepRead(sqe, fd, 0xffffffff, 0);
    const [cqe] = waitCqes(ring, 1);
    expect(cqe!.res).toBe(8);
    expect(Buffer.from(group.take(cqe!)).toString()).toBe(content.slice(0, 8));

    const [r, w] = pipe2Sync();
    cleanups.push(() => {
      closeFd(r);
      closeFd(w);
    });
    writeFileSync(`/proc/self/fd/${w}`, content);
    const recv = ring.getSqeOrThrow();
    group.prepRead(recv, r, 1000);
    const [got] = waitCqes(ring, 1);
    expect(got!.res).toBe(8);
    // Still a u32: what the SQE's len field holds.
    const bad = ring.getSqeOrThrow();
    expect(() => group.prepRead(bad, fd, 2 ** 32)).toThrow(ArgumentError);
    expect(ring.discardSqe(bad)).toBe(true);
  });
});
