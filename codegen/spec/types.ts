/**
 * TypeScript shapes of spec/io_uring.json and spec/ops.json. The JSON Schemas in
 * spec/schema/ are the authority; these types mirror them for the extractor and emitter.
 */

export interface Spec {
  $schema?: string;
  formatVersion: 2;
  provenance: Provenance;
  /** The ABIs the layouts were computed for; `records` describe the first, `variants` the others where they differ. */
  abis: Abi[];
  records: NamedRecord[];
  enums: EnumDef[];
  constants: Constant[];
  flagSets: FlagSet[];
  /**
   * Names an accepted downgrade kept from the spec it replaced because this header lacks them
   * (`npm run spec -- --allow-downgrade`): not from this header, not cross-checked against it.
   * Codegen merges them in (see codegen/spec/carried.ts); everything above is the header's own.
   */
  carried?: Carried;
}

export interface SpecSource {
  release: string;
  linuxVersionCode: number;
  sha256: string;
}

export interface Carried {
  /** The spec(s) the names came from. */
  from: SpecSource[];
  /** Records this header lacks, or has with fewer fields (the newer layout replaces the header's). */
  records: NamedRecord[];
  /** Enums this header lacks, or members of its enums it lacks (a partial enum lists only those). */
  enums: EnumDef[];
  constants: Constant[];
  /** Flag sets (or members of them) this header lacks. */
  flagSets: FlagSet[];
}

export interface Provenance {
  linuxVersionCode: number;
  release: string;
  /** Where the release came from: the header folder's linux/version.h, or `--release`. */
  releaseFrom: 'linux/version.h' | '--release';
  sha256: string;
  headers: { path: string; sha256: string; lines: number }[];
  extractor: string;
  /**
   * The header folder as given to `npm run spec`, relative to the repository when it was given
   * relative: tests that compare the spec with C look for the headers there first (and check
   * every sha256 above).
   */
  headerDir?: string;
}

export type AbiName = 'x86_64-linux-gnu' | 'aarch64-linux-gnu' | 'riscv64-linux-gnu';

export interface Abi {
  name: AbiName;
  /** Node's `process.arch` for it. */
  arch: 'x64' | 'arm64' | 'riscv64';
  endian: 'little';
  pointerSize: 8;
  longSize: 8;
  /** Whether plain `char` is signed. */
  charSigned: boolean;
}

/** A record's layout on the ABIs where it differs from the first ABI's. */
export interface RecordVariant {
  abis: AbiName[];
  size: number;
  align: Align;
  packed: boolean;
  fields: Field[];
}

export type Align = 1 | 2 | 4 | 8 | 16;

export interface ScalarType {
  kind: 'scalar';
  bits: 8 | 16 | 32 | 64;
  signed: boolean;
  endian: 'native' | 'big' | 'little';
}

export interface RecordRefType {
  kind: 'record';
  ref: string;
}

export interface InlineRecordType {
  kind: 'record';
  record: RecordBody;
}

export type FieldType = ScalarType | RecordRefType | InlineRecordType;

export type ArraySpec = { length: number } | { flexible: true; spelling: '[]' | '[0]' | '__DECLARE_FLEX_ARRAY' };

export interface Field {
  /** null for an anonymous struct/union member. */
  name: string | null;
  ctype: string;
  type: FieldType;
  offset: number;
  size: number;
  align: Align;
  array?: ArraySpec;
  alignedAttribute?: Align;
  doc?: string;
  line: number;
}

export interface RecordBody {
  kind: 'struct' | 'union';
  size: number;
  align: Align;
  packed: boolean;
  fields: Field[];
  line: number;
}

export interface NamedRecord {
  name: string;
  kind: 'struct' | 'union';
  file: string;
  line: number;
  external?: boolean;
  size: number;
  align: Align;
  packed: boolean;
  fields: Field[];
  doc?: string;
  /** Layouts on other ABIs, where they differ from this one (the first ABI's). */
  variants?: RecordVariant[];
}

export interface EnumMember {
  name: string;
  value: number;
  expr?: string;
  doc?: string;
  line: number;
}

export interface EnumDef {
  name: string | null;
  file: string;
  line: number;
  doc?: string;
  members: EnumMember[];
}

export type CType = 'int' | 'unsigned int' | 'long' | 'unsigned long' | 'long long' | 'unsigned long long';

export interface Constant {
  name: string;
  /** Exact decimal value; parse with BigInt. */
  value: string;
  ctype: CType;
  expr: string;
  file: string;
  line: number;
  doc?: string;
}

export interface FlagSet {
  name: string;
  description: string;
  prefixes?: string[];
  field?: string;
  auto?: boolean;
  /** `bits`: flags ORed together (codegen emits a mask of them); `values`: an enumeration, commands or special values (no mask). */
  kind: 'bits' | 'values';
  /** Members of a `bits` set that are counts, shifts, bit numbers or bounds, not flags: left out of its mask. */
  counts?: string[];
  members: string[];
}

// ---------------------------------------------------------------------------
// spec/ops.json

export type OpsValue = number | string | string[];

export type ArgKind =
  | 'fd' | 'dirfd' | 'rawFd'
  | 'u8' | 'u16' | 'u32' | 'i32' | 'u64' | 'i64' | 'offset'
  | 'flags'
  | 'buffer' | 'iovecs' | 'cstring' | 'timespec' | 'bytes' | 'sockaddrOut' | 'msghdr' | 'inline'
  | 'opRef' | 'fileIndex' | 'bufIndex' | 'bufGroup' | 'pointer';

export interface OpArg {
  name: string;
  kind: ArgKind;
  field: string;
  /** buffer (without lengthArg): receives byteLength; iovecs: the count; bytes, sockaddrOut: see the schema. */
  lengthField?: string;
  /** buffer: a u32 argument giving the length; its own field is the one written. Never with lengthField. */
  lengthArg?: string;
  minBytes?: number;
  countArg?: string;
  elementSize?: number;
  elementSizeArg?: string;
  /** bytes: a record of the spec whose per-ABI size is the element size (with countArg) or the minimum size. */
  record?: string;
  access?: 'read' | 'write' | 'readwrite';
  flagSet?: string;
  allowUnknownBits?: boolean;
  /** flags: constant names whose bits this builder refuses (resolved from the spec). */
  excludeBits?: string[];
  /** flags: why excludeBits are refused; shown in the error and the docs. */
  excludeReason?: string;
  /** u64: values must be below 2^maxBits. */
  maxBits?: number;
  or?: boolean;
  fixedFlag?: { field: string; value: OpsValue };
  fixedFile?: boolean;
  alloc?: boolean;
  plusOne?: boolean;
  optional?: boolean;
  default?: OpsValue;
  doc: string;
}

export interface OpFixed {
  field: string;
  value: OpsValue;
  why?: string;
}

export interface OpDef {
  builder: string;
  opcode: string;
  liburing: string;
  minKernel: string;
  doc: string;
  result: string;
  cqeFlags?: string;
  multishot?: boolean;
  sqe128?: boolean;
  bufferSelect?: boolean;
  createsFd?: 'fd' | 'fixed' | 'either';
  args: OpArg[];
  fixed?: OpFixed[];
  seeAlso?: string[];
}

export interface OpsFile {
  $schema?: string;
  formatVersion: 1;
  ops: OpDef[];
}
