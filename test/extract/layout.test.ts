/**
 * Layout and enum values of small headers, with the numbers worked out by hand from the C
 * rules, and (where a compiler exists) confirmed by compiling the same header.
 */
import { describe, expect, it } from 'vitest';
import { extractSpec, findField } from '../../codegen/extract/extract.js';
import type { Field, NamedRecord, Spec } from '../../codegen/spec/types.js';
import { compilerMismatches, haveCompiler, headerDir } from './fixtures.js';

const LAYOUT_H = `
#ifndef LINUX_IO_URING_H
#define LINUX_IO_URING_H
#include <linux/types.h>
#include <linux/stddef.h>
#include <linux/time_types.h>

struct packed_union_inside {
	__u8	c;
	union {
		__u16	a;
		__u16	b;
	} __attribute__((packed));
	__u16	d;
};

struct packed_whole {
	__u8		c;
	__aligned_u64	x;
	__u32		y;
} __attribute__((packed));

struct packed_plain {
	__u8	c;
	__u64	x;
} __attribute__((packed));

struct member_aligned {
	__u8	c;
	__u32	x __attribute__((aligned(16)));
};

struct __attribute__((aligned(8))) record_aligned {
	__u16	a;
};

struct flexible_tail {
	__u32	n;
	__u64	items[];
};

struct gnu_zero_in_union {
	__u8	op;
	union {
		__u64	addr;
		__u8	cmd[0];
	};
};

struct flex_macro {
	__u16	flags;
	__u16	nr;
	__DECLARE_FLEX_ARRAY(struct gnu_zero_in_union, entries);
};

struct nested_named {
	__u8	kind;
	union {
		struct {
			__u32	family;
			__be16	port;
		} inet;
		__u8	raw[12];
	};
	struct __kernel_timespec ts;
	long long	tail;
	unsigned short	us, us2;
};

#endif
`;

function rec(spec: Spec, name: string): NamedRecord {
  const r = spec.records.find((x) => x.name === name);
  if (!r) throw new Error(`no record ${name}`);
  return r;
}

function field(spec: Spec, path: string): Field {
  const f = findField(spec.records, path);
  if (!f) throw new Error(`no field ${path}`);
  return f;
}

describe('layout calculator (x86_64 LP64)', () => {
  const dir = headerDir(LAYOUT_H);
  const spec = extractSpec(dir);

  it('places a packed union inside a struct at any byte, and aligns what follows by itself', () => {
    const r = rec(spec, 'packed_union_inside');
    expect([r.size, r.align, r.packed]).toEqual([6, 2, false]);
    const union = r.fields[1]!;
    expect(union.name).toBeNull();
    expect(union.ctype).toBe('union');
    expect([union.offset, union.size, union.align]).toEqual([1, 2, 1]);
    expect(union.type.kind === 'record' && 'record' in union.type && union.type.record.packed).toBe(true);
    expect(field(spec, 'packed_union_inside.b').offset).toBe(0); // relative to the union
    expect(field(spec, 'packed_union_inside.d').offset).toBe(4);
  });

  it('packs a whole struct, except __aligned_u64 members (a macro putting aligned(8) on the member)', () => {
    const r = rec(spec, 'packed_whole');
    expect([r.size, r.align, r.packed]).toEqual([24, 8, true]);
    const x = field(spec, 'packed_whole.x');
    expect([x.offset, x.align, x.alignedAttribute, x.ctype]).toEqual([8, 8, 8, '__aligned_u64']);
    expect(field(spec, 'packed_whole.y')).toMatchObject({ offset: 16, align: 1 });
  });

  it('packs plain members to byte alignment', () => {
    expect(rec(spec, 'packed_plain')).toMatchObject({ size: 9, align: 1, packed: true });
    expect(field(spec, 'packed_plain.x')).toMatchObject({ offset: 1, align: 1 });
  });

  it('honours aligned(N) on a member and on a record', () => {
    expect(field(spec, 'member_aligned.x')).toMatchObject({ offset: 16, align: 16, alignedAttribute: 16 });
    expect([rec(spec, 'member_aligned').size, rec(spec, 'member_aligned').align]).toEqual([32, 16]);
    expect([rec(spec, 'record_aligned').size, rec(spec, 'record_aligned').align]).toEqual([8, 8]);
  });

  it('gives flexible arrays no size but their element alignment, in all three spellings', () => {
    expect(field(spec, 'flexible_tail.items')).toMatchObject({ offset: 8, size: 0, align: 8, array: { flexible: true, spelling: '[]' } });
    expect([rec(spec, 'flexible_tail').size]).toEqual([8]);
    expect(field(spec, 'gnu_zero_in_union.cmd')).toMatchObject({ size: 0, array: { flexible: true, spelling: '[0]' } });
    expect(rec(spec, 'gnu_zero_in_union').size).toBe(16);
    expect(field(spec, 'flex_macro.entries')).toMatchObject({
      offset: 8, size: 0, align: 8, type: { kind: 'record', ref: 'gnu_zero_in_union' }, array: { flexible: true, spelling: '__DECLARE_FLEX_ARRAY' },
    });
    expect([rec(spec, 'flex_macro').size, rec(spec, 'flex_macro').align]).toEqual([8, 8]);
  });

  it('lays out named members of unnamed types, external records and several declarators', () => {
    const inet = field(spec, 'nested_named.inet');
    expect([inet.ctype, inet.offset, inet.size, inet.align]).toEqual(['struct', 0, 8, 4]);
    expect(field(spec, 'nested_named.inet.port')).toMatchObject({ offset: 4, type: { kind: 'scalar', bits: 16, signed: false, endian: 'big' } });
    expect(field(spec, 'nested_named.raw')).toMatchObject({ size: 12, array: { length: 12 } });
    expect(field(spec, 'nested_named.ts')).toMatchObject({ offset: 16, size: 16, ctype: 'struct __kernel_timespec', type: { kind: 'record', ref: '__kernel_timespec' } });
    expect(rec(spec, '__kernel_timespec')).toMatchObject({ external: true, file: 'linux/time_types.h', size: 16, align: 8 });
    expect(spec.records[0]!.name).toBe('__kernel_timespec'); // external records come first
    expect(field(spec, 'nested_named.tail')).toMatchObject({ offset: 32, ctype: 'long long', type: { signed: true } });
    expect(field(spec, 'nested_named.us2')).toMatchObject({ offset: 42, ctype: 'unsigned short' });
    expect(rec(spec, 'nested_named').size).toBe(48);
  });

  it.skipIf(!haveCompiler)('agrees with the C compiler on every value of this header', () => {
    expect(compilerMismatches(spec, dir)).toEqual([]);
  });
});

const ENUM_H = `
enum implicit {
	A,
	B = 5,
	C,
	D = A + 10,
	E,
	F = -3,
	G,
};

enum {
	HIGH = 1U << 31,
	AFTER_HIGH_MINUS = HIGH - 1,
};

enum trailing_no_comma { ONLY = 7 };

#define USES_ENUM	(1U << C)
#define NEGATIVE	G
`;

describe('enums', () => {
  const dir = headerDir(ENUM_H);
  const spec = extractSpec(dir);

  it('counts implicit values from the previous member, including after negative ones', () => {
    const e = spec.enums.find((x) => x.name === 'implicit')!;
    expect(e.members.map((m) => [m.name, m.value])).toEqual([['A', 0], ['B', 5], ['C', 6], ['D', 10], ['E', 11], ['F', -3], ['G', -2]]);
    expect(e.members.map((m) => m.expr)).toEqual([undefined, '5', undefined, 'A + 10', undefined, '-3', undefined]);
  });

  it('keeps 1U << 31 style values and anonymous enums', () => {
    const anon = spec.enums.find((x) => x.name === null)!;
    expect(anon.members.map((m) => [m.name, m.value, m.expr])).toEqual([['HIGH', 2147483648, '1U << 31'], ['AFTER_HIGH_MINUS', 2147483647, 'HIGH - 1']]);
    expect(spec.enums.find((x) => x.name === 'trailing_no_comma')!.members).toEqual([{ name: 'ONLY', value: 7, expr: '7', line: 17 }]);
  });

  it('evaluates defines that refer to enum constants', () => {
    expect(spec.constants.find((c) => c.name === 'USES_ENUM')).toMatchObject({ value: '64', ctype: 'unsigned int', expr: '(1U << C)' });
    expect(spec.constants.find((c) => c.name === 'NEGATIVE')).toMatchObject({ value: '-2', ctype: 'int' });
  });

  it.skipIf(!haveCompiler)('agrees with the C compiler', () => {
    expect(compilerMismatches(spec, dir)).toEqual([]);
  });
});

describe('preprocessor subset', () => {
  it('follows includes of io_uring sub-headers, skips __cplusplus and inactive branches, evaluates #if', () => {
    const dir = headerDir(
      `#ifndef LINUX_IO_URING_H
#define LINUX_IO_URING_H
#include <linux/types.h>
#include <linux/io_uring/sub.h>
#ifdef __cplusplus
extern "C" {
#endif
#define BASE 4
#if defined(BASE) && BASE > 3
#define PICKED 1
#elif 1
#define PICKED 2
#else
#define PICKED 3
#endif
#if 0
#pragma anything goes in a skipped group
#endif
#ifdef __KERNEL__
#define NEVER 1
#endif
#define CONTINUED (1 + \\
	2)
#undef BASE
#ifdef __cplusplus
}
#endif
#endif
`,
      {
        'linux/io_uring/sub.h': '#ifndef SUB_H\n#define SUB_H\n#define FROM_SUB 9\n#endif\n',
        'linux/io_uring/zz_other.h': '#ifndef ZZ_H\n#define ZZ_H\nstruct zz { __u32 a; };\n#endif\n',
      },
    );
    const spec = extractSpec(dir);
    expect(spec.constants.map((c) => [c.name, c.value])).toEqual([['FROM_SUB', '9'], ['PICKED', '1'], ['CONTINUED', '3']]);
    expect(spec.constants.find((c) => c.name === 'FROM_SUB')!.file).toBe('linux/io_uring/sub.h');
    expect(spec.provenance.headers.map((h) => h.path)).toEqual(['linux/io_uring.h', 'linux/io_uring/sub.h', 'linux/io_uring/zz_other.h', 'linux/version.h']);
    expect(spec.records.map((r) => r.name)).toEqual(['epoll_event', 'zz']);
    expect(spec.provenance).toMatchObject({ linuxVersionCode: 393728, release: '6.2.0' });
  });
});
