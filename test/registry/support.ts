/**
 * Test helpers for the registry suites: child processes that are always killed, free ports, a Python
 * with RPyC, and retries with a deadline for UDP.
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import * as ChildProcess from "node:child_process"
import { requirePython, runPythonTests } from "../support/Python.js"
import * as Dgram from "node:dgram"
import * as Net from "node:net"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"

/** The repository root (this file is test/registry/support.ts). */
export const repoRoot = Path.resolve(Path.dirname(fileURLToPath(import.meta.url)), "..", "..")

export const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString("hex")
export const unhex = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, "hex"))

// ---------------------------------------------------------------------------------------------
// Python

/** Interop suites run when Python RPyC is there, and always on CI (where a missing Python must fail). */
export const runInterop: boolean = runPythonTests

export { requirePython }

// ---------------------------------------------------------------------------------------------
// ports

/**
 * A port that was free a moment ago, for peers (the Python registry) that cannot be told to pick one
 * themselves: bind port 0, read it back, close.
 */
export const freePort = (kind: "udp" | "tcp", host = "0.0.0.0"): Effect.Effect<number> =>
  Effect.async<number>((resume) => {
    if (kind === "udp") {
      const socket = Dgram.createSocket("udp4")
      socket.bind(0, host, () => {
        const port = socket.address().port
        socket.close(() => resume(Effect.succeed(port)))
      })
    } else {
      const server = Net.createServer()
      server.listen(0, host, () => {
        const port = (server.address() as Net.AddressInfo).port
        server.close(() => resume(Effect.succeed(port)))
      })
    }
  })

// ---------------------------------------------------------------------------------------------
// child processes

export interface Spawned {
  readonly child: ChildProcess.ChildProcess
  /** Everything written to stdout so far. */
  readonly stdout: () => string
  /** Everything written to stderr so far. */
  readonly stderr: () => string
  /** Waits until stdout+stderr match `re` (fails if the process exits first or the deadline passes). */
  readonly waitFor: (re: RegExp, timeout?: Duration.DurationInput) => Effect.Effect<RegExpMatchArray, Error>
  /** Waits for the process to exit. */
  readonly exit: Effect.Effect<{ readonly code: number | null; readonly signal: NodeJS.Signals | null }>
}

/** Spawns a process that is killed (SIGKILL) when the scope closes, if it is still running. */
export const spawn = (
  command: string,
  args: ReadonlyArray<string>,
  options: { readonly env?: NodeJS.ProcessEnv; readonly cwd?: string } = {}
): Effect.Effect<Spawned, never, Scope.Scope> =>
  Effect.gen(function*() {
    const child = yield* Effect.acquireRelease(
      Effect.sync(() =>
        ChildProcess.spawn(command, args, {
          cwd: options.cwd ?? repoRoot,
          env: { ...process.env, PYTHONUNBUFFERED: "1", ...options.env },
          stdio: ["ignore", "pipe", "pipe"]
        })
      ),
      (child) =>
        Effect.async<void>((resume) => {
          if (child.exitCode !== null || child.signalCode !== null) return resume(Effect.void)
          child.once("exit", () => resume(Effect.void))
          child.kill("SIGKILL")
        })
    )
    let out = ""
    let err = ""
    let exited: { code: number | null; signal: NodeJS.Signals | null } | undefined
    let spawnError: Error | undefined
    child.stdout!.on("data", (d: Buffer) => {
      out += d.toString("utf8")
    })
    child.stderr!.on("data", (d: Buffer) => {
      err += d.toString("utf8")
    })
    child.on("error", (e) => {
      spawnError = e
    })
    child.on("close", (code, signal) => {
      exited = { code, signal }
    })

    const waitFor = (re: RegExp, timeout: Duration.DurationInput = "20 seconds") =>
      Effect.async<RegExpMatchArray, Error>((resume) => {
        const check = () => {
          const m = (out + "\n" + err).match(re)
          if (m) {
            cleanup()
            resume(Effect.succeed(m))
          } else if (exited !== undefined || spawnError !== undefined) {
            cleanup()
            resume(Effect.fail(new Error(`process ended before ${re}: ${spawnError ?? JSON.stringify(exited)}\nstdout: ${out}\nstderr: ${err}`)))
          }
        }
        const cleanup = () => {
          child.stdout!.off("data", check)
          child.stderr!.off("data", check)
          child.off("close", check)
          child.off("error", check)
        }
        child.stdout!.on("data", check)
        child.stderr!.on("data", check)
        // "close" comes after the pipes are drained, so output written just before exit is seen
        child.on("close", check)
        child.on("error", check)
        check()
        return Effect.sync(cleanup)
      }).pipe(
        Effect.timeoutFail({
          duration: timeout,
          onTimeout: () => new Error(`timed out waiting for ${re}\nstdout: ${out}\nstderr: ${err}`)
        })
      )

    const exit = Effect.async<{ code: number | null; signal: NodeJS.Signals | null }>((resume) => {
      if (exited !== undefined) return resume(Effect.succeed(exited))
      child.once("close", (code, signal) => resume(Effect.succeed({ code, signal })))
    })

    return { child, stdout: () => out, stderr: () => err, waitFor, exit }
  })

/** Runs a Python script to completion and returns its stdout (fails on a non-zero exit). */
export const runPython = (script: string, args: ReadonlyArray<string> = []): Effect.Effect<string, Error, Scope.Scope> =>
  Effect.gen(function*() {
    const p = yield* spawn(requirePython(), ["-c", script, ...args])
    const exit = yield* p.exit.pipe(
      Effect.timeoutFail({ duration: "30 seconds", onTimeout: () => new Error(`python timed out\n${p.stderr()}`) })
    )
    if (exit.code !== 0) return yield* Effect.fail(new Error(`python exited ${JSON.stringify(exit)}\n${p.stderr()}`))
    return p.stdout()
  })

// ---------------------------------------------------------------------------------------------
// retries

/** Repeats `self` until `until` holds for its result, every 100 ms, for at most `deadline`. */
export const eventually = <A, E, R>(
  self: Effect.Effect<A, E, R>,
  until: (a: A) => boolean,
  deadline: Duration.DurationInput = "10 seconds"
): Effect.Effect<A, E | Error, R> => {
  const loop: Effect.Effect<A, E, R> = Effect.flatMap(
    self,
    (a) => until(a) ? Effect.succeed(a) : Effect.delay(Effect.suspend(() => loop), "100 millis")
  )
  return loop.pipe(
    Effect.timeoutFail({
      duration: deadline,
      onTimeout: () => new Error(`condition not met within ${Duration.format(Duration.decode(deadline))}`)
    })
  )
}
