/**
 * Reconnecting clients (src/client/Reconnecting.ts): loops of calls through three server restarts
 * (a TypeScript server in-process, a Python ThreadedServer child), the state stream, stale netrefs,
 * queued calls, giving up, re-resolving through a registry, and the script helper.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as SubscriptionRef from "effect/SubscriptionRef"
import * as Path from "node:path"
import * as Reconnecting from "../../src/client/Reconnecting.js"
import * as rpyc from "../../src/index.js"
import type { RemoteFailure } from "../../src/internal/base/Errors.js"
import * as Logging from "../../src/Logging.js"
import * as RegistryClient from "../../src/registry/RegistryClient.js"
import * as RegistryServer from "../../src/registry/RegistryServer.js"
import * as Server from "../../src/server/Server.js"
import { ROOT, spawn, TIMEOUT } from "../support/Child.js"
import { eventually } from "../support/Eventually.js"
import { freePort } from "../support/Ports.js"
import { describePython, requirePython } from "../support/Python.js"
import { ReconnectTestService } from "./fixtures/services.js"

/** `counter.incr()`, typed. */
const incr = (counter: any): Effect.Effect<number, RemoteFailure> => counter.incr()

const quiet = Logging.layer(() => {})

/** Short delays, and enough attempts to outlast a slow restart. */
const fast = { baseDelay: "20 millis", maxDelay: "200 millis", maxAttempts: 10_000 } as const

/** The first state (the current one included) that satisfies `predicate`. */
const awaitState = <S extends Reconnecting.State>(
  client: Reconnecting.ReconnectingClient,
  predicate: (state: Reconnecting.State) => state is S
): Effect.Effect<S> => Stream.runHead(Stream.filter(client.changes, predicate)).pipe(Effect.map(Option.getOrThrow))

const isConnected = (generation: number) =>
(state: Reconnecting.State): state is Reconnecting.State & {
  _tag: "Connected"
} => state._tag === "Connected" && state.generation === generation
const isReconnecting = (state: Reconnecting.State): state is Extract<Reconnecting.State, { _tag: "Reconnecting" }> =>
  state._tag === "Reconnecting"
const isClosed = (state: Reconnecting.State): state is Extract<Reconnecting.State, { _tag: "Closed" }> =>
  state._tag === "Closed"

/** Every state the client goes through from now on, as the stream delivers them. */
const record = (client: Reconnecting.ReconnectingClient) =>
  Effect.gen(function*() {
    const states: Array<Reconnecting.State> = []
    yield* Effect.forkScoped(Stream.runForEach(client.changes, (state) => Effect.sync(() => void states.push(state))))
    return states
  })

/** A server, started in a scope of its own on `port` (0: any), that a test can kill and start again. */
type Start = (port: number) => Effect.Effect<number, unknown, Scope.Scope>

const startTs: Start = (port) =>
  Effect.map(Server.make(ReconnectTestService, { port }).pipe(Effect.provide(quiet)), (server) => server.port!)

const startPython: Start = (port) =>
  Effect.gen(function*() {
    const child = yield* spawn(requirePython(), [
      "-u",
      Path.join(ROOT, "test/client/fixtures/reconnect_server.py"),
      String(port)
    ], {
      ready: { stream: "stdout", pattern: /^PORT (\d+)$/ }
    })
    return Number(child.ready![1])
  })

/**
 * Four loops of calls survive three restarts of the server: every call succeeds or fails with
 * `Disconnected` (anything else, or a call that hangs, fails the test), each new connection serves
 * calls, and the state stream shows every transition in order.
 */
const survivesRestarts = (start: Start, firstPort: number): Effect.Effect<void, unknown, Scope.Scope> =>
  Effect.gen(function*() {
    let serverScope = yield* Scope.make()
    const port = yield* start(firstPort).pipe(Scope.extend(serverScope))
    const client = yield* Reconnecting.make({ port, ...fast }).pipe(Effect.provide(quiet))
    const states = yield* record(client)
    yield* awaitState(client, isConnected(1))

    /** Per loop, the highest generation one of its calls succeeded on. */
    const LOOPS = 4
    const served = yield* SubscriptionRef.make<ReadonlyArray<number>>(Array.from({ length: LOOPS }, () => 0))
    const outcomes = { ok: 0, disconnected: 0 }
    const died = yield* Deferred.make<never, unknown>()
    const loop = (n: number) =>
      Effect.gen(function*() {
        for (let i = 0;; i++) {
          const result = yield* Effect.either(
            client.use((conn, generation) => Effect.map(conn.root.add(i, n), (sum) => [sum, generation] as const))
          )
          if (result._tag === "Right") {
            const [sum, generation] = result.right
            assert.strictEqual(sum, i + n)
            outcomes.ok++
            yield* SubscriptionRef.update(served, (gs) => gs.map((g, k) => (k === n ? Math.max(g, generation) : g)))
          } else {
            // the one failure a call may have while the server is away; then wait for the next connection
            if (result.left._tag !== "Disconnected") return yield* Effect.die(result.left)
            outcomes.disconnected++
            yield* awaitState(client, (s): s is Reconnecting.State => s._tag === "Connected" || s._tag === "Closed")
          }
        }
      }).pipe(Effect.tapErrorCause((cause) => Deferred.failCause(died, cause)))
    const calls = yield* Effect.forEach(Array.from({ length: LOOPS }, (_, n) => n), (n) => Effect.forkScoped(loop(n)))
    /** Waits until every loop had a call succeed on connection `generation`: none hangs. A loop that died fails here. */
    const awaitServed = (generation: number) =>
      Stream.runHead(Stream.filter(served.changes, (gs) => gs.every((g) => g >= generation))).pipe(
        Effect.raceFirst(Deferred.await(died))
      )
    yield* awaitServed(1)

    for (let restart = 1; restart <= 3; restart++) {
      yield* Scope.close(serverScope, Exit.void)
      yield* awaitState(client, isReconnecting)
      serverScope = yield* Scope.make()
      yield* start(port).pipe(Scope.extend(serverScope))
      yield* awaitState(client, isConnected(restart + 1))
      yield* awaitServed(restart + 1)
    }
    yield* Fiber.interruptAll(calls)
    // the client first: a server going away first would start one more outage
    yield* client.close
    yield* awaitState(client, isClosed)
    yield* Scope.close(serverScope, Exit.void)

    // the transitions, a run of Reconnecting attempts counted as one step
    const steps = states.filter((s, i) => !(s._tag === "Reconnecting" && states[i - 1]?._tag === "Reconnecting"))
    assert.deepStrictEqual(
      steps.map((s) => (s._tag === "Connected" ? `Connected ${s.generation}` : s._tag)),
      [
        "Connecting",
        "Connected 1",
        "Reconnecting",
        "Connected 2",
        "Reconnecting",
        "Connected 3",
        "Reconnecting",
        "Connected 4",
        "Closed"
      ]
    )
    states.forEach((s, i) => {
      if (s._tag !== "Reconnecting") return
      const previous = states[i - 1]
      if (previous._tag === "Connected") {
        // the loss starts an outage: attempt 1, caused by the connection ending
        assert.strictEqual(s.attempt, 1)
        assert.strictEqual(s.cause._tag, "ConnectionClosed")
      } else {
        assert.strictEqual(previous._tag, "Reconnecting")
        assert.strictEqual(s.attempt, (previous as typeof s).attempt + 1)
      }
    })
    assert.isAtLeast(outcomes.ok, 4 * LOOPS)
    const closed = states[states.length - 1]
    assert.isTrue(closed._tag === "Closed" && closed.error === undefined)
  })

describe("Reconnecting", () => {
  it.scopedLive(
    "four loops of calls survive three restarts of a TypeScript server",
    () => survivesRestarts(startTs, 0),
    TIMEOUT
  )

  it.scopedLive("a netref of an earlier connection fails with StaleReference", () =>
    Effect.gen(function*() {
      let serverScope = yield* Scope.make()
      const port = yield* startTs(0).pipe(Scope.extend(serverScope))
      const client = yield* Reconnecting.make({ port, ...fast }).pipe(Effect.provide(quiet))
      yield* awaitState(client, isConnected(1))
      const counter = yield* client.use((conn) => conn.root.counter())
      assert.strictEqual(client.generationOf(counter), 1)
      assert.strictEqual(yield* client.withRef(counter, incr), 1)

      yield* Scope.close(serverScope, Exit.void)
      yield* awaitState(client, isReconnecting)
      const down = yield* Effect.flip(client.withRef(counter, incr))
      assert.strictEqual(down._tag, "StaleReference")
      assert.deepInclude(down, { reason: "Closed", generation: 1, current: undefined })
      const notQueued = yield* Effect.flip(client.call("add", 1, 1))
      assert.deepInclude(notQueued, { _tag: "Disconnected", reason: "Down" })

      serverScope = yield* Scope.make()
      yield* startTs(port).pipe(Scope.extend(serverScope))
      yield* awaitState(client, isConnected(2))
      const stale = yield* Effect.flip(client.withRef(counter, incr))
      assert.strictEqual(stale._tag, "StaleReference")
      assert.deepInclude(stale, { reason: "Replaced", generation: 1, current: 2 })
      assert.match(stale.message, /^stale reference: <netref .+> belongs to connection #1, which is gone/)
      // used inside a call on the new connection, it fails the same way rather than reach it
      const inUse = yield* Effect.flip(client.use(() => incr(counter)))
      assert.deepInclude(inUse, { _tag: "StaleReference", current: 2 })
      // and used bare, it fails at once (it can never hang or reach the new connection)
      const bare = yield* Effect.flip(incr(counter))
      assert.strictEqual(bare._tag, "ConnectionClosed")

      const fresh = yield* client.use((conn) => conn.root.counter())
      assert.strictEqual(client.generationOf(fresh), 2)
      assert.strictEqual(yield* client.withRef(fresh, incr), 1)
    }), TIMEOUT)

  it.scopedLive("calls queue while down up to the bound, and run once reconnected", () =>
    Effect.gen(function*() {
      let serverScope = yield* Scope.make()
      const port = yield* startTs(0).pipe(Scope.extend(serverScope))
      const client = yield* Reconnecting.make({ port, queue: 2, ...fast }).pipe(Effect.provide(quiet))
      yield* awaitState(client, isConnected(1))
      assert.strictEqual(yield* client.call("add", 1, 1), 2)

      yield* Scope.close(serverScope, Exit.void)
      yield* awaitState(client, isReconnecting)
      const first = yield* Effect.fork(client.call("add", 1, 2))
      const second = yield* Effect.fork(client.call("add", 3, 4))
      yield* eventually(() => client.queued === 2, "two calls are queued")
      const beyond = yield* Effect.flip(client.call("add", 5, 6))
      assert.deepInclude(beyond, { _tag: "Disconnected", reason: "QueueFull" })
      assert.isNull(first.unsafePoll())

      serverScope = yield* Scope.make()
      yield* startTs(port).pipe(Scope.extend(serverScope))
      assert.strictEqual(yield* Fiber.join(first), 3)
      assert.strictEqual(yield* Fiber.join(second), 7)
      assert.strictEqual(client.generation, 2)
      assert.strictEqual(client.queued, 0)
    }), TIMEOUT)

  it.scopedLive("after maxAttempts the client is Closed with the last error; calls fail", () =>
    Effect.gen(function*() {
      const port = yield* freePort("tcp", "127.0.0.1")
      const client = yield* Reconnecting.make({
        port,
        wireVersion: 5,
        maxAttempts: 3,
        baseDelay: "10 millis",
        queue: 5
      })
        .pipe(Effect.provide(quiet))
      const states = yield* record(client)
      const queued = yield* Effect.fork(client.call("add", 1, 1))
      const closed = yield* awaitState(client, isClosed)
      assert.strictEqual(closed.error?._tag, "SocketError")
      assert.match(closed.error!.message, /ECONNREFUSED|refused/)
      assert.deepStrictEqual(
        states.map((s) => (s._tag === "Reconnecting" ? `Reconnecting ${s.attempt}` : s._tag)),
        ["Connecting", "Reconnecting 1", "Reconnecting 2", "Reconnecting 3", "Closed"]
      )
      const failed = yield* Effect.flip(Fiber.join(queued))
      assert.deepInclude(failed, { _tag: "Disconnected", reason: "Closed" })
      assert.strictEqual((failed as Reconnecting.Disconnected).cause, closed.error)
      const later = yield* Effect.flip(client.call("add", 1, 1))
      assert.deepInclude(later, { _tag: "Disconnected", reason: "Closed" })
    }), TIMEOUT)

  it.scopedLive(
    "with a service name, each attempt finds the server afresh through the registry",
    () =>
      Effect.gen(function*() {
        const registry = yield* RegistryServer.makeTcpServer({ port: 0 })
        const registrar = yield* RegistryClient.makeTcp({ host: "127.0.0.1", port: registry.address.port })
        const startRegistered = Server.make(ReconnectTestService, { port: 0, registrar }).pipe(Effect.provide(quiet))
        let serverScope = yield* Scope.make()
        const first = yield* startRegistered.pipe(Scope.extend(serverScope))
        const client = yield* Reconnecting.make({ serviceName: "RECONNECTTEST", registrar, ...fast }).pipe(
          Effect.provide(quiet)
        )
        yield* awaitState(client, isConnected(1))
        assert.strictEqual(yield* client.call("add", 2, 2), 4)
        assert.strictEqual(first.connections.size, 1)

        yield* Scope.close(serverScope, Exit.void)
        yield* awaitState(client, isReconnecting)
        serverScope = yield* Scope.make()
        const second = yield* startRegistered.pipe(Scope.extend(serverScope))
        assert.notStrictEqual(second.port, first.port)
        yield* awaitState(client, isConnected(2))
        assert.strictEqual(yield* client.call("add", 3, 3), 6)
        // the client found the new port through the registry
        yield* eventually(() => second.connections.size === 1, "the second server serves the client")
      }),
    TIMEOUT
  )

  it.live("rpyc.reconnecting: the Promise helper for scripts", () =>
    Effect.gen(function*() {
      const scope = yield* Scope.make()
      const port = yield* startTs(0).pipe(Scope.extend(scope))
      const client = yield* Effect.promise(() => rpyc.reconnecting("127.0.0.1", port, { ...fast, rpycLogs: false }))
      const seen: Array<string> = []
      const unsubscribe = client.subscribe((state) => seen.push(state._tag))
      yield* Effect.promise(() => client.ready)
      assert.strictEqual(yield* Effect.promise(() => client.call("add", 20, 22)), 42)
      const counter = yield* Effect.promise(() => client.use((conn) => conn.root.counter()))
      assert.strictEqual(yield* Effect.promise(() => client.withRef(counter, incr)), 1)
      yield* Scope.close(scope, Exit.void)
      const error = yield* Effect.promise(() => client.call("add", 1, 1).then(() => undefined, (e: unknown) => e))
      assert.include(["Disconnected"], (error as { _tag?: string })._tag)
      unsubscribe()
      yield* Effect.promise(() => client.close())
      assert.strictEqual(client.state._tag, "Closed")
      assert.include(seen, "Connected")
    }), TIMEOUT)
})

describePython("Reconnecting to Python", () => {
  it.scopedLive(
    "four loops of calls survive three restarts of a Python ThreadedServer",
    () => Effect.flatMap(freePort("tcp", "127.0.0.1"), (port) => survivesRestarts(startPython, port)),
    TIMEOUT
  )
})
