/**
 * NAPI busy polling (registerNapi / unregisterNapi, IORING_(UN)REGISTER_NAPI, Linux 6.9):
 * each call reports the settings it replaced, as the kernel writes them back; a TCP
 * connection on 127.0.0.1 still receives with busy polling on; bad arguments are refused
 * before the kernel sees them.
 */
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { release } from 'node:os';
import { afterEach, describe, expect, it } from 'vitest';
import { prepAccept, prepRecv } from '../../generated/ops.js';
import { OwnedFd } from '../../src/abi/owned-fd.js';
import { ArgumentError } from '../../src/errors.js';
import { registerNapi, unregisterNapi } from '../../src/register/napi.js';
import { RingStateError } from '../../src/ring/errors.js';
import { IoUring } from '../../src/ring/ring.js';
import { IoUringError } from '../../src/sys/errors.js';
import { errorOf, kernelAtLeast, requireRegister, run, tcpListener } from './helpers.js';

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0).reverse()) c();
});

function newRing(options: ConstructorParameters<typeof IoUring>[0] = { entries: 8 }): IoUring {
  const ring = new IoUring(options);
  cleanups.push(() => ring.close());
  return ring;
}

/** The `net.core.busy_poll` sysctl: a new ring's NAPI timeout before any registration. */
function sysctlBusyPoll(): number {
  return Number(readFileSync('/proc/sys/net/core/busy_poll', 'utf8').trim());
}

const HAS_NAPI = kernelAtLeast(6, 9);
const NEEDS = HAS_NAPI ? '' : ` (skipped: kernel ${release()} is older than Linux 6.9, which added IORING_REGISTER_NAPI)`;

describe('registerNapi / unregisterNapi', () => {
  it('each call reports the settings it replaced, as the kernel writes them back', (ctx) => {
    const ring = newRing();
    const initial = requireRegister(ctx, 'IORING_REGISTER_NAPI', [6, 9], () => registerNapi(ring, { busyPollTimeoutUs: 100, preferBusyPoll: true }));
    expect(initial).toEqual({ busyPollTimeoutUs: sysctlBusyPoll(), preferBusyPoll: false });
    expect(registerNapi(ring, { busyPollTimeoutUs: 50, preferBusyPoll: false })).toEqual({ busyPollTimeoutUs: 100, preferBusyPoll: true });
    expect(unregisterNapi(ring)).toEqual({ busyPollTimeoutUs: 50, preferBusyPoll: false });
    expect(unregisterNapi(ring)).toEqual({ busyPollTimeoutUs: 0, preferBusyPoll: false }); // off
  });

  it('a timeout above 10 ms is either kept (kernels before the cap) or capped at 10,000 us', (ctx) => {
    const ring = newRing();
    requireRegister(ctx, 'IORING_REGISTER_NAPI', [6, 9], () => registerNapi(ring, { busyPollTimeoutUs: 1_000_000, preferBusyPoll: false }));
    const reported = unregisterNapi(ring).busyPollTimeoutUs;
    console.info(`NAPI timeout 1,000,000 us read back as ${reported} us on ${release()}`);
    expect([1_000_000, 10_000]).toContain(reported);
  });

  it('a TCP connection on 127.0.0.1 still receives with busy polling on', async (ctx) => {
    const ring = newRing({ entries: 16 });
    requireRegister(ctx, 'IORING_REGISTER_NAPI', [6, 9], () => registerNapi(ring, { busyPollTimeoutUs: 200, preferBusyPoll: true }));
    const listener = tcpListener();
    cleanups.push(() => listener.fd.close());
    const client = connect(listener.port, '127.0.0.1');
    cleanups.push(() => client.destroy());
    await once(client, 'connect');
    const server = OwnedFd.fromResult(run(ring, (s) => prepAccept(s, listener.fd, null)).res, 'accept');
    cleanups.push(() => server.close());
    const payload = Buffer.from('napi busy poll over loopback');
    for (let round = 0; round < 3; round++) {
      await new Promise<void>((resolve, reject) => client.write(payload, (err) => (err ? reject(err) : resolve())));
      const buf = new Uint8Array(64);
      const done = run(ring, (s) => prepRecv(s, server, buf, buf.byteLength, 0));
      expect(done.res).toBe(payload.length);
      expect(Buffer.from(buf.subarray(0, done.res)).equals(payload)).toBe(true);
    }
    expect(unregisterNapi(ring)).toEqual({ busyPollTimeoutUs: 200, preferBusyPoll: true });
  });

  it('refuses bad settings before the kernel sees them, reading each property once', (ctx) => {
    const ring = newRing();
    const before = requireRegister(ctx, 'IORING_UNREGISTER_NAPI', [6, 9], () => unregisterNapi(ring));
    expect(before.busyPollTimeoutUs).toBe(0);
    for (const bad of [null, undefined, 5, 'x']) {
      expect(errorOf(() => registerNapi(ring, bad as never))).toBeInstanceOf(ArgumentError);
    }
    for (const busyPollTimeoutUs of [-1, 1.5, 2 ** 32, Number.NaN, '5', 5n]) {
      expect(errorOf(() => registerNapi(ring, { busyPollTimeoutUs: busyPollTimeoutUs as number, preferBusyPoll: true }))).toBeInstanceOf(ArgumentError);
    }
    for (const preferBusyPoll of [1, 'true', null, undefined]) {
      expect(errorOf(() => registerNapi(ring, { busyPollTimeoutUs: 10, preferBusyPoll: preferBusyPoll as unknown as boolean }))).toBeInstanceOf(ArgumentError);
    }
    // Nothing reached the kernel: the settings are still off.
    expect(unregisterNapi(ring)).toEqual({ busyPollTimeoutUs: 0, preferBusyPoll: false });
    let reads = 0;
    const lying = {
      get busyPollTimeoutUs(): number {
        reads++;
        return reads === 1 ? 30 : -1;
      },
      preferBusyPoll: false,
    };
    registerNapi(ring, lying);
    expect(reads).toBe(1);
    expect(unregisterNapi(ring)).toEqual({ busyPollTimeoutUs: 30, preferBusyPoll: false });
  });

  it.skipIf(!HAS_NAPI)(`an IOPOLL ring is refused with EINVAL, and the message says why${NEEDS}`, () => {
    const ring = newRing({ entries: 8, iopoll: true });
    const err = errorOf(() => registerNapi(ring, { busyPollTimeoutUs: 10, preferBusyPoll: false }));
    expect(err).toBeInstanceOf(IoUringError);
    expect(err!.code).toBe('EINVAL');
    expect(err!.message).toMatch(/IOPOLL/);
  });

  it.skipIf(HAS_NAPI)('a kernel older than 6.9 refuses with EINVAL naming Linux 6.9 (skipped: this kernel has NAPI registration)', () => {
    const ring = newRing();
    const err = errorOf(() => registerNapi(ring, { busyPollTimeoutUs: 10, preferBusyPoll: false }));
    expect(err).toBeInstanceOf(IoUringError);
    expect(err!.code).toBe('EINVAL');
    expect(err!.message).toMatch(/Linux 6\.9/);
  });

  it('a closed ring, or something that is not a ring, is refused', () => {
    const ring = new IoUring({ entries: 2 });
    ring.close();
    expect(errorOf(() => registerNapi(ring, { busyPollTimeoutUs: 10, preferBusyPoll: false }))).toBeInstanceOf(RingStateError);
    expect(errorOf(() => unregisterNapi(ring))).toBeInstanceOf(RingStateError);
    expect(errorOf(() => unregisterNapi({} as never))).toBeInstanceOf(ArgumentError);
  });
});
