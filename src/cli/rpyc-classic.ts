#!/usr/bin/env node
/**
 * `rpyc-classic`: the classic server, the counterpart of RPyC's `rpyc_classic` (PROTOCOL.md §9.1),
 * serving `ClassicService` (JavaScript's "slave" service: full trust, `eval`/`execute`/modules).
 *
 * ```
 * rpyc-classic [--mode threaded|forking|oneshot|stdio] [--host ADDR] [--port N] [--ipv6]
 *              [--socket-path PATH] [--ssl-keyfile F --ssl-certfile F [--ssl-cafile F]]
 *              [--logfile PATH] [--quiet]
 *              [--register [--registry-type UDP|TCP] [--registry-port N] [--registry-host ADDR]]
 * ```
 *
 * As in RPyC: binds 127.0.0.1 by default (`::1` with `--ipv6`); port 18812, or 18821 with TLS;
 * `oneshot` prints `rpyc-oneshot` and `<host>\t<port>` on stdout once listening, serves one client and
 * exits; `stdio` serves one connection over stdin/stdout and keeps user output off stdout; logs go to
 * stderr (or `--logfile`), only errors with `--quiet`. `--port 0` picks a free port (logged in
 * `server started on [host]:port`). SIGINT and SIGTERM close the server and its connections, exit 0.
 *
 * `--register` announces the server to a registry (UDP broadcast to 255.255.255.255:18811 unless
 * `--registry-host` says where; TCP needs `--registry-host`) and unregisters on exit.
 *
 * Additions: `--socket-path` listens on a Unix socket instead of TCP (RPyC's `socket_path=`); forking
 * mode spawns one worker process per connection (see `Forking.make`).
 *
 * This module runs the program when loaded: it is an entry point, not a library module.
 *
 * @since 0.1.0
 */
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as NodeContext from "@effect/platform-node/NodeContext"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import type * as SocketServer from "@effect/platform/SocketServer"
import * as Console from "effect/Console"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import { ClassicService } from "../classic/ClassicService.js"
import * as Logging from "../Logging.js"
import * as Registry from "../registry/Registry.js"
import * as RegistryClient from "../registry/RegistryClient.js"
import * as Forking from "../server/Forking.js"
import * as OneShot from "../server/OneShot.js"
import * as Server from "../server/Server.js"
import * as StdioServer from "../server/StdioServer.js"
import * as Service from "../service/Service.js"
import * as Tcp from "../transport/Tcp.js"
import type * as Tls from "../transport/Tls.js"
import * as Common from "./Common.js"

const DEFAULT_SERVER_PORT = 18812
const DEFAULT_SERVER_SSL_PORT = 18821

/** A usage error found after parsing (conflicting flags, unreadable files). */
class UsageError extends Data.TaggedError("UsageError")<{ readonly message: string }> {}

/** Where forking workers load the service from: the sibling module, in the form this file runs as. */
const classicServiceRef: Forking.ServiceRef = {
  module: new URL(`../classic/ClassicService.${import.meta.url.endsWith(".ts") ? "ts" : "js"}`, import.meta.url),
  export: "ClassicService"
}

const mode = Options.choice("mode", ["threaded", "forking", "oneshot", "stdio"]).pipe(
  Options.withAlias("m"),
  Options.withDescription(
    "the serving mode: threaded (a fiber per connection), forking (a process per connection), oneshot (serve one client, then exit) or stdio (one connection over stdin/stdout, inetd style)"
  ),
  Options.withDefault("threaded" as const)
)

const host = Options.text("host").pipe(
  Options.withDescription("the address to bind to (default 127.0.0.1, or ::1 with --ipv6)"),
  Options.optional
)

const port = Options.integer("port").pipe(
  Options.withAlias("p"),
  Options.withDescription(
    `the TCP listener port (default ${DEFAULT_SERVER_PORT}, or ${DEFAULT_SERVER_SSL_PORT} with TLS; 0 picks a free one)`
  ),
  Options.withSchema(Schema.Int.pipe(Schema.between(0, 65535))),
  Options.optional
)

const ipv6 = Options.boolean("ipv6").pipe(Options.withDescription("listen on IPv6 (the default host becomes ::1)"))

const socketPath = Options.text("socket-path").pipe(
  Options.withDescription("listen on this Unix-domain socket instead of TCP"),
  Options.optional
)

const sslKeyfile = Options.file("ssl-keyfile", { exists: "yes" }).pipe(
  Options.withDescription("the server's private key (PEM); enables TLS, requires --ssl-certfile"),
  Options.optional
)

const sslCertfile = Options.file("ssl-certfile", { exists: "yes" }).pipe(
  Options.withDescription("the server's certificate chain (PEM); requires --ssl-keyfile"),
  Options.optional
)

const sslCafile = Options.file("ssl-cafile", { exists: "yes" }).pipe(
  Options.withDescription(
    "CA certificates (PEM) that client certificates must chain to; enables client authentication, requires --ssl-keyfile"
  ),
  Options.optional
)

const register = Options.boolean("register").pipe(
  Options.withDescription("register with a registry server (re-registering every 60 s while serving)")
)

const registryType = Options.text("registry-type").pipe(
  Options.withDescription("the registry's protocol: UDP (default) or TCP"),
  Options.withDefault("UDP")
)

const registryPort = Options.integer("registry-port").pipe(
  Options.withDescription(`the registry's port (default ${Registry.REGISTRY_PORT})`),
  Options.withSchema(Schema.Int.pipe(Schema.between(1, 65535))),
  Options.withDefault(Registry.REGISTRY_PORT)
)

const registryHost = Options.text("registry-host").pipe(
  Options.withDescription(
    `the registry's address (UDP default ${Registry.BROADCAST_ADDRESS}, a broadcast; required with TCP)`
  ),
  Options.optional
)

interface Config {
  readonly mode: "threaded" | "forking" | "oneshot" | "stdio"
  readonly host: Option.Option<string>
  readonly port: Option.Option<number>
  readonly ipv6: boolean
  readonly socketPath: Option.Option<string>
  readonly logfile: Option.Option<string>
  readonly quiet: boolean
  readonly sslKeyfile: Option.Option<string>
  readonly sslCertfile: Option.Option<string>
  readonly sslCafile: Option.Option<string>
  readonly register: boolean
  readonly registryType: string
  readonly registryPort: number
  readonly registryHost: Option.Option<string>
}

/** The flag combinations RPyC refuses (plumbum's `requires=`), plus ours for `--socket-path`. */
const validate = (config: Config): Effect.Effect<void, UsageError> => {
  const fail = (message: string) => Effect.fail(new UsageError({ message }))
  const tls = Option.isSome(config.sslKeyfile) || Option.isSome(config.sslCertfile) || Option.isSome(config.sslCafile)
  if (Option.isSome(config.sslKeyfile) && Option.isNone(config.sslCertfile)) {
    return fail("--ssl-keyfile requires --ssl-certfile")
  }
  if (Option.isSome(config.sslCertfile) && Option.isNone(config.sslKeyfile)) {
    return fail("--ssl-certfile requires --ssl-keyfile")
  }
  if (Option.isSome(config.sslCafile) && Option.isNone(config.sslKeyfile)) {
    return fail("--ssl-cafile requires --ssl-keyfile")
  }
  const registryType = config.registryType.toUpperCase()
  if (registryType !== "UDP" && registryType !== "TCP") return fail("--registry-type must be UDP or TCP")
  if (config.register && registryType === "TCP" && Option.isNone(config.registryHost)) {
    return fail("--registry-host is required with --registry-type TCP")
  }
  if (config.register && (config.mode === "stdio" || Option.isSome(config.socketPath))) {
    return fail("--register needs a TCP server (not --mode stdio or --socket-path)")
  }
  if (Option.isSome(config.socketPath)) {
    if (Option.isSome(config.host) || Option.isSome(config.port) || config.ipv6) {
      return fail("--socket-path cannot be combined with --host, --port or --ipv6")
    }
    if (tls) return fail("--socket-path cannot be combined with TLS")
  }
  return Effect.void
}

/** A one-line reason: listen failures carry theirs in `cause` (e.g. `listen EADDRINUSE ...`). */
const describeError = (
  error: { readonly message: string; readonly cause?: unknown; readonly _tag?: string }
): string => {
  if (error._tag === "SocketServerError" && error.cause instanceof Error) return `cannot listen: ${error.cause.message}`
  if (error._tag === "SocketError" && error.cause instanceof Error) return `${error.message}: ${error.cause.message}`
  return error.message
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
    yield* validate(config)
    if (config.mode === "stdio") {
      // inetd style: the process's stdin/stdout are the connection
      return yield* StdioServer.serve(ClassicService)
    }
    const tls: Tls.ServerCredentials | undefined = Option.isSome(config.sslKeyfile)
      ? {
        keyfile: config.sslKeyfile.value,
        certfile: Option.getOrUndefined(config.sslCertfile),
        cafile: Option.getOrUndefined(config.sslCafile)
      }
      : undefined
    const listen: Server.ListenOptions = Option.isSome(config.socketPath)
      ? { socketPath: config.socketPath.value }
      : {
        host: Option.getOrElse(config.host, () => Tcp.defaultHost(config.ipv6)),
        port: Option.getOrElse(config.port, () => (tls !== undefined ? DEFAULT_SERVER_SSL_PORT : DEFAULT_SERVER_PORT)),
        ipv6: config.ipv6,
        tls
      }
    // --register: announce the server to a registry while it serves (RPyC's defaults)
    const announce = (address: SocketServer.Address) =>
      !config.register || address._tag !== "TcpAddress"
        ? Effect.void
        : Effect.flatMap(
          config.registryType.toUpperCase() === "TCP"
            ? RegistryClient.makeTcp({ host: Option.getOrThrow(config.registryHost), port: config.registryPort })
            : RegistryClient.makeUdp({ host: Option.getOrUndefined(config.registryHost), port: config.registryPort }),
          (registrar) =>
            Server.autoRegister(registrar, {
              port: address.port,
              aliases: Service.aliasesOf(ClassicService),
              serviceName: Service.aliasesOf(ClassicService)[0]
            }, Option.getOrUndefined(config.host))
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

const command = Command.make(
  "rpyc-classic",
  {
    mode,
    host,
    port,
    ipv6,
    socketPath,
    logfile: Common.logfile,
    quiet: Common.quiet,
    sslKeyfile,
    sslCertfile,
    sslCafile,
    register,
    registryType,
    registryPort,
    registryHost
  },
  (config) =>
    serve(config).pipe(
      Effect.provide(Logging.layerCli({ logfile: config.logfile, quiet: config.quiet })),
      // runMain's own error report is off (it would repeat CLI validation errors): say it ourselves
      Effect.tapError((error) => Console.error(`rpyc-classic: ${describeError(error)}`))
    )
).pipe(Command.withDescription("The classic RPyC server: serves ClassicService (full trust: eval, execute, modules)"))

const cli = Command.run(command, { name: "rpyc-classic", version: Common.packageVersion() })

cli(process.argv).pipe(
  Effect.provide(NodeContext.layer),
  NodeRuntime.runMain({ disableErrorReporting: true, disablePrettyLogger: true })
)
