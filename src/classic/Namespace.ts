/**
 * The classic namespace: where a classic server's `execute` and `eval` run (one per connection),
 * exposed to the peer as `conn.namespace`.
 *
 * `execute` and `eval` run as scripts in a `vm` context whose global object is the namespace.
 * Chosen over a `with (proxy)` namespace because a vm context gives JavaScript's real global-scope
 * semantics: `x = 1`, `var x`, `function f() {}` all become namespace entries (visible to a later
 * `eval`, and as `conn.namespace.x`), while `let` / `const` / `class` declarations persist from one
 * `execute` to the next as they would in a REPL. A `with` proxy would lose top-level function
 * declarations and `let`s unless the code were parsed and rewritten. `require`, dynamic `import()`
 * (through Node's default loader; Node prints one ExperimentalWarning the first time it is used),
 * `console`, `process`, `Buffer`, timers, and the rest of Node's globals are there, plus `byRef`
 * (return an array by reference: `var xs = byRef([1, 2])` makes `xs` a Python `list` netref for
 * the peer; it returns a copy made in this realm, so keep the result) and
 * `__name` (the helper that tsx/esbuild inserts into compiled functions, so teleported functions run).
 *
 * The price of a vm context is a second realm: literals (`{}`, `[]`, functions) made by namespace
 * code get the context's `Object.prototype` / `Array.prototype`. How that is handled:
 * - the namespace's `Map`, `Set`, `WeakMap`, `WeakSet`, `Date`, `JSON`, `ArrayBuffer`, typed arrays
 *   (and the rest of `REALM_CONSTRUCTORS`) are this process's own, so `new Map()` in the namespace is
 *   a `dict` for the peer and `new Uint8Array(…)` is `bytes`; values from `require`d modules were
 *   never foreign;
 * - its `Error` classes and `Promise` are subclasses of this process's, with a `Symbol.hasInstance`
 *   that also accepts the context's own instances, so `throw new TypeError(…)` reaches the peer as a
 *   `TypeError` and `e instanceof TypeError` still holds for errors the engine throws inside;
 * - errors the engine itself throws (`x is not defined`) escaping `execute` / `eval` are converted to
 *   this realm's class of the same name (`ReferenceError` → Python `NameError`);
 * - arrays work everywhere (`Array.isArray` crosses realms). What remains foreign: a plain object
 *   literal made by namespace code is sent by reference as usual, but `obtain()` (pickle) refuses it
 *   as "not plain data" — build such values with `JSON.parse` or `Object.fromEntries`, which are
 *   this realm's —; an error thrown by the engine inside a namespace function that the peer calls
 *   directly reaches the peer as a generic `Exception` carrying the message; and a generator made by
 *   namespace code is not recognised as an iterator by the engine (the peer gets a plain object).
 *
 * @since 0.1.0
 */
import * as Module from "node:module"
import * as Path from "node:path"
import * as Vm from "node:vm"
import { attributeError, keyError, typeError } from "../internal/base/Errors.js"
import { byRef } from "../internal/object/LocalObjects.js"

/** Constructors the namespace takes from this realm (so that its values are ordinary values here). */
const REALM_CONSTRUCTORS = [
  "Map",
  "Set",
  "WeakMap",
  "WeakSet",
  "WeakRef",
  "FinalizationRegistry",
  "Date",
  "JSON",
  "ArrayBuffer",
  "SharedArrayBuffer",
  "DataView",
  "Uint8Array",
  "Int8Array",
  "Uint16Array",
  "Int16Array",
  "Uint32Array",
  "Int32Array",
  "Float32Array",
  "Float64Array",
  "BigInt64Array",
  "BigUint64Array",
  "Uint8ClampedArray"
] as const

/** Constructors the namespace gets as cross-realm subclasses (the engine also makes instances inside). */
const CROSS_REALM_CONSTRUCTORS = [
  "Error",
  "TypeError",
  "RangeError",
  "SyntaxError",
  "ReferenceError",
  "EvalError",
  "URIError",
  "AggregateError",
  "Promise"
] as const

const SCRIPT_NAME = "<classic>"

const globalRecord = globalThis as unknown as Record<string, unknown>

let nodeGlobals: ReadonlyArray<string> | undefined
/** Names of this process's globals that a fresh vm context lacks (`process`, `Buffer`, `setTimeout`, …). */
const nodeGlobalNames = (): ReadonlyArray<string> => {
  if (nodeGlobals === undefined) {
    const fresh = new Set(Vm.runInNewContext("Object.getOwnPropertyNames(globalThis)") as Array<string>)
    nodeGlobals = Object.getOwnPropertyNames(globalThis).filter((n) =>
      !fresh.has(n) && n !== "global" && n !== "globalThis"
    )
  }
  return nodeGlobals
}

/**
 * `require` resolving from the server's working directory, as `python -c "import x"` would: the
 * namespace's `require`, and how `getmodule` finds modules.
 *
 * @since 0.1.0 @category modules
 */
export const requireFromCwd = (): NodeJS.Require => Module.createRequire(Path.join(process.cwd(), "[rpyc-classic]"))

const contexts = new WeakMap<object, Vm.Context>()

/** Words that read as identifiers but are values, not bindings. */
const NOT_BINDINGS = new Set(["this", "null", "true", "false", "undefined", "arguments", "super", "new", "import"])

const isIdentifier = (s: string): boolean =>
  /^[\p{ID_Start}$_][\p{ID_Continue}$\u200c\u200d]*$/u.test(s) && !NOT_BINDINGS.has(s)

const hasOwn = (o: object, k: PropertyKey): boolean => Object.prototype.hasOwnProperty.call(o, k)

/**
 * A classic namespace: the global object of a `vm` context. Its entries are its own enumerable
 * properties (what namespace code assigns); Node's globals and the helpers sit one prototype
 * below, so they are visible to code but are not entries. For a Python peer it behaves as a dict:
 * `ns["x"]`, `"x" in ns`, `len(ns)`, `list(ns)`; for a JavaScript peer, `conn.namespace.x` is the
 * value itself (a function stays that function, not a bound method).
 *
 * @since 0.1.0 @category namespace
 */
export class Namespace {
  /** `ns[key]`: an entry, or a `let` / `const` / `class` binding of namespace code. */
  __getitem__(key: unknown): unknown {
    const k = String(key)
    if (k in this) return (this as Record<string, unknown>)[k]
    const binding = lexicalBinding(this, k)
    if (binding.found) return binding.value
    throw keyError(key)
  }
  __setitem__(key: unknown, value: unknown): void {
    ;(this as Record<string, unknown>)[String(key)] = value
  }
  __delitem__(key: unknown): void {
    const k = String(key)
    if (!hasOwn(this, k)) throw keyError(key)
    delete (this as Record<string, unknown>)[k]
  }
  __contains__(key: unknown): boolean {
    const k = String(key)
    return hasOwn(this, k) || lexicalBinding(this, k).found
  }
  __len__(): number {
    return Object.keys(this).length
  }
  __iter__(): Iterator<string> {
    return Object.keys(this)[Symbol.iterator]()
  }
  __repr__(): string {
    return `<classic namespace {${Object.keys(this).join(", ")}}>`
  }
  /** Attribute reads give the entry itself (RPyC reads the namespace as a dict). */
  _rpyc_getattr(name: string): unknown {
    if (
      !hasOwn(this, name) && typeof (Namespace.prototype as unknown as Record<string, unknown>)[name] === "function"
    ) {
      const method = (Namespace.prototype as unknown as Record<string, (...args: Array<unknown>) => unknown>)[name]
      return (...args: Array<unknown>) => method.apply(this, args)
    }
    if (name in this) return (this as Record<string, unknown>)[name]
    const binding = lexicalBinding(this, name)
    if (binding.found) return binding.value
    throw attributeError(`namespace has no entry '${name}'`)
  }
  _rpyc_setattr(name: string, value: unknown): void {
    ;(this as Record<string, unknown>)[name] = value
  }
  _rpyc_delattr(name: string): void {
    if (!hasOwn(this, name)) throw attributeError(name)
    delete (this as Record<string, unknown>)[name]
  }
}

/** A `let` / `const` / `class` declared by namespace code lives in the context's script scope. */
const lexicalBinding = (ns: object, name: string): { readonly found: boolean; readonly value?: unknown } => {
  const context = contexts.get(ns)
  if (context === undefined || !isIdentifier(name)) return { found: false }
  try {
    return { found: true, value: Vm.runInContext(name, context) }
  } catch {
    return { found: false }
  }
}

const crossRealm = (main: Function, foreign: unknown): Function => {
  const Base = main as new(...args: Array<any>) => object
  const Sub = class extends Base {
    static override [Symbol.hasInstance](value: unknown): boolean {
      return value instanceof Base || (typeof foreign === "function" && value instanceof (foreign as Function))
    }
  }
  Object.defineProperty(Sub, "name", { value: main.name })
  return Sub
}

/** Defines `__name(fn, name)` as esbuild does (its `keepNames` output calls it inside function bodies). */
const setFunctionName = (fn: unknown, name: unknown): unknown => {
  if (typeof fn === "function") Object.defineProperty(fn, "name", { value: String(name), configurable: true })
  return fn
}

/**
 * A fresh namespace with its vm context.
 *
 * @since 0.1.0 @category namespace
 */
export const makeNamespace = (): Namespace => {
  const layer: Record<string, unknown> = Object.create(Namespace.prototype)
  const define = (name: string, value: unknown) =>
    Object.defineProperty(layer, name, { value, writable: true, configurable: true, enumerable: false })
  for (const name of nodeGlobalNames()) {
    // read lazily: some of Node's globals are getters that load on first use
    Object.defineProperty(layer, name, {
      get: () => globalRecord[name],
      set(this: object, value: unknown) {
        Object.defineProperty(this, name, { value, writable: true, configurable: true, enumerable: true })
      },
      configurable: true,
      enumerable: false
    })
  }
  define("console", console)
  define("require", requireFromCwd())
  // an array made by namespace code is copied into this realm, whose iterators the engine knows
  define("byRef", (array: unknown) => {
    if (!Array.isArray(array)) throw typeError("byRef() takes an array")
    return byRef(array instanceof Array ? array : Array.from(array))
  })
  define("__name", setFunctionName)
  const ns = Object.create(layer) as Namespace
  const context = Vm.createContext(ns, { name: "rpyc classic namespace" })
  contexts.set(ns, context)
  // the context's own constructors, read before this realm's shadow them
  const foreign = Vm.runInContext(`[${CROSS_REALM_CONSTRUCTORS.join(", ")}]`, context) as Array<unknown>
  CROSS_REALM_CONSTRUCTORS.forEach((name, i) => define(name, crossRealm(globalRecord[name] as Function, foreign[i])))
  for (const name of REALM_CONSTRUCTORS) if (name in globalRecord) define(name, globalRecord[name])
  define("global", Vm.runInContext("globalThis", context))
  return ns
}

const scriptOptions: Vm.ScriptOptions = {
  filename: SCRIPT_NAME,
  importModuleDynamically: Vm.constants.USE_MAIN_CONTEXT_DEFAULT_LOADER
}

const codeOf = (code: unknown): string => {
  if (typeof code === "string") return code
  if (code instanceof Uint8Array) return new TextDecoder().decode(code)
  throw typeError(`code must be a string, not ${code === null ? "None" : typeof code}`)
}

const ERROR_CLASSES: Readonly<Record<string, ErrorConstructor>> = {
  Error,
  TypeError,
  RangeError,
  SyntaxError,
  ReferenceError,
  EvalError,
  URIError
}

/**
 * An error thrown inside the namespace's realm, as this realm's error of the same class (so that the
 * peer gets `NameError`, `TypeError`, … instead of a generic `Exception`). Others are returned as
 * they are.
 *
 * @since 0.1.0 @category namespace
 */
export const toLocalRealm = (error: unknown): unknown => {
  if (error instanceof Error || typeof error !== "object" || error === null) return error
  if (Object.prototype.toString.call(error) !== "[object Error]") return error
  const foreign = error as Error & Record<string, unknown>
  const Ctor = ERROR_CLASSES[String(foreign.name)] ?? Error
  const local = new Ctor(String(foreign.message)) as Error & Record<string, unknown>
  if (typeof foreign.stack === "string") local.stack = foreign.stack
  for (const key of Object.keys(foreign)) local[key] = foreign[key]
  return local
}

const contextOf = (ns: Namespace): Vm.Context => {
  const context = contexts.get(ns)
  if (context === undefined) throw typeError("not a classic namespace")
  return context
}

const settleResult = (value: unknown): unknown =>
  (typeof value === "object" || typeof value === "function") && value !== null &&
    typeof (value as { then?: unknown }).then === "function"
    ? Promise.resolve(value as PromiseLike<unknown>).catch((e: unknown) => {
      throw toLocalRealm(e)
    })
    : value

/**
 * Runs JavaScript statements in a namespace (RPyC's `execute`: Python's `exec`).
 *
 * @since 0.1.0 @category namespace
 */
export const executeIn = (ns: Namespace, code: unknown): void => {
  const context = contextOf(ns)
  try {
    new Vm.Script(codeOf(code), scriptOptions).runInContext(context)
  } catch (e) {
    throw toLocalRealm(e)
  }
}

/**
 * Evaluates JavaScript in a namespace and returns the value (RPyC's `eval`). An expression is
 * evaluated as one (`{ a: 1 }` is an object, not a block); otherwise the code runs as statements and
 * the value is the last statement's. A returned Promise (or thenable) is awaited by the connection.
 *
 * @since 0.1.0 @category namespace
 */
export const evalIn = (ns: Namespace, code: unknown): unknown => {
  const context = contextOf(ns)
  const text = codeOf(code)
  let script: Vm.Script
  try {
    // the parentheses on lines of their own keep line numbers and error excerpts those of `code`
    script = new Vm.Script(`(\n${text}\n)`, { ...scriptOptions, lineOffset: -1 })
  } catch {
    try {
      script = new Vm.Script(text, scriptOptions)
    } catch (e) {
      throw toLocalRealm(e)
    }
  }
  try {
    return settleResult(script.runInContext(context))
  } catch (e) {
    throw toLocalRealm(e)
  }
}
