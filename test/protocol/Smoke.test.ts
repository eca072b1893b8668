import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Client from "../../src/client/Client.js"
import { Service } from "../../src/service/Service.js"
import { serve } from "../support/Peers.js"

class TestService extends Service {
  exposed_test(num: number) {
    return 1 + num
  }
}

describe("smoke", () => {
  it.scopedLive("a TS client calls a TS service", () =>
    Effect.gen(function*() {
      const server = yield* serve(TestService)
      const conn = yield* Client.connect({ host: "127.0.0.1", port: server.port! })
      assert.strictEqual(yield* conn.root.test(11), 12)
      assert.strictEqual(yield* conn.root.get_service_name(), "TEST")
    }))
})
