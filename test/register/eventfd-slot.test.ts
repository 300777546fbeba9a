/**
 * The ring's one eventfd slot: what RingEventfd's counter counts (the kernel's signals, not
 * CQEs), who may take the slot back (RingEventfd.close only its own eventfd), and the slot an
 * AsyncIoUring holds to wake the event loop (registering another is EBUSY saying so;
 * unregistering it is refused, so the Promise ring keeps waking).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { IORING_SETUP_DEFER_TASKRUN } from '../../generated/constants.js';
import { prepNop } from '../../generated/ops.js';
import { OwnedFd } from '../../src/abi/owned-fd.js';
import { AsyncIoUring } from '../../src/async/async-ring.js';
import { registerEventfd, RingEventfd, unregisterEventfd } from '../../src/register/ring-config.js';
import { RingStateError } from '../../src/ring/errors.js';
import { IoUring } from '../../src/ring/ring.js';
import { IoUringError } from '../../src/sys/errors.js';
import { createEventfd, EFD_CLOEXEC, EFD_NONBLOCK, readEventfd } from '../../src/sys/libc.js';
import { errorOf, reapAll, waitCqes } from './helpers.js';

const cleanups: (() => void | Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function newRing(): IoUring {
  const ring = new IoUring({ entries: 16 });
  cleanups.push(() => ring.close());
  return ring;
}

function newAsync(options: ConstructorParameters<typeof AsyncIoUring>[0] = {}): AsyncIoUring {
  const r = new AsyncIoUring(options);
  cleanups.push(() => r.close());
  return r;
}

function ownEventfd(): OwnedFd {
  const fd = new OwnedFd(createEventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
  cleanups.push(() => fd.close());
  return fd;
}


describe('RingEventfd.read counts signals, not CQEs', () => {
  it('eight NOPs completed in one submission are fewer signals than CQEs; the CQ holds all eight', () => {
    const ring = newRing();
    const notify = RingEventfd.create(ring);
    cleanups.push(() => notify.close());
    for (let i = 0; i < 8; i++) prepNop(ring.getSqeOrThrow());
    expect(ring.submit()).toBe(8);
    const signals = notify.read();
    // The kernel signals when it posts a batch of CQEs, not once per CQE.
    expect(signals).toBeGreaterThanOrEqual(1);
    expect(signals).toBeLessThan(8);
    expect(reapAll(ring)).toHaveLength(8);
    expect(notify.read()).toBe(0);
  });
});

describe('RingEventfd.close unregisters only its own eventfd', () => {
  it('after the slot changed hands, close leaves the new owner registered (it keeps being signalled)', () => {
    const ring = newRing();
    const notify = RingEventfd.create(ring);
    expect(notify.registered).toBe(true);
    unregisterEventfd(ring);
    expect(notify.registered).toBe(false);
    const other = ownEventfd();
    registerEventfd(ring, other);
    notify.close();
    expect(() => notify.fd.fd).toThrow(/closed/);
    prepNop(ring.getSqeOrThrow());
    waitCqes(ring, 1);
    expect(readEventfd(other.fd)).toBeGreaterThanOrEqual(1);
    // Still registered: a second registration is refused, naming the holder.
    const err = errorOf(() => registerEventfd(ring, ownEventfd()));
    expect(err).toBeInstanceOf(IoUringError);
    expect(err!.code).toBe('EBUSY');
    expect(err!.message).toContain(`eventfd ${other.fd} is already registered`);
    unregisterEventfd(ring);
    expect(errorOf(() => unregisterEventfd(ring))?.code).toBe('ENXIO');
  });

  it('its own eventfd it does unregister, and a new one can take the slot', () => {
    const ring = newRing();
    const first = RingEventfd.create(ring);
    first.close();
    const second = RingEventfd.create(ring);
    cleanups.push(() => second.close());
    expect(second.registered).toBe(true);
    prepNop(ring.getSqeOrThrow());
    waitCqes(ring, 1);
    expect(second.read()).toBeGreaterThanOrEqual(1);
  });
});

describe('an AsyncIoUring holding the slot', () => {
  // Rings set up with DEFER_TASKRUN (the AsyncIoUring default where the kernel has it) and
  // the threadpool waker both wake the event loop through an eventfd in the ring's slot.
  const holders = [
    ['the default setup', {}],
    ['the threadpool waker', { waker: 'threadpool', prefer: [] }],
  ] as const;

  for (const [name, options] of holders) {
    it(`${name}: RingEventfd.create is EBUSY naming the AsyncIoUring; unregisterEventfd is refused and the ring keeps waking`, async (ctx) => {
      const r = newAsync(options as ConstructorParameters<typeof AsyncIoUring>[0]);
      const holds = r.wakerBackend === 'threadpool' || (r.ring.params.setupFlags & IORING_SETUP_DEFER_TASKRUN) !== 0;
      if (!holds) ctx.skip(`this AsyncIoUring (waker ${r.wakerBackend}, no DEFER_TASKRUN) wakes without an eventfd, so it holds no slot`);
      const err = errorOf(() => RingEventfd.create(r.ring));
      expect(err).toBeInstanceOf(IoUringError);
      expect(err!.code).toBe('EBUSY');
      expect(err!.message).toMatch(/held by its AsyncIoUring/);
      expect(errorOf(() => registerEventfd(r.ring, ownEventfd()))?.message).toMatch(/held by its AsyncIoUring/);
      const refused = errorOf(() => unregisterEventfd(r.ring));
      expect(refused).toBeInstanceOf(RingStateError);
      expect(refused!.code).toBe('ERR_RING_BUSY');
      expect(refused!.message).toMatch(/belongs to its AsyncIoUring/);
      // The ring still wakes the loop for a completion that arrives later.
      await r.timeout(20);
      expect(await r.nop()).toBe(0);
    });
  }

  it('an AsyncIoUring that wakes without an eventfd leaves the slot to RingEventfd', async (ctx) => {
    const r = newAsync({ prefer: [], waker: 'auto' });
    if (r.wakerBackend === 'threadpool') ctx.skip('the auto waker is the threadpool one here, which holds the slot');
    expect(r.ring.params.setupFlags & IORING_SETUP_DEFER_TASKRUN).toBe(0);
    const notify = RingEventfd.create(r.ring);
    expect(notify.registered).toBe(true);
    expect(await r.nop()).toBe(0);
    expect(notify.read()).toBeGreaterThanOrEqual(1);
    notify.close();
    expect(await r.nop()).toBe(0);
  });
});
