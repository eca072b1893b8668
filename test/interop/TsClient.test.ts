/**
 * The TS client against a real Python RPyC 5.3 `ThreadedServer` (fixtures/py_service_server.py),
 * spawned per test on 127.0.0.1:0; the fixture prints "PORT <n>" once it listens.
 */
import { assert, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Client from "../../src/client/Client.js"
import { RemoteError } from "../../src/internal/base/Errors.js"
import * as Netref from "../../src/internal/netref/Netref.js"
import { kwargs } from "../../src/internal/netref/RemoteOp.js"
import { TIMEOUT } from "../support/Child.js"
import * as Peers from "../support/Peers.js"
import { remote } from "../support/Peers.js"
import { describePython } from "../support/Python.js"
import { fixture } from "./support.js"

/** Spawns the Python service; the port it listens on. */
const pythonServer = Peers.pythonServer(fixture("py_service_server.py"))

/** A TS connection to a freshly spawned Python server. */
const connectPython = (options: Omit<Client.ConnectOptions, "host" | "port"> = {}) =>
  Effect.gen(function*() {
    const { child, port } = yield* pythonServer
    const conn = yield* Client.connect({ ...options, host: "127.0.0.1", port })
    return { child, port, conn }
  })

describePython("TS client -> Python RPyC ThreadedServer", () => {
  it.scopedLive("exposed method, attribute and service name", () =>
    Effect.gen(function*() {
      const { conn } = yield* connectPython()
      assert.strictEqual(conn.wireVersion, 5)
      assert.strictEqual(yield* remote(conn.root.add(2, 3)), 5)
      assert.strictEqual(yield* remote(conn.root.add("ab", "cd")), "abcd")
      assert.strictEqual(yield* remote(conn.root.the_answer), 42)
      assert.strictEqual(yield* remote(conn.root.get_service_name()), "INTEROP")
      assert.deepStrictEqual(yield* remote(conn.root.get_service_aliases()), ["INTEROP"])
      // Promise style works on the same operations
      assert.strictEqual(yield* Effect.promise(async () => await conn.root.add(20, 22)), 42)
    }), TIMEOUT)

  it.scopedLive("TS callbacks called from Python", () =>
    Effect.gen(function*() {
      const { conn } = yield* connectPython()
      const seen: Array<unknown> = []
      const double = (x: number) => {
        seen.push(x)
        return x * 2
      }
      assert.strictEqual(yield* remote(conn.root.invoke(double, 21)), 42)
      assert.deepStrictEqual(seen, [21])
      // nested: Python calls back twice inside one request
      assert.strictEqual(yield* remote(conn.root.invoke_twice_plus_one(double, 5)), 21)
      assert.deepStrictEqual(seen, [21, 5, 10])
      // an async callback: Python gets the resolved value
      assert.strictEqual(yield* remote(conn.root.invoke(async (s: string) => `${s}!`, "hi")), "hi!")
      // several arguments
      assert.strictEqual(yield* remote(conn.root.invoke((a: number, b: number) => a - b, 10, 3)), 7)
      // Python sees a TS function as a callable netref of class `function` (exactly what it sees for a
      // Python peer's function: `type(netref).__name__` is "type" there too)
      assert.deepStrictEqual(yield* remote(conn.root.describe(double)), ["type", "<class 'function'>", true, true])
    }), TIMEOUT)

  it.scopedLive(
    "a TS callback that throws: Python gets a TypeError, which comes back as RemoteError",
    () =>
      Effect.gen(function*() {
        const { conn } = yield* connectPython()
        const error = yield* Effect.flip(remote(conn.root.invoke(() => {
          throw new TypeError("callback blew up")
        })))
        assert.instanceOf(error, RemoteError)
        const err = error as RemoteError
        assert.strictEqual(err.name, "TypeError")
        assert.strictEqual(err.module, "builtins")
        assert.deepStrictEqual(err.args, ["callback blew up"])
        // the Python traceback embeds the TS one (Python numbers the hops)
        assert.include(err.remoteTraceback, "Traceback (most recent call last)")
        assert.include(err.remoteTraceback, "========= Remote Traceback (1) =========")
        assert.include(err.remoteTraceback, "callback blew up")
      }),
    TIMEOUT
  )

  it.scopedLive(
    "a Python exception arrives as RemoteError(ValueError) with args and traceback",
    () =>
      Effect.gen(function*() {
        const { conn } = yield* connectPython()
        const error = yield* Effect.flip(remote(conn.root.fail("boom")))
        assert.instanceOf(error, RemoteError)
        const err = error as RemoteError
        assert.strictEqual(err._tag, "RemoteError")
        assert.strictEqual(err.name, "ValueError")
        assert.strictEqual(err.module, "builtins")
        assert.deepStrictEqual(err.args, ["boom", 7])
        assert.isTrue(err.is("ValueError"))
        assert.isTrue(err.is("builtins.ValueError"))
        assert.strictEqual(err.qualifiedName, "ValueError")
        assert.strictEqual(err.remoteVersion, "5.3.0")
        assert.include(err.remoteTraceback, "Traceback (most recent call last)")
        assert.include(err.remoteTraceback, "ValueError: ('boom', 7)")
        assert.include(err.remoteTraceback, "exposed_fail")
        assert.include(err.message, "(boom, 7)")
        assert.isTrue(String(err).startsWith("ValueError: (boom, 7)"))
        // the connection is still usable afterwards
        assert.strictEqual(yield* remote(conn.root.add(1, 1)), 2)
        // and a rejected Promise carries the same error
        const rejected = yield* Effect.promise(() =>
          Promise.resolve(conn.root.fail("again")).then(() => undefined, (e) => e)
        )
        assert.instanceOf(rejected, RemoteError)
        assert.deepStrictEqual((rejected as RemoteError).args, ["again", 7])
      }),
    TIMEOUT
  )

  it.scopedLive("non-exposed and missing names are AttributeError", () =>
    Effect.gen(function*() {
      const { conn } = yield* connectPython()
      const hidden = yield* Effect.flip(remote(conn.root.not_exposed()))
      assert.strictEqual((hidden as RemoteError).name, "AttributeError")
      const missing = yield* Effect.flip(remote(conn.root.no_such_thing))
      assert.strictEqual((missing as RemoteError).name, "AttributeError")
    }), TIMEOUT)

  it.scopedLive("a Python list comes back as a netref: for await, __len__, __getitem__", () =>
    Effect.gen(function*() {
      const { conn } = yield* connectPython()
      const list = yield* remote(conn.root.get_list())
      assert.isTrue(Netref.isNetref(list), "a list is sent by reference")
      assert.strictEqual(Netref.stateOf(list)!.idPack[0], "builtins.list")
      assert.strictEqual(yield* remote(list.__len__()), 3)
      assert.strictEqual(yield* remote(list.__getitem__(1)), 20)
      assert.isTrue(yield* remote(list.__contains__(30)))
      const items = yield* Effect.promise(async () => {
        const acc: Array<unknown> = []
        for await (const x of list as AsyncIterable<unknown>) acc.push(x)
        return acc
      })
      assert.deepStrictEqual(items, [10, 20, 30])
      // strings too, and iterating twice
      const words = yield* remote(conn.root.get_words())
      const collect = () =>
        Effect.promise(async () => {
          const acc: Array<unknown> = []
          for await (const w of words as AsyncIterable<unknown>) acc.push(w)
          return acc
        })
      assert.deepStrictEqual(yield* collect(), ["alpha", "beta"])
      assert.deepStrictEqual(yield* collect(), ["alpha", "beta"])
      // the netref goes back to Python as the same object
      assert.strictEqual(yield* remote(conn.root.type_name(list)), "list")
      Netref.release(list)
    }), TIMEOUT)

  it.scopedLive("values round-trip through Python", () =>
    Effect.gen(function*() {
      const { conn } = yield* connectPython()
      assert.deepStrictEqual(yield* remote(conn.root.echo([1, "two", 3.5, null, true])), [1, "two", 3.5, null, true])
      assert.strictEqual(yield* remote(conn.root.type_name([1, 2])), "tuple")
      assert.strictEqual(yield* remote(conn.root.echo("héllo ✓")), "héllo ✓")
      assert.strictEqual(yield* remote(conn.root.echo(2n ** 70n)), 2n ** 70n)
    }), TIMEOUT)

  it.scopedLive("wireVersion \"auto\" probes the 5.3 server, picks v5 and works", () =>
    Effect.gen(function*() {
      const { child, port } = yield* pythonServer
      assert.strictEqual(yield* Client.probeWireVersion("127.0.0.1", port), 5)
      const conn = yield* Client.connect({ host: "127.0.0.1", port, wireVersion: "auto" })
      assert.strictEqual(conn.wireVersion, 5)
      assert.strictEqual(yield* remote(conn.root.add(40, 2)), 42)
      assert.strictEqual(yield* remote(conn.root.invoke((x: number) => x + 1, 1)), 2)
      // the probe did not take the server down: a second connection works
      const conn2 = yield* Client.connect({ host: "127.0.0.1", port, wireVersion: "auto" })
      assert.strictEqual(yield* remote(conn2.root.get_service_name()), "INTEROP")
      assert.isNull(child.process.exitCode)
    }), TIMEOUT)

  it.scopedLive("closing the connection leaves the Python server serving", () =>
    Effect.gen(function*() {
      const { child, port } = yield* pythonServer
      yield* Effect.scoped(Effect.gen(function*() {
        const conn = yield* Client.connect({ host: "127.0.0.1", port })
        assert.strictEqual(yield* remote(conn.root.add(1, 2)), 3)
        yield* Effect.promise(async () => await conn.close())
        assert.isTrue(conn.closed)
      }))
      const conn = yield* Client.connect({ host: "127.0.0.1", port })
      assert.strictEqual(yield* remote(conn.root.add(3, 4)), 7)
      assert.isNull(child.process.exitCode)
    }), TIMEOUT)
})

describePython("TS client -> Python RPyC ThreadedServer: more values and objects", () => {
  it.scopedLive(
    "kwargs, dicts, generators, objects, custom exceptions, big payloads, ping",
    () =>
      Effect.gen(function*() {
        const { conn } = yield* connectPython()
        // kwargs
        assert.strictEqual(yield* remote(conn.root.join(1, "b", 3)), "1 b 3")
        assert.strictEqual(yield* remote(conn.root.join("a", "b", kwargs({ sep: "-" }))), "a-b")

        // a dict netref
        const dict = yield* remote(conn.root.get_dict())
        assert.isTrue(Netref.isNetref(dict))
        assert.strictEqual(yield* remote(dict.__len__()), 2)
        assert.strictEqual(yield* remote(dict.__getitem__("a")), 1)
        const inner = yield* remote(dict.__getitem__("b"))
        assert.strictEqual(yield* remote(inner.__len__()), 2)
        const keyError = yield* Effect.flip(remote(dict.__getitem__("zz")))
        assert.strictEqual((keyError as RemoteError).name, "KeyError")
        assert.deepStrictEqual((keyError as RemoteError).args, ["zz"])
        assert.isTrue(yield* remote(conn.root.same(dict, dict)), "a netref goes back as the Python object itself")

        // a generator
        const squares = yield* Effect.promise(async () => {
          const acc: Array<unknown> = []
          for await (const x of await conn.root.gen(5) as AsyncIterable<unknown>) acc.push(x)
          return acc
        })
        assert.deepStrictEqual(squares, [0, 1, 4, 9, 16])

        // a plain Python object with exposed members, chained
        const point = yield* remote(conn.root.get_point(3, 4))
        assert.strictEqual(yield* remote(point.x), 3)
        assert.strictEqual(yield* remote(point.norm2()), 25)
        assert.strictEqual(yield* remote(point.moved(kwargs({ dy: 1 })).y), 5)
        assert.strictEqual(yield* remote(conn.root.get_point(1, 1).moved(2, 2).norm2()), 18)
        assert.strictEqual(yield* remote(conn.root.type_name(point)), "Point")

        // a custom (non-builtin) exception
        const custom = (yield* Effect.flip(remote(conn.root.raise_custom()))) as RemoteError
        assert.strictEqual(custom.module, "__main__")
        assert.strictEqual(custom.name, "CustomError")
        assert.strictEqual(custom.qualifiedName, "__main__.CustomError")
        assert.deepStrictEqual(custom.args, ["custom!", 1])
        assert.include(custom.remoteTraceback, "CustomError: ('custom!', 1)")
        const key = (yield* Effect.flip(remote(conn.root.raise_key("nope")))) as RemoteError
        assert.strictEqual(key.name, "KeyError")
        assert.deepStrictEqual(key.args, ["nope"])

        // payloads over 3000 bytes are compressed both ways
        const big = yield* remote<string>(conn.root.big(100_000))
        assert.strictEqual(big.length, 100_000)
        const long = "z".repeat(50_000) + "✓"
        assert.strictEqual(yield* remote(conn.root.echo(long)), long)
        const bytes = new Uint8Array(20_000).map((_, i) => i % 256)
        assert.deepStrictEqual(yield* remote(conn.root.echo(bytes)), bytes)

        // ping
        yield* Effect.promise(async () => await conn.ping("hello"))
      }),
    TIMEOUT
  )

  it.scopedLive("concurrent calls on one connection and on several connections", () =>
    Effect.gen(function*() {
      const { port } = yield* pythonServer
      const conns = yield* Effect.all(
        Array.from({ length: 3 }, () => Client.connect({ host: "127.0.0.1", port })),
        { concurrency: "unbounded" }
      )
      const results = yield* Effect.all(
        conns.flatMap((conn, c) => Array.from({ length: 10 }, (_, i) => remote<number>(conn.root.add(c * 100, i)))),
        { concurrency: "unbounded" }
      )
      assert.deepStrictEqual(results, [0, 1, 2].flatMap((c) => Array.from({ length: 10 }, (_, i) => c * 100 + i)))
      // callbacks interleaved with concurrent calls
      const viaCallbacks = yield* Effect.all(
        Array.from({ length: 10 }, (_, i) => remote<number>(conns[0]!.root.invoke((x: number) => x * 3, i))),
        { concurrency: "unbounded" }
      )
      assert.deepStrictEqual(viaCallbacks, Array.from({ length: 10 }, (_, i) => i * 3))
    }), TIMEOUT)
})

describePython("TS client -> Python RPyC ThreadedServer: reference counting", () => {
  it.scopedLive(
    "releasing netrefs sends DEL with the refcount; Python forgets the objects",
    () =>
      Effect.gen(function*() {
        const { conn } = yield* connectPython()
        const count = () => remote<number>(conn.root.local_object_count())
        const base = yield* count()
        const lists = yield* remote<ReadonlyArray<unknown>>(conn.root.make_lists(5))
        assert.strictEqual(lists.length, 5)
        assert.isTrue(lists.every(Netref.isNetref))
        assert.strictEqual(yield* count(), base + 5)
        for (const l of lists) Netref.release(l as Netref.Netref)
        assert.strictEqual(yield* count(), base)

        // the same object received twice: one proxy, refcount 2, one DEL(obj, 2)
        const a = yield* remote(conn.root.shared_list())
        const b = yield* remote(conn.root.shared_list())
        assert.strictEqual(a, b, "the same id_pack gives the same netref")
        assert.strictEqual(Netref.stateOf(a)!.refcount, 2)
        assert.strictEqual(yield* count(), base + 1)
        Netref.release(a)
        assert.strictEqual(yield* count(), base)
        // a released netref cannot be used any more
        const used = yield* Effect.flip(remote(a.__len__()))
        assert.include(String((used as Error).message ?? used), "released")
      }),
    TIMEOUT
  )
})

describePython("TS client -> Python RPyC ThreadedServer: timeouts", () => {
  it.scopedLive(
    "a slow Python method times out with RequestTimeout; the late reply is dropped",
    () =>
      Effect.gen(function*() {
        const { conn } = yield* connectPython({ config: { syncRequestTimeout: 1 } })
        const started = Date.now()
        const timedOut = yield* Effect.flip(remote(conn.root.sleep(4)))
        assert.strictEqual((timedOut as { _tag: string })._tag, "RequestTimeout")
        assert.isBelow(Date.now() - started, 3500)
        // let Python finish the sleep: its late "slept" reply arrives and must be dropped, not taken
        // as the answer to the next call
        yield* Effect.sleep("4 seconds")
        assert.strictEqual(yield* remote(conn.root.add(2, 2)), 4)
        assert.strictEqual(yield* remote(conn.root.echo("next")), "next")
        assert.strictEqual(conn.pendingCount, 0)
      }),
    TIMEOUT
  )
})
