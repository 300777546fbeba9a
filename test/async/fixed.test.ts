/**
 * AsyncIoUring.readFixed / writeFixed: Promise reads and writes through a registered buffer
 * table (READ_FIXED / WRITE_FIXED), with plain and registered files; the buffer is found
 * by its real address, and anything outside the table is refused before it reaches the
 * kernel.
 */
import { closeSync, openSync, readFileSync, writeFileSync, writeSync } from 'node:fs';
import { release } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AsyncIoUring } from '../../src/async/async-ring.js';
import { RegisteredBuffers } from '../../src/register/buffers.js';
import { FileTable } from '../../src/register/files.js';
import { kernelAtLeast } from '../../src/sys/kernel-version.js';
import { pipeFds } from '../support/fds.js';
import { tempDir } from './helpers.js';

let dir: string;
let cleanup: () => void;
beforeAll(() => ({ dir, cleanup } = tempDir('tsuring-fixed-')));
afterAll(() => cleanup());

const text = Buffer.from(Array.from({ length: 64 * 1024 }, (_, i) => 'abcdefghijklmnopqrstuvwxyz'.charCodeAt(i % 26)));

describe('AsyncIoUring.readFixed / writeFixed', () => {
  it('reads into subarrays of registered buffers (plain fd and FileTable slot), 300 at once with 16 in flight', async () => {
    const path = join(dir, 'read.bin');
    writeFileSync(path, text);
    const fd = openSync(path, 'r');
    await using ring = new AsyncIoUring({ entries: 8, maxInFlight: 16 });
    const a = Buffer.alloc(4096 * 150);
    const b = Buffer.alloc(4096 * 150);
    using bufs = RegisteredBuffers.register(ring.ring, [a, b]);
    using table = FileTable.register(ring.ring, [fd]);
    const reads = Array.from({ length: 300 }, (_, i) => {
      const mem = i % 2 === 0 ? a : b;
      const slot = i >> 1; // every read its own 4 KiB
      const view = mem.subarray(slot * 4096, slot * 4096 + 4096);
      const offset = (i * 4096) % text.length;
      const file = i % 3 === 0 ? table.slot(0) : fd;
      return ring.readFixed(file, view, offset).then((n) => [n, Buffer.from(view).equals(text.subarray(offset, offset + 4096))]);
    });
    const results = await Promise.all(reads);
    expect(results.filter(([n, same]) => n === 4096 && same === true)).toHaveLength(300);
    expect(bufs.indexOf(b.subarray(100, 200))).toBe(1);
    closeSync(fd);
  });

  it('writes from a registered buffer, with a length option', async () => {
    const path = join(dir, 'write.bin');
    writeFileSync(path, '');
    const fd = openSync(path, 'r+');
    await using ring = new AsyncIoUring({ entries: 8 });
    const mem = Buffer.alloc(8192);
    using _bufs = RegisteredBuffers.register(ring.ring, [mem]);
    const n = mem.write('written through WRITE_FIXED');
    expect(await ring.writeFixed(fd, mem.subarray(0, n), 0)).toBe(n);
    expect(await ring.writeFixed(fd, mem, n, { length: 8 })).toBe(8);
    closeSync(fd);
    expect(readFileSync(path, 'utf8')).toBe('written through WRITE_FIXEDwritten ');
  });

  it('refuses memory outside the table, a ring without one, lying lengths and an unregistered table', async () => {
    const path = join(dir, 'refuse.bin');
    writeFileSync(path, text);
    const fd = openSync(path, 'r');
    await using ring = new AsyncIoUring({ entries: 8 });
    const mem = Buffer.alloc(4096);
    await expect(ring.readFixed(fd, mem, 0)).rejects.toMatchObject({ code: 'ERR_OUT_OF_RANGE', message: /no registered buffers/ });
    const bufs = RegisteredBuffers.register(ring.ring, [mem]);
    // Another allocation, and a view that claims to be inside by a shadowed byteLength.
    await expect(ring.readFixed(fd, Buffer.alloc(4096), 0)).rejects.toMatchObject({ code: 'ERR_OUT_OF_RANGE', message: /not inside a buffer registered/ });
    const tail = mem.subarray(4000);
    Object.defineProperty(tail, 'byteLength', { value: 16 });
    expect(bufs.indexOf(tail)).toBe(0); // 96 real bytes, inside
    const straddling = new Uint8Array(mem.buffer, mem.byteOffset + 4000, 96);
    expect(bufs.indexOf(straddling)).toBe(0);
    const past = new Uint8Array(mem.buffer.byteLength >= mem.byteOffset + 4200 ? mem.buffer : new ArrayBuffer(8192), mem.byteOffset + 4000, 200);
    expect(bufs.indexOf(past)).toBe(-1);
    // Not a view at all: refused, not thrown synchronously.
    await expect(ring.readFixed(fd, { byteLength: 16 } as unknown as Uint8Array, 0)).rejects.toMatchObject({ code: 'ERR_OUT_OF_RANGE' });
    expect(await ring.readFixed(fd, mem.subarray(0, 26), 0)).toBe(26);
    expect(mem.subarray(0, 26).toString()).toBe('abcdefghijklmnopqrstuvwxyz');
    bufs.unregister();
    await expect(ring.readFixed(fd, mem, 0)).rejects.toMatchObject({ code: 'ERR_OUT_OF_RANGE' });
    closeSync(fd);
  });

  it('a read in flight when the table is unregistered still completes into the registered memory', async (ctx) => {
    if (!kernelAtLeast(6, 13)) {
      // Before 6.13 IORING_UNREGISTER_BUFFERS waits (io_rsrc_ref_quiesce) until every op using
      // the table has completed: with the read blocked on an empty pipe that this thread would
      // write only afterwards, the call never returns (seen in the 6.1 and 6.12 guests).
      const note = `kernel ${release()} waits in IORING_UNREGISTER_BUFFERS for the ops still using the table (before Linux 6.13): this read would never complete`;
      console.warn(`skipped: ${note}`);
      ctx.skip(note);
    }
    const [r, w] = pipeFds();
    await using ring = new AsyncIoUring({ entries: 8 });
    const mem = Buffer.alloc(4096);
    const bufs = RegisteredBuffers.register(ring.ring, [mem]);
    const pending = ring.readFixed(r, mem.subarray(0, 64));
    await new Promise((resolve) => setImmediate(resolve)); // submitted: blocked on the empty pipe
    bufs.unregister(); // the kernel keeps the pages for the read in flight
    writeSync(w, 'after unregister');
    expect(await pending).toBe(16);
    expect(mem.subarray(0, 16).toString()).toBe('after unregister');
    closeSync(r);
    closeSync(w);
  });
});
