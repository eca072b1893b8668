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
import * as Path from "node:path"
import { fileURLToPath } from "node:url"
import { typeCheck } from "../support/TypeCheck.js"

const HERE = Path.dirname(fileURLToPath(import.meta.url))
const FIXTURE = Path.join(HERE, "fixtures", "wrong-arg.ts.txt")
const WRONG = Path.join(HERE, "fixtures", "wrong-arg.ts")
const FIXED = Path.join(HERE, "fixtures", "fixed-arg.ts")
const MARK = "// WRONG-ARGUMENT"

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
