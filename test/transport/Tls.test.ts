import * as NodeSocket from "@effect/platform-node/NodeSocket"
import * as Socket from "@effect/platform/Socket"
import { assert, describe, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Queue from "effect/Queue"
import * as Scope from "effect/Scope"
import type * as NodeTls from "node:tls"
import * as Tcp from "../../src/transport/Tcp.js"
import * as Tls from "../../src/transport/Tls.js"
import { pemTextsOfSuite } from "../support/Pki.js"

// A throw-away PKI (test/support/Pki.ts): a CA, a server certificate for localhost/127.0.0.1 and a
// client certificate signed by it, plus an unrelated CA that must not be trusted.
const pki = pemTextsOfSuite("effect-rpyc-tls-")

const encode = (s: string) => new TextEncoder().encode(s)
const decode = (b: Uint8Array) => new TextDecoder().decode(b)

interface Seen {
  readonly peer: Tls.PeerInfo
  readonly encrypted: boolean
}

/** Echo server handler that records what it learned about each peer. */
const echo = (seen: Queue.Queue<Seen>) => (socket: Socket.Socket) =>
  Effect.gen(function*() {
    const peer = yield* Tls.TlsPeer
    const conn = (yield* NodeSocket.NetSocket) as NodeTls.TLSSocket
    yield* Queue.offer(seen, { peer, encrypted: conn.encrypted })
    const write = yield* socket.writer
    yield* socket.run((chunk) => write(chunk))
  }).pipe(Effect.scoped)

const portOf = (server: Tcp.Server<Tls.TlsPeer>) => {
  if (server.address._tag !== "TcpAddress") throw new Error("expected a TCP address")
  return server.address.port
}

/** Sends `message`, waits for the echo, half-closes, and returns the reply and how run ended. */
const roundTrip = (socket: Socket.Socket, message: string) =>
  Effect.gen(function*() {
    const bytes = encode(message)
    const received: Array<number> = []
    const done = yield* Deferred.make<void>()
    const fiber = yield* socket.run((chunk) => {
      received.push(...chunk)
      if (received.length >= bytes.length) Deferred.unsafeDone(done, Exit.void)
    }).pipe(Effect.forkScoped)
    const writerScope = yield* Scope.make()
    const write = yield* Scope.extend(socket.writer, writerScope)
    yield* write(bytes)
    yield* Deferred.await(done)
    yield* Scope.close(writerScope, Exit.void)
    return { reply: decode(new Uint8Array(received)), exit: yield* Fiber.await(fiber) }
  })

describe("Tls", () => {
  it.scopedLive("encrypted echo without a CA: the client does not verify the server (RPyC's default)", () =>
    Effect.gen(function*() {
      const server = yield* Tls.makeServer({ key: pki.serverKey, cert: pki.serverCert })
      const seen = yield* Queue.unbounded<Seen>()
      yield* server.run(echo(seen)).pipe(Effect.forkScoped)
      const socket = yield* Tls.connect({ port: portOf(server) })
      const { exit, reply } = yield* roundTrip(socket, "hello over tls")
      assert.strictEqual(reply, "hello over tls")
      assert.isTrue(Exit.isSuccess(exit))
      const { encrypted, peer } = yield* Queue.take(seen)
      assert.isTrue(encrypted)
      assert.strictEqual(peer.protocol, "TLSv1.3")
      assert.isUndefined(peer.certificate, "no client certificate was asked for")
    }))

  it.scopedLive("with a CA the client verifies the server, and checks the host name only when asked", () =>
    Effect.gen(function*() {
      const server = yield* Tls.makeServer({ key: pki.serverKey, cert: pki.serverCert })
      const seen = yield* Queue.unbounded<Seen>()
      yield* server.run(echo(seen)).pipe(Effect.forkScoped)
      const port = portOf(server)

      const trusted = yield* roundTrip(yield* Tls.connect({ port, ca: pki.ca }), "verified").pipe(Effect.scoped)
      assert.strictEqual(trusted.reply, "verified")

      const untrusted = yield* Tls.connect({ port, ca: pki.otherCa }).pipe(Effect.scoped, Effect.flip)
      assert.strictEqual(untrusted.reason, "Open")
      assert.match(String((untrusted as Socket.SocketGenericError).cause), /issuer|self.signed|verify/i)

      // verify: true with no CA uses node's public roots, which do not know our test CA
      const publicRoots = yield* Tls.connect({ port, verify: true }).pipe(Effect.scoped, Effect.flip)
      assert.strictEqual(publicRoots.reason, "Open")

      // a wrong name passes by default (no hostname check, as in RPyC) ...
      const noCheck = yield* roundTrip(yield* Tls.connect({ port, ca: pki.ca, servername: "wrong.example" }), "ok")
        .pipe(Effect.scoped)
      assert.strictEqual(noCheck.reply, "ok")
      // ... and fails once the check is asked for; the right name passes it
      const wrongName = yield* Tls.connect({ port, ca: pki.ca, servername: "wrong.example", checkHostname: true })
        .pipe(Effect.scoped, Effect.flip)
      assert.match(String((wrongName as Socket.SocketGenericError).cause), /wrong\.example|altname/i)
      const rightName = yield* roundTrip(
        yield* Tls.connect({ host: "127.0.0.1", port, ca: pki.ca, checkHostname: true }),
        "checked"
      ).pipe(Effect.scoped)
      assert.strictEqual(rightName.reply, "checked")
    }))

  it.scopedLive("a server with a CA requires client certificates: a client without one is refused, others served", () =>
    Effect.gen(function*() {
      const handshakeFailed = yield* Deferred.make<Error>()
      const server = yield* Tls.makeServer({
        key: pki.serverKey,
        cert: pki.serverCert,
        ca: pki.ca,
        onHandshakeError: (error) => Deferred.unsafeDone(handshakeFailed, Exit.succeed(error))
      })
      const seen = yield* Queue.unbounded<Seen>()
      yield* server.run(echo(seen)).pipe(Effect.forkScoped)
      const port = portOf(server)

      // no client certificate: with TLS 1.3 the refusal arrives just after the client's handshake,
      // so it fails either connect or run; either way no byte is echoed
      const refused = yield* Effect.gen(function*() {
        const socket = yield* Tls.connect({ port, ca: pki.ca })
        const fiber = yield* socket.run(() => Effect.die("nothing must be echoed")).pipe(Effect.fork)
        const write = yield* socket.writer
        yield* Effect.ignore(write("let me in"))
        return yield* Fiber.join(fiber)
      }).pipe(Effect.scoped, Effect.exit)
      assert.isTrue(Exit.isFailure(refused))
      if (Exit.isFailure(refused)) {
        assert.isTrue(Socket.isSocketError(Cause.squash(refused.cause)), String(Cause.squash(refused.cause)))
      }
      const reason = yield* Deferred.await(handshakeFailed)
      assert.match(String(reason), /certificate/i)

      // the server keeps serving: a client with a certificate gets through, and the server sees it
      const accepted = yield* roundTrip(
        yield* Tls.connect({ port, ca: pki.ca, cert: pki.clientCert, key: pki.clientKey }),
        "with a certificate"
      ).pipe(Effect.scoped)
      assert.strictEqual(accepted.reply, "with a certificate")
      const { peer } = yield* Queue.take(seen)
      assert.isTrue(peer.authorized)
      assert.strictEqual(peer.certificate?.subject.CN, "client-1")
      assert.strictEqual(peer.certificate?.issuer.CN, "effect-rpyc test CA")
      // only the certified client ever reached the handler
      assert.strictEqual(yield* Queue.size(seen), 0)
    }))

  it.scopedLive("a peer that never answers the handshake fails connect with OpenTimeout", () =>
    Effect.gen(function*() {
      // a plain TCP server that accepts and then says nothing
      const silent = yield* Tcp.makeServer()
      yield* silent.run((socket) => socket.run(() => {})).pipe(Effect.forkScoped)
      if (silent.address._tag !== "TcpAddress") throw new Error("expected a TCP address")
      const error = yield* Tls.connect({ port: silent.address.port, openTimeout: "300 millis" }).pipe(Effect.flip)
      assert.strictEqual(error.reason, "OpenTimeout")
    }))
})
