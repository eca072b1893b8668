/**
 * `rpyc-gateway` as a library: accepts WebSocket connections (`ws://`, or `wss://` with `tls`) and
 * bridges each one to an RPyC TCP server — a Python `ThreadedServer`, `rpyc_classic`, or a TS server —
 * so that a web page can drive it. The gateway is a byte pipe (PROTOCOL.md §7.5): it decodes nothing
 * and passes the bytes through unchanged both ways.
 *
 * It is never an open proxy. A client names its upstream in the path, `<basePath>/<name>` (default
 * `/rpyc/<name>`), and only the names of `upstreams` exist; anything else is refused before the
 * upgrade. Every upgrade request is checked, in this order, and refused with an HTTP status (and an
 * INFO log line naming the peer, the path and the reason; never the token):
 * 1. the `Origin` header against `allowedOrigins` (403; see `WebSocketServer` for the rules: none
 *    listed means no page may connect, a program without `Origin` may);
 * 2. the connection limit (503);
 * 3. the `token`, when one is set (401): `?token=…` in the URL (browsers cannot set headers on a
 *    WebSocket) or `Authorization: Bearer …`;
 * 4. the upstream name (404).
 * With `tls` and a CA, clients must present a certificate signed by it (TLS client authentication).
 *
 * Per connection: messages above `maxMessageBytes` close it (1009), text messages close it (1003); at
 * most `maxBufferedBytes` wait toward a slow side (the other side is not read meanwhile: the TCP socket
 * is paused while the browser is slow, and the WebSocket while the server is); `idleTimeout` closes a
 * connection silent both ways; an upstream that cannot be reached closes it with 1014 (bad gateway).
 *
 * Logs follow RPyC's server lines under the logger name `GATEWAY/<port>`: `accepted <peer> for <name>
 * (<host:port>)`, `refused …`, `goodbye <peer> (…)`.
 *
 * @since 0.1.0
 */
import * as Socket from "@effect/platform/Socket"
import type * as SocketServer from "@effect/platform/SocketServer"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Mailbox from "effect/Mailbox"
import * as Runtime from "effect/Runtime"
import type * as Scope from "effect/Scope"
import * as Crypto from "node:crypto"
import type * as Http from "node:http"
import * as StreamCapabilities from "../internal/base/StreamCapabilities.js"
import * as Logging from "../Logging.js"
import * as Tcp from "../transport/Tcp.js"
import type * as Tls from "../transport/Tls.js"
import * as WebSocket from "../transport/WebSocket.js"
import * as WebSocketServer from "../transport/WebSocketServer.js"

/**
 * An RPyC TCP server the gateway may reach.
 *
 * @since 0.1.0 @category models
 */
export interface Upstream {
  readonly host: string
  readonly port: number
}

/**
 * The path prefix under which upstreams are named: `/rpyc/<name>`.
 *
 * @since 0.1.0 @category constants
 */
export const DEFAULT_BASE_PATH = "/rpyc"

/**
 * Connections open at once above which new ones are refused (503), unless `maxConnections` says.
 *
 * @since 0.1.0 @category constants
 */
export const DEFAULT_MAX_CONNECTIONS = 100

/**
 * The close code of a connection whose upstream cannot be reached (RFC 6455 registry: bad gateway).
 *
 * @since 0.1.0 @category constants
 */
export const CLOSE_BAD_GATEWAY = 1014

/**
 * Options of {@link make}.
 *
 * @since 0.1.0 @category models
 */
export interface Options {
  /** The upstreams by name: the only servers the gateway connects to. */
  readonly upstreams: Readonly<Record<string, Upstream>>
  /** Address to bind; default `127.0.0.1`. */
  readonly host?: string | undefined
  /** Port; default 0 (read it back from `gateway.port`). */
  readonly port?: number | undefined
  readonly ipv6?: boolean | undefined
  /** Where upstream names start: default {@link DEFAULT_BASE_PATH}. */
  readonly basePath?: string | undefined
  /** Origins whose pages may connect (`"*"` for any); default none. */
  readonly allowedOrigins?: ReadonlyArray<string> | undefined
  /** Refuse clients without an `Origin` header (only browsers then); default false. */
  readonly requireOrigin?: boolean | undefined
  /** A shared secret clients must present (`?token=` or `Authorization: Bearer`); default none. */
  readonly token?: string | undefined
  /** Serve `wss://`; with a CA, clients must present a certificate it signed. */
  readonly tls?: Tls.ServerCredentials | undefined
  /** Largest WebSocket message accepted; default `WebSocketServer.DEFAULT_MAX_MESSAGE_BYTES`. */
  readonly maxMessageBytes?: number | undefined
  /** Bytes that may wait toward a slow side before the other is no longer read; default 1 MiB. */
  readonly maxBufferedBytes?: number | undefined
  /** Close a connection with no traffic either way for this long; default never. */
  readonly idleTimeout?: Duration.DurationInput | undefined
  /** Connections open at once; default {@link DEFAULT_MAX_CONNECTIONS}. */
  readonly maxConnections?: number | undefined
  /** How long connecting to an upstream may take; default 3 seconds. */
  readonly connectTimeout?: Duration.DurationInput | undefined
}

/**
 * A running gateway.
 *
 * @since 0.1.0 @category models
 */
export interface Gateway {
  readonly address: SocketServer.Address
  /** The bound port. */
  readonly port: number
  readonly host: string
  /** The URL path of each upstream, by name: `/rpyc/lab`. */
  readonly paths: Readonly<Record<string, string>>
  /** Connections being bridged now. */
  readonly connections: () => number
  /**
   * Bytes read from one side and not yet handed to the other, over all connections: at most about
   * `maxBufferedBytes` per direction of each connection, plus what one read brings.
   */
  readonly buffered: () => number
}

/**
 * The running gateway of an Effect app.
 *
 * @since 0.1.0 @category tags
 */
export class RpycGateway extends Context.Tag("effect-rpyc/Gateway/RpycGateway")<RpycGateway, Gateway>() {}

const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/

/**
 * Reads `name=host:port` (`lab=127.0.0.1:18861`, `v6=[::1]:18861`), the `--upstream` flag's form;
 * the reason it cannot as the error.
 *
 * @since 0.1.0 @category upstreams
 */
export const parseUpstream = (spec: string): Either.Either<readonly [string, Upstream], string> => {
  const at = spec.indexOf("=")
  if (at <= 0) return Either.left(`expected name=host:port (got ${spec})`)
  const name = spec.slice(0, at)
  if (!NAME.test(name)) {
    return Either.left(`an upstream name is letters, digits, '_', '.' and '-' (got ${name})`)
  }
  const address = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d+)$/.exec(spec.slice(at + 1))
  const port = address === null ? Number.NaN : Number(address[3])
  if (address === null || !Number.isInteger(port) || port < 1 || port > 65535) {
    return Either.left(`expected name=host:port with a port from 1 to 65535 (got ${spec})`)
  }
  return Either.right([name, { host: address[1] ?? address[2]!, port }] as const)
}

/** Constant-time comparison (of digests, so the lengths do not show either). */
const sameSecret = (given: string, expected: string): boolean =>
  Crypto.timingSafeEqual(
    Crypto.createHash("sha256").update(given).digest(),
    Crypto.createHash("sha256").update(expected).digest()
  )

const tokenOf = (request: Http.IncomingMessage): string | undefined => {
  const query = WebSocketServer.queryOf(request).get("token")
  if (query !== null && query !== "") return query
  const bearer = /^Bearer\s+(\S+)\s*$/i.exec(request.headers.authorization ?? "")
  return bearer?.[1]
}

const trimSlashes = (path: string): string => path.replace(/\/+$/, "")

/** The upstream name a request asks for, if its path is `<basePath>/<name>`. */
const requestedName = (request: Http.IncomingMessage, basePath: string): string | undefined => {
  const path = WebSocketServer.pathOf(request)
  const prefix = `${basePath}/`
  if (!path.startsWith(prefix)) return undefined
  const name = trimSlashes(path.slice(prefix.length))
  return NAME.test(name) ? name : undefined
}

/**
 * One direction of a bridge: what `from` receives is written to `to` in the same pieces and order.
 * Reading `from` pauses while more than `maxBuffered` bytes wait for `to`. Ends, once what was read
 * is written, with how `from` ended.
 */
const pump = (
  from: Socket.Socket,
  to: Socket.Socket,
  maxBuffered: number,
  onBytes: (n: number) => void,
  onQueued: (delta: number) => void
): Effect.Effect<Exit.Exit<void, Socket.SocketError>, never, Scope.Scope> =>
  Effect.gen(function*() {
    const write = yield* to.writer
    const outbox = yield* Mailbox.make<Uint8Array>()
    const capabilities = StreamCapabilities.of(from)
    let queued = 0
    let paused = false
    // what is still queued when the connection ends is dropped with it
    yield* Effect.addFinalizer(() =>
      Effect.sync(() => {
        onQueued(-queued)
        queued = 0
      })
    )
    const writing = yield* Effect.gen(function*() {
      while (true) {
        const [chunks, finished] = yield* outbox.takeAll
        for (const chunk of chunks) {
          yield* write(chunk)
          queued -= chunk.length
          onQueued(-chunk.length)
        }
        if (paused && queued <= maxBuffered / 2) {
          paused = false
          capabilities?.resume()
        }
        if (finished) return
      }
    }).pipe(Effect.fork)
    const reading = yield* Effect.exit(from.run((chunk) => {
      onBytes(chunk.length)
      queued += chunk.length
      onQueued(chunk.length)
      outbox.unsafeOffer(chunk)
      if (!paused && queued > maxBuffered && capabilities !== undefined) {
        paused = true
        capabilities.pause()
      }
    }))
    yield* outbox.end
    // a side that cannot take the rest any more ends the bridge all the same
    yield* Effect.ignore(Fiber.join(writing))
    return reading
  })

/** Closes a connection idle for `timeout` (both ways), checking when it could first have expired. */
const idleWatch = (timeout: Duration.Duration, lastActivity: () => number): Effect.Effect<"idle"> =>
  Effect.gen(function*() {
    const millis = Duration.toMillis(timeout)
    while (true) {
      const left = lastActivity() + millis - Date.now()
      if (left <= 0) return "idle" as const
      yield* Effect.sleep(Duration.millis(left))
    }
  })

/**
 * Starts a gateway as the module's documentation says: listening once this succeeds, until the scope
 * closes (which closes every bridged connection). An empty `upstreams`, unusable TLS key material or
 * a failure to listen fail here with `SocketServerError` reason `"Open"`.
 *
 * @since 0.1.0 @category constructors
 */
export const make = (options: Options): Effect.Effect<Gateway, SocketServer.SocketServerError, Scope.Scope> =>
  Effect.gen(function*() {
    const names = Object.keys(options.upstreams)
    const bad = names.find((name) => !NAME.test(name))
    if (names.length === 0 || bad !== undefined) {
      return yield* new Tcp.ListenError({
        cause: new Error(names.length === 0 ? "no upstream given" : `invalid upstream name ${bad}`),
        address: Tcp.formatAddress(options.host ?? Tcp.defaultHost(options.ipv6), options.port ?? 0)
      })
    }
    const basePath = trimSlashes(options.basePath ?? DEFAULT_BASE_PATH)
    const maxBuffered = options.maxBufferedBytes ?? WebSocket.DEFAULT_MAX_BUFFERED_BYTES
    const idleTimeout = options.idleTimeout === undefined ? undefined : Duration.decode(options.idleTimeout)
    const connectTimeout = options.connectTimeout ?? Duration.seconds(3)
    const runtime = yield* Effect.runtime<never>()
    let name = "GATEWAY"
    const log = (message: string) =>
      Runtime.runFork(runtime)(Effect.logInfo(message).pipe(Effect.annotateLogs(Logging.LOGGER_NAME, name)))
    const token = options.token

    const authorize = (request: Http.IncomingMessage): WebSocketServer.Refusal | undefined => {
      if (token !== undefined) {
        const given = tokenOf(request)
        if (given === undefined) return { status: 401, reason: "no token" }
        if (!sameSecret(given, token)) return { status: 401, reason: "wrong token" }
      }
      const wanted = requestedName(request, basePath)
      if (wanted === undefined || !Object.hasOwn(options.upstreams, wanted)) {
        const path = WebSocketServer.pathOf(request)
        return {
          status: 404,
          reason: wanted === undefined ? `no upstream at ${path}` : `no upstream named ${wanted}`
        }
      }
      return undefined
    }

    const listener = yield* WebSocketServer.make({
      host: options.host,
      port: options.port,
      ipv6: options.ipv6,
      allowedOrigins: options.allowedOrigins,
      requireOrigin: options.requireOrigin,
      maxMessageBytes: options.maxMessageBytes,
      maxBufferedBytes: maxBuffered,
      maxConnections: options.maxConnections ?? DEFAULT_MAX_CONNECTIONS,
      tls: options.tls,
      authorize,
      onRefused: (request, refusal) =>
        log(
          `refused ${WebSocketServer.peerOf(request)} ${
            WebSocketServer.pathOf(request)
          }: ${refusal.reason} (HTTP ${refusal.status})`
        ),
      onHandshakeError: (error, socket) =>
        log(`${socket.remoteAddress ?? "a peer"}:${socket.remotePort} failed to authenticate (${error.message})`)
    })
    const address = listener.address as SocketServer.TcpAddress
    name = `GATEWAY/${address.port}`
    let open = 0
    let buffered = 0
    const onQueued = (delta: number) => {
      buffered += delta
    }

    const bridge = (ws: Socket.Socket) =>
      Effect.gen(function*() {
        const request = yield* WebSocketServer.UpgradeRequest
        const peer = WebSocketServer.peerOf(request)
        const upstreamName = requestedName(request, basePath)!
        const upstream = options.upstreams[upstreamName]!
        const target = Tcp.formatAddress(upstream.host, upstream.port)
        yield* Effect.logInfo(`accepted ${peer} for ${upstreamName} (${target})`)
        const tcp = yield* Effect.either(Tcp.connect({ ...upstream, openTimeout: connectTimeout }))
        if (Either.isLeft(tcp)) {
          yield* Effect.logWarning(`cannot reach upstream ${upstreamName}: ${tcp.left.message}`)
          const write = yield* ws.writer
          return yield* write(new Socket.CloseEvent(CLOSE_BAD_GATEWAY, `upstream ${upstreamName} unavailable`))
        }
        open++
        let toUpstream = 0
        let toClient = 0
        let last = Date.now()
        yield* Effect.addFinalizer(() =>
          Effect.suspend(() => {
            open--
            return Effect.logInfo(`goodbye ${peer} (${upstreamName}: ${toUpstream} bytes in, ${toClient} bytes out)`)
          })
        )
        const ended = yield* Effect.raceAll([
          pump(ws, tcp.right, maxBuffered, (n) => {
            toUpstream += n
            last = Date.now()
          }, onQueued).pipe(Effect.map((exit) => ["client", exit] as const)),
          pump(tcp.right, ws, maxBuffered, (n) => {
            toClient += n
            last = Date.now()
          }, onQueued).pipe(Effect.map((exit) => ["upstream", exit] as const)),
          ...(idleTimeout === undefined ? [] : [idleWatch(idleTimeout, () => last)])
        ])
        if (ended === "idle") {
          yield* Effect.logInfo(`closing ${peer}: idle for ${Duration.format(idleTimeout!)}`)
        } else if (Exit.isFailure(ended[1])) {
          yield* Effect.logDebug(`${peer}: the ${ended[0]} side failed`, ended[1].cause)
        }
      }).pipe(
        Effect.scoped,
        Effect.catchAllCause((cause) => Effect.logWarning("connection failed", cause)),
        Effect.annotateLogs(Logging.LOGGER_NAME, name)
      )

    yield* listener.run(bridge).pipe(
      Effect.catchAllCause((cause) => Effect.logError("gateway stopped", cause)),
      Effect.annotateLogs(Logging.LOGGER_NAME, name),
      Effect.forkScoped
    )
    const paths = Object.fromEntries(names.map((n) => [n, `${basePath}/${n}`]))
    yield* Effect.logInfo(
      `gateway started on [${address.hostname}]:${address.port}, upstreams: ${
        names.map((n) => `${n}=${Tcp.formatAddress(options.upstreams[n]!.host, options.upstreams[n]!.port)}`).join(", ")
      }`
    ).pipe(Effect.annotateLogs(Logging.LOGGER_NAME, name))
    return {
      address,
      port: address.port,
      host: address.hostname,
      paths,
      connections: () => open,
      buffered: () => buffered
    }
  })

/**
 * {@link make} as a Layer.
 *
 * @since 0.1.0 @category layers
 */
export const layer = (options: Options): Layer.Layer<RpycGateway, SocketServer.SocketServerError> =>
  Layer.scoped(RpycGateway, make(options))
