/**
 * Hostile objects (issue 12 §3): what the kernel will use is validated, not what an object
 * claims. Every attack runs in a child process (a kernel write past a buffer could kill the
 * process or corrupt its heap: a crash must show as a signal, not take vitest down), with a
 * canary allocated next to the victim and checked afterwards.
 *
 * - A real `Uint8Array` whose `byteLength` is shadowed (`Object.defineProperty`) or a
 *   subclass getter that lies: refused when asked for more than the real length, and the
 *   default length is the real one, in the raw builders and the Promise API.
 * - A `Proxy` array whose `length` changes between reads: readv/writev/MsgHdr take one
 *   snapshot; the kernel is told about the snapshot only.
 * - A lying `ArrayBuffer.isView`, monkey-patched after load: changes nothing.
 * - `sqe.pin({})`: an ArgumentError (not koffi's TypeError); `sqe.fields` is gone, the raw
 *   escape hatch is `unsafeFields`.
 * - `prepFallocate` offset 2^63: refused before the kernel.
 * - A buffer detached (transferred) while a Promise-API read uses it: the read rejects with
 *   ERR_BUFFER_DETACHED instead of resolving as if the data were there.
 * - Registration (`RegisteredBuffers`, `FileTable`) from a Proxy array that answers
 *   differently on each read: one snapshot, so the buffer the table keeps alive and checks
 *   against is the one the kernel holds; containment uses the real byteLength.
 */
import { describe, expect, it } from 'vitest';
import { lastJson, runChild } from '../support/child.js';

const CHILD = String.raw`
import { openSync, writeFileSync, mkdtempSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { IoUring, AsyncIoUring, prepRead, prepReadv, prepFallocate, prepNop, MsgHdr, RegisteredBuffers, FileTable } from '@repo/src/index.js';
import { pipe2Sync } from '@repo/src/sys/posix.js';
const dir = mkdtempSync(join(tmpdir(), 'tsuring-hostile-'));
writeFileSync(join(dir, 'data'), Buffer.alloc(65536, 0xab));
const fd = openSync(join(dir, 'data'), 'r');
const out = {};
const code = (f) => { try { const v = f(); return 'ok:' + JSON.stringify(v ?? null); } catch (e) { return 'throw:' + (e.code ?? e.name); } };
const ring = new IoUring({ entries: 8 });
function readInto(buf, len) {
  const sqe = ring.getSqe();
  try { prepRead(sqe, fd, buf, len, 0); } catch (e) { ring.discardSqe(sqe); throw e; }
  ring.submitAndWait(1);
  let res; ring.forEachCqe((c) => { res = c.res; });
  return res;
}
// 1. byteLength shadowed on the instance.
{
  const victim = new Uint8Array(16);
  const canary = new Uint8Array(64).fill(0x5a);
  Object.defineProperty(victim, 'byteLength', { get: () => 65536 });
  out.shadowedExplicit = code(() => readInto(victim, 65536));
  out.shadowedDefault = code(() => readInto(victim, undefined));
  out.shadowedCanary = canary.every((b) => b === 0x5a);
}
// 2. A subclass getter that lies.
{
  class Liar extends Uint8Array { get byteLength() { return 1 << 20; } }
  const victim = new Liar(16);
  const canary = new Uint8Array(64).fill(0x5a);
  out.subclassExplicit = code(() => readInto(victim, 4096));
  out.subclassCanary = canary.every((b) => b === 0x5a);
}
// 3. A Proxy array whose length grows after the first read.
{
  const real = [new Uint8Array(16)];
  let reads = 0;
  const fill = new Uint8Array(16);
  const liar = new Proxy(real, { get(t, k) { if (k === 'length') return reads++ === 0 ? 1 : 64; if (typeof k === 'string' && /^\d+$/.test(k)) return t[Number(k)] ?? fill; return Reflect.get(t, k); } });
  const canary = new Uint8Array(64).fill(0x5a);
  const sqe = ring.getSqe();
  let res = null, err = null;
  try { prepReadv(sqe, fd, liar, 0); ring.submitAndWait(1); ring.forEachCqe((c) => { res = c.res; }); } catch (e) { err = e.code ?? e.name; ring.discardSqe(sqe); }
  out.proxyReadv = { res, err, iovLenReads: reads };
  out.proxyCanary = canary.every((b) => b === 0x5a);
}
// 4. A MsgHdr from a Proxy iov.
{
  let reads = 0;
  const liar = new Proxy([new Uint8Array(8)], { get(t, k) { if (k === 'length') return reads++ === 0 ? 1 : 50; return Reflect.get(t, k); } });
  const m = new MsgHdr({ iov: liar });
  out.msghdrIov = { length: m.iov.length, frozen: Object.isFrozen(m.iov) };
}
// 5. Monkey-patched ArrayBuffer.isView.
{
  const saved = ArrayBuffer.isView;
  ArrayBuffer.isView = () => true;
  out.patchedIsView = code(() => readInto({ byteLength: 16, buffer: new ArrayBuffer(16) }, 16));
  ArrayBuffer.isView = saved;
}
// 6. sqe.pin({}) and the raw escape hatch.
{
  const sqe = ring.getSqe();
  out.pinObject = code(() => sqe.pin({}));
  out.fieldsGone = typeof sqe.fields;
  out.unsafeFields = typeof sqe.unsafeFields;
  ring.discardSqe(sqe);
}
// 7. fallocate at 2^63.
{
  const sqe = ring.getSqe();
  out.fallocate2pow63 = code(() => prepFallocate(sqe, fd, 0, 2n ** 63n, 4096));
  out.fallocateLen2pow63 = code(() => prepFallocate(sqe, fd, 0, 0, 2n ** 63n));
  ring.discardSqe(sqe);
}
// 8. The Promise API with a lying buffer.
{
  const r = new AsyncIoUring({ entries: 8 });
  const victim = new Uint8Array(16);
  Object.defineProperty(victim, 'byteLength', { get: () => 65536 });
  out.asyncDefault = await r.read(fd, victim, 0).then((n) => 'ok:' + n, (e) => 'reject:' + (e.code ?? e.name));
  out.asyncExplicit = await r.read(fd, victim, 0, { length: 4096 }).then((n) => 'ok:' + n, (e) => 'reject:' + (e.code ?? e.name));
  // 9. A buffer transferred away while a read waits on a pipe.
  const [pr, pw] = pipe2Sync(0o2000000 | 0o4000);
  const buf = new Uint8Array(32);
  const pending = r.read(pr, buf, -1);
  await new Promise((res) => setImmediate(res));
  const moved = structuredClone(buf.buffer, { transfer: [buf.buffer] });
  writeSync(pw, Buffer.from('data for a buffer that moved'));
  out.detachedRead = await pending.then((n) => 'ok:' + n, (e) => 'reject:' + (e.code ?? e.name));
  out.movedLength = moved.byteLength;
  await r.close();
}
// 10. Registration from a Proxy array that hands out one buffer, then another: the kernel
// holds the first; the table must hold (and check against) that same one.
{
  const A = new Uint8Array(4096);
  const B = new Uint8Array(4096);
  let gets = 0;
  const liar = new Proxy([A], { get(t, k) { if (k === '0') return gets++ === 0 ? A : B; return Reflect.get(t, k); } });
  const r2 = new IoUring({ entries: 4 });
  const bufs = RegisteredBuffers.register(r2, liar);
  const held = bufs.buffer(0);
  let res = null;
  const sqe = r2.getSqe();
  bufs.prepReadFixed(sqe, fd, 0, held, 4096, 0);
  r2.submitAndWait(1);
  r2.forEachCqe((c) => { res = c.res; });
  out.proxyRegister = { heldIsFirst: held === A, res, filled: held[0] === 0xab && held[4095] === 0xab, gets };
  bufs.unregister();
  // A view whose byteLength claims 16 but is 64 KiB, starting where a 16-byte registered
  // buffer starts: contains() measures the real length, so a 4096-byte fixed read is refused.
  const backing = new Uint8Array(65536);
  const wide = backing.subarray(0);
  Object.defineProperty(wide, 'byteLength', { get: () => 16 });
  const table = RegisteredBuffers.register(r2, [backing.subarray(0, 16)]);
  out.lyingContains = table.contains(0, wide);
  const s2 = r2.getSqe();
  out.lyingFixed = code(() => table.prepReadFixed(s2, fd, 0, wide, 4096, 0));
  r2.discardSqe(s2);
  // FileTable.register from a Proxy whose entries change between reads: one snapshot.
  let fdGets = 0;
  const files = new Proxy([fd], { get(t, k) { if (k === '0') return fdGets++ === 0 ? fd : -5; if (k === 'length') return fdGets === 0 ? 1 : 3; return Reflect.get(t, k); } });
  const ft = FileTable.register(r2, files);
  out.proxyFiles = { size: ft.size, fdGets };
  r2.close();
}
ring.close();
rmSync(dir, { recursive: true, force: true });
console.log(JSON.stringify(out));
`;

describe('hostile objects', () => {
  it('lying lengths, Proxy arrays, patched globals, raw pins and 2^63 offsets are refused or neutralised', async () => {
    const r = await runChild(CHILD, { timeoutMs: 60_000 });
    expect(r.signal, r.stderr).toBeNull();
    expect(r.code, r.stderr).toBe(0);
    const out = lastJson<Record<string, unknown>>(r);
    expect(out.shadowedExplicit).toBe('throw:ERR_OUT_OF_RANGE');
    expect(out.shadowedDefault).toBe('ok:16'); // the real length, not the claimed one
    expect(out.shadowedCanary).toBe(true);
    expect(out.subclassExplicit).toBe('throw:ERR_OUT_OF_RANGE');
    expect(out.subclassCanary).toBe(true);
    // The Proxy's length was read once (it said 1): one iovec of 16 bytes reached the kernel.
    expect(out.proxyReadv).toEqual({ res: 16, err: null, iovLenReads: 1 });
    expect(out.proxyCanary).toBe(true);
    expect(out.msghdrIov).toEqual({ length: 1, frozen: true });
    expect(out.patchedIsView).toBe('throw:ERR_INVALID_ARG_TYPE');
    expect(out.pinObject).toBe('throw:ERR_INVALID_ARG_TYPE');
    expect(out.fieldsGone).toBe('undefined');
    expect(out.unsafeFields).toBe('object');
    expect(out.fallocate2pow63).toBe('throw:ERR_OUT_OF_RANGE');
    expect(out.fallocateLen2pow63).toBe('throw:ERR_OUT_OF_RANGE');
    expect(out.asyncDefault).toBe('ok:16');
    expect(out.asyncExplicit).toBe('reject:ERR_OUT_OF_RANGE');
    expect(out.detachedRead).toBe('reject:ERR_BUFFER_DETACHED');
    expect(out.movedLength).toBe(32);
    expect(out.proxyRegister).toEqual({ heldIsFirst: true, res: 4096, filled: true, gets: 1 });
    expect(out.lyingContains).toBe(false);
    expect(out.lyingFixed).toBe('throw:ERR_OUT_OF_RANGE');
    expect(out.proxyFiles).toEqual({ size: 1, fdGets: 1 });
  });
});
