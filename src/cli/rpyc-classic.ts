#!/usr/bin/env node
/**
 * `rpyc-classic`: the classic server, the counterpart of RPyC's `rpyc_classic` (PROTOCOL.md §9.1),
 * serving `ClassicService` (JavaScript's "slave" service: full trust, `eval`/`execute`/modules).
 *
 * ```
 * rpyc-classic [--mode threaded|forking|oneshot|stdio|pool [--workers N]] [--host ADDR] [--port N] [--ipv6]
 *              [--socket-path PATH] [--ssl-keyfile F --ssl-certfile F [--ssl-cafile F]]
 *              [--log-level LEVEL] [--quiet] [--logfile PATH]
 *              [--register [--registry-type UDP|TCP] [--registry-port N] [--registry-host ADDR]]
 * ```
 *
 * As in RPyC: binds 127.0.0.1 by default (`::1` with `--ipv6`); port 18812, or 18821 with TLS;
 * `oneshot` prints `rpyc-oneshot` and `<host>\t<port>` on stdout once listening, serves one client and
 * exits; `stdio` serves one connection over stdin/stdout and keeps user output off stdout; logs go to
 * stderr (or `--logfile`), from `--log-level` up (debug by default; only errors with `--quiet`).
 * `--port 0` picks a free port (logged in `server started on [host]:port`). SIGINT and SIGTERM close
 * the server and its connections, exit 0. Flags may come in any order.
 *
 * `--register` announces the server to a registry (UDP broadcast to 255.255.255.255:18811 unless
 * `--registry-host` says where; TCP needs `--registry-host`) and unregisters on exit.
 *
 * Additions: `--socket-path` listens on a Unix socket instead of TCP (RPyC's `socket_path=`); forking
 * mode spawns one worker process per connection (see `Forking.make`); pool mode serves from `--workers`
 * long-lived worker processes sharing the port, and drains them on SIGINT/SIGTERM (see `Pool.make`).
 *
 * Usage errors print one line and exit 2; failures to start (a busy port, an unreadable key file)
 * print one line naming the address or file and the OS reason, and exit 1.
 *
 * This module runs the program when loaded: it is an entry point, not a library module.
 *
 * @since 0.1.0
 */
import type * as SocketServer from "@effect/platform/SocketServer"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import { ClassicService } from "../classic/ClassicService.js"
import * as Logging from "../Logging.js"
import * as Registry from "../registry/Registry.js"
import * as RegistryClient from "../registry/RegistryClient.js"
import * as Forking from "../server/Forking.js"
import * as OneShot from "../server/OneShot.js"
import * as Pool from "../server/Pool.js"
import * as Server from "../server/Server.js"
import * as StdioServer from "../server/StdioServer.js"
import * as Service from "../service/Service.js"
import * as Tcp from "../transport/Tcp.js"
import type * as Tls from "../transport/Tls.js"
import * as Args from "./Args.js"
import * as Common from "./Common.js"

const NAME = "rpyc-classic"
const DEFAULT_SERVER_PORT = 18812
const DEFAULT_SERVER_SSL_PORT = 18821
const MODES = ["threaded", "forking", "oneshot", "stdio", "pool"] as const

/** Where forking and pool workers load the service from: the sibling module, in the form this file runs as. */
const classicServiceRef: Forking.ServiceRef = {
  module: new URL(`../classic/ClassicService.${import.meta.url.endsWith(".ts") ? "ts" : "js"}`, import.meta.url),
  export: "ClassicService"
}

const specs: Readonly<Record<string, Args.Spec>> = {
  mode: { type: "string", short: "m" },
  workers: { type: "string", short: "w" },
  host: { type: "string" },
  port: { type: "string", short: "p" },
  ipv6: { type: "boolean" },
  "socket-path": { type: "string" },
  "ssl-keyfile": { type: "string" },
  "ssl-certfile": { type: "string" },
  "ssl-cafile": { type: "string" },
  register: { type: "boolean" },
  "registry-type": { type: "string" },
  "registry-port": { type: "string" },
  "registry-host": { type: "string" },
  ...Common.loggingSpecs
}

const help = () =>
  Args.formatHelp({
    heading: `${NAME} ${Common.packageVersion()}: the classic RPyC server (ClassicService: full trust, eval, execute)`,
    usage: `${NAME} [OPTIONS]`,
    sections: [
      {
        title: "Server",
        rows: [
          ["-m, --mode MODE", "threaded, forking, oneshot, stdio or pool (default: threaded)"],
          ["-w, --workers N", "pool mode: how many worker processes (default: one per CPU)"],
          [
            "    --host ADDR",
            `the address to bind (default: ${Tcp.defaultHost(false)}, or ${Tcp.defaultHost(true)} with --ipv6)`
          ],
          [
            "-p, --port N",
            `the TCP port, 0 for any free one (default: ${DEFAULT_SERVER_PORT}, or ${DEFAULT_SERVER_SSL_PORT} with TLS)`
          ],
          ["    --ipv6", "listen on IPv6"],
          ["    --socket-path PATH", "listen on this Unix socket instead of TCP"]
        ]
      },
      {
        title: "TLS",
        rows: [
          ["    --ssl-keyfile FILE", "the server's private key (PEM); enables TLS, needs --ssl-certfile"],
          ["    --ssl-certfile FILE", "the server's certificate chain (PEM); needs --ssl-keyfile"],
          ["    --ssl-cafile FILE", "require client certificates issued by these CAs (PEM)"]
        ]
      },
      {
        title: "Registry",
        rows: [
          ["    --register", "register with a registry while serving; unregister on exit"],
          ["    --registry-type TYPE", "UDP or TCP (default: UDP)"],
          ["    --registry-port N", `the registry's port (default: ${Registry.REGISTRY_PORT})`],
          [
            "    --registry-host ADDR",
            `the registry's address (UDP default: ${Registry.BROADCAST_ADDRESS}; TCP: required)`
          ]
        ]
      },
      Common.loggingHelp,
      Common.metaHelp
    ],
    notes: [
      "Modes: threaded serves each connection in a fiber; forking, each in a worker process; oneshot",
      "serves one client and exits (it prints \"rpyc-oneshot\" and \"<host><TAB><port>\" on stdout once",
      "listening); stdio serves one connection over stdin/stdout (inetd style); pool shares the port among",
      "--workers processes, replaces one that dies, and drains open connections on exit.",
      "SIGINT and SIGTERM close the server and its connections and exit 0."
    ]
  })

interface Config {
  readonly mode: typeof MODES[number]
  readonly workers: number | undefined
  readonly host: string | undefined
  readonly port: number | undefined
  readonly ipv6: boolean
  readonly socketPath: string | undefined
  readonly logging: Common.LoggingConfig
  readonly sslKeyfile: string | undefined
  readonly sslCertfile: string | undefined
  readonly sslCafile: string | undefined
  readonly register: boolean
  readonly registryType: "UDP" | "TCP"
  readonly registryPort: number
  readonly registryHost: string | undefined
}

/** The command line as a `Config`: the values checked, and the flag combinations RPyC refuses. */
const configure = (parsed: Args.Parsed): Config => {
  const value = (name: string) => parsed.values.get(name)
  const mode = value("mode")
  const port = value("port")
  const workers = value("workers")
  const registryPort = value("registry-port")
  const config: Config = {
    mode: mode === undefined ? "threaded" : Args.choice("mode", mode, MODES),
    workers: workers === undefined ? undefined : Args.integer("workers", workers, 1, 1024),
    host: value("host"),
    port: port === undefined ? undefined : Args.integer("port", port, 0, 65535),
    ipv6: parsed.flags.has("ipv6"),
    socketPath: value("socket-path"),
    logging: Common.loggingConfig(parsed),
    sslKeyfile: value("ssl-keyfile"),
    sslCertfile: value("ssl-certfile"),
    sslCafile: value("ssl-cafile"),
    register: parsed.flags.has("register"),
    registryType: Args.choice("registry-type", value("registry-type") ?? "UDP", ["UDP", "TCP"] as const),
    registryPort: registryPort === undefined
      ? Registry.REGISTRY_PORT
      : Args.integer("registry-port", registryPort, 1, 65535),
    registryHost: value("registry-host")
  }
  const fail = (message: string) => {
    throw new Args.UsageError(message)
  }
  // plumbum's `requires=` in RPyC, plus ours for --socket-path
  if (config.sslKeyfile !== undefined && config.sslCertfile === undefined) fail("--ssl-keyfile requires --ssl-certfile")
  if (config.sslCertfile !== undefined && config.sslKeyfile === undefined) fail("--ssl-certfile requires --ssl-keyfile")
  if (config.sslCafile !== undefined && config.sslKeyfile === undefined) fail("--ssl-cafile requires --ssl-keyfile")
  if (config.register && config.registryType === "TCP" && config.registryHost === undefined) {
    fail("--registry-host is required with --registry-type TCP")
  }
  if (config.workers !== undefined && config.mode !== "pool") fail("--workers needs --mode pool")
  if (config.register && (config.mode === "stdio" || config.socketPath !== undefined)) {
    fail("--register needs a TCP server (not --mode stdio or --socket-path)")
  }
  if (config.socketPath !== undefined) {
    if (config.host !== undefined || config.port !== undefined || config.ipv6) {
      fail("--socket-path cannot be combined with --host, --port or --ipv6")
    }
    if (config.sslKeyfile !== undefined) fail("--socket-path cannot be combined with TLS")
  }
  return config
}

const tlsOf = (config: Config): Tls.ServerCredentials | undefined =>
  config.sslKeyfile === undefined
    ? undefined
    : { keyfile: config.sslKeyfile, certfile: config.sslCertfile, cafile: config.sslCafile }

const listenOptions = (config: Config): Server.ListenOptions => {
  const tls = tlsOf(config)
  return config.socketPath !== undefined
    ? { socketPath: config.socketPath }
    : {
      host: config.host ?? Tcp.defaultHost(config.ipv6),
      port: config.port ?? (tls !== undefined ? DEFAULT_SERVER_SSL_PORT : DEFAULT_SERVER_PORT),
      ipv6: config.ipv6,
      tls
    }
}

/** One line for a failure to start, naming the address or file and the OS reason. */
const describe = (error: unknown, config: Config): string => {
  const listen = listenOptions(config)
  return Common.describeFailure(error, {
    listen: listen.socketPath ?? Common.hostPort(listen.host!, listen.port!),
    files: [
      ["--ssl-keyfile", config.sslKeyfile],
      ["--ssl-certfile", config.sslCertfile],
      ["--ssl-cafile", config.sslCafile]
    ].filter((file): file is [string, string] => file[1] !== undefined)
  })
}

/** RPyC's last line, `server has terminated`, under the server's logger name (`SLAVE/18812`). */
const logTermination = (address: SocketServer.Address) =>
  Effect.addFinalizer(() =>
    Effect.logInfo("server has terminated").pipe(
      Effect.annotateLogs(
        Logging.LOGGER_NAME,
        `${Service.aliasesOf(ClassicService)[0]}/${address._tag === "TcpAddress" ? address.port : address.path}`
      )
    )
  )

const serve = (config: Config) =>
  Effect.gen(function*() {
    if (config.mode === "stdio") {
      // inetd style: the process's stdin/stdout are the connection
      return yield* StdioServer.serve(ClassicService)
    }
    const listen = listenOptions(config)
    // --register: announce the server to a registry while it serves (RPyC's defaults)
    const announce = (address: SocketServer.Address) =>
      !config.register || address._tag !== "TcpAddress"
        ? Effect.void
        : Effect.flatMap(
          config.registryType === "TCP"
            ? RegistryClient.makeTcp({ host: config.registryHost!, port: config.registryPort })
            : RegistryClient.makeUdp({ host: config.registryHost, port: config.registryPort }),
          (registrar) =>
            Server.autoRegister(registrar, {
              port: address.port,
              aliases: Service.aliasesOf(ClassicService),
              serviceName: Service.aliasesOf(ClassicService)[0]
            }, config.host)
        )
    switch (config.mode) {
      case "threaded": {
        const server = yield* Server.make(ClassicService, listen)
        yield* logTermination(server.address)
        yield* announce(server.address)
        return yield* Effect.never
      }
      case "forking": {
        const server = yield* Forking.make(classicServiceRef, listen)
        yield* logTermination(server.address)
        yield* announce(server.address)
        return yield* Effect.never
      }
      case "pool": {
        const server = yield* Pool.make(classicServiceRef, { ...listen, workers: config.workers })
        yield* logTermination(server.address)
        yield* announce(server.address)
        return yield* Effect.never
      }
      case "oneshot": {
        const server = yield* OneShot.make(ClassicService, listen)
        yield* logTermination(server.address)
        yield* announce(server.address)
        const where = server.address._tag === "TcpAddress"
          ? `${server.address.hostname}\t${server.address.port}`
          : server.address.path
        yield* Console.log(`rpyc-oneshot\n${where}`)
        return yield* server.done
      }
    }
  }).pipe(Effect.scoped)

Common.main({
  name: NAME,
  specs,
  help,
  configure,
  run: (config) => serve(config).pipe(Common.withLogging(config.logging, "plain")),
  describe
})
