/**
 * TCP stream transport as @effect/platform `Socket`s and `SocketServer`-shaped servers, and the
 * building blocks every stream transport shares ({@link connectWith}, {@link fromNetServer},
 * {@link fromNetSocket}; `Unix` and `Tls` are built on them).
 *
 * Why not just `NodeSocket.makeNet`? It is lazy: it connects only when `run` starts, and a `write`
 * issued before that waits forever if the connection is refused (ARCHITECTURE.md, Effect note E1). Here
 * {@link connect} resolves only once the connection is OPEN, so a refused or unreachable peer fails the
 * `connect` Effect with a `SocketError`; the already-connected `net.Socket` is then wrapped with
 * `NodeSocket.fromDuplex`, so `run`/`writer` behave exactly like every other platform Socket.
 *
 * Why not just `NodeSocketServer.make`? Closing it waits (`net.Server#close`) for every accepted
 * connection to end, and it destroys only connections whose handler reached `socket.run`: one accepted
 * while no `run` was active, or whose handler was still busy before `run`, keeps the scope from closing
 * for as long as the peer stays connected (reproduced). It also cannot wrap a `tls.Server` and does
 * not handle stale Unix socket files. {@link fromNetServer} is the same design (per-connection fibers,
 * `NodeSocket.NetSocket` provided to the handler) with those gaps closed, and it is shared with `Unix`
 * and `Tls`.
 *
 * Defaults follow the project rule "loopback only": every client and server of this package that is not
 * told a host uses {@link defaultHost} (`127.0.0.1`, `::1` with `ipv6`).
 *
 * @since 0.1.0
 */
import * as NodeSocket from "@effect/platform-node/NodeSocket"
import * as Socket from "@effect/platform/Socket"
import * as SocketServer from "@effect/platform/SocketServer"
import type * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Scope from "effect/Scope"
import * as Net from "node:net"
import * as Listener from "./Listener.js"
import * as NodeStream from "./NodeStream.js"

// ---------------------------------------------------------------------------------------------------------
// default host
// ---------------------------------------------------------------------------------------------------------

/**
 * The host every client and server of this package uses when none is given: IPv4 loopback. The
 * project never binds or dials a wildcard address unless asked to.
 *
 * @since 0.1.0
 * @category constants
 */
export const DEFAULT_HOST = "127.0.0.1"

/**
 * {@link DEFAULT_HOST}'s IPv6 counterpart, the default when `ipv6` is set.
 *
 * @since 0.1.0
 * @category constants
 */
export const DEFAULT_HOST_IPV6 = "::1"

/**
 * The loopback address of the requested family: {@link DEFAULT_HOST_IPV6} when `ipv6` is set,
 * {@link DEFAULT_HOST} otherwise.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultHost = (ipv6?: boolean | undefined): string => (ipv6 ? DEFAULT_HOST_IPV6 : DEFAULT_HOST)

/**
 * `host:port` for messages, with brackets around an IPv6 address (`[::1]:18812`).
 *
 * @since 0.1.0
 * @category utils
 */
export const formatAddress = (host: string, port: number | string): string =>
  host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`

// ---------------------------------------------------------------------------------------------------------
// errors
// ---------------------------------------------------------------------------------------------------------

const OS_REASONS: Readonly<Record<string, string>> = {
  ECONNREFUSED: "connection refused",
  ECONNRESET: "connection reset by peer",
  ENOTFOUND: "host not found",
  EAI_AGAIN: "host name lookup failed (temporary failure)",
  EAI_FAIL: "host name lookup failed",
  ETIMEDOUT: "timed out",
  EHOSTUNREACH: "host unreachable",
  ENETUNREACH: "network unreachable",
  EADDRINUSE: "address already in use",
  EADDRNOTAVAIL: "address not available on this machine",
  EACCES: "permission denied",
  EPERM: "operation not permitted",
  ENOENT: "no such file",
  ENOTSOCK: "not a socket"
}

/** The OS error code of `cause` (`ECONNREFUSED`, …), if it has one. */
const codeOf = (cause: unknown): string | undefined => {
  const code = (cause as { code?: unknown } | undefined)?.code
  return typeof code === "string" ? code : undefined
}

/**
 * `connection refused (ECONNREFUSED)`: a readable reason and the OS code, or the cause's own message
 * when the code is not one this module knows.
 *
 * @since 0.1.0
 * @category errors
 */
export const describeOsError = (cause: unknown): string => {
  const code = codeOf(cause)
  const known = code === undefined ? undefined : OS_REASONS[code]
  if (known !== undefined) return `${known} (${code})`
  const message = cause instanceof Error ? cause.message : String(cause)
  return code === undefined || message.includes(code) ? message : `${message} (${code})`
}

/**
 * A connection could not be opened: the `SocketGenericError` (reason `"Open"` or `"OpenTimeout"`) that
 * {@link connect}, {@link connectWith} and the other transports fail with, whose message names the
 * address and the OS reason: `cannot connect to 127.0.0.1:18812: connection refused (ECONNREFUSED)`.
 * Still a `Socket.SocketError` (`_tag` `"SocketError"`), so `Effect.catchTag("SocketError")` keeps
 * working; `code` is the OS error code (`ECONNREFUSED`, `ENOTFOUND`, `ETIMEDOUT` for the open timeout).
 *
 * @since 0.1.0
 * @category errors
 */
export class ConnectError extends Socket.SocketGenericError {
  /** `host:port` (or the socket path) that could not be reached. */
  readonly address: string
  /** The OS error code, e.g. `ECONNREFUSED`; `ETIMEDOUT` when the open timeout passed. */
  readonly code: string | undefined
  constructor(options: {
    readonly reason: "Open" | "OpenTimeout"
    readonly cause: unknown
    readonly address: string
  }) {
    super({ reason: options.reason, cause: options.cause })
    this.address = options.address
    this.code = options.reason === "OpenTimeout" ? "ETIMEDOUT" : codeOf(options.cause)
  }
  /** The reason alone, e.g. `connection refused (ECONNREFUSED)`. */
  get why(): string {
    return this.reason === "OpenTimeout"
      ? `${this.cause instanceof Error ? this.cause.message : "timed out"} (ETIMEDOUT)`
      : describeOsError(this.cause)
  }
  override get message(): string {
    return `cannot connect to ${this.address}: ${this.why}`
  }
}
Object.defineProperty(ConnectError.prototype, "name", { value: "ConnectError", writable: true, configurable: true })

/**
 * A server could not listen: the `SocketServerError` (reason `"Open"`) of {@link makeServer} and
 * {@link fromNetServer}, whose message names the address and the OS reason:
 * `cannot listen on 127.0.0.1:18812: address already in use (EADDRINUSE)`.
 *
 * @since 0.1.0
 * @category errors
 */
export class ListenError extends SocketServer.SocketServerError {
  /** `host:port` or the socket path. */
  readonly address: string
  /** The OS error code, e.g. `EADDRINUSE`. */
  readonly code: string | undefined
  constructor(options: { readonly cause: unknown; readonly address: string }) {
    super({ reason: "Open", cause: options.cause })
    this.address = options.address
    this.code = codeOf(options.cause)
  }
  override get message(): string {
    return `cannot listen on ${this.address}: ${describeOsError(this.cause)}`
  }
}
Object.defineProperty(ListenError.prototype, "name", { value: "ListenError", writable: true, configurable: true })

/** The address of a listen options bag, for messages. */
const listenAddress = (listen: Net.ListenOptions): string =>
  listen.path !== undefined ? listen.path : formatAddress(listen.host ?? "", listen.port ?? 0)

/** The address a failed connection attempt was for, from the error itself when not given. */
const failedAddress = (cause: unknown, given: string | undefined): string => {
  if (given !== undefined) return given
  const e = cause as { address?: unknown; port?: unknown; hostname?: unknown } | undefined
  if (typeof e?.address === "string") return typeof e.port === "number" ? formatAddress(e.address, e.port) : e.address
  if (typeof e?.hostname === "string") return e.hostname
  return "the peer"
}

// ---------------------------------------------------------------------------------------------------------
// models
// ---------------------------------------------------------------------------------------------------------

/**
 * A listening server: the shape of `SocketServer.SocketServer["Type"]` (a value of this type can be
 * used wherever that service is expected), with a more precise `run`: the services this transport
 * provides to every connection handler (`NodeSocket.NetSocket`, plus `Provided`, e.g. `Tls.TlsPeer`) are
 * removed from the requirements, so handlers may `yield*` them without leaking them into `R`
 * (Effect note E4).
 *
 * `run` serves connections until it is interrupted (it never succeeds). Each accepted connection gets
 * its own fiber; when the handler's Effect ends, the connection is closed. Failures of a handler are
 * logged (like `NodeSocketServer`) and affect only that connection.
 *
 * @since 0.1.0
 * @category models
 */
export interface Server<Provided = never> {
  readonly address: SocketServer.Address
  readonly run: <R, E, _>(
    handler: (socket: Socket.Socket) => Effect.Effect<_, E, R>
  ) => Effect.Effect<never, SocketServer.SocketServerError, Exclude<R, NodeSocket.NetSocket | Provided>>
  /**
   * Hands each connection, ready for data, to `onConnection` at once, with no fiber, until
   * interrupted: the way to serve many short connections cheaply. `onConnection` owns each one (it
   * must close it); interrupting this stops accepting and closes none. Only where connections need
   * no extra services (`NetServerOptions.context`).
   */
  readonly runDirect?:
    | ((
      onConnection: (socket: Socket.Socket, raw: Net.Socket) => void
    ) => Effect.Effect<never, SocketServer.SocketServerError>)
    | undefined
}

/**
 * Options for {@link connect}.
 *
 * @since 0.1.0
 * @category models
 */
export interface ConnectOptions {
  /** Host name or address; default `127.0.0.1` (`::1` when `ipv6` is set). */
  readonly host?: string | undefined
  readonly port: number
  /** Resolve and connect over IPv6 only (RPyC's `ipv6=True`). */
  readonly ipv6?: boolean | undefined
  /**
   * How long the connection may take to open before failing with `SocketGenericError` reason
   * `"OpenTimeout"`. Default 3 seconds, RPyC's connect timeout.
   */
  readonly openTimeout?: Duration.DurationInput | undefined
  /**
   * `SO_KEEPALIVE`. `true` enables it with the OS default idle time; a duration enables it with that
   * idle time before the first probe (RPyC's integer `keepalive`). Default off, as in RPyC.
   */
  readonly keepAlive?: boolean | Duration.DurationInput | undefined
  /**
   * `TCP_NODELAY`. Default **true**: RPC traffic is small request/reply frames, each written whole,
   * where Nagle's algorithm only adds latency.
   */
  readonly noDelay?: boolean | undefined
}

/**
 * Options for {@link makeServer}.
 *
 * @since 0.1.0
 * @category models
 */
export interface ServerOptions {
  /** Address to bind; default `127.0.0.1` (`::1` when `ipv6` is set). Never a wildcard unless asked. */
  readonly host?: string | undefined
  /** Port; default 0 (ephemeral: read the real one from `server.address`). */
  readonly port?: number | undefined
  /** Listen on IPv6 (only affects the default host). */
  readonly ipv6?: boolean | undefined
  /** Listen backlog; default Node's (511). */
  readonly backlog?: number | undefined
  /** `TCP_NODELAY` on accepted connections; default true (see {@link ConnectOptions.noDelay}). */
  readonly noDelay?: boolean | undefined
}

// ---------------------------------------------------------------------------------------------------------
// wrapping a connected net.Socket
// ---------------------------------------------------------------------------------------------------------

/** An accepted/connected socket with the last error it reported while nobody was running it. */
interface Tracked<S extends Net.Socket> {
  readonly conn: S
  readonly error: () => Error | undefined
}

/**
 * Records errors from the moment we own the socket. Without a listener an `error` event (a reset
 * before `run` starts) would be an uncaught exception that kills the process; recording it lets the
 * later `run` fail with it instead.
 */
const track = <S extends Net.Socket>(conn: S): Tracked<S> => {
  let error: Error | undefined
  conn.on("error", (cause) => {
    error ??= cause
  })
  return { conn, error: () => error }
}

/** Lets queued writes flush before closing, then frees the handle (what NodeSocket does too). */
const closeSoon = (conn: Net.Socket): void => {
  if (!conn.destroyed) conn.destroySoon()
}

/**
 * `fromDuplex` runs its `open` Effect at the start of every `run`. For an already-open socket, "open"
 * only has to check that nothing happened to it meanwhile: if it already emitted `close`, the
 * listeners `fromDuplex` attaches would never fire and `run` would hang, so fail right away.
 */
const streamOf = <S extends Net.Socket>(tracked: Tracked<S>): Socket.Socket =>
  NodeStream.make(tracked.conn, {
    failure: tracked.error(),
    // TLS: a frame per record, as a Python peer reads one record at a time
    writePerFrame: (tracked.conn as { readonly encrypted?: boolean }).encrypted === true
  })

const socketFromTracked = <S extends Net.Socket>(tracked: Tracked<S>): Effect.Effect<Socket.Socket> =>
  Effect.sync(() => streamOf(tracked))

/**
 * Wraps an already-connected `net.Socket` (or `tls.TLSSocket`) as a platform `Socket`.
 *
 * Incoming data stays buffered in the socket until `run` starts. As with every `fromDuplex` socket,
 * `write` waits until `run` has started, `run` succeeds on the peer's FIN and fails with
 * `SocketCloseError` when the socket is closed (also by a local `CloseEvent`, Effect note E3); the
 * connection is closed when `run` ends. Call it right after getting the socket: errors emitted before
 * this call are not seen.
 *
 * @since 0.1.0
 * @category constructors
 */
export const fromNetSocket = (conn: Net.Socket): Effect.Effect<Socket.Socket> =>
  Effect.suspend(() => socketFromTracked(track(conn)))

const defaultOpenTimeout = Duration.seconds(3)

/**
 * Options for {@link connectWith}.
 *
 * @since 0.1.0
 * @category models
 */
export interface ConnectWithOptions {
  /** The event that says the socket is ready for data: `"connect"`, or `"secureConnect"` for TLS. */
  readonly readyEvent: "connect" | "secureConnect"
  /** See {@link ConnectOptions.openTimeout}; default 3 seconds. */
  readonly openTimeout?: Duration.DurationInput | undefined
  /** See {@link ConnectOptions.noDelay}; only applied when set (Unix sockets have no Nagle). */
  readonly noDelay?: boolean | undefined
  /** See {@link ConnectOptions.keepAlive}. */
  readonly keepAlive?: boolean | Duration.DurationInput | undefined
  /** What to call the peer in error messages (`host:port`, a socket path); default: what the OS error says. */
  readonly address?: string | undefined
}

/**
 * The building block of {@link connect}, `Unix.connect` and `Tls.connect`: opens a connection
 * with `create` (e.g. `() => Net.createConnection(...)`), waits for `readyEvent`, and returns it as a
 * Socket. Errors are listened for from the moment the socket exists (an `error` event with no
 * listener would crash the process), and the connection is closed when the scope closes even if the
 * caller never runs it.
 *
 * @since 0.1.0
 * @category constructors
 */
export const connectWith = <S extends Net.Socket>(
  create: () => S,
  options: ConnectWithOptions
): Effect.Effect<Socket.Socket, Socket.SocketError, Scope.Scope> => {
  const timeout = options.openTimeout === undefined ? defaultOpenTimeout : Duration.decode(options.openTimeout)
  const acquire = Effect.async<Tracked<S>, Socket.SocketError>((resume) => {
    let tracked: Tracked<S>
    try {
      tracked = track(create())
    } catch (cause) {
      // invalid options (e.g. a port out of range) throw synchronously
      return resume(
        Effect.fail(new ConnectError({ reason: "Open", cause, address: failedAddress(cause, options.address) }))
      )
    }
    const conn = tracked.conn
    // a plain timer, not Effect.timeout: that would race the wait in a fiber of its own for every
    // connection made
    const millis = Duration.toMillis(timeout)
    const timer = Number.isFinite(millis)
      ? setTimeout(() => {
        conn.off("error", onError)
        conn.off(options.readyEvent, onReady)
        conn.destroy()
        resume(Effect.fail(
          new ConnectError({
            reason: "OpenTimeout",
            cause: new Error(`no connection after ${Duration.format(timeout)}`),
            address: options.address ?? "the peer"
          })
        ))
      }, millis)
      : undefined
    const onError = (cause: Error) => {
      clearTimeout(timer)
      conn.off(options.readyEvent, onReady)
      conn.destroy()
      resume(Effect.fail(new ConnectError({ reason: "Open", cause, address: failedAddress(cause, options.address) })))
    }
    const onReady = () => {
      clearTimeout(timer)
      conn.off("error", onError)
      resume(Effect.succeed(tracked))
    }
    conn.once("error", onError)
    conn.once(options.readyEvent, onReady)
    // canceler: interruption aborts the attempt
    return Effect.sync(() => {
      clearTimeout(timer)
      conn.destroy()
    })
  })
  // acquireRelease's shape with a plain finalizer of the scope: acquireRelease's would diff and patch
  // every FiberRef around the release, which costs more than closing the socket and which it needs not.
  // Acquired uninterruptibly but for the wait itself, whose canceler destroys the half-open socket.
  return Effect.flatMap(Effect.scope, (scope) =>
    Effect.uninterruptible(
      Effect.tap(
        Effect.interruptible(acquire),
        (tracked) => Scope.addFinalizer(scope, Effect.sync(() => closeSoon(tracked.conn)))
      )
    )).pipe(
      Effect.flatMap((tracked) => {
        applySocketOptions(tracked.conn, options)
        return socketFromTracked(tracked)
      })
    )
}

/** `TCP_NODELAY` / `SO_KEEPALIVE`, set after connecting so it works the same for plain and TLS sockets. */
const applySocketOptions = (
  conn: Net.Socket,
  options: { readonly noDelay?: boolean | undefined; readonly keepAlive?: boolean | Duration.DurationInput | undefined }
): void => {
  if (options.noDelay !== undefined) conn.setNoDelay(options.noDelay)
  const keepAlive = options.keepAlive
  if (keepAlive === undefined || keepAlive === false) return
  if (keepAlive === true) conn.setKeepAlive(true)
  else conn.setKeepAlive(true, Duration.toMillis(Duration.decode(keepAlive)))
}

/**
 * Connects over TCP. Resolves only once the connection is open: a refused connection, an unknown
 * host or the open timeout fail here with {@link ConnectError} (a `SocketGenericError`, reason `"Open"` /
 * `"OpenTimeout"`) naming the address and the OS reason.
 * As with every `fromDuplex` socket, `write` still waits until `run` has started: start `run` first
 * (forked), then write.
 *
 * The returned Socket is single-use: its `run` consumes the connection (a second `run` fails), and the
 * connection is closed when `run` ends or when the scope closes, whichever comes first.
 *
 * @since 0.1.0
 * @category constructors
 */
export const connect = (options: ConnectOptions): Effect.Effect<Socket.Socket, Socket.SocketError, Scope.Scope> =>
  connectWith(
    () =>
      Net.createConnection({
        allowHalfOpen: true,
        host: options.host ?? defaultHost(options.ipv6),
        port: options.port,
        ...(options.ipv6 ? { family: 6 } : {})
      }),
    {
      readyEvent: "connect",
      address: formatAddress(options.host ?? defaultHost(options.ipv6), options.port),
      openTimeout: options.openTimeout,
      noDelay: options.noDelay ?? true,
      keepAlive: options.keepAlive
    }
  )

// ---------------------------------------------------------------------------------------------------------
// servers
// ---------------------------------------------------------------------------------------------------------

/**
 * Options for {@link fromNetServer}.
 *
 * @since 0.1.0
 * @category models
 */
export interface NetServerOptions<S extends Net.Server, Provided> {
  /**
   * Creates the (not yet listening) server. `onConnection` must be called with every connection that
   * is ready to carry data: the `connection` event for `net.Server`, `secureConnection` for `tls.Server`.
   */
  readonly make: (onConnection: (conn: Net.Socket) => void) => S
  /** Passed to `server.listen`. */
  readonly listen: Net.ListenOptions
  /** Extra services for each connection's handler (e.g. the TLS peer certificate). */
  readonly context?: ((conn: Net.Socket) => Context.Context<Provided>) | undefined
  /** Called on each ready connection before its handler starts (socket options). */
  readonly onAccept?: ((conn: Net.Socket) => void) | undefined
}

/**
 * Turns a `net.Server` (or a subclass such as `tls.Server`) into a listening {@link Server}.
 *
 * Connections accepted before `run` starts are kept and served once it does. When the scope closes,
 * the server stops listening and every connection still open is destroyed, so closing never waits on
 * a peer. Listen failures (address in use, permission) fail with {@link ListenError} (a `SocketServerError`,
 * reason `"Open"`, naming the address and the OS reason);
 * a later server error fails the running `run` with reason `"Unknown"`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const fromNetServer = <S extends Net.Server, Provided = never>(
  options: NetServerOptions<S, Provided>
): Effect.Effect<Server<Provided>, SocketServer.SocketServerError, Scope.Scope> =>
  Effect.gen(function*() {
    const loop = yield* Listener.makeAcceptLoop<Tracked<Net.Socket>>()
    const server = options.make((conn) => {
      options.onAccept?.(conn)
      loop.ready(track(conn))
    })
    const open = Listener.trackConnections(server)
    server.on("error", loop.fail)
    yield* Listener.listen(
      server,
      options.listen,
      (cause) => new ListenError({ cause, address: listenAddress(options.listen) }),
      () => {
        for (const conn of open) conn.destroy()
        for (const { conn } of loop.takePending()) conn.destroy()
      }
    )

    const address = server.address()
    const run = <R, E, _>(
      handler: (socket: Socket.Socket) => Effect.Effect<_, E, R>
    ): Effect.Effect<never, SocketServer.SocketServerError, Exclude<R, NodeSocket.NetSocket | Provided>> =>
      loop.run((tracked) => {
        const conn = tracked.conn
        let effect = asConnectionLife(conn, Effect.flatMap(socketFromTracked(tracked), handler))
        if (options.context) effect = Effect.provide(effect, options.context(conn))
        return effect as Effect.Effect<void, never, Exclude<R, NodeSocket.NetSocket | Provided>>
      })

    const runDirect = options.context === undefined
      ? (onConnection: (socket: Socket.Socket, raw: Net.Socket) => void) =>
        loop.runDirect((tracked) => onConnection(streamOf(tracked), tracked.conn))
      : undefined

    return {
      address: typeof address === "string"
        ? { _tag: "UnixAddress", path: address }
        : { _tag: "TcpAddress", hostname: address?.address ?? "", port: address?.port ?? 0 },
      run,
      runDirect
    } satisfies Server<Provided>
  })

/**
 * `handler` as the life of the accepted connection `conn`, as {@link Server}'s `run` serves it: the
 * raw socket is its `NodeSocket.NetSocket`, the connection closes when it ends (even if it never
 * read), and a failure is reported, not raised. For a `runDirect` callback that serves a connection
 * in a fiber after all.
 *
 * @since 0.1.0
 * @category combinators
 */
export const asConnectionLife = <E, R>(
  conn: Net.Socket,
  handler: Effect.Effect<unknown, E, R>
): Effect.Effect<void, never, Exclude<R, NodeSocket.NetSocket>> =>
  handler.pipe(
    Effect.ensuring(Effect.sync(() => closeSoon(conn))),
    Effect.catchAllCause(Listener.reportUnhandledError),
    Effect.provideService(NodeSocket.NetSocket, conn)
  )

/**
 * Listens for TCP connections on `host:port` (default `127.0.0.1:0`). The handler receives each
 * connection as a `Socket`, with the raw `net.Socket` available as `NodeSocket.NetSocket`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeServer = (
  options: ServerOptions = {}
): Effect.Effect<Server, SocketServer.SocketServerError, Scope.Scope> =>
  fromNetServer({
    make: (onConnection) => Net.createServer({ allowHalfOpen: true }, onConnection),
    listen: {
      host: options.host ?? defaultHost(options.ipv6),
      port: options.port ?? 0,
      ...(options.backlog === undefined ? {} : { backlog: options.backlog })
    },
    onAccept: (conn) => conn.setNoDelay(options.noDelay ?? true)
  })

/**
 * {@link makeServer} as a layer for the `SocketServer` service.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerServer = (
  options: ServerOptions = {}
): Layer.Layer<SocketServer.SocketServer, SocketServer.SocketServerError> =>
  Layer.scoped(SocketServer.SocketServer, makeServer(options))
