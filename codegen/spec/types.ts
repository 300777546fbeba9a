/**
 * TypeScript shapes of spec/io_uring.json and spec/ops.json. The JSON Schemas in
 * spec/schema/ are the authority; these types mirror them for the extractor and emitter.
 */

export interface Spec {
  $schema?: string;
  formatVersion: 1;
  provenance: Provenance;
  abi: Abi;
  records: NamedRecord[];
  enums: EnumDef[];
  constants: Constant[];
  flagSets: FlagSet[];
}

export interface Provenance {
  linuxVersionCode: number;
  release: string;
  sha256: string;
  headers: { path: string; sha256: string; lines: number }[];
  extractor: string;
}

export interface Abi {
  name: 'x86_64-linux-gnu' | 'aarch64-linux-gnu';
  endian: 'little';
  pointerSize: 8;
  longSize: 8;
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
