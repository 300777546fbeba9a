/**
 * NOP round trips: the ring owns user_data (`sqe.id`, returned as `cqe.id`) and hands the
 * caller's own tag (`sqe.userData`) back unchanged, for batches of every size.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { IORING_OP_NOP } from '../../generated/constants.js';
import { prepNop } from '../../generated/ops.js';
import { IoUring } from '../../src/ring/ring.js';
import { drain } from './helpers.js';

const rings: IoUring[] = [];
function ring(entries: number): IoUring {
  const r = new IoUring({ entries });
  rings.push(r);
  return r;
}
afterEach(() => {
  for (const r of rings.splice(0)) r.close();
});

describe('NOP round trips', () => {
  it('hands back strings, objects, numbers and undefined as userData, and cqe.id === sqe.id', () => {
    const r = ring(8);
    const obj = { kind: 'object tag', n: 42 };
    const sym = Symbol('tag');
    const tags: unknown[] = ['a string tag', obj, 12345.5, -1, 0, sym, undefined, null];
    const expected = new Map<number, unknown>();
    for (const tag of tags) {
      const sqe = r.getSqe()!;
      prepNop(sqe);
      if (tag !== undefined) sqe.userData = tag;
      expect(sqe.userData).toBe(tag);
      expected.set(sqe.id, tag);
    }
    expect(new Set(expected.keys()).size).toBe(tags.length); // ids are unique among live ops
    expect(r.submitAndWait(tags.length)).toBe(tags.length);
    const cqes = drain(r);
    expect(cqes).toHaveLength(tags.length);
    for (const c of cqes) {
      expect(expected.has(c.id)).toBe(true);
      expect(c.userData).toBe(expected.get(c.id)); // identity: the very object, not a copy
      expect(c.res).toBe(0);
      expect(c.opcode).toBe(IORING_OP_NOP);
      expect(c.extra).toBeNull();
      expected.delete(c.id);
    }
    expect(expected.size).toBe(0);
    expect(r.inFlight).toBe(0);
  });

  it('reports the NOP through the Cqe object: opName, more, bufferId, error(), raw user_data words', () => {
    const r = ring(4);
    const sqe = r.getSqe()!;
    prepNop(sqe);
    sqe.userData = 'x';
    const id = sqe.id;
    r.submitAndWait(1);
    let seen = 0;
    r.forEachCqe((c) => {
      seen++;
      expect(c.id).toBe(id);
      expect(c.opName).toBe('nop');
      expect(c.more).toBe(false);
      expect(c.bufferId).toBe(-1);
      expect(c.error()).toBeNull();
      // The raw words are the op id: low word = slot, high word = tag bit | generation.
      expect(c.userDataLo).toBe(id % 2 ** 32);
      expect((c.userDataHi & 0x7fffffff) * 2 ** 32 + c.userDataLo).toBe(id);
      expect(c.userDataHi >>> 31).toBe(1);
    });
    expect(seen).toBe(1);
  });

  for (const batch of [1, 8, 32]) {
    it(`batch of ${batch}: one submit, ${batch} CQEs, each tag exactly once`, () => {
      const r = ring(32);
      const want = new Map<number, string>();
      for (let i = 0; i < batch; i++) {
        const sqe = r.getSqe()!;
        prepNop(sqe);
        sqe.userData = `nop #${i}`;
        want.set(sqe.id, `nop #${i}`);
      }
      expect(r.staged).toBe(batch);
      expect(r.submitAndWait(batch)).toBe(batch);
      expect(r.staged).toBe(0);
      expect(r.cqReady).toBe(batch);
      const got = drain(r);
      expect(got.map((c) => c.userData)).toEqual([...want.values()]); // NOPs complete in order
      for (const c of got) expect(want.get(c.id)).toBe(c.userData);
      expect(r.inFlight).toBe(0);
      expect(r.cqReady).toBe(0);
    });
  }

  it('more NOPs than the SQ holds (200 through an 8-entry SQ), submitting whenever getSqe() says full', () => {
    const r = ring(8);
    expect(r.params.sqEntries).toBe(8);
    const total = 200;
    const seen = new Map<number, number>(); // tag -> times seen
    const idOfTag = new Map<number, number>();
    let submits = 0;
    const reap = (): void => {
      r.forEachCqe((c) => {
        const tag = c.userData as number;
        expect(idOfTag.get(tag)).toBe(c.id);
        seen.set(tag, (seen.get(tag) ?? 0) + 1);
      });
    };
    for (let i = 0; i < total; i++) {
      let sqe = r.getSqe();
      if (sqe === null) {
        r.submitAndWait(1);
        submits++;
        reap();
        sqe = r.getSqe();
      }
      expect(sqe).not.toBeNull();
      prepNop(sqe!);
      sqe!.userData = i;
      idOfTag.set(i, sqe!.id);
    }
    r.submit();
    while (r.inFlight > 0) {
      reap();
      if (r.inFlight > 0) r.submitAndWait(1);
    }
    expect(submits).toBeGreaterThanOrEqual(Math.floor(total / 8) - 1);
    expect(seen.size).toBe(total);
    for (const [, n] of seen) expect(n).toBe(1);
    expect(r.inFlight).toBe(0);
  });

  it('ids of a reused slot differ (the generation changes), so a stale id never matches', () => {
    const r = ring(1);
    const ids: number[] = [];
    for (let i = 0; i < 5; i++) {
      const sqe = r.getSqe()!;
      prepNop(sqe);
      ids.push(sqe.id);
      r.submitAndWait(1);
      expect(drain(r).map((c) => c.id)).toEqual([ids[i]]);
    }
    expect(new Set(ids).size).toBe(5);
    for (const id of ids) expect(Number.isSafeInteger(id)).toBe(true);
  });
});
