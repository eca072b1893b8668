/**
 * RPyC over WebSocket between TS peers: `Server.makeWebSocket` and `Client.connectWebSocket`, over
 * `ws://` and `wss://` (a throw-away PKI, the client trusting its CA), and what the server refuses:
 * another origin (403), another path (404), an oversized or a text message (that connection only).
 */
import { assert, describe, it } from "@effect/vitest"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as WS from "ws"
import * as Client from "../../src/client/Client.js"
import * as Server from "../../src/server/Server.js"
import * as WebSocket from "../../src/transport/WebSocket.js"
import { eventually } from "../support/Eventually.js"
import { exercise, LabService } from "../support/Lab.js"
import { remote } from "../support/Peers.js"
import { pemTextsOfSuite } from "../support/Pki.js"

const pki = pemTextsOfSuite("effect-rpyc-ws-")

const serve = (options: Server.WebSocketOptions = {}) =>
  Server.makeWebSocket(LabService, { host: "127.0.0.1", port: 0, ...options })

const urlOf = (server: Server.Server, path = "/", scheme = "ws") => `${scheme}://127.0.0.1:${server.port}${path}`

/** A raw `ws` client (no RPyC), open; `closed` settles with the close code. */
const rawClient = (url: string) =>
  Effect.gen(function*() {
    const closed = yield* Deferred.make<number>()
    const ws = yield* Effect.acquireRelease(
      Effect.async<WS.NodeWebSocket, Error>((resume) => {
        const ws = new WS.WebSocket(url)
        ws.addEventListener("close", (event) => Deferred.unsafeDone(closed, Exit.succeed(event.code)))
        ws.addEventListener("open", () => resume(Effect.succeed(ws)), { once: true })
        ws.addEventListener("error", () => resume(Effect.fail(new Error("raw client failed to open"))), { once: true })
      }),
      (ws) => Effect.sync(() => ws.terminate())
    )
    return { ws, closed }
  })

describe("WebSocket", () => {
  it.scopedLive("TS client and TS server over ws://: calls, a callback, a remote exception", () =>
    Effect.gen(function*() {
      const server = yield* serve({ path: "/rpyc" })
      const conn = yield* Client.connectWebSocket(urlOf(server, "/rpyc"))
      yield* exercise(conn)
      assert.strictEqual(server.connections.size, 1)
      yield* conn.close()
      yield* eventually(() => server.connections.size === 0, "the server saw the connection end")
    }))

  it.scopedLive("RPyC 6 clients too (the server follows the client's dialect); the server as a Layer", () =>
    Effect.gen(function*() {
      const context = yield* Layer.build(
        Server.layerWebSocket(LabService, { host: "127.0.0.1", port: 0, path: "/rpyc" })
      )
      const server = Context.get(context, Server.RpycServer)
      const v6 = yield* Client.connectWebSocket(urlOf(server, "/rpyc"), { wireVersion: 6 })
      assert.strictEqual(v6.wireVersion, 6)
      yield* exercise(v6)
      const v5 = yield* Client.connectWebSocket(urlOf(server, "/rpyc"))
      assert.strictEqual(v5.wireVersion, 5)
      assert.strictEqual(yield* remote(v5.root.add(20, 22)), 42)
    }))

  it.scopedLive("over wss:// with the client trusting the server's CA", () =>
    Effect.gen(function*() {
      const server = yield* serve({ tls: { key: pki.serverKey, cert: pki.serverCert } })
      const conn = yield* Client.connectWebSocket(urlOf(server, "/", "wss"), { ca: pki.ca })
      yield* exercise(conn)
      // a client that does not trust the CA does not connect
      const refused = yield* Effect.flip(Client.connectWebSocket(urlOf(server, "/", "wss")))
      assert.instanceOf(refused, WebSocket.ConnectError)
      assert.match(refused.message, /^cannot connect to wss:\/\/127\.0\.0\.1:\d+\/: .*certificate/)
    }))

  it.scopedLive("wss:// with a client certificate required: only a client with one connects", () =>
    Effect.gen(function*() {
      const server = yield* serve({ tls: { key: pki.serverKey, cert: pki.serverCert, ca: pki.ca } })
      const conn = yield* Client.connectWebSocket(urlOf(server, "/", "wss"), {
        ca: pki.ca,
        key: pki.clientKey,
        cert: pki.clientCert
      })
      assert.strictEqual(yield* remote(conn.root.add(1, 1)), 2)
      const [served] = [...server.connections]
      assert.isDefined(served!.config.credentials, "the client certificate is the connection's credentials")
      const refused = yield* Effect.flip(Client.connectWebSocket(urlOf(server, "/", "wss"), { ca: pki.ca }))
      assert.instanceOf(refused, WebSocket.ConnectError)
    }))

  it.scopedLive("an origin not on the allow-list is refused with 403; a listed one and none are accepted", () =>
    Effect.gen(function*() {
      const server = yield* serve({ allowedOrigins: ["http://127.0.0.1:8080"] })
      const refused = yield* Effect.flip(
        Client.connectWebSocket(urlOf(server), { headers: { origin: "http://evil.example" } })
      )
      assert.instanceOf(refused, WebSocket.ConnectError)
      assert.include(refused.message, "403")
      const listed = yield* Client.connectWebSocket(urlOf(server), { headers: { origin: "http://127.0.0.1:8080" } })
      assert.strictEqual(yield* remote(listed.root.add(1, 2)), 3)
      const program = yield* Client.connectWebSocket(urlOf(server))
      assert.strictEqual(yield* remote(program.root.add(2, 2)), 4)
    }))

  it.scopedLive("by default every page origin is refused; requireOrigin refuses programs too", () =>
    Effect.gen(function*() {
      const server = yield* serve()
      const page = yield* Effect.flip(Client.connectWebSocket(urlOf(server), { headers: { origin: "http://x.test" } }))
      assert.include(page.message, "403")
      const strict = yield* serve({ allowedOrigins: ["*"], requireOrigin: true })
      const program = yield* Effect.flip(Client.connectWebSocket(urlOf(strict)))
      assert.include(program.message, "403")
      const any = yield* Client.connectWebSocket(urlOf(strict), { headers: { origin: "http://x.test" } })
      assert.strictEqual(yield* remote(any.root.add(3, 4)), 7)
    }))

  it.scopedLive("another path is refused with 404", () =>
    Effect.gen(function*() {
      const server = yield* serve({ path: "/rpyc" })
      const refused = yield* Effect.flip(Client.connectWebSocket(urlOf(server, "/other")))
      assert.instanceOf(refused, WebSocket.ConnectError)
      assert.include(refused.message, "404")
    }))

  it.scopedLive("an oversized message closes only that connection (1009)", () =>
    Effect.gen(function*() {
      const server = yield* serve({ maxMessageBytes: 1024 })
      const conn = yield* Client.connectWebSocket(urlOf(server))
      const raw = yield* rawClient(urlOf(server))
      raw.ws.send(new Uint8Array(4096))
      assert.strictEqual(yield* Deferred.await(raw.closed), 1009)
      assert.strictEqual(yield* remote(conn.root.add(5, 6)), 11)
      // and a new client still gets in
      const next = yield* Client.connectWebSocket(urlOf(server))
      assert.strictEqual(yield* remote(next.root.add(1, 1)), 2)
    }))

  it.scopedLive("a text message closes only that connection (1003)", () =>
    Effect.gen(function*() {
      const server = yield* serve()
      const conn = yield* Client.connectWebSocket(urlOf(server))
      const raw = yield* rawClient(urlOf(server))
      raw.ws.send("hello")
      assert.strictEqual(yield* Deferred.await(raw.closed), WebSocket.CLOSE_UNSUPPORTED_DATA)
      assert.strictEqual(yield* remote(conn.root.add(5, 6)), 11)
      yield* eventually(() => server.connections.size === 1, "only the text sender's connection ended")
    }))

  it.scopedLive("a plain HTTP request gets 426; a refused connection names the URL without its query", () =>
    Effect.gen(function*() {
      const server = yield* serve()
      const response = yield* Effect.promise(() => fetch(`http://127.0.0.1:${server.port}/`))
      assert.strictEqual(response.status, 426)
      yield* Effect.promise(() => response.text())
      const refused = yield* Effect.flip(
        Client.connectWebSocket(`${urlOf(server, "/x")}?token=secret`, { headers: { origin: "http://x.test" } })
      )
      assert.include(refused.message, `${urlOf(server, "/x")}: `)
      assert.notInclude(refused.message, "secret")
    }))
})
