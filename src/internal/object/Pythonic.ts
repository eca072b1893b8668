/**
 * Python's object protocol for JavaScript values: what `len()`, `x[i]`, `iter()`, `next()`,
 * `str()`, `repr()`, `hash()`, `==`, `with` and calls mean for JS objects a peer holds references
 * to.
 *
 * A JS object answers a dunder in this order: a method of that name the object really has (a
 * TypeScript class may define `__len__`), then the built-in meaning for its kind (arrays are lists,
 * Maps and plain objects are dicts, Sets are sets, iterators are generators, functions are
 * callable, disposables are context managers). Arrays, Maps and Sets also answer the public methods
 * of their Python counterparts (`append`, `keys`, `items`, `add`, …); the default policy denies
 * them as Python's would, except a dict's read-only `get`, `keys`, `values` and `items`.
 *
 * A plain object is a read-only dict of its own enumerable string keys (never `__proto__`,
 * `constructor` or `prototype`, never anything inherited).
 *
 * @since 0.1.0
 */
import { indexError, keyError, PythonException, typeError, valueError } from "../base/Errors.js"
import * as Netref from "../netref/Brand.js"
import * as Brine from "../wire/Brine.js"
import * as Bytes from "../wire/Bytes.js"
import {
  byRef,
  idOf,
  idPackOf,
  isByRef,
  isClass,
  isIterator,
  isPlainDict,
  markBoundMethod,
  RESERVED_KEYS
} from "./LocalObjects.js"

type AnyFn = (...args: Array<any>) => unknown
type Virtual = (self: any, ...args: Array<any>) => unknown

const stopIteration = (): PythonException => new PythonException("StopIteration")

const toIndex = (i: unknown, length: number, forInsert = false): number => {
  const n = typeof i === "bigint" ? Number(i) : i
  if (typeof n !== "number" || !Number.isInteger(n)) throw typeError("list indices must be integers or slices")
  const k = n < 0 ? n + length : n
  if (!forInsert && (k < 0 || k >= length)) throw indexError("list index out of range")
  return Math.max(0, Math.min(k, length))
}

const sliceIndices = (s: Brine.Slice, length: number): Array<number> => {
  // as Python: integers (or bool) and None only; a float would never advance the index loop below
  const num = (v: unknown): number | undefined => {
    if (v === null || v === undefined) return undefined
    if (typeof v === "bigint" || typeof v === "boolean") return Number(v)
    if (typeof v === "number" && Number.isInteger(v)) return v
    throw typeError("slice indices must be integers or None or have an __index__ method")
  }
  const step = num(s.step) ?? 1
  if (step === 0) throw valueError("slice step cannot be zero")
  const clamp = (v: number | undefined, dflt: number, lo: number, hi: number) =>
    v === undefined ? dflt : v < 0 ? Math.max(v + length, lo) : Math.min(v, hi)
  const start = step > 0 ? clamp(num(s.start), 0, 0, length) : clamp(num(s.start), length - 1, -1, length - 1)
  const stop = step > 0 ? clamp(num(s.stop), length, 0, length) : clamp(num(s.stop), -1, -1, length - 1)
  const out: Array<number> = []
  for (let i = start; step > 0 ? i < stop : i > stop; i += step) out.push(i)
  return out
}

const iterNext = (it: Iterator<unknown> | AsyncIterator<unknown>): unknown => {
  const r = it.next()
  if (r instanceof Promise) {
    return r.then((res: IteratorResult<unknown>) => {
      if (res.done) throw stopIteration()
      return res.value
    })
  }
  const res = r as IteratorResult<unknown>
  if (res.done) throw stopIteration()
  return res.value
}

const LIST: Record<string, Virtual> = {
  __len__: (a: Array<unknown>) => a.length,
  __bool__: (a: Array<unknown>) => a.length > 0,
  // a slice of a list is a new list, as in Python
  __getitem__: (a: Array<unknown>, i: unknown) =>
    i instanceof Brine.Slice ? byRef(sliceIndices(i, a.length).map((k) => a[k])) : a[toIndex(i, a.length)],
  __setitem__: (a: Array<unknown>, i: unknown, v: unknown) => {
    a[toIndex(i, a.length)] = v
  },
  __delitem__: (a: Array<unknown>, i: unknown) => {
    a.splice(toIndex(i, a.length), 1)
  },
  __contains__: (a: Array<unknown>, v: unknown) => a.includes(v),
  __iter__: (a: Array<unknown>) => a[Symbol.iterator](),
  __reversed__: (a: Array<unknown>) => [...a].reverse()[Symbol.iterator](),
  append: (a: Array<unknown>, v: unknown) => {
    a.push(v)
  },
  extend: (a: Array<unknown>, vs: Iterable<unknown>) => {
    for (const v of vs) a.push(v)
  },
  insert: (a: Array<unknown>, i: unknown, v: unknown) => {
    a.splice(toIndex(i, a.length, true), 0, v)
  },
  pop: (a: Array<unknown>, i: unknown = -1) => {
    if (a.length === 0) throw indexError("pop from empty list")
    return a.splice(toIndex(i, a.length), 1)[0]
  },
  remove: (a: Array<unknown>, v: unknown) => {
    const k = a.indexOf(v)
    if (k < 0) throw valueError("list.remove(x): x not in list")
    a.splice(k, 1)
  },
  index: (a: Array<unknown>, v: unknown) => {
    const k = a.indexOf(v)
    if (k < 0) throw valueError(`${String(v)} is not in list`)
    return k
  },
  count: (a: Array<unknown>, v: unknown) => a.filter((x) => x === v).length,
  clear: (a: Array<unknown>) => {
    a.length = 0
  },
  reverse: (a: Array<unknown>) => {
    a.reverse()
  },
  copy: (a: Array<unknown>) => byRef(a.slice())
}

const DICT: Record<string, Virtual> = {
  __len__: (m: Map<unknown, unknown>) => m.size,
  __bool__: (m: Map<unknown, unknown>) => m.size > 0,
  __getitem__: (m: Map<unknown, unknown>, k: unknown) => {
    if (!m.has(k)) throw keyError(k)
    return m.get(k)
  },
  __setitem__: (m: Map<unknown, unknown>, k: unknown, v: unknown) => {
    m.set(k, v)
  },
  __delitem__: (m: Map<unknown, unknown>, k: unknown) => {
    if (!m.delete(k)) throw keyError(k)
  },
  __contains__: (m: Map<unknown, unknown>, k: unknown) => m.has(k),
  __iter__: (m: Map<unknown, unknown>) => m.keys(),
  keys: (m: Map<unknown, unknown>) => [...m.keys()],
  values: (m: Map<unknown, unknown>) => [...m.values()],
  items: (m: Map<unknown, unknown>) => [...m.entries()],
  get: (m: Map<unknown, unknown>, k: unknown, dflt: unknown = null) => (m.has(k) ? m.get(k) : dflt),
  pop: (m: Map<unknown, unknown>, k: unknown, ...dflt: Array<unknown>) => {
    if (m.has(k)) {
      const v = m.get(k)
      m.delete(k)
      return v
    }
    if (dflt.length > 0) return dflt[0]
    throw keyError(k)
  },
  clear: (m: Map<unknown, unknown>) => {
    m.clear()
  },
  update: (m: Map<unknown, unknown>, other: Map<unknown, unknown> | Iterable<readonly [unknown, unknown]>) => {
    for (const [k, v] of other instanceof Map ? other.entries() : other) m.set(k, v)
  },
  copy: (m: Map<unknown, unknown>) => new Map(m)
}

/**
 * The keys a peer sees in a plain object: its own enumerable string keys, without `RESERVED_KEYS`.
 *
 * @since 0.1.0 @category dicts
 */
export const plainKeys = (o: object): Array<string> => Object.keys(o).filter((k) => !RESERVED_KEYS.has(k))

/**
 * Whether `key` is an item of the plain object `o` (an own enumerable string key, not reserved).
 *
 * @since 0.1.0 @category dicts
 */
export const hasPlainKey = (o: object, key: unknown): key is string =>
  typeof key === "string" && !RESERVED_KEYS.has(key) && Object.prototype.propertyIsEnumerable.call(o, key)

const readOnly = (): never => {
  throw typeError("a JavaScript object is a read-only dict to its peers (send a Map for a mutable one)")
}

/** A plain object as a read-only dict. */
const OBJECT_DICT: Record<string, Virtual> = {
  __len__: (o: object) => plainKeys(o).length,
  __bool__: (o: object) => plainKeys(o).length > 0,
  __getitem__: (o: Record<string, unknown>, k: unknown) => {
    if (!hasPlainKey(o, k)) throw keyError(k)
    return o[k]
  },
  __contains__: (o: object, k: unknown) => hasPlainKey(o, k),
  __iter__: (o: object) => plainKeys(o)[Symbol.iterator](),
  __setitem__: readOnly,
  __delitem__: readOnly,
  keys: (o: object) => plainKeys(o),
  values: (o: Record<string, unknown>) => plainKeys(o).map((k) => o[k]),
  items: (o: Record<string, unknown>) => plainKeys(o).map((k) => [k, o[k]]),
  get: (o: Record<string, unknown>, k: unknown, dflt: unknown = null) => (hasPlainKey(o, k) ? o[k] : dflt)
}

/**
 * The read-only methods of a dict that the default policy lets a peer call on a dict-like object
 * (a `Map` or a plain object), beyond the safe dunders.
 *
 * @since 0.1.0 @category dicts
 */
export const DICT_READ_METHODS: ReadonlySet<string> = new Set(["get", "keys", "values", "items"])

const SET: Record<string, Virtual> = {
  __len__: (s: Set<unknown>) => s.size,
  __bool__: (s: Set<unknown>) => s.size > 0,
  __contains__: (s: Set<unknown>, v: unknown) => s.has(v),
  __iter__: (s: Set<unknown>) => s.values(),
  add: (s: Set<unknown>, v: unknown) => {
    s.add(v)
  },
  discard: (s: Set<unknown>, v: unknown) => {
    s.delete(v)
  },
  remove: (s: Set<unknown>, v: unknown) => {
    if (!s.delete(v)) throw keyError(v)
  },
  clear: (s: Set<unknown>) => {
    s.clear()
  }
}

const ITERATOR: Record<string, Virtual> = {
  __iter__: (it: object) => it,
  __next__: (it: Iterator<unknown>) => iterNext(it)
}

const ITERABLE: Record<string, Virtual> = {
  __iter__: (o: Iterable<unknown> & AsyncIterable<unknown>) =>
    typeof o[Symbol.iterator] === "function" ? o[Symbol.iterator]() : o[Symbol.asyncIterator]()
}

const CALLABLE: Record<string, Virtual> = {
  __call__: (f: AnyFn) => f
}

const DISPOSABLE: Record<string, Virtual> = {
  __enter__: (o: object) => o,
  __exit__: (o: Disposable & AsyncDisposable) => {
    const r = typeof o[Symbol.dispose] === "function" ? o[Symbol.dispose]() : o[Symbol.asyncDispose]()
    return r instanceof Promise ? r.then(() => false) : false
  }
}

const COMMON: Record<string, Virtual> = {
  __str__: (o: object) => strOf(o),
  __repr__: (o: object) => reprOf(o),
  __hash__: (o: object) => hashOf(o),
  __eq__: (o: object, other: unknown) => o === other,
  __ne__: (o: object, other: unknown) => o !== other
}

/** The tables of virtual methods that apply to `o`, most specific first. */
const tablesOf = (o: object): Array<Record<string, Virtual>> => {
  const tables: Array<Record<string, Virtual>> = []
  if (typeof o === "function") tables.push(CALLABLE)
  else if (Array.isArray(o)) tables.push(LIST)
  else if (o instanceof Map) tables.push(DICT)
  else if (o instanceof Set) tables.push(SET)
  else if (isPlainDict(o)) tables.push(OBJECT_DICT)
  else if (isIterator(o)) tables.push(ITERATOR)
  else if (Symbol.iterator in o || Symbol.asyncIterator in o) tables.push(ITERABLE)
  if (Symbol.dispose in o || Symbol.asyncDispose in o) tables.push(DISPOSABLE)
  tables.push(COMMON)
  return tables
}

const boundCache = new WeakMap<object, Map<unknown, Function>>()

/**
 * `fn` bound to `self`, cached so that reading the same method twice yields the same object (and
 * so the same id_pack).
 *
 * @since 0.1.0 @category methods
 */
export const bind = (self: object, fn: Function, name: string): Function => {
  let perObject = boundCache.get(self)
  if (perObject === undefined) boundCache.set(self, perObject = new Map())
  const cached = perObject.get(fn)
  if (cached !== undefined) return cached
  const bound = markBoundMethod(function(this: unknown, ...args: Array<unknown>) {
    return fn.apply(self, args)
  })
  Object.defineProperty(bound, "name", { value: name })
  perObject.set(fn, bound)
  return bound
}

/**
 * The built-in meaning of `name` for `o`, as a method bound to `o`, or `undefined`.
 *
 * @since 0.1.0 @category methods
 */
export const virtualAttr = (o: object, name: string): Function | undefined => {
  for (const table of tablesOf(o)) {
    if (Object.prototype.hasOwnProperty.call(table, name)) {
      return bind(o, wrapVirtual(table[name]), name)
    }
  }
  return undefined
}

const wrappedVirtuals = new WeakMap<Virtual, Function>()
/** A virtual takes `self` first; `bind` supplies `self` as `this`. */
const wrapVirtual = (impl: Virtual): Function => {
  let w = wrappedVirtuals.get(impl)
  if (w === undefined) {
    w = function(this: unknown, ...args: Array<unknown>) {
      return impl(this, ...args)
    }
    wrappedVirtuals.set(impl, w)
  }
  return w
}

/**
 * Whether `o` answers `name` with a built-in meaning.
 *
 * @since 0.1.0 @category methods
 */
export const hasVirtual = (o: object, name: string): boolean =>
  tablesOf(o).some((t) => Object.prototype.hasOwnProperty.call(t, name))

/**
 * The dunders `o` supports, for INSPECT replies: real `__x__` methods plus the built-in ones.
 *
 * @since 0.1.0 @category methods
 */
export const dunderNames = (o: object): Array<string> => {
  const names = new Set<string>()
  for (
    let p: object | null = o;
    p !== null && p !== Object.prototype && p !== Function.prototype;
    p = Object.getPrototypeOf(p)
  ) {
    for (const name of Object.getOwnPropertyNames(p)) {
      if (isDunder(name)) {
        const d = Object.getOwnPropertyDescriptor(p, name)
        if (d && typeof d.value === "function") names.add(name)
      }
    }
  }
  for (const table of tablesOf(o)) for (const name of Object.keys(table)) if (isDunder(name)) names.add(name)
  return [...names]
}

const isDunder = (name: string): boolean =>
  name.length > 4 && name.startsWith("__") && name.endsWith("__") && name !== "__proto__"

/** Calls a user-defined dunder of `o` if it has one, else returns `undefined` via the fallback. */
const userDunder = (o: object, name: string): AnyFn | undefined => {
  const f = (o as Record<string, unknown>)[name]
  return typeof f === "function" && !Object.prototype.hasOwnProperty.call(Object.prototype, name)
    ? f as AnyFn
    : undefined
}

/**
 * `str(o)`.
 *
 * @since 0.1.0 @category protocol
 */
export const strOf = (o: unknown): string => {
  if (typeof o === "object" && o !== null || typeof o === "function") {
    const f = userDunder(o, "__str__")
    if (f) return String(f.call(o))
    if (o instanceof Error) return o.message
    const ts = (o as { toString?: unknown }).toString
    if (typeof ts === "function" && ts !== Object.prototype.toString && !Array.isArray(o) && typeof o !== "function") {
      return String(ts.call(o))
    }
    return reprOf(o)
  }
  return String(o)
}

/**
 * `repr(o)`: a user-defined `__repr__`, else Python's style — containers show their items (which
 * the peer can read through `__getitem__` anyway), other objects only their class and id, never
 * their fields: `repr()` must not reveal what the attribute policy hides.
 *
 * @since 0.1.0 @category protocol
 */
export const reprOf = (o: unknown): string => reprWith(o, 0, new Set())

const MAX_DEPTH = 4
const MAX_ITEMS = 100

const reprWith = (o: unknown, depth: number, seen: Set<object>): string => {
  switch (typeof o) {
    case "undefined":
      return "None"
    case "boolean":
      return o ? "True" : "False"
    case "number":
      return Number.isInteger(o) || !Number.isFinite(o) ? pyNumber(o) : String(o)
    case "bigint":
      return o.toString()
    case "string":
      return pyQuote(o)
    case "symbol":
      return o === Brine.Ellipsis ? "Ellipsis" : o === Brine.NotImplemented ? "NotImplemented" : String(o)
  }
  if (o === null) return "None"
  const obj = o as object
  if (Netref.isNetref(obj)) return `<netref ${Netref.stateOf(obj)!.idPack[0]}>`
  const user = userDunder(obj, "__repr__")
  if (user) return String(user.call(obj))
  if (typeof obj === "function") {
    if (isClass(obj)) return `<class 'js.${obj.name || "<anonymous>"}'>`
    return `<function ${obj.name || "<anonymous>"} at 0x${idOf(obj).toString(16)}>`
  }
  if (seen.has(obj)) return Array.isArray(obj) ? "[...]" : "{...}"
  const items = (xs: Iterable<unknown>, show: (x: unknown) => string): string => {
    if (depth >= MAX_DEPTH) return "..."
    seen.add(obj)
    const out: Array<string> = []
    for (const x of xs) {
      if (out.length === MAX_ITEMS) {
        out.push("...")
        break
      }
      out.push(show(x))
    }
    seen.delete(obj)
    return out.join(", ")
  }
  const inner = (x: unknown) => reprWith(x, depth + 1, seen)
  if (Array.isArray(obj)) return `[${items(obj, inner)}]`
  if (obj instanceof Map) {
    return `{${items(obj, (e) => `${inner((e as [unknown, unknown])[0])}: ${inner((e as [unknown, unknown])[1])}`)}}`
  }
  if (obj instanceof Set) return obj.size === 0 ? "set()" : `{${items(obj, inner)}}`
  if (isPlainDict(obj)) {
    const rec = obj as Record<string, unknown>
    return `{${items(plainKeys(obj), (k) => `${inner(k)}: ${inner(rec[k as string])}`)}}`
  }
  if (obj instanceof Uint8Array) return `b${pyQuote(Bytes.latin1(obj))}`
  if (obj instanceof Error) return `${obj.name}(${pyQuote(obj.message)})`
  if (obj instanceof Date) return `Date(${pyQuote(Number.isNaN(obj.getTime()) ? "Invalid Date" : obj.toISOString())})`
  if (obj instanceof Brine.PyFloat || obj instanceof Brine.Complex) return obj.toString()
  return `<${typeNameOf(obj)} object at 0x${idOf(obj).toString(16)}>`
}

const pyNumber = (n: number): string =>
  Number.isNaN(n) ? "nan" : n === Infinity ? "inf" : n === -Infinity ? "-inf" : Object.is(n, -0) ? "-0.0" : String(n)

/** Python's repr of a str: single quotes unless the text has some and no double quotes. */
const pyQuote = (text: string): string => {
  const quote = text.includes("'") && !text.includes("\"") ? "\"" : "'"
  let out = quote
  for (const ch of text) {
    const c = ch.codePointAt(0)!
    if (ch === quote || ch === "\\") out += "\\" + ch
    else if (ch === "\n") out += "\\n"
    else if (ch === "\r") out += "\\r"
    else if (ch === "\t") out += "\\t"
    else if (c < 0x20 || c === 0x7f) out += "\\x" + c.toString(16).padStart(2, "0")
    else out += ch
  }
  return out + quote
}

/**
 * `hash(o)`: a user-defined `__hash__`, else the object's id.
 *
 * @since 0.1.0 @category protocol
 */
export const hashOf = (o: object): unknown => {
  const f = userDunder(o, "__hash__")
  return f ? f.call(o) : idOf(o)
}

/**
 * The comparison CMP asks for: a user-defined dunder if present, else identity for equality, the
 * numeric value for `Date`s, and `NotImplemented` otherwise (Python then falls back as it does
 * for unrelated types).
 *
 * @since 0.1.0 @category protocol
 */
export const compare = (o: object, other: unknown, op: string): unknown => {
  const f = userDunder(o, op)
  if (f) return f.call(o, other)
  switch (op) {
    case "__eq__":
      return o === other
    case "__ne__":
      return o !== other
  }
  if (o instanceof Date && other instanceof Date) {
    const a = o.getTime(), b = other.getTime()
    switch (op) {
      case "__lt__":
        return a < b
      case "__le__":
        return a <= b
      case "__gt__":
        return a > b
      case "__ge__":
        return a >= b
    }
  }
  return Brine.NotImplemented
}

/**
 * Calls a function as Python would call it: classes are constructed, keyword arguments (if any)
 * arrive as one trailing plain object.
 *
 * @since 0.1.0 @category protocol
 */
export const call = (
  fn: unknown,
  args: ReadonlyArray<unknown>,
  kwargs: ReadonlyArray<readonly [string, unknown]> = []
): unknown => {
  if (typeof fn !== "function") {
    throw typeError(`'${typeNameOf(fn)}' object is not callable`)
  }
  const all = withKwargs(args, kwargs)
  if (isClass(fn)) return Reflect.construct(fn, all)
  return Reflect.apply(fn, undefined, all)
}

/**
 * Calls `method` (a function that is not a class) on `self`, as a bound method of `self` would be
 * called, without making the bound method.
 *
 * @since 0.1.0 @category protocol
 */
export const callMethod = (
  self: object,
  method: Function,
  args: ReadonlyArray<unknown>,
  kwargs: ReadonlyArray<readonly [string, unknown]>
): unknown => Reflect.apply(method, self, withKwargs(args, kwargs))

const withKwargs = (
  args: ReadonlyArray<unknown>,
  kwargs: ReadonlyArray<readonly [string, unknown]>
): ReadonlyArray<unknown> => kwargs.length > 0 ? [...args, Object.fromEntries(kwargs)] : args

/**
 * The Python-ish type name of a JS value, for error messages.
 *
 * @since 0.1.0 @category protocol
 */
export const typeNameOf = (o: unknown): string => {
  if (o === null || o === undefined) return "NoneType"
  if (Array.isArray(o)) return "list"
  if (typeof o === "function") return isClass(o) ? "type" : "function"
  if (typeof o === "object" && isPlainDict(o)) return "dict"
  if (typeof o === "object") return (Object.getPrototypeOf(o)?.constructor?.name as string | undefined) ?? "object"
  return typeof o
}

/**
 * `dir(o)`: own and inherited property names (not `Object.prototype`'s), plus the dunders it
 * answers.
 *
 * @since 0.1.0 @category protocol
 */
export const dirOf = (o: object): Array<string> => {
  const names = new Set<string>()
  for (
    let p: object | null = o;
    p !== null && p !== Object.prototype && p !== Function.prototype;
    p = Object.getPrototypeOf(p)
  ) {
    for (const name of Object.getOwnPropertyNames(p)) {
      // array indices are items, not attributes
      if (name !== "constructor" && !(Array.isArray(p) && /^\d+$/.test(name))) names.add(name)
    }
  }
  for (const table of tablesOf(o)) for (const name of Object.keys(table)) names.add(name)
  return [...names].sort()
}

/**
 * Takes up to `count` items from an iterator (BUFFITER); an async iterator yields a Promise.
 *
 * @since 0.1.0 @category protocol
 */
export const takeFrom = (it: object, countArg: unknown): Array<unknown> | Promise<Array<unknown>> => {
  // as Python's islice: an int from 0 up; anything else (a float, inf) would never end the loop
  const count = typeof countArg === "bigint" ? Number(countArg) : countArg
  if (typeof count !== "number" || !Number.isSafeInteger(count) || count < 0) {
    throw valueError("Stop argument for islice() must be None or an integer: 0 <= x <= sys.maxsize.")
  }
  const next = (it as Iterator<unknown>).next
  if (typeof next !== "function") throw typeError(`'${typeNameOf(it)}' object is not an iterator`)
  const out: Array<unknown> = []
  for (let i = 0; i < count; i++) {
    const r = next.call(it) as IteratorResult<unknown> | Promise<IteratorResult<unknown>>
    if (r instanceof Promise) {
      return r.then(async (first) => {
        if (first.done) return out
        out.push(first.value)
        for (let j = i + 1; j < count; j++) {
          const res = await (next.call(it) as unknown as Promise<IteratorResult<unknown>>)
          if (res.done) break
          out.push(res.value)
        }
        return out
      })
    }
    if (r.done) break
    out.push(r.value)
  }
  return out
}

// ---------------------------------------------------------------------------------------------
// types as Python sees them (isinstance)

/** Python's builtin exception classes and their base (single inheritance except ExceptionGroup). */
const EXCEPTION_BASES: Readonly<Record<string, string>> = {
  BaseException: "object",
  BaseExceptionGroup: "BaseException",
  Exception: "BaseException",
  GeneratorExit: "BaseException",
  KeyboardInterrupt: "BaseException",
  SystemExit: "BaseException",
  ArithmeticError: "Exception",
  FloatingPointError: "ArithmeticError",
  OverflowError: "ArithmeticError",
  ZeroDivisionError: "ArithmeticError",
  AssertionError: "Exception",
  AttributeError: "Exception",
  BufferError: "Exception",
  EOFError: "Exception",
  ImportError: "Exception",
  ModuleNotFoundError: "ImportError",
  LookupError: "Exception",
  IndexError: "LookupError",
  KeyError: "LookupError",
  MemoryError: "Exception",
  NameError: "Exception",
  UnboundLocalError: "NameError",
  OSError: "Exception",
  BlockingIOError: "OSError",
  ChildProcessError: "OSError",
  ConnectionError: "OSError",
  BrokenPipeError: "ConnectionError",
  ConnectionAbortedError: "ConnectionError",
  ConnectionRefusedError: "ConnectionError",
  ConnectionResetError: "ConnectionError",
  FileExistsError: "OSError",
  FileNotFoundError: "OSError",
  InterruptedError: "OSError",
  IsADirectoryError: "OSError",
  NotADirectoryError: "OSError",
  PermissionError: "OSError",
  ProcessLookupError: "OSError",
  TimeoutError: "OSError",
  ReferenceError: "Exception",
  RuntimeError: "Exception",
  NotImplementedError: "RuntimeError",
  RecursionError: "RuntimeError",
  StopAsyncIteration: "Exception",
  StopIteration: "Exception",
  SyntaxError: "Exception",
  IndentationError: "SyntaxError",
  TabError: "IndentationError",
  SystemError: "Exception",
  TypeError: "Exception",
  ValueError: "Exception",
  UnicodeError: "ValueError",
  UnicodeDecodeError: "UnicodeError",
  UnicodeEncodeError: "UnicodeError",
  UnicodeTranslateError: "UnicodeError",
  Warning: "Exception",
  BytesWarning: "Warning",
  DeprecationWarning: "Warning",
  EncodingWarning: "Warning",
  FutureWarning: "Warning",
  ImportWarning: "Warning",
  PendingDeprecationWarning: "Warning",
  ResourceWarning: "Warning",
  RuntimeWarning: "Warning",
  SyntaxWarning: "Warning",
  UnicodeWarning: "Warning",
  UserWarning: "Warning"
}

/** Python's other builtin types (name_packs `builtins.<name>`): all derive from `object` only, but `bool`. */
const BUILTIN_TYPES: ReadonlySet<string> = new Set([
  "NoneType",
  "NotImplementedType",
  "builtin_function_or_method",
  "bytearray",
  "bytes",
  "classmethod",
  "code",
  "complex",
  "dict",
  "ellipsis",
  "enumerate",
  "filter",
  "float",
  "frame",
  "frozenset",
  "function",
  "generator",
  "int",
  "list",
  "list_iterator",
  "map",
  "mappingproxy",
  "memoryview",
  "method",
  "method-wrapper",
  "module",
  "property",
  "range",
  "range_iterator",
  "reversed",
  "set",
  "set_iterator",
  "slice",
  "staticmethod",
  "str",
  "super",
  "traceback",
  "tuple",
  "tuple_iterator",
  "type",
  "wrapper_descriptor",
  "zip"
])

/** Python's aliases of builtin classes: their name_pack is the aliased class's. */
const BUILTIN_ALIASES: Readonly<Record<string, string>> = { EnvironmentError: "OSError", IOError: "OSError" }

/**
 * The name_pack a type name stands for: `"list"` → `"builtins.list"`, `"IOError"` →
 * `"builtins.OSError"`, a dotted name (`"collections.OrderedDict"`) unchanged.
 *
 * @since 0.1.0 @category types
 */
export const typeNamePack = (name: string): string => {
  const bare = name.startsWith("builtins.") ? name.slice("builtins.".length) : name.includes(".") ? undefined : name
  if (bare === undefined) return name
  return `builtins.${BUILTIN_ALIASES[bare] ?? bare}`
}

/**
 * The MRO (name_packs, most specific first, ending with `builtins.object`) of a Python builtin
 * class given by its name_pack, or `undefined` if the name is not a builtin class Python 3.11 has.
 *
 * @since 0.1.0 @category types
 */
export const builtinMro = (namePack: string): ReadonlyArray<string> | undefined => {
  if (!namePack.startsWith("builtins.")) return undefined
  const name = namePack.slice("builtins.".length)
  if (name === "object") return ["builtins.object"]
  if (name === "bool") return ["builtins.bool", "builtins.int", "builtins.object"]
  if (BUILTIN_TYPES.has(name)) return [namePack, "builtins.object"]
  if (name === "ExceptionGroup") {
    return ["ExceptionGroup", "BaseExceptionGroup", "Exception", "BaseException", "object"].map((n) => `builtins.${n}`)
  }
  if (!Object.prototype.hasOwnProperty.call(EXCEPTION_BASES, name)) return undefined
  const mro: Array<string> = []
  for (let n: string | undefined = name; n !== undefined; n = EXCEPTION_BASES[n]) mro.push(`builtins.${n}`)
  return mro
}

const ARRAY_MRO: ReadonlyArray<string> = ["builtins.tuple", "builtins.list", "builtins.object"]

/**
 * The MRO of the Python type a local JavaScript value has for a peer (name_packs, most specific
 * first): how it travels by value (`7` is an `int`, `true` a `bool`; an array is a `tuple` and, as
 * JavaScript's list, a `list` too — only a `list` with `byRef`), or the
 * name_pack it is exported under (a `Map` or a plain object is a `dict`, a function a `function`, a
 * class a `type`, an error an `Exception`, a `js.<Class>` instance a subclass of `object`).
 *
 * @since 0.1.0 @category types
 */
export const pythonMroOf = (value: unknown): ReadonlyArray<string> => {
  const mro = (name: string): ReadonlyArray<string> => builtinMro(name) ?? [name, "builtins.object"]
  switch (typeof value) {
    case "undefined":
      return mro("builtins.NoneType")
    case "boolean":
      return mro("builtins.bool")
    case "number":
      return mro(Number.isInteger(value) ? "builtins.int" : "builtins.float")
    case "bigint":
      return mro("builtins.int")
    case "string":
      return mro("builtins.str")
    case "symbol":
      return value === Brine.Ellipsis
        ? mro("builtins.ellipsis")
        : value === Brine.NotImplemented
        ? mro("builtins.NotImplementedType")
        : mro("builtins.object")
    case "function":
      return isClass(value) ? mro("builtins.type") : mro(idPackOf(value)[0])
  }
  if (value === null) return mro("builtins.NoneType")
  const o = value as object
  // an array travels as a tuple unless `byRef`, and is JavaScript's list: it is both unless `byRef`
  if (Array.isArray(o)) return isByRef(o) ? mro("builtins.list") : ARRAY_MRO
  if (o instanceof Uint8Array) return mro("builtins.bytes")
  if (o instanceof Brine.PyFloat) return mro("builtins.float")
  if (o instanceof Brine.Complex) return mro("builtins.complex")
  if (o instanceof Brine.Slice) return mro("builtins.slice")
  if (o instanceof Brine.FrozenSet) return mro("builtins.frozenset")
  return mro(idPackOf(o)[0])
}
