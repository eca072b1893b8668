/**
 * The examples of issue 2 run with their one documented command: my-service (every variant, with
 * the TS and the Python client) and the Effect app (demo, and Ctrl-C releasing everything).
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { spawn, TSX } from "../support/Child.js"
import { describePython, PYTHON } from "../support/Python.js"

const TIMEOUT = 120_000

/** Starts examples/my-service/server.ts in `mode` on a free port and returns the port. */
const myService = (mode: string) =>
  Effect.gen(function*() {
    const server = yield* spawn(process.execPath, [...TSX, "examples/my-service/server.ts", mode], {
      env: { PORT: "0" }
    })
    const match = yield* server.waitFor(/MyService \(\w+\) on port (\d+)/, { timeout: "60 seconds" })
    return Number(match[1])
  })

const runClient = (command: string, args: ReadonlyArray<string>, env: NodeJS.ProcessEnv = {}) =>
  Effect.gen(function*() {
    const client = yield* spawn(command, args, { env })
    const exit = yield* client.exit
    assert.strictEqual(exit.code, 0, client.stderr())
    return client.stdout()
  })

const tsClient = (port: number) =>
  runClient(process.execPath, [...TSX, "examples/my-service/client.ts"], { PORT: String(port) })

describe("examples/my-service", () => {
  it.scopedLive("a fresh MyService per connection: answers, names, get_question denied", () =>
    Effect.gen(function*() {
      const out = yield* tsClient(yield* myService("class"))
      assert.match(out, /root: <MyService object at 0x[0-9a-f]+>/)
      assert.match(out, /get_answer\(\): 42/)
      assert.match(out, /the_real_answer_though: 43/)
      assert.match(out, /get_greeting\(\): hello/)
      assert.match(out, /get_service_name\(\): MY/)
      assert.match(out, /get_question\(\): AttributeError: cannot access 'get_question'/)
      assert.match(out, /public_note: AttributeError/)
    }), TIMEOUT)

  it.scopedLive("shared instance and classpartial variants", () =>
    Effect.gen(function*() {
      assert.match(yield* tsClient(yield* myService("shared")), /get_greeting\(\): shared hello/)
      assert.match(yield* tsClient(yield* myService("partial")), /get_greeting\(\): bonjour/)
    }), TIMEOUT)

  it.scopedLive("allowPublicAttrs: public names become reachable", () =>
    Effect.gen(function*() {
      const out = yield* tsClient(yield* myService("public"))
      assert.match(out, /public_note: visible with allowPublicAttrs/)
      assert.match(out, /get_question\(\): what is the airspeed velocity/)
    }), TIMEOUT)
})

describePython("examples/my-service with Python", () => {
  it.scopedLive("the Python client against the TS server", () =>
    Effect.gen(function*() {
      const out = yield* runClient(PYTHON, ["examples/my-service/client.py", String(yield* myService("class"))])
      assert.match(out, /<MyService object at 0x[0-9a-f]+>\n42\n43\nMY \('MY',\)\nget_question is not exposed/)
    }), TIMEOUT)
})

describe("examples/effect-app", () => {
  it.scopedLive(
    "--once: the demo's calls, a remote error handled by tag, a clean shutdown",
    () =>
      Effect.gen(function*() {
        const out = yield* runClient(process.execPath, [...TSX, "examples/effect-app/main.ts", "--once"])
        assert.match(out, /add\(2, 3\) = 5/)
        assert.match(out, /slow_square\(1\.\.4\) = 1, 4, 9, 16/)
        assert.match(out, /divide\(1, 0\) -> caught ValueError: division by zero/)
        assert.match(out, /service name: CALC/)
        assert.match(out, /shut down cleanly\nclient: connection closed/)
      }),
    TIMEOUT
  )

  it.scopedLive("Ctrl-C (SIGINT) releases the client, then the server, and exits 0", () =>
    Effect.gen(function*() {
      const app = yield* spawn(process.execPath, [...TSX, "examples/effect-app/main.ts"])
      yield* app.waitFor(/serving; press Ctrl-C to stop/, { timeout: "60 seconds" })
      app.process.kill("SIGINT")
      const exit = yield* app.exit
      assert.strictEqual(exit.code, 0)
      assert.match(app.stdout(), /shut down cleanly\nclient: connection closed/)
    }), TIMEOUT)
})
