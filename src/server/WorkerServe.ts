/**
 * Serving one handed-over socket inside a worker process: what the forking server's workers
 * (`ForkWorker`) and the pooled server's workers (`PoolWorker`) share. Log lines go to the parent
 * over the IPC channel, which logs them under the server's logger.
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

/**
 * Relays every log line to the parent, which owns the real logger.
 *
 * @since 0.1.0 @category logging
 */
export const ipcLogger: Logger.Logger<unknown, void> = Logger.make(({ cause, logLevel, message }) => {
  if (!process.connected) return
  const items = Array.isArray(message) ? message : [message]
  const text = items.map((m) => (typeof m === "string" ? m : Cause.isCause(m) ? Cause.pretty(m) : String(m))).join(" ")
  const detail = Cause.isEmpty(cause) ? "" : `\n${Cause.pretty(cause)}`
  process.send!({ type: "log", level: logLevel._tag, message: text + detail } satisfies ForkProtocol.WorkerMessage)
})

/**
 * Serves the handed-over socket until the connection closes (the TLS handshake first when the
 * parent says so); failures are logged, never raised. Interrupting it closes the connection cleanly.
 * With `goodbye`, the end of the connection is logged here (a forking server's parent logs it when
 * its one-connection worker exits; a pooled worker outlives its connections).
 *
 * @since 0.1.0 @category constructors
 */
export const serveSocket = (
  spec: Service.ServiceSpec,
  message: ForkProtocol.ServeMessage,
  raw: Net.Socket | undefined,
  options: { readonly goodbye?: boolean | undefined } = {}
): Effect.Effect<void> =>
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
    yield* connection.awaitClose.pipe(
      Effect.ensuring(options.goodbye === true ? Effect.logInfo(`goodbye ${peer}`) : Effect.void)
    )
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
