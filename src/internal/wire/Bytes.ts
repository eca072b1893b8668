/**
 * Byte helpers over plain `Uint8Array`s, so the wire codecs run wherever JavaScript does (Node's
 * `Buffer` is a `Uint8Array`, so Node callers may still pass one in).
 *
 * @since 0.1.0
 */

const encoder = new TextEncoder()

/**
 * Allocations below this size share a pool, as Node's `Buffer.allocUnsafe` does: a fresh
 * `ArrayBuffer` for each small array costs several times more.
 */
const POOLED_BELOW = 4096
const POOL_SIZE = 8 * 1024
let pool = new ArrayBuffer(POOL_SIZE)
let poolOffset = 0

/**
 * A new array of `size` bytes whose contents are undefined (what `Buffer.allocUnsafe` gives in
 * Node): small ones are views of a shared pool, so their `buffer` is larger than they are; a pool is
 * never handed out twice, only dropped when full. For buffers the caller fills entirely.
 *
 * @since 0.1.0
 */
export const allocUnsafe = (size: number): Uint8Array => {
  if (size >= POOLED_BELOW) return new Uint8Array(size)
  if (poolOffset + size > POOL_SIZE) {
    pool = new ArrayBuffer(POOL_SIZE)
    poolOffset = 0
  }
  const out = new Uint8Array(pool, poolOffset, size)
  // 8-byte steps keep every array aligned for any view on it
  poolOffset += (size + 7) & ~7
  return out
}

/**
 * `parts` joined into one new array (`total`: their summed length, when the caller knows it).
 *
 * @since 0.1.0
 */
export const concat = (parts: ReadonlyArray<Uint8Array>, total?: number): Uint8Array => {
  let sum = 0
  for (const part of parts) sum += part.length
  const size = total ?? sum
  // bytes past the parts (a `total` above their length) are zeros, as `Buffer.concat` leaves them
  const out = size <= sum ? allocUnsafe(size) : new Uint8Array(size)
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

/** Strings shorter than this are encoded in JavaScript: `encodeInto` costs more to call than that. */
const SHORT_STRING = 64

/**
 * Writes `s` as UTF-8 into `target` from `at`, which must have room for it (three bytes per UTF-16
 * unit always suffice); returns the number of bytes written. A lone surrogate becomes U+FFFD.
 *
 * @since 0.1.0
 */
export const writeUtf8 = (s: string, target: Uint8Array, at: number): number => {
  const n = s.length
  if (n >= SHORT_STRING) return encoder.encodeInto(s, at === 0 ? target : target.subarray(at)).written
  let p = at
  for (let i = 0; i < n; i++) {
    let c = s.charCodeAt(i)
    if (c < 0x80) {
      target[p++] = c
      continue
    }
    if (c < 0x800) {
      target[p++] = 0xc0 | (c >> 6)
      target[p++] = 0x80 | (c & 0x3f)
      continue
    }
    if (c >= 0xd800 && c <= 0xdfff) {
      const d = i + 1 < n ? s.charCodeAt(i + 1) : 0
      if (c <= 0xdbff && d >= 0xdc00 && d <= 0xdfff) {
        c = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00)
        i++
        target[p++] = 0xf0 | (c >> 18)
        target[p++] = 0x80 | ((c >> 12) & 0x3f)
        target[p++] = 0x80 | ((c >> 6) & 0x3f)
        target[p++] = 0x80 | (c & 0x3f)
        continue
      }
      c = 0xfffd
    }
    target[p++] = 0xe0 | (c >> 12)
    target[p++] = 0x80 | ((c >> 6) & 0x3f)
    target[p++] = 0x80 | (c & 0x3f)
  }
  return p - at
}

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

/**
 * Writes `n` (an unsigned 32-bit integer, or a signed one: the same bits) little-endian at `at`.
 *
 * @since 0.1.0
 */
export const writeUint32LE = (bytes: Uint8Array, at: number, n: number): void => {
  bytes[at] = n & 0xff
  bytes[at + 1] = (n >>> 8) & 0xff
  bytes[at + 2] = (n >>> 16) & 0xff
  bytes[at + 3] = (n >>> 24) & 0xff
}

/**
 * Writes `n` (a non-negative integer below 2^53) as an unsigned 64-bit little-endian integer at `at`.
 *
 * @since 0.1.0
 */
export const writeUint64LE = (bytes: Uint8Array, at: number, n: number): void => {
  writeUint32LE(bytes, at, n % 0x100000000)
  writeUint32LE(bytes, at + 4, Math.floor(n / 0x100000000))
}

const float = new Float64Array(1)
const floatBytes = new Uint8Array(float.buffer)
const littleEndian = new Uint8Array(Uint16Array.of(1).buffer)[0] === 1

/**
 * Writes `v` as a big-endian IEEE 754 double at `at` (through a scratch array: no `DataView` to
 * make per buffer).
 *
 * @since 0.1.0
 */
export const writeFloat64BE = (bytes: Uint8Array, at: number, v: number): void => {
  float[0] = v
  if (littleEndian) {
    for (let i = 0; i < 8; i++) bytes[at + i] = floatBytes[7 - i]
  } else {
    for (let i = 0; i < 8; i++) bytes[at + i] = floatBytes[i]
  }
}
