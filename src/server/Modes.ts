/**
 * Server modes beyond the threaded one (RPyC's `OneShotServer`, `ForkingServer`, `SSLAuthenticator`
 * and `rpyc_classic -m stdio`), rpyc-protocol.md §7 and §9.1:
 *
 * - {@link makeTls}: TLS via `node:tls`; a client certificate is required and verified when a CA is
 *   given, and lands in each connection's `credentials` (RPyC's `SSLAuthenticator`).
 * - {@link makeOneShot}: serves exactly one connection, then closes itself; `server.done` resolves then.
 * - {@link serveStdio}: one connection over this process's stdin/stdout (inetd style); ends when stdin
 *   ends. User output (`console.log`) is moved to stderr so it cannot corrupt the stream.
 * - {@link makeForking}: one OS process per connection. Node cannot `fork()`, so the parent accepts
 *   each connection (paused, nothing read) and hands the socket to a freshly spawned worker process over
 *   an IPC channel; the worker serves that one connection and exits. The worker loads the service from
 *   a module ({@link ServiceRef}), since a class cannot cross a process boundary. The parent logs
 *   `accepted` and `goodbye`, the worker's log lines (`welcome`, errors) are relayed to the parent's
 *   logger, and closing the server terminates the workers (SIGTERM: each closes its connection
 *   cleanly; SIGKILL after a grace period).
 *
 * Every listening mode binds `127.0.0.1` unless told otherwise, like `Server.make`.
 *
 * @since 0.1.0
 */
import * as Socket from "@effect/platform/Socket"
import * as SocketServer from "@effect/platform/SocketServer"
import * as NodeSocket from "@effect/platform-node/NodeSocket"
import * as Cause from "effect/Cause"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as ExecutionStrategy from "effect/ExecutionStrategy"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as FiberRef from "effect/FiberRef"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as Option from "effect/Option"
import * as Runtime from "effect/Runtime"
import * as Scope from "effect/Scope"
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import { createRequire } from "node:module"
import * as Net from "node:net"
import * as NodeTls from "node:tls"
import { pathToFileURL } from "node:url"
import * as Logging from "../Logging.js"
import type * as Config from "../protocol/Config.js"
import type { ConnectionClosed } from "../protocol/Errors.js"
import * as Service from "../service/Service.js"
import * as Stdio from "../transport/Stdio.js"
import * as Tcp from "../transport/Tcp.js"
import * as Tls from "../transport/Tls.js"
import type { WireVersion } from "../wire/Message.js"
import * as Server from "./Server.js"

// ---------------------------------------------------------------------------------------------------------
// TLS
// ---------------------------------------------------------------------------------------------------------

/**
 * TLS material, as file names (RPyC's `keyfile`/`certfile`/`ca_certs`) or PEM contents. A PEM value
 * wins over the file of the same role.
 *
 * @since 0.1.0 @category models
 */
export interface TlsCredentials {
  /** File of the server's private key (RPyC's `keyfile`). */
  readonly keyfile?: string | undefined
  /** File of the server's certificate chain (RPyC's `certfile`). */
  readonly certfile?: string | undefined
  /** CA bundle file; giving one requires and verifies client certificates (RPyC's `ca_certs`). */
  readonly cafile?: string | undefined
  readonly key?: Tls.Pem | undefined
  readonly cert?: Tls.Pem | undefined
  readonly ca?: Tls.Pem | undefined
  /** Passphrase of an encrypted key. */
  readonly passphrase?: string | undefined
  /** Require a valid client certificate; default: whether a CA was given. */
  readonly requireClientCert?: boolean | undefined
  /** A handshake not done within this many milliseconds is dropped; default 10 s. */
  readonly handshakeTimeout?: number | undefined
}

/** TLS material read and checked, as PEM strings (also what crosses the IPC channel to workers). */
interface ResolvedTls {
  readonly key: string | Array<string>
  readonly cert: string | Array<string>
  readonly ca: string | Array<string> | undefined
  readonly passphrase: string | undefined
  readonly requireClientCert: boolean
  readonly handshakeTimeout: number
}

const openError = (cause: unknown) => new SocketServer.SocketServerError({ reason: "Open", cause })

const pemText = (pem: Tls.Pem): string | Array<string> =>
  typeof pem === "string" ? pem : Buffer.isBuffer(pem) ? pem.toString("utf8") : pem.map((p) => typeof p === "string" ? p : p.toString("utf8"))

const readPem = (
  role: string,
  pem: Tls.Pem | undefined,
  file: string | undefined
): Effect.Effect<string | Array<string> | undefined, SocketServer.SocketServerError> =>
  pem !== undefined
    ? Effect.succeed(pemText(pem))
    : file === undefined
    ? Effect.succeed(undefined)
    : Effect.try({
      try: () => Fs.readFileSync(file, "utf8"),
      catch: (cause) => openError(new Error(`cannot read the TLS ${role} file ${file}: ${(cause as Error).message}`))
    })

/** Reads the files and checks that a key and a certificate are there. */
const resolveTls = (creds: TlsCredentials): Effect.Effect<ResolvedTls, SocketServer.SocketServerError> =>
  Effect.gen(function*() {
    const key = yield* readPem("key", creds.key, creds.keyfile)
    const cert = yield* readPem("certificate", creds.cert, creds.certfile)
    const ca = yield* readPem("CA", creds.ca, creds.cafile)
    if (key === undefined || cert === undefined) {
      return yield* openError(new Error("TLS needs both a private key and a certificate"))
    }
    // fail at startup (as RPyC's SSLAuthenticator does), not on the first client
    yield* Effect.try({
      try: () =>
        NodeTls.createSecureContext({
          key,
          cert,
          ...(ca === undefined ? {} : { ca }),
          ...(creds.passphrase === undefined ? {} : { passphrase: creds.passphrase })
        }),
      catch: (cause) => openError(new Error(`invalid TLS key, certificate or CA: ${(cause as Error).message}`))
    })
    return {
      key,
      cert,
      ca,
      passphrase: creds.passphrase,
      requireClientCert: creds.requireClientCert ?? ca !== undefined,
      handshakeTimeout: creds.handshakeTimeout ?? 10_000
    }
  })

/** What RPyC's SSLAuthenticator puts into `credentials`: the client's certificate (or none). */
const peerCertificate = (raw: unknown): NodeTls.DetailedPeerCertificate | undefined => {
  if (!(raw instanceof NodeTls.TLSSocket)) return undefined
  const cert = raw.getPeerCertificate(true)
  return cert && Object.keys(cert).length > 0 ? cert : undefined
}

/** Options of {@link makeTls}. @since 0.1.0 @category models */
export interface TlsOptions extends Omit<Server.Options, "socketPath" | "registrar" | "autoRegister">, TlsCredentials {}

/** The logger name RPyC gives a server: `<SERVICE>/<port>` (or the socket path). */
const listenerName = (service: Service.ServiceSpec, address: SocketServer.Address) =>
  `${Service.aliasesOf(service)[0]}/${address._tag === "TcpAddress" ? address.port : address.path}`

/** `host:port` of a socket's peer, for log lines. */
const peerAddress = (socket: Net.Socket): string =>
  socket.remoteAddress !== undefined ? `${socket.remoteAddress}:${socket.remotePort}` : "a peer"

/** Logs from a Node callback through the fiber runtime of the server, under its logger name. */
const callbackLogger = (runtime: Runtime.Runtime<never>, name: () => string) => (message: string): void => {
  Runtime.runFork(runtime)(Effect.logInfo(message).pipe(Effect.annotateLogs(Logging.LOGGER_NAME, name())))
}

const tlsListener = (
  tls: ResolvedTls,
  options: { readonly hostname?: string | undefined; readonly port?: number | undefined; readonly ipv6?: boolean | undefined; readonly backlog?: number | undefined },
  onHandshakeError: (error: Error, socket: Net.Socket) => void
) =>
  Tls.makeServer({
    host: options.hostname,
    port: options.port ?? 0,
    ipv6: options.ipv6,
    backlog: options.backlog,
    key: tls.key,
    cert: tls.cert,
    ca: tls.ca,
    passphrase: tls.passphrase,
    requireClientCert: tls.requireClientCert,
    handshakeTimeout: tls.handshakeTimeout,
    onHandshakeError
  })

/**
 * Serves `service` over TLS (RPyC's `ThreadedServer(..., authenticator=SSLAuthenticator(...))`).
 * Clients that fail the handshake (no or an untrusted client certificate when a CA is given) are
 * dropped and logged; each connection's `credentials` is the client's certificate
 * (`tls.DetailedPeerCertificate`), or `undefined` when it sent none. Invalid or unreadable key
 * material fails here with `SocketServerError` reason `"Open"`.
 *
 * @since 0.1.0 @category constructors
 */
export const makeTls = (
  service: Service.ServiceSpec,
  options: TlsOptions
): Effect.Effect<Server.Server, SocketServer.SocketServerError, Scope.Scope> =>
  Effect.gen(function*() {
    const tls = yield* resolveTls(options)
    const runtime = yield* Effect.runtime<never>()
    let name = Service.aliasesOf(service)[0]
    const listener = yield* tlsListener(tls, options, (error, socket) =>
      callbackLogger(runtime, () => name)(`${peerAddress(socket)} failed to authenticate (${error.message}), rejecting connection`))
    name = listenerName(service, listener.address)
    return yield* Server.serve(listener, service, {
      ...options,
      configFor: (raw) => ({ credentials: peerCertificate(raw) })
    })
  })

// ---------------------------------------------------------------------------------------------------------
// one-shot
// ---------------------------------------------------------------------------------------------------------

/** Options of the listening modes: `Server.Options` plus optional TLS. @since 0.1.0 @category models */
export interface ListenOptions extends Omit<Server.Options, "registrar" | "autoRegister"> {
  /** Serve over TLS (not with `socketPath`). */
  readonly tls?: TlsCredentials | undefined
}

/**
 * A one-shot server: a `Server.Server` plus `done`.
 *
 * @since 0.1.0 @category models
 */
export interface OneShotServer extends Server.Server {
  /** Resolves once the one connection has been served and the listener is closed. */
  readonly done: Effect.Effect<void>
}

type AnyListener = Tcp.Server<any>

const makeListener = (
  options: ListenOptions,
  onHandshakeError: (error: Error, socket: Net.Socket) => void
): Effect.Effect<AnyListener, SocketServer.SocketServerError, Scope.Scope> =>
  Effect.gen(function*() {
    if (options.socketPath !== undefined) {
      if (options.tls !== undefined) return yield* openError(new Error("TLS over a Unix socket is not supported"))
      return yield* Tcp.makeUnixServer({ path: options.socketPath, backlog: options.backlog })
    }
    if (options.tls !== undefined) return yield* tlsListener(yield* resolveTls(options.tls), options, onHandshakeError)
    return yield* Tcp.makeServer({ host: options.hostname, port: options.port ?? 0, ipv6: options.ipv6, backlog: options.backlog })
  })

/**
 * RPyC's `OneShotServer`: listens (TCP, Unix socket or TLS), serves the first connection, then closes
 * the listener. Connections arriving meanwhile are closed without being served. `server.done`
 * resolves when all of that is over; closing the scope earlier closes everything.
 *
 * @since 0.1.0 @category constructors
 */
export const makeOneShot = (
  service: Service.ServiceSpec,
  options: ListenOptions = {}
): Effect.Effect<OneShotServer, SocketServer.SocketServerError, Scope.Scope> =>
  Effect.gen(function*() {
    const closed = yield* Deferred.make<void>()
    // registered before the listener's scope, so that it runs after it: `done` means really closed
    yield* Effect.addFinalizer(() => Deferred.succeed(closed, undefined))
    const scope = yield* Scope.fork(yield* Effect.scope, ExecutionStrategy.sequential)
    const runtime = yield* Effect.runtime<never>()
    let name = Service.aliasesOf(service)[0]
    const listener = yield* makeListener(options, (error, socket) =>
      callbackLogger(runtime, () => name)(`${peerAddress(socket)} failed to authenticate (${error.message}), rejecting connection`)).pipe(
        Scope.extend(scope)
      )
    name = listenerName(service, listener.address)
    const served = yield* Deferred.make<void>()
    let taken = false
    const oneShot: SocketServer.SocketServer["Type"] = {
      address: listener.address,
      run: (handler) =>
        listener.run((socket) => {
          if (taken) return Effect.void // returning closes the connection
          taken = true
          return handler(socket).pipe(Effect.ensuring(Deferred.succeed(served, undefined)))
        }) as never
    }
    const server = yield* Server.serve(oneShot, service, {
      ...options,
      configFor: (raw) => (options.tls !== undefined ? { credentials: peerCertificate(raw) } : {})
    }).pipe(Scope.extend(scope))
    // not in `scope` itself: closing a scope from one of its own fibers would wait on itself
    yield* Deferred.await(served).pipe(
      Effect.zipRight(Scope.close(scope, Exit.void)),
      Effect.zipRight(Effect.logInfo("listener closed").pipe(Effect.annotateLogs(Logging.LOGGER_NAME, name))),
      Effect.ensuring(Deferred.succeed(closed, undefined)),
      Effect.forkScoped
    )
    return { ...server, done: Deferred.await(closed) }
  })

// ---------------------------------------------------------------------------------------------------------
// stdio
// ---------------------------------------------------------------------------------------------------------

/** Options of {@link serveStdio}. @since 0.1.0 @category models */
export interface StdioOptions {
  readonly protocolConfig?: Config.ConfigInput | undefined
  /** Envelope dialect; `"auto"` (default) follows the client. */
  readonly wireVersion?: WireVersion | "auto" | undefined
  readonly maxFrameSize?: number | undefined
}

/**
 * Serves one connection over this process's stdin (incoming) and stdout (outgoing), the server side of
 * `connectSubproc` / `rpyc_classic -m stdio`. Resolves when the connection closes (the client closed it
 * or stdin reached EOF). From the first call on, `process.stdout.write` — and so `console.log` — goes to
 * stderr for the rest of the process's life, so user output cannot corrupt the frames (see
 * `Stdio.fromProcessStdio`). Call it once per process.
 *
 * @since 0.1.0 @category constructors
 */
export const serveStdio = (
  service: Service.ServiceSpec,
  options: StdioOptions = {}
): Effect.Effect<void, Socket.SocketError | ConnectionClosed> =>
  Effect.gen(function*() {
    const socket = yield* Stdio.fromProcessStdio()
    const conn = yield* Service.makeConnection(socket, service, {
      config: { ...options.protocolConfig, endpoints: ["stdio", "stdio"] as const },
      wireVersion: options.wireVersion ?? "auto",
      maxFrameSize: options.maxFrameSize
    })
    yield* Effect.logDebug("serving over stdio")
    yield* conn.awaitClose
  }).pipe(Effect.scoped)

// ---------------------------------------------------------------------------------------------------------
// forking
// ---------------------------------------------------------------------------------------------------------

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

/** Options of {@link makeForking}. @since 0.1.0 @category models */
export interface ForkingOptions extends ListenOptions {
  /**
   * Node flags of the workers. Default: none when this library runs as JavaScript; when it runs from
   * its TypeScript sources, `--import <tsx loader>` so the workers can load them too.
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
  readonly port: number | undefined
  readonly hostname: string | undefined
  readonly serviceName: string
  readonly aliases: ReadonlyArray<string>
  /** The process ids of the workers serving a connection now. */
  readonly workers: ReadonlySet<number>
}

/** Messages from a worker to the parent. */
type WorkerMessage =
  | { readonly type: "started" }
  | { readonly type: "log"; readonly level: LogLevel.Literal; readonly message: string }
  | { readonly type: "exiting" }

/** The message (sent with the socket handle) telling a worker what to serve. */
interface ServeMessage {
  readonly type: "serve"
  readonly loggerName: string
  readonly minLogLevel: LogLevel.Literal
  readonly config: Record<string, unknown>
  readonly wireVersion: WireVersion | "auto"
  readonly maxFrameSize: number | undefined
  readonly tls: ResolvedTls | undefined
  readonly endpoints: readonly [string, string]
}

const moduleUrl = (module: string | URL): string =>
  module instanceof URL ? module.href : module.startsWith("file:") ? module : pathToFileURL(module).href

const loadService = (ref: ServiceRef): Promise<Service.ServiceSpec> =>
  import(moduleUrl(ref.module)).then((mod: Record<string, unknown>) => {
    const name = ref.export ?? "default"
    const spec = mod[name]
    if ((typeof spec !== "function" && typeof spec !== "object") || spec === null) {
      throw new Error(`${moduleUrl(ref.module)} has no service export named ${name}`)
    }
    return spec as Service.ServiceSpec
  })

/**
 * The Node flags a child needs to run this library's modules: none from JavaScript; the tsx loader
 * (resolved from this package, so the child's working directory does not matter) from TypeScript.
 *
 * @since 0.1.0 @category forking
 */
export const loaderExecArgv = (): ReadonlyArray<string> =>
  import.meta.url.endsWith(".ts")
    ? ["--import", pathToFileURL(createRequire(import.meta.url).resolve("tsx")).href]
    : []

/** JSON-safe protocol config for the worker (functions cannot cross; `safeAttrs` goes as a list). */
const serializeConfig = (config: Config.ConfigInput | undefined): Record<string, unknown> => {
  const out: Record<string, unknown> = {}
  for (const [key, value] of Object.entries(config ?? {})) {
    if (key === "credentials" || key === "endpoints" || value === undefined || typeof value === "function") continue
    out[key] = value instanceof Set ? { $set: [...value] } : value
  }
  return out
}

const deserializeConfig = (config: Record<string, unknown>): Config.ConfigInput => {
  const out: Record<string, unknown> = {}
  for (const [key, value] of Object.entries(config)) {
    const set = (value as { $set?: unknown } | null)?.$set
    out[key] = Array.isArray(set) ? new Set(set) : value
  }
  return out as Config.ConfigInput
}

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

/** SIGTERM (the worker closes its connection), SIGKILL after `grace`; returns once it is gone. */
const terminate = (child: ChildProcess.ChildProcess, grace: Duration.Duration): Effect.Effect<void> =>
  Effect.gen(function*() {
    if (hasExited(child)) return
    child.kill("SIGTERM")
    const exited = yield* Effect.timeoutOption(Effect.interruptible(awaitExit(child)), grace)
    if (Option.isNone(exited)) {
      child.kill("SIGKILL")
      yield* awaitExit(child)
    }
  })

/** Code a worker runs: loads this module, which loads the service and waits for the socket. */
const workerBootstrap = (selfUrl: string, service: { readonly module: string; readonly export: string }) =>
  `import(${JSON.stringify(selfUrl)}).then((m) => m.runForkWorker(${JSON.stringify(service)}))` +
  `.catch((e) => { console.error(e); process.exit(1) })`

/**
 * RPyC's `ForkingServer`: every connection is served by its own OS process.
 *
 * The parent listens (TCP, Unix socket or TLS), accepts each connection without reading from it, and
 * sends the socket (`child.send(msg, socket)`) to a fresh worker process (`node -e …` with an IPC
 * channel) that has already loaded `service.module`. The worker does the TLS handshake itself when TLS
 * is on, serves the connection, and exits when it closes. One worker is always started ahead (it serves
 * the next connection, and its replacement is started then), so a client does not wait for a Node
 * process to boot; the first one has booted before this Effect succeeds, so a service module that does
 * not load fails here. Protocol config crosses as JSON: function-valued keys are dropped.
 *
 * Logs: the parent logs `accepted <peer>` and, when the worker has exited, `goodbye <peer>`; the worker's
 * own lines (`welcome <peer>`, failures) go through the parent's logger. Closing the scope stops
 * listening and terminates every worker (SIGTERM, which makes a worker close its connection cleanly,
 * then SIGKILL after `killTimeout`), and waits for them to exit.
 *
 * @since 0.1.0 @category constructors
 */
export const makeForking = (
  service: ServiceRef,
  options: ForkingOptions = {}
): Effect.Effect<ForkingServer, SocketServer.SocketServerError, Scope.Scope> =>
  Effect.gen(function*() {
    const ref = { module: moduleUrl(service.module), export: service.export ?? "default" }
    const spec = yield* Effect.tryPromise({ try: () => loadService(ref), catch: openError })
    const aliases = Service.aliasesOf(spec)
    const tls = options.tls === undefined ? undefined : yield* resolveTls(options.tls)
    const grace = Duration.decode(options.killTimeout ?? Duration.seconds(3))
    const execArgv = options.execArgv ?? loaderExecArgv()
    const minLogLevel = (yield* FiberRef.get(FiberRef.currentMinimumLogLevel))._tag

    if (options.socketPath !== undefined) {
      if (tls !== undefined) return yield* openError(new Error("TLS over a Unix socket is not supported"))
      yield* Tcp.removeStaleSocket(options.socketPath)
    }
    // paused: the parent must not read a byte, or it would be lost when the socket moves to the worker
    const listener = yield* Tcp.fromNetServer({
      make: (onConnection) => Net.createServer({ pauseOnConnect: true }, onConnection),
      listen: options.socketPath !== undefined
        ? { path: options.socketPath, ...(options.backlog === undefined ? {} : { backlog: options.backlog }) }
        : {
          host: options.hostname ?? (options.ipv6 ? "::1" : "127.0.0.1"),
          port: options.port ?? 0,
          ...(options.backlog === undefined ? {} : { backlog: options.backlog })
        }
    })
    const address = listener.address
    const loggerName = listenerName(spec, address)
    const annotate = Effect.annotateLogs(Logging.LOGGER_NAME, loggerName)
    const serverScope = yield* Effect.scope
    const runtime = yield* Effect.runtime<never>()
    const relay = (message: WorkerMessage) => {
      if (message.type !== "log") return
      Runtime.runFork(runtime)(Effect.logWithLevel(LogLevel.fromLiteral(message.level), message.message).pipe(annotate))
    }

    /** Every worker process, started or serving; all are terminated when the server closes. */
    const children = new Set<ChildProcess.ChildProcess>()
    /** The pids of the workers that got a connection. */
    const workers = new Set<number>()
    let closing = false

    /** Spawns a worker and waits until it has loaded the service. */
    const startWorker: Effect.Effect<ChildProcess.ChildProcess, Error> = Effect.gen(function*() {
      if (closing) return yield* Effect.fail(new Error("server closing"))
      const started = yield* Deferred.make<void, Error>()
      const child = ChildProcess.spawn(
        process.execPath,
        [...execArgv, "--input-type=module", "-e", workerBootstrap(import.meta.url, ref)],
        {
          stdio: ["ignore", "inherit", "inherit", "ipc"],
          serialization: "json",
          ...(options.env === undefined ? {} : { env: options.env })
        }
      )
      children.add(child)
      child.once("exit", (code, signal) => {
        children.delete(child)
        Deferred.unsafeDone(started, Exit.fail(new Error(`worker exited before serving (${signal ?? code})`)))
      })
      child.on("error", (cause) => Deferred.unsafeDone(started, Exit.fail(cause)))
      child.on("message", (message: WorkerMessage) => {
        if (message.type === "started") Deferred.unsafeDone(started, Exit.void)
        else relay(message)
      })
      yield* Deferred.await(started).pipe(Effect.onInterrupt(() => terminate(child, grace)))
      return child
    })

    // the first worker must boot before the server counts as started: a broken service module fails here
    const first = yield* startWorker.pipe(Effect.mapError(openError))
    let spare: Fiber.RuntimeFiber<ChildProcess.ChildProcess, Error> = yield* Effect.forkIn(Effect.succeed(first), serverScope)
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

    const handle = (_socket: Socket.Socket) =>
      Effect.gen(function*() {
        const raw = yield* NodeSocket.NetSocket
        const peer = socketAddress(raw.remoteAddress, raw.remotePort, "peer")
        const local = socketAddress(raw.localAddress, raw.localPort, address._tag === "UnixAddress" ? address.path : "local")
        yield* Effect.logInfo(`accepted ${peer}`)
        const child = yield* Effect.acquireRelease(takeWorker, (child) => terminate(child, grace))
        const pid = child.pid!
        workers.add(pid)
        yield* Effect.addFinalizer(() => Effect.sync(() => workers.delete(pid)))
        const serve: ServeMessage = {
          type: "serve",
          loggerName,
          minLogLevel,
          config: serializeConfig(options.protocolConfig),
          wireVersion: options.wireVersion ?? "auto",
          maxFrameSize: options.maxFrameSize,
          tls,
          endpoints: [local, peer]
        }
        yield* Effect.async<void, Error>((resume) => {
          child.send(serve, raw, (error) => resume(error ? Effect.fail(error) : Effect.void))
        })
        yield* awaitExit(child)
        yield* Effect.logInfo(`goodbye ${peer}`)
      }).pipe(
        Effect.scoped,
        Effect.catchAllCause((cause) =>
          Cause.isInterruptedOnly(cause) ? Effect.void : Effect.logError("cannot serve the connection", cause)),
        annotate
      )

    yield* listener.run(handle).pipe(
      Effect.catchAllCause((cause) => Effect.logError("server stopped", cause).pipe(annotate)),
      Effect.forkScoped
    )
    // runs before the accept loop is interrupted: the handlers still see their workers exit
    yield* Effect.addFinalizer(() =>
      Effect.suspend(() => {
        closing = true
        return Effect.forEach([...children], (child) => terminate(child, grace), { concurrency: "unbounded", discard: true })
      })
    )
    yield* Effect.logInfo(
      `server started on ${address._tag === "TcpAddress" ? `[${address.hostname}]:${address.port}` : address.path}`
    ).pipe(annotate)
    return {
      address,
      port: address._tag === "TcpAddress" ? address.port : undefined,
      hostname: address._tag === "TcpAddress" ? address.hostname : undefined,
      serviceName: aliases[0],
      aliases,
      workers
    }
  })

/** Worker side: the logger that relays every line to the parent over IPC. */
const ipcLogger = Logger.make(({ cause, logLevel, message }) => {
  if (!process.connected) return
  const items = Array.isArray(message) ? message : [message]
  const text = items.map((m) => (typeof m === "string" ? m : Cause.isCause(m) ? Cause.pretty(m) : String(m))).join(" ")
  const detail = Cause.isEmpty(cause) ? "" : `\n${Cause.pretty(cause)}`
  process.send!({ type: "log", level: logLevel._tag, message: text + detail } satisfies WorkerMessage)
})

/**
 * Wraps the handed-over socket in TLS (server side) and waits for the handshake. The socket goes
 * through a non-listening `tls.Server` (`emit("connection")`), which gives it the exact semantics of
 * an accepted TLS connection: client certificate verification, `authorized`, handshake timeout.
 */
const acceptTls = (raw: Net.Socket, tls: ResolvedTls): Effect.Effect<NodeTls.TLSSocket, Error> =>
  Effect.async<NodeTls.TLSSocket, Error>((resume) => {
    const server = NodeTls.createServer({
      key: tls.key,
      cert: tls.cert,
      ...(tls.ca === undefined ? {} : { ca: tls.ca }),
      ...(tls.passphrase === undefined ? {} : { passphrase: tls.passphrase }),
      requestCert: tls.requireClientCert,
      rejectUnauthorized: tls.requireClientCert,
      handshakeTimeout: tls.handshakeTimeout
    })
    let settled = false
    const settle = (result: Effect.Effect<NodeTls.TLSSocket, Error>) => {
      if (settled) return
      settled = true
      raw.off("close", onClose)
      resume(result)
    }
    const onClose = () => settle(Effect.fail(new Error("connection closed during the TLS handshake")))
    server.once("secureConnection", (conn: NodeTls.TLSSocket) => settle(Effect.succeed(conn)))
    server.once("tlsClientError", (error) => {
      raw.destroy()
      settle(Effect.fail(error))
    })
    raw.once("close", onClose)
    server.emit("connection", raw)
    return Effect.sync(() => raw.destroy())
  })

/**
 * The entry point of a forking worker (spawned by {@link makeForking}; not for direct use): loads the
 * service, tells the parent it has started, waits for the socket, serves it, and exits when the
 * connection closes or on SIGTERM (closing the connection first). A worker still waiting exits at
 * once on SIGTERM or when the parent goes away.
 *
 * @since 0.1.0 @category forking
 */
export const runForkWorker = async (service: { readonly module: string; readonly export: string }): Promise<void> => {
  if (process.send === undefined) throw new Error("runForkWorker: no IPC channel (start it through makeForking)")
  const spec = await loadService(service)
  let serving = false
  // a spare worker whose server closes before it got a connection: nothing to clean up
  process.once("SIGTERM", () => process.exit(0))
  process.once("disconnect", () => {
    if (!serving) process.exit(0)
  })
  process.once("message", (message: ServeMessage, raw: Net.Socket | undefined) => {
    serving = true
    process.removeAllListeners("SIGTERM")
    const program = Effect.gen(function*() {
      if (raw === undefined) return yield* Effect.logError("no socket received from the parent")
      const peer = message.endpoints[1]
      let conn: Net.Socket = raw
      let credentials: unknown = undefined
      if (message.tls !== undefined) {
        const secured = yield* Effect.either(acceptTls(raw, message.tls))
        if (secured._tag === "Left") {
          return yield* Effect.logInfo(`${peer} failed to authenticate (${secured.left.message})... rejecting connection`)
        }
        conn = secured.right
        credentials = peerCertificate(conn)
        yield* Effect.logInfo(`${peer} authenticated successfully`)
      }
      const socket = yield* Tcp.fromNetSocket(conn)
      const connection = yield* Service.makeConnection(socket, spec, {
        config: { ...deserializeConfig(message.config), endpoints: message.endpoints, credentials },
        wireVersion: message.wireVersion,
        maxFrameSize: message.maxFrameSize
      })
      yield* Effect.logInfo(`welcome ${peer}`)
      yield* connection.awaitClose
    }).pipe(
      Effect.scoped,
      Effect.catchAllCause((cause) =>
        Cause.isInterruptedOnly(cause) ? Effect.void : Effect.logError("worker failed", cause)),
      Effect.annotateLogs(Logging.LOGGER_NAME, message.loggerName),
      Effect.provide(Layer.merge(
        Logger.replace(Logger.defaultLogger, ipcLogger),
        Logger.minimumLogLevel(LogLevel.fromLiteral(message.minLogLevel))
      ))
    )
    const fiber = Effect.runFork(program)
    // SIGTERM/SIGINT (the server closing): close the connection cleanly, then exit
    const onSignal = () => fiber.unsafeInterruptAsFork(fiber.id())
    process.once("SIGTERM", onSignal)
    process.once("SIGINT", onSignal)
    fiber.addObserver(() => {
      // flush the last log lines, then go (user code may have left timers or handles open)
      const exit = () => process.exit(0)
      if (process.connected) process.send!({ type: "exiting" } satisfies WorkerMessage, () => exit())
      else exit()
    })
  })
  process.send({ type: "started" } satisfies WorkerMessage)
}
