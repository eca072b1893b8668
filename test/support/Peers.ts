/**
 * The peers of the tests, all on 127.0.0.1 and a port the OS picks:
 *
 * - `serve(service)`: a TS server in this process; `connect(port)`: a TS client to it;
 *   `serverConnection(server)`: the server's side of the one connection it serves.
 * - `pythonServer(script)`: a Python RPyC server fixture as a child; it prints `PORT <n>` once it
 *   listens, and that is its port. `pythonClient(script, args)`: a Python client fixture run to
 *   completion; its last stdout line is a JSON report.
 * - `pythonClassic`: Python's own `rpyc_classic` (threaded) as a child; it logs the port it bound.
 * - `remote(op)`: a remote operation (or netref, Effect, plain value) as a typed Effect.
 *
 * Children are killed when the test's scope closes (test/support/Child.ts); Python tests follow the
 * one Python rule (test/support/Python.ts).
 */
import { assert } from "@effect/vitest"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import * as Client from "../../src/client/Client.js"
import type { RemoteFailure } from "../../src/internal/base/Errors.js"
import type * as Connection from "../../src/internal/engine/Engine.js"
import * as RemoteOp from "../../src/internal/netref/RemoteOp.js"
import * as Server from "../../src/server/Server.js"
import type * as Services from "../../src/service/Service.js"
import { type Child, type ChildError, explain, jsonResult, run, type RunOptions, spawn } from "./Child.js"
import { eventually } from "./Eventually.js"
import { hasPythonRpyc, PYTHON, pythonMissing } from "./Python.js"

// ---------------------------------------------------------------------------------------------
// TS peers

/**
 * A remote operation (or any Effect, netref, or plain value) as an `Effect<A, RemoteFailure>`: keeps
 * `Effect.gen` inference (`R = never`) independent of how loosely the untyped `Remote` is typed
 * (`yield*` of an `any` makes `Effect.gen` infer `unknown` requirements).
 */
export const remote = <A = any>(op: unknown): Effect.Effect<A, RemoteFailure> =>
  (Effect.isEffect(op) ? op : RemoteOp.toEffect(op)) as Effect.Effect<A, RemoteFailure>

/** A TS server for `service` on 127.0.0.1, port 0 (read it from `server.port`). */
export const serve = (service: Services.ServiceSpec, options: Server.Options = {}) =>
  Server.make(service, { host: "127.0.0.1", port: 0, ...options })

/**
 * A TS client connected to 127.0.0.1:`port`, for the current scope. It speaks v5 unless told
 * otherwise: the default `"auto"` opens a probe connection first, which would show up in tests that
 * count a server's connections (test/client/WireVersion.test.ts covers the default).
 */
export const connect = <Api = any>(port: number, options: Omit<Client.ConnectOptions, "port" | "host"> = {}) =>
  Client.connect<Api>({ host: "127.0.0.1", port, wireVersion: 5, ...options })

/** The one connection `server` serves (waits until it is registered). */
export const serverConnection = (server: Server.Server): Effect.Effect<Connection.Connection> =>
  Effect.gen(function*() {
    yield* eventually(() => server.connections.size === 1, "the server has exactly one connection")
    return [...server.connections][0]!
  })

// ---------------------------------------------------------------------------------------------
// Python peers

/** A Python server as a child and the port it listens on. */
export interface PythonPeer {
  readonly child: Child
  readonly port: number
}

/**
 * Starts the Python server fixture `script` (a path) with `args`; ready when it prints `PORT <n>`
 * on stdout (or the line `ready` matches, whose first group is the port).
 */
export const pythonServer = (
  script: string,
  args: ReadonlyArray<string> = [],
  ready: RegExp = /^PORT (\d+)$/
): Effect.Effect<PythonPeer, ChildError, Scope.Scope> =>
  Effect.gen(function*() {
    assert.isTrue(hasPythonRpyc, pythonMissing)
    const child = yield* spawn(PYTHON, ["-u", script, ...args], { ready: { stream: "stdout", pattern: ready } })
    return { child, port: Number(child.ready![1]) }
  })

/**
 * Runs the Python client fixture `script` (a path) with `args` to completion and returns its JSON
 * result line; fails the test with its output if it exits non-zero.
 */
export const pythonClient = <A = Record<string, any>>(
  script: string,
  args: ReadonlyArray<string> = [],
  options: RunOptions = {}
): Effect.Effect<A, ChildError> =>
  Effect.gen(function*() {
    assert.isTrue(hasPythonRpyc, pythonMissing)
    const r = yield* run(PYTHON, ["-u", script, ...args], options)
    assert.strictEqual(r.code, 0, explain(r))
    return jsonResult<A>(r)
  })

/** Python RPyC's classic server script (Debian's python3-rpyc). */
export const RPYC_CLASSIC = "/usr/bin/rpyc_classic"

/** Python's `rpyc_classic` (threaded mode) on 127.0.0.1, port 0, as a child. */
export const pythonClassic: Effect.Effect<PythonPeer, ChildError, Scope.Scope> = Effect.gen(function*() {
  assert.isTrue(hasPythonRpyc, pythonMissing)
  const child = yield* spawn(PYTHON, ["-u", RPYC_CLASSIC, "--host", "127.0.0.1", "--port", "0"], {
    ready: { stream: "stderr", pattern: /server started on \[127\.0\.0\.1\]:(\d+)/ }
  })
  return { child, port: Number(child.ready![1]) }
})
