import type * as Socket from "@effect/platform/Socket"
import { assert, describe, it } from "@effect/vitest"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Scope from "effect/Scope"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"
import * as Stdio from "../../src/transport/Stdio.js"

const fixture = fileURLToPath(new URL("./fixtures/stdio-echo.ts", import.meta.url))
const repoRoot = Path.resolve(Path.dirname(fixture), "../../..")

const encode = (s: string) => new TextEncoder().encode(s)

/** Spawns the echo fixture; its stderr is collected and `noise` resolves once it printed "noise". */
const spawnEcho = Effect.gen(function*() {
  const noise = yield* Deferred.make<void>()
  let stderr = ""
  const spawned = yield* Stdio.spawn(process.execPath, ["--import", "tsx", fixture], {
    cwd: repoRoot,
    stderr: (chunk) => {
      stderr += new TextDecoder().decode(chunk)
      if (stderr.includes("noise")) Deferred.unsafeDone(noise, Exit.void)
    }
  })
  return { ...spawned, noise, stderr: () => stderr }
})

/** Starts reading `socket`; `until(n)` waits until n bytes have arrived and returns them all. */
const collect = (socket: Socket.Socket) =>
  Effect.gen(function*() {
    const received: Array<number> = []
    let waiting: { readonly n: number; readonly done: Deferred.Deferred<void> } | undefined
    const fiber = yield* socket.run((chunk) => {
      received.push(...chunk)
      if (waiting && received.length >= waiting.n) Deferred.unsafeDone(waiting.done, Exit.void)
    }).pipe(Effect.forkScoped)
    const until = (n: number) =>
      Effect.gen(function*() {
        if (received.length < n) {
          const done = yield* Deferred.make<void>()
          waiting = { n, done }
          if (received.length < n) yield* Deferred.await(done)
        }
        return new Uint8Array(received)
      })
    return { fiber, until }
  })

const concat = (chunks: ReadonlyArray<Uint8Array>) => {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0))
  let offset = 0
  for (const chunk of chunks) {
    out.set(chunk, offset)
    offset += chunk.length
  }
  return out
}

describe("Stdio", () => {
  it.scopedLive("echoes through a child serving over its own stdio; its console.log noise goes to stderr", () =>
    Effect.gen(function*() {
      const child = yield* spawnEcho
      const reader = yield* collect(child.socket)
      const writerScope = yield* Scope.make()
      const write = yield* Scope.extend(child.socket.writer, writerScope)
      // bytes that look like RPyC frames, a large binary chunk, and text
      const chunks = [
        new Uint8Array([0, 0, 0, 3, 0, 1, 2, 3, 10]),
        new Uint8Array(200_000).map((_, i) => (i * 7) % 256),
        encode("noise? no: payload\n")
      ]
      for (const chunk of chunks) yield* write(chunk)
      const expected = concat(chunks)
      const echoed = yield* reader.until(expected.length)
      assert.deepStrictEqual(echoed, expected)
      yield* Deferred.await(child.noise)
      assert.include(child.stderr(), "noise: started")

      // closing our side (EOF on the child's stdin) lets the child finish by itself: exit 0, and its
      // stdout EOF ends our run successfully
      yield* Scope.close(writerScope, Exit.void)
      const status = yield* child.exit
      assert.deepStrictEqual(status, { code: 0, signal: null })
      assert.isTrue(Exit.isSuccess(yield* Fiber.await(reader.fiber)))
      assert.strictEqual(echoed.length, expected.length, "nothing but the echo was on stdout")
    }))

  it.live("closing the scope kills the child (SIGTERM) and waits for it to exit", () =>
    Effect.gen(function*() {
      const scope = yield* Scope.make()
      const child = yield* Scope.extend(spawnEcho, scope)
      const reader = yield* Scope.extend(collect(child.socket), scope)
      const write = yield* Scope.extend(child.socket.writer, scope)
      yield* write("ping")
      yield* reader.until(4) // the child is up and serving
      assert.isNull(child.process.exitCode)
      yield* Scope.close(scope, Exit.void)
      // the finalizer returned only after the process exited
      assert.strictEqual(child.process.signalCode, "SIGTERM")
      assert.deepStrictEqual(yield* child.exit, { code: null, signal: "SIGTERM" })
    }))

  it.live("a child that ignores SIGTERM gets SIGKILL after the grace period", () =>
    Effect.gen(function*() {
      const scope = yield* Scope.make()
      const script = "process.on('SIGTERM', () => {}); process.stdout.write('ready'); setInterval(() => {}, 1000)"
      const child = yield* Scope.extend(
        Stdio.spawn(process.execPath, ["-e", script], { killTimeout: "200 millis" }),
        scope
      )
      const reader = yield* Scope.extend(collect(child.socket), scope)
      yield* reader.until(5) // its SIGTERM handler is installed
      yield* Scope.close(scope, Exit.void)
      assert.deepStrictEqual(yield* child.exit, { code: null, signal: "SIGKILL" })
    }))

  it.scopedLive("a command that cannot start fails spawn with a SocketError", () =>
    Effect.gen(function*() {
      const error = yield* Stdio.spawn("/nonexistent/effect-rpyc-command").pipe(Effect.flip)
      assert.strictEqual(error._tag, "SocketError")
      assert.strictEqual(error.reason, "Open")
      assert.match(String((error as Socket.SocketGenericError).cause), /ENOENT/)
    }))
})
