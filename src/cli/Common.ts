/**
 * What the command-line programs share: the logging flags.
 *
 * @since 0.1.0
 */
import * as Options from "@effect/cli/Options"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"

/** `--logfile PATH`: append log lines there instead of stderr. @since 0.1.0 @category options */
export const logfile = Options.text("logfile").pipe(
  Options.withDescription("the log file to append to; the default is stderr"),
  Options.optional
)

/** `-q`, `--quiet`: log errors only. @since 0.1.0 @category options */
export const quiet = Options.boolean("quiet").pipe(
  Options.withAlias("q"),
  Options.withDescription("quiet mode (only errors are logged)")
)

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
