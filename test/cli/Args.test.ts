/**
 * The CLIs' command-line parsing (src/cli/Args.ts) and failure lines (src/cli/Common.ts), in process.
 */
import { assert, describe, it } from "@effect/vitest"
import * as LogLevel from "effect/LogLevel"
import * as Args from "../../src/cli/Args.js"
import * as Common from "../../src/cli/Common.js"
import * as Logging from "../../src/Logging.js"

const specs: Readonly<Record<string, Args.Spec>> = {
  port: { type: "string", short: "p" },
  ipv6: { type: "boolean", short: "6" },
  ...Common.loggingSpecs
}

const parsed = (...argv: ReadonlyArray<string>): Args.Parsed => {
  const outcome = Args.parse(argv, specs)
  if (outcome._tag !== "Run") throw new Error(`expected Run, got ${outcome._tag}`)
  return outcome.parsed
}

const usageError = (f: () => unknown): string => {
  try {
    f()
  } catch (e) {
    if (e instanceof Args.UsageError) return e.message
    throw e
  }
  throw new Error("expected a UsageError")
}

describe("Args.parse", () => {
  it("flags in any order and form", () => {
    for (
      const argv of [
        ["--port", "1234", "--ipv6"],
        ["--ipv6", "--port=1234"],
        ["-6p", "1234"],
        ["-p1234", "-6"]
      ]
    ) {
      const p = parsed(...argv)
      assert.strictEqual(p.values.get("port"), "1234", argv.join(" "))
      assert.isTrue(p.flags.has("ipv6"), argv.join(" "))
    }
    assert.strictEqual(parsed("-p", "-1").values.get("port"), "-1", "a negative number is a value")
  })

  it("--help and --version win over everything else on the line", () => {
    assert.strictEqual(Args.parse(["--bogus", "--port", "1", "-h"], specs)._tag, "Help")
    assert.strictEqual(Args.parse(["x", "--version"], specs)._tag, "Version")
  })

  it("usage errors name the flag", () => {
    assert.strictEqual(usageError(() => Args.parse(["--port"], specs)), "--port needs a value")
    assert.strictEqual(usageError(() => Args.parse(["-p", "--ipv6"], specs)), "--port needs a value")
    assert.strictEqual(usageError(() => Args.parse(["--wizard"], specs)), "unknown option --wizard")
    assert.strictEqual(usageError(() => Args.parse(["-x"], specs)), "unknown option -x")
    assert.strictEqual(usageError(() => Args.parse(["--ipv6=yes"], specs)), "--ipv6 takes no value (got --ipv6=yes)")
    assert.strictEqual(usageError(() => Args.parse(["serve"], specs)), "unexpected argument 'serve'")
  })

  it("integer and choice values", () => {
    assert.strictEqual(Args.integer("port", "0", 0, 65535), 0)
    assert.strictEqual(Args.integer("port", "65535", 0, 65535), 65535)
    for (const bad of ["65536", "-1", "1.5", "12ab", "", "0x10"]) {
      assert.strictEqual(
        usageError(() => Args.integer("port", bad, 0, 65535)),
        `--port must be an integer from 0 to 65535 (got ${bad})`
      )
    }
    assert.strictEqual(
      usageError(() => Args.integer("timeout", "0", 1)),
      "--timeout must be an integer of at least 1 (got 0)"
    )
    assert.strictEqual(Args.choice("mode", "tcp", ["UDP", "TCP"]), "TCP")
    assert.strictEqual(usageError(() => Args.choice("mode", "x", ["UDP", "TCP"])), "--mode must be UDP or TCP (got x)")
    assert.strictEqual(
      usageError(() => Args.choice("mode", "x", ["a", "b", "c"])),
      "--mode must be one of a, b, c (got x)"
    )
  })
})

describe("Common.loggingConfig", () => {
  it("debug by default; the last of --quiet and --log-level wins", () => {
    assert.strictEqual(Common.loggingConfig(parsed()).level, LogLevel.Debug)
    assert.strictEqual(Common.loggingConfig(parsed("-q")).level, LogLevel.Error)
    assert.strictEqual(Common.loggingConfig(parsed("-q", "--log-level", "DEBUG")).level, LogLevel.Debug)
    assert.strictEqual(Common.loggingConfig(parsed("--log-level", "info", "-q")).level, LogLevel.Error)
    assert.strictEqual(Common.loggingConfig(parsed("-p", "1", "--log-level", "warning")).level, LogLevel.Warning)
    assert.strictEqual(Common.loggingConfig(parsed("--logfile", "/tmp/x.log")).logfile, "/tmp/x.log")
    assert.strictEqual(
      usageError(() => Common.loggingConfig(parsed("--log-level", "loud"))),
      "--log-level must be one of debug, info, warning, error (got loud)"
    )
  })
})

describe("Common.describeFailure", () => {
  const osError = (code: string, errno: number, extra: Record<string, unknown> = {}) =>
    Object.assign(new Error(`${code} something`), { code, errno, ...extra })

  it("names the address or file and the OS reason, never an internal tag", () => {
    const listen = {
      _tag: "SocketServerError",
      reason: "Open",
      cause: osError("EADDRINUSE", -98, { syscall: "listen" })
    }
    assert.strictEqual(
      Common.describeFailure(listen, { listen: "127.0.0.1:18812" }),
      "cannot listen on 127.0.0.1:18812: address already in use (EADDRINUSE)"
    )
    const bind = { _tag: "RegistryError", reason: "Bind", detail: "cannot bind", cause: osError("EACCES", -13) }
    assert.strictEqual(
      Common.describeFailure(bind, { listen: "[::1]:18811/udp" }),
      "cannot listen on [::1]:18811/udp: permission denied (EACCES)"
    )
    const read = {
      _tag: "SocketServerError",
      cause: { _tag: "TlsError", cause: osError("ENOENT", -2, { syscall: "open", path: "/k.pem" }) }
    }
    assert.strictEqual(
      Common.describeFailure(read, { listen: "127.0.0.1:18821", files: [["--ssl-keyfile", "/k.pem"]] }),
      "cannot read --ssl-keyfile /k.pem: no such file or directory (ENOENT)"
    )
    const logfile = new Logging.LogfileError({ path: "/x.log", cause: osError("EISDIR", -21) })
    assert.strictEqual(
      Common.describeFailure(logfile, {}),
      "cannot open the log file /x.log: illegal operation on a directory (EISDIR)"
    )
    assert.strictEqual(
      Common.describeFailure({ _tag: "SocketServerError", cause: new Error("a\nb") }, { listen: "/s.sock" }),
      "cannot listen on /s.sock: a"
    )
  })

  it("hostPort brackets IPv6 hosts", () => {
    assert.strictEqual(Common.hostPort("::1", 1), "[::1]:1")
    assert.strictEqual(Common.hostPort("127.0.0.1", 1), "127.0.0.1:1")
  })
})
