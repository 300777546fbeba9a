/**
 * The target ABIs a spec is extracted for, and what the extractor knows about each without
 * reading a header: the data model (all LP64, little-endian), the signedness of plain `char`,
 * the compiler's predefined macros, and the few names from headers the extractor does not read
 * (linux/fs.h) that an io_uring header may test with `#ifdef`.
 *
 * A name an `#ifdef`, `#ifndef`, `defined()` or `#if` meets that neither the io_uring headers
 * define nor this table lists is an ExtractError: reading it as undefined (what C does for a
 * name no header defines) silently changes the layout when the name really comes from a header
 * the compiler reads and we do not.
 */
import type { Abi, AbiName } from '../spec/types.js';

/** What the extractor needs to know about one ABI. */
export interface AbiInfo extends Abi {
  /** The cross compiler Debian ships for it (`gcc-aarch64-linux-gnu` installs `aarch64-linux-gnu-gcc`). */
  crossCompiler: string;
  /** The Debian packages that give that compiler and the ABI's linux/ and asm/ headers. */
  debianPackages: string[];
}

/** The ABIs every spec is extracted for; the first is the one `records` describe directly. */
export const ABIS: readonly AbiInfo[] = [
  {
    name: 'x86_64-linux-gnu', arch: 'x64', endian: 'little', pointerSize: 8, longSize: 8, charSigned: true,
    crossCompiler: 'x86_64-linux-gnu-gcc', debianPackages: ['gcc-x86-64-linux-gnu', 'linux-libc-dev-amd64-cross'],
  },
  {
    name: 'aarch64-linux-gnu', arch: 'arm64', endian: 'little', pointerSize: 8, longSize: 8, charSigned: false,
    crossCompiler: 'aarch64-linux-gnu-gcc', debianPackages: ['gcc-aarch64-linux-gnu', 'linux-libc-dev-arm64-cross'],
  },
  {
    name: 'riscv64-linux-gnu', arch: 'riscv64', endian: 'little', pointerSize: 8, longSize: 8, charSigned: false,
    crossCompiler: 'riscv64-linux-gnu-gcc', debianPackages: ['gcc-riscv64-linux-gnu', 'linux-libc-dev-riscv64-cross'],
  },
];

export function abiInfo(name: AbiName): AbiInfo {
  const abi = ABIS.find((a) => a.name === name);
  if (abi === undefined) throw new Error(`unknown ABI ${name}`);
  return abi;
}

/** The spec's own description of an ABI (no tool names). */
export function abiRecord(a: AbiInfo): Abi {
  return { name: a.name, arch: a.arch, endian: a.endian, pointerSize: a.pointerSize, longSize: a.longSize, charSigned: a.charSigned };
}

/** The ABI of the machine running this code, or undefined when no spec ABI matches it. */
export function hostAbi(): AbiInfo | undefined {
  return ABIS.find((a) => a.arch === process.arch);
}

/**
 * A name conditionals may test: its value on an ABI (a number: defined with that value;
 * `undefined`: not defined there), and where the value comes from.
 */
export interface KnownConditionName {
  value(abi: Abi): number | undefined;
  why: string;
}

const onlyOn = (arch: Abi['arch'], value = 1): KnownConditionName['value'] => (abi) => (abi.arch === arch ? value : undefined);
const always = (value: number): KnownConditionName['value'] => () => value;
const never: KnownConditionName['value'] = () => undefined;

/**
 * Names the io_uring headers may test without defining. Compiler predefined macros take their
 * value per ABI; RWF_* come from linux/fs.h, which linux/io_uring.h includes (only those that
 * every linux/fs.h since 4.16 has, so the value does not depend on which copy the compiler
 * finds). Add a name here, with its value per ABI, when a new header tests one.
 */
export const KNOWN_CONDITION_NAMES: Readonly<Record<string, KnownConditionName>> = {
  __cplusplus: { value: never, why: 'the spec describes the headers as C, not C++' },
  __KERNEL__: { value: never, why: 'UAPI headers as user space sees them' },
  __ASSEMBLY__: { value: never, why: 'C declarations, not assembly' },
  UAPI_LINUX_IO_URING_H_SKIP_LINUX_TIME_TYPES_H: { value: never, why: 'an opt-out a C program may define before including linux/io_uring.h; the spec describes the default' },
  __x86_64__: { value: onlyOn('x64'), why: 'GCC predefined macro' },
  __x86_64: { value: onlyOn('x64'), why: 'GCC predefined macro' },
  __amd64__: { value: onlyOn('x64'), why: 'GCC predefined macro' },
  __amd64: { value: onlyOn('x64'), why: 'GCC predefined macro' },
  __i386__: { value: never, why: 'GCC predefined macro (no 32-bit ABI is extracted)' },
  __aarch64__: { value: onlyOn('arm64'), why: 'GCC predefined macro' },
  __arm__: { value: never, why: 'GCC predefined macro (no 32-bit ABI is extracted)' },
  __riscv: { value: onlyOn('riscv64'), why: 'GCC predefined macro' },
  __riscv_xlen: { value: onlyOn('riscv64', 64), why: 'GCC predefined macro' },
  __LP64__: { value: always(1), why: 'GCC predefined macro (every extracted ABI is LP64)' },
  _LP64: { value: always(1), why: 'GCC predefined macro (every extracted ABI is LP64)' },
  __CHAR_BIT__: { value: always(8), why: 'GCC predefined macro' },
  __SIZEOF_INT__: { value: always(4), why: 'GCC predefined macro' },
  __SIZEOF_LONG__: { value: always(8), why: 'GCC predefined macro' },
  __SIZEOF_LONG_LONG__: { value: always(8), why: 'GCC predefined macro' },
  __SIZEOF_POINTER__: { value: always(8), why: 'GCC predefined macro' },
  __CHAR_UNSIGNED__: { value: (abi) => (abi.charSigned ? undefined : 1), why: 'GCC predefined macro (plain char is unsigned on arm64 and riscv64)' },
  __BYTE_ORDER__: { value: always(1234), why: 'GCC predefined macro (every extracted ABI is little-endian)' },
  __ORDER_LITTLE_ENDIAN__: { value: always(1234), why: 'GCC predefined macro' },
  __ORDER_BIG_ENDIAN__: { value: always(4321), why: 'GCC predefined macro' },
  __ORDER_PDP_ENDIAN__: { value: always(3412), why: 'GCC predefined macro' },
  RWF_HIPRI: { value: always(0x1), why: 'linux/fs.h (included by linux/io_uring.h)' },
  RWF_DSYNC: { value: always(0x2), why: 'linux/fs.h (included by linux/io_uring.h)' },
  RWF_SYNC: { value: always(0x4), why: 'linux/fs.h (included by linux/io_uring.h)' },
  RWF_NOWAIT: { value: always(0x8), why: 'linux/fs.h (included by linux/io_uring.h)' },
  RWF_APPEND: { value: always(0x10), why: 'linux/fs.h (included by linux/io_uring.h)' },
};
