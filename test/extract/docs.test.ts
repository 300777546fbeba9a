import { describe, expect, it } from 'vitest';
import { commentLines, foldDoc } from '../../codegen/extract/docs.js';
import { extractSpec, findField } from '../../codegen/extract/extract.js';
import { lex } from '../../codegen/extract/lexer.js';
import { headerDir } from './fixtures.js';

const DOCS_H = `/*
 * File header: not a doc of anything.
 */
#ifndef LINUX_IO_URING_H
#define LINUX_IO_URING_H

/*
 * A record
 *   with a doc block.
 */
struct documented {
	__u32	len;		/* trailing doc */
	/* doc above */
	__u32	flags;
	/* pack this */
	union {
		/* inner above */
		__u16	idx;
		__u16	group;	/* inner trailing */
	} __attribute__((packed));
	__u64	no_doc;
};

/*
 * sqe->flags
 */
/* use fixed fileset */
#define FOO_FIXED	(1U << 0)
/* issue after inflight IO */
#define FOO_DRAIN	(1U << 1)

/*
 * io_uring_setup() flags
 */
#define BAR_A	(1U << 0)	/* a's doc */
#define BAR_B	(1U << 1)	/* b's doc */
/*
 * A long doc for one define,
 * over two lines.
 */
#define BAR_C	(1U << 2)
#define BAR_D	(1U << 3)	/* d's doc */

/*
 * POLL_ADD flags. Note that the command flags
 * are stored in sqe->len.
 *
 * BAZ_ADD_MULTI	Multishot poll. Sets IORING_CQE_F_MORE if
 *			the poll handler will continue.
 *
 * BAZ_UPDATE		Update existing poll request.
 * BAZ_TIMEOUT_IMMEDIATE:	If set, sqe->addr
 *				holds nanoseconds.
 * BAZ_LONE_NAME
 *				Text on the next line.
 */
#define BAZ_ADD_MULTI		(1U << 0)
#define BAZ_UPDATE_EVENTS	(1U << 1)
#define BAZ_UPDATE_USER_DATA	(1U << 2)
#define BAZ_TIMEOUT_IMMEDIATE	(1U << 3)
#define BAZ_LONE_NAME		(1U << 4)

/*
 * cq_ring->flags
 */

/* disable eventfd notifications */
#define QUX_EVENTFD_DISABLED	(1U << 0)

/*
 * Magic offsets
 */
#define OFF_A	0ULL
#define OFF_B	0x8000000ULL

/* worker categories */
enum wq {
	WQ_BOUND,	/* bound */
	/* unbound ones */
	WQ_UNBOUND,
};

#endif
`;

describe('comment cleaning', () => {
  it('strips delimiters and the * gutter, and folds white space', () => {
    const { comments } = lex('/**\n * One\n *\ttwo  three\n */\n// line comment\n', 'x.h', 'linux/io_uring.h');
    expect(foldDoc(commentLines(comments[0]!))).toBe('One two three');
    expect(foldDoc(commentLines(comments[1]!))).toBe('line comment');
    expect(foldDoc(['', '  '])).toBeUndefined();
  });
});

describe('doc attachment', () => {
  const spec = extractSpec(headerDir(DOCS_H));
  const constantDoc = (name: string): string | undefined => spec.constants.find((c) => c.name === name)!.doc;
  const set = (member: string) => spec.flagSets.find((s) => s.members.includes(member))!;

  it('documents records and fields from the block above and the comment after', () => {
    const r = spec.records.find((x) => x.name === 'documented')!;
    expect(r.doc).toBe('A record with a doc block.');
    expect(findField(spec.records, 'documented.len')!.doc).toBe('trailing doc');
    expect(findField(spec.records, 'documented.flags')!.doc).toBe('doc above');
    expect(r.fields[2]!.doc).toBe('pack this'); // the anonymous union
    expect(findField(spec.records, 'documented.idx')!.doc).toBe('inner above');
    expect(findField(spec.records, 'documented.group')!.doc).toBe('inner trailing');
    expect(findField(spec.records, 'documented.no_doc')!.doc).toBeUndefined();
  });

  it('gives each define its own comment, not the group header above the group', () => {
    expect(constantDoc('FOO_FIXED')).toBe('use fixed fileset');
    expect(constantDoc('FOO_DRAIN')).toBe('issue after inflight IO');
    expect(constantDoc('BAR_A')).toBe("a's doc");
    expect(constantDoc('BAR_B')).toBe("b's doc");
    expect(constantDoc('BAR_C')).toBe('A long doc for one define, over two lines.');
    expect(constantDoc('BAR_D')).toBe("d's doc");
    expect(constantDoc('QUX_EVENTFD_DISABLED')).toBe('disable eventfd notifications');
    expect(constantDoc('OFF_A')).toBeUndefined();
  });

  it('reads NAME<tab>text tables, including prefix entries, colons and text on the next line', () => {
    expect(constantDoc('BAZ_ADD_MULTI')).toBe('Multishot poll. Sets IORING_CQE_F_MORE if the poll handler will continue.');
    expect(constantDoc('BAZ_UPDATE_EVENTS')).toBe('Update existing poll request.');
    expect(constantDoc('BAZ_UPDATE_USER_DATA')).toBe('Update existing poll request.');
    expect(constantDoc('BAZ_TIMEOUT_IMMEDIATE')).toBe('If set, sqe->addr holds nanoseconds.');
    expect(constantDoc('BAZ_LONE_NAME')).toBe('Text on the next line.');
  });

  it('turns group headers into flag-set descriptions', () => {
    expect(set('FOO_FIXED').description).toBe('sqe->flags');
    expect(set('BAR_A').description).toBe('io_uring_setup() flags');
    expect(set('BAZ_ADD_MULTI').description).toBe('POLL_ADD flags. Note that the command flags are stored in sqe->len.');
    expect(set('QUX_EVENTFD_DISABLED').description).toBe('cq_ring->flags');
    expect(set('OFF_A').description).toBe('Magic offsets');
  });

  it('documents enums and their members', () => {
    const e = spec.enums.find((x) => x.name === 'wq')!;
    expect(e.doc).toBe('worker categories');
    expect(e.members.map((m) => m.doc)).toEqual(['bound', 'unbound ones']);
  });

  it('never uses the file header comment', () => {
    expect(JSON.stringify(spec)).not.toContain('File header');
  });
});
