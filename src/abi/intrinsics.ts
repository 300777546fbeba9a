/**
 * The built-in getters of buffers and arrays, captured when this module loads, as Node's
 * own "primordials" are: what the kernel will use (a view's real length, offset and
 * buffer) must never come from what an object *claims*.
 *
 * A `Uint8Array` whose `byteLength` is redefined (`Object.defineProperty`, a subclass
 * getter) or a `Proxy` around an array whose `length` changes between two reads would
 * otherwise pass a check and then hand the kernel a length past the real memory. So:
 * - lengths, offsets and buffers of views are read through the `%TypedArray%.prototype`
 *   and `DataView.prototype` getters (a Proxy is no view: they throw, and the checks turn
 *   that into an `ArgumentError`);
 * - array arguments are copied once ({@link snapshotArray}) and only the copy is used.
 *
 * Monkey-patching the globals after this module loaded (`ArrayBuffer.isView = ...`) changes
 * nothing here.
 *
 * @module
 */

const uncurryThis: <T, A extends unknown[], R>(fn: (this: T, ...args: A) => R) => (self: T, ...args: A) => R = Function.prototype.bind.bind(
  Function.prototype.call,
) as never;

function getter(proto: object, key: PropertyKey): (self: unknown) => unknown {
  const desc = Object.getOwnPropertyDescriptor(proto, key);
  if (desc?.get === undefined) throw new Error(`tsuring: no built-in getter ${String(key)}`);
  return uncurryThis(desc.get as (this: unknown) => unknown);
}

const TypedArrayPrototype = Object.getPrototypeOf(Uint8Array.prototype) as object;
const typedArrayTag = getter(TypedArrayPrototype, Symbol.toStringTag) as (self: unknown) => string | undefined;
const typedArrayByteLength = getter(TypedArrayPrototype, 'byteLength') as (self: unknown) => number;
const typedArrayByteOffset = getter(TypedArrayPrototype, 'byteOffset') as (self: unknown) => number;
const typedArrayBuffer = getter(TypedArrayPrototype, 'buffer') as (self: unknown) => ArrayBufferLike;
const dataViewByteLength = getter(DataView.prototype, 'byteLength') as (self: unknown) => number;
const dataViewByteOffset = getter(DataView.prototype, 'byteOffset') as (self: unknown) => number;
const dataViewBuffer = getter(DataView.prototype, 'buffer') as (self: unknown) => ArrayBufferLike;
const arrayBufferByteLength = getter(ArrayBuffer.prototype, 'byteLength') as (self: unknown) => number;
const isViewBuiltin = ArrayBuffer.isView;
const isArrayBuiltin = Array.isArray;

/** Whether `value` is a typed array (a real one: not a Proxy, whatever its prototype says). */
export function isTypedArray(value: unknown): boolean {
  return typedArrayTag(value) !== undefined;
}

/** Whether `value` is a real ArrayBufferView (typed array or DataView), by the built-in test. */
export function isView(value: unknown): value is ArrayBufferView {
  return isViewBuiltin(value);
}

/** The real byte length of a view (0 once its buffer is detached). Throws TypeError for a non-view. */
export function byteLengthOf(view: ArrayBufferView): number {
  return typedArrayTag(view) !== undefined ? typedArrayByteLength(view) : dataViewByteLength(view);
}

/** The real byte offset of a view into its buffer. */
export function byteOffsetOf(view: ArrayBufferView): number {
  return typedArrayTag(view) !== undefined ? typedArrayByteOffset(view) : dataViewByteOffset(view);
}

/** The real buffer of a view. */
export function bufferOf(view: ArrayBufferView): ArrayBufferLike {
  return typedArrayTag(view) !== undefined ? typedArrayBuffer(view) : dataViewBuffer(view);
}

/** Whether an ArrayBuffer is detached (its real length is 0 and no view can be made on it). */
export function isDetachedBuffer(buffer: ArrayBufferLike): boolean {
  let length: number;
  try {
    length = arrayBufferByteLength(buffer);
  } catch {
    return false; // a SharedArrayBuffer: cannot be detached
  }
  if (length !== 0) return false;
  try {
    new Uint8Array(buffer);
    return false;
  } catch {
    return true;
  }
}

/** Whether `value` is an array by the built-in test (a Proxy around an array is one). */
export function isArray(value: unknown): value is readonly unknown[] {
  return isArrayBuiltin(value);
}

/**
 * A plain copy of an array argument, reading its `length` once and each element once: a
 * Proxy (or getters) cannot change what the checks saw before the kernel sees it. Returns
 * undefined when `length` is not an integer from 0 to `max`.
 */
export function snapshotArray(value: readonly unknown[], max: number): unknown[] | undefined {
  const length = value.length;
  if (typeof length !== 'number' || !Number.isInteger(length) || length < 0 || length > max) return undefined;
  const out = new Array<unknown>(length);
  for (let i = 0; i < length; i++) out[i] = value[i];
  return out;
}
