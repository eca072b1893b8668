/**
 * Local objects exported to a peer: their id_packs and the refcounting table (PROTOCOL.md §3.3, PROTOCOL.md §3.7).
 *
 * An id_pack is `(name_pack, class_id, instance_id)`. The name_pack is chosen so that a Python
 * peer builds a working proxy without an INSPECT round trip where it can: functions are
 * `builtins.function`, bound methods `builtins.method`, arrays `builtins.list`, Maps
 * and plain objects (prototype `Object.prototype` or `null`) `builtins.dict`, Sets `builtins.set`,
 * iterators `builtins.generator`, errors `builtins.Exception`, class instances `builtins.object`.
 * Classes, and objects that offer Python protocols (a user-defined `__len__`, an iterable…), get
 * `js.<Name>` and answer INSPECT.
 *
 * Ids are process-wide and stable for an object's lifetime, like CPython's `id()`.
 *
 * @since 0.1.0
 */
import { keyError } from "../base/Errors.js"
import type { IdPack } from "../wire/Message.js"

let nextId = 1
const ids = new WeakMap<object, number>()

/**
 * A stable, process-wide positive integer for an object.
 *
 * @since 0.1.0 @category ids
 */
export const idOf = (o: object): number => {
  let id = ids.get(o)
  if (id === undefined) {
    id = nextId++
    ids.set(o, id)
  }
  return id
}

/**
 * The table key of an id_pack.
 *
 * @since 0.1.0 @category ids
 */
export const keyOf = (idPack: IdPack): string => `${idPack[0]}\u0000${idPack[1]}\u0000${idPack[2]}`

const sameIdPack = (a: IdPack, b: IdPack): boolean => a[2] === b[2] && a[1] === b[1] && a[0] === b[0]

const byRefArrays = new WeakSet<ReadonlyArray<unknown>>()

/**
 * Marks an array to travel by reference (as a Python list) instead of by value (as a tuple).
 *
 * @since 0.1.0 @category values
 */
export const byRef = <A extends ReadonlyArray<unknown>>(array: A): A => {
  byRefArrays.add(array)
  return array
}

/** @since 0.1.0 @category values */
export const isByRef = (array: ReadonlyArray<unknown>): boolean => byRefArrays.has(array)

const boundMethods = new WeakSet<Function>()

/**
 * Marks a function as a bound method (exported as `builtins.method`).
 *
 * @since 0.1.0 @category ids
 */
export const markBoundMethod = <F extends Function>(fn: F): F => {
  boundMethods.add(fn)
  return fn
}

const CLASS_SOURCE = /^class[\s{]/

/**
 * Whether a function is a class: calling it constructs (`class` syntax, or a native constructor
 * that refuses to be called without `new`).
 *
 * @since 0.1.0 @category guards
 */
export const isClass = (fn: Function): boolean => {
  if (boundMethods.has(fn)) return false
  let known = classes.get(fn)
  if (known === undefined) {
    known = NATIVE_CLASSES.has(fn) || CLASS_SOURCE.test(Function.prototype.toString.call(fn))
    classes.set(fn, known)
  }
  return known
}
// a function's source never changes: look at it once
const classes = new WeakMap<Function, boolean>()

const NATIVE_CLASSES: ReadonlySet<Function> = new Set<Function>([
  Map,
  Set,
  WeakMap,
  WeakSet,
  Promise,
  ArrayBuffer,
  DataView,
  WeakRef,
  FinalizationRegistry,
  Uint8Array,
  Int8Array,
  Uint16Array,
  Int16Array,
  Uint32Array,
  Int32Array,
  Float32Array,
  Float64Array,
  BigInt64Array,
  BigUint64Array,
  Uint8ClampedArray,
  URL,
  URLSearchParams,
  TextEncoder,
  TextDecoder,
  AbortController,
  // browsers define SharedArrayBuffer only on cross-origin isolated pages
  ...(typeof SharedArrayBuffer === "function" ? [SharedArrayBuffer] : [])
])

const ITERATOR_PROTO_ITER = Object.getPrototypeOf(Object.getPrototypeOf([][Symbol.iterator]()))[Symbol.iterator]

/**
 * Whether `o` is an iterator (has `next` and is its own iterable, like generators and the
 * iterators of built-in collections).
 *
 * @since 0.1.0 @category guards
 */
export const isIterator = (o: object): boolean =>
  typeof (o as { next?: unknown }).next === "function" &&
  ((o as { [Symbol.iterator]?: unknown })[Symbol.iterator] === ITERATOR_PROTO_ITER ||
    typeof (o as { [Symbol.asyncIterator]?: unknown })[Symbol.asyncIterator] === "function" ||
    // built-in iterators and generators of another realm (a vm context) have their own prototypes
    /^\[object (?:.+ Iterator|Generator|AsyncGenerator)\]$/.test(Object.prototype.toString.call(o)))

const isDunderName = (name: string): boolean =>
  name.length > 4 && name.startsWith("__") && name.endsWith("__") && name !== "__proto__"

const hasSymbolProtocol = (o: object): boolean =>
  Symbol.iterator in o || Symbol.asyncIterator in o || Symbol.dispose in o || Symbol.asyncDispose in o

const hasPythonProtocol = (o: object): boolean => {
  if (hasSymbolProtocol(o)) return true
  for (let p = o; p !== null && p !== Object.prototype; p = Object.getPrototypeOf(p)) {
    for (const name of Object.getOwnPropertyNames(p)) {
      if (isDunderName(name)) return true
    }
  }
  return false
}

/**
 * Keys a plain object never shows a peer, even as its own properties: they mean prototypes and
 * constructors to JavaScript, not data.
 *
 * @since 0.1.0 @category values
 */
export const RESERVED_KEYS: ReadonlySet<string> = new Set(["__proto__", "constructor", "prototype"])

/**
 * Whether `o` is a plain object: made by `{…}`, `Object.create(null)` or `JSON.parse` (in this
 * realm or a `vm` context's).
 *
 * @since 0.1.0 @category guards
 */
export const isPlainObject = (o: object): boolean => {
  if (typeof o !== "object" || o === null) return false
  const proto = Object.getPrototypeOf(o)
  if (proto === null || proto === Object.prototype) return true
  // `{}` made in another realm (a vm context): its Object.prototype is another object
  return Object.getPrototypeOf(proto) === null && typeof proto.constructor === "function" &&
    proto.constructor.name === "Object" && Object.prototype.toString.call(o) === "[object Object]"
}

/**
 * Whether `o` is a plain object a peer sees as a `dict`: a plain object that defines no Python
 * protocol of its own (no `__len__`-style member, no `Symbol.iterator`, not disposable) when it is
 * first looked at. Its items are its own enumerable string keys, except `RESERVED_KEYS`.
 *
 * @since 0.1.0 @category guards
 */
export const isPlainDict = (o: object): boolean => {
  if (!isPlainObject(o)) return false
  let known = plainDicts.get(o)
  if (known === undefined) {
    known = !hasSymbolProtocol(o) && !Object.getOwnPropertyNames(o).some(isDunderName)
    plainDicts.set(o, known)
  }
  return known
}
// decided once per object: a big dict is not scanned on every item read, and its id_pack is stable
const plainDicts = new WeakMap<object, boolean>()

/**
 * Whether a peer sees `o` as a `dict`: a `Map` or a plain dict (`isPlainDict`).
 *
 * @since 0.1.0 @category guards
 */
export const isDictLike = (o: object): boolean => o instanceof Map || isPlainDict(o)

const ctorOf = (o: object): Function => {
  const proto = Object.getPrototypeOf(o)
  const ctor = proto === null ? undefined : proto.constructor
  return typeof ctor === "function" ? ctor : Object
}

/**
 * The id_pack a local object is exported under.
 *
 * @since 0.1.0 @category ids
 */
export const idPackOf = (o: object): IdPack => {
  if (typeof o === "function") {
    if (boundMethods.has(o)) return ["builtins.method", idOf(Function), idOf(o)]
    if (isClass(o)) return [`js.${o.name || "<anonymous>"}`, idOf(o), 0]
    return ["builtins.function", idOf(Function), idOf(o)]
  }
  if (Array.isArray(o)) return ["builtins.list", idOf(Array), idOf(o)]
  if (o instanceof Map) return ["builtins.dict", idOf(Map), idOf(o)]
  if (o instanceof Set) return ["builtins.set", idOf(Set), idOf(o)]
  if (isIterator(o)) return ["builtins.generator", idOf(ctorOf(o)), idOf(o)]
  if (o instanceof Error) return ["builtins.Exception", idOf(ctorOf(o)), idOf(o)]
  const ctor = ctorOf(o)
  if (isPlainDict(o)) return ["builtins.dict", idOf(ctor), idOf(o)]
  if (hasPythonProtocol(o)) return [`js.${ctor.name || "Object"}`, idOf(ctor), idOf(o)]
  return ["builtins.object", idOf(ctor), idOf(o)]
}

interface Slot {
  readonly obj: object
  readonly idPack: IdPack
  /** how many times the object was sent; a DEL subtracts, reaching zero removes the slot */
  sends: number
}

/**
 * The objects this side has sent by reference, with how many times each was sent.
 *
 * @since 0.1.0 @category models
 */
export class ObjectTable {
  private readonly slots = new Map<string, Slot>()
  /**
   * The slot `get` found last: calls on one object (a service's root, mostly) come one after another,
   * and comparing an id_pack's three parts costs less than building and hashing its key, whose Map
   * entry is cold memory when a server holds thousands of connections.
   */
  private last: Slot | undefined

  /** Records one more send of `obj` under `idPack`. */
  add(obj: object, idPack: IdPack): void {
    const key = keyOf(idPack)
    const slot = this.slots.get(key)
    if (slot === undefined) this.slots.set(key, { obj, idPack, sends: 1 })
    else slot.sends++
  }

  /** The object for an id_pack the peer sent back; a KeyError (as Python raises) if unknown. */
  get(idPack: IdPack): object {
    const last = this.last
    if (last !== undefined && sameIdPack(last.idPack, idPack)) return last.obj
    const slot = this.slots.get(keyOf(idPack))
    if (slot === undefined) throw keyError(`unknown object ${JSON.stringify(idPack.map(String))}`)
    this.last = slot
    return slot.obj
  }

  has(idPack: IdPack): boolean {
    return this.slots.has(keyOf(idPack))
  }

  /** Handles DEL: forget `count` sends; a KeyError if the id_pack is unknown. */
  decref(idPack: IdPack, count: number): void {
    const key = keyOf(idPack)
    const slot = this.slots.get(key)
    if (slot === undefined) throw keyError(`unknown object ${JSON.stringify(idPack.map(String))}`)
    if (slot.sends <= count) {
      this.slots.delete(key)
      if (this.last === slot) this.last = undefined
    } else slot.sends -= count
  }

  get size(): number {
    return this.slots.size
  }

  clear(): void {
    this.slots.clear()
    this.last = undefined
  }
}
