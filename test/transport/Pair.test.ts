import * as Socket from "@effect/platform/Socket"
import { assert, describe, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Queue from "effect/Queue"
import * as Scope from "effect/Scope"
import * as Pair from "../../src/transport/Pair.js"

const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes)

/** Runs `socket` in the background with a synchronous handler feeding a queue. */
const receive = (socket: Socket.Socket) =>
  Effect.gen(function*() {
    const inbox = yield* Queue.unbounded<Uint8Array>()
    const fiber = yield* socket.run((chunk) => {
      inbox.unsafeOffer(chunk)
    }).pipe(Effect.forkScoped)
    return { inbox, fiber }
  })

const takeN = (inbox: Queue.Queue<Uint8Array>, n: number) =>
  Effect.forEach(Array.from({ length: n }), () => Queue.take(inbox))

const closeCode = (exit: Exit.Exit<void, unknown>): number | undefined => {
  if (Exit.isSuccess(exit)) return undefined
  const error = Cause.failureOption(exit.cause)
  return error._tag === "Some" && Socket.SocketCloseError.is(error.value) ? error.value.code : undefined
}

describe("Pair", () => {
  it.scoped("delivers 1000 chunks in order, each exactly as written", () =>
    Effect.gen(function*() {
      const [a, b] = yield* Pair.make()
      const { inbox } = yield* receive(b)
      const write = yield* a.writer
      for (let i = 0; i < 1000; i++) yield* write(`chunk-${i}`)
      const got = yield* takeN(inbox, 1000)
      assert.deepStrictEqual(got.map(text), Array.from({ length: 1000 }, (_, i) => `chunk-${i}`))
    }))

  it.scoped("works in both directions (echo) and copies written buffers", () =>
    Effect.gen(function*() {
      const [client, server] = yield* Pair.make()
      const serverWrite = yield* server.writer
      yield* server.run((chunk) => serverWrite(chunk)).pipe(Effect.forkScoped)
      const { inbox } = yield* receive(client)
      const write = yield* client.writer
      const buffer = new Uint8Array([1, 2, 3])
      yield* write(buffer)
      buffer[0] = 99 // reusing the buffer after the write must not change what was sent
      assert.deepStrictEqual(Array.from(yield* Queue.take(inbox)), [1, 2, 3])
    }))

  it.scoped("writes made before the peer runs are buffered, and onOpen runs", () =>
    Effect.gen(function*() {
      const [a, b] = yield* Pair.make()
      const write = yield* a.writer
      yield* write("early-1")
      yield* write("early-2")
      const opened = yield* Deferred.make<void>()
      const inbox = yield* Queue.unbounded<Uint8Array>()
      yield* b.run((chunk) => {
        inbox.unsafeOffer(chunk)
      }, { onOpen: Deferred.succeed(opened, undefined) }).pipe(Effect.forkScoped)
      yield* Deferred.await(opened)
      assert.deepStrictEqual((yield* takeN(inbox, 2)).map(text), ["early-1", "early-2"])
    }))

  it.scoped("releasing a writer is a FIN: the peer drains and succeeds; the other direction stays open", () =>
    Effect.gen(function*() {
      const [a, b] = yield* Pair.make()
      const atB = yield* receive(b)
      const atA = yield* receive(a)
      const writerScope = yield* Scope.make()
      const writeA = yield* Scope.extend(a.writer, writerScope)
      yield* writeA("last words")
      yield* Scope.close(writerScope, Exit.void)
      const exitB = yield* Fiber.await(atB.fiber)
      assert.isTrue(Exit.isSuccess(exitB))
      assert.strictEqual(text(yield* Queue.take(atB.inbox)), "last words")
      // a half-closed: it can no longer write, but still receives
      const writeFailure = yield* Effect.flip(writeA("too late"))
      assert.strictEqual(writeFailure.reason, "Write")
      const writeB = yield* b.writer
      yield* writeB("reply")
      assert.strictEqual(text(yield* Queue.take(atA.inbox)), "reply")
      assert.isNull(atA.fiber.unsafePoll())
    }))

  it.scoped("a CloseEvent tears both sides down with SocketCloseError after in-flight data", () =>
    Effect.gen(function*() {
      const [a, b] = yield* Pair.make()
      const atA = yield* receive(a)
      const writeA = yield* a.writer
      const writeB = yield* b.writer
      yield* writeA("sent before close")
      yield* writeA(new Socket.CloseEvent(1000, "bye"))
      const exitA = yield* Fiber.await(atA.fiber)
      assert.strictEqual(closeCode(exitA), 1000)
      // b starts reading only now: it still gets the data sent before the close, then the close
      const atB = yield* receive(b)
      const exitB = yield* Fiber.await(atB.fiber)
      assert.strictEqual(text(yield* Queue.take(atB.inbox)), "sent before close")
      assert.strictEqual(closeCode(exitB), 1000)
      assert.isTrue(
        Socket.SocketCloseError.isClean((code) => code === 1000)(
          Cause.squash((exitB as Exit.Failure<void, unknown>).cause)
        )
      )
      // no more writes either way
      assert.strictEqual((yield* Effect.flip(writeA("x"))).reason, "Write")
      assert.strictEqual((yield* Effect.flip(writeB("x"))).reason, "Write")
    }))

  it.scoped("a CloseEvent drops what the closing side had not read yet", () =>
    Effect.gen(function*() {
      const [a, b] = yield* Pair.make()
      const writeB = yield* b.writer
      yield* writeB("never read")
      const writeA = yield* a.writer
      yield* writeA(new Socket.CloseEvent(4000))
      const seen: Array<string> = []
      const exit = yield* Effect.exit(a.run((chunk) => {
        seen.push(text(chunk))
      }))
      assert.deepStrictEqual(seen, [])
      assert.strictEqual(closeCode(exit), 4000)
    }))

  it.scoped("a failing handler Effect fails run", () =>
    Effect.gen(function*() {
      const [a, b] = yield* Pair.make()
      const write = yield* a.writer
      yield* write("boom")
      const exit = yield* Effect.exit(b.run(() => Effect.fail("handler failed" as const)))
      assert.deepStrictEqual(exit, Exit.fail("handler failed" as const))
    }))

  it.effect("closing the pair's scope ends runs still going with SocketCloseError", () =>
    Effect.gen(function*() {
      const scope = yield* Scope.make()
      const [a] = yield* Scope.extend(Pair.make(), scope)
      const fiber = yield* Effect.fork(a.run(() => {}))
      yield* Scope.close(scope, Exit.void)
      assert.strictEqual(closeCode(yield* Fiber.await(fiber)), 1000)
    }))
})
