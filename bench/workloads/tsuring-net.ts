/**
 * `tsuring/net` for the network rows that compare it with `node:net`.
 *
 * @module
 */
import type * as nodeNet from 'node:net';

/** What the servers use of a net module. */
export type NetModule = Pick<typeof nodeNet, 'createServer'>;

/**
 * `tsuring/net` on io_uring; where it runs on node:net instead (a seccomp filter, an old
 * kernel) prints `SKIP` and exits. Imported only by the servers that use it.
 */
export async function tsuringNet(): Promise<NetModule> {
  const net = await import('../../src/node/net/index.js');
  if (net.backend !== 'io_uring') {
    process.stdout.write(`SKIP tsuring/net runs on node:net here (${net.backendReason ?? 'unknown reason'})\n`);
    process.exit(0);
  }
  return net as unknown as NetModule;
}
