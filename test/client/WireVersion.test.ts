/**
 * Clients talk to whatever RPyC they reach (issue #11): `wireVersion` defaults to "auto" over TCP,
 * the probe costs at most one connection per endpoint, an explicit version that does not match the
 * server's fails with a message naming both, and connection failures name the address and the OS
 * reason.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Client from "../../src/client/Client.js"
import * as rpyc from "../../src/index.js"
import * as OneShot from "../../src/server/OneShot.js"
import { Service } from "../../src/service/Service.js"
import * as Tcp from "../../src/transport/Tcp.js"
import { TIMEOUT } from "../support/Child.js"
import * as Peers from "../support/Peers.js"
import { remote } from "../support/Peers.js"
import { freePort } from "../support/Ports.js"
import { describePython } from "../support/Python.js"

/** A service that counts the connections its server accepted (the probe's included). */
const counting = () => {
  const counter = { connections: 0 }
  class CountingService extends Service {
    override onConnect() {
      counter.connections++
    }
    exposed_add(a: number, b: number) {
      return a + b
    }
  }
  return { counter, CountingService }
}

describe("wireVersion \"auto\" by default", () => {
  it.scopedLive("a default client talks to a TS server speaking v6 only", () =>
    Effect.gen(function*() {
      const { CountingService } = counting()
      const server = yield* Peers.serve(CountingService, { wireVersion: 6 })
      const conn = yield* Client.connect({ host: "127.0.0.1", port: server.port! })
      assert.strictEqual(conn.wireVersion, 6)
      assert.strictEqual(yield* remote(conn.root.add(20, 22)), 42)
    }))

  it.scopedLive("a default client talks to a TS server speaking v5 only", () =>
    Effect.gen(function*() {
      const { CountingService } = counting()
      const server = yield* Peers.serve(CountingService, { wireVersion: 5 })
      const conn = yield* Client.connect({ host: "127.0.0.1", port: server.port! })
      assert.strictEqual(conn.wireVersion, 5)
      assert.strictEqual(yield* remote(conn.root.add(1, 2)), 3)
    }))

  it.scopedLive("the probe happens once per endpoint, for sequential and concurrent connections", () =>
    Effect.gen(function*() {
      const { counter, CountingService } = counting()
      const server = yield* Peers.serve(CountingService, { wireVersion: 6 })
      // concurrent first connections share one probe
      const first = yield* Effect.all(
        Array.from({ length: 4 }, () => Client.connect({ host: "127.0.0.1", port: server.port! })),
        { concurrency: "unbounded" }
      )
      for (const conn of first) assert.strictEqual(yield* remote(conn.root.add(1, 1)), 2)
      // later ones use the remembered answer
      const later = yield* Client.connect({ host: "127.0.0.1", port: server.port! })
      assert.strictEqual(yield* remote(later.root.add(2, 2)), 4)
      assert.strictEqual(counter.connections, 4 + 1 + 1, "5 connections and 1 probe")
    }))

  it.scopedLive("a one-shot server does not spend its one connection on the probe", () =>
    Effect.gen(function*() {
      const { CountingService } = counting()
      const server = yield* OneShot.make(CountingService, { host: "127.0.0.1", port: 0 })
      yield* Effect.scoped(Effect.gen(function*() {
        const conn = yield* Client.connect({ host: "127.0.0.1", port: server.port! })
        assert.strictEqual(yield* remote(conn.root.add(20, 22)), 42)
      }))
      yield* server.done
    }))
})

describe("an explicit version that does not match the server", () => {
  for (const [server, client] of [[6, 5], [5, 6]] as const) {
    it.scopedLive(`a v${server} server and a client set to ${client}: the message says what to set`, () =>
      Effect.gen(function*() {
        const { CountingService } = counting()
        const s = yield* Peers.serve(CountingService, { wireVersion: server })
        const conn = yield* Peers.connect(s.port!, { wireVersion: client })
        const error = yield* Effect.flip(remote(conn.root.add(1, 1)))
        assert.strictEqual(error._tag, "ConnectionClosed")
        assert.include(
          error.message,
          `the server at 127.0.0.1:${s.port} speaks RPyC ${server} (wire v${server}) but this client was set to ` +
            `wireVersion: ${client}; use wireVersion: "auto" or ${server}`
        )
      }))
  }
})

describePython("against Python RPyC 5.3's rpyc_classic", () => {
  it.scopedLive("a default client probes, picks v5 and works", () =>
    Effect.gen(function*() {
      const { port } = yield* Peers.pythonClassic
      const conn = yield* Client.connect({ host: "127.0.0.1", port: port })
      assert.strictEqual(conn.wireVersion, 5)
      assert.strictEqual(yield* remote(conn.root.eval("6 * 7")), 42)
    }), TIMEOUT)

  it.scopedLive("a client set to wireVersion 6 is told the server speaks RPyC 5", () =>
    Effect.gen(function*() {
      const { port } = yield* Peers.pythonClassic
      const conn = yield* Peers.connect(port, { wireVersion: 6 })
      const error = yield* Effect.flip(remote(conn.root.eval("1")))
      assert.include(
        error.message,
        `the server at 127.0.0.1:${port} speaks RPyC 5 (wire v5) but this client was set to wireVersion: 6; ` +
          `use wireVersion: "auto" or 5`
      )
    }), TIMEOUT)
})

describe("connection failures name the address and the OS reason", () => {
  for (const wireVersion of ["auto", 5] as const) {
    it.scopedLive(`a closed port: ECONNREFUSED (wireVersion ${wireVersion})`, () =>
      Effect.gen(function*() {
        const port = yield* freePort("tcp", "127.0.0.1")
        const error = yield* Effect.flip(Peers.connect(port, { wireVersion }))
        assert.strictEqual(error._tag, "SocketError", "still a Socket.SocketError")
        assert.instanceOf(error, Tcp.ConnectError)
        assert.strictEqual((error as Tcp.ConnectError).code, "ECONNREFUSED")
        assert.strictEqual(error.message, `cannot connect to 127.0.0.1:${port}: connection refused (ECONNREFUSED)`)
        assert.strictEqual(String(error), `ConnectError: ${error.message}`)
      }))
  }

  it.scopedLive("an unknown host: ENOTFOUND", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(Client.connect({ host: "no-such-host.invalid", port: 18812 }))
      assert.instanceOf(error, Tcp.ConnectError)
      assert.include(error.message, "cannot connect to no-such-host.invalid:18812:")
      assert.include(error.message, "ENOTFOUND")
    }))

  it.live("rpyc.connect rejects with the same error", () =>
    Effect.gen(function*() {
      const port = yield* freePort("tcp", "127.0.0.1")
      const error = yield* Effect.promise(() => rpyc.connect("127.0.0.1", port).then(() => undefined, (e) => e))
      assert.instanceOf(error, Error)
      assert.include(String(error), `127.0.0.1:${port}`)
      assert.include(String(error), "ECONNREFUSED")
      assert.notInclude(String(error), "An error occurred")
    }))
})
