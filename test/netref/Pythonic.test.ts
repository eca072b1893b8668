/**
 * Issue 3, item 3: exports to Python look Pythonic. The name_packs of exported JS values let a
 * Python peer build working proxies without INSPECT; other objects answer INSPECT with the dunders
 * they support; a real Python RPyC 5.3 client len()s, indexes, iterates and calls what a TS server
 * returns (fixtures/pythonic_client.py).
 */
import { assert, describe } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { byRef } from "../../src/internal/engine/Engine.js"
import * as Netref from "../../src/internal/netref/Netref.js"
import * as Operations from "../../src/netref/Operations.js"
import { Service } from "../../src/service/Service.js"
import { TIMEOUT } from "../support/Child.js"
import { connect, remote as fx, serve } from "../support/Peers.js"
import { describePython } from "../support/Python.js"
import { Handler, live, pythonClient, remoteError } from "./support.js"

class Deck {
  readonly cards: Array<string>
  constructor(n: number) {
    this.cards = Array.from({ length: n }, (_, i) => `card${i}`)
  }
  __len__() {
    return this.cards.length
  }
  __getitem__(i: number) {
    if (i < 0 || i >= this.cards.length) throw new RangeError("deck index out of range")
    return this.cards[i]
  }
  *[Symbol.iterator]() {
    yield* this.cards
  }
  exposed_top() {
    return this.cards[0]
  }
  __str__() {
    return `Deck of ${this.cards.length}`
  }
}

class Greeter {
  exposed_greet(who: string) {
    return `hello ${who}`
  }
  secret() {
    return "no"
  }
}

class Countdown {
  constructor(readonly from: number) {}
  *[Symbol.iterator]() {
    for (let i = this.from; i > 0; i--) yield i
  }
}

class Ctx {
  constructor(readonly log: Array<string>) {}
  __enter__() {
    this.log.push("enter")
    return "entered"
  }
  __exit__(type: unknown) {
    this.log.push(`exit ${String(type)}`)
    return false
  }
}

class Disposable {
  constructor(readonly log: Array<string>) {}
  [Symbol.dispose]() {
    this.log.push("disposed")
  }
}

class PythonicService extends Service {
  readonly log: Array<string> = []
  readonly shared = byRef([1])
  exposed_Deck = Deck
  exposed_array() {
    return byRef([1, 2, 3])
  }
  exposed_same_array() {
    return this.shared
  }
  exposed_tuple() {
    return [1, 2, 3]
  }
  exposed_map() {
    return new Map<string, number>([["a", 1], ["b", 2]])
  }
  exposed_set() {
    return new Set([1, 2])
  }
  exposed_fn() {
    return (a: number, b = 10) => a + b
  }
  exposed_kwfn() {
    return (...args: Array<unknown>) => JSON.stringify(args)
  }
  async exposed_apply(f: (x: number) => PromiseLike<number>, x: number) {
    return await f(x)
  }
  exposed_deck() {
    return new Deck(2)
  }
  exposed_greeter() {
    return new Greeter()
  }
  exposed_gen(n: number) {
    return (function*() {
      for (let i = 0; i < n; i++) yield i
    })()
  }
  exposed_agen(n: number) {
    return (async function*() {
      for (let i = 0; i < n; i++) yield `a${i}`
    })()
  }
  exposed_countdown(n: number) {
    return new Countdown(n)
  }
  exposed_error() {
    return new TypeError("an error object")
  }
  exposed_ctx() {
    return new Ctx(this.log)
  }
  exposed_disposable() {
    return new Disposable(this.log)
  }
  exposed_log() {
    return [...this.log]
  }
}

type Check = { value?: unknown; error?: string; str?: string }
type PythonicResult = {
  checks: Record<string, Check>
  inspected: Array<string>
  name_packs: Record<string, string>
}

/** The value of a check (fails the test with the Python error otherwise). */
const value = (r: PythonicResult, name: string): unknown => {
  const c = r.checks[name]
  assert.isDefined(c, `no check ${name}`)
  assert.isUndefined(c!.error, `${name}: Python raised ${c!.error}: ${c!.str}`)
  return c!.value
}

/** The Python exception class of a check. */
const raised = (r: PythonicResult, name: string): string => {
  const c = r.checks[name]
  assert.isDefined(c?.error, `${name}: expected an exception, got ${JSON.stringify(c?.value)}`)
  return c!.error!
}

describe("INSPECT answered by a TS peer", () => {
  live(
    "builtins name_packs for plain kinds; js.<Class> with the supported dunders otherwise",
    () =>
      Effect.gen(function*() {
        const server = yield* serve(PythonicService)
        const conn = yield* connect(server.port!)
        const root: any = yield* fx(conn.root)
        const inspect = (ref: unknown) =>
          Effect.map(
            fx(conn.request(Handler.INSPECT, [Netref.stateOf(ref)!.idPack])),
            (pairs) =>
              (pairs as Array<[string, unknown]>).map(([name, doc]) => {
                assert.isNull(doc)
                return name
              })
          )
        const kinds = {
          array: yield* fx(root.array()),
          map: yield* fx(root.map()),
          set: yield* fx(root.set()),
          fn: yield* fx(root.fn()),
          method: yield* fx(root.array),
          gen: yield* fx(root.gen(1)),
          agen: yield* fx(root.agen(1)),
          error: yield* fx(root.error()),
          greeter: yield* fx(root.greeter()),
          deck: yield* fx(root.deck()),
          Deck: yield* fx(root.Deck),
          countdown: yield* fx(root.countdown(1)),
          ctx: yield* fx(root.ctx())
        }
        const packs = Object.fromEntries(Object.entries(kinds).map(([k, v]) => [k, Operations.typeName(v)]))
        assert.deepStrictEqual(packs, {
          array: "builtins.list",
          map: "builtins.dict",
          set: "builtins.set",
          fn: "builtins.function",
          method: "builtins.method",
          gen: "builtins.generator",
          agen: "builtins.generator",
          error: "builtins.Exception",
          greeter: "builtins.object",
          deck: "js.Deck",
          Deck: "js.Deck",
          countdown: "js.Countdown",
          ctx: "js.Ctx"
        })
        assert.strictEqual(Number(Netref.stateOf(kinds.Deck)!.idPack[2]), 0, "a class: instance id 0")
        assert.strictEqual(
          String(Netref.stateOf(kinds.Deck)!.idPack[1]),
          String(Netref.stateOf(kinds.deck)!.idPack[1]),
          "an instance carries its class's id"
        )
        assert.includeMembers(yield* inspect(kinds.deck), ["__len__", "__getitem__", "__iter__", "__str__"])
        assert.includeMembers(yield* inspect(kinds.Deck), ["__call__"])
        assert.includeMembers(yield* inspect(kinds.countdown), ["__iter__"])
        assert.includeMembers(yield* inspect(kinds.ctx), ["__enter__", "__exit__"])
        assert.includeMembers(yield* inspect(kinds.array), [
          "__len__",
          "__getitem__",
          "__setitem__",
          "__delitem__",
          "__contains__",
          "__iter__"
        ])
        assert.includeMembers(yield* inspect(kinds.map), ["__len__", "__getitem__", "__contains__", "__iter__"])
        assert.includeMembers(yield* inspect(kinds.fn), ["__call__"])
        assert.includeMembers(yield* inspect(kinds.gen), ["__iter__", "__next__"])
        assert.notInclude(yield* inspect(kinds.greeter), "__call__")
        assert.notInclude(yield* inspect(kinds.deck), "__proto__")
        // INSPECT of an id_pack never exported: KeyError
        yield* remoteError(conn.request(Handler.INSPECT, [["js.Deck", 1, 999_999]]), "KeyError")
      })
  )
})

describePython("a Python RPyC 5.3 client uses TS exports as Python objects", () => {
  live(
    "len, index, iterate, call, with — on arrays, Maps, Sets, functions, classes, instances, generators",
    () =>
      Effect.gen(function*() {
        const server = yield* serve(PythonicService)
        const r = yield* pythonClient<PythonicResult>("pythonic_client.py", String(server.port))

        // name_packs Python saw, and INSPECT only for the js.* ones
        assert.deepStrictEqual(r.name_packs, {
          array: "builtins.list",
          map: "builtins.dict",
          set: "builtins.set",
          fn: "builtins.function",
          kwfn: "builtins.function",
          method: "builtins.method",
          Deck: "js.Deck",
          deck_instance: "js.Deck",
          deck: "js.Deck",
          greeter: "builtins.object",
          generator: "builtins.generator",
          async_generator: "builtins.generator",
          iterable: "js.Countdown",
          error: "builtins.Exception",
          ctx: "js.Ctx",
          disposable: r.name_packs.disposable!
        })
        const inspected = r.inspected.filter((p) => !p.startsWith("js.PythonicService"))
        assert.isTrue(inspected.every((p) => p.startsWith("js.")), `INSPECT only for js.* name_packs: ${inspected}`)
        assert.includeMembers(inspected, ["js.Deck", "js.Countdown", "js.Ctx"])

        // arrays by reference
        assert.strictEqual(value(r, "array_len"), 3)
        assert.deepStrictEqual(value(r, "array_index"), [1, 3])
        assert.deepStrictEqual(value(r, "array_slice"), [2, 3])
        assert.deepStrictEqual(value(r, "array_iter"), [1, 2, 3])
        assert.deepStrictEqual(value(r, "array_contains"), [true, false])
        assert.strictEqual(value(r, "array_bool"), true)
        assert.strictEqual(raised(r, "array_index_error"), "IndexError")
        assert.deepStrictEqual(value(r, "array_setitem"), [100, 2, 3])
        assert.strictEqual(raised(r, "array_append_denied"), "AttributeError")
        assert.strictEqual(value(r, "array_sum"), 105)
        assert.deepStrictEqual(value(r, "array_sorted"), [2, 3, 100])
        assert.deepStrictEqual(value(r, "tuple"), ["tuple", [1, 2, 3]])
        // Maps
        assert.strictEqual(value(r, "map_len"), 2)
        assert.strictEqual(value(r, "map_getitem"), 2)
        assert.strictEqual(raised(r, "map_keyerror"), "KeyError")
        assert.deepStrictEqual(value(r, "map_iter"), ["a", "b"])
        assert.deepStrictEqual(value(r, "map_contains"), [true, false])
        assert.strictEqual(value(r, "map_setitem"), 3)
        assert.deepStrictEqual(value(r, "map_delitem"), ["b", "c"])
        assert.deepStrictEqual(value(r, "map_keys"), ["b", "c"])
        // Sets
        assert.strictEqual(value(r, "set_len"), 2)
        assert.deepStrictEqual(value(r, "set_contains"), [true, false])
        assert.deepStrictEqual(value(r, "set_iter"), [1, 2])
        // functions
        assert.strictEqual(value(r, "fn_call"), 3)
        assert.strictEqual(value(r, "fn_default"), 15)
        assert.strictEqual(value(r, "fn_kwargs"), JSON.stringify([1, { b: 2, c: "x" }]))
        assert.strictEqual(value(r, "fn_pass_python_callback"), 42)
        assert.deepStrictEqual(value(r, "method_call"), [1, 2, 3])
        // classes and instances
        assert.strictEqual(value(r, "class_construct_len"), 3)
        assert.deepStrictEqual(value(r, "class_instance_index"), ["card0", "card2"])
        assert.deepStrictEqual(value(r, "class_instance_iter"), ["card0", "card1", "card2"])
        assert.strictEqual(raised(r, "class_instance_index_error"), "IndexError")
        assert.strictEqual(value(r, "class_instance_exposed"), "card0")
        assert.strictEqual(value(r, "deck_len"), 2)
        assert.strictEqual(value(r, "greeter"), "hello py")
        assert.strictEqual(raised(r, "greeter_hidden"), "AttributeError")
        // generators and iterables
        assert.strictEqual(value(r, "gen_next"), 0)
        assert.deepStrictEqual(value(r, "gen_rest"), [1, 2])
        assert.deepStrictEqual(value(r, "async_gen"), ["a0", "a1", "a2"])
        assert.deepStrictEqual(value(r, "iterable_class"), [3, 2, 1])
        assert.strictEqual(value(r, "error_str"), "an error object")
        // with: __enter__ via CALLATTR, __exit__ via CTXEXIT
        assert.deepStrictEqual(value(r, "with_dunders"), ["entered", ["enter"], ["enter", "exit null"]])
        // str/repr/hash/==
        assert.strictEqual(value(r, "str_deck"), "Deck of 3")
        assert.match(String(value(r, "repr_map")), /^\{'\w+': \d+(, '\w+': \d+)*\}$/)
        assert.strictEqual(value(r, "eq_same"), true)
        assert.strictEqual(value(r, "hash_stable"), true)
      }),
    TIMEOUT
  )

  // Regression (was a bug: src/protocol/LocalObjects.ts, hasPythonProtocol/idPackOf): an object whose only Python
  // protocol is Symbol.dispose / Symbol.asyncDispose is exported as "builtins.object", so a Python
  // peer builds the plain `object` proxy (no __enter__) and `with proxy:` raises TypeError /
  // AttributeError, although Pythonic.ts maps disposables to context managers (DISPOSABLE table)
  // and answers __enter__/__exit__ for them. Expected: name_pack "js.<Class>" (INSPECT lists
  // __enter__/__exit__) and `with` works, disposing the object.
  live("a JS disposable is a context manager for Python: `with proxy:` disposes it", () =>
    Effect.gen(function*() {
      const server = yield* serve(PythonicService)
      const r = yield* pythonClient<PythonicResult>("pythonic_client.py", String(server.port))
      assert.notStrictEqual(r.name_packs.disposable, "builtins.object")
      assert.include(value(r, "with_disposable") as Array<string>, "disposed")
    }), TIMEOUT)
})
