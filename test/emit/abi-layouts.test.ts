/**
 * Records laid out per architecture (struct epoll_event: 12 bytes packed on x86-64, 16 on arm64
 * and riscv64) are picked by process.arch when generated/ loads, so prepEpollWait's buffer check
 * and the EpollEvent accessor use the running machine's layout. Each case runs in a child process
 * that sets process.arch before importing generated/ (the choice is made once, at load).
 */
import { describe, expect, it } from 'vitest';
import { loadSpec } from '../../codegen/spec/load.js';
import { lastJson, runChild } from '../support/child.js';

const snippet = (arch: string): string => `
Object.defineProperty(process, 'arch', { value: '${arch}' });
const { SIZEOF_EPOLL_EVENT, EpollEvent } = await import('@repo/generated/structs.js');
const { prepEpollWait, prepEpollCtl } = await import('@repo/generated/ops.js');
const target = (size: number) => ({ view: new DataView(new ArrayBuffer(64)), offset: 0, size: 64, pin: () => 0x1000 });
const attempt = (fn: () => void): string | null => { try { fn(); return null; } catch (err) { return (err as Error).message; } };
const mem = new Uint8Array(32);
let layout: unknown = null;
const accessor = attempt(() => {
  const ev = new EpollEvent(mem);
  ev.events = 0x11; ev.data = 0x2233;
  layout = { data: EpollEvent.OFFSETS?.data, bytes: Buffer.from(mem.subarray(0, 16)).toString('hex') };
});
console.log(JSON.stringify({
  size: SIZEOF_EPOLL_EVENT ?? null,
  accessor, layout,
  two16: attempt(() => prepEpollWait(target(64), 5, new Uint8Array(32), 2)),
  two12: attempt(() => prepEpollWait(target(64), 5, new Uint8Array(24), 2)),
  ctl12: attempt(() => prepEpollCtl(target(64), 5, 6, 1, new Uint8Array(12))),
}));
`;

type Result = { size: number | null; accessor: string | null; layout: { data: number; bytes: string } | null; two16: string | null; two12: string | null; ctl12: string | null };

describe('per-architecture layouts in generated code', () => {
  it('the spec has epoll_event for x86-64 and a 16-byte variant for arm64 and riscv64', () => {
    const epoll = loadSpec().records.find((r) => r.name === 'epoll_event')!;
    expect([epoll.size, epoll.packed]).toEqual([12, true]);
    expect(epoll.variants).toEqual([expect.objectContaining({ abis: ['aarch64-linux-gnu', 'riscv64-linux-gnu'], size: 16, align: 8, packed: false })]);
  });

  it('x64: 12-byte events, data at offset 4', async () => {
    const r = lastJson<Result>(await runChild(snippet('x64'), { timeoutMs: 60_000 }));
    expect(r.size).toBe(12);
    expect(r.layout).toEqual({ data: 4, bytes: `11000000${'33220000'}${'00000000'}${'00000000'}` });
    expect([r.two16, r.two12, r.ctl12]).toEqual([null, null, null]);
  });

  for (const arch of ['arm64', 'riscv64']) {
    it(`${arch}: 16-byte events, data at offset 8; a buffer sized for x86-64's 12-byte events is refused`, async () => {
      const r = lastJson<Result>(await runChild(snippet(arch), { timeoutMs: 60_000 }));
      expect(r.size).toBe(16);
      expect(r.layout).toEqual({ data: 8, bytes: `11000000${'00000000'}${'33220000'}${'00000000'}` });
      expect(r.two16).toBeNull();
      expect(r.two12).toMatch(/prepEpollWait: events: 2 × 16 bytes run past the end of the buffer \(24 bytes\)/);
      expect(r.ctl12).toMatch(/prepEpollCtl: event/);
    });
  }

  it('an architecture the spec has no layout for: the builder and the accessor refuse, naming it', async () => {
    const r = lastJson<Result>(await runChild(snippet('s390x'), { timeoutMs: 60_000 }));
    expect(r.size).toBeNull();
    expect(r.accessor).toMatch(/struct epoll_event: this build has no layout for process.arch 's390x' \(the spec has x64, arm64, riscv64\)/);
    expect(r.two16).toMatch(/prepEpollWait: events: this build has no layout of struct epoll_event for process.arch 's390x'/);
  });
});
