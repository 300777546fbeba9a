/**
 * `npm run docs:kernels`: writes docs/kernels.md and the README's kernel section (between
 * `<!-- kernels:start -->` and `<!-- kernels:end -->`) from what the repository itself says,
 * never by hand:
 * - spec/ops.json: the first kernel of every builder;
 * - spec/io_uring.json: the header's opcodes (any without a builder is listed);
 * - the library's source, read with the TypeScript compiler: which builders each public
 *   method and helper reaches (directly, through other public methods, or through the classes
 *   it creates), and which opcodes it checks with `probe.supports('X')` before using them,
 *   which is how a fallback is made. An op it reaches without such a check refuses with
 *   `UnsupportedOpError` (the builder's own check against the ring's probe) on a kernel that
 *   lacks it.
 * `--check` writes nothing and exits 1 when the committed text differs (test/docs/kernels.test.ts
 * runs the same comparison).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { EVENTFD_REARM_SINCE } from '../src/register/eventfd-rearm.js';

export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** The kernels the project supports and tests (CI: the host, then 6.1 and 6.12 in qemu). */
export const SUPPORTED = [
  { release: '6.1', what: "Debian 12's kernel (`linux-image-amd64` on bookworm), the oldest supported" },
  { release: '6.12', what: 'the 6.12 LTS (Debian 12: `linux-image-6.12-amd64`)' },
  { release: 'current', what: 'the current stable release (CI runs the suite on its own machine\'s kernel)' },
] as const;
const OLDEST = '6.1';

interface OpEntry {
  builder: string;
  opcode: string;
  minKernel: string;
}

export function versionKey(v: string): number[] {
  return v.split('.').map(Number);
}
export function compareVersions(a: string, b: string): number {
  const x = versionKey(a);
  const y = versionKey(b);
  for (let i = 0; i < Math.max(x.length, y.length); i++) {
    const d = (x[i] ?? 0) - (y[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

function loadOps(): Map<string, OpEntry> {
  const spec = JSON.parse(readFileSync(join(REPO, 'spec/ops.json'), 'utf8')) as { ops: OpEntry[] };
  return new Map(spec.ops.map((o) => [o.builder, { builder: o.builder, opcode: o.opcode, minKernel: o.minKernel }]));
}

function headerOpcodes(): { names: string[]; release: string } {
  const spec = JSON.parse(readFileSync(join(REPO, 'spec/io_uring.json'), 'utf8')) as {
    provenance: { release: string };
    enums: { name: string | null; members: { name: string }[] }[];
  };
  const ops = spec.enums.find((e) => e.name === 'io_uring_op');
  return { names: (ops?.members ?? []).map((m) => m.name).filter((n) => n !== 'IORING_OP_LAST'), release: spec.provenance.release };
}

/** Where the source checks `probe.supports('OP')`, and the comment it gives there. */
export interface Guard {
  /** The method or function holding the check (`AsyncIoUring.pipe`). */
  where: string;
  /** The comment leading the statement that holds the check ('' if none). */
  comment: string;
}

/** One public API entry and what it reaches. */
export interface ApiUse {
  api: string;
  builders: Set<string>;
  /** Opcodes (without IORING_OP_) checked with `.supports('X')` on the way. */
  guarded: Map<string, Guard>;
}

type Reach = { builders: Set<string>; guarded: Map<string, Guard> };

/** `Class.method` or `function` for a function-like declaration. */
function nameOf(fn: ts.Node): string {
  const own = (fn as ts.FunctionLikeDeclaration).name;
  const name = own !== undefined && (ts.isIdentifier(own) || ts.isPrivateIdentifier(own)) ? own.text : '(anonymous)';
  const cls = fn.parent;
  return cls !== undefined && ts.isClassLike(cls) && cls.name !== undefined ? `${cls.name.text}.${name}` : name;
}

/** The `//` or `/* *\/` comment leading the statement that holds `node`, as one line. */
function leadingComment(node: ts.Node): string {
  const file = node.getSourceFile();
  for (let n: ts.Node | undefined = node; n !== undefined && !ts.isFunctionLike(n); n = n.parent) {
    if (!ts.isStatement(n)) continue;
    const ranges = ts.getLeadingCommentRanges(file.text, n.getFullStart()) ?? [];
    const text = ranges
      .map((r) => file.text.slice(r.pos, r.end).replace(/^\/\/\s?|^\/\*+\s?|\s*\*+\/$/g, '').replace(/\n\s*(\/\/|\*)\s?/g, ' '))
      .join(' ')
      .trim();
    if (text !== '') return text;
  }
  return '';
}

type Fn = ts.FunctionLikeDeclaration & { body?: ts.Node };

/** Public: not private, protected, `#x` or `@internal`. */
function isPublic(m: ts.ClassElement): boolean {
  const mods = ts.getCombinedModifierFlags(m as ts.Declaration);
  if ((mods & (ts.ModifierFlags.Private | ts.ModifierFlags.Protected)) !== 0) return false;
  if (m.name !== undefined && ts.isPrivateIdentifier(m.name)) return false;
  return !ts.getJSDocTags(m).some((t) => t.tagName.text === 'internal');
}

/** The public methods and functions exported from src/index.ts, and the builders each reaches. */
export function analyseApi(ops: Map<string, OpEntry>): ApiUse[] {
  const program = ts.createProgram([join(REPO, 'src/index.ts')], {
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    strict: true,
    noEmit: true,
    skipLibCheck: true,
    types: ['node'],
  });
  const checker = program.getTypeChecker();
  const index = program.getSourceFile(join(REPO, 'src/index.ts'))!;
  const generatedOps = join(REPO, 'generated/ops.ts');
  const srcDir = join(REPO, 'src') + '/';
  // Infrastructure every op goes through (the ring, syscalls, encoders): not followed, so a
  // builder used there (a probe's test read, a cancel) is not charged to every method.
  const notFollowed = ['ring/', 'sys/', 'abi/', 'loop/'].map((d) => srcDir + d);

  const resolveSymbol = (node: ts.Node): ts.Symbol | undefined => {
    let s = checker.getSymbolAtLocation(node);
    if (s !== undefined && (s.flags & ts.SymbolFlags.Alias) !== 0) s = checker.getAliasedSymbol(s);
    return s;
  };
  const followable = (d: ts.Declaration): boolean => {
    const f = d.getSourceFile().fileName;
    return f.startsWith(srcDir) && !notFollowed.some((p) => f.startsWith(p));
  };
  const bodiesOf = (s: ts.Symbol): Fn[] =>
    (s.declarations ?? []).filter((d): d is Fn => ts.isFunctionLike(d) && (d as Fn).body !== undefined && followable(d));

  const memo = new Map<ts.Node, Reach>();
  const walk = (fn: ts.Node): Reach => {
    const known = memo.get(fn);
    if (known !== undefined) return known;
    const acc: Reach = { builders: new Set<string>(), guarded: new Map<string, Guard>() };
    memo.set(fn, acc); // cycles: a partial answer, completed by the outer walk
    const merge = (other: Reach): void => {
      for (const b of other.builders) acc.builders.add(b);
      for (const [op, g] of other.guarded) if (!acc.guarded.has(op)) acc.guarded.set(op, g);
    };
    const visit = (node: ts.Node): void => {
      if (ts.isIdentifier(node) || ts.isPrivateIdentifier(node)) {
        const s = resolveSymbol(node);
        const decl = s?.declarations?.[0];
        if (s !== undefined && decl !== undefined) {
          if (decl.getSourceFile().fileName === generatedOps && ops.has(s.name)) acc.builders.add(s.name);
          else for (const body of bodiesOf(s)) if (body !== fn) merge(walk(body));
        }
      }
      if (ts.isNewExpression(node)) {
        // A class the method creates: its constructor and its non-public members (a multishot
        // op's fill); its public methods are entries of their own.
        const s = resolveSymbol(node.expression);
        for (const d of s?.declarations ?? []) {
          if (!ts.isClassDeclaration(d) || !followable(d)) continue;
          for (const m of d.members) if ((m as Fn).body !== undefined && (ts.isConstructorDeclaration(m) || !isPublic(m))) merge(walk(m));
        }
      }
      if (ts.isCallExpression(node) && ts.isPropertyAccessExpression(node.expression) && node.expression.name.text === 'supports') {
        const arg = node.arguments[0];
        const op = arg !== undefined && ts.isStringLiteralLike(arg) ? arg.text.replace(/^IORING_OP_/, '') : undefined;
        if (op !== undefined && !acc.guarded.has(op)) acc.guarded.set(op, { where: nameOf(fn), comment: leadingComment(node) });
      }
      ts.forEachChild(node, visit);
    };
    const body = (fn as Fn).body;
    if (body !== undefined) visit(body);
    return acc;
  };

  const out: ApiUse[] = [];
  const moduleSymbol = checker.getSymbolAtLocation(index)!;
  for (const exp of checker.getExportsOfModule(moduleSymbol)) {
    const s = (exp.flags & ts.SymbolFlags.Alias) !== 0 ? checker.getAliasedSymbol(exp) : exp;
    const decl = s.declarations?.find((d) => d.getSourceFile().fileName.startsWith(srcDir));
    if (decl === undefined) continue;
    if (ts.isClassDeclaration(decl)) {
      for (const m of decl.members) {
        if (!isPublic(m) || (m as Fn).body === undefined || m.name === undefined || !ts.isIdentifier(m.name)) continue;
        if (!ts.isMethodDeclaration(m)) continue;
        const r = walk(m);
        out.push({ api: `${exp.name}.${m.name.text}`, builders: new Set(r.builders), guarded: new Map(r.guarded) });
      }
    } else if (ts.isFunctionDeclaration(decl)) {
      const impl = s.declarations!.find((d): d is ts.FunctionDeclaration => ts.isFunctionDeclaration(d) && d.body !== undefined);
      if (impl === undefined) continue;
      const r = walk(impl);
      out.push({ api: exp.name, builders: new Set(r.builders), guarded: new Map(r.guarded) });
    }
  }
  return out.sort((a, b) => a.api.localeCompare(b.api));
}

const opName = (opcode: string): string => opcode.replace(/^IORING_OP_/, '');

/** docs/kernels.md and the README section. */
export function render(): { doc: string; readme: string } {
  const ops = loadOps();
  const header = headerOpcodes();
  const api = analyseApi(ops);
  const builders = [...ops.values()];
  const newer = builders.filter((b) => compareVersions(b.minKernel, OLDEST) > 0);
  const byKernel = new Map<string, OpEntry[]>();
  for (const b of builders) byKernel.set(b.minKernel, [...(byKernel.get(b.minKernel) ?? []), b]);
  const kernels = [...byKernel.keys()].sort(compareVersions);
  const covered = new Set(builders.map((b) => b.opcode));
  const opcodeSince = new Map<string, string>();
  for (const b of builders) {
    const had = opcodeSince.get(b.opcode);
    if (had === undefined || compareVersions(b.minKernel, had) < 0) opcodeSince.set(b.opcode, b.minKernel);
  }
  const noBuilder = header.names.filter((n) => !covered.has(n));
  const supportedLine = SUPPORTED.map((k) => (k.release === 'current' ? 'current' : `**${k.release}**`)).join(', ');

  // Public methods and helpers that reach a builder newer than the oldest supported kernel.
  const rows: string[] = [];
  const onOldest: string[] = [];
  for (const u of api) {
    const needs = [...u.builders].map((b) => ops.get(b)!).filter((b) => compareVersions(b.minKernel, OLDEST) > 0);
    if (u.builders.size === 0) continue;
    if (needs.length === 0) {
      onOldest.push(u.api);
      continue;
    }
    const perOp = new Map<string, OpEntry[]>();
    for (const b of needs) perOp.set(b.opcode, [...(perOp.get(b.opcode) ?? []), b]);
    for (const [opcode, bs] of [...perOp].sort(([, a], [, b]) => compareVersions(a[0]!.minKernel, b[0]!.minKernel))) {
      const since = bs.map((b) => b.minKernel).sort(compareVersions)[0]!;
      const name = opName(opcode);
      const guard = u.guarded.get(name);
      const opSince = opcodeSince.get(opcode)!;
      // The probe knows opcodes, not what an opcode's fields mean: a newer use of an opcode
      // the kernel has cannot be checked beforehand.
      const decision =
        compareVersions(opSince, OLDEST) <= 0
          ? `the kernel refuses this use of \`${opcode}\` (which it has since ${opSince}; the probe cannot tell): an \`IoUringError\``
          : guard !== undefined
            ? `checks the probe first${guard.where === u.api ? '' : ` (in \`${guard.where}\`)`}: ${guard.comment === '' ? 'see the source' : guard.comment.replaceAll('|', '\\|')}`
            : `\`UnsupportedOpError\` naming Linux ${since} (the probe lacks \`${opcode}\`)`;
      rows.push(`| \`${u.api}\` | \`${opcode}\` (${bs.map((b) => `\`${b.builder}\``).join(', ')}) | ${since} | ${decision} |`);
    }
  }

  const doc = [
    '<!-- Generated by `npm run docs:kernels` from spec/ops.json, spec/io_uring.json and the source. Do not edit. -->',
    '# Kernels',
    '',
    `tsuring supports and tests ${supportedLine}:`,
    '',
    ...SUPPORTED.map((k) => `- **${k.release}**: ${k.what}`),
    '',
    '`npm test` runs the suite on the machine\'s own kernel; `npm run test:kernels` boots Debian\'s 6.1 and',
    '6.12 kernels in qemu and runs there every test file whose answer can depend on the kernel',
    '(`test/host-only.txt` names the others, each with its reason). With `-s auto` it runs all those files',
    'where the machine has hardware KVM; under software emulation, where the whole suite takes over an hour',
    'per kernel, the files of `test/kernels-ci.txt` (those whose expectations depend on the kernel: probes,',
    'fallbacks, refusals) and `test/vm-only/`. CI runs `npm test`, then `npm run test:kernels -- -s auto`.',
    'A test that needs a newer kernel than the running one probes for it and skips, printing why.',
    '',
    'No feature is decided from the version number at run time: the ring asks the kernel (`IORING_REGISTER_PROBE`),',
    'and a builder whose opcode the kernel lacks throws `UnsupportedOpError` naming the kernel it needs,',
    'before anything is submitted. The versions below are the first release with each operation, from',
    '`spec/ops.json`. The version number only decides the workaround for a kernel bug (below).',
    '',
    '## Kernel bugs worked around',
    '',
    '| bug | kernels | what tsuring does |',
    '|---|---|---|',
    `| A ring's registered eventfd stops hearing *deferred* signals after its first one: \`io_eventfd_do_signal()\` never clears \`IO_EVENTFD_OP_SIGNAL_BIT\`. The kernel defers a signal from inside another eventfd's wake-up, and on Debian's 6.12 also from softirq (a socket's data arriving over loopback). On a \`DEFER_TASKRUN\` ring the eventfd is the only notice of waiting completion work, so the op never completes. | since 6.11 (lost on 6.12 and 6.18, heard on 6.1; \`test/async/eventfd-rearm.test.ts\` checks the running kernel) | \`AsyncIoUring\` re-registers its eventfd after each wake-up, before reaping, from ${EVENTFD_REARM_SINCE.join('.')} on (\`src/register/eventfd-rearm.ts\`; about 1.3 µs per wake-up). A ring whose restrictions refuse that reaps every 10 ms and warns once (\`TSURING_EVENTFD_SWEEP\`). Raw rings: \`RingEventfd#rearm()\`, where \`eventfdRearmNeeded()\` says so. |`,
    '',
    `## Promise API and helpers that need more than Linux ${OLDEST}`,
    '',
    'Each row is a public method or helper and an operation newer than ' + OLDEST + ' that it can use. Where the',
    'source checks the probe first (`probe.supports(...)`), it falls back to plain system calls on an older',
    'kernel; otherwise the call refuses with `UnsupportedOpError`.',
    '',
    '| API | operation (builders) | since | on an older kernel |',
    '|---|---|---|---|',
    ...rows,
    '',
    `Everything else in the Promise API, the helpers and the register classes uses only operations Linux ${OLDEST} has (${onOldest.length} methods and functions).`,
    '',
    '## Builders by first kernel',
    '',
    `| first kernel | on ${SUPPORTED.filter((k) => k.release !== 'current').map((k) => k.release).join(' / ')} | builders |`,
    '|---|---|---|',
    ...kernels.map((k) => {
      const on = SUPPORTED.filter((s) => s.release !== 'current').map((s) => (compareVersions(k, s.release) <= 0 ? 'yes' : 'no')).join(' / ');
      return `| ${k} | ${on} | ${byKernel.get(k)!.map((b) => `\`${b.builder}\``).join(', ')} |`;
    }),
    '',
    `${builders.length} builders over ${covered.size} opcodes; ${newer.length} of them need a kernel newer than ${OLDEST}.`,
    noBuilder.length === 0
      ? `Every opcode of the header the spec was made from (Linux ${header.release}) has a builder.`
      : `Opcodes of the header (Linux ${header.release}) with no builder yet (use \`prepRaw\`): ${noBuilder.map((n) => `\`${n}\``).join(', ')}.`,
    '',
  ].join('\n');

  const readme = [
    '<!-- kernels:start (generated by `npm run docs:kernels`; do not edit) -->',
    `Supported and tested kernels: ${supportedLine} (CI runs the suite on all three; see [Kernels](docs/kernels.md)).`,
    `Of ${builders.length} builders, ${builders.length - newer.length} work on ${OLDEST}; the others need:`,
    '',
    ...kernels
      .filter((k) => compareVersions(k, OLDEST) > 0)
      .map((k) => `- **${k}**: ${byKernel.get(k)!.map((b) => `\`${b.builder}\``).join(', ')}`),
    '',
    `Promise-API methods and helpers that use one of those either fall back to plain system calls or refuse with`,
    '`UnsupportedOpError`, per operation: the table is in [Kernels](docs/kernels.md).',
    '<!-- kernels:end -->',
  ].join('\n');
  return { doc, readme };
}

const START = /<!-- kernels:start[^]*?<!-- kernels:end -->/;

/** The README with its kernel section replaced (or null when the markers are missing). */
export function spliceReadme(readme: string, section: string): string | null {
  return START.test(readme) ? readme.replace(START, () => section) : null;
}

function main(): void {
  const check = process.argv.includes('--check');
  const { doc, readme } = render();
  const docPath = join(REPO, 'docs/kernels.md');
  const readmePath = join(REPO, 'README.md');
  const oldReadme = readFileSync(readmePath, 'utf8');
  const newReadme = spliceReadme(oldReadme, readme);
  if (newReadme === null) {
    console.error(`README.md has no <!-- kernels:start --> ... <!-- kernels:end --> section`);
    process.exit(1);
  }
  let oldDoc = '';
  try {
    oldDoc = readFileSync(docPath, 'utf8');
  } catch {
    /* not there yet */
  }
  const stale = [oldDoc !== doc ? relative(REPO, docPath) : '', oldReadme !== newReadme ? 'README.md' : ''].filter((s) => s !== '');
  if (check) {
    if (stale.length > 0) {
      console.error(`stale: ${stale.join(', ')} (run npm run docs:kernels)`);
      process.exit(1);
    }
    return;
  }
  writeFileSync(docPath, doc);
  writeFileSync(readmePath, newReadme);
  console.log(stale.length > 0 ? `wrote ${stale.join(', ')}` : 'up to date');
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) main();
