/**
 * Linking and control: IO_LINK / IO_HARDLINK / IO_DRAIN / ASYNC / CQE_SKIP_SUCCESS,
 * LINK_TIMEOUT, TIMEOUT with a count and with the ABS / BOOTTIME / REALTIME clocks,
 * TIMEOUT_REMOVE and update, ASYNC_CANCEL by op id, by fd, ANY and ALL, and MSG_RING
 * between two rings.
 */
import { closeSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { hangAfter } from '../support/slow.js';
import {
  IORING_ASYNC_CANCEL_ALL,
  IORING_ASYNC_CANCEL_ANY,
  IORING_TIMEOUT_ABS,
  IORING_TIMEOUT_BOOTTIME,
  IORING_TIMEOUT_REALTIME,
  IOSQE_ASYNC,
} from '../../generated/constants.js';
import {
  prepCancel,
  prepCancelFd,
  prepFsync,
  prepLinkTimeout,
  prepMsgRing,
  prepMsgRingFd,
  prepNop,
  prepRead,
  prepTimeout,
  prepTimeoutRemove,
  prepTimeoutUpdate,
  prepWrite,
} from '../../generated/ops.js';
import { FileTable } from '../../src/register/files.js';
import { IoUring } from '../../src/ring/ring.js';
import { makePipe, run, waitCqes, waitUntil, type Done } from './helpers.js';

const EBADF = -9;
const ENOENT = -2;
const ETIME = -62;
const ECANCELED = -125;
const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0).reverse()) c();
});

function newRing(entries = 32): IoUring {
  const ring = new IoUring({ entries });
  cleanups.push(() => ring.close());
  return ring;
}

function tempFile(name: string): { fd: number; path: string } {
  const path = join(tmpdir(), `tsuring-control-${process.pid}-${name}`);
  const fd = openSync(path, 'w+');
  cleanups.push(() => {
    closeSync(fd);
    rmSync(path, { force: true });
  });
  return { fd, path };
}

function pipe(): ReturnType<typeof makePipe> {
  const p = makePipe();
  cleanups.push(() => {
    p.read.close();
    p.write.close();
  });
  return p;
}

const byTag = (cqes: Done[]): Record<string, number> => Object.fromEntries(cqes.map((c) => [String(c.userData), c.res]));

describe('links', () => {
  it('write → fsync → read run in order as one chain', () => {
    const ring = newRing();
    const { fd, path } = tempFile('chain');
    const out = Buffer.from('linked chain data');
    const back = Buffer.alloc(out.length);
    const w = ring.getSqeOrThrow();
    prepWrite(w, fd, out, out.length, 0);
    w.link().userData = 'write';
    const f = ring.getSqeOrThrow();
    prepFsync(f, fd);
    f.link().userData = 'fsync';
    const r = ring.getSqeOrThrow();
    prepRead(r, fd, back, back.length, 0);
    r.userData = 'read';
    const cqes = waitCqes(ring, 3);
    expect(cqes.map((c) => c.userData)).toEqual(['write', 'fsync', 'read']);
    expect(byTag(cqes)).toEqual({ write: out.length, fsync: 0, read: out.length });
    expect(back.equals(out)).toBe(true);
    expect(readFileSync(path).equals(out)).toBe(true);
  });

  it('a chain whose first op fails: the rest complete with -ECANCELED and never run', () => {
    const ring = newRing();
    const { fd, path } = tempFile('broken');
    const bad = ring.getSqeOrThrow();
    prepRead(bad, 1_000_000, Buffer.alloc(8), 8, 0); // no such descriptor
    bad.link().userData = 'read';
    const w = ring.getSqeOrThrow();
    prepWrite(w, fd, Buffer.from('never'), 5, 0);
    w.link().userData = 'write';
    const f = ring.getSqeOrThrow();
    prepFsync(f, fd);
    f.userData = 'fsync';
    const cqes = waitCqes(ring, 3);
    expect(byTag(cqes)).toEqual({ read: EBADF, write: ECANCELED, fsync: ECANCELED });
    expect(readFileSync(path).length).toBe(0);
  });

  it('a hard link runs the next op even when the previous one fails', () => {
    const ring = newRing();
    const { fd, path } = tempFile('hard');
    const bad = ring.getSqeOrThrow();
    prepRead(bad, 1_000_000, Buffer.alloc(8), 8, 0);
    bad.hardlink().userData = 'read';
    const w = ring.getSqeOrThrow();
    prepWrite(w, fd, Buffer.from('runs'), 4, 0);
    w.userData = 'write';
    expect(byTag(waitCqes(ring, 2))).toEqual({ read: EBADF, write: 4 });
    expect(readFileSync(path, 'utf8')).toBe('runs');
  });

  it('LINK_TIMEOUT fires: -ETIME for the timeout, -ECANCELED for the read it bounds', () => {
    const ring = newRing();
    const p = pipe();
    const r = ring.getSqeOrThrow();
    prepRead(r, p.read, Buffer.alloc(8), 8, -1);
    r.link().userData = 'read';
    const t = ring.getSqeOrThrow();
    prepLinkTimeout(t, { sec: 0, nsec: 30_000_000 });
    t.userData = 'timeout';
    const t0 = performance.now();
    const cqes = waitCqes(ring, 2);
    expect(byTag(cqes)).toEqual({ read: ECANCELED, timeout: ETIME });
    expect(performance.now() - t0).toBeGreaterThanOrEqual(25);
  });

  it('LINK_TIMEOUT that does not fire completes with -ECANCELED after the op succeeds', () => {
    const ring = newRing();
    const p = pipe();
    writeSync(p.write.fd, 'ready');
    const r = ring.getSqeOrThrow();
    prepRead(r, p.read, Buffer.alloc(8), 8, -1);
    r.link().userData = 'read';
    const t = ring.getSqeOrThrow();
    prepLinkTimeout(t, { sec: 5, nsec: 0 });
    t.userData = 'timeout';
    expect(byTag(waitCqes(ring, 2))).toEqual({ read: 5, timeout: ECANCELED });
  });

  it('IO_DRAIN waits for everything before it; ASYNC and CQE_SKIP_SUCCESS', () => {
    const ring = newRing();
    const t = ring.getSqeOrThrow();
    prepTimeout(t, { sec: 0, nsec: 40_000_000 }, 0);
    t.userData = 'timer';
    const d = ring.getSqeOrThrow();
    prepNop(d);
    d.drain().userData = 'drained';
    const a = ring.getSqeOrThrow();
    prepNop(a);
    a.async().userData = 'async';
    expect(a.flags & IOSQE_ASYNC).toBe(IOSQE_ASYNC);
    const cqes = waitCqes(ring, 3);
    // The drained NOP (and the async one queued behind it) only after the timer.
    expect(cqes[0]!.userData).toBe('timer');
    expect(byTag(cqes)).toEqual({ timer: ETIME, drained: 0, async: 0 });

    // A successful op with skipSuccess posts nothing; its linked successor does.
    const s1 = ring.getSqeOrThrow();
    prepNop(s1);
    s1.skipSuccess().link().userData = 'skipped';
    const s2 = ring.getSqeOrThrow();
    prepNop(s2);
    s2.userData = 'posted';
    const only = waitCqes(ring, 1);
    ring.submitAndWait(0);
    expect([...only, ...waitUntil(ring, () => true)].map((c) => c.userData)).toEqual(['posted']);
    expect(ring.inFlight).toBe(0);
    // A skipSuccess op that fails posts its CQE; the kernel then cancels the ops linked
    // after it without CQEs (REQ_F_SKIP_LINK_CQES), and the ring releases them too.
    const s3 = ring.getSqeOrThrow();
    prepRead(s3, 1_000_000, Buffer.alloc(1), 1, 0);
    s3.skipSuccess().link().userData = 'failed';
    const s4 = ring.getSqeOrThrow();
    prepNop(s4);
    s4.userData = 'after';
    const failed = waitCqes(ring, 1);
    ring.submitAndWait(0, 100);
    expect([...failed, ...waitUntil(ring, () => true)].map((c) => [c.userData, c.res])).toEqual([['failed', EBADF]]);
    expect(ring.inFlight).toBe(0);
  });
});

describe('timeouts', () => {
  it('TIMEOUT with a count completes (res 0) once that many other CQEs were posted', () => {
    const ring = newRing();
    const t = ring.getSqeOrThrow();
    prepTimeout(t, { sec: 10, nsec: 0 }, 2);
    t.userData = 'count';
    ring.submit();
    for (let i = 0; i < 2; i++) prepNop(ring.getSqeOrThrow());
    const cqes = waitUntil(ring, (all) => all.some((c) => c.userData === 'count'));
    expect(cqes.find((c) => c.userData === 'count')!.res).toBe(0);
  });

  it('absolute timeouts on the monotonic, boottime and realtime clocks, and a relative boottime one', () => {
    const ring = newRing();
    const monoNs = process.hrtime.bigint() + 60_000_000n; // CLOCK_MONOTONIC, as the kernel's default
    const bootNs = BigInt(Math.round(Number(readFileSync('/proc/uptime', 'utf8').split(' ')[0]) * 1e9)) + 80_000_000n;
    const realMs = Date.now() + 70;
    const specs: [string, { sec: number | bigint; nsec: number }, number][] = [
      ['mono-abs', { sec: monoNs / 1_000_000_000n, nsec: Number(monoNs % 1_000_000_000n) }, IORING_TIMEOUT_ABS],
      ['boot-abs', { sec: bootNs / 1_000_000_000n, nsec: Number(bootNs % 1_000_000_000n) }, IORING_TIMEOUT_ABS | IORING_TIMEOUT_BOOTTIME],
      ['real-abs', { sec: Math.floor(realMs / 1000), nsec: (realMs % 1000) * 1e6 }, IORING_TIMEOUT_ABS | IORING_TIMEOUT_REALTIME],
      ['boot-rel', { sec: 0, nsec: 50_000_000 }, IORING_TIMEOUT_BOOTTIME],
    ];
    const t0 = performance.now();
    const at: Record<string, number> = {};
    for (const [tag, ts, flags] of specs) {
      const sqe = ring.getSqeOrThrow();
      prepTimeout(sqe, ts, 0, flags);
      sqe.userData = tag;
    }
    ring.submit();
    const seen: Done[] = [];
    while (seen.length < specs.length) {
      ring.submitAndWait(1, 2000);
      for (const c of waitUntil(ring, () => true)) {
        at[String(c.userData)] = performance.now() - t0;
        seen.push(c);
      }
      // A timeout read on the wrong clock would fire decades late: a hang, caught here.
      expect(performance.now() - t0).toBeLessThan(hangAfter(3000));
    }
    expect(seen.every((c) => c.res === ETIME)).toBe(true);
    // Each fired no earlier than asked (uptime has 10 ms resolution).
    expect(at['mono-abs']).toBeGreaterThanOrEqual(50);
    expect(at['boot-abs']).toBeGreaterThanOrEqual(55);
    expect(at['real-abs']).toBeGreaterThanOrEqual(55);
    expect(at['boot-rel']).toBeGreaterThanOrEqual(45);
  });

  it('TIMEOUT_REMOVE cancels a pending timeout; an update re-arms it sooner', () => {
    const ring = newRing();
    const t = ring.getSqeOrThrow();
    prepTimeout(t, { sec: 30, nsec: 0 }, 0);
    t.userData = 'long';
    const longId = t.id;
    ring.submit();
    const rm = ring.getSqeOrThrow();
    prepTimeoutRemove(rm, longId);
    rm.userData = 'remove';
    expect(byTag(waitCqes(ring, 2))).toEqual({ long: ECANCELED, remove: 0 });
    // Removing it again: it is gone.
    expect(run(ring, (s) => prepTimeoutRemove(s, longId)).res).toBe(ENOENT);

    // An hour-long timer: only the update (to 20 ms) can make it fire within the wait.
    const u = ring.getSqeOrThrow();
    prepTimeout(u, { sec: 3600, nsec: 0 }, 0);
    u.userData = 'rearmed';
    const uid = u.id;
    ring.submit();
    const up = ring.getSqeOrThrow();
    prepTimeoutUpdate(up, { sec: 0, nsec: 20_000_000 }, uid);
    up.userData = 'update';
    expect(byTag(waitCqes(ring, 2))).toEqual({ rearmed: ETIME, update: 0 });
  });
});

describe('cancellation', () => {
  it('cancels a pending read on a pipe by its op id', () => {
    const ring = newRing();
    const p = pipe();
    const buf = Buffer.alloc(16);
    const r = ring.getSqeOrThrow();
    prepRead(r, p.read, buf, 16, -1);
    r.userData = 'read';
    const id = r.id;
    ring.submit();
    expect(ring.inFlight).toBe(1);
    const c = ring.getSqeOrThrow();
    prepCancel(c, id);
    c.userData = 'cancel';
    expect(byTag(waitCqes(ring, 2))).toEqual({ read: ECANCELED, cancel: 0 });
    expect(ring.inFlight).toBe(0);
    // The id is dead now: cancelling it again finds nothing.
    expect(run(ring, (s) => prepCancel(s, id)).res).toBe(ENOENT);
  });

  it('cancels by descriptor (one, or ALL on it), and ANY cancels everything', () => {
    const ring = newRing();
    const p1 = pipe();
    const p2 = pipe();
    const read = (fd: typeof p1.read, tag: string): void => {
      const sqe = ring.getSqeOrThrow();
      prepRead(sqe, fd, Buffer.alloc(4), 4, -1);
      sqe.userData = tag;
    };
    read(p1.read, 'a1');
    read(p1.read, 'a2');
    read(p2.read, 'b1');
    ring.submit();
    const one = ring.getSqeOrThrow();
    prepCancelFd(one, p1.read);
    one.userData = 'fd-one';
    let cqes = waitCqes(ring, 2);
    expect(cqes.find((c) => c.userData === 'fd-one')!.res).toBe(0);
    expect(cqes.filter((c) => c.res === ECANCELED)).toHaveLength(1);
    expect(ring.inFlight).toBe(2);

    read(p1.read, 'a3');
    ring.submit();
    const all = ring.getSqeOrThrow();
    prepCancelFd(all, p1.read, IORING_ASYNC_CANCEL_ALL);
    all.userData = 'fd-all';
    cqes = waitCqes(ring, 3);
    expect(cqes.find((c) => c.userData === 'fd-all')!.res).toBe(2);
    expect(ring.inFlight).toBe(1); // b1 remains

    read(p2.read, 'b2');
    ring.submit();
    const any = ring.getSqeOrThrow();
    prepCancel(any, 0, IORING_ASYNC_CANCEL_ANY | IORING_ASYNC_CANCEL_ALL);
    any.userData = 'any';
    cqes = waitCqes(ring, 3);
    expect(byTag(cqes)).toEqual({ b1: ECANCELED, b2: ECANCELED, any: 2 });
    expect(ring.inFlight).toBe(0);
  });
});

describe('MSG_RING', () => {
  it('posts a CQE into another ring: id -1 there, the data in userDataLo/Hi, len as res', () => {
    const a = newRing();
    const b = newRing();
    const sent = run(a, (s) => prepMsgRing(s, b.fd, 42, 0x1234_5678_9abcn));
    expect(sent.res).toBe(0);
    const [got] = waitUntil(b, (all) => all.length === 1);
    expect(got!.id).toBe(-1);
    expect(got!.userData).toBeUndefined();
    expect(got!.res).toBe(42);
    expect(got!.lo).toBe(0x56789abc);
    expect(got!.hi).toBe(0x1234);
  });

  it('passes a registered file from one ring\'s table into a free slot of the other\'s', () => {
    const a = newRing();
    const b = newRing();
    const { fd, path } = tempFile('msg-fd');
    FileTable.register(a, [fd]);
    const tb = FileTable.sparse(b, 4);
    const sent = run(a, (s) => prepMsgRingFd(s, b.fd, 0, 'alloc', 99));
    expect(sent.res).toBe(0);
    const [got] = waitUntil(b, (all) => all.length === 1);
    expect([got!.id, got!.lo]).toEqual([-1, 99]);
    const slot = tb.fromResult(got!.res);
    expect(run(b, (s) => prepWrite(s, slot, Buffer.from('via b'), 5, 0)).res).toBe(5);
    expect(readFileSync(path, 'utf8')).toBe('via b');
  });
});
