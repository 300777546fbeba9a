import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { main } from '../../codegen/extract/cli.js';
import { loadSpec } from '../../codegen/spec/load.js';
import { headerDir } from './fixtures.js';
import { REPO_ROOT } from './repo.js';

function run(args: string[]): { code: number; out: string; err: string } {
  let out = '';
  let err = '';
  const code = main(args, (s) => { out += s; }, (s) => { err += s; });
  return { code, out, err };
}

const V1 = '#define IORING_SETUP_A\t(1U << 0)\nstruct s { __u32 a; };\n';
const V2 = '#define IORING_SETUP_A\t(1U << 0)\n#define IORING_SETUP_B\t(1U << 1)\nstruct s { __u32 a; __u32 b; };\n';

describe('npm run spec', () => {
  const work = mkdtempSync(join(tmpdir(), 'tsuring-cli-'));
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  it('writes a valid spec, reports "up to date" on a rerun, and prints the change report when the header changed', () => {
    const out = join(work, 'spec.json');
    const v1 = headerDir(V1);
    const first = run(['--header', v1, '--out', out]);
    expect(first).toMatchObject({ code: 0, err: '' });
    expect(first.out).toMatch(/^Wrote .*spec\.json: Linux 6\.2\.0, 2 records, 0 enums, 1 constants, 1 flag sets\.$/m);
    expect(first.out).toMatch(/^C cross-check of Linux 6\.2\.0 /m);
    expect(first.out).toMatch(/^What to do next:$/m);
    const bytes = readFileSync(out, 'utf8');
    expect(bytes.endsWith('}\n')).toBe(true);
    expect(bytes.startsWith('{\n  "$schema": "./schema/io_uring.schema.json",\n')).toBe(true);
    expect(loadSpec(out).constants.map((c) => c.name)).toEqual(['IORING_SETUP_A']);

    expect(run(['--header', v1, '--out', out]).out).toMatch(/is up to date/);
    expect(readFileSync(out, 'utf8')).toBe(bytes);

    const third = run(['--header', headerDir(V2), '--out', out]);
    expect(third.code).toBe(0);
    expect(third.out).toContain('+ IORING_SETUP_B = 2 (unsigned int)');
    expect(third.out).toContain('+ s.b: offset 4, 4 bytes, __u32');
    expect(third.out).toContain('~ struct s: size 4 -> 8, align 4 -> 4');
    expect(loadSpec(out).constants.map((c) => c.name)).toEqual(['IORING_SETUP_A', 'IORING_SETUP_B']);
  });

  it('fails with file:line and leaves the previous spec alone when the header cannot be read', () => {
    const out = join(work, 'kept.json');
    expect(run(['--header', headerDir(V1), '--out', out]).code).toBe(0);
    const before = readFileSync(out, 'utf8');
    const bad = headerDir('struct s {\n\t__u32 a : 4;\n};\n');
    const result = run(['--header', bad, '--out', out]);
    expect(result.code).toBe(1);
    expect(result.err).toContain(`${join(bad, 'linux/io_uring.h')}:2:10: bitfield a is not supported`);
    expect(readFileSync(out, 'utf8')).toBe(before);
    expect(run(['--header', bad, '--out', join(work, 'never.json')]).code).toBe(1);
    expect(existsSync(join(work, 'never.json'))).toBe(false);
  });

  it('diffs two specs as text or JSON', () => {
    const a = join(work, 'a.json');
    const b = join(work, 'b.json');
    run(['--header', headerDir(V1), '--out', a]);
    run(['--header', headerDir(V2), '--out', b]);
    const text = run(['--diff', a, b]);
    expect(text.code).toBe(0);
    expect(text.out).toContain('Constants: 1 added, 0 removed, 0 changed');
    const json = run(['--diff', a, b, '--json']);
    expect(json.code).toBe(0);
    const parsed = JSON.parse(json.out) as { constants: { added: { name: string }[] }; fields: { added: { path: string }[] } };
    expect(parsed.constants.added.map((c) => c.name)).toEqual(['IORING_SETUP_B']);
    expect(parsed.fields.added.map((f) => f.path)).toEqual(['b']);
  });

  it('refuses an invalid spec given to --diff, and bad usage', () => {
    const broken = join(work, 'broken.json');
    writeFileSync(broken, '{"formatVersion": 2}');
    const result = run(['--diff', broken, broken]);
    expect(result.code).toBe(1);
    expect(result.err).toMatch(/is not a valid spec file/);
    expect(run([]).code).toBe(2);
    expect(run(['--header']).code).toBe(2);
    expect(run(['--diff', 'a.json', 'b.json', '--out', 'x']).code).toBe(2);
    expect(run(['--bogus']).err).toMatch(/unknown argument --bogus/);
    expect(run(['--help'])).toMatchObject({ code: 0 });
  });

  it('runs as the package script entry point', () => {
    const a = join(work, 'script-a.json');
    run(['--header', headerDir(V1), '--out', a]);
    const child = spawnSync(process.execPath, ['--import', 'tsx', join(REPO_ROOT, 'codegen/extract/cli.ts'), '--diff', a, a], { cwd: REPO_ROOT, encoding: 'utf8' });
    expect(child.stderr).toBe('');
    expect(child.status).toBe(0);
    expect(child.stdout).toContain('No changes.');
  });
});
