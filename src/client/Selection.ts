/**
 * Which server of a service `Client.connectByService` connects to: a selection strategy orders the
 * addresses the registry returned, and the client tries them in that order until one accepts a
 * connection (failover).
 *
 * ```ts
 * const conn = yield* Client.connectByService("CALC", { strategy: "least-pending" })
 * ```
 *
 * - `"ordered"` (the default): the registry's order (oldest keep-alive first), which is what RPyC's
 *   `connect_by_service` does;
 * - `"random"`: a random order, so that clients spread over the servers;
 * - `"round-robin"`: each connection starts one server further along the service's servers (sorted by
 *   address, so that the ring stays put while the registry reorders them);
 * - `"least-pending"`: the server with the fewest requests awaiting a reply on the connections this
 *   process made to it through the strategy (servers with no connection count as idle); ties are
 *   broken at random.
 *
 * A name stands for one strategy shared by the whole process (round-robin turns and pending counts
 * are per process); {@link roundRobin} and {@link leastPending} make strategies of their own.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Random from "effect/Random"
import type * as Scope from "effect/Scope"
import type * as Connection from "../internal/engine/Engine.js"
import * as Registry from "../registry/Registry.js"

/**
 * A selection strategy.
 *
 * @since 0.1.0
 * @category models
 */
export interface Strategy {
  /** For logs: "random", "round-robin", … */
  readonly name: string
  /** The order to try a service's servers in: the first choice first, then the failover order. */
  readonly order: (
    service: string,
    addresses: ReadonlyArray<Registry.Address>
  ) => Effect.Effect<ReadonlyArray<Registry.Address>>
  /** Told about every connection made through the strategy, for as long as the scope lasts. */
  readonly track: (address: Registry.Address, conn: Connection.Connection) => Effect.Effect<void, never, Scope.Scope>
}

/**
 * The strategies that have a name.
 *
 * @since 0.1.0
 * @category models
 */
export type StrategyName = "random" | "ordered" | "round-robin" | "least-pending"

const untracked = (): Effect.Effect<void, never, Scope.Scope> => Effect.void

/**
 * A random order.
 *
 * @since 0.1.0
 * @category strategies
 */
export const random: Strategy = {
  name: "random",
  order: (_, addresses) => Effect.map(Random.shuffle(addresses), (chunk) => Array.from(chunk)),
  track: untracked
}

/**
 * The registry's order, as RPyC's `connect_by_service` (the default).
 *
 * @since 0.1.0
 * @category strategies
 */
export const ordered: Strategy = {
  name: "ordered",
  order: (_, addresses) => Effect.succeed(addresses),
  track: untracked
}

const byAddress = (a: Registry.Address, b: Registry.Address): number => {
  const x = Registry.formatAddress(a)
  const y = Registry.formatAddress(b)
  return x < y ? -1 : x > y ? 1 : 0
}

/**
 * A round-robin strategy with its own turns (one per service name, upper-cased as the registry does).
 *
 * @since 0.1.0
 * @category strategies
 */
export const roundRobin = (): Strategy => {
  const turns = new Map<string, number>()
  return {
    name: "round-robin",
    order: (service, addresses) =>
      Effect.sync(() => {
        if (addresses.length === 0) return []
        const key = service.toUpperCase()
        const turn = turns.get(key) ?? 0
        turns.set(key, turn + 1)
        const ring = [...addresses].sort(byAddress)
        const start = turn % ring.length
        return [...ring.slice(start), ...ring.slice(0, start)]
      }),
    track: untracked
  }
}

/**
 * A least-pending strategy with its own set of connections: it orders servers by the requests awaiting
 * a reply on the open connections made through it to each (`conn.pendingCount`), fewest first.
 *
 * @since 0.1.0
 * @category strategies
 */
export const leastPending = (): Strategy => {
  const connections = new Map<string, Set<Connection.Connection>>()
  const pendingAt = (address: Registry.Address): number => {
    let sum = 0
    for (const conn of connections.get(Registry.formatAddress(address)) ?? []) {
      if (!conn.closed) sum += conn.pendingCount
    }
    return sum
  }
  return {
    name: "least-pending",
    order: (_, addresses) =>
      Effect.map(Random.shuffle(addresses), (shuffled) => {
        const pending = new Map(Array.from(shuffled, (a) => [a, pendingAt(a)] as const))
        // a stable sort of a shuffled list: ties in random order
        return Array.from(shuffled).sort((a, b) => pending.get(a)! - pending.get(b)!)
      }),
    track: (address, conn) =>
      Effect.acquireRelease(
        Effect.sync(() => {
          const key = Registry.formatAddress(address)
          let set = connections.get(key)
          if (set === undefined) connections.set(key, set = new Set())
          set.add(conn)
          return key
        }),
        (key) =>
          Effect.sync(() => {
            const set = connections.get(key)
            set?.delete(conn)
            if (set?.size === 0) connections.delete(key)
          })
      )
  }
}

const shared: Record<StrategyName, Strategy> = {
  random,
  ordered,
  "round-robin": roundRobin(),
  "least-pending": leastPending()
}

/**
 * The strategy a `strategy` option names (the process-wide one), or the strategy itself; `ordered`
 * (RPyC's behaviour) when absent.
 *
 * @since 0.1.0
 * @category constructors
 */
export const resolve = (strategy: Strategy | StrategyName | undefined): Strategy =>
  strategy === undefined ? ordered : typeof strategy === "string" ? shared[strategy] : strategy
