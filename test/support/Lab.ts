/**
 * A small service and the round trip that connection tests run over every transport: a call, a
 * callback the server calls, and a remote exception.
 */
import { assert } from "@effect/vitest"
import * as Effect from "effect/Effect"
import type { RemoteError } from "../../src/internal/base/Errors.js"
import type * as Connection from "../../src/internal/engine/Engine.js"
import { Service } from "../../src/service/Service.js"
import { remote } from "./Peers.js"

/** What {@link exercise} asks the server to fail with. */
export const FAIL_MESSAGE = "out of range"

/** `add`, `invoke` (calls back the client) and `fail` (raises `TypeError(message)`), as the Python fixture has. */
export class LabService extends Service {
  exposed_add(a: number, b: number) {
    return a + b
  }
  exposed_invoke(fn: (x: number) => unknown, x: number) {
    return fn(x)
  }
  exposed_fail(message: string) {
    throw new TypeError(message)
  }
}

/**
 * Calls, a callback the server calls, and a remote exception over `conn`, whose root is a
 * {@link LabService} or the Python fixture's service: the exception must be of class `name`, with
 * `args` (default: the message alone, as a {@link LabService} raises it).
 */
export const exercise = (
  conn: Connection.Connection,
  expected: { readonly name: string; readonly args?: ReadonlyArray<unknown> } = { name: "TypeError" }
) =>
  Effect.gen(function*() {
    assert.strictEqual(yield* remote(conn.root.add(2, 3)), 5)
    const seen: Array<number> = []
    const double = (x: number) => {
      seen.push(x)
      return x * 2
    }
    assert.strictEqual(yield* remote(conn.root.invoke(double, 21)), 42)
    assert.deepStrictEqual(seen, [21])
    const error = yield* Effect.flip(remote(conn.root.fail(FAIL_MESSAGE)))
    assert.strictEqual(error._tag, "RemoteError")
    assert.strictEqual((error as RemoteError).name, expected.name)
    assert.deepStrictEqual((error as RemoteError).args, expected.args ?? [FAIL_MESSAGE])
  })
