/**
 * Byte helpers over plain `Uint8Array`s, so the wire codecs run wherever JavaScript does (Node's
 * `Buffer` is a `Uint8Array`, so Node callers may still pass one in).
 *
 * @since 0.1.0
 */

const encoder = new TextEncoder()

/**
 * `parts` joined into one new array (`total`: their summed length, when the caller knows it).
 *
 * @since 0.1.0
 */
export const concat = (parts: ReadonlyArray<Uint8Array>, total?: number): Uint8Array => {
  let size = total
  if (size === undefined) {
    size = 0
    for (const part of parts) size += part.length
  }
  const out = new Uint8Array(size)
  let at = 0
  for (const part of parts) {
    // `total` may cut the last part short, as `Buffer.concat` does
    const take = Math.min(part.length, size - at)
    out.set(take === part.length ? part : part.subarray(0, take), at)
    at += take
    if (at === size) break
  }
  return out
}

/**
 * `s` as UTF-8 (a lone surrogate becomes U+FFFD).
 *
 * @since 0.1.0
 */
export const encodeUtf8 = (s: string): Uint8Array => encoder.encode(s)

/**
 * Writes `s` as UTF-8 into `target` from `at`, which must have room for it (three bytes per UTF-16
 * unit always suffice); returns the number of bytes written.
 *
 * @since 0.1.0
 */
export const writeUtf8 = (s: string, target: Uint8Array, at: number): number =>
  encoder.encodeInto(s, at === 0 ? target : target.subarray(at)).written

/**
 * The length of `s` in UTF-8, without encoding it.
 *
 * @since 0.1.0
 */
export const utf8Length = (s: string): number => {
  let n = 0
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    if (c < 0x80) n += 1
    else if (c < 0x800) n += 2
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1)
      if (d >= 0xdc00 && d <= 0xdfff) {
        // a surrogate pair: one code point of four bytes
        n += 4
        i++
      } else n += 3
    } else n += 3
  }
  return n
}

/**
 * Each byte as the character of the same code (ISO-8859-1). Not `TextDecoder("latin1")`, which the
 * Encoding standard maps to windows-1252.
 *
 * @since 0.1.0
 */
export const latin1 = (bytes: Uint8Array): string => {
  let out = ""
  // in slices: spreading a large array into one call would overflow the stack
  for (let at = 0; at < bytes.length; at += 8192) {
    out += String.fromCharCode.apply(null, bytes.subarray(at, at + 8192) as unknown as Array<number>)
  }
  return out
}

/**
 * The big-endian unsigned 32-bit integer at `at`.
 *
 * @since 0.1.0
 */
export const readUint32BE = (bytes: Uint8Array, at: number): number =>
  bytes[at] * 0x1000000 + ((bytes[at + 1] << 16) | (bytes[at + 2] << 8) | bytes[at + 3])

/**
 * Writes `n` (an unsigned 32-bit integer) big-endian at `at`.
 *
 * @since 0.1.0
 */
export const writeUint32BE = (bytes: Uint8Array, at: number, n: number): void => {
  bytes[at] = n >>> 24
  bytes[at + 1] = (n >>> 16) & 0xff
  bytes[at + 2] = (n >>> 8) & 0xff
  bytes[at + 3] = n & 0xff
}
