/**
 * An Effect that can also be awaited.
 *
 * effect-rpyc's operations serve two audiences with one value: Effect programs `yield*` them (typed
 * errors, interruption), plain scripts `await` them. Awaiting runs the Effect on the default
 * runtime; a failure rejects with the typed error itself (not a `FiberFailure`).
 *
 * @since 0.1.0
 */
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Effectable from "effect/Effectable"
import * as Exit from "effect/Exit"

/**
 * Runs `effect` as a Promise that rejects with the typed failure (or the defect) itself.
 *
 * @since 0.1.0 @category running
 */
export const runPromise = <A, E>(effect: Effect.Effect<A, E>): Promise<A> =>
  Effect.runPromiseExit(effect).then((exit) => {
    if (Exit.isSuccess(exit)) return exit.value
    throw Cause.squash(exit.cause)
  })

/**
 * An `Effect<A, E>` that is also `PromiseLike<A>`.
 *
 * @since 0.1.0 @category models
 */
export interface Awaitable<A, E = never> extends Effect.Effect<A, E>, PromiseLike<A> {}

class AwaitableImpl<A, E> extends Effectable.Class<A, E> implements PromiseLike<A> {
  constructor(private readonly effect: Effect.Effect<A, E>) {
    super()
  }
  commit(): Effect.Effect<A, E> {
    return this.effect
  }
  then<R1 = A, R2 = never>(
    onfulfilled?: ((value: A) => R1 | PromiseLike<R1>) | null,
    onrejected?: ((reason: unknown) => R2 | PromiseLike<R2>) | null
  ): Promise<R1 | R2> {
    return runPromise(this.effect).then(onfulfilled, onrejected)
  }
}

/**
 * Wraps an Effect so that it can be awaited as well as yielded.
 *
 * @since 0.1.0 @category constructors
 */
export const make = <A, E>(effect: Effect.Effect<A, E>): Awaitable<A, E> => new AwaitableImpl(effect)
