/**
 * The effect-rpyc peer of the benchmark suite, through the library's public modules:
 *
 *   node ts-peer.mjs server      a `Server.make` of BenchService on 127.0.0.1 (port 0)
 *   node ts-peer.mjs client      a client driven by the suite (bench/peers/harness.ts)
 *
 * The client is written the way an Effect user writes one: `yield*` of remote calls in `Effect.gen`
 * (one `Effect.runPromise` per batch of calls); the calls in flight are awaited together with
 * `Promise.all`, as the birpc row does. Logs are kept at Warning (Python RPyC's servers log nothing at their default
 * level either).
 */
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as Runtime from "effect/Runtime"
import * as Scope from "effect/Scope"
import * as Client from "../../src/client/Client.js"
import * as Server from "../../src/server/Server.js"
import { Service } from "../../src/service/Service.js"
import {
  type Driver,
  fail,
  HOST,
  MiB,
  runClient,
  send,
  serveControl,
  type Session,
  timedAddsEffect
} from "./harness.js"

/** What every RPyC server of the suite serves (bench/peers/py_peer.py has the same in Python). */
export class BenchService extends Service {
  exposed_add(a: number, b: number) {
    return a + b
  }
  /** The server calls the client's `fn` back: two round trips per call. */
  exposed_callMe(fn: (x: number) => unknown, x: number) {
    return fn(x)
  }
  exposed_upload(bytes: Uint8Array) {
    return bytes.length
  }
  exposed_list(n: number) {
    const out = new Array(n)
    for (let i = 0; i < n; i++) out[i] = [i, i + 1, "ab"]
    return out
  }
}

/** Frames up to 256 MiB: the 64 MiB upload does not fit the default (64 MiB) with its envelope. */
const MAX_FRAME = 256 * MiB

const quiet = <A, E, R>(effect: Effect.Effect<A, E, R>) => Logger.withMinimumLogLevel(effect, LogLevel.Warning)

const server = () => {
  const program = Effect.gen(function*() {
    const s = yield* Server.make(BenchService, { host: HOST, port: 0, maxFrameSize: MAX_FRAME, backlog: 4096 })
    send({ ready: true, port: s.port })
    serveControl({ connections: () => s.connections.size })
    return yield* Effect.never
  })
  Effect.runFork(quiet(Effect.scoped(program)))
}

// one runtime with the log level set, as an application configures its own once: not a
// `withMinimumLogLevel` around every operation, which sets and restores a FiberRef each time
const runtime = Effect.runSync(quiet(Effect.runtime<never>()))
const run = <A>(effect: Effect.Effect<A, unknown>): Promise<A> => Runtime.runPromise(runtime, effect)

const open = async (port: number): Promise<Session> => {
  const scope = Effect.runSync(Scope.make())
  const conn = await run(Scope.extend(Client.connect({ host: HOST, port, maxFrameSize: MAX_FRAME }), scope))
  const root = conn.root
  const add = root.add
  const callMe = root.callMe
  const upload = root.upload
  const list = root.list
  const cb = (x: number) => x + 1
  let i = 0
  return {
    seq: (n) =>
      run(Effect.gen(function*() {
        for (let k = 0; k < n; k++, i++) {
          const r = yield* add(i, 1)
          if (r !== i + 1) fail("add", r)
        }
      })),
    // calls in flight as birpc's row makes them: awaited together (remote operations are
    // PromiseLike). `Effect.all` with unbounded concurrency would fork a fiber per call, which
    // costs several times the call itself (`npx tsx bench/in-flight.ts` measures both)
    pipelined: async (n) => {
      const results = await Promise.all(Array.from({ length: n }, (_, k) => add(k, 1)))
      if (results[n - 1] !== n) fail("add", results[n - 1])
    },
    callback: (n) =>
      run(Effect.gen(function*() {
        for (let k = 0; k < n; k++, i++) {
          const r = yield* callMe(cb, i)
          if (r !== i + 1) fail("callMe", r)
        }
      })),
    upload: (bytes) =>
      run(Effect.gen(function*() {
        const r = yield* upload(bytes)
        if (r !== bytes.length) fail("upload", r)
      })),
    list: (size) =>
      run(Effect.gen(function*() {
        const r = yield* list(size)
        if (!Array.isArray(r) || r.length !== size) fail("list", r)
      })),
    loop: (deadline, maxCalls, onCall) => run(timedAddsEffect(add, deadline, maxCalls, onCall)),
    close: () => Effect.runPromise(Scope.close(scope, Exit.void))
  }
}

const driver: Driver = {
  open,
  once: (port) =>
    run(Effect.scoped(Effect.gen(function*() {
      const conn = yield* Client.connect({ host: HOST, port })
      const r = yield* conn.root.add(1, 1)
      if (r !== 2) fail("add", r)
    })))
}

if (process.argv[2] === "server") server()
else runClient(driver)
