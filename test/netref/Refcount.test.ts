/**
 * Issue 3, item 4: reference counting. Netrefs are released when garbage-collected
 * (FinalizationRegistry → DEL with the number of times the id_pack was received) and explicitly
 * (Netref.release, Symbol.dispose / Symbol.asyncDispose, `using`, Operations.scoped). After a churn
 * of 10,000 references the owner's object table is back at its baseline: TS client ↔ TS server,
 * TS client ↔ Python server, Python client ↔ TS server (gc forced on both ends: vitest runs with
 * --expose-gc, Python calls gc.collect()).
 */
import { assert, describe } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Scope from "effect/Scope"
import type * as Connection from "../../src/internal/engine/Engine.js"
import * as Netref from "../../src/internal/netref/Netref.js"
import type * as Message from "../../src/internal/wire/Message.js"
import * as Operations from "../../src/netref/Operations.js"
import { Service } from "../../src/service/Service.js"
import { TIMEOUT } from "../support/Child.js"
import { eventually } from "../support/Eventually.js"
import { connect, remote as fx, serve, serverConnection } from "../support/Peers.js"
import { describePython } from "../support/Python.js"
import {
  gcUntil,
  gcUntilEffect,
  Handler,
  Label,
  live,
  pythonClient,
  pythonServer,
  type WireSpy,
  wireSpy
} from "./support.js"

class Widget {
  exposed_size = 3
}

class RefService extends Service {
  conn: Connection.Connection | undefined
  readonly widget = new Widget()
  override onConnect(conn: Connection.Connection) {
    this.conn = conn
  }
  exposed_widget() {
    return this.widget
  }
  exposed_widget_n(n: number) {
    return Array.from({ length: n }, () => this.widget)
  }
  exposed_fresh() {
    return new Widget()
  }
  exposed_fresh_many(n: number) {
    return Array.from({ length: n }, () => new Widget())
  }
  exposed_same_many(n: number) {
    return Array.from({ length: n }, () => this.widget)
  }
  exposed_count() {
    return this.conn!.localObjectCount
  }
}

const setup = Effect.gen(function*() {
  const server = yield* serve(RefService)
  const spy = yield* wireSpy(server.port!)
  const conn = yield* connect(spy.port)
  const root: any = yield* fx(conn.root)
  const sconn = yield* serverConnection(server)
  return { server, spy, conn, root, sconn }
})

/** The DEL requests the client sent: [id_pack, count]. */
const dels = (spy: WireSpy): Array<[Message.IdPack, number]> =>
  spy.frames.filter((f) => f.dir === "out" && f.handler === Handler.DEL).map((f) => {
    const [label, boxes] = f.args as [number, Array<[number, unknown]>]
    assert.strictEqual(label, Label.TUPLE)
    assert.strictEqual(boxes[0]![0], Label.LOCAL_REF)
    assert.strictEqual(boxes[1]![0], Label.VALUE)
    return [boxes[0]![1] as Message.IdPack, boxes[1]![1] as number]
  })

describe("netref reference counting against a TS peer", () => {
  live(
    "garbage collection sends one DEL carrying the number of times the id_pack was received",
    () =>
      Effect.gen(function*() {
        const { spy, conn, root, sconn } = yield* setup
        const baseline = sconn.localObjectCount
        const netrefs = conn.netrefCount
        // received 5 times in one reply, then twice more: one netref, refcount 7
        const idPack = yield* Effect.promise(async () => {
          const many = (await root.widget_n(5)) as Array<unknown>
          const again = await root.widget()
          const again2 = await root.widget()
          assert.isTrue(many.every((w) => w === again) && again === again2)
          return Netref.stateOf(again)!.idPack
        })
        assert.strictEqual(sconn.localObjectCount, baseline + 1)
        assert.strictEqual(conn.netrefCount, netrefs + 1)
        yield* gcUntil(() => sconn.localObjectCount === baseline, "the server dropped the widget")
        assert.deepStrictEqual(dels(spy).filter(([p]) => String(p) === String(idPack)), [[idPack, 7]])
        assert.strictEqual(conn.netrefCount, netrefs)
        // the object is still usable through a fresh reference
        assert.strictEqual(yield* fx(root.widget().size), 3)
      })
  )

  live("explicit release: Netref.release, Symbol.dispose, Symbol.asyncDispose, `using`", () =>
    Effect.gen(function*() {
      const { spy, root, sconn } = yield* setup
      const baseline = sconn.localObjectCount
      const release = (how: (ref: any) => unknown) =>
        Effect.gen(function*() {
          spy.clear()
          const a = yield* fx(root.widget())
          yield* fx(root.widget())
          assert.strictEqual(sconn.localObjectCount, baseline + 1)
          yield* Effect.promise(async () => {
            await how(a)
          })
          yield* eventually(() => sconn.localObjectCount === baseline, "the server dropped the widget")
          assert.deepStrictEqual(dels(spy).map(([, n]) => n), [2])
          // released: using it fails locally, releasing again sends nothing
          const after = yield* Effect.either(fx(a.size))
          assert.isTrue(after._tag === "Left" && after.left._tag === "ProtocolError")
          Netref.release(a)
          ;(a as Disposable)[Symbol.dispose]()
          assert.strictEqual(dels(spy).length, 1)
        })
      yield* release((ref) => Netref.release(ref))
      yield* release((ref) => ref[Symbol.dispose]())
      yield* release((ref) => ref[Symbol.asyncDispose]())
      yield* release((ref) => {
        using _ref = ref
      })
      yield* release(async (ref) => {
        await using _ref = ref
      })
    }))

  live("Operations.scoped: the netref lives exactly as long as the Effect scope", () =>
    Effect.gen(function*() {
      const { spy, root, sconn } = yield* setup
      const baseline = sconn.localObjectCount
      const scope = yield* Scope.make()
      const widget = yield* Operations.scoped(root.widget()).pipe(Scope.extend(scope))
      assert.isTrue(Netref.isNetref(widget))
      assert.strictEqual(yield* fx(widget.size), 3)
      assert.strictEqual(sconn.localObjectCount, baseline + 1)
      assert.deepStrictEqual(dels(spy), [])
      yield* Scope.close(scope, Exit.void)
      yield* eventually(() => sconn.localObjectCount === baseline, "the server dropped the widget")
      assert.strictEqual(dels(spy).length, 1)
      // with Effect.scoped around a body
      const size = yield* Effect.scoped(Effect.flatMap(Operations.scoped(root.widget()), (w) => fx(w.size)))
      assert.strictEqual(size, 3)
      yield* eventually(() => sconn.localObjectCount === baseline, "the server dropped the widget again")
      assert.strictEqual(dels(spy).length, 2)
    }))

  live("a churn of 10,000 references: the server's object table returns to its baseline", () =>
    Effect.gen(function*() {
      const server = yield* serve(RefService)
      const conn = yield* connect(server.port!)
      const root: any = yield* fx(conn.root)
      const sconn = yield* serverConnection(server)
      const baseline = sconn.localObjectCount
      const netrefs = conn.netrefCount
      // 50 batches of 100 fresh objects, 4,000 single fresh objects, 1,000 times the same object;
      // taken in an async function that returns, so that no local variable outlives it
      const { taken, peak } = yield* Effect.promise(async () => {
        let taken = 0
        let peak = 0
        for (let i = 0; i < 50; i++) {
          const batch = (await root.fresh_many(100)) as Array<unknown>
          assert.strictEqual(batch.length, 100)
          taken += batch.length
          peak = Math.max(peak, sconn.localObjectCount)
        }
        for (let i = 0; i < 4000; i++) {
          await root.fresh()
          taken++
        }
        const same = (await root.same_many(1000)) as Array<unknown>
        assert.isTrue(same.every((s) => s === same[0]))
        taken += same.length
        return { taken, peak }
      })
      assert.strictEqual(taken, 10_000)
      assert.isAtLeast(peak, baseline + 100)
      yield* gcUntil(
        () => sconn.localObjectCount === baseline && conn.netrefCount === netrefs,
        () =>
          `the server table is back at ${baseline} (now ${sconn.localObjectCount}) and the client holds ${netrefs} netrefs (now ${conn.netrefCount})`
      )
      // the DELs' replies (nobody waits for them) drain too
      yield* eventually(() => conn.pendingCount === 0, "the DEL replies arrived")
    }), 60_000)
})

describePython("netref reference counting against Python RPyC 5.3", () => {
  live(
    "TS client ↔ Python server: 10,000 references, Python's object table returns to its baseline",
    () =>
      Effect.gen(function*() {
        const { port } = yield* pythonServer()
        const conn = yield* connect(port)
        const root: any = yield* fx(conn.root)
        const count = () => fx<number>(root.local_object_count())
        const baseline = yield* count()
        const netrefs = conn.netrefCount
        // taken in an async function that returns, so that no local variable outlives it
        const taken = yield* Effect.promise(async () => {
          // refcount > 1: the same Python object 1,000 times is one netref, released by one DEL(…, 1000)
          const same = (await root.same_many(1000)) as Array<unknown>
          assert.isTrue(same.every((s) => s === same[0]))
          assert.strictEqual(Netref.stateOf(same[0])!.refcount, 1000)
          assert.strictEqual(await root.local_object_count(), baseline + 1)
          let taken = same.length
          for (let i = 0; i < 40; i++) {
            const batch = (await root.fresh_many(100)) as Array<unknown>
            taken += batch.length
          }
          for (let i = 0; i < 5000; i++) {
            await root.fresh()
            taken++
          }
          return taken
        })
        assert.strictEqual(taken, 10_000)
        let last = -1
        yield* gcUntilEffect(
          Effect.map(count(), (n) => {
            last = n
            return n === baseline && conn.netrefCount === netrefs
          }),
          "Python's object table is back at its baseline"
        ).pipe(
          Effect.tapDefect(() =>
            Effect.sync(() => console.error(`python table ${last}, baseline ${baseline}, netrefs ${conn.netrefCount}`))
          )
        )
        // the connection still works
        assert.strictEqual(yield* fx(root.the_answer), 42)
      }),
    TIMEOUT
  )

  live(
    "Python client ↔ TS server: 10,000 references, the TS table returns to its baseline",
    () =>
      Effect.gen(function*() {
        const server = yield* serve(RefService)
        const r = yield* pythonClient<
          { base: number; peak: number; same_peak: number; after: number; references: number }
        >(
          "churn_client.py",
          String(server.port),
          "10000"
        )
        assert.strictEqual(r.references, 10_000)
        assert.strictEqual(r.peak, r.base + 100)
        assert.strictEqual(r.same_peak, r.base + 1, "the same object sent 1000 times is one table entry")
        assert.strictEqual(r.after, r.base)
      }),
    TIMEOUT
  )
})
