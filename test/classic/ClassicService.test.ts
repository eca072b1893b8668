/**
 * The TypeScript classic server (`ClassicService`) driven by the TypeScript classic client:
 * namespace, eval / execute, modules, builtins, stand-ins, full trust, realms.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Os from "node:os"
import * as Classic from "../../src/classic/Classic.js"
import { ClassicService } from "../../src/classic/ClassicService.js"
import { evalIn, executeIn, makeNamespace } from "../../src/classic/Namespace.js"
import { RemoteError } from "../../src/internal/base/Errors.js"
import * as Connection from "../../src/internal/engine/Engine.js"
import * as Netref from "../../src/internal/netref/Netref.js"
import * as Operations from "../../src/netref/Operations.js"
import * as Service from "../../src/service/Service.js"
import * as Pair from "../../src/transport/Pair.js"
import { eventually } from "../support/Eventually.js"
import { remote } from "../support/Peers.js"
import { connect, connectTs, tsServer } from "./support.js"

const failure = <A>(effect: Effect.Effect<A, unknown>) => Effect.flip(effect)

describe("ClassicService namespace (local)", () => {
  it("execute and eval share a namespace; declarations become entries", () => {
    const ns = makeNamespace()
    executeIn(ns, "var a = 1; b = 2; function f(x) { return x * 10 }; let c = 3; const d = 4; class K {}")
    assert.strictEqual(evalIn(ns, "f(a + b) + c + d"), 37)
    assert.deepStrictEqual(Object.keys(ns).sort(), ["a", "b", "f"])
    // let / const / class are bindings of the namespace's scope, reachable as items
    assert.strictEqual(ns.__getitem__("c"), 3)
    assert.isTrue(ns.__contains__("K"))
    assert.isFalse(ns.__contains__("nope"))
    assert.strictEqual(ns.__len__(), 3)
  })

  it("eval takes an expression or statements", () => {
    const ns = makeNamespace()
    assert.deepStrictEqual({ ...(evalIn(ns, "{ a: 1 }") as object) }, { a: 1 })
    assert.strictEqual(evalIn(ns, "1 + 1;"), 2)
    assert.strictEqual(evalIn(ns, "let z = 5; z * 2"), 10)
    assert.strictEqual(evalIn(ns, "2 * Math.PI // a comment"), 6.283185307179586)
  })

  it("values made in the namespace are ordinary values of this realm where it matters", () => {
    const ns = makeNamespace()
    assert.instanceOf(evalIn(ns, "new Map([['a', 1]])"), Map)
    assert.instanceOf(evalIn(ns, "new Uint8Array([1, 2])"), Uint8Array)
    assert.instanceOf(evalIn(ns, "new Error('x')"), Error)
    assert.instanceOf(evalIn(ns, "JSON.parse('{\"a\": 1}')"), Object)
    // engine errors inside still satisfy instanceof in namespace code
    assert.isTrue(evalIn(ns, "(() => { try { null.x } catch (e) { return e instanceof TypeError } })()"))
    // and escape as this realm's class
    try {
      evalIn(ns, "undefinedName")
      assert.fail("expected a ReferenceError")
    } catch (e) {
      assert.instanceOf(e, ReferenceError)
    }
    // byRef copies an array into this realm
    const xs = evalIn(ns, "byRef([1, 2])")
    assert.instanceOf(xs, Array)
  })

  it("Node's globals, require and __name are there", () => {
    const ns = makeNamespace()
    assert.strictEqual(evalIn(ns, "typeof process.pid"), "number")
    assert.strictEqual(evalIn(ns, "require('node:path').join('a', 'b')"), "a/b")
    assert.strictEqual(evalIn(ns, "Buffer.from('hi').length"), 2)
    assert.strictEqual(evalIn(ns, "__name(() => 1, 'one').name"), "one")
    assert.strictEqual(evalIn(ns, "typeof setTimeout"), "function")
    // Node's globals are not entries, and assigning one makes it an entry
    assert.deepStrictEqual(Object.keys(ns), [])
    executeIn(ns, "process = 5")
    assert.strictEqual(evalIn(ns, "process"), 5)
    assert.deepStrictEqual(Object.keys(ns), ["process"])
    assert.strictEqual(typeof globalThis.process, "object")
  })
})

describe("TS classic client -> TS classic server", () => {
  it.scopedLive("eval, execute and namespace", () =>
    Effect.gen(function*() {
      const { conn } = yield* connectTs
      assert.strictEqual(conn.peer, "js")
      assert.strictEqual(yield* remote(conn.eval("1+1")), 2)
      assert.isNull(yield* remote(conn.execute("var x = 5; function sq(a) { return a * a }; let y = 2")))
      assert.strictEqual(yield* remote(conn.eval("sq(x) + y")), 27)
      assert.strictEqual(yield* remote(conn.namespace.x), 5)
      assert.strictEqual(yield* remote(Operations.getitem(conn.namespace, "y")), 2)
      assert.isTrue(yield* remote(Operations.contains(conn.namespace, "sq")))
      assert.strictEqual(yield* remote(Operations.len(conn.namespace)), 2)
      // the namespace entry is the function itself (not a bound method), callable remotely
      const sq = yield* remote(conn.namespace.sq)
      assert.strictEqual(Operations.typeName(sq), "builtins.function")
      assert.strictEqual(yield* remote(sq(7)), 49)
      // assigning through the netref is seen by namespace code
      yield* remote(Operations.setattr(conn.namespace, "z", 11))
      assert.strictEqual(yield* remote(conn.eval("z + 1")), 12)
      // a Promise is awaited by the server
      assert.strictEqual(yield* remote(conn.eval("Promise.resolve(41).then((v) => v + 1)")), 42)
      assert.strictEqual(yield* remote(conn.eval("import('node:path').then((m) => m.basename('/a/b.txt'))")), "b.txt")
    }))

  it.scopedLive("errors keep their Python class", () =>
    Effect.gen(function*() {
      const { conn } = yield* connectTs
      const name = (yield* failure(remote(conn.eval("nope")))) as RemoteError
      assert.instanceOf(name, RemoteError)
      assert.strictEqual(name.name, "NameError")
      const type = (yield* failure(remote(conn.execute("throw new TypeError('boom')")))) as RemoteError
      assert.strictEqual(type.name, "TypeError")
      assert.match(String(type.args[0]), /boom/)
      const syntax = (yield* failure(remote(conn.execute("this is not javascript")))) as RemoteError
      assert.strictEqual(syntax.name, "SyntaxError")
      const missing = (yield* failure(remote(conn.modules.no_such_module_xyz))) as RemoteError
      assert.strictEqual(missing.name, "ModuleNotFoundError")
    }))

  it.scopedLive("modules: built-ins, node: prefixes, dotted names, packages from node_modules", () =>
    Effect.gen(function*() {
      const { conn } = yield* connectTs
      assert.strictEqual(yield* remote(conn.modules.os.hostname()), Os.hostname())
      assert.strictEqual(yield* remote(conn.modules["node:path"].join("a", "b")), "a/b")
      // "fs.promises" is "fs/promises": the very object namespace code gets from require
      assert.strictEqual(yield* remote(conn.modules["fs.promises"]), yield* remote(conn.eval("require('fs/promises')")))
      assert.strictEqual(yield* remote(conn.modules["effect/Function"].identity(5)), 5)
      // cached per name: the same netref
      const os1 = yield* remote(conn.modules.os)
      const os2 = yield* remote(conn.modules.os)
      assert.strictEqual(os1, os2)
      assert.isTrue(yield* conn.hasModule("fs"))
      assert.isTrue(yield* conn.hasModule("effect"))
      assert.isTrue(yield* conn.hasModule("sys"))
      assert.isFalse(yield* conn.hasModule("no_such_module_xyz"))
    }))

  it.scopedLive("builtins is the server's globalThis; sys stand-in", () =>
    Effect.gen(function*() {
      const { conn } = yield* connectTs
      assert.strictEqual(conn.builtin, conn.builtins)
      assert.strictEqual(yield* remote(conn.builtins.Math.max(3, 7)), 7)
      assert.strictEqual(yield* remote(conn.builtins.process.pid), process.pid)
      const path = yield* remote(conn.modules.sys.path)
      assert.strictEqual(Operations.typeName(path), "builtins.list")
      assert.isTrue(yield* remote(Operations.isinstance(path, "list")))
      assert.strictEqual(yield* remote(conn.modules.sys.platform), process.platform)
      assert.strictEqual(yield* remote(conn.modules.sys.stdout), yield* remote(conn.modules.sys.stdout))
    }))

  it.scopedLive("each connection has its own namespace; classic connections are fully trusted", () =>
    Effect.gen(function*() {
      const { server, port } = yield* tsServer
      const a = yield* connect(port)
      const b = yield* connect(port)
      yield* remote(a.execute("var only = 'a'"))
      assert.strictEqual(yield* remote(a.eval("typeof only")), "string")
      assert.strictEqual(yield* remote(b.eval("typeof only")), "undefined")
      // full trust on both ends, as RPyC's SlaveService
      for (const c of [a.config, ...[...server.connections].map((s) => s.config)]) {
        assert.isTrue(c.allowAllAttrs)
        assert.isTrue(c.allowPickle)
        assert.isTrue(c.allowSetattr)
        assert.isFalse(c.allowExposedAttrs)
      }
      assert.strictEqual(server.connections.size, 2)
      assert.strictEqual(yield* remote(a.root.get_service_name()), "SLAVE")
      const peerConn = yield* remote(a.root.getconn())
      assert.isTrue(Netref.isNetref(peerConn))
      assert.strictEqual(yield* remote(peerConn.id), [...server.connections][0].id)
    }))

  it.scopedLive("a by-reference array made remotely is a list; Maps are dicts", () =>
    Effect.gen(function*() {
      const { conn } = yield* connectTs
      yield* remote(conn.execute("var xs = byRef([3, 1, 2]); var m = new Map([['k', 1]])"))
      const xs = yield* remote(conn.namespace.xs)
      assert.strictEqual(Operations.typeName(xs), "builtins.list")
      yield* remote(xs.append(4))
      assert.strictEqual(yield* remote(conn.eval("xs.length")), 4)
      assert.deepStrictEqual(yield* Classic.obtain(xs), [3, 1, 2, 4])
      const m = yield* remote(conn.namespace.m)
      assert.strictEqual(Operations.typeName(m), "builtins.dict")
      assert.strictEqual(yield* remote(Operations.getitem(m, "k")), 1)
      // an array not marked byRef travels by value (a tuple)
      assert.deepStrictEqual(yield* remote(conn.eval("[1, [2, 3]]")), [1, [2, 3]])
    }))

  it.scopedLive("Promise face: await connect(), then close()", () =>
    Effect.gen(function*() {
      const { port, server } = yield* tsServer
      const conn = yield* Effect.promise(async () => await Classic.connect("127.0.0.1", port))
      assert.strictEqual(yield* Effect.promise(async () => await conn.eval("6 * 7")), 42)
      assert.strictEqual(server.connections.size, 1)
      yield* Effect.promise(async () => await conn.close())
      assert.isTrue(conn.closed)
      // the server notices
      yield* eventually(() => server.connections.size === 0, "the server dropped the connection")
    }))

  it.scopedLive("connectSocket: a classic connection over any Socket (here an in-process pair)", () =>
    Effect.gen(function*() {
      const [clientSide, serverSide] = yield* Pair.make()
      const [served, conn] = yield* Effect.all([
        Service.makeConnection(serverSide, ClassicService),
        Classic.connectSocket(clientSide)
      ], { concurrency: 2 })
      assert.strictEqual(conn.peer, "js")
      // a classic connection is the connection, with the classic attributes added
      assert.isTrue(Connection.isConnection(conn))
      assert.strictEqual(conn.id, conn.connection.id)
      assert.isTrue("modules" in conn && "request" in conn)
      assert.strictEqual(yield* remote(conn.eval("40 + 2")), 42)
      assert.isTrue(served.config.allowAllAttrs)
      // the client side serves a ClassicService too: the server may call back with full access
      assert.instanceOf(conn.localRoot, ClassicService)
      assert.strictEqual(yield* remote(served.root.eval("'from the server side'.length")), 20)
    }))

  it.scopedLive("the root is a ClassicService; a Python-style tuple module name", () =>
    Effect.gen(function*() {
      const { conn } = yield* connectTs
      const root = yield* remote(conn.root)
      assert.strictEqual(Operations.typeName(root), "js.ClassicService")
      assert.strictEqual(yield* remote(conn.root.getmodule(["node:path"]).sep), "/")
      assert.instanceOf(conn.localRoot, ClassicService)
    }))
})
