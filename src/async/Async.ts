/**
 * Asynchronous operation (PROTOCOL.md §3.12, PROTOCOL.md §3.13, PROTOCOL.md §6): `async_`, `timed`, `buffiter`, and a
 * per-call timeout for ordinary calls.
 *
 * ```ts
 * const asleep = async_(conn.modules.time.sleep)   // a netref or a remote operation
 * const res = asleep(15)                            // sends CALL now, returns an AsyncResult
 * res.ready                                         // false … later true
 * await res.value                                   // or: yield* res.value
 * ```
 *
 * There is no "async" marker on the wire: an async call is an ordinary CALL whose caller does not
 * wait. Async requests may complete out of order (a TS peer serves a request whose handler returns
 * a Promise or an Effect concurrently with the next ones), as in RPyC.
 *
 * What `async_` accepts:
 * - a **netref** (e.g. `const f = yield* conn.root.f`): each call sends its CALL synchronously;
 * - a **remote operation** (an unresolved chain such as `conn.root.slow` or
 *   `conn.modules.time.sleep`): `async_` starts resolving it at once; calls made before it resolved
 *   still return their AsyncResult synchronously and are sent, in order, once it has. If it
 *   resolves to a local value instead of a netref, those results fail with a `TypeError` defect.
 * Anything else (a local function, a number, `null`, …) throws a `TypeError` at once.
 *
 * Arguments that are remote operations are resolved before the call is sent (a call with such
 * arguments is therefore sent a little later than one without).
 *
 * @since 0.1.0
 */
import * as Chunk from "effect/Chunk"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import { NodeInspectSymbol } from "effect/Inspectable"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import * as Awaitable from "../internal/base/Awaitable.js"
import type { RemoteFailure } from "../internal/base/Errors.js"
import * as Netref from "../internal/netref/Netref.js"
import * as RemoteOp from "../internal/netref/RemoteOp.js"
import { Handler } from "../internal/wire/Message.js"
import { AsyncResult } from "./AsyncResult.js"

export { AsyncResult, ExpiredError } from "./AsyncResult.js"
export type { AsyncFailure } from "./AsyncResult.js"

/** The value a remote callable's result resolves to. */
type ResultOf<R> = R extends PromiseLike<infer A> ? A : R extends Effect.Effect<infer A, any, any> ? A : any

/**
 * The asynchronous version of a remote callable `F`: same arguments, returns an `AsyncResult`.
 *
 * @since 0.1.0 @category models
 */
export interface AsyncFunction<Args extends ReadonlyArray<any> = Array<any>, A = any> {
  (...args: Args): AsyncResult<A>
  /** The wrapped netref or remote operation. */
  readonly proxy: unknown
}

/**
 * `AsyncFunction` for a callable's type: typed remotes keep their argument and result types;
 * untyped ones (`Remote`, netrefs) take anything and give `AsyncResult<any>`.
 *
 * @since 0.1.0 @category models
 */
export type AsyncOf<F> = F extends (...args: infer P) => infer R ? AsyncFunction<P, ResultOf<R>> : AsyncFunction

/**
 * A remote call whose awaited result fails with `RequestTimeout` after a per-call timeout.
 *
 * @since 0.1.0 @category models
 */
export interface TimeoutFunction<Args extends ReadonlyArray<any> = Array<any>, A = any> {
  (...args: Args): Awaitable.Awaitable<A, RemoteFailure>
  readonly proxy: unknown
}

/** @since 0.1.0 @category models */
export type TimeoutOf<F> = F extends (...args: infer P) => infer R ? TimeoutFunction<P, ResultOf<R>> : TimeoutFunction

// ---------------------------------------------------------------------------------------------
// targets

type KwPairs = RemoteOp.KwPairs
const splitArgs = RemoteOp.splitArgs

const describeValue = (u: unknown): string => {
  if (u === null) return "null"
  if (typeof u === "function") return `a local function${u.name ? ` (${u.name})` : ""}`
  if (typeof u === "object") return `a local ${(u as object).constructor?.name ?? "object"}`
  return `a ${typeof u} (${String(u)})`
}

const notRemote = (fn: string, u: unknown): TypeError =>
  new TypeError(
    `${fn}() needs a remote callable (a netref, or a remote operation such as conn.root.f), got ${describeValue(u)}`
  )

/** `<netref builtins.function #3>` / `<RemoteOp root.f>` (both answer `Symbol.toPrimitive`). */
const labelOf = (u: unknown): string => String(u)

/**
 * Sends `CALL` to `ref` now and completes `result` with the reply. Arguments that are remote
 * operations (unresolved chains) are resolved first, and the call is sent once they are.
 */
const send = (ref: Netref.Netref, args: ReadonlyArray<unknown>, result: AsyncResult): void => {
  const owner = Netref.stateOf(ref)!.owner
  result.bind(owner.runtime)
  const [positional, kw] = splitArgs(args)
  const complete = (exit: Exit.Exit<unknown, RemoteFailure>) => {
    result.complete(exit)
  }
  // no engine timeout: an async result waits until its reply, the connection closes, or its expiry
  const submit = ([a, k]: readonly [ReadonlyArray<unknown>, KwPairs]) =>
    owner.submit(Handler.CALL, [ref, a, k], complete, { timeout: null })
  Effect.runCallback(RemoteOp.resolveArgs(positional, kw), {
    onExit: (exit) => {
      if (Exit.isFailure(exit)) result.complete(exit)
      else submit(exit.value)
    }
  })
}

/**
 * A function that sends each call to the callable `target` resolves to: at once for a netref,
 * once resolved for a remote operation.
 */
const sender = (name: string, target: unknown): (args: ReadonlyArray<unknown>, result: AsyncResult) => void => {
  if (Netref.isNetref(target)) return (args, result) => send(target, args, result)
  if (!RemoteOp.isRemoteOp(target)) throw notRemote(name, target)
  let resolved: Exit.Exit<unknown, RemoteFailure> | undefined
  let queue: Array<readonly [ReadonlyArray<unknown>, AsyncResult]> = []
  const dispatch = (args: ReadonlyArray<unknown>, result: AsyncResult, exit: Exit.Exit<unknown, RemoteFailure>) => {
    if (Exit.isFailure(exit)) result.complete(exit)
    else if (Netref.isNetref(exit.value)) send(exit.value, args, result)
    else result.complete(Exit.die(notRemote(name, exit.value)))
  }
  Effect.runCallback(RemoteOp.toEffect(target), {
    onExit: (exit) => {
      resolved = exit
      const waiting = queue
      queue = []
      for (const [args, result] of waiting) dispatch(args, result, exit)
    }
  })
  return (args, result) => {
    if (resolved !== undefined) dispatch(args, result, resolved)
    else queue.push([args, result])
  }
}

const asyncFunctions = new WeakSet<Function>()

const wrap = <F extends Function>(fn: F, proxy: unknown, label: string): F => {
  Object.defineProperty(fn, "proxy", { value: proxy })
  Object.defineProperty(fn, NodeInspectSymbol, { value: () => label })
  Object.defineProperty(fn, "toString", { value: () => label })
  return fn
}

// ---------------------------------------------------------------------------------------------
// async_ and timed

/**
 * RPyC's `rpyc.async_(proxy)`: the asynchronous version of a remote callable. Calling it sends the
 * CALL right away and returns an `AsyncResult` without waiting. Keyword arguments go last, as
 * `kwargs({...})`.
 *
 * Throws a `TypeError` unless `fn` is a netref or a remote operation (see the module doc).
 *
 * ```ts
 * const aint = async_(conn.builtins.int)
 * const x = aint("8")
 * await x.wait(); x.ready // true
 * await x.value           // 8
 * ```
 *
 * @since 0.1.0 @category constructors
 */
export const async_ = <F>(fn: F): AsyncOf<F> => {
  const sendTo = sender("async_", fn)
  const label = `async_(${labelOf(fn)})`
  const wrapper = wrap(
    (...args: Array<unknown>) => {
      const result = new AsyncResult(label)
      sendTo(args, result)
      return result
    },
    fn,
    label
  )
  asyncFunctions.add(wrapper)
  return wrapper as unknown as AsyncOf<F>
}

/**
 * RPyC's `rpyc.timed(proxy, timeout)`: like `async_`, but every result expires `seconds` after its
 * call (`setExpiry(seconds)`), so `value` fails with `ExpiredError` if the reply is late.
 *
 * @since 0.1.0 @category constructors
 */
export const timed = <F>(fn: F, seconds: number | null): AsyncOf<F> => {
  const sendTo = sender("timed", fn)
  const label = `timed(${labelOf(fn)}, ${seconds})`
  const wrapper = wrap(
    (...args: Array<unknown>) => {
      const result = new AsyncResult(label)
      sendTo(args, result)
      return result.setExpiry(seconds)
    },
    fn,
    label
  )
  asyncFunctions.add(wrapper)
  return wrapper as unknown as AsyncOf<F>
}

/**
 * A per-call timeout for an ordinary (awaited) call, overriding the connection's
 * `syncRequestTimeout`: each call is awaitable and yieldable and fails with `RequestTimeout` if no
 * reply comes within `seconds` (`null`: wait forever). As with every timed-out request, nothing is
 * sent to the peer and the late reply is dropped.
 *
 * ```ts
 * const slow = withTimeout(conn.root.slow, 0.5)
 * await slow(2)    // rejects with RequestTimeout after 0.5 s
 * ```
 *
 * For every call of a connection, set `conn.config.syncRequestTimeout` (seconds, `null` = forever)
 * or pass `config: { syncRequestTimeout }` when connecting.
 *
 * @since 0.1.0 @category constructors
 */
export const withTimeout = <F>(fn: F, seconds: number | null): TimeoutOf<F> => {
  if (!Netref.isNetref(fn) && !RemoteOp.isRemoteOp(fn)) throw notRemote("withTimeout", fn)
  const label = `withTimeout(${labelOf(fn)}, ${seconds})`
  const timeout = seconds === null ? null : Duration.seconds(Math.max(0, seconds))
  return wrap(
    (...args: Array<unknown>) =>
      Awaitable.make(
        Effect.flatMap(RemoteOp.toEffect(fn), (ref): Effect.Effect<unknown, RemoteFailure> => {
          const state = Netref.stateOf(ref)
          if (state === undefined) return Effect.die(notRemote("withTimeout", ref))
          const [positional, kw] = splitArgs(args)
          return Effect.flatMap(
            RemoteOp.resolveArgs(positional, kw),
            (resolved) => state.owner.request(Handler.CALL, [ref, ...resolved], { timeout })
          )
        })
      ),
    fn,
    label
  ) as unknown as TimeoutOf<F>
}

/**
 * Whether `u` was made by `async_` or `timed`.
 *
 * @since 0.1.0 @category guards
 */
export const isAsyncFunction = (u: unknown): u is AsyncFunction => typeof u === "function" && asyncFunctions.has(u)

// ---------------------------------------------------------------------------------------------
// buffiter

/**
 * How `buffiter` sizes its requests: the first asks for `chunk` items, each next one for `factor`
 * times more, up to `maxChunk` (RPyC's defaults: 10, 1000, 2).
 *
 * @since 0.1.0 @category models
 */
export interface BuffiterOptions {
  readonly chunk?: number | undefined
  readonly maxChunk?: number | undefined
  readonly factor?: number | undefined
}

const chunkSizes = (name: string, options: BuffiterOptions) => {
  const chunk = options.chunk ?? 10
  const maxChunk = options.maxChunk ?? 1000
  const factor = options.factor ?? 2
  if (!(factor >= 1)) throw new RangeError(`${name}: factor must be >= 1, got ${factor}`)
  if (!(Number.isInteger(chunk) && chunk >= 1)) {
    throw new RangeError(`${name}: chunk must be an integer >= 1, got ${chunk}`)
  }
  if (!(Number.isInteger(maxChunk) && maxChunk >= 1)) {
    throw new RangeError(`${name}: maxChunk must be an integer >= 1, got ${maxChunk}`)
  }
  return { chunk, next: (count: number) => Math.min(Math.floor(count * factor), maxChunk) }
}

/**
 * `buffiter` as a `Stream` whose chunks are the batches received (one BUFFITER request each): the
 * remote object's `__iter__` is called once (CALLATTR), then BUFFITER asks for 10, 20, 40, … up
 * to 1000 items at a time until an empty batch comes back. The remote iterator is released when
 * the stream ends. A local iterable is streamed as it is.
 *
 * @since 0.1.0 @category buffiter
 */
export const buffiterStream = <A = any>(
  target: unknown,
  options: BuffiterOptions = {}
): Stream.Stream<A, RemoteFailure> => {
  const sizes = chunkSizes("buffiterStream", options)
  return Stream.unwrapScoped(Effect.gen(function*() {
    const value = yield* RemoteOp.toEffect(target)
    const state = Netref.stateOf(value)
    if (state === undefined) return Stream.fromIterable(value as Iterable<A>)
    const iterator = yield* Effect.acquireRelease(
      state.owner.request(Handler.CALLATTR, [value, "__iter__", [], []]),
      (it) => Effect.sync(() => Netref.isNetref(it) && Netref.release(it))
    )
    const itState = Netref.stateOf(iterator)
    // a peer may answer __iter__ with the items themselves (a tuple)
    if (itState === undefined) return Stream.fromIterable(iterator as Iterable<A>)
    return Stream.paginateChunkEffect(
      sizes.chunk,
      (count) =>
        Effect.map(itState.owner.request(Handler.BUFFITER, [iterator, count]), (items) => {
          const batch = Array.isArray(items) ? items as Array<A> : []
          return [
            Chunk.unsafeFromArray(batch),
            batch.length === 0 ? Option.none() : Option.some(sizes.next(count))
          ] as const
        })
    )
  }))
}

/**
 * RPyC's `rpyc.buffiter(obj, chunk=10, max_chunk=1000, factor=2)`: iterates a remote iterable in
 * growing batches, one round trip per batch instead of one per item.
 *
 * ```ts
 * for await (const row of buffiter(cursor.select("Id", "Name"))) console.log(row)
 * ```
 *
 * Failures reject with the typed error (`RemoteError`, …). Breaking out of the loop releases the
 * remote iterator. `buffiterStream` is the same as an Effect `Stream`.
 *
 * @since 0.1.0 @category buffiter
 */
export const buffiter = <A = any>(target: unknown, options: BuffiterOptions = {}): AsyncIterableIterator<A> => {
  const sizes = chunkSizes("buffiter", options)
  const run = <X>(effect: Effect.Effect<X, RemoteFailure>) => Awaitable.make(effect)
  return (async function*() {
    const value = await run(RemoteOp.toEffect(target))
    const state = Netref.stateOf(value)
    if (state === undefined) {
      yield* value as Iterable<A>
      return
    }
    const iterator = await run(state.owner.request(Handler.CALLATTR, [value, "__iter__", [], []]))
    const itState = Netref.stateOf(iterator)
    if (itState === undefined) {
      yield* iterator as Iterable<A>
      return
    }
    try {
      let count = sizes.chunk
      while (true) {
        const items = await run(itState.owner.request(Handler.BUFFITER, [iterator, count]))
        count = sizes.next(count)
        const batch = Array.isArray(items) ? items as Array<A> : []
        if (batch.length === 0) return
        yield* batch
      }
    } finally {
      Netref.release(iterator as Netref.Netref)
    }
  })()
}
