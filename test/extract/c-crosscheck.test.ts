/**
 * Proof of exactness: extract a spec from real headers and compare every size, offset,
 * alignment, signedness, enum value, constant value and constant type with what C compilers
 * make of the same headers, on every ABI of the spec: this machine's compiler ($CC, cc, gcc,
 * clang) and Debian's cross compilers (aarch64-linux-gnu-gcc, riscv64-linux-gnu-gcc), compile
 * only (codegen/extract/c-check.ts reads the values out of the object file). The committed
 * spec's own header is always a target, wherever provenance says it came from; the shared
 * headers and /usr/include are checked too where present.
 */
import { describe, expect, it } from 'vitest';
import { ABIS } from '../../codegen/extract/abi.js';
import { crossCheck, findCompilers } from '../../codegen/extract/c-check.js';
import { extractSpec } from '../../codegen/extract/extract.js';
import { loadSpec } from '../../codegen/spec/load.js';
import type { Spec } from '../../codegen/spec/types.js';
import { sharedHeaderDir, specHeaderDir } from './repo.js';
import { existsSync } from 'node:fs';

const compilers = findCompilers(ABIS);
const committed = loadSpec();
const committedDir = specHeaderDir(committed);

const targets: { label: string; dir: string | undefined; missing: string }[] = [
  {
    label: `the committed spec's header (Linux ${committed.provenance.release})`,
    dir: 'dir' in committedDir ? committedDir.dir : undefined,
    missing: 'skip' in committedDir ? committedDir.skip : '',
  },
  ...(['6.1', '6.12', '7.2'] as const).map((release) => ({
    label: `../shared/headers/linux-${release}`,
    dir: sharedHeaderDir(release),
    missing: `../shared/headers/linux-${release}/linux/io_uring.h not found next to the repository`,
  })),
  {
    label: '/usr/include',
    dir: existsSync('/usr/include/linux/io_uring.h') ? '/usr/include' : undefined,
    missing: '/usr/include/linux/io_uring.h not found (install the kernel UAPI headers, e.g. linux-libc-dev)',
  },
];

describe('C cross-check of extracted specs, per ABI', () => {
  for (const target of targets) {
    for (const c of compilers) {
      const why = target.dir === undefined ? target.missing : 'skip' in c ? c.skip : null;
      it.skipIf(why !== null)(`${target.label} on ${c.abi.name}: every value equals the compiler's${why === null ? '' : ` (skipped: ${why})`}`, () => {
        const spec = extractSpec(target.dir!, { abis: [c.abi] });
        const [result] = crossCheck(spec, target.dir!, [c]);
        if (result === undefined || 'skipped' in result) throw new Error('unreachable: a compiler was found');
        expect(result.mismatches).toEqual([]);
        console.log(`${target.label} on ${c.abi.name} (${result.cc}): ${result.compared} values, 0 mismatches`);
        // Hundreds per header: a spec that lost most of its content must not pass quietly.
        expect(result.compared).toBeGreaterThan(500);
      });
    }
  }

  it('reads the committed spec\'s provenance to find its header', () => {
    if ('skip' in committedDir) {
      expect(committedDir.skip).toMatch(/set TSURING_HEADER_DIR/);
      return;
    }
    expect(committedDir.dir).toBeTypeOf('string');
  });

  // The check must be able to fail: a spec that says epoll_event is 12 bytes on arm64 (the x86-64
  // layout) is caught by the arm64 compiler, and one that says 16 on x86-64 by the host's.
  for (const c of compilers) {
    const dir = sharedHeaderDir('7.2');
    const why = dir === undefined ? '../shared/headers/linux-7.2 not found' : 'skip' in c ? c.skip : null;
    it.skipIf(why !== null)(`catches a wrong epoll_event layout on ${c.abi.name}${why === null ? '' : ` (skipped: ${why})`}`, () => {
      const spec = extractSpec(dir!, { abis: [c.abi] });
      const wrong: Spec = JSON.parse(JSON.stringify(spec)) as Spec;
      const epoll = wrong.records.find((r) => r.name === 'epoll_event')!;
      epoll.size = epoll.size === 12 ? 16 : 12;
      const data = epoll.fields.find((f) => f.name === 'data')!;
      data.offset = data.offset === 4 ? 8 : 4;
      const [result] = crossCheck(wrong, dir!, [c]);
      if (result === undefined || 'skipped' in result) throw new Error('unreachable');
      expect(result.mismatches).toEqual([
        expect.stringMatching(/^sizeof\(struct epoll_event\): spec says (12|16), .* says (16|12)$/),
        expect.stringMatching(/^offsetof\(struct epoll_event, data\): spec says [48], .* says [48]$/),
      ]);
    });
  }
});
