/**
 * Registry servers speaking RPyC's registry protocol (PROTOCOL.md §8) over UDP and TCP, and the
 * in-memory registry they share.
 *
 * ```ts
 * const server = yield* RegistryServer.makeUdpServer({ port: 0, allowListing: true }) // scoped
 * console.log(server.address) // { host: "127.0.0.1", port: 41234 }
 * ```
 *
 * Servers bind `Tcp.DEFAULT_HOST` (127.0.0.1) unless `host` is given. To serve a network pass
 * `host: "0.0.0.0"` (every IPv4 interface; needed to hear UDP broadcasts from other machines) or
 * `host: "::"` (every interface, dual stack).
 *
 * Time comes from Effect's `Clock`, so `TestClock` drives pruning in tests.
 *
 * @since 0.1.0
 */
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as FiberSet from "effect/FiberSet"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as Net from "node:net"
import * as Brine from "../internal/wire/Brine.js"
import * as Logging from "../Logging.js"
import * as Tcp from "../transport/Tcp.js"
import * as Udp from "../transport/Udp.js"
import * as Registry from "./Registry.js"

// ---------------------------------------------------------------------------------------------
// the registry itself

/**
 * One server of a service, with the time of its last keep-alive (epoch milliseconds, from `Clock`).
 *
 * @since 0.1.0
 * @category models
 */
export interface Entry {
  readonly address: Registry.Address
  readonly lastSeen: number
}

/**
 * Options of the in-memory registry.
 *
 * @since 0.1.0
 * @category models
 */
export interface StateOptions {
  /** Entries whose last keep-alive is older than this are dropped. Default 240 seconds. */
  readonly pruningTimeout?: Duration.DurationInput | undefined
  /** Answer LIST with the service names; when false (the default) LIST is answered with `None`. */
  readonly allowListing?: boolean | undefined
  /** Called when a server joins a service (not on keep-alives); RPyC's `on_service_added`. */
  readonly onServiceAdded?: ((name: string, address: Registry.Address) => Effect.Effect<void>) | undefined
  /** Called when a server leaves a service (unregistered or pruned); RPyC's `on_service_removed`. */
  readonly onServiceRemoved?: ((name: string, address: Registry.Address) => Effect.Effect<void>) | undefined
}

/**
 * The registry's table: service name → servers. Every operation is an Effect that reads the time
 * from `Clock`.
 *
 * @since 0.1.0
 * @category models
 */
export interface RegistryState {
  /** Answers one request coming from `sourceHost`: the value to send back. */
  readonly handle: (request: Registry.Request, sourceHost: string) => Effect.Effect<Brine.Value>
  /** Records `(host, port)` under each alias (upper-cased), refreshing existing entries. */
  readonly register: (host: string, aliases: ReadonlyArray<string>, port: number) => Effect.Effect<void>
  /** Removes `(host, port)` from every service. */
  readonly unregister: (host: string, port: number) => Effect.Effect<void>
  /** The live servers of a service, oldest keep-alive first; stale ones are pruned first. */
  readonly query: (name: string) => Effect.Effect<ReadonlyArray<Registry.Address>>
  /** Service names (only those with a server on `filterHost` when given); `None` when listing is off. */
  readonly list: (filterHost?: string | null | undefined) => Effect.Effect<Option.Option<ReadonlyArray<string>>>
  /** Drops every entry older than the pruning timeout. */
  readonly prune: Effect.Effect<void>
  /** A copy of the whole table, without pruning. */
  readonly snapshot: Effect.Effect<ReadonlyMap<string, ReadonlyArray<Entry>>>
  /** The pruning timeout in use. */
  readonly pruningTimeout: Duration.Duration
  /** Whether LIST is answered. */
  readonly allowListing: boolean
}

/**
 * What a registry's table does, from which {@link fromTable} makes its state: the operations of
 * {@link RegistryState} but `handle` and `list`, and the service names to list.
 *
 * @since 0.1.0
 * @category models
 */
export interface Table extends Omit<RegistryState, "handle" | "list"> {
  /** Service names (only those with a server on `filterHost` when given); asked only when listing is on. */
  readonly names: (filterHost?: string | null | undefined) => Effect.Effect<ReadonlyArray<string>>
}

/**
 * The state of a registry over `table` (in memory here, in Redis in `RedisRegistry.makeState`):
 * requests are answered with its operations, and LIST says `None` unless `allowListing` is on.
 *
 * @since 0.1.0
 * @category constructors
 */
export const fromTable = (table: Table): RegistryState => {
  const list = (filterHost?: string | null | undefined): Effect.Effect<Option.Option<ReadonlyArray<string>>> =>
    Effect.gen(function*() {
      yield* Effect.logDebug("querying for services list:")
      if (!table.allowListing) {
        yield* Effect.logDebug("listing is disabled")
        return Option.none()
      }
      return Option.some(yield* table.names(filterHost))
    })
  const { names: _names, ...operations } = table
  return {
    ...operations,
    list,
    handle: (request, sourceHost) =>
      Registry.Request.$match(request, {
        Register: ({ aliases, port }) => Effect.as(table.register(sourceHost, aliases, port), Registry.OK),
        Unregister: ({ port }) => Effect.as(table.unregister(sourceHost, port), Registry.OK),
        Query: ({ name }) => Effect.map(table.query(name), Registry.queryReplyValue),
        List: ({ filterHost }) => Effect.map(list(filterHost), Registry.listReplyValue)
      })
  }
}

const key = (host: string, port: number): string => `${host}\u0000${port}`

const pyAddr = (a: Registry.Address): string => `(${Registry.pyRepr(a.host)}, ${a.port})`
const pyTuple = (items: ReadonlyArray<string>): string =>
  items.length === 1 ? `(${items[0]},)` : `(${items.join(", ")})`

/**
 * Makes an empty registry.
 *
 * Differences from RPyC, on purpose: LIST prunes stale entries too (RPyC lists services whose servers
 * all timed out long ago, which QUERY would then never return), and `onServiceRemoved` is called only
 * for entries that really existed.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeState = (options: StateOptions = {}): Effect.Effect<RegistryState> =>
  Effect.sync(() => {
    const pruningTimeout = Duration.decode(options.pruningTimeout ?? Registry.DEFAULT_PRUNING_TIMEOUT)
    const timeoutMillis = Duration.toMillis(pruningTimeout)
    const allowListing = options.allowListing ?? false
    // Map keeps insertion order and a refresh keeps an entry's position, like Python's dict: with equal
    // timestamps the sort below is stable, so ties come out in registration order as in RPyC
    const services = new Map<string, Map<string, Entry>>()

    const hook = (
      f: ((name: string, address: Registry.Address) => Effect.Effect<void>) | undefined,
      name: string,
      address: Registry.Address,
      what: string
    ): Effect.Effect<void> =>
      f === undefined
        ? Effect.void
        : Effect.suspend(() => f(name, address)).pipe(
          Effect.catchAllCause((cause) => Effect.logError(`error executing service ${what} callback`, cause))
        )

    // removes an entry; returns the hook to run (the table is updated synchronously, hooks run after)
    const removeEntry = (name: string, k: string): Effect.Effect<void> => {
      const entries = services.get(name)
      const entry = entries?.get(k)
      if (entries === undefined || entry === undefined) return Effect.void
      entries.delete(k)
      if (entries.size === 0) services.delete(name)
      return hook(options.onServiceRemoved, name, entry.address, "remove")
    }

    const register = (host: string, aliases: ReadonlyArray<string>, port: number): Effect.Effect<void> =>
      Effect.gen(function*() {
        yield* Effect.logDebug(`registering ${host}:${port} as ${aliases.join(", ")}`)
        const now = yield* Clock.currentTimeMillis
        const added: Array<Effect.Effect<void>> = []
        for (const alias of aliases) {
          const name = alias.toUpperCase()
          let entries = services.get(name)
          if (entries === undefined) {
            entries = new Map()
            services.set(name, entries)
          }
          const k = key(host, port)
          const isNew = !entries.has(k)
          const address = { host, port }
          entries.set(k, { address, lastSeen: now })
          if (isNew) added.push(hook(options.onServiceAdded, name, address, "add"))
        }
        yield* Effect.all(added, { discard: true })
      })

    const unregister = (host: string, port: number): Effect.Effect<void> =>
      Effect.gen(function*() {
        yield* Effect.logDebug(`unregistering ${host}:${port}`)
        const k = key(host, port)
        const removed = Array.from(services.keys(), (name) => removeEntry(name, k))
        yield* Effect.all(removed, { discard: true })
      })

    // drops the stale entries of one service, returning the live ones oldest first. The table is changed
    // without yielding in between, so concurrent requests (TCP) never see or undo half a prune
    const pruneService = (name: string, now: number): Effect.Effect<ReadonlyArray<Registry.Address>> =>
      Effect.suspend(() => {
        const entries = services.get(name)
        if (entries === undefined) return Effect.succeed([])
        const oldest = now - timeoutMillis
        const sorted = Array.from(entries.entries()).sort((a, b) => a[1].lastSeen - b[1].lastSeen)
        const live: Array<Registry.Address> = []
        const effects: Array<Effect.Effect<void>> = []
        for (const [k, entry] of sorted) {
          // strictly older, as RPyC's `t < oldest`: an entry exactly `timeout` old is still served
          if (entry.lastSeen < oldest) {
            effects.push(Effect.logDebug(`discarding stale ${entry.address.host}:${entry.address.port}`))
            effects.push(removeEntry(name, k))
          } else {
            live.push(entry.address)
          }
        }
        return Effect.as(Effect.all(effects, { discard: true }), live)
      })

    const query = (name: string): Effect.Effect<ReadonlyArray<Registry.Address>> =>
      Effect.gen(function*() {
        const upper = name.toUpperCase()
        yield* Effect.logDebug(`querying for ${Registry.pyRepr(upper)}`)
        if (!services.has(upper)) {
          yield* Effect.logDebug("no such service")
          return []
        }
        const live = yield* pruneService(upper, yield* Clock.currentTimeMillis)
        yield* Effect.logDebug(`replying with [${live.map(pyAddr).join(", ")}]`)
        return live
      })

    const prune: Effect.Effect<void> = Effect.gen(function*() {
      const now = yield* Clock.currentTimeMillis
      for (const name of Array.from(services.keys())) yield* pruneService(name, now)
    })

    const names = (filterHost?: string | null | undefined): Effect.Effect<ReadonlyArray<string>> =>
      Effect.gen(function*() {
        yield* prune
        const names: Array<string> = []
        for (const [name, entries] of services) {
          if (!filterHost) names.push(name)
          else {
            for (const entry of entries.values()) {
              if (entry.address.host === filterHost) {
                names.push(name)
                break
              }
            }
          }
        }
        yield* Effect.logDebug(`replying with ${pyTuple(names.map(Registry.pyRepr))}`)
        return names
      })

    const snapshot = Effect.sync((): ReadonlyMap<string, ReadonlyArray<Entry>> =>
      new Map(Array.from(services, ([name, entries]) => [name, Array.from(entries.values())]))
    )

    return fromTable({ register, unregister, query, names, prune, snapshot, pruningTimeout, allowListing })
  })

/**
 * Decodes one raw request and answers it. `None` means "send nothing": the bytes were not a valid
 * request (RPyC also stays silent then). Never fails.
 *
 * @since 0.1.0
 * @category combinators
 */
export const handleBytes = (
  state: RegistryState,
  bytes: Uint8Array,
  sourceHost: string
): Effect.Effect<Option.Option<Uint8Array>> =>
  Effect.gen(function*() {
    const parsed = parseRequest(bytes)
    if (Either.isLeft(parsed)) {
      const problem = parsed.left
      // warnings for the cases RPyC warns about; plain garbage is only worth a debug line
      yield* problem.startsWith("invalid magic") || problem.startsWith("unknown command")
        ? Effect.logWarning(problem)
        : Effect.logDebug(`ignoring request from ${sourceHost}: ${problem}`)
      return Option.none()
    }
    const reply = yield* state.handle(parsed.right, sourceHost)
    return Option.some(Brine.encode(reply))
  }).pipe(
    // a failing hook or an unencodable reply must not take the server down
    Effect.catchAllCause((cause) =>
      Effect.as(Effect.logError("error executing function", cause), Option.none<Uint8Array>())
    )
  )

// tells why a request is ignored, for the log; decodeRequest gives the same verdict without reasons
const parseRequest = (bytes: Uint8Array): Either.Either<Registry.Request, string> => {
  let value: Brine.Value
  try {
    value = Brine.decode(bytes)
  } catch (error) {
    return Either.left(`undecodable: ${error instanceof Error ? error.message : String(error)}`)
  }
  if (!Array.isArray(value) || value.length !== 3) return Either.left("not a 3-tuple")
  const [magic, command] = value as ReadonlyArray<Brine.Value>
  if (magic !== Registry.MAGIC) {
    return Either.left(`invalid magic: ${typeof magic === "string" ? Registry.pyRepr(magic) : describe(magic)}`)
  }
  if (typeof command !== "string") return Either.left(`unknown command: ${describe(command)}`)
  if (!["REGISTER", "UNREGISTER", "QUERY", "LIST"].includes(command.toUpperCase())) {
    return Either.left(`unknown command: ${Registry.pyRepr(command)}`)
  }
  return Either.fromOption(Registry.requestFromValue(value), () => `bad arguments for ${command.toUpperCase()}`)
}

const describe = (v: Brine.Value): string =>
  v === null ? "None" : v instanceof Uint8Array ? `bytes[${v.length}]` : Array.isArray(v) ? "tuple" : typeof v

/**
 * Strips the `::ffff:` prefix of IPv4-mapped IPv6 addresses (what a dual-stack socket reports for IPv4
 * peers), so that a server reached over IPv4 is registered under its IPv4 address.
 *
 * @since 0.1.0
 * @category utils
 */
export const normalizeHost = (host: string): string =>
  host.toLowerCase().startsWith("::ffff:") && Net.isIPv4(host.slice(7)) ? host.slice(7) : host

// ---------------------------------------------------------------------------------------------
// servers

/**
 * A running registry server.
 *
 * @since 0.1.0
 * @category models
 */
export interface Server {
  readonly mode: "UDP" | "TCP"
  /** The bound address (the real port when port 0 was asked for). */
  readonly address: Registry.Address
  /** The registry table this server answers from. */
  readonly state: RegistryState
}

/**
 * A running registry server as a service (see {@link layerUdpServer}, {@link layerTcpServer}).
 *
 * @since 0.1.0
 * @category tags
 */
export class RegistryServer
  extends Context.Tag("effect-rpyc/RegistryServer/RegistryServer")<RegistryServer, Server>()
{}

/**
 * Options of the UDP and TCP servers.
 *
 * @since 0.1.0
 * @category models
 */
export interface ServerOptions extends StateOptions {
  /** Address to bind. Default `Tcp.DEFAULT_HOST` ("127.0.0.1"); "0.0.0.0" or "::" to serve every interface. */
  readonly host?: string | undefined
  /** Port to bind. Default 18811; 0 picks a free port (read it back from `address`). */
  readonly port?: number | undefined
  /** Bind an IPv6 socket even if `host` is not an IPv6 literal (UDP only). */
  readonly ipv6?: boolean | undefined
  /** Answer from this table instead of a new one: lets a UDP and a TCP server share registrations. */
  readonly state?: RegistryState | undefined
}

/**
 * Options of the TCP server.
 *
 * @since 0.1.0
 * @category models
 */
export interface TcpServerOptions extends ServerOptions {
  /**
   * Time a client has to send its request and take the reply, after which the connection is dropped.
   * Default 3 seconds (RPyC's TCP server timeout). Keeps half-open and slow clients from piling up.
   */
  readonly connectionTimeout?: Duration.DurationInput | undefined
  /** Connections served at once; further ones are refused by Node. Default 256. */
  readonly maxConnections?: number | undefined
}

const bindError = (what: string, cause: unknown) =>
  new Registry.RegistryError({ reason: "Bind", detail: `cannot bind the ${what} registry: ${String(cause)}`, cause })

/**
 * Starts a UDP registry server; it stops when the scope closes. Each datagram (truncated to 1500 bytes,
 * as RPyC reads it) is one request; the reply goes back to the sender. Datagrams that are not valid
 * requests are ignored.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeUdpServer = (
  options: ServerOptions = {}
): Effect.Effect<Server, Registry.RegistryError, Scope.Scope> =>
  Effect.gen(function*() {
    const host = options.host ?? Tcp.DEFAULT_HOST
    const state = options.state ?? (yield* makeState(options))
    const socket = yield* Udp.make({
      type: options.ipv6 === true || Net.isIPv6(host) ? "udp6" : "udp4",
      address: host,
      port: options.port ?? Registry.REGISTRY_PORT
    }).pipe(Effect.mapError((e) => bindError("UDP", e.cause)))
    const address = { host: socket.address.address, port: socket.address.port }
    const annotate = Effect.annotateLogs(Logging.LOGGER_NAME, `REGSRV/UDP/${address.port}`)

    const serveDatagram = (d: Udp.Datagram): Effect.Effect<void> =>
      Effect.gen(function*() {
        const data = d.data.length > Registry.MAX_DGRAM_SIZE ? d.data.subarray(0, Registry.MAX_DGRAM_SIZE) : d.data
        const reply = yield* handleBytes(state, data, normalizeHost(d.address))
        if (Option.isSome(reply)) {
          // RPyC ignores send failures too (e.g. a spoofed or vanished source)
          yield* socket.send(reply.value, d.port, d.address).pipe(
            Effect.catchAll((e) => Effect.logDebug(`cannot reply to ${d.address}:${d.port}: ${e.message}`))
          )
        }
      })

    yield* Effect.addFinalizer(() => annotate(Effect.logDebug("server closed")))
    // one request at a time, in arrival order, as RPyC's loop does: the table needs no locking
    yield* socket.messages.pipe(
      Stream.runForEach(serveDatagram),
      Effect.catchAllCause((cause) =>
        Cause.isInterruptedOnly(cause) ? Effect.void : Effect.logError("UDP registry socket failed", cause)
      ),
      annotate,
      Effect.forkScoped
    )
    yield* annotate(Effect.logDebug(`server started on ${address.host}:${address.port}`))
    return { mode: "UDP" as const, address, state }
  })

/**
 * Starts a TCP registry server; it stops when the scope closes. Each connection carries one request
 * (read until a whole brine value has arrived, 1500 bytes, or end of stream) and gets one reply, then
 * is closed. Connections that send no valid request within `connectionTimeout` are dropped.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeTcpServer = (
  options: TcpServerOptions = {}
): Effect.Effect<Server, Registry.RegistryError, Scope.Scope> =>
  Effect.gen(function*() {
    const host = options.host ?? Tcp.DEFAULT_HOST
    const state = options.state ?? (yield* makeState(options))
    const connectionTimeout = options.connectionTimeout ?? Duration.seconds(3)
    const sockets = new Set<Net.Socket>()

    // node:net directly rather than NodeSocketServer: a one-shot exchange must still be able to reply
    // after the client half-closes (FIN), which @effect/platform's Socket does not allow
    const server = yield* Effect.acquireRelease(
      Effect.async<Net.Server, Registry.RegistryError>((resume) => {
        const server = Net.createServer({ allowHalfOpen: true })
        const onError = (cause: Error) => resume(Effect.fail(bindError("TCP", cause)))
        server.once("error", onError)
        server.listen({ host, port: options.port ?? Registry.REGISTRY_PORT }, () => {
          server.off("error", onError)
          resume(Effect.succeed(server))
        })
      }),
      (server) =>
        Effect.async<void>((resume) => {
          for (const socket of sockets) socket.destroy()
          server.close(() => resume(Effect.void))
        })
    )
    server.maxConnections = options.maxConnections ?? 256
    const info = server.address() as Net.AddressInfo
    const address = { host: info.address, port: info.port }
    const annotate = Effect.annotateLogs(Logging.LOGGER_NAME, `REGSRV/TCP/${address.port}`)

    const serveConnection = (conn: Net.Socket): Effect.Effect<void> =>
      Effect.gen(function*() {
        const peer = normalizeHost(conn.remoteAddress ?? "")
        const request = yield* readRequest(conn)
        const reply = yield* handleBytes(state, request, peer)
        if (Option.isSome(reply)) yield* writeAll(conn, reply.value)
      }).pipe(
        Effect.timeoutFail({ duration: connectionTimeout, onTimeout: () => "timed out" as const }),
        Effect.catchAllCause((cause) => Effect.logDebug("dropping registry connection", cause)),
        Effect.ensuring(Effect.sync(() => {
          sockets.delete(conn)
          // like RPyC's close() after send: the kernel still delivers the reply, then FIN
          if (!conn.destroyed) conn.destroySoon()
        })),
        annotate
      )

    const runFork = yield* FiberSet.makeRuntime<never, void, never>()
    const onConnection = (conn: Net.Socket) => {
      sockets.add(conn)
      // registered at once: an 'error' event without a listener would crash the process
      conn.on("error", () => conn.destroy())
      runFork(serveConnection(conn))
    }
    server.on("connection", onConnection)
    // errors after listen (rare, e.g. EMFILE on accept) are logged; the server keeps running
    server.on("error", (cause) => runFork(annotate(Effect.logError("TCP registry server error", cause))))
    yield* Effect.addFinalizer(() =>
      Effect.sync(() => server.off("connection", onConnection)).pipe(
        Effect.zipRight(annotate(Effect.logDebug("server closed")))
      )
    )
    yield* annotate(Effect.logDebug(`server started on ${address.host}:${address.port}`))
    return { mode: "TCP" as const, address, state }
  })

// reads until one whole brine value, MAX_DGRAM_SIZE bytes, or end of stream / socket error
const readRequest = (conn: Net.Socket): Effect.Effect<Uint8Array> =>
  Effect.async<Uint8Array>((resume) => {
    let buf: Buffer = Buffer.alloc(0)
    let done = false
    const finish = () => {
      if (done) return
      done = true
      cleanup()
      resume(Effect.succeed(buf))
    }
    const onData = (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk])
      if (buf.length >= Registry.MAX_DGRAM_SIZE) {
        buf = buf.subarray(0, Registry.MAX_DGRAM_SIZE)
        // stop reading: whatever else the client sends is not ours to buffer
        conn.pause()
        finish()
      } else if (Registry.isComplete(buf)) finish()
    }
    const cleanup = () => {
      conn.off("data", onData)
      conn.off("end", finish)
      conn.off("close", finish)
    }
    conn.on("data", onData)
    conn.on("end", finish)
    conn.on("close", finish)
    return Effect.sync(cleanup)
  })

const writeAll = (conn: Net.Socket, data: Uint8Array): Effect.Effect<void, Error> =>
  Effect.async<void, Error>((resume) => {
    if (conn.destroyed || !conn.writable) return resume(Effect.fail(new Error("connection closed before the reply")))
    conn.write(data, (cause) => resume(cause ? Effect.fail(cause) : Effect.void))
  })

/**
 * A layer running a UDP registry server.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerUdpServer = (options: ServerOptions = {}): Layer.Layer<RegistryServer, Registry.RegistryError> =>
  Layer.scoped(RegistryServer, makeUdpServer(options))

/**
 * A layer running a TCP registry server.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerTcpServer = (options: TcpServerOptions = {}): Layer.Layer<RegistryServer, Registry.RegistryError> =>
  Layer.scoped(RegistryServer, makeTcpServer(options))
