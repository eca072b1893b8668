/**
 * A TCP server serves a connection with no fiber of its own when it can (a service without an
 * `onConnect` hook, over a plain socket): what such a connection must still do as one served by a
 * fiber — its handlers' Effects see the raw socket, RPyC's log lines, leaving `connections` when it
 * ends, being closed by the server's shutdown — and the connections that still need a fiber.
 */
import * as NodeSocket from "@effect/platform-node/NodeSocket"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Scope from "effect/Scope"
import * as Client from "../../src/client/Client.js"
import * as Logging from "../../src/Logging.js"
import * as Server from "../../src/server/Server.js"
import { Service } from "../../src/service/Service.js"
import { eventually } from "../support/Eventually.js"

class PlainService extends Service {
  exposed_add(a: number, b: number) {
    return a + b
  }
  /** An Effect run for the request: what the connection's handlers see of their socket. */
  exposed_peer_port() {
    return Effect.map(NodeSocket.NetSocket, (raw) => raw.remotePort ?? -1)
  }
}

/** Its `onConnect` is set on each instance, not on the class: only an instance tells. */
class InstanceHookService extends Service {
  connected = 0
  constructor() {
    super()
    Object.assign(this, {
      onConnect: () => {
        this.connected++
      }
    })
  }
  exposed_connected() {
    return this.connected
  }
}

const withLogs = () => {
  const lines: Array<string> = []
  return { lines, layer: Logging.layer((line) => void lines.push(line)) }
}

describe("a TCP server's connections without a fiber", () => {
  it.scopedLive("answer calls; a handler's Effect sees the raw socket; accepted, welcome, goodbye are logged", () =>
    Effect.gen(function*() {
      const logs = withLogs()
      const server = yield* Server.make(PlainService, { port: 0 }).pipe(Effect.provide(logs.layer))
      yield* Effect.scoped(Effect.gen(function*() {
        const conn = yield* Client.connect({ port: server.port! })
        assert.strictEqual(yield* conn.root.add(2, 3), 5)
        const [served] = [...server.connections]
        assert.strictEqual(server.connections.size, 1)
        const peer = (served.config.endpoints as [string, string])[1]
        assert.strictEqual(`127.0.0.1:${yield* conn.root.peer_port()}`, peer)
      }))
      yield* eventually(() => server.connections.size === 0, "the server let the connection go")
      yield* eventually(() => logs.lines.some((l) => l.includes("goodbye 127.0.0.1:")), "goodbye is logged")
      const text = logs.lines.join("")
      for (const line of ["accepted 127.0.0.1:", "welcome 127.0.0.1:", "goodbye 127.0.0.1:"]) {
        assert.include(text, line)
      }
    }))

  it.scopedLive("are closed by the server's shutdown: the client's calls then fail with ConnectionClosed", () =>
    Effect.gen(function*() {
      const serverScope = yield* Scope.make()
      const server = yield* Server.make(PlainService, { port: 0 }).pipe(Scope.extend(serverScope))
      const conns = yield* Effect.forEach([1, 2, 3], () => Client.connect({ port: server.port! }))
      for (const conn of conns) assert.strictEqual(yield* conn.root.add(1, 1), 2)
      assert.strictEqual(server.connections.size, 3)
      yield* Scope.close(serverScope, Exit.void)
      assert.strictEqual(server.connections.size, 0)
      for (const conn of conns) {
        const error = yield* Effect.flip(conn.root.add(1, 1))
        assert.strictEqual(error._tag, "ConnectionClosed")
      }
    }))

  it.scopedLive("a service whose instances carry an onConnect hook is served by a fiber, hook run", () =>
    Effect.gen(function*() {
      const server = yield* Server.make(InstanceHookService, { port: 0 })
      const conn = yield* Client.connect({ port: server.port! })
      assert.strictEqual(yield* conn.root.connected(), 1)
      assert.strictEqual(server.connections.size, 1)
    }))
})
