/**
 * Classic connections over the transports beyond TCP (RPyC's `rpyc.classic.unix_connect`, `ssl_connect`,
 * `connect_stdpipes`, `connect_subproc`, `connect_thread`): those of `client/Transports`, with `ClassicService` as
 * the local service and the classic attributes (`modules`, `builtins`, `eval`, `execute`, `namespace`,
 * `teleport`) installed, as `Classic.connect` does over TCP.
 *
 * Each returns a `Classic.Connecting`: `yield*` it in a scope (the connection lives as long as the
 * scope), or `await` it (the connection then owns its resources, released by `close()`).
 *
 * ```ts
 * const c = yield* ClassicTransports.connectSubproc()        // spawns rpyc-classic --mode stdio
 * yield* c.eval("process.pid")
 * const t = yield* ClassicTransports.connectThread()         // a classic server in this process
 * const s = yield* ClassicTransports.sslConnect("localhost") // port 18821
 * ```
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import * as Transports from "../client/Transports.js"
import type * as Config from "../internal/base/Config.js"
import type * as Connection from "../internal/engine/Engine.js"
import type * as Tls from "../transport/Tls.js"
import * as Classic from "./Classic.js"
import { ClassicService } from "./ClassicService.js"

const classic = (
  effect: Effect.Effect<Connection.Connection, Classic.ConnectError, Scope.Scope>
): Classic.Connecting => Classic.connecting(Effect.flatMap(effect, Classic.install))

/** The options with `ClassicService` as the local service unless one was given (RPyC's classic clients). */
const withClassicService = <O extends Classic.ConnectionOptions>(options: O): O => ({
  ...options,
  service: options.service ?? ClassicService
})

/**
 * A classic connection to a server on a Unix-domain socket (RPyC's `classic.unix_connect(path)`), e.g.
 * `rpyc-classic --socket-path PATH`.
 *
 * @since 0.1.0 @category constructors
 */
export const unixConnect = (
  path: string,
  options: Classic.ConnectionOptions & Pick<Transports.UnixConnectOptions, "openTimeout"> = {}
): Classic.Connecting => classic(Transports.unixConnect(path, withClassicService(options)))

/**
 * Options of {@link sslConnect}: TLS settings (PEM contents or RPyC's file names `keyfile`, `certfile`,
 * `cafile`) plus the classic connection options.
 *
 * @since 0.1.0 @category models
 */
export interface SslConnectOptions extends Classic.ConnectionOptions, Omit<Tls.ConnectOptions, "host" | "port"> {}

/**
 * A classic connection over TLS (RPyC's `classic.ssl_connect(host, port=18821, …)`), e.g. to
 * `rpyc-classic --ssl-keyfile … --ssl-certfile …`. As in RPyC, the server is verified only when a CA is
 * given.
 *
 * @since 0.1.0 @category constructors
 */
export const sslConnect = (
  host: string,
  port: number = Classic.DEFAULT_SERVER_SSL_PORT,
  options: SslConnectOptions = {}
): Classic.Connecting => classic(Transports.sslConnect({ ...withClassicService(options), host, port }))

/**
 * A classic connection over this process's stdin/stdout (RPyC's `classic.connect_stdpipes()`), for a
 * process spawned by a classic server's parent. `console.log` goes to stderr from then on.
 *
 * @since 0.1.0 @category constructors
 */
export const connectStdpipes = (options: Classic.ConnectionOptions = {}): Classic.Connecting =>
  classic(Transports.connectStdpipes(withClassicService(options)))

/**
 * Options of {@link connectSubproc}.
 *
 * @since 0.1.0 @category models
 */
export interface SubprocOptions extends Classic.ConnectionOptions, Omit<Transports.SubprocOptions, "service"> {}

/**
 * Spawns a classic server and talks to it over its pipes (RPyC's `classic.connect_subproc()`). Without a
 * command: this package's `rpyc-classic --mode stdio --quiet` (`Transports.classicServerCommand`); give
 * e.g. `("/usr/bin/rpyc_classic", ["-q", "-m", "stdio"])` for Python's. The child is killed when the
 * scope closes (closing the connection already makes a stdio server exit).
 *
 * @since 0.1.0 @category constructors
 */
export const connectSubproc = (
  command?: string | undefined,
  args?: ReadonlyArray<string> | undefined,
  options: SubprocOptions = {}
): Classic.Connecting => classic(Transports.connectSubproc(command, args, withClassicService(options)))

/**
 * Options of {@link connectThread}.
 *
 * @since 0.1.0 @category models
 */
export interface ThreadOptions extends Classic.ConnectionOptions {
  /** Config of the in-process server's side. */
  readonly remoteConfig?: Config.ConfigInput | undefined
}

/**
 * A classic server in this process and a classic connection to it over an in-memory socket pair (RPyC's
 * `classic.connect_thread()`). Useful for tests: `eval`/`execute` run in this process, in the
 * connection's own namespace.
 *
 * @since 0.1.0 @category constructors
 */
export const connectThread = (options: ThreadOptions = {}): Classic.Connecting =>
  classic(Transports.connectThread(ClassicService, withClassicService(options)))
