/**
 * A real Python RPyC 5.3 client against a TS service served in-process (Server.make on
 * 127.0.0.1:0). The Python fixtures print their observations as one JSON line; the tests parse and
 * assert them.
 */
import { assert, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import { PythonException } from "../../src/internal/base/Errors.js"
import { Service } from "../../src/service/Service.js"
import { explain, jsonResult, run, spawn, TIMEOUT } from "../support/Child.js"
import { eventually } from "../support/Eventually.js"
import { remote, serve } from "../support/Peers.js"
import { describePython, hasPythonRpyc, PYTHON, pythonMissing } from "../support/Python.js"
import { fixture } from "./support.js"

class InteropService extends Service {
  exposed_the_answer = 42

  exposed_add(a: unknown, b: unknown) {
    return (a as number) + (b as number)
  }

  /** Calls a Python callback and awaits it (a netref call is a RemoteOp). */
  async exposed_call(cb: (x: unknown) => PromiseLike<unknown>, x: unknown) {
    return await cb(x)
  }

  exposed_fail_range(msg: string): never {
    throw new RangeError(msg)
  }

  exposed_fail_type(msg: string): never {
    throw new TypeError(msg)
  }

  exposed_fail_key(msg: string): never {
    throw new PythonException("KeyError", msg)
  }

  exposed_fail_plain(msg: string): never {
    throw new Error(msg)
  }

  exposed_echo(value: unknown) {
    return value
  }

  exposed_make_array(n: number) {
    return Array.from({ length: n }, (_, i) => i * i)
  }

  hidden() {
    return "secret"
  }
}

/** Keeps the callback a client parks, to call it later (even after the client died). */
class ParkingService extends Service {
  static parked: Array<(x: number) => PromiseLike<unknown>> = []
  exposed_park(cb: (x: number) => PromiseLike<unknown>) {
    ParkingService.parked.push(cb)
  }
  exposed_add(a: number, b: number) {
    return a + b
  }
}

type Raised = {
  readonly caught: string | null
  readonly str: string
  readonly args: ReadonlyArray<string>
  readonly module: string
  readonly mro: ReadonlyArray<string>
  readonly unexpected?: string
  readonly returned?: string
}

const runClient = (script: string, port: number) =>
  Effect.gen(function*() {
    const result = yield* run(PYTHON, ["-u", fixture(script), String(port)])
    assert.strictEqual(result.code, 0, explain(result))
    return { result, out: jsonResult(result) }
  })

const serveInterop = serve(InteropService)

describePython("Python RPyC client -> TS service", () => {
  it.scopedLive(
    "exposed members, naming, callbacks, exceptions and policy as Python sees them",
    () =>
      Effect.gen(function*() {
        assert.isTrue(hasPythonRpyc, pythonMissing)
        const server = yield* serveInterop
        const { out, result } = yield* runClient("ts_service_client.py", server.port!)
        const why = JSON.stringify(out, null, 2) + "\n" + result.stderr
        const value = (name: string): unknown => {
          assert.property(out, name, why)
          assert.notProperty(out[name], "error", `${name}: ${why}`)
          return out[name].value
        }
        const raised = (name: string): Raised => {
          assert.property(out, name, why)
          return out[name] as Raised
        }

        assert.strictEqual(out.rpyc_version, "5.3.0")

        // exposed method and attribute
        assert.strictEqual(value("add"), 5)
        assert.strictEqual(value("add_str"), "python")
        assert.strictEqual(value("the_answer"), 42)

        // naming
        assert.strictEqual(value("service_name"), "INTEROP")
        assert.deepStrictEqual(value("service_aliases"), ["INTEROP"])

        // Python callbacks, called from TS with `await cb(x)`
        assert.strictEqual(value("callback"), 40)
        assert.deepStrictEqual(out.callback_calls, [4])
        assert.strictEqual(value("callback_lambda"), "SHOUT")
        const cbRaised = raised("callback_raises")
        assert.strictEqual(cbRaised.caught, "ValueError", why)
        assert.include(cbRaised.str, "callback failed with 5")

        // TS exceptions arrive as builtins exceptions carrying the TS message
        const range = raised("range_error")
        assert.strictEqual(range.caught, "ValueError", why)
        assert.strictEqual(range.module, "builtins")
        assert.include(range.str, "value out of whack")
        assert.deepStrictEqual(range.args, ["value out of whack"])

        const rangeIndex = raised("range_error_index")
        assert.strictEqual(rangeIndex.caught, "IndexError", why)
        assert.include(rangeIndex.str, "index 9 out of bounds")

        const type = raised("type_error")
        assert.strictEqual(type.caught, "TypeError", why)
        assert.include(type.str, "wrong type here")
        assert.deepStrictEqual(type.args, ["wrong type here"])
        // the remote traceback banner Python appends, with the JS stack in it
        assert.include(type.str, "========= Remote Traceback (1) =========")

        const key = raised("key_error")
        assert.strictEqual(key.caught, "KeyError", why)
        assert.include(key.str, "missing-key")
        assert.deepStrictEqual(key.args, ["missing-key"])

        const plain = raised("plain_error")
        assert.strictEqual(plain.caught, "Exception", why)
        assert.include(plain.str, "plain error text")

        // policy
        const hidden = raised("hidden_method")
        assert.strictEqual(hidden.caught, "AttributeError", why)
        const missing = raised("missing_attr")
        assert.strictEqual(missing.caught, "AttributeError", why)
        assert.isFalse(value("hasattr_missing"))
        assert.isFalse(value("hasattr_hidden"))
        assert.isTrue(value("hasattr_add"))
        assert.strictEqual(value("getattr_default"), "fallback")

        // values and references
        assert.deepStrictEqual(value("echo_tuple"), [1, "two", 3.5, null, true])
        assert.isTrue(value("echo_list_identity"), "a Python list sent to TS and back is the same object")
        assert.deepStrictEqual(value("ts_array"), [0, 1, 4])
      }).pipe(Logger.withMinimumLogLevel(LogLevel.Warning)),
    TIMEOUT
  )

  it.scopedLive(
    "a client sending garbage does not take the server down for another client",
    () =>
      Effect.gen(function*() {
        assert.isTrue(hasPythonRpyc, pythonMissing)
        const server = yield* serveInterop
        const { out } = yield* runClient("garbage_client.py", server.port!)
        const why = JSON.stringify(out, null, 2)
        // the good client kept working on its connection, and a new connection works too
        assert.deepStrictEqual(out.good, [3, 7, 11, 15], why)
        // bytes that are not RPyC close the offending connection (PROTOCOL.md §3.14)
        for (
          const name of [
            "http",
            "huge_length",
            "bad_brine",
            "bad_zlib",
            "unknown_msg_type",
            "not_a_tuple",
            "truncated_then_eof"
          ]
        ) {
          assert.strictEqual(out.garbage[name]?.outcome, "closed", `${name}: ${why}`)
        }
        // an unknown handler id is an exception reply; the connection stays up
        assert.deepStrictEqual(out.garbage.unknown_handler, { outcome: "answered", msg_type: 3, seq: 0 }, why)
        // only the good client's connection may still be open (it closed too by now, or is closing)
        assert.isAtMost(server.connections.size, 1)
        // (the server logs each protocol error at ERROR level: expected here, so kept quiet)
      }).pipe(Logger.withMinimumLogLevel(LogLevel.None)),
    TIMEOUT
  )

  it.scopedLive(
    "a client killed mid-connection: the server drops it, its netrefs fail, others are served",
    () =>
      Effect.gen(function*() {
        assert.isTrue(hasPythonRpyc, pythonMissing)
        const server = yield* serve(ParkingService)
        yield* Effect.scoped(Effect.gen(function*() {
          yield* spawn(PYTHON, ["-u", fixture("hold_client.py"), String(server.port!)], {
            ready: { stream: "stdout", pattern: /^CONNECTED$/ }
          })
          assert.strictEqual(server.connections.size, 1)
          const cb = ParkingService.parked[0]!
          // the parked Python callback works while the client lives (its BgServingThread serves it)
          assert.strictEqual(yield* remote(cb(41)), 42)
        })) // closing the scope kills the Python client (SIGKILL) and waits for it
        // the server notices the EOF and forgets the connection
        yield* eventually(() => server.connections.size === 0, "the connection is dropped", { timeout: "10 seconds" })
        // the dead client's netref fails with ConnectionClosed instead of hanging
        const failure = yield* Effect.flip(remote(ParkingService.parked[0]!(1)))
        assert.strictEqual((failure as { _tag: string })._tag, "ConnectionClosed")
        // and the server still serves a new client
        const result = yield* run(PYTHON, [
          "-c",
          "import rpyc, sys; c = rpyc.connect('127.0.0.1', int(sys.argv[1])); print(c.root.add(2, 3)); c.close()",
          String(server.port!)
        ])
        assert.strictEqual(result.stdout, "5\n", explain(result))
      }).pipe(Logger.withMinimumLogLevel(LogLevel.Warning)),
    TIMEOUT
  )
})
