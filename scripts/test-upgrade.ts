/**
 * `npm run test:upgrade [-- --full] [--keep]`: the kernel-header workflow end to end, in a
 * temporary copy of the repository (the files git tracks, as a clean clone has them, with this
 * checkout's node_modules linked in), so nothing here is touched.
 *
 * 1. Upgrade: a simulated Linux 7.3 header (made from ../shared/headers/linux-7.2 by adding a new
 *    opcode, a setup flag, an SQE union field, a struct with an anonymous union and a flexible
 *    array, and constants built from others, one of them a count beside flags) goes through
 *    `npm run spec` (C cross-check included) → `npm run codegen` → typecheck → codegen --check →
 *    `npm run docs:kernels` → the tests that depend on the spec (with --full: the whole `vitest run`), with no edit
 *    beyond the header.
 * 2. Downgrade: `npm run spec -- --header ../shared/headers/linux-6.1` is refused (nonzero exit,
 *    spec untouched); with --allow-downgrade it is accepted, codegen and typecheck pass, and a
 *    ring built from that code refuses an op the 6.1 header lacks with UnsupportedOpError.
 *
 * Exits nonzero, naming the step, at the first failure. Needs ../shared/headers beside the
 * repository and node_modules (npm ci); a C compiler is used where present.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const SHARED = resolve(REPO, '..', 'shared', 'headers');
const args = new Set(process.argv.slice(2));
const full = args.has('--full');
const keep = args.has('--keep');

/** The spec-dependent tests run after the upgrade (all of them with --full). */
const SPEC_TESTS = ['test/extract', 'test/emit', 'test/cli/cli.test.ts', 'test/ring/probe.test.ts'];

let failures = 0;
const t0 = Date.now();

function step(name: string, fn: () => void): void {
  const start = Date.now();
  try {
    fn();
    console.log(`ok    ${name} (${((Date.now() - start) / 1000).toFixed(1)} s)`);
  } catch (err) {
    failures++;
    console.log(`FAIL  ${name} (${((Date.now() - start) / 1000).toFixed(1)} s)\n${(err as Error).message.replace(/^/gm, '      ')}`);
    throw new Stop();
  }
}
class Stop extends Error {}

function run(cwd: string, cmd: string, argv: string[], expectCode: 0 | 'nonzero' = 0): { out: string; err: string } {
  const r = spawnSync(cmd, argv, { cwd, encoding: 'utf8', maxBuffer: 256 * 1024 * 1024, env: { ...process.env, FORCE_COLOR: '0' } });
  const ok = expectCode === 0 ? r.status === 0 : r.status !== 0 && r.status !== null;
  if (!ok) throw new Error(`${cmd} ${argv.join(' ')} exited ${r.status ?? r.signal}${expectCode === 'nonzero' ? ' (expected a failure)' : ''}\n${tail(r.stdout)}\n${tail(r.stderr)}`);
  return { out: r.stdout, err: r.stderr };
}
const tail = (s: string): string => s.split('\n').slice(-40).join('\n');
const bin = (repo: string, name: string): string => join(repo, 'node_modules', '.bin', name);
function expectIn(text: string, what: RegExp | string, label: string): void {
  const found = typeof what === 'string' ? text.includes(what) : what.test(text);
  if (!found) throw new Error(`${label}: expected ${String(what)} in:\n${tail(text)}`);
}

/** A copy of the tracked files of this checkout (uncommitted edits included), node_modules linked. */
function copyRepo(to: string): void {
  const files = spawnSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], { cwd: REPO, encoding: 'utf8' });
  if (files.status !== 0) throw new Error(`git ls-files failed: ${files.stderr}`);
  for (const f of files.stdout.split('\0').filter((x) => x !== '')) {
    if (!existsSync(join(REPO, f))) continue; // deleted in the work tree
    mkdirSync(dirname(join(to, f)), { recursive: true });
    cpSync(join(REPO, f), join(to, f));
  }
  symlinkSync(join(REPO, 'node_modules'), join(to, 'node_modules'));
}

/** Edits one anchor of a header; the anchor must be there exactly once. */
function edit(text: string, anchor: string, replacement: string): string {
  const at = text.indexOf(anchor);
  if (at < 0 || text.indexOf(anchor, at + 1) >= 0) throw new Error(`the 7.2 header does not have exactly one "${anchor}"`);
  return text.slice(0, at) + replacement + text.slice(at + anchor.length);
}

/** Writes a simulated Linux 7.3 header folder made from the 7.2 one. */
export function writeFutureHeader(from: string, to: string): void {
  cpSync(from, to, { recursive: true });
  writeFileSync(
    join(to, 'linux/version.h'),
    '#define LINUX_VERSION_CODE 459520\n#define KERNEL_VERSION(a,b,c) (((a) << 16) + ((b) << 8) + ((c) > 255 ? 255 : (c)))\n' +
      '#define LINUX_VERSION_MAJOR 7\n#define LINUX_VERSION_PATCHLEVEL 3\n#define LINUX_VERSION_SUBLEVEL 0\n',
  );
  let h = readFileSync(join(from, 'linux/io_uring.h'), 'utf8');
  // A new opcode, before the bound.
  h = edit(h, '\tIORING_OP_URING_CMD128,\n', '\tIORING_OP_URING_CMD128,\n\tIORING_OP_FUTURE_COPY,\n');
  // A new SQE union member (in the rw_flags union: 4 bytes at offset 28).
  h = edit(h, '\t\t__u32\t\trw_flags;\n', '\t\t__u32\t\trw_flags;\n\t\t__u32\t\tfuture_copy_flags;\n');
  // A new setup flag.
  h = edit(h, '#define IORING_SETUP_SQ_REWIND\t\t(1U << 20)\n', '#define IORING_SETUP_SQ_REWIND\t\t(1U << 20)\n\n/* Future: copy on setup */\n#define IORING_SETUP_FUTURE\t\t(1U << 21)\n');
  // A struct with an anonymous union and a flexible array; constants built from others, and a count among flags.
  h = edit(
    h,
    '#ifdef __cplusplus\n}\n#endif',
    [
      '/*',
      ' * IORING_OP_FUTURE_COPY argument',
      ' */',
      '#define IORING_FUTURE_COPY_MAX\t\t16',
      '#define IORING_FUTURE_COPY_F_SRC\t(1U << 0)',
      '#define IORING_FUTURE_COPY_F_DST\t(1U << 1)',
      '#define IORING_FUTURE_COPY_F_ALL\t(IORING_FUTURE_COPY_F_SRC | IORING_FUTURE_COPY_F_DST)',
      '#define IORING_FUTURE_COPY_BYTES\t(IORING_FUTURE_COPY_MAX * 8U)',
      '',
      'struct io_uring_future_copy {',
      '\t__u64\tsrc;',
      '\tunion {',
      '\t\t__u64\tdst;',
      '\t\tstruct {',
      '\t\t\t__u32\tdst_idx;',
      '\t\t\t__u32\tdst_flags;',
      '\t\t};',
      '\t};',
      '\t__u32\tnr;',
      '\t__u32\tflags;',
      '\t__u64\tranges[];',
      '};',
      '',
      '#ifdef __cplusplus\n}\n#endif',
    ].join('\n'),
  );
  writeFileSync(join(to, 'linux/io_uring.h'), h);
}

function main(): void {
  const h72 = join(SHARED, 'linux-7.2');
  const h61 = join(SHARED, 'linux-6.1');
  for (const d of [h72, h61]) {
    if (!existsSync(join(d, 'linux/io_uring.h'))) {
      console.error(`test:upgrade needs ${d} (../shared/headers beside the repository)`);
      process.exit(2);
    }
  }
  if (!existsSync(join(REPO, 'node_modules', '.bin', 'tsx'))) {
    console.error('test:upgrade needs node_modules: run npm ci first');
    process.exit(2);
  }
  const work = mkdtempSync(join(tmpdir(), 'tsuring-upgrade-'));
  // ../shared beside each copy, as beside a clone, so tests that read the shared headers run too.
  symlinkSync(resolve(SHARED, '..'), join(work, 'shared'));
  console.log(`test:upgrade in ${work}${full ? ' (full test suite)' : ''}`);
  try {
    // 1. Upgrade to a simulated 7.3.
    const up = join(work, 'upgrade');
    step('copy the repository', () => copyRepo(up));
    step('write a simulated Linux 7.3 header', () => writeFutureHeader(h72, join(work, 'headers', 'linux-7.3')));
    step('npm run spec -- --header ../headers/linux-7.3', () => {
      const r = run(up, bin(up, 'tsx'), ['codegen/extract/cli.ts', '--header', '../headers/linux-7.3']);
      expectIn(r.out, '+ IORING_OP_FUTURE_COPY = 65', 'the change report');
      expectIn(r.out, '+ io_uring_sqe.future_copy_flags: offset 28, 4 bytes, __u32', 'the change report');
      expectIn(r.out, '+ struct io_uring_future_copy (24 bytes)', 'the change report');
      expectIn(r.out, /^C cross-check of Linux 7\.3\.0/m, 'the C cross-check');
      if (/mismatches?$/m.test(r.out)) expectIn(r.out, / 0 mismatches$/m, 'the C cross-check');
      expectIn(r.out, /opcodes without a typed builder .*IORING_OP_FUTURE_COPY/, 'what to do next');
      expectIn(r.out, /flag set FutureCopy mixes counts with flags \(IORING_FUTURE_COPY_MAX = 16, IORING_FUTURE_COPY_BYTES = 128\)/, 'what to do next');
    });
    step('npm run codegen', () => {
      const r = run(up, bin(up, 'tsx'), ['codegen/emit/cli.ts']);
      expectIn(r.out, 'opcodes without an ops.json entry (raw builder only): IORING_OP_FUTURE_COPY', 'the codegen report');
      const constants = readFileSync(join(up, 'generated/constants.ts'), 'utf8');
      expectIn(constants, 'export const FutureCopyMask = 0x3;', 'generated/constants.ts (the count stays out of the mask)');
      expectIn(readFileSync(join(up, 'generated/structs.ts'), 'utf8'), 'export class IoUringFutureCopy', 'generated/structs.ts');
    });
    step('typecheck', () => void run(up, bin(up, 'tsc'), ['-p', 'tsconfig.json', '--noEmit']));
    step('codegen --check', () => void run(up, bin(up, 'tsx'), ['codegen/emit/cli.ts', '--check', '--quiet']));
    // docs/kernels.md and the README's kernel table come from the spec and ops.json too.
    step('npm run docs:kernels', () => {
      run(up, bin(up, 'tsx'), ['scripts/docs-kernels.ts']);
      expectIn(readFileSync(join(up, 'docs/kernels.md'), 'utf8'), '7.3', 'docs/kernels.md (the new header)');
    });
    step(full ? 'the whole test suite' : `the spec-dependent tests (${SPEC_TESTS.join(' ')})`, () => {
      const r = run(up, bin(up, 'vitest'), ['run', ...(full ? [] : SPEC_TESTS)]);
      expectIn(r.out.replace(/\x1b\[[0-9;]*m/g, ''), /Tests +\d+ passed/, 'vitest');
    });

    // 2. Downgrade to 6.1.
    const down = join(work, 'downgrade');
    step('copy the repository again', () => copyRepo(down));
    const specPath = join(down, 'spec/io_uring.json');
    const before = readFileSync(specPath, 'utf8');
    step('npm run spec -- --header ../shared/headers/linux-6.1 is refused', () => {
      const r = run(down, bin(down, 'tsx'), ['codegen/extract/cli.ts', '--header', h61], 'nonzero');
      expectIn(r.err, /refusing to replace .* with an older kernel's header \(Linux 6\.1\.\d+/, 'the refusal');
      expectIn(r.err, '--allow-downgrade', 'the refusal');
      if (readFileSync(specPath, 'utf8') !== before) throw new Error('the spec was changed by a refused downgrade');
    });
    step('... and accepted with --allow-downgrade', () => {
      const r = run(down, bin(down, 'tsx'), ['codegen/extract/cli.ts', '--header', h61, '--allow-downgrade']);
      expectIn(r.out, /Downgrade accepted .* marked as carried: \d+ opcodes/, 'the report');
      const spec = JSON.parse(readFileSync(specPath, 'utf8')) as { provenance: { release: string }; carried?: { from: { release: string }[] } };
      if (!spec.provenance.release.startsWith('6.1.') || spec.carried?.from[0]?.release === undefined) throw new Error('the spec is not 6.1 with carried names');
    });
    step('npm run codegen (6.1 with carried names)', () => void run(down, bin(down, 'tsx'), ['codegen/emit/cli.ts']));
    step('typecheck: src/ still builds', () => void run(down, bin(down, 'tsc'), ['-p', 'tsconfig.json', '--noEmit']));
    step('a ring built from it refuses IORING_OP_PIPE (not in the 6.1 header) and runs NOP', () => {
      const script = join(down, 'upgrade-check.ts');
      writeFileSync(
        script,
        [
          "import { IoUring } from './src/ring/ring.js';",
          "import { NOT_IN_HEADER_OPCODES, prepNop, prepPipe } from './generated/ops.js';",
          "import { UnsupportedOpError } from './src/errors.js';",
          'using ring = new IoUring({ entries: 4 });',
          'const sqe = ring.getSqe()!;',
          'let refused: unknown = null;',
          'try { prepPipe(sqe, new Uint8Array(8)); } catch (err) { refused = err; }',
          'prepNop(sqe);',
          'ring.submitAndWait(1);',
          'const e = refused as UnsupportedOpError;',
          "console.log(JSON.stringify({ isUnsupported: refused instanceof UnsupportedOpError, code: e?.code, message: e?.message, notInHeader: NOT_IN_HEADER_OPCODES.includes('IORING_OP_PIPE') }));",
        ].join('\n'),
      );
      const r = run(down, process.execPath, ['--import', 'tsx', script]);
      const got = JSON.parse(r.out.trim().split('\n').pop()!) as { isUnsupported: boolean; code: string; message: string; notInHeader: boolean };
      if (!got.isUnsupported || got.code !== 'ERR_IO_URING_OP_UNSUPPORTED' || !got.notInHeader) throw new Error(`not refused as expected: ${r.out}`);
      expectIn(got.message, /^prepPipe: IORING_OP_PIPE is not in the Linux 6\.1\.\d+ header this build was generated from/, 'the error message');
      console.log(`      ${got.message}`);
    });
  } catch (err) {
    if (!(err instanceof Stop)) throw err;
  } finally {
    if (keep) console.log(`kept ${work}`);
    else rmSync(work, { recursive: true, force: true });
  }
  console.log(`test:upgrade: ${failures === 0 ? 'passed' : 'FAILED'} in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
  process.exitCode = failures === 0 ? 0 : 1;
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) main();
