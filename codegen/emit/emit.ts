/**
 * The whole generator as a function: validated spec and ops in, generated files and the
 * change report out. The CLI and the tests both go through here.
 */
import { relative, sep } from 'node:path';
import { readFileSync } from 'node:fs';
import type { OpsFile, Spec } from '../spec/types.js';
import { effectiveSpec } from '../spec/carried.js';
import { loadOps, loadSpec } from '../spec/load.js';
import { type NextSteps, formatNextSteps, nextSteps } from './next-steps.js';
import { emitConstants } from './constants.js';
import { SpecIndex } from './model.js';
import { emitOps, type SkippedOp } from './ops.js';
import { type Inputs, sha256 } from './source.js';
import { emitStructs } from './structs.js';

export interface Report {
  release: string;
  records: number;
  classes: number;
  fields: number;
  constants: number;
  enums: number;
  flagSets: number;
  opcodes: number;
  builders: number;
  /** Opcodes with no ops.json entry: they get only prepRaw. */
  withoutEntry: string[];
  /** Opcodes that end up without a typed builder (no entry, or every entry skipped). */
  rawOnly: string[];
  /** ops.json entries the spec cannot support, with the reason. */
  skipped: SkippedOp[];
  /** Flag sets the extractor grouped by prefix alone. */
  autoFlagSets: { name: string; members: string[] }[];
  /** What a person should look at (ends the printed report). */
  next: NextSteps;
}

export interface EmitResult {
  /** File name within generated/ → text. */
  files: Map<string, string>;
  report: Report;
}

/**
 * Emits the three files from an already validated spec and ops file. Names the spec carries
 * from a newer one (an accepted downgrade) are emitted with the header's own.
 */
export function emitAll(headerSpec: Spec, ops: OpsFile, inputs: Inputs): EmitResult {
  const spec = effectiveSpec(headerSpec);
  const index = new SpecIndex(spec);
  const structs = emitStructs(spec, index, inputs);
  const constants = emitConstants(spec, inputs);
  const opsOut = emitOps(spec, index, ops, inputs);
  const files = new Map<string, string>([
    ['constants.ts', constants.text],
    ['ops.ts', opsOut.text],
    ['structs.ts', structs.text],
  ]);
  return {
    files,
    report: {
      release: spec.provenance.release,
      records: structs.records,
      classes: structs.classes,
      fields: structs.fields,
      constants: constants.constants,
      enums: constants.enums,
      flagSets: constants.flagSets,
      opcodes: index.opcodes.size,
      builders: opsOut.builders,
      withoutEntry: opsOut.withoutEntry,
      rawOnly: opsOut.rawOnly,
      skipped: opsOut.skipped,
      autoFlagSets: spec.flagSets.filter((s) => s.auto === true).map((s) => ({ name: s.name, members: s.members })),
      next: nextSteps(spec, ops),
    },
  };
}

/** How a file is named in the generated header: relative to the repository, with `/`. */
export function displayPath(path: string, repoRoot: string): string {
  const rel = relative(repoRoot, path);
  return rel.startsWith('..') ? path : rel.split(sep).join('/');
}

/** Reads, validates and emits; hashes are of the files' bytes as read. */
export function emitFromFiles(specPath: string, opsPath: string, repoRoot: string): EmitResult {
  const spec = loadSpec(specPath);
  const ops = loadOps(opsPath);
  const inputs: Inputs = {
    specPath: displayPath(specPath, repoRoot),
    specSha256: sha256(readFileSync(specPath)),
    opsPath: displayPath(opsPath, repoRoot),
    opsSha256: sha256(readFileSync(opsPath)),
  };
  return emitAll(spec, ops, inputs);
}

/** The report as printed by `npm run codegen`. */
export function formatReport(r: Report): string {
  const lines = [
    `codegen: Linux ${r.release}: ${r.records} records (${r.classes} classes, ${r.fields} fields), ${r.constants} constants, ${r.enums} named enums, ${r.flagSets} flag sets, ${r.opcodes} opcodes, ${r.builders} builders`,
  ];
  lines.push(`  opcodes without an ops.json entry (raw builder only): ${r.withoutEntry.length === 0 ? 'none' : r.withoutEntry.join(', ')}`);
  const skippedOnly = r.rawOnly.filter((o) => !r.withoutEntry.includes(o));
  if (skippedOnly.length > 0) {
    lines.push(`  opcodes whose every ops.json entry was skipped (raw builder only): ${skippedOnly.join(', ')}`);
  }
  lines.push(`  ops.json entries skipped: ${r.skipped.length === 0 ? 'none' : r.skipped.length}`);
  for (const s of r.skipped) lines.push(`    ${s.builder} (${s.opcode}): ${s.reason}`);
  lines.push(`  automatic flag sets (grouped by prefix alone; worth a rule in the extractor): ${r.autoFlagSets.length === 0 ? 'none' : r.autoFlagSets.length}`);
  for (const s of r.autoFlagSets) lines.push(`    ${s.name}: ${s.members.join(', ')}`);
  lines.push(formatNextSteps(r.next));
  return lines.join('\n');
}
