/**
 * Long fuzz runs from the command line:
 *
 *   npx tsx fuzz/run.ts --frames 1000000 --seed N [--dialect 5|6] [--server host:port]
 *                       [--connections 4]
 *
 * Without `--server` it starts its own TS server (FuzzService, default config) in this process on
 * 127.0.0.1, port 0. A legitimate client probes the server alongside (`add(1, 2)` on our own server,
 * PING on another). Prints frames/s, the connections the server closed, the worst probe latency,
 * and exits non-zero on a crash (the server unreachable, an uncaught exception or unhandled
 * rejection in this process) or a hang (a probe taking more than 5 s), printing the seed and the
 * last frames sent.
 */
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as Scope from "effect/Scope"
import * as Server from "../src/server/Server.js"
import { Fuzzer, parseArgs } from "./Fuzzer.js"
import { startProbe, stuckMillis } from "./Probe.js"
import { FuzzService } from "./Target.js"

const HANG_MILLIS = 5000

const args = parseArgs(process.argv.slice(2))
const frames = Number(args.get("frames") ?? 1_000_000)
const seed = args.has("seed") ? Number(args.get("seed")) >>> 0 : (Date.now() ^ (process.pid << 16)) >>> 0
const dialectArg = args.get("dialect")
const dialect = dialectArg === "5" ? 5 : dialectArg === "6" ? 6 : undefined
const connections = Number(args.get("connections") ?? 6)
const external = args.get("server")

if (!Number.isFinite(frames) || frames <= 0 || (dialectArg !== undefined && dialect === undefined)) {
  console.error("usage: npx tsx fuzz/run.ts --frames N --seed N [--dialect 5|6] [--server host:port] [--connections N]")
  process.exit(2)
}

console.log(`fuzz: seed ${seed}, ${frames} frames, dialect ${dialect ?? "mixed"}, ${connections} connections`)

const failures: Array<string> = []
process.on("uncaughtException", (e) => failures.push(`uncaught exception: ${e?.stack ?? e}`))
process.on("unhandledRejection", (e) => failures.push(`unhandled rejection: ${(e as Error)?.stack ?? e}`))

const main = async (): Promise<number> => {
  const scope = Effect.runSync(Scope.make())
  const inScope = <A, E>(effect: Effect.Effect<A, E, Scope.Scope>) =>
    Effect.runPromise(
      Scope.extend(effect, scope).pipe(Logger.withMinimumLogLevel(LogLevel.None))
    )
  try {
    let host = "127.0.0.1"
    let port: number
    if (external !== undefined) {
      const i = external.lastIndexOf(":")
      host = external.slice(0, i)
      port = Number(external.slice(i + 1))
    } else {
      const server = await inScope(Server.make(FuzzService, { host, port: 0 }))
      port = server.port!
      console.log(`fuzz: own server on ${host}:${port}`)
    }
    const probe = await inScope(startProbe({ host, port, kind: external === undefined ? "add" : "ping" }))
    const fuzzer = new Fuzzer({
      host,
      port,
      seed,
      frames,
      connections,
      dialect,
      onProgress: (s) => {
        const rate = Math.round(s.framesSent / Math.max(s.elapsedMillis / 1000, 0.001))
        console.log(
          `  ${s.framesSent} frames (${rate}/s), ${s.connectionsOpened} connections, ${s.closedByServer} closed by the server, ` +
            `worst probe ${probe.worstMillis} ms`
        )
        if (stuckMillis(probe) > HANG_MILLIS) {
          failures.push(`hang: a probe has been waiting ${stuckMillis(probe)} ms`)
          fuzzer.destroy()
        }
        if (failures.length > 0) fuzzer.destroy()
      }
    })
    let fuzzError: unknown
    const stats = await fuzzer.run().catch((e) => {
      fuzzError = e
      return fuzzer.stats
    })
    // the server must still answer after the run
    const t0 = Date.now()
    while (probe.probes === 0 || probe.inFlightSince !== undefined) {
      if (Date.now() - t0 > HANG_MILLIS) break
      await new Promise((r) => setTimeout(r, 10))
    }
    if (stuckMillis(probe) > HANG_MILLIS) failures.push(`hang: a probe has been waiting ${stuckMillis(probe)} ms`)
    if (probe.worstMillis > HANG_MILLIS) failures.push(`hang: a probe took ${probe.worstMillis} ms`)
    if (probe.failures > 0) failures.push(`${probe.failures} probes failed, first: ${probe.firstFailure}`)
    if (fuzzError !== undefined) failures.push(`crash: ${(fuzzError as Error)?.stack ?? String(fuzzError)}`)
    const seconds = stats.elapsedMillis / 1000
    console.log(
      `fuzz: ${stats.framesSent} frames in ${seconds.toFixed(1)} s (${
        Math.round(stats.framesSent / seconds)
      } frames/s, ${(stats.bytesSent / 1048576).toFixed(1)} MiB)`
    )
    console.log(
      `fuzz: ${stats.connectionsOpened} connections, ${stats.closedByServer} closed by the server, ${stats.closedByUs} by us, ${stats.stalls} stalls, ${stats.handshakeFailures} handshake failures, ${stats.badEchoes} bad echoes`
    )
    console.log(
      `fuzz: worst probe ${probe.worstMillis} ms over ${probe.probes} probes; worst sentinel ${stats.worstSentinelMillis} ms`
    )
    console.log(`fuzz: frame kinds ${JSON.stringify(stats.kinds)}`)
    if (failures.length > 0) {
      console.error(`FAILED (seed ${seed}):\n${failures.join("\n")}\n${fuzzer.describeRecent(16)}`)
      return 1
    }
    console.log("fuzz: ok")
    return 0
  } finally {
    await Effect.runPromise(Scope.close(scope, Exit.void).pipe(Effect.timeout("5 seconds"), Effect.ignore))
  }
}

main().then(
  (code) => process.exit(code),
  (e) => {
    console.error(`FAILED (seed ${seed}): ${e?.stack ?? e}`)
    process.exit(1)
  }
)
