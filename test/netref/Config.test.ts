/**
 * Issue 3, item 6: protocol config and attribute policy. Every key of PROTOCOL.md §4 in
 * camelCase with RPyC's defaults; the PROTOCOL.md §3.5 lookup rules checked against RPyC 5.3's own
 * `_check_attr` (fixtures/policy_oracle.py) over a grid of configs, objects and names; the keys at
 * work end to end; per-object `_rpyc_getattr`-style hooks; `restricted()`; and the JS hardening
 * (Object.prototype / Function.prototype names unreachable, service roots never assignable).
 */
import { assert, describe } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Config from "../../src/internal/base/Config.js"
import { PythonException } from "../../src/internal/base/Errors.js"
import type * as Connection from "../../src/internal/engine/Engine.js"
import * as Netref from "../../src/internal/netref/Netref.js"
import * as Policy from "../../src/internal/object/Policy.js"
import * as Operations from "../../src/netref/Operations.js"
import { Service } from "../../src/service/Service.js"
import { TIMEOUT } from "../support/Child.js"
import { eventually } from "../support/Eventually.js"
import { connect, remote as fx, serve, serverConnection } from "../support/Peers.js"
import { describePython } from "../support/Python.js"
import { live, pythonClient, remoteError } from "./support.js"

// ---------------------------------------------------------------------------------------------
// keys and defaults

const camel = (snake: string): string => snake.replace(/_([A-Za-z])/g, (_, c: string) => c.toUpperCase())

/** PROTOCOL.md §4, camelCased, with the defaults (safeAttrs checked separately). */
const SPEC_DEFAULTS: Record<string, unknown> = {
  allowSafeAttrs: true,
  allowExposedAttrs: true,
  allowPublicAttrs: false,
  allowAllAttrs: false,
  exposedPrefix: "exposed_",
  allowGetattr: true,
  allowSetattr: false,
  allowDelattr: false,
  allowPickle: false,
  includeLocalTraceback: true,
  includeLocalVersion: true,
  instantiateCustomExceptions: false,
  importCustomExceptions: false,
  instantiateOldstyleExceptions: false,
  propagateSystemExitLocally: false,
  propagateKeyboardInterruptLocally: true,
  logExceptions: true,
  connid: undefined,
  credentials: undefined,
  endpoints: undefined,
  syncRequestTimeout: 30,
  beforeClosed: undefined,
  closeCatchall: false,
  bindThreads: false
}

/** The JSON form of a default, as the Python oracle prints it. */
const jsonDefault = (v: unknown): unknown => v instanceof Set ? [...v].sort() : v === undefined ? null : v

describe("protocol config: keys and defaults", () => {
  live(
    "DEFAULT_CONFIG has the PROTOCOL.md §4 keys in camelCase with RPyC's defaults and the 80 safe names",
    () =>
      Effect.sync(() => {
        const defaults = Config.DEFAULT_CONFIG as unknown as Record<string, unknown>
        for (const [key, value] of Object.entries(SPEC_DEFAULTS)) {
          assert.isTrue(key in defaults, `missing key ${key}`)
          assert.strictEqual(defaults[key], value, key)
        }
        assert.strictEqual(Config.SAFE_ATTRS.size, 80)
        assert.strictEqual(Config.DEFAULT_CONFIG.safeAttrs, Config.SAFE_ATTRS)
        assert.isTrue(Object.isFrozen(Config.DEFAULT_CONFIG))
        // make: defaults overlaid, undefined ignored, a fresh mutable copy each time
        const a = Config.make({ allowPublicAttrs: true, syncRequestTimeout: undefined })
        assert.isTrue(a.allowPublicAttrs)
        assert.strictEqual(a.syncRequestTimeout, 30)
        a.allowPickle = true
        assert.isFalse(Config.make().allowPickle)
        assert.isFalse(Config.DEFAULT_CONFIG.allowPickle)
        // classic mode's overrides
        const classic = Config.make(Config.CLASSIC_OVERRIDES)
        assert.isTrue(classic.allowAllAttrs && classic.allowPickle && classic.allowSetattr && classic.allowDelattr)
        assert.isFalse(classic.allowExposedAttrs)
      })
  )

  // the PROTOCOL.md §4 key `logger` (RPyC `logger`, default None) has its camelCase counterpart too
  live("`logger` (PROTOCOL.md §4) is a config key too", () =>
    Effect.sync(() => {
      assert.isTrue("logger" in Config.DEFAULT_CONFIG, "missing key logger")
    }))
})

describePython("protocol config: the defaults are RPyC 5.3's", () => {
  live("every key of Python's DEFAULT_CONFIG has the same default here", () =>
    Effect.gen(function*() {
      const r = yield* pythonClient<{ defaults: Record<string, unknown> }>(
        "policy_oracle.py",
        JSON.stringify({ objects: {}, names: [], configs: [], perms: [] })
      )
      const defaults = Config.DEFAULT_CONFIG as unknown as Record<string, unknown>
      const pythonKeys = Object.keys(r.defaults)
      assert.strictEqual(pythonKeys.length, 26)
      for (const key of pythonKeys) {
        const mine = camel(key)
        assert.isTrue(mine in defaults, `no camelCase key ${mine} for ${key}`)
        assert.deepStrictEqual(jsonDefault(defaults[mine]), r.defaults[key], key)
      }
      // RPyC's keys, and besides them only this side's limits
      const limits: ReadonlyArray<string> = Config.LIMIT_KEYS
      assert.sameMembers(Object.keys(defaults).filter((k) => !limits.includes(k)), pythonKeys.map(camel))
    }), TIMEOUT)
})

// ---------------------------------------------------------------------------------------------
// PROTOCOL.md §3.5 lookup rules, against RPyC's own implementation

const OBJECTS: Record<string, ReadonlyArray<string>> = {
  full: ["add", "exposed_add", "exposed_sub", "color", "_hidden", "__len__", "remote_add", "remote_color", "next"],
  empty: []
}
const NAMES = [
  "add",
  "sub",
  "color",
  "_hidden",
  "__len__",
  "__add__",
  "__iter__",
  "__custom__",
  "next",
  "exposed_add",
  "exposed_sub",
  "remote_add",
  "remote_color",
  "exposed__x",
  "_x",
  "missing",
  "exposed_missing"
]
const PERMS = ["allow_getattr", "allow_setattr", "allow_delattr"] as const

const CONFIGS: Array<Record<string, unknown>> = []
for (const safe of [true, false]) {
  for (const exposed of [true, false]) {
    for (const pub of [true, false]) {
      for (const all of [true, false]) {
        for (const prefix of ["exposed_", "remote_"]) {
          for (const perm of [true, false]) {
            CONFIGS.push({
              allow_safe_attrs: safe,
              allow_exposed_attrs: exposed,
              allow_public_attrs: pub,
              allow_all_attrs: all,
              exposed_prefix: prefix,
              allow_getattr: perm,
              allow_setattr: perm,
              allow_delattr: perm
            })
          }
        }
      }
    }
  }
}

const tsResolve = (pyConfig: Record<string, unknown>, obj: object, name: string, perm: typeof PERMS[number]) => {
  const config = Config.make(Object.fromEntries(Object.entries(pyConfig).map(([k, v]) => [camel(k), v])))
  try {
    return Policy.resolve(config, obj, name, camel(perm) as "allowGetattr")
  } catch (e) {
    assert.instanceOf(e, PythonException)
    assert.strictEqual((e as PythonException).pyName, "AttributeError")
    return null
  }
}

describePython("attribute policy: the PROTOCOL.md §3.5 lookup rules agree with RPyC 5.3's _check_attr", () => {
  live(`${CONFIGS.length} configs × 3 permissions × 2 objects × ${NAMES.length} names`, () =>
    Effect.gen(function*() {
      const r = yield* pythonClient<{ results: Array<Array<Record<string, Array<string | null>>>> }>(
        "policy_oracle.py",
        JSON.stringify({ objects: OBJECTS, names: NAMES, configs: CONFIGS, perms: PERMS })
      )
      const jsObjects = Object.fromEntries(
        Object.entries(OBJECTS).map(([k, names]) => [k, Object.fromEntries(names.map((n) => [n, 1]))])
      )
      const mismatches: Array<string> = []
      let checked = 0
      CONFIGS.forEach((cfg, i) => {
        PERMS.forEach((perm, j) => {
          for (const [key, obj] of Object.entries(jsObjects)) {
            NAMES.forEach((name, k) => {
              const expected = r.results[i]![j]![key]![k]
              const actual = tsResolve(cfg, obj, name, perm)
              checked++
              if (expected !== actual) {
                mismatches.push(`${JSON.stringify(cfg)} ${perm} ${key}.${name}: RPyC ${expected}, here ${actual}`)
              }
            })
          }
        })
      })
      assert.strictEqual(checked, CONFIGS.length * 3 * 2 * NAMES.length)
      assert.deepStrictEqual(mismatches.slice(0, 10), [], `${mismatches.length} mismatches`)
    }), TIMEOUT)
})

// ---------------------------------------------------------------------------------------------
// the keys at work

class Gadget {
  color = "red"
  _hidden = "h"
  exposed_size = 3
  __len__() {
    return 7
  }
}

class ConfigService extends Service {
  readonly notes: Array<string> = []
  exposed_answer = 42
  remote_answer = 43
  color = "red"
  _hidden = "h"
  exposed_size = 3
  __len__() {
    return 7
  }
  exposed_gadget() {
    return new Gadget()
  }
  exposed_note(text: string) {
    this.notes.push(text)
  }
  exposed_hang() {
    return new Promise(() => {})
  }
  async exposed_read(obj: any, name: string) {
    return await Operations.getattr(obj, name)
  }
}

describe("protocol config keys at work (TS peer)", () => {
  live(
    "allowGetattr / allowSafeAttrs / allowExposedAttrs / exposedPrefix / allowPublicAttrs / allowAllAttrs",
    () =>
      Effect.gen(function*() {
        const peer = (protocolConfig: Config.ConfigInput) =>
          Effect.gen(function*() {
            const server = yield* serve(ConfigService, { protocolConfig })
            const conn = yield* connect(server.port!)
            const root: any = yield* fx(conn.root)
            return root
          })
        // defaults: exposed and safe names only
        const d = yield* peer({})
        assert.strictEqual(yield* fx(d.answer), 42)
        assert.strictEqual(yield* fx(Operations.len(d)), 7)
        assert.strictEqual(yield* fx(d.size), 3)
        yield* remoteError(d.color, "AttributeError")
        yield* remoteError(d._hidden, "AttributeError")
        // allowGetattr: false — GETATTR, CALLATTR and CMP are all refused
        const g = yield* peer({ allowGetattr: false })
        yield* remoteError(g.answer, "AttributeError")
        yield* remoteError(g.get_service_name(), "AttributeError")
        yield* remoteError(Operations.len(g), "AttributeError")
        yield* remoteError(Operations.eq(g, g), "AttributeError")
        // allowSafeAttrs: false — the dunders go
        const s = yield* peer({ allowSafeAttrs: false })
        yield* remoteError(Operations.len(s), "AttributeError")
        assert.strictEqual(yield* fx(s.answer), 42)
        // allowExposedAttrs: false — no prefix redirection, no exposed names
        const e = yield* peer({ allowExposedAttrs: false })
        yield* remoteError(e.answer, "AttributeError")
        yield* remoteError(e.exposed_answer, "AttributeError")
        assert.strictEqual(yield* fx(Operations.len(e)), 7)
        // exposedPrefix
        const p = yield* peer({ exposedPrefix: "remote_" })
        assert.strictEqual(yield* fx(p.answer), 43)
        assert.strictEqual(yield* fx(p.remote_answer), 43)
        yield* remoteError(p.exposed_answer, "AttributeError")
        // allowPublicAttrs
        const pub = yield* peer({ allowPublicAttrs: true })
        assert.strictEqual(yield* fx(pub.color), "red")
        yield* remoteError(pub._hidden, "AttributeError")
        // allowAllAttrs
        const all = yield* peer({ allowAllAttrs: true })
        assert.strictEqual(yield* fx(all._hidden), "h")
        assert.strictEqual(yield* fx(all.exposed_size), 3)
      })
  )

  live("allowSetattr / allowDelattr gate SETATTR / DELATTR (with the name rules)", () =>
    Effect.gen(function*() {
      const server = yield* serve(ConfigService, { protocolConfig: { allowSetattr: true, allowDelattr: true } })
      const conn = yield* connect(server.port!)
      const gadget = yield* fx((conn.root as any).gadget())
      // exposed names are writable, public ones are not (allowPublicAttrs is off)
      yield* fx(Operations.setattr(gadget, "size", 9))
      assert.strictEqual(yield* fx(gadget.size), 9)
      yield* remoteError(Operations.setattr(gadget, "color", "blue"), "AttributeError")
      yield* fx(Operations.delattr(gadget, "size"))
      yield* remoteError(gadget.size, "AttributeError")
    }))

  live(
    "syncRequestTimeout: a reply that never comes is a RequestTimeout; the connection lives on",
    () =>
      Effect.gen(function*() {
        const server = yield* serve(ConfigService)
        const conn = yield* connect(server.port!, { config: { syncRequestTimeout: 0.3 } })
        const root: any = yield* fx(conn.root)
        const started = Date.now()
        const result = yield* Effect.either(fx(root.hang()))
        const elapsed = Date.now() - started
        assert.isTrue(Either.isLeft(result))
        const e = (result as Either.Left<any, unknown>).left
        assert.strictEqual(e._tag, "RequestTimeout")
        assert.strictEqual(e.timeoutMillis, 300)
        assert.isAtLeast(elapsed, 250)
        assert.isBelow(elapsed, 5000)
        assert.strictEqual(yield* fx(root.answer), 42)
        // null: wait forever (the call is still pending after the default would have expired)
        assert.isNull(Config.make({ syncRequestTimeout: null }).syncRequestTimeout)
      })
  )

  live("connid, endpoints, credentials, beforeClosed; Python-only keys are accepted", () =>
    Effect.gen(function*() {
      const server = yield* serve(ConfigService)
      const conn = yield* connect(server.port!, {
        config: {
          connid: "my-connection",
          beforeClosed: (root: any) => root.note("closing"),
          instantiateCustomExceptions: true,
          importCustomExceptions: true,
          instantiateOldstyleExceptions: true,
          propagateSystemExitLocally: true,
          propagateKeyboardInterruptLocally: false,
          logExceptions: false,
          bindThreads: false,
          closeCatchall: true
        }
      })
      assert.strictEqual(conn.id, "my-connection")
      yield* fx(conn.root)
      const sconn: Connection.Connection = yield* serverConnection(server)
      assert.match(sconn.id, /^conn\d+$/)
      assert.isUndefined(sconn.config.credentials)
      const [local, peer] = sconn.config.endpoints!
      assert.strictEqual(local, `127.0.0.1:${server.port}`)
      assert.match(peer, /^127\.0\.0\.1:\d+$/)
      const service = sconn.localRoot as ConfigService
      yield* conn.close()
      assert.deepStrictEqual(service.notes, ["closing"], "beforeClosed ran with the remote root before CLOSE")
      yield* eventually(() => sconn.closed, "the server saw the close")
    }))

  live(
    "policy is per peer: a callback object the client passes is read under the client's config",
    () =>
      Effect.gen(function*() {
        const server = yield* serve(ConfigService, { protocolConfig: { allowAllAttrs: true } })
        const strict = yield* connect(server.port!)
        const e = yield* remoteError((strict.root as any).read({ secret: 1 }, "secret"), "AttributeError")
        assert.include(e.message, "cannot access 'secret'")
        const open = yield* connect(server.port!, { config: { allowPublicAttrs: true } })
        assert.strictEqual(yield* fx((open.root as any).read({ secret: 1 }, "secret")), 1)
      })
  )
})

// ---------------------------------------------------------------------------------------------
// per-object overrides and restricted()

class Hooked {
  readonly reads: Array<string> = []
  readonly writes: Array<string> = []
  _rpyc_getattr(name: string) {
    this.reads.push(name)
    if (name === "secret") throw new PythonException("AttributeError", "no secrets")
    return `computed ${name}`
  }
  _rpyc_setattr(name: string, value: unknown) {
    this.writes.push(`${name}=${String(value)}`)
  }
  _rpyc_delattr(name: string) {
    this.writes.push(`del ${name}`)
  }
}

class File {
  secret = "hunter2"
  position = 0
  read() {
    return "contents"
  }
  write(_s: string) {
    return "written"
  }
  close() {
    return "closed"
  }
}

class HookService extends Service {
  readonly hooked = new Hooked()
  readonly file = new File()
  exposed_hooked() {
    return this.hooked
  }
  exposed_restricted(wattrs?: Array<string>) {
    return Policy.restricted(this.file, ["read", "close", "position"], wattrs)
  }
}

describe("per-object policy overrides and restricted()", () => {
  live(
    "_rpyc_getattr/_rpyc_setattr/_rpyc_delattr decide alone, bypassing the config (even allowGetattr: false)",
    () =>
      Effect.gen(function*() {
        for (const protocolConfig of [{}, { allowGetattr: false }] as Array<Config.ConfigInput>) {
          // the hooked object is the root itself, so that no GETATTR through the policy is needed
          const local = new Hooked()
          const server = yield* serve(local, { protocolConfig })
          const conn = yield* connect(server.port!)
          const hooked: any = yield* fx(conn.root)
          assert.strictEqual(yield* fx(hooked.anything), "computed anything")
          assert.strictEqual(yield* fx(hooked._private), "computed _private")
          assert.strictEqual(yield* fx(hooked.constructor), "computed constructor", "the hook alone decides")
          yield* remoteError(hooked.secret, "AttributeError")
          yield* fx(Operations.setattr(hooked, "x", 1))
          yield* fx(Operations.delattr(hooked, "x"))
          assert.deepStrictEqual(local.writes, ["x=1", "del x"])
          assert.includeMembers(local.reads, ["anything", "_private", "secret"])
        }
      })
  )

  live(
    "restricted(obj, attrs, wattrs): reads and writes limited to the lists, whatever the config",
    () =>
      Effect.gen(function*() {
        const service = new HookService()
        const server = yield* serve(service, { protocolConfig: { allowAllAttrs: true, allowSetattr: true } })
        const conn = yield* connect(server.port!)
        const root: any = yield* fx(conn.root)
        const f = yield* fx(root.restricted())
        assert.strictEqual(yield* fx(f.read()), "contents")
        assert.strictEqual(yield* fx(f.close()), "closed")
        yield* remoteError(f.write("x"), "AttributeError")
        yield* remoteError(f.secret, "AttributeError")
        yield* remoteError(f.target, "AttributeError")
        yield* remoteError(f.constructor, "AttributeError")
        // wattrs defaults to attrs
        yield* fx(Operations.setattr(f, "position", 5))
        assert.strictEqual(service.file.position, 5)
        yield* remoteError(Operations.setattr(f, "secret", "x"), "AttributeError")
        yield* remoteError(Operations.delattr(f, "position"), "AttributeError")
        // wattrs = []: read-only
        const ro = yield* fx(root.restricted([]))
        assert.strictEqual(yield* fx(ro.position), 5)
        yield* remoteError(Operations.setattr(ro, "position", 6), "AttributeError")
        assert.strictEqual(service.file.secret, "hunter2")
      })
  )

  // Regression (was a bug: src/protocol/Pythonic.ts reprOf/strOf, used by the REPR/STR handlers): a restricted()
  // view's repr/str is Node's util.inspect of the Restricted wrapper, which prints the wrapped
  // object's fields (and the allowed-name sets). Input: restricted(new File(), ["read"]) where
  // File has `secret = "hunter2"`; the peer sends REPR (Operations.repr / Python repr()).
  // Expected: a repr that reveals nothing the policy denies (RPyC's is
  // "<...Restricted object at 0x…>"); actual: "Restricted { target: File { secret: 'hunter2', … } … }".
  // The same holds for any exported object: REPR/STR dump fields GETATTR refuses.
  live("restricted(): repr/str do not reveal the wrapped object's denied fields", () =>
    Effect.gen(function*() {
      const server = yield* serve(new HookService())
      const conn = yield* connect(server.port!)
      const f = yield* fx((conn.root as any).restricted())
      assert.notInclude(String(yield* fx(Operations.repr(f))), "hunter2")
      assert.notInclude(String(yield* fx(Operations.str(f))), "hunter2")
    }))
})

// ---------------------------------------------------------------------------------------------
// JS hardening

const OBJECT_PROTOTYPE_NAMES = Object.getOwnPropertyNames(Object.prototype)
const HATCHES = [
  "__proto__",
  "constructor",
  "prototype",
  "__defineGetter__",
  "__defineSetter__",
  "__lookupGetter__",
  "__lookupSetter__",
  "hasOwnProperty",
  "isPrototypeOf",
  "propertyIsEnumerable",
  "toString",
  "valueOf",
  "toLocaleString",
  "call",
  "apply",
  "bind",
  "caller",
  "arguments"
]

class Plain {
  exposed_value = 1
  method() {
    return 1
  }
}

class HardService extends Service {
  exposed_plain() {
    return new Plain()
  }
  exposed_fn() {
    return function named() {
      return 1
    }
  }
  exposed_Plain = Plain
}

describe("JS hardening under the default config (and everything but allowAllAttrs)", () => {
  live(
    "Object.prototype / Function.prototype names, __proto__, constructor, prototype are unreachable",
    () =>
      Effect.gen(function*() {
        assert.includeMembers([...Policy.BLOCKED_NAMES], [...OBJECT_PROTOTYPE_NAMES, ...HATCHES])
        const configs: Array<Config.ConfigInput> = [
          {},
          { allowPublicAttrs: true, allowSetattr: true, allowDelattr: true }
        ]
        for (const protocolConfig of configs) {
          const server = yield* serve(HardService, { protocolConfig })
          const conn = yield* connect(server.port!)
          const root: any = yield* fx(conn.root)
          const targets = {
            root,
            plain: yield* fx(root.plain()),
            fn: yield* fx(root.fn()),
            method: yield* fx(root.plain),
            cls: yield* fx(root.Plain)
          }
          for (const [what, target] of Object.entries(targets)) {
            for (const name of [...new Set([...HATCHES, ...OBJECT_PROTOTYPE_NAMES])]) {
              const label = `${what}.${name} ${JSON.stringify(protocolConfig)}`
              const read = yield* Effect.either(fx(Operations.getattr(target, name)))
              assert.isTrue(
                Either.isLeft(read) && read.left._tag === "RemoteError" && read.left.name === "AttributeError",
                `GETATTR ${label}`
              )
              const called = yield* Effect.either(fx(Operations.getattr(target, name)()))
              assert.isTrue(
                Either.isLeft(called) && (called.left as any).name === "AttributeError",
                `CALLATTR ${label}`
              )
              const set = yield* Effect.either(fx(Operations.setattr(target, name, 1)))
              assert.isTrue(Either.isLeft(set) && (set.left as any).name === "AttributeError", `SETATTR ${label}`)
              const del = yield* Effect.either(fx(Operations.delattr(target, name)))
              assert.isTrue(Either.isLeft(del) && (del.left as any).name === "AttributeError", `DELATTR ${label}`)
            }
          }
          // CMP with an escape-hatch op name
          yield* remoteError(Operations.cmp(targets.plain, 1, "constructor"), "AttributeError")
          yield* remoteError(Operations.cmp(targets.plain, 1, "__lookupGetter__"), "AttributeError")
          // nothing leaked into Object.prototype, the objects are intact
          assert.isUndefined((({}) as any).value)
          assert.strictEqual(Object.getPrototypeOf(new Plain()), Plain.prototype)
          // and the dir() of an object does not advertise them
          const names = (yield* fx(Operations.dir(targets.plain))) as Array<string>
          for (const hatch of ["constructor", "__proto__", "__defineGetter__"]) assert.notInclude(names, hatch)
        }
      })
  )

  live("with allowAllAttrs (classic mode) they are reachable, as in RPyC", () =>
    Effect.gen(function*() {
      const server = yield* serve(HardService, { protocolConfig: { allowAllAttrs: true } })
      const conn = yield* connect(server.port!)
      const plain = yield* fx((conn.root as any).plain())
      const ctor = yield* fx(plain.constructor)
      assert.isTrue(Netref.isNetref(ctor))
      assert.strictEqual(Operations.typeName(ctor), "js.Plain")
    }))

  live("a Service root can never be assigned to or deleted from, whatever the config", () =>
    Effect.gen(function*() {
      for (
        const protocolConfig of [
          {},
          { allowSetattr: true, allowDelattr: true, allowPublicAttrs: true },
          { allowSetattr: true, allowDelattr: true, allowAllAttrs: true }
        ] as Array<Config.ConfigInput>
      ) {
        const server = yield* serve(HardService, { protocolConfig })
        const conn = yield* connect(server.port!)
        const root: any = yield* fx(conn.root)
        for (const name of ["plain", "exposed_plain", "x", "__proto__", "_rpyc_setattr"]) {
          const set = yield* remoteError(Operations.setattr(root, name, 1), "AttributeError")
          assert.deepStrictEqual(set.args, ["access denied"])
          yield* remoteError(Operations.delattr(root, name), "AttributeError")
        }
        assert.isTrue(Netref.isNetref(yield* fx(root.plain())))
      }
    }))
})
