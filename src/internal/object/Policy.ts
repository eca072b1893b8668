/**
 * Attribute access policy (PROTOCOL.md §3.5), applied to the requests a peer sends us.
 *
 * RPyC's rules, unchanged: an object's own `_rpyc_getattr` / `_rpyc_setattr` / `_rpyc_delattr`
 * decides alone if present; otherwise the `allow…` switches gate the operation, and a name is
 * reachable if it is exposed (`exposed_` + name exists), safe (in `safeAttrs`), public (with
 * `allowPublicAttrs`), or anything (`allowAllAttrs`).
 *
 * JavaScript adds escape hatches Python does not have: `__proto__`, `constructor`, `prototype` and
 * the rest of `Object.prototype` / `Function.prototype` (`__defineGetter__`, `call`, `bind`, …).
 * Unless `allowAllAttrs` is on they are unreachable whatever else the config says — so
 * `root.constructor.constructor("return process")()` is an AttributeError, not a shell.
 *
 * Dicts are readable: on a `Map` or a plain object (PROTOCOL.md §3.3, `builtins.dict`) the
 * read-only dict methods `get`, `keys`, `values` and `items` are allowed like safe names, so a
 * Python peer's `dict(x)` works under the default config. They read the object's own enumerable
 * keys only (`Pythonic.plainKeys`); other names keep the rules above.
 *
 * @since 0.1.0
 */
import type { ProtocolConfig } from "../base/Config.js"
import { attributeError, typeError } from "../base/Errors.js"
import * as Netref from "../netref/Brand.js"
import { isClass, isDictLike } from "./LocalObjects.js"
import * as Pythonic from "./Pythonic.js"

/**
 * Names that are never reachable unless `allowAllAttrs` is on.
 *
 * @since 0.1.0 @category constants
 */
export const BLOCKED_NAMES: ReadonlySet<string> = new Set([
  ...Object.getOwnPropertyNames(Object.prototype),
  // a function's `name` and `length` are ordinary data; the rest of Function.prototype is not
  ...Object.getOwnPropertyNames(Function.prototype).filter((n) => n !== "name" && n !== "length"),
  "__proto__",
  "constructor",
  "prototype",
  "caller",
  "arguments",
  "_rpyc_getattr",
  "_rpyc_setattr",
  "_rpyc_delattr"
])

type Permission = "allowGetattr" | "allowSetattr" | "allowDelattr"

const hasAttr = (obj: object, name: string): boolean => name in obj || Pythonic.hasVirtual(obj, name)

const deny = (name: string) => attributeError(`cannot access '${name}'`)

/**
 * The name an access to `name` resolves to under `config` (`"add"` → `"exposed_add"`), or an
 * AttributeError.
 *
 * @since 0.1.0 @category policy
 */
export const resolve = (config: ProtocolConfig, obj: object, name: unknown, permission: Permission): string => {
  const n = nameOf(name)
  if (!config[permission]) throw deny(n)
  const prefix = config.allowExposedAttrs ? config.exposedPrefix : ""
  // as in RPyC, an empty exposed prefix exposes every name
  const plain = config.allowAllAttrs ||
    (config.allowExposedAttrs && n.startsWith(prefix)) ||
    (config.allowSafeAttrs && config.safeAttrs.has(n)) ||
    (config.allowPublicAttrs && !n.startsWith("_")) ||
    (config.allowSafeAttrs && Pythonic.DICT_READ_METHODS.has(n) && isDictLike(obj))
  const hasExposed = prefix !== "" && hasAttr(obj, prefix + n)
  let resolved: string
  if (plain && (!hasExposed || hasAttr(obj, n))) resolved = n
  else if (hasExposed) resolved = prefix + n
  else if (plain) resolved = n
  else throw deny(n)
  if (!config.allowAllAttrs && BLOCKED_NAMES.has(resolved)) throw deny(n)
  return resolved
}

/**
 * Attribute names arrive as str (or bytes, which Python decodes as UTF-8).
 *
 * @since 0.1.0 @category policy
 */
export const nameOf = (name: unknown): string => {
  if (typeof name === "string") return name
  if (name instanceof Uint8Array) return new TextDecoder("utf-8", { fatal: true }).decode(name)
  throw typeError("name must be a string")
}

const accessor = (obj: object, hook: "_rpyc_getattr" | "_rpyc_setattr" | "_rpyc_delattr") => {
  const f = (obj as Record<string, unknown>)[hook]
  return typeof f === "function" ? f as (...args: Array<unknown>) => unknown : undefined
}

/**
 * GETATTR: reads an attribute the policy allows. A method comes back bound to `obj` (a Python
 * bound method); a missing attribute is an AttributeError.
 *
 * @since 0.1.0 @category policy
 */
export const getattr = (config: ProtocolConfig, obj: object, name: unknown): unknown => {
  const hook = accessor(obj, "_rpyc_getattr")
  if (hook) return hook.call(obj, nameOf(name))
  return readAttr(obj, resolve(config, obj, name, "allowGetattr"))
}

// a dict's methods come before what a Map or a plain object inherits (Map.prototype.keys is a JS
// iterator, not Python's keys()); its own properties still come first
const virtualFirst = (obj: object, name: string): boolean =>
  isDictLike(obj) && !Object.prototype.hasOwnProperty.call(obj, name)

// a netref is a function to JS, but it is the peer's object, not a method of ours
const isMethod = (value: unknown): value is Function =>
  typeof value === "function" && !isClass(value) && !Netref.isNetref(value)

/**
 * CALLATTR: calls an attribute the policy allows, as GETATTR then CALL would.
 *
 * A method is called on `obj` directly: the bound method GETATTR makes (and caches per object, so
 * that two reads give one id_pack) is never seen by the peer here, and finding it in that cache on
 * every call is memory a server touches per call and per object, colder the more connections it holds.
 *
 * @since 0.1.0 @category policy
 */
export const callattr = (
  config: ProtocolConfig,
  obj: object,
  name: unknown,
  args: ReadonlyArray<unknown>,
  kwargs: ReadonlyArray<readonly [string, unknown]>
): unknown => {
  const hook = accessor(obj, "_rpyc_getattr")
  if (hook) return Pythonic.call(hook.call(obj, nameOf(name)), args, kwargs)
  const resolved = resolve(config, obj, name, "allowGetattr")
  if (virtualFirst(obj, resolved) || !(resolved in obj)) return Pythonic.call(readAttr(obj, resolved), args, kwargs)
  const value = (obj as Record<string, unknown>)[resolved]
  return isMethod(value) ? Pythonic.callMethod(obj, value, args, kwargs) : Pythonic.call(value, args, kwargs)
}

/**
 * Reads `name` from `obj` after policy checks: the real property, else the Pythonic meaning.
 *
 * @since 0.1.0 @category policy
 */
export const readAttr = (obj: object, name: string): unknown => {
  if (virtualFirst(obj, name)) {
    const virtual = Pythonic.virtualAttr(obj, name)
    if (virtual !== undefined) return virtual
  }
  if (name in obj) {
    const value = (obj as Record<string, unknown>)[name]
    // a method comes back bound, as Python's bound methods
    return isMethod(value) ? Pythonic.bind(obj, value, name) : value
  }
  const virtual = Pythonic.virtualAttr(obj, name)
  if (virtual !== undefined) return virtual
  if (name === "__doc__") return null
  throw attributeError(`'${Pythonic.typeNameOf(obj)}' object has no attribute '${name}'`)
}

/**
 * SETATTR.
 *
 * @since 0.1.0 @category policy
 */
export const setattr = (config: ProtocolConfig, obj: object, name: unknown, value: unknown): void => {
  const hook = accessor(obj, "_rpyc_setattr")
  if (hook) {
    hook.call(obj, nameOf(name), value)
    return
  }
  const resolved = resolve(config, obj, name, "allowSetattr")
  if (!Reflect.set(obj, resolved, value)) throw attributeError(`can't set attribute '${resolved}'`)
}

/**
 * DELATTR.
 *
 * @since 0.1.0 @category policy
 */
export const delattr = (config: ProtocolConfig, obj: object, name: unknown): void => {
  const hook = accessor(obj, "_rpyc_delattr")
  if (hook) {
    hook.call(obj, nameOf(name))
    return
  }
  const resolved = resolve(config, obj, name, "allowDelattr")
  if (!(resolved in obj)) throw attributeError(resolved)
  if (!Reflect.deleteProperty(obj, resolved)) throw attributeError(`can't delete attribute '${resolved}'`)
}

/**
 * `restricted(obj, attrs, wattrs)`: a view of `obj` whose attribute access is limited to the
 * listed names, whatever the connection's config (RPyC's `rpyc.restricted`). `wattrs` defaults to
 * `attrs`; pass `[]` to forbid writes.
 *
 * @since 0.1.0 @category policy
 */
export const restricted = <T extends object>(
  obj: T,
  attrs: Iterable<string>,
  wattrs?: Iterable<string>
): object => {
  const readable = new Set(attrs)
  const writable = new Set(wattrs ?? readable)
  return new Restricted(obj, readable, writable)
}

class Restricted {
  constructor(
    private readonly target: object,
    private readonly readable: ReadonlySet<string>,
    private readonly writable: ReadonlySet<string>
  ) {}
  _rpyc_getattr(name: string): unknown {
    if (!this.readable.has(name)) throw attributeError(`${name} is not a valid attribute`)
    return readAttr(this.target, name)
  }
  _rpyc_setattr(name: string, value: unknown): void {
    if (!this.writable.has(name)) throw attributeError(`${name} is not a valid attribute`)
    ;(this.target as Record<string, unknown>)[name] = value
  }
  _rpyc_delattr(name: string): void {
    throw attributeError(`cannot delete ${name}`)
  }
}
