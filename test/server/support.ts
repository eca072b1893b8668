/**
 * Helpers for the server-mode and CLI tests:
 *
 * - `makePki`: a throw-away PKI made with the openssl CLI in a temporary directory (a CA, a server
 *   certificate for localhost/127.0.0.1, a client certificate signed by the CA, and an unrelated CA
 *   with its own client certificate), removed by `cleanup`.
 * - `spawnChild`: a child process as a scoped resource (SIGKILLed and awaited on release) whose stdout
 *   and stderr are collected; `waitFor` waits for a pattern in either, without fixed sleeps.
 * - `cli`: the command that runs `src/cli/rpyc-classic.ts` through tsx.
 * - Python availability (`hasPythonRpyc`, `runPythonTests`): skip Python tests when
 *   `/usr/bin/python3 -c "import rpyc"` fails, unless `CI=true`.
 */
import * as Data from "effect/Data"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import type * as Scope from "effect/Scope"
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import { createRequire } from "node:module"
import * as Os from "node:os"
import * as Path from "node:path"
import { fileURLToPath, pathToFileURL } from "node:url"

/** The repository root. */
export const ROOT = Path.resolve(Path.dirname(fileURLToPath(import.meta.url)), "../..")

/** Node flags that load TypeScript (tsx's loader, by absolute URL). */
export const TSX: ReadonlyArray<string> = [
  "--import",
  pathToFileURL(createRequire(import.meta.url).resolve("tsx")).href
]

/** `node --import tsx <file>`. */
export const tsNode = (file: string, ...args: ReadonlyArray<string>): readonly [string, ReadonlyArray<string>] => [
  process.execPath,
  [...TSX, file, ...args]
]

/** The rpyc-classic CLI from its TypeScript source. */
export const CLI = Path.join(ROOT, "src/cli/rpyc-classic.ts")

/** `node --import tsx src/cli/rpyc-classic.ts ...args`. */
export const cli = (...args: ReadonlyArray<string>) => tsNode(CLI, ...args)

/** A file of test/server/fixtures. */
export const fixture = (name: string): string => Path.join(ROOT, "test/server/fixtures", name)

/**
 * Generous: a cold `node --import tsx` start of the CLI takes ~4 s on an idle 2-CPU machine, and over
 * a minute when the machine is loaded (several test runs at once).
 */
export const CHILD_TIMEOUT = Duration.seconds(150)

/** Per-test timeout of tests that start child processes. */
export const TIMEOUT = 300_000

// ---------------------------------------------------------------------------------------------
// PKI

export interface Pki {
  readonly dir: string
  /** File names inside `dir`. */
  readonly files: {
    readonly ca: string
    readonly serverKey: string
    readonly serverCert: string
    readonly clientKey: string
    readonly clientCert: string
    readonly otherCa: string
    readonly otherClientKey: string
    readonly otherClientCert: string
  }
  readonly read: (file: string) => string
  readonly cleanup: () => void
}

export const makePki = (): Pki => {
  const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "effect-rpyc-modes-"))
  const openssl = (...args: Array<string>) => ChildProcess.execFileSync("openssl", args, { cwd: dir, stdio: "pipe" })
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
  const makeCa = (name: string, cn: string) =>
    openssl("req", "-x509", ...ec, "-keyout", `${name}.key`, "-out", `${name}.crt`, "-subj", `/CN=${cn}`, "-days", "1",
      "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign")
  const makeLeaf = (name: string, ca: string, cn: string, ext: string) => {
    Fs.writeFileSync(Path.join(dir, `${name}.ext`), ext)
    openssl("req", ...ec, "-keyout", `${name}.key`, "-out", `${name}.csr`, "-subj", `/CN=${cn}`)
    openssl("x509", "-req", "-in", `${name}.csr`, "-CA", `${ca}.crt`, "-CAkey", `${ca}.key`, "-CAcreateserial",
      "-out", `${name}.crt`, "-days", "1", "-extfile", `${name}.ext`)
  }
  makeCa("ca", "effect-rpyc test CA")
  makeCa("other", "someone else's CA")
  makeLeaf("server", "ca", "localhost", "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n")
  makeLeaf("client", "ca", "client-1", "extendedKeyUsage=clientAuth\n")
  makeLeaf("stranger", "other", "stranger", "extendedKeyUsage=clientAuth\n")
  const file = (name: string) => Path.join(dir, name)
  return {
    dir,
    files: {
      ca: file("ca.crt"),
      serverKey: file("server.key"),
      serverCert: file("server.crt"),
      clientKey: file("client.key"),
      clientCert: file("client.crt"),
      otherCa: file("other.crt"),
      otherClientKey: file("stranger.key"),
      otherClientCert: file("stranger.crt")
    },
    read: (name) => Fs.readFileSync(name, "utf8"),
    cleanup: () => Fs.rmSync(dir, { recursive: true, force: true })
  }
}

/** A fresh temporary directory, removed when the scope closes. */
export const tempDir = (prefix = "effect-rpyc-"): Effect.Effect<string, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.sync(() => Fs.mkdtempSync(Path.join(Os.tmpdir(), prefix))),
    (dir) => Effect.sync(() => Fs.rmSync(dir, { recursive: true, force: true }))
  )

// ---------------------------------------------------------------------------------------------
// child processes

export class ChildError extends Data.TaggedError("ChildError")<{ readonly message: string }> {}

export interface Child {
  readonly process: ChildProcess.ChildProcess
  readonly pid: number
  readonly stdout: () => string
  readonly stderr: () => string
  /** Waits until `pattern` appears in stdout or stderr; returns the match. Fails if the child exits first. */
  readonly waitFor: (pattern: RegExp, stream?: "stdout" | "stderr") => Effect.Effect<RegExpMatchArray, ChildError>
  /** Waits for the child to exit. */
  readonly exit: Effect.Effect<{ readonly code: number | null; readonly signal: NodeJS.Signals | null }>
  /** Writes to its stdin. */
  readonly write: (data: string | Uint8Array) => void
  readonly closeStdin: () => void
}

const exited = (child: ChildProcess.ChildProcess) => child.exitCode !== null || child.signalCode !== null

export const spawnChild = (
  command: readonly [string, ReadonlyArray<string>],
  options: { readonly stdin?: "pipe" | "ignore"; readonly env?: NodeJS.ProcessEnv; readonly cwd?: string } = {}
): Effect.Effect<Child, ChildError, Scope.Scope> =>
  Effect.gen(function*() {
    const exitDeferred = yield* Deferred.make<{ readonly code: number | null; readonly signal: NodeJS.Signals | null }>()
    const child = yield* Effect.acquireRelease(
      Effect.async<ChildProcess.ChildProcess, ChildError>((resume) => {
        const child = ChildProcess.spawn(command[0], command[1], {
          cwd: options.cwd ?? ROOT,
          stdio: [options.stdin ?? "ignore", "pipe", "pipe"],
          env: options.env ?? { ...process.env, CI: process.env.CI ?? "" }
        })
        child.once("error", (cause) => resume(Effect.fail(new ChildError({ message: `cannot start ${command[0]}: ${cause.message}` }))))
        child.once("spawn", () => resume(Effect.succeed(child)))
      }),
      (child) =>
        Effect.async<void>((resume) => {
          if (exited(child)) return resume(Effect.void)
          child.once("exit", () => resume(Effect.void))
          child.kill("SIGKILL")
        })
    )
    child.once("exit", (code, signal) => Deferred.unsafeDone(exitDeferred, Exit.succeed({ code, signal })))
    let stdout = ""
    let stderr = ""
    const waiters = new Set<() => void>()
    const notify = () => {
      for (const w of waiters) w()
    }
    child.stdout!.on("data", (chunk: Buffer) => {
      stdout += chunk.toString("utf8")
      notify()
    })
    child.stderr!.on("data", (chunk: Buffer) => {
      stderr += chunk.toString("utf8")
      notify()
    })
    child.once("exit", notify)
    const waitFor = (pattern: RegExp, stream?: "stdout" | "stderr") =>
      Effect.async<RegExpMatchArray, ChildError>((resume) => {
        const check = () => {
          const text = stream === "stdout" ? stdout : stream === "stderr" ? stderr : `${stdout}\n${stderr}`
          const match = text.match(pattern)
          if (match) {
            waiters.delete(check)
            resume(Effect.succeed(match))
          } else if (exited(child)) {
            waiters.delete(check)
            resume(Effect.fail(new ChildError({
              message: `child exited (${child.exitCode ?? child.signalCode}) before printing ${pattern}\nstdout: ${stdout}\nstderr: ${stderr}`
            })))
          }
        }
        waiters.add(check)
        // the exit event may come before the last data: check again once the streams are drained
        child.stdout!.once("close", check)
        check()
        return Effect.sync(() => waiters.delete(check))
      }).pipe(
        Effect.timeoutFail({
          duration: CHILD_TIMEOUT,
          onTimeout: () => new ChildError({ message: `timed out waiting for ${pattern}\nstdout: ${stdout}\nstderr: ${stderr}` })
        })
      )
    return {
      process: child,
      pid: child.pid!,
      stdout: () => stdout,
      stderr: () => stderr,
      waitFor,
      exit: Deferred.await(exitDeferred),
      write: (data) => void child.stdin?.write(data),
      closeStdin: () => void child.stdin?.end()
    }
  })

/** Runs a command to completion (killed if interrupted); returns its exit code and output. */
export const runChild = (command: readonly [string, ReadonlyArray<string>], options: { readonly env?: NodeJS.ProcessEnv } = {}) =>
  Effect.scoped(Effect.gen(function*() {
    const child = yield* spawnChild(command, options)
    const status = yield* child.exit.pipe(
      Effect.timeoutFail({ duration: CHILD_TIMEOUT, onTimeout: () => new ChildError({ message: "child ran too long" }) })
    )
    // the pipes may still hold the last bytes after 'exit'
    yield* Effect.async<void>((resume) => {
      if (child.process.stdout!.closed && child.process.stderr!.closed) return resume(Effect.void)
      let open = 2
      const done = () => --open === 0 && resume(Effect.void)
      child.process.stdout!.closed ? done() : child.process.stdout!.once("close", done)
      child.process.stderr!.closed ? done() : child.process.stderr!.once("close", done)
    })
    return { ...status, stdout: child.stdout(), stderr: child.stderr() }
  }))

/** Whether a process with this pid exists (signal 0). */
export const isAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
    return true
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM"
  }
}

/** Polls `condition` every 20 ms until it holds (a state change with no event to wait on), up to 120 s. */
export const eventually = (condition: () => boolean, what: string): Effect.Effect<void, ChildError> =>
  Effect.gen(function*() {
    const deadline = Date.now() + 120_000
    while (!condition()) {
      if (Date.now() > deadline) return yield* new ChildError({ message: `timed out waiting until ${what}` })
      yield* Effect.sleep("20 millis")
    }
  })

// ---------------------------------------------------------------------------------------------
// Python

export { hasPythonRpyc, PYTHON, runPythonTests } from "../support/Python.js"
