/**
 * The io_uring that `tsuring/net` runs on: one {@link AsyncIoUring} and one shared
 * {@link BufferRing} per thread, made when the module loads, and whether they can be made at
 * all (which decides the {@link NetBackend}).
 *
 * - The ring never keeps the process alive by itself: its waker is referenced only while an
 *   op is in flight. Listening servers and reading sockets are ops in flight (a multishot
 *   accept or receive), so they keep it alive, as libuv handles do; `unref()` switches them
 *   to readiness polling (see `src/net/source.ts`), and `close()` / `destroy()` cancel them.
 * - In a Worker thread the backend is `'node'` unless `TSURING_NET_BACKEND=io_uring`: a
 *   Worker that ends with a ring open currently aborts the process (issue 12 §2).
 * - Receive buffers: {@link RECV_BUFFERS} of {@link RECV_BUFFER_SIZE} bytes, shared by every
 *   socket of the thread. Each chunk is copied out as it is reaped and its buffer recycled at
 *   once, so a buffer is out of the kernel's hands only between a completion and its reap.
 * - `maxInFlight` is lifted to {@link MAX_IN_FLIGHT}: every open socket has one receive in
 *   flight, so the cap is about how many sockets a thread can have open before new ops wait
 *   behind idle receives (the ring's op table costs about 80 bytes per slot). CQ overflow is
 *   left to the kernel (`IORING_FEAT_NODROP`, 5.5), whose held-back CQEs the ring flushes as
 *   it reaps.
 *
 * @module
 */
import { isMainThread } from 'node:worker_threads';
import { AsyncIoUring } from '../../async/async-ring.js';
import { BufferRing } from '../../register/provided.js';
import { kernelVersion } from '../../sys/kernel-version.js';

/** Which implementation `tsuring/net` uses: its own io_uring one, or `node:net` itself. */
export type NetBackend = 'io_uring' | 'node';

/** Environment variable that forces `tsuring/net` onto `node:net` (`TSURING_NET_BACKEND=node`). */
export const NET_BACKEND_ENV = 'TSURING_NET_BACKEND';

/** Bytes per receive buffer (`TSURING_NET_RECV_BUFFER_SIZE` overrides it). */
export const RECV_BUFFER_SIZE = envInt('TSURING_NET_RECV_BUFFER_SIZE', 16 * 1024, 1, 1 << 24);
/** Receive buffers shared by the thread's sockets, a power of two (`TSURING_NET_RECV_BUFFERS` overrides it). */
export const RECV_BUFFERS = envInt('TSURING_NET_RECV_BUFFERS', 1024, 1, 32768);

/** A tuning knob from the environment: an integer in range, else the default. */
function envInt(name: string, fallback: number, min: number, max: number): number {
  const text = process.env[name];
  if (text === undefined || text === '') return fallback;
  const n = Number(text);
  if (!Number.isInteger(n) || n < min || n > max) {
    process.emitWarning(`tsuring/net: ${name}=${text} is not an integer from ${min} to ${max}; using ${fallback}`, { code: 'TSURING_NET_ENV' });
    return fallback;
  }
  return n;
}

/** Ops in flight on the thread's ring at most: about that many open sockets (see the module notes). */
export const MAX_IN_FLIGHT = 65536;

/** The thread's ring and receive buffers. */
export interface NetEngine {
  readonly ring: AsyncIoUring;
  readonly pool: BufferRing;
}

/** Ops the engine uses, all in Linux 6.0 (multishot receive is the newest need). */
const NEEDED_OPS = ['ACCEPT', 'RECV', 'SEND', 'SENDMSG', 'CONNECT', 'ASYNC_CANCEL'];

/** Makes the engine, or says why it cannot be made here. */
function makeEngine(): { engine: NetEngine; reason?: undefined; quiet?: undefined } | { engine?: undefined; reason: string; quiet?: boolean } {
  const forced = process.env[NET_BACKEND_ENV];
  if (forced === 'node') return { reason: `${NET_BACKEND_ENV}=node`, quiet: true };
  if (forced !== undefined && forced !== '' && forced !== 'io_uring' && forced !== 'auto') {
    return { reason: `${NET_BACKEND_ENV}=${forced} is not 'io_uring', 'node' or 'auto'` };
  }
  if (!isMainThread && forced !== 'io_uring') {
    // A Worker that ends (or is terminated) with a ring open aborts the whole process
    // today (koffi throws during environment cleanup; issue 12 §2), and this module's ring
    // stays open for the thread's life. Until rings are torn down safely at Worker exit,
    // Workers get node:net unless asked otherwise.
    return { reason: 'in a Worker thread (a ring left open when a Worker ends aborts the process; set TSURING_NET_BACKEND=io_uring to override)', quiet: true };
  }
  const [major, minor] = kernelVersion();
  if (major < 6) return { reason: `Linux ${major}.${minor} lacks multishot receive (Linux 6.0)` };
  let ring: AsyncIoUring;
  try {
    ring = new AsyncIoUring({ entries: 256, cqEntries: 4096, maxInFlight: MAX_IN_FLIGHT });
  } catch (err) {
    return { reason: err instanceof Error ? err.message : String(err) };
  }
  try {
    const missing = NEEDED_OPS.filter((op) => !ring.ring.probe.supports(op));
    if (missing.length > 0) throw new Error(`the kernel lacks ${missing.map((op) => `IORING_OP_${op}`).join(', ')}`);
    const pool = BufferRing.register(ring.ring, { entries: RECV_BUFFERS, bufferSize: RECV_BUFFER_SIZE });
    return { engine: { ring, pool } };
  } catch (err) {
    void ring.close();
    return { reason: err instanceof Error ? err.message : String(err) };
  }
}

const made = makeEngine();

/** The backend this thread uses (decided once, when the module loads). */
export const backend: NetBackend = made.engine !== undefined ? 'io_uring' : 'node';

/** Why {@link backend} is `'node'` (undefined when it is `'io_uring'`). */
export const backendReason: string | undefined = made.reason;

if (made.reason !== undefined && made.quiet !== true) {
  // Once per thread; not for an explicit choice or a policy.
  process.emitWarning(`tsuring/net: io_uring is unavailable (${made.reason}); using node:net instead`, { code: 'TSURING_NET_FALLBACK' });
}

/** The thread's engine. Only called when {@link backend} is `'io_uring'`. */
export function netEngine(): NetEngine {
  if (made.engine === undefined) throw new Error(`tsuring/net: no io_uring engine on this thread (${made.reason})`);
  return made.engine;
}
