/**
 * A TLS handshake the other side refuses reports why: the alert (certificate required) or the
 * verification failure, not just "an error occurred during Read".
 */
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Transports from "../../src/client/Transports.js"
import * as Server from "../../src/server/Server.js"
import { Service } from "../../src/service/Service.js"
import { makePki, type Pki } from "../support/Pki.js"

class Adder extends Service {
  exposed_add(a: number, b: number) {
    return a + b
  }
}

let pki: Pki | undefined
beforeAll(() => {
  pki = makePki()
})
afterAll(() => pki?.cleanup())

describe("TLS refusals say why", () => {
  it.scopedLive("a server that requires a client certificate: the client sees the alert", () =>
    Effect.gen(function*() {
      const files = pki!.files
      const server = yield* Server.make(Adder, {
        host: "127.0.0.1",
        port: 0,
        tls: { keyfile: files.serverKey, certfile: files.serverCert, cafile: files.ca }
      })
      const error = yield* Effect.flip(
        Effect.flatMap(Transports.sslConnect({ host: "127.0.0.1", port: server.port!, cafile: files.ca }), (c) =>
          c.root.add(1, 1))
      )
      assert.match(String(error), /certificate required/)
    }))

  it.scopedLive("a server the client does not trust: the client names the address and the reason", () =>
    Effect.gen(function*() {
      const files = pki!.files
      const server = yield* Server.make(Adder, {
        host: "127.0.0.1",
        port: 0,
        tls: { keyfile: files.serverKey, certfile: files.serverCert }
      })
      const error = yield* Effect.flip(
        Transports.sslConnect({ host: "127.0.0.1", port: server.port!, cafile: files.otherCa })
      )
      assert.match(String(error), new RegExp(`127\\.0\\.0\\.1:${server.port}`))
      assert.match(String(error), /certificate/)
    }))
})
