import { describe, expect, it } from 'vitest';
import { diffSpecs, formatDiff, isEmptyDiff } from '../../codegen/extract/diff.js';
import { extractSpec } from '../../codegen/extract/extract.js';
import { headerDir } from './fixtures.js';
import { sharedHeaderDir } from './repo.js';

const OLD_H = `
enum io_uring_op {
	IORING_OP_NOP,
	IORING_OP_READV,
	IORING_OP_GONE,
	IORING_OP_LAST,
};
struct moving {
	__u32	a;
	__u32	b;
	union {
		__u32	c;
		struct {
			__u16	lo;
			__u16	hi;
		} parts;
	};
};
struct dropped { __u8 x; };
enum kinds { K_A, K_B };
#define IORING_SETUP_A	(1U << 0)
#define IORING_SETUP_B	(1U << 1)
#define IORING_CHANGES	(1U << 2)
#define IORING_LEAVES	1
`;

const NEW_H = `
enum io_uring_op {
	IORING_OP_NOP,
	IORING_OP_READV,
	IORING_OP_SHINY,
	IORING_OP_LAST,
};
struct moving {
	__u32	a;
	__u64	b;
	union {
		__u64	c;
		struct {
			__u16	lo;
			__u16	mid;
			__u32	hi;
		} parts;
	};
};
struct fresh { __u16 y; };
enum kinds { K_A, K_B = 5, K_C };
#define IORING_SETUP_A	(1U << 0)
#define IORING_SETUP_C	(1U << 2)
#define IORING_CHANGES	(1UL << 3)
#define IORING_NEWCOMER_X	7
`;

describe('spec diff', () => {
  const before = extractSpec(headerDir(OLD_H));
  const after = extractSpec(headerDir(NEW_H));
  const d = diffSpecs(before, after);

  it('reports opcodes added, removed and renumbered', () => {
    expect(d.opcodes).toEqual({
      added: [{ name: 'IORING_OP_SHINY', value: 2 }],
      removed: [{ name: 'IORING_OP_GONE', value: 2 }],
      renumbered: [],
    });
  });

  it('reports records added, removed and resized', () => {
    expect(d.records.added).toEqual([{ name: 'fresh', kind: 'struct', size: 2 }]);
    expect(d.records.removed).toEqual([{ name: 'dropped', kind: 'struct', size: 1 }]);
    expect(d.records.resized).toEqual([{ name: 'moving', kind: 'struct', from: { size: 12, align: 4 }, to: { size: 24, align: 8 } }]);
  });

  it('reports fields added, removed and moved, through anonymous members and by a.b paths', () => {
    expect(d.fields.added).toEqual([{ record: 'moving', path: 'parts.mid', offset: 18, size: 2, ctype: '__u16' }]);
    expect(d.fields.removed).toEqual([]);
    expect(d.fields.moved).toEqual([
      { record: 'moving', path: 'b', from: { offset: 4, size: 4, ctype: '__u32' }, to: { offset: 8, size: 8, ctype: '__u64' }, changed: ['offset', 'size', 'type'] },
      { record: 'moving', path: 'c', from: { offset: 8, size: 4, ctype: '__u32' }, to: { offset: 16, size: 8, ctype: '__u64' }, changed: ['offset', 'size', 'type'] },
      { record: 'moving', path: 'parts', from: { offset: 8, size: 4, ctype: 'struct' }, to: { offset: 16, size: 8, ctype: 'struct' }, changed: ['offset', 'size'] },
      { record: 'moving', path: 'parts.lo', from: { offset: 8, size: 2, ctype: '__u16' }, to: { offset: 16, size: 2, ctype: '__u16' }, changed: ['offset'] },
      { record: 'moving', path: 'parts.hi', from: { offset: 10, size: 2, ctype: '__u16' }, to: { offset: 20, size: 4, ctype: '__u32' }, changed: ['offset', 'size', 'type'] },
    ]);
  });

  it('reports constants added, removed and changed in value or type', () => {
    expect(d.constants.added.map((c) => c.name)).toEqual(['IORING_SETUP_C', 'IORING_NEWCOMER_X']);
    expect(d.constants.removed.map((c) => c.name)).toEqual(['IORING_SETUP_B', 'IORING_LEAVES']);
    expect(d.constants.changed).toEqual([{ name: 'IORING_CHANGES', from: { value: '4', ctype: 'unsigned int' }, to: { value: '8', ctype: 'unsigned long' } }]);
  });

  it('reports flag-set membership and automatic sets', () => {
    expect(d.flagSets.changed).toEqual([{ name: 'SetupFlags', added: ['IORING_SETUP_C'], removed: ['IORING_SETUP_B'] }]);
    expect(d.flagSets.added.map((s) => [s.name, s.auto])).toEqual([['Newcomer', true]]);
    expect(d.flagSets.removed.map((s) => s.name)).toEqual(['Leaves']);
    expect(d.flagSets.autoInNew).toEqual(['Changes', 'Newcomer']);
  });

  it('reports enum members added and renumbered', () => {
    expect(d.enums.changed).toEqual([{ name: 'kinds', added: [{ name: 'K_C', value: 6 }], removed: [], renumbered: [{ name: 'K_B', from: 1, to: 5 }] }]);
  });

  it('prints a readable report', () => {
    const text = formatDiff(d);
    expect(text).toContain('+ IORING_OP_SHINY = 2');
    expect(text).toContain('- IORING_OP_GONE (was 2)');
    expect(text).toContain('~ struct moving: size 12 -> 24, align 4 -> 8');
    expect(text).toContain('+ moving.parts.mid: offset 18, 2 bytes, __u16');
    expect(text).toContain('~ moving.b (offset, size, type): offset 4, 4 bytes, __u32 -> offset 8, 8 bytes, __u64');
    expect(text).toContain('~ IORING_CHANGES: 4 (unsigned int) -> 8 (unsigned long)');
    expect(text).toContain('~ SetupFlags: +IORING_SETUP_C -IORING_SETUP_B');
    expect(text).toContain('~ enum kinds: +K_C = 6, K_B 1 -> 5');
  });

  it('says so when nothing changed', () => {
    const same = diffSpecs(after, after);
    expect(isEmptyDiff(same)).toBe(true);
    expect(formatDiff(same)).toMatch(/No changes\.\n$/);
  });

  it('shows what Linux 6.12 -> 7.2 changed', (ctx) => {
    const [from, to] = [sharedHeaderDir('6.12'), sharedHeaderDir('7.2')];
    if (from === undefined || to === undefined) {
      console.warn('skipping: ../shared/headers/linux-6.12 or linux-7.2 not found');
      ctx.skip();
      return;
    }
    const real = diffSpecs(extractSpec(from), extractSpec(to));
    expect(real.opcodes.added.map((o) => o.name)).toEqual([
      'IORING_OP_RECV_ZC', 'IORING_OP_EPOLL_WAIT', 'IORING_OP_READV_FIXED', 'IORING_OP_WRITEV_FIXED',
      'IORING_OP_PIPE', 'IORING_OP_NOP128', 'IORING_OP_URING_CMD128',
    ]);
    expect(real.opcodes.removed).toEqual([]);
    const sqeAdded = real.fields.added.filter((f) => f.record === 'io_uring_sqe').map((f) => f.path);
    expect(sqeAdded).toEqual(expect.arrayContaining(['zcrx_ifq_idx', 'write_stream', 'attr_ptr', 'attr_type_mask', 'pipe_flags']));
    expect(real.fields.moved.filter((f) => f.record === 'io_uring_sqe')).toEqual([]);
    expect(real.records.resized.map((r) => r.name)).not.toContain('io_uring_sqe');
    expect(real.flagSets.changed.find((s) => s.name === 'SetupFlags')!.added).toContain('IORING_SETUP_SQ_REWIND');
    expect(formatDiff(real)).toContain('+ io_uring_sqe.attr_ptr: offset 48, 8 bytes, __u64');
  });
});
