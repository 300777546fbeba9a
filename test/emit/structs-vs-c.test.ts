/**
 * The generated struct accessors against C: a C program compiled against the spec's own header (found
 * from its provenance) writes a
 * distinct value into every scalar field (array elements and nested records included) of every
 * record of the spec and dumps the bytes; the same values written through generated/structs.ts
 * must give the same bytes. Union members are written in the same order on both sides, so
 * overlapping fields end up the same way too.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { flattenFields, isFlexible, isInline, isRef, isScalar, SpecIndex, arrayLength } from '../../codegen/emit/model.js';
import { accessorNames, recordClassName } from '../../codegen/emit/structs.js';
import { loadSpec } from '../../codegen/spec/load.js';
import type { Field, NamedRecord, ScalarType, Spec } from '../../codegen/spec/types.js';
import { hostAbi } from '../../codegen/extract/abi.js';
import { specIncludes } from '../../codegen/extract/c-check.js';
import { recordsOn } from '../../codegen/spec/abi-layout.js';
import { cCompiler, compileAndRun, hex, REAL_SPEC, tempDir } from './helpers.js';

type Accessor = Record<string, unknown>;

interface Leaf {
  /** C lvalue below the record variable: `.sq_off.head`, `.resv[2]`. */
  cPath: string;
  type: ScalarType;
  value: bigint;
  /** Whether the TS side writes through the …Big form. */
  big: boolean;
  write: (top: Accessor) => void;
}

const TWO_53 = 2n ** 53n;

/** A value for the k-th leaf: distinct bytes, in range, sometimes negative for signed fields. */
function valueFor(k: number, t: ScalarType, big: boolean): bigint {
  let v = 0n;
  for (let j = 0; j < t.bits / 8; j++) v |= BigInt((k * 29 + j * 59 + 17) & 0xff || 0x5a) << BigInt(8 * j);
  if (t.bits === 64 && !big) v &= TWO_53 / 4n - 1n;
  if (t.signed) {
    v = BigInt.asIntN(t.bits, v);
    if (t.bits === 64 && !big && k % 2 === 0) v = -v;
  }
  return v;
}

function leavesOf(fields: readonly Field[], spec: SpecIndex, cPrefix: string, reach: (top: Accessor) => Accessor, counter: { k: number }): Leaf[] {
  const flat = flattenFields(fields);
  const names = accessorNames(flat);
  const out: Leaf[] = [];
  for (const ff of flat) {
    const n = names.get(ff.name);
    if (!n) throw new Error('no accessor names');
    const f = ff.field;
    if (isFlexible(f.array)) continue; // no storage in sizeof
    const length = arrayLength(f.array);
    const indices = length === null ? [null] : Array.from({ length }, (_, i) => i);
    for (const i of indices) {
      const cPath = `${cPrefix}.${ff.name}${i === null ? '' : `[${i}]`}`;
      if (isScalar(f.type)) {
        const t = f.type;
        const k = counter.k++;
        const big = t.bits === 64 && k % 3 === 1;
        const value = valueFor(k, t, big);
        const tsValue: number | bigint = big ? value : Number(value);
        const write = (top: Accessor): void => {
          const obj = reach(top);
          if (i === null) obj[big ? n.big : n.get] = tsValue;
          else (obj[n.arraySet] as (i: number, v: number | bigint) => void).call(obj, i, tsValue);
        };
        out.push({ cPath, type: t, value, big, write });
      } else {
        const body = isRef(f.type) ? (spec.records.get(f.type.ref) as NamedRecord).fields : isInline(f.type) ? f.type.record.fields : [];
        const child = (top: Accessor): Accessor => {
          const obj = reach(top);
          return (i === null ? obj[n.get] : (obj[n.arrayGet] as (i: number) => Accessor).call(obj, i)) as Accessor;
        };
        out.push(...leavesOf(body, spec, cPath, child, counter));
      }
    }
  }
  return out;
}

function cLiteral(v: bigint): string {
  return v < 0n ? `(-0x${(-v).toString(16)}LL)` : `0x${v.toString(16)}ULL`;
}

function cAssign(variable: string, leaf: Leaf): string {
  const lvalue = `${variable}${leaf.cPath}`;
  const raw = `(__typeof__(${lvalue}))(${cLiteral(leaf.value)})`;
  if (leaf.type.endian === 'big' && leaf.type.bits > 8) {
    return `${lvalue} = (__typeof__(${lvalue}))__builtin_bswap${leaf.type.bits}((__u${leaf.type.bits})${raw});`;
  }
  return `${lvalue} = ${raw};`;
}

const compiler = cCompiler();

describe.skipIf('skip' in compiler)("generated struct accessors against C (the spec's own header)", () => {
  let spec: Spec;
  let index: SpecIndex;
  let structs: Record<string, unknown>;
  beforeAll(async () => {
    spec = loadSpec(REAL_SPEC);
    index = new SpecIndex(spec);
    structs = (await import('../../generated/structs.js')) as Record<string, unknown>;
  });

  it('writes the same bytes as C into every scalar field of every record', () => {
    const cc = (compiler as { cc: string }).cc;
    const includes = specIncludes(spec);
    const cases: { name: string; size: number; leaves: Leaf[] }[] = [];
    const c: string[] = ['#include <stdio.h>', '#include <string.h>', '#include <linux/types.h>', ...includes, '',
      'static void dump(const char *name, const void *p, size_t n) {',
      '  const unsigned char *b = p;',
      '  printf("%s ", name);',
      '  for (size_t i = 0; i < n; i++) printf("%02x", b[i]);',
      '  printf("\\n");',
      '}', '', 'int main(void) {'];
    // This machine's layout of every record: the generated classes pick it by process.arch.
    for (const r of recordsOn(spec, hostAbi()!.name)) {
      const leaves = leavesOf(r.fields, index, '', (top) => top, { k: cases.length * 7 + 1 });
      cases.push({ name: r.name, size: r.size, leaves });
      c.push('  {', `    ${r.kind} ${r.name} s;`, '    memset(&s, 0, sizeof s);', ...leaves.map((l) => `    ${cAssign('s', l)}`), `    dump("${r.name}", &s, sizeof s);`, '  }');
    }
    c.push('  return 0;', '}', '');
    const out = compileAndRun(cc, c.join('\n'), (compiler as { headerDir: string }).headerDir, tempDir('structs-c'), 'structs');
    const fromC = new Map(out.trim().split('\n').map((line) => line.split(' ') as [string, string]));

    let bytes = 0;
    let fields = 0;
    for (const kase of cases) {
      const Cls = structs[recordClassName(kase.name)] as new (m: ArrayBufferView) => Accessor;
      expect(Cls, `class for ${kase.name}`).toBeTypeOf('function');
      const mem = new Uint8Array(kase.size);
      const acc = new Cls(mem);
      for (const leaf of kase.leaves) leaf.write(acc);
      expect(hex(mem), `${kase.name}: bytes written through the accessors`).toBe(fromC.get(kase.name));
      bytes += kase.size;
      fields += kase.leaves.length;
    }
    console.log(`structs vs C: ${cases.length} records, ${fields} scalar fields, ${bytes} bytes compared`);
    expect(cases.length).toBe(spec.records.length);
  });

  it('reads back what C wrote, numbers below 2^53 and bigints everywhere', () => {
    const sqe = new (structs.IoUringSqe as new (m: ArrayBufferView) => Accessor)(new Uint8Array(64));
    sqe.off = 2 ** 53 - 1;
    expect(sqe.off).toBe(2 ** 53 - 1);
    sqe.offBig = 2n ** 64n - 1n;
    expect(sqe.offBig).toBe(2n ** 64n - 1n);
    expect(() => sqe.off).toThrow(RangeError);
    expect(() => sqe.off).toThrow(/io_uring_sqe\.off/);
    expect(() => {
      sqe.len = -1;
    }).toThrow(/io_uring_sqe\.len/);
    expect(() => {
      sqe.opcode = 256;
    }).toThrow(/io_uring_sqe\.opcode/);
  });

  it('shares a DataView passed in, and respects offsets of views and bounds', () => {
    const Sqe = structs.IoUringSqe as new (m: ArrayBufferView | ArrayBufferLike, o?: number) => Accessor & { view: DataView; at(o: number): unknown; byteOffset: number };
    const dv = new DataView(new ArrayBuffer(256));
    const a = new Sqe(dv, 64);
    expect(a.view).toBe(dv);
    a.fd = 7;
    expect(dv.getInt32(68, true)).toBe(7);
    a.at(128);
    expect(a.byteOffset).toBe(128);
    expect(() => a.at(200)).toThrow(/byteOffset/);
    const buf = new Uint8Array(200);
    const b = new Sqe(buf.subarray(16), 0);
    b.opcode = 9;
    expect(buf[16]).toBe(9);
    expect(() => new Sqe(new Uint8Array(63))).toThrow(/io_uring_sqe/);
  });
});

if ('skip' in compiler) {
  const why = compiler.skip;
  console.warn(`struct accessors vs C skipped: ${why}`);
  it.skip(`struct accessors vs C: skipped because ${why}`, () => {});
}
