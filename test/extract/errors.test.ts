/**
 * Whatever the extractor does not understand stops it with an ExtractError naming
 * file:line:column: a spec must never silently lack something the header has.
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ExtractError } from '../../codegen/extract/errors.js';
import { extractSpec } from '../../codegen/extract/extract.js';
import { headerDir } from './fixtures.js';

function failure(ioUring: string, others: Record<string, string> = {}): { dir: string; error: ExtractError } {
  const dir = headerDir(ioUring, others);
  try {
    extractSpec(dir);
  } catch (err) {
    if (err instanceof ExtractError) return { dir, error: err };
    throw err;
  }
  throw new Error('extractSpec accepted a header it should refuse');
}

const GUARD_OPEN = '#ifndef LINUX_IO_URING_H\n#define LINUX_IO_URING_H\n';

const cases: { kind: string; header: string; line: number; col: number; message: RegExp }[] = [
  { kind: 'bitfield', header: 'struct s {\n\t__u32 a;\n\t__u32 b:3;\n};\n', line: 3, col: 9, message: /bitfield b is not supported/ },
  { kind: 'function-like macro', header: `${GUARD_OPEN}#define IORING_F(x) ((x) + 1)\n#endif\n`, line: 3, col: 9, message: /function-like macro IORING_F\(\.\.\.\) is not supported/ },
  { kind: 'non-numeric #define body', header: '#define IORING_NAME\t"ring"\n', line: 1, col: 21, message: /string literal "ring" in constant expression/ },
  { kind: 'non-numeric #define body (a type)', header: '\n#define IORING_T\tunsigned int\n', line: 2, col: 18, message: /unknown identifier 'unsigned'/ },
  { kind: 'unknown type name', header: 'struct s {\n\t__u32 a;\n\t__kernel_mystery_t b;\n};\n', line: 3, col: 2, message: /unknown type name '__kernel_mystery_t'/ },
  { kind: 'unterminated comment', header: '#define A 1\n\n  /* never closed\n#define B 2\n', line: 3, col: 3, message: /unterminated comment/ },
  { kind: 'unknown preprocessor directive', header: `${GUARD_OPEN}#pragma pack(1)\n#endif\n`, line: 3, col: 2, message: /unsupported preprocessor directive #pragma/ },
  { kind: '#error in an active group', header: '#error not for this kernel\n', line: 1, col: 2, message: /unsupported preprocessor directive #error/ },
  { kind: 'empty #define that is not an include guard', header: `${GUARD_OPEN}#define IORING_FEATURE_X\n#endif\n`, line: 3, col: 9, message: /empty body; only an include guard/ },
  { kind: 'unterminated #if', header: '#define A 1\n#ifdef A\n#define B 2\n', line: 2, col: 2, message: /unterminated #ifdef: no matching #endif/ },
  { kind: '#endif without #if', header: '#define A 1\n#endif\n', line: 2, col: 2, message: /#endif without #if/ },
  { kind: '#if on a macro the extractor cannot see', header: '#if __BITS_PER_LONG == 64\n#endif\n', line: 1, col: 5, message: /unknown identifier '__BITS_PER_LONG'/ },
  { kind: '#ifdef of a name from a header the extractor does not read', header: 'struct s {\n#ifdef RWF_ATOMIC\n\t__u64 user_data;\n#else\n\t__u32 user_data;\n#endif\n};\n', line: 2, col: 8, message: /#ifdef RWF_ATOMIC: RWF_ATOMIC is not defined by the io_uring headers read so far and is not a name the extractor knows.*KNOWN_CONDITION_NAMES in codegen\/extract\/abi\.ts/ },
  { kind: '#if defined() of an unknown name', header: '#define A 1\n#if defined(A) && defined(__SOMETHING_ELSE__)\n#define B 2\n#endif\n', line: 2, col: 27, message: /defined\(__SOMETHING_ELSE__\): __SOMETHING_ELSE__ is not defined by the io_uring headers/ },
  { kind: '#ifndef of an unknown name that is not an include guard', header: '#ifndef SOME_OPT_OUT\n#define IORING_X 1\n#endif\n', line: 1, col: 9, message: /#ifndef SOME_OPT_OUT: SOME_OPT_OUT is not defined/ },
  { kind: 'a name whose value differs by architecture in a constant', header: '#ifdef __x86_64__\n#define IORING_ARCH_X 1\n#else\n#define IORING_ARCH_X 2\n#endif\n', line: 2, col: 1, message: /IORING_ARCH_X differs between x86_64-linux-gnu and aarch64-linux-gnu \(an #ifdef on an architecture name\?\)/ },
  { kind: 'typedef', header: '\ntypedef __u32 ring_id_t;\n', line: 2, col: 1, message: /typedef is not supported/ },
  { kind: 'pointer member', header: 'struct s {\n\tchar *name;\n};\n', line: 2, col: 7, message: /pointer members are not supported/ },
  { kind: 'undefined struct', header: 'struct s {\n\tstruct elsewhere e;\n};\n', line: 2, col: 2, message: /struct elsewhere is not defined before this use/ },
  { kind: 'enum-typed member', header: 'enum e { A };\nstruct s {\n\tenum e kind;\n};\n', line: 3, col: 2, message: /enum-typed members are not supported/ },
  { kind: 'multi-dimensional array', header: 'struct s {\n\t__u8 m[2][3];\n};\n', line: 2, col: 11, message: /multi-dimensional arrays/ },
  { kind: 'unknown identifier in a define', header: '#define IORING_X\t(1U << IORING_Y_BIT)\n', line: 1, col: 25, message: /unknown identifier 'IORING_Y_BIT'/ },
  { kind: 'function declaration', header: '\nint io_uring_setup(unsigned entries);\n', line: 2, col: 1, message: /unsupported declaration starting with 'int'/ },
  { kind: 'unsupported attribute', header: 'struct s {\n\t__u32 a;\n} __attribute__((may_alias));\n', line: 3, col: 18, message: /unsupported attribute 'may_alias'/ },
  { kind: 'missing included io_uring header', header: '#include <linux/io_uring/absent.h>\n', line: 1, col: 10, message: /cannot find linux\/io_uring\/absent\.h/ },
  { kind: 'stray character', header: 'struct s {\n\t__u32 a; @\n};\n', line: 2, col: 11, message: /unexpected character "@"/ },
];

describe('ExtractError: constructs the extractor does not understand', () => {
  it.for(cases)('$kind: fails at linux/io_uring.h:$line:$col', ({ header, line, col, message }) => {
    const { dir, error } = failure(header);
    expect(error.message).toMatch(message);
    expect(error.message.startsWith(`${join(dir, 'linux/io_uring.h')}:${line}:${col}: `)).toBe(true);
    expect([error.file, error.line, error.col]).toEqual([join(dir, 'linux/io_uring.h'), line, col]);
    expect(error.name).toBe('ExtractError');
  });

  it('names the sub-header, not linux/io_uring.h, when the problem is in an included file', () => {
    const { dir, error } = failure('#include <linux/io_uring/sub.h>\n', { 'linux/io_uring/sub.h': '\n\nstruct t { __u32 x : 1; };\n' });
    expect(error.message).toMatch(new RegExp(`^${join(dir, 'linux/io_uring/sub.h').replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}:3:20: bitfield x`));
  });

  it('stops an include cycle that has no include guard', () => {
    const { error } = failure('#include <linux/io_uring/a.h>\n', { 'linux/io_uring/a.h': '#include <linux/io_uring.h>\n' });
    expect(error.message).toMatch(/linux\/io_uring\/a\.h:1:10: #include nested 32 deep/);
  });

  it('lets a guarded sub-header include linux/io_uring.h again', () => {
    const dir = headerDir('#ifndef LINUX_IO_URING_H\n#define LINUX_IO_URING_H\n#include <linux/io_uring/a.h>\n#define IORING_X 1\n#endif\n', {
      'linux/io_uring/a.h': '#ifndef A_H\n#define A_H\n#include <linux/io_uring.h>\n#define IORING_Y 2\n#endif\n',
    });
    expect(extractSpec(dir).constants.map((c) => c.name)).toEqual(['IORING_Y', 'IORING_X']);
  });

  it('names linux/version.h when it is missing, and asks for --release rather than borrowing another', () => {
    const dir = headerDir('#define A 1\n');
    rmSync(join(dir, 'linux/version.h'));
    expect(() => extractSpec(dir)).toThrow(/linux\/version\.h:1:1: linux\/version\.h not found in .*give the kernel release .* with --release X\.Y\.Z \(never another folder's version\.h/);
  });
});

describe('--release for headers without linux/version.h', () => {
  it('takes the release given, computes LINUX_VERSION_CODE as KERNEL_VERSION does, and says where it came from', () => {
    const dir = headerDir('#define IORING_A 1\n', { 'linux/version.h': null });
    const spec = extractSpec(dir, { release: '7.3.300' });
    expect(spec.provenance).toMatchObject({ release: '7.3.300', linuxVersionCode: (7 << 16) + (3 << 8) + 255, releaseFrom: '--release' });
    expect(spec.provenance.headers.map((h) => h.path)).toEqual(['linux/io_uring.h']);
  });

  it('refuses a malformed release, and one that disagrees with a version.h that is there', () => {
    const bare = headerDir('#define IORING_A 1\n', { 'linux/version.h': null });
    expect(() => extractSpec(bare, { release: '7.3' })).toThrow(/--release 7\.3: expected MAJOR\.MINOR\.PATCH/);
    const withVersion = headerDir('#define IORING_A 1\n');
    expect(() => extractSpec(withVersion, { release: '7.3.0' })).toThrow(/--release 7\.3\.0 disagrees with linux\/version\.h, which says 6\.2\.0/);
    expect(extractSpec(withVersion).provenance).toMatchObject({ releaseFrom: 'linux/version.h' });
  });
});

describe('names the extractor knows, per ABI', () => {
  it('takes __x86_64__, __aarch64__ and __riscv per ABI and lays a record out per ABI from them', () => {
    const dir = headerDir('struct s {\n\t__u32 a;\n#if defined(__x86_64__) || defined(__cplusplus) || defined(__KERNEL__)\n\t__u32 pad_for_x86;\n#else\n\t__u16 pad_for_x86;\n#endif\n};\n');
    expect(() => extractSpec(dir)).toThrow(/struct s has different fields on x86_64-linux-gnu and aarch64-linux-gnu/);
    const same = headerDir('struct s {\n#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__ && __SIZEOF_LONG__ == 8\n\t__u64 a;\n#endif\n#ifdef __cplusplus\n\t__u8 never;\n#endif\n};\n');
    expect(extractSpec(same).records.find((r) => r.name === 's')?.fields.map((f) => f.name)).toEqual(['a']);
  });
});
