/**
 * docs/registration.md says its snippets continue one another: they are pasted in sequence
 * into one module and run as written (only the package name is pointed at the source tree,
 * and a first line moves into a directory holding the `data.txt` the guide describes); each
 * prints what its comment says.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { REPO_ROOT, runScript } from './run.js';

const guide = readFileSync(join(REPO_ROOT, 'docs', 'registration.md'), 'utf8');
const blocks = [...guide.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]!);
const dir = mkdtempSync(join(tmpdir(), 'tsuring-registration-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('docs/registration.md', () => {
  it('has the three snippets: registered files, registered buffers, a buffer ring', () => {
    expect(blocks.length).toBe(3);
    expect(blocks[0]).toContain('FileTable.register(');
    expect(blocks[1]).toContain('RegisteredBuffers.register(');
    expect(blocks[2]).toContain('BufferRing.register(');
  });

  it('the snippets, run in sequence, print what their comments say', async () => {
    writeFileSync(join(dir, 'data.txt'), '0123456789abcdefghijklmnopqrstuvwxyz');
    const file = join(dir, 'registration.mts');
    const code = `process.chdir(${JSON.stringify(dir)});\n` + blocks.join('\n').replaceAll("from 'tsuring'", `from '${pathToFileURL(join(REPO_ROOT, 'src', 'index.js')).href}'`);
    writeFileSync(file, code);
    const r = await runScript(file, []);
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: '' });
    // Each `console.log` line's comment is its expected output.
    const expected = [...code.matchAll(/console\.log\(.*\/\/ (.*)$/gm)].map((m) => m[1]!.trim());
    expect(expected.length).toBe(3);
    expect(r.stdout.toString().trim().split('\n')).toEqual(expected);
  });
});
