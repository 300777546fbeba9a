/**
 * What changed between two specs: the report a user reads after a kernel upgrade. Opcodes
 * (enum io_uring_op) come first; then records, fields (offsets taken from the start of the
 * named record, through anonymous members, so a field that moved inside a union shows up),
 * constants, flag sets and the other enums.
 */
import type { EnumDef, Field, FlagSet, NamedRecord, Spec } from '../spec/types.js';

const OPCODE_ENUM = 'io_uring_op';

export interface NamedValue {
  name: string;
  value: number | string;
}

/** A field as the report shows it. */
export interface FieldSummary {
  offset: number;
  size: number;
  ctype: string;
  /** `[4]`, `[]`, `[0]` or `__DECLARE_FLEX_ARRAY`; absent for a plain member. */
  array?: string;
}

export interface FieldChange {
  record: string;
  /** `name`, or `a.b` for a member of a named member of unnamed type. */
  path: string;
}

export interface SpecDiff {
  from: { release: string; linuxVersionCode: number; sha256: string };
  to: { release: string; linuxVersionCode: number; sha256: string };
  opcodes: { added: NamedValue[]; removed: NamedValue[]; renumbered: { name: string; from: number; to: number }[] };
  records: {
    added: { name: string; kind: string; size: number }[];
    removed: { name: string; kind: string; size: number }[];
    resized: { name: string; kind: string; from: { size: number; align: number }; to: { size: number; align: number } }[];
  };
  fields: {
    added: (FieldChange & FieldSummary)[];
    removed: (FieldChange & FieldSummary)[];
    /** Offset, size or type changed. */
    moved: (FieldChange & { from: FieldSummary; to: FieldSummary; changed: ('offset' | 'size' | 'type')[] })[];
  };
  constants: {
    added: (NamedValue & { ctype: string })[];
    removed: (NamedValue & { ctype: string })[];
    changed: { name: string; from: { value: string; ctype: string }; to: { value: string; ctype: string } }[];
  };
  flagSets: {
    added: { name: string; auto: boolean; members: string[] }[];
    removed: { name: string; members: string[] }[];
    changed: { name: string; added: string[]; removed: string[] }[];
    /** Sets of the new spec that no curated rule covers. */
    autoInNew: string[];
  };
  enums: {
    added: { name: string; members: NamedValue[] }[];
    removed: { name: string; members: NamedValue[] }[];
    changed: { name: string; added: NamedValue[]; removed: NamedValue[]; renumbered: { name: string; from: number; to: number }[] }[];
  };
}

function summarize(f: Field, offset: number): FieldSummary {
  const s: FieldSummary = { offset, size: f.size, ctype: f.ctype };
  if (f.array !== undefined) s.array = 'length' in f.array ? `[${f.array.length}]` : f.array.spelling === '__DECLARE_FLEX_ARRAY' ? '__DECLARE_FLEX_ARRAY' : f.array.spelling;
  return s;
}

/** Every field reachable by name, keyed by path, with offsets from the start of the record. */
export function flattenFields(fields: readonly Field[], prefix = '', base = 0, out = new Map<string, FieldSummary>()): Map<string, FieldSummary> {
  for (const f of fields) {
    const inline = f.type.kind === 'record' && 'record' in f.type ? f.type.record : undefined;
    if (f.name === null) {
      if (inline) flattenFields(inline.fields, prefix, base + f.offset, out);
      continue;
    }
    const path = prefix === '' ? f.name : `${prefix}.${f.name}`;
    out.set(path, summarize(f, base + f.offset));
    if (inline) flattenFields(inline.fields, path, base + f.offset, out);
  }
  return out;
}

function membersOf(enums: readonly EnumDef[], name: string): Map<string, number> | undefined {
  const e = enums.find((x) => x.name === name);
  return e ? new Map(e.members.map((m) => [m.name, m.value])) : undefined;
}

function compareMembers(a: Map<string, number>, b: Map<string, number>): { added: NamedValue[]; removed: NamedValue[]; renumbered: { name: string; from: number; to: number }[] } {
  return {
    added: [...b].filter(([n]) => !a.has(n)).map(([name, value]) => ({ name, value })),
    removed: [...a].filter(([n]) => !b.has(n)).map(([name, value]) => ({ name, value })),
    renumbered: [...b].filter(([n, v]) => a.has(n) && a.get(n) !== v).map(([name, to]) => ({ name, from: a.get(name)!, to })),
  };
}

// Anonymous enums have no name to match them by; their members are compared as one pool.
const ANONYMOUS = '(anonymous)';

function enumsByName(enums: readonly EnumDef[]): Map<string, Map<string, number>> {
  const out = new Map<string, Map<string, number>>();
  for (const e of enums) {
    if (e.name === OPCODE_ENUM) continue;
    const key = e.name ?? ANONYMOUS;
    const members = out.get(key) ?? new Map<string, number>();
    for (const m of e.members) members.set(m.name, m.value);
    out.set(key, members);
  }
  return out;
}

/**
 * Compares two specs.
 * @param before the old spec (e.g. the committed one)
 * @param after the new spec (e.g. freshly extracted)
 */
export function diffSpecs(before: Spec, after: Spec): SpecDiff {
  const prov = (s: Spec): SpecDiff['from'] => ({ release: s.provenance.release, linuxVersionCode: s.provenance.linuxVersionCode, sha256: s.provenance.sha256 });

  const opsBefore = membersOf(before.enums, OPCODE_ENUM) ?? new Map<string, number>();
  const opsAfter = membersOf(after.enums, OPCODE_ENUM) ?? new Map<string, number>();

  const recBefore = new Map(before.records.map((r) => [r.name, r]));
  const recAfter = new Map(after.records.map((r) => [r.name, r]));
  const records: SpecDiff['records'] = { added: [], removed: [], resized: [] };
  const fields: SpecDiff['fields'] = { added: [], removed: [], moved: [] };
  for (const r of after.records) if (!recBefore.has(r.name)) records.added.push({ name: r.name, kind: r.kind, size: r.size });
  for (const r of before.records) if (!recAfter.has(r.name)) records.removed.push({ name: r.name, kind: r.kind, size: r.size });
  for (const r of after.records) {
    const old: NamedRecord | undefined = recBefore.get(r.name);
    if (old === undefined) continue;
    if (old.size !== r.size || old.align !== r.align) {
      records.resized.push({ name: r.name, kind: r.kind, from: { size: old.size, align: old.align }, to: { size: r.size, align: r.align } });
    }
    const fa = flattenFields(old.fields);
    const fb = flattenFields(r.fields);
    for (const [path, s] of fb) if (!fa.has(path)) fields.added.push({ record: r.name, path, ...s });
    for (const [path, s] of fa) if (!fb.has(path)) fields.removed.push({ record: r.name, path, ...s });
    for (const [path, to] of fb) {
      const from = fa.get(path);
      if (from === undefined) continue;
      const changed: ('offset' | 'size' | 'type')[] = [];
      if (from.offset !== to.offset) changed.push('offset');
      if (from.size !== to.size) changed.push('size');
      if (from.ctype !== to.ctype || from.array !== to.array) changed.push('type');
      if (changed.length > 0) fields.moved.push({ record: r.name, path, from, to, changed });
    }
  }

  const constBefore = new Map(before.constants.map((c) => [c.name, c]));
  const constAfter = new Map(after.constants.map((c) => [c.name, c]));
  const constants: SpecDiff['constants'] = {
    added: after.constants.filter((c) => !constBefore.has(c.name)).map((c) => ({ name: c.name, value: c.value, ctype: c.ctype })),
    removed: before.constants.filter((c) => !constAfter.has(c.name)).map((c) => ({ name: c.name, value: c.value, ctype: c.ctype })),
    changed: after.constants
      .filter((c) => constBefore.has(c.name) && (constBefore.get(c.name)!.value !== c.value || constBefore.get(c.name)!.ctype !== c.ctype))
      .map((c) => ({ name: c.name, from: { value: constBefore.get(c.name)!.value, ctype: constBefore.get(c.name)!.ctype }, to: { value: c.value, ctype: c.ctype } })),
  };

  const setsBefore = new Map(before.flagSets.map((s) => [s.name, s]));
  const setsAfter = new Map(after.flagSets.map((s) => [s.name, s]));
  const flagSets: SpecDiff['flagSets'] = {
    added: after.flagSets.filter((s) => !setsBefore.has(s.name)).map((s: FlagSet) => ({ name: s.name, auto: s.auto === true, members: s.members })),
    removed: before.flagSets.filter((s) => !setsAfter.has(s.name)).map((s) => ({ name: s.name, members: s.members })),
    changed: after.flagSets
      .filter((s) => setsBefore.has(s.name))
      .map((s) => {
        const old = new Set(setsBefore.get(s.name)!.members);
        const now = new Set(s.members);
        return { name: s.name, added: s.members.filter((m) => !old.has(m)), removed: [...old].filter((m) => !now.has(m)) };
      })
      .filter((c) => c.added.length > 0 || c.removed.length > 0),
    autoInNew: after.flagSets.filter((s) => s.auto === true).map((s) => s.name),
  };

  const eb = enumsByName(before.enums);
  const ea = enumsByName(after.enums);
  const toValues = (m: Map<string, number>): NamedValue[] => [...m].map(([name, value]) => ({ name, value }));
  const enums: SpecDiff['enums'] = {
    added: [...ea].filter(([n]) => !eb.has(n)).map(([name, m]) => ({ name, members: toValues(m) })),
    removed: [...eb].filter(([n]) => !ea.has(n)).map(([name, m]) => ({ name, members: toValues(m) })),
    changed: [...ea]
      .filter(([n]) => eb.has(n))
      .map(([name, m]) => ({ name, ...compareMembers(eb.get(name)!, m) }))
      .filter((c) => c.added.length + c.removed.length + c.renumbered.length > 0),
  };

  return { from: prov(before), to: prov(after), opcodes: compareMembers(opsBefore, opsAfter), records, fields, constants, flagSets, enums };
}

/** True when the diff holds no change at all (provenance aside). */
export function isEmptyDiff(d: SpecDiff): boolean {
  const lists = [
    d.opcodes.added, d.opcodes.removed, d.opcodes.renumbered,
    d.records.added, d.records.removed, d.records.resized,
    d.fields.added, d.fields.removed, d.fields.moved,
    d.constants.added, d.constants.removed, d.constants.changed,
    d.flagSets.added, d.flagSets.removed, d.flagSets.changed,
    d.enums.added, d.enums.removed, d.enums.changed,
  ];
  return lists.every((l) => l.length === 0);
}

const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`;
const describeField = (s: FieldSummary): string => `offset ${s.offset}, ${plural(s.size, 'byte')}, ${s.ctype}${s.array === undefined ? '' : ` ${s.array}`}`;

/** The diff as the text report `npm run spec -- --diff` prints. */
export function formatDiff(d: SpecDiff): string {
  const out: string[] = [];
  const same = d.from.sha256 === d.to.sha256 ? ' (same linux/io_uring.h)' : '';
  out.push(`Spec changes: Linux ${d.from.release} (${d.from.linuxVersionCode}) -> ${d.to.release} (${d.to.linuxVersionCode})${same}`);
  if (isEmptyDiff(d)) {
    out.push('', 'No changes.');
    return `${out.join('\n')}\n`;
  }
  const section = (title: string, counts: string, body: string[]): void => {
    if (body.length === 0) return;
    out.push('', `${title}: ${counts}`, ...body.map((l) => `  ${l}`));
  };

  section(
    'Opcodes (enum io_uring_op)',
    `${d.opcodes.added.length} added, ${d.opcodes.removed.length} removed, ${d.opcodes.renumbered.length} renumbered`,
    [
      ...d.opcodes.added.map((o) => `+ ${o.name} = ${o.value}`),
      ...d.opcodes.removed.map((o) => `- ${o.name} (was ${o.value})`),
      ...d.opcodes.renumbered.map((o) => `~ ${o.name}: ${o.from} -> ${o.to}`),
    ],
  );
  section(
    'Records',
    `${d.records.added.length} added, ${d.records.removed.length} removed, ${d.records.resized.length} resized`,
    [
      ...d.records.added.map((r) => `+ ${r.kind} ${r.name} (${r.size} bytes)`),
      ...d.records.removed.map((r) => `- ${r.kind} ${r.name} (was ${r.size} bytes)`),
      ...d.records.resized.map((r) => `~ ${r.kind} ${r.name}: size ${r.from.size} -> ${r.to.size}, align ${r.from.align} -> ${r.to.align}`),
    ],
  );
  section(
    'Fields of records present in both',
    `${d.fields.added.length} added, ${d.fields.removed.length} removed, ${d.fields.moved.length} moved or retyped`,
    [
      ...d.fields.added.map((f) => `+ ${f.record}.${f.path}: ${describeField(f)}`),
      ...d.fields.removed.map((f) => `- ${f.record}.${f.path}: was ${describeField(f)}`),
      ...d.fields.moved.map((f) => `~ ${f.record}.${f.path} (${f.changed.join(', ')}): ${describeField(f.from)} -> ${describeField(f.to)}`),
    ],
  );
  section(
    'Constants',
    `${d.constants.added.length} added, ${d.constants.removed.length} removed, ${d.constants.changed.length} changed`,
    [
      ...d.constants.added.map((c) => `+ ${c.name} = ${c.value} (${c.ctype})`),
      ...d.constants.removed.map((c) => `- ${c.name} (was ${c.value})`),
      ...d.constants.changed.map((c) => `~ ${c.name}: ${c.from.value} (${c.from.ctype}) -> ${c.to.value} (${c.to.ctype})`),
    ],
  );
  section(
    'Flag sets',
    `${d.flagSets.added.length} added, ${d.flagSets.removed.length} removed, ${d.flagSets.changed.length} changed`,
    [
      ...d.flagSets.added.map((s) => `+ ${s.name}${s.auto ? ' (auto: no rule in codegen/extract/flag-sets.ts)' : ''}: ${s.members.join(', ')}`),
      ...d.flagSets.removed.map((s) => `- ${s.name}: ${s.members.join(', ')}`),
      ...d.flagSets.changed.map((s) => `~ ${s.name}: ${[...s.added.map((m) => `+${m}`), ...s.removed.map((m) => `-${m}`)].join(' ')}`),
    ],
  );
  section(
    'Enums',
    `${d.enums.added.length} added, ${d.enums.removed.length} removed, ${d.enums.changed.length} changed`,
    [
      ...d.enums.added.map((e) => `+ enum ${e.name}: ${e.members.map((m) => `${m.name} = ${m.value}`).join(', ')}`),
      ...d.enums.removed.map((e) => `- enum ${e.name}: ${plural(e.members.length, 'member')}`),
      ...d.enums.changed.map((e) => `~ enum ${e.name}: ${[
        ...e.added.map((m) => `+${m.name} = ${m.value}`),
        ...e.removed.map((m) => `-${m.name}`),
        ...e.renumbered.map((m) => `${m.name} ${m.from} -> ${m.to}`),
      ].join(', ')}`),
    ],
  );
  if (d.flagSets.autoInNew.length > 0) {
    out.push('', `Automatic flag sets in the new spec (add rules for them): ${d.flagSets.autoInNew.join(', ')}`);
  }
  return `${out.join('\n')}\n`;
}
