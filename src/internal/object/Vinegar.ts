/**
 * Vinegar: exceptions on the wire (PROTOCOL.md §3.8).
 *
 * Outbound, a JavaScript error becomes `((module, class), args, attrs, traceback)` with a Python
 * `builtins` class chosen so that Python code can `except` it naturally; the JS stack is the
 * traceback text. Inbound, the 4-tuple becomes a `RemoteError`. `StopIteration` travels as the
 * bare int 1 both ways.
 *
 * @since 0.1.0
 */
import { ProtocolError, PythonException, RemoteError, stopIteration } from "../base/Errors.js"
import * as Brine from "../wire/Brine.js"
import { EXC_STOP_ITERATION, type WireVersion } from "../wire/Message.js"
import { PickleError } from "../wire/Pickle.js"

/**
 * The version we report as `_remote_version` to a peer speaking wire v5: a 5.x string, so that
 * Python 5.3 peers do not append a version-mismatch warning to our tracebacks.
 *
 * @since 0.1.0 @category constants
 */
export const REMOTE_VERSION = "5.3.0"

/**
 * The version we report as `_remote_version` to a peer speaking wire v6 (RPyC 6.x), for the same
 * reason: Python warns when the major versions differ.
 *
 * @since 0.1.0 @category constants
 */
export const REMOTE_VERSION_V6 = "6.0.0"

/**
 * The `_remote_version` matching the dialect spoken: {@link REMOTE_VERSION_V6} for v6, else
 * {@link REMOTE_VERSION}.
 *
 * @since 0.1.0 @category constants
 */
export const remoteVersionFor = (wireVersion: WireVersion | undefined): string =>
  wireVersion === 6 ? REMOTE_VERSION_V6 : REMOTE_VERSION

/** @since 0.1.0 @category models */
export interface DumpOptions {
  readonly includeLocalTraceback: boolean
  readonly includeLocalVersion: boolean
  /**
   * The dialect of the connection the exception goes out on: decides the `_remote_version` sent
   * (`"6.0.0"` for v6, `"5.3.0"` otherwise, also when not known yet).
   */
  readonly wireVersion?: WireVersion | undefined
}

/**
 * The Python class a JavaScript error maps to.
 *
 * @since 0.1.0 @category mapping
 */
export const pythonClassOf = (error: unknown): readonly [module: string, name: string] => {
  if (error instanceof RemoteError) return [error.module, error.name]
  if (error instanceof PythonException) return ["builtins", error.pyName]
  if (isSystemError(error)) return ["builtins", osErrorName(error.code!)]
  if (error instanceof TypeError) return ["builtins", "TypeError"]
  if (error instanceof RangeError) {
    if (/call stack/i.test(error.message)) return ["builtins", "RecursionError"]
    return ["builtins", /index|out of range|out of bounds/i.test(error.message) ? "IndexError" : "ValueError"]
  }
  if (error instanceof SyntaxError) return ["builtins", "SyntaxError"]
  if (error instanceof ReferenceError) return ["builtins", "NameError"]
  if (error instanceof Brine.BrineError || error instanceof ProtocolError) return ["builtins", "ValueError"]
  // what Python's pickle raises for an object it cannot pickle
  if (error instanceof PickleError) return ["builtins", "TypeError"]
  if (error instanceof Error && PYTHON_NAMED.has(error.name)) return ["builtins", error.name]
  // an error of another realm (a vm context) fails instanceof: go by its name
  if (!(error instanceof Error) && isErrorLike(error)) {
    const name = String((error as Error).name)
    const mapped = REALM_NAMES[name]
    if (mapped !== undefined) return ["builtins", mapped]
    if (PYTHON_NAMED.has(name)) return ["builtins", name]
  }
  if (typeof error === "object" && error !== null && "_tag" in error && typeof error._tag === "string") {
    // a tagged Effect error: keep its tag visible as the class name, under a non-builtins module
    return ["effect", error._tag]
  }
  return ["builtins", "Exception"]
}

/** Node's errors from system calls: an errno-style code with a numeric errno or a syscall. */
const isSystemError = (error: unknown): error is NodeJS.ErrnoException =>
  error instanceof Error &&
  typeof (error as NodeJS.ErrnoException).code === "string" &&
  /^E[A-Z0-9]+$/.test((error as NodeJS.ErrnoException).code!) &&
  (typeof (error as NodeJS.ErrnoException).errno === "number" ||
    typeof (error as NodeJS.ErrnoException).syscall === "string")

/** JS errors whose name is also a Python builtin exception (Node's AssertionError, AbortError → no). */
const PYTHON_NAMED: ReadonlySet<string> = new Set([
  "AssertionError",
  "NotImplementedError",
  "TimeoutError",
  "KeyError",
  "IndexError",
  "ValueError",
  "AttributeError",
  "RuntimeError",
  "LookupError",
  "ArithmeticError",
  "ZeroDivisionError",
  "OverflowError",
  "PermissionError",
  "FileNotFoundError",
  "ConnectionError",
  "StopIteration"
])

const REALM_NAMES: Readonly<Record<string, string>> = {
  TypeError: "TypeError",
  RangeError: "ValueError",
  SyntaxError: "SyntaxError",
  ReferenceError: "NameError"
}

const osErrorName = (code: string): string => {
  switch (code) {
    case "ENOENT":
      return "FileNotFoundError"
    case "EEXIST":
      return "FileExistsError"
    case "EACCES":
    case "EPERM":
      return "PermissionError"
    case "EISDIR":
      return "IsADirectoryError"
    case "ENOTDIR":
      return "NotADirectoryError"
    case "ECONNREFUSED":
      return "ConnectionRefusedError"
    case "ECONNRESET":
      return "ConnectionResetError"
    case "ETIMEDOUT":
      return "TimeoutError"
    default:
      return "OSError"
  }
}

/** An Error of this realm or of another (a vm context). */
const isErrorLike = (e: unknown): e is Error =>
  e instanceof Error || Object.prototype.toString.call(e) === "[object Error]"

const simple = (value: unknown): unknown => (Brine.isDumpable(value) ? value : safeString(value))

const safeString = (value: unknown): string => {
  try {
    return String(value)
  } catch {
    return "<unprintable>"
  }
}

/**
 * The vinegar value for `error`.
 *
 * @since 0.1.0 @category encoding
 */
export const dump = (error: unknown, options: DumpOptions): unknown => {
  if (isStopIteration(error)) return EXC_STOP_ITERATION
  const [module, name] = pythonClassOf(error)
  const args = error instanceof RemoteError
    ? error.args.map(simple)
    : error instanceof PythonException
    ? error.pyArgs.map(simple)
    : [isErrorLike(error) ? error.message : safeString(error)]
  const attrs: Array<readonly [string, unknown]> = []
  if (error instanceof RemoteError) {
    for (const [k, v] of error.attrs) if (k !== "_remote_version") attrs.push([k, simple(v)])
  } else if (isSystemError(error)) {
    const e = error
    attrs.push(["errno", typeof e.errno === "number" ? Math.abs(e.errno) : null])
    attrs.push(["strerror", e.message])
    attrs.push(["filename", typeof e.path === "string" ? e.path : null])
  } else if (name === "SyntaxError" && module === "builtins") {
    // RPyC builds the exception with `cls.__new__` and sets `args`: a SyntaxError's `msg` (what its
    // str() shows) is only set by `__init__`, so it has to travel as an attribute
    attrs.push(["msg", args[0] ?? null])
  }
  attrs.push([
    "_remote_version",
    options.includeLocalVersion ? remoteVersionFor(options.wireVersion) : "<version denied>"
  ])
  const traceback = options.includeLocalTraceback ? tracebackOf(error, module, name) : "<traceback denied>"
  return [[module, name], args, attrs, traceback]
}

const tracebackOf = (error: unknown, module: string, name: string): string => {
  if (error instanceof RemoteError) return error.remoteTraceback
  const stack = isErrorLike(error) && typeof error.stack === "string" ? error.stack : safeString(error)
  const qualified = module === "builtins" ? name : `${module}.${name}`
  return `JavaScript stack (most recent call first):\n${stack}\n${qualified}\n`
}

const isStopIteration = (error: unknown): boolean =>
  (error instanceof PythonException && error.pyName === "StopIteration") ||
  (error instanceof RemoteError && error.module === "builtins" && error.name === "StopIteration")

/**
 * The `RemoteError` for an inbound vinegar value. Throws `ProtocolError` if the value has none of
 * the shapes RPyC sends.
 *
 * @since 0.1.0 @category decoding
 */
export const load = (value: unknown): RemoteError => {
  if (value === EXC_STOP_ITERATION) return stopIteration()
  if (typeof value === "string") {
    return new RemoteError({ module: "builtins", name: "Exception", args: [value], attrs: [], remoteTraceback: "" })
  }
  if (Array.isArray(value) && value.length === 4) {
    const [cls, args, attrs, tb] = value
    if (
      Array.isArray(cls) && cls.length === 2 && typeof cls[0] === "string" && typeof cls[1] === "string" &&
      Array.isArray(args) && Array.isArray(attrs) && typeof tb === "string"
    ) {
      const pairs = attrs.filter((a): a is readonly [string, unknown] =>
        Array.isArray(a) && a.length === 2 && typeof a[0] === "string"
      )
      return new RemoteError({ module: cls[0], name: cls[1], args, attrs: pairs, remoteTraceback: tb })
    }
  }
  throw new ProtocolError({ reason: "Envelope", detail: "exception payload is not a vinegar value" })
}
