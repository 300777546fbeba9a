/**
 * Indexes over a validated spec that the emitters share: records by name, the flattened
 * fields of a record (anonymous members reached by name, as in C), and the value of every
 * constant and enum member by name.
 */
import { isSentinel } from '../spec/carried.js';
import type { ArraySpec, FieldType, NamedRecord, OpsValue, ScalarType, Spec } from '../spec/types.js';

export { flattenFields, type FlatField } from '../spec/flatten.js';
export { isSentinel } from '../spec/carried.js';

export function isScalar(t: FieldType): t is ScalarType {
  return t.kind === 'scalar';
}

export { isInline } from '../spec/flatten.js';

export function isRef(t: FieldType): t is { kind: 'record'; ref: string } {
  return t.kind === 'record' && 'ref' in t;
}

export function isFlexible(a: ArraySpec | undefined): a is { flexible: true; spelling: '[]' | '[0]' | '__DECLARE_FLEX_ARRAY' } {
  return a !== undefined && 'flexible' in a;
}

export function arrayLength(a: ArraySpec | undefined): number | null {
  return a !== undefined && 'length' in a ? a.length : null;
}

/** Name → value for every constant and every enum member of the spec. */
export class SpecIndex {
  readonly records = new Map<string, NamedRecord>();
  readonly values = new Map<string, bigint>();
  readonly opcodes = new Map<string, number>();
  readonly flagSetNames = new Set<string>();

  constructor(readonly spec: Spec) {
    for (const r of spec.records) this.records.set(r.name, r);
    for (const c of spec.constants) this.values.set(c.name, BigInt(c.value));
    for (const e of spec.enums) for (const m of e.members) this.values.set(m.name, BigInt(m.value));
    const op = spec.enums.find((e) => e.name === 'io_uring_op');
    for (const m of op?.members ?? []) if (!isSentinel(m.name)) this.opcodes.set(m.name, m.value);
    for (const s of spec.flagSets) this.flagSetNames.add(s.name);
  }

  /** The value of an ops.json value (integer, name, or names ORed), or the names the spec lacks. */
  resolve(value: OpsValue): { value: bigint } | { missing: string[] } {
    if (typeof value === 'number') return { value: BigInt(value) };
    const names = typeof value === 'string' ? [value] : value;
    const missing = names.filter((n) => !this.values.has(n));
    if (missing.length > 0) return { missing };
    return { value: names.reduce((acc, n) => acc | (this.values.get(n) as bigint), 0n) };
  }

  /** Known bits of a flag set or enum, or null when the spec has neither by that name. */
  knownBits(setName: string): bigint | null {
    const set = this.spec.flagSets.find((s) => s.name === setName);
    if (set) return maskOf(set.members.filter((m) => !(set.counts ?? []).includes(m)).map((m) => [m, this.values.get(m) ?? 0n]));
    const en = this.spec.enums.find((e) => e.name === setName);
    if (en) return maskOf(en.members.map((m) => [m.name, BigInt(m.value)]));
    return null;
  }
}


/**
 * The bits a flag set defines: every member that is a u32 bit pattern, leaving out shift
 * counts and sentinels (a shift of 16 is not bit 4).
 */
export function maskOf(members: readonly (readonly [string, bigint])[]): bigint {
  let mask = 0n;
  for (const [name, value] of members) {
    if (value <= 0n || value > 0xffffffffn) continue;
    if (/_SHIFT$|_BIT$/.test(name) || isSentinel(name)) continue;
    mask |= value;
  }
  return mask;
}

/** The record that holds an SQE: `io_uring_sqe`. */
export function sqeRecord(index: SpecIndex): NamedRecord {
  const r = index.records.get('io_uring_sqe');
  if (!r) throw new Error('the spec has no struct io_uring_sqe');
  return r;
}
