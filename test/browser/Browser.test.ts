/**
 * A real browser: headless Chromium loads a page that imports the browser bundle, connects through
 * `rpyc-gateway` to a Python RPyC ThreadedServer and to a TS server, calls methods, passes a callback
 * the server calls back, reads remote exceptions, receives compressed frames (inflated in
 * JavaScript), and renders every result into the DOM; the test reads the DOM. The gateway refuses an
 * upstream that is not on its list and a page from an origin it does not allow.
 */
import { assert, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Fs from "node:fs"
import { bundle } from "../../scripts/build-browser.mjs"
import * as Gateway from "../../src/gateway/Gateway.js"
import * as Server from "../../src/server/Server.js"
import { Service } from "../../src/service/Service.js"
import { pythonServer } from "../support/Peers.js"
import { browser, describeBrowser, HTML, JS, staticServer } from "./support.js"

const TIMEOUT = 120_000
const fixture = (name: string) => Fs.readFileSync(new URL(`./fixtures/${name}`, import.meta.url))

class TsService extends Service {
  exposed_add(a: number, b: number) {
    return a + b
  }
  /** Calls the page's function back, and once more on its answer. */
  async exposed_twice(fn: (s: string) => PromiseLike<string>, s: string) {
    const once = await fn(s)
    return `${once}|${await fn(once.toLowerCase() + "c")}`
  }
  exposed_fail(message: string): never {
    throw new TypeError(message)
  }
  /** Over 3000 bytes each way: Node compresses its reply, the page inflates it. */
  exposed_echo(s: string) {
    return s
  }
}

/** The page's results: `{ step: text }`, once its #status is no longer "running". */
const results = (origin: string, query: string) =>
  Effect.gen(function*() {
    const context = yield* browser()
    const page = yield* Effect.promise(() => context.newPage())
    const console: Array<string> = []
    page.on("console", (message) => console.push(`${message.type()}: ${message.text()}`))
    page.on("pageerror", (error) => console.push(`pageerror: ${error.message}`))
    yield* Effect.promise(() => page.goto(`${origin}/?${query}`))
    // a page that never finishes shows what it got so far in the failure
    yield* Effect.ignore(Effect.tryPromise(() =>
      page.waitForFunction(() => document.getElementById("status")?.textContent !== "running", null, {
        timeout: 60_000
      })
    ))
    const status = yield* Effect.promise(() =>
      page.textContent("#status")
    )
    const items = yield* Effect.promise(() =>
      page.$$eval("#results li", (lis) => lis.map((li) => [li.id, li.textContent ?? ""] as const))
    )
    return { status, steps: Object.fromEntries(items) as Record<string, string>, console: console.join("\n") }
  })

describeBrowser("in Chromium, through the gateway", () => {
  it.scopedLive(
    "a page drives a Python and a TS service: calls, callbacks, exceptions, netrefs",
    () =>
      Effect.gen(function*() {
        const code = yield* Effect.promise(() => bundle({ entry: "src/browser.ts" }))
        assert.deepStrictEqual(code.nodeImports, [])
        const files = {
          "/index.html": { body: fixture("index.html"), type: HTML },
          "/page.js": { body: fixture("page.js"), type: JS },
          "/effect-rpyc.min.js": { body: code.code, type: JS }
        }
        const allowed = yield* staticServer(files)
        // the same page from another origin, which the gateway does not allow
        const foreign = yield* staticServer(files)

        const python = yield* pythonServer(new URL("./fixtures/browser_service.py", import.meta.url).pathname)
        const ts = yield* Server.make(TsService, { host: "127.0.0.1", port: 0 })
        const gateway = yield* Gateway.make({
          upstreams: { python: { host: "127.0.0.1", port: python.port }, ts: { host: "127.0.0.1", port: ts.port! } },
          allowedOrigins: [allowed]
        })
        const url = `ws://127.0.0.1:${gateway.port}/rpyc`

        const { console, status, steps } = yield* results(allowed, `gateway=${encodeURIComponent(url)}`)
        const why = `page status ${status}\n${JSON.stringify(steps, null, 2)}\n${console}`
        assert.strictEqual(status, "done", why)
        assert.strictEqual(steps["py-add"], "5", why)
        assert.strictEqual(steps["py-greet"], "hello browser from Python", why)
        // Python calls the page's function: 4 * 10, plus one
        assert.strictEqual(steps["py-callback"], "41", why)
        assert.strictEqual(steps["py-error"], "RemoteError ValueError: boom", why)
        // "rpyc " * 2000: a 10,000-character reply, zlib-compressed by Python
        assert.strictEqual(steps["py-compressed"], "10000", why)
        assert.strictEqual(steps["py-netref"], "6", why)
        assert.strictEqual(steps["ts-add"], "42", why)
        assert.strictEqual(steps["ts-callback"], "AB|ABC", why)
        assert.strictEqual(steps["ts-error"], "RemoteError TypeError: bad input", why)
        assert.strictEqual(steps["ts-large"], "10000", why)
        // not on the gateway's list: refused before the upgrade
        assert.match(
          steps["upstream"] ?? "",
          /^error ConnectError: cannot connect to ws:\/\/127\.0\.0\.1:\d+\/rpyc\/not-allowed/,
          why
        )
        assert.strictEqual(gateway.connections(), 0)

        const other = yield* results(foreign, `gateway=${encodeURIComponent(url)}&only=connect`)
        assert.strictEqual(other.status, "done", other.console)
        assert.match(
          other.steps["origin"] ?? "",
          /^error ConnectError: cannot connect to ws:\/\/127\.0\.0\.1:\d+\/rpyc\/python/
        )
      }),
    TIMEOUT
  )
})
