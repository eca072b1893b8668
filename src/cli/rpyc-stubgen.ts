#!/usr/bin/env node
/**
 * `rpyc-stubgen`: a TypeScript interface for a Python RPyC service class, in the shape typed remotes
 * expect (`Client.connect<Api>()`, then `conn.root.add(1, 2)` calls `exposed_add`).
 *
 * ```
 * rpyc-stubgen module:ClassName [--python PATH] [--out FILE] [--name InterfaceName]
 * rpyc-stubgen path/to/file.py:ClassName ...
 * ```
 *
 * The work is done by `stubgen/rpyc_stubgen.py`, shipped with the package and run by a Python that
 * can import the service's module (default `/usr/bin/python3`, else `python3` on PATH): it imports
 * the module (the current directory and the module file's directory on `sys.path`) and maps the
 * exposed members' type hints to TypeScript. Without `--out` the interface goes to stdout.
 *
 * Usage errors print one line and exit 2; failures (the module cannot be imported, no such class,
 * Python cannot be run) print one line and exit 1.
 *
 * This module runs the program when loaded: it is an entry point, not a library module.
 *
 * @since 0.1.0
 */
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import { fileURLToPath } from "node:url"
import { parseArgs } from "node:util"
import * as Args from "./Args.js"
import * as Common from "./Common.js"

const NAME = "rpyc-stubgen"
const DEFAULT_PYTHON = "/usr/bin/python3"

/** The Python half, from src/cli or dist/cli alike. */
const SCRIPT = fileURLToPath(new URL("../../stubgen/rpyc_stubgen.py", import.meta.url))

const help = () =>
  Args.formatHelp({
    heading: `${NAME} ${Common.packageVersion()}: TypeScript interfaces for Python RPyC services`,
    usage: `${NAME} module:ClassName [--python PATH] [--out FILE] [--name InterfaceName]`,
    sections: [
      {
        title: "Arguments",
        rows: [
          ["module:ClassName", "the service class, by module name or as path/to/file.py:ClassName"]
        ]
      },
      {
        title: "Options",
        rows: [
          ["    --python PATH", `the Python that can import the module (default: ${DEFAULT_PYTHON}, else python3)`],
          ["-o, --out FILE", "write the interface to FILE (default: standard output)"],
          ["-n, --name NAME", "the interface's name (default: the class's name)"]
        ]
      },
      Common.metaHelp
    ],
    notes: [
      "Members keep their exposed_ prefix: Client.connect<Api>() strips it (conn.root.add calls exposed_add).",
      "Copied values (None, bool, int, float, str, bytes, tuples) get their TypeScript types; lists, dicts,",
      "sets and other objects travel by reference and are typed Remote; keyword-only parameters and",
      "**kwargs become a trailing optional Kwargs argument."
    ]
  })

interface Config {
  readonly target: string
  readonly python: string
  readonly out: string | undefined
  readonly name: string | undefined
}

type Outcome = { readonly _tag: "Help" } | { readonly _tag: "Version" } | {
  readonly _tag: "Run"
  readonly config: Config
}

const OPTIONS = {
  python: { type: "string" },
  out: { type: "string", short: "o" },
  name: { type: "string", short: "n" },
  help: { type: "boolean", short: "h" },
  version: { type: "boolean" }
} as const

/** Parses the command line; throws `Args.UsageError` with a one-line message. */
const parse = (argv: ReadonlyArray<string>): Outcome => {
  const { tokens } = parseArgs({
    args: [...argv],
    options: OPTIONS,
    strict: false,
    allowPositionals: true,
    tokens: true
  })
  const values = new Map<string, string>()
  const positionals: Array<string> = []
  let help = false
  let version = false
  let error: string | undefined
  const fail = (message: string) => {
    error ??= message
  }
  for (const token of tokens) {
    if (token.kind === "option-terminator") continue
    if (token.kind === "positional") {
      positionals.push(token.value)
      continue
    }
    if (!Object.hasOwn(OPTIONS, token.name)) {
      fail(`unknown option ${token.rawName}`)
      continue
    }
    const spec = OPTIONS[token.name as keyof typeof OPTIONS]
    if (spec.type === "boolean") {
      if (token.value !== undefined) fail(`--${token.name} takes no value (got ${token.rawName}=${token.value})`)
      else if (token.name === "help") help = true
      else version = true
    } else if (token.value === undefined || (!token.inlineValue && /^--?[A-Za-z]/.test(token.value))) {
      fail(`--${token.name} needs a value`)
    } else if (token.value === "") {
      fail(`--${token.name} needs a value`)
    } else {
      values.set(token.name, token.value)
    }
  }
  if (help) return { _tag: "Help" }
  if (version) return { _tag: "Version" }
  if (error !== undefined) throw new Args.UsageError(error)
  if (positionals.length === 0) throw new Args.UsageError("missing module:ClassName (see --help)")
  if (positionals.length > 1) throw new Args.UsageError(`unexpected argument '${positionals[1]}'`)
  const target = positionals[0]!
  const colon = target.lastIndexOf(":")
  if (colon <= 0 || colon === target.length - 1) {
    throw new Args.UsageError(`expected module:ClassName or path/to/file.py:ClassName (got ${target})`)
  }
  const name = values.get("name")
  if (name !== undefined && !/^[A-Za-z_$][\w$]*$/.test(name)) {
    throw new Args.UsageError(`--name must be a TypeScript identifier (got ${name})`)
  }
  return {
    _tag: "Run",
    config: {
      target,
      python: values.get("python") ?? (Fs.existsSync(DEFAULT_PYTHON) ? DEFAULT_PYTHON : "python3"),
      out: values.get("out"),
      name
    }
  }
}

const main = (argv: ReadonlyArray<string>): number => {
  let outcome: Outcome
  try {
    outcome = parse(argv)
  } catch (error) {
    if (!(error instanceof Args.UsageError)) throw error
    process.stderr.write(`${NAME}: ${error.message}\n`)
    return 2
  }
  if (outcome._tag === "Help") {
    process.stdout.write(help())
    return 0
  }
  if (outcome._tag === "Version") {
    process.stdout.write(`${Common.packageVersion()}\n`)
    return 0
  }
  const { name, out, python, target } = outcome.config
  if (!Fs.existsSync(SCRIPT)) {
    process.stderr.write(`${NAME}: the Python half ${SCRIPT} is missing from this installation\n`)
    return 1
  }
  const args = [
    SCRIPT,
    target,
    ...(out === undefined ? [] : ["--out", out]),
    ...(name === undefined ? [] : ["--name", name])
  ]
  // the script reports its own failures in one line, with the exit status to pass on
  const result = ChildProcess.spawnSync(python, args, { stdio: "inherit" })
  if (result.error !== undefined) {
    const code = (result.error as NodeJS.ErrnoException).code
    const reason = code === "ENOENT" ? "not found" : result.error.message
    process.stderr.write(`${NAME}: cannot run Python ${python}: ${reason} (use --python PATH)\n`)
    return 1
  }
  if (result.status === null) {
    process.stderr.write(`${NAME}: ${python} was killed by ${result.signal}\n`)
    return 1
  }
  return result.status
}

process.exitCode = main(process.argv.slice(2))
