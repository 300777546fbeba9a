/**
 * The results: their shape (what `--json` writes), the console and Markdown tables, and the
 * SVG chart of the ratios (hand-written: no dependency).
 *
 * @module
 */
import type { Machine } from './prepare.js';
import type { Sample } from '../workloads/common.js';
import type { Unit } from './plan.js';

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
  /** TCP only: median server CPU per request (µs); `cpuNsPerOp` is then the load generator's. */
  serverCpuUsPerReq?: number | null;
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

export interface Results {
  version: 1;
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
  };
  measurements: MeasurementResult[];
  comparisons: ComparisonResult[];
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
  if (value === null) return 'n/a';
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
            ? `server ${m.serverCpuUsPerReq.toFixed(1)} µs, client ${((m.cpuNsPerOp ?? NaN) / 1000).toFixed(1)} µs`
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
  const width = 1040;
  const labelWidth = 520;
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
