/**
 * Registration: the resources high-performance servers register with a ring (file table,
 * buffers, provided-buffer rings) and ring-level settings (eventfd, personalities, the
 * async worker pool, restrictions, clock).
 *
 * @module
 */
export { FileTable, MAX_FILE_TABLE_SIZE, type FileSlotValue, type FileTableOptions } from './files.js';
export { RegisteredBuffers, MAX_REGISTERED_BUFFERS, MAX_REGISTERED_BUFFER_BYTES, type CloneBuffersOptions, type RegisteredBuffersOptions } from './buffers.js';
export {
  BufferGroup,
  BufferRing,
  ProvidedBufferGroup,
  cqeBufferId,
  MAX_BUFFER_RING_ENTRIES,
  MAX_GROUP_BUFFERS,
  MAX_PROVIDED_BUFFER_BYTES,
  type BufferCompletion,
  type BufferGroupOptions,
  type BufferRingOptions,
  type ProvidedBufferGroupOptions,
} from './provided.js';
export {
  RingEventfd,
  registerEventfd,
  unregisterEventfd,
  registerPersonality,
  unregisterPersonality,
  ioWorkerLimits,
  setIoWorkerAffinity,
  clearIoWorkerAffinity,
  registerRestrictions,
  registerClock,
  type EventfdOptions,
  type IoWorkerLimits,
  type RingRestrictions,
  type RingClock,
} from './ring-config.js';
export { registerNapi, unregisterNapi, type NapiSettings } from './napi.js';
export { eventfdRearmNeeded, EVENTFD_REARM_SINCE } from './eventfd-rearm.js';
export { syncCancel, type SyncCancelOptions } from './sync-cancel.js';
export { cancelMatchSupport, type CancelMatchSupport } from './cancel-support.js';
export { sendMsgRingSync, type SendMsgRingOptions } from './msg-ring.js';
export { checkBufferGroup } from './registry.js';
export type { ResourceTag } from './util.js';
