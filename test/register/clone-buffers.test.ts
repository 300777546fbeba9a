/**
 * RegisteredBuffers.clone (IORING_REGISTER_CLONE_BUFFERS, Linux 6.12; ranges 6.13): the
 * target ring reads and writes through the source's registered memory, keeps using it after
 * the source table is unregistered and its ring closed, and bad requests are refused first.
 */
import { closeSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { release, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ArgumentError } from '../../src/errors.js';
import { RegisteredBuffers } from '../../src/register/buffers.js';
import { IoUring } from '../../src/ring/ring.js';
import { IoUringError } from '../../src/sys/errors.js';
import { lastJson, runChild } from '../support/child.js';
import { errorOf, kernelAtLeast, requireRegister, run } from './helpers.js';

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0).reverse()) c();
});

function newRing(): IoUring {
  const ring = new IoUring({ entries: 8 });
  cleanups.push(() => ring.close());
  return ring;
}

function tempFile(name: string, content: Uint8Array): { fd: number; path: string } {
  const path = join(tmpdir(), `tsuring-clone-${process.pid}-${name}`);
  writeFileSync(path, content);
  const fd = openSync(path, 'r+');
  cleanups.push(() => {
    closeSync(fd);
    rmSync(path, { force: true });
  });
  return { fd, path };
}

function pattern(n: number, seed: number): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + seed) & 0xff;
  return b;
}

const NO_CLONE = kernelAtLeast(6, 12) ? '' : ` (skipped: kernel ${release()} is older than Linux 6.12, which added IORING_REGISTER_CLONE_BUFFERS)`;

describe('RegisteredBuffers.clone', () => {
  it('the target ring writes and reads through the source memory, and keeps it after the source is gone', (ctx) => {
    const a = newRing();
    const b = newRing();
    const mem0 = pattern(4096, 1);
    const mem1 = new Uint8Array(8192);
    const source = RegisteredBuffers.register(a, [mem0, mem1]);
    const clone = requireRegister(ctx, 'IORING_REGISTER_CLONE_BUFFERS', [6, 12], () => RegisteredBuffers.clone(b, source));
    expect(clone.count).toBe(2);
    expect(clone.ring).toBe(b);
    expect(RegisteredBuffers.of(b)).toBe(clone);
    expect(clone.buffer(0)).toBe(mem0);
    expect(clone.buffer(1)).toBe(mem1);
    const { fd, path } = tempFile('rw', pattern(8192, 7));
    // WRITE_FIXED on the target from the source's buffer 0.
    expect(run(b, (s) => clone.prepWriteFixed(s, fd, 0, mem0, 4096, 0)).res).toBe(4096);
    expect(readFileSync(path).subarray(0, 4096).equals(mem0)).toBe(true);
    // The source goes away entirely; the clone still reads into the same memory.
    source.unregister();
    a.close();
    mem1.fill(0);
    expect(run(b, (s) => clone.prepReadFixed(s, fd, 1, mem1, 8192, 0)).res).toBe(8192);
    expect(Buffer.from(mem1).equals(readFileSync(path))).toBe(true);
    clone.unregister();
    expect(clone.registered).toBe(false);
    expect(RegisteredBuffers.of(b)).toBeUndefined();
  });

  it.skipIf(NO_CLONE !== '')(`dropped without unregistering, with the source ring closed: the memory lives while the target ring does${NO_CLONE}`, async () => {
    // A child with --expose-gc: nothing but the target ring references the buffer.
    const result = await runChild(`
import { IoUring, RegisteredBuffers } from '@repo/src/index.js';
const a = new IoUring({ entries: 4 });
const b = new IoUring({ entries: 4 });
const collected = new Set();
const registry = new FinalizationRegistry((name) => collected.add(name));
(() => {
  const mem = new Uint8Array(1 << 20);
  registry.register(mem, 'cloned');
  const control = new Uint8Array(1 << 20);
  registry.register(control, 'control');
  RegisteredBuffers.clone(b, RegisteredBuffers.register(a, [mem]));
})();
a.close();
const settle = async () => { for (let i = 0; i < 10; i++) { globalThis.gc(); await new Promise((r) => setTimeout(r, 10)); } };
await settle();
const whileOpen = [...collected].sort();
b.close();
await settle();
console.log(JSON.stringify({ whileOpen, afterClose: [...collected].sort() }));
`, { nodeArgs: ['--expose-gc'] });
    expect(result.code, result.stderr).toBe(0);
    const out = lastJson<{ whileOpen: string[]; afterClose: string[] }>(result);
    expect(out.whileOpen).toEqual(['control']); // the GC ran, and left the cloned buffer alone
    expect(out.afterClose).toEqual(['cloned', 'control']); // released with the target ring
  });

  it('clones a range of slots into an offset (Linux 6.13); the slots below it are empty', (ctx) => {
    const a = newRing();
    const b = newRing();
    const bufs = [pattern(512, 1), pattern(1024, 2), pattern(2048, 3)];
    const source = RegisteredBuffers.register(a, bufs);
    const clone = requireRegister(ctx, 'IORING_REGISTER_CLONE_BUFFERS with a range', [6, 13], () =>
      RegisteredBuffers.clone(b, source, { srcOffset: 1, dstOffset: 2, count: 1 }),
    );
    expect(clone.count).toBe(3);
    expect(clone.buffer(0)).toBeNull();
    expect(clone.buffer(1)).toBeNull();
    expect(clone.buffer(2)).toBe(bufs[1]);
    const { fd, path } = tempFile('range', new Uint8Array(1024));
    expect(run(b, (s) => clone.prepWriteFixed(s, fd, 2, bufs[1]!, 1024, 0)).res).toBe(1024);
    expect(readFileSync(path).equals(bufs[1]!)).toBe(true);
    // Slot 0 is empty in the clone: an op naming it is refused before the kernel sees it.
    const sqe = b.getSqeOrThrow();
    expect(errorOf(() => clone.prepWriteFixed(sqe, fd, 0, bufs[0]!, 512, 0))).toBeInstanceOf(ArgumentError);
    expect(b.discardSqe(sqe)).toBe(true);
  });

  it(`refuses a target with a table, a source that is not a registered table, and ranges outside it${NO_CLONE}`, () => {
    const a = newRing();
    const b = newRing();
    const source = RegisteredBuffers.register(a, [new Uint8Array(64), new Uint8Array(64)]);
    const busy = RegisteredBuffers.register(b, [new Uint8Array(64)]);
    expect(errorOf(() => RegisteredBuffers.clone(b, source))).toBeInstanceOf(ArgumentError); // b has a table
    busy.unregister();
    for (const bad of [null, {}, b, { count: 2 }]) {
      expect(errorOf(() => RegisteredBuffers.clone(b, bad as never))).toBeInstanceOf(ArgumentError);
    }
    for (const options of [{ srcOffset: 2 }, { srcOffset: -1 }, { count: 3 }, { srcOffset: 1, count: 2 }, { count: 0 }, { dstOffset: 1.5 }, { dstOffset: 1 << 14 }]) {
      expect(errorOf(() => RegisteredBuffers.clone(b, source, options))).toBeInstanceOf(ArgumentError);
    }
    expect(RegisteredBuffers.of(b)).toBeUndefined(); // nothing was registered
    source.unregister();
    expect(errorOf(() => RegisteredBuffers.clone(b, source))).toMatchObject({ code: 'ERR_RING_CLOSED' });
  });

  it.skipIf(NO_CLONE === '')('a kernel older than 6.12 refuses with EINVAL naming Linux 6.12 (skipped: this kernel has IORING_REGISTER_CLONE_BUFFERS)', () => {
    const a = newRing();
    const b = newRing();
    const source = RegisteredBuffers.register(a, [new Uint8Array(64)]);
    const err = errorOf(() => RegisteredBuffers.clone(b, source));
    expect(err).toBeInstanceOf(IoUringError);
    expect(err!.code).toBe('EINVAL');
    expect(err!.message).toMatch(/Linux 6\.12/);
    expect(RegisteredBuffers.of(b)).toBeUndefined();
  });
});
