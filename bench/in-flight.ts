/**
 * Calls in flight two ways, side by side in one process (client and server on 127.0.0.1): awaiting
 * the remote operations together with `Promise.all` (each request goes straight to the engine) and
 * running them with `Effect.all({ concurrency: "unbounded" })` (a fiber per call). Prints CPU µs
 * per call (both sides) and calls/s for each, in interleaved rounds.
 *
 *   npx tsx bench/in-flight.ts [calls per batch, 10000] [rounds, 5]
 */
import * as Effect from "effect/Effect"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as Client from "../src/client/Client.js"
import * as Server from "../src/server/Server.js"
import { Service } from "../src/service/Service.js"

class BenchService extends Service {
  exposed_add(a: number, b: number) {
    return a + b
  }
}

const n = Number(process.argv[2] ?? 10_000)
const rounds = Number(process.argv[3] ?? 5)

const measure = async (run: () => Promise<unknown>) => {
  const cpu0 = process.cpuUsage()
  const t0 = performance.now()
  await run()
  const cpu = process.cpuUsage(cpu0)
  return { cpuMicros: (cpu.user + cpu.system) / n, rate: n / ((performance.now() - t0) / 1000) }
}

const program = Effect.gen(function*() {
  const server = yield* Server.make(BenchService, { host: "127.0.0.1", port: 0 })
  const conn = yield* Client.connect({ host: "127.0.0.1", port: server.port! })
  const add = conn.root.add
  const viaPromises = () => Promise.all(Array.from({ length: n }, (_, k) => add(k, 1)))
  const viaFibers = () =>
    Effect.runPromise(
      Effect.all(Array.from({ length: n }, (_, k) => add(k, 1) as unknown as Effect.Effect<number>), {
        concurrency: "unbounded"
      })
    )
  yield* Effect.promise(async () => {
    await viaPromises()
    await viaFibers()
    const rows: Record<string, Array<{ cpuMicros: number; rate: number }>> = { "Promise.all": [], "Effect.all": [] }
    for (let r = 0; r < rounds; r++) {
      rows["Promise.all"].push(await measure(viaPromises))
      rows["Effect.all"].push(await measure(viaFibers))
    }
    const median = (xs: Array<number>) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)]
    console.log(`${n} calls in flight, ${rounds} interleaved rounds (medians)`)
    for (const [name, xs] of Object.entries(rows)) {
      const cpu = median(xs.map((x) => x.cpuMicros))
      const rate = median(xs.map((x) => x.rate))
      console.log(
        `${name.padEnd(12)} ${cpu.toFixed(1).padStart(7)} µs CPU per call   ${rate.toFixed(0).padStart(8)} calls/s`
      )
    }
  })
})

Effect.runPromise(Logger.withMinimumLogLevel(Effect.scoped(program), LogLevel.Warning)).then(
  () => process.exit(0),
  (e) => {
    console.error(e)
    process.exit(1)
  }
)
