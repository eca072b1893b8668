/**
 * The child-process harness of every suite that starts processes (Python peers, `node --import tsx`
 * servers and examples, the CLIs):
 *
 * - `spawn(command, args, options)`: a child as a scoped resource. Its stdout and stderr are
 *   collected; `waitFor(pattern)` waits for output (optionally `ready` waits before `spawn`
 *   succeeds). On release the child gets `stopSignal` (default SIGKILL; SIGKILL anyway after a grace
 *   period) unless it already exited, and release waits until it is gone.
 * - `run(command, args, options)`: a child run to completion (killed if it outlives its timeout or
 *   the test is interrupted): exit status, output, duration.
 * - `tsx(file, …args)`: the `[command, args]` that runs a TypeScript file (`node --import tsx`).
 * - `explain`, `jsonResult`: reading a finished run; `isAlive(pid)`.
 *
 * Output is matched against complete lines only (a line still being written is not looked at, so a
 * port number cut in half by a chunk boundary is never read), and `^`/`$` anchor at line
 * boundaries: `/^PORT (\d+)$/` finds the line `PORT 1234`, and a multi-line pattern can span lines.
 */
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import * as ChildProcess from "node:child_process"
import { createRequire } from "node:module"
import * as Path from "node:path"
import { fileURLToPath, pathToFileURL } from "node:url"

/** The repository root: children run there (tsx finds tsconfig.json and its paths). */
export const ROOT = Path.resolve(Path.dirname(fileURLToPath(import.meta.url)), "../..")

/** Node flags that load TypeScript (tsx's loader, by absolute URL, so that any cwd works). */
export const TSX: ReadonlyArray<string> = [
  "--import",
  pathToFileURL(createRequire(import.meta.url).resolve("tsx")).href
]

/** A command and its arguments. */
export type Command = readonly [command: string, args: ReadonlyArray<string>]

/** `node --import tsx file ...args`. */
export const tsx = (
  file: string,
  ...args: ReadonlyArray<string>
): Command => [process.execPath, [...TSX, file, ...args]]

/**
 * Per-test timeout of tests that start child processes: generous, because Python and
 * `node --import tsx` start slowly on a loaded machine (a cold tsx start took ~20 s under load).
 */
export const TIMEOUT = 90_000

/** Default of how long `waitFor`/`ready` wait for output and `run` waits for the child to finish. */
export const CHILD_TIMEOUT: Duration.DurationInput = "60 seconds"

// ---------------------------------------------------------------------------------------------
// errors and results

/** A child process failed to start, did not print what was awaited, or ran too long. */
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

/** How a child ended: `{ code, signal }`, plus `error` if it could not be started. */
export interface Exit {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
  readonly error?: Error
}

export type Stream = "stdout" | "stderr"

export interface WaitOptions {
  /** Which output to look at (default: stdout, then stderr). */
  readonly stream?: Stream | undefined
  /** Default: the child's `timeout` option, else `CHILD_TIMEOUT`. */
  readonly timeout?: Duration.DurationInput | undefined
}

export interface Child {
  /** The command line, for messages. */
  readonly command: string
  readonly pid: number | undefined
  readonly process: ChildProcess.ChildProcess
  /** Everything the child wrote so far. */
  readonly stdout: () => string
  readonly stderr: () => string
  /** The match of the `ready` pattern (if `ready` was given). */
  readonly ready: RegExpExecArray | undefined
  /**
   * Waits until the output (of `stream`, or either) matches `pattern`; output already seen counts.
   * Fails with `ChildError` if the child ends first or after the timeout. `options` may be the stream.
   */
  readonly waitFor: (pattern: RegExp, options?: Stream | WaitOptions) => Effect.Effect<RegExpExecArray, ChildError>
  /** Completes once the child exited and its output streams are closed. */
  readonly exit: Effect.Effect<Exit>
  /** Writes to its stdin (with `stdin: true`). */
  readonly write: (data: string | Uint8Array) => void
  readonly closeStdin: () => void
}

export interface SpawnOptions {
  /** Default: `ROOT`. */
  readonly cwd?: string | undefined
  /** Added to (or, with `undefined`, removed from) the parent's environment. */
  readonly env?: Readonly<Record<string, string | undefined>> | undefined
  /** Keep stdin open as a pipe (default: ignored). */
  readonly stdin?: boolean | undefined
  /** Wait for output matching this pattern before `spawn` succeeds; the match is `child.ready`. */
  readonly ready?: RegExp | ({ readonly pattern: RegExp } & WaitOptions) | undefined
  /** Default timeout of this child's waits (default `CHILD_TIMEOUT`). */
  readonly timeout?: Duration.DurationInput | undefined
  /** The signal release sends first (default SIGKILL); SIGKILL follows after 5 s. */
  readonly stopSignal?: NodeJS.Signals | undefined
}

// ---------------------------------------------------------------------------------------------
// spawn

const describeCommand = (command: string, args: ReadonlyArray<string>): string =>
  [command, ...args].map((a) => (/\s/.test(a) ? JSON.stringify(a) : a)).join(" ")

const mergedEnv = (extra: SpawnOptions["env"]): NodeJS.ProcessEnv => {
  // Python children write unbuffered, so that what they print is seen when they print it
  const env: NodeJS.ProcessEnv = { ...process.env, PYTHONUNBUFFERED: "1" }
  for (const [k, v] of Object.entries(extra ?? {})) {
    if (v === undefined) delete env[k]
    else env[k] = v
  }
  return env
}

const withLineAnchors = (pattern: RegExp): RegExp =>
  pattern.multiline ? pattern : new RegExp(pattern.source, pattern.flags.replace("g", "").replace("y", "") + "m")

const isRunning = (proc: ChildProcess.ChildProcess): boolean =>
  proc.pid !== undefined && proc.exitCode === null && proc.signalCode === null

/**
 * Starts `command args` as a scoped resource (see the module comment). Fails with `ChildError` only
 * when `ready` is not seen; a command that cannot start shows up in `exit` (and `waitFor` fails).
 */
export const spawn = (
  command: string,
  args: ReadonlyArray<string>,
  options: SpawnOptions = {}
): Effect.Effect<Child, ChildError, Scope.Scope> =>
  Effect.gen(function*() {
    const child = yield* Effect.acquireRelease(
      Effect.sync(() => start(command, args, options)),
      (child) => stop(child.process, options.stopSignal ?? "SIGKILL")
    )
    if (options.ready === undefined) return child
    const { pattern, ...wait } = options.ready instanceof RegExp ? { pattern: options.ready } : options.ready
    const ready = yield* child.waitFor(pattern, wait)
    return { ...child, ready }
  })

const start = (command: string, args: ReadonlyArray<string>, options: SpawnOptions): Child => {
  const label = describeCommand(command, args)
  const proc = ChildProcess.spawn(command, [...args], {
    cwd: options.cwd ?? ROOT,
    env: mergedEnv(options.env),
    stdio: [options.stdin ? "pipe" : "ignore", "pipe", "pipe"]
  })
  const text = { stdout: "", stderr: "" }
  const ended = { stdout: false, stderr: false }
  const listeners = new Set<() => void>()
  const notify = () => {
    for (const l of [...listeners]) l()
  }
  for (const stream of ["stdout", "stderr"] as const) {
    const readable = proc[stream]!
    readable.setEncoding("utf8")
    readable.on("data", (chunk: string) => {
      text[stream] += chunk
      if (chunk.includes("\n")) notify()
    })
    readable.once("close", () => {
      ended[stream] = true
      notify()
    })
  }
  let exit: Exit | undefined
  const exitPromise = new Promise<Exit>((resolve) => {
    proc.once("error", (error) => {
      // not started: no 'close' follows
      resolve(exit = { code: null, signal: null, error })
      notify()
    })
    proc.once("close", (code, signal) => {
      resolve(exit = { code, signal })
      notify()
    })
  })
  // what a pattern may see: complete lines, and the rest once the stream ended
  const visible = (stream: Stream) =>
    ended[stream] ? text[stream] : text[stream].slice(0, text[stream].lastIndexOf("\n") + 1)
  const fail = (detail: string) => new ChildError({ command: label, detail, stdout: text.stdout, stderr: text.stderr })

  const waitFor = (pattern: RegExp, opts?: Stream | WaitOptions): Effect.Effect<RegExpExecArray, ChildError> => {
    const { stream, timeout } = typeof opts === "string" ? { stream: opts, timeout: undefined } : opts ?? {}
    const duration = Duration.decode(timeout ?? options.timeout ?? CHILD_TIMEOUT)
    const re = withLineAnchors(pattern)
    const where = stream ?? "stdout or stderr"
    return Effect.async<RegExpExecArray, ChildError>((resume) => {
      const check = () => {
        for (const s of stream === undefined ? (["stdout", "stderr"] as const) : [stream]) {
          const m = re.exec(visible(s))
          if (m !== null) {
            done()
            return resume(Effect.succeed(m))
          }
        }
        if (exit !== undefined && (exit.error !== undefined || (ended.stdout && ended.stderr))) {
          done()
          const how = exit.error !== undefined
            ? `could not start (${exit.error.message})`
            : `exited (code ${exit.code}, signal ${exit.signal})`
          resume(Effect.fail(fail(`${how} before printing ${pattern} on ${where}`)))
        }
      }
      const timer = setTimeout(() => {
        done()
        resume(Effect.fail(fail(`no ${pattern} on ${where} within ${Duration.format(duration)}`)))
      }, Duration.toMillis(duration))
      const done = () => {
        clearTimeout(timer)
        listeners.delete(check)
      }
      listeners.add(check)
      check()
      return Effect.sync(done)
    })
  }

  return {
    command: label,
    pid: proc.pid,
    process: proc,
    stdout: () => text.stdout,
    stderr: () => text.stderr,
    ready: undefined,
    waitFor,
    exit: Effect.promise(() => exitPromise),
    write: (data) => {
      proc.stdin?.write(data)
    },
    closeStdin: () => {
      proc.stdin?.end()
    }
  }
}

/** Sends `signal` (then SIGKILL after 5 s) to a running child and waits for its 'exit'. */
const stop = (proc: ChildProcess.ChildProcess, signal: NodeJS.Signals): Effect.Effect<void> =>
  Effect.async<void>((resume) => {
    if (!isRunning(proc)) return resume(Effect.void)
    const timer = signal === "SIGKILL" ? undefined : setTimeout(() => proc.kill("SIGKILL"), 5000)
    // 'exit', not 'close': a grandchild holding the pipes must not keep the test waiting
    proc.once("exit", () => {
      clearTimeout(timer)
      resume(Effect.void)
    })
    proc.kill(signal)
  })

// ---------------------------------------------------------------------------------------------
// run to completion

export interface RunResult extends Exit {
  readonly stdout: string
  readonly stderr: string
  /** How long the process ran, in ms. */
  readonly millis: number
}

export interface RunOptions extends Omit<SpawnOptions, "ready"> {}

/**
 * Runs `command args` to completion: its exit status and output. Fails with `ChildError` if it cannot
 * start or does not finish within `timeout` (default `CHILD_TIMEOUT`); the child is killed then, or
 * if the surrounding fiber is interrupted.
 */
export const run = (
  command: string,
  args: ReadonlyArray<string>,
  options: RunOptions = {}
): Effect.Effect<RunResult, ChildError> =>
  Effect.scoped(Effect.gen(function*() {
    const started = Date.now()
    const child = yield* spawn(command, args, options)
    const timeout = Duration.decode(options.timeout ?? CHILD_TIMEOUT)
    const exit = yield* child.exit.pipe(
      Effect.timeoutFail({
        duration: timeout,
        onTimeout: () =>
          new ChildError({
            command: child.command,
            detail: `still running after ${Duration.format(timeout)}`,
            stdout: child.stdout(),
            stderr: child.stderr()
          })
      })
    )
    if (exit.error !== undefined) {
      return yield* new ChildError({
        command: child.command,
        detail: `could not start: ${exit.error.message}`,
        stdout: child.stdout(),
        stderr: child.stderr()
      })
    }
    return { ...exit, stdout: child.stdout(), stderr: child.stderr(), millis: Date.now() - started }
  }))

/** A readable summary of a finished process, for assertion messages. */
export const explain = (r: RunResult): string =>
  `exit code ${r.code}, signal ${r.signal}\n--- stdout ---\n${r.stdout}\n--- stderr ---\n${r.stderr}`

/** Parses the last non-empty stdout line of a finished process as JSON (how Python fixtures report). */
export const jsonResult = <A = Record<string, any>>(r: RunResult): A => {
  const last = r.stdout.trim().split(/\r?\n/).pop() ?? ""
  try {
    return JSON.parse(last) as A
  } catch {
    throw new Error(`expected a JSON line on stdout, ${explain(r)}`)
  }
}

/** Whether a process with this pid exists (signal 0). */
export const isAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
    return true
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM"
  }
}
