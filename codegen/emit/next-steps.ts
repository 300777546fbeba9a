/**
 * The "what to do next" list both reports end with (`npm run spec` and `npm run codegen`):
 * what a kernel upgrade left for a person to decide. Each item names the file to edit.
 */
import { carriedNames } from '../spec/carried.js';
import type { OpsFile, Spec } from '../spec/types.js';

export interface NextSteps {
  /** Opcodes with no ops.json entry: only `prepRaw` prepares them. */
  opcodesWithoutBuilder: string[];
  /** Flag sets grouped by prefix alone (no rule in codegen/extract/flag-sets.ts), with their members. */
  ungroupedNames: { set: string; members: string[] }[];
  /** `bits` sets holding counts no rule names (left out of the mask), with their values. */
  mixedSets: { set: string; counts: string[] }[];
  /** Opcodes carried from a newer spec (their builders refuse): set when the spec came from an accepted downgrade. */
  carriedOpcodes: string[];
}

/** Computes the list from the effective spec (carried items merged) and ops.json. */
export function nextSteps(spec: Spec, ops: OpsFile): NextSteps {
  const opEnum = spec.enums.find((e) => e.name === 'io_uring_op');
  const withEntry = new Set(ops.ops.map((o) => o.opcode));
  const opcodesWithoutBuilder = (opEnum?.members ?? []).map((m) => m.name).filter((n) => !/_LAST$/.test(n) && !withEntry.has(n));
  const value = new Map<string, string>([...spec.constants.map((c) => [c.name, c.value] as const), ...spec.enums.flatMap((e) => e.members.map((m) => [m.name, String(m.value)] as const))]);
  const ungroupedNames = spec.flagSets.filter((s) => s.auto === true).map((s) => ({ set: s.name, members: s.members }));
  const mixedSets = spec.flagSets
    .filter((s) => s.kind === 'bits' && (s.counts ?? []).some((c) => !(s.prefixes ?? []).includes(c)))
    .map((s) => ({ set: s.name, counts: (s.counts ?? []).filter((c) => !(s.prefixes ?? []).includes(c)).map((c) => `${c} = ${value.get(c) ?? '?'}`) }));
  return { opcodesWithoutBuilder, ungroupedNames, mixedSets, carriedOpcodes: [...(carriedNames(spec)?.opcodes ?? [])] };
}

/** The list as text, ending the change report. */
export function formatNextSteps(n: NextSteps): string {
  const lines = ['What to do next:'];
  if (n.opcodesWithoutBuilder.length > 0) {
    lines.push(`  - opcodes without a typed builder (prepRaw only): add an entry to spec/ops.json for ${n.opcodesWithoutBuilder.join(', ')}`);
  }
  for (const s of n.ungroupedNames) {
    lines.push(`  - names in no curated flag set (grouped by prefix alone as ${s.set}): add a rule in codegen/extract/flag-sets.ts for ${s.members.join(', ')}`);
  }
  for (const s of n.mixedSets) {
    lines.push(`  - flag set ${s.set} mixes counts with flags (${s.counts.join(', ')}): left out of ${s.set}Mask; a rule in codegen/extract/flag-sets.ts can give ${s.counts.length === 1 ? 'it' : 'them'} a set of their own`);
  }
  if (n.carriedOpcodes.length > 0) {
    lines.push(`  - opcodes kept from a newer spec (their builders refuse; extract from a newer header to use them): ${n.carriedOpcodes.join(', ')}`);
  }
  if (lines.length === 1) lines.push('  nothing: every opcode has a builder, every name a curated flag set, every mask only flags.');
  return lines.join('\n');
}
