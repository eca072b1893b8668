import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as TestClock from "effect/TestClock"
import * as Registry from "../../src/registry/Registry.js"
import * as RegistryServer from "../../src/registry/RegistryServer.js"
import { hex, unhex } from "./support.js"

const A = { host: "10.0.0.1", port: 18861 }
const B = { host: "10.0.0.2", port: 18861 }
const C = { host: "10.0.0.1", port: 18862 }

describe("registry state", () => {
  it.effect("registers every alias upper-cased and answers queries in any case", () =>
    Effect.gen(function*() {
      const state = yield* RegistryServer.makeState()
      yield* state.register(A.host, ["foo", "Bar"], A.port)
      assert.deepStrictEqual(yield* state.query("FOO"), [A])
      assert.deepStrictEqual(yield* state.query("bar"), [A])
      assert.deepStrictEqual(yield* state.query("baz"), [])
    }))

  it.effect("orders servers oldest keep-alive first, and a refresh moves a server to the end", () =>
    Effect.gen(function*() {
      const state = yield* RegistryServer.makeState()
      yield* state.register(A.host, ["FOO"], A.port)
      yield* TestClock.adjust("1 second")
      yield* state.register(B.host, ["FOO"], B.port)
      yield* TestClock.adjust("1 second")
      yield* state.register(C.host, ["FOO"], C.port)
      assert.deepStrictEqual(yield* state.query("FOO"), [A, B, C])
      yield* TestClock.adjust("1 second")
      yield* state.register(A.host, ["FOO"], A.port) // keep-alive
      assert.deepStrictEqual(yield* state.query("FOO"), [B, C, A])
    }))

  it.effect("keeps registration order for equal timestamps (Python's stable sort over dict order)", () =>
    Effect.gen(function*() {
      const state = yield* RegistryServer.makeState()
      yield* state.register(B.host, ["FOO"], B.port)
      yield* state.register(A.host, ["FOO"], A.port)
      yield* state.register(B.host, ["FOO"], B.port) // refresh at the same instant keeps B's position
      assert.deepStrictEqual(yield* state.query("FOO"), [B, A])
    }))

  it.effect("unregister removes the server from every service, and empty services disappear", () =>
    Effect.gen(function*() {
      const state = yield* RegistryServer.makeState({ allowListing: true })
      yield* state.register(A.host, ["FOO", "BAR"], A.port)
      yield* state.register(B.host, ["FOO"], B.port)
      yield* state.unregister(A.host, A.port)
      assert.deepStrictEqual(yield* state.query("FOO"), [B])
      assert.deepStrictEqual(yield* state.query("BAR"), [])
      assert.deepStrictEqual(yield* state.list(), Option.some(["FOO"]))
      // the same port on another host is another server
      yield* state.unregister("10.9.9.9", B.port)
      assert.deepStrictEqual(yield* state.query("FOO"), [B])
    }))

  it.effect("list: None when listing is disabled (the default)", () =>
    Effect.gen(function*() {
      const state = yield* RegistryServer.makeState()
      yield* state.register(A.host, ["FOO"], A.port)
      assert.deepStrictEqual(yield* state.list(), Option.none())
      assert.deepStrictEqual(yield* state.list(A.host), Option.none())
    }))

  it.effect("list: every service, or only those with a server on the filter host", () =>
    Effect.gen(function*() {
      const state = yield* RegistryServer.makeState({ allowListing: true })
      assert.deepStrictEqual(yield* state.list(), Option.some([]))
      yield* state.register(A.host, ["FOO", "BAR"], A.port)
      yield* state.register(B.host, ["BAZ"], B.port)
      assert.deepStrictEqual(yield* state.list(), Option.some(["FOO", "BAR", "BAZ"]))
      assert.deepStrictEqual(yield* state.list(null), Option.some(["FOO", "BAR", "BAZ"]))
      assert.deepStrictEqual(yield* state.list(A.host), Option.some(["FOO", "BAR"]))
      assert.deepStrictEqual(yield* state.list(B.host), Option.some(["BAZ"]))
      assert.deepStrictEqual(yield* state.list("192.0.2.1"), Option.some([]))
    }))

  it.effect("hooks: added once per new server (not on keep-alives), removed on unregister", () =>
    Effect.gen(function*() {
      const events: Array<string> = []
      const state = yield* RegistryServer.makeState({
        onServiceAdded: (name, a) => Effect.sync(() => events.push(`+${name}@${a.host}:${a.port}`)),
        onServiceRemoved: (name, a) => Effect.sync(() => events.push(`-${name}@${a.host}:${a.port}`))
      })
      yield* state.register(A.host, ["FOO", "BAR"], A.port)
      yield* state.register(A.host, ["FOO"], A.port)
      yield* state.unregister(A.host, A.port)
      yield* state.unregister(A.host, A.port) // nothing left: no hook
      assert.deepStrictEqual(events, [
        "+FOO@10.0.0.1:18861",
        "+BAR@10.0.0.1:18861",
        "-FOO@10.0.0.1:18861",
        "-BAR@10.0.0.1:18861"
      ])
    }))

  it.effect("a failing hook does not break the registry", () =>
    Effect.gen(function*() {
      const state = yield* RegistryServer.makeState({ onServiceAdded: () => Effect.die("boom") })
      yield* state.register(A.host, ["FOO"], A.port)
      assert.deepStrictEqual(yield* state.query("FOO"), [A])
    }))
})

describe("registry pruning (TestClock)", () => {
  it.effect("drops a server once its last keep-alive is older than the timeout (240 s default)", () =>
    Effect.gen(function*() {
      const removed: Array<string> = []
      const state = yield* RegistryServer.makeState({
        onServiceRemoved: (name) => Effect.sync(() => removed.push(name))
      })
      yield* state.register(A.host, ["FOO"], A.port)
      yield* TestClock.adjust("240 seconds")
      // exactly `timeout` old is not stale yet (RPyC compares with `<`)
      assert.deepStrictEqual(yield* state.query("FOO"), [A])
      yield* TestClock.adjust("1 millis")
      assert.deepStrictEqual(yield* state.query("FOO"), [])
      assert.deepStrictEqual(removed, ["FOO"])
      assert.isFalse((yield* state.snapshot).has("FOO"))
    }))

  it.effect("keep-alives keep a server alive past the timeout; silent ones go", () =>
    Effect.gen(function*() {
      const state = yield* RegistryServer.makeState({ pruningTimeout: "10 seconds" })
      yield* state.register(A.host, ["FOO"], A.port)
      yield* state.register(B.host, ["FOO"], B.port)
      for (let i = 0; i < 5; i++) {
        yield* TestClock.adjust("6 seconds")
        yield* state.register(B.host, ["FOO"], B.port)
      }
      assert.deepStrictEqual(yield* state.query("FOO"), [B])
    }))

  it.effect("pruning happens on QUERY of that service (RPyC), on LIST, and on prune", () =>
    Effect.gen(function*() {
      const state = yield* RegistryServer.makeState({ pruningTimeout: "10 seconds", allowListing: true })
      yield* state.register(A.host, ["FOO"], A.port)
      yield* state.register(B.host, ["BAR"], B.port)
      yield* TestClock.adjust("11 seconds")
      yield* state.register(C.host, ["BAZ"], C.port)
      // a query for another service leaves FOO's stale entry in the table
      assert.deepStrictEqual(yield* state.query("BAZ"), [C])
      assert.isTrue((yield* state.snapshot).has("FOO"))
      // LIST prunes before answering: it never offers services QUERY would deny
      assert.deepStrictEqual(yield* state.list(), Option.some(["BAZ"]))
      assert.deepStrictEqual(Array.from((yield* state.snapshot).keys()), ["BAZ"])
      yield* TestClock.adjust("11 seconds")
      yield* state.prune
      assert.strictEqual((yield* state.snapshot).size, 0)
    }))
})

describe("registry requests as bytes (PROTOCOL.md §8.1 vectors through the server logic)", () => {
  const ask = (state: RegistryServer.RegistryState, requestHex: string, from = "127.0.0.1") =>
    Effect.map(RegistryServer.handleBytes(state, unhex(requestHex), from), Option.map(hex))

  it.effect("REGISTER, QUERY, LIST, UNREGISTER produce the captured replies", () =>
    Effect.gen(function*() {
      const state = yield* RegistryServer.makeState({ allowListing: true })
      assert.deepStrictEqual(yield* ask(state, "12080d52505943080e05515545525910080c666f6f"), Option.some("02"))
      assert.deepStrictEqual(
        yield* ask(state, "12080d52505943080e0852454749535445521111080c464f4f080c42415216053132333435"),
        Option.some("080b4f4b")
      )
      assert.deepStrictEqual(
        yield* ask(state, "12080d52505943080e05515545525910080c666f6f"),
        Option.some("1011080e093132372e302e302e3116053132333435")
      )
      assert.deepStrictEqual(
        yield* ask(state, "12080d52505943080d4c495354101000"),
        Option.some("11080c464f4f080c424152")
      )
      assert.deepStrictEqual(
        yield* ask(state, "12080d52505943080d4c4953541010080e093132372e302e302e31"),
        Option.some("11080c464f4f080c424152")
      )
      assert.deepStrictEqual(
        yield* ask(state, "12080d52505943080e0a554e52454749535445521016053132333435"),
        Option.some("080b4f4b")
      )
      assert.deepStrictEqual(yield* ask(state, "12080d52505943080e05515545525910080c666f6f"), Option.some("02"))
    }))

  it.effect("LIST with listing disabled is answered with None", () =>
    Effect.gen(function*() {
      const state = yield* RegistryServer.makeState()
      assert.deepStrictEqual(yield* ask(state, "12080d52505943080d4c495354101000"), Option.some("00"))
    }))

  it.effect("records the source address the request came from", () =>
    Effect.gen(function*() {
      const state = yield* RegistryServer.makeState()
      yield* ask(state, "12080d52505943080e0852454749535445521110080d54494d4516053138383631", "192.0.2.7")
      assert.deepStrictEqual(yield* state.query("time"), [{ host: "192.0.2.7", port: 18861 }])
    }))

  it.effect("garbage gets no reply and changes nothing", () =>
    Effect.gen(function*() {
      const state = yield* RegistryServer.makeState({ allowListing: true })
      for (const garbage of ["", "ff", "12080d52505943", "12080d52505942080e05515545525910080c666f6f", "14ff"]) {
        assert.deepStrictEqual(yield* ask(state, garbage), Option.none())
      }
      assert.strictEqual((yield* state.snapshot).size, 0)
    }))

  it("normalizes IPv4-mapped IPv6 peers", () => {
    assert.strictEqual(RegistryServer.normalizeHost("::ffff:127.0.0.1"), "127.0.0.1")
    assert.strictEqual(RegistryServer.normalizeHost("::1"), "::1")
    assert.strictEqual(RegistryServer.normalizeHost("10.1.2.3"), "10.1.2.3")
  })

  it("constants are exported for servers that auto-register", () => {
    assert.strictEqual(Registry.REGISTRY_PORT, 18811)
  })
})
