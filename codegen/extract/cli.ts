/**
 * `npm run spec -- --header DIR [--out FILE] [--json]` extracts a spec from DIR/linux/io_uring.h
 * (default output: spec/io_uring.json) and, when it replaces an existing spec, prints what changed.
 * `npm run spec -- --diff OLD.json NEW.json [--json]` prints what changed between two specs.
 */
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { SPEC_PATH, SpecValidationError, loadSpec } from '../spec/load.js';
import { diffSpecs, formatDiff } from './diff.js';
import { ExtractError } from './errors.js';
import { extractSpec, specToJson, writeSpec } from './extract.js';

const USAGE = `Usage:
  npm run spec -- --header DIR [--out FILE] [--json]
      Extract the spec from DIR/linux/io_uring.h (and DIR/linux/io_uring/*.h, DIR/linux/version.h).
      FILE defaults to spec/io_uring.json; when it exists, the change report against it is printed.
  npm run spec -- --diff OLD.json NEW.json [--json]
      Print what changed between two specs (--json: as JSON).`;

interface Options {
  header?: string;
  out?: string;
  diff?: [string, string];
  json: boolean;
  help: boolean;
}

function parseArgs(argv: readonly string[]): Options {
  const opts: Options = { json: false, help: false };
  const value = (i: number, flag: string): string => {
    const v = argv[i];
    if (v === undefined || v.startsWith('--')) throw new UsageError(`${flag} needs a value`);
    return v;
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    switch (arg) {
      case '--header':
        opts.header = value(++i, arg);
        break;
      case '--out':
        opts.out = value(++i, arg);
        break;
      case '--diff':
        opts.diff = [value(++i, arg), value(++i, arg)];
        break;
      case '--json':
        opts.json = true;
        break;
      case '--help':
      case '-h':
        opts.help = true;
        break;
      default:
        throw new UsageError(`unknown argument ${arg}`);
    }
  }
  if (!opts.help && (opts.header === undefined) === (opts.diff === undefined)) throw new UsageError('give either --header DIR or --diff OLD NEW');
  if (opts.diff !== undefined && opts.out !== undefined) throw new UsageError('--out goes with --header, not --diff');
  return opts;
}

class UsageError extends Error {}

/**
 * Runs the command line; returns the exit code instead of exiting, so tests can call it.
 * @param log where reports go (stdout)
 * @param warn where errors go (stderr)
 */
export function main(argv: readonly string[], log: (s: string) => void = (s) => process.stdout.write(s), warn: (s: string) => void = (s) => process.stderr.write(s)): number {
  let opts: Options;
  try {
    opts = parseArgs(argv);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    warn(`error: ${err.message}\n\n${USAGE}\n`);
    return 2;
  }
  if (opts.help) {
    log(`${USAGE}\n`);
    return 0;
  }
  try {
    if (opts.diff !== undefined) {
      const d = diffSpecs(loadSpec(resolve(opts.diff[0])), loadSpec(resolve(opts.diff[1])));
      log(opts.json ? `${JSON.stringify(d, null, 2)}\n` : formatDiff(d));
      return 0;
    }
    const out = opts.out === undefined ? SPEC_PATH : resolve(opts.out);
    const spec = extractSpec(resolve(opts.header!));
    if (existsSync(out)) {
      if (readFileSync(out, 'utf8') === specToJson(spec)) {
        log(`${out} is up to date (Linux ${spec.provenance.release}).\n`);
        return 0;
      }
      try {
        const d = diffSpecs(loadSpec(out), spec);
        log(opts.json ? `${JSON.stringify(d, null, 2)}\n` : `${formatDiff(d)}\n`);
      } catch (err) {
        if (!(err instanceof SpecValidationError)) throw err;
        warn(`note: the previous ${out} is not a valid spec, so there is no change report:\n${err.message}\n`);
      }
    }
    writeSpec(spec, out);
    log(`Wrote ${out}: Linux ${spec.provenance.release}, ${spec.records.length} records, ${spec.enums.length} enums, ` +
      `${spec.constants.length} constants, ${spec.flagSets.length} flag sets.\n`);
    return 0;
  } catch (err) {
    if (err instanceof ExtractError || err instanceof SpecValidationError) {
      warn(`error: ${err.message}\n`);
      return 1;
    }
    throw err;
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  process.exitCode = main(process.argv.slice(2));
}
