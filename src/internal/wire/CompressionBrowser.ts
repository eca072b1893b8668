/**
 * zlib for channel frames where `node:zlib` is not available: what package.json's `browser` map
 * puts in place of `Compression.ts`. Frames are sent raw (the flag byte says so, and every RPyC
 * peer accepts them); compressed frames from a peer, which Python sends for payloads over 3000
 * bytes, are inflated synchronously by `Inflate`, as the frame decoder needs.
 *
 * @since 0.1.0
 */
import * as Inflate from "./Inflate.js"

/**
 * No compression: frames are sent raw.
 *
 * @since 0.1.0
 */
export const deflate: ((payload: Uint8Array, level: number) => Uint8Array) | undefined = undefined

/**
 * Inflates a zlib stream, producing at most `maxOutput` bytes; throws when it cannot.
 *
 * @since 0.1.0
 */
export const inflate = (body: Uint8Array, maxOutput: number): Uint8Array =>
  Inflate.inflate(body, Math.max(maxOutput, 1))
