#!/usr/bin/env node
/**
 * `rpyc-registry`: a standalone registry server, the counterpart of RPyC's `rpyc_registry`
 * (PROTOCOL.md §9.2).
 *
 * ```
 * rpyc-registry [--mode UDP|TCP] [--host ADDR] [--port N] [--ipv6] [--timeout SECONDS] [--listing]
 *               [--logfile PATH] [--quiet]
 * ```
 *
 * Differences from RPyC's CLI, on purpose:
 * - binds 127.0.0.1 by default (`::1` with `--ipv6`); `--host 0.0.0.0` (or `--host ::`) serves the
 *   network, which a UDP registry needs to hear broadcasts from other machines;
 * - `--listing` and `--quiet` are plain flags (RPyC's take a value, and any value, even "false", enables);
 * - `--ipv6` applies to TCP too;
 * - once listening it prints `<MODE> registry listening on <host>:<port>` on stdout, even with
 *   `--quiet`, so scripts can use `--port 0` and read the port back. Logs go to stderr or `--logfile`.
 *
 * This module runs the program when loaded: it is an entry point, not a library module.
 *
 * @since 0.1.0
 */
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as NodeContext from "@effect/platform-node/NodeContext"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as Console from "effect/Console"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import * as Logging from "../Logging.js"
import * as Registry from "../registry/Registry.js"
import * as RegistryServer from "../registry/RegistryServer.js"
import * as Tcp from "../transport/Tcp.js"
import * as Common from "./Common.js"

const mode = Options.text("mode").pipe(
  Options.withAlias("m"),
  Options.withDescription("serving mode: UDP or TCP (any case)"),
  Options.withDefault("UDP"),
  Options.filterMap(
    (s) => {
      const upper = s.toUpperCase()
      return upper === "UDP" || upper === "TCP" ? Option.some(upper) : Option.none()
    },
    "--mode must be UDP or TCP"
  )
)

const host = Options.text("host").pipe(
  Options.withDescription("address to bind (default 127.0.0.1, or ::1 with --ipv6; 0.0.0.0 or :: for all interfaces)"),
  Options.optional
)

const port = Options.integer("port").pipe(
  Options.withAlias("p"),
  Options.withDescription("the UDP/TCP listener port (0 picks a free one)"),
  Options.withSchema(Schema.Int.pipe(Schema.between(0, 65535))),
  Options.withDefault(Registry.REGISTRY_PORT)
)

const ipv6 = Options.boolean("ipv6").pipe(Options.withAlias("6"), Options.withDescription("use IPv6 instead of IPv4"))

const timeout = Options.integer("timeout").pipe(
  Options.withAlias("t"),
  Options.withDescription("pruning timeout in seconds: servers silent for longer are forgotten"),
  Options.withSchema(Schema.Int.pipe(Schema.positive())),
  Options.withDefault(Duration.toSeconds(Registry.DEFAULT_PRUNING_TIMEOUT))
)

const listing = Options.boolean("listing").pipe(
  Options.withAlias("l"),
  Options.withDescription("answer LIST requests (disabled by default)")
)

const command = Command.make(
  "rpyc-registry",
  { mode, host, port, ipv6, timeout, listing, logfile: Common.logfile, quiet: Common.quiet },
  (config) =>
    Effect.gen(function*() {
      const bindHost = Option.getOrElse(config.host, () => Tcp.defaultHost(config.ipv6))
      const options = {
        host: bindHost,
        port: config.port,
        ipv6: config.ipv6,
        pruningTimeout: Duration.seconds(config.timeout),
        allowListing: config.listing
      }
      const server = yield* config.mode === "TCP"
        ? RegistryServer.makeTcpServer(options)
        : RegistryServer.makeUdpServer(options)
      yield* Console.log(`${server.mode} registry listening on ${Registry.formatAddress(server.address)}`)
      // serve until SIGINT/SIGTERM interrupts us; closing the scope then closes the socket
      return yield* Effect.never
    }).pipe(
      Effect.scoped,
      Effect.provide(Logging.layerCli({ logfile: config.logfile, quiet: config.quiet, format: "dated" })),
      // runMain's own error report is off (it would repeat CLI validation errors): say it ourselves
      Effect.tapError((error) => Console.error(`rpyc-registry: ${error.message}`))
    )
).pipe(Command.withDescription("RPyC registry server: answers service registrations and discovery queries"))

const cli = Command.run(command, { name: "rpyc-registry", version: Common.packageVersion() })

cli(process.argv).pipe(
  Effect.provide(NodeContext.layer),
  NodeRuntime.runMain({ disableErrorReporting: true, disablePrettyLogger: true })
)
