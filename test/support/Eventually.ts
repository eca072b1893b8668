/**
 * `eventually`: the one way a test waits for a state change that no event announces (a counter, a
 * connection set, a process that is gone, a registry listing). Events are awaited, not polled: use
 * this only when there is nothing to await.
 *
 * Two forms, one rule (real clock, a deadline, a test-failing defect naming what was awaited):
 *
 * - `eventually(() => cond, "what")`: polls a synchronous condition every 5 ms;
 * - `eventually(effect, (a) => cond, options?)`: repeats an Effect (which may do I/O: a remote call, a
 *   registry query) every 100 ms until its result satisfies `until`, and returns that result.
 *
 * The deadline defaults to 20 s (under vitest's 30 s test timeout, so the message is seen).
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"

export interface EventuallyOptions {
  /** How long to keep trying (default 20 s). */
  readonly timeout?: Duration.DurationInput | undefined
  /** Pause between attempts (default 5 ms for a condition, 100 ms for an Effect). */
  readonly interval?: Duration.DurationInput | undefined
  /** What is awaited, for the failure message (the Effect form; the condition form takes it as argument). */
  readonly what?: string | undefined
}

const DEFAULT_TIMEOUT: Duration.DurationInput = "20 seconds"

/** Polls `condition` until it holds; dies with "timed out waiting until `what`" after the deadline. */
export function eventually(
  condition: () => boolean,
  what: string,
  options?: Omit<EventuallyOptions, "what">
): Effect.Effect<void>
/** Repeats `poll` until `until` holds for its result, and returns that result; dies after the deadline. */
export function eventually<A, E, R>(
  poll: Effect.Effect<A, E, R>,
  until: (a: A) => boolean,
  options?: EventuallyOptions
): Effect.Effect<A, E, R>
export function eventually<A, E, R>(
  check: (() => boolean) | Effect.Effect<A, E, R>,
  second: string | ((a: A) => boolean),
  options: EventuallyOptions = {}
): Effect.Effect<A | void, E, R> {
  const poll: Effect.Effect<A | boolean, E, R> = Effect.isEffect(check) ? check : Effect.sync(check as () => boolean)
  const until = typeof second === "string" ? (b: A | boolean) => b === true : (second as (a: A | boolean) => boolean)
  const what = typeof second === "string" ? second : options.what ?? "the condition held"
  const timeout = Duration.decode(options.timeout ?? DEFAULT_TIMEOUT)
  const interval = options.interval ?? (Effect.isEffect(check) ? "100 millis" : "5 millis")
  return Effect.gen(function*() {
    const deadline = Date.now() + Duration.toMillis(timeout)
    while (true) {
      const a = yield* poll
      if (until(a)) return typeof second === "string" ? undefined : (a as A)
      if (Date.now() > deadline) {
        return yield* Effect.dieMessage(`timed out after ${Duration.format(timeout)} waiting until ${what}`)
      }
      // the real clock: tests that use eventually run live
      yield* Effect.promise(() => new Promise((resolve) => setTimeout(resolve, Duration.toMillis(interval))))
    }
  })
}
