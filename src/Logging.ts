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
import * as HashMap from "effect/HashMap"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as Option from "effect/Option"

/** The log annotation holding the logger name. @since 0.1.0 @category annotations */
export const LOGGER_NAME = "rpyc.logger"

const render = (message: unknown): string =>
  Array.isArray(message) ? message.map((m) => (typeof m === "string" ? m : String(m))).join(" ") : String(message)

/**
 * A logger writing `LEVEL:name:message` lines to `write` (stderr by default).
 *
 * @since 0.1.0 @category loggers
 */
export const make = (write: (line: string) => void = (line) => process.stderr.write(line)): Logger.Logger<unknown, void> =>
  Logger.make(({ annotations, cause, logLevel, message }) => {
    const name = Option.getOrElse(HashMap.get(annotations, LOGGER_NAME), () => "rpyc")
    const detail = Cause.isEmpty(cause) ? "" : `\n${Cause.pretty(cause)}`
    write(`${logLevel.label}:${String(name)}:${render(message)}${detail}\n`)
  })

/**
 * Replaces Effect's default logger with the RPyC-style one.
 *
 * @since 0.1.0 @category layers
 */
export const layer = (write?: (line: string) => void): Layer.Layer<never> =>
  Logger.replace(Logger.defaultLogger, make(write))
