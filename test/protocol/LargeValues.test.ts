/**
 * Large values over TCP. The buffer a connection builds a large batch of frames in is reused for the
 * next large batch once the stream has handed it to the system (`SpareBuffer`): whatever the order
 * and overlap of the calls, every value must arrive exactly as it was sent, both ways.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { createHash } from "node:crypto"
import * as SpareBuffer from "../../src/internal/engine/SpareBuffer.js"
import { Service } from "../../src/service/Service.js"
import { eventually } from "../support/Eventually.js"
import { connect, remote, serve } from "../support/Peers.js"

const MiB = 1024 * 1024

const digest = (bytes: Uint8Array): string => createHash("sha256").update(bytes).digest("hex")

/** `size` bytes that differ from one `seed` to another (a linear congruential sequence). */
const payload = (size: number, seed: number): Uint8Array => {
  const out = new Uint8Array(size)
  let x = seed >>> 0
  for (let i = 0; i < size; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0
    out[i] = x >>> 24
  }
  return out
}

class Digests extends Service {
  exposed_digest(bytes: Uint8Array) {
    return digest(bytes)
  }
  /** A large reply: the server's batches go through the spare buffer too. */
  exposed_make(size: number, seed: number) {
    return payload(size, seed)
  }
}

/** Empties the process's spare buffer. */
const clearSpare = () => SpareBuffer.take(0)

describe("SpareBuffer", () => {
  it("keeps one large buffer, the largest offered, and gives it out once", () => {
    clearSpare()
    assert.isUndefined(SpareBuffer.take(1))
    SpareBuffer.give(new Uint8Array(SpareBuffer.MIN_BYTES - 1))
    assert.isUndefined(SpareBuffer.take(1), "small buffers are not kept")
    SpareBuffer.give(new Uint8Array(SpareBuffer.MAX_BYTES + 1))
    assert.isUndefined(SpareBuffer.take(1), "nor buffers over the maximum")
    const medium = new Uint8Array(SpareBuffer.MIN_BYTES)
    const large = new Uint8Array(2 * SpareBuffer.MIN_BYTES)
    SpareBuffer.give(medium)
    SpareBuffer.give(large)
    SpareBuffer.give(medium)
    assert.isUndefined(SpareBuffer.take(large.length + 1), "too small for the size asked: kept")
    assert.strictEqual(SpareBuffer.take(large.length), large)
    assert.isUndefined(SpareBuffer.take(1), "taken out: nobody else gets it")
  })

  it("allocate gives the spare buffer for a large size, and a fresh one for a small size", () => {
    clearSpare()
    const kept = new Uint8Array(2 * SpareBuffer.MIN_BYTES)
    SpareBuffer.give(kept)
    const small = SpareBuffer.allocate(1000)
    assert.notStrictEqual(small.buffer, kept.buffer)
    assert.isAtLeast(small.length, 1000)
    assert.strictEqual(SpareBuffer.allocate(SpareBuffer.MIN_BYTES), kept)
    const fresh = SpareBuffer.allocate(SpareBuffer.MIN_BYTES)
    assert.notStrictEqual(fresh, kept)
    assert.strictEqual(fresh.length, SpareBuffer.MIN_BYTES)
  })
})

describe("large values over TCP", () => {
  it.scopedLive("a connection's large batch is offered for reuse once it has been written", () =>
    Effect.gen(function*() {
      const server = yield* serve(Digests)
      const c = yield* connect(server.port!)
      clearSpare()
      const bytes = payload(MiB, 1)
      assert.strictEqual(yield* remote(c.root.digest(bytes)), digest(bytes))
      yield* eventually(() => {
        const spare = SpareBuffer.take(MiB)
        if (spare !== undefined) SpareBuffer.give(spare)
        return spare !== undefined
      }, "the request's buffer is the spare one")
    }))

  it.scopedLive("distinct large values sent one after another each arrive intact", () =>
    Effect.gen(function*() {
      const server = yield* serve(Digests)
      const c = yield* connect(server.port!)
      for (let seed = 1; seed <= 8; seed++) {
        // sizes around the spare's: smaller, equal and larger than the one before
        const bytes = payload(MiB + ((seed * 7919) % 5) * 65_536 - 2 * 65_536, seed)
        assert.strictEqual(yield* remote(c.root.digest(bytes)), digest(bytes), `upload ${seed}`)
      }
    }))

  it.scopedLive("distinct large values in flight together each arrive intact", () =>
    Effect.gen(function*() {
      const server = yield* serve(Digests)
      const c = yield* connect(server.port!)
      // largest first: each later value fits in a buffer an earlier one was built in, which is
      // still being written when the next is built
      const values = Array.from({ length: 6 }, (_, i) => payload((6 - i) * 300_000, 100 + i))
      for (let round = 0; round < 3; round++) {
        const digests = yield* Effect.all(values.map((bytes) => remote<string>(c.root.digest(bytes))), {
          concurrency: "unbounded"
        })
        assert.deepStrictEqual(digests, values.map(digest), `round ${round}`)
      }
    }))

  it.scopedLive("large replies, one after another and together, each arrive intact", () =>
    Effect.gen(function*() {
      const server = yield* serve(Digests)
      const c = yield* connect(server.port!)
      for (let seed = 1; seed <= 4; seed++) {
        const got = yield* remote<Uint8Array>(c.root.make(MiB, seed))
        assert.strictEqual(digest(got), digest(payload(MiB, seed)), `reply ${seed}`)
      }
      const together = yield* Effect.all(
        [1, 2, 3, 4].map((seed) => remote<Uint8Array>(c.root.make(400_000 * seed, 50 + seed))),
        { concurrency: "unbounded" }
      )
      together.forEach((got, i) => assert.strictEqual(digest(got), digest(payload(400_000 * (i + 1), 51 + i))))
    }))
})
