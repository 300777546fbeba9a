/**
 * The C cross-check: proof that a spec is what C compilers make of the same headers, for each
 * ABI of the spec. From the spec it generates a C file whose one array holds, for every check,
 * the compiler's own value: every record's size and alignment, every field's offset, size,
 * alignment and signedness (fields of anonymous members reached by name as in C, members of
 * unnamed types through `a.b`, flexible arrays by offset, alignment and element size only),
 * every enum member's value, every constant's value and C type. The file is only compiled
 * (`-c`), never run, so a cross compiler checks another architecture with no emulator: the
 * values are read back out of the object file's `.tsuring_check` section (ELF64,
 * little-endian, as every ABI of the spec is).
 *
 * `npm run spec` runs it on the header it has just read, with every compiler it finds (the
 * host's `$CC`, `cc`, `gcc` or `clang` for the host's ABI; `aarch64-linux-gnu-gcc` and
 * `riscv64-linux-gnu-gcc`, or `TSURING_CC_ARM64` / `TSURING_CC_RISCV64` / `TSURING_CC_X64`,
 * for the others), and the tests run it on the headers the committed spec came from.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { layoutOn } from '../spec/abi-layout.js';
import type { AbiName, Field, Spec } from '../spec/types.js';
import { ABIS, abiInfo, hostAbi, type AbiInfo } from './abi.js';
import { EXTERNAL_RECORDS } from './known-types.js';

export interface CrossCheckProgram {
  source: string;
  /** key → value the spec predicts, in the order of the C array. */
  expected: Map<string, string>;
  counts: { records: number; fields: number; enumMembers: number; constants: number };
}

interface ReachableField {
  path: string;
  field: Field;
  offset: number;
}

/** Every field reachable by name from a record, with its offset from the record's start. */
export function reachableFields(fields: readonly Field[], prefix = '', base = 0): ReachableField[] {
  const out: ReachableField[] = [];
  for (const f of fields) {
    const inline = f.type.kind === 'record' && 'record' in f.type ? f.type.record : undefined;
    if (f.name === null) {
      if (inline) out.push(...reachableFields(inline.fields, prefix, base + f.offset));
      continue;
    }
    const path = prefix === '' ? f.name : `${prefix}.${f.name}`;
    out.push({ path, field: f, offset: base + f.offset });
    if (inline) out.push(...reachableFields(inline.fields, path, base + f.offset));
  }
  return out;
}

/** The C types `_Generic` tells apart, by the code the program stores. */
const TYPE_CODES = ['(other)', 'int', 'unsigned int', 'long', 'unsigned long', 'long long', 'unsigned long long'] as const;

/** The section the values are stored in. */
const SECTION = '.tsuring_check';

/** The `#include` lines that declare everything in a spec: its headers, and those of the known records it has. */
export function specIncludes(spec: Spec): string[] {
  const externalFiles = [...new Set(spec.records.filter((r) => r.external).map((r) => EXTERNAL_RECORDS[r.name]?.file ?? r.file))];
  return [...spec.provenance.headers.map((h) => h.path), ...externalFiles.filter((f) => !spec.provenance.headers.some((h) => h.path === f))].map((p) => `#include <${p}>`);
}

/** Generates the program for `spec` on `abi`; compile it with `-I` the folder the spec was extracted from. */
export function buildCrossCheckProgram(spec: Spec, abi: AbiName = spec.abis[0]!.name): CrossCheckProgram {
  const expected = new Map<string, string>();
  const entries: string[] = [];
  const counts = { records: 0, fields: 0, enumMembers: 0, constants: 0 };
  const check = (key: string, cExpr: string, value: string | number, how: 'VAL' | 'TYPE' = 'VAL'): void => {
    if (expected.has(key)) throw new Error(`duplicate cross-check key ${key}`);
    expected.set(key, how === 'TYPE' ? `type:${value}` : String(value));
    entries.push(`  TSURING_CHECK(${cExpr}), /* ${key.replace(/\*\//g, '* /')} */`);
  };
  const sizeOf = (field: Field): number => {
    const t = field.type;
    if (t.kind === 'scalar') return t.bits / 8;
    if ('record' in t) return t.record.size;
    const ref = spec.records.find((r) => r.name === t.ref);
    if (ref === undefined) throw new Error(`field ${field.name ?? '(anonymous)'} refers to unknown record ${t.ref}`);
    return layoutOn(ref, abi).size;
  };

  for (const r of spec.records) {
    const layout = layoutOn(r, abi);
    const type = `${r.kind} ${r.name}`;
    check(`sizeof(${type})`, `sizeof(${type})`, layout.size);
    check(`_Alignof(${type})`, `_Alignof(${type})`, layout.align);
    counts.records += 2;
    for (const { path, field, offset } of reachableFields(layout.fields)) {
      const member = `((${type} *)0)->${path}`;
      check(`offsetof(${type}, ${path})`, `offsetof(${type}, ${path})`, offset);
      check(`__alignof__(${type}.${path})`, `__alignof__(${member})`, field.align);
      counts.fields += 2;
      const element = field.array === undefined ? member : `(${member})[0]`;
      if (field.type.kind === 'scalar') {
        check(`signed(${type}.${path})`, `((__typeof__(${element}))-1 < 0)`, field.type.signed ? 1 : 0);
        counts.fields += 1;
      }
      if (field.array !== undefined) {
        check(`sizeof(${type}.${path}[0])`, `sizeof(${element})`, sizeOf(field));
        counts.fields += 1;
      }
      if (field.array !== undefined && 'flexible' in field.array) continue; // sizeof of an incomplete array is not C
      check(`sizeof(${type}.${path})`, `sizeof(${member})`, field.size);
      counts.fields += 1;
    }
  }
  for (const e of spec.enums) {
    for (const m of e.members) {
      check(`enum ${e.name ?? '(anonymous)'} ${m.name}`, m.name, m.value);
      counts.enumMembers += 1;
    }
  }
  for (const c of spec.constants) {
    check(`value ${c.name}`, c.name, c.value);
    check(`type ${c.name}`, c.name, c.ctype, 'TYPE');
    counts.constants += 2;
  }

  const includes = specIncludes(spec);
  const source = [
    `/* Generated by codegen/extract/c-check.ts from a tsuring spec (Linux ${spec.provenance.release}) for ${abi}: compile with -c, never run. */`,
    '#include <stddef.h>',
    '#include <linux/types.h>',
    ...includes,
    '',
    '/* The value as 64 bits, whether it is negative (so the spec cannot bias the comparison), and its C type. */',
    '#define TSURING_TYPE(x) _Generic((x), int: 1, unsigned int: 2, long: 3, unsigned long: 4, long long: 5, unsigned long long: 6, default: 0)',
    '#define TSURING_CHECK(x) { (unsigned long long)(x), (x) < 0, TSURING_TYPE(x) }',
    'struct tsuring_check { unsigned long long value, negative, type; };',
    `__attribute__((used, section("${SECTION}"))) static const struct tsuring_check tsuring_checks[] = {`,
    ...entries,
    '};',
    '',
  ].join('\n');
  return { source, expected, counts };
}

/** The bytes of one named section of an ELF64 little-endian object file. */
export function elfSection(file: Uint8Array, name: string): Uint8Array {
  const dv = new DataView(file.buffer, file.byteOffset, file.byteLength);
  if (dv.getUint32(0, false) !== 0x7f454c46) throw new Error('not an ELF file');
  if (file[4] !== 2 || file[5] !== 1) throw new Error('not a 64-bit little-endian ELF file');
  const shoff = Number(dv.getBigUint64(0x28, true));
  const shentsize = dv.getUint16(0x3a, true);
  const shnum = dv.getUint16(0x3c, true);
  const shstrndx = dv.getUint16(0x3e, true);
  const header = (i: number): { name: number; offset: number; size: number } => {
    const at = shoff + i * shentsize;
    return { name: dv.getUint32(at, true), offset: Number(dv.getBigUint64(at + 0x18, true)), size: Number(dv.getBigUint64(at + 0x20, true)) };
  };
  const strtab = header(shstrndx);
  const nameAt = (off: number): string => {
    let end = strtab.offset + off;
    while (file[end] !== 0) end++;
    return Buffer.from(file.subarray(strtab.offset + off, end)).toString('latin1');
  };
  for (let i = 0; i < shnum; i++) {
    const h = header(i);
    if (nameAt(h.name) === name) return file.subarray(h.offset, h.offset + h.size);
  }
  throw new Error(`no section ${name} in the object file`);
}

/** Reads the checks' values out of the object file: key → value as the spec writes it. */
export function readCrossCheckObject(object: Uint8Array, program: CrossCheckProgram): Map<string, string> {
  const section = elfSection(object, SECTION);
  const keys = [...program.expected.keys()];
  if (section.byteLength !== keys.length * 24) throw new Error(`${SECTION} holds ${section.byteLength} bytes; expected ${keys.length} entries of 24`);
  const dv = new DataView(section.buffer, section.byteOffset, section.byteLength);
  const actual = new Map<string, string>();
  keys.forEach((key, i) => {
    const raw = dv.getBigUint64(i * 24, true);
    const negative = dv.getBigUint64(i * 24 + 8, true) !== 0n;
    const type = Number(dv.getBigUint64(i * 24 + 16, true));
    actual.set(key, program.expected.get(key)!.startsWith('type:') ? `type:${TYPE_CODES[type] ?? '(other)'}` : (negative ? BigInt.asIntN(64, raw) : raw).toString());
  });
  return actual;
}

/** A compiler for one ABI, or why there is none. */
export type AbiCompiler = { abi: AbiInfo; cc: string } | { abi: AbiInfo; skip: string };

function runs(cc: string): boolean {
  try {
    execFileSync(cc, ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

let hostCompiler: string | null | undefined;

/** The host's C compiler: `$CC`, else `cc`, `gcc` or `clang`, whichever answers `--version` first; null when none does. */
export function findHostCompiler(): string | null {
  if (hostCompiler !== undefined) return hostCompiler;
  hostCompiler = [process.env.CC, 'cc', 'gcc', 'clang'].find((c): c is string => c !== undefined && c !== '' && runs(c)) ?? null;
  return hostCompiler;
}

/** The environment variable naming a compiler for an ABI (`TSURING_CC_ARM64`). */
export function compilerVariable(abi: AbiInfo): string {
  return `TSURING_CC_${abi.arch.toUpperCase()}`;
}

/**
 * The compiler for each ABI: the host's (`$CC`, cc, gcc, clang) for the host's own ABI, else
 * `$TSURING_CC_<ARCH>` or Debian's cross compiler; each must also find the ABI's linux/ and
 * asm/ headers (`linux/types.h`, `linux/fs.h`, `linux/eventpoll.h`), which a bare cross
 * compiler package lacks.
 */
export function findCompilers(abis: readonly AbiInfo[] = ABIS): AbiCompiler[] {
  const host = hostAbi();
  return abis.map((abi): AbiCompiler => {
    const override = process.env[compilerVariable(abi)];
    let cc: string | null;
    if (override !== undefined && override !== '') cc = runs(override) ? override : null;
    else if (host?.name === abi.name) cc = findHostCompiler();
    else cc = runs(abi.crossCompiler) ? abi.crossCompiler : null;
    const install = `apt-get install ${abi.debianPackages.join(' ')}`;
    if (cc === null) {
      const tried = override ? `$${compilerVariable(abi)} (${override})` : host?.name === abi.name ? '$CC, cc, gcc or clang' : abi.crossCompiler;
      return { abi, skip: `no C compiler for ${abi.name} (${tried}; on Debian: ${install})` };
    }
    const work = mkdtempSync(join(tmpdir(), 'tsuring-cc-probe-'));
    try {
      writeFileSync(join(work, 'probe.c'), '#include <linux/types.h>\n#include <linux/fs.h>\n#include <linux/time_types.h>\n#include <linux/eventpoll.h>\nint tsuring_probe;\n');
      const r = spawnSync(cc, ['-std=gnu11', '-c', '-o', join(work, 'probe.o'), join(work, 'probe.c')], { encoding: 'utf8' });
      if (r.status !== 0) {
        const first = (r.stderr || r.error?.message || '').split('\n').find((l) => /error/.test(l)) ?? 'it failed';
        return { abi, skip: `${cc} cannot compile against the ${abi.name} kernel headers (${first.trim()}; on Debian: ${install})` };
      }
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
    return { abi, cc };
  });
}

/** The outcome for one ABI. */
export type AbiCheckResult =
  | { abi: AbiName; cc: string; compared: number; mismatches: string[] }
  | { abi: AbiName; skipped: string };

/**
 * Compiles the cross-check program of `spec` for every ABI it has a compiler for, against
 * `headerDir`, and compares. A compiler error is thrown (it means the spec names something
 * the headers do not have); mismatches are returned.
 */
export function crossCheck(spec: Spec, headerDir: string, compilers: readonly AbiCompiler[] = findCompilers(spec.abis.map((a) => abiInfo(a.name)))): AbiCheckResult[] {
  return compilers.map((c): AbiCheckResult => {
    if ('skip' in c) return { abi: c.abi.name, skipped: c.skip };
    const program = buildCrossCheckProgram(spec, c.abi.name);
    const work = mkdtempSync(join(tmpdir(), 'tsuring-crosscheck-'));
    try {
      // The spec's own headers, copied: GCC ignores `-I DIR` when DIR is one of its system
      // directories (a cross compiler may list /usr/include after its own, which holds another
      // linux/io_uring.h), so the folder given is never trusted to come first.
      const include = join(work, 'include');
      for (const h of spec.provenance.headers) {
        mkdirSync(dirname(join(include, h.path)), { recursive: true });
        copyFileSync(join(headerDir, h.path), join(include, h.path));
      }
      const src = join(work, 'check.c');
      const obj = join(work, 'check.o');
      writeFileSync(src, program.source);
      const build = spawnSync(c.cc, ['-std=gnu11', '-c', '-I', include, '-o', obj, src], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
      if (build.status !== 0) throw new Error(`${c.cc} could not compile the ${c.abi.name} cross-check against ${headerDir}:\n${build.stderr.split('\n').slice(0, 30).join('\n')}`);
      const actual = readCrossCheckObject(readFileSync(obj), program);
      const mismatches: string[] = [];
      for (const [key, want] of program.expected) {
        const got = actual.get(key);
        if (got !== want) mismatches.push(`${key}: spec says ${want.replace(/^type:/, '')}, ${c.cc} says ${got?.replace(/^type:/, '') ?? '(nothing)'}`);
      }
      return { abi: c.abi.name, cc: c.cc, compared: program.expected.size, mismatches };
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  });
}

/** One line per ABI, for the CLI and the tests. */
export function formatCrossCheck(results: readonly AbiCheckResult[]): string {
  return results
    .map((r) => ('skipped' in r ? `  ${r.abi}: not checked: ${r.skipped}` : `  ${r.abi} (${r.cc}): ${r.compared} values compared, ${r.mismatches.length} mismatch${r.mismatches.length === 1 ? '' : 'es'}`))
    .join('\n');
}
