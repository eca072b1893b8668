/**
 * An Effect that can also be awaited: what effect-rpyc's operations return, so that Effect
 * programs `yield*` them (typed errors, interruption) and plain scripts `await` them. Awaiting runs
 * the Effect on the default runtime; a failure rejects with the typed error itself.
 *
 * @since 0.1.0
 */
export { type Awaitable, make, runPromise } from "./internal/base/Awaitable.js"
