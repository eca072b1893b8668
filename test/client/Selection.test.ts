/**
 * `connectByService`'s selection strategies against real servers found through a real (UDP, loopback)
 * registry: round-robin alternates, a dead address is skipped, least-pending picks the idle server.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Random from "effect/Random"
import * as Client from "../../src/client/Client.js"
import * as Selection from "../../src/client/Selection.js"
import * as RegistryClient from "../../src/registry/RegistryClient.js"
import * as RegistryServer from "../../src/registry/RegistryServer.js"
import * as Server from "../../src/server/Server.js"
import { Service } from "../../src/service/Service.js"
import { eventually } from "../support/Eventually.js"
import { freePort } from "../support/Ports.js"

const LOOPBACK = "127.0.0.1"
const TIMEOUT = 60_000

/** A service `name` whose servers say who they are and can hold a call until `release` is called. */
const pool = (name: string) => {
  const open = () => {
    let resolve!: () => void
    const promise = new Promise<void>((r) => resolve = r)
    return { promise, resolve }
  }
  let gate = open()
  const make = (label: string) =>
    class extends Service {
      static override ALIASES = [name]
      exposed_whoami() {
        return label
      }
      exposed_hold() {
        return gate.promise.then(() => label)
      }
    }
  const release = () => {
    gate.resolve()
    gate = open()
  }
  return { make, release }
}

/** A loopback registry, a registrar for it, and `labels.length` servers of `name` registered there. */
const setup = (name: string, labels: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    const registry = yield* RegistryServer.makeUdpServer({ port: 0 })
    const registrar = yield* RegistryClient.makeUdp({ host: LOOPBACK, port: registry.address.port })
    const services = pool(name)
    for (const label of labels) yield* Server.make(services.make(label), { port: 0, registrar })
    yield* eventually(registrar.discover(name), (s) => s.length === labels.length)
    return { registrar, release: services.release }
  })

const whoami = (
  name: string,
  strategy: Selection.Strategy | Selection.StrategyName,
  registrar: RegistryClient.Registrar
) =>
  Effect.gen(function*() {
    const conn = yield* Client.connectByService(name, { strategy })
    return (yield* conn.root.whoami()) as string
  }).pipe(Effect.provideService(RegistryClient.Registrar, registrar))

describe("selection strategies", () => {
  it.scopedLive("round-robin alternates between the servers", () =>
    Effect.gen(function*() {
      const { registrar } = yield* setup("RRCALC", ["a", "b"])
      const strategy = Selection.roundRobin()
      const seen: Array<string> = []
      for (let i = 0; i < 4; i++) seen.push(yield* Effect.scoped(whoami("rrcalc", strategy, registrar)))
      assert.notStrictEqual(seen[0], seen[1])
      assert.deepStrictEqual(seen, [seen[0], seen[1], seen[0], seen[1]])
      // the process-wide one (named) takes turns too
      const first = yield* Effect.scoped(whoami("RRCALC", "round-robin", registrar))
      const second = yield* Effect.scoped(whoami("RRCALC", "round-robin", registrar))
      assert.notStrictEqual(first, second)
    }), TIMEOUT)

  it.scopedLive("failover: a registered address where nothing listens is skipped", () =>
    Effect.gen(function*() {
      const { registrar } = yield* setup("FOCALC", ["live"])
      const dead = yield* freePort("tcp", LOOPBACK)
      yield* registrar.register(["FOCALC"], dead)
      yield* eventually(registrar.discover("FOCALC"), (s) => s.length === 2)
      // round-robin starts at each address in turn: one of the two starts at the dead one
      const strategy = Selection.roundRobin()
      const seen = [
        yield* Effect.scoped(whoami("FOCALC", strategy, registrar)),
        yield* Effect.scoped(whoami("FOCALC", strategy, registrar))
      ]
      assert.deepStrictEqual(seen, ["live", "live"])
      // every strategy fails over
      for (const name of ["random", "ordered", "least-pending"] as const) {
        assert.strictEqual(yield* Effect.scoped(whoami("FOCALC", name, registrar)), "live")
      }
    }), TIMEOUT)

  it.scopedLive("when every address is dead, AllDown names each failure", () =>
    Effect.gen(function*() {
      const registry = yield* RegistryServer.makeUdpServer({ port: 0 })
      const registrar = yield* RegistryClient.makeUdp({ host: LOOPBACK, port: registry.address.port })
      const dead = [yield* freePort("tcp", LOOPBACK), yield* freePort("tcp", LOOPBACK)]
      for (const port of dead) yield* registrar.register(["GONE"], port)
      const error = yield* Client.connectByService("GONE", { strategy: "round-robin" }).pipe(
        Effect.flip,
        Effect.provideService(RegistryClient.Registrar, registrar),
        Effect.scoped
      )
      assert.strictEqual(error.reason, "AllDown")
      assert.strictEqual(error.failures?.length, 2)
      for (const port of dead) assert.include(error.message, `${LOOPBACK}:${port}`)
    }), TIMEOUT)

  it.scopedLive(
    "least-pending prefers the server whose connections have no call waiting",
    () =>
      Effect.gen(function*() {
        const { registrar, release } = yield* setup("LPCALC", ["a", "b"])
        const strategy = Selection.leastPending()
        const connect = Client.connectByService("LPCALC", { strategy }).pipe(
          Effect.provideService(RegistryClient.Registrar, registrar)
        )
        const busy = yield* connect
        const busyLabel = (yield* busy.root.whoami()) as string
        // a call held by the server: one request pending on `busy`
        const held = yield* Deferred.make<string>()
        yield* Effect.forkScoped(Effect.flatMap(busy.root.hold(), (label) => Deferred.succeed(held, label as string)))
        yield* eventually(() => busy.pendingCount === 1, "the held call is pending")
        for (let i = 0; i < 3; i++) {
          const idle = yield* Effect.scoped(Effect.flatMap(connect, (conn) => conn.root.whoami()))
          assert.notStrictEqual(idle, busyLabel)
        }
        // a connection to the other server, kept open
        const other = yield* connect
        const otherLabel = (yield* other.root.whoami()) as string
        assert.notStrictEqual(otherLabel, busyLabel)
        release()
        assert.strictEqual(yield* Deferred.await(held), busyLabel)
        // now the other server's connection holds a call: the first server is the idle one
        yield* Effect.forkScoped(other.root.hold())
        yield* eventually(() => other.pendingCount === 1, "the second held call is pending")
        for (let i = 0; i < 3; i++) {
          const idle = yield* Effect.scoped(Effect.flatMap(connect, (conn) => conn.root.whoami()))
          assert.strictEqual(idle, busyLabel)
        }
        release()
      }),
    TIMEOUT
  )

  it.effect("random orders every address once; ordered (the default) keeps the registry's order", () =>
    Effect.gen(function*() {
      const addresses = Array.from({ length: 8 }, (_, i) => ({ host: LOOPBACK, port: 1000 + i }))
      const orders = yield* Effect.forEach(
        Array.from({ length: 20 }),
        () => Selection.random.order("X", addresses)
      ).pipe(Effect.withRandom(Random.make("selection")))
      for (const order of orders) {
        assert.deepStrictEqual([...order].sort((a, b) => a.port - b.port), addresses)
      }
      // not always the registry's order (20 shuffles of 8 all equal to it cannot happen by chance)
      assert.isTrue(orders.some((order) => order.some((a, i) => a.port !== addresses[i].port)))
      assert.deepStrictEqual(yield* Selection.ordered.order("X", addresses), addresses)
      assert.strictEqual(Selection.resolve(undefined), Selection.ordered)
      assert.deepStrictEqual(yield* Selection.roundRobin().order("X", []), [])
    }))
})
