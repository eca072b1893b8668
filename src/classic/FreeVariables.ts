/**
 * Which names a piece of JavaScript uses without declaring them: the check that lets `Teleport`
 * refuse a function that captures variables of its surrounding scope (its source alone would not
 * carry their values).
 *
 * A two-pass scope scan over `JsTokenizer`'s tokens ({@link freeVariables}): precise for
 * the code people teleport (and for what tsx / esbuild emit), lenient where JavaScript is ambiguous —
 * a name it cannot place is treated as declared, so the worst case of a mistake is a `ReferenceError`
 * when the function runs remotely, never a refusal of a function that is fine. A full parser would be
 * exact, but is a dependency this one check does not justify.
 *
 * @since 0.1.0
 */

import { EXPRESSION_KEYWORDS, isName, isPunct, matchBrackets, type Token, tokenize } from "./JsTokenizer.js"

/** Reserved and contextual words: never references for this analysis. */
const KEYWORDS = new Set([
  "break",
  "case",
  "catch",
  "class",
  "const",
  "continue",
  "debugger",
  "default",
  "delete",
  "do",
  "else",
  "enum",
  "export",
  "extends",
  "false",
  "finally",
  "for",
  "function",
  "if",
  "import",
  "in",
  "instanceof",
  "new",
  "null",
  "return",
  "super",
  "switch",
  "this",
  "throw",
  "true",
  "try",
  "typeof",
  "var",
  "void",
  "while",
  "with",
  "yield",
  "let",
  "static",
  "implements",
  "interface",
  "package",
  "private",
  "protected",
  "public",
  "await",
  "async",
  "of",
  "get",
  "set",
  "accessor",
  "arguments"
])

/** Statements whose `( … ) {` is not a parameter list. */
const NOT_PARAMS = new Set(["if", "for", "while", "switch", "with", "await"])
const BLOCK_KEYWORDS = new Set(["else", "do", "try", "finally", "static"])
const MEMBER_MODIFIERS = new Set(["static", "get", "set", "async", "accessor"])

const DECLARED = 1
const NOT_A_REFERENCE = 2

/** Tokens that can end an expression (for automatic semicolon insertion). */
const endsExpression = (t: Token | undefined): boolean =>
  t !== undefined &&
  (t.type === "name" ?
    !KEYWORDS.has(t.value) || t.value === "this" || t.value === "true" || t.value === "false" ||
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
        if (
          isPunct(next, "(") && (prev === undefined || isPunct(prev, "{") || isPunct(prev, ",") || isPunct(prev, "*") ||
            (isName(prev) && MEMBER_MODIFIERS.has(prev!.value)))
        ) return // a method
      }
      if (frame.kind === "class") {
        const memberStart = prev === undefined || isPunct(prev, "{") || isPunct(prev, ";") || isPunct(prev, "}") ||
          isPunct(prev, "*") || (isName(prev) && MEMBER_MODIFIERS.has(prev!.value)) || t.nl
        const memberEnd = next === undefined || next.nl || isPunct(next, "(") || isPunct(next, "=") ||
          isPunct(next, ";") ||
          isPunct(next, "}")
        if (memberStart && memberEnd) return
      }
      if (
        frame.kind === "block" && isPunct(next, ":") && frame.ternary === 0 &&
        (prev === undefined || t.nl || isPunct(prev, ";") || isPunct(prev, "{") || isPunct(prev, "}"))
      ) return // a label
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
