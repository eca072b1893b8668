/**
 * What the browser tests share: the rule for Chromium (like Python's: skip on a dev machine without
 * it, fail under `CI=true`), a headless Chromium with a fresh profile as a scoped resource, and a
 * static HTTP server on 127.0.0.1.
 */
import { describe } from "@effect/vitest"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import * as Fs from "node:fs"
import * as Http from "node:http"
import type { AddressInfo } from "node:net"
import { type BrowserContext, chromium } from "playwright-core"
import { runPythonTests } from "../support/Python.js"
import { tempDir } from "../support/TempDir.js"

/** Debian's chromium (installed by .ci/run); nothing downloads a browser. */
export const CHROMIUM = process.env.RPYC_CHROMIUM ?? "/usr/bin/chromium"

/** Whether the browser tests run: Chromium and Python RPyC are there, or CI insists. */
export const runBrowserTests: boolean = process.env.CI === "true" || (Fs.existsSync(CHROMIUM) && runPythonTests)

/** `describe` for tests that need Chromium (and Python RPyC). */
export const describeBrowser: typeof describe = runBrowserTests ? describe : (describe.skip as typeof describe)

/** Headless, and quiet: no GPU, no QUIC, no first-run, update or sync traffic. */
const ARGS = [
  "--headless=new",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync"
]

/** A headless Chromium with a fresh profile, closed (and its profile removed) with the scope. */
export const browser = (
  viewport: { readonly width: number; readonly height: number } = { width: 1024, height: 768 }
): Effect.Effect<BrowserContext, unknown, Scope.Scope> =>
  Effect.gen(function*() {
    const profile = yield* tempDir("effect-rpyc-chromium-")
    return yield* Effect.acquireRelease(
      Effect.tryPromise(() =>
        chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: true, args: ARGS, viewport })
      ),
      (context) => Effect.promise(() => context.close())
    )
  })

/** A file the static server serves: its body and content type. */
export interface StaticFile {
  readonly body: string | Uint8Array
  readonly type: string
}

/**
 * An HTTP server on 127.0.0.1 (port 0) serving `files` by path (`/` is `/index.html`); 404 for
 * anything else. Returns its origin (`http://127.0.0.1:<port>`); closed with the scope.
 */
export const staticServer = (
  files: Readonly<Record<string, StaticFile>>
): Effect.Effect<string, unknown, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.async<Http.Server, Error>((resume) => {
      const server = Http.createServer((request, response) => {
        const path = new URL(request.url ?? "/", "http://x").pathname
        const file = files[path === "/" ? "/index.html" : path]
        if (file === undefined) {
          response.writeHead(404).end()
          return
        }
        response.writeHead(200, { "content-type": file.type, "cache-control": "no-store" }).end(file.body)
      })
      server.once("error", (error) => resume(Effect.fail(error)))
      server.listen(0, "127.0.0.1", () => resume(Effect.succeed(server)))
    }),
    (server) =>
      Effect.async<void>((resume) => {
        server.closeAllConnections()
        server.close(() => resume(Effect.void))
      })
  ).pipe(Effect.map((server) => `http://127.0.0.1:${(server.address() as AddressInfo).port}`))

/** The MIME types of the files served. */
export const HTML = "text/html; charset=utf-8"
export const JS = "text/javascript; charset=utf-8"
export const PNG = "image/png"
