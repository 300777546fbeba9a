/**
 * `npm run docs` as CI runs it: TypeDoc with the repository's typedoc.json (warnings are
 * errors: an undocumented export, a broken {@link}, a referenced type that is not exported
 * all fail), into a temporary directory. Then the site has the guides in its navigation and
 * the generated builders carry their op's docs, first kernel and liburing counterpart.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inflateSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../examples/run.js';

const out = mkdtempSync(join(tmpdir(), 'tsuring-docs-'));
afterAll(() => rmSync(out, { recursive: true, force: true }));

const text = (file: string): string =>
  readFileSync(join(out, file), 'utf8')
    .replace(/<[^>]+>/g, ' ')
    .replace(/&#x27;|&#39;/g, "'")
    .replace(/&quot;/g, '"')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&')
    .replace(/\s+/g, ' ');

describe('npm run docs', () => {
  it('builds with zero warnings; guides in the navigation; builders documented', () => {
    const typedoc = join(REPO_ROOT, 'node_modules', 'typedoc', 'bin', 'typedoc');
    // No time limit of its own (how long typedoc takes is not what this checks): CI's limit holds.
    const r = spawnSync(process.execPath, [typedoc, '--out', out], { cwd: REPO_ROOT, encoding: 'utf8' });
    const log = `${r.stdout}${r.stderr}`.replace(/\x1b\[[0-9;]*m/g, '');
    const warnings = log.split('\n').filter((l) => /\[(warning|error)\]/.test(l));
    expect(warnings, log).toEqual([]);
    expect(r.status, log).toBe(0);

    const js = readFileSync(join(out, 'assets', 'navigation.js'), 'utf8');
    const data = /navigationData = "([^"]+)"/.exec(js)![1]!;
    const nav = JSON.parse(inflateSync(Buffer.from(data, 'base64')).toString()) as { text: string; children?: { text: string }[] }[];
    expect(nav[0]!.text).toBe('Guides');
    expect(nav[0]!.children!.map((c) => c.text)).toEqual([
      'Getting started',
      'Raw API and Promise API',
      'Buffer lifetime and safety',
      'Registered files, buffers and buffer rings',
      'Upgrading to a new kernel header',
      'Troubleshooting',
      'What tsuring guarantees',
    ]);
    expect(nav.map((n) => n.text)).toEqual(expect.arrayContaining(['Runtime', 'Builders', 'Structs', 'Constants']));

    expect(existsSync(join(out, 'index.html'))).toBe(true);
    expect(text('index.html')).toContain('A TypeScript binding to Linux io_uring for Node.js');
    const prepRead = text('functions/prepRead.html');
    expect(prepRead).toContain('Prepares IORING_OP_READ (opcode 22), since Linux 5.6; liburing: io_uring_prep_read');
    expect(prepRead).toContain('Result: Bytes read; 0 at end of file.');
    expect(text('classes/IoUring.html')).toContain('submitAndWait');

    // Headings with inline code keep its text in the outline and the anchor (docs/typedoc-plugin.mjs).
    const registration = readFileSync(join(out, 'documents', 'Registered_files,_buffers_and_buffer_rings.html'), 'utf8');
    expect(registration).toContain('<h2 id="registered-files-filetable-and-fixedfile"');
    expect(registration).toContain('<h2 id="provided-buffers-bufferring-and-providedbuffergroup"');
    const outline = [...registration.matchAll(/<a href="#([^"]+)"><span>(.*?)<\/span>/g)].map((m) => `${m[1]} ${m[2]!.replace(/<[^>]+>/g, '')}`);
    expect(outline).toContain('registered-files-filetable-and-fixedfile Registered files: FileTable and FixedFile');
    expect(outline).toContain('registered-buffers-registeredbuffers Registered buffers: RegisteredBuffers');
  }, 3_600_000);
});
