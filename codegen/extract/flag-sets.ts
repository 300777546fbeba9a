/**
 * Groups constants and anonymous-enum members into named flag sets. A curated table maps
 * name prefixes to sets (the longest matching prefix wins); names no rule covers go into an
 * automatic set named after their common prefix, marked `auto: true`, so nothing is dropped
 * and codegen can report what the table lacks.
 */
import type { FlagSet } from '../spec/types.js';

/** One curated set. */
export interface FlagSetRule {
  name: string;
  description: string;
  /** Name prefixes (a full name is a prefix of itself). */
  prefixes: string[];
  /** Only names ending so (e.g. `_BIT`), to split bit numbers from the flags sharing their prefix. */
  suffix?: string;
  /** Where the values go, as `record.field`; emitted only when that field exists in the spec. */
  field?: string;
  /** `values` for an enumeration, commands, offsets or special values: no mask. Left out: decided by {@link classifyFlagSets}. */
  kind?: 'bits' | 'values';
}

/** The curated rules. Order does not matter: the longest matching prefix wins. */
export const FLAG_SET_RULES: readonly FlagSetRule[] = [
  { name: 'SetupFlags', prefixes: ['IORING_SETUP_'], field: 'io_uring_params.flags', description: 'Flags for io_uring_setup(2), in io_uring_params.flags.' },
  { name: 'EnterFlags', prefixes: ['IORING_ENTER_'], description: 'Flags for io_uring_enter(2).' },
  { name: 'FeatureFlags', prefixes: ['IORING_FEAT_'], field: 'io_uring_params.features', description: 'Features the kernel reports in io_uring_params.features.' },
  { name: 'SqeFlags', prefixes: ['IOSQE_'], field: 'io_uring_sqe.flags', description: 'Per-SQE flags (sqe->flags).' },
  { name: 'SqeFlagBits', kind: 'values', prefixes: ['IOSQE_'], suffix: '_BIT', description: 'Bit numbers of the SQE flags.' },
  { name: 'CqeFlags', prefixes: ['IORING_CQE_F_', 'IORING_CQE_BUFFER_SHIFT'], field: 'io_uring_cqe.flags', description: 'Flags in cqe->flags, and the shift of the buffer ID in its upper bits.' },
  { name: 'SqRingFlags', prefixes: ['IORING_SQ_'], description: 'Flags the kernel sets in the SQ ring flags word.' },
  { name: 'CqRingFlags', prefixes: ['IORING_CQ_'], description: 'Flags in the CQ ring flags word.' },
  { name: 'TimeoutFlags', prefixes: ['IORING_TIMEOUT_', 'IORING_LINK_TIMEOUT_UPDATE'], field: 'io_uring_sqe.timeout_flags', description: 'Flags for TIMEOUT, TIMEOUT_REMOVE and LINK_TIMEOUT (sqe->timeout_flags).' },
  { name: 'PollFlags', prefixes: ['IORING_POLL_'], field: 'io_uring_sqe.len', description: 'POLL_ADD and POLL_REMOVE command flags, stored in sqe->len.' },
  { name: 'AsyncCancelFlags', prefixes: ['IORING_ASYNC_CANCEL_'], field: 'io_uring_sqe.cancel_flags', description: 'ASYNC_CANCEL flags (sqe->cancel_flags).' },
  {
    name: 'RecvSendFlags',
    prefixes: ['IORING_RECVSEND_', 'IORING_RECV_MULTISHOT', 'IORING_SEND_ZC_REPORT_USAGE', 'IORING_SEND_VECTORIZED'],
    field: 'io_uring_sqe.ioprio',
    description: 'send/sendmsg and recv/recvmsg flags, stored in sqe->ioprio.',
  },
  { name: 'AcceptFlags', prefixes: ['IORING_ACCEPT_'], field: 'io_uring_sqe.ioprio', description: 'ACCEPT flags, stored in sqe->ioprio.' },
  { name: 'MsgRingFlags', prefixes: ['IORING_MSG_RING_'], field: 'io_uring_sqe.msg_ring_flags', description: 'MSG_RING flags (sqe->msg_ring_flags).' },
  { name: 'MsgRingCommands', kind: 'values', prefixes: ['IORING_MSG_DATA', 'IORING_MSG_SEND_FD'], field: 'io_uring_sqe.addr', description: 'MSG_RING command types, stored in sqe->addr.' },
  { name: 'NopFlags', prefixes: ['IORING_NOP_'], field: 'io_uring_sqe.nop_flags', description: 'NOP flags (sqe->nop_flags).' },
  { name: 'FsyncFlags', prefixes: ['IORING_FSYNC_'], field: 'io_uring_sqe.fsync_flags', description: 'FSYNC flags (sqe->fsync_flags).' },
  { name: 'UringCmdFlags', prefixes: ['IORING_URING_CMD_'], field: 'io_uring_sqe.uring_cmd_flags', description: 'URING_CMD flags (sqe->uring_cmd_flags).' },
  { name: 'FixedFdInstallFlags', prefixes: ['IORING_FIXED_FD_'], field: 'io_uring_sqe.install_fd_flags', description: 'FIXED_FD_INSTALL flags (sqe->install_fd_flags).' },
  { name: 'SpliceFlags', prefixes: ['SPLICE_F_'], field: 'io_uring_sqe.splice_flags', description: 'io_uring additions to the splice(2) flags (sqe->splice_flags).' },
  { name: 'FileIndexValues', kind: 'values', prefixes: ['IORING_FILE_INDEX_'], field: 'io_uring_sqe.file_index', description: 'Special values of sqe->file_index.' },
  { name: 'NotifUsageFlags', prefixes: ['IORING_NOTIF_USAGE_'], field: 'io_uring_cqe.res', description: 'Bits in cqe->res of a zero-copy send notification.' },
  { name: 'MmapOffsets', kind: 'values', prefixes: ['IORING_OFF_'], description: 'mmap(2) offsets of the rings, the SQE array and provided-buffer rings.' },
  { name: 'RegisterOps', kind: 'values', prefixes: ['IORING_REGISTER_', 'IORING_UNREGISTER_'], description: 'io_uring_register(2) opcodes.' },
  { name: 'CloneBuffersFlags', prefixes: ['IORING_REGISTER_SRC_', 'IORING_REGISTER_DST_'], field: 'io_uring_clone_buffers.flags', description: 'Flags for IORING_REGISTER_CLONE_BUFFERS.' },
  { name: 'FilesUpdateValues', kind: 'values', prefixes: ['IORING_REGISTER_FILES_SKIP'], description: 'Special descriptor values in a files-update array.' },
  { name: 'RsrcRegisterFlags', prefixes: ['IORING_RSRC_REGISTER_'], field: 'io_uring_rsrc_register.flags', description: 'Flags for registering files and buffers (io_uring_rsrc_register.flags).' },
  { name: 'ProbeOpFlags', prefixes: ['IO_URING_OP_'], field: 'io_uring_probe_op.flags', description: 'Flags of one opcode in an IORING_REGISTER_PROBE result.' },
  { name: 'RestrictionOps', kind: 'values', prefixes: ['IORING_RESTRICTION_'], field: 'io_uring_restriction.opcode', description: 'Kinds of restriction for IORING_REGISTER_RESTRICTIONS.' },
  { name: 'IoWqTypes', kind: 'values', prefixes: ['IO_WQ_'], description: 'io-wq worker categories.' },
  { name: 'RwAttrFlags', prefixes: ['IORING_RW_ATTR_FLAG_'], field: 'io_uring_sqe.attr_type_mask', description: 'Attribute types for read/write (sqe->attr_type_mask).' },
  { name: 'TxTimestampBits', kind: 'values', prefixes: ['IORING_TIMESTAMP_'], description: 'Where SOCKET_URING_OP_TX_TIMESTAMP completions keep the timestamp type in cqe->flags.' },
  { name: 'ZcrxAreaBits', prefixes: ['IORING_ZCRX_AREA_SHIFT', 'IORING_ZCRX_AREA_MASK'], field: 'io_uring_zcrx_rqe.off', description: 'How the zero-copy receive area id is encoded in offsets.' },
  { name: 'MemRegionTypes', prefixes: ['IORING_MEM_REGION_TYPE_'], field: 'io_uring_region_desc.flags', description: 'Flags of a memory region descriptor.' },
  { name: 'MemRegionRegFlags', prefixes: ['IORING_MEM_REGION_REG_'], field: 'io_uring_mem_region_reg.flags', description: 'Flags for IORING_REGISTER_MEM_REGION.' },
  { name: 'RegWaitFlags', prefixes: ['IORING_REG_WAIT_'], field: 'io_uring_reg_wait.flags', description: 'Flags of a registered wait argument.' },
  { name: 'PbufRingFlags', prefixes: ['IOU_PBUF_RING_'], field: 'io_uring_buf_reg.flags', description: 'Flags for IORING_REGISTER_PBUF_RING.' },
  { name: 'BpfFilterFlags', prefixes: ['IO_URING_BPF_FILTER_'], field: 'io_uring_bpf_filter.flags', description: 'Flags of an io_uring BPF filter.' },
  { name: 'BpfCommands', kind: 'values', prefixes: ['IO_URING_BPF_CMD_'], field: 'io_uring_bpf.cmd_type', description: 'Commands of IORING_REGISTER_BPF_FILTER.' },
  { name: 'QueryOps', kind: 'values', prefixes: ['IO_URING_QUERY_', '__IO_URING_QUERY_MAX'], field: 'io_uring_query_hdr.query_op', description: 'IORING_REGISTER_QUERY operations.' },
  { name: 'MockFeatures', kind: 'values', prefixes: ['IORING_MOCK_FEAT_'], description: 'Feature numbers of the io_uring mock file driver (testing only).' },
  { name: 'MockCreateFlags', prefixes: ['IORING_MOCK_CREATE_F_'], field: 'io_uring_mock_create.flags', description: 'Flags for creating a mock file (testing only).' },
  { name: 'MockManagerCommands', kind: 'values', prefixes: ['IORING_MOCK_MGR_CMD_'], description: 'Mock file manager commands (testing only).' },
  { name: 'MockCommands', kind: 'values', prefixes: ['IORING_MOCK_CMD_'], description: 'Mock file commands (testing only).' },
  { name: 'MockCopyFlags', prefixes: ['IORING_MOCK_COPY_'], description: 'Flags of the mock file copy command (testing only).' },
];

/** A set as grouping makes it, before {@link classifyFlagSets} gives it its kind. */
export type GroupedFlagSet = Omit<FlagSet, 'kind' | 'counts'>;

/** Names that are counts, shifts, bit numbers or bounds, not flags, whatever their value. */
export const COUNT_NAME = /(_SHIFT|_BIT|_BITS|_MAX|_NR|_COUNT|_SIZE|_BYTES|_LAST|_END|_LEN)$|^__\w+_MAX$/;
/** Names of composite masks: a non-power-of-two value is expected there. */
const MASK_NAME = /(_MASK|_ALL|_ANY)$/;

/**
 * Decides each set's kind. A rule may say; otherwise a set is `values` when its members come
 * from an enum with implicit (counted) values, or when a member other than a named composite
 * mask is not a single bit; `bits` otherwise. In a `bits` set, members named like counts
 * (COUNT_NAME) are recorded in `counts` and stay out of the mask: a mixed set (`FOO_MAX = 16`
 * next to `FOO_F_A = 1`) no longer yields a mask with the count's bit in it, and the change
 * report names it.
 * @param values every constant's and enum member's value
 * @param implicit enum members whose value was counted, not written
 */
export function classifyFlagSets(sets: readonly GroupedFlagSet[], values: ReadonlyMap<string, bigint>, implicit: ReadonlySet<string>, rules: readonly FlagSetRule[] = FLAG_SET_RULES): FlagSet[] {
  return sets.map((set) => {
    const { members, ...rest } = set;
    const rule = set.auto === true ? undefined : rules.find((r) => r.name === set.name);
    const counts = members.filter((m) => COUNT_NAME.test(m));
    const flags = members.filter((m) => !COUNT_NAME.test(m));
    const single = (v: bigint): boolean => v >= 0n && (v & (v - 1n)) === 0n;
    let kind: 'bits' | 'values' = rule?.kind ?? 'bits';
    if (rule?.kind === undefined) {
      if (flags.length === 0 || flags.some((m) => implicit.has(m))) kind = 'values';
      else if (flags.some((m) => !MASK_NAME.test(m) && !single(values.get(m) ?? 0n))) kind = 'values';
    }
    return { ...rest, kind, ...(kind === 'bits' && counts.length > 0 ? { counts } : {}), members };
  });
}

/** A name to place, in source order. */
export interface FlagCandidate {
  name: string;
  /** Names from the same anonymous enum, or the same run of defines, share a key (auto sets form within it). */
  sourceGroup: string;
  /** The group header standing above this name, if any. */
  header?: string;
}

/** The rule a name falls under: the longest matching prefix; at equal length, a rule with a matching suffix. */
export function ruleFor(name: string, rules: readonly FlagSetRule[] = FLAG_SET_RULES): FlagSetRule | undefined {
  let best: { rule: FlagSetRule; length: number; suffix: boolean } | undefined;
  for (const rule of rules) {
    if (rule.suffix !== undefined && !name.endsWith(rule.suffix)) continue;
    for (const prefix of rule.prefixes) {
      if (!name.startsWith(prefix)) continue;
      const candidate = { rule, length: prefix.length, suffix: rule.suffix !== undefined };
      if (!best || candidate.length > best.length || (candidate.length === best.length && candidate.suffix && !best.suffix)) best = candidate;
    }
  }
  return best?.rule;
}

/** The longest common prefix of whole `_`-separated words, ending in `_`, that leaves each name a word of its own. */
function commonWordPrefix(names: readonly string[]): string {
  const split = names.map((n) => n.split('_'));
  const shortest = Math.min(...split.map((w) => w.length));
  let words = 0;
  while (words < shortest - 1 && split.every((w) => w[words] === split[0]![words])) words++;
  return words === 0 ? '' : `${split[0]!.slice(0, words).join('_')}_`;
}

// A prefix that only says "io_uring" does not make unrelated names one group.
const NAMESPACE_PREFIX = /^(_*)(IORING|IO_URING|IOU|IOSQE|IO)_$/;
const meaningful = (prefix: string): boolean => prefix !== '' && !NAMESPACE_PREFIX.test(prefix);

/** Splits names into groups that each share a meaningful common prefix (or are alone). */
function prefixGroups(names: readonly string[]): { prefix: string; names: string[] }[] {
  if (names.length === 1) {
    const name = names[0]!;
    const shorter = name.includes('_') ? name.slice(0, name.lastIndexOf('_') + 1) : '';
    return [{ prefix: meaningful(shorter) ? shorter : name, names: [name] }];
  }
  const prefix = commonWordPrefix(names);
  if (meaningful(prefix)) return [{ prefix, names: [...names] }];
  // Split on the first word after the shared namespace part.
  const byWord = new Map<string, string[]>();
  for (const n of names) {
    const key = n.slice(prefix.length).split('_').find((w) => w !== '') ?? n;
    byWord.set(key, [...(byWord.get(key) ?? []), n]);
  }
  if (byWord.size === 1) return names.flatMap((n) => prefixGroups([n]));
  return [...byWord.values()].flatMap((group) => prefixGroups(group));
}

function pascalCase(prefix: string): string {
  const words = prefix.replace(/^(IORING|IO_URING|IOU)_/, '').split('_').filter((w) => w !== '');
  const name = words.map((w) => w[0]!.toUpperCase() + w.slice(1).toLowerCase()).join('');
  if (name === '') return 'Misc';
  return /^[A-Z]/.test(name) ? name : `X${name}`;
}

/**
 * Places every candidate in exactly one set.
 * @param candidates constants and anonymous-enum members in source order
 * @param hasField tells whether `record.field` exists, so a rule's field is only emitted where it does
 */
export function groupFlagSets(candidates: readonly FlagCandidate[], hasField: (path: string) => boolean, rules: readonly FlagSetRule[] = FLAG_SET_RULES): GroupedFlagSet[] {
  interface Building { set: GroupedFlagSet; order: number }
  const sets = new Map<string, Building>();
  const headers = new Map(candidates.filter((c) => c.header !== undefined).map((c) => [c.name, c.header!]));
  let order = 0;
  const add = (key: string, make: () => GroupedFlagSet, member: string): void => {
    let b = sets.get(key);
    if (!b) {
      b = { set: make(), order: order++ };
      sets.set(key, b);
    }
    b.set.members.push(member);
  };

  const unmatched: FlagCandidate[] = [];
  const autoKeyOf = new Map<string, string>();
  for (const c of candidates) {
    if (!ruleFor(c.name, rules)) unmatched.push(c);
  }
  const bySourceGroup = new Map<string, string[]>();
  for (const c of unmatched) bySourceGroup.set(c.sourceGroup, [...(bySourceGroup.get(c.sourceGroup) ?? []), c.name]);
  for (const names of bySourceGroup.values()) {
    for (const g of prefixGroups(names)) for (const n of g.names) autoKeyOf.set(n, g.prefix);
  }

  const autoNames = new Map<string, string>();
  const autoNameFor = (prefix: string): string => {
    const existing = autoNames.get(prefix);
    if (existing) return existing;
    const taken = new Set([...rules.map((r) => r.name), ...autoNames.values()]);
    const base = pascalCase(prefix);
    let name = taken.has(base) ? `${base}Values` : base;
    for (let i = 2; taken.has(name); i++) name = `${base}${i}`;
    autoNames.set(prefix, name);
    return name;
  };

  for (const c of candidates) {
    const rule = ruleFor(c.name, rules);
    if (rule) {
      add(`rule:${rule.name}`, () => {
        const field = rule.field !== undefined && hasField(rule.field) ? { field: rule.field } : {};
        return { name: rule.name, description: rule.description, prefixes: [...rule.prefixes], ...field, members: [] };
      }, c.name);
      continue;
    }
    const prefix = autoKeyOf.get(c.name)!;
    add(`auto:${prefix}`, () => ({
      name: autoNameFor(prefix),
      description: `Constants named ${prefix}${prefix.endsWith('_') ? '*' : ''}, which no rule in codegen/extract/flag-sets.ts covers; grouped automatically by prefix.`,
      prefixes: [prefix],
      auto: true,
      members: [],
    }), c.name);
  }

  const result = [...sets.values()].sort((a, b) => a.order - b.order).map((b) => b.set);
  // A group header above one of a set's names describes the set (the first such header wins).
  for (const set of result) {
    const header = set.members.map((m) => headers.get(m)).find((h) => h !== undefined);
    if (header !== undefined) set.description = header;
  }
  return result;
}
