/**
 * Carry-over on an accepted downgrade (`npm run spec -- --header OLDER --allow-downgrade`).
 *
 * The runtime in src/ is written against the committed spec and imports names (opcodes, flags,
 * structs, fields) that only newer headers define. Linux UAPI values and layouts never change
 * once released (new fields only take reserved bytes), so when an older header replaces the
 * spec, the names it lacks can be kept from the spec it replaces without being wrong: they go
 * into the spec's `carried` section, apart from the header's own items (which stay exactly
 * what the extractor read, and are all the C cross-check compares). Codegen merges the two
 * ({@link effectiveSpec}); builders of carried opcodes refuse with UnsupportedOpError naming
 * the header, so a build from an older header never issues an op that header does not define.
 */
import { flattenFields } from './flatten.js';
import type { Carried, Constant, EnumDef, FlagSet, NamedRecord, Spec, SpecSource } from './types.js';

/** `IORING_OP_LAST`, `__IO_URING_QUERY_MAX`: bounds, not values. */
export function isSentinel(name: string): boolean {
  return /_LAST$|^__.*_MAX$/.test(name);
}

/** Reserved space a newer header may turn into named fields (`resv2` became `user_addr`). */
const RESERVED = /^_*(resv|pad|reserved|rsvd|__pad)\d*$/i;

export interface CarryOver {
  /** What the header lacks, to keep; undefined when it lacks nothing. */
  carried: Carried | undefined;
  /** Differences that make a carry-over wrong (a record resized, a field moved): the downgrade is refused. */
  conflicts: string[];
  /** Names the header defines with another value than the spec it replaces (the header's value is kept). */
  changed: string[];
  /** Counts for the message. */
  summary: { opcodes: string[]; records: string[]; fields: string[]; constants: number; enumMembers: number };
}

function source(spec: Spec): SpecSource {
  return { release: spec.provenance.release, linuxVersionCode: spec.provenance.linuxVersionCode, sha256: spec.provenance.sha256 };
}

/** Each name the spec defines (constants and enum members) with its value. */
function values(spec: Spec): Map<string, bigint> {
  const out = new Map<string, bigint>();
  for (const c of spec.constants) out.set(c.name, BigInt(c.value));
  for (const e of spec.enums) for (const m of e.members) out.set(m.name, BigInt(m.value));
  return out;
}

/**
 * What `next` (just extracted) lacks of `previous` (the spec it replaces, carried items
 * included), and whether keeping it is sound.
 */
export function carryOver(previousSpec: Spec, next: Spec): CarryOver {
  const previous = effectiveSpec(previousSpec);
  const conflicts: string[] = [];
  const changed: string[] = [];
  const summary: CarryOver['summary'] = { opcodes: [], records: [], fields: [], constants: 0, enumMembers: 0 };
  const nextValues = values(next);

  const records: NamedRecord[] = [];
  for (const p of previous.records) {
    const h = next.records.find((r) => r.name === p.name);
    if (h === undefined) {
      records.push(p);
      summary.records.push(p.name);
      continue;
    }
    const place = (r: NamedRecord): Map<string, string> => new Map(flattenFields(r.fields).map((f) => [f.name, `${f.offset}+${f.field.size}`]));
    const [hp, pp] = [place(h), place(p)];
    const lacking = [...pp].filter(([name, at]) => hp.get(name) !== at && !RESERVED.test(name)).map(([name]) => name);
    if (lacking.length === 0) continue;
    if (h.size !== p.size) {
      conflicts.push(`${p.kind} ${p.name} is ${h.size} bytes in this header and ${p.size} in the spec it replaces`);
      continue;
    }
    const lost = [...hp].filter(([name, at]) => pp.get(name) !== at && !RESERVED.test(name)).map(([name]) => name);
    if (lost.length > 0) {
      conflicts.push(`${p.kind} ${p.name}: ${lost.join(', ')} ${lost.length === 1 ? 'is' : 'are'} placed differently in this header than in the spec it replaces`);
      continue;
    }
    records.push(p);
    summary.fields.push(...lacking.map((f) => `${p.name}.${f}`));
  }

  const enums: EnumDef[] = [];
  for (const e of previous.enums) {
    const h = e.name === null ? undefined : next.enums.find((x) => x.name === e.name);
    const missing = e.members.filter((m) => !nextValues.has(m.name));
    for (const m of e.members) {
      const v = nextValues.get(m.name);
      if (v !== undefined && v !== BigInt(m.value) && !isSentinel(m.name)) changed.push(`${m.name}: ${m.value} -> ${v}`);
    }
    if (h === undefined && e.name !== null) {
      // The whole named enum: src/ may use its object (IoUringRegisterOp) even when the header has the members elsewhere.
      enums.push(e);
      summary.enumMembers += missing.length;
      if (e.name === 'io_uring_op') summary.opcodes.push(...missing.filter((m) => !isSentinel(m.name)).map((m) => m.name));
      continue;
    }
    if (missing.length === 0) continue;
    const realMissing = missing.filter((m) => !isSentinel(m.name));
    // A bound (IORING_OP_LAST) follows the members carried into its enum.
    const bounds = realMissing.length > 0 ? e.members.filter((m) => isSentinel(m.name) && nextValues.has(m.name) && nextValues.get(m.name)! < BigInt(m.value)) : [];
    enums.push({ ...e, members: [...missing, ...bounds] });
    summary.enumMembers += missing.length;
    if (e.name === 'io_uring_op') summary.opcodes.push(...realMissing.map((m) => m.name));
  }

  const constants: Constant[] = [];
  for (const c of previous.constants) {
    const v = nextValues.get(c.name);
    if (v === undefined) {
      constants.push(c);
      summary.constants++;
    } else if (v !== BigInt(c.value)) {
      changed.push(`${c.name}: ${c.value} -> ${v}`);
    }
  }

  const grouped = new Set(next.flagSets.flatMap((s) => s.members));
  const flagSets: FlagSet[] = [];
  for (const s of previous.flagSets) {
    const members = s.members.filter((m) => !grouped.has(m));
    if (members.length === 0) continue;
    const { counts, ...rest } = s;
    const keptCounts = (counts ?? []).filter((m) => members.includes(m));
    flagSets.push({ ...rest, ...(keptCounts.length > 0 ? { counts: keptCounts } : {}), members });
  }

  const carried: Carried = {
    from: [...(previousSpec.carried?.from ?? []).filter((f) => f.sha256 !== previousSpec.provenance.sha256), source(previousSpec)],
    records,
    enums,
    constants,
    flagSets,
  };
  const empty = records.length + enums.length + constants.length + flagSets.length === 0;
  return { carried: empty ? undefined : carried, conflicts, changed, summary };
}

/**
 * The spec codegen works from: the header's own items with the carried ones merged in (a
 * carried record replaces the header's record of that name; carried enum members, constants
 * and flag-set members are added). A spec with nothing carried is returned as it is.
 */
export function effectiveSpec(spec: Spec): Spec {
  const c = spec.carried;
  if (c === undefined) return spec;
  const merged = mergeCarried(spec, c);
  headerOf.set(merged, spec);
  return merged;
}

/** Effective spec → the header's spec it was made from, so carriedNames can tell the two apart. */
const headerOf = new WeakMap<Spec, Spec>();

function mergeCarried(spec: Spec, c: Carried): Spec {
  const carriedRecords = new Map(c.records.map((r) => [r.name, r]));
  const records = [...spec.records.map((r) => carriedRecords.get(r.name) ?? r), ...c.records.filter((r) => !spec.records.some((h) => h.name === r.name))];
  const enums = spec.enums.map((e) => ({ ...e, members: [...e.members] }));
  for (const ce of c.enums) {
    const target = ce.name === null ? undefined : enums.find((e) => e.name === ce.name);
    if (target === undefined) {
      enums.push({ ...ce, members: [...ce.members] });
      continue;
    }
    for (const m of ce.members) {
      const i = target.members.findIndex((x) => x.name === m.name);
      if (i >= 0) target.members[i] = m;
      else target.members.push(m);
    }
    // Bounds last, as C writes them.
    target.members.sort((a, b) => Number(isSentinel(a.name)) - Number(isSentinel(b.name)));
  }
  const flagSets = spec.flagSets.map((s) => ({ ...s, members: [...s.members] }));
  for (const cs of c.flagSets) {
    const target = flagSets.find((s) => s.name === cs.name);
    if (target === undefined) flagSets.push({ ...cs, members: [...cs.members] });
    else {
      target.members.push(...cs.members.filter((m) => !target.members.includes(m)));
      if (cs.counts) target.counts = [...new Set([...(target.counts ?? []), ...cs.counts])];
    }
  }
  return { ...spec, records, enums, constants: [...spec.constants, ...c.constants], flagSets };
}

/** Names the spec carries rather than defines: for docs and for builders that must refuse. */
export interface CarriedNames {
  /** "Linux 6.1.187" */
  header: string;
  /** "7.2.13" */
  from: string;
  opcodes: Set<string>;
  names: Set<string>;
  records: Set<string>;
}

export function carriedNames(given: Spec): CarriedNames | undefined {
  const spec = headerOf.get(given) ?? given;
  const c = spec.carried;
  if (c === undefined) return undefined;
  const own = new Set([...spec.constants.map((x) => x.name), ...spec.enums.flatMap((e) => e.members.map((m) => m.name))]);
  const names = new Set([...c.constants.map((x) => x.name), ...c.enums.flatMap((e) => e.members.map((m) => m.name))].filter((n) => !own.has(n)));
  const opcodes = new Set(c.enums.filter((e) => e.name === 'io_uring_op').flatMap((e) => e.members.map((m) => m.name)).filter((n) => names.has(n) && !isSentinel(n)));
  return {
    header: `Linux ${spec.provenance.release}`,
    from: c.from.map((f) => f.release).join(', '),
    opcodes,
    names,
    records: new Set(c.records.map((r) => r.name)),
  };
}
