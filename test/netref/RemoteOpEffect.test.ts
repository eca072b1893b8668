/**
 * Remote operations are Effects through Effect's public extension point (a commit effect): the
 * runtime runs them when they are handed to it directly, not only through `yield*` and `await`.
 * And `commit`, a name the runtime reads from a commit effect, stays a remote method for users.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import * as Client from "../../src/client/Client.js"
import type { Remote } from "../../src/netref/RemoteOp.js"
import * as Server from "../../src/server/Server.js"
import { Service } from "../../src/service/Service.js"

class Ledger {
  committed = 0
  exposed_commit() {
    this.committed += 1
    return `commit ${this.committed}`
  }
}

class Bench extends Service {
  ledger = new Ledger()
  exposed_add(a: number, b: number) {
    return a + b
  }
  exposed_slow(millis: number) {
    return new Promise((resolve) => setTimeout(() => resolve("late"), millis))
  }
  exposed_db() {
    return this.ledger
  }
}

const connected = Effect.gen(function*() {
  const server = yield* Server.make(Bench, { port: 0 })
  return yield* Client.connect({ host: "127.0.0.1", port: server.port! })
})

describe("remote operations are Effects to the runtime", () => {
  it.scoped("run under Effect.runFork", () =>
    Effect.gen(function*() {
      const conn = yield* connected
      const fiber = Effect.runFork(conn.root.add(40, 2))
      const exit = yield* Fiber.await(fiber)
      assert.deepStrictEqual(exit, Exit.succeed(42))
    }))

  it.scoped("run in Effect.all with concurrency", () =>
    Effect.gen(function*() {
      const conn = yield* connected
      const sums = yield* Effect.all(Array.from({ length: 50 }, (_, i) => conn.root.add(i, 1)), { concurrency: 8 })
      assert.deepStrictEqual(sums, Array.from({ length: 50 }, (_, i) => i + 1))
    }))

  it.scoped("run in Streams", () =>
    Effect.gen(function*() {
      const conn = yield* connected
      const out = yield* Stream.range(1, 5).pipe(
        Stream.mapEffect((i) => conn.root.add(i, i), { concurrency: 2 }),
        Stream.runCollect
      )
      assert.deepStrictEqual(Chunk.toReadonlyArray(out), [2, 4, 6, 8, 10])
    }))

  it.scoped("run with Effect.timeout (and time out)", () =>
    Effect.gen(function*() {
      const conn = yield* connected
      const quick = yield* Effect.timeoutOption(conn.root.slow(1), Duration.seconds(20))
      assert.deepStrictEqual(quick, Option.some("late"))
      const slow = yield* Effect.timeoutOption(conn.root.slow(300), Duration.millis(20))
      assert.deepStrictEqual(slow, Option.none())
    }))

  it.scoped("flatMap, zip and race accept them as they are", () =>
    Effect.gen(function*() {
      const conn = yield* connected
      const n = yield* Effect.flatMap(conn.root.add(1, 2), (x) => Effect.succeed(x * 10))
      assert.strictEqual(n, 30)
      const pair = yield* Effect.zip(conn.root.add(1, 1), conn.root.add(2, 2))
      assert.deepStrictEqual(pair, [2, 4])
      const first = yield* Effect.race(conn.root.slow(300), conn.root.add(5, 5))
      assert.strictEqual(first, 10)
    }))

  it.scoped("`commit` stays a remote method, whichever way it is run", () =>
    Effect.gen(function*() {
      const conn = yield* connected
      const db = conn.root.db()
      assert.strictEqual(yield* db.commit(), "commit 1")
      assert.strictEqual(yield* Effect.flatMap(db.commit(), (s) => Effect.succeed(s)), "commit 2")
      assert.strictEqual(yield* Effect.promise(() => db.commit()), "commit 3")
      const ledger: Remote = yield* db
      assert.strictEqual(
        yield* Effect.all([ledger.commit(), ledger.commit()]).pipe(Effect.map((xs) => xs.join())),
        "commit 4,commit 5"
      )
      assert.strictEqual(yield* Effect.promise(() => Effect.runPromise(db)), ledger)
    }))
})

describe("remote operations are Promises to a script", () => {
  it.scoped("then, catch and finally", () =>
    Effect.gen(function*() {
      const conn = yield* connected
      const steps: Array<string> = []
      const sum = yield* Effect.promise(() => conn.root.add(1, 2).finally(() => steps.push("finally")))
      assert.strictEqual(sum, 3)
      const caught = yield* Effect.promise(() => conn.root.missing().catch((e: unknown) => (e as Error).name))
      assert.strictEqual(caught, "AttributeError")
      const chained = yield* Effect.promise(() =>
        conn.root.add(2, 2).then((n: number) => n * 10).catch(() => -1).finally(() => steps.push("again"))
      )
      assert.strictEqual(chained, 40)
      assert.deepStrictEqual(steps, ["finally", "again"])
    }))
})
