/**
 * Reconnecting clients: a connection to a server that may restart, made again with a `Schedule`
 * whenever it is lost, with its state observable and its failures typed.
 *
 * RPyC has no reconnection: a client whose server restarts is dead, with every netref it holds. A
 * {@link ReconnectingClient} keeps one connection at a time and numbers them (generations):
 *
 * - calls go through {@link ReconnectingClient.use} (or `call`), which runs them on the connection
 *   of the moment; while there is none, a call fails at once with {@link Disconnected}, or waits for
 *   the next connection when a `queue` bound is set (calls beyond the bound fail with `Disconnected`);
 *   a call whose connection is lost while it runs fails with `Disconnected` reason `"Lost"`;
 * - netrefs belong to the generation that made them: once that connection is gone they can only fail,
 *   never hang or reach the new connection's objects. Through `ref` or `withRef`, using one fails
 *   with {@link StaleReference} naming the netref and its generation; inside `use` it fails with a
 *   `StaleReference` too (which netref is not known there); used bare, with the engine's
 *   `ConnectionClosed`;
 * - the state (`Connecting`, `Connected`, `Reconnecting`, `Closed`) is a `SubscriptionRef`, and
 *   `changes` streams every transition;
 * - each outage retries with `schedule` (default: exponential backoff from 100 ms, jittered, capped
 *   at 5 s, at most `maxAttempts` (10) attempts), connecting to `host`/`port` or, with
 *   `serviceName`, to a server of that service found afresh through the registry at every attempt
 *   (`Client.connectByService`). When the schedule gives up the state becomes `Closed` with the last
 *   error, and every call fails with `Disconnected` reason `"Closed"`.
 *
 * ```ts
 * const client = yield* Reconnecting.make({ port: 18861, queue: 100 })
 * const n = yield* client.use((conn) => conn.root.get_answer())
 * ```
 *
 * @since 0.1.0
 */
import type * as Socket from "@effect/platform/Socket"
import * as Cause from "effect/Cause"
import * as Data from "effect/Data"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as ExecutionStrategy from "effect/ExecutionStrategy"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as FiberId from "effect/FiberId"
import * as Option from "effect/Option"
import * as Schedule from "effect/Schedule"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as SubscriptionRef from "effect/SubscriptionRef"
import { ConnectionClosed, type RemoteFailure } from "../internal/base/Errors.js"
import type * as Connection from "../internal/engine/Engine.js"
import * as Netref from "../internal/netref/Netref.js"
import * as Logging from "../Logging.js"
import type * as Registry from "../registry/Registry.js"
import * as RegistryClient from "../registry/RegistryClient.js"
import * as Client from "./Client.js"

// ---------------------------------------------------------------------------------------------
// models

/**
 * Why an attempt to connect failed, or why a connection was lost.
 *
 * @since 0.1.0 @category models
 */
export type ConnectFailure = Socket.SocketError | ConnectionClosed | Registry.DiscoveryError

/**
 * The state of a reconnecting client:
 *
 * - `Connecting`: the first connection is being made;
 * - `Connected`: connection number `generation` (1, 2, …) is up;
 * - `Reconnecting`: attempt `attempt` (1, 2, … in this outage) is under way or waiting for its turn;
 *   `cause` is why the previous one failed, or why the connection was lost;
 * - `Closed`: for good: closed by its owner (`error` undefined), or the schedule gave up (`error` is
 *   the last failure).
 *
 * @since 0.1.0 @category models
 */
export type State = Data.TaggedEnum<{
  Connecting: {}
  Connected: { readonly generation: number }
  Reconnecting: { readonly attempt: number; readonly cause: ConnectFailure }
  Closed: { readonly error: ConnectFailure | undefined }
}>

/**
 * Constructors and matchers of {@link State}.
 *
 * @since 0.1.0 @category models
 */
export const State = Data.taggedEnum<State>()

/**
 * A call could not run because there is no connection: `"Down"` (none right now, and calls are not
 * queued), `"QueueFull"` (none right now, and the queue is at its bound), `"Lost"` (the connection
 * went away while the call ran), `"Closed"` (the client is closed, or gave up reconnecting; `cause`
 * is the last failure).
 *
 * @since 0.1.0 @category errors
 */
export class Disconnected extends Data.TaggedError("Disconnected")<{
  readonly reason: "Down" | "QueueFull" | "Lost" | "Closed"
  readonly detail: string
  readonly cause?: unknown
}> {
  override get message(): string {
    return `disconnected (${this.reason}): ${this.detail}`
  }
}

/**
 * A netref (or an operation on one) of an earlier connection was used: the connection of
 * `generation` is gone (`"Closed"`: none is up now; `"Replaced"`: connection `current` replaced it).
 * Its objects died with that connection; get them again through the current one.
 *
 * @since 0.1.0 @category errors
 */
export class StaleReference extends Data.TaggedError("StaleReference")<{
  readonly reason: "Closed" | "Replaced"
  /** The netref, as it prints (`<netref builtins.list #1234>`), when known. */
  readonly netref: string
  /** The generation of the connection that made it, when known. */
  readonly generation: number | undefined
  /** The generation up now, if any. */
  readonly current: number | undefined
}> {
  override get message(): string {
    const of = this.generation === undefined ? "an earlier connection" : `connection #${this.generation}`
    const now = this.current === undefined ? "no connection is up" : `connection #${this.current} replaced it`
    return `stale reference: ${this.netref} belongs to ${of}, which is gone (${now})`
  }
}

/**
 * Where to connect: a TCP address, or a service name looked up through `registrar` at every attempt.
 *
 * @since 0.1.0 @category models
 */
export type Target =
  | {
    /** Default `Tcp.defaultHost(ipv6)`. */
    readonly host?: string | undefined
    readonly port: number
    readonly ipv6?: boolean | undefined
    readonly keepAlive?: boolean | undefined
    readonly openTimeout?: Duration.DurationInput | undefined
  }
  | {
    readonly serviceName: string
    readonly registrar: RegistryClient.Registrar
    /** Keep only servers on this host. */
    readonly host?: string | undefined
  }

/**
 * Options of {@link make}.
 *
 * @since 0.1.0 @category models
 */
export type Options = Target & Client.ConnectionOptions & {
  /**
   * When to try again after a failed attempt or a lost connection (its input is the failure);
   * default {@link defaultSchedule} with `maxAttempts`, `baseDelay` and `maxDelay`.
   */
  readonly schedule?: Schedule.Schedule<unknown, ConnectFailure> | undefined
  /** Attempts per outage of the default schedule; default 10. */
  readonly maxAttempts?: number | undefined
  /** First delay of the default schedule; default 100 ms. */
  readonly baseDelay?: Duration.DurationInput | undefined
  /** Longest delay of the default schedule; default 5 s. */
  readonly maxDelay?: Duration.DurationInput | undefined
  /** How many calls may wait for a connection while there is none; default 0 (they fail at once). */
  readonly queue?: number | undefined
}

/**
 * The errors of a call through a reconnecting client: the call's own, with `ConnectionClosed`
 * replaced by {@link Disconnected} or {@link StaleReference}.
 *
 * @since 0.1.0 @category models
 */
export type CallError<E> = Exclude<E, ConnectionClosed> | Disconnected | StaleReference

/**
 * A reconnecting client.
 *
 * @since 0.1.0 @category models
 */
export interface ReconnectingClient<Api = any> {
  /** The state; read it, or subscribe through `changes`. */
  readonly state: SubscriptionRef.SubscriptionRef<State>
  /** The current state, then every transition. */
  readonly changes: Stream.Stream<State>
  /** The generation of the connection up now, if any. */
  readonly generation: number | undefined
  /** How many calls wait for a connection now. */
  readonly queued: number
  /** The connection up now (waiting for one within the queue bound). */
  readonly connection: Effect.Effect<Connection.Connection<Api>, Disconnected>
  /**
   * Runs `f` on the connection of the moment (and its generation); see the module comment for the
   * failures.
   */
  readonly use: <A, E>(
    f: (conn: Connection.Connection<Api>, generation: number) => Effect.Effect<A, E>
  ) => Effect.Effect<A, CallError<E>>
  /** `root.<name>(...args)` on the connection of the moment. */
  readonly call: (name: string, ...args: ReadonlyArray<unknown>) => Effect.Effect<unknown, CallError<RemoteFailure>>
  /** `ref` itself while its connection is the one up; {@link StaleReference} once it is gone. */
  readonly ref: <R extends Netref.Netref>(ref: R) => Effect.Effect<R, StaleReference>
  /** `use` for an operation on a netref, checking first that the netref is not stale. */
  readonly withRef: <R extends Netref.Netref, A, E>(
    ref: R,
    f: (ref: R) => Effect.Effect<A, E>
  ) => Effect.Effect<A, CallError<E>>
  /** The generation of the connection that made `ref` (undefined for a netref of another client). */
  readonly generationOf: (ref: Netref.Netref) => number | undefined
  /** Closes the client and its connection: the state becomes `Closed`, calls fail. */
  readonly close: Effect.Effect<void>
}

/**
 * The default reconnection schedule: exponential backoff from `baseDelay` (doubling), each delay
 * jittered (×0.8–1.2) and capped at `maxDelay`, at most `maxAttempts` attempts.
 *
 * @since 0.1.0 @category constructors
 */
export const defaultSchedule = (
  options: {
    readonly maxAttempts?: number | undefined
    readonly baseDelay?: Duration.DurationInput | undefined
    readonly maxDelay?: Duration.DurationInput | undefined
  } = {}
): Schedule.Schedule<unknown, unknown> => {
  const maxDelay = Duration.decode(options.maxDelay ?? Duration.seconds(5))
  return Schedule.exponential(options.baseDelay ?? Duration.millis(100)).pipe(
    Schedule.jittered,
    Schedule.modifyDelay((delay) => Duration.min(delay, maxDelay)),
    Schedule.intersect(Schedule.recurs(options.maxAttempts ?? 10))
  )
}

const isConnectionClosed = (u: unknown): u is ConnectionClosed => u instanceof ConnectionClosed

const describeRef = (ref: Netref.Netref): string =>
  String((ref as unknown as Record<symbol, () => string>)[Symbol.toPrimitive]())

// ---------------------------------------------------------------------------------------------
// constructor

/**
 * Starts a reconnecting client (see the module comment). It returns at once, in state `Connecting`;
 * await a state of `changes` (or queue calls) to wait for the first connection. Closing the scope
 * closes the client.
 *
 * @since 0.1.0 @category constructors
 */
export const make = <Api = any>(
  options: Options
): Effect.Effect<ReconnectingClient<Api>, never, Scope.Scope> =>
  Effect.gen(function*() {
    const state = yield* SubscriptionRef.make<State>(State.Connecting())
    const schedule: Schedule.Schedule<unknown, ConnectFailure> = options.schedule ?? defaultSchedule(options)
    const queueBound = options.queue ?? 0
    const outer = yield* Effect.scope
    const generations = new WeakMap<object, number>()

    let current: { readonly conn: Connection.Connection<Api>; readonly generation: number } | undefined
    let up = yield* Deferred.make<NonNullable<typeof current>, Disconnected>()
    let waiting = 0
    let closed: Disconnected | undefined
    let generation = 0

    const connectOnce: Effect.Effect<Connection.Connection<Api>, ConnectFailure, Scope.Scope> = "serviceName" in options
      ? Client.connectByService<Api>(options.serviceName, options).pipe(
        Effect.provideService(RegistryClient.Registrar, options.registrar)
      )
      : Client.connect<Api>(options)

    /** The connection `conn` is gone: calls from now on wait for (or fail without) the next one. */
    const markDown = (conn: Connection.Connection<Api>): void => {
      if (current?.conn !== conn) return
      current = undefined
      up = Deferred.unsafeMake(FiberId.none)
    }

    const finish = (error: ConnectFailure | undefined) =>
      Effect.gen(function*() {
        if (closed !== undefined) return
        closed = new Disconnected({
          reason: "Closed",
          detail: error === undefined ? "the client is closed" : `gave up reconnecting: ${error.message}`,
          cause: error
        })
        if (current !== undefined) markDown(current.conn)
        yield* Deferred.fail(up, closed)
        yield* SubscriptionRef.set(state, State.Closed({ error }))
      })

    const publish = (next: State) => SubscriptionRef.set(state, next)

    /** Connects, retrying with the schedule; fails (with the last error) once it gives up. */
    const establish = (loss: ConnectFailure | undefined) =>
      Effect.gen(function*() {
        const driver = yield* Schedule.driver(schedule)
        let attempt = 0
        if (loss !== undefined) {
          attempt = 1
          yield* publish(State.Reconnecting({ attempt, cause: loss }))
          yield* Effect.mapError(driver.next(loss), () => loss)
        }
        while (true) {
          const scope = yield* Scope.fork(outer, ExecutionStrategy.sequential)
          const result = yield* Effect.either(Scope.extend(connectOnce, scope)).pipe(
            Effect.onInterrupt(() => Scope.close(scope, Exit.void))
          )
          if (result._tag === "Right") return { conn: result.right, scope }
          yield* Scope.close(scope, Exit.void)
          const error = result.left
          yield* Effect.logDebug(`reconnecting: attempt ${attempt} failed: ${error.message}`)
          yield* Effect.mapError(driver.next(error), () => error)
          attempt++
          yield* publish(State.Reconnecting({ attempt, cause: error }))
        }
      })

    const loop = Effect.gen(function*() {
      let loss: ConnectFailure | undefined
      while (true) {
        const established = yield* Effect.either(establish(loss))
        if (established._tag === "Left") return yield* finish(established.left)
        const { conn, scope } = established.right
        generation++
        generations.set(conn, generation)
        current = { conn, generation }
        yield* Deferred.succeed(up, current)
        yield* publish(State.Connected({ generation }))
        yield* conn.awaitClose.pipe(
          Effect.ensuring(Effect.suspend(() => {
            markDown(conn)
            return Scope.close(scope, Exit.void)
          }))
        )
        yield* Effect.logInfo(`reconnecting: connection #${generation} lost`)
        loss = new ConnectionClosed({ reason: "PeerClosed", detail: `connection #${generation} ended` })
      }
    })

    const fiber = yield* Effect.forkIn(loop, outer)
    // the loop first, so that nothing is published after Closed
    const close = Fiber.interrupt(fiber).pipe(
      Effect.zipRight(Effect.suspend(() => finish(undefined))),
      Effect.uninterruptible
    )
    yield* Effect.addFinalizer(() => close)

    const connection: Effect.Effect<NonNullable<typeof current>, Disconnected> = Effect.suspend(() => {
      if (current !== undefined && current.conn.closed) markDown(current.conn)
      if (current !== undefined) return Effect.succeed(current)
      if (closed !== undefined) return Effect.fail(closed)
      if (waiting >= queueBound) {
        return Effect.fail(
          queueBound === 0
            ? new Disconnected({ reason: "Down", detail: "no connection is up (calls are not queued)" })
            : new Disconnected({ reason: "QueueFull", detail: `no connection is up and ${waiting} calls wait already` })
        )
      }
      waiting++
      return Deferred.await(up).pipe(Effect.ensuring(Effect.sync(() => waiting--)))
    })

    const staleness = (ref: Netref.Netref): StaleReference | undefined => {
      const owner = Netref.stateOf(ref)?.owner
      const made = owner === undefined ? undefined : generations.get(owner)
      if (owner !== undefined && (current?.conn as unknown) === owner && !owner.closed) return undefined
      return new StaleReference({
        reason: current === undefined ? "Closed" : "Replaced",
        netref: describeRef(ref),
        generation: made,
        current: current?.generation
      })
    }

    const use = <A, E>(
      f: (conn: Connection.Connection<Api>, generation: number) => Effect.Effect<A, E>
    ): Effect.Effect<A, CallError<E>> =>
      Effect.flatMap(connection, ({ conn, generation: made }) =>
        Effect.suspend(() => f(conn, made)).pipe(
          Effect.catchIf(isConnectionClosed, (error): Effect.Effect<never, Disconnected | StaleReference> =>
            conn.closed
              ? Effect.fail(
                new Disconnected({
                  reason: "Lost",
                  detail: `connection #${made} was lost during the call`,
                  cause: error
                })
              )
              // the connection of this call is up: what failed was a netref of an earlier one
              : Effect.fail(
                new StaleReference({
                  reason: "Replaced",
                  netref: "a netref",
                  generation: undefined,
                  current: made
                })
              ))
        ) as Effect.Effect<A, CallError<E>>)

    const ref = <R extends Netref.Netref>(r: R): Effect.Effect<R, StaleReference> =>
      Effect.suspend(() => {
        const stale = staleness(r)
        return stale === undefined ? Effect.succeed(r) : Effect.fail(stale)
      })

    return {
      state,
      changes: state.changes,
      get generation() {
        return current?.generation
      },
      get queued() {
        return waiting
      },
      connection: Effect.map(connection, (c) => c.conn),
      use,
      call: (name, ...args) =>
        use((conn) => (conn.root as any)[name](...args) as Effect.Effect<unknown, RemoteFailure>),
      ref,
      withRef: (r, f) => Effect.flatMap(ref(r), (r) => use(() => f(r))),
      generationOf: (r) => {
        const owner = Netref.stateOf(r)?.owner
        return owner === undefined ? undefined : generations.get(owner)
      },
      close
    } satisfies ReconnectingClient<Api>
  })

// ---------------------------------------------------------------------------------------------
// scripts

/**
 * A reconnecting client for scripts (see {@link runScript}): Promises instead of Effects, the same
 * typed errors as rejections.
 *
 * @since 0.1.0 @category scripts
 */
export interface ScriptClient<Api = any> {
  /** The state now. */
  readonly state: State
  /** The generation of the connection up now, if any. */
  readonly generation: number | undefined
  /** Resolves once the first connection is up; rejects with `Disconnected` if the client closes first. */
  readonly ready: Promise<void>
  /** Runs `f` on the connection of the moment; `f` may return a remote operation, an Effect or a Promise. */
  readonly use: <A>(
    f: (conn: Connection.Connection<Api>, generation: number) => Effect.Effect<A, unknown> | PromiseLike<A>
  ) => Promise<A>
  /** `root.<name>(...args)` on the connection of the moment. */
  readonly call: (name: string, ...args: ReadonlyArray<unknown>) => Promise<unknown>
  /** `use` for an operation on a netref; rejects with `StaleReference` once its connection is gone. */
  readonly withRef: <R extends Netref.Netref, A>(
    ref: R,
    f: (ref: R) => Effect.Effect<A, unknown> | PromiseLike<A>
  ) => Promise<A>
  /** Calls `listener` with the state now and every transition; returns the unsubscribe function. */
  readonly subscribe: (listener: (state: State) => void) => () => void
  /** Closes the client and its connection. */
  readonly close: () => Promise<void>
}

const runCall = <A>(effect: Effect.Effect<A, unknown>): Promise<A> =>
  Effect.runPromiseExit(effect).then((exit) => {
    if (Exit.isSuccess(exit)) return exit.value
    throw Cause.squash(exit.cause)
  })

const fromResult = <A>(result: Effect.Effect<A, unknown> | PromiseLike<A>): Effect.Effect<A, unknown> =>
  Effect.isEffect(result) ? result : Effect.tryPromise({ try: () => Promise.resolve(result), catch: (e) => e })

/**
 * Starts a reconnecting client for a script (the engine of `rpyc.reconnecting`), logging as
 * `options` say (`Logging.layerScript`). Resolves at once; await `ready` for the first connection.
 *
 * @since 0.1.0 @category scripts
 */
export const runScript = <Api = any>(options: Options & Logging.ScriptOptions): Promise<ScriptClient<Api>> =>
  new Promise((resolve) => {
    const program = Effect.gen(function*() {
      const client = yield* make<Api>(options)
      const ready = runCall(
        Stream.runHead(Stream.filter(client.changes, (s) => s._tag === "Connected" || s._tag === "Closed")).pipe(
          Effect.flatMap((s) =>
            Option.isSome(s) && s.value._tag === "Connected"
              ? Effect.void
              : Effect.fail(new Disconnected({ reason: "Closed", detail: "closed before connecting" }))
          )
        )
      )
      // a script that never awaits `ready` must not see an unhandled rejection
      ready.catch(() => {})
      resolve({
        get state() {
          return Effect.runSync(SubscriptionRef.get(client.state))
        },
        get generation() {
          return client.generation
        },
        ready,
        use: (f) => runCall(client.use((conn, generation) => fromResult(f(conn, generation)))),
        call: (name, ...args) => runCall(client.call(name, ...args)),
        withRef: (ref, f) => runCall(client.withRef(ref, (r) => fromResult(f(r)))),
        subscribe: (listener) => {
          const fiber = Effect.runFork(Stream.runForEach(client.changes, (s) => Effect.sync(() => listener(s))))
          return () => Effect.runFork(Fiber.interrupt(fiber))
        },
        close: () => Effect.runPromise(Fiber.interrupt(running)).then(() => undefined)
      })
      return yield* Effect.never
    }).pipe(Effect.scoped, Effect.provide(Logging.layerScript(options)))
    const running = Effect.runFork(program)
  })
