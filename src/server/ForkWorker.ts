/**
 * The entry point of a forking server's worker process (spawned by `Forking.make` as
 * `node [loader flags] ForkWorker.js <service location as JSON>`; not for direct use).
 *
 * It loads the service, tells the parent it has started, waits for the one socket the parent hands
 * over, serves it, and exits when the connection closes or on SIGTERM (closing the connection first).
 * A worker still waiting exits at once on SIGTERM or when the parent goes away. Its log lines go to
 * the parent over the IPC channel, which logs them under the server's logger.
 *
 * This module runs the worker when it is loaded: it is an entry point, not a library module.
 *
 * @since 0.1.0
 */
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import type * as Net from "node:net"
import * as Logging from "../Logging.js"
import * as Service from "../service/Service.js"
import * as Tcp from "../transport/Tcp.js"
import * as Tls from "../transport/Tls.js"
import * as ForkProtocol from "./ForkProtocol.js"

/** Relays every log line to the parent, which owns the real logger. */
const ipcLogger = Logger.make(({ cause, logLevel, message }) => {
  if (!process.connected) return
  const items = Array.isArray(message) ? message : [message]
  const text = items.map((m) => (typeof m === "string" ? m : Cause.isCause(m) ? Cause.pretty(m) : String(m))).join(" ")
  const detail = Cause.isEmpty(cause) ? "" : `\n${Cause.pretty(cause)}`
  process.send!({ type: "log", level: logLevel._tag, message: text + detail } satisfies ForkProtocol.WorkerMessage)
})

/** Serves the handed-over socket until the connection closes. */
const serve = (spec: Service.ServiceSpec, message: ForkProtocol.ServeMessage, raw: Net.Socket | undefined) =>
  Effect.gen(function*() {
    if (raw === undefined) return yield* Effect.logError("no socket received from the parent")
    const peer = message.endpoints[1]
    let conn: Net.Socket = raw
    let credentials: unknown = undefined
    if (message.tls !== undefined) {
      const secured = yield* Effect.either(Tls.accept(raw, message.tls))
      if (secured._tag === "Left") {
        return yield* Effect.logInfo(`${peer} failed to authenticate (${secured.left.message})... rejecting connection`)
      }
      conn = secured.right
      credentials = Tls.peerCertificate(conn)
      yield* Effect.logInfo(`${peer} authenticated successfully`)
    }
    const socket = yield* Tcp.fromNetSocket(conn)
    const connection = yield* Service.makeConnection(socket, spec, {
      config: { ...ForkProtocol.deserializeConfig(message.config), endpoints: message.endpoints, credentials },
      wireVersion: message.wireVersion,
      maxFrameSize: message.maxFrameSize
    })
    yield* Effect.logInfo(`welcome ${peer}`)
    yield* connection.awaitClose
  }).pipe(
    Effect.scoped,
    Effect.catchAllCause((cause) =>
      Cause.isInterruptedOnly(cause) ? Effect.void : Effect.logError("worker failed", cause)
    ),
    Effect.annotateLogs(Logging.LOGGER_NAME, message.loggerName),
    Effect.provide(Layer.merge(
      Logger.replace(Logger.defaultLogger, ipcLogger),
      Logger.minimumLogLevel(LogLevel.fromLiteral(message.minLogLevel))
    ))
  )

const main = async (location: ForkProtocol.ServiceLocation): Promise<void> => {
  if (process.send === undefined) throw new Error("ForkWorker: no IPC channel (start it through Forking.make)")
  const spec = await ForkProtocol.loadService(location)
  let serving = false
  // a spare worker whose server closes before it got a connection: nothing to clean up
  process.once("SIGTERM", () => process.exit(0))
  process.once("disconnect", () => {
    if (!serving) process.exit(0)
  })
  process.once("message", (message: ForkProtocol.ServeMessage, raw: Net.Socket | undefined) => {
    serving = true
    process.removeAllListeners("SIGTERM")
    const fiber = Effect.runFork(serve(spec, message, raw))
    // SIGTERM/SIGINT (the server closing): close the connection cleanly, then exit
    const onSignal = () => fiber.unsafeInterruptAsFork(fiber.id())
    process.once("SIGTERM", onSignal)
    process.once("SIGINT", onSignal)
    fiber.addObserver(() => {
      // flush the last log lines, then go (user code may have left timers or handles open)
      const exit = () => process.exit(0)
      if (process.connected) process.send!({ type: "exiting" } satisfies ForkProtocol.WorkerMessage, () => exit())
      else exit()
    })
  })
  process.send({ type: "started" } satisfies ForkProtocol.WorkerMessage)
}

main(JSON.parse(process.argv[2] ?? "null") as ForkProtocol.ServiceLocation).catch((error) => {
  console.error(error)
  process.exit(1)
})
