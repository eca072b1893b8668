/**
 * The `rpyc-classic` CLI (src/cli/rpyc-classic.ts), run as a child process through tsx, in every mode
 * and transport, plus the classic connection factories against the TypeScript classic server.
 */
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Scope from "effect/Scope"
import * as Fs from "node:fs"
import * as Net from "node:net"
import * as Path from "node:path"
import * as Classic from "../../src/classic/Classic.js"
import * as ClassicTransports from "../../src/classic/Transports.js"
import * as Client from "../../src/client/Client.js"
import { isAlive, ROOT, run, TSX } from "../support/Child.js"
import { eventually } from "../support/Eventually.js"
import { makePki, type Pki } from "../support/Pki.js"
import { PYTHON, runPythonTests } from "../support/Python.js"
import { tempDir } from "../support/TempDir.js"
import { CHILD_TIMEOUT, CLI, runCli, spawnCli, TIMEOUT } from "./support.js"

let pki: Pki
beforeAll(() => {
  pki = makePki()
})
afterAll(() => pki?.cleanup())

const STARTED = /server started on \[([^\]]+)\]:(\d+)/

/** Starts the CLI and waits for its `server started on [host]:port` line; returns the child and port. */
const startServer = (...args: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    const child = yield* spawnCli(...args)
    const match = yield* child.waitFor(STARTED, "stderr")
    return { child, host: match[1], port: Number(match[2]) }
  })

const version = (JSON.parse(Fs.readFileSync(Path.join(ROOT, "package.json"), "utf8")) as { version: string }).version

describe("rpyc-classic: flags", () => {
  it.live("--help lists every flag; --version prints the package version", () =>
    Effect.gen(function*() {
      const [help, versionRun] = yield* Effect.all([runCli("--help"), runCli("--version")], { concurrency: 2 })
      assert.strictEqual(help.code, 0, help.stderr)
      for (
        const flag of [
          "--mode",
          "threaded",
          "forking",
          "oneshot",
          "stdio",
          "--host",
          "--port",
          "--ipv6",
          "--socket-path",
          "--logfile",
          "--quiet",
          "--ssl-keyfile",
          "--ssl-certfile",
          "--ssl-cafile",
          "--help",
          "--version"
        ]
      ) {
        assert.include(help.stdout, flag)
      }
      assert.strictEqual(versionRun.code, 0)
      assert.strictEqual(versionRun.stdout.trim(), version)
    }), TIMEOUT)

  it.live(
    "bad flags: a clear message; exit code 2 for usage errors, 1 for an unreadable file",
    () =>
      Effect.gen(function*() {
        const cases: ReadonlyArray<readonly [ReadonlyArray<string>, RegExp, number]> = [
          [["--mode", "bogus"], /threaded, forking, oneshot, stdio/, 2],
          [["--port", "70000"], /70000/, 2],
          [["--workers", "2"], /rpyc-classic: --workers needs --mode pool/, 2],
          [["--mode", "pool", "--workers", "0"], /--workers must be an integer from 1 to 1024/, 2],
          [["--no-such-flag"], /no-such-flag/, 2],
          [["--ssl-keyfile", "/nonexistent/key.pem", "--ssl-certfile", pki.files.serverCert], /nonexistent/, 1],
          [["--ssl-keyfile", pki.files.serverKey], /rpyc-classic: --ssl-keyfile requires --ssl-certfile/, 2],
          [["--socket-path", "/tmp/x.sock", "--port", "1234"], /rpyc-classic: --socket-path cannot be combined/, 2]
        ]
        const results = yield* Effect.forEach(cases, ([args]) => runCli(...args), { concurrency: 2 })
        results.forEach((result, i) => {
          const [args, message, code] = cases[i]
          assert.strictEqual(result.code, code, `${args.join(" ")}: ${result.stdout}${result.stderr}`)
          assert.match(result.stdout + result.stderr, message, args.join(" "))
          assert.notInclude(result.stderr, "Fiber terminated", "errors are reported once")
          assert.strictEqual(result.stderr.trimEnd().split("\n").length, 1, "one line")
        })
      }),
    TIMEOUT
  )
})

describe("rpyc-classic: threaded", () => {
  it.scopedLive("serves ClassicService over TCP and logs like RPyC", () =>
    Effect.gen(function*() {
      const { child, host, port } = yield* startServer("--port", "0")
      assert.strictEqual(host, "127.0.0.1")
      yield* Effect.scoped(Effect.gen(function*() {
        const c = yield* Classic.connect("127.0.0.1", port)
        assert.strictEqual(c.peer, "js")
        assert.strictEqual(yield* c.eval("1+1"), 2)
        assert.strictEqual(yield* c.eval("process.pid"), child.pid)
        assert.strictEqual(yield* c.root.get_service_name(), "SLAVE")
        // the raw client too: root.eval over a plain connection
        const raw = yield* Client.connect({ port })
        assert.strictEqual(yield* raw.root.eval("6*7"), 42)
      }))
      yield* child.waitFor(/goodbye 127\.0\.0\.1:\d+[\s\S]*goodbye 127\.0\.0\.1:\d+/, "stderr")
      const log = child.stderr()
      assert.include(log, `INFO:SLAVE/${port}:server started on [127.0.0.1]:${port}`)
      assert.match(log, new RegExp(`INFO:SLAVE/${port}:accepted 127\\.0\\.0\\.1:\\d+`))
      assert.match(log, new RegExp(`INFO:SLAVE/${port}:welcome 127\\.0\\.0\\.1:\\d+`))
      assert.strictEqual(child.stdout(), "")

      // a second server on the same port: a clear message, exit code 1
      const second = yield* runCli("--port", String(port))
      assert.strictEqual(second.code, 1)
      assert.strictEqual(
        second.stderr,
        `rpyc-classic: cannot listen on 127.0.0.1:${port}: address already in use (EADDRINUSE)\n`
      )
    }), TIMEOUT)

  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    it.scopedLive(`${signal} closes the server and its connections, exit code 0`, () =>
      Effect.gen(function*() {
        const { child, port } = yield* startServer("--port", "0")
        const c = yield* Classic.connect("127.0.0.1", port)
        assert.strictEqual(yield* c.eval("2+3"), 5)
        child.process.kill(signal)
        const status = yield* child.exit
        assert.deepStrictEqual(status, { code: 0, signal: null })
        yield* c.awaitClose
        assert.isTrue(c.closed)
        yield* child.waitFor(/server has terminated/, "stderr")
        assert.isTrue(Exit.isFailure(yield* Effect.exit(Effect.scoped(Client.connect({ port })))))
      }), TIMEOUT)
  }

  it.scopedLive("--quiet logs only errors", () =>
    Effect.gen(function*() {
      // quiet hides "server started", so the port comes from oneshot's stdout
      const child = yield* spawnCli("--mode", "oneshot", "--port", "0", "--quiet")
      const [, , port] = yield* child.waitFor(/rpyc-oneshot\n(\S+)\t(\d+)\n/, "stdout")
      yield* Effect.scoped(Effect.gen(function*() {
        const c = yield* Classic.connect("127.0.0.1", Number(port))
        assert.strictEqual(yield* c.eval("1"), 1)
      }))
      assert.strictEqual((yield* child.exit).code, 0)
      assert.notMatch(child.stderr(), /INFO|DEBUG/)
    }), TIMEOUT)

  it.scopedLive("--logfile appends the log lines to a file", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir()
      const logfile = Path.join(dir, "server.log")
      Fs.writeFileSync(logfile, "existing line\n")
      const child = yield* spawnCli("--mode", "oneshot", "--port", "0", "--logfile", logfile)
      const [, , port] = yield* child.waitFor(/rpyc-oneshot\n(\S+)\t(\d+)\n/, "stdout")
      yield* Effect.scoped(Effect.gen(function*() {
        const c = yield* Classic.connect("127.0.0.1", Number(port))
        assert.strictEqual(yield* c.eval("'x'.repeat(3)"), "xxx")
      }))
      assert.strictEqual((yield* child.exit).code, 0)
      const log = Fs.readFileSync(logfile, "utf8")
      assert.isTrue(log.startsWith("existing line\n"))
      for (
        const line of [
          "server started on [127.0.0.1]:",
          "accepted 127.0.0.1:",
          "welcome 127.0.0.1:",
          "goodbye 127.0.0.1:",
          "server has terminated"
        ]
      ) {
        assert.include(log, line)
      }
      assert.notInclude(child.stderr(), "server started")
    }), TIMEOUT)
})

describe("rpyc-classic: oneshot", () => {
  it.scopedLive("prints the two lines, serves one client, exits 0", () =>
    Effect.gen(function*() {
      const child = yield* spawnCli("--mode", "oneshot", "--port", "0")
      const [, host, port] = yield* child.waitFor(/rpyc-oneshot\n(\S+)\t(\d+)\n/, "stdout")
      assert.strictEqual(host, "127.0.0.1")
      assert.strictEqual(child.stdout(), `rpyc-oneshot\n127.0.0.1\t${port}\n`)
      yield* Effect.scoped(Effect.gen(function*() {
        const c = yield* Classic.connect("127.0.0.1", Number(port))
        yield* c.execute("globalThis.answer = 42")
        assert.strictEqual(yield* c.eval("answer"), 42)
      }))
      assert.deepStrictEqual(yield* child.exit, { code: 0, signal: null })
      assert.strictEqual(child.stdout(), `rpyc-oneshot\n127.0.0.1\t${port}\n`)
      assert.match(child.stderr(), /goodbye 127\.0\.0\.1:\d+/)
    }), TIMEOUT)
})

describe("rpyc-classic: IPv6", () => {
  let ipv6 = false
  beforeAll(() =>
    new Promise<void>((resolve) => {
      const server = Net.createServer().listen(0, "::1", () => {
        ipv6 = true
        server.close(() => resolve())
      }).on("error", () => resolve())
    })
  )

  it.scopedLive("--ipv6 binds ::1 by default", (ctx) =>
    Effect.gen(function*() {
      if (!ipv6) return ctx.skip("no IPv6 loopback here")
      const child = yield* spawnCli("--mode", "oneshot", "--ipv6", "--port", "0")
      const [, host, port] = yield* child.waitFor(/rpyc-oneshot\n(\S+)\t(\d+)\n/, "stdout")
      assert.strictEqual(host, "::1")
      yield* Effect.scoped(Effect.gen(function*() {
        const c = yield* Classic.connect("::1", Number(port), { ipv6: true })
        assert.strictEqual(yield* c.eval("'v' + 6"), "v6")
      }))
      assert.strictEqual((yield* child.exit).code, 0)
      assert.include(child.stderr(), `server started on [::1]:${port}`)
    }), TIMEOUT)
})

describe("rpyc-classic: Unix socket and TLS", () => {
  it.scopedLive("--socket-path with classic unixConnect", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir()
      const path = Path.join(dir, "classic.sock")
      const child = yield* spawnCli("--socket-path", path)
      yield* child.waitFor(new RegExp(`server started on ${path.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}`), "stderr")
      const c = yield* ClassicTransports.unixConnect(path)
      assert.strictEqual(yield* c.eval("3*3"), 9)
      child.process.kill("SIGTERM")
      assert.strictEqual((yield* child.exit).code, 0)
      yield* c.awaitClose
      assert.isFalse(Fs.existsSync(path), "the socket file is removed")
    }), TIMEOUT)

  it.scopedLive("TLS without a CA: encrypted, any client", () =>
    Effect.gen(function*() {
      const { port } = yield* startServer(
        "--port",
        "0",
        "--ssl-keyfile",
        pki.files.serverKey,
        "--ssl-certfile",
        pki.files.serverCert
      )
      const c = yield* ClassicTransports.sslConnect("127.0.0.1", port, { cafile: pki.files.ca })
      assert.strictEqual(yield* c.eval("'tls'.toUpperCase()"), "TLS")
      // a plain TCP client gets nothing
      const plain = yield* Effect.exit(
        Effect.scoped(Effect.flatMap(Client.connect({ port }), (conn) => conn.root.eval("1")))
      )
      assert.isTrue(Exit.isFailure(plain))
    }), TIMEOUT)

  it.scopedLive("TLS with --ssl-cafile: client certificates are required and verified", () =>
    Effect.gen(function*() {
      const { child, port } = yield* startServer(
        "--port",
        "0",
        "--ssl-keyfile",
        pki.files.serverKey,
        "--ssl-certfile",
        pki.files.serverCert,
        "--ssl-cafile",
        pki.files.ca
      )
      const c = yield* ClassicTransports.sslConnect("127.0.0.1", port, {
        keyfile: pki.files.clientKey,
        certfile: pki.files.clientCert,
        cafile: pki.files.ca
      })
      assert.strictEqual(yield* c.eval("1+2"), 3)
      // the client certificate is in the server-side connection's credentials
      assert.strictEqual(yield* c.root.getconn().config.credentials.subject.CN, "client-1")
      for (const client of [{}, { keyfile: pki.files.otherClientKey, certfile: pki.files.otherClientCert }]) {
        const refused = yield* Effect.exit(
          Effect.scoped(
            Effect.flatMap(ClassicTransports.sslConnect("127.0.0.1", port, client), (conn) => conn.eval("1"))
          )
        )
        assert.isTrue(Exit.isFailure(refused), JSON.stringify(client))
      }
      yield* child.waitFor(/failed to authenticate/, "stderr")
    }), TIMEOUT)
})

describe("rpyc-classic: stdio, subprocess, thread", () => {
  it.scopedLive(
    "--mode stdio over the child's pipes; console output in served code does not corrupt the stream",
    () =>
      Effect.gen(function*() {
        let stderr = ""
        const c = yield* ClassicTransports.connectSubproc(process.execPath, [...TSX, CLI, "--mode", "stdio"], {
          stderr: (chunk) => {
            stderr += new TextDecoder().decode(chunk)
          }
        })
        assert.strictEqual(yield* c.eval("1+1"), 2)
        yield* c.execute("console.log('noise from console.log'); process.stdout.write('noise from stdout.write\\n')")
        assert.strictEqual(yield* c.eval("console.log('more noise'), 'after'"), "after")
        assert.strictEqual(yield* c.eval("[1, 2, 3].map((x) => x * 2).join(',')"), "2,4,6")
        const pid = (yield* c.eval("process.pid")) as number
        yield* c.close()
        // EOF on its stdin: the server exits on its own
        yield* eventually(() => !isAlive(pid), "the stdio server exited", { timeout: "120 seconds" })
        assert.include(stderr, "noise from console.log")
        assert.include(stderr, "noise from stdout.write")
      }),
    TIMEOUT
  )

  it.scopedLive(
    "classic connectSubproc() spawns rpyc-classic --mode stdio and kills it on close",
    () =>
      Effect.gen(function*() {
        const scope = yield* Scope.make()
        const c = yield* ClassicTransports.connectSubproc().pipe(Scope.extend(scope))
        const pid = (yield* c.eval("process.pid")) as number
        assert.notStrictEqual(pid, process.pid)
        assert.strictEqual(yield* c.modules.path.basename("/a/b/c.txt"), "c.txt")
        assert.isTrue(isAlive(pid))
        yield* Scope.close(scope, Exit.void)
        assert.isFalse(isAlive(pid))
      }),
    TIMEOUT
  )

  it.scopedLive("classic connectThread(): a classic server in this process", () =>
    Effect.gen(function*() {
      const c = yield* ClassicTransports.connectThread()
      assert.strictEqual(yield* c.eval("process.pid"), process.pid)
      yield* c.execute("var counter = 10")
      assert.strictEqual(yield* c.eval("counter + 1"), 11)
      assert.strictEqual(yield* c.root.get_service_name(), "SLAVE")
    }))

  it.live("classic factories are awaitable too", () =>
    Effect.promise(async () => {
      const c = await ClassicTransports.connectThread()
      assert.strictEqual(await c.eval("2**10"), 1024)
      await c.close()
      assert.isTrue(c.closed)
    }))
})

describe("rpyc-classic: forking", () => {
  it.scopedLive(
    "two clients are served by two different worker processes; workers go away",
    () =>
      Effect.gen(function*() {
        const { child, port } = yield* startServer("--mode", "forking", "--port", "0")
        const scopeA = yield* Scope.make()
        const scopeB = yield* Scope.make()
        // the dialect pinned: a wire-version probe would be one more accepted connection to count
        const a = yield* Classic.connect("127.0.0.1", port, { wireVersion: 5 }).pipe(Scope.extend(scopeA))
        const b = yield* Classic.connect("127.0.0.1", port, { wireVersion: 5 }).pipe(Scope.extend(scopeB))
        const pidA = (yield* a.eval("process.pid")) as number
        const pidB = (yield* b.eval("process.pid")) as number
        assert.notStrictEqual(pidA, pidB)
        assert.notStrictEqual(pidA, child.pid)
        assert.notStrictEqual(pidB, child.pid)
        // separate processes: separate globals
        yield* a.execute("globalThis.mark = 'a'")
        assert.strictEqual(yield* b.eval("typeof globalThis.mark"), "undefined")

        yield* Scope.close(scopeA, Exit.void)
        yield* eventually(() => !isAlive(pidA), "worker A exited", { timeout: "120 seconds" })
        assert.strictEqual(yield* b.eval("7*6"), 42)
        // the parent says goodbye once it has seen the worker's exit, which may come after we did
        yield* eventually(() => /goodbye 127\.0\.0\.1:\d+/.test(child.stderr()), "the server said goodbye to A")

        // SIGTERM with B still connected: the worker closes its connection and is gone
        child.process.kill("SIGTERM")
        assert.deepStrictEqual(yield* child.exit, { code: 0, signal: null })
        yield* b.awaitClose
        assert.isFalse(isAlive(pidB))
        const log = child.stderr()
        assert.strictEqual(log.match(/accepted 127\.0\.0\.1/g)?.length, 2)
        assert.strictEqual(log.match(/welcome 127\.0\.0\.1/g)?.length, 2)
        yield* Scope.close(scopeB, Exit.void)
      }),
    TIMEOUT
  )
})

describe.skipIf(!runPythonTests)("rpyc-classic: Python's classic client", () => {
  it.scopedLive("rpyc.classic.connect against rpyc-classic threaded", () =>
    Effect.gen(function*() {
      const { port } = yield* startServer("--port", "0")
      const script = [
        "import rpyc",
        `c = rpyc.classic.connect("127.0.0.1", ${port})`,
        "print(c.root.get_service_name())",
        "print(c.eval('1+1'))",
        "c.execute('globalThis.fromPython = [1, 2, 3].length')",
        "print(c.eval('fromPython'))",
        "print(c.modules.path.join('a', 'b'))",
        "c.close()"
      ].join("\n")
      const result = yield* run(PYTHON, ["-c", script], { timeout: CHILD_TIMEOUT })
      assert.strictEqual(result.code, 0, result.stderr)
      assert.deepStrictEqual(result.stdout.trim().split("\n"), ["SLAVE", "2", "3", "a/b"])
    }), TIMEOUT)

  it.live(
    "rpyc.connect_subproc runs rpyc-classic -q -m stdio (through the bin launcher)",
    () =>
      Effect.gen(function*() {
        const script = [
          "import rpyc, sys",
          "from rpyc.core.service import SlaveService",
          `c = rpyc.connect_subproc([${JSON.stringify(process.execPath)}, ${
            JSON.stringify(Path.join(ROOT, "bin/rpyc-classic.js"))
          }, "-q", "-m", "stdio"], SlaveService)`,
          "print(c.root.eval('[1, 2, 3].length'))",
          "c.root.execute('console.log(\"not on the wire\")')",
          "print(c.root.eval('process.argv.includes(\"stdio\")'))",
          "c.close()",
          "c.proc.wait()",
          "print(c.proc.returncode)"
        ].join("\n")
        const result = yield* run(PYTHON, ["-c", script], { timeout: CHILD_TIMEOUT })
        assert.strictEqual(result.code, 0, result.stderr)
        assert.deepStrictEqual(result.stdout.trim().split("\n"), ["3", "True", "0"])
        assert.include(result.stderr, "not on the wire")
      }),
    TIMEOUT
  )
})
