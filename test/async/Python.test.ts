/**
 * The async API against a real Python RPyC 5.3 peer (`rpyc_classic`), in real time: Python's
 * `time.sleep` is what makes the results late, so the TestClock cannot stand in here.
 */
import { assert, it } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import { async_, buffiter, buffiterStream, ExpiredError, timed, withTimeout } from "../../src/async/Async.js"
import * as Classic from "../../src/classic/Classic.js"
import { RemoteError, RequestTimeout } from "../../src/internal/base/Errors.js"
import { TIMEOUT } from "../support/Child.js"
import { pythonClassic, remote } from "../support/Peers.js"
import { describePython, hasPythonRpyc, pythonMissing } from "../support/Python.js"

/** A classic connection to a fresh `rpyc_classic`. */
const classic = Effect.gen(function*() {
  assert.isTrue(hasPythonRpyc, pythonMissing)
  const { port } = yield* pythonClassic
  const conn = yield* Classic.connect("127.0.0.1", port)
  const modules = (name: string) => conn.modules[name]!
  return { conn, modules, builtins: conn.builtins }
})

describePython("async_ against Python rpyc_classic", () => {
  it.scopedLive("async time.sleep: ready is false, then true; value is None", () =>
    Effect.gen(function*() {
      const { modules } = yield* classic
      const asleep = async_(yield* remote(modules("time").sleep))
      const started = Date.now()
      const res = asleep(0.5)
      assert.isFalse(res.ready)
      assert.isFalse(res.ready)
      yield* res.wait()
      assert.isAtLeast(Date.now() - started, 450)
      assert.isTrue(res.ready)
      assert.isFalse(res.error)
      assert.isNull(yield* res.value)
    }), TIMEOUT)

  it.scopedLive(
    "async int: \"8\" gives 8; an invalid literal gives error = true and the ValueError",
    () =>
      Effect.gen(function*() {
        const { builtins } = yield* classic
        const aint = async_(builtins.int) // a remote operation: resolved first
        const x = aint("8")
        yield* x.wait()
        assert.isTrue(x.ready)
        assert.isFalse(x.error)
        assert.strictEqual(yield* x.value, 8)
        const y = aint("this is not a valid number")
        yield* y.wait()
        assert.isTrue(y.ready)
        assert.isTrue(y.error)
        const error = yield* Effect.flip(y.value)
        assert.instanceOf(error, RemoteError)
        assert.strictEqual((error as RemoteError).name, "ValueError")
        assert.strictEqual((error as RemoteError).module, "builtins")
        assert.deepStrictEqual((error as RemoteError).args, [
          "invalid literal for int() with base 10: 'this is not a valid number'"
        ])
        assert.include((error as RemoteError).remoteTraceback, "ValueError")
      }),
    TIMEOUT
  )

  it.scopedLive("addCallback runs when Python's reply arrives", () =>
    Effect.gen(function*() {
      const { builtins } = yield* classic
      const astr = async_(yield* remote(builtins.str))
      const seen: Array<boolean> = []
      const res = astr(12345).addCallback((r) => seen.push(r.ready))
      assert.strictEqual(yield* res.value, "12345")
      assert.deepStrictEqual(seen, [true])
      res.addCallback((r) => seen.push(r.error))
      assert.deepStrictEqual(seen, [true, false])
    }), TIMEOUT)

  it.scopedLive("setExpiry and timed: ExpiredError, and Python's late reply is dropped", () =>
    Effect.gen(function*() {
      const { conn, modules } = yield* classic
      const sleep = yield* remote(modules("time").sleep)
      // generous margins: a busy event loop (other tests run concurrently) delays timers
      const res = async_(sleep)(2).setExpiry(0.3)
      const expired = yield* Effect.flip(res.wait())
      assert.instanceOf(expired, ExpiredError)
      assert.isTrue(res.expired)
      assert.isFalse(res.ready)
      assert.instanceOf(yield* Effect.flip(res.value), ExpiredError)
      // Python serves this connection in order: this reply comes after the sleep's (dropped) one
      assert.strictEqual(yield* remote(conn.eval("6 * 7")), 42)
      assert.isTrue(res.expired)
      assert.strictEqual(conn.pendingCount, 0)

      const tsleep = timed(sleep, 2)
      const ok = tsleep(0.1)
      assert.isNull(yield* ok.value)
      const late = timed(sleep, 0.2)(2)
      assert.instanceOf(yield* Effect.flip(late.value), ExpiredError)
      assert.strictEqual(yield* remote(conn.eval("'after'")), "after")
    }), TIMEOUT)

  it.scopedLive(
    "syncRequestTimeout per connection and withTimeout per call: RequestTimeout, late reply dropped",
    () =>
      Effect.gen(function*() {
        const { conn, modules } = yield* classic
        const time = yield* remote(modules("time"))
        conn.config.syncRequestTimeout = 0.3
        const error = yield* Effect.flip(remote(time.sleep(2)))
        assert.instanceOf(error, RequestTimeout)
        conn.config.syncRequestTimeout = 30
        // the next call gets its own reply (Python sends the stale one first; it is dropped)
        assert.strictEqual(yield* remote(conn.eval("1 + 1")), 2)

        const sleep = withTimeout(time.sleep, 0.3)
        assert.instanceOf(yield* Effect.flip(sleep(2)), RequestTimeout)
        assert.strictEqual(yield* remote(conn.eval("2 + 2")), 4)
        assert.isNull(yield* withTimeout(modules("time").sleep, 5)(0.01))
      }),
    TIMEOUT
  )

  it.scopedLive("conn.ping() against Python", () =>
    Effect.gen(function*() {
      const { conn } = yield* classic
      yield* conn.ping()
      yield* conn.ping("ping payload", "2 seconds")
    }), TIMEOUT)

  it.scopedLive("10,000 async calls in flight complete with the right values", () =>
    Effect.gen(function*() {
      const { builtins } = yield* classic
      const astr = async_(yield* remote(builtins.str))
      const results = Array.from({ length: 10_000 }, (_, i) => astr(i))
      const values = yield* Effect.forEach(results, (r) => r.value)
      assert.isTrue(values.every((v, i) => v === String(i)))
    }), TIMEOUT)
})

describePython("buffiter against Python rpyc_classic", () => {
  it.scopedLive("a Python list in batches of 10, 20, 40, … up to maxChunk", () =>
    Effect.gen(function*() {
      const { builtins } = yield* classic
      const rlist = yield* remote(builtins.list(yield* remote(builtins.range(1000))))
      const items = yield* Stream.runCollect(buffiterStream<number>(rlist))
      assert.deepStrictEqual(Chunk.toReadonlyArray(items), Array.from({ length: 1000 }, (_, i) => i))
      const sizes = yield* Stream.runCollect(Stream.chunks(buffiterStream(rlist, { maxChunk: 100 })))
      assert.deepStrictEqual(
        Chunk.toReadonlyArray(sizes).map((c) => c.length).filter((n) => n > 0),
        [10, 20, 40, 80, 100, 100, 100, 100, 100, 100, 100, 100, 50]
      )
      const dflt = yield* Stream.runCollect(Stream.chunks(buffiterStream(rlist)))
      assert.deepStrictEqual(Chunk.toReadonlyArray(dflt).map((c) => c.length).filter((n) => n > 0), [
        10,
        20,
        40,
        80,
        160,
        320,
        370
      ])
      // items that are not simple values arrive as netrefs
      const nested = yield* remote(builtins.eval("[[1], [2, 3]]"))
      const lists: Array<unknown> = []
      yield* Effect.promise(async () => {
        for await (const x of buffiter(nested)) lists.push(await (builtins.len(x) as PromiseLike<number>))
      })
      assert.deepStrictEqual(lists, [1, 2])
      // a remote generator expression
      const squares = yield* Effect.promise(async () => {
        const out: Array<number> = []
        for await (const x of buffiter<number>(builtins.eval("(x * x for x in range(25))"))) out.push(x)
        return out
      })
      assert.deepStrictEqual(squares, Array.from({ length: 25 }, (_, i) => i * i))
    }), TIMEOUT)
})
