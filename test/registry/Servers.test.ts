/**
 * The UDP and TCP registry servers and our registrars, over 127.0.0.1 only.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Queue from "effect/Queue"
import * as Stream from "effect/Stream"
import * as TestClock from "effect/TestClock"
import * as Net from "node:net"
import * as Brine from "../../src/internal/wire/Brine.js"
import * as Registry from "../../src/registry/Registry.js"
import * as RegistryClient from "../../src/registry/RegistryClient.js"
import * as RegistryServer from "../../src/registry/RegistryServer.js"
import * as Udp from "../../src/transport/Udp.js"
import { eventually } from "../support/Eventually.js"
import { hex } from "./support.js"

const LOOPBACK = "127.0.0.1"

const udpRegistrar = (server: RegistryServer.Server, options: Partial<RegistryClient.UdpOptions> = {}) =>
  RegistryClient.makeUdp({ host: LOOPBACK, port: server.address.port, ...options })
const tcpRegistrar = (server: RegistryServer.Server, options: Partial<RegistryClient.TcpOptions> = {}) =>
  RegistryClient.makeTcp({ host: LOOPBACK, port: server.address.port, ...options })

// the whole registrar protocol against one server
const fullCycle = (registrar: RegistryClient.Registrar) =>
  Effect.gen(function*() {
    assert.deepStrictEqual(yield* registrar.discover("echo"), [])
    yield* registrar.register(["echo", "Alias"], 23456)
    yield* registrar.register(["OTHER"], 23457, LOOPBACK) // sent from a chosen local address
    assert.deepStrictEqual(yield* registrar.discover("ECHO"), [{ host: LOOPBACK, port: 23456 }])
    assert.deepStrictEqual(yield* registrar.discover("alias"), [{ host: LOOPBACK, port: 23456 }])
    assert.deepStrictEqual(yield* registrar.list(), Option.some(["ECHO", "ALIAS", "OTHER"]))
    assert.deepStrictEqual(yield* registrar.list(LOOPBACK), Option.some(["ECHO", "ALIAS", "OTHER"]))
    assert.deepStrictEqual(yield* registrar.list("192.0.2.1"), Option.some([]))
    yield* registrar.unregister(23456)
    // UDP unregister is fire-and-forget: wait for it to land
    yield* eventually(registrar.discover("echo"), (servers) => servers.length === 0)
    assert.deepStrictEqual(yield* registrar.list(), Option.some(["OTHER"]))
  })

describe("UDP registry server", () => {
  it.scopedLive("binds 127.0.0.1 by default and reports the real port", () =>
    Effect.gen(function*() {
      const server = yield* RegistryServer.makeUdpServer({ port: 0 })
      assert.strictEqual(server.mode, "UDP")
      assert.strictEqual(server.address.host, LOOPBACK)
      assert.isAbove(server.address.port, 0)
    }))

  it.scopedLive("register / discover / list / unregister with our UDP registrar", () =>
    Effect.gen(function*() {
      const server = yield* RegistryServer.makeUdpServer({ port: 0, allowListing: true })
      yield* fullCycle(yield* udpRegistrar(server))
    }))

  it.scopedLive("helpers: discover fails with DiscoveryError, listServices with ForbiddenError", () =>
    Effect.gen(function*() {
      const server = yield* RegistryServer.makeUdpServer({ port: 0 })
      const layer = RegistryClient.layerUdp({ host: LOOPBACK, port: server.address.port })
      const notFound = yield* RegistryClient.discover("nothing").pipe(Effect.flip, Effect.provide(layer))
      assert.strictEqual(notFound._tag, "DiscoveryError")
      assert.strictEqual(notFound.reason, "NotFound")
      assert.match(notFound.message, /'nothing'/)
      const forbidden = yield* RegistryClient.listServices().pipe(Effect.flip, Effect.provide(layer))
      assert.deepStrictEqual(forbidden, new Registry.ForbiddenError({ reason: "ListingDisabled" }))
      yield* Effect.flatMap(RegistryClient.Registrar, (r) => r.register(["FOUND"], 1234)).pipe(Effect.provide(layer))
      const found = yield* RegistryClient.discover("found", { host: "localhost" }).pipe(Effect.provide(layer))
      assert.deepStrictEqual(found, [{ host: LOOPBACK, port: 1234 }])
      const filtered = yield* RegistryClient.discover("found", { host: "192.0.2.1" }).pipe(
        Effect.flip,
        Effect.provide(layer)
      )
      assert.strictEqual(filtered.reason, "NotFound")
    }))

  it.scopedLive("no registry: Timeout from the registrar, Unreachable from discover", () =>
    Effect.gen(function*() {
      // a bound socket that never answers stands in for "nobody there"
      const silent = yield* Udp.make({ address: LOOPBACK })
      const registrar = yield* RegistryClient.makeUdp({
        host: LOOPBACK,
        port: silent.address.port,
        timeout: "300 millis"
      })
      const error = yield* Effect.flip(registrar.discover("x"))
      assert.strictEqual(error.reason, "Timeout")
      const unacked = yield* Effect.flip(registrar.register(["X"], 1))
      assert.strictEqual(unacked.reason, "NotAcknowledged")
      const discovery = yield* RegistryClient.discover("x").pipe(
        Effect.flip,
        Effect.provideService(RegistryClient.Registrar, registrar)
      )
      assert.strictEqual(discovery.reason, "Unreachable")
    }))

  it.scopedLive("ignores hostile datagrams and keeps answering", () =>
    Effect.gen(function*() {
      const server = yield* RegistryServer.makeUdpServer({ port: 0, allowListing: true })
      const socket = yield* Udp.make({ address: LOOPBACK })
      const inbox = yield* Queue.unbounded<Udp.Datagram>()
      yield* socket.messages.pipe(Stream.runForEach((d) => Queue.offer(inbox, d)), Effect.forkScoped)
      const send = (bytes: Uint8Array) => socket.send(bytes, server.address.port, LOOPBACK)
      const query = Registry.encodeRequest(Registry.Request.Query({ name: "foo" }))
      const random = new Uint8Array(1400)
      for (let i = 0; i < random.length; i++) random[i] = (i * 7919 + 13) % 256
      const hostile: ReadonlyArray<Uint8Array> = [
        new Uint8Array(0),
        random,
        new Uint8Array(9000).fill(0x14), // oversized, a tuple of tuples of ... claims
        Brine.encode(["RPYC", "REGISTER", [["EVIL", 1], 1]]),
        Brine.encode(["RPYB", "QUERY", ["foo"]]),
        Brine.encode(["RPYC", "SHUTDOWN", []]),
        Brine.encode(["RPYC", "REGISTER", [["EVIL"], 99999]]),
        new Uint8Array(Buffer.from("10".repeat(1499) + "02", "hex")),
        query.subarray(0, query.length - 1)
      ]
      for (const bytes of hostile) yield* send(bytes)
      yield* send(query)
      // the server answers in order: the first reply must be the one to the valid query
      assert.strictEqual(hex((yield* Queue.take(inbox)).data), "02")
      assert.strictEqual((yield* server.state.snapshot).size, 0)
      // a datagram over 1500 bytes is read as its first 1500 (RPyC's recvfrom(1500)); trailing junk ignored
      const padded = new Uint8Array(4000).fill(0xff)
      padded.set(query)
      yield* send(padded)
      assert.strictEqual(hex((yield* Queue.take(inbox)).data), "02")
      assert.strictEqual(yield* Queue.size(inbox), 0)
    }))

  it.scopedLive("as layers: a server layer and a registrar layer built from its address", () =>
    Effect.gen(function*() {
      const registrarLayer = Layer.unwrapEffect(
        Effect.map(RegistryServer.RegistryServer, (server) =>
          RegistryClient.layerUdp({ host: LOOPBACK, port: server.address.port }))
      )
      const layer = registrarLayer.pipe(
        Layer.provideMerge(RegistryServer.layerUdpServer({ port: 0, allowListing: true }))
      )
      const names = yield* Effect.gen(function*() {
        const registrar = yield* RegistryClient.Registrar
        yield* registrar.register(["LAYERED"], 4242)
        return yield* RegistryClient.listServices()
      }).pipe(Effect.provide(layer))
      assert.deepStrictEqual(names, ["LAYERED"])
    }))

  it.scopedLive("two servers on one port: the second fails with a Bind error", () =>
    Effect.gen(function*() {
      const first = yield* RegistryServer.makeUdpServer({ port: 0 })
      const error = yield* Effect.flip(RegistryServer.makeUdpServer({ port: first.address.port }))
      assert.strictEqual(error.reason, "Bind")
    }))

  // real sockets, Effect's TestClock: the server stamps entries with the test's clock
  it.scoped("prunes silent servers through the wire (TestClock)", () =>
    Effect.gen(function*() {
      const server = yield* RegistryServer.makeUdpServer({ port: 0, pruningTimeout: "30 seconds" })
      const registrar = yield* udpRegistrar(server)
      yield* registrar.register(["CLOCKED"], 5000)
      yield* registrar.register(["CLOCKED"], 5001)
      yield* TestClock.adjust("20 seconds")
      yield* registrar.register(["CLOCKED"], 5001)
      yield* TestClock.adjust("20 seconds")
      assert.deepStrictEqual(yield* registrar.discover("clocked"), [{ host: LOOPBACK, port: 5001 }])
      yield* TestClock.adjust("31 seconds")
      assert.deepStrictEqual(yield* registrar.discover("clocked"), [])
    }))
})

// a raw TCP client for hostile tests: resolves with what the server sent and how the connection ended
const rawTcp = (port: number, script: (socket: Net.Socket) => void) =>
  Effect.async<{ readonly data: string; readonly ended: "end" | "close" | "error" }>((resume) => {
    const socket = Net.createConnection({ host: LOOPBACK, port })
    let data = Buffer.alloc(0)
    let done = false
    const finish = (ended: "end" | "close" | "error") => {
      if (done) return
      done = true
      socket.destroy()
      resume(Effect.succeed({ data: data.toString("hex"), ended }))
    }
    socket.on("data", (d: Buffer) => {
      data = Buffer.concat([data, d])
    })
    socket.on("end", () => finish("end"))
    socket.on("close", () => finish("close"))
    socket.on("error", () => finish("error"))
    socket.once("connect", () => script(socket))
    return Effect.sync(() => socket.destroy())
  })

describe("TCP registry server", () => {
  it.scopedLive("register / discover / list / unregister with our TCP registrar", () =>
    Effect.gen(function*() {
      const server = yield* RegistryServer.makeTcpServer({ port: 0, allowListing: true })
      assert.strictEqual(server.mode, "TCP")
      assert.strictEqual(server.address.host, LOOPBACK)
      yield* fullCycle(yield* tcpRegistrar(server))
    }))

  it.scopedLive("listing disabled: the TCP registrar reports None", () =>
    Effect.gen(function*() {
      const server = yield* RegistryServer.makeTcpServer({ port: 0 })
      const registrar = yield* tcpRegistrar(server)
      assert.deepStrictEqual(yield* registrar.list(), Option.none())
      const error = yield* RegistryClient.listServices().pipe(
        Effect.flip,
        Effect.provideService(RegistryClient.Registrar, registrar)
      )
      assert.strictEqual(error._tag, "ForbiddenError")
    }))

  it.scopedLive("no registry: Connect error, and Unreachable from discover", () =>
    Effect.gen(function*() {
      const port = yield* Effect.scoped(Effect.map(RegistryServer.makeTcpServer({ port: 0 }), (s) => s.address.port))
      const registrar = yield* RegistryClient.makeTcp({ host: LOOPBACK, port })
      const error = yield* Effect.flip(registrar.discover("x"))
      assert.strictEqual(error.reason, "Connect")
      const discovery = yield* RegistryClient.discover("x").pipe(
        Effect.flip,
        Effect.provideService(RegistryClient.Registrar, registrar)
      )
      assert.strictEqual(discovery.reason, "Unreachable")
    }))

  it.scopedLive("hostile connections are dropped and the server keeps answering", () =>
    Effect.gen(function*() {
      const server = yield* RegistryServer.makeTcpServer({ port: 0, connectionTimeout: "300 millis" })
      const port = server.address.port
      const query = Registry.encodeRequest(Registry.Request.Query({ name: "foo" }))
      const started = Date.now()
      const [garbage, silent, partial, oversized, wrongMagic] = yield* Effect.all([
        rawTcp(port, (s) => s.write(Buffer.from("ff00ff00", "hex"))),
        rawTcp(port, () => {}), // half-open: connects, never sends
        rawTcp(port, (s) => s.write(query.subarray(0, 5))), // starts a value, never finishes it
        rawTcp(port, (s) => s.write(Buffer.alloc(200_000, 0x14))),
        rawTcp(port, (s) => s.write(Brine.encode(["RPYB", "QUERY", ["foo"]])))
      ], { concurrency: "unbounded" })
      for (const r of [garbage, silent, partial, oversized, wrongMagic]) assert.strictEqual(r.data, "")
      // time-boxed: the silent ones were cut off by the connection timeout, not by us
      assert.isBelow(Date.now() - started, 5_000)
      // still serving
      assert.deepStrictEqual(yield* (yield* tcpRegistrar(server)).discover("foo"), [])
    }))

  it.scopedLive("a request in one-byte pieces, then a half-close, is still answered", () =>
    Effect.gen(function*() {
      const server = yield* RegistryServer.makeTcpServer({ port: 0 })
      const query = Registry.encodeRequest(Registry.Request.Query({ name: "foo" }))
      const result = yield* rawTcp(server.address.port, (socket) => {
        let i = 0
        const next = () => {
          if (i < query.length) socket.write(query.subarray(i, ++i), () => setTimeout(next, 2))
          else socket.end() // FIN: some clients (nc -N) close their side before reading
        }
        next()
      })
      assert.strictEqual(result.data, "02")
    }))

  it.scopedLive("a slow client does not block others (connections are served concurrently)", () =>
    Effect.gen(function*() {
      const server = yield* RegistryServer.makeTcpServer({ port: 0, connectionTimeout: "5 seconds" })
      const slow = yield* Effect.fork(rawTcp(server.address.port, () => {}))
      const started = Date.now()
      assert.deepStrictEqual(yield* (yield* tcpRegistrar(server)).discover("foo"), [])
      assert.isBelow(Date.now() - started, 2_000)
      yield* Fiber.interrupt(slow)
    }))

  it.scopedLive("a UDP and a TCP server can share one table", () =>
    Effect.gen(function*() {
      const state = yield* RegistryServer.makeState({ pruningTimeout: Duration.minutes(1) })
      const udp = yield* RegistryServer.makeUdpServer({ port: 0, state })
      const tcp = yield* RegistryServer.makeTcpServer({ port: 0, state })
      yield* (yield* udpRegistrar(udp)).register(["SHARED"], 7000)
      assert.deepStrictEqual(yield* (yield* tcpRegistrar(tcp)).discover("shared"), [{ host: LOOPBACK, port: 7000 }])
    }))

  it.scopedLive("IPv6 loopback, UDP and TCP", () =>
    Effect.gen(function*() {
      const udp = yield* RegistryServer.makeUdpServer({ host: "::1", port: 0 })
      const tcp = yield* RegistryServer.makeTcpServer({ host: "::1", port: 0, state: udp.state })
      assert.strictEqual(udp.address.host, "::1")
      const viaUdp = yield* RegistryClient.makeUdp({ host: "::1", port: udp.address.port })
      const viaTcp = yield* RegistryClient.makeTcp({ host: "::1", port: tcp.address.port })
      yield* viaUdp.register(["SIX"], 6666)
      assert.deepStrictEqual(yield* viaTcp.discover("six"), [{ host: "::1", port: 6666 }])
    }))

  it.scopedLive("closing the scope closes the server", () =>
    Effect.gen(function*() {
      const port = yield* Effect.scoped(Effect.map(RegistryServer.makeTcpServer({ port: 0 }), (s) => s.address.port))
      // the port is free again: a new server can bind it
      const again = yield* RegistryServer.makeTcpServer({ port })
      assert.strictEqual(again.address.port, port)
    }))
})
