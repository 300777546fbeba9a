/**
 * RecvmsgOut: the layout a multishot RECVMSG writes into each provided buffer (liburing's
 * io_uring_recvmsg_validate / _name / _cmsg_firsthdr / _cmsg_nexthdr / _payload /
 * _payload_length), parsed from real datagrams on 127.0.0.1 with two control messages, a
 * datagram cut short, and buffers that lie.
 */
import { createSocket, type Socket } from 'node:dgram';
import { once } from 'node:events';
import { afterEach, describe, expect, it } from 'vitest';
import { prepRecvmsgMultishot } from '../../generated/ops.js';
import { MsgHdr } from '../../src/abi/msghdr.js';
import { RecvmsgOut, type RecvmsgCmsg } from '../../src/abi/recvmsg-out.js';
import { decodeSockaddr, encodeSockaddr } from '../../src/net/sockaddr.js';
import { localAddress } from '../../src/net/socket-names.js';
import { BufferRing } from '../../src/register/provided.js';
import { IoUring } from '../../src/ring/ring.js';
import { closeFd } from '../../src/sys/libc.js';
import { bindSync, setsockoptInt, socketSync } from '../../src/sys/posix.js';
import { kernelAtLeast, waitUntil } from '../register/helpers.js';

const AF_INET = 2;
const SOCK_DGRAM = 2;
const SOCK_CLOEXEC = 0o2000000;
const IPPROTO_IP = 0;
const IP_PKTINFO = 8;
const IP_TTL = 2;
const IP_RECVTTL = 12;
const MSG_TRUNC = 0x20;
const EINVAL = -22;

const cleanups: (() => void | Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** A UDP socket on 127.0.0.1 with IP_PKTINFO and IP_RECVTTL on: two control messages per datagram. */
function receiver(): { fd: number; port: number } {
  const fd = socketSync(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC);
  cleanups.push(() => closeFd(fd));
  bindSync(fd, encodeSockaddr({ address: '127.0.0.1', port: 0 }));
  setsockoptInt(fd, IPPROTO_IP, IP_PKTINFO, 1);
  setsockoptInt(fd, IPPROTO_IP, IP_RECVTTL, 1);
  return { fd, port: localAddress(fd)!.port };
}

async function sender(): Promise<Socket> {
  const s = createSocket('udp4');
  cleanups.push(() => new Promise<void>((resolve) => s.close(() => resolve())));
  s.bind(0, '127.0.0.1');
  await once(s, 'listening');
  return s;
}

describe('RecvmsgOut over multishot RECVMSG buffers', () => {
  for (const [variant, recvFlags] of [
    ['without MSG_TRUNC: payloadLength is what was stored', 0],
    ["with MSG_TRUNC: payloadLength is the datagram's full length", MSG_TRUNC],
  ] as const) {
    it(`parses name, both control messages and the payload of each datagram, and flags one cut short (${variant})`, async (ctx) => {
      const ring = new IoUring({ entries: 16 });
      cleanups.push(() => ring.close());
      const { fd, port } = receiver();
      const pool = BufferRing.register(ring, { entries: 8, bufferSize: 256 });
      const msg = new MsgHdr({ name: Buffer.alloc(16), control: Buffer.alloc(64), iov: [] });
      const sqe = ring.getSqeOrThrow();
      prepRecvmsgMultishot(sqe, fd, msg, recvFlags, pool.bgid);
      const id = sqe.id;
      ring.submit();

      const s = await sender();
      // (Not an empty datagram: a 0-byte receive ends a multishot op, as end-of-file would.)
      const payloads = [Buffer.from('first datagram'), Buffer.from('x'), Buffer.alloc(1000, 0x61)];
      // Each send's callback runs once the datagram is in the receiver's queue.
      for (const p of payloads) await new Promise((resolve, reject) => s.send(p, port, '127.0.0.1', (err) => (err ? reject(err) : resolve(undefined))));
      const cqes = waitUntil(ring, (all) => all.length >= payloads.length || all.some((c) => c.res < 0));
      if (cqes[0]?.res === EINVAL && !kernelAtLeast(6, 0)) ctx.skip('multishot RECVMSG needs Linux 6.0');
      expect(cqes.map((c) => c.id)).toEqual([id, id, id]);
      expect(cqes.every((c) => c.more && c.bufferId >= 0)).toBe(true);

      const senderPort = s.address().port;
      for (let i = 0; i < payloads.length; i++) {
        const out = RecvmsgOut.validate(pool.take(cqes[i]!), msg)!;
        expect(out).not.toBeNull();
        expect(out.nameLength).toBe(16);
        expect(decodeSockaddr(out.name())).toMatchObject({ address: '127.0.0.1', port: senderPort });
        const cmsgs: RecvmsgCmsg[] = [...out.cmsgs()];
        expect(cmsgs.map((c) => [c.level, c.type])).toEqual([
          [IPPROTO_IP, IP_PKTINFO],
          [IPPROTO_IP, IP_TTL],
        ]);
        // struct in_pktinfo: ifindex, spec_dst, addr (the datagram's destination).
        expect([...cmsgs[0]!.data.subarray(8, 12)]).toEqual([127, 0, 0, 1]);
        expect(new DataView(cmsgs[1]!.data.buffer, cmsgs[1]!.data.byteOffset, 4).getInt32(0, true)).toBeGreaterThan(0);
        expect(out.firstCmsg()).toEqual(cmsgs[0]);
        expect(out.nextCmsg(cmsgs[1]!)).toBeNull();
        // CMSG_SPACE(sizeof(struct in_pktinfo)) + CMSG_SPACE(sizeof(int)): 32 + 24.
        expect(out.controlLength).toBe(56);
        expect(cmsgs[1]!.offset - cmsgs[0]!.offset).toBe(32);
        const room = 256 - out.payloadOffset;
        expect(out.payloadLength).toBe(recvFlags === MSG_TRUNC ? payloads[i]!.length : Math.min(room, payloads[i]!.length));
        expect(out.payload().length).toBe(Math.min(room, payloads[i]!.length));
        expect(Buffer.from(out.payload()).equals(payloads[i]!.subarray(0, room))).toBe(true);
        expect(out.truncated).toBe(payloads[i]!.length > room);
        expect((out.flags & MSG_TRUNC) !== 0).toBe(payloads[i]!.length > room);
        pool.recycle(cqes[i]!.bufferId);
      }
    });
  }
});

describe('RecvmsgOut refuses what does not fit', () => {
  const layout = { name: new Uint8Array(16), control: new Uint8Array(32) };

  function synthetic(controllen: number, cmsgLen: number, total = 16 + 16 + 32 + 4): Uint8Array {
    const buf = new Uint8Array(total);
    const dv = new DataView(buf.buffer);
    dv.setUint32(0, 16, true); // namelen
    dv.setUint32(4, controllen, true);
    dv.setUint32(8, 4, true); // payloadlen
    dv.setUint32(32, cmsgLen, true); // first cmsg_len (low word)
    return buf;
  }

  it('validate: null when the buffer cannot hold the header, name and control areas (as liburing)', () => {
    expect(RecvmsgOut.validate(new Uint8Array(16 + 16 + 31), layout)).toBeNull();
    expect(RecvmsgOut.validate(new Uint8Array(16 + 16 + 32), layout)).not.toBeNull();
    expect(() => RecvmsgOut.validate({} as Uint8Array, layout)).toThrow(/buffer/);
    expect(() => RecvmsgOut.validate(new Uint8Array(64), null as unknown as typeof layout)).toThrow(/MsgHdr/);
  });

  it('a cmsg_len that runs past the stored control bytes, or a header cut short, ends the walk', () => {
    expect(RecvmsgOut.validate(synthetic(32, 4000), layout)!.firstCmsg()).toBeNull();
    expect(RecvmsgOut.validate(synthetic(32, 8), layout)!.firstCmsg()).toBeNull(); // shorter than a cmsghdr
    expect(RecvmsgOut.validate(synthetic(12, 16), layout)!.firstCmsg()).toBeNull(); // controllen < sizeof(cmsghdr)
    // controllen claims more than the area holds: only the area counts.
    const out = RecvmsgOut.validate(synthetic(4000, 32), layout)!;
    expect(out.firstCmsg()!.length).toBe(32);
    expect(out.nextCmsg(out.firstCmsg()!)).toBeNull();
    expect(out.payload().length).toBe(4);
  });

  it('nextCmsg of a made-up position returns null instead of reading the header or payload as a cmsg', () => {
    const out = RecvmsgOut.validate(synthetic(32, 16), layout)!;
    const first = out.firstCmsg()!;
    expect(out.nextCmsg({ ...first, offset: 0 })).toBeNull();
    expect(out.nextCmsg({ ...first, offset: first.offset + 3 })).toBeNull();
    expect(out.nextCmsg({ ...first, offset: 10_000 })).toBeNull();
    expect(() => out.nextCmsg(null as unknown as RecvmsgCmsg)).toThrow(/cmsg/);
  });
});
