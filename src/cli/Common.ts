/**
 * What the command-line programs share: the logging flags, the version, one-line failure messages,
 * and `main`, which parses the command line and runs the program.
 *
 * @since 0.1.0
 */
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as Cause from "effect/Cause"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as Option from "effect/Option"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"
import * as Util from "node:util"
import * as Logging from "../Logging.js"
import * as Args from "./Args.js"

// ---------------------------------------------------------------------------------------------
// logging flags

/**
 * `--log-level LEVEL`, `-q`/`--quiet` (errors only), `--logfile PATH`.
 *
 * @since 0.1.0 @category logging
 */
export const loggingSpecs: Readonly<Record<string, Args.Spec>> = {
  "log-level": { type: "string" },
  quiet: { type: "boolean", short: "q" },
  logfile: { type: "string" }
}

/**
 * Help rows of the logging flags.
 *
 * @since 0.1.0 @category logging
 */
export const loggingHelp: Args.Section = {
  title: "Logging",
  rows: [
    ["    --log-level LEVEL", "debug, info, warning or error (default: debug)"],
    ["-q, --quiet", "log errors only (the same as --log-level error)"],
    ["    --logfile PATH", "append the log lines to PATH (default: stderr)"]
  ]
}

/**
 * Help rows of `--help` and `--version`.
 *
 * @since 0.1.0 @category help
 */
export const metaHelp: Args.Section = {
  title: "Other",
  rows: [
    ["-h, --help", "print this help and exit"],
    ["    --version", "print the version and exit"]
  ]
}

const LEVELS: ReadonlyArray<readonly [string, LogLevel.LogLevel]> = [
  ["debug", LogLevel.Debug],
  ["info", LogLevel.Info],
  ["warning", LogLevel.Warning],
  ["warn", LogLevel.Warning],
  ["error", LogLevel.Error]
]

/**
 * How a program logs.
 *
 * @since 0.1.0 @category logging
 */
export interface LoggingConfig {
  readonly logfile: string | undefined
  readonly level: LogLevel.LogLevel
}

/**
 * The logging flags of a command line: the last of `--log-level` and `--quiet` wins; debug (RPyC's
 * level) without either.
 *
 * @since 0.1.0 @category logging
 */
export const loggingConfig = (parsed: Args.Parsed): LoggingConfig => {
  let level: LogLevel.LogLevel = LogLevel.Debug
  for (const name of parsed.order) {
    if (name === "quiet") level = LogLevel.Error
    if (name === "log-level") {
      const value = parsed.values.get("log-level")!
      const found = LEVELS.find(([label]) => label === value.toLowerCase())
      if (found === undefined) {
        throw new Args.UsageError(`--log-level must be one of debug, info, warning, error (got ${value})`)
      }
      level = found[1]
    }
  }
  return { logfile: parsed.values.get("logfile"), level }
}

/**
 * Runs `effect` with the CLIs' logger: lines of `format` to stderr or the log file, from `level` up.
 *
 * @since 0.1.0 @category logging
 */
export const withLogging =
  (config: LoggingConfig, format: Logging.Format) =>
  <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E | Logging.LogfileError, R> =>
    effect.pipe(
      // inside the layer, so that this level (not the layer's debug/error) applies
      Logger.withMinimumLogLevel(config.level),
      Effect.provide(Logging.layerCli({
        logfile: Option.fromNullable(config.logfile),
        quiet: config.level === LogLevel.Error,
        format
      }))
    )

// ---------------------------------------------------------------------------------------------
// failures in one line

/** An error carrying an OS error code (`EADDRINUSE`, `ENOENT`, …). */
interface OsError {
  readonly code: string
  readonly errno?: number | undefined
  readonly syscall?: string | undefined
  readonly path?: string | undefined
  readonly message?: string | undefined
}

const isObject = (u: unknown): u is Record<string, unknown> => typeof u === "object" && u !== null

/**
 * The OS error at or under `error` (following `cause`), if any.
 *
 * @since 0.1.0 @category errors
 */
export const findOsError = (error: unknown): OsError | undefined => {
  let current: unknown = error
  for (let depth = 0; depth < 10 && isObject(current); depth++) {
    if (typeof current.code === "string" && /^E[A-Z0-9_]+$/.test(current.code)) return current as unknown as OsError
    current = current.cause
  }
  return undefined
}

let systemErrors: ReadonlyMap<string, string> | undefined

/**
 * The OS reason of `error`, `address already in use (EADDRINUSE)`: libuv's text for the code.
 *
 * @since 0.1.0 @category errors
 */
export const osReason = (error: OsError): string => {
  systemErrors ??= new Map([...Util.getSystemErrorMap().values()].map(([name, text]) => [name, text]))
  const text = error.code === "ENOTFOUND" ? "host not found" : systemErrors.get(error.code) ?? error.message
  return `${text ?? "failed"} (${error.code})`
}

const firstLine = (text: string) => text.split("\n")[0]!.trim()

/** The message of an error without a leading tag (`Bind: …`). */
const messageOf = (error: unknown): string => {
  if (isObject(error)) {
    if (typeof error.detail === "string") return firstLine(error.detail)
    if (typeof error.message === "string" && error.message !== "") return firstLine(error.message)
    if (error.cause !== undefined) return messageOf(error.cause)
  }
  return firstLine(String(error))
}

/**
 * What a failing program was doing, for {@link describeFailure}.
 *
 * @since 0.1.0 @category errors
 */
export interface FailureContext {
  /** Where it listens: `127.0.0.1:18812`, `[::1]:18811/udp`, a socket path. */
  readonly listen?: string | undefined
  /** Files it reads, by flag: `[["--ssl-keyfile", "/etc/key.pem"], …]`. */
  readonly files?: ReadonlyArray<readonly [flag: string, path: string]> | undefined
}

const LISTEN_SYSCALLS = new Set(["listen", "bind", "getaddrinfo"])
const LISTEN_CODES = new Set(["EADDRINUSE", "EADDRNOTAVAIL", "EACCES", "ENOTFOUND", "EAFNOSUPPORT", "EINVAL"])

/**
 * One line for a runtime failure, naming the address or file and the OS reason:
 * `cannot listen on 127.0.0.1:18811/udp: address already in use (EADDRINUSE)`,
 * `cannot read --ssl-keyfile /x/key.pem: no such file or directory (ENOENT)`.
 *
 * @since 0.1.0 @category errors
 */
export const describeFailure = (error: unknown, context: FailureContext): string => {
  if (error instanceof Logging.LogfileError) {
    const os = findOsError(error.cause)
    return `cannot open the log file ${error.path}: ${os !== undefined ? osReason(os) : messageOf(error.cause)}`
  }
  const os = findOsError(error)
  if (os !== undefined) {
    const file = os.path !== undefined ? context.files?.find(([, path]) => path === os.path) : undefined
    if (file !== undefined) return `cannot read ${file[0]} ${file[1]}: ${osReason(os)}`
    if (
      context.listen !== undefined &&
      ((os.syscall !== undefined && LISTEN_SYSCALLS.has(os.syscall)) || LISTEN_CODES.has(os.code))
    ) {
      return `cannot listen on ${context.listen}: ${osReason(os)}`
    }
    if (os.path !== undefined) return `cannot read ${os.path}: ${osReason(os)}`
    return `${messageOf(error)}`
  }
  const tag = isObject(error) ? error._tag : undefined
  if (context.listen !== undefined && (tag === "SocketServerError" || tag === "RegistryError")) {
    return `cannot listen on ${context.listen}: ${messageOf(isObject(error) ? error.cause ?? error : error)}`
  }
  return messageOf(error)
}

/**
 * `host:port`, with the host in brackets if it is an IPv6 address.
 *
 * @since 0.1.0 @category errors
 */
export const hostPort = (host: string, port: number): string =>
  host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`

// ---------------------------------------------------------------------------------------------
// version

/**
 * This package's version, for `--version`: read from the package.json above this file (the
 * sources and dist alike).
 *
 * @since 0.1.0 @category version
 */
export const packageVersion = (): string => {
  let dir = Path.dirname(fileURLToPath(import.meta.url))
  for (let i = 0; i < 6; i++) {
    try {
      const pkg = JSON.parse(Fs.readFileSync(Path.join(dir, "package.json"), "utf8")) as {
        name?: string
        version?: string
      }
      if (pkg.name === "effect-rpyc" && typeof pkg.version === "string") return pkg.version
    } catch {
      // not here
    }
    dir = Path.dirname(dir)
  }
  return "0.0.0"
}

// ---------------------------------------------------------------------------------------------
// main

/**
 * A command-line program: its flags and help, how a command line becomes its configuration
 * (throwing `Args.UsageError`), and the Effect it runs.
 *
 * @since 0.1.0 @category main
 */
export interface Program<C> {
  readonly name: string
  readonly specs: Readonly<Record<string, Args.Spec>>
  readonly help: () => string
  readonly configure: (parsed: Args.Parsed) => C
  readonly run: (config: C) => Effect.Effect<unknown, unknown>
  readonly describe: (error: unknown, config: C) => string
}

const print = (stream: NodeJS.WriteStream, text: string) => {
  // `--help | head -1`: a closed pipe is not an error worth a stack trace
  stream.on("error", () => {})
  stream.write(text)
}

/**
 * Runs `program` on `argv` (default: this process's arguments). `--help` and `--version` print and
 * exit 0; a usage error prints `<name>: <message>` and exits 2; a failure prints one line and exits 1;
 * SIGINT and SIGTERM interrupt the program (closing what it opened) and exit 0.
 *
 * @since 0.1.0 @category main
 */
export const main = <C>(program: Program<C>, argv: ReadonlyArray<string> = process.argv.slice(2)): void => {
  let config: C
  try {
    const outcome = Args.parse(argv, program.specs)
    if (outcome._tag === "Help") return print(process.stdout, program.help())
    if (outcome._tag === "Version") return print(process.stdout, `${packageVersion()}\n`)
    config = program.configure(outcome.parsed)
  } catch (error) {
    if (!(error instanceof Args.UsageError)) throw error
    print(process.stderr, `${program.name}: ${error.message}\n`)
    process.exitCode = 2
    return
  }
  program.run(config).pipe(
    Effect.tapErrorCause((cause) => {
      if (Cause.isInterruptedOnly(cause)) return Effect.void
      const failure = Cause.failureOption(cause)
      return Console.error(
        Option.isSome(failure)
          ? `${program.name}: ${program.describe(failure.value, config)}`
          : `${program.name}: unexpected error\n${Cause.pretty(cause)}`
      )
    }),
    // exit code 1 on failure, 0 on success or after SIGINT/SIGTERM; the line above is the only report
    NodeRuntime.runMain({ disableErrorReporting: true, disablePrettyLogger: true })
  )
}
