/**
 * Quiet libraries, readable servers (issue #11): a script's ThreadedServer logs warnings and errors
 * only, to stderr, in RPyC's line format; `logLevel: "info"` shows RPyC's INFO lines; `rpycLogs:
 * false` silences it. Nothing goes to stdout. (Sequential: the tests watch this process's streams.)
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Fs from "node:fs"
import * as Net from "node:net"
import * as Os from "node:os"
import * as Path from "node:path"
import * as Logging from "../../src/Logging.js"
import { ThreadedServer } from "../../src/server/Server.js"
import { Service } from "../../src/service/Service.js"
import { eventually } from "../support/Eventually.js"
import * as Peers from "../support/Peers.js"
import { remote } from "../support/Peers.js"

class LogTestService extends Service {
  exposed_echo(x: unknown) {
    return x
  }
}

/** What this process writes to stdout and stderr while the scope lasts. */
const captureOutput = Effect.acquireRelease(
  Effect.sync(() => {
    const captured = { stdout: [] as Array<string>, stderr: [] as Array<string> }
    const original = { stdout: process.stdout.write, stderr: process.stderr.write }
    process.stdout.write = ((chunk: unknown) => {
      captured.stdout.push(String(chunk))
      return true
    }) as typeof process.stdout.write
    process.stderr.write = ((chunk: unknown) => {
      captured.stderr.push(String(chunk))
      return true
    }) as typeof process.stderr.write
    return { captured, original }
  }),
  ({ original }) =>
    Effect.sync(() => {
      process.stdout.write = original.stdout
      process.stderr.write = original.stderr
    })
).pipe(Effect.map(({ captured }) => captured))

/** Starts a ThreadedServer for the scope. */
const threaded = (options: Logging.ScriptOptions) =>
  Effect.acquireRelease(
    Effect.promise(async () => {
      const server = new ThreadedServer(LogTestService, { host: "127.0.0.1", port: 0, ...options })
      await server.start()
      return server
    }),
    (server) => Effect.promise(() => server.close())
  )

/** A session: a TS client connects, calls, hangs up. */
const session = (port: number) =>
  Effect.scoped(Effect.gen(function*() {
    const conn = yield* Peers.connect(port)
    assert.strictEqual(yield* remote(conn.root.echo("hi")), "hi")
  }))

/** A peer that sends bytes that are not RPyC (the server logs an error and drops it). */
const junk = (port: number) =>
  Effect.async<void>((resume) => {
    const sock = Net.createConnection({ host: "127.0.0.1", port }, () => sock.write("GET / HTTP/1.1\r\n\r\n"))
    sock.on("error", () => undefined)
    sock.on("close", () => resume(Effect.void))
    sock.setTimeout(3000, () => sock.destroy())
  })

describe.sequential("a script's ThreadedServer", () => {
  it.scopedLive("logs nothing at INFO by default, but its warnings and errors, to stderr", () =>
    Effect.gen(function*() {
      const out = yield* captureOutput
      const server = yield* threaded({})
      yield* session(server.port!)
      yield* Effect.sleep("300 millis")
      assert.deepStrictEqual(out.stderr, [], "no INFO lines")
      yield* junk(server.port!)
      yield* eventually(() => out.stderr.join("").includes("ERROR:"), "the protocol error is logged")
      assert.notInclude(out.stderr.join(""), "INFO:")
      assert.notInclude(out.stderr.join(""), "DEBUG:")
      assert.deepStrictEqual(out.stdout, [], "nothing on stdout")
    }))

  it.scopedLive("logs RPyC's INFO lines with logLevel \"info\"", () =>
    Effect.gen(function*() {
      const out = yield* captureOutput
      const server = yield* threaded({ logLevel: "info" })
      yield* session(server.port!)
      const name = `LOGTEST/${server.port}`
      yield* eventually(() => out.stderr.join("").includes(`INFO:${name}:goodbye 127.0.0.1:`), "the goodbye line")
      const text = out.stderr.join("")
      assert.include(text, `INFO:${name}:server started on [127.0.0.1]:${server.port}\n`)
      assert.include(text, `INFO:${name}:accepted 127.0.0.1:`)
      assert.include(text, `INFO:${name}:welcome 127.0.0.1:`)
      assert.notInclude(text, "DEBUG:")
      assert.deepStrictEqual(out.stdout, [], "nothing on stdout")
    }))

  it.scopedLive("logs nothing at all with rpycLogs: false, errors included", () =>
    Effect.gen(function*() {
      const out = yield* captureOutput
      const server = yield* threaded({ rpycLogs: false, logLevel: "debug" })
      yield* session(server.port!)
      yield* junk(server.port!)
      yield* Effect.sleep("300 millis")
      assert.deepStrictEqual(out.stderr, [])
      assert.deepStrictEqual(out.stdout, [])
    }))
})

describe("Logging.layerCli", () => {
  it.effect("keeps RPyC's INFO lines, not DEBUG ones, unless quiet", () =>
    Effect.gen(function*() {
      const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "rpyc-logs-"))
      const log = Effect.all([
        Effect.logDebug("debug line"),
        Effect.logInfo("info line"),
        Effect.logError("error line")
      ])
      const capture = (quiet: boolean) =>
        Effect.gen(function*() {
          const logfile = Path.join(dir, `${quiet ? "quiet" : "default"}.log`)
          yield* Effect.scoped(Effect.provide(log, Logging.layerCli({ logfile: Option.some(logfile), quiet })))
          return Fs.readFileSync(logfile, "utf8")
        })
      const normal = yield* capture(false)
      const quiet = yield* capture(true)
      Fs.rmSync(dir, { recursive: true, force: true })
      assert.include(normal, "INFO:rpyc:info line")
      assert.include(normal, "ERROR:rpyc:error line")
      assert.notInclude(normal, "debug line")
      assert.notInclude(quiet, "info line")
      assert.include(quiet, "ERROR:rpyc:error line")
    }))
})
