/**
 * buffiter / buffiterStream against a TS peer (in-memory pair): items, the growing BUFFITER
 * batches, options, early exit, errors.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import { buffiter, buffiterStream } from "../../src/async/Async.js"
import { RemoteError } from "../../src/internal/base/Errors.js"
import { byRef } from "../../src/internal/engine/Engine.js"
import { remote } from "../support/Peers.js"
import { AsyncTestService, pair } from "./support.js"

const setup = Effect.gen(function*() {
  const service = new AsyncTestService()
  const { client, server } = yield* pair(service)
  return { service, client, server }
})

/** The batch sizes a stream delivered (one chunk per BUFFITER reply, empty last one dropped). */
const batches = <A, E>(stream: Stream.Stream<A, E>) =>
  Stream.runCollect(Stream.chunks(stream)).pipe(
    Effect.map((cs) => Chunk.toReadonlyArray(cs).map((c) => c.length).filter((n) => n > 0))
  )

describe("buffiterStream (TS peer)", () => {
  it.scoped("streams a remote generator in batches of 10, 20, 40, …", () =>
    Effect.gen(function*() {
      const { client } = yield* setup
      const items = yield* Stream.runCollect(buffiterStream<number>(client.root.count(100)))
      assert.deepStrictEqual(Chunk.toReadonlyArray(items), Array.from({ length: 100 }, (_, i) => i))
      assert.deepStrictEqual(yield* batches(buffiterStream(client.root.count(100))), [10, 20, 40, 30])
      assert.deepStrictEqual(yield* batches(buffiterStream(client.root.count(0))), [])
    }))

  it.scoped("asks the peer for exactly the growing counts (an infinite iterator pulls 10+20+40+80)", () =>
    Effect.gen(function*() {
      const { client, service } = yield* setup
      const first = yield* Stream.runCollect(Stream.take(buffiterStream<number>(client.root.naturals()), 150))
      assert.deepStrictEqual(Chunk.toReadonlyArray(first), Array.from({ length: 150 }, (_, i) => i))
      assert.strictEqual(service.naturals.pulled(), 150)
    }))

  it.scoped("chunk, factor and maxChunk options: 1, 3, 9, 20, 20, …", () =>
    Effect.gen(function*() {
      const { client } = yield* setup
      const sizes = yield* batches(buffiterStream(client.root.count(73), { chunk: 1, factor: 3, maxChunk: 20 }))
      assert.deepStrictEqual(sizes, [1, 3, 9, 20, 20, 20])
      const constant = yield* batches(buffiterStream(client.root.count(25), { chunk: 5, factor: 1 }))
      assert.deepStrictEqual(constant, [5, 5, 5, 5, 5])
      assert.throws(() => buffiterStream(client.root.count(1), { factor: 0.5 }), RangeError, /factor must be >= 1/)
      assert.throws(() => buffiterStream(client.root.count(1), { chunk: 0 }), RangeError, /chunk must be/)
      assert.throws(() => buffiter(client.root.count(1), { maxChunk: 0 }), RangeError, /maxChunk must be/)
    }))

  it.scoped("works on a remote list (a JS array by reference) and on a resolved netref", () =>
    Effect.gen(function*() {
      const { client } = yield* setup
      const list = yield* remote(client.root.echo(byRef(["a", "b", "c"])))
      // echo returns our own array back to us: a local value, streamed locally
      assert.deepStrictEqual(Chunk.toReadonlyArray(yield* Stream.runCollect(buffiterStream(list))), ["a", "b", "c"])
      const gen = yield* remote(client.root.count(3))
      assert.deepStrictEqual(Chunk.toReadonlyArray(yield* Stream.runCollect(buffiterStream(gen))), [0, 1, 2])
    }))

  it.scoped("fails with the remote error (not iterable)", () =>
    Effect.gen(function*() {
      const { client } = yield* setup
      const error = yield* Effect.flip(Stream.runCollect(buffiterStream(client.root.echo)))
      assert.instanceOf(error, RemoteError)
    }))

  it.scoped("releases the remote iterator when the stream ends", () =>
    Effect.gen(function*() {
      const { client, server } = yield* setup
      const gen = yield* remote(client.root.count(1000))
      const held = server.localObjectCount
      yield* Stream.runDrain(Stream.take(buffiterStream(gen), 5))
      // DEL of the iterator is sent when the stream's scope closes; a round trip later it is gone
      yield* remote(client.root.echo(1))
      assert.isAtMost(server.localObjectCount, held)
    }))
})

describe("buffiter (TS peer, for await)", () => {
  it.scoped("iterates with for await, in growing batches", () =>
    Effect.gen(function*() {
      const { client } = yield* setup
      const seen = yield* Effect.promise(async () => {
        const out: Array<number> = []
        for await (const x of buffiter<number>(client.root.count(45))) out.push(x)
        return out
      })
      assert.deepStrictEqual(seen, Array.from({ length: 45 }, (_, i) => i))
    }))

  it.scoped("breaking out early pulls only the batches needed", () =>
    Effect.gen(function*() {
      const { client, service } = yield* setup
      const seen = yield* Effect.promise(async () => {
        const out: Array<number> = []
        for await (const x of buffiter<number>(client.root.naturals(), { chunk: 4 })) {
          out.push(x)
          if (out.length === 10) break
        }
        return out
      })
      assert.deepStrictEqual(seen, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9])
      assert.strictEqual(service.naturals.pulled(), 4 + 8)
    }))

  it.scoped("rejects with the typed remote error", () =>
    Effect.gen(function*() {
      const { client } = yield* setup
      const error = yield* Effect.promise(async () => {
        try {
          for await (const _ of buffiter(client.root.answer_missing)) void _
          return undefined
        } catch (e) {
          return e
        }
      })
      assert.instanceOf(error, RemoteError)
      assert.strictEqual((error as RemoteError).name, "AttributeError")
    }))
})
