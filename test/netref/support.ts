/**
 * Helpers of the netref tests (test/netref/*.test.ts); the shared peers, children and polling are
 * test/support's (`serve`, `connect`, `serverConnection`, `remote` in Peers.ts, `rawClient` in
 * RawPeer.ts, `eventually` in Eventually.ts):
 *
 * - `wireSpy(port)`: a recording TCP relay in front of a server. Every frame crossing it is decoded,
 *   so a test can assert which requests (handler ids and arguments) an operation put on the wire.
 * - `remoteError(op, name)`: the RemoteError an operation must fail with; `collect`: async iteration.
 * - `gcUntil`: forces garbage collection (vitest runs with --expose-gc) until a condition holds.
 * - Python: `pythonServer(config)` spawns fixtures/netref_server.py; `pythonClient(script, …)`
 *   runs a Python client fixture of fixtures/ and parses its JSON line.
 * - `live`: a test on real sockets and the real clock, with a Scope and quiet logs.
 */
import { assert, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import type * as Scope from "effect/Scope"
import * as Net from "node:net"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"
import type { RemoteError } from "../../src/internal/base/Errors.js"
import * as Channel from "../../src/internal/wire/Channel.js"
import * as Message from "../../src/internal/wire/Message.js"
import * as Peers from "../support/Peers.js"
import { remote } from "../support/Peers.js"

export const { Handler, Label, MsgType } = Message

// ---------------------------------------------------------------------------------------------
// effects of remote operations

/** Runs `op` and returns its failure, which must be a RemoteError of class `name`. */
export const remoteError = (op: unknown, name: string): Effect.Effect<RemoteError> =>
  Effect.gen(function*() {
    const result = yield* Effect.either(remote(op))
    if (Either.isRight(result)) return assert.fail(`expected ${name}, got success ${String(result.right)}`)
    const e = result.left
    assert.strictEqual(e._tag, "RemoteError", `expected RemoteError ${name}, got ${e._tag}: ${e.message}`)
    const r = e as RemoteError
    assert.strictEqual(r.name, name, `expected ${name}, got ${r.name}: ${r.message}`)
    return r
  })

/** Collects an async iterable (a netref or a RemoteOp) into an array. */
export const collect = (iterable: unknown): Effect.Effect<Array<unknown>, unknown> =>
  Effect.tryPromise({
    try: async () => {
      const out: Array<unknown> = []
      for await (const x of iterable as AsyncIterable<unknown>) out.push(x)
      return out
    },
    catch: (e) => e
  })

// ---------------------------------------------------------------------------------------------
// garbage collection

const gc = (): void => {
  const f = (globalThis as { gc?: () => void }).gc
  if (f === undefined) throw new Error("run node with --expose-gc (vitest.config.ts does)")
  f()
}

/**
 * Forces garbage collection and lets finalizers run, until `predicate` holds; dies after
 * `timeoutMillis`.
 */
export const gcUntil = (
  predicate: () => boolean,
  message: string | (() => string),
  timeoutMillis = 20_000
): Effect.Effect<void> =>
  Effect.promise(async () => {
    const deadline = Date.now() + timeoutMillis
    while (true) {
      gc()
      await new Promise((r) => setImmediate(r))
      if (predicate()) return true
      if (Date.now() > deadline) return false
      await new Promise((r) => setTimeout(r, 10))
    }
  }).pipe(Effect.flatMap((ok) =>
    ok
      ? Effect.void
      : Effect.dieMessage(`timed out (gc) waiting until ${typeof message === "function" ? message() : message}`)
  ))

/** `gcUntil` with a condition evaluated by an Effect (a remote count). */
export const gcUntilEffect = <E, R>(
  check: Effect.Effect<boolean, E, R>,
  message: string,
  timeoutMillis = 30_000
): Effect.Effect<void, E, R> =>
  Effect.gen(function*() {
    const deadline = Date.now() + timeoutMillis
    while (true) {
      yield* Effect.promise(async () => {
        gc()
        await new Promise((r) => setImmediate(r))
      })
      if (yield* check) return
      if (Date.now() > deadline) return yield* Effect.dieMessage(`timed out (gc) waiting until ${message}`)
      yield* Effect.sleep("10 millis")
    }
  })

// ---------------------------------------------------------------------------------------------
// a recording relay

/** One decoded frame that crossed the relay. */
export interface WireFrame {
  /** "out": client → server; "in": server → client */
  readonly dir: "out" | "in"
  readonly msg: Message.MsgType
  readonly seq: number
  /** for requests: the handler id */
  readonly handler: number | undefined
  /** for requests: the boxed argument tuple; for replies: the boxed value; for exceptions: vinegar */
  readonly args: unknown
}

export interface WireSpy {
  /** Connect clients here. */
  readonly port: number
  readonly frames: ReadonlyArray<WireFrame>
  /**
   * The handler ids of the requests sent in `dir` since the last `clear()`, without DELs (which
   * garbage collection sends at any time) unless `withDel`.
   */
  readonly requests: (dir?: "out" | "in", withDel?: boolean) => Array<number>
  /** The handler names (`"GETATTR"`, …) of those requests. */
  readonly names: (dir?: "out" | "in", withDel?: boolean) => Array<string>
  readonly clear: () => void
}

/**
 * A TCP relay in front of `targetPort` on 127.0.0.1 that decodes (v5 or v6, auto-detected) and
 * records every frame in both directions. Closed with the scope.
 */
export const wireSpy = (targetPort: number): Effect.Effect<WireSpy, Error, Scope.Scope> =>
  Effect.gen(function*() {
    let frames: Array<WireFrame> = []
    const sockets = new Set<Net.Socket>()
    const record = (dir: "out" | "in") => {
      const decoder = new Channel.FrameDecoder({ maxFrameSize: 1 << 30 })
      let version: Message.WireVersion | undefined
      return (chunk: Buffer) => {
        for (const payload of decoder.push(chunk)) {
          version ??= Message.detectVersion(payload)
          const env = Message.decodePayload(version, payload)
          const isRequest = env.msg === MsgType.REQUEST
          const [handler, args] = isRequest ? (env.args as [number, unknown]) : [undefined, env.args]
          frames.push({ dir, msg: env.msg, seq: env.seq, handler, args })
        }
      }
    }
    const server = yield* Effect.acquireRelease(
      Effect.async<Net.Server, Error>((resume) => {
        const server = Net.createServer((client) => {
          const upstream = Net.createConnection({ host: "127.0.0.1", port: targetPort })
          sockets.add(client)
          sockets.add(upstream)
          const out = record("out")
          const inn = record("in")
          client.on("data", (chunk: Buffer) => {
            out(chunk)
            upstream.write(chunk)
          })
          upstream.on("data", (chunk: Buffer) => {
            inn(chunk)
            client.write(chunk)
          })
          client.on("end", () => upstream.end())
          upstream.on("end", () => client.end())
          client.on("error", () => upstream.destroy())
          upstream.on("error", () => client.destroy())
          client.on("close", () => upstream.destroy())
          upstream.on("close", () => client.destroy())
        })
        server.once("error", (e) => resume(Effect.fail(e)))
        server.listen(0, "127.0.0.1", () => resume(Effect.succeed(server)))
      }),
      (server) =>
        Effect.async<void>((resume) => {
          for (const s of sockets) s.destroy()
          server.close(() => resume(Effect.void))
        })
    )
    const requests = (dir: "out" | "in" = "out", withDel = false) =>
      frames.filter((f) => f.dir === dir && f.msg === MsgType.REQUEST && (withDel || f.handler !== Handler.DEL))
        .map((f) => f.handler!)
    return {
      port: (server.address() as Net.AddressInfo).port,
      get frames() {
        return frames
      },
      requests,
      names: (dir = "out", withDel = false) => requests(dir, withDel).map(Message.handlerName),
      clear: () => {
        frames = []
      }
    }
  })

// ---------------------------------------------------------------------------------------------
// Python

const HERE = Path.dirname(fileURLToPath(import.meta.url))

/** A file of test/netref/fixtures. */
export const fixture = (name: string): string => Path.join(HERE, "fixtures", name)

/** Spawns fixtures/netref_server.py with protocol_config overrides; its port. */
export const pythonServer = (config: Record<string, unknown> = {}) =>
  Peers.pythonServer(fixture("netref_server.py"), [JSON.stringify(config)])

/**
 * Runs a Python client fixture (`script` with `args`) to completion and returns its JSON result
 * line; fails the test with its output if it exits non-zero.
 */
export const pythonClient = <A = Record<string, any>>(script: string, ...args: ReadonlyArray<string>) =>
  Peers.pythonClient<A>(fixture(script), args, { timeout: "80 seconds" })

// ---------------------------------------------------------------------------------------------
// tests

type Body = () => Effect.Effect<unknown, unknown, any>

const quiet = Logger.minimumLogLevel(LogLevel.Error)

const wrap = (body: Body) => () => (body() as Effect.Effect<unknown, unknown, Scope.Scope>).pipe(Effect.provide(quiet))

/**
 * A test on real sockets and the real clock, with a Scope. The body's requirements are cast: a
 * resolved netref is typed `any`, and `yield*` of an `any` makes Effect.gen infer `R = unknown`;
 * the only real requirement is the Scope. Logs below Error level are dropped.
 */
export const live = Object.assign(
  (name: string, body: Body, timeout?: number) => it.scopedLive(name, wrap(body), timeout),
  {
    /** A test documenting a bug (named in the test's comment). */
    fails: (name: string, body: Body, timeout?: number) => it.scopedLive.fails(name, wrap(body), timeout)
  }
)
