import { assert, describe, it } from "@effect/vitest"
import * as Bytes from "../../src/internal/wire/Bytes.js"
import { hex, noise } from "./support.js"

describe("Bytes", () => {
  it("latin1 maps every byte to the character of the same code", () => {
    const all = Uint8Array.from({ length: 256 }, (_, i) => i)
    assert.strictEqual(Bytes.latin1(all), Buffer.from(all).toString("latin1"))
    const big = noise(100_000, 3)
    assert.strictEqual(Bytes.latin1(big), Buffer.from(big).toString("latin1"))
  })

  it("utf8Length and writeUtf8 agree with Buffer", () => {
    const long = "long enough for encodeInto: é€\u{1f600} ".repeat(4)
    for (
      const s of [
        "",
        "abc",
        "é",
        "€uro",
        "\u{1f600}x",
        "a\ud800b",
        "\udc00",
        "\ud800",
        "\ud800\ud800",
        long,
        long + "\ud800"
      ]
    ) {
      assert.strictEqual(Bytes.utf8Length(s), Buffer.byteLength(s, "utf8"), JSON.stringify(s))
      const target = new Uint8Array(3 * s.length + 2)
      const n = Bytes.writeUtf8(s, target, 2)
      assert.strictEqual(hex(target.subarray(2, 2 + n)), Buffer.from(s, "utf8").toString("hex"))
    }
  })

  it("concat joins parts, cut at the given total", () => {
    const parts = [Uint8Array.of(1, 2), Uint8Array.of(), Uint8Array.of(3, 4, 5)]
    assert.strictEqual(hex(Bytes.concat(parts)), "0102030405")
    assert.strictEqual(hex(Bytes.concat(parts, 4)), "01020304")
  })
})

describe("Bytes.allocUnsafe", () => {
  it("small arrays are distinct views of a pool, large ones arrays of their own", () => {
    const a = Bytes.allocUnsafe(10)
    const b = Bytes.allocUnsafe(10)
    a.fill(1)
    b.fill(2)
    assert.strictEqual(hex(a), "01".repeat(10))
    assert.strictEqual(a.length, 10)
    assert.strictEqual(Bytes.allocUnsafe(5000).byteLength, Bytes.allocUnsafe(5000).buffer.byteLength)
  })
})

describe("Bytes numbers", () => {
  it("write integers and doubles as Buffer does", () => {
    for (const v of [0, -0, 1.5, -2.25, Math.PI, 1e308, 5e-324, Infinity, -Infinity, NaN]) {
      const ours = new Uint8Array(10)
      Bytes.writeFloat64BE(ours, 1, v)
      const theirs = Buffer.alloc(10)
      theirs.writeDoubleBE(v, 1)
      assert.strictEqual(hex(ours), theirs.toString("hex"), String(v))
    }
    for (const n of [0, 1, 0x7fffffff, -1, -0x80000000, 0xffffffff]) {
      const ours = new Uint8Array(4)
      Bytes.writeUint32LE(ours, 0, n)
      const theirs = Buffer.alloc(4)
      if (n < 0) theirs.writeInt32LE(n)
      else theirs.writeUInt32LE(n)
      assert.strictEqual(hex(ours), theirs.toString("hex"), String(n))
    }
    for (const n of [0, 1, 0xffffffff, 0x100000000, Number.MAX_SAFE_INTEGER]) {
      const ours = new Uint8Array(8)
      Bytes.writeUint64LE(ours, 0, n)
      const theirs = Buffer.alloc(8)
      theirs.writeBigUInt64LE(BigInt(n))
      assert.strictEqual(hex(ours), theirs.toString("hex"), String(n))
    }
    const u32 = new Uint8Array(4)
    Bytes.writeUint32BE(u32, 0, 0xdeadbeef)
    assert.strictEqual(Bytes.readUint32BE(u32, 0), 0xdeadbeef)
  })
})
