import { assert, describe, it } from "@effect/vitest"
import * as FastCheck from "effect/FastCheck"
import * as Zlib from "node:zlib"
import * as Bytes from "../../src/internal/wire/Bytes.js"
import * as Inflate from "../../src/internal/wire/Inflate.js"
import { expectThrow, hex, noise, unhex } from "./support.js"

/** Bytes that compress: runs and repeats of a small alphabet. */
const text = (size: number, seed: number): Uint8Array => {
  const words = ["rpyc", "netref", "  ", "\n", "brine", "0123456789", "é", "\u{1f600}"]
  let s = ""
  let x = seed
  while (s.length < size) {
    x = (x * 1103515245 + 12345) >>> 0
    s += words[(x >>> 16) % words.length]
  }
  return new TextEncoder().encode(s).subarray(0, size)
}

const roundTrip = (payload: Uint8Array, options: Zlib.ZlibOptions): void => {
  const deflated = Zlib.deflateSync(payload, options)
  assert.strictEqual(hex(Inflate.inflate(deflated, payload.length)), hex(payload))
}

describe("Inflate", () => {
  it("inflates what Python's zlib sent (PROTOCOL.md §3.15 vector 23, both dialects)", () => {
    const body = unhex(
      "7801edd0211100201000b09738ee2119b441bc273629705b848d5db95a8f98f760c0800103060c183060c0800103060c183060c0c0f781072cdf3dc5"
    )
    const out = Inflate.inflate(body, 1 << 20)
    assert.strictEqual(out.length, 7 + 4 + 5000)
    assert.strictEqual(Bytes.latin1(out.subarray(11)), "y".repeat(5000))
  })

  it("inflates fixed, dynamic and stored blocks as node:zlib made them", () => {
    for (const level of [0, 1, 6, 9]) {
      for (const size of [0, 1, 3001, 70_000]) {
        roundTrip(text(size, size + level), { level })
        roundTrip(noise(size, size + level), { level })
      }
    }
    // Z_FIXED: fixed Huffman codes only; a small window: distances near the limit
    roundTrip(text(50_000, 7), { strategy: Zlib.constants.Z_FIXED })
    roundTrip(text(50_000, 8), { windowBits: 9, level: 9 })
    roundTrip(new Uint8Array(100_000).fill(0x79), { level: 1 })
  })

  it("agrees with node:zlib on arbitrary payloads", () => {
    FastCheck.assert(
      FastCheck.property(
        FastCheck.uint8Array({ maxLength: 5000 }),
        FastCheck.integer({ min: 0, max: 9 }),
        (bytes, level) => {
          roundTrip(bytes, { level })
        }
      ),
      { numRuns: 200 }
    )
  })

  it("refuses more output than allowed", () => {
    const deflated = Zlib.deflateSync(new Uint8Array(10_000))
    const e = expectThrow(Inflate.InflateError, () => Inflate.inflate(deflated, 9_999))
    assert.include(e.detail, "exceeds the maximum of 9999")
    assert.strictEqual(Inflate.inflate(deflated, 10_000).length, 10_000)
  })

  it("refuses streams that are not whole, valid zlib", () => {
    const deflated = Zlib.deflateSync(text(5000, 1))
    const cases: Array<[Uint8Array, RegExp]> = [
      [deflated.subarray(0, deflated.length - 1), /unexpected end/],
      [deflated.subarray(0, 40), /unexpected end/],
      [Uint8Array.of(0x78), /unexpected end/],
      [Uint8Array.of(0x79, 0x01, 0x03, 0x00), /not a deflate stream/],
      [Uint8Array.of(0x78, 0x02, 0x03, 0x00), /incorrect header check/],
      [Uint8Array.of(0x78, 0xbb, 0, 0, 0, 0), /preset dictionary/],
      [Zlib.deflateRawSync(text(100, 1)), /not a deflate stream|incorrect header check/]
    ]
    const corrupt = Uint8Array.from(deflated)
    corrupt[corrupt.length - 1] ^= 1
    cases.push([corrupt, /incorrect data check/])
    // a stored block whose length does not match its complement
    cases.push([Uint8Array.of(0x78, 0x01, 0x01, 0x05, 0x00, 0xfa, 0xfe), /complement/])
    // block type 3
    cases.push([Uint8Array.of(0x78, 0x01, 0x07), /invalid block type/])
    for (const [input, why] of cases) {
      const e = expectThrow(Inflate.InflateError, () => Inflate.inflate(input, 1 << 20))
      assert.match(e.detail, why)
    }
  })
})
