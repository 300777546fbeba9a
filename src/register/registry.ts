/**
 * What a ring has registered, kept in one place per ring so that registration can refuse
 * mistakes before the kernel sees them (a second file table, a buffer group id already in
 * use, a group that does not exist) and so that registered memory outlives the kernel's
 * use of it.
 *
 * Memory rules:
 * - Everything the kernel may read or write through a registration (registered buffers,
 *   provided buffers, buffer-ring memory) is referenced from here, and the registry is
 *   attached to the ring ({@link IoUring.attach}), so it stays alive while the ring lives
 *   even if the user drops every object.
 * - Unregistering does not free memory at once: an op already in flight may still use it.
 *   Such memory is *retired* and released only once the ring has nothing in flight (checked
 *   whenever a registration call runs) or after the ring's close has drained its work.
 * - If the ring's close gave up on ops that would not finish, their memory is kept for the
 *   life of the process (as the ring does for its own pins).
 *
 * @module
 */
import { ArgumentError } from '../errors.js';
import { RingStateError, ringClosedError } from '../ring/errors.js';
import type { IoUring, RingResource } from '../ring/ring.js';

/** Something whose memory must outlive the kernel's use of it. */
export interface Releasable {
  /** Frees what it holds (unmaps, drops references). Called exactly once. */
  release(): void;
  /** The JS memory it keeps referenced, kept forever if the kernel might still use it. */
  readonly memory: readonly unknown[];
}

/** A provided-buffer group (ring or legacy) as the registry tracks it. */
export interface BufferGroupEntry {
  /** The group id (`bgid`). */
  readonly bgid: number;
  /** `'ring'` for `IORING_REGISTER_PBUF_RING`, `'legacy'` for `PROVIDE_BUFFERS`. */
  readonly kind: 'ring' | 'legacy';
}

/** Memory of registrations whose ring closed with ops still in flight: never freed. */
const abandoned: unknown[] = [];

/** @internal The per-ring bookkeeping of every registration. */
export class RingRegistry implements RingResource {
  readonly ring: IoUring;
  /** The registered file table, if any (the kernel allows one). */
  files: object | undefined;
  /** The registered buffer table, if any (the kernel allows one). */
  buffers: object | undefined;
  /** Provided-buffer groups by id. */
  readonly groups = new Map<number, BufferGroupEntry>();
  /**
   * Ids of legacy groups closed while the kernel still held some of their buffers, with
   * why: the kernel keeps those buffers under the id, so a new group (or an op) under it
   * would be fed the old group's memory. Refused until the buffers are removed.
   */
  readonly reservedGroups = new Map<number, string>();
  /** Live resources released when the ring closes. */
  readonly #live = new Set<Releasable>();
  /** Unregistered resources waiting for the ring's in-flight work to drain. */
  #retired: Releasable[] = [];
  #released = false;

  constructor(ring: IoUring) {
    this.ring = ring;
  }

  /** Keeps `resource` until it is retired or the ring closes. */
  hold(resource: Releasable): void {
    this.#live.add(resource);
  }

  /**
   * Moves `resource` to the retired list: it is released once the ring has nothing in
   * flight (so no op submitted while it was registered can still touch its memory).
   */
  retire(resource: Releasable): void {
    if (!this.#live.delete(resource) && this.#retired.includes(resource)) return;
    this.#retired.push(resource);
    this.sweep();
  }

  /** Releases retired resources if the ring has no work in flight. */
  sweep(): void {
    if (this.#retired.length === 0 || this.ring.closed || this.ring.inFlight !== 0) return;
    const retired = this.#retired;
    this.#retired = [];
    releaseAll(retired);
  }

  /** Retired resources not yet released (for tests and diagnostics). */
  get retiredCount(): number {
    return this.#retired.length;
  }

  /**
   * Called by the ring after its fd is closed and its in-flight work drained. If the
   * drain gave up on some ops (`inFlight` still non-zero), memory is kept forever.
   */
  release(): void {
    if (this.#released) return;
    this.#released = true;
    const all = [...this.#retired, ...this.#live];
    this.#retired = [];
    this.#live.clear();
    this.groups.clear();
    this.reservedGroups.clear();
    this.files = undefined;
    this.buffers = undefined;
    registries.delete(this.ring);
    if (this.ring.inFlight !== 0) {
      for (const resource of all) abandoned.push(...resource.memory);
    }
    releaseAll(all);
  }

  /** Throws unless the ring is open. */
  checkOpen(what: string): void {
    if (this.ring.closed || this.#released) throw ringClosedError(what);
  }

  /** A buffer group by id, or a clear error naming `argument`. */
  group(argument: string, bgid: number): BufferGroupEntry {
    const entry = this.groups.get(bgid);
    if (entry === undefined) {
      const reserved = this.reservedGroups.get(bgid);
      if (reserved !== undefined) throw new ArgumentError('ERR_INVALID_ARG_VALUE', argument, reserved);
      const known = [...this.groups.keys()];
      throw new ArgumentError(
        'ERR_INVALID_ARG_VALUE',
        argument,
        `no provided-buffer group ${bgid} is registered on this ring (${known.length === 0 ? 'none are' : `registered: ${known.join(', ')}`}); create a BufferRing or ProvidedBufferGroup first`,
      );
    }
    return entry;
  }
}

function releaseAll(resources: readonly Releasable[]): void {
  let firstError: unknown;
  for (const resource of resources) {
    try {
      resource.release();
    } catch (err) {
      firstError ??= err;
    }
  }
  if (firstError !== undefined) throw firstError;
}

const registries = new WeakMap<IoUring, RingRegistry>();

/** @internal The registry of `ring`, created (and attached to the ring) on first use. */
export function registryOf(ring: IoUring, what: string): RingRegistry {
  if (ring === null || typeof ring !== 'object' || typeof (ring as { attach?: unknown }).attach !== 'function') {
    throw new ArgumentError('ERR_INVALID_ARG_TYPE', `${what}: ring`, 'expected an IoUring');
  }
  if (ring.closed) throw ringClosedError(what);
  let registry = registries.get(ring);
  if (registry === undefined) {
    registry = new RingRegistry(ring);
    ring.attach(registry);
    registries.set(ring, registry);
  }
  registry.sweep();
  return registry;
}

/**
 * Throws unless `bgid` names a provided-buffer group registered on `ring` (a
 * {@link BufferRing} or {@link ProvidedBufferGroup}): for callers that pass a raw group
 * id to a builder such as `prepRecvMultishot`. The group objects' own `prep*` methods
 * check this for you.
 *
 * @returns `bgid`.
 */
export function checkBufferGroup(ring: IoUring, bgid: number, argument = 'bufGroup'): number {
  const registry = registryOf(ring, 'checkBufferGroup');
  registry.group(argument, bgid);
  return bgid;
}

/** @internal The error for using a registration object after it was closed or unregistered. */
export function unregisteredError(what: string, thing: string): RingStateError {
  return new RingStateError('ERR_RING_CLOSED', `${what}: this ${thing} was unregistered (or its ring closed); register a new one`);
}
