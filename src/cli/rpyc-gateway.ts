#!/usr/bin/env node
/**
 * `rpyc-gateway`: lets web pages reach RPyC TCP servers (Python's included) over WebSocket, each
 * upstream by name on an allow-list (`Gateway`, PROTOCOL.md §7.5).
 *
 * ```
 * rpyc-gateway --upstream NAME=HOST:PORT [--upstream …] [--host ADDR] [--port N] [--ipv6]
 *              [--allow-origin ORIGIN …] [--require-origin] [--token TOKEN] [--base-path PATH]
 *              [--ssl-keyfile F --ssl-certfile F [--ssl-cafile F]] [--max-message-bytes N]
 *              [--max-buffered-bytes N] [--max-connections N] [--idle-timeout SECONDS]
 *              [--log-level LEVEL] [--quiet] [--logfile PATH]
 * ```
 *
 * Binds 127.0.0.1 by default. Once listening it prints `rpyc-gateway listening on ws://HOST:PORT`
 * and one `NAME ws://HOST:PORT/rpyc/NAME` line per upstream on stdout (so scripts can use `--port 0`);
 * logs go to stderr or `--logfile`. The token may also come from the `RPYC_GATEWAY_TOKEN`
 * environment variable, which other users cannot read from the process list.
 *
 * Usage errors print one line and exit 2; a failure to listen prints one line naming the address and
 * the OS reason, exit 1. SIGINT and SIGTERM close the gateway and exit 0.
 *
 * This module runs the program when loaded: it is an entry point, not a library module.
 *
 * @since 0.1.0
 */
import * as Console from "effect/Console"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Gateway from "../gateway/Gateway.js"
import * as Tcp from "../transport/Tcp.js"
import * as WebSocket from "../transport/WebSocket.js"
import * as WebSocketServer from "../transport/WebSocketServer.js"
import * as Args from "./Args.js"
import * as Common from "./Common.js"

const NAME = "rpyc-gateway"
const DEFAULT_PORT = 8765

const specs: Readonly<Record<string, Args.Spec>> = {
  upstream: { type: "string", short: "u" },
  host: { type: "string" },
  port: { type: "string", short: "p" },
  ipv6: { type: "boolean", short: "6" },
  "allow-origin": { type: "string" },
  "require-origin": { type: "boolean" },
  token: { type: "string" },
  "base-path": { type: "string" },
  "ssl-keyfile": { type: "string" },
  "ssl-certfile": { type: "string" },
  "ssl-cafile": { type: "string" },
  "max-message-bytes": { type: "string" },
  "max-buffered-bytes": { type: "string" },
  "max-connections": { type: "string" },
  "idle-timeout": { type: "string" },
  ...Common.loggingSpecs
}

const help = () =>
  Args.formatHelp({
    heading: `${NAME} ${Common.packageVersion()}: RPyC servers for web pages, over WebSocket`,
    usage: `${NAME} --upstream NAME=HOST:PORT [OPTIONS]`,
    sections: [
      {
        title: "Upstreams",
        rows: [
          ["-u, --upstream NAME=HOST:PORT", "an RPyC TCP server clients may reach at /rpyc/NAME (repeatable)"],
          ["    --base-path PATH", `where upstream names start (default: ${Gateway.DEFAULT_BASE_PATH})`]
        ]
      },
      {
        title: "Listening",
        rows: [
          [
            "    --host ADDR",
            `the address to bind (default: ${Tcp.defaultHost(false)}, or ${Tcp.defaultHost(true)} with --ipv6)`
          ],
          ["-p, --port N", `the port, 0 for any free one (default: ${DEFAULT_PORT})`],
          ["-6, --ipv6", "use IPv6"]
        ]
      },
      {
        title: "Who may connect",
        rows: [
          ["    --allow-origin ORIGIN", "pages of this origin may connect, e.g. http://127.0.0.1:8080; * for any"],
          ["", "(repeatable; default: no page, only programs, which send no Origin)"],
          ["    --require-origin", "refuse clients that send no Origin (programs)"],
          ["    --token TOKEN", "clients must send it (?token=… or Authorization: Bearer …);"],
          ["", "default: $RPYC_GATEWAY_TOKEN if set, else none"],
          ["    --ssl-keyfile FILE", "the gateway's private key (PEM); serves wss://, needs --ssl-certfile"],
          ["    --ssl-certfile FILE", "the gateway's certificate chain (PEM); needs --ssl-keyfile"],
          ["    --ssl-cafile FILE", "require client certificates issued by these CAs (PEM)"]
        ]
      },
      {
        title: "Limits",
        rows: [
          ["    --max-message-bytes N", `largest message (default: ${WebSocketServer.DEFAULT_MAX_MESSAGE_BYTES})`],
          [
            "    --max-buffered-bytes N",
            `bytes waiting toward a slow side (default: ${WebSocket.DEFAULT_MAX_BUFFERED_BYTES})`
          ],
          ["    --max-connections N", `connections at once (default: ${Gateway.DEFAULT_MAX_CONNECTIONS})`],
          ["    --idle-timeout SECONDS", "close connections silent for this long (default: never)"]
        ]
      },
      Common.loggingHelp,
      Common.metaHelp
    ],
    notes: [
      "Once listening, it prints \"rpyc-gateway listening on ws://HOST:PORT\" and a line per upstream",
      "(\"NAME URL\") on stdout. SIGINT and SIGTERM close the gateway and exit 0."
    ]
  })

interface Config {
  readonly options: Gateway.Options
  readonly host: string
  readonly port: number
  readonly files: ReadonlyArray<readonly [string, string]>
  readonly logging: Common.LoggingConfig
}

const configure = (parsed: Args.Parsed): Config => {
  const value = (name: string) => parsed.values.get(name)
  const all = (name: string) => parsed.repeated.get(name) ?? []
  const fail = (message: string): never => {
    throw new Args.UsageError(message)
  }
  const upstreams: Record<string, Gateway.Upstream> = {}
  for (const spec of all("upstream")) {
    const [name, upstream] = Either.getOrElse(Gateway.parseUpstream(spec), (why) => fail(`--upstream: ${why}`))
    if (Object.hasOwn(upstreams, name)) fail(`--upstream ${name} is given twice`)
    upstreams[name] = upstream
  }
  if (Object.keys(upstreams).length === 0) fail("at least one --upstream NAME=HOST:PORT is needed")
  const ipv6 = parsed.flags.has("ipv6")
  const host = value("host") ?? Tcp.defaultHost(ipv6)
  const port = value("port") === undefined ? DEFAULT_PORT : Args.integer("port", value("port")!, 0, 65535)
  const optionalInteger = (flag: string, min: number) => {
    const given = value(flag)
    return given === undefined ? undefined : Args.integer(flag, given, min)
  }
  const keyfile = value("ssl-keyfile")
  const certfile = value("ssl-certfile")
  const cafile = value("ssl-cafile")
  if (keyfile !== undefined && certfile === undefined) fail("--ssl-keyfile requires --ssl-certfile")
  if (certfile !== undefined && keyfile === undefined) fail("--ssl-certfile requires --ssl-keyfile")
  if (cafile !== undefined && keyfile === undefined) fail("--ssl-cafile requires --ssl-keyfile")
  const basePath = value("base-path")
  if (basePath !== undefined && !basePath.startsWith("/")) fail(`--base-path must start with / (got ${basePath})`)
  const idle = optionalInteger("idle-timeout", 1)
  const token = value("token") ?? (process.env.RPYC_GATEWAY_TOKEN || undefined)
  return {
    options: {
      upstreams,
      host,
      port,
      ipv6,
      basePath,
      allowedOrigins: all("allow-origin"),
      requireOrigin: parsed.flags.has("require-origin"),
      token,
      tls: keyfile === undefined ? undefined : { keyfile, certfile, cafile },
      maxMessageBytes: optionalInteger("max-message-bytes", 64),
      maxBufferedBytes: optionalInteger("max-buffered-bytes", 1024),
      maxConnections: optionalInteger("max-connections", 1),
      idleTimeout: idle === undefined ? undefined : Duration.seconds(idle)
    },
    host,
    port,
    files: [
      ["--ssl-keyfile", keyfile],
      ["--ssl-certfile", certfile],
      ["--ssl-cafile", cafile]
    ].filter((entry): entry is [string, string] => entry[1] !== undefined),
    logging: Common.loggingConfig(parsed)
  }
}

const run = (config: Config) =>
  Effect.gen(function*() {
    const gateway = yield* Gateway.make(config.options)
    const scheme = config.options.tls === undefined ? "ws" : "wss"
    const base = `${scheme}://${Tcp.formatAddress(gateway.host, gateway.port)}`
    yield* Console.log(
      [`${NAME} listening on ${base}`, ...Object.entries(gateway.paths).map(([name, path]) => `${name} ${base}${path}`)]
        .join("\n")
    )
    // serve until SIGINT/SIGTERM interrupts us; closing the scope then closes every connection
    return yield* Effect.never
  }).pipe(Effect.scoped, Common.withLogging(config.logging, "plain"))

Common.main({
  name: NAME,
  specs,
  help,
  configure,
  run,
  describe: (error, config) =>
    Common.describeFailure(error, { listen: Common.hostPort(config.host, config.port), files: config.files })
})
