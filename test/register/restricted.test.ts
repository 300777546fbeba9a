/**
 * Registration on restricted rings (IORING_REGISTER_RESTRICTIONS), as liburing's
 * register-restrictions test sets them up: an empty restriction set is accepted (and the
 * ring then allows nothing), and a ring that allows IORING_REGISTER_BUFFERS / FILES /
 * FILES_UPDATE (not their "2" forms) can still register buffers and files through
 * RegisteredBuffers and FileTable, which fall back on EACCES as they do on EINVAL.
 */
import { closeSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  IORING_OP_NOP,
  IORING_OP_READ,
  IORING_OP_READ_FIXED,
  IORING_OP_WRITE,
  IORING_OP_WRITE_FIXED,
  IORING_REGISTER_BUFFERS,
  IORING_REGISTER_FILES,
  IORING_REGISTER_FILES_UPDATE,
  IORING_REGISTER_PROBE,
  IOSQE_FIXED_FILE,
} from '../../generated/constants.js';
import { prepNop, prepRead } from '../../generated/ops.js';
import { RegisteredBuffers } from '../../src/register/buffers.js';
import { FileTable } from '../../src/register/files.js';
import { registerRestrictions } from '../../src/register/ring-config.js';
import { IoUring } from '../../src/ring/ring.js';
import { codeOf, run } from './helpers.js';

const EACCES = -13;
const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0).reverse()) c();
});

function disabledRing(): IoUring {
  const ring = new IoUring({ entries: 8, disabled: true });
  cleanups.push(() => ring.close());
  return ring;
}

function tempFile(name: string, content: string): { path: string; fd: number } {
  const path = join(tmpdir(), `tsuring-restricted-${process.pid}-${name}`);
  writeFileSync(path, content);
  const fd = openSync(path, 'r+');
  cleanups.push(() => {
    closeSync(fd);
    rmSync(path, { force: true });
  });
  return { path, fd };
}


describe('an empty restriction set', () => {
  it('is accepted, as the kernel accepts it: the enabled ring then allows no SQE op and no register op', () => {
    const ring = disabledRing();
    registerRestrictions(ring, {});
    // Registered once: a second registration is the kernel's EBUSY, not a refusal of ours.
    expect(codeOf(() => registerRestrictions(ring, {}))).toBe('EBUSY');
    ring.enable();
    expect(run(ring, (s) => prepNop(s)).res).toBe(EACCES);
    expect(codeOf(() => ring.register(IORING_REGISTER_PROBE, new Uint8Array(16 + 8 * 256), 256))).toBe('EACCES');
  });
});

describe('a ring restricted to IORING_REGISTER_BUFFERS / FILES / FILES_UPDATE', () => {
  function restricted(): IoUring {
    const ring = disabledRing();
    registerRestrictions(ring, {
      sqeOps: [IORING_OP_NOP, IORING_OP_READ, IORING_OP_WRITE, IORING_OP_READ_FIXED, IORING_OP_WRITE_FIXED],
      registerOps: [IORING_REGISTER_BUFFERS, IORING_REGISTER_FILES, IORING_REGISTER_FILES_UPDATE],
      sqeFlagsAllowed: IOSQE_FIXED_FILE,
    });
    ring.enable();
    return ring;
  }

  it('RegisteredBuffers.register works, and fixed reads and writes through it do', () => {
    const ring = restricted();
    const file = tempFile('bufs', '');
    const mem = Buffer.alloc(4096);
    const bufs = RegisteredBuffers.register(ring, [mem]);
    const text = 'restricted but registered';
    const n = mem.write(text);
    expect(run(ring, (s) => bufs.prepWriteFixed(s, file.fd, 0, mem.subarray(0, n), n, 0)).res).toBe(n);
    expect(readFileSync(file.path, 'utf8')).toBe(text);
    mem.fill(0);
    expect(run(ring, (s) => bufs.prepReadFixed(s, file.fd, 0, mem.subarray(100, 100 + n), n, 0)).res).toBe(n);
    expect(mem.subarray(100, 100 + n).toString()).toBe(text);
    // Tags need BUFFERS2, which the ring does not allow: the kernel's EACCES, not a silent drop.
    expect(codeOf(() => RegisteredBuffers.register(restricted(), [mem], { tags: [1] }))).toBe('EACCES');
  });

  it('RegisteredBuffers.sparse registers empty slots through IORING_REGISTER_BUFFERS', () => {
    const ring = restricted();
    const bufs = RegisteredBuffers.sparse(ring, 4);
    expect(bufs.count).toBe(4);
    expect(bufs.buffer(3)).toBeNull();
    // BUFFERS_UPDATE is not allowed here: filling a slot is the kernel's EACCES.
    expect(codeOf(() => bufs.update(0, [Buffer.alloc(64)]))).toBe('EACCES');
  });

  it('FileTable.register, .sparse and .update work, and ops on the slots do', () => {
    const ring = restricted();
    const a = tempFile('a', 'from file a');
    const b = tempFile('b', 'from file b');
    const table = FileTable.register(ring, [a.fd, null]);
    const buf = Buffer.alloc(32);
    expect(run(ring, (s) => prepRead(s, table.slot(0), buf, 32, 0)).res).toBe(11);
    expect(buf.subarray(0, 11).toString()).toBe('from file a');
    expect(table.update(1, [b.fd])).toBe(1);
    expect(run(ring, (s) => prepRead(s, table.slot(1), buf, 32, 0)).res).toBe(11);
    expect(buf.subarray(0, 11).toString()).toBe('from file b');

    const other = restricted();
    const sparse = FileTable.sparse(other, 8);
    expect(sparse.update(5, [a.fd])).toBe(1);
    expect(run(other, (s) => prepRead(s, sparse.slot(5), buf, 32, 0)).res).toBe(11);
  });
});

describe('unregister refused by the restrictions (IORING_UNREGISTER_* not allowed)', () => {
  it('throws EACCES and leaves the file table and the buffer table registered and usable', () => {
    const ring = disabledRing();
    registerRestrictions(ring, {
      sqeOps: [IORING_OP_READ, IORING_OP_READ_FIXED],
      registerOps: [IORING_REGISTER_BUFFERS, IORING_REGISTER_FILES],
      sqeFlagsAllowed: IOSQE_FIXED_FILE,
    });
    ring.enable();
    const file = tempFile('kept', 'still registered');
    const table = FileTable.register(ring, [file.fd]);
    const mem = Buffer.alloc(4096);
    const bufs = RegisteredBuffers.register(ring, [mem]);
    expect(codeOf(() => table.unregister())).toBe('EACCES');
    expect(codeOf(() => bufs.unregister())).toBe('EACCES');
    // The kernel still holds both, and so do the objects: slots and buffers keep working.
    expect(table.registered).toBe(true);
    expect(bufs.registered).toBe(true);
    expect(bufs.buffer(0)).toBe(mem);
    expect(run(ring, (s) => bufs.prepReadFixed(s, table.slot(0), 0, mem.subarray(0, 16), 16, 0)).res).toBe(16);
    expect(mem.subarray(0, 16).toString()).toBe('still registered');
    // A second table is still the kernel's one-table rule, not a stale "none registered".
    expect(codeOf(() => FileTable.register(ring, [file.fd]))).toBe('ERR_INVALID_ARG_VALUE');
  });
});
