/**
 * One server, 1,000 connections open at once, all calling at the same time: every call is answered
 * with its own result, nothing fails, and every connection is gone on both sides afterwards. (How
 * fast is the benchmark suite's business: `npm run bench -- --paths scale`.)
 *
 * Server and clients share this process: about 2,000 descriptors, under the machine's limit (the
 * test says so plainly when `ulimit -n` is lower).
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Scope from "effect/Scope"
import * as ChildProcess from "node:child_process"
import { Service } from "../../src/service/Service.js"
import { eventually } from "../support/Eventually.js"
import { connect, remote, serve } from "../support/Peers.js"

const CONNECTIONS = 1_000
const CALLS_EACH = 3

class CountingService extends Service {
  calls = 0
  exposed_add(a: number, b: number) {
    this.calls++
    return a + b
  }
}

/** The soft limit on open descriptors of this process's shell, or undefined where it cannot be read. */
const openFileLimit = (): number | undefined => {
  const out = ChildProcess.spawnSync("sh", ["-c", "ulimit -n"], { encoding: "utf8" }).stdout?.trim()
  const n = Number(out)
  return out === "unlimited" ? Infinity : Number.isFinite(n) ? n : undefined
}

describe("many connections to one server", () => {
  it.scopedLive(
    `${CONNECTIONS} connections calling at once: every call answered, every connection closed`,
    () =>
      Effect.gen(function*() {
        const limit = openFileLimit()
        assert.isTrue(
          limit === undefined || limit >= 2 * CONNECTIONS + 200,
          `ulimit -n is ${limit}: this test needs about ${2 * CONNECTIONS + 200} descriptors`
        )
        const instances: Array<CountingService> = []
        class Counted extends CountingService {
          constructor() {
            super()
            instances.push(this)
          }
        }
        const server = yield* serve(Counted, { backlog: 2 * CONNECTIONS })
        const clients = yield* Scope.make()

        // open them all at once, then have each make its calls, all in flight together
        const conns = yield* Effect.forEach(
          Array.from({ length: CONNECTIONS }, (_, i) => i),
          () => Scope.extend(connect(server.port!), clients),
          { concurrency: "unbounded" }
        )
        yield* eventually(() => server.connections.size === CONNECTIONS, `the server holds ${CONNECTIONS} connections`)
        const results = yield* Effect.forEach(
          conns,
          (conn, i) =>
            Effect.forEach(
              Array.from({ length: CALLS_EACH }, (_, k) => k),
              (k) => remote<number>(conn.root.add(i * 1000, k)),
              { concurrency: "unbounded" }
            ),
          { concurrency: "unbounded" }
        )
        results.forEach((answers, i) =>
          assert.deepStrictEqual(answers, Array.from({ length: CALLS_EACH }, (_, k) => i * 1000 + k), `connection ${i}`)
        )
        assert.strictEqual(instances.length, CONNECTIONS, "one service instance per connection")
        assert.strictEqual(instances.reduce((n, s) => n + s.calls, 0), CONNECTIONS * CALLS_EACH)

        yield* Scope.close(clients, Exit.void)
        for (const conn of conns) assert.isTrue(conn.closed, "a client connection is still open")
        yield* eventually(() => server.connections.size === 0, "the server has let every connection go")
      }),
    120_000
  )
})
