/**
 * Request timeouts for every connection of a process: one fiber per `Clock` ticks every
 * {@link TICK_MILLIS} while some connection has timed requests pending, and tells each such
 * connection the tick. A connection costs a set entry here, not a fiber and a timer of its own.
 *
 * The ticks are the Effect clock's, so a `TestClock` drives them in tests; connections made under
 * different clocks get different sweepers.
 *
 * @since 0.1.0
 */
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as DefaultServices from "effect/DefaultServices"
import * as Effect from "effect/Effect"
import type * as Fiber from "effect/Fiber"
import * as FiberRefs from "effect/FiberRefs"
import * as Runtime from "effect/Runtime"

/** How often pending requests are checked. @since 0.1.0 @category constants */
export const TICK_MILLIS = 100

/**
 * A connection with timed requests pending.
 *
 * @since 0.1.0 @category models
 */
export interface Member {
  /** One tick went by; returns whether timed requests are still pending (if not, it leaves). */
  readonly onTick: () => boolean
  /**
   * The sweeper ticking it, kept here by {@link join} and {@link leave} (start with `undefined`). Not a
   * WeakMap of members: connections come and go by the thousand, and a WeakMap entry per short-lived
   * connection cost more than the rest of joining.
   */
  sweeper: Sweeper | undefined
}

/**
 * The members ticked under one clock.
 *
 * @since 0.1.0 @category models
 */
export interface Sweeper {
  readonly members: Set<Member>
  fiber: Fiber.RuntimeFiber<void> | undefined
}

const sweepers = new WeakMap<Clock.Clock, Sweeper>()

const clockOf = (runtime: Runtime.Runtime<never>): Clock.Clock =>
  Context.get(FiberRefs.getOrDefault(runtime.fiberRefs, DefaultServices.currentServices), Clock.Clock)

const loop = (sweeper: Sweeper): Effect.Effect<void> =>
  Effect.whileLoop({
    while: () => sweeper.members.size > 0,
    body: () =>
      Effect.zipRight(
        Effect.sleep(TICK_MILLIS),
        Effect.sync(() => {
          for (const member of sweeper.members) {
            if (!member.onTick()) leave(member)
          }
        })
      ),
    step: () => {}
  })

/**
 * Ticks `member` until it says it has nothing pending or {@link leave}s; starts the sweeper of
 * `runtime`'s clock if it is not running.
 *
 * @since 0.1.0 @category combinators
 */
export const join = (runtime: Runtime.Runtime<never>, member: Member): void => {
  if (member.sweeper !== undefined) return
  const clock = clockOf(runtime)
  let sweeper = sweepers.get(clock)
  if (sweeper === undefined) {
    sweeper = { members: new Set(), fiber: undefined }
    sweepers.set(clock, sweeper)
  }
  sweeper.members.add(member)
  member.sweeper = sweeper
  if (sweeper.fiber === undefined) {
    const running = sweeper
    const fiber = running.fiber = Runtime.runFork(runtime)(loop(running))
    fiber.addObserver(() => {
      if (running.fiber === fiber) running.fiber = undefined
    })
  }
}

/**
 * Stops ticking `member`. The sweeper itself stops at its next tick if nobody is left: connections
 * that come and go one after another (scripts, registry look-ups) share one sweeper, not one each.
 *
 * @since 0.1.0 @category combinators
 */
export const leave = (member: Member): void => {
  const sweeper = member.sweeper
  if (sweeper === undefined) return
  member.sweeper = undefined
  sweeper.members.delete(member)
}
