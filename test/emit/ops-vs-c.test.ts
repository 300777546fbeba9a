/**
 * Every builder's byte image against C (issue 3 item 6).
 *
 * For each ops.json entry the test calls the generated builder on a plain-buffer SqeTarget whose
 * `pin` hands out fake addresses and records what it pinned, with distinctive arguments, twice
 * (plain values, then variants: FixedFile, bigint, -1, 'alloc', omitted optionals, null). From
 * ops.json alone it then writes C that sets the same SQE fields by their C names, with the
 * header's own constant names for opcodes and fixed values, compiles it against the header the spec
 * came from (its provenance says which)
 * and compares all 64 (or 128) bytes. What was pinned is checked too: every buffer by identity,
 * and the iovec arrays, strings, timespecs, socklens and msghdrs by content.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { hostAbi } from '../../codegen/extract/abi.js';
import { SpecIndex } from '../../codegen/emit/model.js';
import { layoutOn } from '../../codegen/spec/abi-layout.js';
import { sqeFields } from '../../codegen/emit/ops.js';
import { loadOps, loadSpec } from '../../codegen/spec/load.js';
import type { OpArg, OpDef, OpsFile, OpsValue, Spec } from '../../codegen/spec/types.js';
import { FixedFile } from '../../src/abi/fd.js';
import { MsgHdr } from '../../src/abi/msghdr.js';
import { UnsupportedOpError } from '../../src/errors.js';
import { cCompiler, compileAndRun, hex, REAL_OPS, REAL_SPEC, tempDir } from './helpers.js';

const GUARD = 0xaa;
const SLOT_AT = 24;

interface Pin {
  mem: ArrayBufferView;
  addr: bigint;
  bytes: Uint8Array;
}

class FakeSqe {
  readonly view: DataView;
  readonly pins: Pin[] = [];
  private next = 0x7f3a_0000_1000n;
  constructor(
    readonly size: number,
    readonly offset = SLOT_AT,
  ) {
    const mem = new Uint8Array(offset + size + 16).fill(GUARD);
    this.view = new DataView(mem.buffer);
  }
  pin(mem: ArrayBufferView): number {
    const addr = this.next + BigInt(mem.byteOffset);
    this.next += 0x1_0000n;
    this.pins.push({ mem, addr, bytes: new Uint8Array(mem.buffer, mem.byteOffset, mem.byteLength).slice() });
    return Number(addr);
  }
  slot(): Uint8Array {
    return new Uint8Array(this.view.buffer, this.offset, this.size);
  }
  untouchedOutside(): boolean {
    const all = new Uint8Array(this.view.buffer);
    return all.every((b, i) => (i >= this.offset && i < this.offset + this.size) || b === GUARD);
  }
}

type Variant = 'plain' | 'variant';

/** A view with a non-zero byteOffset, so a pin that forgot it would show. */
function view(n: number, seed: number): Uint8Array {
  const backing = new Uint8Array(n + 16);
  for (let i = 0; i < backing.length; i++) backing[i] = (seed * 31 + i * 7) & 0xff;
  return backing.subarray(8, 8 + n);
}

const utf8 = new TextEncoder();

function u64le(dv: DataView, o: number): bigint {
  return dv.getBigUint64(o, true);
}

/** C text for an ops.json value: the header's own names, so C checks them too. */
function cValue(v: OpsValue): string {
  if (typeof v === 'number') return v < 0 ? `(${v}LL)` : `${v}ULL`;
  return `(${(typeof v === 'string' ? [v] : v).join(' | ')})`;
}

function cLiteral(v: bigint | number): string {
  const b = BigInt(v);
  return b < 0n ? `(-0x${(-b).toString(16)}LL)` : `0x${b.toString(16)}ULL`;
}

interface Case {
  name: string;
  op: OpDef;
  size: number;
  bytes: string;
  c: string[];
}

const compiler = cCompiler();

describe.skipIf('skip' in compiler)("every builder against C (the spec's own header)", () => {
  let spec: Spec;
  let index: SpecIndex;
  let ops: OpsFile;
  let mod: Record<string, unknown>;
  beforeAll(async () => {
    spec = loadSpec(REAL_SPEC);
    index = new SpecIndex(spec);
    ops = loadOps(REAL_OPS);
    mod = (await import('../../generated/ops.js')) as Record<string, unknown>;
  });

  /** Arguments for one call, and the C statements ops.json says they turn into. */
  function build(op: OpDef, variant: Variant, sqe: FakeSqe): { args: unknown[]; expect: (pins: Pin[]) => string[]; pinned: () => ArrayBufferView[] } {
    const fields = sqeFields(index);
    const args: unknown[] = [];
    const lengthArgOf = new Map<string, OpArg>();
    for (const a of op.args) if (a.lengthArg) lengthArgOf.set(a.lengthArg, a);
    const sizeArgs = new Set(op.args.flatMap((a) => [a.countArg, a.elementSizeArg].filter((x): x is string => x !== undefined)));
    const values = new Map<string, unknown>();
    // Sizes first: buffers are made to fit the counts and element sizes they are checked against.
    op.args.forEach((a, i) => {
      if (sizeArgs.has(a.name)) values.set(a.name, 3 + i);
    });
    const bufferSize = (a: OpArg, i: number): number => {
      let n = 40 + i * 8;
      // A record's size on this machine (spec records are laid out per ABI; the builder picks by process.arch).
      const recordSize = a.record === undefined ? undefined : layoutOn(index.records.get(a.record)!, hostAbi()!.name).size;
      if (a.minBytes !== undefined) n = Math.max(n, a.minBytes + 4);
      if (recordSize !== undefined) n = Math.max(n, recordSize + 4);
      const count = a.countArg !== undefined ? (values.get(a.countArg) as number) : 1;
      const size = a.elementSizeArg !== undefined ? (values.get(a.elementSizeArg) as number) : a.elementSize ?? recordSize ?? 1;
      return Math.max(n, count * size + 2);
    };
    op.args.forEach((a, i) => {
      if (values.has(a.name)) return;
      const omit = variant === 'variant' && a.optional === true;
      if (omit) {
        values.set(a.name, undefined);
        return;
      }
      const fieldBits = fields.get(a.field)?.bits ?? 32;
      switch (a.kind) {
        case 'fd':
          values.set(a.name, variant === 'variant' && a.fixedFile !== false ? new FixedFile(7 + i) : 40 + i);
          break;
        case 'dirfd':
          values.set(a.name, variant === 'variant' ? -100 : 50 + i);
          break;
        case 'rawFd':
          values.set(a.name, variant === 'variant' && a.fixedFlag ? new FixedFile(11 + i) : 60 + i);
          break;
        case 'u8':
          values.set(a.name, 0xa0 + i);
          break;
        case 'u16':
        case 'bufIndex':
        case 'bufGroup':
          values.set(a.name, 0xb1c0 + i);
          break;
        case 'u32':
          values.set(a.name, lengthArgOf.has(a.name) ? 17 + i : (0xc1d2e3f0 + i) >>> 0);
          break;
        case 'i32':
          values.set(a.name, -(0x1234 + i));
          break;
        case 'u64': {
          // maxBits: the largest value allowed, so the bound is exercised from the inside.
          const limit = a.maxBits !== undefined && a.maxBits < 64 ? (1n << BigInt(a.maxBits)) - 1n : null;
          values.set(a.name, variant === 'variant' ? limit ?? 0xfedc_ba98_7654_3210n : 0x1234_5678_9abc + i);
          break;
        }
        case 'i64':
          values.set(a.name, variant === 'variant' ? -(2n ** 62n) - 5n : -(0x1234_5678 + i));
          break;
        case 'offset':
          values.set(a.name, variant === 'variant' ? -1 : 0x1_0000_1000 + i);
          break;
        case 'pointer':
          values.set(a.name, variant === 'variant' ? 0xffff_8000_0000_1000n : 0x7f00_dead_beef + i);
          break;
        case 'flags': {
          const max = (1n << BigInt(Math.min(fieldBits, 32))) - 1n;
          const known = index.knownBits(a.flagSet ?? '');
          // Every bit the builder accepts: the set's, minus the ones ops.json excludes.
          const excluded = (a.excludeBits ?? []).reduce((acc, n) => acc | (index.values.get(n) ?? 0n), 0n);
          const v = (a.allowUnknownBits ? (0x00c0_0800n + BigInt(i)) & max : (known ?? 0n) & max) & ~excluded;
          values.set(a.name, Number(v));
          break;
        }
        case 'buffer':
        case 'bytes':
          values.set(a.name, view(bufferSize(a, i), i));
          break;
        case 'iovecs':
          values.set(a.name, [view(10, 1), view(20, 2), view(30 + i, 3)]);
          break;
        case 'cstring':
          values.set(a.name, variant === 'variant' ? utf8.encode(`bytes/path-${i}`) : `dir/fïle-${i}`);
          break;
        case 'timespec':
          values.set(a.name, variant === 'variant' ? { sec: 2n ** 40n, nsec: 0 } : { sec: 5 + i, nsec: 123_456_789 });
          break;
        case 'sockaddrOut':
          values.set(a.name, variant === 'variant' ? null : view(112, i));
          break;
        case 'msghdr':
          values.set(a.name, variant === 'variant' ? new MsgHdr({ iov: [view(8, 9)] }) : new MsgHdr({ name: view(16, 4), iov: [view(10, 5), view(20, 6)], control: view(24, 7), flags: 0x40 }));
          break;
        case 'inline': {
          const room = sqe.size - (fields.get(a.field)?.offset ?? 0);
          values.set(a.name, view(variant === 'variant' ? room : Math.min(16, room), 12));
          break;
        }
        case 'opRef':
          values.set(a.name, variant === 'variant' ? 2 ** 40 + 3 : 0x1234 + i);
          break;
        case 'fileIndex':
          values.set(a.name, variant === 'variant' && a.alloc ? 'alloc' : 9 + i);
          break;
      }
    });
    for (const a of op.args) args.push(values.get(a.name));

    const pinOf = (pins: Pin[], mem: ArrayBufferView, what: string): Pin => {
      const p = pins.find((x) => x.mem === mem);
      if (!p) throw new Error(`${what} was not pinned`);
      return p;
    };
    const pinBy = (pins: Pin[], what: string, test: (p: Pin) => boolean): Pin => {
      const p = pins.find(test);
      if (!p) throw new Error(`no pinned ${what}`);
      return p;
    };
    const iovecPin = (pins: Pin[], bufs: readonly ArrayBufferView[]): Pin =>
      pinBy(pins, 'iovec array', (p) => {
        if (p.bytes.byteLength !== bufs.length * 16) return false;
        const dv = new DataView(p.bytes.buffer);
        return bufs.every((b, i) => u64le(dv, i * 16) === pinOf(pins, b, 'iovec buffer').addr && u64le(dv, i * 16 + 8) === BigInt(b.byteLength));
      });

    const expectC = (pins: Pin[]): string[] => {
      const out: string[] = [`sqe->opcode = ${op.opcode};`];
      const set = (field: string, value: string): void => {
        out.push(`sqe->${field} |= (__typeof__(sqe->${field}))(${value});`);
      };
      for (const fx of op.fixed ?? []) set(fx.field, cValue(fx.value));
      for (const a of op.args) {
        let v = values.get(a.name);
        if (v === undefined) {
          const lenOf = lengthArgOf.get(a.name);
          if (lenOf) v = (values.get(lenOf.name) as ArrayBufferView).byteLength;
          else if (a.default !== undefined) {
            set(a.field, cValue(a.default));
            continue;
          } else continue;
        }
        switch (a.kind) {
          case 'fd':
          case 'dirfd':
          case 'rawFd':
            if (v instanceof FixedFile) {
              set(a.field, cLiteral(v.index));
              if (a.fixedFlag) set(a.fixedFlag.field, cValue(a.fixedFlag.value));
              else set('flags', 'IOSQE_FIXED_FILE');
            } else set(a.field, cLiteral(v as number));
            break;
          case 'u8': case 'u16': case 'u32': case 'i32': case 'u64': case 'i64': case 'offset': case 'pointer':
          case 'flags': case 'bufIndex': case 'bufGroup':
            set(a.field, cLiteral(v as number | bigint));
            break;
          case 'buffer':
          case 'bytes': {
            const b = v as ArrayBufferView;
            set(a.field, cLiteral(pinOf(pins, b, a.name).addr));
            if (a.lengthField && !a.lengthArg) set(a.lengthField, cLiteral(b.byteLength));
            break;
          }
          case 'iovecs': {
            const bufs = v as ArrayBufferView[];
            set(a.field, cLiteral(iovecPin(pins, bufs).addr));
            set(a.lengthField as string, cLiteral(bufs.length));
            break;
          }
          case 'cstring': {
            const want = typeof v === 'string' ? utf8.encode(v) : (v as Uint8Array);
            const p = pinBy(pins, `copy of ${a.name}`, (x) => x.bytes.byteLength === want.byteLength + 1 && x.bytes[want.byteLength] === 0 && want.every((b, i) => x.bytes[i] === b));
            set(a.field, cLiteral(p.addr));
            break;
          }
          case 'timespec': {
            const ts = v as { sec: number | bigint; nsec: number };
            const p = pinBy(pins, 'timespec', (x) => x.bytes.byteLength === 16 && u64le(new DataView(x.bytes.buffer), 0) === BigInt(ts.sec) && u64le(new DataView(x.bytes.buffer), 8) === BigInt(ts.nsec));
            set(a.field, cLiteral(p.addr));
            break;
          }
          case 'sockaddrOut': {
            if (v === null) break;
            const b = v as ArrayBufferView;
            set(a.field, cLiteral(pinOf(pins, b, a.name).addr));
            const len = pinBy(pins, 'socklen', (x) => x.bytes.byteLength === 4 && new DataView(x.bytes.buffer).getUint32(0, true) === b.byteLength);
            set(a.lengthField as string, cLiteral(len.addr));
            break;
          }
          case 'msghdr': {
            const m = v as MsgHdr;
            const p = pinBy(pins, 'msghdr', (x) => {
              if (x.bytes.byteLength !== 56) return false;
              const dv = new DataView(x.bytes.buffer);
              const addrOf = (b: ArrayBufferView | null): bigint => (b ? pinOf(pins, b, 'msghdr buffer').addr : 0n);
              return (
                u64le(dv, 0) === addrOf(m.name) && dv.getUint32(8, true) === (m.name?.byteLength ?? 0) &&
                u64le(dv, 16) === iovecPin(pins, m.iov).addr && u64le(dv, 24) === BigInt(m.iov.length) &&
                u64le(dv, 32) === addrOf(m.control) && u64le(dv, 40) === BigInt(m.control?.byteLength ?? 0) &&
                dv.getInt32(48, true) === m.initialFlags
              );
            });
            set(a.field, cLiteral(p.addr));
            break;
          }
          case 'inline': {
            const b = v as Uint8Array;
            out.push(`{ static const unsigned char d[] = { ${[...b].join(', ')} }; memcpy((unsigned char *)sqe + offsetof(struct io_uring_sqe, ${a.field}), d, sizeof d); }`);
            break;
          }
          case 'opRef': {
            const id = BigInt(v as number);
            set(a.field, cLiteral((id & 0xffff_ffffn) | ((0x8000_0000n | (id >> 32n)) << 32n)));
            break;
          }
          case 'fileIndex':
            set(a.field, v === 'alloc' ? 'IORING_FILE_INDEX_ALLOC' : cLiteral((v as number) + (a.plusOne ? 1 : 0)));
            break;
        }
      }
      return out;
    };

    /** Everything the kernel may touch must be pinned: the views themselves and what was built for them. */
    const pinned = (): ArrayBufferView[] => {
      const want: ArrayBufferView[] = [];
      for (const a of op.args) {
        const v = values.get(a.name);
        if (v === undefined || v === null) continue;
        if (a.kind === 'buffer' || a.kind === 'bytes' || a.kind === 'sockaddrOut') want.push(v as ArrayBufferView);
        if (a.kind === 'iovecs') want.push(...(v as ArrayBufferView[]));
        if (a.kind === 'msghdr') {
          const m = v as MsgHdr;
          want.push(...m.iov, ...(m.name ? [m.name] : []), ...(m.control ? [m.control] : []));
        }
      }
      return want;
    };
    return { args, expect: expectC, pinned };
  }

  /** How many pins each kind adds: the view(s) plus what is encoded for them. */
  function expectedPinCount(op: OpDef, args: unknown[]): number {
    let n = 0;
    op.args.forEach((a, i) => {
      const v = args[i];
      if (v === undefined || v === null) return;
      switch (a.kind) {
        case 'buffer': case 'bytes': case 'cstring': case 'timespec': n += 1; break;
        case 'sockaddrOut': n += 2; break;
        case 'iovecs': n += (v as unknown[]).length + 1; break;
        case 'msghdr': {
          const m = v as MsgHdr;
          n += 1 + (m.name ? 1 : 0) + (m.control ? 1 : 0) + (m.iov.length > 0 ? m.iov.length + 1 : 0);
          break;
        }
        default: break;
      }
    });
    return n;
  }

  it('fills every SQE byte for byte as C does, for every builder', () => {
    const cc = (compiler as { cc: string }).cc;
    const meta = mod.OPS as Record<string, { opcode: number }>;
    const cases: Case[] = [];
    const problems: string[] = [];
    for (const op of ops.ops) {
      const fn = mod[op.builder] as ((...a: unknown[]) => void) | undefined;
      if (!fn) {
        problems.push(`${op.builder}: no builder in generated/ops.ts`);
        continue;
      }
      expect(meta[op.builder]?.opcode, op.builder).toBe(index.opcodes.get(op.opcode));
      for (const variant of ['plain', 'variant'] as const) {
        const size = op.sqe128 ? 128 : 64;
        const sqe = new FakeSqe(size);
        const b = build(op, variant, sqe);
        try {
          fn(sqe, ...b.args);
        } catch (err) {
          problems.push(`${op.builder} (${variant}): threw ${(err as Error).message}`);
          continue;
        }
        expect(sqe.untouchedOutside(), `${op.builder}: wrote outside its slot`).toBe(true);
        // Pins: exactly the caller's views plus what was encoded for them, nothing twice.
        const want = b.pinned();
        for (const w of want) expect(sqe.pins.some((p) => p.mem === w), `${op.builder} (${variant}): a view was not pinned`).toBe(true);
        expect(sqe.pins.length, `${op.builder} (${variant}): pin count`).toBe(expectedPinCount(op, b.args));
        let c: string[];
        try {
          c = b.expect(sqe.pins);
        } catch (err) {
          problems.push(`${op.builder} (${variant}): ${(err as Error).message}`);
          continue;
        }
        cases.push({ name: `${op.builder}/${variant}`, op, size, bytes: hex(sqe.slot()), c });
      }
    }
    // Opcodes without an ops.json entry (a newer header's, until someone writes one) are raw-only:
    // listed in RAW_ONLY_OPCODES, and prepRaw writes their opcode exactly as C's name for it.
    const withBuilder = new Set(ops.ops.map((o) => o.opcode));
    const rawOnly = [...index.opcodes.keys()].filter((n) => !withBuilder.has(n));
    expect([...(mod.RAW_ONLY_OPCODES as readonly string[])].sort()).toEqual([...rawOnly].sort());
    for (const name of rawOnly) {
      const sqe = new FakeSqe(64);
      (mod.prepRaw as (s: FakeSqe, o: number) => void)(sqe, index.opcodes.get(name)!);
      cases.push({ name: `prepRaw/${name}`, op: { builder: 'prepRaw', opcode: name } as OpDef, size: 64, bytes: hex(sqe.slot()), c: [`sqe->opcode = ${name};`] });
    }
    if (rawOnly.length > 0) console.log(`raw-only opcodes (no ops.json entry yet), checked through prepRaw: ${rawOnly.join(', ')}`);
    expect(problems).toEqual([]);

    const src = [
      '#include <stdio.h>', '#include <string.h>', '#include <stddef.h>', '#include <linux/io_uring.h>', '',
      'static void dump(const char *name, const void *p, size_t n) {',
      '  const unsigned char *b = p;',
      '  printf("%s ", name);',
      '  for (size_t i = 0; i < n; i++) printf("%02x", b[i]);',
      '  printf("\\n");',
      '}', '', 'int main(void) {',
      ...cases.flatMap((k) => [
        '  {',
        '    union { unsigned char b[128]; struct io_uring_sqe s[2]; } u;',
        '    memset(&u, 0, sizeof u);',
        '    struct io_uring_sqe *sqe = u.s;',
        ...k.c.map((l) => `    ${l}`),
        `    dump("${k.name}", u.b, ${k.size});`,
        '  }',
      ]),
      '  return 0;', '}', '',
    ].join('\n');
    const out = compileAndRun(cc, src, (compiler as { headerDir: string }).headerDir, tempDir('ops-c'), 'ops');
    const fromC = new Map(out.trim().split('\n').map((line) => line.split(' ') as [string, string]));
    let bytes = 0;
    for (const k of cases) {
      expect(k.bytes, `${k.name}: SQE bytes (ours) vs C`).toBe(fromC.get(k.name));
      bytes += k.size;
    }
    const builders = new Set(cases.filter((k) => k.op.builder !== 'prepRaw').map((k) => k.op.builder)).size;
    const opcodes = new Set(cases.map((k) => k.op.opcode)).size;
    console.log(`builders vs C: ${builders} builders over ${opcodes} opcodes, ${cases.length} calls, ${bytes} bytes compared`);
    expect(builders).toBe(ops.ops.length);
    expect(opcodes).toBe(index.opcodes.size);
  });

  it('writes nothing when any argument is refused, the last one included', () => {
    let checked = 0;
    for (const op of ops.ops) {
      if (op.args.length === 0) continue;
      const fn = mod[op.builder] as (...a: unknown[]) => void;
      const sqe = new FakeSqe(op.sqe128 ? 128 : 64);
      const b = build(op, 'plain', sqe);
      const args = [...b.args];
      args[args.length - 1] = Symbol('not an argument');
      const before = hex(new Uint8Array(sqe.view.buffer));
      expect(() => fn(sqe, ...args), op.builder).toThrow(/: /);
      expect(hex(new Uint8Array(sqe.view.buffer)), `${op.builder} wrote before refusing`).toBe(before);
      expect(sqe.pins.length, `${op.builder} pinned before refusing`).toBe(0);
      checked++;
    }
    expect(checked).toBeGreaterThan(50);
  });

  it('refuses a 64-byte slot for ops that need 128 bytes', () => {
    for (const op of ops.ops.filter((o) => o.sqe128)) {
      const fn = mod[op.builder] as (...a: unknown[]) => void;
      const sqe = new FakeSqe(64);
      const b = build(op, 'plain', new FakeSqe(128));
      expect(() => fn(sqe, ...b.args), op.builder).toThrow(/128-byte SQE/);
    }
  });

  it('refuses every excluded bit, naming the argument and the bits, writing and pinning nothing', () => {
    let checked = 0;
    for (const op of ops.ops) {
      op.args.forEach((a, i) => {
        for (const bitName of a.excludeBits ?? []) {
          const bit = index.values.get(bitName);
          expect(bit, `${op.builder}: ${a.name}: ${bitName} is not in the spec`).toBeDefined();
          const fn = mod[op.builder] as (...x: unknown[]) => void;
          const sqe = new FakeSqe(op.sqe128 ? 128 : 64);
          const b = build(op, 'plain', sqe);
          const args = [...b.args];
          args[i] = Number(bit);
          const before = hex(new Uint8Array(sqe.view.buffer));
          let error: unknown;
          try {
            fn(sqe, ...args);
          } catch (err) {
            error = err;
          }
          expect(error, `${op.builder}: ${a.name} accepted ${bitName}`).toBeInstanceOf(Error);
          const e = error as Error & { code?: string; argument?: string };
          expect(e.code).toBe('ERR_INVALID_ARG_VALUE');
          expect(e.argument).toBe(`${op.builder}: ${a.name}`);
          expect(e.message).toContain(`${bitName} (0x${(bit as bigint).toString(16)})`);
          expect(hex(new Uint8Array(sqe.view.buffer)), `${op.builder} wrote before refusing`).toBe(before);
          expect(sqe.pins.length, `${op.builder} pinned before refusing`).toBe(0);
          checked++;
        }
      });
    }
    expect(checked).toBeGreaterThanOrEqual(20);
  });

  it('refuses u64 values at or past 2^maxBits, and takes the largest one below', () => {
    let checked = 0;
    for (const op of ops.ops) {
      op.args.forEach((a, i) => {
        if (a.maxBits === undefined) return;
        const fn = mod[op.builder] as (...x: unknown[]) => void;
        for (const bad of [1n << BigInt(a.maxBits), 2n ** 64n - 1n]) {
          const sqe = new FakeSqe(op.sqe128 ? 128 : 64);
          const args = [...build(op, 'plain', sqe).args];
          args[i] = bad;
          const before = hex(new Uint8Array(sqe.view.buffer));
          expect(() => fn(sqe, ...args), `${op.builder}: ${a.name} = ${bad}n`).toThrow(new RegExp(`^${op.builder}: ${a.name}: expected a bigint from 0n to 2n \\*\\* ${a.maxBits}n - 1n`));
          expect(hex(new Uint8Array(sqe.view.buffer))).toBe(before);
          expect(sqe.pins.length).toBe(0);
        }
        const sqe = new FakeSqe(op.sqe128 ? 128 : 64);
        const args = [...build(op, 'plain', sqe).args];
        const top = (1n << BigInt(a.maxBits)) - 1n;
        args[i] = top;
        fn(sqe, ...args);
        const f = sqeFields(index).get(a.field);
        expect(sqe.view.getBigUint64(SLOT_AT + (f?.offset ?? 0), true)).toBe(top);
        checked++;
      });
    }
    // The four MSG_RING builders: their data becomes the target ring's user_data.
    expect(checked).toBe(4);
  });

  it('refuses an opcode the target marks unsupported, first, writing and pinning nothing', () => {
    for (const op of ops.ops) {
      const fn = mod[op.builder] as (...x: unknown[]) => void;
      const opcode = index.opcodes.get(op.opcode) as number;
      const unsupportedOps = new Uint8Array(256);
      unsupportedOps[opcode] = 1;
      // A 64-byte slot even for 128-byte ops: the opcode is refused before the size.
      const sqe = Object.assign(new FakeSqe(64), { unsupportedOps });
      const b = build(op, 'plain', new FakeSqe(op.sqe128 ? 128 : 64));
      const before = hex(new Uint8Array(sqe.view.buffer));
      let error: unknown;
      try {
        fn(sqe, ...b.args);
      } catch (err) {
        error = err;
      }
      expect(error, op.builder).toBeInstanceOf(UnsupportedOpError);
      const e = error as UnsupportedOpError;
      expect(e.code).toBe('ERR_IO_URING_OP_UNSUPPORTED');
      expect([e.builder, e.opcode, e.opName, e.minKernel]).toEqual([op.builder, opcode, op.opcode, op.minKernel]);
      expect(e.message).toBe(`${op.builder}: ${op.opcode} is not supported by the running kernel (it needs Linux ${op.minKernel} or newer; see \`ring.probe.supports(...)\`)`);
      expect(hex(new Uint8Array(sqe.view.buffer)), `${op.builder} wrote before refusing`).toBe(before);
      expect(sqe.pins.length, `${op.builder} pinned before refusing`).toBe(0);
      // Any other opcode marked, or 0 at this one: the builder runs as usual.
      unsupportedOps[opcode] = 0;
      unsupportedOps[(opcode + 1) & 0xff] = 1;
      if (!op.sqe128) expect(() => fn(sqe, ...b.args), op.builder).not.toThrow();
    }
  });

  it('prepRaw writes only the opcode; OPCODE_NAMES names every opcode', () => {
    const sqe = new FakeSqe(64);
    (mod.prepRaw as (s: FakeSqe, o: number) => void)(sqe, 200);
    expect(hex(sqe.slot())).toBe(`c8${'00'.repeat(63)}`);
    const names = mod.OPCODE_NAMES as Record<number, string>;
    for (const [name, value] of index.opcodes) expect(names[value]).toBe(name);
  });
});

if ('skip' in compiler) {
  const why = compiler.skip;
  console.warn(`builders vs C skipped: ${why}`);
  it.skip(`builders vs C: skipped because ${why}`, () => {});
}
