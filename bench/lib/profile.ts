/**
 * Reads a `node --cpu-prof` profile and sums self time per function.
 *
 * @module
 */
import { readFileSync } from 'node:fs';

interface CpuProfile {
  nodes: { id: number; callFrame: { functionName: string; url: string; lineNumber: number } }[];
  samples: number[];
  timeDeltas: number[];
}

export interface SelfTime {
  name: string;
  /** `dir/file.js:line` (the compiled file), or '' for V8's own entries. */
  where: string;
  selfPercent: number;
}

/**
 * Where a function lives: for our compiled files the TypeScript source they come from
 * (`src/ring/ring.ts`; line numbers are the compiled file's, so they are left out),
 * otherwise the URL's last two parts with the line.
 */
export function sourceName(url: string, line: number): string {
  if (url === '') return '';
  const compiled = /\/results\/tmp\/js\/(.+)\.js$/.exec(url);
  if (compiled !== null) return `${compiled[1]}.ts`;
  const source = /\/(src|generated|bench)\/(.+\.ts)$/.exec(url);
  if (source !== null) return `${source[1]}/${source[2]}`;
  return `${url.split('/').slice(-2).join('/')}:${line + 1}`;
}

/** The `n` functions with the most self time, as a share of all samples (idle excluded). */
export function topSelfTime(file: string, n: number): SelfTime[] {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const timeOf = new Map<number, number>();
  for (let i = 0; i < profile.samples.length; i++) {
    const id = profile.samples[i]!;
    timeOf.set(id, (timeOf.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
  }
  const byFunction = new Map<string, SelfTime & { time: number }>();
  let total = 0;
  for (const node of profile.nodes) {
    const time = timeOf.get(node.id) ?? 0;
    const { functionName, url, lineNumber } = node.callFrame;
    if (functionName === '(idle)') continue;
    total += time;
    const name = functionName === '' ? '(anonymous)' : functionName;
    const where = sourceName(url, lineNumber);
    const key = `${name} ${where}`;
    const entry = byFunction.get(key) ?? { name, where, selfPercent: 0, time: 0 };
    entry.time += time;
    byFunction.set(key, entry);
  }
  return [...byFunction.values()]
    .sort((a, b) => b.time - a.time)
    .slice(0, n)
    .map(({ name, where, time }) => ({ name, where, selfPercent: total > 0 ? (time / total) * 100 : 0 }));
}
