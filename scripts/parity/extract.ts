/**
 * Reads liburing's public header (`liburing.h`) and lists every `io_uring_*` function it
 * declares or defines: the functions exported by liburing.so, the `static inline` helpers
 * (prep helpers, CQE/SQ helpers, buffer-ring and recvmsg helpers) and the function-like
 * `io_uring_*` macros (`io_uring_for_each_cqe`).
 *
 * This is a scanner, not a C parser, and it only has to find names:
 * - comments and string literals are blanked (line numbers kept);
 * - `#ifdef __cplusplus` regions are dropped (they hold `extern "C" {` and its `}`), every
 *   other directive line is dropped with both branches kept (so a name declared on one
 *   side of `#ifndef LIBURING_INTERNAL` and defined on the other is found, once);
 * - at file scope (brace depth 0, paren depth 0), an identifier `io_uring_*` followed by
 *   `(` is a function declarator. Calls inside inline bodies sit at depth > 0 and are
 *   ignored; so are members of structs.
 * Names with a leading underscore (`__io_uring_get_cqe`, `_io_uring_get_sqe`) are liburing's
 * internals and are not listed.
 *
 * @module
 */

/** How liburing provides a function. */
export type HeaderKind = 'function' | 'inline' | 'macro';

/** One `io_uring_*` function of the header. */
export interface HeaderFunction {
  name: string;
  kind: HeaderKind;
  /** The declaration, white space folded, up to the closing parenthesis (macros: `#define name(args)`). */
  signature: string;
  /** 1-based line of the name in the header. */
  line: number;
}

/** Blanks comments, string and character literals, keeping newlines so line numbers hold. */
function blankComments(text: string): string {
  let out = '';
  let i = 0;
  const blank = (s: string): string => s.replace(/[^\n]/g, ' ');
  while (i < text.length) {
    const c = text[i]!;
    const next = text[i + 1];
    if (c === '/' && next === '*') {
      const end = text.indexOf('*/', i + 2);
      const stop = end < 0 ? text.length : end + 2;
      out += blank(text.slice(i, stop));
      i = stop;
    } else if (c === '/' && next === '/') {
      let stop = text.indexOf('\n', i);
      if (stop < 0) stop = text.length;
      out += blank(text.slice(i, stop));
      i = stop;
    } else if (c === '"' || c === "'") {
      let j = i + 1;
      while (j < text.length && text[j] !== c && text[j] !== '\n') j += text[j] === '\\' ? 2 : 1;
      out += c + blank(text.slice(i + 1, j)) + (j < text.length ? text[j] : '');
      i = j + 1;
    } else {
      out += c;
      i++;
    }
  }
  return out;
}

const DIRECTIVE = /^\s*#\s*([a-z]+)\b(.*)$/;

/** Splits off directives: returns the code lines (directives blanked) and the function-like io_uring_ macros. */
function stripDirectives(text: string): { code: string; macros: HeaderFunction[] } {
  const lines = text.split('\n');
  const macros: HeaderFunction[] = [];
  // Stack of open conditionals: whether each drops its region (only `__cplusplus` ones do).
  const stack: boolean[] = [];
  const dropping = (): boolean => stack.includes(true);
  for (let i = 0; i < lines.length; i++) {
    const m = DIRECTIVE.exec(lines[i]!);
    if (m === null) {
      if (dropping()) lines[i] = '';
      continue;
    }
    // Join continuation lines into this directive.
    let full = lines[i]!;
    let last = i;
    while (full.endsWith('\\') && last + 1 < lines.length) {
      full = full.slice(0, -1) + ' ' + lines[++last]!;
    }
    const [, word, rest] = DIRECTIVE.exec(full)!;
    if (word === 'if' || word === 'ifdef' || word === 'ifndef') stack.push(/\b__cplusplus\b/.test(rest!));
    else if (word === 'endif') stack.pop();
    else if (word === 'define' && !dropping()) {
      const d = /^\s*(io_uring_[a-z0-9_]+)\(([^)]*)\)/.exec(rest!);
      if (d !== null) macros.push({ name: d[1]!, kind: 'macro', signature: `#define ${d[1]}(${d[2]!.replace(/\s+/g, ' ').trim()})`, line: i + 1 });
    }
    for (let j = i; j <= last; j++) lines[j] = '';
    i = last;
  }
  return { code: lines.join('\n'), macros };
}

const TOKEN = /[A-Za-z_][A-Za-z0-9_]*|\d[\w.]*|\S/g;

/** Every `io_uring_*` function, inline helper and function-like macro of a liburing.h text, by name (first occurrence). */
export function extractFunctions(headerText: string): HeaderFunction[] {
  const { code, macros } = stripDirectives(blankComments(headerText));
  const found = new Map<string, HeaderFunction>();
  const lineStarts: number[] = [0];
  for (let i = 0; i < code.length; i++) if (code[i] === '\n') lineStarts.push(i + 1);
  const lineOf = (pos: number): number => {
    let lo = 0;
    let hi = lineStarts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (lineStarts[mid]! <= pos) lo = mid;
      else hi = mid - 1;
    }
    return lo + 1;
  };
  const tokens: { text: string; pos: number }[] = [];
  for (const m of code.matchAll(TOKEN)) tokens.push({ text: m[0], pos: m.index });
  let braces = 0;
  let parens = 0;
  // Start of the current file-scope declaration (after the last `;` or `}` at depth 0).
  let declStart = 0;
  for (let t = 0; t < tokens.length; t++) {
    const tok = tokens[t]!.text;
    if (tok === '{') braces++;
    else if (tok === '}') {
      braces = Math.max(0, braces - 1);
      if (braces === 0 && parens === 0) declStart = t + 1;
    } else if (tok === '(') parens++;
    else if (tok === ')') parens = Math.max(0, parens - 1);
    else if (tok === ';' && braces === 0 && parens === 0) declStart = t + 1;
    else if (braces === 0 && parens === 0 && /^io_uring_[a-z0-9_]+$/.test(tok) && tokens[t + 1]?.text === '(') {
      // The declarator's parameter list: up to the matching parenthesis.
      let depth = 0;
      let end = t + 1;
      for (; end < tokens.length; end++) {
        if (tokens[end]!.text === '(') depth++;
        else if (tokens[end]!.text === ')' && --depth === 0) break;
      }
      const prefix = tokens.slice(declStart, t).map((x) => x.text);
      const isInline = prefix.includes('inline') || prefix.includes('IOURINGINLINE') || prefix.includes('_LOCAL_INLINE');
      const signature = code.slice(tokens[declStart]!.pos, tokens[end]!.pos + 1).replace(/\s+/g, ' ').replace(/\( /g, '(').replace(/ \)/g, ')').trim();
      if (!found.has(tok)) found.set(tok, { name: tok, kind: isInline ? 'inline' : 'function', signature, line: lineOf(tokens[t]!.pos) });
    }
  }
  for (const m of macros) if (!found.has(m.name)) found.set(m.name, m);
  return [...found.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** The group a function belongs to in the table, from its name. */
export type Category = 'setup and queue' | 'SQE helpers' | 'CQE helpers' | 'prep helpers' | 'registration' | 'buffer rings' | 'recvmsg helpers' | 'probe' | 'other';

/** Orders the table's sections. */
export const CATEGORIES: readonly Category[] = ['setup and queue', 'SQE helpers', 'CQE helpers', 'prep helpers', 'registration', 'buffer rings', 'recvmsg helpers', 'probe', 'other'];

export function categoryOf(name: string): Category {
  if (name.startsWith('io_uring_prep_')) return 'prep helpers';
  if (name.startsWith('io_uring_recvmsg_')) return 'recvmsg helpers';
  if (/^io_uring_(buf_ring|setup_buf_ring|free_buf_ring|register_buf_ring|unregister_buf_ring)/.test(name)) return 'buffer rings';
  if (/^io_uring_(register|unregister)_|^io_uring_enable_rings$|^io_uring_close_ring_fd$|^io_uring_clone_buffers/.test(name)) return 'registration';
  if (/probe|^io_uring_opcode_supported$/.test(name)) return 'probe';
  if (name.startsWith('io_uring_sqe_') || /^io_uring_(get_sqe|sq_|initialize_sqe$|load_sq_head$)/.test(name)) return 'SQE helpers';
  if (/^io_uring_(cqe_|cq_|for_each_cqe|peek|wait_cqe|get_events|skip_cqe)/.test(name)) return 'CQE helpers';
  if (/^io_uring_(queue_|setup$|enter|register$|submit|ring_dontfork|mlock_size|resize_rings|set_iowait|memory_size|major_version|minor_version|check_version|sqring_wait)/.test(name)) return 'setup and queue';
  return 'other';
}
