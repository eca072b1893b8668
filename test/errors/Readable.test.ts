/**
 * Errors a person can act on (issue #11): a busy port names the address and EADDRINUSE, every error
 * of the library reads once and keeps its own `name`, and a JS SyntaxError reaches Python with its
 * message.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { RemoteError } from "../../src/internal/base/Errors.js"
import * as Vinegar from "../../src/internal/object/Vinegar.js"
import * as Registry from "../../src/registry/Registry.js"
import { ThreadedServer } from "../../src/server/Server.js"
import { Service } from "../../src/service/Service.js"
import { explain, jsonResult, run, TIMEOUT } from "../support/Child.js"
import * as Peers from "../support/Peers.js"
import { remote } from "../support/Peers.js"
import { describePython, requirePython } from "../support/Python.js"

class ShopService extends Service {
  exposed_parse() {
    throw new SyntaxError("Unexpected token '}' in the order")
  }
}

describe("ThreadedServer.start() on a busy port", () => {
  it.live("rejects with an Error naming the address and EADDRINUSE", () =>
    Effect.gen(function*() {
      const first = new ThreadedServer(ShopService, { host: "127.0.0.1", port: 0, rpycLogs: false })
      yield* Effect.promise(() => first.start())
      yield* Effect.addFinalizer(() => Effect.promise(() => first.close()))
      const second = new ThreadedServer(ShopService, { host: "127.0.0.1", port: first.port!, rpycLogs: false })
      const error = yield* Effect.promise(() => second.start().then(() => undefined, (e: unknown) => e))
      assert.instanceOf(error, Error)
      const message = (error as Error).message
      assert.include(message, `127.0.0.1:${first.port}`)
      assert.include(message, "EADDRINUSE")
      assert.strictEqual(message, `cannot listen on 127.0.0.1:${first.port}: address already in use (EADDRINUSE)`)
    }).pipe(Effect.scoped))
})

describe("String() reads once", () => {
  it("RemoteError: the class once, then the text", () => {
    const e = new RemoteError({
      module: "builtins",
      name: "AttributeError",
      args: ["cannot access 'qty'"],
      attrs: [],
      remoteTraceback: "Traceback…\nAttributeError: cannot access 'qty'\n"
    })
    assert.isTrue(String(e).startsWith("AttributeError: cannot access 'qty'\n"))
    assert.notInclude(String(e), "AttributeError: AttributeError")
    assert.strictEqual(e.name, "AttributeError")
    assert.include(e.message, "========= Remote Traceback (1) =========")
    const custom = new RemoteError({
      module: "shop",
      name: "OutOfStock",
      args: ["qty"],
      attrs: [],
      remoteTraceback: ""
    })
    assert.strictEqual(String(custom), "shop.OutOfStock: qty")
  })

  it.scopedLive("a RemoteError from a TS server", () =>
    Effect.gen(function*() {
      const server = yield* Peers.serve(ShopService)
      const conn = yield* Peers.connect(server.port!)
      const denied = yield* Effect.flip(remote(conn.root.qty))
      assert.strictEqual(denied._tag, "RemoteError")
      assert.isTrue(String(denied).startsWith("AttributeError: "), String(denied))
      assert.notInclude(String(denied), "AttributeError: AttributeError")
    }))

  it("DiscoveryError keeps its own name; the service is `service`", () => {
    const e = new Registry.DiscoveryError({ reason: "NotFound", service: "SHOP" })
    assert.strictEqual(e.name, "DiscoveryError")
    assert.strictEqual(e.service, "SHOP")
    assert.strictEqual(String(e), "DiscoveryError: no servers exposing 'SHOP' were found")
  })
})

describe("vinegar", () => {
  it("a SyntaxError carries its message as `msg` (Python sets it in __init__, which RPyC skips)", () => {
    const [, args, attrs] = Vinegar.dump(new SyntaxError("bad token"), {
      includeLocalTraceback: false,
      includeLocalVersion: true
    }) as [unknown, Array<unknown>, Array<[string, unknown]>]
    assert.deepStrictEqual(args, ["bad token"])
    assert.deepInclude(attrs, ["msg", "bad token"])
  })

  it("_remote_version follows the wire version", () => {
    const versionOf = (wireVersion: 5 | 6 | undefined) => {
      const [, , attrs] = Vinegar.dump(new Error("x"), {
        includeLocalTraceback: false,
        includeLocalVersion: true,
        wireVersion
      }) as [unknown, unknown, Array<[string, unknown]>]
      return attrs.find(([k]) => k === "_remote_version")?.[1]
    }
    assert.strictEqual(versionOf(5), "5.3.0")
    assert.strictEqual(versionOf(undefined), "5.3.0")
    assert.strictEqual(versionOf(6), "6.0.0")
  })
})

const PY_SYNTAX = `
import json, sys, rpyc
conn = rpyc.connect("127.0.0.1", int(sys.argv[1]))
try:
    conn.root.parse()
    print(json.dumps({"raised": None}))
except SyntaxError as e:
    print(json.dumps({"raised": type(e).__name__, "msg": e.msg, "str": str(e).split("\\n")[0]}))
`

describePython("a JS SyntaxError seen from Python", () => {
  it.scopedLive("has its message", () =>
    Effect.gen(function*() {
      const server = yield* Peers.serve(ShopService)
      const r = yield* run(requirePython(), ["-c", PY_SYNTAX, String(server.port)])
      assert.strictEqual(r.code, 0, explain(r))
      const result = jsonResult<{ raised: string; msg: string; str: string }>(r)
      assert.strictEqual(result.raised, "SyntaxError")
      assert.strictEqual(result.msg, "Unexpected token '}' in the order")
      assert.strictEqual(result.str, "Unexpected token '}' in the order")
    }), TIMEOUT)
})
