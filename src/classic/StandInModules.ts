/**
 * The modules `getmodule(name)` gives a classic peer: stand-ins for Python's own modules, so that
 * Python's classic client works against a JavaScript server, and otherwise this process's modules
 * (see {@link loadModule}).
 *
 * The stand-ins: `builtins` (this process's `globalThis`), `importlib.util` (`_find_spec_from_path(name)`, which
 * Python's `"x" in conn.modules` calls), `sys` (`stdout` / `stderr` / `stdin` — assigning them
 * redirects this process's output, which is how `redirected_stdio` works —, `argv`, `path`,
 * `platform`, `version`, `executable`, `exit`), and `rpyc.lib.compat` (`pickle.loads` /
 * `pickle.dumps` on plain data, which `deliver()` calls).
 *
 * @since 0.1.0
 */
import * as Module from "node:module"
import * as Os from "node:os"
import { pathToFileURL } from "node:url"
import { attributeError, PythonException, typeError } from "../internal/base/Errors.js"
import * as Connection from "../internal/engine/Engine.js"
import * as Netref from "../internal/netref/Netref.js"
import { byRef, isByRef } from "../internal/object/LocalObjects.js"
import * as Pythonic from "../internal/object/Pythonic.js"
import { Handler } from "../internal/wire/Message.js"
import * as Pickle from "../internal/wire/Pickle.js"
import { requireFromCwd } from "./Namespace.js"

/** A spec as `importlib.util.find_spec` returns it (only `None` or not matters to Python's client). */
class ModuleSpec {
  constructor(readonly name: string, readonly origin: string) {}
  __repr__(): string {
    return `ModuleSpec(name='${this.name}', origin='${this.origin}')`
  }
}

const moduleCandidates = (name: string): ReadonlyArray<string> =>
  name.includes(".") && !name.startsWith(".") && !name.includes("/") ? [name, name.replaceAll(".", "/")] : [name]

const findSpec = (name: unknown): ModuleSpec | null => {
  const n = moduleName(name)
  if (STAND_INS[n] !== undefined) return new ModuleSpec(n, "built-in")
  const req = requireFromCwd()
  for (const candidate of moduleCandidates(n)) {
    if (Module.isBuiltin(candidate)) return new ModuleSpec(n, "built-in")
    try {
      return new ModuleSpec(n, req.resolve(candidate))
    } catch {
      // next candidate
    }
  }
  return null
}

/** One of this process's standard streams, as Python's `sys.stdout` is: reassignable. */
class StreamSlot {
  private target: unknown = undefined
  private saved: PropertyDescriptor | undefined

  constructor(private readonly stream: NodeJS.WriteStream) {}

  get current(): unknown {
    return this.target ?? this.stream
  }

  /** `sys.stdout = value`: the real stream (or `None`) restores it, anything else receives its writes. */
  assign(value: unknown): void {
    if (value === this.stream || value === null || value === undefined) return this.restore()
    const wasRedirected = this.target !== undefined
    this.target = value
    if (wasRedirected) return
    this.saved = Object.getOwnPropertyDescriptor(this.stream, "write")
    // the replacement's own `this` is the stream it is installed on
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const slot = this
    const write = function(chunk: unknown, encoding?: unknown, callback?: unknown): boolean {
      const done = typeof encoding === "function" ? encoding : callback
      const text = typeof chunk === "string"
        ? chunk
        : Buffer.from(chunk as Uint8Array).toString(typeof encoding === "string" ? encoding as BufferEncoding : "utf8")
      slot.forward(text)
      if (typeof done === "function") process.nextTick(done as () => void)
      return true
    }
    Object.defineProperty(this.stream, "write", { value: write, writable: true, configurable: true })
  }

  private restore(): void {
    if (this.target === undefined) return
    this.target = undefined
    if (this.saved !== undefined) Object.defineProperty(this.stream, "write", this.saved)
    else delete (this.stream as unknown as Record<string, unknown>).write
    this.saved = undefined
  }

  /** Sends `text` to the current target; if it cannot take it (its connection closed), restores the stream. */
  private forward(text: string): void {
    const target = this.target
    const fallBack = () => {
      if (this.target === target) this.restore()
      this.stream.write(text)
    }
    const state = Netref.stateOf(target)
    if (state !== undefined) {
      const owner = state.owner as unknown
      if (state.released || !Connection.isConnection(owner) || owner.closed) return fallBack()
      owner.submit(Handler.CALLATTR, [target, "write", [text], []], (exit) => {
        if (exit._tag === "Failure") fallBack()
      })
      return
    }
    const write = (target as { write?: unknown } | undefined)?.write
    if (typeof write !== "function") return fallBack()
    try {
      write.call(target, text)
    } catch {
      fallBack()
    }
  }
}

/**
 * The `sys` stand-in: process-wide, as Python's `sys` is.
 */
class SysModule {
  readonly __name__ = "sys"
  private readonly out = new StreamSlot(process.stdout)
  private readonly err = new StreamSlot(process.stderr)
  private input: unknown = undefined

  get stdout(): unknown {
    return this.out.current
  }
  set stdout(value: unknown) {
    this.out.assign(value)
  }
  get stderr(): unknown {
    return this.err.current
  }
  set stderr(value: unknown) {
    this.err.assign(value)
  }
  /** Accepted so that Python's `redirected_stdio` works; reading input is not redirected. */
  get stdin(): unknown {
    return this.input ?? process.stdin
  }
  set stdin(value: unknown) {
    this.input = value === process.stdin ? undefined : value
  }
  /** A copy of `process.argv`, as a list. */
  get argv(): Array<string> {
    return byRef([...process.argv])
  }
  /** Where `require` looks for packages, as a list. */
  get path(): Array<string> {
    return byRef([...(requireFromCwd().resolve.paths("x") ?? [])])
  }
  get platform(): string {
    return process.platform
  }
  get version(): string {
    return process.version
  }
  get executable(): string {
    return process.execPath
  }
  get byteorder(): string {
    return Os.endianness() === "LE" ? "little" : "big"
  }
  readonly maxsize = Number.MAX_SAFE_INTEGER
  getdefaultencoding(): string {
    return "utf-8"
  }
  exit(code: unknown = 0): never {
    process.exit(typeof code === "number" ? code : code === null ? 0 : 1)
  }
  __repr__(): string {
    return "<module 'sys' (effect-rpyc stand-in)>"
  }
  /**
   * Attribute reads: `stdout` may hold a netref (a redirecting peer's stream), which must come
   * back as itself rather than bound as a method (netrefs are functions to JavaScript).
   */
  _rpyc_getattr(name: string): unknown {
    if (!(name in this) || name.startsWith("_rpyc_") || name === "constructor") {
      throw attributeError(`module 'sys' has no attribute '${name}'`)
    }
    const value = (this as unknown as Record<string, unknown>)[name]
    return typeof value === "function" && !Netref.isNetref(value) ? Pythonic.bind(this, value, name) : value
  }
}

let sys: SysModule | undefined

const deepByRef = (value: unknown, seen = new Set<object>()): unknown => {
  if (typeof value !== "object" || value === null || seen.has(value) || value instanceof Uint8Array) return value
  seen.add(value)
  if (Array.isArray(value)) {
    value.forEach((v) => deepByRef(v, seen))
    return isByRef(value) ? value : byRef(value)
  }
  const items = value instanceof Map ? value.values() : value instanceof Set ? value.values() : Object.values(value)
  for (const v of items) deepByRef(v, seen)
  return value
}

/** `rpyc.lib.compat`: what `deliver()` calls (`pickle.loads`); lists come back by reference. */
const compat = {
  __name__: "rpyc.lib.compat",
  pickle: {
    __name__: "pickle",
    loads: (data: unknown): unknown => {
      if (!(data instanceof Uint8Array)) throw typeError("a bytes-like object is required")
      return deepByRef(Pickle.loads(data, { dicts: "object" }))
    },
    dumps: (value: unknown, protocol?: unknown): Uint8Array =>
      Pickle.dumps(value, typeof protocol === "number" ? protocol : Pickle.DEFAULT_PROTOCOL)
  }
}

const importlibUtil = {
  __name__: "importlib.util",
  /** What Python's `"x" in conn.modules` calls: a spec, or `None` when the module cannot be loaded. */
  _find_spec_from_path: (name: unknown, _path?: unknown): ModuleSpec | null => findSpec(name),
  find_spec: (name: unknown, _package?: unknown): ModuleSpec | null => findSpec(name)
}

const importlib = {
  __name__: "importlib",
  util: importlibUtil,
  import_module: (name: unknown): unknown => loadModule(moduleName(name))
}

const STAND_INS: Readonly<Record<string, () => unknown>> = {
  builtins: () => globalThis,
  __builtin__: () => globalThis,
  globalThis: () => globalThis,
  sys: () => (sys ??= new SysModule()),
  importlib: () => importlib,
  "importlib.util": () => importlibUtil,
  "rpyc.lib.compat": () => compat
}

/**
 * A module name as a peer gives it: a string, a tuple of parts (joined with dots, as RPyC does) or
 * bytes.
 *
 * @since 0.1.0 @category modules
 */
export const moduleName = (name: unknown): string => {
  if (typeof name === "string") return name
  if (Array.isArray(name)) return name.map(String).join(".")
  if (name instanceof Uint8Array) return new TextDecoder().decode(name)
  throw typeError("module name must be a string")
}

const notFound = (e: unknown, candidate: string): boolean => {
  const err = e as NodeJS.ErrnoException | undefined
  return (err?.code === "MODULE_NOT_FOUND" && String(err.message).includes(`'${candidate}'`)) ||
    err?.code === "ERR_UNKNOWN_BUILTIN_MODULE"
}

/**
 * Loads a module for `getmodule(name)`: a stand-in, else `require(name)` from the working
 * directory (a dotted name also tries slashes: `fs.promises` → `fs/promises`), else — for an
 * ES module `require` cannot load synchronously — a Promise of its `import()` namespace.
 * A missing module is a `ModuleNotFoundError` (an `ImportError` for Python).
 *
 * @since 0.1.0 @category modules
 */
export const loadModule = (name: string): unknown => {
  const standIn = STAND_INS[name]
  if (standIn !== undefined) return standIn()
  const req = requireFromCwd()
  for (const candidate of moduleCandidates(name)) {
    try {
      return req(candidate)
    } catch (e) {
      const code = (e as NodeJS.ErrnoException | undefined)?.code
      if (code === "ERR_REQUIRE_ESM" || code === "ERR_REQUIRE_ASYNC_MODULE") {
        return import(pathToFileURL(req.resolve(candidate)).href)
      }
      if (notFound(e, candidate)) continue
      throw e
    }
  }
  throw new PythonException("ModuleNotFoundError", `No module named '${name}'`)
}
