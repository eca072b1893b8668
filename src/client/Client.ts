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
import type { ConnectionClosed } from "../internal/base/Errors.js"
import type * as Connection from "../internal/engine/Engine.js"
import * as Channel from "../internal/wire/Channel.js"
import * as Message from "../internal/wire/Message.js"
import * as Registry from "../registry/Registry.js"
import * as RegistryClient from "../registry/RegistryClient.js"
import * as NodeWebSocket from "../transport/NodeWebSocket.js"
import * as Tcp from "../transport/Tcp.js"
import * as WebSocket from "../transport/WebSocket.js"
import * as Selection from "./Selection.js"
import * as SocketClient from "./SocketClient.js"
import { type ConnectionOptions, connectSocket, WireVersionMismatch } from "./SocketClient.js"

export {
  /** @since 0.1.0 @category models */
  type ConnectionOptions,
  /** @since 0.1.0 @category constructors */
  connectSocket,
  /** @since 0.1.0 @category errors */
  WireVersionMismatch
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
  Effect.suspend(() => {
    const host = hostOf(options)
    const configured = options.wireVersion ?? "auto"
    const connectAs = (wireVersion: Message.WireVersion) =>
      Effect.flatMap(
        Tcp.connect({
          host,
          port: options.port,
          ipv6: options.ipv6,
          keepAlive: options.keepAlive,
          openTimeout: options.openTimeout ?? OPEN_TIMEOUT
        }),
        (socket) =>
          SocketClient.connectWithCheck<Api>(socket, options, {
            expected: wireVersion,
            configured,
            address: Tcp.formatAddress(host, options.port),
            // what an earlier probe found is out of date: the next connection probes again
            onMismatch: configured === "auto" ? () => probed.delete(probeKey(host, options.port)) : undefined
          })
      )
    if (configured !== "auto") return connectAs(configured)
    // known endpoints (all but the first connection to each) go straight on
    const known = probed.get(probeKey(host, options.port))
    return known !== undefined
      ? connectAs(known)
      : Effect.flatMap(probeWireVersion(host, options.port, { ipv6: options.ipv6 }), connectAs)
  })

/** RPyC's connect timeout. */
const OPEN_TIMEOUT = Duration.seconds(3)

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
