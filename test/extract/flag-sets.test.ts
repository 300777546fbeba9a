import { describe, expect, it } from 'vitest';
import { extractSpec } from '../../codegen/extract/extract.js';
import { FLAG_SET_RULES, groupFlagSets, ruleFor } from '../../codegen/extract/flag-sets.js';
import { headerDir } from './fixtures.js';
import { sharedHeaderDir } from './repo.js';

describe('flag-set rules', () => {
  it('lets the longest matching prefix win', () => {
    expect(ruleFor('IORING_REGISTER_SRC_REGISTERED')?.name).toBe('CloneBuffersFlags');
    expect(ruleFor('IORING_REGISTER_FILES_SKIP')?.name).toBe('FilesUpdateValues');
    expect(ruleFor('IORING_REGISTER_BUFFERS')?.name).toBe('RegisterOps');
    expect(ruleFor('IORING_UNREGISTER_BUFFERS')?.name).toBe('RegisterOps');
    expect(ruleFor('IORING_LINK_TIMEOUT_UPDATE')?.name).toBe('TimeoutFlags');
    expect(ruleFor('IORING_CQE_BUFFER_SHIFT')?.name).toBe('CqeFlags');
    expect(ruleFor('IORING_CQE_F_MORE')?.name).toBe('CqeFlags');
    expect(ruleFor('IORING_RECV_MULTISHOT')?.name).toBe('RecvSendFlags');
    expect(ruleFor('IORING_SEND_VECTORIZED')?.name).toBe('RecvSendFlags');
    expect(ruleFor('IORING_SQ_NEED_WAKEUP')?.name).toBe('SqRingFlags');
    expect(ruleFor('IORING_OFF_PBUF_SHIFT')?.name).toBe('MmapOffsets');
  });

  it('uses a suffix to split bit numbers from flags with the same prefix', () => {
    expect(ruleFor('IOSQE_IO_LINK_BIT')?.name).toBe('SqeFlagBits');
    expect(ruleFor('IOSQE_IO_LINK')?.name).toBe('SqeFlags');
  });

  it('has unique set names', () => {
    const names = FLAG_SET_RULES.map((r) => r.name);
    expect(new Set(names).size).toBe(names.length);
  });
});

describe('grouping', () => {
  it('puts names no rule covers into automatic sets named after their common prefix', () => {
    const sets = groupFlagSets(
      [
        { name: 'IORING_SETUP_IOPOLL', sourceGroup: 'a' },
        { name: 'IORING_WIDGET_SPIN', sourceGroup: 'b', header: 'widget modes' },
        { name: 'IORING_WIDGET_STOP', sourceGroup: 'b' },
        { name: 'LONELY', sourceGroup: 'c' },
        { name: 'OTHER_THING_X', sourceGroup: 'c' },
        { name: 'IORING_SETUP_SQPOLL', sourceGroup: 'd' },
      ],
      (path) => path === 'io_uring_params.flags',
    );
    expect(sets).toEqual([
      { name: 'SetupFlags', description: FLAG_SET_RULES.find((r) => r.name === 'SetupFlags')!.description, prefixes: ['IORING_SETUP_'], field: 'io_uring_params.flags', members: ['IORING_SETUP_IOPOLL', 'IORING_SETUP_SQPOLL'] },
      { name: 'Widget', description: 'widget modes', prefixes: ['IORING_WIDGET_'], auto: true, members: ['IORING_WIDGET_SPIN', 'IORING_WIDGET_STOP'] },
      expect.objectContaining({ name: 'Lonely', prefixes: ['LONELY'], auto: true, members: ['LONELY'] }),
      expect.objectContaining({ name: 'OtherThing', prefixes: ['OTHER_THING_'], auto: true, members: ['OTHER_THING_X'] }),
    ]);
  });

  it('omits a rule\'s field when the spec has no such field', () => {
    const [set] = groupFlagSets([{ name: 'IORING_NOP_FILE', sourceGroup: 'a' }], () => false);
    expect(set).not.toHaveProperty('field');
  });

  it('puts every constant and anonymous-enum member of a header in exactly one set, in source order', () => {
    const spec = extractSpec(headerDir(`
#define IORING_SETUP_IOPOLL	(1U << 0)
#define IORING_SETUP_SQPOLL	(1U << 1)
enum { IOSQE_FIXED_FILE_BIT, IOSQE_IO_DRAIN_BIT };
#define IOSQE_FIXED_FILE	(1U << IOSQE_FIXED_FILE_BIT)
enum named { NAMED_A, NAMED_B };
#define MYSTERY_ONE	1
#define MYSTERY_TWO	2
`));
    expect(spec.flagSets.map((s) => [s.name, s.auto ?? false, s.members])).toEqual([
      ['SetupFlags', false, ['IORING_SETUP_IOPOLL', 'IORING_SETUP_SQPOLL']],
      ['SqeFlagBits', false, ['IOSQE_FIXED_FILE_BIT', 'IOSQE_IO_DRAIN_BIT']],
      ['SqeFlags', false, ['IOSQE_FIXED_FILE']],
      ['Mystery', true, ['MYSTERY_ONE', 'MYSTERY_TWO']],
    ]);
  });

  const dirs = (['6.1', '6.12', '7.2'] as const).map((r) => [r, sharedHeaderDir(r)] as const);
  it.for(dirs)('covers every name exactly once in the real %s headers, with no automatic set', ([release, dir], ctx) => {
    if (dir === undefined) {
      console.warn(`skipping: ../shared/headers/linux-${release} not found`);
      ctx.skip();
      return;
    }
    const spec = extractSpec(dir);
    const expected = [...spec.constants.map((c) => c.name), ...spec.enums.filter((e) => e.name === null).flatMap((e) => e.members.map((m) => m.name))].sort();
    const grouped = spec.flagSets.flatMap((s) => s.members).sort();
    expect(grouped).toEqual(expected);
    expect(spec.flagSets.filter((s) => s.auto).map((s) => s.name)).toEqual([]);
  });
});

describe('bits or values', () => {
  const spec = extractSpec(
    headerDir(
      [
        '#define IORING_FUTURE_COPY_MAX\t\t16',
        '#define IORING_FUTURE_COPY_F_SRC\t(1U << 0)',
        '#define IORING_FUTURE_COPY_F_DST\t(1U << 1)',
        '#define IORING_FUTURE_COPY_F_ALL\t(IORING_FUTURE_COPY_F_SRC | IORING_FUTURE_COPY_F_DST)',
        'struct s { __u32 a; };',
        'enum {',
        '\tIORING_WIDGET_OP_A,',
        '\tIORING_WIDGET_OP_B,',
        '};',
        '#define IORING_GADGET_KIND_ONE\t1',
        '#define IORING_GADGET_KIND_THREE\t3',
        '#define IORING_SETUP_A\t(1U << 0)',
        '#define IORING_SETUP_B\t(1U << 1)',
        '#define IORING_OFF_SQ_RING\t0ULL',
        '#define IORING_OFF_SQES\t0x10000000ULL',
        '',
      ].join('\n'),
    ),
  );
  const set = (name: string) => spec.flagSets.find((s) => s.name === name)!;

  it('keeps a count beside flags out of the flags (FutureCopy: MAX = 16 is not bit 4)', () => {
    expect(set('FutureCopy')).toMatchObject({ kind: 'bits', counts: ['IORING_FUTURE_COPY_MAX'], auto: true });
    expect(set('FutureCopy').members).toContain('IORING_FUTURE_COPY_MAX');
  });

  it('calls an enumeration, and values that are not single bits, values (no mask); flags bits; and a rule can say', () => {
    expect(set('WidgetOp').kind).toBe('values');
    expect(set('GadgetKind').kind).toBe('values');
    expect(set('SetupFlags')).toMatchObject({ kind: 'bits' });
    expect(set('SetupFlags').counts).toBeUndefined();
    expect(set('MmapOffsets').kind).toBe('values');
  });
});
