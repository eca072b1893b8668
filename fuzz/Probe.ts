/**
 * The legitimate client of a fuzz run: a real TS client that keeps making one round trip after
 * another (`root.add(1, 2)`, or PING against a server whose service is unknown) while the fuzzer
 * attacks, and records how slow the slowest one was.
 */
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import * as Client from "../src/client/Client.js"
import * as RemoteOp from "../src/internal/netref/RemoteOp.js"
import { Handler } from "../src/internal/wire/Message.js"

export interface ProbeStats {
  probes: number
  failures: number
  worstMillis: number
  /** The first wrong answer or error, if any. */
  firstFailure: string | undefined
  /** Set while a probe is in flight: when it started (ms since epoch). */
  inFlightSince: number | undefined
}

export interface ProbeOptions {
  readonly host?: string | undefined
  readonly port: number
  /** `add`: `root.add(1, 2)` must answer 3; `ping`: PING must echo. */
  readonly kind?: "add" | "ping" | undefined
  /** Pause between probes (the probe's own pacing). Default 20 ms. */
  readonly intervalMillis?: number | undefined
  readonly wireVersion?: 5 | 6 | undefined
}

/**
 * Connects and starts probing in a fiber of the current scope; returns the live stats (updated in
 * place). Interrupted (and disconnected) when the scope closes.
 */
export const startProbe = (options: ProbeOptions): Effect.Effect<ProbeStats, unknown, Scope.Scope> =>
  Effect.gen(function*() {
    const stats: ProbeStats = {
      probes: 0,
      failures: 0,
      worstMillis: 0,
      firstFailure: undefined,
      inFlightSince: undefined
    }
    const conn = yield* Client.connect({
      host: options.host ?? "127.0.0.1",
      port: options.port,
      wireVersion: options.wireVersion ?? 5
    })
    const once: Effect.Effect<boolean, unknown> = options.kind === "ping"
      ? Effect.map(conn.request(Handler.PING, ["probe"]), (echo) => echo === "probe")
      : Effect.map(RemoteOp.toEffect((conn.root as any).add(1, 2)), (sum) => sum === 3)
    const interval = options.intervalMillis ?? 20
    yield* Effect.gen(function*() {
      while (true) {
        const t0 = Date.now()
        stats.inFlightSince = t0
        const exit = yield* Effect.exit(once)
        stats.inFlightSince = undefined
        const took = Date.now() - t0
        stats.probes++
        stats.worstMillis = Math.max(stats.worstMillis, took)
        if (exit._tag === "Failure" || exit.value !== true) {
          stats.failures++
          stats.firstFailure ??= exit._tag === "Failure" ? String(exit.cause) : "wrong answer"
        }
        yield* Effect.sleep(interval)
      }
    }).pipe(Effect.forkScoped)
    return stats
  })

/** How long the probe in flight has been waiting (0 if none). */
export const stuckMillis = (stats: ProbeStats): number =>
  stats.inFlightSince === undefined ? 0 : Date.now() - stats.inFlightSince
