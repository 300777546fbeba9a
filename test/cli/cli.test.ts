/**
 * The `tsuring` command line: help and usage errors, `probe` checked against what the
 * runtime itself sees, `spec` and `codegen` delegating to the codegen tools, and the
 * executable run as a process.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FeatureFlags, IoringOp, SetupFlags } from '../../generated/constants.js';
import { run } from '../../src/cli/cli.js';
import { formatProbe, formatProbeSummary } from '../../src/cli/format.js';
import type { ProbeReport } from '../../src/cli/probe.js';
import { BufferRing } from '../../src/register/provided.js';
import { registerEventfd, unregisterEventfd } from '../../src/register/ring-config.js';
import { IoUring } from '../../src/ring/ring.js';
import { createEventfd, closeFd } from '../../src/sys/libc.js';
import { sharedHeaderDir } from '../extract/repo.js';
import { REPO_ROOT, runScript } from '../examples/run.js';

async function cli(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await run(argv, { out: (t) => (out += t), err: (t) => (err += t) });
  return { code, out, err };
}

const tmp = mkdtempSync(join(tmpdir(), 'tsuring-cli-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('help and usage', () => {
  it('--help lists every command; each command has its own --help', async () => {
    const top = await cli('--help');
    expect(top.code).toBe(0);
    for (const cmd of ['probe', 'demo', 'spec --header DIR', 'spec --diff', 'codegen']) expect(top.out).toContain(cmd);
    for (const cmd of ['probe', 'demo', 'spec', 'codegen']) {
      const r = await cli(cmd, '--help');
      expect({ cmd, code: r.code, err: r.err }).toEqual({ cmd, code: 0, err: '' });
      expect(r.out).toMatch(new RegExp(`^Usage: tsuring ${cmd}`));
      expect((await cli('help', cmd)).out).toBe(r.out);
    }
  });

  it.each([
    [[], /no command given/],
    [['frobnicate'], /unknown command "frobnicate"/],
    [['help', 'frobnicate'], /no such command: frobnicate/],
    [['probe', '--frob'], /Unknown option '--frob'/],
    [['probe', 'extra'], /unexpected argument extra/],
    [['probe', '--json', '--summary'], /--json and --summary exclude each other/],
    [['spec'], /give --header DIR or --diff OLD\.json NEW\.json/],
    [['spec', '--diff', 'a.json'], /--diff takes two spec files/],
    [['spec', '--diff', 'a.json', 'b.json', '--header', 'x'], /--diff goes without --header and --out/],
    [['spec', '--header'], /argument missing/],
    [['codegen', '--bogus'], /Unknown option '--bogus'/],
    [['codegen', 'now'], /unexpected argument now/],
    [['demo', 'fast'], /unexpected argument fast/],
  ])('%j: a usage line on stderr, exit 2', async (argv, message) => {
    const r = await cli(...(argv as string[]));
    expect(r.code).toBe(2);
    expect(r.out).toBe('');
    expect(r.err).toMatch(message);
    expect(r.err).toMatch(/^(usage|Usage): tsuring/m);
  });
});

describe('tsuring probe', () => {
  it('--json reports what the runtime itself sees: opcodes, features, setup flags, register opcodes', async () => {
    const r = await cli('probe', '--json');
    expect({ code: r.code, err: r.err }).toEqual({ code: 0, err: '' });
    const report = JSON.parse(r.out) as ProbeReport & { tsuring: string };
    expect(report.available).toBe(true);
    expect(report.specRelease).toBe(JSON.parse(readFileSync(join(REPO_ROOT, 'spec', 'io_uring.json'), 'utf8')).provenance.release);

    using ring = new IoUring({ entries: 4 });
    // Opcodes: one row per opcode of the spec, each with the kernel's answer.
    const specOps = Object.entries(IoringOp).filter(([k]) => k !== 'LAST');
    expect(report.opcodes.map((o) => o.name).sort()).toEqual(specOps.map(([k]) => `IORING_OP_${k}`).sort());
    for (const op of report.opcodes) expect({ op: op.name, supported: op.supported }).toEqual({ op: op.name, supported: ring.probe.supports(op.opcode) });
    expect(report.opcodes.find((o) => o.name === 'IORING_OP_READ')!.minKernel).toBe('5.6');
    expect(report.kernelLastOp).toBe(ring.probe.lastOp);

    // Features: exactly the bits a ring reports.
    expect(report.features.map((f) => f.name).sort()).toEqual(Object.keys(FeatureFlags).map((k) => `IORING_FEAT_${k}`).sort());
    for (const f of report.features) expect({ f: f.name, reported: f.reported }).toEqual({ f: f.name, reported: (ring.params.features & f.value) !== 0 });

    // Setup flags: every flag of the spec; a verdict agrees with creating such a ring.
    expect(report.setupFlags.map((f) => f.name).sort()).toEqual(Object.keys(SetupFlags).map((k) => `IORING_SETUP_${k}`).sort());
    const verdict = (name: string): string => report.setupFlags.find((f) => f.name === `IORING_SETUP_${name}`)!.verdict;
    const accepts = (options: ConstructorParameters<typeof IoUring>[0]): string => {
      try {
        new IoUring(options).close();
        return 'accepted';
      } catch (err) {
        return (err as { code?: string }).code === 'EINVAL' ? 'refused' : 'error';
      }
    };
    expect(verdict('SINGLE_ISSUER')).toBe(accepts({ entries: 4, singleIssuer: true }));
    expect(verdict('DEFER_TASKRUN')).toBe(accepts({ entries: 4, singleIssuer: true, deferTaskrun: true }));
    expect(verdict('NO_SQARRAY')).toBe(accepts({ entries: 4, noSqArray: true }));
    expect(verdict('NO_MMAP')).toBe(accepts({ entries: 4, noMmap: true }));
    expect(report.setupFlags.find((f) => f.name === 'IORING_SETUP_DEFER_TASKRUN')!.with).toEqual(['IORING_SETUP_SINGLE_ISSUER']);
    // A bit no kernel knows is refused; the probe must not call everything "accepted".
    expect(report.setupFlags.some((f) => f.verdict === 'accepted')).toBe(true);

    // Register opcodes: the probe and an eventfd registration work here, so both are "yes".
    const reg = (name: string): string => report.registerOps.find((o) => o.name === name)!.verdict;
    expect(reg('IORING_REGISTER_PROBE')).toBe('yes');
    const efd = createEventfd();
    try {
      registerEventfd(ring, efd);
      unregisterEventfd(ring);
      expect(reg('IORING_REGISTER_EVENTFD')).toBe('yes');
      expect(reg('IORING_UNREGISTER_EVENTFD')).toBe('yes');
    } finally {
      closeFd(efd);
    }
    // Known opcodes form a prefix (they were added in order), except those of features a
    // kernel may be built without (NAPI busy polling, zero-copy receive).
    const optional = /NAPI|ZCRX/;
    const core = report.registerOps.filter((o) => !optional.test(o.name));
    const firstUnknown = core.findIndex((o) => o.verdict !== 'yes');
    if (firstUnknown >= 0) {
      const known = core.slice(firstUnknown).filter((o) => o.verdict === 'yes').map((o) => o.name);
      expect(known, 'register opcodes known past the first unknown one').toEqual([]);
    }
    // A buffer ring this process can register means REGISTER_PBUF_RING is known.
    let pbufRing: boolean;
    try {
      BufferRing.register(ring, { entries: 2, bufferSize: 64 }).close();
      pbufRing = true;
    } catch {
      pbufRing = false;
    }
    expect(reg('IORING_REGISTER_PBUF_RING')).toBe(pbufRing ? 'yes' : 'no');
  });

  it('prints a table with a row per opcode, flag, feature and register opcode, and a summary', async () => {
    const full = await cli('probe');
    expect(full.code).toBe(0);
    expect(full.out).toMatch(/^tsuring \S+ probe: Linux \S+ /);
    expect(full.out).toMatch(/^io_uring: available$/m);
    expect(full.out).toMatch(/^ {2}kernel\.io_uring_disabled {2}/m);
    expect(full.out).toMatch(/^ {3}0 {2}IORING_OP_NOP +yes +5\.1$/m);
    expect(full.out).toMatch(/^ {2}IORING_SETUP_SINGLE_ISSUER +0x1000 +(accepted|refused)/m);
    expect(full.out).toMatch(/^ {2}IORING_FEAT_SINGLE_MMAP +0x1 +(yes|no)$/m);
    expect(full.out).toMatch(/^ {3}8 {2}IORING_REGISTER_PROBE +yes +ok$/m);
    const rows = full.out.split('\n').filter((l) => /^ {2}( *\d+ {2})?IORING_/.test(l));
    const specRows = Object.keys(IoringOp).length - 1 + Object.keys(SetupFlags).length + Object.keys(FeatureFlags).length;
    expect(rows.length).toBeGreaterThan(specRows);

    const summary = await cli('probe', '--summary');
    expect(summary.code).toBe(0);
    expect(summary.out).toMatch(/^ {2}opcodes +\d+ of \d+ supported/m);
    expect(summary.out).toMatch(/^ {2}setup flags +\d+ of \d+ accepted/m);
    expect(summary.out).toMatch(/^ {2}register opcodes +\d+ of \d+ known/m);
    expect(summary.out.split('\n').length).toBeLessThan(20);
  });

  it('says why when io_uring cannot be used (formatting of an unavailable report)', () => {
    const report: ProbeReport = {
      kernelRelease: '6.8.0',
      arch: 'x64',
      node: 'v20.0.0',
      specRelease: '9.9.9',
      status: { disabled: 2, group: -1, inGroup: false, seccompMode: 0, seccompFilters: 0 },
      available: false,
      error: { code: 'EPERM', message: 'EPERM: operation not permitted, io_uring_setup. io_uring is disabled on this machine: ...' },
      opcodes: [],
      kernelLastOp: null,
      setupFlags: [],
      features: [],
      unknownFeatureBits: 0,
      registerOps: [],
      query: null,
    };
    for (const text of [formatProbe(report, '0.1.0'), formatProbeSummary(report, '0.1.0')]) {
      expect(text).toContain('io_uring: NOT available (EPERM)');
      expect(text).toContain('kernel.io_uring_disabled  2 (io_uring is disabled for every process)');
      expect(text).toContain('io_uring is disabled on this machine');
      expect(text).not.toContain('Opcodes');
    }
  });
});

describe('tsuring spec and codegen (delegating to codegen/)', () => {
  const header612 = sharedHeaderDir('6.12');

  it('spec --header extracts a spec, and spec --diff reports the changes from 6.12 to the committed spec', async (ctx) => {
    if (header612 === undefined) {
      const note = 'skipped: ../shared/headers/linux-6.12 is not there';
      console.warn(note);
      ctx.skip(note);
    }
    const out = join(tmp, 'io_uring-6.12.json');
    const extract = await cli('spec', '--header', header612!, '--out', out);
    expect({ code: extract.code, err: extract.err }).toEqual({ code: 0, err: '' });
    expect(extract.out).toMatch(/^Wrote .*io_uring-6\.12\.json: Linux 6\.12\.\d+/m);
    expect(existsSync(out)).toBe(true);
    const diff = await cli('spec', '--diff', out, join(REPO_ROOT, 'spec', 'io_uring.json'));
    expect(diff.code).toBe(0);
    const committed = (JSON.parse(readFileSync(join(REPO_ROOT, 'spec', 'io_uring.json'), 'utf8')) as { provenance: { release: string } }).provenance.release;
    expect(diff.out).toMatch(new RegExp(`^Spec changes: Linux 6\\.12\\.\\d+ \\(\\d+\\) -> ${committed.replace(/\./g, '\\.')} `));
    expect(diff.out).toContain('+ IORING_OP_RECV_ZC = 58');
    const json = await cli('spec', '--diff', out, join(REPO_ROOT, 'spec', 'io_uring.json'), '--json');
    expect(json.code).toBe(0);
    expect(() => JSON.parse(json.out) as unknown).not.toThrow();
  });

  it('spec fails (exit 1) with the extractor\'s error for a directory without the header', async () => {
    const r = await cli('spec', '--header', tmp, '--out', join(tmp, 'never.json'));
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/^error: /);
    expect(existsSync(join(tmp, 'never.json'))).toBe(false);
  });

  it('codegen --check passes on the committed tree and fails naming the files of an empty output directory', async () => {
    const ok = await cli('codegen', '--check', '--quiet');
    expect({ code: ok.code, err: ok.err }).toEqual({ code: 0, err: '' });
    expect(ok.out).toMatch(/codegen --check: .*generated is up to date/);
    const empty = mkdtempSync(join(tmp, 'out-'));
    const stale = await cli('codegen', '--check', '--quiet', '--out', empty);
    expect(stale.code).toBe(1);
    for (const f of ['constants.ts', 'ops.ts', 'structs.ts']) expect(stale.err).toContain(`${join(empty, f)} is missing`);
  });
});

describe('the executable', () => {
  it('runs as a process: probe --summary exits 0; bad arguments exit 2 with usage on stderr', async () => {
    const ok = await runScript('src/cli/main.ts', ['probe', '--summary']);
    expect({ code: ok.code, stderr: ok.stderr }).toEqual({ code: 0, stderr: '' });
    expect(ok.stdout.toString()).toMatch(/^io_uring: available$/m);
    const bad = await runScript('src/cli/main.ts', ['probe', '--nope']);
    expect(bad.code).toBe(2);
    expect(bad.stdout.length).toBe(0);
    expect(bad.stderr).toMatch(/Usage: tsuring probe/);
  });

  it('package.json points `bin` at the compiled main, which starts with a node shebang', () => {
    const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { bin: Record<string, string>; scripts: Record<string, string> };
    expect(pkg.bin.tsuring).toBe('./dist/src/cli/main.js');
    expect(readFileSync(join(REPO_ROOT, 'src', 'cli', 'main.ts'), 'utf8').startsWith('#!/usr/bin/env node\n')).toBe(true);
    expect(pkg.scripts.prepack).toContain('build'); // prepack, not prepare: no install script for consumers
    expect(pkg.scripts.demo).toBeDefined();
    expect(pkg.scripts.docs).toBe('typedoc');
  });

  it('demo shows the probe summary, a Promise-API read and a raw-API batch', async () => {
    const r = await cli('demo');
    expect({ code: r.code, err: r.err }).toEqual({ code: 0, err: '' });
    expect(r.out).toMatch(/^io_uring: available$/m);
    expect(r.out).toMatch(/^Promise API: .* every byte matches$/m);
    expect(r.out).toMatch(/^Raw API: 100000 NOPs in batches of 32 .*: 3125 io_uring_enter calls/m);
  });
});
