/**
 * The connection engine end to end: nested callbacks, concurrency, timeouts, disconnects,
 * malformed input, CLOSE handling, netrefs, GETROOT caching and both wire dialects.
 *
 * Real sockets on 127.0.0.1:0 (it.scopedLive) unless a test says otherwise; hand-built frames go
 * through `test/support/RawPeer.ts`. Every test owns its servers and clients, so they run concurrently.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as Scope from "effect/Scope"
import * as TestClock from "effect/TestClock"
import * as Client from "../../src/client/Client.js"
import type * as Config from "../../src/internal/base/Config.js"
import type { RemoteFailure } from "../../src/internal/base/Errors.js"
import * as Connection from "../../src/internal/engine/Engine.js"
import * as Netref from "../../src/internal/netref/Netref.js"
import type * as RemoteOp from "../../src/internal/netref/RemoteOp.js"
import * as Message from "../../src/internal/wire/Message.js"
import * as Operations from "../../src/netref/Operations.js"
import type * as Server from "../../src/server/Server.js"
import * as Services from "../../src/service/Service.js"
import { Service, VoidService } from "../../src/service/Service.js"
import { eventually } from "../support/Eventually.js"
import * as Peers from "../support/Peers.js"
import { serve } from "../support/Peers.js"
import { connectRaw, decode, rawFrame, type RawPeer, rawServer, requestFrame } from "../support/RawPeer.js"
import { captureLogs, type LogCapture, memorySocketPair, timed, within } from "./support.js"

const { Handler, Label, MsgType } = Message

// ---------------------------------------------------------------------------------------------
// helpers

/** A TS client of `server` (test/support's `connect`, by server). */
const connect = (server: Server.Server, options: Omit<Client.ConnectOptions, "port" | "host"> = {}) =>
  Peers.connect(server.port!, options)

/** The one connection a server is serving (waits for it to be registered). */
const onlyConnection = Peers.serverConnection

/** A remote operation (or a value typed `any`, like a netref attribute) as a typed Effect, for Effect.all / Effect.either. */
const fx = (op: RemoteOp.Remote): Effect.Effect<any, RemoteFailure> => op

/** Asserts the failure is tagged `tag` and returns it. */
const expectTag = <T extends RemoteFailure["_tag"]>(
  result: Either.Either<unknown, RemoteFailure>,
  tag: T
): Extract<RemoteFailure, { _tag: T }> => {
  if (Either.isRight(result)) return assert.fail(`expected ${tag}, got success ${String(result.right)}`)
  assert.strictEqual(result.left._tag, tag, `expected ${tag}, got ${result.left._tag}: ${result.left.message}`)
  return result.left as Extract<RemoteFailure, { _tag: T }>
}

/** A v5 payload decoded, for raw-peer assertions. */
const decode5 = (payload: Uint8Array) => decode(5, payload)

const nextEnvelope = (peer: RawPeer, version: Message.WireVersion, what: string) =>
  Effect.map(within(peer.nextPayload, what), (p) => {
    if (Option.isNone(p)) return assert.fail(`stream closed while waiting for ${what}`)
    return decode(version, p.value)
  })

type Body = (logs: LogCapture) => Effect.Effect<void, unknown, unknown>

/**
 * Every test gets a capturing logger (quiet output, inspectable logs). The context is cast: a
 * resolved remote value (a netref) is typed `any`, and `yield*` of an `any` (`yield* ref.attr`)
 * makes Effect.gen infer `R = unknown`; the only real requirement is the Scope.
 */
const run = (body: Body) => () => {
  const logs = captureLogs()
  return body(logs).pipe(Effect.provide(logs.layer)) as Effect.Effect<void, unknown, Scope.Scope>
}

/** A test on real sockets and the real clock. */
const liveTest = Object.assign((name: string, body: Body) => it.scopedLive(name, run(body)), {
  /** A test that documents an engine bug (see the report in the test's comment). */
  fails: (name: string, body: Body) => it.scopedLive.fails(name, run(body))
})

/** A test under the TestClock (in-memory transport only). */
const clockTest = (name: string, body: Body) => it.scoped(name, run(body))

// ---------------------------------------------------------------------------------------------
// 1. nested callbacks

describe("nested callbacks", () => {
  liveTest("client → server → client → … through both roots, depth 10", () => {
    class PingService extends Service {
      private conn: Connection.Connection | undefined
      override onConnect(conn: Connection.Connection) {
        this.conn = conn
      }
      async exposed_ping(n: number, trace: string): Promise<string> {
        const t = `${trace}S${n};`
        return n === 0 ? t : await this.conn!.root.pong(n - 1, t)
      }
    }
    class PongService extends Service {
      private conn: Connection.Connection | undefined
      override onConnect(conn: Connection.Connection) {
        this.conn = conn
      }
      async exposed_pong(n: number, trace: string): Promise<string> {
        const t = `${trace}C${n};`
        return n === 0 ? t : await this.conn!.root.ping(n - 1, t)
      }
    }
    return Effect.gen(function*() {
      const server = yield* serve(PingService)
      const conn = yield* connect(server, { service: PongService })
      let expected = ""
      for (let n = 9; n >= 0; n--) expected += `${n % 2 === 1 ? "S" : "C"}${n};`
      assert.strictEqual(yield* conn.root.ping(9, ""), expected)
      // twice more, concurrently: the interleaved nested requests must not get mixed up
      const [a, b] = yield* Effect.all([fx(conn.root.ping(7, "a:")), fx(conn.root.ping(6, "b:"))], {
        concurrency: "unbounded"
      })
      assert.strictEqual(a, "a:S7;C6;S5;C4;S3;C2;S1;C0;")
      assert.strictEqual(b, "b:S6;C5;S4;C3;S2;C1;S0;")
      const sconn = yield* onlyConnection(server)
      assert.strictEqual(conn.pendingCount, 0)
      assert.strictEqual(sconn.pendingCount, 0)
    })
  })

  liveTest("callbacks passed as arguments, Promise and Effect handlers alternating, depth 11", () => {
    class BounceService extends Service {
      async exposed_bounce(n: number, cb: RemoteOp.Remote): Promise<string> {
        return n === 0 ? "S0" : `S${n}>${await cb(n - 1)}`
      }
      exposed_bounce_fx(n: number, cb: RemoteOp.Remote) {
        return Effect.gen(function*() {
          if (n === 0) return "E0"
          const rest: string = yield* cb(n - 1)
          return `E${n}>${rest}`
        })
      }
    }
    return Effect.gen(function*() {
      const server = yield* serve(BounceService)
      const conn = yield* connect(server)
      const cb = async (k: number): Promise<string> => {
        if (k === 0) return "C0"
        const rest: string = k % 4 === 1 ? await conn.root.bounce_fx(k - 1, cb) : await conn.root.bounce(k - 1, cb)
        return `C${k}>${rest}`
      }
      assert.strictEqual(yield* conn.root.bounce(10, cb), "S10>C9>E8>C7>S6>C5>E4>C3>S2>C1>E0")
      assert.strictEqual(conn.pendingCount, 0)
    })
  })

  liveTest("a callback that fails: the error travels back through every level", () => {
    class RelayService extends Service {
      async exposed_relay(n: number, cb: RemoteOp.Remote): Promise<unknown> {
        return await cb(n)
      }
    }
    return Effect.gen(function*() {
      const server = yield* serve(RelayService)
      const conn = yield* connect(server)
      const cb = async (k: number): Promise<unknown> => {
        if (k === 0) throw new Error("bottom of the stack")
        return await conn.root.relay(k - 1, cb)
      }
      const failure = expectTag(yield* Effect.either(fx(conn.root.relay(5, cb))), "RemoteError")
      assert.include(failure.message, "bottom of the stack")
      // the connection is still fine afterwards
      assert.strictEqual(yield* conn.root.relay(0, (x: number) => x + 1), 1)
    })
  })
})

// ---------------------------------------------------------------------------------------------
// 2. concurrency

describe("concurrent calls", () => {
  class MathService extends Service {
    exposed_double(x: number) {
      return x * 2
    }
    /** replies in a scrambled order */
    exposed_slow_square(x: number) {
      return Effect.as(Effect.sleep(Duration.millis((x * 7) % 13)), x * x)
    }
    async exposed_async_neg(x: number) {
      await new Promise<void>((resolve) => setImmediate(resolve))
      return -x
    }
    async exposed_apply(cb: RemoteOp.Remote, x: number) {
      return (await cb(x)) * 10
    }
  }

  const expectedFor = (i: number) => (i % 3 === 0 ? i * 2 : i % 3 === 1 ? i * i : -i)

  liveTest("1000 concurrent calls on one connection (root fetched first)", () => {
    return Effect.gen(function*() {
      const server = yield* serve(MathService)
      const conn = yield* connect(server)
      const root = yield* conn.root
      const calls = Array.from(
        { length: 1000 },
        (_, i) => fx(i % 3 === 0 ? root.double(i) : i % 3 === 1 ? root.slow_square(i) : root.async_neg(i))
      )
      const results: Array<number> = yield* Effect.all(calls, { concurrency: "unbounded" })
      assert.strictEqual(results.length, 1000)
      for (let i = 0; i < 1000; i++) assert.strictEqual(results[i], expectedFor(i), `call #${i}`)
      assert.strictEqual(conn.pendingCount, 0)
    })
  })

  liveTest("1000 concurrent calls on a fresh connection (root not fetched yet)", () => {
    return Effect.gen(function*() {
      const server = yield* serve(MathService)
      const conn = yield* connect(server)
      const calls = Array.from(
        { length: 1000 },
        (_, i) =>
          fx(i % 3 === 0 ? conn.root.double(i) : i % 3 === 1 ? conn.root.slow_square(i) : conn.root.async_neg(i))
      )
      const results: Array<number> = yield* Effect.all(calls, { concurrency: "unbounded" })
      for (let i = 0; i < 1000; i++) assert.strictEqual(results[i], expectedFor(i), `call #${i}`)
      assert.strictEqual(conn.pendingCount, 0)
    })
  })

  liveTest("300 concurrent calls each calling back its own callback", () => {
    return Effect.gen(function*() {
      const server = yield* serve(MathService)
      const conn = yield* connect(server)
      const root = yield* conn.root
      const calls = Array.from({ length: 300 }, (_, i) => fx(root.apply((x: number) => x + i, i)))
      const results: Array<number> = yield* Effect.all(calls, { concurrency: "unbounded" })
      for (let i = 0; i < 300; i++) assert.strictEqual(results[i], 20 * i, `call #${i}`)
      assert.strictEqual(conn.pendingCount, 0)
      const sconn = yield* onlyConnection(server)
      assert.strictEqual(sconn.pendingCount, 0)
    })
  })
})

// ---------------------------------------------------------------------------------------------
// 3. request timeout

describe("an interrupted call", () => {
  liveTest("its caller stops waiting at once; its late reply is dropped, and later calls get their own", () => {
    return Effect.gen(function*() {
      const started = yield* Deferred.make<void>()
      const gate = yield* Deferred.make<void>()
      class Gated extends Service {
        exposed_wait(x: number) {
          return Effect.as(Effect.zipRight(Deferred.succeed(started, undefined), Deferred.await(gate)), `late ${x}`)
        }
        exposed_echo(x: unknown) {
          return x
        }
      }
      const server = yield* serve(Gated)
      const conn = yield* connect(server)
      const root = yield* conn.root
      const waiting = yield* Effect.fork(fx(root.wait(1)))
      yield* Deferred.await(started)
      assert.strictEqual(conn.pendingCount, 1)
      yield* Fiber.interrupt(waiting)
      assert.isTrue(Exit.isInterrupted(yield* Fiber.await(waiting)))
      // the request is still the server's to answer: it stays pending until its reply comes
      assert.strictEqual(conn.pendingCount, 1)
      assert.strictEqual(yield* fx(root.echo("meanwhile")), "meanwhile")
      yield* Deferred.succeed(gate, undefined)
      yield* eventually(() => conn.pendingCount === 0, "the late reply to be taken and dropped")
      assert.strictEqual(yield* fx(root.echo("after")), "after")
      assert.strictEqual(yield* fx(root.wait(2)), "late 2")
    })
  })
})

describe("request encoding", () => {
  for (const version of [5, 6] as const) {
    liveTest(`v${version}: arguments boxed as they are written are the bytes of their boxed value`, () => {
      return Effect.gen(function*() {
        const raw = yield* rawServer()
        const conn = yield* Client.connect({ host: "127.0.0.1", port: raw.port, wireVersion: version })
        const peer = yield* raw.accept
        const fn = (x: number) => x
        const bytes = new Uint8Array([4, 5])
        yield* Effect.fork(conn.request(Handler.CALL, [7, "text", [1, [2, "three"], bytes], fn, [fn, null, 2.5], []]))
        // (a v6 client asks for the root first)
        let payload = yield* within(peer.nextPayload, "the request")
        while (Option.isSome(payload) && (decode(version, payload.value).args as [number])[0] !== Handler.CALL) {
          payload = yield* within(peer.nextPayload, "the request")
        }
        if (Option.isNone(payload)) return assert.fail("stream closed")
        const env = decode(version, payload.value)
        const [, boxed] = env.args as [number, [number, Array<[number, unknown]>]]
        const fnRef = boxed[1][3]
        assert.strictEqual(fnRef[0], Label.REMOTE_REF)
        // what encoding the boxed value gives: values whole, tuples holding a reference item by item
        const expected = [Label.TUPLE, [
          [Label.VALUE, 7],
          [Label.VALUE, "text"],
          [Label.VALUE, [1, [2, "three"], bytes]],
          [Label.REMOTE_REF, fnRef[1]],
          [Label.TUPLE, [[Label.REMOTE_REF, fnRef[1]], [Label.VALUE, null], [Label.VALUE, 2.5]]],
          [Label.VALUE, []]
        ]]
        assert.deepStrictEqual(
          Array.from(payload.value),
          Array.from(Message.encodePayload(version, MsgType.REQUEST, env.seq, [Handler.CALL, expected]))
        )
      })
    })
  }
})

describe("request timeout", () => {
  liveTest("RequestTimeout after syncRequestTimeout; the late reply is dropped", () => {
    const gates: Array<(v: string) => void> = []
    class SlowService extends Service {
      exposed_hang(): Promise<string> {
        return new Promise((resolve) => gates.push(resolve))
      }
      exposed_echo(x: unknown) {
        return x
      }
    }
    return Effect.gen(function*() {
      const server = yield* serve(SlowService)
      const conn = yield* connect(server, { config: { syncRequestTimeout: 0.3 } })
      const root = yield* conn.root
      const [result, elapsed] = yield* timed(Effect.either(fx(root.hang())))
      const timeout = expectTag(result, "RequestTimeout")
      assert.strictEqual(timeout.handler, "CALLATTR")
      assert.strictEqual(timeout.timeoutMillis, 300)
      // the sweeper ticks every 100 ms and never expires early (allow a few ms of timer jitter); the
      // upper bound is generous because other tests share the event loop (the TestClock test below
      // checks the exact window)
      assert.isAtLeast(elapsed, 295, `expired after ${elapsed} ms`)
      assert.isBelow(elapsed, 2500, `expired after ${elapsed} ms`)
      assert.strictEqual(conn.pendingCount, 0)
      assert.isFalse(conn.closed)

      // the server answers late: the reply must be dropped, not given to a later call
      assert.strictEqual(gates.length, 1)
      gates[0]!("late reply")
      // the late reply precedes this call's reply on the wire
      assert.strictEqual(yield* root.echo("after"), "after")
      assert.strictEqual(conn.pendingCount, 0)

      // and it works again: a second timeout, then a normal call
      const second = expectTag(yield* Effect.either(fx(root.hang())), "RequestTimeout")
      assert.isAbove(second.seq, timeout.seq)
      gates[1]!("late again")
      assert.deepStrictEqual(yield* root.echo([1, "two"]), [1, "two"])
      assert.strictEqual(conn.pendingCount, 0)
    })
  })

  liveTest("a method that never resolves, with a per-request override of the timeout", () => {
    class NeverService extends Service {
      exposed_never() {
        return new Promise(() => {})
      }
    }
    return Effect.gen(function*() {
      const server = yield* serve(NeverService)
      const conn = yield* connect(server, { config: { syncRequestTimeout: 0.3 } })
      const root = yield* conn.root
      const [r1, t1] = yield* timed(Effect.either(fx(root.never())))
      expectTag(r1, "RequestTimeout")
      assert.isAtLeast(t1, 295)
      assert.isBelow(t1, 2500)
      // PING with an explicit 0.2 s timeout against a peer that answers: fine
      yield* conn.ping("x", "0.2 seconds")
      // a raw request with a timeout overriding the config
      const [r2, t2] = yield* timed(
        Effect.either(conn.request(Handler.CALLATTR, [root, "never", [], []], { timeout: "150 millis" }))
      )
      const e2 = expectTag(r2, "RequestTimeout")
      assert.strictEqual(e2.timeoutMillis, 150)
      assert.isAtLeast(t2, 145)
      assert.isBelow(t2, 2500)
      assert.strictEqual(conn.pendingCount, 0)
    })
  })

  clockTest("TestClock: expires after the timeout and not before (in-memory peer)", () => {
    class HangService extends Service {
      exposed_hang() {
        return new Promise(() => {})
      }
      exposed_echo(x: unknown) {
        return x
      }
    }
    return Effect.gen(function*() {
      const [a, b] = yield* memorySocketPair()
      yield* Services.makeConnection(b, HangService, { wireVersion: "auto" })
      const conn = yield* Services.makeConnection(a, VoidService, { config: { syncRequestTimeout: 1 }, wireVersion: 5 })
      const root = yield* conn.root
      assert.strictEqual(yield* root.echo(5), 5)
      const fiber = yield* Effect.fork(Effect.either(fx(root.hang())))
      // wait (without moving the clock) until the request is out and the sweeper is asleep
      while (conn.pendingCount === 0 || (yield* TestClock.sleeps()).length === 0) yield* Effect.yieldNow()
      yield* TestClock.adjust("999 millis")
      assert.isNull(fiber.unsafePoll(), "expired before the timeout")
      assert.strictEqual(conn.pendingCount, 1)
      yield* TestClock.adjust("201 millis")
      const result = yield* Fiber.join(fiber)
      const timeout = expectTag(result, "RequestTimeout")
      assert.strictEqual(timeout.timeoutMillis, 1000)
      assert.strictEqual(conn.pendingCount, 0)
      // the connection still works
      assert.strictEqual(yield* root.echo("still here"), "still here")
      // with nothing pending, the sweeper parks instead of ticking forever
      yield* TestClock.adjust("300 millis")
      assert.strictEqual((yield* TestClock.sleeps()).length, 0, "the sweeper is still ticking")
    })
  })
})

// ---------------------------------------------------------------------------------------------
// 4. peer disconnect

describe("peer disconnect fails pending calls at once", () => {
  /** On a closed connection a request fails before `submit` returns: no I/O, no timer. */
  const assertFailsSynchronously = (conn: Connection.Connection) => {
    let outcome: Exit.Exit<unknown, RemoteFailure> | undefined
    const seq = conn.submit(Handler.PING, ["x"], (exit) => {
      outcome = exit
    })
    assert.strictEqual(seq, -1)
    if (outcome === undefined || Exit.isSuccess(outcome)) return assert.fail("the request did not fail synchronously")
    expectTag(Either.left(Cause.squash(outcome.cause) as RemoteFailure), "ConnectionClosed")
  }

  const hangService = (started: Deferred.Deferred<void>) =>
    class HangService extends Service {
      exposed_hang() {
        Deferred.unsafeDone(started, Exit.void)
        return new Promise(() => {})
      }
      exposed_echo(x: unknown) {
        return x
      }
    }

  liveTest("the server closes the connection (server.connections → close())", () => {
    return Effect.gen(function*() {
      const started = yield* Deferred.make<void>()
      const server = yield* serve(hangService(started))
      const conn = yield* connect(server) // default 30 s timeout
      const pending = yield* Effect.fork(timed(Effect.either(fx(conn.root.hang()))))
      yield* within(Deferred.await(started), "the server method to start")
      const sconn = yield* onlyConnection(server)
      yield* sconn.close()
      const [result, elapsed] = yield* within(Fiber.join(pending), "the pending call to fail")
      expectTag(result, "ConnectionClosed")
      assert.isBelow(elapsed, 3000, `failed after ${elapsed} ms`)
      assert.strictEqual(conn.pendingCount, 0)
      yield* within(conn.awaitClose, "the client connection to close")
      assert.isTrue(conn.closed)
      // new calls fail at once
      assertFailsSynchronously(conn)
      const [again, t] = yield* timed(Effect.either(fx(conn.root.echo(1))))
      expectTag(again, "ConnectionClosed")
      assert.isBelow(t, 1000)
      yield* eventually(() => server.connections.size === 0, "the server forgot the connection")
    })
  })

  liveTest("the server's scope closes", () => {
    return Effect.gen(function*() {
      const started = yield* Deferred.make<void>()
      const serverScope = yield* Scope.make()
      const server = yield* serve(hangService(started)).pipe(Scope.extend(serverScope))
      const conn = yield* connect(server)
      const root = yield* conn.root
      const pending = yield* Effect.fork(timed(Effect.either(fx(root.hang()))))
      yield* within(Deferred.await(started), "the server method to start")
      yield* within(Scope.close(serverScope, Exit.void), "the server scope to close")
      const [result, elapsed] = yield* within(Fiber.join(pending), "the pending call to fail")
      expectTag(result, "ConnectionClosed")
      assert.isBelow(elapsed, 3000)
      yield* within(conn.awaitClose, "the client connection to close")
      assertFailsSynchronously(conn)
      const [again, t] = yield* timed(Effect.either(fx(root.echo(1))))
      expectTag(again, "ConnectionClosed")
      assert.isBelow(t, 1000)
    })
  })

  for (const how of ["destroy", "end"] as const) {
    liveTest(`the peer's socket goes away without CLOSE (${how})`, () => {
      return Effect.gen(function*() {
        const raw = yield* rawServer()
        const conn = yield* Client.connect({ host: "127.0.0.1", port: raw.port, wireVersion: 5 })
        const peer = yield* raw.accept
        const pending = yield* Effect.fork(timed(Effect.either(conn.request(Handler.PING, ["are you there"]))))
        const request = yield* nextEnvelope(peer, 5, "the PING request")
        assert.strictEqual(request.msg, MsgType.REQUEST)
        if (how === "destroy") peer.socket.destroy()
        else peer.socket.end()
        const [result, elapsed] = yield* within(Fiber.join(pending), "the pending call to fail")
        const closed = expectTag(result, "ConnectionClosed")
        assert.include(["PeerClosed", "Transport"], closed.reason)
        assert.isBelow(elapsed, 3000)
        yield* within(conn.awaitClose, "the client connection to close")
        const again = yield* Effect.either(conn.request(Handler.PING, ["again"]))
        expectTag(again, "ConnectionClosed")
      })
    })
  }
})

// ---------------------------------------------------------------------------------------------
// 5. malformed input

describe("garbage, truncated and oversized frames", () => {
  class EchoService extends Service {
    exposed_echo(x: unknown) {
      return x
    }
  }

  const payload = (hex: string) => new Uint8Array(Buffer.from(hex, "hex"))

  interface Case {
    readonly name: string
    readonly bytes: Uint8Array
    /** send FIN after the bytes */
    readonly fin?: boolean
    readonly maxFrameSize?: number
    readonly reason: string
    readonly detail: string
  }

  const cases: ReadonlyArray<Case> = [
    {
      name: "an HTTP request (length header ≈ 1.2 GB > max frame size)",
      bytes: Buffer.from("GET / HTTP/1.1\r\n\r\n", "latin1"),
      reason: "Frame",
      detail: "exceeds the maximum"
    },
    {
      name: "a valid header with a truncated payload, then FIN",
      bytes: Buffer.concat([Buffer.from("0000006400", "hex"), Buffer.from("1251501153115102", "hex")]),
      fin: true,
      reason: "Frame",
      detail: "stream ended inside a frame"
    },
    {
      name: "a v5 payload that is not valid brine (tag 0x07)",
      bytes: rawFrame(payload("12515007")),
      reason: "Brine",
      detail: ""
    },
    {
      name: "a payload whose first byte is no dialect (0x07)",
      bytes: rawFrame(payload("07")),
      reason: "WireVersion",
      detail: "0x07"
    },
    {
      name: "a v5 payload with an unknown message type (4)",
      bytes: rawFrame(payload("1254501153115102")),
      reason: "Envelope",
      detail: "invalid message type: 4"
    },
    {
      name: "a v6 payload with a malformed body",
      bytes: rawFrame(payload("0151")),
      reason: "Envelope",
      detail: "2-tuple"
    },
    {
      name: "a compressed frame that does not inflate",
      bytes: rawFrame(payload("0102030405060708"), 1),
      reason: "Frame",
      detail: "Inflate"
    },
    {
      name: "a frame over an explicit maxFrameSize of 1024",
      bytes: rawFrame(new Uint8Array(2000).fill(0x50)),
      maxFrameSize: 1024,
      reason: "Frame",
      detail: "exceeds the maximum of 1024"
    }
  ]

  for (const c of cases) {
    liveTest(c.name, (logs) => {
      return Effect.gen(function*() {
        const server = yield* serve(EchoService, c.maxFrameSize !== undefined ? { maxFrameSize: c.maxFrameSize } : {})
        const good = yield* connect(server)
        assert.strictEqual(yield* good.root.echo("before"), "before")

        const raw = yield* connectRaw(server.port!)
        yield* raw.write(c.bytes)
        if (c.fin) yield* raw.end
        yield* within(raw.closed, "the server to close the raw socket")
        assert.strictEqual(raw.received.length, 0, "the server must not answer garbage")

        yield* eventually(
          () => logs.protocolErrors().some((e) => e.reason === c.reason && e.detail.includes(c.detail)),
          `a ProtocolError(${c.reason}) mentioning "${c.detail}" is logged; got: ${
            logs.entries.map((e) => e.text).join(" | ")
          }`
        )
        const entry = logs.entries.find((e) => e.text.includes("ProtocolError"))!
        assert.strictEqual(entry.level, "ERROR")

        // the other connection is unaffected
        assert.strictEqual(yield* good.root.echo("after"), "after")
        assert.isFalse(good.closed)
        yield* eventually(() => server.connections.size === 1, "only the good connection is left")
      })
    })
  }

  liveTest("one server survives every kind of garbage in turn", (logs) => {
    return Effect.gen(function*() {
      const server = yield* serve(EchoService)
      const good = yield* connect(server)
      for (const c of cases.filter((c) => c.maxFrameSize === undefined)) {
        const raw = yield* connectRaw(server.port!)
        yield* raw.write(c.bytes)
        if (c.fin) yield* raw.end
        yield* within(raw.closed, `the server to close the raw socket after ${c.name}`)
        assert.strictEqual(yield* good.root.echo(c.name), c.name)
      }
      yield* eventually(
        () => logs.protocolErrors().length >= cases.length - 1,
        "one ProtocolError logged per bad connection"
      )
      yield* eventually(() => server.connections.size === 1, "only the good connection is left")
    })
  })

  liveTest("a client whose argument exceeds the server's maxFrameSize loses its connection", (logs) => {
    return Effect.gen(function*() {
      const server = yield* serve(EchoService, { maxFrameSize: 1024 })
      const good = yield* connect(server)
      const big = yield* connect(server, { config: { syncRequestTimeout: 10 } })
      assert.strictEqual(yield* big.root.echo("small"), "small")
      const [result, elapsed] = yield* timed(Effect.either(fx(big.root.echo("x".repeat(2000)))))
      expectTag(result, "ConnectionClosed")
      assert.isBelow(elapsed, 3000)
      yield* eventually(
        () => logs.protocolErrors().some((e) => e.detail.includes("exceeds the maximum of 1024")),
        "logged"
      )
      assert.strictEqual(yield* good.root.echo("fine"), "fine")
    })
  })

  liveTest("garbage after a working exchange closes the connection", (logs) =>
    Effect.gen(function*() {
      const server = yield* serve(EchoService)
      const raw = yield* connectRaw(server.port!)
      yield* raw.write(requestFrame(5, 0, Handler.PING, [Label.VALUE, ["hi"]]))
      const pong = yield* nextEnvelope(raw, 5, "the PING reply")
      assert.deepStrictEqual(pong.args, [Label.VALUE, "hi"])
      yield* raw.write(Buffer.from("GET / HTTP/1.1\r\n\r\n", "latin1"))
      yield* within(raw.closed, "the server to close the raw socket")
      assert.strictEqual(raw.received.length, 1)
      yield* eventually(() => logs.protocolErrors().some((e) => e.reason === "Frame"), "a ProtocolError is logged")
      yield* eventually(() => server.connections.size === 0, "the server forgot the connection")
    }))

  liveTest(
    "errors inside well-formed requests are exception replies; the connection stays up",
    (logs) =>
      Effect.gen(function*() {
        const server = yield* serve(EchoService)
        const raw = yield* connectRaw(server.port!)
        const unknownObject: Message.IdPack = ["builtins.object", 1, 987654321]
        const bad: ReadonlyArray<readonly [string, Buffer, string]> = [
          ["unknown handler", requestFrame(5, 0, 99, [Label.VALUE, []]), "KeyError"],
          [
            "GETATTR on an unknown id_pack",
            requestFrame(5, 1, Handler.GETATTR, [Label.TUPLE, [[Label.LOCAL_REF, unknownObject], [Label.VALUE, "x"]]]),
            "KeyError"
          ],
          ["an invalid box label", requestFrame(5, 2, Handler.PING, [7, ["x"]]), "ValueError"],
          ["request args that are not a pair", rawFrame(Message.encodePayload(5, MsgType.REQUEST, 3, 5)), "ValueError"],
          [
            "DEL of an unknown object",
            requestFrame(5, 4, Handler.DEL, [Label.TUPLE, [[Label.LOCAL_REF, unknownObject], [Label.VALUE, 1]]]),
            "KeyError"
          ]
        ]
        for (const [what, bytes, pyClass] of bad) {
          yield* raw.write(bytes)
          const env = yield* nextEnvelope(raw, 5, `the reply to ${what}`)
          assert.strictEqual(env.msg, MsgType.EXCEPTION, what)
          const vinegar = env.args as [[string, string], unknown, unknown, string]
          assert.deepStrictEqual(vinegar[0], ["builtins", pyClass], what)
        }
        // replies to requests nobody sent are dropped silently
        yield* raw.write(rawFrame(Message.encodePayload(5, MsgType.REPLY, 999, [Label.VALUE, null])))
        yield* raw.write(rawFrame(Message.encodePayload(5, MsgType.EXCEPTION, 998, 1)))
        yield* raw.write(requestFrame(5, 5, Handler.PING, [Label.VALUE, ["still up"]]))
        const pong = yield* nextEnvelope(raw, 5, "the PING reply")
        assert.deepStrictEqual([pong.msg, pong.seq, pong.args], [MsgType.REPLY, 5, [Label.VALUE, "still up"]])
        assert.isFalse(raw.isClosed())
        assert.deepStrictEqual(logs.protocolErrors(), [])
      })
  )
})

// ---------------------------------------------------------------------------------------------
// 6. receiving CLOSE

describe("receiving CLOSE", () => {
  liveTest("tears the connection down at once and never replies", () => {
    return Effect.gen(function*() {
      const disconnected = yield* Deferred.make<void>()
      class RecordingService extends Service {
        override onDisconnect() {
          Deferred.unsafeDone(disconnected, Exit.void)
        }
      }
      const server = yield* serve(RecordingService)
      const raw = yield* connectRaw(server.port!)
      // a working connection first: PING is answered (v5)
      yield* raw.write(requestFrame(5, 0, Handler.PING, [Label.VALUE, ["abc"]]))
      const pong = yield* nextEnvelope(raw, 5, "the PING reply")
      assert.deepStrictEqual([pong.msg, pong.seq, pong.args], [MsgType.REPLY, 0, [Label.VALUE, "abc"]])
      yield* eventually(() => server.connections.size === 1, "the server registered the connection")

      // CLOSE (vector 17 of PROTOCOL.md §3.15: (1, 10, (2, (1, ())))), then a PING in the same write
      const close = Buffer.from("000000080012515a11521151020a", "hex")
      assert.deepStrictEqual(close, requestFrame(5, 10, Handler.CLOSE, [Label.VALUE, []]))
      const [, elapsed] = yield* timed(Effect.gen(function*() {
        yield* raw.write(Buffer.concat([close, requestFrame(5, 11, Handler.PING, [Label.VALUE, ["late"]])]))
        yield* within(raw.closed, "the server to close the socket", "2 seconds")
      }))
      assert.isBelow(elapsed, 1000, `closed after ${elapsed} ms`)
      assert.strictEqual(raw.received.length, 1, "nothing but the first PING reply was received")
      assert.isUndefined(raw.decodeError())
      yield* within(Deferred.await(disconnected), "onDisconnect")
      yield* eventually(() => server.connections.size === 0, "the server forgot the connection")
    })
  })

  liveTest("v6 CLOSE as the very first frame", () => {
    return Effect.gen(function*() {
      const server = yield* serve(VoidService)
      const raw = yield* connectRaw(server.port!)
      yield* raw.write(requestFrame(6, 0, Handler.CLOSE, [Label.VALUE, []]))
      yield* within(raw.closed, "the server to close the socket", "2 seconds")
      assert.strictEqual(raw.received.length, 0)
      yield* eventually(() => server.connections.size === 0, "the server forgot the connection")
    })
  })
})

// ---------------------------------------------------------------------------------------------
// 7. closing the client

describe("closing the client", () => {
  liveTest("closing the client scope: CLOSE sent, server side closed, onDisconnect run, pending calls fail", () => {
    return Effect.gen(function*() {
      const started = yield* Deferred.make<void>()
      const disconnected = yield* Deferred.make<Connection.Connection>()
      class HangService extends Service {
        exposed_hang() {
          Deferred.unsafeDone(started, Exit.void)
          return new Promise(() => {})
        }
        override onDisconnect(conn: Connection.Connection) {
          Deferred.unsafeDone(disconnected, Exit.succeed(conn))
        }
      }
      const server = yield* serve(HangService)
      const clientScope = yield* Scope.make()
      const conn = yield* connect(server).pipe(Scope.extend(clientScope))
      const sconn = yield* onlyConnection(server)
      const pending = yield* Effect.fork(timed(Effect.either(fx(conn.root.hang()))))
      yield* within(Deferred.await(started), "the server method to start")
      assert.strictEqual(conn.pendingCount, 1)

      yield* within(Scope.close(clientScope, Exit.void), "the client scope to close")
      const [result, elapsed] = yield* within(Fiber.join(pending), "the pending call to fail")
      const closed = expectTag(result, "ConnectionClosed")
      assert.strictEqual(closed.reason, "Closed")
      assert.isBelow(elapsed, 3000)
      assert.isTrue(conn.closed)
      assert.strictEqual(conn.pendingCount, 0)

      assert.strictEqual(yield* within(Deferred.await(disconnected), "the server's onDisconnect"), sconn)
      assert.isTrue(sconn.closed)
      yield* eventually(() => server.connections.size === 0, "the server forgot the connection")
      expectTag(yield* Effect.either(fx(conn.root.hang())), "ConnectionClosed")
    })
  })

  liveTest("server handlers still running when the client closes are interrupted", () => {
    return Effect.gen(function*() {
      const started = yield* Deferred.make<void>()
      const interrupted = yield* Deferred.make<void>()
      class WaitService extends Service {
        exposed_wait() {
          return Effect.zipRight(
            Deferred.succeed(started, undefined),
            Effect.onInterrupt(Effect.never, () => Deferred.succeed(interrupted, undefined))
          )
        }
      }
      const server = yield* serve(WaitService)
      const conn = yield* connect(server)
      const pending = yield* Effect.fork(Effect.either(fx(conn.root.wait())))
      yield* within(Deferred.await(started), "the server handler to start")
      yield* conn.close()
      expectTag(yield* within(Fiber.join(pending), "the pending call to fail"), "ConnectionClosed")
      yield* within(Deferred.await(interrupted), "the server handler to be interrupted")
      yield* eventually(() => server.connections.size === 0, "the server forgot the connection")
    })
  })

  liveTest("the CLOSE frame is on the wire (raw server)", () => {
    return Effect.gen(function*() {
      const raw = yield* rawServer()
      const clientScope = yield* Scope.make()
      const conn = yield* Client.connect({ host: "127.0.0.1", port: raw.port, wireVersion: 5 }).pipe(
        Scope.extend(clientScope)
      )
      const peer = yield* raw.accept
      yield* within(Scope.close(clientScope, Exit.void), "the client scope to close")
      assert.isTrue(conn.closed)
      const env = yield* nextEnvelope(peer, 5, "the CLOSE request")
      assert.strictEqual(env.msg, MsgType.REQUEST)
      assert.deepStrictEqual(env.args, [Handler.CLOSE, [Label.VALUE, []]])
      // then the client hangs up
      assert.isTrue(Option.isNone(yield* within(peer.nextPayload, "end of stream")))
    })
  })

  liveTest("conn.close() is idempotent and awaitClose completes", () => {
    return Effect.gen(function*() {
      const server = yield* serve(VoidService)
      const conn = yield* connect(server)
      assert.strictEqual(yield* conn.root.get_service_name(), "VOID")
      yield* Effect.all([conn.close(), conn.close()], { concurrency: "unbounded" })
      yield* conn.close()
      yield* within(conn.awaitClose, "awaitClose")
      assert.isTrue(conn.closed)
      yield* eventually(() => server.connections.size === 0, "the server forgot the connection")
    })
  })
})

// ---------------------------------------------------------------------------------------------
// 8. netrefs

describe("netrefs", () => {
  const publicAttrs: Config.ConfigInput = { allowPublicAttrs: true }

  class Widget {
    name = "widget"
    size = 3
    greet(who: string) {
      return `hello ${who}`
    }
  }

  class ObjService extends Service {
    readonly widget = new Widget()
    readonly list = Connection.byRef([10, 20, 30])
    readonly map = new Map<string, number>([["a", 1], ["b", 2], ["c", 3]])
    exposed_get_widget() {
      return this.widget
    }
    exposed_get_map() {
      return this.map
    }
    exposed_get_list() {
      return this.list
    }
    exposed_get_tuple() {
      return [10, 20, 30]
    }
    exposed_widget_twice() {
      return [this.widget, this.widget]
    }
    async exposed_call(cb: RemoteOp.Remote, x: unknown) {
      return await cb(x)
    }
    exposed_call_fx(cb: RemoteOp.Remote, x: unknown) {
      return cb(x)
    }
    async exposed_call_and_release(cb: RemoteOp.Remote, x: unknown) {
      const result = await cb(x)
      Netref.release(cb as unknown as Netref.Netref)
      return result
    }
    exposed_is_same(a: unknown, b: unknown) {
      return a === b
    }
  }

  liveTest("attributes and methods of a remote object (allowPublicAttrs)", () => {
    return Effect.gen(function*() {
      const server = yield* serve(ObjService, { protocolConfig: publicAttrs })
      const conn = yield* connect(server)
      const widget = yield* conn.root.get_widget()
      assert.isTrue(Netref.isNetref(widget))
      assert.strictEqual(yield* widget.name, "widget")
      assert.strictEqual(yield* widget.size, 3)
      assert.strictEqual(yield* widget.greet("bob"), "hello bob")
      const missing = expectTag(yield* Effect.either(fx(widget.nope)), "RemoteError")
      assert.strictEqual(missing.name, "AttributeError")
      // the netref goes back to the server as the object itself
      assert.isTrue(yield* conn.root.is_same(widget, widget))
      assert.isTrue(yield* conn.root.is_same(widget, yield* conn.root.get_widget()))
      // chained without awaiting
      assert.strictEqual(yield* conn.root.get_widget().greet("amy"), "hello amy")
    })
  })

  liveTest("public attributes are denied by the default policy", () => {
    return Effect.gen(function*() {
      const server = yield* serve(ObjService)
      const conn = yield* connect(server)
      const widget = yield* conn.root.get_widget()
      const denied = expectTag(yield* Effect.either(fx(widget.name)), "RemoteError")
      assert.strictEqual(denied.name, "AttributeError")
      assert.include(denied.message, "cannot access 'name'")
    })
  })

  liveTest("for await over a remote Map and a byRef array; tuples come by value", () => {
    return Effect.gen(function*() {
      const server = yield* serve(ObjService, { protocolConfig: publicAttrs })
      const conn = yield* connect(server)
      const map = yield* conn.root.get_map()
      const list = yield* conn.root.get_list()
      assert.isTrue(Netref.isNetref(map))
      assert.isTrue(Netref.isNetref(list))
      const collect = (ref: AsyncIterable<unknown>) =>
        Effect.promise(async () => {
          const out: Array<unknown> = []
          for await (const x of ref) out.push(x)
          return out
        })
      assert.deepStrictEqual(yield* collect(map), ["a", "b", "c"])
      assert.deepStrictEqual(yield* collect(list), [10, 20, 30])
      assert.strictEqual(yield* map.get("b"), 2)
      assert.strictEqual(yield* Operations.len(map), 3)
      yield* list.append(40)
      assert.deepStrictEqual(yield* collect(list), [10, 20, 30, 40])
      // for await straight over the operation, without awaiting it first
      assert.deepStrictEqual(yield* collect(conn.root.get_map() as unknown as AsyncIterable<unknown>), ["a", "b", "c"])
      const tuple = yield* conn.root.get_tuple()
      assert.isFalse(Netref.isNetref(tuple))
      assert.deepStrictEqual(tuple, [10, 20, 30])
      assert.strictEqual(conn.pendingCount, 0)
    })
  })

  liveTest("a resolved netref is not thenable: resolving it sends nothing", () => {
    const seen: Array<string> = []
    class Spy {
      _rpyc_getattr(name: string) {
        seen.push(name)
        return name === "value" ? 42 : null
      }
    }
    class SpyService extends Service {
      readonly spy = new Spy()
      exposed_get_spy() {
        return this.spy
      }
    }
    return Effect.gen(function*() {
      const server = yield* serve(SpyService)
      const conn = yield* connect(server)
      const spy = yield* conn.root.get_spy()
      assert.isUndefined((spy as { then?: unknown }).then)
      const resolved = yield* Effect.promise(() => Promise.resolve(spy))
      assert.strictEqual(resolved, spy)
      const fromAsync = yield* Effect.promise(async () => spy)
      assert.strictEqual(fromAsync, spy)
      // awaiting the operation itself resolves to the same netref, again without a GETATTR "then"
      const awaited = yield* Effect.promise(async () => await conn.root.get_spy())
      assert.strictEqual(awaited, spy)
      assert.strictEqual(conn.pendingCount, 0)
      assert.deepStrictEqual(seen, [])
      assert.strictEqual(yield* spy.value, 42)
      assert.deepStrictEqual(seen, ["value"])
    })
  })

  liveTest("releasing a netref (Netref.release / Symbol.dispose) frees the server's object", () => {
    return Effect.gen(function*() {
      const server = yield* serve(ObjService, { protocolConfig: publicAttrs })
      const conn = yield* connect(server)
      yield* conn.root
      const sconn = yield* onlyConnection(server)
      const baseline = sconn.localObjectCount
      assert.strictEqual(baseline, 1, "only the root is held by the client")

      // Netref.release
      const widget = yield* conn.root.get_widget()
      assert.strictEqual(sconn.localObjectCount, baseline + 1)
      const netrefs = conn.netrefCount
      Netref.release(widget)
      Netref.release(widget) // twice: no effect
      yield* eventually(() => sconn.localObjectCount === baseline, "the server dropped the widget")
      assert.strictEqual(conn.netrefCount, netrefs - 1)
      const released = expectTag(yield* Effect.either(fx(widget.name)), "ProtocolError")
      assert.strictEqual(released.reason, "Encode")

      // received twice: one netref, refcount 2, one DEL of 2 frees it
      const [w1, w2] = yield* conn.root.widget_twice()
      assert.strictEqual(w1, w2)
      const w3 = yield* conn.root.get_widget()
      assert.strictEqual(w3, w1)
      assert.strictEqual(sconn.localObjectCount, baseline + 1)
      Netref.release(w1)
      yield* eventually(() => sconn.localObjectCount === baseline, "the server dropped the widget (refcount 3)")

      // `using`
      {
        using map = yield* conn.root.get_map()
        assert.strictEqual(yield* Operations.len(map), 3)
        assert.strictEqual(sconn.localObjectCount, baseline + 1)
      }
      yield* eventually(() => sconn.localObjectCount === baseline, "the server dropped the map")

      // Symbol.dispose by hand
      const list = yield* conn.root.get_list()
      assert.strictEqual(sconn.localObjectCount, baseline + 1)
      ;(list as unknown as Disposable)[Symbol.dispose]()
      yield* eventually(() => sconn.localObjectCount === baseline, "the server dropped the list")
      // a fresh reference after a release works
      const fresh = yield* conn.root.get_widget()
      assert.strictEqual(yield* fresh.name, "widget")
      assert.strictEqual(conn.pendingCount, 0)
    })
  })

  liveTest("a JS function passed as an argument is called by the server", () => {
    return Effect.gen(function*() {
      const server = yield* serve(ObjService)
      const conn = yield* connect(server)
      const calls: Array<unknown> = []
      const triple = (x: number) => {
        calls.push(x)
        return x * 3
      }
      assert.strictEqual(yield* conn.root.call(triple, 7), 21)
      assert.strictEqual(yield* conn.root.call_fx(triple, 8), 24)
      assert.strictEqual(yield* conn.root.call(async (s: string) => s.toUpperCase(), "abc"), "ABC")
      assert.strictEqual(yield* conn.root.call((x: number) => Effect.succeed(x + 1), 1), 2)
      assert.deepStrictEqual(calls, [7, 8])
      // a callback that throws: the server sees a RemoteError, which it passes back
      const failed = expectTag(
        yield* Effect.either(fx(conn.root.call(() => {
          throw new TypeError("nope")
        }, 0))),
        "RemoteError"
      )
      assert.include(failed.message, "nope")

      // the server releases its reference: the client's table shrinks back
      const baseline = conn.localObjectCount
      const f = (x: number) => x - 1
      assert.strictEqual(yield* conn.root.call_and_release(f, 10), 9)
      yield* eventually(() => conn.localObjectCount <= baseline, "the client dropped the callback")
    })
  })
})

// ---------------------------------------------------------------------------------------------
// 9. GETROOT once

/**
 * A scripted RPyC server on a raw socket: answers GETROOT with a fake root, CALLATTR with the
 * method name, PING with its data and anything else with None; counts the requests by handler.
 */
const fakeServer = Effect.gen(function*() {
  const raw = yield* rawServer()
  const counts = new Map<number, number>()
  const ROOT: Message.IdPack = ["__main__.FakeService", 7, 8]
  const serveOne = (peer: RawPeer) =>
    Effect.gen(function*() {
      while (true) {
        const p = yield* peer.nextPayload
        if (Option.isNone(p)) return
        const env = decode5(p.value)
        if (env.msg !== MsgType.REQUEST) continue
        const [handler, box] = env.args as [number, [number, Array<unknown>]]
        counts.set(handler, (counts.get(handler) ?? 0) + 1)
        if (handler === Handler.CLOSE) return
        const reply = handler === Handler.GETROOT
          ? [Label.REMOTE_REF, ROOT]
          : handler === Handler.CALLATTR
          ? [Label.VALUE, (box[1][1] as [number, string])[1]]
          : handler === Handler.PING
          ? [Label.VALUE, (box[1][0] as [number, unknown])[1]]
          : [Label.VALUE, null]
        yield* peer.write(Buffer.from(replyFrame(env.seq, reply)))
      }
    })
  yield* Effect.forever(Effect.flatMap(raw.accept, (peer) => Effect.fork(serveOne(peer)))).pipe(Effect.forkScoped)
  return { port: raw.port, count: (handler: number) => counts.get(handler) ?? 0 }
})

const replyFrame = (seq: number, box: unknown) => rawFrame(Message.encodePayload(5, MsgType.REPLY, seq, box))

describe("GETROOT", () => {
  liveTest("conn.root twice gives the identical netref", () => {
    return Effect.gen(function*() {
      const server = yield* serve(VoidService)
      const conn = yield* connect(server)
      const r1 = yield* conn.root
      const r2 = yield* conn.root
      assert.strictEqual(r1, r2)
      assert.isTrue(Netref.isNetref(r1))
    })
  })

  liveTest("is sent once per connection (sequential use, counted on the wire)", () => {
    return Effect.gen(function*() {
      const fake = yield* fakeServer
      const conn = yield* Client.connect({ host: "127.0.0.1", port: fake.port, wireVersion: 5 })
      yield* conn.root
      yield* conn.root
      assert.strictEqual(yield* conn.root.whoami(), "whoami")
      assert.strictEqual(yield* conn.root.again(), "again")
      assert.strictEqual(fake.count(Handler.GETROOT), 1)
      assert.strictEqual(fake.count(Handler.CALLATTR), 2)
    })
  })

  // concurrent first uses share the one GETROOT in flight
  liveTest("is sent once per connection even when first used by concurrent calls", () => {
    return Effect.gen(function*() {
      const fake = yield* fakeServer
      const conn = yield* Client.connect({ host: "127.0.0.1", port: fake.port, wireVersion: 5 })
      const names = Array.from({ length: 10 }, (_, i) => `m${i}`)
      const results = yield* Effect.all(names.map((n) => fx(conn.root[n]())), { concurrency: "unbounded" })
      assert.deepStrictEqual(results, names)
      assert.strictEqual(fake.count(Handler.GETROOT), 1, `GETROOT sent ${fake.count(Handler.GETROOT)} times`)
    })
  })
})

// ---------------------------------------------------------------------------------------------
// 10. both dialects

describe("wire dialects", () => {
  class DialectService extends Service {
    exposed_add(a: number, b: number) {
      return a + b
    }
    exposed_echo(x: unknown) {
      return x
    }
    async exposed_apply(cb: RemoteOp.Remote, x: unknown) {
      return await cb(x)
    }
  }

  const rootRequests = (version: Message.WireVersion, peer: RawPeer) =>
    Effect.gen(function*() {
      yield* peer.write(requestFrame(version, 0, Handler.GETROOT, [Label.VALUE, []]))
      const p = yield* within(peer.nextPayload, "the GETROOT reply")
      if (Option.isNone(p)) return assert.fail("closed")
      assert.strictEqual(p.value[0], version === 5 ? 0x12 : MsgType.REPLY, "first payload byte")
      const reply = decode(version, p.value)
      assert.strictEqual(reply.msg, MsgType.REPLY)
      assert.strictEqual(reply.seq, 0)
      const [label, idPack] = reply.args as [number, Message.IdPack]
      assert.strictEqual(label, Label.REMOTE_REF)
      assert.isString(idPack[0])
      // CALLATTR root.add(2, 3) with the root sent back as "your object"
      yield* peer.write(
        requestFrame(version, 1, Handler.CALLATTR, [Label.TUPLE, [
          [Label.LOCAL_REF, idPack],
          [Label.VALUE, "add"],
          [Label.VALUE, [2, 3]],
          [Label.VALUE, []]
        ]])
      )
      const sum = yield* nextEnvelope(peer, version, "the CALLATTR reply")
      assert.deepStrictEqual([sum.msg, sum.seq, sum.args], [MsgType.REPLY, 1, [Label.VALUE, 5]])
      // PING
      yield* peer.write(requestFrame(version, 2, Handler.PING, [Label.VALUE, ["abc"]]))
      const pong = yield* nextEnvelope(peer, version, "the PING reply")
      assert.deepStrictEqual([pong.msg, pong.seq, pong.args], [MsgType.REPLY, 2, [Label.VALUE, "abc"]])
      // an unknown handler is an exception reply, not fatal
      yield* peer.write(requestFrame(version, 3, 99, [Label.VALUE, []]))
      const exc = yield* nextEnvelope(peer, version, "the exception reply")
      assert.strictEqual(exc.msg, MsgType.EXCEPTION)
      assert.strictEqual(exc.seq, 3)
      assert.isFalse(peer.isClosed())
    })

  for (const version of [5, 6] as const) {
    liveTest(`a raw v${version} peer gets v${version} replies (auto-detect)`, () => {
      return Effect.gen(function*() {
        const server = yield* serve(DialectService)
        const raw = yield* connectRaw(server.port!)
        yield* rootRequests(version, raw)
        const sconn = yield* onlyConnection(server)
        assert.strictEqual(sconn.wireVersion, version)
      })
    })
  }

  liveTest("the 6.x protocol vector for GETROOT is understood", () => {
    return Effect.gen(function*() {
      const server = yield* serve(DialectService)
      const raw = yield* connectRaw(server.port!)
      yield* raw.write(Buffer.from("000000080001115011531151020a", "hex"))
      const reply = yield* nextEnvelope(raw, 6, "the GETROOT reply")
      assert.strictEqual(reply.msg, MsgType.REPLY)
      assert.strictEqual((reply.args as [number, unknown])[0], Label.REMOTE_REF)
    })
  })

  liveTest("switching dialect mid-connection is a protocol error", (logs) => {
    return Effect.gen(function*() {
      const server = yield* serve(DialectService)
      const raw = yield* connectRaw(server.port!)
      yield* raw.write(requestFrame(6, 0, Handler.PING, [Label.VALUE, ["v6"]]))
      yield* nextEnvelope(raw, 6, "the v6 PING reply")
      yield* raw.write(requestFrame(5, 1, Handler.PING, [Label.VALUE, ["v5"]]))
      yield* within(raw.closed, "the server to close the socket")
      assert.strictEqual(raw.received.length, 1)
      yield* eventually(() => logs.protocolErrors().length > 0, "a ProtocolError is logged")
    })
  })

  for (const wireVersion of [5, 6, "auto"] as const) {
    liveTest(`Client.connect({ wireVersion: ${JSON.stringify(wireVersion)} }) against our server`, () => {
      return Effect.gen(function*() {
        const server = yield* serve(DialectService)
        const conn = yield* connect(server, { wireVersion })
        assert.strictEqual(yield* conn.root.add(20, 22), 42)
        const expected = wireVersion === "auto" ? 6 : wireVersion
        assert.strictEqual(conn.wireVersion, expected)
        // the probe's throw-away connection (auto) is gone; the real one speaks the same dialect
        yield* eventually(() => server.connections.size === 1, "one server connection")
        const sconn = [...server.connections][0]!
        assert.strictEqual(sconn.wireVersion, expected)
        // callbacks (server → client requests) in that dialect
        assert.strictEqual(yield* conn.root.apply((x: number) => x * 2, 21), 42)
        // payloads over 3000 bytes (sent as compressed frames) round-trip both ways
        const big = "y".repeat(5000)
        assert.strictEqual(yield* conn.root.echo(big), big)
        assert.strictEqual(yield* conn.root.apply((s: string) => s + s, big), big + big)
      })
    })
  }

  // PROTOCOL.md §10.3: an accepting side that must send first waits for the peer's first
  // frame to learn its dialect (a v6 client of ours speaks first for this reason)
  for (const wireVersion of [5, 6] as const) {
    liveTest(`a server whose onConnect calls the v${wireVersion} client before it spoke`, () =>
      Effect.gen(function*() {
        const name = yield* Deferred.make<string, unknown>()
        class EagerService extends Service {
          override async onConnect(conn: Connection.Connection) {
            try {
              Deferred.unsafeDone(name, Exit.succeed(await conn.root.get_service_name()))
            } catch (e) {
              Deferred.unsafeDone(name, Exit.fail(e))
            }
          }
        }
        class ClientSideService extends Service {}
        const server = yield* serve(EagerService)
        const conn = yield* connect(server, { wireVersion, service: ClientSideService })
        assert.strictEqual(yield* within(Deferred.await(name), "the server's onConnect call"), "CLIENTSIDE")
        assert.strictEqual(yield* conn.root.get_service_name(), "EAGER")
        assert.strictEqual(conn.wireVersion, wireVersion)
      }))
  }

  liveTest(`Client.connect({ wireVersion: "auto" }) against a 5.x-only peer picks v5`, () => {
    return Effect.gen(function*() {
      const raw = yield* rawServer()
      // the probe: a 5.x peer cannot parse the v6 PING, answers with a v5 CLOSE and hangs up
      const probe = yield* Effect.fork(Effect.gen(function*() {
        const peer = yield* raw.accept
        const p = yield* peer.nextPayload
        assert.isTrue(Option.isSome(p))
        assert.strictEqual(Option.getOrThrow(p)[0], 0x01, "the probe speaks v6")
        yield* peer.write(requestFrame(5, 0, Handler.CLOSE, [Label.VALUE, []]))
        peer.socket.end()
      }))
      const conn = yield* Client.connect({ host: "127.0.0.1", port: raw.port, wireVersion: "auto" })
      yield* Fiber.join(probe)
      assert.strictEqual(conn.wireVersion, 5)
      const peer = yield* raw.accept
      const pending = yield* Effect.fork(conn.request(Handler.PING, ["hello"]))
      const p = yield* within(peer.nextPayload, "the real connection's first frame")
      assert.strictEqual(Option.getOrThrow(p)[0], 0x12, "v5 on the real connection")
      const env = decode5(Option.getOrThrow(p))
      yield* peer.write(replyFrame(env.seq, [Label.VALUE, "hello"]))
      assert.strictEqual(yield* Fiber.join(pending), "hello")
    })
  })
})

// ---------------------------------------------------------------------------------------------
// in-memory pair sanity (also used by the TestClock test above)

describe("in-memory connection pair", () => {
  clockTest("nested callbacks and close, without sockets or real time", () => {
    class Calc extends Service {
      async exposed_twice(cb: RemoteOp.Remote, x: number) {
        return (await cb(x)) + (await cb(x))
      }
    }
    return Effect.gen(function*() {
      const [a, b] = yield* memorySocketPair()
      const disconnected = yield* Deferred.make<void>()
      const server = yield* Connection.make(b, {
        root: new Calc(),
        onDisconnect: () => Deferred.unsafeDone(disconnected, Exit.void)
      })
      const clientScope = yield* Scope.make()
      const conn = yield* Services.makeConnection(a, VoidService, { wireVersion: 6 }).pipe(Scope.extend(clientScope))
      assert.strictEqual(yield* conn.root.twice((x: number) => x * 5, 2), 20)
      assert.strictEqual(server.wireVersion, 6)
      yield* Scope.close(clientScope, Exit.void)
      yield* Deferred.await(disconnected)
      assert.isTrue(server.closed)
    })
  })
})
