/**
 * Fields of a record as C code reaches them by name: the fields of anonymous members flattened
 * into the enclosing record. Shared by the emitters and the spec tools.
 */
import type { Field, FieldType, RecordBody } from './types.js';

export function isInline(t: FieldType): t is { kind: 'record'; record: RecordBody } {
  return t.kind === 'record' && 'record' in t;
}

/** A field as C code reaches it from the top of a record. */
export interface FlatField {
  /** The C name. */
  name: string;
  /** Offset from the start of the top record. */
  offset: number;
  field: Field;
  /** Offset of the anonymous member this field was flattened out of, if any. */
  viaAnonymous: { kind: 'struct' | 'union'; offset: number } | null;
}

/** The fields reachable by name from `fields` (a record's, or an inline record's). */
export function flattenFields(fields: readonly Field[], base = 0, via: FlatField['viaAnonymous'] = null): FlatField[] {
  const out: FlatField[] = [];
  for (const field of fields) {
    if (field.name === null) {
      if (!isInline(field.type)) throw new Error(`anonymous member at offset ${base + field.offset} is not an inline record`);
      const body = field.type.record;
      out.push(...flattenFields(body.fields, base + field.offset, via ?? { kind: body.kind, offset: base + field.offset }));
    } else {
      out.push({ name: field.name, offset: base + field.offset, field, viaAnonymous: via });
    }
  }
  return out;
}

