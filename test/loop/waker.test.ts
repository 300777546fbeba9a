import { execFileSync } from 'node:child_process';
import { closeSync, constants as fsConstants, mkdtempSync, openSync, readdirSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { hangAfter } from '../support/slow.js';
import { ArgumentError } from '../../src/errors.js';
import { createWaker, defaultWakerBackend, type Waker, type WakerBackend } from '../../src/loop/waker.js';
import { closeFd, createEventfd, EFD_CLOEXEC, EFD_NONBLOCK, readEventfd, writeEventfd } from '../../src/sys/libc.js';
import { uvDefaultLoopAddress, uvLoopAddress, uvPendingCloses } from '../../src/sys/uv.js';
import { createRawRing, type Cqe, type RawRing } from '../sys/raw-ring.js';

const BACKENDS: WakerBackend[] = ['uv', 'koffi', 'threadpool'];

const cleanups: Array<() => void> = [];
afterEach(async () => {
  while (cleanups.length > 0) cleanups.pop()?.();
  // Let deferred closes finish (libuv's closing phase; threadpool reads returning), so
  // each test starts from a settled count of handles and descriptors.
  await sleep(20);
});

/** A ring and a waker wired the way the ring class will wire them. */
function wired(backend: WakerBackend, onCqes: (cqes: Cqe[]) => void): { ring: RawRing; waker: Waker } {
  const ring = createRawRing(16);
  const waker = createWaker(
    ring.fd,
    () => {
      const cqes = ring.reap();
      if (cqes.length > 0) onCqes(cqes);
    },
    { backend },
  );
  if (waker.eventfd >= 0) ring.registerEventfd(waker.eventfd);
  cleanups.push(() => {
    waker.close();
    ring.close();
  });
  return { ring, waker };
}

function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `cond` every millisecond or so, up to `ms` (a hang detector: times the machine's slowdown). */
async function waitFor(cond: () => boolean, ms = 2000): Promise<void> {
  ms = hangAfter(ms);
  const t0 = performance.now();
  while (!cond() && performance.now() - t0 < ms) await sleep(1);
}

function fdTarget(fd: number | string): string | null {
  try {
    return readlinkSync(`/proc/self/fd/${fd}`);
  } catch {
    return null;
  }
}

/**
 * Open eventfds. Counting all descriptors would be fragile: reading /proc/self/fd opens
 * one itself (taking the lowest free number, often the one just closed), and the test
 * runner opens others at its own pace.
 */
function eventfdCount(): number {
  return readdirSync('/proc/self/fd').filter((fd) => fdTarget(fd) === 'anon_inode:[eventfd]').length;
}

/** Lets libuv run its closing phase (it comes after the check phase setImmediate uses). */
async function closingPhase(): Promise<void> {
  await nextTurn();
  await nextTurn();
}

describe('backend choice', () => {
  it("picks 'uv' on the main thread, and honours TSURING_WAKER", () => {
    const saved = process.env.TSURING_WAKER;
    try {
      delete process.env.TSURING_WAKER;
      expect(defaultWakerBackend().backend).toBe('uv');
      process.env.TSURING_WAKER = 'threadpool';
      expect(defaultWakerBackend()).toEqual({ backend: 'threadpool', reason: 'TSURING_WAKER=threadpool' });
      process.env.TSURING_WAKER = 'bogus';
      expect(() => defaultWakerBackend()).toThrow(ArgumentError);
    } finally {
      if (saved === undefined) delete process.env.TSURING_WAKER;
      else process.env.TSURING_WAKER = saved;
    }
  });

  it('refuses bad arguments', () => {
    expect(() => createWaker(-1, () => {})).toThrow(ArgumentError);
    expect(() => createWaker(1.5, () => {})).toThrow(ArgumentError);
    expect(() => createWaker(0, 'x' as unknown as () => void)).toThrow(ArgumentError);
    expect(() => createWaker(0, () => {}, { backend: 'epoll' as WakerBackend })).toThrow(ArgumentError);
  });

  it('uses the loop Node-API reports, which is uv_default_loop() on the main thread', () => {
    expect(uvLoopAddress()).toBeGreaterThan(0);
    expect(uvLoopAddress()).toBe(uvDefaultLoopAddress());
  });
});

describe.each(BACKENDS)('%s backend', (backend) => {
  it('calls onReady when a completion arrives, and the continuation of a promise resolved there runs', async () => {
    let resolveCqes: (c: Cqe[]) => void = () => {};
    const got = new Promise<Cqe[]>((r) => (resolveCqes = r));
    const { ring, waker } = wired(backend, (cqes) => resolveCqes(cqes));
    expect(waker.backend).toBe(backend);
    expect(waker.armed).toBe(false);
    waker.arm();
    ring.nop(0xabc);
    expect(await got).toEqual([{ userData: 0xabc, res: 0, flags: 0 }]);
  });

  it('never calls onReady synchronously inside arm()', () => {
    let calls = 0;
    const { ring, waker } = wired(backend, () => calls++);
    ring.nop(1);
    waker.arm();
    expect(calls).toBe(0);
  });

  it('keeps the event loop turning while it waits (setImmediate ticks)', async () => {
    let done = false;
    let resolveDone: () => void = () => {};
    const finished = new Promise<void>((r) => (resolveDone = r));
    const { ring, waker } = wired(backend, (cqes) => {
      expect(cqes[0]?.res).toBe(-62); // -ETIME: the timeout expired
      done = true;
      resolveDone();
    });
    waker.arm();
    const t0 = performance.now();
    ring.timeout(hangAfter(120), 7); // (scaled: on a slow machine each loop turn is slower too)
    let ticks = 0;
    const tick = (): void => {
      if (done) return;
      ticks++;
      setImmediate(tick);
    };
    setImmediate(tick);
    await finished;
    expect(performance.now() - t0).toBeGreaterThanOrEqual(hangAfter(100));
    // A blocked loop would give 0 or 1; a turning one gives many.
    expect(ticks).toBeGreaterThan(10);
  });

  it('runs continuations of promises resolved in onReady before setImmediate callbacks and timers', async () => {
    const order: string[] = [];
    let resolveP: () => void = () => {};
    const p = new Promise<void>((r) => (resolveP = r));
    void p.then(() => order.push('continuation'));
    let resolveAll: () => void = () => {};
    const all = new Promise<void>((r) => (resolveAll = r));
    const { ring, waker } = wired(backend, () => {
      setImmediate(() => order.push('immediate'));
      setTimeout(() => {
        order.push('timeout');
        resolveAll();
      }, 0);
      process.nextTick(() => order.push('nextTick'));
      resolveP();
      order.push('onReady');
    });
    waker.arm();
    ring.nop(1);
    await all;
    expect(order).toEqual(['onReady', 'nextTick', 'continuation', 'immediate', 'timeout']);
  });

  it('stops calling onReady when disarmed and resumes when armed again, losing nothing', async () => {
    let seen: number[] = [];
    const { ring, waker } = wired(backend, (cqes) => (seen = seen.concat(cqes.map((c) => c.userData))));
    waker.arm();
    ring.nop(1);
    await waitFor(() => seen.length > 0);
    expect(seen).toEqual([1]);
    waker.disarm();
    expect(waker.armed).toBe(false);
    ring.nop(2);
    await sleep(30);
    expect(seen).toEqual([1]);
    waker.arm();
    await waitFor(() => seen.length > 1);
    expect(seen).toEqual([1, 2]);
  });

  it('close during an armed wait: no onReady afterwards; close twice is a no-op; arm after close throws', async () => {
    let calls = 0;
    const { ring, waker } = wired(backend, () => calls++);
    waker.arm();
    ring.timeout(30, 1);
    waker.close();
    waker.close();
    waker.disarm();
    waker.ref();
    waker.unref();
    expect(waker.closed).toBe(true);
    expect(() => waker.arm()).toThrow(/closed/);
    await waitFor(() => ring.ready() === 1, 5000); // the completion arrived...
    await sleep(30);
    expect(calls).toBe(0); // ...and nobody was told
  });

  it('surfaces an exception from onReady as an uncaught exception, and keeps going', async () => {
    const caught: unknown[] = [];
    // vitest installs its own handler; swap it for one that records, for this test only.
    const previous = process.listeners('uncaughtException');
    process.removeAllListeners('uncaughtException');
    const handler = (err: unknown): void => {
      caught.push(err);
    };
    process.on('uncaughtException', handler);
    try {
      let n = 0;
      const { ring, waker } = wired(backend, () => {
        n++;
        throw new Error(`boom ${n}`);
      });
      waker.arm();
      ring.nop(1);
      await waitFor(() => caught.length > 0);
      ring.nop(2);
      await waitFor(() => caught.length > 1);
      expect(caught.map((e) => (e as Error).message)).toEqual(['boom 1', 'boom 2']);
      // Nothing was left pending inside Node-API to pop out of an unrelated native call.
      expect(() => ring.nop(3)).not.toThrow();
    } finally {
      process.off('uncaughtException', handler);
      for (const l of previous) process.on('uncaughtException', l);
    }
  });

  it('leaves no descriptor and no pending handle behind after 300 create/arm/close cycles', async () => {
    const efd = createEventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    try {
      const fdsBefore = eventfdCount();
      for (let i = 0; i < 300; i++) {
        const waker = createWaker(efd, () => {}, { backend });
        waker.arm();
        if (i % 2 === 0) waker.unref();
        waker.close();
      }
      await waitFor(() => uvPendingCloses() === 0 && eventfdCount() === fdsBefore);
      expect(uvPendingCloses()).toBe(0);
      expect(eventfdCount()).toBe(fdsBefore);
    } finally {
      closeFd(efd);
    }
  });
});

describe('uv backend specifics', () => {
  it("mirrors arm/disarm/ref/unref in libuv's own handle state", () => {
    const efd = createEventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    cleanups.push(() => closeFd(efd));
    const waker = createWaker(efd, () => {}, { backend: 'uv' }) as Waker & {
      handleState(): { active: boolean; referenced: boolean } | null;
    };
    expect(waker.handleState()).toEqual({ active: false, referenced: true });
    waker.arm();
    expect(waker.handleState()).toEqual({ active: true, referenced: true });
    waker.unref();
    expect(waker.handleState()).toEqual({ active: true, referenced: false });
    waker.ref();
    waker.disarm();
    expect(waker.handleState()).toEqual({ active: false, referenced: true });
    waker.close();
    expect(waker.handleState()).toBeNull();
  });

  it('frees the handle memory only in the close callback, on a later turn', async () => {
    const efd = createEventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    cleanups.push(() => closeFd(efd));
    await closingPhase();
    const before = uvPendingCloses();
    expect(before).toBe(0);
    const waker = createWaker(efd, () => {}, { backend: 'uv' });
    waker.arm();
    waker.close();
    expect(uvPendingCloses()).toBe(before + 1);
    await closingPhase();
    expect(uvPendingCloses()).toBe(0);
  });

  it('refuses a second poll waker on the same fd (libuv would split the events)', () => {
    const efd = createEventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    cleanups.push(() => closeFd(efd));
    const a = createWaker(efd, () => {}, { backend: 'uv' });
    expect(() => createWaker(efd, () => {}, { backend: 'uv' })).toThrow(expect.objectContaining({ code: 'EEXIST' }));
    expect(() => createWaker(efd, () => {}, { backend: 'koffi' })).toThrow(expect.objectContaining({ code: 'EEXIST' }));
    a.close();
    const b = createWaker(efd, () => {}, { backend: 'koffi' });
    b.close();
  });
});

describe('threadpool backend specifics', () => {
  it('owns a blocking eventfd the ring registers, and wakes when it is written', async () => {
    let calls = 0;
    const waker = createWaker(0, () => calls++, { backend: 'threadpool' });
    cleanups.push(() => waker.close());
    expect(waker.eventfd).toBeGreaterThan(2);
    expect(waker.fd).toBe(waker.eventfd);
    waker.arm();
    writeEventfd(waker.eventfd, 5);
    await waitFor(() => calls > 0);
    expect(calls).toBe(1);
  });

  it('a signal that arrives while unreferenced is reported after ref()', async () => {
    let calls = 0;
    const waker = createWaker(0, () => calls++, { backend: 'threadpool' });
    cleanups.push(() => waker.close());
    waker.arm();
    await sleep(10);
    waker.unref(); // wakes and retires the pending read
    await sleep(10);
    writeEventfd(waker.eventfd, 1); // a completion while nobody waits
    await sleep(10);
    expect(calls).toBe(0);
    waker.ref();
    await waitFor(() => calls > 0);
    expect(calls).toBeGreaterThanOrEqual(1);
  });

  it('closes its eventfd once the pending read has returned', async () => {
    const waker = createWaker(0, () => {}, { backend: 'threadpool' });
    const efd = waker.eventfd;
    waker.arm();
    await sleep(10);
    const before = eventfdCount();
    expect(fdTarget(efd)).toBe('anon_inode:[eventfd]');
    waker.close();
    await waitFor(() => eventfdCount() === before - 1);
    expect(eventfdCount()).toBe(before - 1);
    expect(fdTarget(efd)).not.toBe('anon_inode:[eventfd]');
  });

  it('the eventfd counter is consumed before onReady, so a quiet fd does not spin', async () => {
    let calls = 0;
    const waker = createWaker(0, () => calls++, { backend: 'threadpool' });
    cleanups.push(() => waker.close());
    waker.arm();
    writeEventfd(waker.eventfd, 1);
    // Wait for the one wake-up however loaded the machine is, then make sure no second
    // one follows: a counter left unread would make the next threadpool read return at once.
    const deadline = Date.now() + hangAfter(5000);
    while (calls === 0 && Date.now() < deadline) await sleep(5);
    expect(calls).toBe(1);
    await sleep(100);
    expect(calls).toBe(1);
  });
});

describe('poll backends report a broken fd once', () => {
  it.each(['uv', 'koffi'] as const)('%s: EPOLLERR becomes one uncaught EBADF, and the waker disarms', async (backend) => {
    // The write end of a FIFO whose reader is gone reports EPOLLERR, which libuv turns
    // into a negative poll status.
    const dir = mkdtempSync(join(tmpdir(), 'tsuring-fifo-'));
    execFileSync('mkfifo', [join(dir, 'f')]);
    const reader = openSync(join(dir, 'f'), fsConstants.O_RDONLY | fsConstants.O_NONBLOCK);
    const writer = openSync(join(dir, 'f'), fsConstants.O_WRONLY | fsConstants.O_NONBLOCK);
    const caught: Array<{ code?: string; syscall?: string }> = [];
    const previous = process.listeners('uncaughtException');
    process.removeAllListeners('uncaughtException');
    const handler = (err: unknown): void => {
      caught.push(err as { code?: string });
    };
    process.on('uncaughtException', handler);
    let calls = 0;
    const waker = createWaker(writer, () => calls++, { backend });
    try {
      waker.arm();
      closeSync(reader);
      await waitFor(() => caught.length > 0);
      await sleep(30);
      expect(caught).toEqual([expect.objectContaining({ code: 'EBADF', syscall: 'uv_poll' })]);
      expect(calls).toBe(0);
      expect(waker.armed).toBe(false);
    } finally {
      waker.close();
      closeSync(writer);
      rmSync(dir, { recursive: true, force: true });
      process.off('uncaughtException', handler);
      for (const l of previous) process.on('uncaughtException', l);
    }
  });
});

describe('poll backends are level-triggered', () => {
  it.each(['uv', 'koffi'] as const)('%s: onReady repeats while the fd stays readable, stops once drained', async (backend) => {
    const efd = createEventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    cleanups.push(() => closeFd(efd));
    let calls = 0;
    const waker = createWaker(
      efd,
      () => {
        calls++;
        if (calls === 3) readEventfd(efd);
      },
      { backend },
    );
    cleanups.push(() => waker.close());
    waker.arm();
    writeEventfd(efd, 1);
    await waitFor(() => calls >= 3, 5000);
    await sleep(50);
    expect(calls).toBe(3);
  });
});
