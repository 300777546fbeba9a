/**
 * A `node:net` echo client for the echo-server tests: the thing under test is the server,
 * so the client is Node's own.
 */
import { once } from 'node:events';
import { connect } from 'node:net';

/**
 * Connects to 127.0.0.1:`port`, sends `payload` (in random pieces of up to 3,000 bytes with
 * `pieces`, else in one write), reads until as many bytes came back, ends the connection
 * and returns what came back.
 */
export async function echoRoundTrip(port: number, payload: Buffer, options: { pieces?: boolean } = {}): Promise<Buffer> {
  const socket = connect(port, '127.0.0.1');
  await once(socket, 'connect');
  const chunks: Buffer[] = [];
  let received = 0;
  const done = new Promise<void>((resolve, reject) => {
    socket.on('data', (d: Buffer) => {
      chunks.push(d);
      received += d.length;
      if (received >= payload.length) resolve();
    });
    socket.on('error', reject);
    socket.on('close', () => (received >= payload.length ? resolve() : reject(new Error(`closed after ${received} of ${payload.length} bytes`))));
  });
  if (options.pieces === true) {
    for (let at = 0; at < payload.length; ) {
      const n = Math.min(payload.length - at, 1 + Math.floor(Math.random() * 3000));
      socket.write(payload.subarray(at, at + n));
      at += n;
      if (Math.random() < 0.3) await new Promise((r) => setImmediate(r));
    }
  } else {
    socket.write(payload);
  }
  await done;
  socket.end();
  await once(socket, 'close');
  return Buffer.concat(chunks);
}
