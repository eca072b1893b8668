/**
 * Classic RPyC (PROTOCOL.md §5.3): full control of a classic server — Python's `rpyc_classic`
 * or our `rpyc-classic` — through its modules, builtins, namespace, `eval` and `execute`.
 *
 * ```ts
 * import * as rpyc from "effect-rpyc"
 *
 * const c = await rpyc.classic.connect("localhost")            // port 18812
 * await c.modules.sys.stdout.write("hello world\n")            // printed by the server
 * await c.execute("import math")                               // Python server: Python code
 * await c.eval("2*math.pi")                                    // 6.283185307179586
 * await c.close()
 *
 * // in an Effect (the connection lives as long as the scope):
 * const c = yield* classic.connect("localhost", 18812)
 * ```
 *
 * A classic connection is a `Connection` plus:
 *
 * | RPyC                      | effect-rpyc                                   | wire |
 * |---------------------------|-----------------------------------------------|------|
 * | `conn.modules.os`, `conn.modules["xml.dom"]` | `c.modules.os`, `c.modules["xml.dom"]` (a remote operation; the module is fetched once per name) | CALL `getmodule` |
 * | `"x" in conn.modules`     | `await c.hasModule("x")`                       | `importlib.util._find_spec_from_path` |
 * | `conn.builtins` / `conn.builtin` | `c.builtins` / `c.builtin` (netref)     | fetched at connect |
 * | `conn.namespace`          | `c.namespace` (netref: a Python `dict`, or a JS namespace whose entries are also attributes) | fetched at connect |
 * | `conn.eval(text)`         | `c.eval(code)` (remote operation)              | CALLATTR `eval` |
 * | `conn.execute(text)`      | `c.execute(code)` (remote operation)           | CALLATTR `execute` |
 * | `conn.teleport(func)`     | `c.teleport(fn)` — a JS function to a JS server, Python source to a Python server (`Teleport`) | |
 *
 * The code `eval` and `execute` take is the **server's** language: JavaScript for a TypeScript
 * server, Python for `rpyc_classic`. `c.peer` says which (`"js"` / `"python"`), from the id of the
 * server's root. Remote operations are lazy: `c.execute(…)` runs when awaited (or yielded).
 *
 * What the server's modules are: for a Python server, Python's; for a TypeScript server,
 * `require(name)` on the server (`fs`, `os`, `node:path`, packages) plus the stand-ins described in
 * `ClassicService` — notably `sys`, whose `stdout.write` prints on the server, so
 * `c.modules.sys.stdout.write("hello\n")` works against both.
 *
 * The local side of a classic connection serves a `ClassicService` too (RPyC's classic services
 * are master and slave), so the server may call back with full access.
 *
 * The remoting helpers (`upload`, `download`, `redirectedStdio`, `obtain`, `deliver`) and
 * `teleport` are re-exported here, so `rpyc.classic.upload(c, …)` reads as RPyC's.
 *
 * @since 0.1.0
 */
import type * as Socket from "@effect/platform/Socket"
import * as Effect from "effect/Effect"
import * as Effectable from "effect/Effectable"
import type * as Scope from "effect/Scope"
import * as Client from "../client/Client.js"
import * as Awaitable from "../internal/base/Awaitable.js"
import type { RemoteFailure } from "../internal/base/Errors.js"
import * as Connection from "../internal/engine/Engine.js"
import * as Netref from "../internal/netref/Netref.js"
import * as RemoteOp from "../internal/netref/RemoteOp.js"
import * as Logging from "../Logging.js"
import type * as Service from "../service/Service.js"
import type { ClassicConnection, Modules } from "./ClassicConnection.js"
import { ClassicService } from "./ClassicService.js"
import * as Teleport from "./Teleport.js"

export type { ClassicConnection, Modules } from "./ClassicConnection.js"
export { ClassicService } from "./ClassicService.js"
export { Namespace } from "./Namespace.js"
export {
  deliver,
  download,
  obtain,
  type Progress,
  redirectedStdio,
  type RedirectOptions,
  RemotingError,
  type TransferOptions,
  upload,
  withRedirectedStdio
} from "./Remoting.js"
export { TeleportError, type TeleportOptions } from "./Teleport.js"

/**
 * RPyC's classic port.
 *
 * @since 0.1.0 @category constants
 */
export const DEFAULT_SERVER_PORT = 18812

/**
 * RPyC's classic port over TLS.
 *
 * @since 0.1.0 @category constants
 */
export const DEFAULT_SERVER_SSL_PORT = 18821

const asRemote = (u: unknown): RemoteOp.Remote => u as RemoteOp.Remote

/**
 * Adds the classic attributes to a connection whose peer serves a classic service (RPyC's
 * `MasterService._install`): fetches the root, its `namespace` and the `builtins` module.
 *
 * @since 0.1.0 @category constructors
 */
export const install = (conn: Connection.Connection): Effect.Effect<ClassicConnection, RemoteFailure> =>
  Effect.gen(function*() {
    const root = asRemote(yield* RemoteOp.toEffect(conn.root))
    const state = Netref.stateOf(root)
    const peer: "js" | "python" = state !== undefined && String(state.idPack[0]).startsWith("js.") ? "js" : "python"

    const resolved = new Map<string, unknown>()
    const ops = new Map<string, RemoteOp.Remote>()
    const moduleOp = (name: string): RemoteOp.Remote => {
      let op = ops.get(name)
      if (op === undefined) {
        op = RemoteOp.fromEffect(
          Effect.suspend(() =>
            resolved.has(name)
              ? Effect.succeed(resolved.get(name))
              : Effect.tap(RemoteOp.toEffect(root.getmodule(name)), (m) => Effect.sync(() => resolved.set(name, m)))
          ),
          `modules[${JSON.stringify(name)}]`
        )
        ops.set(name, op)
      }
      return op
    }
    const modules = new Proxy(Object.create(null) as Modules, {
      get: (_target, key) => (typeof key === "string" && key !== "then" ? moduleOp(key) : undefined),
      set: (_target, key) => {
        throw new TypeError(`cannot assign modules.${String(key)}: modules are the server's`)
      }
    })

    const [namespace, builtins] = yield* Effect.all([
      RemoteOp.toEffect(root.namespace),
      RemoteOp.toEffect(moduleOp("builtins"))
    ], { concurrency: "unbounded" })

    const hasModule = (name: string): Awaitable.Awaitable<boolean, RemoteFailure> =>
      Awaitable.make(Effect.map(
        RemoteOp.toEffect(moduleOp("importlib.util")._find_spec_from_path(name)),
        (spec) => {
          if (Netref.isNetref(spec)) Netref.release(spec)
          return spec !== null && spec !== undefined
        }
      ))

    // the connection itself, plus the classic attributes (a Proxy, so that every member of
    // Connection — present and future — is the connection's own)
    const extras: Omit<ClassicConnection, keyof Connection.Connection> = {
      connection: conn,
      peer,
      modules,
      builtins: asRemote(builtins),
      builtin: asRemote(builtins),
      namespace: asRemote(namespace),
      eval: (code) => root.eval(code),
      execute: (code) => root.execute(code),
      teleport: (fn, options) => Teleport.teleport(classic, fn, options),
      hasModule
    }
    const own = (key: PropertyKey): key is keyof typeof extras => Object.prototype.hasOwnProperty.call(extras, key)
    const classic = new Proxy(conn, {
      get: (target, key) => (own(key) ? extras[key] : Reflect.get(target, key, target)),
      has: (target, key) => own(key) || Reflect.has(target, key)
    }) as unknown as ClassicConnection
    return classic
  })

/**
 * Options of the classic connectors.
 *
 * @since 0.1.0 @category models
 */
export interface ConnectionOptions extends Omit<Client.ConnectionOptions, "service"> {
  /** This side's service (default: a `ClassicService`, as RPyC's classic client). */
  readonly service?: Service.ServiceSpec | undefined
}

/**
 * TCP options of {@link connect}.
 *
 * @since 0.1.0 @category models
 */
export interface ConnectOptions extends ConnectionOptions, Omit<Client.ConnectOptions, "host" | "port" | "service"> {}

/**
 * What connecting can fail with.
 *
 * @since 0.1.0 @category models
 */
export type ConnectError = Socket.SocketError | RemoteFailure

/**
 * A classic connection being made: a scoped Effect (`yield*` it; the connection lives as long as
 * the scope) that can also be awaited (then the connection owns its resources, released by
 * `close()` or when the peer hangs up). Like any Effect it is a recipe: each `await` / `yield*`
 * makes a new connection.
 *
 * @since 0.1.0 @category models
 */
export interface Connecting
  extends Effect.Effect<ClassicConnection, ConnectError, Scope.Scope>, PromiseLike<ClassicConnection>
{}

class ConnectingImpl extends Effectable.Class<ClassicConnection, ConnectError, Scope.Scope> implements Connecting {
  constructor(private readonly effect: Effect.Effect<ClassicConnection, ConnectError, Scope.Scope>) {
    super()
  }
  commit(): Effect.Effect<ClassicConnection, ConnectError, Scope.Scope> {
    return this.effect
  }
  then<R1 = ClassicConnection, R2 = never>(
    onfulfilled?: ((value: ClassicConnection) => R1 | PromiseLike<R1>) | null,
    onrejected?: ((reason: unknown) => R2 | PromiseLike<R2>) | null
  ): Promise<R1 | R2> {
    // a script's connection logs like RPyC's: warnings and errors, on stderr
    return Connection.runOwned(Effect.provide(this.effect, Logging.layerScript())).then(onfulfilled, onrejected)
  }
}

/**
 * Makes a scoped classic-connection Effect awaitable as well (for the connectors built on
 * {@link connectSocket}: Unix sockets, TLS, stdio, subprocesses, threads).
 *
 * @since 0.1.0 @category constructors
 */
export const connecting = (effect: Effect.Effect<ClassicConnection, ConnectError, Scope.Scope>): Connecting =>
  new ConnectingImpl(effect)

/**
 * A classic connection over an already-made Socket (RPyC's `classic.connect_stream`).
 *
 * @since 0.1.0 @category constructors
 */
export const connectSocket = (socket: Socket.Socket, options: ConnectionOptions = {}): Connecting =>
  connecting(
    Effect.flatMap(
      Client.connectSocket(socket, { ...options, service: options.service ?? ClassicService }),
      install
    )
  )

/**
 * Connects to a classic server over TCP (RPyC's `rpyc.classic.connect(host, port=18812)`).
 *
 * @since 0.1.0 @category constructors
 */
export const connect = (host: string, port: number = DEFAULT_SERVER_PORT, options: ConnectOptions = {}): Connecting =>
  connecting(
    Effect.flatMap(
      Client.connect({ ...options, host, port, service: options.service ?? ClassicService }),
      install
    )
  )

/**
 * Teleports a function to the server of `conn` (RPyC's `teleport_function(conn, func)`); same as
 * `conn.teleport(fn)`.
 *
 * @since 0.1.0 @category teleport
 */
export const teleportFunction = (
  conn: ClassicConnection,
  fn: Function | string,
  options?: Teleport.TeleportOptions
): Awaitable.Awaitable<RemoteOp.Remote, Teleport.TeleportError | RemoteFailure> => Teleport.teleport(conn, fn, options)
