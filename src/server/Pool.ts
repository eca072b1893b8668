/**
 * Pooled servers: N long-lived worker processes share one listening port, so that a CPU-bound
 * method on one connection does not stall the others (a TypeScript server has one event loop).
 *
 * The parent listens and accepts each connection without reading from it (as `Forking` does), then
 * hands the socket round-robin to one of its workers (`PoolWorker`), which serves it with the same
 * engine as every other server mode, alongside its other connections. Workers load the service from
 * a module (`Forking.ServiceRef`), since a class cannot cross a process boundary.
 *
 * - A worker that dies (a crash, a kill) is logged and replaced; only its own connections fail.
 * - Closing the scope shuts down gracefully: stop accepting, let every worker drain (its connections
 *   are served until they close, up to `drainTimeout`; the rest are closed cleanly), then the workers
 *   exit (SIGKILL for one still there `killTimeout` later).
 *
 * ```ts
 * const server = yield* Pool.make({ module: new URL("./MyService.js", import.meta.url), export: "MyService" }, {
 *   port: 18861,
 *   workers: 4
 * })
 * ```
 *
 * @since 0.1.0
 */
import type * as SocketServer from "@effect/platform/SocketServer"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Runtime from "effect/Runtime"
import * as Schedule from "effect/Schedule"
import type * as Scope from "effect/Scope"
import type * as ChildProcess from "node:child_process"
import type * as Net from "node:net"
import * as Os from "node:os"
import type * as Forking from "./Forking.js"
import * as ForkParent from "./ForkParent.js"
import type * as ForkProtocol from "./ForkProtocol.js"
import type * as Server from "./Server.js"

/**
 * Options of {@link make}: where to listen and how to serve, as `Server.make` (without registration),
 * plus the workers.
 *
 * @since 0.1.0 @category models
 */
export interface Options extends Server.ListenOptions, Server.ServeOptions {
  /** How many worker processes; default `os.availableParallelism()`. */
  readonly workers?: number | undefined
  /**
   * How long a graceful shutdown lets open connections run before closing them; default 10 s.
   */
  readonly drainTimeout?: Duration.DurationInput | undefined
  /** How long after the drain a worker may take to exit before SIGKILL; default 3 s. */
  readonly killTimeout?: Duration.DurationInput | undefined
  /** Node flags of the workers; default `Stdio.loaderExecArgv()` (as `Forking.Options.execArgv`). */
  readonly execArgv?: ReadonlyArray<string> | undefined
  /** Environment of the workers; default this process's. */
  readonly env?: NodeJS.ProcessEnv | undefined
}

/**
 * A running pooled server.
 *
 * @since 0.1.0 @category models
 */
export interface PoolServer {
  readonly address: SocketServer.Address
  /** The bound TCP port (`undefined` for a Unix socket). */
  readonly port: number | undefined
  /** The bound TCP address (`undefined` for a Unix socket). */
  readonly host: string | undefined
  readonly serviceName: string
  readonly aliases: ReadonlyArray<string>
  /** The process ids of the workers ready to serve now, in round-robin order. */
  readonly workers: ReadonlyArray<number>
  /** How many workers were replaced after dying. */
  readonly replacements: number
}

/**
 * The running pooled server of an Effect app.
 *
 * @since 0.1.0 @category tags
 */
export class RpycPool extends Context.Tag("effect-rpyc/Pool/RpycPool")<RpycPool, PoolServer>() {}

/** One place in the pool: the worker serving from it now, if any. */
interface Slot {
  readonly index: number
  child: ChildProcess.ChildProcess | undefined
}

/**
 * Serves `service` from a pool of worker processes sharing one listening socket (see the module
 * comment). The workers have booted before this Effect succeeds, so a service module that does not
 * load fails here (`SocketServerError` reason `"Open"`). Protocol config crosses as JSON:
 * function-valued keys are dropped.
 *
 * Logs: the parent logs `accepted <peer>` and which worker serves it; the workers' own lines
 * (`welcome`, `goodbye`, failures) go through the parent's logger; a dead worker is a warning
 * naming its pid and exit status.
 *
 * @since 0.1.0 @category constructors
 */
export const make = (
  service: Forking.ServiceRef,
  options: Options = {}
): Effect.Effect<PoolServer, SocketServer.SocketServerError, Scope.Scope> =>
  Effect.gen(function*() {
    const { aliases, location, spec } = yield* ForkParent.loadService(service)
    const size = options.workers ?? Os.availableParallelism()
    if (!Number.isSafeInteger(size) || size < 1) {
      return yield* ForkParent.openError(new Error(`workers must be a positive integer (got ${size})`))
    }
    const drainTimeout = Duration.decode(options.drainTimeout ?? Duration.seconds(10))
    const killTimeout = Duration.decode(options.killTimeout ?? Duration.seconds(3))
    const { accept, address, annotate, logStarted, netServer, relay, serveMessage } = yield* ForkParent.listen(
      spec,
      options
    )
    const serverScope = yield* Effect.scope
    const runtime = yield* Effect.runtime<never>()
    const runLog = (effect: Effect.Effect<void>) => Runtime.runFork(runtime)(effect.pipe(annotate))
    const settings: ForkParent.WorkerSettings = {
      entry: "PoolWorker",
      location,
      execArgv: options.execArgv,
      env: options.env
    }

    const slots: Array<Slot> = Array.from({ length: size }, (_, index) => ({ index, child: undefined }))
    let closing = false
    let replacements = 0
    let nextSlot = 0
    // the last resort, after the drain (or when the pool fails to start): no worker outlives the pool
    yield* Effect.addFinalizer(() =>
      Effect.sync(() => {
        closing = true
        for (const slot of slots) {
          if (slot.child !== undefined && !ForkParent.hasExited(slot.child)) slot.child.kill("SIGKILL")
        }
      })
    )

    /** Spawns the worker of `slot` and waits until it has loaded the service. */
    const startWorker = (slot: Slot): Effect.Effect<void, Error> =>
      Effect.gen(function*() {
        if (closing) return yield* Effect.fail(new Error("server closing"))
        const { child, started } = yield* ForkParent.spawnWorker(settings, relay)
        child.once("exit", (code, signal) => {
          if (slot.child !== child) return
          slot.child = undefined
          if (closing) return
          // its connections died with it; the others never noticed
          replacements++
          runLog(
            Effect.logWarning(`worker ${child.pid} exited (${signal ?? `code ${code}`}); starting a replacement`)
          )
          runLog(Effect.forkIn(replace(slot), serverScope).pipe(Effect.asVoid))
        })
        yield* started.pipe(Effect.onInterrupt(() => Effect.sync(() => child.kill("SIGKILL"))))
        slot.child = child
        // booted while the pool was closing: the drain has already looked for workers
        if (closing) child.kill("SIGTERM")
      })

    /** Starts a worker in `slot` again, retrying every second while it fails (a module mid-deploy). */
    const replace = (slot: Slot): Effect.Effect<void> =>
      startWorker(slot).pipe(
        Effect.tapError((error) =>
          closing ? Effect.void : Effect.logError(`cannot start a replacement worker: ${error.message}`)
        ),
        Effect.retry({ while: () => !closing, schedule: Schedule.spaced("1 second") }),
        Effect.ignore
      )

    // every worker boots before the server counts as started: a broken service module fails here
    yield* Effect.forEach(slots, startWorker, { concurrency: "unbounded", discard: true }).pipe(
      Effect.mapError(ForkParent.openError)
    )

    /** The next ready worker, round-robin; undefined while none is (all being replaced). */
    const pick = (): ChildProcess.ChildProcess | undefined => {
      for (let i = 0; i < size; i++) {
        const slot = slots[(nextSlot + i) % size]
        if (slot.child !== undefined && slot.child.connected) {
          nextSlot = (slot.index + 1) % size
          return slot.child
        }
      }
      return undefined
    }

    const handle = (raw: Net.Socket) =>
      Effect.gen(function*() {
        const ends = ForkParent.endpoints(raw, address)
        const peer = ends[1]
        const child = pick()
        if (child === undefined) return yield* Effect.logWarning(`accepted ${peer} but no worker is ready; closing it`)
        yield* Effect.logInfo(`accepted ${peer} (worker ${child.pid})`)
        // once sent, the parent's socket has no handle left: its close below touches nothing
        yield* ForkParent.handOver(child, serveMessage(ends), raw)
      })

    yield* accept(handle, "cannot hand over the connection")
    // runs first on close: stop accepting, drain the workers, and only then let the listener go
    yield* Effect.addFinalizer(() =>
      Effect.gen(function*() {
        closing = true
        netServer.close()
        const children = slots.flatMap((slot) => (slot.child === undefined ? [] : [slot.child]))
        yield* Effect.logInfo(`draining ${children.length} workers`).pipe(annotate)
        yield* Effect.forEach(children, (child) =>
          Effect.gen(function*() {
            if (child.connected) {
              child.send(
                { type: "drain", timeoutMillis: Duration.toMillis(drainTimeout) } satisfies ForkProtocol.DrainMessage
              )
            } else child.kill("SIGTERM")
            const exited = yield* Effect.timeoutOption(
              ForkParent.awaitExit(child),
              Duration.sum(drainTimeout, killTimeout)
            )
            if (Option.isNone(exited)) {
              child.kill("SIGKILL")
              yield* ForkParent.awaitExit(child)
            }
          }), { concurrency: "unbounded", discard: true })
      })
    )
    yield* logStarted(` with ${size} workers`)
    return {
      ...ForkParent.boundAddress(address),
      serviceName: aliases[0],
      aliases,
      get workers() {
        return slots.flatMap((slot) => (slot.child?.pid === undefined ? [] : [slot.child.pid]))
      },
      get replacements() {
        return replacements
      }
    }
  })

/**
 * {@link make} as a Layer providing {@link RpycPool}; the pool drains and stops when the layer is
 * released.
 *
 * @since 0.1.0 @category layers
 */
export const layer = (
  service: Forking.ServiceRef,
  options: Options = {}
): Layer.Layer<RpycPool, SocketServer.SocketServerError> => Layer.scoped(RpycPool, make(service, options))
