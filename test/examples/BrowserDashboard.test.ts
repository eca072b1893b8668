/**
 * examples/browser with its one command: the dashboard page, in headless Chromium, shows the Python
 * instrument's readings as they arrive (a callback Python calls), and sets the set point (a Python
 * ValueError shows under the form).
 */
import { assert, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { browser, describeBrowser } from "../browser/support.js"
import { spawn, TSX } from "../support/Child.js"
import { PYTHON } from "../support/Python.js"

const TIMEOUT = 120_000

describeBrowser("examples/browser", () => {
  it.scopedLive("the dashboard renders readings and sets the set point", () =>
    Effect.gen(function*() {
      const serve = yield* spawn(process.execPath, [...TSX, "examples/browser/serve.ts"], {
        env: { PORT: "0", RPYC_PYTHON: PYTHON },
        stopSignal: "SIGINT"
      })
      const [, url] = yield* serve.waitFor(/^dashboard: (http:\/\/127\.0\.0\.1:\d+\/)/, { timeout: "60 seconds" })
      const context = yield* browser()
      const page = yield* Effect.promise(() => context.newPage())
      yield* Effect.promise(() => page.goto(url!))
      // readings arrive through the subscribed callback, every half second
      yield* Effect.promise(() =>
        page.waitForFunction(() => Number(document.getElementById("count")?.textContent) >= 2, null, {
          timeout: 30_000
        })
      )
      assert.strictEqual(yield* Effect.promise(() => page.textContent("#name")), "Heater H-1 (simulated)")
      assert.strictEqual(yield* Effect.promise(() => page.textContent("#status")), "connected")
      assert.match((yield* Effect.promise(() => page.textContent("#temperature"))) ?? "", /^-?\d+\.\d\d$/)
      assert.isAbove(yield* Effect.promise(() => page.locator("#chart path").count()), 0)

      yield* Effect.promise(() => page.fill("#set-point-input", "150"))
      yield* Effect.promise(() => page.click("button[type=submit]"))
      yield* Effect.promise(() => page.waitForFunction(() => document.getElementById("error")?.textContent !== ""))
      assert.strictEqual(
        yield* Effect.promise(() => page.textContent("#error")),
        "ValueError: set point must be between 0 and 100 °C, got 150"
      )
      yield* Effect.promise(() => page.fill("#set-point-input", "55"))
      yield* Effect.promise(() => page.click("button[type=submit]"))
      yield* Effect.promise(() =>
        page.waitForFunction(() => document.getElementById("set-point")?.textContent === "55.0", null, {
          timeout: 30_000
        })
      )
      assert.strictEqual(yield* Effect.promise(() => page.textContent("#error")), "")
    }), TIMEOUT)
})
