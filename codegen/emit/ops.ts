/**
 * generated/ops.ts: one builder per ops.json entry, `prepRaw` for any opcode, and the OPS and
 * OPCODE_NAMES tables.
 *
 * A builder is straight-line code: check every argument into a local, then zero the slot and
 * write each field once, with offsets and constant values resolved here from the spec and
 * written as literals. Writes that share a field (fixed bits, `or` arguments, the fixed-file
 * bit) are folded into one expression, so the byte image does not depend on write order.
 */
import { carriedNames, type CarriedNames } from '../spec/carried.js';
import type { OpArg, OpDef, OpsFile, Spec } from '../spec/types.js';
import { arrayLength, flattenFields, isFlexible, isScalar, type SpecIndex, sqeRecord } from './model.js';
import { docText } from './names.js';
import { fileHeader, type Inputs, printSource, withCategory } from './source.js';

/** A scalar field of struct io_uring_sqe, reached by name as in C. */
export interface SqeField {
  name: string;
  offset: number;
  bits: 8 | 16 | 32 | 64;
  signed: boolean;
  isArray: boolean;
  flexible: boolean;
}

export interface SkippedOp {
  builder: string;
  opcode: string;
  reason: string;
}

export interface OpsResult {
  text: string;
  builders: number;
  skipped: SkippedOp[];
  /** Opcodes of the spec with no builder (no ops.json entry, or every entry skipped): raw builder only. */
  rawOnly: string[];
  /** Opcodes of the spec with no ops.json entry at all. */
  withoutEntry: string[];
}

/** The SQE's scalar fields by name (anonymous unions and structs flattened). */
export function sqeFields(index: SpecIndex): Map<string, SqeField> {
  const out = new Map<string, SqeField>();
  for (const ff of flattenFields(sqeRecord(index).fields)) {
    const t = ff.field.type;
    if (!isScalar(t)) continue;
    out.set(ff.name, {
      name: ff.name,
      offset: ff.offset,
      bits: t.bits,
      signed: t.signed,
      isArray: arrayLength(ff.field.array) !== null || isFlexible(ff.field.array),
      flexible: isFlexible(ff.field.array),
    });
  }
  return out;
}

class Skip extends Error {}

type Part =
  | { kind: 'const'; value: bigint; label: string }
  | { kind: 'set'; expr: string; label: string; as: 'number' | 'u64' | 'opId' }
  | { kind: 'or'; expr: string; label: string }
  | { kind: 'inline'; expr: string; label: string; optional: boolean };

interface FieldWrite {
  field: SqeField;
  parts: Part[];
}

const MAX_SAFE = 2n ** 53n - 1n;

function literal(v: bigint): string {
  if (v > MAX_SAFE || v < -MAX_SAFE) return `${v}n`;
  return v >= 0x100n ? `0x${v.toString(16)}` : v.toString();
}

/** Minimum field width each kind needs for its value (address kinds need a full u64). */
const VALUE_BITS: Record<OpArg['kind'], number> = {
  fd: 32, dirfd: 32, rawFd: 32, u8: 8, u16: 16, u32: 32, i32: 32, u64: 64, i64: 64, offset: 64, flags: 0,
  buffer: 64, iovecs: 64, cstring: 64, timespec: 64, bytes: 64, sockaddrOut: 64, msghdr: 64, inline: 0,
  opRef: 64, fileIndex: 32, bufIndex: 16, bufGroup: 16, pointer: 64,
};

/** Kinds whose value is a number|bigint and so must land in a 64-bit field. */
const WIDE_KINDS = new Set<OpArg['kind']>(['u64', 'i64', 'offset', 'opRef', 'pointer', 'buffer', 'iovecs', 'cstring', 'timespec', 'bytes', 'sockaddrOut', 'msghdr']);

const POINTER_KINDS = new Set<OpArg['kind']>(['buffer', 'iovecs', 'cstring', 'timespec', 'bytes', 'sockaddrOut', 'msghdr', 'inline']);

interface Built {
  name: string;
  code: string;
}

interface Imports {
  value: Map<string, string>;
  type: Map<string, string>;
  /** Names imported from ./structs.js (per-ABI record sizes). */
  structs?: Set<string>;
}

const HELPER_MODULE: Record<string, string> = {
  checkFlags: 'check', checkFlagsExcept: 'check', checkU64Bits: 'check', checkI32: 'check', checkI64: 'check', checkIntRange: 'check', checkLengthWithin: 'check', checkOffset: 'check',
  checkU16: 'check', checkU32: 'check', checkU64: 'check', checkU8: 'check', checkView: 'check', setU64: 'check',
  checkCString: 'encode', checkTimespec: 'encode', encodeCString: 'encode', encodeIovecs: 'encode', encodeTimespec: 'encode', Timespec: 'encode',
  FixedFile: 'fd', fileNumber: 'fd', FileRef: 'fd', FdLike: 'fd',
  setOpId: 'op-id',
  SqeTarget: 'sqe-target',
  checkFixedSlot: 'sqe-fill', checkSelectGroup: 'sqe-fill', checkInline: 'sqe-fill', checkIovecs: 'sqe-fill', checkMinBytes: 'sqe-fill', checkOpId: 'sqe-fill', checkSpanWithin: 'sqe-fill',
  checkSqeSize: 'sqe-fill', copyInline: 'sqe-fill', encodeSocklen: 'sqe-fill', opUnsupported: 'sqe-fill', zeroSqe: 'sqe-fill',
  checkMsgHdr: 'msghdr', encodeMsgHdr: 'msghdr', MsgHdr: 'msghdr',
};

/** A single-quoted TypeScript string literal. */
function str(text: string): string {
  return `'${text.replace(/\\/g, '\\\\').replace(/'/g, "\\'").replace(/\n/g, '\\n')}'`;
}

/**
 * ops.json says something self-contradictory or unsafe, whatever the spec: codegen stops
 * (unlike a Skip, which is an entry this spec cannot support and goes into the report).
 */
export class OpsDefinitionError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`ops.json has ${problems.length === 1 ? 'a definition error' : `${problems.length} definition errors`}:\n${problems.map((p) => `  ${p}`).join('\n')}`);
    this.name = 'OpsDefinitionError';
  }
}

function valueNames(v: OpArg['default'] & {}): string[] {
  return typeof v === 'number' ? [] : typeof v === 'string' ? [v] : v;
}

/**
 * Checks of ops.json that no spec can fix, run before any builder is emitted: each problem
 * names the builder and argument and says what to change.
 */
export function checkOpsDefinitions(opsFile: OpsFile): string[] {
  const problems: string[] = [];
  for (const op of opsFile.ops) {
    for (const a of op.args) {
      const at = `${op.builder}: argument ${a.name}`;
      if (a.lengthArg !== undefined && a.lengthField !== undefined) {
        const len = op.args.find((x) => x.name === a.lengthArg);
        problems.push(
          `${at} declares both lengthArg (${a.lengthArg}) and lengthField (${a.lengthField}): with a lengthArg, the length argument's own field${len ? ` (${len.field})` : ''} is the only one written, so lengthField would say something the builder does not do; remove lengthField`,
        );
      }
      if (a.excludeBits !== undefined && a.kind !== 'flags') problems.push(`${at}: excludeBits is only for flags arguments (this one is ${a.kind})`);
      if (a.excludeReason !== undefined && a.excludeBits === undefined) problems.push(`${at}: excludeReason without excludeBits`);
      if (a.maxBits !== undefined && a.kind !== 'u64') problems.push(`${at}: maxBits is only for u64 arguments (this one is ${a.kind})`);
      if (a.maxBits !== undefined && (!Number.isInteger(a.maxBits) || a.maxBits < 1 || a.maxBits > 64)) problems.push(`${at}: maxBits must be an integer from 1 to 64`);
    }
    // A bit an fd argument sets only for a FixedFile must not be settable through a flags
    // argument on the same field: with a plain descriptor it would make the kernel read the
    // number as a registered-file slot.
    for (const a of op.args) {
      if (!a.fixedFlag) continue;
      const bits = valueNames(a.fixedFlag.value);
      for (const f of op.args) {
        if (f.kind !== 'flags' || f.field !== a.fixedFlag.field) continue;
        const missing = bits.filter((b) => !(f.excludeBits ?? []).includes(b));
        if (missing.length > 0) {
          problems.push(
            `${op.builder}: argument ${f.name} can set ${missing.join(' | ')} in ${f.field}, which ${a.name}'s fixedFlag sets only when ${a.name} is a FixedFile; add ${missing.length === 1 ? 'it' : 'them'} to ${f.name}.excludeBits`,
          );
        }
      }
    }
  }
  return problems;
}

/** Emits one builder, or throws Skip with the reason the spec cannot support it. */
function buildOp(op: OpDef, index: SpecIndex, fields: Map<string, SqeField>, imports: Imports, carried: CarriedNames | undefined): Built {
  const use = (name: string): string => {
    const mod = HELPER_MODULE[name];
    if (!mod) throw new Error(`unknown helper ${name}`);
    imports.value.set(name, mod);
    return name;
  };
  const useType = (name: string): string => {
    const mod = HELPER_MODULE[name];
    if (!mod) throw new Error(`unknown helper ${name}`);
    imports.type.set(name, mod);
    return name;
  };
  const opcode = index.opcodes.get(op.opcode);
  if (opcode === undefined) throw new Skip(`opcode ${op.opcode} is not in this spec's enum io_uring_op`);
  const field = (name: string, role: string): SqeField => {
    const f = fields.get(name);
    if (!f) throw new Skip(`${role}: field ${name} is not a field of struct io_uring_sqe in this spec`);
    if (name === 'user_data') throw new Skip(`${role}: user_data belongs to the ring; a builder never writes it`);
    return f;
  };
  const resolve = (value: OpDef['args'][number]['default'] & {}, role: string): bigint => {
    const r = index.resolve(value);
    if ('missing' in r) throw new Skip(`${role}: ${r.missing.join(', ')} ${r.missing.length === 1 ? 'is' : 'are'} not in this spec`);
    return r.value;
  };
  const slotEnd = op.sqe128 ? 128 : 64;

  const writes = new Map<string, FieldWrite>();
  const addPart = (f: SqeField, part: Part): void => {
    let w = writes.get(f.name);
    if (!w) writes.set(f.name, (w = { field: f, parts: [] }));
    w.parts.push(part);
  };
  const needBits = (f: SqeField, bits: number, role: string): void => {
    if (f.isArray && !(f.flexible && bits === 0)) throw new Skip(`${role}: field ${f.name} is an array`);
    if (f.bits < bits) throw new Skip(`${role}: field ${f.name} is ${f.bits} bits, too narrow for the value (${bits} bits)`);
  };

  // Opcode, then fixed values, in ops.json order.
  addPart(field('opcode', 'opcode'), { kind: 'const', value: BigInt(opcode), label: op.opcode });
  for (const fx of op.fixed ?? []) {
    const f = field(fx.field, `fixed ${fx.field}`);
    needBits(f, 1, `fixed ${fx.field}`);
    const value = resolve(fx.value, `fixed ${fx.field}`);
    const fits = f.bits === 64 ? value >= -(2n ** 63n) && value < 2n ** 64n : value >= -(2n ** BigInt(f.bits - 1)) && value < 2n ** BigInt(f.bits);
    if (!fits) throw new Skip(`fixed ${fx.field}: ${value} does not fit the ${f.bits}-bit field`);
    addPart(f, { kind: 'const', value, label: Array.isArray(fx.value) ? fx.value.join(' | ') : String(fx.value) });
  }

  const paramNames = new Set(['sqe', 'view', 'at', ...op.args.map((a) => a.name)]);
  const local = (base: string): string => {
    let n = base;
    while (paramNames.has(n)) n = `${n}_`;
    paramNames.add(n);
    return n;
  };
  const byName = new Map(op.args.map((a) => [a.name, a]));
  const lengthArgOf = new Map<string, OpArg>(); // u32 arg name → the buffer it measures
  for (const a of op.args) {
    if (a.lengthArg !== undefined) {
      if (a.kind !== 'buffer') throw new Skip(`${a.name}: lengthArg is only for buffer arguments`);
      const len = byName.get(a.lengthArg);
      if (!len) throw new Skip(`${a.name}: lengthArg ${a.lengthArg} is not an argument of ${op.builder}`);
      if (a.optional) throw new Skip(`${a.name}: an optional buffer cannot have a lengthArg`);
      lengthArgOf.set(len.name, a);
    }
  }

  const checks: string[] = [];
  const crossChecks: string[] = [];
  const valueOf = new Map<string, string>(); // arg name → local holding its checked number
  const params: { name: string; type: string; optional: boolean }[] = [];
  const paramDocs: string[] = ['sqe - The slot to fill: zeroed first, then written; `user_data` is left to the ring.'];
  const label = (a: OpArg): string => `'${op.builder}: ${a.name}'`;

  // An opcode the header lacks (carried over by an accepted downgrade) is refused whatever the kernel says.
  // (Through a table, not an unconditional call: code after a call returning never would lose its type narrowing.)
  if (carried?.opcodes.has(op.opcode)) checks.push(`if (HEADER_LACKS[${opcode}]) opNotInHeader('${op.builder}', ${opcode}, '${op.opcode}', '${op.minKernel}');`);
  // First of all: an opcode the running kernel lacks (the ring's probe) is refused.
  checks.push(`if (sqe.unsupportedOps?.[${opcode}] === 1) ${use('opUnsupported')}('${op.builder}', ${opcode}, '${op.opcode}', '${op.minKernel}');`);
  if (op.sqe128) checks.push(`${use('checkSqeSize')}('${op.builder}: sqe', sqe, 128);`);

  for (const a of op.args) {
    const role = `argument ${a.name}`;
    const f = field(a.field, role);
    if (a.kind !== 'inline') needBits(f, VALUE_BITS[a.kind], role);
    if (WIDE_KINDS.has(a.kind) && f.bits !== 64) throw new Skip(`${role}: field ${f.name} is ${f.bits} bits; ${a.kind} needs 64`);
    const opt = a.optional === true;
    const def = a.default !== undefined && !POINTER_KINDS.has(a.kind) ? resolve(a.default, `${role} default`) : 0n;
    const ifGiven = (expr: string): string => (opt ? `${a.name} === undefined ? ${literal(def)} : ${expr}` : expr);
    // Optional memory arguments: absent means nothing is pinned and the field stays 0.
    const maybe = (expr: string): string => (opt ? `${a.name} === undefined ? undefined : ${expr}` : expr);
    const unlessAbsent = (local: string, expr: string): string => (opt ? `${local} === undefined ? 0 : ${expr}` : expr);
    const notes: string[] = [];
    let type: string;
    const setOrOr = (expr: string, as: 'number' | 'u64' | 'opId' = f.bits === 64 ? 'u64' : 'number'): void => {
      addPart(f, a.or ? { kind: 'or', expr, label: a.name } : { kind: 'set', expr, label: a.name, as });
    };

    switch (a.kind) {
      case 'fd':
      case 'dirfd':
      case 'rawFd': {
        const allowFixed = a.kind === 'fd' ? a.fixedFile !== false : a.kind === 'rawFd' && a.fixedFlag !== undefined;
        type = allowFixed ? useType('FileRef') : `number | ${useType('FdLike')}`;
        const fdLocal = local(`${a.name}Value`);
        checks.push(`const ${fdLocal} = ${ifGiven(`${use('fileNumber')}(${label(a)}, ${a.name}, ${a.kind === 'dirfd'}, ${allowFixed})`)};`);
        setOrOr(fdLocal);
        if (allowFixed) {
          const fixedLocal = local(`${a.name}IsFixed`);
          checks.push(`const ${fixedLocal} = ${a.name} instanceof ${use('FixedFile')};`);
          // A slot past the ring's registered file table is refused here, not by the kernel.
          checks.push(`if (${fixedLocal}) ${use('checkFixedSlot')}(${label(a)}, sqe, ${fdLocal});`);
          let target: SqeField;
          let bit: bigint;
          let bitName: string;
          if (a.fixedFlag) {
            target = field(a.fixedFlag.field, `${role} fixedFlag`);
            bit = resolve(a.fixedFlag.value, `${role} fixedFlag`);
            bitName = Array.isArray(a.fixedFlag.value) ? a.fixedFlag.value.join(' | ') : String(a.fixedFlag.value);
          } else {
            target = field('flags', role);
            bit = resolve('IOSQE_FIXED_FILE', role);
            bitName = 'IOSQE_FIXED_FILE';
          }
          needBits(target, 1, `${role} fixed-file bit`);
          addPart(target, { kind: 'or', expr: `(${fixedLocal} ? ${literal(bit)} : 0)`, label: `${bitName} when ${a.name} is a FixedFile` });
          notes.push(`A {@link FixedFile} (registered file slot) writes its index and sets \`${bitName}\`${a.fixedFlag ? ` in \`${a.fixedFlag.field}\`` : ''}.`);
        } else if (a.kind === 'dirfd') {
          notes.push('`AT_FDCWD` (-100) for the current directory; registered files are refused here, as the kernel refuses them.');
        }
        break;
      }
      case 'u8':
      case 'u16':
      case 'u32':
      case 'i32':
      case 'bufIndex':
      case 'bufGroup': {
        type = 'number';
        const v = local(`${a.name}Value`);
        const lenOf = lengthArgOf.get(a.name);
        if (lenOf) {
          if (a.kind !== 'u32') throw new Skip(`${role}: a lengthArg must be a u32`);
          // Checked with the buffer it measures, after every argument has its own check.
          crossChecks.push(`const ${v} = ${use('checkLengthWithin')}(${label(a)}, ${a.name}, ${lenOf.name});`);
          notes.push(`At most \`${lenOf.name}.byteLength\`${opt ? `; omitted: the whole of \`${lenOf.name}\`` : ''}.`);
        } else {
          const fn = { u8: 'checkU8', u16: 'checkU16', u32: 'checkU32', i32: 'checkI32', bufIndex: 'checkU16', bufGroup: 'checkU16' }[a.kind];
          checks.push(`const ${v} = ${ifGiven(`${use(fn)}(${label(a)}, ${a.name})`)};`);
        }
        valueOf.set(a.name, v);
        setOrOr(v);
        if (a.kind === 'bufIndex') notes.push('Index of a registered buffer (u16).');
        if (a.kind === 'bufGroup') notes.push('Provided-buffer group id (u16).');
        if (a.kind === 'bufGroup' && op.bufferSelect === true) {
          // The op picks its buffer from the group: one the ring does not have is refused here.
          checks.push(`${use('checkSelectGroup')}(${label(a)}, sqe, ${v});`);
          notes.push('A group the ring does not have is refused before anything is written.');
        }
        break;
      }
      case 'u64':
      case 'i64':
      case 'offset':
      case 'pointer': {
        type = 'number | bigint';
        const v = local(`${a.name}Value`);
        const maxBits = a.kind === 'u64' && a.maxBits !== undefined && a.maxBits < 64 ? a.maxBits : null;
        const fn = { u64: 'checkU64', i64: 'checkI64', offset: 'checkOffset', pointer: 'checkU64' }[a.kind];
        const call = maxBits !== null ? `${use('checkU64Bits')}(${label(a)}, ${a.name}, ${maxBits})` : `${use(fn)}(${label(a)}, ${a.name})`;
        checks.push(`const ${v} = ${ifGiven(call)};`);
        setOrOr(v, 'u64');
        if (a.kind === 'offset') notes.push('A file offset: 0 to 2^63 - 1 (a bigint past 2^53), or -1 for the current position.');
        if (a.kind === 'pointer') notes.push('A raw address, pinned by nobody: the caller keeps that memory alive until the final CQE.');
        if (maxBits !== null) notes.push(maxBits >= 53 ? `A number up to 2^53, or a bigint below 2^${maxBits}; larger values are refused.` : `An integer below 2^${maxBits}; larger values are refused.`);
        else if (a.kind === 'u64' || a.kind === 'i64') notes.push('A number up to 2^53, or a bigint for the full 64-bit range.');
        break;
      }
      case 'flags': {
        type = 'number';
        const v = local(`${a.name}Value`);
        const fieldMax = (1n << BigInt(Math.min(f.bits, 32))) - 1n;
        const known = index.knownBits(a.flagSet ?? '');
        if (known === null && !a.allowUnknownBits) throw new Skip(`${role}: flag set ${a.flagSet} is not in this spec`);
        // Bits this builder refuses: resolved here, so an excluded name missing from this spec
        // is a bit the spec does not know either (refused anyway) unless unknown bits pass.
        let excluded = 0n;
        const excludedEntries: string[] = [];
        const excludedShown: string[] = [];
        for (const n of a.excludeBits ?? []) {
          const value = index.values.get(n);
          if (value === undefined) {
            if (a.allowUnknownBits) throw new Skip(`${role}: excluded bit ${n} is not in this spec, so the builder cannot refuse it`);
            continue;
          }
          const bits = value & fieldMax;
          if (bits === 0n) throw new Skip(`${role}: excluded bit ${n} (${value}) does not fit the ${f.bits}-bit field ${f.name}`);
          excluded |= bits;
          excludedEntries.push(`${n}=0x${bits.toString(16)}`);
          excludedShown.push(`\`${n}\``);
        }
        const base = a.allowUnknownBits ? fieldMax : (known as bigint) & fieldMax;
        const mask = base & ~excluded;
        if (excluded === 0n) {
          const shown = a.allowUnknownBits && f.bits >= 32 ? '-1' : `0x${mask.toString(16)}`;
          checks.push(`const ${v} = ${ifGiven(`${use('checkFlags')}(${label(a)}, ${a.name}, ${shown}, '${a.flagSet}')`)};`);
        } else {
          const call = `${use('checkFlagsExcept')}(${label(a)}, ${a.name}, 0x${mask.toString(16)}, '${a.flagSet}', 0x${excluded.toString(16)}, ${str(excludedEntries.join('|'))}, ${str(a.excludeReason ?? '')})`;
          checks.push(`const ${v} = ${ifGiven(call)};`);
        }
        valueOf.set(a.name, v);
        setOrOr(v);
        notes.push(
          known === null
            ? `Flags defined outside io_uring.h (${a.flagSet}); any ${Math.min(f.bits, 32)}-bit value${excluded === 0n ? '' : ' but the bits below'} is passed on.`
            : `${index.flagSetNames.has(a.flagSet ?? '') ? `\`${a.flagSet}\` (constants.ts)` : `\`enum ${a.flagSet}\``} bits${a.allowUnknownBits ? '; other bits are passed on too' : '; unknown bits are refused'}.`,
        );
        if (excluded !== 0n) notes.push(`Refused here: ${excludedShown.join(', ')}.${a.excludeReason ? ` Why: ${docText(a.excludeReason).replace(/\.$/, '')}.` : ''}`);
        if (a.or) notes.push(`ORed into \`${a.field}\` with the bits the op sets itself.`);
        break;
      }
      case 'buffer':
      case 'bytes': {
        type = 'ArrayBufferView';
        const given = opt ? `${a.name} === undefined ? 0 : ` : '';
        checks.push(opt ? `if (${a.name} !== undefined) ${use('checkView')}(${label(a)}, ${a.name});` : `${use('checkView')}(${label(a)}, ${a.name});`);
        // A record's size: a literal where every ABI agrees, else this process's (structs.ts picks it by process.arch).
        let recordSize: string | undefined;
        if (a.record !== undefined) {
          if (a.elementSize !== undefined || a.elementSizeArg !== undefined || a.minBytes !== undefined) throw new Skip(`${role}: record goes without elementSize, elementSizeArg and minBytes`);
          const rec = index.records.get(a.record);
          if (rec === undefined) throw new Skip(`${role}: record ${a.record} is not in this spec`);
          if (rec.variants === undefined) {
            recordSize = String(rec.size);
          } else {
            const sizeConst = `SIZEOF_${a.record.replace(/^_+/, '').toUpperCase()}`;
            (imports.structs ??= new Set()).add(sizeConst);
            const v = local(`${a.name}RecordSize`);
            const sizeHere = `recordSizeHere('${op.builder}: ${a.name}', '${a.record}', ${sizeConst})`;
            checks.push(`const ${v} = ${opt ? `${a.name} === undefined ? 0 : ${sizeHere}` : sizeHere};`);
            recordSize = v;
          }
          notes.push(`Holds \`struct ${a.record}\`${rec.variants === undefined ? ` (${rec.size} bytes)` : ` (${[rec.size, ...rec.variants.map((x) => x.size)].join(' or ')} bytes, by architecture)`}.`);
        }
        const minBytes = a.minBytes !== undefined ? String(a.minBytes) : a.record !== undefined && a.countArg === undefined ? recordSize : undefined;
        if (minBytes !== undefined) {
          checks.push(opt ? `if (${a.name} !== undefined) ${use('checkMinBytes')}(${label(a)}, ${a.name}, ${minBytes});` : `${use('checkMinBytes')}(${label(a)}, ${a.name}, ${minBytes});`);
          notes.push(`At least ${a.minBytes ?? `sizeof(struct ${a.record})`} bytes.`);
        }
        addPart(f, { kind: 'set', expr: `${given}sqe.pin(${a.name})`, label: a.name, as: 'u64' });
        if (a.lengthField !== undefined) {
          const lf = field(a.lengthField, `${role} lengthField`);
          needBits(lf, 32, `${role} lengthField`);
          addPart(lf, { kind: 'set', expr: `${given}${a.name}.byteLength`, label: `${a.name}.byteLength`, as: lf.bits === 64 ? 'u64' : 'number' });
        }
        const sizeExpr = a.elementSizeArg !== undefined ? a.elementSizeArg : a.elementSize !== undefined ? String(a.elementSize) : a.record !== undefined ? recordSize : undefined;
        if (a.countArg !== undefined || a.elementSizeArg !== undefined) {
          for (const dep of [a.countArg, a.elementSizeArg]) {
            if (dep !== undefined && !byName.has(dep)) throw new Skip(`${role}: ${dep} is not an argument of ${op.builder}`);
          }
          const count = a.countArg !== undefined ? `#${a.countArg}` : '1';
          if (sizeExpr === undefined) throw new Skip(`${role}: countArg without elementSize or elementSizeArg`);
          crossChecks.push(`${opt ? `if (${a.name} !== undefined) ` : ''}${use('checkSpanWithin')}(${label(a)}, ${count}, ${a.elementSizeArg !== undefined ? `#${a.elementSizeArg}` : sizeExpr}, ${a.name});`);
          notes.push(`${a.countArg !== undefined ? `\`${a.countArg}\`` : 'One'} × ${a.elementSizeArg !== undefined ? `\`${a.elementSizeArg}\`` : a.record !== undefined ? `sizeof(struct ${a.record})` : `${sizeExpr}`} bytes must fit in it.`);
        }
        notes.push(accessNote(a));
        break;
      }
      case 'iovecs': {
        type = 'readonly ArrayBufferView[]';
        const v = local(`${a.name}List`);
        checks.push(`const ${v} = ${maybe(`${use('checkIovecs')}(${label(a)}, ${a.name})`)};`);
        addPart(f, { kind: 'set', expr: unlessAbsent(v, `${use('encodeIovecs')}(sqe, ${label(a)}, ${v})`), label: `iovec array of ${a.name}`, as: 'u64' });
        const lf = field(a.lengthField as string, `${role} lengthField`);
        needBits(lf, 16, `${role} lengthField`);
        addPart(lf, { kind: 'set', expr: unlessAbsent(v, `${v}.length`), label: `${a.name}.length`, as: lf.bits === 64 ? 'u64' : 'number' });
        notes.push(`1 to 1024 buffers; they and the iovec array describing them are ${accessNote(a).replace(/^Pinned/, 'pinned')}`);
        break;
      }
      case 'cstring': {
        type = 'string | Uint8Array';
        const v = local(`${a.name}Checked`);
        checks.push(`const ${v} = ${maybe(`${use('checkCString')}(${label(a)}, ${a.name})`)};`);
        addPart(f, { kind: 'set', expr: unlessAbsent(v, `${use('encodeCString')}(sqe, ${v})`), label: `NUL-terminated copy of ${a.name}`, as: 'u64' });
        notes.push('A string (encoded as UTF-8) or bytes, without NUL; a NUL-terminated copy is pinned until the op\'s final CQE.');
        break;
      }
      case 'timespec': {
        type = useType('Timespec');
        const v = local(`${a.name}Checked`);
        checks.push(`const ${v} = ${maybe(`${use('checkTimespec')}(${label(a)}, ${a.name})`)};`);
        addPart(f, { kind: 'set', expr: unlessAbsent(v, `${use('encodeTimespec')}(sqe, ${v})`), label: `struct __kernel_timespec of ${a.name}`, as: 'u64' });
        notes.push('Copied into a `struct __kernel_timespec` that is pinned until the op\'s final CQE.');
        break;
      }
      case 'sockaddrOut': {
        type = 'ArrayBufferView | null';
        checks.push(`if (${a.name} != null) ${use('checkView')}(${label(a)}, ${a.name});`);
        addPart(f, { kind: 'set', expr: `${a.name} == null ? 0 : sqe.pin(${a.name})`, label: a.name, as: 'u64' });
        const lf = field(a.lengthField as string, `${role} lengthField`);
        needBits(lf, 64, `${role} lengthField`);
        addPart(lf, { kind: 'set', expr: `${a.name} == null ? 0 : ${use('encodeSocklen')}(sqe, ${a.name})`, label: `socklen_t for ${a.name}`, as: 'u64' });
        notes.push('Receives the peer address (null: not wanted); it and a `socklen_t` set to its size are pinned until the op\'s final CQE, when the kernel has written both.');
        break;
      }
      case 'msghdr': {
        type = useType('MsgHdr');
        const v = local(`${a.name}Checked`);
        checks.push(`const ${v} = ${maybe(`${use('checkMsgHdr')}(${label(a)}, ${a.name})`)};`);
        addPart(f, { kind: 'set', expr: unlessAbsent(v, `${use('encodeMsgHdr')}(sqe, ${v})`), label: `struct msghdr of ${a.name}`, as: 'u64' });
        notes.push('Its `struct msghdr` is rewritten for this op; it, its iovec array and its name, data and control buffers are pinned until the op\'s final CQE, after which `nameLength`, `controlLength` and `flags` read what the kernel wrote back.');
        break;
      }
      case 'inline': {
        type = 'Uint8Array';
        const v = local(`${a.name}Bytes`);
        checks.push(`const ${v} = ${maybe(`${use('checkInline')}(${label(a)}, ${a.name}, sqe.size - ${f.offset})`)};`);
        addPart(f, { kind: 'inline', expr: v, label: a.name, optional: opt });
        notes.push(`Copied into the SQE at \`${a.field}\` (offset ${f.offset}), up to the slot's end (${slotEnd - f.offset} bytes${op.sqe128 ? ' in a 128-byte slot' : ''}); not pinned.`);
        break;
      }
      case 'opRef': {
        type = 'number';
        const v = local(`${a.name}Value`);
        checks.push(`const ${v} = ${ifGiven(`${use('checkOpId')}(${label(a)}, ${a.name})`)};`);
        addPart(f, { kind: 'set', expr: v, label: a.name, as: 'opId' });
        notes.push('The op id the ring gave the target operation (written as its tagged user_data).');
        break;
      }
      case 'fileIndex': {
        const plus = a.plusOne === true;
        type = a.alloc ? "number | 'alloc'" : 'number';
        const v = local(`${a.name}Value`);
        const max = plus ? 0xfffffffd : 0xffffffff;
        let expr = `${use('checkIntRange')}(${label(a)}, ${a.name}, 0, 0x${max.toString(16)})${plus ? ' + 1' : ''}`;
        if (a.alloc) {
          const alloc = resolve('IORING_FILE_INDEX_ALLOC', role);
          expr = `${a.name} === 'alloc' ? ${literal(alloc)} : ${expr}`;
        }
        checks.push(`const ${v} = ${ifGiven(expr)};`);
        setOrOr(v);
        notes.push(`A slot of the registered file table${plus ? ' (written as slot + 1; 0 means none)' : ''}${a.alloc ? "; 'alloc' lets the kernel pick a free slot (`IORING_FILE_INDEX_ALLOC`) and return it in res" : ''}.`);
        break;
      }
    }
    params.push({ name: a.name, type, optional: opt });
    const defNote = opt ? (a.default !== undefined && !POINTER_KINDS.has(a.kind) ? ` Optional: default ${Array.isArray(a.default) ? a.default.join(' | ') : String(a.default)}.` : ' Optional.') : '';
    paramDocs.push(`${a.name} - ${docText(a.doc)}${notes.length > 0 ? ` ${notes.join(' ')}` : ''}${defNote}`);
  }

  // Cross-argument checks name other arguments' checked values as #name.
  for (const c of crossChecks) {
    checks.push(
      c.replace(/#([A-Za-z0-9]+)/g, (_, n: string) => {
        const v = valueOf.get(n);
        if (!v) throw new Skip(`${n} must be a numeric argument to size a buffer`);
        return v;
      }),
    );
  }

  // Fold the writes, refusing overlaps ops.json did not ask for.
  const spans: { from: number; to: number; name: string }[] = [];
  const body: string[] = [];
  for (const w of writes.values()) {
    const f = w.field;
    const consts = w.parts.filter((p): p is Extract<Part, { kind: 'const' }> => p.kind === 'const');
    const sets = w.parts.filter((p): p is Extract<Part, { kind: 'set' }> => p.kind === 'set');
    const ors = w.parts.filter((p): p is Extract<Part, { kind: 'or' }> => p.kind === 'or');
    const inl = w.parts.filter((p): p is Extract<Part, { kind: 'inline' }> => p.kind === 'inline');
    const to = inl.length > 0 ? slotEnd : f.offset + f.bits / 8;
    for (const s of spans) {
      if (f.offset < s.to && s.from < to) throw new Skip(`fields ${s.name} and ${f.name} overlap (bytes ${Math.max(f.offset, s.from)} to ${Math.min(to, s.to) - 1}) and both are written`);
    }
    spans.push({ from: f.offset, to, name: f.name });
    if (sets.length > 1) throw new Skip(`field ${f.name} is set by both ${sets.map((s) => s.label).join(' and ')}`);
    if (sets.length === 1 && consts.length > 0 && f.name !== 'opcode') {
      throw new Skip(`field ${f.name} is set by ${sets[0]?.label} and also fixed to ${consts.map((c) => c.label).join(' | ')}`);
    }
    const at = f.offset === 0 ? 'at' : `at + ${f.offset}`;
    const constValue = consts.reduce((acc, c) => acc | c.value, 0n);
    const comment = ` // ${f.name}: ${[...consts.map((c) => c.label), ...sets.map((s) => s.label), ...ors.map((o) => o.label), ...inl.map((i) => i.label)].join(' | ')}`;
    if (inl.length > 0) {
      if (w.parts.length > 1) throw new Skip(`field ${f.name} is copied inline and written by something else too`);
      const only = inl[0] as Extract<Part, { kind: 'inline' }>;
      const copy = `${use('copyInline')}(view, ${at}, ${only.expr});${comment}`;
      body.push(only.optional ? `if (${only.expr} !== undefined) ${copy}` : copy);
      continue;
    }
    if (f.bits === 64) {
      const nonConst = [...sets, ...ors];
      if (nonConst.length > 1 || (nonConst.length === 1 && constValue !== 0n)) {
        throw new Skip(`64-bit field ${f.name} would need ${w.parts.map((p) => p.label).join(' | ')} combined`);
      }
      const only = nonConst[0];
      if (only) {
        if (only.kind === 'set' && only.as === 'opId') body.push(`${use('setOpId')}(view, ${at}, ${only.expr});${comment}`);
        else body.push(`${use('setU64')}(view, ${at}, ${only.expr});${comment}`);
      } else if (constValue !== 0n) {
        const u = BigInt.asUintN(64, constValue);
        if (u <= MAX_SAFE) {
          body.push(`${use('setU64')}(view, ${at}, ${literal(u)});${comment}`);
        } else {
          body.push(`view.setUint32(${at}, 0x${(u & 0xffffffffn).toString(16)}, true);${comment}`);
          body.push(`view.setUint32(at + ${f.offset + 4}, 0x${(u >> 32n).toString(16)}, true);`);
        }
      }
      continue;
    }
    const width = BigInt(f.bits);
    const c = f.signed ? BigInt.asIntN(Number(width), constValue) : BigInt.asUintN(Number(width), constValue);
    const exprs = [...sets.map((s) => s.expr), ...ors.map((o) => o.expr), ...(constValue !== 0n || (sets.length + ors.length === 0) ? [literal(c)] : [])];
    // A lone conditional needs no parentheses; ORed with others it does.
    if (exprs.length === 1) exprs[0] = (exprs[0] as string).replace(/^\((.*)\)$/, '$1');
    if (sets.length + ors.length === 0 && constValue === 0n) continue; // zeroed already
    const setter = `set${f.signed ? 'Int' : 'Uint'}${f.bits}`;
    const value = exprs.join(' | ');
    body.push(f.bits === 8 ? `view.${setter}(${at}, ${value});${comment}` : `view.${setter}(${at}, ${value}, true);${comment}`);
  }

  // Parameters: optional ones become `name?:` only where nothing required follows.
  const lastRequired = params.reduce((acc, p, i) => (p.optional ? acc : i), -1);
  const sig = [`sqe: ${useType('SqeTarget')}`, ...params.map((p, i) => (p.optional && i > lastRequired ? `${p.name}?: ${p.type}` : p.optional ? `${p.name}: ${p.type} | undefined` : `${p.name}: ${p.type}`))];

  const docs = opDoc(op, opcode, paramDocs);
  const code = [
    docs,
    `export function ${op.builder}(${sig.join(', ')}): void {`,
    ...checks.map((c) => `  ${c}`),
    '  const view = sqe.view;',
    '  const at = sqe.offset;',
    `  ${use('zeroSqe')}(view, at, sqe.size);`,
    ...body.map((b) => `  ${b}`),
    '}',
  ].join('\n');
  return { name: op.builder, code };
}

function accessNote(a: OpArg): string {
  const who = a.access === 'read' ? 'the kernel reads it' : a.access === 'write' ? 'the kernel writes into it' : a.access === 'readwrite' ? 'the kernel reads and writes it' : 'the kernel uses it';
  return `Pinned (kept alive) until the op's final CQE; ${who}.`;
}

function opDoc(op: OpDef, opcode: number, paramDocs: string[]): string {
  const lines: string[] = [docText(op.doc), ''];
  lines.push(`Prepares \`${op.opcode}\` (opcode ${opcode}), since Linux ${op.minKernel}; liburing: \`${op.liburing}\`.`);
  lines.push('', `Result: ${docText(op.result)}`);
  if (op.cqeFlags) lines.push('', `CQE flags: ${docText(op.cqeFlags)}`);
  const traits: string[] = [];
  if (op.multishot) traits.push('Multishot: posts CQEs with `IORING_CQE_F_MORE` until a final one without it; everything pinned stays referenced until that final CQE.');
  if (op.bufferSelect) traits.push('Buffer select: the kernel picks a provided buffer from the group (`IOSQE_BUFFER_SELECT` is set); `cqe.flags` has `IORING_CQE_F_BUFFER` and the buffer id in its upper 16 bits.');
  if (op.createsFd === 'fd') traits.push('Creates a descriptor: a successful `res` is a new file descriptor the caller must close.');
  if (op.createsFd === 'fixed') traits.push('Creates a direct descriptor: a successful result names a registered file slot the caller must close.');
  if (op.createsFd === 'either') traits.push('Creates a descriptor: a plain fd, or a registered file slot when a slot was given; the caller must close it.');
  if (op.sqe128) traits.push('Needs a 128-byte SQE slot (a ring set up with `IORING_SETUP_SQE128`, or `IORING_SETUP_SQE_MIXED`).');
  if (traits.length > 0) lines.push('', ...traits);
  const fixed = (op.fixed ?? []).map((f) => `\`${f.field}\` = ${Array.isArray(f.value) ? f.value.join(' | ') : String(f.value)}${f.why ? ` (${docText(f.why)})` : ''}`);
  if (fixed.length > 0) lines.push('', `Fixed: ${fixed.join('; ')}.`);
  lines.push('');
  for (const p of paramDocs) lines.push(`@param ${p}`);
  lines.push('@returns void: the SQE is filled in place.');
  for (const s of op.seeAlso ?? []) lines.push(`@see {@link ${s}}`);
  return `/**\n${lines.map((l) => ` * ${l}`.trimEnd()).join('\n')}\n */`;
}

export function emitOps(spec: Spec, index: SpecIndex, opsFile: OpsFile, inputs: Inputs): OpsResult {
  const problems = checkOpsDefinitions(opsFile);
  if (problems.length > 0) throw new OpsDefinitionError(problems);
  const fields = sqeFields(index);
  const carried = carriedNames(spec);
  const imports: Imports = { value: new Map(), type: new Map(), structs: new Set() };
  const builders: Built[] = [];
  const skipped: SkippedOp[] = [];
  const built: OpDef[] = [];
  const seen = new Set<string>();
  for (const op of opsFile.ops) {
    if (seen.has(op.builder)) {
      skipped.push({ builder: op.builder, opcode: op.opcode, reason: 'a second entry with this builder name' });
      continue;
    }
    seen.add(op.builder);
    // Each op collects its imports separately so a skipped op leaves none behind.
    const own: Imports = { value: new Map(), type: new Map() };
    try {
      builders.push(buildOp(op, index, fields, own, carried));
      for (const [k, v] of own.value) imports.value.set(k, v);
      for (const [k, v] of own.type) imports.type.set(k, v);
      for (const k of own.structs ?? []) imports.structs?.add(k);
      built.push(op);
    } catch (err) {
      if (!(err instanceof Skip)) throw err;
      skipped.push({ builder: op.builder, opcode: op.opcode, reason: err.message });
    }
  }
  imports.value.set('checkU8', 'check');
  imports.value.set('opUnsupported', 'sqe-fill');
  imports.value.set('zeroSqe', 'sqe-fill');
  imports.type.set('SqeTarget', 'sqe-target');

  const opcodeNames = [...index.opcodes.entries()].sort((a, b) => a[1] - b[1]);
  const withEntry = new Set(opsFile.ops.map((o) => o.opcode));
  const withBuilder = new Set(built.map((o) => o.opcode));
  const rawOnly = opcodeNames.map(([n]) => n).filter((n) => !withBuilder.has(n));
  const withoutEntry = opcodeNames.map(([n]) => n).filter((n) => !withEntry.has(n));

  const out: string[] = [];
  const modules = [...new Set([...imports.value.values(), ...imports.type.values()])].sort();
  for (const mod of modules) {
    const values = [...imports.value].filter(([, m]) => m === mod).map(([n]) => n).sort();
    const types = [...imports.type].filter(([, m]) => m === mod).map(([n]) => n).filter((n) => !values.includes(n)).sort();
    if (values.length === 0) {
      out.push(`import type { ${types.join(', ')} } from '../src/abi/${mod}.js';`);
    } else {
      out.push(`import { ${[...values, ...types.map((t) => `type ${t}`)].join(', ')} } from '../src/abi/${mod}.js';`);
    }
  }
  const structNames = [...(imports.structs ?? [])].sort();
  const refusesCarried = built.some((o) => carried?.opcodes.has(o.opcode));
  if (refusesCarried) out.push(`import { UnsupportedOpError } from '../src/errors.js';`);
  if (structNames.length > 0) out.push(`import { ${structNames.join(', ')} } from './structs.js';`);
  out.push(`export type { FileRef, FdLike } from '../src/abi/fd.js';`);
  out.push(`export type { Timespec } from '../src/abi/encode.js';`);
  out.push(`export { MsgHdr, type MsgHdrInit } from '../src/abi/msghdr.js';`);
  out.push(`export type { SqeTarget } from '../src/abi/sqe-target.js';`);
  out.push('');

  if (structNames.length > 0) {
    out.push(
      [
        '/**',
        ' * The size of a record whose layout differs between architectures, on this one; an error',
        ' * (before anything is written) on an architecture the spec has no layout for.',
        ' */',
        'function recordSizeHere(what: string, record: string, size: number | undefined): number {',
        '  if (size === undefined) throw new Error(`${what}: this build has no layout of struct ${record} for process.arch \'${process.arch}\' (the spec has one for ' +
          `${spec.abis.map((x) => x.arch).join(', ')}); extract the spec for it\`);`,
        '  return size;',
        '}',
        '',
      ].join('\n'),
    );
  }
  if (refusesCarried && carried) {
    out.push(
      [
        '/**',
        ` * Refuses an opcode the ${carried.header} header this build was generated from lacks: its name and`,
        ` * builder were carried over from the spec of Linux ${carried.from} (npm run spec --allow-downgrade) so that`,
        ' * code naming it compiles, but nothing from this header describes it.',
        ' */',
        `const HEADER_LACKS: Readonly<Record<number, true>> = Object.freeze({ ${[...carried.opcodes].map((n) => `${index.opcodes.get(n)}: true`).join(', ')} });`,
        '',
        '/** Throws the UnsupportedOpError of a builder whose opcode the header lacks. */',
        'function opNotInHeader(builder: string, opcode: number, opName: string, minKernel: string): never {',
        '  const error = new UnsupportedOpError(builder, opcode, opName, minKernel);',
        `  error.message = \`\${builder}: \${opName} is not in the ${carried.header} header this build was generated from ` +
          `(kept from the spec of Linux ${carried.from} so that code naming it compiles); regenerate from a Linux \${minKernel} or newer header (npm run spec -- --header DIR) to use it\`;`,
        '  throw error;',
        '}',
        '',
      ].join('\n'),
    );
  }
  for (const b of builders) out.push(b.code, '');

  out.push(
    [
      '/**',
      ' * Prepares an SQE for any opcode: zeroes the slot and writes `opcode`, nothing else. For',
      ' * opcodes without a typed builder (codegen names them in its report, and in',
      ' * {@link RAW_ONLY_OPCODES}) or newer than this build; fill the other fields with',
      ' * `IoUringSqe` from structs.ts over `sqe.view` at `sqe.offset`, and pin any memory yourself.',
      ' *',
      ' * @param sqe - The slot to fill.',
      ' * @param opcode - Any opcode number (0 to 255); one `sqe.unsupportedOps` marks is refused with',
      ' *   `UnsupportedOpError`, and the kernel refuses others it lacks with -EINVAL.',
      ' * @returns void: the SQE is filled in place.',
      ' */',
      'export function prepRaw(sqe: SqeTarget, opcode: number): void {',
      "  const op = checkU8('prepRaw: opcode', opcode);",
      "  if (sqe.unsupportedOps?.[op] === 1) opUnsupported('prepRaw', op, OPCODE_NAMES[op] ?? `opcode ${op}`, null);",
      '  zeroSqe(sqe.view, sqe.offset, sqe.size);',
      '  sqe.view.setUint8(sqe.offset, op);',
      '}',
      '',
    ].join('\n'),
  );

  out.push(
    [
      '/** What the runtime and tools know about each builder, from ops.json. */',
      'export interface OpInfo {',
      '  /** The `IORING_OP_*` value. */',
      '  readonly opcode: number;',
      '  /** The `IORING_OP_*` name. */',
      '  readonly opcodeName: string;',
      '  /** First kernel release with this op (or this variant of it). */',
      '  readonly minKernel: string;',
      '  /** The liburing helper it mirrors. */',
      '  readonly liburing: string;',
      '  /** Posts CQEs with IORING_CQE_F_MORE until a final one. */',
      '  readonly multishot: boolean;',
      '  /** Whether a successful res is a new descriptor (`fd`), a registered slot (`fixed`), or either. */',
      "  readonly createsFd: 'fd' | 'fixed' | 'either' | null;",
      '  /** Picks a provided buffer (IOSQE_BUFFER_SELECT); cqe.flags carries the buffer id. */',
      '  readonly bufferSelect: boolean;',
      '  /** Needs a 128-byte SQE slot. */',
      '  readonly sqe128: boolean;',
      '}',
      '',
      '/** The name of every generated builder. */',
      `export type OpBuilderName = ${built.length === 0 ? 'never' : built.map((o) => `'${o.builder}'`).join(' | ')};`,
      '',
      '/** Metadata of every builder, by builder name. */',
      'export const OPS: Readonly<Record<OpBuilderName, OpInfo>> = Object.freeze({',
      ...built.map(
        (o) =>
          `  ${o.builder}: Object.freeze({ opcode: ${index.opcodes.get(o.opcode)}, opcodeName: '${o.opcode}', minKernel: '${o.minKernel}', liburing: '${o.liburing}', multishot: ${o.multishot === true}, createsFd: ${o.createsFd ? `'${o.createsFd}'` : 'null'}, bufferSelect: ${o.bufferSelect === true}, sqe128: ${o.sqe128 === true} }),`,
      ),
      '});',
      '',
      '/** The name of every opcode this build knows, by number (for messages and the probe). */',
      'export const OPCODE_NAMES: Readonly<Record<number, string>> = Object.freeze({',
      ...opcodeNames.map(([n, v]) => `  ${v}: '${n}',`),
      '});',
      '',
      '/** Opcodes this build knows that have no typed builder: use {@link prepRaw}. */',
      `export const RAW_ONLY_OPCODES: readonly string[] = Object.freeze([${rawOnly.map((n) => `'${n}'`).join(', ')}]);`,
      '',
      '/**',
      ' * Opcodes the header this build was generated from does not define (kept from a newer spec by',
      ' * `npm run spec -- --allow-downgrade`): their builders always refuse. Empty for a build from a',
      " * header that has every opcode; a ring may mark these unsupported alongside its probe's verdict.",
      ' */',
      `export const NOT_IN_HEADER_OPCODES: readonly string[] = Object.freeze([${[...(carried?.opcodes ?? [])].map((n) => `'${n}'`).join(', ')}]);`,
    ].join('\n'),
  );

  const header = fileHeader(spec, inputs, 'one typed SQE builder per ops.json entry');
  const intro = '/**\n * SQE builders: one `prepXxx(sqe, ...)` per entry of spec/ops.json, and `prepRaw` for any opcode.\n *\n * Each checks every argument before writing anything, then zeroes the slot and writes the\n * opcode, the fixed fields and the arguments at the offsets of this build\'s spec.\n *\n * @module\n */';
  const text = withCategory(printSource(header, [intro, out.join('\n')]), 'Builders');
  return { text, builders: builders.length, skipped, rawOnly, withoutEntry };
}

