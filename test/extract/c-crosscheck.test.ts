/**
 * Proof of exactness: extract a spec from real headers, generate a C program from the spec,
 * compile it against the same headers with the system compiler, run it, and compare every
 * size, offset, alignment, enum value, constant value and constant type with the spec.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { extractSpec, writeSpec } from '../../codegen/extract/extract.js';
import { loadSpec } from '../../codegen/spec/load.js';
import { buildCrossCheckProgram, parseCrossCheckOutput } from './c-program.js';
import { sharedHeaderDir } from './repo.js';
import { findCCompiler } from '../support/cc.js';

const compiler = findCCompiler();

const targets: { label: string; dir: string | undefined; missing: string }[] = [
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

const compared = new Map<string, number>();

describe('C cross-check of extracted specs', () => {
  afterAll(() => {
    if (compared.size === 0) return;
    const total = [...compared.values()].reduce((a, b) => a + b, 0);
    console.log(`C cross-check: ${[...compared].map(([label, n]) => `${label} ${n}`).join(', ')}; ${total} values in total, 0 mismatches`);
  });

  for (const target of targets) {
    it(`${target.label}: every size, offset, alignment, enum value and constant equals the compiler's`, (ctx) => {
      if (compiler === null) {
        console.warn(`skipping the C cross-check for ${target.label}: no C compiler ($CC, cc, gcc or clang)`);
        ctx.skip();
        return;
      }
      if (target.dir === undefined) {
        console.warn(`skipping the C cross-check for ${target.label}: ${target.missing}`);
        ctx.skip();
        return;
      }
      const work = mkdtempSync(join(tmpdir(), 'tsuring-crosscheck-'));
      try {
        const specPath = join(work, 'io_uring.json');
        writeSpec(extractSpec(target.dir), specPath);
        const spec = loadSpec(specPath);
        const program = buildCrossCheckProgram(spec);
        const cPath = join(work, 'check.c');
        const exePath = join(work, 'check');
        writeFileSync(cPath, program.source);
        const build = spawnSync(compiler, ['-std=gnu11', '-I', target.dir, cPath, '-o', exePath], { encoding: 'utf8' });
        expect(build.status, `cc failed:\n${build.stderr}`).toBe(0);
        const run = spawnSync(exePath, [], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
        expect(run.status, `check program failed:\n${run.stderr}`).toBe(0);

        const actual = parseCrossCheckOutput(run.stdout);
        const mismatches: string[] = [];
        for (const [key, want] of program.expected) {
          const got = actual.get(key);
          if (got !== want) mismatches.push(`${key}: spec says ${want}, compiler says ${got ?? '(not printed)'}`);
        }
        expect(mismatches).toEqual([]);
        expect(actual.size).toBe(program.expected.size);

        const { records, fields, enumMembers, constants } = program.counts;
        console.log(
          `${target.label} (Linux ${spec.provenance.release}): compared ${program.expected.size} values ` +
            `(records ${records}, fields ${fields}, enum members ${enumMembers}, constants ${constants}), 0 mismatches`,
        );
        compared.set(target.label, program.expected.size);
        // Hundreds per header, thousands in all: a spec that lost most of its content must not pass quietly.
        expect(program.expected.size).toBeGreaterThan(500);
      } finally {
        rmSync(work, { recursive: true, force: true });
      }
    });
  }
});
