/**
 * Listening for RPyC over WebSocket (`ws://` and `wss://`) in Node: an HTTP(S) server on loopback
 * that upgrades the requests it accepts and hands each connection to a handler as a platform
 * `Socket` (`WebSocket.fromWebSocket`: binary messages only, one RPyC frame per message sent,
 * backpressure both ways), shaped like the TCP, Unix and TLS servers (`Tcp.Server`).
 *
 * Every upgrade request is checked before it is upgraded, and refused with a plain HTTP answer:
 * - **path** (`path`): another path gets 404;
 * - **origin** (`allowedOrigins`): a request with an `Origin` header (a browser page) is accepted
 *   only from a listed origin (`"*"` lists all); any other gets 403. A request without one comes from
 *   a program, not a page, and is accepted unless `requireOrigin` is set. By default no origin is
 *   listed: pages cannot connect until told which may (a page of any site could otherwise drive a
 *   server on the user's machine);
 * - **capacity** (`maxConnections`): 503 when that many connections are open;
 * - anything else the caller checks (`authorize`: a token, a route), with the status it says.
 *
 * Each refusal is reported to `onRefused` (default: an INFO log line). Messages larger than
 * `maxMessageBytes` close that connection with code 1009; a text message closes it with 1003. Over
 * TLS (`tls`) a client certificate is required when a CA is given (`Tls.ServerCredentials`), before
 * any HTTP is read. Plain HTTP requests get 426.
 *
 * The handler gets the upgrade request as {@link UpgradeRequest} and the underlying TCP (or TLS)
 * socket as `NodeSocket.NetSocket`, so servers log the peer's address as over TCP.
 *
 * @since 0.1.0
 */
import * as NodeSocket from "@effect/platform-node/NodeSocket"
import type * as Socket from "@effect/platform/Socket"
import * as SocketServer from "@effect/platform/SocketServer"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Runtime from "effect/Runtime"
import type * as Scope from "effect/Scope"
import * as Http from "node:http"
import * as Https from "node:https"
import type * as Net from "node:net"
import type { Duplex } from "node:stream"
import type * as WS from "ws"
import * as Listener from "./Listener.js"
import * as NodeWebSocket from "./NodeWebSocket.js"
import * as Tcp from "./Tcp.js"
import * as Tls from "./Tls.js"
import * as WebSocket from "./WebSocket.js"

/**
 * The largest message accepted unless `maxMessageBytes` says: 64 MiB and a frame header, the
 * engine's own largest frame.
 *
 * @since 0.1.0 @category constants
 */
export const DEFAULT_MAX_MESSAGE_BYTES = 64 * 1024 * 1024 + 6

/**
 * How long a TLS client may take over its handshake unless `tls.handshakeTimeout` says: 10 s.
 *
 * @since 0.1.0 @category constants
 */
export const TLS_HANDSHAKE_TIMEOUT: Duration.Duration = Duration.seconds(10)

/**
 * Why an upgrade request is refused: the HTTP status it gets and a reason (sent as the body and
 * logged).
 *
 * @since 0.1.0 @category models
 */
export interface Refusal {
  readonly status: number
  readonly reason: string
}

/**
 * The HTTP request a connection was upgraded from (path, query, headers), provided to every
 * handler of a {@link make} server.
 *
 * @since 0.1.0 @category tags
 */
export class UpgradeRequest extends Context.Tag("effect-rpyc/WebSocketServer/UpgradeRequest")<
  UpgradeRequest,
  Http.IncomingMessage
>() {}

/**
 * Options of {@link make}.
 *
 * @since 0.1.0 @category models
 */
export interface ServerOptions {
  /** Address to bind; default `Tcp.defaultHost(ipv6)` (`127.0.0.1`). */
  readonly host?: string | undefined
  /** Port; default 0 (ephemeral: read it from `server.address`). */
  readonly port?: number | undefined
  readonly ipv6?: boolean | undefined
  readonly backlog?: number | undefined
  /** The only path upgraded (the query is not part of it), e.g. `"/rpyc"`; default any path. */
  readonly path?: string | undefined
  /**
   * Origins whose pages may connect (`"https://lab.example:8443"`; `"*"` for any). Default none: a
   * request with an `Origin` header is refused with 403.
   */
  readonly allowedOrigins?: ReadonlyArray<string> | undefined
  /** Refuse requests without an `Origin` header too (only browsers then); default false. */
  readonly requireOrigin?: boolean | undefined
  /** Largest message accepted (default {@link DEFAULT_MAX_MESSAGE_BYTES}); a larger one closes the connection. */
  readonly maxMessageBytes?: number | undefined
  /** Unsent bytes above which a write waits (`WebSocket.SocketOptions.maxBufferedBytes`). */
  readonly maxBufferedBytes?: number | undefined
  /** Open connections above which new ones are refused with 503; default no limit. */
  readonly maxConnections?: number | undefined
  /** Serve `wss://`: key material and client-certificate policy as for `Tls.makeServer`. */
  readonly tls?: Tls.ServerCredentials | undefined
  /** Further checks of an upgrade request, after path, origin and capacity: a refusal, or undefined to accept. */
  readonly authorize?: ((request: Http.IncomingMessage) => Refusal | undefined) | undefined
  /** Told of every refused request; default: an INFO log line naming the peer, path and reason. */
  readonly onRefused?: ((request: Http.IncomingMessage, refusal: Refusal) => void) | undefined
  /** Told of a client that failed the TLS handshake; default: ignore. */
  readonly onHandshakeError?: ((error: Error, socket: Net.Socket) => void) | undefined
}

/**
 * `host:port` of the peer of an upgrade request.
 *
 * @since 0.1.0 @category utils
 */
export const peerOf = (request: Http.IncomingMessage): string =>
  request.socket.remoteAddress === undefined
    ? "a peer"
    : Tcp.formatAddress(request.socket.remoteAddress, request.socket.remotePort ?? 0)

/**
 * The path of a request, without its query.
 *
 * @since 0.1.0 @category utils
 */
export const pathOf = (request: Http.IncomingMessage): string => {
  const url = request.url ?? "/"
  const cut = url.search(/[?#]/)
  return cut === -1 ? url : url.slice(0, cut)
}

/**
 * The query parameters of a request.
 *
 * @since 0.1.0 @category utils
 */
export const queryOf = (request: Http.IncomingMessage): URLSearchParams => {
  const url = request.url ?? "/"
  const at = url.indexOf("?")
  return new URLSearchParams(at === -1 ? "" : url.slice(at + 1).replace(/#.*$/, ""))
}

const normalizeOrigin = (origin: string): string => origin.trim().toLowerCase().replace(/\/+$/, "")

/**
 * Whether `origin` (an `Origin` header, if any) may connect under these options: see the module's
 * documentation. A refusal (403) when not.
 *
 * @since 0.1.0 @category utils
 */
export const checkOrigin = (
  origin: string | undefined,
  options: Pick<ServerOptions, "allowedOrigins" | "requireOrigin">
): Refusal | undefined => {
  if (origin === undefined || origin === "") {
    return options.requireOrigin ? { status: 403, reason: "no Origin header" } : undefined
  }
  const allowed = options.allowedOrigins ?? []
  const wanted = normalizeOrigin(origin)
  if (allowed.some((o) => o === "*" || normalizeOrigin(o) === wanted)) return undefined
  return { status: 403, reason: `origin ${origin} is not allowed` }
}

const refuse = (socket: Duplex, refusal: Refusal): void => {
  if (!socket.writable) return void socket.destroy()
  const body = `${refusal.reason}\n`
  const head = [
    `HTTP/1.1 ${refusal.status} ${Http.STATUS_CODES[refusal.status] ?? "Refused"}`,
    "Connection: close",
    "Content-Type: text/plain; charset=utf-8",
    `Content-Length: ${Buffer.byteLength(body)}`,
    ...(refusal.status === 401 ? ["WWW-Authenticate: Bearer"] : [])
  ]
  socket.end(`${head.join("\r\n")}\r\n\r\n${body}`)
  socket.once("finish", () => socket.destroy())
}

/** An accepted connection waiting for `run`. */
interface Accepted {
  readonly ws: WS.NodeWebSocket
  readonly socket: Socket.Socket
  readonly request: Http.IncomingMessage
}

/**
 * Listens for WebSocket connections (default `127.0.0.1:0`, any path) as the module's documentation
 * says. Connections accepted before `run` starts are kept (with what they sent) and served once it
 * does. When the scope closes the server stops listening and every connection is closed. Listen
 * failures fail with `Tcp.ListenError`; unusable TLS key material with `SocketServerError` reason
 * `"Open"` (its cause a `Tls.TlsError`).
 *
 * @since 0.1.0 @category constructors
 */
export const make = (
  options: ServerOptions = {}
): Effect.Effect<Tcp.Server<UpgradeRequest>, SocketServer.SocketServerError, Scope.Scope> =>
  Effect.gen(function*() {
    const settings = options.tls === undefined ? undefined : yield* Tls.resolveServerCredentials({
      ...options.tls,
      handshakeTimeout: options.tls.handshakeTimeout ?? TLS_HANDSHAKE_TIMEOUT
    }).pipe(Effect.mapError((cause) => new SocketServer.SocketServerError({ reason: "Open", cause })))
    const runtime = yield* Effect.runtime<never>()
    const onRefused = options.onRefused ??
      ((request: Http.IncomingMessage, refusal: Refusal) =>
        Runtime.runFork(runtime)(
          Effect.logInfo(`refused ${peerOf(request)} ${pathOf(request)}: ${refusal.reason} (HTTP ${refusal.status})`)
        ))
    const loop = yield* Listener.makeAcceptLoop<Accepted>()
    const live = new Set<WS.NodeWebSocket>()

    const ws = (yield* NodeWebSocket.loadWs.pipe(
      Effect.mapError((cause) => new SocketServer.SocketServerError({ reason: "Open", cause }))
    )) as typeof WS
    const wss = new ws.WebSocketServer({
      noServer: true,
      clientTracking: false,
      // RPyC frames are compressed already (zlib above 3000 bytes)
      perMessageDeflate: false,
      maxPayload: options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES
    })
    const server: Http.Server = settings === undefined
      ? Http.createServer()
      : Https.createServer({
        key: settings.key,
        cert: settings.cert,
        ...(settings.ca === undefined ? {} : { ca: settings.ca }),
        ...(settings.passphrase === undefined ? {} : { passphrase: settings.passphrase }),
        ...(settings.handshakeTimeout === undefined ? {} : { handshakeTimeout: settings.handshakeTimeout }),
        ...(settings.minVersion === undefined ? {} : { minVersion: settings.minVersion }),
        ...(settings.ciphers === undefined ? {} : { ciphers: settings.ciphers }),
        requestCert: settings.requireClientCert,
        rejectUnauthorized: settings.requireClientCert
      })
    const raw = Listener.trackConnections(server)
    server.on("connection", (conn: Net.Socket) => conn.setNoDelay(true))
    const onHandshakeError = options.onHandshakeError
    if (onHandshakeError !== undefined) {
      server.on("tlsClientError", (error: Error, socket: Net.Socket) => onHandshakeError(error, socket))
    }
    server.on("request", (_request: Http.IncomingMessage, response: Http.ServerResponse) => {
      response.writeHead(426, {
        "Content-Type": "text/plain; charset=utf-8",
        Connection: "Upgrade",
        Upgrade: "websocket"
      })
      response.end("this server speaks RPyC over WebSocket only\n")
    })
    server.on("upgrade", (request: Http.IncomingMessage, socket: Duplex, head: Buffer) => {
      socket.on("error", () => socket.destroy())
      const origin = request.headers.origin
      const refusal: Refusal | undefined = options.path !== undefined && pathOf(request) !== options.path
        ? { status: 404, reason: `no WebSocket endpoint at ${pathOf(request)}` }
        : checkOrigin(origin, options) ??
          (options.maxConnections !== undefined && live.size >= options.maxConnections
            ? { status: 503, reason: `too many connections (${live.size})` }
            : options.authorize?.(request))
      if (refusal !== undefined) {
        onRefused(request, refusal)
        return refuse(socket, refusal)
      }
      wss.handleUpgrade(request, socket, head, (ws) => {
        live.add(ws)
        ws.addEventListener("close", () => live.delete(ws), { once: true })
        // listening from now on, so nothing the client sends first is lost
        const accepted = {
          ws,
          socket: WebSocket.fromWebSocket(ws, { maxBufferedBytes: options.maxBufferedBytes }),
          request
        }
        loop.ready(accepted)
      })
    })
    server.on("error", loop.fail)
    const listen: Net.ListenOptions = {
      host: options.host ?? Tcp.defaultHost(options.ipv6),
      port: options.port ?? 0,
      ...(options.backlog === undefined ? {} : { backlog: options.backlog })
    }
    yield* Listener.listen(
      server,
      listen,
      (cause) => new Tcp.ListenError({ cause, address: Tcp.formatAddress(listen.host!, listen.port!) }),
      () => {
        for (const ws of live) ws.terminate()
        for (const { ws } of loop.takePending()) ws.terminate()
        for (const conn of raw) conn.destroy()
        wss.close()
      }
    )

    const address = server.address() as Net.AddressInfo
    const run = <R, E, _>(
      handler: (socket: Socket.Socket) => Effect.Effect<_, E, R>
    ): Effect.Effect<never, SocketServer.SocketServerError, Exclude<R, NodeSocket.NetSocket | UpgradeRequest>> =>
      loop.run(({ request, socket, ws }) =>
        handler(socket).pipe(
          // the handler is the connection's lifetime, even if it never called `run`
          Effect.ensuring(Effect.sync(() => ws.close())),
          Effect.catchAllCause(Listener.reportUnhandledError),
          Effect.provideService(NodeSocket.NetSocket, request.socket),
          Effect.provideService(UpgradeRequest, request)
        ) as Effect.Effect<void, never, Exclude<R, NodeSocket.NetSocket | UpgradeRequest>>
      )

    return {
      address: { _tag: "TcpAddress", hostname: address.address, port: address.port },
      run
    } satisfies Tcp.Server<UpgradeRequest>
  })

/**
 * {@link make} as a layer for the platform's `SocketServer` service ({@link UpgradeRequest} is
 * still provided to every handler: read it with `Effect.serviceOption` there).
 *
 * @since 0.1.0 @category layers
 */
export const layer = (
  options: ServerOptions = {}
): Layer.Layer<SocketServer.SocketServer, SocketServer.SocketServerError> =>
  Layer.scoped(SocketServer.SocketServer, make(options))
