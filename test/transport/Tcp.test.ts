import * as NodeSocket from "@effect/platform-node/NodeSocket"
import * as Socket from "@effect/platform/Socket"
import type * as SocketServer from "@effect/platform/SocketServer"
import { assert, describe, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Queue from "effect/Queue"
import * as Scope from "effect/Scope"
import * as Fs from "node:fs"
import * as Net from "node:net"
import * as Os from "node:os"
import * as Path from "node:path"
import * as Tcp from "../../src/transport/Tcp.js"
import * as Unix from "../../src/transport/Unix.js"

const encode = (s: string) => new TextEncoder().encode(s)
const decode = (b: Uint8Array) => new TextDecoder().decode(b)

/** Echo handler; it also reports the raw socket's remote address, which the server provides. */
const echo = (peers?: Queue.Queue<string>) => (socket: Socket.Socket) =>
  Effect.gen(function*() {
    const conn = yield* NodeSocket.NetSocket // no leak into R: Tcp.Server.run removes it (P4)
    if (peers) yield* Queue.offer(peers, conn.remoteAddress ?? "unix")
    const write = yield* socket.writer
    yield* socket.run((chunk) => write(chunk))
  }).pipe(Effect.scoped)

/** Starts a server running `handler` in the current scope. */
const serve = <E, R>(
  server: Tcp.Server,
  handler: (socket: Socket.Socket) => Effect.Effect<void, E, R>
) => server.run(handler).pipe(Effect.forkScoped)

/**
 * Runs a client socket: collects bytes until `expected` have arrived, while the writes in `send`
 * go out; then half-closes and waits for `run` to end. Returns the bytes and how `run` ended.
 */
const exchange = (socket: Socket.Socket, send: ReadonlyArray<Uint8Array>) =>
  Effect.gen(function*() {
    const expected = send.reduce((n, c) => n + c.length, 0)
    const received: Array<number> = []
    const done = yield* Deferred.make<void>()
    const fiber = yield* socket.run((chunk) => {
      received.push(...chunk)
      if (received.length >= expected) Deferred.unsafeDone(done, Exit.void)
    }).pipe(Effect.forkScoped)
    const writerScope = yield* Scope.make()
    const write = yield* Scope.extend(socket.writer, writerScope)
    for (const chunk of send) yield* write(chunk)
    yield* Deferred.await(done)
    yield* Scope.close(writerScope, Exit.void) // FIN: the echo server's run ends, it closes, ours ends
    const exit = yield* Fiber.await(fiber)
    return { bytes: new Uint8Array(received), exit }
  })

const addressOf = (server: Tcp.Server) => {
  const address = server.address
  if (address._tag !== "TcpAddress") throw new Error("expected a TCP address")
  return address
}

/** A loopback port nobody listens on: bind one, then release it. */
const closedPort = Effect.gen(function*() {
  const scope = yield* Scope.make()
  const server = yield* Scope.extend(Tcp.makeServer(), scope)
  const port = addressOf(server).port
  yield* Scope.close(scope, Exit.void)
  return port
})

const tmpSocketPath = (name: string) =>
  Path.join(Os.tmpdir(), `effect-rpyc-${name}-${process.pid}-${Math.random().toString(36).slice(2)}.sock`)

describe("Tcp", () => {
  it.scopedLive("echoes over TCP, and a half-close ends both runs cleanly", () =>
    Effect.gen(function*() {
      const server = yield* Tcp.makeServer()
      // the value is usable as the platform's SocketServer service
      const asService: SocketServer.SocketServer["Type"] = server
      const address = addressOf(server)
      assert.strictEqual(address.hostname, "127.0.0.1")
      assert.isAbove(address.port, 0)
      const peers = yield* Queue.unbounded<string>()
      assert.strictEqual(asService, server)
      yield* serve(server, echo(peers))
      const socket = yield* Tcp.connect({ port: address.port })
      const payload = [encode("hello"), new Uint8Array(100_000).map((_, i) => i % 251), encode("bye")]
      const { bytes, exit } = yield* exchange(socket, payload)
      const expected = new Uint8Array(payload.reduce((n, c) => n + c.length, 0))
      let offset = 0
      for (const chunk of payload) {
        expected.set(chunk, offset)
        offset += chunk.length
      }
      assert.deepStrictEqual(bytes, expected)
      assert.isTrue(Exit.isSuccess(exit), "peer FIN makes run succeed")
      assert.strictEqual(yield* Queue.take(peers), "127.0.0.1")
    }))

  it.scopedLive("serves several clients at once", () =>
    Effect.gen(function*() {
      const server = yield* Tcp.makeServer({ port: 0 })
      yield* serve(server, echo())
      const port = addressOf(server).port
      const replies = yield* Effect.forEach(
        [1, 2, 3, 4],
        (i) =>
          Effect.gen(function*() {
            const socket = yield* Tcp.connect({ host: "127.0.0.1", port, keepAlive: true, noDelay: true })
            const { bytes } = yield* exchange(socket, [encode(`client ${i}`)])
            return decode(bytes)
          }).pipe(Effect.scoped),
        { concurrency: "unbounded" }
      )
      assert.deepStrictEqual(replies, ["client 1", "client 2", "client 3", "client 4"])
    }))

  it.scopedLive("a refused connection fails connect with a SocketError at once (no hang)", () =>
    Effect.gen(function*() {
      const port = yield* closedPort
      const error = yield* Tcp.connect({ port }).pipe(Effect.flip, Effect.timeout("5 seconds"))
      assert.isTrue(Socket.isSocketError(error))
      assert.strictEqual(error._tag, "SocketError")
      assert.strictEqual(error.reason, "Open")
      assert.strictEqual((error as Socket.SocketGenericError).cause instanceof Error, true)
      assert.match(String((error as Socket.SocketGenericError).cause), /ECONNREFUSED/)
    }))

  it.scopedLive("connections accepted before run are served once it starts", () =>
    Effect.gen(function*() {
      const server = yield* Tcp.makeServer()
      const socket = yield* Tcp.connect({ port: addressOf(server).port })
      const receivedFiber = yield* exchange(socket, [encode("early")]).pipe(Effect.fork)
      yield* serve(server, echo())
      const { bytes } = yield* Fiber.join(receivedFiber)
      assert.strictEqual(decode(bytes), "early")
    }))

  it.scopedLive("closing the server does not wait for clients that never hang up", () =>
    Effect.gen(function*() {
      const serverScope = yield* Scope.make()
      const server = yield* Scope.extend(Tcp.makeServer(), serverScope)
      const accepted = yield* Deferred.make<void>()
      // a handler that never ends on its own
      yield* Scope.extend(
        serve(server, () => Effect.zipRight(Deferred.succeed(accepted, undefined), Effect.never)),
        serverScope
      )
      const socket = yield* Tcp.connect({ port: addressOf(server).port })
      const opened = yield* Deferred.make<void>()
      const clientRun = yield* socket.run(() => {}, { onOpen: Deferred.succeed(opened, undefined) }).pipe(
        Effect.forkScoped
      )
      yield* Deferred.await(opened)
      yield* Deferred.await(accepted)
      yield* Scope.close(serverScope, Exit.void).pipe(Effect.timeout("5 seconds"))
      // the client sees the connection end (FIN or reset, depending on timing)
      const exit = yield* Fiber.await(clientRun).pipe(Effect.timeout("5 seconds"))
      assert.isTrue(Exit.isSuccess(exit) || Socket.isSocketError(Cause.squash(exit.cause)))
    }))

  it.scopedLive("a port in use fails makeServer with SocketServerError Open", () =>
    Effect.gen(function*() {
      const first = yield* Tcp.makeServer()
      const error = yield* Tcp.makeServer({ port: addressOf(first).port }).pipe(Effect.flip)
      assert.strictEqual(error._tag, "SocketServerError")
      assert.strictEqual(error.reason, "Open")
      assert.match(String(error.cause), /EADDRINUSE/)
    }))

  it.scopedLive("a local CloseEvent fails the client's run with SocketCloseError 1000 (P3)", () =>
    Effect.gen(function*() {
      const server = yield* Tcp.makeServer()
      yield* serve(server, echo())
      const socket = yield* Tcp.connect({ port: addressOf(server).port })
      const received = yield* Queue.unbounded<Uint8Array>()
      const fiber = yield* socket.run((chunk) => {
        received.unsafeOffer(chunk)
      }).pipe(Effect.forkScoped)
      const write = yield* socket.writer
      yield* write("ping")
      assert.strictEqual(decode(yield* Queue.take(received)), "ping")
      yield* write(new Socket.CloseEvent())
      const exit = yield* Fiber.await(fiber)
      const error = Cause.squash((exit as Exit.Failure<void, unknown>).cause)
      assert.isTrue(Socket.SocketCloseError.isClean((code) => code === 1000)(error))
    }))

  it.scopedLive("fromNetSocket wraps a socket connected by other means; a second run fails instead of hanging", () =>
    Effect.gen(function*() {
      const server = yield* Tcp.makeServer()
      yield* serve(server, echo())
      const raw = yield* Effect.async<Net.Socket, Error>((resume) => {
        const conn = Net.createConnection({ host: "127.0.0.1", port: addressOf(server).port })
        conn.once("connect", () => resume(Effect.succeed(conn)))
        conn.once("error", (error) => resume(Effect.fail(error)))
      })
      const socket = yield* Tcp.fromNetSocket(raw)
      const { bytes, exit } = yield* exchange(socket, [encode("wrapped")])
      assert.strictEqual(decode(bytes), "wrapped")
      assert.isTrue(Exit.isSuccess(exit))
      // the connection is consumed: running again fails at once
      const again = yield* Effect.exit(socket.run(() => {}))
      assert.isTrue(Exit.isFailure(again))
    }))
})

describe("Unix domain sockets", () => {
  it.scopedLive("echoes over a Unix socket and removes the socket file on close", () =>
    Effect.gen(function*() {
      const path = tmpSocketPath("echo")
      const serverScope = yield* Scope.make()
      const server = yield* Scope.extend(Unix.makeServer({ path }), serverScope)
      assert.deepStrictEqual(server.address, { _tag: "UnixAddress", path })
      assert.isTrue(Fs.statSync(path).isSocket())
      yield* Scope.extend(serve(server, echo()), serverScope)
      const { bytes, exit } = yield* exchange(yield* Unix.connect(path), [encode("over unix")]).pipe(Effect.scoped)
      assert.strictEqual(decode(bytes), "over unix")
      assert.isTrue(Exit.isSuccess(exit))
      yield* Scope.close(serverScope, Exit.void)
      assert.isFalse(Fs.existsSync(path))
    }))

  it.scopedLive("replaces a stale socket file left by a dead server", () =>
    Effect.gen(function*() {
      // a socket file nobody listens on: hard-link a live one, then close the original
      const live = tmpSocketPath("live")
      const stale = tmpSocketPath("stale")
      yield* Effect.acquireRelease(
        Effect.async<Net.Server>((resume) => {
          const raw = Net.createServer()
          raw.listen({ path: live }, () => resume(Effect.succeed(raw)))
        }),
        (raw) => Effect.async<void>((resume) => void raw.close(() => resume(Effect.void)))
      ).pipe(
        Effect.tap(() => Effect.sync(() => Fs.linkSync(live, stale))),
        Effect.scoped
      )
      assert.isTrue(Fs.statSync(stale).isSocket())
      const server = yield* Unix.makeServer({ path: stale })
      yield* serve(server, echo())
      const { bytes } = yield* exchange(yield* Unix.connect(stale), [encode("fresh")]).pipe(Effect.scoped)
      assert.strictEqual(decode(bytes), "fresh")
    }))

  it.scopedLive("refuses a path that a live server uses, or that is not a socket, and leaves it alone", () =>
    Effect.gen(function*() {
      const path = tmpSocketPath("busy")
      yield* Unix.makeServer({ path })
      const busy = yield* Unix.makeServer({ path }).pipe(Effect.scoped, Effect.flip)
      assert.strictEqual(busy.reason, "Open")
      assert.isTrue(Fs.statSync(path).isSocket(), "the live server's socket is still there")
      yield* Effect.scoped(Effect.gen(function*() {
        const socket = yield* Unix.connect(path)
        const opened = yield* Deferred.make<void>()
        yield* socket.run(() => {}, { onOpen: Deferred.succeed(opened, undefined) }).pipe(Effect.forkScoped)
        yield* Deferred.await(opened)
      }))

      const file = tmpSocketPath("regular")
      Fs.writeFileSync(file, "not a socket")
      yield* Effect.addFinalizer(() => Effect.sync(() => Fs.rmSync(file, { force: true })))
      const notSocket = yield* Unix.makeServer({ path: file }).pipe(Effect.scoped, Effect.flip)
      assert.strictEqual(notSocket.reason, "Open")
      assert.strictEqual(Fs.readFileSync(file, "utf8"), "not a socket")
    }))

  it.scopedLive("unixConnect to a missing path fails with a SocketError", () =>
    Effect.gen(function*() {
      const error = yield* Unix.connect(tmpSocketPath("missing")).pipe(Effect.flip)
      assert.strictEqual(error.reason, "Open")
    }))
})
