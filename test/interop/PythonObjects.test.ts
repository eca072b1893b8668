/**
 * A real Python RPyC 5.3 client using the TS objects a TS service hands out (lists, dicts, sets,
 * generators, objects with exposed members), passing kwargs, bytes and big payloads, making async
 * requests from several threads, and being called back by the TS service through its own service.
 */
import { assert, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import { byRef } from "../../src/internal/engine/Engine.js"
import type * as Connection from "../../src/internal/engine/Engine.js"
import { Service } from "../../src/service/Service.js"
import { explain, jsonResult, run, TIMEOUT } from "../support/Child.js"
import { serve } from "../support/Peers.js"
import { describePython, hasPythonRpyc, PYTHON, pythonMissing } from "../support/Python.js"
import { fixture } from "./support.js"

class Counter {
  exposed_value: number
  secret = "hidden"
  constructor(start: number) {
    this.exposed_value = start
  }
  exposed_increment(by = 1) {
    this.exposed_value += by
  }
  __str__() {
    return `Counter(${this.exposed_value})`
  }
}

class ObjectsService extends Service {
  private conn: Connection.Connection | undefined
  private clientName: unknown

  override async onConnect(conn: Connection.Connection) {
    this.conn = conn
    // a request to the client before the server serves its first request
    this.clientName = await conn.root.get_service_name()
  }

  exposed_object_count() {
    return this.conn!.localObjectCount
  }

  exposed_client_name() {
    return this.clientName
  }

  async exposed_ask_client(question: string) {
    return await this.conn!.root.answer(question)
  }

  async exposed_client_add(a: number, b: number) {
    return await this.conn!.root.add(a, b)
  }

  exposed_make_list(n: number) {
    return byRef(Array.from({ length: n }, (_, i) => i))
  }

  exposed_make_map() {
    return new Map<unknown, unknown>([["a", 1], ["b", 2]])
  }

  exposed_map_size(m: Map<unknown, unknown>) {
    return m.size
  }

  exposed_make_set() {
    return new Set([1, 2, 3])
  }

  *exposed_count_to(n: number) {
    for (let i = 0; i < n; i++) yield i
  }

  exposed_make_counter(start: number) {
    return new Counter(start)
  }

  exposed_greet(name: string, kw?: { readonly punct?: string }) {
    return `Hello, ${name}${kw?.punct ?? "."}`
  }

  exposed_echo(value: unknown) {
    return value
  }

  exposed_length(value: Uint8Array | string) {
    return value.length
  }

  async exposed_slow_add(a: number, b: number) {
    await new Promise((r) => setTimeout(r, 20))
    return a + b
  }
}

class PickleService extends Service {
  exposed_make_list(n: number) {
    return byRef(Array.from({ length: n }, (_, i) => i))
  }
  exposed_make_map() {
    return new Map<unknown, unknown>([["a", 1], ["b", 2]])
  }
  exposed_make_nested() {
    return new Map<unknown, unknown>([
      ["list", [1, 2.5, null, "s"]],
      ["bytes", new Uint8Array([0, 255])],
      ["set", new Set([1, 2])],
      ["inner", { x: true }]
    ])
  }
  exposed_make_function() {
    return (x: number) => x
  }
}

const obtainAll = (allowPickle: boolean) =>
  Effect.gen(function*() {
    assert.isTrue(hasPythonRpyc, pythonMissing)
    const server = yield* serve(PickleService, { protocolConfig: { allowPickle } })
    const result = yield* run(PYTHON, ["-u", fixture("pickle_client.py"), String(server.port!)])
    assert.strictEqual(result.code, 0, explain(result))
    return jsonResult(result)
  })

describePython("Python rpyc.classic.obtain() of TS objects (PICKLE)", () => {
  it.scopedLive("with allowPickle, Python gets real copies of plain data", () =>
    Effect.gen(function*() {
      const out = yield* obtainAll(true)
      const why = JSON.stringify(out, null, 2)
      assert.deepStrictEqual(out.list, { repr: "[0, 1, 2]", type: "list", netref: false }, why)
      assert.deepStrictEqual(out.map, { repr: "{'a': 1, 'b': 2}", type: "dict", netref: false }, why)
      assert.deepStrictEqual(
        out.nested,
        {
          repr: "{'list': [1, 2.5, None, 's'], 'bytes': b'\\x00\\xff', 'set': {1, 2}, 'inner': {'x': True}}",
          type: "dict",
          netref: false
        },
        why
      )
      // a function is not plain data: the PICKLE request fails, Python gets an exception
      assert.property(out.function, "error", why)
    }).pipe(Logger.withMinimumLogLevel(LogLevel.Warning)), TIMEOUT)

  it.scopedLive("by default pickling is disabled: ValueError, as in Python", () =>
    Effect.gen(function*() {
      const out = yield* obtainAll(false)
      const why = JSON.stringify(out, null, 2)
      for (const name of ["list", "map", "nested"]) {
        assert.strictEqual(out[name].error, "ValueError", `${name}: ${why}`)
        assert.include(out[name].str, "pickling is disabled", why)
      }
    }).pipe(Logger.withMinimumLogLevel(LogLevel.Warning)), TIMEOUT)
})

describePython("Python RPyC client -> TS objects", () => {
  it.scopedLive(
    "containers, generators, exposed objects, kwargs, values, async, threads, callbacks into the client",
    () =>
      Effect.gen(function*() {
        assert.isTrue(hasPythonRpyc, pythonMissing)
        const server = yield* serve(ObjectsService)
        const result = yield* run(PYTHON, ["-u", fixture("ts_objects_client.py"), String(server.port!)])
        assert.strictEqual(result.code, 0, explain(result))
        const out = jsonResult(result)
        const why = (name: string) => `${name}: ${JSON.stringify(out[name], null, 2)}`
        const value = (name: string): unknown => {
          assert.property(out, name, explain(result))
          assert.notProperty(out[name], "error", why(name))
          return out[name].value
        }
        const error = (
          name: string
        ): { readonly error: string; readonly mro: ReadonlyArray<string>; readonly str: string } => {
          assert.property(out[name], "error", why(name))
          return out[name]
        }

        // the TS server calling into the Python client's service
        assert.strictEqual(value("client_name_seen_by_ts"), "CLIENT")
        assert.strictEqual(value("ask_client"), "client says: ping?")
        assert.strictEqual(value("client_add_via_ts"), 42)

        // arrays by reference behave as lists
        assert.strictEqual(value("list_len"), 4)
        assert.deepStrictEqual(value("list_items"), [0, 1, 2, 3])
        assert.deepStrictEqual(value("list_index"), [0, 3])
        assert.deepStrictEqual(value("list_slice"), [1, 2])
        assert.deepStrictEqual(value("list_contains"), [true, false])
        assert.include(error("list_index_error").mro, "IndexError")
        assert.isTrue(value("list_bool"))

        // Maps behave as dicts
        assert.strictEqual(value("dict_len"), 2)
        assert.strictEqual(value("dict_getitem"), 1)
        assert.deepStrictEqual(value("dict_contains"), [true, false])
        assert.deepStrictEqual(value("dict_keys_iter"), ["a", "b"])
        assert.include(error("dict_missing").mro, "KeyError")
        assert.strictEqual(value("dict_setitem"), 3)

        // Sets
        assert.strictEqual(value("set_len"), 3)
        assert.deepStrictEqual(value("set_contains"), [true, false])
        assert.deepStrictEqual(value("set_items"), [1, 2, 3])

        // generators
        assert.deepStrictEqual(value("generator"), [0, 1, 2, 3, 4])
        assert.deepStrictEqual(value("generator_next"), [0, 1])

        // an object with exposed members
        assert.strictEqual(value("counter"), 16)
        assert.include(error("counter_hidden").mro, "AttributeError")
        assert.strictEqual(value("counter_str"), "Counter(16)")

        // kwargs
        assert.strictEqual(value("kwargs"), "Hello, Ann!")
        assert.strictEqual(value("kwargs_default"), "Hello, Bob.")

        // values
        assert.strictEqual(value("bytes"), "0001feff")
        assert.strictEqual(value("unicode"), "h\u00e9llo \u2713 \u{1F600}")
        assert.deepStrictEqual(value("bigint"), [String(2n ** 70n), String(-(2n ** 65n))])
        assert.deepStrictEqual(value("floats"), [1.5, -0.25])
        assert.deepStrictEqual(value("none_bool"), [null, true, false])
        assert.deepStrictEqual(value("nested_tuple"), [1, [2, [3, "x"]], []])
        assert.deepStrictEqual(value("big_string"), [200_003, true])
        assert.strictEqual(value("big_bytes_len"), 256_000)
        assert.isTrue(value("dict_identity"))

        // str / repr / dir
        assert.include(value("root_repr") as string, "ObjectsService")
        assert.isTrue(value("root_dir_has_greet"))

        // ping, async_, threads
        assert.isTrue(value("ping"))
        assert.deepStrictEqual((value("async") as Array<unknown>).slice(1), [3, true])
        assert.deepStrictEqual(value("threads"), { errors: [], ok: true })

        // DEL bookkeeping: five lists held, then dropped
        const [before, mid, after] = value("refcounts") as [number, number, number]
        assert.strictEqual(mid - before, 5, why("refcounts"))
        assert.strictEqual(after, before, why("refcounts"))
      }).pipe(Logger.withMinimumLogLevel(LogLevel.Warning)),
    TIMEOUT
  )
})
