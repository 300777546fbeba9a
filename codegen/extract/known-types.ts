/**
 * What the io_uring headers take from other headers without defining it: the scalar typedefs
 * of linux/types.h (and friends) and the records of linux/time_types.h. The extractor does
 * not read those headers; it knows them from this table, for the LP64 ABIs of abi.ts (the
 * sizes are the same on all of them; plain `char`'s signedness and `packed` on
 * `struct epoll_event` are not, and are decided per ABI). A name missing here is an error,
 * never a guess.
 */
import type { AbiName } from '../spec/types.js';
import type { IntTypeName } from './evaluate.js';

/** A scalar type: what the layout needs plus the C integer type it is (for casts in expressions). */
export interface ScalarInfo {
  bits: 8 | 16 | 32 | 64;
  signed: boolean;
  endian: 'native' | 'big' | 'little';
  /** The type's own alignment. */
  align: number;
  /**
   * N for the `__aligned_u64` family. linux/types.h defines them as macros
   * (`#define __aligned_u64 __u64 __attribute__((aligned(8)))`), not typedefs, so the attribute
   * lands on the member: it survives `packed` (a packed struct still aligns such a member to 8).
   */
  alignedAttribute?: 8;
  intType: IntTypeName;
}

/** The C integer types on LP64, by canonical name (plain `char` as on x86-64; layout applies the ABI's signedness). */
export const C_INTEGER_TYPES: Readonly<Record<IntTypeName, ScalarInfo>> = {
  char: { bits: 8, signed: true, endian: 'native', align: 1, intType: 'char' },
  'signed char': { bits: 8, signed: true, endian: 'native', align: 1, intType: 'signed char' },
  'unsigned char': { bits: 8, signed: false, endian: 'native', align: 1, intType: 'unsigned char' },
  short: { bits: 16, signed: true, endian: 'native', align: 2, intType: 'short' },
  'unsigned short': { bits: 16, signed: false, endian: 'native', align: 2, intType: 'unsigned short' },
  int: { bits: 32, signed: true, endian: 'native', align: 4, intType: 'int' },
  'unsigned int': { bits: 32, signed: false, endian: 'native', align: 4, intType: 'unsigned int' },
  long: { bits: 64, signed: true, endian: 'native', align: 8, intType: 'long' },
  'unsigned long': { bits: 64, signed: false, endian: 'native', align: 8, intType: 'unsigned long' },
  'long long': { bits: 64, signed: true, endian: 'native', align: 8, intType: 'long long' },
  'unsigned long long': { bits: 64, signed: false, endian: 'native', align: 8, intType: 'unsigned long long' },
};

const of = (name: IntTypeName, extra: Partial<ScalarInfo> = {}): ScalarInfo => ({ ...C_INTEGER_TYPES[name], ...extra });

/**
 * Scalar typedefs from linux/types.h, asm-generic/int-ll64.h and linux/posix_types.h.
 * `__u64` is `unsigned long long` there (int-ll64), which matters for the C type of
 * expressions such as `(__u64)1 << 48`.
 */
export const KNOWN_TYPEDEFS: Readonly<Record<string, ScalarInfo>> = {
  __u8: of('unsigned char'),
  __s8: of('signed char'),
  __u16: of('unsigned short'),
  __s16: of('short'),
  __u32: of('unsigned int'),
  __s32: of('int'),
  __u64: of('unsigned long long'),
  __s64: of('long long'),
  __be16: of('unsigned short', { endian: 'big' }),
  __le16: of('unsigned short', { endian: 'little' }),
  __be32: of('unsigned int', { endian: 'big' }),
  __le32: of('unsigned int', { endian: 'little' }),
  __be64: of('unsigned long long', { endian: 'big' }),
  __le64: of('unsigned long long', { endian: 'little' }),
  __sum16: of('unsigned short'),
  __wsum: of('unsigned int'),
  __poll_t: of('unsigned int'),
  __aligned_u64: of('unsigned long long', { alignedAttribute: 8 }),
  __aligned_s64: of('long long', { alignedAttribute: 8 }),
  __aligned_be64: of('unsigned long long', { endian: 'big', alignedAttribute: 8 }),
  __aligned_le64: of('unsigned long long', { endian: 'little', alignedAttribute: 8 }),
  __kernel_rwf_t: of('int'),
  __kernel_time64_t: of('long long'),
};

/**
 * Maps a sequence of C type keywords (`unsigned`, `long`, `int`, ...) to its type, or
 * undefined when the words do not form an integer type (`long short`, `float`).
 */
export function integerTypeFromKeywords(words: readonly string[]): IntTypeName | undefined {
  const count = (w: string): number => words.filter((x) => x === w).length;
  const known = ['signed', 'unsigned', 'char', 'short', 'int', 'long'];
  if (words.length === 0 || words.some((w) => !known.includes(w))) return undefined;
  const signed = count('signed');
  const unsigned = count('unsigned');
  const chars = count('char');
  const shorts = count('short');
  const ints = count('int');
  const longs = count('long');
  if (signed + unsigned > 1 || ints > 1 || longs > 2 || chars > 1 || shorts > 1) return undefined;
  if (chars + shorts + (longs > 0 ? 1 : 0) > 1) return undefined;
  if (chars && ints) return undefined;
  if (chars) return unsigned ? 'unsigned char' : signed ? 'signed char' : 'char';
  if (shorts) return unsigned ? 'unsigned short' : 'short';
  if (longs === 2) return unsigned ? 'unsigned long long' : 'long long';
  if (longs === 1) return unsigned ? 'unsigned long' : 'long';
  return unsigned ? 'unsigned int' : 'int';
}

/** Words that may start a C integer type name. */
export const INTEGER_TYPE_KEYWORDS: ReadonlySet<string> = new Set(['signed', 'unsigned', 'char', 'short', 'int', 'long']);

/** A record the io_uring headers use but another header defines. */
export interface ExternalRecord {
  kind: 'struct' | 'union';
  /** Where the real definition lives (linux/time_types.h in the UAPI headers). */
  file: string;
  line: number;
  fields: { name: string; ctype: string }[];
  /** ABIs on which the record is `__attribute__((packed))` (EPOLL_PACKED is x86-64 only). */
  packedOn?: AbiName[];
  /**
   * Part of every spec even when no io_uring header names it, because an op reads or writes it
   * (IORING_OP_EPOLL_CTL and EPOLL_WAIT take `struct epoll_event`); codegen then sizes such
   * buffers per ABI from the spec instead of from a number in ops.json.
   */
  always?: boolean;
}

/** Records from outside the io_uring headers, keyed by tag. */
export const EXTERNAL_RECORDS: Readonly<Record<string, ExternalRecord>> = {
  __kernel_timespec: {
    kind: 'struct',
    file: 'linux/time_types.h',
    line: 7,
    fields: [
      { name: 'tv_sec', ctype: '__kernel_time64_t' },
      { name: 'tv_nsec', ctype: 'long long' },
    ],
  },
  epoll_event: {
    kind: 'struct',
    file: 'linux/eventpoll.h',
    line: 83,
    fields: [
      { name: 'events', ctype: '__poll_t' },
      { name: 'data', ctype: '__u64' },
    ],
    packedOn: ['x86_64-linux-gnu'],
    always: true,
  },
};
