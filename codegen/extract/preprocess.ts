/**
 * The preprocessor subset the io_uring UAPI headers need: conditionals (`#if`, `#ifdef`,
 * `#ifndef`, `#elif`, `#else`, `#endif`) with include guards, `#include` of the other
 * io_uring headers, object-like `#define` and `#undef`. Everything else (function-like macros,
 * `#pragma`, `#error`, a `#define` whose body is not a number) is an ExtractError naming the
 * line, because it could change what the compiler sees in ways this code would not model.
 *
 * Deliberate differences from a full C preprocessor, all of them refusals, never guesses:
 * - An identifier left in an `#if` expression after macro expansion is an error (C would
 *   read it as 0): the macro may well be defined in a header we do not read.
 * - `#ifdef NAME`, `#ifndef NAME`, `defined(NAME)` and `#if NAME` of a name the io_uring
 *   headers have not defined is an error unless abi.ts lists it (with its value on the target
 *   ABI: `__x86_64__`, `__cplusplus`, RWF_* from linux/fs.h, ...), or it is the include-guard
 *   pattern (`#ifndef X` directly followed by `#define X`). C would read an unknown name as
 *   undefined, which is wrong when a header the compiler reads and we do not defines it.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Abi } from '../spec/types.js';
import { ABIS, KNOWN_CONDITION_NAMES } from './abi.js';
import { ExtractError } from './errors.js';
import { evaluate } from './evaluate.js';
import { lex, type Comment, type Token } from './lexer.js';

/** An object-like (or, in version.h only, function-like) macro. */
export interface MacroDef {
  name: string;
  nameToken: Token;
  body: Token[];
  /** The replacement list as written: comments removed, white space folded. */
  bodyText: string;
  /** An empty `#define` directly after `#ifndef` of the same name: an include guard, not a constant. */
  guard: boolean;
  functionLike: boolean;
  /** How many declaration tokens preceded this #define (orders it against enums). */
  streamIndex: number;
}

/** A directive in an active region, for attaching comments to what follows them. */
export interface DirectiveInfo {
  kind: string;
  line: number;
  endLine: number;
  /** For `#define`: the macro. */
  macro?: MacroDef;
}

/** A header as read: its text, hash, tokens and comments. */
export interface SourceFile {
  /** Path as given to the file system (used in error messages). */
  path: string;
  /** Path as the spec names it: `linux/io_uring.h`. */
  header: string;
  sha256: string;
  lines: number;
  tokens: Token[];
  comments: Comment[];
  directives: DirectiveInfo[];
}

const MAX_INCLUDE_DEPTH = 32;

interface Conditional {
  opener: Token;
  parentActive: boolean;
  active: boolean;
  taken: boolean;
  elseSeen: boolean;
}

/** Options for one header file. */
export interface IncludeOptions {
  /** version.h defines KERNEL_VERSION(a,b,c); elsewhere a function-like macro is an error. */
  allowFunctionLikeMacros?: boolean;
  /** version.h is read for its macros only; declarations there are an error. */
  directivesOnly?: boolean;
}

/** True for the headers the extractor reads as io_uring headers (and follows includes of). */
export function isIoUringHeader(header: string): boolean {
  return header === 'linux/io_uring.h' || /^linux\/io_uring\/[A-Za-z0-9_.-]+\.h$/.test(header);
}

/** Reads a file and records its hash and line count. */
export function readSource(headerDir: string, header: string): { path: string; text: string; sha256: string; lines: number } {
  const path = join(headerDir, header);
  const text = readFileSync(path, 'utf8');
  const sha256 = createHash('sha256').update(readFileSync(path)).digest('hex');
  const lines = text.length === 0 ? 0 : text.split('\n').length - (text.endsWith('\n') ? 1 : 0);
  return { path, text, sha256, lines };
}

/** Joins tokens back into text: one space wherever the source had white space or a comment. */
export function tokensToText(tokens: readonly Token[]): string {
  return tokens.map((t, i) => (i > 0 && t.spaceBefore ? ` ${t.text}` : t.text)).join('');
}

/**
 * Runs the preprocessor over one or more headers as one translation unit, collecting the
 * active declaration tokens (macros expanded) in `output`.
 */
export class Preprocessor {
  /** Macros currently defined. */
  readonly macros = new Map<string, MacroDef>();
  /** Every `#define` met in an io_uring header, in order (including guards and later #undef'd ones). */
  readonly defines: MacroDef[] = [];
  /** Active tokens outside directives, macros expanded. */
  readonly output: Token[] = [];
  /** Every file read, in the order it was first opened. */
  readonly files: SourceFile[] = [];

  private readonly conditionals: Conditional[] = [];
  private readonly including: string[] = [];
  /** Every name a `#define` in an active region ever defined (a later #undef keeps it known). */
  private readonly everDefined = new Set<string>();

  /** @param abi the target ABI: what the names of abi.ts's KNOWN_CONDITION_NAMES are there */
  constructor(readonly headerDir: string, readonly abi: Abi = ABIS[0]!) {}

  /** True when the header was already read (include guards or not). */
  hasRead(header: string): boolean {
    return this.files.some((f) => f.header === header);
  }

  /**
   * Processes `headerDir/header` at this point of the translation unit.
   * @throws ExtractError for anything outside the supported subset
   */
  include(header: string, options: IncludeOptions = {}, from?: Token): void {
    // Re-including a header is fine when its guard stops the second pass; only a cycle without one nests forever.
    if (this.including.length >= MAX_INCLUDE_DEPTH) {
      throw new ExtractError(from ?? { file: join(this.headerDir, header), line: 1, col: 1 }, `#include nested ${MAX_INCLUDE_DEPTH} deep (a cycle without include guards?): ${this.including.join(' -> ')}`);
    }
    if (!existsSync(join(this.headerDir, header))) {
      throw new ExtractError(from ?? { file: join(this.headerDir, header), line: 1, col: 1 }, `cannot find ${header} in ${this.headerDir}`);
    }
    const src = readSource(this.headerDir, header);
    const { tokens, comments } = lex(src.text, src.path, header);
    let file = this.files.find((f) => f.header === header);
    if (!file) {
      file = { path: src.path, header, sha256: src.sha256, lines: src.lines, tokens, comments, directives: [] };
      this.files.push(file);
    }
    this.including.push(header);
    const depth = this.conditionals.length;
    this.run(file, tokens, options);
    if (this.conditionals.length > depth) {
      throw new ExtractError(this.conditionals[this.conditionals.length - 1]!.opener, `unterminated #${this.conditionals[this.conditionals.length - 1]!.opener.text}: no matching #endif before the end of ${header}`);
    }
    this.including.pop();
  }

  private get active(): boolean {
    const top = this.conditionals[this.conditionals.length - 1];
    return top === undefined || top.active;
  }

  private run(file: SourceFile, tokens: Token[], options: IncludeOptions): void {
    let previousDirective: { kind: string; name?: string; tokensSince: number } | undefined;
    let i = 0;
    while (i < tokens.length) {
      const tok = tokens[i]!;
      if (tok.bol && tok.kind === 'punct' && tok.text === '#') {
        let j = i + 1;
        while (j < tokens.length && !tokens[j]!.bol) j++;
        const line = tokens.slice(i, j);
        const info = this.directive(file, line, options, previousDirective, nextDirective(tokens, j));
        if (info) previousDirective = { kind: info.kind, ...(info.name === undefined ? {} : { name: info.name }), tokensSince: 0 };
        i = j;
        continue;
      }
      if (this.active) {
        if (options.directivesOnly) throw new ExtractError(tok, `unexpected '${tok.text}': ${file.header} is read for its macros only`);
        if (previousDirective) previousDirective.tokensSince++;
        this.output.push(...this.expand([tok], new Set()));
      }
      i++;
    }
  }

  /** Expands object-like macros in `tokens`; expanded tokens remember the source token they came from. */
  expand(tokens: readonly Token[], hidden: ReadonlySet<string>, origin?: Token): Token[] {
    const out: Token[] = [];
    for (const t of tokens) {
      const macro = t.kind === 'ident' && !hidden.has(t.text) ? this.macros.get(t.text) : undefined;
      if (macro === undefined) {
        out.push(origin ? { ...t, origin } : t);
        continue;
      }
      if (macro.functionLike) throw new ExtractError(t, `use of function-like macro ${macro.name} is not supported`);
      out.push(...this.expand(macro.body, new Set([...hidden, macro.name]), origin ?? t));
    }
    return out;
  }

  private directive(
    file: SourceFile,
    line: Token[],
    options: IncludeOptions,
    previous: { kind: string; name?: string; tokensSince: number } | undefined,
    next: { kind: string; name?: string } | undefined,
  ): { kind: string; name?: string } | undefined {
    const hash = line[0]!;
    const nameTok = line[1];
    if (nameTok === undefined) return undefined; // the null directive
    const kind = nameTok.text;
    const args = line.slice(2);
    const endLine = line[line.length - 1]!.endLine;
    const conditional = (cond: () => boolean): void => {
      const parentActive = this.active;
      const value = parentActive ? cond() : false;
      this.conditionals.push({ opener: nameTok, parentActive, active: parentActive && value, taken: value, elseSeen: false });
    };
    const singleName = (): Token => {
      const name = args[0];
      if (name === undefined || name.kind !== 'ident') throw new ExtractError(name ?? nameTok, `#${kind} needs a macro name`);
      if (args.length > 1) throw new ExtractError(args[1]!, `unexpected '${args[1]!.text}' after #${kind} ${name.text}`);
      return name;
    };
    switch (kind) {
      case 'ifdef': {
        const name = singleName();
        conditional(() => this.isDefined(name, `#ifdef ${name.text}`));
        return { kind, name: name.text };
      }
      case 'ifndef': {
        const name = singleName();
        // `#ifndef X` right before `#define X`: an include guard (or a default), X is the headers' own.
        const guard = next?.kind === 'define' && next.name === name.text;
        conditional(() => (guard ? !this.macros.has(name.text) : !this.isDefined(name, `#ifndef ${name.text}`)));
        return { kind, name: name.text };
      }
      case 'if':
        conditional(() => this.condition(nameTok, args));
        return { kind };
      case 'elif':
      case 'else': {
        const top = this.conditionals[this.conditionals.length - 1];
        if (top === undefined) throw new ExtractError(nameTok, `#${kind} without #if`);
        if (top.elseSeen) throw new ExtractError(nameTok, `#${kind} after #else`);
        if (kind === 'else') {
          if (args.length > 0) throw new ExtractError(args[0]!, `unexpected '${args[0]!.text}' after #else`);
          top.elseSeen = true;
          top.active = top.parentActive && !top.taken;
          top.taken = true;
        } else if (top.taken || !top.parentActive) {
          top.active = false;
        } else {
          const value = this.condition(nameTok, args);
          top.active = value;
          top.taken = value;
        }
        return { kind };
      }
      case 'endif':
        if (this.conditionals.pop() === undefined) throw new ExtractError(nameTok, '#endif without #if');
        return { kind };
      default:
        break;
    }
    if (!this.active) return undefined; // C ignores other directives in skipped groups
    switch (kind) {
      case 'define': {
        const macro = this.define(file, args, nameTok, options, previous);
        file.directives.push({ kind, line: hash.line, endLine, macro });
        return { kind, name: macro.name };
      }
      case 'undef': {
        const name = singleName();
        this.macros.delete(name.text);
        file.directives.push({ kind, line: hash.line, endLine });
        return { kind, name: name.text };
      }
      case 'include': {
        file.directives.push({ kind, line: hash.line, endLine });
        const target = args[0];
        if (target === undefined || (target.kind !== 'header' && target.kind !== 'string') || args.length > 1) {
          throw new ExtractError(target ?? nameTok, '#include needs exactly one <header> or "header"');
        }
        const header = target.text.slice(1, -1);
        // Other headers (linux/types.h, linux/time_types.h) only supply types, which come from known-types.ts.
        if (isIoUringHeader(header)) this.include(header, {}, target);
        return { kind };
      }
      default:
        throw new ExtractError(nameTok, `unsupported preprocessor directive #${kind}`);
    }
  }

  private define(
    file: SourceFile,
    args: Token[],
    directiveTok: Token,
    options: IncludeOptions,
    previous: { kind: string; name?: string; tokensSince: number } | undefined,
  ): MacroDef {
    const nameTok = args[0];
    if (nameTok === undefined || nameTok.kind !== 'ident') throw new ExtractError(nameTok ?? directiveTok, '#define needs a macro name');
    const body = args.slice(1);
    const functionLike = body[0]?.text === '(' && !body[0].spaceBefore;
    if (functionLike && !options.allowFunctionLikeMacros) {
      throw new ExtractError(nameTok, `function-like macro ${nameTok.text}(...) is not supported in io_uring headers`);
    }
    const guard = body.length === 0 && previous?.kind === 'ifndef' && previous.name === nameTok.text && previous.tokensSince === 0;
    if (body.length === 0 && !guard) {
      throw new ExtractError(nameTok, `#define ${nameTok.text} has an empty body; only an include guard (right after #ifndef ${nameTok.text}) may`);
    }
    const macro: MacroDef = {
      name: nameTok.text, nameToken: nameTok, body, bodyText: tokensToText(body), guard, functionLike, streamIndex: this.output.length,
    };
    const existing = this.macros.get(macro.name);
    if (existing !== undefined) {
      if (existing.bodyText !== macro.bodyText || existing.functionLike !== functionLike) {
        throw new ExtractError(nameTok, `${macro.name} redefined with a different body (first defined at ${existing.nameToken.file}:${existing.nameToken.line})`);
      }
      return existing;
    }
    this.macros.set(macro.name, macro);
    this.everDefined.add(macro.name);
    if (isIoUringHeader(file.header)) this.defines.push(macro);
    return macro;
  }

  /**
   * Whether `name` is defined at this point, for a conditional: a macro of the headers read, or
   * a name abi.ts knows (with its value on the target ABI). Anything else is an error.
   */
  private isDefined(name: Token, what: string): boolean {
    if (this.macros.has(name.text) || this.everDefined.has(name.text)) return this.macros.has(name.text);
    const known = KNOWN_CONDITION_NAMES[name.text];
    if (known !== undefined) return known.value(this.abi) !== undefined;
    throw new ExtractError(
      name,
      `${what}: ${name.text} is not defined by the io_uring headers read so far and is not a name the extractor knows. ` +
        'C would take it from a header the extractor does not read (or read it as undefined), and either can change the layout or a value; ' +
        `add it to KNOWN_CONDITION_NAMES in codegen/extract/abi.ts with its value on each ABI (${ABIS.map((a) => a.arch).join(', ')})`,
    );
  }

  private condition(directive: Token, args: Token[]): boolean {
    const replaced: Token[] = [];
    for (let k = 0; k < args.length; k++) {
      const t = args[k]!;
      if (t.kind === 'ident' && t.text === 'defined') {
        const paren = args[k + 1]?.text === '(';
        const name = args[k + (paren ? 2 : 1)];
        if (name === undefined || name.kind !== 'ident') throw new ExtractError(name ?? t, "'defined' needs a macro name");
        if (paren && args[k + 3]?.text !== ')') throw new ExtractError(args[k + 3] ?? name, "expected ')' after defined(NAME");
        replaced.push({ ...t, kind: 'number', text: this.isDefined(name, `defined(${name.text})`) ? '1' : '0' });
        k += paren ? 3 : 1;
        continue;
      }
      replaced.push(t);
    }
    // A name abi.ts knows stands for its value on the target ABI (0 where undefined, as in C).
    const expanded = this.expand(replaced, new Set()).map((t) => {
      const known = t.kind === 'ident' && !this.everDefined.has(t.text) ? KNOWN_CONDITION_NAMES[t.text] : undefined;
      return known === undefined ? t : { ...t, kind: 'number' as const, text: String(known.value(this.abi) ?? 0) };
    });
    const result = evaluate(expanded, {
      identifier: () => undefined,
    }, directive);
    return result.value !== 0n;
  }
}

/** The directive that follows position `from` in a file's tokens (its kind and first argument), if any. */
function nextDirective(tokens: readonly Token[], from: number): { kind: string; name?: string } | undefined {
  for (let k = from; k < tokens.length; k++) {
    const t = tokens[k]!;
    if (!(t.bol && t.kind === 'punct' && t.text === '#')) continue;
    const kind = tokens[k + 1];
    if (kind === undefined || kind.bol) return undefined;
    const arg = tokens[k + 2];
    return { kind: kind.text, ...(arg !== undefined && !arg.bol && arg.kind === 'ident' ? { name: arg.text } : {}) };
  }
  return undefined;
}
