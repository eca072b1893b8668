/**
 * The gateway between WebSocket clients and RPyC TCP servers: a TS client over WebSocket, through
 * `Gateway.make`, to a real Python RPyC `ThreadedServer` (test/interop/fixtures/py_service_server.py)
 * and to a TS server; what it refuses (an upstream not on its list, an origin, a missing or wrong
 * token); and the `rpyc-gateway` CLI.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Net from "node:net"
import * as Path from "node:path"
import * as WS from "ws"
import * as Client from "../../src/client/Client.js"
import * as Gateway from "../../src/gateway/Gateway.js"
import * as WebSocket from "../../src/transport/WebSocket.js"
import { ROOT, spawn, TIMEOUT as CHILD_TEST_TIMEOUT, tsx } from "../support/Child.js"
import { eventually } from "../support/Eventually.js"
import { exercise, FAIL_MESSAGE, LabService } from "../support/Lab.js"
import * as Peers from "../support/Peers.js"
import { remote } from "../support/Peers.js"
import { describePython } from "../support/Python.js"

const PY_SERVICE = Path.join(ROOT, "test/interop/fixtures/py_service_server.py")
const CLI = Path.join(ROOT, "src/cli/rpyc-gateway.ts")

/** A gateway on 127.0.0.1:0 in front of `upstreams`. */
const gateway = (upstreams: Record<string, number>, options: Omit<Gateway.Options, "upstreams"> = {}) =>
  Gateway.make({
    upstreams: Object.fromEntries(Object.entries(upstreams).map(([name, port]) => [name, { host: "127.0.0.1", port }])),
    host: "127.0.0.1",
    port: 0,
    ...options
  })

const url = (gw: Gateway.Gateway, path: string) => `ws://127.0.0.1:${gw.port}${path}`

/** Connecting must fail before the upgrade with HTTP `status`. */
const refused = (target: string, status: number, options: Client.WebSocketConnectOptions = {}) =>
  Effect.gen(function*() {
    const error = yield* Effect.flip(Client.connectWebSocket(target, options))
    assert.instanceOf(error, WebSocket.ConnectError)
    assert.include(error.message, `${status}`)
  })

describe("Gateway", () => {
  it.scopedLive("WebSocket client -> gateway -> TS server: calls, a callback, a remote exception", () =>
    Effect.gen(function*() {
      const server = yield* Peers.serve(LabService)
      const gw = yield* gateway({ lab: server.port! })
      assert.deepStrictEqual(gw.paths, { lab: "/rpyc/lab" })
      const conn = yield* Client.connectWebSocket(url(gw, "/rpyc/lab"))
      yield* exercise(conn)
      assert.strictEqual(gw.connections(), 1)
      yield* conn.close()
      yield* eventually(() => gw.connections() === 0 && server.connections.size === 0, "both hops closed")
    }))

  it.scopedLive("an upstream not on the allow-list is refused (404), whatever the path", () =>
    Effect.gen(function*() {
      const server = yield* Peers.serve(LabService)
      const gw = yield* gateway({ lab: server.port! })
      yield* refused(url(gw, "/rpyc/other"), 404)
      yield* refused(url(gw, `/rpyc/127.0.0.1:${server.port}`), 404)
      yield* refused(url(gw, "/lab"), 404)
      yield* refused(url(gw, `/rpyc/lab/../../${server.port}`), 404)
      assert.strictEqual(server.connections.size, 0)
    }))

  it.scopedLive("an origin not allowed is refused (403); an allowed one gets through", () =>
    Effect.gen(function*() {
      const server = yield* Peers.serve(LabService)
      const gw = yield* gateway({ lab: server.port! }, { allowedOrigins: ["http://127.0.0.1:8080"] })
      yield* refused(url(gw, "/rpyc/lab"), 403, { headers: { origin: "http://evil.example" } })
      const conn = yield* Client.connectWebSocket(url(gw, "/rpyc/lab"), {
        headers: { origin: "http://127.0.0.1:8080" }
      })
      assert.strictEqual(yield* remote(conn.root.add(1, 2)), 3)
    }))

  it.scopedLive("with a token: missing or wrong is refused (401); in the query or a Bearer header it passes", () =>
    Effect.gen(function*() {
      const server = yield* Peers.serve(LabService)
      const gw = yield* gateway({ lab: server.port! }, { token: "s3cret" })
      yield* refused(url(gw, "/rpyc/lab"), 401)
      yield* refused(url(gw, "/rpyc/lab?token=guess"), 401)
      yield* refused(url(gw, "/rpyc/lab"), 401, { headers: { authorization: "Bearer guess" } })
      // the token is checked before the route: no upstream names leak to a client without it
      yield* refused(url(gw, "/rpyc/nope"), 401)
      const byQuery = yield* Client.connectWebSocket(url(gw, "/rpyc/lab?token=s3cret"))
      assert.strictEqual(yield* remote(byQuery.root.add(1, 2)), 3)
      const byHeader = yield* Client.connectWebSocket(url(gw, "/rpyc/lab"), {
        headers: { authorization: "Bearer s3cret" }
      })
      assert.strictEqual(yield* remote(byHeader.root.add(2, 2)), 4)
    }))

  it.scopedLive("an upstream that is down closes that connection with 1014; the gateway keeps serving", () =>
    Effect.gen(function*() {
      const server = yield* Peers.serve(LabService)
      const down = yield* Effect.scoped(Effect.map(Peers.serve(LabService), (s) => s.port!))
      const gw = yield* gateway({ lab: server.port!, down })
      const closed = yield* Deferred.make<number>()
      const ws = new WS.WebSocket(url(gw, "/rpyc/down"))
      ws.addEventListener("close", (event) => Deferred.unsafeDone(closed, Exit.succeed(event.code)))
      yield* Effect.addFinalizer(() => Effect.sync(() => ws.terminate()))
      assert.strictEqual(yield* Deferred.await(closed), Gateway.CLOSE_BAD_GATEWAY)
      const conn = yield* Client.connectWebSocket(url(gw, "/rpyc/lab"))
      assert.strictEqual(yield* remote(conn.root.add(1, 1)), 2)
    }))

  it.scopedLive("a text message closes only that connection; others keep going", () =>
    Effect.gen(function*() {
      const server = yield* Peers.serve(LabService)
      const gw = yield* gateway({ lab: server.port! })
      const conn = yield* Client.connectWebSocket(url(gw, "/rpyc/lab"))
      const closed = yield* Deferred.make<number>()
      const ws = new WS.WebSocket(url(gw, "/rpyc/lab"))
      yield* Effect.addFinalizer(() => Effect.sync(() => ws.terminate()))
      ws.addEventListener("open", () => ws.send("not RPyC"))
      ws.addEventListener("close", (event) => Deferred.unsafeDone(closed, Exit.succeed(event.code)))
      assert.strictEqual(yield* Deferred.await(closed), WebSocket.CLOSE_UNSUPPORTED_DATA)
      assert.strictEqual(yield* remote(conn.root.add(5, 6)), 11)
    }))

  it.scopedLive("an idle connection is closed after idleTimeout", () =>
    Effect.gen(function*() {
      const server = yield* Peers.serve(LabService)
      const gw = yield* gateway({ lab: server.port! }, { idleTimeout: "300 millis" })
      // no traffic at all: the gateway closes the connection, and the client sees it close
      const conn = yield* Client.connectWebSocket(url(gw, "/rpyc/lab"))
      yield* conn.awaitClose
      yield* eventually(() => gw.connections() === 0 && server.connections.size === 0, "both hops closed")
    }))

  it.scopedLive(
    "backpressure both ways: a slow side stops the gateway reading the other; bytes pass unchanged",
    () =>
      Effect.gen(function*() {
        const total = 48 * 1024 * 1024
        const chunk = 64 * 1024
        const pattern = (i: number) => (i * 7 + 3) & 0xff
        const block = (offset: number) => {
          const bytes = new Uint8Array(chunk)
          for (let i = 0; i < chunk; i++) bytes[i] = pattern(offset + i)
          return bytes
        }
        // an upstream that is a plain TCP socket: it writes `total` bytes and reads only when told to
        const upstream = yield* Deferred.make<Net.Socket>()
        const tcp = Net.createServer((socket) => {
          socket.pause()
          Deferred.unsafeDone(upstream, Exit.succeed(socket))
        })
        yield* Effect.acquireRelease(
          Effect.async<void>((resume) => void tcp.listen(0, "127.0.0.1", () => resume(Effect.void))),
          () => Effect.sync(() => tcp.close())
        )
        const tcpPort = (tcp.address() as Net.AddressInfo).port
        const gw = yield* gateway({ raw: tcpPort }, { maxBufferedBytes: 256 * 1024 })
        const received: Array<Uint8Array> = []
        let receivedBytes = 0
        const allReceived = yield* Deferred.make<void>()
        const ws = yield* Effect.acquireRelease(
          Effect.async<WS.NodeWebSocket>((resume) => {
            const ws = new WS.WebSocket(url(gw, "/rpyc/raw"))
            ws.binaryType = "arraybuffer"
            ws.addEventListener("message", (event) => {
              const bytes = new Uint8Array(event.data as ArrayBuffer)
              received.push(bytes)
              receivedBytes += bytes.length
              if (receivedBytes >= total) Deferred.unsafeDone(allReceived, Exit.void)
            })
            ws.addEventListener("open", () => resume(Effect.succeed(ws)), { once: true })
          }),
          (ws) => Effect.sync(() => ws.terminate())
        )
        const socket = yield* Deferred.await(upstream)
        yield* Effect.addFinalizer(() => Effect.sync(() => socket.destroy()))

        // the gateway holds at most about maxBufferedBytes per direction, plus what one read brings
        const limit = 256 * 1024 + 256 * 1024
        /** Waits until `progress` stops moving (a stalled sender), failing at once if the gateway holds too much. */
        const stalled = (progress: () => number, what: string) =>
          Effect.gen(function*() {
            let previous = -1
            let still = 0
            while (still < 20) {
              assert.isAtMost(gw.buffered(), limit, `the gateway buffered too much while ${what}`)
              const now = progress()
              still = now === previous ? still + 1 : 0
              previous = now
              yield* Effect.sleep("25 millis")
            }
          })

        // upstream -> browser, the browser not reading: the upstream's writes back up in its own process
        ws.pause()
        for (let offset = 0; offset < total; offset += chunk) socket.write(block(offset))
        yield* stalled(() => socket.writableLength, "the browser did not read")
        assert.isAbove(socket.writableLength, 0, "the upstream could not send everything")
        ws.resume()
        yield* Deferred.await(allReceived)
        let offset = 0
        for (const bytes of received) {
          for (let i = 0; i < bytes.length; i++) {
            if (bytes[i] !== pattern(offset + i)) assert.fail(`byte ${offset + i} changed on the way`)
          }
          offset += bytes.length
        }
        assert.strictEqual(offset, total)

        // browser -> upstream, the upstream not reading: the browser's sends back up in its WebSocket
        for (let offset = 0; offset < total; offset += chunk) ws.send(block(offset))
        yield* stalled(() => ws.bufferedAmount, "the upstream did not read")
        assert.isAbove(ws.bufferedAmount, 0, "the browser could not send everything")
        let upstreamBytes = 0
        let upstreamOk = true
        const allSent = yield* Deferred.make<void>()
        socket.on("data", (data: Buffer) => {
          for (let i = 0; i < data.length; i++) if (data[i] !== pattern(upstreamBytes + i)) upstreamOk = false
          upstreamBytes += data.length
          if (upstreamBytes >= total) Deferred.unsafeDone(allSent, Exit.void)
        })
        socket.resume()
        yield* Deferred.await(allSent)
        assert.isTrue(upstreamOk, "the bytes reached the upstream unchanged")
        assert.strictEqual(upstreamBytes, total)
      }),
    120_000
  )

  it("parseUpstream reads name=host:port and says why it cannot", () => {
    assert.deepStrictEqual(Gateway.parseUpstream("lab=127.0.0.1:18861").pipe((e) => e._tag === "Right" && e.right), [
      "lab",
      { host: "127.0.0.1", port: 18861 }
    ])
    assert.deepStrictEqual(Gateway.parseUpstream("v6=[::1]:1").pipe((e) => e._tag === "Right" && e.right), [
      "v6",
      { host: "::1", port: 1 }
    ])
    for (const bad of ["lab", "=127.0.0.1:1", "lab=127.0.0.1", "lab=127.0.0.1:0", "a/b=127.0.0.1:1"]) {
      assert.strictEqual(Gateway.parseUpstream(bad)._tag, "Left", bad)
    }
  })
})

describePython("Gateway -> Python RPyC ThreadedServer", () => {
  it.scopedLive("calls, a callback, a remote exception through the gateway", () =>
    Effect.gen(function*() {
      const python = yield* Peers.pythonServer(PY_SERVICE)
      const gw = yield* gateway({ py: python.port })
      const conn = yield* Client.connectWebSocket(url(gw, "/rpyc/py"))
      yield* exercise(conn, { name: "ValueError", args: [FAIL_MESSAGE, 7] })
      assert.strictEqual(yield* remote(conn.root.get_service_name()), "INTEROP")
    }), CHILD_TEST_TIMEOUT)
})

describePython("rpyc-gateway CLI", () => {
  it.scopedLive(
    "starts, serves a Python server by name, and refuses an origin not allowed",
    () =>
      Effect.gen(function*() {
        const python = yield* Peers.pythonServer(PY_SERVICE)
        const child = yield* spawn(
          ...tsx(
            CLI,
            "--port",
            "0",
            "--upstream",
            `lab=127.0.0.1:${python.port}`,
            "--allow-origin",
            "http://127.0.0.1:8080",
            "--log-level",
            "info"
          ),
          { ready: { stream: "stdout", pattern: /^rpyc-gateway listening on ws:\/\/127\.0\.0\.1:(\d+)$/ } }
        )
        const port = Number(child.ready![1])
        const conn = yield* Client.connectWebSocket(`ws://127.0.0.1:${port}/rpyc/lab`, {
          headers: { origin: "http://127.0.0.1:8080" }
        })
        yield* exercise(conn, { name: "ValueError", args: [FAIL_MESSAGE, 7] })
        yield* refused(`ws://127.0.0.1:${port}/rpyc/lab`, 403, { headers: { origin: "http://evil.example" } })
        yield* refused(`ws://127.0.0.1:${port}/rpyc/elsewhere`, 404)
        yield* child.waitFor(
          /INFO:GATEWAY\/\d+:refused 127\.0\.0\.1:\d+ \/rpyc\/lab: origin http:\/\/evil\.example/,
          "stderr"
        )
        yield* child.waitFor(/INFO:GATEWAY\/\d+:accepted 127\.0\.0\.1:\d+ for lab/, "stderr")
      }),
    CHILD_TEST_TIMEOUT
  )
})
