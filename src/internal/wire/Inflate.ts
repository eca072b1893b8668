/**
 * zlib inflation in plain JavaScript (RFC 1950 around RFC 1951), synchronous like the frame
 * decoder that calls it: where `node:zlib` is not available (browsers), compressed frames from a
 * Python peer are still read. Canonical Huffman codes are decoded bit by bit, which is plenty for
 * frames of a few megabytes at most.
 *
 * @since 0.1.0
 */

/**
 * A zlib stream that cannot be inflated (`detail` says why).
 *
 * @since 0.1.0 @category errors
 */
export class InflateError extends Error {
  constructor(readonly detail: string) {
    super(detail)
    this.name = "InflateError"
  }
}

const LENGTH_BASE = [
  3,
  4,
  5,
  6,
  7,
  8,
  9,
  10,
  11,
  13,
  15,
  17,
  19,
  23,
  27,
  31,
  35,
  43,
  51,
  59,
  67,
  83,
  99,
  115,
  131,
  163,
  195,
  227,
  258
]
const LENGTH_EXTRA = [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0]
const DISTANCE_BASE = [
  1,
  2,
  3,
  4,
  5,
  7,
  9,
  13,
  17,
  25,
  33,
  49,
  65,
  97,
  129,
  193,
  257,
  385,
  513,
  769,
  1025,
  1537,
  2049,
  3073,
  4097,
  6145,
  8193,
  12289,
  16385,
  24577
]
const DISTANCE_EXTRA = [
  0,
  0,
  0,
  0,
  1,
  1,
  2,
  2,
  3,
  3,
  4,
  4,
  5,
  5,
  6,
  6,
  7,
  7,
  8,
  8,
  9,
  9,
  10,
  10,
  11,
  11,
  12,
  12,
  13,
  13
]
/** The order in which a dynamic block lists the code lengths of its code-length alphabet. */
const CODE_LENGTH_ORDER = [16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15]
const MAX_BITS = 15

/** A canonical Huffman code: how many codes of each length, and the symbols in code order. */
interface Code {
  readonly counts: Uint16Array
  readonly symbols: Uint16Array
}

const buildCode = (lengths: ArrayLike<number>, from: number, n: number): Code => {
  const counts = new Uint16Array(MAX_BITS + 1)
  for (let i = 0; i < n; i++) counts[lengths[from + i]]++
  counts[0] = 0
  // more codes of some length than the shorter ones leave room for: not a prefix code
  let left = 1
  for (let len = 1; len <= MAX_BITS; len++) {
    left = (left << 1) - counts[len]
    if (left < 0) throw new InflateError("over-subscribed Huffman code")
  }
  const offsets = new Uint16Array(MAX_BITS + 2)
  for (let len = 1; len <= MAX_BITS; len++) offsets[len + 1] = offsets[len] + counts[len]
  const symbols = new Uint16Array(n)
  for (let i = 0; i < n; i++) {
    const len = lengths[from + i]
    if (len !== 0) symbols[offsets[len]++] = i
  }
  return { counts, symbols }
}

const fixedLengths = new Uint8Array(288 + 30)
fixedLengths.fill(8, 0, 144)
fixedLengths.fill(9, 144, 256)
fixedLengths.fill(7, 256, 280)
fixedLengths.fill(8, 280, 288)
fixedLengths.fill(5, 288)
let fixed: { readonly literals: Code; readonly distances: Code } | undefined

class Inflater {
  private pos: number
  private bitBuffer = 0
  private bitCount = 0
  out: Uint8Array
  size = 0

  constructor(private readonly input: Uint8Array, start: number, private readonly maxOutput: number) {
    this.pos = start
    this.out = new Uint8Array(Math.min(Math.max(input.length * 4, 1024), Math.max(maxOutput, 1)))
  }

  bits(n: number): number {
    while (this.bitCount < n) {
      if (this.pos >= this.input.length) throw new InflateError("unexpected end of the compressed data")
      this.bitBuffer |= this.input[this.pos++] << this.bitCount
      this.bitCount += 8
    }
    const value = this.bitBuffer & ((1 << n) - 1)
    this.bitBuffer >>>= n
    this.bitCount -= n
    return value
  }

  /** Drops the bits left of the current byte; returns the position of the next whole byte. */
  align(): number {
    this.bitBuffer = 0
    this.bitCount = 0
    return this.pos
  }

  private room(n: number): void {
    const need = this.size + n
    if (need > this.maxOutput) {
      throw new InflateError(`inflated data exceeds the maximum of ${this.maxOutput} bytes`)
    }
    if (need <= this.out.length) return
    let length = this.out.length * 2
    while (length < need) length *= 2
    const next = new Uint8Array(Math.min(length, this.maxOutput))
    next.set(this.out.subarray(0, this.size))
    this.out = next
  }

  private decode(code: Code): number {
    // canonical codes of one length are consecutive: walk the lengths, one bit at a time
    let value = 0
    let first = 0
    let index = 0
    for (let len = 1; len <= MAX_BITS; len++) {
      value |= this.bits(1)
      const count = code.counts[len]
      if (value - first < count) return code.symbols[index + value - first]
      index += count
      first = (first + count) << 1
      value <<= 1
    }
    throw new InflateError("invalid Huffman code")
  }

  stored(): void {
    let at = this.align()
    const input = this.input
    if (at + 4 > input.length) throw new InflateError("unexpected end of the compressed data")
    const len = input[at] | (input[at + 1] << 8)
    const check = input[at + 2] | (input[at + 3] << 8)
    if ((len ^ 0xffff) !== check) throw new InflateError("stored block length does not match its complement")
    at += 4
    if (at + len > input.length) throw new InflateError("unexpected end of the compressed data")
    this.room(len)
    this.out.set(input.subarray(at, at + len), this.size)
    this.size += len
    this.pos = at + len
  }

  codes(literals: Code, distances: Code): void {
    while (true) {
      const symbol = this.decode(literals)
      if (symbol < 256) {
        this.room(1)
        this.out[this.size++] = symbol
      } else if (symbol === 256) {
        return
      } else {
        const l = symbol - 257
        if (l >= 29) throw new InflateError("invalid length code")
        const length = LENGTH_BASE[l] + this.bits(LENGTH_EXTRA[l])
        const d = this.decode(distances)
        if (d >= 30) throw new InflateError("invalid distance code")
        const distance = DISTANCE_BASE[d] + this.bits(DISTANCE_EXTRA[d])
        if (distance > this.size) throw new InflateError("distance reaches before the start of the data")
        this.room(length)
        const out = this.out
        let from = this.size - distance
        let to = this.size
        // byte by byte: a copy may overlap what it writes (a run)
        for (const end = to + length; to < end;) out[to++] = out[from++]
        this.size = to
      }
    }
  }

  dynamic(): void {
    const nLiterals = this.bits(5) + 257
    const nDistances = this.bits(5) + 1
    const nCodeLengths = this.bits(4) + 4
    if (nLiterals > 286 || nDistances > 30) throw new InflateError("too many length or distance codes")
    const lengths = new Uint8Array(nLiterals + nDistances)
    const codeLengthLengths = new Uint8Array(19)
    for (let i = 0; i < nCodeLengths; i++) codeLengthLengths[CODE_LENGTH_ORDER[i]] = this.bits(3)
    const codeLengths = buildCode(codeLengthLengths, 0, 19)
    for (let i = 0; i < lengths.length;) {
      const symbol = this.decode(codeLengths)
      if (symbol < 16) {
        lengths[i++] = symbol
        continue
      }
      let repeat: number
      let value = 0
      if (symbol === 16) {
        if (i === 0) throw new InflateError("a repeated length with no length before it")
        value = lengths[i - 1]
        repeat = 3 + this.bits(2)
      } else if (symbol === 17) repeat = 3 + this.bits(3)
      else repeat = 11 + this.bits(7)
      if (i + repeat > lengths.length) throw new InflateError("code lengths overrun their count")
      lengths.fill(value, i, i + repeat)
      i += repeat
    }
    if (lengths[256] === 0) throw new InflateError("no end-of-block code")
    this.codes(buildCode(lengths, 0, nLiterals), buildCode(lengths, nLiterals, nDistances))
  }
}

const adler32 = (bytes: Uint8Array, size: number): number => {
  let a = 1
  let b = 0
  for (let at = 0; at < size;) {
    // the sums fit in 32 bits for 5552 bytes between reductions (zlib's NMAX)
    const end = Math.min(at + 5552, size)
    for (; at < end; at++) {
      a += bytes[at]
      b += a
    }
    a %= 65521
    b %= 65521
  }
  return ((b << 16) | a) >>> 0
}

/**
 * Inflates the zlib stream `input`, refusing to produce more than `maxOutput` bytes; throws
 * `InflateError` on anything that is not a whole, valid zlib stream.
 *
 * @since 0.1.0
 */
export const inflate = (input: Uint8Array, maxOutput: number): Uint8Array => {
  if (input.length < 2) throw new InflateError("unexpected end of the compressed data")
  const cmf = input[0]
  const flg = input[1]
  if ((cmf & 0x0f) !== 8 || (cmf >> 4) > 7) throw new InflateError("not a deflate stream")
  if (((cmf << 8) | flg) % 31 !== 0) throw new InflateError("incorrect header check")
  if (flg & 0x20) throw new InflateError("a preset dictionary is not supported")
  const inflater = new Inflater(input, 2, maxOutput)
  let last = 0
  while (last === 0) {
    last = inflater.bits(1)
    const type = inflater.bits(2)
    if (type === 0) inflater.stored()
    else if (type === 1) {
      fixed ??= { literals: buildCode(fixedLengths, 0, 288), distances: buildCode(fixedLengths, 288, 30) }
      inflater.codes(fixed.literals, fixed.distances)
    } else if (type === 2) inflater.dynamic()
    else throw new InflateError("invalid block type")
  }
  const at = inflater.align()
  if (at + 4 > input.length) throw new InflateError("unexpected end of the compressed data")
  const expected = ((input[at] << 24) | (input[at + 1] << 16) | (input[at + 2] << 8) | input[at + 3]) >>> 0
  if (adler32(inflater.out, inflater.size) !== expected) throw new InflateError("incorrect data check")
  return inflater.out.subarray(0, inflater.size)
}
