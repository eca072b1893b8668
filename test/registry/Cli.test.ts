/**
 * The rpyc-registry CLI, run as a child process: `node --import tsx src/cli/rpyc-registry.ts ...`.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Fs from "node:fs"
import * as Path from "node:path"
import * as RegistryClient from "../../src/registry/RegistryClient.js"
import { spawn, tsx } from "../support/Child.js"
import { tempDir } from "../support/TempDir.js"

const LOOPBACK = "127.0.0.1"

const cli = (...args: ReadonlyArray<string>) => spawn(...tsx("src/cli/rpyc-registry.ts", ...args))

const started = (mode: "UDP" | "TCP") => new RegExp(`${mode} registry listening on 127\\.0\\.0\\.1:(\\d+)`)

// each run starts node + tsx (~2.5 s of CPU): one at a time, with room for a loaded machine
const TIMEOUT = 90_000
const STARTUP = "60 seconds"

describe.sequential("rpyc-registry CLI", () => {
  it.scopedLive(
    "UDP: prints the bound port, answers, logs like RPyC, exits cleanly on SIGTERM",
    () =>
      Effect.gen(function*() {
        const proc = yield* cli("--port", "0", "--mode", "UDP")
        const port = Number((yield* proc.waitFor(started("UDP"), { timeout: STARTUP }))[1])
        assert.isAbove(port, 0)
        assert.match(proc.stdout(), started("UDP"))
        const registrar = yield* RegistryClient.makeUdp({ host: LOOPBACK, port })
        assert.deepStrictEqual(yield* registrar.discover("foo"), [])
        yield* registrar.register(["FOO", "BAR"], 18861)
        assert.deepStrictEqual(yield* registrar.discover("foo"), [{ host: LOOPBACK, port: 18861 }])
        // listing is off unless --listing
        assert.deepStrictEqual(yield* registrar.list(), Option.none())
        yield* proc.waitFor(/DEBUG REGSRV\/UDP\/\d+: server started on 127\.0\.0\.1:\d+/)
        yield* proc.waitFor(/registering 127\.0\.0\.1:18861 as FOO, BAR/)
        yield* proc.waitFor(/querying for 'FOO'/)
        yield* proc.waitFor(/listing is disabled/)
        proc.process.kill("SIGTERM")
        const exit = yield* proc.exit
        assert.deepStrictEqual(exit, { code: 0, signal: null })
        assert.match(proc.stderr(), /server closed/)
      }),
    TIMEOUT
  )

  it.scopedLive("TCP with --listing, lower-case mode, SIGINT", () =>
    Effect.gen(function*() {
      const proc = yield* cli("-m", "tcp", "-p", "0", "--listing", "-t", "60")
      const port = Number((yield* proc.waitFor(started("TCP"), { timeout: STARTUP }))[1])
      const registrar = yield* RegistryClient.makeTcp({ host: LOOPBACK, port })
      yield* registrar.register(["CALC"], 18862)
      assert.deepStrictEqual(yield* registrar.list(), Option.some(["CALC"]))
      proc.process.kill("SIGINT")
      assert.deepStrictEqual(yield* proc.exit, { code: 0, signal: null })
    }), TIMEOUT)

  it.scopedLive(
    "--quiet logs nothing but still prints the address; --logfile receives the log",
    () =>
      Effect.gen(function*() {
        const dir = yield* tempDir("rpyc-registry-")
        const logfile = Path.join(dir, "registry.log")
        const quiet = yield* cli("--port", "0", "-q")
        const logged = yield* cli("--port", "0", "--logfile", logfile)
        const quietPort = Number((yield* quiet.waitFor(started("UDP"), { timeout: STARTUP }))[1])
        const loggedPort = Number((yield* logged.waitFor(started("UDP"), { timeout: STARTUP }))[1])
        yield* (yield* RegistryClient.makeUdp({ host: LOOPBACK, port: quietPort })).discover("x")
        yield* (yield* RegistryClient.makeUdp({ host: LOOPBACK, port: loggedPort })).discover("x")
        quiet.process.kill("SIGTERM")
        logged.process.kill("SIGTERM")
        yield* quiet.exit
        yield* logged.exit
        assert.strictEqual(quiet.stderr(), "")
        assert.strictEqual(logged.stderr(), "")
        const log = Fs.readFileSync(logfile, "utf8")
        assert.match(log, /server started on/)
        assert.match(log, /querying for 'X'/)
        assert.match(log, /server closed/)
      }),
    TIMEOUT
  )

  it.scopedLive("--mode bogus exits 2 (a usage error) with a clear message", () =>
    Effect.gen(function*() {
      const proc = yield* cli("--mode", "bogus", "--port", "0")
      const exit = yield* proc.exit
      assert.strictEqual(exit.code, 2)
      assert.match(proc.stderr() + proc.stdout(), /--mode must be UDP or TCP/)
      assert.notMatch(proc.stdout(), /listening/)
    }), TIMEOUT)

  it.scopedLive("a port in use exits 1 naming the address and the reason", () =>
    Effect.gen(function*() {
      const first = yield* cli("--port", "0", "--mode", "TCP")
      const port = (yield* first.waitFor(started("TCP"), { timeout: STARTUP }))[1]!
      const second = yield* cli("--port", port, "--mode", "TCP")
      const exit = yield* second.exit
      assert.strictEqual(exit.code, 1)
      assert.strictEqual(
        second.stderr(),
        `rpyc-registry: cannot listen on 127.0.0.1:${port}/tcp: address already in use (EADDRINUSE)\n`
      )
    }), TIMEOUT)
})
