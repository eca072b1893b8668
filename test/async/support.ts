/**
 * Helpers for the async tests: in-memory connection pairs (deterministic, TestClock-friendly), the
 * test services, and child processes (Python `rpyc_classic`, example scripts).
 */
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Queue from "effect/Queue"
import type * as Scope from "effect/Scope"
import * as ChildProcess from "node:child_process"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"
import * as RemoteOp from "../../src/netref/RemoteOp.js"
import type * as Connection from "../../src/protocol/Connection.js"
import { PythonException, type RemoteFailure } from "../../src/protocol/Errors.js"
import * as Service from "../../src/service/Service.js"
import * as Pair from "../../src/transport/Pair.js"

export const ROOT = Path.resolve(Path.dirname(fileURLToPath(import.meta.url)), "../..")

/** An operation (or netref, or value) as an Effect with a known error type. */
export const remote = <A = any>(op: unknown): Effect.Effect<A, RemoteFailure> =>
  RemoteOp.toEffect(op) as Effect.Effect<A, RemoteFailure>

/**
 * Two connections over an in-memory pair: `server` serves `service`, `client` serves
 * `clientService` (default `VoidService`). Both run in the calling fiber's runtime, so a
 * `TestClock` drives their timers.
 */
export const pair = <Api = any>(
  service: Service.ServiceSpec,
  options: { readonly clientService?: Service.ServiceSpec; readonly clientConfig?: Connection.Options["config"] } = {}
): Effect.Effect<{ readonly server: Connection.Connection; readonly client: Connection.Connection<Api> }, unknown, Scope.Scope> =>
  Effect.gen(function*() {
    const [a, b] = yield* Pair.make()
    const server = yield* Service.makeConnection(a, service)
    const client = yield* Service.makeConnection<Api>(b, options.clientService ?? Service.VoidService, {
      wireVersion: 5,
      config: options.clientConfig
    })
    return { server, client }
  })

/**
 * The TS peer of the async tests. Its `sleep` is an `Effect.sleep` (the TestClock drives it);
 * `hold` replies only when the test calls `release`; `started` reports every sleep/hold as it
 * begins, so that tests can wait for the server instead of guessing.
 */
export class AsyncTestService extends Service.Service {
  readonly started = Effect.runSync(Queue.unbounded<string>())
  private held: Array<() => void> = []
  calls = 0

  exposed_echo(x: unknown) {
    this.calls++
    return x
  }
  exposed_describe_args(...args: Array<unknown>) {
    return JSON.stringify(args)
  }
  exposed_sleep(seconds: number) {
    return Effect.suspend(() => {
      this.started.unsafeOffer(`sleep ${seconds}`)
      return Effect.sleep(Duration.seconds(seconds))
    }).pipe(Effect.as(null))
  }
  /** setTimeout-based (real time): replies with `x` after `millis`. */
  exposed_delayed(x: unknown, millis: number) {
    return new Promise((resolve) => setTimeout(() => resolve(x), millis))
  }
  exposed_hold(x: unknown) {
    this.started.unsafeOffer(`hold ${String(x)}`)
    return new Promise((resolve) => this.held.push(() => resolve(x)))
  }
  /** Python's `int(s)`: a ValueError for anything but an integer literal. */
  exposed_int(s: string) {
    if (!/^\s*[-+]?\d+\s*$/.test(s)) throw new PythonException("ValueError", `invalid literal for int() with base 10: '${s}'`)
    return Number.parseInt(s, 10)
  }
  exposed_count(n: number) {
    return (function*() {
      for (let i = 0; i < n; i++) yield i
    })()
  }
  /** A counted infinite iterator: `nexts()` says how many items the peer pulled. */
  readonly naturals = (() => {
    let pulled = 0
    const it = {
      next: () => ({ done: false, value: pulled++ }),
      [Symbol.iterator]() {
        return it
      }
    }
    return { it, pulled: () => pulled }
  })()
  exposed_naturals() {
    return this.naturals.it
  }
  exposed_answer = 42
  release(): number {
    const held = this.held
    this.held = []
    for (const r of held) r()
    return held.length
  }
}

// ---------------------------------------------------------------------------------------------
// Python and child processes

export { describePython, hasPythonRpyc, PYTHON, pythonMissing } from "../support/Python.js"
export const RPYC_CLASSIC = "/usr/bin/rpyc_classic"

/** Timeout of tests that start processes (tsx and Python start slowly on a loaded machine). */
export const CHILD_TEST_TIMEOUT = 90_000

export class ChildError extends Data.TaggedError("ChildError")<{ readonly detail: string }> {
  override get message(): string {
    return this.detail
  }
}

export interface Child {
  readonly process: ChildProcess.ChildProcess
  readonly stdout: () => string
  readonly stderr: () => string
  /** Waits until the output of `stream` matches `pattern` (output seen already counts). */
  readonly waitFor: (
    stream: "stdout" | "stderr",
    pattern: RegExp,
    timeoutMillis?: number
  ) => Effect.Effect<RegExpExecArray, ChildError>
  /** Completes with the exit code once the process exited and its streams closed. */
  readonly exited: Effect.Effect<number | null>
}

/** Starts a child process, killed (SIGTERM, then SIGKILL) and awaited when the scope closes. */
export const spawn = (
  command: string,
  args: ReadonlyArray<string>,
  env: Readonly<Record<string, string>> = {}
): Effect.Effect<Child, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.sync(() => {
      const proc = ChildProcess.spawn(command, [...args], {
        cwd: ROOT,
        env: { ...process.env, ...env },
        stdio: ["ignore", "pipe", "pipe"]
      })
      const text = { stdout: "", stderr: "" }
      const listeners = new Set<() => void>()
      for (const stream of ["stdout", "stderr"] as const) {
        proc[stream]!.setEncoding("utf8")
        proc[stream]!.on("data", (chunk: string) => {
          text[stream] += chunk
          for (const l of [...listeners]) l()
        })
      }
      const exitedPromise = new Promise<number | null>((resolve) => {
        proc.once("error", () => resolve(null))
        proc.once("close", (code) => resolve(code))
      })
      let closed = false
      void exitedPromise.then(() => {
        closed = true
        for (const l of [...listeners]) l()
      })
      const describeOutput = () => `--- stdout ---\n${text.stdout}\n--- stderr ---\n${text.stderr}`
      const waitFor = (stream: "stdout" | "stderr", pattern: RegExp, timeoutMillis = 60_000) =>
        Effect.async<RegExpExecArray, ChildError>((resume) => {
          const check = () => {
            const m = pattern.exec(text[stream])
            if (m !== null) {
              done()
              resume(Effect.succeed(m))
            } else if (closed) {
              done()
              resume(Effect.fail(new ChildError({ detail: `${command} exited before ${pattern} on ${stream}\n${describeOutput()}` })))
            }
          }
          const timer = setTimeout(() => {
            done()
            resume(Effect.fail(new ChildError({ detail: `no ${pattern} on ${stream} within ${timeoutMillis} ms\n${describeOutput()}` })))
          }, timeoutMillis)
          const done = () => {
            clearTimeout(timer)
            listeners.delete(check)
          }
          listeners.add(check)
          check()
          return Effect.sync(done)
        })
      const child: Child = {
        process: proc,
        stdout: () => text.stdout,
        stderr: () => text.stderr,
        waitFor,
        exited: Effect.promise(() => exitedPromise)
      }
      return child
    }),
    (child) =>
      Effect.promise(async () => {
        const proc = child.process
        if (proc.exitCode === null && proc.signalCode === null && proc.pid !== undefined) {
          proc.kill("SIGTERM")
          const timer = setTimeout(() => proc.kill("SIGKILL"), 5000)
          await Effect.runPromise(child.exited)
          clearTimeout(timer)
        }
      })
  )

/** `node --import tsx file args…` */
export const tsx = (file: string, ...args: ReadonlyArray<string>): readonly [string, ReadonlyArray<string>] =>
  [process.execPath, ["--import", "tsx", file, ...args]]

/** Runs a process to completion (killed if it outlives `timeoutMillis`). */
export const run = (
  command: string,
  args: ReadonlyArray<string>,
  env: Readonly<Record<string, string>> = {},
  timeoutMillis = 60_000
): Effect.Effect<{ readonly code: number | null; readonly stdout: string; readonly stderr: string }, ChildError> =>
  Effect.scoped(Effect.gen(function*() {
    const child = yield* spawn(command, args, env)
    const code = yield* child.exited.pipe(
      Effect.timeoutFail({
        duration: timeoutMillis,
        onTimeout: () =>
          new ChildError({ detail: `${command} ${args.join(" ")} still running after ${timeoutMillis} ms\n${child.stderr()}` })
      })
    )
    return { code, stdout: child.stdout(), stderr: child.stderr() }
  }))

/** A Python `rpyc_classic` server on a free port of 127.0.0.1, killed when the scope closes. */
export const pythonClassic: Effect.Effect<{ readonly port: number; readonly child: Child }, ChildError, Scope.Scope> =
  Effect.gen(function*() {
    const child = yield* spawn(RPYC_CLASSIC, ["--host", "127.0.0.1", "-p", "0"])
    const m = yield* child.waitFor("stderr", /server started on \[127\.0\.0\.1\]:(\d+)/)
    return { port: Number(m[1]), child }
  })

/** Polls `check` until it holds or `timeoutMillis` pass (for conditions with no event to await). */
export const eventually = (check: () => boolean, timeoutMillis = 5000, what = "condition"): Effect.Effect<void, Error> =>
  Effect.gen(function*() {
    const deadline = Date.now() + timeoutMillis
    while (!check()) {
      if (Date.now() > deadline) return yield* Effect.fail(new Error(`${what} did not hold within ${timeoutMillis} ms`))
      yield* Effect.promise(() => new Promise((r) => setTimeout(r, 10)))
    }
  })
