/**
 * `rpyc-classic --register`: the classic server announces itself to a registry and leaves it on exit.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as RegistryClient from "../../src/registry/RegistryClient.js"
import * as RegistryServer from "../../src/registry/RegistryServer.js"
import { spawn, TSX } from "../support/Child.js"
import { eventually } from "../support/Eventually.js"

const LOOPBACK = "127.0.0.1"
const CLI = [...TSX, "src/cli/rpyc-classic.ts"]

describe("rpyc-classic --register", () => {
  for (const mode of ["UDP", "TCP"] as const) {
    it.scopedLive(`${mode}: registers SLAVE with the registry, unregisters on SIGTERM`, () =>
      Effect.gen(function*() {
        const registry = yield* (mode === "UDP"
          ? RegistryServer.makeUdpServer({ port: 0 })
          : RegistryServer.makeTcpServer({ port: 0 }))
        const registryPort = registry.address.port
        const server = yield* spawn(process.execPath, [
          ...CLI,
          "--port",
          "0",
          "--register",
          "--registry-type",
          mode.toLowerCase(), // matched in any case, as RPyC's plumbum Set
          "--registry-host",
          LOOPBACK,
          "--registry-port",
          String(registryPort)
        ])
        const port = Number(
          (yield* server.waitFor(/server started on \[127\.0\.0\.1\]:(\d+)/, { timeout: "60 seconds" }))[1]
        )
        const registrar = yield* (mode === "UDP"
          ? RegistryClient.makeUdp({ host: LOOPBACK, port: registryPort })
          : RegistryClient.makeTcp({ host: LOOPBACK, port: registryPort }))
        const found = yield* eventually(registrar.discover("SLAVE"), (s) => s.length > 0, { timeout: "20 seconds" })
        assert.deepStrictEqual(found, [{ host: LOOPBACK, port }])
        server.process.kill("SIGTERM")
        yield* eventually(registrar.discover("SLAVE"), (s) => s.length === 0, { timeout: "20 seconds" })
      }), 120_000)
  }

  it.scopedLive("TCP without --registry-host is a usage error (exit 2)", () =>
    Effect.gen(function*() {
      const server = yield* spawn(process.execPath, [...CLI, "--port", "0", "--register", "--registry-type", "TCP"])
      const exit = yield* server.exit
      assert.strictEqual(exit.code, 2)
      assert.match(server.stderr(), /--registry-host is required with --registry-type TCP/)
    }), 120_000)
})
