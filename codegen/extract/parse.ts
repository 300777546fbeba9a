/**
 * Declaration parser for what io_uring headers declare: struct, union and enum definitions
 * (named, anonymous, nested, named members of unnamed types), with arrays, flexible arrays,
 * `__DECLARE_FLEX_ARRAY`, and the `packed`/`aligned(N)` attributes. It works on the
 * preprocessor's output (macros already expanded) and evaluates array lengths and enum
 * values on the spot, since later declarations may depend on them. Anything else (typedefs,
 * pointers, bitfields, functions, variables) is an ExtractError at its line.
 */
import { ExtractError } from './errors.js';
import { evaluate, type IntTypeName, type IntValue } from './evaluate.js';
import { EXTERNAL_RECORDS, INTEGER_TYPE_KEYWORDS, KNOWN_TYPEDEFS, C_INTEGER_TYPES, integerTypeFromKeywords, type ScalarInfo } from './known-types.js';
import type { Token } from './lexer.js';
import { tokensToText } from './preprocess.js';

export type MemberTypeAst =
  | { kind: 'scalar'; ctype: string; info: ScalarInfo }
  | { kind: 'ref'; tag: 'struct' | 'union'; name: string; ctype: string }
  | { kind: 'inline'; body: RecordBodyAst };

export type ArrayAst = { length: number } | { flexible: true; spelling: '[]' | '[0]' | '__DECLARE_FLEX_ARRAY' };

export interface MemberAst {
  /** null for an anonymous struct/union member. */
  name: string | null;
  type: MemberTypeAst;
  array?: ArrayAst;
  /** N from `__attribute__((aligned(N)))` on the member itself. */
  alignedAttribute?: number;
  /** `__attribute__((packed))` on the member itself. */
  packed: boolean;
  /** First token of the declaration (comments above it are its doc). */
  first: Token;
  /** The `;` or `,` ending this declarator (a comment after it on the same line is its doc). */
  last: Token;
}

export interface RecordBodyAst {
  kind: 'struct' | 'union';
  packed: boolean;
  alignedAttribute?: number;
  members: MemberAst[];
  /** The `struct`/`union` keyword. */
  keyword: Token;
  /** The closing `}`. */
  close: Token;
}

export interface RecordDeclAst {
  name: string;
  body: RecordBodyAst;
}

export interface EnumMemberAst {
  name: string;
  value: number;
  type: IntTypeName;
  expr?: string;
  nameToken: Token;
  /** The `,` after the member, or its last token. */
  last: Token;
}

export interface EnumDeclAst {
  name: string | null;
  keyword: Token;
  /** The closing `}`. */
  close: Token;
  members: EnumMemberAst[];
  /** Index of the `enum` keyword in the preprocessed token stream (orders it against #defines). */
  streamIndex: number;
}

export interface ParseResult {
  /** Named records in the order their definitions complete. */
  records: RecordDeclAst[];
  enums: EnumDeclAst[];
  /** Tags of EXTERNAL_RECORDS the headers refer to. */
  externalRecords: Set<string>;
  /** Every enum constant, for the constant-expression evaluator. */
  enumConstants: Map<string, IntValue>;
}

interface Attributes {
  packed: boolean;
  aligned?: number;
}

const ENUM_MIN = -(2n ** 31n);
const ENUM_MAX = 2n ** 32n - 1n;

/**
 * Parses the preprocessed token stream of the io_uring headers.
 * @throws ExtractError at the first construct outside the supported subset
 */
export function parseDeclarations(tokens: readonly Token[]): ParseResult {
  return new DeclarationParser(tokens).parse();
}

class DeclarationParser {
  private pos = 0;
  private readonly records: RecordDeclAst[] = [];
  private readonly recordsByName = new Map<string, RecordDeclAst>();
  private readonly enums: EnumDeclAst[] = [];
  private readonly enumTags = new Set<string>();
  private readonly enumConstants = new Map<string, IntValue>();
  private readonly externalRecords = new Set<string>();

  constructor(private readonly tokens: readonly Token[]) {}

  parse(): ParseResult {
    while (this.peek() !== undefined) {
      const tok = this.peek()!;
      if (tok.text === ';') {
        this.pos++;
        continue;
      }
      if (tok.text === 'struct' || tok.text === 'union') {
        const spec = this.recordSpecifier();
        const end = this.take();
        if (end.text !== ';') {
          throw new ExtractError(end, `expected ';' after ${spec.kind} ${spec.name ?? '{...}'} (variable declarations are not supported), found '${end.text}'`);
        }
        if (spec.body === undefined && spec.name !== undefined) continue; // forward declaration
        if (spec.name === undefined) throw new ExtractError(tok, `anonymous ${tok.text} at file scope declares nothing`);
        continue;
      }
      if (tok.text === 'enum') {
        this.enumDefinition();
        continue;
      }
      if (tok.text === 'typedef') throw new ExtractError(tok, 'typedef is not supported in io_uring headers (add the type to codegen/extract/known-types.ts)');
      throw new ExtractError(tok, `unsupported declaration starting with '${tok.text}' (only struct, union and enum definitions are understood)`);
    }
    return { records: this.records, enums: this.enums, externalRecords: this.externalRecords, enumConstants: this.enumConstants };
  }

  private peek(offset = 0): Token | undefined {
    return this.tokens[this.pos + offset];
  }

  private take(): Token {
    const tok = this.tokens[this.pos];
    if (tok === undefined) {
      const last = this.tokens[this.tokens.length - 1];
      throw new ExtractError(last ? { file: last.file, line: last.endLine, col: last.endCol } : { file: '<input>', line: 1, col: 1 }, 'unexpected end of input inside a declaration');
    }
    this.pos++;
    return tok;
  }

  private expect(text: string, context: string): Token {
    const tok = this.take();
    if (tok.text !== text) throw new ExtractError(tok, `expected '${text}' ${context}, found '${tok.text}'`);
    return tok;
  }

  /** Tokens up to (not including) the first of `stops` at bracket depth 0. */
  private balancedUntil(stops: readonly string[]): Token[] {
    const out: Token[] = [];
    let depth = 0;
    for (;;) {
      const tok = this.peek();
      if (tok === undefined) return out;
      if (depth === 0 && stops.includes(tok.text)) return out;
      if (tok.text === '(' || tok.text === '[') depth++;
      if (tok.text === ')' || tok.text === ']') depth--;
      out.push(this.take());
    }
  }

  private evaluateTokens(tokens: Token[], at: Token): IntValue {
    return evaluate(tokens, { identifier: (name) => this.enumConstants.get(name) }, at);
  }

  private attributes(): Attributes {
    const attrs: Attributes = { packed: false };
    while (this.peek()?.text === '__attribute__' || this.peek()?.text === '__attribute') {
      const kw = this.take();
      this.expect('(', `after ${kw.text}`);
      this.expect('(', `after ${kw.text}(`);
      for (;;) {
        const name = this.take();
        if (name.kind !== 'ident') throw new ExtractError(name, `expected an attribute name, found '${name.text}'`);
        if (name.text === 'packed' || name.text === '__packed__') {
          attrs.packed = true;
        } else if (name.text === 'aligned' || name.text === '__aligned__') {
          if (this.peek()?.text === '(') {
            this.take();
            const expr = this.balancedUntil([')']);
            this.expect(')', 'after the aligned(...) argument');
            const n = this.evaluateTokens(expr, name).value;
            if (n < 1n || n > 16n || (n & (n - 1n)) !== 0n) throw new ExtractError(name, `aligned(${n}) is not a power of two from 1 to 16`);
            attrs.aligned = Number(n);
          } else {
            attrs.aligned = 16; // `aligned` alone: the largest alignment of the target (16 on x86_64)
          }
        } else {
          throw new ExtractError(name, `unsupported attribute '${name.text}'`);
        }
        const sep = this.take();
        if (sep.text === ',') continue;
        if (sep.text !== ')') throw new ExtractError(sep, `expected ',' or ')' in attribute list, found '${sep.text}'`);
        break;
      }
      this.expect(')', 'closing __attribute__((...))');
    }
    return attrs;
  }

  /** `struct|union [attrs] [tag] [{ members }] [attrs]`; registers a named definition. */
  private recordSpecifier(): { kind: 'struct' | 'union'; name?: string; body?: RecordBodyAst; keyword: Token } {
    const keyword = this.take();
    const kind = keyword.text as 'struct' | 'union';
    const before = this.attributes();
    let name: string | undefined;
    if (this.peek()?.kind === 'ident' && this.peek()!.text !== '__attribute__') {
      const nameTok = this.take();
      name = nameTok.text;
    }
    if (this.peek()?.text !== '{') {
      if (before.packed || before.aligned !== undefined) throw new ExtractError(keyword, `attributes on a ${kind} reference are not supported`);
      if (name === undefined) throw new ExtractError(this.peek() ?? keyword, `expected a tag or '{' after ${kind}`);
      return { kind, name, keyword };
    }
    this.take();
    const members: MemberAst[] = [];
    while (this.peek()?.text !== '}') {
      if (this.peek() === undefined) throw new ExtractError(keyword, `unterminated ${kind} definition: no closing '}'`);
      members.push(...this.memberDeclaration(kind));
    }
    const close = this.take();
    const after = this.attributes();
    const body: RecordBodyAst = { kind, packed: before.packed || after.packed, members, keyword, close };
    const aligned = after.aligned ?? before.aligned;
    if (aligned !== undefined) body.alignedAttribute = aligned;
    this.checkFlexibleArrays(body);
    if (name !== undefined) {
      const existing = this.recordsByName.get(name);
      if (existing !== undefined || this.enumTags.has(name) || EXTERNAL_RECORDS[name] !== undefined) {
        throw new ExtractError(keyword, `${kind} ${name} redefined`);
      }
      const decl: RecordDeclAst = { name, body };
      this.records.push(decl);
      this.recordsByName.set(name, decl);
    }
    return { kind, ...(name === undefined ? {} : { name }), body, keyword };
  }

  private checkFlexibleArrays(body: RecordBodyAst): void {
    if (body.kind !== 'struct') return;
    body.members.forEach((m, i) => {
      if (m.array && 'flexible' in m.array && m.array.spelling === '[]' && i !== body.members.length - 1) {
        throw new ExtractError(m.first, `flexible array member ${m.name ?? ''} is not the last member of the struct`);
      }
    });
  }

  /** The type part of a member declaration. */
  private typeSpecifier(): MemberTypeAst {
    const first = this.peek()!;
    if (first.text === 'struct' || first.text === 'union') {
      const spec = this.recordSpecifier();
      if (spec.body !== undefined) {
        if (spec.name !== undefined) return { kind: 'ref', tag: spec.kind, name: spec.name, ctype: `${spec.kind} ${spec.name}` };
        return { kind: 'inline', body: spec.body };
      }
      return this.recordRef(spec.kind, spec.name!, spec.keyword);
    }
    if (first.text === 'enum') throw new ExtractError(first, 'enum-typed members are not supported (their size depends on the enum values)');
    if (['const', 'volatile', 'restrict', '_Atomic', 'static', 'extern', 'register'].includes(first.text)) {
      throw new ExtractError(first, `'${first.text}' in a member declaration is not supported`);
    }
    if (['void', 'float', 'double', '_Bool', 'bool', '__int128', '_Complex'].includes(first.text)) {
      throw new ExtractError(first, `type '${first.text}' is not supported (only integer types, structs and unions)`);
    }
    if (INTEGER_TYPE_KEYWORDS.has(first.text)) {
      const words: string[] = [];
      while (this.peek()?.kind === 'ident' && INTEGER_TYPE_KEYWORDS.has(this.peek()!.text)) words.push(this.take().text);
      const type = integerTypeFromKeywords(words);
      if (type === undefined) throw new ExtractError(first, `'${words.join(' ')}' is not a valid integer type`);
      return { kind: 'scalar', ctype: words.join(' '), info: C_INTEGER_TYPES[type] };
    }
    if (first.kind === 'ident') {
      const info = KNOWN_TYPEDEFS[first.text];
      if (info === undefined) {
        throw new ExtractError(first, `unknown type name '${first.text}' (not defined in the io_uring headers nor in codegen/extract/known-types.ts)`);
      }
      this.take();
      return { kind: 'scalar', ctype: first.text, info };
    }
    throw new ExtractError(first, `expected a member declaration, found '${first.text}'`);
  }

  private recordRef(tag: 'struct' | 'union', name: string, at: Token): MemberTypeAst {
    const decl = this.recordsByName.get(name);
    if (decl !== undefined) {
      if (decl.body.kind !== tag) throw new ExtractError(at, `${name} is a ${decl.body.kind}, not a ${tag}`);
      return { kind: 'ref', tag, name, ctype: `${tag} ${name}` };
    }
    const external = EXTERNAL_RECORDS[name];
    if (external !== undefined && external.kind === tag) {
      this.externalRecords.add(name);
      return { kind: 'ref', tag, name, ctype: `${tag} ${name}` };
    }
    throw new ExtractError(at, `${tag} ${name} is not defined before this use (and is not in codegen/extract/known-types.ts)`);
  }

  /** One member declaration, possibly with several declarators. */
  private memberDeclaration(parentKind: 'struct' | 'union'): MemberAst[] {
    const first = this.peek()!;
    if (first.text === '__DECLARE_FLEX_ARRAY') return [this.declareFlexArray()];
    if (first.text === ';') throw new ExtractError(first, `stray ';' in ${parentKind} definition`);
    const type = this.typeSpecifier();
    const typeAttrs = this.attributes();
    if (this.peek()?.text === ';') {
      const last = this.take();
      if (type.kind !== 'inline') {
        throw new ExtractError(first, `declaration in ${parentKind} declares no member (a named nested ${type.kind === 'ref' ? type.ctype : 'type'} without a member name is not supported)`);
      }
      if (typeAttrs.packed || typeAttrs.aligned !== undefined) throw new ExtractError(first, 'attributes on an anonymous member are not supported');
      return [{ name: null, type, packed: false, first, last }];
    }
    const members: MemberAst[] = [];
    for (;;) {
      const nameTok = this.take();
      if (nameTok.text === '*') throw new ExtractError(nameTok, 'pointer members are not supported (UAPI headers pass pointers as __u64)');
      if (nameTok.text === '(') throw new ExtractError(nameTok, 'function or parenthesised declarators are not supported');
      if (nameTok.kind !== 'ident') throw new ExtractError(nameTok, `expected a member name, found '${nameTok.text}'`);
      let array: ArrayAst | undefined;
      if (this.peek()?.text === '[') {
        const open = this.take();
        const expr = this.balancedUntil([']']);
        this.expect(']', 'closing the array length');
        if (expr.length === 0) {
          array = { flexible: true, spelling: '[]' };
        } else {
          const length = this.evaluateTokens(expr, open).value;
          if (length < 0n) throw new ExtractError(open, `negative array length ${length}`);
          if (length > 0xffffffn) throw new ExtractError(open, `array length ${length} is implausibly large`);
          array = length === 0n ? { flexible: true, spelling: '[0]' } : { length: Number(length) };
        }
        if (this.peek()?.text === '[') throw new ExtractError(this.peek()!, 'multi-dimensional arrays are not supported');
      }
      if (this.peek()?.text === ':') throw new ExtractError(this.peek()!, `bitfield ${nameTok.text} is not supported (its layout is implementation-defined)`);
      if (this.peek()?.text === '(') throw new ExtractError(this.peek()!, `function declarations are not supported (${nameTok.text})`);
      const attrs = this.attributes();
      const last = this.take();
      if (last.text !== ',' && last.text !== ';') throw new ExtractError(last, `expected ',' or ';' after member ${nameTok.text}, found '${last.text}'`);
      const member: MemberAst = { name: nameTok.text, type, packed: typeAttrs.packed || attrs.packed, first, last };
      if (array !== undefined) member.array = array;
      const aligned = attrs.aligned ?? typeAttrs.aligned;
      if (aligned !== undefined) member.alignedAttribute = aligned;
      members.push(member);
      if (last.text === ';') return members;
    }
  }

  private declareFlexArray(): MemberAst {
    const first = this.take();
    this.expect('(', 'after __DECLARE_FLEX_ARRAY');
    const type = this.typeSpecifier();
    if (type.kind === 'inline') throw new ExtractError(first, '__DECLARE_FLEX_ARRAY of an unnamed type is not supported');
    this.expect(',', 'between the type and the name in __DECLARE_FLEX_ARRAY');
    const nameTok = this.take();
    if (nameTok.kind !== 'ident') throw new ExtractError(nameTok, `expected a member name in __DECLARE_FLEX_ARRAY, found '${nameTok.text}'`);
    this.expect(')', 'closing __DECLARE_FLEX_ARRAY(...)');
    const last = this.expect(';', 'after __DECLARE_FLEX_ARRAY(...)');
    return { name: nameTok.text, type, array: { flexible: true, spelling: '__DECLARE_FLEX_ARRAY' }, packed: false, first, last };
  }

  private enumDefinition(): void {
    const streamIndex = this.pos;
    const keyword = this.take();
    let name: string | null = null;
    if (this.peek()?.kind === 'ident') {
      const tag = this.take();
      name = tag.text;
      if (this.enumTags.has(name) || this.recordsByName.has(name)) throw new ExtractError(tag, `enum ${name} redefined`);
    }
    if (this.peek()?.text !== '{') throw new ExtractError(this.peek() ?? keyword, `expected '{' after enum${name ? ` ${name}` : ''} (enum declarations without a body are not supported)`);
    this.take();
    const members: EnumMemberAst[] = [];
    let next: IntValue = { value: 0n, type: 'int' };
    while (this.peek()?.text !== '}') {
      const nameTok = this.take();
      if (nameTok.kind !== 'ident') throw new ExtractError(nameTok, `expected an enumerator name, found '${nameTok.text}'`);
      if (this.enumConstants.has(nameTok.text)) throw new ExtractError(nameTok, `enumerator ${nameTok.text} redefined`);
      let value = next;
      let expr: string | undefined;
      let last = nameTok;
      if (this.peek()?.text === '=') {
        const eq = this.take();
        const tokens = this.balancedUntil([',', '}']);
        value = this.evaluateTokens(tokens, eq);
        expr = sourceText(tokens);
        last = tokens[tokens.length - 1] ?? eq;
      }
      if (value.value < ENUM_MIN || value.value > ENUM_MAX) {
        throw new ExtractError(nameTok, `enumerator ${nameTok.text} = ${value.value} is outside the range of int and unsigned int`);
      }
      // GCC: an enumerator that fits int is an int; a larger one takes the enum's unsigned type.
      const type: IntTypeName = value.value <= 2147483647n ? 'int' : 'unsigned int';
      this.enumConstants.set(nameTok.text, { value: value.value, type });
      if (this.peek()?.text === ',') last = this.take();
      else if (this.peek()?.text !== '}') throw new ExtractError(this.peek() ?? nameTok, `expected ',' or '}' after enumerator ${nameTok.text}`);
      const member: EnumMemberAst = { name: nameTok.text, value: Number(value.value), type, nameToken: nameTok, last };
      if (expr !== undefined) member.expr = expr;
      members.push(member);
      next = { value: value.value + 1n, type };
    }
    const close = this.take();
    if (members.length === 0) throw new ExtractError(close, 'enum without enumerators');
    const attrs = this.attributes();
    if (attrs.packed || attrs.aligned !== undefined) throw new ExtractError(close, 'attributes on an enum are not supported');
    const end = this.take();
    if (end.text !== ';') throw new ExtractError(end, `expected ';' after the enum definition (variable declarations are not supported), found '${end.text}'`);
    if (name !== null) this.enumTags.add(name);
    this.enums.push({ name, keyword, close, members, streamIndex });
  }
}

/** The source text of tokens that may have come from macro expansion: what was written, not what it expanded to. */
export function sourceText(tokens: readonly Token[]): string {
  const written: Token[] = [];
  for (const t of tokens) {
    const src = t.origin ?? t;
    if (written[written.length - 1] !== src) written.push(src);
  }
  return tokensToText(written);
}
