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
import * as NodeSocket from "@effect/platform-node/NodeSocket"
import type * as Socket from "@effect/platform/Socket"
import * as SocketServer from "@effect/platform/SocketServer"
import * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as FiberRef from "effect/FiberRef"
import * as Layer from "effect/Layer"
import * as LogLevel from "effect/LogLevel"
import * as Option from "effect/Option"
import * as Runtime from "effect/Runtime"
import * as Schedule from "effect/Schedule"
import type * as Scope from "effect/Scope"
import * as ChildProcess from "node:child_process"
import * as Net from "node:net"
import * as Os from "node:os"
import { fileURLToPath } from "node:url"
import * as Logging from "../Logging.js"
import * as Service from "../service/Service.js"
import * as Stdio from "../transport/Stdio.js"
import * as Tcp from "../transport/Tcp.js"
import * as Tls from "../transport/Tls.js"
import * as Unix from "../transport/Unix.js"
import type * as Forking from "./Forking.js"
import * as ForkProtocol from "./ForkProtocol.js"
import * as Server from "./Server.js"

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

const openError = (cause: unknown) => new SocketServer.SocketServerError({ reason: "Open", cause })

/** The worker's entry module, in the form this module runs as (TypeScript sources or built JavaScript). */
const workerEntry = (): string =>
  fileURLToPath(new URL(`./PoolWorker.${import.meta.url.endsWith(".ts") ? "ts" : "js"}`, import.meta.url))

const socketAddress = (address: string | undefined, port: number | undefined, fallback: string) =>
  address !== undefined ? `${address}:${port}` : fallback

const hasExited = (child: ChildProcess.ChildProcess) => child.exitCode !== null || child.signalCode !== null

const awaitExit = (child: ChildProcess.ChildProcess): Effect.Effect<void> =>
  Effect.async<void>((resume) => {
    if (hasExited(child)) return resume(Effect.void)
    const onExit = () => resume(Effect.void)
    child.once("exit", onExit)
    return Effect.sync(() => child.off("exit", onExit))
  })

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
    const location: ForkProtocol.ServiceLocation = {
      module: ForkProtocol.moduleUrl(service.module),
      export: service.export ?? "default"
    }
    const spec = yield* Effect.tryPromise({ try: () => ForkProtocol.loadService(location), catch: openError })
    const aliases = Service.aliasesOf(spec)
    const size = options.workers ?? Os.availableParallelism()
    if (!Number.isSafeInteger(size) || size < 1) {
      return yield* openError(new Error(`workers must be a positive integer (got ${size})`))
    }
    const tls = options.tls === undefined ? undefined : yield* Tls.resolveServerCredentials({
      ...options.tls,
      handshakeTimeout: options.tls.handshakeTimeout ?? Server.TLS_HANDSHAKE_TIMEOUT
    }).pipe(Effect.mapError(openError))
    const drainTimeout = Duration.decode(options.drainTimeout ?? Duration.seconds(10))
    const killTimeout = Duration.decode(options.killTimeout ?? Duration.seconds(3))
    const execArgv = options.execArgv ?? Stdio.loaderExecArgv()
    const minLogLevel = (yield* FiberRef.get(FiberRef.currentMinimumLogLevel))._tag

    if (options.socketPath !== undefined) {
      if (tls !== undefined) return yield* openError(new Error("TLS over a Unix socket is not supported"))
      yield* Unix.removeStaleSocket(options.socketPath)
    }
    let netServer: Net.Server | undefined
    // paused: the parent must not read a byte, or it would be lost when the socket moves to a worker
    const listener = yield* Tcp.fromNetServer({
      make: (onConnection) => (netServer = Net.createServer({ pauseOnConnect: true }, onConnection)),
      listen: options.socketPath !== undefined
        ? { path: options.socketPath, ...(options.backlog === undefined ? {} : { backlog: options.backlog }) }
        : {
          host: options.host ?? Tcp.defaultHost(options.ipv6),
          port: options.port ?? 0,
          ...(options.backlog === undefined ? {} : { backlog: options.backlog })
        }
    })
    const address = listener.address
    const loggerName = Server.loggerName(spec, address)
    const annotate = Effect.annotateLogs(Logging.LOGGER_NAME, loggerName)
    const serverScope = yield* Effect.scope
    const runtime = yield* Effect.runtime<never>()
    const runLog = (effect: Effect.Effect<void>) => Runtime.runFork(runtime)(effect.pipe(annotate))

    const slots: Array<Slot> = Array.from({ length: size }, (_, index) => ({ index, child: undefined }))
    let closing = false
    let replacements = 0
    let nextSlot = 0
    // the last resort, after the drain (or when the pool fails to start): no worker outlives the pool
    yield* Effect.addFinalizer(() =>
      Effect.sync(() => {
        closing = true
        for (const slot of slots) if (slot.child !== undefined && !hasExited(slot.child)) slot.child.kill("SIGKILL")
      })
    )

    /** Spawns the worker of `slot` and waits until it has loaded the service. */
    const startWorker = (slot: Slot): Effect.Effect<void, Error> =>
      Effect.gen(function*() {
        if (closing) return yield* Effect.fail(new Error("server closing"))
        const started = yield* Deferred.make<void, Error>()
        const child = ChildProcess.spawn(
          process.execPath,
          [...execArgv, workerEntry(), JSON.stringify(location)],
          {
            stdio: ["ignore", "inherit", "inherit", "ipc"],
            serialization: "json",
            ...(options.env === undefined ? {} : { env: options.env })
          }
        )
        child.once("exit", (code, signal) => {
          Deferred.unsafeDone(started, Exit.fail(new Error(`worker exited before it started (${signal ?? code})`)))
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
        child.on("error", (cause) => Deferred.unsafeDone(started, Exit.fail(cause)))
        child.on("message", (message: ForkProtocol.WorkerMessage) => {
          if (message.type === "started") Deferred.unsafeDone(started, Exit.void)
          else if (message.type === "log") {
            runLog(Effect.logWithLevel(LogLevel.fromLiteral(message.level), message.message))
          }
        })
        yield* Deferred.await(started).pipe(
          Effect.onInterrupt(() => Effect.sync(() => child.kill("SIGKILL")))
        )
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
      Effect.mapError(openError)
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

    const handle = (_socket: Socket.Socket) =>
      Effect.gen(function*() {
        const raw = yield* NodeSocket.NetSocket
        const peer = socketAddress(raw.remoteAddress, raw.remotePort, "peer")
        const local = socketAddress(
          raw.localAddress,
          raw.localPort,
          address._tag === "UnixAddress" ? address.path : "local"
        )
        const child = pick()
        if (child === undefined) return yield* Effect.logWarning(`accepted ${peer} but no worker is ready; closing it`)
        yield* Effect.logInfo(`accepted ${peer} (worker ${child.pid})`)
        const serve: ForkProtocol.ServeMessage = {
          type: "serve",
          loggerName,
          minLogLevel,
          config: ForkProtocol.serializeConfig(options.protocolConfig),
          wireVersion: options.wireVersion ?? "auto",
          maxFrameSize: options.maxFrameSize,
          tls,
          endpoints: [local, peer]
        }
        // once sent, the parent's socket has no handle left: its close below touches nothing
        yield* Effect.async<void, Error>((resume) => {
          child.send(serve, raw, (error) => resume(error ? Effect.fail(error) : Effect.void))
        })
      }).pipe(
        Effect.catchAllCause((cause) =>
          Cause.isInterruptedOnly(cause) ? Effect.void : Effect.logError("cannot hand over the connection", cause)
        ),
        annotate
      )

    yield* listener.run(handle).pipe(
      Effect.catchAllCause((cause) => Effect.logError("server stopped", cause).pipe(annotate)),
      Effect.forkScoped
    )
    // runs first on close: stop accepting, drain the workers, and only then let the listener go
    yield* Effect.addFinalizer(() =>
      Effect.gen(function*() {
        closing = true
        netServer?.close()
        const children = slots.flatMap((slot) => (slot.child === undefined ? [] : [slot.child]))
        yield* Effect.logInfo(`draining ${children.length} workers`).pipe(annotate)
        yield* Effect.forEach(children, (child) =>
          Effect.gen(function*() {
            if (child.connected) {
              child.send(
                { type: "drain", timeoutMillis: Duration.toMillis(drainTimeout) } satisfies ForkProtocol.DrainMessage
              )
            } else child.kill("SIGTERM")
            const exited = yield* Effect.timeoutOption(awaitExit(child), Duration.sum(drainTimeout, killTimeout))
            if (Option.isNone(exited)) {
              child.kill("SIGKILL")
              yield* awaitExit(child)
            }
          }), { concurrency: "unbounded", discard: true })
      })
    )
    yield* Effect.logInfo(
      `server started on ${address._tag === "TcpAddress" ? `[${address.hostname}]:${address.port}` : address.path}`
        + ` with ${size} workers`
    ).pipe(annotate)
    return {
      address,
      port: address._tag === "TcpAddress" ? address.port : undefined,
      host: address._tag === "TcpAddress" ? address.hostname : undefined,
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
