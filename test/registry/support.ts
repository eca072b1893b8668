/**
 * Helpers of the registry suites: hex, Python one-liners run to completion, and a Python server that
 * auto-registers. Children, ports, polling and the Python rule are test/support's (Child.ts, Ports.ts,
 * Eventually.ts, Python.ts).
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

/**
 * A Python RPyC `ThreadedServer` (service `PyAnswerService`, aliases `pyanswer` and `pya`) on
 * 127.0.0.1 that auto-registers with the UDP registry on the port given as its first argument, and
 * prints `listening <port>` once it listens.
 */
export const PY_REGISTERED_SERVER = `
import sys
import rpyc
from rpyc.utils.server import ThreadedServer
from rpyc.utils.registry import UDPRegistryClient
port = int(sys.argv[1])
class PyAnswerService(rpyc.Service):
    ALIASES = ["pyanswer", "pya"]
    def exposed_get_answer(self):
        return 43
server = ThreadedServer(PyAnswerService, hostname="127.0.0.1", port=0,
                        registrar=UDPRegistryClient(ip="127.0.0.1", port=port), auto_register=True)
print("listening", server.port, flush=True)
server.start()
`
