/**
 * Brine: RPyC's tagged binary encoding of immutable Python values (PROTOCOL.md §2).
 *
 * JavaScript spelling of the Python values:
 *
 * | Python            | JavaScript                                                        |
 * |-------------------|-------------------------------------------------------------------|
 * | `None`            | `null` (`undefined` is encoded as `None` too)                     |
 * | `bool`            | `boolean`                                                         |
 * | `int`             | integral `number`; `bigint` beyond 2^53 (decoded the same way)    |
 * | `float`           | non-integral `number`, or `PyFloat` for an integral float         |
 * | `str`             | `string` (must be well-formed UTF-16: lone surrogates are refused) |
 * | `bytes`           | `Uint8Array`                                                      |
 * | `tuple`           | `Array`                                                           |
 * | `frozenset`       | `FrozenSet`                                                       |
 * | `slice`           | `Slice`                                                           |
 * | `complex`         | `Complex`                                                         |
 * | `Ellipsis`        | `Ellipsis`                                                        |
 * | `NotImplemented`  | `NotImplemented`                                                  |
 *
 * The encoder always emits the canonical form Python emits; the decoder accepts every form
 * Python accepts.
 *
 * @since 0.1.0
 */
import * as Data from "effect/Data"
import * as Bytes from "./Bytes.js"

/** @since 0.1.0 @category tags */
export const Tag = {
  NONE: 0x00,
  EMPTY_BYTES: 0x01,
  EMPTY_TUPLE: 0x02,
  TRUE: 0x03,
  FALSE: 0x04,
  NOT_IMPLEMENTED: 0x05,
  ELLIPSIS: 0x06,
  STR: 0x08,
  BYTES_1: 0x0a,
  BYTES_L1: 0x0e,
  BYTES_L4: 0x0f,
  TUPLE_1: 0x10,
  TUPLE_L1: 0x14,
  TUPLE_L4: 0x15,
  INT_L1: 0x16,
  INT_L4: 0x17,
  FLOAT: 0x18,
  SLICE: 0x19,
  FROZENSET: 0x1a,
  COMPLEX: 0x1b,
  IMM_INT_FIRST: 0x20,
  IMM_INT_LAST: 0xef
} as const

const IMM_INT_ZERO = 0x50
const IMM_MIN = -48
const IMM_MAX = 159

/**
 * A Python `float` whose value is integral (`1.0`), which a plain `number` cannot express.
 *
 * @since 0.1.0 @category models
 */
export class PyFloat {
  constructor(readonly value: number) {}
  valueOf(): number {
    return this.value
  }
  toString(): string {
    return Number.isInteger(this.value) ? this.value.toFixed(1) : String(this.value)
  }
}

/** A Python `complex`. @since 0.1.0 @category models */
export class Complex {
  constructor(readonly real: number, readonly imag: number) {}
  toString(): string {
    return `(${this.real}${this.imag < 0 || Object.is(this.imag, -0) ? "-" : "+"}${Math.abs(this.imag)}j)`
  }
}

/** A Python `slice`; missing parts are `null`. @since 0.1.0 @category models */
export class Slice {
  constructor(readonly start: Value, readonly stop: Value, readonly step: Value = null) {}
}

/** A Python `frozenset` of brine values, in the order they were received. @since 0.1.0 @category models */
export class FrozenSet {
  readonly items: ReadonlyArray<Value>
  constructor(items: Iterable<Value>) {
    this.items = Array.from(items)
  }
  get size(): number {
    return this.items.length
  }
  [Symbol.iterator](): Iterator<Value> {
    return this.items[Symbol.iterator]()
  }
}

/** Python's `Ellipsis` singleton. @since 0.1.0 @category models */
export const Ellipsis: unique symbol = Symbol.for("effect-rpyc/Ellipsis")
/** @since 0.1.0 */
export type Ellipsis = typeof Ellipsis

/** Python's `NotImplemented` singleton. @since 0.1.0 @category models */
export const NotImplemented: unique symbol = Symbol.for("effect-rpyc/NotImplemented")
/** @since 0.1.0 */
export type NotImplemented = typeof NotImplemented

/**
 * Every value brine can carry.
 *
 * @since 0.1.0 @category models
 */
export type Value =
  | null
  | undefined
  | boolean
  | number
  | bigint
  | string
  | Uint8Array
  | PyFloat
  | Complex
  | Slice
  | FrozenSet
  | Ellipsis
  | NotImplemented
  | ReadonlyArray<Value>

/**
 * Raised when a value cannot be encoded or bytes cannot be decoded.
 *
 * @since 0.1.0 @category errors
 */
export class BrineError extends Data.TaggedError("BrineError")<{
  readonly reason:
    | "Unencodable"
    | "UnknownTag"
    | "Truncated"
    | "InvalidUtf8"
    | "Malformed"
    | "TooManyDigits"
    | "TooManyValues"
  readonly detail: string
}> {
  override get message(): string {
    return `${this.reason}: ${this.detail}`
  }
}

// ---------------------------------------------------------------------------------------------
// dumpable

/**
 * Whether `value` is passed by value (RPyC's `brine.dumpable`): primitives, the wrapper classes,
 * and arrays (tuples) whose items are all dumpable.
 *
 * @since 0.1.0 @category guards
 */
export const isDumpable = (value: unknown): value is Value => {
  switch (typeof value) {
    case "undefined":
    case "boolean":
    case "bigint":
    case "number":
      return true
    case "string":
      return (value as string & { isWellFormed(): boolean }).isWellFormed()
    case "symbol":
      return value === Ellipsis || value === NotImplemented
    case "object": {
      if (value === null) return true
      if (Array.isArray(value)) {
        for (let i = 0; i < value.length; i++) if (!isDumpable(value[i])) return false
        return true
      }
      if (value instanceof Uint8Array) return true
      const proto = Object.getPrototypeOf(value)
      if (proto === PyFloat.prototype || proto === Complex.prototype) return true
      if (proto === Slice.prototype) {
        const s = value as Slice
        return isDumpable(s.start) && isDumpable(s.stop) && isDumpable(s.step)
      }
      if (proto === FrozenSet.prototype) return (value as FrozenSet).items.every(isDumpable)
      return false
    }
    default:
      return false
  }
}

// ---------------------------------------------------------------------------------------------
// encoder

/**
 * A growable byte buffer; brine values and whole frames are written into one of these.
 *
 * @since 0.1.0 @category models
 */
export class Writer {
  buf: Uint8Array
  pos = 0
  /**
   * `grow` gives the buffer to move to when the writer outgrows its own (at least the size asked
   * for, contents undefined); by default a fresh one.
   */
  constructor(capacity = 256, private readonly grow: (size: number) => Uint8Array = Bytes.allocUnsafe) {
    this.buf = Bytes.allocUnsafe(Math.max(capacity, 16))
  }
  ensure(n: number): void {
    const need = this.pos + n
    if (need <= this.buf.length) return
    // doubling, unless one write needs more: then room for it and an eighth more, so that a large
    // bytes value costs one allocation of about its size, not a chain of doublings ending at twice it
    let size = this.buf.length * 2
    if (size < need) size = need + (need >>> 3)
    const next = this.grow(size)
    next.set(this.buf.subarray(0, this.pos))
    this.buf = next
  }
  byte(b: number): void {
    this.ensure(1)
    this.buf[this.pos++] = b
  }
  u32(n: number): void {
    this.ensure(4)
    Bytes.writeUint32BE(this.buf, this.pos, n)
    this.pos += 4
  }
  /** A big-endian IEEE 754 double. */
  f64(v: number): void {
    this.ensure(8)
    Bytes.writeFloat64BE(this.buf, this.pos, v)
    this.pos += 8
  }
  bytes(b: Uint8Array): void {
    this.ensure(b.length)
    this.buf.set(b, this.pos)
    this.pos += b.length
  }
  /** The written bytes (a view, not a copy). */
  result(): Uint8Array {
    return this.buf.subarray(0, this.pos)
  }
}

/** The tag and length of a non-empty bytes body of `n` bytes. */
const writeBytesHeader = (w: Writer, n: number): void => {
  if (n <= 4) w.byte(Tag.BYTES_1 + n - 1)
  else if (n < 256) {
    w.byte(Tag.BYTES_L1)
    w.byte(n)
  } else {
    w.byte(Tag.BYTES_L4)
    w.u32(n)
  }
}

const writeBytes = (w: Writer, b: Uint8Array): void => {
  if (b.length === 0) return w.byte(Tag.EMPTY_BYTES)
  writeBytesHeader(w, b.length)
  w.bytes(b)
}

const writeStr = (w: Writer, s: string): void => {
  w.byte(Tag.STR)
  const n = s.length
  if (n === 0) return w.byte(Tag.EMPTY_BYTES)
  // fast path: short ASCII
  if (n < 256) {
    let ascii = true
    for (let i = 0; i < n; i++) {
      if (s.charCodeAt(i) > 0x7f) {
        ascii = false
        break
      }
    }
    if (ascii) {
      if (n <= 4) w.byte(Tag.BYTES_1 + n - 1)
      else {
        w.byte(Tag.BYTES_L1)
        w.byte(n)
      }
      w.ensure(n)
      for (let i = 0; i < n; i++) w.buf[w.pos++] = s.charCodeAt(i)
      return
    }
  }
  if (!(s as string & { isWellFormed(): boolean }).isWellFormed()) {
    throw new BrineError({ reason: "Unencodable", detail: "string contains a lone surrogate" })
  }
  // encoded in place: its length first, then its bytes straight into the buffer
  const size = Bytes.utf8Length(s)
  writeBytesHeader(w, size)
  w.ensure(size)
  w.pos += Bytes.writeUtf8(s, w.buf, w.pos)
}

const writeIntText = (w: Writer, text: string): void => {
  const n = text.length
  if (n < 256) {
    w.byte(Tag.INT_L1)
    w.byte(n)
  } else {
    w.byte(Tag.INT_L4)
    w.u32(n)
  }
  w.ensure(n)
  for (let i = 0; i < n; i++) w.buf[w.pos++] = text.charCodeAt(i)
}

const writeFloat = (w: Writer, v: number): void => {
  w.byte(Tag.FLOAT)
  w.f64(v)
}

/**
 * Appends the tag (and length) that starts a tuple of `n` items, for a caller writing the items
 * itself.
 *
 * @since 0.1.0 @category encoding
 */
export const writeTupleHeader = (w: Writer, n: number): void => {
  if (n === 0) w.byte(Tag.EMPTY_TUPLE)
  else if (n <= 4) w.byte(Tag.TUPLE_1 + n - 1)
  else if (n < 256) {
    w.byte(Tag.TUPLE_L1)
    w.byte(n)
  } else {
    w.byte(Tag.TUPLE_L4)
    w.u32(n)
  }
}

/**
 * Appends the canonical brine encoding of `value` to `w`.
 *
 * @since 0.1.0 @category encoding
 */
export const write = (w: Writer, value: unknown): void => {
  switch (typeof value) {
    case "undefined":
      return w.byte(Tag.NONE)
    case "boolean":
      return w.byte(value ? Tag.TRUE : Tag.FALSE)
    case "number":
      if (Number.isInteger(value) && !Object.is(value, -0)) {
        if (value >= IMM_MIN && value <= IMM_MAX) return w.byte(IMM_INT_ZERO + value)
        return writeIntText(w, Number.isSafeInteger(value) ? String(value) : BigInt(value).toString())
      }
      return writeFloat(w, value)
    case "bigint":
      if (value >= IMM_MIN && value <= IMM_MAX) return w.byte(IMM_INT_ZERO + Number(value))
      return writeIntText(w, value.toString())
    case "string":
      return writeStr(w, value)
    case "symbol":
      if (value === Ellipsis) return w.byte(Tag.ELLIPSIS)
      if (value === NotImplemented) return w.byte(Tag.NOT_IMPLEMENTED)
      break
    case "object": {
      if (value === null) return w.byte(Tag.NONE)
      if (Array.isArray(value)) {
        writeTupleHeader(w, value.length)
        for (let i = 0; i < value.length; i++) write(w, value[i])
        return
      }
      if (value instanceof Uint8Array) return writeBytes(w, value)
      if (value instanceof PyFloat) return writeFloat(w, value.value)
      if (value instanceof Complex) {
        w.byte(Tag.COMPLEX)
        w.f64(value.real)
        w.f64(value.imag)
        return
      }
      if (value instanceof Slice) {
        w.byte(Tag.SLICE)
        return write(w, [value.start, value.stop, value.step])
      }
      if (value instanceof FrozenSet) {
        w.byte(Tag.FROZENSET)
        return write(w, value.items)
      }
      break
    }
  }
  throw new BrineError({ reason: "Unencodable", detail: `cannot brine a ${describe(value)}` })
}

const describe = (value: unknown): string => {
  if (typeof value === "function") return `function ${value.name || "<anonymous>"}`
  if (typeof value === "object" && value !== null) return value.constructor?.name ?? "object"
  return typeof value
}

/**
 * Encodes one value. Throws `BrineError` for values brine cannot carry.
 *
 * @since 0.1.0 @category encoding
 */
export const encode = (value: unknown): Uint8Array => {
  const w = new Writer()
  write(w, value)
  return w.result()
}

// ---------------------------------------------------------------------------------------------
// decoder

/** @since 0.1.0 @category decoding */
export interface DecodeOptions {
  /** Decode integral floats as `PyFloat` so that they re-encode as floats (default false: plain numbers). */
  readonly preserveFloats?: boolean | undefined
  /**
   * Most decimal digits an int may have (default `DEFAULT_MAX_INT_DIGITS`, CPython's limit on
   * int/str conversion): turning a longer one into a BigInt would hold the event loop for seconds.
   */
  readonly maxIntDigits?: number | undefined
  /**
   * Most values one decode may produce, items of tuples included (default
   * `DEFAULT_MAX_VALUES`): a frame of one-byte items would otherwise become an array of tens of
   * millions of elements.
   */
  readonly maxValues?: number | undefined
}

/** @since 0.1.0 @category decoding */
export const DEFAULT_MAX_VALUES = 1_000_000

/** CPython's default `sys.get_int_max_str_digits()`. @since 0.1.0 @category decoding */
export const DEFAULT_MAX_INT_DIGITS = 4300

const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true })

class Reader {
  pos = 0
  readonly preserveFloats: boolean
  readonly maxIntDigits: number
  readonly maxValues: number
  values = 0
  constructor(readonly bytes: Uint8Array, readonly view: DataView, options: DecodeOptions | undefined) {
    this.preserveFloats = options?.preserveFloats ?? false
    this.maxIntDigits = options?.maxIntDigits ?? DEFAULT_MAX_INT_DIGITS
    this.maxValues = options?.maxValues ?? DEFAULT_MAX_VALUES
  }
  need(n: number): void {
    if (this.pos + n > this.bytes.length) {
      throw new BrineError({ reason: "Truncated", detail: `needed ${n} more bytes at offset ${this.pos}` })
    }
  }
  u8(): number {
    this.need(1)
    return this.bytes[this.pos++]
  }
  u32(): number {
    this.need(4)
    const n = this.view.getUint32(this.pos)
    this.pos += 4
    return n
  }
  take(n: number): Uint8Array {
    this.need(n)
    const out = this.bytes.subarray(this.pos, this.pos + n)
    this.pos += n
    return out
  }
}

const readBytesBody = (r: Reader, tag: number): Uint8Array | undefined => {
  if (tag === Tag.EMPTY_BYTES) return new Uint8Array(0)
  if (tag >= Tag.BYTES_1 && tag <= Tag.BYTES_1 + 3) return r.take(tag - Tag.BYTES_1 + 1)
  if (tag === Tag.BYTES_L1) return r.take(r.u8())
  if (tag === Tag.BYTES_L4) return r.take(r.u32())
  return undefined
}

const decodeUtf8 = (b: Uint8Array): string => {
  const n = b.length
  if (n < 64) {
    let s = ""
    for (let i = 0; i < n; i++) {
      const c = b[i]
      if (c > 0x7f) return strictUtf8(b)
      s += String.fromCharCode(c)
    }
    return s
  }
  return strictUtf8(b)
}

const strictUtf8 = (b: Uint8Array): string => {
  try {
    return utf8.decode(b)
  } catch {
    throw new BrineError({ reason: "InvalidUtf8", detail: "str payload is not valid UTF-8" })
  }
}

const parseInt_ = (text: Uint8Array, maxDigits: number): number | bigint => {
  const n = text.length
  if (n > maxDigits) {
    let digits = 0
    for (let i = 0; i < n && digits <= maxDigits; i++) if (text[i] >= 0x30 && text[i] <= 0x39) digits++
    if (digits > maxDigits) {
      throw new BrineError({
        reason: "TooManyDigits",
        detail: `an int of more than ${maxDigits} digits (the limit for integer string conversion)`
      })
    }
  }
  // fast path: plain decimal digits that fit a double exactly (ids, seqs, counts)
  if (n > 0 && n <= 15) {
    let neg = false, i = 0, v = 0
    if (text[0] === 0x2d) {
      neg = true
      i = 1
    }
    for (; i < n; i++) {
      const d = text[i] - 0x30
      if (d < 0 || d > 9) break
      v = v * 10 + d
    }
    if (i === n && n > (neg ? 1 : 0)) return neg && v !== 0 ? -v : v
  }
  let s = ""
  for (let i = 0; i < text.length; i++) s += String.fromCharCode(text[i])
  // what Python's int() accepts from bytes: ASCII whitespace around, a sign, single underscores between digits
  const m = /^[ \t\n\r\v\f]*([+-]?\d+(?:_\d+)*)[ \t\n\r\v\f]*$/.exec(s)
  if (m === null) throw new BrineError({ reason: "Malformed", detail: `bad int literal ${s}` })
  const big = BigInt(m[1].replace(/_/g, ""))
  return big >= -9007199254740991n && big <= 9007199254740991n ? Number(big) : big
}

const read = (r: Reader): Value => {
  if (++r.values > r.maxValues) {
    throw new BrineError({ reason: "TooManyValues", detail: `a message of more than ${r.maxValues} values` })
  }
  const tag = r.u8()
  if (tag >= Tag.IMM_INT_FIRST && tag <= Tag.IMM_INT_LAST) return tag - IMM_INT_ZERO
  switch (tag) {
    case Tag.NONE:
      return null
    case Tag.EMPTY_TUPLE:
      return []
    case Tag.TRUE:
      return true
    case Tag.FALSE:
      return false
    case Tag.NOT_IMPLEMENTED:
      return NotImplemented
    case Tag.ELLIPSIS:
      return Ellipsis
    case Tag.STR: {
      const inner = r.u8()
      const body = readBytesBody(r, inner)
      if (body === undefined) throw new BrineError({ reason: "Malformed", detail: "str tag not followed by bytes" })
      return decodeUtf8(body)
    }
    case Tag.TUPLE_1:
    case Tag.TUPLE_1 + 1:
    case Tag.TUPLE_1 + 2:
    case Tag.TUPLE_1 + 3:
      return readItems(r, tag - Tag.TUPLE_1 + 1)
    case Tag.TUPLE_L1:
      return readItems(r, r.u8())
    case Tag.TUPLE_L4:
      return readItems(r, r.u32())
    case Tag.INT_L1:
      return parseInt_(r.take(r.u8()), r.maxIntDigits)
    case Tag.INT_L4:
      return parseInt_(r.take(r.u32()), r.maxIntDigits)
    case Tag.FLOAT: {
      r.need(8)
      const v = r.view.getFloat64(r.pos)
      r.pos += 8
      return r.preserveFloats && Number.isInteger(v) ? new PyFloat(v) : v
    }
    case Tag.COMPLEX: {
      r.need(16)
      const c = new Complex(r.view.getFloat64(r.pos), r.view.getFloat64(r.pos + 8))
      r.pos += 16
      return c
    }
    case Tag.SLICE: {
      const parts = read(r)
      if (!Array.isArray(parts) || parts.length !== 3) {
        throw new BrineError({ reason: "Malformed", detail: "slice body is not a 3-tuple" })
      }
      return new Slice(parts[0], parts[1], parts[2])
    }
    case Tag.FROZENSET: {
      const items = read(r)
      if (!Array.isArray(items)) throw new BrineError({ reason: "Malformed", detail: "frozenset body is not a tuple" })
      return new FrozenSet(items)
    }
  }
  const body = readBytesBody(r, tag)
  // a copy: the input is often a view of a whole frame
  if (body !== undefined) return Uint8Array.prototype.slice.call(body)
  throw new BrineError({ reason: "UnknownTag", detail: `unknown brine tag 0x${tag.toString(16).padStart(2, "0")}` })
}

const readItems = (r: Reader, n: number): Array<Value> => {
  // every item takes at least one byte: refuse counts the input cannot hold before allocating
  r.need(n)
  const out = new Array<Value>(n)
  for (let i = 0; i < n; i++) out[i] = read(r)
  return out
}

/**
 * Decodes the first value in `bytes` (trailing bytes are ignored, as Python does).
 * Throws `BrineError` on malformed input.
 *
 * @since 0.1.0 @category decoding
 */
export const decode = (bytes: Uint8Array, options?: DecodeOptions): Value => {
  const r = new Reader(bytes, new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength), options)
  return read(r)
}

/**
 * Decodes a value starting at `offset`, returning it with the offset just past it.
 *
 * @since 0.1.0 @category decoding
 */
export const decodeAt = (bytes: Uint8Array, offset: number, options?: DecodeOptions): readonly [Value, number] => {
  const r = new Reader(bytes, new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength), options)
  r.pos = offset
  const v = read(r)
  return [v, r.pos]
}
