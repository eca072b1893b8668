/**
 * Remote operations: what reading, calling or constructing through a netref returns.
 *
 * A `RemoteOp` is lazy, and is at once
 * - an `Effect<A, RemoteFailure>` (`yield*` it in `Effect.gen`, pipe it, race it, …), and
 * - a `PromiseLike<A>` (`await` it; a failure rejects with the typed error).
 *
 * Operations chain without waiting: `conn.modules.os.path.join("a", "b")` becomes, when awaited,
 * the requests that resolve `os`, then `path`, then one CALLATTR for `join`. Calling an attribute
 * operation sends CALLATTR (one round trip) rather than GETATTR + CALL.
 *
 * Every string property of a RemoteOp is a remote attribute, except `then`, `catch`, `finally` and
 * `pipe`, which keep their Promise and Effect meanings (`pipe` called with one or more functions);
 * reach remote attributes of those names with `Operations.getattr(op, "then")`.
 *
 * @since 0.1.0
 */
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Effectable from "effect/Effectable"
import * as Exit from "effect/Exit"
import { NodeInspectSymbol } from "effect/Inspectable"
import { pipeArguments } from "effect/Pipeable"
import { SingleShotGen, YieldWrap } from "effect/Utils"
import { runPromise } from "../base/Awaitable.js"
import type { RemoteFailure } from "../base/Errors.js"
import { Handler } from "../wire/Message.js"
import * as Netref from "./Netref.js"

/**
 * A lazy remote operation resolving to `A`.
 *
 * @since 0.1.0 @category models
 */
export interface RemoteOp<A = any, Y = A> extends Effect.Effect<Y, RemoteFailure>, PromiseLike<A> {
  /** As `Promise.prototype.then`: runs the operation. */
  then<B = A, C = never>(
    onfulfilled?: ((value: A) => B | PromiseLike<B>) | null,
    onrejected?: ((reason: unknown) => C | PromiseLike<C>) | null
  ): Promise<B | C>
  /** As `Promise.prototype.catch`: runs the operation. */
  catch<B = never>(onrejected?: ((reason: unknown) => B | PromiseLike<B>) | null): Promise<A | B>
  /** As `Promise.prototype.finally`: runs the operation. */
  finally(onfinally?: (() => void) | null): Promise<A>
}

/**
 * An untyped remote value: every property is another `Remote`, and it can be called, constructed,
 * awaited and yielded.
 *
 * @since 0.1.0 @category models
 */
export type Remote = RemoteOp<any> & RemoteMembers

/**
 * What every untyped remote operation offers besides being an operation: each property is another
 * `Remote`, and it can be called and constructed.
 *
 * @since 0.1.0 @category models
 */
export type RemoteMembers =
  & RemoteAttributes
  & ((...args: Array<any>) => Remote)
  & (new(...args: Array<any>) => Remote)

/**
 * Every property a remote attribute, including the names a callable value would otherwise take
 * from `Function` (`call`, `apply`, `name`, …).
 *
 * @since 0.1.0 @category models
 */
export interface RemoteAttributes {
  readonly [name: string]: Remote
  readonly call: Remote
  readonly apply: Remote
  readonly bind: Remote
  readonly name: Remote
  readonly length: Remote
  readonly arguments: Remote
  readonly caller: Remote
}

/**
 * Keyword arguments for a Python callee: `ref.f(1, kwargs({ sep: "," }))`.
 *
 * @since 0.1.0 @category models
 */
export class Kwargs {
  constructor(readonly values: Readonly<Record<string, unknown>>) {}
}

/**
 * Marks keyword arguments for the call they end.
 *
 * @since 0.1.0 @category constructors
 */
export const kwargs = (values: Readonly<Record<string, unknown>>): Kwargs => new Kwargs(values)

/** Keyword arguments as `(name, value)` pairs, as RPyC sends them. @since 0.1.0 @category models */
export type KwPairs = ReadonlyArray<readonly [string, unknown]>

/**
 * Call arguments split into positional ones and the keyword pairs of a trailing `kwargs(…)`.
 *
 * @since 0.1.0 @category conversions
 */
export const splitArgs = (args: ReadonlyArray<unknown>): readonly [ReadonlyArray<unknown>, KwPairs] => {
  const last = args[args.length - 1]
  return last instanceof Kwargs ? [args.slice(0, -1), Object.entries(last.values)] : [args, []]
}

interface Spec {
  /** what yielding the operation runs */
  readonly effect: Effect.Effect<unknown, RemoteFailure>
  /** what calling the operation runs */
  readonly call: (args: ReadonlyArray<unknown>, kw: KwPairs) => Effect.Effect<unknown, RemoteFailure>
  /**
   * What awaiting runs: the same requests, sent straight from the Promise when the target is
   * already known — no fiber per call for the scripts' `await` path.
   */
  readonly promise: () => Promise<unknown>
  readonly callPromise: (args: ReadonlyArray<unknown>, kw: KwPairs) => Promise<unknown>
  /** the value, when known without waiting (a netref, a cached root); else `NOT_KNOWN` */
  readonly peek: () => unknown
  readonly label: string
  /**
   * Sends the call of this operation's value straight to its connection, `onExit` getting the reply,
   * when one request does it (a known netref, arguments needing no requests of their own); false
   * (nothing sent) otherwise.
   */
  readonly submitCall: (args: ReadonlyArray<unknown>, kw: KwPairs, onExit: OnExit) => boolean
}

type OnExit = (exit: Exit.Exit<unknown, RemoteFailure>) => void

/**
 * `message` (a call of `value` with `args` and `kw`) as one request to `value`'s connection, if it is
 * a netref and the arguments need nothing sent first.
 */
const submitOn = (
  value: unknown,
  handler: number,
  message: ReadonlyArray<unknown>,
  args: ReadonlyArray<unknown>,
  kw: KwPairs,
  onExit: OnExit
): boolean => {
  const state = value === NOT_KNOWN ? undefined : Netref.stateOf(value)
  if (state === undefined || hasOps(args, kw)) return false
  state.owner.submit(handler, message, onExit)
  return true
}

const NOT_KNOWN: unique symbol = Symbol("NOT_KNOWN")
const notKnown = () => NOT_KNOWN

// ---------------------------------------------------------------------------------------------
// the requests behind the operations (local values are handled locally)

const getattrOf = (value: unknown, name: string): Effect.Effect<unknown, RemoteFailure> => {
  const state = Netref.stateOf(value)
  if (state) return state.owner.request(Handler.GETATTR, [value, name])
  return Effect.sync(() => {
    const v = (value as Record<string, unknown>)[name]
    return typeof v === "function" ? v.bind(value) : v
  })
}

/** Whether some arguments are operations still to be performed (sent as their values). */
const hasOps = (args: ReadonlyArray<unknown>, kw: KwPairs): boolean =>
  args.some(isRemoteOp) || kw.some((p) => isRemoteOp(p[1]))

/**
 * Performs the operations among `args` (and keyword values) first: `root.f(root.g)` passes the
 * value of `root.g`, as Python's `root.f(root.g)` does.
 *
 * @since 0.1.0 @category conversions
 */
export const resolveArgs = (
  args: ReadonlyArray<unknown>,
  kw: KwPairs = []
): Effect.Effect<readonly [ReadonlyArray<unknown>, KwPairs], RemoteFailure> =>
  !hasOps(args, kw)
    ? Effect.succeed([args, kw] as const)
    : Effect.all([
      Effect.forEach(args, toEffect),
      Effect.forEach(kw, ([k, v]) => Effect.map(toEffect(v), (x) => [k, x] as const))
    ])

const callattrOf = (
  value: unknown,
  name: string,
  args: ReadonlyArray<unknown>,
  kw: KwPairs
): Effect.Effect<unknown, RemoteFailure> => {
  if (hasOps(args, kw)) return Effect.flatMap(resolveArgs(args, kw), ([a, k]) => callattrOf(value, name, a, k))
  const state = Netref.stateOf(value)
  if (state) return state.owner.request(Handler.CALLATTR, [value, name, args, kw])
  return Effect.flatMap(getattrOf(value, name), (f) => callOf(f, args, kw))
}

const callOf = (value: unknown, args: ReadonlyArray<unknown>, kw: KwPairs): Effect.Effect<unknown, RemoteFailure> => {
  if (hasOps(args, kw)) return Effect.flatMap(resolveArgs(args, kw), ([a, k]) => callOf(value, a, k))
  const state = Netref.stateOf(value)
  if (state) return state.owner.request(Handler.CALL, [value, args, kw])
  return Effect.promise(async () => {
    if (typeof value !== "function") throw new TypeError(`${String(value)} is not callable`)
    return value(...args, ...(kw.length > 0 ? [Object.fromEntries(kw)] : []))
  })
}

/** The request as a Promise, straight through the owner (no Effect runtime on the way). */
const submitPromise = (state: Netref.State, handler: number, args: ReadonlyArray<unknown>): Promise<unknown> =>
  new Promise((resolve, reject) => {
    state.owner.submit(handler, args, (exit) => {
      if (Exit.isSuccess(exit)) resolve(exit.value)
      else reject(Cause.squash(exit.cause))
    })
  })

const getattrPromise = (value: unknown, name: string): Promise<unknown> => {
  const state = Netref.stateOf(value)
  return state ? submitPromise(state, Handler.GETATTR, [value, name]) : runPromise(getattrOf(value, name))
}

const callattrPromise = (value: unknown, name: string, args: ReadonlyArray<unknown>, kw: KwPairs): Promise<unknown> => {
  const state = Netref.stateOf(value)
  return state && !hasOps(args, kw)
    ? submitPromise(state, Handler.CALLATTR, [value, name, args, kw])
    : runPromise(callattrOf(value, name, args, kw))
}

const callPromise = (value: unknown, args: ReadonlyArray<unknown>, kw: KwPairs): Promise<unknown> => {
  const state = Netref.stateOf(value)
  return state && !hasOps(args, kw)
    ? submitPromise(state, Handler.CALL, [value, args, kw])
    : runPromise(callOf(value, args, kw))
}

// ---------------------------------------------------------------------------------------------
// the proxy

const SpecSymbol: unique symbol = Symbol.for("effect-rpyc/RemoteOp/Spec")

/**
 * A RemoteOp is an Effect through Effect's public extension point for user-defined effects: a
 * "commit" effect (`Effectable.CommitPrototype`), whose `commit()` returns the effect to run. The
 * proxy forwards every key that prototype defines, whatever the runtime calls them, so it holds
 * no knowledge of the fiber loop's own field names.
 */
const effectKeys: ReadonlySet<PropertyKey> = new Set(
  Reflect.ownKeys(Effectable.CommitPrototype).filter((k) => k !== Symbol.iterator && k !== "pipe")
)

/**
 * `commit` is also a common remote method name (`db.commit()`), so the proxy hands out its own
 * `commit` only to a reader that has just looked at the prototype's string keys, as the runtime
 * does right before committing an effect; anyone else gets the remote attribute.
 */
const committing = new WeakSet<object>()

/** the proxy of a target, for `pipe` (a plain property: a WeakMap entry per call costs the GC) */
const ProxySymbol: unique symbol = Symbol("effect-rpyc/RemoteOp/Proxy")

type Target = Function & { [SpecSymbol]: Spec; [ProxySymbol]: Remote }

const opHandler: ProxyHandler<Target> = {
  get(target, key) {
    const spec = target[SpecSymbol]
    if (typeof key === "string") {
      switch (key) {
        case "then":
          return (onF?: (v: unknown) => unknown, onR?: (e: unknown) => unknown) => spec.promise().then(onF, onR)
        case "catch":
          return (onR?: (e: unknown) => unknown) => spec.promise().catch(onR)
        case "finally":
          return (onF?: () => void) => spec.promise().finally(onF)
        case "pipe":
          return pipeOrRemote(target)
        case "commit":
          if (committing.has(target)) {
            committing.delete(target)
            return () => spec.effect
          }
          return attrOp(spec, key)
      }
      committing.delete(target)
      if (effectKeys.has(key)) {
        committing.add(target)
        return Reflect.get(Effectable.CommitPrototype, key)
      }
      return attrOp(spec, key)
    }
    committing.delete(target)
    if (key === SpecSymbol) return spec
    if (key === Symbol.iterator) return () => new SingleShotGen(new YieldWrap(spec.effect))
    if (key === Symbol.asyncIterator) return () => iterateResult(spec)
    if (key === NodeInspectSymbol || key === Symbol.toPrimitive) return () => `<RemoteOp ${spec.label}>`
    if (key === Symbol.toStringTag) return "RemoteOp"
    return effectKeys.has(key) ? Reflect.get(Effectable.CommitPrototype, key) : undefined
  },
  has(_target, key) {
    return key === SpecSymbol || effectKeys.has(key)
  },
  apply(target, _this, args) {
    return callOp(target[SpecSymbol], args)
  },
  construct(target, args) {
    return callOp(target[SpecSymbol], args) as object
  },
  set(target, key) {
    throw new TypeError(`cannot assign ${String(key)} on <RemoteOp ${target[SpecSymbol].label}>: use setattr()`)
  },
  deleteProperty(target, key) {
    throw new TypeError(`cannot delete ${String(key)} on <RemoteOp ${target[SpecSymbol].label}>: use delattr()`)
  },
  defineProperty(target, key) {
    throw new TypeError(`cannot define ${String(key)} on <RemoteOp ${target[SpecSymbol].label}>: use setattr()`)
  }
}

/** `op.pipe(f, g)` is Effect's pipe; `op.pipe()` / `op.pipe(x)` with non-functions is the remote `pipe`. */
const pipeOrRemote = (target: Target) =>
  function(this: unknown, ...args: Array<unknown>) {
    const self = target[ProxySymbol]
    if (args.length > 0 && args.every((a) => typeof a === "function")) return pipeArguments(self, args as never)
    return callOp(new AttrSpec(target[SpecSymbol], "pipe"), args)
  }

const makeOp = (spec: Spec): Remote => {
  const target = function remoteOp() {} as unknown as Target
  target[SpecSymbol] = spec
  const proxy = new Proxy(target, opHandler) as unknown as Remote
  target[ProxySymbol] = proxy
  return proxy
}

/**
 * The operation whose value is what `effect` produces (or `peek()` already knows); calling it sends
 * CALL to that value.
 */
const baseSpec = (
  effect: Effect.Effect<unknown, RemoteFailure>,
  label: string,
  peek: () => unknown = notKnown
): Spec => ({
  effect,
  call: (args, kw) => Effect.flatMap(effect, (v) => callOf(v, args, kw)),
  promise: () => {
    const v = peek()
    return v === NOT_KNOWN ? runPromise(effect) : Promise.resolve(v)
  },
  callPromise: (args, kw) => {
    const v = peek()
    return v === NOT_KNOWN ? runPromise(Effect.flatMap(effect, (x) => callOf(x, args, kw))) : callPromise(v, args, kw)
  },
  peek,
  label,
  submitCall: (args, kw, onExit) => {
    const v = peek()
    return submitOn(v, Handler.CALL, [v, args, kw], args, kw, onExit)
  }
})

const valueSpec = (value: unknown, label: string): Spec => baseSpec(Effect.succeed(value), label, () => value)

/**
 * `base.name`: made for every attribute read and every call, so nothing is built until it is used
 * (an awaited call never builds its Effect), and a base whose value is known (a netref, the cached
 * root) is used directly rather than through its Effect.
 */
class AttrSpec implements Spec {
  constructor(readonly base: Spec, readonly name: string) {}
  private effect_: Effect.Effect<unknown, RemoteFailure> | undefined
  get effect(): Effect.Effect<unknown, RemoteFailure> {
    if (this.effect_ !== undefined) return this.effect_
    const v = this.base.peek()
    return this.effect_ = v === NOT_KNOWN
      ? Effect.flatMap(this.base.effect, (x) => getattrOf(x, this.name))
      : getattrOf(v, this.name)
  }
  call(args: ReadonlyArray<unknown>, kw: KwPairs): Effect.Effect<unknown, RemoteFailure> {
    const v = this.base.peek()
    return v === NOT_KNOWN
      ? Effect.flatMap(this.base.effect, (x) => callattrOf(x, this.name, args, kw))
      : callattrOf(v, this.name, args, kw)
  }
  promise(): Promise<unknown> {
    const v = this.base.peek()
    return v === NOT_KNOWN ? runPromise(this.effect) : getattrPromise(v, this.name)
  }
  callPromise(args: ReadonlyArray<unknown>, kw: KwPairs): Promise<unknown> {
    const v = this.base.peek()
    return v === NOT_KNOWN
      ? runPromise(Effect.flatMap(this.base.effect, (x) => callattrOf(x, this.name, args, kw)))
      : callattrPromise(v, this.name, args, kw)
  }
  peek(): unknown {
    return NOT_KNOWN
  }
  submitCall(args: ReadonlyArray<unknown>, kw: KwPairs, onExit: OnExit): boolean {
    const v = this.base.peek()
    return submitOn(v, Handler.CALLATTR, [v, this.name, args, kw], args, kw, onExit)
  }
  get label(): string {
    return `${this.base.label}.${this.name}`
  }
}

/** `base(…args)`, as lazy as `AttrSpec`. */
class CallSpec implements Spec {
  constructor(readonly base: Spec, readonly args: ReadonlyArray<unknown>, readonly kw: KwPairs) {}
  private effect_: Effect.Effect<unknown, RemoteFailure> | undefined
  get effect(): Effect.Effect<unknown, RemoteFailure> {
    return this.effect_ ??= this.base.call(this.args, this.kw)
  }
  call(args2: ReadonlyArray<unknown>, kw2: KwPairs): Effect.Effect<unknown, RemoteFailure> {
    return Effect.flatMap(this.effect, (v) => callOf(v, args2, kw2))
  }
  promise(): Promise<unknown> {
    return this.base.callPromise(this.args, this.kw)
  }
  callPromise(args2: ReadonlyArray<unknown>, kw2: KwPairs): Promise<unknown> {
    return this.promise().then((v) => callPromise(v, args2, kw2))
  }
  peek(): unknown {
    return NOT_KNOWN
  }
  submitCall(): boolean {
    return false
  }
  get label(): string {
    return `${this.base.label}(…)`
  }
}

const attrOp = (base: Spec, name: string): Remote => makeOp(new AttrSpec(base, name))

const callOp = (base: Spec, rawArgs: ReadonlyArray<unknown>): Remote => {
  const [args, kw] = splitArgs(rawArgs)
  return makeOp(new CallSpec(base, args, kw))
}

const iterateResult = (spec: Spec): AsyncIterator<unknown> => {
  let inner: AsyncIterator<unknown> | undefined
  const start = async () => {
    if (inner) return inner
    const value = await runPromise(spec.effect)
    const it = value as AsyncIterable<unknown> | Iterable<unknown>
    inner = Symbol.asyncIterator in Object(it)
      ? (it as AsyncIterable<unknown>)[Symbol.asyncIterator]()
      : (async function*() {
        yield* it as Iterable<unknown>
      })()
    return inner
  }
  return {
    next: async () => (await start()).next(),
    return: async (v?: unknown) => (inner?.return ? inner.return(v) : { done: true, value: v })
  }
}

/**
 * The operation that yields `value` itself (a netref, or any local value), from which attribute
 * and call operations chain.
 *
 * @since 0.1.0 @category constructors
 */
export const of = (value: unknown, label = "value"): Remote => makeOp(valueSpec(value, label))

/**
 * An operation defined by an effect that produces the base value (e.g. GETROOT).
 *
 * @since 0.1.0 @category constructors
 */
export const fromEffect = (
  effect: Effect.Effect<unknown, RemoteFailure>,
  label: string,
  peek?: () => unknown
): Remote =>
  makeOp(baseSpec(
    effect,
    label,
    peek === undefined ? notKnown : () => {
      const v = peek()
      return v === undefined ? NOT_KNOWN : v
    }
  ))

/**
 * Whether `u` is a RemoteOp.
 *
 * @since 0.1.0 @category guards
 */
export const isRemoteOp = (u: unknown): u is Remote => typeof u === "function" && SpecSymbol in u

/**
 * Runs a call operation (`fn(x)`, `ref.method(x)`) as one request with a callback, with no Promise or
 * fiber: how a handler that calls the peer back gets its answer. False (nothing sent) for any other
 * operation, or when the target is not yet known or an argument is itself an operation.
 *
 * @since 0.1.0 @category running
 */
export const submitNow = (op: Remote, onExit: (exit: Exit.Exit<unknown, RemoteFailure>) => void): boolean => {
  const spec = (op as unknown as { [SpecSymbol]: Spec })[SpecSymbol]
  return spec instanceof CallSpec && spec.base.submitCall(spec.args, spec.kw, onExit)
}

/**
 * The effect of a RemoteOp (or of a netref or plain value: succeed with it).
 *
 * @since 0.1.0 @category conversions
 */
export const toEffect = (u: unknown): Effect.Effect<unknown, RemoteFailure> =>
  isRemoteOp(u) ? (u as unknown as { [SpecSymbol]: Spec })[SpecSymbol].effect : Effect.succeed(u)

/**
 * Reads an attribute explicitly, including the names a RemoteOp keeps for itself (`then`, `pipe`).
 *
 * @since 0.1.0 @category operations
 */
export const getattr = (target: unknown, name: string): Remote => attrOp(baseSpec(toEffect(target), "ref"), name)

/**
 * The operations a netref hands out (reading, calling, iterating through it); the engine passes
 * them to every netref it makes.
 *
 * @since 0.1.0 @category constructors
 */
export const netrefOps: Netref.OpFactory = {
  attr: (ref, name) => attrOp(valueSpec(ref, "ref"), name),
  call: (ref, args) => callOp(valueSpec(ref, "ref"), args),
  iterate: (ref) => iterateNetref(ref)
}

async function* iterateNetrefGen(ref: Netref.Netref): AsyncGenerator<unknown> {
  const state = Netref.stateOf(ref)!
  const it = await runPromise(state.owner.request(Handler.CALLATTR, [ref, "__iter__", [], []]))
  if (!Netref.isNetref(it)) {
    // the peer sent the iterator's items by value (a tuple)
    yield* it as Iterable<unknown>
    return
  }
  try {
    while (true) {
      const next = await runPromise(
        Effect.either(state.owner.request(Handler.CALLATTR, [it, "__next__", [], []]))
      )
      if (next._tag === "Left") {
        if (next.left._tag === "RemoteError" && next.left.name === "StopIteration") return
        throw next.left
      }
      yield next.right
    }
  } finally {
    Netref.release(it)
  }
}

const iterateNetref = (ref: Netref.Netref): AsyncIterator<unknown> => iterateNetrefGen(ref)

// ---------------------------------------------------------------------------------------------
// typed remotes

/** What a value of type `A` looks like once it crossed the wire. @since 0.1.0 @category typed */
export type Received<A> = A extends string | number | boolean | bigint | null | undefined | Uint8Array ? A
  : A extends Effect.Effect<infer B, any, any> ? Received<B>
  : A extends PromiseLike<infer B> ? Received<B>
  : A extends ReadonlyArray<infer I> ? Array<Received<I>>
  : Remote

type ExposedName<K, P extends string> = K extends `${P}${infer N}` ? N : never

/**
 * The remote view of a service class `T`: its `exposed_` members with the prefix stripped; methods
 * return remote operations of their (awaited, unwrapped) result type, attributes are remote
 * operations of their type.
 *
 * ```ts
 * const conn = yield* Client.connect<MyService>({ port })
 * const n: number = yield* conn.root.get_answer()   // typed
 * ```
 *
 * @since 0.1.0 @category typed
 */
export type Typed<T, P extends string = "exposed_"> =
  & {
    readonly [K in keyof T as ExposedName<K, P>]: T[K] extends (...args: infer A) => infer R
      ? ((...args: A) => RemoteOp<Received<R>>) & RemoteOp<Remote>
      : RemoteOp<Received<T[K]>>
  }
  & RemoteOp<Remote>

/**
 * The type of `conn.root`: untyped (`Remote`) unless the connection was given an API type.
 *
 * @since 0.1.0 @category typed
 */
export type RootOf<Api> = 0 extends (1 & Api) ? UntypedRoot : Typed<Api>

/**
 * A resolved netref of an untyped connection (the root, which is always a netref): every property
 * is a remote operation, so `yield*` on them keeps an Effect program's error and requirement types.
 * It is not thenable (a netref never is), so awaiting or returning it sends nothing.
 *
 * @since 0.1.0 @category models
 */
export interface RemoteRef extends RemoteAttributes {
  readonly then: never
  (...args: Array<any>): Remote
  new(...args: Array<any>): Remote
}

/**
 * The root of an untyped connection: an operation whose value is a {@link RemoteRef}.
 *
 * @since 0.1.0 @category typed
 */
export type UntypedRoot = RemoteOp<any, RemoteRef> & RemoteMembers
