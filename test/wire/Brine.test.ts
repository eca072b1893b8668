import { assert, describe, it } from "@effect/vitest"
import * as FastCheck from "effect/FastCheck"
import { execFileSync } from "node:child_process"
import * as Brine from "../../src/internal/wire/Brine.js"
import { PYTHON, runPythonTests } from "../support/Python.js"
import { asciiHex, brineValue, expectThrow, hex, repeatHex, u32Hex, u8Hex, unhex, utf8Hex } from "./support.js"

const { Complex, FrozenSet, PyFloat, Slice } = Brine

// ---------------------------------------------------------------------------------------------
// PROTOCOL.md §2.6 vectors

interface Vector {
  readonly name: string
  /** What is encoded. */
  readonly value: Brine.Value
  /** `rpyc.core.brine.dump(value).hex()` */
  readonly hex: string
  /** What `decode(hex)` gives, when it is not `value`. */
  readonly decoded?: Brine.Value
  /** What `decode(hex, { preserveFloats: true })` gives, when it is not `value`. */
  readonly preserved?: Brine.Value
}

/** The immediate ints 0..159 followed by the short ints 160..255, i.e. `tuple(range(256))` items. */
const range256Hex = (): string => {
  let out = ""
  for (let i = 0; i < 256; i++) out += i <= 159 ? u8Hex(0x50 + i) : `16${u8Hex(String(i).length)}${asciiHex(String(i))}`
  return out
}

const ROOT_DOC: ReadonlyArray<Brine.Value> = [
  "he",
  7,
  "llo",
  8,
  [],
  900,
  null,
  true,
  Brine.Ellipsis,
  18.2,
  new Complex(13, 18.2),
  new Slice(1, 2, 3),
  new FrozenSet([5, 6, 7]),
  Brine.NotImplemented
]

const vectors: ReadonlyArray<Vector> = [
  { name: "None", value: null, hex: "00" },
  { name: "True", value: true, hex: "03" },
  { name: "False", value: false, hex: "04" },
  { name: "NotImplemented", value: Brine.NotImplemented, hex: "05" },
  { name: "Ellipsis", value: Brine.Ellipsis, hex: "06" },
  { name: "0", value: 0, hex: "50" },
  { name: "1", value: 1, hex: "51" },
  { name: "-1", value: -1, hex: "4f" },
  { name: "-48 (lowest immediate)", value: -48, hex: "20" },
  { name: "159 (highest immediate)", value: 159, hex: "ef" },
  { name: "160", value: 160, hex: "1603313630" },
  { name: "-49", value: -49, hex: "16032d3439" },
  { name: "255", value: 255, hex: "1603323535" },
  { name: "1000", value: 1000, hex: "160431303030" },
  { name: "-1000", value: -1000, hex: "16052d31303030" },
  { name: "2**31", value: 2 ** 31, hex: "160a32313437343833363438" },
  { name: "2**64", value: 2n ** 64n, hex: "16143138343436373434303733373039353531363136" },
  { name: "-(2**63)", value: -(2n ** 63n), hex: "16142d39323233333732303336383534373735383038" },
  { name: "10**300", value: 10n ** 300n, hex: "170000012d" + "31" + repeatHex("30", 300) },
  { name: "0.0", value: new PyFloat(0), hex: "180000000000000000", decoded: 0 },
  { name: "-0.0", value: -0, hex: "188000000000000000", preserved: new PyFloat(-0) },
  { name: "1.5", value: 1.5, hex: "183ff8000000000000" },
  { name: "-2.25", value: -2.25, hex: "18c002000000000000" },
  { name: "float('inf')", value: Infinity, hex: "187ff0000000000000" },
  { name: "float('nan')", value: NaN, hex: "187ff8000000000000" },
  { name: "complex(1, 2)", value: new Complex(1, 2), hex: "1b3ff00000000000004000000000000000" },
  { name: "1j", value: new Complex(0, 1), hex: "1b00000000000000003ff0000000000000" },
  { name: "b''", value: new Uint8Array(0), hex: "01" },
  { name: "b'a'", value: unhex("61"), hex: "0a61" },
  { name: "b'ab'", value: unhex("6162"), hex: "0b6162" },
  { name: "b'abc'", value: unhex("616263"), hex: "0c616263" },
  { name: "b'abcd'", value: unhex("61626364"), hex: "0d61626364" },
  { name: "b'abcde'", value: unhex("6162636465"), hex: "0e056162636465" },
  { name: "b'x' * 255", value: new Uint8Array(255).fill(0x78), hex: "0eff" + repeatHex("78", 255) },
  { name: "b'x' * 256", value: new Uint8Array(256).fill(0x78), hex: "0f00000100" + repeatHex("78", 256) },
  { name: "''", value: "", hex: "0801" },
  { name: "'a'", value: "a", hex: "080a61" },
  { name: "'hello'", value: "hello", hex: "080e0568656c6c6f" },
  { name: "'héllo'", value: "héllo", hex: "080e0668c3a96c6c6f" },
  { name: "'€'", value: "€", hex: "080ce282ac" },
  { name: "'😀'", value: "😀", hex: "080df09f9880" },
  { name: "()", value: [], hex: "02" },
  { name: "(1,)", value: [1], hex: "1051" },
  { name: "(1, 2)", value: [1, 2], hex: "115152" },
  { name: "(1, 2, 3)", value: [1, 2, 3], hex: "12515253" },
  { name: "(1, 2, 3, 4)", value: [1, 2, 3, 4], hex: "1351525354" },
  { name: "(1, 2, 3, 4, 5)", value: [1, 2, 3, 4, 5], hex: "14055152535455" },
  { name: "tuple(range(256))", value: Array.from({ length: 256 }, (_, i) => i), hex: "1500000100" + range256Hex() },
  { name: "((), ((),))", value: [[], [[]]], hex: "11021002" },
  {
    name: "(True, 1, 1.0)",
    value: [true, 1, new PyFloat(1)],
    hex: "120351183ff0000000000000",
    decoded: [true, 1, 1]
  },
  { name: "('a', ('b', ('c',)))", value: ["a", ["b", ["c"]]], hex: "11080a6111080a6210080a63" },
  {
    name: "('a', b'b', 1.0, None)",
    value: ["a", unhex("62"), new PyFloat(1), null],
    hex: "13080a610a62183ff000000000000000",
    decoded: ["a", unhex("62"), 1, null]
  },
  { name: "frozenset()", value: new FrozenSet([]), hex: "1a02" },
  { name: "frozenset([5])", value: new FrozenSet([5]), hex: "1a1055" },
  { name: "frozenset([5, 6, 7])", value: new FrozenSet([5, 6, 7]), hex: "1a12555657" },
  { name: "slice(1, 2, 3)", value: new Slice(1, 2, 3), hex: "1912515253" },
  { name: "slice(None, 5, None)", value: new Slice(null, 5, null), hex: "1912005500" },
  {
    name: "module docstring example",
    value: ROOT_DOC,
    hex: "140e080b686557080c6c6c6f580216033930300003061840323333333333331b402a00000000000040323333333333331912515253" +
      "1a1255565705"
  }
]

/** PROTOCOL.md §8.1: registry requests and replies are plain brine values. */
const registryVectors: ReadonlyArray<Vector> = [
  {
    name: "('RPYC', 'REGISTER', (('FOO', 'BAR'), 12345))",
    value: ["RPYC", "REGISTER", [["FOO", "BAR"], 12345]],
    hex: "12080d52505943080e0852454749535445521111080c464f4f080c42415216053132333435"
  },
  { name: "reply 'OK'", value: "OK", hex: "080b4f4b" },
  {
    name: "('RPYC', 'QUERY', ('foo',))",
    value: ["RPYC", "QUERY", ["foo"]],
    hex: "12080d52505943080e05515545525910080c666f6f"
  },
  {
    name: "reply (('127.0.0.1', 12345),)",
    value: [["127.0.0.1", 12345]],
    hex: "1011080e093132372e302e302e3116053132333435"
  },
  { name: "reply () (unknown service)", value: [], hex: "02" },
  { name: "('RPYC', 'LIST', ((None,),))", value: ["RPYC", "LIST", [[null]]], hex: "12080d52505943080d4c495354101000" },
  { name: "reply ('FOO', 'BAR')", value: ["FOO", "BAR"], hex: "11080c464f4f080c424152" },
  { name: "reply None (listing disabled)", value: null, hex: "00" },
  {
    name: "('RPYC', 'LIST', (('127.0.0.1',),))",
    value: ["RPYC", "LIST", [["127.0.0.1"]]],
    hex: "12080d52505943080d4c4953541010080e093132372e302e302e31"
  },
  {
    name: "('RPYC', 'UNREGISTER', (12345,))",
    value: ["RPYC", "UNREGISTER", [12345]],
    hex: "12080d52505943080e0a554e52454749535445521016053132333435"
  },
  {
    name: "('RPYC', 'REGISTER', (('TIME',), 18861))",
    value: ["RPYC", "REGISTER", [["TIME"], 18861]],
    hex: "12080d52505943080e0852454749535445521110080d54494d4516053138383631"
  }
]

const checkVector = (v: Vector): void => {
  assert.strictEqual(hex(Brine.encode(v.value)), v.hex, "encode")
  assert.deepStrictEqual(Brine.decode(unhex(v.hex)), v.decoded ?? v.value, "decode")
  const preserved = Brine.decode(unhex(v.hex), { preserveFloats: true })
  assert.deepStrictEqual(preserved, v.preserved ?? v.value, "decode, preserveFloats")
}

describe("Brine PROTOCOL.md §2.6 vectors", () => {
  for (const v of vectors) it(v.name, () => checkVector(v))

  it("the long vectors have the documented sizes", () => {
    const size = (name: string) => unhex(vectors.find((v) => v.name === name)!.hex).length
    assert.strictEqual(size("10**300"), 306)
    assert.strictEqual(size("b'x' * 255"), 257)
    assert.strictEqual(size("b'x' * 256"), 261)
    assert.strictEqual(size("tuple(range(256))"), 645)
    assert.strictEqual(hex(Brine.encode(Array.from({ length: 256 }, (_, i) => i))).slice(330, 340), "1603313630")
  })

  it("(True, 1, 1.0) with a plain 1 for 1.0 is (True, 1, 1) on the wire", () => {
    assert.strictEqual(hex(Brine.encode([true, 1, 1])), "12035151")
  })
})

describe("Brine PROTOCOL.md §8.1 registry vectors", () => {
  for (const v of registryVectors) it(v.name, () => checkVector(v))
})

// ---------------------------------------------------------------------------------------------
// numbers

describe("Brine numbers", () => {
  it("-0 is the float -0.0, 0 is the int 0", () => {
    assert.strictEqual(hex(Brine.encode(-0)), "188000000000000000")
    assert.strictEqual(hex(Brine.encode(0)), "50")
    assert.isTrue(Object.is(Brine.decode(unhex("188000000000000000")), -0))
  })

  it("NaN and ±Infinity are floats", () => {
    assert.strictEqual(hex(Brine.encode(NaN)), "187ff8000000000000")
    assert.strictEqual(hex(Brine.encode(Infinity)), "187ff0000000000000")
    assert.strictEqual(hex(Brine.encode(-Infinity)), "18fff0000000000000")
    assert.isNaN(Brine.decode(unhex("187ff8000000000000")))
    assert.strictEqual(Brine.decode(unhex("18fff0000000000000")), -Infinity)
    assert.strictEqual(Brine.decode(unhex("187ff0000000000000"), { preserveFloats: true }), Infinity)
  })

  it("integral floats decode as numbers, or PyFloat with preserveFloats", () => {
    const bytes = unhex("184059000000000000") // 100.0
    assert.strictEqual(Brine.decode(bytes), 100)
    const preserved = Brine.decode(bytes, { preserveFloats: true })
    assert.instanceOf(preserved, PyFloat)
    assert.strictEqual((preserved as Brine.PyFloat).value, 100)
    assert.strictEqual(hex(Brine.encode(preserved)), "184059000000000000")
    // a non-integral float is a plain number either way
    assert.strictEqual(Brine.decode(unhex("183ff8000000000000"), { preserveFloats: true }), 1.5)
  })

  it("2**53 + 1 round-trips as a bigint", () => {
    const big = 2n ** 53n + 1n
    const bytes = Brine.encode(big)
    assert.strictEqual(hex(bytes), "1610" + asciiHex("9007199254740993"))
    assert.strictEqual(Brine.decode(bytes), big)
  })

  it("ints switch from number to bigint just beyond 2^53 - 1", () => {
    assert.strictEqual(Brine.decode(Brine.encode(Number.MAX_SAFE_INTEGER)), Number.MAX_SAFE_INTEGER)
    assert.strictEqual(Brine.decode(Brine.encode(-Number.MAX_SAFE_INTEGER)), -Number.MAX_SAFE_INTEGER)
    assert.strictEqual(Brine.decode(Brine.encode(2n ** 53n)), 2n ** 53n)
    assert.strictEqual(Brine.decode(Brine.encode(-(2n ** 53n))), -(2n ** 53n))
  })

  it("an integral but unsafe number (1e21) is an int with its exact decimal", () => {
    assert.strictEqual(hex(Brine.encode(1e21)), "1616" + asciiHex("1000000000000000000000"))
    assert.strictEqual(hex(Brine.encode(2 ** 70)), "1616" + asciiHex("1180591620717411303424"))
    assert.strictEqual(Brine.decode(Brine.encode(1e21)), 10n ** 21n)
  })

  it("small bigints use the immediate and short forms like numbers", () => {
    assert.strictEqual(hex(Brine.encode(5n)), "55")
    assert.strictEqual(hex(Brine.encode(-48n)), "20")
    assert.strictEqual(hex(Brine.encode(159n)), "ef")
    assert.strictEqual(hex(Brine.encode(160n)), "1603313630")
    assert.strictEqual(hex(Brine.encode(-49n)), "16032d3439")
    assert.strictEqual(Brine.decode(Brine.encode(5n)), 5)
  })

  it("booleans are never ints", () => {
    assert.strictEqual(hex(Brine.encode([true, false, 1, 0])), "1303045150")
    assert.deepStrictEqual(Brine.decode(unhex("1303045150")), [true, false, 1, 0])
  })

  it("undefined is encoded as None", () => {
    assert.strictEqual(hex(Brine.encode(undefined)), "00")
    assert.strictEqual(hex(Brine.encode([undefined, null])), "110000")
  })
})

// ---------------------------------------------------------------------------------------------
// strings

describe("Brine strings", () => {
  it("short and long ASCII strings use the bytes forms", () => {
    for (const n of [1, 4, 5, 63, 64, 255, 256, 300]) {
      const s = "q".repeat(n)
      const lenHex = n <= 4 ? u8Hex(0x0a + n - 1) : n < 256 ? "0e" + u8Hex(n) : "0f" + u32Hex(n)
      assert.strictEqual(hex(Brine.encode(s)), "08" + lenHex + asciiHex(s), `length ${n}`)
      assert.strictEqual(Brine.decode(Brine.encode(s)), s, `length ${n}`)
    }
  })

  it("non-ASCII strings are UTF-8, sized by their byte length", () => {
    const s = "é".repeat(200) // 400 UTF-8 bytes, 200 UTF-16 units
    assert.strictEqual(hex(Brine.encode(s)), "080f" + u32Hex(400) + utf8Hex(s))
    assert.strictEqual(Brine.decode(Brine.encode(s)), s)
    const mixed = "a😀b€c".repeat(30)
    assert.strictEqual(Brine.decode(Brine.encode(mixed)), mixed)
  })

  it("a lone surrogate is refused on encode (Unencodable)", () => {
    for (const s of ["\ud800", "a\udc00b", "x".repeat(300) + "\ud83d", "\ude00😀"]) {
      const e = expectThrow(Brine.BrineError, () => Brine.encode(s))
      assert.strictEqual(e.reason, "Unencodable")
    }
    const nested = expectThrow(Brine.BrineError, () => Brine.encode([1, ["ok", "\udfff"]]))
    assert.strictEqual(nested.reason, "Unencodable")
  })

  // Python's bytes.decode("utf-8") keeps a leading U+FEFF; a default TextDecoder would drop it
  it("a leading U+FEFF survives decoding", () => {
    const s = "\uFEFFabc"
    assert.strictEqual(hex(Brine.encode(s)), "080e06efbbbf616263") // what Python emits
    assert.strictEqual(Brine.decode(Brine.encode(s)), s)
  })

  it("a U+FEFF that is not leading survives decoding", () => {
    const s = "a\uFEFFb"
    assert.strictEqual(Brine.decode(Brine.encode(s)), s)
  })
})

// ---------------------------------------------------------------------------------------------
// leniency and failures

describe("Brine decoder leniency (PROTOCOL.md §2.3)", () => {
  const lenient: ReadonlyArray<readonly [string, Brine.Value]> = [
    ["0e026162", unhex("6162")],
    ["14025152", [1, 2]],
    ["150000000251 52", [1, 2]],
    ["160135", 5],
    ["0e00", new Uint8Array(0)],
    ["1400", []],
    ["0f00000003616263", unhex("616263")],
    ["080e0568656c6c6f", "hello"],
    ["080f0000000161", "a"],
    ["1700000002 3432", 42],
    ["1603303037", 7], // leading zeros
    ["16022b35", 5], // int() accepts a + sign
    ["1603203520", 5], // and surrounding spaces
    ["1603315f30", 10], // and _ separators
    ["16022d30", 0]
  ]
  for (const [input, expected] of lenient) {
    it(`decodes ${input}`, () => assert.deepStrictEqual(Brine.decode(unhex(input)), expected))
  }

  it("ignores trailing bytes after the first value", () => {
    assert.strictEqual(Brine.decode(unhex("5152")), 1)
    assert.deepStrictEqual(Brine.decode(unhex("1051ffff")), [1])
  })

  it("decodeAt returns the value and the offset just past it", () => {
    const bytes = unhex("ff 115152 080a61 00")
    const [v1, o1] = Brine.decodeAt(bytes, 1)
    assert.deepStrictEqual([v1, o1], [[1, 2], 4])
    const [v2, o2] = Brine.decodeAt(bytes, o1)
    assert.deepStrictEqual([v2, o2], ["a", 7])
    assert.deepStrictEqual(Brine.decodeAt(bytes, o2), [null, 8])
  })

  it("decodes from a view with a non-zero byteOffset", () => {
    const backing = unhex("ffff 16052d31303030 183ff8000000000000")
    assert.strictEqual(Brine.decode(backing.subarray(2)), -1000)
    assert.strictEqual(Brine.decode(backing.subarray(9)), 1.5)
  })

  it("decoded bytes do not alias a Uint8Array input", () => {
    const input = unhex("0b6162")
    const out = Brine.decode(input) as Uint8Array
    input[1] = 0x7a
    assert.strictEqual(hex(out), "6162")
  })

  // Buffer#slice is a view: decoded bytes must be a copy, not alias (and keep alive) the frame
  it("decoded bytes do not alias a Buffer input", () => {
    const input = Buffer.from("0b6162", "hex")
    const out = Brine.decode(input) as Uint8Array
    input[1] = 0x7a
    assert.strictEqual(hex(out), "6162")
  })
})

describe("Brine decoder failures", () => {
  const reasonOf = (input: string | Uint8Array): string =>
    expectThrow(Brine.BrineError, () => Brine.decode(typeof input === "string" ? unhex(input) : input)).reason

  it("unknown tags fail with UnknownTag", () => {
    const tags = [0x07, 0x09, 0x1c, 0x1d, 0x1e, 0x1f]
    for (let t = 0xf0; t <= 0xff; t++) tags.push(t)
    for (const t of tags) {
      assert.strictEqual(reasonOf(u8Hex(t)), "UnknownTag", `tag ${u8Hex(t)}`)
      assert.strictEqual(reasonOf("11 51" + u8Hex(t)), "UnknownTag", `nested tag ${u8Hex(t)}`)
    }
  })

  it("every other tag is known", () => {
    for (let t = 0; t < 0x100; t++) {
      if (t === 0x07 || t === 0x09 || (t >= 0x1c && t <= 0x1f) || t >= 0xf0) continue
      let reason = "ok"
      try {
        Brine.decode(Uint8Array.of(t))
      } catch (e) {
        reason = (e as Brine.BrineError).reason
      }
      assert.notStrictEqual(reason, "UnknownTag", `tag ${u8Hex(t)}`)
    }
  })

  it("08 followed by something that is not bytes fails", () => {
    const e = expectThrow(Brine.BrineError, () => Brine.decode(unhex("0851")))
    assert.strictEqual(e.reason, "Malformed")
    assert.strictEqual(reasonOf("080800"), "Malformed")
  })

  it("invalid UTF-8 fails with InvalidUtf8", () => {
    for (const body of ["0aff", "0bc328", "0bc0af", "0ceda080", "0df4908080", "0ae9"]) {
      assert.strictEqual(reasonOf("08" + body), "InvalidUtf8", body)
    }
    // long enough to skip the short ASCII path
    assert.strictEqual(reasonOf("080e50" + repeatHex("61", 79) + "ff"), "InvalidUtf8")
    assert.strictEqual(reasonOf("080e50ff" + repeatHex("61", 79)), "InvalidUtf8")
  })

  it("truncated input fails with Truncated", () => {
    const truncated = [
      "",
      "08",
      "080e05616263",
      "0b61",
      "0e",
      "0e0561",
      "0f000001",
      "0f0000000561",
      "10",
      "1351 52",
      "14",
      "1405515253",
      "15000000",
      "16",
      "160531",
      "17000000",
      "18000000",
      "1b3ff0000000000000",
      "19",
      "1912 5152",
      "1a",
      "1a1155"
    ]
    for (const input of truncated) assert.strictEqual(reasonOf(input), "Truncated", `input "${input}"`)
  })

  it("an enormous tuple count is refused without allocating it", () => {
    assert.strictEqual(reasonOf("15ffffffff"), "Truncated")
    assert.strictEqual(reasonOf("0fffffffff00"), "Truncated")
  })

  it("malformed bodies fail with Malformed", () => {
    assert.strictEqual(reasonOf("1911 5152"), "Malformed") // slice body of 2 items
    assert.strictEqual(reasonOf("1951"), "Malformed") // slice body not a tuple
    assert.strictEqual(reasonOf("1a51"), "Malformed") // frozenset body not a tuple
    assert.strictEqual(reasonOf("1602 3161"), "Malformed") // "1a"
    assert.strictEqual(reasonOf("1600"), "Malformed") // ""
    assert.strictEqual(reasonOf("16012d"), "Malformed") // "-"
  })

  it("BrineError is a tagged error with a readable message", () => {
    const e = expectThrow(Brine.BrineError, () => Brine.decode(unhex("07")))
    assert.strictEqual(e._tag, "BrineError")
    assert.include(e.message, "UnknownTag")
    assert.include(e.message, "0x07")
  })
})

// ---------------------------------------------------------------------------------------------
// encoder refusals and dumpable

describe("Brine dumpable", () => {
  class SubFloat extends PyFloat {}

  const dumpable: ReadonlyArray<readonly [string, unknown]> = [
    ["null", null],
    ["undefined", undefined],
    ["true", true],
    ["number", 1.5],
    ["NaN", NaN],
    ["bigint", 10n ** 30n],
    ["string", "héllo"],
    ["empty string", ""],
    ["Uint8Array", new Uint8Array(3)],
    ["Buffer", Buffer.from("x")],
    ["PyFloat", new PyFloat(1)],
    ["Complex", new Complex(1, 2)],
    ["Slice", new Slice(1, null, "x")],
    ["FrozenSet", new FrozenSet([1, "a", [2]])],
    ["Ellipsis", Brine.Ellipsis],
    ["NotImplemented", Brine.NotImplemented],
    ["empty tuple", []],
    ["nested tuple", [1, ["a", [null, new Uint8Array(0)]]]]
  ]

  const notDumpable: ReadonlyArray<readonly [string, unknown]> = [
    ["plain object", { a: 1 }],
    ["Map", new Map([[1, 2]])],
    ["Set", new Set([1])],
    ["Date", new Date(0)],
    ["function", () => 1],
    ["other symbol", Symbol("x")],
    ["lone surrogate", "\ud800"],
    ["tuple with an object", [1, {}]],
    ["tuple with a lone surrogate", [["\udfff"]]],
    ["slice with an object", new Slice(1, {} as Brine.Value, null)],
    ["frozenset with a Map", new FrozenSet([new Map() as unknown as Brine.Value])],
    ["PyFloat subclass (exact types only, as Python)", new SubFloat(1)]
  ]

  for (const [name, value] of dumpable) {
    it(`isDumpable(${name}) is true and it encodes`, () => {
      assert.isTrue(Brine.isDumpable(value))
      assert.isAbove(Brine.encode(value).length, 0)
    })
  }
  for (const [name, value] of notDumpable) {
    it(`isDumpable(${name}) is false`, () => assert.isFalse(Brine.isDumpable(value)))
  }

  it("values that are not brine are refused on encode (Unencodable)", () => {
    for (const value of [{ a: 1 }, new Map(), new Set([1]), () => 1, Symbol("x"), [1, [new Date(0)]]]) {
      const e = expectThrow(Brine.BrineError, () => Brine.encode(value))
      assert.strictEqual(e.reason, "Unencodable")
    }
  })
})

// ---------------------------------------------------------------------------------------------
// properties

describe("Brine properties", () => {
  it.prop(
    "encode → decode(preserveFloats) → encode is byte-identical",
    [brineValue()],
    ([value]) => {
      const bytes = Brine.encode(value)
      const again = Brine.encode(Brine.decode(bytes, { preserveFloats: true }))
      assert.strictEqual(hex(again), hex(bytes))
    },
    { fastCheck: { numRuns: 300 } }
  )

  it.prop(
    "canonical values decode deep-equal",
    [brineValue({ canonical: true })],
    ([value]) => {
      assert.deepStrictEqual(Brine.decode(Brine.encode(value)), value)
    },
    { fastCheck: { numRuns: 300 } }
  )

  it.prop("every generated value is dumpable", [brineValue()], ([value]) => {
    assert.isTrue(Brine.isDumpable(value))
  })

  it.prop(
    "decodeAt reads values back to back",
    [FastCheck.array(brineValue({ canonical: true, maxTupleSize: 3 }), { maxLength: 5 })],
    ([values]) => {
      const bytes = Buffer.concat(values.map((v) => Brine.encode(v)))
      let offset = 0
      for (const v of values) {
        const [decoded, next] = Brine.decodeAt(bytes, offset)
        assert.deepStrictEqual(decoded, v)
        offset = next
      }
      assert.strictEqual(offset, bytes.length)
    }
  )
})

// ---------------------------------------------------------------------------------------------
// cross-check against Python's rpyc.core.brine

/** Python side: rebuild each tagged value, dump it, and re-dump what `load` makes of our bytes. */
const PY_SCRIPT = `
import json, struct, sys
from rpyc.core import brine

def double(h):
    return struct.unpack(">d", bytes.fromhex(h))[0]

def build(t):
    k = t[0]
    if k == "none": return None
    if k == "bool": return t[1]
    if k == "int": return int(t[1])
    if k == "float": return double(t[1])
    if k == "complex": return complex(double(t[1]), double(t[2]))
    if k == "str": return bytes.fromhex(t[1]).decode("utf-8")
    if k == "bytes": return bytes.fromhex(t[1])
    if k == "tuple": return tuple(build(x) for x in t[1])
    if k == "fset": return frozenset(build(x) for x in t[1])
    if k == "slice": return slice(build(t[1]), build(t[2]), build(t[3]))
    if k == "ellipsis": return Ellipsis
    if k == "notimpl": return NotImplemented
    raise ValueError(k)

out = []
for tagged, ours in json.load(sys.stdin):
    value = build(tagged)
    out.append([brine.dumpable(value), brine.dump(value).hex(), brine.dump(brine.load(bytes.fromhex(ours))).hex()])
json.dump(out, sys.stdout)
`

type Tagged = ReadonlyArray<unknown>

const floatHex = (x: number): string => {
  const b = Buffer.alloc(8)
  b.writeDoubleBE(x)
  return b.toString("hex")
}

/** A JSON description of a JS value as the Python value brine maps it to. */
const toTagged = (v: Brine.Value): Tagged => {
  if (v === null || v === undefined) return ["none"]
  if (typeof v === "boolean") return ["bool", v]
  if (typeof v === "bigint") return ["int", v.toString()]
  if (typeof v === "number") {
    return Number.isInteger(v) && !Object.is(v, -0) ? ["int", BigInt(v).toString()] : ["float", floatHex(v)]
  }
  if (typeof v === "string") return ["str", utf8Hex(v)]
  if (v === Brine.Ellipsis) return ["ellipsis"]
  if (v === Brine.NotImplemented) return ["notimpl"]
  if (v instanceof Uint8Array) return ["bytes", hex(v)]
  if (v instanceof PyFloat) return ["float", floatHex(v.value)]
  if (v instanceof Complex) return ["complex", floatHex(v.real), floatHex(v.imag)]
  if (v instanceof Slice) return ["slice", toTagged(v.start), toTagged(v.stop), toTagged(v.step)]
  if (v instanceof FrozenSet) return ["fset", v.items.map(toTagged)]
  if (Array.isArray(v)) return ["tuple", v.map(toTagged)]
  throw new Error(`not a brine value: ${String(v)}`)
}

describe("Brine cross-check with Python rpyc", () => {
  it.runIf(runPythonTests)(
    "Python dumps the same bytes, and loads ours back to the same bytes",
    () => {
      const samples: Array<Brine.Value> = [
        ...vectors.map((v) => v.value),
        ...registryVectors.map((v) => v.value),
        -0,
        -Infinity,
        1e21,
        2n ** 53n + 1n,
        -(10n ** 299n),
        "é".repeat(200),
        // Python iterates a frozenset in hash order, so random frozensets hold at most one item
        ...FastCheck.sample(brineValue({ maxSetSize: 1 }), { numRuns: 300, seed: 20240611 })
      ]
      const ours = samples.map((v) => hex(Brine.encode(v)))
      const input = JSON.stringify(samples.map((v, i) => [toTagged(v), ours[i]]))
      const output = execFileSync(PYTHON, ["-c", PY_SCRIPT], { input, encoding: "utf8", maxBuffer: 1 << 28 })
      const results = JSON.parse(output) as Array<[boolean, string, string]>
      assert.strictEqual(results.length, samples.length)
      results.forEach(([dumpable, pythonHex, reloadedHex], i) => {
        assert.isTrue(dumpable, `sample ${i} dumpable`)
        assert.strictEqual(pythonHex, ours[i], `sample ${i}: python dump vs ours`)
        assert.strictEqual(reloadedHex, ours[i], `sample ${i}: python load(ours) re-dumped`)
      })
    }
  )

  it.runIf(runPythonTests)(
    "non-canonical forms Python accepts decode to what Python decodes",
    () => {
      const inputs = ["0e026162", "14025152", "150000000251 52", "160135"]
      // int() also takes a + sign, surrounding spaces, _ separators and -0
      inputs.push("16022b35", "1603203520", "1603315f30", "16022d30")
      const script = `
import json, sys
from rpyc.core import brine
print(json.dumps([brine.dump(brine.load(bytes.fromhex(h))).hex() for h in json.load(sys.stdin)]))
`
      const input = JSON.stringify(inputs.map((s) => s.replace(/ /g, "")))
      const python = JSON.parse(execFileSync(PYTHON, ["-c", script], { input, encoding: "utf8" })) as Array<string>
      inputs.forEach((input, i) => assert.strictEqual(hex(Brine.encode(Brine.decode(unhex(input)))), python[i], input))
    }
  )
})

describe("Brine.Writer", () => {
  it("grows by doubling for small writes and to about the size of one large write", () => {
    const w = new Brine.Writer(16)
    w.bytes(new Uint8Array(20).fill(1))
    assert.strictEqual(w.buf.length, 32)
    const large = Uint8Array.from({ length: (1 << 20) + 3 }, (_, i) => i % 251)
    w.bytes(large)
    const need = 20 + large.length
    // one allocation with room to spare, not the next power of two (2 MiB)
    assert.isAtLeast(w.buf.length, need)
    assert.isAtMost(w.buf.length, need + (need >>> 3))
    w.byte(7)
    const out = w.result()
    assert.strictEqual(out.length, need + 1)
    assert.deepStrictEqual(out.subarray(0, 20), new Uint8Array(20).fill(1))
    assert.deepStrictEqual(out.subarray(20, need), large)
    assert.strictEqual(out[need], 7)
  })

  it("grows into the buffers its grow function gives, keeping what was written", () => {
    const asked: Array<number> = []
    const w = new Brine.Writer(16, (size) => {
      asked.push(size)
      return new Uint8Array(size + 100)
    })
    w.bytes(Uint8Array.of(1, 2, 3))
    const large = Uint8Array.from({ length: 5000 }, (_, i) => i % 253)
    w.bytes(large)
    assert.deepStrictEqual(asked, [3 + 5000 + ((3 + 5000) >>> 3)])
    assert.strictEqual(w.buf.length, asked[0] + 100)
    assert.deepStrictEqual(w.result(), Uint8Array.from([1, 2, 3, ...large]))
  })
})
