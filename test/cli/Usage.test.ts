/**
 * Both CLIs (`rpyc-classic`, `rpyc-registry`) as child processes: plain help with defaults, one-line
 * usage errors (exit 2), `--log-level` anywhere on the line, one-line failures to start (exit 1).
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Dgram from "node:dgram"
import * as Net from "node:net"
import * as Path from "node:path"
import * as Classic from "../../src/classic/Classic.js"
import * as RegistryClient from "../../src/registry/RegistryClient.js"
import { explain, ROOT, run, type RunResult, tsx } from "../support/Child.js"
import { CHILD_TIMEOUT, CLI, REGISTRY_CLI, runCli, runRegistry, spawnCli, spawnRegistry, TIMEOUT } from "./support.js"

const CLASSIC_FLAGS = [
  "--mode",
  "--workers",
  "--host",
  "--port",
  "--ipv6",
  "--socket-path",
  "--ssl-keyfile",
  "--ssl-certfile",
  "--ssl-cafile",
  "--register",
  "--registry-type",
  "--registry-port",
  "--registry-host",
  "--log-level",
  "--quiet",
  "--logfile",
  "--help",
  "--version"
]

const REGISTRY_FLAGS = [
  "--mode",
  "--host",
  "--port",
  "--ipv6",
  "--timeout",
  "--listing",
  "--log-level",
  "--quiet",
  "--logfile",
  "--help",
  "--version"
]

/** What @effect/cli printed on every flag, and its extras. */
const FILLER = [
  "A user-defined piece of text",
  "This setting is optional",
  "A true or false value",
  "An integer",
  "An existing file",
  "--wizard",
  "--completions"
]

/** A run that printed exactly `line` on stderr, nothing on stdout, and exited with `code`. */
const assertOneLine = (result: RunResult, code: number, line: string | RegExp, what: string) => {
  assert.strictEqual(result.code, code, `${what}: ${explain(result)}`)
  assert.strictEqual(result.stdout, "", what)
  if (typeof line === "string") assert.strictEqual(result.stderr, `${line}\n`, what)
  else {
    assert.match(result.stderr, line, what)
    assert.strictEqual(result.stderr.trimEnd().split("\n").length, 1, `${what}: one line\n${result.stderr}`)
  }
}

/** A TCP port held on 127.0.0.1 for the scope. */
const busyTcpPort = Effect.acquireRelease(
  Effect.async<Net.Server>((resume) => {
    const server = Net.createServer()
    server.listen(0, "127.0.0.1", () => resume(Effect.succeed(server)))
  }),
  (server) => Effect.async<void>((resume) => void server.close(() => resume(Effect.void)))
).pipe(Effect.map((server) => (server.address() as Net.AddressInfo).port))

/** A UDP port held on 127.0.0.1 for the scope. */
const busyUdpPort = Effect.acquireRelease(
  Effect.async<Dgram.Socket>((resume) => {
    const socket = Dgram.createSocket("udp4")
    socket.bind(0, "127.0.0.1", () => resume(Effect.succeed(socket)))
  }),
  (socket) => Effect.async<void>((resume) => void socket.close(() => resume(Effect.void)))
).pipe(Effect.map((socket) => socket.address().port))

describe("CLI help", () => {
  it.live(
    "--help: a usage line, one short line per flag with its default, no filler, no colour",
    () =>
      Effect.gen(function*() {
        // piped, and colour asked for as loudly as possible: still plain text
        const env = { NO_COLOR: undefined, FORCE_COLOR: "3" }
        const [classic, registry, short] = yield* Effect.all([
          run(...tsx(CLI, "--help"), { timeout: CHILD_TIMEOUT, env }),
          run(...tsx(REGISTRY_CLI, "--port", "0", "--help"), { timeout: CHILD_TIMEOUT, env }),
          runCli("-h")
        ], { concurrency: 3 })
        for (
          const [name, result, flags] of [["rpyc-classic", classic, CLASSIC_FLAGS], [
            "rpyc-registry",
            registry,
            REGISTRY_FLAGS
          ]] as const
        ) {
          assert.strictEqual(result.code, 0, explain(result))
          assert.strictEqual(result.stderr, "")
          assert.notInclude(result.stdout, "\x1b", `${name}: no terminal escapes`)
          assert.include(result.stdout, `Usage: ${name} [OPTIONS]`)
          for (const flag of flags) assert.match(result.stdout, new RegExp(`^ {2}(-\\w, | {4})${flag}\\b`, "m"), flag)
          for (const filler of FILLER) assert.notInclude(result.stdout, filler, `${name}: ${filler}`)
          assert.isBelow(result.stdout.split("\n").length, 45, `${name}: short`)
        }
        assert.strictEqual(short.stdout, classic.stdout)
        for (
          const pattern of [
            /-m, --mode MODE +threaded, forking, oneshot, stdio or pool \(default: threaded\)/,
            /--host ADDR +.*\(default: 127\.0\.0\.1, or ::1 with --ipv6\)/,
            /-p, --port N +.*\(default: 18812, or 18821 with TLS\)/,
            /--registry-type TYPE +UDP or TCP \(default: UDP\)/,
            /--registry-port N +.*\(default: 18811\)/,
            /--log-level LEVEL +debug, info, warning or error \(default: debug\)/,
            /-q, --quiet +log errors only/,
            /--logfile PATH +.*\(default: stderr\)/
          ]
        ) {
          assert.match(classic.stdout, pattern)
        }
        for (
          const pattern of [
            /-m, --mode MODE +UDP or TCP.*\(default: UDP\)/,
            /-p, --port N +.*\(default: 18811\)/,
            /-t, --timeout SECONDS +.*\(default: 240\)/,
            /-l, --listing +.*\(default: off\)/,
            /--log-level LEVEL +.*\(default: debug\)/
          ]
        ) {
          assert.match(registry.stdout, pattern)
        }
      }),
    TIMEOUT
  )
})

describe("CLI usage errors", () => {
  it.live("a bad value, a missing value, an unknown flag: one line, exit code 2", () =>
    Effect.gen(function*() {
      const cases: ReadonlyArray<readonly [typeof runCli, ReadonlyArray<string>, string]> = [
        [runCli, ["-p", "99999"], "rpyc-classic: --port must be an integer from 0 to 65535 (got 99999)"],
        [runCli, ["--mode", "oneshot", "--port"], "rpyc-classic: --port needs a value"],
        [runCli, ["--port", "--ipv6"], "rpyc-classic: --port needs a value"],
        [runCli, ["--wizard"], "rpyc-classic: unknown option --wizard"],
        [runCli, ["--completions", "bash"], "rpyc-classic: unknown option --completions"],
        [
          runCli,
          ["--log-level", "loud"],
          "rpyc-classic: --log-level must be one of debug, info, warning, error (got loud)"
        ],
        [runRegistry, ["-p", "99999"], "rpyc-registry: --port must be an integer from 0 to 65535 (got 99999)"],
        [runRegistry, ["--port"], "rpyc-registry: --port needs a value"],
        [runRegistry, ["--port", "0", "--wizard"], "rpyc-registry: unknown option --wizard"],
        [runRegistry, ["-t", "0"], "rpyc-registry: --timeout must be an integer of at least 1 (got 0)"]
      ]
      const results = yield* Effect.forEach(cases, ([runIt, args]) => runIt(...args), { concurrency: 3 })
      results.forEach((result, i) => {
        const [, args, line] = cases[i]
        assertOneLine(result, 2, line, args.join(" "))
      })
    }), TIMEOUT)
})

describe("CLI --log-level", () => {
  it.scopedLive(
    "is accepted anywhere on the line; the last of --quiet and --log-level wins",
    () =>
      Effect.gen(function*() {
        // registry: debug after -q shows the DEBUG lines
        const debug = yield* spawnRegistry("--port", "0", "-q", "--log-level", "debug")
        yield* debug.waitFor(
          /^\w{3} \d\d [\d:]{8} DEBUG REGSRV\/UDP\/\d+: server started on 127\.0\.0\.1:\d+$/,
          "stderr"
        )
        // registry: info hides them
        const info = yield* spawnRegistry("-p", "0", "--log-level", "info")
        const port = Number((yield* info.waitFor(/UDP registry listening on 127\.0\.0\.1:(\d+)/, "stdout"))[1])
        yield* (yield* RegistryClient.makeUdp({ host: "127.0.0.1", port })).discover("x")
        // classic: info after --quiet shows the INFO lines
        const classic = yield* spawnCli("-m", "oneshot", "-q", "--port", "0", "--log-level", "info")
        const classicPort = Number((yield* classic.waitFor(/^127\.0\.0\.1\t(\d+)$/, "stdout"))[1])
        yield* classic.waitFor(
          new RegExp(`^INFO:SLAVE/${classicPort}:server started on \\[127\\.0\\.0\\.1\\]:${classicPort}$`)
        )
        // classic: warning hides them
        const quiet = yield* spawnCli("-m", "oneshot", "--port", "0", "--log-level", "warning")
        const quietPort = Number((yield* quiet.waitFor(/^127\.0\.0\.1\t(\d+)$/, "stdout"))[1])
        for (const p of [classicPort, quietPort]) {
          yield* Effect.scoped(Effect.gen(function*() {
            const c = yield* Classic.connect("127.0.0.1", p)
            assert.strictEqual(yield* c.eval("1+1"), 2)
          }))
        }
        for (const child of [debug, info]) child.process.kill("SIGTERM")
        for (const child of [debug, info, classic, quiet]) {
          assert.deepStrictEqual(yield* child.exit, { code: 0, signal: null }, child.command)
        }
        assert.strictEqual(info.stderr(), "", "no DEBUG lines at --log-level info")
        assert.strictEqual(quiet.stderr(), "", "no INFO lines at --log-level warning")
        assert.match(classic.stderr(), /^INFO:SLAVE\/\d+:goodbye 127\.0\.0\.1:\d+$/m)
      }),
    TIMEOUT
  )
})

describe("CLI failures to start", () => {
  it.scopedLive("a busy port: one line naming the address and EADDRINUSE, exit code 1", () =>
    Effect.gen(function*() {
      const tcp = yield* busyTcpPort
      const udp = yield* busyUdpPort
      const cases: ReadonlyArray<readonly [typeof runCli, ReadonlyArray<string>, string]> = [
        [runCli, ["--port", String(tcp)], `rpyc-classic: cannot listen on 127.0.0.1:${tcp}`],
        [runCli, ["-m", "oneshot", "-p", String(tcp)], `rpyc-classic: cannot listen on 127.0.0.1:${tcp}`],
        [runRegistry, ["--port", String(udp)], `rpyc-registry: cannot listen on 127.0.0.1:${udp}/udp`],
        [runRegistry, ["--mode", "TCP", "--port", String(tcp)], `rpyc-registry: cannot listen on 127.0.0.1:${tcp}/tcp`]
      ]
      const results = yield* Effect.forEach(cases, ([runIt, args]) => runIt(...args), { concurrency: 3 })
      results.forEach((result, i) => {
        const [, args, where] = cases[i]
        assertOneLine(result, 1, `${where}: address already in use (EADDRINUSE)`, args.join(" "))
        assert.notMatch(result.stderr, /Bind:|SocketServerError|RegistryError/)
      })
    }), TIMEOUT)

  it.live(
    "an unreadable key file or log file: one line naming the file and the reason, exit code 1",
    () =>
      Effect.gen(function*() {
        const [key, log] = yield* Effect.all([
          runCli("-p", "0", "--ssl-keyfile", "/nonexistent/key.pem", "--ssl-certfile", Path.join(ROOT, "package.json")),
          runRegistry("-p", "0", "--logfile", "/nonexistent/registry.log")
        ], { concurrency: 2 })
        assertOneLine(
          key,
          1,
          "rpyc-classic: cannot read --ssl-keyfile /nonexistent/key.pem: no such file or directory (ENOENT)",
          "key"
        )
        assertOneLine(
          log,
          1,
          "rpyc-registry: cannot open the log file /nonexistent/registry.log: no such file or directory (ENOENT)",
          "logfile"
        )
      }),
    TIMEOUT
  )
})
