/**
 * The engine's limits (protocol config keys with safe defaults): a peer that hits one gets a
 * clear error, and only its own request or connection suffers.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Net from "node:net"
import * as Message from "../../src/internal/wire/Message.js"
import { Service } from "../../src/service/Service.js"
import { eventually } from "../support/Eventually.js"
import { connect, remote, serve } from "../support/Peers.js"
import { connectRaw, decode, exceptionClass, requestFrame } from "../support/RawPeer.js"

const { Handler, Label, MsgType } = Message

class Target extends Service {
  exposed_add(a: number, b: number) {
    return a + b
  }
  exposed_count(items: ReadonlyArray<unknown>) {
    return items.length
  }
  exposed_wait(millis: number) {
    return new Promise((resolve) => setTimeout(() => resolve(millis), millis))
  }
}

describe("limits", () => {
  it.scopedLive("maxRefsPerMessage: a request with too many references fails alone", () =>
    Effect.gen(function*() {
      const server = yield* serve(Target, { protocolConfig: { maxRefsPerMessage: 100 } })
      const conn = yield* connect(server.port!)
      // the root the call goes to is a reference too: 1 + 100 objects is one too many
      const objects = Array.from({ length: 100 }, () => ({}))
      const error = yield* Effect.flip(remote(conn.root.count(objects)))
      assert.strictEqual(error._tag, "RemoteError")
      assert.match(String(error), /maxRefsPerMessage/)
      assert.strictEqual(yield* remote(conn.root.count(objects.slice(0, 99))), 99)
      assert.strictEqual(yield* remote(conn.root.add(1, 1)), 2)
    }))

  it.scopedLive("maxValuesPerMessage: a message of too many values closes that connection only", () =>
    Effect.gen(function*() {
      const server = yield* serve(Target, { protocolConfig: { maxValuesPerMessage: 1000 } })
      const honest = yield* connect(server.port!)
      const attacker = yield* connectRaw(server.port!)
      const values = Array.from({ length: 2000 }, (_, i) => [Label.VALUE, i])
      yield* attacker.write(requestFrame(5, 1, Handler.PING, [Label.TUPLE, values]))
      yield* attacker.closed
      assert.strictEqual(yield* remote(honest.root.add(2, 2)), 4)
    }))

  it.scopedLive("maxConcurrentRequests: requests over the limit fail at once, the others complete", () =>
    Effect.gen(function*() {
      const server = yield* serve(Target, { protocolConfig: { maxConcurrentRequests: 5 } })
      const conn = yield* connect(server.port!)
      const results = yield* Effect.all(
        Array.from({ length: 8 }, () => Effect.either(remote(conn.root.wait(200)))),
        { concurrency: "unbounded" }
      )
      const failed = results.filter((r) => r._tag === "Left")
      assert.strictEqual(results.length - failed.length, 5)
      assert.strictEqual(failed.length, 3)
      for (const f of failed) assert.match(String(f.left), /maxConcurrentRequests/)
      assert.strictEqual(yield* remote(conn.root.add(3, 3)), 6)
    }))

  it.scopedLive("a peer that is not RPyC at all is named as such, with its first bytes", () =>
    Effect.gen(function*() {
      const server = yield* serve(Target)
      const attacker = yield* connectRaw(server.port!)
      yield* attacker.write(new TextEncoder().encode("GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
      yield* attacker.closed
      // the server logs the ProtocolError; its detail says what the peer was
      const honest = yield* connect(server.port!)
      assert.strictEqual(yield* remote(honest.root.add(1, 2)), 3)
    }))

  it.scopedLive("a client reaching something that is not RPyC says so, with the first bytes", () =>
    Effect.gen(function*() {
      const http = yield* Effect.acquireRelease(
        Effect.async<Net.Server>((resume) => {
          const s = Net.createServer((socket) => socket.resume().end("HTTP/1.1 400 Bad Request\r\n\r\n"))
          s.listen(0, "127.0.0.1", () => resume(Effect.succeed(s)))
        }),
        (s) =>
          Effect.async<void>((resume) => {
            s.close(() => resume(Effect.void))
          })
      )
      const port = (http.address() as Net.AddressInfo).port
      const error = yield* Effect.flip(
        Effect.flatMap(connect(port, { wireVersion: 5 }), (conn) => remote(conn.root.add(1, 1)))
      )
      assert.match(String(error), /not an RPyC (server|peer)/)
      assert.match(String(error), /HTTP\/1\.1 400/)
    }))

  it.scopedLive("DELs the peer never answers are forgotten after delReplyTimeout", () =>
    Effect.gen(function*() {
      const server = yield* serve(Target)
      const raw = yield* connectRaw(server.port!)
      // a client that asks for the root, then never answers the server's requests
      yield* raw.write(requestFrame(5, 1, Handler.GETROOT, [Label.TUPLE, []]))
      const reply = decode(5, Option.getOrThrow(yield* raw.nextPayload))
      assert.strictEqual(reply.msg, MsgType.REPLY)
      assert.isDefined(exceptionClass)
      yield* eventually(() => server.connections.size === 1, "the raw client is served")
    }))
})
