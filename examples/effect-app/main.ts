/**
 * An Effect app: an RPyC server and a client composed as Layers in one program.
 *
 *   npx tsx examples/effect-app/main.ts          # runs the demo, then keeps serving until Ctrl-C
 *   npx tsx examples/effect-app/main.ts --once   # runs the demo and exits
 *
 * Remote failures are typed: a Python-side (or TS-side) exception arrives as `RemoteError`, handled
 * here with `Effect.catchTag`. Interrupting (Ctrl-C) closes the client connection, then the server
 * and its connections: every resource is scoped.
 */
import { NodeRuntime } from "@effect/platform-node"
import type { Connection } from "effect-rpyc"
import { Client, Server, Service } from "effect-rpyc"
import * as Console from "effect/Console"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schedule from "effect/Schedule"

/** The service: exposed methods may return values, Promises or Effects. */
class CalcService extends Service {
  exposed_add(a: number, b: number) {
    return a + b
  }
  exposed_divide(a: number, b: number) {
    return b === 0
      ? Effect.fail(new RangeError("division by zero")) // becomes Python's ValueError on the wire
      : Effect.succeed(a / b)
  }
  async exposed_slow_square(x: number) {
    await new Promise((resolve) => setTimeout(resolve, 50))
    return x * x
  }
}

/** The client connection, as a service of this app. */
class Calc extends Context.Tag("examples/Calc")<Calc, Connection.Connection>() {}

const ServerLive = Server.layer(CalcService, { host: "127.0.0.1", port: 0 })

const CalcLive = Layer.scoped(
  Calc,
  Effect.gen(function*() {
    const server = yield* Server.RpycServer
    const conn = yield* Client.connect({ host: "127.0.0.1", port: server.port! })
    yield* Effect.addFinalizer(() => Console.log("client: connection closed"))
    return conn
  })
).pipe(Layer.provide(ServerLive))

const demo = Effect.gen(function*() {
  const conn = yield* Calc
  const sum = yield* conn.root.add(2, 3)
  yield* Console.log(`add(2, 3) = ${sum}`)
  const squares = yield* Effect.all([1, 2, 3, 4].map((x) => conn.root.slow_square(x)), { concurrency: "unbounded" })
  yield* Console.log(`slow_square(1..4) = ${squares.join(", ")}`)
  const quotient = yield* conn.root.divide(1, 0).pipe(
    Effect.catchTag("RemoteError", (e) => Effect.succeed(`caught ${e.name}: ${e.args[0]}`))
  )
  yield* Console.log(`divide(1, 0) -> ${quotient}`)
  yield* Console.log(`service name: ${yield* conn.root.get_service_name()}`)
})

const once = process.argv.includes("--once")

const main = Effect.gen(function*() {
  yield* demo
  if (once) return
  yield* Console.log("serving; press Ctrl-C to stop")
  const conn = yield* Calc
  yield* conn.ping().pipe(Effect.repeat(Schedule.spaced("5 seconds")))
}).pipe(
  Effect.ensuring(Console.log("shut down cleanly")),
  Effect.provide(CalcLive)
)

NodeRuntime.runMain(main)
