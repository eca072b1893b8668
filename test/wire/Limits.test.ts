/**
 * The decoder's limits: what a hostile peer cannot make the codec do.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Brine from "../../src/internal/wire/Brine.js"
import { FrameDecoder } from "../../src/internal/wire/Channel.js"

/** A brine int in text form (tag 0x17: u32 length + ASCII digits). */
const longInt = (digits: string): Uint8Array => {
  const text = new TextEncoder().encode(digits)
  const out = new Uint8Array(5 + text.length)
  out[0] = 0x17
  new DataView(out.buffer).setUint32(1, text.length)
  out.set(text, 5)
  return out
}

describe("int digits", () => {
  it("an int of up to 4300 digits decodes, as in CPython", () => {
    const digits = "7".repeat(4300)
    assert.strictEqual(Brine.decode(longInt(digits)), BigInt(digits))
  })

  it("a longer one is refused at once (TooManyDigits), however long", () => {
    for (const length of [4301, 30_000_000]) {
      const started = Date.now()
      const error = (() => {
        try {
          Brine.decode(longInt("9".repeat(length)))
        } catch (e) {
          return e
        }
      })()
      assert.instanceOf(error, Brine.BrineError)
      assert.strictEqual((error as Brine.BrineError).reason, "TooManyDigits")
      // not a timing assertion: a BigInt of 30M digits takes seconds; refusing must not build it
      assert.isBelow(Date.now() - started, 5_000)
    }
  })

  it("underscores and whitespace do not count as digits; the limit is configurable", () => {
    assert.strictEqual(Brine.decode(longInt(" " + "1_0".repeat(2150) + " ")), BigInt("10".repeat(2150)))
    assert.throws(() => Brine.decode(longInt("12345"), { maxIntDigits: 4 }), /TooManyDigits/)
    assert.strictEqual(Brine.decode(longInt("1".repeat(5000)), { maxIntDigits: 5000 }), BigInt("1".repeat(5000)))
  })
})

describe("frame reassembly", () => {
  const frame = (payload: Uint8Array): Uint8Array => {
    const out = new Uint8Array(6 + payload.length)
    new DataView(out.buffer).setUint32(0, payload.length)
    out.set(payload, 5)
    out[5 + payload.length] = 0x0a
    return out
  }

  it("a large frame split into many chunks arrives whole and intact", () => {
    const payload = new Uint8Array(8 * 1024 * 1024).map((_, i) => (i * 7) & 0xff)
    const bytes = frame(payload)
    const decoder = new FrameDecoder()
    const out: Array<Uint8Array> = []
    for (let at = 0; at < bytes.length; at += 65_536) out.push(...decoder.push(bytes.subarray(at, at + 65_536)))
    assert.strictEqual(out.length, 1)
    assert.strictEqual(Buffer.compare(out[0], payload), 0)
    assert.strictEqual(decoder.buffered, 0)
  })

  it("holds what was received, not what a header announces", () => {
    const decoder = new FrameDecoder()
    const header = new Uint8Array([0x03, 0x00, 0x00, 0x00, 0x00, 0x41])
    assert.deepStrictEqual(decoder.push(header), [])
    assert.strictEqual(decoder.buffered, 6)
  })
})
