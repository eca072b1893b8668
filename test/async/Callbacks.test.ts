/**
 * Callbacks: a client function called by the remote side — once per element of a remote map, and
 * nested client → server → client → … deeper than 5 — against a TS server and Python rpyc_classic.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import { async_ } from "../../src/async/Async.js"
import * as Classic from "../../src/classic/Classic.js"
import * as Client from "../../src/client/Client.js"
import * as Operations from "../../src/netref/Operations.js"
import { Service } from "../../src/service/Service.js"
import { TIMEOUT } from "../support/Child.js"
import { pythonClassic, remote, serve } from "../support/Peers.js"
import { describePython } from "../support/Python.js"

/** A TS server whose functions call back into the client. */
class BounceService extends Service {
  /** The remote `map`: calls `f` on each item in order, awaiting each remote call. */
  async exposed_map(f: (x: unknown) => PromiseLike<unknown>, items: ReadonlyArray<unknown>) {
    const out: Array<unknown> = []
    for (const x of items) out.push(await f(x))
    return out
  }
  /** One level of ping-pong: calls back `f(n - 1)`, and reports the depth it saw. */
  async exposed_bounce(n: number, f: (n: number) => PromiseLike<unknown>) {
    return [`server ${n}`, await f(n - 1)]
  }
}

/** Server logs only at warning level and above. */
const quiet = Logger.withMinimumLogLevel(LogLevel.Warning)

const tsServer = Effect.gen(function*() {
  const server = yield* serve(BounceService).pipe(quiet)
  return yield* Client.connect({ host: "127.0.0.1", port: server.port! })
})

/** The client side of the ping-pong: `bounce(n, f)` on the server calls `f(n - 1)` here, until 0. */
const pingPong = (bounce: (n: number, f: unknown) => PromiseLike<unknown>, log: Array<string>) => {
  const f = async (n: number): Promise<unknown> => {
    log.push(`client ${n}`)
    return n === 0 ? "bottom" : [`client ${n}`, await bounce(n, f)]
  }
  return f
}

describe("callbacks against a TS server", () => {
  it.scopedLive("the remote map calls the local function once per element (printing here)", () =>
    Effect.gen(function*() {
      const conn = yield* tsServer
      const printed: Array<string> = []
      const g = (x: number) => {
        printed.push(`hi, this is g, executing locally ${x}`)
        return x ** 3
      }
      const result = yield* remote(conn.root.map(g, Array.from({ length: 10 }, (_, i) => i)))
      assert.deepStrictEqual(result, [0, 1, 8, 27, 64, 125, 216, 343, 512, 729])
      assert.deepStrictEqual(printed, Array.from({ length: 10 }, (_, i) => `hi, this is g, executing locally ${i}`))
    }))

  it.scopedLive("nested callbacks client → server → client → …, depth 10", () =>
    Effect.gen(function*() {
      const conn = yield* tsServer
      const bounce = yield* remote(conn.root.bounce)
      const log: Array<string> = []
      const f = pingPong(bounce, log)
      const result = yield* Effect.promise(() => f(10))
      assert.deepStrictEqual(log, Array.from({ length: 11 }, (_, i) => `client ${10 - i}`))
      // the innermost answer came back up through every level
      let level: unknown = result
      for (let n = 10; n > 0; n--) {
        assert.strictEqual((level as Array<unknown>)[0], `client ${n}`)
        const server = (level as Array<unknown>)[1] as Array<unknown>
        assert.strictEqual(server[0], `server ${n}`)
        level = server[1]
      }
      assert.strictEqual(level, "bottom")
    }))

  it.scopedLive("callbacks during async calls: the AsyncResult completes after its callbacks ran", () =>
    Effect.gen(function*() {
      const conn = yield* tsServer
      const amap = async_(conn.root.map)
      const seen: Array<number> = []
      const res = amap((x: number) => {
        seen.push(x)
        return x * 2
      }, [1, 2, 3])
      assert.deepStrictEqual(yield* res.value, [2, 4, 6])
      assert.deepStrictEqual(seen, [1, 2, 3])
    }))
})

describePython("callbacks against Python rpyc_classic", () => {
  it.scopedLive(
    "conn.builtins.map(f, rlist) consumed remotely by list() calls f once per element",
    () =>
      Effect.gen(function*() {
        const { port } = yield* pythonClassic
        const conn = yield* Classic.connect("127.0.0.1", port)
        const rlist = yield* remote(conn.builtins.list(yield* remote(conn.builtins.range(10))))
        const printed: Array<string> = []
        const g = (x: number) => {
          printed.push(`hi, this is g, executing locally ${x}`)
          return x ** 3
        }
        // conn.builtins.map(f, rlist), consumed remotely by list(...)
        const mapped = yield* remote(conn.builtins.map(g, rlist))
        assert.deepStrictEqual(printed, [], "Python's map is lazy")
        const cubes = yield* remote(conn.builtins.list(mapped))
        assert.strictEqual(String(yield* remote(Operations.repr(cubes))), "[0, 1, 8, 27, 64, 125, 216, 343, 512, 729]")
        assert.deepStrictEqual(printed, Array.from({ length: 10 }, (_, i) => `hi, this is g, executing locally ${i}`))
      }),
    TIMEOUT
  )

  it.scopedLive("nested callbacks client → Python → client → …, depth 10", () =>
    Effect.gen(function*() {
      const { port } = yield* pythonClassic
      const conn = yield* Client.connect({ host: "127.0.0.1", port })
      const bounce = yield* remote(conn.root.eval("lambda n, f: ('server %d' % n, f(n - 1))"))
      const log: Array<string> = []
      const f = pingPong(bounce, log)
      const result = yield* Effect.promise(() => f(10))
      assert.deepStrictEqual(log, Array.from({ length: 11 }, (_, i) => `client ${10 - i}`))
      let level: unknown = result
      for (let n = 10; n > 0; n--) {
        assert.strictEqual((level as Array<unknown>)[0], `client ${n}`)
        const server = (level as Array<unknown>)[1] as Array<unknown>
        assert.strictEqual(server[0], `server ${n}`)
        level = server[1]
      }
      assert.strictEqual(level, "bottom")
    }), TIMEOUT)

  it.scopedLive(
    "an async call whose remote side calls back while the caller does not wait",
    () =>
      Effect.gen(function*() {
        const { port } = yield* pythonClassic
        const conn = yield* Client.connect({ host: "127.0.0.1", port })
        const builtins = conn.root.getmodule("builtins")
        const seen: Array<number> = []
        const square = (x: number) => {
          seen.push(x)
          return x * x
        }
        const mapped = yield* remote(builtins.map(square, yield* remote(builtins.range(5))))
        const alist = async_(builtins.list)
        const res = alist(mapped)
        yield* res.wait()
        assert.deepStrictEqual(seen, [0, 1, 2, 3, 4])
        assert.strictEqual(String(yield* remote(Operations.repr(yield* res.value))), "[0, 1, 4, 9, 16]")
      }),
    TIMEOUT
  )
})
