/**
 * teleport: free-variable analysis (unit), JS functions to a TS classic server, Python source to
 * Python's rpyc_classic.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { freeVariables } from "../../src/classic/FreeVariables.js"
import { tokenize } from "../../src/classic/JsTokenizer.js"
import { dedent, functionSource, TeleportError } from "../../src/classic/Teleport.js"
import { RemoteError } from "../../src/internal/base/Errors.js"
import * as Operations from "../../src/netref/Operations.js"
import { TIMEOUT } from "../support/Child.js"
import { remote } from "../support/Peers.js"
import { describePython } from "../support/Python.js"
import { connectPython, connectTs } from "./support.js"

describe("free variables", () => {
  const cases: ReadonlyArray<readonly [string, ReadonlyArray<string>]> = [
    ["function square(x) { return x ** 2 }", []],
    ["(x) => x * factor", ["factor"]],
    ["function f(a, {b, c: d = e}, [g, ...h], ...i) { return a + b + d + g + h + i + j }", ["e", "j"]],
    ["function f() { const o = { a: 1, b, [k]: 2, m() { return this }, get z() { return q } }; return o.a }", [
      "b",
      "k",
      "q"
    ]],
    ["function f(x) { return x ? y : z }", ["y", "z"]],
    ["function f(x) { return { a: x ? y : z, w } }", ["y", "z", "w"]],
    ["function f() { outer: for (const [k, v] of m) { if (k) continue outer; } }", ["m"]],
    ["function f() { try { g() } catch (err) { return err } finally { h() } }", ["g", "h"]],
    ["function f() { class A extends B { static x = 1; y = c; m(p) { return p + this.#q } #q = 1 } return new A() }", [
      "B",
      "c"
    ]],
    ["function f(s) { return `a${s + t}b${`n${u}`}` }", ["t", "u"]],
    ["function f(x) { return x / 2 / y + /re[/]x/g.test(z) }", ["y", "z"]],
    ["async function f() { const m = await import('fs'); return require('os') + Math.max(1) }", ["require", "Math"]],
    ["function f() { let a = 1, b = a + c\n let d = 2; switch (d) { case e: break; default: return a } }", ["c", "e"]],
    ["function f(a = b, c = (d) => d + g) { var h; h = 1; return a + c }", ["b", "g"]],
    ["function f() { for (let i = 0; i < n; i++) { arr[i] = i } }", ["n", "arr"]],
    ["x => ({ a: x, b: y })", ["y"]],
    ["function f() { const {a: {b}, ...rest} = obj; return b + rest }", ["obj"]],
    ["function f() { label: { break label } return x?.y?.[z] ?? w }", ["x", "z", "w"]],
    // what tsx / esbuild emit (minified, with keepNames helpers)
    [
      "function outer(x){const inner=__name(y=>y+1,\"inner\");function deep(){return 1}__name(deep,\"deep\");;return inner(x)+deep()}",
      ["__name"]
    ],
    ["async function* g(xs) { for await (const x of xs) yield x * k }", ["k"]],
    ["function f() { return new.target ?? this ?? arguments }", []]
  ]
  for (const [source, expected] of cases) {
    it(source.slice(0, 60), () => {
      assert.deepStrictEqual(freeVariables(source), expected)
    })
  }

  it("tokenizes regexes, templates and comments", () => {
    const values = tokenize("a = /x\\/[/]/g; // c\nb = `t${c}` /* d */ / 2").map((t) => `${t.type}:${t.value}`)
    assert.deepStrictEqual(values, [
      "name:a",
      "punct:=",
      "regex:/x\\/[/]/g",
      "punct:;",
      "name:b",
      "punct:=",
      "template:`t${",
      "punct:(",
      "name:c",
      "punct:)",
      "template:}`",
      "punct:/",
      "number:2"
    ])
  })

  it("function sources: declarations, arrows, methods, classes; refusals", () => {
    const o = {
      meth(a: number) {
        return a
      },
      async am() {},
      *g() {},
      async *ag() {}
    }
    assert.match(functionSource(o.meth).source, /^function meth\(/)
    assert.match(functionSource(o.am).source, /^async function am\(/)
    assert.match(functionSource(o.g).source, /^function\* g\(/)
    assert.match(functionSource(o.ag).source, /^async function\* ag\(/)
    assert.match(functionSource((x: number) => x).source, /=>/)
    assert.strictEqual(functionSource(class K {}).name, "K")
    assert.throws(() => functionSource(Math.max), /native or bound/)
    assert.throws(() => functionSource(o.meth.bind(o)), /native or bound/)
  })

  it("dedent", () => {
    assert.strictEqual(dedent("\n    def f(x):\n        return x\n"), "def f(x):\n    return x\n")
  })
})

function square(x: number) {
  return x ** 2
}

describe("teleport to a TS classic server", () => {
  it.scopedLive("the function is defined in the namespace under its name", () =>
    Effect.gen(function*() {
      const { conn } = yield* connectTs
      const fn = yield* conn.teleport(square)
      assert.strictEqual(yield* remote(fn(2)), 4)
      assert.strictEqual(yield* remote(conn.eval("square(2)")), 4)
      // conn.namespace.square is the very same netref
      assert.strictEqual(yield* remote(conn.namespace.square), fn)
      assert.strictEqual(yield* remote(Operations.getitem(conn.namespace, "square")), fn)
    }))

  it.scopedLive("closures are refused with the captured names", () =>
    Effect.gen(function*() {
      const { conn } = yield* connectTs
      const factor = 3
      const offset = 1
      const times = (x: number) => x * factor + offset
      const error = yield* Effect.flip(conn.teleport(times))
      assert.instanceOf(error, TeleportError)
      assert.strictEqual((error as TeleportError).reason, "Closure")
      assert.deepStrictEqual((error as TeleportError).names, ["factor", "offset"])
      assert.match(error.message, /captures 'factor', 'offset'/)
      // nothing was defined
      assert.strictEqual(yield* remote(conn.eval("typeof times")), "undefined")
      // once the remote namespace has them, the names resolve there (as Python globals do)
      yield* remote(conn.execute("var factor = 10, offset = 2"))
      const remoteTimes = yield* conn.teleport(times)
      assert.strictEqual(yield* remote(remoteTimes(4)), 42)
    }))

  it.scopedLive("globals, require, async functions, methods, classes and source text", () =>
    Effect.gen(function*() {
      const { conn } = yield* connectTs
      const usesGlobals = function pid() {
        // the server's `require`: this function runs there
        // eslint-disable-next-line @typescript-eslint/no-require-imports
        return [process.pid, Math.max(1, 2), require("node:os").hostname()]
      }
      const pid = yield* conn.teleport(usesGlobals)
      assert.deepStrictEqual((yield* remote(pid()))[0], process.pid)
      const slow = yield* conn.teleport(async function later(x: number) {
        await new Promise((r) => setTimeout(r, 1))
        return x + 1
      })
      assert.strictEqual(yield* remote(slow(1)), 2)
      const helpers = {
        twice(x: number) {
          const inner = (y: number) => y * 2
          return inner(x)
        }
      }
      const twice = yield* conn.teleport(helpers.twice)
      assert.strictEqual(yield* remote(twice(21)), 42)
      assert.strictEqual(yield* remote(conn.eval("twice(5)")), 10)
      class Counter {
        n = 0
        inc() {
          return ++this.n
        }
      }
      yield* conn.teleport(Counter)
      assert.strictEqual(yield* remote(conn.eval("new Counter().inc()")), 1)
      const cube = yield* conn.teleport("function cube(x) { return x ** 3 }")
      assert.strictEqual(yield* remote(cube(3)), 27)
      const anonymous = yield* conn.teleport((x: number) => -x, { name: "negate" })
      assert.strictEqual(yield* remote(anonymous(3)), -3)
      assert.strictEqual(yield* remote(conn.eval("negate(4)")), -4)
      const refused = yield* Effect.flip(conn.teleport(Math.max))
      assert.strictEqual((refused as TeleportError).reason, "Unsupported")
    }))
})

describePython("teleport to Python's rpyc_classic", () => {
  it.scopedLive("Python source text is defined in the namespace", () =>
    Effect.gen(function*() {
      const { conn } = yield* connectPython
      assert.strictEqual(conn.peer, "python")
      const fn = yield* conn.teleport(`
        def square(x):
            return x ** 2
      `)
      assert.strictEqual(yield* remote(fn(2)), 4)
      assert.strictEqual(yield* remote(conn.eval("square(2)")), 4)
      assert.strictEqual(yield* remote(Operations.getitem(conn.namespace, "square")), fn)
      const named = yield* conn.teleport("lambda_ = lambda x: x + 1", { name: "lambda_" })
      assert.strictEqual(yield* remote(named(1)), 2)
    }), TIMEOUT)

  it.scopedLive("a JavaScript function is refused; Python errors come back", () =>
    Effect.gen(function*() {
      const { conn } = yield* connectPython
      const wrong = yield* Effect.flip(conn.teleport(square))
      assert.strictEqual((wrong as TeleportError).reason, "WrongLanguage")
      const noName = yield* Effect.flip(conn.teleport("x = 1"))
      assert.strictEqual((noName as TeleportError).reason, "NoName")
      const syntax = yield* Effect.flip(conn.teleport("def broken(:\n  pass"))
      assert.instanceOf(syntax, RemoteError)
      assert.strictEqual((syntax as RemoteError).name, "SyntaxError")
    }), TIMEOUT)
})
