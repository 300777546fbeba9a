/**
 * `struct statx` as the parser reads it, checked against C: every offset in STATX_OFFSETS
 * against `offsetof` on `<linux/stat.h>`, and the parser against a C program's own
 * `statx(2)` of the same files (regular, directory, character device, symlink).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makedev, STATX_OFFSETS, STATX_SIZE, Stats } from '../../src/async/statx.js';
import { findCCompiler } from '../support/cc.js';


const compiler = findCCompiler();
let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'tsuring-statx-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function compileAndRun(source: string, args: string[] = []): string {
  const src = join(dir, `p${Math.random().toString(36).slice(2)}.c`);
  const exe = `${src}.out`;
  writeFileSync(src, source);
  execFileSync(compiler!, ['-std=gnu11', '-O0', '-Wall', '-Werror', '-o', exe, src], { stdio: ['ignore', 'pipe', 'pipe'] });
  return execFileSync(exe, args, { encoding: 'utf8' });
}

describe.skipIf(compiler === null)('struct statx against <linux/stat.h>', () => {
  it('size and every offset match offsetof', () => {
    const lines = Object.keys(STATX_OFFSETS).map((f) => `  printf("${f} %zu\\n", offsetof(struct statx, ${f}));`);
    const out = compileAndRun(`#include <stddef.h>
#include <stdio.h>
#include <linux/stat.h>
int main(void) {
  printf("size %zu\\n", sizeof(struct statx));
  printf("ts %zu %zu %zu\\n", sizeof(struct statx_timestamp), offsetof(struct statx_timestamp, tv_sec), offsetof(struct statx_timestamp, tv_nsec));
${lines.join('\n')}
  return 0;
}
`);
    const c = Object.fromEntries(out.trim().split('\n').map((l) => { const [k, ...v] = l.split(' '); return [k, v.join(' ')]; }));
    expect(Number(c.size)).toBe(STATX_SIZE);
    expect(c.ts).toBe('16 0 8');
    for (const [field, offset] of Object.entries(STATX_OFFSETS)) expect({ field, offset: Number(c[field]) }).toEqual({ field, offset });
  });

  it("parses the bytes a C program's statx(2) wrote exactly as C reads the fields", () => {
    const file = join(dir, 'f.bin');
    writeFileSync(file, Buffer.alloc(5000, 7));
    const link = join(dir, 'f.link');
    symlinkSync(file, link);
    const source = `#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <linux/stat.h>
#include <unistd.h>
#include <sys/syscall.h>
int main(int argc, char **argv) {
  for (int i = 1; i < argc; i++) {
    struct statx st;
    int flags = i == argc - 1 ? AT_SYMLINK_NOFOLLOW : 0;
    if (syscall(SYS_statx, AT_FDCWD, argv[i], flags, STATX_BASIC_STATS | STATX_BTIME, &st) != 0) return 1;
    const unsigned char *b = (const unsigned char *)&st;
    for (size_t k = 0; k < sizeof st; k++) printf("%02x", b[k]);
    printf(" %u %u %u %u %u %llu %llu %llu %llu %lld %u %lld %u %lld %u %lld %u %llu %llu\\n",
      st.stx_mask, st.stx_blksize, st.stx_nlink, st.stx_uid, st.stx_mode,
      (unsigned long long)st.stx_ino, (unsigned long long)st.stx_size, (unsigned long long)st.stx_blocks, (unsigned long long)st.stx_attributes,
      (long long)st.stx_atime.tv_sec, st.stx_atime.tv_nsec, (long long)st.stx_btime.tv_sec, st.stx_btime.tv_nsec,
      (long long)st.stx_ctime.tv_sec, st.stx_ctime.tv_nsec, (long long)st.stx_mtime.tv_sec, st.stx_mtime.tv_nsec,
      (unsigned long long)makedev(st.stx_dev_major, st.stx_dev_minor), (unsigned long long)makedev(st.stx_rdev_major, st.stx_rdev_minor));
  }
  return 0;
}
`;
    const out = compileAndRun(source, [file, dir, '/dev/null', link]);
    const rows = out.trim().split('\n');
    expect(rows).toHaveLength(4);
    for (const row of rows) {
      const [hex, ...f] = row.split(' ');
      const bytes = Buffer.from(hex!, 'hex');
      expect(bytes.length).toBe(256);
      const s = new Stats(bytes);
      const n = f.map(Number);
      expect(s.mask).toBe(n[0]);
      expect(s.blksize).toBe(n[1]);
      expect(s.nlink).toBe(n[2]);
      expect(s.uid).toBe(n[3]);
      expect(s.mode).toBe(n[4]);
      expect(s.ino).toBe(n[5]);
      expect(s.size).toBe(n[6]);
      expect(s.blocks).toBe(n[7]);
      expect(s.attributes).toBe(n[8]);
      expect(s.atimeNs).toBe(BigInt(f[9]!) * 1_000_000_000n + BigInt(f[10]!));
      expect(s.birthtimeNs).toBe(BigInt(f[11]!) * 1_000_000_000n + BigInt(f[12]!));
      expect(s.ctimeNs).toBe(BigInt(f[13]!) * 1_000_000_000n + BigInt(f[14]!));
      expect(s.mtimeNs).toBe(BigInt(f[15]!) * 1_000_000_000n + BigInt(f[16]!));
      expect(BigInt(s.dev)).toBe(BigInt(f[17]!));
      expect(BigInt(s.rdev)).toBe(BigInt(f[18]!));
    }
    expect(new Stats(Buffer.from(rows[2]!.split(' ')[0]!, 'hex')).isCharacterDevice()).toBe(true);
    expect(new Stats(Buffer.from(rows[3]!.split(' ')[0]!, 'hex')).isSymbolicLink()).toBe(true);
  });

  it("makedev encodes large majors and minors as glibc's macro does", () => {
    const pairs: Array<[number, number]> = [[0, 0], [8, 1], [259, 3], [4095, 255], [4096, 256], [0xfffff, 0xfffff], [0xabcde, 0x12345678 >>> 0]];
    const out = compileAndRun(`#include <stdio.h>
#include <sys/sysmacros.h>
int main(void) {
${pairs.map(([a, b]) => `  printf("%llu\\n", (unsigned long long)makedev(${a}u, ${b}u));`).join('\n')}
  return 0;
}
`);
    const c = out.trim().split('\n').map(BigInt);
    pairs.forEach(([a, b], i) => {
      const ours = makedev(a, b);
      // Above 2^53 a number cannot hold the value exactly; compare what it can.
      if (c[i]! < 2n ** 53n) expect(BigInt(ours)).toBe(c[i]);
      else expect(ours).toBe(Number(c[i]));
    });
  });
});
