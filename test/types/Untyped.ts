/**
 * Issue 11, item 5: an Effect program over an untyped connection keeps its error and requirement
 * types. The root, resolved with `yield*`, is a `RemoteRef` (every property a remote operation), so
 * `yield*` on its properties stays typed. Only type-checked (`npm run check`); nothing runs.
 */
import * as Effect from "effect/Effect"
import type { RemoteFailure } from "../../src/internal/base/Errors.js"
import type * as Connection from "../../src/internal/engine/Engine.js"
import type { RemoteRef } from "../../src/netref/RemoteOp.js"

type Equals<A, B> = (<T>() => T extends A ? 1 : 2) extends (<T>() => T extends B ? 1 : 2) ? true : false
const expectType = <T extends true>(_proof?: T): void => {}

declare const conn: Connection.Connection

/** Never run: only its types matter. */
export const untypedProgram = Effect.gen(function*() {
  const root = yield* conn.root
  expectType<Equals<typeof root, RemoteRef>>()
  const answer = yield* root.get_answer()
  const nested = yield* root.store.items.count()
  const viaAttr = yield* root.name
  return [answer, nested, viaAttr] as const
})

expectType<Equals<Effect.Effect.Context<typeof untypedProgram>, never>>()
expectType<Equals<Effect.Effect.Error<typeof untypedProgram>, RemoteFailure>>()

/** Scripts keep `any` values: awaiting the root and its results needs no casts. */
export const untypedScript = async (): Promise<number> => {
  const root = await conn.root
  const n = await root.add(1, 2)
  return n + 1
}
