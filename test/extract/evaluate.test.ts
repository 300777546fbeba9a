import { describe, expect, it } from 'vitest';
import { ExtractError } from '../../codegen/extract/errors.js';
import { commonType, evaluate, type IntValue } from '../../codegen/extract/evaluate.js';
import { lex } from '../../codegen/extract/lexer.js';

function ev(text: string, constants: Record<string, IntValue> = {}): { value: string; type: string } {
  const { tokens } = lex(text, 'expr.h', 'linux/io_uring.h');
  const v = evaluate(tokens, { identifier: (name) => constants[name] }, { file: 'expr.h', line: 1, col: 1 });
  return { value: v.value.toString(), type: v.type };
}

describe('constant-expression evaluator', () => {
  it.each([
    ['~0U', '4294967295', 'unsigned int'],
    ['(1U << 31)', '2147483648', 'unsigned int'],
    ['0xf8000000ULL', '4160749568', 'unsigned long long'],
    ['(-2)', '-2', 'int'],
    ['((__u32)1 << 16)', '65536', 'unsigned int'],
    ['~(((__u64)1 << 48) - 1)', '18446462598732840960', 'unsigned long long'],
    ['0ULL', '0', 'unsigned long long'],
    ['16', '16', 'int'],
  ])('the header forms: %s = %s (%s)', (text, value, type) => {
    expect(ev(text)).toEqual({ value, type });
  });

  it.each([
    ['2147483647', 'int'],
    ['2147483648', 'long'], // decimal literals never become unsigned
    ['0x7fffffff', 'int'],
    ['0x80000000', 'unsigned int'], // hex ones do
    ['0x100000000', 'long'],
    ['0xffffffffffffffff', 'unsigned long'],
    ['1L', 'long'],
    ['1l', 'long'],
    ['1UL', 'unsigned long'],
    ['1lu', 'unsigned long'],
    ['1LL', 'long long'],
    ['1ull', 'unsigned long long'],
    ['1LLU', 'unsigned long long'],
    ['010', 'int'],
    ['0b101', 'int'],
  ])('literal %s has type %s', (text, type) => {
    expect(ev(text).type).toBe(type);
  });

  it('reads octal, hex and binary digits', () => {
    expect(ev('010').value).toBe('8');
    expect(ev('0x1F').value).toBe('31');
    expect(ev('0b101').value).toBe('5');
  });

  it('applies the usual arithmetic conversions', () => {
    expect(ev('1U + 1L')).toEqual({ value: '2', type: 'long' }); // long holds every unsigned int
    expect(ev('1UL + 1LL')).toEqual({ value: '2', type: 'unsigned long long' }); // long long cannot hold every unsigned long
    expect(ev('1U + 1')).toEqual({ value: '2', type: 'unsigned int' });
    expect(ev('-1 < 0U')).toEqual({ value: '0', type: 'int' }); // -1 becomes UINT_MAX first
    expect(ev('(__u8)255 + 1')).toEqual({ value: '256', type: 'int' }); // promoted before adding
    expect(commonType('unsigned short', 'unsigned short')).toBe('int');
    expect(commonType('long long', 'unsigned long')).toBe('unsigned long long');
  });

  it('wraps to the width of the result type', () => {
    expect(ev('-1U')).toEqual({ value: '4294967295', type: 'unsigned int' });
    expect(ev('(__u16)0x12345')).toEqual({ value: '9029', type: 'unsigned short' });
    expect(ev('(int)0x80000000')).toEqual({ value: '-2147483648', type: 'int' });
    expect(ev('(__s64)~0ULL')).toEqual({ value: '-1', type: 'long long' });
    expect(ev('(unsigned long)-1')).toEqual({ value: '18446744073709551615', type: 'unsigned long' });
    expect(ev('0xffffffffU + 1U')).toEqual({ value: '0', type: 'unsigned int' });
  });

  it('shifts in the promoted type of the left operand, right shifts of negatives are arithmetic', () => {
    expect(ev('1 << 30')).toEqual({ value: '1073741824', type: 'int' });
    expect(ev('1U << 1ULL')).toEqual({ value: '2', type: 'unsigned int' });
    expect(ev('-8 >> 1')).toEqual({ value: '-4', type: 'int' });
    expect(ev('(__u8)1 << 8')).toEqual({ value: '256', type: 'int' });
  });

  it('has C precedence and the remaining operators', () => {
    expect(ev('1 | 2 << 3 & 0xff')).toEqual({ value: '17', type: 'int' });
    expect(ev('7 / 2 * 2 + 7 % 2')).toEqual({ value: '7', type: 'int' });
    expect(ev('-7 / 2')).toEqual({ value: '-3', type: 'int' }); // truncation toward zero
    expect(ev('(1 ? 2 : 3U)')).toEqual({ value: '2', type: 'unsigned int' });
    expect(ev('!0 + (3 ^ 1) + (2 >= 2) + (1 && 0) + (0 || 5)')).toEqual({ value: '5', type: 'int' });
  });

  it('refers to enum constants with their type', () => {
    const constants = { IOSQE_IO_LINK_BIT: { value: 2n, type: 'int' as const } };
    expect(ev('(1U << IOSQE_IO_LINK_BIT)', constants)).toEqual({ value: '4', type: 'unsigned int' });
  });

  it.each([
    ['1 << 32', /shift count 32 is out of range for int/],
    ['1U << -1', /shift count -1/],
    ['1 / 0', /division by zero/],
    ['UNKNOWN_NAME + 1', /unknown identifier 'UNKNOWN_NAME'/],
    ['1.5', /not an integer literal: 1.5/],
    ['"str"', /string literal/],
    ['(1 + 2', /ends too early/],
    ['1 2', /unexpected '2'/],
    ['sizeof(int)', /sizeof in a constant expression is not supported/],
    ['(struct foo)1', /cast to a non-integer type/],
    ['0x1ffffffffffffffff', /does not fit any C integer type/],
  ])('refuses %s', (text, message) => {
    expect(() => ev(text)).toThrow(ExtractError);
    expect(() => ev(text)).toThrow(message);
  });
});
