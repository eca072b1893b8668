/**
 * Pooled servers (src/server/Pool.ts): worker processes sharing one port, a CPU-bound call that no
 * longer blocks other clients, a killed worker replaced, graceful shutdown, and `rpyc-classic --mode pool`.
 */
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Scope from "effect/Scope"
import * as Fs from "node:fs"
import * as Path from "node:path"
import * as Classic from "../../src/classic/Classic.js"
import * as Client from "../../src/client/Client.js"
import * as Transports from "../../src/client/Transports.js"
import * as Logging from "../../src/Logging.js"
import * as Pool from "../../src/server/Pool.js"
import { CHILD_TIMEOUT, spawnCli } from "../cli/support.js"
import { isAlive, run } from "../support/Child.js"
import { eventually } from "../support/Eventually.js"
import { clientFiles, makePki, type Pki, serverFiles } from "../support/Pki.js"
import { PYTHON, runPythonTests } from "../support/Python.js"
import { tempDir } from "../support/TempDir.js"
import { fixture, TIMEOUT } from "./support.js"

let pki: Pki
beforeAll(() => {
  pki = makePki()
})
afterAll(() => pki?.cleanup())

const service = { module: fixture("pool-services.ts"), export: "PoolTestService" }

/** Collects the RPyC-style log lines of the effect under test. */
const withLogs = () => {
  const lines: Array<string> = []
  return { lines, layer: Logging.layer((line) => void lines.push(line)) }
}

/** A client in a scope of its own; the dialect pinned so that no probe connection takes a worker's turn. */
const connectIn = (scope: Scope.Scope, port: number) =>
  Client.connect({ port, wireVersion: 5 }).pipe(Scope.extend(scope))

describe("Pool", () => {
  it.scopedLive("a CPU-bound call on one connection does not block another client", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir()
      const started = Path.join(dir, "started")
      const stop = Path.join(dir, "stop")
      const pool = yield* Pool.make(service, { port: 0, workers: 2 }).pipe(Effect.provide(Logging.layer(() => {})))
      assert.strictEqual(pool.workers.length, 2)
      assert.strictEqual(pool.serviceName, "POOLTEST")
      const scope = yield* Effect.scope
      const slow = yield* connectIn(scope, pool.port!)
      const fast = yield* connectIn(scope, pool.port!)
      const [slowPid, fastPid] = (yield* Effect.all([slow.root.pid(), fast.root.pid()])) as [number, number]
      assert.notStrictEqual(slowPid, fastPid, "round-robin gives the second connection the other worker")
      assert.includeMembers([...pool.workers], [slowPid, fastPid])

      const spinning = yield* Effect.fork(slow.root.spin(started, stop))
      // the slow worker's event loop is now stuck in the busy loop
      yield* eventually(() => Fs.existsSync(started), "the CPU-bound call started")
      for (let i = 0; i < 20; i++) assert.strictEqual(yield* fast.root.add(i, 1), i + 1)
      assert.isNull(spinning.unsafePoll(), "the slow call is still running while the fast client was served")

      Fs.writeFileSync(stop, "")
      assert.match(String(yield* Fiber.join(spinning)), /^done/)
      assert.strictEqual(yield* slow.root.add(1, 1), 2)
    }), TIMEOUT)

  it.scopedLive("a killed worker fails only its connections and is replaced", () =>
    Effect.gen(function*() {
      const logs = withLogs()
      const pool = yield* Pool.make(service, { port: 0, workers: 2 }).pipe(Effect.provide(logs.layer))
      const scope = yield* Effect.scope
      const a = yield* connectIn(scope, pool.port!)
      const b = yield* connectIn(scope, pool.port!)
      const [pidA, pidB] = (yield* Effect.all([a.root.pid(), b.root.pid()])) as [number, number]
      assert.notStrictEqual(pidA, pidB)

      process.kill(pidA, "SIGKILL")
      yield* a.awaitClose
      const failed = yield* Effect.flip(a.root.add(1, 2))
      assert.strictEqual(failed._tag, "ConnectionClosed")
      assert.strictEqual(yield* b.root.add(2, 3), 5, "the other worker's connection lives on")

      yield* eventually(
        () => pool.replacements === 1 && pool.workers.length === 2 && !pool.workers.includes(pidA),
        "a replacement worker is ready"
      )
      const replacement = pool.workers.find((pid) => pid !== pidB)!
      assert.notStrictEqual(replacement, pidA)
      assert.isFalse(isAlive(pidA))
      assert.isTrue(
        logs.lines.some((line) => line.includes(`worker ${pidA} exited (SIGKILL); starting a replacement`)),
        logs.lines.join("\n")
      )
      // two new connections: round-robin over both ready workers, the replacement among them
      const c = yield* connectIn(scope, pool.port!)
      const d = yield* connectIn(scope, pool.port!)
      const pids = (yield* Effect.all([c.root.pid(), d.root.pid()])) as Array<number>
      assert.sameMembers(pids, [replacement, pidB])
      assert.strictEqual(yield* b.root.add(3, 4), 7)

      // the workers' own lines reach the parent's logger: welcome, and goodbye when a client leaves
      yield* b.close()
      yield* eventually(
        () => logs.lines.some((line) => /:goodbye 127\.0\.0\.1:\d+\s*$/.test(line)),
        "a worker logged goodbye"
      )
      assert.isTrue(logs.lines.some((line) => /:accepted 127\.0\.0\.1:\d+ \(worker \d+\)\s*$/.test(line)))
      assert.isTrue(logs.lines.some((line) => /:welcome 127\.0\.0\.1:\d+\s*$/.test(line)))
    }), TIMEOUT)

  it.scopedLive(
    "closing the pool stops accepting, drains an in-flight call, then the workers exit",
    () =>
      Effect.gen(function*() {
        const dir = yield* tempDir()
        const started = Path.join(dir, "started")
        const stop = Path.join(dir, "stop")
        const poolScope = yield* Scope.make()
        const pool = yield* Pool.make(service, { port: 0, workers: 2, drainTimeout: "60 seconds" }).pipe(
          Effect.provide(Logging.layer(() => {})),
          Scope.extend(poolScope)
        )
        const workers = [...pool.workers]
        const clientScope = yield* Scope.make()
        const conn = yield* connectIn(clientScope, pool.port!)
        const call = yield* Effect.fork(conn.root.spin(started, stop))
        yield* eventually(() => Fs.existsSync(started), "the call is in flight")

        const closing = yield* Effect.fork(Scope.close(poolScope, Exit.void))
        // no new connections once the shutdown began
        yield* eventually(
          Effect.exit(Effect.scoped(Client.connect({ port: pool.port!, wireVersion: 5 }))),
          Exit.isFailure,
          { what: "the pool refuses new connections" }
        )
        Fs.writeFileSync(stop, "")
        assert.match(String(yield* Fiber.join(call)), /^done/, "the in-flight call completed")
        assert.strictEqual(yield* conn.root.add(2, 2), 4, "an open connection is still served while draining")
        assert.isNull(closing.unsafePoll(), "the shutdown waits for the open connection")

        yield* Scope.close(clientScope, Exit.void)
        yield* Fiber.join(closing)
        for (const pid of workers) assert.isFalse(isAlive(pid), `worker ${pid} exited`)
      }),
    TIMEOUT
  )

  it.scopedLive("Pool.layer: a drain that runs out of time closes the connections left", () =>
    Effect.gen(function*() {
      const poolScope = yield* Scope.make()
      // no SIGKILL to fall back on within the test's time: only the drain timeout can end this
      const context = yield* Layer.buildWithScope(
        Pool.layer(service, { port: 0, workers: 1, drainTimeout: "200 millis", killTimeout: "1 hour" }).pipe(
          Layer.provide(Logging.layer(() => {}))
        ),
        poolScope
      )
      const pool = Context.get(context, Pool.RpycPool)
      const conn = yield* connectIn(yield* Effect.scope, pool.port!)
      assert.strictEqual(yield* conn.root.add(1, 1), 2)
      yield* Scope.close(poolScope, Exit.void)
      yield* conn.awaitClose
      assert.isTrue(conn.closed)
    }), TIMEOUT)

  it.scopedLive("over a Unix socket and over TLS", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir()
      const path = Path.join(dir, "pool.sock")
      const unix = yield* Pool.make(service, { socketPath: path, workers: 1 }).pipe(
        Effect.provide(Logging.layer(() => {}))
      )
      assert.deepStrictEqual(unix.address, { _tag: "UnixAddress", path })
      const viaUnix = yield* Transports.unixConnect(path)
      assert.strictEqual(yield* viaUnix.root.add(1, 1), 2)
      assert.include(unix.workers, yield* viaUnix.root.pid())

      const tls = yield* Pool.make(service, {
        port: 0,
        workers: 1,
        tls: serverFiles(pki)
      }).pipe(Effect.provide(Logging.layer(() => {})))
      const viaTls = yield* Transports.sslConnect({ port: tls.port!, ...clientFiles(pki) })
      assert.strictEqual(yield* viaTls.root.add(2, 2), 4)
      assert.include(tls.workers, yield* viaTls.root.pid())
      // without a client certificate the worker's handshake refuses it
      const refused = yield* Effect.exit(
        Effect.scoped(Effect.flatMap(Transports.sslConnect({ port: tls.port! }), (c) => c.root.add(1, 1)))
      )
      assert.isTrue(Exit.isFailure(refused))
    }), TIMEOUT)

  it.scopedLive("a module without the export fails at startup", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(Pool.make({ module: service.module, export: "Nope" }, { workers: 1 }))
      assert.match(String(error.cause), /no service export named Nope/)
    }), TIMEOUT)
})

describe("rpyc-classic --mode pool", () => {
  it.scopedLive("two workers serve a TS client and a Python client", () =>
    Effect.gen(function*() {
      const child = yield* spawnCli("--mode", "pool", "--workers", "2", "--port", "0")
      const port = Number(
        (yield* child.waitFor(/server started on \[127\.0\.0\.1\]:(\d+) with 2 workers/, "stderr"))[1]
      )
      const scope = yield* Scope.make()
      const a = yield* Classic.connect("127.0.0.1", port, { wireVersion: 5 }).pipe(Scope.extend(scope))
      const b = yield* Classic.connect("127.0.0.1", port, { wireVersion: 5 }).pipe(Scope.extend(scope))
      const [pidA, pidB] = (yield* Effect.all([a.eval("process.pid"), b.eval("process.pid")])) as [number, number]
      assert.notStrictEqual(pidA, pidB)
      assert.notStrictEqual(pidA, child.pid)
      assert.notStrictEqual(pidB, child.pid)
      assert.strictEqual(yield* a.eval("6*7"), 42)

      if (runPythonTests) {
        const script = [
          "import rpyc",
          `c = rpyc.classic.connect("127.0.0.1", ${port})`,
          "print(c.root.get_service_name())",
          "print(c.eval('[1, 2, 3].length'))",
          "print(c.eval('process.pid'))",
          "c.close()"
        ].join("\n")
        const result = yield* run(PYTHON, ["-c", script], { timeout: CHILD_TIMEOUT })
        assert.strictEqual(result.code, 0, result.stderr)
        const [name, three, pid] = result.stdout.trim().split("\n")
        assert.deepStrictEqual([name, three], ["SLAVE", "3"])
        assert.include([pidA, pidB], Number(pid), "a pool worker served the Python client")
      }
      // no connection left to drain: SIGTERM ends it at once
      yield* Scope.close(scope, Exit.void)
      child.process.kill("SIGTERM")
      const exit = yield* child.exit
      assert.strictEqual(exit.code, 0, child.stderr())
      for (const pid of [pidA, pidB]) assert.isFalse(isAlive(pid))
    }), TIMEOUT)
})
