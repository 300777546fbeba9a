/**
 * generated/constants.ts: the opcode enum, every named enum and every flag set of the spec,
 * each name also exported on its own under its C spelling.
 *
 * Enums are frozen objects plus a type of their values rather than TypeScript `enum`s: a
 * `const enum` cannot be used by consumers compiling with isolatedModules and vanishes from
 * the JavaScript, and a regular `enum` adds a reverse mapping (so `Object.keys` lists numbers
 * too) and is not erasable syntax (Node's type stripping refuses it). A frozen object keeps
 * literal types, works as a value at run time, and iterates cleanly.
 */
import { carriedNames } from '../spec/carried.js';
import type { Constant, EnumMember, Spec } from '../spec/types.js';
import { maskOf } from './model.js';
import { commonPrefix, docText, pascalCase, shortKeys } from './names.js';
import { fileHeader, type Inputs, printSource, withCategory } from './source.js';

export interface ConstantsResult {
  text: string;
  /** Exported names, for collision checks against the other files. */
  exported: string[];
  constants: number;
  enums: number;
  flagSets: number;
  masks: Map<string, bigint>;
}

const MAX_SAFE = 2n ** 53n - 1n;

/** `IoringOp` for the opcode enum, as the project's API names it; PascalCase of the tag otherwise. */
export function enumObjectName(tag: string): string {
  return tag === 'io_uring_op' ? 'IoringOp' : pascalCase(tag);
}

/** A literal for `value`: a number where exact, else a bigint; hex where the header thinks in bits. */
export function formatValue(value: bigint, expr?: string): string {
  const hex = value >= 0n && (value >= 0x10000n || (expr !== undefined && /0x|<<|\||~|&/i.test(expr)));
  const digits = hex ? `0x${value.toString(16)}` : value.toString();
  return value > MAX_SAFE || value < -MAX_SAFE ? `${digits}n` : digits;
}

/** The name of the exported mask of a flag set (`SqeFlags` → `SqeFlagsMask`). */
export function maskName(setName: string): string {
  return `${setName}Mask`;
}

interface Named {
  name: string;
  value: bigint;
  expr: string | undefined;
  doc: string | undefined;
  where: string;
  origin: string;
}

export function emitConstants(spec: Spec, inputs: Inputs): ConstantsResult {
  const out: string[] = [];
  const exported: string[] = [];
  const emitted = new Set<string>();
  const masks = new Map<string, bigint>();

  const constantByName = new Map<string, Constant>(spec.constants.map((c) => [c.name, c]));
  const memberByName = new Map<string, { member: EnumMember; tag: string | null; file: string }>();
  for (const e of spec.enums) for (const m of e.members) memberByName.set(m.name, { member: m, tag: e.name, file: e.file });

  const describe = (name: string): Named => {
    const c = constantByName.get(name);
    if (c) return { name, value: BigInt(c.value), expr: c.expr, doc: c.doc, where: `${c.file}:${c.line}`, origin: `\`#define ${name} ${c.expr}\`` };
    const m = memberByName.get(name);
    if (m) {
      return {
        name,
        value: BigInt(m.member.value),
        expr: m.member.expr,
        doc: m.member.doc,
        where: `${m.file}:${m.member.line}`,
        origin: `\`${name}${m.member.expr ? ` = ${m.member.expr}` : ''}\`, member of ${m.tag === null ? 'an anonymous enum' : `\`enum ${m.tag}\``}`,
      };
    }
    throw new Error(`flag set member ${name} is neither a constant nor an enum member of the spec`);
  };

  const carried = carriedNames(spec);
  const carriedNote = (name: string): string[] =>
    carried?.names.has(name) ? [`Not in the ${carried.header} header this build was generated from: carried over from the spec of Linux ${carried.from} (UAPI values never change once released).`] : [];

  const emitSingle = (n: Named): void => {
    if (emitted.has(n.name)) return;
    emitted.add(n.name);
    exported.push(n.name);
    const docs = [`${n.origin} (${n.where}) = ${n.value}`, ...(n.doc ? [docText(n.doc)] : []), ...carriedNote(n.name)];
    out.push(`/**\n${docs.map((d) => d.split('\n').map((l) => ` * ${l}`.trimEnd()).join('\n')).join('\n *\n')}\n */\nexport const ${n.name} = ${formatValue(n.value, n.expr)};`);
  };

  const objectLiteral = (entries: readonly Named[], keys: Map<string, string>): string =>
    `Object.freeze({\n${entries.map((e) => `  /** {@link ${e.name}} */\n  ${keys.get(e.name) ?? e.name}: ${e.name},`).join('\n')}\n} as const)`;

  const block = (lines: string[]): string => `/**\n${lines.map((d) => d.split('\n').map((l) => ` * ${l}`.trimEnd()).join('\n')).join('\n *\n')}\n */`;

  // Named enums, the opcode enum first.
  const named = spec.enums.filter((e) => e.name !== null).sort((a, b) => Number(b.name === 'io_uring_op') - Number(a.name === 'io_uring_op'));
  for (const e of named) {
    const tag = e.name as string;
    const members = e.members.map((m) => describe(m.name));
    for (const m of members) emitSingle(m);
    const obj = enumObjectName(tag);
    const keys = shortKeys(members.map((m) => m.name), [commonPrefix(members.map((m) => m.name))]);
    const docs = [
      `\`enum ${tag}\` (${e.file}:${e.line}) as a frozen object: member names without their common prefix.`,
      ...(e.doc ? [docText(e.doc)] : []),
      ...(tag === 'io_uring_op'
        ? ['The opcodes this build knows; the running kernel may know fewer (ask its probe) or more (use `prepRaw`). `LAST` is the count, not an opcode.']
        : []),
    ];
    exported.push(obj);
    out.push(`${block(docs)}\nexport const ${obj} = ${objectLiteral(members, keys)};`);
    out.push(`/** A value of {@link ${obj}}. */\nexport type ${obj} = (typeof ${obj})[keyof typeof ${obj}];`);
  }

  // Flag sets: each member on its own, then the set, then its mask.
  for (const set of spec.flagSets) {
    const members = set.members.map(describe);
    for (const m of members) emitSingle(m);
    const keys = shortKeys(members.map((m) => m.name), set.prefixes ?? [commonPrefix(members.map((m) => m.name))]);
    const docs = [
      `${set.name}: ${docText(set.description)}`,
      [
        set.field ? `Used in \`${set.field}\`.` : '',
        set.prefixes && set.prefixes.length > 0 ? `Names: ${set.prefixes.map((p) => `\`${p}*\``).join(', ')}.` : '',
        set.auto ? 'Grouped automatically by prefix (the extractor has no rule for these names yet).' : '',
        set.kind === 'values' ? 'Values, not bits: no mask.' : '',
        set.counts ? `${set.counts.map((c) => `\`${c}\``).join(', ')} ${set.counts.length === 1 ? 'is a count or shift' : 'are counts or shifts'}, not ${set.counts.length === 1 ? 'a flag' : 'flags'}: left out of the mask.` : '',
      ].filter((s) => s !== '').join(' '),
    ].filter((s) => s !== '');
    exported.push(set.name);
    out.push(`${block(docs)}\nexport const ${set.name} = ${objectLiteral(members, keys)};`);
    // Only sets of bits have a mask, and counts in them (`FOO_MAX = 16`) stay out of it.
    const mask = set.kind === 'bits' ? maskOf(members.filter((m) => !(set.counts ?? []).includes(m.name)).map((m) => [m.name, m.value])) : 0n;
    if (mask !== 0n) {
      masks.set(set.name, mask);
      exported.push(maskName(set.name));
      out.push(`/** Every bit {@link ${set.name}} defines (shift counts and sentinels left out): what \`checkFlags\` accepts. */\nexport const ${maskName(set.name)} = 0x${mask.toString(16)};`);
    }
  }

  // Anything no flag set claims still gets exported: nothing is dropped.
  const rest = [
    ...spec.constants.map((c) => c.name),
    ...spec.enums.filter((e) => e.name === null).flatMap((e) => e.members.map((m) => m.name)),
  ].filter((n) => !emitted.has(n));
  if (rest.length > 0) {
    out.push('// Names no flag set groups.');
    for (const n of rest) emitSingle(describe(n));
  }

  exported.push('KNOWN_MASKS');
  out.push(
    `/** The mask of every flag set by name, for \`checkFlags\` and for tools that print unknown bits. */\nexport const KNOWN_MASKS = Object.freeze({\n${[...masks.keys()]
      .map((s) => `  /** Every bit {@link ${s}} defines: {@link ${maskName(s)}}. */\n  ${s}: ${maskName(s)},`)
      .join('\n')}\n} as const);`,
  );

  const header = fileHeader(spec, inputs, 'opcodes, enums, flag sets and constants');
  const intro = '/**\n * Opcodes, enums, flag sets and every numeric constant of the io_uring UAPI headers.\n *\n * @module\n */';
  const text = withCategory(printSource(header, [intro, out.join('\n\n')]), 'Constants');
  const names = new Set<string>();
  for (const n of exported) {
    if (names.has(n)) throw new Error(`constants.ts would export ${n} twice (a flag set, enum or mask name clashes with another name)`);
    names.add(n);
  }
  return {
    text,
    exported,
    constants: spec.constants.length,
    enums: named.length,
    flagSets: spec.flagSets.length,
    masks,
  };
}

