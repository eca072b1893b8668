/**
 * Helpers for the interop tests (real Python RPyC 5.3 peers and spawned TS servers):
 *
 * - `PYTHON`, `hasPythonRpyc`, `describePython`: the Python availability rule. Python tests skip
 *   when `/usr/bin/python3 -c "import rpyc"` fails, unless `CI=true`, where they run (and fail
 *   loudly if Python RPyC is missing).
 * - `spawn`: a child process as a scoped resource (killed and awaited on release), optionally
 *   waiting for a readiness line on stdout or stderr.
 * - `run`: a child process run to completion (also killed if the test is interrupted).
 * - `freePort`, `ensurePortFree`: TCP port helpers on 127.0.0.1.
 */
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Schedule from "effect/Schedule"
import type * as Scope from "effect/Scope"
import * as ChildProcess from "node:child_process"
import * as Net from "node:net"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"
import * as RemoteOp from "../../src/netref/RemoteOp.js"
import type { RemoteFailure } from "../../src/protocol/Errors.js"

// ---------------------------------------------------------------------------------------------
// paths and Python availability

/** The repository root (children run there, so that tsx finds tsconfig.json and its paths). */
export const ROOT = Path.resolve(Path.dirname(fileURLToPath(import.meta.url)), "../..")

/** A file of `test/interop/fixtures`. */
export const fixture = (name: string): string => Path.join(ROOT, "test/interop/fixtures", name)

export { describePython, hasPythonRpyc, PYTHON, pythonMissing, runPythonTests } from "../support/Python.js"

/**
 * Per-test timeout of the interop tests: generous, because Python and `node --import tsx` start
 * slowly on a loaded machine (a cold tsx start of the seed server took ~20 s under heavy load).
 */
export const TIMEOUT = 90_000

/** How long to wait for a child's readiness line, or for a child to finish. */
export const CHILD_TIMEOUT = 60_000

/** Node running TypeScript through tsx: `[process.execPath, ["--import", "tsx", file]]`. */
export const tsx = (file: string, ...args: ReadonlyArray<string>): readonly [string, ReadonlyArray<string>] =>
  [process.execPath, ["--import", "tsx", file, ...args]]

/**
 * A remote operation (or netref, or plain value) as an `Effect<A, RemoteFailure>`: keeps
 * `Effect.gen` inference (`R = never`) independent of how loosely the untyped `Remote` is typed
 * (`yield*` of an `any` makes `Effect.gen` infer `unknown` requirements).
 */
export const remote = <A = any>(op: unknown): Effect.Effect<A, RemoteFailure> =>
  RemoteOp.toEffect(op) as Effect.Effect<A, RemoteFailure>

// ---------------------------------------------------------------------------------------------
// child processes

/**
 * A child process failed to start, did not become ready, or ran too long.
 */
export class ChildError extends Data.TaggedError("ChildError")<{
  readonly command: string
  readonly detail: string
  readonly stdout: string
  readonly stderr: string
}> {
  override get message(): string {
    return `${this.command}: ${this.detail}\n--- stdout ---\n${this.stdout}\n--- stderr ---\n${this.stderr}`
  }
}

export interface Exited {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
  /** set when the process could not be spawned */
  readonly error?: Error | undefined
}

export interface Child {
  readonly command: string
  readonly pid: number | undefined
  readonly process: ChildProcess.ChildProcess
  /** Everything the child wrote so far. */
  readonly stdout: () => string
  readonly stderr: () => string
  /** The match of the readiness line (if `ready` was given). */
  readonly ready: RegExpExecArray | undefined
  /** Waits for a line matching `pattern` on `stream` (lines already seen count). */
  readonly waitForLine: (
    stream: "stdout" | "stderr",
    pattern: RegExp,
    timeoutMillis?: number
  ) => Effect.Effect<RegExpExecArray, ChildError>
  /** Completes when the process has exited and its output streams are closed. */
  readonly exited: Effect.Effect<Exited>
  /** Writes to the child's stdin (if it was piped). */
  readonly write: (text: string) => void
}

export interface SpawnOptions {
  readonly cwd?: string | undefined
  /** Added to (or, with `undefined`, removed from) the parent's environment. */
  readonly env?: Readonly<Record<string, string | undefined>> | undefined
  /** Wait for a line matching `pattern` on `stream` before the Effect succeeds. */
  readonly ready?: {
    readonly stream: "stdout" | "stderr"
    readonly pattern: RegExp
    readonly timeoutMillis?: number | undefined
  } | undefined
  /** Keep stdin open as a pipe (default: closed). */
  readonly stdin?: boolean | undefined
  /** How long release waits after SIGTERM before SIGKILL (default 5 s). */
  readonly killGraceMillis?: number | undefined
}

const mergedEnv = (extra: Readonly<Record<string, string | undefined>> | undefined): NodeJS.ProcessEnv => {
  const env: NodeJS.ProcessEnv = { ...process.env }
  if (extra !== undefined) {
    for (const [k, v] of Object.entries(extra)) {
      if (v === undefined) delete env[k]
      else env[k] = v
    }
  }
  return env
}

interface Waiter {
  readonly stream: "stdout" | "stderr"
  readonly pattern: RegExp
  readonly resolve: (m: RegExpExecArray) => void
}

const describeCommand = (command: string, args: ReadonlyArray<string>): string =>
  [command, ...args].map((a) => (/\s/.test(a) ? JSON.stringify(a) : a)).join(" ")

/**
 * Starts `command args` as a scoped resource: on release the child gets SIGTERM (then SIGKILL
 * after a grace period) unless it already exited, and release waits until it is gone.
 */
export const spawn = (
  command: string,
  args: ReadonlyArray<string>,
  options: SpawnOptions = {}
): Effect.Effect<Child, ChildError, Scope.Scope> =>
  Effect.gen(function*() {
    const label = describeCommand(command, args)
    const child = yield* Effect.acquireRelease(
      Effect.sync(() => start(command, args, label, options)),
      (c) => stop(c, options.killGraceMillis ?? 5000)
    )
    if (options.ready === undefined) return child
    const ready = yield* child.waitForLine(options.ready.stream, options.ready.pattern, options.ready.timeoutMillis)
    return { ...child, ready }
  })

const start = (command: string, args: ReadonlyArray<string>, label: string, options: SpawnOptions): Child => {
  const proc = ChildProcess.spawn(command, [...args], {
    cwd: options.cwd ?? ROOT,
    env: mergedEnv(options.env),
    stdio: [options.stdin ? "pipe" : "ignore", "pipe", "pipe"]
  })
  const text = { stdout: "", stderr: "" }
  const lines = { stdout: [] as Array<string>, stderr: [] as Array<string> }
  const partial = { stdout: "", stderr: "" }
  let waiters: Array<Waiter> = []
  let closed = false
  const closeListeners = new Set<() => void>()

  const onLine = (stream: "stdout" | "stderr", line: string) => {
    lines[stream].push(line)
    waiters = waiters.filter((w) => {
      if (w.stream !== stream) return true
      const m = w.pattern.exec(line)
      if (m === null) return true
      w.resolve(m)
      return false
    })
  }
  const listen = (stream: "stdout" | "stderr") => {
    const readable = proc[stream]!
    readable.setEncoding("utf8")
    readable.on("data", (chunk: string) => {
      text[stream] += chunk
      const parts = (partial[stream] + chunk).split(/\r?\n/)
      partial[stream] = parts.pop()!
      for (const line of parts) onLine(stream, line)
    })
    readable.on("end", () => {
      if (partial[stream] !== "") onLine(stream, partial[stream])
      partial[stream] = ""
    })
  }
  listen("stdout")
  listen("stderr")

  const exitedPromise = new Promise<Exited>((resolve) => {
    proc.once("error", (error) => resolve({ code: null, signal: null, error }))
    proc.once("close", (code, signal) => resolve({ code, signal }))
  }).then((e) => {
    closed = true
    for (const l of closeListeners) l()
    return e
  })

  const waitForLine = (
    stream: "stdout" | "stderr",
    pattern: RegExp,
    timeoutMillis = CHILD_TIMEOUT
  ): Effect.Effect<RegExpExecArray, ChildError> =>
    Effect.async<RegExpExecArray, ChildError>((resume) => {
      const fail = (detail: string) =>
        resume(Effect.fail(new ChildError({ command: label, detail, stdout: text.stdout, stderr: text.stderr })))
      for (const line of lines[stream]) {
        const m = pattern.exec(line)
        if (m !== null) {
          resume(Effect.succeed(m))
          return
        }
      }
      if (closed) {
        fail(`exited before printing a line matching ${pattern} on ${stream}`)
        return
      }
      const waiter: Waiter = {
        stream,
        pattern,
        resolve: (m) => {
          cleanup()
          resume(Effect.succeed(m))
        }
      }
      const onClose = () => {
        cleanup()
        void exitedPromise.then((e) =>
          fail(
            `exited (code ${e.code}, signal ${e.signal}${e.error ? `, ${e.error.message}` : ""}) before printing a line matching ${pattern} on ${stream}`
          )
        )
      }
      const timer = setTimeout(() => {
        cleanup()
        fail(`no line matching ${pattern} on ${stream} within ${timeoutMillis} ms`)
      }, timeoutMillis)
      const cleanup = () => {
        clearTimeout(timer)
        waiters = waiters.filter((w) => w !== waiter)
        closeListeners.delete(onClose)
      }
      waiters.push(waiter)
      closeListeners.add(onClose)
      return Effect.sync(cleanup)
    })

  return {
    command: label,
    pid: proc.pid,
    process: proc,
    stdout: () => text.stdout,
    stderr: () => text.stderr,
    ready: undefined,
    waitForLine,
    exited: Effect.promise(() => exitedPromise),
    write: (t) => {
      proc.stdin?.write(t)
    }
  }
}

const stop = (child: Child, graceMillis: number): Effect.Effect<void> =>
  Effect.promise(async () => {
    const proc = child.process
    const running = proc.pid !== undefined && proc.exitCode === null && proc.signalCode === null
    if (running) {
      proc.kill("SIGTERM")
      const timer = setTimeout(() => proc.kill("SIGKILL"), graceMillis)
      await Effect.runPromise(child.exited)
      clearTimeout(timer)
    } else {
      // already exited (or never started): wait for its streams to close, but not forever
      await Promise.race([Effect.runPromise(child.exited), new Promise((r) => setTimeout(r, 2000))])
    }
  })

export interface RunResult extends Exited {
  readonly stdout: string
  readonly stderr: string
  /** How long the process ran, in ms. */
  readonly millis: number
}

/**
 * Runs `command args` to completion and returns its exit status and output. Fails with
 * `ChildError` if it does not finish within `timeoutMillis` (default `CHILD_TIMEOUT`); the child is killed
 * then, or if the surrounding fiber is interrupted.
 */
export const run = (
  command: string,
  args: ReadonlyArray<string>,
  options: Omit<SpawnOptions, "ready"> & { readonly timeoutMillis?: number | undefined } = {}
): Effect.Effect<RunResult, ChildError> =>
  Effect.scoped(Effect.gen(function*() {
    const started = Date.now()
    const child = yield* spawn(command, args, options)
    const timeoutMillis = options.timeoutMillis ?? CHILD_TIMEOUT
    const exited = yield* child.exited.pipe(
      Effect.timeoutFail({
        duration: timeoutMillis,
        onTimeout: () =>
          new ChildError({
            command: child.command,
            detail: `still running after ${timeoutMillis} ms`,
            stdout: child.stdout(),
            stderr: child.stderr()
          })
      })
    )
    if (exited.error !== undefined) {
      return yield* new ChildError({
        command: child.command,
        detail: `could not start: ${exited.error.message}`,
        stdout: child.stdout(),
        stderr: child.stderr()
      })
    }
    return { ...exited, stdout: child.stdout(), stderr: child.stderr(), millis: Date.now() - started }
  }))

/** A readable summary of a finished process, for assertion messages. */
export const explain = (r: RunResult): string =>
  `exit code ${r.code}, signal ${r.signal}\n--- stdout ---\n${r.stdout}\n--- stderr ---\n${r.stderr}`

/**
 * Parses the last non-empty stdout line of a finished process as JSON (how the Python fixtures
 * report their results).
 */
export const jsonResult = <A = Record<string, any>>(r: RunResult): A => {
  const last = r.stdout.trim().split(/\r?\n/).pop() ?? ""
  try {
    return JSON.parse(last) as A
  } catch {
    throw new Error(`expected a JSON line on stdout, ${explain(r)}`)
  }
}

// ---------------------------------------------------------------------------------------------
// ports

/** A TCP port that was free on 127.0.0.1 a moment ago. */
export const freePort: Effect.Effect<number> = Effect.async<number>((resume) => {
  const server = Net.createServer()
  server.unref()
  server.listen({ host: "127.0.0.1", port: 0 }, () => {
    const address = server.address() as Net.AddressInfo
    server.close(() => resume(Effect.succeed(address.port)))
  })
})

const canBind = (host: string, port: number): Promise<true | NodeJS.ErrnoException> =>
  new Promise((resolve) => {
    const server = Net.createServer()
    server.once("error", (e: NodeJS.ErrnoException) => resolve(e))
    server.listen({ host, port, exclusive: true }, () => server.close(() => resolve(true)))
  })

const canConnect = (host: string, port: number): Promise<boolean> =>
  new Promise((resolve) => {
    const sock = Net.createConnection({ host, port })
    sock.setTimeout(1000, () => {
      sock.destroy()
      resolve(false)
    })
    sock.once("connect", () => {
      sock.destroy()
      resolve(true)
    })
    sock.once("error", () => resolve(false))
  })

/**
 * Fails with a clear message if something already listens on `port` of localhost (127.0.0.1 or
 * ::1), for the tests that must use a fixed port. A port that is busy only briefly (someone
 * running the example by hand) is waited for, up to `waitMillis` (default 10 s).
 */
export const ensurePortFree = (port: number, waitMillis = 10_000): Effect.Effect<void, Error> =>
  Effect.tryPromise({
    try: async () => {
      const v4 = await canBind("127.0.0.1", port)
      if (v4 !== true) throw v4
      if (await canConnect("::1", port)) throw new Error("something accepts connections on [::1]")
    },
    catch: (cause) =>
      new Error(
        `port ${port} on localhost is not free (${
          cause instanceof Error ? cause.message : String(cause)
        }): this test runs the seed's unchanged client.py, which always connects to localhost:${port}; stop whatever listens there and rerun`
      )
  }).pipe(
    Effect.retry({ schedule: Schedule.spaced("500 millis"), times: Math.max(0, Math.ceil(waitMillis / 500)) })
  )
