import { assert, describe, it } from "@effect/vitest"
import * as Duration from "effect/Duration"
import * as Option from "effect/Option"
import * as Brine from "../../src/internal/wire/Brine.js"
import * as Registry from "../../src/registry/Registry.js"
import { hex, unhex } from "./support.js"

// PROTOCOL.md §8.1, captured against a real RPyC 5.3.0 registry
const V = {
  register: "12080d52505943080e0852454749535445521111080c464f4f080c42415216053132333435",
  ok: "080b4f4b",
  query: "12080d52505943080e05515545525910080c666f6f",
  queryReply: "1011080e093132372e302e302e3116053132333435",
  emptyReply: "02",
  listAll: "12080d52505943080d4c495354101000",
  listReply: "11080c464f4f080c424152",
  listDisabled: "00",
  listFiltered: "12080d52505943080d4c4953541010080e093132372e302e302e31",
  unregister: "12080d52505943080e0a554e52454749535445521016053132333435",
  registerTime: "12080d52505943080e0852454749535445521110080d54494d4516053138383631"
} as const

describe("Registry codec: PROTOCOL.md §8.1 request vectors", () => {
  const requests: ReadonlyArray<readonly [string, Registry.Request, string]> = [
    ["REGISTER (FOO, BAR) 12345", Registry.Request.Register({ aliases: ["FOO", "BAR"], port: 12345 }), V.register],
    ["QUERY foo", Registry.Request.Query({ name: "foo" }), V.query],
    ["LIST (None,)", Registry.Request.List({ filterHost: null }), V.listAll],
    ["LIST ('127.0.0.1',)", Registry.Request.List({ filterHost: "127.0.0.1" }), V.listFiltered],
    ["UNREGISTER 12345", Registry.Request.Unregister({ port: 12345 }), V.unregister],
    ["REGISTER (TIME,) 18861", Registry.Request.Register({ aliases: ["TIME"], port: 18861 }), V.registerTime]
  ]
  for (const [name, request, vector] of requests) {
    it(`encodes ${name} byte for byte`, () => {
      assert.strictEqual(hex(Registry.encodeRequest(request)), vector)
    })
    it(`decodes ${name}`, () => {
      assert.deepStrictEqual(Registry.decodeRequest(unhex(vector)), Option.some(request))
    })
  }
})

describe("Registry codec: PROTOCOL.md §8.1 reply vectors", () => {
  it("'OK'", () => {
    assert.isTrue(Registry.isOkReply(unhex(V.ok)))
    assert.strictEqual(hex(Brine.encode(Registry.OK)), V.ok)
    assert.isFalse(Registry.isOkReply(unhex("080b4e4f"))) // 'NO'
    assert.isFalse(Registry.isOkReply(unhex("ff")))
  })

  it("query reply (('127.0.0.1', 12345),)", () => {
    assert.deepStrictEqual(
      Registry.decodeQueryReply(unhex(V.queryReply)),
      Option.some([{ host: "127.0.0.1", port: 12345 }])
    )
    assert.strictEqual(hex(Brine.encode(Registry.queryReplyValue([{ host: "127.0.0.1", port: 12345 }]))), V.queryReply)
  })

  it("query reply () for an unknown service", () => {
    assert.deepStrictEqual(Registry.decodeQueryReply(unhex(V.emptyReply)), Option.some([]))
    assert.strictEqual(hex(Brine.encode(Registry.queryReplyValue([]))), V.emptyReply)
  })

  it("list reply ('FOO', 'BAR')", () => {
    assert.deepStrictEqual(Registry.decodeListReply(unhex(V.listReply)), Option.some(Option.some(["FOO", "BAR"])))
    assert.strictEqual(hex(Brine.encode(Registry.listReplyValue(Option.some(["FOO", "BAR"])))), V.listReply)
  })

  it("list reply None when listing is disabled", () => {
    assert.deepStrictEqual(Registry.decodeListReply(unhex(V.listDisabled)), Option.some(Option.none()))
    assert.strictEqual(hex(Brine.encode(Registry.listReplyValue(Option.none()))), V.listDisabled)
  })

  it("refuses replies of the wrong shape", () => {
    assert.isTrue(Option.isNone(Registry.decodeQueryReply(unhex(V.listReply)))) // names, not addresses
    assert.isTrue(Option.isNone(Registry.decodeQueryReply(unhex("10115152")))) // ((1, 2),)
    assert.isTrue(Option.isNone(Registry.decodeQueryReply(unhex("1011080a6116063939393939393939")))) // port too big
    assert.isTrue(Option.isNone(Registry.decodeQueryReply(unhex("1011080e09313237")))) // truncated
    assert.isTrue(Option.isNone(Registry.decodeListReply(unhex("115152")))) // (1, 2)
    assert.isTrue(Option.isNone(Registry.decodeListReply(unhex(V.ok))))
  })
})

describe("Registry codec: requests a registry must ignore", () => {
  const enc = (v: Brine.Value) => Brine.encode(v)
  const cases: ReadonlyArray<readonly [string, Uint8Array]> = [
    ["empty datagram", new Uint8Array(0)],
    ["unknown brine tag", unhex("ff")],
    ["truncated REGISTER", unhex(V.register).subarray(0, 20)],
    ["tuple count larger than the data", unhex("14ff0000")],
    ["long-int length larger than the data", unhex("17ffffffff")],
    ["not a tuple", enc("RPYC")],
    ["2-tuple", enc(["RPYC", "QUERY"])],
    ["magic as bytes", enc([new TextEncoder().encode("RPYC"), "QUERY", ["foo"]])],
    ["wrong magic", enc(["RPYB", "QUERY", ["foo"]])],
    ["unknown command", enc(["RPYC", "DELETE", ["foo"]])],
    ["command as bytes", enc(["RPYC", new TextEncoder().encode("QUERY"), ["foo"]])],
    ["args not a tuple", enc(["RPYC", "QUERY", "foo"])],
    ["QUERY with a non-str name", enc(["RPYC", "QUERY", [42]])],
    ["QUERY with two args", enc(["RPYC", "QUERY", ["a", "b"]])],
    ["REGISTER with a non-str alias", enc(["RPYC", "REGISTER", [["FOO", 1], 18861]])],
    ["REGISTER with aliases as a str", enc(["RPYC", "REGISTER", ["FOO", 18861]])],
    ["REGISTER with a negative port", enc(["RPYC", "REGISTER", [["FOO"], -1]])],
    ["REGISTER with a port above 65535", enc(["RPYC", "REGISTER", [["FOO"], 65536]])],
    ["REGISTER with a float port", enc(["RPYC", "REGISTER", [["FOO"], 1.5]])],
    ["REGISTER with a huge port", enc(["RPYC", "REGISTER", [["FOO"], 10n ** 30n]])],
    ["UNREGISTER with a str port", enc(["RPYC", "UNREGISTER", ["18861"]])],
    ["LIST with a bare filter", enc(["RPYC", "LIST", ["127.0.0.1"]])],
    ["LIST with an empty filter tuple", enc(["RPYC", "LIST", [[]]])],
    ["LIST with an int filter", enc(["RPYC", "LIST", [[5]]])],
    ["deeply nested tuples", unhex("10".repeat(1400) + "02")]
  ]
  for (const [name, bytes] of cases) {
    it(name, () => {
      assert.isTrue(Option.isNone(Registry.decodeRequest(bytes)))
    })
  }

  it("matches commands case-insensitively, as RPyC does", () => {
    assert.deepStrictEqual(
      Registry.decodeRequest(enc(["RPYC", "query", ["foo"]])),
      Option.some(Registry.Request.Query({ name: "foo" }))
    )
  })

  it("treats an empty filter host as no filter (Python tests its truthiness)", () => {
    assert.deepStrictEqual(
      Registry.decodeRequest(enc(["RPYC", "LIST", [[""]]])),
      Option.some(Registry.Request.List({ filterHost: null }))
    )
  })

  it("ignores trailing bytes after the request, as brine.load does", () => {
    const padded = new Uint8Array([...unhex(V.query), 0xff, 0xff])
    assert.deepStrictEqual(Registry.decodeRequest(padded), Option.some(Registry.Request.Query({ name: "foo" })))
  })

  it("tells complete values from truncated ones", () => {
    const full = unhex(V.register)
    for (let n = 0; n < full.length; n++) assert.isFalse(Registry.isComplete(full.subarray(0, n)), `prefix ${n}`)
    assert.isTrue(Registry.isComplete(full))
    assert.isTrue(Registry.isComplete(unhex("ff"))) // never valid: stop waiting
  })
})

describe("Registry helpers", () => {
  it("pyRepr writes Python's repr of a str", () => {
    assert.strictEqual(Registry.pyRepr("FOO"), "'FOO'")
    assert.strictEqual(Registry.pyRepr("it's"), "\"it's\"")
    assert.strictEqual(Registry.pyRepr("a\\b\n"), "'a\\\\b\\n'")
    assert.strictEqual(Registry.pyRepr("\u0001"), "'\\x01'")
  })

  it("constants match RPyC", () => {
    assert.strictEqual(Registry.REGISTRY_PORT, 18811)
    assert.strictEqual(Registry.MAX_DGRAM_SIZE, 1500)
    assert.strictEqual(Duration.toMillis(Registry.DEFAULT_PRUNING_TIMEOUT), 240_000)
    assert.strictEqual(Duration.toMillis(Registry.REREGISTER_INTERVAL), 60_000)
  })
})
