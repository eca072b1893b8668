/**
 * Ordering and load over real TCP: 10,000 async calls in flight on one connection, and async
 * requests completing out of order.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import { async_, timed } from "../../src/async/Async.js"
import * as Client from "../../src/client/Client.js"
import { remote, serve } from "../support/Peers.js"
import { AsyncTestService } from "./support.js"

/** Server logs only at warning level and above. */
const quiet = Logger.withMinimumLogLevel(LogLevel.Warning)

const connect = Effect.gen(function*() {
  const service = new AsyncTestService()
  const server = yield* serve(service).pipe(quiet)
  const client = yield* Client.connect({ host: "127.0.0.1", port: server.port! })
  return { service, client }
})

describe("load and ordering (TCP)", () => {
  it.scopedLive(
    "10,000 async calls in flight on one connection complete with the right values",
    () =>
      Effect.gen(function*() {
        const { client, service } = yield* connect
        const aecho = async_(yield* remote(client.root.echo))
        const N = 10_000
        const started = Date.now()
        const results = Array.from({ length: N }, (_, i) => aecho(i))
        // every request was sent before any reply was read
        assert.isAtLeast(client.pendingCount, N)
        assert.isTrue(results.every((r) => !r.ready))
        const values = yield* Effect.forEach(results, (r) => r.value)
        const millis = Date.now() - started
        assert.deepStrictEqual(values, Array.from({ length: N }, (_, i) => i))
        assert.isTrue(results.every((r) => r.ready && !r.error && !r.expired))
        assert.strictEqual(service.calls, N)
        assert.strictEqual(client.pendingCount, 0)
        console.log(`10,000 async echo calls in flight: ${millis} ms`)
      }),
    60_000
  )

  it.scopedLive(
    "10,000 timed calls (each with an Effect.timeout expiry) complete in time",
    () =>
      Effect.gen(function*() {
        const { client } = yield* connect
        const techo = timed(yield* remote(client.root.echo), 60)
        const results = Array.from({ length: 10_000 }, (_, i) => techo(i))
        const values = yield* Effect.forEach(results, (r) => r.value)
        assert.strictEqual(values.length, 10_000)
        assert.isTrue(values.every((v, i) => v === i))
        assert.isTrue(results.every((r) => r.ready && !r.expired))
      }),
    60_000
  )

  it.scopedLive("async requests may complete out of order", () =>
    Effect.gen(function*() {
      const { client } = yield* connect
      const delayed = async_(yield* remote(client.root.delayed))
      const order: Array<string> = []
      // sent in the order slow, medium, fast; a TS peer serves them concurrently
      const slow = delayed("slow", 300).addCallback(() => order.push("slow"))
      const medium = delayed("medium", 150).addCallback(() => order.push("medium"))
      const fast = delayed("fast", 0).addCallback(() => order.push("fast"))
      assert.deepStrictEqual(yield* Effect.all([slow.value, medium.value, fast.value]), ["slow", "medium", "fast"])
      assert.deepStrictEqual(order, ["fast", "medium", "slow"])
    }))
})
