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
import { RemoteError, type RemoteFailure } from "../internal/base/Errors.js"
import * as Netref from "../internal/netref/Netref.js"
import * as RemoteOp from "../internal/netref/RemoteOp.js"
import { isPlainDict as isPlainDictObject } from "../internal/object/LocalObjects.js"
import * as Pythonic from "../internal/object/Pythonic.js"
import { Handler } from "../internal/wire/Message.js"
import * as Pickle from "../internal/wire/Pickle.js"

type Target = unknown

const isPlainDict = (v: unknown): v is object => typeof v === "object" && v !== null && isPlainDictObject(v)

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
export const len: (target: Target) => RemoteOp.Remote = dunder(
  "__len__",
  (v) => isPlainDict(v) ? Pythonic.plainKeys(v).length : v.length ?? v.size
)
/** `x[key]`. @since 0.1.0 @category operations */
export const getitem: (target: Target, key: unknown) => RemoteOp.Remote = dunder(
  "__getitem__",
  (v, k) => (v instanceof Map ? v.get(k) : isPlainDict(v) && !Pythonic.hasPlainKey(v, k) ? undefined : v[k])
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
  (v, k) =>
    v instanceof Map || v instanceof Set
      ? v.has(k)
      : Array.isArray(v)
      ? v.includes(k)
      : isPlainDict(v)
      ? Pythonic.hasPlainKey(v, k)
      : k in v
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

const notAClass = (): RemoteError =>
  new RemoteError({
    module: "builtins",
    name: "TypeError",
    args: ["isinstance() arg 2 must be a class, type, or tuple of classes and types"],
    attrs: [],
    remoteTraceback: ""
  })

const namePackOf = (ref: unknown): string | undefined => {
  const state = Netref.stateOf(ref)
  return state === undefined ? undefined : String(state.idPack[0])
}

/**
 * The MRO of a remote object's class, as name_packs: Python's builtin classes are known here; for
 * any other class the owner is asked for `x.__class__.__mro__` (two GETATTRs; the name_packs of the
 * class netrefs it returns are the names). `undefined` when the owner's policy refuses (an
 * AttributeError: Python's default config does, classic mode does not). Asked once per class and
 * connection: a class's MRO does not change.
 */
const remoteMro = (
  ref: Netref.Netref,
  state: Netref.State
): Effect.Effect<ReadonlyArray<string> | undefined, RemoteFailure> => {
  const name = String(state.idPack[0])
  const known = Pythonic.builtinMro(name)
  if (known !== undefined) return Effect.succeed(known)
  let perOwner = mroCache.get(state.owner)
  if (perOwner === undefined) mroCache.set(state.owner, perOwner = new Map())
  const classKey = `${name}\u0000${String(state.idPack[1])}`
  const cached = perOwner.get(classKey)
  if (cached !== undefined) return Effect.succeed(cached ?? undefined)
  return state.owner.request(Handler.GETATTR, [ref, "__class__"]).pipe(
    Effect.flatMap((cls) => state.owner.request(Handler.GETATTR, [cls, "__mro__"])),
    Effect.map((mro): ReadonlyArray<string> | undefined => {
      if (!Array.isArray(mro)) return undefined
      const names = mro.map(namePackOf).filter((n): n is string => n !== undefined)
      return names.length > 0 ? names : undefined
    }),
    Effect.catchIf(
      (e): e is RemoteError => e._tag === "RemoteError" && e.is("AttributeError"),
      () => Effect.succeed(undefined)
    ),
    Effect.tap((mro) => {
      perOwner.set(classKey, mro ?? null)
    })
  )
}

/** Per connection, class (name_pack and class id) → its MRO, or `null` if the owner refused to tell. */
const mroCache = new WeakMap<object, Map<string, ReadonlyArray<string> | null>>()

/**
 * `isinstance(x, C)`, as RPyC's netrefs answer it:
 *
 * - `C` a type name (`"list"`, `"Exception"`, `"builtins.dict"`, `"collections.OrderedDict"`): true
 *   if the name is in the MRO of `x`'s type. Python's builtin class hierarchy is known locally
 *   (`isinstance(<RuntimeError proxy>, "Exception")` sends nothing); other remote classes are
 *   walked through `x.__class__.__mro__` when the owner's policy allows, else only the exact name
 *   matches. A local `x` is typed as it would travel (`7` an `int`, `true` a `bool` and an `int`, an
 *   array a `tuple` and a `list`, a `byRef` array only a `list`, a Map or plain object a `dict`).
 * - `C` a remote class (a netref with instance id 0): for a netref `x`, equal class ids answer
 *   locally — across connections too, as Python compares them — else `C`'s owner decides
 *   (INSTANCECHECK). For a local `x`, the builtin class `C` names is checked locally (a JS number
 *   against a netref to Python's `int` is true); a local value is never an instance of a
 *   non-builtin remote class.
 * - `C` a remote instance: fails with a TypeError, as Python's `isinstance`.
 *
 * @since 0.1.0 @category operations
 */
export const isinstance = (target: Target, cls: Netref.Netref | string): RemoteOp.Remote =>
  RemoteOp.fromEffect(
    Effect.flatMap(RemoteOp.toEffect(target), (value): Effect.Effect<unknown, RemoteFailure> => {
      const state = Netref.stateOf(value)
      if (typeof cls === "string") {
        const wanted = Pythonic.typeNamePack(cls)
        if (state === undefined) return Effect.succeed(Pythonic.pythonMroOf(value).includes(wanted))
        if (String(state.idPack[0]) === wanted || wanted === "builtins.object") return Effect.succeed(true)
        return Effect.map(
          remoteMro(value as Netref.Netref, state),
          (mro) => mro !== undefined && mro.includes(wanted)
        )
      }
      const clsState = Netref.stateOf(cls)
      if (clsState === undefined) return Effect.fail(notAClass())
      if (Number(clsState.idPack[2]) !== 0) return Effect.fail(notAClass())
      if (state === undefined) {
        return Effect.succeed(Pythonic.pythonMroOf(value).includes(String(clsState.idPack[0])))
      }
      if (String(state.idPack[1]) === String(clsState.idPack[1])) {
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
