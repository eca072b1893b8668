/**
 * AsyncResult, async_, timed, withTimeout and per-connection timeouts against a TS peer over an
 * in-memory pair: deterministic, and every timer is driven by the TestClock.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Queue from "effect/Queue"
import * as TestClock from "effect/TestClock"
import { async_, AsyncResult, ExpiredError, isAsyncFunction, timed, withTimeout } from "../../src/async/Async.js"
import { ConnectionClosed, RemoteError, RequestTimeout } from "../../src/internal/base/Errors.js"
import { kwargs } from "../../src/internal/netref/RemoteOp.js"
import * as Service from "../../src/service/Service.js"
import * as Pair from "../../src/transport/Pair.js"
import { remote } from "../support/Peers.js"
import { AsyncTestService, pair } from "./support.js"

const setup = Effect.gen(function*() {
  const service = new AsyncTestService()
  const { client, server } = yield* pair(service)
  return { service, client, server }
})

describe("async_ (TS peer, TestClock)", () => {
  it.scoped("sends the CALL at once and resolves value; ready/error/expired", () =>
    Effect.gen(function*() {
      const { client, service } = yield* setup
      const echo = yield* remote(client.root.echo)
      const aecho = async_(echo)
      assert.isTrue(isAsyncFunction(aecho))
      assert.strictEqual(aecho.proxy, echo)
      const before = client.pendingCount
      const res = aecho(5)
      assert.instanceOf(res, AsyncResult)
      // the request is on its way before anyone waits
      assert.strictEqual(client.pendingCount, before + 1)
      assert.isFalse(res.ready)
      assert.isFalse(res.error)
      assert.isFalse(res.expired)
      assert.isUndefined(res.exit)
      assert.match(String(res), /pending/)
      assert.strictEqual(yield* res.value, 5)
      assert.isTrue(res.ready)
      assert.isFalse(res.error)
      assert.isFalse(res.expired)
      assert.deepStrictEqual(res.exit, Exit.succeed(5))
      assert.match(String(res), /ready/)
      assert.strictEqual(service.calls, 1)
      // value can be read again, and awaited as a Promise
      assert.strictEqual(yield* res.value, 5)
      assert.strictEqual(yield* Effect.promise(() => res.value.then((v) => v)), 5)
    }))

  it.scoped("an AsyncResult is not thenable and not an Effect (Effect note E9)", () =>
    Effect.gen(function*() {
      const { client } = yield* setup
      const res = async_(yield* remote(client.root.echo))("x")
      assert.isUndefined((res as unknown as { then?: unknown }).then)
      assert.isFalse(Effect.isEffect(res))
      // returning it from an async function hands over the object itself
      const same = yield* Effect.promise(async () => res)
      assert.strictEqual(same, res)
      assert.strictEqual(yield* res.value, "x")
    }))

  it.scoped("async sleep: ready is false, then true once the reply arrived (TestClock)", () =>
    Effect.gen(function*() {
      const { client, service } = yield* setup
      const asleep = async_(yield* remote(client.root.sleep))
      const res = asleep(15)
      assert.strictEqual(yield* Queue.take(service.started), "sleep 15")
      assert.isFalse(res.ready)
      yield* TestClock.adjust("14 seconds")
      assert.isFalse(res.ready)
      yield* TestClock.adjust("1 second")
      yield* res.wait()
      assert.isTrue(res.ready)
      assert.isFalse(res.error)
      assert.isNull(yield* res.value)
    }))

  it.scoped("async int: \"8\" gives 8; an invalid literal gives error and the ValueError", () =>
    Effect.gen(function*() {
      const { client } = yield* setup
      const aint = async_(yield* remote(client.root.int))
      const x = aint("8")
      yield* x.wait()
      assert.isTrue(x.ready)
      assert.isFalse(x.error)
      assert.strictEqual(yield* x.value, 8)

      const y = aint("this is not a valid number")
      yield* y.wait() // waiting succeeds: the reply arrived, it is an error
      assert.isTrue(y.ready)
      assert.isTrue(y.error)
      assert.isFalse(y.expired)
      const error = yield* Effect.flip(y.value)
      assert.instanceOf(error, RemoteError)
      assert.strictEqual((error as RemoteError).name, "ValueError")
      assert.include(
        (error as RemoteError).message,
        "invalid literal for int() with base 10: 'this is not a valid number'"
      )
      // awaiting rejects with the typed error itself
      const rejected = yield* Effect.promise(() => y.value.then(() => undefined, (e: unknown) => e))
      assert.instanceOf(rejected, RemoteError)
    }))

  it.scoped("keyword arguments go last, as kwargs({...})", () =>
    Effect.gen(function*() {
      const { client } = yield* setup
      // a JS callee receives keyword arguments as a trailing object
      const describeArgs = async_(yield* remote(client.root.describe_args))
      const res = describeArgs(1, "two", kwargs({ a: 1, b: [2] }))
      assert.strictEqual(yield* res.value, "[1,\"two\",{\"a\":1,\"b\":[2]}]")
    }))
})

describe("addCallback", () => {
  it.scoped("is called once when the reply arrives, and at once if it already has", () =>
    Effect.gen(function*() {
      const { client, service } = yield* setup
      const hold = async_(yield* remote(client.root.hold))
      const res = hold("h")
      yield* Queue.take(service.started)
      const seen: Array<string> = []
      res.addCallback((r) => {
        assert.strictEqual(r, res)
        assert.isTrue(r.ready)
        seen.push(`first ${Exit.isSuccess(r.exit!) ? r.exit.value : "?"}`)
      })
      res.addCallback(() => {
        throw new Error("a failing callback is logged, the others still run")
      })
      res.addCallback(() => seen.push("second"))
      assert.deepStrictEqual(seen, [])
      service.release()
      yield* res.wait()
      assert.deepStrictEqual(seen, ["first h", "second"])
      // already ready: called at once, synchronously
      res.addCallback(() => seen.push("late"))
      assert.deepStrictEqual(seen, ["first h", "second", "late"])
    }))

  it.scoped("is called for an error reply too (error is true inside)", () =>
    Effect.gen(function*() {
      const { client } = yield* setup
      const res = async_(yield* remote(client.root.int))("nope")
      const errors: Array<boolean> = []
      res.addCallback((r) => errors.push(r.error))
      yield* res.wait()
      assert.deepStrictEqual(errors, [true])
    }))
})

describe("setExpiry (Effect.timeout on the connection's Clock)", () => {
  it.scoped("expires at the given time; the late reply is dropped; callbacks do not run", () =>
    Effect.gen(function*() {
      const { client, service } = yield* setup
      const hold = async_(yield* remote(client.root.hold))
      const res = hold("late")
      const called: Array<unknown> = []
      res.addCallback((r) => called.push(r))
      assert.strictEqual(res.setExpiry(5), res)
      yield* Queue.take(service.started)
      yield* TestClock.adjust("4 seconds")
      assert.isFalse(res.expired)
      assert.isFalse(res.ready)
      yield* TestClock.adjust("1 second")
      const waited = yield* Effect.flip(res.wait())
      assert.instanceOf(waited, ExpiredError)
      assert.strictEqual(waited.reason, "SetExpiry")
      assert.strictEqual(waited.seconds, 5)
      assert.isTrue(res.expired)
      assert.isFalse(res.ready)
      assert.isFalse(res.error)
      assert.match(String(res), /expired/)
      const failure = yield* Effect.flip(res.value)
      assert.instanceOf(failure, ExpiredError)
      assert.include(failure.message, "result expired")

      // the reply comes after all: dropped
      assert.strictEqual(service.release(), 1)
      assert.strictEqual(yield* remote(client.root.echo("after")), "after") // the late reply came before this one
      assert.strictEqual(client.pendingCount, 0)
      assert.isTrue(res.expired)
      assert.isFalse(res.ready)
      assert.instanceOf(yield* Effect.flip(res.value), ExpiredError)
      assert.deepStrictEqual(called, [])
      // and a ready/expired result ignores further completion and expiry
      assert.isFalse(res.complete(Exit.succeed("again")))
      res.setExpiry(null)
      assert.isTrue(res.expired)
    }))

  it.scoped("a reply before the expiry wins; the expiry then does nothing", () =>
    Effect.gen(function*() {
      const { client, service } = yield* setup
      const res = async_(yield* remote(client.root.hold))(1).setExpiry(10)
      yield* Queue.take(service.started)
      yield* TestClock.adjust("3 seconds")
      service.release()
      assert.strictEqual(yield* res.value, 1)
      yield* TestClock.adjust("10 seconds")
      assert.isTrue(res.ready)
      assert.isFalse(res.expired)
      assert.strictEqual(yield* res.value, 1)
    }))

  it.scoped("setting it again replaces the expiry; null removes it; 0 expires at once", () =>
    Effect.gen(function*() {
      const { client, service } = yield* setup
      const hold = async_(yield* remote(client.root.hold))
      const a = hold("a").setExpiry(2)
      const b = hold("b").setExpiry(2)
      yield* Queue.take(service.started)
      yield* Queue.take(service.started)
      yield* TestClock.adjust("1 second")
      a.setExpiry(5) // from now: expires at t = 6
      b.setExpiry(null)
      yield* TestClock.adjust("2 seconds") // t = 3
      assert.isFalse(a.expired)
      assert.isFalse(b.expired)
      yield* TestClock.adjust("3 seconds") // t = 6
      assert.instanceOf(yield* Effect.flip(a.wait()), ExpiredError)
      yield* TestClock.adjust("10 seconds")
      assert.isFalse(b.expired)
      const c = hold("c").setExpiry(0)
      assert.isTrue(c.expired)
      assert.instanceOf(yield* Effect.flip(c.value), ExpiredError)
      service.release()
      assert.strictEqual(yield* b.value, "b")
    }))

  it.scoped("timed(fn, seconds) gives every call that expiry", () =>
    Effect.gen(function*() {
      const { client, service } = yield* setup
      const tsleep = timed(yield* remote(client.root.sleep), 6)
      assert.isTrue(isAsyncFunction(tsleep))
      const ok = tsleep(4)
      const late = tsleep(8)
      yield* Queue.take(service.started)
      yield* Queue.take(service.started)
      yield* TestClock.adjust("4 seconds")
      yield* ok.wait()
      assert.isTrue(ok.ready)
      yield* TestClock.adjust("2 seconds")
      assert.instanceOf(yield* Effect.flip(late.value), ExpiredError)
      assert.isTrue(late.expired)
      yield* TestClock.adjust("2 seconds") // the server's sleep(8) ends: its reply is dropped
      assert.strictEqual(yield* remote(client.root.echo(1)), 1)
      assert.isTrue(late.expired)
      assert.isFalse(late.ready)
    }))
})

describe("inputs", () => {
  it.scoped("a remote operation is resolved first; calls return AsyncResults at once and are sent in order", () =>
    Effect.gen(function*() {
      const { client, service } = yield* setup
      const aecho = async_(client.root.echo) // an unresolved chain
      const results = [aecho(1), aecho(2), aecho(3)]
      for (const r of results) assert.instanceOf(r, AsyncResult)
      assert.deepStrictEqual(yield* Effect.forEach(results, (r) => r.value), [1, 2, 3])
      assert.strictEqual(service.calls, 3)
      // once resolved, calls are sent at once
      const before = client.pendingCount
      const more = aecho(4)
      assert.strictEqual(client.pendingCount, before + 1)
      assert.strictEqual(yield* more.value, 4)
      // a timed remote operation: the expiry set before it resolved still holds
      const th = timed(client.root.hold, 3)
      const r = th("x")
      yield* Queue.take(service.started)
      yield* TestClock.adjust("3 seconds")
      assert.instanceOf(yield* Effect.flip(r.value), ExpiredError)
      service.release()
    }))

  it.scoped("arguments that are remote operations are resolved before the call is sent", () =>
    Effect.gen(function*() {
      const { client } = yield* setup
      const aecho = async_(yield* remote(client.root.echo))
      assert.strictEqual(yield* aecho(client.root.answer).value, 42)
      const describeArgs = async_(client.root.describe_args)
      assert.strictEqual(
        yield* describeArgs(client.root.answer, kwargs({ k: client.root.echo("v") })).value,
        "[42,{\"k\":\"v\"}]"
      )
      const failed = aecho(client.root.missing)
      assert.instanceOf(yield* Effect.flip(failed.value), RemoteError)
      assert.strictEqual(yield* withTimeout(client.root.echo, 1)(client.root.answer), 42)
    }))

  it.scoped("a remote operation that fails to resolve fails its results", () =>
    Effect.gen(function*() {
      const { client } = yield* setup
      const res = async_(client.root.no_such_method)(1)
      const error = yield* Effect.flip(res.value)
      assert.instanceOf(error, RemoteError)
      assert.strictEqual((error as RemoteError).name, "AttributeError")
      assert.isTrue(res.error)
    }))

  it.scoped("a remote operation that resolves to a local value fails its results with a TypeError", () =>
    Effect.gen(function*() {
      const { client } = yield* setup
      const res = async_(client.root.answer)() // resolves to 42, not a netref
      const exit = yield* Effect.exit(res.value)
      assert.isTrue(Exit.isFailure(exit) && Cause.isDie(exit.cause))
      const defect = Exit.isFailure(exit) ? Cause.squash(exit.cause) : undefined
      assert.instanceOf(defect, TypeError)
      assert.include((defect as TypeError).message, "needs a remote callable")
      assert.isTrue(res.error)
      const rejected = yield* Effect.promise(() => res.value.then(() => undefined, (e: unknown) => e))
      assert.instanceOf(rejected, TypeError)
    }))

  it("anything else is a TypeError at once", () => {
    for (const bad of [() => 1, function named() {}, 5, "f", null, undefined, {}, [1]]) {
      assert.throws(() => async_(bad), TypeError, /async_\(\) needs a remote callable/)
      assert.throws(() => timed(bad, 1), TypeError, /timed\(\) needs a remote callable/)
      assert.throws(() => withTimeout(bad, 1), TypeError, /withTimeout\(\) needs a remote callable/)
    }
    assert.throws(() => async_(() => 1), /got a local function/)
    assert.throws(() => async_(5), /got a number \(5\)/)
  })
})

describe("connection closing", () => {
  it.scoped("a pending result fails with ConnectionClosed; a call on a closed connection fails at once", () =>
    Effect.gen(function*() {
      const { client, service } = yield* setup
      const hold = async_(yield* remote(client.root.hold))
      const res = hold(1)
      yield* Queue.take(service.started)
      yield* client.close()
      assert.isTrue(res.ready)
      assert.isTrue(res.error)
      assert.instanceOf(yield* Effect.flip(res.value), ConnectionClosed)
      const after = hold(2)
      assert.isTrue(after.ready)
      assert.instanceOf(yield* Effect.flip(after.value), ConnectionClosed)
    }))
})

describe("synchronous timeouts", () => {
  it.scoped("per-connection syncRequestTimeout: RequestTimeout, and the late reply is dropped", () =>
    Effect.gen(function*() {
      const { client, service } = yield* setup
      client.config.syncRequestTimeout = 1
      const fiber = yield* Effect.fork(remote(client.root.hold("slow")))
      yield* Queue.take(service.started)
      yield* TestClock.adjust("900 millis")
      assert.isNull(fiber.unsafePoll())
      yield* TestClock.adjust("1 second")
      const error = yield* Effect.flip(Fiber.join(fiber))
      assert.instanceOf(error, RequestTimeout)
      assert.strictEqual((error as RequestTimeout).handler, "CALLATTR")
      assert.strictEqual(client.pendingCount, 0)
      service.release()
      // the next call gets its own reply, not the stale one
      assert.strictEqual(yield* remote(client.root.echo("fresh")), "fresh")
      assert.strictEqual(client.pendingCount, 0)
    }))

  it.scoped("a connection made with config { syncRequestTimeout } uses it", () =>
    Effect.gen(function*() {
      const service = new AsyncTestService()
      const { client } = yield* pair(service, { clientConfig: { syncRequestTimeout: 2 } })
      assert.strictEqual(client.config.syncRequestTimeout, 2)
      const fiber = yield* Effect.fork(remote(client.root.sleep(3)))
      yield* Queue.take(service.started)
      yield* TestClock.adjust("2500 millis")
      assert.instanceOf(yield* Effect.flip(Fiber.join(fiber)), RequestTimeout)
    }))

  it.scoped("withTimeout(fn, seconds): a per-call timeout overriding the connection's", () =>
    Effect.gen(function*() {
      const { client, service } = yield* setup
      assert.strictEqual(client.config.syncRequestTimeout, 30)
      const sleep = withTimeout(client.root.sleep, 0.5)
      const fiber = yield* Effect.fork(sleep(2))
      yield* Queue.take(service.started)
      yield* TestClock.adjust("1 second")
      const error = yield* Effect.flip(Fiber.join(fiber))
      assert.instanceOf(error, RequestTimeout)
      assert.strictEqual((error as RequestTimeout).timeoutMillis, 500)
      // in time
      const quick = withTimeout(yield* remote(client.root.echo), 0.5)
      assert.strictEqual(yield* quick("ok"), "ok")
      // null waits forever, whatever the connection says
      client.config.syncRequestTimeout = 1
      const forever = yield* Effect.fork(withTimeout(client.root.sleep, null)(10))
      yield* Queue.take(service.started)
      yield* TestClock.adjust("9 seconds")
      assert.isNull(forever.unsafePoll())
      yield* TestClock.adjust("1 second")
      assert.isNull(yield* Fiber.join(forever))
    }))

  it.scoped("conn.ping(): echoes the default and a given payload; RequestTimeout from a silent peer; ConnectionClosed", () =>
    Effect.gen(function*() {
      const { client } = yield* setup
      yield* client.ping()
      yield* client.ping("hello", "1 second")
      // a peer that reads nothing and never answers: the ping's own timeout applies (TestClock)
      const [, silent] = yield* Pair.make()
      const lonely = yield* Service.makeConnection(silent, Service.VoidService, { wireVersion: 5 })
      const fiber = yield* Effect.fork(lonely.ping("anyone?", "2 seconds"))
      yield* TestClock.adjust("1 second")
      assert.isNull(fiber.unsafePoll())
      yield* TestClock.adjust("2 seconds")
      const timeout = yield* Effect.flip(Fiber.join(fiber))
      assert.instanceOf(timeout, RequestTimeout)
      assert.strictEqual((timeout as RequestTimeout).handler, "PING")
      // a closed peer
      const { client: orphan, server } = yield* pair(new AsyncTestService())
      yield* server.close()
      assert.instanceOf(yield* Effect.flip(orphan.ping("x", "1 second")), ConnectionClosed)
    }))
})
