/**
 * `npm run spec -- --header DIR [--out FILE] [--release X.Y.Z] [--allow-downgrade] [--no-c-check] [--json]`
 * extracts a spec from DIR/linux/io_uring.h (default output: spec/io_uring.json), checks it
 * against every C compiler it finds, and, when it replaces an existing spec, prints what
 * changed and what to do next. It refuses to replace a spec with an older kernel's (or with
 * one that lacks names the spec has) unless told to (--allow-downgrade: the names are then
 * carried over, see codegen/spec/carried.ts).
 * `npm run spec -- --diff OLD.json NEW.json [--json]` prints what changed between two specs.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, isAbsolute, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { formatNextSteps, nextSteps } from '../emit/next-steps.js';
import { carryOver, effectiveSpec } from '../spec/carried.js';
import { SPEC_PATH, SpecValidationError, loadOps, loadSpec } from '../spec/load.js';
import type { Spec } from '../spec/types.js';
import { crossCheck, formatCrossCheck } from './c-check.js';
import { diffSpecs, formatDiff } from './diff.js';
import { ExtractError } from './errors.js';
import { extractSpec, specToJson, writeSpec } from './extract.js';

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

const USAGE = `Usage:
  npm run spec -- --header DIR [--out FILE] [--release X.Y.Z] [--allow-downgrade] [--no-c-check] [--json]
      Extract the spec from DIR/linux/io_uring.h (and DIR/linux/io_uring/*.h, DIR/linux/version.h)
      for x86-64, arm64 and riscv64, and compare it with every C compiler found ($CC or cc for
      this machine, aarch64-linux-gnu-gcc, riscv64-linux-gnu-gcc); a mismatch writes nothing.
      FILE defaults to spec/io_uring.json; when it exists, the change report against it is printed.
      --release X.Y.Z       the kernel release, for a folder without linux/version.h
      --allow-downgrade     replace the spec with an older kernel's (or one lacking names it has),
                            keeping what the header lacks as "carried" (src/ keeps building;
                            builders of carried opcodes refuse). Without it, that is refused.
      --no-c-check          skip the C cross-check (says so)
  npm run spec -- --diff OLD.json NEW.json [--json]
      Print what changed between two specs (--json: as JSON).`;

interface Options {
  header?: string;
  out?: string;
  diff?: [string, string];
  release?: string;
  allowDowngrade: boolean;
  cCheck: boolean;
  json: boolean;
  help: boolean;
}

function parseArgs(argv: readonly string[]): Options {
  const opts: Options = { json: false, help: false, allowDowngrade: false, cCheck: true };
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
      case '--release':
        opts.release = value(++i, arg);
        break;
      case '--allow-downgrade':
        opts.allowDowngrade = true;
        break;
      case '--no-c-check':
        opts.cCheck = false;
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
  if (opts.diff !== undefined && (opts.out !== undefined || opts.release !== undefined || opts.allowDowngrade || !opts.cCheck)) {
    throw new UsageError('--out, --release, --allow-downgrade and --no-c-check go with --header, not --diff');
  }
  return opts;
}

class UsageError extends Error {}

function describeLack(s: { opcodes: string[]; records: string[]; fields: string[]; constants: number; enumMembers: number }): string {
  const parts = [
    s.opcodes.length > 0 ? `${s.opcodes.length} opcode${s.opcodes.length === 1 ? '' : 's'} (${s.opcodes.slice(0, 6).join(', ')}${s.opcodes.length > 6 ? ', ...' : ''})` : '',
    s.records.length > 0 ? `${s.records.length} record${s.records.length === 1 ? '' : 's'}` : '',
    s.fields.length > 0 ? `${s.fields.length} field${s.fields.length === 1 ? '' : 's'} of records it has (${s.fields.slice(0, 4).join(', ')}${s.fields.length > 4 ? ', ...' : ''})` : '',
    s.constants > 0 ? `${s.constants} constant${s.constants === 1 ? '' : 's'}` : '',
    s.enumMembers > 0 ? `${s.enumMembers} enum member${s.enumMembers === 1 ? '' : 's'}` : '',
  ].filter((p) => p !== '');
  return parts.length === 0 ? 'nothing' : parts.join(', ');
}

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
    const headerDir = resolve(opts.header!);
    // Recorded as given: relative paths relative to the repository, so a checkout beside ../shared finds them again.
    const label = isAbsolute(opts.header!) ? headerDir : relative(REPO_ROOT, headerDir) || '.';
    const spec = extractSpec(headerDir, { headerDirLabel: label, ...(opts.release === undefined ? {} : { release: opts.release }) });

    let previous: Spec | undefined;
    if (existsSync(out)) {
      try {
        previous = loadSpec(out);
      } catch (err) {
        if (!(err instanceof SpecValidationError)) throw err;
        warn(`note: the previous ${out} is not a valid spec, so there is no change report:\n${err.message}\n`);
      }
    }
    if (previous !== undefined) {
      const co = carryOver(previous, spec);
      const older = spec.provenance.linuxVersionCode < previous.provenance.linuxVersionCode;
      if ((older || co.carried !== undefined) && !opts.allowDowngrade) {
        const lacks = co.carried === undefined ? '' : ` It lacks ${describeLack(co.summary)} that ${out} has, and src/ uses such names.`;
        warn(
          `error: refusing to replace ${out} (Linux ${previous.provenance.release}) with ${older ? 'an older kernel\'s header' : 'a header that lacks names it has'} ` +
            `(Linux ${spec.provenance.release}, from ${opts.header}).${lacks}\n` +
            `  To look at it, extract elsewhere: npm run spec -- --header ${opts.header} --out /tmp/io_uring-${spec.provenance.release}.json\n` +
            `  To replace it anyway, add --allow-downgrade: what this header lacks is kept from the current spec, marked as carried ` +
            `(not from this header); src/ keeps building and builders of carried opcodes refuse with UnsupportedOpError.\n` +
            `  ${out} is unchanged.\n`,
        );
        return 1;
      }
      if (opts.allowDowngrade && co.conflicts.length > 0) {
        warn(`error: cannot carry the names this header lacks over from ${out}:\n  ${co.conflicts.join('\n  ')}\n  ${out} is unchanged.\n`);
        return 1;
      }
      if (co.carried !== undefined) {
        spec.carried = co.carried;
        log(
          `Downgrade accepted (--allow-downgrade): Linux ${previous.provenance.release} -> ${spec.provenance.release}. Kept from the current spec, marked as carried: ${describeLack(co.summary)}.\n` +
            (co.changed.length > 0 ? `  values this header defines differently (its own value is used): ${co.changed.join(', ')}\n` : ''),
        );
      }
    }

    // Whatever is written has been compared with every C compiler there is (or says why not).
    if (opts.cCheck) {
      const results = crossCheck(spec, headerDir);
      log(`C cross-check of Linux ${spec.provenance.release} (${opts.header}):\n${formatCrossCheck(results)}\n`);
      const bad = results.filter((r) => 'mismatches' in r && r.mismatches.length > 0);
      if (bad.length > 0) {
        for (const r of bad) if ('mismatches' in r) warn(`error: the spec disagrees with ${r.cc} on ${r.abi}:\n  ${r.mismatches.slice(0, 40).join('\n  ')}\n`);
        warn(`error: nothing written: the extractor misread these headers (please report it, with the header)\n`);
        return 1;
      }
      if (results.every((r) => 'skipped' in r)) {
        log('note: no C compiler was found for any ABI ($CC, cc, gcc, clang; aarch64-linux-gnu-gcc, riscv64-linux-gnu-gcc): this spec was NOT cross-checked against C.\n');
      }
    } else {
      log('note: --no-c-check: this spec was NOT cross-checked against C.\n');
    }

    if (previous !== undefined) {
      if (readFileSync(out, 'utf8') === specToJson(spec)) {
        log(`${out} is up to date (Linux ${spec.provenance.release}).\n`);
        return 0;
      }
      const d = diffSpecs(previous, spec);
      log(opts.json ? `${JSON.stringify(d, null, 2)}\n` : `${formatDiff(d)}\n`);
    }
    writeSpec(spec, out);
    log(`Wrote ${out}: Linux ${spec.provenance.release}, ${spec.records.length} records, ${spec.enums.length} enums, ` +
      `${spec.constants.length} constants, ${spec.flagSets.length} flag sets.\n`);
    if (!opts.json) log(`${formatNextSteps(nextSteps(effectiveSpec(spec), loadOps()))}\n`);
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
