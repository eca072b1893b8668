#!/usr/bin/env node
/**
 * `rpyc-registry`: a standalone registry server, the counterpart of RPyC's `rpyc_registry`
 * (PROTOCOL.md §9.2).
 *
 * ```
 * rpyc-registry [--mode UDP|TCP] [--host ADDR] [--port N] [--ipv6] [--timeout SECONDS] [--listing]
 *               [--redis URL] [--log-level LEVEL] [--quiet] [--logfile PATH]
 * ```
 *
 * Differences from RPyC's CLI, on purpose:
 * - binds 127.0.0.1 by default (`::1` with `--ipv6`); `--host 0.0.0.0` (or `--host ::`) serves the
 *   network, which a UDP registry needs to hear broadcasts from other machines;
 * - `--listing` and `--quiet` are plain flags (RPyC's take a value, and any value, even "false", enables);
 * - `--ipv6` applies to TCP too;
 * - `--redis URL` keeps the table in Redis (`RedisRegistry.makeState`), shared with other registries
 *   and with `RegistryClient.layerRedis`; `--timeout` is then the entries' TTL. ioredis is loaded only
 *   with this flag;
 * - once listening it prints `<MODE> registry listening on <host>:<port>` on stdout, even with
 *   `--quiet`, so scripts can use `--port 0` and read the port back. Logs go to stderr or `--logfile`.
 *
 * Usage errors print one line and exit 2; a failure to listen prints one line naming the address and
 * the OS reason (`cannot listen on 127.0.0.1:18811/udp: address already in use (EADDRINUSE)`), exit 1.
 * SIGINT and SIGTERM close the server and exit 0.
 *
 * This module runs the program when loaded: it is an entry point, not a library module.
 *
 * @since 0.1.0
 */
import * as Console from "effect/Console"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Registry from "../registry/Registry.js"
import * as RegistryServer from "../registry/RegistryServer.js"
import * as Tcp from "../transport/Tcp.js"
import * as Args from "./Args.js"
import * as Common from "./Common.js"

const NAME = "rpyc-registry"
const DEFAULT_TIMEOUT = Duration.toSeconds(Registry.DEFAULT_PRUNING_TIMEOUT)

const specs: Readonly<Record<string, Args.Spec>> = {
  mode: { type: "string", short: "m" },
  host: { type: "string" },
  port: { type: "string", short: "p" },
  ipv6: { type: "boolean", short: "6" },
  timeout: { type: "string", short: "t" },
  listing: { type: "boolean", short: "l" },
  redis: { type: "string" },
  ...Common.loggingSpecs
}

const help = () =>
  Args.formatHelp({
    heading: `${NAME} ${Common.packageVersion()}: the RPyC registry server (service registrations and discovery)`,
    usage: `${NAME} [OPTIONS]`,
    sections: [
      {
        title: "Server",
        rows: [
          ["-m, --mode MODE", "UDP or TCP, in any case (default: UDP)"],
          [
            "    --host ADDR",
            `the address to bind (default: ${Tcp.defaultHost(false)}, or ${Tcp.defaultHost(true)} with --ipv6)`
          ],
          ["-p, --port N", `the UDP/TCP port, 0 for any free one (default: ${Registry.REGISTRY_PORT})`],
          ["-6, --ipv6", "use IPv6"],
          ["-t, --timeout SECONDS", `forget servers silent for longer than this (default: ${DEFAULT_TIMEOUT})`],
          ["-l, --listing", "answer LIST requests (default: off)"],
          ["    --redis URL", "keep the table in Redis, e.g. redis://10.0.0.5:6379 (default: in memory)"]
        ]
      },
      Common.loggingHelp,
      Common.metaHelp
    ],
    notes: [
      "Once listening, it prints \"<MODE> registry listening on <host>:<port>\" on stdout, even with",
      "--quiet. A UDP registry hears broadcasts from other machines only when bound to 0.0.0.0 (or ::).",
      "SIGINT and SIGTERM close the server and exit 0."
    ]
  })

interface Config {
  readonly mode: "UDP" | "TCP"
  readonly host: string
  readonly port: number
  readonly ipv6: boolean
  readonly timeout: number
  readonly listing: boolean
  readonly redis: string | undefined
  readonly logging: Common.LoggingConfig
}

const configure = (parsed: Args.Parsed): Config => {
  const value = (name: string) => parsed.values.get(name)
  const port = value("port")
  const timeout = value("timeout")
  const ipv6 = parsed.flags.has("ipv6")
  return {
    mode: Args.choice("mode", value("mode") ?? "UDP", ["UDP", "TCP"] as const),
    host: value("host") ?? Tcp.defaultHost(ipv6),
    port: port === undefined ? Registry.REGISTRY_PORT : Args.integer("port", port, 0, 65535),
    ipv6,
    timeout: timeout === undefined ? DEFAULT_TIMEOUT : Args.integer("timeout", timeout, 1),
    listing: parsed.flags.has("listing"),
    redis: value("redis"),
    logging: Common.loggingConfig(parsed)
  }
}

const run = (config: Config) =>
  Effect.gen(function*() {
    const options = {
      host: config.host,
      port: config.port,
      ipv6: config.ipv6,
      pruningTimeout: Duration.seconds(config.timeout),
      allowListing: config.listing,
      state: config.redis === undefined ? undefined : yield* redisState(config.redis, config)
    }
    const server = yield* config.mode === "TCP"
      ? RegistryServer.makeTcpServer(options)
      : RegistryServer.makeUdpServer(options)
    yield* Console.log(`${server.mode} registry listening on ${Registry.formatAddress(server.address)}`)
    // serve until SIGINT/SIGTERM interrupts us; closing the scope then closes the socket
    return yield* Effect.never
  }).pipe(Effect.scoped, Common.withLogging(config.logging, "dated"))

// imported on demand: ioredis is an optional dependency, needed only with --redis
const redisState = (url: string, config: Config) =>
  Effect.tryPromise({
    try: () => import("../registry/RedisRegistry.js"),
    catch: (cause) => new Error(`--redis needs the ioredis package (npm install ioredis): ${String(cause)}`)
  }).pipe(
    Effect.flatMap((redis) =>
      redis.makeState({ url, ttl: Duration.seconds(config.timeout), allowListing: config.listing })
    ),
    Effect.tap(() => Effect.logInfo(`keeping the registry in Redis at ${url.replace(/\/\/[^@/]*@/, "//")}`))
  )

Common.main({
  name: NAME,
  specs,
  help,
  configure,
  run,
  describe: (error, config) =>
    Common.describeFailure(error, {
      listen: `${Common.hostPort(config.host, config.port)}/${config.mode.toLowerCase()}`
    })
})
