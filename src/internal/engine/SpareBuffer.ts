/**
 * One large buffer kept for reuse by the whole process: the last large batch of frames a connection
 * wrote, once its stream has handed it to the system. The next large batch is built in it instead of
 * a fresh allocation of its size. An array buffer of a large value's size allocated and dropped per
 * call is what puts a busy peer into V8's full-collection mode (docs/ARCHITECTURE.md, E11); one kept
 * buffer costs at most `MAX_BYTES` of memory, and none while nothing large is sent.
 *
 * @since 0.1.0
 */

import * as Bytes from "../wire/Bytes.js"

/** Batches smaller than this are cheap to allocate and not kept. */
export const MIN_BYTES = 256 * 1024

/** The largest buffer kept. */
export const MAX_BYTES = 16 * 1024 * 1024

let spare: Uint8Array | undefined

/**
 * The spare buffer if it holds at least `size` bytes, taken out of the pool (nobody else gets it
 * until it is given back), else `undefined`.
 *
 * @since 0.1.0
 */
export const take = (size: number): Uint8Array | undefined => {
  const buffer = spare
  if (buffer === undefined || buffer.length < size) return undefined
  spare = undefined
  return buffer
}

/**
 * Whether `buffer` is of a size worth keeping (`MIN_BYTES` to `MAX_BYTES`): callers skip offering
 * the others.
 *
 * @since 0.1.0
 */
export const keeps = (buffer: Uint8Array): boolean => buffer.length >= MIN_BYTES && buffer.length <= MAX_BYTES

/**
 * Offers `buffer` for reuse once nothing reads it any more: kept if `keeps` says so and it is
 * larger than the one kept now.
 *
 * @since 0.1.0
 */
export const give = (buffer: Uint8Array): void => {
  if (keeps(buffer) && (spare === undefined || spare.length < buffer.length)) spare = buffer
}

/**
 * A buffer of at least `size` bytes for a growing batch (contents undefined): the spare one when it
 * is large enough.
 *
 * @since 0.1.0
 */
export const allocate = (size: number): Uint8Array =>
  (size >= MIN_BYTES ? take(size) : undefined) ?? Bytes.allocUnsafe(size)
