/**
 * The browser dashboard of a Python lab instrument, with one command:
 *
 *   npx tsx examples/browser/serve.ts      # then open the URL it prints (PORT: default 8080, 0: any)
 *
 * It starts three things on 127.0.0.1, all stopped by Ctrl-C:
 * - the instrument, a Python RPyC ThreadedServer (instrument.py; RPYC_PYTHON picks the Python that
 *   has rpyc, default /usr/bin/python3);
 * - `rpyc-gateway` (the `Gateway` Layer), which lets the dashboard's origin reach that one server as
 *   `/rpyc/instrument`, and nothing else;
 * - a static server for the page (index.html, dashboard.js) and the browser bundle of effect-rpyc.
 *
 * The page does the rest with `effect-rpyc/browser`: it reads the instrument's history, subscribes
 * a callback that Python calls on every reading, and changes the set point.
 */
import { NodeRuntime } from "@effect/platform-node"
import * as Gateway from "effect-rpyc/Gateway"
import * as Logging from "effect-rpyc/Logging"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Http from "node:http"
import type { AddressInfo } from "node:net"
import { fileURLToPath } from "node:url"
import { bundle } from "../../scripts/build-browser.mjs"

const here = (name: string) => fileURLToPath(new URL(name, import.meta.url))
const PYTHON = process.env.RPYC_PYTHON ?? "/usr/bin/python3"

/** The Python instrument as a child process, stopped with the scope; its port once it listens. */
const instrument = Effect.acquireRelease(
  Effect.sync(() =>
    ChildProcess.spawn(PYTHON, ["-u", here("instrument.py"), "0"], { stdio: ["ignore", "pipe", "inherit"] })
  ),
  (child) => Effect.sync(() => child.kill())
).pipe(
  Effect.flatMap((child) =>
    Effect.async<number, Error>((resume) => {
      let out = ""
      child.stdout.on("data", (chunk: Buffer) => {
        out += chunk.toString()
        const port = /^PORT (\d+)$/m.exec(out)
        if (port !== null) resume(Effect.succeed(Number(port[1])))
      })
      child.once("exit", (code) => resume(Effect.fail(new Error(`${PYTHON} instrument.py exited (${code})`))))
      child.once("error", (error) => resume(Effect.fail(error)))
    })
  )
)

/** Serves `files` by path on 127.0.0.1:`port` until the scope closes; returns the bound port. */
const staticServer = (
  port: number,
  files: Record<string, { readonly body: string | Uint8Array; readonly type: string }>
) =>
  Effect.acquireRelease(
    Effect.async<Http.Server, Error>((resume) => {
      const server = Http.createServer((request, response) => {
        const file = files[new URL(request.url ?? "/", "http://localhost").pathname]
        if (file === undefined) response.writeHead(404).end("not found")
        else response.writeHead(200, { "content-type": file.type }).end(file.body)
      })
      server.once("error", (error) => resume(Effect.fail(error)))
      server.listen(port, "127.0.0.1", () => resume(Effect.succeed(server)))
    }),
    (server) => Effect.async<void>((resume) => void server.close(() => resume(Effect.void)).closeAllConnections())
  ).pipe(Effect.map((server) => (server.address() as AddressInfo).port))

const main = Effect.gen(function*() {
  const built = yield* Effect.promise(() => bundle({ entry: "src/browser.ts" }))
  const instrumentPort = yield* instrument
  // the page's server first: the gateway allows exactly its origin
  const files: Record<string, { body: string | Uint8Array; type: string }> = {
    "/dashboard.js": { body: Fs.readFileSync(here("dashboard.js")), type: "text/javascript" },
    "/effect-rpyc.min.js": { body: built.code, type: "text/javascript" }
  }
  const port = yield* staticServer(Number(process.env.PORT ?? 8080), files)
  const origin = `http://127.0.0.1:${port}`
  const gateway = yield* Gateway.make({
    upstreams: { instrument: { host: "127.0.0.1", port: instrumentPort } },
    allowedOrigins: [origin]
  })
  const html = Fs.readFileSync(here("index.html"), "utf8").replace(
    /(<meta name="rpyc-gateway" content=")[^"]*/,
    `$1ws://127.0.0.1:${gateway.port}${gateway.paths.instrument}`
  )
  files["/"] = { body: html, type: "text/html; charset=utf-8" }
  yield* Console.log(`dashboard: ${origin}/  (Ctrl-C to stop)`)
  return yield* Effect.never
}).pipe(Effect.scoped, Effect.provide(Logging.layerScript({ logLevel: "info" })))

NodeRuntime.runMain(main, { disablePrettyLogger: true })
