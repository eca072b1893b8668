/**
 * Over TLS every frame goes in its own record: Python RPyC reads one record, then waits in
 * `select` for the socket, which never fires for frames left in OpenSSL's buffer. A classic TLS
 * connection sends two requests at once while it connects, so this used to time out every time.
 */
import { afterAll, assert, beforeAll, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as ClassicTransports from "../../src/classic/Transports.js"
import { spawn, TIMEOUT } from "../support/Child.js"
import { RPYC_CLASSIC } from "../support/Peers.js"
import { makePki, type Pki } from "../support/Pki.js"
import { describePython, PYTHON } from "../support/Python.js"

let pki: Pki | undefined
beforeAll(() => {
  pki = makePki()
})
afterAll(() => pki?.cleanup())

describePython("TLS toward Python rpyc_classic", () => {
  it.scopedLive(
    "rpyc.classic.sslConnect works, and concurrent requests all get their replies",
    () =>
      Effect.gen(function*() {
        const files = pki!.files
        const server = yield* spawn(PYTHON, [
          "-u",
          RPYC_CLASSIC,
          "--host",
          "127.0.0.1",
          "--port",
          "0",
          "--ssl-keyfile",
          files.serverKey,
          "--ssl-certfile",
          files.serverCert
        ], { ready: { stream: "stderr", pattern: /server started on \[127\.0\.0\.1\]:(\d+)/ } })
        const port = Number(server.ready![1])
        const conn = yield* ClassicTransports.sslConnect("127.0.0.1", port, { cafile: files.ca })
        assert.strictEqual(yield* conn.eval("6 * 7"), 42)
        const results = yield* Effect.all(
          Array.from({ length: 20 }, (_, i) => conn.eval(`${i} + 1`)),
          { concurrency: "unbounded" }
        )
        assert.deepStrictEqual(results, Array.from({ length: 20 }, (_, i) => i + 1))
      }).pipe(Effect.timeout("60 seconds")),
    TIMEOUT
  )
})
