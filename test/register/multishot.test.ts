import { once } from 'node:events';
import { writeSync } from 'node:fs';
import { connect } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { IORING_TIMEOUT_MULTISHOT } from '../../generated/constants.js';
import { prepCancel, prepMultishotAccept, prepPollMultishot, prepPollRemove, prepRead, prepTimeout } from '../../generated/ops.js';
import { OwnedFd } from '../../src/abi/owned-fd.js';
import { BufferRing } from '../../src/register/provided.js';
import { IoUring } from '../../src/ring/ring.js';
import { makePipe, requireOp, requireOpFeature, run, tcpListener, waitUntil } from './helpers.js';

const POLLIN = 0x1;
const ETIME = -62;
const ECANCELED = -125;
const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0).reverse()) c();
});

function newRing(entries = 32): IoUring {
  const ring = new IoUring({ entries });
  cleanups.push(() => ring.close());
  return ring;
}

describe('multishot ops stay alive until their last CQE', () => {
  it('accept: one CQE per connection with F_MORE, then -ECANCELED without it', async () => {
    const ring = newRing();
    const listener = tcpListener();
    cleanups.push(() => listener.fd.close());
    const peer = new Uint8Array(16); // pinned until the final CQE: the kernel writes each peer here
    const sqe = ring.getSqeOrThrow();
    prepMultishotAccept(sqe, listener.fd, peer);
    sqe.userData = 'acceptor';
    const id = sqe.id;
    ring.submit();
    const clients = [];
    for (let i = 0; i < 4; i++) {
      const c = connect(listener.port, '127.0.0.1');
      cleanups.push(() => c.destroy());
      await once(c, 'connect');
      clients.push(c);
    }
    const cqes = waitUntil(ring, (all) => all.length >= 4);
    expect(cqes.map((c) => [c.id, c.userData, c.more])).toEqual(Array(4).fill([id, 'acceptor', true]));
    for (const c of cqes) OwnedFd.fromResult(c.res, 'accept').close();
    expect(peer[0]).toBe(2); // AF_INET, written by the kernel
    expect(ring.inFlight).toBe(1);
    prepCancel(ring.getSqeOrThrow(), id);
    const end = waitUntil(ring, (all) => all.some((c) => c.id === id));
    const last = end.find((c) => c.id === id)!;
    expect([last.res, last.more]).toEqual([ECANCELED, false]);
    expect(ring.inFlight).toBe(0);
  });

  it('poll: fires on each readiness with F_MORE until removed', () => {
    const ring = newRing();
    const pipe = makePipe();
    cleanups.push(() => { pipe.read.close(); pipe.write.close(); });
    const sqe = ring.getSqeOrThrow();
    prepPollMultishot(sqe, pipe.read, POLLIN);
    const id = sqe.id;
    ring.submit();
    const scratch = Buffer.alloc(16);
    for (let i = 0; i < 3; i++) {
      writeSync(pipe.write.fd, 'x');
      const [c] = waitUntil(ring, (all) => all.length >= 1);
      expect(c!.id).toBe(id);
      expect(c!.res & POLLIN).toBe(POLLIN);
      expect(c!.more).toBe(true);
      expect(run(ring, (s) => prepRead(s, pipe.read, scratch, 16, -1)).res).toBe(1);
    }
    prepPollRemove(ring.getSqeOrThrow(), id);
    const end = waitUntil(ring, (all) => all.some((c) => c.id === id));
    expect(end.find((c) => c.id === id)!.res).toBe(ECANCELED);
    expect(ring.inFlight).toBe(0);
  });

  it('read_multishot: each write lands in a provided buffer; EOF ends it', (ctx) => {
    const ring = newRing();
    requireOp(ctx, ring, 'READ_MULTISHOT');
    const pipe = makePipe();
    cleanups.push(() => { pipe.read.close(); pipe.write.close(); });
    const pool = BufferRing.register(ring, { entries: 4, bufferSize: 64 });
    const sqe = ring.getSqeOrThrow();
    pool.prepReadMultishot(sqe, pipe.read);
    const id = sqe.id;
    ring.submit();
    const seen: string[] = [];
    for (const word of ['one', 'two', 'three']) {
      writeSync(pipe.write.fd, word);
      const [c] = waitUntil(ring, (all) => all.length >= 1);
      expect([c!.id, c!.more]).toEqual([id, true]);
      seen.push(pool.takeCopy(c!).toString());
    }
    expect(seen).toEqual(['one', 'two', 'three']);
    pipe.write.close();
    const end = waitUntil(ring, (all) => all.some((c) => !c.more));
    expect(end.at(-1)!.res).toBe(0);
    expect(ring.inFlight).toBe(0);
    expect(pool.heldByUser).toBe(0);
  });

  it('timeout: IORING_TIMEOUT_MULTISHOT (Linux 6.4) fires `count` times, F_MORE on all but the last', (ctx) => {
    const ring = newRing();
    const sqe = ring.getSqeOrThrow();
    prepTimeout(sqe, { sec: 0, nsec: 20_000_000 }, 3, IORING_TIMEOUT_MULTISHOT);
    const id = sqe.id;
    const t0 = performance.now();
    const cqes = waitUntil(ring, (all) => all.some((c) => !c.more));
    const elapsed = performance.now() - t0;
    requireOpFeature(ctx, 'IORING_TIMEOUT_MULTISHOT', [6, 4], cqes[0]!.res);
    expect(cqes.map((c) => [c.id, c.res, c.more])).toEqual([
      [id, ETIME, true],
      [id, ETIME, true],
      [id, ETIME, false],
    ]);
    expect(elapsed).toBeGreaterThanOrEqual(55);
    expect(ring.inFlight).toBe(0);
  });
});
