/**
 * RPyC servers: accept connections and serve a service on each, one fiber per connection (RPyC's
 * `ThreadedServer`).
 *
 * - `make(options)`: a scoped Effect; closing the scope stops listening and closes every
 *   connection.
 * - `layer(options)`: the same as a Layer providing the `RpycServer` tag.
 * - `ThreadedServer`: a class for scripts, `await new ThreadedServer(MyService, { port }).start()`.
 *
 * Servers bind `127.0.0.1` unless told otherwise; pass `hostname: "0.0.0.0"` (or `"::"`) to listen
 * on all interfaces.
 *
 * @since 0.1.0
 */
import type * as Socket from "@effect/platform/Socket"
import type * as SocketServer from "@effect/platform/SocketServer"
import * as NodeSocket from "@effect/platform-node/NodeSocket"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Scope from "effect/Scope"
import * as Logging from "../Logging.js"
import type * as Config from "../protocol/Config.js"
import type * as Connection from "../protocol/Connection.js"
import * as Registry from "../registry/Registry.js"
import * as RegistryClient from "../registry/RegistryClient.js"
import * as Service from "../service/Service.js"
import * as Tcp from "../transport/Tcp.js"
import type { WireVersion } from "../wire/Message.js"

/**
 * How to serve.
 *
 * @since 0.1.0 @category models
 */
export interface Options {
  /** Interface to bind (default `127.0.0.1`, or `::1` with `ipv6`). */
  readonly hostname?: string | undefined
  /** TCP port; 0 (default) picks a free one — read it back from `server.port`. */
  readonly port?: number | undefined
  readonly ipv6?: boolean | undefined
  /** Listen on a Unix socket instead of TCP. */
  readonly socketPath?: string | undefined
  readonly backlog?: number | undefined
  /** Protocol config of every connection. */
  readonly protocolConfig?: Config.ConfigInput | undefined
  /** Envelope dialect; `"auto"` (default) follows each client. */
  readonly wireVersion?: WireVersion | "auto" | undefined
  readonly maxFrameSize?: number | undefined
  /**
   * The registry client to announce this server with. Default when `autoRegister` is on: a UDP
   * registrar broadcasting to 255.255.255.255:18811, as RPyC does.
   */
  readonly registrar?: RegistryClient.Service | undefined
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
  readonly hostname: string | undefined
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
export class RpycServer extends Context.Tag("effect-rpyc/Server")<RpycServer, Server>() {}

const describe = (address: SocketServer.Address): string =>
  address._tag === "TcpAddress" ? `[${address.hostname}]:${address.port}` : address.path

const peerOf = (raw: unknown): string => {
  const s = raw as { remoteAddress?: string; remotePort?: number } | undefined
  return s?.remoteAddress !== undefined ? `${s.remoteAddress}:${s.remotePort}` : "peer"
}

/**
 * Serves `service` on every connection `listener` accepts (any SocketServer: TCP, Unix, TLS).
 *
 * @since 0.1.0 @category constructors
 */
export const serve = (
  listener: SocketServer.SocketServer["Type"],
  service: Service.ServiceSpec,
  options: Omit<Options, "hostname" | "port" | "ipv6" | "socketPath" | "backlog"> & {
    /** Adds connection-specific config (e.g. TLS credentials) from the accepted socket. */
    readonly configFor?: ((raw: unknown) => Config.ConfigInput) | undefined
  } = {}
): Effect.Effect<Server, never, Scope.Scope> =>
  Effect.gen(function*() {
    const aliases = Service.aliasesOf(service)
    const address = listener.address
    const port = address._tag === "TcpAddress" ? address.port : undefined
    const loggerName = `${aliases[0]}/${address._tag === "TcpAddress" ? address.port : address.path}`
    const connections = new Set<Connection.Connection>()

    const handle = (socket: Socket.Socket) =>
      Effect.gen(function*() {
        const raw = yield* Effect.serviceOption(NodeSocket.NetSocket)
        const rawSocket = raw._tag === "Some" ? raw.value : undefined
        const peer = peerOf(rawSocket)
        yield* Effect.logInfo(`accepted ${peer}`)
        const local = rawSocket?.localAddress !== undefined ? `${rawSocket.localAddress}:${rawSocket.localPort}` : describe(address)
        const conn = yield* Service.makeConnection(socket, service, {
          config: {
            ...options.protocolConfig,
            endpoints: [local, peer] as const,
            ...options.configFor?.(rawSocket)
          },
          wireVersion: options.wireVersion ?? "auto",
          maxFrameSize: options.maxFrameSize
        })
        connections.add(conn)
        yield* Effect.logInfo(`welcome ${peer}`)
        // goodbye whoever closes it, the server's shutdown included (RPyC logs it in a finally)
        yield* conn.awaitClose.pipe(
          Effect.ensuring(Effect.zipRight(Effect.sync(() => connections.delete(conn)), Effect.logInfo(`goodbye ${peer}`)))
        )
      }).pipe(
        Effect.scoped,
        Effect.catchAllCause((cause) => Effect.logWarning("connection failed", cause)),
        Effect.annotateLogs(Logging.LOGGER_NAME, loggerName)
      )

    yield* listener.run(handle).pipe(
      Effect.catchAllCause((cause) => Effect.logError("server stopped", cause)),
      Effect.forkScoped
    )
    yield* Effect.logInfo(`server started on ${describe(address)}`).pipe(Effect.annotateLogs(Logging.LOGGER_NAME, loggerName))
    return {
      address,
      port,
      hostname: address._tag === "TcpAddress" ? address.hostname : undefined,
      serviceName: aliases[0],
      aliases,
      connections
    }
  })

/**
 * Listens on TCP (or a Unix socket) and serves `service`.
 *
 * @since 0.1.0 @category constructors
 */
export const make = (
  service: Service.ServiceSpec,
  options: Options = {}
): Effect.Effect<Server, SocketServer.SocketServerError, Scope.Scope> =>
  Effect.gen(function*() {
    const listener = options.socketPath !== undefined
      ? yield* Tcp.makeUnixServer({ path: options.socketPath, backlog: options.backlog })
      : yield* Tcp.makeServer({
        host: options.hostname,
        port: options.port ?? 0,
        ipv6: options.ipv6,
        backlog: options.backlog
      })
    const server = yield* serve(listener, service, options)
    if ((options.autoRegister ?? options.registrar !== undefined) && server.port !== undefined) {
      const registrar = options.registrar ?? (yield* RegistryClient.makeUdp())
      yield* autoRegister(registrar, server, options.hostname)
    }
    return server
  })

/**
 * Keeps `server` registered while the scope lasts: registers all aliases now and every 60 s
 * (retrying about every second after a failure), and unregisters when the scope closes.
 *
 * @since 0.1.0 @category registry
 */
export const autoRegister = (
  registrar: RegistryClient.Service,
  server: Pick<Server, "port" | "aliases" | "serviceName">,
  hostname?: string | undefined
): Effect.Effect<void, never, Scope.Scope> =>
  Effect.gen(function*() {
    const port = server.port!
    // registering from the listen address makes the registry record that address (multi-homed hosts)
    const iface = hostname !== undefined && hostname !== "0.0.0.0" && hostname !== "::" ? hostname : undefined
    const loggerName = `${server.serviceName}/${port}`
    const registerOnce = registrar.register(server.aliases, port, iface).pipe(
      Effect.tap(() => Effect.logDebug(`registered ${server.aliases.join(", ")} on port ${port}`)),
      Effect.as(true),
      Effect.catchAll((e) => Effect.as(Effect.logWarning(`registration failed: ${e.message}`), false))
    )
    yield* Effect.gen(function*() {
      while (true) {
        const registered = yield* registerOnce
        yield* Effect.sleep(registered ? Registry.REREGISTER_INTERVAL : "1 second")
      }
    }).pipe(Effect.annotateLogs(Logging.LOGGER_NAME, loggerName), Effect.forkScoped)
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
 * RPyC's `ThreadedServer` for scripts: `start()` resolves once listening, the process keeps
 * serving until `close()` (or the process exits). Logs go to stderr in RPyC's format.
 *
 * ```ts
 * const server = new ThreadedServer(MyService, { port: 18861 })
 * await server.start()
 * ```
 *
 * @since 0.1.0 @category scripts
 */
export class ThreadedServer {
  private fiber: Fiber.RuntimeFiber<void, unknown> | undefined
  private server: Server | undefined

  constructor(
    readonly service: Service.ServiceSpec,
    readonly options: Options & {
      /** Log with RPyC's line format on stderr (default true). */
      readonly rpycLogs?: boolean | undefined
    } = {}
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
        Effect.tapErrorCause((cause) => Effect.sync(() => reject(cause))),
        this.options.rpycLogs === false ? (e) => e : Effect.provide(Logging.layer())
      )
      this.fiber = Effect.runFork(program as Effect.Effect<void, unknown>)
      this.fiber.addObserver((exit) => {
        if (Exit.isFailure(exit) && !Exit.isInterrupted(exit)) reject(exit.cause)
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
