/**
 * The package as a consumer gets it: `npm pack` (which builds through `prepack`), then
 * `npm install` of the tarball into a fresh project outside the repository.
 * - `import 'tsuring'` and `import fs from 'tsuring/fs'` work from it (ESM), and the process
 *   exits by itself; `./net` is declared in `exports`.
 * - npm's install-script notice does not name tsuring (the build is `prepack`, not `prepare`).
 * - LICENSE is shipped; every source map (`.js.map`, `.d.ts.map`) resolves to a shipped file;
 *   no declaration carries `@internal`; a strict TypeScript consumer type-checks against the
 *   typings (`skipLibCheck: false`), with `tsuring/fs` typed as `node:fs/promises`.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../support/child.js';

const NPM = process.env.npm_execpath !== undefined && process.env.npm_execpath.endsWith('.js') ? [process.execPath, process.env.npm_execpath] : ['npm'];
let work: string;
let consumer: string;
let installed: string;
let installLog = '';

function npm(args: string[], cwd: string): string {
  const [cmd, ...pre] = NPM;
  const r = spawnSync(cmd!, [...pre, ...args], { cwd, encoding: 'utf8', timeout: 240_000, env: { ...process.env, npm_config_audit: 'false', npm_config_fund: 'false', npm_config_update_notifier: 'false' } });
  if (r.status !== 0) throw new Error(`npm ${args.join(' ')} failed (${r.status} ${r.signal}):\n${r.stdout}\n${r.stderr}`);
  return `${r.stdout}\n${r.stderr}`;
}

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'tsuring-pack-'));
  const packed = JSON.parse(npm(['pack', '--json', '--pack-destination', work], REPO_ROOT).replace(/^[^[]*/s, '').replace(/\][^\]]*$/s, ']')) as { filename: string }[];
  const tarball = join(work, packed[0]!.filename);
  consumer = join(work, 'consumer');
  mkdirSync(consumer);
  writeFileSync(join(consumer, 'package.json'), JSON.stringify({ name: 'consumer', version: '1.0.0', private: true, type: 'module', dependencies: { tsuring: `file:${tarball}` } }, null, 2));
  installLog = npm(['install', '--prefer-offline', '--no-audit', '--no-fund'], consumer);
  installed = join(consumer, 'node_modules', 'tsuring');
}, 300_000);

afterAll(() => {
  if (work !== undefined) rmSync(work, { recursive: true, force: true });
});

function walk(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p, out);
    else out.push(p);
  }
  return out;
}

describe('the packed package, installed in a fresh project', () => {
  it("npm's install-script notice does not name tsuring", () => {
    const notice = installLog.split('\n').filter((l) => l.includes('install-scripts'));
    console.info(`[info] npm install printed:\n${notice.join('\n') || '(no install-script notice)'}`);
    expect(notice.filter((l) => /\btsuring@/.test(l))).toEqual([]);
  });

  it("imports 'tsuring' and 'tsuring/fs' as ESM and exits by itself", () => {
    const script = join(consumer, 'main.mjs');
    writeFileSync(
      script,
      `import { AsyncIoUring, IoUring } from 'tsuring';
import fs, { readFile, backend } from 'tsuring/fs';
const ring = new AsyncIoUring();
const nop = await ring.nop();
await ring.close();
const text = await fs.readFile('package.json', 'utf8');
const same = readFile === fs.readFile;
console.log(JSON.stringify({ ioUring: typeof IoUring, nop, name: JSON.parse(text).name, same, backend }));
`,
    );
    const out = execFileSync(process.execPath, [script], { cwd: consumer, encoding: 'utf8', timeout: 60_000 });
    expect(JSON.parse(out.trim())).toEqual({ ioUring: 'function', nop: 0, name: 'consumer', same: true, backend: 'io_uring' });
    const pkg = JSON.parse(readFileSync(join(installed, 'package.json'), 'utf8')) as { exports: Record<string, { default: string; types: string }>; license: string; cpu: string[]; repository: unknown; homepage: string; bugs: unknown; keywords: string[] };
    expect(pkg.exports['./net']).toEqual({ types: './dist/src/node/net/index.d.ts', default: './dist/src/node/net/index.js' });
    expect(pkg.exports['./fs']).toEqual({ types: './dist/src/node/fs/index.d.ts', default: './dist/src/node/fs/index.js' });
    expect(pkg.license).toBe('MIT');
    expect(pkg.cpu).toContain('x64');
    for (const field of ['repository', 'homepage', 'bugs', 'keywords'] as const) expect(pkg[field], field).toBeTruthy();
  });

  it('ships LICENSE (MIT); every source map resolves to a shipped file; no @internal in the typings', () => {
    expect(readFileSync(join(installed, 'LICENSE'), 'utf8')).toMatch(/^MIT License/);
    const files = walk(join(installed, 'dist'));
    const maps = files.filter((f) => f.endsWith('.map'));
    expect(maps.length).toBeGreaterThan(50);
    const missing: string[] = [];
    for (const map of maps) {
      const { sources } = JSON.parse(readFileSync(map, 'utf8')) as { sources: string[] };
      for (const s of sources) if (!existsSync(resolve(dirname(map), s))) missing.push(`${map} -> ${s}`);
    }
    expect(missing).toEqual([]);
    const internal = files.filter((f) => f.endsWith('.d.ts') && readFileSync(f, 'utf8').includes('@internal'));
    expect(internal).toEqual([]);
  });

  it('a strict TypeScript consumer type-checks against the typings (skipLibCheck off)', () => {
    writeFileSync(
      join(consumer, 'check.ts'),
      `import { AsyncIoUring, prepRead, type IoUringError } from 'tsuring';
import fs, { open, backend, useRing } from 'tsuring/fs';
import type * as nodeFs from 'node:fs/promises';
const text: string = await fs.readFile('package.json', 'utf8');
const bytes: Buffer = await fs.readFile('package.json');
const handle: nodeFs.FileHandle = await open('package.json');
const { bytesRead }: { bytesRead: number } = await handle.read(Buffer.alloc(4), 0, 4, 0);
await handle.close();
const b: 'io_uring' | 'node' = backend;
useRing(new AsyncIoUring());
const drop: typeof nodeFs.readFile = fs.readFile;
void [text, bytes, bytesRead, b, drop, prepRead];
export type E = IoUringError;
`,
    );
    writeFileSync(
      join(consumer, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: { target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, skipLibCheck: false, noEmit: true, types: ['node'], typeRoots: [join(REPO_ROOT, 'node_modules', '@types')], lib: ['ES2023', 'ESNext.Disposable'] },
        files: ['check.ts'],
      }),
    );
    const tsc = join(REPO_ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
    const r = spawnSync(process.execPath, [tsc, '-p', 'tsconfig.json'], { cwd: consumer, encoding: 'utf8', timeout: 240_000 });
    expect(`${r.stdout}${r.stderr}`).toBe('');
    expect(r.status).toBe(0);
  }, 250_000);
});
