/**
 * Netrefs: local proxies of the peer's objects (PROTOCOL.md §3.6).
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
import { NodeInspectSymbol } from "effect/Inspectable"
import type { IdPack } from "../wire/Message.js"
import { type Netref, type OpFactory, type Owner, type State, StateSymbol } from "./Brand.js"

export { isNetref, type Netref, type OpFactory, type Owner, type State, stateOf } from "./Brand.js"

const finalizers = new FinalizationRegistry<State>((state) => {
  if (!state.released) {
    state.released = true
    state.owner.release(state)
  }
})

const describe = (state: State): string => `<netref ${state.idPack[0]} #${String(state.idPack[2])}>`

interface Target extends Function {
  readonly [StateSymbol]: State
  readonly ops: OpFactory
  /**
   * The proxy over this target, which the traps are not given. Kept on the target, not in a WeakMap:
   * a WeakMap entry per netref cost more than the rest of making one (each connection makes its root's).
   */
  proxy: Netref | undefined
}

const handler: ProxyHandler<Target> = {
  get(target, key) {
    const state = target[StateSymbol]
    if (typeof key === "string") {
      if (key === "then") return undefined
      return target.ops.attr(proxyOf(target), key)
    }
    switch (key) {
      case StateSymbol:
        return state
      case Symbol.asyncIterator:
        return () => target.ops.iterate(proxyOf(target))
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
    return target.ops.call(proxyOf(target), args)
  },
  construct(target, args) {
    return target.ops.call(proxyOf(target), args) as object
  },
  has(_target, key) {
    return key === StateSymbol
  },
  set(target, key) {
    throw new TypeError(
      `cannot assign ${String(key)} on ${
        describe(target[StateSymbol])
      }: use setattr(ref, name, value), which reports remote failures`
    )
  },
  deleteProperty(target, key) {
    throw new TypeError(
      `cannot delete ${String(key)} on ${
        describe(target[StateSymbol])
      }: use delattr(ref, name), which reports remote failures`
    )
  },
  defineProperty(target) {
    throw new TypeError(`cannot define properties on ${describe(target[StateSymbol])}`)
  }
}

const proxyOf = (target: Target): Netref => target.proxy as Netref

/**
 * A new netref for `idPack` owned by `owner`, registered for release on garbage collection;
 * reading, calling and iterating through it builds operations with `ops`.
 *
 * @since 0.1.0 @category constructors
 */
export const make = (owner: Owner, idPack: IdPack, key: string, ops: OpFactory): Netref => {
  const state: State = { owner, idPack, key, refcount: 1, released: false }
  const target: Target = Object.assign(function netref() {}, { [StateSymbol]: state, ops, proxy: undefined })
  const proxy = new Proxy(target, handler) as unknown as Netref
  target.proxy = proxy
  finalizers.register(proxy, state, state)
  return proxy
}

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
