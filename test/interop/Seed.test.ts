/**
 * The seed tutorial's first example, end to end: `examples/test-service/server.ts` spawned as a
 * real process, driven by the seed's unchanged `client.py` (fixed at localhost:9999) and by
 * `examples/test-service/client.ts`.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { explain, run, spawn, TIMEOUT, tsx } from "../support/Child.js"
import { ensurePortFree } from "../support/Ports.js"
import { describePython, hasPythonRpyc, PYTHON, pythonMissing } from "../support/Python.js"

const SERVER = "examples/test-service/server.ts"
const SEED_PORT = 9999
const STARTED = /server started on \[127\.0\.0\.1\]:(\d+)/

/** The seed server as a child process, ready once it logged "server started" on stderr. */
const seedServer = (port: number | undefined) => {
  const [command, args] = tsx(SERVER)
  return spawn(command, args, {
    // PORT unset: the server's default (9999), as in the seed
    env: { PORT: port === undefined ? undefined : String(port) },
    ready: { stream: "stderr", pattern: STARTED },
    // release stops it as a user would (the last test checks that it does)
    stopSignal: "SIGTERM"
  })
}

describePython("seed example: examples/test-service/client.py (unchanged) against server.ts", () => {
  it.scopedLive("python3 client.py prints exactly 12 against the TS server on port 9999", () =>
    Effect.gen(function*() {
      assert.isTrue(hasPythonRpyc, pythonMissing)
      yield* ensurePortFree(SEED_PORT)
      const server = yield* seedServer(undefined)
      assert.strictEqual(Number(server.ready![1]), SEED_PORT, server.stderr())
      const result = yield* run(PYTHON, ["examples/test-service/client.py"])
      assert.strictEqual(result.code, 0, explain(result))
      assert.strictEqual(result.stdout, "12\n", explain(result))
      // the server saw the connection come and go, and is still running
      yield* server.waitFor(/goodbye 127\.0\.0\.1:\d+/, { stream: "stderr", timeout: 5000 })
      assert.isNull(server.process.exitCode, server.stderr())
    }), TIMEOUT)
})

describe("seed example: examples/test-service/client.ts against server.ts", () => {
  it.scopedLive("client.ts prints 12 (PORT env)", () =>
    Effect.gen(function*() {
      // PORT=0: the server picks a free port and logs it; no race for a port number
      const server = yield* seedServer(0)
      const port = Number(server.ready![1])
      assert.isAbove(port, 0)
      const [command, args] = tsx("examples/test-service/client.ts")
      const result = yield* run(command, args, { env: { PORT: String(port) } })
      assert.strictEqual(result.code, 0, explain(result))
      assert.strictEqual(result.stdout, "12\n", explain(result))
      yield* server.waitFor(/goodbye 127\.0\.0\.1:\d+/, { stream: "stderr", timeout: 5000 })
    }), TIMEOUT)

  it.scopedLive("the server process is killed when the scope closes", () =>
    Effect.gen(function*() {
      const proc = yield* Effect.scoped(Effect.map(seedServer(0), (s) => s.process))
      assert.isTrue(proc.exitCode !== null || proc.signalCode !== null, "server still running after release")
      assert.strictEqual(proc.signalCode, "SIGTERM")
    }), TIMEOUT)
})
