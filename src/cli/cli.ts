/**
 * The `tsuring` command line: argument parsing, help, and dispatch. `main.ts` is the
 * executable; this module is what tests drive in-process.
 *
 * Exit codes: 0 success, 1 failure (io_uring unusable, a spec or codegen error, a stale
 * `generated/` under `--check`), 2 bad arguments (with a usage line on stderr).
 *
 * @module
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { formatProbe, formatProbeSummary } from './format.js';
import { packageRoot, packageVersion } from './paths.js';
import { runProbe } from './probe.js';

/** Where the CLI writes: stdout and stderr, swappable for tests. */
export interface CliOutput {
  out: (text: string) => void;
  err: (text: string) => void;
}

const defaultOutput: CliOutput = {
  out: (text) => process.stdout.write(text),
  err: (text) => process.stderr.write(text),
};

const USAGE = 'usage: tsuring <probe|demo|spec|codegen|help> [options]   (tsuring --help for details)';

const HELP = `tsuring: io_uring for Node.js, generated from the kernel's linux/io_uring.h

Usage: tsuring <command> [options]

Commands:
  probe [--json] [--summary]
      What the running kernel supports, against the spec this build was generated from:
      opcodes, setup flags, features, register opcodes, and whether io_uring is disabled.
  demo
      A few seconds that show the library working here: the probe summary, a file read
      through the Promise API and a batch of NOPs through the raw API (npm run demo).
  spec --header DIR [--out FILE] [--release X.Y.Z] [--allow-downgrade] [--no-c-check] [--json]
  spec --diff OLD.json NEW.json [--json]
      Extract a spec from DIR/linux/io_uring.h and print what changed, or compare two specs.
  codegen [--check] [--spec FILE] [--ops FILE] [--out DIR] [--quiet]
      Validate spec/io_uring.json and spec/ops.json and emit generated/ (--check: compare only).
  help [command]
      This text, or a command's.

\`spec\` and \`codegen\` run the TypeScript tools under codegen/ through tsx: they need a
checkout of the repository with its dev dependencies installed (\`npm ci\`).

Exit codes: 0 success, 1 failure, 2 bad arguments.
`;

const COMMAND_HELP: Readonly<Record<string, string>> = {
  probe: `Usage: tsuring probe [--json] [--summary]

Asks the running kernel what it supports and prints it against the spec:
  - opcodes: IORING_REGISTER_PROBE, with the first Linux release of each (from spec/ops.json);
  - setup flags: each IORING_SETUP_* tried on a throwaway ring (with the flags it needs);
  - features: the IORING_FEAT_* bits io_uring_setup reports;
  - register opcodes: one harmless call each (a known opcode answers EFAULT, ENXIO or
    EBADFD, or succeeds without lasting effect; an unknown one answers EINVAL), and
    IORING_REGISTER_QUERY's count where the kernel has it;
  - kernel.io_uring_disabled, kernel.io_uring_group and this process's seccomp state.

Options:
  --json      the report as JSON
  --summary   counts and what is missing, not every row

Exits 1 when this process cannot create a ring (the reason and a hint are printed).
`,
  demo: `Usage: tsuring demo

Prints the probe summary, then reads a temporary 4 MiB file with concurrent Promise-API
reads (checking every byte) and runs 100,000 NOPs in batches of 32 through the raw API.
Exits 1 when io_uring is not available here.
`,
  spec: `Usage: tsuring spec --header DIR [--out FILE] [--release X.Y.Z] [--allow-downgrade] [--no-c-check] [--json]
       tsuring spec --diff OLD.json NEW.json [--json]

--header DIR        extract the spec from DIR/linux/io_uring.h (and DIR/linux/io_uring/*.h,
                    DIR/linux/version.h) into FILE (default: spec/io_uring.json of the checkout),
                    after comparing it with every C compiler found (x86-64, arm64, riscv64);
                    when FILE exists, print what changed against it and what to do next
--release X.Y.Z     the kernel release, for a folder without linux/version.h
--allow-downgrade   replace FILE with an older kernel's spec (refused otherwise), keeping
                    the names that header lacks as "carried" so src/ still builds
--no-c-check        skip the C cross-check (says so)
--diff A B          print what changed between two spec files
--json              the change report as JSON

Runs codegen/extract (the same as \`npm run spec -- ...\`); needs a checkout with \`npm ci\` done.
`,
  codegen: `Usage: tsuring codegen [--check] [--spec FILE] [--ops FILE] [--out DIR] [--quiet]

Validates spec/io_uring.json and spec/ops.json, emits generated/{structs,constants,ops}.ts
and prints the change report (opcodes without an ops.json entry, skipped builders, ...).

--check        write nothing; exit 1 naming every file of generated/ that differs
--spec FILE    the spec (default spec/io_uring.json)
--ops FILE     the ops definitions (default spec/ops.json)
--out DIR      where to write (default generated/)
--quiet        no change report

Runs codegen/emit (the same as \`npm run codegen -- ...\`); needs a checkout with \`npm ci\` done.
`,
};

class UsageError extends Error {}

function usage(io: CliOutput, message: string, command?: string): number {
  const line = command === undefined ? USAGE : COMMAND_HELP[command]!.split('\n\n')[0]!;
  io.err(`tsuring: ${message}\n${line}\n`);
  return 2;
}

function parse(args: readonly string[], options: NonNullable<ParseArgsConfig['options']>): { values: Record<string, string | boolean | (string | boolean)[] | undefined>; positionals: string[] } {
  try {
    return parseArgs({ args: [...args], options, allowPositionals: true, strict: true });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

/** Runs `tsuring probe`. */
function probeCommand(args: readonly string[], io: CliOutput): number {
  const { values, positionals } = parse(args, { json: { type: 'boolean' }, summary: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } });
  if (values.help === true) {
    io.out(COMMAND_HELP.probe!);
    return 0;
  }
  if (positionals.length > 0) throw new UsageError(`unexpected argument ${positionals[0]}`);
  if (values.json === true && values.summary === true) throw new UsageError('--json and --summary exclude each other');
  const report = runProbe();
  const version = packageVersion();
  if (values.json === true) io.out(`${JSON.stringify({ tsuring: version, ...report }, null, 2)}\n`);
  else if (values.summary === true) io.out(formatProbeSummary(report, version));
  else io.out(formatProbe(report, version));
  if (!report.available) {
    if (values.json === true) io.err(`tsuring probe: ${report.error?.message ?? 'io_uring is not available'}\n`);
    return 1;
  }
  return 0;
}

/**
 * Loads a TypeScript tool of the checkout through tsx's loader. The installed package
 * ships compiled code only (dist/, spec/); codegen/ and tsx exist in a checkout.
 */
async function loadTool<T>(relative: string, io: CliOutput): Promise<T | null> {
  const root = packageRoot();
  const file = root === null ? null : join(root, relative);
  if (file === null || !existsSync(file)) {
    io.err(
      `tsuring: ${relative} is not here: the spec and codegen commands run the TypeScript tools of a checkout of the ` +
        'tsuring repository (they are not part of the installed package). Clone the repository, run `npm ci`, then `npx tsuring ...` there\n',
    );
    return null;
  }
  let tsImport: (specifier: string, parent: string) => Promise<unknown>;
  try {
    ({ tsImport } = (await import('tsx/esm/api')) as { tsImport: typeof tsImport });
  } catch {
    io.err(`tsuring: ${relative} needs tsx to run, and it is not installed: run \`npm ci\` in the checkout (tsx is a dev dependency)\n`);
    return null;
  }
  return (await tsImport(pathToFileURL(file).href, import.meta.url)) as T;
}

async function specCommand(args: readonly string[], io: CliOutput): Promise<number> {
  const { values, positionals } = parse(args, {
    header: { type: 'string' },
    out: { type: 'string' },
    diff: { type: 'string' },
    release: { type: 'string' },
    'allow-downgrade': { type: 'boolean' },
    'no-c-check': { type: 'boolean' },
    json: { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help === true) {
    io.out(COMMAND_HELP.spec!);
    return 0;
  }
  const forward: string[] = [];
  if (values.diff !== undefined) {
    // --diff takes two files: the second arrives as a positional.
    if (positionals.length !== 1) throw new UsageError('--diff takes two spec files: --diff OLD.json NEW.json');
    if (values.header !== undefined || values.out !== undefined) throw new UsageError('--diff goes without --header and --out');
    forward.push('--diff', String(values.diff), positionals[0]!);
  } else {
    if (positionals.length > 0) throw new UsageError(`unexpected argument ${positionals[0]}`);
    if (values.header === undefined) throw new UsageError('give --header DIR or --diff OLD.json NEW.json');
    forward.push('--header', String(values.header));
    if (values.out !== undefined) forward.push('--out', String(values.out));
    if (values.release !== undefined) forward.push('--release', String(values.release));
    if (values['allow-downgrade'] === true) forward.push('--allow-downgrade');
    if (values['no-c-check'] === true) forward.push('--no-c-check');
  }
  if (values.json === true) forward.push('--json');
  const tool = await loadTool<{ main: (argv: readonly string[], log?: (s: string) => void, warn?: (s: string) => void) => number }>('codegen/extract/cli.ts', io);
  if (tool === null) return 1;
  return tool.main(forward, io.out, io.err);
}

async function codegenCommand(args: readonly string[], io: CliOutput): Promise<number> {
  const { values, positionals } = parse(args, {
    check: { type: 'boolean' },
    spec: { type: 'string' },
    ops: { type: 'string' },
    out: { type: 'string' },
    quiet: { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help === true) {
    io.out(COMMAND_HELP.codegen!);
    return 0;
  }
  if (positionals.length > 0) throw new UsageError(`unexpected argument ${positionals[0]}`);
  const forward: string[] = [];
  for (const name of ['spec', 'ops', 'out'] as const) if (values[name] !== undefined) forward.push(`--${name}`, String(values[name]));
  if (values.check === true) forward.push('--check');
  if (values.quiet === true) forward.push('--quiet');
  const tool = await loadTool<{ runCli: (argv: readonly string[], io?: { out: (l: string) => void; err: (l: string) => void }) => number }>('codegen/emit/cli.ts', io);
  if (tool === null) return 1;
  return tool.runCli(forward, { out: (l) => io.out(`${l}\n`), err: (l) => io.err(`${l}\n`) });
}

/**
 * Runs the command line `argv` (without `node` and the script).
 *
 * @returns The exit code.
 */
export async function run(argv: readonly string[], io: CliOutput = defaultOutput): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case undefined:
        return usage(io, 'no command given');
      case '--help':
      case '-h':
        io.out(HELP);
        return 0;
      case '--version':
      case '-v':
        io.out(`${packageVersion()}\n`);
        return 0;
      case 'help': {
        const topic = rest[0];
        if (topic === undefined) {
          io.out(HELP);
          return 0;
        }
        if (COMMAND_HELP[topic] === undefined) return usage(io, `no such command: ${topic}`);
        io.out(COMMAND_HELP[topic]);
        return 0;
      }
      case 'probe':
        return probeCommand(rest, io);
      case 'demo': {
        const { values, positionals } = parse(rest, { help: { type: 'boolean', short: 'h' } });
        if (values.help === true) {
          io.out(COMMAND_HELP.demo!);
          return 0;
        }
        if (positionals.length > 0) throw new UsageError(`unexpected argument ${positionals[0]}`);
        // Loaded on demand: the other commands do not need the Promise layer.
        const { demo } = await import('./demo.js');
        return await demo(io);
      }
      case 'spec':
        return await specCommand(rest, io);
      case 'codegen':
        return await codegenCommand(rest, io);
      default:
        return usage(io, `unknown command ${JSON.stringify(command)}`);
    }
  } catch (err) {
    if (err instanceof UsageError) return usage(io, err.message, command);
    throw err;
  }
}
