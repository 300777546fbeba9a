/**
 * How C names become TypeScript names. One place, so structs.ts, constants.ts and ops.ts
 * (and the tests that compare them with C) agree.
 */

/** Words of a C identifier, leading underscores dropped: `__kernel_timespec` → kernel, timespec. */
function words(cName: string): string[] {
  return cName.replace(/^_+/, '').split('_').filter((w) => w.length > 0);
}

/** `io_uring_sqe` → `IoUringSqe`; `__kernel_timespec` → `KernelTimespec`. */
export function pascalCase(cName: string): string {
  return words(cName).map((w) => w.charAt(0).toUpperCase() + w.slice(1).toLowerCase()).join('');
}

/** `sq_off` → `sqOff`; `__pad2` → `pad2`. */
export function camelCase(cName: string): string {
  const p = pascalCase(cName);
  return p.charAt(0).toLowerCase() + p.slice(1);
}

/** `io_uring_sqe` → `IO_URING_SQE`; `SetupFlags` → `SETUP_FLAGS`. */
export function upperSnake(name: string): string {
  if (/^[A-Z][A-Za-z0-9]*$/.test(name) && /[a-z]/.test(name)) {
    return name.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase();
  }
  return words(name).join('_').toUpperCase();
}

export const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

/** The longest prefix ending in `_` that all names share (empty when there is none). */
export function commonPrefix(names: readonly string[]): string {
  if (names.length === 0) return '';
  let prefix = names[0] ?? '';
  for (const n of names) {
    while (!n.startsWith(prefix)) prefix = prefix.slice(0, -1);
  }
  const cut = prefix.lastIndexOf('_');
  return cut < 0 ? '' : prefix.slice(0, cut + 1);
}

/**
 * Short member keys for a group of C names (enum members, a flag set): each name without the
 * longest of `prefixes` it starts with. A name keeps its full spelling when stripping would leave
 * nothing, a leading digit, or a key another member already has.
 */
export function shortKeys(names: readonly string[], prefixes: readonly string[]): Map<string, string> {
  const sorted = [...prefixes].sort((a, b) => b.length - a.length);
  const proposed = names.map((n) => {
    const p = sorted.find((pre) => n.startsWith(pre) && n.length > pre.length);
    const short = p === undefined ? n : n.slice(p.length);
    return /^[A-Za-z_]/.test(short) ? short : n;
  });
  const counts = new Map<string, number>();
  for (const k of proposed) counts.set(k, (counts.get(k) ?? 0) + 1);
  const out = new Map<string, string>();
  names.forEach((n, i) => {
    const k = proposed[i] as string;
    out.set(n, (counts.get(k) ?? 0) > 1 ? n : k);
  });
  return out;
}

/** Text safe inside a `/** … *\/` comment. */
export function docText(text: string): string {
  return text.replace(/\*\//g, '*\\/').replace(/@/g, '\\@').trim();
}
