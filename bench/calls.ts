/**
 * Sequential call throughput, measured side by side in one run (`npm run bench`):
 *
 *   1. TS client -> TS server (effect-rpyc over loopback TCP), `yield*` and `await` styles
 *   2. raw Node TCP ping-pong of 16-byte messages (the floor any RPC over TCP pays)
 *   3. Python RPyC client -> Python RPyC server (if Python RPyC is installed)
 *   4. Python RPyC client -> TS server
 *
 * Figures vary with the machine; compare rows of the same run.
 */
import * as Effect from "effect/Effect"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import { execFile } from "node:child_process"
import * as Net from "node:net"
import { promisify } from "node:util"
import * as Client from "../src/client/Client.js"
import * as Server from "../src/server/Server.js"
import { Service } from "../src/service/Service.js"

const SECONDS = Number(process.env.BENCH_SECONDS ?? 2)
const run = promisify(execFile)

class BenchService extends Service {
  exposed_echo(x: unknown) {
    return x
  }
}

const rate = (n: number, ms: number) => Math.round((n / ms) * 1000)
const report = (label: string, perSecond: number | string) =>
  console.log(
    `${label.padEnd(48)} ${
      typeof perSecond === "number" ? perSecond.toLocaleString("en-US").padStart(9) + " calls/s" : perSecond
    }`
  )

const tsToTs = Effect.gen(function*() {
  const server = yield* Server.make(BenchService, { host: "127.0.0.1", port: 0 })
  const conn = yield* Client.connect({ host: "127.0.0.1", port: server.port! })
  const echo = conn.root.echo
  for (let i = 0; i < 2000; i++) yield* echo(i)
  let n = 0
  const start = performance.now()
  while (performance.now() - start < SECONDS * 1000) {
    for (let k = 0; k < 100; k++) yield* echo(n++)
  }
  const yieldRate = rate(n, performance.now() - start)
  let m = 0
  const start2 = performance.now()
  yield* Effect.promise(async () => {
    while (performance.now() - start2 < SECONDS * 1000) {
      for (let k = 0; k < 100; k++) await echo(m++)
    }
  })
  const awaitRate = rate(m, performance.now() - start2)
  return { yieldRate, awaitRate, port: server.port! }
})

const rawPingPong = async (): Promise<number> => {
  const server = Net.createServer((s) => s.on("data", (d) => s.write(d)))
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r))
  const port = (server.address() as Net.AddressInfo).port
  const sock = Net.createConnection({ host: "127.0.0.1", port, noDelay: true })
  await new Promise<void>((r) => sock.once("connect", r))
  const msg = Buffer.alloc(16, 7)
  let pending: (() => void) | undefined
  let got = 0
  sock.on("data", (d) => {
    got += d.length
    if (got >= 16) {
      got -= 16
      pending?.()
    }
  })
  const roundTrip = () =>
    new Promise<void>((r) => {
      pending = r
      sock.write(msg)
    })
  for (let i = 0; i < 2000; i++) await roundTrip()
  let n = 0
  const start = performance.now()
  while (performance.now() - start < SECONDS * 1000) {
    for (let k = 0; k < 100; k++, n++) await roundTrip()
  }
  const r = rate(n, performance.now() - start)
  sock.destroy()
  server.close()
  return r
}

const python = async (target: string): Promise<number | string> => {
  try {
    const { stdout } = await run("/usr/bin/python3", ["bench/python_calls.py", target, String(SECONDS)], {
      timeout: 60_000
    })
    return Math.round(JSON.parse(stdout.trim().split("\n").pop()!).rate)
  } catch (e) {
    return `skipped (${(e as Error).message.split("\n")[0]})`
  }
}

const main = Effect.gen(function*() {
  console.log(
    `effect-rpyc call benchmark: node ${process.version}, ${SECONDS} s per row, sequential calls of echo(i)\n`
  )
  const ts = yield* tsToTs
  report("TS client -> TS server (yield*)", ts.yieldRate)
  report("TS client -> TS server (await)", ts.awaitRate)
  report("raw Node TCP ping-pong, 16 bytes", yield* Effect.promise(rawPingPong))
  report("Python RPyC client -> Python RPyC server", yield* Effect.promise(() => python("self")))
  report("Python RPyC client -> TS server", yield* Effect.promise(() => python(String(ts.port))))
}).pipe(Effect.scoped, Logger.withMinimumLogLevel(LogLevel.Warning))

Effect.runPromise(main).catch((e) => {
  console.error(e)
  process.exit(1)
})
