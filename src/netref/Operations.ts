/**
 * Python's built-in operations on remote objects — the ones JavaScript syntax cannot express on a
 * proxy: `str`, `repr`, `dir`, `hash`, comparisons, `len`, item access, `in`, attribute writes,
 * `isinstance`, `with`.
 *
 * Each takes a netref or a RemoteOp (resolved first) and returns a `RemoteOp`, awaitable and
 * yieldable like every remote operation. Against local (non-netref) values they compute the same
 * thing locally.
 *
 * | Python            | effect-rpyc                       | wire                              |
 * |-------------------|-----------------------------------|-----------------------------------|
 * | `str(x)`          | `str(x)`                          | STR                               |
 * | `repr(x)`         | `repr(x)`                         | REPR                              |
 * | `dir(x)`          | `dir(x)`                          | DIR                               |
 * | `hash(x)`         | `hash(x)`                         | HASH                              |
 * | `x == y`, `x < y` | `eq(x, y)`, `cmp(x, y, "__lt__")` | CMP                               |
 * | `len(x)`          | `len(x)`                          | CALLATTR `__len__`                |
 * | `x[k]`            | `getitem(x, k)`                   | CALLATTR `__getitem__`            |
 * | `x[k] = v`        | `setitem(x, k, v)`                | CALLATTR `__setitem__`            |
 * | `del x[k]`        | `delitem(x, k)`                   | CALLATTR `__delitem__`            |
 * | `k in x`          | `contains(x, k)`                  | CALLATTR `__contains__`           |
 * | `getattr(x, n)`   | `getattr(x, n)`                   | GETATTR                           |
 * | `x.n = v`         | `setattr(x, n, v)`                | SETATTR                           |
 * | `del x.n`         | `delattr(x, n)`                   | DELATTR                           |
 * | `isinstance(x, C)`| `isinstance(x, C)`                | local class-id check, else INSTANCECHECK |
 * | `with x as y:`    | `withContext(x, (y) => …)`        | CALLATTR `__enter__` … CTXEXIT    |
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import * as Awaitable from "../internal/base/Awaitable.js"
import type { RemoteFailure } from "../internal/base/Errors.js"
import * as Netref from "../internal/netref/Netref.js"
import * as RemoteOp from "../internal/netref/RemoteOp.js"
import * as Pythonic from "../internal/object/Pythonic.js"
import { Handler } from "../internal/wire/Message.js"
import * as Pickle from "../internal/wire/Pickle.js"

type Target = unknown

/** Resolves `target`, then sends `handler` with the resolved netref first, or computes locally. */
const onTarget = (
  target: Target,
  label: string,
  remote: (ref: Netref.Netref, state: Netref.State) => Effect.Effect<unknown, RemoteFailure>,
  local: (value: unknown) => unknown
): RemoteOp.Remote =>
  RemoteOp.fromEffect(
    Effect.flatMap(RemoteOp.toEffect(target), (value) => {
      const state = Netref.stateOf(value)
      return state !== undefined ? remote(value as Netref.Netref, state) : Effect.sync(() => local(value))
    }),
    label
  )

/** Sends `handler` with the target and `rest` (operations among `rest` performed first). */
const request = (state: Netref.State, handler: number, ref: Netref.Netref, rest: ReadonlyArray<unknown>) =>
  Effect.flatMap(RemoteOp.resolveArgs(rest), ([args]) => state.owner.request(handler, [ref, ...args]))

const handlerOp =
  (handler: number, label: string, local: (value: unknown) => unknown) => (target: Target): RemoteOp.Remote =>
    onTarget(target, label, (ref, state) => state.owner.request(handler, [ref]), local)

const dunder =
  (name: string, local: (value: any, ...args: Array<any>) => unknown) =>
  (target: Target, ...args: ReadonlyArray<unknown>): RemoteOp.Remote =>
    onTarget(
      target,
      name,
      (ref, state) =>
        Effect.flatMap(RemoteOp.resolveArgs(args), ([a]) => state.owner.request(Handler.CALLATTR, [ref, name, a, []])),
      (value) => local(value, ...args)
    )

/** `str(x)`. @since 0.1.0 @category operations */
export const str: (target: Target) => RemoteOp.Remote = handlerOp(Handler.STR, "str", (v) => Pythonic.strOf(v))
/** `repr(x)`. @since 0.1.0 @category operations */
export const repr: (target: Target) => RemoteOp.Remote = handlerOp(Handler.REPR, "repr", (v) => Pythonic.reprOf(v))
/** `dir(x)`: the remote object's attribute names. @since 0.1.0 @category operations */
export const dir: (target: Target) => RemoteOp.Remote = handlerOp(
  Handler.DIR,
  "dir",
  (v) => Pythonic.dirOf(Object(v))
)
/** `hash(x)`. @since 0.1.0 @category operations */
export const hash: (target: Target) => RemoteOp.Remote = handlerOp(
  Handler.HASH,
  "hash",
  (v) => Pythonic.hashOf(Object(v))
)

/**
 * A rich comparison `op` (`"__eq__"`, `"__ne__"`, `"__lt__"`, `"__le__"`, `"__gt__"`, `"__ge__"`)
 * evaluated by the object's owner. May resolve to `Brine.NotImplemented`.
 *
 * @since 0.1.0 @category operations
 */
export const cmp = (target: Target, other: unknown, op: string): RemoteOp.Remote =>
  onTarget(
    target,
    op,
    (ref, state) => request(state, Handler.CMP, ref, [other, op]),
    (v) => Pythonic.compare(Object(v), other, op)
  )

/** `x == y`, evaluated remotely. @since 0.1.0 @category operations */
export const eq = (target: Target, other: unknown): RemoteOp.Remote => cmp(target, other, "__eq__")

/** `len(x)`. @since 0.1.0 @category operations */
export const len: (target: Target) => RemoteOp.Remote = dunder("__len__", (v) => v.length ?? v.size)
/** `x[key]`. @since 0.1.0 @category operations */
export const getitem: (target: Target, key: unknown) => RemoteOp.Remote = dunder(
  "__getitem__",
  (v, k) => (v instanceof Map ? v.get(k) : v[k])
)
/** `x[key] = value`. @since 0.1.0 @category operations */
export const setitem: (target: Target, key: unknown, value: unknown) => RemoteOp.Remote = dunder(
  "__setitem__",
  (v, k, x) => {
    if (v instanceof Map) v.set(k, x)
    else v[k] = x
  }
)
/** `del x[key]`. @since 0.1.0 @category operations */
export const delitem: (target: Target, key: unknown) => RemoteOp.Remote = dunder("__delitem__", (v, k) => {
  if (v instanceof Map) v.delete(k)
  else delete v[k]
})
/** `key in x`. @since 0.1.0 @category operations */
export const contains: (target: Target, key: unknown) => RemoteOp.Remote = dunder(
  "__contains__",
  (v, k) => (v instanceof Map || v instanceof Set ? v.has(k) : Array.isArray(v) ? v.includes(k) : k in v)
)

/**
 * `getattr(x, name)`: reads any attribute explicitly, including `then` and `pipe`.
 *
 * @since 0.1.0 @category operations
 */
export const getattr = (target: Target, name: string): RemoteOp.Remote => RemoteOp.getattr(target, name)

/**
 * `setattr(x, name, value)`: the peer's policy decides (denied by default, as in RPyC).
 *
 * @since 0.1.0 @category operations
 */
export const setattr = (target: Target, name: string, value: unknown): RemoteOp.Remote =>
  onTarget(target, `setattr ${name}`, (ref, state) => request(state, Handler.SETATTR, ref, [name, value]), (v) => {
    ;(v as Record<string, unknown>)[name] = value
  })

/** `delattr(x, name)`. @since 0.1.0 @category operations */
export const delattr = (target: Target, name: string): RemoteOp.Remote =>
  onTarget(target, `delattr ${name}`, (ref, state) => state.owner.request(Handler.DELATTR, [ref, name]), (v) => {
    delete (v as Record<string, unknown>)[name]
  })

/**
 * The remote type's name as its owner reports it (the id_pack's name_pack, e.g. `builtins.list`).
 *
 * @since 0.1.0 @category operations
 */
export const typeName = (ref: Netref.Netref): string => String(Netref.stateOf(ref)!.idPack[0])

/**
 * `isinstance(x, C)`: `C` is a remote class (netref) or a type name (`"list"`, `"builtins.dict"`).
 * Names and equal class ids are checked locally; otherwise the class's owner is asked
 * (INSTANCECHECK).
 *
 * @since 0.1.0 @category operations
 */
export const isinstance = (target: Target, cls: Netref.Netref | string): RemoteOp.Remote =>
  RemoteOp.fromEffect(
    Effect.flatMap(RemoteOp.toEffect(target), (value): Effect.Effect<unknown, RemoteFailure> => {
      const state = Netref.stateOf(value)
      if (typeof cls === "string") {
        if (state === undefined) return Effect.succeed(Pythonic.typeNameOf(value) === cls.replace(/^builtins\./, ""))
        const name = String(state.idPack[0])
        return Effect.succeed(name === cls || name === `builtins.${cls}`)
      }
      const clsState = Netref.stateOf(cls)!
      if (state === undefined) return Effect.succeed(false)
      if (state.owner === clsState.owner && String(state.idPack[1]) === String(clsState.idPack[1])) {
        return Effect.succeed(Number(state.idPack[2]) !== 0)
      }
      return clsState.owner.request(Handler.INSTANCECHECK, [cls, state.idPack])
    }),
    "isinstance"
  )

/**
 * `with x as y:` as a scoped resource: calls `__enter__` now and the context's `__exit__` (CTXEXIT)
 * when the scope closes. The exception is not forwarded to `__exit__`: RPyC would have to re-raise
 * a proxy of a local class on the peer, which fails in RPyC itself (upstream issue #564).
 *
 * @since 0.1.0 @category operations
 */
export const enter = (target: Target): Effect.Effect<unknown, RemoteFailure, Scope.Scope> =>
  Effect.flatMap(RemoteOp.toEffect(target), (ctx) =>
    Effect.acquireRelease(
      RemoteOp.toEffect(dunder("__enter__", (v) => v)(ctx)),
      () => {
        const state = Netref.stateOf(ctx)
        if (state === undefined) return Effect.void
        return state.owner.request(Handler.CTXEXIT, [ctx, null]).pipe(Effect.ignore)
      }
    ))

/**
 * `with x as y: body(y)`.
 *
 * @since 0.1.0 @category operations
 */
export const withContext = <A, E, R>(
  target: Target,
  body: (entered: any) => Effect.Effect<A, E, R>
): Effect.Effect<A, E | RemoteFailure, R> => Effect.scoped(Effect.flatMap(enter(target), body))

/**
 * Resolves `target` to a netref held for the current scope: released (DEL) when the scope closes,
 * instead of whenever the garbage collector gets to it.
 *
 * @since 0.1.0 @category lifetime
 */
export const scoped = (target: Target): Effect.Effect<any, RemoteFailure, Scope.Scope> =>
  Effect.acquireRelease(RemoteOp.toEffect(target), (value) =>
    Effect.sync(() => {
      if (Netref.isNetref(value)) Netref.release(value)
    }))

/**
 * `obtain(x)`: a local copy of a remote value (RPyC's `rpyc.classic.obtain`), in one PICKLE round
 * trip. The owner must allow pickling (`allowPickle`, on in classic mode); only plain data is
 * copied — None, bool, int, float, str, bytes, tuple, list, dict, set, frozenset. Dicts whose keys
 * are all strings become plain objects, other dicts `Map`s; lists and tuples become arrays.
 * A local value is returned as it is.
 *
 * @since 0.1.0 @category values
 */
export const obtain = (target: Target): Awaitable.Awaitable<Pickle.PlainValue, RemoteFailure | Pickle.PickleError> =>
  Awaitable.make(
    Effect.flatMap(
      RemoteOp.toEffect(target),
      (value): Effect.Effect<Pickle.PlainValue, RemoteFailure | Pickle.PickleError> => {
        const state = Netref.stateOf(value)
        if (state === undefined) return Effect.succeed(value as Pickle.PlainValue)
        return Effect.flatMap(
          state.owner.request(Handler.PICKLE, [value, Pickle.DEFAULT_PROTOCOL]),
          (bytes) =>
            bytes instanceof Uint8Array
              ? Effect.try({
                try: () => Pickle.loads(bytes, { dicts: "object" }) as Pickle.PlainValue,
                catch: (e) => e as Pickle.PickleError
              })
              : Effect.fail(new Pickle.PickleError({ reason: "Malformed", detail: "PICKLE reply is not bytes" }))
        )
      }
    )
  )
