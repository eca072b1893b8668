/**
 * Teleporting a function: defining it in the peer's classic namespace and getting a netref to it
 * (RPyC's `conn.teleport(func)` / `teleport_function`, rpyc-protocol.md §5.3).
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
 * Which names a function captures is found by a small JavaScript tokenizer and scope scan
 * ({@link freeVariables}): precise for the code people teleport (and for what tsx / esbuild emit),
 * lenient where JavaScript is ambiguous — a name it cannot place is treated as declared, so the worst
 * case of a mistake is a `ReferenceError` when the function runs remotely, never a refusal of a
 * function that is fine.
 *
 * @since 0.1.0
 */
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Awaitable from "../Awaitable.js"
import * as Operations from "../netref/Operations.js"
import * as RemoteOp from "../netref/RemoteOp.js"
import type { RemoteFailure } from "../protocol/Errors.js"

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

// ---------------------------------------------------------------------------------------------
// tokenizer

/** @since 0.1.0 @category source */
export type TokenType = "name" | "private" | "punct" | "string" | "number" | "template" | "regex"

/** @since 0.1.0 @category source */
export interface Token {
  readonly type: TokenType
  readonly value: string
  readonly start: number
  /** a line break comes before this token */
  readonly nl: boolean
}

const PUNCTUATORS = [
  ">>>=", "...", "===", "!==", "**=", "<<=", ">>=", ">>>", "&&=", "||=", "??=",
  "=>", "==", "!=", "<=", ">=", "&&", "||", "??", "?.", "++", "--", "+=", "-=", "*=", "/=", "%=", "&=", "|=",
  "^=", "**", "<<", ">>",
  "{", "}", "(", ")", "[", "]", ";", ",", "<", ">", "+", "-", "*", "/", "%", "&", "|", "^", "!", "~", "?", ":",
  "=", ".", "@"
]

/** Words after which an expression (so a regex, or an object literal) may start. */
const EXPRESSION_KEYWORDS = new Set([
  "return", "typeof", "instanceof", "in", "of", "new", "delete", "void", "throw", "case", "do", "else", "yield",
  "await", "extends"
])

const ID_START = /[\p{ID_Start}$_\\]/u
const ID_PART = /[\p{ID_Continue}$\u200c\u200d\\]/u
const NUMBER = /0[xX][\da-fA-F_]+n?|0[oO][0-7_]+n?|0[bB][01_]+n?|(?:\d[\d_]*\.?[\d_]*|\.\d[\d_]*)(?:[eE][+-]?\d[\d_]*)?n?/y
const LINE_BREAK = /[\n\r\u2028\u2029]/

class SourceError extends Error {}

/**
 * Splits JavaScript source into tokens (comments and white space dropped). A template literal
 * becomes its text chunks with each `${…}` substitution's tokens between synthetic `(` `)`.
 * Throws on unterminated strings, comments, templates or regular expressions.
 *
 * @since 0.1.0 @category source
 */
export const tokenize = (source: string): Array<Token> => {
  const tokens: Array<Token> = []
  const braces: Array<"brace" | "template"> = []
  let pos = 0
  let nl = false
  const n = source.length

  const push = (type: TokenType, start: number, end: number, value = source.slice(start, end)) => {
    tokens.push({ type, value, start, nl })
    nl = false
  }

  const regexAllowed = (): boolean => {
    const prev = tokens[tokens.length - 1]
    if (prev === undefined) return true
    switch (prev.type) {
      case "name":
        return EXPRESSION_KEYWORDS.has(prev.value)
      case "punct":
        return prev.value !== ")" && prev.value !== "]" && prev.value !== "++" && prev.value !== "--"
      default:
        return false
    }
  }

  /** Scans template text from `pos` (just after "`" or after the `}` closing a substitution). */
  const template = () => {
    const start = pos - 1 // the "`" or the "}" that resumes the template
    while (pos < n) {
      const c = source[pos]
      if (c === "\\") {
        pos += 2
        continue
      }
      if (c === "`") {
        pos++
        push("template", start, pos)
        return
      }
      if (c === "$" && source[pos + 1] === "{") {
        pos += 2
        push("template", start, pos)
        push("punct", pos, pos, "(")
        braces.push("template")
        return
      }
      pos++
    }
    throw new SourceError("unterminated template literal")
  }

  while (pos < n) {
    const c = source[pos]
    // white space and comments
    if (c === " " || c === "\t" || c === "\v" || c === "\f" || c === "\u00a0" || c === "\ufeff" || /\s/.test(c)) {
      if (LINE_BREAK.test(c)) nl = true
      pos++
      continue
    }
    if (c === "/" && source[pos + 1] === "/") {
      while (pos < n && !LINE_BREAK.test(source[pos])) pos++
      continue
    }
    if (c === "/" && source[pos + 1] === "*") {
      const end = source.indexOf("*/", pos + 2)
      if (end < 0) throw new SourceError("unterminated comment")
      if (LINE_BREAK.test(source.slice(pos, end))) nl = true
      pos = end + 2
      continue
    }
    const start = pos
    if (c === "`") {
      pos++
      template()
      continue
    }
    if (c === "}" && braces[braces.length - 1] === "template") {
      braces.pop()
      push("punct", pos, pos, ")")
      pos++
      template()
      continue
    }
    if (c === "'" || c === "\"") {
      pos++
      while (pos < n && source[pos] !== c) {
        if (source[pos] === "\\") pos++
        else if (source[pos] === "\n") throw new SourceError("unterminated string")
        pos++
      }
      if (pos >= n) throw new SourceError("unterminated string")
      pos++
      push("string", start, pos)
      continue
    }
    if (c === "#" && pos + 1 < n && ID_START.test(source[pos + 1])) {
      pos++
      while (pos < n && ID_PART.test(source[pos])) pos++
      push("private", start, pos)
      continue
    }
    if (ID_START.test(c)) {
      while (pos < n && (ID_PART.test(source[pos]) || /[\uD800-\uDFFF]/.test(source[pos]))) {
        pos += source[pos] === "\\" ? 2 : 1
      }
      push("name", start, pos)
      continue
    }
    if (/\d/.test(c) || (c === "." && /\d/.test(source[pos + 1] ?? ""))) {
      NUMBER.lastIndex = pos
      const m = NUMBER.exec(source)
      pos = m === null ? pos + 1 : pos + m[0].length
      push("number", start, pos)
      continue
    }
    if (c === "/" && regexAllowed()) {
      pos++
      let inClass = false
      while (pos < n) {
        const d = source[pos]
        if (d === "\\") pos += 2
        else if (LINE_BREAK.test(d)) throw new SourceError("unterminated regular expression")
        else if (d === "[") (inClass = true), pos++
        else if (d === "]") (inClass = false), pos++
        else if (d === "/" && !inClass) break
        else pos++
      }
      if (pos >= n) throw new SourceError("unterminated regular expression")
      pos++
      while (pos < n && ID_PART.test(source[pos])) pos++
      push("regex", start, pos)
      continue
    }
    const punct = PUNCTUATORS.find((p) => source.startsWith(p, pos) && !(p === "?." && /\d/.test(source[pos + 2] ?? "")))
    if (punct === undefined) throw new SourceError(`unexpected character ${JSON.stringify(c)}`)
    if (punct === "{") braces.push("brace")
    else if (punct === "}" && braces[braces.length - 1] === "brace") braces.pop()
    pos += punct.length
    push("punct", start, pos)
  }
  if (braces.includes("template")) throw new SourceError("unterminated template literal")
  return tokens
}

// ---------------------------------------------------------------------------------------------
// free variables

/** Reserved and contextual words: never references for this analysis. */
const KEYWORDS = new Set([
  "break", "case", "catch", "class", "const", "continue", "debugger", "default", "delete", "do", "else", "enum",
  "export", "extends", "false", "finally", "for", "function", "if", "import", "in", "instanceof", "new", "null",
  "return", "super", "switch", "this", "throw", "true", "try", "typeof", "var", "void", "while", "with", "yield",
  "let", "static", "implements", "interface", "package", "private", "protected", "public", "await", "async", "of",
  "get", "set", "accessor", "arguments"
])

/** Statements whose `( … ) {` is not a parameter list. */
const NOT_PARAMS = new Set(["if", "for", "while", "switch", "with", "await"])
const BLOCK_KEYWORDS = new Set(["else", "do", "try", "finally", "static"])
const MEMBER_MODIFIERS = new Set(["static", "get", "set", "async", "accessor"])

const isPunct = (t: Token | undefined, value: string): boolean => t !== undefined && t.type === "punct" && t.value === value
const isName = (t: Token | undefined, value?: string): boolean =>
  t !== undefined && t.type === "name" && (value === undefined || t.value === value)

const DECLARED = 1
const NOT_A_REFERENCE = 2

/** The index of each bracket's partner. */
const matchBrackets = (tokens: ReadonlyArray<Token>): Int32Array => {
  const match = new Int32Array(tokens.length).fill(-1)
  const stack: Array<number> = []
  const pairs: Record<string, string> = { ")": "(", "]": "[", "}": "{" }
  tokens.forEach((t, i) => {
    if (t.type !== "punct") return
    if (t.value === "(" || t.value === "[" || t.value === "{") stack.push(i)
    else if (t.value in pairs) {
      const open = stack.pop()
      if (open === undefined || tokens[open].value !== pairs[t.value]) throw new SourceError(`unbalanced ${t.value}`)
      match[open] = i
      match[i] = open
    }
  })
  if (stack.length > 0) throw new SourceError(`unbalanced ${tokens[stack[stack.length - 1]].value}`)
  return match
}

/** Tokens that can end an expression (for automatic semicolon insertion). */
const endsExpression = (t: Token | undefined): boolean =>
  t !== undefined &&
  (t.type === "name" ? !KEYWORDS.has(t.value) || t.value === "this" || t.value === "true" || t.value === "false" ||
    t.value === "null" || t.value === "arguments"
    : t.type !== "punct" || [")", "]", "}", "++", "--"].includes(t.value))

class Scan {
  readonly role: Uint8Array
  readonly classBodies = new Set<number>()
  constructor(readonly tokens: ReadonlyArray<Token>, readonly match: Int32Array) {
    this.role = new Uint8Array(tokens.length)
  }

  /** Skips an initializer / default value: up to a `,` (or `;`, a closer, `in` / `of`) at this level, or `end`. */
  skipExpression(k: number, end = this.tokens.length): number {
    const { tokens, match } = this
    const first = k
    while (k < end) {
      const t = tokens[k]
      if (t.type === "punct") {
        if (t.value === "," || t.value === ";" || t.value === ")" || t.value === "]" || t.value === "}") return k
        if (t.value === "(" || t.value === "[" || t.value === "{") {
          k = match[k] + 1
          continue
        }
      } else if (t.type === "name" && (t.value === "in" || t.value === "of") && k > first) {
        return k
      } else if (t.nl && k > first && endsExpression(tokens[k - 1])) {
        return k
      }
      k++
    }
    return k
  }

  /** Marks the names a binding pattern declares; returns the index after it. */
  binding(j: number): number {
    const { tokens, match, role } = this
    const t = tokens[j]
    if (t === undefined) return j + 1
    if (t.type === "name") {
      role[j] = DECLARED
      return j + 1
    }
    if (isPunct(t, "[")) {
      const end = match[j]
      let k = j + 1
      while (k < end) {
        if (isPunct(tokens[k], ",")) {
          k++
          continue
        }
        if (isPunct(tokens[k], "...")) k++
        const next = this.binding(k)
        k = isPunct(tokens[next], "=") ? this.skipExpression(next + 1, end) : Math.max(next, k + 1)
      }
      return end + 1
    }
    if (isPunct(t, "{")) {
      const end = match[j]
      let k = j + 1
      while (k < end) {
        const p = tokens[k]
        if (isPunct(p, ",")) {
          k++
          continue
        }
        if (isPunct(p, "...")) {
          k = this.binding(k + 1)
          continue
        }
        let key = -1
        if (isPunct(p, "[")) k = match[k] + 1 // a computed key: its tokens stay references
        else {
          key = k
          k++
        }
        if (isPunct(tokens[k], ":")) {
          if (key >= 0 && tokens[key].type === "name") role[key] = NOT_A_REFERENCE
          k = this.binding(k + 1)
        } else if (key >= 0 && tokens[key].type === "name") {
          role[key] = DECLARED // shorthand
        }
        if (isPunct(tokens[k], "=")) k = this.skipExpression(k + 1, end)
        else if (k < end && !isPunct(tokens[k], ",")) k++
      }
      return end + 1
    }
    return j + 1
  }

  /** A parenthesized parameter list starting at `open`. */
  params(open: number): void {
    const { tokens } = this
    const close = this.match[open]
    let k = open + 1
    while (k < close) {
      if (isPunct(tokens[k], ",")) {
        k++
        continue
      }
      if (isPunct(tokens[k], "...")) k++
      const next = this.binding(k)
      k = isPunct(tokens[next], "=") ? this.skipExpression(next + 1, close) : Math.max(next, k + 1)
    }
  }

  /** `var` / `let` / `const` declarators from `j`. */
  declarators(j: number): void {
    const { tokens } = this
    while (j < tokens.length) {
      j = this.binding(j)
      if (isPunct(tokens[j], "=")) j = this.skipExpression(j + 1)
      if (!isPunct(tokens[j], ",")) return
      j++
    }
  }

  /** First pass: declarations, labels, class bodies. */
  declarations(): void {
    const { tokens, match, role } = this
    tokens.forEach((t, i) => {
      const prev = tokens[i - 1]
      const next = tokens[i + 1]
      const property = isPunct(prev, ".") || isPunct(prev, "?.")
      if (t.type === "name" && !property) {
        switch (t.value) {
          case "var":
          case "let":
          case "const":
            if (next !== undefined && (next.type === "name" || isPunct(next, "[") || isPunct(next, "{"))) {
              this.declarators(i + 1)
            }
            break
          case "function": {
            let j = i + 1
            if (isPunct(tokens[j], "*")) j++
            if (tokens[j]?.type === "name" && !isPunct(tokens[j], "(")) role[j] = DECLARED
            break
          }
          case "class": {
            let j = i + 1
            if (tokens[j]?.type === "name" && tokens[j].value !== "extends") role[j++] = DECLARED
            while (j < tokens.length) {
              if (isPunct(tokens[j], "(") || isPunct(tokens[j], "[")) j = match[j] + 1
              else if (isPunct(tokens[j], "{")) {
                this.classBodies.add(j)
                break
              } else j++
            }
            break
          }
          case "break":
          case "continue":
            if (next?.type === "name" && !next.nl) role[i + 1] = NOT_A_REFERENCE
            break
        }
        if (isPunct(next, "=>") && !KEYWORDS.has(t.value)) role[i] = DECLARED
      }
      if (isPunct(t, "(")) {
        const after = tokens[match[i] + 1]
        if (isPunct(after, "=>")) this.params(i)
        else if (isPunct(after, "{") && !(isName(prev) && NOT_PARAMS.has(prev!.value))) this.params(i)
      }
    })
  }

  /** Second pass: the names used as references. */
  references(): Set<string> {
    const { tokens, role } = this
    type Frame = { kind: "paren" | "bracket" | "block" | "object" | "class"; ternary: number }
    const frames: Array<Frame> = [{ kind: "block", ternary: 0 }]
    let statementColon = false
    const referenced = new Set<string>()
    tokens.forEach((t, i) => {
      const frame = frames[frames.length - 1]
      const prev = tokens[i - 1]
      const next = tokens[i + 1]
      if (t.type === "punct") {
        switch (t.value) {
          case "(":
            frames.push({ kind: "paren", ternary: 0 })
            break
          case "[":
            frames.push({ kind: "bracket", ternary: 0 })
            break
          case "{":
            frames.push({ kind: this.braceKind(i, statementColon), ternary: 0 })
            break
          case ")":
          case "]":
          case "}":
            if (frames.length > 1) frames.pop()
            break
          case "?":
            frame.ternary++
            break
          case ",":
            if (frame.kind === "object") frame.ternary = 0
            break
          case ":":
            if (frame.ternary > 0) {
              frame.ternary--
              statementColon = false
            } else statementColon = frame.kind === "block"
            break
        }
        return
      }
      if (t.type !== "name" || role[i] !== 0 || KEYWORDS.has(t.value)) return
      if (isPunct(prev, ".") || isPunct(prev, "?.")) return
      if (frame.kind === "object") {
        if (isPunct(next, ":") && frame.ternary === 0) return // a key
        if (isPunct(next, "(") && (prev === undefined || isPunct(prev, "{") || isPunct(prev, ",") || isPunct(prev, "*") ||
          (isName(prev) && MEMBER_MODIFIERS.has(prev!.value)))) return // a method
      }
      if (frame.kind === "class") {
        const memberStart = prev === undefined || isPunct(prev, "{") || isPunct(prev, ";") || isPunct(prev, "}") ||
          isPunct(prev, "*") || (isName(prev) && MEMBER_MODIFIERS.has(prev!.value)) || t.nl
        const memberEnd = next === undefined || next.nl || isPunct(next, "(") || isPunct(next, "=") || isPunct(next, ";") ||
          isPunct(next, "}")
        if (memberStart && memberEnd) return
      }
      if (frame.kind === "block" && isPunct(next, ":") && frame.ternary === 0 &&
        (prev === undefined || t.nl || isPunct(prev, ";") || isPunct(prev, "{") || isPunct(prev, "}"))) return // a label
      referenced.add(t.value)
    })
    return referenced
  }

  braceKind(i: number, statementColon: boolean): "block" | "object" | "class" {
    if (this.classBodies.has(i)) return "class"
    const prev = this.tokens[i - 1]
    if (prev === undefined) return "block"
    if (prev.type === "punct") {
      if ([")", "=>", ";", "{", "}"].includes(prev.value)) return "block"
      if (prev.value === ":") return statementColon ? "block" : "object"
      return "object"
    }
    if (prev.type === "name") {
      if (EXPRESSION_KEYWORDS.has(prev.value) && !BLOCK_KEYWORDS.has(prev.value)) return "object"
      return "block"
    }
    return "block"
  }
}

/**
 * The free variables of a piece of JavaScript: names it reads or writes without declaring them
 * (parameters, `var` / `let` / `const`, functions, classes, `catch` bindings), in order of first
 * use. Globals such as `Math` are free variables too.
 *
 * @since 0.1.0 @category source
 */
export const freeVariables = (source: string): Array<string> => {
  const tokens = tokenize(source)
  const scan = new Scan(tokens, matchBrackets(tokens))
  scan.declarations()
  const referenced = scan.references()
  const declared = new Set<string>()
  tokens.forEach((t, i) => {
    if (scan.role[i] === DECLARED) declared.add(t.value)
  })
  return [...referenced].filter((name) => !declared.has(name))
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
    throw new TeleportError({ reason: "Syntax", detail: `cannot read the source of ${name || "this function"}: ${(e as Error).message}` })
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
      return yield* new TeleportError({ reason: "Syntax", detail: `cannot read the source of ${label}: ${(e as Error).message}` })
    }
    free = free.filter((n) => n !== name)
    const result = yield* RemoteOp.toEffect(target.eval(definitionScript(source, name, free)))
    if (Array.isArray(result)) {
      const names = result.map(String)
      return yield* new TeleportError({
        reason: "Closure",
        names,
        detail: `cannot teleport ${label}: it captures ${names.map((n) => `'${n}'`).join(", ")} from its surrounding scope. ` +
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
        return Effect.fail(new TeleportError({ reason: "NoName", detail: "the Python source defines no function (def) or class: pass { name }" }))
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
          e instanceof TeleportError ? e : new TeleportError({ reason: "Syntax", detail: String((e as Error)?.message ?? e) })
      }),
      ({ name, source }) => {
        const defined = options.name ?? name
        return teleportJs(target, source, defined, defined || "the anonymous function")
      }
    )
  }))
