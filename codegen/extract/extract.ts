/**
 * From a header folder to a validated spec: preprocess the io_uring headers as one
 * translation unit, parse the declarations, evaluate the constants, lay out the records,
 * attach the comments and group the flags. Deterministic: the same headers give the same
 * bytes.
 */
import { readdirSync, existsSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { validateSpec } from '../spec/load.js';
import type { Constant, CType, EnumDef, Field, NamedRecord, Spec } from '../spec/types.js';
import { collectDocs } from './docs.js';
import { ExtractError } from './errors.js';
import { evaluate } from './evaluate.js';
import { groupFlagSets, type FlagCandidate } from './flag-sets.js';
import { EXTERNAL_RECORDS, KNOWN_TYPEDEFS, C_INTEGER_TYPES, type ScalarInfo } from './known-types.js';
import type { Token } from './lexer.js';
import { layoutRecord } from './layout.js';
import { parseDeclarations, type MemberAst, type RecordBodyAst } from './parse.js';
import { Preprocessor, readSource, type MacroDef } from './preprocess.js';

/** Recorded in provenance.extractor. */
export const EXTRACTOR_ID = 'tsuring codegen/extract (spec format 1)';

const SPEC_CTYPES: readonly string[] = ['int', 'unsigned int', 'long', 'unsigned long', 'long long', 'unsigned long long'];

/** The main header, and where the others live, relative to the header folder. */
export const MAIN_HEADER = 'linux/io_uring.h';
const SUB_HEADER_DIR = 'linux/io_uring';
const VERSION_HEADER = 'linux/version.h';

/**
 * The io_uring headers in the order the extractor reads them: linux/io_uring.h first (its
 * includes are read where they stand), then every other linux/io_uring/*.h, sorted.
 */
export function listSubHeaders(headerDir: string): string[] {
  const dir = join(headerDir, SUB_HEADER_DIR);
  if (!existsSync(dir)) return [];
  return readdirSync(dir).filter((f) => f.endsWith('.h')).sort().map((f) => `${SUB_HEADER_DIR}/${f}`);
}

interface VersionInfo {
  code: number;
  release: string;
}

function readVersion(headerDir: string): { version: VersionInfo; file: { path: string; sha256: string; lines: number } } {
  const path = join(headerDir, VERSION_HEADER);
  if (!existsSync(path)) throw new ExtractError({ file: path, line: 1, col: 1 }, `${VERSION_HEADER} not found: it gives the spec its LINUX_VERSION_CODE`);
  const pp = new Preprocessor(headerDir);
  pp.include(VERSION_HEADER, { allowFunctionLikeMacros: true, directivesOnly: true });
  const value = (name: string): number | undefined => {
    const m = pp.macros.get(name);
    if (m === undefined || m.functionLike) return undefined;
    const v = evaluate(pp.expand(m.body, new Set([name])), { identifier: () => undefined }, m.nameToken).value;
    return Number(v);
  };
  const code = value('LINUX_VERSION_CODE');
  if (code === undefined) throw new ExtractError({ file: path, line: 1, col: 1 }, 'LINUX_VERSION_CODE is not defined');
  const [major, patch, sub] = [value('LINUX_VERSION_MAJOR'), value('LINUX_VERSION_PATCHLEVEL'), value('LINUX_VERSION_SUBLEVEL')];
  const release = major !== undefined && patch !== undefined && sub !== undefined
    ? `${major}.${patch}.${sub}`
    : `${code >> 16}.${(code >> 8) & 255}.${code & 255}`;
  const src = readSource(headerDir, VERSION_HEADER);
  return { version: { code, release }, file: { path: VERSION_HEADER, sha256: src.sha256, lines: src.lines } };
}

/** Finds `record.a.b` in a spec's records, through anonymous members as C does. */
export function findField(records: readonly NamedRecord[], path: string): Field | undefined {
  const [recordName, ...names] = path.split('.');
  const record = records.find((r) => r.name === recordName);
  if (record === undefined || names.length === 0) return undefined;
  let fields: Field[] = record.fields;
  let found: Field | undefined;
  for (const name of names) {
    found = lookupMember(fields, name);
    if (found === undefined) return undefined;
    fields = found.type.kind === 'record' && 'record' in found.type ? found.type.record.fields : [];
  }
  return found;
}

function lookupMember(fields: readonly Field[], name: string): Field | undefined {
  for (const f of fields) {
    if (f.name === name) return f;
    if (f.name === null && f.type.kind === 'record' && 'record' in f.type) {
      const inner = lookupMember(f.type.record.fields, name);
      if (inner) return inner;
    }
  }
  return undefined;
}

function syntheticToken(text: string, header: string, line: number): Token {
  return { kind: 'ident', text, file: header, header, line, col: 1, bol: true, spaceBefore: false, endLine: line, endCol: text.length };
}

function externalRecordBody(name: string): RecordBodyAst {
  const ext = EXTERNAL_RECORDS[name]!;
  const keyword = syntheticToken(ext.kind, ext.file, ext.line);
  const members: MemberAst[] = ext.fields.map((f, i) => {
    const info: ScalarInfo | undefined = KNOWN_TYPEDEFS[f.ctype] ?? (C_INTEGER_TYPES as Record<string, ScalarInfo>)[f.ctype];
    if (info === undefined) throw new Error(`known-types.ts: external ${name}.${f.name} has unknown type ${f.ctype}`);
    const tok = syntheticToken(f.name, ext.file, ext.line + 1 + i);
    return { name: f.name, type: { kind: 'scalar', ctype: f.ctype, info }, packed: false, first: tok, last: tok };
  });
  return { kind: ext.kind, packed: false, members, keyword, close: keyword };
}

/**
 * Extracts the spec from `headerDir` (a folder holding `linux/io_uring.h`).
 * @throws ExtractError naming file:line:column for anything the extractor does not understand
 * @throws SpecValidationError if the result does not match the schema (a bug in the extractor)
 */
export function extractSpec(headerDir: string): Spec {
  const mainPath = join(headerDir, MAIN_HEADER);
  if (!existsSync(mainPath)) throw new ExtractError({ file: mainPath, line: 1, col: 1 }, `no ${MAIN_HEADER} in ${headerDir}`);
  const pp = new Preprocessor(headerDir);
  pp.include(MAIN_HEADER);
  for (const header of listSubHeaders(headerDir)) if (!pp.hasRead(header)) pp.include(header);
  const { version, file: versionFile } = readVersion(headerDir);

  const parsed = parseDeclarations(pp.output);

  const constantDefs: MacroDef[] = pp.defines.filter((m) => !m.guard && pp.macros.get(m.name) === m);
  const constantValues = new Map<MacroDef, { value: bigint; ctype: CType }>();
  for (const m of constantDefs) {
    const tokens = pp.expand(m.body, new Set([m.name]));
    const v = evaluate(tokens, { identifier: (name) => parsed.enumConstants.get(name) }, m.nameToken);
    if (!SPEC_CTYPES.includes(v.type)) {
      throw new ExtractError(m.nameToken, `${m.name} has type ${v.type}, which the spec cannot record (int, long, long long and their unsigned forms only)`);
    }
    constantValues.set(m, { value: v.value, ctype: v.type as CType });
  }

  const docs = collectDocs(pp.files, constantDefs, parsed);

  const records: NamedRecord[] = [];
  const layouts = new Map<string, { size: number; align: number }>();
  const ctx = {
    namedRecord: (name: string) => layouts.get(name),
    memberDoc: (m: MemberAst) => docs.member.get(m),
  };
  for (const name of Object.keys(EXTERNAL_RECORDS)) {
    if (!parsed.externalRecords.has(name)) continue;
    const body = layoutRecord(externalRecordBody(name), ctx);
    const ext = EXTERNAL_RECORDS[name]!;
    layouts.set(name, body);
    records.push({ name, kind: body.kind, file: ext.file, line: ext.line, external: true, size: body.size, align: body.align, packed: body.packed, fields: body.fields });
  }
  for (const r of parsed.records) {
    const body = layoutRecord(r.body, ctx);
    layouts.set(r.name, body);
    const rec: NamedRecord = { name: r.name, kind: body.kind, file: r.body.keyword.header, line: body.line, size: body.size, align: body.align, packed: body.packed, fields: body.fields };
    const doc = docs.record.get(r.body);
    if (doc !== undefined) rec.doc = doc;
    records.push(rec);
  }

  const enums: EnumDef[] = parsed.enums.map((e) => {
    const def: EnumDef = { name: e.name, file: e.keyword.header, line: e.keyword.line, members: [] };
    const doc = docs.enumDecl.get(e);
    if (doc !== undefined) def.doc = doc;
    def.members = e.members.map((m) => {
      const out: Omit<EnumDef['members'][number], 'line'> = { name: m.name, value: m.value };
      if (m.expr !== undefined) out.expr = m.expr;
      const mdoc = docs.enumMember.get(m.name);
      if (mdoc !== undefined) out.doc = mdoc;
      return { ...out, line: m.nameToken.line };
    });
    return def;
  });
  // `members` last, as the schema lists it.
  const orderedEnums = enums.map(({ members, ...rest }) => ({ ...rest, members }));

  const constants: Constant[] = constantDefs.map((m) => {
    const v = constantValues.get(m)!;
    const c: Constant = { name: m.name, value: v.value.toString(), ctype: v.ctype, expr: m.bodyText, file: m.nameToken.header, line: m.nameToken.line };
    const doc = docs.constant.get(m.name);
    if (doc !== undefined) c.doc = doc;
    return c;
  });

  // Flag-set candidates in translation-unit order; defines with no declaration between them form a run.
  type Ordered = { index: number; tiebreak: number; candidate: FlagCandidate };
  const ordered: Ordered[] = [];
  let run = 0;
  let previousIndex = -1;
  constantDefs.forEach((m, i) => {
    if (m.streamIndex !== previousIndex) run++;
    previousIndex = m.streamIndex;
    const header = docs.groupHeader.get(m.name);
    ordered.push({ index: m.streamIndex, tiebreak: i, candidate: { name: m.name, sourceGroup: `defines:${run}`, ...(header === undefined ? {} : { header }) } });
  });
  for (const e of parsed.enums) {
    if (e.name !== null) continue;
    e.members.forEach((m, i) => {
      const header = docs.groupHeader.get(m.name);
      ordered.push({
        index: e.streamIndex,
        tiebreak: constantDefs.length + i,
        candidate: { name: m.name, sourceGroup: `enum:${e.keyword.header}:${e.keyword.line}`, ...(header === undefined ? {} : { header }) },
      });
    });
  }
  ordered.sort((a, b) => a.index - b.index || a.tiebreak - b.tiebreak);
  const flagSets = groupFlagSets(ordered.map((o) => o.candidate), (path) => findField(records, path) !== undefined);

  const mainFile = pp.files.find((f) => f.header === MAIN_HEADER)!;
  const spec: Spec = {
    $schema: './schema/io_uring.schema.json',
    formatVersion: 1,
    provenance: {
      linuxVersionCode: version.code,
      release: version.release,
      sha256: mainFile.sha256,
      headers: [...pp.files.map((f) => ({ path: f.header, sha256: f.sha256, lines: f.lines })), versionFile],
      extractor: EXTRACTOR_ID,
    },
    abi: { name: 'x86_64-linux-gnu', endian: 'little', pointerSize: 8, longSize: 8 },
    records,
    enums: orderedEnums,
    constants,
    flagSets,
  };
  return validateSpec(JSON.parse(JSON.stringify(spec)) as unknown, `spec extracted from ${headerDir}`);
}

/** The spec as the bytes written to disk: 2-space JSON with a trailing newline. */
export function specToJson(spec: Spec): string {
  return `${JSON.stringify(spec, null, 2)}\n`;
}

/** Validates and writes a spec; a temporary file and a rename keep a half-written spec off disk. */
export function writeSpec(spec: Spec, outPath: string): void {
  validateSpec(spec, outPath);
  const tmp = `${outPath}.tmp-${process.pid}`;
  writeFileSync(tmp, specToJson(spec));
  renameSync(tmp, outPath);
}
