/**
 * Pickle: a codec for the plain-data subset of Python's pickle format, used by `obtain()` (copying
 * a remote value through RPyC's `PICKLE` request) and to answer `PICKLE` requests from Python
 * peers.
 *
 * ## Security restriction
 *
 * A pickle is a program for a stack machine whose `GLOBAL` / `STACK_GLOBAL` opcodes import any
 * callable and whose `REDUCE`, `BUILD`, `INST`, `OBJ`, `NEWOBJ` and `NEWOBJ_EX` opcodes call it:
 * unpickling untrusted data in Python runs arbitrary code. This decoder is a closed interpreter
 * for data opcodes only. It never resolves a name, never calls anything and never constructs an
 * object other than the JavaScript values in the table below. Every other opcode (the object
 * opcodes above, `PERSID`, `BINPERSID`, `EXT1/2/4`, out-of-band `NEXT_BUFFER` / `READONLY_BUFFER`)
 * fails with a `PickleError` of reason `"Unsupported"` naming the opcode, before anything is built
 * from it.
 *
 * The one exception is how Python writes `bytes` under protocols 0–2, which have no bytes opcode:
 * `_codecs.encode(<str>, "latin1")` for non-empty bytes and `bytes()` (`__builtin__.bytes` with an
 * empty argument tuple) for `b""`. `GLOBAL _codecs encode`, `GLOBAL __builtin__ bytes` and
 * `GLOBAL builtins bytes` push an inert marker; the marker is only accepted as the callable of a
 * `REDUCE` whose arguments have exactly those shapes, which then pushes the bytes. The marker
 * can never end up inside a result. Any other global, including other builtins, is refused; so
 * are old-protocol spellings of `set`, `frozenset` and `bytearray` (Python only uses those opcode
 * sequences below protocol 4 / 5 — request protocol 4 or newer to receive such values).
 *
 * ## Values
 *
 * | Python                      | `loads` gives                  | `dumps` takes                                      |
 * |-----------------------------|--------------------------------|----------------------------------------------------|
 * | `None`                      | `null`                         | `null`, `undefined`                                |
 * | `bool`                      | `boolean`                      | `boolean`                                          |
 * | `int`                       | `number` if safe, else `bigint`| integral `number`, `bigint`                        |
 * | `float`                     | `number` (`PyFloat` on request)| non-integral number, `-0`, `NaN`, `±Infinity`, `PyFloat` |
 * | `str`                       | `string`                       | well-formed `string` (lone surrogates are refused)  |
 * | `bytes`                     | `Uint8Array`                   | `Uint8Array` (and `Buffer`)                         |
 * | `bytearray`                 | `Uint8Array`                   | —                                                  |
 * | `tuple`                     | `Array`                        | `Array` in a dict key / set element position       |
 * | `list`                      | `Array`                        | `Array`                                            |
 * | `dict`                      | `Map` (or object, see below)   | `Map`; plain object (prototype `Object.prototype` or `null`) |
 * | `set`                       | `Set`                          | `Set`                                              |
 * | `frozenset`                 | `Brine.FrozenSet`              | `Brine.FrozenSet`                                  |
 *
 * Decoded dicts are `Map`s, because Python keys are often not strings (`1`, `(1, 2)`); keys keep
 * their Python identity semantics only as far as JavaScript's `Map` allows (tuple keys are arrays,
 * compared by reference). Pass `{ dicts: "object" }` to `loads`, or call `mapsToObjects` on a
 * decoded value, to turn every dict whose keys are all strings into a plain object.
 *
 * Memo references are kept: an object the pickle shares (or that contains itself) is the same
 * JavaScript object at every place it occurs. `dumps` memoizes containers too, so shared
 * references survive the trip to Python; cycles are refused.
 *
 * @since 0.1.0
 */
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import { FrozenSet, PyFloat, Writer } from "./Brine.js"
import type * as Brine from "./Brine.js"
import * as Bytes from "./Bytes.js"

// ---------------------------------------------------------------------------------------------
// opcodes

/**
 * Every pickle opcode of protocols 0–5, by its name in CPython's `pickle` module.
 *
 * @since 0.1.0 @category constants
 */
export const Opcode = {
  MARK: 0x28,
  STOP: 0x2e,
  POP: 0x30,
  POP_MARK: 0x31,
  DUP: 0x32,
  FLOAT: 0x46,
  INT: 0x49,
  BININT: 0x4a,
  BININT1: 0x4b,
  LONG: 0x4c,
  BININT2: 0x4d,
  NONE: 0x4e,
  PERSID: 0x50,
  BINPERSID: 0x51,
  REDUCE: 0x52,
  STRING: 0x53,
  BINSTRING: 0x54,
  SHORT_BINSTRING: 0x55,
  UNICODE: 0x56,
  BINUNICODE: 0x58,
  APPEND: 0x61,
  BUILD: 0x62,
  GLOBAL: 0x63,
  DICT: 0x64,
  EMPTY_DICT: 0x7d,
  APPENDS: 0x65,
  GET: 0x67,
  BINGET: 0x68,
  INST: 0x69,
  LONG_BINGET: 0x6a,
  LIST: 0x6c,
  EMPTY_LIST: 0x5d,
  OBJ: 0x6f,
  PUT: 0x70,
  BINPUT: 0x71,
  LONG_BINPUT: 0x72,
  SETITEM: 0x73,
  TUPLE: 0x74,
  EMPTY_TUPLE: 0x29,
  SETITEMS: 0x75,
  BINFLOAT: 0x47,
  // protocol 2
  PROTO: 0x80,
  NEWOBJ: 0x81,
  EXT1: 0x82,
  EXT2: 0x83,
  EXT4: 0x84,
  TUPLE1: 0x85,
  TUPLE2: 0x86,
  TUPLE3: 0x87,
  NEWTRUE: 0x88,
  NEWFALSE: 0x89,
  LONG1: 0x8a,
  LONG4: 0x8b,
  // protocol 3
  BINBYTES: 0x42,
  SHORT_BINBYTES: 0x43,
  // protocol 4
  SHORT_BINUNICODE: 0x8c,
  BINUNICODE8: 0x8d,
  BINBYTES8: 0x8e,
  EMPTY_SET: 0x8f,
  ADDITEMS: 0x90,
  FROZENSET: 0x91,
  NEWOBJ_EX: 0x92,
  STACK_GLOBAL: 0x93,
  MEMOIZE: 0x94,
  FRAME: 0x95,
  // protocol 5
  BYTEARRAY8: 0x96,
  NEXT_BUFFER: 0x97,
  READONLY_BUFFER: 0x98
} as const

/** @since 0.1.0 */
export type Opcode = typeof Opcode[keyof typeof Opcode]

const opNames: ReadonlyMap<number, string> = new Map(
  Object.entries(Opcode).map(([name, code]) => [code, name] as const)
)

/**
 * The name of an opcode byte (`"GLOBAL"`), or `"0x.."` for a byte that is no opcode.
 *
 * @since 0.1.0 @category constants
 */
export const opcodeName = (code: number): string => opNames.get(code) ?? `0x${code.toString(16).padStart(2, "0")}`

/** The newest protocol `loads` reads and `dumps` writes. @since 0.1.0 @category constants */
export const HIGHEST_PROTOCOL = 5

/** The protocol `dumps` writes by default (read by every Python since 3.4). @since 0.1.0 @category constants */
export const DEFAULT_PROTOCOL = 4

// ---------------------------------------------------------------------------------------------
// errors

/**
 * Raised when bytes are not a pickle of plain data, or a value has no plain-data pickle.
 *
 * - `"Unsupported"`: a well-formed pickle (or a JavaScript value) outside the plain-data subset:
 *   an object-building opcode, a global other than the bytes constructors, a function, a class
 *   instance, a cycle, ...
 * - `"Malformed"`: bytes that are not a valid pickle (unknown opcode, stack underflow, missing memo
 *   entry, unhashable dict key, bad text literal, ...).
 * - `"Truncated"`: the input ends before the `STOP` opcode.
 *
 * `opcode` names the offending opcode when there is one; the `message` always names it.
 *
 * @since 0.1.0 @category errors
 */
export class PickleError extends Data.TaggedError("PickleError")<{
  readonly reason: "Unsupported" | "Malformed" | "Truncated"
  readonly detail: string
  readonly opcode?: string | undefined
}> {
  override get message(): string {
    return `${this.reason}: ${this.detail}`
  }
}

// ---------------------------------------------------------------------------------------------
// values

/**
 * A value `loads` returns (with the default `dicts: "Map"`).
 *
 * Arrays are tuples or lists; `Uint8Array`s are bytes or bytearrays; dicts are `Map`s.
 *
 * @since 0.1.0 @category models
 */
export type Value =
  | null
  | boolean
  | number
  | bigint
  | string
  | Uint8Array
  | PyFloat
  | FrozenSet
  | Array<Value>
  | Map<Value, Value>
  | Set<Value>

/**
 * A value `loads` returns with `dicts: "object"`, and `mapsToObjects` returns: like `Value`, but
 * dicts whose keys are all strings are plain objects.
 *
 * @since 0.1.0 @category models
 */
export type PlainValue =
  | null
  | boolean
  | number
  | bigint
  | string
  | Uint8Array
  | PyFloat
  | FrozenSet
  | Array<PlainValue>
  | Map<PlainValue, PlainValue>
  | Set<PlainValue>
  | { [key: string]: PlainValue }

/** @since 0.1.0 @category decoding */
export interface LoadsOptions {
  /** Decode integral floats as `PyFloat` so that they re-encode as floats (default false: plain numbers). */
  readonly preserveFloats?: boolean | undefined
  /**
   * `"Map"` (default): every dict is a `Map`. `"object"`: every dict whose keys are all strings is
   * a plain object instead (see `mapsToObjects`); the others stay `Map`s.
   */
  readonly dicts?: "Map" | "object" | undefined
}

// ---------------------------------------------------------------------------------------------
// decoder

/** The inert stand-in for the only globals allowed: the callables Python uses for `bytes` below protocol 3. */
class BytesGlobal {
  constructor(readonly name: "_codecs.encode" | "bytes") {}
}

const utf8 = new TextDecoder("utf-8", { fatal: true })
const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER)

const normalizeInt = (big: bigint): number | bigint => (big >= -MAX_SAFE && big <= MAX_SAFE ? Number(big) : big)

/** Two's-complement little-endian bytes to an int, as `pickle.decode_long`. */
const decodeLong = (b: Uint8Array): number | bigint => {
  const n = b.length
  if (n === 0) return 0
  if (n <= 6) {
    let v = 0
    for (let i = n - 1; i >= 0; i--) v = v * 256 + b[i]
    return b[n - 1] & 0x80 ? v - 2 ** (8 * n) : v
  }
  let hex = ""
  for (let i = n - 1; i >= 0; i--) hex += HEX[b[i]]
  let big = BigInt("0x" + hex)
  if (b[n - 1] & 0x80) big -= 1n << BigInt(8 * n)
  return normalizeInt(big)
}

const HEX: ReadonlyArray<string> = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"))

const latin1 = (b: Uint8Array): string => {
  let s = ""
  for (let i = 0; i < b.length; i += 8192) {
    s += String.fromCharCode.apply(null, Array.from(b.subarray(i, i + 8192)))
  }
  return s
}

const PY_DECIMAL = /^[+-]?(?:[1-9](?:_?\d)*|0(?:_?0)*)$/
const PY_PREFIXED = /^([+-]?)(0[xX](?:_?[0-9a-fA-F])+|0[oO](?:_?[0-7])+|0[bB](?:_?[01])+)$/
const C_FLOAT = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/
const C_FLOAT_SPECIAL = /^([+-]?)(inf|infinity|nan)$/i
// Python's `str.strip()` on bytes: ASCII whitespace
const trimAscii = (s: string): string => s.replace(/^[ \t\n\r\x0b\x0c]+|[ \t\n\r\x0b\x0c]+$/g, "")

const PY_BASE10 = /^[+-]?\d(?:_?\d)*$/
const C_STRTOL = /^[ \t\n\x0b\x0c\r]*([+-]?)(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9]\d*)$/
const C_LONG_MAX = 2n ** 63n

/**
 * The `INT` argument as CPython's unpickler reads it: C's `strtol(text, 0)` (which reads `010` as
 * octal) when that consumes the whole line without overflow, else `int(text, 0)`. The flag tells
 * whether `strtol` read it, which is when a 2-character `0` or `1` is a bool.
 */
const parseIntArgument = (s: string): readonly [number | bigint, boolean] | undefined => {
  const m = C_STRTOL.exec(s)
  if (m !== null) {
    const digits = m[2]
    const magnitude = /^0[0-7]+$/.test(digits) ? BigInt("0o" + digits.slice(1)) : BigInt(digits)
    const v = m[1] === "-" ? -magnitude : magnitude
    if (v >= -C_LONG_MAX && v < C_LONG_MAX) return [normalizeInt(v), true]
  }
  const v = parsePyInt(s)
  return v === undefined ? undefined : [v, false]
}

/** Python's limit on decimal digits in `int(text)` (`sys.get_int_max_str_digits()`), which bounds the work too. */
const INT_MAX_STR_DIGITS = 4300

const decimal = (s: string): number | bigint | undefined => {
  const digits = s.replace(/[_+-]/g, "")
  return digits.length > INT_MAX_STR_DIGITS ? undefined : normalizeInt(BigInt(s.replace(/_/g, "")))
}

/**
 * Python's `int(text, 0)`, or `int(text)` for base 10; undefined when Python would raise
 * (including for more than 4300 decimal digits, as Python 3.11+ does).
 */
const parsePyInt = (raw: string, base: 0 | 10 = 0): number | bigint | undefined => {
  const s = trimAscii(raw)
  if (base === 10) return PY_BASE10.test(s) ? decimal(s) : undefined
  if (PY_DECIMAL.test(s)) return decimal(s)
  const m = PY_PREFIXED.exec(s)
  if (m === null) return undefined
  const big = BigInt(m[2].replace(/_/g, ""))
  return normalizeInt(m[1] === "-" ? -big : big)
}

/**
 * The `FLOAT` argument as CPython's unpickler reads it (`PyOS_string_to_double`: no whitespace,
 * no underscores, overflow refused); undefined when Python would raise.
 */
const parseFloatLiteral = (s: string): number | undefined => {
  if (C_FLOAT.test(s)) {
    const v = Number(s)
    return Number.isFinite(v) ? v : undefined
  }
  const m = C_FLOAT_SPECIAL.exec(s)
  if (m === null) return undefined
  if (m[2].toLowerCase() === "nan") return NaN
  return m[1] === "-" ? -Infinity : Infinity
}

/** A text argument for an error message, cut short. */
const show = (s: string): string => JSON.stringify(s.length > 40 ? s.slice(0, 40) + "..." : s)

/** `codecs.escape_decode`'s one-character escapes */
const SIMPLE_ESCAPES: Readonly<Record<string, string>> = {
  "\n": "",
  "\\": "\\",
  "'": "'",
  "\"": "\"",
  a: "\x07",
  b: "\b",
  f: "\f",
  n: "\n",
  r: "\r",
  t: "\t",
  v: "\v"
}

class Unpickler {
  pos = 0
  /** offset and name of the opcode being executed, for errors */
  opStart = 0
  op = 0
  stack: Array<unknown> = []
  readonly metastack: Array<Array<unknown>> = []
  /** the memo: dense indexes (all Python writes) in an array, any others in a map */
  readonly memoDense: Array<unknown> = []
  readonly memoSparse = new Map<number, unknown>()
  memoSize = 0
  readonly view: DataView
  /** arrays that are lists (mutable), as opposed to tuples */
  readonly lists = new Set<Array<unknown>>()
  /** tuples all of whose items are hashable */
  readonly hashableTuples = new Set<Array<unknown>>()
  /** `Uint8Array`s that are bytearrays (unhashable) */
  readonly bytearrays = new Set<Uint8Array>()

  constructor(readonly bytes: Uint8Array, readonly preserveFloats: boolean) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  }

  fail(reason: PickleError["reason"], detail: string): never {
    const name = opcodeName(this.op)
    throw new PickleError({ reason, opcode: name, detail: `${name} at offset ${this.opStart}: ${detail}` })
  }

  // -- reading ---------------------------------------------------------------------------------

  need(n: number): void {
    if (n > this.bytes.length - this.pos) {
      this.fail("Truncated", `needs ${n} more bytes, ${this.bytes.length - this.pos} left`)
    }
  }
  u8(): number {
    this.need(1)
    return this.bytes[this.pos++]
  }
  u16(): number {
    this.need(2)
    const n = this.view.getUint16(this.pos, true)
    this.pos += 2
    return n
  }
  i32(): number {
    this.need(4)
    const n = this.view.getInt32(this.pos, true)
    this.pos += 4
    return n
  }
  u32(): number {
    this.need(4)
    const n = this.view.getUint32(this.pos, true)
    this.pos += 4
    return n
  }
  u64(): number {
    this.need(8)
    const n = this.view.getBigUint64(this.pos, true)
    this.pos += 8
    // beyond 2^53 the number is inexact, but still larger than any input: the length check holds
    return Number(n)
  }
  take(n: number): Uint8Array {
    this.need(n)
    const out = this.bytes.subarray(this.pos, this.pos + n)
    this.pos += n
    return out
  }
  /** A copy, never a view of the input. */
  copy(n: number): Uint8Array {
    return new Uint8Array(this.take(n))
  }
  /** One text line without its `\n`, as latin-1. */
  line(): string {
    const end = this.bytes.indexOf(0x0a, this.pos)
    if (end < 0) this.fail("Truncated", "text argument is not terminated by a newline")
    const s = latin1(this.bytes.subarray(this.pos, end))
    this.pos = end + 1
    return s
  }
  str(n: number): string {
    const b = this.take(n)
    if (n < 32) {
      let s = ""
      for (let i = 0; i < n; i++) {
        const c = b[i]
        if (c > 0x7f) return this.utf8(b)
        s += String.fromCharCode(c)
      }
      return s
    }
    return this.utf8(b)
  }
  utf8(b: Uint8Array): string {
    try {
      return utf8.decode(b)
    } catch {
      return this.utf8Surrogatepass(b)
    }
  }

  /** UTF-8 with lone surrogates allowed, as Python's `'surrogatepass'` (how Python pickles them). */
  utf8Surrogatepass(b: Uint8Array): string {
    const units: Array<number> = []
    const n = b.length
    let i = 0
    const cont = (k: number): number => {
      const c = i + k < n ? b[i + k] : -1
      if ((c & 0xc0) !== 0x80 || c < 0) this.fail("Malformed", "str payload is not valid UTF-8")
      return c & 0x3f
    }
    while (i < n) {
      const c = b[i]
      if (c < 0x80) {
        units.push(c)
        i += 1
      } else if (c >= 0xc2 && c <= 0xdf) {
        units.push(((c & 0x1f) << 6) | cont(1))
        i += 2
      } else if (c >= 0xe0 && c <= 0xef) {
        const cp = ((c & 0x0f) << 12) | (cont(1) << 6) | cont(2)
        if (cp < 0x800) this.fail("Malformed", "str payload is not valid UTF-8 (overlong)")
        units.push(cp)
        i += 3
      } else if (c >= 0xf0 && c <= 0xf4) {
        const cp = ((c & 0x07) << 18) | (cont(1) << 12) | (cont(2) << 6) | cont(3)
        if (cp < 0x10000 || cp > 0x10ffff) this.fail("Malformed", "str payload is not valid UTF-8")
        const v = cp - 0x10000
        units.push(0xd800 | (v >> 10), 0xdc00 | (v & 0x3ff))
        i += 4
      } else {
        this.fail("Malformed", "str payload is not valid UTF-8")
      }
    }
    let s = ""
    for (let j = 0; j < units.length; j += 8192) s += String.fromCharCode.apply(null, units.slice(j, j + 8192))
    return s
  }

  /** Python's `raw-unicode-escape` decoding (protocol 0 `UNICODE`). */
  rawUnicodeEscape(s: string): string {
    let out = ""
    let i = 0
    while (i < s.length) {
      const bs = s.indexOf("\\", i)
      if (bs < 0) {
        out += s.slice(i)
        break
      }
      let j = bs
      while (j < s.length && s[j] === "\\") j++
      const run = j - bs
      const kind = s[j]
      if (run % 2 === 1 && (kind === "u" || kind === "U")) {
        const digits = kind === "u" ? 4 : 8
        const hex = s.slice(j + 1, j + 1 + digits)
        if (hex.length !== digits || !/^[0-9a-fA-F]+$/.test(hex)) {
          this.fail("Malformed", `truncated \\${kind} escape in UNICODE argument`)
        }
        const cp = parseInt(hex, 16)
        if (cp > 0x10ffff) this.fail("Malformed", "\\U escape out of range in UNICODE argument")
        out += s.slice(i, j - 1) + String.fromCodePoint(cp)
        i = j + 1 + digits
      } else {
        out += s.slice(i, j)
        i = j
      }
    }
    return out
  }

  /** Python's `codecs.escape_decode` (protocol 0 `STRING`), returning latin-1 text of the bytes. */
  escapeDecode(s: string): string {
    let out = ""
    for (let i = 0; i < s.length; i++) {
      const c = s[i]
      if (c !== "\\") {
        out += c
        continue
      }
      if (++i >= s.length) this.fail("Malformed", "trailing \\ in STRING argument")
      const e = s[i]
      const mapped = SIMPLE_ESCAPES[e]
      if (mapped !== undefined) out += mapped
      else if (e >= "0" && e <= "7") {
        let k = i
        while (k < i + 3 && k < s.length && s[k] >= "0" && s[k] <= "7") k++
        out += String.fromCharCode(parseInt(s.slice(i, k), 8) & 0xff)
        i = k - 1
      } else if (e === "x") {
        const hex = s.slice(i + 1, i + 3)
        if (!/^[0-9a-fA-F]{2}$/.test(hex)) this.fail("Malformed", "invalid \\x escape in STRING argument")
        out += String.fromCharCode(parseInt(hex, 16))
        i += 2
      } else out += "\\" + e
    }
    return out
  }

  /** A Python 2 `str` (`STRING`, `BINSTRING`, `SHORT_BINSTRING`): decoded as ASCII, like Python 3's default. */
  py2str(text: string): string {
    if (!/^[\x00-\x7f]*$/.test(text)) {
      this.fail("Malformed", "Python 2 str is not ASCII (Python 3 refuses it too)")
    }
    return text
  }

  // -- stack -----------------------------------------------------------------------------------

  push(v: unknown): void {
    this.stack.push(v)
  }
  pop(): unknown {
    if (this.stack.length === 0) this.fail("Malformed", "stack underflow")
    return this.stack.pop()
  }
  top(): unknown {
    if (this.stack.length === 0) this.fail("Malformed", "stack underflow")
    return this.stack[this.stack.length - 1]
  }
  popMark(): Array<unknown> {
    const items = this.stack
    const prev = this.metastack.pop()
    if (prev === undefined) this.fail("Malformed", "no MARK on the stack")
    this.stack = prev
    return items
  }

  // -- values ----------------------------------------------------------------------------------

  /** An item about to go into a container or be returned: never the bytes-constructor marker. */
  plain(v: unknown): void {
    if (v instanceof BytesGlobal) {
      this.fail("Unsupported", `the global ${v.name} may only be called (by REDUCE) to build bytes`)
    }
  }
  plainAll(items: ReadonlyArray<unknown>): void {
    for (let i = 0; i < items.length; i++) this.plain(items[i])
  }
  isHashable(v: unknown): boolean {
    if (typeof v !== "object" || v === null) return true
    if (v instanceof Uint8Array) return !this.bytearrays.has(v)
    if (Array.isArray(v)) return this.hashableTuples.has(v)
    return v instanceof PyFloat || v instanceof FrozenSet
  }
  hashable(v: unknown): void {
    this.plain(v)
    if (!this.isHashable(v)) this.fail("Malformed", `unhashable type: '${this.typeName(v)}'`)
  }
  typeName(v: unknown): string {
    if (v instanceof Uint8Array) return this.bytearrays.has(v) ? "bytearray" : "bytes"
    if (Array.isArray(v)) return this.lists.has(v) ? "list" : "tuple"
    if (v instanceof Map) return "dict"
    if (v instanceof Set) return "set"
    return typeof v
  }
  tuple(items: Array<unknown>): void {
    this.plainAll(items)
    let hashable = true
    for (let i = 0; i < items.length && hashable; i++) hashable = this.isHashable(items[i])
    if (hashable) this.hashableTuples.add(items)
    this.push(items)
  }
  list(items: Array<unknown>): void {
    this.plainAll(items)
    this.lists.add(items)
    this.push(items)
  }
  float(v: number): void {
    this.push(this.preserveFloats && Number.isInteger(v) ? new PyFloat(v) : v)
  }
  targetList(): Array<unknown> {
    const t = this.top()
    if (!Array.isArray(t) || !this.lists.has(t)) this.fail("Malformed", `cannot append to ${this.typeName(t)}`)
    return t
  }
  targetDict(): Map<unknown, unknown> {
    const t = this.top()
    if (!(t instanceof Map)) this.fail("Malformed", `cannot set an item of ${this.typeName(t)}`)
    return t
  }
  setItems(d: Map<unknown, unknown>, kvs: ReadonlyArray<unknown>): void {
    if (kvs.length % 2 !== 0) this.fail("Malformed", "odd number of items for a dict")
    for (let i = 0; i < kvs.length; i += 2) {
      this.hashable(kvs[i])
      this.plain(kvs[i + 1])
      d.set(kvs[i], kvs[i + 1])
    }
  }
  memoPut(index: number): void {
    if (!Number.isSafeInteger(index) || index < 0) this.fail("Malformed", "negative or invalid memo index")
    const v = this.top()
    // invariant: an index is in memoDense iff it is below its length
    const dense = this.memoDense
    if (index < dense.length) dense[index] = v
    else if (index === dense.length) {
      if (!this.memoSparse.delete(index)) this.memoSize++
      dense.push(v)
    } else {
      if (!this.memoSparse.has(index)) this.memoSize++
      this.memoSparse.set(index, v)
    }
  }
  memoGet(index: number | bigint | undefined): void {
    // values are never `undefined` (None is null): an undefined slot is an empty one
    const v = typeof index !== "number"
      ? undefined
      : index < this.memoDense.length
      ? this.memoDense[index]
      : this.memoSparse.get(index)
    if (v === undefined) this.fail("Malformed", `memo entry ${String(index)} not found`)
    this.push(v)
  }
  /** A memo index argument (`int(text)`). */
  textInt(): number | bigint {
    const s = this.line()
    const v = parsePyInt(s, 10)
    if (v === undefined) this.fail("Malformed", `invalid int literal ${show(s)}`)
    return v
  }
  global(module: string, name: string): void {
    if (module === "_codecs" && name === "encode") return this.push(new BytesGlobal("_codecs.encode"))
    if ((module === "__builtin__" || module === "builtins") && name === "bytes") {
      return this.push(new BytesGlobal("bytes"))
    }
    this.fail("Unsupported", `refusing to import ${module}.${name}: only plain data is unpickled`)
  }
  reduce(): void {
    const args = this.pop()
    const fn = this.top()
    if (!(fn instanceof BytesGlobal)) {
      this.fail("Unsupported", "refusing to call an object: only plain data is unpickled")
    }
    if (!Array.isArray(args) || this.lists.has(args)) this.fail("Malformed", "REDUCE arguments are not a tuple")
    let out: Uint8Array | undefined
    if (fn.name === "bytes") {
      if (args.length === 0) out = new Uint8Array(0)
    } else if (args.length === 2 && typeof args[0] === "string" && (args[1] === "latin1" || args[1] === "latin-1")) {
      const s = args[0]
      out = new Uint8Array(s.length)
      for (let i = 0; i < s.length; i++) {
        const c = s.charCodeAt(i)
        if (c > 0xff) this.fail("Malformed", "_codecs.encode(..., 'latin1') of a non-latin-1 str")
        out[i] = c
      }
    }
    if (out === undefined) {
      this.fail("Unsupported", `refusing ${fn.name} with arguments other than Python's bytes pickling`)
    }
    this.stack[this.stack.length - 1] = out
  }

  // -- the machine -----------------------------------------------------------------------------

  run(): unknown {
    const b = this.bytes
    for (;;) {
      if (this.pos >= b.length) {
        this.op = 0
        this.opStart = this.pos
        throw new PickleError({ reason: "Truncated", detail: `pickle data ends at offset ${this.pos} without STOP` })
      }
      this.opStart = this.pos
      const op = (this.op = b[this.pos++])
      switch (op) {
        case Opcode.PROTO: {
          const p = this.u8()
          if (p > HIGHEST_PROTOCOL) this.fail("Unsupported", `unsupported pickle protocol ${p}`)
          break
        }
        case Opcode.FRAME: {
          const n = this.u64()
          if (n > b.length - this.pos) this.fail("Truncated", `frame of ${n} bytes, ${b.length - this.pos} left`)
          break
        }
        case Opcode.STOP: {
          const v = this.pop()
          this.plain(v)
          return v
        }
        case Opcode.MARK:
          this.metastack.push(this.stack)
          this.stack = []
          break
        case Opcode.POP:
          if (this.stack.length > 0) this.stack.pop()
          else this.popMark()
          break
        case Opcode.POP_MARK:
          this.popMark()
          break
        case Opcode.DUP:
          this.push(this.top())
          break

        // -- scalars
        case Opcode.NONE:
          this.push(null)
          break
        case Opcode.NEWTRUE:
          this.push(true)
          break
        case Opcode.NEWFALSE:
          this.push(false)
          break
        case Opcode.INT: {
          const s = this.line()
          const parsed = parseIntArgument(s)
          if (parsed === undefined) this.fail("Malformed", `invalid int literal ${show(s)}`)
          const [v, strtol] = parsed
          // protocol 0 writes bools as `I00` / `I01`; CPython reads any 2-character 0 or 1 as a bool
          this.push(strtol && s.length === 2 && (v === 0 || v === 1) ? v === 1 : v)
          break
        }
        case Opcode.BININT:
          this.push(this.i32())
          break
        case Opcode.BININT1:
          this.push(this.u8())
          break
        case Opcode.BININT2:
          this.push(this.u16())
          break
        case Opcode.LONG: {
          let s = this.line()
          if (s.endsWith("L")) s = s.slice(0, -1)
          const v = parsePyInt(s)
          if (v === undefined) this.fail("Malformed", `invalid int literal ${show(s)}`)
          this.push(v)
          break
        }
        case Opcode.LONG1:
          this.push(decodeLong(this.take(this.u8())))
          break
        case Opcode.LONG4: {
          const n = this.i32()
          if (n < 0) this.fail("Malformed", "negative byte count")
          this.push(decodeLong(this.take(n)))
          break
        }
        case Opcode.FLOAT: {
          const s = this.line()
          const v = parseFloatLiteral(s)
          if (v === undefined) this.fail("Malformed", `invalid float literal ${show(s)}`)
          this.float(v)
          break
        }
        case Opcode.BINFLOAT: {
          this.need(8)
          const v = this.view.getFloat64(this.pos, false)
          this.pos += 8
          this.float(v)
          break
        }

        // -- strings and bytes
        case Opcode.STRING: {
          const s = this.line()
          if (s.length < 2 || s[0] !== s[s.length - 1] || (s[0] !== "'" && s[0] !== "\"")) {
            this.fail("Malformed", "the STRING opcode argument must be quoted")
          }
          this.push(this.py2str(this.escapeDecode(s.slice(1, -1))))
          break
        }
        case Opcode.BINSTRING: {
          const n = this.i32()
          if (n < 0) this.fail("Malformed", "negative byte count")
          this.push(this.py2str(latin1(this.take(n))))
          break
        }
        case Opcode.SHORT_BINSTRING:
          this.push(this.py2str(latin1(this.take(this.u8()))))
          break
        case Opcode.UNICODE:
          this.push(this.rawUnicodeEscape(this.line()))
          break
        case Opcode.SHORT_BINUNICODE:
          this.push(this.str(this.u8()))
          break
        case Opcode.BINUNICODE:
          this.push(this.str(this.u32()))
          break
        case Opcode.BINUNICODE8:
          this.push(this.str(this.u64()))
          break
        case Opcode.SHORT_BINBYTES:
          this.push(this.copy(this.u8()))
          break
        case Opcode.BINBYTES:
          this.push(this.copy(this.u32()))
          break
        case Opcode.BINBYTES8:
          this.push(this.copy(this.u64()))
          break
        case Opcode.BYTEARRAY8: {
          const v = this.copy(this.u64())
          this.bytearrays.add(v)
          this.push(v)
          break
        }

        // -- tuples
        case Opcode.EMPTY_TUPLE:
          this.tuple([])
          break
        case Opcode.TUPLE1:
          this.tuple([this.pop()])
          break
        case Opcode.TUPLE2: {
          const y = this.pop()
          const x = this.pop()
          this.tuple([x, y])
          break
        }
        case Opcode.TUPLE3: {
          const z = this.pop()
          const y = this.pop()
          const x = this.pop()
          this.tuple([x, y, z])
          break
        }
        case Opcode.TUPLE:
          this.tuple(this.popMark())
          break

        // -- lists
        case Opcode.EMPTY_LIST:
          this.list([])
          break
        case Opcode.LIST:
          this.list(this.popMark())
          break
        case Opcode.APPEND: {
          const v = this.pop()
          this.plain(v)
          this.targetList().push(v)
          break
        }
        case Opcode.APPENDS: {
          const items = this.popMark()
          this.plainAll(items)
          const l = this.targetList()
          for (let i = 0; i < items.length; i++) l.push(items[i])
          break
        }

        // -- dicts
        case Opcode.EMPTY_DICT:
          this.push(new Map())
          break
        case Opcode.DICT: {
          const items = this.popMark()
          const d = new Map<unknown, unknown>()
          this.setItems(d, items)
          this.push(d)
          break
        }
        case Opcode.SETITEM: {
          const v = this.pop()
          const k = this.pop()
          this.setItems(this.targetDict(), [k, v])
          break
        }
        case Opcode.SETITEMS: {
          const items = this.popMark()
          this.setItems(this.targetDict(), items)
          break
        }

        // -- sets
        case Opcode.EMPTY_SET:
          this.push(new Set())
          break
        case Opcode.ADDITEMS: {
          const items = this.popMark()
          const s = this.top()
          if (!(s instanceof Set)) this.fail("Malformed", `cannot add items to ${this.typeName(s)}`)
          for (let i = 0; i < items.length; i++) {
            this.hashable(items[i])
            s.add(items[i])
          }
          break
        }
        case Opcode.FROZENSET: {
          const items = this.popMark()
          for (let i = 0; i < items.length; i++) this.hashable(items[i])
          // Python collapses equal elements; only identical ones can be recognised here
          this.push(new FrozenSet(new Set(items) as Set<Brine.Value>))
          break
        }

        // -- memo
        case Opcode.PUT: {
          const i = this.textInt()
          this.memoPut(typeof i === "number" ? i : -1)
          break
        }
        case Opcode.BINPUT:
          this.memoPut(this.u8())
          break
        case Opcode.LONG_BINPUT:
          this.memoPut(this.u32())
          break
        case Opcode.MEMOIZE:
          this.memoPut(this.memoSize)
          break
        case Opcode.GET:
          this.memoGet(this.textInt())
          break
        case Opcode.BINGET:
          this.memoGet(this.u8())
          break
        case Opcode.LONG_BINGET:
          this.memoGet(this.u32())
          break

        // -- the only globals: the bytes constructors of protocols 0-2
        case Opcode.GLOBAL: {
          const module = this.line()
          const name = this.line()
          this.global(module, name)
          break
        }
        case Opcode.REDUCE:
          this.reduce()
          break
        case Opcode.STACK_GLOBAL: {
          const [m, n] = this.stack.slice(-2)
          const what = typeof m === "string" && typeof n === "string" ? ` ${m}.${n}` : ""
          this.fail("Unsupported", `refusing to import${what}: only plain data is unpickled`)
          break
        }

        case Opcode.PERSID:
        case Opcode.BINPERSID:
          this.fail("Unsupported", "persistent ids are not supported")
          break
        case Opcode.BUILD:
        case Opcode.INST:
        case Opcode.OBJ:
        case Opcode.NEWOBJ:
        case Opcode.NEWOBJ_EX:
        case Opcode.EXT1:
        case Opcode.EXT2:
        case Opcode.EXT4:
          this.fail("Unsupported", "refusing to build an object: only plain data is unpickled")
          break
        case Opcode.NEXT_BUFFER:
        case Opcode.READONLY_BUFFER:
          this.fail("Unsupported", "out-of-band buffers are not supported")
          break
        default:
          this.fail("Malformed", "not a pickle opcode")
      }
    }
  }
}

/**
 * Decodes one pickle (protocol 0–5) of plain data; bytes after `STOP` are ignored, as Python does.
 *
 * Throws `PickleError`: `"Unsupported"` for any opcode outside the plain-data subset (see the
 * module documentation: nothing is ever imported or called), `"Malformed"` for invalid pickles and
 * `"Truncated"` when the input ends before `STOP`.
 *
 * @example
 * ```ts
 * Pickle.loads(bytes)                       // Map { "a" => [1, 2] }
 * Pickle.loads(bytes, { dicts: "object" })  // { a: [1, 2] }
 * ```
 *
 * @since 0.1.0 @category decoding
 */
export const loads: {
  (bytes: Uint8Array, options?: LoadsOptions & { readonly dicts?: "Map" | undefined }): Value
  (bytes: Uint8Array, options?: LoadsOptions): PlainValue
} = (bytes: Uint8Array, options?: LoadsOptions): any => {
  const value = new Unpickler(bytes, options?.preserveFloats ?? false).run() as Value
  return options?.dicts === "object" ? mapsToObjects(value) : value
}

/**
 * `loads` as an Effect: a `PickleError` fails it, anything else is a defect.
 *
 * @since 0.1.0 @category decoding
 */
export const decode: {
  (
    bytes: Uint8Array,
    options?: LoadsOptions & { readonly dicts?: "Map" | undefined }
  ): Effect.Effect<Value, PickleError>
  (bytes: Uint8Array, options?: LoadsOptions): Effect.Effect<PlainValue, PickleError>
} = (bytes: Uint8Array, options?: LoadsOptions): Effect.Effect<any, PickleError> => attempt(() => loads(bytes, options))

const attempt = <A>(f: () => A): Effect.Effect<A, PickleError> =>
  Effect.suspend(() => {
    try {
      return Effect.succeed(f())
    } catch (e) {
      return e instanceof PickleError ? Effect.fail(e) : Effect.die(e)
    }
  })

/**
 * A copy of `value` in which every `Map` whose keys are all strings is a plain object (an own,
 * enumerable property per key; `"__proto__"` is an ordinary key, never a prototype). Other `Map`s,
 * arrays and `Set`s are copied with their contents converted; shared references and cycles are
 * kept (each object is converted once). `FrozenSet`s and scalars are returned as they are: Python
 * values inside them are hashable, and so never contain dicts.
 *
 * @since 0.1.0 @category conversions
 */
export const mapsToObjects = (value: Value): PlainValue => {
  // each container is copied empty on first sight and filled from the work list: no recursion
  const done = new Map<object, PlainValue>()
  const work: Array<Array<Value> | Set<Value> | Map<Value, Value>> = []
  const visit = (v: Value): PlainValue => {
    if (
      typeof v !== "object" || v === null || v instanceof Uint8Array || v instanceof PyFloat || v instanceof FrozenSet
    ) {
      return v
    }
    let out = done.get(v)
    if (out !== undefined) return out
    if (Array.isArray(v)) out = new Array<PlainValue>(v.length)
    else if (v instanceof Set) out = new Set<PlainValue>()
    else {
      let stringKeys = true
      for (const k of v.keys()) {
        if (typeof k !== "string") {
          stringKeys = false
          break
        }
      }
      out = stringKeys ? {} : new Map<PlainValue, PlainValue>()
    }
    done.set(v, out)
    work.push(v)
    return out
  }
  const root = visit(value)
  for (let v = work.pop(); v !== undefined; v = work.pop()) {
    const out = done.get(v)!
    if (Array.isArray(v)) {
      const arr = out as Array<PlainValue>
      for (let i = 0; i < v.length; i++) arr[i] = visit(v[i])
    } else if (v instanceof Set) {
      const set = out as Set<PlainValue>
      for (const x of v) set.add(visit(x))
    } else if (out instanceof Map) {
      for (const [k, x] of v) out.set(visit(k), visit(x))
    } else {
      const obj = out as { [key: string]: PlainValue }
      for (const [k, x] of v) {
        // assigning "__proto__" would set the prototype: define it as an own property instead
        if (k === "__proto__") {
          Object.defineProperty(obj, k, { value: visit(x), writable: true, enumerable: true, configurable: true })
        } else obj[k as string] = visit(x)
      }
    }
  }
  return root
}

// ---------------------------------------------------------------------------------------------
// encoder

const IDENT = /^[A-Za-z_$][A-Za-z0-9_$]*$/
const propStep = (k: string): string => (IDENT.test(k) ? `.${k}` : `[${show(k)}]`)

const describe = (value: unknown): string => {
  switch (typeof value) {
    case "function":
      return `function ${value.name || "<anonymous>"}`
    case "symbol":
      return `symbol ${value.toString()}`
    case "object": {
      if (value === null) return "null"
      const proto = Object.getPrototypeOf(value)
      const name = proto?.constructor?.name
      return typeof name === "string" && name !== "" ? `${name} instance` : "object with a foreign prototype"
    }
    default:
      return typeof value
  }
}

const isPlainObject = (value: object): boolean => {
  const proto = Object.getPrototypeOf(value)
  if (proto === Object.prototype || proto === null) return true
  // `{}` made in another realm (a vm context): its Object.prototype is another object
  return Object.getPrototypeOf(proto) === null && typeof proto.constructor === "function" &&
    proto.constructor.name === "Object"
}

/** What a container being written becomes in Python. */
const Kind = { LIST: 0, TUPLE: 1, SET: 2, FROZENSET: 3, MAP: 4, OBJECT: 5 } as const
type Kind = typeof Kind[keyof typeof Kind]

/**
 * A container being written. The stack of frames is both the encoder's explicit recursion (deep
 * nesting cannot overflow the JavaScript stack) and, through each frame's position, the path
 * that errors name. `items` holds the entries to write: the elements, or for a `Map` keys and
 * values interleaved, or for an object its keys (each standing for the key and then its value).
 */
interface Frame {
  readonly kind: Kind
  readonly obj: object
  readonly items: ArrayLike<unknown>
  /** number of entries to write: `items.length`, doubled for objects */
  readonly n: number
  /** the next entry to write; the one being written is `i - 1` */
  i: number
}

/** Elements per `MARK ... APPENDS` (and dict items per `SETITEMS`), as Python batches them. */
const BATCH = 1000

class Pickler {
  readonly w = new Writer(256)
  /** memo indexes of containers already written, by the Python value they became */
  readonly memo = new Map<object, number>()
  /** arrays already written as tuples: one array can be a tuple in a key and a list elsewhere */
  readonly tupleMemo = new Map<object, number>()
  memoSize = 0
  readonly frames: Array<Frame> = []
  readonly active = new Set<object>()

  // -- errors ----------------------------------------------------------------------------------

  path(): string {
    let out = "$"
    for (const f of this.frames) {
      const j = f.i - 1
      switch (f.kind) {
        case Kind.LIST:
        case Kind.TUPLE:
          out += `[${j}]`
          break
        case Kind.SET:
        case Kind.FROZENSET:
          out += `{element ${j}}`
          break
        case Kind.MAP: {
          const k = f.items[j & ~1]
          const shown = typeof k === "string"
            ? show(k)
            : typeof k === "number" || typeof k === "bigint"
            ? String(k)
            : `<key ${j >> 1}>`
          out += j % 2 === 0 ? `{key ${j >> 1}}` : `.get(${shown})`
          break
        }
        case Kind.OBJECT: {
          const k = f.items[j >> 1] as string
          out += j % 2 === 0 ? `{key ${show(k)}}` : propStep(k)
          break
        }
      }
    }
    return out
  }
  fail(detail: string): never {
    throw new PickleError({ reason: "Unsupported", detail: `cannot pickle ${this.path()}: ${detail}` })
  }

  // -- writing ---------------------------------------------------------------------------------

  op(op: number): void {
    this.w.byte(op)
  }
  u32(n: number): void {
    this.w.ensure(4)
    Bytes.writeUint32LE(this.w.buf, this.w.pos, n)
    this.w.pos += 4
  }
  u64(n: number): void {
    this.w.ensure(8)
    Bytes.writeUint64LE(this.w.buf, this.w.pos, n)
    this.w.pos += 8
  }
  /** An opcode with a 1-, 4- or 8-byte length, then the length. */
  size(short: number, long: number, huge: number, n: number): void {
    if (n < 256) {
      this.op(short)
      this.w.byte(n)
    } else if (n <= 0xffffffff) {
      this.op(long)
      this.u32(n)
    } else {
      this.op(huge)
      this.u64(n)
    }
  }
  memoize(obj: object, tuple: boolean): void {
    this.op(Opcode.MEMOIZE)
    ;(tuple ? this.tupleMemo : this.memo).set(obj, this.memoSize++)
  }
  /** Writes a memo reference if `obj` was written before; refuses `obj` if it is being written (a cycle). */
  recall(obj: object, tuple: boolean): boolean {
    // lists, dicts and sets are memoized before their contents: look for a cycle first
    if (this.active.has(obj)) this.fail("it contains itself (cycles cannot be pickled)")
    const i = (tuple ? this.tupleMemo : this.memo).get(obj)
    if (i === undefined) return false
    if (i < 256) {
      this.op(Opcode.BINGET)
      this.w.byte(i)
    } else {
      this.op(Opcode.LONG_BINGET)
      this.u32(i)
    }
    return true
  }

  int(v: bigint | number): void {
    const w = this.w
    if (typeof v === "number" && v >= -0x80000000 && v <= 0x7fffffff) {
      if (v >= 0 && v <= 0xff) {
        this.op(Opcode.BININT1)
        return w.byte(v)
      }
      if (v >= 0 && v <= 0xffff) {
        this.op(Opcode.BININT2)
        w.ensure(2)
        w.buf[w.pos] = v & 0xff
        w.buf[w.pos + 1] = v >>> 8
        w.pos += 2
        return
      }
      this.op(Opcode.BININT)
      w.ensure(4)
      Bytes.writeUint32LE(w.buf, w.pos, v)
      w.pos += 4
      return
    }
    const big = BigInt(v)
    if (big >= -0x80000000n && big <= 0x7fffffffn) return this.int(Number(big))
    // two's complement, little-endian, in the fewest bytes (as pickle.encode_long)
    const bits = (big < 0n ? -big - 1n : big).toString(2).length + 1
    const n = Math.ceil(bits / 8)
    const hex = (big < 0n ? (1n << BigInt(8 * n)) + big : big).toString(16).padStart(2 * n, "0")
    this.size(Opcode.LONG1, Opcode.LONG4, Opcode.LONG4, n)
    w.ensure(n)
    for (let i = 0; i < n; i++) w.buf[w.pos + i] = parseInt(hex.slice(2 * (n - 1 - i), 2 * (n - i)), 16)
    w.pos += n
  }
  float(v: number): void {
    this.op(Opcode.BINFLOAT)
    this.w.f64(v)
  }
  str(s: string): void {
    if (!(s as string & { isWellFormed(): boolean }).isWellFormed()) this.fail("string contains a lone surrogate")
    const w = this.w
    const n = s.length
    if (n <= 85) {
      // at most 255 bytes of UTF-8: SHORT_BINUNICODE, length patched in after writing
      w.ensure(2 + 3 * n)
      const start = w.pos
      w.buf[start] = Opcode.SHORT_BINUNICODE
      let len = 0
      for (; len < n; len++) {
        const c = s.charCodeAt(len)
        if (c > 0x7f) break
        w.buf[start + 2 + len] = c
      }
      if (len < n) len = Bytes.writeUtf8(s, w.buf, start + 2)
      w.buf[start + 1] = len
      w.pos = start + 2 + len
      return
    }
    const len = Bytes.utf8Length(s)
    this.size(Opcode.SHORT_BINUNICODE, Opcode.BINUNICODE, Opcode.BINUNICODE8, len)
    w.ensure(len)
    w.pos += Bytes.writeUtf8(s, w.buf, w.pos)
  }
  bytes(b: Uint8Array): void {
    this.size(Opcode.SHORT_BINBYTES, Opcode.BINBYTES, Opcode.BINBYTES8, b.length)
    this.w.bytes(b)
  }

  // -- values ----------------------------------------------------------------------------------

  /** Writes a scalar, or a container's opening and pushes its frame. `key`: Python needs it hashable. */
  value(value: unknown, key: boolean): void {
    switch (typeof value) {
      case "undefined":
        return this.op(Opcode.NONE)
      case "boolean":
        return this.op(value ? Opcode.NEWTRUE : Opcode.NEWFALSE)
      case "number":
        return Number.isInteger(value) && !Object.is(value, -0) ? this.int(value) : this.float(value)
      case "bigint":
        return this.int(value)
      case "string":
        return this.str(value)
      case "object": {
        if (value === null) return this.op(Opcode.NONE)
        if (value instanceof Uint8Array) return this.bytes(value)
        if (value instanceof PyFloat) return this.float(value.value)
        if (Array.isArray(value)) {
          return key
            ? this.openTuple(value)
            : this.open(Kind.LIST, value, value, Opcode.EMPTY_LIST)
        }
        if (value instanceof FrozenSet) {
          if (this.recall(value, false)) return
          this.op(Opcode.MARK)
          return this.push(Kind.FROZENSET, value, value.items)
        }
        const map = value instanceof Map
        const set = value instanceof Set
        const object = !map && !set && isPlainObject(value)
        if (key && (map || set || object)) {
          this.fail(`a ${set ? "set" : "dict"} is unhashable: it cannot be a dict key or a set element`)
        }
        if (map) return this.open(Kind.MAP, value, null, Opcode.EMPTY_DICT)
        if (set) return this.open(Kind.SET, value, null, Opcode.EMPTY_SET)
        if (object) return this.open(Kind.OBJECT, value, null, Opcode.EMPTY_DICT)
        break
      }
    }
    this.fail(`a ${describe(value)} is not plain data`)
  }

  push(kind: Kind, obj: object, items: ArrayLike<unknown>): void {
    this.active.add(obj)
    this.frames.push({ kind, obj, items, n: kind === Kind.OBJECT ? 2 * items.length : items.length, i: 0 })
  }
  /** A list, dict or set: the empty container, memoized, then its contents in batches. */
  open(kind: Kind, obj: object, items: ArrayLike<unknown> | null, empty: number): void {
    if (this.recall(obj, false)) return
    this.op(empty)
    this.memoize(obj, false)
    const entries = items ??
      (kind === Kind.MAP
        ? flatten(obj as ReadonlyMap<unknown, unknown>)
        : kind === Kind.SET
        ? Array.from(obj as ReadonlySet<unknown>)
        : Object.keys(obj).filter((k) => k !== "__proto__" && k !== "constructor" && k !== "prototype"))
    if (entries.length === 0) return
    this.op(Opcode.MARK)
    this.push(kind, obj, entries)
  }
  /** An array where Python needs a hashable value: a tuple, memoized once built. */
  openTuple(arr: ReadonlyArray<unknown>): void {
    if (this.recall(arr, true)) return
    if (arr.length === 0) return this.op(Opcode.EMPTY_TUPLE)
    if (arr.length > 3) this.op(Opcode.MARK)
    this.push(Kind.TUPLE, arr, arr)
  }
  /** Closes a finished container. */
  close(f: Frame): void {
    this.active.delete(f.obj)
    switch (f.kind) {
      case Kind.TUPLE:
        this.op(f.n > 3 ? Opcode.TUPLE : Opcode.TUPLE1 + f.n - 1)
        return this.memoize(f.obj, true)
      case Kind.FROZENSET:
        this.op(Opcode.FROZENSET)
        return this.memoize(f.obj, false)
      default:
        return this.op(closer(f.kind))
    }
  }

  run(root: unknown): void {
    const frames = this.frames
    this.value(root, false)
    while (frames.length > 0) {
      const f = frames[frames.length - 1]
      if (f.i === f.n) {
        frames.pop()
        this.close(f)
        continue
      }
      const j = f.i++
      switch (f.kind) {
        case Kind.LIST:
        case Kind.SET:
          if (j > 0 && j % BATCH === 0) {
            this.op(closer(f.kind))
            this.op(Opcode.MARK)
          }
          this.value(f.items[j], f.kind === Kind.SET)
          break
        case Kind.TUPLE:
        case Kind.FROZENSET:
          this.value(f.items[j], true)
          break
        case Kind.MAP:
          if (j > 0 && j % (2 * BATCH) === 0) {
            this.op(Opcode.SETITEMS)
            this.op(Opcode.MARK)
          }
          this.value(f.items[j], j % 2 === 0)
          break
        case Kind.OBJECT: {
          if (j > 0 && j % (2 * BATCH) === 0) {
            this.op(Opcode.SETITEMS)
            this.op(Opcode.MARK)
          }
          const k = f.items[j >> 1] as string
          if (j % 2 === 0) this.str(k)
          else this.value((f.obj as Record<string, unknown>)[k], false)
          break
        }
      }
    }
    this.op(Opcode.STOP)
  }
}

const closer = (kind: Kind): number =>
  kind === Kind.LIST ? Opcode.APPENDS : kind === Kind.SET ? Opcode.ADDITEMS : Opcode.SETITEMS

const flatten = (m: ReadonlyMap<unknown, unknown>): Array<unknown> => {
  const out = new Array<unknown>(2 * m.size)
  let i = 0
  for (const [k, v] of m) {
    out[i++] = k
    out[i++] = v
  }
  return out
}

/**
 * Encodes plain JavaScript data as a pickle that Python's `pickle.loads` turns into the natural
 * Python value (see the module documentation for the mapping). Arrays become lists, except where
 * Python needs a hashable value (dict keys, set and frozenset elements), where they become tuples.
 * Plain objects contribute their own enumerable string keys. Shared containers are written once
 * and referenced through the memo, so Python sees the same object.
 *
 * `protocol` is the protocol asked for (RPyC passes the one Python's `pickle.dumps` was called
 * with); the output is protocol 4 for any request up to 4 (every Python since 3.4 reads it, and
 * `pickle.loads` accepts any protocol it knows) and 5 for 5 or more, or a negative request
 * (Python's "highest"). Protocol 4+ output is framed, as Python frames it.
 *
 * Throws `PickleError` (`"Unsupported"`) naming the path of the first value that is not plain
 * data: functions, symbols, class instances, lone surrogates, unhashable dict keys, cycles.
 *
 * @since 0.1.0 @category encoding
 */
export const dumps = (value: unknown, protocol: number = DEFAULT_PROTOCOL): Uint8Array => {
  if (!Number.isInteger(protocol)) {
    throw new PickleError({ reason: "Unsupported", detail: `pickle protocol must be an integer, got ${protocol}` })
  }
  const proto = protocol < 0 || protocol >= HIGHEST_PROTOCOL ? HIGHEST_PROTOCOL : DEFAULT_PROTOCOL
  const p = new Pickler()
  // room for PROTO and FRAME, filled in at the end
  p.w.ensure(11)
  p.w.pos = 11
  p.run(value)
  const out = p.w.result()
  const body = out.length - 11
  // Python only frames at least 4 bytes of opcodes
  const start = body >= 4 ? 0 : 9
  out[start] = Opcode.PROTO
  out[start + 1] = proto
  if (start === 0) {
    out[2] = Opcode.FRAME
    Bytes.writeUint64LE(out, 3, body)
  }
  // a copy: the writer's buffer is usually larger than what was written
  return new Uint8Array(out.subarray(start))
}

/**
 * `dumps` as an Effect: a `PickleError` fails it, anything else is a defect.
 *
 * @since 0.1.0 @category encoding
 */
export const encode = (value: unknown, protocol: number = DEFAULT_PROTOCOL): Effect.Effect<Uint8Array, PickleError> =>
  attempt(() => dumps(value, protocol))
