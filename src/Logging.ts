/**
 * RPyC-style log lines (`INFO:MY/18861:accepted 127.0.0.1:41632`) for scripts and the CLIs.
 *
 * The library logs through Effect's `Logger` and never writes to stdout itself; Effect apps keep
 * whatever logger they configure. Scripts (`new ThreadedServer(…)`, `rpyc.connect(…)`) get
 * {@link layerScript}: RPyC's line format on stderr, warnings and errors only unless a `logLevel`
 * asks for more, nothing at all with `rpycLogs: false`. The CLIs use {@link layerCli} (INFO lines,
 * as RPyC's programs print). Servers annotate their logs with `rpyc.logger` = `<SERVICE>/<port>`,
 * which this logger prints where Python prints the logger name.
 *
 * @since 0.1.0
 */
import * as Cause from "effect/Cause"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as HashMap from "effect/HashMap"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as Option from "effect/Option"

/** The log annotation holding the logger name. @since 0.1.0 @category annotations */
export const LOGGER_NAME = "rpyc.logger"

const render = (message: unknown): string =>
  Array.isArray(message) ? message.map((m) => (typeof m === "string" ? m : String(m))).join(" ") : String(message)

/**
 * How lines look: `"plain"` is `LEVEL:name:message` (what `rpyc_classic` prints, Python's
 * `logging.basicConfig` format); `"dated"` is `Nov 23 14:05:01 LEVEL name: message` (what
 * `rpyc_registry` prints).
 *
 * @since 0.1.0 @category models
 */
export type Format = "plain" | "dated"

const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
const two = (n: number) => String(n).padStart(2, "0")
// Python's '%b %d %H:%M:%S'
const formatDate = (d: Date) =>
  `${MONTHS[d.getMonth()]} ${two(d.getDate())} ${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}`

/**
 * Writes a line to stderr, or to the console where there is no `process` (a browser). Looked up
 * when a line is written, so that loading this module needs nothing from Node.
 */
const writeStderr = (line: string): void => {
  const stderr = (globalThis as { readonly process?: { readonly stderr?: { write(s: string): unknown } } }).process
    ?.stderr
  if (stderr !== undefined) stderr.write(line)
  else console.error(line.endsWith("\n") ? line.slice(0, -1) : line)
}

/**
 * A logger writing RPyC-style lines to `write` (stderr by default, the console in a browser).
 *
 * @since 0.1.0 @category loggers
 */
export const make = (
  write: (line: string) => void = writeStderr,
  format: Format = "plain"
): Logger.Logger<unknown, void> =>
  Logger.make(({ annotations, cause, date, logLevel, message }) => {
    const name = String(Option.getOrElse(HashMap.get(annotations, LOGGER_NAME), () => "rpyc"))
    const detail = Cause.isEmpty(cause) ? "" : `\n${Cause.pretty(cause)}`
    const line = format === "plain"
      ? `${logLevel.label}:${name}:${render(message)}`
      : `${formatDate(date)} ${logLevel.label} ${name}: ${render(message)}`
    write(`${line}${detail}\n`)
  })

/**
 * How much to log: Python's level names. `"none"` logs nothing.
 *
 * @since 0.1.0 @category models
 */
export type Level = "debug" | "info" | "warning" | "error" | "none"

/**
 * The Effect `LogLevel` of a {@link Level}.
 *
 * @since 0.1.0 @category models
 */
export const toLogLevel = (level: Level): LogLevel.LogLevel => {
  switch (level) {
    case "debug":
      return LogLevel.Debug
    case "info":
      return LogLevel.Info
    case "warning":
      return LogLevel.Warning
    case "error":
      return LogLevel.Error
    case "none":
      return LogLevel.None
  }
}

/**
 * The logging options of the script helpers (`ThreadedServer`, `rpyc.connect`).
 *
 * @since 0.1.0 @category models
 */
export interface ScriptOptions {
  /** The least severe level logged (default `"warning"`: warnings and errors only). */
  readonly logLevel?: Level | undefined
  /** `false` silences the library's logs altogether (default true: RPyC's line format on stderr). */
  readonly rpycLogs?: boolean | undefined
}

/**
 * The logging of scripts: RPyC's line format on stderr (or `write`) from `logLevel` up (default
 * `"warning"`); nothing at all with `rpycLogs: false` or `logLevel: "none"`.
 *
 * @since 0.1.0 @category layers
 */
export const layerScript = (options: ScriptOptions = {}, write?: (line: string) => void): Layer.Layer<never> =>
  options.rpycLogs === false || options.logLevel === "none"
    ? Layer.mergeAll(
      Logger.replace(Logger.defaultLogger, Logger.none),
      Logger.minimumLogLevel(LogLevel.None),
      Layer.setUnhandledErrorLogLevel(Option.none())
    )
    : Layer.mergeAll(
      Logger.replace(Logger.defaultLogger, make(write)),
      Logger.minimumLogLevel(toLogLevel(options.logLevel ?? "warning"))
    )

/**
 * The logging of the command-line programs: lines of `format` appended to `logfile` (or written to
 * stderr) from `level` up, errors only when `quiet`. The default level follows the format: `"info"`
 * for `"plain"` (`rpyc-classic`: RPyC's INFO lines, no per-request DEBUG lines), `"debug"` for
 * `"dated"` (`rpyc-registry`, whose lines RPyC logs at DEBUG). Fails with `LogfileError` if the file
 * cannot be opened.
 *
 * @since 0.1.0 @category layers
 */
export const layerCli = (options: {
  readonly logfile: Option.Option<string>
  readonly quiet: boolean
  readonly format?: Format | undefined
  readonly level?: Level | undefined
}): Layer.Layer<never, LogfileError> =>
  Layer.unwrapScoped(Effect.gen(function*() {
    const write = yield* Option.match(options.logfile, {
      onNone: () => Effect.succeed(writeStderr),
      onSome: (path) =>
        // fetched here rather than imported, so that the browser build never reaches `node:fs`
        Effect.acquireRelease(
          Effect.try({
            try: () => {
              const Fs = process.getBuiltinModule("node:fs")
              return { Fs, fd: Fs.openSync(path, "a") }
            },
            catch: (cause) => new LogfileError({ path, cause })
          }),
          ({ Fs, fd }) => Effect.sync(() => Fs.closeSync(fd))
        ).pipe(Effect.map(({ Fs, fd }) => (line: string) => void Fs.writeSync(fd, line)))
    })
    return Layer.mergeAll(
      Logger.replace(Logger.defaultLogger, make(write, options.format)),
      Logger.minimumLogLevel(
        options.quiet ? LogLevel.Error : toLogLevel(options.level ?? (options.format === "dated" ? "debug" : "info"))
      ),
      // a failure is reported once, by the program (not again as the runtime's "unhandled error" line)
      Layer.setUnhandledErrorLogLevel(Option.none())
    )
  }))

/**
 * The log file could not be opened.
 *
 * @since 0.1.0 @category errors
 */
export class LogfileError extends Data.TaggedError("LogfileError")<{ readonly path: string; readonly cause: unknown }> {
  override get message(): string {
    return `cannot open the log file ${this.path}: ${
      this.cause instanceof Error ? this.cause.message : String(this.cause)
    }`
  }
}

/**
 * Replaces Effect's default logger with the RPyC-style one (the level is left as it is: Effect's
 * default is INFO).
 *
 * @since 0.1.0 @category layers
 */
export const layer = (write?: (line: string) => void): Layer.Layer<never> =>
  Logger.replace(Logger.defaultLogger, make(write))
