/**
 * Text rendering of a {@link ProbeReport}: aligned tables, or a few summary lines.
 *
 * @module
 */
import type { ProbeReport } from './probe.js';

/** Left-aligned columns, two spaces apart, each row indented by two. */
function table(header: readonly string[], rows: readonly (readonly string[])[], rightAligned: ReadonlySet<number> = new Set()): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]): string =>
    `  ${cells
      .map((c, i) => (i === cells.length - 1 ? c : rightAligned.has(i) ? c.padStart(widths[i]!) : c.padEnd(widths[i]!)))
      .join('  ')}`.trimEnd();
  return [line(header), ...rows.map(line)];
}

function describeDisabled(report: ProbeReport): string {
  const { disabled, group } = report.status;
  switch (disabled) {
    case 0:
      return '0 (any process may create rings)';
    case 1:
      return `1 (only CAP_SYS_ADMIN${group !== null && group >= 0 ? ` or group ${group}` : ''} may create rings)`;
    case 2:
      return '2 (io_uring is disabled for every process)';
    default:
      return 'not present (a kernel before 6.6, or /proc not mounted)';
  }
}

function describeSeccomp(report: ProbeReport): string {
  switch (report.status.seccompMode) {
    case 0:
      return 'none';
    case 1:
      return 'strict mode';
    case 2:
      return `filter (${report.status.seccompFilters ?? '?'} stacked); it may refuse io_uring with EPERM or ENOSYS`;
    default:
      return 'unknown (/proc/self/status unreadable)';
  }
}

function headerLines(report: ProbeReport, version: string): string[] {
  return [
    `tsuring ${version} probe: Linux ${report.kernelRelease} (${report.arch}), Node ${report.node}; spec from Linux ${report.specRelease ?? '(unknown)'} headers`,
    '',
    `io_uring: ${report.available ? 'available' : `NOT available (${report.error?.code ?? 'unknown error'})`}`,
    `  kernel.io_uring_disabled  ${describeDisabled(report)}`,
    `  kernel.io_uring_group     ${report.status.group === null ? 'not present' : report.status.group < 0 ? '-1 (no group)' : `${report.status.group}${report.status.inGroup ? ' (this process is in it)' : ' (this process is not in it)'}`}`,
    `  seccomp                   ${describeSeccomp(report)}`,
  ];
}

function counts(report: ProbeReport): { ops: string; flags: string; features: string; register: string } {
  const ops = report.opcodes.filter((o) => o.supported).length;
  const flags = report.setupFlags.filter((f) => f.verdict === 'accepted').length;
  const features = report.features.filter((f) => f.reported).length;
  const reg = report.registerOps.filter((r) => r.verdict === 'yes').length;
  const notProbed = report.registerOps.filter((r) => r.verdict === 'not probed').length;
  return {
    ops: `${ops} of ${report.opcodes.length} supported${report.kernelLastOp !== null ? ` (the kernel's last opcode is ${report.kernelLastOp})` : ''}`,
    flags: `${flags} of ${report.setupFlags.length} accepted`,
    features: `${features} of ${report.features.length} reported${report.unknownFeatureBits !== 0 ? `, plus bits the spec does not name: 0x${report.unknownFeatureBits.toString(16)}` : ''}`,
    register: `${reg} of ${report.registerOps.length} known to the kernel${notProbed > 0 ? `, ${notProbed} not probed` : ''}`,
  };
}

/** The full report: every opcode, setup flag, feature and register opcode against the spec. */
export function formatProbe(report: ProbeReport, version: string): string {
  const out = headerLines(report, version);
  if (!report.available) {
    out.push('', report.error?.message ?? '');
    return `${out.join('\n')}\n`;
  }
  const c = counts(report);
  out.push('', `Opcodes (IORING_REGISTER_PROBE): ${c.ops}`);
  out.push(...table(['op', 'name', 'kernel', 'since'], report.opcodes.map((o) => [String(o.opcode), o.name, o.supported ? 'yes' : 'no', o.minKernel ?? '-']), new Set([0])));
  out.push('', `Setup flags (each tried alone on a throwaway ring): ${c.flags}`);
  out.push(
    ...table(
      ['flag', 'value', 'kernel'],
      report.setupFlags.map((f) => [
        f.name,
        `0x${f.value.toString(16)}`,
        `${f.verdict === 'accepted' ? 'accepted' : `${f.verdict} (${f.code})`}${f.with.length > 0 ? ` (with ${f.with.join(' | ')})` : ''}`,
      ]),
    ),
  );
  out.push('', `Features (IORING_FEAT_* reported by io_uring_setup): ${c.features}`);
  out.push(...table(['feature', 'value', 'kernel'], report.features.map((f) => [f.name, `0x${f.value.toString(16)}`, f.reported ? 'yes' : 'no'])));
  out.push('', `Register opcodes: ${c.register}`);
  out.push(
    '  (no kernel before IORING_REGISTER_QUERY can list them: each is called once, harmlessly, so that a known opcode',
    '   answers EFAULT/ENXIO/EBADFD or succeeds without lasting effect, and an unknown one answers EINVAL)',
  );
  out.push(...table(['op', 'name', 'kernel', 'answer'], report.registerOps.map((r) => [String(r.opcode), r.name, r.verdict, r.answer ?? '-']), new Set([0])));
  if (report.query !== null) {
    const q = report.query;
    out.push('', `IORING_REGISTER_QUERY: ${q.requestOpcodes} opcodes, ${q.registerOpcodes} register opcodes; setup flags ${q.setupFlags}, features ${q.featureFlags}, enter flags ${q.enterFlags}, SQE flags ${q.sqeFlags}`);
  }
  return `${out.join('\n')}\n`;
}

/** A few lines: availability, counts, and what the kernel lacks. */
export function formatProbeSummary(report: ProbeReport, version: string): string {
  const out = headerLines(report, version);
  if (!report.available) {
    out.push('', report.error?.message ?? '');
    return `${out.join('\n')}\n`;
  }
  const c = counts(report);
  const missingOps = report.opcodes.filter((o) => !o.supported).map((o) => `${o.name.replace('IORING_OP_', '')}${o.minKernel !== null ? ` (${o.minKernel})` : ''}`);
  const refused = report.setupFlags.filter((f) => f.verdict !== 'accepted').map((f) => f.name.replace('IORING_SETUP_', ''));
  const noFeature = report.features.filter((f) => !f.reported).map((f) => f.name.replace('IORING_FEAT_', ''));
  const noRegister = report.registerOps.filter((r) => r.verdict !== 'yes').map((r) => r.name.replace('IORING_', ''));
  const list = (what: string, items: string[]): string => (items.length === 0 ? '' : `; ${what}: ${items.join(', ')}`);
  out.push(
    `  opcodes                   ${c.ops}${list('missing', missingOps)}`,
    `  setup flags               ${c.flags}${list('refused', refused)}`,
    `  features                  ${c.features}${list('not reported', noFeature)}`,
    `  register opcodes          ${c.register}${list('unknown', noRegister)}`,
  );
  return `${out.join('\n')}\n`;
}
