/**
 * RPyC servers: accept connections and serve a service on each, one fiber per connection (RPyC's
 * `ThreadedServer`), over TCP, a Unix socket or TLS (RPyC's `SSLAuthenticator`).
 *
 * - `make(options)`: a scoped Effect; closing the scope stops listening and closes every
 *   connection.
 * - `layer(options)`: the same as a Layer providing the `RpycServer` tag.
 * - `ThreadedServer`: a class for scripts, `await new ThreadedServer(MyService, { port }).start()`.
 *
 * The other serving modes build on this module: `OneShot`, `StdioServer` and `Forking`.
 *
 * Servers bind `Tcp.DEFAULT_HOST` (`127.0.0.1`) unless told otherwise; pass `host: "0.0.0.0"` (or
 * `"::"`) to listen on all interfaces.
 *
 * @since 0.1.0
 */
import * as NodeSocket from "@effect/platform-node/NodeSocket"
import type * as Socket from "@effect/platform/Socket"
import { SocketGenericError, TypeId as SocketTypeId } from "@effect/platform/Socket"
import * as SocketServer from "@effect/platform/SocketServer"
import * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as FiberRef from "effect/FiberRef"
import * as FiberRefs from "effect/FiberRefs"
import * as FiberSet from "effect/FiberSet"
import * as Layer from "effect/Layer"
import * as LogLevel from "effect/LogLevel"
import * as Runtime from "effect/Runtime"
import type * as Scope from "effect/Scope"
import type * as Net from "node:net"
import * as Dialect from "../client/Dialect.js"
import type * as Config from "../internal/base/Config.js"
import * as StreamCapabilities from "../internal/base/StreamCapabilities.js"
import type * as Connection from "../internal/engine/Engine.js"
import type { WireVersion } from "../internal/wire/Message.js"
import * as Logging from "../Logging.js"
import * as Registry from "../registry/Registry.js"
import * as RegistryClient from "../registry/RegistryClient.js"
import * as Service from "../service/Service.js"
import * as Tcp from "../transport/Tcp.js"
import * as Tls from "../transport/Tls.js"
import * as Unix from "../transport/Unix.js"
import * as WebSocketServer from "../transport/WebSocketServer.js"

/**
 * Where and how to listen: TCP (the default), a Unix socket (`socketPath`), or TLS (`tls`).
 *
 * @since 0.1.0 @category models
 */
export interface ListenOptions {
  /** Interface to bind (default `Tcp.defaultHost(ipv6)`: `127.0.0.1`, or `::1` with `ipv6`). */
  readonly host?: string | undefined
  /** TCP port; 0 (default) picks a free one — read it back from `server.port`. */
  readonly port?: number | undefined
  readonly ipv6?: boolean | undefined
  /** Listen on a Unix socket instead of TCP (not with `tls`). */
  readonly socketPath?: string | undefined
  readonly backlog?: number | undefined
  /**
   * Serve over TLS (RPyC's `SSLAuthenticator`): a client certificate is required and verified when a
   * CA is given, and lands in each connection's `credentials`. The handshake timeout defaults to 10 s
   * here. Unreadable or invalid key material fails the server's start.
   */
  readonly tls?: Tls.ServerCredentials | undefined
}

/**
 * How every connection of a server is run.
 *
 * @since 0.1.0 @category models
 */
export interface ServeOptions {
  /** Protocol config of every connection. */
  readonly protocolConfig?: Config.ConfigInput | undefined
  /**
   * Envelope dialect; `"auto"` (default) follows each client. With 5 or 6, a client of the other
   * dialect gets a CLOSE in this one (as from RPyC itself) and a warning is logged.
   */
  readonly wireVersion?: WireVersion | "auto" | undefined
  readonly maxFrameSize?: number | undefined
}

/**
 * How to serve.
 *
 * @since 0.1.0 @category models
 */
export interface Options extends ListenOptions, ServeOptions {
  /**
   * The registry client to announce this server with. Default when `autoRegister` is on: a UDP
   * registrar broadcasting to 255.255.255.255:18811, as RPyC does.
   */
  readonly registrar?: RegistryClient.Registrar | undefined
  /** Register all aliases while serving (default: whether a `registrar` was given, as in RPyC). */
  readonly autoRegister?: boolean | undefined
}

/**
 * A running server.
 *
 * @since 0.1.0 @category models
 */
export interface Server {
  readonly address: SocketServer.Address
  /** The bound TCP port (`undefined` for a Unix socket). */
  readonly port: number | undefined
  /** The bound TCP address (`undefined` for a Unix socket). */
  readonly host: string | undefined
  /** The service's canonical name, e.g. `"MY"`. */
  readonly serviceName: string
  readonly aliases: ReadonlyArray<string>
  /** The connections being served now. */
  readonly connections: ReadonlySet<Connection.Connection>
}

/**
 * The running server of an Effect app.
 *
 * @since 0.1.0 @category tags
 */
export class RpycServer extends Context.Tag("effect-rpyc/Server/RpycServer")<RpycServer, Server>() {}

const describe = (address: SocketServer.Address): string =>
  address._tag === "TcpAddress" ? `[${address.hostname}]:${address.port}` : address.path

/** `host:port` of a socket's peer, for log lines. */
const peerOf = (raw: unknown, fallback = "peer"): string => {
  const s = raw as { remoteAddress?: string; remotePort?: number } | undefined
  return s?.remoteAddress !== undefined ? `${s.remoteAddress}:${s.remotePort}` : fallback
}

/**
 * The logger name RPyC gives a server, `<SERVICE>/<port>` (or the socket path), e.g. `SLAVE/18812`.
 *
 * @since 0.1.0 @category logging
 */
export const loggerName = (service: Service.ServiceSpec, address: SocketServer.Address): string =>
  `${Service.aliasesOf(service)[0]}/${address._tag === "TcpAddress" ? address.port : address.path}`

/**
 * How long a TLS client of a server may take over its handshake unless `tls.handshakeTimeout` says:
 * 10 s, well below Node's 120 s, so that stalled handshakes do not pile up.
 *
 * @since 0.1.0 @category constants
 */
export const TLS_HANDSHAKE_TIMEOUT: Duration.Duration = Duration.seconds(10)

/**
 * Listens as `options` say (TCP, Unix socket or TLS) for a server of `service`. Clients that fail the
 * TLS handshake are dropped and logged under the server's {@link loggerName}. Key material problems
 * and listen failures fail with `SocketServerError` reason `"Open"`.
 *
 * @since 0.1.0 @category constructors
 */
export const listen = (
  service: Service.ServiceSpec,
  options: ListenOptions
): Effect.Effect<Tcp.Server<any>, SocketServer.SocketServerError, Scope.Scope> =>
  Effect.gen(function*() {
    if (options.socketPath !== undefined) {
      if (options.tls !== undefined) {
        return yield* new SocketServer.SocketServerError({
          reason: "Open",
          cause: new Error("TLS over a Unix socket is not supported")
        })
      }
      return yield* Unix.makeServer({ path: options.socketPath, backlog: options.backlog })
    }
    const tcp = { host: options.host, port: options.port ?? 0, ipv6: options.ipv6, backlog: options.backlog }
    if (options.tls === undefined) return yield* Tcp.makeServer(tcp)
    // the refusal is reported from a node callback, before the address (and so the name) may be known
    const runtime = yield* Effect.runtime<never>()
    let name = Service.aliasesOf(service)[0]
    const listener = yield* Tls.makeServer({
      ...tcp,
      ...options.tls,
      handshakeTimeout: options.tls.handshakeTimeout ?? TLS_HANDSHAKE_TIMEOUT,
      onHandshakeError: (error, socket) =>
        Runtime.runFork(runtime)(
          Effect.logInfo(`${peerOf(socket, "a peer")} failed to authenticate (${error.message}), rejecting connection`)
            .pipe(
              Effect.annotateLogs(Logging.LOGGER_NAME, name)
            )
        )
    })
    name = loggerName(service, listener.address)
    return listener
  })

/**
 * The `configFor` of {@link serve} for a server listening as `options` say: over TLS, each
 * connection's `credentials` is the client's certificate, as RPyC's `SSLAuthenticator` does.
 *
 * @since 0.1.0 @category constructors
 */
export const tlsConfig = (options: ListenOptions): ((raw: unknown) => Config.ConfigInput) | undefined =>
  options.tls === undefined ? undefined : (raw) => ({ credentials: Tls.peerCertificate(raw) })

/**
 * `socket` of a server set to `version`, refusing a client whose first frame is in the other dialect
 * as RPyC does: a CLOSE in the server's own dialect, then the connection ends (with a warning naming
 * both versions). The client of this package reports that CLOSE as a `Client.WireVersionMismatch`.
 */
const refuseOtherDialect = (socket: Socket.Socket, version: WireVersion, peer: string): Socket.Socket => {
  const checked: Socket.Socket = {
    [SocketTypeId]: SocketTypeId,
    run: <_, E, R>(
      handler: (_: Uint8Array) => Effect.Effect<_, E, R> | void,
      options?: { readonly onOpen?: Effect.Effect<void> | undefined }
    ) =>
      Effect.suspend(() => {
        const { onChunk } = Dialect.holdHead((bytes): Effect.Effect<_ | void, E | Socket.SocketError, R> | void => {
          const other = Dialect.otherDialect(bytes, version)
          if (other === undefined) return handler(bytes)
          const why = `${peer} speaks RPyC ${other} (wire v${other}) but this server was set to wireVersion: ${version}`
          return Effect.logWarning(`${why}; closing the connection (use wireVersion: "auto" to serve both)`).pipe(
            // a writer of its own only to refuse: releasing it ends the stream, as it should here
            Effect.zipRight(
              Effect.scoped(Effect.flatMap(socket.writer, (write) => write(Dialect.closeFrame(version))))
            ),
            Effect.zipRight(Effect.fail(new SocketGenericError({ reason: "Read", cause: new Error(why) })))
          )
        }, handler)
        return socket.run(onChunk, options)
      }),
    runRaw: socket.runRaw,
    writer: socket.writer
  }
  // what the transport can do (backpressure, half-close, a TLS record per frame) stays with it
  return StreamCapabilities.inherit(checked, socket)
}

/**
 * Serves the connections of a listener that hands them over at once (`Tcp.Server.runDirect`). A
 * connection over a Node stream is made and served with no fiber of its own: the engine reads from
 * the stream's events, and `onGone` says when it is over. One the engine cannot take so (an
 * `onConnect` hook, another dialect refused, telemetry on) gets the fiber of `slow`. The server's
 * shutdown stops accepting, then closes every connection still open, fiber or not.
 */
const serveDirect = (
  runDirect: NonNullable<Tcp.Server<unknown>["runDirect"]>,
  name: string,
  connections: Set<Connection.Connection>,
  accept: (
    socket: Socket.Socket,
    raw: Net.Socket,
    runtime: Runtime.Runtime<never>,
    onGone: () => void
  ) => {
    readonly peer: string
    readonly made: Exit.Exit<Connection.Connection, Socket.SocketError> | undefined
    readonly slow: () => Effect.Effect<void>
  }
): Effect.Effect<void, never, Scope.Scope> =>
  Effect.gen(function*() {
    const runtime = yield* Effect.annotateLogs(Effect.runtime<never>(), Logging.LOGGER_NAME, name)
    // RPyC's accepted / welcome / goodbye lines, skipped without an Effect below their level
    const logsInfo = !LogLevel.greaterThan(
      FiberRefs.getOrDefault(runtime.fiberRefs, FiberRef.currentMinimumLogLevel),
      LogLevel.Info
    )
    const open = new Set<Connection.Connection>()
    // registered before the accepting fiber starts, so it runs after that fiber stops
    yield* Effect.addFinalizer(() =>
      Effect.forEach([...open], (conn) => Effect.exit(conn.close()), { concurrency: "unbounded", discard: true })
    )
    const fibers = yield* FiberSet.make()
    const runFork = yield* FiberSet.runtime(fibers)<never>()

    const onConnection = (socket: Socket.Socket, raw: Net.Socket): void => {
      // what a handler fiber of the connection sees, as when served by a fiber of its own
      const connRuntime = Runtime.make({
        context: Context.add(runtime.context, NodeSocket.NetSocket, raw),
        fiberRefs: runtime.fiberRefs,
        runtimeFlags: runtime.runtimeFlags
      })
      const log = (message: string) => {
        if (logsInfo) Runtime.runSync(connRuntime)(Effect.logInfo(message))
      }
      let conn: Connection.Connection | undefined
      const { made, peer, slow } = accept(socket, raw, connRuntime, () => {
        if (conn === undefined) return
        connections.delete(conn)
        open.delete(conn)
        log(`goodbye ${peer}`)
      })
      log(`accepted ${peer}`)
      if (made === undefined) {
        runFork(Tcp.asConnectionLife(raw, slow()))
        return
      }
      if (Exit.isFailure(made)) {
        raw.destroy()
        Runtime.runFork(connRuntime)(Effect.logWarning("connection failed", made.cause))
        return
      }
      conn = made.value
      connections.add(conn)
      open.add(conn)
      log(`welcome ${peer}`)
    }

    yield* runDirect(onConnection).pipe(
      Effect.catchAllCause((cause) => Effect.logError("server stopped", cause)),
      Effect.annotateLogs(Logging.LOGGER_NAME, name),
      Effect.forkScoped
    )
  })

/**
 * Serves `service` on every connection `listener` accepts (any SocketServer: TCP, Unix, TLS).
 *
 * @since 0.1.0 @category constructors
 */
export const serve = (
  listener: SocketServer.SocketServer["Type"],
  service: Service.ServiceSpec,
  options: ServeOptions & {
    /** Adds connection-specific config (e.g. TLS credentials) from the accepted socket. */
    readonly configFor?: ((raw: unknown) => Config.ConfigInput) | undefined
  } = {}
): Effect.Effect<Server, never, Scope.Scope> =>
  Effect.gen(function*() {
    const aliases = Service.aliasesOf(service)
    const address = listener.address
    const port = address._tag === "TcpAddress" ? address.port : undefined
    const name = loggerName(service, address)
    const connections = new Set<Connection.Connection>()

    const wireVersion = options.wireVersion ?? "auto"
    const localOf = (raw: Net.Socket | undefined) =>
      raw?.localAddress !== undefined ? `${raw.localAddress}:${raw.localPort}` : describe(address)
    const connectionOptions = (raw: Net.Socket | undefined, peer: string, onGone?: () => void) => ({
      config: { ...options.protocolConfig, endpoints: [localOf(raw), peer] as const, ...options.configFor?.(raw) },
      wireVersion,
      maxFrameSize: options.maxFrameSize,
      side: "accepting" as const,
      onGone
    })
    const checked = (socket: Socket.Socket, peer: string) =>
      wireVersion === "auto" ? socket : refuseOtherDialect(socket, wireVersion, peer)

    /** A connection served by a fiber of its own, which its scope and its logs follow. */
    const handle = (socket: Socket.Socket, accepted?: { readonly root: object; readonly raw: Net.Socket }) =>
      Effect.gen(function*() {
        let rawSocket = accepted?.raw
        if (rawSocket === undefined) {
          const raw = yield* Effect.serviceOption(NodeSocket.NetSocket)
          rawSocket = raw._tag === "Some" ? raw.value as Net.Socket : undefined
        }
        const peer = peerOf(rawSocket)
        // a connection handed over by serveDirect was announced there
        if (accepted === undefined) yield* Effect.logInfo(`accepted ${peer}`)
        const conn = yield* Service.makeConnectionFor(
          checked(socket, peer),
          accepted?.root ?? Service.instantiate(service),
          connectionOptions(rawSocket, peer)
        )
        connections.add(conn)
        yield* Effect.logInfo(`welcome ${peer}`)
        // goodbye whoever closes it, the server's shutdown included (RPyC logs it in a finally)
        yield* conn.awaitClose.pipe(
          Effect.ensuring(
            Effect.zipRight(Effect.sync(() => connections.delete(conn)), Effect.logInfo(`goodbye ${peer}`))
          )
        )
      }).pipe(
        Effect.scoped,
        Effect.catchAllCause((cause) => Effect.logWarning("connection failed", cause)),
        Effect.annotateLogs(Logging.LOGGER_NAME, name)
      )

    const runDirect = (listener as Partial<Tcp.Server<unknown>>).runDirect
    if (runDirect !== undefined) {
      yield* serveDirect(runDirect, name, connections, (socket, raw, runtime, onGone) => {
        const peer = peerOf(raw)
        const root = Service.instantiate(service)
        const made = Service.makeConnectionOnStream(
          checked(socket, peer),
          root,
          connectionOptions(raw, peer, onGone),
          runtime
        )
        return { peer, made, slow: () => handle(socket, { root, raw }) }
      })
    } else {
      yield* listener.run((socket) => handle(socket)).pipe(
        Effect.catchAllCause((cause) => Effect.logError("server stopped", cause)),
        Effect.forkScoped
      )
    }
    yield* Effect.logInfo(`server started on ${describe(address)}`).pipe(Effect.annotateLogs(Logging.LOGGER_NAME, name))
    return {
      address,
      port,
      host: address._tag === "TcpAddress" ? address.hostname : undefined,
      serviceName: aliases[0],
      aliases,
      connections
    }
  })

/**
 * Listens on TCP (or a Unix socket, or TLS) and serves `service`. Over TLS each connection's
 * `credentials` is the client's certificate (`tls.DetailedPeerCertificate`), or `undefined` when it
 * sent none.
 *
 * @since 0.1.0 @category constructors
 */
export const make = (
  service: Service.ServiceSpec,
  options: Options = {}
): Effect.Effect<Server, SocketServer.SocketServerError, Scope.Scope> =>
  Effect.gen(function*() {
    const listener = yield* listen(service, options)
    const server = yield* serve(listener, service, { ...options, configFor: tlsConfig(options) })
    if ((options.autoRegister ?? options.registrar !== undefined) && server.port !== undefined) {
      const registrar = options.registrar ?? (yield* RegistryClient.makeUdp())
      yield* autoRegister(registrar, server, options.host)
    }
    return server
  })

/**
 * Keeps `server` registered while the scope lasts: registers all aliases now and every
 * `registrar.reregisterInterval` (default 60 s; retrying about every second after a failure), and
 * unregisters when the scope closes.
 *
 * @since 0.1.0 @category registry
 */
export const autoRegister = (
  registrar: RegistryClient.Registrar,
  server: Pick<Server, "port" | "aliases" | "serviceName">,
  host?: string | undefined
): Effect.Effect<void, never, Scope.Scope> =>
  Effect.gen(function*() {
    const port = server.port!
    // registering from the listen address makes the registry record that address (multi-homed hosts)
    const iface = host !== undefined && host !== "0.0.0.0" && host !== "::" ? host : undefined
    const name = `${server.serviceName}/${port}`
    const registerOnce = registrar.register(server.aliases, port, iface).pipe(
      Effect.tap(() => Effect.logDebug(`registered ${server.aliases.join(", ")} on port ${port}`)),
      Effect.as(true),
      Effect.catchAll((e) => Effect.as(Effect.logWarning(`registration failed: ${e.message}`), false))
    )
    yield* Effect.gen(function*() {
      while (true) {
        const registered = yield* registerOnce
        yield* Effect.sleep(registered ? registrar.reregisterInterval ?? Registry.REREGISTER_INTERVAL : "1 second")
      }
    }).pipe(Effect.annotateLogs(Logging.LOGGER_NAME, name), Effect.forkScoped)
    yield* Effect.addFinalizer(() => registrar.unregister(port).pipe(Effect.ignore))
  })

/**
 * The server as a Layer.
 *
 * @since 0.1.0 @category layers
 */
export const layer = (
  service: Service.ServiceSpec,
  options: Options = {}
): Layer.Layer<RpycServer, SocketServer.SocketServerError> => Layer.scoped(RpycServer, make(service, options))

/**
 * How to serve over WebSocket: where to listen and what to accept (`WebSocketServer.ServerOptions`:
 * `path`, `allowedOrigins`, `maxMessageBytes`, `tls` for `wss://`, `maxConnections`…) and how to run
 * each connection.
 *
 * @since 0.1.0 @category models
 */
export interface WebSocketOptions extends WebSocketServer.ServerOptions, ServeOptions {}

/**
 * Serves `service` over WebSocket (`ws://`, or `wss://` with `tls`): the same connections, engine,
 * policy and limits as over TCP, frames in binary messages (PROTOCOL.md §7.5). Refused upgrade
 * requests (path, origin, capacity) are logged under the server's {@link loggerName}; over TLS each
 * connection's `credentials` is the client's certificate, as with `make`.
 *
 * @since 0.1.0 @category constructors
 */
export const makeWebSocket = (
  service: Service.ServiceSpec,
  options: WebSocketOptions = {}
): Effect.Effect<Server, SocketServer.SocketServerError, Scope.Scope> =>
  Effect.gen(function*() {
    // refusals are reported from node callbacks, before the address (and so the name) may be known
    const runtime = yield* Effect.runtime<never>()
    let name = Service.aliasesOf(service)[0]
    const log = (message: string) =>
      Runtime.runFork(runtime)(Effect.logInfo(message).pipe(Effect.annotateLogs(Logging.LOGGER_NAME, name)))
    const listener = yield* WebSocketServer.make({
      ...options,
      onRefused: options.onRefused ??
        ((request, refusal) =>
          log(
            `refused ${WebSocketServer.peerOf(request)} ${
              WebSocketServer.pathOf(request)
            }: ${refusal.reason} (HTTP ${refusal.status})`
          )),
      onHandshakeError: options.onHandshakeError ??
        ((error, socket) =>
          log(`${peerOf(socket, "a peer")} failed to authenticate (${error.message}), rejecting connection`))
    })
    name = loggerName(service, listener.address)
    return yield* serve(listener, service, { ...options, configFor: tlsConfig(options) })
  })

/**
 * {@link makeWebSocket} as a Layer.
 *
 * @since 0.1.0 @category layers
 */
export const layerWebSocket = (
  service: Service.ServiceSpec,
  options: WebSocketOptions = {}
): Layer.Layer<RpycServer, SocketServer.SocketServerError> => Layer.scoped(RpycServer, makeWebSocket(service, options))

/**
 * Options of {@link ThreadedServer}: those of {@link make}, plus how the script logs.
 *
 * @since 0.1.0 @category scripts
 */
export interface ThreadedServerOptions extends Options, Logging.ScriptOptions {}

/** A start failure as an `Error` whose message says what happened (the address and the OS reason). */
const toError = (cause: Cause.Cause<unknown>): Error => {
  const error = Cause.squash(cause)
  return error instanceof Error ? error : new Error(String(error))
}

/**
 * RPyC's `ThreadedServer` for scripts: `start()` resolves once listening, the process keeps
 * serving until `close()` (or the process exits). Logs go to stderr in RPyC's format, warnings and
 * errors only unless `logLevel` says otherwise (`"info"` shows RPyC's `accepted`/`welcome`/`goodbye`
 * lines); `rpycLogs: false` silences them.
 *
 * ```ts
 * const server = new ThreadedServer(MyService, { port: 18861, logLevel: "info" })
 * await server.start()
 * ```
 *
 * `start()` rejects with an `Error` naming the address and the OS reason when it cannot listen, e.g.
 * `cannot listen on 127.0.0.1:18861: address already in use (EADDRINUSE)` (a `Tcp.ListenError`).
 *
 * @since 0.1.0 @category scripts
 */
export class ThreadedServer {
  private fiber: Fiber.RuntimeFiber<void, unknown> | undefined
  private server: Server | undefined

  constructor(
    readonly service: Service.ServiceSpec,
    readonly options: ThreadedServerOptions = {}
  ) {}

  /** The bound port (after `start()`). */
  get port(): number | undefined {
    return this.server?.port
  }

  get connections(): ReadonlySet<Connection.Connection> {
    return this.server?.connections ?? new Set()
  }

  /** Starts listening; resolves with the server once it accepts connections. */
  start(): Promise<Server> {
    if (this.fiber !== undefined) return Promise.reject(new Error("server already started"))
    return new Promise<Server>((resolve, reject) => {
      const program = Effect.gen(this, function*() {
        this.server = yield* make(this.service, this.options)
        resolve(this.server)
        return yield* Effect.never
      }).pipe(
        Effect.scoped,
        Effect.tapErrorCause((cause) => Effect.sync(() => reject(toError(cause)))),
        Effect.provide(Logging.layerScript(this.options))
      )
      this.fiber = Effect.runFork(program as Effect.Effect<void, unknown>)
      this.fiber.addObserver((exit) => {
        if (Exit.isFailure(exit) && !Exit.isInterrupted(exit)) reject(toError(exit.cause))
      })
    })
  }

  /** Stops listening and closes every connection. */
  async close(): Promise<void> {
    const fiber = this.fiber
    if (fiber === undefined) return
    await Effect.runPromise(Fiber.interrupt(fiber))
  }
}
