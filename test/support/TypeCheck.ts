/**
 * Type-checks TypeScript files held in memory with the repository's tsconfig.json options, through
 * the compiler API: the type tests of typed remotes and generated stubs write clients that must (or
 * must not) compile without writing them to disk.
 */
import { createRequire } from "node:module"
import * as Path from "node:path"
import type * as TypeScript from "typescript"
import { ROOT } from "./Child.js"

const ts: typeof TypeScript = createRequire(import.meta.url)("typescript")

/** One diagnostic: where, its TS code and its text. */
export interface Found {
  readonly file: string
  readonly line: number
  readonly code: number
  readonly message: string
}

/**
 * Every diagnostic of the program made of `files` (absolute path → text; files that exist on disk
 * are read as usual). The virtual files' folder must exist, for module resolution.
 */
export const typeCheck = (files: ReadonlyMap<string, string>): Array<Found> => {
  const configFile = ts.readConfigFile(Path.join(ROOT, "tsconfig.json"), ts.sys.readFile)
  const parsed = ts.parseJsonConfigFileContent(configFile.config, ts.sys, ROOT)
  const options = { ...parsed.options, noEmit: true }
  const host = ts.createCompilerHost(options)
  const original = host.getSourceFile.bind(host)
  host.getSourceFile = (fileName, languageVersion, onError, shouldCreate) => {
    const text = files.get(Path.resolve(fileName))
    return text !== undefined
      ? ts.createSourceFile(fileName, text, languageVersion)
      : original(fileName, languageVersion, onError, shouldCreate)
  }
  const fileExists = host.fileExists.bind(host)
  host.fileExists = (fileName) => files.has(Path.resolve(fileName)) || fileExists(fileName)
  const readFile = host.readFile.bind(host)
  host.readFile = (fileName) => files.get(Path.resolve(fileName)) ?? readFile(fileName)
  // the repository's own ambient declarations (typings for untyped packages) come along, as in tsc -p
  const ambient = parsed.fileNames.filter((f) => f.endsWith(".d.ts"))
  const program = ts.createProgram({ rootNames: [...files.keys(), ...ambient], options, host })
  return ts.getPreEmitDiagnostics(program).map((d) => ({
    file: Path.resolve(d.file?.fileName ?? "<global>"),
    line: d.file !== undefined && d.start !== undefined ? d.file.getLineAndCharacterOfPosition(d.start).line + 1 : 0,
    code: d.code,
    message: ts.flattenDiagnosticMessageText(d.messageText, "\n")
  }))
}

/** The diagnostics one per line, for assertion messages. */
export const report = (found: ReadonlyArray<Found>): string =>
  found.map((f) => `${f.file}:${f.line} TS${f.code} ${f.message}`).join("\n")
