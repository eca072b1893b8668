/**
 * The parent's side of the servers that serve connections in worker processes: what the forking
 * server (`Forking`, a process per connection) and the pooled server (`Pool`, N long-lived workers)
 * share. It loads the service the workers will load, listens without reading a byte, spawns workers
 * with the service's location, relays their log lines and hands them accepted sockets.
 *
 * The worker's side is `WorkerServe`; the messages between the two are `ForkProtocol`.
 *
 * @since 0.1.0
 */
import * as NodeSocket from "@effect/platform-node/NodeSocket"
import * as SocketServer from "@effect/platform/SocketServer"
import * as Cause from "effect/Cause"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as FiberRef from "effect/FiberRef"
import * as LogLevel from "effect/LogLevel"
import * as Runtime from "effect/Runtime"
import type * as Scope from "effect/Scope"
import * as ChildProcess from "node:child_process"
import * as Net from "node:net"
import { fileURLToPath } from "node:url"
import * as Logging from "../Logging.js"
import * as Service from "../service/Service.js"
import * as Stdio from "../transport/Stdio.js"
import * as Tcp from "../transport/Tcp.js"
import * as Tls from "../transport/Tls.js"
import * as Unix from "../transport/Unix.js"
import * as ForkProtocol from "./ForkProtocol.js"
import * as Server from "./Server.js"

/**
 * A start failure, as every server reports it.
 *
 * @since 0.1.0 @category errors
 */
export const openError = (cause: unknown): SocketServer.SocketServerError =>
  new SocketServer.SocketServerError({ reason: "Open", cause })

/**
 * The service the workers serve, loaded once in the parent too: a module that does not load fails the
 * start, and the parent needs the service's name for its logger.
 *
 * @since 0.1.0 @category models
 */
export interface LoadedService {
  /** What each worker is told to load. */
  readonly location: ForkProtocol.ServiceLocation
  readonly spec: Service.ServiceSpec
  readonly aliases: ReadonlyArray<string>
}

/**
 * Loads the service a module and export name point at (`Forking.ServiceRef`).
 *
 * @since 0.1.0 @category constructors
 */
export const loadService = (
  service: { readonly module: string | URL; readonly export?: string | undefined }
): Effect.Effect<LoadedService, SocketServer.SocketServerError> =>
  Effect.gen(function*() {
    const location: ForkProtocol.ServiceLocation = {
      module: ForkProtocol.moduleUrl(service.module),
      export: service.export ?? "default"
    }
    const spec = yield* Effect.tryPromise({ try: () => ForkProtocol.loadService(location), catch: openError })
    return { location, spec, aliases: Service.aliasesOf(spec) }
  })

/**
 * A parent listening for connections to hand to its workers.
 *
 * @since 0.1.0 @category models
 */
export interface Listening {
  /** Accepts connections paused; a handler gets the raw socket as `NodeSocket.NetSocket`. */
  readonly listener: Tcp.Server
  /** The `net.Server` under {@link listener}, to stop accepting ahead of the scope's close. */
  readonly netServer: Net.Server
  readonly address: SocketServer.Address
  readonly loggerName: string
  /** Puts a log line under the server's logger name. */
  readonly annotate: <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
  /** Logs a worker's log line through this server's logger; other messages are ignored. */
  readonly relay: (message: ForkProtocol.WorkerMessage) => void
  /** The message telling a worker to serve the connection between `endpoints` (local, peer). */
  readonly serveMessage: (endpoints: readonly [string, string]) => ForkProtocol.ServeMessage
  /**
   * Runs the accept loop in the scope, `handle` getting each raw connection; a failure of one handler
   * is logged as `failure` (an interruption is not), and a failure of the listener ends the loop.
   */
  readonly accept: (
    handle: (raw: Net.Socket) => Effect.Effect<void, unknown>,
    failure: string
  ) => Effect.Effect<void, never, Scope.Scope>
  /** Logs that the server has started, with `detail` after its address. */
  readonly logStarted: (detail?: string) => Effect.Effect<void>
}

/**
 * Listens where `options` say, as `Server.make` does, but with every connection paused: the parent
 * must not read a byte, or it would be lost when the socket moves to a worker. TLS credentials are
 * read and checked here, so that a bad setup fails the start; the workers get the PEM text and do
 * the handshake themselves.
 *
 * @since 0.1.0 @category constructors
 */
export const listen = (
  spec: Service.ServiceSpec,
  options: Server.ListenOptions & Server.ServeOptions
): Effect.Effect<Listening, SocketServer.SocketServerError, Scope.Scope> =>
  Effect.gen(function*() {
    const tls = options.tls === undefined ? undefined : yield* Tls.resolveServerCredentials({
      ...options.tls,
      handshakeTimeout: options.tls.handshakeTimeout ?? Server.TLS_HANDSHAKE_TIMEOUT
    }).pipe(Effect.mapError(openError))
    const minLogLevel = (yield* FiberRef.get(FiberRef.currentMinimumLogLevel))._tag

    if (options.socketPath !== undefined) {
      if (tls !== undefined) return yield* openError(new Error("TLS over a Unix socket is not supported"))
      yield* Unix.removeStaleSocket(options.socketPath)
    }
    let netServer: Net.Server | undefined
    const listener = yield* Tcp.fromNetServer({
      make: (onConnection) => (netServer = Net.createServer({ pauseOnConnect: true }, onConnection)),
      listen: options.socketPath !== undefined
        ? { path: options.socketPath, ...(options.backlog === undefined ? {} : { backlog: options.backlog }) }
        : {
          host: options.host ?? Tcp.defaultHost(options.ipv6),
          port: options.port ?? 0,
          ...(options.backlog === undefined ? {} : { backlog: options.backlog })
        }
    })
    const address = listener.address
    const loggerName = Server.loggerName(spec, address)
    const annotate = Effect.annotateLogs(Logging.LOGGER_NAME, loggerName)
    const runtime = yield* Effect.runtime<never>()
    return {
      listener,
      netServer: netServer!,
      address,
      loggerName,
      annotate,
      relay: (message) => {
        if (message.type !== "log") return
        Runtime.runFork(runtime)(
          Effect.logWithLevel(LogLevel.fromLiteral(message.level), message.message).pipe(annotate)
        )
      },
      serveMessage: (endpoints) => ({
        type: "serve",
        loggerName,
        minLogLevel,
        config: ForkProtocol.serializeConfig(options.protocolConfig),
        wireVersion: options.wireVersion ?? "auto",
        maxFrameSize: options.maxFrameSize,
        tls,
        endpoints
      }),
      accept: (handle, failure) =>
        listener.run(() =>
          Effect.flatMap(NodeSocket.NetSocket, handle).pipe(
            Effect.catchAllCause((cause) =>
              Cause.isInterruptedOnly(cause) ? Effect.void : Effect.logError(failure, cause)
            ),
            annotate
          )
        ).pipe(
          Effect.catchAllCause((cause) => Effect.logError("server stopped", cause).pipe(annotate)),
          Effect.forkScoped,
          Effect.asVoid
        ),
      logStarted: (detail = "") =>
        Effect.logInfo(
          `server started on ${
            address._tag === "TcpAddress" ? `[${address.hostname}]:${address.port}` : address.path
          }${detail}`
        ).pipe(annotate)
    }
  })

/**
 * The bound TCP port and address of a server (`undefined` for a Unix socket), as its handle shows them.
 *
 * @since 0.1.0 @category getters
 */
export const boundAddress = (address: SocketServer.Address): {
  readonly address: SocketServer.Address
  readonly port: number | undefined
  readonly host: string | undefined
} => ({
  address,
  port: address._tag === "TcpAddress" ? address.port : undefined,
  host: address._tag === "TcpAddress" ? address.hostname : undefined
})

/**
 * How a parent spawns its workers.
 *
 * @since 0.1.0 @category models
 */
export interface WorkerSettings {
  /** The worker's entry module in this directory, without its extension. */
  readonly entry: "ForkWorker" | "PoolWorker"
  readonly location: ForkProtocol.ServiceLocation
  /** Node flags; default `Stdio.loaderExecArgv()`. */
  readonly execArgv?: ReadonlyArray<string> | undefined
  /** Environment; default this process's. */
  readonly env?: NodeJS.ProcessEnv | undefined
}

/** A worker's entry module, in the form this module runs as (TypeScript sources or built JavaScript). */
const entryPath = (entry: WorkerSettings["entry"]): string =>
  fileURLToPath(new URL(`./${entry}.${import.meta.url.endsWith(".ts") ? "ts" : "js"}`, import.meta.url))

/**
 * Spawns a worker process with an IPC channel, its log lines going to `relay`. `started` succeeds
 * once the worker has loaded the service, and fails if it exits or cannot be spawned before that.
 *
 * @since 0.1.0 @category constructors
 */
export const spawnWorker = (
  settings: WorkerSettings,
  relay: (message: ForkProtocol.WorkerMessage) => void
): Effect.Effect<{ readonly child: ChildProcess.ChildProcess; readonly started: Effect.Effect<void, Error> }> =>
  Effect.gen(function*() {
    const started = yield* Deferred.make<void, Error>()
    const child = ChildProcess.spawn(
      process.execPath,
      [...(settings.execArgv ?? Stdio.loaderExecArgv()), entryPath(settings.entry), JSON.stringify(settings.location)],
      {
        stdio: ["ignore", "inherit", "inherit", "ipc"],
        serialization: "json",
        ...(settings.env === undefined ? {} : { env: settings.env })
      }
    )
    child.once("exit", (code, signal) => {
      Deferred.unsafeDone(started, Exit.fail(new Error(`worker exited before it started (${signal ?? code})`)))
    })
    child.on("error", (cause) => Deferred.unsafeDone(started, Exit.fail(cause)))
    child.on("message", (message: ForkProtocol.WorkerMessage) => {
      if (message.type === "started") Deferred.unsafeDone(started, Exit.void)
      else relay(message)
    })
    return { child, started: Deferred.await(started) }
  })

/**
 * Whether a worker process has exited.
 *
 * @since 0.1.0 @category getters
 */
export const hasExited = (child: ChildProcess.ChildProcess): boolean =>
  child.exitCode !== null || child.signalCode !== null

/**
 * Waits until a worker process has exited (at once if it has).
 *
 * @since 0.1.0 @category combinators
 */
export const awaitExit = (child: ChildProcess.ChildProcess): Effect.Effect<void> =>
  Effect.async<void>((resume) => {
    if (hasExited(child)) return resume(Effect.void)
    const onExit = () => resume(Effect.void)
    child.once("exit", onExit)
    return Effect.sync(() => child.off("exit", onExit))
  })

const socketAddress = (address: string | undefined, port: number | undefined, fallback: string) =>
  address !== undefined ? `${address}:${port}` : fallback

/**
 * The endpoints (local, peer) of an accepted connection, as the worker reports them to the service.
 *
 * @since 0.1.0 @category getters
 */
export const endpoints = (raw: Net.Socket, address: SocketServer.Address): readonly [string, string] => [
  socketAddress(raw.localAddress, raw.localPort, address._tag === "UnixAddress" ? address.path : "local"),
  socketAddress(raw.remoteAddress, raw.remotePort, "peer")
]

/**
 * Sends an accepted socket to a worker with the message telling it how to serve it. Once sent, the
 * parent's socket has no handle left: closing it touches nothing.
 *
 * @since 0.1.0 @category combinators
 */
export const handOver = (
  child: ChildProcess.ChildProcess,
  message: ForkProtocol.ServeMessage,
  raw: Net.Socket
): Effect.Effect<void, Error> =>
  Effect.async<void, Error>((resume) => {
    child.send(message, raw, (error) => resume(error ? Effect.fail(error) : Effect.void))
  })
