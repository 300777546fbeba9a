/**
 * The committed spec is what the extractor makes of the headers it came from. Which headers
 * that is comes from the spec's own provenance (test/extract/repo.ts finds them by sha256), so
 * a checkout upgraded to another kernel's header passes with no edit here.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { extractSpec, specToJson } from '../../codegen/extract/extract.js';
import { SPEC_PATH, loadSpec } from '../../codegen/spec/load.js';
import { specHeaderDir } from './repo.js';

const spec = loadSpec();
const where = specHeaderDir(spec);

describe('spec/io_uring.json', () => {
  it(`is a valid spec of Linux ${spec.provenance.release}, laid out for x86-64, arm64 and riscv64`, () => {
    expect(spec.provenance.release).toMatch(/^\d+\.\d+\.\d+$/);
    expect(spec.abis.map((a) => a.arch)).toEqual(['x64', 'arm64', 'riscv64']);
    expect(spec.records.find((r) => r.name === 'io_uring_sqe')).toMatchObject({ size: 64, align: 8 });
    expect(SPEC_PATH.endsWith(join('spec', 'io_uring.json'))).toBe(true);
  });

  it.skipIf('skip' in where)(`is exactly what the extractor produces from the headers its provenance names${'skip' in where ? ` (skipped: ${where.skip})` : ''}`, () => {
    const dir = (where as { dir: string }).dir;
    const options = {
      ...(spec.provenance.headerDir === undefined ? {} : { headerDirLabel: spec.provenance.headerDir }),
      ...(spec.provenance.releaseFrom === '--release' ? { release: spec.provenance.release } : {}),
    };
    const fresh = extractSpec(dir, options);
    // What a downgrade carried over is not from this header; everything else must be byte for byte.
    const { carried: _carried, ...own } = JSON.parse(readFileSync(SPEC_PATH, 'utf8')) as Record<string, unknown>;
    expect(specToJson(own as never)).toBe(specToJson(fresh));
    expect(specToJson(extractSpec(dir, options))).toBe(specToJson(fresh)); // deterministic
  });
});
