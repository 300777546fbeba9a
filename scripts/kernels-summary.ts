/**
 * The report of `npm run test:kernels`: reads OUTDIR/KERNEL/{main,exclusive}.json (written by
 * scripts/kernel-reporter.ts in each guest) and the guest's exit status, prints per kernel the
 * totals, every failure (first lines) and every skip with its reason, writes OUTDIR/summary.md,
 * and exits 1 when anything failed, did not load or did not finish.
 *
 *   tsx scripts/kernels-summary.ts OUTDIR KERNEL...
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { KernelReport } from './kernel-reporter.js';

const [outDir, ...kernels] = process.argv.slice(2);
if (outDir === undefined || kernels.length === 0) {
  console.error('usage: kernels-summary.ts OUTDIR KERNEL...');
  process.exit(2);
}

const read = (path: string): string | undefined => (existsSync(path) ? readFileSync(path, 'utf8').trim() : undefined);
const lines: string[] = [];
const print = (s = ''): void => {
  lines.push(s);
};
let ok = true;
const table: string[] = ['| kernel | run | passed | failed | skipped | files not loaded | guest exit | wall time |', '|---|---|---|---|---|---|---|---|'];

for (const k of kernels) {
  const dir = join(outDir, k);
  const vmRc = read(join(dir, 'vm.rc')) ?? 'none';
  const seconds = read(join(dir, 'seconds'));
  const wall = seconds === undefined ? '?' : `${Math.floor(Number(seconds) / 60)} min ${Number(seconds) % 60} s`;
  if (vmRc !== '0') ok = false;
  for (const run of ['main', 'exclusive'] as const) {
    const text = read(join(dir, `${run}.json`));
    const label = run === 'main' ? 'suite' : 'test/vm-only (alone)';
    if (text === undefined) {
      ok = false;
      print(`## ${k}, ${label}: NO REPORT (guest exit ${vmRc}; see ${join(dir, 'console.txt')} and ${join(dir, `${run}.txt`)})`);
      table.push(`| ${k} | ${label} | – | – | – | – | ${vmRc} | ${wall} |`);
      continue;
    }
    const r = JSON.parse(text) as KernelReport;
    const c = r.counts;
    if (c.failed > 0 || c.filesFailedToLoad > 0 || r.unhandledErrors.length > 0 || !r.complete) ok = false;
    if (!r.complete) print(`## ${k}, ${label}: CUT SHORT (guest exit ${vmRc}): the counts below cover only the ${c.files} test files that finished`);
    table.push(`| ${r.kernel} | ${label} | ${c.passed} | ${c.failed} | ${c.skipped} | ${c.filesFailedToLoad} | ${vmRc} | ${run === 'main' ? wall : `${r.seconds} s`} |`);
    print(`## Linux ${r.kernel}, ${label}: ${c.passed} passed, ${c.failed} failed, ${c.skipped} skipped, ${c.files} files (${c.filesFailedToLoad} not loaded), ${r.seconds} s in the guest`);
    for (const f of r.fileErrors) print(`  FILE ${f.file}: ${f.errors.join('\n    ').split('\n').slice(0, 6).join('\n    ')}`);
    for (const e of r.unhandledErrors) print(`  UNHANDLED: ${e.split('\n').slice(0, 6).join('\n    ')}`);
    for (const t of r.tests.filter((x) => x.state === 'failed')) {
      print(`  FAIL ${t.file} > ${t.name}`);
      for (const e of t.errors ?? []) print(`    ${e.split('\n').slice(0, 4).join('\n    ')}`);
    }
    for (const t of r.tests.filter((x) => x.state === 'skipped')) print(`  skip ${t.file} > ${t.name}: ${t.reason ?? '?'}`);
  }
}

const head = [
  `# tsuring on other kernels (${outDir})`,
  '',
  'Host-only test files (their answer does not depend on the kernel) ran once on the host, not in the guests: see test/host-only.txt.',
  '',
  ...table,
  '',
];
const text = [...head, ...lines, ''].join('\n');
writeFileSync(join(outDir, 'summary.md'), text);
console.log(text);
console.log(ok ? 'test:kernels: every kernel passed' : 'test:kernels: FAILED (see above)');
process.exit(ok ? 0 : 1);
