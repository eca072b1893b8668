/**
 * Helpers of the async tests: in-memory connection pairs (deterministic, TestClock-friendly) and the
 * test service. Child processes and peers (Python `rpyc_classic`, example scripts) are test/support's.
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Queue from "effect/Queue"
import type * as Scope from "effect/Scope"
import { PythonException } from "../../src/internal/base/Errors.js"
import type * as Connection from "../../src/internal/engine/Engine.js"
import * as Service from "../../src/service/Service.js"
import * as Pair from "../../src/transport/Pair.js"

/**
 * Two connections over an in-memory pair: `server` serves `service`, `client` serves
 * `clientService` (default `VoidService`). Both run in the calling fiber's runtime, so a
 * `TestClock` drives their timers.
 */
export const pair = <Api = any>(
  service: Service.ServiceSpec,
  options: { readonly clientService?: Service.ServiceSpec; readonly clientConfig?: Connection.Options["config"] } = {}
): Effect.Effect<
  { readonly server: Connection.Connection; readonly client: Connection.Connection<Api> },
  unknown,
  Scope.Scope
> =>
  Effect.gen(function*() {
    const [a, b] = yield* Pair.make()
    const server = yield* Service.makeConnection(a, service)
    const client = yield* Service.makeConnection<Api>(b, options.clientService ?? Service.VoidService, {
      wireVersion: 5,
      config: options.clientConfig
    })
    return { server, client }
  })

/**
 * The TS peer of the async tests. Its `sleep` is an `Effect.sleep` (the TestClock drives it);
 * `hold` replies only when the test calls `release`; `started` reports every sleep/hold as it
 * begins, so that tests can wait for the server instead of guessing.
 */
export class AsyncTestService extends Service.Service {
  readonly started = Effect.runSync(Queue.unbounded<string>())
  private held: Array<() => void> = []
  calls = 0

  exposed_echo(x: unknown) {
    this.calls++
    return x
  }
  exposed_describe_args(...args: Array<unknown>) {
    return JSON.stringify(args)
  }
  exposed_sleep(seconds: number) {
    return Effect.suspend(() => {
      this.started.unsafeOffer(`sleep ${seconds}`)
      return Effect.sleep(Duration.seconds(seconds))
    }).pipe(Effect.as(null))
  }
  /** setTimeout-based (real time): replies with `x` after `millis`. */
  exposed_delayed(x: unknown, millis: number) {
    return new Promise((resolve) => setTimeout(() => resolve(x), millis))
  }
  exposed_hold(x: unknown) {
    this.started.unsafeOffer(`hold ${String(x)}`)
    return new Promise((resolve) => this.held.push(() => resolve(x)))
  }
  /** Python's `int(s)`: a ValueError for anything but an integer literal. */
  exposed_int(s: string) {
    if (!/^\s*[-+]?\d+\s*$/.test(s)) {
      throw new PythonException("ValueError", `invalid literal for int() with base 10: '${s}'`)
    }
    return Number.parseInt(s, 10)
  }
  exposed_count(n: number) {
    return (function*() {
      for (let i = 0; i < n; i++) yield i
    })()
  }
  /** A counted infinite iterator: `nexts()` says how many items the peer pulled. */
  readonly naturals = (() => {
    let pulled = 0
    const it = {
      next: () => ({ done: false, value: pulled++ }),
      [Symbol.iterator]() {
        return it
      }
    }
    return { it, pulled: () => pulled }
  })()
  exposed_naturals() {
    return this.naturals.it
  }
  exposed_answer = 42
  release(): number {
    const held = this.held
    this.held = []
    for (const r of held) r()
    return held.length
  }
}
