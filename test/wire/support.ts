/**
 * Shared helpers for the wire-layer tests: hex conversion, exception capture, and fast-check
 * arbitraries of brine values and boxed messages.
 */
import { assert } from "@effect/vitest"
import * as FastCheck from "effect/FastCheck"
import * as Brine from "../../src/internal/wire/Brine.js"
import type * as Message from "../../src/internal/wire/Message.js"

// ---------------------------------------------------------------------------------------------
// bytes

/** Lower-case hex of some bytes. */
export const hex = (bytes: Uint8Array): string =>
  Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("hex")

/** Bytes from hex; whitespace and `|` separators are ignored, anything else must be hex. */
export const unhex = (text: string): Uint8Array => {
  const clean = text.replace(/[\s|]+/g, "")
  if (!/^(?:[0-9a-fA-F]{2})*$/.test(clean)) throw new Error(`not a hex string: ${text}`)
  return new Uint8Array(Buffer.from(clean, "hex"))
}

/** `size` bytes that do not compress, the same for the same `seed` (a linear congruential generator). */
export const noise = (size: number, seed: number): Uint8Array => {
  const out = new Uint8Array(size)
  let x = seed
  for (let i = 0; i < size; i++) {
    x = (x * 1664525 + 1013904223) >>> 0
    out[i] = x >>> 24
  }
  return out
}

/** Hex of the ASCII/Latin-1 bytes of `text` (for int bodies and ASCII strings). */
export const asciiHex = (text: string): string => Buffer.from(text, "latin1").toString("hex")

/** Hex of the UTF-8 bytes of `text`. */
export const utf8Hex = (text: string): string => Buffer.from(text, "utf8").toString("hex")

/** `n` repetitions of one hex byte. */
export const repeatHex = (byteHex: string, n: number): string => byteHex.repeat(n)

/** A u32 big-endian, as hex. */
export const u32Hex = (n: number): string => n.toString(16).padStart(8, "0")

/** A u8, as hex. */
export const u8Hex = (n: number): string => n.toString(16).padStart(2, "0")

// ---------------------------------------------------------------------------------------------
// exceptions

const NOT_THROWN = Symbol("not thrown")

/**
 * Runs `f`, asserts that it throws an instance of `cls`, and returns the exception.
 */
export const expectThrow = <E>(cls: abstract new(...args: ReadonlyArray<any>) => E, f: () => unknown): E => {
  let thrown: unknown = NOT_THROWN
  try {
    f()
  } catch (e) {
    thrown = e
  }
  if (thrown === NOT_THROWN) return assert.fail(`expected ${cls.name} to be thrown, but nothing was thrown`)
  if (!(thrown instanceof cls)) {
    return assert.fail(`expected ${cls.name} to be thrown, got ${String(thrown)}`)
  }
  return thrown
}

// ---------------------------------------------------------------------------------------------
// arbitraries

const SAFE = BigInt(Number.MAX_SAFE_INTEGER)

/** Options of `brineValue`. */
export interface ValueArbOptions {
  /**
   * Only values that `Brine.decode` (without `preserveFloats`) gives back deep-equal: no
   * `undefined`, no integral `PyFloat`, no integral floats, bigints only beyond 2^53.
   */
  readonly canonical?: boolean
  /** Largest frozenset generated (Python iterates frozensets in hash order, so 1 keeps order). */
  readonly maxSetSize?: number
  /** Largest ordinary tuple. */
  readonly maxTupleSize?: number
}

/** Strings brine carries. */
const strings = FastCheck.oneof(
  FastCheck.string({ unit: "binary", maxLength: 12 }),
  FastCheck.string({ unit: "binary", minLength: 40, maxLength: 90 }),
  FastCheck.string({ unit: "binary-ascii", minLength: 250, maxLength: 300 })
)

const bytes = FastCheck.oneof(
  FastCheck.uint8Array({ maxLength: 8 }),
  FastCheck.uint8Array({ minLength: 250, maxLength: 300 })
)

const ints = FastCheck.oneof(
  FastCheck.integer({ min: -60, max: 170 }), // around the immediate range -48..159
  FastCheck.integer(),
  FastCheck.maxSafeInteger()
)

/** bigints beyond ±(2^53-1), up to 400 digits (the long int form starts at 256 digits). */
const bigBigints = FastCheck.oneof(
  FastCheck.bigInt({ min: 0n, max: 2n ** 80n }),
  FastCheck.bigInt({ min: 0n, max: 10n ** 400n })
).chain((b) => FastCheck.boolean().map((neg) => (neg ? -(b + SAFE + 1n) : b + SAFE + 1n)))

const nonIntegralDoubles = FastCheck.double().filter((d) => !Number.isInteger(d) || Object.is(d, -0))

const complexes = FastCheck.tuple(FastCheck.double(), FastCheck.double()).map(([re, im]) => new Brine.Complex(re, im))

/** Non-container brine values. */
export const brineLeaf = (options: ValueArbOptions = {}): FastCheck.Arbitrary<Brine.Value> => {
  const common: Array<FastCheck.Arbitrary<Brine.Value>> = [
    FastCheck.constant(null),
    FastCheck.boolean(),
    ints,
    bigBigints,
    nonIntegralDoubles,
    strings,
    bytes,
    complexes,
    FastCheck.constant(Brine.Ellipsis),
    FastCheck.constant(Brine.NotImplemented)
  ]
  if (options.canonical) return FastCheck.oneof(...common)
  return FastCheck.oneof(
    ...common,
    FastCheck.constant(undefined),
    FastCheck.double(),
    FastCheck.double().map((d) => new Brine.PyFloat(d)),
    FastCheck.bigInt({ min: -(2n ** 60n), max: 2n ** 60n })
  )
}

/** Whole brine value trees: tuples, frozensets, slices of the leaves. */
export const brineValue = (options: ValueArbOptions = {}): FastCheck.Arbitrary<Brine.Value> => {
  const leaf = brineLeaf(options)
  const { value } = FastCheck.letrec<{ value: Brine.Value; tuple: Brine.Value; set: Brine.Value; slice: Brine.Value }>(
    (tie) => ({
      value: FastCheck.oneof(
        { depthSize: "small", withCrossShrink: true },
        leaf,
        tie("tuple"),
        tie("set"),
        tie("slice")
      ),
      tuple: FastCheck.oneof(
        { depthSize: "small" },
        FastCheck.array(tie("value"), { maxLength: options.maxTupleSize ?? 6 }),
        // the long tuple forms (u8 count above 4 items, u32 count from 256 items)
        FastCheck.array(leaf, { minLength: 250, maxLength: 260 })
      ),
      // frozenset members are leaves: in Python they must be hashable (a slice is not)
      set: FastCheck.array(leaf, { maxLength: options.maxSetSize ?? 4 }).map((xs) => new Brine.FrozenSet(xs)),
      slice: FastCheck.tuple(tie("value"), tie("value"), tie("value")).map(([a, b, c]) => new Brine.Slice(a, b, c))
    })
  )
  return value
}

/** An id_pack `(name_pack, class_id, instance_id)`. */
export const idPack: FastCheck.Arbitrary<Message.IdPack> = FastCheck.tuple(
  FastCheck.string({ maxLength: 30 }),
  FastCheck.maxSafeNat(),
  FastCheck.maxSafeNat()
)

/** A `Message.Box`, holding values that decode back deep-equal. */
export const box: FastCheck.Arbitrary<Message.Box> = FastCheck.letrec<{ box: Message.Box }>((tie) => ({
  box: FastCheck.oneof(
    { depthSize: "small", withCrossShrink: true },
    FastCheck.tuple(FastCheck.constant(1 as const), brineValue({ canonical: true, maxTupleSize: 3 })),
    FastCheck.tuple(FastCheck.constant(2 as const), FastCheck.array(tie("box"), { maxLength: 4 })),
    FastCheck.tuple(FastCheck.constant(3 as const), idPack),
    FastCheck.tuple(FastCheck.constant(4 as const), idPack)
  )
})).box

const canonicalValue = brineValue({ canonical: true, maxTupleSize: 3 })

/** A vinegar value: StopIteration, a plain string, or the 4-tuple. */
export const vinegar: FastCheck.Arbitrary<Brine.Value> = FastCheck.oneof(
  FastCheck.constant(1),
  FastCheck.string(),
  FastCheck.tuple(
    FastCheck.tuple(FastCheck.string(), FastCheck.string()),
    FastCheck.array(canonicalValue, { maxLength: 3 }),
    FastCheck.array(FastCheck.tuple(FastCheck.string(), canonicalValue), { maxLength: 3 }),
    FastCheck.string()
  )
)

/** `(msg, seq, args)` as a peer would send it. */
export interface WireMessage {
  readonly msg: Message.MsgType
  readonly seq: number
  readonly args: unknown
}

/** Well-formed messages of all three types. */
export const wireMessage: FastCheck.Arbitrary<WireMessage> = FastCheck.oneof(
  FastCheck.record({
    msg: FastCheck.constant(1 as const),
    seq: FastCheck.maxSafeNat(),
    args: FastCheck.tuple(FastCheck.integer({ min: 1, max: 20 }), box)
  }),
  FastCheck.record({ msg: FastCheck.constant(2 as const), seq: FastCheck.maxSafeNat(), args: box }),
  FastCheck.record({ msg: FastCheck.constant(3 as const), seq: FastCheck.maxSafeNat(), args: vinegar })
)
