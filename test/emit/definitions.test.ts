/**
 * ops.json entries no spec can make right stop codegen with a definition error naming the
 * builder and argument (a Skip, by contrast, is an entry this spec cannot support and lands in
 * the report). And the names ops.json uses in excludeBits all exist in the committed spec.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../../codegen/emit/cli.js';
import { emitAll } from '../../codegen/emit/emit.js';
import { SpecIndex } from '../../codegen/emit/model.js';
import { OpsDefinitionError } from '../../codegen/emit/ops.js';
import { loadOps, loadSpec } from '../../codegen/spec/load.js';
import type { OpArg, OpsFile } from '../../codegen/spec/types.js';
import { MINI_OPS, MINI_SPEC, REAL_OPS, REAL_SPEC, tempDir } from './helpers.js';

const inputs = { specPath: 'mini-spec.json', specSha256: '0'.repeat(64), opsPath: 'mini-ops.json', opsSha256: '0'.repeat(64) };
const spec = loadSpec(MINI_SPEC);

/** The mini ops with `edit` applied to a copy of one argument. */
function miniWith(builder: string, arg: string, edit: (a: OpArg) => void): OpsFile {
  const ops = structuredClone(loadOps(MINI_OPS));
  const a = ops.ops.find((o) => o.builder === builder)?.args.find((x) => x.name === arg);
  if (!a) throw new Error(`${builder}.${arg} not in the mini ops`);
  edit(a);
  return ops;
}

function definitionError(ops: OpsFile): OpsDefinitionError {
  try {
    emitAll(spec, ops, inputs);
  } catch (err) {
    if (err instanceof OpsDefinitionError) return err;
    throw err;
  }
  throw new Error('emitAll accepted the entry');
}

describe('ops.json definition errors', () => {
  it('refuses a buffer that declares both lengthArg and lengthField, saying which field is written', () => {
    const e = definitionError(miniWith('prepRead', 'buf', (a) => (a.lengthField = 'len')));
    expect(e.problems).toEqual([
      "prepRead: argument buf declares both lengthArg (len) and lengthField (len): with a lengthArg, the length argument's own field (len) is the only one written, so lengthField would say something the builder does not do; remove lengthField",
    ]);
    expect(e.message).toMatch(/^ops\.json has a definition error:\n {2}prepRead: argument buf declares both/);
  });

  it('stops the CLI with exit code 1 and the message, writing nothing', () => {
    const dir = tempDir('definitions');
    const bad = join(dir, 'ops.json');
    writeFileSync(bad, JSON.stringify(miniWith('prepRead', 'buf', (a) => (a.lengthField = 'len'))));
    const out: string[] = [];
    const err: string[] = [];
    const code = runCli(['--spec', MINI_SPEC, '--ops', bad, '--out', join(dir, 'generated')], { out: (l) => out.push(l), err: (l) => err.push(l) });
    expect(code).toBe(1);
    expect(err.join('\n')).toMatch(/^codegen: ops\.json has a definition error:\n {2}prepRead: argument buf declares both lengthArg \(len\) and lengthField \(len\)/);
    expect(out).toEqual([]);
  });

  it('refuses excludeBits and maxBits on the wrong kinds', () => {
    expect(definitionError(miniWith('prepRead', 'len', (a) => (a.excludeBits = ['IORING_TIMEOUT_ABS']))).problems).toEqual([
      'prepRead: argument len: excludeBits is only for flags arguments (this one is u32)',
    ]);
    expect(definitionError(miniWith('prepRead', 'offset', (a) => (a.maxBits = 63))).problems).toEqual([
      'prepRead: argument offset: maxBits is only for u64 arguments (this one is offset)',
    ]);
    expect(definitionError(miniWith('prepTimeout', 'flags', (a) => delete a.excludeBits)).problems).toEqual([
      'prepTimeout: argument flags: excludeReason without excludeBits',
    ]);
  });

  it('refuses a flags argument that can set a fixed-file bit only a FixedFile may set', () => {
    const e = definitionError(miniWith('prepSplice', 'flags', (a) => {
      delete a.excludeBits;
      delete a.excludeReason;
    }));
    expect(e.problems).toEqual([
      "prepSplice: argument flags can set SPLICE_F_FD_IN_FIXED in splice_flags, which fileIn's fixedFlag sets only when fileIn is a FixedFile; add it to flags.excludeBits",
    ]);
  });

  it('lists every problem at once', () => {
    const ops = miniWith('prepRead', 'buf', (a) => (a.lengthField = 'len'));
    const m = ops.ops.find((o) => o.builder === 'prepMsgRing')?.args.find((a) => a.name === 'res') as OpArg;
    m.maxBits = 8;
    const e = definitionError(ops);
    expect(e.problems.length).toBe(2);
    expect(e.message).toMatch(/^ops\.json has 2 definition errors:/);
  });
});

describe('excludeBits in spec/ops.json', () => {
  it('names constants of the committed spec, each a member of its argument\'s flag set', () => {
    const real = loadSpec(REAL_SPEC);
    const index = new SpecIndex(real);
    const ops = JSON.parse(readFileSync(REAL_OPS, 'utf8')) as OpsFile;
    const problems: string[] = [];
    let names = 0;
    for (const op of ops.ops) {
      for (const a of op.args) {
        for (const n of a.excludeBits ?? []) {
          names++;
          if (!index.values.has(n)) problems.push(`${op.builder}: ${a.name}: ${n} is not in the spec`);
          const set = real.flagSets.find((s) => s.name === a.flagSet);
          if (set && !set.members.includes(n)) problems.push(`${op.builder}: ${a.name}: ${n} is not a member of ${a.flagSet}`);
        }
      }
    }
    expect(problems).toEqual([]);
    expect(names).toBeGreaterThanOrEqual(20);
  });
});
