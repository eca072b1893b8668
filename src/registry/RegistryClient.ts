/**
 * Registry clients ("registrars", PROTOCOL.md §8.3) over UDP and TCP, and the discovery helpers
 * built on them.
 *
 * ```ts
 * const program = Effect.gen(function*() {
 *   const servers = yield* RegistryClient.discover("CALC")     // DiscoveryError when none
 *   const names = yield* RegistryClient.listServices()         // ForbiddenError when listing is off
 * }).pipe(Effect.provide(RegistryClient.layerUdp({ host: "127.0.0.1" })))
 * ```
 *
 * The UDP registrar sends to 255.255.255.255 by default, as RPyC does, and turns `SO_BROADCAST` on when
 * a dotted part of the target is "255". Every operation uses a fresh socket, so a late reply to an
 * earlier request is never mistaken for the answer to a new one.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Schedule from "effect/Schedule"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as Dns from "node:dns"
import * as Net from "node:net"
import * as Udp from "../transport/Udp.js"
import type * as Redis from "./RedisOptions.js"
import * as Registry from "./Registry.js"

/**
 * A registrar: a client of a registry server, which registers RPC servers and looks them up. Also the
 * tag of the registrar service used by discovery helpers and by servers that auto-register.
 *
 * @since 0.1.0
 * @category models
 */
export interface Registrar extends Registry.RegistrarOperations {
  /** "UDP", "TCP", or "Redis" (`layerRedis`). */
  readonly mode: "UDP" | "TCP" | "Redis"
  /** Where requests go, e.g. `255.255.255.255:18811`. */
  readonly target: Registry.Address
  /**
   * How often a server registered through this registrar re-registers (`Server.autoRegister`).
   * Default `Registry.REREGISTER_INTERVAL` (60 s, as RPyC); the Redis registrar derives it from its TTL.
   */
  readonly reregisterInterval?: Duration.Duration | undefined
}

/**
 * The registrar service used by discovery helpers and by servers that auto-register.
 *
 * @since 0.1.0
 * @category tags
 */
export const Registrar: Context.Tag<Registrar, Registrar> = Context.GenericTag<Registrar>(
  "effect-rpyc/RegistryClient/Registrar"
)

/**
 * Options of the UDP registrar.
 *
 * @since 0.1.0
 * @category models
 */
export interface UdpOptions {
  /** Registry address: a unicast address, or a broadcast address. Default "255.255.255.255". */
  readonly host?: string | undefined
  /** Registry port. Default 18811. */
  readonly port?: number | undefined
  /** How long to wait for a reply. Default 2 seconds (RPyC's default). */
  readonly timeout?: Duration.DurationInput | undefined
  /**
   * Resend an unanswered request this often within `timeout` (UDP may drop datagrams; all requests are
   * idempotent). Default 500 ms. RPyC sends once.
   */
  readonly retryInterval?: Duration.DurationInput | undefined
  /** Force `SO_BROADCAST` on or off. Default: on when a dotted part of `host` is "255" (never for IPv6). */
  readonly broadcast?: boolean | undefined
  /** Use an IPv6 socket. Default: when `host` is an IPv6 literal. */
  readonly ipv6?: boolean | undefined
}

/**
 * Options of the TCP registrar.
 *
 * @since 0.1.0
 * @category models
 */
export interface TcpOptions {
  /** Registry host (required: TCP cannot broadcast). */
  readonly host: string
  /** Registry port. Default 18811. */
  readonly port?: number | undefined
  /** Time allowed for connecting, sending and receiving the reply. Default 2 seconds. */
  readonly timeout?: Duration.DurationInput | undefined
}

// ---------------------------------------------------------------------------------------------
// UDP

/**
 * Builds a UDP registrar. It holds no socket between operations, so it needs no scope.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeUdp = (options: UdpOptions = {}): Effect.Effect<Registrar> =>
  Effect.sync(() => {
    const host = options.host ?? Registry.BROADCAST_ADDRESS
    const port = options.port ?? Registry.REGISTRY_PORT
    const timeout = options.timeout ?? Duration.seconds(2)
    const retryInterval = options.retryInterval ?? Duration.millis(500)
    const ipv6 = options.ipv6 ?? Net.isIPv6(host)
    const broadcast = ipv6 ? false : options.broadcast ?? host.split(".").includes("255")
    const target = { host, port }
    const where = `${host}:${port}`

    const open = (iface?: string | undefined): Effect.Effect<Udp.UdpSocket, Registry.RegistryError, Scope.Scope> =>
      Effect.gen(function*() {
        const socket = yield* Udp.make({ type: ipv6 ? "udp6" : "udp4", address: iface || undefined }).pipe(
          Effect.mapError((e) =>
            new Registry.RegistryError({
              reason: "Bind",
              detail: `cannot open a UDP socket: ${String(e.cause)}`,
              cause: e
            })
          )
        )
        if (broadcast) {
          yield* socket.setBroadcast(true).pipe(
            Effect.mapError((e) =>
              new Registry.RegistryError({ reason: "Bind", detail: "cannot enable broadcast", cause: e })
            )
          )
        }
        return socket
      })

    const send = (socket: Udp.UdpSocket, bytes: Uint8Array) =>
      socket.send(bytes, port, host).pipe(
        Effect.mapError((e) =>
          new Registry.RegistryError({
            reason: "Send",
            detail: `cannot send to ${where}: ${String(e.cause)}`,
            cause: e
          })
        )
      )

    // sends a request and waits for the first reply from the registry port that `accept` takes
    const exchange = <A>(
      request: Registry.Request,
      accept: (data: Uint8Array) => Option.Option<A>,
      iface?: string | undefined
    ): Effect.Effect<A, Registry.RegistryError> =>
      Effect.gen(function*() {
        const socket = yield* open(iface)
        const bytes = Registry.encodeRequest(request)
        // the first send reports errors (e.g. EACCES without broadcast permission); resends are best effort
        yield* send(socket, bytes)
        yield* send(socket, bytes).pipe(
          Effect.ignore,
          Effect.repeat(Schedule.spaced(retryInterval)),
          Effect.delay(retryInterval),
          Effect.forkScoped
        )
        const reply = yield* socket.messages.pipe(
          // RPyC's register also insists on the registry port: other traffic to our port is not an answer
          Stream.filterMap((d) => d.port === port ? accept(d.data) : Option.none()),
          Stream.runHead,
          Effect.mapError((e) =>
            new Registry.RegistryError({
              reason: "Receive",
              detail: `UDP receive failed: ${String(e.cause)}`,
              cause: e
            })
          ),
          Effect.timeoutFail({
            duration: timeout,
            onTimeout: () =>
              new Registry.RegistryError({
                reason: "Timeout",
                detail: `no registry answered at ${where} within ${Duration.format(timeout)}`
              })
          })
        )
        return yield* Option.match(reply, {
          onNone: () => Effect.fail(new Registry.RegistryError({ reason: "Receive", detail: "UDP socket closed" })),
          onSome: Effect.succeed
        })
      }).pipe(Effect.scoped)

    const okOrNone = (data: Uint8Array): Option.Option<void> =>
      Registry.isOkReply(data) ? Option.some(undefined) : Option.none()

    return Registrar.of({
      mode: "UDP",
      target,
      register: (aliases, serverPort, iface) =>
        Effect.logDebug(`registering on ${where}`).pipe(
          Effect.zipRight(exchange(Registry.Request.Register({ aliases, port: serverPort }), okOrNone, iface)),
          Effect.mapError((e) =>
            e.reason === "Timeout"
              ? new Registry.RegistryError({
                reason: "NotAcknowledged",
                detail: `no registry acknowledged at ${where}`
              })
              : e
          ),
          Effect.tap(() => Effect.logDebug(`registry ${where} acknowledged`))
        ),
      unregister: (serverPort) =>
        Effect.logDebug(`unregistering from ${where}`).pipe(
          Effect.zipRight(
            Effect.scoped(
              Effect.flatMap(
                open(),
                (socket) => send(socket, Registry.encodeRequest(Registry.Request.Unregister({ port: serverPort })))
              )
            )
          )
        ),
      discover: (name) => exchange(Registry.Request.Query({ name }), Registry.decodeQueryReply),
      list: (filterHost) =>
        exchange(Registry.Request.List({ filterHost: filterHost ?? null }), Registry.decodeListReply)
    })
  })

/**
 * A layer providing a UDP {@link Registrar}.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerUdp = (options: UdpOptions = {}): Layer.Layer<Registrar> => Layer.effect(Registrar, makeUdp(options))

// ---------------------------------------------------------------------------------------------
// TCP

/**
 * Builds a TCP registrar: one connection per operation, as RPyC does.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeTcp = (options: TcpOptions): Effect.Effect<Registrar> =>
  Effect.sync(() => {
    const host = options.host
    const port = options.port ?? Registry.REGISTRY_PORT
    const timeout = options.timeout ?? Duration.seconds(2)
    const target = { host, port }
    const where = `${host}:${port}`

    const exchange = <A>(
      request: Registry.Request,
      accept: (data: Uint8Array) => Option.Option<A>,
      iface?: string | undefined
    ): Effect.Effect<A, Registry.RegistryError> =>
      tcpExchange({ host, port, localAddress: iface || undefined }, Registry.encodeRequest(request)).pipe(
        Effect.timeoutFail({
          duration: timeout,
          onTimeout: () =>
            new Registry.RegistryError({
              reason: "Timeout",
              detail: `registry ${where} did not answer within ${Duration.format(timeout)}`
            })
        }),
        Effect.flatMap((data) =>
          Option.match(accept(data), {
            onNone: () =>
              Effect.fail(
                new Registry.RegistryError({ reason: "BadReply", detail: `unexpected reply from registry ${where}` })
              ),
            onSome: Effect.succeed
          })
        )
      )

    return Registrar.of({
      mode: "TCP",
      target,
      register: (aliases, serverPort, iface) =>
        Effect.logDebug(`registering on ${where}`).pipe(
          Effect.zipRight(exchange(Registry.Request.Register({ aliases, port: serverPort }), Option.some, iface)),
          Effect.flatMap((data) =>
            Registry.isOkReply(data)
              ? Effect.logDebug(`registry ${where} acknowledged`)
              : Effect.fail(
                new Registry.RegistryError({ reason: "NotAcknowledged", detail: `registry ${where} did not say OK` })
              )
          )
        ),
      // the registry closes without a reply only when it rejects the request; any reply will do here
      unregister: (serverPort) =>
        Effect.logDebug(`unregistering from ${where}`).pipe(
          Effect.zipRight(exchange(Registry.Request.Unregister({ port: serverPort }), Option.some)),
          Effect.asVoid
        ),
      discover: (name) => exchange(Registry.Request.Query({ name }), Registry.decodeQueryReply),
      list: (filterHost) =>
        exchange(Registry.Request.List({ filterHost: filterHost ?? null }), Registry.decodeListReply)
    })
  })

/**
 * A layer providing a TCP {@link Registrar}.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerTcp = (options: TcpOptions): Layer.Layer<Registrar> => Layer.effect(Registrar, makeTcp(options))

// one connection: send the request, read until a whole brine value, 1500 bytes or end of stream
const tcpExchange = (
  connect: { readonly host: string; readonly port: number; readonly localAddress: string | undefined },
  request: Uint8Array
): Effect.Effect<Uint8Array, Registry.RegistryError> =>
  Effect.async<Uint8Array, Registry.RegistryError>((resume) => {
    const where = `${connect.host}:${connect.port}`
    let connected = false
    let done = false
    let buf: Buffer = Buffer.alloc(0)
    const conn = Net.createConnection(
      connect.localAddress === undefined
        ? { host: connect.host, port: connect.port }
        : { host: connect.host, port: connect.port, localAddress: connect.localAddress }
    )
    const finish = () => {
      if (done) return
      done = true
      conn.destroy()
      if (buf.length === 0) {
        resume(
          Effect.fail(
            new Registry.RegistryError({ reason: "BadReply", detail: `registry ${where} closed without a reply` })
          )
        )
      } else resume(Effect.succeed(buf))
    }
    conn.once("connect", () => {
      connected = true
      conn.write(request)
    })
    conn.on("data", (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk])
      if (buf.length >= Registry.MAX_DGRAM_SIZE * 10 || Registry.isComplete(buf)) finish()
    })
    conn.once("end", finish)
    conn.on("error", (cause) => {
      if (done) return
      done = true
      conn.destroy()
      resume(
        Effect.fail(
          new Registry.RegistryError({
            reason: connected ? "Receive" : "Connect",
            detail: `${connected ? "connection to" : "cannot connect to"} registry ${where}: ${cause.message}`,
            cause
          })
        )
      )
    })
    return Effect.sync(() => conn.destroy())
  })

// ---------------------------------------------------------------------------------------------
// Redis

/**
 * Options of the Redis registrar ({@link layerRedis}): `url`, `prefix`, `timeout`, `ttl`,
 * `refreshInterval`, `host`. `RedisRegistry.make` also takes an ioredis client or client options.
 *
 * @since 0.1.0
 * @category models
 */
export interface RedisOptions extends Redis.RegistrarOptions {}

/**
 * Builds a registrar on Redis (`RedisRegistry.make`: entries with a TTL, refreshed by the servers
 * that register, removed when they close). `ioredis` is loaded only when this runs.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeRedis = (options: RedisOptions = {}): Effect.Effect<Registrar, never, Scope.Scope> =>
  Effect.promise(() => import("./RedisRegistry.js")).pipe(Effect.flatMap((redis) => redis.make(options)))

/**
 * A layer providing a Redis {@link Registrar} (see {@link makeRedis}).
 *
 * @since 0.1.0
 * @category layers
 */
export const layerRedis = (options: RedisOptions = {}): Layer.Layer<Registrar> =>
  Layer.scoped(Registrar, makeRedis(options))

// ---------------------------------------------------------------------------------------------
// helpers

/**
 * Options of {@link discover}.
 *
 * @since 0.1.0
 * @category models
 */
export interface DiscoverOptions {
  /** Keep only servers on this host (a name is resolved to its addresses), as RPyC's `discover(name, host)`. */
  readonly host?: string | undefined
}

/**
 * The servers of a service through the {@link Registrar}, oldest registration first. Fails with
 * `DiscoveryError` ("NotFound") when the registry knows none (after the host filter), or
 * ("Unreachable") when no registry could be asked.
 *
 * @since 0.1.0
 * @category discovery
 */
export const discover = (
  name: string,
  options: DiscoverOptions = {}
): Effect.Effect<ReadonlyArray<Registry.Address>, Registry.DiscoveryError, Registrar> =>
  Effect.gen(function*() {
    const registrar = yield* Registrar
    let servers = yield* registrar.discover(name).pipe(
      Effect.mapError((cause) => new Registry.DiscoveryError({ reason: "Unreachable", service: name, cause }))
    )
    if (options.host !== undefined) {
      const ips = yield* resolveAll(options.host).pipe(
        Effect.mapError((cause) => new Registry.DiscoveryError({ reason: "NotFound", service: name, cause }))
      )
      servers = servers.filter((s) => ips.includes(s.host))
    }
    if (servers.length === 0) {
      return yield* Effect.fail(new Registry.DiscoveryError({ reason: "NotFound", service: name }))
    }
    return servers
  })

const resolveAll = (host: string): Effect.Effect<ReadonlyArray<string>, Error> =>
  Net.isIP(host) !== 0
    ? Effect.succeed([host])
    : Effect.tryPromise({
      try: () => Dns.promises.lookup(host, { all: true }),
      catch: (e) => e instanceof Error ? e : new Error(String(e))
    }).pipe(Effect.map((all) => all.map((a) => a.address)))

/**
 * The names of the registered services through the {@link Registrar} (RPyC's `list_services`).
 * Fails with `ForbiddenError` when the registry has listing disabled.
 *
 * @since 0.1.0
 * @category discovery
 */
export const listServices = (
  filterHost?: string | undefined
): Effect.Effect<ReadonlyArray<string>, Registry.ForbiddenError | Registry.RegistryError, Registrar> =>
  Effect.flatMap(Registrar, (registrar) => registrar.list(filterHost)).pipe(
    Effect.flatMap(Option.match({
      onNone: () => Effect.fail(new Registry.ForbiddenError({ reason: "ListingDisabled" })),
      onSome: Effect.succeed
    }))
  )
