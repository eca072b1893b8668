/**
 * examples/registry/main.ts runs with one command and finds both services by name.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { ROOT, spawn, tsx } from "../support/Child.js"
import { freePort } from "../support/Ports.js"

describe("examples/registry", () => {
  it.scopedLive("discovers MY and FLOOP and calls them through connectByService", () =>
    Effect.gen(function*() {
      const port = yield* freePort("udp", "127.0.0.1")
      const example = yield* spawn(...tsx("examples/registry/main.ts"), {
        cwd: ROOT,
        env: { ...process.env, REGISTRY_PORT: String(port) }
      })
      const exit = yield* example.exit
      const out = example.stdout()
      assert.strictEqual(exit.code, 0, example.stderr())
      assert.match(out, new RegExp(`registry on 127\\.0\\.0\\.1:${port}`))
      assert.match(out, /discover\("MY"\)\s+-> \[ \{ host: '127\.0\.0\.1', port: \d+ \} \]/)
      assert.match(out, /listServices\(\)\s+-> \[ 'MY', 'FLOOP', 'BLOOP' \]/)
      assert.match(out, /connect_by_service\("MY"\)\.root\.get_answer\(\) -> 42/)
      assert.match(out, /connect_by_service\("FLOOP"\)\.root\.get_answer\(\) -> floop!/)
    }), 120_000)
})
