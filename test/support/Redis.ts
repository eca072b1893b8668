/**
 * A real Redis for the suites that need one, started by the test on a free loopback port:
 *
 * - the server is `$RPYC_REDIS_SERVER` if set, else `redis-server` on PATH (Debian's package, which
 *   `.ci/run` installs);
 * - tests that need it **skip** when it cannot be run, unless `CI=true`, where they run and fail
 *   loudly (the rule of `Python.ts`);
 * - `startRedis()` runs `redis-server --port P --bind 127.0.0.1 --save ''` (no persistence, nothing
 *   written), waits for "Ready to accept connections" and kills it when the scope closes.
 */
import { describe } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Schedule from "effect/Schedule"
import type * as Scope from "effect/Scope"
import * as ChildProcess from "node:child_process"
import { type Child, type ChildError, spawn } from "./Child.js"
import { freePort } from "./Ports.js"
import { tempDir } from "./TempDir.js"

/** The Redis server binary. */
export const REDIS_SERVER: string = process.env.RPYC_REDIS_SERVER ?? "redis-server"

/** Whether `REDIS_SERVER` runs. */
export const hasRedis: boolean = (() => {
  try {
    return ChildProcess.spawnSync(REDIS_SERVER, ["--version"], { stdio: "ignore", timeout: 30_000 }).status === 0
  } catch {
    return false
  }
})()

/** Whether the Redis tests run: Redis is there, or CI insists. */
export const runRedisTests: boolean = hasRedis || process.env.CI === "true"

/** `describe` for tests that need Redis. */
export const describeRedis: typeof describe = runRedisTests ? describe : (describe.skip as typeof describe)

/** A running Redis. */
export interface RedisServer {
  readonly host: string
  readonly port: number
  /** `redis://127.0.0.1:<port>`. */
  readonly url: string
  readonly child: Child
}

const LOOPBACK = "127.0.0.1"

/**
 * Starts a Redis on a free loopback port; it is killed when the scope closes. A port taken between
 * finding it free and Redis binding it is retried with another.
 */
export const startRedis = (): Effect.Effect<RedisServer, ChildError | Error, Scope.Scope> =>
  Effect.gen(function*() {
    if (!hasRedis) {
      return yield* Effect.fail(new Error(`${REDIS_SERVER} --version failed: install Redis (redis-server)`))
    }
    // nothing is saved, but Redis's working directory must still be somewhere harmless
    const dir = yield* tempDir("effect-rpyc-redis-")
    const start = Effect.gen(function*() {
      const port = yield* freePort("tcp", LOOPBACK)
      const child = yield* spawn(REDIS_SERVER, [
        "--port",
        String(port),
        "--bind",
        LOOPBACK,
        "--save",
        "",
        "--appendonly",
        "no",
        "--dir",
        dir
      ], { ready: { pattern: /Ready to accept connections/, timeout: "30 seconds" } })
      return { host: LOOPBACK, port, url: `redis://${LOOPBACK}:${port}`, child }
    })
    return yield* start.pipe(Effect.retry({ times: 2, schedule: Schedule.spaced("100 millis") }))
  })
