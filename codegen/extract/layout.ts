/**
 * Struct and union layout for the LP64 ABIs (x86-64, arm64 and riscv64 agree on every rule
 * below, as GCC implements them; what differs per ABI, plain char's signedness and which
 * records are packed, comes in through the context and the parsed attributes): each
 * member at the next multiple of its alignment, a union's members all at 0, the record's
 * alignment the largest of its members', its size rounded up to that. GCC's attribute rules:
 * `packed` (on the record or the member) drops a member's alignment to 1; `aligned(N)` on a
 * member raises it (and under `packed` sets it to N); `aligned(N)` on a record raises the
 * record's; a typedef's own `aligned(N)` (as in `__aligned_u64`) is the type's alignment.
 * Flexible arrays (`[]`, `[0]`, `__DECLARE_FLEX_ARRAY`) take no space but align like their
 * element.
 */
import type { Align, Field, FieldType, RecordBody } from '../spec/types.js';
import { ExtractError } from './errors.js';
import type { MemberAst, RecordBodyAst } from './parse.js';

/** What layout needs to know from outside a record body. */
export interface LayoutContext {
  /** Size and alignment of a named record laid out earlier. */
  namedRecord(name: string): { size: number; align: number } | undefined;
  /** The doc of a member, if the header has one. */
  memberDoc?(member: MemberAst): string | undefined;
  /** Whether plain `char` is signed on the target ABI (default: as on x86-64, signed). */
  charSigned?: boolean;
}

const alignUp = (n: number, a: number): number => Math.ceil(n / a) * a;

function asAlign(n: number, at: MemberAst | RecordBodyAst): Align {
  if (n === 1 || n === 2 || n === 4 || n === 8 || n === 16) return n;
  throw new ExtractError('first' in at ? at.first : at.keyword, `alignment ${n} cannot be expressed in the spec`);
}

/**
 * Lays out a struct or union body and returns it in the spec's shape (offsets of fields of
 * inline records are relative to that inline record, as the schema says).
 * @throws ExtractError when a referenced record is unknown
 */
export function layoutRecord(body: RecordBodyAst, ctx: LayoutContext): RecordBody {
  const fields: Field[] = [];
  let cursor = 0;
  let size = 0;
  let align = 1;
  for (const m of body.members) {
    let type: FieldType;
    let ctype: string;
    let elementSize: number;
    let naturalAlign: number;
    let typeAlignedAttribute: number | undefined;
    switch (m.type.kind) {
      case 'scalar':
        type = { kind: 'scalar', bits: m.type.info.bits, signed: m.type.ctype === 'char' ? ctx.charSigned ?? m.type.info.signed : m.type.info.signed, endian: m.type.info.endian };
        ctype = m.type.ctype;
        elementSize = m.type.info.bits / 8;
        naturalAlign = m.type.info.align;
        typeAlignedAttribute = m.type.info.alignedAttribute;
        break;
      case 'ref': {
        const ref = ctx.namedRecord(m.type.name);
        if (ref === undefined) throw new ExtractError(m.first, `${m.type.ctype} has no layout (not defined before use)`);
        type = { kind: 'record', ref: m.type.name };
        ctype = m.type.ctype;
        elementSize = ref.size;
        naturalAlign = ref.align;
        break;
      }
      case 'inline': {
        const inner = layoutRecord(m.type.body, ctx);
        type = { kind: 'record', record: inner };
        ctype = inner.kind;
        elementSize = inner.size;
        naturalAlign = inner.align;
        break;
      }
    }
    const packed = body.packed || m.packed;
    let memberAlign = packed ? 1 : naturalAlign;
    const alignedAttribute = Math.max(m.alignedAttribute ?? 0, typeAlignedAttribute ?? 0);
    if (alignedAttribute > 0) memberAlign = packed ? alignedAttribute : Math.max(memberAlign, alignedAttribute);
    const memberSize = m.array === undefined ? elementSize : 'length' in m.array ? elementSize * m.array.length : 0;
    const offset = body.kind === 'struct' ? alignUp(cursor, memberAlign) : 0;
    if (body.kind === 'struct') cursor = offset + memberSize;
    size = Math.max(size, offset + memberSize);
    align = Math.max(align, memberAlign);

    // Keys in the order the schema lists them, so the JSON reads the same for every field.
    const field: Omit<Field, 'line'> = { name: m.name, ctype, type, offset, size: memberSize, align: asAlign(memberAlign, m) };
    if (m.array !== undefined) field.array = 'length' in m.array ? { length: m.array.length } : { flexible: true, spelling: m.array.spelling };
    if (alignedAttribute > 0) field.alignedAttribute = asAlign(alignedAttribute, m);
    const doc = ctx.memberDoc?.(m);
    if (doc !== undefined) field.doc = doc;
    fields.push({ ...field, line: m.first.line });
  }
  if (body.alignedAttribute !== undefined) align = Math.max(align, body.alignedAttribute);
  return { kind: body.kind, size: alignUp(size, align), align: asAlign(align, body), packed: body.packed, fields, line: body.keyword.line };
}
