/**
 * Teleporting a function: defining it in the peer's classic namespace and getting a netref to it
 * (RPyC's `conn.teleport(func)` / `teleport_function`, PROTOCOL.md §5.3).
 *
 * RPyC ships CPython bytecode; a JavaScript function travels as its **source**, which only a
 * JavaScript peer can run:
 *
 * - **To a JavaScript classic server**, `teleport(conn, square)` sends `square`'s source, defines it
 *   in the remote namespace under its name (`conn.namespace.square` is then the very netref
 *   `teleport` returned) and returns the netref. The function runs remotely with the remote
 *   namespace as its global scope, like a teleported Python function. A function that **captures
 *   variables of its surrounding scope** (a closure) is refused with a `TeleportError` naming them —
 *   its source alone would not carry their values. Names the function uses that the remote side
 *   provides (JavaScript and Node globals, `require`, and anything defined in the remote namespace
 *   with `execute`) are fine. Function declarations and expressions, arrow, async and generator
 *   functions, object-literal methods and classes can be teleported; native and bound functions,
 *   accessors and methods using `super` cannot.
 * - **To a Python classic server** (`rpyc_classic`), teleport takes **Python source text**:
 *   `teleport(conn, "def square(x):\n    return x ** 2")` executes it in the remote namespace and
 *   returns `namespace["square"]` (the name is the first `def` / `class`, or `options.name`).
 *   Common indentation is removed, so a template literal can be indented with the code around it.
 *
 * Which names a function captures is found by `FreeVariables`, lenient where JavaScript is
 * ambiguous: the worst case of a mistake is a `ReferenceError` when the function runs remotely, never
 * a refusal of a function that is fine.
 *
 * @since 0.1.0
 */
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Awaitable from "../internal/base/Awaitable.js"
import type { RemoteFailure } from "../internal/base/Errors.js"
import * as RemoteOp from "../internal/netref/RemoteOp.js"
import * as Operations from "../netref/Operations.js"
import { freeVariables } from "./FreeVariables.js"
import { isName, isPunct, matchBrackets, type Token, tokenize } from "./JsTokenizer.js"

/**
 * Why a function could not be teleported.
 *
 * - `Closure`: it captures variables of its surrounding scope (`names`).
 * - `Unsupported`: a native or bound function, an accessor, a method using `super`, …
 * - `Syntax`: its source could not be read.
 * - `WrongLanguage`: a JavaScript function for a Python server.
 * - `NoName`: Python source without a `def` / `class` and no `name` option.
 *
 * @since 0.1.0 @category errors
 */
export class TeleportError extends Data.TaggedError("TeleportError")<{
  readonly reason: "Closure" | "Unsupported" | "Syntax" | "WrongLanguage" | "NoName"
  readonly detail: string
  readonly names?: ReadonlyArray<string> | undefined
}> {
  override get message(): string {
    return this.detail
  }
}

/**
 * A function's source as an expression that recreates it, and its name: declarations,
 * expressions, arrows and classes as they are; object-literal methods rewritten as function
 * expressions. Native and bound functions, accessors, computed-name methods and methods using
 * `super` are refused.
 *
 * @since 0.1.0 @category source
 */
export const functionSource = (fn: Function): { readonly name: string; readonly source: string } => {
  const name = typeof fn.name === "string" ? fn.name : ""
  const text = Function.prototype.toString.call(fn)
  const unsupported = (why: string) =>
    new TeleportError({ reason: "Unsupported", detail: `cannot teleport ${name || "this function"}: ${why}` })
  if (/\{\s*\[native code\]\s*\}\s*$/.test(text)) throw unsupported("it is a native or bound function (no source)")
  let tokens: Array<Token>
  try {
    tokens = tokenize(text)
  } catch (e) {
    throw new TeleportError({
      reason: "Syntax",
      detail: `cannot read the source of ${name || "this function"}: ${(e as Error).message}`
    })
  }
  const [t0, t1] = tokens
  const arrowAt = (i: number): boolean => {
    if (isName(tokens[i]) && isPunct(tokens[i + 1], "=>")) return true
    if (!isPunct(tokens[i], "(")) return false
    try {
      return isPunct(tokens[matchBrackets(tokens)[i] + 1], "=>")
    } catch {
      return false
    }
  }
  const usesSuper = () => tokens.some((t) => isName(t, "super"))
  const rest = (i: number) => text.slice(tokens[i].start)
  let source: string
  if (isName(t0, "function") || isName(t0, "class") || arrowAt(0)) source = text
  else if (isName(t0, "async") && (isName(t1, "function") || arrowAt(1))) source = text
  else if (isName(t0, "get") || isName(t0, "set")) {
    if (isPunct(t1, "(")) source = `function ${text}`
    else throw unsupported("it is an accessor")
  } else if (isName(t0) && isPunct(t1, "(")) source = `function ${text}`
  else if (isPunct(t0, "*") && isName(t1)) source = `function* ${rest(1)}`
  else if (isName(t0, "async") && isName(t1) && isPunct(tokens[2], "(")) source = `async function ${rest(1)}`
  else if (isName(t0, "async") && isPunct(t1, "*") && isName(tokens[2])) source = `async function* ${rest(2)}`
  else throw unsupported("its source is not a function expression (a computed method name?)")
  if (source !== text && usesSuper()) throw unsupported("it is a method using super")
  return { name, source }
}

/**
 * Removes the indentation common to all non-blank lines (and leading blank lines), like Python's
 * `textwrap.dedent`.
 *
 * @since 0.1.0 @category source
 */
export const dedent = (text: string): string => {
  const lines = text.replace(/^\s*\n/, "").split("\n")
  const indents = lines.filter((l) => l.trim() !== "").map((l) => /^[ \t]*/.exec(l)![0].length)
  const cut = indents.length === 0 ? 0 : Math.min(...indents)
  return lines.map((l) => l.slice(Math.min(cut, /^[ \t]*/.exec(l)![0].length))).join("\n")
}

/** The name a Python snippet defines: its first top-level `def` or `class`. */
const pythonName = (source: string): string | undefined =>
  /^(?:async[ \t]+)?(?:def|class)[ \t]+([A-Za-z_]\w*)/m.exec(source)?.[1]

/** The name a JavaScript snippet defines: `function name` or `class name` at its start. */
const jsName = (source: string): string => {
  try {
    const tokens = tokenize(source)
    let i = isName(tokens[0], "async") ? 1 : 0
    if (isName(tokens[i], "function") || isName(tokens[i], "class")) {
      i++
      if (isPunct(tokens[i], "*")) i++
      if (isName(tokens[i]) && tokens[i].value !== "extends") return tokens[i].value
    }
  } catch {
    // no name
  }
  return ""
}

// ---------------------------------------------------------------------------------------------
// teleporting

/**
 * What teleporting needs of a classic connection.
 *
 * @since 0.1.0 @category models
 */
export interface Target {
  readonly peer: "js" | "python"
  readonly eval: (code: string) => RemoteOp.Remote
  readonly execute: (code: string) => RemoteOp.Remote
  readonly namespace: unknown
}

/** @since 0.1.0 @category models */
export interface TeleportOptions {
  /** The name to define it under (default: the function's name, or the Python `def`'s). */
  readonly name?: string | undefined
}

/**
 * The script a JavaScript server evaluates: the names among `free` it cannot resolve, or — if
 * none — the function, assigned to its namespace entry. The function expression stands at the
 * script's top level, so that its free names resolve in the namespace (no wrapper scope).
 */
const definitionScript = (source: string, name: string, free: ReadonlyArray<string>): string => {
  const checks = free.map((n) => `(() => { try { ${n}; return null } catch { return ${JSON.stringify(n)} } })()`)
  const missing = `((m) => (m.length > 0 ? m : undefined))([${checks.join(", ")}].filter((n) => n !== null))`
  const define = name === "" ? `(\n${source}\n)` : `(globalThis[${JSON.stringify(name)}] = (\n${source}\n))`
  return `${missing} ?? ${define}`
}

const teleportJs = (
  target: Target,
  source: string,
  name: string,
  label: string
): Effect.Effect<RemoteOp.Remote, TeleportError | RemoteFailure> =>
  Effect.gen(function*() {
    let free: Array<string>
    try {
      free = freeVariables(source)
    } catch (e) {
      return yield* new TeleportError({
        reason: "Syntax",
        detail: `cannot read the source of ${label}: ${(e as Error).message}`
      })
    }
    free = free.filter((n) => n !== name)
    const result = yield* RemoteOp.toEffect(target.eval(definitionScript(source, name, free)))
    if (Array.isArray(result)) {
      const names = result.map(String)
      return yield* new TeleportError({
        reason: "Closure",
        names,
        detail: `cannot teleport ${label}: it captures ${
          names.map((n) => `'${n}'`).join(", ")
        } from its surrounding scope. ` +
          "A teleported function runs in the remote namespace and may only use its parameters, its own variables, " +
          "globals, and names defined remotely (with execute()); pass the values as arguments instead."
      })
    }
    return result as RemoteOp.Remote
  })

/**
 * Teleports a function (see the module documentation): to a JavaScript server a function (or
 * JavaScript source text), to a Python server Python source text. Resolves to the netref of the
 * function defined remotely.
 *
 * @since 0.1.0 @category teleport
 */
export const teleport = (
  target: Target,
  fn: Function | string,
  options: TeleportOptions = {}
): Awaitable.Awaitable<RemoteOp.Remote, TeleportError | RemoteFailure> =>
  Awaitable.make(Effect.suspend((): Effect.Effect<RemoteOp.Remote, TeleportError | RemoteFailure> => {
    if (target.peer === "python") {
      if (typeof fn !== "string") {
        return Effect.fail(
          new TeleportError({
            reason: "WrongLanguage",
            detail: `cannot teleport the JavaScript function ${fn.name || "(anonymous)"} to a Python server: ` +
              "pass Python source text instead, e.g. teleport(\"def square(x):\\n    return x ** 2\")"
          })
        )
      }
      const source = dedent(fn)
      const name = options.name ?? pythonName(source)
      if (name === undefined) {
        return Effect.fail(
          new TeleportError({
            reason: "NoName",
            detail: "the Python source defines no function (def) or class: pass { name }"
          })
        )
      }
      return Effect.zipRight(
        RemoteOp.toEffect(target.execute(source)),
        RemoteOp.toEffect(Operations.getitem(target.namespace, name))
      ) as Effect.Effect<RemoteOp.Remote, RemoteFailure>
    }
    if (typeof fn === "string") {
      const name = options.name ?? jsName(fn.trim())
      return teleportJs(target, fn.trim(), name, name || "the source")
    }
    return Effect.flatMap(
      Effect.try({
        try: () => functionSource(fn),
        catch: (e) =>
          e instanceof TeleportError
            ? e
            : new TeleportError({ reason: "Syntax", detail: String((e as Error)?.message ?? e) })
      }),
      ({ name, source }) => {
        const defined = options.name ?? name
        return teleportJs(target, source, defined, defined || "the anonymous function")
      }
    )
  }))
