/**
 * read/write/readv/writev/fsync on real temp files, byte for byte: explicit offsets,
 * -1 (the file position), bigint offsets, and buffers that do not start at their
 * ArrayBuffer's first byte (Node's pooled Buffers, subarrays).
 */
import { closeSync, fstatSync, openSync, readFileSync, readSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { IORING_FSYNC_DATASYNC } from '../../generated/constants.js';
import { prepFsync, prepRead, prepReadv, prepWrite, prepWritev } from '../../generated/ops.js';
import { IoUring } from '../../src/ring/ring.js';
import { closeQuietly, drain, fileWith, makeTempDir } from './helpers.js';

let tmp: { dir: string; cleanup: () => void };
let ring: IoUring;
const fds: number[] = [];

beforeAll(() => {
  tmp = makeTempDir();
});
afterAll(() => tmp.cleanup());
afterEach(() => {
  ring?.close();
  for (const fd of fds.splice(0)) closeQuietly(fd);
});

function open(name: string, content: string | Uint8Array, flags = 'r+'): { fd: number; path: string } {
  const path = join(tmp.dir, name);
  const fd = fileWith(path, content, flags);
  fds.push(fd);
  return { fd, path };
}

/** Runs the staged SQEs and returns the single CQE's result, checking its tag. */
function one(tag: string): number {
  expect(ring.submitAndWait(1)).toBe(1);
  const cqes = drain(ring);
  expect(cqes).toHaveLength(1);
  expect(cqes[0]!.userData).toBe(tag);
  return cqes[0]!.res;
}

const TEXT = 'The quick brown fox jumps over the lazy dog. 0123456789';

describe('read and write', () => {
  it('reads at an offset into a fresh Buffer', () => {
    ring = new IoUring({ entries: 8 });
    const { fd } = open('read.txt', TEXT);
    const buf = Buffer.alloc(9);
    const sqe = ring.getSqe()!;
    prepRead(sqe, fd, buf, buf.length, 4);
    sqe.userData = 'read';
    expect(one('read')).toBe(9);
    expect(buf.toString()).toBe('quick bro');
  });

  it('reads into a pooled small Buffer (non-zero byteOffset) without touching its neighbours', () => {
    ring = new IoUring({ entries: 8 });
    const { fd } = open('pooled.txt', TEXT);
    // Two small allocUnsafe buffers come from Node's shared pool: the second starts
    // inside the pool's ArrayBuffer, and the first sits right before it.
    const before = Buffer.allocUnsafe(16).fill(0xaa);
    const buf = Buffer.allocUnsafe(16).fill(0xbb);
    const after = Buffer.allocUnsafe(16).fill(0xcc);
    expect(buf.byteOffset).toBeGreaterThan(0);
    expect(buf.buffer).toBe(before.buffer); // really pooled
    const sqe = ring.getSqe()!;
    prepRead(sqe, fd, buf, 5, 10);
    sqe.userData = 'pooled';
    expect(one('pooled')).toBe(5);
    expect(buf.subarray(0, 5).toString()).toBe('brown');
    expect([...buf.subarray(5)].every((b) => b === 0xbb)).toBe(true);
    expect([...before].every((b) => b === 0xaa)).toBe(true);
    expect([...after].every((b) => b === 0xcc)).toBe(true);
  });

  it('reads into a subarray of a Uint8Array and into a DataView window', () => {
    ring = new IoUring({ entries: 8 });
    const { fd } = open('sub.txt', TEXT);
    const backing = new Uint8Array(64).fill(1);
    const sub = backing.subarray(10, 20);
    let sqe = ring.getSqe()!;
    prepRead(sqe, fd, sub, 10, 0);
    sqe.userData = 'sub';
    expect(one('sub')).toBe(10);
    expect(Buffer.from(sub).toString()).toBe('The quick ');
    expect(backing.subarray(0, 10).every((b) => b === 1)).toBe(true);
    expect(backing.subarray(20).every((b) => b === 1)).toBe(true);

    const ab = new ArrayBuffer(32);
    const dv = new DataView(ab, 8, 8);
    sqe = ring.getSqe()!;
    prepRead(sqe, fd, dv, 8, 45);
    sqe.userData = 'dv';
    expect(one('dv')).toBe(8);
    expect(Buffer.from(ab, 8, 8).toString()).toBe('01234567');
    expect(new Uint8Array(ab, 0, 8).every((b) => b === 0)).toBe(true);
  });

  it('writes at explicit offsets, byte-exact', () => {
    ring = new IoUring({ entries: 8 });
    const { fd, path } = open('write.txt', 'xxxxxxxxxxxxxxxx');
    const data = Buffer.from('HELLO');
    let sqe = ring.getSqe()!;
    prepWrite(sqe, fd, data, data.length, 3);
    sqe.userData = 'w1';
    expect(one('w1')).toBe(5);
    sqe = ring.getSqe()!;
    prepWrite(sqe, fd, Buffer.from('!!!'), 2, 20); // past EOF: a hole of zeros, and only 2 of 3 bytes
    sqe.userData = 'w2';
    expect(one('w2')).toBe(2);
    expect(readFileSync(path)).toEqual(Buffer.concat([Buffer.from('xxxHELLOxxxxxxxx'), Buffer.alloc(4), Buffer.from('!!')]));
  });

  it('offset -1 uses and advances the file position, for writes and reads', () => {
    ring = new IoUring({ entries: 8 });
    const path = join(tmp.dir, 'pos.txt');
    writeFileSync(path, '');
    const fd = openSync(path, 'r+');
    fds.push(fd);
    for (const part of ['abc', 'def', 'ghij']) {
      const sqe = ring.getSqe()!;
      prepWrite(sqe, fd, Buffer.from(part), part.length, -1);
      sqe.userData = part;
      expect(one(part)).toBe(part.length);
    }
    expect(readFileSync(path, 'utf8')).toBe('abcdefghij');
    // The position is now at the end: a read at -1 finds EOF...
    const buf = Buffer.alloc(4);
    let sqe = ring.getSqe()!;
    prepRead(sqe, fd, buf, 4, -1);
    sqe.userData = 'eof';
    expect(one('eof')).toBe(0);
    // ...and a positional read does not move it (readSync with null reads at the position).
    sqe = ring.getSqe()!;
    prepRead(sqe, fd, buf, 4, 2);
    sqe.userData = 'pread';
    expect(one('pread')).toBe(4);
    expect(buf.toString()).toBe('cdef');
    expect(readSync(fd, Buffer.alloc(4), 0, 4, null)).toBe(0);

    // Reads at -1 walk through the file from a fresh descriptor's position 0.
    const fd2 = openSync(path, 'r');
    fds.push(fd2);
    const parts: string[] = [];
    for (let i = 0; i < 3; i++) {
      const b = Buffer.alloc(4);
      sqe = ring.getSqe()!;
      prepRead(sqe, fd2, b, 4, -1);
      sqe.userData = `seq${i}`;
      parts.push(b.toString('utf8', 0, one(`seq${i}`)));
    }
    expect(parts).toEqual(['abcd', 'efgh', 'ij']);
  });

  it('takes bigint offsets, including ones past 2^53', () => {
    ring = new IoUring({ entries: 8 });
    const { fd } = open('big.txt', TEXT);
    const buf = Buffer.alloc(5);
    let sqe = ring.getSqe()!;
    prepRead(sqe, fd, buf, 5, 10n);
    sqe.userData = 'small bigint';
    expect(one('small bigint')).toBe(5);
    expect(buf.toString()).toBe('brown');
    // 2^62 is past any file's end: a correctly encoded offset reads nothing. (Mis-encoded
    // as -1 or truncated to 32 bits it would read TEXT from position 0 or 0.)
    for (const off of [2n ** 62n, 2n ** 53n + 1n, 2n ** 32n + 10n]) {
      buf.fill(0);
      sqe = ring.getSqe()!;
      prepRead(sqe, fd, buf, 5, off);
      sqe.userData = `at ${off}`;
      expect(one(`at ${off}`)).toBe(0);
      expect(buf.every((b) => b === 0)).toBe(true);
    }
    // A bigint write lands where it says.
    sqe = ring.getSqe()!;
    prepWrite(sqe, fd, Buffer.from('Z'), 1, 4096n);
    sqe.userData = 'bigint write';
    expect(one('bigint write')).toBe(1);
    expect(fstatSync(fd).size).toBe(4097);
  });
});

describe('readv, writev, fsync', () => {
  it('writev gathers several buffers (one pooled, one subarray) and readv scatters them back', () => {
    ring = new IoUring({ entries: 8 });
    const { fd, path } = open('vec.txt', '');
    const a = Buffer.from('alpha-');
    const pooled = Buffer.allocUnsafe(5);
    pooled.write('beta-');
    const backing = Buffer.from('##gamma##');
    const c = backing.subarray(2, 7);
    let sqe = ring.getSqe()!;
    prepWritev(sqe, fd, [a, pooled, c], 0);
    sqe.userData = 'writev';
    expect(one('writev')).toBe(16);
    expect(readFileSync(path, 'utf8')).toBe('alpha-beta-gamma');

    const x = Buffer.alloc(3);
    const y = Buffer.allocUnsafe(7).fill(0);
    const zBacking = new Uint8Array(20).fill(9);
    const z = zBacking.subarray(5, 11);
    sqe = ring.getSqe()!;
    prepReadv(sqe, fd, [x, y, z], 0);
    sqe.userData = 'readv';
    expect(one('readv')).toBe(16);
    expect(x.toString()).toBe('alp');
    expect(y.toString()).toBe('ha-beta');
    expect(Buffer.from(z).toString()).toBe('-gamma');
    expect(zBacking.subarray(0, 5).every((b) => b === 9)).toBe(true);
    expect(zBacking.subarray(11).every((b) => b === 9)).toBe(true);

    // A short file: readv fills in order and reports what it got.
    sqe = ring.getSqe()!;
    const big = [Buffer.alloc(10), Buffer.alloc(10)];
    prepReadv(sqe, fd, big, 8n);
    sqe.userData = 'short readv';
    expect(one('short readv')).toBe(8);
    expect(big[0]!.toString()).toBe('ta-gamma\0\0');
  });

  it('writev and readv at -1 follow the file position', () => {
    ring = new IoUring({ entries: 8 });
    const { fd, path } = open('vecpos.txt', '');
    for (const [i, parts] of [['12', '34'], ['56', '789']].entries()) {
      const sqe = ring.getSqe()!;
      prepWritev(sqe, fd, parts.map((p) => Buffer.from(p)), -1);
      sqe.userData = `wv${i}`;
      one(`wv${i}`);
    }
    expect(readFileSync(path, 'utf8')).toBe('123456789');
  });

  it('fsync and fdatasync complete with 0 on a written file; fsync of a bad fd reports EBADF', () => {
    ring = new IoUring({ entries: 8 });
    const { fd, path } = open('sync.txt', '');
    let sqe = ring.getSqe()!;
    prepWrite(sqe, fd, Buffer.from('durable'), 7, 0);
    sqe.userData = 'w';
    one('w');
    sqe = ring.getSqe()!;
    prepFsync(sqe, fd);
    sqe.userData = 'fsync';
    expect(one('fsync')).toBe(0);
    sqe = ring.getSqe()!;
    prepFsync(sqe, fd, IORING_FSYNC_DATASYNC);
    sqe.userData = 'fdatasync';
    expect(one('fdatasync')).toBe(0);
    expect(readFileSync(path, 'utf8')).toBe('durable');

    const closedFd = openSync(path, 'r');
    closeSync(closedFd);
    sqe = ring.getSqe()!;
    prepFsync(sqe, closedFd);
    sqe.userData = 'bad';
    expect(ring.submitAndWait(1)).toBe(1);
    let checked = 0;
    ring.forEachCqe((c) => {
      checked++;
      expect(c.res).toBe(-9);
      const err = c.error()!;
      expect(err.code).toBe('EBADF');
      expect(err.syscall).toBe('fsync');
    });
    expect(checked).toBe(1);
  });

  it('a batch mixing all five ops on two files completes each op once, with the right result', () => {
    ring = new IoUring({ entries: 16 });
    const src = open('mix-src.txt', TEXT);
    const dst = open('mix-dst.txt', '');
    const r1 = Buffer.alloc(4);
    const r2 = [Buffer.alloc(3), Buffer.alloc(3)];
    const plan: Array<[string, (s: NonNullable<ReturnType<IoUring['getSqe']>>) => void, number]> = [
      ['read', (s) => prepRead(s, src.fd, r1, 4, 0), 4],
      ['readv', (s) => prepReadv(s, src.fd, r2, 4), 6],
      ['write', (s) => prepWrite(s, dst.fd, Buffer.from('0123'), 4, 0), 4],
      ['writev', (s) => prepWritev(s, dst.fd, [Buffer.from('45'), Buffer.from('67')], 4), 4],
      ['fsync', (s) => prepFsync(s, src.fd), 0],
    ];
    for (const [tag, prep] of plan) {
      const s = ring.getSqe()!;
      prep(s);
      s.userData = tag;
    }
    expect(ring.submitAndWait(plan.length)).toBe(plan.length);
    const cqes = drain(ring);
    expect(cqes.map((c) => c.userData).sort()).toEqual(plan.map((p) => p[0]).sort());
    for (const c of cqes) expect(c.res).toBe(plan.find((p) => p[0] === c.userData)![2]);
    expect(r1.toString()).toBe('The ');
    expect(Buffer.concat(r2).toString()).toBe('quick ');
    expect(readFileSync(dst.path, 'utf8')).toBe('01234567');
  });
});
