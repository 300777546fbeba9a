import { once } from 'node:events';
import { closeSync, openSync, readFileSync, rmSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { IOSQE_FIXED_FILE } from '../../generated/constants.js';
import { prepAcceptDirect, prepMultishotAcceptDirect, prepRead, prepRecv, prepSend, prepWrite } from '../../generated/ops.js';
import { FixedFile } from '../../src/abi/fd.js';
import { OwnedFd } from '../../src/abi/owned-fd.js';
import { ArgumentError } from '../../src/errors.js';
import { FileTable } from '../../src/register/files.js';
import { IoUring } from '../../src/ring/ring.js';
import { IoUringError } from '../../src/sys/errors.js';
import { requireOp, run, tcpListener, waitCqes, waitUntil } from './helpers.js';

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0).reverse()) c();
});

function tempFile(name: string): { path: string; fd: number } {
  const path = join(tmpdir(), `tsuring-files-${process.pid}-${name}`);
  const fd = openSync(path, 'w+');
  cleanups.push(() => {
    try { closeSync(fd); } catch { /* closed by the test */ }
    rmSync(path, { force: true });
  });
  return { path, fd };
}

function newRing(entries = 16): IoUring {
  const ring = new IoUring({ entries });
  cleanups.push(() => ring.close());
  return ring;
}

async function client(port: number): Promise<Socket> {
  const socket = connect(port, '127.0.0.1');
  cleanups.push(() => socket.destroy());
  await once(socket, 'connect');
  return socket;
}

describe('FileTable', () => {
  it('registers descriptors densely; ops target slots with IOSQE_FIXED_FILE and the table keeps its own reference', () => {
    const ring = newRing();
    const a = tempFile('dense');
    const table = FileTable.register(ring, [null, a.fd]);
    expect(table.size).toBe(2);
    expect(FileTable.of(ring)).toBe(table);
    const slot = table.slot(1);
    expect(slot).toBeInstanceOf(FixedFile);
    expect(table.slot(1)).toBe(slot);
    expect(String(slot)).toBe('fixed:1');
    const sqe = ring.getSqeOrThrow();
    prepWrite(sqe, slot, Buffer.from('via slot'), 8, 0);
    expect(sqe.flags & IOSQE_FIXED_FILE).toBe(IOSQE_FIXED_FILE);
    expect(sqe.view.getInt32(sqe.offset + 4, true)).toBe(1);
    expect(waitCqes(ring, 1)[0]!.res).toBe(8);
    // Our descriptor closed: the table still holds the file.
    closeSync(a.fd);
    const buf = Buffer.alloc(8);
    expect(run(ring, (s) => prepRead(s, slot, buf, 8, 0)).res).toBe(8);
    expect(buf.toString()).toBe('via slot');
    // The empty slot is a slot, but holds nothing: the kernel says EBADF.
    expect(run(ring, (s) => prepRead(s, table.slot(0), buf, 8, 0)).res).toBe(-9);
    expect(readFileSync(a.path, 'utf8')).toBe('via slot');
  });

  it('refuses slots outside the table, a second table, and slots of an unregistered table, before the kernel', () => {
    const ring = newRing();
    const a = tempFile('range');
    const table = FileTable.register(ring, [a.fd, a.fd, a.fd]);
    for (const bad of [3, -1, 1.5, Number.NaN, '0']) {
      expect(() => table.slot(bad as number)).toThrow(ArgumentError);
    }
    expect(() => table.slot(3)).toThrow(/from 0 to 2/);
    expect(() => table.fromResult(-23, 'accept')).toThrow(IoUringError);
    expect(() => table.fromResult(7)).toThrow(ArgumentError);
    expect(() => FileTable.register(ring, [a.fd])).toThrow(/already has a registered file table/);
    expect(() => FileTable.sparse(ring, 4)).toThrow(ArgumentError);
    const stale = table.slot(2);
    table.unregister();
    table.unregister(); // idempotent
    expect(() => FileTable.register(ring, [new FixedFile(0) as unknown as number])).toThrow(/not a registered file slot/);
    expect(table.registered).toBe(false);
    const sqe = ring.getSqeOrThrow();
    expect(() => prepRead(sqe, stale, Buffer.alloc(4), 4, 0)).toThrow(/file table was unregistered/);
    // Nothing was written: the SQE is still the NOP getSqe() left.
    expect(sqe.view.getUint8(sqe.offset)).toBe(0);
    expect(ring.discardSqe(sqe)).toBe(true);
    expect(String(stale)).toBe('fixed:2');
    expect(() => table.slot(0)).toThrow(/unregistered/);
    // A new table can be registered now.
    const again = FileTable.sparse(ring, 2);
    expect(FileTable.of(ring)).toBe(again);
  });

  it('a sparse table is filled and emptied with update/set/clear; a tagged file posts its tag when it leaves', () => {
    const ring = newRing();
    const a = tempFile('sparse-a');
    const b = tempFile('sparse-b');
    const table = FileTable.sparse(ring, 8);
    table.set(2, a.fd);
    expect(run(ring, (s) => prepWrite(s, table.slot(2), Buffer.from('AA'), 2, 0)).res).toBe(2);
    expect(table.update(3, [b.fd, null], [77, 0])).toBe(2);
    expect(run(ring, (s) => prepWrite(s, table.slot(3), Buffer.from('BB'), 2, 0)).res).toBe(2);
    expect(readFileSync(a.path, 'utf8')).toBe('AA');
    expect(readFileSync(b.path, 'utf8')).toBe('BB');
    table.clear(3);
    // The kernel posts the tag of the file that left slot 3 as a foreign CQE.
    const tagged = waitUntil(ring, (all) => all.some((c) => c.id === -1 && c.lo === 77));
    expect(tagged.find((c) => c.id === -1)!.hi).toBe(0);
    expect(run(ring, (s) => prepWrite(s, table.slot(3), Buffer.from('x'), 1, 0)).res).toBe(-9);
    expect(() => table.update(7, [a.fd, a.fd])).toThrow(ArgumentError);
    expect(() => table.update(0, [a.fd], [2n ** 63n])).toThrow(/bit 63/);
  });

  it('direct accept with alloc fills slots from the allocation range; FIXED_FD_INSTALL gives back a normal descriptor', async (ctx) => {
    const ring = newRing(32);
    requireOp(ctx, ring, 'FIXED_FD_INSTALL');
    const table = FileTable.sparse(ring, 16);
    table.setAllocRange(4, 8);
    expect(table.allocRange).toEqual({ offset: 4, length: 8 });
    const listener = tcpListener();
    cleanups.push(() => listener.fd.close());

    const c1 = await client(listener.port);
    const accepted = run(ring, (s) => prepAcceptDirect(s, listener.fd, null, 0, 'alloc'));
    const conn = table.fromResult(accepted.res, 'accept');
    expect(conn.index).toBeGreaterThanOrEqual(4);
    expect(conn.index).toBeLessThan(12);

    c1.write('ping');
    const buf = Buffer.alloc(16);
    const got = run(ring, (s) => prepRecv(s, conn, buf));
    expect(buf.subarray(0, got.res).toString()).toBe('ping');

    const installed = run(ring, (s) => table.prepInstall(s, conn));
    const fd = OwnedFd.fromResult(installed.res, 'fixed_fd_install');
    cleanups.push(() => fd.close());
    const reply = Buffer.from('pong');
    const data = once(c1, 'data');
    expect(run(ring, (s) => prepSend(s, fd, reply)).res).toBe(4);
    expect(String((await data)[0])).toBe('pong');

    expect(run(ring, (s) => table.prepClose(s, conn)).res).toBe(0);
    // The slot is empty now; the installed descriptor still holds the connection.
    expect(run(ring, (s) => prepSend(s, conn, reply)).res).toBe(-9);
    expect(() => table.prepClose(ring.getSqeOrThrow(), new FixedFile(4))).toThrow(/from this table/);
    ring.discardSqe(ring.getSqeOrThrow());
  });

  it('multishot direct accept puts each connection in its own slot and stays armed (F_MORE)', async () => {
    const ring = newRing(32);
    const table = FileTable.sparse(ring, 8);
    const listener = tcpListener();
    cleanups.push(() => listener.fd.close());
    const sqe = ring.getSqeOrThrow();
    prepMultishotAcceptDirect(sqe, listener.fd, null);
    const acceptId = sqe.id;
    ring.submit();
    for (let i = 0; i < 3; i++) await client(listener.port);
    const cqes = waitCqes(ring, 3);
    expect(cqes.every((c) => c.id === acceptId && c.more && c.res >= 0)).toBe(true);
    const slots = cqes.map((c) => table.fromResult(c.res).index);
    expect(new Set(slots).size).toBe(3);
    expect(ring.inFlight).toBe(1); // still armed
  });
});
