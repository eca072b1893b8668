/**
 * The TypeScript classic client against Python's `rpyc_classic` 5.3 (the tutorial's Parts 1 and 2).
 */
import { assert, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Classic from "../../src/classic/Classic.js"
import { RemoteError } from "../../src/internal/base/Errors.js"
import type * as Netref from "../../src/internal/netref/Netref.js"
import { kwargs } from "../../src/internal/netref/RemoteOp.js"
import * as Operations from "../../src/netref/Operations.js"
import { TIMEOUT } from "../support/Child.js"
import { pythonClassic, remote } from "../support/Peers.js"
import { describePython } from "../support/Python.js"
import { Collector, connect, connectPython } from "./support.js"

describePython("TS classic client -> Python rpyc_classic", () => {
  it.scopedLive("hello world on the server's stdout; eval and execute", () =>
    Effect.gen(function*() {
      const { conn, child } = yield* connectPython
      assert.strictEqual(conn.peer, "python")
      // print("hello world", file=conn.modules.sys.stdout)
      yield* remote(conn.modules.sys.stdout.write("hello world\n"))
      yield* remote(
        conn.modules.builtins.print(
          "second line",
          kwargs({ file: yield* remote(conn.modules.sys.stdout), flush: true })
        )
      )
      yield* child.waitFor(/^hello world$/, { stream: "stdout", timeout: 10_000 })
      yield* child.waitFor(/^second line$/, { stream: "stdout", timeout: 10_000 })
      yield* remote(conn.execute("import math"))
      assert.strictEqual(yield* remote(conn.eval("2*math.pi")), 6.283185307179586)
      assert.strictEqual(yield* remote(conn.eval("1+1")), 2)
      const error = yield* Effect.flip(remote(conn.eval("undefined_name")))
      assert.instanceOf(error, RemoteError)
      assert.strictEqual((error as RemoteError).name, "NameError")
    }), TIMEOUT)

  it.scopedLive("modules, builtins, namespace", () =>
    Effect.gen(function*() {
      const { conn } = yield* connectPython
      const sys = yield* remote(conn.modules.sys)
      assert.strictEqual(Operations.typeName(sys), "sys")
      const path = yield* remote(conn.modules.sys.path)
      assert.strictEqual(Operations.typeName(path), "builtins.list")
      assert.isTrue(yield* remote(Operations.isinstance(path, "list")))
      const copy = yield* Classic.obtain(path)
      assert.isTrue(Array.isArray(copy))
      assert.strictEqual((copy as Array<unknown>).length, yield* remote(Operations.len(path)))
      // modules by dotted name, cached per name
      assert.strictEqual(yield* remote(conn.modules["os.path"].join("a", "b")), "a/b")
      assert.strictEqual(yield* remote(conn.modules["xml.dom"]), yield* remote(conn.modules["xml.dom"]))
      assert.isTrue(yield* conn.hasModule("math"))
      assert.isFalse(yield* conn.hasModule("no_such_module_xyz"))
      const missing = yield* Effect.flip(remote(conn.modules.no_such_module_xyz))
      assert.strictEqual((missing as RemoteError).name, "ModuleNotFoundError")
      // builtins (and the builtin alias)
      assert.strictEqual(conn.builtin, conn.builtins)
      assert.strictEqual(Operations.typeName(conn.builtins as unknown as Netref.Netref), "builtins")
      assert.strictEqual(yield* remote(conn.builtins.sum([1, 2, 3])), 6)
      assert.strictEqual(yield* remote(conn.builtins.len("four")), 4)
      // the namespace is a dict shared by eval and execute
      assert.strictEqual(Operations.typeName(conn.namespace as unknown as Netref.Netref), "builtins.dict")
      yield* remote(conn.execute("x = 40"))
      assert.strictEqual(yield* remote(Operations.getitem(conn.namespace, "x")), 40)
      yield* remote(Operations.setitem(conn.namespace, "y", 2))
      assert.strictEqual(yield* remote(conn.eval("x + y")), 42)
    }), TIMEOUT)

  it.scopedLive("netrefs: iteration, item access, mutation by reference", () =>
    Effect.gen(function*() {
      const { conn } = yield* connectPython
      yield* remote(conn.execute("xs = [3, 1, 2]"))
      const xs = yield* remote(Operations.getitem(conn.namespace, "xs"))
      const items: Array<unknown> = []
      yield* Effect.promise(async () => {
        for await (const x of xs) items.push(x)
      })
      assert.deepStrictEqual(items, [3, 1, 2])
      yield* remote(xs.append(4))
      yield* remote(xs.sort())
      assert.deepStrictEqual(yield* remote(conn.eval("xs")).pipe(Effect.flatMap((r) => Classic.obtain(r))), [
        1,
        2,
        3,
        4
      ])
      // a TS callback called by Python's map (the tutorial's symmetry)
      const mapped = yield* remote(conn.builtins.map((x: number) => x ** 3, xs))
      const cubes = yield* remote(conn.builtins.list(mapped))
      assert.deepStrictEqual(yield* Classic.obtain(cubes), [1, 8, 27, 64])
    }), TIMEOUT)

  it.scopedLive("the Promise face, and two connections to one server", () =>
    Effect.gen(function*() {
      const { port } = yield* pythonClassic
      const a = yield* Effect.promise(async () => await Classic.connect("127.0.0.1", port))
      const b = yield* connect(port)
      yield* remote(a.execute("only_a = 1"))
      // a Python classic server has one namespace per connection too
      assert.isFalse(yield* remote(Operations.contains(b.namespace, "only_a")))
      yield* Effect.promise(async () => await a.close())
      assert.isTrue(a.closed)
      assert.strictEqual(yield* remote(b.eval("2+2")), 4)
    }), TIMEOUT)

  it.scopedLive("redirectedStdio shows the server's output here, then restores it", () =>
    Effect.gen(function*() {
      const { conn, child } = yield* connectPython
      const out = new Collector()
      const err = new Collector()
      yield* Effect.scoped(Effect.gen(function*() {
        yield* Classic.redirectedStdio(conn, { stdout: out, stderr: err })
        yield* remote(conn.execute("print('redirected out')"))
        yield* remote(conn.execute("import sys; print('redirected err', file=sys.stderr)"))
      }))
      assert.strictEqual(out.text, "redirected out\n")
      assert.strictEqual(err.text, "redirected err\n")
      yield* remote(conn.execute("print('back on the server', flush=True)"))
      yield* child.waitFor(/^back on the server$/, { stream: "stdout", timeout: 10_000 })
      assert.notInclude(child.stdout(), "redirected out")
      assert.strictEqual(out.text, "redirected out\n")
      // the Promise form
      const value = yield* Effect.promise(() =>
        Classic.withRedirectedStdio(conn, async () => {
          await conn.execute("print('inside')")
          return 7
        }, { stdout: out })
      )
      assert.strictEqual(value, 7)
      assert.strictEqual(out.text, "redirected out\ninside\n")
    }), TIMEOUT)

  it.scopedLive("obtain and deliver", () =>
    Effect.gen(function*() {
      const { conn } = yield* connectPython
      const delivered: any = yield* Classic.deliver(conn, { a: [1, 2], b: "text", c: new Uint8Array([1, 2]) })
      assert.strictEqual(Operations.typeName(delivered), "builtins.dict")
      const list = yield* remote(Operations.getitem(delivered, "a"))
      assert.strictEqual(Operations.typeName(list), "builtins.list")
      assert.deepStrictEqual(yield* Classic.obtain(delivered), { a: [1, 2], b: "text", c: new Uint8Array([1, 2]) })
      assert.strictEqual((yield* Classic.deliver(conn, 5)) as unknown, 5)
      const bad = yield* Effect.flip(Classic.deliver(conn, { f: () => 1 }))
      assert.strictEqual(bad._tag, "PickleError")
    }), TIMEOUT)
})
