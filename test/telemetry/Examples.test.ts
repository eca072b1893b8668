/**
 * examples/telemetry/main.ts runs with its one documented command and prints the spans of its calls
 * nested as the README shows them, then the metrics.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { explain, run, TIMEOUT, tsx } from "../support/Child.js"

describe("examples/telemetry", () => {
  it.scopedLive(
    "npx tsx examples/telemetry/main.ts: spans to the console, their outline, the metrics",
    () =>
      Effect.gen(function*() {
        const [node, args] = tsx("examples/telemetry/main.ts")
        const result = yield* run(node, args)
        assert.strictEqual(result.code, 0, explain(result))
        const out = result.stdout
        assert.include(out, "add(2, 3) = 5")
        assert.include(out, "apply(double, 21) = 43")
        assert.include(out, "subtract(5, 3) -> AttributeError")
        // the ConsoleSpanExporter's objects
        assert.match(out, /name: 'rpyc\.call CALLATTR apply'/)
        assert.match(out, /'rpyc\.service': 'CALC'/)
        assert.include(
          out,
          [
            "traces:",
            "example",
            "  rpyc.call GETROOT [success]",
            "  rpyc.call CALLATTR add [success]",
            "  rpyc.call CALLATTR apply [success]",
            "    rpyc.serve CALL double [success]",
            "  rpyc.call CALLATTR subtract [AttributeError]",
            "rpyc.serve GETROOT [success]",
            "rpyc.serve CALLATTR add [success]",
            "rpyc.serve CALLATTR apply [success]",
            "  rpyc.call CALL [success]",
            "rpyc.serve CALLATTR subtract [AttributeError]"
          ].join("\n")
        )
        // the ConsoleMetricExporter's, on exit
        for (const name of ["rpyc.calls", "rpyc.errors", "rpyc.call.duration", "rpyc.pending", "rpyc.netrefs"]) {
          assert.include(out, `name: '${name}'`)
        }
        assert.notInclude(out, "effect_fiber_started")
      }),
    TIMEOUT
  )
})
