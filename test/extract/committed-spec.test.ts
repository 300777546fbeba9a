import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { extractSpec, specToJson } from '../../codegen/extract/extract.js';
import { SPEC_PATH, loadSpec } from '../../codegen/spec/load.js';
import { sharedHeaderDir } from './repo.js';

describe('spec/io_uring.json', () => {
  it('is a valid spec extracted from Linux 7.2', () => {
    const spec = loadSpec();
    expect(spec.provenance.release).toBe('7.2.13');
    expect(spec.records.find((r) => r.name === 'io_uring_sqe')).toMatchObject({ size: 64, align: 8 });
  });

  it('is exactly what the extractor produces from ../shared/headers/linux-7.2 (regenerate with npm run spec -- --header ../shared/headers/linux-7.2)', (ctx) => {
    const dir = sharedHeaderDir('7.2');
    if (dir === undefined) {
      console.warn('skipping: ../shared/headers/linux-7.2 not found');
      ctx.skip();
      return;
    }
    const fresh = specToJson(extractSpec(dir));
    expect(readFileSync(SPEC_PATH, 'utf8')).toBe(fresh);
    expect(specToJson(extractSpec(dir))).toBe(fresh); // deterministic
    expect(SPEC_PATH.endsWith(join('spec', 'io_uring.json'))).toBe(true);
  });
});
