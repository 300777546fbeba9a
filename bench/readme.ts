/**
 * `npm run bench:readme`: rewrites the README's generated Performance blocks (see
 * `lib/readme.ts`) and the chart and table beside the results, from a results file.
 *
 *   npm run bench:readme                  from bench/results/latest.json
 *   npm run bench:readme -- --json FILE   from another results file
 *   npm run bench:readme -- --check       exit 1 if the README is not what the results give
 *
 * A results file that is no measurement (a smoke run, a loaded machine) is refused unless
 * `--force`: its text says so in the README too.
 *
 * @module
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { rewriteReadme, unfitReason } from './lib/readme.js';
import { markdownTable, svgChart, type Results } from './lib/report.js';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const { values: opts } = parseArgs({
  options: { json: { type: 'string' }, check: { type: 'boolean', default: false }, force: { type: 'boolean', default: false }, readme: { type: 'string' } },
  strict: true,
});
const jsonPath = resolve(opts.json ?? join(repo, 'bench', 'results', 'latest.json'));
const readmePath = resolve(opts.readme ?? join(repo, 'README.md'));
const results = JSON.parse(readFileSync(jsonPath, 'utf8')) as Results;
const before = readFileSync(readmePath, 'utf8');
const after = rewriteReadme(before, results);
if (opts.check) {
  if (after !== before) {
    console.error(`${readmePath} is not what ${jsonPath} gives: run npm run bench:readme`);
    process.exitCode = 1;
  } else {
    console.log(`${readmePath} matches ${jsonPath}`);
  }
} else {
  const unfit = unfitReason(results);
  if (unfit !== null && !opts.force) {
    console.error(`${jsonPath} is not a measurement to publish (${unfit}); rerun npm run bench on a quiet machine, or pass --force`);
    process.exitCode = 1;
  } else {
    writeFileSync(readmePath, after);
    const base = jsonPath.slice(0, -'.json'.length);
    writeFileSync(`${base}.svg`, svgChart(results));
    writeFileSync(`${base}.md`, `${markdownTable(results)}\n`);
    console.log(`wrote ${readmePath}, ${base}.svg and ${base}.md from ${jsonPath}${unfit === null ? '' : ` (forced: ${unfit})`}`);
  }
}
