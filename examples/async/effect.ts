/**
 * Asynchronous operation in an Effect program: a TS service and a client in one process.
 *
 *   npx tsx examples/async/effect.ts
 *
 * `yield* res.value` waits for an AsyncResult inside `Effect.gen`; its failures are typed
 * (`RemoteError`, `ExpiredError`, `ConnectionClosed`, …) and can be caught by tag.
 */
import { Client, PythonException, Server, Service } from "effect-rpyc"
import { async_, buffiterStream, timed } from "effect-rpyc/Async"
import * as Chunk from "effect/Chunk"
import * as Console from "effect/Console"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as Stream from "effect/Stream"

export class SleepyService extends Service {
  /** Service methods may return Effects: the reply is sent when it completes. */
  exposed_sleep(seconds: number) {
    return Effect.sleep(Duration.seconds(seconds)).pipe(Effect.as(null))
  }
  exposed_int(s: string): number {
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
}

const program = Effect.gen(function*() {
  const server = yield* Server.make(SleepyService, { port: 0 })
  const conn = yield* Client.connect<SleepyService>({ port: server.port! })

  const asleep = async_(conn.root.sleep) // typed: (seconds: number) => AsyncResult<null>
  const res = asleep(0.5)
  yield* Console.log(`ready: ${res.ready}`) // false
  yield* res.wait()
  yield* Console.log(`ready: ${res.ready}, value: ${yield* res.value}`) // true, null

  const aint = async_(conn.root.int)
  const x = aint("8")
  yield* Console.log(`int("8") = ${yield* x.value}`)
  const y = aint("this is not a valid number")
  const message = yield* y.value.pipe(
    Effect.map(String),
    Effect.catchTag("RemoteError", (e) => Effect.succeed(`${e.name}: ${e.args[0]}`))
  )
  yield* Console.log(`error: ${y.error} -> ${message}`)

  // an expiry per call: the reply is late, the result expires, the late reply is dropped
  const late = timed(conn.root.sleep, 0.1)(1)
  yield* Console.log(
    yield* late.value.pipe(
      Effect.map(() => "in time"),
      Effect.catchTag("ExpiredError", (e) => Effect.succeed(`expired: ${e.message}`))
    )
  )

  // many calls in flight at once; they may complete in any order
  const results = Array.from({ length: 1000 }, (_, i) => aint(String(i)))
  const values = yield* Effect.forEach(results, (r) => r.value)
  yield* Console.log(`1000 async calls, sum = ${values.reduce((a, b) => a + b, 0)}`)

  // a remote iterator in batches of 10, 20, 40, …
  const batches = yield* Stream.runCollect(Stream.chunks(buffiterStream<number>(conn.root.count(100))))
  yield* Console.log(
    `buffiter batches: ${Chunk.toReadonlyArray(batches).map((c) => c.length).filter((n) => n > 0).join(", ")}`
  )
}).pipe(Effect.scoped, Logger.withMinimumLogLevel(LogLevel.Warning))

Effect.runPromise(program).catch((e) => {
  console.error(e)
  process.exit(1)
})
