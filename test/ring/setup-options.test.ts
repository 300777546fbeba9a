/**
 * Every setup option the running kernel supports creates a working ring: it completes a
 * NOP and a read, and `ring.params` says what was granted. Before each test the kernel is
 * asked directly (a hand-filled io_uring_setup, not through `IoUring`) whether it has
 * the flags; only when *it* refuses does the test skip, printing the kernel's answer.
 * A refusal by the library of something the kernel accepts fails the test.
 */
import { accessSync, constants, openSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, type TestContext } from 'vitest';
import { hangAfter } from '../support/slow.js';
import {
  IORING_FEAT_NODROP,
  IORING_FEAT_SINGLE_MMAP,
  IORING_NOP_CQE32,
  IORING_OP_NOP128,
  IORING_SETUP_ATTACH_WQ,
  IORING_SETUP_CLAMP,
  IORING_SETUP_COOP_TASKRUN,
  IORING_SETUP_CQE32,
  IORING_SETUP_CQSIZE,
  IORING_SETUP_DEFER_TASKRUN,
  IORING_SETUP_HYBRID_IOPOLL,
  IORING_SETUP_IOPOLL,
  IORING_SETUP_NO_MMAP,
  IORING_SETUP_NO_SQARRAY,
  IORING_SETUP_R_DISABLED,
  IORING_SETUP_REGISTERED_FD_ONLY,
  IORING_SETUP_SINGLE_ISSUER,
  IORING_SETUP_SQ_AFF,
  IORING_SETUP_SQE128,
  IORING_SETUP_SQPOLL,
  IORING_SETUP_SUBMIT_ALL,
  IORING_SETUP_TASKRUN_FLAG,
  IORING_SQ_NEED_WAKEUP,
} from '../../generated/constants.js';
import type { IoUringParams } from '../../generated/structs.js';
import { prepNop, prepNop128, prepRead } from '../../generated/ops.js';
import { UnsupportedOpError } from '../../src/errors.js';
import { IoUring } from '../../src/ring/ring.js';
import { setupFlagNames, type IoUringOptions } from '../../src/ring/setup.js';
import { IoUringError } from '../../src/sys/errors.js';
import { addressOf } from '../../src/sys/libc.js';
import { closeQuietly, drain, fdCount, fileWith, ioUringMappings, kernelRefusal, makeTempDir } from './helpers.js';

const TEXT = 'io_uring setup option test data: 0123456789abcdef';
let tmp: { dir: string; cleanup: () => void };
let fd: number;

beforeAll(() => {
  tmp = makeTempDir();
  fd = fileWith(join(tmp.dir, 'data.txt'), TEXT, 'r');
});
afterAll(() => {
  closeQuietly(fd);
  tmp.cleanup();
});

/** Skips the test (printing the kernel's own answer) unless the kernel accepts `flags`. */
function requireKernel(ctx: TestContext, what: string, flags: number, fill?: (p: IoUringParams) => void): void {
  const refusal = kernelRefusal(flags, fill);
  if (refusal !== null) {
    const note = `[skip] ${what}: the running kernel refuses ${setupFlagNames(flags).join(' | ')}: ${refusal.code} (${refusal.message})`;
    console.warn(note);
    ctx.skip(note);
  }
}

interface Expect {
  readRes?: number;
}

/** A NOP and a read through `ring`, checked; returns the CQEs. */
function nopAndRead(ring: IoUring, expect_: Expect = {}): void {
  if (ring.disabled) ring.enable();
  const nop = ring.getSqe()!;
  prepNop(nop);
  nop.userData = 'nop';
  const nopId = nop.id;
  const read = ring.getSqe()!;
  const buf = Buffer.alloc(12);
  prepRead(read, fd, buf, 12, 9);
  read.userData = { what: 'read' };
  const readTag = read.userData;
  const readId = read.id;
  ring.submitAndWait(2, 5000);
  // With SQPOLL the thread may need a moment: wait for whatever is missing.
  let cqes = drain(ring);
  for (let i = 0; cqes.length < 2 && i < 50; i++) {
    ring.submitAndWait(1, 100);
    cqes = cqes.concat(drain(ring));
  }
  expect(cqes).toHaveLength(2);
  const byId = new Map(cqes.map((c) => [c.id, c]));
  expect(byId.get(nopId)).toMatchObject({ userData: 'nop', res: 0 });
  const readRes = expect_.readRes ?? 12;
  expect(byId.get(readId)).toMatchObject({ userData: readTag, res: readRes });
  if (readRes === 12) expect(buf.toString()).toBe('setup option');
  expect(ring.inFlight).toBe(0);
}

/**
 * `mapping`: what the ring memory must be. 'kernel' (the kernel's pages, staged SQEs) or
 * 'user' (the library's memory, NO_MMAP, SQEs written in place).
 */
function expectParams(ring: IoUring, flags: number, mapping: 'kernel' | 'user'): void {
  const p = ring.params;
  expect(setupFlagNames(p.setupFlags & flags)).toEqual(setupFlagNames(flags));
  expect(p.features & IORING_FEAT_NODROP).not.toBe(0);
  if (mapping === 'user') {
    expect(p.mapping).toBe('user');
    expect(p.sqeInPlace).toBe(true);
    expect(p.setupFlags & IORING_SETUP_NO_MMAP).toBe(IORING_SETUP_NO_MMAP);
  } else {
    expect(p.mapping).toBe((p.features & IORING_FEAT_SINGLE_MMAP) !== 0 ? 'kernel-single' : 'kernel-split');
    expect(p.sqeInPlace).toBe(false);
  }
  expect(Object.isFrozen(p)).toBe(true);
}

/**
 * Whether the kernel takes the library's ring memory for these options: asked with
 * `ringMemory: 'user'`, which fails with EINVAL where it does not (no NO_MMAP before 6.5,
 * or memory larger than a page before about 6.13).
 */
function userMemoryAccepted(options: IoUringOptions): boolean {
  try {
    new IoUring({ ...options, ringMemory: 'user' }).close();
    return true;
  } catch (err) {
    if ((err instanceof IoUringError && err.code === 'EINVAL') || (err as { code?: string }).code === 'ERR_INVALID_ARG_VALUE') return false;
    throw err;
  }
}

interface Case {
  name: string;
  flags: number;
  options: () => IoUringOptions;
  fill?: (p: IoUringParams) => void;
  mapping?: 'kernel' | 'user';
  readRes?: number;
  /** Runs before the NOP-and-read check. */
  first?: (ring: IoUring) => void;
  check?: (ring: IoUring) => void;
}

const lastCpu = Math.max(0, cpus().length - 1);
let other: IoUring | undefined;

const cases: Case[] = [
  {
    name: 'CQSIZE (cqEntries 64 for 4 SQ entries)',
    flags: IORING_SETUP_CQSIZE,
    options: () => ({ entries: 4, cqEntries: 64 }),
    check: (r) => {
      expect(r.params.sqEntries).toBe(4);
      expect(r.params.cqEntries).toBe(64);
      expect(r.params.maxInFlight).toBe(Infinity); // no limit unless asked (liburing parity)
    },
  },
  {
    name: 'CQSIZE rounded up by the kernel (100 -> 128)',
    flags: IORING_SETUP_CQSIZE,
    options: () => ({ entries: 5, cqEntries: 100 }),
    check: (r) => {
      expect(r.params.sqEntries).toBe(8);
      expect(r.params.cqEntries).toBe(128);
    },
  },
  {
    name: 'CLAMP (entries past the kernel maximum)',
    flags: IORING_SETUP_CLAMP | IORING_SETUP_CQSIZE,
    options: () => ({ entries: 100_000, cqEntries: 1_000_000, clamp: true }),
    check: (r) => {
      expect(r.params.sqEntries).toBe(32768);
      expect(r.params.cqEntries).toBe(65536);
    },
  },
  {
    name: 'SQPOLL with idle time: the thread sleeps (NEED_WAKEUP) and submit wakes it',
    flags: IORING_SETUP_SQPOLL,
    fill: (p) => (p.sqThreadIdle = 20),
    options: () => ({ entries: 8, sqPoll: { idleMs: 20 } }),
    check: (r) => {
      // Past the idle time the thread sleeps and says so; a submit must wake it.
      const deadline = performance.now() + hangAfter(2000);
      while ((r.sqFlags & IORING_SQ_NEED_WAKEUP) === 0 && performance.now() < deadline) sleepMs(10);
      expect(r.sqFlags & IORING_SQ_NEED_WAKEUP).not.toBe(0);
      nopAndRead(r);
    },
  },
  {
    name: `SQPOLL + SQ_AFF (thread pinned to CPU ${lastCpu})`,
    flags: IORING_SETUP_SQPOLL | IORING_SETUP_SQ_AFF,
    fill: (p) => {
      p.sqThreadIdle = 10;
      p.sqThreadCpu = lastCpu;
    },
    options: () => ({ entries: 8, sqPoll: { idleMs: 10, cpu: lastCpu } }),
    check: (r) => {
      const threads = sqPollThreads();
      expect(threads.length).toBeGreaterThan(0);
      expect(threads.map((t) => t.cpus)).toContain(String(lastCpu));
      expect(r.params.setupFlags & IORING_SETUP_SQ_AFF).not.toBe(0);
    },
  },
  {
    name: "ATTACH_WQ (another ring's fd)",
    flags: IORING_SETUP_ATTACH_WQ,
    fill: (p) => (p.wqFd = (other ??= new IoUring({ entries: 4 })).fd),
    options: () => ({ entries: 8, attachWq: (other ??= new IoUring({ entries: 4 })).fd }),
    check: () => nopAndRead(other!),
  },
  { name: 'COOP_TASKRUN', flags: IORING_SETUP_COOP_TASKRUN, options: () => ({ coopTaskrun: true }) },
  {
    name: 'COOP_TASKRUN + TASKRUN_FLAG',
    flags: IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG,
    options: () => ({ coopTaskrun: true, taskrunFlag: true }),
  },
  { name: 'SINGLE_ISSUER', flags: IORING_SETUP_SINGLE_ISSUER, options: () => ({ singleIssuer: true }) },
  {
    name: 'SINGLE_ISSUER + DEFER_TASKRUN',
    flags: IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN,
    options: () => ({ singleIssuer: true, deferTaskrun: true }),
    check: (r) => {
      // Completion work runs only when the ring is entered: peek/forEach must ask for it.
      for (let i = 0; i < 3; i++) {
        prepNop(r.getSqe()!);
        r.submit();
      }
      let n = 0;
      for (let i = 0; n < 3 && i < 100; i++) n += r.forEachCqe();
      expect(n).toBe(3);
    },
  },
  {
    name: 'SINGLE_ISSUER + DEFER_TASKRUN + TASKRUN_FLAG',
    flags: IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_TASKRUN_FLAG,
    options: () => ({ singleIssuer: true, deferTaskrun: true, taskrunFlag: true }),
  },
  {
    name: 'SUBMIT_ALL: a bad SQE mid-batch does not stop the rest',
    flags: IORING_SETUP_SUBMIT_ALL,
    options: () => ({ submitAll: true }),
    check: (r) => expect(submitWithBadMiddle(r)).toBe(3),
  },
  {
    name: 'R_DISABLED + enable()',
    flags: IORING_SETUP_R_DISABLED,
    options: () => ({ disabled: true }),
    first: (r) => {
      expect(r.disabled).toBe(true);
      const sqe = r.getSqe()!;
      prepNop(sqe);
      expect(() => r.submit()).toThrow(expect.objectContaining({ code: 'ERR_RING_NOT_ENABLED' }));
      expect(() => r.submitAndWait(1)).toThrow(expect.objectContaining({ code: 'ERR_RING_NOT_ENABLED' }));
      r.enable();
      expect(r.disabled).toBe(false);
      r.enable(); // idempotent
      expect(r.submitAndWait(1)).toBe(1);
      expect(drain(r)).toHaveLength(1);
    },
  },
  {
    name: 'SQE128 (and NOP128 where the kernel has it)',
    flags: IORING_SETUP_SQE128,
    options: () => ({ sqe128: true }),
    check: (r) => {
      expect(r.params.sqeSize).toBe(128);
      const sqe = r.getSqe()!;
      expect(sqe.size).toBe(128);
      if (r.probe.supports(IORING_OP_NOP128)) {
        prepNop128(sqe);
        sqe.userData = 'nop128';
        r.submitAndWait(1);
        expect(drain(r)).toMatchObject([{ userData: 'nop128', res: 0 }]);
      } else {
        console.warn('[note] SQE128: the kernel lacks IORING_OP_NOP128 (Linux 6.19); checking that prepNop128 refuses it');
        expect(() => prepNop128(sqe)).toThrow(UnsupportedOpError);
        expect(r.discardSqe(sqe)).toBe(true);
      }
    },
  },
  {
    name: 'CQE32: cqe.extra carries the big CQE',
    flags: IORING_SETUP_CQE32,
    options: () => ({ cqe32: true }),
    check: (r) => {
      expect(r.params.cqeSize).toBe(32);
      const sqe = r.getSqe()!;
      prepNop(sqe);
      // IORING_NOP_CQE32 (Linux 6.18) posts sqe->off and sqe->addr as big_cqe[0..1].
      sqe.unsafeFields.nopFlags = IORING_NOP_CQE32;
      sqe.unsafeFields.off = 0x11223344;
      sqe.unsafeFields.addr = 0x55667788;
      r.submitAndWait(1);
      const [c] = drain(r);
      if (c!.res === -22) {
        console.warn('[note] CQE32: the kernel lacks IORING_NOP_CQE32 (Linux 6.18); only zeroed big CQEs were checked');
        expect(c!.extra).toEqual(new Array(16).fill(0));
      } else {
        expect(c!.res).toBe(0);
        expect(c!.extra).toEqual([0x44, 0x33, 0x22, 0x11, 0, 0, 0, 0, 0x88, 0x77, 0x66, 0x55, 0, 0, 0, 0]);
      }
      // The next CQE's extra is its own (zeros for a read), not the last one's left over.
      const read = r.getSqe()!;
      prepRead(read, fd, Buffer.alloc(4), 4, 0);
      r.submitAndWait(1);
      expect(drain(r)[0]!.extra).toEqual(new Array(16).fill(0));
    },
  },
  { name: 'NO_SQARRAY', flags: IORING_SETUP_NO_SQARRAY, options: () => ({ noSqArray: true }) },
  { name: 'NO_MMAP', flags: IORING_SETUP_NO_MMAP, mapping: 'user', options: () => ({ noMmap: true }) },
  {
    name: "NO_MMAP with hugePages: 'try'",
    flags: IORING_SETUP_NO_MMAP,
    mapping: 'user',
    options: () => ({ noMmap: { hugePages: 'try' } }),
    check: (r) => {
      // 'user-huge' only when huge pages are reserved and free; this machine has none.
      expect(r.params.mapping).toBe(freeHugePages() > 0 ? 'user-huge' : 'user');
    },
  },
  {
    name: 'REGISTERED_FD_ONLY + NO_MMAP: no descriptor at all',
    flags: IORING_SETUP_REGISTERED_FD_ONLY | IORING_SETUP_NO_MMAP,
    mapping: 'user',
    options: () => ({ noMmap: true, registeredFdOnly: true }),
    check: (r) => {
      expect(r.params.ringFdRegistered).toBe(true);
      expect(r.fd).toBeLessThan(16); // a registered index, not a descriptor
    },
  },
  {
    name: 'everything at once: NO_MMAP, REGISTERED_FD_ONLY, NO_SQARRAY, SQE128, CQE32, CQSIZE, DEFER_TASKRUN, SUBMIT_ALL',
    flags:
      IORING_SETUP_NO_MMAP | IORING_SETUP_REGISTERED_FD_ONLY | IORING_SETUP_NO_SQARRAY | IORING_SETUP_SQE128 | IORING_SETUP_CQE32 |
      IORING_SETUP_CQSIZE | IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_TASKRUN_FLAG | IORING_SETUP_SUBMIT_ALL,
    mapping: 'user',
    options: () => ({
      entries: 16, cqEntries: 64, noMmap: true, registeredFdOnly: true, noSqArray: true, sqe128: true, cqe32: true,
      singleIssuer: true, deferTaskrun: true, taskrunFlag: true, submitAll: true,
    }),
    check: (r) => {
      expect(r.params).toMatchObject({ sqEntries: 16, cqEntries: 64, sqeSize: 128, cqeSize: 32 });
      expect(submitWithBadMiddle(r)).toBe(3);
    },
  },
  {
    name: 'IOPOLL (buffered reads are refused by the kernel with EOPNOTSUPP; NOP works)',
    flags: IORING_SETUP_IOPOLL,
    options: () => ({ iopoll: true }),
    readRes: -95,
  },
  {
    name: 'IOPOLL + HYBRID_IOPOLL',
    flags: IORING_SETUP_IOPOLL | IORING_SETUP_HYBRID_IOPOLL,
    options: () => ({ iopoll: true, hybridIopoll: true }),
    readRes: -95,
  },
];

describe('setup options on the running kernel', () => {
  afterAll(() => other?.close());

  // Every case twice: with the default ring memory ('auto': the library's where the kernel
  // takes it, which it must then be) and with ringMemory 'kernel' (the kernel's pages and
  // the staging copy, the path older kernels take).
  for (const c of cases) for (const memory of ['auto', 'kernel'] as const) {
    it(`${c.name} [ringMemory ${memory}]`, (ctx) => {
      requireKernel(ctx, c.name, c.flags, c.fill);
      const fdsBefore = fdCount();
      const options: IoUringOptions = { ...c.options(), ...(memory === 'kernel' && c.mapping !== 'user' ? { ringMemory: 'kernel' as const } : {}) };
      const expected = c.mapping ?? (memory === 'auto' && userMemoryAccepted(c.options()) ? 'user' : 'kernel');
      const ring = new IoUring(options);
      try {
        expectParams(ring, c.flags, expected);
        if ((c.flags & IORING_SETUP_REGISTERED_FD_ONLY) !== 0) expect(fdCount()).toBe(fdsBefore);
        c.first?.(ring);
        nopAndRead(ring, c.readRes === undefined ? {} : { readRes: c.readRes });
        c.check?.(ring);
      } finally {
        ring.close();
      }
      expect(ring.closed).toBe(true);
    });
  }

  it('without SUBMIT_ALL the kernel stops at a bad SQE and the rest goes out with the next submit', () => {
    const ring = new IoUring({ entries: 8 });
    try {
      expect(submitWithBadMiddle(ring)).toBe(2);
    } finally {
      ring.close();
    }
  });

  it('NO_MMAP with hugePages: true and no free huge pages fails clearly, leaving nothing behind', (ctx) => {
    requireKernel(ctx, 'NO_MMAP', IORING_SETUP_NO_MMAP);
    if (freeHugePages() > 0) {
      const ring = new IoUring({ noMmap: { hugePages: true } });
      expect(ring.params.mapping).toBe('user-huge');
      nopAndRead(ring);
      ring.close();
      return;
    }
    const fds = fdCount();
    const ringMaps = ioUringMappings();
    let caught: unknown;
    try {
      new IoUring({ noMmap: { hugePages: true } });
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(IoUringError);
    const err = caught as IoUringError;
    expect(err.code).toBe('ENOMEM');
    expect(err.syscall).toBe('mmap');
    expect(err.message).toMatch(/huge pages/i);
    expect(err.message).toContain('vm.nr_hugepages');
    expect(err.message).toContain("hugePages: 'try'");
    // MAP_HUGETLB failed, so nothing was mapped; no descriptor or ring mapping may remain.
    expect(fdCount()).toBe(fds);
    expect(ioUringMappings()).toBe(ringMaps);
  });

  it('IOPOLL: O_DIRECT read from a polled block device', (ctx) => {
    requireKernel(ctx, 'IOPOLL', IORING_SETUP_IOPOLL);
    const devices = readdirSync('/sys/block').map((d) => {
      let poll = '?';
      try {
        poll = readFileSync(`/sys/block/${d}/queue/io_poll`, 'utf8').trim();
      } catch {
        /* no queue */
      }
      return `${d}: io_poll=${poll}`;
    });
    const target = polledMountDir();
    if (target === null) {
      const note = `[skip] IOPOLL O_DIRECT read: no writable filesystem on a block device with polling enabled (${devices.join(', ')}); NVMe with poll queues (nvme.poll_queues=N) would do`;
      console.warn(note);
      ctx.skip(note);
      return;
    }
    const { dir, cleanup } = makeTempDir(join(target, 'tsuring-iopoll-'));
    const path = join(dir, 'direct.bin');
    const block = 4096;
    const content = Buffer.alloc(block, 'polled!');
    writeFileSync(path, content);
    const dfd = openSync(path, constants.O_RDONLY | constants.O_DIRECT);
    const ring = new IoUring({ entries: 4, iopoll: true });
    try {
      const backing = new Uint8Array(3 * block);
      const skew = (block - (addressOf(backing) % block)) % block;
      const aligned = backing.subarray(skew, skew + block);
      const sqe = ring.getSqe()!;
      prepRead(sqe, dfd, aligned, block, 0);
      sqe.userData = 'direct';
      ring.submitAndWait(1, 5000);
      expect(drain(ring)).toMatchObject([{ userData: 'direct', res: block }]);
      expect(Buffer.from(aligned).equals(content)).toBe(true);
    } finally {
      ring.close();
      closeQuietly(dfd);
      cleanup();
    }
  });
});

/** A writable directory on a filesystem backed by a block device with io_poll=1, or null. */
function polledMountDir(): string | null {
  const polled = new Set<string>();
  for (const d of readdirSync('/sys/block')) {
    try {
      if (readFileSync(`/sys/block/${d}/queue/io_poll`, 'utf8').trim() !== '1') continue;
      polled.add(readFileSync(`/sys/block/${d}/dev`, 'utf8').trim());
      for (const part of readdirSync(`/sys/block/${d}`)) {
        if (part.startsWith(d)) polled.add(readFileSync(`/sys/block/${d}/${part}/dev`, 'utf8').trim());
      }
    } catch {
      /* not a queue-backed device */
    }
  }
  if (polled.size === 0) return null;
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const f = line.split(' ');
    if (f.length < 5 || !polled.has(f[2]!)) continue;
    try {
      accessSync(f[4]!, constants.W_OK);
      return f[4]!;
    } catch {
      /* read-only mount */
    }
  }
  return null;
}

function sleepMs(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

function freeHugePages(): number {
  const m = /^HugePages_Free:\s+(\d+)/m.exec(readFileSync('/proc/meminfo', 'utf8'));
  return m === null ? 0 : Number(m[1]);
}

function sqPollThreads(): Array<{ tid: string; cpus: string }> {
  const out: Array<{ tid: string; cpus: string }> = [];
  for (const tid of readdirSync('/proc/self/task')) {
    try {
      if (!readFileSync(`/proc/self/task/${tid}/comm`, 'utf8').startsWith('iou-sqp-')) continue;
      const m = /^Cpus_allowed_list:\s+(\S+)/m.exec(readFileSync(`/proc/self/task/${tid}/status`, 'utf8'));
      out.push({ tid, cpus: m?.[1] ?? '?' });
    } catch {
      /* the thread exited meanwhile */
    }
  }
  return out;
}

/**
 * Submits NOP, an SQE with an undefined IOSQE flag bit (the kernel fails it with EINVAL at
 * submission), NOP; returns how many SQEs the first io_uring_enter consumed. All three
 * CQEs must arrive in the end either way.
 */
function submitWithBadMiddle(r: IoUring): number {
  const tags = ['before', 'bad', 'after'];
  for (const tag of tags) {
    const sqe = r.getSqe()!;
    prepNop(sqe);
    if (tag === 'bad') sqe.flags = 0x80;
    sqe.userData = tag;
  }
  const consumed = r.submit();
  const got = new Map<unknown, number>();
  for (let i = 0; got.size < 3 && i < 20; i++) {
    r.submitAndWait(1, 200);
    for (const c of drain(r)) got.set(c.userData, c.res);
  }
  expect(Object.fromEntries(got)).toEqual({ before: 0, bad: -22, after: 0 });
  expect(r.inFlight).toBe(0);
  return consumed;
}
