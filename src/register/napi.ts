/**
 * NAPI busy polling (`IORING_REGISTER_NAPI` / `IORING_UNREGISTER_NAPI`, Linux 6.9): while a
 * ring waits for completions, the kernel spins on the network queues of the sockets its ops
 * use, for up to a set time, instead of sleeping until an interrupt. A latency tuning for
 * dedicated network servers; it burns CPU while it polls. The kernel tracks the queues by
 * itself (dynamic tracking), from the sockets the ring's ops touch.
 *
 * @module
 */
import { IORING_REGISTER_NAPI, IORING_UNREGISTER_NAPI, IO_URING_NAPI_REGISTER_OP, IO_URING_NAPI_TRACKING_DYNAMIC } from '../../generated/constants.js';
import { IoUringNapi, SIZEOF_IO_URING_NAPI } from '../../generated/structs.js';
import { checkIntRange } from '../abi/check.js';
import { ArgumentError, describeReceived } from '../errors.js';
import type { IoUring } from '../ring/ring.js';
import { IoUringError } from '../sys/errors.js';
import { registryOf } from './registry.js';

/** NAPI busy-poll settings of a ring ({@link registerNapi}, {@link unregisterNapi}). */
export interface NapiSettings {
  /**
   * How long a wait busy-polls the network queues before it sleeps, in microseconds
   * (`busy_poll_to`). Newer kernels cap it at 10,000 (10 ms) and report the capped value.
   */
  busyPollTimeoutUs: number;
  /** Ask the network stack to prefer busy polling over interrupts (`prefer_busy_poll`). */
  preferBusyPoll: boolean;
}

/**
 * Turns on NAPI busy polling for `ring`'s waits (`IORING_REGISTER_NAPI`, Linux 6.9;
 * liburing's `io_uring_register_napi`), with dynamic tracking of the sockets' queues.
 * Registering again replaces the settings.
 *
 * @returns The settings in force before the call, as the kernel reports them (a ring
 *   starts with the `net.core.busy_poll` sysctl's timeout and `preferBusyPoll: false`).
 * @throws `IoUringError` EINVAL on a kernel older than 6.9 or an IOPOLL ring, EOPNOTSUPP
 *   on a kernel built without `CONFIG_NET_RX_BUSY_POLL` (the message says so).
 */
export function registerNapi(ring: IoUring, settings: NapiSettings): NapiSettings {
  const what = 'registerNapi';
  registryOf(ring, what);
  if (typeof settings !== 'object' || settings === null) {
    throw new ArgumentError('ERR_INVALID_ARG_TYPE', `${what}: settings`, `expected { busyPollTimeoutUs, preferBusyPoll }, received ${describeReceived(settings)}`);
  }
  // Each property read once: a getter cannot pass the check and then hand over another value.
  const timeout = checkIntRange(`${what}: settings.busyPollTimeoutUs`, settings.busyPollTimeoutUs, 0, 0xffffffff);
  const prefer = settings.preferBusyPoll;
  if (typeof prefer !== 'boolean') {
    throw new ArgumentError('ERR_INVALID_ARG_TYPE', `${what}: settings.preferBusyPoll`, `expected a boolean, received ${describeReceived(prefer)}`);
  }
  const bytes = new Uint8Array(SIZEOF_IO_URING_NAPI);
  const napi = new IoUringNapi(bytes);
  napi.busyPollTo = timeout;
  napi.preferBusyPoll = prefer ? 1 : 0;
  // Both 0 (the only values before 6.13, where these bytes were padding that had to be 0).
  napi.opcode = IO_URING_NAPI_REGISTER_OP;
  napi.opParam = IO_URING_NAPI_TRACKING_DYNAMIC;
  napiCall(ring, IORING_REGISTER_NAPI, bytes, 'IORING_REGISTER_NAPI');
  // The kernel wrote the previous settings over the argument before applying the new ones.
  return settingsOf(napi);
}

/**
 * Turns NAPI busy polling off (`IORING_UNREGISTER_NAPI`, Linux 6.9; liburing's
 * `io_uring_unregister_napi`).
 *
 * @returns The settings that were in force, as the kernel reports them.
 * @throws `IoUringError` as {@link registerNapi}.
 */
export function unregisterNapi(ring: IoUring): NapiSettings {
  registryOf(ring, 'unregisterNapi');
  const bytes = new Uint8Array(SIZEOF_IO_URING_NAPI);
  napiCall(ring, IORING_UNREGISTER_NAPI, bytes, 'IORING_UNREGISTER_NAPI');
  return settingsOf(new IoUringNapi(bytes));
}

function settingsOf(napi: IoUringNapi): NapiSettings {
  return { busyPollTimeoutUs: napi.busyPollTo, preferBusyPoll: napi.preferBusyPoll !== 0 };
}

const EINVAL = 22;
const EOPNOTSUPP = 95;

/** The register call, with the likely cause added to the kernel's bare EINVAL / EOPNOTSUPP. */
function napiCall(ring: IoUring, opcode: number, bytes: Uint8Array, name: string): void {
  try {
    ring.register(opcode, bytes, 1);
  } catch (err) {
    if (err instanceof IoUringError && err.errno === -EINVAL) {
      throw new IoUringError(EINVAL, 'io_uring_register', `(${name})`, 'NAPI busy polling needs Linux 6.9 or newer, and a ring set up without IOPOLL');
    }
    if (err instanceof IoUringError && err.errno === -EOPNOTSUPP) {
      throw new IoUringError(EOPNOTSUPP, 'io_uring_register', `(${name})`, 'this kernel was built without NAPI busy polling (CONFIG_NET_RX_BUSY_POLL)');
    }
    throw err;
  }
}
