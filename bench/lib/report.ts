/**
 * The results: their shape (what `--json` writes), the console and Markdown tables, and the
 * SVG chart of the ratios (hand-written: no dependency).
 *
 * @module
 */
import type { Machine, Tools } from './prepare.js';
import type { Sample } from '../workloads/common.js';
import type { TargetDef, Unit } from './plan.js';

export interface MeasurementResult {
  id: string;
  workload: string;
  impl: string;
  unit: Unit;
  /** One value per successful round, in `unit`, in round order. */
  samples: number[];
  median: number | null;
  min: number | null;
  max: number | null;
  /** Median CPU time of the measuring process per op (ns), when known. */
  cpuNsPerOp: number | null;
  /** Network rows only: median server CPU per request (µs); `cpuNsPerOp` is then the load generator's. */
  serverCpuUsPerReq?: number | null;
  /** Network rows: the server's user and system CPU per request (µs), medians. */
  serverUserUsPerReq?: number | null;
  serverSysUsPerReq?: number | null;
  /** Network rows: cores the server and the load generator used (~1 for the bottleneck). */
  serverCores?: number | null;
  clientCores?: number | null;
  /** Median CPU (cores) other processes used during the runs: how disturbed they were. */
  others: number | null;
  /** Every run as the worker reported it. */
  runs: Sample[];
  /** Why the measurement did not run (no C compiler, kernel too old, ...). */
  skipped?: string;
  errors: string[];
}

export interface ComparisonResult {
  ours: string;
  baseline: string;
  /** "NOP submit+reap, batch 32: tsuring raw vs liburing (C)". */
  label: string;
  workload: string;
  oursImpl: string;
  baselineImpl: string;
  unit: Unit;
  oursMedian: number | null;
  baselineMedian: number | null;
  /** ours ÷ baseline (medians). */
  ratio: number | null;
  target?: number;
  met?: boolean;
  /** When missed: how far below the target, as a fraction of it (0.25 = 25 % short). */
  shortfall?: number;
}

/** A row of the targets table (DESIGN.md / issue 14). */
export interface TargetRow {
  title: string;
  /** A ratio of medians, or a measurement's own median (then `unit`). */
  kind: 'ratio' | 'value';
  value: number | null;
  unit?: Unit;
  op: '≥' | '≤';
  target: number;
  before: string;
  /** null: not measured in this run (skipped, failed or filtered out). */
  met: boolean | null;
  /** Why it was not measured. */
  note?: string;
  /**
   * The same figure for the same work done with no library at all (the bare JS loop of
   * bench/workloads/floor.ts; a promise and its await without I/O): the best any JS
   * binding could reach here. Absent where the target has no floor row or it was not measured.
   */
  floor?: number;
}

/** What the SQPOLL check found (see run.ts). */
export interface SqPollCheck {
  batch: number;
  idleMs: number;
  sqCpu: number;
  appCpu: number | null;
  counter: 'perf' | 'strace' | null;
  tsuring?: { ops: number; enterCalls: number | null; wakeups: number | null; processEnters: number | null };
  liburing?: { ops: number; processEnters: number };
  /** met: no io_uring_enter while the SQ thread was awake. */
  verdict: 'met' | 'missed' | 'unverified';
  error?: string;
}

export interface Results {
  /** 1: before the targets table, SQPOLL and server-bound network rows. */
  version: 1 | 2;
  date: string;
  machine: Machine;
  config: {
    rounds: number;
    quick: boolean;
    only: string | null;
    runner: 'node' | 'tsx';
    timing: { warmup: number; seconds: number };
    tcpTiming: { warmup: number; seconds: number };
    retries: number;
    maxOthers: number;
    setupFlags: number;
    setupFlagNames: string[];
    sqPollFlags?: number;
    sqPollFlagNames?: string[];
    sqThreadIdleMs?: number;
    pin?: { app: number; other: number } | null;
    /** Which profile the README shows: perf's where `perf record` works, else V8's --cpu-prof. */
    profiler?: 'perf' | 'cpu-prof';
    tools?: Tools;
  };
  measurements: MeasurementResult[];
  comparisons: ComparisonResult[];
  targets?: TargetRow[];
  sqpoll?: SqPollCheck;
  cost?: unknown;
  profiles?: unknown;
  durationSeconds: number;
}

export function median(values: number[]): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** "1.23M ops/s", "845k req/s", "12.3 GiB/s". */
export function formatValue(value: number | null, unit: Unit): string {
  if (value === null || Number.isNaN(value)) return 'n/a';
  if (unit === 'B/op') return `${value.toFixed(value >= 100 ? 0 : 1)} B/op`;
  if (unit === 'GiB/s') return `${value.toFixed(value >= 10 ? 1 : 2)} GiB/s`;
  if (value >= 1e6) return `${(value / 1e6).toFixed(value >= 1e7 ? 1 : 2)}M ${unit}`;
  if (value >= 1e3) return `${(value / 1e3).toFixed(value >= 1e5 ? 0 : 1)}k ${unit}`;
  return `${value.toFixed(0)} ${unit}`;
}

export function formatRatio(ratio: number | null): string {
  if (ratio === null) return 'n/a';
  return `${ratio.toFixed(ratio >= 10 ? 1 : 2)}×`;
}

function verdict(c: ComparisonResult): string {
  if (c.ratio === null) return 'not measured';
  if (c.target === undefined) return '';
  if (c.met === true) return 'met';
  return `MISSED by ${Math.round((c.shortfall ?? 0) * 100)} %`;
}

function pad(text: string, width: number, right = false): string {
  const len = [...text].length;
  if (len >= width) return text;
  return right ? ' '.repeat(width - len) + text : text + ' '.repeat(width - len);
}

function textTable(header: string[], rows: string[][], rightAligned: Set<number>): string {
  const widths = header.map((h, i) => Math.max([...h].length, ...rows.map((r) => [...(r[i] ?? '')].length)));
  const line = (cells: string[]): string => cells.map((c, i) => pad(c, widths[i]!, rightAligned.has(i))).join('  ').trimEnd();
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

/** The targets table's rows, from the measurements' medians. */
export function targetRows(results: Results, defs: readonly TargetDef[]): TargetRow[] {
  const byId = new Map(results.measurements.map((m) => [m.id, m]));
  return defs.map((d) => {
    const ours = byId.get(d.ours);
    const base = d.baseline === undefined ? undefined : byId.get(d.baseline);
    const op = d.atMost !== undefined ? '≤' : '≥';
    const target = (d.atMost ?? d.atLeast)!;
    const row: TargetRow = { title: d.title, kind: d.baseline === undefined ? 'value' : 'ratio', value: null, op, target, before: d.before, met: null };
    if (ours !== undefined) row.unit = ours.unit;
    if (d.baseline === undefined) {
      if (ours?.median != null && !Number.isNaN(ours.median)) row.value = ours.median;
    } else if (ours?.median != null && base?.median != null && base.median > 0) {
      row.value = ours.median / base.median;
    }
    const floor = d.floor === undefined ? undefined : byId.get(d.floor);
    if (d.baseline === undefined) {
      if (floor?.median != null && !Number.isNaN(floor.median)) row.floor = floor.median;
    } else if (floor?.median != null && base?.median != null && base.median > 0) row.floor = floor.median / base.median;
    // Version 1 results measured TCP with a Node load generator that ran out of CPU before
    // any server did: those rows do not answer a server-bound target.
    if (results.version === 1 && d.ours.startsWith('tcp.')) {
      row.value = null;
      row.note = 'this run predates the server-bound network rows';
    } else if (row.value !== null) row.met = op === '≥' ? row.value >= target : row.value <= target;
    if (row.value === null && row.note === undefined) {
      const why = [ours, base].find((m) => m?.skipped !== undefined)?.skipped;
      row.note = ours === undefined || (d.baseline !== undefined && base === undefined) ? 'not in this run' : (why ?? 'no result');
    }
    return row;
  });
}

function formatTarget(r: TargetRow): [string, string] {
  if (r.kind === 'ratio') return [r.value === null ? 'n/a' : formatRatio(r.value), `${r.op} ${r.target.toFixed(2)}×`];
  const unit = r.unit ?? 'B/op';
  return [formatValue(r.value, unit), `${r.op} ${formatValue(r.target, unit)}`];
}

function targetVerdict(r: TargetRow): string {
  if (r.met === null) return `– not measured (${r.note ?? 'n/a'})`;
  return r.met ? '✅ met' : '❌ missed';
}

/** The targets table in Markdown: issue 14's rows, each with its target and a pass/miss marker. */
export function targetsMarkdown(results: Results): string {
  const rows = (results.targets ?? []).map((r) => {
    const [value, target] = formatTarget(r);
    const floor = r.floor === undefined ? '–' : r.kind === 'ratio' ? formatRatio(r.floor) : formatValue(r.floor, r.unit ?? 'B/op');
    return `| ${r.title} | ${r.before} | **${value}** | ${target} | ${floor} | ${targetVerdict(r)} |`;
  });
  return ['| target row | at issue 14 | this run | target | floor (no library) | |', '|---|---:|---:|---:|---:|---|', ...rows].join('\n');
}

/** A server using at least this many cores is the bottleneck: the row measures it at saturation. */
export const SATURATED_CORES = 0.9;

/** Which side ran out of CPU in a network row: the server (what the rows mean to measure), the load generator, or neither. */
export function boundBy(m: Pick<MeasurementResult, 'serverCores' | 'clientCores'>): string {
  if (m.serverCores == null) return 'n/a';
  if (m.serverCores >= SATURATED_CORES) return '✅ server';
  if (m.clientCores != null && m.clientCores >= SATURATED_CORES) return '❌ load generator';
  return '❌ neither (idle time: other load, or too few requests in flight)';
}

/** The network rows in Markdown: throughput, and the server's CPU per request and in all. */
export function networkMarkdown(results: Results): string {
  if (!results.measurements.some((m) => m.unit === 'req/s' && m.serverCores !== undefined)) return '(No server-bound network rows in this run.)';
  const rows = results.measurements
    .filter((m) => m.unit === 'req/s')
    .map((m) => {
      if (m.skipped !== undefined) return `| ${m.workload} | ${m.impl} | skipped: ${m.skipped} | | | | | |`;
      const us = (v: number | null | undefined): string => (v == null ? 'n/a' : v.toFixed(2));
      const cores = (v: number | null | undefined): string => (v == null ? 'n/a' : v.toFixed(2));
      return `| ${m.workload} | ${m.impl} | ${formatValue(m.median, m.unit)} | ${us(m.serverUserUsPerReq)} | ${us(m.serverSysUsPerReq)} | ${cores(m.serverCores)} | ${cores(m.clientCores)} | ${boundBy(m)} |`;
    });
  return [
    '| workload | server | throughput | server user µs/req | server sys µs/req | server cores | load generator cores | saturated |',
    '|---|---|---:|---:|---:|---:|---:|---|',
    ...rows,
  ].join('\n');
}

/** The console report: comparisons first, then every measurement with its spread. */
export function consoleReport(results: Results): string {
  const out: string[] = [];
  out.push(
    textTable(
      ['workload', 'tsuring', 'baseline', '', 'ratio', 'target', ''],
      results.comparisons.map((c) => [
        c.workload,
        `${formatValue(c.oursMedian, c.unit)} (${c.oursImpl.replace('tsuring ', '')})`,
        formatValue(c.baselineMedian, c.unit),
        `(${c.baselineImpl})`,
        formatRatio(c.ratio),
        c.target === undefined ? '' : `≥ ${c.target}`,
        verdict(c),
      ]),
      new Set([1, 2, 4]),
    ),
  );
  out.push('');
  out.push(
    textTable(
      ['measurement', 'median', 'min … max', 'spread', 'CPU/op', 'others', 'id'],
      results.measurements.map((m) => {
        if (m.skipped !== undefined) return [`${m.workload} · ${m.impl}`, 'skipped', m.skipped.length > 60 ? `${m.skipped.slice(0, 57)}...` : m.skipped, '', '', '', m.id];
        const spread = m.median !== null && m.min !== null && m.max !== null && m.median > 0 ? `±${(((m.max - m.min) / 2 / m.median) * 100).toFixed(1)} %` : '';
        const cpu =
          m.serverCpuUsPerReq != null
            ? `server ${m.serverCpuUsPerReq.toFixed(2)} µs/req at ${(m.serverCores ?? NaN).toFixed(2)} cores, client ${(m.clientCores ?? NaN).toFixed(2)} cores`
            : m.cpuNsPerOp !== null
              ? `${m.cpuNsPerOp.toFixed(0)} ns`
              : '';
        return [
          `${m.workload} · ${m.impl}`,
          formatValue(m.median, m.unit),
          m.min === null ? '' : `${formatValue(m.min, m.unit)} … ${formatValue(m.max, m.unit)}`,
          spread,
          cpu,
          m.others === null ? '' : `${m.others.toFixed(2)}`,
          m.id,
        ];
      }),
      new Set([1, 3, 4, 5]),
    ),
  );
  out.push('(others: CPU cores used by other processes during the measured window, median over the rounds)');
  return out.join('\n');
}

/** The comparison table in Markdown (for the README). */
export function markdownTable(results: Results): string {
  const rows = results.comparisons.map((c) => {
    const v = verdict(c);
    return `| ${c.workload} | ${formatValue(c.oursMedian, c.unit)} (${c.oursImpl.replace('tsuring ', '')}) | ${formatValue(c.baselineMedian, c.unit)} (${c.baselineImpl}) | **${formatRatio(c.ratio)}** | ${c.target === undefined ? '' : `≥ ${c.target}×`} | ${v === 'met' ? '✅ met' : v.startsWith('MISSED') ? `❌ ${v.toLowerCase()}` : v} |`;
  });
  return ['| workload | tsuring | baseline | ratio | target | |', '|---|---:|---:|---:|---:|---|', ...rows].join('\n');
}

function esc(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/**
 * A horizontal bar per comparison on a log scale around parity (1×): bars grow right when
 * we are faster, left when slower; a black tick marks the target. Green: target met; red:
 * missed; grey: no target.
 */
export function svgChart(results: Results): string {
  const rows = results.comparisons.filter((c) => c.ratio !== null && c.ratio > 0);
  const width = 1100;
  const labelWidth = 580;
  const plotLeft = labelWidth + 10;
  const plotRight = width - 70;
  const rowHeight = 22;
  const top = 70;
  const height = top + rows.length * rowHeight + 50;
  const minR = 0.1;
  const maxR = Math.max(20, ...rows.map((c) => (c.ratio ?? 1) * 1.3), ...rows.map((c) => (c.target ?? 1) * 1.3));
  const x = (r: number): number => plotLeft + ((Math.log10(Math.max(minR, r)) - Math.log10(minR)) / (Math.log10(maxR) - Math.log10(minR))) * (plotRight - plotLeft);
  const m = results.machine;
  const parts: string[] = [];
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="system-ui, -apple-system, 'Segoe UI', sans-serif" font-size="12">`);
  parts.push(`<rect width="${width}" height="${height}" fill="#ffffff"/>`);
  parts.push(`<text x="12" y="22" font-size="16" font-weight="bold">tsuring vs baselines: ratio of medians (higher is better for tsuring)</text>`);
  parts.push(
    `<text x="12" y="42" fill="#555">${esc(`${m.cpu}, ${m.cores} cores · Linux ${m.kernel} · Node ${m.node} · liburing ${m.liburing ?? 'n/a'} · ${results.config.rounds} rounds · ${results.date.slice(0, 10)}`)}</text>`,
  );
  for (const tick of [0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50, 100]) {
    if (tick > maxR) break;
    const tx = x(tick);
    parts.push(`<line x1="${tx.toFixed(1)}" y1="${top - 8}" x2="${tx.toFixed(1)}" y2="${top + rows.length * rowHeight}" stroke="${tick === 1 ? '#333' : '#ddd'}" stroke-width="${tick === 1 ? 1.5 : 1}"/>`);
    parts.push(`<text x="${tx.toFixed(1)}" y="${top + rows.length * rowHeight + 16}" text-anchor="middle" fill="#555">${tick}×</text>`);
  }
  parts.push(`<text x="${x(1).toFixed(1)}" y="${top - 12}" text-anchor="middle" fill="#333">parity</text>`);
  rows.forEach((c, i) => {
    const y = top + i * rowHeight;
    const ratio = c.ratio!;
    const color = c.target === undefined ? '#90a4ae' : c.met === true ? '#2e7d32' : '#c62828';
    const x0 = x(1);
    const x1 = x(ratio);
    const label = `${c.workload} · ${c.oursImpl.replace('tsuring ', '')} vs ${c.baselineImpl}`;
    if (i > 0 && rows[i - 1]!.workload.split(',')[0] !== c.workload.split(',')[0]) {
      parts.push(`<line x1="12" y1="${y}" x2="${width - 12}" y2="${y}" stroke="#eee"/>`);
    }
    parts.push(`<text x="${labelWidth}" y="${y + 15}" text-anchor="end">${esc(label)}</text>`);
    parts.push(`<rect x="${Math.min(x0, x1).toFixed(1)}" y="${y + 4}" width="${Math.max(1, Math.abs(x1 - x0)).toFixed(1)}" height="${rowHeight - 8}" fill="${color}"><title>${esc(`${c.label}: ${formatRatio(ratio)}${c.target === undefined ? '' : ` (target ≥ ${c.target}×)`}`)}</title></rect>`);
    const labelX = Math.max(x0, x1, c.target === undefined ? 0 : x(c.target)) + 5;
    parts.push(`<text x="${labelX.toFixed(1)}" y="${y + 15}" fill="#222">${formatRatio(ratio)}</text>`);
    if (c.target !== undefined) {
      const tx = x(c.target);
      parts.push(`<line x1="${tx.toFixed(1)}" y1="${y + 1}" x2="${tx.toFixed(1)}" y2="${y + rowHeight - 1}" stroke="#000" stroke-width="2.5"/>`);
    }
  });
  const ly = height - 16;
  parts.push(`<rect x="12" y="${ly - 9}" width="10" height="10" fill="#2e7d32"/><text x="26" y="${ly}">target met</text>`);
  parts.push(`<rect x="110" y="${ly - 9}" width="10" height="10" fill="#c62828"/><text x="124" y="${ly}">target missed</text>`);
  parts.push(`<rect x="225" y="${ly - 9}" width="10" height="10" fill="#90a4ae"/><text x="239" y="${ly}">no target (for information)</text>`);
  parts.push(`<line x1="410" y1="${ly - 10}" x2="410" y2="${ly + 1}" stroke="#000" stroke-width="2.5"/><text x="416" y="${ly}">target (DESIGN.md)</text>`);
  parts.push('</svg>');
  return `${parts.join('\n')}\n`;
}
