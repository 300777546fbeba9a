/**
 * The parity table's inputs and their checks:
 * - docs/parity/inventory.json (generated): the `io_uring_*` functions of each liburing header
 *   read so far, by header label (`2.3`, `2.15`). Re-reading one header replaces its entry
 *   and keeps the others, so a header that is not on this machine (upstream liburing, read
 *   once from a path given on the command line) is not lost; nothing of liburing is vendored
 *   but names, kinds and one-line signatures.
 * - docs/parity/map.json (hand-curated): for every function, its tsuring counterparts (public
 *   API names) or the one-line reason it has none by design.
 *
 * @module
 */
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { categoryOf, type Category, type HeaderFunction, type HeaderKind } from './extract.js';

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const INVENTORY_PATH = join(REPO_ROOT, 'docs', 'parity', 'inventory.json');
export const MAP_PATH = join(REPO_ROOT, 'docs', 'parity', 'map.json');
export const TABLE_PATH = join(REPO_ROOT, 'docs', 'liburing-parity.md');

/** One header as read. */
export interface InventoryHeader {
  /** liburing's version (`2.3`), or a name given on the command line. */
  label: string;
  /** Where it came from, as told on the command line (`Debian liburing-dev`). */
  source: string;
  sha256: string;
  functions: { name: string; kind: HeaderKind; signature: string }[];
}

export interface Inventory {
  formatVersion: 1;
  headers: InventoryHeader[];
}

/** A map entry: counterparts, or a reason there is none. */
export interface MapEntry {
  /**
   * Public API names: an export (`prepRead`, `IoUring`), an instance member
   * (`IoUring#submit`, `Cqe#userData`) or a static member (`FileTable.register`).
   */
  tsuring?: string[];
  /** Why tsuring has no counterpart, by design (one line). */
  reason?: string;
  /** How the counterpart is used or differs (one line). */
  note?: string;
}

export interface ParityMap {
  formatVersion: 1;
  entries: Record<string, MapEntry>;
}

/** One row of the table: a function of the union of the headers, with its map entry. */
export interface Row {
  name: string;
  kind: HeaderKind;
  category: Category;
  /** Labels of the headers that have it, in version order. */
  headers: string[];
  signature: string;
  entry: MapEntry | undefined;
}

/** Orders labels as versions (`2.3` < `2.15`), others after, by name. */
export function compareLabels(a: string, b: string): number {
  const pa = /^(\d+)\.(\d+)$/.exec(a);
  const pb = /^(\d+)\.(\d+)$/.exec(b);
  if (pa && pb) return Number(pa[1]) - Number(pb[1]) || Number(pa[2]) - Number(pb[2]);
  if (pa) return -1;
  if (pb) return 1;
  return a < b ? -1 : a > b ? 1 : 0;
}

export function readInventory(path = INVENTORY_PATH): Inventory {
  const inv = JSON.parse(readFileSync(path, 'utf8')) as Inventory;
  if (inv.formatVersion !== 1 || !Array.isArray(inv.headers)) throw new Error(`${path}: not a parity inventory (formatVersion 1)`);
  return inv;
}

export function readMap(path = MAP_PATH): ParityMap {
  const map = JSON.parse(readFileSync(path, 'utf8')) as ParityMap;
  if (map.formatVersion !== 1 || map.entries === null || typeof map.entries !== 'object') throw new Error(`${path}: not a parity map (formatVersion 1)`);
  return map;
}

/** Replaces (or adds) the header `label` in `inv`, keeping the headers in version order. */
export function withHeader(inv: Inventory, label: string, source: string, sha256: string, functions: readonly Pick<HeaderFunction, 'name' | 'kind' | 'signature'>[]): Inventory {
  const header: InventoryHeader = { label, source, sha256, functions: functions.map((f) => ({ name: f.name, kind: f.kind, signature: f.signature })) };
  const headers = [...inv.headers.filter((h) => h.label !== label), header].sort((a, b) => compareLabels(a.label, b.label));
  return { formatVersion: 1, headers };
}

/** The table's rows: every function of every header, once, with the newest header's signature and kind. */
export function rowsOf(inv: Inventory, map: ParityMap): Row[] {
  const rows = new Map<string, Row>();
  for (const h of inv.headers) {
    for (const f of h.functions) {
      const row = rows.get(f.name);
      if (row === undefined) {
        rows.set(f.name, { name: f.name, kind: f.kind, category: categoryOf(f.name), headers: [h.label], signature: f.signature, entry: map.entries[f.name] });
      } else {
        row.headers.push(h.label);
        row.kind = f.kind;
        row.signature = f.signature;
      }
    }
  }
  return [...rows.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** What is wrong with the map against the rows, one line each (empty: nothing). */
export function mapProblems(rows: readonly Row[], map: ParityMap): string[] {
  const problems: string[] = [];
  const names = new Set(rows.map((r) => r.name));
  for (const row of rows) {
    const e = row.entry;
    if (e === undefined) {
      problems.push(`${row.name} (${row.headers.join(', ')}) has no entry in docs/parity/map.json: name its tsuring counterpart or the reason it has none`);
      continue;
    }
    const hasCounterpart = Array.isArray(e.tsuring) && e.tsuring.length > 0;
    const hasReason = typeof e.reason === 'string' && e.reason.trim().length > 0;
    if (!hasCounterpart && !hasReason) problems.push(`${row.name}: the entry has neither a counterpart (tsuring) nor a reason`);
    if (hasCounterpart && hasReason) problems.push(`${row.name}: the entry has both counterparts and a reason; keep one (use note for caveats)`);
    if (e.tsuring !== undefined && (!Array.isArray(e.tsuring) || e.tsuring.some((n) => typeof n !== 'string' || n.length === 0))) problems.push(`${row.name}: tsuring must be an array of public API names`);
    for (const key of Object.keys(e)) if (!['tsuring', 'reason', 'note'].includes(key)) problems.push(`${row.name}: unknown key ${key}`);
  }
  for (const name of Object.keys(map.entries)) {
    if (!names.has(name)) problems.push(`${name} is in docs/parity/map.json but in no header of the inventory: remove it (or read the header that has it)`);
  }
  return problems;
}
