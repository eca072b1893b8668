/**
 * zlib for channel frames, from `node:zlib`. Browser bundles get `CompressionBrowser.ts` instead
 * (package.json's `browser` map swaps the two modules), so nothing under the browser entry imports
 * a `node:` module: both export the same names.
 *
 * @since 0.1.0
 */
import * as Zlib from "node:zlib"

/**
 * Compresses `payload` at `level`; `undefined` where frames are always sent raw.
 *
 * @since 0.1.0
 */
export const deflate: ((payload: Uint8Array, level: number) => Uint8Array) | undefined = (payload, level) =>
  Zlib.deflateSync(payload, { level })

/**
 * Inflates a zlib stream, producing at most `maxOutput` bytes; throws when it cannot.
 *
 * @since 0.1.0
 */
export const inflate = (body: Uint8Array, maxOutput: number): Uint8Array =>
  Zlib.inflateSync(body, { maxOutputLength: Math.max(maxOutput, 1) })
