/**
 * Command-line parsing for the CLIs, on Node's `util.parseArgs`: flags anywhere on the line, one-line
 * usage errors (`--port must be an integer from 0 to 65535 (got 99999)`), and plain-text help.
 *
 * @since 0.1.0
 */
import { parseArgs } from "node:util"

/**
 * A usage error: a bad, missing or unknown flag, or flags that cannot go together. The CLIs print
 * `<program>: <message>` and exit with code 2.
 *
 * @since 0.1.0 @category errors
 */
export class UsageError extends Error {
  override readonly name = "UsageError"
}

/**
 * A flag: a string option takes a value (`--port 1234`, `--port=1234`, `-p1234`), a boolean one none.
 *
 * @since 0.1.0 @category models
 */
export interface Spec {
  readonly type: "string" | "boolean"
  readonly short?: string | undefined
}

/**
 * What a command line says: the last value of each string option, the boolean flags given, and every
 * flag in command-line order (for "the last one wins" between related flags).
 *
 * @since 0.1.0 @category models
 */
export interface Parsed {
  readonly values: ReadonlyMap<string, string>
  /** Every value of each string option, in command-line order (repeatable flags). */
  readonly repeated: ReadonlyMap<string, ReadonlyArray<string>>
  readonly flags: ReadonlySet<string>
  readonly order: ReadonlyArray<string>
}

/**
 * The outcome of {@link parse}: `--help` and `--version` win over everything else on the line.
 *
 * @since 0.1.0 @category models
 */
export type Outcome =
  | { readonly _tag: "Help" }
  | { readonly _tag: "Version" }
  | { readonly _tag: "Run"; readonly parsed: Parsed }

/** The flags every program has. */
const META: Readonly<Record<string, Spec>> = {
  help: { type: "boolean", short: "h" },
  version: { type: "boolean" }
}

/** A value taken from the next argument that is really the next flag (`--port --ipv6`). */
const looksLikeFlag = (value: string) => /^--?[A-Za-z]/.test(value)

/**
 * Parses `argv` (without the node and script paths). Throws {@link UsageError} for an unknown flag,
 * a missing value, a value given to a boolean flag, or a positional argument.
 *
 * @since 0.1.0 @category parsing
 */
export const parse = (argv: ReadonlyArray<string>, specs: Readonly<Record<string, Spec>>): Outcome => {
  const all = { ...specs, ...META }
  const { tokens } = parseArgs({
    args: [...argv],
    options: Object.fromEntries(
      Object.entries(all).map(([name, spec]) => [
        name,
        spec.short === undefined ? { type: spec.type } : { type: spec.type, short: spec.short }
      ])
    ),
    strict: false,
    allowPositionals: true,
    tokens: true
  })
  const values = new Map<string, string>()
  const repeated = new Map<string, Array<string>>()
  const flags = new Set<string>()
  const order: Array<string> = []
  let error: string | undefined
  const fail = (message: string) => {
    error ??= message
  }
  let help = false
  let version = false
  let terminated = false
  for (const token of tokens) {
    if (token.kind === "option-terminator") {
      terminated = true
      continue
    }
    if (token.kind === "positional") {
      fail(`unexpected argument '${token.value}'${terminated ? " after --" : ""}`)
      continue
    }
    const spec = Object.hasOwn(all, token.name) ? all[token.name] : undefined
    if (spec === undefined) {
      fail(`unknown option ${token.rawName}`)
      continue
    }
    const flag = `--${token.name}`
    if (spec.type === "boolean") {
      if (token.value !== undefined) fail(`${flag} takes no value (got ${token.rawName}=${token.value})`)
      else if (token.name === "help") help = true
      else if (token.name === "version") version = true
      else flags.add(token.name)
    } else if (token.value === undefined || (!token.inlineValue && looksLikeFlag(token.value))) {
      fail(`${flag} needs a value`)
    } else {
      values.set(token.name, token.value)
      repeated.set(token.name, [...(repeated.get(token.name) ?? []), token.value])
    }
    order.push(token.name)
  }
  if (help) return { _tag: "Help" }
  if (version) return { _tag: "Version" }
  if (error !== undefined) throw new UsageError(error)
  return { _tag: "Run", parsed: { values, repeated, flags, order } }
}

/**
 * An integer flag value within `[min, max]`.
 *
 * @since 0.1.0 @category values
 */
export const integer = (flag: string, value: string, min: number, max = Number.MAX_SAFE_INTEGER): number => {
  const n = /^[+-]?\d+$/.test(value.trim()) ? Number(value) : Number.NaN
  if (Number.isSafeInteger(n) && n >= min && n <= max) return n
  const range = max === Number.MAX_SAFE_INTEGER ? `of at least ${min}` : `from ${min} to ${max}`
  throw new UsageError(`--${flag} must be an integer ${range} (got ${value})`)
}

/**
 * One of `choices`, matched in any case (as RPyC's plumbum `Set` does); returns the choice as spelled
 * in `choices`.
 *
 * @since 0.1.0 @category values
 */
export const choice = <A extends string>(flag: string, value: string, choices: ReadonlyArray<A>): A => {
  const found = choices.find((c) => c.toLowerCase() === value.toLowerCase())
  if (found !== undefined) return found
  const list = choices.length === 2 ? `${choices[0]} or ${choices[1]}` : `one of ${choices.join(", ")}`
  throw new UsageError(`--${flag} must be ${list} (got ${value})`)
}

/**
 * A help section: a title and its rows (`[flags, description]`).
 *
 * @since 0.1.0 @category help
 */
export interface Section {
  readonly title: string
  readonly rows: ReadonlyArray<readonly [flags: string, description: string]>
}

/**
 * Plain-text help (no colour, no terminal codes): a heading, the usage line, sections of flags in one
 * aligned column, and closing notes.
 *
 * @since 0.1.0 @category help
 */
export const formatHelp = (help: {
  readonly heading: string
  readonly usage: string
  readonly sections: ReadonlyArray<Section>
  readonly notes?: ReadonlyArray<string> | undefined
}): string => {
  const width = Math.max(...help.sections.flatMap((s) => s.rows.map(([flags]) => flags.length)))
  const lines = [help.heading, "", `Usage: ${help.usage}`]
  for (const section of help.sections) {
    lines.push("", `${section.title}:`)
    for (const [flags, description] of section.rows) lines.push(`  ${flags.padEnd(width)}  ${description}`)
  }
  if (help.notes !== undefined && help.notes.length > 0) lines.push("", ...help.notes)
  return `${lines.join("\n")}\n`
}
