import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Scope from "effect/Scope"
import * as Fs from "node:fs"
import * as Path from "node:path"
import * as Client from "../../src/client/Client.js"
import * as Transports from "../../src/client/Transports.js"
import * as Logging from "../../src/Logging.js"
import * as Forking from "../../src/server/Forking.js"
import * as OneShot from "../../src/server/OneShot.js"
import * as Server from "../../src/server/Server.js"
import { isAlive, TSX } from "../support/Child.js"
import { eventually } from "../support/Eventually.js"
import { clientFiles, makePki, type Pki, serverFiles } from "../support/Pki.js"
import { tempDir } from "../support/TempDir.js"
import { DoublerService, ModesTestService } from "./fixtures/services.js"
import { fixture, TIMEOUT } from "./support.js"

let pki: Pki
beforeAll(() => {
  pki = makePki()
})
afterAll(() => pki?.cleanup())

/** Collects the RPyC-style log lines of the effect under test. */
const withLogs = () => {
  const lines: Array<string> = []
  return { lines, layer: Logging.layer((line) => void lines.push(line)) }
}

const servicesModule = fixture("services.ts")

describe("threaded (TCP) and Unix socket", () => {
  it.scopedLive("Server.make over TCP serves calls", () =>
    Effect.gen(function*() {
      const server = yield* Server.make(ModesTestService, { port: 0 })
      const conn = yield* Client.connect({ port: server.port! })
      assert.strictEqual(yield* conn.root.add(2, 3), 5)
      assert.strictEqual(yield* conn.root.get_service_name(), "MODESTEST")
    }))

  it.scopedLive("unixConnect talks to a server listening on socketPath", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir()
      const path = Path.join(dir, "classic.sock")
      const server = yield* Server.make(ModesTestService, { socketPath: path })
      assert.deepStrictEqual(server.address, { _tag: "UnixAddress", path })
      const conn = yield* Transports.unixConnect(path)
      assert.strictEqual(yield* conn.root.add(40, 2), 42)
      assert.strictEqual(server.connections.size, 1)
    }))

  it.scopedLive("unixConnect to a missing socket fails with an Open error", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir()
      const error = yield* Effect.flip(Transports.unixConnect(Path.join(dir, "nobody.sock")))
      assert.strictEqual(error._tag, "SocketError")
    }))
})

describe("TLS", () => {
  it.scopedLive("without a CA: encrypted, no client certificate, credentials undefined", () =>
    Effect.gen(function*() {
      const server = yield* Server.make(ModesTestService, {
        tls: { keyfile: pki.files.serverKey, certfile: pki.files.serverCert }
      })
      const conn = yield* Transports.sslConnect({ port: server.port! })
      assert.strictEqual(yield* conn.root.add(1, 1), 2)
      assert.strictEqual(yield* conn.root.peer_cn(), null)
    }))

  it.scopedLive("the client verifies the server with cafile, and rejects an untrusted one", () =>
    Effect.gen(function*() {
      const server = yield* Server.make(ModesTestService, {
        tls: { key: pki.read(pki.files.serverKey), cert: pki.read(pki.files.serverCert) }
      })
      const conn = yield* Transports.sslConnect({ port: server.port!, cafile: pki.files.ca })
      assert.strictEqual(yield* conn.root.add(1, 2), 3)
      const refused = yield* Effect.flip(Transports.sslConnect({ port: server.port!, cafile: pki.files.otherCa }))
      assert.strictEqual(refused._tag, "SocketError")
    }))

  it.scopedLive("with a CA: a client certificate is required and lands in credentials", () =>
    Effect.gen(function*() {
      const logs = withLogs()
      const server = yield* Server.make(ModesTestService, {
        tls: {
          keyfile: pki.files.serverKey,
          certfile: pki.files.serverCert,
          cafile: pki.files.ca
        }
      }).pipe(Effect.provide(logs.layer))
      const conn = yield* Transports.sslConnect({
        port: server.port!,
        keyfile: pki.files.clientKey,
        certfile: pki.files.clientCert,
        cafile: pki.files.ca
      })
      assert.strictEqual(yield* conn.root.peer_cn(), "client-1")

      // no certificate, or one from another CA: refused (at connect, or at the first call under TLS 1.3)
      for (const client of [{}, { keyfile: pki.files.otherClientKey, certfile: pki.files.otherClientCert }]) {
        const attempt = yield* Effect.exit(
          Effect.scoped(
            Effect.flatMap(Transports.sslConnect({ port: server.port!, ...client }), (c) => c.root.add(1, 1))
          )
        )
        assert.isTrue(Exit.isFailure(attempt), JSON.stringify(client))
      }
      yield* eventually(() => logs.lines.some((l) => l.includes("failed to authenticate")), "the refusal is logged", {
        timeout: "120 seconds"
      })
    }))

  it.scopedLive("unreadable or invalid key material fails at startup", () =>
    Effect.gen(function*() {
      const missing = yield* Effect.flip(
        Server.make(ModesTestService, { tls: { keyfile: "/nonexistent/key.pem", certfile: pki.files.serverCert } })
      )
      assert.match(String(missing.cause), /nonexistent/)
      const invalid = yield* Effect.flip(
        Server.make(ModesTestService, { tls: { key: "not a key", cert: pki.read(pki.files.serverCert) } })
      )
      assert.strictEqual(invalid._tag, "SocketServerError")
      const noCert = yield* Effect.flip(Server.make(ModesTestService, { tls: { keyfile: pki.files.serverKey } }))
      assert.match(String(noCert.cause), /key and a certificate/)
    }))
})

describe("one-shot", () => {
  it.scopedLive("serves exactly one connection, then closes the listener", () =>
    Effect.gen(function*() {
      const logs = withLogs()
      const server = yield* OneShot.make(ModesTestService, { port: 0 }).pipe(Effect.provide(logs.layer))
      const done = yield* Effect.fork(server.done)
      yield* Effect.scoped(Effect.gen(function*() {
        const conn = yield* Client.connect({ port: server.port! })
        assert.strictEqual(yield* conn.root.add(20, 22), 42)
        // a second client meanwhile is not served
        const second = yield* Effect.exit(
          Effect.scoped(Effect.flatMap(Client.connect({ port: server.port! }), (c) => c.root.add(1, 1)))
        )
        assert.isTrue(Exit.isFailure(second))
        yield* conn.close()
      }))
      yield* Fiber.join(done)
      const after = yield* Effect.exit(Effect.scoped(Client.connect({ port: server.port! })))
      assert.isTrue(Exit.isFailure(after), "the listener is closed")
      const text = logs.lines.join("")
      for (
        const line of [
          "server started on [127.0.0.1]",
          "accepted 127.0.0.1:",
          "welcome 127.0.0.1:",
          "goodbye 127.0.0.1:",
          "listener closed"
        ]
      ) {
        assert.include(text, line)
      }
    }))

  it.scopedLive("over TLS with a client certificate", () =>
    Effect.gen(function*() {
      const server = yield* OneShot.make(ModesTestService, {
        port: 0,
        tls: serverFiles(pki)
      })
      yield* Effect.scoped(Effect.gen(function*() {
        const conn = yield* Transports.sslConnect({
          port: server.port!,
          keyfile: pki.files.clientKey,
          certfile: pki.files.clientCert
        })
        assert.strictEqual(yield* conn.root.peer_cn(), "client-1")
      }))
      yield* server.done
    }))

  it.scopedLive("closing the scope early closes the one-shot server", () =>
    Effect.gen(function*() {
      const scope = yield* Scope.make()
      const server = yield* OneShot.make(ModesTestService, { port: 0 }).pipe(Scope.extend(scope))
      yield* Scope.close(scope, Exit.void)
      yield* server.done
      assert.isTrue(Exit.isFailure(yield* Effect.exit(Effect.scoped(Client.connect({ port: server.port! })))))
    }))
})

describe("stdio and subprocess", () => {
  it.scopedLive(
    "connectSubproc talks to a serveStdio child; its console output does not corrupt the stream",
    () =>
      Effect.gen(function*() {
        let stderr = ""
        const conn = yield* Transports.connectSubproc(process.execPath, [...TSX, fixture("stdio-server.ts")], {
          stderr: (chunk) => {
            stderr += new TextDecoder().decode(chunk)
          }
        })
        assert.strictEqual(yield* conn.root.add(2, 2), 4)
        assert.strictEqual(yield* conn.root.noisy("abc"), "ABC")
        assert.strictEqual(yield* conn.root.noisy("def"), "DEF")
        assert.strictEqual(yield* conn.root.add(3, 3), 6)
        assert.deepStrictEqual(yield* conn.root.endpoints(), ["stdio", "stdio"])
        const pid = (yield* conn.root.pid()) as number
        assert.notStrictEqual(pid, process.pid)
        yield* conn.close()
        // the child sees EOF and exits on its own
        yield* eventually(() => !isAlive(pid), "the stdio server exited", { timeout: "120 seconds" })
        assert.include(stderr, "noise from console.log: abc")
        assert.include(stderr, "noise from process.stdout.write: def")
      }),
    TIMEOUT
  )

  it.scopedLive("closing the scope kills the subprocess", () =>
    Effect.gen(function*() {
      const scope = yield* Scope.make()
      const conn = yield* Transports.connectSubproc(process.execPath, [...TSX, fixture("stdio-server.ts")], {
        stderr: "ignore"
      })
        .pipe(Scope.extend(scope))
      const pid = (yield* conn.root.pid()) as number
      assert.isTrue(isAlive(pid))
      yield* Scope.close(scope, Exit.void)
      assert.isFalse(isAlive(pid))
      assert.isTrue(conn.closed)
    }), TIMEOUT)

  it.scopedLive("a command that cannot start fails with an Open error", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(Transports.connectSubproc("/nonexistent/rpyc-server"))
      assert.strictEqual(error._tag, "SocketError")
    }))
})

describe("connectThread", () => {
  it.scopedLive("an in-process server and client, both ways", () =>
    Effect.gen(function*() {
      const conn = yield* Transports.connectThread(ModesTestService, { service: DoublerService })
      assert.strictEqual(yield* conn.root.add(5, 6), 11)
      assert.strictEqual(yield* conn.root.pid(), process.pid)
      // the server calls back into the client's service
      assert.strictEqual(yield* conn.root.call_back(21), 42)
      assert.strictEqual(yield* conn.root.get_service_name(), "MODESTEST")
    }))

  it.scopedLive("defaults to VoidService on both sides; the scope closes both", () =>
    Effect.gen(function*() {
      const scope = yield* Scope.make()
      const conn = yield* Transports.connectThread().pipe(Scope.extend(scope))
      assert.strictEqual(yield* conn.root.get_service_name(), "VOID")
      yield* Scope.close(scope, Exit.void)
      assert.isTrue(conn.closed)
    }))
})

describe("forking", () => {
  it.scopedLive(
    "every connection is served by its own worker process, which exits with it",
    () =>
      Effect.gen(function*() {
        const logs = withLogs()
        const server = yield* Forking.make({ module: servicesModule, export: "ModesTestService" }, { port: 0 })
          .pipe(Effect.provide(logs.layer))
        assert.strictEqual(server.serviceName, "MODESTEST")
        const clientA = yield* Scope.make()
        const clientB = yield* Scope.make()
        // v5 as before: the default "auto" would send a probe connection, which forks a worker too
        const a = yield* Client.connect({ port: server.port!, wireVersion: 5 }).pipe(Scope.extend(clientA))
        const b = yield* Client.connect({ port: server.port!, wireVersion: 5 }).pipe(Scope.extend(clientB))
        const [pidA, pidB] = (yield* Effect.all([a.root.pid(), b.root.pid()], { concurrency: 2 })) as [number, number]
        assert.notStrictEqual(pidA, pidB)
        assert.notStrictEqual(pidA, process.pid)
        assert.notStrictEqual(pidB, process.pid)
        assert.strictEqual(yield* a.root.add(1, 2), 3)
        assert.strictEqual(yield* b.root.add(3, 4), 7)
        assert.deepStrictEqual([...server.workers].sort(), [pidA, pidB].sort())
        const endpoints = (yield* a.root.endpoints()) as [string, string]
        assert.match(endpoints[1], /^127\.0\.0\.1:\d+$/)

        yield* Scope.close(clientA, Exit.void)
        yield* eventually(() => !isAlive(pidA) && !server.workers.has(pidA), "worker A exited", {
          timeout: "120 seconds"
        })
        assert.isTrue(isAlive(pidB))
        assert.strictEqual(yield* b.root.add(5, 5), 10)
        yield* Scope.close(clientB, Exit.void)
        yield* eventually(() => !isAlive(pidB) && server.workers.size === 0, "worker B exited", {
          timeout: "120 seconds"
        })

        yield* eventually(
          () => logs.lines.filter((l) => l.includes("goodbye 127.0.0.1:")).length === 2,
          "two goodbyes",
          {
            timeout: "120 seconds"
          }
        )
        const text = logs.lines.join("")
        assert.include(text, `INFO:MODESTEST/${server.port}:server started on [127.0.0.1]:${server.port}`)
        assert.strictEqual(logs.lines.filter((l) => l.includes("accepted 127.0.0.1:")).length, 2)
        // "welcome" is logged by the workers and relayed through the parent's logger
        assert.strictEqual(
          logs.lines.filter((l) => l.includes(`INFO:MODESTEST/${server.port}:welcome 127.0.0.1:`)).length,
          2
        )
      }),
    TIMEOUT
  )

  it.scopedLive("closing the server terminates its workers and their connections", () =>
    Effect.gen(function*() {
      const serverScope = yield* Scope.make()
      const server = yield* Forking.make({ module: servicesModule, export: "ModesTestService" }, { port: 0 })
        .pipe(Effect.provide(Logging.layer(() => {})), Scope.extend(serverScope))
      const conn = yield* Client.connect({ port: server.port! })
      const pid = (yield* conn.root.pid()) as number
      assert.isTrue(isAlive(pid))
      yield* Scope.close(serverScope, Exit.void)
      assert.isFalse(isAlive(pid))
      yield* conn.awaitClose
      assert.isTrue(conn.closed)
      assert.isTrue(Exit.isFailure(yield* Effect.exit(Effect.scoped(Client.connect({ port: server.port! })))))
    }), TIMEOUT)

  it.scopedLive("over a Unix socket and over TLS", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir()
      const path = Path.join(dir, "forking.sock")
      const unix = yield* Forking.make({ module: servicesModule, export: "ModesTestService" }, { socketPath: path })
        .pipe(Effect.provide(Logging.layer(() => {})))
      assert.deepStrictEqual(unix.address, { _tag: "UnixAddress", path })
      const viaUnix = yield* Transports.unixConnect(path)
      assert.strictEqual(yield* viaUnix.root.add(1, 1), 2)
      assert.notStrictEqual(yield* viaUnix.root.pid(), process.pid)

      const tls = yield* Forking.make({ module: servicesModule, export: "ModesTestService" }, {
        port: 0,
        tls: serverFiles(pki)
      }).pipe(Effect.provide(Logging.layer(() => {})))
      const viaTls = yield* Transports.sslConnect({ port: tls.port!, ...clientFiles(pki) })
      assert.strictEqual(yield* viaTls.root.peer_cn(), "client-1")
      assert.notStrictEqual(yield* viaTls.root.pid(), process.pid)
      const refused = yield* Effect.exit(
        Effect.scoped(Effect.flatMap(Transports.sslConnect({ port: tls.port! }), (c) => c.root.add(1, 1)))
      )
      assert.isTrue(Exit.isFailure(refused))
      assert.isTrue(Fs.existsSync(path))
    }), TIMEOUT)

  it.scopedLive("a module without the export fails at startup", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(Forking.make({ module: servicesModule, export: "Nope" }))
      assert.match(String(error.cause), /no service export named Nope/)
    }))
})
