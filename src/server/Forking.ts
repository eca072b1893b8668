/**
 * RPyC's `ForkingServer`: one OS process per connection (PROTOCOL.md §7).
 *
 * Node cannot `fork()`, so the parent accepts each connection (paused, nothing read) and hands the
 * socket to a freshly spawned worker process (`ForkWorker`) over an IPC channel; the worker serves
 * that one connection and exits. The worker loads the service from a module ({@link ServiceRef}),
 * since a class cannot cross a process boundary. The parent logs `accepted` and `goodbye`, the
 * worker's log lines (`welcome`, errors) are relayed to the parent's logger, and closing the server
 * terminates the workers (SIGTERM: each closes its connection cleanly; SIGKILL after a grace period).
 *
 * @since 0.1.0
 */
import type * as SocketServer from "@effect/platform/SocketServer"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import type * as ChildProcess from "node:child_process"
import type * as Net from "node:net"
import * as ForkParent from "./ForkParent.js"
import type * as Server from "./Server.js"

/**
 * Where a worker process finds the service to serve: a module and the name of its export (a service
 * class, or an instance shared by nothing but that worker's one connection).
 *
 * @since 0.1.0 @category models
 */
export interface ServiceRef {
  /** An absolute path or a `file:` URL (TypeScript sources work when running under tsx). */
  readonly module: string | URL
  /** The export holding the service; default `"default"`. */
  readonly export?: string | undefined
}

/**
 * Options of {@link make}: where to listen and how to serve, as `Server.make` (without registration),
 * plus how to run the workers.
 *
 * @since 0.1.0 @category models
 */
export interface Options extends Server.ListenOptions, Server.ServeOptions {
  /**
   * Node flags of the workers. Default: `Stdio.loaderExecArgv()` (none when this library runs as
   * JavaScript; the tsx loader when it runs from its TypeScript sources, so the workers can load them too).
   */
  readonly execArgv?: ReadonlyArray<string> | undefined
  /** Environment of the workers; default this process's. */
  readonly env?: NodeJS.ProcessEnv | undefined
  /** How long a worker may take to close after SIGTERM before SIGKILL; default 3 s. */
  readonly killTimeout?: Duration.DurationInput | undefined
}

/**
 * A running forking server.
 *
 * @since 0.1.0 @category models
 */
export interface ForkingServer {
  readonly address: SocketServer.Address
  /** The bound TCP port (`undefined` for a Unix socket). */
  readonly port: number | undefined
  /** The bound TCP address (`undefined` for a Unix socket). */
  readonly host: string | undefined
  readonly serviceName: string
  readonly aliases: ReadonlyArray<string>
  /** The process ids of the workers serving a connection now. */
  readonly workers: ReadonlySet<number>
}

/** SIGTERM (the worker closes its connection), SIGKILL after `grace`; returns once it is gone. */
const terminate = (child: ChildProcess.ChildProcess, grace: Duration.Duration): Effect.Effect<void> =>
  Effect.gen(function*() {
    if (ForkParent.hasExited(child)) return
    child.kill("SIGTERM")
    const exited = yield* Effect.timeoutOption(Effect.interruptible(ForkParent.awaitExit(child)), grace)
    if (Option.isNone(exited)) {
      child.kill("SIGKILL")
      yield* ForkParent.awaitExit(child)
    }
  })

/**
 * Serves every connection in its own OS process.
 *
 * The parent listens (TCP, Unix socket or TLS), accepts each connection without reading from it, and
 * sends the socket (`child.send(msg, socket)`) to a fresh worker process (`node ForkWorker.js …` with
 * an IPC channel) that has already loaded `service.module`. The worker does the TLS handshake itself
 * when TLS is on, serves the connection, and exits when it closes. One worker is always started ahead
 * (it serves the next connection, and its replacement is started then), so a client does not wait for
 * a Node process to boot; the first one has booted before this Effect succeeds, so a service module
 * that does not load fails here. Protocol config crosses as JSON: function-valued keys are dropped.
 *
 * Logs: the parent logs `accepted <peer>` and, when the worker has exited, `goodbye <peer>`; the worker's
 * own lines (`welcome <peer>`, failures) go through the parent's logger. Closing the scope stops
 * listening and terminates every worker (SIGTERM, which makes a worker close its connection cleanly,
 * then SIGKILL after `killTimeout`), and waits for them to exit.
 *
 * @since 0.1.0 @category constructors
 */
export const make = (
  service: ServiceRef,
  options: Options = {}
): Effect.Effect<ForkingServer, SocketServer.SocketServerError, Scope.Scope> =>
  Effect.gen(function*() {
    const { aliases, location, spec } = yield* ForkParent.loadService(service)
    const { accept, address, logStarted, relay, serveMessage } = yield* ForkParent.listen(spec, options)
    const grace = Duration.decode(options.killTimeout ?? Duration.seconds(3))
    const serverScope = yield* Effect.scope
    const settings: ForkParent.WorkerSettings = {
      entry: "ForkWorker",
      location,
      execArgv: options.execArgv,
      env: options.env
    }

    /** Every worker process, started or serving; all are terminated when the server closes. */
    const children = new Set<ChildProcess.ChildProcess>()
    /** The pids of the workers that got a connection. */
    const workers = new Set<number>()
    let closing = false

    /** Spawns a worker and waits until it has loaded the service. */
    const startWorker: Effect.Effect<ChildProcess.ChildProcess, Error> = Effect.gen(function*() {
      if (closing) return yield* Effect.fail(new Error("server closing"))
      const { child, started } = yield* ForkParent.spawnWorker(settings, relay)
      children.add(child)
      child.once("exit", () => children.delete(child))
      yield* started.pipe(Effect.onInterrupt(() => terminate(child, grace)))
      return child
    })

    // the first worker must boot before the server counts as started: a broken service module fails here
    const first = yield* startWorker.pipe(Effect.mapError(ForkParent.openError))
    let spare: Fiber.RuntimeFiber<ChildProcess.ChildProcess, Error> = yield* Effect.forkIn(
      Effect.succeed(first),
      serverScope
    )
    const takeWorker = Effect.gen(function*() {
      const fresh = yield* Effect.forkIn(startWorker, serverScope)
      // swapped with no yield in between, so concurrent connections never share a worker
      const next = spare
      spare = fresh
      // Fiber.await, not Fiber.join: join would also merge the spare fiber's FiberRefs into this one,
      // context included, and this handler's finalizers would land in the scope of the handler that
      // forked the spare
      const worker = yield* Fiber.await(next)
      // the spare died meanwhile (or failed to start): try once more with a fresh one
      return Exit.isSuccess(worker) ? worker.value : yield* startWorker
    })

    const handle = (raw: Net.Socket) =>
      Effect.gen(function*() {
        const ends = ForkParent.endpoints(raw, address)
        const peer = ends[1]
        yield* Effect.logInfo(`accepted ${peer}`)
        const child = yield* Effect.acquireRelease(takeWorker, (child) => terminate(child, grace))
        const pid = child.pid!
        workers.add(pid)
        yield* Effect.addFinalizer(() => Effect.sync(() => workers.delete(pid)))
        yield* ForkParent.handOver(child, serveMessage(ends), raw)
        yield* ForkParent.awaitExit(child)
        yield* Effect.logInfo(`goodbye ${peer}`)
      }).pipe(Effect.scoped)

    yield* accept(handle, "cannot serve the connection")
    // runs before the accept loop is interrupted: the handlers still see their workers exit
    yield* Effect.addFinalizer(() =>
      Effect.suspend(() => {
        closing = true
        return Effect.forEach([...children], (child) => terminate(child, grace), {
          concurrency: "unbounded",
          discard: true
        })
      })
    )
    yield* logStarted()
    return {
      ...ForkParent.boundAddress(address),
      serviceName: aliases[0],
      aliases,
      workers
    }
  })
