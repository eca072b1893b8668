/**
 * The classic examples, run as the README says: `examples/classic/session.ts` against the TS
 * classic server, `examples/classic/python-session.ts` against Python's rpyc_classic, and
 * `examples/netrefs/main.ts` against both.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { explain, run, TIMEOUT, tsx } from "../support/Child.js"
import { pythonClassic } from "../support/Peers.js"
import { describePython } from "../support/Python.js"
import { tsServerProcess } from "./support.js"

const runExample = (file: string, port: number) => {
  const [command, args] = tsx(file)
  return run(command, args, { env: { PORT: String(port) } })
}

describe("classic examples against the TS classic server", () => {
  it.scopedLive("examples/classic/session.ts (the tutorial's Part 1)", () =>
    Effect.gen(function*() {
      const { child, port } = yield* tsServerProcess
      const result = yield* runExample("examples/classic/session.ts", port)
      assert.strictEqual(result.code, 0, explain(result))
      assert.strictEqual(
        result.stdout,
        [
          "server os: true",
          "builtins: 7",
          "eval: 6.283185307179586",
          "fn(2): 4",
          "eval square(2): 4",
          "namespace.square is fn: true",
          "closure refused, captures: [ 'factor' ]",
          ""
        ].join("\n"),
        explain(result)
      )
      yield* child.waitFor(/^hello world$/, { stream: "stdout", timeout: 10_000 })
    }), TIMEOUT)

  it.scopedLive("examples/netrefs/main.ts (the tutorial's Part 2)", () =>
    Effect.gen(function*() {
      const { port } = yield* tsServerProcess
      const result = yield* runExample("examples/netrefs/main.ts", port)
      assert.strictEqual(result.code, 0, explain(result))
      assert.strictEqual(result.stdout, netrefsOutput("js"), explain(result))
    }), TIMEOUT)
})

const netrefsOutput = (peer: string) =>
  [
    `server: ${peer}`,
    "type(sys.path): builtins.list",
    "isinstance(sys.path, list): true",
    "sys is a netref too: true",
    "type(xs): builtins.list",
    "len(xs): 3",
    "xs[0]: 3",
    "iterated: [ 3, 1, 2 ]",
    "server sees: 4",
    "obtained: [ 3, 1, 2, 4 ] true",
    ""
  ].join("\n")

describePython("classic examples against Python's rpyc_classic", () => {
  it.scopedLive("examples/classic/python-session.ts (the tutorial's Part 1)", () =>
    Effect.gen(function*() {
      const { child, port } = yield* pythonClassic
      const result = yield* runExample("examples/classic/python-session.ts", port)
      assert.strictEqual(result.code, 0, explain(result))
      assert.strictEqual(
        result.stdout,
        [
          "read: \"-----BEGIN NOTHING SECRET-----\\n\"",
          "builtins: 6",
          "eval: 6.283185307179586",
          "fn(2): 4",
          "eval square(2): 4",
          "namespace['square'] is fn: true",
          ""
        ].join("\n"),
        explain(result)
      )
      // the seed's "hello world", printed by the Python server
      yield* child.waitFor(/^hello world$/, { stream: "stdout", timeout: 10_000 })
    }), TIMEOUT)

  it.scopedLive("examples/netrefs/main.ts (the tutorial's Part 2)", () =>
    Effect.gen(function*() {
      const { port } = yield* pythonClassic
      const result = yield* runExample("examples/netrefs/main.ts", port)
      assert.strictEqual(result.code, 0, explain(result))
      assert.strictEqual(result.stdout, netrefsOutput("python"), explain(result))
    }), TIMEOUT)
})
