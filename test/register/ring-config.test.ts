/**
 * Ring-level registration: eventfd, personalities, the async worker pool's limits and
 * affinity, restrictions, the wait clock, and resizing the rings.
 */
import { cpus } from 'node:os';
import { afterEach, describe, expect, it } from 'vitest';
import { hangAfter } from '../support/slow.js';
import { IORING_OP_NOP, IORING_REGISTER_EVENTFD, IORING_REGISTER_PROBE, IORING_SETUP_NO_MMAP, IORING_SETUP_NO_SQARRAY } from '../../generated/constants.js';
import { prepNop, prepRead, prepTimeout } from '../../generated/ops.js';
import { ArgumentError } from '../../src/errors.js';
import {
  clearIoWorkerAffinity,
  ioWorkerLimits,
  registerClock,
  registerEventfd,
  registerPersonality,
  registerRestrictions,
  RingEventfd,
  setIoWorkerAffinity,
  unregisterEventfd,
  unregisterPersonality,
} from '../../src/register/ring-config.js';
import { RingStateError } from '../../src/ring/errors.js';
import { IoUring } from '../../src/ring/ring.js';
import { FAST_SETUP, type IoUringOptions } from '../../src/ring/setup.js';
import { IoUringError } from '../../src/sys/errors.js';
import { lastJson, runChild } from '../support/child.js';
import { codeOf, requireRegister, run, waitCqes, waitUntil } from './helpers.js';
import { requireSetupFlags } from '../ring/helpers.js';

const EACCES = -13;
const EINVAL = -22;
const ETIME = -62;
const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0).reverse()) c();
});

function newRing(options: IoUringOptions = { entries: 16 }): IoUring {
  const ring = new IoUring(options);
  cleanups.push(() => ring.close());
  return ring;
}


describe('eventfd', () => {
  it('signals on completions; a second registration is EBUSY; unregistering twice is ENXIO', () => {
    const ring = newRing();
    const notify = RingEventfd.create(ring);
    cleanups.push(() => notify.close());
    expect(notify.read()).toBe(0);
    for (let i = 0; i < 3; i++) prepNop(ring.getSqeOrThrow());
    waitCqes(ring, 3);
    expect(notify.read()).toBeGreaterThanOrEqual(1);
    expect(notify.read()).toBe(0);
    expect(codeOf(() => registerEventfd(ring, notify.fd))).toBe('EBUSY');
    notify.close();
    notify.close();
    expect(() => notify.fd.fd).toThrow(/closed/);
    expect(codeOf(() => unregisterEventfd(ring))).toBe('ENXIO');
  });

  it('EVENTFD_ASYNC signals only completions that ran in the async worker pool', () => {
    const ring = newRing();
    const notify = RingEventfd.create(ring, { async: true });
    cleanups.push(() => notify.close());
    run(ring, (s) => prepNop(s));
    expect(notify.read()).toBe(0);
    run(ring, (s) => { prepNop(s); s.async(); });
    // A NOP with IOSQE_ASYNC completes on an io-wq worker.
    expect(notify.read()).toBeGreaterThanOrEqual(1);
  });
});

describe('personality', () => {
  it('registers the current credentials, ops can use the id, and an unregistered id is refused by the kernel', () => {
    const ring = newRing();
    const id = registerPersonality(ring);
    expect(id).toBeGreaterThan(0);
    expect(run(ring, (s) => { prepNop(s); s.unsafeFields.personality = id; }).res).toBe(0);
    unregisterPersonality(ring, id);
    expect(run(ring, (s) => { prepNop(s); s.unsafeFields.personality = id; }).res).toBe(EINVAL);
    expect(codeOf(() => unregisterPersonality(ring, id))).toBe('EINVAL');
    expect(() => unregisterPersonality(ring, 0)).toThrow(ArgumentError);
  });
});

describe('io-wq', () => {
  it('reads and sets the worker limits, returning the previous ones', (ctx) => {
    const ring = newRing();
    const before = requireRegister(ctx, 'IORING_REGISTER_IOWQ_MAX_WORKERS', [5, 15], () => ioWorkerLimits(ring));
    expect(before.bounded).toBeGreaterThan(0);
    expect(before.unbounded).toBeGreaterThan(0);
    expect(ioWorkerLimits(ring, { bounded: 2, unbounded: 3 })).toEqual(before);
    expect(ioWorkerLimits(ring)).toEqual({ bounded: 2, unbounded: 3 });
    ioWorkerLimits(ring, before);
    expect(ioWorkerLimits(ring)).toEqual(before);
    expect(() => ioWorkerLimits(ring, { bounded: -1 })).toThrow(ArgumentError);
  });

  it('pins new workers to a CPU mask (their Cpus_allowed_list) and clears it', async () => {
    // io-wq belongs to the submitting thread and a mask applies to workers created after
    // it, so this runs in a fresh process whose first worker starts after the call.
    const result = await runChild(`
import { readdirSync, readFileSync } from 'node:fs';
import { IoUring, prepNop, setIoWorkerAffinity, clearIoWorkerAffinity } from '@repo/src/index.js';
function workers() {
  const out = [];
  for (const tid of readdirSync('/proc/self/task')) {
    try {
      const status = readFileSync('/proc/self/task/' + tid + '/status', 'utf8');
      if (/^Name:\\s+iou-wrk/m.test(status)) out.push(/^Cpus_allowed_list:\\s+(\\S+)/m.exec(status)[1]);
    } catch {}
  }
  return out;
}
const ring = new IoUring({ entries: 4 });
const before = workers().length;
setIoWorkerAffinity(ring, [0]);
const sqe = ring.getSqe(); prepNop(sqe); sqe.async();
ring.submitAndWait(1); ring.forEachCqe(() => {});
const pinned = workers();
clearIoWorkerAffinity(ring);
ring.close();
console.log(JSON.stringify({ before, pinned }));
`);
    expect(result.code, result.stderr).toBe(0);
    const out = lastJson<{ before: number; pinned: string[] }>(result);
    expect(out.before).toBe(0);
    expect(out.pinned.length).toBeGreaterThan(0);
    expect(new Set(out.pinned)).toEqual(new Set(['0']));
  });

  it('refuses bad CPU lists before the kernel; clearing is always allowed', () => {
    const ring = newRing();
    expect(() => setIoWorkerAffinity(ring, [])).toThrow(/at least one CPU/);
    expect(() => setIoWorkerAffinity(ring, [-1])).toThrow(ArgumentError);
    expect(() => setIoWorkerAffinity(ring, [1.5])).toThrow(ArgumentError);
    expect(() => setIoWorkerAffinity(ring, 3 as unknown as number[])).toThrow(ArgumentError);
    setIoWorkerAffinity(ring, new Set(cpus().map((_, i) => i)));
    clearIoWorkerAffinity(ring);
  });
});

describe('restrictions', () => {
  it('a disabled ring restricted to NOP runs NOPs, fails other ops with -EACCES, and refuses other register ops', () => {
    const ring = newRing({ entries: 8, disabled: true });
    expect(ring.disabled).toBe(true);
    registerRestrictions(ring, { sqeOps: [IORING_OP_NOP], registerOps: [IORING_REGISTER_PROBE] });
    expect(codeOf(() => registerRestrictions(ring, { sqeOps: [IORING_OP_NOP] }))).toBe('EBUSY');
    ring.enable();
    expect(ring.disabled).toBe(false);
    expect(run(ring, (s) => prepNop(s)).res).toBe(0);
    expect(run(ring, (s) => prepRead(s, 0, Buffer.alloc(1), 1, 0)).res).toBe(EACCES);
    expect(codeOf(() => ring.register(IORING_REGISTER_EVENTFD, new Int32Array([0]), 1))).toBe('EACCES');
    expect(() => registerRestrictions(ring, { sqeOps: [IORING_OP_NOP] })).toThrow(RingStateError);
  });

  it('refuses restrictions on an enabled ring, and bad restriction lists, before the kernel', () => {
    const ring = newRing();
    expect(() => registerRestrictions(ring, { sqeOps: [IORING_OP_NOP] })).toThrow(/disabled: true/);
    const off = newRing({ entries: 4, disabled: true });
    expect(() => registerRestrictions(off, { sqeOps: [256] })).toThrow(ArgumentError);
    expect(() => registerRestrictions(off, { sqeOps: 'NOP' as unknown as number[] })).toThrow(ArgumentError);
  });
});

describe('clock', () => {
  it('switches waits to CLOCK_BOOTTIME and back; other clocks are refused', (ctx) => {
    const ring = newRing();
    requireRegister(ctx, 'IORING_REGISTER_CLOCK', [6, 12], () => registerClock(ring, 'boottime'));
    // A 30 ms timer: with the boottime clock the wait still ends on its CQE.
    prepTimeout(ring.getSqeOrThrow(), { sec: 0, nsec: 30_000_000 }, 0);
    expect(ring.submitAndWait(1, hangAfter(20_000))).toBe(1);
    expect(waitUntil(ring, (all) => all.length === 1)[0]!.res).toBe(ETIME);
    registerClock(ring, 'monotonic');
    expect(() => registerClock(ring, 'realtime' as 'monotonic')).toThrow(ArgumentError);
  });
});

describe('resize', () => {
  const deferred: IoUringOptions = { entries: 8, prefer: FAST_SETUP };

  it('grows and shrinks the rings of a live ring, carrying pending CQEs and in-flight ops across', (ctx) => {
    const ring = newRing(deferred);
    const long = ring.getSqeOrThrow();
    prepTimeout(long, { sec: 0, nsec: 80_000_000 }, 0);
    long.userData = 'in flight across resizes';
    const longId = long.id;
    for (let i = 0; i < 4; i++) {
      const s = ring.getSqeOrThrow();
      prepNop(s);
      s.userData = i;
    }
    ring.submit();
    const stale = ring.getSqeOrThrow();
    ring.discardSqe(stale);
    const grown = requireRegister(ctx, 'IORING_REGISTER_RESIZE_RINGS', [6, 13], () => ring.resize({ sqEntries: 64, cqEntries: 256 }));
    expect([grown.sqEntries, grown.cqEntries]).toEqual([64, 256]);
    expect(ring.params).toBe(grown);
    // The handle from before the resize is dead; new ones work at the new size.
    expect(() => { stale.userData = 1; }).toThrow(RingStateError);
    expect(ring.sqSpaceLeft).toBe(64);
    const nops = waitUntil(ring, (all) => all.length >= 4);
    expect(nops.map((c) => c.userData)).toEqual([0, 1, 2, 3]);
    for (let i = 0; i < 12; i++) prepNop(ring.getSqeOrThrow()); // more than the old SQ held
    expect(waitCqes(ring, 12)).toHaveLength(12);

    const shrunk = ring.resize({ sqEntries: 2, cqEntries: 4 });
    expect([shrunk.sqEntries, shrunk.cqEntries]).toEqual([2, 4]);
    expect(ring.sqSpaceLeft).toBe(2);
    const done = waitUntil(ring, (all) => all.some((c) => c.id === longId));
    expect(done.find((c) => c.id === longId)!.userData).toBe('in flight across resizes');
    for (let round = 0; round < 5; round++) {
      prepNop(ring.getSqeOrThrow());
      prepNop(ring.getSqeOrThrow());
      expect(waitCqes(ring, 2)).toHaveLength(2);
    }
    expect(ring.inFlight).toBe(0);
    // Same sizes: nothing to do.
    expect(ring.resize({})).toBe(ring.params);
  });

  it('refuses to drop unreaped CQEs (EOVERFLOW), staged SQEs, bad sizes, and rings without DEFER_TASKRUN', (ctx) => {
    const ring = newRing(deferred);
    for (let i = 0; i < 8; i++) prepNop(ring.getSqeOrThrow());
    ring.submitAndWait(8);
    const err = (() => {
      try {
        requireRegister(ctx, 'IORING_REGISTER_RESIZE_RINGS', [6, 13], () => ring.resize({ sqEntries: 2, cqEntries: 4 }));
      } catch (e) {
        return e as IoUringError;
      }
      return undefined;
    })();
    expect(err).toBeInstanceOf(IoUringError);
    expect(err!.code).toBe('EOVERFLOW');
    expect(err!.message).toMatch(/reap completions/);
    expect(waitUntil(ring, (all) => all.length === 8)).toHaveLength(8); // nothing lost
    prepNop(ring.getSqeOrThrow());
    expect(() => ring.resize({ sqEntries: 16 })).toThrow(/staged/);
    ring.submit();
    expect(() => ring.resize({ sqEntries: 32, cqEntries: 16 })).toThrow(/at least the SQ size/);
    expect(() => ring.resize({ sqEntries: 0 })).toThrow(ArgumentError);
    expect(() => ring.resize(null as unknown as {})).toThrow(ArgumentError);

    const plain = newRing({ entries: 8 });
    const refused = (() => {
      try {
        plain.resize({ cqEntries: 64 });
      } catch (e) {
        return e as IoUringError;
      }
      return undefined;
    })();
    expect(refused?.code).toBe('EINVAL');
    expect(refused?.message).toMatch(/deferTaskrun/);
    expect(plain.params.cqEntries).toBe(16);
  });

  it('restores the SQ index array (rings without NO_SQARRAY) in the new memory', (ctx) => {
    const ring = newRing({ entries: 4, singleIssuer: true, deferTaskrun: true, maxInFlight: 32 });
    expect(ring.params.setupFlags & IORING_SETUP_NO_SQARRAY).toBe(0);
    requireRegister(ctx, 'IORING_REGISTER_RESIZE_RINGS', [6, 13], () => ring.resize({ sqEntries: 16, cqEntries: 32 }));
    for (let round = 0; round < 3; round++) {
      for (let i = 0; i < 16; i++) {
        const s = ring.getSqeOrThrow();
        prepNop(s);
        s.userData = round * 16 + i;
      }
      expect(waitCqes(ring, 16).map((c) => c.userData)).toEqual(Array.from({ length: 16 }, (_, i) => round * 16 + i));
    }
    expect(ring.sqDropped).toBe(0);
  });

  it('resizes a NO_MMAP ring into memory the library maps', (ctx) => {
    requireSetupFlags(ctx, 'NO_MMAP (Linux 6.5)', IORING_SETUP_NO_MMAP);
    const ring = newRing({ ...deferred, noMmap: true });
    prepNop(ring.getSqeOrThrow());
    ring.submit();
    const p = requireRegister(ctx, 'IORING_REGISTER_RESIZE_RINGS', [6, 13], () => ring.resize({ sqEntries: 32, cqEntries: 64 }));
    expect(p.mapping).toBe('user');
    expect(p.sqEntries).toBe(32);
    expect(waitCqes(ring, 1)).toHaveLength(1);
    for (let i = 0; i < 14; i++) prepNop(ring.getSqeOrThrow()); // more than the old SQ held
    expect(waitCqes(ring, 14)).toHaveLength(14);
  });
});
