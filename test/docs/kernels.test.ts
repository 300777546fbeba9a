/**
 * docs/kernels.md and the README's kernel section are generated (`npm run docs:kernels`) from
 * spec/ops.json, spec/io_uring.json and the source: the committed text must be what the
 * generator writes now, and what it says must follow from those inputs.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { analyseApi, compareVersions, render, REPO, spliceReadme } from '../../scripts/docs-kernels.js';

const ops = new Map(
  (JSON.parse(readFileSync(join(REPO, 'spec/ops.json'), 'utf8')) as { ops: { builder: string; opcode: string; minKernel: string }[] }).ops.map((o) => [o.builder, o]),
);

describe('docs/kernels.md and the README kernel section', () => {
  const { doc, readme } = render();

  it('are up to date (else: npm run docs:kernels)', () => {
    expect(readFileSync(join(REPO, 'docs/kernels.md'), 'utf8')).toBe(doc);
    const committed = readFileSync(join(REPO, 'README.md'), 'utf8');
    expect(spliceReadme(committed, readme), 'README.md has the <!-- kernels:start --> ... <!-- kernels:end --> markers').not.toBeNull();
    expect(spliceReadme(committed, readme)).toBe(committed);
  }, 120_000);

  it('name the three supported kernels and every builder with its first kernel', () => {
    expect(readme).toMatch(/Supported and tested kernels: \*\*6\.1\*\*, \*\*6\.12\*\*, current/);
    for (const o of ops.values()) expect(doc).toMatch(new RegExp(`\\| ${o.minKernel.replace('.', '\\.')} \\| [^|]+ \\| [^\\n]*\`${o.builder}\``));
  });

  it('list each public method that reaches a builder newer than 6.1, and say what it does there', () => {
    const api = analyseApi(new Map([...ops].map(([k, v]) => [k, v])));
    const pipe = api.find((u) => u.api === 'AsyncIoUring.pipe')!;
    expect([...pipe.builders]).toContain('prepPipe');
    expect(pipe.guarded.get('PIPE')?.where).toBe('AsyncIoUring.pipe');
    expect(doc).toMatch(/\| `AsyncIoUring\.pipe` \| `IORING_OP_PIPE` \(`prepPipe`\) \| 6\.16 \| checks the probe first: .*pipe2\(2\)/);
    // A method on ops every supported kernel has is not listed.
    expect(api.find((u) => u.api === 'AsyncIoUring.read')!.builders).toContain('prepRead');
    expect(doc).not.toMatch(/\| `AsyncIoUring\.read` \|/);
    for (const u of api) {
      for (const b of u.builders) {
        const o = ops.get(b)!;
        if (compareVersions(o.minKernel, '6.1') > 0) expect(doc, `${u.api} uses ${b} (${o.minKernel})`).toContain(`| \`${u.api}\` | \`${o.opcode}\``);
      }
    }
  }, 120_000);
});
