/**
 * Who holds a ring's eventfd slot.
 *
 * The kernel gives a ring one eventfd slot (`IORING_REGISTER_EVENTFD`: EBUSY when taken,
 * `IORING_UNREGISTER_EVENTFD` removes whatever is there, whoever put it there). Two users of
 * the library can want it: an `AsyncIoUring`, whose waker watches an eventfd on rings
 * set up with `DEFER_TASKRUN` or with the threadpool waker, and user code
 * (`registerEventfd`, `RingEventfd`). This module records who registered the
 * current one, so that:
 * - registering a second one says who holds the slot (the kernel only says EBUSY);
 * - `unregisterEventfd` refuses to take the slot from an `AsyncIoUring` (its ring would
 *   never wake the event loop again);
 * - `RingEventfd.close()` unregisters only its own eventfd, never one registered after it.
 *
 * What is recorded is what went through this library. A raw
 * `ring.register(IORING_UNREGISTER_EVENTFD, ...)` bypasses the record (it is the raw escape
 * hatch); the functions above then see a stale holder and may refuse or skip, never
 * unregister something the record says belongs to someone else.
 *
 * This file has no dependencies on purpose: the Promise layer imports it to claim the slot.
 *
 * @module
 */
import type { IoUring } from '../ring/ring.js';

/** Who holds a ring's eventfd slot. */
export interface EventfdSlotHolder {
  /** `'async'`: an AsyncIoUring's waker; `'user'`: registerEventfd or a RingEventfd. */
  readonly kind: 'async' | 'user';
  /** The registered descriptor (for messages). */
  readonly fd: number;
  /** The RingEventfd that registered it, if one did. */
  readonly owner?: object;
}

const holders = new WeakMap<IoUring, EventfdSlotHolder>();

/** Records that `holder` registered the ring's eventfd (called after the kernel accepted it). */
export function claimEventfdSlot(ring: IoUring, holder: EventfdSlotHolder): void {
  holders.set(ring, holder);
}

/** The recorded holder of the ring's eventfd slot, if any. */
export function eventfdSlotHolder(ring: IoUring): EventfdSlotHolder | undefined {
  return holders.get(ring);
}

/** Forgets the holder (after the kernel unregistered its eventfd). */
export function releaseEventfdSlot(ring: IoUring): void {
  holders.delete(ring);
}
