/**
 * The example scripts of examples/async and examples/callbacks, run as processes against the
 * servers they are written for: Python's `rpyc_classic` and effect-rpyc's own classic server.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { run, spawn, TIMEOUT, tsx } from "../support/Child.js"
import { pythonClassic } from "../support/Peers.js"
import { describePython, hasPythonRpyc, pythonMissing } from "../support/Python.js"

/** effect-rpyc's classic server (`src/cli/rpyc-classic.ts`) on a free port. */
const tsClassic = Effect.gen(function*() {
  const [node, args] = tsx("src/cli/rpyc-classic.ts", "--port", "0")
  const child = yield* spawn(node, args)
  const m = yield* child.waitFor(/server started on \[127\.0\.0\.1\]:(\d+)/, "stderr")
  return { port: m[1]! }
})

const runExample = (file: string, env: Readonly<Record<string, string>>) =>
  Effect.gen(function*() {
    const [node, args] = tsx(file)
    const result = yield* run(node, args, { env })
    assert.strictEqual(result.code, 0, `${file}\n--- stdout ---\n${result.stdout}\n--- stderr ---\n${result.stderr}`)
    return result.stdout
  })

const LOCAL_PRINTS = Array.from({ length: 10 }, (_, i) => `hi, this is g, executing locally ${i}`).join("\n")
const CUBES = "[0, 1, 8, 27, 64, 125, 216, 343, 512, 729]"

describePython("examples against Python rpyc_classic", () => {
  it.scopedLive(
    "examples/async/python-classic.ts: sleep, ready false then true, int, ValueError, expiry",
    () =>
      Effect.gen(function*() {
        assert.isTrue(hasPythonRpyc, pythonMissing)
        const { port } = yield* pythonClassic
        const out = yield* runExample("examples/async/python-classic.ts", { PORT: String(port), SLEEP: "0.3" })
        assert.include(out, "<built-in function sleep>")
        assert.match(out, /<AsyncResult object \(pending\)/)
        assert.include(out, "ready: false\nready: false\nready: true\nvalue: null\n")
        assert.match(out, /<AsyncResult object \(ready\)/)
        assert.include(out, "ready: true error: false value: 8")
        assert.include(
          out,
          "ready: true error: true\nraised ValueError: invalid literal for int() with base 10: 'this is not a valid number'"
        )
        assert.include(out, "expired: result expired")
      }),
    TIMEOUT
  )

  it.scopedLive(
    "examples/callbacks/python-classic.ts: g executes locally, once per element",
    () =>
      Effect.gen(function*() {
        assert.isTrue(hasPythonRpyc, pythonMissing)
        const { port } = yield* pythonClassic
        const out = yield* runExample("examples/callbacks/python-classic.ts", { PORT: String(port) })
        assert.include(out, "rlist: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]")
        assert.include(out, `${CUBES}\n${LOCAL_PRINTS}\n${CUBES}\n`)
      }),
    TIMEOUT
  )
})

describe("examples against effect-rpyc's classic server", () => {
  it.scopedLive(
    "examples/async/ts-classic.ts: setTimeout sleep, ready false then true, BigInt, SyntaxError, expiry",
    () =>
      Effect.gen(function*() {
        const { port } = yield* tsClassic
        const out = yield* runExample("examples/async/ts-classic.ts", { PORT: port, SLEEP: "0.3" })
        assert.include(out, "ready: false\nready: true\nvalue: null\n")
        assert.include(out, "ready: true error: false value: 8")
        assert.include(
          out,
          "ready: true error: true\nraised SyntaxError: Cannot convert this is not a valid number to a BigInt"
        )
        assert.include(out, "expired: result expired")
      }),
    TIMEOUT
  )

  it.scopedLive("examples/callbacks/ts-classic.ts: g executes locally, once per element", () =>
    Effect.gen(function*() {
      const { port } = yield* tsClassic
      const out = yield* runExample("examples/callbacks/ts-classic.ts", { PORT: port })
      assert.include(out, "rlist: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]")
      assert.include(out, `${CUBES}\n${LOCAL_PRINTS}\n${CUBES}\n`)
    }), TIMEOUT)
})

describe("examples/async/effect.ts", () => {
  it.scopedLive("runs the Effect version end to end", () =>
    Effect.gen(function*() {
      const out = yield* runExample("examples/async/effect.ts", {})
      assert.include(out, "ready: false\nready: true, value: null\n")
      assert.include(out, "int(\"8\") = 8")
      assert.include(
        out,
        "error: true -> ValueError: invalid literal for int() with base 10: 'this is not a valid number'"
      )
      assert.include(out, "expired: result expired")
      assert.include(out, "1000 async calls, sum = 499500")
      assert.include(out, "buffiter batches: 10, 20, 40, 30")
    }), TIMEOUT)
})
