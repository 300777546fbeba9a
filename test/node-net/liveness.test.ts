/**
 * What keeps a process alive, as with `node:net`: a listening server and an open, reading
 * socket do; after `unref()` they do not (yet still work: an unreferenced server accepts and
 * an unreferenced socket receives, through readiness polling); after `close()` / `destroy()`
 * nothing is left. Each case runs in its own process that must end by itself (a hang is a
 * failure: the child is killed at its time limit).
 */
import { once } from 'node:events';
import * as nodeNet from 'node:net';
import { describe, expect, it } from 'vitest';
import { describeExit, runChild, startChild, waitForOutput } from '../support/child.js';
import { sleep } from './helpers.js';

const IMPORT = `import * as net from '@repo/src/node/net/index.js';\nif (net.backend !== 'io_uring') throw new Error('backend ' + net.backend);\n`;

/** A node:net server that greets each connection; resolves with its port. */
async function greeter(onSocket: (s: nodeNet.Socket) => void): Promise<{ port: number; close: () => void }> {
  const sockets = new Set<nodeNet.Socket>();
  const server = nodeNet.createServer((s) => {
    sockets.add(s);
    s.on('error', () => {});
    onSocket(s);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as nodeNet.AddressInfo).port,
    close: () => {
      for (const s of sockets) s.destroy();
      server.close();
    },
  };
}

describe('tsuring/net liveness', () => {
  it('a listening server keeps the process alive; close() lets it end', async () => {
    const child = startChild(`${IMPORT}
const server = net.createServer((s) => {
  s.on('data', (d) => {
    if (String(d).includes('quit')) { s.end('bye'); server.close(); }
  });
});
server.listen(0, '127.0.0.1', () => console.log('PORT ' + server.address().port));
`);
    let out = '';
    child.child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    await waitForOutput(child, 'PORT ');
    await sleep(300); // it would have ended by now if nothing held it
    const port = Number(/PORT (\d+)/.exec(out)![1]);
    const s = nodeNet.connect(port, '127.0.0.1');
    s.setEncoding('utf8');
    let reply = '';
    s.on('data', (d: string) => (reply += d));
    s.write('quit');
    await once(s, 'end');
    s.destroy();
    const r = await child.done;
    expect(r.code, describeExit(r)).toBe(0);
    expect(reply).toBe('bye');
  });

  it('an unreferenced server lets the process end, and accepts while it runs', async () => {
    const { port, close } = await greeter(() => {});
    try {
      const r = await runChild(`${IMPORT}
const server = net.createServer((s) => { s.end('hi'); });
server.unref();
server.listen(0, '127.0.0.1', () => {
  const { port } = server.address();
  // Connect to ourselves while a referenced timer holds the process: the unreferenced
  // listener must still accept (readiness polling).
  const hold = setTimeout(() => {}, 60_000);
  const c = net.connect(port, '127.0.0.1');
  let got = '';
  c.on('data', (d) => (got += d));
  c.on('end', () => { console.log(JSON.stringify({ got })); clearTimeout(hold); });
});
`);
      expect(r.code, describeExit(r)).toBe(0);
      expect(r.stdout).toContain('{"got":"hi"}');
      void port;
    } finally {
      close();
    }
  });

  it('an open socket keeps the process alive; after unref() it does not, yet it still receives', async () => {
    const { port, close } = await greeter((s) => setTimeout(() => s.write('late hello'), 200));
    try {
      const r = await runChild(`${IMPORT}
const c = net.connect(${port}, '127.0.0.1');
c.setEncoding('utf8');
c.unref();
// Held only until the greeting arrives through the unreferenced (polled) receive; then
// the idle, open, unreferenced socket must not keep the process alive.
const hold = setTimeout(() => {}, 60_000);
c.on('data', (d) => { console.log('GOT ' + d); clearTimeout(hold); });
`);
      expect(r.code, describeExit(r)).toBe(0);
      expect(r.stdout).toContain('GOT late hello');
    } finally {
      close();
    }
  });

  it('a referenced socket holds the process until destroyed; ref() after unref() holds it again', async () => {
    const { port, close } = await greeter((s) => setTimeout(() => s.end('quit'), 300));
    try {
      const r = await runChild(`${IMPORT}
const c = net.connect(${port}, '127.0.0.1');
c.unref();
c.ref(); // back to referenced: nothing else holds the process until 'quit' arrives
c.setEncoding('utf8');
c.on('data', (d) => { console.log('GOT ' + d); c.destroy(); });
`);
      expect(r.code, describeExit(r)).toBe(0);
      expect(r.stdout).toContain('GOT quit');
    } finally {
      close();
    }
  });
});
