/**
 * Issue 3, item 2: the value mapping of PROTOCOL.md, "Design notes" (README "Values on the wire"), both
 * directions, against a TS peer and against Python RPyC 5.3.0; `byRef()` and `obtain()`.
 */
import { assert, describe } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import { byRef } from "../../src/internal/engine/Engine.js"
import * as Netref from "../../src/internal/netref/Netref.js"
import * as Brine from "../../src/internal/wire/Brine.js"
import * as Pickle from "../../src/internal/wire/Pickle.js"
import * as Operations from "../../src/netref/Operations.js"
import { Service } from "../../src/service/Service.js"
import { TIMEOUT } from "../support/Child.js"
import { connect, remote as fx, serve, serverConnection } from "../support/Peers.js"
import { describePython } from "../support/Python.js"
import { collect, Handler, Label, live, pythonServer, remoteError, wireSpy } from "./support.js"

class Widget {
  constructor(readonly size: number) {}
}

/** How a TS receiver sees an argument. */
const describeValue = (v: unknown): unknown => {
  if (Netref.isNetref(v)) return `netref ${Operations.typeName(v)}`
  if (v === null) return "null"
  if (v === undefined) return "undefined"
  if (Array.isArray(v)) return v.map(describeValue)
  if (v instanceof Uint8Array) return `bytes ${Array.from(v).join(",")}`
  if (typeof v === "object") return `${v.constructor.name}`
  if (typeof v === "symbol") return String(v)
  return `${typeof v} ${String(v)}`
}

class ValueService extends Service {
  readonly received: Array<unknown> = []
  exposed_describe(...args: Array<unknown>) {
    return describeValue(args)
  }
  exposed_echo(v: unknown) {
    this.received.push(v)
    return v
  }
  exposed_same(a: unknown, b: unknown) {
    return a === b
  }
  exposed_values() {
    return [
      null,
      undefined,
      true,
      7,
      2n ** 70n,
      1.5,
      new Brine.PyFloat(2),
      "héllo",
      new Uint8Array([0, 255]),
      [1, "a", [2.5, null]],
      new Brine.FrozenSet([1]),
      new Brine.Slice(1, 9, 2),
      new Brine.Complex(1, 2),
      Brine.Ellipsis,
      Brine.NotImplemented
    ]
  }
  exposed_refs() {
    return [{ a: 1 }, new Widget(3), new Map([["k", 1]]), new Set([1]), () => 1, Widget, byRef([1, 2]), new Error("e")]
  }
  exposed_plain() {
    return {
      list: byRef([1, 2.5, "x", null, true]),
      nested: { tuple: [1, 2] },
      bytes: new Uint8Array([1]),
      byNumber: new Map<unknown, unknown>([[1, "one"]]),
      set: new Set([4, 5]),
      big: 2n ** 80n
    }
  }
  exposed_plain_list() {
    return byRef([1, 2.5, "x", null, true])
  }
  exposed_widget() {
    return new Widget(1)
  }
}

const setup = (protocolConfig = {}) =>
  Effect.gen(function*() {
    const server = yield* serve(ValueService, { protocolConfig })
    const spy = yield* wireSpy(server.port!)
    const conn = yield* connect(spy.port)
    const root: any = yield* fx(conn.root)
    const sconn = yield* serverConnection(server)
    spy.clear()
    return { server, spy, conn, root, sconn, service: sconn.localRoot as ValueService }
  })

/** The boxed argument tuple of the last CALLATTR. */
const lastCallArgs = (spy: { frames: ReadonlyArray<{ dir: string; handler: number | undefined; args: unknown }> }) => {
  const f = [...spy.frames].reverse().find((f) => f.dir === "out" && f.handler === Handler.CALLATTR)!
  return (f.args as [number, Array<unknown>])[1][2] as [number, unknown]
}

describe("values on the wire, TS ↔ TS", () => {
  live(
    "by value: None, bool, int, bigint, float, str, bytes, tuples and the wrapper types",
    () =>
      Effect.gen(function*() {
        const { root, spy } = yield* setup()
        const sent = [
          null,
          undefined,
          true,
          false,
          7,
          -3,
          2 ** 53 + 2,
          2n ** 70n,
          5n,
          1.5,
          new Brine.PyFloat(2),
          "héllo",
          new Uint8Array([0, 255]),
          Buffer.from([1, 2]),
          [1, "a", [2.5, null]]
        ]
        assert.deepStrictEqual(yield* fx(root.describe(...sent)), [
          "null",
          "null",
          "boolean true",
          "boolean false",
          "number 7",
          "number -3",
          `bigint ${2 ** 53 + 2}`,
          `bigint ${2n ** 70n}`,
          "number 5",
          "number 1.5",
          "number 2",
          "string héllo",
          "bytes 0,255",
          "bytes 1,2",
          ["number 1", "string a", ["number 2.5", "null"]]
        ])
        // all of it went as one label-1 value
        assert.strictEqual(lastCallArgs(spy)[0], Label.VALUE)
        // the wrappers round-trip as themselves
        const wrappers = [new Brine.FrozenSet([1, "x"]), new Brine.Slice(1, null, -1), new Brine.Complex(1, -2)]
        const back = (yield* fx(root.echo(wrappers))) as Array<unknown>
        assert.deepStrictEqual(back, wrappers)
        assert.instanceOf(back[0], Brine.FrozenSet)
        assert.instanceOf(back[1], Brine.Slice)
        assert.instanceOf(back[2], Brine.Complex)
        assert.strictEqual(yield* fx(root.echo(Brine.Ellipsis)), Brine.Ellipsis)
        assert.strictEqual(yield* fx(root.echo(Brine.NotImplemented)), Brine.NotImplemented)
        // inbound: what a TS server returns by value
        const values = (yield* fx(root.values())) as Array<unknown>
        assert.deepStrictEqual(values.slice(0, 9), [
          null,
          null,
          true,
          7,
          2n ** 70n,
          1.5,
          2,
          "héllo",
          new Uint8Array([0, 255])
        ])
        assert.deepStrictEqual(values[9], [1, "a", [2.5, null]])
        assert.deepStrictEqual(values[10], new Brine.FrozenSet([1]))
        assert.deepStrictEqual(values[11], new Brine.Slice(1, 9, 2))
        assert.deepStrictEqual(values[12], new Brine.Complex(1, 2))
        assert.strictEqual(values[13], Brine.Ellipsis)
        assert.strictEqual(values[14], Brine.NotImplemented)
      })
  )

  live(
    "a string with a lone surrogate is refused locally (ProtocolError Encode), nothing is sent",
    () =>
      Effect.gen(function*() {
        const { root, spy } = yield* setup()
        const result = yield* Effect.either(fx(root.echo("a\uD800b")))
        assert.isTrue(Either.isLeft(result))
        const e = (result as Either.Left<any, unknown>).left
        assert.strictEqual(e._tag, "ProtocolError")
        assert.strictEqual(e.reason, "Encode")
        assert.deepStrictEqual(spy.names(), [])
        // the connection is fine afterwards
        assert.strictEqual(yield* fx(root.echo("ok")), "ok")
      })
  )

  live(
    "a refused value among calls sent in the same turn costs only its own call: the others are answered",
    () =>
      Effect.gen(function*() {
        const { root } = yield* setup()
        const results = yield* Effect.promise(() =>
          Promise.allSettled([root.echo("first"), root.echo("a\uD800b"), root.echo("third")])
        )
        assert.deepStrictEqual(results.map((r) => r.status), ["fulfilled", "rejected", "fulfilled"])
        assert.strictEqual((results[0] as PromiseFulfilledResult<unknown>).value, "first")
        assert.strictEqual((results[2] as PromiseFulfilledResult<unknown>).value, "third")
        assert.strictEqual((results[1] as PromiseRejectedResult).reason.reason, "Encode")
      })
  )

  live(
    "by reference: objects, instances, Maps, Sets, functions, classes, byRef arrays, errors",
    () =>
      Effect.gen(function*() {
        const { root, spy, service } = yield* setup()
        const obj = { a: 1 }
        const w = new Widget(2)
        const map = new Map([["k", 1]])
        const set = new Set([1])
        const fn = (x: number) => x + 1
        const arr = byRef([1, 2])
        const err = new RangeError("r")
        assert.deepStrictEqual(yield* fx(root.describe(obj, w, map, set, fn, Widget, arr, err)), [
          "netref builtins.dict",
          "netref builtins.object",
          "netref builtins.dict",
          "netref builtins.set",
          "netref builtins.function",
          "netref js.Widget",
          "netref builtins.list",
          "netref builtins.Exception"
        ])
        // the argument tuple went as label 2 with one label-4 box per reference
        const args = lastCallArgs(spy) as [number, Array<[number, unknown]>]
        assert.strictEqual(args[0], Label.TUPLE)
        assert.deepStrictEqual(args[1].map((b) => b[0]), Array(8).fill(Label.REMOTE_REF))
        // a tuple holding a reference: items boxed one by one
        assert.deepStrictEqual(yield* fx(root.describe([1, obj])), [["number 1", "netref builtins.dict"]])
        const inner = lastCallArgs(spy) as [number, Array<[number, unknown]>]
        assert.strictEqual(inner[1][0]![0], Label.TUPLE)
        // what comes back is the very same local object (label 3 on the way back)
        for (const v of [obj, w, map, set, fn, Widget, arr, err]) {
          assert.strictEqual(yield* fx(root.echo(v)), v)
        }
        const echoed = yield* fx(root.echo([obj, [w]]))
        assert.strictEqual(echoed[0], obj)
        assert.strictEqual(echoed[1][0], w)
        // the server saw netrefs, one per object (sent twice: the same netref)
        assert.isTrue(yield* fx(root.same(obj, obj)))
        assert.isFalse(yield* fx(root.same(obj, { a: 1 })))
        assert.isTrue(service.received.every((r) => Netref.isNetref(r) || Array.isArray(r)))
        // without byRef an array is a tuple: a copy, by value
        assert.deepStrictEqual(yield* fx(root.describe([1, 2])), [["number 1", "number 2"]])
        const copy = [1, 2]
        assert.notStrictEqual(yield* fx(root.echo(copy)), copy)
      })
  )

  live("inbound references: the TS client gets netrefs with Pythonic name_packs", () =>
    Effect.gen(function*() {
      const { root } = yield* setup({ allowPublicAttrs: true })
      const refs = (yield* fx(root.refs())) as Array<unknown>
      assert.deepStrictEqual(refs.map((r) => Netref.isNetref(r) ? Operations.typeName(r as Netref.Netref) : r), [
        "builtins.dict",
        "builtins.object",
        "builtins.dict",
        "builtins.set",
        "builtins.function",
        "js.Widget",
        "builtins.list",
        "builtins.Exception"
      ])
      const [obj, w, map, set, fn, W, arr] = refs as Array<any>
      assert.strictEqual(yield* fx(obj.a), 1)
      assert.strictEqual(yield* fx(w.size), 3)
      assert.strictEqual(yield* fx(Operations.getitem(map, "k")), 1)
      assert.isTrue(yield* fx(Operations.contains(set, 1)))
      assert.strictEqual(yield* fx(fn()), 1)
      assert.strictEqual(yield* fx((yield* fx(new W(9))).size), 9)
      assert.deepStrictEqual(yield* collect(arr), [1, 2])
    }))

  live("obtain() from a TS peer that allows pickling: one PICKLE round trip, plain data", () =>
    Effect.gen(function*() {
      const { root, spy } = yield* setup({ allowPickle: true })
      const plain = yield* fx(root.plain())
      spy.clear()
      const copy = (yield* Operations.obtain(plain)) as Record<string, any>
      assert.deepStrictEqual(spy.names(), ["PICKLE"])
      assert.deepStrictEqual(copy.list, [1, 2.5, "x", null, true])
      assert.deepStrictEqual(copy.nested, { tuple: [1, 2] })
      assert.deepStrictEqual(copy.bytes, new Uint8Array([1]))
      assert.instanceOf(copy.byNumber, Map)
      assert.deepStrictEqual([...copy.byNumber], [[1, "one"]])
      assert.instanceOf(copy.set, Set)
      assert.deepStrictEqual([...copy.set], [4, 5])
      assert.strictEqual(copy.big, 2n ** 80n)
      assert.isFalse(Netref.isNetref(copy))
      // obtain straight on an operation, and with await
      const list = yield* Effect.promise(() => Operations.obtain(root.plain_list()) as PromiseLike<unknown>)
      assert.deepStrictEqual(list, [1, 2.5, "x", null, true])
      // a local value is returned as is, without a request
      spy.clear()
      const local = { x: 1 }
      assert.strictEqual(yield* Operations.obtain(local), local)
      assert.deepStrictEqual(spy.names(), [])
      // not plain data (a class instance): a clear error from the peer
      const e = yield* remoteError(Operations.obtain(root.widget()), "TypeError")
      assert.match(String(e.args[0]), /Widget|Unsupported|plain/i)
    }))

  live(
    "obtain() from a TS peer with the default config: ValueError('pickling is disabled')",
    () =>
      Effect.gen(function*() {
        const { root } = yield* setup()
        const e = yield* remoteError(Operations.obtain(root.plain()), "ValueError")
        assert.deepStrictEqual(e.args, ["pickling is disabled"])
      })
  )
})

describePython("values on the wire, TS ↔ Python RPyC 5.3", () => {
  const pySetup = (config: Record<string, unknown> = {}) =>
    Effect.gen(function*() {
      const { port } = yield* pythonServer(config)
      const conn = yield* connect(port)
      const root: any = yield* fx(conn.root)
      return { conn, root }
    })

  live("TS → Python: the Python types of what a TS client sends", () =>
    Effect.gen(function*() {
      const { root } = yield* pySetup()
      const cases: Array<[unknown, unknown]> = [
        [null, ["NoneType", "None"]],
        [undefined, ["NoneType", "None"]],
        [true, ["bool", "True"]],
        [7, ["int", "7"]],
        [2n ** 70n, ["int", String(2n ** 70n)]],
        [2 ** 60, ["int", String(2n ** 60n)]],
        [1.5, ["float", "1.5"]],
        [new Brine.PyFloat(2), ["float", "2.0"]],
        ["héllo", ["str", "'héllo'"]],
        [new Uint8Array([0, 255]), ["bytes", "b'\\x00\\xff'"]],
        [new Brine.FrozenSet([1]), ["frozenset", "frozenset({1})"]],
        [new Brine.Slice(1, 9, 2), ["slice", "slice(1, 9, 2)"]],
        [new Brine.Complex(1, 2), ["complex", "(1+2j)"]],
        [Brine.Ellipsis, ["ellipsis", "Ellipsis"]],
        [Brine.NotImplemented, ["NotImplementedType", "NotImplemented"]],
        [[1, "a"], ["tuple", [["int", "1"], ["str", "'a'"]]]],
        [{ a: 1 }, ["netref", "builtins.dict"]],
        [new Widget(1), ["netref", "builtins.object"]],
        [new Map([["a", 1]]), ["netref", "builtins.dict"]],
        [new Set([1]), ["netref", "builtins.set"]],
        [(x: number) => x, ["netref", "builtins.function"]],
        [Widget, ["netref", "js.Widget"]],
        [byRef([1]), ["netref", "builtins.list"]],
        [[1, { a: 1 }], ["tuple", [["int", "1"], ["netref", "builtins.dict"]]]]
      ]
      for (const [value, expected] of cases) {
        assert.deepStrictEqual(yield* fx(root.describe(value)), expected, `describe(${String(value)})`)
      }
      // round trip: Python sends our own objects back as references we own
      const obj = { a: 1 }
      assert.strictEqual(yield* fx(root.echo(obj)), obj)
      const arr = byRef([1])
      assert.strictEqual(yield* fx(root.echo(arr)), arr)
    }), TIMEOUT)

  live("Python → TS: what a TS client receives", () =>
    Effect.gen(function*() {
      const { root } = yield* pySetup()
      const get = (name: string) => fx(root.value(name))
      assert.isNull(yield* get("none"))
      assert.strictEqual(yield* get("true"), true)
      assert.strictEqual(yield* get("int"), 7)
      assert.strictEqual(yield* get("big"), 2n ** 70n)
      assert.strictEqual(yield* get("neg"), -5)
      assert.strictEqual(yield* get("float"), 1.5)
      assert.strictEqual(yield* get("intfloat"), 2)
      assert.strictEqual(yield* get("str"), "héllo")
      assert.deepStrictEqual(yield* get("bytes"), new Uint8Array([0, 255]))
      assert.deepStrictEqual(yield* get("tuple"), [1, "a", [2.5, null]])
      assert.deepStrictEqual(yield* get("frozenset"), new Brine.FrozenSet([1]))
      assert.deepStrictEqual(yield* get("slice"), new Brine.Slice(1, 9, 2))
      assert.deepStrictEqual(yield* get("complex"), new Brine.Complex(1, 2))
      assert.strictEqual(yield* get("ellipsis"), Brine.Ellipsis)
      assert.strictEqual(yield* get("notimpl"), Brine.NotImplemented)
      for (const [name, type] of [["list", "builtins.list"], ["dict", "builtins.dict"], ["set", "builtins.set"]]) {
        const ref = yield* get(name!)
        assert.isTrue(Netref.isNetref(ref), name)
        assert.strictEqual(Operations.typeName(ref), type)
      }
      const [one, list] = (yield* fx(root.tuple_with_ref())) as [number, unknown]
      assert.strictEqual(one, 1)
      assert.isTrue(Netref.isNetref(list))
      assert.deepStrictEqual(yield* collect(list), [2, 3])
    }), TIMEOUT)

  live("obtain() from Python that allows pickling: PICKLE, plain data copied", () =>
    Effect.gen(function*() {
      const { root } = yield* pySetup({ allow_pickle: true })
      const copy = (yield* Operations.obtain(root.plain_data())) as Record<string, any>
      assert.deepStrictEqual(copy.a, [1, 2.5, "x", null, true])
      assert.deepStrictEqual(copy.b, { nested: [1, 2] })
      assert.deepStrictEqual(copy.c, new Uint8Array([1]))
      assert.instanceOf(copy.d, Map)
      assert.deepStrictEqual([...copy.d], [[1, "one"]])
      assert.deepStrictEqual(copy.e, new Set([4, 5]))
      assert.instanceOf(copy.f, Brine.FrozenSet)
      assert.strictEqual(copy.g, 2n ** 80n)
      assert.deepStrictEqual(yield* Operations.obtain(root.get_list()), [10, 20, 30])
      // not plain data: a local PickleError naming what it met
      const notPlain = yield* Effect.either(Operations.obtain(root.get_point(1, 2)))
      assert.isTrue(Either.isLeft(notPlain))
      const e = (notPlain as Either.Left<any, unknown>).left
      assert.instanceOf(e, Pickle.PickleError)
      assert.strictEqual(e.reason, "Unsupported")
      assert.include(e.message, "Point")
    }), TIMEOUT)

  live(
    "obtain() from Python with pickling disabled (default): ValueError('pickling is disabled')",
    () =>
      Effect.gen(function*() {
        const { root } = yield* pySetup()
        const e = yield* remoteError(Operations.obtain(root.plain_data()), "ValueError")
        assert.deepStrictEqual(e.args, ["pickling is disabled"])
      }),
    TIMEOUT
  )
})
