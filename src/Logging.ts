/**
 * RPyC-style log lines (`INFO:MY/18861:accepted 127.0.0.1:41632`) for scripts and the CLIs.
 *
 * The library logs through Effect's `Logger`; Effect apps keep whatever logger they configure.
 * Servers annotate their logs with `rpyc.logger` = `<SERVICE>/<port>`, which this logger prints
 * where Python prints the logger name.
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
import * as Fs from "node:fs"

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
 * A logger writing RPyC-style lines to `write` (stderr by default).
 *
 * @since 0.1.0 @category loggers
 */
export const make = (
  write: (line: string) => void = (line) => process.stderr.write(line),
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
 * The logging of the command-line programs: lines of `format` appended to `logfile` (or written to
 * stderr), errors only when `quiet`. Fails with `LogfileError` if the file cannot be opened.
 *
 * @since 0.1.0 @category layers
 */
export const layerCli = (options: {
  readonly logfile: Option.Option<string>
  readonly quiet: boolean
  readonly format?: Format | undefined
}): Layer.Layer<never, LogfileError> =>
  Layer.unwrapScoped(Effect.gen(function*() {
    const write = yield* Option.match(options.logfile, {
      onNone: () => Effect.succeed((line: string) => void process.stderr.write(line)),
      onSome: (path) =>
        Effect.acquireRelease(
          Effect.try({ try: () => Fs.openSync(path, "a"), catch: (cause) => new LogfileError({ path, cause }) }),
          (fd) => Effect.sync(() => Fs.closeSync(fd))
        ).pipe(Effect.map((fd) => (line: string) => void Fs.writeSync(fd, line)))
    })
    return Layer.mergeAll(
      Logger.replace(Logger.defaultLogger, make(write, options.format)),
      Logger.minimumLogLevel(options.quiet ? LogLevel.Error : LogLevel.Debug),
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
 * Replaces Effect's default logger with the RPyC-style one.
 *
 * @since 0.1.0 @category layers
 */
export const layer = (write?: (line: string) => void): Layer.Layer<never> =>
  Logger.replace(Logger.defaultLogger, make(write))
