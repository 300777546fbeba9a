/**
 * Loading and validating spec/io_uring.json and spec/ops.json. Nothing reads either file
 * without going through here: ajv checks it against spec/schema/*.schema.json first, and a
 * broken file fails with every problem listed by JSON path and what was expected.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Ajv2020, { type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import type { OpsFile, Spec } from './types.js';

const here = dirname(fileURLToPath(import.meta.url));
/** The repository's spec/ folder. */
export const SPEC_DIR = join(here, '..', '..', 'spec');
export const SPEC_PATH = join(SPEC_DIR, 'io_uring.json');
export const OPS_PATH = join(SPEC_DIR, 'ops.json');

/** A spec or ops file failed validation; `problems` has one line per error. */
export class SpecValidationError extends Error {
  readonly problems: string[];
  constructor(file: string, problems: string[]) {
    super(`${file} is not a valid ${file.endsWith('ops.json') ? 'ops' : 'spec'} file:\n  ${problems.join('\n  ')}`);
    this.name = 'SpecValidationError';
    this.problems = problems;
  }
}

let validators: { spec: ValidateFunction; ops: ValidateFunction } | undefined;

function getValidators(): { spec: ValidateFunction; ops: ValidateFunction } {
  if (!validators) {
    const ajv = new Ajv2020.default({ allErrors: true, strict: true, strictRequired: false, allowUnionTypes: true });
    const load = (name: string): object => JSON.parse(readFileSync(join(SPEC_DIR, 'schema', name), 'utf8')) as object;
    validators = { spec: ajv.compile(load('io_uring.schema.json')), ops: ajv.compile(load('ops.schema.json')) };
  }
  return validators;
}

/** One readable line per ajv error: the JSON path, what was expected, what was there. */
export function formatAjvErrors(errors: ErrorObject[] | null | undefined, data: unknown): string[] {
  const lines: string[] = [];
  for (const e of errors ?? []) {
    // oneOf failures repeat each branch's complaint; the branch errors say more.
    if (e.keyword === 'oneOf' || e.keyword === 'if' || e.keyword === 'allOf') continue;
    const path = e.instancePath === '' ? '/' : e.instancePath;
    let found: unknown = data;
    for (const part of e.instancePath.split('/').slice(1)) {
      found = found === null || typeof found !== 'object' ? undefined : (found as Record<string, unknown>)[part.replace(/~1/g, '/').replace(/~0/g, '~')];
    }
    const shown = found === undefined ? '' : ` (found ${JSON.stringify(found)?.slice(0, 60)})`;
    const extra = e.keyword === 'additionalProperties'
      ? ` '${(e.params as { additionalProperty: string }).additionalProperty}'`
      : e.keyword === 'enum'
        ? `: ${JSON.stringify((e.params as { allowedValues: unknown[] }).allowedValues)}`
        : '';
    lines.push(`${path}: ${e.message ?? e.keyword}${extra}${e.keyword === 'additionalProperties' ? '' : shown}`);
  }
  return [...new Set(lines)];
}

/**
 * A spec of format 1 (one x86-64 `abi`, flag sets without `kind`, no `releaseFrom`) in format
 * 2's shape, so `--diff` and the downgrade guard can read a spec an older checkout wrote.
 * Anything else is returned as it is.
 */
export function upgradeSpecFormat(data: unknown): unknown {
  if (data === null || typeof data !== 'object' || (data as { formatVersion?: unknown }).formatVersion !== 1) return data;
  const { abi, ...rest } = data as Record<string, unknown> & { abi?: Record<string, unknown> };
  const provenance = { ...(rest.provenance as Record<string, unknown>) };
  if (provenance.releaseFrom === undefined) provenance.releaseFrom = 'linux/version.h';
  const flagSets = Array.isArray(rest.flagSets)
    ? (rest.flagSets as Record<string, unknown>[]).map(({ members, ...set }) => ({ ...set, kind: 'bits', members }))
    : rest.flagSets;
  const abis = abi === undefined ? undefined : [{ ...abi, arch: abi.name === 'aarch64-linux-gnu' ? 'arm64' : 'x64', charSigned: abi.name !== 'aarch64-linux-gnu' }];
  return { ...rest, formatVersion: 2, provenance, ...(abis === undefined ? {} : { abis }), flagSets };
}

/** Validates an already-parsed spec object (format 1 is read as format 2); throws {@link SpecValidationError}. */
export function validateSpec(input: unknown, file = 'spec'): Spec {
  const data = upgradeSpecFormat(input);
  const { spec } = getValidators();
  if (!spec(data)) throw new SpecValidationError(file, formatAjvErrors(spec.errors, data));
  return data as Spec;
}

/** Validates an already-parsed ops object; throws {@link SpecValidationError}. */
export function validateOps(data: unknown, file = 'ops.json'): OpsFile {
  const { ops } = getValidators();
  if (!ops(data)) throw new SpecValidationError(file, formatAjvErrors(ops.errors, data));
  return data as OpsFile;
}

function readJson(path: string): unknown {
  const text = readFileSync(path, 'utf8');
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new SpecValidationError(path, [`not JSON: ${(err as Error).message}`]);
  }
}

/** Reads and validates a spec file (default: spec/io_uring.json). */
export function loadSpec(path: string = SPEC_PATH): Spec {
  return validateSpec(readJson(path), path);
}

/** Reads and validates an ops file (default: spec/ops.json). */
export function loadOps(path: string = OPS_PATH): OpsFile {
  return validateOps(readJson(path), path);
}
