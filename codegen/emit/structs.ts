/**
 * generated/structs.ts: one accessor class per record of the spec.
 *
 * Accessors read and write through one DataView (the caller's, when a DataView is passed), at
 * `#base + offset` with the offset as a literal, so a scalar getter is one DataView call and
 * allocates nothing. u64 fields go through two u32 reads (see src/abi/struct.ts).
 */
import {
  type ClassDeclarationStructure,
  type GetAccessorDeclarationStructure,
  type MethodDeclarationStructure,
  type SetAccessorDeclarationStructure,
  type StatementStructures,
  StructureKind,
  VariableDeclarationKind,
  type WriterFunction,
} from 'ts-morph';
import { carriedNames } from '../spec/carried.js';
import type { Field, NamedRecord, RecordBody, ScalarType, Spec } from '../spec/types.js';
import { arrayLength, type FlatField, flattenFields, isFlexible, isInline, isRef, isScalar, type SpecIndex } from './model.js';
import { camelCase, docText, pascalCase, upperSnake } from './names.js';
import { fileHeader, type Inputs, printSource, withCategory } from './source.js';

export interface StructsResult {
  text: string;
  records: number;
  classes: number;
  fields: number;
}

/** Names the generated class uses itself; a C field with one of these names gets another. */
const RESERVED = new Set(['view', 'byteOffset', 'at', 'constructor', 'OFFSETS', 'LENGTHS', 'prototype', 'length', 'name']);

/** The class name of each named record: `io_uring_sqe` → `IoUringSqe`. */
export function recordClassName(cName: string): string {
  return pascalCase(cName);
}

/** TS accessor names for a record's flattened fields, C name → TS name, collision-free. */
export function accessorNames(flat: readonly FlatField[]): Map<string, { get: string; big: string; arrayGet: string; arraySet: string; arrayBig: string }> {
  const taken = new Set(RESERVED);
  const claim = (preferred: string, fallback: string): string => {
    for (const candidate of [preferred, fallback, `${fallback}_`, `${fallback}__`]) {
      if (!taken.has(candidate)) {
        taken.add(candidate);
        return candidate;
      }
    }
    throw new Error(`cannot name accessor ${fallback}`);
  };
  const out = new Map<string, { get: string; big: string; arrayGet: string; arraySet: string; arrayBig: string }>();
  for (const ff of flat) {
    const camel = camelCase(ff.name);
    const pascal = pascalCase(ff.name);
    const get = claim(camel, ff.name);
    out.set(ff.name, {
      get,
      big: claim(`${get}Big`, `${ff.name}Big`),
      arrayGet: claim(`get${pascal}`, `get_${ff.name}`),
      arraySet: claim(`set${pascal}`, `set_${ff.name}`),
      arrayBig: claim(`get${pascal}Big`, `get_${ff.name}Big`),
    });
  }
  return out;
}

interface ClassJob {
  className: string;
  /** How errors and docs name the record: `io_uring_sqe`, `mini_wait.window`. */
  cName: string;
  kind: 'struct' | 'union';
  size: number;
  align: number;
  fields: readonly Field[];
  doc: string[];
  named: NamedRecord | null;
}

export function emitStructs(spec: Spec, index: SpecIndex, inputs: Inputs): StructsResult {
  const used = { check: new Set<string>(), struct: new Set<string>(['checkRecordAt', 'toDataView']) };
  const statements: StatementStructures[] = [];
  const classNames = new Set<string>();
  let fieldCount = 0;
  let classCount = 0;
  let usesAbiLayouts = false;
  const carried = carriedNames(spec);

  const classOf = (ref: string): string => {
    if (!index.records.has(ref)) throw new Error(`record reference to unknown record ${ref}`);
    return recordClassName(ref);
  };

  const jobs: ClassJob[] = [];
  const queue = (job: ClassJob): void => {
    if (classNames.has(job.className)) throw new Error(`two records would both be class ${job.className}`);
    classNames.add(job.className);
    jobs.push(job);
  };

  for (const r of spec.records) {
    const where = `${r.file}:${r.line}${r.external ? ' (defined outside the io_uring headers; layout from the extractor\'s table of known types)' : ''}`;
    queue({
      className: recordClassName(r.name),
      cName: r.name,
      kind: r.kind,
      size: r.size,
      align: r.align,
      fields: r.fields,
      named: r,
      doc: [
        r.variants === undefined
          ? `\`${r.kind} ${r.name}\`: ${r.size} bytes, aligned to ${r.align}${r.packed ? ', packed' : ''}. ${where}.`
          : `\`${r.kind} ${r.name}\`: laid out per architecture: ${[{ abis: [spec.abis[0]!.name], ...r }, ...r.variants].map((v) => `${v.size} bytes, aligned to ${v.align}${v.packed ? ', packed' : ''} on ${v.abis.join(', ')}`).join('; ')}. ${where}.`,
        ...(r.doc ? [docText(r.doc)] : []),
        ...(carried?.records.has(r.name) ? [`Not (or not wholly) in the ${carried.header} header this build was generated from: this layout was carried over from the spec of Linux ${carried.from}.`] : []),
      ],
    });
  }

  // Named members of unnamed struct/union types get a class of their own, named after the path.
  for (let i = 0; i < jobs.length; i++) {
    const job = jobs[i] as ClassJob;
    for (const ff of flattenFields(job.fields)) {
      if (!isInline(ff.field.type)) continue;
      const body: RecordBody = ff.field.type.record;
      queue({
        className: `${job.className}${pascalCase(ff.name)}`,
        cName: `${job.cName}.${ff.name}`,
        kind: body.kind,
        size: body.size,
        align: body.align,
        fields: body.fields,
        named: null,
        doc: [
          `The unnamed \`${body.kind}\` of \`${job.cName}.${ff.name}\`: ${body.size} bytes, aligned to ${body.align}${body.packed ? ', packed' : ''}.`,
          ...(ff.field.doc ? [docText(ff.field.doc)] : []),
        ],
      });
    }
  }

  for (const job of jobs) {
    classCount++;
    const flat = flattenFields(job.fields);
    fieldCount += flat.length;
    const names = accessorNames(flat);
    const getters: GetAccessorDeclarationStructure[] = [];
    const setters: SetAccessorDeclarationStructure[] = [];
    const methods: MethodDeclarationStructure[] = [];
    const offsets: string[] = [];
    const lengths: string[] = [];
    // A record laid out differently per ABI (struct epoll_event): offsets and size come from this
    // process's layout, picked once at load by process.arch and kept in #at by the constructor.
    const perAbi = job.named?.variants !== undefined ? abiLayouts(spec, job.named, names) : null;
    const layoutConst = `${upperSnake(job.cName)}_LAYOUT`;
    const sizeConst = perAbi ? 'this.#at.size' : job.named ? `SIZEOF_${upperSnake(job.cName)}` : String(job.size);

    getters.push({
      kind: StructureKind.GetAccessor,
      name: 'byteOffset',
      returnType: 'number',
      docs: [`Where the record starts in {@link ${job.className}.view}, in bytes.`],
      statements: ['return this.#base;'],
    });
    methods.push({
      kind: StructureKind.Method,
      name: 'at',
      parameters: [{ name: 'byteOffset', type: 'number' }],
      returnType: 'this',
      docs: [`Moves this accessor to another \`${job.cName}\` in the same memory (bounds checked), so one accessor can walk an array of them without allocating.\n\n@returns this accessor`],
      // The view's length is read once, in the constructor: DataView.byteLength is slow to read on Node 20.
      statements: [`this.#base = byteOffset >>> 0 === byteOffset && byteOffset <= this.#last ? byteOffset : checkRecordAt('${job.cName}', this.view, byteOffset, ${sizeConst});`, 'return this;'],
    });

    for (const ff of flat) {
      const n = names.get(ff.name);
      if (!n) throw new Error('unreachable: every flat field has names');
      const f = ff.field;
      const errName = `${job.cName}.${ff.name}`;
      const at = (o: number): string => (perAbi ? `this.#base + this.#at.offsets.${n.get}` : o === 0 ? 'this.#base' : `this.#base + ${o}`);
      const offsetText = perAbi ? perAbi.describe(n.get) : String(ff.offset);
      const length = arrayLength(f.array);
      const flexible = isFlexible(f.array);
      const placement = ff.viaAnonymous ? ` (in an anonymous ${ff.viaAnonymous.kind} at offset ${ff.viaAnonymous.offset})` : '';
      const cDecl = `\`${f.ctype} ${ff.name}${length !== null ? `[${length}]` : flexible ? (f.array && 'spelling' in f.array && f.array.spelling === '[0]' ? '[0]' : '[]') : ''}\``;
      const headerDoc = (extra: string): string =>
        [`${cDecl}: offset ${offsetText}, ${flexible ? 'a flexible array' : `${f.size} byte${f.size === 1 ? '' : 's'}`}${placement}.${extra}`, ...(f.doc ? [docText(f.doc)] : [])].join('\n\n');
      offsets.push(`/** \`${ff.name}\` */ ${n.get}: ${ff.offset}`);
      if (perAbi && !isScalar(f.type)) throw new Error(`${job.cName}: per-ABI layouts of records with record members are not supported by codegen yet`);
      if (length !== null) lengths.push(`/** \`${ff.name}\` */ ${n.get}: ${length}`);

      if (isScalar(f.type)) {
        const t = f.type;
        const le = t.endian === 'big' ? 'false' : 'true';
        const bytes = t.bits / 8;
        const dv = `${t.signed ? 'Int' : 'Uint'}${t.bits}`;
        const check = scalarCheck(t, errName, used);
        const read = (o: string): string =>
          t.bits === 8 ? `this.view.get${dv}(${o})` : `this.view.get${dv}(${o}, ${le})`;
        // u64/i64 as a number: both halves read inline (a helper call costs more than the reads).
        const read64 = (o: string): string[] => {
          used.struct.add('u64OutOfRange');
          const [hiAt, loAt] = t.endian === 'big' ? [o, `${o} + 4`] : [`${o} + 4`, o];
          return [
            `const value = this.view.get${t.signed ? 'Int' : 'Uint'}32(${hiAt}, ${le}) * 4294967296 + this.view.getUint32(${loAt}, ${le});`,
            t.signed
              ? `if (value > 9007199254740991 || value < -9007199254740991) u64OutOfRange('${errName}');`
              : `if (value > 9007199254740991) u64OutOfRange('${errName}');`,
            'return value;',
          ];
        };
        const getterBody = (o: string): string[] => (t.bits === 64 ? read64(o) : [`return ${read(o)};`]);
        const readBig = (o: string): string => `this.view.getBig${t.signed ? 'Int' : 'Uint'}64(${o}, ${le})`;
        const write = (o: string, v: string): string => {
          if (t.bits === 64) {
            if (t.endian === 'big') {
              used.struct.add('setU64Endian');
              return `setU64Endian(this.view, ${o}, ${check(v)}, false);`;
            }
            used.check.add('setU64');
            return `setU64(this.view, ${o}, ${check(v)});`;
          }
          return t.bits === 8 ? `this.view.set${dv}(${o}, ${check(v)});` : `this.view.set${dv}(${o}, ${check(v)}, ${le});`;
        };
        const bigNote = t.bits === 64 ? ` Read as a number: throws a RangeError past 2^53 - 1 (use {@link ${job.className}.${length === null && !flexible ? n.big : n.arrayBig}} for the full range).` : '';
        const endianNote = t.endian === 'big' ? ' Big-endian (network byte order) in memory; read and written as a plain number.' : '';
        if (length === null && !flexible) {
          getters.push({ kind: StructureKind.GetAccessor, name: n.get, returnType: 'number', docs: [headerDoc(`${endianNote}${bigNote}`)], statements: getterBody(at(ff.offset)) });
          setters.push({ kind: StructureKind.SetAccessor, name: n.get, parameters: [{ name: 'value', type: 'number' }], docs: [setterDoc(ff.name, t, false)], statements: [write(at(ff.offset), 'value')] });
          if (t.bits === 64) {
            getters.push({ kind: StructureKind.GetAccessor, name: n.big, returnType: 'bigint', docs: [`\`${ff.name}\` as a bigint: the full ${t.signed ? 'signed' : 'unsigned'} 64-bit range (allocates).`], statements: [`return ${readBig(at(ff.offset))};`] });
            setters.push({ kind: StructureKind.SetAccessor, name: n.big, parameters: [{ name: 'value', type: 'bigint' }], docs: [setterDoc(ff.name, t, true)], statements: [write(at(ff.offset), 'value')] });
          }
        } else {
          const start = at(ff.offset);
          const element = flexible
            ? (used.struct.add('flexElementAt'), `flexElementAt('${errName}', index, this.view, ${start}, ${bytes})`)
            : (used.struct.add('elementAt'), `elementAt('${errName}', index, ${length}, ${start}, ${bytes})`);
          const what = flexible ? 'Element `index` of the flexible array (any element inside the memory given).' : `Element \`index\` (0 to ${(length as number) - 1}).`;
          methods.push({
            kind: StructureKind.Method,
            name: n.arrayGet,
            parameters: [{ name: 'index', type: 'number' }],
            returnType: 'number',
            docs: [`${headerDoc(`${endianNote}${bigNote}`)}\n\n${what}\n\n@returns the element's value`],
            statements: t.bits === 64 ? [`const at = ${element};`, ...read64('at')] : [`return ${read(element)};`],
          });
          methods.push({
            kind: StructureKind.Method,
            name: n.arraySet,
            parameters: [{ name: 'index', type: 'number' }, { name: 'value', type: t.bits === 64 ? 'number | bigint' : 'number' }],
            returnType: 'void',
            docs: [`Sets element \`index\` of \`${ff.name}\` (see {@link ${job.className}.${n.arrayGet}}).`],
            statements: [write(element, 'value')],
          });
          if (t.bits === 64) {
            methods.push({
              kind: StructureKind.Method,
              name: n.arrayBig,
              parameters: [{ name: 'index', type: 'number' }],
              returnType: 'bigint',
              docs: [`Element \`index\` of \`${ff.name}\` as a bigint (allocates).\n\n@returns the element's value`],
              statements: [`return ${readBig(element)};`],
            });
          }
        }
        continue;
      }

      // A record: a named one (ref) or the unnamed type of a named member (inline).
      const elementClass = isRef(f.type) ? classOf(f.type.ref) : `${job.className}${pascalCase(ff.name)}`;
      const elementSize = isRef(f.type) ? (index.records.get(f.type.ref) as NamedRecord).size : isInline(f.type) ? f.type.record.size : 0;
      if (length === null && !flexible) {
        getters.push({
          kind: StructureKind.GetAccessor,
          name: n.get,
          returnType: elementClass,
          docs: [headerDoc(` A new {@link ${elementClass}} over the same memory on each read.`)],
          statements: [`return new ${elementClass}(this.view, ${at(ff.offset)});`],
        });
      } else {
        const start = at(ff.offset);
        const element = flexible
          ? (used.struct.add('flexElementAt'), `flexElementAt('${errName}', index, this.view, ${start}, ${elementSize})`)
          : (used.struct.add('elementAt'), `elementAt('${errName}', index, ${length}, ${start}, ${elementSize})`);
        methods.push({
          kind: StructureKind.Method,
          name: n.arrayGet,
          parameters: [{ name: 'index', type: 'number' }],
          returnType: elementClass,
          docs: [`${headerDoc(` Element \`index\`${flexible ? ' of the flexible array' : ` (0 to ${(length as number) - 1})`} as a new {@link ${elementClass}} over the same memory.`)}\n\n@returns an accessor for the element`],
          statements: [`return new ${elementClass}(this.view, ${element});`],
        });
      }
    }

    const cls: ClassDeclarationStructure = {
      kind: StructureKind.Class,
      name: job.className,
      isExported: true,
      docs: [job.doc.join('\n\n')],
      properties: [
        perAbi
          ? {
              name: 'OFFSETS',
              isStatic: true,
              isReadonly: true,
              docs: [`Byte offset of each field from the start of the record on this process's architecture (they differ between architectures; undefined on one the spec has no layout for).`],
              initializer: (writer) => {
                writer.writeLine(`${layoutConst} === undefined ? undefined : Object.freeze({`);
                writer.indent(() => {
                  for (const ff of flat) {
                    const k = names.get(ff.name)?.get ?? ff.name;
                    writer.writeLine(`/** \`${ff.name}\` */ ${k}: ${layoutConst}.offsets.${k},`);
                  }
                });
                writer.write('})');
              },
            }
          : {
              name: 'OFFSETS',
              isStatic: true,
              isReadonly: true,
              docs: ['Byte offset of each field from the start of the record (anonymous members flattened, as in C).'],
              initializer: frozenLiteral(offsets),
            },
        ...(lengths.length > 0
          ? [{ name: 'LENGTHS', isStatic: true, isReadonly: true, docs: ['Element count of each fixed-length array field.'], initializer: frozenLiteral(lengths) }]
          : []),
        { name: 'view', isReadonly: true, type: 'DataView', docs: ['The DataView every accessor reads and writes through (the one passed in, if a DataView was).'] },
        { name: '#base', type: 'number' },
        { name: '#last', type: 'number' },
        ...(perAbi ? [{ name: '#at', type: `AbiLayout<typeof ${layoutConst}>` }] : []),
      ],
      ctors: [
        {
          docs: [
            `An accessor for the \`${job.cName}\` at \`byteOffset\` in \`memory\`. A DataView is used as it is, without a copy, so many accessors can share one; the record must lie wholly inside it (${perAbi ? `${perAbi.describe('size')} bytes` : `${job.size} bytes`}).\n\n@param memory - The memory holding the record.\n@param byteOffset - Where the record starts, relative to \`memory\`'s own start.`,
          ],
          parameters: [
            { name: 'memory', type: 'AccessorMemory' },
            { name: 'byteOffset', initializer: '0' },
          ],
          statements: [
            ...(perAbi ? [`this.#at = layoutHere('${job.cName}', ${layoutConst});`] : []),
            'this.view = toDataView(memory);',
            `this.#base = checkRecordAt('${job.cName}', this.view, byteOffset, ${sizeConst});`,
            `this.#last = this.view.byteLength - ${sizeConst};`,
          ],
        },
      ],
      getAccessors: getters,
      setAccessors: setters,
      methods,
    };
    if (job.named && perAbi) {
      usesAbiLayouts = true;
      statements.push(perAbi.declaration(layoutConst));
      for (const [what, key] of [['sizeof', 'size'], ['_Alignof', 'align']] as const) {
        statements.push({
          kind: StructureKind.VariableStatement,
          isExported: true,
          declarationKind: VariableDeclarationKind.Const,
          docs: [`\`${what}(${job.named.kind} ${job.cName})\` on this process's architecture (${perAbi.describe(key)}); undefined on an architecture the spec has no layout for.`],
          declarations: [{ name: `${what === 'sizeof' ? 'SIZEOF' : 'ALIGNOF'}_${upperSnake(job.cName)}`, type: 'number | undefined', initializer: `${layoutConst}?.${key}` }],
        });
      }
    } else if (job.named) {
      statements.push({
        kind: StructureKind.VariableStatement,
        isExported: true,
        declarationKind: VariableDeclarationKind.Const,
        docs: [`\`sizeof(${job.named.kind} ${job.cName})\``],
        declarations: [{ name: `SIZEOF_${upperSnake(job.cName)}`, initializer: String(job.size) }],
      });
      statements.push({
        kind: StructureKind.VariableStatement,
        isExported: true,
        declarationKind: VariableDeclarationKind.Const,
        docs: [`\`_Alignof(${job.named.kind} ${job.cName})\``],
        declarations: [{ name: `ALIGNOF_${upperSnake(job.cName)}`, initializer: String(job.align) }],
      });
    }
    statements.push(cls);
  }

  const imports: StatementStructures[] = [];
  if (used.check.size > 0) {
    imports.push({ kind: StructureKind.ImportDeclaration, moduleSpecifier: '../src/abi/check.js', namedImports: [...used.check].sort() });
  }
  imports.push({ kind: StructureKind.ImportDeclaration, moduleSpecifier: '../src/abi/struct.js', namedImports: [...used.struct].sort() });
  imports.push({ kind: StructureKind.ImportDeclaration, moduleSpecifier: '../src/abi/struct.js', isTypeOnly: true, namedImports: ['AccessorMemory'] });

  const helpers: string[] = [];
  if (usesAbiLayouts) {
    const archs = spec.abis.map((a) => a.arch).join(', ');
    helpers.push(
      [
        '/** A per-architecture layout table\'s entry for this process. */',
        'type AbiLayout<T> = NonNullable<T>;',
        '',
        '/** The entry of `byArch` for this process\'s architecture, if the spec has one. */',
        'function layoutFor<T>(byArch: Readonly<Record<string, T>>): T | undefined {',
        '  return Object.hasOwn(byArch, process.arch) ? byArch[process.arch] : undefined;',
        '}',
        '',
        '/** `layout`, or an error naming the record when the spec has no layout for this architecture. */',
        'function layoutHere<T>(record: string, layout: T | undefined): NonNullable<T> {',
        `  if (layout === undefined || layout === null) throw new Error(\`struct \${record}: this build has no layout for process.arch '\${process.arch}' (the spec has ${archs}); extract the spec for it\`);`,
        '  return layout;',
        '}',
      ].join('\n'),
    );
  }
  const header = fileHeader(spec, inputs, 'struct accessors with exact byte offsets');
  const intro = `/**\n * Accessors for the structs and unions of the io_uring UAPI headers, one class per record.\n *\n * @module\n */`;
  // The printer hangs a multi-line initializer one level too deep; set OFFSETS/LENGTHS straight.
  const printed = printSource(header, [intro, ...imports, ...helpers, ...statements])
    .replace(/^ {6}(\/\*\* `[^`\n]*` \*\/ \w+: \d+,)$/gm, '    $1')
    .replace(/^ {4}\} as const\);$/gm, '  } as const);');
  const text = withCategory(printed, 'Structs');
  return { text, records: spec.records.length, classes: classCount, fields: fieldCount };
}

/**
 * The per-ABI layouts of a record with variants: a table by `process.arch` of its size,
 * alignment and flattened field offsets, and how to describe one of them in docs.
 */
function abiLayouts(spec: Spec, record: NamedRecord, names: Map<string, { get: string }>): { declaration: (name: string) => StatementStructures; describe: (key: string) => string } {
  const byAbi = spec.abis.map((abi) => {
    const v = record.variants?.find((x) => x.abis.includes(abi.name));
    const layout = v ?? record;
    const offsets = new Map(flattenFields(layout.fields).map((ff) => [names.get(ff.name)?.get ?? ff.name, ff.offset]));
    return { abi, size: layout.size, align: layout.align, offsets };
  });
  const value = (b: (typeof byAbi)[number], key: string): number | undefined => (key === 'size' ? b.size : key === 'align' ? b.align : b.offsets.get(key));
  return {
    declaration: (name) => ({
      kind: StructureKind.VariableStatement,
      declarationKind: VariableDeclarationKind.Const,
      docs: [`\`${record.kind} ${record.name}\` on this process's architecture: size, alignment and field offsets differ between architectures (spec: ${byAbi.map((b) => b.abi.name).join(', ')}).`],
      declarations: [
        {
          name,
          initializer: (writer) => {
            const keys = [...byAbi[0]!.offsets.keys()];
            writer.write(`layoutFor<{ size: number; align: number; offsets: Readonly<{ ${keys.map((k) => `/** Offset of \`${k}\`. */ ${k}: number`).join('; ')} }> }>({`).newLine();
            writer.indent(() => {
              for (const b of byAbi) {
                writer.writeLine(`${b.abi.arch}: { size: ${b.size}, align: ${b.align}, offsets: Object.freeze({ ${[...b.offsets].map(([k, o]) => `${k}: ${o}`).join(', ')} }) },`);
              }
            });
            writer.write('})');
          },
        },
      ],
    }),
    describe: (key) => {
      const groups = new Map<number | undefined, string[]>();
      for (const b of byAbi) groups.set(value(b, key), [...(groups.get(value(b, key)) ?? []), b.abi.arch]);
      return [...groups].map(([v, archs]) => `${v} on ${archs.join(', ')}`).join(', ');
    },
  };
}

/** `Object.freeze({ ... } as const)` with one documented entry a line, indented by the printer. */
function frozenLiteral(entries: readonly string[]): WriterFunction {
  return (writer) => {
    writer.writeLine('Object.freeze({');
    writer.indent(() => {
      for (const entry of entries) writer.writeLine(`${entry},`);
    });
    writer.write('} as const)');
  };
}

/** TSDoc of a scalar field's setter: what it writes and what it refuses. */
function setterDoc(cName: string, t: ScalarType, big: boolean): string {
  const range = `${t.signed ? 'signed' : 'unsigned'} ${t.bits}-bit`;
  const numberNote = t.bits === 64 && !big ? ' (a number up to 2^53 - 1)' : '';
  return `Writes \`${cName}\`${big ? ' from a bigint' : ''}: an ArgumentError for a value outside the ${range} range${numberNote}, before anything is written.`;
}

function scalarCheck(t: ScalarType, errName: string, used: { check: Set<string> }): (v: string) => string {
  const range = (lo: string, hi: string) => {
    used.check.add('checkIntRange');
    return (v: string) => `checkIntRange('${errName}', ${v}, ${lo}, ${hi})`;
  };
  const fn = (name: string) => {
    used.check.add(name);
    return (v: string) => `${name}('${errName}', ${v})`;
  };
  switch (t.bits) {
    case 8:
      return t.signed ? range('-0x80', '0x7f') : fn('checkU8');
    case 16:
      return t.signed ? range('-0x8000', '0x7fff') : fn('checkU16');
    case 32:
      return t.signed ? fn('checkI32') : fn('checkU32');
    case 64:
      return t.signed ? fn('checkI64') : fn('checkU64');
  }
}

