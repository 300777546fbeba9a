/**
 * encodeOpenHow and the RESOLVE_* flags with prepOpenat2 on the real kernel: each flag
 * refuses what it should (and only that), a created file gets its mode, and bad values are
 * refused before the kernel.
 */
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { prepOpenat2, prepRead } from '../../generated/ops.js';
import { encodeOpenHow, OPEN_HOW_SIZE, RESOLVE_BENEATH, RESOLVE_IN_ROOT, RESOLVE_NO_MAGICLINKS, RESOLVE_NO_SYMLINKS, RESOLVE_NO_XDEV } from '../../src/abi/open-how.js';
import { ArgumentError } from '../../src/errors.js';
import { IoUring } from '../../src/ring/ring.js';
import { closeFd } from '../../src/sys/libc.js';
import { run } from '../register/helpers.js';

const EXDEV = -18;
const ELOOP = -40;
const O_CREAT = 0o100;
const O_WRONLY = 1;
const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0).reverse()) c();
});

function fixture(): { ring: IoUring; dir: string; dirfd: number } {
  const ring = new IoUring({ entries: 8 });
  cleanups.push(() => ring.close());
  const root = mkdtempSync(join(tmpdir(), 'tsuring-openat2-'));
  cleanups.push(() => rmSync(root, { recursive: true, force: true }));
  const dir = join(root, 'jail');
  mkdirSync(dir);
  writeFileSync(join(dir, 'inside'), 'inside the jail');
  writeFileSync(join(root, 'outside'), 'outside the jail');
  symlinkSync('inside', join(dir, 'link'));
  symlinkSync('../outside', join(dir, 'escape'));
  const dirfd = openSync(dir, 'r');
  cleanups.push(() => closeSync(dirfd));
  return { ring, dir, dirfd };
}

/** Opens `path` under `dirfd` with openat2 and reads it; returns the text or the negative errno. */
function openAndRead(ring: IoUring, dirfd: number, path: string, how: Uint8Array): string | number {
  const res = run(ring, (s) => prepOpenat2(s, dirfd, path, how)).res;
  if (res < 0) return res;
  try {
    const buf = Buffer.alloc(64);
    const n = run(ring, (s) => prepRead(s, res, buf, 64, 0)).res;
    return buf.subarray(0, n).toString();
  } finally {
    closeFd(res);
  }
}

describe('encodeOpenHow with prepOpenat2', () => {
  it('RESOLVE_BENEATH refuses .., absolute paths and symlinks that leave dirfd (EXDEV), and allows the rest', () => {
    const { ring, dirfd } = fixture();
    const beneath = encodeOpenHow({ resolve: RESOLVE_BENEATH });
    expect(openAndRead(ring, dirfd, 'inside', beneath)).toBe('inside the jail');
    expect(openAndRead(ring, dirfd, 'link', beneath)).toBe('inside the jail');
    expect(openAndRead(ring, dirfd, '../outside', beneath)).toBe(EXDEV);
    expect(openAndRead(ring, dirfd, 'escape', beneath)).toBe(EXDEV);
    expect(openAndRead(ring, dirfd, '/etc/hostname', beneath)).toBe(EXDEV);
    // Without the flag the same paths open.
    expect(openAndRead(ring, dirfd, 'escape', encodeOpenHow())).toBe('outside the jail');
  });

  it('RESOLVE_IN_ROOT treats dirfd as / ; RESOLVE_NO_SYMLINKS refuses any symlink (ELOOP); NO_XDEV and NO_MAGICLINKS pass plain paths', () => {
    const { ring, dirfd } = fixture();
    expect(openAndRead(ring, dirfd, '/inside', encodeOpenHow({ resolve: RESOLVE_IN_ROOT }))).toBe('inside the jail');
    // ../outside from the "root" stays at the root, where there is no "outside".
    expect(openAndRead(ring, dirfd, '../outside', encodeOpenHow({ resolve: RESOLVE_IN_ROOT }))).toBe(-2);
    expect(openAndRead(ring, dirfd, 'link', encodeOpenHow({ resolve: RESOLVE_NO_SYMLINKS }))).toBe(ELOOP);
    expect(openAndRead(ring, dirfd, 'inside', encodeOpenHow({ resolve: RESOLVE_NO_SYMLINKS | RESOLVE_NO_XDEV | RESOLVE_NO_MAGICLINKS }))).toBe('inside the jail');
    expect(openAndRead(ring, -100, '/proc/self/fd/0', encodeOpenHow({ resolve: RESOLVE_NO_MAGICLINKS }))).toBe(ELOOP);
  });

  it('creates a file with the given flags and mode', () => {
    const { ring, dir, dirfd } = fixture();
    const res = run(ring, (s) => prepOpenat2(s, dirfd, 'created', encodeOpenHow({ flags: O_CREAT | O_WRONLY, mode: 0o600, resolve: RESOLVE_BENEATH }))).res;
    expect(res).toBeGreaterThanOrEqual(0);
    closeFd(res);
    expect(statSync(join(dir, 'created')).mode & 0o777).toBe(0o600);
    const w = run(ring, (s) => prepOpenat2(s, dirfd, 'created', encodeOpenHow({ flags: 'w' }))).res;
    expect(w).toBeGreaterThanOrEqual(0);
    closeFd(w);
    expect(readFileSync(join(dir, 'created'), 'utf8')).toBe('');
  });

  it('encodes three little-endian u64 and refuses what openat2 would refuse, before the kernel', () => {
    const how = encodeOpenHow({ flags: O_CREAT, mode: 0o644, resolve: RESOLVE_BENEATH | RESOLVE_IN_ROOT });
    expect(how.byteLength).toBe(OPEN_HOW_SIZE);
    const dv = new DataView(how.buffer);
    expect([dv.getBigUint64(0, true), dv.getBigUint64(8, true), dv.getBigUint64(16, true)]).toEqual([BigInt(O_CREAT), 0o644n, BigInt(RESOLVE_BENEATH | RESOLVE_IN_ROOT)]);
    expect(() => encodeOpenHow({ resolve: 0x40 })).toThrow(/unknown RESOLVE_\* bits 0x40/);
    expect(() => encodeOpenHow({ mode: 0o600 })).toThrow(/O_CREAT or O_TMPFILE/);
    expect(() => encodeOpenHow({ flags: O_CREAT, mode: 0o10000 })).toThrow(ArgumentError);
    expect(() => encodeOpenHow({ flags: 'nope' as 'r' })).toThrow(ArgumentError);
    expect(() => encodeOpenHow(null as unknown as {})).toThrow(ArgumentError);
  });
});
