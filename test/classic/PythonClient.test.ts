/**
 * Python's own classic client (`rpyc.classic.connect`, 5.3) against the TypeScript classic server
 * (`examples/classic/server.ts`, a child process): eval, execute, namespace, modules, `in
 * conn.modules`, printing to the server's stdout, redirected_stdio, obtain, deliver.
 */
import { assert, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Os from "node:os"
import * as Path from "node:path"
import { explain, run, TIMEOUT } from "../support/Child.js"
import { describePython, PYTHON } from "../support/Python.js"
import { tsServerProcess } from "./support.js"

const FIXTURE = Path.join(import.meta.dirname, "fixtures/py_classic_client.py")

describePython("Python classic client -> TS classic server", () => {
  it.scopedLive("rpyc.classic.connect works against ClassicService", () =>
    Effect.gen(function*() {
      const { child, port } = yield* tsServerProcess
      const result = yield* run(PYTHON, [FIXTURE, String(port)])
      assert.strictEqual(result.code, 0, explain(result))
      const report = JSON.parse(result.stdout.trim().split("\n").pop()!)
      assert.deepStrictEqual(report, {
        eval: 2,
        ns_x: 20,
        sq: 402,
        ns_keys: ["sq", "x"],
        ns_in: true,
        hostname: Os.hostname(),
        path_join: "a/b",
        contains_fs: true,
        contains_missing: false,
        missing: "AttributeError",
        name_error: true,
        service: "SLAVE",
        builtins_max: 9,
        obtain: [1, 2, 3],
        deliver: { a: [1, 2] },
        redirected: "redirected to python\n"
      }, explain(result))
      // printed by the TS server itself
      yield* child.waitFor(/^hello world$/, { stream: "stdout", timeout: 10_000 })
      yield* child.waitFor(/^back on the server$/, { stream: "stdout", timeout: 10_000 })
      assert.notInclude(child.stdout(), "redirected to python")
    }), TIMEOUT)
})
