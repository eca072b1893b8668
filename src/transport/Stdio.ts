/**
 * Pipe transports (RPyC's `PipeStream`, PROTOCOL.md §1.3):
 *
 * - {@link fromProcessStdio}: this process speaks RPyC over its own stdin (incoming) and stdout
 *   (outgoing), for a server started by a parent (`rpyc_classic -m stdio`, `connect_stdpipes`).
 * - {@link spawn}: start a child and talk to it over its stdout (incoming) and stdin (outgoing), like
 *   RPyC's `connect_subproc`; the child is killed when the scope closes.
 *
 * Both are built with `Duplex.from({ readable, writable })` + `NodeSocket.fromDuplex`, so they behave like the TCP sockets: `run` succeeds when the incoming pipe reaches EOF,
 * releasing the writer closes the outgoing pipe (the peer sees EOF), and a `CloseEvent` closes both.
 *
 * @since 0.1.0
 */
import * as NodeSocket from "@effect/platform-node/NodeSocket"
import * as Socket from "@effect/platform/Socket"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import * as ChildProcess from "node:child_process"
import { createRequire } from "node:module"
import { Duplex, Writable } from "node:stream"
import { pathToFileURL } from "node:url"

/**
 * Wraps a Duplex as a single-use Socket. Errors are recorded from now on (an `error` event with no
 * listener would crash the process), and a Duplex that already closed fails `run` at once instead of
 * leaving it waiting for events that already happened.
 */
const socketFromDuplex = (duplex: Duplex): Effect.Effect<Socket.Socket> => {
  let error: Error | undefined
  duplex.on("error", (cause) => {
    error ??= cause
  })
  return NodeSocket.fromDuplex(
    Effect.acquireRelease(
      Effect.suspend((): Effect.Effect<Duplex, Socket.SocketError> => {
        if (error !== undefined) return Effect.fail(new Socket.SocketGenericError({ reason: "Read", cause: error }))
        if (duplex.closed) return Effect.fail(new Socket.SocketCloseError({ reason: "Close", code: 1000 }))
        return Effect.succeed(duplex)
      }),
      (duplex) => Effect.sync(() => closeSoon(duplex))
    )
  )
}

/** Ends the outgoing side (flushing what is queued), then destroys both sides so the handles close. */
const closeSoon = (duplex: Duplex): void => {
  if (duplex.destroyed) return
  if (duplex.writableFinished || !duplex.writable) {
    duplex.destroy()
    return
  }
  duplex.once("finish", () => duplex.destroy())
  duplex.end()
}

// -----------------------------------------------------------------------------------------------------------
// this process's own stdio
// -----------------------------------------------------------------------------------------------------------

let processStdio: Duplex | undefined

/**
 * Takes this process's stdout for the protocol. From this point on, `process.stdout.write` — and with
 * it `console.log`, `console.info`, `console.dir`, … which all write through it — goes to **stderr**,
 * so stray prints from user code cannot corrupt the frames (RPyC re-points `sys.stdout` at /dev/null
 * for the same reason; stderr keeps the output visible). Only the returned stream writes to the real
 * stdout. The redirection is permanent for the life of the process; it is done once, however many
 * times this is called. Code that writes to file descriptor 1 directly (`fs.writeSync(1, …)`, native
 * add-ons) is not covered.
 */
const takeProcessStdio = (): Duplex => {
  if (processStdio !== undefined) return processStdio
  const stdout = process.stdout
  const stderr = process.stderr
  // bound before the override below, so these keep reaching the real stdout
  const realWrite = stdout.write.bind(stdout) as (
    chunk: Uint8Array,
    callback: (error?: Error | null) => void
  ) => boolean
  const realEnd = stdout.end.bind(stdout) as (callback: () => void) => void
  stdout.write = ((...args: Parameters<typeof stderr.write>) => stderr.write(...args)) as typeof stdout.write
  const outgoing = new Writable({
    write(chunk: Uint8Array, _encoding, callback) {
      realWrite(chunk, (error) => callback(error ?? null))
    },
    final(callback) {
      realEnd(() => callback())
    }
  })
  // EPIPE when the parent went away: fail the socket rather than crash on an unhandled 'error'
  stdout.on("error", (cause) => outgoing.destroy(cause))
  processStdio = Duplex.from({ readable: process.stdin, writable: outgoing })
  return processStdio
}

/**
 * A Socket over this process's stdin (incoming) and stdout (outgoing), for a server that speaks RPyC
 * over stdio (`rpyc_classic -m stdio`).
 *
 * **It redirects `process.stdout.write` (and therefore `console.log` and friends) to stderr for the rest
 * of the process's life**, so that prints from served code cannot corrupt the stream; see the module
 * docs. `run` succeeds when stdin reaches EOF (the parent closed it); when `run` ends, stdout is ended
 * (the parent sees EOF) and stdin is released, so the process can exit. Use one socket per process:
 * stdin can be consumed only once.
 *
 * @since 0.1.0
 * @category constructors
 */
export const fromProcessStdio = (): Effect.Effect<Socket.Socket> =>
  Effect.suspend(() => socketFromDuplex(takeProcessStdio()))

// -----------------------------------------------------------------------------------------------------------
// child processes
// -----------------------------------------------------------------------------------------------------------

/**
 * The Node flags a child process needs to run this library's own modules (a forking server's worker,
 * the `rpyc-classic` CLI): none when the library runs as JavaScript; when it runs from its TypeScript
 * sources, the tsx loader, resolved from this package so that the child's working directory does not
 * matter.
 *
 * @since 0.1.0
 * @category child processes
 */
export const loaderExecArgv = (): ReadonlyArray<string> =>
  import.meta.url.endsWith(".ts")
    ? ["--import", pathToFileURL(createRequire(import.meta.url).resolve("tsx")).href]
    : []

/**
 * Options for {@link spawn}.
 *
 * @since 0.1.0
 * @category models
 */
export interface SpawnOptions {
  /** Working directory of the child. */
  readonly cwd?: string | undefined
  /** Environment of the child; default this process's. */
  readonly env?: NodeJS.ProcessEnv | undefined
  /**
   * The child's stderr: `"inherit"` (default: shares ours, so its logs stay visible), `"ignore"`, or
   * a callback receiving each chunk.
   */
  readonly stderr?: "inherit" | "ignore" | ((chunk: Uint8Array) => void) | undefined
  /** How long the child gets to exit after SIGTERM before it is sent SIGKILL; default 3 seconds. */
  readonly killTimeout?: Duration.DurationInput | undefined
}

/**
 * How a child process ended: its exit code, or the signal that killed it.
 *
 * @since 0.1.0
 * @category models
 */
export interface ExitStatus {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
}

/**
 * A running child process and the Socket over its pipes.
 *
 * @since 0.1.0
 * @category models
 */
export interface Spawned {
  /** Incoming = the child's stdout, outgoing = the child's stdin. Single-use, like every Socket here. */
  readonly socket: Socket.Socket
  /** The node child process (pid, signals, …). */
  readonly process: ChildProcess.ChildProcess
  /** Waits for the child to exit. */
  readonly exit: Effect.Effect<ExitStatus>
}

const hasExited = (child: ChildProcess.ChildProcess): boolean => child.exitCode !== null || child.signalCode !== null

const awaitExit = (child: ChildProcess.ChildProcess): Effect.Effect<ExitStatus> =>
  Effect.async<ExitStatus>((resume) => {
    if (hasExited(child)) return resume(Effect.succeed({ code: child.exitCode, signal: child.signalCode }))
    const onExit = (code: number | null, signal: NodeJS.Signals | null) => resume(Effect.succeed({ code, signal }))
    child.once("exit", onExit)
    return Effect.sync(() => child.off("exit", onExit))
  })

/** SIGTERM, then SIGKILL if the child is still there after `grace`; returns once it has exited. */
const terminate = (child: ChildProcess.ChildProcess, grace: Duration.Duration): Effect.Effect<void> =>
  Effect.gen(function*() {
    if (!hasExited(child)) {
      child.kill("SIGTERM")
      // finalizers run uninterruptibly, and a timeout can only stop an interruptible wait
      const exited = yield* Effect.timeoutOption(Effect.interruptible(awaitExit(child)), grace)
      if (Option.isNone(exited)) {
        child.kill("SIGKILL")
        yield* awaitExit(child)
      }
    }
    // an unread pipe would keep its handle (and this process's event loop) alive
    child.stdin?.destroy()
    child.stdout?.destroy()
    child.stderr?.destroy()
  })

/**
 * Spawns `command` with `args` and returns a Socket over its pipes (RPyC's `connect_subproc`), e.g.
 * `spawn(process.execPath, ["--import", "tsx", "server.ts"])`. Resolves once the process has started;
 * a command that cannot be started (not found, not executable) fails with `SocketGenericError` reason
 * `"Open"`.
 *
 * When the scope closes the child is sent SIGTERM, then SIGKILL after `killTimeout`, and the scope's
 * closing waits until it has exited. To let it finish on its own instead, release the socket's writer
 * (the child sees EOF on stdin) and wait for `exit` before closing the scope.
 *
 * @since 0.1.0
 * @category constructors
 */
export const spawn = (
  command: string,
  args: ReadonlyArray<string> = [],
  options: SpawnOptions = {}
): Effect.Effect<Spawned, Socket.SocketError, Scope.Scope> =>
  Effect.gen(function*() {
    const grace = Duration.decode(options.killTimeout ?? Duration.seconds(3))
    const stderr = options.stderr ?? "inherit"
    const child = yield* Effect.acquireRelease(
      Effect.async<ChildProcess.ChildProcess, Socket.SocketError>((resume) => {
        let child: ChildProcess.ChildProcess
        try {
          child = ChildProcess.spawn(command, args, {
            stdio: ["pipe", "pipe", typeof stderr === "function" ? "pipe" : stderr],
            ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
            ...(options.env === undefined ? {} : { env: options.env })
          })
        } catch (cause) {
          // invalid arguments throw synchronously; a missing command is reported by an 'error' event
          return resume(Effect.fail(new Socket.SocketGenericError({ reason: "Open", cause })))
        }
        const onError = (cause: Error) => resume(Effect.fail(new Socket.SocketGenericError({ reason: "Open", cause })))
        child.once("error", onError)
        child.once("spawn", () => {
          child.off("error", onError)
          resume(Effect.succeed(child))
        })
      }),
      (child) => terminate(child, grace)
    )
    // later 'error' events (a failed kill) must not crash us; how the child ended is in `exit`
    child.on("error", () => {})
    if (typeof stderr === "function") {
      child.stderr!.on("data", (chunk: Buffer) => stderr(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.length)))
    }
    const socket = yield* socketFromDuplex(Duplex.from({ readable: child.stdout!, writable: child.stdin! }))
    return { socket, process: child, exit: awaitExit(child) } satisfies Spawned
  })
