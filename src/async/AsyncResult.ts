/**
 * `AsyncResult`: a remote call's eventual result (RPyC's `rpyc.core.async_.AsyncResult`), backed by
 * an Effect `Deferred`.
 *
 * | RPyC                   | effect-rpyc                                                        |
 * |------------------------|--------------------------------------------------------------------|
 * | `res.ready`            | `res.ready` — the reply (a value or an error) arrived               |
 * | `res.error`            | `res.error` — ready, and the reply is an error                      |
 * | `res.expired`          | `res.expired` — no reply, and the expiry passed                     |
 * | `res.value`            | `await res.value` / `yield* res.value`                             |
 * | `res.wait()`           | `await res.wait()` / `yield* res.wait()`                           |
 * | `res.add_callback(f)`  | `res.addCallback(f)`                                               |
 * | `res.set_expiry(t)`    | `res.setExpiry(t)`                                                 |
 * | `AsyncResultTimeout`   | `ExpiredError`                                                     |
 *
 * An AsyncResult is deliberately neither thenable nor an Effect (Effect note E9): returning one from an
 * async function hands over the object, it does not wait. Its `value` is the awaitable.
 *
 * The expiry is an `Effect.timeout` on the result, run on the Clock of the connection that sent
 * the request (so `TestClock` drives it in tests). Expiry is final: a reply that arrives after it
 * is dropped, `value` fails with `ExpiredError`, and callbacks are not called (as in RPyC).
 *
 * @since 0.1.0
 */
import * as Data from "effect/Data"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import type * as Fiber from "effect/Fiber"
import * as FiberId from "effect/FiberId"
import { NodeInspectSymbol } from "effect/Inspectable"
import * as Runtime from "effect/Runtime"
import * as Awaitable from "../internal/base/Awaitable.js"
import type { RemoteFailure } from "../internal/base/Errors.js"

/**
 * The result expired before its reply arrived (RPyC's `AsyncResultTimeout`, i.e. Python's
 * `TimeoutError("result expired")`). Nothing was sent to the peer: the remote call keeps running,
 * and its reply is dropped when it comes.
 *
 * @since 0.1.0 @category errors
 */
export class ExpiredError extends Data.TaggedError("ExpiredError")<{
  /** `SetExpiry`: the expiry given to `setExpiry` / `timed` passed. */
  readonly reason: "SetExpiry"
  /** The expiry that passed, in seconds. */
  readonly seconds: number
  /** What was called, for messages (e.g. `async_(<netref builtins.function #3>)`). */
  readonly label: string
}> {
  override get message(): string {
    return `result expired: no reply within ${this.seconds} s (${this.label})`
  }
}

/**
 * What an AsyncResult's `value` can fail with.
 *
 * @since 0.1.0 @category errors
 */
export type AsyncFailure = RemoteFailure | ExpiredError

/**
 * A callback given to `addCallback`: called once with the (ready) AsyncResult.
 *
 * @since 0.1.0 @category models
 */
export type Callback<A> = (result: AsyncResult<A>) => void

type Status = "pending" | "ready" | "expired"

/** `setExpiry` called before the request was sent: started (for the time left) once it is. */
interface DeferredExpiry {
  readonly seconds: number
  readonly at: number
}

/**
 * A remote call's eventual result.
 *
 * Made by the functions of `Async` (`async_`, `timed`); `make` builds one for other uses.
 *
 * @since 0.1.0 @category models
 */
export class AsyncResult<A = any> {
  private status: Status = "pending"
  private failed = false
  private outcome: Exit.Exit<A, AsyncFailure> | undefined
  private callbacks: Array<Callback<A>> = []
  private runtime: Runtime.Runtime<never> | undefined
  private expiryFiber: Fiber.RuntimeFiber<unknown, unknown> | undefined
  private deferredExpiry: DeferredExpiry | undefined
  private readonly deferred: Deferred.Deferred<A, AsyncFailure>

  /**
   * The result: `await res.value` or `yield* res.value` waits for the reply, then succeeds with
   * the returned value, or fails with the remote error (`RemoteError`, `ConnectionClosed`, …), or
   * with `ExpiredError` once expired.
   */
  readonly value: Awaitable.Awaitable<A, AsyncFailure>

  /**
   * @param label what was called, for messages
   * @param runtime the runtime whose Clock runs the expiry (set later with `bind` if unknown yet)
   */
  constructor(readonly label: string = "call", runtime?: Runtime.Runtime<never>) {
    this.runtime = runtime
    this.deferred = Deferred.unsafeMake<A, AsyncFailure>(FiberId.none)
    this.value = Awaitable.make(Deferred.await(this.deferred))
  }

  /** The reply (a value or an error) arrived. */
  get ready(): boolean {
    return this.status === "ready"
  }

  /** The reply arrived and it is an error. */
  get error(): boolean {
    return this.status === "ready" && this.failed
  }

  /** No reply arrived before the expiry passed. */
  get expired(): boolean {
    return this.status === "expired"
  }

  /** The outcome once ready or expired, else `undefined` (no waiting). */
  get exit(): Exit.Exit<A, AsyncFailure> | undefined {
    return this.outcome
  }

  /**
   * Waits until the reply arrives (succeeds even if the reply is an error; read `value` for it),
   * or fails with `ExpiredError` once expired.
   */
  wait(): Awaitable.Awaitable<void, ExpiredError> {
    return Awaitable.make(
      Effect.catchAllCause(Effect.asVoid(Deferred.await(this.deferred)), () => {
        const outcome = this.outcome
        return outcome !== undefined && this.status === "expired" && Exit.isFailure(outcome)
          ? Effect.failCause(outcome.cause as never)
          : Effect.void
      })
    )
  }

  /**
   * Calls `callback(this)` once the reply arrives — at once if it already has. Not called if the
   * result expires. A callback that throws is logged and does not affect the others.
   */
  addCallback(callback: Callback<A>): this {
    if (this.status === "ready") this.invoke(callback)
    else if (this.status === "pending") this.callbacks.push(callback)
    return this
  }

  /**
   * Sets the expiry, in seconds from now, replacing any earlier one; `null` removes it. Once the
   * time passes without a reply, the result is expired for good. Does nothing once ready or
   * expired.
   */
  setExpiry(seconds: number | null): this {
    if (this.status !== "pending") return this
    if (this.expiryFiber !== undefined) {
      this.expiryFiber.unsafeInterruptAsFork(FiberId.none)
      this.expiryFiber = undefined
    }
    this.deferredExpiry = undefined
    if (seconds === null) return this
    if (!(seconds > 0)) {
      this.expire(Number.isNaN(seconds) ? 0 : seconds)
      return this
    }
    if (this.runtime === undefined) {
      // not sent yet (its callable is still resolving): start the clock once it is
      this.deferredExpiry = { seconds, at: Date.now() }
      return this
    }
    this.startExpiry(this.runtime, seconds, seconds)
    return this
  }

  private startExpiry(runtime: Runtime.Runtime<never>, seconds: number, left: number): void {
    this.expiryFiber = Runtime.runFork(runtime)(
      Deferred.await(this.deferred).pipe(
        Effect.exit,
        Effect.timeout(Duration.millis(Math.max(0, left * 1000))),
        Effect.catchTag("TimeoutException", () => Effect.sync(() => this.expire(seconds)))
      )
    )
  }

  /**
   * Gives the result the runtime whose Clock runs its expiry (the sending connection's). Starts an
   * expiry set before for the time it has left.
   */
  bind(runtime: Runtime.Runtime<never>): this {
    this.runtime = runtime
    const pending = this.deferredExpiry
    if (pending !== undefined && this.status === "pending") {
      this.deferredExpiry = undefined
      const left = pending.seconds - (Date.now() - pending.at) / 1000
      if (left <= 0) this.expire(pending.seconds)
      else this.startExpiry(runtime, pending.seconds, left)
    }
    return this
  }

  /**
   * Completes the result with the reply's outcome, runs the callbacks, and stops the expiry.
   * Ignored once ready or expired (a late reply is dropped). Returns whether it took effect.
   */
  complete(exit: Exit.Exit<A, AsyncFailure>): boolean {
    if (this.status !== "pending") return false
    this.status = "ready"
    this.failed = Exit.isFailure(exit)
    this.outcome = exit
    this.settle(exit)
    const callbacks = this.callbacks
    this.callbacks = []
    for (const callback of callbacks) this.invoke(callback)
    return true
  }

  private expire(seconds: number): void {
    if (this.status !== "pending") return
    this.status = "expired"
    const exit = Exit.fail(new ExpiredError({ reason: "SetExpiry", seconds, label: this.label }))
    this.outcome = exit
    this.callbacks = []
    this.settle(exit)
  }

  private settle(exit: Exit.Exit<A, AsyncFailure>): void {
    this.deferredExpiry = undefined
    // an expiry fiber ends by itself once the deferred is done: the awaiting side wins its race
    this.expiryFiber = undefined
    Deferred.unsafeDone(this.deferred, exit)
  }

  private invoke(callback: Callback<A>): void {
    try {
      callback(this)
    } catch (error) {
      Runtime.runFork(this.runtime ?? Runtime.defaultRuntime)(
        Effect.logError(`AsyncResult callback failed (${this.label})`, error)
      )
    }
  }

  toString(): string {
    return `<AsyncResult object (${this.status}) ${this.label}>`
  }

  [NodeInspectSymbol](): string {
    return this.toString()
  }
}

/**
 * A new, pending AsyncResult (completed with `complete`).
 *
 * @since 0.1.0 @category constructors
 */
export const make = <A = any>(label?: string, runtime?: Runtime.Runtime<never>): AsyncResult<A> =>
  new AsyncResult<A>(label, runtime)

/**
 * Whether `u` is an AsyncResult.
 *
 * @since 0.1.0 @category guards
 */
export const isAsyncResult = (u: unknown): u is AsyncResult => u instanceof AsyncResult
