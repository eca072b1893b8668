/**
 * Classic servers for the classic tests, all on 127.0.0.1 and a port the OS picks:
 *
 * - `tsServer`: a TypeScript classic server in this process (`Server.make(ClassicService)`).
 * - `tsServerProcess`: `examples/classic/server.ts` as a child (what `npx rpyc-classic` serves), for
 *   tests that watch the server's own stdout or redirect it.
 * - Python's `rpyc_classic` is test/support's `pythonClassic` (Peers.ts).
 *
 * Children are killed when the test's scope closes; readiness is the "server started" log line.
 */
import * as Effect from "effect/Effect"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as Classic from "../../src/classic/Classic.js"
import { ClassicService } from "../../src/classic/ClassicService.js"
import { spawn, tsx } from "../support/Child.js"
import { pythonClassic, serve } from "../support/Peers.js"

const STARTED = /server started on \[127\.0\.0\.1\]:(\d+)/

/** A TypeScript classic server in this process; its port. */
export const tsServer = Effect.map(
  serve(ClassicService).pipe(Logger.withMinimumLogLevel(LogLevel.Warning)),
  (server) => ({ server, port: server.port! })
)

/** `examples/classic/server.ts` as a child process. */
export const tsServerProcess = Effect.gen(function*() {
  const child = yield* spawn(...tsx("examples/classic/server.ts"), {
    env: { PORT: "0" },
    ready: { stream: "stderr", pattern: STARTED }
  })
  return { child, port: Number(child.ready![1]) }
})

/** A classic connection to 127.0.0.1:`port`, for the current scope. */
export const connect = (port: number, options: Classic.ConnectOptions = {}): Classic.Connecting =>
  Classic.connect("127.0.0.1", port, options)

/** A connection to an in-process TypeScript classic server. */
export const connectTs = Effect.flatMap(
  tsServer,
  ({ port, server }) => Effect.map(connect(port), (conn) => ({ conn, port, server }))
)

/** A connection to a fresh Python `rpyc_classic`. */
export const connectPython = Effect.flatMap(
  pythonClassic,
  ({ child, port }) => Effect.map(connect(port), (conn) => ({ conn, port, child }))
)

/** Collects what is written to it (a stand-in for stdout in `redirectedStdio` tests). */
export class Collector {
  text = ""
  write(chunk: string | Uint8Array): boolean {
    this.text += typeof chunk === "string" ? chunk : Buffer.from(chunk).toString("utf8")
    return true
  }
}
