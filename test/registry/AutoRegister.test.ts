/**
 * Servers that register themselves, and clients that find and connect to them by service name,
 * both ways with Python RPyC 5.3.0, over 127.0.0.1 only.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Client from "../../src/client/Client.js"
import * as RegistryClient from "../../src/registry/RegistryClient.js"
import * as RegistryServer from "../../src/registry/RegistryServer.js"
import * as Server from "../../src/server/Server.js"
import { Service } from "../../src/service/Service.js"
import { spawn } from "../support/Child.js"
import { eventually } from "../support/Eventually.js"
import { freePort } from "../support/Ports.js"
import { requirePython, runPythonTests } from "../support/Python.js"
import { PY_REGISTERED_SERVER, runPython } from "./support.js"

const LOOPBACK = "127.0.0.1"
const TIMEOUT = 60_000

class MyService extends Service {
  static override ALIASES = ["my", "answer"]
  exposed_get_answer() {
    return 42
  }
}

describe("auto-registration (TS)", () => {
  it.scopedLive(
    "a server registers all aliases, re-registers after the registry forgets it, unregisters on close",
    () =>
      Effect.gen(function*() {
        const registry = yield* RegistryServer.makeUdpServer({ port: 0 })
        const registrar = yield* RegistryClient.makeUdp({ host: LOOPBACK, port: registry.address.port })
        const port = yield* Effect.scoped(Effect.gen(function*() {
          const server = yield* Server.make(MyService, { port: 0, registrar })
          const found = yield* eventually(registrar.discover("MY"), (s) => s.length > 0)
          assert.deepStrictEqual(found, [{ host: LOOPBACK, port: server.port! }])
          assert.deepStrictEqual(yield* registrar.discover("ANSWER"), found)
          const conn = yield* Client.connectByService("answer").pipe(
            Effect.provideService(RegistryClient.Registrar, registrar)
          )
          assert.strictEqual(yield* conn.root.get_answer(), 42)
          return server.port!
        }))
        // the server's scope closed: it unregistered
        yield* eventually(registrar.discover("MY"), (s) => s.length === 0)
        assert.isAbove(port, 0)
      }),
    TIMEOUT
  )

  it.scopedLive("a failed registration is retried about every second", () =>
    Effect.gen(function*() {
      // no registry yet on this port: the first attempts fail
      const port = yield* freePort("udp", LOOPBACK)
      const registrar = yield* RegistryClient.makeUdp({ host: LOOPBACK, port, timeout: "200 millis" })
      yield* Server.make(MyService, { port: 0, registrar })
      const registry = yield* RegistryServer.makeUdpServer({ port })
      const found = yield* eventually(
        Effect.sync(() => registry.state),
        () => true
      ).pipe(Effect.zipRight(eventually(registrar.discover("MY"), (s) => s.length > 0, { timeout: "8 seconds" })))
      assert.strictEqual(found.length, 1)
    }), TIMEOUT)

  it.scopedLive(
    "connectByService fails with DiscoveryError when nothing is registered or nothing answers",
    () =>
      Effect.gen(function*() {
        const registry = yield* RegistryServer.makeUdpServer({ port: 0 })
        const registrar = yield* RegistryClient.makeUdp({ host: LOOPBACK, port: registry.address.port })
        const notFound = yield* Client.connectByService("NOPE").pipe(
          Effect.flip,
          Effect.provideService(RegistryClient.Registrar, registrar)
        )
        assert.strictEqual(notFound.reason, "NotFound")
        // a registered address where no server listens
        const dead = yield* freePort("tcp", LOOPBACK)
        yield* registrar.register(["DEAD"], dead)
        const down = yield* Client.connectByService("DEAD").pipe(
          Effect.flip,
          Effect.provideService(RegistryClient.Registrar, registrar)
        )
        assert.strictEqual(down.reason, "AllDown")
        assert.match(down.message, new RegExp(`All services are down: 127\\.0\\.0\\.1:${dead}`))
      }),
    TIMEOUT
  )
})

const RPYC_REGISTRY = "import sys; from rpyc.cli.rpyc_registry import main; sys.argv[0] = 'rpyc_registry'; main()"

const PY_DISCOVER = `
import json, sys, time
import rpyc
from rpyc.utils.registry import UDPRegistryClient
port = int(sys.argv[1])
registrar = UDPRegistryClient(ip="127.0.0.1", port=port, timeout=5)
deadline = time.time() + 10
found = ()
while time.time() < deadline and not found:
    found = registrar.discover("MY")
    time.sleep(0.05)
c = rpyc.connect_by_service("ANSWER", registrar=registrar)
print(json.dumps({"discover": rpyc.discover("MY", registrar=registrar), "answer": c.root.get_answer(),
                  "name": c.root.get_service_name()}))
c.close()
`

describe.skipIf(!runPythonTests)("auto-registration with Python RPyC 5.3.0", () => {
  it.scopedLive(
    "Python rpyc_registry + a TS server with autoRegister: Python discovers and connects by service",
    () =>
      Effect.gen(function*() {
        const port = yield* freePort("udp")
        const registry = yield* spawn(requirePython(), ["-c", RPYC_REGISTRY, "--mode", "UDP", "--port", String(port)])
        yield* registry.waitFor(new RegExp(`server started on [^\\s]*:${port}`))
        const registrar = yield* RegistryClient.makeUdp({ host: LOOPBACK, port })
        const server = yield* Server.make(MyService, { port: 0, registrar, autoRegister: true })
        const out = JSON.parse(yield* runPython(PY_DISCOVER, [String(port)]))
        assert.deepStrictEqual(out, { discover: [[LOOPBACK, server.port]], answer: 42, name: "MY" })
      }),
    TIMEOUT
  )

  it.scopedLive(
    "our registry + a Python ThreadedServer(auto_register=True): discover and connectByService reach it",
    () =>
      Effect.gen(function*() {
        const registry = yield* RegistryServer.makeUdpServer({ port: 0 })
        const python = yield* spawn(requirePython(), ["-c", PY_REGISTERED_SERVER, String(registry.address.port)])
        const rpcPort = Number((yield* python.waitFor(/listening (\d+)/))[1])
        const registrar = yield* RegistryClient.makeUdp({ host: LOOPBACK, port: registry.address.port })
        const withRegistrar = Effect.provideService(RegistryClient.Registrar, registrar)
        const found = yield* eventually(
          RegistryClient.discover("PYA").pipe(withRegistrar, Effect.either),
          (e) => e._tag === "Right"
        )
        assert.deepStrictEqual(found._tag === "Right" ? found.right : undefined, [{ host: LOOPBACK, port: rpcPort }])
        const conn = yield* Client.connectByService("pyanswer").pipe(withRegistrar)
        assert.strictEqual(yield* conn.root.get_answer(), 43)
        assert.strictEqual(yield* conn.root.get_service_name(), "PYANSWER")
      }),
    TIMEOUT
  )
})
