/**
 * Issue 3, item 8, compile-time half: `Client.connect<Api>()` gives `conn.root` a `Remote<Api>`
 * type whose exposed methods and attributes (prefix stripped) are remote operations of the right
 * result type. This file is only type-checked (by `npm run check`: tsconfig.json includes
 * `test`); nothing here runs. Each `@ts-expect-error` below must be an error, or the check fails.
 */
import * as Effect from "effect/Effect"
import * as Client from "../../src/client/Client.js"
import type { RemoteFailure } from "../../src/internal/base/Errors.js"
import type { RemoteOp } from "../../src/internal/netref/RemoteOp.js"
import { Service } from "../../src/service/Service.js"

class Widget {
  exposed_size = 3
}

/** The API a typed client is given. */
export class CalcService extends Service {
  exposed_pi = 3.14
  exposed_name = "calc"
  exposed_tags: Array<string> = ["a", "b"]
  exposed_add(a: number, b: number): number {
    return a + b
  }
  exposed_greet(name: string, punctuation = "!"): string {
    return `hi ${name}${punctuation}`
  }
  async exposed_fetch(id: number): Promise<string> {
    return `item ${id}`
  }
  exposed_positive(n: number) {
    return Effect.succeed(n > 0)
  }
  exposed_widget(): Widget {
    return new Widget()
  }
  exposed_pair(): readonly [number, string] {
    return [1, "a"]
  }
  get_question(): string {
    return "not exposed"
  }
}

type Equals<A, B> = (<T>() => T extends A ? 1 : 2) extends (<T>() => T extends B ? 1 : 2) ? true : false
const expectType = <T extends true>(_proof?: T): void => {}

/** Never run: only its types matter. */
export const typedProgram = Effect.gen(function*() {
  const conn = yield* Client.connect<CalcService>({ host: "127.0.0.1", port: 18861 })
  const root = conn.root

  // methods: the prefix is stripped, arguments are checked, results are the awaited return types
  const sum = yield* root.add(1, 2)
  expectType<Equals<typeof sum, number>>()
  const greeting = yield* root.greet("bob")
  expectType<Equals<typeof greeting, string>>()
  const fetched = yield* root.fetch(7)
  expectType<Equals<typeof fetched, string>>()
  const positive = yield* root.positive(1)
  expectType<Equals<typeof positive, boolean>>()
  const name = yield* root.get_service_name()
  expectType<Equals<typeof name, string>>()
  const aliases = yield* root.get_service_aliases()
  expectType<Equals<typeof aliases, Array<string>>>()

  // attributes: remote operations of their type
  const pi = yield* root.pi
  expectType<Equals<typeof pi, number>>()
  const tags = yield* root.tags
  expectType<Equals<typeof tags, Array<string>>>()

  // an object result is an untyped remote reference
  const widget = yield* root.widget()
  const size: unknown = yield* widget.size

  // every operation is an Effect failing with RemoteFailure, and a PromiseLike
  const _op: Effect.Effect<number, RemoteFailure> = root.add(1, 2)
  const promise: PromiseLike<number> = root.add(1, 2)
  const asOp: RemoteOp<string> = root.greet("x", "?")
  expectType<Equals<Effect.Effect.Error<typeof _op>, RemoteFailure>>()

  // @ts-expect-error a wrong argument type is rejected
  root.add("1", 2)
  // @ts-expect-error too few arguments
  root.add(1)
  // @ts-expect-error too many arguments
  root.greet("a", "b", "c")
  // @ts-expect-error not exposed: no such member
  root.get_question()
  // @ts-expect-error the prefix is stripped: exposed_add is not a member
  root.exposed_add(1, 2)
  // @ts-expect-error the result type is checked too
  const wrong: string = yield* root.add(1, 2)

  return { sum, greeting, fetched, positive, name, aliases, pi, tags, size, promise, asOp, wrong }
})

/** An untyped connection keeps `any`-like remotes: everything is allowed. */
export const untypedProgram = Effect.gen(function*() {
  const conn = yield* Client.connect({ host: "127.0.0.1", port: 18861 })
  const anything = conn.root.whatever(1, "two", { three: 3 }).deeper.still()
  return anything
})
