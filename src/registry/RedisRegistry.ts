/**
 * A registry kept in Redis: servers on many hosts register in one Redis, and clients anywhere
 * discover them, without UDP broadcasts or a registry process. Two ways in:
 *
 * - a {@link Registrar} ({@link make}, or `RegistryClient.layerRedis`) that servers register with
 *   and clients discover through, reading and writing Redis directly;
 * - a registry table for the UDP/TCP registry servers ({@link makeState}), so that what RPyC
 *   clients register over UDP/TCP lands in Redis and their queries are answered from it.
 *
 * ```ts
 * const program = Effect.gen(function*() {
 *   yield* Server.make(MyService, { port: 18861, registrar: yield* RegistryClient.Registrar })
 *   const servers = yield* RegistryClient.discover("MY")
 * }).pipe(Effect.scoped, Effect.provide(RegistryClient.layerRedis({ url: "redis://10.0.0.5:6379" })))
 * ```
 *
 * Key layout (every key starts with `prefix`, default `rpyc:registry:`):
 *
 * - `rpyc:registry:services`: a set of the registered service names, upper-cased as RPyC does;
 * - `rpyc:registry:service:<NAME>`: a sorted set per service, one member per server,
 *   `host:port` (`[host]:port` for IPv6), scored by the time its entry expires (epoch
 *   milliseconds, Redis's own clock). The key itself expires with its last entry.
 *
 * Each operation is one Lua script, so it is atomic and costs one round trip. Time is Redis's
 * (`TIME`), so the clocks of the registering hosts do not matter. An entry lives for `ttl` (default
 * 240 s, RPyC's pruning timeout) after its last registration; a server re-registers every
 * `refreshInterval` (default a quarter of `ttl`: 60 s, RPyC's REGISTER interval) and removes its
 * entries when it closes. Readers drop expired entries as they go (an entry is served until it is
 * strictly older than its expiry, as RPyC's pruning), and empty services disappear from the listing.
 * The scripts touch keys they compute, so they need a single Redis (or a primary with replicas),
 * not Redis Cluster.
 *
 * `ioredis` is an optional peer dependency, loaded only by this module.
 *
 * @since 0.1.0
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import { Redis, type RedisOptions as IORedisOptions } from "ioredis"
import * as Net from "node:net"
import type * as RedisOptions from "./RedisOptions.js"
import * as Registry from "./Registry.js"
import * as RegistryServer from "./RegistryServer.js"

// ---------------------------------------------------------------------------------------------
// options and models

/**
 * The default prefix of every key.
 *
 * @since 0.1.0
 * @category constants
 */
export const DEFAULT_PREFIX = "rpyc:registry:"

/**
 * Where Redis is, and the keys and timeout used there.
 *
 * @since 0.1.0
 * @category models
 */
export interface ConnectionOptions extends RedisOptions.ConnectionOptions {
  /**
   * An ioredis client to use; it stays open when the scope closes. Without it a client is made from
   * `url` and `redisOptions`, and closed with the scope.
   */
  readonly client?: Redis | undefined
  /** ioredis options of the client made here (TLS, passwords, retry strategy…). */
  readonly redisOptions?: IORedisOptions | undefined
}

/**
 * Options of the Redis {@link Registrar}: those of `RegistryClient.layerRedis`, plus an ioredis client
 * or client options.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options extends ConnectionOptions, RedisOptions.RegistrarOptions {}

/**
 * Options of the registry table behind the UDP/TCP registry servers ({@link makeState}).
 *
 * @since 0.1.0
 * @category models
 */
export interface StateOptions extends ConnectionOptions, Omit<RegistryServer.StateOptions, "pruningTimeout"> {
  /**
   * How long an entry registered through the registry server lives after its last REGISTER.
   * Default 240 seconds (RPyC's pruning timeout).
   */
  readonly ttl?: Duration.DurationInput | undefined
}

/**
 * A registrar backed by Redis: a `RegistryClient.Registrar` with `mode` "Redis" and what it uses. Its
 * `list` always answers `Some`: whoever can read the Redis can list.
 *
 * @since 0.1.0
 * @category models
 */
export interface Registrar extends Registry.RegistrarOperations {
  readonly mode: "Redis"
  /** The Redis server (`port` 0 for a Unix socket, whose path is then `host`). */
  readonly target: Registry.Address
  /** How often a registered server re-registers. */
  readonly reregisterInterval: Duration.Duration
  /** How long an entry lives after its last registration. */
  readonly ttl: Duration.Duration
  /** The keys in use. */
  readonly keys: Keys
  /** The ioredis client. */
  readonly client: Redis
}

/**
 * The keys of a registry (see the module's documentation for the layout).
 *
 * @since 0.1.0
 * @category models
 */
export interface Keys {
  /** The set of service names. */
  readonly services: string
  /** The sorted set of one service's servers. */
  readonly service: (name: string) => string
}

/**
 * The keys under `prefix`.
 *
 * @since 0.1.0
 * @category utils
 */
export const keys = (prefix: string = DEFAULT_PREFIX): Keys => ({
  services: `${prefix}services`,
  service: (name) => `${prefix}service:${name}`
})

// ---------------------------------------------------------------------------------------------
// scripts

// Redis's clock in milliseconds; every script starts with it
const NOW = `local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)`

// KEYS: services, service keys…; ARGV: member, ttl millis, names… (one per service key).
// Returns the names the member is new in (absent, or present but expired).
const REGISTER = `${NOW}
local expiry = now + tonumber(ARGV[2])
local added = {}
for i = 2, #KEYS do
  local old = redis.call('ZSCORE', KEYS[i], ARGV[1])
  redis.call('ZADD', KEYS[i], expiry, ARGV[1])
  if not old or tonumber(old) < now then added[#added + 1] = ARGV[i + 1] end
  -- the key lives as long as its longest-lived entry, so an abandoned service vanishes by itself
  local last = redis.call('ZRANGE', KEYS[i], -1, -1, 'WITHSCORES')
  redis.call('PEXPIREAT', KEYS[i], math.ceil(tonumber(last[2])))
  redis.call('SADD', KEYS[1], ARGV[i + 1])
end
return added`

// KEYS: services; ARGV: service key prefix, members…. Removes the members from every service.
// Returns name, member pairs (flat) of what was removed.
const UNREGISTER = `local removed = {}
for _, name in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local key = ARGV[1] .. name
  for i = 2, #ARGV do
    if redis.call('ZREM', key, ARGV[i]) == 1 then
      removed[#removed + 1] = name
      removed[#removed + 1] = ARGV[i]
    end
  end
  if redis.call('EXISTS', key) == 0 then redis.call('SREM', KEYS[1], name) end
end
return removed`

// drops the expired entries of `key` (a service `name`), collecting them in `stale` as name, member pairs
const PRUNE = `local function prune(key, name, stale)
  local bound = '(' .. string.format('%d', now)
  for _, m in ipairs(redis.call('ZRANGEBYSCORE', key, '-inf', bound)) do
    stale[#stale + 1] = name
    stale[#stale + 1] = m
  end
  redis.call('ZREMRANGEBYSCORE', key, '-inf', bound)
end`

// KEYS: services, service key; ARGV: name. Returns { live members and scores (flat), stale pairs }.
const QUERY = `${NOW}
${PRUNE}
local stale = {}
prune(KEYS[2], ARGV[1], stale)
if redis.call('EXISTS', KEYS[2]) == 0 then redis.call('SREM', KEYS[1], ARGV[1]) end
return { redis.call('ZRANGE', KEYS[2], 0, -1, 'WITHSCORES'), stale }`

// KEYS: services; ARGV: service key prefix, member prefix of the host to filter by ('' for none).
// Returns { names (sorted), stale pairs }.
const LIST = `${NOW}
${PRUNE}
local names = redis.call('SMEMBERS', KEYS[1])
table.sort(names)
local out, stale = {}, {}
for _, name in ipairs(names) do
  local key = ARGV[1] .. name
  prune(key, name, stale)
  local live = redis.call('ZRANGE', key, 0, -1)
  if #live == 0 then
    redis.call('SREM', KEYS[1], name)
  elseif ARGV[2] == '' then
    out[#out + 1] = name
  else
    for _, m in ipairs(live) do
      if string.sub(m, 1, #ARGV[2]) == ARGV[2] then
        out[#out + 1] = name
        break
      end
    end
  end
end
return { out, stale }`

// KEYS: services; ARGV: service key prefix. Returns { name, { member, score, … } } pairs (flat), unpruned.
const SNAPSHOT = `local out = {}
for _, name in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  out[#out + 1] = name
  out[#out + 1] = redis.call('ZRANGE', ARGV[1] .. name, 0, -1, 'WITHSCORES')
end
return out`

const SCRIPTS = {
  rpycRegistryRegister: REGISTER,
  rpycRegistryUnregister: UNREGISTER,
  rpycRegistryQuery: QUERY,
  rpycRegistryList: LIST,
  rpycRegistrySnapshot: SNAPSHOT
} as const

type ScriptName = keyof typeof SCRIPTS

// what `defineCommand` adds to the client: numkeys, then keys, then arguments (EVALSHA, EVAL on NOSCRIPT)
type Scripted = { readonly [K in ScriptName]: (numKeys: number, ...args: Array<string>) => Promise<unknown> }

// ---------------------------------------------------------------------------------------------
// the store: the operations both the registrar and the registry table are made of

interface Change {
  readonly name: string
  readonly address: Registry.Address
}

interface Store {
  readonly client: Redis
  readonly keys: Keys
  readonly target: Registry.Address
  readonly register: (
    address: Registry.Address,
    aliases: ReadonlyArray<string>,
    ttl: Duration.Duration
  ) => Effect.Effect<ReadonlyArray<string>, Registry.RegistryError>
  readonly unregister: (
    addresses: ReadonlyArray<Registry.Address>
  ) => Effect.Effect<ReadonlyArray<Change>, Registry.RegistryError>
  readonly query: (name: string) => Effect.Effect<
    { readonly live: ReadonlyArray<{ address: Registry.Address; expiry: number }>; readonly stale: Array<Change> },
    Registry.RegistryError
  >
  readonly list: (
    filterHost: string | null | undefined
  ) => Effect.Effect<{ readonly names: ReadonlyArray<string>; readonly stale: Array<Change> }, Registry.RegistryError>
  readonly snapshot: Effect.Effect<
    ReadonlyMap<string, ReadonlyArray<{ address: Registry.Address; expiry: number }>>,
    Registry.RegistryError
  >
  /** The address Redis sees this client connect from. */
  readonly clientHost: Effect.Effect<string, Registry.RegistryError>
}

/**
 * Parses a member, `host:port` or `[host]:port`, back into an address.
 *
 * @since 0.1.0
 * @category utils
 */
export const parseMember = (member: string): Option.Option<Registry.Address> => {
  const colon = member.lastIndexOf(":")
  if (colon <= 0) return Option.none()
  const rawHost = member.slice(0, colon)
  const host = rawHost.startsWith("[") && rawHost.endsWith("]") ? rawHost.slice(1, -1) : rawHost
  const port = Number(member.slice(colon + 1))
  return host !== "" && Number.isInteger(port) && port >= 0 && port <= 65535
    ? Option.some({ host, port })
    : Option.none()
}

// the start every member of `host` has, so the LIST script can filter without parsing
const memberPrefix = (host: string): string => host.includes(":") ? `[${host}]:` : `${host}:`

const stringArray = (u: unknown): ReadonlyArray<string> =>
  Array.isArray(u) ? u.filter((s): s is string => typeof s === "string") : []

const pairs = (u: unknown): Array<Change> => {
  const flat = stringArray(u)
  const out: Array<Change> = []
  for (let i = 0; i + 1 < flat.length; i += 2) {
    Option.map(parseMember(flat[i + 1]), (address) => out.push({ name: flat[i], address }))
  }
  return out
}

const scored = (u: unknown): Array<{ address: Registry.Address; expiry: number }> => {
  const flat = stringArray(u)
  const out: Array<{ address: Registry.Address; expiry: number }> = []
  for (let i = 0; i + 1 < flat.length; i += 2) {
    Option.map(parseMember(flat[i]), (address) => out.push({ address, expiry: Number(flat[i + 1]) }))
  }
  return out
}

const hostFromClientInfo = (info: string): Option.Option<string> => {
  const addr = /(?:^|\s)addr=(\S+)/.exec(info)?.[1]
  return addr === undefined ? Option.none() : Option.map(parseMember(addr), (a) => normalizeHost(a.host))
}

// a dual-stack socket reports IPv4 peers as ::ffff:a.b.c.d
const normalizeHost = (host: string): string =>
  host.toLowerCase().startsWith("::ffff:") && Net.isIPv4(host.slice(7)) ? host.slice(7) : host

const makeStore = (options: ConnectionOptions): Effect.Effect<Store, never, Scope.Scope> =>
  Effect.gen(function*() {
    const timeout = Duration.decode(options.timeout ?? Duration.seconds(2))
    const ks = keys(options.prefix ?? DEFAULT_PREFIX)
    // the last connection error, to say why an operation timed out
    let lastError: Error | undefined
    const onError = (error: Error) => {
      lastError = error
    }
    // registered before the first command: an 'error' without a listener is printed by ioredis
    const listen = (client: Redis) => client.on("error", onError)
    const unlisten = (client: Redis) => Effect.sync(() => client.off("error", onError))
    const client = options.client !== undefined
      ? yield* Effect.acquireRelease(Effect.sync(() => listen(options.client!)), unlisten)
      : yield* Effect.acquireRelease(
        Effect.sync(() => listen(new Redis(options.url ?? "redis://127.0.0.1:6379", options.redisOptions ?? {}))),
        (client) =>
          (client.status === "ready"
            // QUIT lets the replies under way arrive; interruptible, or the finalizer waits it out
            ? Effect.promise(() => client.quit().catch(() => undefined)).pipe(
              Effect.interruptible,
              Effect.timeout(Duration.seconds(1)),
              Effect.ignore
            )
            : Effect.void).pipe(
              // stops reconnecting in any case; the listener stays for errors still on their way
              Effect.ensuring(Effect.sync(() => client.disconnect()))
            )
      )
    for (const [name, lua] of Object.entries(SCRIPTS)) client.defineCommand(name, { lua })
    const scripts = client as unknown as Scripted
    const target: Registry.Address = client.options.path
      ? { host: client.options.path, port: 0 }
      : { host: client.options.host ?? "127.0.0.1", port: client.options.port ?? 6379 }
    const where = target.port === 0 ? target.host : Registry.formatAddress(target)

    const run = <A>(what: string, f: () => Promise<A>): Effect.Effect<A, Registry.RegistryError> =>
      Effect.tryPromise({
        try: f,
        catch: (cause) =>
          new Registry.RegistryError({
            // a reply error is Redis refusing the command; anything else is the connection
            reason: cause instanceof Error && cause.name === "ReplyError" ? "BadReply" : "Connect",
            detail: `Redis at ${where} failed to ${what}: ${cause instanceof Error ? cause.message : String(cause)}`,
            cause
          })
      }).pipe(
        // finalizers (a server unregistering as it closes) run uninterruptibly: the timeout must still win
        Effect.interruptible,
        Effect.timeoutFail({
          duration: timeout,
          onTimeout: () =>
            new Registry.RegistryError({
              reason: "Timeout",
              detail: `Redis at ${where} did not answer within ${Duration.format(timeout)}${
                lastError === undefined ? "" : ` (last error: ${lastError.message})`
              }`
            })
        })
      )

    const register = (address: Registry.Address, aliases: ReadonlyArray<string>, ttl: Duration.Duration) => {
      const names = Array.from(new Set(aliases.map((a) => a.toUpperCase())))
      return run("register", () =>
        scripts.rpycRegistryRegister(
          names.length + 1,
          ks.services,
          ...names.map(ks.service),
          Registry.formatAddress(address),
          String(Math.max(1, Math.round(Duration.toMillis(ttl)))),
          ...names
        )).pipe(Effect.map(stringArray))
    }

    const unregister = (addresses: ReadonlyArray<Registry.Address>) =>
      run("unregister", () =>
        scripts.rpycRegistryUnregister(1, ks.services, ks.service(""), ...addresses.map(Registry.formatAddress))).pipe(
          Effect.map(pairs)
        )

    const query = (name: string) => {
      const upper = name.toUpperCase()
      return run("query", () =>
        scripts.rpycRegistryQuery(2, ks.services, ks.service(upper), upper)).pipe(
          Effect.map((reply) => {
            const [live, stale] = Array.isArray(reply) ? reply : []
            return { live: scored(live), stale: pairs(stale) }
          })
        )
    }

    const list = (filterHost: string | null | undefined) =>
      run("list", () =>
        scripts.rpycRegistryList(1, ks.services, ks.service(""), filterHost ? memberPrefix(filterHost) : "")).pipe(
          Effect.map((reply) => {
            const [names, stale] = Array.isArray(reply) ? reply : []
            return { names: stringArray(names), stale: pairs(stale) }
          })
        )

    const snapshot = run("read", () =>
      scripts.rpycRegistrySnapshot(1, ks.services, ks.service(""))).pipe(
        Effect.map((reply) => {
          const flat: ReadonlyArray<unknown> = Array.isArray(reply) ? reply : []
          const out = new Map<string, ReadonlyArray<{ address: Registry.Address; expiry: number }>>()
          for (let i = 0; i + 1 < flat.length; i += 2) {
            const entries = scored(flat[i + 1]).sort((a, b) =>
              a.expiry - b.expiry
            )
            if (typeof flat[i] === "string" && entries.length > 0) out.set(flat[i] as string, entries)
          }
          return out
        })
      )

    const clientHost = run("tell this client's address", () => client.client("INFO")).pipe(
      Effect.map((info) => hostFromClientInfo(String(info))),
      // Redis before 6.2 has no CLIENT INFO: the socket's own address is what Redis sees too
      Effect.orElseSucceed(() => Option.fromNullable((client.stream as Net.Socket | undefined)?.localAddress)),
      Effect.flatMap(Option.match({
        onNone: () =>
          Effect.fail(
            new Registry.RegistryError({
              reason: "Connect",
              detail: `cannot tell this host's address as Redis at ${where} sees it: give the registrar a host`
            })
          ),
        onSome: (host) => Effect.succeed(normalizeHost(host))
      }))
    )

    return { client, keys: ks, target, register, unregister, query, list, snapshot, clientHost }
  })

// ---------------------------------------------------------------------------------------------
// the registrar

/**
 * Builds a Redis registrar (see the module's documentation for what it stores). Servers register
 * under the address they listen on, else under `host`, else under the address Redis sees this client
 * come from; `unregister` removes every address this registrar registered the port under. Closing
 * the scope closes the client made here (a `client` given in the options stays open).
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options: Options = {}): Effect.Effect<Registrar, never, Scope.Scope> =>
  Effect.gen(function*() {
    const store = yield* makeStore(options)
    const ttl = Duration.decode(options.ttl ?? Registry.DEFAULT_PRUNING_TIMEOUT)
    const reregisterInterval = Duration.decode(options.refreshInterval ?? Duration.times(ttl, 0.25))
    // port → the hosts it was registered under, so that unregistering finds them all
    const registered = new Map<number, Set<string>>()

    const hostFor = (iface: string | undefined): Effect.Effect<string, Registry.RegistryError> =>
      iface !== undefined && iface !== "" && iface !== "0.0.0.0" && iface !== "::"
        ? Effect.succeed(iface)
        : options.host !== undefined
        ? Effect.succeed(options.host)
        : store.clientHost

    const register = (aliases: ReadonlyArray<string>, port: number, iface?: string | undefined) =>
      Effect.gen(function*() {
        const host = yield* hostFor(iface)
        let hosts = registered.get(port)
        if (hosts === undefined) registered.set(port, hosts = new Set())
        hosts.add(host)
        yield* Effect.logDebug(`registering ${Registry.formatAddress({ host, port })} as ${aliases.join(", ")}`)
        yield* store.register({ host, port }, aliases, ttl)
      })

    const unregister = (port: number) =>
      Effect.gen(function*() {
        // the hosts this registrar registered the port under; else this host, as a registry would see it
        const known = registered.get(port)
        const hosts = known !== undefined ? Array.from(known) : [yield* hostFor(undefined)]
        yield* Effect.logDebug(`unregistering port ${port} of ${hosts.join(", ")}`)
        yield* store.unregister(hosts.map((host) => ({ host, port })))
        registered.delete(port)
      })

    return {
      mode: "Redis" as const,
      target: store.target,
      register,
      unregister,
      discover: (name) => Effect.map(store.query(name), ({ live }) => live.map((e) => e.address)),
      list: (filterHost) => Effect.map(store.list(filterHost), ({ names }) => Option.some(names)),
      reregisterInterval,
      ttl,
      keys: store.keys,
      client: store.client
    }
  })

// ---------------------------------------------------------------------------------------------
// the registry servers' table

/**
 * A registry table in Redis for the UDP/TCP registry servers: pass it as their `state`, and what RPyC
 * clients register over UDP/TCP is stored in Redis, where the Redis registrar sees it too, and their
 * QUERY and LIST are answered from Redis.
 *
 * ```ts
 * const state = yield* RedisRegistry.makeState({ url, allowListing: true })
 * yield* RegistryServer.makeUdpServer({ host: "0.0.0.0", state })
 * yield* RegistryServer.makeTcpServer({ host: "0.0.0.0", state })
 * ```
 *
 * The table's operations cannot fail by type: when Redis fails, the request dies, the registry
 * server logs it and sends no reply (the client times out, as with a registry that is down).
 * `onServiceAdded` / `onServiceRemoved` see the changes this table makes, not those made through
 * other registries sharing the Redis. `snapshot` reports `lastSeen` as the expiry minus `ttl`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeState = (
  options: StateOptions = {}
): Effect.Effect<RegistryServer.RegistryState, never, Scope.Scope> =>
  Effect.gen(function*() {
    const store = yield* makeStore(options)
    const pruningTimeout = Duration.decode(options.ttl ?? Registry.DEFAULT_PRUNING_TIMEOUT)
    const ttlMillis = Duration.toMillis(pruningTimeout)
    const allowListing = options.allowListing ?? false

    const hook = (
      f: ((name: string, address: Registry.Address) => Effect.Effect<void>) | undefined,
      changes: ReadonlyArray<Change>,
      what: string
    ): Effect.Effect<void> =>
      f === undefined
        ? Effect.void
        : Effect.forEach(changes, ({ address, name }) =>
          Effect.suspend(() => f(name, address)).pipe(
            Effect.catchAllCause((cause) => Effect.logError(`error executing service ${what} callback`, cause))
          ), { discard: true })
    const removed = (changes: ReadonlyArray<Change>) => hook(options.onServiceRemoved, changes, "remove")

    const register = (host: string, aliases: ReadonlyArray<string>, port: number): Effect.Effect<void> =>
      Effect.gen(function*() {
        yield* Effect.logDebug(`registering ${host}:${port} as ${aliases.join(", ")}`)
        const address = { host, port }
        const added = yield* Effect.orDie(store.register(address, aliases, pruningTimeout))
        yield* hook(options.onServiceAdded, added.map((name) => ({ name, address })), "add")
      })

    const unregister = (host: string, port: number): Effect.Effect<void> =>
      Effect.logDebug(`unregistering ${host}:${port}`).pipe(
        Effect.zipRight(Effect.orDie(store.unregister([{ host, port }]))),
        Effect.flatMap(removed)
      )

    const query = (name: string): Effect.Effect<ReadonlyArray<Registry.Address>> =>
      Effect.gen(function*() {
        yield* Effect.logDebug(`querying for ${Registry.pyRepr(name.toUpperCase())}`)
        const { live, stale } = yield* Effect.orDie(store.query(name))
        yield* removed(stale)
        const addresses = live.map((e) => e.address)
        yield* Effect.logDebug(
          `replying with [${addresses.map((a) => `(${Registry.pyRepr(a.host)}, ${a.port})`).join(", ")}]`
        )
        return addresses
      })

    const prune: Effect.Effect<void> = Effect.orDie(store.list(null)).pipe(
      Effect.flatMap(({ stale }) => removed(stale))
    )

    const names = (filterHost?: string | null | undefined): Effect.Effect<ReadonlyArray<string>> =>
      Effect.gen(function*() {
        const { names, stale } = yield* Effect.orDie(store.list(filterHost))
        yield* removed(stale)
        return names
      })

    const snapshot = Effect.orDie(store.snapshot).pipe(
      Effect.map((table): ReadonlyMap<string, ReadonlyArray<RegistryServer.Entry>> =>
        new Map(
          Array.from(table, ([name, entries]) => [
            name,
            entries.map((e) => ({ address: e.address, lastSeen: e.expiry - ttlMillis }))
          ])
        )
      )
    )

    return RegistryServer.fromTable({
      register,
      unregister,
      query,
      names,
      prune,
      snapshot,
      pruningTimeout,
      allowListing
    })
  })
