/**
 * Issue #11, item 5: plain JS data feels like Python's. A plain object (prototype `Object.prototype`
 * or `null`) and a `Map` a TS service returns are `builtins.dict` to the peer: `[k]`, `get`,
 * `keys`, `values`, `items`, `len`, `in`, iteration, `dict(x)` and `obtain` work under the default
 * policy, for a Python RPyC 5.3 client (fixtures/dicts_client.py) and a TS client alike. Class
 * instances keep the attribute policy; `__proto__`, `constructor`, `prototype` and anything
 * inherited are never keys nor attributes.
 */
import { assert, describe } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Operations from "../../src/netref/Operations.js"
import { Service } from "../../src/service/Service.js"
import { TIMEOUT } from "../support/Child.js"
import { connect, remote as fx, serve } from "../support/Peers.js"
import { describePython } from "../support/Python.js"
import { collect, live, pythonClient, remoteError } from "./support.js"

class Widget {
  exposed_name = "w"
  secret = "hidden"
}

class DictService extends Service {
  exposed_plain() {
    return { a: 1, b: 2 }
  }
  exposed_map() {
    return new Map<string, number>([["a", 1], ["b", 2]])
  }
  exposed_bare() {
    const o = Object.create(null) as Record<string, unknown>
    o.x = 1
    return o
  }
  exposed_nested() {
    return { inner: { x: 1 } }
  }
  exposed_tricky() {
    return JSON.parse("{\"__proto__\": {\"polluted\": true}, \"constructor\": \"c\", \"prototype\": \"p\", \"ok\": 1}")
  }
  exposed_api() {
    return { exposed_greet: (who: string) => `hello ${who}` }
  }
  exposed_widget() {
    return new Widget()
  }
}

type Check = { value?: unknown; error?: string; str?: string }
type DictsResult = { checks: Record<string, Check>; inspected: Array<string>; name_packs: Record<string, string> }

const value = (r: DictsResult, name: string): unknown => {
  const c = r.checks[name]
  assert.isDefined(c, `no check ${name}`)
  assert.isUndefined(c!.error, `${name}: Python raised ${c!.error}: ${c!.str}`)
  return c!.value
}

const raised = (r: DictsResult, name: string): string => {
  const c = r.checks[name]
  assert.isDefined(c?.error, `${name}: expected an exception, got ${JSON.stringify(c?.value)}`)
  return c!.error!
}

const serveDicts = (allowPickle = true) => serve(DictService, { protocolConfig: { allowPickle } })

describePython("a Python RPyC 5.3 client reads plain objects and Maps as dicts", () => {
  live("every dict read, dict(x) and obtain, on a plain object and on a Map", () =>
    Effect.gen(function*() {
      const server = yield* serveDicts()
      const r = yield* pythonClient<DictsResult>("dicts_client.py", String(server.port))
      assert.deepStrictEqual(
        [r.name_packs.plain, r.name_packs.map, r.name_packs.bare, r.name_packs.nested, r.name_packs.widget],
        ["builtins.dict", "builtins.dict", "builtins.dict", "builtins.dict", "builtins.object"]
      )
      assert.deepStrictEqual(r.inspected.filter((p) => !p.startsWith("js.DictService")), [], "no INSPECT for dicts")
      for (const kind of ["plain", "map"]) {
        assert.deepStrictEqual(value(r, `${kind}_type`), ["dict", true], kind)
        assert.deepStrictEqual(value(r, `${kind}_getitem`), [1, 2], kind)
        assert.strictEqual(raised(r, `${kind}_missing`), "KeyError", kind)
        assert.deepStrictEqual(value(r, `${kind}_get`), [1, null, 9], kind)
        assert.deepStrictEqual(value(r, `${kind}_keys`), ["a", "b"], kind)
        assert.deepStrictEqual(value(r, `${kind}_values`), [1, 2], kind)
        assert.deepStrictEqual(value(r, `${kind}_items`), [["a", 1], ["b", 2]], kind)
        assert.strictEqual(value(r, `${kind}_len`), 2, kind)
        assert.strictEqual(value(r, `${kind}_bool`), true, kind)
        assert.deepStrictEqual(value(r, `${kind}_in`), [true, false], kind)
        assert.deepStrictEqual(value(r, `${kind}_iter`), ["a", "b"], kind)
        assert.deepStrictEqual(value(r, `${kind}_dict`), [["a", 1], ["b", 2]], kind)
        assert.deepStrictEqual(value(r, `${kind}_obtain`), [["a", 1], ["b", 2]], kind)
        assert.strictEqual(value(r, `${kind}_repr`), "{'a': 1, 'b': 2}", kind)
      }
      assert.deepStrictEqual(value(r, "bare_dict"), { x: 1 })
      assert.deepStrictEqual(value(r, "nested"), ["dict", 1, { x: 1 }])
      // a dict, not an attribute bag; read-only
      assert.strictEqual(raised(r, "plain_attr"), "AttributeError")
      assert.strictEqual(raised(r, "plain_setitem"), "TypeError")
      assert.strictEqual(raised(r, "plain_delitem"), "TypeError")
      // an API object of exposed_ functions works as before
      assert.strictEqual(value(r, "api_call"), "hello py")
      assert.deepStrictEqual(value(r, "api_get"), [null, true])
    }), TIMEOUT)

  live(
    "__proto__, constructor, prototype and Object.prototype members are neither keys nor attributes",
    () =>
      Effect.gen(function*() {
        const server = yield* serveDicts()
        const r = yield* pythonClient<DictsResult>("dicts_client.py", String(server.port))
        for (const key of ["__proto__", "constructor", "prototype", "toString", "hasOwnProperty", "valueOf"]) {
          assert.strictEqual(raised(r, `plain_key_${key}`), "KeyError", key)
          assert.strictEqual(value(r, `plain_in_${key}`), false, key)
          assert.strictEqual(value(r, `plain_get_${key}`), "default", key)
          assert.strictEqual(raised(r, `plain_attr_${key}`), "AttributeError", key)
        }
        // own properties with those names (JSON.parse makes them) are not items either
        assert.deepStrictEqual(value(r, "tricky_keys"), ["ok"])
        assert.deepStrictEqual(value(r, "tricky_dict"), { ok: 1 })
        assert.strictEqual(raised(r, "tricky_proto"), "KeyError")
        assert.strictEqual(raised(r, "tricky_constructor"), "KeyError")
      }),
    TIMEOUT
  )

  live("class instances keep the attribute policy", () =>
    Effect.gen(function*() {
      const server = yield* serveDicts()
      const r = yield* pythonClient<DictsResult>("dicts_client.py", String(server.port))
      assert.strictEqual(value(r, "widget_type"), "object")
      assert.strictEqual(value(r, "widget_exposed"), "w")
      assert.strictEqual(raised(r, "widget_hidden"), "AttributeError")
      assert.strictEqual(raised(r, "widget_getitem"), "TypeError")
      assert.strictEqual(raised(r, "widget_keys"), "AttributeError")
    }), TIMEOUT)

  // Pickle.dumps skips the reserved keys of a plain object, as the dict view does
  live(
    "obtain of a plain object leaves out own __proto__ / constructor / prototype keys",
    () =>
      Effect.gen(function*() {
        const server = yield* serveDicts()
        const r = yield* pythonClient<DictsResult>("dicts_client.py", String(server.port))
        assert.deepStrictEqual(value(r, "tricky_obtain"), { ok: 1 })
      }),
    TIMEOUT
  )
})

describe("a TS client reads a TS server's plain objects and Maps as dicts", () => {
  live("getitem, len, contains, keys/values/items/get, iteration, obtain", () =>
    Effect.gen(function*() {
      const server = yield* serveDicts()
      const conn = yield* connect(server.port!)
      const root: any = yield* fx(conn.root)
      for (const kind of ["plain", "map"] as const) {
        const d: any = yield* fx(kind === "plain" ? root.plain() : root.map())
        assert.strictEqual(Operations.typeName(d), "builtins.dict", kind)
        assert.strictEqual(yield* fx(Operations.getitem(d, "a")), 1, kind)
        yield* remoteError(Operations.getitem(d, "zz"), "KeyError")
        assert.strictEqual(yield* fx(Operations.len(d)), 2, kind)
        assert.isTrue(yield* fx(Operations.contains(d, "b")), kind)
        assert.isFalse(yield* fx(Operations.contains(d, "zz")), kind)
        assert.deepStrictEqual(yield* fx(d.keys()), ["a", "b"], kind)
        assert.deepStrictEqual(yield* fx(d.values()), [1, 2], kind)
        assert.deepStrictEqual(yield* fx(d.items()), [["a", 1], ["b", 2]], kind)
        assert.deepStrictEqual([yield* fx(d.get("a")), yield* fx(d.get("zz")), yield* fx(d.get("zz", 9))], [
          1,
          null,
          9
        ])
        assert.deepStrictEqual(yield* collect(d), ["a", "b"], kind)
        assert.deepStrictEqual(yield* Operations.obtain(d), { a: 1, b: 2 }, kind)
        assert.strictEqual(yield* fx(Operations.repr(d)), "{'a': 1, 'b': 2}", kind)
      }
    }), TIMEOUT)

  live("__proto__ and constructor are unreachable as keys and attributes", () =>
    Effect.gen(function*() {
      const server = yield* serveDicts()
      const conn = yield* connect(server.port!)
      const root: any = yield* fx(conn.root)
      const d: any = yield* fx(root.plain())
      for (const key of ["__proto__", "constructor", "prototype", "toString", "hasOwnProperty"]) {
        yield* remoteError(Operations.getitem(d, key), "KeyError")
        assert.isFalse(yield* fx(Operations.contains(d, key)), key)
        yield* remoteError(Operations.getattr(d, key), "AttributeError")
      }
      const tricky: any = yield* fx(root.tricky())
      assert.deepStrictEqual(yield* fx(tricky.keys()), ["ok"])
      assert.strictEqual(yield* fx(Operations.len(tricky)), 1)
      yield* remoteError(Operations.getitem(tricky, "__proto__"), "KeyError")
      yield* remoteError(Operations.getitem(tricky, "constructor"), "KeyError")
      // not even the keys the JS engine would turn into a string
      yield* remoteError(Operations.getitem(yield* fx(root.bare()), 0), "KeyError")
    }), TIMEOUT)

  live("class instances keep the attribute policy; obtain needs allowPickle", () =>
    Effect.gen(function*() {
      const server = yield* serveDicts()
      const conn = yield* connect(server.port!)
      const root: any = yield* fx(conn.root)
      const w: any = yield* fx(root.widget())
      assert.strictEqual(Operations.typeName(w), "builtins.object")
      assert.strictEqual(yield* fx(w.name), "w")
      yield* remoteError(w.secret, "AttributeError")
      yield* remoteError(Operations.getitem(w, "secret"), "AttributeError")
      yield* remoteError(w.keys(), "AttributeError")

      const denied = yield* serveDicts(false)
      const conn2 = yield* connect(denied.port!)
      const root2: any = yield* fx(conn2.root)
      const result = yield* Effect.either(Operations.obtain(root2.plain()))
      assert.isTrue(Either.isLeft(result))
      assert.include(String((result as Either.Left<any, unknown>).left.message), "pickling is disabled")
    }), TIMEOUT)
})
