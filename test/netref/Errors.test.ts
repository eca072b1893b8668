/**
 * Issue 3, item 5: exceptions both ways. TS errors become vinegar 4-tuples with a mapped builtins
 * class and the JS stack as traceback text; incoming vinegar becomes RemoteError (module, class,
 * args, attrs, remote traceback, _remote_version); StopIteration is the bare int 1;
 * includeLocalTraceback / includeLocalVersion are honoured. Against a TS peer, a Python client
 * (fixtures/errors_client.py) and a Python server.
 */
import { assert, describe } from "@effect/vitest"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Assert from "node:assert"
import * as Fs from "node:fs"
import type * as Config from "../../src/internal/base/Config.js"
import { PythonException, RemoteError } from "../../src/internal/base/Errors.js"
import * as Operations from "../../src/netref/Operations.js"
import { Service } from "../../src/service/Service.js"
import { TIMEOUT } from "../support/Child.js"
import { connect, remote as fx, serve } from "../support/Peers.js"
import { describePython } from "../support/Python.js"
import { collect, live, MsgType, pythonClient, pythonServer, remoteError, wireSpy } from "./support.js"

class NotFound extends Data.TaggedError("NotFound")<{ readonly what: string }> {}

class FailingService extends Service {
  exposed_type_error(): never {
    throw new TypeError("bad type")
  }
  exposed_range_index() {
    // RangeError: offset is out of bounds
    new Uint8Array(4).set([1], 10)
  }
  exposed_range_value() {
    return (255).toString(1)
  }
  exposed_syntax() {
    return JSON.parse("{")
  }
  exposed_reference() {
    return (globalThis as any).eval("not_defined_anywhere")
  }
  exposed_enoent() {
    return Fs.readFileSync("/nonexistent/effect-rpyc/file")
  }
  exposed_python_exc(): never {
    throw new PythonException("ZeroDivisionError", "division by zero")
  }
  exposed_plain(): never {
    throw new Error("plain error")
  }
  exposed_thrown_string(): never {
    throw "a thrown string"
  }
  exposed_rejected() {
    return Promise.reject(new RangeError("rejected value"))
  }
  exposed_effect_fail() {
    return Effect.fail(new NotFound({ what: "thing" }))
  }
  exposed_effect_die() {
    return Effect.die(new TypeError("died"))
  }
  exposed_missing_key() {
    throw new PythonException("KeyError", "k")
  }
  exposed_list_index() {
    throw new PythonException("IndexError", "list index out of range")
  }
  exposed_counter(n: number) {
    return (function*() {
      for (let i = 0; i < n; i++) yield i
    })()
  }
  exposed_stop(): never {
    throw new PythonException("StopIteration")
  }
  async exposed_call(cb: () => PromiseLike<unknown>) {
    return await cb()
  }
  exposed_map() {
    return new Map([["a", 1]])
  }
  exposed_assertion() {
    Assert.strictEqual(1, 2)
  }
  exposed_app_code(): never {
    throw Object.assign(new Error("quota exceeded"), { code: "E_QUOTA" })
  }
}

const setup = (protocolConfig: Config.ConfigInput = {}) =>
  Effect.gen(function*() {
    const server = yield* serve(FailingService, { protocolConfig })
    const spy = yield* wireSpy(server.port!)
    const conn = yield* connect(spy.port)
    const root: any = yield* fx(conn.root)
    return { spy, conn, root }
  })

/** The vinegar of the last EXCEPTION reply that crossed the relay. */
const lastVinegar = (spy: { frames: ReadonlyArray<{ dir: string; msg: number; args: unknown }> }) =>
  [...spy.frames].reverse().find((f) => f.dir === "in" && f.msg === MsgType.EXCEPTION)!.args

describe("TS errors → vinegar → RemoteError (TS peer)", () => {
  live("mapped builtins classes, args, the JS stack as traceback text, _remote_version", () =>
    Effect.gen(function*() {
      const { root, spy } = yield* setup()
      const cases: Array<[string, string, unknown]> = [
        ["type_error", "TypeError", ["bad type"]],
        ["range_index", "IndexError", undefined],
        ["range_value", "ValueError", undefined],
        ["syntax", "SyntaxError", undefined],
        ["reference", "NameError", undefined],
        ["enoent", "FileNotFoundError", undefined],
        ["python_exc", "ZeroDivisionError", ["division by zero"]],
        ["plain", "Exception", ["plain error"]],
        ["thrown_string", "Exception", ["a thrown string"]],
        ["rejected", "ValueError", ["rejected value"]],
        ["effect_die", "TypeError", ["died"]],
        ["missing_key", "KeyError", ["k"]],
        ["list_index", "IndexError", ["list index out of range"]]
      ]
      for (const [method, name, args] of cases) {
        const e = yield* remoteError(root[method](), name)
        assert.strictEqual(e.module, "builtins", method)
        if (args !== undefined) assert.deepStrictEqual(e.args, args, method)
        assert.strictEqual(e.remoteVersion, "5.3.0", method)
        // the wire form: ((module, class), args, attrs, traceback) with _remote_version last
        const vinegar = lastVinegar(spy) as [[string, string], Array<unknown>, Array<[string, unknown]>, string]
        assert.strictEqual(vinegar.length, 4)
        assert.deepStrictEqual(vinegar[0], ["builtins", name])
        assert.deepStrictEqual(vinegar[2][vinegar[2].length - 1], ["_remote_version", "5.3.0"])
        if (method !== "thrown_string") {
          assert.include(e.remoteTraceback, "JavaScript stack", method)
          assert.include(e.remoteTraceback, ".ts:", `${method}: the traceback is the JS stack`)
        }
      }
      // an OS error carries errno/strerror/filename, as Python's OSError does
      const enoent = yield* remoteError(root.enoent(), "FileNotFoundError")
      const attrs = Object.fromEntries(enoent.attrs)
      assert.strictEqual(attrs.errno, 2)
      assert.strictEqual(attrs.filename, "/nonexistent/effect-rpyc/file")
      assert.include(String(attrs.strerror), "ENOENT")
      // a tagged Effect error keeps its tag, under a non-builtins module
      const tagged = yield* remoteError(root.effect_fail(), "NotFound")
      assert.strictEqual(tagged.module, "effect")
      assert.strictEqual(tagged.qualifiedName, "effect.NotFound")
      // the message numbers the remote traceback as Python does
      assert.include(tagged.message, "========= Remote Traceback (1) =========")
      // RemoteError is a tagged error: catchTag works
      const caught = yield* fx(root.type_error()).pipe(
        Effect.catchTag("RemoteError", (e) => Effect.succeed(`${e.name}: ${e.args[0]}`))
      )
      assert.strictEqual(caught, "TypeError: bad type")
    }))

  live(
    "policy denial is AttributeError, a missing dict key KeyError, a list index IndexError",
    () =>
      Effect.gen(function*() {
        const { root } = yield* setup()
        const denied = yield* remoteError(root.get_question, "AttributeError")
        assert.deepStrictEqual(denied.args, ["cannot access 'get_question'"])
        const map = yield* fx(root.map())
        yield* remoteError(Operations.getitem(map, "zz"), "KeyError")
        yield* remoteError(Operations.getitem(root.counter(1), 0), "AttributeError")
      })
  )

  live(
    "StopIteration travels as the bare int 1 and comes back as RemoteError StopIteration",
    () =>
      Effect.gen(function*() {
        const { root, spy } = yield* setup()
        const e = yield* remoteError(root.stop(), "StopIteration")
        assert.instanceOf(e, RemoteError)
        assert.strictEqual(lastVinegar(spy), 1)
        assert.deepStrictEqual(yield* collect(root.counter(2)), [0, 1])
      })
  )

  live("includeLocalTraceback: false / includeLocalVersion: false", () =>
    Effect.gen(function*() {
      const { root, spy } = yield* setup({ includeLocalTraceback: false, includeLocalVersion: false })
      const e = yield* remoteError(root.type_error(), "TypeError")
      assert.strictEqual(e.remoteTraceback, "<traceback denied>")
      assert.strictEqual(e.remoteVersion, "<version denied>")
      const vinegar = lastVinegar(spy) as Array<unknown>
      assert.strictEqual(vinegar[3], "<traceback denied>")
      assert.notInclude(JSON.stringify(vinegar), ".ts:")
    }))

  // Regression (was a bug: src/protocol/Vinegar.ts, pythonClassOf): every Error that has a `code` property is
  // mapped to an OSError subclass (osErrorName's default is "OSError") with fake errno/strerror/
  // filename attrs — including Node's AssertionError (code "ERR_ASSERTION"), AbortError
  // ("ABORT_ERR") and application errors with string codes ("E_QUOTA"), which are not OS errors.
  // Input: a service method running `assert.strictEqual(1, 2)` (node:assert), or throwing
  // `Object.assign(new Error("quota exceeded"), { code: "E_QUOTA" })`. Expected: AssertionError
  // (or Exception) and Exception, without errno attrs; actual: builtins.OSError with errno None.
  live("errors with a non-errno `code` are not OSErrors", () =>
    Effect.gen(function*() {
      const { root } = yield* setup()
      const assertion = yield* Effect.flip(fx(root.assertion()))
      assert.oneOf((assertion as RemoteError).name, ["AssertionError", "Exception"])
      const app = yield* Effect.flip(fx(root.app_code()))
      assert.strictEqual((app as RemoteError).name, "Exception")
      assert.isUndefined((app as RemoteError).attrs.find(([k]) => k === "errno"))
    }))

  live(
    "an error raised by the client's callback comes back through the server with its class",
    () =>
      Effect.gen(function*() {
        const { root } = yield* setup()
        const e = yield* remoteError(
          root.call(() => {
            throw new PythonException("LookupError", "from the client")
          }),
          "LookupError"
        )
        assert.deepStrictEqual(e.args, ["from the client"])
        assert.include(e.remoteTraceback, "JavaScript stack")
      })
  )
})

describePython("exceptions between TS and Python RPyC 5.3", () => {
  live("a Python client catches the builtins classes a TS server raises", () =>
    Effect.gen(function*() {
      const server = yield* serve(FailingService)
      const r = yield* pythonClient<Record<string, any>>("errors_client.py", String(server.port))
      const expect = (name: string, cls: string) => {
        const c = r[name]
        assert.isNotNull(c.raised, `${name} raised nothing`)
        assert.include(c.mro, `builtins.${cls}`, `${name}: ${JSON.stringify(c)}`)
        assert.isTrue(c.is_expected, `${name} is a ${cls} for Python`)
        assert.strictEqual(c.version, "5.3.0")
        assert.notInclude(c.tb, "WARNING: Remote is on RPyC")
        return c
      }
      const te = expect("type_error", "TypeError")
      assert.deepStrictEqual(te.args, ["bad type"])
      assert.include(te.tb, "JavaScript stack")
      assert.include(te.str, "========= Remote Traceback (1) =========")
      expect("range_index", "IndexError")
      expect("range_value", "ValueError")
      expect("syntax", "SyntaxError")
      expect("reference", "NameError")
      const enoent = expect("enoent", "FileNotFoundError")
      assert.strictEqual(enoent.attrs.errno, 2)
      assert.strictEqual(enoent.attrs.filename, "/nonexistent/effect-rpyc/file")
      expect("python_exc", "ZeroDivisionError")
      expect("plain", "Exception")
      assert.deepStrictEqual(expect("thrown_string", "Exception").args, ["a thrown string"])
      expect("rejected", "ValueError")
      expect("effect_die", "TypeError")
      expect("missing_key", "KeyError")
      expect("list_index", "IndexError")
      // a non-builtins class: Python's generic remote exception named "effect.NotFound"
      assert.strictEqual(r.effect_fail.raised, "effect.NotFound")
      // AttributeError makes hasattr / getattr(…, default) work
      assert.strictEqual(r.hasattr_missing, false)
      assert.strictEqual(r.hasattr_present, true)
      assert.strictEqual(r.getattr_default, "default")
      assert.strictEqual(r.attribute_error_str, "cannot access 'nope'")
      // StopIteration ends a Python loop over a TS generator, and is raised as itself
      assert.deepStrictEqual(r.stop_iteration, [0, 1, 2])
      assert.strictEqual(r.stop_raised, "StopIteration")
      // the client's own KeyError, through the TS server and back: still a KeyError, two hops
      assert.strictEqual(r.roundtrip.raised, "KeyError")
      assert.deepStrictEqual(r.roundtrip.args, ["from python"])
      assert.include(r.roundtrip.tb, "Traceback (most recent call last)")
    }), TIMEOUT)

  live(
    "a TS server with includeLocalTraceback/includeLocalVersion off: Python sees the denial markers",
    () =>
      Effect.gen(function*() {
        const server = yield* serve(FailingService, {
          protocolConfig: { includeLocalTraceback: false, includeLocalVersion: false }
        })
        const r = yield* pythonClient<Record<string, any>>("errors_client.py", String(server.port))
        assert.strictEqual(r.type_error.tb, "<traceback denied>")
        assert.strictEqual(r.type_error.version, "<version denied>")
        assert.notInclude(r.type_error.str, "JavaScript stack")
      }),
    TIMEOUT
  )

  live(
    "Python exceptions become RemoteError: module, class, args, attrs, traceback, _remote_version",
    () =>
      Effect.gen(function*() {
        const { port } = yield* pythonServer()
        const conn = yield* connect(port)
        const root: any = yield* fx(conn.root)
        const value = yield* remoteError(root.raise_value("boom"), "ValueError")
        assert.strictEqual(value.module, "builtins")
        assert.deepStrictEqual(value.args, ["boom", 7])
        assert.strictEqual(value.remoteVersion, "5.3.0")
        assert.include(value.remoteTraceback, "Traceback (most recent call last)")
        assert.include(value.remoteTraceback, "ValueError: ('boom', 7)")
        assert.isTrue(value.attrs.some(([k]) => k === "add_note"), "Python 3.11+ sends add_note")
        assert.isTrue(value.is("builtins.ValueError"))
        const custom = yield* remoteError(root.raise_custom(), "CustomError")
        assert.strictEqual(custom.module, "__main__")
        assert.strictEqual(custom.qualifiedName, "__main__.CustomError")
        assert.deepStrictEqual(custom.args, ["custom!", 5])
        assert.deepStrictEqual(custom.attrs.find(([k]) => k === "code"), ["code", 5])
        const key = yield* remoteError(root.raise_key("zz"), "KeyError")
        assert.deepStrictEqual(key.args, ["zz"])
        const os = yield* remoteError(root.raise_os(), "FileNotFoundError")
        const osAttrs = Object.fromEntries(os.attrs)
        assert.strictEqual(osAttrs.errno, 2)
        assert.strictEqual(osAttrs.filename, "/nonexistent/dir/file")
        const stop = yield* remoteError(root.raise_stop(), "StopIteration")
        assert.strictEqual(stop.remoteTraceback, "")
        // a TS callback's error goes to Python and comes back through Python's traceback
        const back = yield* remoteError(
          root.call(() => {
            throw new RangeError("index out of range in callback")
          }),
          "IndexError"
        )
        assert.include(back.remoteTraceback, "JavaScript stack")
        assert.include(back.remoteTraceback, "Traceback (most recent call last)")
      }),
    TIMEOUT
  )

  live("a Python server with include_local_traceback/version off", () =>
    Effect.gen(function*() {
      const { port } = yield* pythonServer({ include_local_traceback: false, include_local_version: false })
      const conn = yield* connect(port)
      const e = yield* remoteError((conn.root as any).raise_value("x"), "ValueError")
      assert.strictEqual(e.remoteTraceback, "<traceback denied>")
      assert.strictEqual(e.remoteVersion, "<version denied>")
    }), TIMEOUT)
})
