/**
 * Issue 3, item 1 against Python RPyC 5.3.0: every netref operation of a TS client on a Python
 * server's objects (fixtures/netref_server.py), with the wire requests observed through a
 * recording relay.
 */
import { assert } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Netref from "../../src/internal/netref/Netref.js"
import { kwargs } from "../../src/internal/netref/RemoteOp.js"
import * as Brine from "../../src/internal/wire/Brine.js"
import * as Operations from "../../src/netref/Operations.js"
import { TIMEOUT } from "../support/Child.js"
import { connect, remote as fx } from "../support/Peers.js"
import { describePython } from "../support/Python.js"
import { collect, Handler, live, pythonServer, remoteError, wireSpy } from "./support.js"

const setup = (config: Record<string, unknown> = {}) =>
  Effect.gen(function*() {
    const { port } = yield* pythonServer(config)
    const spy = yield* wireSpy(port)
    const conn = yield* connect(spy.port)
    const root: any = yield* fx(conn.root)
    spy.clear()
    return { spy, conn, root }
  })

const calledNames = (spy: { frames: ReadonlyArray<{ dir: string; handler: number | undefined; args: unknown }> }) =>
  spy.frames.filter((f) => f.dir === "out" && f.handler === Handler.CALLATTR)
    .map((f) => (f.args as [number, Array<[number, unknown]>])[1][1]![1])

describePython("netref operations against a Python RPyC 5.3 server", () => {
  live("attribute read (GETATTR), missing attribute, exposed_ redirection", () =>
    Effect.gen(function*() {
      const { root, spy } = yield* setup()
      assert.strictEqual(yield* fx(root.the_answer), 42)
      assert.deepStrictEqual(spy.names(), ["GETATTR"])
      const e = yield* remoteError(root.not_exposed, "AttributeError")
      assert.strictEqual(e.module, "builtins")
      assert.strictEqual(e.remoteVersion, "5.3.0")
      const p = yield* fx(root.get_point(3, 4))
      assert.strictEqual(yield* fx(p.x), 3)
    }), TIMEOUT)

  live("setattr / delattr: refused by Python's default config, done when allowed", () =>
    Effect.gen(function*() {
      const denied = yield* setup()
      const bag = yield* fx(denied.root.bag())
      denied.spy.clear()
      const e = yield* remoteError(Operations.setattr(bag, "color", "blue"), "AttributeError")
      assert.include(e.message, "cannot access 'color'")
      yield* remoteError(Operations.delattr(bag, "color"), "AttributeError")
      assert.deepStrictEqual(denied.spy.names(), ["SETATTR", "DELATTR"])
      // rpyc.Service refuses assignment on the root even when allowed
      const open = yield* setup({ allow_setattr: true, allow_delattr: true, allow_public_attrs: true })
      yield* remoteError(Operations.setattr(open.root, "x", 1), "AttributeError")
      const bag2 = yield* fx(open.root.bag())
      assert.strictEqual(yield* fx(bag2.color), "red")
      yield* fx(Operations.setattr(bag2, "color", "blue"))
      assert.strictEqual(yield* fx(bag2.color), "blue")
      yield* fx(Operations.delattr(bag2, "color"))
      yield* remoteError(bag2.color, "AttributeError")
      // the Proxy traps throw rather than losing the remote outcome
      assert.throws(() => {
        bag2.color = "x"
      }, TypeError)
      assert.throws(() => {
        delete bag2.color
      }, TypeError)
    }), TIMEOUT)

  live("call (CALLATTR / CALL) with keyword arguments", () =>
    Effect.gen(function*() {
      const { root, spy } = yield* setup()
      assert.deepStrictEqual(yield* fx(root.kw(1)), [1, 2, [], 3, []])
      assert.deepStrictEqual(yield* fx(root.kw(1, 5, 6, 7, kwargs({ c: 9, z: "zz" }))), [1, 5, [6, 7], 9, [[
        "z",
        "zz"
      ]]])
      assert.deepStrictEqual(yield* fx(root.kw(kwargs({ a: "A", b: "B" }))), ["A", "B", [], 3, []])
      assert.deepStrictEqual(spy.names(), ["CALLATTR", "CALLATTR", "CALLATTR"])
      const kw = yield* fx(root.kw)
      spy.clear()
      assert.deepStrictEqual(yield* fx(kw(0, kwargs({ c: 1 }))), [0, 2, [], 1, []])
      assert.deepStrictEqual(spy.names(), ["CALL"])
      // an unknown keyword: Python's TypeError
      const e = yield* remoteError(root.get_point(1, kwargs({ q: 1 })), "TypeError")
      assert.include(String(e.args[0]), "unexpected keyword argument")
    }), TIMEOUT)

  live("new / calling a Python class creates a remote instance", () =>
    Effect.gen(function*() {
      const { root, spy } = yield* setup()
      const p = yield* fx(new root.Point(3, 4))
      assert.deepStrictEqual(spy.names(), ["CALLATTR"])
      assert.strictEqual(Operations.typeName(p), "__main__.Point")
      assert.strictEqual(yield* fx(p.norm2()), 25)
      const P = yield* fx(root.Point)
      assert.strictEqual(Number(Netref.stateOf(P)!.idPack[2]), 0, "a class reference has instance id 0")
      spy.clear()
      const q = yield* fx(new P(1, kwargs({ y: 1 })))
      const r = yield* fx(P(6))
      assert.deepStrictEqual(spy.names(), ["CALL", "CALL"])
      assert.strictEqual(yield* fx(q.norm2()), 2)
      assert.strictEqual(yield* fx(r.norm2()), 36)
    }), TIMEOUT)

  live("str, repr, dir, hash (STR, REPR, DIR, HASH)", () =>
    Effect.gen(function*() {
      const { root, spy } = yield* setup()
      const p = yield* fx(root.get_point(3, 4))
      const q = yield* fx(root.get_point(3, 4))
      spy.clear()
      assert.strictEqual(yield* fx(Operations.str(p)), "<3,4>")
      assert.strictEqual(yield* fx(Operations.repr(p)), "Point(3, 4)")
      assert.includeMembers((yield* fx(Operations.dir(p))) as Array<string>, [
        "exposed_norm2",
        "norm2",
        "__eq__",
        "exposed_x"
      ])
      const h = yield* fx(Operations.hash(p))
      assert.strictEqual(h, yield* fx(Operations.hash(q)))
      assert.deepStrictEqual(spy.names(), ["STR", "REPR", "DIR", "HASH", "HASH"])
      // a list's hash: Python's TypeError
      yield* remoteError(Operations.hash(root.get_list()), "TypeError")
    }), TIMEOUT)

  live("comparisons (CMP): ==, <, >= on Python objects; NotImplemented comes back as is", () =>
    Effect.gen(function*() {
      const { root, spy } = yield* setup()
      const a = yield* fx(root.get_point(3, 4))
      const b = yield* fx(root.get_point(3, 4))
      const c = yield* fx(root.get_point(1, 1))
      spy.clear()
      assert.isTrue(yield* fx(Operations.eq(a, b)))
      assert.isFalse(yield* fx(Operations.eq(a, c)))
      assert.isTrue(yield* fx(Operations.cmp(c, a, "__lt__")))
      assert.isTrue(yield* fx(Operations.cmp(a, c, "__ge__")))
      assert.isFalse(yield* fx(Operations.cmp(a, b, "__ne__")))
      assert.deepStrictEqual(spy.names(), ["CMP", "CMP", "CMP", "CMP", "CMP"])
      // a Python list against a JS array: the array is a tuple, list.__eq__(tuple) is NotImplemented
      const list = yield* fx(root.get_list())
      assert.strictEqual(yield* fx(Operations.eq(list, [10, 20, 30])), Brine.NotImplemented)
    }), TIMEOUT)

  live(
    "len, getitem, setitem, delitem, contains on Python lists and dicts (CALLATTR dunders)",
    () =>
      Effect.gen(function*() {
        const { root, spy } = yield* setup()
        const list = yield* fx(root.get_list())
        const dict = yield* fx(root.get_dict())
        spy.clear()
        assert.strictEqual(yield* fx(Operations.len(list)), 3)
        assert.strictEqual(yield* fx(Operations.getitem(list, -1)), 30)
        yield* fx(Operations.setitem(list, 0, 11))
        yield* fx(Operations.delitem(list, 1))
        assert.isTrue(yield* fx(Operations.contains(list, 11)))
        assert.isFalse(yield* fx(Operations.contains(list, 20)))
        assert.deepStrictEqual(calledNames(spy), [
          "__len__",
          "__getitem__",
          "__setitem__",
          "__delitem__",
          "__contains__",
          "__contains__"
        ])
        assert.deepStrictEqual(yield* collect(list), [11, 30])
        yield* remoteError(Operations.getitem(list, 5), "IndexError")
        assert.strictEqual(yield* fx(Operations.getitem(dict, "b")), 2)
        yield* fx(Operations.setitem(dict, "c", [1, 2]))
        assert.deepStrictEqual(yield* fx(Operations.getitem(dict, "c")), [1, 2])
        yield* fx(Operations.delitem(dict, "a"))
        assert.strictEqual(yield* fx(Operations.len(dict)), 2)
        const missing = yield* remoteError(Operations.getitem(dict, "zz"), "KeyError")
        assert.deepStrictEqual(missing.args, ["zz"])
        // slices travel as Brine.Slice
        assert.deepStrictEqual(
          yield* collect(yield* fx(Operations.getitem(root.get_list(), new Brine.Slice(1, null)))),
          [20, 30]
        )
      }),
    TIMEOUT
  )

  live(
    "for await over Python lists, dicts and generators: __iter__/__next__, StopIteration ends the loop",
    () =>
      Effect.gen(function*() {
        const { root, spy } = yield* setup()
        const gen = yield* fx(root.gen(4))
        spy.clear()
        assert.deepStrictEqual(yield* collect(gen), [0, 1, 4, 9])
        assert.deepStrictEqual(calledNames(spy), [
          "__iter__",
          "__next__",
          "__next__",
          "__next__",
          "__next__",
          "__next__"
        ])
        const stop = [...spy.frames].reverse().find((f) => f.dir === "in" && f.msg === 3)!
        assert.strictEqual(stop.args, 1, "Python encodes StopIteration as the bare int 1")
        assert.deepStrictEqual(yield* collect(root.get_list()), [10, 20, 30])
        assert.deepStrictEqual(yield* collect(root.get_dict()), ["a", "b"])
        // a Python exception other than StopIteration ends the loop with that error
        const seen: Array<unknown> = []
        const failed = yield* Effect.either(Effect.tryPromise({
          try: async () => {
            for await (const x of root.failing_gen() as AsyncIterable<unknown>) seen.push(x)
          },
          catch: (e) => e as any
        }))
        assert.deepStrictEqual(seen, [1])
        assert.isTrue(Either.isLeft(failed))
        assert.strictEqual((failed as Either.Left<any, unknown>).left.name, "ValueError")
        // and the other way: a JS iterable handed to Python is iterated by Python
        assert.strictEqual(yield* fx(root.sum(new Set([1, 2, 3]))), 6)
        assert.strictEqual(
          yield* fx(root.sum((function*() {
            yield 10
            yield 20
          })())),
          30
        )
      }),
    TIMEOUT
  )

  live("with-style use: __enter__ (CALLATTR) and CTXEXIT → __exit__(None, None, None)", () =>
    Effect.gen(function*() {
      const { root, spy } = yield* setup()
      const ctx = yield* fx(root.context())
      spy.clear()
      const value = yield* Operations.withContext(ctx, (entered) =>
        Effect.gen(function*() {
          assert.deepStrictEqual(yield* fx(root.log()), ["enter"])
          return entered
        }))
      assert.strictEqual(value, "entered")
      assert.deepStrictEqual(yield* fx(root.log()), ["enter", "exit None None None"])
      assert.deepStrictEqual(spy.names(), ["CALLATTR", "CALLATTR", "CTXEXIT", "CALLATTR"])
    }), TIMEOUT)

  live("isinstance: equal class ids locally; INSTANCECHECK answered by Python otherwise", () =>
    Effect.gen(function*() {
      const { root, spy } = yield* setup()
      const P = yield* fx(root.Point)
      const p = yield* fx(root.get_point(1, 2))
      const list = yield* fx(root.get_list())
      const listType = yield* fx(root.list_type)
      spy.clear()
      assert.isTrue(yield* fx(Operations.isinstance(p, P)))
      assert.isTrue(yield* fx(Operations.isinstance(list, "list")))
      assert.deepStrictEqual(spy.names(), [])
      // a class the builtin tree does not know: its MRO is asked for (Python's policy refuses __class__)
      assert.isFalse(yield* fx(Operations.isinstance(p, "list")))
      assert.deepStrictEqual(spy.names(), ["GETATTR"])
      spy.clear()
      // a list against the Point class: different class ids, Python decides
      assert.isFalse(yield* fx(Operations.isinstance(list, P)))
      assert.deepStrictEqual(spy.names(), ["INSTANCECHECK"])
      // the list's own class: equal class ids, local
      assert.strictEqual(Number(Netref.stateOf(listType)!.idPack[2]), 0)
      assert.isTrue(yield* fx(Operations.isinstance(list, listType)))
      // Python's answer for a builtin name_pack: isinstance(<list proxy>, object) is True there
      const objectType = yield* fx(root.object_type)
      spy.clear()
      assert.isTrue(yield* fx(Operations.isinstance(list, objectType)))
      assert.isFalse(yield* fx(Operations.isinstance(list, P)))
      assert.deepStrictEqual(spy.names(), ["INSTANCECHECK", "INSTANCECHECK"])
    }), TIMEOUT)
})
