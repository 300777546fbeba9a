/**
 * The liburing parity table (docs/liburing-parity.md): every io_uring_* function of every
 * liburing header read has a row in docs/parity/map.json, every row names a counterpart or a
 * reason, every counterpart is public API (the real exports of src/index.ts), and the
 * committed table and inventory are what `npm run parity` produces. The liburing header on
 * this machine (Debian's liburing-dev) is re-read and must match the inventory.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { ApiNames } from '../../scripts/parity/api.js';
import { inventoryJson } from '../../scripts/parity/cli.js';
import { extractFunctions } from '../../scripts/parity/extract.js';
import { INVENTORY_PATH, mapProblems, readInventory, readMap, rowsOf, TABLE_PATH, type ParityMap } from '../../scripts/parity/model.js';
import { renderTable } from '../../scripts/parity/render.js';

/**
 * Counterparts the ring core (the lead's src/ring) will add under exactly these names. Only
 * on the parity branch: remove this list once they exist (the last test fails until then).
 */
const PENDING_RING_CORE: string[] = [];

const SYSTEM_HEADER = '/usr/include/liburing.h';

const inv = readInventory();
const map = readMap();
const rows = rowsOf(inv, map);

describe('the parity map', () => {
  it('has an entry for every function of every header read, each with a counterpart or a reason, and nothing else', () => {
    expect(inv.headers.length).toBeGreaterThanOrEqual(1);
    expect(rows.length).toBeGreaterThan(150);
    expect(mapProblems(rows, map)).toEqual([]);
  });

  it('would catch a function without a row, an entry with neither counterpart nor reason, and a stale entry', () => {
    const name = rows[0]!.name;
    const { [name]: _dropped, ...rest } = map.entries;
    const missing: ParityMap = { formatVersion: 1, entries: rest };
    expect(mapProblems(rowsOf(inv, missing), missing)).toEqual([expect.stringContaining(`${name} (`)]);
    const empty: ParityMap = { formatVersion: 1, entries: { ...map.entries, [name]: { note: 'nothing said' } } };
    expect(mapProblems(rowsOf(inv, empty), empty)).toEqual([`${name}: the entry has neither a counterpart (tsuring) nor a reason`]);
    const blank: ParityMap = { formatVersion: 1, entries: { ...map.entries, [name]: { tsuring: [], reason: ' ' } } };
    expect(mapProblems(rowsOf(inv, blank), blank)).toHaveLength(1);
    const stale: ParityMap = { formatVersion: 1, entries: { ...map.entries, io_uring_prep_no_such_thing: { reason: 'x' } } };
    expect(mapProblems(rowsOf(inv, stale), stale)).toEqual([expect.stringContaining('io_uring_prep_no_such_thing is in docs/parity/map.json but in no header')]);
  });
});

describe('the committed files', () => {
  it('docs/liburing-parity.md and the inventory are what npm run parity produces (not stale)', () => {
    expect(readFileSync(TABLE_PATH, 'utf8')).toBe(renderTable(inv, rows));
    expect(readFileSync(INVENTORY_PATH, 'utf8')).toBe(inventoryJson(inv));
  });

  it(`${SYSTEM_HEADER} (liburing-dev), when installed, has no function the inventory lacks`, (ctx) => {
    if (!existsSync(SYSTEM_HEADER)) ctx.skip(`${SYSTEM_HEADER} is not installed (Debian/Ubuntu: apt-get install liburing-dev); the committed inventory is checked without it`);
    const text = readFileSync(SYSTEM_HEADER, 'utf8');
    const found = extractFunctions(text).map((f) => f.name);
    const known = new Set(rows.map((r) => r.name));
    expect(found.filter((n) => !known.has(n))).toEqual([]);
    // The same header as a recorded one: the same functions, exactly.
    const sha256 = createHash('sha256').update(text).digest('hex');
    const same = inv.headers.find((h) => h.sha256 === sha256);
    if (same !== undefined) expect(found).toEqual(same.functions.map((f) => f.name));
  });
});

describe('counterparts', () => {
  let api: ApiNames;
  beforeAll(async () => {
    api = await ApiNames.load();
  });

  it('every counterpart named in the map is public API: an export of src/index.ts, a member of its instances, or a static', () => {
    const problems: string[] = [];
    for (const r of rows) {
      for (const name of r.entry?.tsuring ?? []) {
        if (PENDING_RING_CORE.includes(name)) continue;
        const p = api.problem(name);
        if (p !== null) problems.push(`${r.name}: ${p}`);
      }
    }
    expect(problems).toEqual([]);
  });

  it('the checker refuses names that do not exist and accepts each name form', () => {
    expect(api.problem('prepRead')).toBeNull();
    expect(api.problem('IoUring#submit')).toBeNull(); // prototype method
    expect(api.problem('IoUring#cqReady')).toBeNull(); // prototype getter
    expect(api.problem('IoUring#probe')).toBeNull(); // instance field (declared)
    expect(api.problem('Cqe#userData')).toBeNull(); // type-only export
    expect(api.problem('FileTable.register')).toBeNull(); // static
    expect(api.problem('IoUringOptions#noMmap')).toBeNull(); // interface property
    expect(api.problem('prepNoSuchOp')).toMatch(/not exported/);
    expect(api.problem('IoUring#noSuchMethod')).toMatch(/no instance member/);
    expect(api.problem('IoUring#hasOwnProperty')).toMatch(/no instance member/); // Object's, not ours
    expect(api.problem('FileTable.noSuchStatic')).toMatch(/no static member/);
    expect(api.problem('IoUring#close()')).toMatch(/not of the form/);
  });

  it('the ring-core names still pending are not public yet (once they are, delete PENDING_RING_CORE)', () => {
    const landed = PENDING_RING_CORE.filter((name) => api.problem(name) === null);
    expect(landed, `now public: ${landed.join(', ')}; remove them from PENDING_RING_CORE`).toEqual([]);
    // Each pending name is used by the map (so it is not a stray exemption).
    const used = new Set(rows.flatMap((r) => r.entry?.tsuring ?? []));
    expect(PENDING_RING_CORE.filter((n) => !used.has(n))).toEqual([]);
  });
});

describe('extractFunctions', () => {
  const header = `
/* io_uring_commented_out(void); */
#ifndef LIB_URING_H
#define LIB_URING_H
#ifdef __cplusplus
extern "C" {
#endif
// io_uring_line_comment(int);
struct io_uring_cqe_iter {
	unsigned (*io_uring_member_fn)(int);
};
int io_uring_queue_init(unsigned entries, struct io_uring *ring,
			unsigned flags) LIBURING_NOEXCEPT;
int __io_uring_get_cqe(struct io_uring *ring);
IOURINGINLINE struct io_uring_cqe_iter
io_uring_cqe_iter_init(const struct io_uring *ring)
{
	return (struct io_uring_cqe_iter) { .x = io_uring_called_inside(ring, "io_uring_in_string(") };
}
_LOCAL_INLINE bool io_uring_skip_cqe(struct io_uring *ring) { return false; }
#ifndef LIBURING_INTERNAL
static inline struct io_uring_sqe *io_uring_get_sqe(struct io_uring *ring)
{
	return _io_uring_get_sqe(ring);
}
#else
struct io_uring_sqe *io_uring_get_sqe(struct io_uring *ring);
#endif
#define io_uring_for_each_cqe(ring, head, cqe) \\
	for (head = *(ring)->cq.khead; 0;)
#define IO_URING_NOT_A_FUNCTION 1
#ifdef __cplusplus
}
#endif
#endif
`;

  it('finds declarations, inline definitions and function-like macros at file scope, once each', () => {
    expect(extractFunctions(header).map((f) => [f.name, f.kind])).toEqual([
      ['io_uring_cqe_iter_init', 'inline'],
      ['io_uring_for_each_cqe', 'macro'],
      ['io_uring_get_sqe', 'inline'],
      ['io_uring_queue_init', 'function'],
      ['io_uring_skip_cqe', 'inline'],
    ]);
    const init = extractFunctions(header).find((f) => f.name === 'io_uring_queue_init')!;
    expect(init.signature).toBe('int io_uring_queue_init(unsigned entries, struct io_uring *ring, unsigned flags)');
  });
});
