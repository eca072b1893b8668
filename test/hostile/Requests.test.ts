/**
 * Requests that a hostile peer can send to a default-config server through safe attributes, and
 * that must fail that request only: the server answers Python's error and keeps serving.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { byRef } from "../../src/internal/engine/Engine.js"
import * as Brine from "../../src/internal/wire/Brine.js"
import { Handler } from "../../src/internal/wire/Message.js"
import * as Operations from "../../src/netref/Operations.js"
import { Service } from "../../src/service/Service.js"
import { connect, remote, serve } from "../support/Peers.js"

class Target extends Service {
  exposed_numbers() {
    return byRef([1, 2, 3])
  }
  exposed_forever() {
    return (function*() {
      let i = 0
      while (true) yield i++
    })()
  }
  exposed_add(a: number, b: number) {
    return a + b
  }
}

const errorOf = <A, E>(effect: Effect.Effect<A, E>) => Effect.flip(effect)

describe("hostile requests against a default-config server", () => {
  it.scoped("a slice with a float step is a TypeError, as in Python (was: the process aborted)", () =>
    Effect.gen(function*() {
      const server = yield* serve(Target)
      const conn = yield* connect(server.port!)
      const numbers = yield* remote(conn.root.numbers())
      for (
        const slice of [new Brine.Slice(0, 3, 1e-300), new Brine.Slice(0.5, 3, 1), new Brine.Slice(0, Infinity, 1)]
      ) {
        const error = yield* errorOf(remote(Operations.getitem(numbers, slice)))
        assert.strictEqual(error._tag, "RemoteError")
        assert.strictEqual((error as { name: string }).name, "TypeError")
      }
      const odd = yield* remote(Operations.getitem(numbers, new Brine.Slice(0, 3, 2)))
      assert.strictEqual(yield* remote(Operations.len(odd)), 2)
      assert.strictEqual(yield* remote(Operations.getitem(odd, 1)), 3)
      assert.strictEqual(yield* remote(conn.root.add(1, 2)), 3)
    }))

  it.scoped("BUFFITER with a float or negative count is a ValueError (was: an endless loop)", () =>
    Effect.gen(function*() {
      const server = yield* serve(Target)
      const conn = yield* connect(server.port!)
      const forever = yield* remote(conn.root.forever())
      for (const count of [Infinity, 2.5, -1]) {
        const error = yield* errorOf(conn.request(Handler.BUFFITER, [forever, count]))
        assert.strictEqual(error._tag, "RemoteError")
        assert.strictEqual((error as { name: string }).name, "ValueError")
      }
      assert.deepStrictEqual(yield* conn.request(Handler.BUFFITER, [forever, 3]), [0, 1, 2])
      assert.strictEqual(yield* remote(conn.root.add(2, 2)), 4)
    }))

  it.scoped("BUFFITER with a huge count on an endless generator answers one message's worth (was: froze the server)", () =>
    Effect.gen(function*() {
      const server = yield* serve(Target, { protocolConfig: { maxValuesPerMessage: 1000 } })
      const conn = yield* connect(server.port!)
      const forever = yield* remote(conn.root.forever())
      const batch = (yield* conn.request(Handler.BUFFITER, [forever, Number.MAX_SAFE_INTEGER])) as Array<number>
      assert.strictEqual(batch.length, 1000)
      assert.strictEqual(batch[999], 999)
      assert.strictEqual(yield* remote(conn.root.add(5, 5)), 10)
    }))
})
