import { assert, describe, it } from "@effect/vitest"
import * as Schema from "effect/Schema"
import * as Zlib from "node:zlib"
import * as Brine from "../../src/internal/wire/Brine.js"
import { encodeFrame, FrameDecoder } from "../../src/internal/wire/Channel.js"
import * as Message from "../../src/internal/wire/Message.js"
import * as MessageSchema from "./MessageSchema.js"
import { expectThrow, hex, unhex, wireMessage } from "./support.js"
import type { WireMessage } from "./support.js"

// ---------------------------------------------------------------------------------------------
// PROTOCOL.md §3.15 vectors

const ROOT = ["__main__.MyService", 94011623471488, 140234567890123] as const
const METHOD = ["builtins.method", 9783776, 140234567000000] as const
const PING_DATA = "abcdefghijklmnopqrstuvwxyz".repeat(20)

interface FramedVector {
  readonly n: number
  readonly name: string
  readonly message: WireMessage
  readonly v5: string
  readonly v6: string
  /** The frame is zlib-compressed: compare decompressed payloads, not bytes. */
  readonly compressed?: boolean
  /** Only a prefix of the frame is given. */
  readonly prefixOnly?: boolean
}

const m = (msg: Message.MsgType, seq: number, args: unknown): WireMessage => ({ msg, seq, args })

const vectors: ReadonlyArray<FramedVector> = [
  {
    n: 1,
    name: "GETROOT request, seq 0",
    message: m(1, 0, [3, [1, []]]),
    v5: "000000080012515011531151020a",
    v6: "000000080001115011531151020a"
  },
  {
    n: 2,
    name: "GETROOT reply",
    message: m(2, 0, [4, ROOT]),
    v5: "0000003c00125250115412080e125f5f6d61696e5f5f2e4d7953657276696365160e3934303131363233343731343838160f31" +
      "34303233343536373839303132330a",
    v6: "0000003c00021150115412080e125f5f6d61696e5f5f2e4d7953657276696365160e3934303131363233343731343838160f31" +
      "34303233343536373839303132330a"
  },
  {
    n: 3,
    name: "INSPECT request (id_pack by value)",
    message: m(1, 1, [16, [1, [ROOT]]]),
    v5: "0000003f00125151116011511012080e125f5f6d61696e5f5f2e4d7953657276696365160e3934303131363233343731343838" +
      "160f3134303233343536373839303132330a",
    v6: "0000003f00011151116011511012080e125f5f6d61696e5f5f2e4d7953657276696365160e3934303131363233343731343838" +
      "160f3134303233343536373839303132330a"
  },
  {
    n: 4,
    name: "INSPECT reply",
    message: m(2, 1, [1, [["exposed_add", "adds two numbers"], ["exposed_echo", null]]]),
    v5: "000000390012525111511111080e0b6578706f7365645f616464080e10616464732074776f206e756d6265727311080e0c6578" +
      "706f7365645f6563686f000a",
    v6: "000000390002115111511111080e0b6578706f7365645f616464080e10616464732074776f206e756d6265727311080e0c6578" +
      "706f7365645f6563686f000a"
  },
  {
    n: 5,
    name: "GETATTR root.add",
    message: m(1, 2, [4, [2, [[3, ROOT], [1, "add"]]]]),
    v5: "00000048001251521154115211115312080e125f5f6d61696e5f5f2e4d7953657276696365160e393430313136323334373134" +
      "3838160f3134303233343536373839303132331151080c6164640a",
    v6: "00000048000111521154115211115312080e125f5f6d61696e5f5f2e4d7953657276696365160e393430313136323334373134" +
      "3838160f3134303233343536373839303132331151080c6164640a"
  },
  {
    n: 6,
    name: "GETATTR reply: bound method by reference",
    message: m(2, 2, [4, METHOD]),
    v5: "0000003200125252115412080e0f6275696c74696e732e6d6574686f64160739373833373736160f313430323334353637303030" +
      "3030300a",
    v6: "0000003200021152115412080e0f6275696c74696e732e6d6574686f64160739373833373736160f313430323334353637303030" +
      "3030300a"
  },
  {
    n: 7,
    name: "CALL method(1, 2)",
    message: m(1, 3, [7, [2, [[3, METHOD], [1, [1, 2]], [1, []]]]]),
    v5: "0000003f001251531157115212115312080e0f6275696c74696e732e6d6574686f64160739373833373736160f313430323334" +
      "35363730303030303011511151521151020a",
    v6: "0000003f000111531157115212115312080e0f6275696c74696e732e6d6574686f64160739373833373736160f313430323334" +
      "35363730303030303011511151521151020a"
  },
  {
    n: 8,
    name: "CALL reply 3",
    message: m(2, 3, [1, 3]),
    v5: "00000006001252531151530a",
    v6: "00000006000211531151530a"
  },
  {
    n: 9,
    name: "CALL with keyword args method(1, b=3)",
    message: m(1, 4, [7, [2, [[3, METHOD], [1, [1]], [1, [["b", 3]]]]]]),
    v5: "00000043001251541157115212115312080e0f6275696c74696e732e6d6574686f64160739373833373736160f313430323334" +
      "3536373030303030301151105111511011080a62530a",
    v6: "00000043000111541157115212115312080e0f6275696c74696e732e6d6574686f64160739373833373736160f313430323334" +
      "3536373030303030301151105111511011080a62530a"
  },
  {
    n: 10,
    name: "CALLATTR root.__len__()",
    message: m(1, 5, [8, [2, [[3, ROOT], [1, "__len__"], [1, []], [1, []]]]]),
    v5: "00000053001251551158115213115312080e125f5f6d61696e5f5f2e4d7953657276696365160e393430313136323334373134" +
      "3838160f3134303233343536373839303132331151080e075f5f6c656e5f5f1151021151020a",
    v6: "00000053000111551158115213115312080e125f5f6d61696e5f5f2e4d7953657276696365160e393430313136323334373134" +
      "3838160f3134303233343536373839303132331151080e075f5f6c656e5f5f1151021151020a"
  },
  {
    n: 11,
    name: "DEL(method, 1)",
    message: m(1, 6, [15, [2, [[3, METHOD], [1, 1]]]]),
    v5: "0000003a00125156115f115211115312080e0f6275696c74696e732e6d6574686f64160739373833373736160f313430323334" +
      "3536373030303030301151510a",
    v6: "0000003a00011156115f115211115312080e0f6275696c74696e732e6d6574686f64160739373833373736160f313430323334" +
      "3536373030303030301151510a"
  },
  {
    n: 12,
    name: "DEL reply None",
    message: m(2, 6, [1, null]),
    v5: "00000006001252561151000a",
    v6: "00000006000211561151000a"
  },
  {
    n: 13,
    name: "PING 'abc'",
    message: m(1, 7, [1, [1, ["abc"]]]),
    v5: "0000000d001251571151115110080c6162630a",
    v6: "0000000d000111571151115110080c6162630a"
  },
  {
    n: 14,
    name: "PING reply",
    message: m(2, 7, [1, "abc"]),
    v5: "0000000a001252571151080c6162630a",
    v6: "0000000a000211571151080c6162630a"
  },
  {
    n: 15,
    name: "StopIteration exception reply",
    message: m(3, 8, 1),
    v5: "0000000400125358510a",
    v6: "0000000400031158510a"
  },
  {
    n: 16,
    name: "ValueError('boom') exception reply, traceback and version denied",
    message: m(3, 9, [
      ["builtins", "ValueError"],
      ["boom"],
      [["_remote_version", "<version denied>"]],
      "<traceback denied>"
    ]),
    v5: "00000060001253591311080e086275696c74696e73080e0a56616c75654572726f7210080d626f6f6d1011080e0f5f72656d6f" +
      "74655f76657273696f6e080e103c76657273696f6e2064656e6965643e080e123c74726163656261636b2064656e6965643e0a",
    v6: "00000060000311591311080e086275696c74696e73080e0a56616c75654572726f7210080d626f6f6d1011080e0f5f72656d6f" +
      "74655f76657273696f6e080e103c76657273696f6e2064656e6965643e080e123c74726163656261636b2064656e6965643e0a"
  },
  {
    n: 17,
    name: "CLOSE",
    message: m(1, 10, [2, [1, []]]),
    v5: "000000080012515a11521151020a",
    v6: "000000080001115a11521151020a"
  },
  {
    n: 18,
    name: "Reply with a tuple holding a reference (LABEL_TUPLE)",
    message: m(2, 11, [2, [[1, 1], [4, ["builtins.list", 9759744, 140234567111111]]]]),
    // 60 bytes: 5 + 54 + 1, the str(140234567111111) body having 15 digits (some copies of the
    // protocol notes printed it one "31" short). These are the frames /usr/bin/python3 rpyc 5.3.0
    // produces: brine.dump of the tuple above, framed (PROTOCOL.md §3.15, vector 18).
    v5: "000000360012525b115211115151115412080e0d6275696c74696e732e6c697374160739373539373434160f31343032333435" +
      "36373131313131310a",
    v6: "000000360002115b115211115151115412080e0d6275696c74696e732e6c697374160739373539373434160f31343032333435" +
      "36373131313131310a"
  },
  {
    n: 19,
    name: "SETATTR obj.foo = 5",
    message: m(1, 12, [6, [2, [[3, ROOT], [1, "foo"], [1, 5]]]]),
    v5: "0000004b0012515c1156115212115312080e125f5f6d61696e5f5f2e4d7953657276696365160e393430313136323334373134" +
      "3838160f3134303233343536373839303132331151080c666f6f1151550a",
    v6: "0000004b0001115c1156115212115312080e125f5f6d61696e5f5f2e4d7953657276696365160e393430313136323334373134" +
      "3838160f3134303233343536373839303132331151080c666f6f1151550a"
  },
  {
    n: 20,
    name: "STR request",
    message: m(1, 13, [10, [2, [[3, ROOT]]]]),
    v5: "000000410012515d115a115210115312080e125f5f6d61696e5f5f2e4d7953657276696365160e393430313136323334373134" +
      "3838160f3134303233343536373839303132330a",
    v6: "000000410001115d115a115210115312080e125f5f6d61696e5f5f2e4d7953657276696365160e393430313136323334373134" +
      "3838160f3134303233343536373839303132330a"
  },
  {
    n: 21,
    name: "CALL passing a local callback by reference",
    message: m(1, 14, [7, [2, [[3, METHOD], [2, [[4, ["builtins.function", 9764896, 139652337657760]]]], [1, []]]]]),
    v5: "0000006e0012515e1157115212115312080e0f6275696c74696e732e6d6574686f64160739373833373736160f313430323334" +
      "353637303030303030115210115412080e116275696c74696e732e66756e6374696f6e160739373634383936160f3133393635" +
      "323333373635373736301151020a",
    v6: "0000006e0001115e1157115212115312080e0f6275696c74696e732e6d6574686f64160739373833373736160f313430323334" +
      "353637303030303030115210115412080e116275696c74696e732e66756e6374696f6e160739373634383936160f3133393635" +
      "323333373635373736301151020a"
  },
  {
    n: 22,
    name: "BUFFITER(it, 10)",
    message: m(1, 15, [17, [2, [[3, ROOT], [1, 10]]]]),
    v5: "000000440012515f1161115211115312080e125f5f6d61696e5f5f2e4d7953657276696365160e393430313136323334373134" +
      "3838160f31343032333435363738393031323311515a0a",
    v6: "000000440001115f1161115211115312080e125f5f6d61696e5f5f2e4d7953657276696365160e393430313136323334373134" +
      "3838160f31343032333435363738393031323311515a0a"
  },
  {
    n: 23,
    name: "Compressed reply (2, 45, (1, 'y' * 5000))",
    message: m(2, 45, [1, "y".repeat(5000)]),
    v5: "0000003c017801edd0211100201000b09738ee2119b441bc273629705b848d5db95a8f98f760c0800103060c183060c0800103" +
      "060c183060c0c0f781072cdf3dc50a",
    v6: "0000003c017801edd0310d00200c00b0858b6f5950861c0efec946055f2ba1a36eed9911ab0f060c183060c0800103060c18306" +
      "0c0800103060c7c1f78fb343d740a",
    compressed: true
  },
  {
    n: 24,
    name: "Default ping request (prefix)",
    message: m(1, 0, [1, [1, [PING_DATA]]]),
    v5: "00000216001251501151115110080f000002086162636465",
    v6: "00000216000111501151115110080f000002086162636465",
    prefixOnly: true
  }
]

/** Decodes exactly one frame from `bytes`. */
const onePayload = (bytes: Uint8Array): Uint8Array => {
  const decoder = new FrameDecoder()
  const payloads = decoder.push(bytes)
  decoder.end()
  assert.strictEqual(payloads.length, 1, "one frame")
  return payloads[0]!
}

const frameOf = (version: Message.WireVersion, msg: WireMessage): Uint8Array =>
  encodeFrame(Message.encodePayload(version, msg.msg, msg.seq, msg.args))

/** The payload of a frame built by hand (header, payload, trailer), inflated if need be. */
const inflatedPayload = (frame: Uint8Array): string => {
  const body = frame.subarray(5, frame.length - 1)
  return hex(frame[4] === 0 ? body : Zlib.inflateSync(body))
}

const asEnvelope = (msg: WireMessage): Message.Envelope => ({ msg: msg.msg, seq: msg.seq, args: msg.args })

describe("Message PROTOCOL.md §3.15 framed vectors", () => {
  for (const v of vectors) {
    for (const version of [5, 6] as const) {
      const frameHex = version === 5 ? v.v5 : v.v6
      describe(`${v.n}. ${v.name} (v${version})`, () => {
        if (!v.prefixOnly) {
          it("decodes", () => {
            const payload = onePayload(unhex(frameHex))
            assert.strictEqual(Message.detectVersion(payload), version)
            assert.deepStrictEqual(Message.decodePayload(version, payload), asEnvelope(v.message))
          })
        }

        it("encodes", () => {
          const frame = frameOf(version, v.message)
          if (v.compressed) {
            assert.strictEqual(frame[4], 1, "compressed flag")
            assert.strictEqual(inflatedPayload(frame), inflatedPayload(unhex(frameHex)))
          } else if (v.prefixOnly) {
            assert.strictEqual(hex(frame.subarray(0, frameHex.length / 2)), frameHex)
            assert.strictEqual(frame.length, 5 + 534 + 1)
            assert.strictEqual(frame[frame.length - 1], 0x0a)
          } else {
            assert.strictEqual(hex(frame), frameHex)
          }
        })

        if (v.prefixOnly) {
          it("decodes what it encodes", () => {
            const payload = onePayload(frameOf(version, v.message))
            assert.deepStrictEqual(Message.decodePayload(version, payload), asEnvelope(v.message))
          })
        }
      })
    }
  }

  it("vector 23 is 5011 bytes inflated in both dialects", () => {
    const v23 = vectors.find((v) => v.n === 23)!
    assert.strictEqual(onePayload(unhex(v23.v5)).length, 5011)
    assert.strictEqual(onePayload(unhex(v23.v6)).length, 5011)
  })

  it("the v5 tuples decode through Schema MessageFromTuple to the same message", () => {
    const decodeTuple = Schema.decodeUnknownSync(MessageSchema.MessageFromTuple)
    const expected = (msg: WireMessage): MessageSchema.Message => {
      switch (msg.msg) {
        case 1: {
          const [handler, box] = msg.args as [number, Message.Box]
          return new MessageSchema.Request({ seq: msg.seq, handler, args: box })
        }
        case 2:
          return new MessageSchema.Reply({ seq: msg.seq, value: msg.args as Message.Box })
        case 3:
          return new MessageSchema.Exception({ seq: msg.seq, vinegar: msg.args as typeof MessageSchema.Vinegar.Type })
      }
    }
    for (const v of vectors) {
      const payload = v.prefixOnly
        ? Message.encodePayload(5, v.message.msg, v.message.seq, v.message.args)
        : onePayload(unhex(v.v5))
      assert.deepStrictEqual(decodeTuple(Brine.decode(payload)), expected(v.message), `vector ${v.n}`)
    }
  })
})

// ---------------------------------------------------------------------------------------------
// envelope details

describe("Message envelope", () => {
  it("v5 and v6 payloads of the same message differ only in the first two bytes", () => {
    const v5 = Message.encodePayload(5, 1, 0, [3, [1, []]])
    const v6 = Message.encodePayload(6, 1, 0, [3, [1, []]])
    assert.strictEqual(hex(v5), "1251501153115102")
    assert.strictEqual(hex(v6), "0111501153115102")
  })

  it("seq numbers beyond the immediate range use the int form", () => {
    assert.strictEqual(hex(Message.encodePayload(5, 2, 1000, [1, null])), "1252" + "160431303030" + "115100")
    assert.strictEqual(hex(Message.encodePayload(6, 2, 1000, [1, null])), "0211" + "160431303030" + "115100")
    const decoded = Message.decodePayload(6, unhex("0211160431303030115100"))
    assert.deepStrictEqual(decoded, { msg: 2, seq: 1000, args: [1, null] })
  })

  it("detectVersion tells the dialects apart by the first payload byte", () => {
    assert.strictEqual(Message.detectVersion(unhex("1251501153115102")), 5)
    assert.strictEqual(Message.detectVersion(unhex("0111501153115102")), 6)
    assert.strictEqual(Message.detectVersion(unhex("02115000")), 6)
    assert.strictEqual(Message.detectVersion(unhex("03115851")), 6)
  })

  it("detectVersion refuses any other first byte (UnknownVersion)", () => {
    for (const payload of ["00115000", "04115000", "11515000", "13515000", "50", "ff", ""]) {
      const e = expectThrow(Message.EnvelopeError, () => Message.detectVersion(unhex(payload)))
      assert.strictEqual(e.reason, "UnknownVersion", payload)
    }
    assert.include(expectThrow(Message.EnvelopeError, () => Message.detectVersion(unhex("47"))).message, "0x47")
  })

  it("handlerName names handlers and falls back to #id", () => {
    assert.strictEqual(Message.handlerName(Message.Handler.GETROOT), "GETROOT")
    assert.strictEqual(Message.handlerName(20), "INSTANCECHECK")
    assert.strictEqual(Message.handlerName(99), "#99")
  })
})

describe("Message.decodePayload failures", () => {
  const failure = (version: Message.WireVersion, payloadHex: string): Message.EnvelopeError =>
    expectThrow(Message.EnvelopeError, () => Message.decodePayload(version, unhex(payloadHex)))

  it("a v5 payload that is not a 3-tuple is Malformed", () => {
    for (const payload of ["115152", "1351505100", "51", "02", "0801", "1051"]) {
      assert.strictEqual(failure(5, payload).reason, "Malformed", payload)
    }
  })

  it("a v6 body that is not a 2-tuple is Malformed", () => {
    for (const payload of ["0112505100", "0151", "0102", "011050"]) {
      assert.strictEqual(failure(6, payload).reason, "Malformed", payload)
    }
  })

  it("a v6 payload read as v5 fails (as in a 5.x peer facing 6.x traffic)", () => {
    assert.strictEqual(failure(5, "0111501153115102").reason, "Malformed")
  })

  it("a v5 payload read as v6 fails (as in a 6.x peer facing 5.x traffic)", () => {
    expectThrow(Message.EnvelopeError, () => Message.decodePayload(6, unhex("1251501153115102")))
  })

  it("message type 4 is refused with 'invalid message type: 4'", () => {
    for (const [version, payload] of [[5, "12545000"], [6, "04115000"]] as const) {
      const e = failure(version, payload)
      assert.strictEqual(e.reason, "UnknownMessageType")
      assert.include(e.message, "invalid message type: 4")
    }
    assert.strictEqual(failure(5, "12505000").reason, "UnknownMessageType") // 0
    assert.strictEqual(failure(6, "00115000").reason, "UnknownMessageType") // 0
    assert.strictEqual(failure(5, "12080a315000").reason, "UnknownMessageType") // '1'
  })

  it("a negative or non-integer seq is Malformed", () => {
    for (
      const [version, payload] of [
        [5, "12524f00"], // seq -1
        [6, "02114f00"],
        [5, "125216032d343900"], // seq -49
        [5, "1252183ff800000000000000"], // seq 1.5
        [6, "0211080a3000"], // seq '0'
        [5, "12520000"] // seq None
      ] as const
    ) {
      const e = failure(version, payload)
      assert.strictEqual(e.reason, "Malformed", payload)
      assert.include(e.message, "seq")
    }
  })

  it("broken brine inside the envelope is a BrineError", () => {
    for (const [version, payload] of [[5, "125250"], [6, "0211"], [5, "07"], [6, "021150f0"], [6, ""]] as const) {
      const e = expectThrow(Brine.BrineError, () => Message.decodePayload(version, unhex(payload)))
      assert.include(["Truncated", "UnknownTag"], e.reason)
    }
  })
})

// ---------------------------------------------------------------------------------------------
// properties

const decodeTuple = Schema.decodeUnknownSync(MessageSchema.MessageFromTuple)

/** The Schema's view of a message, flattened back to the hand codec's envelope. */
const envelopeOf = (m: MessageSchema.Message): Message.Envelope => {
  switch (m._tag) {
    case "Request":
      return { msg: 1, seq: m.seq, args: [m.handler, m.args] }
    case "Reply":
      return { msg: 2, seq: m.seq, args: m.value }
    case "Exception":
      return { msg: 3, seq: m.seq, args: m.vinegar }
  }
}

describe("Message properties", () => {
  it.prop(
    "v5: the hand codec agrees with Schema MessageFromTuple",
    [wireMessage],
    ([msg]) => {
      const payload = Message.encodePayload(5, msg.msg, msg.seq, msg.args)
      const hand = Message.decodePayload(5, payload)
      const viaSchema = decodeTuple(Brine.decode(payload))
      assert.deepStrictEqual(hand, envelopeOf(viaSchema))
      assert.deepStrictEqual(hand, asEnvelope(msg))
      // and the Schema's encoding of it is the tuple that was sent
      assert.strictEqual(hex(Brine.encode(Schema.encodeSync(MessageSchema.MessageFromTuple)(viaSchema))), hex(payload))
    },
    { fastCheck: { numRuns: 200 } }
  )

  it.prop(
    "encode → frame → decode round-trips in both dialects",
    [wireMessage],
    ([msg]) => {
      for (const version of [5, 6] as const) {
        const payload = onePayload(frameOf(version, msg))
        assert.strictEqual(Message.detectVersion(payload), version)
        assert.deepStrictEqual(Message.decodePayload(version, payload), asEnvelope(msg))
      }
    },
    { fastCheck: { numRuns: 200 } }
  )

  it.prop("v5 and v6 payloads have the same length and body", [wireMessage], ([msg]) => {
    const v5 = Message.encodePayload(5, msg.msg, msg.seq, msg.args)
    const v6 = Message.encodePayload(6, msg.msg, msg.seq, msg.args)
    assert.strictEqual(hex(v5.subarray(0, 2)), "12" + (0x50 + msg.msg).toString(16))
    assert.strictEqual(hex(v6.subarray(0, 2)), "0" + msg.msg + "11")
    assert.strictEqual(hex(v5.subarray(2)), hex(v6.subarray(2)))
  })
})
