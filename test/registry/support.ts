/**
 * Helpers of the registry suites: hex, and Python one-liners run to completion. Children, ports,
 * polling and the Python rule are test/support's (Child.ts, Ports.ts, Eventually.ts, Python.ts).
 */
import * as Effect from "effect/Effect"
import { type ChildError, run } from "../support/Child.js"
import { requirePython } from "../support/Python.js"

export const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString("hex")
export const unhex = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, "hex"))

/** Runs a Python script (`python -c`) to completion and returns its stdout (fails on a non-zero exit). */
export const runPython = (
  script: string,
  args: ReadonlyArray<string> = []
): Effect.Effect<string, Error | ChildError> =>
  Effect.gen(function*() {
    const r = yield* run(requirePython(), ["-c", script, ...args], { timeout: "30 seconds" })
    if (r.code !== 0) {
      return yield* Effect.fail(
        new Error(`python exited ${JSON.stringify({ code: r.code, signal: r.signal })}\n${r.stderr}`)
      )
    }
    return r.stdout
  })
