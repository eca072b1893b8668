/**
 * Connecting to an RPyC server (RPyC's `rpyc.connect` and `connect_stream`).
 *
 * Each constructor is a scoped Effect: the connection lives until the scope closes (or
 * `conn.close()`). The Promise helpers in the package index wrap these for scripts.
 *
 * The connecting side has to pick the envelope dialect before it hears from the server:
 * `wireVersion` defaults to 5 (Python RPyC 5.x, what Debian and most installs ship); 6 speaks RPyC
 * 6.x; `"auto"` probes the endpoint once with a v6 PING on a throw-away connection and remembers
 * the answer (a 5.x server logs a traceback for the probe).
 *
 * @since 0.1.0
 */
import * as Socket from "@effect/platform/Socket"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import * as Net from "node:net"
import type * as Config from "../internal/base/Config.js"
import type { ConnectionClosed } from "../internal/base/Errors.js"
import type * as Connection from "../internal/engine/Engine.js"
import * as RemoteOp from "../internal/netref/RemoteOp.js"
import * as Channel from "../internal/wire/Channel.js"
import * as Message from "../internal/wire/Message.js"
import * as Registry from "../registry/Registry.js"
import * as RegistryClient from "../registry/RegistryClient.js"
import * as Service from "../service/Service.js"
import * as Tcp from "../transport/Tcp.js"

/**
 * Options shared by every way of connecting.
 *
 * @since 0.1.0 @category models
 */
export interface ConnectionOptions {
  /** The service this side exposes to the peer (default `VoidService`). */
  readonly service?: Service.ServiceSpec | undefined
  readonly config?: Config.ConfigInput | undefined
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

/**
 * Runs a connection over an already-made Socket (RPyC's `connect_stream`).
 *
 * @since 0.1.0 @category constructors
 */
export const connectSocket = <Api = any>(
  socket: Socket.Socket,
  options: ConnectionOptions = {}
): Effect.Effect<Connection.Connection<Api>, Socket.SocketError | ConnectionClosed, Scope.Scope> =>
  Effect.gen(function*() {
    const wireVersion = options.wireVersion === "auto" || options.wireVersion === undefined ? 5 : options.wireVersion
    const conn = yield* Service.makeConnection<Api>(socket, options.service ?? Service.VoidService, {
      config: options.config,
      wireVersion,
      maxFrameSize: options.maxFrameSize
    })
    if (wireVersion === 6) {
      // Speak first: an accepting peer that must send before hearing from us (a service whose
      // onConnect calls back) cannot tell v6 from v5 until we do, and assumes v5 after a second.
      yield* Effect.forkDaemon(Effect.ignore(RemoteOp.toEffect(conn.root)))
    }
    return conn
  })

const hostOf = (options: ConnectOptions): string => options.host ?? Tcp.defaultHost(options.ipv6)

/**
 * Connects over TCP.
 *
 * @since 0.1.0 @category constructors
 */
export const connect = <Api = any>(
  options: ConnectOptions
): Effect.Effect<Connection.Connection<Api>, Socket.SocketError | ConnectionClosed, Scope.Scope> =>
  Effect.gen(function*() {
    const wireVersion = options.wireVersion === "auto"
      ? yield* probeWireVersion(hostOf(options), options.port)
      : options.wireVersion ?? 5
    const socket = yield* Tcp.connect({
      host: hostOf(options),
      port: options.port,
      ipv6: options.ipv6,
      keepAlive: options.keepAlive,
      openTimeout: options.openTimeout ?? Duration.seconds(3)
    })
    return yield* connectSocket<Api>(socket, { ...options, wireVersion })
  })

const probed = new Map<string, Message.WireVersion>()

/**
 * Finds out which dialect the server at `host:port` speaks (cached per endpoint): sends a v6 PING
 * on a throw-away connection; a 6.x peer answers with a v6 reply, a 5.x peer with a v5 frame
 * before it hangs up.
 *
 * @since 0.1.0 @category wire version
 */
export const probeWireVersion = (host: string, port: number): Effect.Effect<Message.WireVersion, Socket.SocketError> =>
  Effect.suspend(() => {
    const key = `${host}:${port}`
    const known = probed.get(key)
    if (known !== undefined) return Effect.succeed(known)
    return Effect.async<Message.WireVersion, Socket.SocketError>((resume) => {
      const decoder = new Channel.FrameDecoder({ maxFrameSize: 1 << 20 })
      const sock = Net.createConnection({ host, port })
      let settled = false
      const finish = (version: Message.WireVersion) => {
        if (settled) return
        settled = true
        probed.set(key, version)
        sock.destroy()
        resume(Effect.succeed(version))
      }
      sock.setTimeout(3000, () => finish(5))
      sock.once("connect", () => {
        sock.write(
          Channel.encodeFrame(
            Message.encodePayload(6, Message.MsgType.REQUEST, 0, [Message.Handler.PING, [1, ["probe"]]])
          )
        )
      })
      sock.on("data", (chunk) => {
        try {
          for (const payload of decoder.push(chunk)) finish(payload[0] === 0x12 ? 5 : 6)
        } catch {
          finish(5)
        }
      })
      sock.once("end", () => finish(5))
      sock.once("error", (cause) => {
        if (settled) return
        settled = true
        sock.destroy()
        resume(Effect.fail(new Socket.SocketGenericError({ reason: "Open", cause })))
      })
      return Effect.sync(() => sock.destroy())
    })
  })

/**
 * Connects to a server of the named service found through the `Registrar` (RPyC's
 * `connect_by_service`): the first address that accepts a connection, in the registry's order;
 * `DiscoveryError` when none is registered or none can be reached (with what failed).
 *
 * @since 0.1.0 @category constructors
 */
export const connectByService = <Api = any>(
  name: string,
  options: ConnectionOptions & { readonly host?: string | undefined } = {}
): Effect.Effect<
  Connection.Connection<Api>,
  Registry.DiscoveryError,
  RegistryClient.Registrar | Scope.Scope
> =>
  Effect.gen(function*() {
    const addresses = yield* RegistryClient.discover(name, { host: options.host })
    const failures: Array<string> = []
    for (const address of addresses) {
      const attempt = yield* Effect.either(connect<Api>({ ...options, host: address.host, port: address.port }))
      if (attempt._tag === "Right") return attempt.right
      failures.push(`${Registry.formatAddress(address)}: ${attempt.left.message}`)
    }
    return yield* new Registry.DiscoveryError({ reason: "AllDown", name, failures })
  })
