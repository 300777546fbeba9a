/**
 * Tokenizer for the C subset the io_uring UAPI headers are written in. Keeps every token's
 * line and column (for error messages and for attaching comments as docs) and hands the
 * comments back separately instead of dropping them.
 */
import { ExtractError, type SourcePosition } from './errors.js';

export type TokenKind = 'ident' | 'number' | 'punct' | 'string' | 'char' | 'header';

/** One preprocessing token. `line`/`col` are 1-based; `col` counts characters (a tab is one). */
export interface Token extends SourcePosition {
  kind: TokenKind;
  text: string;
  /** The header's path as the spec names it, e.g. `linux/io_uring.h`. */
  header: string;
  /** First token of a logical line (a `#` here starts a directive). */
  bol: boolean;
  /** White space or a comment separates this token from the previous one. */
  spaceBefore: boolean;
  endLine: number;
  endCol: number;
  /** For tokens produced by macro expansion: the macro name token in the source that produced it. */
  origin?: Token;
}

/** A comment, with what surrounds it on its first and last line. */
export interface Comment extends SourcePosition {
  header: string;
  endLine: number;
  endCol: number;
  /** The text between the delimiters, untouched. */
  body: string;
  block: boolean;
  /** Some token precedes the comment on its first line (a trailing comment). */
  codeBefore: boolean;
  /** Some token follows the comment on its last line. */
  codeAfter: boolean;
}

export interface LexResult {
  tokens: Token[];
  comments: Comment[];
}

// Longest first, so `<<=` wins over `<<` and `<`.
const PUNCTUATORS = [
  '%:%:', '...', '<<=', '>>=',
  '->', '++', '--', '<<', '>>', '<=', '>=', '==', '!=', '&&', '||', '*=', '/=', '%=', '+=', '-=', '&=', '^=', '|=', '##',
  '[', ']', '(', ')', '{', '}', '.', '&', '*', '+', '-', '~', '!', '/', '%', '<', '>', '^', '|', '?', ':', ';', '=', ',', '#',
];

const isIdentStart = (c: string): boolean => /[A-Za-z_]/.test(c);
const isIdentChar = (c: string): boolean => /[A-Za-z0-9_]/.test(c);
const isDigit = (c: string): boolean => c >= '0' && c <= '9';

/**
 * Splits a header into tokens and comments.
 * @param source the file's text
 * @param file the path shown in error messages
 * @param header the path as the spec records it (`linux/io_uring.h`)
 * @throws ExtractError for an unterminated comment or literal, or a character C does not allow here
 */
export function lex(source: string, file: string, header: string): LexResult {
  const tokens: Token[] = [];
  const comments: Comment[] = [];
  let i = 0;
  let line = 1;
  let col = 1;
  let atLineStart = true;
  let spaceBefore = false;

  const here = (): SourcePosition => ({ file, line, col });
  const advance = (n: number): void => {
    for (let k = 0; k < n; k++) {
      if (source[i] === '\n') {
        line++;
        col = 1;
      } else {
        col++;
      }
      i++;
    }
  };
  const push = (kind: TokenKind, text: string, start: SourcePosition): void => {
    tokens.push({
      kind, text, file, header, line: start.line, col: start.col,
      bol: atLineStart, spaceBefore, endLine: line, endCol: col - 1,
    });
    atLineStart = false;
    spaceBefore = false;
  };
  // `#include <x>`: the angle brackets delimit one header-name token, not two operators.
  const expectsHeaderName = (): boolean => {
    const n = tokens.length;
    const hash = tokens[n - 2];
    const inc = tokens[n - 1];
    return hash !== undefined && inc !== undefined && hash.bol && hash.text === '#' && inc.text === 'include' && !inc.bol;
  };

  while (i < source.length) {
    const c = source[i]!;
    const next = source[i + 1];
    if (c === '\n') {
      advance(1);
      atLineStart = true;
      spaceBefore = true;
      continue;
    }
    if (c === ' ' || c === '\t' || c === '\r' || c === '\f' || c === '\v') {
      advance(1);
      spaceBefore = true;
      continue;
    }
    if (c === '\\' && (next === '\n' || (next === '\r' && source[i + 2] === '\n'))) {
      // A line splice keeps the logical line going: directives continue on the next line.
      advance(next === '\n' ? 2 : 3);
      spaceBefore = true;
      continue;
    }
    if (c === '/' && (next === '*' || next === '/')) {
      const start = here();
      const block = next === '*';
      let end: number;
      if (block) {
        end = source.indexOf('*/', i + 2);
        if (end < 0) throw new ExtractError(start, 'unterminated comment: /* without a closing */');
      } else {
        end = source.indexOf('\n', i);
        if (end < 0) end = source.length;
      }
      const body = source.slice(i + 2, end);
      advance(end - i + (block ? 2 : 0));
      const prev = tokens[tokens.length - 1];
      comments.push({
        file, header, line: start.line, col: start.col, endLine: line, endCol: col - 1, body, block,
        codeBefore: prev !== undefined && prev.endLine === start.line,
        codeAfter: false,
      });
      spaceBefore = true;
      continue;
    }
    const start = here();
    if (c === '<' && expectsHeaderName()) {
      const end = source.indexOf('>', i);
      const nl = source.indexOf('\n', i);
      if (end < 0 || (nl >= 0 && nl < end)) throw new ExtractError(start, 'unterminated header name in #include');
      const text = source.slice(i, end + 1);
      advance(end + 1 - i);
      push('header', text, start);
      continue;
    }
    if (isIdentStart(c)) {
      let j = i + 1;
      while (j < source.length && isIdentChar(source[j]!)) j++;
      const text = source.slice(i, j);
      advance(j - i);
      push('ident', text, start);
      continue;
    }
    if (isDigit(c) || (c === '.' && next !== undefined && isDigit(next))) {
      // A pp-number: digits, letters, dots, and an exponent sign; the evaluator decides what it means.
      let j = i + 1;
      while (j < source.length) {
        const d = source[j]!;
        if ((d === '+' || d === '-') && /[eEpP]/.test(source[j - 1]!)) j++;
        else if (isIdentChar(d) || d === '.') j++;
        else break;
      }
      const text = source.slice(i, j);
      advance(j - i);
      push('number', text, start);
      continue;
    }
    if (c === '"' || c === "'") {
      let j = i + 1;
      while (j < source.length && source[j] !== c && source[j] !== '\n') j += source[j] === '\\' ? 2 : 1;
      if (j >= source.length || source[j] !== c) {
        throw new ExtractError(start, `unterminated ${c === '"' ? 'string' : 'character'} literal`);
      }
      const text = source.slice(i, j + 1);
      advance(j + 1 - i);
      push(c === '"' ? 'string' : 'char', text, start);
      continue;
    }
    const punct = PUNCTUATORS.find((p) => source.startsWith(p, i));
    if (punct !== undefined) {
      advance(punct.length);
      push('punct', punct, start);
      continue;
    }
    throw new ExtractError(start, `unexpected character ${JSON.stringify(c)} (U+${c.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')})`);
  }

  markCodeAfter(tokens, comments);
  return { tokens, comments };
}

function markCodeAfter(tokens: Token[], comments: Comment[]): void {
  const firstColByLine = new Map<number, number[]>();
  for (const t of tokens) {
    const cols = firstColByLine.get(t.line);
    if (cols) cols.push(t.col);
    else firstColByLine.set(t.line, [t.col]);
  }
  for (const c of comments) {
    const cols = firstColByLine.get(c.endLine);
    c.codeAfter = cols !== undefined && cols.some((col) => col > c.endCol);
  }
}
