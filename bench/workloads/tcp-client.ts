/**
 * The load generator for the TCP echo workload, in its own process and the same for both
 * servers: `connections` sockets, each ping-ponging one `size`-byte message at a time
 * (the next one goes out once the whole echo is back). Counts round trips in the window.
 *
 * Tells the orchestrator over IPC when the measured window starts and ends
 * (`{ phase: 'start' | 'end' }`), so it can read the server's CPU time at both ends.
 *
 * @module
 */
import { connect, type Socket } from 'node:net';
import { machineCpu, othersCores, type Sample, type Timing } from './common.js';

export interface ClientParams {
  port: number;
  connections: number;
  size: number;
}

export async function runClient(params: ClientParams, timing: Timing): Promise<Sample> {
  const message = Buffer.alloc(params.size, 0x61);
  let completed = 0;
  let running = true;
  const sockets: Socket[] = [];
  await Promise.all(
    Array.from({ length: params.connections }, () =>
      new Promise<void>((resolve, reject) => {
        const socket = connect({ port: params.port, host: '127.0.0.1', noDelay: true }, () => resolve());
        socket.once('error', reject);
        sockets.push(socket);
      }),
    ),
  );
  for (const socket of sockets) {
    let received = 0;
    socket.on('data', (chunk: Buffer) => {
      received += chunk.byteLength;
      if (received < params.size) return;
      if (received > params.size) throw new Error(`echo returned ${received} bytes for a ${params.size}-byte message`);
      received = 0;
      completed++;
      if (running) socket.write(message);
    });
    socket.write(message);
  }
  // Waits for the orchestrator's ack, so the server's CPU is read before the window opens.
  const tell = (phase: string): Promise<void> =>
    new Promise((resolve) => {
      if (process.send === undefined) {
        resolve();
        return;
      }
      process.once('message', () => resolve());
      process.send({ phase });
    });
  const sample = await new Promise<Sample>((resolve) => {
    setTimeout(() => {
      void tell('start').then(() => {
        const ops0 = completed;
        const m0 = machineCpu();
        const cpu0 = process.cpuUsage();
        const t0 = performance.now();
        setTimeout(() => {
          const t1 = performance.now();
          const ops = completed - ops0;
          const cpu = process.cpuUsage(cpu0);
          const seconds = (t1 - t0) / 1000;
          // Still includes the server's CPU: the orchestrator subtracts it.
          const others = othersCores(m0, machineCpu(), seconds, (cpu.user + cpu.system) / 1e6);
          running = false;
          void tell('end').then(() => resolve({ ops, seconds, bytes: ops * params.size, cpuUser: cpu.user / 1e6, cpuSys: cpu.system / 1e6, others }));
        }, timing.seconds * 1000);
      });
    }, timing.warmup * 1000);
  });
  for (const socket of sockets) socket.destroy();
  if (process.connected) process.disconnect();
  return sample;
}
