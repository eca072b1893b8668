import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import * as Udp from "../../src/transport/Udp.js"

describe("Udp", () => {
  it.scopedLive("sends and receives datagrams on 127.0.0.1, with the sender's address", () =>
    Effect.gen(function*() {
      const a = yield* Udp.make({ address: "127.0.0.1" })
      const b = yield* Udp.make({ address: "127.0.0.1" })
      assert.strictEqual(a.address.address, "127.0.0.1")
      assert.strictEqual(a.address.family, "IPv4")
      yield* a.send(new Uint8Array([1, 2, 3]), b.address.port, "127.0.0.1")
      const got = yield* Stream.runHead(b.messages)
      assert.isTrue(Option.isSome(got))
      const d = Option.getOrThrow(got)
      assert.deepStrictEqual(Array.from(d.data), [1, 2, 3])
      assert.strictEqual(d.port, a.address.port)
      assert.strictEqual(d.address, "127.0.0.1")
    }))

  it.scopedLive("IPv6 loopback", () =>
    Effect.gen(function*() {
      const a = yield* Udp.make({ type: "udp6", address: "::1" })
      const b = yield* Udp.make({ type: "udp6", address: "::1" })
      assert.strictEqual(b.address.family, "IPv6")
      yield* a.send(new Uint8Array([9]), b.address.port, "::1")
      const d = Option.getOrThrow(yield* Stream.runHead(b.messages))
      assert.strictEqual(d.address, "::1")
    }))

  it.scopedLive("fails with Bind on a port in use and Send on a bad port; setBroadcast works once bound", () =>
    Effect.gen(function*() {
      const a = yield* Udp.make({ address: "127.0.0.1" })
      const bind = yield* Effect.flip(Udp.make({ address: "127.0.0.1", port: a.address.port }))
      assert.strictEqual(bind.reason, "Bind")
      const send = yield* Effect.flip(a.send(new Uint8Array([1]), 0, "127.0.0.1"))
      assert.strictEqual(send.reason, "Send")
      yield* a.setBroadcast(true)
    }))

  it.scopedLive("the messages stream ends when the scope closes", () =>
    Effect.gen(function*() {
      const messages = yield* Effect.scoped(Effect.map(Udp.make({ address: "127.0.0.1" }), (s) => s.messages))
      assert.isTrue(Option.isNone(yield* Stream.runHead(messages)))
    }))

  it.scopedLive("as a layer", () =>
    Effect.gen(function*() {
      const socket = yield* Udp.Udp
      assert.isAbove(socket.address.port, 0)
    }).pipe(Effect.provide(Udp.layer({ address: "127.0.0.1" }))))
})
