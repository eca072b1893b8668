/**
 * What every Node peer process of the benchmark suite shares (bench/suite.ts spawns them):
 *
 * - the control channel: JSON commands on stdin, replies on stdout as lines prefixed `@@ ` (any
 *   other stdout line, a log line say, is ignored by the suite); stdin's end exits the process, so
 *   a peer never outlives the suite;
 * - the process's own figures (`stats`: CPU ms since start, RSS bytes, full collections since
 *   start), read by the suite before and after each measurement;
 * - the client side of every path, written once over a `Driver` (one per row): the timed loops,
 *   their bounds (time and count), warm-up, the idle connections and the scaling curve.
 *
 * Python peers speak the same commands (bench/peers/py_peer.py).
 */
import * as Effect from "effect/Effect"
import { randomBytes } from "node:crypto"
import * as Net from "node:net"
import { constants as PerfHooks, PerformanceObserver } from "node:perf_hooks"
import * as Readline from "node:readline"

export const HOST = "127.0.0.1"
export const MiB = 1024 * 1024

// ---------------------------------------------------------------------------------------------
// control channel

export type Command = { readonly id: number; readonly cmd: string } & Record<string, any>
export type Handler = (command: Command) => unknown

export const send = (message: object): void => {
  process.stdout.write(`@@ ${JSON.stringify(message)}\n`)
}

const gc = (globalThis as { gc?: () => void }).gc

/**
 * Full (mark-compact) collections so far. A peer whose heap V8 shrank (after idle seconds, or the
 * suite's own collections before an RSS reading) can collect in full every few MiB of large
 * arrays: this says when a figure was measured in that state.
 */
let fullGcs = 0
new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) {
    if ((entry as { detail?: { kind?: number } }).detail?.kind === PerfHooks.NODE_PERFORMANCE_GC_MAJOR) fullGcs++
  }
}).observe({ entryTypes: ["gc"] })

/**
 * CPU ms since the start, RSS bytes and full collections so far; with `gc`, after two full
 * collections 100 ms apart (V8 returns pages lazily).
 */
export const stats = async (options: { readonly gc?: boolean } = {}) => {
  if (options.gc === true && gc !== undefined) {
    gc()
    await new Promise((r) => setTimeout(r, 100))
    gc()
  }
  const cpu = process.cpuUsage()
  return { cpu: (cpu.user + cpu.system) / 1000, rss: process.memoryUsage.rss(), fullGcs }
}

/**
 * Serves commands one at a time, in order. `exit` (or the end of stdin) exits normally, so that
 * `--cpu-prof` writes its profile.
 */
export const serveControl = (handlers: Record<string, Handler>): void => {
  let queue: Promise<void> = Promise.resolve()
  const exit = () => {
    // let stdout drain, then leave even if a handler still holds sockets open
    setTimeout(() => process.exit(0), 50)
  }
  const rl = Readline.createInterface({ input: process.stdin })
  rl.on("line", (line) => {
    if (line.trim() === "") return
    const command = JSON.parse(line) as Command
    queue = queue.then(async () => {
      if (command.cmd === "exit") {
        send({ id: command.id, ok: true, result: null })
        return exit()
      }
      try {
        if (command.cmd === "stats") {
          return send({ id: command.id, ok: true, result: await stats({ gc: command.gc === true }) })
        }
        const handler = handlers[command.cmd]
        if (handler === undefined) throw new Error(`unknown command ${command.cmd}`)
        send({ id: command.id, ok: true, result: await handler(command) })
      } catch (e) {
        send({ id: command.id, ok: false, error: e instanceof Error ? `${e.message}` : String(e) })
      }
    })
  })
  rl.on("close", exit)
}

export const fail = (what: string, got: unknown): never => {
  throw new Error(`${what}: unexpected result ${String(got).slice(0, 80)}`)
}

// ---------------------------------------------------------------------------------------------
// the client side of every path

/** One connection of a row's client. Every method checks its results. */
export interface Session {
  /** `n` sequential `add(i, 1)`. */
  readonly seq: (n: number) => Promise<void>
  /** `n` calls of `add(i, 1)` in flight at once. */
  readonly pipelined: (n: number) => Promise<void>
  /** `n` sequential `callMe(fn, i)`: the server calls `fn(i)` back on this side. `undefined`: not supported. */
  readonly callback: ((n: number) => Promise<void>) | undefined
  /** `upload(bytes)` once, checks the length returned. */
  readonly upload: (bytes: Uint8Array) => Promise<void>
  /** `list(size)` once: `size` small tuples back. */
  readonly list: (size: number) => Promise<void>
  /** Sequential `add(i, 1)` until `deadline` (performance.now()), `onCall(ms)` after each; returns the count. */
  readonly loop: (deadline: number, maxCalls: number, onCall: (ms: number) => void) => Promise<number>
  readonly close: () => Promise<void>
}

/**
 * A session's `loop`: `add(i, 1)` in turn until `deadline` or `maxCalls`, checking and timing each.
 * `add` returns a Promise, or an Effect for the peers that are Effect programs (run as one).
 */
export const timedAdds = (
  add: (a: number, b: number) => Promise<unknown>,
  deadline: number,
  maxCalls: number,
  onCall: (ms: number) => void
): Promise<number> =>
  (async () => {
    let calls = 0
    while (calls < maxCalls) {
      const t0 = performance.now()
      const r = await add(calls, 1)
      if (timed(r, calls, t0, onCall) >= deadline) return calls + 1
      calls++
    }
    return calls
  })()

/** {@link timedAdds} for an `add` that is an Effect, as one Effect program. */
export const timedAddsEffect = <E>(
  add: (a: number, b: number) => Effect.Effect<unknown, E>,
  deadline: number,
  maxCalls: number,
  onCall: (ms: number) => void
): Effect.Effect<number, E> =>
  Effect.gen(function*() {
    let calls = 0
    while (calls < maxCalls) {
      const t0 = performance.now()
      const r = yield* add(calls, 1)
      if (timed(r, calls, t0, onCall) >= deadline) return calls + 1
      calls++
    }
    return calls
  })

/** Checks `add(i, 1)`'s result, reports its time, and returns the time it ended. */
const timed = (result: unknown, i: number, t0: number, onCall: (ms: number) => void): number => {
  const t1 = performance.now()
  if (result !== i + 1) fail("add", result)
  onCall(t1 - t0)
  return t1
}

export interface Driver {
  readonly open: (port: number) => Promise<Session>
  /** Connect, one `add(1, 1)`, close. */
  readonly once: (port: number) => Promise<void>
}

/** The driver of a row whose sessions are opened by `open`: `once` is a session that makes one call. */
export const driverOf = (open: (port: number) => Promise<Session>): Driver => ({
  open,
  once: async (port) => {
    const s = await open(port)
    await s.seq(1)
    await s.close()
  }
})

/** A TCP connection to the server's `port` on loopback, once it is open (Nagle off). */
export const connectTcp = (port: number, options: { readonly allowHalfOpen?: boolean } = {}): Promise<Net.Socket> =>
  new Promise((resolve, reject) => {
    const sock = Net.createConnection({
      host: HOST,
      port,
      noDelay: true,
      allowHalfOpen: options.allowHalfOpen === true
    })
    sock.once("connect", () => {
      sock.off("error", reject)
      resolve(sock)
    })
    sock.once("error", reject)
  })

/** Opens `n` sessions, `batch` connecting at once. */
const openMany = async (driver: Driver, port: number, n: number, batch = 100): Promise<Array<Session>> => {
  const sessions: Array<Session> = []
  try {
    for (let i = 0; i < n; i += batch) {
      const k = Math.min(batch, n - i)
      sessions.push(...await Promise.all(Array.from({ length: k }, () => driver.open(port))))
    }
  } catch (e) {
    await closeMany(sessions)
    throw e
  }
  return sessions
}

const closeMany = async (sessions: ReadonlyArray<Session>, batch = 500): Promise<void> => {
  for (let i = 0; i < sessions.length; i += batch) {
    await Promise.all(sessions.slice(i, i + batch).map((s) => s.close().catch(() => undefined)))
  }
}

const percentile = (sorted: Float64Array, p: number): number =>
  sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]

/** The client peer: serves the suite's commands over `driver`. */
export const runClient = (driver: Driver): void => {
  const sessions = new Map<number, Session>()
  const session = async (port: number): Promise<Session> => {
    let s = sessions.get(port)
    if (s === undefined) {
      s = await driver.open(port)
      sessions.set(port, s)
    }
    return s
  }
  const buffers = new Map<number, Uint8Array>()
  const bytes = (size: number): Uint8Array => {
    let b = buffers.get(size)
    if (b === undefined) {
      b = new Uint8Array(randomBytes(size))
      buffers.set(size, b)
    }
    return b
  }

  /** Runs `step` (which does `per` ops) until `seconds` pass or `maxOps` ops are done; at least once. */
  const timed = async (seconds: number, maxOps: number, per: number, step: () => Promise<void>) => {
    const cpu0 = process.cpuUsage()
    const gcs0 = fullGcs
    const start = performance.now()
    const deadline = start + seconds * 1000
    let ops = 0
    do {
      await step()
      ops += per
    } while (performance.now() < deadline && ops < maxOps)
    const elapsed = (performance.now() - start) / 1000
    const cpu = process.cpuUsage(cpu0)
    return {
      ops,
      elapsed,
      cpu: (cpu.user + cpu.system) / 1000,
      rss: process.memoryUsage.rss(),
      fullGcs: fullGcs - gcs0
    }
  }

  /** One path's work: `per` ops per step. */
  const work = async (path: string, port: number, c: Command): Promise<{ per: number; step: () => Promise<void> }> => {
    switch (path) {
      case "seq": {
        const s = await session(port)
        return { per: 100, step: () => s.seq(100) }
      }
      case "pipe": {
        const s = await session(port)
        const n = c.inFlight as number
        return { per: n, step: () => s.pipelined(n) }
      }
      case "callback": {
        const s = await session(port)
        const callback = s.callback
        if (callback === undefined) throw new Error("n/a: no callbacks")
        return { per: 20, step: () => callback(20) }
      }
      case "upload": {
        const s = await session(port)
        const b = bytes(c.size as number)
        return { per: 1, step: () => s.upload(b) }
      }
      case "list": {
        const s = await session(port)
        const size = c.size as number
        return { per: 1, step: () => s.list(size) }
      }
      case "connect":
        return { per: 1, step: () => driver.once(port) }
      default:
        throw new Error(`unknown path ${path}`)
    }
  }

  let idle: Array<Session> = []
  let scale: { sessions: Array<Session>; rss0: number } | undefined

  send({ ready: true })
  serveControl({
    warm: async (c) => {
      const { per, step } = await work(c.path, c.port, c)
      const start = performance.now()
      let ops = 0
      do {
        await step()
        ops += per
      } while (performance.now() - start < c.seconds * 1000 && ops < c.maxOps)
      return { ops }
    },
    run: async (c) => {
      const { per, step } = await work(c.path, c.port, c)
      return timed(c.seconds, c.maxOps, per, step)
    },
    /** Opens `n` idle connections, each after one call. */
    idleOpen: async (c) => {
      const rss0 = (await stats({ gc: true })).rss
      idle = await openMany(driver, c.port, c.n)
      for (let i = 0; i < idle.length; i += 100) await Promise.all(idle.slice(i, i + 100).map((s) => s.seq(1)))
      return { rss0, rss1: (await stats({ gc: true })).rss, n: idle.length }
    },
    idleClose: async () => {
      await closeMany(idle)
      idle = []
      return null
    },
    scaleOpen: async (c) => {
      const rss0 = (await stats({ gc: true })).rss
      scale = { sessions: await openMany(driver, c.port, c.n), rss0 }
      return { n: scale.sessions.length }
    },
    /** Every connection calls in a loop; latencies of every call, the first call of each timed from the start. */
    scaleRun: async (c) => {
      if (scale === undefined) throw new Error("scaleOpen first")
      const maxSamples = 2_000_000
      const samples = new Float64Array(maxSamples)
      let count = 0
      let firstMax = 0
      const cpu0 = process.cpuUsage()
      const start = performance.now()
      const deadline = start + c.seconds * 1000
      const perConnMax = Math.ceil(c.maxOps / scale.sessions.length)
      const totals = await Promise.all(scale.sessions.map((s) => {
        let first = true
        return s.loop(deadline, perConnMax, (ms) => {
          if (first) {
            first = false
            const sinceStart = performance.now() - start
            if (sinceStart > firstMax) firstMax = sinceStart
          }
          if (count < maxSamples) samples[count++] = ms
        })
      }))
      const elapsed = (performance.now() - start) / 1000
      const cpu = process.cpuUsage(cpu0)
      const calls = totals.reduce((a, b) => a + b, 0)
      const sorted = samples.subarray(0, count).sort()
      return {
        ops: calls,
        elapsed,
        cpu: (cpu.user + cpu.system) / 1000,
        p50: percentile(sorted, 0.5),
        p99: percentile(sorted, 0.99),
        first: firstMax,
        rss0: scale.rss0,
        rss1: (await stats({ gc: true })).rss
      }
    },
    scaleClose: async () => {
      if (scale !== undefined) await closeMany(scale.sessions)
      scale = undefined
      return null
    }
  })
}

/** Runs `n` tasks, sequentially. */
export const times = async (n: number, f: (i: number) => Promise<void>): Promise<void> => {
  for (let i = 0; i < n; i++) await f(i)
}
