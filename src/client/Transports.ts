/**
 * Connections over the transports beyond TCP (RPyC's `rpyc.utils.factory`, PROTOCOL.md §7.4):
 * Unix socket, TLS, this process's stdio, a subprocess over its pipes, and an in-process server.
 *
 * Each is a scoped Effect returning a `Connection`: the connection (and whatever it started: a child
 * process, an in-process server) lives until the scope closes or `conn.close()`. Options take the local
 * `service` (default `VoidService`), `config`, `wireVersion` and `maxFrameSize`, like every client. These
 * transports cannot be probed, so `wireVersion` `"auto"` (the default) means 5 here; a server of the
 * other dialect is reported as `Client.WireVersionMismatch` (see `Client.connectSocket`). The classic
 * variants are in `classic/Transports`.
 *
 * @since 0.1.0
 */
import type * as Socket from "@effect/platform/Socket"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import type * as Scope from "effect/Scope"
import { fileURLToPath } from "node:url"
import type * as Config from "../internal/base/Config.js"
import type { ConnectionClosed } from "../internal/base/Errors.js"
import type * as Connection from "../internal/engine/Engine.js"
import * as Service from "../service/Service.js"
import * as Pair from "../transport/Pair.js"
import * as Stdio from "../transport/Stdio.js"
import * as Tls from "../transport/Tls.js"
import * as Unix from "../transport/Unix.js"
import * as Client from "./Client.js"

type Connected<Api> = Effect.Effect<Connection.Connection<Api>, Socket.SocketError | ConnectionClosed, Scope.Scope>

/**
 * Options of {@link unixConnect}.
 *
 * @since 0.1.0 @category models
 */
export interface UnixConnectOptions extends Client.ConnectionOptions {
  /** How long the connection may take to open; default 3 s. */
  readonly openTimeout?: Duration.DurationInput | undefined
}

/**
 * Connects to a server listening on a Unix-domain socket (RPyC's `unix_connect`, a server made with
 * `socketPath`).
 *
 * @since 0.1.0 @category constructors
 */
export const unixConnect = <Api = any>(path: string, options: UnixConnectOptions = {}): Connected<Api> =>
  Effect.flatMap(
    Unix.connect(path, { openTimeout: options.openTimeout }),
    (socket) => Client.connectSocket<Api>(socket, options)
  )

/**
 * Options of {@link sslConnect}: `Tls.ConnectOptions` (PEM contents or RPyC's file names `keyfile`,
 * `certfile`, `cafile`) plus the connection options.
 *
 * @since 0.1.0 @category models
 */
export interface SslConnectOptions extends Tls.ConnectOptions, Client.ConnectionOptions {}

/**
 * Connects over TLS (RPyC's `ssl_connect`): always encrypted; the server is verified only when a CA is
 * given (or `verify: true`), and its host name only with `checkHostname: true`, as in RPyC.
 *
 * @since 0.1.0 @category constructors
 */
export const sslConnect = <Api = any>(options: SslConnectOptions): Connected<Api> =>
  Effect.flatMap(Tls.connect(options), (socket) => Client.connectSocket<Api>(socket, options))

/**
 * Speaks RPyC over this process's stdin (incoming) and stdout (outgoing): the client side for a
 * process that was spawned by an RPyC server's parent (RPyC's `connect_stdpipes`). As with
 * `Stdio.fromProcessStdio`, `process.stdout.write` (and `console.log`) goes to stderr from then on.
 *
 * @since 0.1.0 @category constructors
 */
export const connectStdpipes = <Api = any>(options: Client.ConnectionOptions = {}): Connected<Api> =>
  Effect.flatMap(Stdio.fromProcessStdio(), (socket) => Client.connectSocket<Api>(socket, options))

/**
 * Options of {@link connectSubproc}.
 *
 * @since 0.1.0 @category models
 */
export interface SubprocOptions extends Client.ConnectionOptions, Stdio.SpawnOptions {}

/**
 * The command that runs this package's `rpyc-classic` CLI in stdio mode: the built JavaScript when
 * this library runs from `dist`, else the TypeScript source through tsx (resolved from this package,
 * so any working directory works).
 *
 * @since 0.1.0 @category constructors
 */
export const classicServerCommand = (): readonly [string, ReadonlyArray<string>] => {
  const fromSources = import.meta.url.endsWith(".ts")
  const cli = fileURLToPath(new URL(`../cli/rpyc-classic.${fromSources ? "ts" : "js"}`, import.meta.url))
  return [process.execPath, [...Stdio.loaderExecArgv(), cli, "--mode", "stdio", "--quiet"]]
}

/**
 * Spawns a server process and talks to it over its stdout/stdin (RPyC's `connect_subproc`). Without a
 * command it runs this package's `rpyc-classic --mode stdio --quiet` ({@link classicServerCommand}).
 * The child's stderr is inherited unless `stderr` says otherwise.
 *
 * Closing the connection closes the child's stdin (a stdio server then exits on its own); closing the
 * scope also terminates the child (SIGTERM, then SIGKILL after `killTimeout`) and waits for it.
 *
 * @since 0.1.0 @category constructors
 */
export const connectSubproc = <Api = any>(
  command?: string | undefined,
  args?: ReadonlyArray<string> | undefined,
  options: SubprocOptions = {}
): Connected<Api> =>
  Effect.gen(function*() {
    const [cmd, argv] = command === undefined ? classicServerCommand() : [command, args ?? []]
    const spawned = yield* Stdio.spawn(cmd, argv, options)
    return yield* Client.connectSocket<Api>(spawned.socket, options)
  })

/**
 * Options of {@link connectThread}.
 *
 * @since 0.1.0 @category models
 */
export interface ThreadOptions extends Client.ConnectionOptions {
  /** Config of the in-process server's side. */
  readonly remoteConfig?: Config.ConfigInput | undefined
}

/**
 * An in-process server and a client connected to it over an in-memory socket pair (RPyC's
 * `connect_thread`): the server side serves `remoteService` (default `VoidService`), the returned client
 * side exposes `options.service`. Both ends live in this process until the scope closes.
 *
 * @since 0.1.0 @category constructors
 */
export const connectThread = <Api = any>(
  remoteService: Service.ServiceSpec = Service.VoidService,
  options: ThreadOptions = {}
): Connected<Api> =>
  Effect.gen(function*() {
    const [clientSocket, serverSocket] = yield* Pair.make()
    const wireVersion = options.wireVersion === undefined || options.wireVersion === "auto" ? 5 : options.wireVersion
    // the server side runs its onConnect concurrently: it may call back into the client being made
    const server = yield* Service.makeConnection(serverSocket, remoteService, {
      config: { ...options.remoteConfig, endpoints: ["thread", "thread"] as const },
      wireVersion,
      maxFrameSize: options.maxFrameSize
    }).pipe(Effect.forkScoped)
    const conn = yield* Client.connectSocket<Api>(clientSocket, { ...options, wireVersion })
    // its onConnect failing fails this too (await, not join: join would merge the fiber's FiberRefs)
    yield* Effect.flatten(Fiber.await(server))
    return conn
  })
