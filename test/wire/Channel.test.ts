import { assert, describe, it } from "@effect/vitest"
import * as FastCheck from "effect/FastCheck"
import * as Zlib from "node:zlib"
import * as Brine from "../../src/internal/wire/Brine.js"
import * as Channel from "../../src/internal/wire/Channel.js"
import { asciiHex, expectThrow, hex, repeatHex, u32Hex, unhex } from "./support.js"

const { FrameDecoder, FrameError, encodeFrame } = Channel

/** A raw frame around a payload given in hex. */
const rawFrame = (payloadHex: string, flag = "00"): string => u32Hex(payloadHex.length / 2) + flag + payloadHex + "0a"

/** Feeds `chunks` to a fresh decoder and returns all payloads as hex. */
const decodeAll = (chunks: ReadonlyArray<Uint8Array>, options?: Channel.DecoderOptions): Array<string> => {
  const decoder = new FrameDecoder(options)
  const out = chunks.flatMap((c) => decoder.push(c)).map(hex)
  decoder.end()
  return out
}

/** Splits `bytes` at the given offsets. */
const splitAt = (bytes: Uint8Array, cuts: ReadonlyArray<number>): Array<Uint8Array> => {
  const points = [...new Set(cuts.map((c) => Math.min(Math.max(c, 0), bytes.length)))].sort((a, b) => a - b)
  const out: Array<Uint8Array> = []
  let prev = 0
  for (const p of [...points, bytes.length]) {
    out.push(bytes.subarray(prev, p))
    prev = p
  }
  return out
}

const ones = (bytes: Uint8Array): Array<Uint8Array> => Array.from(bytes, (_, i) => bytes.subarray(i, i + 1))

// PROTOCOL.md §3.15 vectors 1, 2, 8, 15 (v5), whole frames
const FRAME_1 = "000000080012515011531151020a"
const FRAME_2 = "0000003c00125250115412080e125f5f6d61696e5f5f2e4d7953657276696365160e3934303131363233343731343838160f" +
  "3134303233343536373839303132330a"
const FRAME_8 = "00000006001252531151530a"
const FRAME_15 = "0000000400125358510a"
const payloadOf = (frameHex: string): string => frameHex.slice(10, -2)

// PROTOCOL.md §3.15 vector 23: (2, 45, (1, 'y' * 5000)), compressed
const FRAME_23_V5 = "0000003c017801edd0211100201000b09738ee2119b441bc273629705b848d5db95a8f98f760c080010306" +
  "0c183060c0800103060c183060c0c0f781072cdf3dc50a"
const FRAME_23_V6 = "0000003c017801edd0310d00200c00b0858b6f5950861c0efec946055f2ba1a36eed9911ab0f060c1830" +
  "60c0800103060c183060c0800103060c7c1f78fb343d740a"
/** The uncompressed payloads of vector 23: envelope, `(1, 'y' * 5000)`, str of 5000 bytes. */
const PAYLOAD_23_V5 = "12527d1151080f" + u32Hex(5000) + repeatHex("79", 5000)
const PAYLOAD_23_V6 = "02117d1151080f" + u32Hex(5000) + repeatHex("79", 5000)

describe("encodeFrame", () => {
  it("writes u32 BE length, flag 0, the payload and a 0x0a trailer", () => {
    assert.strictEqual(hex(encodeFrame(unhex("616263"))), "00000003" + "00" + "616263" + "0a")
    assert.strictEqual(hex(encodeFrame(new Uint8Array(0))), "0000000000" + "0a")
  })

  it("reproduces PROTOCOL.md §3.15 frames from their payloads", () => {
    for (const frame of [FRAME_1, FRAME_2, FRAME_8, FRAME_15]) {
      assert.strictEqual(hex(encodeFrame(unhex(payloadOf(frame)))), frame)
    }
  })

  it("takes a payload view with a non-zero byteOffset", () => {
    const backing = unhex("ffff 515253 ffff")
    assert.strictEqual(hex(encodeFrame(backing.subarray(2, 5))), "0000000300" + "515253" + "0a")
  })

  it("sends a payload of exactly 3000 bytes raw", () => {
    const payload = new Uint8Array(3000).fill(0x79)
    const frame = encodeFrame(payload)
    assert.strictEqual(frame.length, 5 + 3000 + 1)
    assert.strictEqual(hex(frame.subarray(0, 5)), u32Hex(3000) + "00")
    assert.strictEqual(hex(frame.subarray(5, 3005)), hex(payload))
    assert.strictEqual(frame[3005], 0x0a)
  })

  it("compresses a payload of 3001 bytes with zlib level 1", () => {
    const payload = new Uint8Array(3001).fill(0x79)
    const frame = Buffer.from(encodeFrame(payload))
    const length = frame.readUInt32BE(0)
    assert.strictEqual(frame[4], 1, "flag")
    assert.strictEqual(frame.length, 5 + length + 1)
    assert.isBelow(length, 3001)
    const body = frame.subarray(5, 5 + length)
    assert.strictEqual(hex(body.subarray(0, 2)), "7801", "zlib header of level 1")
    assert.strictEqual(hex(Zlib.inflateSync(body)), hex(payload))
    assert.strictEqual(frame[frame.length - 1], 0x0a)
  })

  it("compresses incompressible payloads too (Python compresses by size only)", () => {
    const payload = Uint8Array.from({ length: 4000 }, (_, i) => (i * 2654435761) >>> 24)
    const frame = encodeFrame(payload)
    assert.strictEqual(frame[4], 1)
    assert.strictEqual(hex(Zlib.inflateSync(frame.subarray(5, frame.length - 1))), hex(payload))
  })

  it("sends large payloads raw when compression is off", () => {
    const payload = new Uint8Array(3001).fill(0x79)
    const frame = encodeFrame(payload, { compress: false })
    assert.strictEqual(hex(frame.subarray(0, 5)), u32Hex(3001) + "00")
    assert.strictEqual(frame.length, 3007)
  })

  it("compresses vector 23's payload into a frame that inflates back to it", () => {
    for (const payloadHex of [PAYLOAD_23_V5, PAYLOAD_23_V6]) {
      const payload = unhex(payloadHex)
      assert.strictEqual(payload.length, 5011)
      const frame = encodeFrame(payload)
      assert.strictEqual(frame[4], 1)
      assert.isBelow(frame.length, 200)
      assert.deepStrictEqual(decodeAll([frame]), [payloadHex])
    }
  })
})

describe("beginFrame / endFrame", () => {
  const inPlace = (payloads: ReadonlyArray<Uint8Array>, options?: Channel.EncodeOptions): Uint8Array => {
    const w = new Brine.Writer(16)
    for (const payload of payloads) {
      const start = Channel.beginFrame(w)
      w.bytes(payload)
      assert.strictEqual(Channel.endFrame(w, start, options), payload.length)
    }
    return w.result()
  }

  it("builds the same bytes as encodeFrame, frame after frame in one buffer", () => {
    const random = Uint8Array.from({ length: 70_000 }, (_, i) => (i * 2654435761) >>> 24)
    const payloads = [
      unhex(payloadOf(FRAME_1)),
      new Uint8Array(0),
      new Uint8Array(3000).fill(0x61),
      new Uint8Array(3001).fill(0x79),
      unhex(PAYLOAD_23_V5),
      random,
      unhex(payloadOf(FRAME_2))
    ]
    for (const options of [undefined, { compress: false }]) {
      const joined = inPlace(payloads, options)
      assert.strictEqual(hex(joined), payloads.map((p) => hex(encodeFrame(p, options))).join(""))
      assert.deepStrictEqual(decodeAll([joined]), payloads.map(hex))
    }
  })

  it("compresses in place: the frame of a compressible payload is its deflated form", () => {
    const payload = new Uint8Array(10_000).fill(0x42)
    const frame = inPlace([payload])
    assert.strictEqual(frame[4], 1)
    assert.isBelow(frame.length, 200)
    assert.strictEqual(hex(Zlib.inflateSync(frame.subarray(5, frame.length - 1))), hex(payload))
  })
})

describe("FrameDecoder", () => {
  it("decodes PROTOCOL.md §3.15 vector 23 (compressed by Python) in both dialects", () => {
    assert.deepStrictEqual(decodeAll([unhex(FRAME_23_V5)]), [PAYLOAD_23_V5])
    assert.deepStrictEqual(decodeAll([unhex(FRAME_23_V6)]), [PAYLOAD_23_V6])
  })

  it("decodes one frame fed one byte at a time", () => {
    const decoder = new FrameDecoder()
    const bytes = unhex(FRAME_2)
    const got: Array<string> = []
    ones(bytes).forEach((chunk, i) => {
      const out = decoder.push(chunk)
      if (i < bytes.length - 1) {
        assert.strictEqual(out.length, 0, `no payload before the trailer (byte ${i})`)
        assert.strictEqual(decoder.buffered, i + 1)
      }
      got.push(...out.map(hex))
    })
    assert.deepStrictEqual(got, [payloadOf(FRAME_2)])
    assert.strictEqual(decoder.buffered, 0)
    decoder.end()
  })

  it("waits for the trailer byte before handing out the payload", () => {
    const decoder = new FrameDecoder()
    const bytes = unhex(FRAME_8)
    assert.deepStrictEqual(decoder.push(bytes.subarray(0, bytes.length - 1)), [])
    assert.deepStrictEqual(decoder.push(bytes.subarray(bytes.length - 1)).map(hex), [payloadOf(FRAME_8)])
  })

  it("decodes several frames merged into one chunk, in order", () => {
    const frames = [FRAME_1, FRAME_2, FRAME_8, FRAME_15, FRAME_23_V5]
    assert.deepStrictEqual(decodeAll([unhex(frames.join(""))]), [
      payloadOf(FRAME_1),
      payloadOf(FRAME_2),
      payloadOf(FRAME_8),
      payloadOf(FRAME_15),
      PAYLOAD_23_V5
    ])
  })

  it("decodes a mix of split and merged frames", () => {
    const stream = unhex(FRAME_1 + FRAME_2 + FRAME_8 + FRAME_15 + FRAME_23_V6)
    // cuts inside a header, inside a payload, right before a trailer, and right after one
    const chunks = splitAt(stream, [2, 14, 15, 40, 80, 81, 92, 96, 110, 120])
    assert.deepStrictEqual(decodeAll(chunks), [
      payloadOf(FRAME_1),
      payloadOf(FRAME_2),
      payloadOf(FRAME_8),
      payloadOf(FRAME_15),
      PAYLOAD_23_V6
    ])
  })

  it("decodes empty payloads and ignores empty chunks", () => {
    const empty = unhex("0000000000 0a")
    assert.deepStrictEqual(decodeAll([new Uint8Array(0), empty, new Uint8Array(0), empty]), ["", ""])
  })

  it("does not check the trailer byte (Python discards it unread)", () => {
    assert.deepStrictEqual(decodeAll([unhex("0000000200515200")]), ["5152"])
  })

  it("inflates any non-zero flag", () => {
    const body = Zlib.deflateSync(Buffer.from("hello"), { level: 9 }).toString("hex")
    assert.deepStrictEqual(decodeAll([unhex(rawFrame(body, "01"))]), [asciiHex("hello")])
    assert.deepStrictEqual(decodeAll([unhex(rawFrame(body, "ff"))]), [asciiHex("hello")])
  })

  it("takes chunks that are views with a non-zero byteOffset", () => {
    const backing = unhex("ffffff" + FRAME_8 + "ffffff")
    const frame = backing.subarray(3, 3 + FRAME_8.length / 2)
    assert.deepStrictEqual(decodeAll([frame.subarray(0, 3), frame.subarray(3)]), [payloadOf(FRAME_8)])
  })

  it("keeps its partial frame when the caller reuses the chunk buffer", () => {
    const decoder = new FrameDecoder()
    const scratch = new Uint8Array(8)
    const bytes = unhex(FRAME_8)
    scratch.set(bytes.subarray(0, 8))
    assert.deepStrictEqual(decoder.push(scratch), [])
    scratch.fill(0xee)
    scratch.set(bytes.subarray(8))
    assert.deepStrictEqual(decoder.push(scratch.subarray(0, bytes.length - 8)).map(hex), [payloadOf(FRAME_8)])
  })

  it.prop(
    "any chunking of a frame stream gives the same payloads",
    [
      FastCheck.array(FastCheck.uint8Array({ maxLength: 40 }), { maxLength: 6 }),
      FastCheck.array(FastCheck.nat(400), { maxLength: 12 })
    ],
    ([payloads, cuts]) => {
      const stream = Buffer.concat(payloads.map((p) => encodeFrame(p)))
      assert.deepStrictEqual(decodeAll(splitAt(stream, cuts)), payloads.map(hex))
    }
  )

  it.prop(
    "compressed and raw frames round-trip through the decoder",
    [FastCheck.array(FastCheck.integer({ min: 0, max: 9000 }), { minLength: 1, maxLength: 3 })],
    ([sizes]) => {
      const payloads = sizes.map((n) => Uint8Array.from({ length: n }, (_, i) => (i % 7) + (n % 5)))
      const stream = Buffer.concat(payloads.map((p) => encodeFrame(p)))
      assert.deepStrictEqual(decodeAll(splitAt(stream, [1, 4, 5, 3006])), payloads.map(hex))
    },
    { fastCheck: { numRuns: 30 } }
  )
})

describe("FrameDecoder failures", () => {
  it("refuses a frame over maxFrameSize as soon as the header arrives (TooLarge)", () => {
    const decoder = new FrameDecoder({ maxFrameSize: 10 })
    assert.strictEqual(decoder.maxFrameSize, 10)
    const e = expectThrow(FrameError, () => decoder.push(unhex("0000000b00")))
    assert.strictEqual(e.reason, "TooLarge")
    assert.strictEqual(e._tag, "FrameError")
  })

  it("accepts a frame of exactly maxFrameSize", () => {
    const payload = repeatHex("51", 10)
    assert.deepStrictEqual(decodeAll([unhex(rawFrame(payload))], { maxFrameSize: 10 }), [payload])
  })

  it("hands out the good frames before a too-large one in the same chunk, then refuses", () => {
    const decoder = new FrameDecoder({ maxFrameSize: 100 })
    // the frame before the bad header is served (as Python would), the failure is recorded…
    assert.strictEqual(decoder.push(unhex(FRAME_1 + "00000fff00")).length, 1)
    assert.strictEqual(decoder.failure?.reason, "TooLarge")
    // …and the stream stays refused
    const e = expectThrow(FrameError, () => decoder.push(unhex(FRAME_1)))
    assert.strictEqual(e.reason, "TooLarge")
  })

  it("refuses an HTTP request line with the default maximum", () => {
    assert.strictEqual(Channel.DEFAULT_MAX_FRAME_SIZE, 64 * 1024 * 1024)
    const decoder = new FrameDecoder()
    const e = expectThrow(FrameError, () => decoder.push(Buffer.from("GET / HTTP/1.1\r\n", "latin1")))
    assert.strictEqual(e.reason, "TooLarge")
    assert.include(e.message, String(0x47455420))
  })

  it("fails on a bad zlib stream with flag 1 (Inflate)", () => {
    const decoder = new FrameDecoder()
    const e = expectThrow(FrameError, () => decoder.push(unhex(rawFrame("010203", "01"))))
    assert.strictEqual(e.reason, "Inflate")
  })

  it("fails on raw deflate or gzip where zlib is expected (Inflate)", () => {
    for (const body of [Zlib.deflateRawSync(Buffer.from("abc")), Zlib.gzipSync(Buffer.from("abc"))]) {
      const e = expectThrow(FrameError, () => new FrameDecoder().push(unhex(rawFrame(body.toString("hex"), "01"))))
      assert.strictEqual(e.reason, "Inflate")
    }
  })

  it("refuses to inflate beyond maxFrameSize", () => {
    // vector 23 is 60 bytes on the wire and 5011 inflated
    const e = expectThrow(FrameError, () => new FrameDecoder({ maxFrameSize: 1000 }).push(unhex(FRAME_23_V5)))
    assert.include(["TooLarge", "Inflate"], e.reason)
  })

  it("end() after a partial frame fails with Truncated", () => {
    for (const partial of ["000000", "0000000800", FRAME_1.slice(0, -2)]) {
      const decoder = new FrameDecoder()
      decoder.push(unhex(partial))
      const e = expectThrow(FrameError, () => decoder.end())
      assert.strictEqual(e.reason, "Truncated", partial)
    }
    const decoder = new FrameDecoder()
    decoder.push(unhex(FRAME_1 + FRAME_8.slice(0, 10)))
    assert.strictEqual(expectThrow(FrameError, () => decoder.end()).reason, "Truncated")
  })

  it("end() after whole frames, or nothing at all, does not fail", () => {
    const decoder = new FrameDecoder()
    decoder.end()
    assert.strictEqual(decoder.push(unhex(FRAME_1 + FRAME_8)).length, 2)
    decoder.end()
    assert.strictEqual(decoder.buffered, 0)
  })
})
