/**
 * Connecting to an RPyC server (RPyC's `rpyc.connect` and `connect_stream`).
 *
 * Each constructor is a scoped Effect: the connection lives until the scope closes (or
 * `conn.close()`). The Promise helpers in the package index wrap these for scripts.
 *
 * The connecting side has to pick the envelope dialect before it hears from the server
 * (PROTOCOL.md §10.3). Over TCP, `wireVersion` defaults to `"auto"`: the first connection to an
 * endpoint (`host:port`) probes it with a v6 PING on a throw-away connection, and the answer is
 * remembered for the process, so a client talks to RPyC 5.x and 6.x servers alike at the cost of one
 * extra connection per endpoint (a 5.x server logs a traceback for the probe, and a one-shot server
 * would spend its one connection on it: give such servers an explicit version). `5` or `6` skip the
 * probe. Over the other transports (`connectSocket`: Unix sockets, TLS, pipes) nothing can be probed
 * and `"auto"` means 5.
 *
 * When the server turns out to speak the other dialect (its first frame is of the other dialect: RPyC
 * answers a request it cannot parse with a CLOSE in its own dialect), the connection closes with
 * {@link WireVersionMismatch} as the transport's error: every pending and later call fails with a
 * `ConnectionClosed` whose message says which versions met and what to set.
 *
 * Connection failures are `Tcp.ConnectError`s (a `Socket.SocketError`) naming the address and the OS
 * reason: `cannot connect to 127.0.0.1:18812: connection refused (ECONNREFUSED)`.
 *
 * @since 0.1.0
 */
import * as Socket from "@effect/platform/Socket"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import type * as Scope from "effect/Scope"
import * as Net from "node:net"
import type * as Config from "../internal/base/Config.js"
import type { ConnectionClosed } from "../internal/base/Errors.js"
import * as StreamCapabilities from "../internal/base/StreamCapabilities.js"
import type * as Connection from "../internal/engine/Engine.js"
import * as RemoteOp from "../internal/netref/RemoteOp.js"
import * as Channel from "../internal/wire/Channel.js"
import * as Message from "../internal/wire/Message.js"
import * as Registry from "../registry/Registry.js"
import * as RegistryClient from "../registry/RegistryClient.js"
import * as Service from "../service/Service.js"
import * as NodeWebSocket from "../transport/NodeWebSocket.js"
import * as Tcp from "../transport/Tcp.js"
import * as WebSocket from "../transport/WebSocket.js"
import * as Dialect from "./Dialect.js"
import * as Selection from "./Selection.js"

/**
 * Options shared by every way of connecting.
 *
 * @since 0.1.0 @category models
 */
export interface ConnectionOptions {
  /** The service this side exposes to the peer (default `VoidService`). */
  readonly service?: Service.ServiceSpec | undefined
  readonly config?: Config.ConfigInput | undefined
  /**
   * The envelope dialect: `5` (RPyC 5.x), `6` (RPyC 6.x) or `"auto"` (default): probe the endpoint once
   * over TCP; 5 over transports that cannot be probed.
   */
  readonly wireVersion?: Message.WireVersion | "auto" | undefined
  readonly maxFrameSize?: number | undefined
}

/**
 * TCP connection options.
 *
 * @since 0.1.0 @category models
 */
export interface ConnectOptions extends ConnectionOptions {
  /** Default `Tcp.defaultHost(ipv6)`: `127.0.0.1`, or `::1` with `ipv6`. */
  readonly host?: string | undefined
  readonly port: number
  readonly ipv6?: boolean | undefined
  readonly keepAlive?: boolean | undefined
  /** How long to wait for the TCP connection (default 3 s, as RPyC). */
  readonly openTimeout?: Duration.DurationInput | undefined
}

// ---------------------------------------------------------------------------------------------
// wire version mismatches

/**
 * The server speaks the other RPyC dialect than the one this client uses. It ends the connection's
 * transport (so it is a `Socket.SocketError`, reason `"Read"`); callers see it in the message of the
 * `ConnectionClosed` their calls fail with:
 * `the server at 127.0.0.1:18861 speaks RPyC 6 (wire v6) but this client was set to wireVersion: 5;
 * use wireVersion: "auto" or 6`.
 *
 * @since 0.1.0 @category errors
 */
export class WireVersionMismatch extends Socket.SocketGenericError {
  /** The dialect the server speaks. */
  readonly serverVersion: Message.WireVersion
  /** The dialect this client spoke. */
  readonly clientVersion: Message.WireVersion
  /** What the client was configured with. */
  readonly configured: Message.WireVersion | "auto"
  /** `host:port`, when known. */
  readonly address: string | undefined
  constructor(options: {
    readonly serverVersion: Message.WireVersion
    readonly clientVersion: Message.WireVersion
    readonly configured: Message.WireVersion | "auto"
    readonly address?: string | undefined
  }) {
    super({ reason: "Read", cause: undefined })
    this.serverVersion = options.serverVersion
    this.clientVersion = options.clientVersion
    this.configured = options.configured
    this.address = options.address
  }
  override get message(): string {
    const server = `the server${
      this.address === undefined ? "" : ` at ${this.address}`
    } speaks RPyC ${this.serverVersion} (wire v${this.serverVersion})`
    if (this.configured !== "auto") {
      return `${server} but this client was set to wireVersion: ${this.configured}; use wireVersion: "auto" or ${this.serverVersion}`
    }
    if (this.address === undefined) {
      return `${server} but this client speaks wire v${this.clientVersion} (wireVersion "auto" can only probe TCP servers); use wireVersion: ${this.serverVersion}`
    }
    return `${server}, not the wire v${this.clientVersion} an earlier probe found (restarted?); connecting again probes anew, or use wireVersion: ${this.serverVersion}`
  }
}
Object.defineProperty(WireVersionMismatch.prototype, "name", {
  value: "WireVersionMismatch",
  writable: true,
  configurable: true
})

/** What a connection checks its server's first bytes against. */
interface VersionCheck {
  readonly expected: Message.WireVersion
  readonly configured: Message.WireVersion | "auto"
  /** The TCP endpoint, for messages and the probe cache. */
  readonly endpoint?: { readonly host: string; readonly port: number } | undefined
}

/**
 * `socket`, watching the server's first frame (PROTOCOL.md §10.3): a frame of the other dialect ends
 * `run` with {@link WireVersionMismatch} instead of reaching the engine, where it could only be a
 * protocol error. (A server of the other dialect answers our first request that way: Python 5.3 with
 * a v5 CLOSE, 6.x with a v6 CLOSE, and this package's servers with an explicit version likewise.)
 */
const watchWireVersion = (socket: Socket.Socket, check: VersionCheck): Socket.Socket => {
  const address = check.endpoint && Tcp.formatAddress(check.endpoint.host, check.endpoint.port)
  const mismatch = (serverVersion: Message.WireVersion) => {
    if (check.configured === "auto" && check.endpoint !== undefined) {
      // what an earlier probe found is out of date: the next connection probes again
      probed.delete(probeKey(check.endpoint.host, check.endpoint.port))
    }
    return new WireVersionMismatch({
      serverVersion,
      clientVersion: check.expected,
      configured: check.configured,
      address
    })
  }
  const run = <_, E, R>(
    handler: (_: Uint8Array) => Effect.Effect<_, E, R> | void,
    options?: { readonly onOpen?: Effect.Effect<void> | undefined }
  ): Effect.Effect<void, Socket.SocketError | E, R> =>
    Effect.suspend(() => {
      // the bytes received before the first frame's first payload byte; undefined once decided
      let head: Uint8Array | undefined = new Uint8Array(0)
      const onChunk = (chunk: Uint8Array): Effect.Effect<_, E | WireVersionMismatch, R> | void => {
        if (head === undefined) return handler(chunk)
        const bytes = head.length === 0 ? chunk : Dialect.concat(head, chunk)
        if (bytes.length < Dialect.HEAD_SIZE) {
          head = bytes
          return
        }
        head = undefined
        const other = Dialect.otherDialect(bytes, check.expected)
        // a failing handler Effect ends `run` with its error
        if (other !== undefined) return Effect.fail(mismatch(other))
        return handler(bytes)
      }
      const flush = Effect.suspend((): Effect.Effect<void, E, R> => {
        if (head === undefined || head.length === 0) return Effect.void
        // fewer bytes than a frame header before the end: the engine reports the truncated frame
        const rest = head
        head = undefined
        const result = handler(rest)
        return Effect.isEffect(result) ? Effect.asVoid(result) : Effect.void
      })
      return Effect.zipRight(socket.run(onChunk, options), flush)
    })
  const checked: Socket.Socket = { [Socket.TypeId]: Socket.TypeId, run, runRaw: socket.runRaw, writer: socket.writer }
  // what the transport can do (backpressure, half-close, a TLS record per frame) stays with it
  return StreamCapabilities.inherit(checked, socket)
}

// ---------------------------------------------------------------------------------------------
// connecting

const connectWithCheck = <Api>(
  socket: Socket.Socket,
  options: ConnectionOptions,
  check: VersionCheck
): Effect.Effect<Connection.Connection<Api>, Socket.SocketError | ConnectionClosed, Scope.Scope> =>
  Effect.gen(function*() {
    const wireVersion = check.expected
    const conn = yield* Service.makeConnection<Api>(
      watchWireVersion(socket, check),
      options.service ?? Service.VoidService,
      {
        config: options.config,
        wireVersion,
        maxFrameSize: options.maxFrameSize,
        side: "connecting",
        peer: check.endpoint && { address: Tcp.formatAddress(check.endpoint.host, check.endpoint.port) }
      }
    )
    if (wireVersion === 6) {
      // Speak first: an accepting peer that must send before hearing from us (a service whose
      // onConnect calls back) cannot tell v6 from v5 until we do, and assumes v5 after a second.
      yield* Effect.forkDaemon(Effect.ignore(RemoteOp.toEffect(conn.root)))
    }
    return conn
  })

/**
 * Runs a connection over an already-made Socket (RPyC's `connect_stream`). Nothing can be probed
 * here: `wireVersion` `"auto"` (the default) means 5. A server of the other dialect closes the
 * connection with {@link WireVersionMismatch} when its first frame arrives.
 *
 * @since 0.1.0 @category constructors
 */
export const connectSocket = <Api = any>(
  socket: Socket.Socket,
  options: ConnectionOptions = {}
): Effect.Effect<Connection.Connection<Api>, Socket.SocketError | ConnectionClosed, Scope.Scope> => {
  const configured = options.wireVersion ?? "auto"
  return connectWithCheck<Api>(socket, options, { expected: configured === "auto" ? 5 : configured, configured })
}

const hostOf = (options: ConnectOptions): string => options.host ?? Tcp.defaultHost(options.ipv6)

/**
 * Connects over TCP. With `wireVersion` `"auto"` (the default) the endpoint's dialect is probed once
 * per process ({@link probeWireVersion}). Fails with `Tcp.ConnectError` (a `Socket.SocketError`) when
 * the server cannot be reached, naming the address and the OS reason.
 *
 * @since 0.1.0 @category constructors
 */
export const connect = <Api = any>(
  options: ConnectOptions
): Effect.Effect<Connection.Connection<Api>, Socket.SocketError | ConnectionClosed, Scope.Scope> =>
  Effect.gen(function*() {
    const host = hostOf(options)
    const configured = options.wireVersion ?? "auto"
    const wireVersion = configured === "auto"
      ? yield* probeWireVersion(host, options.port, { ipv6: options.ipv6 })
      : configured
    const socket = yield* Tcp.connect({
      host,
      port: options.port,
      ipv6: options.ipv6,
      keepAlive: options.keepAlive,
      openTimeout: options.openTimeout ?? Duration.seconds(3)
    })
    return yield* connectWithCheck<Api>(socket, options, {
      expected: wireVersion,
      configured,
      endpoint: { host, port: options.port }
    })
  })

// ---------------------------------------------------------------------------------------------
// probing

/** Probe results per endpoint, for the life of the process. */
const probed = new Map<string, Message.WireVersion>()
/** Probes under way: concurrent first connections to an endpoint share one. */
const probing = new Map<string, Promise<Either.Either<Message.WireVersion, Tcp.ConnectError>>>()

const probeKey = (host: string, port: number): string => Tcp.formatAddress(host, port)

const PROBE_TIMEOUT_MILLIS = 3000

/**
 * The probe's frame: a v6 `PING("probe")` at seq 0 (PROTOCOL.md §10.3). Servers may recognise it
 * (the one-shot server does not spend its one connection on it).
 *
 * @since 0.1.0 @category wire version
 */
export const PROBE_FRAME: Uint8Array = Channel.encodeFrame(
  Message.encodePayload(6, Message.MsgType.REQUEST, 0, [Message.Handler.PING, [1, ["probe"]]])
)

/** One probe, not cached: a 6.x peer answers the v6 PING, a 5.x peer sends a v5 CLOSE and hangs up. */
const rawProbe = (
  host: string,
  port: number,
  ipv6?: boolean | undefined
): Effect.Effect<Message.WireVersion, Tcp.ConnectError> =>
  Effect.async<Message.WireVersion, Tcp.ConnectError>((resume) => {
    const address = Tcp.formatAddress(host, port)
    const decoder = new Channel.FrameDecoder({ maxFrameSize: 1 << 20 })
    const sock = Net.createConnection({ host, port, ...(ipv6 ? { family: 6 } : {}) })
    let settled = false
    let connected = false
    const settle = (effect: Effect.Effect<Message.WireVersion, Tcp.ConnectError>) => {
      if (settled) return
      settled = true
      sock.destroy()
      resume(effect)
    }
    const finish = (version: Message.WireVersion) => settle(Effect.succeed(version))
    sock.setTimeout(PROBE_TIMEOUT_MILLIS, () =>
      connected
        ? finish(5)
        : settle(Effect.fail(
          new Tcp.ConnectError({
            reason: "OpenTimeout",
            cause: new Error(`no connection after ${PROBE_TIMEOUT_MILLIS / 1000}s`),
            address
          })
        )))
    sock.once("connect", () => {
      connected = true
      sock.write(PROBE_FRAME)
    })
    sock.on("data", (chunk) => {
      try {
        for (const payload of decoder.push(chunk)) finish(payload[0] === 0x12 ? 5 : 6)
      } catch {
        finish(5)
      }
    })
    sock.once("end", () => finish(5))
    sock.once(
      "error",
      (cause) => connected ? finish(5) : settle(Effect.fail(new Tcp.ConnectError({ reason: "Open", cause, address })))
    )
    return Effect.sync(() => sock.destroy())
  })

/**
 * Finds out which dialect the server at `host:port` speaks: sends a v6 PING on a throw-away
 * connection; a 6.x peer answers with a v6 reply, a 5.x peer with a v5 frame before it hangs up
 * (EOF, an undecodable answer or 3 s of silence also mean 5). The answer is cached per endpoint for
 * the process, and concurrent first calls share one probe, so each endpoint is probed at most once.
 * Fails with `Tcp.ConnectError` when the server cannot be reached (not cached).
 *
 * @since 0.1.0 @category wire version
 */
export const probeWireVersion = (
  host: string,
  port: number,
  options: { readonly ipv6?: boolean | undefined } = {}
): Effect.Effect<Message.WireVersion, Socket.SocketError> =>
  Effect.suspend(() => {
    const key = probeKey(host, port)
    const known = probed.get(key)
    if (known !== undefined) return Effect.succeed(known)
    let pending = probing.get(key)
    if (pending === undefined) {
      // a Promise, not a fiber: it completes for every waiter even if the first one is interrupted
      pending = Effect.runPromise(Effect.either(rawProbe(host, port, options.ipv6))).then((result) => {
        probing.delete(key)
        if (Either.isRight(result)) probed.set(key, result.right)
        return result
      })
      probing.set(key, pending)
    }
    const promise = pending
    return Effect.async<Message.WireVersion, Socket.SocketError>((resume) => {
      promise.then((result) => resume(result))
    })
  })

/**
 * Options of {@link connectByService}.
 *
 * @since 0.1.0 @category models
 */
export interface ConnectByServiceOptions extends ConnectionOptions {
  /** Only servers on this host (a name is resolved), as RPyC's `host` argument. */
  readonly host?: string | undefined
  /** Which server to try first, and the failover order (`Selection`); default `"random"`. */
  readonly strategy?: Selection.Strategy | Selection.StrategyName | undefined
}

/**
 * Connects to a server of the named service found through the `Registrar` (RPyC's
 * `connect_by_service`): the first address that accepts a connection, in the order of the selection
 * `strategy` (random by default; `"ordered"` is RPyC's registry order); `DiscoveryError` when none is
 * registered or none can be reached (with what failed).
 *
 * @since 0.1.0 @category constructors
 */
export const connectByService = <Api = any>(
  name: string,
  options: ConnectByServiceOptions = {}
): Effect.Effect<
  Connection.Connection<Api>,
  Registry.DiscoveryError,
  RegistryClient.Registrar | Scope.Scope
> =>
  Effect.gen(function*() {
    const addresses = yield* RegistryClient.discover(name, { host: options.host })
    const strategy = Selection.resolve(options.strategy)
    const failures: Array<string> = []
    for (const address of yield* strategy.order(name, addresses)) {
      const attempt = yield* Effect.either(connect<Api>({ ...options, host: address.host, port: address.port }))
      if (attempt._tag === "Right") {
        yield* strategy.track(address, attempt.right)
        return attempt.right
      }
      const error = attempt.left
      failures.push(
        `${Registry.formatAddress(address)}: ${error instanceof Tcp.ConnectError ? error.why : error.message}`
      )
    }
    return yield* new Registry.DiscoveryError({ reason: "AllDown", service: name, failures })
  })

// ---------------------------------------------------------------------------------------------
// WebSocket

/**
 * Options of {@link connectWebSocket}: the connection options, the WebSocket's (`protocols`,
 * `openTimeout`, `maxBufferedBytes`) and, for `wss://`, the TLS material to trust or present
 * (`ca`/`cafile`, `cert`, `key`; `verify` and `checkHostname` default to true, as in browsers),
 * `headers` for the upgrade request and `maxMessageBytes`.
 *
 * @since 0.1.0 @category models
 */
export interface WebSocketConnectOptions
  extends ConnectionOptions, WebSocket.ConnectOptions, NodeWebSocket.ConstructorOptions
{}

/**
 * Connects over WebSocket (`ws://` or `wss://`) from Node: to a server made with
 * `Server.makeWebSocket`, or through `rpyc-gateway` to any RPyC server. Frames travel in binary
 * messages (PROTOCOL.md §7.5). A refused connection or upgrade (HTTP 403, 404…) fails with
 * `WebSocket.ConnectError` naming the URL (without its query). Nothing can be probed here:
 * `wireVersion` `"auto"` means 5; give 6 for an RPyC 6 server behind a gateway.
 *
 * @since 0.1.0 @category constructors
 */
export const connectWebSocket = <Api = any>(
  url: string,
  options: WebSocketConnectOptions = {}
): Effect.Effect<Connection.Connection<Api>, Socket.SocketError | ConnectionClosed, Scope.Scope> =>
  Effect.gen(function*() {
    const construct = yield* NodeWebSocket.makeConstructor(options).pipe(
      Effect.mapError((cause) =>
        new WebSocket.ConnectError({ reason: "Open", url: WebSocket.redactUrl(url), why: cause.message, cause })
      )
    )
    const socket = yield* WebSocket.connect(url, options).pipe(
      Effect.provideService(Socket.WebSocketConstructor, construct)
    )
    return yield* connectSocket<Api>(socket, options)
  })
