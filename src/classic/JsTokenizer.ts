/**
 * A small JavaScript tokenizer, enough to find a function's free variables (`FreeVariables`) and to
 * recognise the shape of its source (`Teleport`): names, punctuators, literals, with comments and
 * white space dropped and line breaks remembered (for automatic semicolon insertion).
 *
 * @since 0.1.0
 */

/**
 * The kinds of {@link Token}.
 *
 * @since 0.1.0 @category tokens
 */
export type TokenType = "name" | "private" | "punct" | "string" | "number" | "template" | "regex"

/**
 * One token of JavaScript source.
 *
 * @since 0.1.0 @category tokens
 */
export interface Token {
  readonly type: TokenType
  readonly value: string
  readonly start: number
  /** a line break comes before this token */
  readonly nl: boolean
}

const PUNCTUATORS = [
  ">>>=",
  "...",
  "===",
  "!==",
  "**=",
  "<<=",
  ">>=",
  ">>>",
  "&&=",
  "||=",
  "??=",
  "=>",
  "==",
  "!=",
  "<=",
  ">=",
  "&&",
  "||",
  "??",
  "?.",
  "++",
  "--",
  "+=",
  "-=",
  "*=",
  "/=",
  "%=",
  "&=",
  "|=",
  "^=",
  "**",
  "<<",
  ">>",
  "{",
  "}",
  "(",
  ")",
  "[",
  "]",
  ";",
  ",",
  "<",
  ">",
  "+",
  "-",
  "*",
  "/",
  "%",
  "&",
  "|",
  "^",
  "!",
  "~",
  "?",
  ":",
  "=",
  ".",
  "@"
]

/**
 * Words after which an expression (so a regex, or an object literal) may start.
 *
 * @since 0.1.0 @category tokens
 */
export const EXPRESSION_KEYWORDS: ReadonlySet<string> = new Set([
  "return",
  "typeof",
  "instanceof",
  "in",
  "of",
  "new",
  "delete",
  "void",
  "throw",
  "case",
  "do",
  "else",
  "yield",
  "await",
  "extends"
])

const ID_START = /[\p{ID_Start}$_\\]/u
const ID_PART = /[\p{ID_Continue}$\u200c\u200d\\]/u
const NUMBER =
  /0[xX][\da-fA-F_]+n?|0[oO][0-7_]+n?|0[bB][01_]+n?|(?:\d[\d_]*\.?[\d_]*|\.\d[\d_]*)(?:[eE][+-]?\d[\d_]*)?n?/y
const LINE_BREAK = /[\n\r\u2028\u2029]/

/**
 * JavaScript source the tokenizer cannot read (unterminated literal, unbalanced bracket, …).
 *
 * @since 0.1.0 @category errors
 */
export class SourceError extends Error {}

/**
 * Splits JavaScript source into tokens (comments and white space dropped). A template literal
 * becomes its text chunks with each `${…}` substitution's tokens between synthetic `(` `)`.
 * Throws on unterminated strings, comments, templates or regular expressions.
 *
 * @since 0.1.0 @category tokens
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
        else if (d === "[") {
          inClass = true
          pos++
        } else if (d === "]") {
          inClass = false
          pos++
        } else if (d === "/" && !inClass) break
        else pos++
      }
      if (pos >= n) throw new SourceError("unterminated regular expression")
      pos++
      while (pos < n && ID_PART.test(source[pos])) pos++
      push("regex", start, pos)
      continue
    }
    const punct = PUNCTUATORS.find((p) =>
      source.startsWith(p, pos) && !(p === "?." && /\d/.test(source[pos + 2] ?? ""))
    )
    if (punct === undefined) throw new SourceError(`unexpected character ${JSON.stringify(c)}`)
    if (punct === "{") braces.push("brace")
    else if (punct === "}" && braces[braces.length - 1] === "brace") braces.pop()
    pos += punct.length
    push("punct", start, pos)
  }
  if (braces.includes("template")) throw new SourceError("unterminated template literal")
  return tokens
}

/**
 * Whether `t` is the punctuator `value`.
 *
 * @since 0.1.0 @category tokens
 */
export const isPunct = (t: Token | undefined, value: string): boolean =>
  t !== undefined && t.type === "punct" && t.value === value

/**
 * Whether `t` is a name (any, or `value`).
 *
 * @since 0.1.0 @category tokens
 */
export const isName = (t: Token | undefined, value?: string): boolean =>
  t !== undefined && t.type === "name" && (value === undefined || t.value === value)

/**
 * The index of each bracket's partner (-1 for other tokens). Throws on unbalanced brackets.
 *
 * @since 0.1.0 @category tokens
 */
export const matchBrackets = (tokens: ReadonlyArray<Token>): Int32Array => {
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
