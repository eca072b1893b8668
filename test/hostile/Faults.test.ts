/**
 * Faults of peers and transports (issue #12 items 4 and 7): peers killed mid-call, a peer that
 * never answers, replies nobody waits for any more, half-closed connections (TCP, Unix socket, TLS,
 * stdio), and hostile traffic to the registry servers.
 */
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as Option from "effect/Option"
import * as ChildProcess from "node:child_process"
import type * as Net from "node:net"
import * as Path from "node:path"
import * as NodeTls from "node:tls"
import { Rng } from "../../fuzz/Fuzzer.js"
import * as Message from "../../src/internal/wire/Message.js"
import * as Registry from "../../src/registry/Registry.js"
import * as RegistryClient from "../../src/registry/RegistryClient.js"
import * as RegistryServer from "../../src/registry/RegistryServer.js"
import { Service } from "../../src/service/Service.js"
import * as Udp from "../../src/transport/Udp.js"
import { ROOT, spawn, TIMEOUT, TSX } from "../support/Child.js"
import { eventually } from "../support/Eventually.js"
import { connect, remote, serve } from "../support/Peers.js"
import { makePki, type Pki } from "../support/Pki.js"
import { frame, rawServer, requestFrame } from "../support/RawPeer.js"
import { tempDir } from "../support/TempDir.js"
import { fixture, framesOf, nextEnvelope, rawSocket, serverChild, watchProcess, writeAll } from "./support.js"

const { Handler, Label, MsgType } = Message

/** A service whose `hold()` announces itself and never returns; `slow_add` answers after 50 ms. */
const holdingService = (called: Deferred.Deferred<void>, release?: Deferred.Deferred<number>) =>
  class HoldingService extends Service {
    exposed_add(a: number, b: number) {
      return a + b
    }
    exposed_slow_add(a: number, b: number) {
      return new Promise((resolve) => setTimeout(() => resolve(a + b), 50))
    }
    exposed_hold() {
      Deferred.unsafeDone(called, Effect.void)
      return release === undefined ? new Promise(() => {}) : Deferred.await(release)
    }
  }

let pki: Pki | undefined
beforeAll(() => {
  pki = makePki("effect-rpyc-hostile-")
})
afterAll(() => pki?.cleanup())

describe("peers killed mid-call", () => {
  it.scopedLive("a client child SIGKILLed while its call runs: the server keeps serving", () =>
    Effect.gen(function*() {
      const called = yield* Deferred.make<void>()
      const release = yield* Deferred.make<number>()
      const server = yield* serve(holdingService(called, release)).pipe(Logger.withMinimumLogLevel(LogLevel.Warning))
      const client = yield* spawn(process.execPath, [...TSX, fixture("client.ts"), String(server.port)], {
        ready: { stream: "stdout", pattern: /^CALLING$/ }
      })
      yield* Deferred.await(called)
      assert.strictEqual(server.connections.size, 1)
      client.process.kill("SIGKILL")
      const exit = yield* client.exit
      assert.strictEqual(exit.signal, "SIGKILL")
      // the server serves others at once
      const conn = yield* connect(server.port!)
      assert.strictEqual(yield* remote(conn.root.add(1, 2)), 3)
      // the killed client's end of stream looks like a half-close: its call is still owed a reply, and
      // its connection goes once the call is done (writing to a dead peer fails, or it simply closes)
      yield* Deferred.succeed(release, 7)
      yield* eventually(() => server.connections.size === 1, "the server dropped the killed client's connection")
    }), TIMEOUT)

  it.scopedLive(
    "a server child SIGKILLed mid-call: the TS client gets ConnectionClosed at once",
    () =>
      Effect.gen(function*() {
        const srv = yield* serverChild()
        const conn = yield* connect(srv.port)
        const call = yield* Effect.fork(Effect.flip(remote(conn.root.hold())))
        yield* srv.child.waitFor(/^HOLD$/, "stdout")
        const t0 = Date.now()
        srv.child.process.kill("SIGKILL")
        const error = yield* Fiber.join(call).pipe(Effect.timeout("10 seconds"))
        const took = Date.now() - t0
        assert.strictEqual((error as { _tag: string })._tag, "ConnectionClosed", String(error))
        assert.isBelow(took, 5000)
        assert.isTrue(conn.closed)
      }),
    TIMEOUT
  )
})

describe("peers that do not answer", () => {
  it.scopedLive(
    "a hung peer: requests fail with RequestTimeout under a short syncRequestTimeout",
    () =>
      Effect.gen(function*() {
        const hung = yield* rawServer()
        const conn = yield* connect(hung.port, { wireVersion: 5, config: { syncRequestTimeout: 1 } })
        const peer = yield* hung.accept
        const t0 = Date.now()
        const error = yield* Effect.flip(remote(conn.root.add(1, 2)))
        const took = Date.now() - t0
        assert.strictEqual((error as { _tag: string })._tag, "RequestTimeout", String(error))
        assert.isAtLeast(took, 900)
        assert.isBelow(took, 5000)
        // it did ask (GETROOT), and nothing was ever answered
        const asked = Message.decodePayload(5, Option.getOrThrow(yield* peer.nextPayload))
        assert.strictEqual((asked.args as [number, unknown])[0], Handler.GETROOT)
        assert.isFalse(conn.closed)
      }),
    TIMEOUT
  )

  it.scopedLive("late and unknown replies are dropped and the connection lives", () =>
    Effect.gen(function*() {
      const watched = yield* watchProcess
      const raw = yield* rawServer()
      const conn = yield* connect(raw.port, { wireVersion: 5 })
      const peer = yield* raw.accept
      const error = yield* Effect.flip(conn.request(Handler.PING, ["late"], { timeout: "300 millis" }))
      assert.strictEqual(error._tag, "RequestTimeout")
      const request = Message.decodePayload(5, Option.getOrThrow(yield* peer.nextPayload))
      // the answer after its deadline, twice, an exception for it, and replies for seqs never sent
      for (
        const [msg, seq, args] of [
          [MsgType.REPLY, request.seq, [Label.VALUE, "late"]],
          [MsgType.REPLY, request.seq, [Label.VALUE, "late again"]],
          [MsgType.EXCEPTION, request.seq, [["builtins", "ValueError"], ["x"], [], "tb"]],
          [MsgType.REPLY, 4242, [Label.VALUE, "never asked"]],
          [MsgType.EXCEPTION, 2 ** 40, 1],
          [MsgType.REPLY, 10 ** 9, [Label.REMOTE_REF, ["builtins.object", 1, 2]]]
        ] as const
      ) {
        yield* peer.write(frame(5, msg, seq, args))
      }
      // the connection still works: the next request is answered
      const next = yield* Effect.fork(conn.request(Handler.PING, ["again"], { timeout: "10 seconds" }))
      let asked: Message.Envelope
      do {
        asked = Message.decodePayload(5, Option.getOrThrow(yield* peer.nextPayload))
      } while ((asked.args as [number, unknown])[0] !== Handler.PING || asked.seq === request.seq)
      yield* peer.write(frame(5, MsgType.REPLY, asked.seq, [Label.VALUE, "again"]))
      assert.strictEqual(yield* Fiber.join(next), "again")
      assert.isFalse(conn.closed)
      assert.deepStrictEqual(watched.seen, [])
    }), TIMEOUT)
})

/**
 * Half-close (issue #12 item 7): a raw client sends GETROOT, then a PING and a `slow_add(1, 2)`
 * (answered 50 ms later), and shuts its write side; it must still get every reply.
 */
const halfClose = (socket: Net.Socket | NodeTls.TLSSocket) =>
  Effect.gen(function*() {
    const frames = yield* framesOf(socket)
    yield* writeAll(socket, requestFrame(5, 0, Handler.GETROOT, [Label.VALUE, []]))
    const rootReply = yield* nextEnvelope(frames, "the GETROOT reply")
    const root = (rootReply.args as [number, Message.IdPack])[1]
    yield* writeAll(
      socket,
      Buffer.concat([
        requestFrame(5, 1, Handler.CALLATTR, [
          Label.TUPLE,
          [[Label.LOCAL_REF, root], [Label.VALUE, "slow_add"], [Label.VALUE, [1, 2]], [Label.VALUE, []]]
        ]),
        requestFrame(5, 2, Handler.PING, [Label.VALUE, ["still there"]])
      ])
    )
    socket.end()
    const answers = new Map<number, unknown>()
    while (answers.size < 2) {
      const env = yield* nextEnvelope(frames, `the replies after the half-close (got ${answers.size} of 2)`)
      answers.set(env.seq, (env.args as [number, unknown])[1])
    }
    assert.strictEqual(answers.get(1), 3)
    assert.strictEqual(answers.get(2), "still there")
  })

describe("half-closed connections get their replies", () => {
  it.scopedLive("TCP", () =>
    Effect.gen(function*() {
      const server = yield* serve(holdingService(yield* Deferred.make<void>()))
      yield* halfClose(yield* rawSocket(server.port!, { allowHalfOpen: true }))
    }), TIMEOUT)

  it.scopedLive("Unix socket", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir("effect-rpyc-hostile-")
      const socketPath = Path.join(dir, "rpyc.sock")
      yield* serve(holdingService(yield* Deferred.make<void>()), { socketPath })
      yield* halfClose(yield* rawSocket(socketPath, { allowHalfOpen: true }))
    }), TIMEOUT)

  it.scopedLive("TLS", () =>
    Effect.gen(function*() {
      const { files, read } = pki!
      const server = yield* serve(holdingService(yield* Deferred.make<void>()), {
        tls: { key: read(files.serverKey), cert: read(files.serverCert) }
      })
      const socket = yield* Effect.acquireRelease(
        Effect.async<NodeTls.TLSSocket, Error>((resume) => {
          const s = NodeTls.connect({
            host: "127.0.0.1",
            port: server.port!,
            ca: read(files.ca),
            servername: "localhost",
            allowHalfOpen: true
          } as NodeTls.ConnectionOptions)
          s.once("error", (e) => resume(Effect.fail(e)))
          s.once("secureConnect", () => {
            s.on("error", () => {})
            resume(Effect.succeed(s))
          })
        }),
        (s) => Effect.sync(() => s.destroy())
      )
      yield* halfClose(socket)
    }), TIMEOUT)

  it.scopedLive(
    "stdio: a PING written to a stdio server whose stdin is then closed is answered",
    () =>
      Effect.gen(function*() {
        const child = yield* Effect.acquireRelease(
          Effect.sync(() =>
            ChildProcess.spawn(process.execPath, [...TSX, Path.join(ROOT, "test/server/fixtures/stdio-server.ts")], {
              cwd: ROOT,
              stdio: ["pipe", "pipe", "pipe"]
            })
          ),
          (c) =>
            Effect.async<void>((resume) => {
              if (c.exitCode !== null || c.signalCode !== null) return resume(Effect.void)
              c.once("exit", () => resume(Effect.void))
              c.kill("SIGKILL")
            })
        )
        const frames = yield* framesOf(child.stdout)
        child.stdin.end(Buffer.concat([
          requestFrame(5, 0, Handler.PING, [Label.VALUE, ["over stdio"]]),
          requestFrame(5, 1, Handler.GETROOT, [Label.VALUE, []])
        ]))
        const first = yield* nextEnvelope(frames, "the PING reply over stdio")
        assert.strictEqual(first.seq, 0)
        assert.strictEqual((first.args as [number, unknown])[1], "over stdio")
        const second = yield* nextEnvelope(frames, "the GETROOT reply over stdio")
        assert.strictEqual(second.seq, 1)
      }),
    TIMEOUT
  )
})

describe("registry servers under hostile traffic", () => {
  it.scopedLive(
    "UDP: malformed datagrams and 10,000 registrations, then it still answers discover",
    () =>
      Effect.gen(function*() {
        const watched = yield* watchProcess
        const server = yield* RegistryServer.makeUdpServer({ port: 0, allowListing: true }).pipe(
          Logger.withMinimumLogLevel(LogLevel.Warning)
        )
        const port = server.address.port
        const socket = yield* Udp.make({ address: "127.0.0.1" })
        const send = (bytes: Uint8Array) => Effect.ignore(socket.send(bytes, port, "127.0.0.1"))
        // malformed: random bytes, mutated requests, huge claims, wrong shapes
        const rng = new Rng(0x12_0005)
        const valid = Registry.encodeRequest(Registry.Request.Register({ aliases: ["OK"], port: 1 }))
        for (let i = 0; i < 2000; i++) {
          let bytes: Uint8Array
          switch (i % 4) {
            case 0:
              bytes = rng.bytes(rng.range(0, 1500))
              break
            case 1: {
              const b = Buffer.from(valid)
              for (let k = 0; k < rng.range(1, 4); k++) b[rng.int(b.length)] ^= 1 << rng.int(8)
              bytes = b
              break
            }
            case 2:
              bytes = Buffer.concat([Uint8Array.of(0x13, 0x08, 0x0d), Buffer.from("RPYC"), rng.bytes(rng.range(0, 64))])
              break
            default:
              bytes = Uint8Array.of(0x15, 0xff, 0xff, 0xff, 0xff, ...rng.bytes(rng.range(0, 32)))
          }
          yield* send(bytes)
        }
        for (let i = 0; i < 10_000; i++) {
          yield* send(Registry.encodeRequest(Registry.Request.Register({ aliases: [`FLOOD${i}`], port: 1024 + i })))
          // the flood's own pacing: bursts the kernel's receive buffer can hold, so that most arrive
          if (i % 100 === 99) yield* Effect.sleep("1 millis")
        }
        const registrar = yield* RegistryClient.makeUdp({ host: "127.0.0.1", port, timeout: "5 seconds" })
        yield* registrar.register(["SURVIVOR"], 4242)
        assert.deepStrictEqual(yield* registrar.discover("SURVIVOR"), [{ host: "127.0.0.1", port: 4242 }])
        const listed = yield* registrar.list()
        assert.isTrue(Option.isSome(listed))
        const table = yield* server.state.snapshot
        console.log(
          `UDP registry: ${table.size} services registered after the flood (${Option.getOrThrow(listed).length} listed)`
        )
        assert.deepStrictEqual(watched.seen, [])
      }),
    TIMEOUT
  )

  it.scopedLive(
    "TCP: malformed and idle connections and 1,000 registrations, then it still answers discover",
    () =>
      Effect.gen(function*() {
        const watched = yield* watchProcess
        const server = yield* RegistryServer.makeTcpServer({ port: 0, connectionTimeout: "1 second" }).pipe(
          Logger.withMinimumLogLevel(LogLevel.Warning)
        )
        const port = server.address.port
        const rng = new Rng(0x12_0006)
        // garbage, a partial request, an endless tuple claim, and connections that send nothing
        yield* Effect.forEach(Array.from({ length: 200 }, (_, i) => i), (i) =>
          Effect.scoped(Effect.gen(function*() {
            const socket = yield* rawSocket(port)
            const valid = Registry.encodeRequest(Registry.Request.Query({ name: "X" }))
            const bytes = i % 4 === 0
              ? rng.bytes(rng.range(1, 3000))
              : i % 4 === 1
              ? valid.subarray(0, rng.range(1, valid.length - 1))
              : i % 4 === 2
              ? Uint8Array.of(0x15, 0xff, 0xff, 0xff, 0xff)
              : new Uint8Array(0)
            if (bytes.length > 0) yield* writeAll(socket, bytes)
            if (i % 8 < 4) socket.end()
          })), { concurrency: 16, discard: true })
        const registrar = yield* RegistryClient.makeTcp({ host: "127.0.0.1", port, timeout: "10 seconds" })
        yield* Effect.forEach(
          Array.from({ length: 1000 }, (_, i) => i),
          (i) => registrar.register([`TCPFLOOD${i}`], 2000 + i),
          { concurrency: 16, discard: true }
        )
        yield* registrar.register(["SURVIVOR"], 4243)
        assert.deepStrictEqual(yield* registrar.discover("SURVIVOR"), [{ host: "127.0.0.1", port: 4243 }])
        assert.deepStrictEqual(watched.seen, [])
      }),
    TIMEOUT
  )
})
