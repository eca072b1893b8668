/**
 * Interop with Python RPyC 5.3.0, over 127.0.0.1 only:
 * (a) Python's rpyc_registry answering our registrars,
 * (b) Python's registrars talking to our servers,
 * (c) a Python ThreadedServer auto-registering with our server, found by our registrar.
 *
 * Skipped when no Python can `import rpyc`, unless CI=true (then a missing Python fails the suite).
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as RegistryClient from "../../src/registry/RegistryClient.js"
import * as RegistryServer from "../../src/registry/RegistryServer.js"
import { spawn } from "../support/Child.js"
import { eventually } from "../support/Eventually.js"
import { freePort } from "../support/Ports.js"
import { requirePython, runPythonTests } from "../support/Python.js"
import { runPython } from "./support.js"

const LOOPBACK = "127.0.0.1"

// RPyC's own CLI entry point, run by whichever Python has rpyc (the /usr/bin/rpyc_registry wrapper
// hard-codes /usr/bin/python3)
const RPYC_REGISTRY = "import sys; from rpyc.cli.rpyc_registry import main; sys.argv[0] = 'rpyc_registry'; main()"

/**
 * Starts `rpyc_registry --mode <mode> --port <free port> --listing true`. It binds 0.0.0.0 (its CLI has no
 * host option); we only ever talk to it over 127.0.0.1.
 */
const pythonRegistry = (mode: "UDP" | "TCP") =>
  Effect.gen(function*() {
    const port = yield* freePort(mode === "UDP" ? "udp" : "tcp")
    const registry = yield* spawn(requirePython(), [
      "-c",
      RPYC_REGISTRY,
      "--mode",
      mode,
      "--port",
      String(port),
      "--listing",
      "true" // RPyC's quirk: any value enables listing
    ])
    yield* registry.waitFor(new RegExp(`server started on [^\\s]*:${port}`))
    return { port, registry }
  })

// Python registrar session against our server; prints one JSON object
const PY_CLIENT = `
import json, sys, time
import rpyc
from rpyc.utils.registry import UDPRegistryClient, TCPRegistryClient
from rpyc.utils.factory import discover, list_services, DiscoveryError, ForbiddenError
mode, port = sys.argv[1], int(sys.argv[2])
def client():
    if mode == "UDP":
        return UDPRegistryClient(ip="127.0.0.1", port=port, timeout=5)
    return TCPRegistryClient("127.0.0.1", port=port, timeout=5)
c = client()
out = {}
out["register"] = c.register(("PySvc", "PYALIAS"), 34567)
out["discover"] = c.discover("pysvc")
out["factory_discover"] = discover("PYALIAS", registrar=c)
try:
    out["list"] = c.list()
    out["list_filtered"] = c.list("127.0.0.1")
    out["list_other"] = c.list("192.0.2.1")
    out["list_services"] = list_services(registrar=c)
except ForbiddenError as e:
    out["forbidden"] = str(e)
try:
    discover("NOSUCH", registrar=c)
except DiscoveryError as e:
    out["discovery_error"] = True
c.unregister(34567)
deadline = time.time() + 5
while time.time() < deadline and c.discover("pysvc"):
    time.sleep(0.05)
out["after_unregister"] = c.discover("pysvc")
print(json.dumps(out))
`

// a Python RPyC server that registers itself with a registry at 127.0.0.1:<port>
const PY_SERVER = `
import sys
import rpyc
from rpyc.utils.server import ThreadedServer
from rpyc.utils.registry import UDPRegistryClient, TCPRegistryClient
mode, port = sys.argv[1], int(sys.argv[2])
class EchoService(rpyc.Service):
    def exposed_echo(self, x):
        return x
registrar = UDPRegistryClient(ip="127.0.0.1", port=port) if mode == "UDP" else TCPRegistryClient("127.0.0.1", port=port)
server = ThreadedServer(EchoService, hostname="127.0.0.1", port=0, registrar=registrar, auto_register=True)
print("listening", server.port, flush=True)
server.start()
`

// Python start-up is slow on a loaded machine
const TIMEOUT = 60_000

describe.skipIf(!runPythonTests)("interop with Python RPyC 5.3.0", () => {
  describe("(a) Python rpyc_registry, our registrars", () => {
    for (const mode of ["UDP", "TCP"] as const) {
      it.scopedLive(`${mode}: register, discover, list, unregister`, () =>
        Effect.gen(function*() {
          const { port, registry } = yield* pythonRegistry(mode)
          const registrar = yield* (mode === "UDP"
            ? RegistryClient.makeUdp({ host: LOOPBACK, port })
            : RegistryClient.makeTcp({ host: LOOPBACK, port }))
          assert.deepStrictEqual(yield* registrar.discover("tsecho"), [])
          yield* registrar.register(["TsEcho", "TSALIAS"], 45678)
          assert.deepStrictEqual(yield* registrar.discover("tsecho"), [{ host: LOOPBACK, port: 45678 }])
          assert.deepStrictEqual(yield* registrar.discover("TSALIAS"), [{ host: LOOPBACK, port: 45678 }])
          assert.deepStrictEqual(yield* registrar.list(), Option.some(["TSECHO", "TSALIAS"]))
          assert.deepStrictEqual(yield* registrar.list(LOOPBACK), Option.some(["TSECHO", "TSALIAS"]))
          assert.deepStrictEqual(yield* registrar.list("192.0.2.1"), Option.some([]))
          const found = yield* RegistryClient.discover("tsecho").pipe(
            Effect.provideService(RegistryClient.Registrar, registrar)
          )
          assert.deepStrictEqual(found, [{ host: LOOPBACK, port: 45678 }])
          yield* registrar.unregister(45678)
          yield* eventually(registrar.discover("tsecho"), (s) => s.length === 0)
          // Python logged our requests the way our CLI does
          yield* registry.waitFor(/registering 127\.0\.0\.1:45678 as TsEcho, TSALIAS/)
          yield* registry.waitFor(/querying for 'TSECHO'/)
        }), TIMEOUT)
    }

    it.scopedLive(
      "listing disabled: Python answers None, listServices fails with ForbiddenError",
      () =>
        Effect.gen(function*() {
          const port = yield* freePort("udp")
          const registry = yield* spawn(requirePython(), ["-c", RPYC_REGISTRY, "--port", String(port)])
          yield* registry.waitFor(new RegExp(`server started on [^\\s]*:${port}`))
          const registrar = yield* RegistryClient.makeUdp({ host: LOOPBACK, port })
          assert.deepStrictEqual(yield* registrar.list(), Option.none())
          const error = yield* RegistryClient.listServices().pipe(
            Effect.flip,
            Effect.provideService(RegistryClient.Registrar, registrar)
          )
          assert.strictEqual(error._tag, "ForbiddenError")
        }),
      TIMEOUT
    )
  })

  describe("(b) our registry servers, Python registrars", () => {
    for (const mode of ["UDP", "TCP"] as const) {
      it.scopedLive(`${mode}: register, discover, list, unregister`, () =>
        Effect.gen(function*() {
          const options = { port: 0, allowListing: true }
          const server = yield* (mode === "UDP"
            ? RegistryServer.makeUdpServer(options)
            : RegistryServer.makeTcpServer(options))
          const out = JSON.parse(yield* runPython(PY_CLIENT, [mode, String(server.address.port)]))
          assert.deepStrictEqual(out, {
            register: true,
            discover: [["127.0.0.1", 34567]],
            factory_discover: [["127.0.0.1", 34567]],
            list: ["PYSVC", "PYALIAS"],
            list_filtered: ["PYSVC", "PYALIAS"],
            list_other: [],
            list_services: ["PYSVC", "PYALIAS"],
            discovery_error: true,
            after_unregister: []
          })
        }), TIMEOUT)
    }

    it.scopedLive("listing disabled: Python's list_services raises ForbiddenError", () =>
      Effect.gen(function*() {
        const server = yield* RegistryServer.makeUdpServer({ port: 0 })
        const out = JSON.parse(yield* runPython(PY_CLIENT, ["UDP", String(server.address.port)]))
        assert.strictEqual(out.forbidden, "Registry doesn't allow listing")
        assert.deepStrictEqual(out.discover, [["127.0.0.1", 34567]])
      }), TIMEOUT)
  })

  describe("(c) a Python ThreadedServer auto-registers with our registry", () => {
    for (const mode of ["UDP", "TCP"] as const) {
      it.scopedLive(
        `${mode}: our registrar discovers it, and it unregisters on shutdown`,
        () =>
          Effect.gen(function*() {
            const server = yield* (mode === "UDP"
              ? RegistryServer.makeUdpServer({ port: 0 })
              : RegistryServer.makeTcpServer({ port: 0 }))
            const python = yield* spawn(requirePython(), ["-c", PY_SERVER, mode, String(server.address.port)])
            const rpcPort = Number((yield* python.waitFor(/listening (\d+)/))[1])
            const registrar = yield* (mode === "UDP"
              ? RegistryClient.makeUdp({ host: LOOPBACK, port: server.address.port })
              : RegistryClient.makeTcp({ host: LOOPBACK, port: server.address.port }))
            const found = yield* eventually(registrar.discover("echo"), (s) => s.length > 0)
            assert.deepStrictEqual(found, [{ host: LOOPBACK, port: rpcPort }])
            // Ctrl-C: ThreadedServer.close() unregisters
            python.process.kill("SIGINT")
            yield* eventually(registrar.discover("echo"), (s) => s.length === 0)
          }),
        TIMEOUT
      )
    }
  })
})
