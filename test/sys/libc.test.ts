import { readdirSync, readFileSync } from 'node:fs';
import util from 'node:util';
import { describe, expect, it } from 'vitest';
import { hangAfter } from '../support/slow.js';
import { ArgumentError } from '../../src/errors.js';
import { IoUringError } from '../../src/sys/errors.js';
import {
  addressOf,
  closeFd,
  createEventfd,
  EFD_CLOEXEC,
  EFD_NONBLOCK,
  enterRetriesOnEintr,
  externalView,
  IO_URING_PARAMS_SIZE,
  IORING_ENTER_ABS_TIMER,
  IORING_ENTER_EXT_ARG,
  IORING_ENTER_GETEVENTS,
  ioUringEnter,
  ioUringRegister,
  ioUringSetup,
  MAP_ANONYMOUS,
  MAP_PRIVATE,
  MAP_SHARED,
  mmapRegion,
  munmapRegion,
  nativeAlloc,
  nativeFree,
  PROT_READ,
  PROT_WRITE,
  readEventfd,
  writeEventfd,
} from '../../src/sys/libc.js';
import { createRawRing, IORING_REGISTER_EVENTFD, IORING_REGISTER_PROBE, IORING_UNREGISTER_EVENTFD } from './raw-ring.js';

function expectIoUringError(fn: () => unknown, code: string, syscall: string): IoUringError {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(IoUringError);
  const err = caught as IoUringError;
  expect(err.code).toBe(code);
  expect(err.syscall).toBe(syscall);
  // Node's convention: negative errno, understood by util.getSystemErrorName where Node knows it.
  expect(err.errno).toBeLessThan(0);
  expect(err.message.startsWith(`${code}: `)).toBe(true);
  expect(err.message).toContain(`, ${syscall}`);
  return err;
}

/** A descriptor number that is certainly not open right now. */
function closedFdNumber(): number {
  const fd = createEventfd(0, EFD_CLOEXEC);
  closeFd(fd);
  return fd;
}

describe('ioUringSetup', () => {
  it('creates a ring and the kernel writes the granted params back in place', () => {
    // A subarray at an odd offset of a pooled Buffer: the kernel must see byteOffset.
    const backing = Buffer.allocUnsafe(IO_URING_PARAMS_SIZE + 24).fill(0);
    const params = backing.subarray(12, 12 + IO_URING_PARAMS_SIZE);
    const fd = ioUringSetup(8, params);
    try {
      expect(fd).toBeGreaterThanOrEqual(0);
      const dv = new DataView(params.buffer, params.byteOffset, params.byteLength);
      expect(dv.getUint32(0, true)).toBe(8); // sq_entries
      expect(dv.getUint32(4, true)).toBe(16); // cq_entries: twice sq by default
      expect(dv.getUint32(20, true)).not.toBe(0); // features
      expect(dv.getUint32(52, true)).toBeGreaterThan(0); // sq_off.ring_entries
      // The padding around the params was not touched.
      expect(backing.subarray(0, 12).every((b) => b === 0)).toBe(true);
      expect(backing.subarray(12 + IO_URING_PARAMS_SIZE).every((b) => b === 0)).toBe(true);
      expect(readdirSync('/proc/self/fd')).toContain(String(fd));
    } finally {
      closeFd(fd);
    }
  });

  it('rounds entries up to a power of two', () => {
    const params = new Uint8Array(IO_URING_PARAMS_SIZE);
    const fd = ioUringSetup(5, params);
    closeFd(fd);
    expect(new DataView(params.buffer).getUint32(0, true)).toBe(8);
  });

  it('throws EINVAL with a hint for zero entries and for unknown setup flags', () => {
    const err = expectIoUringError(() => ioUringSetup(0, new Uint8Array(IO_URING_PARAMS_SIZE)), 'EINVAL', 'io_uring_setup');
    expect(err.errno).toBe(-22);
    expect(util.getSystemErrorName(err.errno)).toBe('EINVAL');
    expect(err.hint).toMatch(/setup flag this kernel does not know/);
    const params = new Uint8Array(IO_URING_PARAMS_SIZE);
    new DataView(params.buffer).setUint32(8, 0x8000_0000, true);
    expectIoUringError(() => ioUringSetup(8, params), 'EINVAL', 'io_uring_setup');
  });

  it('refuses bad arguments before the kernel sees them', () => {
    expect(() => ioUringSetup(8, new Uint8Array(64))).toThrow(ArgumentError);
    expect(() => ioUringSetup(-1, new Uint8Array(IO_URING_PARAMS_SIZE))).toThrow(ArgumentError);
    expect(() => ioUringSetup(1.5, new Uint8Array(IO_URING_PARAMS_SIZE))).toThrow(ArgumentError);
  });
});

describe('ioUringEnter', () => {
  it('submits and waits on a real ring', () => {
    const ring = createRawRing(4);
    try {
      ring.nop(0x1234_5678_9a);
      ring.wait(1);
      expect(ring.reap()).toEqual([{ userData: 0x1234_5678_9a, res: 0, flags: 0 }]);
      // Twenty more, wrapping both rings several times: every completion is its own.
      const seen: number[] = [];
      for (let i = 0; i < 20; i++) {
        ring.nop(1000 + i);
        if (i % 3 === 2) seen.push(...ring.reap().map((c) => c.userData));
      }
      seen.push(...ring.reap().map((c) => c.userData));
      expect(seen).toEqual(Array.from({ length: 20 }, (_, i) => 1000 + i));
      expect(ioUringEnter(ring.fd, 0, 0, 0)).toBe(0);
    } finally {
      ring.close();
    }
  });

  it('maps kernel errors to distinct codes', () => {
    expectIoUringError(() => ioUringEnter(closedFdNumber(), 0, 0, 0), 'EBADF', 'io_uring_enter');
    const efd = createEventfd(0, EFD_CLOEXEC);
    try {
      const err = expectIoUringError(() => ioUringEnter(efd, 0, 0, 0), 'EOPNOTSUPP', 'io_uring_enter');
      expect(err.errno).toBe(-95);
      expect(err.hint).toMatch(/not an io_uring instance/);
    } finally {
      closeFd(efd);
    }
    const ring = createRawRing(4);
    try {
      expectIoUringError(() => ioUringEnter(ring.fd, 0, 0, 0x8000_0000), 'EINVAL', 'io_uring_enter');
    } finally {
      ring.close();
    }
  });

  it('reads errno reliably right after each failed call, under allocation pressure', () => {
    const efd = createEventfd(0, EFD_CLOEXEC);
    const bad = closedFdNumber();
    const codes: string[] = [];
    let garbage: unknown[] = [];
    try {
      for (let i = 0; i < 20_000; i++) {
        // Allocation between calls keeps the young generation collecting.
        garbage.push({ i, s: `x${i}`, a: new Array(8).fill(i) });
        if (garbage.length > 500) garbage = [];
        try {
          ioUringEnter(i % 2 === 0 ? bad : efd, 0, 0, 0);
          codes.push('none');
        } catch (err) {
          codes.push((err as IoUringError).code);
        }
      }
    } finally {
      closeFd(efd);
    }
    const wrong = codes.filter((c, i) => c !== (i % 2 === 0 ? 'EBADF' : 'EOPNOTSUPP'));
    expect(wrong).toEqual([]);
  });

  it('surfaces EINTR from a wait it must not repeat, and repeats it when allowed', async () => {
    const { spawn } = await import('node:child_process');
    const ring = createRawRing(4);
    const onSignal = (): void => {};
    process.on('SIGUSR2', onSignal);
    // struct io_uring_getevents_arg { u64 sigmask; u32 sigmask_sz; u32 min_wait_usec; u64 ts; }
    const arg = new Uint8Array(24);
    const ts = new Uint8Array(16);
    const argView = new DataView(arg.buffer);
    const tsAddress = addressOf(ts);
    argView.setUint32(16, tsAddress >>> 0, true);
    argView.setUint32(20, Math.floor(tsAddress / 2 ** 32), true);
    const tsView = new DataView(ts.buffer);
    // Relative, and far longer than the signal takes to come: a wait restarted silently (or
    // whose rewritten time was ignored) would end with ETIME after all of it.
    const waitSec = Math.ceil(hangAfter(20_000) / 1000);
    tsView.setUint32(0, waitSec, true);
    const kill = (): Promise<void> =>
      new Promise((resolve) => {
        // The signal must arrive while this thread is blocked in the kernel, so another
        // process sends it.
        const child = spawn('sh', ['-c', `sleep 0.3; kill -USR2 ${process.pid}`], { stdio: 'ignore' });
        child.on('spawn', () => resolve());
      });
    try {
      await kill();
      let caught: unknown;
      try {
        ioUringEnter(ring.fd, 0, 1, IORING_ENTER_GETEVENTS | IORING_ENTER_EXT_ARG, addressOf(arg), arg.byteLength);
      } catch (err) {
        caught = err;
      }
      if (caught === undefined) throw new Error('the wait returned without a completion or an error');
      const err = caught as IoUringError;
      // A relative timeout must not be restarted silently: EINTR comes back (not ETIME at its end).
      expect(err.code).toBe('EINTR');

      // With onEintr the caller can rewrite the timeout to what remains and go on.
      await kill();
      let calls = 0;
      const t1 = Date.now();
      let caught2: unknown;
      try {
        ioUringEnter(ring.fd, 0, 1, IORING_ENTER_GETEVENTS | IORING_ENTER_EXT_ARG, addressOf(arg), arg.byteLength, () => {
          calls++;
          tsView.setUint32(0, 0, true);
          tsView.setUint32(8, 100_000_000, true); // 100 ms more
          return true;
        });
      } catch (e) {
        caught2 = e;
      }
      // The sender's own exit can interrupt again (libuv handles SIGCHLD), hence "at least".
      expect(calls).toBeGreaterThanOrEqual(1);
      expect((caught2 as IoUringError).code).toBe('ETIME');
      expect(Date.now() - t1).toBeLessThan(waitSec * 1000); // the rewritten 100 ms, not the original wait
    } finally {
      process.off('SIGUSR2', onSignal);
      ring.close();
    }
  });
});

describe('enterRetriesOnEintr', () => {
  it('repeats only waits whose meaning does not change', () => {
    expect(enterRetriesOnEintr(0, 0)).toBe(true);
    expect(enterRetriesOnEintr(IORING_ENTER_GETEVENTS, 0)).toBe(true);
    expect(enterRetriesOnEintr(IORING_ENTER_GETEVENTS, 0x1000)).toBe(false); // sigmask
    expect(enterRetriesOnEintr(IORING_ENTER_GETEVENTS | IORING_ENTER_EXT_ARG, 0x1000)).toBe(false);
    expect(enterRetriesOnEintr(IORING_ENTER_GETEVENTS | IORING_ENTER_EXT_ARG | IORING_ENTER_ABS_TIMER, 0x1000)).toBe(true);
  });
});

describe('ioUringRegister', () => {
  it('passes a view in place (IORING_REGISTER_PROBE fills it)', () => {
    const ring = createRawRing(4);
    try {
      // struct io_uring_probe: 16-byte header, then 8-byte io_uring_probe_op entries.
      const probe = Buffer.alloc(16 + 256 * 8);
      ioUringRegister(ring.fd, IORING_REGISTER_PROBE, probe, 256);
      const lastOp = probe[0] as number;
      expect(lastOp).toBeGreaterThan(40); // kernels since 6.0 know more than 40 ops
      const nopFlags = probe.readUInt16LE(16 + 2);
      expect(nopFlags & 1).toBe(1); // IO_URING_OP_SUPPORTED
      // The same through a plain address.
      const again = new Uint8Array(16 + 256 * 8);
      ioUringRegister(ring.fd, IORING_REGISTER_PROBE, addressOf(again), 256);
      expect(again[0]).toBe(lastOp);
    } finally {
      ring.close();
    }
  });

  it('maps register errors: EBUSY twice, ENXIO when nothing is registered', () => {
    const ring = createRawRing(4);
    const efd = createEventfd(0, EFD_CLOEXEC);
    try {
      ioUringRegister(ring.fd, IORING_REGISTER_EVENTFD, new Int32Array([efd]), 1);
      const busy = expectIoUringError(
        () => ioUringRegister(ring.fd, IORING_REGISTER_EVENTFD, new Int32Array([efd]), 1),
        'EBUSY',
        'io_uring_register',
      );
      expect(busy.hint).toMatch(/already registered/);
      ioUringRegister(ring.fd, IORING_UNREGISTER_EVENTFD, null, 0);
      expectIoUringError(() => ioUringRegister(ring.fd, IORING_UNREGISTER_EVENTFD, null, 0), 'ENXIO', 'io_uring_register');
      expectIoUringError(() => ioUringRegister(ring.fd, 9999, null, 0), 'EINVAL', 'io_uring_register');
    } finally {
      closeFd(efd);
      ring.close();
    }
  });
});

describe('memory', () => {
  it('maps, views and unmaps a region, leaving no mapping behind', () => {
    const length = 3 * 4096;
    const addr = mmapRegion(length, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    expect(Number.isSafeInteger(addr)).toBe(true);
    expect(addr % 4096).toBe(0);
    const bytes = new Uint8Array(externalView(addr, length));
    bytes[length - 1] = 7;
    expect(bytes[length - 1]).toBe(7);
    expect(readFileSync('/proc/self/maps', 'utf8')).toContain(addr.toString(16));
    munmapRegion(addr, length);
    expect(readFileSync('/proc/self/maps', 'utf8')).not.toMatch(new RegExp(`^0*${addr.toString(16)}-`, 'm'));
  });

  it('maps ring memory from a ring fd', () => {
    const ring = createRawRing(8);
    try {
      expect(ring.sqEntries).toBe(8);
      ring.nop(1);
      expect(ring.ready()).toBe(1);
      expect(ring.reap()[0]?.userData).toBe(1);
    } finally {
      ring.close();
    }
  });

  it('throws mmap and munmap errors with the syscall named', () => {
    expectIoUringError(() => mmapRegion(0, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0), 'EINVAL', 'mmap');
    expectIoUringError(() => mmapRegion(4096, PROT_READ, MAP_SHARED, closedFdNumber(), 0), 'EBADF', 'mmap');
    expectIoUringError(() => munmapRegion(4097, 4096), 'EINVAL', 'munmap');
  });

  it('refuses an external view without an address', () => {
    expect(() => externalView(0, 8)).toThrow(ArgumentError);
  });

  it('allocates and frees native memory', () => {
    const p = nativeAlloc(160);
    expect(p).toBeGreaterThan(0);
    expect(new Uint8Array(externalView(p, 160)).every((b) => b === 0)).toBe(true);
    nativeFree(p);
  });
});

describe('addressOf', () => {
  it('includes byteOffset, for pooled Buffers and subarrays', () => {
    const a = Buffer.from('pooled one');
    const b = Buffer.from('pooled two');
    expect(a.buffer).toBe(b.buffer); // the premise: both live in Node's pool
    expect(addressOf(b) - addressOf(a)).toBe(b.byteOffset - a.byteOffset);
    const big = new Uint8Array(4096);
    expect(addressOf(big.subarray(100)) - addressOf(big)).toBe(100);
    const dv = new DataView(big.buffer, 24, 8);
    expect(addressOf(dv) - addressOf(big)).toBe(24);
  });

  it('pins small on-heap typed arrays: the address stays valid across GCs', () => {
    const small = new Uint8Array(16);
    const addr = addressOf(small);
    let junk: unknown[] = [];
    for (let i = 0; i < 200_000; i++) {
      junk.push({ i });
      if (junk.length > 1000) junk = [];
    }
    expect(addressOf(small)).toBe(addr);
    // And the memory at that address is the array's: write natively, read in JS.
    new Uint8Array(externalView(addr, 16))[3] = 42;
    expect(small[3]).toBe(42);
  });

  it('gives 0 for an empty view and refuses a detached one', () => {
    expect(addressOf(new Uint8Array(0))).toBe(0);
    const ab = new ArrayBuffer(64);
    const view = new Uint8Array(ab, 8);
    structuredClone(ab, { transfer: [ab] });
    expect(() => addressOf(view)).toThrow(ArgumentError);
  });
});

describe('eventfd', () => {
  it('counts, reads and resets', () => {
    const efd = createEventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    try {
      expect(readEventfd(efd)).toBe(0);
      writeEventfd(efd, 3);
      writeEventfd(efd);
      expect(readEventfd(efd)).toBe(4);
      expect(readEventfd(efd)).toBe(0);
      writeEventfd(efd, 2 ** 40 + 5);
      expect(readEventfd(efd)).toBe(2 ** 40 + 5);
      expect(() => writeEventfd(efd, 0)).toThrow(ArgumentError);
    } finally {
      closeFd(efd);
    }
  });

  it('closing twice reports EBADF the second time', () => {
    const efd = createEventfd();
    closeFd(efd);
    expectIoUringError(() => closeFd(efd), 'EBADF', 'close');
  });

  it('reports read errors on a descriptor that is not open', () => {
    expectIoUringError(() => readEventfd(closedFdNumber()), 'EBADF', 'read');
  });
});
