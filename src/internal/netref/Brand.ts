/**
 * The netref brand: what marks a value as a proxy of a peer's object, and the state behind it.
 *
 * A leaf module, so that every layer that must tell a netref from a local value (the object
 * model, the attribute policy, the engine) can ask without depending on the proxy machinery.
 *
 * @since 0.1.0
 */
import type * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import type * as Exit from "effect/Exit"
import type * as Runtime from "effect/Runtime"
import type { RemoteFailure } from "../base/Errors.js"
import type { IdPack } from "../wire/Message.js"

/**
 * The connection side a netref talks through (implemented by `Connection`).
 *
 * @since 0.1.0 @category models
 */
export interface Owner {
  readonly closed: boolean
  /** Sends a request whose first argument is usually the netref itself, and awaits the reply. */
  readonly request: (
    handler: number,
    args: ReadonlyArray<unknown>,
    options?: { readonly timeout?: Duration.DurationInput | null | undefined }
  ) => Effect.Effect<unknown, RemoteFailure>
  /** Sends a request now and calls `onResult` once with its outcome. */
  readonly submit: (
    handler: number,
    args: ReadonlyArray<unknown>,
    onResult: (exit: Exit.Exit<unknown, RemoteFailure>) => void,
    options?: { readonly timeout?: Duration.DurationInput | null | undefined }
  ) => number
  /** The runtime the connection runs in (its Clock drives timeouts and expiries). */
  readonly runtime: Runtime.Runtime<never>
  /** Drops this side's references: sends DEL with the refcount. */
  readonly release: (state: State) => void
}

/**
 * What a netref knows about itself.
 *
 * @since 0.1.0 @category models
 */
export interface State {
  readonly owner: Owner
  readonly idPack: IdPack
  readonly key: string
  /** how many times the peer sent this id_pack while the proxy was alive */
  refcount: number
  released: boolean
}

/** @internal */
export const StateSymbol: unique symbol = Symbol.for("effect-rpyc/Netref/State")

/**
 * Builds the operations a netref hands out: reading, calling and iterating through it. The engine
 * passes the remote-operation machinery in when it makes a netref, so that this brand and the
 * proxy need not import it.
 *
 * @since 0.1.0 @category models
 */
export interface OpFactory {
  readonly attr: (ref: Netref, name: string) => unknown
  readonly call: (ref: Netref, args: ReadonlyArray<unknown>) => unknown
  readonly iterate: (ref: Netref) => AsyncIterator<unknown>
}

/**
 * A netref, untyped: every property is a remote operation.
 *
 * @since 0.1.0 @category models
 */
export type Netref = { readonly [StateSymbol]: State }

/**
 * The state of a netref, or `undefined` for anything else.
 *
 * @since 0.1.0 @category guards
 */
export const stateOf = (u: unknown): State | undefined =>
  (typeof u === "function" && StateSymbol in u) ? (u as unknown as Netref)[StateSymbol] : undefined

/**
 * Whether `u` is a netref.
 *
 * @since 0.1.0 @category guards
 */
export const isNetref = (u: unknown): u is Netref => stateOf(u) !== undefined
