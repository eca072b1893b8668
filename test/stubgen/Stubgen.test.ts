/**
 * Issue 14, item 6: `rpyc-stubgen` (src/cli/rpyc-stubgen.ts + stubgen/rpyc_stubgen.py) writes a
 * TypeScript interface for a Python RPyC service (test/stubgen/fixtures/calc_service.py) that
 * `Client.connect<Api>()` accepts. The generated file and a client using it are type-checked with
 * the TypeScript API and the project's compiler options, as virtual files in test/stubgen/ (so
 * that `effect-rpyc/...` and `effect/...` resolve as in the project): a correct client passes, one
 * with a wrong argument type gets exactly TS2345. Usage errors exit 2 with one line.
 */
import { assert, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Fs from "node:fs"
import { createRequire } from "node:module"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"
import type * as TypeScript from "typescript"
import { explain, run, TIMEOUT, tsx } from "../support/Child.js"
import { describePython, PYTHON } from "../support/Python.js"
import { tempDir } from "../support/TempDir.js"

const ts: typeof TypeScript = createRequire(import.meta.url)("typescript")

const HERE = Path.dirname(fileURLToPath(import.meta.url))
const ROOT = Path.resolve(HERE, "../..")
const CLI = Path.join(ROOT, "src", "cli", "rpyc-stubgen.ts")
const FIXTURES = Path.join(HERE, "fixtures")
/**
 * Where the generated interface and the clients are placed for the type check: virtual files (never
 * written there) in this existing directory, which module resolution looks into.
 */
const VIRTUAL = HERE
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
  return ts.getPreEmitDiagnostics(program).map((d) => ({
    file: Path.resolve(d.file?.fileName ?? "<global>"),
    line: d.file !== undefined && d.start !== undefined ? d.file.getLineAndCharacterOfPosition(d.start).line + 1 : 0,
    code: d.code,
    message: ts.flattenDiagnosticMessageText(d.messageText, "\n")
  }))
}

const report = (found: ReadonlyArray<Found>): string =>
  found.map((f) => `${f.file}:${f.line} TS${f.code} ${f.message}`).join("\n")

/** A client of the generated interface: every kind of member, used as a Python client would. */
const CLIENT = `import * as Effect from "effect/Effect"
import * as Client from "effect-rpyc/Client"
import { kwargs } from "effect-rpyc/RemoteOp"
import type { Remote } from "effect-rpyc/RemoteOp"
import type { Calc } from "./Calc.js"

type Equals<A, B> = (<T>() => T extends A ? 1 : 2) extends (<T>() => T extends B ? 1 : 2) ? true : false
const expectType = <T extends true>(_proof?: T): void => {}

export const program = Effect.gen(function*() {
  const conn = yield* Client.connect<Calc>({ host: "127.0.0.1", port: 18861 })
  const root = conn.root
  const sum = yield* root.add(1, 2)
  expectType<Equals<typeof sum, number>>()
  const quotient: number = yield* root.div(1)
  const found = yield* root.find("k")
  expectType<Equals<typeof found, string | null>>()
  const maybe: number | null = yield* root.maybe()
  const maybe2: number | null = yield* root.maybe(null)
  const items: Remote = yield* root.items()
  const table = yield* root.table(items)
  const digest = yield* root.digest(new Uint8Array([1, 2]))
  expectType<Equals<typeof digest, Uint8Array>>()
  // an async def: RPyC hands back the coroutine, by reference
  const fetched: Remote = yield* root.fetch(7)
  const formatted: string = yield* root.format(1.5, kwargs({ sep: ";" }))
  const formatted2: string = yield* root.format(1.5)
  const pair = yield* root.pair()
  const widget = yield* root.widget(3)
  const untyped = yield* root.untyped(1, "anything")
  yield* root.reset()
  const name = yield* root.name
  expectType<Equals<typeof name, string>>()
  const version: number = yield* root.version
  const serviceName: string = yield* root.get_service_name()
  const result = yield* root.add("one", 2) // WRONG-ARGUMENT
  return [sum, quotient, maybe, maybe2, table, fetched, formatted, formatted2, pair, widget, untyped, version, serviceName, result]
})
`

describePython("rpyc-stubgen", () => {
  it.live(
    "generates an interface that Client.connect<Api> type-checks against; a wrong argument is TS2345",
    () =>
      Effect.gen(function*() {
        const dir = yield* tempDir("rpyc-stubgen-")
        const out = Path.join(dir, "Calc.ts")
        const [command, args] = tsx(
          CLI,
          Path.join(FIXTURES, "calc_service.py") + ":CalcService",
          "--python",
          PYTHON,
          "--out",
          out,
          "--name",
          "Calc"
        )
        const r = yield* run(command, args)
        assert.strictEqual(r.code, 0, explain(r))
        assert.match(r.stderr, /wrote .*Calc\.ts \(interface Calc, \d+ members\)/, explain(r))
        const text = Fs.readFileSync(out, "utf8")

        // the generated text
        assert.match(text, /^\/\/ Generated by rpyc-stubgen from .*calc_service\.py:CalcService\.$/m)
        assert.include(text, `import type { Kwargs, Remote } from "effect-rpyc/RemoteOp"`)
        assert.include(text, "export interface Calc {")
        for (
          const member of [
            "readonly exposed_name: string",
            "readonly exposed_version: number",
            "exposed_add(a: number, b: number): number",
            "exposed_div(a: number, b?: number): number",
            "exposed_find(key: string): string | null",
            "exposed_maybe(flag?: boolean | null): number | null",
            "exposed_items(): Remote",
            "exposed_table(rows: Remote): Remote",
            "exposed_pair(): readonly [number, string]",
            "exposed_digest(data: Uint8Array): Uint8Array",
            "exposed_fetch(id: number): Remote",
            "exposed_format(value: number, kwargs?: Kwargs): string",
            "exposed_widget(size: number): Remote",
            "exposed_untyped(x: any, default_?: any): any",
            "exposed_reset(): null",
            "exposed_get_service_name(): string"
          ]
        ) {
          assert.include(text, `  ${member}\n`, text)
        }
        assert.notInclude(text, "secret", "a non-exposed method is left out")
        assert.notInclude(text, "_helper")
        assert.notInclude(text, "importing calc_service", "what the module prints stays out of the stub")

        // a client of it, in the temp dir as a user would have it, type-checked next to the stub
        const wrong = CLIENT
        const fixed = CLIENT.replace(`root.add("one", 2) ${MARK}`, "root.add(1, 2)")
        assert.notStrictEqual(fixed, wrong)
        Fs.writeFileSync(Path.join(dir, "client.ts"), fixed)
        const stub = Path.join(VIRTUAL, "Calc.ts")
        const good = Path.join(VIRTUAL, "client.ts")
        const bad = Path.join(VIRTUAL, "wrong.ts")
        const clean = typeCheck(new Map([[stub, text], [good, fixed]]))
        assert.deepStrictEqual(clean, [], report(clean))

        const marked = wrong.split("\n").findIndex((l) => l.includes(MARK)) + 1
        const found = typeCheck(new Map([[stub, text], [bad, wrong]]))
        assert.deepStrictEqual(
          found.map(({ code, file, line }) => ({ code, file, line })),
          [{ code: 2345, file: bad, line: marked }],
          report(found)
        )
        assert.match(found[0]!.message, /"one"|string/, report(found))
      }).pipe(Effect.scoped),
    TIMEOUT
  )

  it.live("writes to stdout by module name, from the module's directory", () =>
    Effect.gen(function*() {
      const [command, args] = tsx(CLI, "calc_service:CalcService", "--python", PYTHON)
      const r = yield* run(command, args, { cwd: FIXTURES })
      assert.strictEqual(r.code, 0, explain(r))
      assert.match(r.stdout, /^\/\/ Generated by rpyc-stubgen from calc_service:CalcService\.$/m, explain(r))
      assert.include(r.stdout, "export interface CalcService {")
      assert.include(r.stdout, "  exposed_add(a: number, b: number): number\n")
      assert.notInclude(r.stdout, "importing calc_service")
    }), TIMEOUT)

  it.live("usage errors and failures print one line", () =>
    Effect.gen(function*() {
      const cases: ReadonlyArray<readonly [ReadonlyArray<string>, number, RegExp]> = [
        [[], 2, /^rpyc-stubgen: missing module:ClassName/],
        [["calc_service"], 2, /^rpyc-stubgen: expected module:ClassName/],
        [["a:B", "--bogus"], 2, /^rpyc-stubgen: unknown option --bogus$/],
        [["a:B", "--out"], 2, /^rpyc-stubgen: --out needs a value$/],
        [["a:B", "--name", "not-an-identifier"], 2, /^rpyc-stubgen: --name must be/],
        [["a:B", "--python", "/nonexistent/python3"], 1, /^rpyc-stubgen: cannot run Python \/nonexistent\/python3/],
        [["no_such_module_here:X", "--python", PYTHON], 1, /^rpyc-stubgen: cannot import module 'no_such_module_here'/],
        [["calc_service:Nope", "--python", PYTHON], 1, /^rpyc-stubgen: calc_service has no attribute 'Nope'$/]
      ]
      yield* Effect.forEach(cases, ([argv, code, pattern]) =>
        Effect.gen(function*() {
          const [command, args] = tsx(CLI, ...argv)
          const r = yield* run(command, args, { cwd: FIXTURES })
          assert.strictEqual(r.code, code, `${argv.join(" ")}: ${explain(r)}`)
          const lines = r.stderr.split("\n").filter((l) => l.startsWith("rpyc-stubgen:"))
          assert.strictEqual(lines.length, 1, explain(r))
          assert.match(lines[0]!, pattern, explain(r))
          assert.strictEqual(r.stdout, "", explain(r))
        }), { concurrency: 4 })
    }), TIMEOUT)
})
