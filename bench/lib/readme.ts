/**
 * The README's Performance section and the summary under its chart, generated from a
 * bench results file (`npm run bench:readme`). Pure functions of the results: the same
 * file always gives the same text, so a regenerated README differs only where the
 * figures did.
 *
 * The README holds two generated blocks between marker comments:
 * `<!-- bench:summary:begin -->` … `<!-- bench:summary:end -->` (the sentence under the
 * chart at the top) and `<!-- bench:begin -->` … `<!-- bench:end -->` (the Performance
 * section's figures). Everything outside them is left as it is.
 *
 * @module
 */
import { TARGETS } from './plan.js';
import type { PerfSummary } from './perf.js';
import type { SelfTime } from './profile.js';
import { formatRatio, formatValue, markdownTable, median, networkMarkdown, targetRows, targetsMarkdown, type Results } from './report.js';

export const MARKERS = {
  summary: ['<!-- bench:summary:begin -->', '<!-- bench:summary:end -->'],
  section: ['<!-- bench:begin -->', '<!-- bench:end -->'],
} as const;

/** Load average (1 min) at the start above which a run without disturbance figures does not count. */
export const QUIET_LOADAVG = 1.5;
/** Median cores other processes used in the measured windows above which a run does not count. */
export const QUIET_OTHERS = 0.25;

/**
 * Why these results are not a measurement to publish (a smoke run, a loaded machine), or
 * null. The load average lags by a minute, so what other processes did during the measured
 * windows (`others`, from /proc/stat) decides where the run recorded it.
 */
export function unfitReason(results: Results): string | null {
  const reasons: string[] = [];
  if (results.config.quick) reasons.push('a `--quick` smoke run');
  else if (results.config.rounds < 3) reasons.push(`${results.config.rounds} round${results.config.rounds === 1 ? '' : 's'} only`);
  if (results.config.only !== null) reasons.push(`filtered with --only ${results.config.only}`);
  const others = median(results.measurements.filter((m) => m.others !== null).map((m) => m.others!));
  const load = results.machine.loadavgStart[0] ?? 0;
  if (others !== null && others > QUIET_OTHERS) reasons.push(`other processes used a median ${others.toFixed(2)} cores during the measured windows (load average ${load.toFixed(2)} at the start)`);
  else if (others === null && load > QUIET_LOADAVG) reasons.push(`load average ${load.toFixed(2)} at the start (a meaningful run needs < ${QUIET_LOADAVG})`);
  return reasons.length === 0 ? null : reasons.join('; ');
}

function results2(results: Results): Results {
  return results.targets === undefined ? { ...results, targets: targetRows(results, TARGETS) } : results;
}

function machineLine(results: Results): string {
  const m = results.machine;
  const others = results.measurements.filter((x) => x.others !== null).map((x) => x.others!);
  const load = `load average ${m.loadavgStart[0]?.toFixed(2) ?? '?'} at the start, ${m.loadavgEnd?.[0]?.toFixed(2) ?? '?'} at the end`;
  const disturbed = others.length === 0 ? '' : `; other processes used a median ${median(others)!.toFixed(3)} cores (at most ${Math.max(...others).toFixed(2)}) during the measured windows`;
  return (
    `Measured on ${m.cpu === 'AMD EPYC (KVM guest)' ? 'an AMD EPYC KVM guest' : m.cpu} with ${m.cores} CPUs and ${m.memoryGiB} GiB, Linux ${m.kernel}, ` +
    `Node ${m.node}, liburing ${m.liburing ?? 'n/a'}, on ${results.date.slice(0, 10)}: ${results.config.rounds} rounds, ${load}${disturbed}. ` +
    `Raw rings were set up with ${results.config.setupFlagNames.map((f) => `\`${f.replace('IORING_SETUP_', '')}\``).join(', ') || 'no flags'}.`
  );
}

function sqPollText(results: Results): string {
  const q = results.sqpoll;
  if (q === undefined) return 'The SQPOLL check did not run (SQPOLL rings could not be set up, or the run was filtered).';
  const t = q.tsuring;
  const lines: string[] = [];
  const where = `sq_thread_idle ${q.idleMs} ms, SQ thread on CPU ${q.sqCpu < 0 ? 'any' : q.sqCpu}${q.appCpu === null ? '' : `, the loop on CPU ${q.appCpu}`}`;
  lines.push(`**SQPOLL** (NOP batch ${q.batch}, ${where}; both sides publish SQEs and spin on the CQ): ${q.verdict === 'met' ? '✅' : q.verdict === 'missed' ? '❌' : '–'} ${q.verdict === 'met' ? 'no `io_uring_enter` while the SQ thread was awake' : q.verdict === 'missed' ? 'submissions entered the kernel while the SQ thread was awake' : 'unverified'}.`);
  if (t !== undefined) {
    const process = t.processEnters === null ? '' : ` Counted from outside by ${q.counter} over the whole process (setup, warm-up and close included): ${t.processEnters} calls.`;
    lines.push(
      `tsuring made ${t.enterCalls ?? 'an unknown number of'} \`io_uring_enter\` calls in ${t.ops.toLocaleString('en-US')} NOPs after the warm-up (${t.wakeups ?? '?'} of them to wake a sleeping SQ thread; without SQPOLL it would be ${Math.round(t.ops / q.batch).toLocaleString('en-US')}).${process}`,
    );
  }
  if (q.liburing !== undefined) lines.push(`liburing, same loop: ${q.liburing.processEnters} call${q.liburing.processEnters === 1 ? '' : 's'} over its whole process.`);
  if (q.error !== undefined) lines.push(`(Errors: ${q.error}.)`);
  return lines.join(' ');
}

interface CostShape {
  split?: { rows: { name: string; totalNsPerOp: number; enterNsPerOp: number; jsNsPerOp: number }[] };
  rss?: { ops: number; rssGrowthMiB: number; rssBeforeMiB: number; rssAfterMiB: number };
  alloc?: { name: string; bytesPerOp: number; gcsInWindow: number }[];
}

function costText(results: Results): string {
  const cost = results.cost as CostShape | undefined;
  if (cost === undefined) return '';
  const out: string[] = ['**What the library itself costs** (same run):', ''];
  if (cost.split !== undefined) {
    out.push('| loop | ns per op | inside `io_uring_enter` (kernel + koffi) | our JS |', '|---|---:|---:|---:|');
    for (const r of cost.split.rows) out.push(`| ${r.name} | ${r.totalNsPerOp.toFixed(0)} | ${r.enterNsPerOp.toFixed(0)} | ${r.jsNsPerOp.toFixed(0)} |`);
    out.push('');
  }
  const facts: string[] = [];
  if (cost.rss !== undefined) {
    const r = cost.rss;
    facts.push(`${(r.ops / 1e6).toFixed(0)} million NOPs move RSS from ${r.rssBeforeMiB.toFixed(1)} to ${r.rssAfterMiB.toFixed(1)} MiB`);
  }
  if (cost.alloc !== undefined) {
    for (const r of cost.alloc) facts.push(`${r.name}: ${r.bytesPerOp.toFixed(r.bytesPerOp < 10 ? 2 : 0)} B of V8 heap per op${r.gcsInWindow > 0 ? ' (a GC ran in the window: unreliable)' : ''}`);
  }
  if (facts.length > 0) out.push(`${facts.join('; ')} (one object per op would be ≥ 16 B/op).`);
  return out.join('\n');
}

interface ProfileShape {
  top: SelfTime[];
  perf?: PerfSummary | { unavailable: string };
}

function profileText(results: Results, rows = 10): string {
  const p = (results.profiles as Record<string, ProfileShape> | undefined)?.['profile.nop-b32'];
  if (p === undefined) return 'No profile in this run (`--quick` or `--no-profile`).';
  const perf = p.perf !== undefined && !('unavailable' in p.perf) ? p.perf : null;
  const wantPerf = (results.config.profiler ?? (perf === null ? 'cpu-prof' : 'perf')) === 'perf';
  const out: string[] = [];
  if (wantPerf && perf !== null) {
    const places = Object.entries(perf.byPlace)
      .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
      .map(([k, v]) => `${k} ${v.toFixed(1)} %`)
      .join(', ');
    out.push(`**Where the time goes: NOP batch 32, raw API** (\`perf record\` of the whole worker, JIT code named with \`--perf-basic-prof\`; by place: ${places}):`, '');
    out.push('| % of samples | function | where |', '|---:|---|---|');
    for (const e of perf.top.slice(0, rows)) out.push(`| ${e.percent.toFixed(1)} | \`${e.name}\` | ${e.where === e.place ? e.place : `${e.where} (${e.place})`} |`);
  } else {
    out.push(
      '**Where the time goes: NOP batch 32, raw API** (`node --cpu-prof`, self time; perf could not record here. V8 charges a sample taken inside a system call to the JS function that made it, so `ioUringEnter` holds the kernel\'s share too):',
      '',
    );
    out.push('| self % | function | where |', '|---:|---|---|');
    for (const e of p.top.slice(0, rows)) out.push(`| ${e.selfPercent.toFixed(1)} | \`${e.name}\` | ${e.where === '' ? '(V8)' : e.where} |`);
  }
  return out.join('\n');
}

/** The Performance section's generated block (without the markers). */
export function performanceSection(input: Results): string {
  const results = results2(input);
  const unfit = unfitReason(results);
  const parts: string[] = [];
  if (unfit !== null) parts.push(`> **Not a measurement:** ${unfit}. Rerun \`npm run bench\` on a quiet machine, then \`npm run bench:readme\`.`, '');
  parts.push(machineLine(results), '');
  parts.push('![tsuring vs liburing, fs and net: ratios of medians](bench/results/latest.svg)', '');
  parts.push('**Targets** (DESIGN.md, issue 14; ratios of medians from the same run):', '', targetsMarkdown(results), '');
  parts.push('**Every comparison:**', '', markdownTable(results), '');
  parts.push(
    `**Network, server-bound.** The server runs pinned to ${results.config.pin != null ? `CPU ${results.config.pin.app}` : 'one CPU'} and the C load generator (\`bench/c/echo-load.c\`, epoll) to ${results.config.pin != null ? `CPU ${results.config.pin.other}` : 'another'}; ` +
      "it keeps every connection's requests pipelined, so the server's CPU is what runs out (server cores ≈ 1; the last column says whether it did). Server CPU from `/proc/PID/stat` at the window's ends:",
    '',
    networkMarkdown(results),
    '',
  );
  parts.push(sqPollText(results), '');
  const cost = costText(results);
  if (cost !== '') parts.push(cost, '');
  parts.push(profileText(results));
  return parts.join('\n');
}

/** The sentence under the chart at the top of the README. */
export function summarySection(input: Results): string {
  const results = results2(input);
  const rows = results.targets!;
  const met = rows.filter((r) => r.met === true).length;
  const measured = rows.filter((r) => r.met !== null).length;
  const cmp = (ours: string, baseline: string): string => formatRatio(results.comparisons.find((c) => c.ours === ours && c.baseline === baseline)?.ratio ?? null);
  const tcp = results.version === 1 ? undefined : results.measurements.find((m) => m.id === 'tcp.64.tsuring');
  const unfit = unfitReason(results);
  return (
    `The chart above, from \`npm run bench\` on ${results.date.slice(0, 10)} (${results.machine.cores} CPUs, Linux ${results.machine.kernel}${unfit === null ? '' : `; not a measurement: ${unfit}`}): ` +
    `${met} of ${rows.length} performance targets met${measured < rows.length ? ` (${rows.length - measured} not measured)` : ''}. ` +
    `NOP batch 32 runs at ${cmp('nop.b32.tsuring', 'nop.b32.liburing')} liburing in C; Promise-API 4 KiB reads at 128 in flight at ` +
    `${cmp('rand.qd128.tsuring-promise', 'rand.qd128.liburing')} liburing and ${cmp('rand.qd128.tsuring-promise', 'rand.qd128.fs-promises')} \`fs.promises\`` +
    `${tcp?.median != null ? `; the raw echo server serves ${formatValue(tcp.median, 'req/s')} (${cmp('tcp.64.tsuring', 'tcp.64.net')} \`net\`)` : ''}. ` +
    '[Performance](#performance) has every row and what each costs.'
  );
}

/** Replaces the text between `begin` and `end` in `text`; throws when they are missing. */
function replaceBetween(text: string, [begin, end]: readonly [string, string], body: string): string {
  const a = text.indexOf(begin);
  const b = text.indexOf(end);
  if (a < 0 || b < 0 || b < a) throw new Error(`README has no ${begin} … ${end} block`);
  if (text.indexOf(begin, a + 1) >= 0) throw new Error(`README has ${begin} twice`);
  return `${text.slice(0, a + begin.length)}\n${body}\n${text.slice(b)}`;
}

/** The README with both generated blocks rewritten from `results`. */
export function rewriteReadme(readme: string, results: Results): string {
  return replaceBetween(replaceBetween(readme, MARKERS.summary, summarySection(results)), MARKERS.section, performanceSection(results));
}
