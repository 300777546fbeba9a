/**
 * The sockaddr encoder/decoder against C: offsets and sizes of `struct sockaddr_in` and
 * `sockaddr_in6` from `<netinet/in.h>`, and whole byte images filled by C with `inet_pton`
 * and `htons`, compared with ours both ways. Plus the text forms Node prints.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { SocketAddress } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ArgumentError } from '../../src/errors.js';
import { AF_INET, AF_INET6, decodeSockaddr, encodeSockaddr, SOCKADDR_IN6_SIZE, SOCKADDR_IN_SIZE, SOCKADDR_OFFSETS, SOCKADDR_STORAGE_SIZE } from '../../src/net/sockaddr.js';
import { findCCompiler } from '../support/cc.js';

const compiler = findCCompiler();
let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'tsuring-sockaddr-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function run(source: string): string {
  const src = join(dir, 'p.c');
  writeFileSync(src, source);
  execFileSync(compiler!, ['-std=gnu11', '-O0', '-Wall', '-Werror', '-o', `${src}.out`, src], { stdio: ['ignore', 'pipe', 'pipe'] });
  return execFileSync(`${src}.out`, { encoding: 'utf8' });
}

const V4 = [['127.0.0.1', 80], ['0.0.0.0', 0], ['255.255.255.255', 65535], ['10.1.2.3', 8443]] as const;
const V6 = [
  ['::1', 443, 0, 0],
  ['::', 0, 0, 0],
  ['fe80::1', 1234, 0x12345, 2],
  ['2001:db8::8a2e:370:7334', 65535, 0xfffff, 0],
  ['::ffff:192.168.0.1', 22, 0, 0],
  ['1:2:3:4:5:6:7:8', 1, 0, 0],
  ['2001:db8:0:0:1::1', 7, 0, 0],
] as const;

describe.skipIf(compiler === null)('against <netinet/in.h>', () => {
  it('sizes, offsets and family values match C', () => {
    const out = run(`#include <stddef.h>
#include <stdio.h>
#include <sys/socket.h>
#include <netinet/in.h>
int main(void) {
  printf("%zu %zu %zu %zu %zu\\n", sizeof(struct sockaddr_in), offsetof(struct sockaddr_in, sin_family), offsetof(struct sockaddr_in, sin_port), offsetof(struct sockaddr_in, sin_addr), sizeof(struct sockaddr_storage));
  printf("%zu %zu %zu %zu %zu %zu\\n", sizeof(struct sockaddr_in6), offsetof(struct sockaddr_in6, sin6_family), offsetof(struct sockaddr_in6, sin6_port), offsetof(struct sockaddr_in6, sin6_flowinfo), offsetof(struct sockaddr_in6, sin6_addr), offsetof(struct sockaddr_in6, sin6_scope_id));
  printf("%d %d\\n", AF_INET, AF_INET6);
  return 0;
}
`);
    const [a, b, c] = out.trim().split('\n').map((l) => l.split(' ').map(Number));
    expect(a).toEqual([SOCKADDR_IN_SIZE, SOCKADDR_OFFSETS.sin_family, SOCKADDR_OFFSETS.sin_port, SOCKADDR_OFFSETS.sin_addr, SOCKADDR_STORAGE_SIZE]);
    expect(b).toEqual([SOCKADDR_IN6_SIZE, SOCKADDR_OFFSETS.sin6_family, SOCKADDR_OFFSETS.sin6_port, SOCKADDR_OFFSETS.sin6_flowinfo, SOCKADDR_OFFSETS.sin6_addr, SOCKADDR_OFFSETS.sin6_scope_id]);
    expect(c).toEqual([AF_INET, AF_INET6]);
  });

  it('byte images equal what C fills with inet_pton and htons, and decode back', () => {
    const v4 = V4.map(([a, p]) => `  { struct sockaddr_in s; memset(&s, 0, sizeof s); s.sin_family = AF_INET; s.sin_port = htons(${p}); inet_pton(AF_INET, "${a}", &s.sin_addr); dump(&s, sizeof s); }`);
    const v6 = V6.map(([a, p, flow, scope]) => `  { struct sockaddr_in6 s; memset(&s, 0, sizeof s); s.sin6_family = AF_INET6; s.sin6_port = htons(${p}); s.sin6_flowinfo = htonl(${flow}); s.sin6_scope_id = ${scope}; inet_pton(AF_INET6, "${a}", &s.sin6_addr); dump(&s, sizeof s); }`);
    const out = run(`#include <stdio.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
static void dump(const void *p, size_t n) { const unsigned char *b = p; for (size_t i = 0; i < n; i++) printf("%02x", b[i]); printf("\\n"); }
int main(void) {
${v4.join('\n')}
${v6.join('\n')}
  return 0;
}
`);
    const images = out.trim().split('\n');
    V4.forEach(([address, port], i) => {
      const ours = encodeSockaddr({ address, port });
      expect(Buffer.from(ours).toString('hex')).toBe(images[i]);
      expect(decodeSockaddr(Buffer.from(images[i]!, 'hex'))).toEqual({ address, family: 'IPv4', port });
    });
    V6.forEach(([address, port, flowlabel, scope], j) => {
      const text = scope === 0 ? address : `${address}%${scope}`;
      const ours = encodeSockaddr({ address: text, port, flowlabel });
      const image = images[V4.length + j]!;
      expect(Buffer.from(ours).toString('hex')).toBe(image);
      const back = decodeSockaddr(Buffer.from(image, 'hex'))!;
      expect(back.family).toBe('IPv6');
      expect(back.port).toBe(port);
      expect(back.flowlabel).toBe(flowlabel);
      expect(back.scopeId).toBe(scope);
      // The text form is RFC 5952's, as Node prints it (SocketAddress normalises the same way).
      const canonical = new SocketAddress({ address, family: 'ipv6' }).address;
      expect(back.address).toBe(scope === 0 ? canonical : `${canonical}%${scope}`);
    });
  });
});

describe('encode and decode', () => {
  it('takes a net.SocketAddress', () => {
    const sa = new SocketAddress({ address: '192.168.1.2', port: 99 });
    expect(decodeSockaddr(encodeSockaddr(sa))).toEqual({ address: '192.168.1.2', family: 'IPv4', port: 99 });
    const sa6 = new SocketAddress({ address: '::1', port: 5, family: 'ipv6', flowlabel: 3 });
    expect(decodeSockaddr(encodeSockaddr(sa6))).toMatchObject({ address: '::1', port: 5, flowlabel: 3 });
  });

  it('refuses host names, bad ports, named zones, a family that does not fit', () => {
    const bad: Array<[unknown, RegExp]> = [
      [{ address: 'localhost', port: 1 }, /host names are not resolved/],
      [{ address: '1.2.3.4', port: -1 }, /port/],
      [{ address: '1.2.3.4', port: 1.5 }, /port/],
      [{ address: '1.2.3.4', port: 65536 }, /port/],
      [{ address: 'fe80::1%eth0', port: 1 }, /numeric interface index/],
      [{ address: '::1', port: 1, family: 'ipv4' }, /IPv4 address/],
      [{ address: 7, port: 1 }, /address/],
      [null, /expected/],
    ];
    for (const [value, message] of bad) {
      expect(() => encodeSockaddr(value as never)).toThrow(ArgumentError);
      expect(() => encodeSockaddr(value as never)).toThrow(message);
    }
  });

  it('decodes nothing it does not know: other families, truncated lengths', () => {
    const unix = new Uint8Array(110);
    unix[0] = 1;
    expect(decodeSockaddr(unix)).toBeNull();
    expect(decodeSockaddr(encodeSockaddr({ address: '::1', port: 1 }), 20)).toBeNull();
    expect(decodeSockaddr(new Uint8Array(1))).toBeNull();
  });
});
