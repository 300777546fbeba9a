/**
 * A record's layout on one ABI: the record itself for the spec's first ABI, else the variant
 * that lists the ABI (or the record again when no variant does, the layout being the same).
 */
import type { AbiName, Align, Field, NamedRecord, Spec } from './types.js';

export interface AbiLayout {
  size: number;
  align: Align;
  packed: boolean;
  fields: Field[];
}

export function layoutOn(record: NamedRecord, abi: AbiName): AbiLayout {
  const variant = record.variants?.find((v) => v.abis.includes(abi));
  const { size, align, packed, fields } = variant ?? record;
  return { size, align, packed, fields };
}

/** The spec's records as laid out on `abi` (variants folded in, `variants` dropped). */
export function recordsOn(spec: Spec, abi: AbiName): NamedRecord[] {
  return spec.records.map((record) => {
    const { variants: _, ...rest } = record;
    return { ...rest, ...layoutOn(record, abi) };
  });
}
