/**
 * Issue 3, item 8, checked by a test: type-checks test/types/fixtures/wrong-arg.ts.txt (a fixture
 * outside tsconfig.json's program) with the TypeScript API and the project's compiler options, as
 * the virtual file test/types/fixtures/wrong-arg.ts, next to a copy whose wrong call is fixed.
 * Expected: exactly one diagnostic in the whole program — TS2345 on the line marked
 * WRONG-ARGUMENT, naming the string argument — and none for the fixed copy.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Fs from "node:fs"
import { createRequire } from "node:module"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"
import type * as TypeScript from "typescript"

const ts: typeof TypeScript = createRequire(import.meta.url)("typescript")

const HERE = Path.dirname(fileURLToPath(import.meta.url))
const ROOT = Path.resolve(HERE, "../..")
const FIXTURE = Path.join(HERE, "fixtures", "wrong-arg.ts.txt")
const WRONG = Path.join(HERE, "fixtures", "wrong-arg.ts")
const FIXED = Path.join(HERE, "fixtures", "fixed-arg.ts")
const MARK = "// WRONG-ARGUMENT"

interface Found {
  readonly file: string
  readonly line: number
  readonly code: number
  readonly message: string
}

/** Type-checks the virtual files with tsconfig.json's options; every diagnostic of the program. */
const typeCheck = (files: ReadonlyMap<string, string>): Array<Found> => {
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
  const program = ts.createProgram({ rootNames: [...files.keys()], options, host })
  return ts.getPreEmitDiagnostics(program).map((d) => {
    const file = d.file?.fileName ?? "<global>"
    const line = d.file !== undefined && d.start !== undefined
      ? d.file.getLineAndCharacterOfPosition(d.start).line + 1
      : 0
    return {
      file: Path.resolve(file),
      line,
      code: d.code,
      message: ts.flattenDiagnosticMessageText(d.messageText, "\n")
    }
  })
}

describe("typed remotes (tsc on a fixture)", () => {
  it.live(
    "a wrong argument type to a typed remote method is TS2345, and nothing else is reported",
    () =>
      Effect.sync(() => {
        const text = Fs.readFileSync(FIXTURE, "utf8")
        const lines = text.split("\n")
        const marked = lines.findIndex((l) => l.includes(MARK)) + 1
        assert.isAbove(marked, 0, "the fixture marks its wrong call")
        const fixed = text.replace(`conn.root.add("one", 2) ${MARK}`, "conn.root.add(1, 2)")
        assert.notStrictEqual(fixed, text)
        const found = typeCheck(new Map([[WRONG, text], [FIXED, fixed]]))
        assert.deepStrictEqual(found.map(({ code, file, line }) => ({ code, file, line })), [
          { code: 2345, file: WRONG, line: marked }
        ], found.map((f) => `${f.file}:${f.line} TS${f.code} ${f.message}`).join("\n"))
        assert.match(
          found[0]!.message,
          /Argument of type '(string|"one")' is not assignable to parameter of type 'number'/
        )
      }),
    180_000
  )
})
