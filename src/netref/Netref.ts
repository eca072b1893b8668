/**
 * Netrefs: local proxies of the peer's objects (rpyc-protocol.md §3.6).
 *
 * A netref is a JS `Proxy` over a function, so that it can be read (`ref.attr`), called
 * (`ref(…)`) and constructed (`new ref(…)`); each of these returns a `RemoteOp` that performs the
 * request when awaited or yielded. A netref itself is deliberately **not** thenable: returning one
 * from an async function must not fire a remote call. `for await (const x of ref)` iterates the
 * remote object; `using` / `Symbol.dispose` releases it early, and garbage collection releases it
 * eventually (a DEL with the refcount, as Python's proxies do).
 *
 * Assignment and `delete` on a netref throw: they would have to hide a remote failure. Use
 * `Operations.setattr` / `Operations.delattr`.
 *
 * @since 0.1.0
 */
import type * as Effect from "effect/Effect"
import type * as Exit from "effect/Exit"
import type * as Runtime from "effect/Runtime"
import { NodeInspectSymbol } from "effect/Inspectable"
import type { RemoteFailure } from "../protocol/Errors.js"
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
    options?: { readonly timeoutMillis?: number | null | undefined }
  ) => Effect.Effect<unknown, RemoteFailure>
  /** Sends a request now and calls `onResult` once with its outcome. */
  readonly submit: (
    handler: number,
    args: ReadonlyArray<unknown>,
    onResult: (exit: Exit.Exit<unknown, RemoteFailure>) => void,
    options?: { readonly timeoutMillis?: number | null | undefined }
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

const StateSymbol: unique symbol = Symbol.for("effect-rpyc/Netref/State")

/**
 * Builds the operations a netref hands out. Supplied by `RemoteOp` (which depends on this module).
 *
 * @since 0.1.0 @category models
 */
export interface OpFactory {
  readonly attr: (ref: Netref, name: string) => unknown
  readonly call: (ref: Netref, args: ReadonlyArray<unknown>) => unknown
  readonly iterate: (ref: Netref) => AsyncIterator<unknown>
}

let ops: OpFactory | undefined

/** @internal */
export const installOpFactory = (factory: OpFactory): void => {
  ops = factory
}

const factory = (): OpFactory => {
  if (ops === undefined) throw new Error("effect-rpyc: RemoteOp module not loaded")
  return ops
}

/**
 * A netref, untyped: every property is a remote operation.
 *
 * @since 0.1.0 @category models
 */
export type Netref = { readonly [StateSymbol]: State }

const finalizers = new FinalizationRegistry<State>((state) => {
  if (!state.released) {
    state.released = true
    state.owner.release(state)
  }
})

const describe = (state: State): string => `<netref ${state.idPack[0]} #${String(state.idPack[2])}>`

const handler: ProxyHandler<Function & { [StateSymbol]: State }> = {
  get(target, key) {
    const state = target[StateSymbol]
    if (typeof key === "string") {
      if (key === "then") return undefined
      return factory().attr(proxyOf(target), key)
    }
    switch (key) {
      case StateSymbol:
        return state
      case Symbol.asyncIterator:
        return () => factory().iterate(proxyOf(target))
      case Symbol.dispose:
      case Symbol.asyncDispose:
        return () => release(proxyOf(target))
      case NodeInspectSymbol:
        return () => describe(state)
      case Symbol.toPrimitive:
        return () => describe(state)
      case Symbol.toStringTag:
        return "Netref"
    }
    return undefined
  },
  apply(target, _this, args) {
    return factory().call(proxyOf(target), args)
  },
  construct(target, args) {
    return factory().call(proxyOf(target), args) as object
  },
  has(_target, key) {
    return key === StateSymbol
  },
  set(target, key) {
    throw new TypeError(
      `cannot assign ${String(key)} on ${describe(target[StateSymbol])}: use setattr(ref, name, value), which reports remote failures`
    )
  },
  deleteProperty(target, key) {
    throw new TypeError(
      `cannot delete ${String(key)} on ${describe(target[StateSymbol])}: use delattr(ref, name), which reports remote failures`
    )
  },
  defineProperty(target) {
    throw new TypeError(`cannot define properties on ${describe(target[StateSymbol])}`)
  }
}

const proxies = new WeakMap<object, Netref>()
const proxyOf = (target: object): Netref => proxies.get(target)!

/**
 * A new netref for `idPack` owned by `owner`, registered for release on garbage collection.
 *
 * @since 0.1.0 @category constructors
 */
export const make = (owner: Owner, idPack: IdPack, key: string): Netref => {
  const state: State = { owner, idPack, key, refcount: 1, released: false }
  const target = Object.assign(function netref() {}, { [StateSymbol]: state })
  const proxy = new Proxy(target, handler) as unknown as Netref
  proxies.set(target, proxy)
  finalizers.register(proxy, state, state)
  return proxy
}

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

/**
 * Releases a netref now (DEL with its refcount) instead of waiting for garbage collection. Using it
 * afterwards fails. Releasing twice does nothing.
 *
 * @since 0.1.0 @category lifetime
 */
export const release = (ref: Netref): void => {
  const state = ref[StateSymbol]
  if (state.released) return
  state.released = true
  finalizers.unregister(state)
  state.owner.release(state)
}
