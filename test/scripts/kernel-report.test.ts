/**
 * The report of `npm run test:kernels` (scripts/kernel-reporter.ts in each guest, then
 * scripts/kernels-summary.ts): run on a fixture suite in a child vitest, every outcome is
 * counted, every skip keeps its reason (a `ctx.skip(note)` note, what the test printed, or an
 * `it.skipIf` title), a failure and a file that does not load fail the summary, and a run cut
 * short is reported as such.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KernelReport } from '../../scripts/kernel-reporter.js';
import { REPO_ROOT } from '../support/child.js';

let dir = '';
beforeAll(() => {
  // Inside node_modules/.cache, so the fixture's `import 'vitest'` resolves to the repository's.
  mkdirSync(join(REPO_ROOT, 'node_modules', '.cache'), { recursive: true });
  dir = mkdtempSync(join(REPO_ROOT, 'node_modules', '.cache', 'tsuring-report-'));
  writeFileSync(join(dir, 'vitest.config.mjs'), "export default { test: { include: ['*.test.mjs'] } };\n");
  writeFileSync(
    join(dir, 'a.test.mjs'),
    `import { it } from 'vitest';
it('passes', () => {});
it('skips with a note', (ctx) => ctx.skip('kernel 1.0 lacks IORING_OP_X (needs Linux 9.9)'));
it.skipIf(true)('skipIf: the reason is in this title', () => {});
it('skips after printing why', (ctx) => { console.warn('skipped: the printed reason'); ctx.skip(); });
it('fails', () => { throw new Error('boom'); });
`,
  );
  writeFileSync(join(dir, 'b.test.mjs'), "import { it } from 'vitest';\nthrow new Error('this file does not load');\nit('never', () => {});\n");
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function vitest(reportFile: string): void {
  spawnSync(process.execPath, [join(REPO_ROOT, 'node_modules/vitest/vitest.mjs'), 'run', '--root', dir, '--reporter', join(REPO_ROOT, 'scripts/kernel-reporter.ts')], {
    cwd: dir,
    encoding: 'utf8',
    env: { ...process.env, TSURING_REPORT_FILE: reportFile },
  });
}

describe('test:kernels report', () => {
  it('counts every outcome, keeps every skip reason, counts a file that did not load', () => {
    const file = join(dir, 'main.json');
    vitest(file);
    const r = JSON.parse(readFileSync(file, 'utf8')) as KernelReport;
    expect(r.complete).toBe(true);
    expect(r.counts).toMatchObject({ passed: 1, failed: 1, skipped: 3, files: 2, filesFailedToLoad: 1 });
    const reason = (name: string): string | undefined => r.tests.find((t) => t.name === name)?.reason;
    expect(reason('skips with a note')).toBe('kernel 1.0 lacks IORING_OP_X (needs Linux 9.9)');
    expect(reason('skips after printing why')).toBe('skipped: the printed reason');
    expect(reason('skipIf: the reason is in this title')).toMatch(/skipIf: the reason is in this title/);
    expect(r.tests.find((t) => t.name === 'fails')!.errors![0]).toMatch(/boom/);
    expect(r.fileErrors[0]!.file).toBe('b.test.mjs');
    expect(r.fileErrors[0]!.errors[0]).toMatch(/this file does not load/);
  }, 120_000);

  it('the summary fails on a failure, a file that did not load, a missing report and a run cut short; prints every skip reason', () => {
    const out = join(dir, 'out');
    mkdirSync(join(out, 'k1'), { recursive: true });
    mkdirSync(join(out, 'k2'), { recursive: true });
    vitest(join(out, 'k1', 'main.json'));
    const passing: KernelReport = {
      kernel: '9.9.9-test', complete: true, startedAt: '', seconds: 1,
      counts: { passed: 1, failed: 0, skipped: 1, files: 1, filesFailedToLoad: 0 },
      tests: [{ file: 'x.test.ts', name: 'a', state: 'passed' }, { file: 'x.test.ts', name: 'b', state: 'skipped', reason: 'needs Linux 9.10' }],
      fileErrors: [], unhandledErrors: [],
    };
    writeFileSync(join(out, 'k1', 'exclusive.json'), JSON.stringify(passing));
    writeFileSync(join(out, 'k2', 'main.json'), JSON.stringify(passing));
    writeFileSync(join(out, 'k2', 'exclusive.json'), JSON.stringify({ ...passing, complete: false }));
    for (const k of ['k1', 'k2']) {
      writeFileSync(join(out, k, 'vm.rc'), '0');
      writeFileSync(join(out, k, 'seconds'), '75');
    }
    const summary = (...kernels: string[]): { status: number | null; text: string } => {
      const r = spawnSync(process.execPath, ['--import', 'tsx', join(REPO_ROOT, 'scripts/kernels-summary.ts'), out, ...kernels], { cwd: REPO_ROOT, encoding: 'utf8' });
      return { status: r.status, text: r.stdout + r.stderr };
    };
    const both = summary('k1', 'k2');
    expect(both.status).toBe(1);
    expect(both.text).toMatch(/FAIL a\.test\.mjs > fails/);
    expect(both.text).toMatch(/FILE b\.test\.mjs: .*this file does not load/);
    expect(both.text).toMatch(/skip a\.test\.mjs > skips with a note: kernel 1\.0 lacks IORING_OP_X \(needs Linux 9\.9\)/);
    expect(both.text).toMatch(/skip x\.test\.ts > b: needs Linux 9\.10/);
    expect(both.text).toMatch(/k2, test\/vm-only \(alone\): CUT SHORT/);
    expect(readFileSync(join(out, 'summary.md'), 'utf8')).toContain('| 9.9.9-test | suite | 1 | 0 | 1 | 0 | 0 | 1 min 15 s |');
    // A kernel whose guest left no report at all.
    mkdirSync(join(out, 'k3'));
    writeFileSync(join(out, 'k3', 'vm.rc'), '124');
    expect(summary('k3').text).toMatch(/k3, suite: NO REPORT \(guest exit 124/);
    // Only passing reports: exit 0.
    rmSync(join(out, 'k2', 'exclusive.json'));
    writeFileSync(join(out, 'k2', 'exclusive.json'), JSON.stringify(passing));
    expect(summary('k2').status).toBe(0);
  }, 120_000);
});

describe('test/kernels-ci.txt (the files CI runs in TCG guests)', () => {
  it('names existing test files that the guests run (not host-only, not vm-only), each with its reason', () => {
    const lines = readFileSync(join(REPO_ROOT, 'test', 'kernels-ci.txt'), 'utf8').split('\n').filter((l) => l.trim() !== '' && !l.startsWith('#'));
    expect(lines.length).toBeGreaterThan(20);
    const hostOnly = readFileSync(join(REPO_ROOT, 'test', 'host-only.txt'), 'utf8')
      .split('\n')
      .filter((l) => l.trim() !== '' && !l.startsWith('#'))
      .map((l) => l.split(' # ')[0]!.trim());
    const globToRegExp = (glob: string): RegExp =>
      new RegExp(`^${glob.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*\*\//g, '(?:.*/)?').replace(/\*\*/g, '.*').replace(/\*/g, '[^/]*')}$`);
    for (const line of lines) {
      const [path, reason] = line.split(' # ');
      expect(reason?.trim(), line).toBeTruthy();
      expect(existsSync(join(REPO_ROOT, path!)), path).toBe(true);
      expect(path!.endsWith('.test.ts'), path).toBe(true);
      expect(path!.startsWith('test/vm-only/'), path).toBe(false);
      expect(hostOnly.some((g) => globToRegExp(g).test(path!)), `${path} is host-only`).toBe(false);
    }
  });
});
