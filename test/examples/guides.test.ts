/**
 * The runnable snippets of docs/getting-started.md, run as written (only the package name is
 * pointed at the source tree), so the first guide a user reads cannot drift from the API.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { REPO_ROOT, runScript } from './run.js';

const guide = readFileSync(join(REPO_ROOT, 'docs', 'getting-started.md'), 'utf8');
const blocks = [...guide.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]!);
const dir = mkdtempSync(join(tmpdir(), 'tsuring-guide-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function runSnippet(name: string, code: string): Promise<{ code: number | null; out: string; err: string }> {
  const file = join(dir, `${name}.mts`);
  writeFileSync(file, code.replaceAll("from 'tsuring'", `from '${pathToFileURL(join(REPO_ROOT, 'src', 'index.js')).href}'`));
  const r = await runScript(file, []);
  return { code: r.code, out: r.stdout.toString(), err: r.stderr };
}

describe('docs/getting-started.md', () => {
  const pkg = readFileSync(join(REPO_ROOT, 'package.json'), 'utf8');

  it('has the raw-API and the Promise-API snippet', () => {
    expect(blocks.length).toBe(2);
    expect(blocks[0]).toContain('new IoUring(');
    expect(blocks[1]).toContain('new AsyncIoUring(');
  });

  it('the raw-API snippet runs and prints the first 64 bytes of package.json', async () => {
    const r = await runSnippet('raw', blocks[0]!);
    expect({ code: r.code, err: r.err }).toEqual({ code: 0, err: '' });
    expect(r.out).toBe(`first read 64 ${pkg.slice(0, 64)}\n`);
  });

  it('the Promise-API snippet runs and prints package.json', async () => {
    const r = await runSnippet('promise', blocks[1]!);
    expect({ code: r.code, err: r.err }).toEqual({ code: 0, err: '' });
    expect(r.out).toBe(`${pkg.slice(0, 4096)}\n`);
  });
});
