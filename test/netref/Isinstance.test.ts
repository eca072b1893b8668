/**
 * Issue #12, item 10: `Operations.isinstance` answers as RPyC's netrefs do
 * (rpyc/core/netref.py `BaseNetref.__instancecheck__`, protocol.py `_handle_instancecheck`):
 *
 * - a local value against a remote builtin class is checked locally against the class it names
 *   (a JS number against Python's `int`);
 * - a remote *instance* as the class is a TypeError, raised locally (nothing is sent);
 * - the string form knows Python's builtin subclassing (`RuntimeError` is an `Exception`), and walks
 *   `__class__.__mro__` of other classes when the owner allows it;
 * - class ids are compared locally across connections, as Python compares them.
 */
import { assert, describe } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { byRef } from "../../src/internal/engine/Engine.js"
import * as Brine from "../../src/internal/wire/Brine.js"
import * as Operations from "../../src/netref/Operations.js"
import { Service } from "../../src/service/Service.js"
import { TIMEOUT } from "../support/Child.js"
import { connect, pythonServer, remote as fx, serve } from "../support/Peers.js"
import { describePython } from "../support/Python.js"
import { fixture, live, remoteError, wireSpy } from "./support.js"

const NOT_A_CLASS = "isinstance() arg 2 must be a class, type, or tuple of classes and types"

const isinstanceServer = (config: Record<string, unknown> = {}) =>
  pythonServer(fixture("isinstance_server.py"), [JSON.stringify(config)])

/** A client (behind a recording relay) of a server on `port`. */
const client = (port: number) =>
  Effect.gen(function*() {
    const spy = yield* wireSpy(port)
    const conn = yield* connect(spy.port)
    const root: any = yield* fx(conn.root)
    return { spy, conn, root }
  })

const check = (x: unknown, cls: unknown) => fx<boolean>(Operations.isinstance(x, cls as any))

describePython("isinstance against a Python RPyC 5.3 server", () => {
  live("a local value against a remote builtin class: checked locally, as RPyC does", () =>
    Effect.gen(function*() {
      const { port } = yield* isinstanceServer()
      const { root, spy } = yield* client(port)
      const int = yield* fx(root.int_type)
      const bool = yield* fx(root.bool_type)
      const float = yield* fx(root.float_type)
      const str = yield* fx(root.str_type)
      const object = yield* fx(root.object_type)
      const list = yield* fx(root.list_type)
      const Foo = yield* fx(root.Foo)
      spy.clear()
      assert.isTrue(yield* check(5, int))
      assert.isTrue(yield* check(2n ** 70n, int))
      assert.isTrue(yield* check(true, int), "bool is a subclass of int")
      assert.isTrue(yield* check(false, bool))
      assert.isFalse(yield* check(5, bool))
      assert.isFalse(yield* check("5", int))
      assert.isTrue(yield* check(1.5, float))
      assert.isTrue(yield* check(new Brine.PyFloat(2), float))
      assert.isFalse(yield* check(1.5, int))
      assert.isTrue(yield* check("s", str))
      assert.isTrue(yield* check(null, object))
      assert.isTrue(yield* check({ a: 1 }, object))
      assert.isTrue(yield* check(byRef([1]), list), "an array by reference is a list")
      assert.isTrue(yield* check([1], list), "an array is a list (and a tuple: it travels as one)")
      assert.isFalse(yield* check(5, Foo), "a local value is never an instance of a non-builtin remote class")
      assert.deepStrictEqual(spy.names(), [], "nothing sent")
    }), TIMEOUT)

  live("a remote instance as the class is a TypeError, raised locally", () =>
    Effect.gen(function*() {
      const { port } = yield* isinstanceServer()
      const { root, spy } = yield* client(port)
      const foo = yield* fx(root.foo())
      const foo2 = yield* fx(root.foo())
      const bar = yield* fx(root.bar())
      const list = yield* fx(root.get_list())
      spy.clear()
      for (const [x, cls] of [[list, foo], [foo2, foo], [bar, foo], [5, foo], ["s", list]] as const) {
        const e = yield* remoteError(Operations.isinstance(x, cls as any), "TypeError")
        assert.deepStrictEqual(e.args, [NOT_A_CLASS])
      }
      assert.deepStrictEqual(spy.names(), [], "nothing sent")
    }), TIMEOUT)

  live("the string form knows Python's builtin subclassing", () =>
    Effect.gen(function*() {
      const { port } = yield* isinstanceServer()
      const { root, spy } = yield* client(port)
      const runtime = yield* fx(root.runtime_error())
      const key = yield* fx(root.key_error())
      const list = yield* fx(root.get_list())
      spy.clear()
      for (const name of ["RuntimeError", "Exception", "BaseException", "object", "builtins.Exception"]) {
        assert.isTrue(yield* check(runtime, name), name)
      }
      for (const name of ["ValueError", "KeyError", "list", "int"]) assert.isFalse(yield* check(runtime, name), name)
      for (const name of ["KeyError", "LookupError", "Exception"]) assert.isTrue(yield* check(key, name), name)
      assert.isFalse(yield* check(key, "IndexError"))
      assert.isTrue(yield* check(list, "object"))
      assert.isFalse(yield* check(list, "tuple"))
      // local values, typed as they travel
      assert.isTrue(yield* check(5, "int"))
      assert.isTrue(yield* check(true, "int"))
      assert.isTrue(yield* check(1.5, "float"))
      assert.isTrue(yield* check("s", "str"))
      assert.isTrue(yield* check([1], "tuple"))
      assert.isTrue(yield* check([1], "list"))
      assert.isFalse(yield* check(byRef([1]), "tuple"))
      assert.isTrue(yield* check(new Map(), "dict"))
      assert.isTrue(yield* check({}, "dict"))
      assert.isTrue(yield* check(new Error("x"), "BaseException"))
      assert.isFalse(yield* check(5, "str"))
      assert.deepStrictEqual(spy.names(), [], "builtin classes need no request")
    }), TIMEOUT)

  live(
    "the string form walks __class__.__mro__ of other classes when the owner allows it",
    () =>
      Effect.gen(function*() {
        // Python's default config refuses __class__: only the exact name matches, no failure
        const strict = yield* isinstanceServer()
        const s = yield* client(strict.port)
        const mine = yield* fx(s.root.my_error())
        assert.isTrue(yield* check(mine, "__main__.MyError"))
        assert.isTrue(yield* check(mine, "object"))
        assert.isFalse(yield* check(mine, "KeyError"))
        // allow_all_attrs (classic mode): the MRO is read from the owner
        const open = yield* isinstanceServer({ allow_all_attrs: true })
        const o = yield* client(open.port)
        const mine2 = yield* fx(o.root.my_error())
        const ordered = yield* fx(o.root.ordered())
        o.spy.clear()
        for (const name of ["__main__.MyError", "KeyError", "LookupError", "Exception", "BaseException"]) {
          assert.isTrue(yield* check(mine2, name), name)
        }
        assert.isFalse(yield* check(mine2, "ValueError"))
        assert.deepStrictEqual(o.spy.names(), ["GETATTR", "GETATTR"], "__class__, then __mro__, once per class")
        assert.isTrue(yield* check(yield* fx(o.root.my_error()), "LookupError"), "another instance: cached")
        assert.deepStrictEqual(o.spy.names(), ["GETATTR", "GETATTR", "CALLATTR"], "only the call to my_error")
        assert.isTrue(yield* check(ordered, "dict"))
        assert.isTrue(yield* check(ordered, "collections.OrderedDict"))
        assert.isFalse(yield* check(ordered, "list"))
      }),
    TIMEOUT
  )

  live("class ids are compared locally across connections, as Python compares them", () =>
    Effect.gen(function*() {
      const { port } = yield* isinstanceServer()
      const a = yield* client(port)
      const b = yield* client(port)
      const Foo = yield* fx(a.root.Foo)
      const fooB = yield* fx(b.root.foo())
      const barB = yield* fx(b.root.bar())
      a.spy.clear()
      b.spy.clear()
      assert.isTrue(yield* check(fooB, Foo), "same class id, another connection")
      assert.isFalse(yield* check(Foo, Foo), "a class is not an instance of itself")
      assert.deepStrictEqual([...a.spy.names(), ...b.spy.names()], [], "decided locally")
      // different class ids: the class's owner decides (INSTANCECHECK on the class's connection)
      assert.isFalse(yield* check(barB, Foo))
      assert.deepStrictEqual(a.spy.names(), ["INSTANCECHECK"])
    }), TIMEOUT)
})

class Widget {
  exposed_size = 1
}

class IsinstanceService extends Service {
  exposed_Widget = Widget
  exposed_widget() {
    return new Widget()
  }
  exposed_error() {
    return new TypeError("t")
  }
  exposed_map() {
    return new Map()
  }
}

describe("isinstance against a TS server", () => {
  live(
    "remote instance as the class: TypeError; local values; builtin subclassing; across connections",
    () =>
      Effect.gen(function*() {
        const server = yield* serve(IsinstanceService)
        const a = yield* client(server.port!)
        const b = yield* client(server.port!)
        const W = yield* fx(a.root.Widget)
        const w = yield* fx(a.root.widget())
        const wB = yield* fx(b.root.widget())
        const error = yield* fx(a.root.error())
        const map = yield* fx(a.root.map())
        a.spy.clear()
        b.spy.clear()
        for (const [x, cls] of [[wB, w], [5, w], [map, error]] as const) {
          const e = yield* remoteError(Operations.isinstance(x, cls as any), "TypeError")
          assert.deepStrictEqual(e.args, [NOT_A_CLASS])
        }
        assert.isFalse(yield* check(5, W), "a local value is not an instance of a remote JS class")
        for (const name of ["Exception", "BaseException", "object"]) assert.isTrue(yield* check(error, name), name)
        assert.isFalse(yield* check(error, "TypeError"), "JS errors travel as builtins.Exception")
        assert.isTrue(yield* check(map, "dict"))
        assert.isTrue(yield* check(wB, W), "same class id, another connection")
        assert.deepStrictEqual([...a.spy.names(), ...b.spy.names()], [], "decided locally")
      }),
    TIMEOUT
  )
})
