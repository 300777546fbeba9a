/**
 * Paths the running kernel does not take on its own, reached by wrapping the syscall layer
 * (every call still goes to the real kernel unless a test injects a failure):
 * - mmap failing half-way through setup (after io_uring_setup): nothing left behind;
 * - the probe failing after setup of a REGISTERED_FD_ONLY ring: its registered slot freed;
 * - the three-region mapping ('kernel-split') of kernels without IORING_FEAT_SINGLE_MMAP,
 *   taken by hiding that feature bit from the ring (the kernel still maps each region);
 * - options refused before the kernel: io_uring_setup is never called.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { IORING_FEAT_SINGLE_MMAP, IORING_REGISTER_PROBE, IORING_SETUP_NO_MMAP, IORING_SETUP_REGISTERED_FD_ONLY } from '../../generated/constants.js';
import { IoUringParams } from '../../generated/structs.js';
import { prepNop, prepRead } from '../../generated/ops.js';
import { IoUring } from '../../src/ring/ring.js';
import { errorFromErrno, IoUringError } from '../../src/sys/errors.js';
import { drain, fdCount, ioUringMappings, kernelRefusal } from './helpers.js';

const faults = vi.hoisted(() => ({
  /** Fail the n-th mmapRegion call from now (1-based); 0 = never. */
  failMmapAt: 0,
  mmapCalls: 0,
  setupCalls: 0,
  hideSingleMmap: false,
  failProbe: false,
  /** Regions mapped through the library and not yet unmapped: address → length. */
  live: new Map<number, number>(),
  /** munmap calls for an address that was not live (a double unmap). */
  strayUnmaps: 0,
}));

vi.mock('../../src/sys/libc.js', async (importOriginal) => {
  const real = await importOriginal<typeof import('../../src/sys/libc.js')>();
  return {
    ...real,
    mmapRegion: (...args: Parameters<typeof real.mmapRegion>) => {
      faults.mmapCalls++;
      if (faults.failMmapAt !== 0 && faults.mmapCalls === faults.failMmapAt) throw errorFromErrno(12, 'mmap', '(injected by the test)');
      const address = real.mmapRegion(...args);
      faults.live.set(address, args[0]);
      return address;
    },
    munmapRegion: (address: number, length: number) => {
      if (faults.live.get(address) === length) faults.live.delete(address);
      else faults.strayUnmaps++;
      return real.munmapRegion(address, length);
    },
    ioUringSetup: (entries: number, params: Uint8Array) => {
      faults.setupCalls++;
      const fd = real.ioUringSetup(entries, params);
      if (faults.hideSingleMmap) {
        const p = new IoUringParams(params);
        p.features = p.features & ~IORING_FEAT_SINGLE_MMAP;
      }
      return fd;
    },
    ioUringRegister: (...args: Parameters<typeof real.ioUringRegister>) => {
      if (faults.failProbe && (args[1] & 0xff) === IORING_REGISTER_PROBE) throw errorFromErrno(14, 'io_uring_register', '(injected by the test)');
      return real.ioUringRegister(...args);
    },
  };
});

afterEach(() => {
  faults.failMmapAt = 0;
  faults.mmapCalls = 0;
  faults.setupCalls = 0;
  faults.hideSingleMmap = false;
  faults.failProbe = false;
  faults.strayUnmaps = 0;
});

function snapshot(): { fds: number; ringMaps: number; live: number } {
  return { fds: fdCount(), ringMaps: ioUringMappings(), live: faults.live.size };
}

/**
 * Descriptors and the kernel's ring mappings (`anon_inode:[io_uring]`) exactly, and every
 * region the library mapped since `before` unmapped exactly once (seen through the wrapped
 * syscall layer). The total line count of /proc/self/maps says nothing here: V8 maps and
 * unmaps 256 KiB heap pages on its own, more than one leaked region would add.
 */
function expectSame(after: ReturnType<typeof snapshot>, before: ReturnType<typeof snapshot>): void {
  expect(after.fds).toBe(before.fds);
  expect(after.ringMaps).toBe(before.ringMaps);
  expect(after.live).toBe(before.live);
  expect(faults.strayUnmaps).toBe(0);
}

function works(ring: IoUring): void {
  const nop = ring.getSqe()!;
  prepNop(nop);
  nop.userData = 'nop';
  const read = ring.getSqe()!;
  const buf = Buffer.alloc(4);
  prepRead(read, 0, buf, 0, 0);
  read.userData = 'read';
  ring.submitAndWait(2);
  expect(drain(ring).map((c) => [c.userData, c.res])).toEqual([
    ['nop', 0],
    ['read', 0],
  ]);
}

describe('mmap failing half-way through setup', () => {
  for (const [at, what] of [
    [1, 'the first mapping (SQ/CQ ring)'],
    [2, 'the second mapping (SQE array), after the first succeeded'],
  ] as const) {
    it(`failing ${what} closes the ring fd and unmaps what was mapped`, () => {
      new IoUring({ entries: 8, ringMemory: 'kernel' }).close(); // warm-up
      const before = snapshot();
      for (let i = 0; i < 10; i++) {
        faults.mmapCalls = 0;
        faults.failMmapAt = at;
        let caught: unknown;
        try {
          new IoUring({ entries: 8, ringMemory: 'kernel' });
        } catch (err) {
          caught = err;
        }
        expect(caught).toBeInstanceOf(IoUringError);
        expect((caught as IoUringError).code).toBe('ENOMEM');
        expect((caught as IoUringError).syscall).toBe('mmap');
        expect(faults.mmapCalls).toBe(at); // it stopped at the failure
      }
      expectSame(snapshot(), before);
      faults.failMmapAt = 0;
      using ring = new IoUring({ entries: 8, ringMemory: 'kernel' });
      works(ring);
    });
  }

  it('failing the NO_MMAP allocation: io_uring_setup is never reached', () => {
    const before = snapshot();
    faults.failMmapAt = 1;
    expect(() => new IoUring({ entries: 8, noMmap: true })).toThrow(expect.objectContaining({ code: 'ENOMEM', syscall: 'mmap' }));
    expect(faults.setupCalls).toBe(0);
    expectSame(snapshot(), before);
  });

  it('a REGISTERED_FD_ONLY ring failing after setup (probe refused) frees its registered slot, 20 times', (ctx) => {
    const refusal = kernelRefusal(IORING_SETUP_NO_MMAP | IORING_SETUP_REGISTERED_FD_ONLY);
    if (refusal !== null) {
      const note = `[skip] REGISTERED_FD_ONLY: ${refusal.message}`;
      console.warn(note);
      ctx.skip(note);
    }
    faults.failProbe = true;
    // 16 slots in the task's registered-ring table: a leak per failure would make the
    // 17th setup fail with EBUSY instead of EFAULT.
    for (let i = 0; i < 20; i++) {
      expect(() => new IoUring({ entries: 4, noMmap: true, registeredFdOnly: true })).toThrow(
        expect.objectContaining({ code: 'EFAULT', syscall: 'io_uring_register' }),
      );
    }
    faults.failProbe = false;
    using ring = new IoUring({ entries: 4, noMmap: true, registeredFdOnly: true });
    works(ring);
  });
});

describe("the three-region mapping ('kernel-split')", () => {
  it('maps SQ ring, CQ ring and SQE array separately and works', () => {
    const before = snapshot();
    faults.hideSingleMmap = true;
    const ring = new IoUring({ entries: 8, maxInFlight: 64, ringMemory: 'kernel' });
    expect(ring.params.mapping).toBe('kernel-split');
    expect(ring.params.features & IORING_FEAT_SINGLE_MMAP).toBe(0);
    expect(ioUringMappings() - before.ringMaps).toBe(3);
    works(ring);
    // Overflow through the split CQ ring, too.
    for (let i = 0; i < 24; i++) {
      if (ring.getSqe() === null) {
        ring.submit();
        expect(ring.getSqe()).not.toBeNull();
      }
    }
    ring.submit();
    expect(ring.cqReady).toBe(ring.params.cqEntries); // full, the rest held back by the kernel
    expect(ring.forEachCqe()).toBe(24);
    ring.close();
    expectSame(snapshot(), before);
  });

  it('with CQE32 and SQE128', () => {
    faults.hideSingleMmap = true;
    using ring = new IoUring({ entries: 8, cqe32: true, sqe128: true, ringMemory: 'kernel' });
    expect(ring.params).toMatchObject({ mapping: 'kernel-split', cqeSize: 32, sqeSize: 128 });
    works(ring);
  });
});

describe('options refused before the kernel', () => {
  it('never call io_uring_setup', () => {
    const bad: unknown[] = [
      { deferTaskrun: true },
      { taskrunFlag: true },
      { registeredFdOnly: true },
      { hybridIopoll: true },
      { entries: 16, cqEntries: 8 },
      { entriez: 8 },
      { entries: '8' },
      { sqPoll: { cpu: -1 } },
      { prefer: ['bogus'] },
    ];
    for (const options of bad) {
      expect(() => new IoUring(options as never)).toThrow(expect.objectContaining({ code: expect.stringMatching(/^ERR_(INVALID_ARG_(TYPE|VALUE)|OUT_OF_RANGE)$/) }));
    }
    expect(faults.setupCalls).toBe(0);
  });
});
