/**
 * Integer constant expressions with C semantics: literal types from their suffix and base,
 * integer promotions, the usual arithmetic conversions, casts, and wrap-around to the width
 * of the result type, all with BigInt so 64-bit values stay exact. The result carries its C
 * type, which the C cross-check compares with `_Generic`.
 */
import { ExtractError, type SourcePosition } from './errors.js';
import { C_INTEGER_TYPES, INTEGER_TYPE_KEYWORDS, KNOWN_TYPEDEFS, integerTypeFromKeywords } from './known-types.js';
import type { Token } from './lexer.js';

export type IntTypeName =
  | 'char' | 'signed char' | 'unsigned char' | 'short' | 'unsigned short'
  | 'int' | 'unsigned int' | 'long' | 'unsigned long' | 'long long' | 'unsigned long long';

/** A value together with its C type. */
export interface IntValue {
  value: bigint;
  type: IntTypeName;
}

/** What an expression may refer to besides literals. */
export interface EvalContext {
  /** Value of an identifier left after macro expansion (an enum constant), or undefined if unknown. */
  identifier(name: string): IntValue | undefined;
}

const RANK: Record<IntTypeName, number> = {
  char: 1, 'signed char': 1, 'unsigned char': 1, short: 2, 'unsigned short': 2,
  int: 3, 'unsigned int': 3, long: 4, 'unsigned long': 4, 'long long': 5, 'unsigned long long': 5,
};

const UNSIGNED_OF: Partial<Record<IntTypeName, IntTypeName>> = {
  int: 'unsigned int', long: 'unsigned long', 'long long': 'unsigned long long',
};

/** Bits and signedness of an integer type on x86_64 LP64. */
export function intTypeInfo(type: IntTypeName): { bits: number; signed: boolean } {
  const info = C_INTEGER_TYPES[type];
  return { bits: info.bits, signed: info.signed };
}

/** The value `v` converted to `type` (modular, as GCC does for both signed and unsigned targets). */
export function convert(v: bigint, type: IntTypeName): bigint {
  const { bits, signed } = intTypeInfo(type);
  return signed ? BigInt.asIntN(bits, v) : BigInt.asUintN(bits, v);
}

function fits(v: bigint, type: IntTypeName): boolean {
  return convert(v, type) === v;
}

/** Integer promotion: everything narrower than int becomes int (all of it fits in int here). */
export function promote(type: IntTypeName): IntTypeName {
  return RANK[type] < RANK.int ? 'int' : type;
}

/** The common type of two operands after the usual arithmetic conversions (C17 6.3.1.8). */
export function commonType(a: IntTypeName, b: IntTypeName): IntTypeName {
  const x = promote(a);
  const y = promote(b);
  if (x === y) return x;
  const sx = intTypeInfo(x).signed;
  const sy = intTypeInfo(y).signed;
  if (sx === sy) return RANK[x] >= RANK[y] ? x : y;
  const [u, s] = sx ? [y, x] : [x, y];
  if (RANK[u] >= RANK[s]) return u;
  if (intTypeInfo(s).bits > intTypeInfo(u).bits) return s;
  return UNSIGNED_OF[s]!;
}

/**
 * Parses a C integer literal (decimal, octal, hex, GNU binary; suffixes u, l, ll in any
 * legal combination) and gives it the first type of C17 6.4.4.1's list that holds it.
 */
export function parseIntegerLiteral(tok: Token): IntValue {
  const m = /^(0[xX][0-9a-fA-F]+|0[bB][01]+|0[0-7]*|[1-9][0-9]*)([uU]?)(l|L|ll|LL)?([uU]?)$/.exec(tok.text);
  if (!m || (m[2] && m[4])) throw new ExtractError(tok, `not an integer literal: ${tok.text}`);
  const digits = m[1]!;
  const unsigned = Boolean(m[2] || m[4]);
  const longs = m[3] === undefined ? 0 : m[3].length;
  let value: bigint;
  if (/^0[bB]/.test(digits)) value = BigInt(digits);
  else if (/^0[xX]/.test(digits)) value = BigInt(digits);
  else if (digits.length > 1 && digits.startsWith('0')) value = BigInt(`0o${digits.slice(1)}`);
  else value = BigInt(digits);
  const decimal = !digits.startsWith('0') || digits === '0';
  const byLength: IntTypeName[][] = [
    ['int', 'unsigned int', 'long', 'unsigned long', 'long long', 'unsigned long long'],
    ['long', 'unsigned long', 'long long', 'unsigned long long'],
    ['long long', 'unsigned long long'],
  ];
  let candidates = byLength[longs]!;
  if (unsigned) candidates = candidates.filter((t) => !intTypeInfo(t).signed);
  else if (decimal) candidates = candidates.filter((t) => intTypeInfo(t).signed);
  const type = candidates.find((t) => fits(value, t));
  if (type === undefined) throw new ExtractError(tok, `integer literal ${tok.text} does not fit any C integer type`);
  return { value, type };
}

const BINARY_PRECEDENCE: Record<string, number> = {
  '||': 1, '&&': 2, '|': 3, '^': 4, '&': 5, '==': 6, '!=': 6,
  '<': 7, '>': 7, '<=': 7, '>=': 7, '<<': 8, '>>': 8, '+': 9, '-': 9, '*': 10, '/': 10, '%': 10,
};

/**
 * Evaluates a complete integer constant expression.
 * @param tokens the expression, macros already expanded
 * @param ctx resolves the identifiers that remain (enum constants)
 * @param at where to point when the expression is empty
 * @throws ExtractError naming the offending token
 */
export function evaluate(tokens: readonly Token[], ctx: EvalContext, at: SourcePosition): IntValue {
  if (tokens.length === 0) throw new ExtractError(at, 'expected an integer constant expression, found nothing');
  const parser = new ExpressionParser(tokens, ctx);
  const result = parser.conditional();
  const rest = parser.peek();
  if (rest !== undefined) throw new ExtractError(rest, `unexpected '${rest.text}' in constant expression`);
  return result;
}

class ExpressionParser {
  private pos = 0;

  constructor(private readonly tokens: readonly Token[], private readonly ctx: EvalContext) {}

  peek(offset = 0): Token | undefined {
    return this.tokens[this.pos + offset];
  }

  private take(): Token {
    const tok = this.tokens[this.pos];
    if (tok === undefined) {
      const last = this.tokens[this.tokens.length - 1]!;
      throw new ExtractError({ file: last.file, line: last.endLine, col: last.endCol }, 'constant expression ends too early');
    }
    this.pos++;
    return tok;
  }

  private expect(text: string): Token {
    const tok = this.take();
    if (tok.text !== text) throw new ExtractError(tok, `expected '${text}' in constant expression, found '${tok.text}'`);
    return tok;
  }

  conditional(): IntValue {
    const cond = this.binary(1);
    if (this.peek()?.text !== '?') return cond;
    this.take();
    const a = this.conditional();
    this.expect(':');
    const b = this.conditional();
    const type = commonType(a.type, b.type);
    return { value: convert(cond.value !== 0n ? a.value : b.value, type), type };
  }

  private binary(minPrecedence: number): IntValue {
    let left = this.unary();
    for (;;) {
      const op = this.peek();
      const prec = op?.kind === 'punct' ? BINARY_PRECEDENCE[op.text] : undefined;
      if (op === undefined || prec === undefined || prec < minPrecedence) return left;
      this.take();
      const right = this.binary(prec + 1);
      left = applyBinary(op, left, right);
    }
  }

  private unary(): IntValue {
    const tok = this.take();
    if (tok.kind === 'punct') {
      switch (tok.text) {
        case '+': {
          const v = this.unary();
          return { value: v.value, type: promote(v.type) };
        }
        case '-': {
          const v = this.unary();
          const type = promote(v.type);
          return { value: convert(-v.value, type), type };
        }
        case '~': {
          const v = this.unary();
          const type = promote(v.type);
          return { value: convert(~v.value, type), type };
        }
        case '!': {
          const v = this.unary();
          return { value: v.value === 0n ? 1n : 0n, type: 'int' };
        }
        case '(': {
          const castTo = this.castType();
          if (castTo !== undefined) {
            const v = this.unary();
            return { value: convert(v.value, castTo), type: castTo };
          }
          const inner = this.conditional();
          this.expect(')');
          return inner;
        }
        default:
          throw new ExtractError(tok, `unexpected '${tok.text}' in constant expression`);
      }
    }
    if (tok.kind === 'number') return parseIntegerLiteral(tok);
    if (tok.kind === 'ident') {
      if (tok.text === 'sizeof' || tok.text === '_Alignof' || tok.text === '__alignof__') {
        throw new ExtractError(tok, `${tok.text} in a constant expression is not supported`);
      }
      const v = this.ctx.identifier(tok.text);
      if (v === undefined) throw new ExtractError(tok, `unknown identifier '${tok.text}' in constant expression (not a macro or enum constant the extractor has seen)`);
      return v;
    }
    throw new ExtractError(tok, `${tok.kind} literal ${tok.text} in constant expression is not supported`);
  }

  // After '(' : a type name and ')' make a cast; anything else is a parenthesised expression.
  private castType(): IntTypeName | undefined {
    const first = this.peek();
    if (first === undefined || first.kind !== 'ident') return undefined;
    if (this.ctx.identifier(first.text) !== undefined) return undefined;
    const typedef = KNOWN_TYPEDEFS[first.text];
    if (typedef !== undefined && this.peek(1)?.text === ')') {
      this.pos += 2;
      return typedef.intType;
    }
    if (!INTEGER_TYPE_KEYWORDS.has(first.text)) {
      if (['struct', 'union', 'enum', 'void', 'float', 'double', '_Bool'].includes(first.text) || (typedef && this.peek(1)?.text === '*')) {
        throw new ExtractError(first, `cast to a non-integer type in constant expression is not supported`);
      }
      return undefined;
    }
    const words: string[] = [];
    while (this.peek()?.kind === 'ident' && INTEGER_TYPE_KEYWORDS.has(this.peek()!.text)) words.push(this.take().text);
    const type = integerTypeFromKeywords(words);
    if (type === undefined) throw new ExtractError(first, `'${words.join(' ')}' is not an integer type`);
    this.expect(')');
    return type;
  }
}

function applyBinary(op: Token, a: IntValue, b: IntValue): IntValue {
  switch (op.text) {
    case '&&':
      return { value: a.value !== 0n && b.value !== 0n ? 1n : 0n, type: 'int' };
    case '||':
      return { value: a.value !== 0n || b.value !== 0n ? 1n : 0n, type: 'int' };
    case '<<':
    case '>>': {
      const type = promote(a.type);
      const bits = intTypeInfo(type).bits;
      if (b.value < 0n || b.value >= BigInt(bits)) {
        throw new ExtractError(op, `shift count ${b.value} is out of range for ${type} (undefined behaviour in C)`);
      }
      const value = op.text === '<<' ? a.value << b.value : a.value >> b.value;
      return { value: convert(value, type), type };
    }
    default:
      break;
  }
  const type = commonType(a.type, b.type);
  const x = convert(a.value, type);
  const y = convert(b.value, type);
  const bool = (c: boolean): IntValue => ({ value: c ? 1n : 0n, type: 'int' });
  switch (op.text) {
    case '+': return { value: convert(x + y, type), type };
    case '-': return { value: convert(x - y, type), type };
    case '*': return { value: convert(x * y, type), type };
    case '/':
    case '%':
      if (y === 0n) throw new ExtractError(op, 'division by zero in constant expression');
      return { value: convert(op.text === '/' ? x / y : x % y, type), type };
    case '&': return { value: convert(x & y, type), type };
    case '|': return { value: convert(x | y, type), type };
    case '^': return { value: convert(x ^ y, type), type };
    case '==': return bool(x === y);
    case '!=': return bool(x !== y);
    case '<': return bool(x < y);
    case '>': return bool(x > y);
    case '<=': return bool(x <= y);
    case '>=': return bool(x >= y);
    default:
      throw new ExtractError(op, `operator '${op.text}' is not supported in constant expressions`);
  }
}
