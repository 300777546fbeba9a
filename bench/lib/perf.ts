/**
 * A second opinion on where the time goes, from Linux `perf` when it is installed and
 * allowed: `perf record` of a worker run with `--perf-basic-prof` (so JIT-compiled JS has
 * names), summarised by symbol and by where the code lives (kernel, our JS, V8/Node, koffi,
 * libc).
 *
 * Why both: V8's own sampler (`--cpu-prof`) charges a sample that lands in a system call
 * to the JS function that made it, and on this machine it charged 65-90 % of a NOP loop to
 * `ioUringEnter`, where perf sees ~45 % in the kernel and ~35 % in our JS.
 *
 * @module
 */
import { spawnSync } from 'node:child_process';
import { readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { runProcess, type Runner } from './exec.js';
import { sourceName } from './profile.js';

export interface PerfSummary {
  /** Share of samples by where the code lives. */
  byPlace: Record<string, number>;
  /** The heaviest symbols. */
  top: { name: string; where: string; place: string; percent: number }[];
}

/** Why perf cannot be used here, or null when it can. */
export function perfUnavailable(): string | null {
  const r = spawnSync('perf', ['--version'], { encoding: 'utf8' });
  if (r.error !== undefined || r.status !== 0) return 'perf is not installed';
  return null;
}

function place(dso: string, kind: string): string {
  if (kind === 'k' || dso.startsWith('[kernel')) return 'kernel';
  if (dso.startsWith('[JIT]') || dso.startsWith('perf-')) return 'JS (JIT)';
  if (dso.startsWith('koffi')) return 'koffi';
  if (dso.startsWith('libc') || dso.startsWith('ld-linux')) return 'libc';
  if (dso === 'node' || dso.startsWith('libstdc++') || dso.startsWith('libnode')) return 'V8/Node';
  return 'other';
}

/** Parses `perf report --no-children --sort dso,symbol --stdio -g none`. */
export function parsePerfReport(text: string, n: number): PerfSummary {
  const byPlace: Record<string, number> = {};
  const rows: PerfSummary['top'] = [];
  for (const line of text.split('\n')) {
    const m = /^\s+([\d.]+)%\s+(\S.*?)\s+\[(.)\]\s+(.+?)\s*$/.exec(line);
    if (m === null) continue;
    const percent = Number(m[1]);
    const dso = m[2]!.trim();
    const where = place(dso, m[3]!);
    byPlace[where] = (byPlace[where] ?? 0) + percent;
    // Some perf versions append empty columns ('-  -') after the symbol.
    let name = m[4]!.replace(/(\s+-)+$/, '');
    let file = dso;
    const js = /^JS:[*~^+-]?(.*?)\s+(\S+:\d+:\d+)$/.exec(name);
    if (js !== null) {
      name = js[1] === '' ? '(anonymous)' : js[1]!;
      const loc = /^(.*):(\d+):\d+$/.exec(js[2]!)!;
      file = sourceName(loc[1]!, Number(loc[2]) - 1);
    }
    rows.push({ name, where: file, place: where, percent });
  }
  for (const k of Object.keys(byPlace)) byPlace[k] = Math.round(byPlace[k]! * 10) / 10;
  return { byPlace, top: rows.sort((a, b) => b.percent - a.percent).slice(0, n) };
}

/** Runs one worker measurement under `perf record` and summarises it. */
export async function perfProfile(runner: Runner, kind: string, params: unknown, dataFile: string): Promise<PerfSummary> {
  const maps = (): Set<string> => new Set(readdirSync(tmpdir()).filter((f) => /^perf-\d+\.map$/.test(f)));
  const before = maps();
  try {
    await runProcess(
      'perf',
      ['record', '-F', '2999', '-o', dataFile, '--', process.execPath, ...runner.nodeArgs, '--perf-basic-prof', runner.worker, kind, JSON.stringify(params)],
      // --perf-basic-prof also turns on V8's code log, which writes isolate-*-v8.log into the
      // working directory: keep it beside the profile data, out of the repository.
      { timeoutMs: 120_000, label: 'perf record', cwd: dirname(dataFile) },
    );
    const report = spawnSync('perf', ['report', '-i', dataFile, '--no-children', '--sort', 'dso,symbol', '--stdio', '-g', 'none'], {
      encoding: 'utf8',
      maxBuffer: 64 * 2 ** 20,
    });
    if (report.status !== 0) throw new Error(`perf report failed: ${report.stderr.trim().split('\n')[0]}`);
    return parsePerfReport(report.stdout, 15);
  } finally {
    // --perf-basic-prof leaves a symbol map per process in the temp dir.
    for (const f of maps()) if (!before.has(f)) rmSync(join(tmpdir(), f), { force: true });
  }
}
