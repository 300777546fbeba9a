/**
 * `npm run parity [-- --header LABEL=PATH ... --describe LABEL=TEXT ... --check]`
 *
 * Reads liburing headers given with --header (each replaces that label's entry in
 * docs/parity/inventory.json; headers not given keep their recorded entry), then writes
 * docs/liburing-parity.md from the inventory and docs/parity/map.json. Refuses to write the
 * table while the map misses a function or has an entry with no counterpart and no reason;
 * warns about counterparts that are not public API (the test fails on those). With --check
 * nothing is written: exit 1 when a file would change (or a header given differs from its
 * recorded entry).
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { ApiNames } from './api.js';
import { extractFunctions } from './extract.js';
import { INVENTORY_PATH, MAP_PATH, mapProblems, readInventory, readMap, rowsOf, TABLE_PATH, withHeader, type Inventory } from './model.js';
import { renderTable } from './render.js';

const USAGE = 'usage: npm run parity -- [--header LABEL=PATH ...] [--describe LABEL=TEXT ...] [--check]';

function pairs(values: readonly string[] | undefined, flag: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const v of values ?? []) {
    const at = v.indexOf('=');
    if (at <= 0) throw new Error(`${flag} expects LABEL=VALUE, received ${JSON.stringify(v)}`);
    out.set(v.slice(0, at), v.slice(at + 1));
  }
  return out;
}

export function inventoryJson(inv: Inventory): string {
  return `${JSON.stringify(inv, null, 2)}\n`;
}

export async function main(argv: readonly string[]): Promise<number> {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      header: { type: 'string', multiple: true },
      describe: { type: 'string', multiple: true },
      check: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
    strict: true,
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const headers = pairs(values.header, '--header');
  const descriptions = pairs(values.describe, '--describe');
  let inv: Inventory = existsSync(INVENTORY_PATH) ? readInventory() : { formatVersion: 1, headers: [] };
  const recorded = inv;
  let failed = false;
  for (const [label, path] of headers) {
    const text = readFileSync(path, 'utf8');
    const sha256 = createHash('sha256').update(text).digest('hex');
    const functions = extractFunctions(text);
    const before = recorded.headers.find((h) => h.label === label);
    const source = descriptions.get(label) ?? before?.source ?? path;
    inv = withHeader(inv, label, source, sha256, functions);
    const after = inv.headers.find((h) => h.label === label)!;
    if (values.check && JSON.stringify(before) !== JSON.stringify(after)) {
      console.error(`parity --check: ${path} (${label}) differs from its entry in ${INVENTORY_PATH}${before === undefined ? ' (no entry)' : ` (recorded sha256 ${before.sha256.slice(0, 16)}, read ${sha256.slice(0, 16)})`}`);
      failed = true;
    }
    console.log(`parity: ${label}: ${functions.length} functions from ${path}`);
  }
  for (const label of descriptions.keys()) {
    if (!headers.has(label)) {
      const h = inv.headers.find((x) => x.label === label);
      if (h === undefined) throw new Error(`--describe ${label}: no header with that label`);
      inv = withHeader(inv, label, descriptions.get(label)!, h.sha256, h.functions);
    }
  }
  const map = readMap();
  const rows = rowsOf(inv, map);
  const problems = mapProblems(rows, map);
  for (const p of problems) console.error(`parity: ${p}`);
  // Counterparts that are not (yet) public API are reported, not fatal here: a name may be
  // written into the map before its implementation lands. test/parity/parity-table.test.ts
  // fails on them.
  const api = await ApiNames.load();
  for (const r of rows) {
    for (const name of r.entry?.tsuring ?? []) {
      const p = api.problem(name);
      if (p !== null) console.warn(`parity: warning: ${r.name}: counterpart ${p}`);
    }
  }
  const table = renderTable(inv, rows);
  const files: [string, string][] = [
    [INVENTORY_PATH, inventoryJson(inv)],
    [TABLE_PATH, table],
  ];
  if (values.check) {
    for (const [path, text] of files) {
      if (!existsSync(path) || readFileSync(path, 'utf8') !== text) {
        console.error(`parity --check: ${path} is stale; run npm run parity`);
        failed = true;
      }
    }
    return failed || problems.length > 0 ? 1 : 0;
  }
  // The inventory is written even with problems (it records what the headers hold); the
  // table only once the map answers for every row.
  writeFileSync(INVENTORY_PATH, files[0]![1]);
  if (problems.length > 0) {
    console.error(`parity: ${problems.length} problem(s) in ${MAP_PATH}; ${TABLE_PATH} not written`);
    return 1;
  }
  writeFileSync(TABLE_PATH, table);
  console.log(`parity: wrote ${TABLE_PATH} (${rows.length} rows)`);
  return 0;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err: unknown) => {
      console.error(`parity: ${(err as Error).message}`);
      process.exit(2);
    },
  );
}
