/**
 * From a header folder to a validated spec: preprocess the io_uring headers as one
 * translation unit, parse the declarations, evaluate the constants, lay out the records,
 * attach the comments and group the flags. Deterministic: the same headers give the same
 * bytes.
 */
import { readdirSync, existsSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { validateSpec } from '../spec/load.js';
import type { Abi, Constant, CType, EnumDef, Field, FlagSet, NamedRecord, RecordVariant, Spec } from '../spec/types.js';
import { ABIS, abiRecord, type AbiInfo } from './abi.js';
import { collectDocs } from './docs.js';
import { ExtractError } from './errors.js';
import { evaluate } from './evaluate.js';
import { classifyFlagSets, groupFlagSets, type FlagCandidate } from './flag-sets.js';
import { EXTERNAL_RECORDS, KNOWN_TYPEDEFS, C_INTEGER_TYPES, type ScalarInfo } from './known-types.js';
import type { Token } from './lexer.js';
import { layoutRecord } from './layout.js';
import { parseDeclarations, type MemberAst, type RecordBodyAst } from './parse.js';
import { Preprocessor, readSource, type MacroDef } from './preprocess.js';

/** Recorded in provenance.extractor. */
export const EXTRACTOR_ID = 'tsuring codegen/extract (spec format 2)';

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

const RELEASE = /^(\d+)\.(\d+)\.(\d+)$/;

/** LINUX_VERSION_CODE of a release, as linux/version.h's KERNEL_VERSION(a, b, c) computes it. */
export function versionCode(release: string): number {
  const m = RELEASE.exec(release);
  if (!m) throw new Error(`not a release: ${release}`);
  const [a, b, c] = [Number(m[1]), Number(m[2]), Number(m[3])];
  return (a << 16) + (b << 8) + Math.min(c, 255);
}

/**
 * The headers' kernel release: from the folder's own linux/version.h, or `release` (from
 * `--release`) for a folder without one. Never from anywhere else: a version.h borrowed from
 * another folder (the system's) would label the spec with the wrong kernel.
 */
function readVersion(headerDir: string, release: string | undefined): { version: VersionInfo; from: 'linux/version.h' | '--release'; file?: { path: string; sha256: string; lines: number } } {
  const path = join(headerDir, VERSION_HEADER);
  if (release !== undefined && !RELEASE.test(release)) {
    throw new ExtractError({ file: path, line: 1, col: 1 }, `--release ${release}: expected MAJOR.MINOR.PATCH, e.g. 7.3.0`);
  }
  if (!existsSync(path)) {
    if (release === undefined) {
      throw new ExtractError(
        { file: path, line: 1, col: 1 },
        `${VERSION_HEADER} not found in ${headerDir}: it gives the spec its LINUX_VERSION_CODE. For a copy of the headers without it, give the kernel release they come from with --release X.Y.Z (never another folder's version.h, e.g. the system's, which would label the spec with the wrong kernel)`,
      );
    }
    return { version: { code: versionCode(release), release }, from: '--release' };
  }
  const read = readVersionHeader(headerDir, path);
  if (release !== undefined && release !== read.version.release) {
    throw new ExtractError({ file: path, line: 1, col: 1 }, `--release ${release} disagrees with ${VERSION_HEADER}, which says ${read.version.release}; leave --release out for a folder that has ${VERSION_HEADER}`);
  }
  return { ...read, from: 'linux/version.h' };
}

function readVersionHeader(headerDir: string, path: string): { version: VersionInfo; file: { path: string; sha256: string; lines: number } } {
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

function externalRecordBody(name: string, packed: boolean): RecordBodyAst {
  const ext = EXTERNAL_RECORDS[name]!;
  const keyword = syntheticToken(ext.kind, ext.file, ext.line);
  const members: MemberAst[] = ext.fields.map((f, i) => {
    const info: ScalarInfo | undefined = KNOWN_TYPEDEFS[f.ctype] ?? (C_INTEGER_TYPES as Record<string, ScalarInfo>)[f.ctype];
    if (info === undefined) throw new Error(`known-types.ts: external ${name}.${f.name} has unknown type ${f.ctype}`);
    const tok = syntheticToken(f.name, ext.file, ext.line + 1 + i);
    return { name: f.name, type: { kind: 'scalar', ctype: f.ctype, info }, packed: false, first: tok, last: tok };
  });
  return { kind: ext.kind, packed, members, keyword, close: keyword };
}

/** Options of {@link extractSpec}. */
export interface ExtractOptions {
  /** The kernel release, for a folder without linux/version.h (`--release`). */
  release?: string;
  /** How provenance.headerDir names the folder (default: not recorded). */
  headerDirLabel?: string;
  /** The ABIs to extract for (default: all of abi.ts's, x86-64 first). */
  abis?: readonly AbiInfo[];
}

/** What one ABI's pass over the headers produced. */
interface AbiPass {
  abi: Abi;
  records: NamedRecord[];
  enums: EnumDef[];
  constants: Constant[];
  flagSets: FlagSet[];
  files: { path: string; sha256: string; lines: number }[];
  mainSha256: string;
}

/**
 * Extracts the spec from `headerDir` (a folder holding `linux/io_uring.h`), once per ABI: the
 * conditionals abi.ts knows take each ABI's values, plain `char` its signedness, known records
 * its packing. Everything but record layouts must come out the same on every ABI; a record laid
 * out differently somewhere gets `variants`.
 * @throws ExtractError naming file:line:column for anything the extractor does not understand
 * @throws SpecValidationError if the result does not match the schema (a bug in the extractor)
 */
export function extractSpec(headerDir: string, options: ExtractOptions = {}): Spec {
  const mainPath = join(headerDir, MAIN_HEADER);
  if (!existsSync(mainPath)) throw new ExtractError({ file: mainPath, line: 1, col: 1 }, `no ${MAIN_HEADER} in ${headerDir}`);
  const { version, from, file: versionFile } = readVersion(headerDir, options.release);
  const abis = options.abis ?? ABIS;
  const passes = abis.map((abi) => extractForAbi(headerDir, abiRecord(abi)));
  const first = passes[0]!;
  const records = mergeAbiLayouts(passes, headerDir);

  const spec: Spec = {
    $schema: './schema/io_uring.schema.json',
    formatVersion: 2,
    provenance: {
      linuxVersionCode: version.code,
      release: version.release,
      releaseFrom: from,
      sha256: first.mainSha256,
      headers: [...first.files, ...(versionFile === undefined ? [] : [versionFile])],
      extractor: EXTRACTOR_ID,
      ...(options.headerDirLabel === undefined ? {} : { headerDir: options.headerDirLabel }),
    },
    abis: passes.map((p) => p.abi),
    records,
    enums: first.enums,
    constants: first.constants,
    flagSets: first.flagSets,
  };
  return validateSpec(JSON.parse(JSON.stringify(spec)) as unknown, `spec extracted from ${headerDir}`);
}

/**
 * The first ABI's records, each with `variants` for the ABIs that lay it out differently.
 * Anything else that differs between ABIs (a constant, an enum, a record or field that exists
 * on one only) is an error: the spec format has per-ABI layouts, not per-ABI names or values.
 */
function mergeAbiLayouts(passes: readonly AbiPass[], headerDir: string): NamedRecord[] {
  const first = passes[0]!;
  // Each item by name; the first one that differs on another ABI is named where the first ABI's pass found it.
  const same = (what: string, get: (p: AbiPass) => readonly { name: string | null; file: string; line: number }[]): void => {
    const items = get(first);
    for (const p of passes.slice(1)) {
      const other = get(p);
      const len = Math.max(items.length, other.length);
      for (let i = 0; i < len; i++) {
        const a = items[i];
        const b = other[i];
        const key = (x: typeof a): string => (x === undefined ? '' : what === 'records' ? `${x.name}` : JSON.stringify(x));
        if (key(a) === key(b)) continue;
        const at = a ?? b!;
        throw new ExtractError(
          { file: join(headerDir, at.file), line: at.line, col: 1 },
          `${what.replace(/s$/, '')} ${at.name ?? '(anonymous)'} differs between ${first.abi.name} and ${p.abi.name} (an #ifdef on an architecture name?); the spec records per-ABI record layouts only, not per-ABI names or values`,
        );
      }
    }
  };
  same('constants', (p) => p.constants);
  same('enums', (p) => p.enums);
  same('records', (p) => p.records);
  const sets = JSON.stringify(first.flagSets);
  if (passes.some((p) => JSON.stringify(p.flagSets) !== sets)) throw new ExtractError({ file: join(headerDir, MAIN_HEADER), line: 1, col: 1 }, 'the flag sets differ between ABIs');
  const shape = (fields: readonly Field[]): unknown =>
    fields.map((f) => ({ name: f.name, ctype: f.ctype, array: f.array, type: 'record' in f.type ? shape(f.type.record.fields) : f.type }));
  return first.records.map((r, i) => {
    const variants: RecordVariant[] = [];
    for (const p of passes.slice(1)) {
      const other = p.records[i]!;
      const layout = { size: other.size, align: other.align, packed: other.packed, fields: other.fields };
      if (JSON.stringify(layout) === JSON.stringify({ size: r.size, align: r.align, packed: r.packed, fields: r.fields })) continue;
      if (JSON.stringify(shape(other.fields)) !== JSON.stringify(shape(r.fields))) {
        throw new ExtractError({ file: join(headerDir, r.file), line: r.line, col: 1 }, `${r.kind} ${r.name} has different fields on ${first.abi.name} and ${p.abi.name}; the spec records per-ABI offsets and sizes of the same fields only`);
      }
      const existing = variants.find((v) => JSON.stringify({ size: v.size, align: v.align, packed: v.packed, fields: v.fields }) === JSON.stringify(layout));
      if (existing) existing.abis.push(p.abi.name);
      else variants.push({ abis: [p.abi.name], ...layout });
    }
    return variants.length === 0 ? r : { ...r, variants };
  });
}

function extractForAbi(headerDir: string, abi: Abi): AbiPass {
  const pp = new Preprocessor(headerDir, abi);
  pp.include(MAIN_HEADER);
  for (const header of listSubHeaders(headerDir)) if (!pp.hasRead(header)) pp.include(header);

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
    charSigned: abi.charSigned,
  };
  for (const name of Object.keys(EXTERNAL_RECORDS)) {
    const ext = EXTERNAL_RECORDS[name]!;
    if (!parsed.externalRecords.has(name) && ext.always !== true) continue;
    const body = layoutRecord(externalRecordBody(name, (ext.packedOn ?? []).includes(abi.name)), ctx);
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
  const implicit = new Set<string>();
  for (const e of parsed.enums) {
    if (e.name !== null) continue;
    e.members.forEach((m, i) => {
      if (m.expr === undefined && i > 0) implicit.add(m.name);
      const header = docs.groupHeader.get(m.name);
      ordered.push({
        index: e.streamIndex,
        tiebreak: constantDefs.length + i,
        candidate: { name: m.name, sourceGroup: `enum:${e.keyword.header}:${e.keyword.line}`, ...(header === undefined ? {} : { header }) },
      });
    });
  }
  ordered.sort((a, b) => a.index - b.index || a.tiebreak - b.tiebreak);
  const grouped = groupFlagSets(ordered.map((o) => o.candidate), (path) => findField(records, path) !== undefined);
  const values = new Map<string, bigint>([...constants.map((c) => [c.name, BigInt(c.value)] as const), ...enums.flatMap((e) => e.members.map((m) => [m.name, BigInt(m.value)] as const))]);
  const flagSets = classifyFlagSets(grouped, values, implicit);

  const mainFile = pp.files.find((f) => f.header === MAIN_HEADER)!;
  return {
    abi,
    records,
    enums: orderedEnums,
    constants,
    flagSets,
    files: pp.files.map((f) => ({ path: f.header, sha256: f.sha256, lines: f.lines })),
    mainSha256: mainFile.sha256,
  };
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
