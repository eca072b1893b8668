/**
 * Telemetry metrics after a few calls between a TS client and a TS server in this process: calls
 * and errors by handler and outcome, latency counts, pending requests, live netrefs and bytes, on
 * both sides. Effect's metric registry is per process, so this file holds one test that runs its
 * steps in order: with telemetry off first (nothing recorded), then on.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as Metric from "effect/Metric"
import * as MetricState from "effect/MetricState"
import { Service } from "../../src/service/Service.js"
import * as Telemetry from "../../src/Telemetry.js"
import { eventually } from "../support/Eventually.js"
import { connect, remote, serve, serverConnection } from "../support/Peers.js"

class MeteredService extends Service {
  static override ALIASES = ["METERED"]
  exposed_add(a: number, b: number) {
    return a + b
  }
  exposed_fail(): never {
    throw new RangeError("no such thing")
  }
  exposed_never() {
    return new Promise(() => {})
  }
}

const quiet = Logger.withMinimumLogLevel(LogLevel.Warning)

/** The number a metric holds for exactly these tags (a counter's count, a gauge's value, a histogram's count). */
const valueOf = (name: string, tags: Record<string, string>) =>
  Effect.map(Metric.snapshot, (pairs) => {
    const wanted = Object.entries(tags)
    const pair = pairs.find(({ metricKey }) =>
      metricKey.name === name && metricKey.tags.length === wanted.length &&
      wanted.every(([key, value]) => metricKey.tags.some((t) => t.key === key && t.value === value))
    )
    if (pair === undefined) return undefined
    const state = pair.metricState
    return MetricState.isCounterState(state)
      ? Number(state.count)
      : MetricState.isGaugeState(state)
      ? Number(state.value)
      : MetricState.isHistogramState(state)
      ? state.count
      : undefined
  })

const rpycMetrics = Effect.map(Metric.snapshot, (pairs) => pairs.filter((p) => p.metricKey.name.startsWith("rpyc.")))

const server = { "rpyc.side": "server", "rpyc.service": "METERED" }
const client = { "rpyc.side": "client" }

/** Waits until the metric holds `expected`. */
const expectValue = (name: string, tags: Record<string, string>, expected: number) =>
  eventually(valueOf(name, tags), (v) => v === expected, { what: `${name} ${JSON.stringify(tags)} = ${expected}` })

const calls = Effect.gen(function*() {
  const srv = yield* serve(MeteredService).pipe(quiet)
  const conn = yield* connect(srv.port!)
  for (const i of [1, 2, 3]) assert.strictEqual(yield* remote(conn.root.add(i, 1)), i + 1)
  yield* Effect.flip(remote(conn.root.fail()))
  return { srv, conn }
})

describe("telemetry metrics", () => {
  it.scopedLive("off: nothing recorded; on: calls, errors, latency, pending, netrefs and bytes on both sides", () =>
    Effect.gen(function*() {
      yield* calls.pipe(Effect.scoped)
      assert.deepStrictEqual(yield* rpycMetrics, [])

      const { conn, srv } = yield* calls.pipe(Effect.provide(Telemetry.layer))
      const callattr = { "rpyc.handler": "CALLATTR" }
      assert.strictEqual(yield* valueOf("rpyc.calls", { ...server, ...callattr, "rpyc.outcome": "success" }), 3)
      assert.strictEqual(
        yield* valueOf("rpyc.calls", { ...server, "rpyc.handler": "GETROOT", "rpyc.outcome": "success" }),
        1
      )
      assert.strictEqual(yield* valueOf("rpyc.calls", { ...server, ...callattr, "rpyc.outcome": "ValueError" }), 1)
      assert.strictEqual(yield* valueOf("rpyc.errors", { ...server, ...callattr, "rpyc.outcome": "ValueError" }), 1)
      assert.strictEqual(
        yield* valueOf("rpyc.errors", { ...server, ...callattr, "rpyc.outcome": "success" }),
        undefined
      )
      assert.strictEqual(yield* valueOf("rpyc.call.duration", { ...server, ...callattr }), 4)
      assert.strictEqual(yield* valueOf("rpyc.calls", { ...client, ...callattr, "rpyc.outcome": "success" }), 3)
      assert.strictEqual(yield* valueOf("rpyc.errors", { ...client, ...callattr, "rpyc.outcome": "ValueError" }), 1)
      assert.strictEqual(yield* valueOf("rpyc.call.duration", { ...client, ...callattr }), 4)
      assert.strictEqual(yield* valueOf("rpyc.pending", client), 0)
      assert.strictEqual(yield* valueOf("rpyc.pending", server), 0)
      // the client holds the server's root
      assert.strictEqual(yield* valueOf("rpyc.netrefs", client), 1)

      // a call in flight is pending on both sides; its caller giving up ends it on the client only
      const waiting = yield* Effect.fork(remote(conn.root.never()))
      yield* expectValue("rpyc.pending", client, 1)
      yield* expectValue("rpyc.pending", server, 1)
      yield* Fiber.interrupt(waiting)
      assert.strictEqual(yield* valueOf("rpyc.pending", client), 0)
      assert.strictEqual(yield* valueOf("rpyc.calls", { ...client, ...callattr, "rpyc.outcome": "interrupted" }), 1)
      assert.strictEqual(yield* valueOf("rpyc.pending", server), 1)

      // closing ends what the server was still handling, and forgets the netrefs
      const accepted = yield* serverConnection(srv)
      yield* conn.close()
      yield* accepted.awaitClose
      assert.strictEqual(yield* valueOf("rpyc.pending", server), 0)
      assert.strictEqual(yield* valueOf("rpyc.calls", { ...server, ...callattr, "rpyc.outcome": "closed" }), 1)
      assert.strictEqual(yield* valueOf("rpyc.netrefs", client), 0)

      // every byte one side wrote, the other read
      const clientSent = (yield* valueOf("rpyc.bytes.sent", client))!
      const serverSent = (yield* valueOf("rpyc.bytes.sent", server))!
      assert.isAbove(clientSent, 0)
      assert.isAbove(serverSent, 0)
      assert.strictEqual(yield* valueOf("rpyc.bytes.received", server), clientSent)
      assert.strictEqual(yield* valueOf("rpyc.bytes.received", client), serverSent)
    }))
})
